//! The checks a mapping must pass before it is approved or applied: every attribute of the export
//! has an entry, every entry names a field Pipedrive has (or will create) and whose type takes the
//! attribute's values, every option exists, every agent, pipeline, stage, status and activity type
//! is mapped. Each problem names the line of `mapping.toml` and the reason.

use std::collections::{BTreeMap, BTreeSet};

use super::file::MappingError;
use super::{
    DEAL_STATUSES, DEFAULT_OWNER, Destination, FieldEntry, Landing, Mapping, NewFieldType, OnBadValue,
    PIPEDRIVE_STATUSES, fits,
};
use crate::extract::FieldType;
use crate::pipedrive::workspace::{Workspace, same_name};
use crate::profile::{AttributeProfile, SourceProfile};

/// The custom field every person, organization and deal gets: the record's User.com id, by
/// which a lost write is found again (and the customer can trace a record to its origin).
pub const MARKER_FIELD: &str = "User.com ID";

/// Every problem, in line order.
pub fn check(mapping: &Mapping, profile: &SourceProfile, workspace: &Workspace) -> Vec<MappingError> {
    let mut errors = Vec::new();
    check_fields(mapping, profile, workspace, &mut errors);
    check_owners(mapping, profile, workspace, &mut errors);
    check_pipelines(mapping, profile, &mut errors);
    check_choices(mapping, profile, &mut errors);
    errors.sort_by_key(|error| error.line);
    errors
}

fn error(line: usize, message: String) -> MappingError {
    MappingError { line, message }
}

fn check_fields(mapping: &Mapping, profile: &SourceProfile, workspace: &Workspace, errors: &mut Vec<MappingError>) {
    for object in &profile.objects {
        for attribute in &object.attributes {
            if mapping.field(object.kind, attribute.field()).is_none() {
                errors.push(error(
                    0,
                    format!(
                        "{} column '{}' ({}.{}) has no entry; run `crm-migrate plan` to propose one",
                        object.file,
                        attribute.column.header,
                        object.kind,
                        attribute.field()
                    ),
                ));
            }
        }
    }
    // (source object, field) -> the entry that lands there first. Per object, not per destination:
    // activities and events both become activities, each record from one file.
    let mut taken: BTreeMap<(&'static str, String), &FieldEntry> = BTreeMap::new();
    let mut new_names: BTreeMap<(&'static str, String), &FieldEntry> = BTreeMap::new();
    for entry in &mapping.fields {
        let at = |message: String| error(entry.line, format!("[{}] {message}", entry.key()));
        let Some(object) = profile.object(entry.object) else {
            errors.push(at(format!("the export has no {} file", entry.object)));
            continue;
        };
        let Some(attribute) = object.attribute(&entry.attribute) else {
            let columns: Vec<&str> = object.attributes.iter().map(|attribute| attribute.field()).collect();
            errors.push(at(format!(
                "{} has no attribute '{}' (it has: {})",
                object.file,
                entry.attribute,
                columns.join(", ")
            )));
            continue;
        };
        let destination = Destination::of(entry.object);
        // A person, organization or deal gets a note of its raw values; a message is in a note
        // already, whose text is the conversation's.
        if entry.on_bad_value == OnBadValue::KeepRawInNote && destination == Destination::Note {
            errors.push(at(format!(
                "on_bad_value = \"keep-raw-in-note\" is for activities, events, persons, organizations and deals; a {}'s \
                 messages are the text of their conversation's note already: use \"leave-empty\" (the value is listed in reports/quarantine.csv) or \"quarantine-record\"",
                destination.name()
            )));
        }
        let ty = attribute.column.ty;
        let target_key = match &entry.landing {
            Landing::Skip { reason } => {
                if reason.trim().is_empty() {
                    errors.push(at("to = \"skip\" needs a reason = \"...\" (it goes into the handoff report)".into()));
                }
                None
            }
            Landing::Standard { code } => {
                let Some(standard) = destination.standard(code) else {
                    let codes: Vec<&str> = destination.standard_fields().iter().map(|standard| standard.code).collect();
                    let custom = if destination.entity().is_some() { ", existing, new" } else { "" };
                    errors.push(at(format!(
                        "'{code}' is not a {} field this tool writes; to = one of {}{custom} or skip",
                        destination.name(),
                        codes.join(", ")
                    )));
                    continue;
                };
                if !standard.accepts.admits(ty) {
                    errors.push(at(format!("{} ({}) cannot hold {}", standard.label, code, holds(ty, attribute))));
                }
                if code == "marketing_status" && !workspace.has_marketing_status() {
                    errors.push(at(
                        "this Pipedrive account has no Campaigns, so persons have no marketing status; map it to a custom field (to = \"new\", type = \"enum\") or skip it".into(),
                    ));
                }
                (!standard.shared).then(|| code.clone())
            }
            Landing::Existing { field, values } => {
                let Some(entity) = destination.entity() else {
                    errors.push(at(format!(
                        "{}s have no custom fields the API can fill; use one of their fields or skip",
                        destination.name()
                    )));
                    continue;
                };
                let Some(existing) = workspace.custom_field(entity, field) else {
                    let names: Vec<&str> = workspace
                        .fields(entity)
                        .iter()
                        .filter(|f| f.is_custom_field)
                        .map(|f| f.field_name.as_str())
                        .collect();
                    let names = if names.is_empty() { "none".to_owned() } else { names.join(", ") };
                    errors.push(at(format!(
                        "Pipedrive has no custom {} field named '{field}' (it has: {names}); to create it, to = \"new\"",
                        destination.name()
                    )));
                    continue;
                };
                if let Err(holds_what) = fits(ty, &existing.field_type) {
                    errors.push(at(format!(
                        "{}; the Pipedrive field '{}' ({}) holds {holds_what}",
                        holds_sentence(ty, attribute),
                        existing.field_name,
                        existing.field_type
                    )));
                }
                for (from, to) in values {
                    if !existing.options.iter().any(|option| same_name(&option.label, to)) {
                        let options: Vec<&str> = existing.options.iter().map(|option| option.label.as_str()).collect();
                        errors.push(at(format!(
                            "values maps '{from}' to '{to}', which is not an option of '{}' (options: {})",
                            existing.field_name,
                            options.join(", ")
                        )));
                    }
                }
                Some(existing.field_name.to_lowercase())
            }
            Landing::New { field, ty: new_type, options, currency } => {
                let Some(entity) = destination.entity() else {
                    errors.push(at(format!(
                        "{}s have no custom fields the API can create; use one of their fields or skip",
                        destination.name()
                    )));
                    continue;
                };
                if let Some(existing) = workspace.custom_field(entity, field) {
                    errors.push(at(format!(
                        "Pipedrive already has a custom {} field named '{}': use to = \"existing\", or another name",
                        destination.name(),
                        existing.field_name
                    )));
                }
                if same_name(field, MARKER_FIELD) {
                    errors.push(at(format!(
                        "'{MARKER_FIELD}' is the field the migration keeps User.com ids in; pick another name"
                    )));
                }
                if let Some(first) = new_names.insert((destination.name(), field.to_lowercase()), entry) {
                    errors.push(at(format!(
                        "a new field named '{field}' is already created for {} (line {})",
                        first.key(),
                        first.line
                    )));
                }
                if let Err(holds_what) = fits(ty, new_type.pipedrive_type()) {
                    errors.push(at(format!(
                        "{}; a {} field holds {holds_what}",
                        holds_sentence(ty, attribute),
                        new_type.as_str()
                    )));
                } else if *new_type == NewFieldType::DateTime && ty != FieldType::DateTime {
                    errors.push(at(format!(
                        "type date+time is for datetimes; {} holds {}",
                        entry.attribute,
                        ty.name()
                    )));
                }
                if new_type.has_options() {
                    check_options(entry, attribute, options, errors);
                }
                if *new_type == NewFieldType::Monetary {
                    match currency {
                        Some(code) if code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase()) => {}
                        Some(code) => {
                            errors.push(at(format!("currency '{code}' is not an ISO 4217 code like PLN or EUR")))
                        }
                        None => errors.push(at(
                            "a monetary field needs currency = \"PLN\" (the currency its values are in)".into(),
                        )),
                    }
                }
                Some(field.to_lowercase())
            }
        };
        if let Some(target) = target_key
            && let Some(first) = taken.insert((entry.object.as_str(), target.clone()), entry)
        {
            errors.push(at(format!(
                "lands in the same {} field as {} (line {}); one attribute per field",
                destination.name(),
                first.key(),
                first.line
            )));
        }
    }
}

/// A new enum or set field must have an option for every value the export holds.
fn check_options(entry: &FieldEntry, attribute: &AttributeProfile, options: &[String], errors: &mut Vec<MappingError>) {
    let at = |message: String| error(entry.line, format!("[{}] {message}", entry.key()));
    if options.is_empty() {
        errors.push(at("an enum or set field needs options = [\"...\"]".into()));
        return;
    }
    if attribute.distinct_overflow {
        errors.push(at(format!(
            "{} has more than {} different values: a list of options cannot hold them; use varchar",
            entry.attribute,
            crate::profile::DISTINCT_CAP
        )));
        return;
    }
    let mut seen = BTreeSet::new();
    for option in options {
        if !seen.insert(option.trim().to_lowercase()) {
            errors.push(at(format!("option '{option}' is listed twice")));
        }
    }
    let missing: Vec<String> = attribute
        .distinct
        .iter()
        .filter(|(value, _)| !option_matches(options, value, attribute.column.ty))
        .map(|(value, count)| format!("'{value}' ({count} records)"))
        .collect();
    if !missing.is_empty() {
        errors.push(at(format!("options lack values the export holds: {}", missing.join(", "))));
    }
}

/// Whether a source value has its option: same label (case aside); booleans as Yes/No.
fn option_matches(options: &[String], value: &str, ty: FieldType) -> bool {
    let label = match (ty, value) {
        (FieldType::Boolean, "true") => "Yes",
        (FieldType::Boolean, "false") => "No",
        _ => value,
    };
    options.iter().any(|option| same_name(option, label))
}

fn holds(ty: FieldType, attribute: &AttributeProfile) -> String {
    match attribute.samples.first() {
        Some(sample) if ty != FieldType::Secret => format!("{} values like '{sample}'", ty.name()),
        _ => format!("{} values", ty.name()),
    }
}

fn holds_sentence(ty: FieldType, attribute: &AttributeProfile) -> String {
    format!("{} holds {}", attribute.field(), holds(ty, attribute))
}

fn check_owners(mapping: &Mapping, profile: &SourceProfile, workspace: &Workspace, errors: &mut Vec<MappingError>) {
    let users = || {
        workspace
            .users
            .iter()
            .filter(|user| user.active_flag)
            .map(|user| user.email.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let default = &mapping.default_owner;
    if workspace.user_by_email(&default.target).is_none() {
        errors.push(error(
            default.line,
            format!("[owners] default = '{}' is not a Pipedrive user's email (users: {})", default.target, users()),
        ));
    }
    for agent in &mapping.agents {
        if agent.target != DEFAULT_OWNER && workspace.user_by_email(&agent.target).is_none() {
            errors.push(error(
                agent.line,
                format!(
                    "[owners.agents] '{}' = '{}' is neither \"default\" nor a Pipedrive user's email (users: {})",
                    agent.source,
                    agent.target,
                    users()
                ),
            ));
        }
    }
    for (agent, records) in &profile.agents {
        if !mapping.agents.iter().any(|choice| choice.source.eq_ignore_ascii_case(agent)) {
            errors.push(error(0, format!("[owners.agents] agent '{agent}' ({records} records) is not mapped; map it to a user's email or \"default\"")));
        }
    }
}

fn check_pipelines(mapping: &Mapping, profile: &SourceProfile, errors: &mut Vec<MappingError>) {
    for pipeline in &profile.catalogue.pipelines {
        let Some(entry) = mapping.pipelines.iter().find(|entry| entry.source_id == pipeline.id) else {
            errors.push(error(
                0,
                format!("[pipelines] User.com pipeline {} '{}' is not mapped", pipeline.id, pipeline.name),
            ));
            continue;
        };
        if entry.name.is_empty() {
            errors.push(error(entry.line, format!("[pipelines.{}] name is empty", pipeline.id)));
        }
        for stage in profile.catalogue.stages.iter().filter(|stage| stage.pipeline_id == pipeline.id) {
            match entry.stages.iter().find(|choice| choice.source == stage.id) {
                Some(choice) if choice.target.is_empty() => errors.push(error(
                    choice.line,
                    format!("[pipelines.{}.stages] stage {} has an empty name", pipeline.id, stage.id),
                )),
                Some(_) => {}
                None => errors.push(error(
                    entry.line,
                    format!(
                        "[pipelines.{}.stages] User.com stage {} '{}' is not mapped",
                        pipeline.id, stage.id, stage.name
                    ),
                )),
            }
        }
    }
    for entry in &mapping.pipelines {
        if !profile.catalogue.pipelines.iter().any(|pipeline| pipeline.id == entry.source_id) {
            errors.push(error(
                entry.line,
                format!("[pipelines.{}] the export has no pipeline {}", entry.source_id, entry.source_id),
            ));
        }
    }
}

fn check_choices(mapping: &Mapping, profile: &SourceProfile, errors: &mut Vec<MappingError>) {
    for word in DEAL_STATUSES {
        match mapping.deal_status.iter().find(|choice| choice.source == word) {
            Some(choice) if !PIPEDRIVE_STATUSES.contains(&choice.target.as_str()) => errors.push(error(
                choice.line,
                format!(
                    "[deal_status] {word} = '{}': Pipedrive's statuses are {}",
                    choice.target,
                    PIPEDRIVE_STATUSES.join(", ")
                ),
            )),
            Some(_) => {}
            None => errors.push(error(
                0,
                format!("[deal_status] {word} is not mapped (to one of {})", PIPEDRIVE_STATUSES.join(", ")),
            )),
        }
    }
    for choice in &mapping.deal_status {
        if !DEAL_STATUSES.contains(&choice.source.as_str()) {
            errors.push(error(
                choice.line,
                format!(
                    "[deal_status] '{}' is not a User.com deal status ({})",
                    choice.source,
                    DEAL_STATUSES.join(", ")
                ),
            ));
        }
    }
    for (type_id, names) in &profile.activity_types {
        match mapping.activity_types.iter().find(|choice| &choice.source == type_id) {
            Some(choice) if choice.target.is_empty() => {
                errors.push(error(choice.line, format!("[activity_types] {type_id} is empty")))
            }
            Some(_) => {}
            None => {
                let used: u64 = names.values().sum();
                errors.push(error(
                    0,
                    format!("[activity_types] User.com activity type '{type_id}' ({used} activities) is not mapped"),
                ));
            }
        }
    }
    if mapping.event_activity_type.target.is_empty() {
        errors.push(error(mapping.event_activity_type.line, "[events] activity_type is empty".into()));
    }
}
