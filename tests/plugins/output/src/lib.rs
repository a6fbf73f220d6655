//! A plugin that returns an oversized field (`bytes` long) on a record marked attack=yes.

use crm_migrate_plugin_sdk::{Clean, Config, ConfigError, ConfigOption, HookError, Info, Outcome, Plugin, Record};

const OPTIONS: &[ConfigOption] = &[ConfigOption::new("bytes", "size of the payload").default_value("33554432")];

pub struct HostileOutput {
    bytes: usize,
}

impl Plugin for HostileOutput {
    fn describe() -> Info {
        Info::new("hostile-output", "0.1.0", "Returns an oversized field").options(OPTIONS)
    }

    fn configure(config: &Config) -> Result<Self, ConfigError> {
        Ok(HostileOutput { bytes: config.parse("bytes")?.unwrap_or(32 << 20) })
    }
}

impl Clean for HostileOutput {
    fn clean(&self, record: &mut Record<'_>) -> Result<Outcome, HookError> {
        if record.text("attack") == Some("yes") {
            record.set("payload", "x".repeat(self.bytes));
        }
        Ok(Outcome::Keep)
    }
}

crm_migrate_plugin_sdk::export_plugin!(HostileOutput);
