//! What a mapping will create in the target workspace before any record moves (custom fields,
//! the User.com ID marker fields, options, pipelines, stages, activity types, labels), and which
//! agents fall to the default owner. Derived from the mapping and the workspace alone, so that
//! plan reports it and apply creates exactly it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::mapping::check::MARKER_FIELD;
use crate::mapping::{DEFAULT_OWNER, Destination, Landing, Mapping, NewFieldType};
use crate::pipedrive::EntityKind;
use crate::pipedrive::workspace::{Workspace, same_name};
use crate::profile::SourceProfile;
use crate::record::ObjectKind;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewCustomField {
    pub entity: &'static str,
    pub name: String,
    /// Pipedrive's `field_type`.
    pub field_type: &'static str,
    pub options: Vec<String>,
    /// `object.attribute` it is created for (empty for the marker).
    pub source: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct WorkspaceChanges {
    pub new_fields: Vec<NewCustomField>,
    /// Options added to custom fields the account has: (entity, field, options).
    pub options_to_add: Vec<(&'static str, String, Vec<String>)>,
    pub pipelines_to_create: Vec<String>,
    /// (pipeline, stage), in the order they are created (appended, as Pipedrive does).
    pub stages_to_create: Vec<(String, String)>,
    pub activity_types_to_create: Vec<String>,
    /// (entity, label).
    pub labels_to_create: Vec<(&'static str, String)>,
    /// Agents without a Pipedrive user, and how many records they own.
    pub agents_to_default_owner: Vec<(String, u64)>,
}

impl WorkspaceChanges {
    /// Create calls, per kind of call: what the token bill charges.
    pub fn field_creates(&self, entity: &str) -> u64 {
        self.new_fields.iter().filter(|field| field.entity == entity).count() as u64
    }
}

/// Tag name -> the label it becomes (`None`: skipped), as the label plugin (or the default rule:
/// every tag its own label) decided.
pub type LabelDecisions = BTreeMap<String, Option<String>>;

pub fn workspace_changes(
    mapping: &Mapping,
    profile: &SourceProfile,
    workspace: &Workspace,
    labels: &LabelDecisions,
) -> WorkspaceChanges {
    let mut changes = WorkspaceChanges::default();
    for entity in [EntityKind::Organization, EntityKind::Person, EntityKind::Deal] {
        if workspace.custom_field(entity, MARKER_FIELD).is_none() {
            changes.new_fields.push(NewCustomField {
                entity: entity.name(),
                name: MARKER_FIELD.into(),
                field_type: "varchar",
                options: vec![],
                source: String::new(),
            });
        }
    }
    for entry in &mapping.fields {
        let destination = Destination::of(entry.object);
        let Some(entity) = destination.entity() else { continue };
        match &entry.landing {
            Landing::New { field, ty, options, .. } => {
                changes.new_fields.push(NewCustomField {
                    entity: destination.name(),
                    name: field.clone(),
                    field_type: ty.pipedrive_type(),
                    options: options.clone(),
                    source: entry.key(),
                });
                if *ty == NewFieldType::DateTime {
                    changes.new_fields.push(NewCustomField {
                        entity: destination.name(),
                        name: time_field_name(field),
                        field_type: "time",
                        options: vec![],
                        source: entry.key(),
                    });
                }
            }
            Landing::Existing { field, values } => {
                let Some(existing) = workspace.custom_field(entity, field) else { continue };
                if !existing.has_options() {
                    continue;
                }
                let Some(attribute) =
                    profile.object(entry.object).and_then(|object| object.attribute(&entry.attribute))
                else {
                    continue;
                };
                let missing: Vec<String> = attribute
                    .distinct
                    .keys()
                    .filter(|value| !values.iter().any(|(from, _)| same_name(from, value)))
                    .filter(|value| !existing.options.iter().any(|option| same_name(&option.label, value)))
                    .cloned()
                    .collect();
                if !missing.is_empty() {
                    changes.options_to_add.push((destination.name(), existing.field_name.clone(), missing));
                }
            }
            _ => {}
        }
    }
    for pipeline in &mapping.pipelines {
        let existing = workspace.pipeline(&pipeline.name);
        if existing.is_none() {
            changes.pipelines_to_create.push(pipeline.name.clone());
        }
        let mut seen: Vec<&str> = Vec::new();
        for stage in &pipeline.stages {
            let exists = existing.is_some_and(|existing| workspace.stage(existing.id, &stage.target).is_some());
            if !exists && !seen.iter().any(|name| same_name(name, &stage.target)) {
                changes.stages_to_create.push((pipeline.name.clone(), stage.target.clone()));
                seen.push(&stage.target);
            }
        }
    }
    let mut types: Vec<&str> = mapping.activity_types.iter().map(|choice| choice.target.as_str()).collect();
    if profile.records(ObjectKind::Event) > 0 {
        types.push(&mapping.event_activity_type.target);
    }
    for name in types {
        if workspace.activity_type(name).is_none()
            && !changes.activity_types_to_create.iter().any(|created| same_name(created, name))
        {
            changes.activity_types_to_create.push(name.to_owned());
        }
    }
    for (object, tags) in &profile.tag_use {
        let labelled = mapping
            .field(*object, "tags")
            .is_some_and(|entry| matches!(&entry.landing, Landing::Standard { code } if code == "label"));
        let Some(entity) = Destination::of(*object).entity().filter(|_| labelled) else { continue };
        let existing = workspace.labels(entity);
        for tag in tags.keys() {
            let Some(Some(label)) = labels.get(tag).cloned().or_else(|| Some(Some(tag.clone()))) else { continue };
            let name = entity.name();
            let planned =
                changes.labels_to_create.iter().any(|(kind, created)| *kind == name && same_name(created, &label));
            if !planned && !existing.iter().any(|have| same_name(have, &label)) {
                changes.labels_to_create.push((name, label));
            }
        }
    }
    for agent in &mapping.agents {
        if agent.target == DEFAULT_OWNER {
            changes
                .agents_to_default_owner
                .push((agent.source.clone(), profile.agents.get(&agent.source).copied().unwrap_or(0)));
        }
    }
    changes
}

/// The time field created beside a `date+time` field's date field.
pub fn time_field_name(field: &str) -> String {
    format!("{field} (time, UTC)")
}
