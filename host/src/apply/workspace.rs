//! Phase 1, the workspace: everything records will point at, made to exist before any record
//! moves. Users are matched, custom fields (and the "User.com ID" marker fields), options,
//! pipelines, stages in order, activity types and labels are reused by name or created, and every
//! id and field key is journalled. Running it again creates nothing twice: a name that exists is
//! reused, and a create whose answer was lost is found by its name on the next run.

use std::collections::{BTreeSet, HashMap};

use crate::mapping::check::MARKER_FIELD;
use crate::mapping::{DEFAULT_OWNER, Destination, Landing, Mapping, NewFieldType};
use crate::pipedrive::workspace::{Workspace, same_name};
use crate::pipedrive::{
    ActivityType, ClientError, EntityKind, Field, FieldOption, FieldType, NewField, NewStage, PipedriveClient,
};
use crate::plan::changes::{LabelDecisions, time_field_name};
use crate::record::ObjectKind;
use crate::state::now_utc;

use super::ApplyError;
use crate::journal::Journal;

/// A custom field a mapped attribute is written to.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomTarget {
    pub code: String,
    /// Pipedrive's `field_type` (varchar, double, enum, ...).
    pub field_type: String,
    /// Option label (lower case) -> option id, for enum and set fields.
    pub options: HashMap<String, u64>,
    /// Source value -> option label, where the mapping spells them differently.
    pub values: Vec<(String, String)>,
    /// The time field beside a `date+time` field's date.
    pub time_code: Option<String>,
    /// The currency of a monetary field.
    pub currency: Option<String>,
}

impl CustomTarget {
    /// The option id for a source value: through `values`, then by label; booleans as Yes/No.
    pub fn option(&self, value: &str) -> Option<u64> {
        let label = self.values.iter().find(|(from, _)| same_name(from, value)).map_or(value, |(_, to)| to.as_str());
        let label = match label {
            "true" => "yes",
            "false" => "no",
            other => other,
        };
        self.options.get(&label.trim().to_lowercase()).copied()
    }
}

/// Ids and keys records are written with.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    pub default_owner: u64,
    /// Agent email (lower case) -> user id.
    pub owners: HashMap<String, u64>,
    /// Marker field key per entity.
    pub markers: HashMap<EntityKind, String>,
    /// How records are marked (the project's source account); set from the project by the caller.
    pub marking: crate::marker::Markers,
    pub fields: HashMap<(ObjectKind, String), CustomTarget>,
    /// User.com pipeline id -> Pipedrive pipeline id.
    pub pipelines: HashMap<String, u64>,
    /// User.com stage id -> (Pipedrive stage id, its pipeline id).
    pub stages: HashMap<String, (u64, u64)>,
    /// User.com activity type id -> Pipedrive `key_string`.
    pub activity_types: HashMap<String, String>,
    pub event_type: String,
    /// (entity, label lower case) -> label id.
    pub labels: HashMap<(EntityKind, String), u64>,
    pub tag_labels: LabelDecisions,
}

impl Targets {
    /// Field key -> its name, for the report.
    pub fn field_names(&self) -> HashMap<String, String> {
        let mut names: HashMap<String, String> =
            self.fields.iter().map(|((_, attribute), target)| (target.code.clone(), attribute.clone())).collect();
        for ((_, attribute), target) in &self.fields {
            if let Some(time) = &target.time_code {
                names.insert(time.clone(), format!("{attribute} (time)"));
            }
        }
        for code in self.markers.values() {
            names.insert(code.clone(), "User.com ID".into());
        }
        names
    }

    pub fn owner(&self, agent: Option<&str>) -> u64 {
        agent.and_then(|agent| self.owners.get(&agent.trim().to_lowercase())).copied().unwrap_or(self.default_owner)
    }

    /// Label ids for a record's tags, as the label decisions map them.
    pub fn label_ids(&self, entity: EntityKind, tags: &[String]) -> Vec<u64> {
        let mut ids: Vec<u64> = tags
            .iter()
            .filter_map(|tag| self.tag_labels.get(tag).cloned().unwrap_or_else(|| Some(tag.clone())))
            .filter_map(|label| self.labels.get(&(entity, label.to_lowercase())).copied())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

fn field_type(ty: NewFieldType) -> FieldType {
    match ty {
        NewFieldType::Varchar => FieldType::Varchar,
        NewFieldType::Text => FieldType::Text,
        NewFieldType::Double => FieldType::Double,
        NewFieldType::Monetary => FieldType::Monetary,
        NewFieldType::Date | NewFieldType::DateTime => FieldType::Date,
        NewFieldType::Enum => FieldType::Enum,
        NewFieldType::Set => FieldType::Set,
        NewFieldType::Phone => FieldType::Phone,
    }
}

fn options_of(field: &Field) -> HashMap<String, u64> {
    field.options.iter().filter_map(|option| Some((option.label.trim().to_lowercase(), option.numeric_id()?))).collect()
}

/// What the workspace phase needs besides the mapping: the values each mapped choice attribute
/// holds (options to add) and the labels each entity's records carry.
pub struct Needs {
    /// (object, attribute) -> distinct values, for enum and set fields the account has.
    pub values: HashMap<(ObjectKind, String), BTreeSet<String>>,
    /// Entity -> labels its records carry.
    pub labels: HashMap<EntityKind, BTreeSet<String>>,
    pub tag_labels: LabelDecisions,
}

/// Makes the workspace hold what the mapping needs; returns the ids records are written with.
///
/// With `write` off (verify), nothing is created: what is missing is an error.
pub async fn ensure(
    client: &PipedriveClient,
    url: &str,
    mapping: &Mapping,
    needs: Needs,
    journal: &Journal,
    write: bool,
) -> Result<Targets, ApplyError> {
    let mut workspace = Workspace::read(client, url, now_utc()).await?;
    let mut targets = Targets { tag_labels: needs.tag_labels.clone(), ..Targets::default() };

    let user = |email: &str| workspace.user_by_email(email).map(|user| user.id);
    targets.default_owner = user(&mapping.default_owner.target)
        .ok_or_else(|| ApplyError::DefaultOwnerGone { email: mapping.default_owner.target.clone() })?;
    for agent in &mapping.agents {
        let id = if agent.target == DEFAULT_OWNER {
            targets.default_owner
        } else {
            user(&agent.target).unwrap_or(targets.default_owner)
        };
        targets.owners.insert(agent.source.to_lowercase(), id);
    }

    for entity in [EntityKind::Organization, EntityKind::Person, EntityKind::Deal] {
        let field =
            ensure_field(client, &mut workspace, journal, write, entity, MARKER_FIELD, FieldType::Varchar, &[]).await?;
        targets.markers.insert(entity, field.field_code);
    }
    for entry in &mapping.fields {
        let Some(entity) = Destination::of(entry.object).entity() else { continue };
        let key = (entry.object, entry.attribute.clone());
        match &entry.landing {
            Landing::Existing { field, values } => {
                let existing = workspace
                    .custom_field(entity, field)
                    .cloned()
                    .ok_or_else(|| ApplyError::FieldGone { entity: entity.name(), field: field.clone() })?;
                let mut options = options_of(&existing);
                if existing.has_options() {
                    let target = CustomTarget {
                        code: existing.field_code.clone(),
                        field_type: existing.field_type.clone(),
                        options: options.clone(),
                        values: values.clone(),
                        time_code: None,
                        currency: None,
                    };
                    let missing: Vec<String> = needs
                        .values
                        .get(&key)
                        .into_iter()
                        .flatten()
                        .filter(|value| target.option(value).is_none())
                        .cloned()
                        .collect();
                    options.extend(add_missing_options(client, journal, write, entity, &existing, &missing).await?);
                }
                journal.record_workspace_object(
                    "field",
                    entity.name(),
                    &existing.field_name,
                    &existing.field_code,
                    false,
                )?;
                targets.fields.insert(
                    key,
                    CustomTarget {
                        code: existing.field_code,
                        field_type: existing.field_type,
                        options,
                        values: values.clone(),
                        time_code: None,
                        currency: None,
                    },
                );
            }
            Landing::New { field, ty, options, currency } => {
                let created =
                    ensure_field(client, &mut workspace, journal, write, entity, field, field_type(*ty), options)
                        .await?;
                let time_code = if *ty == NewFieldType::DateTime {
                    Some(
                        ensure_field(
                            client,
                            &mut workspace,
                            journal,
                            write,
                            entity,
                            &time_field_name(field),
                            FieldType::Time,
                            &[],
                        )
                        .await?
                        .field_code,
                    )
                } else {
                    None
                };
                // A field an earlier run made, planned again on a newer export, may need more
                // options than it was made with. Verify (no `write`) makes none: a record that
                // needs one shows as a difference.
                let mut made = options_of(&created);
                let missing: Vec<String> =
                    options.iter().filter(|label| !made.contains_key(&label.trim().to_lowercase())).cloned().collect();
                if write {
                    made.extend(add_missing_options(client, journal, write, entity, &created, &missing).await?);
                }
                targets.fields.insert(
                    key,
                    CustomTarget {
                        options: made,
                        code: created.field_code,
                        field_type: created.field_type,
                        values: Vec::new(),
                        time_code,
                        currency: currency.clone(),
                    },
                );
            }
            _ => {}
        }
    }

    for pipeline in &mapping.pipelines {
        let pipeline_id = match workspace.pipeline(&pipeline.name) {
            Some(existing) => {
                journal.record_workspace_object("pipeline", "", &pipeline.name, &existing.id.to_string(), false)?;
                existing.id
            }
            None => {
                journal.record_workspace_object("pipeline", "", &pipeline.name, "", true)?;
                let created = create_or_find(
                    write,
                    &format!("the pipeline '{}'", pipeline.name),
                    async || client.create_pipeline(&pipeline.name).await,
                    async || {
                        Ok(client
                            .pipelines()
                            .await?
                            .into_iter()
                            .find(|found| !found.is_deleted && same_name(&found.name, &pipeline.name)))
                    },
                )
                .await?;
                journal.record_workspace_object("pipeline", "", &pipeline.name, &created.id.to_string(), true)?;
                workspace.pipelines.push(created.clone());
                created.id
            }
        };
        targets.pipelines.insert(pipeline.source_id.clone(), pipeline_id);
        for stage in &pipeline.stages {
            let scope = format!("pipeline:{pipeline_id}");
            let stage_id = match workspace.stage(pipeline_id, &stage.target) {
                Some(existing) => {
                    journal.record_workspace_object("stage", &scope, &stage.target, &existing.id.to_string(), false)?;
                    existing.id
                }
                None => {
                    journal.record_workspace_object("stage", &scope, &stage.target, "", true)?;
                    let created = create_or_find(
                        write,
                        &format!("the stage '{}' of '{}'", stage.target, pipeline.name),
                        async || {
                            client
                                .create_stage(&NewStage {
                                    name: stage.target.clone(),
                                    pipeline_id,
                                    deal_probability: None,
                                })
                                .await
                        },
                        async || {
                            Ok(client
                                .stages(Some(pipeline_id))
                                .await?
                                .into_iter()
                                .find(|found| !found.is_deleted && same_name(&found.name, &stage.target)))
                        },
                    )
                    .await?;
                    journal.record_workspace_object("stage", &scope, &stage.target, &created.id.to_string(), true)?;
                    workspace.stages.push(created.clone());
                    created.id
                }
            };
            targets.stages.insert(stage.source.clone(), (stage_id, pipeline_id));
        }
    }

    for choice in &mapping.activity_types {
        let kind = ensure_activity_type(client, &mut workspace, journal, write, &choice.target).await?;
        targets.activity_types.insert(choice.source.clone(), kind.key_string);
    }
    targets.event_type =
        ensure_activity_type(client, &mut workspace, journal, write, &mapping.event_activity_type.target)
            .await?
            .key_string;

    for (entity, labels) in &needs.labels {
        let existing = workspace.standard_field(*entity, "label").cloned();
        let mut known: HashMap<String, u64> = existing.as_ref().map(options_of).unwrap_or_default();
        let missing: Vec<String> =
            labels.iter().filter(|label| !known.contains_key(&label.to_lowercase())).cloned().collect();
        for label in labels.iter().filter(|label| known.contains_key(&label.to_lowercase())) {
            let id = known[&label.to_lowercase()].to_string();
            journal.record_workspace_object("label", entity.name(), label, &id, false)?;
        }
        if !missing.is_empty() {
            for label in &missing {
                journal.record_workspace_object("label", entity.name(), label, "", true)?;
            }
            let after = add_options(client, write, *entity, "label", &missing).await?;
            known.extend(
                after.iter().filter_map(|option| Some((option.label.trim().to_lowercase(), option.numeric_id()?))),
            );
            for label in &missing {
                let id = known.get(&label.to_lowercase()).map(u64::to_string).unwrap_or_default();
                journal.record_workspace_object("label", entity.name(), label, &id, true)?;
            }
        }
        for (label, id) in known {
            targets.labels.insert((*entity, label), id);
        }
    }
    Ok(targets)
}

/// Sends a create; when its answer is lost (or the client gave up on it), looks whether it was
/// applied after all (by name, in a fresh listing) before sending it again.
/// Without `write`, nothing is sent: `what` is reported missing.
async fn create_or_find<T>(
    write: bool,
    what: &str,
    create: impl AsyncFn() -> Result<T, ClientError>,
    find: impl AsyncFn() -> Result<Option<T>, ClientError>,
) -> Result<T, ApplyError> {
    if !write {
        return Err(ApplyError::NotInPipedrive { what: what.to_owned() });
    }
    for _ in 0..3 {
        match create().await {
            Ok(created) => return Ok(created),
            Err(ClientError::WriteOutcomeUnknown { .. } | ClientError::GaveUp { .. }) => {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                if let Some(found) = find().await? {
                    return Ok(found);
                }
            }
            Err(error) => return Err(error.into()),
        }
    }
    Ok(create().await?)
}

/// Adds the options a field lacks, journalled as apply's (before they are sent, and with their
/// ids after); returns the ids of the options added, by label (lower case).
async fn add_missing_options(
    client: &PipedriveClient,
    journal: &Journal,
    write: bool,
    entity: EntityKind,
    field: &Field,
    missing: &[String],
) -> Result<HashMap<String, u64>, ApplyError> {
    if missing.is_empty() {
        return Ok(HashMap::new());
    }
    let scope = format!("{}:{}", entity.name(), field.field_name);
    for label in missing {
        journal.record_workspace_object("option", &scope, label, "", true)?;
    }
    let after = add_options(client, write, entity, &field.field_code, missing).await?;
    for option in &after {
        if missing.iter().any(|label| same_name(label, &option.label)) {
            let id = option.numeric_id().map(|id| id.to_string()).unwrap_or_default();
            journal.record_workspace_object("option", &scope, &option.label, &id, true)?;
        }
    }
    // Whether the answer lists every option or only the new ones, both are known now.
    Ok(after.iter().filter_map(|option| Some((option.label.trim().to_lowercase(), option.numeric_id()?))).collect())
}

/// Adds options to a field (labels to `label`), each once even when an answer is lost.
async fn add_options(
    client: &PipedriveClient,
    write: bool,
    entity: EntityKind,
    field_code: &str,
    labels: &[String],
) -> Result<Vec<FieldOption>, ApplyError> {
    create_or_find(
        write,
        &format!("the options {} of {} field {field_code}", labels.join(", "), entity.name()),
        async || client.add_field_options(entity, field_code, labels).await,
        async || {
            let fields = client.fields(entity).await?;
            let Some(field) = fields.into_iter().find(|field| field.field_code == field_code) else { return Ok(None) };
            let added: Vec<FieldOption> = field
                .options
                .into_iter()
                .filter(|option| labels.iter().any(|label| same_name(label, &option.label)))
                .collect();
            Ok((added.len() >= labels.len()).then_some(added))
        },
    )
    .await
}

/// A custom field by name, created when the account lacks it. The journal learns of a create
/// before it is sent, so that a field whose answer was lost is still known as apply's own.
#[allow(clippy::too_many_arguments)]
async fn ensure_field(
    client: &PipedriveClient,
    workspace: &mut Workspace,
    journal: &Journal,
    write: bool,
    entity: EntityKind,
    name: &str,
    field_type: FieldType,
    options: &[String],
) -> Result<Field, ApplyError> {
    if let Some(existing) = workspace.custom_field(entity, name) {
        let created = journal.workspace_object("field", entity.name(), name)?.is_some_and(|(_, created)| created);
        journal.record_workspace_object("field", entity.name(), name, &existing.field_code, created)?;
        return Ok(existing.clone());
    }
    journal.record_workspace_object("field", entity.name(), name, "", true)?;
    let created = create_or_find(
        write,
        &format!("the {} field '{name}'", entity.name()),
        async || {
            client
                .create_field(entity, &NewField { field_name: name.to_owned(), field_type, options: options.to_vec() })
                .await
        },
        async || {
            Ok(client
                .fields(entity)
                .await?
                .into_iter()
                .find(|field| field.is_custom_field && same_name(&field.field_name, name)))
        },
    )
    .await?;
    journal.record_workspace_object("field", entity.name(), name, &created.field_code, true)?;
    match entity {
        EntityKind::Person => workspace.person_fields.push(created.clone()),
        EntityKind::Organization => workspace.organization_fields.push(created.clone()),
        EntityKind::Deal => workspace.deal_fields.push(created.clone()),
        EntityKind::Activity => {}
    }
    Ok(created)
}

async fn ensure_activity_type(
    client: &PipedriveClient,
    workspace: &mut Workspace,
    journal: &Journal,
    write: bool,
    name: &str,
) -> Result<ActivityType, ApplyError> {
    if let Some(existing) = workspace.activity_type(name) {
        let created = journal.workspace_object("activity_type", "", name)?.is_some_and(|(_, created)| created);
        journal.record_workspace_object("activity_type", "", name, &existing.id.to_string(), created)?;
        return Ok(existing.clone());
    }
    journal.record_workspace_object("activity_type", "", name, "", true)?;
    let created = create_or_find(
        write,
        &format!("the activity type '{name}'"),
        async || client.create_activity_type(name, "task").await,
        async || {
            Ok(client
                .activity_types()
                .await?
                .into_iter()
                .find(|found| found.active_flag && same_name(&found.name, name)))
        },
    )
    .await?;
    journal.record_workspace_object("activity_type", "", name, &created.id.to_string(), true)?;
    workspace.activity_types.push(created.clone());
    Ok(created)
}
