//! `crm-migrate rollback`: undoes what apply did (or only its sample runs), in reverse dependency
//! order: notes, activities and events, the deals' products and participants (and the products
//! apply created), deals, persons, the parent relationships between
//! organizations, organizations; then, for a full rollback,
//! the labels, options, custom fields, stages, pipelines and activity types apply created. Only
//! what the journal says apply created is touched. Each delete is journalled as it is answered
//! (a record already gone counts as deleted), so a rollback stopped anywhere continues when run
//! again. It ends by listing the target and naming any residue.
//!
//! A record someone changed in Pipedrive since apply wrote it is kept (and listed, with the
//! workspace objects it may use) unless the user includes changed records. `--run N` undoes one
//! delta instead: what it created is deleted, what it updated gets its prior values back (the
//! records the account had too, field by field), and what it deleted (records, deal products,
//! participants) is created again from what was last sent for it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use tokio::task::JoinSet;

use crate::apply::ApplyError;
use crate::apply::deletions::{DeleteGuard, delete_record};
use crate::journal::{Fate, Journal};
use crate::pipedrive::links::Link;
use crate::pipedrive::{ClientError, EntityKind, PipedriveClient};
use crate::project::Project;
use crate::readback::{Conflict, Listings, ReadbackError};
use crate::record::ObjectKind;
use crate::state::{State, StateError};

/// Why a rollback (or the undo of one run) stopped or was refused.
#[derive(Debug, thiserror::Error)]
pub enum RollbackError {
    /// `--run N` cannot undo that run; the reason says why and what to do.
    #[error("{0}")]
    UndoRefused(String),
    /// What a delta deleted, as journalled, is not JSON: it cannot be created again.
    #[error("the journal's payload of {object} {source_id}: {source}")]
    JournalPayload { object: ObjectKind, source_id: String, source: serde_json::Error },
    /// A task sending deletes panicked or was cancelled.
    #[error("a {what} task failed: {source}")]
    Task { what: &'static str, source: tokio::task::JoinError },
    #[error("Pipedrive")]
    Client(#[from] ClientError),
    #[error(transparent)]
    State(#[from] StateError),
    /// The temporary file the records read back are listed into (see [`Listings`]).
    #[error(transparent)]
    Readback(ReadbackError),
    /// A step rollback shares with apply (deletes within the guard, prior values given back,
    /// deal products removed) failed.
    #[error(transparent)]
    Apply(Box<ApplyError>),
}

// Boxed: apply's error is large, and most of this verb's errors are small.
impl From<ApplyError> for RollbackError {
    fn from(error: ApplyError) -> RollbackError {
        RollbackError::Apply(Box::new(error))
    }
}

// Pipedrive's errors stay Pipedrive's, whichever step met them.
impl From<ReadbackError> for RollbackError {
    fn from(error: ReadbackError) -> RollbackError {
        match error {
            ReadbackError::Client(error) => RollbackError::Client(error),
            error => RollbackError::Readback(error),
        }
    }
}

/// Records in reverse dependency order: what links to a record goes before it.
const ORDER: [ObjectKind; 6] = crate::apply::deletions::REVERSE_ORDER;

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RollbackOutcome {
    pub sample_only: bool,
    /// Records deleted per object.
    pub deleted: BTreeMap<ObjectKind, u64>,
    /// Parent relationships between organizations deleted (company hierarchies).
    pub relationships_deleted: u64,
    /// Deal products, deal participants and products removed.
    pub deal_products_removed: u64,
    /// Files apply uploaded (attachments), deleted.
    pub attachments_deleted: u64,
    /// Workspace objects removed: `kind entity name`.
    pub workspace_removed: Vec<String>,
    /// What is still there that apply created, and why (empty: the rollback is complete).
    pub residue: Vec<String>,
    /// Records changed in Pipedrive since apply wrote them: kept (or, when included, deleted).
    pub conflicts: Vec<Conflict>,
    /// Records the account had before, given their prior values back (never deleted).
    pub existing: crate::apply::existing::Restored,
    pub tokens: u64,
}

/// What a rollback would delete, for the confirmation: records per object, workspace objects.
pub fn preview(project: &Project, sample_only: bool) -> Result<(BTreeMap<ObjectKind, u64>, usize), RollbackError> {
    let journal = Journal::read(State::open(&project.dir)?);
    let runs = sample_runs(&journal)?;
    let mut records = BTreeMap::new();
    for object in ORDER {
        let count =
            journal.entries(object)?.values().filter(|entry| in_rollback(entry, sample_only, &runs)).count() as u64;
        records.insert(object, count);
    }
    let workspace = if sample_only { 0 } else { journal.created_workspace_objects()?.len() };
    Ok((records, workspace))
}

fn sample_runs(journal: &Journal) -> Result<HashSet<i64>, RollbackError> {
    Ok(journal.runs()?.into_iter().filter(|run| run.kind == "sample").map(|run| run.id).collect())
}

/// Created (or possibly created: an open intent with a known id) by apply, and in this rollback.
fn in_rollback(entry: &crate::journal::Entry, sample_only: bool, sample_runs: &HashSet<i64>) -> bool {
    entry.fate == Fate::Created && entry.pipedrive_id.is_some() && (!sample_only || sample_runs.contains(&entry.run_id))
}

/// Field key -> name, of the custom fields the journal knows (for the conflicts' field names).
fn field_names(journal: &Journal) -> Result<HashMap<String, String>, RollbackError> {
    let mut names = HashMap::new();
    for (kind, entity, name) in journal.workspace_objects()? {
        if kind == "field"
            && let Some((code, _)) = journal.workspace_object("field", &entity, &name)?
        {
            names.insert(code, name);
        }
    }
    Ok(names)
}

/// Of the records to delete, those someone changed in Pipedrive since apply wrote them: listed in
/// the outcome and, unless `include_changed`, taken out of `queue`.
#[allow(clippy::too_many_arguments)] // one call site; the arguments are the rollback's own state
async fn hold_back_changed(
    client: &PipedriveClient,
    listings: &mut Listings,
    object: ObjectKind,
    queue: &mut Vec<(String, u64)>,
    sent: &HashMap<String, Option<String>>,
    names: &HashMap<String, String>,
    include_changed: bool,
    conflicts: &mut Vec<Conflict>,
) -> Result<(), ReadbackError> {
    if queue.is_empty() {
        return Ok(());
    }
    let mut kept = HashSet::new();
    // Each of the queue's records from the listing: a batch, not a few read one by one.
    listings.list(client, object).await?;
    for (source_id, id) in queue.iter() {
        let Some(actual) = listings.record(client, object, *id).await? else { continue };
        if let Some(mut conflict) = Conflict::between(
            object,
            source_id,
            *id,
            "delete",
            sent.get(source_id).cloned().flatten().as_deref(),
            &actual,
            names,
        ) {
            conflict.overridden = include_changed;
            conflicts.push(conflict);
            if !include_changed {
                kept.insert(source_id.clone());
            }
        }
    }
    queue.retain(|(source_id, _)| !kept.contains(source_id));
    Ok(())
}

pub async fn rollback(
    project: &Project,
    client: Arc<PipedriveClient>,
    sample_only: bool,
    include_changed: bool,
    concurrency: usize,
) -> Result<RollbackOutcome, RollbackError> {
    let tokens_before = client.bill().tokens();
    let journal = Journal::read(State::open(&project.dir)?);
    let runs = sample_runs(&journal)?;
    let names = field_names(&journal)?;
    let mut listings = Listings::default();
    let mut outcome = RollbackOutcome { sample_only, ..RollbackOutcome::default() };
    let mut deleted_ids: Vec<(ObjectKind, u64)> = Vec::new();
    // What a kept record links to (its organization, person, deal) is kept with it, and named.
    let mut linked_from_kept: HashSet<Link> = HashSet::new();
    let mut kept_as_linked: Vec<(ObjectKind, String, u64)> = Vec::new();
    // Records the account had get their prior values first (while what apply created and they
    // now link to is still there), and are never deleted.
    let guard = DeleteGuard::of(&journal)?;
    outcome.existing = crate::apply::existing::restore(&client, &journal, sample_only.then_some(&runs)).await?;
    outcome.residue.extend(outcome.existing.conflicts.iter().cloned());
    for object in ORDER {
        if object == ObjectKind::Conversation {
            // Files hang on persons: they go first.
            let which = |entry: &crate::journal::Entry| !sample_only || runs.contains(&entry.run_id);
            outcome.attachments_deleted +=
                crate::apply::attachments::remove(&client, &journal, which, &mut outcome.residue).await?;
        }
        if object == ObjectKind::Deal {
            let deals = journal.entries(ObjectKind::Deal)?;
            let which = |object: &str, id: &str, _: &crate::journal::Entry| {
                !sample_only
                    || (object != crate::apply::products::PRODUCT
                        && deals.get(id).is_some_and(|entry| in_rollback(entry, sample_only, &runs)))
            };
            outcome.deal_products_removed +=
                crate::apply::products::remove(&client, &journal, which, &mut outcome.residue).await?;
        }
        if object == ObjectKind::Company {
            let companies = journal.entries(ObjectKind::Company)?;
            let leaving = |id: &str| companies.get(id).is_some_and(|entry| in_rollback(entry, sample_only, &runs));
            let which = |child: &str, entry: &crate::journal::Entry| {
                !sample_only || leaving(child) || entry.detail.as_deref().is_some_and(leaving)
            };
            outcome.relationships_deleted +=
                delete_relationships(&client, &journal, which, &mut outcome.residue).await?;
        }
        let entries = journal.entries(object)?;
        let sent: HashMap<String, Option<String>> =
            entries.iter().map(|(id, entry)| (id.clone(), entry.sent.clone())).collect();
        let mut queue: Vec<(String, u64)> = entries
            .into_iter()
            .filter(|(_, entry)| in_rollback(entry, sample_only, &runs))
            .filter_map(|(id, entry)| Some((id, entry.pipedrive_id?)))
            .collect();
        queue.sort();
        hold_back_changed(
            &client,
            &mut listings,
            object,
            &mut queue,
            &sent,
            &names,
            include_changed,
            &mut outcome.conflicts,
        )
        .await?;
        for conflict in outcome.conflicts.iter().filter(|conflict| conflict.object == object && !conflict.overridden) {
            links_of(sent.get(&conflict.source_id).cloned().flatten().as_deref(), &mut linked_from_kept);
        }
        if let Some(link) = link_name(object) {
            let (held, rest): (Vec<_>, Vec<_>) =
                queue.into_iter().partition(|(_, id)| linked_from_kept.contains(&(link, *id)));
            for (source_id, id) in held {
                links_of(sent.get(&source_id).cloned().flatten().as_deref(), &mut linked_from_kept);
                kept_as_linked.push((object, source_id, id));
            }
            queue = rest;
        }
        let mut in_flight: JoinSet<(String, u64, Result<(), ClientError>)> = JoinSet::new();
        let mut queue = queue.into_iter();
        let mut stop = None;
        loop {
            while stop.is_none() && in_flight.len() < concurrency.max(1) {
                let Some((source_id, id)) = queue.next() else { break };
                let client = client.clone();
                let record = guard.check(object, id)?;
                in_flight.spawn(async move { (source_id, id, delete_record(&client, record).await) });
            }
            let Some(joined) = in_flight.join_next().await else { break };
            let (source_id, id, result) = joined.map_err(|source| RollbackError::Task { what: "delete", source })?;
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
    let kept: Vec<&Conflict> = outcome.conflicts.iter().filter(|conflict| !conflict.overridden).collect();
    let keeps_any = !kept.is_empty() || !kept_as_linked.is_empty();
    // Journal lines of records that were never created (quarantined, merged, excluded, or a
    // create whose outcome stayed unknown and was not found) go too: a later apply starts clean.
    if !sample_only && !keeps_any {
        journal.mark_all_undone()?;
        for object in ORDER {
            for (source_id, entry) in journal.entries(object)? {
                if entry.fate != Fate::Created {
                    journal.forget(object, &source_id)?;
                }
            }
        }
    }
    let kept_ids: HashSet<(ObjectKind, u64)> = kept
        .iter()
        .map(|conflict| (conflict.object, conflict.pipedrive_id))
        .chain(kept_as_linked.iter().map(|(object, _, id)| (*object, *id)))
        .collect();
    let mut residue: Vec<String> = kept
        .iter()
        .map(|conflict| {
            format!(
                "{} {} (Pipedrive id {}) kept: changed in Pipedrive since apply wrote it ({}); `rollback --include-changed` deletes it",
                conflict.object,
                conflict.source_id,
                conflict.pipedrive_id,
                conflict.fields.iter().map(|(field, ..)| field.as_str()).collect::<Vec<_>>().join(", ")
            )
        })
        .collect();
    residue.extend(kept_as_linked.iter().map(|(object, source_id, id)| {
        format!("{object} {source_id} (Pipedrive id {id}) kept: a record kept above links to it")
    }));
    let still_there = record_residue(&client, sample_only, &deleted_ids, &journal, &project.markers()).await?;
    residue.extend(still_there.into_iter().filter(|line| {
        !kept_ids.iter().any(|(object, id)| line.starts_with(&format!("{object} (Pipedrive id {id})")))
    }));
    outcome.residue.extend(residue);
    if !sample_only && !keeps_any {
        remove_workspace(&client, &journal, &mut outcome).await?;
    } else if !sample_only {
        outcome.residue.push("the workspace objects apply created (fields, options, labels, pipelines, stages, activity types) are kept with the records above".to_owned());
    }
    outcome.tokens = client.bill().tokens() - tokens_before;
    Ok(outcome)
}

/// Deletes the parent relationships apply made that `which` takes (daughter company id, its
/// journal line), before the organizations go: an open intent is looked for first, as its create
/// may have been applied. Each is forgotten as it is answered (one already gone counts as
/// deleted) and read again: one still there is residue. Returns how many were deleted.
async fn delete_relationships(
    client: &PipedriveClient,
    journal: &Journal,
    which: impl Fn(&str, &crate::journal::Entry) -> bool,
    residue: &mut Vec<String>,
) -> Result<u64, RollbackError> {
    let companies = journal.entries(ObjectKind::Company)?;
    let organization =
        |id: &str| companies.get(id).filter(|entry| entry.fate == Fate::Created).and_then(|entry| entry.pipedrive_id);
    let mut relationships: Vec<(String, crate::journal::Entry)> =
        journal.relationships()?.into_iter().filter(|(child, entry)| which(child, entry)).collect();
    relationships.sort_by(|a, b| a.0.cmp(&b.0));
    let mut deleted = 0;
    for (child, entry) in relationships {
        let parent = entry.detail.clone().unwrap_or_default();
        let id = match (entry.fate, entry.pipedrive_id) {
            (Fate::Created, Some(id)) => Some(id),
            _ => match (organization(&parent), organization(&child)) {
                (Some(parent_org), Some(child_org)) => {
                    client.parent_relationship(parent_org, child_org).await?.map(|found| found.id)
                }
                _ => None,
            },
        };
        if let Some(id) = id {
            match client.delete_organization_relationship(id).await {
                Ok(()) | Err(ClientError::NotFound { .. }) => {}
                Err(error) => return Err(error.into()),
            }
            match client.organization_relationship(id).await {
                Ok(still) if still.active_flag => residue.push(format!(
                    "organization relationship (Pipedrive id {id}, company {child}'s parent) is still there"
                )),
                Ok(_) | Err(ClientError::NotFound { .. }) => deleted += 1,
                Err(error) => return Err(error.into()),
            }
        }
        journal.forget_relationship(&child)?;
    }
    Ok(deleted)
}

/// What apply created that a listing still shows. After a full rollback: any record carrying
/// this project's marker (another account's records in the same Pipedrive account are not
/// ours); after a sample rollback: any record the rollback deleted.
async fn record_residue(
    client: &PipedriveClient,
    sample_only: bool,
    deleted: &[(ObjectKind, u64)],
    journal: &Journal,
    marking: &crate::marker::Markers,
) -> Result<Vec<String>, RollbackError> {
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
        markers.get(entity).is_some_and(|code| {
            fields.get(code).and_then(|value| value.as_str()).and_then(|value| marking.parse_field(value)).is_some()
        })
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
        let object = if marking.parse_text(ObjectKind::Event, &note).is_some() {
            ObjectKind::Event
        } else {
            ObjectKind::Activity
        };
        check(object, activity.id, marking.parse_text(object, &note).is_some());
    }
    for note in client.notes(None).await?.into_iter().filter(|n| n.active_flag) {
        check(ObjectKind::Conversation, note.id, marking.parse_text(ObjectKind::Conversation, &note.content).is_some());
    }
    Ok(residue)
}

/// The marker fields apply reused rather than created (a project rolled back before, re-applied).
fn existing_markers(journal: &Journal) -> Result<Vec<(String, String, String, String)>, RollbackError> {
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
async fn remove_workspace(
    client: &PipedriveClient,
    journal: &Journal,
    outcome: &mut RollbackOutcome,
) -> Result<(), RollbackError> {
    let created = journal.created_workspace_objects()?;
    let rank = |kind: &str| {
        ["label", "option", "field", "stage", "pipeline", "activity_type"].iter().position(|k| *k == kind).unwrap_or(9)
    };
    let mut ordered = created.clone();
    ordered.sort_by_key(|(kind, ..)| rank(kind));
    // apply's records are gone: a value still held in a field, option or label apply created
    // belongs to someone else (a record made by hand, another User.com account's migration).
    let in_use = values_in_use(client).await?;
    let mut kept = HashSet::new();
    for (kind, entity, name, id) in ordered {
        let gone = |result: Result<(), ClientError>| match result {
            Ok(()) | Err(ClientError::NotFound { .. }) => Ok(()),
            Err(error) => Err(error),
        };
        let used = match kind.as_str() {
            "field" => in_use.contains(&(entity.clone(), id.clone(), None)),
            "label" => in_use.contains(&(entity.clone(), "label".to_owned(), id.parse().ok())),
            "option" => {
                let (entity_name, field) = entity.split_once(':').unwrap_or((&entity, ""));
                let code =
                    journal.workspace_object("field", entity_name, field)?.map(|(code, _)| code).unwrap_or_default();
                in_use.contains(&(entity_name.to_owned(), code, id.parse().ok()))
            }
            "stage" | "pipeline" | "activity_type" => in_use.contains(&(String::new(), kind.clone(), id.parse().ok())),
            _ => false,
        };
        if used {
            journal.forget_workspace_object(&kind, &entity, &name)?;
            outcome
                .residue
                .push(format!("{kind} {entity} '{name}' kept: records apply did not create use it").replace("  ", " "));
            kept.insert((kind, entity, name));
            continue;
        }
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
                    if let (Some(entity), Some(code), Ok(option)) =
                        (EntityKind::from_name(entity_name), code, id.parse::<u64>())
                    {
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
    let workspace = crate::pipedrive::workspace::Workspace::read(client, "", String::new()).await?;
    for (kind, entity, name, _) in
        created.iter().filter(|(kind, entity, name, _)| !kept.contains(&(kind.clone(), entity.clone(), name.clone())))
    {
        let still = match (kind.as_str(), EntityKind::from_name(entity)) {
            ("field", Some(entity)) => workspace.custom_field(entity, name).is_some(),
            ("label", Some(entity)) => {
                workspace.labels(entity).iter().any(|label| crate::pipedrive::workspace::same_name(label, name))
            }
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

/// What `rollback --run N` did to undo one delta.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct UndoOutcome {
    pub run_id: i64,
    /// Records the delta created, deleted again, per object.
    pub deleted: BTreeMap<ObjectKind, u64>,
    /// Records the delta updated, given back their prior values, per object.
    pub restored: BTreeMap<ObjectKind, u64>,
    /// Records the delta deleted, created again, per object.
    pub recreated: BTreeMap<ObjectKind, u64>,
    /// Records linked to one created again, their link moved to it, per object.
    pub relinked: BTreeMap<ObjectKind, u64>,
    /// Records changed in Pipedrive since the delta wrote them: kept as they are unless included.
    pub conflicts: Vec<Conflict>,
    /// Records the delta updated that could not be given their prior values, and why (and a
    /// relationship it made that is still there).
    pub not_restored: Vec<String>,
    /// Parent relationships the delta made, deleted.
    pub relationships_deleted: u64,
    /// Deal products, deal participants and products the delta made, removed.
    pub deal_products_removed: u64,
    /// Deal products and participants the delta removed (changed or gone from the export), added back.
    pub deal_products_restored: u64,
    /// Files the delta uploaded (attachments), deleted.
    pub attachments_deleted: u64,
    pub tokens: u64,
}

/// Why a run cannot be undone.
fn undoable(journal: &Journal, run_id: i64) -> Result<(), RollbackError> {
    let runs = journal.runs()?;
    let refuse = |reason: String| Err(RollbackError::UndoRefused(reason));
    let Some(run) = runs.iter().find(|run| run.id == run_id) else {
        return refuse(format!("there is no run {run_id} (crm-migrate status lists the runs)"));
    };
    if run.kind != "delta" {
        return refuse(format!(
            "run {run_id} is a {} run; --run undoes one delta (a whole migration is undone by rollback without --run)",
            run.kind
        ));
    }
    match run.undone_by {
        Some(0) => {
            return refuse(format!("run {run_id} was undone by a full rollback: nothing of it is left in Pipedrive"));
        }
        Some(by) => return refuse(format!("run {run_id} was already undone (by run {by})")),
        None => {}
    }
    if let Some(later) =
        runs.iter().find(|later| later.id > run_id && later.kind != "undo" && later.undone_by.is_none())
    {
        return refuse(format!(
            "run {} ({}) came after run {run_id}: undo it first (rollback --run {})",
            later.id, later.kind, later.id
        ));
    }
    Ok(())
}

/// Undoes one delta: deletes what it created, gives what it updated its prior values back, and
/// creates again what it deleted (links to records created again follow them). Records changed in
/// Pipedrive since the delta wrote them are left as they are unless `include_changed`.
pub async fn undo_run(
    project: &Project,
    client: Arc<PipedriveClient>,
    run_id: i64,
    include_changed: bool,
) -> Result<UndoOutcome, RollbackError> {
    let tokens_before = client.bill().tokens();
    let state = State::open(&project.dir)?;
    let purged_at = state.meta(crate::purge::PURGED_AT_KEY)?;
    let reader = Journal::read(state);
    undoable(&reader, run_id)?;
    // Both are UTC ISO 8601 to the second: they order as text.
    if let Some(purged_at) = purged_at.filter(|purged_at| {
        reader
            .runs()
            .ok()
            .into_iter()
            .flatten()
            .any(|run| run.id == run_id && run.started_at.as_str() <= purged_at.as_str())
    }) {
        return Err(RollbackError::UndoRefused(format!(
            "the journal's values were purged at {purged_at} (crm-migrate purge), after run {run_id}: what it changed and deleted is no longer known, so it cannot be undone"
        )));
    }
    let names = field_names(&reader)?;
    if let Some(deletion) = reader.deletions(run_id)?.into_iter().find(|deletion| deletion.sent.is_none()) {
        return Err(RollbackError::UndoRefused(format!(
            "{} {} was deleted by run {run_id}, but what was sent for it is not journalled (purged?): it cannot be created again, so nothing is undone",
            deletion.object, deletion.source_id
        )));
    }
    let journal =
        Journal::start(State::open(&project.dir)?, crate::journal::RunKind::Undo, &format!("undo of run {run_id}"))?;
    let mut listings = Listings::default();
    let mut outcome = UndoOutcome { run_id, ..UndoOutcome::default() };

    // What it updated gets its prior values back, unless changed in Pipedrive since (first:
    // deleting what it created could unlink these records and fake a conflict).
    let mut updated: BTreeMap<(ObjectKind, String, u64), Vec<crate::journal::Change>> = BTreeMap::new();
    for change in journal.changes(run_id)? {
        updated.entry((change.object, change.source_id.clone(), change.pipedrive_id)).or_default().push(change);
    }
    for ((object, source_id, id), changes) in updated {
        let Some(entry) = journal
            .entries(object)?
            .remove(&source_id)
            .filter(|entry| matches!(entry.fate, Fate::Created | Fate::Linked))
        else {
            outcome.not_restored.push(format!("{object} {source_id} (Pipedrive id {id}): no longer in the journal (rolled back or deleted since); not restored"));
            continue;
        };
        let Some(actual) = listings.record(&client, object, id).await? else {
            outcome
                .not_restored
                .push(format!("{object} {source_id} (Pipedrive id {id}): gone from Pipedrive; not restored"));
            continue;
        };
        let parse = |text: &str| serde_json::from_str::<serde_json::Value>(text).unwrap_or(serde_json::Value::Null);
        let back: Vec<(String, serde_json::Value, serde_json::Value)> = if entry.fate == Fate::Linked {
            // A record the account had: field by field, as a full rollback gives it back (a field
            // changed in Pipedrive since is left and named); `include_changed` does not apply to
            // what is not the migration's.
            let (back, left) = crate::apply::existing::give_back(object, &changes, &actual);
            outcome.not_restored.extend(left);
            back
        } else {
            if let Some(mut conflict) =
                Conflict::between(object, &source_id, id, "restore", entry.sent.as_deref(), &actual, &names)
            {
                conflict.overridden = include_changed;
                outcome.conflicts.push(conflict);
                if !include_changed {
                    continue;
                }
            }
            changes
                .iter()
                .rev()
                .map(|change| (change.field.clone(), parse(&change.new), parse(&change.prior)))
                .collect()
        };
        if back.is_empty() {
            continue;
        }
        crate::apply::load::update(&client, object, id, &back).await?;
        let mut sent = entry.sent.as_deref().map(parse).unwrap_or_else(|| serde_json::json!({}));
        for (field, now, prior) in &back {
            match field.strip_prefix("custom_fields.") {
                Some(code) => sent["custom_fields"][code] = prior.clone(),
                None => sent[field.as_str()] = prior.clone(),
            }
            journal.record_change(object, &source_id, id, field, &now.to_string(), &prior.to_string())?;
        }
        journal.set_sent(object, &source_id, &sent.to_string())?;
        *outcome.restored.entry(object).or_default() += 1;
    }

    // What the delta created goes.
    let guard = DeleteGuard::of(&journal)?;
    for object in ORDER {
        if object == ObjectKind::Conversation {
            let which = |entry: &crate::journal::Entry| entry.run_id == run_id;
            outcome.attachments_deleted +=
                crate::apply::attachments::remove(&client, &journal, which, &mut outcome.not_restored).await?;
        }
        if object == ObjectKind::Deal {
            let which = |_: &str, _: &str, entry: &crate::journal::Entry| entry.run_id == run_id;
            outcome.deal_products_removed +=
                crate::apply::products::remove(&client, &journal, which, &mut outcome.not_restored).await?;
        }
        if object == ObjectKind::Company {
            outcome.relationships_deleted +=
                delete_relationships(&client, &journal, |_, entry| entry.run_id == run_id, &mut outcome.not_restored)
                    .await?;
        }
        let entries = journal.entries(object)?;
        let sent: HashMap<String, Option<String>> =
            entries.iter().map(|(id, entry)| (id.clone(), entry.sent.clone())).collect();
        let mut queue: Vec<(String, u64)> = entries
            .into_iter()
            .filter(|(_, entry)| entry.fate == Fate::Created && entry.run_id == run_id)
            .filter_map(|(id, entry)| Some((id, entry.pipedrive_id?)))
            .collect();
        queue.sort();
        hold_back_changed(
            &client,
            &mut listings,
            object,
            &mut queue,
            &sent,
            &names,
            include_changed,
            &mut outcome.conflicts,
        )
        .await?;
        for (source_id, id) in queue {
            delete_record(&client, guard.check(object, id)?).await?;
            journal.forget(object, &source_id)?;
            *outcome.deleted.entry(object).or_default() += 1;
        }
    }

    // What it deleted comes back, in dependency order; links follow the records created again.
    let markers: HashMap<EntityKind, String> = [EntityKind::Organization, EntityKind::Person, EntityKind::Deal]
        .into_iter()
        .filter_map(|entity| {
            Some((
                entity,
                journal.workspace_object("field", entity.name(), crate::mapping::check::MARKER_FIELD).ok()??.0,
            ))
        })
        .collect();
    // An undo stopped midway already created some again: their new ids count too.
    let mut moved: HashMap<Link, u64> = journal
        .restored(run_id)?
        .into_iter()
        .filter_map(|(object, old, new)| Some(((link_name(object)?, old), new)))
        .collect();
    let mut deletions = journal.deletions(run_id)?;
    deletions.sort_by_key(|deletion| ORDER.iter().rev().position(|object| *object == deletion.object));
    for deletion in deletions {
        let Some(sent) = deletion.sent.as_deref().map(serde_json::from_str::<serde_json::Value>) else {
            return Err(RollbackError::UndoRefused(format!(
                "{} {} was deleted by run {run_id}, but what was sent for it is not journalled (purged?): it cannot be created again",
                deletion.object, deletion.source_id
            )));
        };
        let mut body = sent.map_err(|source| RollbackError::JournalPayload {
            object: deletion.object,
            source_id: deletion.source_id.clone(),
            source,
        })?;
        crate::pipedrive::links::relink(&mut body, &moved);
        let id = match crate::apply::load::entity_of(deletion.object) {
            Some(entity) => {
                let marker = markers.get(&entity).and_then(|code| {
                    let value = body["custom_fields"][code].as_str()?.to_owned();
                    Some(crate::pipedrive::Marker { field_code: code.clone(), value })
                });
                client.create_from_json(entity, &body, marker.as_ref()).await?
            }
            None => client.create_note_from_json(body.clone()).await?,
        };
        if let Some(link) = link_name(deletion.object) {
            moved.insert((link, deletion.pipedrive_id), id);
        }
        journal.set(deletion.object, &deletion.source_id, Fate::Created, Some(id), None)?;
        journal.set_sent(deletion.object, &deletion.source_id, &body.to_string())?;
        journal.record_restored(run_id, deletion.object, &deletion.source_id, id)?;
        *outcome.recreated.entry(deletion.object).or_default() += 1;
    }
    // Records that still link to what was deleted follow it to the record created again.
    if !moved.is_empty() {
        for object in ORDER.into_iter().rev() {
            for (source_id, entry) in journal.entries(object)? {
                let (Some(id), Some(sent)) = (entry.pipedrive_id, entry.sent.as_deref()) else { continue };
                let Ok(before) = serde_json::from_str::<serde_json::Value>(sent) else { continue };
                let mut after = before.clone();
                crate::pipedrive::links::relink(&mut after, &moved);
                if entry.fate != Fate::Created || after == before {
                    continue;
                }
                let changes = crate::pipedrive::changes::changed_fields(&before, &after);
                crate::apply::load::update(&client, object, id, &changes).await?;
                for (field, prior, new) in &changes {
                    journal.record_change(object, &source_id, id, field, &prior.to_string(), &new.to_string())?;
                }
                journal.set_sent(object, &source_id, &after.to_string())?;
                *outcome.relinked.entry(object).or_default() += 1;
            }
        }
    }
    // Deals are where they are now: the lines and participants the delta removed go back on them.
    outcome.deal_products_restored =
        crate::apply::products::restore_removed(&client, &journal, run_id, &mut outcome.not_restored).await?;
    journal.mark_undone(run_id)?;
    outcome.tokens = client.bill().tokens() - tokens_before;
    journal.finish("done", outcome.tokens)?;
    Ok(outcome)
}

/// The link field other records name a record of this object by.
fn link_name(object: ObjectKind) -> Option<&'static str> {
    match object {
        ObjectKind::Company => Some("org_id"),
        ObjectKind::Contact => Some("person_id"),
        ObjectKind::Deal => Some("deal_id"),
        _ => None,
    }
}

/// What live records use: custom fields (entity name, field key, None), their options and labels
/// (entity name, field key or `label`, Some(option id)), and the deals' stages and pipelines and
/// the activities' types ("", `stage`, `pipeline` or `activity_type`, Some(id)).
async fn values_in_use(client: &PipedriveClient) -> Result<HashSet<(String, String, Option<u64>)>, ReadbackError> {
    let mut listings = Listings::default();
    let mut used = HashSet::new();
    listings
        .each(client, ObjectKind::Deal, |deal| {
            for (kind, key) in [("stage", "stage_id"), ("pipeline", "pipeline_id")] {
                used.extend(deal[key].as_u64().map(|id| (String::new(), kind.to_owned(), Some(id))));
            }
        })
        .await?;
    let mut types_used: HashSet<String> = HashSet::new();
    listings
        .each(client, ObjectKind::Activity, |activity| {
            types_used.extend(activity["type"].as_str().map(str::to_owned));
        })
        .await?;
    for activity_type in client.activity_types().await? {
        if types_used.contains(&activity_type.key_string) {
            used.insert((String::new(), "activity_type".to_owned(), Some(activity_type.id)));
        }
    }
    for (object, entity) in [
        (ObjectKind::Company, "organization"),
        (ObjectKind::Contact, "person"),
        (ObjectKind::Deal, "deal"),
        (ObjectKind::Activity, "activity"),
    ] {
        listings
            .each(client, object, |record| {
                for (code, value) in
                    record["custom_fields"].as_object().into_iter().flatten().filter(|(_, value)| !value.is_null())
                {
                    used.insert((entity.to_owned(), code.clone(), None));
                    let ids = value.as_array().map_or_else(|| vec![value.clone()], Clone::clone);
                    used.extend(
                        ids.iter()
                            .filter_map(serde_json::Value::as_u64)
                            .map(|option| (entity.to_owned(), code.clone(), Some(option))),
                    );
                }
                for label in record["label_ids"].as_array().into_iter().flatten().filter_map(serde_json::Value::as_u64)
                {
                    used.insert((entity.to_owned(), "label".to_owned(), Some(label)));
                }
            })
            .await?;
    }
    Ok(used)
}

/// Adds the records a payload links to (organization, person, deal, participants) to `links`.
fn links_of(sent: Option<&str>, links: &mut HashSet<Link>) {
    if let Some(body) = sent.and_then(|sent| serde_json::from_str::<serde_json::Value>(sent).ok()) {
        links.extend(crate::pipedrive::links::links(&body));
    }
}
