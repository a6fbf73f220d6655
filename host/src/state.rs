//! `state.db`: what a migration project remembers between commands, in SQLite compiled into the
//! binary (no server). Plan keeps the target workspace it read and the mapping it proposed;
//! approve keeps who approved which mapping, when; apply keeps its journal (runs, the fate and
//! Pipedrive id of every source record, the workspace objects it created or reused). It holds
//! customer data (what was sent), so it is readable by the user only; tokens are never stored.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

// The plugin host stamps vetted plugins with it too, so it lives with the record's `DateTime`.
pub use crate::record::now_utc;

pub const STATE_FILE: &str = "state.db";

/// The schema this build reads and writes; an older file is migrated forward on open.
const SCHEMA_VERSION: i64 = 6;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
-- The Pipedrive workspace as plan read it (users, fields, pipelines, stages, activity types), as JSON.
CREATE TABLE IF NOT EXISTS workspace_snapshots (
    id INTEGER PRIMARY KEY, taken_at TEXT NOT NULL, url TEXT NOT NULL, snapshot TEXT NOT NULL);
-- The mapping as plan proposed it (before a person's edits), as JSON: a re-plan tells edits from proposals.
CREATE TABLE IF NOT EXISTS proposals (
    id INTEGER PRIMARY KEY, proposed_at TEXT NOT NULL, proposal TEXT NOT NULL);
-- Each approval of mapping.toml: its sha256, its text (for the next diff), who and when, and the
-- rest of what decides what apply writes (`basis`, JSON: plugins, export files, target URL).
CREATE TABLE IF NOT EXISTS approvals (
    id INTEGER PRIMARY KEY, digest TEXT NOT NULL, mapping TEXT NOT NULL, approved_by TEXT NOT NULL, approved_at TEXT NOT NULL,
    basis TEXT);
-- Each apply: a sample (a few contacts and what they link to) or the full migration.
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL, mapping_digest TEXT NOT NULL, started_at TEXT NOT NULL,
    finished_at TEXT, outcome TEXT, tokens INTEGER, undone_by INTEGER);
-- The journal: what became of each source record. `intent` is written before a create is sent,
-- `created` (with the Pipedrive id) after it is answered; merged, quarantined and excluded carry
-- the survivor or the reason in `detail`.
CREATE TABLE IF NOT EXISTS records (
    object TEXT NOT NULL, source_id TEXT NOT NULL, fate TEXT NOT NULL, pipedrive_id INTEGER, detail TEXT,
    run_id INTEGER NOT NULL, updated_at TEXT NOT NULL, sent TEXT, PRIMARY KEY (object, source_id));
-- Every field a later run changed on a record apply created: what it was and what it became.
CREATE TABLE IF NOT EXISTS changes (
    id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL, object TEXT NOT NULL, source_id TEXT NOT NULL,
    pipedrive_id INTEGER NOT NULL, field TEXT NOT NULL, prior TEXT NOT NULL, new TEXT NOT NULL, changed_at TEXT NOT NULL);
-- Workspace objects apply uses: fields (with their key), options, pipelines, stages, activity
-- types, labels; `created` when apply made them (rollback removes only those).
CREATE TABLE IF NOT EXISTS workspace_objects (
    kind TEXT NOT NULL, entity TEXT NOT NULL, name TEXT NOT NULL, pipedrive_id TEXT NOT NULL,
    created INTEGER NOT NULL, run_id INTEGER, PRIMARY KEY (kind, entity, name));
-- Values a record was migrated without (they did not fit their field; the mapping's on_bad_value
-- said to leave the field empty, or to keep the raw text in the note): where they are in the export
-- and why, for reports/quarantine.csv. Rewritten each time the record is built; purge clears `value`.
CREATE TABLE IF NOT EXISTS left_out (
    object TEXT NOT NULL, source_id TEXT NOT NULL, field TEXT NOT NULL, file TEXT NOT NULL, line INTEGER NOT NULL,
    column_header TEXT NOT NULL, value TEXT NOT NULL, why TEXT NOT NULL, in_note INTEGER NOT NULL, run_id INTEGER NOT NULL,
    PRIMARY KEY (object, source_id, line, field));
-- Records a delta deleted in Pipedrive (their source gone from User.com): the Pipedrive id they
-- had and what was last sent for them (JSON), so that `rollback --run N` can create them again.
CREATE TABLE IF NOT EXISTS deletions (
    run_id INTEGER NOT NULL, object TEXT NOT NULL, source_id TEXT NOT NULL, pipedrive_id INTEGER NOT NULL,
    sent TEXT, deleted_at TEXT NOT NULL, restored_as INTEGER, PRIMARY KEY (run_id, object, source_id));
-- Each extraction from User.com's API: the first (full) or a later one (changes since `since`, unix s).
CREATE TABLE IF NOT EXISTS usercom_extractions (
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL, api TEXT NOT NULL, started_at TEXT NOT NULL, started_unix INTEGER NOT NULL,
    since INTEGER, finished_at TEXT, snapshot TEXT);
-- Per extraction and resource (`users/`, `users/10001/events/`): the URL of the next page to fetch,
-- pages and items so far, done, or absent (the API has no such resource: 404).
CREATE TABLE IF NOT EXISTS usercom_cursors (
    extraction INTEGER NOT NULL, resource TEXT NOT NULL, next_url TEXT, pages INTEGER NOT NULL, items INTEGER NOT NULL,
    done INTEGER NOT NULL, absent INTEGER NOT NULL, PRIMARY KEY (extraction, resource));
-- Each page fetched: its URL and its results (JSON), in order.
CREATE TABLE IF NOT EXISTS usercom_pages (
    extraction INTEGER NOT NULL, resource TEXT NOT NULL, seq INTEGER NOT NULL, url TEXT NOT NULL, results TEXT NOT NULL,
    PRIMARY KEY (extraction, resource, seq));
";

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{}: {error}", .path.display())]
    Sqlite { path: PathBuf, error: rusqlite::Error },
    #[error("{}: {source}", .path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: written by a newer crm-migrate (schema {found}, this one reads up to {SCHEMA_VERSION})", .path.display())]
    NewerSchema { path: PathBuf, found: i64 },
}

/// When SQLite waits for the disk (`PRAGMA synchronous`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synchronous {
    /// In WAL mode, commits are not flushed to the disk one by one: a power loss can lose the last ones.
    Normal,
    /// Every commit is on the disk before it returns.
    Full,
}

impl Synchronous {
    /// FULL: a committed step (an intent above all) is on the disk before apply sends its request,
    /// even through a power loss; with NORMAL it could be lost, and the rerun would create a
    /// duplicate. The cost (`cargo bench --bench journal_sync_bench`) is in the README.
    pub const JOURNAL: Synchronous = Synchronous::Full;

    pub fn as_str(self) -> &'static str {
        match self {
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        }
    }
}

/// One approval of the mapping.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Approval {
    pub digest: String,
    pub mapping: String,
    pub approved_by: String,
    pub approved_at: String,
    /// The plugins, export and target approved with the mapping (JSON; `None` for approvals
    /// recorded before they were part of it).
    pub basis: Option<String>,
}

/// A project's state database, open.
pub struct State {
    path: PathBuf,
    connection: Connection,
}

impl State {
    /// Opens (creating when missing) `state.db` in the project directory.
    pub fn open(project_dir: &Path) -> Result<State, StateError> {
        let path = project_dir.join(STATE_FILE);
        let error = |source| StateError::Sqlite { path: path.clone(), error: source };
        private_state_files(&path).map_err(|source| StateError::Io { path: path.clone(), source })?;
        let connection = Connection::open(&path).map_err(error)?;
        // WAL: a reader (status) never blocks the writer (apply), and a crash loses no committed step.
        connection.pragma_update(None, "journal_mode", "WAL").map_err(error)?;
        connection.pragma_update(None, "synchronous", Synchronous::JOURNAL.as_str()).map_err(error)?;
        connection.busy_timeout(std::time::Duration::from_secs(10)).map_err(error)?;
        connection.execute_batch(SCHEMA).map_err(error)?;
        let found: Option<i64> = connection
            .query_row("SELECT value FROM meta WHERE key = 'schema_version'", [], |row| row.get::<_, String>(0))
            .optional()
            .map_err(error)?
            .and_then(|text| text.parse().ok());
        match found {
            Some(found) if found > SCHEMA_VERSION => return Err(StateError::NewerSchema { path, found }),
            // Older schemas lack tables, which the batch above just created (5 -> 6: left_out), and columns:
            _ => {
                if found == Some(2) {
                    connection.execute("ALTER TABLE runs ADD COLUMN tokens INTEGER", []).map_err(error)?;
                }
                if matches!(found, Some(2 | 3)) {
                    connection.execute("ALTER TABLE records ADD COLUMN sent TEXT", []).map_err(error)?;
                }
                if matches!(found, Some(2..=4)) {
                    connection.execute("ALTER TABLE approvals ADD COLUMN basis TEXT", []).map_err(error)?;
                    connection.execute("ALTER TABLE runs ADD COLUMN undone_by INTEGER", []).map_err(error)?;
                }
                connection
                    .execute(
                        "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?1)",
                        params![SCHEMA_VERSION.to_string()],
                    )
                    .map_err(error)?;
            }
        }
        Ok(State { path, connection })
    }

    /// Overrides [`Synchronous::JOURNAL`] on this connection: for the durability bench, which
    /// measures what FULL costs against NORMAL; commands never call it.
    pub fn set_synchronous(&self, level: Synchronous) -> Result<(), StateError> {
        self.connection.pragma_update(None, "synchronous", level.as_str()).map_err(|error| self.error(error))
    }

    /// For the modules that keep their own tables here (apply's journal).
    pub(crate) fn connection(&self) -> &Connection {
        &self.connection
    }

    pub(crate) fn error(&self, source: rusqlite::Error) -> StateError {
        StateError::Sqlite { path: self.path.clone(), error: source }
    }

    /// A value kept in `meta` (the schema version, when the project was purged).
    pub fn meta(&self, key: &str) -> Result<Option<String>, StateError> {
        self.connection
            .query_row("SELECT value FROM meta WHERE key = ?1", params![key], |row| row.get(0))
            .optional()
            .map_err(|error| self.error(error))
    }

    pub fn save_workspace(&self, taken_at: &str, url: &str, snapshot_json: &str) -> Result<(), StateError> {
        self.connection
            .execute(
                "INSERT INTO workspace_snapshots (taken_at, url, snapshot) VALUES (?1, ?2, ?3)",
                params![taken_at, url, snapshot_json],
            )
            .map(drop)
            .map_err(|error| self.error(error))
    }

    /// The last workspace plan read: (taken_at, url, snapshot JSON).
    pub fn last_workspace(&self) -> Result<Option<(String, String, String)>, StateError> {
        self.connection
            .query_row("SELECT taken_at, url, snapshot FROM workspace_snapshots ORDER BY id DESC LIMIT 1", [], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .optional()
            .map_err(|error| self.error(error))
    }

    pub fn save_proposal(&self, proposed_at: &str, proposal_json: &str) -> Result<(), StateError> {
        self.connection
            .execute(
                "INSERT INTO proposals (proposed_at, proposal) VALUES (?1, ?2)",
                params![proposed_at, proposal_json],
            )
            .map(drop)
            .map_err(|error| self.error(error))
    }

    pub fn last_proposal(&self) -> Result<Option<String>, StateError> {
        self.connection
            .query_row("SELECT proposal FROM proposals ORDER BY id DESC LIMIT 1", [], |row| row.get(0))
            .optional()
            .map_err(|error| self.error(error))
    }

    pub fn record_approval(&self, approval: &Approval) -> Result<(), StateError> {
        self.connection
            .execute(
                "INSERT INTO approvals (digest, mapping, approved_by, approved_at, basis) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![approval.digest, approval.mapping, approval.approved_by, approval.approved_at, approval.basis],
            )
            .map(drop)
            .map_err(|error| self.error(error))
    }

    pub fn last_approval(&self) -> Result<Option<Approval>, StateError> {
        self.connection
            .query_row(
                "SELECT digest, mapping, approved_by, approved_at, basis FROM approvals ORDER BY id DESC LIMIT 1",
                [],
                |row| {
                    Ok(Approval {
                        digest: row.get(0)?,
                        mapping: row.get(1)?,
                        approved_by: row.get(2)?,
                        approved_at: row.get(3)?,
                        basis: row.get(4)?,
                    })
                },
            )
            .optional()
            .map_err(|error| self.error(error))
    }
}

/// `state.db` holds customer data (what was sent, prior values): it is created 0600 before SQLite
/// opens it (SQLite gives its -wal and -shm files the database file's mode), and an existing one,
/// with its -wal and -shm, loses any group or other permission.
fn private_state_files(path: &Path) -> std::io::Result<()> {
    if !path.exists() {
        // An empty file is an empty SQLite database.
        drop(crate::private_files::create(path)?);
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        crate::private_files::tighten(Path::new(&name))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approvals_and_snapshots_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(dir.path()).unwrap();
        assert_eq!(state.last_approval().unwrap(), None);
        let approval = Approval {
            digest: "sha256:ab".into(),
            mapping: "x = 1\n".into(),
            approved_by: "ola".into(),
            approved_at: now_utc(),
            basis: Some("{}".into()),
        };
        state.record_approval(&approval).unwrap();
        state.save_workspace("t", "http://127.0.0.1:1", "{}").unwrap();
        drop(state);
        let state = State::open(dir.path()).unwrap();
        assert_eq!(state.last_approval().unwrap(), Some(approval));
        assert_eq!(state.last_workspace().unwrap().unwrap().2, "{}");
    }

    #[test]
    fn the_journal_is_flushed_on_every_commit() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(dir.path()).unwrap();
        // 2 is FULL (0 OFF, 1 NORMAL, 3 EXTRA).
        let level: i64 = state.connection.pragma_query_value(None, "synchronous", |row| row.get(0)).unwrap();
        assert_eq!(level, 2);
    }

    #[test]
    fn a_schema_5_file_gains_the_left_out_table_and_keeps_its_journal() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(dir.path()).unwrap();
        state
            .connection
            .execute_batch("DROP TABLE left_out; UPDATE meta SET value = '5' WHERE key = 'schema_version';")
            .unwrap();
        state.connection.execute("INSERT INTO records (object, source_id, fate, run_id, updated_at) VALUES ('contact', '1', 'created', 1, 't')", []).unwrap();
        drop(state);
        let state = State::open(dir.path()).unwrap();
        assert_eq!(state.meta("schema_version").unwrap().as_deref(), Some("6"));
        let left_out: i64 = state.connection.query_row("SELECT COUNT(*) FROM left_out", [], |row| row.get(0)).unwrap();
        let records: i64 = state.connection.query_row("SELECT COUNT(*) FROM records", [], |row| row.get(0)).unwrap();
        assert_eq!((left_out, records), (0, 1));
    }

    #[test]
    fn a_newer_schema_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        State::open(dir.path())
            .unwrap()
            .connection
            .execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'", [])
            .unwrap();
        let error = State::open(dir.path()).err().unwrap().to_string();
        assert!(error.contains("schema 99"), "{error}");
    }
}
