//! What plugins say, in the host's own types (independent of any contract version's bindings).

use std::fmt;

use crate::record::Value;

/// A hook a plugin implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Hook {
    Clean,
    Dedup,
    Label,
}

impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Hook::Clean => "clean",
            Hook::Dedup => "dedup",
            Hook::Label => "label",
        })
    }
}

/// A configuration key a plugin accepts.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ConfigOption {
    pub key: String,
    pub description: String,
    pub default: Option<String>,
}

/// Who a plugin says it is.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PluginInfo {
    pub name: String,
    pub version: String,
    pub description: String,
    pub hooks: Vec<Hook>,
    pub options: Vec<ConfigOption>,
}

/// A field a plugin sets.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    pub field: String,
    pub value: Value,
}

/// A field that keeps a record from being migrated, and why.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FieldIssue {
    pub field: String,
    pub message: String,
}

/// What `clean` decided for one record.
#[derive(Debug, Clone, PartialEq)]
pub enum CleanOutcome {
    Keep(Vec<FieldChange>),
    Drop(String),
    Reject(Vec<FieldIssue>),
}

/// How one group of duplicates merges; indices are positions in the batch sent to `merge`.
#[derive(Debug, Clone, PartialEq)]
pub struct MergeDecision {
    pub survivor: usize,
    pub absorbed: Vec<usize>,
    pub changes: Vec<FieldChange>,
}

/// A User.com tag and how many records carry it.
#[derive(Debug, Clone, PartialEq)]
pub struct Tag {
    pub id: String,
    pub name: String,
    pub record_count: u32,
}

/// A User.com segment (a dynamic filter over contacts).
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub id: String,
    pub name: String,
    pub definition: Option<String>,
}

/// The colours Pipedrive offers for labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LabelColor {
    Blue,
    Brown,
    DarkGray,
    Gray,
    Green,
    Orange,
    Pink,
    Purple,
    Red,
    Yellow,
}

impl fmt::Display for LabelColor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LabelColor::Blue => "blue",
            LabelColor::Brown => "brown",
            LabelColor::DarkGray => "dark-gray",
            LabelColor::Gray => "gray",
            LabelColor::Green => "green",
            LabelColor::Orange => "orange",
            LabelColor::Pink => "pink",
            LabelColor::Purple => "purple",
            LabelColor::Red => "red",
            LabelColor::Yellow => "yellow",
        })
    }
}

/// What becomes of a tag.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "lowercase", tag = "fate")]
pub enum TagFate {
    Label { name: String, color: LabelColor },
    Skip { reason: String },
}

/// The label hook's decision for one tag.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TagDecision {
    pub tag_id: String,
    #[serde(flatten)]
    pub fate: TagFate,
    pub segment_origin: bool,
}

/// A line a plugin logged during a call.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct PluginLog {
    pub level: &'static str,
    pub message: String,
}
