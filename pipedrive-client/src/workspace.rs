//! A Pipedrive account's workspace as plan reads it (users, fields, pipelines, stages, activity
//! types, labels): what a mapping may point at. crm-migrate keeps it in `state.db` so that a
//! mapping edit is checked against it without another read.

use serde::{Deserialize, Serialize};

use crate::{ActivityType, ClientError, EntityKind, Field, PipedriveClient, Pipeline, Stage, User};

/// Everything of a Pipedrive account a mapping can refer to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Workspace {
    pub url: String,
    pub taken_at: String,
    pub users: Vec<User>,
    pub person_fields: Vec<Field>,
    pub organization_fields: Vec<Field>,
    pub deal_fields: Vec<Field>,
    pub pipelines: Vec<Pipeline>,
    pub stages: Vec<Stage>,
    pub activity_types: Vec<ActivityType>,
}

impl Workspace {
    /// Reads the workspace: 7 list calls (fields of three kinds at 10 tokens, users and activity
    /// types at 20, pipelines and stages at 5). Writes nothing.
    pub async fn read(client: &PipedriveClient, url: &str, taken_at: String) -> Result<Workspace, ClientError> {
        Ok(Workspace {
            url: url.to_owned(),
            taken_at,
            users: client.users().await?,
            person_fields: client.fields(EntityKind::Person).await?,
            organization_fields: client.fields(EntityKind::Organization).await?,
            deal_fields: client.fields(EntityKind::Deal).await?,
            pipelines: client.pipelines().await?.into_iter().filter(|pipeline| !pipeline.is_deleted).collect(),
            stages: client.stages(None).await?.into_iter().filter(|stage| !stage.is_deleted).collect(),
            activity_types: client.activity_types().await?.into_iter().filter(|kind| kind.active_flag).collect(),
        })
    }

    pub fn fields(&self, kind: EntityKind) -> &[Field] {
        match kind {
            EntityKind::Person => &self.person_fields,
            EntityKind::Organization => &self.organization_fields,
            EntityKind::Deal => &self.deal_fields,
            EntityKind::Activity => &[],
        }
    }

    /// The workspace without the custom fields apply made, given as (entity name, field name):
    /// they are the migration's, not the account's, so a re-plan proposes them as the fields it
    /// creates (apply reuses each by its name), and what the first plan decided about them (type,
    /// options, currency, the time field beside a date+time) stands.
    pub fn without_fields_made_by_apply(mut self, made: &[(String, String)]) -> Workspace {
        for (kind, fields) in [
            (EntityKind::Person, &mut self.person_fields),
            (EntityKind::Organization, &mut self.organization_fields),
            (EntityKind::Deal, &mut self.deal_fields),
        ] {
            fields.retain(|field| {
                !(field.is_custom_field
                    && made.iter().any(|(entity, name)| entity == kind.name() && same_name(name, &field.field_name)))
            });
        }
        self
    }

    /// A custom field by its name (case and surrounding spaces ignored).
    pub fn custom_field(&self, kind: EntityKind, name: &str) -> Option<&Field> {
        self.fields(kind).iter().find(|field| field.is_custom_field && same_name(&field.field_name, name))
    }

    /// A built-in field by its code (`emails`, `owner_id`, ...).
    pub fn standard_field(&self, kind: EntityKind, code: &str) -> Option<&Field> {
        self.fields(kind).iter().find(|field| !field.is_custom_field && field.field_code == code)
    }

    /// The labels of one kind: the options of its built-in `label` field.
    pub fn labels(&self, kind: EntityKind) -> Vec<&str> {
        self.standard_field(kind, "label")
            .map(|field| field.options.iter().map(|option| option.label.as_str()).collect())
            .unwrap_or_default()
    }

    /// Whether the account has Campaigns, which gives persons a marketing status.
    pub fn has_marketing_status(&self) -> bool {
        self.person_fields.iter().any(|field| field.field_code == "marketing_status")
    }

    pub fn user_by_email(&self, email: &str) -> Option<&User> {
        self.users.iter().find(|user| user.active_flag && user.email.eq_ignore_ascii_case(email.trim()))
    }

    pub fn pipeline(&self, name: &str) -> Option<&Pipeline> {
        self.pipelines.iter().find(|pipeline| same_name(&pipeline.name, name))
    }

    pub fn stage(&self, pipeline_id: u64, name: &str) -> Option<&Stage> {
        self.stages.iter().find(|stage| stage.pipeline_id == pipeline_id && same_name(&stage.name, name))
    }

    /// An activity type by key (`call`) or name (`Call`).
    pub fn activity_type(&self, key_or_name: &str) -> Option<&ActivityType> {
        self.activity_types
            .iter()
            .find(|kind| kind.key_string == key_or_name.trim() || same_name(&kind.name, key_or_name))
    }
}

/// Names compare as a person reads them: case and surrounding spaces ignored.
pub fn same_name(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}
