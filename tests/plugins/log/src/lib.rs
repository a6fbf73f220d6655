//! A plugin written against the raw contract that floods `host.log` on a batch holding a record
//! marked attack=yes: `calls` calls (default: without end) of `bytes` bytes each (default 10 MB;
//! `bytes=1` makes it millions of one-byte calls). Otherwise it keeps every record.

use raw_kit::host::{LogLevel, log};
use raw_kit::types::{Batch, CleanOutcome, PluginInfo};
use raw_kit::{RawPlugin, attacked, info, keep_all, option};

pub struct HostileLog;

impl RawPlugin for HostileLog {
    fn describe() -> PluginInfo {
        info("hostile-log", "Floods host.log", &["bytes", "calls"])
    }

    fn clean(batch: Batch) -> Result<Vec<CleanOutcome>, String> {
        if !attacked(&batch).is_empty() {
            let message = "x".repeat(option("bytes", 10_000_000));
            for _ in 0..option("calls", usize::MAX) {
                log(LogLevel::Info, &message);
            }
        }
        Ok(keep_all(&batch))
    }
}

raw_kit::export_raw_plugin!(HostileLog);
