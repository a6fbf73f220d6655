//! A plugin that reports the environment variables and arguments it sees (the host gives none),
//! and logs a line for every record (the host keeps a bounded number).

use crm_migrate_plugin_sdk::{Clean, Config, ConfigError, HookError, Info, LogLevel, Outcome, Plugin, Record};

pub struct HostileEnvironment;

impl Plugin for HostileEnvironment {
    fn describe() -> Info {
        Info::new("hostile-environment", "0.1.0", "Reports the environment it sees")
    }

    fn configure(_config: &Config) -> Result<Self, ConfigError> {
        Ok(HostileEnvironment)
    }
}

impl Clean for HostileEnvironment {
    fn clean(&self, record: &mut Record<'_>) -> Result<Outcome, HookError> {
        record.set("seen_environment", format!("{:?}", std::env::vars().collect::<Vec<_>>()));
        record.set("seen_arguments", format!("{:?}", std::env::args().collect::<Vec<_>>()));
        // A HashMap seeds its hasher from wasi:random/insecure-seed: the host answers with a
        // fixed seed, so the iteration order (and the plugin's output) is the same every run.
        let order: std::collections::HashMap<&str, usize> =
            ["a", "b", "c", "d", "e", "f", "g", "h"].into_iter().zip(0..).collect();
        record.set("hash_order", order.keys().copied().collect::<Vec<_>>().concat());
        crm_migrate_plugin_sdk::log(LogLevel::Info, &format!("saw record {}", record.source_id()));
        Ok(Outcome::Keep)
    }
}

crm_migrate_plugin_sdk::export_plugin!(HostileEnvironment);
