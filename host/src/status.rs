//! `crm-migrate status`: where a migration stands: the approval (and whether the mapping changed
//! since), the runs (a run without an end was killed), per phase and object what the journal holds
//! against the export, the tokens spent and what is left, in tokens, days of budget and time.

use std::fmt::Write;

use serde::Serialize;

use crate::apply::PHASES;
use crate::basis::digest;
use crate::journal::{FateCounts, Journal, Run};
use crate::mapping::MAPPING_FILE;
use crate::pipedrive::human_duration;
use crate::project::Project;
use crate::record::ObjectKind;
use crate::report::thousands;
use crate::source::{self, OpenExportError, open_export};
use crate::state::{Approval, State, StateError};

#[derive(Debug, Serialize)]
pub struct ObjectStatus {
    pub phase: &'static str,
    pub object: ObjectKind,
    /// Records in the export (conversations: conversations).
    pub source: u64,
    pub counts: FateCounts,
    /// Not yet accounted for (open intents included).
    pub left: u64,
    /// Created records migrated with values left out (listed in reports/quarantine.csv).
    pub records_with_fields_left_out: u64,
    pub fields_left_out: u64,
}

#[derive(Debug, Serialize)]
pub struct Status {
    pub approval: Option<Approval>,
    /// The mapping differs from the approved one (apply refuses until it is approved again).
    pub mapping_changed: bool,
    pub runs: Vec<Run>,
    pub objects: Vec<ObjectStatus>,
    pub tokens_spent: u64,
    pub tokens_left: u64,
    pub calls_left: u64,
    pub seconds_left: f64,
    pub daily_budget: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Export(#[from] OpenExportError),
    #[error(transparent)]
    Extract(#[from] crate::extract::ExtractError),
    #[error(transparent)]
    Source(#[from] crate::source::SourceError),
}

pub fn status(project: &Project) -> Result<Status, StatusError> {
    let state = State::open(&project.dir)?;
    let approval = state.last_approval()?;
    let mapping = std::fs::read_to_string(project.dir.join(MAPPING_FILE)).ok();
    let mapping_changed = match (&approval, &mapping) {
        (Some(approval), Some(text)) => approval.digest != digest(text),
        _ => false,
    };
    let source = source::read(&open_export(project)?, None, &project.dir, &mut |_| {})?;
    let journal = Journal::read(state);
    let runs = journal.runs()?;
    let mut objects = Vec::new();
    let (mut tokens_left, mut calls_left) = (0, 0);
    for (phase, kinds) in PHASES {
        for object in kinds.iter().copied() {
            let counts = journal.counts(object)?;
            let source_count = source.in_scope.get(&object).copied().unwrap_or(0);
            let left = source_count.saturating_sub(counts.total() - counts.intent);
            calls_left += left;
            tokens_left += left * u64::from(crate::plan::bill::create_cost(object));
            let (records_with_fields_left_out, fields_left_out) = journal.left_out_counts(object)?;
            objects.push(ObjectStatus {
                phase,
                object,
                source: source_count,
                counts,
                left,
                records_with_fields_left_out,
                fields_left_out,
            });
        }
    }
    let burst = f64::from(project.plan.burst_limit()) / pipedrive_api::BURST_WINDOW.as_secs_f64();
    Ok(Status {
        approval,
        mapping_changed,
        tokens_spent: runs.iter().filter_map(|run| run.tokens).sum(),
        runs,
        objects,
        tokens_left,
        calls_left,
        seconds_left: calls_left as f64 / burst,
        daily_budget: project.plan.daily_token_budget(project.config.target.seats, project.config.target.top_up_tokens),
    })
}

/// The status as a person reads it.
pub fn text(status: &Status) -> String {
    let mut out = String::new();
    match &status.approval {
        Some(approval) if status.mapping_changed => {
            let _ = writeln!(
                out,
                "mapping: CHANGED since {} approved it at {}: apply refuses until `crm-migrate approve`",
                approval.approved_by, approval.approved_at
            );
        }
        Some(approval) => {
            let _ = writeln!(
                out,
                "mapping: approved by {} at {} ({})",
                approval.approved_by, approval.approved_at, approval.digest
            );
        }
        None => out.push_str("mapping: not approved (run `crm-migrate plan`, then `crm-migrate approve`)\n"),
    }
    if status.runs.is_empty() {
        out.push_str("runs: none yet\n");
    }
    for run in &status.runs {
        let end = match (&run.finished_at, &run.outcome) {
            (Some(finished), Some(outcome)) => format!("{outcome} at {finished}"),
            _ => "did not finish (killed or crashed; apply resumes it)".to_owned(),
        };
        let tokens = run.tokens.map(|tokens| format!(", {} tokens", thousands(tokens))).unwrap_or_default();
        let undone = run.undone_by.map(|by| format!("; undone by run {by}")).unwrap_or_default();
        let _ = writeln!(out, "run {} ({}), started {}: {end}{tokens}{undone}", run.id, run.kind, run.started_at);
    }
    let _ = writeln!(
        out,
        "\n{:<14}{:<14}{:>8}{:>9}{:>8}{:>8}{:>13}{:>10}{:>7}{:>7}",
        "phase", "object", "source", "created", "merged", "linked", "quarantined", "excluded", "open", "left"
    );
    for object in &status.objects {
        let c = object.counts;
        let _ = writeln!(
            out,
            "{:<14}{:<14}{:>8}{:>9}{:>8}{:>8}{:>13}{:>10}{:>7}{:>7}",
            object.phase,
            object.object.as_str(),
            thousands(object.source),
            thousands(c.created),
            thousands(c.merged),
            thousands(c.linked),
            thousands(c.quarantined),
            thousands(c.excluded),
            thousands(c.intent),
            thousands(object.left)
        );
    }
    let left_out: Vec<String> = status
        .objects
        .iter()
        .filter(|object| object.fields_left_out > 0)
        .map(|object| {
            format!(
                "{} {} in {} records",
                object.object,
                thousands(object.fields_left_out),
                thousands(object.records_with_fields_left_out)
            )
        })
        .collect();
    if !left_out.is_empty() {
        let _ = writeln!(
            out,
            "fields left out of created records (their values did not fit; reports/quarantine.csv): {}",
            left_out.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "\ntokens: {} spent by runs that finished; about {} left for {} creates ({:.2} days of {} a day, {} at the burst limit)",
        thousands(status.tokens_spent),
        thousands(status.tokens_left),
        thousands(status.calls_left),
        status.tokens_left as f64 / status.daily_budget.max(1) as f64,
        thousands(status.daily_budget),
        human_duration(std::time::Duration::from_secs_f64(status.seconds_left))
    );
    out
}
