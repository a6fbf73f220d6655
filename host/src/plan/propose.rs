//! The proposal: for every attribute of the export, where it should land in Pipedrive (a built-in
//! field, a custom field the account has, a new custom field of the type its values call for, or
//! skip), with a confidence and the reasons; and the rest of the map (agents, pipelines and
//! stages, deal statuses, activity types, events). Decided from the export's profile and the
//! target's workspace alone; a person confirms.

use crate::extract::{FieldType, Origin, columns::normalize_header};
use crate::mapping::{
    Choice, DEAL_STATUSES, DEFAULT_OWNER, Destination, FieldEntry, Landing, Mapping, NamePreference, NewFieldType,
    PipelineEntry, fits,
};
use crate::pipedrive::workspace::{Workspace, same_name};
use crate::profile::{AttributeProfile, ObjectProfile, SourceProfile};
use crate::record::ObjectKind;

/// varchar holds at most this many characters; longer text needs a `text` field.
pub const VARCHAR_MAX: usize = 255;

/// The whole proposal for an export and a workspace.
pub fn propose(profile: &SourceProfile, workspace: &Workspace, default_owner_email: &str) -> Mapping {
    let fields = profile
        .objects
        .iter()
        .flat_map(|object| {
            object.attributes.iter().map(move |attribute| propose_field(object, attribute, profile, workspace))
        })
        .collect();
    Mapping {
        default_owner: Choice {
            source: "default".into(),
            target: default_owner(workspace, default_owner_email),
            line: 0,
        },
        agents: profile
            .agents
            .keys()
            .map(|agent| Choice {
                source: agent.clone(),
                target: workspace.user_by_email(agent).map_or(DEFAULT_OWNER.to_owned(), |user| user.email.clone()),
                line: 0,
            })
            .collect(),
        pipelines: propose_pipelines(profile, workspace),
        deal_status: DEAL_STATUSES
            .iter()
            .map(|word| Choice {
                source: (*word).to_owned(),
                target: match *word {
                    "in_progress" => "open",
                    "won" => "won",
                    _ => "lost",
                }
                .to_owned(),
                line: 0,
            })
            .collect(),
        activity_types: activity_type_ids(profile)
            .into_iter()
            .map(|type_id| Choice {
                target: propose_activity_type(profile, &type_id, workspace).0,
                source: type_id,
                line: 0,
            })
            .collect(),
        event_activity_type: Choice {
            source: "activity_type".into(),
            target: workspace.activity_type("meeting").map_or("Meeting".to_owned(), |kind| kind.key_string.clone()),
            line: 0,
        },
        names: NamePreference::Full,
        fields,
    }
}

/// The configured default owner when it is a user; else the first admin; else the first user.
fn default_owner(workspace: &Workspace, configured: &str) -> String {
    if let Some(user) = workspace.user_by_email(configured) {
        return user.email.clone();
    }
    let active = || workspace.users.iter().filter(|user| user.active_flag);
    active().find(|user| user.is_admin).or_else(|| active().next()).map_or_else(String::new, |user| user.email.clone())
}

fn propose_pipelines(profile: &SourceProfile, workspace: &Workspace) -> Vec<PipelineEntry> {
    profile
        .catalogue
        .pipelines
        .iter()
        .map(|pipeline| {
            let existing = workspace.pipeline(&pipeline.name);
            let mut stages: Vec<_> =
                profile.catalogue.stages.iter().filter(|stage| stage.pipeline_id == pipeline.id).collect();
            stages.sort_by_key(|stage| {
                (stage.order.parse::<i64>().unwrap_or(i64::MAX), stage.id.parse::<i64>().unwrap_or(i64::MAX))
            });
            PipelineEntry {
                source_id: pipeline.id.clone(),
                name: existing.map_or_else(|| pipeline.name.clone(), |existing| existing.name.clone()),
                stages: stages
                    .iter()
                    .map(|stage| Choice {
                        source: stage.id.clone(),
                        target: existing
                            .and_then(|existing| workspace.stage(existing.id, &stage.name))
                            .map_or_else(|| stage.name.clone(), |found| found.name.clone()),
                        line: 0,
                    })
                    .collect(),
                line: 0,
            }
        })
        .collect()
}

/// Words (in Polish and English, as User.com accounts name their types) for Pipedrive's default
/// activity types.
const ACTIVITY_WORDS: &[(&str, &[&str])] = &[
    ("call", &["call", "phone", "telefon", "rozmowa", "zadzwonić", "calls"]),
    ("meeting", &["meeting", "spotkanie", "wizyta", "demo", "prezentacja"]),
    ("task", &["task", "zadanie", "todo", "to-do"]),
    ("email", &["email", "e-mail", "mail", "wiadomość"]),
    ("deadline", &["deadline", "termin"]),
    ("lunch", &["lunch", "obiad"]),
];

/// The activity type ids to map: the catalogue's and those activities use, in that order.
pub fn activity_type_ids(profile: &SourceProfile) -> Vec<String> {
    let mut ids: Vec<String> = profile.catalogue.activity_types.iter().map(|kind| kind.id.clone()).collect();
    for used in profile.activity_types.keys() {
        if !ids.contains(used) {
            ids.push(used.clone());
        }
    }
    ids
}

/// The Pipedrive type a type's name means: one of the account's by name, or a default one by
/// its words (Polish or English).
fn pipedrive_type_named(name: &str, workspace: &Workspace) -> Option<(String, String)> {
    let word = name.trim().to_lowercase();
    if let Some(found) = workspace.activity_type(&word) {
        return Some((found.key_string.clone(), found.name.clone()));
    }
    ACTIVITY_WORDS
        .iter()
        .filter(|(_, words)| words.contains(&word.as_str()))
        .find_map(|(key, _)| workspace.activity_type(key))
        .map(|found| (found.key_string.clone(), found.name.clone()))
}

/// A User.com activity type and the Pipedrive type it becomes: (target, why). The catalogue's
/// name decides (created as a custom type when Pipedrive has none of that name). Without a
/// catalogue entry, the activities' subjects may name one of Pipedrive's types; a type is never
/// created from a subject (a subject is one activity's, not its type's): else `task`.
pub fn propose_activity_type(profile: &SourceProfile, type_id: &str, workspace: &Workspace) -> (String, String) {
    if let Some(kind) =
        profile.catalogue.activity_types.iter().find(|kind| kind.id == type_id && !kind.name.trim().is_empty())
    {
        return match pipedrive_type_named(&kind.name, workspace) {
            Some((key, name)) => (key, format!("\"{}\" in the activity types file is Pipedrive's {name}", kind.name)),
            None => (
                kind.name.trim().to_owned(),
                format!("\"{}\" in the activity types file has no Pipedrive type: created as a custom type", kind.name),
            ),
        };
    }
    let names = profile.activity_types.get(type_id).cloned().unwrap_or_default();
    let Some((name, used)) = names.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))) else {
        return ("task".into(), "not in an activity types file, and no activity of this type has a subject".into());
    };
    let total: u64 = names.values().sum();
    match pipedrive_type_named(name, workspace) {
        Some((key, found)) => (
            key,
            format!(
                "not in an activity types file; the subject \"{name}\" ({used} of {total} activities) means {found}"
            ),
        ),
        None => (
            "task".into(),
            format!(
                "not in an activity types file, and the subject \"{name}\" ({used} of {total} activities) names no Pipedrive type: task (a type is never made from a subject)"
            ),
        ),
    }
}

/// A standard attribute's landing, as the table of User.com -> Pipedrive built-ins has it.
enum Rule {
    Standard(&'static str, &'static str),
    Skip(&'static str),
    /// A custom field, with the reason a built-in does not serve.
    Custom(&'static str),
}

const TECHNICAL: &str = "tracking data of User.com's website widget; it has no meaning in Pipedrive";
const UPDATED: &str = "Pipedrive keeps its own update time, set on every change";

fn rule(kind: ObjectKind, field: &str, workspace: &Workspace) -> Option<Rule> {
    use Rule::*;
    Some(match (kind, field) {
        (ObjectKind::Contact, "name") => {
            Standard("name", "the person's full name: one name per person, never joined with its parts")
        }
        (ObjectKind::Contact, "first_name") => {
            Standard("first_name", "part of the person's name: the name when there is no full name ([names])")
        }
        (ObjectKind::Contact, "last_name") => {
            Standard("last_name", "part of the person's name: the name when there is no full name ([names])")
        }
        (ObjectKind::Contact, "email") => Standard("emails", "User.com's email is the person's primary email"),
        (ObjectKind::Contact, "phone_number") => Standard("phones", "User.com's phone is the person's primary phone"),
        (ObjectKind::Contact | ObjectKind::Deal, "company_id") | (ObjectKind::Activity, "company_id") => {
            Standard("org_id", "links to the company's organization")
        }
        (ObjectKind::Company, "company_id") => return None,
        (ObjectKind::Company, "parent_company_id") => {
            Standard("parent_org_id", "the parent company becomes a parent relationship between the two organizations")
        }
        (ObjectKind::Deal, "participants") => {
            Standard("participants", "each contact a participant of the deal (its person), once both exist")
        }
        (ObjectKind::Deal, "order_products") => {
            Standard("products", "each order line a product of the deal, the product created once from products.csv")
        }
        (ObjectKind::Deal, "products" | "products_custom_ids") => Skip(
            "the deal's bare list of products: its order lines (order_products) move the same products, with quantity and price",
        ),
        (_, "assigned_to") => Standard("owner_id", "the agent becomes the owner"),
        (ObjectKind::Contact | ObjectKind::Company, "created_at") => {
            Standard("add_time", "Pipedrive keeps the original creation time when it is sent on create")
        }
        (ObjectKind::Contact | ObjectKind::Company | ObjectKind::Deal, "tags") => {
            Standard("label", "User.com tags are Pipedrive labels")
        }
        (ObjectKind::Contact, "unsubscribed") if workspace.has_marketing_status() => {
            Standard("marketing_status", "the opt-out is Pipedrive's marketing status (Campaigns)")
        }
        (ObjectKind::Contact, "unsubscribed") => {
            Custom("this account has no Campaigns, so persons have no marketing status; the opt-out is kept in a field")
        }
        (_, "updated_at") => Skip(UPDATED),
        (ObjectKind::Contact, "key" | "fcm_key") => Skip("a secret (cookie or push key): it never leaves User.com"),
        (
            ObjectKind::Contact,
            "web_push_subscription"
            | "notifications"
            | "last_ip"
            | "browser"
            | "browser_language"
            | "os_type"
            | "resolution"
            | "gravatar_url"
            | "page_views",
        ) => Skip(TECHNICAL),
        (ObjectKind::Company, "name") => Standard("name", "the company's name"),
        (ObjectKind::Company, "address" | "city" | "region" | "country") => {
            Standard("address", "Pipedrive keeps one address per organization")
        }
        (ObjectKind::Company, "website") => Standard("website", "the company's website"),
        (ObjectKind::Deal, "name") => Standard("title", "the deal's name is its title"),
        (ObjectKind::Deal, "value") => Standard("value", "the deal's value"),
        (ObjectKind::Deal, "currency") => Standard("currency", "the deal's currency"),
        (ObjectKind::Deal, "status") => Standard("status", "User.com's five statuses map to open, won, lost"),
        (ObjectKind::Deal, "pipeline_id") => Standard("pipeline_id", "the deal's pipeline"),
        (ObjectKind::Deal, "stage_id") => Standard("stage_id", "the deal's stage"),
        (ObjectKind::Deal, "contact_id") => Standard("person_id", "links to the contact's person"),
        (ObjectKind::Deal, "expected_close_date") => Standard("expected_close_date", "the expected close date"),
        (ObjectKind::Deal, "won_at") => Standard("won_time", "the time the deal was won"),
        (ObjectKind::Deal, "lost_at") => Standard("lost_time", "the time the deal was lost"),
        (ObjectKind::Deal, "loss_reason") => Standard("lost_reason", "why the deal was lost"),
        (ObjectKind::Deal, "created_at") => Custom(
            "Pipedrive's v2 API does not accept add_time on deals, so the original creation time is kept in a field",
        ),
        (ObjectKind::Deal, "activities_status") => Skip("User.com's activity summary; Pipedrive computes its own"),
        (ObjectKind::Activity, "name") | (ObjectKind::Event, "name") => Standard("subject", "the activity's subject"),
        (ObjectKind::Activity, "activity_type") => Standard("type", "the activity's type"),
        (ObjectKind::Activity, "deal_id") => Standard("deal_id", "links to the deal"),
        (ObjectKind::Activity | ObjectKind::Event, "contact_id") => {
            Standard("participants", "the contact's person is the primary participant")
        }
        (ObjectKind::Activity, "description") | (ObjectKind::Event, "data") => {
            Standard("note", "kept in the activity's note")
        }
        (ObjectKind::Activity, "done") => Standard("done", "whether it is done"),
        (ObjectKind::Activity, "due_date") | (ObjectKind::Event, "start" | "timestamp") => {
            Standard("due_date", "when it happens")
        }
        (ObjectKind::Event, "end") => Standard("end_time", "when it ends: the end minus the start is the duration"),
        (ObjectKind::Event, "attendees") => {
            Standard("attendees", "who takes part: migrated persons as participants, other emails as attendees")
        }
        (ObjectKind::Event, "location") => Standard("location", "where it happens"),
        (ObjectKind::Activity, "duration") => Standard("duration", "how long it takes"),
        (ObjectKind::Activity, "done_date") => {
            Skip("Pipedrive records when an activity is marked done; the API cannot set it")
        }
        (ObjectKind::Activity, "created_at" | "created_by") => {
            Standard("note", "the API cannot set an activity's creation time or creator; kept in the note")
        }
        (ObjectKind::Conversation, "content") => Standard("content", "each conversation becomes one note"),
        (ObjectKind::Conversation, "sender") => {
            Standard("author_role", "each message shows its author's role (user, agent, bot)")
        }
        (ObjectKind::Conversation, "author_name") => Standard("author_name", "each message shows its author's name"),
        (ObjectKind::Conversation, "source") => Standard("channel", "the note's header names the channel"),
        (ObjectKind::Conversation, "contact_id") => {
            Standard("person_id", "the note is attached to the contact's person")
        }
        (ObjectKind::Conversation, "timestamp") => Standard("add_time", "notes keep their original time"),
        (ObjectKind::Conversation, "conversation_id") => {
            Standard("conversation", "messages of one conversation form one note")
        }
        (ObjectKind::Activity | ObjectKind::Event | ObjectKind::Conversation, _) => Standard(
            if kind == ObjectKind::Conversation { "content" } else { "note" },
            "activities and notes have no custom fields the API can fill; kept in the text",
        ),
        _ => return None,
    })
}

/// Roles that depend on the other columns of the file: an event's recorded time is its time
/// only without a start; a column whose values are all the activity types file's ids is the
/// activity's type (a link found by its values).
fn role_rule(object: &ObjectProfile, attribute: &AttributeProfile, profile: &SourceProfile) -> Option<Rule> {
    match (object.kind, attribute.field()) {
        (ObjectKind::Event, "timestamp") if object.attribute("start").is_some() => {
            Some(Rule::Standard("note", "when the event was recorded; its time is the start column"))
        }
        (ObjectKind::Activity, _)
            if matches!(attribute.column.origin, Origin::Inferred { .. })
                && object.attribute("activity_type").is_none()
                && !profile.catalogue.activity_types.is_empty()
                && !attribute.distinct.is_empty()
                && !attribute.distinct_overflow
                && attribute
                    .distinct
                    .keys()
                    .all(|value| profile.catalogue.activity_types.iter().any(|kind| kind.id == *value)) =>
        {
            Some(Rule::Standard("type", "every value is an id of the activity types file: the activity's type"))
        }
        _ => None,
    }
}

fn entry(
    object: &ObjectProfile,
    attribute: &AttributeProfile,
    landing: Landing,
    confidence: f64,
    why: Vec<String>,
) -> FieldEntry {
    FieldEntry {
        object: object.kind,
        attribute: attribute.field().to_owned(),
        landing,
        confidence: confidence.clamp(0.0, 1.0),
        why,
        note: None,
        on_bad_value: Default::default(),
        line: 0,
    }
}

/// How full an attribute is, for the reasons.
fn fill(object: &ObjectProfile, attribute: &AttributeProfile) -> String {
    let mut text = format!("{} of {} records have a value", attribute.filled, object.records);
    if let Some(sample) = attribute.samples.first().filter(|_| attribute.column.ty != FieldType::Secret) {
        text.push_str(&format!(", e.g. '{sample}'"));
    }
    text
}

/// The reason for events dated after the export, with the first of them.
pub(crate) fn future_events(ids: &[String]) -> String {
    let shown: Vec<String> = ids.iter().take(5).map(|id| crate::untrusted::escape(id).into_owned()).collect();
    let more = if ids.len() > shown.len() { format!(" and {} more", ids.len() - shown.len()) } else { String::new() };
    format!(
        "{} events are dated after the export was taken (events {}{more}): an event is something that happened, \
         so they are not marked done, and the time is a bad value (on_bad_value; listed in reports/quarantine.csv)",
        ids.len(),
        shown.join(", ")
    )
}

fn propose_field(
    object: &ObjectProfile,
    attribute: &AttributeProfile,
    profile: &SourceProfile,
    workspace: &Workspace,
) -> FieldEntry {
    let ty = attribute.column.ty;
    let mut why = Vec::new();
    let mut confidence: f64 = 0.95;
    let future = attribute.after_export.len() as u64;
    if attribute.unparsed > future {
        why.push(format!(
            "{} values do not read as {} and will be quarantined at apply (see the audit)",
            attribute.unparsed - future,
            ty.name()
        ));
        confidence -= 0.15;
    }
    if future > 0 {
        why.push(future_events(&attribute.after_export));
        confidence -= 0.15;
    }
    let by_role = role_rule(object, attribute, profile);
    // A column whose header names nothing, given a role by its values.
    let found_by_values = by_role.is_some() && matches!(attribute.column.origin, Origin::Inferred { .. });
    let custom_reason = match by_role.or_else(|| rule(object.kind, attribute.field(), workspace)) {
        Some(Rule::Standard(code, reason)) => {
            debug_assert!(Destination::of(object.kind).standard(code).is_some(), "the rules name only standard fields");
            why.insert(0, format!("standard attribute: {reason}"));
            match &attribute.column.origin {
                Origin::Standard => why.push(format!("column '{}' names it", attribute.column.header)),
                Origin::Values { sampled, reason, candidates } => {
                    why.push(format!(
                        "column '{}' does not name it; found from its values: {reason} ({sampled} sampled)",
                        attribute.column.header
                    ));
                    confidence = confidence.min(0.75);
                    if *candidates > 1 {
                        why.push(format!("{candidates} columns fit, the first was taken: check which one it is"));
                        confidence = confidence.min(0.5);
                    }
                }
                Origin::Inferred { .. } if found_by_values => {
                    why.push(format!("column '{}' does not name it; found from its values", attribute.column.header));
                    confidence = confidence.min(0.75);
                }
                Origin::Inferred { .. } | Origin::Definition { .. } => {}
            }
            if attribute.filled < object.records {
                why.push(fill(object, attribute));
            }
            return entry(object, attribute, Landing::Standard { code: code.into() }, confidence, why);
        }
        Some(Rule::Skip(reason)) => {
            return entry(
                object,
                attribute,
                Landing::Skip { reason: reason.into() },
                0.9,
                vec![fill(object, attribute)],
            );
        }
        Some(Rule::Custom(reason)) => Some(reason),
        None => None,
    };
    if ty == FieldType::Secret {
        return entry(
            object,
            attribute,
            Landing::Skip { reason: "a secret: it never leaves User.com".into() },
            1.0,
            Vec::new(),
        );
    }
    if attribute.filled == 0 {
        return entry(
            object,
            attribute,
            Landing::Skip { reason: "no record has a value".into() },
            0.8,
            vec![format!("all {} records are empty", object.records)],
        );
    }
    let entity =
        Destination::of(object.kind).entity().expect("activities, events and conversations always have a rule");
    if let Some(reason) = custom_reason {
        why.push(reason.to_owned());
    }
    match &attribute.column.origin {
        Origin::Standard | Origin::Values { .. } => why.push(format!("User.com attribute {}", attribute.field())),
        Origin::Definition { attribute_id, .. } => {
            why.push(format!("custom attribute {attribute_id} of attributes.csv, type {}", ty.name()))
        }
        Origin::Inferred { sampled } => {
            why.push(format!("not in attributes.csv: type {} inferred from {sampled} values", ty.name()));
            confidence -= 0.15;
        }
    }
    why.push(fill(object, attribute));
    let name = field_name(object.kind, attribute);
    // A custom field the account already has, by name.
    let existing = [name.as_str(), attribute.column.header.as_str(), attribute.field()].iter().find_map(|candidate| {
        workspace.fields(entity).iter().find(|field| {
            field.is_custom_field
                && (same_name(&field.field_name, candidate)
                    || normalize_header(&field.field_name) == normalize_header(candidate))
        })
    });
    if let Some(existing) = existing {
        match fits(ty, &existing.field_type) {
            Ok(()) => {
                why.insert(
                    0,
                    format!("name match: Pipedrive's custom field '{}' ({})", existing.field_name, existing.field_type),
                );
                // Only a choice field's values are options; a number or text field takes any value.
                let missing = match existing.has_options() {
                    true => missing_options(attribute, existing.options.iter().map(|option| option.label.as_str())),
                    false => Vec::new(),
                };
                if !missing.is_empty() {
                    why.push(format!("options to add: {}", missing.join(", ")));
                    confidence -= 0.1;
                }
                return entry(
                    object,
                    attribute,
                    Landing::Existing { field: existing.field_name.clone(), values: Vec::new() },
                    confidence,
                    why,
                );
            }
            Err(holds) => {
                why.push(format!(
                    "Pipedrive's '{}' has the same name but holds {holds}; a new field is proposed",
                    existing.field_name
                ));
                confidence -= 0.3;
            }
        }
    }
    let (landing, type_why, type_confidence) = new_field(attribute, profile, name);
    why.insert(0, type_why);
    entry(object, attribute, landing, confidence.min(type_confidence), why)
}

/// Values of a choice attribute that a list of option labels lacks.
fn missing_options<'a>(attribute: &AttributeProfile, labels: impl Iterator<Item = &'a str> + Clone) -> Vec<String> {
    attribute.distinct.keys().filter(|value| !labels.clone().any(|label| same_name(label, value))).cloned().collect()
}

/// The name a new field gets: for User.com's own attributes a name that says where it came
/// from; else the definition's name or the header, made readable.
fn field_name(kind: ObjectKind, attribute: &AttributeProfile) -> String {
    let named = match (kind, attribute.field()) {
        (ObjectKind::Contact, "user_id") => Some("User.com custom ID"),
        (ObjectKind::Contact, "status") => Some("User.com status"),
        (ObjectKind::Contact, "unsubscribed") => Some("Unsubscribed (User.com)"),
        (_, "custom_id") => Some("User.com custom ID"),
        (ObjectKind::Deal, "created_at") => Some("Created in User.com"),
        _ => None,
    };
    if let Some(named) = named {
        return named.to_owned();
    }
    // The same attribute gets the same field whatever its header's spelling: a defined one is
    // named as User.com names it, a standard one after its role; only an undefined column has
    // nothing but its header.
    let header = attribute.column.header.trim();
    let base = match &attribute.column.origin {
        Origin::Definition { name, .. } if !name.is_empty() => name.as_str(),
        Origin::Standard => attribute.field(),
        _ if header.is_empty() => attribute.field(),
        _ => header,
    };
    if base.chars().any(|c| c.is_uppercase() || c == ' ') {
        return base.to_owned();
    }
    let spaced = base.replace('_', " ");
    let mut chars = spaced.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

const MONEY_WORDS: &[&str] = &[
    "value",
    "revenue",
    "price",
    "amount",
    "ltv",
    "spent",
    "spend",
    "cost",
    "budget",
    "salary",
    "income",
    "wartosc",
    "wartość",
    "kwota",
    "przychod",
    "przychód",
];
const IDENTIFIER_WORDS: &[&str] = &[
    "nip", "regon", "krs", "pesel", "vat", "tax", "iban", "zip", "postal", "postcode", "code", "id", "number", "nr",
    "ean", "sku",
];

fn words(name: &str) -> Vec<String> {
    normalize_header(name).split('_').map(str::to_owned).collect()
}

/// A new custom field for an attribute: its landing, why that type, and how sure.
fn new_field(attribute: &AttributeProfile, profile: &SourceProfile, name: String) -> (Landing, String, f64) {
    let new = |ty: NewFieldType, options: Vec<String>, currency: Option<String>| Landing::New {
        field: name.clone(),
        ty,
        options,
        currency,
    };
    let words = words(&format!("{} {}", attribute.column.header, attribute.field()));
    let has_word = |list: &[&str]| words.iter().any(|word| list.contains(&word.as_str()));
    match attribute.column.ty {
        FieldType::Text | FieldType::Email | FieldType::Reference(_) | FieldType::Id | FieldType::Secret => {
            if attribute.max_chars > VARCHAR_MAX {
                (
                    new(NewFieldType::Text, vec![], None),
                    format!(
                        "text: the longest value has {} characters, more than varchar's {VARCHAR_MAX}",
                        attribute.max_chars
                    ),
                    0.9,
                )
            } else {
                (
                    new(NewFieldType::Varchar, vec![], None),
                    format!(
                        "varchar: text, the longest value {} characters (varchar holds {VARCHAR_MAX})",
                        attribute.max_chars
                    ),
                    0.9,
                )
            }
        }
        FieldType::Phone => (new(NewFieldType::Phone, vec![], None), "phone: the values are phone numbers".into(), 0.9),
        FieldType::Number | FieldType::Integer => {
            let big_whole = attribute.fractional == 0
                && attribute.distinct.keys().all(|value| value.parse::<f64>().is_ok_and(|n| n.abs() >= 1e8));
            // A type the definitions give is the type: the name heuristics decide undefined columns only.
            let defined = matches!(attribute.column.origin, Origin::Definition { .. });
            if !defined && (has_word(IDENTIFIER_WORDS) || (big_whole && !attribute.distinct.is_empty())) {
                (
                    new(NewFieldType::Varchar, vec![], None),
                    "varchar: an identifier written in digits (a number field would drop leading zeros and show 1,234,567,890)".into(),
                    0.7,
                )
            } else if has_word(MONEY_WORDS) {
                let currency = profile.main_currency().unwrap_or("EUR").to_owned();
                let deals = profile.currencies.get(&currency).copied().unwrap_or(0);
                let why = if deals > 0 {
                    format!(
                        "monetary: the name says money; in {currency}, the currency of most deals ({deals} of {})",
                        profile.currencies.values().sum::<u64>()
                    )
                } else {
                    format!("monetary: the name says money; the export names no currency, {currency} assumed")
                };
                (new(NewFieldType::Monetary, vec![], Some(currency)), why, 0.6)
            } else {
                let kind = if attribute.column.ty == FieldType::Integer || attribute.fractional == 0 {
                    "whole numbers"
                } else {
                    "numbers"
                };
                (new(NewFieldType::Double, vec![], None), format!("double: the values are {kind}"), 0.9)
            }
        }
        FieldType::Boolean => (
            new(NewFieldType::Enum, vec!["Yes".into(), "No".into()], None),
            "enum Yes/No: Pipedrive has no boolean custom field".into(),
            0.85,
        ),
        FieldType::Date => (new(NewFieldType::Date, vec![], None), "date: the values are dates".into(), 0.95),
        FieldType::DateTime if attribute.with_time == 0 => (
            new(NewFieldType::Date, vec![], None),
            format!("date: all {} values are at midnight, so a date field loses nothing", attribute.filled),
            0.9,
        ),
        FieldType::DateTime => (
            new(NewFieldType::DateTime, vec![], None),
            format!(
                "date+time: {} of {} values carry a time of day; a date field (which Pipedrive's filters use) plus a time field in UTC keeps both (varchar would keep the text but could not be filtered by date)",
                attribute.with_time, attribute.filled
            ),
            0.75,
        ),
        FieldType::Choice | FieldType::Choices => {
            let ty = if attribute.column.ty == FieldType::Choices { NewFieldType::Set } else { NewFieldType::Enum };
            let mut options = attribute.column.options.clone();
            for observed in attribute.options_by_use() {
                if !options.iter().any(|option| same_name(option, &observed)) {
                    options.push(observed);
                }
            }
            if attribute.distinct_overflow {
                return (
                    new(NewFieldType::Varchar, vec![], None),
                    format!(
                        "varchar: more than {} different values, too many for a list",
                        crate::profile::DISTINCT_CAP
                    ),
                    0.6,
                );
            }
            let undefined: Vec<String> = options[attribute.column.options.len()..].to_vec();
            let listed = match (attribute.column.options.is_empty(), undefined.is_empty()) {
                (true, _) => "options as observed".to_owned(),
                (false, true) => "options as defined in attributes.csv".to_owned(),
                (false, false) => format!(
                    "options as defined, plus {} found in the data but not in attributes.csv",
                    undefined.iter().map(|option| format!("'{option}'")).collect::<Vec<_>>().join(", ")
                ),
            };
            (
                new(ty, options, None),
                format!(
                    "{}: {} choice, {listed}",
                    ty.as_str(),
                    if ty == NewFieldType::Set { "multiple" } else { "single" }
                ),
                if undefined.is_empty() { 0.9 } else { 0.65 },
            )
        }
        FieldType::Gender => (
            new(NewFieldType::Enum, vec!["Unknown".into(), "Male".into(), "Female".into()], None),
            "enum: User.com's gender codes".into(),
            0.9,
        ),
        FieldType::ContactStatus => (
            new(NewFieldType::Enum, vec!["Visitor".into(), "User".into()], None),
            "enum: User.com's contact status (visitor or user)".into(),
            0.8,
        ),
        FieldType::DealStatus => (
            new(NewFieldType::Enum, DEAL_STATUSES.iter().map(|word| word.to_string()).collect(), None),
            "enum: User.com's deal status".into(),
            0.8,
        ),
    }
}
