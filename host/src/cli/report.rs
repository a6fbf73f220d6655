//! `crm-migrate report`: the handoff for the customer's admin.

use std::path::Path;

use crm_migrate::project::Project;

use crate::cli::exit::Exit;

/// The help's closing text: examples, then what the verb does.
pub const HELP: &str = "Example:\n  crm-migrate -C acme report\n\n\
        Writes the automations inventory (each User.com automation with its trigger, conditions, delays and actions, and \
        the Pipedrive equivalent: workflow automation, sequence or manual, with the reason), the segment-to-filter \
        mapping (each segment's rules as Pipedrive filter conditions, flagged where Pipedrive cannot express them), the \
        email templates to rebuild, the billing audit, the quarantine and a one-page summary (what moved, what did not \
        and why, tokens spent, time taken). Reads the export, the mapping and state.db; talks to no one.";

pub fn run(project_dir: &Path) -> anyhow::Result<Exit> {
    let project = Project::open(project_dir)?;
    let paths = crm_migrate::handoff::write(&project)?;
    println!("wrote the handoff:");
    for path in &paths {
        println!("  {}", path.display());
    }
    Ok(Exit::Success)
}
