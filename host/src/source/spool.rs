//! The spool: a run's records on disk (SQLite under `<project>/.spool/`) instead of in memory, so
//! that a run's memory does not grow with its export. Every row read keeps its line and its
//! issues (the quarantine report names them); a row the duplicates, the sample or a plugin takes
//! out stays, no longer live. Phases read the live records back in file order, a page at a time,
//! or one conversation's messages, or one record by its id.
//!
//! The file is removed when the run ends (the spool is dropped); one left by a killed run (its
//! process gone) is removed when the next run of the project starts.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, params};

use crate::extract::Issue;
use crate::record::{Date, DateTime, ObjectKind, Record, Value};

/// The project's directory of spools.
pub const SPOOL_DIR: &str = ".spool";

/// Records a page of [`Records`] reads at once.
const PAGE: usize = 1000;

/// A page of a kind's live records after a row. It must walk `records_by_kind` from that row: a
/// plan that finds the kind's rows by another index and sorts them reads every row of the kind
/// for each page, which at a million contacts is hours.
const PAGE_AFTER: &str =
    "SELECT seq, id, line, issues, body FROM records WHERE kind = ?1 AND seq > ?2 AND live = 1 ORDER BY seq LIMIT ?3";

/// Why the spool failed (disk full, directory not writable).
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    #[error("creating the run's spool in {}: {source}", .path.display())]
    Create { path: PathBuf, source: std::io::Error },
    #[error("the run's spool {}: {source}", .path.display())]
    Sqlite { path: PathBuf, source: rusqlite::Error },
}

/// One record as the spool gives it back: the record, the line it starts on and what did not
/// read in it.
#[derive(Debug, Clone)]
pub struct Spooled {
    pub record: Record,
    pub line: u64,
    pub issues: Vec<Issue>,
}

/// A run's records on disk.
pub struct Spool {
    connection: Mutex<Connection>,
    /// The file, removed on drop; `None`: in memory (a test's source).
    path: Option<PathBuf>,
}

impl std::fmt::Debug for Spool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Spool({:?})", self.path)
    }
}

impl Default for Spool {
    /// A spool in memory: for sources tests build by hand.
    fn default() -> Spool {
        Spool::with(Connection::open_in_memory().expect("SQLite opens in memory"), None)
            .expect("an in-memory spool takes its schema")
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        if let Some(path) = &self.path {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn kind_code(kind: ObjectKind) -> i64 {
    ObjectKind::ALL.iter().position(|known| *known == kind).expect("every kind is in ALL") as i64
}

impl Spool {
    /// A new spool in `<project_dir>/.spool/`, after removing those of runs whose process is gone.
    pub fn create(project_dir: &Path) -> Result<Spool, SpoolError> {
        let dir = project_dir.join(SPOOL_DIR);
        std::fs::create_dir_all(&dir).map_err(|source| SpoolError::Create { path: dir.clone(), source })?;
        remove_stale(&dir);
        // Sources of one process (a test's threads, plugin diff's two runs) each have their own.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let number = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = dir.join(format!("{}-{number}.db", std::process::id()));
        // One of this pid and number left by a dead run (pids are reused) is never read back.
        let _ = std::fs::remove_file(&path);
        let connection = Connection::open(&path).map_err(|source| SpoolError::Sqlite { path: path.clone(), source })?;
        Spool::with(connection, Some(path.clone())).map_err(|source| SpoolError::Sqlite { path, source })
    }

    fn with(connection: Connection, path: Option<PathBuf>) -> Result<Spool, rusqlite::Error> {
        // Scratch data: a crash loses nothing the next run does not read again from the export.
        // Only this connection reads it: locked once, not for each query (each lock and check of
        // the file cost more than the lookup itself).
        connection.execute_batch(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA temp_store = FILE; PRAGMA cache_size = -8000;
             PRAGMA locking_mode = EXCLUSIVE;
             CREATE TABLE records (
                 seq INTEGER PRIMARY KEY, kind INTEGER NOT NULL, id TEXT NOT NULL, conversation TEXT,
                 line INTEGER NOT NULL, issues BLOB, body BLOB NOT NULL,
                 -- a contact's email, trimmed and in lower case: meeting attendees are looked up by it
                 email TEXT,
                 -- 1: to load; 0: taken out (a duplicate, a plugin's); 2: left out of a sample
                 live INTEGER NOT NULL DEFAULT 1);
             CREATE INDEX records_by_id ON records (kind, id);
             -- a kind's records in file order, a page at a time from where the last page ended
             CREATE INDEX records_by_kind ON records (kind, seq);
             CREATE INDEX records_by_conversation ON records (kind, conversation) WHERE conversation IS NOT NULL;
             CREATE INDEX records_by_email ON records (kind, email) WHERE email IS NOT NULL;
             -- apply's notes on how records were linked or placed, in the order taken
             CREATE TABLE notes (line TEXT NOT NULL);
             -- records the duplicates or a plugin settled before loading: fate and reason (or survivor)
             CREATE TABLE settled (kind INTEGER NOT NULL, id TEXT NOT NULL, fate TEXT NOT NULL, detail TEXT NOT NULL);
             CREATE INDEX settled_by_kind ON settled (kind);
             -- the dedup stage's match keys (kind and key as bytes), sorted once all are in
             CREATE TABLE match_keys (kind INTEGER NOT NULL, key BLOB NOT NULL, position INTEGER NOT NULL);",
        )?;
        Ok(Spool { connection: Mutex::new(connection), path })
    }

    fn connection(&self) -> MutexGuard<'_, Connection> {
        self.connection.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn fail(&self, source: rusqlite::Error) -> SpoolError {
        SpoolError::Sqlite { path: self.path.clone().unwrap_or_else(|| PathBuf::from(":memory:")), source }
    }

    /// Runs `write` in one transaction (a file's rows written one by one would each be one).
    pub fn batch<T, E: From<SpoolError>>(&self, write: impl FnOnce(&Writer<'_>) -> Result<T, E>) -> Result<T, E> {
        let connection = self.connection();
        connection.execute_batch("BEGIN").map_err(|error| self.fail(error))?;
        let result = write(&Writer { spool: self, connection: &connection });
        connection
            .execute_batch(if result.is_ok() { "COMMIT" } else { "ROLLBACK" })
            .map_err(|error| self.fail(error))?;
        result
    }

    /// The live records of `kind` in file order, a page at a time.
    pub fn records(&self, kind: ObjectKind) -> Records<'_> {
        Records { spool: self, kind, after: 0, page: Vec::new().into_iter(), done: false }
    }

    /// The live records of `kind` whose ids `ids` names, in file order.
    pub fn by_ids(&self, kind: ObjectKind, ids: &[String]) -> Result<Vec<(i64, Spooled)>, SpoolError> {
        let connection = self.connection();
        let mut statement = connection
            .prepare_cached("SELECT seq, id, line, issues, body FROM records WHERE kind = ?1 AND id = ?2 AND live = 1")
            .map_err(|error| self.fail(error))?;
        let mut found = Vec::new();
        for id in ids {
            let rows = statement.query_map(params![kind_code(kind), id], |row| read_row(kind, row));
            found.extend(rows.and_then(Iterator::collect::<Result<Vec<_>, _>>).map_err(|error| self.fail(error))?);
        }
        found.sort_by_key(|(seq, _)| *seq);
        Ok(found)
    }

    /// The rows of the live records of `kind`, in file order.
    pub fn rows(&self, kind: ObjectKind) -> Result<Vec<i64>, SpoolError> {
        let connection = self.connection();
        let mut statement = connection
            .prepare_cached("SELECT seq FROM records WHERE kind = ?1 AND live = 1 ORDER BY seq")
            .map_err(|error| self.fail(error))?;
        let rows = statement.query_map(params![kind_code(kind)], |row| row.get(0));
        rows.and_then(Iterator::collect).map_err(|error| self.fail(error))
    }

    /// The ids of `kind` that more than one of its rows has, with the lines of those rows in file
    /// order; read from the index of ids, so that nothing grows with the rows that are unique.
    pub fn repeated_ids(&self, kind: ObjectKind) -> Result<std::collections::BTreeMap<String, Vec<u64>>, SpoolError> {
        let connection = self.connection();
        let mut statement = connection
            .prepare_cached(
                "SELECT id, line FROM records WHERE kind = ?1 AND id IN
                     (SELECT id FROM records WHERE kind = ?1 GROUP BY id HAVING count(*) > 1)
                 ORDER BY id, seq",
            )
            .map_err(|error| self.fail(error))?;
        let mut repeated = std::collections::BTreeMap::<String, Vec<u64>>::new();
        let mut rows = statement.query(params![kind_code(kind)]).map_err(|error| self.fail(error))?;
        while let Some(row) = rows.next().map_err(|error| self.fail(error))? {
            let read = |row: &rusqlite::Row| -> rusqlite::Result<(String, i64)> { Ok((row.get(0)?, row.get(1)?)) };
            let (id, line) = read(row).map_err(|error| self.fail(error))?;
            repeated.entry(id).or_default().push(line as u64);
        }
        Ok(repeated)
    }

    /// Tells `each` of the dedup stage's records that share a match key (see
    /// [`Writer::add_match_keys`]): for each key, its first record with each other one. The keys
    /// are sorted on disk by SQLite, compared whole as bytes; they are deleted after.
    pub fn each_shared_key(&self, each: &mut dyn FnMut(usize, usize)) -> Result<(), SpoolError> {
        let connection = self.connection();
        let mut statement = connection
            .prepare("SELECT kind, key, position FROM match_keys ORDER BY kind, key, position")
            .map_err(|error| self.fail(error))?;
        let mut rows = statement.query([]).map_err(|error| self.fail(error))?;
        // The key being read (kind, bytes) and its first record.
        let mut current: Option<(i64, Vec<u8>, usize)> = None;
        while let Some(row) = rows.next().map_err(|error| self.fail(error))? {
            let read = |row: &rusqlite::Row| -> rusqlite::Result<(i64, usize)> {
                Ok((row.get(0)?, row.get::<_, i64>(2)? as usize))
            };
            let (kind, position) = read(row).map_err(|error| self.fail(error))?;
            let key = row.get_ref(1).and_then(|value| Ok(value.as_blob()?)).map_err(|error| self.fail(error))?;
            match &mut current {
                Some((held_kind, held_key, first)) if *held_kind == kind && held_key.as_slice() == key => {
                    each(*first, position)
                }
                Some((held_kind, held_key, first)) => {
                    *held_kind = kind;
                    held_key.clear();
                    held_key.extend_from_slice(key);
                    *first = position;
                }
                None => current = Some((kind, key.to_vec(), position)),
            }
        }
        drop(rows);
        drop(statement);
        connection.execute("DELETE FROM match_keys", []).map_err(|error| self.fail(error))?;
        Ok(())
    }

    /// The records of these rows, in this order (rows of `kind`: a run reads one object at a time).
    pub fn at(&self, kind: ObjectKind, seqs: &[i64]) -> Result<Vec<Record>, SpoolError> {
        let connection = self.connection();
        let mut statement = connection
            .prepare_cached("SELECT seq, id, line, issues, body FROM records WHERE seq = ?1")
            .map_err(|error| self.fail(error))?;
        let mut records = Vec::with_capacity(seqs.len());
        for seq in seqs {
            let (_, spooled) =
                statement.query_row(params![seq], |row| read_row(kind, row)).map_err(|error| self.fail(error))?;
            records.push(spooled.record);
        }
        Ok(records)
    }

    /// The live contacts whose email is `email` (any case, spaces around it aside), by id.
    pub fn contacts_with_email(&self, email: &str) -> Result<Vec<String>, SpoolError> {
        let connection = self.connection();
        let mut statement = connection
            .prepare_cached("SELECT id FROM records WHERE kind = ?1 AND email = ?2 AND live = 1 ORDER BY id")
            .map_err(|error| self.fail(error))?;
        let rows =
            statement.query_map(params![kind_code(ObjectKind::Contact), email.trim().to_lowercase()], |row| row.get(0));
        rows.and_then(Iterator::collect).map_err(|error| self.fail(error))
    }

    /// The messages of a conversation (live ones), in file order.
    pub fn messages(&self, conversation: &str) -> Result<Vec<Spooled>, SpoolError> {
        let kind = ObjectKind::Conversation;
        let connection = self.connection();
        let mut statement = connection
            .prepare_cached(
                "SELECT seq, id, line, issues, body FROM records WHERE kind = ?1 AND conversation = ?2 AND live = 1 ORDER BY seq",
            )
            .map_err(|error| self.fail(error))?;
        let rows = statement.query_map(params![kind_code(kind), conversation], |row| read_row(kind, row));
        rows.and_then(|rows| rows.map(|row| row.map(|(_, spooled)| spooled)).collect())
            .map_err(|error| self.fail(error))
    }

    /// Keeps what was settled before loading (in the order settled).
    pub fn add_settled(&self, settled: &[super::Settled]) -> Result<(), SpoolError> {
        self.batch(|writer| {
            let mut statement = writer
                .connection
                .prepare_cached("INSERT INTO settled (kind, id, fate, detail) VALUES (?1, ?2, ?3, ?4)")
                .map_err(|error| self.fail(error))?;
            for one in settled {
                statement
                    .execute(params![kind_code(one.object), one.source_id, one.fate.as_str(), one.detail])
                    .map_err(|error| self.fail(error))?;
            }
            Ok::<(), SpoolError>(())
        })
    }

    /// What was settled before loading, of `kind` (or of every object), in the order settled, to
    /// `each` as it is read.
    pub fn each_settled<E: From<SpoolError>>(
        &self,
        kind: Option<ObjectKind>,
        mut each: impl FnMut(super::Settled) -> Result<(), E>,
    ) -> Result<(), E> {
        let connection = self.connection();
        let mut statement = connection
            .prepare("SELECT kind, id, fate, detail FROM settled WHERE ?1 IS NULL OR kind = ?1 ORDER BY rowid")
            .map_err(|error| self.fail(error))?;
        let mut rows = statement.query(params![kind.map(kind_code)]).map_err(|error| self.fail(error))?;
        while let Some(row) = rows.next().map_err(|error| self.fail(error))? {
            let read = |row: &rusqlite::Row| -> rusqlite::Result<super::Settled> {
                Ok(super::Settled {
                    object: ObjectKind::ALL[row.get::<_, i64>(0)? as usize],
                    source_id: row.get(1)?,
                    fate: crate::journal::Fate::parse(&row.get::<_, String>(2)?),
                    detail: row.get(3)?,
                })
            };
            each(read(row).map_err(|error| self.fail(error))?)?;
        }
        Ok(())
    }

    /// Keeps one of apply's notes (see `apply::notes`).
    pub fn add_note(&self, line: &str) -> Result<(), SpoolError> {
        let connection = self.connection();
        let mut statement =
            connection.prepare_cached("INSERT INTO notes (line) VALUES (?1)").map_err(|error| self.fail(error))?;
        statement.execute(params![line]).map(drop).map_err(|error| self.fail(error))
    }

    /// The notes kept, in the order taken, to `each` as they are read (the first error it
    /// returns stops the reading and is the inner result).
    pub fn each_note(
        &self,
        mut each: impl FnMut(&str) -> std::io::Result<()>,
    ) -> Result<std::io::Result<()>, SpoolError> {
        let connection = self.connection();
        let mut statement =
            connection.prepare("SELECT line FROM notes ORDER BY rowid").map_err(|error| self.fail(error))?;
        let mut rows = statement.query([]).map_err(|error| self.fail(error))?;
        while let Some(row) = rows.next().map_err(|error| self.fail(error))? {
            let line: String = row.get(0).map_err(|error| self.fail(error))?;
            if let Err(error) = each(&line) {
                return Ok(Err(error));
            }
        }
        Ok(Ok(()))
    }

    /// The distinct conversations of the live messages, in order of their ids.
    pub fn conversations(&self) -> Result<Vec<String>, SpoolError> {
        let connection = self.connection();
        let mut statement = connection
            .prepare("SELECT DISTINCT conversation FROM records WHERE kind = ?1 AND live = 1 ORDER BY conversation")
            .map_err(|error| self.fail(error))?;
        let rows = statement.query_map(params![kind_code(ObjectKind::Conversation)], |row| row.get(0));
        rows.and_then(Iterator::collect).map_err(|error| self.fail(error))
    }

    /// Whether the run has a record of `kind` with this id: live, or taken out by the
    /// duplicates or a plugin (not one a sample leaves out).
    pub fn contains(&self, kind: ObjectKind, id: &str) -> Result<bool, SpoolError> {
        let connection = self.connection();
        let mut statement = connection
            .prepare_cached("SELECT 1 FROM records WHERE kind = ?1 AND id = ?2 AND live < 2 LIMIT 1")
            .map_err(|error| self.fail(error))?;
        statement.exists(params![kind_code(kind), id]).map_err(|error| self.fail(error))
    }

    /// The line the (last) row of this id starts on, live or not.
    pub fn line(&self, kind: ObjectKind, id: &str) -> Result<Option<u64>, SpoolError> {
        let connection = self.connection();
        let mut statement = connection
            .prepare_cached("SELECT line FROM records WHERE kind = ?1 AND id = ?2 ORDER BY seq DESC LIMIT 1")
            .map_err(|error| self.fail(error))?;
        let line = statement.query_row(params![kind_code(kind), id], |row| row.get::<_, i64>(0)).optional();
        line.map(|line| line.map(|line| line as u64)).map_err(|error| self.fail(error))
    }

    /// The live records of `kind`, and of them how many distinct conversations (messages).
    pub fn count(&self, kind: ObjectKind) -> Result<u64, SpoolError> {
        let sql = if kind == ObjectKind::Conversation {
            "SELECT COUNT(DISTINCT conversation) FROM records WHERE kind = ?1 AND live = 1"
        } else {
            "SELECT COUNT(*) FROM records WHERE kind = ?1 AND live = 1"
        };
        let count = self.connection().query_row(sql, params![kind_code(kind)], |row| row.get::<_, i64>(0));
        count.map(|count| count as u64).map_err(|error| self.fail(error))
    }

    fn page(&self, kind: ObjectKind, after: i64) -> Result<Vec<(i64, Spooled)>, SpoolError> {
        let connection = self.connection();
        let mut statement = connection.prepare_cached(PAGE_AFTER).map_err(|error| self.fail(error))?;
        let rows = statement.query_map(params![kind_code(kind), after, PAGE as i64], |row| read_row(kind, row));
        rows.and_then(Iterator::collect).map_err(|error| self.fail(error))
    }
}

/// Writes to the spool within one transaction ([`Spool::batch`]).
pub struct Writer<'a> {
    spool: &'a Spool,
    connection: &'a Connection,
}

impl Writer<'_> {
    /// Keeps the dedup stage's match keys of a batch: each record's position, kind and keys.
    pub fn add_match_keys(&self, keys: &[(usize, ObjectKind, &[String])]) -> Result<(), SpoolError> {
        let mut statement = self
            .connection
            .prepare_cached("INSERT INTO match_keys (kind, key, position) VALUES (?1, ?2, ?3)")
            .map_err(|error| self.spool.fail(error))?;
        for &(position, kind, keys) in keys {
            for key in keys {
                statement
                    .execute(params![kind_code(kind), key.as_bytes(), position as i64])
                    .map_err(|error| self.spool.fail(error))?;
            }
        }
        Ok(())
    }

    /// Adds a row read from the export (its conversation, for a message).
    pub fn add(
        &self,
        record: &Record,
        line: u64,
        issues: &[Issue],
        conversation: Option<&str>,
    ) -> Result<(), SpoolError> {
        let mut statement = self
            .connection
            .prepare_cached(
                "INSERT INTO records (kind, id, conversation, line, issues, body, email) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .map_err(|error| self.spool.fail(error))?;
        let issues = (!issues.is_empty()).then(|| encode_issues(issues));
        statement
            .execute(params![
                kind_code(record.kind),
                record.source_id,
                conversation,
                line as i64,
                issues,
                encode(record),
                email_of(record)
            ])
            .map_err(|error| self.spool.fail(error))?;
        Ok(())
    }

    /// Takes every row of this id out (the duplicates, a plugin's drop or merge).
    pub fn retire(&self, kind: ObjectKind, id: &str) -> Result<(), SpoolError> {
        self.run("UPDATE records SET live = 0 WHERE kind = ?1 AND id = ?2", params![kind_code(kind), id])
    }

    /// Takes one row out (a plugin drops, rejects or merges it).
    pub fn retire_row(&self, seq: i64) -> Result<(), SpoolError> {
        self.run("UPDATE records SET live = 0 WHERE seq = ?1", params![seq])
    }

    /// Leaves one row out of a sample: not part of the run at all.
    pub fn leave_out(&self, seq: i64) -> Result<(), SpoolError> {
        self.run("UPDATE records SET live = 2 WHERE seq = ?1", params![seq])
    }

    /// Takes the messages of a conversation out.
    pub fn retire_conversation(&self, conversation: &str) -> Result<(), SpoolError> {
        self.run(
            "UPDATE records SET live = 0 WHERE kind = ?1 AND conversation = ?2",
            params![kind_code(ObjectKind::Conversation), conversation],
        )
    }

    /// Writes a row's record back as a plugin changed it.
    pub fn replace(&self, seq: i64, record: &Record) -> Result<(), SpoolError> {
        self.run(
            "UPDATE records SET body = ?2, email = ?3 WHERE seq = ?1",
            params![seq, encode(record), email_of(record)],
        )
    }

    fn run(&self, sql: &str, params: impl rusqlite::Params) -> Result<(), SpoolError> {
        let mut statement = self.connection.prepare_cached(sql).map_err(|error| self.spool.fail(error))?;
        statement.execute(params).map_err(|error| self.spool.fail(error))?;
        Ok(())
    }
}

/// The live records of one object in file order, read a page at a time; each with its row
/// number ([`Records::with_rows`]) for writing it back.
pub struct Records<'a> {
    spool: &'a Spool,
    kind: ObjectKind,
    after: i64,
    page: std::vec::IntoIter<(i64, Spooled)>,
    done: bool,
}

impl Iterator for Records<'_> {
    type Item = Result<(i64, Spooled), SpoolError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(row) = self.page.next() {
            self.after = row.0;
            return Some(Ok(row));
        }
        if self.done {
            return None;
        }
        match self.spool.page(self.kind, self.after) {
            Ok(page) => {
                self.done = page.len() < PAGE;
                self.page = page.into_iter();
                let row = self.page.next()?;
                self.after = row.0;
                Some(Ok(row))
            }
            Err(error) => {
                self.done = true;
                Some(Err(error))
            }
        }
    }
}

impl Records<'_> {
    /// The records alone.
    pub fn spooled(self) -> impl Iterator<Item = Result<Spooled, SpoolError>> {
        self.map(|row| row.map(|(_, spooled)| spooled))
    }
}

/// A contact's email as the index holds it (none for other records, or without one).
fn email_of(record: &Record) -> Option<String> {
    match record.get("email") {
        Some(Value::Text(email)) if record.kind == ObjectKind::Contact && !email.trim().is_empty() => {
            Some(email.trim().to_lowercase())
        }
        _ => None,
    }
}

fn read_row(kind: ObjectKind, row: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, Spooled)> {
    let seq: i64 = row.get(0)?;
    let id: String = row.get(1)?;
    let line: i64 = row.get(2)?;
    let issues: Option<Vec<u8>> = row.get(3)?;
    let body: Vec<u8> = row.get_ref(4)?.as_blob()?.to_vec();
    let corrupt = |what: &str| {
        rusqlite::Error::FromSqlConversionFailure(
            4,
            rusqlite::types::Type::Blob,
            format!("a spooled {what} does not decode").into(),
        )
    };
    let record = decode(kind, id, &body).ok_or_else(|| corrupt("record"))?;
    let issues = match issues {
        Some(bytes) => decode_issues(&bytes).ok_or_else(|| corrupt("issue"))?,
        None => Vec::new(),
    };
    Ok((seq, Spooled { record, line: line as u64, issues }))
}

/// Removes the spools of runs whose process is gone (killed: no drop removed them).
fn remove_stale(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let pid = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .and_then(|stem| stem.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok());
        if pid.is_some_and(|pid| !process_alive(pid)) {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// Whether a process of this id runs (signal 0 checks without signalling).
#[allow(unsafe_code)]
fn process_alive(pid: u32) -> bool {
    // SAFETY: kill(2) with signal 0 sends nothing; it only checks the process exists.
    let result = unsafe { libc::kill(pid as libc::pid_t, 0) };
    result == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

// A compact encoding of records and issues: lengths as LEB128, strings as UTF-8, one tag byte a
// value. Written and read only by this run.

fn put_len(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    put_len(out, text.len());
    out.extend_from_slice(text.as_bytes());
}

fn encode(record: &Record) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 * record.fields.len());
    put_len(&mut out, record.fields.len());
    for (name, value) in &record.fields {
        put_str(&mut out, name);
        match value {
            Value::Null => out.push(0),
            Value::Text(text) => {
                out.push(1);
                put_str(&mut out, text);
            }
            Value::Number(number) => {
                out.push(2);
                out.extend_from_slice(&number.to_le_bytes());
            }
            Value::Boolean(flag) => out.extend_from_slice(&[3, u8::from(*flag)]),
            Value::Date(date) => {
                out.push(4);
                out.extend_from_slice(&date.year.to_le_bytes());
                out.extend_from_slice(&[date.month, date.day]);
            }
            Value::DateTime(datetime) => {
                out.push(5);
                out.extend_from_slice(&datetime.unix_millis.to_le_bytes());
                out.extend_from_slice(&datetime.offset_minutes.to_le_bytes());
            }
            Value::Choices(choices) => {
                out.push(6);
                put_len(&mut out, choices.len());
                for choice in choices {
                    put_str(&mut out, choice);
                }
            }
        }
    }
    out
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.bytes(N)?.try_into().ok()
    }
    fn len(&mut self) -> Option<usize> {
        let mut n = 0usize;
        for shift in (0..64).step_by(7) {
            let byte = self.bytes(1)?[0];
            n |= usize::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Some(n);
            }
        }
        None
    }
    fn string(&mut self) -> Option<String> {
        let n = self.len()?;
        String::from_utf8(self.bytes(n)?.to_vec()).ok()
    }
}

fn decode(kind: ObjectKind, source_id: String, bytes: &[u8]) -> Option<Record> {
    let mut reader = Reader(bytes);
    let count = reader.len()?;
    let mut fields = Vec::with_capacity(count.min(bytes.len()));
    for _ in 0..count {
        let name = reader.string()?;
        let value = match reader.array::<1>()?[0] {
            0 => Value::Null,
            1 => Value::Text(reader.string()?),
            2 => Value::Number(f64::from_le_bytes(reader.array()?)),
            3 => Value::Boolean(reader.array::<1>()?[0] != 0),
            4 => {
                let year = i32::from_le_bytes(reader.array()?);
                let [month, day] = reader.array()?;
                Value::Date(Date { year, month, day })
            }
            5 => Value::DateTime(DateTime {
                unix_millis: i64::from_le_bytes(reader.array()?),
                offset_minutes: i16::from_le_bytes(reader.array()?),
            }),
            6 => {
                let n = reader.len()?;
                Value::Choices((0..n).map(|_| reader.string()).collect::<Option<_>>()?)
            }
            _ => return None,
        };
        fields.push((name, value));
    }
    reader.0.is_empty().then_some(Record { kind, source_id, fields })
}

fn encode_issues(issues: &[Issue]) -> Vec<u8> {
    let mut out = Vec::new();
    put_len(&mut out, issues.len());
    for issue in issues {
        put_str(&mut out, &issue.file.to_string_lossy());
        out.extend_from_slice(&issue.line.to_le_bytes());
        for text in [&issue.column, &issue.field, &issue.value, &issue.expected] {
            put_str(&mut out, text);
        }
    }
    out
}

fn decode_issues(bytes: &[u8]) -> Option<Vec<Issue>> {
    let mut reader = Reader(bytes);
    let count = reader.len()?;
    let mut issues = Vec::with_capacity(count.min(bytes.len()));
    for _ in 0..count {
        let file: Arc<Path> = Arc::from(Path::new(&reader.string()?));
        let line = u64::from_le_bytes(reader.array()?);
        issues.push(Issue {
            file,
            line,
            column: reader.string()?,
            field: reader.string()?,
            value: reader.string()?,
            expected: reader.string()?,
        });
    }
    reader.0.is_empty().then_some(issues)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Match keys are compared whole as bytes and per kind: one text under two kinds, the empty
    /// key, keys differing after a NUL byte or only in letter case, two keys that concatenate
    /// to a third; and they are gone once read.
    #[test]
    fn records_share_a_match_key_only_with_the_same_kind_and_bytes() {
        let spool = Spool::default();
        let keys = |texts: &[&str]| texts.iter().map(|text| text.to_string()).collect::<Vec<_>>();
        let batches = [
            vec![
                (0, ObjectKind::Contact, keys(&["a@x"])),
                (1, ObjectKind::Company, keys(&["a@x"])),
                (2, ObjectKind::Contact, keys(&["a@x", ""])),
            ],
            vec![
                (3, ObjectKind::Contact, keys(&[""])),
                (4, ObjectKind::Contact, keys(&["żółw\0x"])),
                (5, ObjectKind::Contact, keys(&["żółw\0y", "ŻÓŁW\0x"])),
                (6, ObjectKind::Contact, keys(&["ab"])),
                (7, ObjectKind::Contact, keys(&["a", "b"])),
                (8, ObjectKind::Contact, keys(&["żółw\0x", "a@x"])),
                (9, ObjectKind::Contact, keys(&[])),
            ],
        ];
        for batch in &batches {
            let batch: Vec<(usize, ObjectKind, &[String])> =
                batch.iter().map(|(position, kind, keys)| (*position, *kind, keys.as_slice())).collect();
            spool.batch(|writer| writer.add_match_keys(&batch)).unwrap();
        }
        let mut pairs = Vec::new();
        spool.each_shared_key(&mut |first, other| pairs.push((first, other))).unwrap();
        pairs.sort();
        assert_eq!(pairs, [(0, 2), (0, 8), (2, 3), (4, 8)]);
        let mut again = 0;
        spool.each_shared_key(&mut |_, _| again += 1).unwrap();
        assert_eq!(again, 0);
    }

    #[test]
    fn a_record_and_its_issues_come_back_as_written() {
        let record = Record::new(ObjectKind::Contact, "7")
            .with("name", Value::Text("Zażółć \u{0}".into()))
            .with("score", Value::Number(-1.5e300))
            .with("vip", Value::Boolean(true))
            .with("born", Value::Date(Date { year: -44, month: 3, day: 15 }))
            .with("seen", Value::DateTime(DateTime { unix_millis: -5, offset_minutes: -120 }))
            .with("tags", Value::Choices(vec![String::new(), "a".repeat(300)]))
            .with("gone", Value::Null);
        let issue = Issue {
            file: Arc::from(Path::new("users.csv")),
            line: 9,
            column: "Born".into(),
            field: "born".into(),
            value: "x".into(),
            expected: "a date".into(),
        };
        let spool = Spool::default();
        spool.batch(|writer| writer.add(&record, 9, std::slice::from_ref(&issue), None)).unwrap();
        let back: Vec<Spooled> = spool.records(ObjectKind::Contact).spooled().collect::<Result<_, _>>().unwrap();
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].record, record);
        assert_eq!((back[0].line, back[0].issues.clone()), (9, vec![issue]));
        assert!(decode(ObjectKind::Contact, "7".into(), &encode(&record)[..10]).is_none(), "a cut body is refused");
    }

    #[test]
    fn a_page_is_read_from_where_the_last_ended_not_sorted_out_of_the_whole_kind() {
        let spool = Spool::default();
        spool
            .batch(|writer| {
                (0..2_500).try_for_each(|n| {
                    let kind = if n % 5 == 0 { ObjectKind::Company } else { ObjectKind::Contact };
                    writer.add(&Record::new(kind, n.to_string()), n + 2, &[], None)
                })
            })
            .unwrap();
        let connection = spool.connection();
        let mut explain = connection.prepare(&format!("EXPLAIN QUERY PLAN {PAGE_AFTER}")).unwrap();
        let plan: Vec<String> = explain
            .query_map(params![kind_code(ObjectKind::Contact), 1_000, PAGE as i64], |row| row.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            plan.iter().any(|step| step.contains("records_by_kind (kind=? AND seq>?)")),
            "a page walks the kind's rows from the last one read: {plan:?}"
        );
        assert!(!plan.iter().any(|step| step.contains("TEMP B-TREE")), "a page is not sorted: {plan:?}");
        drop(explain);
        drop(connection);
        let ids: Vec<String> =
            spool.records(ObjectKind::Contact).spooled().map(|spooled| spooled.unwrap().record.source_id).collect();
        let expected: Vec<String> = (0..2_500).filter(|n| n % 5 != 0).map(|n: u64| n.to_string()).collect();
        assert_eq!(ids, expected, "every contact once, in file order, across pages");
    }

    #[test]
    fn a_dead_runs_spool_is_removed_and_a_live_runs_kept() {
        let project = tempfile::tempdir().unwrap();
        let dir = project.path().join(SPOOL_DIR);
        std::fs::create_dir_all(&dir).unwrap();
        // No process has pid 2^22 + 1 (above Linux's pid_max default).
        let dead = dir.join(format!("{}-0.db", (1u32 << 22) + 1));
        std::fs::write(&dead, b"left by kill -9").unwrap();
        let spool = Spool::create(project.path()).unwrap();
        assert!(!dead.exists(), "a killed run's spool is removed at the next start");
        let own: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|entry| entry.unwrap().path()).collect();
        assert_eq!(own.len(), 1);
        let own = &own[0];
        assert!(own.file_name().unwrap().to_str().unwrap().starts_with(&format!("{}-", std::process::id())));
        drop(spool);
        assert!(!own.exists(), "a run's spool is removed when it ends");
    }
}
