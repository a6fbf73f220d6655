//! Sending a phase's creates, journalled: the intent is committed before a request leaves and the
//! Pipedrive id after its answer, several requests in flight (the client paces them to the burst
//! limit). An intent left open (a crash, an answer lost) is resolved by looking for the record's
//! marker (the "User.com ID" field; for activities and notes, the marker text in their note)
//! before anything is sent again: no duplicates, no gaps.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::task::JoinSet;

use crate::pipedrive::{
    ClientError, EntityKind, Marker, NewActivity, NewDeal, NewNote, NewOrganization, NewPerson, PipedriveClient,
};
use crate::record::ObjectKind;

use super::workspace::Targets;
use super::{ApplyError, ProgressEvent, Reporter};
use crate::journal::{Fate, Journal};

/// What one create sends.
#[derive(Debug, Clone)]
pub enum Payload {
    Organization(NewOrganization),
    Person(NewPerson),
    Deal(NewDeal),
    Activity(NewActivity),
    Note(NewNote),
}

/// One record to create.
#[derive(Debug, Clone)]
pub struct Job {
    pub source_id: String,
    pub payload: Payload,
}

/// A payload as the JSON it is sent as (what the journal keeps, to tell what changed later).
pub fn payload_json(payload: &Payload) -> serde_json::Value {
    match payload {
        Payload::Organization(organization) => serde_json::to_value(organization),
        Payload::Person(person) => serde_json::to_value(person),
        Payload::Deal(deal) => serde_json::to_value(deal),
        Payload::Activity(activity) => serde_json::to_value(activity),
        Payload::Note(note) => serde_json::to_value(note),
    }
    .expect("plain data serializes")
}

/// Sends the changed fields of a record created before (a PATCH of only those; a note's PUT).
pub async fn update(
    client: &PipedriveClient,
    object: ObjectKind,
    id: u64,
    changes: &[(String, serde_json::Value, serde_json::Value)],
) -> Result<(), ClientError> {
    let body = crate::pipedrive::changes::patch_body(changes);
    match entity_of(object) {
        Some(entity) => client.update_fields(entity, id, body).await,
        None => client.update_note_fields(id, body).await,
    }
}

/// The Pipedrive entity an object's records are created as; `None` for a conversation, which
/// becomes a note.
pub fn entity_of(object: ObjectKind) -> Option<EntityKind> {
    match object {
        ObjectKind::Company => Some(EntityKind::Organization),
        ObjectKind::Contact => Some(EntityKind::Person),
        ObjectKind::Deal => Some(EntityKind::Deal),
        ObjectKind::Activity | ObjectKind::Event => Some(EntityKind::Activity),
        ObjectKind::Conversation => None,
    }
}

/// The entity whose marker field finds an object's records again (activities and notes carry
/// their marker in their note instead).
pub fn marker_entity(object: ObjectKind) -> Option<EntityKind> {
    entity_of(object).filter(|entity| *entity != EntityKind::Activity)
}

async fn send(client: &PipedriveClient, payload: &Payload, marker: Option<&Marker>) -> Result<u64, ClientError> {
    Ok(match payload {
        Payload::Organization(organization) => client.create_organization(organization, marker).await?.id,
        Payload::Person(person) => client.create_person(person, marker).await?.id,
        Payload::Deal(deal) => client.create_deal(deal, marker).await?.id,
        Payload::Activity(activity) => client.create_activity(activity).await?.id,
        Payload::Note(note) => client.create_note(note).await?.id,
    })
}

/// Sends every job, `concurrency` at a time. Returns the ids created (source id -> Pipedrive id)
/// and the source ids whose outcome stayed unknown (their intents open). A rejected record is
/// quarantined with Pipedrive's reason. An error that stops the run (budget used up with the
/// stop policy, a refused token, a firewall block) is returned once the requests in flight have
/// been answered and journalled.
#[allow(clippy::too_many_arguments)]
pub async fn send_all(
    client: &Arc<PipedriveClient>,
    journal: &Journal,
    object: ObjectKind,
    targets: &Targets,
    jobs: Vec<Job>,
    concurrency: usize,
    reporter: &Reporter,
    progress: &mut super::Progress,
) -> Result<(HashMap<String, u64>, Vec<String>), ApplyError> {
    let mut created = HashMap::new();
    let mut unknown = Vec::new();
    let mut stop: Option<ApplyError> = None;
    let mut in_flight: JoinSet<(String, String, Result<u64, ClientError>)> = JoinSet::new();
    let mut queue = jobs.into_iter();
    let marker_code = marker_entity(object).and_then(|entity| targets.markers.get(&entity)).cloned();
    loop {
        while stop.is_none() && in_flight.len() < concurrency.max(1) {
            let Some(job) = queue.next() else { break };
            journal.set(object, &job.source_id, Fate::Intent, None, None)?;
            let client = client.clone();
            let marker = marker_code.as_ref().map(|field_code| Marker {
                field_code: field_code.clone(),
                value: targets.marking.field_value(&job.source_id),
            });
            let sent = payload_json(&job.payload).to_string();
            in_flight.spawn(async move {
                let result = send(&client, &job.payload, marker.as_ref()).await;
                (job.source_id, sent, result)
            });
        }
        let Some(joined) = in_flight.join_next().await else { break };
        let (source_id, sent, result) = joined.map_err(|source| ApplyError::Task { what: "create", source })?;
        progress.done += 1;
        progress.total = progress.total.max(progress.done);
        match result {
            Ok(id) => {
                journal.set_answered(object, &source_id, id, &sent)?;
                created.insert(source_id, id);
            }
            Err(ClientError::Rejected { status, message, .. }) => {
                journal.set(
                    object,
                    &source_id,
                    Fate::Quarantined,
                    None,
                    Some(&format!("Pipedrive refused it ({status}): {message}")),
                )?;
            }
            Err(ClientError::WriteOutcomeUnknown { .. } | ClientError::GaveUp { .. }) => unknown.push(source_id),
            Err(error) => {
                // Left as an open intent: the next run looks for it before sending it again.
                unknown.push(source_id);
                if stop.is_none() {
                    stop = Some(error.into());
                }
            }
        }
        let (done, total) = (progress.done, progress.total);
        reporter.report(ProgressEvent::Progress { object, done, total, tokens: client.bill().tokens() });
    }
    match stop {
        Some(error) => Err(error),
        None => Ok((created, unknown)),
    }
}

/// Looks for records whose create may have been applied: by their marker field's exact value
/// (organizations, persons, deals: one search each, this account's form first, then the old
/// bare id) or by the marker ending their text (activities, events, conversations: one listing
/// of all activities or notes). Marker-like text anywhere else, and other accounts' markers, do
/// not count (see `crate::marker`). Returns those found.
pub async fn resolve(
    client: &PipedriveClient,
    object: ObjectKind,
    targets: &Targets,
    source_ids: &[String],
) -> Result<HashMap<String, u64>, ClientError> {
    let mut found = HashMap::new();
    if source_ids.is_empty() {
        return Ok(found);
    }
    if let Some(entity) = marker_entity(object) {
        let Some(field_code) = targets.markers.get(&entity) else { return Ok(found) };
        for source_id in source_ids {
            for value in targets.marking.field_values(source_id) {
                if let Some(id) = client.find_by_field(entity, field_code, &value).await?.into_iter().min() {
                    found.insert(source_id.clone(), id);
                    break;
                }
            }
        }
        return Ok(found);
    }
    let texts: Vec<(u64, String)> = match object {
        ObjectKind::Conversation => client.notes(None).await?.into_iter().map(|note| (note.id, note.content)).collect(),
        _ => client
            .activities()
            .await?
            .into_iter()
            .map(|activity| (activity.id, activity.note.unwrap_or_default()))
            .collect(),
    };
    let wanted: std::collections::HashSet<&String> = source_ids.iter().collect();
    for (id, text) in texts {
        let Some(source_id) = targets.marking.parse_text(object, &text).filter(|source_id| wanted.contains(source_id))
        else {
            continue;
        };
        let lowest = found.entry(source_id).or_insert(id);
        *lowest = (*lowest).min(id);
    }
    Ok(found)
}
