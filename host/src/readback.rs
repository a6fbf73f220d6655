//! Reading back what Pipedrive holds now (the cheapest listings, 500 records a call) and telling
//! how a record there differs from what was sent for it. Verify compares with what apply would
//! send from the export; delta and rollback compare with what the journal says was last sent, so
//! that a record someone edited in Pipedrive since is seen as such before it is overwritten or
//! deleted.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::mapping::Destination;
use crate::pipedrive::{Activity, ClientError, Deal, Listing, Note, Organization, Person, PipedriveClient};
use crate::record::ObjectKind;

/// Why a read-back could not finish.
#[derive(Debug, thiserror::Error)]
pub enum ReadbackError {
    #[error("reading back from Pipedrive")]
    Client(#[from] ClientError),
    /// The temporary file the listings are kept in (see [`Spool`]) could not be made, written or
    /// read.
    #[error("the read-back's temporary file: {0}")]
    Spool(#[from] rusqlite::Error),
}

/// Hands each live record (not deleted) of a destination to `each`, page by page as listed.
async fn each_live<E: From<ClientError>>(
    client: &PipedriveClient,
    destination: Destination,
    mut each: impl FnMut(u64, Value) -> Result<(), E>,
) -> Result<(), E> {
    fn page<T: Serialize, E>(
        records: Vec<T>,
        destination: Destination,
        each: &mut impl FnMut(u64, Value) -> Result<(), E>,
    ) -> Result<(), E> {
        for record in records {
            let record = serde_json::to_value(record).expect("plain data serializes");
            if let (false, Some(id)) = (deleted(destination, &record), record["id"].as_u64()) {
                each(id, record)?;
            }
        }
        Ok(())
    }
    async fn pages<T: Serialize + DeserializeOwned, E: From<ClientError>>(
        client: &PipedriveClient,
        listing: Listing,
        destination: Destination,
        each: &mut impl FnMut(u64, Value) -> Result<(), E>,
    ) -> Result<(), E> {
        client.each_page(listing, |records: Vec<T>| page(records, destination, each)).await
    }
    match destination {
        Destination::Organization => {
            pages::<Organization, E>(client, Listing::Organizations, destination, &mut each).await
        }
        Destination::Person => pages::<Person, E>(client, Listing::Persons, destination, &mut each).await,
        Destination::Deal => pages::<Deal, E>(client, Listing::Deals, destination, &mut each).await,
        Destination::Activity => pages::<Activity, E>(client, Listing::Activities, destination, &mut each).await,
        Destination::Note => pages::<Note, E>(client, Listing::Notes, destination, &mut each).await,
    }
}

/// How many records of one destination [`Listings::record`] reads one by one before it lists the
/// destination whole: as many as cost the tokens of one page of the listing (a token each, ten a
/// page of 500). A delta that changed a few records of a big account reads those; one that
/// changed many lists each object once, and pays at most one page's worth more for it.
const SINGLE_READS: u32 = 10;

/// The records of the account as listed, per destination, each listed once into a [`Spool`] (a
/// temporary file, made on the first listing) and read back by id: a delta or a rollback of an
/// account of millions holds the record at hand, not the account.
#[derive(Default)]
pub struct Listings {
    spool: Option<Spool>,
    /// Records read one by one so far, per destination.
    single_reads: HashMap<Destination, u32>,
}

impl Listings {
    /// The spool with a destination's live records listed into it (once).
    async fn listed(&mut self, client: &PipedriveClient, destination: Destination) -> Result<&Spool, ReadbackError> {
        if self.spool.is_none() {
            self.spool = Some(Spool::new()?);
        }
        let spool = self.spool.as_mut().expect("made above");
        spool.list(client, destination, |_, _| {}).await?;
        Ok(spool)
    }

    /// Hands each live record (not deleted) of the destination a source object lands in to
    /// `each`, in the order of their Pipedrive ids, from the destination's listing.
    pub async fn each(
        &mut self,
        client: &PipedriveClient,
        object: ObjectKind,
        each: impl FnMut(&Value),
    ) -> Result<(), ReadbackError> {
        let destination = Destination::of(object);
        self.listed(client, destination).await?.each(destination, each)
    }

    /// Lists the destination a source object lands in now (once): for a caller about to read
    /// many of its records, which [`Listings::record`] then reads from the listing.
    pub async fn list(&mut self, client: &PipedriveClient, object: ObjectKind) -> Result<(), ReadbackError> {
        self.listed(client, Destination::of(object)).await.map(drop)
    }

    /// The live record (not deleted) of `object` with this Pipedrive id, as the listing gives it:
    /// read on its own for the first few of a destination not listed (see [`SINGLE_READS`]),
    /// then from the destination's listing (listed first, once).
    pub async fn record(
        &mut self,
        client: &PipedriveClient,
        object: ObjectKind,
        id: u64,
    ) -> Result<Option<Value>, ReadbackError> {
        let destination = Destination::of(object);
        let listed = self.spool.as_ref().is_some_and(|spool| spool.listed.contains(&destination));
        let reads = self.single_reads.entry(destination).or_default();
        if !listed && *reads < SINGLE_READS {
            *reads += 1;
            return Ok(read_one(client, destination, id).await?);
        }
        let spool = self.listed(client, destination).await?;
        let record = spool.get(destination, id).map(|record| Value::clone(&record));
        spool.failure()?;
        Ok(record)
    }

    /// How many listed records are held in memory (the rest are in the spool's file): one at
    /// most, however many were listed.
    pub fn held_in_memory(&self) -> usize {
        self.spool.as_ref().map_or(0, |spool| usize::from(spool.last.borrow().is_some()))
    }
}

/// One live record (not deleted) as its destination's listing gives it.
async fn read_one(client: &PipedriveClient, destination: Destination, id: u64) -> Result<Option<Value>, ClientError> {
    fn value<T: Serialize>(record: Result<T, ClientError>) -> Result<Option<Value>, ClientError> {
        match record {
            Ok(record) => Ok(Some(serde_json::to_value(record).expect("plain data serializes"))),
            Err(ClientError::NotFound { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }
    let record = match destination {
        Destination::Organization => value(client.organization(id).await)?,
        Destination::Person => value(client.person(id).await)?,
        Destination::Deal => value(client.deal(id).await)?,
        Destination::Activity => value(client.activity(id).await)?,
        Destination::Note => value(client.note(id).await)?,
    };
    Ok(record.filter(|record| !deleted(destination, record)))
}

/// Deleted, or (a note) no longer active: not what a listing of live records gives.
fn deleted(destination: Destination, record: &Value) -> bool {
    record["is_deleted"] == true || (destination == Destination::Note && record["active_flag"] == false)
}

/// The live records of the account, listed once per destination a page at a time into a
/// temporary SQLite file keyed by Pipedrive id, and read back by id as they are compared:
/// reading back an account of millions holds a page and the record at hand, not the account.
/// The file is SQLite's private temporary database: deleted when the spool is dropped.
pub struct Spool {
    db: Connection,
    listed: HashSet<Destination>,
    /// The record read last: its values are looked at one after another.
    last: RefCell<Option<(Destination, u64, Rc<Value>)>>,
    /// The first lookup that failed (the file unreadable): it read as not listed, so the run's
    /// findings are not to be trusted; [`Spool::failure`] says so.
    failed: RefCell<Option<rusqlite::Error>>,
}

/// SQLite's page cache for the spool: what it holds in memory however big the account.
const SPOOL_CACHE_KIB: i64 = 16 * 1024;

impl Spool {
    pub fn new() -> Result<Spool, ReadbackError> {
        // "": a private temporary database on disk (not in memory), removed when closed.
        let db = Connection::open("")?;
        db.execute_batch(&format!(
            "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -{SPOOL_CACHE_KIB};"
        ))?;
        Ok(Spool { db, listed: HashSet::new(), last: RefCell::new(None), failed: RefCell::new(None) })
    }

    /// Lists the live records (not deleted) of a destination into the spool, unless listed
    /// already; `each` sees every record as it is kept (for what is worked out from them all).
    pub async fn list(
        &mut self,
        client: &PipedriveClient,
        destination: Destination,
        mut each: impl FnMut(u64, &Value),
    ) -> Result<(), ReadbackError> {
        if !self.listed.insert(destination) {
            return Ok(());
        }
        let table = table(destination);
        self.db.execute_batch(&format!("CREATE TABLE {table} (id INTEGER PRIMARY KEY, record TEXT NOT NULL)"))?;
        let db = &self.db;
        db.execute_batch("BEGIN")?;
        let mut insert = db.prepare(&format!("INSERT OR REPLACE INTO {table} (id, record) VALUES (?1, ?2)"))?;
        each_live(client, destination, |id, record| {
            each(id, &record);
            insert.execute(params![id as i64, record.to_string()])?;
            Ok::<_, ReadbackError>(())
        })
        .await?;
        drop(insert);
        db.execute_batch("COMMIT")?;
        Ok(())
    }

    /// The live record of a destination listed with this Pipedrive id (none of a destination not
    /// listed). A lookup that fails reads as none, and is kept for [`Spool::failure`].
    pub fn get(&self, destination: Destination, id: u64) -> Option<Rc<Value>> {
        if !self.listed.contains(&destination) {
            return None;
        }
        if let Some((last_destination, last_id, record)) = &*self.last.borrow()
            && (*last_destination, *last_id) == (destination, id)
        {
            return Some(record.clone());
        }
        let read = self
            .db
            .prepare_cached(&format!("SELECT record FROM {} WHERE id = ?1", table(destination)))
            .and_then(|mut select| select.query_row([id as i64], |row| row.get::<_, String>(0)).optional());
        let text = match read {
            Ok(text) => text?,
            Err(error) => {
                self.failed.borrow_mut().get_or_insert(error);
                return None;
            }
        };
        let record: Rc<Value> = Rc::new(serde_json::from_str(&text).expect("the spool holds the JSON it was given"));
        *self.last.borrow_mut() = Some((destination, id, record.clone()));
        Some(record)
    }

    /// Hands each live record of a listed destination to `each`, in the order of their Pipedrive
    /// ids (none of a destination not listed), one at a time.
    pub fn each(&self, destination: Destination, mut each: impl FnMut(&Value)) -> Result<(), ReadbackError> {
        if !self.listed.contains(&destination) {
            return Ok(());
        }
        let mut select = self.db.prepare(&format!("SELECT record FROM {} ORDER BY id", table(destination)))?;
        let mut rows = select.query([])?;
        while let Some(row) = rows.next()? {
            let text: String = row.get(0)?;
            each(&serde_json::from_str(&text).expect("the spool holds the JSON it was given"));
        }
        Ok(())
    }

    /// The first lookup that failed, if one did: then what the read-back found is not to be
    /// trusted.
    pub fn failure(&self) -> Result<(), ReadbackError> {
        match self.failed.borrow_mut().take() {
            Some(error) => Err(error.into()),
            None => Ok(()),
        }
    }
}

/// The spool's table of a destination's records.
fn table(destination: Destination) -> &'static str {
    match destination {
        Destination::Organization => "organizations",
        Destination::Person => "persons",
        Destination::Deal => "deals",
        Destination::Activity => "activities",
        Destination::Note => "notes",
    }
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
    // Compared as they are; named and copied only when they differ (most fields of most records
    // match: a million records' fields were each copied and their names formatted).
    let mut differ = |field: &dyn Fn() -> String, expected: Cow<Value>, actual: Cow<Value>| {
        if !same(&expected, &actual) {
            differences.push((field(), expected.into_owned(), actual.into_owned()));
        }
    };
    let null = Value::Null;
    let actual_of = |key: &str| actual.get(key).unwrap_or(&null);
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
        let expected_value = expected.get(key).unwrap_or(&null);
        let named = || key.to_owned();
        match key {
            // Set by Pipedrive as it likes, or (the marketing status) compared with the source's
            // opt-out by the coverage, not with the payload.
            "marketing_status" | "attendees" | "visible_to" | "user_id" | "close_time" => {}
            "custom_fields" => {
                let actual_fields = actual_of("custom_fields");
                for (code, value) in expected_value.as_object().into_iter().flatten() {
                    let name = || format!("custom field {}", names.get(code).unwrap_or(code));
                    differ(&name, Cow::Borrowed(value), Cow::Borrowed(actual_fields.get(code).unwrap_or(&null)));
                }
            }
            "emails" | "phones" => {
                differ(&named, Cow::Owned(contact_values(expected_value)), Cow::Owned(contact_values(actual_of(key))))
            }
            "participants" => {
                differ(&named, Cow::Owned(person_ids(expected_value)), Cow::Owned(person_ids(actual_of(key))))
            }
            "label_ids" => {
                differ(&|| "labels".to_owned(), Cow::Owned(sorted(expected_value)), Cow::Owned(sorted(actual_of(key))))
            }
            "address" => {
                fn value<'v>(address: &'v Value, null: &'v Value) -> Cow<'v, Value> {
                    Cow::Borrowed(address.get("value").unwrap_or(null))
                }
                differ(&named, value(expected_value, &null), value(actual_of(key), &null))
            }
            "due_time" => differ(
                &named,
                Cow::Borrowed(expected_value),
                Cow::Owned(
                    actual_of(key).as_str().map(|time| json!(&time[..time.len().min(5)])).unwrap_or(Value::Null),
                ),
            ),
            "done" => differ(
                &named,
                Cow::Owned(json!(expected_value.as_bool().unwrap_or(false))),
                Cow::Owned(json!(actual_of(key).as_bool().unwrap_or(false))),
            ),
            _ => differ(&named, Cow::Borrowed(expected_value), Cow::Borrowed(actual_of(key))),
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
