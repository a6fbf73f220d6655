//! `crm-migrate rollback`: undoes what apply did (or only its sample runs), in reverse dependency
//! order: notes, activities and events, deals, persons, organizations; then, for a full rollback,
//! the labels, options, custom fields, stages, pipelines and activity types apply created. Only
//! what the journal says apply created is touched. Each delete is journalled as it is answered
//! (a record already gone counts as deleted), so a rollback stopped anywhere continues when run
//! again. It ends by listing the target and naming any residue.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use tokio::task::JoinSet;

use crate::apply::ApplyError;
use crate::apply::journal::{Fate, Journal};
use crate::pipedrive::{ClientError, EntityKind, PipedriveClient};
use crate::project::Project;
use crate::record::ObjectKind;
use crate::state::State;

/// Records in reverse dependency order.
const ORDER: [ObjectKind; 6] = [ObjectKind::Conversation, ObjectKind::Event, ObjectKind::Activity, ObjectKind::Deal, ObjectKind::Contact, ObjectKind::Company];

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RollbackOutcome {
    pub sample_only: bool,
    /// Records deleted per object.
    pub deleted: BTreeMap<ObjectKind, u64>,
    /// Workspace objects removed: `kind entity name`.
    pub workspace_removed: Vec<String>,
    /// What is still there that apply created, and why (empty: the rollback is complete).
    pub residue: Vec<String>,
    pub tokens: u64,
}

/// What a rollback would delete, for the confirmation: records per object, workspace objects.
pub fn preview(project: &Project, sample_only: bool) -> Result<(BTreeMap<ObjectKind, u64>, usize), ApplyError> {
    let journal = Journal::read(State::open(&project.dir)?);
    let runs = sample_runs(&journal)?;
    let mut records = BTreeMap::new();
    for object in ORDER {
        let count = journal.entries(object)?.values().filter(|entry| in_rollback(entry, sample_only, &runs)).count() as u64;
        records.insert(object, count);
    }
    let workspace = if sample_only { 0 } else { journal.created_workspace_objects()?.len() };
    Ok((records, workspace))
}

fn sample_runs(journal: &Journal) -> Result<HashSet<i64>, ApplyError> {
    Ok(journal.runs()?.into_iter().filter(|run| run.kind == "sample").map(|run| run.id).collect())
}

/// Created (or possibly created: an open intent with a known id) by apply, and in this rollback.
fn in_rollback(entry: &crate::apply::journal::Entry, sample_only: bool, sample_runs: &HashSet<i64>) -> bool {
    entry.fate == Fate::Created && entry.pipedrive_id.is_some() && (!sample_only || sample_runs.contains(&entry.run_id))
}

/// Deletes a record apply created; one already gone counts as deleted.
pub(crate) async fn delete(client: &PipedriveClient, object: ObjectKind, id: u64) -> Result<(), ClientError> {
    let result = match object {
        ObjectKind::Conversation => client.delete_note(id).await,
        ObjectKind::Activity | ObjectKind::Event => client.delete_activity(id).await,
        ObjectKind::Deal => client.delete_deal(id).await,
        ObjectKind::Contact => client.delete_person(id).await,
        ObjectKind::Company => client.delete_organization(id).await,
    };
    match result {
        Err(ClientError::NotFound { .. }) => Ok(()),
        other => other,
    }
}

pub async fn rollback(project: &Project, client: Arc<PipedriveClient>, sample_only: bool, concurrency: usize) -> Result<RollbackOutcome, ApplyError> {
    let tokens_before = client.bill().tokens();
    let journal = Journal::read(State::open(&project.dir)?);
    let runs = sample_runs(&journal)?;
    let mut outcome = RollbackOutcome { sample_only, ..RollbackOutcome::default() };
    let mut deleted_ids: Vec<(ObjectKind, u64)> = Vec::new();
    for object in ORDER {
        let mut queue: Vec<(String, u64)> = journal
            .entries(object)?
            .into_iter()
            .filter(|(_, entry)| in_rollback(entry, sample_only, &runs))
            .filter_map(|(id, entry)| Some((id, entry.pipedrive_id?)))
            .collect();
        queue.sort();
        let mut in_flight: JoinSet<(String, u64, Result<(), ClientError>)> = JoinSet::new();
        let mut queue = queue.into_iter();
        let mut stop = None;
        loop {
            while stop.is_none() && in_flight.len() < concurrency.max(1) {
                let Some((source_id, id)) = queue.next() else { break };
                let client = client.clone();
                in_flight.spawn(async move { (source_id, id, delete(&client, object, id).await) });
            }
            let Some(joined) = in_flight.join_next().await else { break };
            let (source_id, id, result) = joined.map_err(|error| ApplyError::Workspace(format!("a delete task failed: {error}")))?;
            match result {
                Ok(()) => {
                    journal.forget(object, &source_id)?;
                    *outcome.deleted.entry(object).or_default() += 1;
                    deleted_ids.push((object, id));
                }
                Err(error) if stop.is_none() => stop = Some(error),
                Err(_) => {}
            }
        }
        if let Some(error) = stop {
            return Err(error.into());
        }
    }
    // Journal lines of records that were never created (quarantined, merged, excluded, or a
    // create whose outcome stayed unknown and was not found) go too: a later apply starts clean.
    if !sample_only {
        for object in ORDER {
            for (source_id, entry) in journal.entries(object)? {
                if entry.fate != Fate::Created {
                    journal.forget(object, &source_id)?;
                }
            }
        }
    }
    outcome.residue = record_residue(&client, sample_only, &deleted_ids, &journal, &project.markers()).await?;
    if !sample_only {
        remove_workspace(&client, &journal, &mut outcome).await?;
    }
    outcome.tokens = client.bill().tokens() - tokens_before;
    Ok(outcome)
}

/// What apply created that a listing still shows. After a full rollback: any record carrying
/// this project's marker (another account's records in the same Pipedrive account are not
/// ours); after a sample rollback: any record the rollback deleted.
async fn record_residue(client: &PipedriveClient, sample_only: bool, deleted: &[(ObjectKind, u64)], journal: &Journal, marking: &crate::marker::Markers) -> Result<Vec<String>, ApplyError> {
    let mut residue = Vec::new();
    let markers: BTreeMap<String, String> = journal
        .created_workspace_objects()?
        .into_iter()
        .chain(existing_markers(journal)?)
        .filter(|(kind, _, name, _)| kind == "field" && name == crate::mapping::check::MARKER_FIELD)
        .map(|(_, entity, _, code)| (entity, code))
        .collect();
    let deleted: HashSet<(ObjectKind, u64)> = deleted.iter().copied().collect();
    let mut check = |object: ObjectKind, id: u64, marked: bool| {
        if (!sample_only && marked) || deleted.contains(&(object, id)) {
            residue.push(format!("{object} (Pipedrive id {id}) is still there"));
        }
    };
    let marked = |entity: &str, fields: &crate::pipedrive::CustomFieldsRead| {
        markers.get(entity).is_some_and(|code| fields.get(code).and_then(|value| value.as_str()).and_then(|value| marking.parse_field(value)).is_some())
    };
    for organization in client.organizations().await?.into_iter().filter(|o| !o.is_deleted) {
        check(ObjectKind::Company, organization.id, marked("organization", &organization.custom_fields));
    }
    for person in client.persons().await?.into_iter().filter(|p| !p.is_deleted) {
        check(ObjectKind::Contact, person.id, marked("person", &person.custom_fields));
    }
    for deal in client.deals().await?.into_iter().filter(|d| !d.is_deleted) {
        check(ObjectKind::Deal, deal.id, marked("deal", &deal.custom_fields));
    }
    for activity in client.activities().await?.into_iter().filter(|a| !a.is_deleted) {
        let note = activity.note.unwrap_or_default();
        let object = if marking.parse_text(ObjectKind::Event, &note).is_some() { ObjectKind::Event } else { ObjectKind::Activity };
        check(object, activity.id, marking.parse_text(object, &note).is_some());
    }
    for note in client.notes(None).await?.into_iter().filter(|n| n.active_flag) {
        check(ObjectKind::Conversation, note.id, marking.parse_text(ObjectKind::Conversation, &note.content).is_some());
    }
    Ok(residue)
}

/// The marker fields apply reused rather than created (a project rolled back before, re-applied).
fn existing_markers(journal: &Journal) -> Result<Vec<(String, String, String, String)>, ApplyError> {
    let mut markers = Vec::new();
    for entity in ["organization", "person", "deal"] {
        if let Some((code, _)) = journal.workspace_object("field", entity, crate::mapping::check::MARKER_FIELD)? {
            markers.push(("field".to_owned(), entity.to_owned(), crate::mapping::check::MARKER_FIELD.to_owned(), code));
        }
    }
    Ok(markers)
}

/// Removes the workspace objects apply created: labels and options, fields, stages, pipelines,
/// activity types (in that order: nothing is removed while something of apply's still uses it).
async fn remove_workspace(client: &PipedriveClient, journal: &Journal, outcome: &mut RollbackOutcome) -> Result<(), ApplyError> {
    let created = journal.created_workspace_objects()?;
    let rank = |kind: &str| ["label", "option", "field", "stage", "pipeline", "activity_type"].iter().position(|k| *k == kind).unwrap_or(9);
    let mut ordered = created.clone();
    ordered.sort_by_key(|(kind, ..)| rank(kind));
    for (kind, entity, name, id) in ordered {
        let gone = |result: Result<(), ClientError>| match result {
            Ok(()) | Err(ClientError::NotFound { .. }) => Ok(()),
            Err(error) => Err(error),
        };
        if !id.is_empty() {
            match kind.as_str() {
                "label" => {
                    if let (Some(entity), Ok(option)) = (EntityKind::from_name(&entity), id.parse::<u64>()) {
                        gone(client.delete_field_options(entity, "label", &[option]).await)?;
                    }
                }
                "option" => {
                    // entity is `person:Field name`; the field's key is journalled with it.
                    let (entity_name, field) = entity.split_once(':').unwrap_or((&entity, ""));
                    let code = journal.workspace_object("field", entity_name, field)?.map(|(code, _)| code);
                    if let (Some(entity), Some(code), Ok(option)) = (EntityKind::from_name(entity_name), code, id.parse::<u64>()) {
                        gone(client.delete_field_options(entity, &code, &[option]).await)?;
                    }
                }
                "field" => {
                    if let Some(entity) = EntityKind::from_name(&entity) {
                        gone(client.delete_field(entity, &id).await)?;
                    }
                }
                "stage" => gone(client.delete_stage(id.parse().unwrap_or(0)).await)?,
                "pipeline" => gone(client.delete_pipeline(id.parse().unwrap_or(0)).await)?,
                "activity_type" => gone(client.delete_activity_type(id.parse().unwrap_or(0)).await)?,
                _ => {}
            }
        }
        journal.forget_workspace_object(&kind, &entity, &name)?;
        outcome.workspace_removed.push(format!("{kind} {entity} {name}").replace("  ", " "));
    }
    // The reused ones are forgotten too: a later apply finds them again by name.
    for (kind, entity, name) in journal.workspace_objects()? {
        journal.forget_workspace_object(&kind, &entity, &name)?;
    }
    let workspace = crate::plan::workspace::Workspace::read(client, "", String::new()).await?;
    for (kind, entity, name, _) in &created {
        let still = match (kind.as_str(), EntityKind::from_name(entity)) {
            ("field", Some(entity)) => workspace.custom_field(entity, name).is_some(),
            ("label", Some(entity)) => workspace.labels(entity).iter().any(|label| crate::plan::workspace::same_name(label, name)),
            ("pipeline", _) => workspace.pipeline(name).is_some(),
            ("activity_type", _) => workspace.activity_type(name).is_some_and(|kind| kind.is_custom_flag),
            _ => false,
        };
        if still {
            outcome.residue.push(format!("{kind} {entity} '{name}' is still there"));
        }
    }
    Ok(())
}
