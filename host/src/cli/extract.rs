//! `crm-migrate extract`: a User.com account read through its REST API into a local snapshot.

use std::path::Path;

use clap::Args;
use serde_json::json;

use crm_migrate::project::Project;

use crate::cli::exit::Exit;

/// The help's closing text: examples, then what the verb does.
pub const HELP: &str = "Examples:\n  USERCOM_TOKEN=... crm-migrate -C acme extract\n  \
        USERCOM_TOKEN=... crm-migrate -C acme extract --changes     # at cutover: what changed since\n\n\
        For a project whose [source] is api = \"https://ACCOUNT.user.com\" (crm-migrate init --usercom-api URL). \
        Reads users, companies, deals, activities, pipelines, stages, tags, segments and their members, attributes, \
        products (and automations and email templates where the API has them), then each user's events and \
        conversations with their messages. Each page is committed to state.db with the cursor after it: killed, \
        run it again and it continues from the last page it has, asking for none twice. Then writes the snapshot \
        (a CSV export directory) that audit, plan, apply and verify read. Once there is one, a second extract \
        (or --changes) reads the lists again (a record gone from them was deleted) and the events and \
        conversations only of users updated since, and writes a new snapshot beside the first for delta --export. \
        The token is read from [source] token_env or token_file and never written anywhere.";

#[derive(Args)]
pub struct ExtractArgs {
    /// Only what changed since the last extraction (refused without one); without it, the
    /// first extraction, or the changes once there is one
    #[arg(long, conflicts_with = "first")]
    changes: bool,
    /// The first extraction only (refused once there is one)
    #[arg(long)]
    first: bool,
    /// Print progress events and the outcome as JSON lines
    #[arg(long)]
    json: bool,
}

pub fn run(project_dir: &Path, args: &ExtractArgs) -> anyhow::Result<Exit> {
    use crm_migrate::usercom::{self, ExtractEvent, ExtractOptions};
    let project = Project::open(project_dir)?;
    let mut client = usercom::client_for(&project)?;
    let options = ExtractOptions {
        changes: if args.changes {
            Some(true)
        } else if args.first {
            Some(false)
        } else {
            None
        },
    };
    let json_output = args.json;
    let mut progress = |event: &ExtractEvent| {
        if json_output {
            if let Ok(line) = serde_json::to_string(event) {
                println!("{line}");
            }
            return;
        }
        eprintln!("{}", crm_migrate::terminal::extract::event_text(event));
    };
    let runtime = crate::cli::runtime()?;
    let outcome = runtime.block_on(usercom::extract(&project, &mut client, options, &mut progress))?;
    if json_output {
        println!("{}", serde_json::to_string(&json!({"event": "done", "outcome": outcome}))?);
    } else {
        print!("{}", crm_migrate::terminal::extract::outcome_text(&outcome, project_dir));
    }
    Ok(Exit::Success)
}
