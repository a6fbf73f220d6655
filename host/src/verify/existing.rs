//! Verify's side of the records the account already had: each one linked is read back field by
//! field against what apply sends from the export. Updated: every mapped field holds the source's
//! value. Linked (fill only): each field apply filled holds the source's value, each field it left
//! holds a value of its own, and no journalled change overwrote a value that was there.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::VerifyError;
use crate::apply::existing::{changes_of_linked, empty, field_of, holds, linked_ids, payload_fields, with_field};
use crate::apply::load::{self, Payload};
use crate::apply::workspace::Targets;
use crate::journal::Journal;
use crate::record::ObjectKind;

use super::Mismatch;

/// (records verified, the fields that differ) of one object's linked records.
pub fn verify_linked(
    journal: &Journal,
    object: ObjectKind,
    expected: &HashMap<String, Result<Payload, String>>,
    listed: &HashMap<u64, Value>,
    targets: &Targets,
) -> Result<(u64, Vec<Mismatch>), VerifyError> {
    let linked = linked_ids(journal, object)?;
    if linked.is_empty() {
        return Ok((0, Vec::new()));
    }
    let entries = journal.entries(object)?;
    let changes = changes_of_linked(journal)?;
    let marker = load::marker_entity(object).and_then(|entity| targets.markers.get(&entity));
    let mut ids: Vec<(&String, &u64)> = linked.iter().collect();
    ids.sort();
    let (mut verified, mut mismatches) = (0, Vec::new());
    for (source_id, id) in ids {
        let mismatch = |field: &str, expected: Value, actual: Value| Mismatch {
            object,
            source_id: source_id.clone(),
            pipedrive_id: *id,
            field: field.to_owned(),
            expected,
            actual,
        };
        let mut found = Vec::new();
        let Some(actual) = listed.get(id) else {
            mismatches.push(mismatch("(record)", json!("the record the account had"), json!("gone")));
            continue;
        };
        let Some(Ok(payload)) = expected.get(source_id) else {
            mismatches.push(mismatch("(record)", json!("in the export"), json!("linked, not in the export now")));
            continue;
        };
        let update = entries.get(source_id).and_then(|entry| entry.detail.as_deref()) == Some("update");
        let written: Vec<&crate::journal::Change> =
            changes.get(&(object, *id)).into_iter().flatten().filter(|change| change.source_id == *source_id).collect();
        for (field, value) in payload_fields(&load::payload_json(payload), marker) {
            let filled = written.iter().any(|change| change.field == field);
            let fine = if update || filled {
                holds(object, &field, &value, actual)
            } else {
                // Left as the account had it: a value of its own, or the same as the source's.
                empty(&value) || !empty(&field_of(actual, &field)) || holds(object, &field, &value, actual)
            };
            if !fine {
                found.push(mismatch(&field, value, field_of(actual, &field)));
            }
        }
        if !update {
            let parse = |text: &str| serde_json::from_str::<Value>(text).unwrap_or(Value::Null);
            for (at, change) in written.iter().enumerate() {
                let prior = parse(&change.prior);
                // A later run (a delta, the undoing of one) may overwrite what the migration filled.
                let filled_before = written[..at].iter().any(|earlier| {
                    earlier.field == change.field
                        && holds(object, &change.field, &parse(&earlier.new), &with_field(&change.field, &prior))
                });
                if !empty(&prior) && !filled_before {
                    found.push(mismatch(
                        &format!("{} (fill only, but a value was overwritten)", change.field),
                        prior,
                        serde_json::from_str(&change.new).unwrap_or(Value::Null),
                    ));
                }
            }
        }
        if found.is_empty() {
            verified += 1;
        }
        mismatches.extend(found);
    }
    Ok((verified, mismatches))
}
