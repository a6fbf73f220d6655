//! A plugin written against the raw contract whose outputs are made of empty strings, which
//! once counted 0 bytes towards the output limit: for each record marked attack=yes, `clean`
//! sets a field to `strings` empty choices (default 100,000) and `match_keys` answers as many
//! empty keys.

use raw_kit::types::{Batch, CleanOutcome, FieldChange, FieldValue, PluginInfo};
use raw_kit::{RawPlugin, attacked, info, keep_all, option};

pub struct HostileEmptyStrings;

impl RawPlugin for HostileEmptyStrings {
    fn describe() -> PluginInfo {
        info("hostile-empty-strings", "Outputs made of empty strings", &["strings"])
    }

    fn clean(batch: Batch) -> Result<Vec<CleanOutcome>, String> {
        let mut outcomes = keep_all(&batch);
        let strings = option("strings", 100_000);
        for row in attacked(&batch) {
            let choices = vec![String::new(); strings];
            outcomes[row] =
                CleanOutcome::Keep(vec![FieldChange { field: "tags".into(), value: FieldValue::Choices(choices) }]);
        }
        Ok(outcomes)
    }

    fn match_keys(batch: Batch) -> Result<Vec<Vec<String>>, String> {
        let mut keys = vec![Vec::new(); batch.records.len()];
        let strings = option("strings", 100_000);
        for row in attacked(&batch) {
            keys[row] = vec![String::new(); strings];
        }
        Ok(keys)
    }
}

raw_kit::export_raw_plugin!(HostileEmptyStrings);
