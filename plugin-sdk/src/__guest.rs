//! The glue `export_plugin!` expands to: wire batches in, typed records to the plugin, sparse
//! outcomes back. Not for plugin authors.

use std::borrow::Cow;

use crate::config::Config;
use crate::plugin::{Merge, Plugin};
use crate::record::{Outcome, Record};
use crate::value::Value;

pub use crate::bindings::exports::crm_migrate::plugin::hooks::Guest;

/// The contract's generated types, as the wire carries them.
pub mod wire {
    pub use crate::bindings::crm_migrate::plugin::types::{
        Batch, Cell, CleanOutcome, ConfigError, ConfigOption, FieldChange, FieldIssue, FieldValue,
        MergeDecision, PluginInfo, Segment, Tag, TagDecision, TextRef,
    };
}

pub fn describe<P: Plugin>() -> wire::PluginInfo {
    let info = P::describe();
    wire::PluginInfo {
        name: info.name.to_owned(),
        version: info.version.to_owned(),
        description: info.description.to_owned(),
        hooks: info.hooks.to_vec(),
        options: info
            .options
            .iter()
            .map(|option| wire::ConfigOption {
                key: option.key.to_owned(),
                description: option.description.to_owned(),
                default_value: option.default.map(str::to_owned),
            })
            .collect(),
    }
}

pub fn configure<P: Plugin>(pairs: Vec<(String, String)>) -> Result<P, wire::ConfigError> {
    Config::from_pairs(&P::describe(), &pairs)
        .and_then(|config| P::configure(&config))
        .map_err(|error| wire::ConfigError { key: error.key, message: error.message })
}

pub fn clean<P: Plugin>(plugin: &P, batch: &wire::Batch) -> Result<Vec<wire::CleanOutcome>, String> {
    let records = decode_batch(batch)?;
    Ok(records
        .into_iter()
        .map(|mut record| match plugin.clean(&mut record) {
            Outcome::Keep => wire::CleanOutcome::Keep(
                record.changes().map(|(field, value)| field_change(field, value)).collect(),
            ),
            Outcome::Drop(reason) => wire::CleanOutcome::Drop(reason),
            Outcome::Reject(issues) => wire::CleanOutcome::Reject(
                issues
                    .into_iter()
                    .map(|issue| wire::FieldIssue { field: issue.field, message: issue.message })
                    .collect(),
            ),
        })
        .collect())
}

pub fn match_keys<P: Plugin>(plugin: &P, batch: &wire::Batch) -> Result<Vec<Vec<String>>, String> {
    Ok(decode_batch(batch)?.iter().map(|record| plugin.match_keys(record)).collect())
}

pub fn merge<P: Plugin>(
    plugin: &P,
    batch: &wire::Batch,
    groups: &[Vec<u32>],
) -> Result<Vec<wire::MergeDecision>, String> {
    let records = decode_batch(batch)?;
    groups
        .iter()
        .map(|positions| {
            let group = positions
                .iter()
                .map(|&position| {
                    records.get(position as usize).cloned().ok_or_else(|| {
                        format!("group names record {position}, the batch has {}", records.len())
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let Merge { survivor, absorbed, changes } = plugin.merge(&group);
            let batch_position = |member: usize| {
                positions.get(member).copied().ok_or_else(|| {
                    format!("merge names member {member} of a group of {}", positions.len())
                })
            };
            Ok(wire::MergeDecision {
                survivor: batch_position(survivor)?,
                absorbed: absorbed.into_iter().map(batch_position).collect::<Result<_, _>>()?,
                changes: changes.iter().map(|(field, value)| field_change(field, value)).collect(),
            })
        })
        .collect()
}

pub fn label<P: Plugin>(
    plugin: &P,
    tags: Vec<wire::Tag>,
    segments: Vec<wire::Segment>,
) -> Vec<wire::TagDecision> {
    plugin.label(&tags, &segments)
}

/// Typed records borrowing the batch's column names and text arena.
fn decode_batch(batch: &wire::Batch) -> Result<Vec<Record<'_>>, String> {
    let width = batch.columns.len();
    let expected_cells = batch.records.len() * width;
    if batch.cells.len() != expected_cells {
        return Err(format!(
            "batch {} has {} cells, expected {} records x {} columns",
            batch.id,
            batch.cells.len(),
            batch.records.len(),
            width
        ));
    }
    let text = |text_ref: &wire::TextRef| -> Result<&str, String> {
        let start = text_ref.start as usize;
        batch
            .text
            .get(start..start + text_ref.len as usize)
            .ok_or_else(|| format!("batch {} has a text-ref outside its arena", batch.id))
    };
    batch
        .records
        .iter()
        .enumerate()
        .map(|(row, header)| {
            let cells = &batch.cells[row * width..(row + 1) * width];
            let mut record = Record::with_capacity(header.kind, text(&header.source_id)?, width);
            for (column, cell) in batch.columns.iter().zip(cells) {
                let value = match cell {
                    wire::Cell::Null => Value::Null,
                    wire::Cell::Text(text_ref) => Value::Text(Cow::Borrowed(text(text_ref)?)),
                    wire::Cell::Number(number) => Value::Number(*number),
                    wire::Cell::Boolean(boolean) => Value::Boolean(*boolean),
                    wire::Cell::Date(date) => Value::Date(*date),
                    wire::Cell::Datetime(datetime) => Value::DateTime(*datetime),
                    wire::Cell::Choices(choices) => Value::Choices(
                        choices.iter().map(|c| text(c).map(Cow::Borrowed)).collect::<Result<_, _>>()?,
                    ),
                };
                record.push_source_field(Cow::Borrowed(column), value);
            }
            Ok(record)
        })
        .collect()
}

fn field_change(field: &str, value: &Value<'_>) -> wire::FieldChange {
    let value = match value {
        Value::Null => wire::FieldValue::Null,
        Value::Text(text) => wire::FieldValue::Text(text.to_string()),
        Value::Number(number) => wire::FieldValue::Number(*number),
        Value::Boolean(boolean) => wire::FieldValue::Boolean(*boolean),
        Value::Date(date) => wire::FieldValue::Date(*date),
        Value::DateTime(datetime) => wire::FieldValue::Datetime(*datetime),
        Value::Choices(choices) => wire::FieldValue::Choices(choices.iter().map(|c| c.to_string()).collect()),
    };
    wire::FieldChange { field: field.to_owned(), value }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::crm_migrate::plugin::types::{ObjectKind, RecordHeader};
    use crate::{Config, ConfigError, Hook, Info};

    struct Upper;

    impl Plugin for Upper {
        fn describe() -> Info {
            Info::new("upper", "0.1.0", "upper-cases names").hooks(&[Hook::Clean])
        }
        fn configure(_config: &Config) -> Result<Self, ConfigError> {
            Ok(Upper)
        }
        fn clean(&self, record: &mut Record<'_>) -> Outcome {
            let upper = record.text("name").map(str::to_uppercase);
            if let Some(upper) = upper {
                record.set("name", upper);
            }
            Outcome::Keep
        }
    }

    fn batch(columns: &[&str], rows: &[(&str, &[&str])]) -> wire::Batch {
        let mut text = String::new();
        let mut push = |s: &str| {
            let start = text.len() as u32;
            text.push_str(s);
            wire::TextRef { start, len: s.len() as u32 }
        };
        let mut records = Vec::new();
        let mut cells = Vec::new();
        for (id, values) in rows {
            records.push(RecordHeader { kind: ObjectKind::Contact, source_id: push(id) });
            cells.extend(values.iter().map(|value| wire::Cell::Text(push(value))));
        }
        wire::Batch { id: 1, columns: columns.iter().map(|c| c.to_string()).collect(), records, cells, text }
    }

    #[test]
    fn clean_answers_one_outcome_per_record_with_only_the_changes() {
        let batch = batch(&["name", "city"], &[("a", &["ada", "Kraków"]), ("b", &["BOB", "Gdańsk"])]);
        let outcomes = clean(&Upper, &batch).unwrap();
        assert_eq!(outcomes.len(), 2);
        match &outcomes[0] {
            wire::CleanOutcome::Keep(changes) => {
                assert_eq!(changes.len(), 1);
                assert_eq!(changes[0].field, "name");
                assert_eq!(changes[0].value, wire::FieldValue::Text("ADA".into()));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(outcomes[1], wire::CleanOutcome::Keep(Vec::new()), "an unchanged record sends no changes");
    }

    #[test]
    fn r_batch_without_columns_still_has_one_outcome_per_record() {
        let batch = batch(&[], &[("a", &[]), ("b", &[])]);
        assert_eq!(clean(&Upper, &batch).unwrap().len(), 2);
    }

    #[test]
    fn a_text_ref_outside_the_arena_is_an_error_not_a_panic() {
        let mut batch = batch(&["name"], &[("a", &["ada"])]);
        batch.cells[0] = wire::Cell::Text(wire::TextRef { start: 2, len: 100 });
        assert!(clean(&Upper, &batch).unwrap_err().contains("outside its arena"));
    }
}
