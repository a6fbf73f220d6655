//! A plugin written against the raw contract that floods `host.log` on a batch holding a record
//! marked attack=yes: `calls` calls (default: without end) of `bytes` bytes each (default 10 MB;
//! `bytes=1` makes it millions of one-byte calls). Otherwise it keeps every record.

// The helpers below are shared, by copy, among the raw hostile plugins; each uses a part.
#![allow(dead_code, unused_imports)]

wit_bindgen::generate!({ path: "../../../wit/v0.1", world: "plugin" });

use std::sync::Mutex;

use crm_migrate::plugin::types::{
    Batch, Cell, CleanOutcome, ConfigError, ConfigOption, FieldChange, FieldValue, Hook, MergeDecision, PluginInfo, Segment,
    Tag, TagDecision,
};

/// The configuration of this instance (the host configures every fresh instance before a hook).
static CONFIG: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

fn option(key: &str, default: usize) -> usize {
    let config = CONFIG.lock().unwrap();
    config.iter().find(|(k, _)| k == key).and_then(|(_, v)| v.parse().ok()).unwrap_or(default)
}

fn text_option(key: &str) -> Option<String> {
    CONFIG.lock().unwrap().iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

/// The positions of the records whose `attack` field is `yes`.
fn attacked(batch: &Batch) -> Vec<usize> {
    let Some(column) = batch.columns.iter().position(|name| name == "attack") else { return Vec::new() };
    (0..batch.records.len())
        .filter(|row| match &batch.cells[row * batch.columns.len() + column] {
            Cell::Text(text) => batch.text.get(text.start as usize..(text.start + text.len) as usize) == Some("yes"),
            _ => false,
        })
        .collect()
}

fn info(name: &str, description: &str, options: &[&str]) -> PluginInfo {
    PluginInfo {
        name: name.into(),
        version: "0.1.0".into(),
        description: description.into(),
        hooks: vec![Hook::Clean, Hook::Dedup],
        options: options
            .iter()
            .map(|key| ConfigOption { key: (*key).into(), description: "attack size".into(), default_value: None })
            .collect(),
    }
}

fn store_config(config: Vec<(String, String)>) {
    *CONFIG.lock().unwrap() = config;
}

fn keep_all(batch: &Batch) -> Vec<CleanOutcome> {
    batch.records.iter().map(|_| CleanOutcome::Keep(Vec::new())).collect()
}

fn no_merge(groups: Vec<Vec<u32>>) -> Vec<MergeDecision> {
    groups.into_iter().map(|group| MergeDecision { survivor: group[0], absorbed: group[1..].to_vec(), changes: Vec::new() }).collect()
}

use crm_migrate::plugin::host::{LogLevel, log};

struct HostileLog;

impl exports::crm_migrate::plugin::hooks::Guest for HostileLog {
    fn describe() -> PluginInfo {
        info("hostile-log", "Floods host.log", &["bytes", "calls"])
    }

    fn configure(config: Vec<(String, String)>) -> Result<(), ConfigError> {
        store_config(config);
        Ok(())
    }

    fn clean(batch: Batch) -> Result<Vec<CleanOutcome>, String> {
        if !attacked(&batch).is_empty() {
            let message = "x".repeat(option("bytes", 10_000_000));
            for _ in 0..option("calls", usize::MAX) {
                log(LogLevel::Info, &message);
            }
        }
        Ok(keep_all(&batch))
    }

    fn match_keys(batch: Batch) -> Result<Vec<Vec<String>>, String> {
        Ok(vec![Vec::new(); batch.records.len()])
    }

    fn merge(_batch: Batch, groups: Vec<Vec<u32>>) -> Result<Vec<MergeDecision>, String> {
        Ok(no_merge(groups))
    }

    fn label(_tags: Vec<Tag>, _segments: Vec<Segment>) -> Result<Vec<TagDecision>, String> {
        Ok(Vec::new())
    }
}

// Export names carry the contract's `:` and `@`, which only a component may have.
#[cfg(target_arch = "wasm32")]
export!(HostileLog);
