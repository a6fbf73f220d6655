//! What `synchronous = FULL` costs the journal: journal writes per second on state.db under
//! NORMAL and FULL, measured in the same run on the same disk (the target directory, not a
//! tmpfs), and what that means next to the fastest apply Pipedrive allows.
//!
//! ```text
//! cargo bench -p crm-migrate --bench journal_sync_bench            # release build
//! cargo test -p crm-migrate --bench journal_sync_bench -- 2000      # quicker build, same disk cost
//! ```
//!
//! Each create is journalled as apply does it: the intent before the request is sent, then the
//! fate with the Pipedrive id, then what was sent: three autocommitted writes.

use std::time::Instant;

use crm_migrate::apply::journal::{Fate, Journal, RunKind};
use crm_migrate::record::ObjectKind;
use crm_migrate::state::{State, Synchronous};

/// Writes per create: intent, created, sent.
const WRITES_PER_CREATE: u64 = 3;

fn main() {
    let creates: u64 = std::env::args().skip(1).find_map(|arg| arg.parse().ok()).unwrap_or(1000);
    let sent = serde_json::json!({ "name": "Jane Doe", "emails": [{ "value": "jane@example.com", "primary": true }], "owner_id": 1 }).to_string();
    let mut best = std::collections::BTreeMap::new();
    // Interleaved rounds, best of each: a neighbour's burst of disk writes hits one round, not one level.
    for _round in 0..3 {
        for level in [Synchronous::Normal, Synchronous::Full] {
            let rate = journal_writes_per_second(level, creates, &sent);
            let entry = best.entry(level.as_str()).or_insert(0.0f64);
            *entry = entry.max(rate);
        }
    }
    let (normal, full) = (best["NORMAL"], best["FULL"]);
    // The fastest apply: Ultimate's 120 requests per 2 s, one create each.
    let fastest_apply = f64::from(pipedrive_api::Plan::Ultimate.burst_limit()) / pipedrive_api::BURST_WINDOW.as_secs_f64() * WRITES_PER_CREATE as f64;
    println!("journal writes per second ({creates} creates x {WRITES_PER_CREATE} writes, best of 3, WAL):");
    println!("  synchronous = NORMAL  {normal:>10.0}");
    println!("  synchronous = FULL    {full:>10.0}   ({:.1}x slower than NORMAL)", normal / full);
    println!("  the fastest apply (Ultimate, 60 creates/s) needs {fastest_apply:.0} writes/s: FULL leaves {:.1}x headroom", full / fastest_apply);
}

/// Journals `creates` creates through the real journal, with the connection's `synchronous` set to
/// `level`, and returns writes per second.
fn journal_writes_per_second(level: Synchronous, creates: u64, sent: &str) -> f64 {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("a directory on the target's disk");
    let state = State::open(dir.path()).expect("state opens");
    state.set_synchronous(level).expect("pragma set");
    let journal = Journal::start(state, RunKind::Full, "sha256:bench").expect("run starts");
    let started = Instant::now();
    for index in 0..creates {
        let id = format!("u{index}");
        journal.set(ObjectKind::Contact, &id, Fate::Intent, None, None).unwrap();
        journal.set(ObjectKind::Contact, &id, Fate::Created, Some(index + 1), None).unwrap();
        journal.set_sent(ObjectKind::Contact, &id, sent).unwrap();
    }
    (creates * WRITES_PER_CREATE) as f64 / started.elapsed().as_secs_f64()
}
