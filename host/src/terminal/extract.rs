//! `extract` as text: each page and user batch as it goes, and what the extraction read.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use crate::audit::report::thousands;
use crate::pipedrive::human_duration;
use crate::untrusted::escape;
use crate::usercom::{ExtractEvent, Outcome};

/// One progress event on one line (for standard error).
pub fn event_text(event: &ExtractEvent) -> String {
    match event {
        ExtractEvent::Started { extraction, kind, resumed: true, pages_before } => {
            format!("resuming extraction {extraction} ({kind}): {pages_before} pages already read are not read again")
        }
        ExtractEvent::Started { extraction, kind, .. } => format!("extraction {extraction} ({kind})"),
        ExtractEvent::Page { resource, page, items, total, requests } => format!(
            "  {}: page {page}, {items} records{}; {requests} requests",
            escape(resource),
            total.map(|total| format!(" (of {total})")).unwrap_or_default()
        ),
        ExtractEvent::Users { done, of, per_second, eta_seconds, requests } => format!(
            "  events and conversations: {done} of {of} users, {per_second:.1} a second, about {} left; {requests} requests",
            human_duration(Duration::from_secs_f64(eta_seconds.unwrap_or(0.0)))
        ),
        ExtractEvent::Absent { resource } => {
            format!("  {}: not in this account's API (404), left out", escape(resource))
        }
    }
}

/// What an extraction read, and the next command to run in `project_dir`.
pub fn outcome_text(outcome: &Outcome, project_dir: &Path) -> String {
    let mut text = format!(
        "extracted ({}{}) into {}: {} pages read now, {} before; {} requests ({} answered 429, {} retried)\n",
        outcome.kind,
        if outcome.resumed { ", resumed" } else { "" },
        outcome.snapshot.display(),
        outcome.pages_fetched,
        outcome.pages_before,
        outcome.requests.requests,
        outcome.requests.throttled,
        outcome.requests.retried
    );
    for (file, rows) in &outcome.rows {
        let _ = writeln!(text, "  {file:<22} {:>9}", thousands(*rows));
    }
    if let Some(users) = outcome.users_refetched {
        let _ = writeln!(
            text,
            "  events read again for every user; conversations for the {users} users changed or new since the last extraction"
        );
    }
    if !outcome.absent.is_empty() {
        let _ = writeln!(text, "  not in this account's API: {}", outcome.absent.join(", "));
    }
    if outcome.kind == "full" {
        let _ = writeln!(text, "next: crm-migrate -C {} audit", project_dir.display());
    } else {
        let _ = writeln!(
            text,
            "next: crm-migrate -C {} delta --export {}",
            project_dir.display(),
            outcome.snapshot.display()
        );
    }
    text
}
