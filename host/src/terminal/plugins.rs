//! `plugin vet`, `plugin list` and `plugin run` as text: what a plugin is, the limits it runs
//! under, and what it did to each record.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::audit::report::thousands;
use crate::pipeline::{self, Fate, StageOutput};
use crate::plugins::{
    CacheOutcome, Hook, LimitsInForce, LimitsReport, LoadedPlugin, PluginComponent, SUPPORTED_VERSIONS, Tag,
    TagDecision, TagFate, TrustStore,
};
use crate::record::ObjectKind;
use crate::untrusted::escape;

/// A plugin's limits on one line.
pub fn limits_text(limits: &LimitsReport) -> String {
    let fuel = match (limits.fuel_per_call, limits.fuel_per_record) {
        (Some(per_call), Some(per_record)) => {
            format!("{} fuel a call + {} a record", thousands(per_call), thousands(per_record))
        }
        _ => "a wall-clock CPU budget".to_owned(),
    };
    format!(
        "memory {} MiB, {fuel}, {} s for a 1,000-record batch, at most {} fuel and {} s a run{}",
        limits.memory_mib,
        limits.batch_seconds,
        thousands(limits.run_fuel),
        limits.run_seconds,
        limits.core_instances.map(|count| format!(", {count} core instances")).unwrap_or_default()
    )
}

/// `plugin vet`'s report: the plugin, its contract, options, imports, limits and trust.
pub fn vet_text(component: &PluginComponent, in_force: &LimitsInForce, store: Option<&TrustStore>) -> String {
    let info = &component.info;
    let mut text = String::new();
    let mut line = |line: String| {
        text.push_str(&line);
        text.push('\n');
    };
    line(format!("{} {}  ({})", escape(&info.name), escape(&info.version), escape(&info.description)));
    line(format!("  file      {} ({} bytes)", component.path.display(), component.size));
    line(format!("  digest    {}", component.digest));
    line(format!(
        "  contract  crm-migrate:plugin@{} (this host supports {})",
        component.contract_version(),
        SUPPORTED_VERSIONS.join(", ")
    ));
    let hooks: Vec<String> = info.hooks.iter().map(ToString::to_string).collect();
    line(format!("  hooks     {}", if hooks.is_empty() { "none".to_owned() } else { hooks.join(", ") }));
    line("  options".to_owned());
    if info.options.is_empty() {
        line("    (none)".to_owned());
    }
    for option in &info.options {
        let default = option.default.as_deref().map(|d| format!(" [default: {}]", escape(d))).unwrap_or_default();
        line(format!("    {:<20} {}{default}", escape(&option.key), escape(&option.description)));
    }
    line("  imports   (all granted: host log and deny-all WASI stubs)".to_owned());
    for import in &component.imports {
        line(format!("    {}", escape(import)));
    }
    let cache = match &component.cache {
        CacheOutcome::Hit => "from cache".to_owned(),
        CacheOutcome::Compiled => "compiled".to_owned(),
        CacheOutcome::Rebuilt { reason } => format!("compiled again (cache entry rejected: {reason})"),
        CacheOutcome::Untrusted { reason } => format!("compiled, cache not used ({reason})"),
    };
    line(format!("  loaded    {cache} in {:.1} ms", component.load_time.as_secs_f64() * 1000.0));
    line(format!("  limits    {}", limits_text(&LimitsReport::from(&in_force.limits))));
    for capped in &in_force.capped {
        line(format!("    {capped}"));
    }
    match store {
        Some(store) if store.find(&component.digest).is_some() => {
            line(format!("  trusted   listed by the trust store {}", store.path().display()))
        }
        Some(store) => line(format!(
            "  trusted   NO: the trust store {} does not list it (crm-migrate plugin trust adds it)",
            store.path().display()
        )),
        None => line("  trusted   no trust store is configured on this machine".to_owned()),
    }
    line(format!("\nvetted: pin it with  digest = \"{}\"", component.digest));
    text
}

/// `plugin vet --json`: the same report for machines.
pub fn vet_json(component: &PluginComponent, in_force: &LimitsInForce, store: Option<&TrustStore>) -> Value {
    let trusted = store.map(|store| store.find(&component.digest).is_some());
    json!({
        "file": component.path,
        "digest": component.digest.to_string(),
        "size_bytes": component.size,
        "contract": component.contract_version(),
        "supported_contracts": SUPPORTED_VERSIONS,
        "plugin": component.info,
        "imports": component.imports,
        "compiled": component.cache,
        "load_ms": component.load_time.as_secs_f64() * 1000.0,
        "limits": LimitsReport::from(&in_force.limits),
        "capped": in_force.capped,
        "trust_store": store.map(|store| json!({"path": store.path(), "lists_it": trusted})),
    })
}

/// `plugin list`: the store in force, its maxima and each plugin it lists.
pub fn trust_store_text(store: Option<&TrustStore>) -> serde_json::Result<String> {
    let Some(store) = store else {
        return Ok("no trust store is configured on this machine: every plugin a project pins may load\n".to_owned());
    };
    let mut text = format!("trust store {}: {} plugin(s)\n", store.path().display(), store.plugins().len());
    let _ = writeln!(text, "  maxima    {}", serde_json::to_string(store.maxima())?);
    for plugin in store.plugins() {
        let hooks: Vec<String> = plugin.hooks.iter().map(ToString::to_string).collect();
        let _ = writeln!(text, "  {} {} ({})", escape(&plugin.name), escape(&plugin.version), plugin.digest.get_ref());
        let _ = writeln!(
            text,
            "    hooks {}; vetted by {} at {}; {}",
            hooks.join(", "),
            escape(&plugin.vetted_by),
            escape(&plugin.vetted_at),
            limits_text(&plugin.limits)
        );
    }
    Ok(text)
}

/// `plugin list --json`.
pub fn trust_store_json(store: Option<&TrustStore>) -> Value {
    match store {
        Some(store) => json!({"store": store.path(), "maxima": store.maxima(), "plugins": store.plugins()}),
        None => json!({"store": null, "maxima": {}, "plugins": []}),
    }
}

/// One run of a clean or dedup hook over a CSV file, as `plugin run` shows it.
pub struct StageRun<'a> {
    pub plugin: &'a LoadedPlugin,
    pub hook: Hook,
    pub input: &'a Path,
    pub output: &'a StageOutput,
    /// The CSV line of each record, by source id.
    pub lines: &'a HashMap<String, u64>,
    /// Fields the plugin set that the input did not have: records per (kind, field).
    pub new_fields: &'a BTreeMap<(ObjectKind, String), u64>,
}

impl StageRun<'_> {
    /// What the run did, record by record, and the plugin's log (for standard output).
    pub fn text(&self, total: usize, elapsed: Duration) -> String {
        let (plugin, output) = (self.plugin, self.output);
        let counts = output.counts();
        let mut text = format!(
            "{} ({}) ran {} over {}: {total} records in {} batch{}, {:.1} ms, {} fuel\n",
            escape(&plugin.name()),
            plugin.component().digest,
            self.hook,
            self.input.display(),
            output.batches,
            if output.batches == 1 { "" } else { "es" },
            elapsed.as_secs_f64() * 1000.0,
            output.fuel_used
        );
        let _ = writeln!(
            text,
            "  kept {} ({} changed), dropped {}, merged {}, rejected {}, quarantined {} (failed batches: {})\n",
            counts.kept,
            counts.changed,
            counts.dropped,
            counts.merged,
            counts.rejected,
            counts.quarantined,
            output.failures.len()
        );
        for entry in &output.fates {
            let line = self.lines.get(&entry.source_id).map_or("?".to_owned(), u64::to_string);
            let what = match &entry.fate {
                Fate::Kept { changes } if changes.is_empty() => continue,
                Fate::Kept { changes } => format!(
                    "changed      {}",
                    changes
                        .iter()
                        .map(|c| format!("{}: {} -> {}", c.field, c.before, c.after))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
                Fate::Dropped { reason } => format!("dropped      {reason}"),
                Fate::Rejected { issues } => format!(
                    "rejected     {}",
                    issues.iter().map(|i| format!("{}: {}", i.field, i.message)).collect::<Vec<_>>().join("; ")
                ),
                Fate::Quarantined { reason } => format!("quarantined  {reason}"),
                Fate::Merged { survivor } => format!("merged into  {survivor}"),
            };
            let _ = writeln!(text, "  line {line:>5}  {:<12} {}", escape(&entry.source_id), escape(&what));
        }
        for (batch, log) in &output.logs {
            let _ = writeln!(text, "  log batch {batch} [{}] {}", log.level, escape(&log.message));
        }
        text
    }

    /// The failed batches and the groups left unmerged (for standard error).
    pub fn warnings(&self) -> String {
        let mut text = String::new();
        for failure in &self.output.failures {
            let _ = writeln!(text, "failed: {}", escape(&failure.to_string()));
        }
        for group in &self.output.unmerged_groups {
            let _ = writeln!(
                text,
                "warning: {} records share match keys, more than {} merged automatically; left unmerged for review \
                 (a placeholder email or phone?): {}{}",
                group.len(),
                pipeline::MAX_MERGE_GROUP,
                escape(&group.iter().take(5).cloned().collect::<Vec<_>>().join(", ")),
                if group.len() > 5 { ", ..." } else { "" }
            );
        }
        text
    }

    /// The fields the plugin set that the input did not have.
    pub fn new_fields_text(&self) -> String {
        let mut text = String::new();
        for ((kind, field), records) in self.new_fields {
            let _ = writeln!(
                text,
                "  new field (not in the input): {kind}.{}, set on {records} record{}",
                escape(field),
                if *records == 1 { "" } else { "s" }
            );
        }
        text
    }

    /// `plugin run --json`: the run and every record's fate.
    pub fn json(&self) -> Value {
        let output = self.output;
        let fates: Vec<Value> = output
            .fates
            .iter()
            .map(|entry| {
                let mut value = match &entry.fate {
                    Fate::Kept { changes } => json!({
                        "fate": if changes.is_empty() { "kept" } else { "changed" },
                        "changes": changes.iter().map(|c| json!({"field": c.field, "before": c.before.to_string(), "after": c.after.to_string()})).collect::<Vec<_>>(),
                    }),
                    Fate::Dropped { reason } => json!({"fate": "dropped", "reason": reason}),
                    Fate::Rejected { issues } => json!({"fate": "rejected", "issues": issues}),
                    Fate::Quarantined { reason } => json!({"fate": "quarantined", "reason": reason}),
                    Fate::Merged { survivor } => json!({"fate": "merged", "survivor": survivor}),
                };
                value["source_id"] = json!(entry.source_id);
                value["kind"] = json!(entry.kind);
                value["line"] = json!(self.lines.get(&entry.source_id));
                value
            })
            .collect();
        json!({
            "plugin": self.plugin.name(),
            "digest": self.plugin.component().digest.to_string(),
            "hook": self.hook.to_string(),
            "input": self.input,
            "counts": output.counts(),
            "batches": output.batches,
            "fuel_used": output.fuel_used,
            "failures": output.failures.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "unmerged_groups": output.unmerged_groups,
            "new_fields": self.new_fields.iter().map(|((kind, field), records)| json!({"kind": kind, "field": field, "records": records})).collect::<Vec<_>>(),
            "logs": output.logs.iter().map(|(batch, log)| json!({"batch": batch, "level": log.level, "message": log.message})).collect::<Vec<_>>(),
            "records": fates,
        })
    }
}

/// `plugin run --hook label`: each tag's decision.
pub fn label_text(plugin: &str, tags: &[Tag], segments: usize, decisions: &[TagDecision]) -> String {
    let mut text = format!("{} decided {} tags ({} segments given):\n", escape(plugin), tags.len(), segments);
    for (tag, decision) in tags.iter().zip(decisions) {
        let fate = match &decision.fate {
            TagFate::Label { name, color } => format!("label \"{name}\" ({color})"),
            TagFate::Skip { reason } => format!("skip: {reason}"),
        };
        let origin = if decision.segment_origin { "  [segment-origin: rebuild as a Pipedrive filter]" } else { "" };
        let _ = writeln!(text, "  {:<24} -> {}{origin}", escape(&tag.name), escape(&fate));
    }
    text
}
