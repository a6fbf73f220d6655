//! The extraction's journal in `state.db`: each fetched page with the cursor after it, committed
//! in one transaction, so that an extraction killed at any instant continues from the last
//! committed cursor and never asks again for a page it has. Tokens are never stored; a `next`
//! URL is the account's API address and an opaque cursor.

use rusqlite::{OptionalExtension, params};
use serde_json::Value;

use crate::state::{State, StateError};

/// One extraction, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extraction {
    pub id: i64,
    /// `full` or `changes`.
    pub kind: String,
    /// The account's URL it read.
    pub api: String,
    pub started_at: String,
    pub started_unix: i64,
    pub since: Option<i64>,
    pub finished_at: Option<String>,
    pub snapshot: Option<String>,
}

/// Where a resource stands in an extraction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub next_url: Option<String>,
    pub pages: u64,
    pub items: u64,
    pub done: bool,
    pub absent: bool,
}

pub struct Store<'a> {
    state: &'a State,
}

impl<'a> Store<'a> {
    /// The extraction's tables are in state.db's schema (`crate::state`), with purge's list
    /// of what it clears beside them.
    pub fn open(state: &'a State) -> Result<Store<'a>, StateError> {
        Ok(Store { state })
    }

    /// `extraction` fetched pages that are no longer stored (purge removed them): what it read
    /// cannot stand in for a later extraction's reads.
    pub fn purged(&self, extraction: i64) -> Result<bool, StateError> {
        self.state
            .connection()
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM usercom_cursors WHERE extraction = ?1 AND pages > 0) \
                 AND NOT EXISTS (SELECT 1 FROM usercom_pages WHERE extraction = ?1)",
                params![extraction],
                |row| row.get(0),
            )
            .map_err(|error| self.error(error))
    }

    fn error(&self, error: rusqlite::Error) -> StateError {
        self.state.error(error)
    }

    pub fn extractions(&self) -> Result<Vec<Extraction>, StateError> {
        let mut statement = self
            .state
            .connection()
            .prepare("SELECT id, kind, api, started_at, started_unix, since, finished_at, snapshot FROM usercom_extractions ORDER BY id")
            .map_err(|error| self.error(error))?;
        let rows = statement
            .query_map([], |row| {
                Ok(Extraction {
                    id: row.get(0)?,
                    kind: row.get(1)?,
                    api: row.get(2)?,
                    started_at: row.get(3)?,
                    started_unix: row.get(4)?,
                    since: row.get(5)?,
                    finished_at: row.get(6)?,
                    snapshot: row.get(7)?,
                })
            })
            .map_err(|error| self.error(error))?;
        rows.collect::<Result<_, _>>().map_err(|error| self.error(error))
    }

    pub fn begin(&self, kind: &str, api: &str, since: Option<i64>) -> Result<Extraction, StateError> {
        let started_at = crate::state::now_utc();
        let started_unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs() as i64);
        self.state
            .connection()
            .execute(
                "INSERT INTO usercom_extractions (kind, api, started_at, started_unix, since) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![kind, api, started_at, started_unix, since],
            )
            .map_err(|error| self.error(error))?;
        let id = self.state.connection().last_insert_rowid();
        Ok(Extraction {
            id,
            kind: kind.into(),
            api: api.into(),
            started_at,
            started_unix,
            since,
            finished_at: None,
            snapshot: None,
        })
    }

    pub fn finish(&self, extraction: i64, snapshot: &str) -> Result<(), StateError> {
        self.state
            .connection()
            .execute(
                "UPDATE usercom_extractions SET finished_at = ?2, snapshot = ?3 WHERE id = ?1",
                params![extraction, crate::state::now_utc(), snapshot],
            )
            .map(|_| ())
            .map_err(|error| self.error(error))
    }

    pub fn cursor(&self, extraction: i64, resource: &str) -> Result<Option<Cursor>, StateError> {
        self.state
            .connection()
            .query_row(
                "SELECT next_url, pages, items, done, absent FROM usercom_cursors WHERE extraction = ?1 AND resource = ?2",
                params![extraction, resource],
                |row| {
                    Ok(Cursor {
                        next_url: row.get(0)?,
                        pages: row.get::<_, i64>(1)? as u64,
                        items: row.get::<_, i64>(2)? as u64,
                        done: row.get(3)?,
                        absent: row.get(4)?,
                    })
                },
            )
            .optional()
            .map_err(|error| self.error(error))
    }

    /// A page and the cursor after it, in one transaction: either both are there or neither.
    pub fn commit_page(
        &self,
        extraction: i64,
        resource: &str,
        seq: u64,
        url: &str,
        results: &[Value],
        next: Option<&str>,
    ) -> Result<(), StateError> {
        let connection = self.state.connection();
        let transaction = connection.unchecked_transaction().map_err(|error| self.error(error))?;
        transaction
            .execute(
                "INSERT INTO usercom_pages (extraction, resource, seq, url, results) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![extraction, resource, seq as i64, url, Value::Array(results.to_vec()).to_string()],
            )
            .map_err(|error| self.error(error))?;
        transaction
            .execute(
                "INSERT INTO usercom_cursors (extraction, resource, next_url, pages, items, done, absent)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0)
                 ON CONFLICT (extraction, resource) DO UPDATE SET next_url = ?3, pages = ?4, items = items + ?5, done = ?6",
                params![extraction, resource, next, seq as i64, results.len() as i64, next.is_none()],
            )
            .map_err(|error| self.error(error))?;
        transaction.commit().map_err(|error| self.error(error))
    }

    /// The API has no such resource (a 404 on its first page).
    pub fn mark_absent(&self, extraction: i64, resource: &str) -> Result<(), StateError> {
        self.state
            .connection()
            .execute(
                "INSERT INTO usercom_cursors (extraction, resource, next_url, pages, items, done, absent)
                 VALUES (?1, ?2, NULL, 0, 0, 1, 1)
                 ON CONFLICT (extraction, resource) DO UPDATE SET next_url = NULL, done = 1, absent = 1",
                params![extraction, resource],
            )
            .map(|_| ())
            .map_err(|error| self.error(error))
    }

    /// Whether `url` is a page this extraction already has for `resource` (a `next` that loops).
    pub fn has_page_url(&self, extraction: i64, resource: &str, url: &str) -> Result<bool, StateError> {
        self.state
            .connection()
            .query_row(
                "SELECT 1 FROM usercom_pages WHERE extraction = ?1 AND resource = ?2 AND url = ?3",
                params![extraction, resource, url],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
            .map_err(|error| self.error(error))
    }

    /// Every result of a resource in an extraction, in page order.
    pub fn results(&self, extraction: i64, resource: &str) -> Result<Vec<Value>, StateError> {
        let mut statement = self
            .state
            .connection()
            .prepare("SELECT results FROM usercom_pages WHERE extraction = ?1 AND resource = ?2 ORDER BY seq")
            .map_err(|error| self.error(error))?;
        let pages = statement
            .query_map(params![extraction, resource], |row| row.get::<_, String>(0))
            .map_err(|error| self.error(error))?;
        let mut results = Vec::new();
        for page in pages {
            let page = page.map_err(|error| self.error(error))?;
            if let Ok(Value::Array(items)) = serde_json::from_str::<Value>(&page) {
                results.extend(items);
            }
        }
        Ok(results)
    }

    /// The latest extraction up to `extraction` in which `resource` was fetched whole.
    pub fn latest_done(&self, extraction: i64, resource: &str) -> Result<Option<(i64, bool)>, StateError> {
        self.state
            .connection()
            .query_row(
                "SELECT extraction, absent FROM usercom_cursors WHERE resource = ?1 AND done = 1 AND extraction <= ?2
                 ORDER BY extraction DESC LIMIT 1",
                params![resource, extraction],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()
            .map_err(|error| self.error(error))
    }

    /// Pages fetched in an extraction (for the summary: a resumed run shows what it had).
    pub fn pages(&self, extraction: i64) -> Result<u64, StateError> {
        self.state
            .connection()
            .query_row("SELECT COUNT(*) FROM usercom_pages WHERE extraction = ?1", params![extraction], |row| {
                row.get::<_, i64>(0)
            })
            .map(|count| count as u64)
            .map_err(|error| self.error(error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_extraction_whose_pages_purge_removed_is_purged_and_one_that_read_nothing_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(dir.path()).unwrap();
        let store = Store::open(&state).unwrap();
        let first = store.begin("full", "https://acme.user.com", None).unwrap();
        let users = serde_json::json!([{"id": 10001}]);
        store
            .commit_page(
                first.id,
                "users/",
                1,
                "https://acme.user.com/api/public/users/",
                users.as_array().unwrap(),
                None,
            )
            .unwrap();
        let empty = store.begin("changes", "https://acme.user.com", Some(0)).unwrap();
        assert!(!store.purged(first.id).unwrap());

        let clear = crate::purge::CLEARED_IN_STATE.iter().find(|cleared| cleared.clear.contains("usercom_pages"));
        state.connection().execute(clear.expect("purge clears the pages").clear, []).unwrap();
        assert!(store.purged(first.id).unwrap(), "its cursors say it read pages that are gone");
        assert!(!store.purged(empty.id).unwrap(), "it read nothing, so nothing of it is gone");
    }
}
