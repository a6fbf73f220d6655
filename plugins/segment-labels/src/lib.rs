//! segment-labels: decides which User.com tags become Pipedrive labels, and in which colour.
//!
//! - a tag whose name starts with one of `skip_prefixes` (case ignored) is skipped, the reason
//!   naming the prefix; so is a tag with a blank name;
//! - with `skip_empty` on, a tag no record carries is skipped;
//! - every other tag becomes a label of its trimmed name, coloured as `colors` says for it
//!   (`tag name=colour` pairs, names compared ignoring case) or else `default_color`;
//! - a tag named like a User.com segment is flagged segment-origin, whatever its fate, so the
//!   handoff report asks the customer to rebuild the segment as a Pipedrive filter. Names
//!   compare ignoring case (`segment_match=exact`), or also ignoring spaces, `-` and `_`
//!   (`segment_match=normalized`).

mod colors;

use std::collections::BTreeMap;

use crm_migrate_plugin_sdk::{
    Config, ConfigError, ConfigOption, HookError, Info, Label, LabelColor, Plugin, Segment, Tag, TagDecision,
};

/// How a tag's name is compared with segment names.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SegmentMatch {
    /// Equal ignoring case (and surrounding spaces).
    Exact,
    /// Equal ignoring case, spaces, `-` and `_`: `Trial users` matches `trial-users`.
    Normalized,
}

impl SegmentMatch {
    /// The form of `name` that equal names share.
    fn key(self, name: &str) -> String {
        let lower = name.trim().to_lowercase();
        match self {
            SegmentMatch::Exact => lower,
            SegmentMatch::Normalized => {
                lower.chars().filter(|c| !c.is_whitespace() && *c != '-' && *c != '_').collect()
            }
        }
    }
}

pub struct SegmentLabels {
    /// By lower-cased tag name.
    colors: BTreeMap<String, LabelColor>,
    default_color: LabelColor,
    /// Lower-cased.
    skip_prefixes: Vec<String>,
    skip_empty: bool,
    segment_match: SegmentMatch,
}

const OPTIONS: &[ConfigOption] = &[
    ConfigOption::new(
        "colors",
        "comma-separated tag name=colour pairs (blue, brown, dark-gray, gray, green, orange, pink, purple, red, yellow)",
    )
    .default_value(""),
    ConfigOption::new("default_color", "the colour of a label whose tag is not in colors").default_value("gray"),
    ConfigOption::new("skip_prefixes", "comma-separated tag name prefixes whose tags are not migrated").default_value(""),
    ConfigOption::new("skip_empty", "skip tags that no record carries").default_value("true"),
    ConfigOption::new(
        "segment_match",
        "how tag names match segment names: exact (ignoring case) or normalized (also ignoring spaces, - and _)",
    )
    .default_value("exact"),
];

impl Plugin for SegmentLabels {
    fn describe() -> Info {
        Info::new(
            "segment-labels",
            env!("CARGO_PKG_VERSION"),
            "Turns tags into coloured labels, skips internal and unused tags, flags tags that stand for segments",
        )
        .options(OPTIONS)
    }

    fn configure(config: &Config) -> Result<Self, ConfigError> {
        let segment_match = config
            .choice("segment_match", &[("exact", SegmentMatch::Exact), ("normalized", SegmentMatch::Normalized)])?;
        Ok(SegmentLabels {
            colors: colors::map("colors", &config.list("colors"))?,
            default_color: colors::by_name("default_color", config.get("default_color").unwrap_or_default())?,
            skip_prefixes: config.list("skip_prefixes").iter().map(|prefix| prefix.to_lowercase()).collect(),
            skip_empty: config.flag("skip_empty")?.unwrap_or(true),
            segment_match,
        })
    }
}

impl Label for SegmentLabels {
    fn label(&self, tag: &Tag, segments: &[Segment]) -> Result<TagDecision, HookError> {
        let tag_key = self.segment_match.key(&tag.name);
        let from_segment =
            !tag_key.is_empty() && segments.iter().any(|segment| self.segment_match.key(&segment.name) == tag_key);
        Ok(self.decision(tag).from_segment(from_segment))
    }
}

impl SegmentLabels {
    fn decision(&self, tag: &Tag) -> TagDecision {
        let name = tag.name.trim();
        let lower = name.to_lowercase();
        if let Some(prefix) = self.skip_prefixes.iter().find(|prefix| lower.starts_with(prefix.as_str())) {
            return TagDecision::skip(format!("its name starts with '{prefix}', listed in skip_prefixes"));
        }
        if name.is_empty() {
            return TagDecision::skip("it has no name");
        }
        if self.skip_empty && tag.record_count == 0 {
            return TagDecision::skip("no record carries it");
        }
        let color = self.colors.get(&lower).copied().unwrap_or(self.default_color);
        TagDecision::label(name, color)
    }
}

crm_migrate_plugin_sdk::export_plugin!(SegmentLabels);

#[cfg(test)]
mod tests;
