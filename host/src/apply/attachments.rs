//! Attachments: the files chat messages link to (see [`crate::attachments`] for why that is the
//! one place User.com shows a file) go to Pipedrive's Files, on the person of the message's
//! conversation, after the notes phase. Each is fetched under the project's rules (allowed hosts,
//! https, size, time), then uploaded (`POST /v1/files`, multipart, `person_id`) and journalled as
//! a record is: an intent before the upload (with the name, size and person), the file's id after
//! its answer. A run stopped between the two looks for the file among the person's files (same
//! name and size, not journalled for another attachment) before it uploads again, so a kill never
//! leaves a file twice. A file that may not or could not be fetched is left out with the reason;
//! its conversation and person migrate all the same. Rollback deletes the files the journal lists
//! ([`remove`]), before the persons.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use tokio::task::JoinSet;

use crate::attachments::{Link, Policy, links_in};
use crate::pipedrive::{ClientError, FileRecord, NewFile, PipedriveClient};
use crate::record::ObjectKind;
use crate::report::{Document, thousands, value, words};

use super::ApplyError;
use super::payload::Links;
use crate::journal::{Entry, Fate, Journal};
use crate::source::{Source, conversation_of};

/// The journal's `object` of attachments: one row per link, keyed `MESSAGE/N` (the message's id,
/// the link's place in it), the file's id as its Pipedrive id, [`Journalled`] as JSON in `detail`.
pub const ATTACHMENT: &str = "attachment";

/// A file link of a message, with what it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Found {
    /// `MESSAGE/N`
    pub key: String,
    pub conversation: String,
    pub contact: String,
    pub link: Link,
}

/// What the journal keeps of an attachment, to find it again and to verify it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Journalled {
    pub name: String,
    pub size: u64,
    pub person: u64,
}

impl Journalled {
    pub fn of(entry: &Entry) -> Option<Journalled> {
        serde_json::from_str(entry.detail.as_deref()?).ok()
    }
}

/// What the step did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct AttachmentsOutcome {
    /// File links in the run's messages.
    pub found: u64,
    /// Uploaded by this run, and their bytes.
    pub created: u64,
    pub bytes: u64,
    /// Uploaded before (an earlier run, or found uploaded after a kill).
    pub existing: u64,
    /// Links not moved, each with why (`message 70001: https://...: reason`).
    pub left_out: Vec<String>,
    pub tokens: u64,
}

/// Every file link of the source's messages, in file order.
pub fn found(source: &Source) -> Result<Vec<Found>, crate::source::SpoolError> {
    let mut found = Vec::new();
    for message in source.records(ObjectKind::Conversation) {
        let message = message?;
        let Some(content) = message.get("content").map(crate::profile::plain) else { continue };
        let contact = message.get("contact_id").map(crate::profile::plain).unwrap_or_default();
        for (index, link) in links_in(&content).into_iter().enumerate() {
            found.push(Found {
                key: format!("{}/{}", message.source_id, index + 1),
                conversation: conversation_of(&message),
                contact: contact.clone(),
                link,
            });
        }
    }
    Ok(found)
}

/// Files of the account by (person, name, size), less those the journal has: where an open
/// intent's upload is looked for.
async fn unjournalled_files(
    client: &PipedriveClient,
    journalled: &HashMap<String, Entry>,
) -> Result<HashMap<(u64, String, u64), Vec<u64>>, ClientError> {
    let taken: HashSet<u64> = journalled.values().filter_map(|entry| entry.pipedrive_id).collect();
    let mut files: HashMap<(u64, String, u64), Vec<u64>> = HashMap::new();
    for file in client.files().await? {
        if let (Some(person), false) = (file.person_id, taken.contains(&file.id)) {
            files.entry((person, name_of(&file), file.file_size.unwrap_or(0))).or_default().push(file.id);
        }
    }
    Ok(files)
}

/// The name a person sees (`name`; `file_name` is Pipedrive's stored name).
pub fn name_of(file: &FileRecord) -> String {
    file.name.clone().or_else(|| file.file_name.clone()).unwrap_or_default()
}

enum Done {
    Fetched(Found, u64, Result<Vec<u8>, crate::attachments::Refusal>),
    Uploaded(Found, Journalled, Result<FileRecord, ClientError>),
}

/// Moves the run's attachments, after the notes phase: files uploaded before are left as they
/// are, open intents are looked for before they are uploaded again.
pub async fn run(
    client: &Arc<PipedriveClient>,
    journal: &Journal,
    source: &Source,
    links: &Links,
    policy: &Policy,
    concurrency: usize,
) -> Result<AttachmentsOutcome, ApplyError> {
    let tokens_before = client.bill().tokens();
    let found = found(source)?;
    let mut outcome = AttachmentsOutcome { found: found.len() as u64, ..AttachmentsOutcome::default() };
    if found.is_empty() {
        return Ok(outcome);
    }
    let conversations = journal.fates(ObjectKind::Conversation)?;
    let migrated: HashSet<&str> = conversations
        .iter()
        .filter(|(_, entry)| entry.fate == Fate::Created)
        .map(|(id, _)| crate::plan::limits::conversation_of_part(id))
        .collect();
    let journalled = journal.entries_of(ATTACHMENT)?;
    let mut open_files = if journalled.values().any(|entry| entry.fate == Fate::Intent) {
        Some(unjournalled_files(client, &journalled).await?)
    } else {
        None
    };
    let mut queue = Vec::new();
    for item in found {
        if journalled.get(&item.key).is_some_and(|entry| entry.fate == Fate::Created) {
            outcome.existing += 1;
            continue;
        }
        let left_out =
            |why: String| format!("message {}: {}: {why}", item.key, crate::untrusted::escape(&item.link.url));
        if !migrated.contains(item.conversation.as_str()) {
            outcome.left_out.push(left_out(format!(
                "its conversation {} was not migrated (see the conversations' fates)",
                item.conversation
            )));
            continue;
        }
        let Some(person) = links.person(&item.contact) else {
            outcome.left_out.push(left_out(format!("its contact {} has no person", item.contact)));
            continue;
        };
        if let Err(refusal) = policy.check(&item.link.url) {
            outcome.left_out.push(left_out(refusal.to_string()));
            continue;
        }
        queue.push((item, person));
    }
    let mut stop: Option<ApplyError> = None;
    let mut in_flight: JoinSet<Done> = JoinSet::new();
    let mut queue = queue.into_iter();
    loop {
        while stop.is_none() && in_flight.len() < concurrency.max(1) {
            let Some((item, person)) = queue.next() else { break };
            let policy = policy.clone();
            in_flight.spawn(async move {
                let fetched = policy.download(&item.link.url).await;
                Done::Fetched(item, person, fetched)
            });
        }
        let Some(joined) = in_flight.join_next().await else { break };
        let done = joined.map_err(|source| ApplyError::Task { what: "attachment", source })?;
        match done {
            Done::Fetched(item, _, Err(refusal)) => {
                outcome.left_out.push(format!(
                    "message {}: {}: {refusal}",
                    item.key,
                    crate::untrusted::escape(&item.link.url)
                ));
            }
            Done::Fetched(item, person, Ok(bytes)) => {
                if stop.is_some() {
                    continue;
                }
                let journalled_as = Journalled { name: item.link.name.clone(), size: bytes.len() as u64, person };
                let lookup = (person, journalled_as.name.clone(), journalled_as.size);
                let uploaded_before =
                    journalled.get(&item.key).filter(|entry| entry.fate == Fate::Intent).and_then(|_| {
                        let ids = open_files.as_mut()?.get_mut(&lookup)?;
                        (!ids.is_empty()).then(|| ids.remove(0))
                    });
                let detail = serde_json::to_string(&journalled_as).expect("plain data serializes");
                if let Some(id) = uploaded_before {
                    journal.set_row(ATTACHMENT, &item.key, Fate::Created, Some(id), Some(&detail))?;
                    outcome.existing += 1;
                    continue;
                }
                journal.set_row(ATTACHMENT, &item.key, Fate::Intent, None, Some(&detail))?;
                let client = client.clone();
                in_flight.spawn(async move {
                    let file = NewFile {
                        file_name: item.link.name.clone(),
                        bytes,
                        person_id: Some(person),
                        ..NewFile::default()
                    };
                    let result = client.upload_file(&file).await;
                    Done::Uploaded(item, journalled_as, result)
                });
            }
            Done::Uploaded(item, journalled_as, result) => match result {
                Ok(file) => {
                    let detail = serde_json::to_string(&journalled_as).expect("plain data serializes");
                    journal.set_row(ATTACHMENT, &item.key, Fate::Created, Some(file.id), Some(&detail))?;
                    outcome.created += 1;
                    outcome.bytes += journalled_as.size;
                }
                Err(ClientError::Rejected { status, message, .. }) => {
                    journal.forget_row(ATTACHMENT, &item.key)?;
                    outcome.left_out.push(format!(
                        "message {}: {}: Pipedrive refused the file ({status}): {message}",
                        item.key, journalled_as.name
                    ));
                }
                // Left as an open intent: the next run looks for it before uploading it again.
                Err(ClientError::WriteOutcomeUnknown { .. } | ClientError::GaveUp { .. }) => {
                    outcome.left_out.push(format!(
                        "message {}: {}: the upload was sent, its outcome is unknown: run apply again",
                        item.key, journalled_as.name
                    ));
                }
                Err(error) => {
                    if stop.is_none() {
                        stop = Some(error.into());
                    }
                }
            },
        }
    }
    outcome.tokens = client.bill().tokens() - tokens_before;
    match stop {
        Some(error) => Err(error),
        None => Ok(outcome),
    }
}

/// Deletes the files apply uploaded that `which` takes (an open intent's upload is looked for
/// first), then reads each again: one still there is residue. Returns how many were deleted.
pub async fn remove(
    client: &PipedriveClient,
    journal: &Journal,
    which: impl Fn(&Entry) -> bool,
    residue: &mut Vec<String>,
) -> Result<u64, ApplyError> {
    let journalled = journal.entries_of(ATTACHMENT)?;
    let chosen: BTreeMap<&String, &Entry> = journalled.iter().filter(|(_, entry)| which(entry)).collect();
    let mut open_files = if chosen.values().any(|entry| entry.fate == Fate::Intent) {
        Some(unjournalled_files(client, &journalled).await?)
    } else {
        None
    };
    let mut deleted = 0;
    for (key, entry) in chosen {
        let id = match (entry.fate, entry.pipedrive_id) {
            (Fate::Created, Some(id)) => Some(id),
            _ => Journalled::of(entry).and_then(|file| {
                let ids = open_files.as_mut()?.get_mut(&(file.person, file.name, file.size))?;
                (!ids.is_empty()).then(|| ids.remove(0))
            }),
        };
        if let Some(id) = id {
            match client.delete_file(id).await {
                Ok(()) | Err(ClientError::NotFound { .. }) => {}
                Err(error) => return Err(error.into()),
            }
            match client.file(id).await {
                Ok(_) => residue.push(format!("file (Pipedrive id {id}, attachment {key}) is still there")),
                Err(ClientError::NotFound { .. }) => deleted += 1,
                Err(error) => return Err(error.into()),
            }
        }
        journal.forget_row(ATTACHMENT, key)?;
    }
    Ok(deleted)
}

/// The section of reconciliation.md: the files moved and each link left out with its reason
/// (URLs and names come from the export: escaped).
pub fn section(doc: &mut Document, outcome: &AttachmentsOutcome) {
    doc.section("Attachments: files linked in chat messages");
    doc.paragraph(words(format!(
        "{} file links; {} uploaded by this run ({} bytes), {} uploaded before, {} left out ({} tokens).",
        thousands(outcome.found),
        thousands(outcome.created),
        thousands(outcome.bytes),
        thousands(outcome.existing),
        thousands(outcome.left_out.len() as u64),
        thousands(outcome.tokens)
    )));
    doc.list(outcome.left_out.iter().map(value));
}
