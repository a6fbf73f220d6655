//! A component built against contract 0.9.0, which this host does not know: it must be refused
//! with a message naming the versions the host supports.

// The raw contract's exports, as wit-bindgen generates them, are unsafe functions.
#![allow(unsafe_code)]

wit_bindgen::generate!({ path: "wit", world: "plugin" });

use crm_migrate::plugin::types::{
    Batch, CleanOutcome, ConfigError, Hook, MergeDecision, PluginInfo, Segment, Tag, TagDecision,
};

struct FutureVersion;

impl exports::crm_migrate::plugin::hooks::Guest for FutureVersion {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "future-version".into(),
            version: "0.1.0".into(),
            description: "Built against contract 0.9.0".into(),
            hooks: vec![Hook::Clean],
            options: Vec::new(),
        }
    }

    fn configure(_config: Vec<(String, String)>) -> Result<(), ConfigError> {
        Ok(())
    }

    fn clean(batch: Batch) -> Result<Vec<CleanOutcome>, String> {
        Ok(batch.records.iter().map(|_| CleanOutcome::Keep(Vec::new())).collect())
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

#[cfg(target_arch = "wasm32")]
export!(FutureVersion);
