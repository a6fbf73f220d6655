//! `rollback` and `rollback --run N` as text: what goes, what went, and the residue.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::audit::report::thousands;
use crate::record::ObjectKind;
use crate::rollback::{RollbackOutcome, UndoOutcome};

/// What a rollback is about to delete (`rollback::preview`'s figures), for the confirmation.
pub fn preview_text(sample_only: bool, records: &BTreeMap<ObjectKind, u64>, workspace: usize) -> String {
    let what = records
        .iter()
        .filter(|(_, count)| **count > 0)
        .map(|(object, count)| format!("{} {object}", thousands(*count)))
        .collect::<Vec<_>>()
        .join(", ");
    let scope = if sample_only { "the sample runs' records" } else { "everything apply created" };
    format!(
        "rollback of {scope}: {} records ({}), {workspace} workspace objects\n",
        records.values().sum::<u64>(),
        if what.is_empty() { "none".into() } else { what }
    )
}

/// What a rollback did, ending with the residue.
pub fn outcome_text(outcome: &RollbackOutcome) -> String {
    let mut text = String::new();
    for (object, count) in &outcome.deleted {
        let _ = writeln!(text, "  deleted {} {object}", thousands(*count));
    }
    if outcome.relationships_deleted > 0 {
        let _ = writeln!(
            text,
            "  deleted {} parent relationships between organizations",
            thousands(outcome.relationships_deleted)
        );
    }
    if outcome.deal_products_removed > 0 {
        let _ = writeln!(
            text,
            "  removed {} deal products, deal participants and products",
            thousands(outcome.deal_products_removed)
        );
    }
    if !outcome.workspace_removed.is_empty() {
        let _ = writeln!(text, "  removed {} workspace objects apply had created", outcome.workspace_removed.len());
    }
    for (object, count) in &outcome.existing.restored {
        let _ = writeln!(
            text,
            "  gave {} {object} records the account had their prior values back (never deleted)",
            thousands(*count)
        );
    }
    for conflict in &outcome.conflicts {
        for line in conflict.lines() {
            let _ = writeln!(text, "  conflict: {line}");
        }
    }
    let _ = writeln!(text, "  {} tokens", thousands(outcome.tokens));
    if outcome.residue.is_empty() {
        text.push_str("residue: none (the listings show nothing apply created)\n");
    } else {
        text.push_str("residue:\n");
        for line in &outcome.residue {
            let _ = writeln!(text, "  {line}");
        }
    }
    text
}

/// What `rollback --run N` is about to do, for the confirmation.
pub fn undo_preview_text(run: i64) -> String {
    format!(
        "undo of delta run {run}: what it created is deleted, what it updated gets its prior values, what it deleted is created again\n"
    )
}

/// What undoing one delta did.
pub fn undo_text(outcome: &UndoOutcome) -> String {
    let mut text = String::new();
    let mut show = |what: &str, counts: &BTreeMap<ObjectKind, u64>| {
        for (object, count) in counts {
            let _ = writeln!(text, "  {what} {} {object}", thousands(*count));
        }
    };
    show("deleted", &outcome.deleted);
    show("restored", &outcome.restored);
    show("created again", &outcome.recreated);
    show("linked again to them:", &outcome.relinked);
    for conflict in &outcome.conflicts {
        for line in conflict.lines() {
            let _ = writeln!(text, "  conflict: {line}");
        }
    }
    for line in &outcome.not_restored {
        let _ = writeln!(text, "  not restored: {line}");
    }
    let _ = writeln!(text, "run {} undone: {} tokens", outcome.run_id, thousands(outcome.tokens));
    text
}
