//! The demo's plugin steps: what each vetted plugin did to the export (records cleaned,
//! duplicates merged into named survivors, tags made labels), nothing sent.

use std::collections::BTreeMap;

use crm_migrate::apply::ApplyOptions;
use crm_migrate::audit::report::thousands;
use crm_migrate::pipeline::FateCounts;
use crm_migrate::plugins::Hook;
use crm_migrate::project::Project;
use crm_migrate::source::Source;
use crm_migrate::untrusted::escape;

use super::Demo;

/// One step per plugin: clean, dedup (its survivors named), label (`labels`, the plan's figures).
pub fn steps(demo: &mut Demo, project: &Project, labels: String) -> anyhow::Result<()> {
    let before = through_plugins(project)?;
    let (clean_name, dedup_name, label_name) =
        (before.name(Hook::Clean), before.name(Hook::Dedup), before.name(Hook::Label));
    demo.step(&format!("plugin {clean_name}"), |_| {
        let counts = before.counts(&clean_name);
        Ok(format!(
            "{} records cleaned (a value changed) of {}; {} dropped, {} rejected, {} quarantined",
            thousands(counts.changed as u64),
            thousands(counts.total() as u64),
            counts.dropped,
            counts.rejected,
            counts.quarantined
        ))
    })?;
    demo.step(&format!("plugin {dedup_name}"), |_| {
        for (survivor, absorbed) in &before.groups {
            println!(
                "   survivor {} <- {}",
                escape(survivor),
                absorbed.iter().map(|id| escape(id).into_owned()).collect::<Vec<_>>().join(", ")
            );
        }
        Ok(format!(
            "{} duplicate groups merged: {} contacts into {} survivors (named above)",
            before.groups.len(),
            before.merged(),
            before.groups.len()
        ))
    })?;
    demo.step(&format!("plugin {label_name}"), |_| Ok(labels))
}

/// The export through the project's plugins, as apply puts it (nothing is sent).
struct PluginRun {
    source: Source,
    /// Each plugin's name (and version), by hook.
    names: Vec<(Hook, String)>,
    /// Survivor -> the contacts merged into it.
    groups: BTreeMap<String, Vec<String>>,
}

impl PluginRun {
    fn name(&self, hook: Hook) -> String {
        self.names.iter().find(|(of, _)| *of == hook).map(|(_, name)| name.clone()).unwrap_or_default()
    }

    /// What one plugin did, over every object it saw.
    fn counts(&self, plugin: &str) -> FateCounts {
        let mut total = FateCounts::default();
        for (_, _, counts) in self.source.stage_counts.iter().filter(|(name, _, _)| name == plugin) {
            total.kept += counts.kept;
            total.changed += counts.changed;
            total.dropped += counts.dropped;
            total.rejected += counts.rejected;
            total.quarantined += counts.quarantined;
            total.merged += counts.merged;
        }
        total
    }

    fn merged(&self) -> usize {
        self.groups.values().map(Vec::len).sum()
    }
}

fn through_plugins(project: &Project) -> anyhow::Result<PluginRun> {
    let export = crm_migrate::source::open_export(project)?;
    let mut source = crm_migrate::source::read(&export, None, &project.dir, &mut |_| {})?;
    let plugins = project.load_plugins()?;
    source.run_plugins(&plugins, ApplyOptions::default().batch_size, &mut |_| {})?;
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (absorbed, survivor) in &source.survivors {
        groups.entry(survivor.clone()).or_default().push(absorbed.clone());
    }
    groups.values_mut().for_each(|members| members.sort());
    Ok(PluginRun { source, names: plugins.iter().map(|(hook, plugin)| (*hook, plugin.name())).collect(), groups })
}
