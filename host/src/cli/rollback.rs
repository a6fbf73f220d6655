//! `crm-migrate rollback`: what apply created deleted in reverse order, or one delta undone.

use std::path::Path;

use clap::Args;

use crm_migrate::pipedrive::PipedriveClient;
use crm_migrate::project::Project;

use super::prompt::confirm;
use crate::cli::exit::Exit;

/// The help's closing text: examples, then what the verb does.
pub const HELP: &str = "Examples:\n  crm-migrate -C acme rollback --sample     # before the production run\n  \
        crm-migrate -C acme rollback --yes\n  \
        crm-migrate -C acme rollback --run 7 --yes   # undo delta run 7 only (status lists the runs)\n\n\
        Deletes notes, activities and events, deals, persons and organizations that apply created (the journal knows \
        which), then, for a full rollback, the labels, options, custom fields, stages, pipelines and activity types it \
        created. Never touches anything apply did not create. A record someone changed in Pipedrive since apply wrote \
        it is kept, with what it links to and the workspace it uses, and named (--include-changed deletes it too). \
        --run N undoes one delta instead: what it created is deleted, what it updated gets its prior values back, what \
        it deleted is created again from its journalled payload. Rate-limited like apply, and resumable: run it again \
        after a stop. Ends by listing the target and naming any residue. Asks first unless --yes. Exit codes: 0 no \
        residue, 9 residue or kept records left (listed), 1 error.";

#[derive(Args)]
pub struct RollbackArgs {
    /// Only the sample runs' records (the workspace stays for the production run)
    #[arg(long, conflicts_with = "run")]
    sample: bool,
    /// Undo one delta run: delete what it created, restore what it updated, create again what it deleted
    #[arg(long, value_name = "N")]
    run: Option<i64>,
    /// Also delete (or restore) records someone changed in Pipedrive since the migration wrote them
    #[arg(long)]
    include_changed: bool,
    /// Do not ask for confirmation
    #[arg(long)]
    yes: bool,
    /// Deletes in flight at once
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Print the outcome as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(project_dir: &Path, args: &RollbackArgs) -> anyhow::Result<Exit> {
    let project = Project::open(project_dir)?;
    if let Some(run) = args.run {
        return undo_run(&project, run, args);
    }
    let (records, workspace) = crm_migrate::rollback::preview(&project, args.sample)?;
    if !args.json {
        print!("{}", crm_migrate::terminal::rollback::preview_text(args.sample, &records, workspace));
    }
    if !args.yes && !confirm("Delete them from Pipedrive?")? {
        println!("nothing deleted");
        return Ok(Exit::Declined);
    }
    let client = std::sync::Arc::new(PipedriveClient::new(project.client_config()?, None)?);
    let runtime = crate::cli::runtime()?;
    let outcome = runtime.block_on(crm_migrate::rollback::rollback(
        &project,
        client,
        args.sample,
        args.include_changed,
        args.concurrency,
    ))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
    } else {
        print!("{}", crm_migrate::terminal::rollback::outcome_text(&outcome));
    }
    Ok(if outcome.residue.is_empty() { Exit::Success } else { Exit::Residue })
}

/// `rollback --run N`: undoes one delta.
fn undo_run(project: &Project, run: i64, args: &RollbackArgs) -> anyhow::Result<Exit> {
    if !args.json {
        print!("{}", crm_migrate::terminal::rollback::undo_preview_text(run));
    }
    if !args.yes && !confirm(&format!("Undo run {run} in Pipedrive?"))? {
        println!("nothing changed");
        return Ok(Exit::Declined);
    }
    let client = std::sync::Arc::new(PipedriveClient::new(project.client_config()?, None)?);
    let runtime = crate::cli::runtime()?;
    let outcome = runtime.block_on(crm_migrate::rollback::undo_run(project, client, run, args.include_changed))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
    } else {
        print!("{}", crm_migrate::terminal::rollback::undo_text(&outcome));
    }
    let left = outcome.conflicts.iter().any(|conflict| !conflict.overridden) || !outcome.not_restored.is_empty();
    Ok(if left { Exit::Residue } else { Exit::Success })
}
