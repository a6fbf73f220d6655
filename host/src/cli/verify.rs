//! `crm-migrate verify`: what arrived in Pipedrive read back and compared with the mapping.

use std::path::{Path, PathBuf};

use clap::Args;

use crm_migrate::pipedrive::PipedriveClient;
use crm_migrate::project::Project;

use crate::cli::exit::Exit;

/// The help's closing text: examples, then what the verb does.
pub const HELP: &str = "Example:\n  PIPEDRIVE_API_TOKEN=... crm-migrate -C acme verify\n\n\
        Lists organizations, persons, deals, activities and notes (500 a call) and compares each record the journal \
        says was created with what apply sends for it: text, numbers, money, dates and times (UTC), options by id, \
        emails and phones (primary first), labels, owner, links, add time. Reports verified, mismatched (field, \
        expected, actual), missing, and unexpected records (a User.com marker the journal does not know), with the \
        tokens spent, and the compatibility of every object and field: reports/verification.md and .json. \
        Then, from the export's side, the source coverage: each non-empty source value is looked for where the \
        mapping sends it, or found listed as left out with its reason (skipped, a bad value, a record merged, \
        quarantined or excluded, a secret); a value in neither is missing. \
        Writes nothing to Pipedrive. Exit codes: 0 everything verified, 8 anything not verified or any source value missing, 1 error.";

#[derive(Args)]
pub struct VerifyArgs {
    /// The export the migration last moved, when a delta moved a newer one than migration.toml's
    #[arg(long, value_name = "DIR")]
    export: Option<PathBuf>,
    /// Print the verification as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(project_dir: &Path, args: &VerifyArgs) -> anyhow::Result<Exit> {
    let project = Project::open(project_dir)?;
    let client = PipedriveClient::new(project.client_config()?, None)?;
    let options =
        crm_migrate::apply::ApplyOptions { export: args.export.clone(), ..crm_migrate::apply::ApplyOptions::default() };
    // Reading the export and the plugins again, with their progress on standard error.
    let progress = super::progress::text_progress();
    let prepared = crm_migrate::apply::prepare(&project, &options, &mut |step| progress.preparing(step))?;
    let runtime = crate::cli::runtime()?;
    let verification = runtime.block_on(crm_migrate::verify::verify(
        &project,
        prepared,
        &client,
        &mut super::progress::read_progress(),
    ))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&verification)?);
    } else {
        print!("{}", crm_migrate::terminal::verify::text(&verification));
    }
    Ok(if verification.all_verified() { Exit::Success } else { Exit::NotVerified })
}
