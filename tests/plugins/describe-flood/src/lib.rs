//! A plugin written against the raw contract whose `describe` answers 200,000 configuration
//! options (empty keys): the host must refuse it at load time without holding them all.

use raw_kit::types::{ConfigOption, PluginInfo};
use raw_kit::{RawPlugin, info};

pub struct HostileDescribe;

impl RawPlugin for HostileDescribe {
    fn describe() -> PluginInfo {
        let mut info = info("hostile-describe", "Describes itself with 200,000 options", &[]);
        info.options = (0..200_000)
            .map(|_| ConfigOption { key: String::new(), description: String::new(), default_value: None })
            .collect();
        info
    }
}

raw_kit::export_raw_plugin!(HostileDescribe);
