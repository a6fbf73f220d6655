//! The simulated company account: users, every entity (soft-deleted ones too), field definitions
//! with their options, activity types and id counters. All of it is serde-serializable, so it is
//! what `state()` returns and what the state file holds.

use crate::clock;
use crate::rng::SplitMix64;
use crate::table::Table;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// The entities that have v2 fields and custom fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Entity {
    Person,
    Organization,
    Deal,
    Activity,
}

impl Entity {
    pub const ALL: [Entity; 4] = [Entity::Person, Entity::Organization, Entity::Deal, Entity::Activity];

    /// The `entity_type` of itemSearch.
    pub fn search_name(self) -> &'static str {
        match self {
            Entity::Person => "person",
            Entity::Organization => "organization",
            Entity::Deal => "deal",
            Entity::Activity => "activity",
        }
    }

    /// The property holding the display name (`title` for deals).
    pub fn name_property(self) -> &'static str {
        match self {
            Entity::Deal => "title",
            Entity::Activity => "subject",
            _ => "name",
        }
    }

    pub fn from_fields_resource(resource: &str) -> Option<Entity> {
        match resource {
            "personFields" => Some(Entity::Person),
            "organizationFields" => Some(Entity::Organization),
            "dealFields" => Some(Entity::Deal),
            "activityFields" => Some(Entity::Activity),
            _ => None,
        }
    }
}

/// An option of an enum or set field (labels are the options of the built-in `label` field).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FieldOption {
    pub id: i64,
    pub label: String,
    #[serde(default)]
    pub color: Option<String>,
    pub add_time: i64,
    pub update_time: i64,
}

/// A field definition, built-in or custom.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Field {
    pub entity: Entity,
    /// The v1 numeric id.
    pub id: u64,
    /// The v2 `field_code` (v1 `key`): a readable name for built-ins, 40 hex digits for custom fields.
    pub code: String,
    pub name: String,
    pub field_type: String,
    pub options: Option<Vec<FieldOption>>,
    pub is_custom: bool,
    pub is_deleted: bool,
    pub order_nr: u64,
    pub add_time: i64,
    pub update_time: i64,
    #[serde(default)]
    pub description: Option<String>,
}

impl Field {
    pub fn has_options(&self) -> bool {
        matches!(self.field_type.as_str(), "enum" | "set")
    }

    pub fn option(&self, id: i64) -> Option<&FieldOption> {
        self.options.as_ref()?.iter().find(|option| option.id == id)
    }

    /// Sub-values of composite types, as v2 lists them in `subfields`.
    pub fn subfields(&self) -> Value {
        let list: &[(&str, &str, &str)] = match self.field_type.as_str() {
            "monetary" => &[("value", "Value", "double"), ("currency", "Currency", "varchar")],
            "address" => &[
                ("value", "Address", "varchar"),
                ("street_number", "Street/building number", "varchar"),
                ("route", "Street/road name", "varchar"),
                ("subpremise", "Apartment/suite no", "varchar"),
                ("sublocality", "District/sublocality", "varchar"),
                ("locality", "City/town/village/locality", "varchar"),
                ("admin_area_level_1", "State/county", "varchar"),
                ("admin_area_level_2", "Region", "varchar"),
                ("country", "Country", "varchar"),
                ("postal_code", "ZIP/Postal code", "varchar"),
                ("formatted_address", "Full/combined address", "varchar"),
            ],
            "daterange" => &[("value", "Start date", "date"), ("until", "End date", "date")],
            "timerange" => &[("value", "Start time", "time"), ("until", "End time", "time")],
            _ => return Value::Null,
        };
        let code = &self.code;
        Value::Array(
            list.iter()
                .map(|(sub, name, kind)| {
                    let field_code =
                        if *sub == "value" && self.is_custom { code.clone() } else { format!("{code}_{sub}") };
                    json!({"field_code": field_code, "field_name": name, "field_type": kind})
                })
                .collect(),
        )
    }

    fn options_json(&self, with_times: bool) -> Value {
        match &self.options {
            None => Value::Null,
            Some(options) => Value::Array(
                options
                    .iter()
                    .map(|option| {
                        let mut value = json!({"id": option.id, "label": option.label});
                        if with_times {
                            value["color"] = json!(option.color);
                            value["add_time"] = json!(clock::rfc3339(option.add_time));
                            value["update_time"] = json!(clock::rfc3339(option.update_time));
                        }
                        value
                    })
                    .collect(),
            ),
        }
    }

    /// The field as API v2 returns it.
    pub fn to_v2(&self, include: &[&str]) -> Value {
        let mut value = json!({
            "field_name": self.name,
            "field_code": self.code,
            "description": self.description,
            "field_type": self.field_type,
            "options": self.options_json(true),
            "subfields": self.subfields(),
            "is_custom_field": self.is_custom,
            "is_optional_response_field": false,
        });
        if include.contains(&"ui_visibility") {
            value["ui_visibility"] = json!({"add_visible_flag": true, "details_visible_flag": true, "show_in_add_deal_dialog": {"show": false, "order": null}});
        }
        if include.contains(&"important_fields") {
            value["important_fields"] = json!({"enabled": false, "stage_ids": []});
        }
        if include.contains(&"required_fields") {
            value["required_fields"] = json!({"enabled": self.code == "name" || self.code == "title"});
        }
        value
    }

    /// The field as API v1 returns it.
    pub fn to_v1(&self) -> Value {
        json!({
            "id": self.id,
            "key": self.code,
            "name": self.name,
            "order_nr": self.order_nr,
            "field_type": self.field_type,
            // The v1 spec declares these as date-time (RFC 3339), unlike most v1 timestamps.
            "add_time": clock::rfc3339(self.add_time),
            "update_time": clock::rfc3339(self.update_time),
            "last_updated_by_user_id": if self.is_custom { json!(1) } else { Value::Null },
            "created_by_user_id": if self.is_custom { json!(1) } else { Value::Null },
            "active_flag": !self.is_deleted,
            "edit_flag": self.is_custom,
            "index_visible_flag": true,
            "details_visible_flag": true,
            "add_visible_flag": true,
            "important_flag": false,
            "bulk_edit_allowed": true,
            "searchable_flag": matches!(self.field_type.as_str(), "varchar" | "text" | "varchar_auto" | "double" | "monetary" | "phone" | "address"),
            "filtering_allowed": true,
            "sortable_flag": true,
            "mandatory_flag": self.code == "name" || self.code == "title",
            "options": self.options_json(false),
        })
    }
}

/// A user of the company (user 1 is the admin every accepted API token belongs to).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub id: u64,
    pub name: String,
    pub email: String,
    pub is_admin: bool,
    pub created: i64,
}

impl User {
    pub fn to_v1(&self, me: u64) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "default_currency": "USD",
            "locale": "en_US",
            "lang": 1,
            "email": self.email,
            "phone": null,
            "activated": true,
            "last_login": clock::v1_time(self.created),
            "created": clock::v1_time(self.created),
            "modified": null,
            "has_created_company": self.id == 1,
            "access": [{"app": "sales", "admin": self.is_admin, "permission_set_id": if self.is_admin {"admin-set"} else {"regular-set"}}],
            "active_flag": true,
            "timezone_name": "Etc/UTC",
            "timezone_offset": "+00:00",
            "role_id": 1,
            "icon_url": null,
            "is_you": self.id == me,
            "is_deleted": false,
        })
    }
}

/// Who the company users are at account creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSeed {
    pub name: String,
    pub email: String,
    pub is_admin: bool,
}

/// The whole company account.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Account {
    pub company_id: u64,
    pub company_name: String,
    pub company_domain: String,
    /// Generates the 40-hex custom field keys; seeded per account.
    pub key_rng: SplitMix64,
    /// The last id handed out, per collection.
    pub last_ids: BTreeMap<String, u64>,
    pub users: Vec<User>,
    pub fields: Vec<Field>,
    pub persons: Table,
    pub organizations: Table,
    pub deals: Table,
    pub activities: Table,
    pub pipelines: BTreeMap<u64, Value>,
    pub stages: BTreeMap<u64, Value>,
    pub notes: Table,
    /// API v1 organization relationships (see `routes/relationships.rs`); absent from state
    /// files saved before the sandbox had them.
    #[serde(default)]
    pub organization_relationships: BTreeMap<u64, Value>,
    /// API v2 products, deal products (attachments, each with its `deal_id`), API v1 deal
    /// participants and webhooks (see `routes/products.rs`, `routes/webhooks.rs`); absent from
    /// state files saved before the sandbox had them.
    #[serde(default)]
    pub products: BTreeMap<u64, Value>,
    #[serde(default)]
    pub deal_products: Table,
    #[serde(default)]
    pub deal_participants: BTreeMap<u64, Value>,
    #[serde(default)]
    pub webhooks: BTreeMap<u64, Value>,
    pub files: Table,
    pub activity_types: BTreeMap<u64, Value>,
}

/// Built-in fields of each entity: (field_code, name, type).
fn system_fields(entity: Entity) -> &'static [(&'static str, &'static str, &'static str)] {
    match entity {
        Entity::Person => &[
            ("name", "Name", "varchar"),
            ("first_name", "First name", "varchar"),
            ("last_name", "Last name", "varchar"),
            ("label", "Labels", "set"),
            ("owner_id", "Owner", "user"),
            ("org_id", "Organization", "org"),
            ("email", "Email", "varchar"),
            ("phone", "Phone", "phone"),
            ("visible_to", "Visible to", "visible_to"),
            ("add_time", "Person created", "date"),
            ("update_time", "Update time", "date"),
            ("picture_id", "Profile picture", "picture"),
            ("postal_address", "Postal address", "address"),
            ("notes", "Notes", "text"),
            ("birthday", "Birthday", "date"),
            ("job_title", "Job title", "varchar"),
        ],
        Entity::Organization => &[
            ("name", "Name", "varchar"),
            ("label", "Labels", "set"),
            ("owner_id", "Owner", "user"),
            ("address", "Address", "address"),
            ("website", "Website", "varchar"),
            ("linkedin", "LinkedIn profile", "varchar"),
            ("industry", "Industry", "int"),
            ("annual_revenue", "Annual revenue", "int"),
            ("employee_count", "Number of employees", "int"),
            ("visible_to", "Visible to", "visible_to"),
            ("add_time", "Organization created", "date"),
            ("update_time", "Update time", "date"),
        ],
        Entity::Deal => &[
            ("title", "Title", "varchar"),
            ("creator_user_id", "Creator", "user"),
            ("owner_id", "Owner", "user"),
            ("value", "Value", "monetary"),
            ("person_id", "Contact person", "people"),
            ("org_id", "Organization", "org"),
            ("pipeline_id", "Pipeline", "int"),
            ("stage_id", "Stage", "stage"),
            ("label", "Labels", "set"),
            ("status", "Status", "status"),
            ("probability", "Probability", "double"),
            ("lost_reason", "Lost reason", "varchar_options"),
            ("expected_close_date", "Expected close date", "date"),
            ("won_time", "Won time", "date"),
            ("lost_time", "Lost time", "date"),
            ("close_time", "Deal closed on", "date"),
            ("visible_to", "Visible to", "visible_to"),
            ("add_time", "Deal created", "date"),
            ("update_time", "Update time", "date"),
            ("origin", "Source origin", "varchar"),
        ],
        Entity::Activity => &[
            ("subject", "Subject", "varchar"),
            ("type", "Type", "varchar_options"),
            ("owner_id", "Assigned to user", "user"),
            ("due_date", "Due date", "date"),
            ("due_time", "Due time", "time"),
            ("duration", "Duration", "time"),
            ("busy", "Free/busy", "boolean"),
            ("done", "Done", "boolean"),
            ("priority", "Priority", "enum"),
            ("deal_id", "Deal", "deal"),
            ("person_id", "Contact person", "people"),
            ("org_id", "Organization", "org"),
            ("location", "Location", "address"),
            ("public_description", "Public description", "text"),
            ("note", "Note", "text"),
            ("add_time", "Add time", "date"),
            ("update_time", "Update time", "date"),
        ],
    }
}

/// The person field an account with Campaigns has, and its values.
const MARKETING_STATUS: (&str, &str, &str) = ("marketing_status", "Marketing status", "enum");
const MARKETING_STATUSES: [&str; 4] = ["no_consent", "unsubscribed", "subscribed", "archived"];

/// The labels a new Pipedrive account has, per entity.
fn default_labels(entity: Entity) -> &'static [(&'static str, &'static str)] {
    match entity {
        Entity::Person | Entity::Organization => {
            &[("Customer", "green"), ("Hot lead", "red"), ("Warm lead", "yellow"), ("Cold lead", "blue")]
        }
        Entity::Deal => &[("Hot", "red"), ("Warm", "yellow"), ("Cold", "blue")],
        Entity::Activity => &[],
    }
}

/// (name, key_string, icon_key) of the activity types a new account has.
const DEFAULT_ACTIVITY_TYPES: [(&str, &str, &str); 6] = [
    ("Call", "call", "call"),
    ("Meeting", "meeting", "meeting"),
    ("Task", "task", "task"),
    ("Deadline", "deadline", "deadline"),
    ("Email", "email", "email"),
    ("Lunch", "lunch", "lunch"),
];

const DEFAULT_STAGES: [(&str, i64); 5] = [
    ("Qualified", 10),
    ("Contact Made", 20),
    ("Demo Scheduled", 40),
    ("Proposal Made", 60),
    ("Negotiations Started", 80),
];

impl Account {
    /// A fresh account as Pipedrive sets one up: the users, built-in fields with default labels
    /// (and the marketing status, with Campaigns), the default activity types, and one pipeline
    /// "Pipeline" with its five default stages.
    pub fn new(account_seed: u64, users: &[UserSeed], now: i64, campaigns: bool) -> Account {
        let mut account = Account {
            company_id: 1 + account_seed % 900_000,
            company_name: "Sandbox Company".to_owned(),
            company_domain: "sandbox".to_owned(),
            key_rng: SplitMix64::new(account_seed),
            last_ids: BTreeMap::new(),
            users: Vec::new(),
            fields: Vec::new(),
            persons: Table::new(),
            organizations: Table::new(),
            deals: Table::new(),
            activities: Table::new(),
            pipelines: BTreeMap::new(),
            stages: BTreeMap::new(),
            notes: Table::new(),
            organization_relationships: BTreeMap::new(),
            products: BTreeMap::new(),
            deal_products: Table::new(),
            deal_participants: BTreeMap::new(),
            webhooks: BTreeMap::new(),
            files: Table::new(),
            activity_types: BTreeMap::new(),
        };
        for seed in users {
            let id = account.next_id("users");
            account.users.push(User {
                id,
                name: seed.name.clone(),
                email: seed.email.clone(),
                is_admin: seed.is_admin,
                created: now,
            });
        }
        for entity in Entity::ALL {
            let campaign_fields: &[(&str, &str, &str)] =
                if campaigns && entity == Entity::Person { &[MARKETING_STATUS] } else { &[] };
            for (order, (code, name, field_type)) in system_fields(entity).iter().chain(campaign_fields).enumerate() {
                let id = account.next_id("fields");
                let options = match (*code, *field_type) {
                    ("label", _) => Some(
                        default_labels(entity)
                            .iter()
                            .map(|(label, color)| account.new_option(label, Some(color.to_string()), now))
                            .collect(),
                    ),
                    ("priority", _) => Some(
                        ["High", "Medium", "Low"].iter().map(|label| account.new_option(label, None, now)).collect(),
                    ),
                    ("marketing_status", _) => {
                        Some(MARKETING_STATUSES.iter().map(|label| account.new_option(label, None, now)).collect())
                    }
                    _ => None,
                };
                account.fields.push(Field {
                    entity,
                    id,
                    code: code.to_string(),
                    name: name.to_string(),
                    field_type: field_type.to_string(),
                    options,
                    is_custom: false,
                    is_deleted: false,
                    order_nr: order as u64,
                    add_time: now,
                    update_time: now,
                    description: None,
                });
            }
        }
        for (order, (name, key, icon)) in DEFAULT_ACTIVITY_TYPES.iter().enumerate() {
            let id = account.next_id("activity_types");
            let stamp = clock::rfc3339(now);
            account.activity_types.insert(
                id,
                json!({"id": id, "name": name, "icon_key": icon, "color": null, "order_nr": order as u64 + 1, "key_string": key,
                       "active_flag": true, "is_custom_flag": false, "add_time": stamp, "update_time": stamp}),
            );
        }
        let pipeline = account.next_id("pipelines");
        let stamp = clock::rfc3339(now);
        account.pipelines.insert(
            pipeline,
            json!({"id": pipeline, "name": "Pipeline", "order_nr": 1, "is_deleted": false, "is_deal_probability_enabled": false,
                   "add_time": stamp, "update_time": stamp}),
        );
        for (order, (name, probability)) in DEFAULT_STAGES.iter().enumerate() {
            let id = account.next_id("stages");
            account.stages.insert(
                id,
                json!({"id": id, "order_nr": order as u64 + 1, "name": name, "is_deleted": false, "deal_probability": probability,
                       "pipeline_id": pipeline, "is_deal_rot_enabled": false, "days_to_rotten": null, "add_time": stamp, "update_time": stamp}),
            );
        }
        account.index();
        account
    }

    /// Indexes what is looked up by reference: persons by organization, product lines by deal
    /// (a new account, and an account read from a state file).
    pub fn index(&mut self) {
        self.persons.index_by("org_id");
        self.deal_products.index_by("deal_id");
    }

    pub fn next_id(&mut self, collection: &str) -> u64 {
        let last = self.last_ids.entry(collection.to_owned()).or_insert(0);
        *last += 1;
        *last
    }

    pub fn new_option(&mut self, label: &str, color: Option<String>, now: i64) -> FieldOption {
        FieldOption {
            id: self.next_id("field_options") as i64,
            label: label.to_owned(),
            color,
            add_time: now,
            update_time: now,
        }
    }

    pub fn table(&self, entity: Entity) -> &Table {
        match entity {
            Entity::Person => &self.persons,
            Entity::Organization => &self.organizations,
            Entity::Deal => &self.deals,
            Entity::Activity => &self.activities,
        }
    }

    pub fn table_mut(&mut self, entity: Entity) -> &mut Table {
        match entity {
            Entity::Person => &mut self.persons,
            Entity::Organization => &mut self.organizations,
            Entity::Deal => &mut self.deals,
            Entity::Activity => &mut self.activities,
        }
    }

    /// The live (not deleted) fields of an entity, in order.
    pub fn fields_of(&self, entity: Entity) -> impl Iterator<Item = &Field> {
        self.fields.iter().filter(move |field| field.entity == entity && !field.is_deleted)
    }

    pub fn field(&self, entity: Entity, code: &str) -> Option<&Field> {
        self.fields_of(entity).find(|field| field.code == code)
    }

    pub fn field_mut(&mut self, entity: Entity, code: &str) -> Option<&mut Field> {
        self.fields.iter_mut().find(|field| field.entity == entity && !field.is_deleted && field.code == code)
    }

    pub fn user(&self, id: u64) -> Option<&User> {
        self.users.iter().find(|user| user.id == id)
    }

    /// Whether a live (not soft-deleted) record exists in a map of JSON records.
    pub fn live(map: &BTreeMap<u64, Value>, id: u64) -> Option<&Value> {
        map.get(&id).filter(|record| record["is_deleted"] != json!(true) && record["active_flag"] != json!(false))
    }

    /// Renders a stored entity for API v2: every live custom field of the entity appears in
    /// `custom_fields` (null when unset); option ids can be swapped for `{id,label}` objects.
    /// Takes the stored record (unpacked for this answer) and moves its values into the answer.
    pub fn render_v2(
        &self,
        entity: Entity,
        mut rendered: Value,
        option_labels: bool,
        only_custom: Option<&[String]>,
    ) -> Value {
        let stored_custom = rendered.as_object_mut().and_then(|object| object.remove("custom_fields"));
        if entity == Entity::Activity && !self.fields_of(entity).any(|field| field.is_custom) {
            return rendered;
        }
        let mut values = match stored_custom {
            Some(Value::Object(values)) => values,
            _ => Map::new(),
        };
        let mut custom = Map::new();
        for field in self.fields_of(entity).filter(|field| field.is_custom) {
            if let Some(only) = only_custom
                && !only.iter().any(|code| code == &field.code)
            {
                continue;
            }
            let mut value = values.remove(&field.code).unwrap_or(Value::Null);
            if option_labels && field.has_options() {
                let label = |id: &Value| match id.as_i64().and_then(|id| field.option(id)) {
                    Some(option) => json!({"id": option.id, "label": option.label}),
                    None => id.clone(),
                };
                value = match &value {
                    Value::Array(ids) => Value::Array(ids.iter().map(label).collect()),
                    Value::Null => Value::Null,
                    id => label(id),
                };
            }
            custom.insert(field.code.clone(), value);
        }
        rendered["custom_fields"] = Value::Object(custom);
        rendered
    }
}
