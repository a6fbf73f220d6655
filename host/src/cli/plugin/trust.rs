//! `crm-migrate plugin trust`, `untrust` and `list`: this machine's trust store.

use crm_migrate::plugins::{CompileLimits, Digest, TrustError, TrustStore, TrustedPlugin, file_digest};
use crm_migrate::terminal::plugins as plugins_text;
use crm_migrate::untrusted::escape;

use super::args::PluginArgs;
use crate::cli::exit::Exit;

/// `plugin trust`'s closing help: examples, then what it records and where.
pub const HELP: &str = "Examples:\n  crm-migrate plugin trust acme_rules.wasm --by \"Ola Nowak\"\n  \
        CRM_MIGRATE_TRUST_STORE=/srv/crm/trust.toml crm-migrate plugin trust acme_rules.wasm --name acme-rules --version 1.2.0\n\n\
        Vets the file as plugin vet does (a plugin that fails vetting is not added) and records its digest, name, \
        version, who vetted it and when, its contract, hooks, imports and the limits it was vetted under. The store \
        is $CRM_MIGRATE_TRUST_STORE, else $XDG_CONFIG_HOME/crm-migrate/trust.toml (else ~/.config/crm-migrate/trust.toml), \
        else /etc/crm-migrate/trust.toml: the first that is set or exists; a new one is written in the user's \
        configuration directory. CRM_MIGRATE_TRUST_STORE=none (the exact word) puts no store in force, whatever \
        files exist (no project can set it; plugin trust and untrust then refuse, having no store to change). Maxima of the limits go in its [maxima] table (memory_mib, fuel_per_call, \
        fuel_per_record, batch_seconds, run_fuel, run_seconds, core_instances), or an entry's [plugins.maxima].";

/// `plugin trust`: vets the file as `plugin vet` does, and adds it to the store.
pub fn trust(plugin: &PluginArgs, name: Option<&str>, version: Option<&str>, by: Option<&str>) -> anyhow::Result<Exit> {
    let mut store = TrustStore::for_writing()?;
    let (component, in_force, _) = plugin.open_under(Some(store.clone()), false)?;
    for (expected, found) in [(name, &component.info.name), (version, &component.info.version)] {
        if let Some(expected) = expected.filter(|expected| *expected != found.as_str()) {
            return Err(TrustError::NotAsNamed {
                path: component.path.clone(),
                expected: expected.to_owned(),
                found: found.clone(),
            }
            .into());
        }
    }
    let entry = TrustedPlugin::vetted(&component, &in_force.limits, crm_migrate::approve::approver(by));
    println!(
        "trusted {} {} ({}), vetted by {} at {}",
        escape(&entry.name),
        escape(&entry.version),
        entry.digest.get_ref(),
        escape(&entry.vetted_by),
        entry.vetted_at
    );
    store.add(entry);
    store.save()?;
    println!("  in the trust store {}", store.path().display());
    Ok(Exit::Success)
}

/// `plugin untrust DIGEST|FILE`.
pub fn untrust(plugin: &str) -> anyhow::Result<Exit> {
    let mut store = TrustStore::for_writing()?;
    let digest = match plugin.parse::<Digest>() {
        Ok(digest) => digest,
        Err(_) => file_digest(std::path::Path::new(plugin), &CompileLimits::default())?,
    };
    let removed = store.remove(&digest)?;
    store.save()?;
    println!(
        "untrusted {} {} ({}) in the trust store {}",
        escape(&removed.name),
        escape(&removed.version),
        digest,
        store.path().display()
    );
    Ok(Exit::Success)
}

/// `plugin list`: the store in force, its maxima and its plugins.
pub fn list(json_output: bool) -> anyhow::Result<Exit> {
    let store = TrustStore::configured()?;
    if json_output {
        println!("{}", serde_json::to_string_pretty(&plugins_text::trust_store_json(store.as_ref()))?);
    } else {
        print!("{}", plugins_text::trust_store_text(store.as_ref())?);
    }
    Ok(Exit::Success)
}
