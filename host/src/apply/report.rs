//! What a run leaves for people: `reports/quarantine.csv` (every record not migrated because it
//! does not fit, and every value a migrated record was sent without, with file, line, column,
//! value and reason) and `reports/reconciliation.md` (per phase and object: source = created +
//! merged + quarantined + excluded, how many created records have fields left out, tokens and
//! time, how records were linked where the source did not say).

use std::fmt::Write;
use std::path::PathBuf;

use crate::audit::report::thousands;
use crate::project::Project;
use crate::record::ObjectKind;
use crate::report_csv::write_report_row;

use super::journal::{Fate, Journal};
use super::source::Source;
use super::{ApplyError, ApplyOutcome};

/// quarantine.csv's `kind`: the whole record was not migrated.
pub const RECORD_QUARANTINED: &str = "record quarantined";
/// quarantine.csv's `kind`: the record was migrated without this value (its field left empty).
pub const FIELD_LEFT_OUT: &str = "field left out";
/// quarantine.csv's `kind`: the record was migrated with this value's raw text in its note.
pub const FIELD_KEPT_IN_NOTE: &str = "field kept in note";

pub fn write(
    project: &Project,
    journal: &Journal,
    source: &Source,
    outcome: &ApplyOutcome,
) -> Result<Vec<PathBuf>, ApplyError> {
    let dir = project.reports_dir();
    let io = |path: &PathBuf| {
        let path = path.clone();
        move |error: std::io::Error| ApplyError::Workspace(format!("writing {}: {error}", path.display()))
    };
    crate::private_files::create_dir(&dir).map_err(io(&dir))?;

    let quarantine = dir.join("quarantine.csv");
    let mut csv = csv::Writer::from_writer(crate::private_files::create(&quarantine).map_err(io(&quarantine))?);
    let csv_error = |error: csv::Error| ApplyError::Workspace(format!("writing {}: {error}", quarantine.display()));
    // The first four columns are those of the report before values were left out field by field.
    write_report_row(&mut csv, ["object", "source_id", "line", "reason", "kind", "file", "column", "value"])
        .map_err(csv_error)?;
    for object in ObjectKind::ALL {
        let entries = journal.entries(object)?;
        let mut quarantined: Vec<_> = entries.iter().filter(|(_, entry)| entry.fate == Fate::Quarantined).collect();
        quarantined.sort_by(|a, b| a.0.cmp(b.0));
        let duplicates = source.duplicates.get(&object).filter(|_| object != ObjectKind::Conversation);
        let file = source.files.get(&object).map(String::as_str).unwrap_or("");
        for (id, entry) in quarantined {
            // A duplicated id: one row per row of the file, each with its line.
            let lines: Vec<String> = match duplicates.and_then(|duplicates| duplicates.get(id)) {
                Some(lines) => lines.iter().map(u64::to_string).collect(),
                None => vec![source.lines.get(&(object, id.clone())).map(u64::to_string).unwrap_or_default()],
            };
            for line in lines {
                write_report_row(
                    &mut csv,
                    [
                        object.as_str(),
                        id,
                        &line,
                        entry.detail.as_deref().unwrap_or(""),
                        RECORD_QUARANTINED,
                        file,
                        "",
                        "",
                    ],
                )
                .map_err(csv_error)?;
            }
        }
        let mut left_out: Vec<_> = journal
            .left_out(object)?
            .into_iter()
            .filter(|(id, _)| entries.get(id).is_some_and(|entry| entry.fate == Fate::Created))
            .collect();
        left_out.sort_by(|a, b| a.0.cmp(&b.0));
        for (id, fields) in left_out {
            for field in fields {
                let kind = if field.in_note { FIELD_KEPT_IN_NOTE } else { FIELD_LEFT_OUT };
                write_report_row(
                    &mut csv,
                    [
                        object.as_str(),
                        &id,
                        &field.line.to_string(),
                        &field.why,
                        kind,
                        &field.file,
                        &field.column,
                        &field.value,
                    ],
                )
                .map_err(csv_error)?;
            }
        }
    }
    csv.flush().map_err(io(&quarantine))?;

    let mut text = String::new();
    let _ = writeln!(text, "# Reconciliation, run {} ({})\n", outcome.run_id, outcome.kind);
    let _ = writeln!(
        text,
        "Every source record in scope ends created, merged (into a named survivor), quarantined (with a reason, in quarantine.csv) or excluded by a rule. \
         Rows whose source id another row of the same file has are all quarantined (duplicate-id rows): nothing is sent for that id until it is resolved in the export. \
         A value that does not fit its field leaves that field empty on a record migrated otherwise: such records are counted among the created ones, \
         as migrated with N fields left out, and each value is listed in quarantine.csv (kind: field left out).\n"
    );
    let _ = writeln!(
        text,
        "| Phase | Object | Source | Created | Merged | Linked | Quarantined | Excluded | Duplicate-id rows | Adds up | Migrated with fields left out | Tokens | Time |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|---:|---:|"
    );
    for phase in &outcome.phases {
        if phase.reconciliation.is_empty() {
            let _ = writeln!(
                text,
                "| {} | | | | | | | | | | | {} | {:.1} s |",
                phase.phase,
                thousands(phase.tokens),
                phase.seconds
            );
        }
        for (index, row) in phase.reconciliation.iter().enumerate() {
            let c = row.counts;
            let adds_up =
                if c.total() + row.duplicate_rows == row.in_scope && c.intent == 0 { "yes" } else { "**no**" };
            let (tokens, time) = if index == 0 {
                (thousands(phase.tokens), format!("{:.1} s", phase.seconds))
            } else {
                (String::new(), String::new())
            };
            let left_out = migrated_with_fields_left_out(row);
            let _ = writeln!(
                text,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {adds_up} | {left_out} | {tokens} | {time} |",
                if index == 0 { phase.phase } else { "" },
                row.object,
                thousands(row.in_scope),
                thousands(c.created),
                thousands(c.merged),
                thousands(c.linked),
                thousands(c.quarantined),
                thousands(c.excluded),
                thousands(row.duplicate_rows)
            );
        }
    }
    if source.duplicates.values().any(|duplicates| !duplicates.is_empty()) {
        let _ = writeln!(text, "\n## Duplicate ids (every row quarantined; resolve them in the export)\n");
        for (object, duplicates) in &source.duplicates {
            let file = source.files.get(object).map(String::as_str).unwrap_or("");
            for (id, lines) in duplicates {
                let lines: Vec<String> = lines.iter().map(u64::to_string).collect();
                let _ = writeln!(
                    text,
                    "- {object} {}: lines {} of {}",
                    crate::untrusted::markdown(id),
                    lines.join(", "),
                    crate::untrusted::markdown(file)
                );
            }
        }
    }
    if let Some(hierarchy) = outcome
        .relationships
        .as_ref()
        .filter(|hierarchy| hierarchy.created + hierarchy.existing > 0 || !hierarchy.unsent.is_empty())
    {
        let _ = writeln!(
            text,
            "\n## Company hierarchy: parent relationships\n\n{} made by this run, {} made before ({} tokens). Not sent, with the reason:\n",
            thousands(hierarchy.created),
            thousands(hierarchy.existing),
            thousands(hierarchy.tokens)
        );
        for line in &hierarchy.unsent {
            let _ = writeln!(text, "- {}", crate::untrusted::markdown(line));
        }
    }
    if let Some(deal_products) = &outcome.deal_products {
        super::products::write_section(&mut text, deal_products);
    }
    if let Some(attachments) = outcome.attachments.as_ref().filter(|attachments| attachments.found > 0) {
        super::attachments::write_section(&mut text, attachments);
    }
    if !outcome.notes.is_empty() {
        let _ = writeln!(text, "\n## Linked or placed where the source did not say\n");
        for note in &outcome.notes {
            let _ = writeln!(text, "- {}", crate::untrusted::markdown(note));
        }
    }
    if !source.new_fields.is_empty() {
        let _ =
            writeln!(text, "\n## Fields a plugin set that the export does not have (no mapping entry: not migrated)\n");
        for ((object, field), (plugin, records)) in &source.new_fields {
            let _ = writeln!(
                text,
                "- {object}.{}: set by {} on {} records",
                crate::untrusted::markdown(field),
                crate::untrusted::markdown(plugin),
                thousands(*records)
            );
        }
    }
    if !source.plugin_failures.is_empty() {
        let _ = writeln!(text, "\n## Plugin batches that failed (their records are quarantined)\n");
        for failure in &source.plugin_failures {
            let _ = writeln!(text, "- {}", crate::untrusted::markdown(failure));
        }
    }
    let reconciliation = dir.join("reconciliation.md");
    crate::private_files::write(&reconciliation, text).map_err(io(&reconciliation))?;
    Ok(vec![quarantine, reconciliation])
}

/// `12 migrated with 15 fields left out`, or `none`: a count on created records, not a fate.
pub fn migrated_with_fields_left_out(row: &super::Reconciliation) -> String {
    if row.fields_left_out == 0 {
        return "none".to_owned();
    }
    let fields = if row.fields_left_out == 1 { "field" } else { "fields" };
    format!(
        "{} migrated with {} {fields} left out",
        thousands(row.records_with_fields_left_out),
        thousands(row.fields_left_out)
    )
}
