//! `crm-migrate approve`: the mapping shown (with what changed since), confirmed and recorded.

use std::path::Path;

use clap::Args;

use crm_migrate::project::Project;
use crm_migrate::terminal::approve as text;

use super::progress::read_progress;
use super::prompt::confirm;
use crate::cli::exit::Exit;

/// The help's closing text: examples, then what the verb does.
pub const HELP: &str = "Examples:\n  crm-migrate -C acme approve\n  crm-migrate -C acme approve --yes --by \"Ola Nowak\"\n\n\
        Checks the mapping against the export and the workspace plan read, shows its summary and the diff since the \
        last approval (for a plugin swapped since, what the swap changes on the export), asks for confirmation (or \
        takes --yes), and records the mapping's sha256, who and when in state.db. Change mapping.toml afterwards and apply refuses to start until it is approved again.";

#[derive(Args)]
pub struct ApproveArgs {
    /// Approve without asking (for scripts; the summary and diff are still printed)
    #[arg(long)]
    yes: bool,
    /// Who approves, as recorded in state.db (default: the login name)
    #[arg(long, value_name = "NAME")]
    by: Option<String>,
    /// Print the outcome as JSON
    #[arg(long)]
    json: bool,
}

pub fn run(project_dir: &Path, args: &ApproveArgs) -> anyhow::Result<Exit> {
    use crm_migrate::approve::{self as approval, ApproveError};
    let project = Project::open(project_dir)?;
    let review = match approval::review(&project, &mut read_progress()) {
        Ok(review) => review,
        Err(error @ ApproveError::Invalid { .. }) => {
            eprintln!("error: {error}");
            return Ok(Exit::MappingInvalid);
        }
        Err(error) => return Err(error.into()),
    };
    if review.already_approved() {
        let previous = review.previous.as_ref().expect("approved before");
        if args.json {
            println!("{}", serde_json::to_string_pretty(&text::already_approved_json(&review, previous))?);
        } else {
            print!("{}", text::already_approved_text(&review, previous));
        }
        return Ok(Exit::Success);
    }
    // A plugin swapped since: what the swap does to this export, shown (and in the JSON answer)
    // before anyone approves it.
    let swaps = review
        .previous_basis()
        .map(|approved| {
            crm_migrate::plugin_diff::since_approval(&project, &approved, &mut |line: &str| eprintln!("{line}"))
        })
        .unwrap_or_default();
    if !args.json {
        print!("{}", text::review_text(&review, &swaps));
    }
    if !args.yes && !confirm("Approve this mapping? Nothing is written to Pipedrive until apply.")? {
        println!("not approved");
        return Ok(Exit::Declined);
    }
    let approval = approval::approve(&project, &review, &approval::approver(args.by.as_deref()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&text::approved_json(&review, &approval, &swaps))?);
    } else {
        print!("{}", text::approved_text(&approval, project_dir));
    }
    Ok(Exit::Success)
}
