//! A plugin that panics on a record marked attack=yes.

use crm_migrate_plugin_sdk::{Config, ConfigError, Hook, Info, Outcome, Plugin, Record};

pub struct HostilePanic;

impl Plugin for HostilePanic {
    fn describe() -> Info {
        Info::new("hostile-panic", "0.1.0", "A plugin that panics on a record marked attack=yes.").hooks(&[Hook::Clean])
    }

    fn configure(_config: &Config) -> Result<Self, ConfigError> {
        Ok(HostilePanic)
    }

    fn clean(&self, record: &mut Record<'_>) -> Outcome {
        if record.text("attack") == Some("yes") {
            panic!("hostile panic on record {}", record.source_id());
        }
        Outcome::Keep
    }
}

crm_migrate_plugin_sdk::export_plugin!(HostilePanic);
