//! Apply's journal in `state.db`: the run, the fate of every source record (an intent is written
//! before each create and the Pipedrive id after it), and the workspace objects apply created or
//! reused. A crash between the two writes of a create leaves an open intent, which the next run
//! resolves through the record's marker before it writes again.

use std::collections::HashMap;

use rusqlite::{OptionalExtension, params};

use crate::record::ObjectKind;
use crate::state::{State, StateError, now_utc};

/// What became of a source record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fate {
    /// A create was (or was about to be) sent; its answer is not recorded.
    Intent,
    Created,
    /// Merged into another record (detail: the survivor's source id).
    Merged,
    /// Not migrated: it does not fit (detail: why); listed in `reports/quarantine.csv`.
    Quarantined,
    /// Left out by a rule (detail: which).
    Excluded,
    /// Not created: a record the account already had stands for it (detail: `link` or `update`,
    /// as existing.toml decided). Its prior values are journalled as changes; rollback restores
    /// them and never deletes it.
    Linked,
}

impl Fate {
    pub fn as_str(self) -> &'static str {
        match self {
            Fate::Intent => "intent",
            Fate::Created => "created",
            Fate::Merged => "merged",
            Fate::Quarantined => "quarantined",
            Fate::Excluded => "excluded",
            Fate::Linked => "linked",
        }
    }

    pub(crate) fn parse(text: &str) -> Fate {
        match text {
            "created" => Fate::Created,
            "merged" => Fate::Merged,
            "quarantined" => Fate::Quarantined,
            "excluded" => Fate::Excluded,
            "linked" => Fate::Linked,
            _ => Fate::Intent,
        }
    }
}

/// One record's line of the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub fate: Fate,
    pub pipedrive_id: Option<u64>,
    pub detail: Option<String>,
    pub run_id: i64,
    /// What was last sent for it (JSON), to tell what changed since.
    pub sent: Option<String>,
}

/// A record's fate and Pipedrive id, without the rest of its journal line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fated {
    pub fate: Fate,
    pub pipedrive_id: Option<u64>,
}

/// A value a created record was migrated without, as the quarantine report lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeftOutField {
    /// The record field (the mapping's attribute).
    pub field: String,
    pub file: String,
    pub line: u64,
    /// The column's header as written.
    pub column: String,
    /// The value as the export has it (`purged` after a purge).
    pub value: String,
    pub why: String,
    /// Its raw text went into the record's note instead (`keep-raw-in-note`).
    pub in_note: bool,
}

/// The journal's `object` of organization relationships (company hierarchies): one row per
/// daughter company, its parent company's id in `detail`, the relationship's id as its
/// Pipedrive id. Not an [`ObjectKind`]: nothing that walks the objects sees these rows.
pub const RELATIONSHIP: &str = "organization_relationship";

/// A sample run, the full migration, a delta (a newer export moved), or the undoing of one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    Sample,
    Full,
    Delta,
    Undo,
}

impl RunKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Sample => "sample",
            RunKind::Full => "full",
            RunKind::Delta => "delta",
            RunKind::Undo => "undo",
        }
    }
}

/// A record a delta deleted in Pipedrive, as the journal keeps it for `rollback --run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deletion {
    pub object: ObjectKind,
    pub source_id: String,
    pub pipedrive_id: u64,
    /// What was last sent for it (JSON).
    pub sent: Option<String>,
}

/// A row a run deleted, of any object (deal products and participants too): what [`Deletion`]
/// is for records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RowDeletion {
    pub object: String,
    pub source_id: String,
    pub pipedrive_id: u64,
    pub sent: Option<String>,
}

/// One field a run changed on a record: what it was and what it became (JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub object: ObjectKind,
    pub source_id: String,
    pub pipedrive_id: u64,
    pub field: String,
    pub prior: String,
    pub new: String,
}

/// One apply, as the journal remembers it. A run without `finished_at` was killed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Run {
    pub id: i64,
    pub kind: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub outcome: Option<String>,
    pub tokens: Option<u64>,
    /// The run that undid this one (`rollback --run`).
    pub undone_by: Option<i64>,
}

/// Fate counts of one object.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct FateCounts {
    pub intent: u64,
    pub created: u64,
    pub merged: u64,
    pub quarantined: u64,
    pub excluded: u64,
    pub linked: u64,
}

impl FateCounts {
    pub fn total(&self) -> u64 {
        self.intent + self.created + self.merged + self.quarantined + self.excluded + self.linked
    }
}

/// The journal of one run, open.
pub struct Journal {
    state: State,
    pub run_id: i64,
}

impl Journal {
    /// Starts a run.
    pub fn start(state: State, kind: RunKind, mapping_digest: &str) -> Result<Journal, StateError> {
        state
            .connection()
            .execute(
                "INSERT INTO runs (kind, mapping_digest, started_at) VALUES (?1, ?2, ?3)",
                params![kind.as_str(), mapping_digest, now_utc()],
            )
            .map_err(|error| state.error(error))?;
        let run_id = state.connection().last_insert_rowid();
        Ok(Journal { state, run_id })
    }

    fn run(&self, sql: &str, values: impl rusqlite::Params) -> Result<(), StateError> {
        self.state.connection().execute(sql, values).map(drop).map_err(|error| self.state.error(error))
    }

    /// Sets a record's fate (and Pipedrive id or detail), replacing what the journal had.
    pub fn set(
        &self,
        object: ObjectKind,
        source_id: &str,
        fate: Fate,
        pipedrive_id: Option<u64>,
        detail: Option<&str>,
    ) -> Result<(), StateError> {
        self.set_row(object.as_str(), source_id, fate, pipedrive_id, detail)
    }

    pub(crate) fn set_row(
        &self,
        object: &str,
        source_id: &str,
        fate: Fate,
        pipedrive_id: Option<u64>,
        detail: Option<&str>,
    ) -> Result<(), StateError> {
        self.run(
            "INSERT INTO records (object, source_id, fate, pipedrive_id, detail, run_id, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (object, source_id) DO UPDATE SET fate = ?3, pipedrive_id = ?4, detail = ?5, run_id = ?6, updated_at = ?7",
            params![object, source_id, fate.as_str(), pipedrive_id.map(|id| id as i64), detail, self.run_id, now_utc()],
        )
    }

    /// Journals a daughter company's parent relationship: an intent before it is sent, created
    /// (with the relationship's id) after. The parent's id is kept with it, for rollback and resume.
    pub fn set_relationship(
        &self,
        child: &str,
        fate: Fate,
        pipedrive_id: Option<u64>,
        parent: &str,
    ) -> Result<(), StateError> {
        self.set_row(RELATIONSHIP, child, fate, pipedrive_id, Some(parent))
    }

    /// Every journalled parent relationship, by daughter company id (`detail`: the parent's id).
    pub fn relationships(&self) -> Result<HashMap<String, Entry>, StateError> {
        self.entries_of(RELATIONSHIP)
    }

    /// Forgets a relationship (rollback deleted it, or Pipedrive refused it).
    pub fn forget_relationship(&self, child: &str) -> Result<(), StateError> {
        self.run("DELETE FROM records WHERE object = ?1 AND source_id = ?2", params![RELATIONSHIP, child])
    }

    /// Forgets a row of an object that is not an [`ObjectKind`] (deal products, participants,
    /// products: rollback removed it, or Pipedrive refused it).
    pub(crate) fn forget_row(&self, object: &str, source_id: &str) -> Result<(), StateError> {
        self.run("DELETE FROM records WHERE object = ?1 AND source_id = ?2", params![object, source_id])
    }

    /// Journals a create's answer: the record created, its Pipedrive id and what was sent, in one
    /// write that does not wait for the disk (`synchronous = NORMAL` for this write only). The
    /// intent before it did wait: an answer lost to a power cut leaves that intent open, and the
    /// next run resolves it by the record's marker without sending it again. The next durable
    /// write (any intent) carries this one to the disk with it.
    pub fn set_answered(
        &self,
        object: ObjectKind,
        source_id: &str,
        pipedrive_id: u64,
        sent: &str,
    ) -> Result<(), StateError> {
        let connection = self.state.connection();
        connection.pragma_update(None, "synchronous", "NORMAL").map_err(|error| self.state.error(error))?;
        let written = self.run(
            "INSERT INTO records (object, source_id, fate, pipedrive_id, detail, run_id, updated_at, sent) VALUES (?1, ?2, 'created', ?3, NULL, ?4, ?5, ?6)
             ON CONFLICT (object, source_id) DO UPDATE SET fate = 'created', pipedrive_id = ?3, detail = NULL, run_id = ?4, updated_at = ?5, sent = ?6",
            params![object.as_str(), source_id, pipedrive_id as i64, self.run_id, now_utc(), sent],
        );
        connection
            .pragma_update(None, "synchronous", crate::state::Synchronous::JOURNAL.as_str())
            .map_err(|error| self.state.error(error))?;
        written
    }

    /// An open intent found applied (by its marker): created, with its id, and still counted to
    /// the run that sent it (a later delta's undo must not take it for its own).
    pub fn resolve_intent(&self, object: ObjectKind, source_id: &str, pipedrive_id: u64) -> Result<(), StateError> {
        self.run(
            "UPDATE records SET fate = 'created', pipedrive_id = ?3, detail = NULL, updated_at = ?4 WHERE object = ?1 AND source_id = ?2",
            params![object.as_str(), source_id, pipedrive_id as i64, now_utc()],
        )
    }

    /// Remembers what was sent for a created record.
    pub fn set_sent(&self, object: ObjectKind, source_id: &str, sent: &str) -> Result<(), StateError> {
        self.set_row_sent(object.as_str(), source_id, sent)
    }

    /// [`Journal::set_sent`] of a row of an object that is not an [`ObjectKind`].
    pub(crate) fn set_row_sent(&self, object: &str, source_id: &str, sent: &str) -> Result<(), StateError> {
        self.run("UPDATE records SET sent = ?3 WHERE object = ?1 AND source_id = ?2", params![object, source_id, sent])
    }

    /// Journals one field a run changed on a record: its prior and new values (JSON).
    pub fn record_change(
        &self,
        object: ObjectKind,
        source_id: &str,
        pipedrive_id: u64,
        field: &str,
        prior: &str,
        new: &str,
    ) -> Result<(), StateError> {
        self.run(
            "INSERT INTO changes (run_id, object, source_id, pipedrive_id, field, prior, new, changed_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![self.run_id, object.as_str(), source_id, pipedrive_id as i64, field, prior, new, now_utc()],
        )
    }

    /// Replaces what a record is migrated without, in one transaction.
    pub fn set_left_out(&self, object: ObjectKind, source_id: &str, fields: &[LeftOutField]) -> Result<(), StateError> {
        let error = |error| self.state.error(error);
        let transaction = self.state.connection().unchecked_transaction().map_err(error)?;
        transaction
            .execute("DELETE FROM left_out WHERE object = ?1 AND source_id = ?2", params![object.as_str(), source_id])
            .map_err(error)?;
        for field in fields {
            transaction
                .execute(
                    "INSERT OR REPLACE INTO left_out (object, source_id, field, file, line, column_header, value, why, in_note, run_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    params![object.as_str(), source_id, field.field, field.file, field.line as i64, field.column, field.value, field.why, i64::from(field.in_note), self.run_id],
                )
                .map_err(error)?;
        }
        transaction.commit().map_err(error)
    }

    /// How many values each record of one object is migrated without (values kept in its note
    /// are not left out), by source id: counts, not the values, whatever the export's size.
    pub fn each_left_out_count(&self, object: ObjectKind, mut each: impl FnMut(&str, u64)) -> Result<(), StateError> {
        self.each_row(
            "SELECT source_id, COUNT(*) FROM left_out WHERE object = ?1 AND in_note = 0 GROUP BY source_id",
            object.as_str(),
            |row| Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)? as u64)),
            |(source_id, fields)| each(&source_id, fields),
        )
    }

    /// What the created records of one object are migrated without, by source id then file
    /// order: a join in the journal, not every record's fate read to pick the created ones.
    pub fn created_left_out(&self, object: ObjectKind) -> Result<Vec<(String, LeftOutField)>, StateError> {
        let mut rows = Vec::new();
        self.each_row(
            "SELECT l.source_id, l.field, l.file, l.line, l.column_header, l.value, l.why, l.in_note FROM left_out l
             JOIN records r ON r.object = l.object AND r.source_id = l.source_id
             WHERE l.object = ?1 AND r.fate = 'created' ORDER BY l.source_id, l.line, l.rowid",
            object.as_str(),
            left_out_row,
            |row| rows.push(row),
        )?;
        Ok(rows)
    }

    /// Reads the rows `sql` selects for `object` (its one parameter), each made by `read`, and
    /// hands them to `each` as they come.
    fn each_row<T>(
        &self,
        sql: &str,
        object: &str,
        read: impl Fn(&rusqlite::Row) -> rusqlite::Result<T>,
        mut each: impl FnMut(T),
    ) -> Result<(), StateError> {
        let error = |error| self.state.error(error);
        let mut statement = self.state.connection().prepare(sql).map_err(error)?;
        let mut rows = statement.query(params![object]).map_err(error)?;
        while let Some(row) = rows.next().map_err(error)? {
            each(read(row).map_err(error)?);
        }
        Ok(())
    }

    /// (created records migrated with values left out, how many values), over the whole journal;
    /// values kept in a note are not left out.
    pub fn left_out_counts(&self, object: ObjectKind) -> Result<(u64, u64), StateError> {
        self.state
            .connection()
            .query_row(
                "SELECT COUNT(DISTINCT l.source_id), COUNT(*) FROM left_out l JOIN records r ON r.object = l.object AND r.source_id = l.source_id
                 WHERE l.object = ?1 AND r.fate = 'created' AND l.in_note = 0",
                params![object.as_str()],
                |row| Ok((row.get::<_, i64>(0)? as u64, row.get::<_, i64>(1)? as u64)),
            )
            .map_err(|error| self.state.error(error))
    }

    /// Every journalled record of one object, by source id.
    pub fn entries(&self, object: ObjectKind) -> Result<HashMap<String, Entry>, StateError> {
        self.entries_of(object.as_str())
    }

    pub(crate) fn entries_of(&self, object: &str) -> Result<HashMap<String, Entry>, StateError> {
        self.entries_with(object, "sent")
    }

    /// [`Journal::entries`] without what was sent (`sent` is `None`): a big migration's payloads
    /// are large, and reading a whole object's only to drop them costs its size in memory.
    pub fn entries_unsent(&self, object: ObjectKind) -> Result<HashMap<String, Entry>, StateError> {
        self.entries_with(object.as_str(), "NULL")
    }

    fn entries_with(&self, object: &str, sent: &str) -> Result<HashMap<String, Entry>, StateError> {
        let error = |error| self.state.error(error);
        let mut statement = self
            .state
            .connection()
            .prepare(&format!(
                "SELECT source_id, fate, pipedrive_id, detail, run_id, {sent} FROM records WHERE object = ?1"
            ))
            .map_err(error)?;
        let rows = statement
            .query_map(params![object], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    Entry {
                        fate: Fate::parse(&row.get::<_, String>(1)?),
                        pipedrive_id: row.get::<_, Option<i64>>(2)?.map(|id| id as u64),
                        detail: row.get(3)?,
                        run_id: row.get(4)?,
                        sent: row.get(5)?,
                    },
                ))
            })
            .map_err(error)?;
        rows.collect::<Result<_, _>>().map_err(error)
    }

    /// Every journalled record of one object, its fate and Pipedrive id only: what a phase
    /// reads of the journal (what was sent, large for a big migration, it reads per chunk with
    /// [`Journal::sent`]).
    pub fn fates(&self, object: ObjectKind) -> Result<HashMap<String, Fated>, StateError> {
        self.fates_of(object.as_str())
    }

    /// [`Journal::fates`] of rows of an object that is not an [`ObjectKind`] (deal products,
    /// participants).
    pub(crate) fn fates_of(&self, object: &str) -> Result<HashMap<String, Fated>, StateError> {
        let mut fates = HashMap::new();
        self.each_fate_of(object, |id, fated| {
            fates.insert(id.to_owned(), fated);
        })?;
        Ok(fates)
    }

    /// Calls `each` with every journalled record of one object, its fate and Pipedrive id, as
    /// the rows are read: nothing is held (a phase reconciles a million records this way).
    pub fn each_fate(&self, object: ObjectKind, each: impl FnMut(&str, Fated)) -> Result<(), StateError> {
        self.each_fate_of(object.as_str(), each)
    }

    fn each_fate_of(&self, object: &str, mut each: impl FnMut(&str, Fated)) -> Result<(), StateError> {
        self.each_row(
            "SELECT source_id, fate, pipedrive_id FROM records WHERE object = ?1",
            object,
            |row| {
                let fated = Fated {
                    fate: Fate::parse(&row.get::<_, String>(1)?),
                    pipedrive_id: row.get::<_, Option<i64>>(2)?.map(|id| id as u64),
                };
                Ok((row.get::<_, String>(0)?, fated))
            },
            |(id, fated)| each(&id, fated),
        )
    }

    /// The source ids of one object's records the journal lists something left out of.
    pub fn each_left_out_id(&self, object: ObjectKind, mut each: impl FnMut(&str)) -> Result<(), StateError> {
        self.each_row(
            "SELECT DISTINCT source_id FROM left_out WHERE object = ?1",
            object.as_str(),
            |row| row.get::<_, String>(0),
            |id| each(&id),
        )
    }

    /// What one record is migrated without, in file order: a phase compares it with the
    /// record's build as the chunk goes (every record's list at once is a phase's worth).
    pub fn left_out_of(&self, object: ObjectKind, source_id: &str) -> Result<Vec<LeftOutField>, StateError> {
        let error = |error| self.state.error(error);
        let mut statement = self
            .state
            .connection()
            .prepare_cached(
                "SELECT source_id, field, file, line, column_header, value, why, in_note FROM left_out WHERE object = ?1 AND source_id = ?2 ORDER BY line, rowid",
            )
            .map_err(error)?;
        let rows = statement.query_map(params![object.as_str(), source_id], left_out_row).map_err(error)?;
        rows.map(|row| row.map(|(_, field)| field)).collect::<Result<_, _>>().map_err(error)
    }

    /// The journalled records among `source_ids`, by source id, without what was sent.
    pub fn entries_among(&self, object: ObjectKind, source_ids: &[&str]) -> Result<HashMap<String, Entry>, StateError> {
        let error = |error| self.state.error(error);
        let mut statement = self
            .state
            .connection()
            .prepare_cached(
                "SELECT fate, pipedrive_id, detail, run_id FROM records WHERE object = ?1 AND source_id = ?2",
            )
            .map_err(error)?;
        let mut entries = HashMap::new();
        for id in source_ids {
            let entry = statement
                .query_row(params![object.as_str(), id], |row| {
                    Ok(Entry {
                        fate: Fate::parse(&row.get::<_, String>(0)?),
                        pipedrive_id: row.get::<_, Option<i64>>(1)?.map(|id| id as u64),
                        detail: row.get(2)?,
                        run_id: row.get(3)?,
                        sent: None,
                    })
                })
                .optional()
                .map_err(error)?;
            if let Some(entry) = entry {
                entries.insert((*id).to_owned(), entry);
            }
        }
        Ok(entries)
    }

    /// What was last sent for each of `source_ids` that has it (JSON).
    pub fn sent(&self, object: ObjectKind, source_ids: &[&str]) -> Result<HashMap<String, String>, StateError> {
        let error = |error| self.state.error(error);
        let mut statement = self
            .state
            .connection()
            .prepare_cached("SELECT sent FROM records WHERE object = ?1 AND source_id = ?2 AND sent IS NOT NULL")
            .map_err(error)?;
        let mut sent = HashMap::new();
        for id in source_ids {
            if let Some(json) = statement
                .query_row(params![object.as_str(), id], |row| row.get::<_, String>(0))
                .optional()
                .map_err(error)?
            {
                sent.insert((*id).to_owned(), json);
            }
        }
        Ok(sent)
    }

    /// The records of one object with this fate, with their detail, by source id.
    pub fn with_fate(&self, object: ObjectKind, fate: Fate) -> Result<Vec<(String, Option<String>)>, StateError> {
        let error = |error| self.state.error(error);
        let mut statement = self
            .state
            .connection()
            .prepare("SELECT source_id, detail FROM records WHERE object = ?1 AND fate = ?2 ORDER BY source_id")
            .map_err(error)?;
        let rows = statement
            .query_map(params![object.as_str(), fate.as_str()], |row| Ok((row.get(0)?, row.get(1)?)))
            .map_err(error)?;
        rows.collect::<Result<_, _>>().map_err(error)
    }

    pub fn counts(&self, object: ObjectKind) -> Result<FateCounts, StateError> {
        let mut counts = FateCounts::default();
        self.each_fate(object, |_, fated| match fated.fate {
            Fate::Intent => counts.intent += 1,
            Fate::Created => counts.created += 1,
            Fate::Merged => counts.merged += 1,
            Fate::Quarantined => counts.quarantined += 1,
            Fate::Excluded => counts.excluded += 1,
            Fate::Linked => counts.linked += 1,
        })?;
        Ok(counts)
    }

    /// A workspace object apply used before: (Pipedrive id or field key, whether apply created it).
    pub fn workspace_object(&self, kind: &str, entity: &str, name: &str) -> Result<Option<(String, bool)>, StateError> {
        self.state
            .connection()
            .query_row(
                "SELECT pipedrive_id, created FROM workspace_objects WHERE kind = ?1 AND entity = ?2 AND name = ?3",
                params![kind, entity, name],
                |row| Ok((row.get(0)?, row.get::<_, i64>(1)? != 0)),
            )
            .optional()
            .map_err(|error| self.state.error(error))
    }

    /// Remembers a workspace object; one apply created stays created across later runs.
    pub fn record_workspace_object(
        &self,
        kind: &str,
        entity: &str,
        name: &str,
        pipedrive_id: &str,
        created: bool,
    ) -> Result<(), StateError> {
        self.run(
            "INSERT INTO workspace_objects (kind, entity, name, pipedrive_id, created, run_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (kind, entity, name) DO UPDATE SET pipedrive_id = ?4, created = MAX(created, ?5)",
            params![kind, entity, name, pipedrive_id, i64::from(created), self.run_id],
        )
    }

    /// Journals a record deleted in Pipedrive because its source is gone (a delta): kept with what
    /// was last sent for it, and taken out of the records, in one transaction.
    pub fn record_deletion(
        &self,
        object: ObjectKind,
        source_id: &str,
        pipedrive_id: u64,
        sent: Option<&str>,
    ) -> Result<(), StateError> {
        self.record_row_deletion(object.as_str(), source_id, pipedrive_id, sent)
    }

    /// [`Journal::record_deletion`] of a row of an object that is not an [`ObjectKind`] (a deal
    /// product or participant a delta removed).
    pub(crate) fn record_row_deletion(
        &self,
        object: &str,
        source_id: &str,
        pipedrive_id: u64,
        sent: Option<&str>,
    ) -> Result<(), StateError> {
        let error = |error| self.state.error(error);
        let transaction = self.state.connection().unchecked_transaction().map_err(error)?;
        transaction
            .execute(
                "INSERT OR REPLACE INTO deletions (run_id, object, source_id, pipedrive_id, sent, deleted_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![self.run_id, object, source_id, pipedrive_id as i64, sent, now_utc()],
            )
            .map_err(error)?;
        transaction
            .execute("DELETE FROM records WHERE object = ?1 AND source_id = ?2", params![object, source_id])
            .map_err(error)?;
        transaction.commit().map_err(error)
    }

    /// What an interrupted undo of run `run_id` already created again: (object, old Pipedrive id,
    /// new Pipedrive id), so that a retry links to them.
    pub fn restored(&self, run_id: i64) -> Result<Vec<(ObjectKind, u64, u64)>, StateError> {
        let error = |error| self.state.error(error);
        let mut statement = self
            .state
            .connection()
            .prepare(
                "SELECT object, pipedrive_id, restored_as FROM deletions WHERE run_id = ?1 AND restored_as IS NOT NULL",
            )
            .map_err(error)?;
        let rows = statement
            .query_map(params![run_id], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
            })
            .map_err(error)?;
        let mut restored = Vec::new();
        for row in rows {
            let (object, old, new) = row.map_err(error)?;
            if let Ok(object) = object.parse::<ObjectKind>() {
                restored.push((object, old as u64, new as u64));
            }
        }
        Ok(restored)
    }

    /// Marks every run not undone yet as undone by a full rollback (run 0): nothing of theirs
    /// is left to undo.
    pub fn mark_all_undone(&self) -> Result<(), StateError> {
        self.run("UPDATE runs SET undone_by = 0 WHERE undone_by IS NULL AND kind <> 'undo'", [])
    }

    /// What run `run_id` deleted, in the order it deleted them.
    pub fn deletions(&self, run_id: i64) -> Result<Vec<Deletion>, StateError> {
        Ok(self
            .deletion_rows(run_id)?
            .into_iter()
            .filter_map(|row| {
                Some(Deletion {
                    object: row.object.parse().ok()?,
                    source_id: row.source_id,
                    pipedrive_id: row.pipedrive_id,
                    sent: row.sent,
                })
            })
            .collect())
    }

    /// What run `run_id` deleted of an object that is not an [`ObjectKind`], in the order it
    /// deleted them.
    pub(crate) fn row_deletions(&self, run_id: i64, object: &str) -> Result<Vec<RowDeletion>, StateError> {
        Ok(self.deletion_rows(run_id)?.into_iter().filter(|row| row.object == object).collect())
    }

    /// The keys of every row of `object` a run deleted and no undo created again, whatever the run.
    pub(crate) fn deleted_row_keys(&self, object: &str) -> Result<Vec<String>, StateError> {
        let error = |error| self.state.error(error);
        let mut statement = self
            .state
            .connection()
            .prepare("SELECT source_id FROM deletions WHERE object = ?1 AND restored_as IS NULL")
            .map_err(error)?;
        let rows = statement.query_map(params![object], |row| row.get(0)).map_err(error)?;
        rows.collect::<Result<_, _>>().map_err(error)
    }

    /// What run `run_id` deleted and no undo has created again.
    fn deletion_rows(&self, run_id: i64) -> Result<Vec<RowDeletion>, StateError> {
        let error = |error| self.state.error(error);
        let mut statement = self
            .state
            .connection()
            .prepare("SELECT object, source_id, pipedrive_id, sent FROM deletions WHERE run_id = ?1 AND restored_as IS NULL ORDER BY rowid")
            .map_err(error)?;
        let rows = statement
            .query_map(params![run_id], |row| {
                Ok(RowDeletion {
                    object: row.get(0)?,
                    source_id: row.get(1)?,
                    pipedrive_id: row.get::<_, i64>(2)? as u64,
                    sent: row.get(3)?,
                })
            })
            .map_err(error)?;
        rows.collect::<Result<_, _>>().map_err(error)
    }

    /// A deleted record created again (by `rollback --run`), with its new Pipedrive id.
    pub fn record_restored(
        &self,
        deleted_by: i64,
        object: ObjectKind,
        source_id: &str,
        pipedrive_id: u64,
    ) -> Result<(), StateError> {
        self.record_row_restored(deleted_by, object.as_str(), source_id, pipedrive_id)
    }

    /// [`Journal::record_restored`] of a row of an object that is not an [`ObjectKind`].
    pub(crate) fn record_row_restored(
        &self,
        deleted_by: i64,
        object: &str,
        source_id: &str,
        pipedrive_id: u64,
    ) -> Result<(), StateError> {
        self.run(
            "UPDATE deletions SET restored_as = ?4 WHERE run_id = ?1 AND object = ?2 AND source_id = ?3",
            params![deleted_by, object, source_id, pipedrive_id as i64],
        )
    }

    /// The fields run `run_id` changed, in the order it changed them.
    pub fn changes(&self, run_id: i64) -> Result<Vec<Change>, StateError> {
        let error = |error| self.state.error(error);
        let mut statement = self
            .state
            .connection()
            .prepare(
                "SELECT object, source_id, pipedrive_id, field, prior, new FROM changes WHERE run_id = ?1 ORDER BY id",
            )
            .map_err(error)?;
        let rows = statement
            .query_map(params![run_id], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, i64>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, String>(4)?,
                    row.get::<_, String>(5)?,
                ))
            })
            .map_err(error)?;
        let mut changes = Vec::new();
        for row in rows {
            let (object, source_id, pipedrive_id, field, prior, new) = row.map_err(error)?;
            let Ok(object) = object.parse::<ObjectKind>() else { continue };
            changes.push(Change { object, source_id, pipedrive_id: pipedrive_id as u64, field, prior, new });
        }
        Ok(changes)
    }

    /// Marks a run undone (`rollback --run`): it cannot be undone twice.
    pub fn mark_undone(&self, run_id: i64) -> Result<(), StateError> {
        self.run("UPDATE runs SET undone_by = ?1 WHERE id = ?2", params![self.run_id, run_id])
    }

    /// Forgets a record (rollback deleted it): a later apply creates it again.
    pub fn forget(&self, object: ObjectKind, source_id: &str) -> Result<(), StateError> {
        self.run("DELETE FROM records WHERE object = ?1 AND source_id = ?2", params![object.as_str(), source_id])
    }

    /// The workspace objects apply created: (kind, entity, name, Pipedrive id or key).
    pub fn created_workspace_objects(&self) -> Result<Vec<(String, String, String, String)>, StateError> {
        let error = |error| self.state.error(error);
        let mut statement = self
            .state
            .connection()
            .prepare("SELECT kind, entity, name, pipedrive_id FROM workspace_objects WHERE created = 1 ORDER BY rowid")
            .map_err(error)?;
        let rows =
            statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))).map_err(error)?;
        rows.collect::<Result<_, _>>().map_err(error)
    }

    /// Every workspace object apply used, created or reused: (kind, entity, name).
    pub fn workspace_objects(&self) -> Result<Vec<(String, String, String)>, StateError> {
        let error = |error| self.state.error(error);
        let mut statement = self
            .state
            .connection()
            .prepare("SELECT kind, entity, name FROM workspace_objects ORDER BY rowid")
            .map_err(error)?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?))).map_err(error)?;
        rows.collect::<Result<_, _>>().map_err(error)
    }

    pub fn forget_workspace_object(&self, kind: &str, entity: &str, name: &str) -> Result<(), StateError> {
        self.run(
            "DELETE FROM workspace_objects WHERE kind = ?1 AND entity = ?2 AND name = ?3",
            params![kind, entity, name],
        )
    }

    /// Closes the run with its outcome and the tokens it spent.
    pub fn finish(&self, outcome: &str, tokens: u64) -> Result<(), StateError> {
        self.run(
            "UPDATE runs SET finished_at = ?1, outcome = ?2, tokens = ?3 WHERE id = ?4",
            params![now_utc(), outcome, tokens as i64, self.run_id],
        )
    }

    /// The journal to read (status), without starting a run.
    pub fn read(state: State) -> Journal {
        Journal { state, run_id: 0 }
    }

    /// Every run so far, oldest first.
    pub fn runs(&self) -> Result<Vec<Run>, StateError> {
        let error = |error| self.state.error(error);
        let mut statement = self
            .state
            .connection()
            .prepare("SELECT id, kind, started_at, finished_at, outcome, tokens, undone_by FROM runs ORDER BY id")
            .map_err(error)?;
        let rows = statement
            .query_map([], |row| {
                Ok(Run {
                    id: row.get(0)?,
                    kind: row.get(1)?,
                    started_at: row.get(2)?,
                    finished_at: row.get(3)?,
                    outcome: row.get(4)?,
                    tokens: row.get::<_, Option<i64>>(5)?.map(|tokens| tokens as u64),
                    undone_by: row.get(6)?,
                })
            })
            .map_err(error)?;
        rows.collect::<Result<_, _>>().map_err(error)
    }
}

/// A row of `left_out` as its record's source id and the field (columns in the table's order).
fn left_out_row(row: &rusqlite::Row) -> rusqlite::Result<(String, LeftOutField)> {
    Ok((
        row.get::<_, String>(0)?,
        LeftOutField {
            field: row.get(1)?,
            file: row.get(2)?,
            line: row.get::<_, i64>(3)? as u64,
            column: row.get(4)?,
            value: row.get(5)?,
            why: row.get(6)?,
            in_note: row.get::<_, i64>(7)? != 0,
        },
    ))
}
