//! `reports/plan.md` (for people) and `reports/plan.json` (for machines): the mapping in numbers,
//! what apply will create in the workspace, records per phase, the token bill against the daily
//! budget and the burst limit, and what needs a person's attention.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::audit::report::thousands;
use crate::mapping::{Landing, Mapping};
use crate::pipedrive::BudgetPolicy;
use crate::plan::bill::Bill;
use crate::plan::comments::describe;
use crate::plan::grade::{Assessment, number};
use crate::plan::limits::LimitsCheck;
use crate::plan::{PlanError, PlanResult};

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

pub fn write_reports(result: &PlanResult, policy: BudgetPolicy, reports_dir: &Path) -> Result<Vec<PathBuf>, PlanError> {
    crate::private_files::create_dir(reports_dir)
        .map_err(|source| PlanError::Io { path: reports_dir.to_owned(), source })?;
    let markdown_path = reports_dir.join("plan.md");
    let json_path = reports_dir.join("plan.json");
    crate::private_files::write(&markdown_path, markdown(result, policy))
        .map_err(|source| PlanError::Io { path: markdown_path.clone(), source })?;
    let json = serde_json::to_string_pretty(&to_json(result)).expect("plain data serializes") + "\n";
    crate::private_files::write(&json_path, json)
        .map_err(|source| PlanError::Io { path: json_path.clone(), source })?;
    Ok(vec![markdown_path, json_path])
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

pub fn markdown(result: &PlanResult, policy: BudgetPolicy) -> String {
    let mut out = String::new();
    let counts = entry_counts(&result.mapping);
    let _ = writeln!(out, "# Migration plan\n");
    let _ = writeln!(
        out,
        "Planned {} against {}. Reading the workspace and the records the account already has cost {} tokens; nothing was written to Pipedrive.\n",
        result.planned_at, result.workspace.url, result.plan_tokens
    );
    let _ = writeln!(out, "{}\n", budget_sentence(&result.bill, policy));
    grade_section(&mut out, &result.assessment);

    if !result.errors.is_empty() {
        let _ = writeln!(
            out,
            "## Fix before approving\n\n`{}` has {} problem(s); `approve` refuses it until they are fixed:\n",
            result.mapping_path.display(),
            result.errors.len()
        );
        for error in &result.errors {
            let _ = writeln!(out, "- {}", cell(&error.to_string()));
        }
        out.push('\n');
    }
    if !result.decisions.is_empty() {
        let _ = writeln!(
            out,
            "## Decide before approving (REVIEW)\n\n`plan` exits with code 11 until each is decided.\n\n| Decision | Found | How to decide |\n|---|---|---|"
        );
        for decision in &result.decisions {
            let _ = writeln!(out, "| {} | {} | {} |", code(&decision.what), cell(&decision.found), cell(&decision.how));
        }
        out.push('\n');
    }

    crate::plan::existing::markdown(&mut out, &result.existing);
    if !result.plugin_swaps.is_empty() {
        // Counts and field names only: plan.md stays free of record values (purge keeps it).
        let _ = writeln!(
            out,
            "## What the swapped plugin changes\n\nSince the last approval, run over this export against the approved build (kept in `{}/`); \
             `crm-migrate plugin diff OLD.wasm NEW.wasm` names every record and value that changes.\n",
            crate::project::APPROVED_PLUGINS_DIR
        );
        for (hook, swap) in &result.plugin_swaps {
            let lines = match swap {
                Ok(diff) => diff.summary().lines().map(|line| format!("- {}", cell(line.trim()))).collect(),
                Err(error) => vec![format!(
                    "- the {hook} plugin changed; what it changes cannot be shown: {}",
                    cell(&error.to_string())
                )],
            };
            let _ = writeln!(out, "{}\n", lines.join("\n"));
        }
    }

    for object in &result.profile.objects {
        for attribute in object.attributes.iter().filter(|attribute| !attribute.after_export.is_empty()) {
            let _ = writeln!(
                out,
                "## Events dated after the export\n\n{} ({}, `{}`): {}\n",
                code(&format!("{}.{}", object.kind, attribute.field())),
                cell(&object.file),
                cell(&attribute.column.header),
                cell(&super::propose::future_events(&attribute.after_export))
            );
        }
    }

    let names = &result.profile.names;
    if names.disagree > 0 {
        let _ = writeln!(
            out,
            "## Names that disagree\n\n{} of {} contacts with both a full name and first/last name have a full name that is not their first and last name. \
             Their name is the {} (`[names] prefer = \"{}\"` in mapping.toml). Contacts (User.com ids){}: {}\n",
            names.disagree,
            names.both,
            if result.mapping.names == crate::mapping::NamePreference::Full {
                "full name"
            } else {
                "first and last name"
            },
            result.mapping.names.as_str(),
            if names.disagree > names.examples.len() as u64 { ", the first" } else { "" },
            names.examples.iter().map(|id| code(id)).collect::<Vec<_>>().join(", ")
        );
    }

    crate::plan::side_effects::markdown(&mut out, &result.side_effects);
    crate::plan::deal_products::markdown(&mut out, &result.deal_products);
    crate::plan::attachments::markdown(&mut out, &result.attachments);

    let _ = writeln!(out, "## Mapping\n");
    let _ = writeln!(out, "{counts}.\n");
    let review: Vec<_> = result.mapping.fields.iter().filter(|entry| entry.needs_review()).collect();
    if !review.is_empty() {
        let _ = writeln!(out, "| Review | Proposal | Confidence | Why |\n|---|---|---|---|");
        for entry in review {
            let _ = writeln!(
                out,
                "| {} | {} | {:.2} | {} |",
                code(&entry.key()),
                cell(&describe(entry)),
                entry.confidence,
                cell(&entry.why.join("; "))
            );
        }
        out.push('\n');
    }
    if !result.kept_edits.is_empty() {
        let _ = writeln!(
            out,
            "Kept your edits: {}.\n",
            result.kept_edits.iter().map(|key| code(key)).collect::<Vec<_>>().join(", ")
        );
    }
    if !result.dropped.is_empty() {
        let _ = writeln!(
            out,
            "Dropped (no longer in the export): {}.\n",
            result.dropped.iter().map(|key| code(key)).collect::<Vec<_>>().join(", ")
        );
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
        let _ = writeln!(out, "| Not migrated | Why |\n|---|---|");
        for (key, reason) in skipped {
            let _ = writeln!(out, "| {} | {} |", code(&key), cell(reason));
        }
        out.push('\n');
    }

    let changes = &result.changes;
    let _ = writeln!(out, "## Created in Pipedrive before any record moves\n");
    if !changes.new_fields.is_empty() {
        let _ = writeln!(out, "| Entity | New custom field | Type | Options | For |\n|---|---|---|---|---|");
        for field in &changes.new_fields {
            let source = if field.source.is_empty() {
                "the migration's marker (idempotency)".to_owned()
            } else {
                code(&field.source)
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {source} |",
                field.entity,
                cell(&field.name),
                field.field_type,
                cell(&field.options.join(", "))
            );
        }
        out.push('\n');
    }
    let list = |out: &mut String, title: &str, items: Vec<String>| {
        if !items.is_empty() {
            let _ = writeln!(out, "- {title} ({}): {}", items.len(), items.join(", "));
        }
    };
    list(
        &mut out,
        "Options added to existing fields",
        changes
            .options_to_add
            .iter()
            .map(|(entity, field, options)| format!("{entity} '{}' + {}", cell(field), cell(&options.join(" / "))))
            .collect(),
    );
    list(&mut out, "Pipelines", changes.pipelines_to_create.iter().map(|pipeline| cell(pipeline)).collect());
    list(
        &mut out,
        "Stages, in this order",
        changes
            .stages_to_create
            .iter()
            .map(|(pipeline, stage)| format!("{} › {}", cell(pipeline), cell(stage)))
            .collect(),
    );
    list(&mut out, "Activity types", changes.activity_types_to_create.iter().map(|kind| cell(kind)).collect());
    list(
        &mut out,
        "Labels",
        changes.labels_to_create.iter().map(|(entity, label)| format!("{} ({entity})", cell(label))).collect(),
    );
    let _ = writeln!(out, "\nLabels: {}.\n", cell(&result.labels_by));
    if !changes.agents_to_default_owner.is_empty() {
        let _ = writeln!(
            out,
            "Agents without a Pipedrive user; their records go to the default owner {}: {}.\n",
            result.mapping.default_owner.target,
            changes
                .agents_to_default_owner
                .iter()
                .map(|(agent, records)| format!("{} ({records} records)", cell(agent)))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }

    limits_section(&mut out, &result.limits);

    let bill = &result.bill;
    let _ = writeln!(out, "## Token bill\n");
    let _ = writeln!(
        out,
        "At Pipedrive's published cost per call, plan {} with {} seat(s): daily budget {} tokens, burst limit {} requests per 2 s. \
         Records are counted before plugins merge or drop any, so the real bill can only be lower (plus retries).\n",
        bill.plan,
        bill.seats,
        thousands(bill.daily_budget),
        bill.burst_limit
    );
    let _ = writeln!(out, "| Phase | Records | Call | Calls | Tokens each | Tokens |\n|---|---:|---|---:|---:|---:|");
    for phase in &bill.phases {
        for (index, line) in phase.lines.iter().enumerate() {
            let (name, records) =
                if index == 0 { (phase.phase, thousands(phase.records)) } else { ("", String::new()) };
            let _ = writeln!(
                out,
                "| {name} | {records} | {} (`{}`) | {} | {} | {} |",
                line.what,
                line.operation,
                thousands(line.calls),
                line.cost,
                thousands(line.tokens)
            );
        }
    }
    let _ = writeln!(out, "| **total** | | | **{}** | | **{}** |\n", thousands(bill.calls), thousands(bill.tokens));
    let _ = writeln!(
        out,
        "- Days of budget: **{:.2}** ({} ÷ {}).\n- Wall time at the burst limit: **{}** ({} calls at {} per 2 s), budget pauses aside.\n",
        bill.budget_days,
        thousands(bill.tokens),
        thousands(bill.daily_budget),
        duration_words(bill.wall_seconds),
        thousands(bill.calls),
        bill.burst_limit
    );
    let _ = writeln!(out, "Next: read and edit `{}`, then `crm-migrate approve`.", result.mapping_path.display());
    out
}

/// The grade, each factor against its thresholds, and the calendar estimate.
fn grade_section(out: &mut String, assessment: &Assessment) {
    let _ = writeln!(out, "## Complexity: {}\n", assessment.grade);
    let _ = writeln!(out, "The grade is the highest any factor reaches. Estimate: {}.\n", assessment.estimate);
    let _ = writeln!(
        out,
        "| Factor | Measured | Standard from | Complex from | Grade | Why it counts |\n|---|---:|---:|---:|---|---|"
    );
    for reason in &assessment.reasons {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            reason.factor,
            number(reason.value),
            number(reason.standard_from),
            number(reason.complex_from),
            reason.grade,
            reason.why
        );
    }
    out.push('\n');
}

/// The account's limits against the migration: what is refused, and the conversations split.
fn limits_section(out: &mut String, limits: &LimitsCheck) {
    let allows = |limit: Option<u64>| limit.map_or_else(|| "no limit".to_owned(), thousands);
    let _ = writeln!(out, "## Account limits (plan {}, {} seat(s))\n", limits.plan, limits.seats);
    let _ = writeln!(
        out,
        "- Custom fields per company: {} after apply ({} in the account now), the plan allows {}.\n- Deals: {} in the export and {} already in the account, the plan allows {}.\n- Options or labels per field: at most {}. A note or an activity note: at most {} bytes.\n",
        thousands(limits.custom_fields_after),
        thousands(limits.custom_fields_existing),
        allows(limits.custom_fields_limit),
        thousands(limits.deals),
        thousands(limits.deals_in_account),
        allows(limits.deals_limit),
        thousands(limits.options_per_field),
        thousands(limits.note_bytes)
    );
    if !limits.refusals.is_empty() {
        let _ = writeln!(
            out,
            "**Refused: the account cannot hold this mapping.** Nothing is written; `approve` refuses until each is resolved.\n\n| Limit | Found | Allowed | What to do |\n|---|---:|---:|---|"
        );
        for refusal in &limits.refusals {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} |",
                cell(&refusal.what),
                thousands(refusal.found),
                thousands(refusal.limit),
                cell(&refusal.how)
            );
        }
        out.push('\n');
    }
    if !limits.splits.is_empty() {
        let _ = writeln!(
            out,
            "{} conversation(s) are longer than one note holds: each is written as several notes on its person, in order, each headed \"part i of n\":\n\n| Conversation | Bytes | Notes |\n|---|---:|---:|",
            limits.splits.len()
        );
        for split in &limits.splits {
            let _ = writeln!(out, "| {} | {} | {} |", code(&split.conversation), thousands(split.bytes), split.parts);
        }
        out.push('\n');
    }
}

/// A key (`contact.city`) as inline code: control characters escaped, a backtick or a `|` kept
/// from ending the code span or the table cell.
fn code(text: &str) -> String {
    format!("`{}`", crate::untrusted::escape(text).replace('`', "'").replace('|', "\\|"))
}

/// Text from the export, a plugin or a person, safe in a Markdown table cell or list.
fn cell(text: &str) -> String {
    crate::untrusted::markdown(text)
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
