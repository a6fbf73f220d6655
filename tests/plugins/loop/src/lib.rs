//! A plugin that loops forever on a record marked attack=yes.

use crm_migrate_plugin_sdk::{Config, ConfigError, Hook, Info, Outcome, Plugin, Record};

pub struct HostileLoop;

impl Plugin for HostileLoop {
    fn describe() -> Info {
        Info::new("hostile-loop", "0.1.0", "A plugin that loops forever on a record marked attack=yes.").hooks(&[Hook::Clean])
    }

    fn configure(_config: &Config) -> Result<Self, ConfigError> {
        Ok(HostileLoop)
    }

    fn clean(&self, record: &mut Record<'_>) -> Outcome {
        if record.text("attack") == Some("yes") {
            let mut counter = 0u64;
            loop {
                counter = std::hint::black_box(counter.wrapping_add(1));
            }
        }
        Outcome::Keep
    }
}

crm_migrate_plugin_sdk::export_plugin!(HostileLoop);
