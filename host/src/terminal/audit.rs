//! `audit --json`'s summary: counts, duplicates, orphans, bad values and billing, and where the
//! reports are (the text summary is `audit::report::summary`).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::audit::Audit;
use crate::audit::report::ReportPaths;

/// The audit summed up for machines.
pub fn summary_json(audit: &Audit, paths: &ReportPaths) -> Value {
    json!({
        "export": audit.export,
        "reports": paths,
        "files": audit.files.len(),
        "missing_files": audit.missing_files,
        "counts": audit.counts,
        "duplicate_groups": {"by_email": audit.duplicates.by_email.len(), "by_phone": audit.duplicates.by_phone.len()},
        "duplicate_ids": audit.duplicate_ids,
        "orphans": audit.orphans.iter().map(|o| (format!("{}.{}", o.object, o.field), o.count)).collect::<BTreeMap<_, _>>(),
        "bad_values": audit.mismatches.iter().map(|m| (format!("{}.{}", m.object, m.field), m.count)).collect::<BTreeMap<_, _>>(),
        "billing": audit.billing,
    })
}
