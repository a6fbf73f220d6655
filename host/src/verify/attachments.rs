//! Attachments read back: each file apply uploaded (the journal lists it with the name, size and
//! person it was sent with) is read by its id (`GET /v1/files/{id}`, 2 tokens) and must be there,
//! on that person, with that name and that many bytes. File links of the export's messages that
//! the journal does not list are counted: apply's reconciliation.md gives each one's reason.

use serde::Serialize;

use crate::apply::ApplyError;
use crate::apply::attachments::{ATTACHMENT, Journalled, found, name_of};
use crate::journal::{Fate, Journal};
use crate::pipedrive::{ClientError, PipedriveClient};
use crate::report::{Document, thousands, value, words};
use crate::source::Source;

/// What the read back found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AttachmentsCheck {
    pub verified: u64,
    pub bytes: u64,
    /// File links in the export not uploaded (left out by apply with a reason, or not yet run).
    pub not_migrated: u64,
    /// Files missing or different in Pipedrive, each a line.
    pub missing: Vec<String>,
}

pub async fn check(
    client: &PipedriveClient,
    journal: &Journal,
    source: &Source,
) -> Result<AttachmentsCheck, ApplyError> {
    let mut checked = AttachmentsCheck::default();
    let journalled = journal.entries_of(ATTACHMENT)?;
    let mut keys: Vec<&String> = journalled.keys().collect();
    keys.sort();
    for key in keys {
        let entry = &journalled[key];
        let (Fate::Created, Some(id), Some(sent)) = (entry.fate, entry.pipedrive_id, Journalled::of(entry)) else {
            checked.missing.push(format!("attachment {key}: its upload's outcome is unknown: run apply again"));
            continue;
        };
        match client.file(id).await {
            Ok(file) => {
                let (name, size) = (name_of(&file), file.file_size.unwrap_or(0));
                if name == sent.name && size == sent.size && file.person_id == Some(sent.person) {
                    checked.verified += 1;
                    checked.bytes += size;
                } else {
                    checked.missing.push(format!(
                        "attachment {key} (file {id}): Pipedrive holds '{name}', {size} bytes on person {}; sent '{}', {} bytes on person {}",
                        file.person_id.map_or("none".to_owned(), |person| person.to_string()),
                        sent.name,
                        sent.size,
                        sent.person
                    ));
                }
            }
            Err(ClientError::NotFound { .. }) => {
                checked.missing.push(format!("attachment {key} (file {id}, '{}'): missing in Pipedrive", sent.name))
            }
            Err(error) => return Err(error.into()),
        }
    }
    checked.not_migrated = found(source)
        .map_err(crate::apply::ApplyError::from)?
        .iter()
        .filter(|item| !journalled.contains_key(&item.key))
        .count() as u64;
    Ok(checked)
}

/// The section of verification.md (none when the export links no file). Names come from the
/// export: escaped.
pub fn section(doc: &mut Document, check: &AttachmentsCheck) {
    if check.verified == 0 && check.not_migrated == 0 && check.missing.is_empty() {
        return;
    }
    doc.section("Attachments");
    doc.paragraph(words(format!(
        "{} files verified ({} bytes), {} differences; {} file links of the export not migrated (apply's reconciliation.md gives each reason).",
        thousands(check.verified),
        thousands(check.bytes),
        thousands(check.missing.len() as u64),
        thousands(check.not_migrated)
    )));
    doc.list(check.missing.iter().map(value));
}
