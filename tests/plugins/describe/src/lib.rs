//! A plugin written against the raw contract whose `describe` breaks the grammar of names: its
//! name carries a newline and a TOML table header (written raw into migration.toml it would add
//! a plugin entry), its version is not semver, and one option key has a space and an escape.

wit_bindgen::generate!({ path: "../../../wit/v0.1", world: "plugin" });

use crm_migrate::plugin::types::{
    Batch, CleanOutcome, ConfigError, ConfigOption, Hook, MergeDecision, PluginInfo, Segment, Tag, TagDecision,
};

struct HostileDescribe;

impl exports::crm_migrate::plugin::hooks::Guest for HostileDescribe {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "evil\n[[plugins]]\nhook = \"clean\"\npath = \"/tmp/other.wasm\"".into(),
            version: "1.0\u{1b}[2K".into(),
            description: "Names out of grammar".into(),
            hooks: vec![Hook::Clean],
            options: vec![ConfigOption { key: "a b\u{1b}".into(), description: "x".into(), default_value: None }],
        }
    }

    fn configure(_config: Vec<(String, String)>) -> Result<(), ConfigError> {
        Ok(())
    }

    fn clean(batch: Batch) -> Result<Vec<CleanOutcome>, String> {
        Ok((0..batch.records.len()).map(|_| CleanOutcome::Keep(Vec::new())).collect())
    }

    fn match_keys(batch: Batch) -> Result<Vec<Vec<String>>, String> {
        Ok(vec![Vec::new(); batch.records.len()])
    }

    fn merge(_batch: Batch, _groups: Vec<Vec<u32>>) -> Result<Vec<MergeDecision>, String> {
        Ok(Vec::new())
    }

    fn label(_tags: Vec<Tag>, _segments: Vec<Segment>) -> Result<Vec<TagDecision>, String> {
        Ok(Vec::new())
    }
}

// Export names carry the contract's `:` and `@`, which only a component may have.
#[cfg(target_arch = "wasm32")]
export!(HostileDescribe);
