//! What plan says of attachments: the file links in the export's chat messages (the one place a
//! User.com file shows, see [`crate::attachments`]), how many apply may fetch under the
//! project's `[attachments]` rules, and which are not migrated and why (a host not allowed,
//! plain http), by host; their uploads in the token bill. Sizes are known only once a file is
//! fetched: apply's reconciliation.md gives the bytes moved.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::attachments::Policy;
use crate::plan::bill::{Bill, PhaseBill, line};
use crate::profile::SourceProfile;

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
pub fn markdown(out: &mut String, plan: &AttachmentsPlan) {
    if plan.conversation_files == 0 {
        return;
    }
    let _ = writeln!(
        out,
        "## Attachments\n\n| Object | Files | Migrated to | Size |\n|---|---|---|---|\n| conversations (links in messages) | {} | {} files on the conversation's person | each up to {} bytes, known once fetched |\n| contacts, companies, deals | 0 | not migrated: User.com's API has no file attribute or files endpoint | |\n",
        plan.conversation_files, plan.to_fetch, plan.max_bytes
    );
    if !plan.not_migrated.is_empty() {
        let _ = writeln!(out, "Not migrated ([attachments] in migration.toml decides):\n");
        for (why, links) in &plan.not_migrated {
            let _ = writeln!(out, "- {links} links: {}", crate::untrusted::markdown(why));
        }
        let _ = writeln!(out);
    }
}
