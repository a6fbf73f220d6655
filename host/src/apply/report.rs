//! What a run leaves for people: `reports/quarantine.csv` (every record not migrated because it
//! does not fit, and every value a migrated record was sent without, with file, line, column,
//! value and reason) and `reports/reconciliation.md` (per phase and object: source = created +
//! merged + quarantined + excluded, how many created records have fields left out, tokens and
//! time, how records were linked where the source did not say).

use std::io::Write;
use std::path::PathBuf;

/// Every note on how a record was linked or placed, one a line (the report lists the first).
const PLACED: &str = "placed.txt";

use crate::project::Project;
use crate::record::ObjectKind;
use crate::report::{Document, Files, Table, Text, WriteError, number, thousands, value, words};
use crate::report_csv::write_report_row;

use super::{ApplyError, ApplyOutcome};
use crate::journal::{Fate, Journal};
use crate::source::Source;

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
    let mut files = Files::in_dir(&project.reports_dir())?;
    let quarantine = files.path("quarantine.csv");
    let mut csv = csv::Writer::from_writer(files.create("quarantine.csv")?);
    let csv_error = |source: csv::Error| ApplyError::WriteCsv { path: quarantine.clone(), source };
    // The first four columns are those of the report before values were left out field by field.
    write_report_row(&mut csv, ["object", "source_id", "line", "reason", "kind", "file", "column", "value"])
        .map_err(csv_error)?;
    for object in ObjectKind::ALL {
        let quarantined = journal.with_fate(object, Fate::Quarantined)?;
        let duplicates = source.duplicates.get(&object).filter(|_| object != ObjectKind::Conversation);
        let file = source.files.get(&object).map(String::as_str).unwrap_or("");
        for (id, detail) in &quarantined {
            // A duplicated id: one row per row of the file, each with its line.
            let lines: Vec<String> = match duplicates.and_then(|duplicates| duplicates.get(id)) {
                Some(lines) => lines.iter().map(u64::to_string).collect(),
                None => vec![source.spool.line(object, id)?.map(|line| line.to_string()).unwrap_or_default()],
            };
            for line in lines {
                write_report_row(
                    &mut csv,
                    [object.as_str(), id, &line, detail.as_deref().unwrap_or(""), RECORD_QUARANTINED, file, "", ""],
                )
                .map_err(csv_error)?;
            }
        }
        for (id, field) in journal.created_left_out(object)? {
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
    csv.flush().map_err(|source| WriteError { path: quarantine.clone(), source })?;
    drop(csv);

    if !outcome.notes.is_empty() {
        let path = files.path(PLACED);
        let write_error = |source| WriteError { path: path.clone(), source };
        let mut placed = std::io::BufWriter::new(files.create(PLACED)?);
        let written = outcome.notes.each(|line| writeln!(placed, "{}", crate::untrusted::escape(line)))?;
        written.and_then(|()| placed.flush()).map_err(write_error)?;
    }
    files.write("reconciliation.md", reconciliation(source, outcome).markdown())?;
    Ok(files.commit()?)
}

/// reconciliation.md: per phase and object, source = created + merged + quarantined + excluded.
fn reconciliation(source: &Source, outcome: &ApplyOutcome) -> Document {
    let mut doc = Document::new(words(format!("Reconciliation, run {} ({})", outcome.run_id, outcome.kind)));
    doc.paragraph(
        "Every source record in scope ends created, merged (into a named survivor), quarantined (with a reason, in quarantine.csv) or excluded by a rule. \
         Rows whose source id another row of the same file has are all quarantined (duplicate-id rows): nothing is sent for that id until it is resolved in the export. \
         A value that does not fit its field leaves that field empty on a record migrated otherwise: such records are counted among the created ones, \
         as migrated with N fields left out, and each value is listed in quarantine.csv (kind: field left out).",
    );
    let mut table = Table::new([
        "Phase",
        "Object",
        "Source",
        "Created",
        "Merged",
        "Linked",
        "Quarantined",
        "Excluded",
        "Duplicate-id rows",
        "Adds up",
        "Migrated with fields left out",
        "Tokens",
        "Time",
    ])
    .figures([2, 3, 4, 5, 6, 7, 8, 11, 12]);
    for phase in &outcome.phases {
        let time = || words(format!("{:.1} s", phase.seconds));
        if phase.reconciliation.is_empty() {
            let mut cells = vec![words(phase.phase)];
            cells.resize(11, Text::new());
            table.row(cells.into_iter().chain([number(phase.tokens), time()]));
        }
        for (index, row) in phase.reconciliation.iter().enumerate() {
            let c = row.counts;
            let adds_up = if c.total() + row.duplicate_rows == row.in_scope && c.intent == 0 {
                words("yes")
            } else {
                Text::new().strong("no")
            };
            let (name, tokens, time) =
                if index == 0 { (words(phase.phase), number(phase.tokens), time()) } else { Default::default() };
            table.row(
                [name, words(row.object.to_string())]
                    .into_iter()
                    .chain(
                        [row.in_scope, c.created, c.merged, c.linked, c.quarantined, c.excluded, row.duplicate_rows]
                            .map(number),
                    )
                    .chain([adds_up, words(migrated_with_fields_left_out(row)), tokens, time]),
            );
        }
    }
    doc.table(table);
    if source.duplicates.values().any(|duplicates| !duplicates.is_empty()) {
        doc.section("Duplicate ids (every row quarantined; resolve them in the export)");
        let mut items = Vec::new();
        for (object, duplicates) in &source.duplicates {
            let file = source.files.get(object).map(String::as_str).unwrap_or("");
            for (id, lines) in duplicates {
                let lines: Vec<String> = lines.iter().map(u64::to_string).collect();
                items.push(
                    words(format!("{object} "))
                        .value(id)
                        .words(format!(": lines {} of ", lines.join(", ")))
                        .value(file),
                );
            }
        }
        doc.list(items);
    }
    if let Some(hierarchy) = outcome
        .relationships
        .as_ref()
        .filter(|hierarchy| hierarchy.created + hierarchy.existing > 0 || !hierarchy.unsent.is_empty())
    {
        doc.section("Company hierarchy: parent relationships");
        doc.paragraph(words(format!(
            "{} made by this run, {} made before ({} tokens). Not sent, with the reason:",
            thousands(hierarchy.created),
            thousands(hierarchy.existing),
            thousands(hierarchy.tokens)
        )));
        doc.list(hierarchy.unsent.iter().map(value));
    }
    if let Some(deal_products) = &outcome.deal_products {
        super::products::section(&mut doc, deal_products);
    }
    if let Some(attachments) = outcome.attachments.as_ref().filter(|attachments| attachments.found > 0) {
        super::attachments::section(&mut doc, attachments);
    }
    if !outcome.notes.is_empty() {
        doc.section("Linked or placed where the source did not say");
        if outcome.notes.more() > 0 {
            doc.paragraph(words(format!(
                "{} records; the first {} are listed here, every one in {PLACED}.",
                thousands(outcome.notes.total),
                thousands(outcome.notes.listed.len() as u64)
            )));
        }
        doc.list(outcome.notes.listed.iter().map(value));
    }
    if !source.new_fields.is_empty() {
        doc.section("Fields a plugin set that the export does not have (no mapping entry: not migrated)");
        doc.list(source.new_fields.iter().map(|((object, field), (plugin, records))| {
            words(format!("{object}."))
                .value(field)
                .words(": set by ")
                .value(plugin)
                .words(format!(" on {} records", thousands(*records)))
        }));
    }
    if !source.plugin_failures.is_empty() {
        doc.section("Plugin batches that failed (their records are quarantined)");
        doc.list(source.plugin_failures.iter().map(value));
    }
    doc
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
