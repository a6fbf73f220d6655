//! Records whose source is gone from the export (deleted in User.com): every full run lists them;
//! a delta with `--delete-missing` deletes them in Pipedrive, within bounds. It refuses when an
//! object's file is missing from the newer export or has no rows (a partial export, a wrong
//! directory), and when the deletions exceed the threshold (the larger of 2% of what was created
//! and 50 records) unless the user names the number they expect. A record someone changed in
//! Pipedrive since the migration wrote it is a conflict: kept unless told otherwise. Each deletion
//! is journalled with what was last sent for the record, so that `rollback --run N` can create it
//! again.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;

use crate::pipedrive::{ClientError, PipedriveClient};
use crate::readback::{Conflict, Listings};
use crate::record::ObjectKind;
use crate::state::StateError;

use super::{ApplyError, ApplyOutcome};
use crate::journal::{Fate, Journal};

/// Records in reverse dependency order: what links to a record goes before it.
pub const REVERSE_ORDER: [ObjectKind; 6] = [
    ObjectKind::Conversation,
    ObjectKind::Event,
    ObjectKind::Activity,
    ObjectKind::Deal,
    ObjectKind::Contact,
    ObjectKind::Company,
];

/// Deletions allowed without naming their number: the larger of 2% of the records created and 50.
pub fn threshold(created: u64) -> u64 {
    created.div_ceil(50).max(50)
}

/// A record apply created whose source is gone from the export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gone {
    pub object: ObjectKind,
    pub source_id: String,
    pub pipedrive_id: u64,
    /// What was last sent for it (JSON).
    pub sent: Option<String>,
}

/// One object's figures for the delta's preview.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectPreview {
    pub object: ObjectKind,
    /// The export file the object was read from; `None`: the export has none.
    pub file: Option<String>,
    /// Records in the export (conversations: conversations).
    pub in_export: u64,
    /// In the export and not yet in Pipedrive: to be created.
    pub new: u64,
    /// Created in Pipedrive by the migration so far.
    pub created: u64,
    /// Created, and gone from the export.
    pub gone: u64,
    /// Deletions allowed without `--expect-deletions`.
    pub threshold: u64,
}

/// What a run will create and delete, and why it would refuse to delete.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Preview {
    pub objects: Vec<ObjectPreview>,
    /// Records gone from the export, over all objects.
    pub deletions: u64,
    /// Why deletions are refused (empty: they may go ahead).
    pub refusals: Vec<String>,
    #[serde(skip)]
    pub gone: Vec<Gone>,
}

/// Compares the journal with the records in scope (`scope_of`: the source ids the export holds
/// of an object, asked for one object at a time; `files`: the file each object was read from).
/// `expected`: the number of deletions the user named.
pub fn preview(
    journal: &Journal,
    scope_of: &mut dyn FnMut(ObjectKind) -> Result<super::ids::IdSet, ApplyError>,
    files: &BTreeMap<ObjectKind, Option<String>>,
    expected: Option<u64>,
) -> Result<Preview, ApplyError> {
    let mut preview = Preview::default();
    for object in REVERSE_ORDER {
        let ids = scope_of(object)?;
        // A part of a split conversation goes with its conversation.
        let in_export = |id: &str| {
            ids.contains(if object == ObjectKind::Conversation {
                crate::plan::limits::conversation_of_part(id)
            } else {
                id
            })
        };
        let (mut created, mut known) = (0u64, 0u64);
        let mut gone_ids: Vec<(String, u64)> = Vec::new();
        journal.each_fate(object, |id, fated| {
            if fated.fate != Fate::Intent && ids.contains(id) {
                known += 1;
            }
            if let (Fate::Created, Some(pipedrive_id)) = (fated.fate, fated.pipedrive_id) {
                created += 1;
                if !in_export(id) {
                    gone_ids.push((id.to_owned(), pipedrive_id));
                }
            }
        })?;
        // What was sent, for the records gone only (the rest's would be most of the journal).
        let mut sent = journal.sent(object, &gone_ids.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>())?;
        let mut gone: Vec<Gone> = gone_ids
            .into_iter()
            .map(|(source_id, pipedrive_id)| Gone { object, sent: sent.remove(&source_id), source_id, pipedrive_id })
            .collect();
        gone.sort_by(|a, b| a.source_id.cmp(&b.source_id));
        let new = ids.len() as u64 - known;
        let row = ObjectPreview {
            object,
            file: files.get(&object).cloned().flatten(),
            in_export: ids.len() as u64,
            new,
            created,
            gone: gone.len() as u64,
            threshold: threshold(created),
        };
        if row.gone > 0 {
            match &row.file {
                None => preview.refusals.push(format!(
                    "the newer export has no {object} file: none of the {} {object} records the migration created is deleted (a partial export cannot say what was deleted)",
                    row.created
                )),
                Some(file) if row.in_export == 0 && expected.is_none() => preview.refusals.push(format!(
                    "{file} has no {object} records: deleting all {} the migration created needs --expect-deletions naming the total",
                    row.gone
                )),
                Some(_) if row.gone > row.threshold && expected.is_none() => preview.refusals.push(format!(
                    "{} {object} records would be deleted, more than the {} allowed without --expect-deletions (2% of {} created, at least 50)",
                    row.gone, row.threshold, row.created
                )),
                _ => {}
            }
        }
        preview.deletions += row.gone;
        preview.gone.extend(gone);
        preview.objects.push(row);
    }
    preview.objects.reverse();
    if let Some(expected) = expected.filter(|expected| *expected != preview.deletions) {
        preview.refusals.push(format!(
            "--expect-deletions {expected}, but the newer export would delete {}: nothing is deleted",
            preview.deletions
        ));
    }
    Ok(preview)
}

/// Lists the records gone from the export and, with `delete`, deletes them (conflicts kept unless
/// `overwrite`). Returns how many were deleted.
pub async fn run(
    client: &PipedriveClient,
    journal: &Journal,
    gone: &[Gone],
    delete: bool,
    overwrite: bool,
    names: &HashMap<String, String>,
    outcome: &mut ApplyOutcome,
) -> Result<u64, ApplyError> {
    let mut deleted = 0;
    let mut listings = Listings::default();
    // Only what this run may delete is looked up (one without what was sent for it is kept).
    let to_delete: HashSet<(ObjectKind, u64)> =
        gone.iter().filter(|gone| delete && gone.sent.is_some()).map(|gone| (gone.object, gone.pipedrive_id)).collect();
    let guard = DeleteGuard::among(journal, &to_delete)?;
    for record in gone {
        let Gone { object, source_id, pipedrive_id, sent } = record;
        if !delete {
            outcome.gone_from_source.push(format!("{object} {source_id}: deleted in User.com, kept in Pipedrive (id {pipedrive_id}); --delete-missing deletes it"));
            continue;
        }
        if sent.is_none() {
            // Without what was last sent (purged, or written by an older version) an edit made
            // in Pipedrive cannot be told, and rollback --run could not create it again.
            outcome.gone_from_source.push(format!(
                "{object} {source_id}: deleted in User.com, kept in Pipedrive (id {pipedrive_id}): what was last sent for it is not journalled (purged?), so it could not be restored; delete it by hand if it should go"
            ));
            continue;
        }
        let listed = listings.record(client, *object, *pipedrive_id).await?;
        if let Some(actual) = &listed
            && let Some(mut conflict) =
                Conflict::between(*object, source_id, *pipedrive_id, "delete", sent.as_deref(), actual, names)
        {
            conflict.overridden = overwrite;
            outcome.conflicts.push(conflict);
            if !overwrite {
                outcome.gone_from_source.push(format!("{object} {source_id}: deleted in User.com, but changed in Pipedrive since the migration wrote it (id {pipedrive_id}): kept"));
                continue;
            }
        }
        delete_record(client, guard.check(*object, *pipedrive_id)?).await?;
        journal.record_deletion(*object, source_id, *pipedrive_id, sent.as_deref())?;
        deleted += 1;
        let how = if listed.is_some() { "deleted in Pipedrive" } else { "already gone from Pipedrive" };
        outcome.gone_from_source.push(format!(
            "{object} {source_id}: deleted in User.com, {how} (id {pipedrive_id}); rollback --run {} creates it again",
            journal.run_id
        ));
    }
    Ok(deleted)
}

/// A record the journal says this project created: the only kind [`delete_record`] deletes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Deletable {
    object: ObjectKind,
    id: u64,
}

/// What the journal says this project created and which records the account had before (linked
/// to), read once: every delete is checked against it.
#[derive(Default)]
pub(crate) struct DeleteGuard {
    created: HashSet<(ObjectKind, u64)>,
    existed: HashSet<(ObjectKind, u64)>,
}

impl DeleteGuard {
    pub(crate) fn of(journal: &Journal) -> Result<DeleteGuard, StateError> {
        DeleteGuard::read(journal, |_| true)
    }

    /// The guard over these records only (a delta's deletions): the journal is read once for
    /// them, not every record it lists held (a million records' ids at the end of every run).
    pub(crate) fn among(journal: &Journal, records: &HashSet<(ObjectKind, u64)>) -> Result<DeleteGuard, StateError> {
        if records.is_empty() {
            return Ok(DeleteGuard::default());
        }
        DeleteGuard::read(journal, |record| records.contains(record))
    }

    fn read(journal: &Journal, keep: impl Fn(&(ObjectKind, u64)) -> bool) -> Result<DeleteGuard, StateError> {
        let (mut created, mut existed) = (HashSet::new(), HashSet::new());
        for object in REVERSE_ORDER {
            journal.each_fate(object, |_, fated| {
                match (fated.fate, fated.pipedrive_id) {
                    (Fate::Created, Some(id)) if keep(&(object, id)) => created.insert((object, id)),
                    (Fate::Linked, Some(id)) if keep(&(object, id)) => existed.insert((object, id)),
                    _ => false,
                };
            })?;
        }
        Ok(DeleteGuard { created, existed })
    }

    /// The record, if this project created it; a record the account had, or one the journal does
    /// not say this project created, is refused.
    pub(crate) fn check(&self, object: ObjectKind, id: u64) -> Result<Deletable, ApplyError> {
        if self.existed.contains(&(object, id)) {
            return Err(ApplyError::DeleteRefused { object, id, why: "the account had it before the migration" });
        }
        if !self.created.contains(&(object, id)) {
            return Err(ApplyError::DeleteRefused {
                object,
                id,
                why: "the journal does not say this project created it",
            });
        }
        Ok(Deletable { object, id })
    }
}

/// Deletes a record the migration created; one already gone counts as deleted.
pub(crate) async fn delete_record(client: &PipedriveClient, record: Deletable) -> Result<(), ClientError> {
    let Deletable { object, id } = record;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delete_guard_refuses_records_the_account_had_and_records_not_created() {
        let dir = tempfile::tempdir().unwrap();
        let journal =
            Journal::start(crate::state::State::open(dir.path()).unwrap(), crate::journal::RunKind::Full, "").unwrap();
        journal.set(ObjectKind::Contact, "1", Fate::Created, Some(10), None).unwrap();
        journal.set(ObjectKind::Contact, "2", Fate::Linked, Some(20), Some("link")).unwrap();
        journal.set(ObjectKind::Company, "3", Fate::Linked, Some(10), Some("update")).unwrap();
        let guard = DeleteGuard::of(&journal).unwrap();
        assert!(guard.check(ObjectKind::Contact, 10).is_ok());
        for (object, id) in
            [(ObjectKind::Contact, 20), (ObjectKind::Company, 10), (ObjectKind::Contact, 99), (ObjectKind::Deal, 10)]
        {
            assert!(
                matches!(guard.check(object, id), Err(ApplyError::DeleteRefused { object: o, id: i, .. }) if o == object && i == id),
                "{object} {id}"
            );
        }
    }

    #[test]
    fn a_run_with_few_deletions_holds_the_guard_over_those_alone() {
        let dir = tempfile::tempdir().unwrap();
        let journal =
            Journal::start(crate::state::State::open(dir.path()).unwrap(), crate::journal::RunKind::Full, "").unwrap();
        for id in 1..=1000u64 {
            journal.set(ObjectKind::Activity, &id.to_string(), Fate::Created, Some(id + 5000), None).unwrap();
        }
        journal.set(ObjectKind::Contact, "2", Fate::Linked, Some(20), Some("link")).unwrap();
        let asked = HashSet::from([(ObjectKind::Activity, 5007), (ObjectKind::Contact, 20), (ObjectKind::Deal, 5008)]);
        let guard = DeleteGuard::among(&journal, &asked).unwrap();
        assert_eq!(guard.created.len() + guard.existed.len(), 2, "the journal's 1,001 records are not all held");
        assert!(guard.check(ObjectKind::Activity, 5007).is_ok());
        assert!(guard.check(ObjectKind::Contact, 20).is_err() && guard.check(ObjectKind::Deal, 5008).is_err());
        assert_eq!(
            DeleteGuard::among(&journal, &HashSet::new()).unwrap().created.len(),
            0,
            "nothing to delete: nothing read"
        );
    }

    #[test]
    fn the_threshold_is_two_percent_of_what_was_created_and_at_least_fifty() {
        assert_eq!(threshold(0), 50);
        assert_eq!(threshold(481), 50);
        assert_eq!(threshold(2_500), 50);
        assert_eq!(threshold(2_501), 51);
        assert_eq!(threshold(100_000), 2_000);
    }
}
