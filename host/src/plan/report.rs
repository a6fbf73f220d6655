//! `reports/plan.md` (for people) and `reports/plan.json` (for machines): the mapping in numbers,
//! what apply will create in the workspace, records per phase, the token bill against the daily
//! budget and the burst limit, and what needs a person's attention.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::mapping::{Landing, Mapping};
use crate::pipedrive::BudgetPolicy;
use crate::plan::bill::Bill;
use crate::plan::comments::describe;
use crate::plan::grade::{Assessment, number as number_words};
use crate::plan::limits::LimitsCheck;
use crate::plan::{PlanError, PlanResult};
use crate::report::{Document, Files, Table, Text, WriteError, code, number, thousands, value, words};

/// Counts of the mapping's entries by kind of landing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct EntryCounts {
    pub total: usize,
    pub standard: usize,
    pub existing: usize,
    pub new: usize,
    pub skip: usize,
    pub review: usize,
}

pub fn entry_counts(mapping: &Mapping) -> EntryCounts {
    let mut counts = EntryCounts { total: mapping.fields.len(), ..EntryCounts::default() };
    for entry in &mapping.fields {
        match entry.landing {
            Landing::Standard { .. } => counts.standard += 1,
            Landing::Existing { .. } => counts.existing += 1,
            Landing::New { .. } => counts.new += 1,
            Landing::Skip { .. } => counts.skip += 1,
        }
        counts.review += usize::from(entry.needs_review());
    }
    counts
}

impl std::fmt::Display for EntryCounts {
    /// `73 attributes: 46 to built-in fields, 0 to existing custom fields, 24 to new custom fields, 3 skipped; 1 to review`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} attributes: {} to built-in fields, {} to existing custom fields, {} to new custom fields, {} skipped; {} to review",
            self.total, self.standard, self.existing, self.new, self.skip, self.review
        )
    }
}

/// A duration in words: `3 h 20 min`, `45 s`.
pub fn duration_words(seconds: f64) -> String {
    let seconds = seconds.round() as u64;
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{} min {} s", seconds / 60, seconds % 60),
        _ => format!("{} h {} min", seconds / 3600, seconds / 60 % 60),
    }
}

/// The budget in plain words: whether the run fits in a day, and if not, how it pauses.
pub fn budget_sentence(bill: &Bill, policy: BudgetPolicy) -> String {
    let multiplier = crate::pipedrive::Plan::ALL
        .iter()
        .find(|plan| plan.as_str() == bill.plan)
        .map_or(1, |plan| plan.token_multiplier());
    let top_up =
        bill.daily_budget.saturating_sub(pipedrive_api::BASE_DAILY_TOKENS * multiplier * u64::from(bill.seats.max(1)));
    let top_up = if top_up > 0 { format!(" + {} top-up", thousands(top_up)) } else { String::new() };
    let budget = format!(
        "{} tokens a day (30,000 × {multiplier} plan multiplier × {} seat(s){top_up})",
        thousands(bill.daily_budget),
        bill.seats
    );
    if bill.budget_days <= 1.0 {
        return format!(
            "This migration needs {} tokens, {:.0}% of the account's daily budget of {budget}: it fits in one day, if other integrations leave that much.",
            thousands(bill.tokens),
            bill.budget_days * 100.0
        );
    }
    let days = bill.budget_days.ceil() as u64;
    let pause = match policy {
        BudgetPolicy::WaitForReset => {
            "With `on_budget_exhausted = \"wait\"` (migration.toml), apply pauses when the day's budget runs out, shows when it resets (midnight UTC), and goes on by itself."
        }
        BudgetPolicy::Stop => {
            "With `on_budget_exhausted = \"stop\"` (migration.toml), apply stops cleanly when the day's budget runs out; run `crm-migrate apply` again after midnight UTC and it resumes where it stopped, without duplicates."
        }
    };
    format!(
        "**This migration needs {} tokens: {:.1} days of the account's daily budget of {budget}. Plan for {days} days.** {pause} \
         The budget is shared with every other integration of the account, so leave room for them; buying a top-up or adding seats shortens the run.",
        thousands(bill.tokens),
        bill.budget_days
    )
}

/// Writes `plan.md` and `plan.json` into `reports_dir`, both or neither.
pub fn write_reports(result: &PlanResult, policy: BudgetPolicy, reports_dir: &Path) -> Result<Vec<PathBuf>, PlanError> {
    let io = |error: WriteError| PlanError::Io { path: error.path, source: error.source };
    let mut files = Files::in_dir(reports_dir).map_err(io)?;
    files.write("plan.md", markdown(result, policy)).map_err(io)?;
    let json = serde_json::to_string_pretty(&to_json(result)).expect("plain data serializes") + "\n";
    files.write("plan.json", json).map_err(io)?;
    files.commit().map_err(io)
}

pub fn to_json(result: &PlanResult) -> serde_json::Value {
    json!({
        "planned_at": result.planned_at,
        "mapping": result.mapping_path,
        "entries": entry_counts(&result.mapping),
        "review": result.mapping.fields.iter().filter(|entry| entry.needs_review()).map(|entry| entry.key()).collect::<Vec<_>>(),
        "decisions": result.decisions,
        "names": {"prefer": result.mapping.names.as_str(), "both": result.profile.names.both, "disagree": result.profile.names.disagree, "examples": result.profile.names.examples},
        "kept_edits": result.kept_edits,
        "added": result.added,
        "dropped": result.dropped,
        "errors": result.errors.iter().map(|error| json!({"line": error.line, "message": error.message})).collect::<Vec<_>>(),
        "workspace_changes": result.changes,
        "labels_by": result.labels_by,
        "bill": result.bill,
        "plan_tokens": result.plan_tokens,
        "limits": result.limits,
        "existing": result.existing,
        "grade": result.assessment,
        "deal_products": result.deal_products,
        "attachments": result.attachments,
        "side_effects": result.side_effects,
        "plugin_swaps": result.plugin_swaps.iter().map(|(hook, swap)| match swap {
            Ok(diff) => json!({"hook": hook, "diff": diff}),
            Err(error) => json!({"hook": hook, "error": error.to_string()}),
        }).collect::<Vec<_>>(),
    })
}

/// `plan.md`.
pub fn markdown(result: &PlanResult, policy: BudgetPolicy) -> String {
    document(result, policy).markdown()
}

/// plan.md as a [`Document`].
pub fn document(result: &PlanResult, policy: BudgetPolicy) -> Document {
    let counts = entry_counts(&result.mapping);
    let mut doc = Document::new("Migration plan");
    doc.paragraph(words(format!(
        "Planned {} against {}. Reading the workspace and the records the account already has cost {} tokens; nothing was written to Pipedrive.",
        result.planned_at, result.workspace.url, result.plan_tokens
    )));
    doc.paragraph(words(budget_sentence(&result.bill, policy)));
    grade_section(&mut doc, &result.assessment);

    if !result.errors.is_empty() {
        doc.section("Fix before approving");
        doc.paragraph(
            code(result.mapping_path.display().to_string())
                .words(format!(" has {} problem(s); `approve` refuses it until they are fixed:", result.errors.len())),
        );
        doc.list(result.errors.iter().map(|error| value(error.to_string())));
    }
    if !result.decisions.is_empty() {
        doc.section("Decide before approving (REVIEW)");
        doc.paragraph("`plan` exits with code 11 until each is decided.");
        let mut table = Table::new(["Decision", "Found", "How to decide"]);
        for decision in &result.decisions {
            table.row([code(decision.what.clone()), value(decision.found.clone()), value(decision.how.clone())]);
        }
        doc.table(table);
    }

    crate::plan::existing::section(&mut doc, &result.existing);
    if !result.plugin_swaps.is_empty() {
        // Counts and field names only: plan.md stays free of record values (purge keeps it).
        doc.section("What the swapped plugin changes");
        doc.paragraph(words(format!(
            "Since the last approval, run over this export against the approved build (kept in `{}/`); \
             `crm-migrate plugin diff OLD.wasm NEW.wasm` names every record and value that changes.",
            crate::project::APPROVED_PLUGINS_DIR
        )));
        for (hook, swap) in &result.plugin_swaps {
            match swap {
                Ok(diff) => doc.list(diff.summary().lines().map(|line| value(line.trim()))),
                Err(error) => doc
                    .list([words(format!("the {hook} plugin changed; what it changes cannot be shown: "))
                        .value(error.to_string())]),
            };
        }
    }

    for object in &result.profile.objects {
        for attribute in object.attributes.iter().filter(|attribute| !attribute.after_export.is_empty()) {
            doc.section("Events dated after the export");
            doc.paragraph(
                code(format!("{}.{}", object.kind, attribute.field()))
                    .words(" (")
                    .value(object.file.clone())
                    .words(", ")
                    .code(attribute.column.header.clone())
                    .words("): ")
                    .value(super::propose::future_events(&attribute.after_export)),
            );
        }
    }

    let names = &result.profile.names;
    if names.disagree > 0 {
        doc.section("Names that disagree");
        doc.paragraph(
            words(format!(
                "{} of {} contacts with both a full name and first/last name have a full name that is not their first and last name. \
                 Their name is the {} (`[names] prefer = \"{}\"` in mapping.toml). Contacts (User.com ids){}: ",
                names.disagree,
                names.both,
                if result.mapping.names == crate::mapping::NamePreference::Full {
                    "full name"
                } else {
                    "first and last name"
                },
                result.mapping.names.as_str(),
                if names.disagree > names.examples.len() as u64 { ", the first" } else { "" },
            ))
            .then(Text::join(names.examples.iter().map(|id| code(id.clone())), ", ")),
        );
    }

    crate::plan::side_effects::section(&mut doc, &result.side_effects);
    crate::plan::deal_products::section(&mut doc, &result.deal_products);
    crate::plan::attachments::section(&mut doc, &result.attachments);

    doc.section("Mapping");
    doc.paragraph(words(format!("{counts}.")));
    let review: Vec<_> = result.mapping.fields.iter().filter(|entry| entry.needs_review()).collect();
    if !review.is_empty() {
        let mut table = Table::new(["Review", "Proposal", "Confidence", "Why"]);
        for entry in review {
            table.row([
                code(entry.key()),
                value(describe(entry)),
                words(format!("{:.2}", entry.confidence)),
                value(entry.why.join("; ")),
            ]);
        }
        doc.table(table);
    }
    let keys = |keys: &[String]| Text::join(keys.iter().map(|key| code(key.clone())), ", ");
    if !result.kept_edits.is_empty() {
        doc.paragraph(words("Kept your edits: ").then(keys(&result.kept_edits)).words("."));
    }
    if !result.dropped.is_empty() {
        doc.paragraph(words("Dropped (no longer in the export): ").then(keys(&result.dropped)).words("."));
    }
    let skipped: Vec<_> = result
        .mapping
        .fields
        .iter()
        .filter_map(|entry| match &entry.landing {
            Landing::Skip { reason } => Some((entry.key(), reason)),
            _ => None,
        })
        .collect();
    if !skipped.is_empty() {
        let mut table = Table::new(["Not migrated", "Why"]);
        for (key, reason) in skipped {
            table.row([code(key), value(reason.clone())]);
        }
        doc.table(table);
    }

    let changes = &result.changes;
    doc.section("Created in Pipedrive before any record moves");
    if !changes.new_fields.is_empty() {
        let mut table = Table::new(["Entity", "New custom field", "Type", "Options", "For"]);
        for field in &changes.new_fields {
            let source = if field.source.is_empty() {
                words("the migration's marker (idempotency)")
            } else {
                code(field.source.clone())
            };
            table.row([
                words(field.entity.to_string()),
                value(field.name.clone()),
                words(field.field_type.to_string()),
                value(field.options.join(", ")),
                source,
            ]);
        }
        doc.table(table);
    }
    let item = |title: &str, items: Vec<Text>| {
        (!items.is_empty()).then(|| words(format!("{title} ({}): ", items.len())).then(Text::join(items, ", ")))
    };
    doc.list(
        [
            item(
                "Options added to existing fields",
                changes
                    .options_to_add
                    .iter()
                    .map(|(entity, field, options)| {
                        words(format!("{entity} '")).value(field.clone()).words("' + ").value(options.join(" / "))
                    })
                    .collect(),
            ),
            item("Pipelines", changes.pipelines_to_create.iter().map(|pipeline| value(pipeline.clone())).collect()),
            item(
                "Stages, in this order",
                changes
                    .stages_to_create
                    .iter()
                    .map(|(pipeline, stage)| value(pipeline.clone()).words(" › ").value(stage.clone()))
                    .collect(),
            ),
            item("Activity types", changes.activity_types_to_create.iter().map(|kind| value(kind.clone())).collect()),
            item(
                "Labels",
                changes
                    .labels_to_create
                    .iter()
                    .map(|(entity, label)| value(label.clone()).words(format!(" ({entity})")))
                    .collect(),
            ),
        ]
        .into_iter()
        .flatten(),
    );
    doc.paragraph(words("Labels: ").value(result.labels_by.clone()).words("."));
    if !changes.agents_to_default_owner.is_empty() {
        let agents = changes
            .agents_to_default_owner
            .iter()
            .map(|(agent, records)| value(agent.clone()).words(format!(" ({records} records)")));
        doc.paragraph(
            words(format!(
                "Agents without a Pipedrive user; their records go to the default owner {}: ",
                result.mapping.default_owner.target
            ))
            .then(Text::join(agents, ", "))
            .words("."),
        );
    }

    limits_section(&mut doc, &result.limits);

    let bill = &result.bill;
    doc.section("Token bill");
    doc.paragraph(words(format!(
        "At Pipedrive's published cost per call, plan {} with {} seat(s): daily budget {} tokens, burst limit {} requests per 2 s. \
         Records are counted before plugins merge or drop any, so the real bill can only be lower (plus retries).",
        bill.plan,
        bill.seats,
        thousands(bill.daily_budget),
        bill.burst_limit
    )));
    let mut table = Table::new(["Phase", "Records", "Call", "Calls", "Tokens each", "Tokens"]).figures([1, 3, 4, 5]);
    for phase in &bill.phases {
        for (index, line) in phase.lines.iter().enumerate() {
            let (name, records) =
                if index == 0 { (words(phase.phase), number(phase.records)) } else { Default::default() };
            table.row([
                name,
                records,
                words(format!("{} (", line.what)).code(line.operation.to_string()).words(")"),
                number(line.calls),
                words(line.cost.to_string()),
                number(line.tokens),
            ]);
        }
    }
    table.row([
        Text::new().strong("total"),
        Text::new(),
        Text::new(),
        Text::new().strong(thousands(bill.calls)),
        Text::new(),
        Text::new().strong(thousands(bill.tokens)),
    ]);
    doc.table(table);
    doc.list([
        words("Days of budget: ").strong(format!("{:.2}", bill.budget_days)).words(format!(
            " ({} ÷ {}).",
            thousands(bill.tokens),
            thousands(bill.daily_budget)
        )),
        words("Wall time at the burst limit: ").strong(duration_words(bill.wall_seconds)).words(format!(
            " ({} calls at {} per 2 s), budget pauses aside.",
            thousands(bill.calls),
            bill.burst_limit
        )),
    ]);
    doc.paragraph(
        words("Next: read and edit ")
            .code(result.mapping_path.display().to_string())
            .words(", then `crm-migrate approve`."),
    );
    doc
}

/// The grade, each factor against its thresholds, and the calendar estimate.
fn grade_section(doc: &mut Document, assessment: &Assessment) {
    doc.section(words(format!("Complexity: {}", assessment.grade)));
    doc.paragraph(words(format!("The grade is the highest any factor reaches. Estimate: {}.", assessment.estimate)));
    let mut table = Table::new(["Factor", "Measured", "Standard from", "Complex from", "Grade", "Why it counts"])
        .figures([1, 2, 3]);
    for reason in &assessment.reasons {
        table.row([
            words(reason.factor.to_string()),
            words(number_words(reason.value)),
            words(number_words(reason.standard_from)),
            words(number_words(reason.complex_from)),
            words(reason.grade.to_string()),
            words(reason.why.to_string()),
        ]);
    }
    doc.table(table);
}

/// The account's limits against the migration: what is refused, and the conversations split.
fn limits_section(doc: &mut Document, limits: &LimitsCheck) {
    let allows = |limit: Option<u64>| limit.map_or_else(|| "no limit".to_owned(), thousands);
    doc.section(words(format!("Account limits (plan {}, {} seat(s))", limits.plan, limits.seats)));
    doc.list([
        words(format!(
            "Custom fields per company: {} after apply ({} in the account now), the plan allows {}.",
            thousands(limits.custom_fields_after),
            thousands(limits.custom_fields_existing),
            allows(limits.custom_fields_limit)
        )),
        words(format!(
            "Deals: {} in the export and {} already in the account, the plan allows {}.",
            thousands(limits.deals),
            thousands(limits.deals_in_account),
            allows(limits.deals_limit)
        )),
        words(format!(
            "Options or labels per field: at most {}. A note or an activity note: at most {} bytes.",
            thousands(limits.options_per_field),
            thousands(limits.note_bytes)
        )),
    ]);
    if !limits.refusals.is_empty() {
        doc.paragraph(
            Text::new()
                .strong("Refused: the account cannot hold this mapping.")
                .words(" Nothing is written; `approve` refuses until each is resolved."),
        );
        let mut table = Table::new(["Limit", "Found", "Allowed", "What to do"]).figures([1, 2]);
        for refusal in &limits.refusals {
            table.row([
                value(refusal.what.clone()),
                number(refusal.found),
                number(refusal.limit),
                value(refusal.how.clone()),
            ]);
        }
        doc.table(table);
    }
    if !limits.splits.is_empty() {
        doc.paragraph(words(format!(
            "{} conversation(s) are longer than one note holds: each is written as several notes on its person, in order, each headed \"part i of n\":",
            limits.splits.len()
        )));
        let mut table = Table::new(["Conversation", "Bytes", "Notes"]).figures([1, 2]);
        for split in &limits.splits {
            table.row([code(split.conversation.clone()), number(split.bytes), words(split.parts.to_string())]);
        }
        doc.table(table);
    }
}

/// The short summary `plan` prints.
pub fn summary(result: &PlanResult, policy: BudgetPolicy, reports: &[PathBuf]) -> String {
    let counts = entry_counts(&result.mapping);
    let mut out = String::new();
    let _ = writeln!(out, "wrote {}", result.mapping_path.display());
    let _ = writeln!(out, "  {counts}");
    if !result.kept_edits.is_empty() {
        let _ = writeln!(out, "  kept {} of your edits; {} new entries", result.kept_edits.len(), result.added.len());
    }
    let changes = &result.changes;
    let _ = writeln!(
        out,
        "  workspace: {} custom fields, {} pipelines, {} stages, {} activity types, {} labels to create",
        changes.new_fields.len(),
        changes.pipelines_to_create.len(),
        changes.stages_to_create.len(),
        changes.activity_types_to_create.len(),
        changes.labels_to_create.len()
    );
    let _ = writeln!(
        out,
        "  tokens: {} ({:.2} days of {} a day), {} calls, {} at the burst limit",
        thousands(result.bill.tokens),
        result.bill.budget_days,
        thousands(result.bill.daily_budget),
        thousands(result.bill.calls),
        duration_words(result.bill.wall_seconds)
    );
    if result.bill.budget_days > 1.0 {
        let _ = writeln!(out, "  {}", budget_sentence(&result.bill, policy).replace("**", ""));
    }
    let assessment = &result.assessment;
    let _ = writeln!(
        out,
        "  grade: {} ({}); load: {} calendar day(s)",
        assessment.grade,
        assessment.deciding().iter().map(|reason| reason.sentence()).collect::<Vec<_>>().join("; "),
        assessment.load_days
    );
    if !result.limits.splits.is_empty() {
        let _ = writeln!(
            out,
            "  {} conversation(s) too long for one note: each split into parts, in order (plan.md lists them)",
            result.limits.splits.len()
        );
    }
    out.extend(crate::plan::existing::summary(&result.existing).map(|line| format!("  {line}\n")));
    for path in reports {
        let _ = writeln!(out, "  report {}", path.display());
    }
    for decision in &result.decisions {
        let _ = writeln!(out, "  REVIEW {}: {}; decide: {}", decision.what, decision.found, decision.how);
    }
    for (hook, swap) in &result.plugin_swaps {
        match swap {
            Ok(diff) => {
                out.extend(diff.summary().lines().map(|line| format!("  swapped since the approval: {line}\n")))
            }
            Err(error) => out.push_str(&format!(
                "  the {hook} plugin changed since the approval; what it changes cannot be shown: {error}\n"
            )),
        }
    }
    if result.errors.is_empty() {
        let _ = writeln!(
            out,
            "next: review {} (entries marked REVIEW first), then: crm-migrate approve",
            result.mapping_path.display()
        );
    } else {
        let _ = writeln!(
            out,
            "{} problem(s) in the mapping; approve refuses it until they are fixed:",
            result.errors.len()
        );
        for error in &result.errors {
            let _ = writeln!(out, "  {error}");
        }
    }
    out
}
