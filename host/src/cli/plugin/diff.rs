//! `crm-migrate plugin diff`: what swapping one build of a plugin for another changes on the export.

use std::path::{Path, PathBuf};

use clap::Args;

use crm_migrate::project::Project;

use crate::cli::exit::Exit;

/// The help's closing text: examples, then what the verb does.
pub const HELP: &str = "Example:\n  crm-migrate -C acme plugin diff plugins/dedup_email.wasm plugins/dedup_email_oldest.wasm\n\n\
        Both builds must be for the same hook. Each runs over the project's export with the project's other plugins \
        and its configuration, as apply would run it; nothing is sent anywhere. Reports, per object, the records whose \
        fate changes (kept, dropped, quarantined, merged and into which record), the fields whose values change (with \
        examples; secrets never shown) and, for the label hook, the tags decided otherwise: reports/plugin-diff.md, \
        .json and .csv (every change). Exit code 0 when it ran, whether or not anything changes.";

#[derive(Args)]
pub struct DiffArgs {
    /// The build the project runs now (or ran when last approved)
    old: PathBuf,
    /// The build to swap in
    new: PathBuf,
    /// Print the diff as JSON (the same as reports/plugin-diff.json) instead of the summary
    #[arg(long)]
    json: bool,
    /// Where the reports go (default: the project's reports/)
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
}

pub fn run(project_dir: &Path, args: &DiffArgs) -> anyhow::Result<Exit> {
    let project = Project::open(project_dir)?;
    let diff =
        crm_migrate::plugin_diff::diff_files(&project, &args.old, &args.new, &mut |line: &str| eprintln!("{line}"))?;
    let reports = diff.write_reports(&args.out.clone().unwrap_or_else(|| project.reports_dir()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&diff)?);
    } else {
        print!("{}", diff.summary());
        for path in reports {
            println!("  report {}", path.display());
        }
    }
    Ok(Exit::Success)
}
