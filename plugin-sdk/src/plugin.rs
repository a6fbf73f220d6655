//! The `Plugin` trait: the hooks a plugin implements, with pass-through defaults.

use crate::config::{Config, ConfigError, ConfigOption};
use crate::record::{Outcome, Record};
use crate::value::Value;

pub use crate::bindings::crm_migrate::plugin::types::{
    Hook, LabelColor, LabelSpec, Segment, Tag, TagDecision, TagFate,
};

/// Who a plugin is: reported by `describe` and printed by `crm-migrate plugin vet`.
#[derive(Debug, Clone, Copy)]
pub struct Info {
    pub name: &'static str,
    /// The plugin's own version (semver).
    pub version: &'static str,
    pub description: &'static str,
    /// The hooks the plugin implements; the host calls only these.
    pub hooks: &'static [Hook],
    pub options: &'static [ConfigOption],
}

impl Info {
    pub const fn new(name: &'static str, version: &'static str, description: &'static str) -> Self {
        Info { name, version, description, hooks: &[], options: &[] }
    }

    pub const fn hooks(mut self, hooks: &'static [Hook]) -> Self {
        self.hooks = hooks;
        self
    }

    pub const fn options(mut self, options: &'static [ConfigOption]) -> Self {
        self.options = options;
        self
    }
}

/// How one group of duplicates merges. Indices are positions in the group given to
/// [`Plugin::merge`].
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

/// A crm-migrate plugin. Implement `describe` and `configure`, and the hooks you declare in
/// `describe`; the others default to passing records through unchanged.
pub trait Plugin: Sized + 'static {
    /// Name, version, hooks and options.
    fn describe() -> Info;

    /// Builds the plugin from the customer's configuration; a bad value is an error naming
    /// its key.
    fn configure(config: &Config) -> Result<Self, ConfigError>;

    /// Decides one record's fate; changes made to `record` travel with `Outcome::Keep`.
    fn clean(&self, _record: &mut Record<'_>) -> Outcome {
        Outcome::Keep
    }

    /// The keys that identify a record; records sharing any key form a group for `merge`.
    fn match_keys(&self, _record: &Record<'_>) -> Vec<String> {
        Vec::new()
    }

    /// Merges a group of records that share a match key (at least two).
    fn merge<'a>(&self, group: &[Record<'a>]) -> Merge<'a> {
        Merge::survivor(0, group.len())
    }

    /// Decides, for each tag of the catalogue in order, whether it becomes a label.
    fn label(&self, tags: &[Tag], _segments: &[Segment]) -> Vec<TagDecision> {
        tags.iter()
            .map(|tag| TagDecision {
                tag_id: tag.id.clone(),
                fate: TagFate::Label(LabelSpec { name: tag.name.clone(), color: LabelColor::Gray }),
                segment_origin: false,
            })
            .collect()
    }

    /// Configures the plugin from literal pairs, as the host would: for native tests.
    fn with_config(pairs: &[(&str, &str)]) -> Result<Self, ConfigError> {
        Self::configure(&Config::from_pairs(&Self::describe(), pairs)?)
    }
}
