//! The demo's swap: the dedup plugin pointed at another build without rebuilding the host; what
//! the swap changes shown (`plugin diff`), apply refusing it until it is approved again.

use std::path::Path;

use anyhow::{Context, bail};

use crm_migrate::apply::{self, ApplyOptions};
use crm_migrate::plugin_diff;
use crm_migrate::plugins::{Hook, PluginHost};
use crm_migrate::project::{self, InitPlugin, Project};
use crm_migrate::record::ObjectKind;
use crm_migrate::untrusted::escape;

use super::Demo;
use super::setup::approve;

/// Swaps the dedup plugin for `swapped_in`, sees apply refuse, approves the swap; returns the
/// project as it is after the swap.
pub fn steps(demo: &mut Demo, mut project: Project, swapped_in: &Path) -> anyhow::Result<Project> {
    // The swap: a person points the dedup entry at another build; the host stays as it is.
    demo.step("swap the dedup plugin", |demo| {
        // What the swap does to this export, shown before the swap is made: `plugin diff`.
        let current = project
            .config
            .plugins
            .iter()
            .find(|plugin| *plugin.hook.get_ref() == Hook::Dedup)
            .context("the project has no dedup plugin")?;
        let diff = plugin_diff::diff_files(&project, &project.plugin_path(current), swapped_in, &mut |_: &str| {})?;
        let reports = diff.write_reports(&project.reports_dir())?;
        let swapped = swap_dedup(&project, &demo.host, swapped_in)?;
        println!("   {}", swapped.0);
        project = swapped.1;
        if let Some(contacts) = diff.objects.iter().find(|object| object.object == ObjectKind::Contact.as_str()) {
            let (old, new) = (contacts.old_counts, contacts.new_counts);
            println!(
                "   contacts per fate: kept {} -> {}, merged {} -> {}, quarantined {} -> {}",
                old.kept, new.kept, old.merged, new.merged, old.quarantined, new.quarantined
            );
        }
        print!("{}", diff.summary().lines().map(|line| format!("   {line}\n")).collect::<String>());
        let changed = diff.survivor_changes(ObjectKind::Contact);
        for (old, new) in &changed {
            println!("   survivor {} -> {}", escape(old), escape(new));
        }
        Ok(format!(
            "{} builds another survivor rule, no host rebuilt: the survivor changes in {} groups (shown above; {} names every record)",
            escape(&diff.new.name),
            changed.len(),
            reports[0].display()
        ))
    })?;
    demo.step("apply (refused)", |_| match apply::prepare(&project, &ApplyOptions::default(), &mut |_| {}) {
        Ok(_) => bail!("apply did not refuse a plugin swapped since the approval"),
        Err(error) => {
            let error = error.to_string();
            let mut lines = error.lines();
            let first = lines.next().unwrap_or_default().trim_end_matches(':');
            for line in lines {
                println!("   {line}");
            }
            Ok(format!("refused until the swap is approved again: {first}"))
        }
    })?;
    demo.step("approve (the swap)", |_| approve(&project))?;
    Ok(project)
}

/// Points the project's dedup entry at `file` (its path and its digest, as a person edits
/// migration.toml) and opens the project again.
fn swap_dedup(project: &Project, host: &PluginHost, file: &Path) -> anyhow::Result<(String, Project)> {
    let swapped_in =
        InitPlugin::vet(host, Hook::Dedup, file).with_context(|| format!("the plugin {}", file.display()))?;
    let current = project
        .config
        .plugins
        .iter()
        .find(|plugin| *plugin.hook.get_ref() == Hook::Dedup)
        .context("the project has no dedup plugin")?;
    let (old_path, new_path) = (project.plugin_path(current).canonicalize()?, file.canonicalize()?);
    let path = project.dir.join(project::CONFIG_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let quoted = |path: &Path| toml::Value::String(path.display().to_string()).to_string();
    let (old_digest, new_digest) = (current.digest.get_ref().clone(), swapped_in.digest.to_string());
    if text.matches(&quoted(&old_path)).count() != 1 || text.matches(&old_digest).count() != 1 {
        bail!("{}: the dedup entry is not as init wrote it; swap it by hand", path.display());
    }
    std::fs::write(&path, text.replace(&quoted(&old_path), &quoted(&new_path)).replace(&old_digest, &new_digest))
        .with_context(|| format!("writing {}", path.display()))?;
    let said = format!(
        "{}: the dedup entry now runs {} ({}), was {} ({})",
        path.display(),
        new_path.display(),
        new_digest,
        old_path.display(),
        old_digest
    );
    Ok((said, Project::open(&project.dir)?))
}
