//! User.com's REST API as a source: `crm-migrate extract` reads the account page by page into
//! `state.db` (resumable after a kill), then writes a local snapshot, a CSV export directory in
//! the sample's dialect, which every other verb reads as it reads an export ([`snapshot`]).
//! A later extraction (`--changes`, at cutover) fetches the full lists again (the id lists: a
//! record not in them is deleted, never one merely not fetched), every user's events again, and
//! the conversations only of users changed since the last extraction (`users/search` by
//! `updated_at`, with an overlap) or new; the others' conversations are carried over from before.
//!
//! Why every user's events: whether User.com bumps a user's `updated_at` when only an event is
//! tracked for them (`POST events/`, with a timestamp that may be in the past) is not documented
//! (the reference is silent, [gap]), and no documented endpoint lists events across users by
//! their timestamp. Reading only the changed users' events would then miss events tracked since
//! on users otherwise unchanged; reading every user's costs one request per user (and one per
//! further page of 100 events) at cutover. The same question stands, unanswered, for a message
//! added to an existing conversation: conversations are still read only for the changed users.

pub mod client;
pub mod snapshot;
pub mod store;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::Value;

pub use client::{ClientConfig, RequestStats, UsercomClient, UsercomError};
use snapshot::{View, as_id};
use store::{Extraction, Store};

use crate::project::Project;
use crate::state::{State, StateError};

/// How far before the last extraction's start a changed user is looked for: clocks differ, and a
/// user updated while the last extraction ran must not fall between the two.
pub const CHANGES_OVERLAP_SECONDS: i64 = 3600;

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("{} has an export directory as its source ([source] export); extract reads User.com's API: set [source] api", .0.display())]
    NotAnApiSource(PathBuf),
    #[error(transparent)]
    Api(#[from] UsercomError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Project(#[from] crate::project::ProjectError),
    #[error("{}: {source}", .path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error(
        "the account was extracted already (into {snapshot}); at cutover, run extract --changes for what changed since"
    )]
    AlreadyExtracted { snapshot: String },
    #[error(
        "an unfinished extraction read {unfinished}, not [source] api: put that URL back and run extract to finish it"
    )]
    AnotherAccount { unfinished: String },
    #[error("extract --changes needs a first extraction; run extract without --changes")]
    NothingToCompare,
    #[error("{resource} page {page}: results[{index}].{field}: {reason}")]
    Malformed { resource: String, page: u64, index: usize, field: String, reason: String },
    #[error("{resource} page {page}: next points back to a page already read ({url}); stopped")]
    Loop { resource: String, page: u64, url: String },
}

/// What `extract` was asked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExtractOptions {
    /// `Some(true)`: a changes extraction (refused without a first one); `Some(false)`: the
    /// first (refused once there is one); `None`: the first, or the changes once it exists.
    pub changes: Option<bool>,
}

/// Progress, as the extraction goes.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ExtractEvent {
    Started {
        extraction: i64,
        kind: String,
        resumed: bool,
        pages_before: u64,
    },
    Page {
        resource: String,
        page: u64,
        items: u64,
        total: Option<u64>,
        requests: u64,
    },
    /// Per-user resources: how many users are done of how many, and at what rate.
    Users {
        done: u64,
        of: u64,
        per_second: f64,
        eta_seconds: Option<f64>,
        requests: u64,
    },
    Absent {
        resource: String,
    },
}

/// What an extraction did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    pub extraction: i64,
    pub kind: String,
    pub resumed: bool,
    pub snapshot: PathBuf,
    /// Rows per file of the snapshot.
    pub rows: BTreeMap<String, u64>,
    /// Lists the API does not have (404): not in the snapshot.
    pub absent: Vec<String>,
    /// Pages this run fetched, and pages an earlier, killed run of the same extraction had.
    pub pages_fetched: u64,
    pub pages_before: u64,
    pub requests: RequestStats,
    /// For a changes extraction: users whose conversations were fetched again (every user's
    /// events are).
    pub users_refetched: Option<u64>,
}

/// The client for a project's `[source] api`.
pub fn client_for(project: &Project) -> Result<UsercomClient, ExtractError> {
    let source = &project.config.source;
    let api = project.usercom_api().ok_or_else(|| ExtractError::NotAnApiSource(project.dir.clone()))?;
    let mut config = ClientConfig::new(
        api.to_owned(),
        source.allow_host.as_ref().map(|host| host.get_ref().clone()),
        project.usercom_token()?,
    );
    if let Some(rate) = source.requests_per_second {
        config.requests_per_second = rate;
    }
    Ok(UsercomClient::new(config)?)
}

/// Extracts the account into the project: resumes an unfinished extraction, else starts the
/// first or (once there is one) a changes extraction; then writes its snapshot.
pub async fn extract(
    project: &Project,
    client: &mut UsercomClient,
    options: ExtractOptions,
    progress: &mut dyn FnMut(&ExtractEvent),
) -> Result<Outcome, ExtractError> {
    let api = project.usercom_api().ok_or_else(|| ExtractError::NotAnApiSource(project.dir.clone()))?.to_owned();
    let state = State::open(&project.dir)?;
    // A page lost with the last commits in a power cut is only read again (unlike apply's
    // intents, which guard against duplicates): no flush per page. A killed process loses none.
    state.set_synchronous(crate::state::Synchronous::Normal)?;
    let store = Store::open(&state)?;
    let extractions = store.extractions()?;
    let unfinished = extractions.iter().find(|extraction| extraction.finished_at.is_none()).cloned();
    let last_finished = extractions.iter().rev().find(|extraction| extraction.finished_at.is_some()).cloned();
    let (extraction, resumed) = match (unfinished, &last_finished, options.changes) {
        (Some(extraction), _, _) if extraction.api != api => {
            return Err(ExtractError::AnotherAccount { unfinished: extraction.api });
        }
        (Some(extraction), _, _) => (extraction, true),
        (None, None, Some(true)) => return Err(ExtractError::NothingToCompare),
        (None, None, _) => (store.begin("full", &api, None)?, false),
        (None, Some(last), Some(false)) => {
            return Err(ExtractError::AlreadyExtracted { snapshot: last.snapshot.clone().unwrap_or_default() });
        }
        (None, Some(last), _) => {
            (store.begin("changes", &api, Some(last.started_unix - CHANGES_OVERLAP_SECONDS))?, false)
        }
    };
    let pages_before = store.pages(extraction.id)?;
    progress(&ExtractEvent::Started {
        extraction: extraction.id,
        kind: extraction.kind.clone(),
        resumed,
        pages_before,
    });
    let mut walker = Walker { store: &store, client, extraction: &extraction, progress, absent: Vec::new() };

    for resource in snapshot::list_resources() {
        // Only the users are indispensable; the rest is taken where the API has it.
        walker.walk(resource, resource != "users/").await?;
    }
    let users = ids(&store.results(extraction.id, "users/")?);
    for segment in ids(&store.results(extraction.id, "segments/")?) {
        walker.walk(&format!("segments/{segment}/users/"), true).await?;
    }
    // Whose conversations to read: everyone the first time, and after purge removed what the
    // last extraction read; at cutover, the users changed since the last extraction and the users
    // it did not have. Events: everyone's, every time (the module's comment says why).
    let previous_purged = extraction.since.is_some() && store.purged(extraction.id - 1)?;
    let refetch: BTreeSet<u64> = match extraction.since {
        None => users.iter().copied().collect(),
        Some(_) if previous_purged => users.iter().copied().collect(),
        Some(since) => {
            let search = format!("users/search/?search=updated_at&min={since}&max={}", extraction.started_unix + 1);
            walker.walk(&search, false).await?;
            let changed: BTreeSet<u64> = ids(&store.results(extraction.id, &search)?).into_iter().collect();
            let mut refetch = BTreeSet::new();
            for user in &users {
                if changed.contains(user) || store.latest_done(extraction.id - 1, &events_of(*user))?.is_none() {
                    refetch.insert(*user);
                }
            }
            refetch
        }
    };
    let started = Instant::now();
    let requests_before = walker.client.stats.requests;
    for (done, user) in users.iter().enumerate() {
        walker.walk(&events_of(*user), true).await?;
        if refetch.contains(user) {
            let conversations = conversations_of(*user);
            walker.walk(&conversations, true).await?;
            for conversation in store.results(extraction.id, &conversations)? {
                let has_messages = conversation.get("messages").is_some_and(Value::is_array);
                if let (false, Some(id)) = (has_messages, conversation.get("id").and_then(as_id)) {
                    walker.walk(&format!("conversations/{id}/"), false).await?;
                }
            }
        }
        let done = done as u64 + 1;
        if done.is_multiple_of(50) || done == users.len() as u64 {
            let seconds = started.elapsed().as_secs_f64().max(1e-3);
            let per_second = done as f64 / seconds;
            walker.progress(&ExtractEvent::Users {
                done,
                of: users.len() as u64,
                per_second,
                eta_seconds: Some((users.len() as u64 - done) as f64 / per_second.max(1e-9)),
                requests: walker.client.stats.requests - requests_before,
            });
        }
    }
    let absent = std::mem::take(&mut walker.absent);
    let requests = walker.client.stats;

    let view = compose(&store, &extraction, &users)?;
    let snapshot = snapshot_dir(project, &extraction);
    let partial = snapshot.with_extension("partial");
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ExtractError::Io { path, source }
    };
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(io(&partial))?;
    }
    let rows = snapshot::write(&view, &partial).map_err(io(&partial))?;
    if snapshot.exists() {
        // A snapshot of an extraction that did not finish recording itself: this one replaces it.
        std::fs::remove_dir_all(&snapshot).map_err(io(&snapshot))?;
    }
    std::fs::rename(&partial, &snapshot).map_err(io(&snapshot))?;
    store.finish(extraction.id, &snapshot.display().to_string())?;
    Ok(Outcome {
        extraction: extraction.id,
        kind: extraction.kind.clone(),
        resumed,
        snapshot,
        rows,
        absent,
        pages_fetched: store.pages(extraction.id)? - pages_before,
        pages_before,
        requests,
        users_refetched: extraction.since.map(|_| refetch.len() as u64),
    })
}

/// The first extraction writes the project's export directory; each later one a directory of its
/// own beside it, which `delta --export` then moves.
fn snapshot_dir(project: &Project, extraction: &Extraction) -> PathBuf {
    let first = project.export_dir();
    if extraction.kind == "full" {
        return first;
    }
    let name = first.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    first.with_file_name(format!("{name}-changes-{}", extraction.id))
}

fn events_of(user: u64) -> String {
    format!("users/{user}/events/")
}

fn conversations_of(user: u64) -> String {
    format!("users/{user}/conversations/")
}

/// The ids of a list's items (each checked when its page was committed).
fn ids(items: &[Value]) -> Vec<u64> {
    items.iter().filter_map(|item| item.get("id").and_then(as_id)).collect()
}

/// What the snapshot holds: this extraction's lists; per user, the events and conversations
/// of the latest extraction that read them (this one for the users it read again).
fn compose(store: &Store<'_>, extraction: &Extraction, users: &[u64]) -> Result<View, ExtractError> {
    let mut view = View::default();
    for resource in snapshot::list_resources() {
        if let Some((id, false)) = store.latest_done(extraction.id, resource)?.filter(|(id, _)| *id == extraction.id) {
            view.lists.insert(resource.to_owned(), store.results(id, resource)?);
        }
    }
    for segment in view.lists.get("segments/").map(|segments| ids(segments)).unwrap_or_default() {
        let resource = format!("segments/{segment}/users/");
        if let Some((id, false)) = store.latest_done(extraction.id, &resource)? {
            view.segment_members.insert(segment, store.results(id, &resource)?);
        }
    }
    for user in users {
        if let Some((id, false)) = store.latest_done(extraction.id, &events_of(*user))? {
            view.events.insert(*user, store.results(id, &events_of(*user))?);
        }
        if let Some((id, false)) = store.latest_done(extraction.id, &conversations_of(*user))? {
            let mut conversations = store.results(id, &conversations_of(*user))?;
            for conversation in &mut conversations {
                if conversation.get("messages").is_some_and(Value::is_array) {
                    continue;
                }
                let Some(conversation_id) = conversation.get("id").and_then(as_id) else { continue };
                let detail = format!("conversations/{conversation_id}/");
                if let Some(messages) =
                    store.results(id, &detail)?.into_iter().next().and_then(|detail| detail.get("messages").cloned())
                {
                    conversation["messages"] = messages;
                }
            }
            view.conversations.insert(*user, conversations);
        }
    }
    Ok(view)
}

struct Walker<'a, 'p> {
    store: &'a Store<'a>,
    client: &'a mut UsercomClient,
    extraction: &'a Extraction,
    progress: &'p mut dyn FnMut(&ExtractEvent),
    absent: Vec<String>,
}

impl Walker<'_, '_> {
    fn progress(&mut self, event: &ExtractEvent) {
        (self.progress)(event);
    }

    /// Fetches a resource's pages from its last committed cursor to the end, committing each page
    /// with the cursor after it. `optional`: a 404 on the first page means the API has none.
    async fn walk(&mut self, resource: &str, optional: bool) -> Result<(), ExtractError> {
        let extraction = self.extraction.id;
        let cursor = self.store.cursor(extraction, resource)?;
        if cursor.as_ref().is_some_and(|cursor| cursor.done) {
            return Ok(());
        }
        let mut seq = cursor.as_ref().map_or(0, |cursor| cursor.pages);
        // A stored cursor is checked as an answer's `next` is: the account may have changed since.
        let mut url = match cursor.and_then(|cursor| cursor.next_url) {
            Some(url) => self.client.check_next(&url, resource, seq + 1)?,
            None => self.client.first_url(resource),
        };
        loop {
            seq += 1;
            let page = match self.client.page(resource, seq, &url).await {
                Err(UsercomError::NotFound { .. }) if optional && seq == 1 => {
                    self.store.mark_absent(extraction, resource)?;
                    if !resource.starts_with("users/") && !resource.starts_with("segments/") {
                        self.absent.push(resource.to_owned());
                        self.progress(&ExtractEvent::Absent { resource: resource.to_owned() });
                    }
                    return Ok(());
                }
                other => other?,
            };
            check_items(resource, seq, &page.results)?;
            if let Some(next) = &page.next
                && (*next == url || self.store.has_page_url(extraction, resource, next)?)
            {
                return Err(ExtractError::Loop { resource: resource.into(), page: seq, url: shown(next) });
            }
            self.store.commit_page(extraction, resource, seq, &url, &page.results, page.next.as_deref())?;
            if !resource.contains('/') || resource.matches('/').count() == 1 || resource.starts_with("users/search") {
                let requests = self.client.stats.requests;
                self.progress(&ExtractEvent::Page {
                    resource: resource.to_owned(),
                    page: seq,
                    items: page.results.len() as u64,
                    total: page.count,
                    requests,
                });
            }
            match page.next {
                Some(next) => url = next,
                None => return Ok(()),
            }
        }
    }
}

/// Each item an object with a whole-number `id` (what the snapshot's rows and every link rest on).
fn check_items(resource: &str, page: u64, items: &[Value]) -> Result<(), ExtractError> {
    for (index, item) in items.iter().enumerate() {
        let malformed = |field: &str, reason: &str| ExtractError::Malformed {
            resource: resource.to_owned(),
            page,
            index,
            field: field.to_owned(),
            reason: reason.to_owned(),
        };
        let Some(object) = item.as_object() else { return Err(malformed("(item)", "is not an object")) };
        match object.get("id") {
            Some(id) if as_id(id).is_some() => {}
            Some(_) => return Err(malformed("id", "is not a whole number")),
            None => return Err(malformed("id", "is missing")),
        }
    }
    Ok(())
}

/// A URL as a message may show it: the path and query only (the host is the account's).
fn shown(url: &str) -> String {
    reqwest::Url::parse(url)
        .map(|url| format!("{}{}", url.path(), url.query().map(|query| format!("?{query}")).unwrap_or_default()))
        .unwrap_or_default()
}
