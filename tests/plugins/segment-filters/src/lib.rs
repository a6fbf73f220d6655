//! A label plugin with other rules than segment-labels (with its defaults), for `plugin diff` on
//! the label hook:
//! - a tag named like a User.com segment (ignoring case and surrounding spaces) is skipped and
//!   flagged segment-origin: the handoff rebuilds the segment as a Pipedrive filter instead;
//! - a tag with a blank name is skipped, as segment-labels skips it;
//! - every other tag becomes a label of its trimmed name, even one no record carries
//!   (segment-labels skips those): red when at least 50 records carry it, else gray.

use crm_migrate_plugin_sdk::{
    Config, ConfigError, HookError, Info, Label, LabelColor, Plugin, Segment, Tag, TagDecision,
};

pub struct SegmentFilters;

/// The records a tag's label is red from.
const WIDE: u32 = 50;

impl Plugin for SegmentFilters {
    fn describe() -> Info {
        Info::new(
            "segment-filters",
            env!("CARGO_PKG_VERSION"),
            "Turns tags into labels, red when 50 records carry them; tags that stand for segments become filters",
        )
    }

    fn configure(_config: &Config) -> Result<Self, ConfigError> {
        Ok(SegmentFilters)
    }
}

impl Label for SegmentFilters {
    fn label(&self, tag: &Tag, segments: &[Segment]) -> Result<TagDecision, HookError> {
        let name = tag.name.trim();
        if name.is_empty() {
            return Ok(TagDecision::skip("it has no name"));
        }
        let key = name.to_lowercase();
        if segments.iter().any(|segment| segment.name.trim().to_lowercase() == key) {
            return Ok(TagDecision::skip("it stands for a segment, rebuilt as a Pipedrive filter").from_segment(true));
        }
        let color = if tag.record_count >= WIDE { LabelColor::Red } else { LabelColor::Gray };
        Ok(TagDecision::label(name, color))
    }
}

crm_migrate_plugin_sdk::export_plugin!(SegmentFilters);
