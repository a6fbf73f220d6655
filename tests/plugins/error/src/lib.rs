//! A plugin written against the raw contract that answers errors of many megabytes: `clean`
//! returns `Err` with a `bytes`-long string (default 20 MB) on a batch holding a record marked
//! attack=yes; with `config_error_bytes` set, `configure` refuses with a key and message that long.

use raw_kit::types::{Batch, CleanOutcome, ConfigError, PluginInfo};
use raw_kit::{RawPlugin, attacked, info, keep_all, option, store_config};

pub struct HostileError;

impl RawPlugin for HostileError {
    fn describe() -> PluginInfo {
        info("hostile-error", "Answers huge error strings", &["bytes", "config_error_bytes"])
    }

    fn configure(config: Vec<(String, String)>) -> Result<(), ConfigError> {
        store_config(config);
        match option("config_error_bytes", 0) {
            0 => Ok(()),
            bytes => Err(ConfigError { key: "k".repeat(bytes), message: "m".repeat(bytes) }),
        }
    }

    fn clean(batch: Batch) -> Result<Vec<CleanOutcome>, String> {
        if attacked(&batch).is_empty() {
            return Ok(keep_all(&batch));
        }
        Err("e".repeat(option("bytes", 20_000_000)))
    }

    fn match_keys(batch: Batch) -> Result<Vec<Vec<String>>, String> {
        if attacked(&batch).is_empty() {
            return Ok(vec![Vec::new(); batch.records.len()]);
        }
        Err("e".repeat(option("bytes", 20_000_000)))
    }
}

raw_kit::export_raw_plugin!(HostileError);
