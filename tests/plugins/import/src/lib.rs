//! A plugin that imports a function the host does not grant (`evil:escape/shell.run`).

use crm_migrate_plugin_sdk::{Config, ConfigError, Hook, Info, Outcome, Plugin, Record};

wit_bindgen::generate!({ path: "wit", world: "escape" });

pub struct HostileImport;

impl Plugin for HostileImport {
    fn describe() -> Info {
        Info::new("hostile-import", "0.1.0", "Calls a shell the host never granted").hooks(&[Hook::Clean])
    }

    fn configure(_config: &Config) -> Result<Self, ConfigError> {
        Ok(HostileImport)
    }

    fn clean(&self, record: &mut Record<'_>) -> Outcome {
        if record.text("attack") == Some("yes") {
            #[cfg(target_arch = "wasm32")]
            record.set("shell", evil::escape::shell::run("id"));
        }
        Outcome::Keep
    }
}

crm_migrate_plugin_sdk::export_plugin!(HostileImport);
