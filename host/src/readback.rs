//! Reading back what Pipedrive holds now (the cheapest listings, 500 records a call) and telling
//! how a record there differs from what was sent for it. Verify compares with what apply would
//! send from the export; delta and rollback compare with what the journal says was last sent, so
//! that a record someone edited in Pipedrive since is seen as such before it is overwritten or
//! deleted.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Value, json};

use crate::mapping::Destination;
use crate::pipedrive::{ClientError, PipedriveClient};
use crate::record::ObjectKind;

/// The records of the account as listed, per destination, each listed once and kept.
#[derive(Debug, Default)]
pub struct Listings(HashMap<Destination, HashMap<u64, Value>>);

impl Listings {
    /// The live records (not deleted) a source object lands in, by Pipedrive id.
    pub async fn of(
        &mut self,
        client: &PipedriveClient,
        object: ObjectKind,
    ) -> Result<&HashMap<u64, Value>, ClientError> {
        let destination = Destination::of(object);
        if let std::collections::hash_map::Entry::Vacant(e) = self.0.entry(destination) {
            let records = match destination {
                Destination::Organization => to_values(client.organizations().await?),
                Destination::Person => to_values(client.persons().await?),
                Destination::Deal => to_values(client.deals().await?),
                Destination::Activity => to_values(client.activities().await?),
                Destination::Note => to_values(client.notes(None).await?)
                    .into_iter()
                    .filter(|note| note["active_flag"] != false)
                    .collect(),
            };
            let live = records
                .into_iter()
                .filter(|record| record["is_deleted"] != true)
                .filter_map(|record| Some((record["id"].as_u64()?, record)))
                .collect();
            e.insert(live);
        }
        Ok(&self.0[&destination])
    }

    /// What was listed so far, per destination.
    pub fn listed(&self) -> &HashMap<Destination, HashMap<u64, Value>> {
        &self.0
    }

    /// Forgets what was listed (after writes that change it).
    pub fn clear(&mut self) {
        self.0.clear();
    }
}

fn to_values<T: Serialize>(records: Vec<T>) -> Vec<Value> {
    records.into_iter().map(|record| serde_json::to_value(record).expect("plain data serializes")).collect()
}

/// The fields of a record of `object` that differ between `expected` (a payload as apply sends
/// it, or as the journal kept it) and `actual` (the record as Pipedrive lists it):
/// (field, expected, actual), custom fields by name.
pub fn differences(
    object: ObjectKind,
    expected: &Value,
    actual: &Value,
    names: &HashMap<String, String>,
) -> Vec<(String, Value, Value)> {
    let mut differences = Vec::new();
    let mut differ = |field: &str, expected: Value, actual: Value| {
        if !same(&expected, &actual) {
            differences.push((field.to_owned(), expected, actual));
        }
    };
    // Links and flags are compared even when the expected record leaves them out (unset).
    let always: &[&str] = match Destination::of(object) {
        Destination::Organization => &["name", "owner_id"],
        Destination::Person => &["name", "owner_id", "org_id", "emails", "phones"],
        Destination::Deal => &["title", "owner_id", "person_id", "org_id", "pipeline_id", "stage_id", "status"],
        Destination::Activity => &["subject", "type", "owner_id", "deal_id", "org_id", "participants", "done"],
        Destination::Note => &["content", "person_id"],
    };
    let mut keys: Vec<&str> = expected.as_object().into_iter().flatten().map(|(key, _)| key.as_str()).collect();
    let missing: Vec<&str> = always.iter().copied().filter(|key| !keys.contains(key)).collect();
    keys.extend(missing);
    for key in keys {
        let expected_value = expected.get(key).cloned().unwrap_or(Value::Null);
        match key {
            // Set by Pipedrive as it likes, or (the marketing status) compared with the source's
            // opt-out by the coverage, not with the payload.
            "marketing_status" | "attendees" | "visible_to" | "user_id" | "close_time" => {}
            "custom_fields" => {
                let actual_fields = actual.get("custom_fields").cloned().unwrap_or(Value::Null);
                for (code, value) in expected_value.as_object().into_iter().flatten() {
                    let name = names.get(code).cloned().unwrap_or_else(|| code.clone());
                    differ(
                        &format!("custom field {name}"),
                        value.clone(),
                        actual_fields.get(code).cloned().unwrap_or(Value::Null),
                    );
                }
            }
            "emails" | "phones" => {
                differ(key, contact_values(&expected_value), contact_values(actual.get(key).unwrap_or(&Value::Null)))
            }
            "participants" => {
                differ(key, person_ids(&expected_value), person_ids(actual.get(key).unwrap_or(&Value::Null)))
            }
            "label_ids" => differ("labels", sorted(&expected_value), sorted(actual.get(key).unwrap_or(&Value::Null))),
            "address" => {
                let value = |address: Option<&Value>| {
                    address.and_then(|address| address.get("value")).cloned().unwrap_or(Value::Null)
                };
                differ(key, value(Some(&expected_value)), value(actual.get(key)))
            }
            "due_time" => differ(
                key,
                expected_value,
                actual
                    .get(key)
                    .and_then(Value::as_str)
                    .map(|time| json!(&time[..time.len().min(5)]))
                    .unwrap_or(Value::Null),
            ),
            "done" => differ(
                key,
                json!(expected_value.as_bool().unwrap_or(false)),
                json!(actual.get(key).and_then(Value::as_bool).unwrap_or(false)),
            ),
            _ => differ(key, expected_value, actual.get(key).cloned().unwrap_or(Value::Null)),
        }
    }
    differences
}

/// Equal as Pipedrive means it: numbers by value, everything else exactly.
fn same(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Number(a), Value::Number(b)) => {
            (a.as_f64().unwrap_or(f64::NAN) - b.as_f64().unwrap_or(f64::NAN)).abs() < 1e-9
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(key, value)| b.get(key).is_some_and(|other| same(value, other)))
        }
        (Value::Array(a), Value::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same(x, y)),
        (Value::Array(a), Value::Null) | (Value::Null, Value::Array(a)) => a.is_empty(),
        _ => expected == actual,
    }
}

/// Email or phone values, the primary first.
fn contact_values(points: &Value) -> Value {
    let mut points: Vec<&Value> = points.as_array().into_iter().flatten().collect();
    points.sort_by_key(|point| point["primary"] != true);
    json!(points.iter().map(|point| point["value"].clone()).collect::<Vec<_>>())
}

fn person_ids(participants: &Value) -> Value {
    let mut ids: Vec<u64> =
        participants.as_array().into_iter().flatten().filter_map(|p| p["person_id"].as_u64()).collect();
    ids.sort_unstable();
    json!(ids)
}

fn sorted(ids: &Value) -> Value {
    let mut ids: Vec<u64> = ids.as_array().into_iter().flatten().filter_map(Value::as_u64).collect();
    ids.sort_unstable();
    json!(ids)
}

/// A record someone changed in Pipedrive since the migration last wrote it: a delta does not
/// overwrite or delete it, and a rollback does not delete it, unless told to.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Conflict {
    pub object: ObjectKind,
    pub source_id: String,
    pub pipedrive_id: u64,
    /// What the migration was about to do: `update`, `delete`.
    pub action: &'static str,
    /// Each field changed in Pipedrive: (field, as last sent, as in Pipedrive now).
    pub fields: Vec<(String, Value, Value)>,
    /// Done anyway (`--overwrite-conflicts`, `--include-changed`); else the record was left alone.
    pub overridden: bool,
}

impl Conflict {
    /// The conflict, if the record as listed differs from what the journal says was last sent.
    /// Without a journalled payload (a record written before the journal kept them, or purged)
    /// nothing can be told, and there is no conflict.
    pub fn between(
        object: ObjectKind,
        source_id: &str,
        pipedrive_id: u64,
        action: &'static str,
        sent: Option<&str>,
        actual: &Value,
        names: &HashMap<String, String>,
    ) -> Option<Conflict> {
        let sent: Value = serde_json::from_str(sent?).ok()?;
        let fields = differences(object, &sent, actual, names);
        (!fields.is_empty()).then(|| Conflict {
            object,
            source_id: source_id.to_owned(),
            pipedrive_id,
            action,
            fields,
            overridden: false,
        })
    }

    /// One line per field, for the terminal and the reports.
    pub fn lines(&self) -> Vec<String> {
        let done = if self.overridden { format!("{} anyway", self.action) } else { "kept".to_owned() };
        self.fields
            .iter()
            .map(|(field, sent, now)| format!("{} {} (Pipedrive id {}): {field} changed in Pipedrive since the migration wrote it: {sent} then, {now} now; {done}", self.object, self.source_id, self.pipedrive_id))
            .collect()
    }
}
