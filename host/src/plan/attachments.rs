//! What plan says of attachments: the file links in the export's chat messages (the one place a
//! User.com file shows, see [`crate::attachments`]), how many apply may fetch under the
//! project's `[attachments]` rules, and which are not migrated and why (a host not allowed,
//! plain http), by host; their uploads in the token bill. Sizes are known only once a file is
//! fetched: apply's reconciliation.md gives the bytes moved.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::attachments::Policy;
use crate::plan::bill::{Bill, PhaseBill, line};
use crate::profile::SourceProfile;
use crate::report::{Document, Table, number, thousands, words};

/// The attachments apply will try to move.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AttachmentsPlan {
    /// File links in conversations' messages (User.com has no files on contacts, companies or deals).
    pub conversation_files: u64,
    /// Of those, the ones the project's rules let apply fetch (each then within max_bytes).
    pub to_fetch: u64,
    pub max_bytes: u64,
    /// Not migrated, by reason (`host example.net is not an allowed host`) -> links.
    pub not_migrated: BTreeMap<String, u64>,
}

pub fn measure(profile: &SourceProfile, policy: &Policy) -> AttachmentsPlan {
    let mut plan = AttachmentsPlan {
        conversation_files: profile.file_links.len() as u64,
        max_bytes: policy.max_bytes,
        ..AttachmentsPlan::default()
    };
    for link in &profile.file_links {
        match policy.check(&link.url) {
            Ok(_) => plan.to_fetch += 1,
            Err(refusal) => *plan.not_migrated.entry(refusal.to_string()).or_default() += 1,
        }
    }
    plan
}

/// The uploads, as a phase of the bill after the notes.
pub fn bill(bill: &mut Bill, plan: &AttachmentsPlan) {
    if plan.to_fetch > 0 {
        let lines = vec![line("upload files", "POST", "/v1/files", plan.to_fetch)];
        bill.add_phase_after("notes", PhaseBill { phase: "attachments", records: plan.to_fetch, lines });
    }
}

/// plan.md's section (none when the export links no file). Reasons name hosts from the export:
/// escaped.
pub fn section(doc: &mut Document, plan: &AttachmentsPlan) {
    if plan.conversation_files == 0 {
        return;
    }
    doc.section("Attachments");
    let mut table = Table::new(["Object", "Files", "Migrated to", "Size"]).figures([1]);
    table.row([
        words("conversations (links in messages)"),
        number(plan.conversation_files),
        words(format!("{} files on the conversation's person", thousands(plan.to_fetch))),
        words(format!("each up to {} bytes, known once fetched", thousands(plan.max_bytes))),
    ]);
    table.row([
        words("contacts, companies, deals"),
        number(0),
        words("not migrated: User.com's API has no file attribute or files endpoint"),
        words(""),
    ]);
    doc.table(table);
    if !plan.not_migrated.is_empty() {
        doc.paragraph("Not migrated ([attachments] in migration.toml decides):");
        doc.list(
            plan.not_migrated.iter().map(|(why, links)| words(format!("{} links: ", thousands(*links))).value(why)),
        );
    }
}
