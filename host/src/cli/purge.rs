//! `crm-migrate purge`: the customer data a finished migration no longer needs, removed.

use std::path::Path;

use clap::Args;
use serde_json::json;

use crm_migrate::project::Project;

use super::prompt::confirm;
use crate::cli::exit::Exit;

/// The help's closing text: examples, then what the verb does.
pub const HELP: &str = "Examples:\n  crm-migrate -C acme purge\n  crm-migrate -C acme purge --yes --json\n\n\
        Once the migration is finished (the last run ended done) and verified, the project still holds customer data: \
        in state.db what was last sent for each record, each changed field's prior and new value, the reasons of \
        quarantined records (which can quote values), and reports that quote records (quarantine.csv, \
        billing-audit.csv, audit.md/.json, verification.md/.json, the handoff's billing, quarantine and handoff.html). \
        purge lists them with counts, asks (or takes --yes), clears them, and rebuilds state.db (VACUUM) so that \
        they are gone from the disk, not only from the tables. Kept: every record's id, fate and Pipedrive id, counts, \
        runs, tokens, approvals; status still shows where the migration stands, and rollback still works. \
        Afterwards a delta cannot tell which fields changed: it takes what it would send now as the baseline. \
        Refuses while the last run is unfinished or stopped (run apply again first). Talks to no one. \
        Exit codes: 0 purged, 6 declined at the prompt, 1 refused or error.";

#[derive(Args)]
pub struct PurgeArgs {
    /// Do not ask for confirmation
    #[arg(long)]
    yes: bool,
    /// Print what is removed, and the outcome, as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(project_dir: &Path, args: &PurgeArgs) -> anyhow::Result<Exit> {
    let project = Project::open(project_dir)?;
    let preview = crm_migrate::purge::preview(&project)?;
    // With --json and --yes, one document at the end: what was to go, and what went.
    if !args.json {
        print!("{}", crm_migrate::purge::preview_text(&preview));
    } else if !args.yes {
        println!("{}", serde_json::to_string_pretty(&json!({ "preview": preview }))?);
    }
    if !args.yes && !confirm("Remove this data for good?")? {
        println!("nothing removed");
        return Ok(Exit::Declined);
    }
    let outcome = crm_migrate::purge::purge(&project)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json!({ "preview": preview, "outcome": outcome }))?);
    } else {
        print!("{}", crm_migrate::terminal::purge::outcome_text(&outcome));
    }
    Ok(Exit::Success)
}
