//! Our view of a Pipedrive account: the records and workspace objects the loader writes and reads.
//! Field names follow Pipedrive's v2 API, where our meaning and theirs are the same. The `New*`
//! types serve creates and updates alike: what is left empty is not sent, so an update changes
//! only what it names.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

/// The record kinds that carry custom fields and labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntityKind {
    Person,
    Organization,
    Deal,
    Activity,
}

impl EntityKind {
    pub const ALL: [EntityKind; 4] =
        [EntityKind::Person, EntityKind::Organization, EntityKind::Deal, EntityKind::Activity];

    /// The singular name (`person`), as reports and the journal write it.
    pub fn name(self) -> &'static str {
        match self {
            EntityKind::Person => "person",
            EntityKind::Organization => "organization",
            EntityKind::Deal => "deal",
            EntityKind::Activity => "activity",
        }
    }

    /// The kind a singular name stands for.
    pub fn from_name(name: &str) -> Option<EntityKind> {
        EntityKind::ALL.into_iter().find(|kind| kind.name() == name)
    }

    pub(super) fn collection(self) -> &'static str {
        match self {
            EntityKind::Person => "persons",
            EntityKind::Organization => "organizations",
            EntityKind::Deal => "deals",
            EntityKind::Activity => "activities",
        }
    }

    pub(super) fn fields_collection(self) -> &'static str {
        match self {
            EntityKind::Person => "personFields",
            EntityKind::Organization => "organizationFields",
            EntityKind::Deal => "dealFields",
            EntityKind::Activity => "activityFields",
        }
    }

    /// `entity_type` of `itemSearch/field`; activities cannot be searched.
    pub(super) fn search_type(self) -> Option<&'static str> {
        match self {
            EntityKind::Person => Some("person"),
            EntityKind::Organization => Some("organization"),
            EntityKind::Deal => Some("deal"),
            EntityKind::Activity => None,
        }
    }
}

/// An email address or phone number of a person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactPoint {
    pub value: String,
    #[serde(default)]
    pub primary: bool,
    #[serde(default = "work_label")]
    pub label: String,
}

fn work_label() -> String {
    "work".into()
}

impl ContactPoint {
    pub fn primary(value: impl Into<String>) -> ContactPoint {
        ContactPoint { value: value.into(), primary: true, label: work_label() }
    }
}

/// A value for a custom field, in the shape its field type takes.
#[derive(Debug, Clone, PartialEq)]
pub enum CustomValue {
    /// varchar, varchar_auto, text, phone, address (as one line), time (`HH:MM:SS`).
    Text(String),
    /// double.
    Number(f64),
    /// monetary.
    Money { amount: f64, currency: String },
    /// date, `YYYY-MM-DD`.
    Date(String),
    /// enum: the option's id.
    Option(u64),
    /// set: option ids (never empty: Pipedrive rejects `[]`; use `Clear`).
    Options(Vec<u64>),
    /// user, org or people: the referenced record's id.
    Reference(u64),
    /// Removes the value.
    Clear,
}

impl Serialize for CustomValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            CustomValue::Text(text) | CustomValue::Date(text) => serializer.serialize_str(text),
            CustomValue::Number(number) => serializer.serialize_f64(*number),
            CustomValue::Money { amount, currency } => {
                serde_json::json!({"value": amount, "currency": currency}).serialize(serializer)
            }
            CustomValue::Option(id) | CustomValue::Reference(id) => serializer.serialize_u64(*id),
            CustomValue::Options(ids) if ids.is_empty() => serializer.serialize_none(),
            CustomValue::Options(ids) => ids.serialize(serializer),
            CustomValue::Clear => serializer.serialize_none(),
        }
    }
}

/// Custom field values to write, by field code (the 40-hex key).
pub type CustomValues = BTreeMap<String, CustomValue>;

/// Custom field values as Pipedrive returned them, by field code.
pub type CustomFieldsRead = BTreeMap<String, Value>;

fn is_false(value: &bool) -> bool {
    !*value
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NewPerson {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_id: Option<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<ContactPoint>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub phones: Vec<ContactPoint>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub label_ids: Vec<u64>,
    /// RFC 3339: when the person was first created, in the old CRM.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub add_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visible_to: Option<u32>,
    /// `no_consent`, `unsubscribed`, `subscribed` or `archived` (accounts with Campaigns only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub marketing_status: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_fields: CustomValues,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Person {
    pub id: u64,
    pub name: String,
    pub owner_id: Option<u64>,
    pub org_id: Option<u64>,
    #[serde(default)]
    pub emails: Vec<ContactPoint>,
    #[serde(default)]
    pub phones: Vec<ContactPoint>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub label_ids: Vec<u64>,
    pub add_time: Option<String>,
    pub update_time: Option<String>,
    #[serde(default)]
    pub is_deleted: bool,
    /// Listed only when asked for (`include_fields=marketing_status`) on an account with Campaigns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marketing_status: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub custom_fields: CustomFieldsRead,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NewOrganization {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "address_object")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub label_ids: Vec<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub add_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visible_to: Option<u32>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_fields: CustomValues,
}

fn address_object<S: Serializer>(address: &Option<String>, serializer: S) -> Result<S::Ok, S::Error> {
    address.as_ref().map(|value| serde_json::json!({ "value": value })).serialize(serializer)
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Organization {
    pub id: u64,
    pub name: String,
    pub owner_id: Option<u64>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub label_ids: Vec<u64>,
    pub address: Option<Value>,
    #[serde(default)]
    pub website: Option<String>,
    pub add_time: Option<String>,
    #[serde(default)]
    pub is_deleted: bool,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub custom_fields: CustomFieldsRead,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DealStatus {
    Open,
    Won,
    Lost,
    Deleted,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NewDeal {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<DealStatus>,
    /// Only with status won (Pipedrive refuses it otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub won_time: Option<String>,
    /// Only with status lost, as are `lost_reason`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lost_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lost_reason: Option<String>,
    /// Only with status won or lost.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub close_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_close_date: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub label_ids: Vec<u64>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub custom_fields: CustomValues,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Deal {
    pub id: u64,
    pub title: String,
    pub owner_id: Option<u64>,
    pub person_id: Option<u64>,
    pub org_id: Option<u64>,
    pub pipeline_id: Option<u64>,
    pub stage_id: Option<u64>,
    pub value: Option<f64>,
    pub currency: Option<String>,
    pub status: Option<DealStatus>,
    pub won_time: Option<String>,
    pub lost_time: Option<String>,
    pub lost_reason: Option<String>,
    #[serde(default)]
    pub expected_close_date: Option<String>,
    pub add_time: Option<String>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub label_ids: Vec<u64>,
    #[serde(default)]
    pub is_deleted: bool,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub custom_fields: CustomFieldsRead,
}

/// A person taking part in an activity; the primary one is the activity's person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    pub person_id: u64,
    #[serde(default)]
    pub primary: bool,
}

/// Someone invited to a meeting, by email (and, when known, as a person).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attendee {
    pub email: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person_id: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NewActivity {
    pub subject: String,
    /// The activity type's `key_string` (call, meeting, ... or a custom type's key).
    #[serde(rename = "type", skip_serializing_if = "String::is_empty")]
    pub type_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deal_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_id: Option<u64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub participants: Vec<Participant>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attendees: Vec<Attendee>,
    /// `YYYY-MM-DD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_date: Option<String>,
    /// `HH:MM` (UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_time: Option<String>,
    /// `HH:MM`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    #[serde(skip_serializing_if = "is_false")]
    pub done: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// HTML.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Where an activity happens: API v2 takes an address object; `value` is the whole address.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Location {
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Activity {
    pub id: u64,
    pub subject: Option<String>,
    #[serde(rename = "type")]
    pub type_key: Option<String>,
    pub owner_id: Option<u64>,
    pub deal_id: Option<u64>,
    pub person_id: Option<u64>,
    pub org_id: Option<u64>,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub participants: Vec<Participant>,
    pub due_date: Option<String>,
    pub due_time: Option<String>,
    pub duration: Option<String>,
    #[serde(default)]
    pub done: bool,
    pub note: Option<String>,
    /// A meeting's invitees and place, as listed (verify reads them back).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub attendees: Vec<Value>,
    #[serde(default)]
    pub location: Option<Value>,
    #[serde(default)]
    pub is_deleted: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NewNote {
    /// HTML.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub content: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deal_id: Option<u64>,
    /// `YYYY-MM-DD HH:MM:SS` in UTC (v1's format).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub add_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Note {
    pub id: u64,
    pub content: String,
    pub person_id: Option<u64>,
    pub org_id: Option<u64>,
    pub deal_id: Option<u64>,
    pub user_id: Option<u64>,
    pub add_time: Option<String>,
    #[serde(default = "active")]
    pub active_flag: bool,
}

fn active() -> bool {
    true
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Pipeline {
    pub id: u64,
    pub name: String,
    pub order_nr: Option<i64>,
    #[serde(default)]
    pub is_deleted: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Stage {
    pub id: u64,
    pub name: String,
    pub pipeline_id: u64,
    pub order_nr: Option<i64>,
    pub deal_probability: Option<i64>,
    #[serde(default)]
    pub is_deleted: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct NewStage {
    pub name: String,
    pub pipeline_id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deal_probability: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct User {
    pub id: u64,
    pub name: String,
    pub email: String,
    #[serde(default = "active")]
    pub active_flag: bool,
    #[serde(default, deserialize_with = "flag")]
    pub is_admin: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct ActivityType {
    pub id: u64,
    pub name: String,
    pub key_string: String,
    pub icon_key: Option<String>,
    #[serde(default = "active")]
    pub active_flag: bool,
    #[serde(default)]
    pub is_custom_flag: bool,
}

/// Pipedrive's field types that can be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Varchar,
    VarcharAuto,
    Text,
    Double,
    Monetary,
    Date,
    Daterange,
    Time,
    Timerange,
    Enum,
    Set,
    Phone,
    Address,
    User,
    Org,
    People,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NewField {
    pub field_name: String,
    pub field_type: FieldType,
    /// Option labels, for enum and set fields.
    #[serde(skip_serializing_if = "Vec::is_empty", serialize_with = "option_labels")]
    pub options: Vec<String>,
}

fn option_labels<S: Serializer>(labels: &[String], serializer: S) -> Result<S::Ok, S::Error> {
    labels.iter().map(|label| serde_json::json!({ "label": label })).collect::<Vec<_>>().serialize(serializer)
}

/// A field definition as Pipedrive lists it (standard and custom).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Field {
    pub field_code: String,
    pub field_name: String,
    /// Kept as text: Pipedrive lists more types than can be created (int, status, stage, ...).
    pub field_type: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub options: Vec<FieldOption>,
    #[serde(default)]
    pub is_custom_field: bool,
}

impl Field {
    /// A single or multiple choice field: the only types whose values are options.
    pub fn has_options(&self) -> bool {
        matches!(self.field_type.as_str(), "enum" | "set")
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct FieldOption {
    /// An integer for custom fields, a string for some built-in ones.
    pub id: Value,
    pub label: String,
}

impl FieldOption {
    pub fn numeric_id(&self) -> Option<u64> {
        self.id.as_u64().or_else(|| self.id.as_str()?.parse().ok())
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct FileRecord {
    pub id: u64,
    pub name: Option<String>,
    pub file_name: Option<String>,
    pub file_size: Option<u64>,
    pub person_id: Option<u64>,
    pub org_id: Option<u64>,
    pub deal_id: Option<u64>,
    pub activity_id: Option<u64>,
}

/// A file to attach to a record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewFile {
    pub file_name: String,
    pub bytes: Vec<u8>,
    pub person_id: Option<u64>,
    pub org_id: Option<u64>,
    pub deal_id: Option<u64>,
    pub activity_id: Option<u64>,
}

/// A relationship between two organizations (API v1): with `kind` "parent", the owner
/// organization is the parent of the linked one (its daughter).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct OrganizationRelationship {
    pub id: u64,
    #[serde(rename = "type")]
    pub kind: String,
    /// The parent, for a parent relationship (the spec sends the organization as an object
    /// whose `value` is its id).
    #[serde(deserialize_with = "organization_id")]
    pub rel_owner_org_id: u64,
    /// The daughter, for a parent relationship.
    #[serde(deserialize_with = "organization_id")]
    pub rel_linked_org_id: u64,
    /// The spec types it as a string ("true"); booleans and 0/1 are read too.
    #[serde(default = "active", deserialize_with = "text_flag")]
    pub active_flag: bool,
}

/// An organization in a relationship: `{"name", ..., "value": id}`, or the bare id.
pub(super) fn organization_id<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    let value = Value::deserialize(deserializer)?;
    value
        .get("value")
        .unwrap_or(&value)
        .as_u64()
        .ok_or_else(|| serde::de::Error::custom(format!("an organization id, got {value}")))
}

/// A flag written as "true"/"false", a boolean or 0/1.
pub(super) fn text_flag<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::String(text) => !matches!(text.as_str(), "false" | "0" | ""),
        Value::Bool(flag) => flag,
        Value::Number(number) => number.as_i64() != Some(0),
        _ => true,
    })
}

/// One hit of `persons/search`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct PersonHit {
    pub id: u64,
    pub name: Option<String>,
    #[serde(default)]
    pub emails: Vec<String>,
    #[serde(default)]
    pub phones: Vec<String>,
}

/// The custom field value by which a created record can be found again (the source record's
/// User.com id in a "User.com ID" field): how a lost write is resolved without a duplicate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    pub field_code: String,
    pub value: String,
}

fn null_as_empty<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// v1 flags come as booleans or as 0/1.
fn flag<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::Bool(flag) => flag,
        Value::Number(number) => number.as_i64() != Some(0),
        _ => false,
    })
}
