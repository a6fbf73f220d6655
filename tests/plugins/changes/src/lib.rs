//! A plugin written against the raw contract that returns `changes` (default 80,000) changes
//! for a record marked attack=yes, to `fields` distinct new fields (default: as many as the
//! changes) taken in turn: applying them was quadratic in the host, and 80,000 new fields on
//! one record made the next stage's batch a table 80,000 columns wide.

use raw_kit::types::{Batch, CleanOutcome, FieldChange, FieldValue, PluginInfo};
use raw_kit::{RawPlugin, attacked, info, keep_all, option};

pub struct HostileChanges;

impl RawPlugin for HostileChanges {
    fn describe() -> PluginInfo {
        info("hostile-changes", "Tens of thousands of changes for one record", &["changes", "fields"])
    }

    fn clean(batch: Batch) -> Result<Vec<CleanOutcome>, String> {
        let mut outcomes = keep_all(&batch);
        let changes = option("changes", 80_000);
        let fields = option("fields", changes).max(1);
        for row in attacked(&batch) {
            outcomes[row] = CleanOutcome::Keep(
                (0..changes)
                    .map(|i| FieldChange { field: format!("f{}", i % fields), value: FieldValue::Number(i as f64) })
                    .collect(),
            );
        }
        Ok(outcomes)
    }
}

raw_kit::export_raw_plugin!(HostileChanges);
