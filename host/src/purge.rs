//! `crm-migrate purge`: once a migration is finished, removes the customer data it no longer
//! needs (what was sent for each record, each changed field's values, the reports that quote
//! records) and keeps the audit trail (ids, fates, Pipedrive ids, counts, runs, tokens, approvals).
//! SQLite keeps deleted content in free pages and in its write-ahead log, so the file is rebuilt
//! (VACUUM) and the log truncated: the values are gone from the disk, not only from the tables.

use std::path::PathBuf;

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::project::Project;
use crate::state::{STATE_FILE, State, StateError, now_utc};

/// One kind of customer data in state.db: how to count it and how to clear it. **The one list of
/// what purge clears**: a new journal table or column that keeps record values gets a line here.
#[derive(Debug, Clone, Copy)]
pub struct Cleared {
    /// What a person is told is removed, for `{count}` rows.
    pub what: &'static str,
    /// `SELECT COUNT(*) ...` of the rows that still hold such data.
    pub count: &'static str,
    /// The statement that clears it, leaving each row's ids and fate.
    pub clear: &'static str,
}

pub const CLEARED_IN_STATE: &[Cleared] = &[
    Cleared {
        what: "records.sent: the payload last sent to Pipedrive for each record",
        count: "SELECT COUNT(*) FROM records WHERE sent IS NOT NULL",
        clear: "UPDATE records SET sent = NULL WHERE sent IS NOT NULL",
    },
    Cleared {
        what: "changes.prior, changes.new: what each field updated by a later run was, and became",
        count: "SELECT COUNT(*) FROM changes WHERE prior <> '' OR new <> ''",
        clear: "UPDATE changes SET prior = '', new = '' WHERE prior <> '' OR new <> ''",
    },
    Cleared {
        what: "deletions.sent: the payload last sent for each record a delta deleted",
        count: "SELECT COUNT(*) FROM deletions WHERE sent IS NOT NULL",
        clear: "UPDATE deletions SET sent = NULL WHERE sent IS NOT NULL",
    },
    Cleared {
        // A reason can quote the value that did not fit ("users.csv, line 7, column 'email': 'x@y'").
        what: "records.detail of quarantined and excluded records: their reasons, which can quote values",
        count: "SELECT COUNT(*) FROM records WHERE fate IN ('quarantined', 'excluded') AND detail IS NOT NULL AND detail <> 'purged'",
        clear: "UPDATE records SET detail = 'purged' WHERE fate IN ('quarantined', 'excluded') AND detail IS NOT NULL AND detail <> 'purged'",
    },
    Cleared {
        what: "left_out.value: the values records were migrated without (they did not fit their fields)",
        count: "SELECT COUNT(*) FROM left_out WHERE value <> 'purged'",
        clear: "UPDATE left_out SET value = 'purged' WHERE value <> 'purged'",
    },
    Cleared {
        what: "usercom_pages: every page of records an extraction from User.com's API fetched",
        count: "SELECT COUNT(*) FROM usercom_pages",
        clear: "DELETE FROM usercom_pages",
    },
];

/// Reports (under `reports/`) that quote records, with what they hold. The others (plan,
/// reconciliation, the handoff's automations, segments, templates and summary) hold counts,
/// names of fields and rules, no record values, and stay.
pub const REMOVED_REPORTS: &[(&str, &str)] = &[
    ("quarantine.csv", "quarantined records, values left out of migrated records, and why"),
    ("billing-audit.csv", "every billable contact"),
    ("audit.md", "examples of values per problem"),
    ("audit.json", "examples of values per problem"),
    ("verification.md", "expected and actual values of mismatches"),
    ("verification.json", "expected and actual values of mismatches"),
    ("plugin-diff.md", "examples of values a plugin swap changes"),
    ("plugin-diff.json", "examples of values a plugin swap changes"),
    ("plugin-diff.csv", "every value a plugin swap changes"),
    ("handoff/billing.md", "the billing audit"),
    ("handoff/quarantine.md", "the quarantine"),
    ("handoff/handoff.html", "the whole handoff, billing and quarantine included"),
];

/// What stays, said to the person before they confirm.
pub const KEPT: &str = "kept: every record's id, fate and Pipedrive id, the counts, the runs and their tokens, the approvals \
    (with the approved mapping, whose reasons quote one example value per attribute), the workspace objects apply created, \
    reconciliation.md and plan.md";

/// What later commands can no longer do, said before and after.
pub const AFTERWARDS: &[&str] = &[
    "a delta can no longer tell which fields changed since apply: for each record it takes what it would send now as the \
     baseline (and journals it again: purge again after the last delta)",
    "the reasons of quarantined and excluded records now read 'purged'; audit, verify and report can write their reports \
     again from the export",
    "rollback still deletes what apply created (it needs only the ids), but cannot restore values a delta changed",
    "an `extract --changes` from User.com's API reads every user's events and conversations again, not only the changed \
     users' (the pages the earlier extraction kept are gone)",
];

/// `state.db`'s `meta` key recording when purge ran.
pub const PURGED_AT_KEY: &str = "purged_at";

/// Why purge refused; each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum PurgeError {
    #[error("nothing was migrated yet (state.db has no run): purge is for after a finished migration")]
    NoRun,
    #[error(
        "run {run_id} (started {started_at}) did not finish (killed or crashed); the journal still needs what was sent to \
         resume it: run `crm-migrate apply` (or the delta) again until it ends with done, then purge"
    )]
    Unfinished { run_id: i64, started_at: String },
    #[error(
        "run {run_id} ended '{outcome}', not done; finish the migration (run apply, or the delta, again), then purge"
    )]
    NotDone { run_id: i64, outcome: String },
    #[error(
        "creates sent without a recorded answer: {count}; run `crm-migrate apply` again to resolve them, then purge"
    )]
    OpenIntents { count: u64 },
    #[error(
        "state.db is in use by another crm-migrate command (its log could not be emptied); run purge again when it ends"
    )]
    Busy,
    #[error(transparent)]
    State(#[from] StateError),
    #[error("{}: {source}", .path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

/// One line of what purge will clear or did clear.
#[derive(Debug, Clone, Serialize)]
pub struct ClearedCount {
    pub what: &'static str,
    pub rows: u64,
}

/// A report purge removes, and the customer data it holds.
#[derive(Debug, Clone, Serialize)]
pub struct ReportToRemove {
    pub path: PathBuf,
    pub holds: &'static str,
}

/// What purge will remove (shown before the person confirms).
#[derive(Debug, Clone, Serialize)]
pub struct PurgePreview {
    pub state: Vec<ClearedCount>,
    /// Reports that exist and will be removed.
    pub reports: Vec<ReportToRemove>,
    pub kept: &'static str,
    pub afterwards: &'static [&'static str],
}

/// What purge did.
#[derive(Debug, Clone, Serialize)]
pub struct PurgeOutcome {
    pub state: Vec<ClearedCount>,
    pub reports_removed: Vec<PathBuf>,
    pub state_bytes_before: u64,
    pub state_bytes_after: u64,
    pub afterwards: &'static [&'static str],
}

/// Checks that the migration is finished and counts what purge would remove.
pub fn preview(project: &Project) -> Result<PurgePreview, PurgeError> {
    let state = State::open(&project.dir)?;
    require_finished(&state)?;
    let mut counts = Vec::new();
    for cleared in CLEARED_IN_STATE {
        let rows: i64 =
            state.connection().query_row(cleared.count, [], |row| row.get(0)).map_err(|error| state.error(error))?;
        counts.push(ClearedCount { what: cleared.what, rows: rows as u64 });
    }
    let reports = REMOVED_REPORTS
        .iter()
        .map(|(file, holds)| ReportToRemove { path: project.reports_dir().join(file), holds })
        .filter(|report| report.path.exists())
        .collect();
    Ok(PurgePreview { state: counts, reports, kept: KEPT, afterwards: AFTERWARDS })
}

/// Removes what [`preview`] lists: clears the values in one transaction, rebuilds state.db so
/// nothing of them is left in free pages or the log, then deletes the reports.
pub fn purge(project: &Project) -> Result<PurgeOutcome, PurgeError> {
    let path = project.dir.join(STATE_FILE);
    let bytes = || state_bytes(&path);
    let state_bytes_before = bytes();
    let state = State::open(&project.dir)?;
    require_finished(&state)?;
    let connection = state.connection();
    let error = |error| state.error(error);
    // Pages freed by the updates are zeroed too, should VACUUM below not run to its end.
    connection.pragma_update(None, "secure_delete", "ON").map_err(error)?;
    connection.execute_batch("BEGIN IMMEDIATE").map_err(error)?;
    let mut counts = Vec::new();
    let cleared = (|| {
        for cleared in CLEARED_IN_STATE {
            let rows = connection.execute(cleared.clear, [])?;
            counts.push(ClearedCount { what: cleared.what, rows: rows as u64 });
        }
        connection
            .execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)", params![PURGED_AT_KEY, now_utc()])?;
        connection.execute_batch("COMMIT")
    })();
    if let Err(failure) = cleared {
        let _ = connection.execute_batch("ROLLBACK");
        return Err(error(failure).into());
    }
    connection.execute_batch("VACUUM").map_err(error)?;
    // The log still holds the pages as they were before the updates: copy what is current into
    // the file and empty the log.
    let (busy, _, _): (i64, i64, i64) = connection
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
        .map_err(error)?;
    if busy != 0 {
        return Err(PurgeError::Busy);
    }
    drop(state);
    let mut reports_removed = Vec::new();
    for (file, _) in REMOVED_REPORTS {
        let report = project.reports_dir().join(file);
        match std::fs::remove_file(&report) {
            Ok(()) => reports_removed.push(report),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(PurgeError::Io { path: report, source }),
        }
    }
    Ok(PurgeOutcome {
        state: counts,
        reports_removed,
        state_bytes_before,
        state_bytes_after: bytes(),
        afterwards: AFTERWARDS,
    })
}

/// Purge needs a migration that ended: a run that did not may be resumed, and resuming needs what
/// was sent.
fn require_finished(state: &State) -> Result<(), PurgeError> {
    let error = |error| state.error(error);
    let last: Option<(i64, String, Option<String>)> = state
        .connection()
        .query_row("SELECT id, started_at, outcome FROM runs ORDER BY id DESC LIMIT 1", [], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .optional()
        .map_err(error)?;
    match last {
        None => return Err(PurgeError::NoRun),
        Some((run_id, started_at, None)) => return Err(PurgeError::Unfinished { run_id, started_at }),
        Some((run_id, _, Some(outcome))) if outcome != "done" => return Err(PurgeError::NotDone { run_id, outcome }),
        Some(_) => {}
    }
    let open: i64 = state
        .connection()
        .query_row("SELECT COUNT(*) FROM records WHERE fate = 'intent'", [], |row| row.get(0))
        .map_err(error)?;
    if open > 0 {
        return Err(PurgeError::OpenIntents { count: open as u64 });
    }
    Ok(())
}

/// state.db with its log and shared-memory files, in bytes.
fn state_bytes(path: &std::path::Path) -> u64 {
    ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            std::fs::metadata(PathBuf::from(name)).map_or(0, |metadata| metadata.len())
        })
        .sum()
}

/// The preview as a person reads it.
pub fn preview_text(preview: &PurgePreview) -> String {
    use std::fmt::Write;
    let mut out = String::from("purge removes the customer data this finished migration no longer needs:\n");
    for count in &preview.state {
        let _ = writeln!(out, "  state.db, {} rows: {}", crate::report::thousands(count.rows), count.what);
    }
    if preview.reports.is_empty() {
        out.push_str("  reports: none of the reports that quote records is there\n");
    }
    for report in &preview.reports {
        let _ = writeln!(out, "  {} ({})", report.path.display(), report.holds);
    }
    let _ = writeln!(out, "{}", preview.kept);
    out.push_str("afterwards:\n");
    for line in preview.afterwards {
        let _ = writeln!(out, "  - {line}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cleared_statement_is_valid_sql_on_todays_schema() {
        let dir = tempfile::tempdir().unwrap();
        let state = State::open(dir.path()).unwrap();
        for cleared in CLEARED_IN_STATE {
            state
                .connection()
                .query_row(cleared.count, [], |row| row.get::<_, i64>(0))
                .unwrap_or_else(|error| panic!("{}: {error}", cleared.count));
            state.connection().execute(cleared.clear, []).unwrap_or_else(|error| panic!("{}: {error}", cleared.clear));
        }
    }
}
