//! A plugin written against the raw contract (no SDK) whose answers break it when a batch holds
//! a record marked attack=yes: one clean outcome too many, one key list too few, and a merge
//! survivor outside its group. Otherwise it answers correctly.

// The raw contract's exports, as wit-bindgen generates them, are unsafe functions.
#![allow(unsafe_code)]

wit_bindgen::generate!({ path: "../../../plugin-sdk/wit/v0.1", world: "plugin" });

use crm_migrate::plugin::types::{
    Batch, Cell, CleanOutcome, ConfigError, Hook, MergeDecision, PluginInfo, Segment, Tag, TagDecision,
};

struct HostileGarbage;

/// Whether any record of the batch has `attack` = `yes`.
fn attacked(batch: &Batch) -> bool {
    let Some(column) = batch.columns.iter().position(|name| name == "attack") else { return false };
    batch.cells.iter().skip(column).step_by(batch.columns.len()).any(|cell| match cell {
        Cell::Text(text) => batch.text.get(text.start as usize..(text.start + text.len) as usize) == Some("yes"),
        _ => false,
    })
}

impl exports::crm_migrate::plugin::hooks::Guest for HostileGarbage {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "hostile-garbage".into(),
            version: "0.1.0".into(),
            description: "Answers that break the contract".into(),
            hooks: vec![Hook::Clean, Hook::Dedup],
            options: Vec::new(),
        }
    }

    fn configure(_config: Vec<(String, String)>) -> Result<(), ConfigError> {
        Ok(())
    }

    fn clean(batch: Batch) -> Result<Vec<CleanOutcome>, String> {
        let extra = usize::from(attacked(&batch));
        Ok((0..batch.records.len() + extra).map(|_| CleanOutcome::Keep(Vec::new())).collect())
    }

    fn match_keys(batch: Batch) -> Result<Vec<Vec<String>>, String> {
        let missing = usize::from(attacked(&batch));
        Ok(vec![Vec::new(); batch.records.len().saturating_sub(missing)])
    }

    fn merge(batch: Batch, groups: Vec<Vec<u32>>) -> Result<Vec<MergeDecision>, String> {
        let attacked = attacked(&batch);
        Ok(groups
            .into_iter()
            .map(|group| MergeDecision {
                survivor: if attacked { 4_000_000_000 } else { group[0] },
                absorbed: group[1..].to_vec(),
                changes: Vec::new(),
            })
            .collect())
    }

    fn label(_tags: Vec<Tag>, _segments: Vec<Segment>) -> Result<Vec<TagDecision>, String> {
        Ok(Vec::new())
    }
}

// Export names carry the contract's `:` and `@`, which only a component may have.
#[cfg(target_arch = "wasm32")]
export!(HostileGarbage);
