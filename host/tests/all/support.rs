//! Shared by the tests: where the built plugins are, and hosts and records to feed them.

use std::path::PathBuf;

use crm_migrate::plugins::{ComponentCache, Limits, LoadedPlugin, PluginHost};
use crm_migrate::record::{ObjectKind, Record, Value};

/// A component built by `cargo build-plugins`, e.g. `plugin("clean_basic")`.
pub fn plugin(file_stem: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let path = target.join("wasm32-wasip2/plugin").join(format!("{file_stem}.wasm"));
    assert!(
        path.exists(),
        "{} is missing: run `cargo build-plugins` first (the README's test command does)",
        path.display()
    );
    path
}

/// `crm-migrate` as every test runs it: with no trust store in force
/// (`CRM_MIGRATE_TRUST_STORE=none`), whatever the machine's user or system store lists, so that
/// the built test plugins load. A test of the store names its own with `.env(...)`.
pub fn crm_migrate() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_crm-migrate"));
    command.env("CRM_MIGRATE_TRUST_STORE", "none");
    command
}

/// A host with default limits and no compiled-code cache.
pub fn host() -> PluginHost {
    host_with(Limits::default())
}

pub fn host_with(limits: Limits) -> PluginHost {
    PluginHost::new(limits, ComponentCache::new(None)).expect("engine starts")
}

/// Opens and configures a built plugin.
pub fn load(host: &PluginHost, file_stem: &str, config: &[(&str, &str)]) -> LoadedPlugin {
    let config = config.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    host.open(&plugin(file_stem), None).expect("plugin loads").configure(config).expect("config accepted")
}

pub fn contact(id: &str, fields: &[(&str, &str)]) -> Record {
    fields.iter().fold(Record::new(ObjectKind::Contact, id), |record, (name, value)| {
        record.with(name, Value::Text(value.to_string()))
    })
}

/// `n` harmless contacts with ids `{prefix}-0..n`.
pub fn contacts(prefix: &str, n: usize) -> Vec<Record> {
    (0..n).map(|i| contact(&format!("{prefix}-{i}"), &[("email", &format!("user{i}@example.org"))])).collect()
}

/// The machine, shared out among the tests of this binary. Tests that measure pacing (no 429 at
/// steady load) take it for themselves; tests that load it heavily (whole migrations in child
/// processes, crate builds) share it with each other. On a 2-core CI machine a parallel
/// migration once starved a paced client long enough for a request to meet a 429.
static MACHINE: std::sync::RwLock<()> = std::sync::RwLock::new(());

pub fn timing_sensitive() -> std::sync::RwLockWriteGuard<'static, ()> {
    MACHINE.write().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub fn heavy() -> std::sync::RwLockReadGuard<'static, ()> {
    MACHINE.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}
