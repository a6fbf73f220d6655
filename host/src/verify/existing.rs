//! Verify's side of the records the account already had: each one linked is read back field by
//! field against what apply sends from the export. Updated: every mapped field holds the source's
//! value. Linked (fill only): each field apply filled holds the source's value, each field it left
//! holds a value of its own, and no journalled change overwrote a value that was there.

use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};

use super::VerifyError;
use crate::apply::existing::{LinkedChanges, changes_of_linked, empty, field_of, holds, payload_fields, with_field};
use crate::apply::load::{self, Payload};
use crate::apply::workspace::Targets;
use crate::journal::Journal;
use crate::record::ObjectKind;

use super::Mismatch;

/// What checking one object's linked records needs from the journal, read once per object.
pub struct Linked {
    object: ObjectKind,
    /// The source ids whose record updates the one the account had (the others fill it only).
    updated: HashSet<String>,
    changes: LinkedChanges,
    /// The marker field's code: not a field the record had.
    marker: Option<String>,
}

impl Linked {
    /// `linked`: the object's records linked to one the account had (none: nothing to check).
    pub fn of(
        journal: &Journal,
        object: ObjectKind,
        linked: &HashMap<String, u64>,
        targets: &Targets,
    ) -> Result<Option<Linked>, VerifyError> {
        if linked.is_empty() {
            return Ok(None);
        }
        let updated = journal
            .entries(object)?
            .into_iter()
            .filter(|(id, entry)| linked.contains_key(id) && entry.detail.as_deref() == Some("update"))
            .map(|(id, _)| id)
            .collect();
        Ok(Some(Linked {
            object,
            updated,
            changes: changes_of_linked(journal)?,
            marker: load::marker_entity(object).and_then(|entity| targets.markers.get(&entity)).cloned(),
        }))
    }

    /// The fields that differ (none: verified) of one linked record: `expected`, what apply sends
    /// for it from the export (none: not in the export now); `actual`, the record as listed
    /// (none: gone).
    pub fn check(
        &self,
        source_id: &str,
        id: u64,
        expected: Option<&Result<Payload, String>>,
        actual: Option<&Value>,
    ) -> Vec<Mismatch> {
        let (object, changes, marker) = (self.object, &self.changes, self.marker.as_ref());
        let mismatch = |field: &str, expected: Value, actual: Value| Mismatch {
            object,
            source_id: source_id.to_owned(),
            pipedrive_id: id,
            field: field.to_owned(),
            expected,
            actual,
        };
        let mut found = Vec::new();
        let Some(actual) = actual else {
            return vec![mismatch("(record)", json!("the record the account had"), json!("gone"))];
        };
        let Some(Ok(payload)) = expected else {
            return vec![mismatch("(record)", json!("in the export"), json!("linked, not in the export now"))];
        };
        let update = self.updated.contains(source_id);
        let written: Vec<&crate::journal::Change> =
            changes.get(&(object, id)).into_iter().flatten().filter(|change| change.source_id == source_id).collect();
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
        found
    }
}
