//! The tags of a duplicate group, unioned into the survivor.

use std::collections::BTreeSet;

use crm_migrate_plugin_sdk::{Record, Value};

/// The union of `field`'s tags over `ranked` (the survivor first, then the donors): first seen
/// first, a tag differing only in case from an earlier one left out. Written as text when the
/// first tags found are text, as choices otherwise. `None` when the survivor already has
/// exactly these tags.
pub fn union<'v>(field: &str, ranked: &[&Record<'_>]) -> Option<Value<'v>> {
    let values: Vec<&Value<'_>> =
        ranked.iter().filter_map(|record| record.get(field)).filter(|value| !value.is_empty()).collect();
    let first = values.first()?;
    let mut seen = BTreeSet::new();
    let union: Vec<&str> =
        values.iter().flat_map(|value| tags_of(value)).filter(|tag| seen.insert(tag.to_lowercase())).collect();

    let survivor_tags = ranked.first().and_then(|survivor| survivor.get(field)).map(tags_of).unwrap_or_default();
    if survivor_tags == union {
        return None;
    }
    Some(match first {
        Value::Text(_) => Value::from(union.join(", ")),
        _ => Value::from(union.into_iter().map(str::to_owned).collect::<Vec<_>>()),
    })
}

/// The tags a value holds: a choice list, or comma-separated text. Trimmed, blanks left out.
fn tags_of<'v>(value: &'v Value<'_>) -> Vec<&'v str> {
    let tags: Vec<&str> = match value {
        Value::Choices(choices) => choices.iter().map(|choice| choice.trim()).collect(),
        Value::Text(text) => text.split(',').map(str::trim).collect(),
        _ => Vec::new(),
    };
    tags.into_iter().filter(|tag| !tag.is_empty()).collect()
}
