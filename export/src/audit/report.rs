//! The audit's reports: `audit.md` for people, `audit.json` for machines, `billing-audit.csv`
//! (one row per billable contact and why), and the short summary the command prints.

use std::fmt::Write as _;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use crm_migrate_report::{Document, Files, Table, Text, WriteError, code, number, value, words};

use super::{Audit, AuditError, BILLING_REASONS, EXAMPLES};
use crate::extract::Export;

/// Where the reports went.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReportPaths {
    pub markdown: PathBuf,
    pub json: PathBuf,
    pub billing_csv: PathBuf,
}

/// Audits `export` and writes the three reports into `out_dir` (created if missing), whole or
/// not at all: a failed run leaves the previous reports whole.
pub fn write_reports(export: &Export, out_dir: &Path) -> Result<(Audit, ReportPaths), AuditError> {
    let write_error = |error: WriteError| AuditError::Write { path: error.path, message: error.source.to_string() };
    let mut files = Files::in_dir(out_dir).map_err(write_error)?;
    let paths = ReportPaths {
        markdown: files.path("audit.md"),
        json: files.path("audit.json"),
        billing_csv: files.path("billing-audit.csv"),
    };
    let billing_file = files.create("billing-audit.csv").map_err(write_error)?;
    let audit = super::run(export, BufWriter::with_capacity(1 << 16, billing_file))?;
    let json = serde_json::to_string_pretty(&audit).expect("the audit is plain data") + "\n";
    files.write("audit.json", json).map_err(write_error)?;
    files.write("audit.md", markdown(&audit)).map_err(write_error)?;
    files.commit().map_err(write_error)?;
    Ok((audit, paths))
}

/// Figures for people, shared by every report (named here too by the callers that knew it here).
pub use crm_migrate_report::thousands;

/// Short figures for the terminal.
pub fn summary(audit: &Audit, paths: &ReportPaths) -> String {
    let mut out = String::new();
    let found = audit.files.len();
    let _ = writeln!(out, "audit of {}: {found} files read, {} missing", audit.export, audit.missing_files.len());
    let count = |name: &str| audit.counts.get(name).copied().unwrap_or(0);
    let _ = writeln!(
        out,
        "  records     contacts {}, companies {}, deals {}, activities {}, events {}, chat messages {} ({} conversations)",
        thousands(count("contacts")),
        thousands(count("companies")),
        thousands(count("deals")),
        thousands(count("activities")),
        thousands(count("events")),
        thousands(count("conversation_messages")),
        thousands(count("conversations")),
    );
    let _ = writeln!(
        out,
        "  duplicates  {} groups by email, {} by phone",
        thousands(audit.duplicates.by_email.len() as u64),
        thousands(audit.duplicates.by_phone.len() as u64)
    );
    if audit.duplicate_ids.is_empty() {
        let _ = writeln!(out, "  duplicate ids  none");
    } else {
        // Each one: apply quarantines its rows, so a person must see them all.
        let _ = writeln!(
            out,
            "  duplicate ids  {} (every row of each is quarantined by apply; resolve them in the export):",
            thousands(audit.duplicate_ids.len() as u64)
        );
        for duplicate in audit.duplicate_ids.iter().take(20) {
            let _ = writeln!(out, "    {}", duplicate.describe());
        }
        if audit.duplicate_ids.len() > 20 {
            let _ = writeln!(out, "    ... {} more in audit.md", audit.duplicate_ids.len() - 20);
        }
    }
    let orphans: u64 = audit.orphans.iter().map(|o| o.count).sum();
    let _ = writeln!(
        out,
        "  orphans     {}{}",
        thousands(orphans),
        if audit.orphans.is_empty() {
            String::new()
        } else {
            format!(
                " ({})",
                audit
                    .orphans
                    .iter()
                    .map(|o| format!("{}.{} {}", o.object, o.field, o.count))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
    );
    let bad: u64 = audit.mismatches.iter().map(|m| m.count).sum();
    let _ = writeln!(out, "  bad values  {} in {} fields (each kept raw)", thousands(bad), audit.mismatches.len());
    let billing = &audit.billing;
    let _ = writeln!(
        out,
        "  billable    {} of {} contacts ({})",
        thousands(billing.billable),
        thousands(billing.contacts),
        BILLING_REASONS
            .iter()
            .map(|r| format!("{r} {}", billing.reasons.get(*r).copied().unwrap_or(0)))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let inventory = &audit.inventory;
    let _ = writeln!(
        out,
        "  inventory   {} custom attributes, {} segments, {} automations, {} email templates, {} tags",
        inventory.custom_attributes.len(),
        inventory.segments.len(),
        inventory.automations.len(),
        inventory.email_templates.len(),
        inventory.tags.len()
    );
    let _ = writeln!(
        out,
        "reports: {}, {}, {}",
        paths.markdown.display(),
        paths.json.display(),
        paths.billing_csv.display()
    );
    out
}

/// `audit.md`: the same content as the JSON, arranged for a person deciding what to fix.
pub fn markdown(audit: &Audit) -> String {
    document(audit).markdown()
}

/// The audit as a [`Document`].
pub fn document(audit: &Audit) -> Document {
    let mut doc = Document::new(Text::new().words("Audit of the User.com export ").code(audit.export.to_string()));
    doc.paragraph(
        "Written by `crm-migrate audit`. Nothing was changed; every value that did not read is kept raw in the record and listed here.",
    );

    doc.section("Files");
    let mut files = Table::new(["object", "file", "encoding", "how decided", "delimiter", "rows"]).figures([5]);
    for file in &audit.files {
        files.row([
            words(file.kind.to_string()),
            code(file.file.clone()),
            words(file.encoding.to_string()),
            words(file.encoding_source.describe()),
            words(file.delimiter.to_string()),
            number(file.rows),
        ]);
    }
    doc.table(files);
    if audit.missing_files.is_empty() {
        doc.paragraph("No file is missing.");
    } else {
        let missing: Vec<String> = audit.missing_files.iter().map(ToString::to_string).collect();
        doc.paragraph(words(format!("Missing (optional, nothing of these will migrate): {}.", missing.join(", "))));
    }
    for ignored in &audit.ignored_files {
        doc.paragraph(
            Text::new().words("Ignored ").code(ignored.file.clone()).words(": ").value(&ignored.reason).words("."),
        );
    }

    doc.section("Record counts");
    let mut counts = Table::new(["object", "records"]).figures([1]);
    for (name, count) in &audit.counts {
        counts.row([words(name.replace('_', " ")), number(*count)]);
    }
    doc.table(counts);

    doc.section("Data quality").subsection("Duplicate candidates");
    doc.paragraph("Contacts that may be one person (not merged: the dedup plugin decides).");
    for (label, groups) in [
        ("email (trimmed, lower case)", &audit.duplicates.by_email),
        ("phone (last 9 digits)", &audit.duplicates.by_phone),
    ] {
        let contacts: usize = groups.iter().map(|g| g.contacts.len()).sum();
        doc.paragraph(
            Text::new()
                .words(format!("By {label}: "))
                .strong(format!("{} groups", groups.len()))
                .words(format!(", {contacts} contacts.")),
        );
        if !groups.is_empty() {
            let mut table = Table::new(["shared", "contacts (id @ line)"]);
            for group in groups.iter().take(20) {
                let members = group.contacts.iter().map(|c| value(&c.id).words(format!(" @ {}", c.line)));
                table.row([Text::new().code_excerpt(&group.key), Text::join(members, ", ")]);
            }
            if groups.len() > 20 {
                table.row([words("..."), words(format!("{} more groups in audit.json", groups.len() - 20))]);
            }
            doc.table(table);
        }
    }

    doc.subsection("Duplicate ids");
    if audit.duplicate_ids.is_empty() {
        doc.paragraph("None: every record's id is on one row of its file.");
    } else {
        doc.paragraph(
            "These ids are on more than one row of their file. `apply` quarantines every row of each (nothing is sent for the id) until the export is corrected.",
        );
        let mut table = Table::new(["file", "id", "lines"]);
        for duplicate in &audit.duplicate_ids {
            let lines: Vec<String> = duplicate.lines.iter().map(u64::to_string).collect();
            table.row([
                code(duplicate.file.to_string()),
                Text::new().code_excerpt(&duplicate.id),
                words(lines.join(", ")),
            ]);
        }
        doc.table(table);
    }

    doc.subsection("Orphaned associations");
    if audit.orphans.is_empty() {
        doc.paragraph("None: every reference points at a record of the export.");
    } else {
        let mut table = Table::new(["reference", "to", "count", "examples (record @ line -> missing id)"]).figures([2]);
        for orphans in &audit.orphans {
            let examples =
                orphans.examples.iter().map(|e| value(&e.id).words(format!(" @ {} -> ", e.line)).value(&e.missing_id));
            table.row([
                words(format!("{}.{}", orphans.object, orphans.field)),
                words(orphans.target.as_str()),
                number(orphans.count),
                Text::join(examples, "; "),
            ]);
        }
        doc.table(table);
    }

    doc.subsection("Values that do not match their type");
    if audit.mismatches.is_empty() {
        doc.paragraph("None.");
    } else {
        doc.paragraph(words(format!("Each is kept raw (as text) in its record. Up to {EXAMPLES} examples per field.")));
        let mut table =
            Table::new(["field", "file, column", "count", "expected", "examples (line: value)"]).figures([2]);
        for field in &audit.mismatches {
            let examples = field.examples.iter().map(|e| words(format!("{}: ", e.line)).code_excerpt(&e.value));
            table.row([
                words(format!("{}.{}", field.object, field.field)),
                code(field.file.to_string()).words(", ").code_excerpt(&field.column),
                number(field.count),
                Text::new().excerpt(&field.expected),
                Text::join(examples, ", "),
            ]);
        }
        doc.table(table);
    }

    doc.subsection("Types inferred from values");
    if audit.inferred_columns.is_empty() {
        doc.paragraph("None: every custom column has a definition.");
    } else {
        doc.paragraph(
            "These columns have no definition in the attributes file; their type was read from their values. Confirm them.",
        );
        let mut table = Table::new(["object", "column", "type", "from values"]).figures([3]);
        for column in &audit.inferred_columns {
            table.row([
                words(column.object.to_string()),
                Text::new().code_excerpt(&column.column),
                words(column.ty.to_string()),
                words(column.sampled.to_string()),
            ]);
        }
        doc.table(table);
    }
    if !audit.zoneless_datetimes.is_empty() {
        doc.subsection("Datetimes without a time zone (read as UTC)");
        let mut table = Table::new(["field", "count"]).figures([1]);
        for zoneless in &audit.zoneless_datetimes {
            table.row([words(format!("{}.{}", zoneless.object, zoneless.field)), number(zoneless.count)]);
        }
        doc.table(table);
    }

    let billing = &audit.billing;
    doc.section("Billing audit");
    doc.paragraph(
        Text::new()
            .words(
                "User.com bills a contact that has any of: email, phone number, user_id, a chat message it wrote (or a last-heard time), \
                 a web push subscription, an FCM key. ",
            )
            .strong(format!("{} of {} contacts are billable", thousands(billing.billable), thousands(billing.contacts)))
            .words(format!(
                "; {} are not. Every billable contact and its reasons: `billing-audit.csv`.",
                thousands(billing.not_billable)
            )),
    );
    let mut reasons = Table::new(["reason", "contacts"]).figures([1]);
    for reason in BILLING_REASONS {
        reasons.row([words(reason.replace('_', " ")), number(billing.reasons.get(reason).copied().unwrap_or(0))]);
    }
    doc.table(reasons);

    let inventory = &audit.inventory;
    doc.section("Inventory for the handoff");
    doc.subsection(words(format!("Custom attributes ({})", inventory.custom_attributes.len())));
    let mut attributes = Table::new(["object", "name", "field", "type", "options", "source"]);
    for attribute in &inventory.custom_attributes {
        attributes.row([
            words(attribute.object.to_string()),
            Text::new().excerpt(&attribute.name),
            code(attribute.field.to_string()),
            words(attribute.ty.to_string()),
            Text::new().excerpt(&attribute.options.join(", ")),
            words(attribute.source.to_string()),
        ]);
    }
    doc.table(attributes);
    for issue in &inventory.definition_issues {
        doc.paragraph(Text::new().words("Definitions file: ").excerpt(issue));
    }
    doc.subsection(words(format!("Pipelines ({})", inventory.pipelines.len())));
    doc.list(inventory.pipelines.iter().map(|pipeline| {
        let stages = pipeline.stages.iter().map(|s| value(&s.name).words(format!(" ({})", s.id)));
        Text::new()
            .strong_text(Text::new().excerpt(&pipeline.pipeline.name))
            .words(format!(" ({}): ", pipeline.pipeline.id))
            .then(Text::join(stages, " -> "))
    }));
    doc.subsection(words(format!("Tags ({})", inventory.tags.len())));
    doc.paragraph(Text::join(inventory.tags.iter().map(|t| Text::new().code_excerpt(&t.name)), ", "));
    doc.subsection(words(format!("Segments ({}): rebuild as Pipedrive filters", inventory.segments.len())));
    let mut segments = Table::new(["name", "contacts", "rules"]).figures([1]);
    for segment in &inventory.segments {
        segments.row([
            Text::new().excerpt(&segment.name),
            Text::new().excerpt(&segment.object_count),
            Text::new().code_excerpt(&segment.rules),
        ]);
    }
    doc.table(segments);
    doc.subsection(words(format!("Automations ({}): do not migrate; rebuild by hand", inventory.automations.len())));
    let mut automations = Table::new(["name", "active", "trigger", "conditions", "actions"]);
    for automation in &inventory.automations {
        let active = match automation.active {
            Some(true) => "yes",
            Some(false) => "no",
            None => "?",
        };
        automations.row([
            Text::new().excerpt(&automation.name),
            words(active),
            Text::new().excerpt(&automation.trigger),
            Text::new().excerpt(&automation.conditions),
            Text::new().excerpt(&automation.actions),
        ]);
    }
    doc.table(automations);
    doc.subsection(words(format!("Email templates ({})", inventory.email_templates.len())));
    let mut templates = Table::new(["name", "subject", "updated", "body"]).figures([3]);
    for template in &inventory.email_templates {
        templates.row([
            Text::new().excerpt(&template.name),
            Text::new().excerpt(&template.subject),
            Text::new().excerpt(&template.updated_at),
            words(format!("{} chars", template.body_chars)),
        ]);
    }
    doc.table(templates);
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::catalogue::{Automation, Segment};

    #[test]
    fn table_cells_stay_on_one_line_and_escape_pipes() {
        let hostile = |name: &str| Automation {
            id: "1".into(),
            name: name.into(),
            trigger: "a|b\r\nc".into(),
            conditions: "x".repeat(200),
            actions: "\u{1b}[2K<script>".into(),
            active: Some(true),
        };
        let mut audit = Audit {
            export: "ex`port".into(),
            files: Vec::new(),
            missing_files: Vec::new(),
            ignored_files: Vec::new(),
            counts: Default::default(),
            duplicates: Default::default(),
            duplicate_ids: Vec::new(),
            orphans: Vec::new(),
            mismatches: Vec::new(),
            inferred_columns: Vec::new(),
            zoneless_datetimes: Vec::new(),
            billing: Default::default(),
            inventory: Default::default(),
        };
        audit.inventory.automations.push(hostile("Powitanie"));
        audit.inventory.segments.push(Segment {
            id: "2".into(),
            name: "VIP".into(),
            description: String::new(),
            rules: "score`|5\n".into(),
            object_count: "37".into(),
        });
        let markdown = markdown(&audit);
        assert!(markdown.starts_with("# Audit of the User.com export `ex'port`\n"), "{markdown}");
        let row = markdown.lines().find(|line| line.starts_with("| Powitanie |")).expect(&markdown);
        let cells: Vec<&str> = row.split(" | ").collect();
        assert_eq!(cells[2], "a\\|b ⏎ c", "{row}");
        assert_eq!(cells[3].chars().count(), 120, "cut: {row}");
        assert_eq!(cells[4], "\\u{1b}[2K&lt;script&gt; |", "{row}");
        assert!(markdown.contains("| VIP | 37 | `score'\\|5 ⏎ ` |"), "{markdown}");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
