//! `crm-migrate plan`: mapping.toml proposed from the export and the workspace, with the token bill.

use std::path::Path;

use clap::Args;

use crm_migrate::pipedrive::PipedriveClient;
use crm_migrate::plugins::TrustStore;
use crm_migrate::project::Project;

use super::progress::read_progress;
use crate::cli::exit::Exit;

/// The help's closing text: examples, then what the verb does.
pub const HELP: &str = "Example:\n  PIPEDRIVE_API_TOKEN=... crm-migrate -C acme plan\n\n\
        Reads the export (every file, once) and the Pipedrive workspace (users, fields, pipelines, stages, activity \
        types, webhooks; 8 reads, about 90 tokens) and writes nothing to Pipedrive. Writes mapping.toml: one entry per User.com \
        attribute (a built-in field, an existing custom field, a new custom field with its type, or skip), each with a \
        confidence and its reasons, plus agents -> users, pipelines and stages, deal statuses and activity types. \
        Then reports/plan.md: what apply will create, records per phase, and the token bill in days of the account's \
        budget. Run it again after editing mapping.toml or the export: your edits are kept, new attributes added. \
        Exit codes: 0 a mapping apply can follow, 5 the mapping has problems (listed; fix them, then plan or approve).";

#[derive(Args)]
pub struct PlanArgs {
    /// Print the plan as JSON (the same as reports/plan.json) instead of the summary
    #[arg(long)]
    json: bool,
}

pub fn run(project_dir: &Path, args: &PlanArgs) -> anyhow::Result<Exit> {
    let project = Project::open(project_dir)?;
    let client = PipedriveClient::new(project.client_config()?, None)?;
    eprintln!(
        "reading the export {} and the workspace at {}",
        project.export_dir().display(),
        project.config.target.url.get_ref()
    );
    let runtime = crate::cli::runtime()?;
    // What the trust store capped (the load itself refuses what it does not list).
    let store = if project.config.plugins.is_empty() { None } else { TrustStore::configured()? };
    for plugin in &project.config.plugins {
        for capped in project.plugin_limits(plugin, store.as_ref())?.capped {
            eprintln!("  plugin {} limits: {capped}", plugin.hook.get_ref());
        }
    }
    let target = runtime.block_on(crm_migrate::plan::read_target(&project, &client))?;
    let prepared = crm_migrate::plan::prepare(&project, &target, &mut read_progress())?;
    let result = crm_migrate::plan::plan(&project, target, prepared)?;
    let reports = crm_migrate::plan::report::write_reports(&result, project.budget_policy, &project.reports_dir())?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&crm_migrate::plan::report::to_json(&result))?);
    } else {
        print!(
            "{}",
            crm_migrate::terminal::escape_lines(&crm_migrate::plan::report::summary(
                &result,
                project.budget_policy,
                &reports
            ))
        );
    }
    Ok(if !result.errors.is_empty() {
        Exit::MappingInvalid
    } else if !result.decisions.is_empty() {
        Exit::PlanUndecided
    } else {
        Exit::Success
    })
}
