//! `crm-migrate report`: the handoff for the customer's admin (`reports/handoff/`): what cannot be
//! migrated and how to rebuild it (automations, segments as filters, email templates), the
//! billing audit, the final reconciliation and quarantine, and a one-page summary. Each document
//! is Markdown; `handoff.html` holds them all on one self-contained page (no external assets).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;

use serde_json::Value;

use crate::apply::journal::{Fate, Journal};
use crate::apply::{ApplyError, PHASES};
use crate::audit::report::thousands;
use crate::extract::Catalogue;
use crate::mapping::{Destination, Landing, Mapping};
use crate::plan::open_export;
use crate::plan::workspace::same_name;
use crate::project::Project;
use crate::record::ObjectKind;
use crate::state::State;

/// One table with a title and a paragraph before it.
#[derive(Debug, Clone)]
pub struct Section {
    pub title: String,
    pub intro: String,
    pub headers: Vec<&'static str>,
    pub rows: Vec<Vec<String>>,
}

/// One handoff document.
#[derive(Debug, Clone)]
pub struct Document {
    pub file: &'static str,
    pub title: &'static str,
    pub sections: Vec<Section>,
}

fn section(title: impl Into<String>, intro: impl Into<String>, headers: &[&'static str], rows: Vec<Vec<String>>) -> Section {
    Section { title: title.into(), intro: intro.into(), headers: headers.to_vec(), rows }
}

pub fn markdown(document: &Document) -> String {
    let mut out = format!("# {}\n", document.title);
    for section in &document.sections {
        let _ = write!(out, "\n## {}\n\n{}\n\n", section.title, section.intro);
        if section.rows.is_empty() {
            out.push_str("(none)\n");
            continue;
        }
        let _ = writeln!(out, "| {} |", section.headers.join(" | "));
        let _ = writeln!(out, "|{}|", section.headers.iter().map(|_| "---").collect::<Vec<_>>().join("|"));
        for row in &section.rows {
            let cells: Vec<String> = row.iter().map(|cell| cell.replace('|', "\\|").replace('\n', "<br>")).collect();
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
    }
    out
}

/// Text for HTML: markup escaped, and control characters (an escape sequence for whoever
/// `cat`s the file, characters HTML forbids) made visible; line breaks stay.
fn escape(text: &str) -> String {
    let inert: Vec<_> = text.split('\n').map(crate::untrusted::escape).collect();
    inert.join("\n").replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// All documents on one page: tables, a contents list, inline style, nothing fetched.
pub fn html(documents: &[Document], project_name: &str) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
    );
    let _ = writeln!(out, "<title>Migration handoff: {}</title>", escape(project_name));
    out.push_str(
        "<style>body{font:15px/1.5 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#1c1c1c}\
         h1{border-bottom:2px solid #2b6cb0}h2{margin-top:2em;color:#2b6cb0}h3{margin-top:1.5em}\
         table{border-collapse:collapse;width:100%;margin:.5em 0 1.5em}th,td{border:1px solid #cbd5e0;padding:.35em .6em;text-align:left;vertical-align:top}\
         th{background:#edf2f7}tr:nth-child(even) td{background:#f7fafc}nav li{margin:.2em 0}p.none{color:#718096}</style></head><body>\n",
    );
    let _ = writeln!(out, "<h1>Migration handoff: {}</h1>\n<nav><ul>", escape(project_name));
    for document in documents {
        let _ = writeln!(out, "<li><a href=\"#{}\">{}</a></li>", document.file, escape(document.title));
    }
    out.push_str("</ul></nav>\n");
    for document in documents {
        let _ = writeln!(out, "<h2 id=\"{}\">{}</h2>", document.file, escape(document.title));
        for section in &document.sections {
            let _ = writeln!(out, "<h3>{}</h3>\n<p>{}</p>", escape(&section.title), escape(&section.intro));
            if section.rows.is_empty() {
                out.push_str("<p class=\"none\">(none)</p>\n");
                continue;
            }
            out.push_str("<table><thead><tr>");
            for header in &section.headers {
                let _ = write!(out, "<th>{}</th>", escape(header));
            }
            out.push_str("</tr></thead><tbody>\n");
            for row in &section.rows {
                out.push_str("<tr>");
                for cell in row {
                    let _ = write!(out, "<td>{}</td>", escape(cell).replace('\n', "<br>"));
                }
                out.push_str("</tr>\n");
            }
            out.push_str("</tbody></table>\n");
        }
    }
    out.push_str("</body></html>\n");
    out
}

/// What a User.com automation becomes in Pipedrive, and why.
pub fn automation_equivalent(trigger: &str, actions: &str) -> (&'static str, String) {
    let trigger = trigger.trim().to_lowercase();
    let steps: Vec<String> = actions.split([';', '\n']).map(|step| step.trim().to_lowercase()).filter(|step| !step.is_empty()).collect();
    let emails = steps.iter().filter(|step| step.starts_with("send_email")).count();
    let waits = steps.iter().filter(|step| step.starts_with("wait")).count();
    let manual_trigger = if trigger.starts_with("event") {
        Some("Pipedrive has no triggers on website events; an integration would have to create an activity or update a field first")
    } else if trigger.starts_with("date_attribute") {
        Some("Pipedrive automations cannot fire on a date field's anniversary; use a recurring reminder activity or Campaigns")
    } else if trigger.starts_with("segment_entered") {
        Some("Pipedrive has no trigger for entering a filter; run a Campaigns send to the filter instead")
    } else {
        None
    };
    let mut notes = Vec::new();
    if steps.iter().any(|step| step.starts_with("send_sms")) {
        notes.push("Pipedrive sends no SMS: a marketplace app or manual".to_owned());
    }
    if let Some(reason) = manual_trigger {
        return ("manual", std::iter::once(reason.to_owned()).chain(notes).collect::<Vec<_>>().join("; "));
    }
    if emails > 0 && (waits > 0 || emails > 1) {
        notes.insert(0, format!("{emails} email(s) with {waits} delay(s): a sequence (Sales Assistant sequences, or Campaigns for marketing email)"));
        return ("sequence", notes.join("; "));
    }
    let what = steps
        .iter()
        .map(|step| match step.split('(').next().unwrap_or("") {
            "send_email" => "send an email".to_owned(),
            "add_tag" => "update the labels".to_owned(),
            "create_deal" => "create a deal".to_owned(),
            "notify_agent" => "send a notification".to_owned(),
            "assign_to" => "update the owner".to_owned(),
            other => format!("{other} (no direct equivalent)"),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let on = if trigger.starts_with("deal") { "a deal updated" } else if trigger.starts_with("user_created") { "a person created" } else { "a person or lead created" };
    notes.insert(0, format!("a workflow automation on {on} that will {what}"));
    ("workflow automation", notes.join("; "))
}

/// A User.com segment condition as a Pipedrive filter condition, or why it cannot be one.
fn filter_condition(condition: &Value, mapping: &Mapping) -> Result<String, String> {
    if let Some(event) = condition.get("event").and_then(Value::as_str) {
        return Err(format!("event '{event}': events became activities; filter activities by subject '{event}' instead (a person filter cannot)"));
    }
    let attribute = condition.get("attribute").and_then(Value::as_str).unwrap_or("?");
    let operator = condition.get("operator").and_then(Value::as_str).unwrap_or("?");
    let value = match condition.get("value") {
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let Some(entry) = mapping.field(ObjectKind::Contact, attribute) else { return Err(format!("'{attribute}' is not an attribute of the export")) };
    let field = match &entry.landing {
        Landing::Standard { code } => Destination::Person.standard(code).map_or(code.clone(), |standard| standard.label.to_owned()),
        Landing::Existing { field, .. } | Landing::New { field, .. } => field.clone(),
        Landing::Skip { reason } => return Err(format!("'{attribute}' was not migrated ({reason})")),
    };
    let value = match value.as_str() {
        "true" => "Yes".to_owned(),
        "false" => "No".to_owned(),
        _ => value,
    };
    Ok(match operator {
        "is" | "equals" => format!("{field} is {value}"),
        "contains" => format!("{field} is {value}"),
        "less_than_days_ago" => format!("{field} is later than {value} days ago (a relative date)"),
        "more_than_days_ago" => format!("{field} is earlier than {value} days ago (a relative date)"),
        "greater_than" => format!("{field} > {value}"),
        "less_than" => format!("{field} < {value}"),
        other => return Err(format!("operator '{other}' has no Pipedrive filter equivalent")),
    })
}

fn segments_document(catalogue: &Catalogue, mapping: &Mapping) -> Document {
    let mut rows = Vec::new();
    for segment in &catalogue.segments {
        let rules: Value = serde_json::from_str(&segment.rules).unwrap_or(Value::Null);
        let (glue, conditions) = match rules.as_object().and_then(|rules| rules.iter().next()) {
            Some((glue, Value::Array(conditions))) => (glue.to_uppercase(), conditions.clone()),
            _ => ("AND".to_owned(), Vec::new()),
        };
        let translated: Vec<Result<String, String>> = conditions.iter().map(|condition| filter_condition(condition, mapping)).collect();
        let filter = translated.iter().filter_map(|result| result.as_ref().ok().cloned()).collect::<Vec<_>>().join(&format!(" {glue} "));
        let flags = translated.iter().filter_map(|result| result.as_ref().err().cloned()).collect::<Vec<_>>().join("; ");
        let verdict = if flags.is_empty() { "expressible" } else if filter.is_empty() { "not expressible" } else { "partly expressible" };
        rows.push(vec![segment.name.clone(), segment.object_count.clone(), if filter.is_empty() { "-".into() } else { filter }, verdict.to_owned(), flags]);
    }
    let tags: Vec<Vec<String>> = catalogue
        .tags
        .iter()
        .filter(|tag| catalogue.segments.iter().any(|segment| same_name(&segment.name, &tag.name)))
        .map(|tag| vec![tag.name.clone(), "a tag named like a segment: its label is a snapshot; rebuild the segment as a filter to keep it current".into()])
        .collect();
    Document {
        file: "segments",
        title: "Segments as Pipedrive filters",
        sections: vec![
            section(
                "Segment-to-filter mapping",
                "Each User.com segment's rules as Pipedrive person filter conditions, with the fields as migrated. Create them under Contacts › Filters. Flagged: what a Pipedrive filter cannot express.",
                &["Segment", "Contacts", "Pipedrive filter", "Verdict", "Flagged"],
                rows,
            ),
            section("Tags that were segments", "Tags that carry a segment's name became labels; a label does not update itself.", &["Tag", "What to do"], tags),
        ],
    }
}

fn automations_document(catalogue: &Catalogue) -> Document {
    let rows = catalogue
        .automations
        .iter()
        .map(|automation| {
            let steps: Vec<&str> = automation.actions.split([';', '\n']).map(str::trim).filter(|step| !step.is_empty()).collect();
            let delays: Vec<&str> = steps.iter().copied().filter(|step| step.starts_with("wait")).collect();
            let actions: Vec<&str> = steps.iter().copied().filter(|step| !step.starts_with("wait")).collect();
            let (equivalent, why) = automation_equivalent(&automation.trigger, &automation.actions);
            let active = match automation.active {
                Some(true) => "yes",
                Some(false) => "no",
                None => "?",
            };
            vec![
                automation.name.clone(),
                active.to_owned(),
                automation.trigger.clone(),
                if automation.conditions.is_empty() { "-".into() } else { automation.conditions.clone() },
                if delays.is_empty() { "-".into() } else { delays.join(", ") },
                actions.join(", "),
                equivalent.to_owned(),
                why,
            ]
        })
        .collect();
    Document {
        file: "automations",
        title: "Automations inventory",
        sections: vec![section(
            "Every User.com automation and its Pipedrive equivalent",
            "No API creates Pipedrive automations: each is rebuilt by hand (Automations, Sequences or Campaigns), or done manually where Pipedrive has no equivalent.",
            &["Automation", "Active", "Trigger", "Conditions", "Delays", "Actions", "Pipedrive equivalent", "How and why"],
            rows,
        )],
    }
}

fn templates_document(catalogue: &Catalogue) -> Document {
    let rows = catalogue
        .email_templates
        .iter()
        .map(|template| {
            let placeholders: Vec<String> = template.subject.split("{{").skip(1).filter_map(|part| part.split("}}").next()).map(|p| p.trim().to_owned()).collect();
            vec![
                template.name.clone(),
                template.subject.clone(),
                thousands(template.body_chars as u64),
                template.updated_at.clone(),
                if placeholders.is_empty() { "-".into() } else { placeholders.join(", ") },
            ]
        })
        .collect();
    Document {
        file: "email-templates",
        title: "Email templates to rebuild",
        sections: vec![section(
            "Templates",
            "Rebuild each in Pipedrive's email templates (Campaigns for marketing email). User.com placeholders ({{ user.first_name }}) become Pipedrive merge fields ([Person first name]).",
            &["Template", "Subject", "Body (characters)", "Last updated", "Placeholders in the subject"],
            rows,
        )],
    }
}

/// Writes `reports/handoff/`: the documents as Markdown, and `handoff.html` with all of them.
pub fn write(project: &Project) -> Result<Vec<PathBuf>, ApplyError> {
    let mapping = crate::mapping::file::parse(&std::fs::read_to_string(project.dir.join(crate::mapping::MAPPING_FILE)).unwrap_or_default())
        .map_err(|errors| ApplyError::Workspace(format!("mapping.toml does not read: {errors:?}")))?;
    let export = open_export(project)?;
    let catalogue = export.catalogue()?;
    let audit = crate::audit::run(&export, std::io::sink()).map_err(|error| ApplyError::Workspace(format!("the billing audit: {error}")))?;
    let journal = Journal::read(State::open(&project.dir)?);

    let mut moved = Vec::new();
    let mut quarantine = Vec::new();
    let mut totals: BTreeMap<&str, u64> = BTreeMap::new();
    for (phase, objects) in PHASES {
        for object in objects.iter().copied() {
            let counts = journal.counts(object)?;
            moved.push(vec![
                phase.to_owned(),
                object.as_str().to_owned(),
                thousands(counts.created),
                thousands(counts.merged),
                thousands(counts.quarantined),
                thousands(counts.excluded),
                thousands(counts.intent),
            ]);
            *totals.entry("created").or_default() += counts.created;
            *totals.entry("merged").or_default() += counts.merged;
            *totals.entry("not moved").or_default() += counts.merged + counts.quarantined + counts.excluded;
            let mut entries: Vec<_> = journal.entries(object)?.into_iter().filter(|(_, e)| e.fate == Fate::Quarantined).collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            quarantine.extend(entries.into_iter().map(|(id, entry)| vec![object.as_str().to_owned(), id, entry.detail.unwrap_or_default()]));
        }
    }
    let runs = journal.runs()?;
    let tokens: u64 = runs.iter().filter_map(|run| run.tokens).sum();
    let first = runs.first().map(|run| run.started_at.clone()).unwrap_or_default();
    let last = runs.iter().rev().find_map(|run| run.finished_at.clone()).unwrap_or_default();
    let skipped: Vec<Vec<String>> = mapping
        .fields
        .iter()
        .filter_map(|entry| match &entry.landing {
            Landing::Skip { reason } => Some(vec![entry.key(), reason.clone()]),
            _ => None,
        })
        .collect();
    let summary = Document {
        file: "summary",
        title: "Summary",
        sections: vec![
            section(
                "What moved",
                format!(
                    "{} records created in Pipedrive; {} duplicates merged into their survivor (by the dedup plugin); {} not moved (merged into a survivor, quarantined with a reason, or excluded by a rule). {} runs from {first} to {last}, {} tokens.",
                    thousands(totals.get("created").copied().unwrap_or(0)),
                    thousands(totals.get("merged").copied().unwrap_or(0)),
                    thousands(totals.get("not moved").copied().unwrap_or(0)),
                    runs.len(),
                    thousands(tokens)
                ),
                &["Phase", "Object", "Created", "Merged", "Quarantined", "Excluded", "Unresolved"],
                moved,
            ),
            section("What did not move, and why", "Attributes the mapping skips (the reason is the mapping's).", &["Attribute", "Why"], skipped),
            section(
                "Runs",
                "Every apply, delta and sample, as the journal keeps them.",
                &["Run", "Kind", "Started", "Finished", "Outcome", "Tokens"],
                runs.iter()
                    .map(|run| {
                        vec![
                            run.id.to_string(),
                            run.kind.clone(),
                            run.started_at.clone(),
                            run.finished_at.clone().unwrap_or_else(|| "(killed)".into()),
                            run.outcome.clone().unwrap_or_default(),
                            run.tokens.map(thousands).unwrap_or_default(),
                        ]
                    })
                    .collect(),
            ),
        ],
    };
    let billing = &audit.billing;
    let billing_document = Document {
        file: "billing",
        title: "Billing audit",
        sections: vec![section(
            "Contacts User.com bills for",
            format!(
                "{} of {} contacts are billable in User.com (a contact with an email, a phone, a user id, a chat, a web push subscription or a mobile key); {} are not. Each billable contact is listed, with its reasons, in reports/billing-audit.csv (crm-migrate audit).",
                thousands(billing.billable),
                thousands(billing.contacts),
                thousands(billing.not_billable)
            ),
            &["Reason", "Contacts"],
            billing.reasons.iter().map(|(reason, count)| vec![reason.clone(), thousands(*count)]).collect(),
        )],
    };
    let quarantine_document = Document {
        file: "quarantine",
        title: "Quarantine",
        sections: vec![section(
            "Records not migrated because they do not fit",
            "Fix the value in User.com (or the mapping) and run a delta; reports/quarantine.csv has the file lines.",
            &["Object", "User.com id", "Reason"],
            quarantine,
        )],
    };
    let documents = vec![summary, automations_document(&catalogue), segments_document(&catalogue, &mapping), templates_document(&catalogue), billing_document, quarantine_document];

    let dir = project.reports_dir().join("handoff");
    let io = |path: &PathBuf| {
        let path = path.clone();
        move |error: std::io::Error| ApplyError::Workspace(format!("writing {}: {error}", path.display()))
    };
    crate::private_files::create_dir(&dir).map_err(io(&dir))?;
    let mut paths = Vec::new();
    for document in &documents {
        let path = dir.join(format!("{}.md", document.file));
        crate::private_files::write(&path, markdown(document)).map_err(io(&path))?;
        paths.push(path);
    }
    let name = project.dir.canonicalize().ok().and_then(|dir| dir.file_name().map(|name| name.to_string_lossy().into_owned())).unwrap_or_else(|| "migration".into());
    let page = dir.join("handoff.html");
    crate::private_files::write(&page, html(&documents, &name)).map_err(io(&page))?;
    paths.push(page);
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_text_has_markup_and_control_characters_escaped() {
        assert_eq!(escape("a\n<b>\u{1b}[2K\r"), "a\n&lt;b&gt;\\u{1b}[2K\\r");
    }

    #[test]
    fn automations_get_the_equivalent_their_trigger_and_steps_allow() {
        assert_eq!(automation_equivalent("user_created", "wait 1h; send_email(template: Witamy)").0, "sequence");
        assert_eq!(automation_equivalent("event: cart_abandoned", "wait 2h; send_email(x); send_sms").0, "manual");
        assert!(automation_equivalent("event: cart_abandoned", "send_sms").1.contains("no SMS"));
        let (kind, why) = automation_equivalent("deal_status_changed: won", "add_tag(Partner); notify_agent");
        assert_eq!(kind, "workflow automation");
        assert!(why.contains("a deal updated") && why.contains("update the labels") && why.contains("send a notification"), "{why}");
        assert_eq!(automation_equivalent("segment_entered: X", "send_email(t)").0, "manual");
    }
}
