//! `crm-migrate status`: where the migration stands.

use std::path::Path;

use clap::Args;

use crm_migrate::project::Project;

use crate::cli::exit::Exit;

/// The help's closing text: examples, then what the verb does.
pub const HELP: &str = "Example:\n  crm-migrate -C acme status\n  crm-migrate -C acme status --json\n\n\
        Reads state.db and the export; talks to no one. A run without an end was killed or crashed: apply resumes it. \
        \"open\" counts creates sent whose answer is not journalled (apply looks them up before sending again).";

#[derive(Args)]
pub struct StatusArgs {
    /// Print the status as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(project_dir: &Path, args: &StatusArgs) -> anyhow::Result<Exit> {
    let project = Project::open(project_dir)?;
    let status = crm_migrate::status::status(&project)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print!("{}", crm_migrate::status::text(&status));
    }
    Ok(Exit::Success)
}
