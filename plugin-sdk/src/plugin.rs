//! The `Plugin` trait (who a plugin is, its configuration) and one trait per hook: the hooks a
//! plugin implements are the ones it tells the host about, so none can be forgotten.

use crate::config::{Config, ConfigError, ConfigOption};
use crate::error::HookError;
use crate::label::{Segment, Tag, TagDecision};
use crate::record::{Outcome, Record};
use crate::value::Value;

pub use crate::bindings::crm_migrate::plugin::types::Hook;

/// Who a plugin is: reported by `describe` and printed by `crm-migrate plugin vet`, with the
/// hooks it implements (derived by [`export_plugin!`](crate::export_plugin) from the hook traits).
#[derive(Debug, Clone, Copy)]
pub struct Info {
    pub name: &'static str,
    /// The plugin's own version (semver).
    pub version: &'static str,
    pub description: &'static str,
    pub options: &'static [ConfigOption],
}

impl Info {
    pub const fn new(name: &'static str, version: &'static str, description: &'static str) -> Self {
        Info { name, version, description, options: &[] }
    }

    pub const fn options(mut self, options: &'static [ConfigOption]) -> Self {
        self.options = options;
        self
    }
}

/// How one group of duplicates merges. Indices are positions in the group given to
/// [`Dedup::merge`].
#[derive(Debug, Clone, PartialEq)]
pub struct Merge<'a> {
    pub survivor: usize,
    /// Records merged into the survivor. Members left out stay on their own.
    pub absorbed: Vec<usize>,
    /// Fields to set on the survivor.
    pub changes: Vec<(String, Value<'a>)>,
}

impl<'a> Merge<'a> {
    /// `survivor` absorbs every other member of a group of `group_len` records.
    pub fn survivor(survivor: usize, group_len: usize) -> Self {
        Merge { survivor, absorbed: (0..group_len).filter(|&i| i != survivor).collect(), changes: Vec::new() }
    }

    /// Sets a field on the survivor.
    pub fn set(&mut self, field: &str, value: impl Into<Value<'a>>) {
        let value = value.into();
        match self.changes.iter_mut().find(|(name, _)| name == field) {
            Some((_, existing)) => *existing = value,
            None => self.changes.push((field.to_owned(), value)),
        }
    }
}

/// A crm-migrate plugin: who it is and how it reads its configuration. What it does is in the
/// hook traits it implements: [`Clean`], [`Dedup`], [`Label`].
pub trait Plugin: Sized + 'static {
    /// Name, version, description and options.
    fn describe() -> Info;

    /// Builds the plugin from the customer's configuration; a bad value is an error naming
    /// its key.
    fn configure(config: &Config) -> Result<Self, ConfigError>;

    /// Configures the plugin from literal pairs, as the host would: for native tests.
    fn with_config(pairs: &[(&str, &str)]) -> Result<Self, ConfigError> {
        Self::configure(&Config::from_pairs(&Self::describe(), pairs)?)
    }
}

/// The clean hook: each record's fate, and its fields fixed.
pub trait Clean: Plugin {
    /// Decides one record's fate; changes made to `record` travel with `Outcome::Keep`. An
    /// error quarantines the record's whole batch with the error as the reason.
    fn clean(&self, record: &mut Record<'_>) -> Result<Outcome, HookError>;
}

/// The dedup hook: which records are the same, and how each group merges.
pub trait Dedup: Plugin {
    /// The keys that identify a record; records sharing any key form a group for `merge`.
    fn match_keys(&self, record: &Record<'_>) -> Result<Vec<String>, HookError>;

    /// Merges a group of records that share a match key (at least two).
    fn merge<'a>(&self, group: &[Record<'a>]) -> Result<Merge<'a>, HookError>;
}

/// The label hook: which User.com tags become Pipedrive labels.
pub trait Label: Plugin {
    /// Decides the fate of one tag of the catalogue; `segments` are all of the export's.
    fn label(&self, tag: &Tag, segments: &[Segment]) -> Result<TagDecision, HookError>;
}
