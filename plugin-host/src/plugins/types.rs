//! What plugins say, in the host's own types (independent of any contract version's bindings).

use std::fmt;

use crm_migrate_core::record::Value;

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

// What the host checks of everything a plugin says before it touches a record, a report or a
// file: a plugin that answers a value out of range is not trusted for that batch.

/// Longest field name a plugin may set (Pipedrive's own limit for a field's name).
pub const MAX_FIELD_NAME_BYTES: usize = 255;
/// Longest label name a plugin may give (Pipedrive's label names are short; 255 is generous).
pub const MAX_LABEL_NAME_BYTES: usize = 255;
/// Longest choice a plugin may set (a choice becomes an option or a label in Pipedrive).
pub const MAX_CHOICE_BYTES: usize = 255;
/// Longest plugin name, version and option key.
pub const MAX_IDENTIFIER_BYTES: usize = 64;

/// A name shown to people and sent to Pipedrive: not blank, at most `max` bytes, and free of
/// control, line-breaking and bidirectional characters.
fn check_printable(what: &str, name: &str, max: usize) -> Result<(), String> {
    // Quoted only when refused: this runs for every field of every change.
    let quoted = || crm_migrate_core::untrusted::quote(name);
    if name.trim().is_empty() {
        Err(format!("{what} {} is empty", quoted()))
    } else if name.len() > max {
        Err(format!("{what} {} is longer than {max} bytes", quoted()))
    } else if name.chars().any(crm_migrate_core::untrusted::is_unsafe) {
        Err(format!("{what} {} holds control characters", quoted()))
    } else {
        Ok(())
    }
}

/// A value the host can hold and write: a finite number, a date or datetime in range, choices
/// that can be options (not blank, bounded, printable).
pub fn check_value(value: &Value) -> Result<(), String> {
    match value {
        Value::Number(number) if !number.is_finite() => Err(format!("number {number} is not finite")),
        Value::Date(date) => date.check(),
        Value::DateTime(datetime) => datetime.check(),
        Value::Choices(choices) => {
            choices.iter().try_for_each(|choice| check_printable("choice", choice, MAX_CHOICE_BYTES))
        }
        _ => Ok(()),
    }
}

impl FieldChange {
    /// A field name that is not blank, bounded and printable, and a value in range.
    pub fn check(&self) -> Result<(), String> {
        check_printable("field name", &self.field, MAX_FIELD_NAME_BYTES)?;
        check_value(&self.value)
            .map_err(|problem| format!("field {}: {problem}", crm_migrate_core::untrusted::quote(&self.field)))
    }
}

impl CleanOutcome {
    /// Every change's field and value, and every issue's field name.
    pub fn check(&self) -> Result<(), String> {
        match self {
            CleanOutcome::Keep(changes) => changes
                .iter()
                .enumerate()
                .try_for_each(|(index, change)| change.check().map_err(|problem| format!("change {index}: {problem}"))),
            CleanOutcome::Drop(_) => Ok(()),
            CleanOutcome::Reject(issues) => issues.iter().enumerate().try_for_each(|(index, issue)| {
                check_printable("field name", &issue.field, MAX_FIELD_NAME_BYTES)
                    .map_err(|problem| format!("issue {index}: {problem}"))
            }),
        }
    }
}

impl TagDecision {
    /// A label's name: not blank, bounded, printable.
    pub fn check(&self) -> Result<(), String> {
        match &self.fate {
            TagFate::Label { name, .. } => check_printable("label name", name, MAX_LABEL_NAME_BYTES),
            TagFate::Skip { .. } => Ok(()),
        }
    }
}

impl PluginInfo {
    /// Every way `describe` breaks the grammar of names: the name as `plugin new` makes them
    /// (`[a-z][a-z0-9-]*`), the version semver, option keys `[a-z][a-z0-9_-]*` and each named
    /// once, all at most 64 bytes. These end up in migration.toml, reports and errors.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let identifier = |text: &str, inner: fn(char) -> bool| {
            !text.is_empty()
                && text.len() <= MAX_IDENTIFIER_BYTES
                && text.starts_with(|c: char| c.is_ascii_lowercase())
                && text.chars().all(inner)
        };
        if !identifier(&self.name, |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
            problems.push(format!(
                "name {} is not a lower-case letter followed by a-z, 0-9 and '-' (at most {MAX_IDENTIFIER_BYTES} bytes)",
                crm_migrate_core::untrusted::quote(&self.name)
            ));
        }
        if self.version.len() > MAX_IDENTIFIER_BYTES || !is_semver(&self.version) {
            problems.push(format!(
                "version {} is not a semantic version such as 1.2.3 or 1.2.3-beta.1 (at most {MAX_IDENTIFIER_BYTES} bytes)",
                crm_migrate_core::untrusted::quote(&self.version)
            ));
        }
        for (index, option) in self.options.iter().enumerate() {
            if !identifier(&option.key, |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-') {
                problems.push(format!(
                    "option key {} is not a lower-case letter followed by a-z, 0-9, '_' and '-' (at most {MAX_IDENTIFIER_BYTES} bytes)",
                    crm_migrate_core::untrusted::quote(&option.key)
                ));
            } else if self.options[..index].iter().any(|earlier| earlier.key == option.key) {
                problems
                    .push(format!("option key {} is declared twice", crm_migrate_core::untrusted::quote(&option.key)));
            }
        }
        problems
    }
}

/// Semantic Versioning 2.0.0: `MAJOR.MINOR.PATCH`, numbers without leading zeros, then an
/// optional `-pre.release` and `+build` of dot-separated `[0-9A-Za-z-]+` identifiers.
fn is_semver(version: &str) -> bool {
    let (version, build) = version.split_once('+').map_or((version, None), |(version, build)| (version, Some(build)));
    let (core, pre) = version.split_once('-').map_or((version, None), |(core, pre)| (core, Some(pre)));
    let number = |part: &str| {
        !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) && (part == "0" || !part.starts_with('0'))
    };
    let identifiers = |text: &str| {
        text.split('.').all(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
    };
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|part| number(part))
        && pre.is_none_or(identifiers)
        && build.is_none_or(identifiers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_must_be_options_pipedrive_can_hold() {
        let choices = |list: &[&str]| Value::Choices(list.iter().map(|choice| choice.to_string()).collect());
        assert_eq!(check_value(&choices(&["VIP", "Retail customer"])), Ok(()));
        for bad in ["", "  ", "VIP\u{1b}[2K", "line\nbreak"] {
            assert!(check_value(&choices(&["ok", bad])).is_err(), "{bad:?}");
        }
        assert!(
            check_value(&choices(&[&"x".repeat(MAX_CHOICE_BYTES + 1)])).unwrap_err().contains("longer than 255 bytes")
        );
    }

    #[test]
    fn semantic_versions_are_told_from_other_text() {
        for good in ["0.1.0", "1.2.3", "10.20.30", "1.0.0-beta.1", "1.0.0+build.5", "1.0.0-rc-1+x"] {
            assert!(is_semver(good), "{good}");
        }
        for bad in ["", "1", "1.0", "01.0.0", "1.0.0.0", "1.0.0-", "1.0.0+", "1.0.0-a..b", "1.0\n", "v1.0.0", "1.0.0-é"]
        {
            assert!(!is_semver(bad), "{bad}");
        }
    }
}
