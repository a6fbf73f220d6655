//! `approve` as text and JSON: the mapping under review, what changed since the last approval
//! (and what a swapped plugin changes), and the approval recorded.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Value, json};

use crate::approve::Review;
use crate::plugin_diff::Swap;
use crate::state::Approval;
use crate::untrusted::escape;

/// The mapping is approved already, as it is now.
pub fn already_approved_text(review: &Review, previous: &Approval) -> String {
    format!(
        "{} is already approved, unchanged ({} at {}; {})\n",
        review.path.display(),
        previous.approved_by,
        previous.approved_at,
        review.digest
    )
}

/// `approve --json` when the mapping is approved already.
pub fn already_approved_json(review: &Review, previous: &Approval) -> Value {
    json!({"approved": true, "digest": review.digest, "approved_by": previous.approved_by, "approved_at": previous.approved_at, "changed": false})
}

/// What a person approves: the mapping's summary, its plugins, export and target, and the diff
/// since the last approval with what each swapped plugin changes on the export.
pub fn review_text(review: &Review, swaps: &[Swap]) -> String {
    let counts = crate::plan::report::entry_counts(&review.mapping);
    let mut text = format!("{} ({})\n", review.path.display(), review.digest);
    let _ = writeln!(text, "  {counts}");
    let _ = writeln!(
        text,
        "  {} agents, {} pipelines, {} activity types mapped; checked against the workspace read at {}",
        review.mapping.agents.len(),
        review.mapping.pipelines.len(),
        review.mapping.activity_types.len(),
        review.workspace.taken_at
    );
    let plugins = review.basis.plugins.iter().map(|pin| format!("{} {}", pin.hook, pin.digest)).collect::<Vec<_>>();
    let _ = writeln!(text, "  plugins: {}", if plugins.is_empty() { "none".to_owned() } else { plugins.join(", ") });
    let _ = writeln!(text, "  export: {} files; target: {}", review.basis.export.len(), review.basis.target_url);
    let _ = match (&review.previous, &review.diff) {
        (Some(previous), Some(diff)) => {
            writeln!(text, "changed since {} approved it at {}:\n{diff}", previous.approved_by, previous.approved_at)
        }
        (Some(_), None) => writeln!(text, "  the mapping is unchanged since the last approval"),
        _ => writeln!(
            text,
            "  first approval of this project's mapping (the full text is recorded; the next approval shows a diff)"
        ),
    };
    for change in &review.basis_changes {
        let _ = writeln!(text, "  changed since the last approval: {change}");
    }
    for (hook, swap) in swaps {
        let _ = match swap {
            Ok(diff) => write!(text, "what the swapped {hook} plugin changes on this export: {}", diff.summary()),
            Err(error) => writeln!(
                text,
                "  the {hook} plugin changed; what it changes cannot be shown: {}",
                escape(&error.to_string())
            ),
        };
    }
    text
}

/// The approval recorded, and the next command to run in `project_dir`.
pub fn approved_text(approval: &Approval, project_dir: &Path) -> String {
    format!(
        "approved by {} at {} ({})\nnext: crm-migrate -C {} apply\n",
        approval.approved_by,
        approval.approved_at,
        approval.digest,
        project_dir.display()
    )
}

/// `approve --json` once approved: the approval, the diff, the basis and the plugin swaps.
pub fn approved_json(review: &Review, approval: &Approval, swaps: &[Swap]) -> Value {
    let swaps_json: Vec<Value> = swaps
        .iter()
        .map(|(hook, swap)| match swap {
            Ok(diff) => json!({"hook": hook.to_string(), "summary": diff.summary()}),
            Err(error) => json!({"hook": hook.to_string(), "error": error.to_string()}),
        })
        .collect();
    json!({"approved": true, "digest": approval.digest, "approved_by": approval.approved_by, "approved_at": approval.approved_at, "changed": review.previous.is_some(), "diff": review.diff, "basis": review.basis, "basis_changes": review.basis_changes, "plugin_swaps": swaps_json})
}
