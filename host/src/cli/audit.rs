//! `crm-migrate audit`: what an export holds, written as reports and summed up.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;

use crm_migrate::audit::report;
use crm_migrate::extract::{Export, ExportOptions};
use crm_migrate::project::Project;

use crate::cli::exit::Exit;

/// The help's closing text: examples, then what the verb does.
pub const HELP: &str = "Example:\n  crm-migrate audit --export examples/usercom-export --out reports\n\n\
        Reads every CSV of the export (users, companies, deals, pipelines, stages, activities, events, conversations, \
        tags, segments, attributes, automations, email templates; missing ones are listed) and writes three reports \
        into --out: audit.md (for people), audit.json (for machines) and billing-audit.csv (each contact User.com \
        bills for, and why). Nothing else is written. Encodings are detected (UTF-8, Windows-1250/1251, \
        ISO-8859-5); when a file is misread, name its encoding: --encoding companies.csv=windows-1250.";

#[derive(Args)]
pub struct AuditArgs {
    /// The export directory: one CSV file per object (default: the project's, see -C)
    #[arg(long, value_name = "DIR")]
    export: Option<PathBuf>,
    /// Where the reports are written, created if missing (default: the project's reports/, else ./reports)
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// A text encoding: LABEL for every file, or FILE=LABEL for one (e.g. companies.csv=windows-1250); repeatable
    #[arg(long = "encoding", value_name = "[FILE=]LABEL", value_parser = parse_encoding)]
    encodings: Vec<(Option<String>, &'static encoding_rs::Encoding)>,
    /// Print the summary as JSON instead of text
    #[arg(long)]
    json: bool,
}

fn parse_encoding(text: &str) -> Result<(Option<String>, &'static encoding_rs::Encoding), String> {
    let (file, label) = match text.split_once('=') {
        Some((file, label)) => (Some(file.trim().to_owned()), label),
        None => (None, text),
    };
    let encoding = crm_migrate::extract::sniff::encoding_for_label(label)
        .ok_or_else(|| format!("unknown encoding '{label}'; use e.g. utf-8, windows-1250, windows-1251, iso-8859-5"))?;
    Ok((file, encoding))
}

pub fn run(project_dir: &Path, args: &AuditArgs) -> anyhow::Result<Exit> {
    // Without --export, the project's export and reports directory (and its declared encodings).
    let project = match &args.export {
        Some(_) => None,
        None => Some(Project::open(project_dir).context("no --export given, and no project to take it from")?),
    };
    // The flags' encodings first, then those migration.toml declares.
    let mut options = match &project {
        Some(project) => crm_migrate::source::export_options(project)?,
        None => ExportOptions::default(),
    };
    options.encodings.splice(0..0, args.encodings.iter().cloned());
    let export_dir = args.export.clone().or_else(|| project.as_ref().map(Project::export_dir)).expect("one of the two");
    let out = args
        .out
        .clone()
        .or_else(|| project.as_ref().map(Project::reports_dir))
        .unwrap_or_else(|| PathBuf::from("reports"));
    let export = Export::open(&export_dir, options)?;
    let (audit, paths) = report::write_reports(&export, &out)?;
    if args.json {
        let summary = crm_migrate::terminal::audit::summary_json(&audit, &paths);
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print!("{}", crm_migrate::terminal::escape_lines(&report::summary(&audit, &paths)));
    }
    Ok(Exit::Success)
}
