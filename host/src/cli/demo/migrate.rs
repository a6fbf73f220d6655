//! The demo's runs against the sandbox: a sample apply and its rollback; then the full apply, a
//! delta with the newer export, verify and the handoff.

use std::path::Path;

use crm_migrate::apply::{self, ApplyOptions, ProgressEvent, Reporter};
use crm_migrate::audit::report::thousands;
use crm_migrate::project::Project;

use super::Demo;

/// A sample apply of 50 contacts, and its rollback.
pub fn sample(demo: &mut Demo, project: &Project) -> anyhow::Result<()> {
    demo.step("apply --sample 50", |demo| {
        migrate(demo, project, ApplyOptions { sample: Some(50), ..ApplyOptions::default() })
    })?;
    demo.step("rollback --sample", |demo| {
        let outcome =
            demo.runtime.block_on(crm_migrate::rollback::rollback(project, demo.client.clone(), true, false, 16))?;
        let deleted: u64 = outcome.deleted.values().sum();
        Ok(format!(
            "{} records deleted; residue: {}",
            thousands(deleted),
            if outcome.residue.is_empty() { "none".to_owned() } else { outcome.residue.join("; ") }
        ))
    })
}

/// The full apply, the delta with the newer export `changes`, verify and the handoff report.
pub fn full(demo: &mut Demo, project: &Project, changes: &Path) -> anyhow::Result<()> {
    demo.step("apply", |demo| migrate(demo, project, ApplyOptions::default()))?;
    demo.step("delta --delete-missing", |demo| {
        migrate(
            demo,
            project,
            ApplyOptions { export: Some(changes.to_owned()), delete_missing: true, ..ApplyOptions::default() },
        )
    })?;
    demo.step("verify", |demo| {
        let options = ApplyOptions { export: Some(changes.to_owned()), ..ApplyOptions::default() };
        let prepared = apply::prepare(project, &options, &mut |_| {})?;
        let verification =
            demo.runtime.block_on(crm_migrate::verify::verify(project, prepared, &demo.client, &mut |_, _, _| {}))?;
        let verified: u64 = verification.objects.values().map(|counts| counts.verified).sum();
        Ok(format!(
            "{} records verified field by field; {} mismatches, {} missing, {} unexpected",
            thousands(verified),
            verification.mismatches.len(),
            verification.missing.len(),
            verification.unexpected.len()
        ))
    })?;
    demo.step("report", |_| {
        let paths = crm_migrate::handoff::write(project)?;
        Ok(format!("{} handoff documents; the summary counts the merged duplicates", paths.len()))
    })
}

/// One apply (or delta) run, quietly; what it did, summed over its phases.
fn migrate(demo: &Demo, project: &Project, options: ApplyOptions) -> anyhow::Result<String> {
    let quiet = Reporter::new(|_: &ProgressEvent| {});
    let prepared = apply::prepare(project, &options, &mut |_| {})?;
    let outcome = demo.runtime.block_on(apply::apply(project, prepared, demo.client.clone(), &options, &quiet))?;
    let rows = || outcome.phases.iter().flat_map(|phase| &phase.reconciliation);
    let created: u64 = rows().map(|row| row.counts.created).sum();
    let merged: u64 = rows().map(|row| row.counts.merged).sum();
    let updated: u64 = rows().map(|row| row.updated).sum();
    let quarantined: u64 = rows().map(|row| row.counts.quarantined).sum();
    Ok(format!(
        "{} records in Pipedrive, {} merged into a survivor, {} updated, {} quarantined; every phase reconciled",
        thousands(created),
        thousands(merged),
        thousands(updated),
        thousands(quarantined)
    ))
}
