//! `crm-migrate approve`: the mapping shown (with what changed since), confirmed and recorded.

use std::path::Path;

use clap::Args;
use serde_json::json;

use crm_migrate::project::Project;
use crm_migrate::untrusted::escape;

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
    let counts = crm_migrate::plan::report::entry_counts(&review.mapping);
    if review.already_approved() {
        let previous = review.previous.as_ref().expect("approved before");
        if args.json {
            println!(
                "{}",
                serde_json::to_string_pretty(
                    &json!({"approved": true, "digest": review.digest, "approved_by": previous.approved_by, "approved_at": previous.approved_at, "changed": false})
                )?
            );
        } else {
            println!(
                "{} is already approved, unchanged ({} at {}; {})",
                review.path.display(),
                previous.approved_by,
                previous.approved_at,
                review.digest
            );
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
        println!("{} ({})", review.path.display(), review.digest);
        println!("  {counts}");
        println!(
            "  {} agents, {} pipelines, {} activity types mapped; checked against the workspace read at {}",
            review.mapping.agents.len(),
            review.mapping.pipelines.len(),
            review.mapping.activity_types.len(),
            review.workspace.taken_at
        );
        let plugins = review.basis.plugins.iter().map(|pin| format!("{} {}", pin.hook, pin.digest)).collect::<Vec<_>>();
        println!("  plugins: {}", if plugins.is_empty() { "none".to_owned() } else { plugins.join(", ") });
        println!("  export: {} files; target: {}", review.basis.export.len(), review.basis.target_url);
        match (&review.previous, &review.diff) {
            (Some(previous), Some(diff)) => {
                println!("changed since {} approved it at {}:\n{diff}", previous.approved_by, previous.approved_at)
            }
            (Some(_), None) => println!("  the mapping is unchanged since the last approval"),
            _ => println!(
                "  first approval of this project's mapping (the full text is recorded; the next approval shows a diff)"
            ),
        }
        for change in &review.basis_changes {
            println!("  changed since the last approval: {change}");
        }
        for (hook, swap) in &swaps {
            match swap {
                Ok(diff) => print!("what the swapped {hook} plugin changes on this export: {}", diff.summary()),
                Err(error) => println!(
                    "  the {hook} plugin changed; what it changes cannot be shown: {}",
                    escape(&error.to_string())
                ),
            }
        }
    }
    if !args.yes && !confirm("Approve this mapping? Nothing is written to Pipedrive until apply.")? {
        println!("not approved");
        return Ok(Exit::Declined);
    }
    let approval = approval::approve(&project, &review, &approval::approver(args.by.as_deref()))?;
    if args.json {
        let swaps_json: Vec<serde_json::Value> = swaps
            .iter()
            .map(|(hook, swap)| match swap {
                Ok(diff) => json!({"hook": hook.to_string(), "summary": diff.summary()}),
                Err(error) => json!({"hook": hook.to_string(), "error": error.to_string()}),
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({"approved": true, "digest": approval.digest, "approved_by": approval.approved_by, "approved_at": approval.approved_at, "changed": review.previous.is_some(), "diff": review.diff, "basis": review.basis, "basis_changes": review.basis_changes, "plugin_swaps": swaps_json})
            )?
        );
    } else {
        println!("approved by {} at {} ({})", approval.approved_by, approval.approved_at, approval.digest);
        println!("next: crm-migrate -C {} apply", project_dir.display());
    }
    Ok(Exit::Success)
}
