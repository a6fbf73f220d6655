//! `verify` as text: counts per object, the first mismatches, what is missing or unexpected, and
//! the source coverage.

use std::fmt::Write as _;

use crate::audit::report::thousands;
use crate::untrusted::escape;
use crate::verify::Verification;

/// How many mismatches, and how many missing source values, the terminal shows; the report has all.
const SHOWN: usize = 20;

/// What `verify` prints: the reports hold the whole of it.
pub fn text(verification: &Verification) -> String {
    let mut text = String::new();
    for (object, counts) in &verification.objects {
        let _ = writeln!(
            text,
            "{object}: {} verified, {} mismatched, {} missing, {} unexpected",
            thousands(counts.verified),
            thousands(counts.mismatched),
            thousands(counts.missing),
            thousands(counts.unexpected)
        );
    }
    for mismatch in verification.mismatches.iter().take(SHOWN) {
        let line = format!(
            "{} {}: {}: expected {}, found {}",
            mismatch.object, mismatch.source_id, mismatch.field, mismatch.expected, mismatch.actual
        );
        let _ = writeln!(text, "  {}", escape(&line));
    }
    if verification.mismatches.len() > SHOWN {
        let _ = writeln!(text, "  ... {} more mismatches in the report", verification.mismatches.len() - SHOWN);
    }
    for missing in &verification.missing {
        let _ = writeln!(
            text,
            "  missing: {} {} (was Pipedrive id {})",
            missing.object,
            escape(&missing.source_id),
            missing.pipedrive_id
        );
    }
    for unexpected in &verification.unexpected {
        let _ = writeln!(
            text,
            "  unexpected: {} marked {} (Pipedrive id {})",
            unexpected.object, unexpected.marker, unexpected.pipedrive_id
        );
    }
    for (object, [in_field, in_note, left_out, missing]) in verification.coverage.per_object() {
        let _ = writeln!(
            text,
            "{object} source values: {} in a field, {} in a note, {} left out with a reason, {} missing",
            thousands(in_field),
            thousands(in_note),
            thousands(left_out),
            thousands(missing)
        );
    }
    let examples = verification
        .coverage
        .attributes
        .iter()
        .flat_map(|row| row.missing_examples.iter().map(move |example| (row.object, example)));
    for (object, example) in examples.clone().take(SHOWN) {
        let _ = writeln!(
            text,
            "  missing value: {}",
            escape(&format!("{object} {} {}: {}", example.source_id, example.attribute, example.why))
        );
    }
    if verification.coverage.missing() > SHOWN as u64 {
        let _ = writeln!(
            text,
            "  ... {} more values missing: see the report",
            verification.coverage.missing() - examples.take(SHOWN).count() as u64
        );
    }
    let _ = writeln!(text, "read back for {} tokens", thousands(verification.tokens));
    for path in &verification.reports {
        let _ = writeln!(text, "  report {}", path.display());
    }
    text
}
