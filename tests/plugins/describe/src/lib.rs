//! A plugin written against the raw contract whose `describe` breaks the grammar of names: its
//! name carries a newline and a TOML table header (written raw into migration.toml it would add
//! a plugin entry), its version is not semver, and one option key has a space and an escape.

use raw_kit::RawPlugin;
use raw_kit::types::{Batch, ConfigOption, Hook, MergeDecision, PluginInfo};

pub struct HostileDescribe;

impl RawPlugin for HostileDescribe {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "evil\n[[plugins]]\nhook = \"clean\"\npath = \"/tmp/other.wasm\"".into(),
            version: "1.0\u{1b}[2K".into(),
            description: "Names out of grammar".into(),
            hooks: vec![Hook::Clean],
            options: vec![ConfigOption { key: "a b\u{1b}".into(), description: "x".into(), default_value: None }],
        }
    }

    fn merge(_batch: Batch, _groups: Vec<Vec<u32>>) -> Result<Vec<MergeDecision>, String> {
        Ok(Vec::new())
    }
}

raw_kit::export_raw_plugin!(HostileDescribe);
