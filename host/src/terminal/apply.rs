//! `apply` and `delta` as text: a delta's preview, progress phase by phase with its
//! reconciliation, and what the run did.

use std::fmt::Write as _;
use std::time::Duration;

use crate::apply::deletions::Preview;
use crate::apply::{ApplyOutcome, Reconciliation};
use crate::audit::report::thousands;
use crate::pipedrive::human_duration;
use crate::record::ObjectKind;
use crate::untrusted::escape;

/// A delta's preview: per object what is in the newer export, new, and gone from it.
pub fn delta_preview_text(preview: &Preview) -> String {
    let mut text =
        "delta: per object, records in the newer export / new (to create) / gone from it (deleted in User.com)\n"
            .to_owned();
    for row in preview.objects.iter().filter(|row| row.in_export + row.created > 0) {
        let _ = writeln!(
            text,
            "  {:<13} {:>8} / {:>6} / {:>6}   ({})",
            row.object.as_str(),
            thousands(row.in_export),
            thousands(row.new),
            thousands(row.gone),
            row.file.as_deref().unwrap_or("no file in the export")
        );
    }
    text
}

/// The records gone from the export, kept because `--delete-missing` was not given.
pub fn deletions_kept_text(deletions: u64) -> String {
    format!("  the {deletions} records gone from the export are kept in Pipedrive (--delete-missing deletes them)\n")
}

/// Why a delta's deletions are refused, and what to do (for standard error).
pub fn deletions_refused_text(preview: &Preview) -> String {
    let mut text = String::new();
    for refusal in &preview.refusals {
        let _ = writeln!(text, "refused: {refusal}");
    }
    let _ = writeln!(
        text,
        "nothing was written to Pipedrive. Check the newer export; when the deletions are real, name their number: --expect-deletions {}",
        preview.deletions
    );
    text
}

/// The client waits for the daily token budget's reset.
pub fn waiting_for_reset_text(resets_in: Duration) -> String {
    format!(
        "  the daily token budget is used up: waiting {} for Pipedrive's reset (midnight UTC); stop with Ctrl-C and run apply again later to resume",
        human_duration(resets_in)
    )
}

/// A phase starts.
pub fn phase_started_text(phase: &str, records: u64) -> String {
    format!("{phase}: {} records", thousands(records))
}

/// Before the phases: a file read into the run's spool, or a plugin over an object, with the
/// records so far and their rate (`elapsed` since the step started).
pub fn preparing_text(
    step: &str,
    what: &str,
    object: ObjectKind,
    done: u64,
    finished: bool,
    elapsed: Duration,
) -> String {
    let verb = match (step, finished) {
        ("read", false) => "reading",
        ("read", true) => "read",
        ("clean", false) => "cleaning with",
        ("clean", true) => "cleaned with",
        (_, false) => "deduplicating with",
        (_, true) => "deduplicated with",
    };
    let rate = done as f64 / elapsed.as_secs_f64().max(1e-3);
    format!("  {verb} {} ({object}): {} records, {} a second", escape(what), thousands(done), thousands(rate as u64))
}

/// Progress within a phase: the count, rate, time left and tokens spent, `elapsed` since the
/// object started.
pub fn progress_text(object: ObjectKind, done: u64, total: u64, tokens: u64, elapsed: Duration) -> String {
    let rate = done as f64 / elapsed.as_secs_f64().max(1e-3);
    let left = total.saturating_sub(done) as f64 / rate.max(1e-9);
    format!(
        "  {object}: {}/{} ({rate:.1}/s, {} left, {} tokens spent)",
        thousands(done),
        thousands(total),
        human_duration(Duration::from_secs_f64(left.min(1e9))),
        thousands(tokens)
    )
}

/// A phase done: each object's reconciliation (source = created + merged + quarantined +
/// excluded), then the phase's tokens and time.
pub fn phase_done_text(phase: &str, reconciliation: &[Reconciliation], tokens: u64, seconds: f64) -> String {
    let mut text = String::new();
    for row in reconciliation {
        let c = row.counts;
        let updated = if row.updated > 0 { format!(" ({} updated)", thousands(row.updated)) } else { String::new() };
        let duplicates = if row.duplicate_rows > 0 {
            format!(" + {} duplicate-id rows quarantined", thousands(row.duplicate_rows))
        } else {
            String::new()
        };
        // Shown only where there are any: the line stays as it was for an empty account.
        let linked = if c.linked > 0 {
            format!(" + {} linked to records the account had", thousands(c.linked))
        } else {
            String::new()
        };
        let _ = writeln!(
            text,
            "  {}: {} = {} created + {} merged + {} quarantined + {} excluded{linked}{duplicates}{updated}",
            row.object,
            thousands(row.in_scope),
            thousands(c.created),
            thousands(c.merged),
            thousands(c.quarantined),
            thousands(c.excluded)
        );
        if row.fields_left_out > 0 {
            // A line of its own: the line above adds up to the source, this one counts within `created`.
            let _ = writeln!(
                text,
                "  {}: {}, listed in reports/quarantine.csv",
                row.object,
                crate::apply::report::migrated_with_fields_left_out(row)
            );
        }
    }
    let _ = writeln!(text, "  {phase} done: {} tokens, {seconds:.1} s", thousands(tokens));
    text
}

/// What a run did: records gone from the source, conflicts, the company hierarchy, its tokens
/// and time, and its reports.
pub fn outcome_text(outcome: &ApplyOutcome) -> String {
    let mut text = String::new();
    for line in &outcome.gone_from_source {
        let _ = writeln!(text, "  {}", escape(line));
    }
    for conflict in &outcome.conflicts {
        for line in conflict.lines() {
            let _ = writeln!(text, "  conflict: {}", escape(&line));
        }
    }
    if outcome.conflicts.iter().any(|conflict| !conflict.overridden) {
        text.push_str("  records changed in Pipedrive were left alone; --overwrite-conflicts writes them anyway\n");
    }
    if let Some(hierarchy) = outcome
        .relationships
        .as_ref()
        .filter(|hierarchy| hierarchy.created + hierarchy.existing > 0 || !hierarchy.unsent.is_empty())
    {
        let _ = writeln!(
            text,
            "  company hierarchy: {} parent relationships made, {} made before, {} not sent (reconciliation.md says why)",
            thousands(hierarchy.created),
            thousands(hierarchy.existing),
            thousands(hierarchy.unsent.len() as u64)
        );
    }
    let _ = writeln!(
        text,
        "{} run {} done: {} tokens, {:.1} s",
        outcome.kind,
        outcome.run_id,
        thousands(outcome.tokens),
        outcome.seconds
    );
    for path in &outcome.reports {
        let _ = writeln!(text, "  report {}", path.display());
    }
    text
}
