//! A plugin that recurses without bound on a record marked attack=yes.

use crm_migrate_plugin_sdk::{Config, ConfigError, Hook, Info, Outcome, Plugin, Record};

pub struct HostileStack;

impl Plugin for HostileStack {
    fn describe() -> Info {
        Info::new("hostile-stack", "0.1.0", "A plugin that recurses without bound on a record marked attack=yes.").hooks(&[Hook::Clean])
    }

    fn configure(_config: &Config) -> Result<Self, ConfigError> {
        Ok(HostileStack)
    }

    fn clean(&self, record: &mut Record<'_>) -> Outcome {
        if record.text("attack") == Some("yes") {
            let depth = recurse(std::hint::black_box(1));
            record.set("depth", depth as f64);
        }
        Outcome::Keep
    }
}

crm_migrate_plugin_sdk::export_plugin!(HostileStack);

/// Not a tail call: each frame keeps a live local, so the stack really grows.
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 16]);
    recurse(depth + 1) + frame[std::hint::black_box(3)]
}
