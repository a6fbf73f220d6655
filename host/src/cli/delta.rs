//! `crm-migrate delta`: what changed since the migrated export, moved; its preview asked first.

use std::path::{Path, PathBuf};

use anyhow::bail;
use clap::Args;
use serde_json::json;

use crm_migrate::project::Project;

use super::apply::{LoadArgs, run_apply};
use super::prompt::confirm;
use crate::cli::exit::Exit;

/// The help's closing text: examples, then what the verb does.
pub const HELP: &str = "Examples:\n  crm-migrate -C acme delta --export exports/acme-cutover\n  \
        crm-migrate -C acme delta --export exports/acme-cutover --delete-missing --yes\n  \
        crm-migrate -C acme delta --export exports/acme-cutover --delete-missing --expect-deletions 1200 --yes\n  \
        crm-migrate -C acme rollback --run 7     # undo delta run 7\n\n\
        First shows what it will do per object (in the export, new, gone from it). Then reads the newer export through \
        the same plugins and the approved mapping, and compares each record with what was sent for it: new records are \
        created (with their links), changed ones updated (a PATCH of only the changed fields; each field's prior value \
        is journalled), records deleted in User.com are listed and, with --delete-missing, deleted in Pipedrive (asked \
        first, or --yes). Deletions are refused, and nothing is written, when an object's file is missing or empty in \
        the newer export, or when they exceed the larger of 2% of the records created and 50, unless \
        --expect-deletions names their exact number. A record someone changed in Pipedrive since the migration wrote \
        it is a conflict: listed with both values and left alone (--overwrite-conflicts writes anyway). Each deleted \
        record's last values are journalled: `rollback --run N` undoes the delta. Same journal, reconciliation and \
        crash safety as apply; a second delta with no changes writes nothing. Exit codes as apply's, and 10 when the \
        deletions are refused.";

#[derive(Args)]
pub struct DeltaArgs {
    /// The newer User.com export (a directory of CSV files)
    #[arg(long, value_name = "DIR")]
    export: PathBuf,
    /// Also delete in Pipedrive the records whose source is gone from the newer export
    #[arg(long)]
    delete_missing: bool,
    /// The number of deletions you expect: needed when they exceed the threshold, refused when not exact
    #[arg(long, value_name = "N", requires = "delete_missing")]
    expect_deletions: Option<u64>,
    /// Delete without asking (for scripts; what is deleted is still listed)
    #[arg(long)]
    yes: bool,
    /// Update or delete records someone changed in Pipedrive since the migration wrote them
    #[arg(long)]
    overwrite_conflicts: bool,
    #[command(flatten)]
    load: LoadArgs,
}

pub fn run(project_dir: &Path, args: &DeltaArgs) -> anyhow::Result<Exit> {
    let project = Project::open(project_dir)?;
    if !args.export.is_dir() {
        bail!(
            "the export {} is not a directory (a User.com export is a directory of CSV files)",
            args.export.display()
        );
    }
    let options = crm_migrate::apply::ApplyOptions {
        concurrency: args.load.concurrency,
        batch_size: args.load.batch_size,
        export: Some(args.export.clone()),
        delete_missing: args.delete_missing,
        expect_deletions: args.expect_deletions,
        overwrite_conflicts: args.overwrite_conflicts,
        ..crm_migrate::apply::ApplyOptions::default()
    };
    run_apply(&project, project_dir, &options, args.load.json, Some(args.yes))
}

/// A delta's preview: per object what is in the newer export, new, and gone from it; the
/// deletions refused, or asked for. Returns the exit code when the delta must not go on.
pub fn preview(
    project: &Project,
    prepared: &crm_migrate::apply::Prepared,
    options: &crm_migrate::apply::ApplyOptions,
    yes: bool,
    json_output: bool,
) -> anyhow::Result<Option<Exit>> {
    let preview = crm_migrate::apply::preview(project, prepared, options.expect_deletions)?;
    if json_output {
        println!("{}", serde_json::to_string(&json!({"event": "delta_plan", "plan": preview}))?);
    } else {
        print!("{}", crm_migrate::terminal::apply::delta_preview_text(&preview));
    }
    if !options.delete_missing || preview.deletions == 0 {
        if preview.deletions > 0 && !json_output {
            print!("{}", crm_migrate::terminal::apply::deletions_kept_text(preview.deletions));
        }
        return Ok(None);
    }
    if !preview.refusals.is_empty() {
        eprint!("{}", crm_migrate::terminal::apply::deletions_refused_text(&preview));
        return Ok(Some(Exit::DeletionsRefused));
    }
    if !yes
        && !confirm(&format!(
            "Delete {} records from Pipedrive (their last values are journalled; rollback --run undoes it)?",
            preview.deletions
        ))?
    {
        println!("nothing written");
        return Ok(Some(Exit::Declined));
    }
    Ok(None)
}
