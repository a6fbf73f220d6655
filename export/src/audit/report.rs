//! The audit's reports: `audit.md` for people, `audit.json` for machines, `billing-audit.csv`
//! (one row per billable contact and why), and the short summary the command prints.

use std::fmt::Write as _;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use super::{Audit, AuditError, BILLING_REASONS, EXAMPLES};
use crate::extract::Export;

/// Where the reports went.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReportPaths {
    pub markdown: PathBuf,
    pub json: PathBuf,
    pub billing_csv: PathBuf,
}

/// Audits `export` and writes the three reports into `out_dir` (created if missing). Each file
/// is written beside its final name and renamed into place, so a failed run leaves the previous
/// reports whole.
pub fn write_reports(export: &Export, out_dir: &Path) -> Result<(Audit, ReportPaths), AuditError> {
    let write_error = |path: &Path, error: &dyn std::fmt::Display| AuditError::Write {
        path: path.to_owned(),
        message: error.to_string(),
    };
    crm_migrate_core::private_files::create_dir(out_dir).map_err(|error| write_error(out_dir, &error))?;
    let paths = ReportPaths {
        markdown: out_dir.join("audit.md"),
        json: out_dir.join("audit.json"),
        billing_csv: out_dir.join("billing-audit.csv"),
    };
    let partial = |path: &Path| {
        let mut name = path.file_name().unwrap_or_default().to_owned();
        name.push(".partial");
        path.with_file_name(name)
    };
    let billing_partial = partial(&paths.billing_csv);
    let billing_file = crm_migrate_core::private_files::create(&billing_partial)
        .map_err(|error| write_error(&billing_partial, &error))?;
    let audit = match super::run(export, BufWriter::with_capacity(1 << 16, billing_file)) {
        Ok(audit) => audit,
        Err(error) => {
            let _ = std::fs::remove_file(&billing_partial);
            return Err(error);
        }
    };
    let json = serde_json::to_string_pretty(&audit).expect("the audit is plain data") + "\n";
    for (path, content) in [(&paths.json, json), (&paths.markdown, markdown(&audit))] {
        crm_migrate_core::private_files::write(&partial(path), content).map_err(|error| write_error(path, &error))?;
    }
    for path in [&paths.billing_csv, &paths.json, &paths.markdown] {
        std::fs::rename(partial(path), path).map_err(|error| write_error(path, &error))?;
    }
    Ok((audit, paths))
}

/// A table cell: one line, at most 120 characters of the value, then made safe for Markdown
/// (pipes, HTML and control characters escaped).
fn cell(text: &str) -> String {
    let one_line: String = text.replace("\r\n", "\n").replace('\n', " ⏎ ");
    let cut =
        if one_line.chars().count() > 120 { one_line.chars().take(117).collect::<String>() + "..." } else { one_line };
    crm_migrate_core::untrusted::markdown(&cut)
}

/// `1234567` as "1,234,567", for figures a person reads.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

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
    let mut md = String::new();
    let w = &mut md;
    let _ = writeln!(w, "# Audit of the User.com export `{}`\n", audit.export);
    let _ = writeln!(
        w,
        "Written by `crm-migrate audit`. Nothing was changed; every value that did not read is kept raw in the record and listed here.\n"
    );

    let _ = writeln!(w, "## Files\n");
    let _ = writeln!(w, "| object | file | encoding | how decided | delimiter | rows |\n|---|---|---|---|---|---:|");
    for file in &audit.files {
        let how = file.encoding_source.describe();
        let _ = writeln!(
            w,
            "| {} | `{}` | {} | {how} | {} | {} |",
            file.kind,
            file.file,
            file.encoding,
            file.delimiter,
            thousands(file.rows)
        );
    }
    if audit.missing_files.is_empty() {
        let _ = writeln!(w, "\nNo file is missing.");
    } else {
        let missing: Vec<String> = audit.missing_files.iter().map(ToString::to_string).collect();
        let _ = writeln!(w, "\nMissing (optional, nothing of these will migrate): {}.", missing.join(", "));
    }
    for ignored in &audit.ignored_files {
        let _ = writeln!(w, "\nIgnored `{}`: {}.", ignored.file, ignored.reason);
    }

    let _ = writeln!(w, "\n## Record counts\n\n| object | records |\n|---|---:|");
    for (name, count) in &audit.counts {
        let _ = writeln!(w, "| {} | {} |", name.replace('_', " "), thousands(*count));
    }

    let _ = writeln!(w, "\n## Data quality\n\n### Duplicate candidates\n");
    let _ = writeln!(w, "Contacts that may be one person (not merged: the dedup plugin decides).\n");
    for (label, groups) in [
        ("email (trimmed, lower case)", &audit.duplicates.by_email),
        ("phone (last 9 digits)", &audit.duplicates.by_phone),
    ] {
        let contacts: usize = groups.iter().map(|g| g.contacts.len()).sum();
        let _ = writeln!(w, "By {label}: **{} groups**, {} contacts.\n", groups.len(), contacts);
        if !groups.is_empty() {
            let _ = writeln!(w, "| shared | contacts (id @ line) |\n|---|---|");
            for group in groups.iter().take(20) {
                let members: Vec<String> = group.contacts.iter().map(|c| format!("{} @ {}", c.id, c.line)).collect();
                let _ = writeln!(w, "| `{}` | {} |", cell(&group.key), members.join(", "));
            }
            if groups.len() > 20 {
                let _ = writeln!(w, "| ... | {} more groups in audit.json |", groups.len() - 20);
            }
            let _ = writeln!(w);
        }
    }

    let _ = writeln!(w, "### Duplicate ids\n");
    if audit.duplicate_ids.is_empty() {
        let _ = writeln!(w, "None: every record's id is on one row of its file.\n");
    } else {
        let _ = writeln!(
            w,
            "These ids are on more than one row of their file. `apply` quarantines every row of each (nothing is sent for the id) until the export is corrected.\n"
        );
        let _ = writeln!(w, "| file | id | lines |\n|---|---|---|");
        for duplicate in &audit.duplicate_ids {
            let lines: Vec<String> = duplicate.lines.iter().map(u64::to_string).collect();
            let _ = writeln!(w, "| `{}` | `{}` | {} |", duplicate.file, cell(&duplicate.id), lines.join(", "));
        }
        let _ = writeln!(w);
    }

    let _ = writeln!(w, "### Orphaned associations\n");
    if audit.orphans.is_empty() {
        let _ = writeln!(w, "None: every reference points at a record of the export.\n");
    } else {
        let _ = writeln!(w, "| reference | to | count | examples (record @ line -> missing id) |\n|---|---|---:|---|");
        for orphans in &audit.orphans {
            let examples: Vec<String> =
                orphans.examples.iter().map(|e| format!("{} @ {} -> {}", e.id, e.line, e.missing_id)).collect();
            let _ = writeln!(
                w,
                "| {}.{} | {} | {} | {} |",
                orphans.object,
                orphans.field,
                orphans.target.as_str(),
                thousands(orphans.count),
                examples.join("; ")
            );
        }
        let _ = writeln!(w);
    }

    let _ = writeln!(w, "### Values that do not match their type\n");
    if audit.mismatches.is_empty() {
        let _ = writeln!(w, "None.\n");
    } else {
        let _ = writeln!(w, "Each is kept raw (as text) in its record. Up to {EXAMPLES} examples per field.\n");
        let _ =
            writeln!(w, "| field | file, column | count | expected | examples (line: value) |\n|---|---|---:|---|---|");
        for field in &audit.mismatches {
            let examples: Vec<String> =
                field.examples.iter().map(|e| format!("{}: `{}`", e.line, cell(&e.value))).collect();
            let _ = writeln!(
                w,
                "| {}.{} | `{}`, `{}` | {} | {} | {} |",
                field.object,
                field.field,
                field.file,
                cell(&field.column),
                thousands(field.count),
                cell(&field.expected),
                examples.join(", ")
            );
        }
        let _ = writeln!(w);
    }

    let _ = writeln!(w, "### Types inferred from values\n");
    if audit.inferred_columns.is_empty() {
        let _ = writeln!(w, "None: every custom column has a definition.\n");
    } else {
        let _ = writeln!(
            w,
            "These columns have no definition in the attributes file; their type was read from their values. Confirm them.\n"
        );
        let _ = writeln!(w, "| object | column | type | from values |\n|---|---|---|---:|");
        for column in &audit.inferred_columns {
            let _ =
                writeln!(w, "| {} | `{}` | {} | {} |", column.object, cell(&column.column), column.ty, column.sampled);
        }
        let _ = writeln!(w);
    }
    if !audit.zoneless_datetimes.is_empty() {
        let _ = writeln!(w, "### Datetimes without a time zone (read as UTC)\n\n| field | count |\n|---|---:|");
        for zoneless in &audit.zoneless_datetimes {
            let _ = writeln!(w, "| {}.{} | {} |", zoneless.object, zoneless.field, thousands(zoneless.count));
        }
        let _ = writeln!(w);
    }

    let billing = &audit.billing;
    let _ = writeln!(w, "## Billing audit\n");
    let _ = writeln!(
        w,
        "User.com bills a contact that has any of: email, phone number, user_id, a chat message it wrote (or a last-heard time), \
         a web push subscription, an FCM key. **{} of {} contacts are billable**; {} are not. Every billable contact and its \
         reasons: `billing-audit.csv`.\n",
        thousands(billing.billable),
        thousands(billing.contacts),
        thousands(billing.not_billable)
    );
    let _ = writeln!(w, "| reason | contacts |\n|---|---:|");
    for reason in BILLING_REASONS {
        let _ = writeln!(
            w,
            "| {} | {} |",
            reason.replace('_', " "),
            thousands(billing.reasons.get(reason).copied().unwrap_or(0))
        );
    }

    let inventory = &audit.inventory;
    let _ = writeln!(w, "\n## Inventory for the handoff\n");
    let _ = writeln!(
        w,
        "### Custom attributes ({})\n\n| object | name | field | type | options | source |\n|---|---|---|---|---|---|",
        inventory.custom_attributes.len()
    );
    for attribute in &inventory.custom_attributes {
        let _ = writeln!(
            w,
            "| {} | {} | `{}` | {} | {} | {} |",
            attribute.object,
            cell(&attribute.name),
            attribute.field,
            attribute.ty,
            cell(&attribute.options.join(", ")),
            attribute.source
        );
    }
    for issue in &inventory.definition_issues {
        let _ = writeln!(w, "\nDefinitions file: {}", cell(issue));
    }
    let _ = writeln!(w, "\n### Pipelines ({})\n", inventory.pipelines.len());
    for pipeline in &inventory.pipelines {
        let stages: Vec<String> = pipeline.stages.iter().map(|s| format!("{} ({})", s.name, s.id)).collect();
        let _ =
            writeln!(w, "- **{}** ({}): {}", cell(&pipeline.pipeline.name), pipeline.pipeline.id, stages.join(" -> "));
    }
    let _ = writeln!(w, "\n### Tags ({})\n", inventory.tags.len());
    let tags: Vec<String> = inventory.tags.iter().map(|t| format!("`{}`", cell(&t.name))).collect();
    let _ = writeln!(w, "{}", tags.join(", "));
    let _ = writeln!(
        w,
        "\n### Segments ({}): rebuild as Pipedrive filters\n\n| name | contacts | rules |\n|---|---:|---|",
        inventory.segments.len()
    );
    for segment in &inventory.segments {
        let _ =
            writeln!(w, "| {} | {} | `{}` |", cell(&segment.name), cell(&segment.object_count), cell(&segment.rules));
    }
    let _ = writeln!(
        w,
        "\n### Automations ({}): do not migrate; rebuild by hand\n\n| name | active | trigger | conditions | actions |\n|---|---|---|---|---|",
        inventory.automations.len()
    );
    for automation in &inventory.automations {
        let active = match automation.active {
            Some(true) => "yes",
            Some(false) => "no",
            None => "?",
        };
        let _ = writeln!(
            w,
            "| {} | {active} | {} | {} | {} |",
            cell(&automation.name),
            cell(&automation.trigger),
            cell(&automation.conditions),
            cell(&automation.actions)
        );
    }
    let _ = writeln!(
        w,
        "\n### Email templates ({})\n\n| name | subject | updated | body |\n|---|---|---|---:|",
        inventory.email_templates.len()
    );
    for template in &inventory.email_templates {
        let _ = writeln!(
            w,
            "| {} | {} | {} | {} chars |",
            cell(&template.name),
            cell(&template.subject),
            cell(&template.updated_at),
            template.body_chars
        );
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_cells_stay_on_one_line_and_escape_pipes() {
        assert_eq!(cell("a|b\r\nc"), "a\\|b ⏎ c");
        assert_eq!(cell(&"x".repeat(200)).chars().count(), 120);
        assert_eq!(cell("\u{1b}[2K<script>"), "\\u{1b}[2K&lt;script&gt;");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(thousands(12), "12");
    }
}
