//! A plugin that allocates without bound on a record marked attack=yes.

use crm_migrate_plugin_sdk::{Config, ConfigError, Hook, Info, Outcome, Plugin, Record};

pub struct HostileMemory;

impl Plugin for HostileMemory {
    fn describe() -> Info {
        Info::new("hostile-memory", "0.1.0", "A plugin that allocates without bound on a record marked attack=yes.").hooks(&[Hook::Clean])
    }

    fn configure(_config: &Config) -> Result<Self, ConfigError> {
        Ok(HostileMemory)
    }

    fn clean(&self, record: &mut Record<'_>) -> Outcome {
        if record.text("attack") == Some("yes") {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(std::hint::black_box(vec![1u8; 1 << 20]));
            }
        }
        Outcome::Keep
    }
}

crm_migrate_plugin_sdk::export_plugin!(HostileMemory);
