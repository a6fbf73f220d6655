//! `purge`'s outcome as text: what was cleared and removed, the file rebuilt, and what changes
//! from now on (the preview is `purge::preview_text`).

use std::fmt::Write as _;

use crate::audit::report::thousands;
use crate::purge::PurgeOutcome;

/// What a purge removed.
pub fn outcome_text(outcome: &PurgeOutcome) -> String {
    let mut text = String::new();
    for count in &outcome.state {
        let _ = writeln!(text, "  cleared {} rows: {}", thousands(count.rows), count.what);
    }
    for path in &outcome.reports_removed {
        let _ = writeln!(text, "  removed {}", path.display());
    }
    let _ = writeln!(
        text,
        "state.db rebuilt: {} -> {} bytes (the cleared values are gone from the file, not only from the tables)",
        thousands(outcome.state_bytes_before),
        thousands(outcome.state_bytes_after)
    );
    text.push_str("from now on:\n");
    for line in outcome.afterwards {
        let _ = writeln!(text, "  - {line}");
    }
    text
}
