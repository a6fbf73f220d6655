//! The demo's first steps: init with the vetted plugins, audit, plan, approve.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crm_migrate::audit::report::thousands;
use crm_migrate::extract::{Export, ExportOptions};
use crm_migrate::pipedrive::Plan;
use crm_migrate::plugins::{Hook, TagFate};
use crm_migrate::project::{self, InitPlugin, Project};
use crm_migrate::untrusted::escape;

use super::Demo;

/// Runs init, audit, plan and approve; returns the project, and the label plugin's figures the
/// plan read (shown with the other plugins' steps).
pub fn steps(
    demo: &mut Demo,
    dir: &Path,
    export: &Path,
    vetted: &[(Hook, PathBuf)],
    sandbox_url: &str,
) -> anyhow::Result<(Project, String)> {
    let mut project: Option<Project> = None;
    demo.step("init", |demo| {
        let plugins = vetted
            .iter()
            .map(|(hook, path)| {
                InitPlugin::vet(&demo.host, *hook, path)
                    .with_context(|| format!("the vetted plugin {}", path.display()))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let names: Vec<String> =
            plugins.iter().map(|plugin| format!("{} {}", plugin.hook, escape(&plugin.name))).collect();
        let options = project::InitOptions {
            source: project::InitSource::Export(export.to_owned()),
            account: None,
            pipedrive_url: sandbox_url.to_owned(),
            plan: Plan::Premium,
            seats: 1,
            plugins,
            proposed: Vec::new(),
        };
        project = Some(project::init(dir, &options)?);
        Ok(format!(
            "{}, with the vetted plugins pinned by digest: {}",
            dir.join(project::CONFIG_FILE).display(),
            names.join(", ")
        ))
    })?;
    let project = project.expect("init made it");
    demo.step("audit", |_| {
        let export = Export::open(&project.export_dir(), ExportOptions::default())?;
        let (audit, _) = crm_migrate::audit::report::write_reports(&export, &project.reports_dir())?;
        let contacts = audit.counts.get("contacts").copied().unwrap_or(0);
        Ok(format!(
            "{} contacts, {} of them billable; {} duplicate groups by email, {} by phone",
            thousands(contacts),
            thousands(audit.billing.billable),
            audit.duplicates.by_email.len(),
            audit.duplicates.by_phone.len()
        ))
    })?;
    let mut labels = String::new();
    demo.step("plan", |demo| {
        let target = demo.runtime.block_on(crm_migrate::plan::read_target(&project, &demo.client))?;
        let prepared = crm_migrate::plan::prepare(&project, &target, &mut |_: &str, _: u64, _: bool| {})?;
        let result = crm_migrate::plan::plan(&project, target, prepared)?;
        crm_migrate::plan::report::write_reports(&result, project.budget_policy, &project.reports_dir())?;
        if let Some(decision) = result.decisions.first() {
            bail!("the plan leaves a decision open: {}: {}", decision.what, decision.found);
        }
        labels = label_figures(&project, &result)?;
        let counts = crm_migrate::plan::report::entry_counts(&result.mapping);
        Ok(format!(
            "{} attributes mapped ({} new custom fields, {} skipped); bill {} tokens",
            result.mapping.fields.len(),
            counts.new,
            counts.skip,
            thousands(result.bill.tokens)
        ))
    })?;
    demo.step("approve", |_| approve(&project))?;
    Ok((project, labels))
}

/// Approves the project's mapping as "demo"; says which plugin builds it approved.
pub fn approve(project: &Project) -> anyhow::Result<String> {
    let review = crm_migrate::approve::review(project, &mut |_: &str, _: u64, _: bool| {})?;
    let approval = crm_migrate::approve::approve(project, &review, "demo")?;
    // Enough of each digest to tell two builds apart in the table.
    let short = |digest: &str| digest.chars().take("sha256:".len() + 12).collect::<String>();
    let plugins: Vec<String> =
        review.basis.plugins.iter().map(|pin| format!("{} {}", pin.hook, short(&pin.digest))).collect();
    Ok(format!("approved ({}), plugins: {}", short(&approval.digest), plugins.join(", ")))
}

/// The label plugin's figures: labels made, tags skipped, tags flagged as a segment's.
fn label_figures(project: &Project, result: &crm_migrate::plan::PlanResult) -> anyhow::Result<String> {
    let plugins = project.load_plugins()?;
    let Some((name, decisions)) = crm_migrate::source::labels::label_plugin_decisions(
        &plugins,
        &result.profile.catalogue,
        &result.profile.tag_use,
    )?
    else {
        bail!("the project has no label plugin");
    };
    let labels = decisions.iter().filter(|(_, decision)| matches!(decision.fate, TagFate::Label { .. })).count();
    let origins: Vec<String> = decisions
        .iter()
        .filter(|(_, decision)| decision.segment_origin)
        .map(|(tag, _)| escape(&tag.name).into_owned())
        .collect();
    Ok(format!(
        "{} tags decided by {}: {labels} become labels, {} skipped; {} flagged segment-origin (rebuild as Pipedrive filters): {}",
        decisions.len(),
        escape(&name),
        decisions.len() - labels,
        origins.len(),
        if origins.is_empty() { "none".to_owned() } else { origins.join(", ") }
    ))
}
