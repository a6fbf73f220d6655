//! `crm-migrate report`: the handoff for the customer's admin (`reports/handoff/`): what cannot be
//! migrated and how to rebuild it (automations, segments as filters, email templates), the
//! billing audit, the final reconciliation and quarantine, and a one-page summary. Each document
//! is Markdown; `handoff.html` holds them all on one self-contained page (no external assets).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

use crate::apply::PHASES;
use crate::audit::AuditError;
use crate::extract::{Catalogue, ExtractError};
use crate::journal::{Fate, Journal};
use crate::mapping::file::MappingError;
use crate::mapping::{Destination, Landing, MAPPING_FILE, Mapping};
use crate::pipedrive::workspace::same_name;
use crate::plan::side_effects;
use crate::project::Project;
use crate::record::ObjectKind;
use crate::report::{Document, Files, Table, Text, WriteError, html, thousands, value, words};
use crate::source::{OpenExportError, open_export};
use crate::state::{State, StateError};

/// Why the handoff documents could not be written.
#[derive(Debug, thiserror::Error)]
pub enum HandoffError {
    #[error("{} does not read; fix it (`crm-migrate plan` checks it):\n{}", .path.display(), .errors.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n"))]
    Mapping { path: PathBuf, errors: Vec<MappingError> },
    /// The billing figures come from the audit of the export.
    #[error("the billing audit: {source}")]
    Audit { source: AuditError },
    #[error(transparent)]
    Export(#[from] OpenExportError),
    #[error(transparent)]
    Extract(#[from] ExtractError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// A section of a handoff document: a title, a paragraph of ours, and a table of values (from
/// the export, the mapping, the journal: escaped where rendered), "(none)" when it has no rows.
fn section(doc: &mut Document, title: &str, intro: impl Into<Text>, headers: &[&'static str], rows: Vec<Vec<String>>) {
    doc.section(words(title)).paragraph(intro.into());
    let mut table = Table::new(headers.iter().copied()).when_empty("(none)");
    for row in rows {
        table.row(row.into_iter().map(value));
    }
    doc.table(table);
}

/// A rule as User.com writes it (a segment's rules, an automation's conditions): conditions
/// joined by and/or, groups nested.
#[derive(Debug, Clone, PartialEq)]
enum Rule {
    Condition(Condition),
    Group { any: bool, rules: Vec<Rule> },
}

/// One condition: on an attribute or on an event, an operator, a value (as text).
#[derive(Debug, Clone, PartialEq)]
struct Condition {
    subject: Subject,
    operator: String,
    value: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Subject {
    Attribute(String),
    Event(String),
}

/// What a person sees for a value that did not read: the raw text, made inert, never a "-".
fn not_read(raw: &str) -> String {
    format!("not read: {}", crate::untrusted::escape(raw.trim()))
}

/// The first of `keys` that `object` has as text.
fn text_at<'a>(object: &'a serde_json::Map<String, Value>, keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|key| object.get(*key).and_then(Value::as_str))
}

/// A JSON scalar as text (strings without their quotes).
fn scalar(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Reads rules from the forms User.com writes: JSON (`{"and": [...]}`, `{"operator": "and",
/// "filters": [...]}`, groups nested in groups, a bare array of conditions, one condition) or
/// the text form (`status = user and score > 5`). `Ok(None)`: no rules; `Err`: they do not read.
fn parse_rules(text: &str) -> Result<Option<Rule>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    match serde_json::from_str::<Value>(text) {
        Ok(json) => rule_of_json(&json).map(Some).ok_or_else(|| not_read(text)),
        Err(_) if text.starts_with(['{', '[']) => Err(not_read(text)),
        Err(_) => rule_of_text(text).map(Some).ok_or_else(|| not_read(text)),
    }
}

fn rule_of_json(json: &Value) -> Option<Rule> {
    let group = |any: bool, items: &Value| -> Option<Rule> {
        let rules = items.as_array()?.iter().map(rule_of_json).collect::<Option<Vec<_>>>()?;
        Some(Rule::Group { any, rules })
    };
    let glue = |word: &str| match word.to_lowercase().as_str() {
        "and" | "all" => Some(false),
        "or" | "any" => Some(true),
        _ => None,
    };
    match json {
        Value::Array(_) => group(false, json),
        Value::Object(object) => {
            let subject = match (
                text_at(object, &["attribute", "field", "attr", "property"]),
                text_at(object, &["event", "event_name"]),
            ) {
                (Some(attribute), _) => Some(Subject::Attribute(attribute.to_owned())),
                (None, Some(event)) => Some(Subject::Event(event.to_owned())),
                (None, None) => None,
            };
            if let Some(subject) = subject {
                let operator = text_at(object, &["operator", "op", "comparison", "condition"])?.to_owned();
                return Some(Rule::Condition(Condition {
                    subject,
                    operator,
                    value: object.get("value").map(scalar).unwrap_or_default(),
                }));
            }
            if let [(word, items)] = object.iter().collect::<Vec<_>>()[..]
                && let Some(any) = glue(word)
            {
                return group(any, items);
            }
            let any = glue(text_at(object, &["operator", "logic", "match", "glue", "type"])?)?;
            let items = ["filters", "conditions", "rules", "items"].iter().find_map(|key| object.get(*key))?;
            group(any, items)
        }
        _ => None,
    }
}

/// `attribute <op> value`, joined by ` and ` or by ` or ` (not both: the text form has no brackets).
fn rule_of_text(text: &str) -> Option<Rule> {
    let lower = text.to_lowercase();
    let (any, separator) = if lower.contains(" or ") { (true, " or ") } else { (false, " and ") };
    if any && lower.contains(" and ") {
        return None;
    }
    let mut rules = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let at = rest.to_lowercase().find(separator).unwrap_or(rest.len());
        let part = rest[..at].trim();
        rest = rest.get(at + separator.len()..).unwrap_or("");
        let (attribute, operator, value) = ["!=", ">=", "<=", "=", ">", "<"]
            .iter()
            .find_map(|symbol| part.split_once(symbol).map(|(a, v)| (a.trim(), *symbol, v.trim())))?;
        if attribute.is_empty() || attribute.contains(char::is_whitespace) {
            return None;
        }
        let operator = match operator {
            "=" => "is",
            "!=" => "is_not",
            ">" => "greater_than",
            "<" => "less_than",
            ">=" => "at_least",
            _ => "at_most",
        };
        rules.push(Rule::Condition(Condition {
            subject: Subject::Attribute(attribute.to_owned()),
            operator: operator.to_owned(),
            value: value.to_owned(),
        }));
    }
    Some(if rules.len() == 1 { rules.remove(0) } else { Rule::Group { any, rules } })
}

/// The operator of a condition by its meaning, whatever the spelling.
fn operator_meaning(operator: &str) -> &str {
    match operator.to_lowercase().as_str() {
        "is" | "equals" | "eq" | "=" | "==" => "is",
        "is_not" | "not_equals" | "neq" | "ne" | "!=" => "is_not",
        "contains" | "has" | "includes" | "in" => "contains",
        "greater_than" | "gt" | ">" => "greater_than",
        "less_than" | "lt" | "<" => "less_than",
        "at_least" | "gte" | "greater_than_or_equal" | ">=" => "at_least",
        "at_most" | "lte" | "less_than_or_equal" | "<=" => "at_most",
        "less_than_days_ago" | "within_last_days" => "less_than_days_ago",
        "more_than_days_ago" | "not_within_last_days" => "more_than_days_ago",
        "is_set" | "exists" | "is_not_empty" | "present" => "is_set",
        "is_not_set" | "not_exists" | "is_empty" | "absent" => "is_not_set",
        _ => operator,
    }
}

impl Rule {
    /// The rule as the sample's text form writes it (`status = user and unsubscribed = false`).
    fn text(&self, top: bool) -> String {
        match self {
            Rule::Condition(condition) => {
                let symbol = match operator_meaning(&condition.operator) {
                    "is" => "=",
                    "is_not" => "!=",
                    "greater_than" => ">",
                    "less_than" => "<",
                    "at_least" => ">=",
                    "at_most" => "<=",
                    _ => condition.operator.as_str(),
                };
                let value = if condition.value.is_empty() { String::new() } else { format!(" {}", condition.value) };
                match &condition.subject {
                    Subject::Attribute(attribute) => format!("{attribute} {symbol}{value}"),
                    Subject::Event(event) => format!("event {event} {symbol}{value}"),
                }
            }
            Rule::Group { any, rules } => {
                let joined = rules.iter().map(|rule| rule.text(false)).collect::<Vec<_>>().join(if *any {
                    " or "
                } else {
                    " and "
                });
                if top || rules.len() < 2 { joined } else { format!("({joined})") }
            }
        }
    }
}

/// An automation's trigger: its kind (`event`, `user_created`) and what it names (`cart_abandoned`).
#[derive(Debug, Clone, PartialEq)]
struct Trigger {
    kind: String,
    argument: Option<String>,
}

/// Reads a trigger from the text form (`event: cart_abandoned`) or JSON (`{"type": "event",
/// "event": "cart_abandoned"}`).
fn parse_trigger(text: &str) -> Result<Trigger, String> {
    let text = text.trim();
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(object)) => {
            let kind = text_at(&object, &["type", "trigger", "kind", "name"]).ok_or_else(|| not_read(text))?;
            let argument = object
                .iter()
                .filter(|(key, _)| !["type", "trigger", "kind", "name"].contains(&key.as_str()))
                .map(|(_, value)| scalar(value))
                .find(|value| !value.is_empty());
            Ok(Trigger { kind: kind.to_owned(), argument })
        }
        Ok(Value::String(kind)) => Ok(Trigger { kind, argument: None }),
        Ok(_) => Err(not_read(text)),
        Err(_) if text.is_empty() || text.starts_with(['{', '[']) => Err(not_read(text)),
        Err(_) => Ok(match text.split_once(':') {
            Some((kind, argument)) => {
                Trigger { kind: kind.trim().to_owned(), argument: Some(argument.trim().to_owned()) }
            }
            None => Trigger { kind: text.to_owned(), argument: None },
        }),
    }
}

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.argument {
            Some(argument) => write!(f, "{}: {argument}", self.kind),
            None => f.write_str(&self.kind),
        }
    }
}

/// One step of an automation: a delay, an action (`send_email(template: Witamy)`), or one that
/// did not read.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Wait(String),
    Action(String),
    NotRead(String),
}

impl Step {
    /// The action's name (`send_email`), lower case.
    fn action(&self) -> Option<String> {
        match self {
            Step::Action(action) => Some(action.split('(').next().unwrap_or("").trim().to_lowercase()),
            _ => None,
        }
    }
}

/// Reads an automation's steps from the text form (`wait 1h; send_email(template: Witamy)`, or
/// one a line) or JSON (an array of steps, each `{"type": "send_email", "params": {...}}` or a
/// delay such as `{"type": "wait", "delay": {"value": 2, "unit": "hours"}}`).
fn parse_steps(text: &str) -> Vec<Step> {
    let text = text.trim();
    let json = serde_json::from_str::<Value>(text).ok().filter(|json| json.is_array() || json.is_object());
    let Some(json) = json else {
        if text.starts_with(['{', '[']) {
            return vec![Step::NotRead(not_read(text))];
        }
        return text
            .split([';', '\n'])
            .map(str::trim)
            .filter(|step| !step.is_empty())
            .map(|step| {
                if step.to_lowercase().starts_with("wait") {
                    Step::Wait(step.to_owned())
                } else {
                    Step::Action(step.to_owned())
                }
            })
            .collect();
    };
    let steps = match &json {
        Value::Object(object) => ["steps", "actions"]
            .iter()
            .find_map(|key| object.get(*key))
            .cloned()
            .unwrap_or_else(|| Value::Array(vec![json.clone()])),
        _ => json.clone(),
    };
    match steps.as_array() {
        Some(steps) => steps.iter().map(step_of_json).collect(),
        None => vec![Step::NotRead(not_read(text))],
    }
}

fn step_of_json(step: &Value) -> Step {
    let raw = || Step::NotRead(not_read(&step.to_string()));
    let Some(object) = step.as_object() else {
        return match step.as_str() {
            Some(name) => Step::Action(name.to_owned()),
            None => raw(),
        };
    };
    let kind = text_at(object, &["type", "action", "kind", "name"]);
    let delay = ["delay", "wait", "duration", "after"].iter().find_map(|key| object.get(*key));
    if matches!(kind.map(str::to_lowercase).as_deref(), Some("wait" | "delay")) || (kind.is_none() && delay.is_some()) {
        let delay = delay.unwrap_or(step);
        return delay_text(delay).map_or_else(raw, |delay| Step::Wait(format!("wait {delay}")));
    }
    let Some(kind) = kind else { return raw() };
    let params = match object.get("params").or(object.get("parameters")) {
        Some(Value::Object(params)) => {
            params.iter().map(|(key, value)| format!("{key}: {}", scalar(value))).collect::<Vec<_>>()
        }
        _ => object
            .iter()
            .filter(|(key, _)| !["type", "action", "kind", "name"].contains(&key.as_str()))
            .map(|(key, value)| format!("{key}: {}", scalar(value)))
            .collect(),
    };
    Step::Action(if params.is_empty() { kind.to_owned() } else { format!("{kind}({})", params.join(", ")) })
}

/// A delay as words: `{"value": 2, "unit": "hours"}`, `{"hours": 2}`, `"2h"`, a number of seconds.
fn delay_text(delay: &Value) -> Option<String> {
    let amount = |value: &Value| value.as_f64().or_else(|| value.as_str().and_then(|text| text.trim().parse().ok()));
    let words = |amount: f64, unit: &str| {
        let unit = match unit.trim().to_lowercase().trim_end_matches('s') {
            "s" | "sec" | "second" => "second",
            "m" | "min" | "minute" => "minute",
            "h" | "hour" => "hour",
            "d" | "day" => "day",
            "w" | "week" => "week",
            _ => return None,
        };
        let amount = if amount.fract() == 0.0 { format!("{amount:.0}") } else { amount.to_string() };
        Some(format!("{amount} {unit}{}", if amount == "1" { "" } else { "s" }))
    };
    match delay {
        Value::Object(object) => {
            if let (Some(value), Some(unit)) = (
                ["value", "amount", "count"].iter().find_map(|key| object.get(*key)).and_then(amount),
                text_at(object, &["unit", "units", "period"]),
            ) {
                return words(value, unit);
            }
            let [(unit, value)] = object.iter().collect::<Vec<_>>()[..] else { return None };
            words(amount(value)?, unit)
        }
        Value::Number(seconds) => words(seconds.as_f64()?, "seconds"),
        Value::String(text) => {
            let text = text.trim();
            let split = text.find(|c: char| !c.is_ascii_digit() && c != '.')?;
            words(text[..split].parse().ok()?, &text[split..])
        }
        _ => None,
    }
}

/// What a User.com automation becomes in Pipedrive, and why.
pub fn automation_equivalent(trigger: &str, actions: &str) -> (&'static str, String) {
    equivalent_of(parse_trigger(trigger).as_ref().ok(), &parse_steps(actions))
}

fn equivalent_of(trigger: Option<&Trigger>, steps: &[Step]) -> (&'static str, String) {
    let kind = trigger.map(|trigger| trigger.kind.trim().to_lowercase()).unwrap_or_default();
    let actions: Vec<String> = steps.iter().filter_map(Step::action).collect();
    let emails = actions.iter().filter(|action| *action == "send_email").count();
    let waits = steps.iter().filter(|step| matches!(step, Step::Wait(_))).count();
    let manual_trigger = if trigger.is_none() {
        Some("the trigger did not read: rebuild it by hand from User.com")
    } else if kind.starts_with("event") {
        Some(
            "Pipedrive has no triggers on website events; an integration would have to create an activity or update a field first",
        )
    } else if kind.starts_with("date_attribute") {
        Some(
            "Pipedrive automations cannot fire on a date field's anniversary; use a recurring reminder activity or Campaigns",
        )
    } else if kind.starts_with("segment_entered") {
        Some("Pipedrive has no trigger for entering a filter; run a Campaigns send to the filter instead")
    } else {
        None
    };
    let mut notes = Vec::new();
    if actions.iter().any(|action| action == "send_sms") {
        notes.push("Pipedrive sends no SMS: a marketplace app or manual".to_owned());
    }
    if steps.iter().any(|step| matches!(step, Step::NotRead(_))) {
        notes.push("a step did not read: rebuild it by hand from User.com".to_owned());
    }
    if let Some(reason) = manual_trigger {
        return ("manual", std::iter::once(reason.to_owned()).chain(notes).collect::<Vec<_>>().join("; "));
    }
    if emails > 0 && (waits > 0 || emails > 1) {
        notes.insert(0, format!("{emails} email(s) with {waits} delay(s): a sequence (Sales Assistant sequences, or Campaigns for marketing email)"));
        return ("sequence", notes.join("; "));
    }
    let what = actions
        .iter()
        .map(|action| match action.as_str() {
            "send_email" => "send an email".to_owned(),
            "add_tag" => "update the labels".to_owned(),
            "create_deal" => "create a deal".to_owned(),
            "notify_agent" => "send a notification".to_owned(),
            "assign_to" => "update the owner".to_owned(),
            other => format!("{other} (no direct equivalent)"),
        })
        .collect::<Vec<_>>()
        .join(", ");
    let on = if kind.starts_with("deal") {
        "a deal updated"
    } else if kind.starts_with("user_created") {
        "a person created"
    } else {
        "a person or lead created"
    };
    notes.insert(0, format!("a workflow automation on {on} that will {what}"));
    ("workflow automation", notes.join("; "))
}

/// The contact attribute a rule names, as the mapping has it: by its name, or by the same
/// letters in another spelling (`last_seen`, "Last seen").
fn mapped_attribute<'a>(mapping: &'a Mapping, attribute: &str) -> Option<&'a crate::mapping::FieldEntry> {
    let folded =
        |name: &str| name.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect::<String>();
    mapping.field(ObjectKind::Contact, attribute).or_else(|| {
        mapping
            .fields
            .iter()
            .find(|entry| entry.object == ObjectKind::Contact && folded(&entry.attribute) == folded(attribute))
    })
}

/// A User.com segment condition as a Pipedrive filter condition, or why it cannot be one.
fn filter_condition(condition: &Condition, mapping: &Mapping) -> Result<String, String> {
    let attribute = match &condition.subject {
        Subject::Event(event) => {
            return Err(format!(
                "event '{event}': events became activities; filter activities by subject '{event}' instead (a person filter cannot)"
            ));
        }
        Subject::Attribute(attribute) => attribute,
    };
    let Some(entry) = mapped_attribute(mapping, attribute) else {
        return Err(format!("'{attribute}' is not an attribute of the export"));
    };
    let field = match &entry.landing {
        Landing::Standard { code } => {
            Destination::Person.standard(code).map_or(code.clone(), |standard| standard.label.to_owned())
        }
        Landing::Existing { field, .. } | Landing::New { field, .. } => field.clone(),
        Landing::Skip { reason } => return Err(format!("'{attribute}' was not migrated ({reason})")),
    };
    let value = match condition.value.to_lowercase().as_str() {
        "true" => "Yes".to_owned(),
        "false" => "No".to_owned(),
        _ => condition.value.clone(),
    };
    Ok(match operator_meaning(&condition.operator) {
        "is" | "contains" => format!("{field} is {value}"),
        "is_not" => format!("{field} is not {value}"),
        "less_than_days_ago" => format!("{field} is later than {value} days ago (a relative date)"),
        "more_than_days_ago" => format!("{field} is earlier than {value} days ago (a relative date)"),
        "greater_than" => format!("{field} > {value}"),
        "less_than" => format!("{field} < {value}"),
        "at_least" => format!("{field} >= {value}"),
        "at_most" => format!("{field} <= {value}"),
        "is_set" => format!("{field} is not empty"),
        "is_not_set" => format!("{field} is empty"),
        other => return Err(format!("operator '{other}' has no Pipedrive filter equivalent")),
    })
}

/// A rule as Pipedrive filter conditions (groups of more than one in brackets below the top);
/// what cannot be a filter condition goes to `flags`.
fn filter_of(rule: &Rule, mapping: &Mapping, flags: &mut Vec<String>, top: bool) -> Option<String> {
    match rule {
        Rule::Condition(condition) => filter_condition(condition, mapping).map_err(|flag| flags.push(flag)).ok(),
        Rule::Group { any, rules } => {
            let parts: Vec<String> = rules.iter().filter_map(|rule| filter_of(rule, mapping, flags, false)).collect();
            let joined = parts.join(if *any { " OR " } else { " AND " });
            match parts.len() {
                0 => None,
                1 => Some(joined),
                _ if top => Some(joined),
                _ => Some(format!("({joined})")),
            }
        }
    }
}

fn segments_document(catalogue: &Catalogue, mapping: &Mapping) -> Document {
    let mut rows = Vec::new();
    for segment in &catalogue.segments {
        let (filter, verdict, flags) = match parse_rules(&segment.rules) {
            Err(raw) => {
                (raw, "not read", "the rules did not read: rebuild the segment by hand from User.com".to_owned())
            }
            Ok(None) => ("-".to_owned(), "not expressible", "the segment has no rules".to_owned()),
            Ok(Some(rule)) => {
                let mut flags = Vec::new();
                let filter = filter_of(&rule, mapping, &mut flags, true);
                let verdict = match (&filter, flags.is_empty()) {
                    (_, true) => "expressible",
                    (None, false) => "not expressible",
                    (Some(_), false) => "partly expressible",
                };
                (filter.unwrap_or_else(|| "-".into()), verdict, flags.join("; "))
            }
        };
        rows.push(vec![segment.name.clone(), segment.object_count.clone(), filter, verdict.to_owned(), flags]);
    }
    let tags: Vec<Vec<String>> = catalogue
        .tags
        .iter()
        .filter(|tag| catalogue.segments.iter().any(|segment| same_name(&segment.name, &tag.name)))
        .map(|tag| vec![tag.name.clone(), "a tag named like a segment: its label is a snapshot; rebuild the segment as a filter to keep it current".into()])
        .collect();
    let mut doc = Document::new("Segments as Pipedrive filters");
    section(
        &mut doc,
        "Segment-to-filter mapping",
        "Each User.com segment's rules as Pipedrive person filter conditions, with the fields as migrated. Create them under Contacts › Filters. Flagged: what a Pipedrive filter cannot express.",
        &["Segment", "Contacts", "Pipedrive filter", "Verdict", "Flagged"],
        rows,
    );
    section(
        &mut doc,
        "Tags that were segments",
        "Tags that carry a segment's name became labels; a label does not update itself.",
        &["Tag", "What to do"],
        tags,
    );
    doc
}

fn automations_document(catalogue: &Catalogue) -> Document {
    let rows = catalogue
        .automations
        .iter()
        .map(|automation| {
            let trigger = parse_trigger(&automation.trigger);
            let steps = parse_steps(&automation.actions);
            let shown = |steps: Vec<&String>| {
                if steps.is_empty() {
                    "-".to_owned()
                } else {
                    steps.into_iter().cloned().collect::<Vec<_>>().join(", ")
                }
            };
            let delays = shown(
                steps.iter().filter_map(|step| if let Step::Wait(wait) = step { Some(wait) } else { None }).collect(),
            );
            let actions = shown(
                steps
                    .iter()
                    .filter_map(|step| {
                        if let Step::Action(action) | Step::NotRead(action) = step { Some(action) } else { None }
                    })
                    .collect(),
            );
            let conditions = match parse_rules(&automation.conditions) {
                Ok(None) => "-".to_owned(),
                Ok(Some(rule)) => rule.text(true),
                Err(raw) => raw,
            };
            let (equivalent, why) = equivalent_of(trigger.as_ref().ok(), &steps);
            let active = match automation.active {
                Some(true) => "yes",
                Some(false) => "no",
                None => "?",
            };
            vec![
                automation.name.clone(),
                active.to_owned(),
                trigger.map_or_else(|raw| raw, |trigger| trigger.to_string()),
                conditions,
                delays,
                actions,
                equivalent.to_owned(),
                why,
            ]
        })
        .collect();
    let mut doc = Document::new("Automations inventory");
    section(
        &mut doc,
        "Every User.com automation and its Pipedrive equivalent",
        "No API creates Pipedrive automations: each is rebuilt by hand (Automations, Sequences or Campaigns), or done manually where Pipedrive has no equivalent.",
        &["Automation", "Active", "Trigger", "Conditions", "Delays", "Actions", "Pipedrive equivalent", "How and why"],
        rows,
    );
    doc
}

fn templates_document(catalogue: &Catalogue) -> Document {
    let rows = catalogue
        .email_templates
        .iter()
        .map(|template| {
            let placeholders: Vec<String> = template
                .subject
                .split("{{")
                .skip(1)
                .filter_map(|part| part.split("}}").next())
                .map(|p| p.trim().to_owned())
                .collect();
            vec![
                template.name.clone(),
                template.subject.clone(),
                thousands(template.body_chars as u64),
                template.updated_at.clone(),
                if placeholders.is_empty() { "-".into() } else { placeholders.join(", ") },
            ]
        })
        .collect();
    let mut doc = Document::new("Email templates to rebuild");
    section(
        &mut doc,
        "Templates",
        "Rebuild each in Pipedrive's email templates (Campaigns for marketing email). User.com placeholders ({{ user.first_name }}) become Pipedrive merge fields ([Person first name]).",
        &["Template", "Subject", "Body (characters)", "Last updated", "Placeholders in the subject"],
        rows,
    );
    doc
}

/// The project's `reports/plan.json` (null when it is gone or does not read).
fn plan_json(project: &Project) -> serde_json::Value {
    std::fs::read(project.reports_dir().join("plan.json"))
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or_default()
}

/// The handoff's section, from plan.json's `side_effects`.
fn side_effects_section(doc: &mut Document, plan: &serde_json::Value) {
    let effects: Option<side_effects::SideEffects> = serde_json::from_value(plan["side_effects"].clone()).ok();
    let (intro, rows) = match effects {
        Some(effects) => (
            words(format!("{} ", effects.automations)).then(side_effects::webhooks_intro(&effects)),
            effects
                .webhooks
                .iter()
                .map(|firing| {
                    vec![
                        format!("{} {}", firing.id, firing.name),
                        firing.subscribed.clone(),
                        firing.subscription_url.clone(),
                        side_effects::deliveries_text(firing),
                    ]
                })
                .collect(),
        ),
        None => (
            words(format!(
                "{} (reports/plan.json has no side effects: run crm-migrate plan.)",
                side_effects::AUTOMATIONS
            )),
            Vec::new(),
        ),
    };
    section(
        doc,
        "Side effects during the load",
        intro,
        &["Webhook", "Subscribed to", "URL", "Deliveries during the load"],
        rows,
    );
}

/// The grade plan gave the migration (its `reports/plan.json`), each factor against its thresholds.
fn complexity_section(doc: &mut Document, project: &Project) {
    let plan = plan_json(project);
    let grade = &plan["grade"];
    let intro = match grade["grade"].as_str() {
        Some(name) => format!(
            "Graded {name} by plan (the highest grade any factor reaches). Estimate: {}.",
            grade["estimate"].as_str().unwrap_or_default()
        ),
        None => "No grade: reports/plan.json is gone (run crm-migrate plan to grade the migration).".to_owned(),
    };
    let number = |value: &serde_json::Value| value.as_f64().map(crate::plan::grade::number).unwrap_or_default();
    let rows = grade["reasons"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|reason| {
            vec![
                reason["factor"].as_str().unwrap_or_default().to_owned(),
                number(&reason["value"]),
                number(&reason["standard_from"]),
                number(&reason["complex_from"]),
                reason["grade"].as_str().unwrap_or_default().to_owned(),
            ]
        })
        .collect();
    section(doc, "Complexity", words(intro), &["Factor", "Measured", "Standard from", "Complex from", "Grade"], rows);
}

/// Writes `reports/handoff/`: the documents as Markdown, and `handoff.html` with all of them.
pub fn write(project: &Project) -> Result<Vec<PathBuf>, HandoffError> {
    let path = project.dir.join(MAPPING_FILE);
    let mapping = crate::mapping::file::parse(&std::fs::read_to_string(&path).unwrap_or_default())
        .map_err(|errors| HandoffError::Mapping { path, errors })?;
    let export = open_export(project)?;
    let catalogue = export.catalogue()?;
    let audit = crate::audit::run(&export, std::io::sink()).map_err(|source| HandoffError::Audit { source })?;
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
                thousands(counts.linked),
                thousands(counts.quarantined),
                thousands(counts.excluded),
                thousands(counts.intent),
            ]);
            *totals.entry("created").or_default() += counts.created;
            *totals.entry("merged").or_default() += counts.merged;
            *totals.entry("linked").or_default() += counts.linked;
            *totals.entry("not moved").or_default() += counts.merged + counts.quarantined + counts.excluded;
            let mut entries: Vec<_> =
                journal.entries(object)?.into_iter().filter(|(_, e)| e.fate == Fate::Quarantined).collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            quarantine.extend(
                entries
                    .into_iter()
                    .map(|(id, entry)| vec![object.as_str().to_owned(), id, entry.detail.unwrap_or_default()]),
            );
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
    let mut summary = Document::new("Summary");
    section(
        &mut summary,
        "What moved",
        words(format!(
            "{} records created in Pipedrive; {} linked to records the account already had (existing.toml; their prior values journalled, given back by a rollback); {} duplicates merged into their survivor (by the dedup plugin); {} not moved (merged into a survivor, quarantined with a reason, or excluded by a rule). {} runs from {first} to {last}, {} tokens.",
            thousands(totals.get("created").copied().unwrap_or(0)),
            thousands(totals.get("linked").copied().unwrap_or(0)),
            thousands(totals.get("merged").copied().unwrap_or(0)),
            thousands(totals.get("not moved").copied().unwrap_or(0)),
            runs.len(),
            thousands(tokens)
        )),
        &["Phase", "Object", "Created", "Merged", "Linked", "Quarantined", "Excluded", "Unresolved"],
        moved,
    );
    complexity_section(&mut summary, project);
    side_effects_section(&mut summary, &plan_json(project));
    section(
        &mut summary,
        "What did not move, and why",
        "Attributes the mapping skips (the reason is the mapping's).",
        &["Attribute", "Why"],
        skipped,
    );
    section(
        &mut summary,
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
    );
    let billing = &audit.billing;
    let mut billing_document = Document::new("Billing audit");
    section(
        &mut billing_document,
        "Contacts User.com bills for",
        words(format!(
            "{} of {} contacts are billable in User.com (a contact with an email, a phone, a user id, a chat, a web push subscription or a mobile key); {} are not. Each billable contact is listed, with its reasons, in reports/billing-audit.csv (crm-migrate audit).",
            thousands(billing.billable),
            thousands(billing.contacts),
            thousands(billing.not_billable)
        )),
        &["Reason", "Contacts"],
        billing.reasons.iter().map(|(reason, count)| vec![reason.clone(), thousands(*count)]).collect(),
    );
    let mut quarantine_document = Document::new("Quarantine");
    section(
        &mut quarantine_document,
        "Records not migrated because they do not fit",
        "Fix the value in User.com (or the mapping) and run a delta; reports/quarantine.csv has the file lines.",
        &["Object", "User.com id", "Reason"],
        quarantine,
    );
    let documents = [
        ("summary", summary),
        ("automations", automations_document(&catalogue)),
        ("segments", segments_document(&catalogue, &mapping)),
        ("email-templates", templates_document(&catalogue)),
        ("billing", billing_document),
        ("quarantine", quarantine_document),
    ];

    let mut files = Files::in_dir(&project.reports_dir().join("handoff"))?;
    for (file, document) in &documents {
        files.write(&format!("{file}.md"), document.markdown())?;
    }
    let name = project
        .dir
        .canonicalize()
        .ok()
        .and_then(|dir| dir.file_name().map(|name| name.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "migration".into());
    let pages: Vec<(&str, &Document)> = documents.iter().map(|(file, document)| (*file, document)).collect();
    files.write("handoff.html", html::page(&words("Migration handoff: ").value(name), &pages))?;
    Ok(files.commit()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Block, Span};

    /// The first table of `document`, its cells as the values they were given.
    fn rows(document: &Document) -> Vec<Vec<String>> {
        let table = document
            .blocks
            .iter()
            .find_map(|block| if let Block::Table(table) = block { Some(table) } else { None })
            .expect("a table");
        let plain = |cell: &crate::report::Text| {
            cell.0.iter().map(|span| if let Span::Value(text) = span { text.as_str() } else { "" }).collect()
        };
        table.rows.iter().map(|row| row.iter().map(plain).collect()).collect()
    }

    #[test]
    fn html_text_has_markup_and_control_characters_escaped() {
        let hostile = "VIP | <script>alert(1)</script>\n\u{1b}[2K\r";
        let catalogue = Catalogue {
            segments: vec![crate::extract::catalogue::Segment {
                id: "1".into(),
                name: hostile.into(),
                description: String::new(),
                rules: "orders_count > 5".into(),
                object_count: "1".into(),
            }],
            ..Catalogue::default()
        };
        let document = segments_document(&catalogue, &sample_mapping());
        let markdown = document.markdown();
        let row = markdown.lines().find(|line| line.contains("VIP")).expect(&markdown);
        assert!(
            row.starts_with("| VIP \\| &lt;script&gt;alert(1)&lt;/script&gt; ⏎ \\u{1b}[2K\\r | 1 | Orders count &gt; 5 | expressible |"),
            "{row}"
        );
        let page = html::page(&words("Migration handoff: ").value("<b>"), &[("segments", &document)]);
        assert!(page.contains("<td>VIP | &lt;script&gt;alert(1)&lt;/script&gt;<br>\\u{1b}[2K\\r</td>"), "{page}");
        assert!(page.contains("<h1>Migration handoff: &lt;b&gt;</h1>") && !page.contains("<script>"), "{page}");
        assert!(!page.contains('\u{1b}') && !markdown.contains('\u{1b}') && !markdown.contains('\r'));
    }

    #[test]
    fn automations_get_the_equivalent_their_trigger_and_steps_allow() {
        assert_eq!(automation_equivalent("user_created", "wait 1h; send_email(template: Witamy)").0, "sequence");
        assert_eq!(automation_equivalent("event: cart_abandoned", "wait 2h; send_email(x); send_sms").0, "manual");
        assert!(automation_equivalent("event: cart_abandoned", "send_sms").1.contains("no SMS"));
        let (kind, why) = automation_equivalent("deal_status_changed: won", "add_tag(Partner); notify_agent");
        assert_eq!(kind, "workflow automation");
        assert!(
            why.contains("a deal updated") && why.contains("update the labels") && why.contains("send a notification"),
            "{why}"
        );
        assert_eq!(automation_equivalent("segment_entered: X", "send_email(t)").0, "manual");
        // The same automations written as JSON.
        let steps = r#"[{"type": "wait", "delay": {"value": 1, "unit": "hours"}}, {"type": "send_email", "params": {"template": "Witamy"}}]"#;
        assert_eq!(automation_equivalent(r#"{"type": "user_created"}"#, steps).0, "sequence");
        assert_eq!(
            automation_equivalent(r#"{"type": "event", "event": "cart_abandoned"}"#, r#"[{"type": "send_sms"}]"#).0,
            "manual"
        );
        let (kind, why) = automation_equivalent(
            r#"{"type": "deal_status_changed", "status": "won"}"#,
            r#"[{"type": "add_tag", "params": {"tag": "Partner"}}, {"type": "notify_agent"}]"#,
        );
        assert_eq!(kind, "workflow automation");
        assert!(why.contains("a deal updated") && why.contains("update the labels"), "{why}");
        // What does not read is said so, never taken for an automation a workflow can rebuild.
        let (kind, why) = automation_equivalent("{\"trigger", "send_email(t)");
        assert_eq!(kind, "manual");
        assert!(why.contains("did not read"), "{why}");
    }

    #[test]
    fn triggers_read_from_text_and_json() {
        assert_eq!(parse_trigger("event: cart_abandoned").unwrap().to_string(), "event: cart_abandoned");
        assert_eq!(parse_trigger("user_created").unwrap().to_string(), "user_created");
        assert_eq!(
            parse_trigger(r#"{"type": "event", "event": "cart_abandoned"}"#).unwrap().to_string(),
            "event: cart_abandoned"
        );
        assert_eq!(
            parse_trigger(r#"{"type": "segment_entered", "segment": "Nieaktywni 90 dni"}"#).unwrap().to_string(),
            "segment_entered: Nieaktywni 90 dni"
        );
        assert_eq!(parse_trigger(r#"{"segment": "X"}"#), Err(r#"not read: {"segment": "X"}"#.to_owned()));
        assert_eq!(parse_trigger("{broken\n"), Err("not read: {broken".to_owned()));
    }

    #[test]
    fn steps_read_from_text_and_json_with_delays_in_every_form() {
        let text = parse_steps("wait 2h; send_email(template: Twój koszyk czeka)\nwait 1d; send_sms");
        assert_eq!(
            text,
            [
                Step::Wait("wait 2h".into()),
                Step::Action("send_email(template: Twój koszyk czeka)".into()),
                Step::Wait("wait 1d".into()),
                Step::Action("send_sms".into())
            ]
        );
        let json = parse_steps(
            r#"[{"type": "wait", "delay": {"value": 2, "unit": "hours"}}, {"type": "send_email", "params": {"template": "Twój koszyk czeka"}}, {"delay": {"days": 1}}, {"type": "send_sms"}]"#,
        );
        assert_eq!(
            json,
            [
                Step::Wait("wait 2 hours".into()),
                Step::Action("send_email(template: Twój koszyk czeka)".into()),
                Step::Wait("wait 1 day".into()),
                Step::Action("send_sms".into())
            ]
        );
        assert_eq!(
            parse_steps(r#"{"steps": [{"wait": "30m"}, {"action": "add_tag", "tag": "VIP"}]}"#),
            [Step::Wait("wait 30 minutes".into()), Step::Action("add_tag(tag: VIP)".into())]
        );
        assert_eq!(parse_steps(r#"[{"type": "wait", "delay": 3600}]"#), [Step::Wait("wait 3600 seconds".into())]);
        assert_eq!(
            parse_steps(r#"[{"type": "wait", "delay": {"value": 2, "unit": "fortnights"}}]"#),
            [Step::NotRead(r#"not read: {"delay":{"unit":"fortnights","value":2},"type":"wait"}"#.into())]
        );
        assert_eq!(parse_steps("[1, 2"), [Step::NotRead("not read: [1, 2".into())]);
    }

    fn contact_field(attribute: &str, landing: Landing) -> crate::mapping::FieldEntry {
        crate::mapping::FieldEntry {
            object: ObjectKind::Contact,
            attribute: attribute.into(),
            landing,
            confidence: 1.0,
            why: Vec::new(),
            note: None,
            on_bad_value: Default::default(),
            line: 0,
        }
    }

    fn new_field(name: &str) -> Landing {
        Landing::New {
            field: name.into(),
            ty: crate::mapping::NewFieldType::Varchar,
            options: Vec::new(),
            currency: None,
        }
    }

    fn sample_mapping() -> Mapping {
        Mapping {
            fields: vec![
                contact_field("tags", Landing::Standard { code: "label".into() }),
                contact_field("orders_count", new_field("Orders count")),
                contact_field("Last seen", new_field("Last seen")),
                contact_field("unsubscribed", new_field("Unsubscribed (User.com)")),
                contact_field("newsletter_opt_in", new_field("Newsletter opt in")),
                contact_field("key", Landing::Skip { reason: "an internal key".into() }),
            ],
            ..Mapping::default()
        }
    }

    /// A segment's rules as its filter, verdict and flags.
    fn segment(rules: &str) -> (String, String, String) {
        let catalogue = Catalogue {
            segments: vec![crate::extract::catalogue::Segment {
                id: "1".into(),
                name: "S".into(),
                description: String::new(),
                rules: rules.into(),
                object_count: "1".into(),
            }],
            ..Catalogue::default()
        };
        let row = rows(&segments_document(&catalogue, &sample_mapping()))[0].clone();
        (row[2].clone(), row[3].clone(), row[4].clone())
    }

    #[test]
    fn segment_rules_read_in_every_shape_user_com_writes() {
        let expected = "Orders count > 5 AND Unsubscribed (User.com) is No".to_owned();
        for rules in [
            r#"{"and":[{"attribute":"orders_count","operator":"greater_than","value":5},{"attribute":"unsubscribed","operator":"is","value":false}]}"#,
            r#"{"operator": "and", "filters": [{"attribute": "orders_count", "op": "gt", "value": 5}, {"attribute": "unsubscribed", "op": "eq", "value": false}]}"#,
            r#"[{"attribute":"orders_count","operator":">","value":"5"},{"attribute":"unsubscribed","operator":"=","value":"false"}]"#,
            "orders_count > 5 and unsubscribed = false",
        ] {
            assert_eq!(segment(rules), (expected.clone(), "expressible".into(), String::new()), "{rules}");
        }
        // Nested groups keep their brackets; a group of one needs none.
        let nested = r#"{"or":[{"and":[{"attribute":"tags","operator":"contains","value":"VIP"}]},{"and":[{"attribute":"orders_count","operator":"greater_than","value":5},{"attribute":"last_seen","operator":"more_than_days_ago","value":90}]}]}"#;
        assert_eq!(
            segment(nested).0,
            "Labels is VIP OR (Orders count > 5 AND Last seen is earlier than 90 days ago (a relative date))"
        );
        // One condition on its own.
        assert_eq!(
            segment(r#"{"attribute":"newsletter_opt_in","operator":"is","value":true}"#).0,
            "Newsletter opt in is Yes"
        );
    }

    #[test]
    fn plain_conditions_translate_and_the_rest_is_flagged_or_shown_as_not_read() {
        // A number greater than, a date more than N days ago, a flag is false, a tag is present.
        assert_eq!(segment(r#"[{"attribute":"orders_count","op":"greater_than","value":5}]"#).0, "Orders count > 5");
        assert_eq!(
            segment(r#"[{"attribute":"last_seen","op":"more_than_days_ago","value":90}]"#).0,
            "Last seen is earlier than 90 days ago (a relative date)"
        );
        assert_eq!(
            segment(r#"[{"attribute":"unsubscribed","op":"is","value":false}]"#).0,
            "Unsubscribed (User.com) is No"
        );
        assert_eq!(segment(r#"[{"attribute":"tags","op":"contains","value":"VIP"}]"#).0, "Labels is VIP");
        let (filter, verdict, flags) = segment(
            r#"{"operator":"and","filters":[{"event":"cart_abandoned","op":"occurred_within_days","value":30},{"attribute":"tags","op":"contains","value":"VIP"}]}"#,
        );
        assert_eq!((filter.as_str(), verdict.as_str()), ("Labels is VIP", "partly expressible"));
        assert!(flags.contains("event 'cart_abandoned'"), "{flags}");
        let (filter, verdict, flags) = segment(
            r#"[{"attribute":"key","op":"is","value":"x"},{"attribute":"nope","op":"is","value":"x"},{"attribute":"tags","op":"matches","value":"x"}]"#,
        );
        assert_eq!((filter.as_str(), verdict.as_str()), ("-", "not expressible"));
        assert!(
            flags.contains("not migrated (an internal key)")
                && flags.contains("'nope' is not an attribute")
                && flags.contains("operator 'matches'"),
            "{flags}"
        );
        // Rules that do not read are shown raw and inert, never as a silent "-".
        let (filter, verdict, _) = segment("{\"and\": [{\"attribute\": \"tags\"}]}\u{1b}[2K");
        assert_eq!(
            (filter.as_str(), verdict.as_str()),
            ("not read: {\"and\": [{\"attribute\": \"tags\"}]}\\u{1b}[2K", "not read")
        );
        assert_eq!(segment(r#"{"xor": [1]}"#).1, "not read");
    }

    #[test]
    fn automation_conditions_show_in_the_text_form_whatever_shape_they_came_in() {
        let conditions = |text: &str| {
            let catalogue = Catalogue {
                automations: vec![crate::extract::catalogue::Automation {
                    id: "1".into(),
                    name: "A".into(),
                    trigger: "user_created".into(),
                    conditions: text.into(),
                    actions: "send_email(t)".into(),
                    active: Some(true),
                }],
                ..Catalogue::default()
            };
            rows(&automations_document(&catalogue))[0][3].clone()
        };
        assert_eq!(conditions("status = user"), "status = user");
        assert_eq!(conditions(""), "-");
        assert_eq!(
            conditions(
                r#"{"operator": "and", "filters": [{"attribute": "status", "op": "is", "value": "user"}, {"attribute": "score", "op": "gt", "value": 5}]}"#
            ),
            "status = user and score > 5"
        );
        assert_eq!(
            conditions(
                r#"{"or": [{"attribute": "a", "operator": "is", "value": 1}, {"and": [{"attribute": "b", "operator": "is", "value": 2}, {"attribute": "c", "operator": "is", "value": 3}]}]}"#
            ),
            "a = 1 or (b = 2 and c = 3)"
        );
        assert_eq!(conditions("status ~ user"), "not read: status ~ user");
    }
}
