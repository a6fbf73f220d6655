//! Shared by the hostile test plugins written against the raw contract (`plugin-sdk/wit/v0.1`, no SDK: the
//! SDK's types cannot express what they send): the contract's bindings, generated once, a
//! [`RawPlugin`] trait whose hooks default to changing nothing, [`export_raw_plugin!`], and the
//! helpers their attacks use (options, the records marked attack=yes, a describe answer).
//!
//! ```
//! use raw_kit::types::{Batch, CleanOutcome, FieldChange, FieldValue, PluginInfo};
//! use raw_kit::{RawPlugin, attacked, info, keep_all, option};
//!
//! pub struct HostileExample;
//!
//! impl RawPlugin for HostileExample {
//!     fn describe() -> PluginInfo {
//!         info("hostile-example", "A long name on the record marked attack=yes", &["bytes"])
//!     }
//!
//!     fn clean(batch: Batch) -> Result<Vec<CleanOutcome>, String> {
//!         let mut outcomes = keep_all(&batch);
//!         for row in attacked(&batch) {
//!             let name = "x".repeat(option("bytes", 1_000_000));
//!             outcomes[row] = CleanOutcome::Keep(vec![FieldChange { field: "name".into(), value: FieldValue::Text(name) }]);
//!         }
//!         Ok(outcomes)
//!     }
//! }
//!
//! raw_kit::export_raw_plugin!(HostileExample);
//! # fn main() {}
//! ```

use std::sync::Mutex;

/// The generated bindings of the contract; plugins reach them through [`types`] and [`host`].
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../../plugin-sdk/wit/v0.1",
        world: "plugin",
        pub_export_macro: true,
        export_macro_name: "__export_raw_plugin_bindings",
        default_bindings_module: "raw_kit::bindings",
    });
}

pub use bindings::crm_migrate::plugin::{host, types};

use bindings::exports::crm_migrate::plugin::hooks::Guest;
use types::{
    Batch, Cell, CleanOutcome, ConfigError, ConfigOption, Hook, MergeDecision, PluginInfo, Segment, Tag, TagDecision,
};

/// The contract's hooks, each but `describe` answering "change nothing" unless a plugin's attack
/// needs it to say something else. `configure` keeps the configuration for [`option`].
pub trait RawPlugin {
    fn describe() -> PluginInfo;

    fn configure(config: Vec<(String, String)>) -> Result<(), ConfigError> {
        store_config(config);
        Ok(())
    }

    fn clean(batch: Batch) -> Result<Vec<CleanOutcome>, String> {
        Ok(keep_all(&batch))
    }

    fn match_keys(batch: Batch) -> Result<Vec<Vec<String>>, String> {
        Ok(vec![Vec::new(); batch.records.len()])
    }

    fn merge(_batch: Batch, groups: Vec<Vec<u32>>) -> Result<Vec<MergeDecision>, String> {
        Ok(no_merge(groups))
    }

    fn label(_tags: Vec<Tag>, _segments: Vec<Segment>) -> Result<Vec<TagDecision>, String> {
        Ok(Vec::new())
    }
}

impl<P: RawPlugin> Guest for P {
    fn describe() -> PluginInfo {
        <P as RawPlugin>::describe()
    }

    fn configure(config: Vec<(String, String)>) -> Result<(), ConfigError> {
        <P as RawPlugin>::configure(config)
    }

    fn clean(batch: Batch) -> Result<Vec<CleanOutcome>, String> {
        <P as RawPlugin>::clean(batch)
    }

    fn match_keys(batch: Batch) -> Result<Vec<Vec<String>>, String> {
        <P as RawPlugin>::match_keys(batch)
    }

    fn merge(batch: Batch, groups: Vec<Vec<u32>>) -> Result<Vec<MergeDecision>, String> {
        <P as RawPlugin>::merge(batch, groups)
    }

    fn label(tags: Vec<Tag>, segments: Vec<Segment>) -> Result<Vec<TagDecision>, String> {
        <P as RawPlugin>::label(tags, segments)
    }
}

/// Exports a [`RawPlugin`] as the component's hooks; call it once, in the plugin's `lib.rs`.
/// On native targets it expands to nothing: export names carry the contract's `:` and `@`, which
/// only a component may have.
#[macro_export]
macro_rules! export_raw_plugin {
    ($plugin:ident) => {
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::__export_raw_plugin_bindings!($plugin with_types_in $crate::bindings);
    };
}

/// The configuration of this instance (the host configures every fresh instance before a hook).
static CONFIG: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

/// Keeps `config` for [`option`] and [`text_option`]; for a plugin whose `configure` does more.
pub fn store_config(config: Vec<(String, String)>) {
    *CONFIG.lock().unwrap() = config;
}

/// The configured number `key`, or `default` when it is absent or not a number.
pub fn option(key: &str, default: usize) -> usize {
    let config = CONFIG.lock().unwrap();
    config.iter().find(|(k, _)| k == key).and_then(|(_, v)| v.parse().ok()).unwrap_or(default)
}

/// The configured text `key`, if any.
pub fn text_option(key: &str) -> Option<String> {
    CONFIG.lock().unwrap().iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

/// The positions of the records whose `attack` field is `yes`.
pub fn attacked(batch: &Batch) -> Vec<usize> {
    let Some(column) = batch.columns.iter().position(|name| name == "attack") else { return Vec::new() };
    (0..batch.records.len())
        .filter(|row| match &batch.cells[row * batch.columns.len() + column] {
            Cell::Text(text) => batch.text.get(text.start as usize..(text.start + text.len) as usize) == Some("yes"),
            _ => false,
        })
        .collect()
}

/// A describe answer for the clean and dedup hooks, whose `options` set the attack's size.
pub fn info(name: &str, description: &str, options: &[&str]) -> PluginInfo {
    PluginInfo {
        name: name.into(),
        version: "0.1.0".into(),
        description: description.into(),
        hooks: vec![Hook::Clean, Hook::Dedup],
        options: options
            .iter()
            .map(|key| ConfigOption { key: (*key).into(), description: "attack size".into(), default_value: None })
            .collect(),
    }
}

/// Keeps every record of `batch` unchanged.
pub fn keep_all(batch: &Batch) -> Vec<CleanOutcome> {
    batch.records.iter().map(|_| CleanOutcome::Keep(Vec::new())).collect()
}

/// Merges each group into its first record, changing nothing.
pub fn no_merge(groups: Vec<Vec<u32>>) -> Vec<MergeDecision> {
    groups
        .into_iter()
        .map(|group| MergeDecision { survivor: group[0], absorbed: group[1..].to_vec(), changes: Vec::new() })
        .collect()
}
