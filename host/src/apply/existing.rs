//! Records the account already had (existing.toml, approved): apply links a source record to its
//! existing organization or person instead of creating one, filling only its empty fields (link)
//! or overwriting its mapped fields (update). The prior value of every field is journalled before
//! the PATCH that changes it; rollback PATCHes each back where the value is still the one apply
//! wrote (else it reports a conflict and leaves it), and never deletes such a record. A later run
//! (a delta) makes a linked record follow its source's changes within the same decision.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Value, json};

use crate::pipedrive::{ClientError, PipedriveClient};
use crate::plan::existing::Choice;
use crate::readback::{Listings, differences};
use crate::record::ObjectKind;

use super::ApplyError;
use super::load::{self, Payload};
use super::workspace::Targets;
use crate::journal::{Change, Fate, Journal};

/// The approved decisions: (object, source id) -> (link or update, the existing record's id).
#[derive(Debug, Clone, Default)]
pub struct Decisions(crate::plan::existing::Decided);

impl Decisions {
    pub fn of(project: &crate::project::Project) -> Result<Decisions, ApplyError> {
        Ok(Decisions(crate::plan::existing::decided(project)?))
    }

    /// The existing record a source record goes to, and how.
    pub fn get(&self, object: ObjectKind, source_id: &str) -> Option<(Choice, u64)> {
        self.0.get(&(object, source_id.to_owned())).copied()
    }

    /// The source records of `object` decided to go to existing records.
    pub fn ids(&self, object: ObjectKind) -> Vec<String> {
        self.0.keys().filter(|(kind, _)| *kind == object).map(|(_, id)| id.clone()).collect()
    }
}

/// Payload fields a record that existed keeps as it is: when it was created, who sees it, its
/// marketing consent (the listings do not show it, so it could not be given back), and the
/// migration's marker (it is not the migration's record).
pub(crate) fn kept_as_is(field: &str, marker: Option<&String>) -> bool {
    matches!(field, "add_time" | "visible_to" | "marketing_status")
        || field.strip_prefix("custom_fields.").is_some_and(|code| Some(code) == marker.map(String::as_str))
}

/// No value: null, blank text, no items, or an object (an address, an amount) without a value.
pub(crate) fn empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(text) => text.trim().is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(object) => object.get("value").is_none_or(empty),
        _ => false,
    }
}

/// A field of a record as listed (`custom_fields.KEY` one level down).
pub(crate) fn field_of(record: &Value, field: &str) -> Value {
    match field.strip_prefix("custom_fields.") {
        Some(code) => record["custom_fields"][code].clone(),
        None => record[field].clone(),
    }
}

/// A record as listed that holds only `value` in `field`, to compare a journalled value with.
pub(crate) fn with_field(field: &str, value: &Value) -> Value {
    let mut record = json!({});
    set_field(&mut record, field, value.clone());
    record
}

fn set_field(record: &mut Value, field: &str, value: Value) {
    match field.strip_prefix("custom_fields.") {
        Some(code) => record["custom_fields"][code] = value,
        None => record[field] = value,
    }
}

/// Whether a field of a record as listed holds `expected`, compared as verify compares.
pub(crate) fn holds(object: ObjectKind, field: &str, expected: &Value, actual: &Value) -> bool {
    let (body, name) = match field.strip_prefix("custom_fields.") {
        Some(code) => (json!({ "custom_fields": { code: expected } }), format!("custom field {code}")),
        None if field == "label_ids" => (json!({ field: expected }), "labels".to_owned()),
        None => (json!({ field: expected }), field.to_owned()),
    };
    !differences(object, &body, actual, &HashMap::new()).iter().any(|(differs, ..)| *differs == name)
}

/// The payload's fields one by one (`custom_fields.KEY` for custom ones), as apply would send them.
pub(crate) fn payload_fields(payload: &Value, marker: Option<&String>) -> Vec<(String, Value)> {
    let mut fields = Vec::new();
    for (key, value) in payload.as_object().into_iter().flatten() {
        if key == "custom_fields" {
            fields.extend(
                value
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(code, value)| (format!("custom_fields.{code}"), value.clone())),
            );
        } else {
            fields.push((key.clone(), value.clone()));
        }
    }
    fields.retain(|(field, _)| !kept_as_is(field, marker));
    fields
}

/// What link or update changes on the existing record: (field, prior as listed, new).
fn changes_for(
    object: ObjectKind,
    choice: Choice,
    payload: &Value,
    actual: &Value,
    marker: Option<&String>,
) -> Vec<(String, Value, Value)> {
    payload_fields(payload, marker)
        .into_iter()
        .filter(|(_, new)| !empty(new))
        .filter_map(|(field, new)| {
            let prior = field_of(actual, &field);
            let write = match choice {
                Choice::Link => empty(&prior),
                Choice::Update => !holds(object, &field, &new, actual),
                Choice::Create => false,
            };
            write.then_some((field, prior, new))
        })
        .collect()
}

/// What [`link`] did besides linking: records linked before that followed their source's
/// changes, and fields it left because someone changed them in Pipedrive since.
#[derive(Debug, Default)]
pub struct Linking {
    /// Source id -> Pipedrive id of every record linked (earlier runs' too).
    pub linked: HashMap<String, u64>,
    /// Records linked before whose changed fields were written.
    pub updated: u64,
    pub conflicts: Vec<crate::readback::Conflict>,
    pub notes: Vec<String>,
}

/// Links the records existing.toml sends to existing ones: journals each field's prior value,
/// then PATCHes, and keeps what was sent as the baseline of the next run. A record linked before
/// follows its source instead ([`follow`]).
#[allow(clippy::too_many_arguments)]
pub async fn link(
    client: &PipedriveClient,
    journal: &Journal,
    object: ObjectKind,
    targets: &Targets,
    decisions: &Decisions,
    records: Vec<(String, Payload)>,
    names: &HashMap<String, String>,
    overwrite: bool,
) -> Result<Linking, ApplyError> {
    if records.is_empty() {
        return Ok(Linking::default());
    }
    let entries = journal.entries(object)?;
    let marker = load::marker_entity(object).and_then(|entity| targets.markers.get(&entity));
    let mut listings = Listings::default();
    let mut outcome = Linking::default();
    let mut written: Option<LinkedChanges> = None;
    let mut without_baseline = 0;
    for (source_id, payload) in records {
        let Some((choice, id)) = decisions.get(object, &source_id) else { continue };
        if let Some(entry) = entries.get(&source_id).filter(|entry| entry.fate == Fate::Linked) {
            let id = entry.pipedrive_id.unwrap_or(id);
            outcome.linked.insert(source_id.clone(), id);
            let now = load::payload_json(&payload);
            let Some(sent) = entry.sent.as_deref().and_then(|sent| serde_json::from_str::<Value>(sent).ok()) else {
                // Linked before the journal kept what it sent (or purged): what would be sent
                // now is the baseline of the next run, and says so.
                journal.set_sent(object, &source_id, &now.to_string())?;
                without_baseline += 1;
                continue;
            };
            let written = match &mut written {
                Some(written) => written,
                None => written.insert(changes_of_linked(journal)?),
            };
            let record = Linked { object, source_id: &source_id, id, choice, marker };
            let ours: Vec<&Change> = written
                .get(&(object, id))
                .into_iter()
                .flatten()
                .filter(|change| change.source_id == source_id)
                .collect();
            if follow(client, journal, &record, &sent, &now, &ours, &mut listings, names, overwrite, &mut outcome)
                .await?
            {
                outcome.updated += 1;
            }
            continue;
        }
        let gone = |journal: &Journal| {
            journal.set(
                object,
                &source_id,
                Fate::Quarantined,
                None,
                Some(&format!("existing.toml sends it to Pipedrive record {id}, which the account no longer has")),
            )
        };
        let Some(actual) = listings.record(client, object, id).await? else {
            gone(journal)?;
            continue;
        };
        let changes = changes_for(object, choice, &load::payload_json(&payload), &actual, marker);
        // The prior values first: a crash after the PATCH still leaves what rollback gives back.
        for (field, prior, new) in &changes {
            journal.record_change(object, &source_id, id, field, &prior.to_string(), &new.to_string())?;
        }
        if !changes.is_empty() {
            match load::update(client, object, id, &changes).await {
                Ok(()) => {}
                Err(ClientError::NotFound { .. }) => {
                    gone(journal)?;
                    continue;
                }
                Err(error) => return Err(error.into()),
            }
        }
        journal.set(object, &source_id, Fate::Linked, Some(id), Some(choice.as_str()))?;
        journal.set_sent(object, &source_id, &load::payload_json(&payload).to_string())?;
        outcome.linked.insert(source_id, id);
    }
    if without_baseline > 0 {
        outcome.notes.push(format!(
            "{without_baseline} {object} records linked to the account's own had no journalled payload to compare with (linked by an earlier crm-migrate, or purged): not compared, not updated; what would be sent now is their baseline for the next delta"
        ));
    }
    Ok(outcome)
}

/// A record linked to one the account had, as [`follow`] sees it.
struct Linked<'a> {
    object: ObjectKind,
    source_id: &'a str,
    id: u64,
    choice: Choice,
    marker: Option<&'a String>,
}

/// A linked record whose source changed since it was last sent (a delta, a re-approved mapping):
/// each changed field is written where the decision allows it. Link writes a field that is empty
/// in Pipedrive or still holds what the migration filled it with, and leaves a value of the
/// account's own. Update writes a field that still holds what was there after the last run (or
/// what the migration wrote); one someone changed in Pipedrive since is a conflict, left unless
/// `overwrite`. Prior values are journalled before the PATCH; the baseline moves to `now` unless
/// a conflict was left (the next run meets it again). Returns whether anything was written.
#[allow(clippy::too_many_arguments)]
async fn follow(
    client: &PipedriveClient,
    journal: &Journal,
    record: &Linked<'_>,
    sent: &Value,
    now: &Value,
    ours: &[&Change],
    listings: &mut Listings,
    names: &HashMap<String, String>,
    overwrite: bool,
    outcome: &mut Linking,
) -> Result<bool, ApplyError> {
    let Linked { object, source_id, id, choice, marker } = *record;
    let changed: Vec<(String, Value, Value)> = crate::pipedrive::changes::changed_fields(sent, now)
        .into_iter()
        .filter(|(field, ..)| !kept_as_is(field, marker))
        .collect();
    if changed.is_empty() {
        return Ok(false);
    }
    let Some(actual) = listings.record(client, object, id).await? else {
        outcome.notes.push(format!(
            "{object} {source_id}: changed in User.com, but the record the account had (Pipedrive id {id}) is gone from Pipedrive; not created"
        ));
        return Ok(false);
    };
    let parse = |text: &str| serde_json::from_str::<Value>(text).unwrap_or(Value::Null);
    let mut writes = Vec::new();
    let mut conflict = crate::readback::Conflict {
        object,
        source_id: source_id.to_owned(),
        pipedrive_id: id,
        action: "update",
        fields: Vec::new(),
        overridden: overwrite,
    };
    for (field, was, new) in changed {
        let prior = field_of(&actual, &field);
        if holds(object, &field, &new, &actual) {
            continue;
        }
        // What the migration last wrote into this field, if it still holds it.
        let filled = ours
            .iter()
            .rev()
            .find(|change| change.field == field)
            .is_some_and(|change| holds(object, &field, &parse(&change.new), &actual));
        let write = match choice {
            Choice::Link => filled || (empty(&prior) && !empty(&new)),
            Choice::Update if filled || empty(&was) || holds(object, &field, &was, &actual) => true,
            Choice::Update => {
                let name = field
                    .strip_prefix("custom_fields.")
                    .and_then(|code| names.get(code))
                    .cloned()
                    .unwrap_or_else(|| field.clone());
                conflict.fields.push((name, was, prior.clone()));
                overwrite
            }
            Choice::Create => false,
        };
        if write {
            writes.push((field, prior, new));
        }
    }
    // The prior values first: a crash after the PATCH still leaves what rollback gives back.
    for (field, prior, new) in &writes {
        journal.record_change(object, source_id, id, field, &prior.to_string(), &new.to_string())?;
    }
    if !writes.is_empty() {
        match load::update(client, object, id, &writes).await {
            Ok(()) => {}
            Err(ClientError::NotFound { .. }) => {
                outcome.notes.push(format!(
                    "{object} {source_id}: changed in User.com, but the record the account had (Pipedrive id {id}) is gone from Pipedrive; not created"
                ));
                return Ok(false);
            }
            Err(error) => return Err(error.into()),
        }
    }
    let left = !conflict.fields.is_empty() && !overwrite;
    if !conflict.fields.is_empty() {
        outcome.conflicts.push(conflict);
    }
    if !left {
        journal.set_sent(object, source_id, &now.to_string())?;
    }
    Ok(!writes.is_empty())
}

/// Source id -> Pipedrive id of the records of an object linked to existing ones.
pub fn linked_ids(journal: &Journal, object: ObjectKind) -> Result<HashMap<String, u64>, ApplyError> {
    Ok(journal
        .entries(object)?
        .into_iter()
        .filter(|(_, entry)| entry.fate == Fate::Linked)
        .filter_map(|(id, entry)| Some((id, entry.pipedrive_id?)))
        .collect())
}

/// (object, Pipedrive id) -> the field changes journalled for the existing record, oldest first,
/// whichever source records were linked to it.
pub type LinkedChanges = HashMap<(ObjectKind, u64), Vec<Change>>;

/// Every field change journalled for linked records, oldest first.
pub fn changes_of_linked(journal: &Journal) -> Result<LinkedChanges, ApplyError> {
    let mut linked: HashSet<(ObjectKind, String, u64)> = HashSet::new();
    for object in [ObjectKind::Company, ObjectKind::Contact] {
        linked.extend(linked_ids(journal, object)?.into_iter().map(|(source_id, id)| (object, source_id, id)));
    }
    let mut changes: LinkedChanges = HashMap::new();
    for run in journal.runs()? {
        for change in journal.changes(run.id)? {
            if linked.contains(&(change.object, change.source_id.clone(), change.pipedrive_id)) {
                changes.entry((change.object, change.pipedrive_id)).or_default().push(change);
            }
        }
    }
    Ok(changes)
}

/// What rollback did to the records that existed before.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Restored {
    /// Records given their prior values back, per object.
    pub restored: BTreeMap<ObjectKind, u64>,
    /// Fields changed in Pipedrive since apply wrote them (left as they are), or records gone.
    pub conflicts: Vec<String>,
}

/// Walks a record's journalled changes newest first: a field that still holds what apply wrote
/// goes back to its prior value (an earlier change of the same field then compares with that);
/// one that holds neither is a conflict and stays. Returns (field, now, prior) to send and the
/// conflicts, one line each.
pub(crate) fn give_back(
    object: ObjectKind,
    written: &[Change],
    actual: &Value,
) -> (Vec<(String, Value, Value)>, Vec<String>) {
    let parse = |text: &str| serde_json::from_str::<Value>(text).unwrap_or(Value::Null);
    let mut now = actual.clone();
    let (mut back, mut conflicts): (Vec<(String, Value, Value)>, Vec<String>) = (Vec::new(), Vec::new());
    for change in written.iter().rev() {
        let what = format!(
            "{object} {} (Pipedrive id {}, a record the account had): {}",
            change.source_id, change.pipedrive_id, change.field
        );
        if change.prior.is_empty() && change.new.is_empty() {
            conflicts.push(format!("{what} not given back: the journal's values were purged (crm-migrate purge)"));
            continue;
        }
        let (new, prior) = (parse(&change.new), parse(&change.prior));
        if holds(object, &change.field, &new, &now) {
            back.retain(|(field, ..)| *field != change.field);
            back.push((change.field.clone(), new, prior.clone()));
            set_field(&mut now, &change.field, prior);
        } else if !holds(object, &change.field, &prior, &now) {
            conflicts.push(format!(
                "{what} changed in Pipedrive since apply wrote it ({new} written, {} now); left as it is",
                field_of(&now, &change.field)
            ));
        }
    }
    (back, conflicts)
}

/// Gives the records the account had (those linked in `runs`, or all) their prior values back,
/// each field only where it still holds what apply wrote; persons before organizations. Records
/// fully given back leave the journal; none is ever deleted.
pub async fn restore(
    client: &PipedriveClient,
    journal: &Journal,
    runs: Option<&HashSet<i64>>,
) -> Result<Restored, ApplyError> {
    let mut outcome = Restored::default();
    let mut changes = changes_of_linked(journal)?;
    let mut listings = Listings::default();
    for object in [ObjectKind::Contact, ObjectKind::Company] {
        // Several source records may have been linked to one record: its changes go back together.
        let mut linked: BTreeMap<u64, Vec<String>> = BTreeMap::new();
        for (source_id, entry) in journal.entries(object)? {
            if entry.fate == Fate::Linked
                && runs.is_none_or(|runs| runs.contains(&entry.run_id))
                && let Some(id) = entry.pipedrive_id
            {
                linked.entry(id).or_default().push(source_id);
            }
        }
        for (id, source_ids) in linked {
            let written = changes.remove(&(object, id)).unwrap_or_default();
            let written: Vec<Change> =
                written.into_iter().filter(|change| source_ids.contains(&change.source_id)).collect();
            let Some(actual) = listings.record(client, object, id).await? else {
                outcome.conflicts.push(format!(
                    "{object} {} (Pipedrive id {id}, a record the account had): gone from Pipedrive; nothing to give back",
                    source_ids.join(", ")
                ));
                for source_id in &source_ids {
                    journal.forget(object, source_id)?;
                }
                continue;
            };
            let (back, conflicts) = give_back(object, &written, &actual);
            if !back.is_empty() {
                match load::update(client, object, id, &back).await {
                    Ok(()) | Err(ClientError::NotFound { .. }) => {}
                    Err(error) => return Err(error.into()),
                }
                *outcome.restored.entry(object).or_default() += 1;
            }
            if conflicts.is_empty() {
                for source_id in &source_ids {
                    journal.forget(object, source_id)?;
                }
            }
            outcome.conflicts.extend(conflicts);
        }
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(source_id: &str, field: &str, prior: Value, new: Value) -> Change {
        Change {
            object: ObjectKind::Contact,
            source_id: source_id.into(),
            pipedrive_id: 7,
            field: field.into(),
            prior: prior.to_string(),
            new: new.to_string(),
        }
    }

    #[test]
    fn rollback_gives_back_newest_first_and_leaves_what_someone_changed_since() {
        // Two source records updated one person's name in turn; a phone apply filled was edited since.
        let written = [
            change("1", "name", json!("Jan"), json!("Jan Kowalski")),
            change("1", "phones", json!([]), json!([{"value": "123", "primary": true, "label": "work"}])),
            change("2", "name", json!("Jan Kowalski"), json!("J. Kowalski")),
            change("2", "org_id", Value::Null, json!(5)),
            Change {
                prior: String::new(),
                new: String::new(),
                ..change("2", "custom_fields.abc", Value::Null, Value::Null)
            },
        ];
        let actual = json!({"id": 7, "name": "J. Kowalski", "org_id": 5,
            "phones": [{"value": "999", "primary": true, "label": "work"}], "custom_fields": {"abc": "x"}});
        let (back, conflicts) = give_back(ObjectKind::Contact, &written, &actual);
        let back: Vec<(&str, &Value)> = back.iter().map(|(field, _, prior)| (field.as_str(), prior)).collect();
        assert_eq!(back, [("org_id", &Value::Null), ("name", &json!("Jan"))]);
        assert_eq!(conflicts.len(), 2, "{conflicts:?}");
        assert!(conflicts[0].contains("contact 2 (Pipedrive id 7, a record the account had): custom_fields.abc not given back: the journal's values were purged"));
        assert!(conflicts[1].contains(
            "contact 1 (Pipedrive id 7, a record the account had): phones changed in Pipedrive since apply wrote it"
        ));
    }

    #[test]
    fn link_fills_only_empty_fields_and_update_overwrites_what_differs() {
        let marker = "m".to_owned();
        let payload = json!({
            "name": "Jan Kowalski", "org_id": 7, "add_time": "2020-01-01T00:00:00Z",
            "emails": [{"value": "jan@firma.pl", "primary": true, "label": "work"}],
            "custom_fields": {"m": "acme:1", "city": "Gdańsk", "score": 3}
        });
        let actual = json!({
            "id": 1, "name": "J. Kowalski", "org_id": null, "emails": [],
            "custom_fields": {"m": null, "city": "Kraków", "score": null}
        });
        let fields = |choice| {
            changes_for(ObjectKind::Contact, choice, &payload, &actual, Some(&marker))
                .into_iter()
                .map(|(field, prior, _)| (field, prior))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            fields(Choice::Link),
            [
                ("custom_fields.score".to_owned(), Value::Null),
                ("emails".to_owned(), json!([])),
                ("org_id".to_owned(), Value::Null)
            ]
        );
        let updated: Vec<String> = fields(Choice::Update).into_iter().map(|(field, _)| field).collect();
        assert_eq!(updated, ["custom_fields.city", "custom_fields.score", "emails", "name", "org_id"]);
    }
}
