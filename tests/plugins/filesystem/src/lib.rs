//! A plugin that tries to read a host file (the host refuses it at load).

use crm_migrate_plugin_sdk::{Config, ConfigError, Hook, Info, Outcome, Plugin, Record};

pub struct HostileFilesystem;

impl Plugin for HostileFilesystem {
    fn describe() -> Info {
        Info::new("hostile-filesystem", "0.1.0", "A plugin that tries to read a host file (the host refuses it at load).").hooks(&[Hook::Clean])
    }

    fn configure(_config: &Config) -> Result<Self, ConfigError> {
        Ok(HostileFilesystem)
    }

    fn clean(&self, record: &mut Record<'_>) -> Outcome {
        if record.text("attack") == Some("yes") {
            let stolen = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
            record.set("stolen", stolen);
        }
        Outcome::Keep
    }
}

crm_migrate_plugin_sdk::export_plugin!(HostileFilesystem);
