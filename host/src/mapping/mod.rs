//! `mapping.toml`: how each User.com attribute, agent, pipeline, stage, deal status and activity
//! type lands in Pipedrive. `plan` proposes it ([`crate::plan`]), a person edits and approves it,
//! `apply` follows it. This module holds the model, the standard Pipedrive fields an attribute may
//! land in, the file's text both ways ([`file`]) and the checks an edit must pass ([`check`]).

pub mod check;
pub mod file;

use serde::{Deserialize, Serialize};

use crate::extract::{FieldType, Target as Reference};
use crate::pipedrive::EntityKind;
use crate::record::ObjectKind;

pub const MAPPING_FILE: &str = "mapping.toml";

/// Entries below this confidence are marked for review.
pub const REVIEW_BELOW: f64 = 0.7;

/// Where the records of a User.com object land.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Destination {
    Person,
    Organization,
    Deal,
    Activity,
    Note,
}

impl Destination {
    pub fn of(kind: ObjectKind) -> Destination {
        match kind {
            ObjectKind::Contact => Destination::Person,
            ObjectKind::Company => Destination::Organization,
            ObjectKind::Deal => Destination::Deal,
            ObjectKind::Activity | ObjectKind::Event => Destination::Activity,
            ObjectKind::Conversation => Destination::Note,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Destination::Person => "person",
            Destination::Organization => "organization",
            Destination::Deal => "deal",
            Destination::Activity => "activity",
            Destination::Note => "note",
        }
    }

    /// The kind whose custom fields the API can create; activities and notes have none.
    pub fn entity(self) -> Option<EntityKind> {
        match self {
            Destination::Person => Some(EntityKind::Person),
            Destination::Organization => Some(EntityKind::Organization),
            Destination::Deal => Some(EntityKind::Deal),
            Destination::Activity | Destination::Note => None,
        }
    }

    pub fn standard_fields(self) -> &'static [Standard] {
        match self {
            Destination::Person => PERSON,
            Destination::Organization => ORGANIZATION,
            Destination::Deal => DEAL,
            Destination::Activity => ACTIVITY,
            Destination::Note => NOTE,
        }
    }

    pub fn standard(self, code: &str) -> Option<&'static Standard> {
        self.standard_fields().iter().find(|standard| standard.code == code)
    }
}

/// A source type, as the checks group them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepts {
    /// Any value, written as text.
    Any,
    Text,
    Email,
    Phone,
    Number,
    Boolean,
    /// A date or a datetime.
    Moment,
    Choices,
    DealStatus,
    Reference(Reference),
}

impl Accepts {
    pub fn admits(self, ty: FieldType) -> bool {
        match self {
            Accepts::Any => ty != FieldType::Secret,
            Accepts::Text => matches!(ty, FieldType::Text | FieldType::Email | FieldType::Phone),
            Accepts::Email => matches!(ty, FieldType::Email | FieldType::Text),
            Accepts::Phone => matches!(ty, FieldType::Phone | FieldType::Text),
            Accepts::Number => matches!(ty, FieldType::Number | FieldType::Integer),
            Accepts::Boolean => ty == FieldType::Boolean,
            Accepts::Moment => matches!(ty, FieldType::Date | FieldType::DateTime),
            Accepts::Choices => matches!(ty, FieldType::Choices | FieldType::Choice),
            Accepts::DealStatus => ty == FieldType::DealStatus,
            Accepts::Reference(target) => ty == FieldType::Reference(target),
        }
    }
}

/// A Pipedrive built-in field (or part of a record) an attribute may land in.
#[derive(Debug)]
pub struct Standard {
    /// As written in `to = "..."`: the v2 API's name for it.
    pub code: &'static str,
    pub label: &'static str,
    pub accepts: Accepts,
    /// Several attributes may land in it, joined (a person's name from first and last name).
    pub shared: bool,
    /// What happens to the value on the way, for the comment and the report.
    pub how: &'static str,
}

const fn standard(
    code: &'static str,
    label: &'static str,
    accepts: Accepts,
    shared: bool,
    how: &'static str,
) -> Standard {
    Standard { code, label, accepts, shared, how }
}

use Accepts as A;

const PERSON: &[Standard] = &[
    // One role, the name: never joined from several columns; [names] says which part wins.
    standard("name", "Name", A::Text, false, "the full name; without one, first and last name (the rule in [names])"),
    standard(
        "first_name",
        "First name",
        A::Text,
        false,
        "with the last name, the name when there is no full name (the rule in [names])",
    ),
    standard(
        "last_name",
        "Last name",
        A::Text,
        false,
        "with the first name, the name when there is no full name (the rule in [names])",
    ),
    standard("emails", "Emails", A::Email, false, "the primary email"),
    standard("phones", "Phones", A::Phone, false, "the primary phone"),
    standard(
        "org_id",
        "Organization",
        A::Reference(Reference::Company),
        false,
        "linked to the organization created from that company",
    ),
    standard("owner_id", "Owner", A::Text, false, "the agent's Pipedrive user, through [owners]"),
    standard("add_time", "Person created", A::Moment, false, "kept as the creation time, in UTC"),
    standard("label", "Labels", A::Choices, false, "tags become labels as the label plugin decides"),
    standard("marketing_status", "Marketing status", A::Boolean, false, "unsubscribed -> unsubscribed, else not set"),
];

const ORGANIZATION: &[Standard] = &[
    standard("name", "Name", A::Text, false, "as is"),
    standard("address", "Address", A::Text, true, "street, city, region and country joined with commas"),
    standard("website", "Website", A::Text, false, "as is"),
    standard("owner_id", "Owner", A::Text, false, "the agent's Pipedrive user, through [owners]"),
    standard("add_time", "Organization created", A::Moment, false, "kept as the creation time, in UTC"),
    standard("label", "Labels", A::Choices, false, "tags become labels as the label plugin decides"),
    standard(
        "parent_org_id",
        "Parent organization",
        A::Reference(Reference::Company),
        false,
        "a parent relationship to the organization created from that company, made once both exist",
    ),
];

const DEAL: &[Standard] = &[
    standard("title", "Title", A::Text, false, "as is"),
    standard("value", "Value", A::Number, false, "with the deal's currency"),
    standard("currency", "Currency", A::Text, false, "ISO 4217 code"),
    standard("status", "Status", A::DealStatus, false, "through [deal_status]"),
    standard("pipeline_id", "Pipeline", A::Reference(Reference::Pipeline), false, "through [pipelines]"),
    standard("stage_id", "Stage", A::Reference(Reference::Stage), false, "through [pipelines.*.stages]"),
    standard(
        "person_id",
        "Contact person",
        A::Reference(Reference::Contact),
        false,
        "linked to the person created from that contact",
    ),
    standard(
        "org_id",
        "Organization",
        A::Reference(Reference::Company),
        false,
        "linked to the organization created from that company",
    ),
    standard("owner_id", "Owner", A::Text, false, "the agent's Pipedrive user, through [owners]"),
    standard("expected_close_date", "Expected close date", A::Moment, false, "the date"),
    standard("won_time", "Won time", A::Moment, false, "in UTC; only sent for won deals"),
    standard("lost_time", "Lost time", A::Moment, false, "in UTC; only sent for lost deals"),
    standard("lost_reason", "Lost reason", A::Text, false, "only sent for lost deals"),
    standard("label", "Labels", A::Choices, false, "tags become labels as the label plugin decides"),
    standard(
        "participants",
        "Participants",
        A::Choices,
        false,
        "each contact's person added as a participant of the deal, after the persons and deals",
    ),
    standard(
        "products",
        "Products",
        A::Text,
        false,
        "each order line a deal product (quantity, price, currency) of a product created once from products.csv",
    ),
];

const ACTIVITY: &[Standard] = &[
    standard("subject", "Subject", A::Text, false, "as is"),
    // An id (often written in digits): any value, looked up in [activity_types].
    standard("type", "Type", A::Any, false, "through [activity_types]"),
    standard("deal_id", "Deal", A::Reference(Reference::Deal), false, "linked to the deal created from that deal"),
    standard(
        "participants",
        "Participants",
        A::Reference(Reference::Contact),
        false,
        "the person, as the primary participant",
    ),
    standard(
        "org_id",
        "Organization",
        A::Reference(Reference::Company),
        false,
        "linked to the organization created from that company",
    ),
    standard("note", "Note", A::Any, true, "appended to the activity's note, one labelled line each"),
    standard("done", "Done", A::Boolean, false, "as is"),
    standard("due_date", "Due date and time", A::Moment, false, "due date and due time, in UTC"),
    standard("duration", "Duration", A::Number, false, "minutes, sent as HH:MM"),
    standard("end_time", "End", A::Moment, false, "the end minus the due time is the duration"),
    standard(
        "attendees",
        "Attendees",
        A::Any,
        false,
        "each email (or contact id): a participant when it is a migrated person's, else an attendee",
    ),
    standard("location", "Location", A::Text, false, "the activity's location"),
    standard("owner_id", "Assigned to user", A::Text, false, "the agent's Pipedrive user, through [owners]"),
];

const NOTE: &[Standard] = &[
    standard("content", "Content", A::Any, true, "the conversation's messages in order, each with its time and author"),
    standard("author_role", "Author's role", A::Text, false, "beside each message: user, agent or bot"),
    standard("author_name", "Author's name", A::Text, false, "beside each message, before its role"),
    standard("channel", "Channel", A::Text, false, "in the note's header"),
    standard(
        "person_id",
        "Person",
        A::Reference(Reference::Contact),
        false,
        "the note is attached to that contact's person",
    ),
    standard("add_time", "Note created", A::Moment, false, "the first message's time, in UTC"),
    standard(
        "conversation",
        "One note per conversation",
        A::Text,
        false,
        "messages with the same conversation id form one note",
    ),
];

/// The type of a custom field the migration creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NewFieldType {
    #[serde(rename = "varchar")]
    Varchar,
    #[serde(rename = "text")]
    Text,
    #[serde(rename = "double")]
    Double,
    #[serde(rename = "monetary")]
    Monetary,
    #[serde(rename = "date")]
    Date,
    /// A date field for filters plus a time field (UTC) beside it.
    #[serde(rename = "date+time")]
    DateTime,
    #[serde(rename = "enum")]
    Enum,
    #[serde(rename = "set")]
    Set,
    #[serde(rename = "phone")]
    Phone,
}

impl NewFieldType {
    pub const ALL: [NewFieldType; 9] = [
        NewFieldType::Varchar,
        NewFieldType::Text,
        NewFieldType::Double,
        NewFieldType::Monetary,
        NewFieldType::Date,
        NewFieldType::DateTime,
        NewFieldType::Enum,
        NewFieldType::Set,
        NewFieldType::Phone,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NewFieldType::Varchar => "varchar",
            NewFieldType::Text => "text",
            NewFieldType::Double => "double",
            NewFieldType::Monetary => "monetary",
            NewFieldType::Date => "date",
            NewFieldType::DateTime => "date+time",
            NewFieldType::Enum => "enum",
            NewFieldType::Set => "set",
            NewFieldType::Phone => "phone",
        }
    }

    pub fn parse(text: &str) -> Option<NewFieldType> {
        NewFieldType::ALL.into_iter().find(|ty| ty.as_str() == text.trim())
    }

    /// What the type accepts, as Pipedrive's own `field_type` would.
    pub fn pipedrive_type(self) -> &'static str {
        match self {
            NewFieldType::DateTime => "date",
            other => other.as_str(),
        }
    }

    pub fn has_options(self) -> bool {
        matches!(self, NewFieldType::Enum | NewFieldType::Set)
    }
}

/// Whether values of a source type can be written into a Pipedrive field of `field_type`
/// (built-in or custom), and if not, what the field holds in words.
pub fn fits(source: FieldType, field_type: &str) -> Result<(), &'static str> {
    let (fits, holds) = match field_type {
        "varchar" | "varchar_auto" | "text" => (source != FieldType::Secret, "text"),
        "double" | "monetary" | "int" => (matches!(source, FieldType::Number | FieldType::Integer), "a number"),
        "date" => (matches!(source, FieldType::Date | FieldType::DateTime), "a date"),
        "time" => (source == FieldType::DateTime, "a time of day"),
        "enum" => (
            matches!(
                source,
                FieldType::Choice
                    | FieldType::Boolean
                    | FieldType::Gender
                    | FieldType::ContactStatus
                    | FieldType::DealStatus
                    | FieldType::Text
            ),
            "one option of a list",
        ),
        "set" => (matches!(source, FieldType::Choices | FieldType::Choice), "options of a list"),
        "phone" => (matches!(source, FieldType::Phone | FieldType::Text), "a phone number"),
        _ => (false, "a kind of value this tool does not write (a link to a user, an organization or a person)"),
    };
    if fits { Ok(()) } else { Err(holds) }
}

/// Where one attribute lands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "to", rename_all = "snake_case")]
pub enum Landing {
    /// A built-in field: `to = "emails"`.
    Standard {
        code: String,
    },
    /// A custom field the account has, by name; `values` maps source values to its option labels
    /// where they are spelled differently.
    Existing {
        field: String,
        values: Vec<(String, String)>,
    },
    /// A custom field the migration creates.
    New {
        field: String,
        ty: NewFieldType,
        options: Vec<String>,
        currency: Option<String>,
    },
    Skip {
        reason: String,
    },
}

/// One attribute of one object, and where it lands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldEntry {
    pub object: ObjectKind,
    pub attribute: String,
    pub landing: Landing,
    /// 0 to 1: how sure the proposal is.
    pub confidence: f64,
    /// Why it was proposed so (name match, value samples, type fit).
    pub why: Vec<String>,
    /// A person's note, kept across re-plans.
    pub note: Option<String>,
    /// What a value that does not fit (does not read as its type, too long, not an option) does.
    #[serde(default)]
    pub on_bad_value: OnBadValue,
    /// Where `to` is in the file it was read from (0: not read from a file).
    #[serde(skip)]
    pub line: usize,
}

/// A field's policy for a value that does not fit: `on_bad_value` in `mapping.toml`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnBadValue {
    /// The field is left empty on a record migrated otherwise, and listed in the quarantine report.
    #[default]
    LeaveEmpty,
    /// The whole record is quarantined, as for a record that cannot be migrated.
    QuarantineRecord,
    /// The field is left empty and its raw text written into the record's note (activities only).
    KeepRawInNote,
}

impl OnBadValue {
    pub const ALL: [OnBadValue; 3] = [OnBadValue::LeaveEmpty, OnBadValue::QuarantineRecord, OnBadValue::KeepRawInNote];

    pub fn as_str(self) -> &'static str {
        match self {
            OnBadValue::LeaveEmpty => "leave-empty",
            OnBadValue::QuarantineRecord => "quarantine-record",
            OnBadValue::KeepRawInNote => "keep-raw-in-note",
        }
    }

    pub fn parse(text: &str) -> Option<OnBadValue> {
        OnBadValue::ALL.into_iter().find(|policy| policy.as_str() == text.trim())
    }
}

impl FieldEntry {
    pub fn key(&self) -> String {
        format!("{}.{}", self.object, self.attribute)
    }

    pub fn needs_review(&self) -> bool {
        self.confidence < REVIEW_BELOW
    }
}

/// A keyed choice of the map (an agent, a deal status, an activity type): source key, target.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    pub source: String,
    pub target: String,
    #[serde(skip)]
    pub line: usize,
}

/// A User.com pipeline and its stages, by Pipedrive name (reused when it exists, else created).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineEntry {
    pub source_id: String,
    pub name: String,
    /// In User.com's order: source stage id -> Pipedrive stage name.
    pub stages: Vec<Choice>,
    #[serde(skip)]
    pub line: usize,
}

/// The whole map.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Mapping {
    /// The email of the Pipedrive user who owns records whose agent has no user.
    pub default_owner: Choice,
    /// Agent email -> Pipedrive user email, or `default`.
    pub agents: Vec<Choice>,
    pub pipelines: Vec<PipelineEntry>,
    /// User.com status word (abandoned, in_progress, won, lost, archived) -> open, won or lost.
    pub deal_status: Vec<Choice>,
    /// User.com activity type id -> Pipedrive activity type (key or name; created when missing).
    pub activity_types: Vec<Choice>,
    /// The Pipedrive activity type User.com events become.
    pub event_activity_type: Choice,
    /// Which of a person's full name and first + last name is their name when both are there.
    #[serde(default)]
    pub names: NamePreference,
    pub fields: Vec<FieldEntry>,
}

/// `[names] prefer`: a person's name is one role; when the export has both a full name and its
/// parts, this says which one is the name (the other is not migrated as the name, and records
/// where they disagree are listed by plan). Either falls back to the other where it is empty.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NamePreference {
    /// The full name column.
    #[default]
    Full,
    /// First name and last name, joined with a space.
    Parts,
}

impl NamePreference {
    pub fn as_str(self) -> &'static str {
        match self {
            NamePreference::Full => "full",
            NamePreference::Parts => "parts",
        }
    }

    pub fn parse(text: &str) -> Option<NamePreference> {
        [NamePreference::Full, NamePreference::Parts].into_iter().find(|preference| preference.as_str() == text.trim())
    }
}

/// The word `default` in `[owners.agents]`: the record goes to the default owner.
pub const DEFAULT_OWNER: &str = "default";

/// User.com's deal statuses, in code order.
pub const DEAL_STATUSES: [&str; 5] = ["abandoned", "in_progress", "won", "lost", "archived"];
/// Pipedrive's deal statuses a migration may set.
pub const PIPEDRIVE_STATUSES: [&str; 3] = ["open", "won", "lost"];

impl Mapping {
    pub fn field(&self, object: ObjectKind, attribute: &str) -> Option<&FieldEntry> {
        self.fields.iter().find(|entry| entry.object == object && entry.attribute == attribute)
    }
}
