//! From a record to what Pipedrive is sent, by the approved mapping: each mapped attribute
//! converted to its target field's type, links resolved through the ids of records created
//! before, owners and labels through the workspace's ids. A value that does not fit its field (it
//! did not read as its type, text too long for the field, an option the field lacks) is handled
//! by its entry's `on_bad_value`: by default the field is left out of an otherwise migrated
//! record and listed ([`LeftOut`]). A record that cannot be migrated at all (a note without its
//! person, a field whose policy is quarantine-record) is not sent: the error is the reason it is
//! quarantined with.

use std::collections::HashMap;

use crate::extract::Issue;
use crate::mapping::{Accepts, Destination, Landing, Mapping, NamePreference, OnBadValue};
use crate::pipedrive::{
    Attendee, ContactPoint, CustomValue, CustomValues, DealStatus, EntityKind, Location, NewActivity, NewDeal, NewNote,
    NewOrganization, NewPerson, Participant,
};
use crate::profile::plain;
use crate::record::{DateTime, ObjectKind, Record, Value};

use super::ids::IdMap;
use super::workspace::{CustomTarget, Targets};
use crate::source::domain;

/// varchar's limit in Pipedrive.
const VARCHAR_MAX: usize = 255;

/// Ids of what was created before, for links.
#[derive(Debug, Default)]
pub struct Links {
    /// User.com company id -> organization id.
    pub organizations: IdMap<u64>,
    /// Email or website domain -> organization id, for contacts whose company id does not link.
    pub organizations_by_domain: HashMap<String, u64>,
    /// User.com contact id (a survivor's) -> person id.
    pub persons: IdMap<u64>,
    /// User.com deal id -> deal id.
    pub deals: IdMap<u64>,
    /// Contact merged away -> its survivor.
    pub survivors: HashMap<String, String>,
    /// The export's contacts with an email, for meeting attendees and the authors of messages.
    pub contacts: Contacts,
}

/// The export's contacts with an email, looked up in the run's spool (a map of every contact's
/// email and name was a run's largest holding after its records).
#[derive(Debug, Default)]
pub struct Contacts {
    spool: Option<std::sync::Arc<crate::source::Spool>>,
    /// The first lookup that failed: a phase reports it after its chunk (a lookup answers
    /// "not found" meanwhile).
    failed: std::sync::Mutex<Option<crate::source::SpoolError>>,
}

impl Contacts {
    pub fn of(source: &crate::source::Source) -> Contacts {
        Contacts { spool: Some(source.spool.clone()), failed: Default::default() }
    }

    fn answer<T: Default>(&self, lookup: Result<T, crate::source::SpoolError>) -> T {
        lookup.unwrap_or_else(|error| {
            self.failed.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).get_or_insert(error);
            T::default()
        })
    }

    /// (email, name) of a contact that has an email.
    pub fn get(&self, contact_id: &str) -> Option<(String, String)> {
        let spool = self.spool.as_ref()?;
        let found = self.answer(spool.by_ids(ObjectKind::Contact, &[contact_id.to_owned()]));
        let (_, contact) = found.into_iter().next_back()?;
        let text = |field: &str| match contact.record.get(field) {
            Some(Value::Text(text)) => text.trim().to_owned(),
            _ => String::new(),
        };
        let email = text("email");
        if email.is_empty() {
            return None;
        }
        let parts = [text("first_name"), text("last_name")]
            .into_iter()
            .filter(|part| !part.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let name = Some(text("name")).filter(|name| !name.is_empty()).unwrap_or(parts);
        Some((email, name))
    }

    /// The contacts with this email, by id.
    fn with_email(&self, email: &str) -> Vec<String> {
        self.spool.as_ref().map(|spool| self.answer(spool.contacts_with_email(email))).unwrap_or_default()
    }

    /// A lookup that failed since the last call.
    pub fn failure(&self) -> Result<(), crate::source::SpoolError> {
        match self.failed.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

impl Links {
    pub fn person(&self, contact_id: &str) -> Option<u64> {
        self.persons.get(crate::source::survivor(&self.survivors, contact_id)).copied()
    }

    /// The contact an email address is: the one contact that has it, or `preferred` when it is
    /// one of several that share it (duplicates not merged); none when that is still ambiguous.
    pub fn contact_by_email(&self, email: &str, preferred: Option<&str>) -> Option<String> {
        match self.contacts.with_email(email).as_slice() {
            [] => None,
            [only] => Some(only.clone()),
            several => several.iter().find(|id| Some(id.as_str()) == preferred).cloned(),
        }
    }
}

/// An instant in UTC, RFC 3339 (`2024-03-01T09:30:00Z`), as API v2 takes times.
pub fn utc(value: &DateTime) -> String {
    DateTime { unix_millis: value.unix_millis, offset_minutes: 0 }.to_string()
}

/// (date, time of day) in UTC.
fn utc_parts(value: &Value) -> Option<(String, Option<String>)> {
    match value {
        Value::DateTime(datetime) => {
            let text = utc(datetime);
            Some((text[..10].to_owned(), Some(text[11..19].to_owned())))
        }
        Value::Date(date) => Some((date.to_string(), None)),
        _ => None,
    }
}

/// Text from User.com as HTML, marker-like text neutralized (see `crate::marker`).
fn escape(text: &str) -> String {
    crate::marker::escape_html(text)
}

/// A value a record is migrated without: it did not fit its field, and the field's policy is to
/// leave it empty (or to keep its raw text in the record's note).
#[derive(Debug, Clone, PartialEq)]
pub struct LeftOut {
    pub attribute: String,
    /// The extract's finding, when the value did not read as its column's type: its file, line
    /// and column as written.
    pub issue: Option<Issue>,
    /// The value as the export has it.
    pub value: String,
    pub why: String,
    /// The raw text went into the record's note (`keep-raw-in-note`).
    pub in_note: bool,
}

/// What a record's mapped attributes give: built-in fields by code (several for a shared one),
/// custom values, and the values left out.
struct Mapped<'a> {
    /// (code, attribute, value), in the mapping's order.
    standard: Vec<(&'a str, &'a str, &'a Value)>,
    custom: CustomValues,
    left_out: Vec<LeftOut>,
}

impl<'a> Mapped<'a> {
    fn get(&self, code: &str) -> Option<&'a Value> {
        self.standard.iter().find(|(c, _, _)| *c == code).map(|(_, _, value)| *value)
    }

    fn all(&self, code: &str) -> Vec<&'a Value> {
        self.standard.iter().filter(|(c, _, _)| *c == code).map(|(_, _, value)| *value).collect()
    }

    /// An attribute's value, when it is mapped to a built-in field (not skipped).
    fn attribute(&self, attribute: &str) -> Option<String> {
        self.standard
            .iter()
            .find(|(_, a, _)| *a == attribute)
            .map(|(_, _, value)| plain(value))
            .filter(|text| !text.trim().is_empty())
    }

    fn text(&self, code: &str) -> Option<String> {
        self.get(code).map(plain).map(|text| text.trim().to_owned()).filter(|text| !text.is_empty())
    }

    /// Paragraphs for the note of the values whose policy keeps them there.
    fn kept_in_note(&self) -> impl Iterator<Item = String> + '_ {
        self.left_out.iter().filter(|left| left.in_note).map(|left| {
            format!(
                "<p>{} (not migrated to its field: {}): {}</p>",
                escape(&left.attribute),
                escape(&left.why),
                escape(&left.value)
            )
        })
    }
}

/// A record's mapped attributes. A value that does not fit is left out, kept in the note or
/// quarantines the record, as its entry's `on_bad_value` says; the error is that reason.
fn map_record<'a>(
    record: &'a Record,
    mapping: &'a Mapping,
    targets: &Targets,
    issues: &[Issue],
) -> Result<Mapped<'a>, String> {
    let mut mapped = Mapped { standard: Vec::new(), custom: CustomValues::new(), left_out: Vec::new() };
    let destination = Destination::of(record.kind);
    for entry in mapping.fields.iter().filter(|entry| entry.object == record.kind) {
        let Some(value) = record.get(&entry.attribute).filter(|value| !matches!(value, Value::Null)) else { continue };
        // A field that takes any text (a note) takes a value that did not read as its type too.
        let takes_any = matches!(&entry.landing, Landing::Standard { code } if destination.standard(code).is_some_and(|standard| standard.accepts == Accepts::Any));
        let issue = issues.iter().find(|issue| issue.field == entry.attribute).filter(|_| !takes_any);
        let refused = match (&entry.landing, issue) {
            (Landing::Skip { .. }, _) => continue,
            (_, Some(issue)) => format!("expected {}", issue.expected),
            (Landing::Standard { code }, None) => {
                mapped.standard.push((code.as_str(), entry.attribute.as_str(), value));
                continue;
            }
            (Landing::Existing { .. } | Landing::New { .. }, None) => {
                let target = targets
                    .fields
                    .get(&(record.kind, entry.attribute.clone()))
                    .ok_or_else(|| format!("no Pipedrive field for {}", entry.key()))?;
                match custom_values(target, value) {
                    Ok(values) => {
                        mapped.custom.extend(values);
                        continue;
                    }
                    Err(reason) => reason,
                }
            }
        };
        match entry.on_bad_value {
            OnBadValue::QuarantineRecord => {
                return Err(issue.map_or_else(|| format!("{}: {refused}", entry.attribute), |issue| format!("{issue}")));
            }
            policy => mapped.left_out.push(LeftOut {
                attribute: entry.attribute.clone(),
                issue: issue.cloned(),
                value: issue.map_or_else(|| plain(value), |issue| issue.value.clone()),
                why: refused,
                in_note: policy == OnBadValue::KeepRawInNote,
            }),
        }
    }
    Ok(mapped)
}

/// The values a record is migrated without (none when it is not migrated at all).
pub fn left_out(record: &Record, mapping: &Mapping, targets: &Targets, issues: &[Issue]) -> Vec<LeftOut> {
    map_record(record, mapping, targets, issues).map(|mapped| mapped.left_out).unwrap_or_default()
}

/// A value in the shape its custom field takes (a date+time field gives two).
pub fn custom_values(target: &CustomTarget, value: &Value) -> Result<Vec<(String, CustomValue)>, String> {
    let text = plain(value);
    let one = |custom| Ok(vec![(target.code.clone(), custom)]);
    match target.field_type.as_str() {
        "varchar" | "varchar_auto" | "phone" => {
            let length = text.chars().count();
            if length > VARCHAR_MAX {
                return Err(format!(
                    "{length} characters, more than the {VARCHAR_MAX} a {} field holds",
                    target.field_type
                ));
            }
            one(CustomValue::Text(text))
        }
        "text" => one(CustomValue::Text(text)),
        "double" => match value {
            Value::Number(number) => one(CustomValue::Number(*number)),
            _ => Err(format!("'{text}' is not a number")),
        },
        "monetary" => match value {
            Value::Number(amount) => one(CustomValue::Money {
                amount: *amount,
                currency: target.currency.clone().unwrap_or_else(|| "EUR".into()),
            }),
            _ => Err(format!("'{text}' is not an amount")),
        },
        "date" => {
            let (date, time) = utc_parts(value).ok_or_else(|| format!("'{text}' is not a date"))?;
            let mut values = vec![(target.code.clone(), CustomValue::Date(date))];
            if let (Some(code), Some(time)) = (&target.time_code, time) {
                values.push((code.clone(), CustomValue::Text(time)));
            }
            Ok(values)
        }
        "time" => match utc_parts(value) {
            Some((_, Some(time))) => one(CustomValue::Text(time)),
            _ => Err(format!("'{text}' has no time of day")),
        },
        "enum" => target
            .option(&text)
            .map(CustomValue::Option)
            .map_or_else(|| Err(format!("'{text}' is not an option of the field")), one),
        "set" => {
            let choices: Vec<String> = match value {
                Value::Choices(choices) => choices.clone(),
                _ => vec![text.clone()],
            };
            let mut ids = Vec::new();
            for choice in &choices {
                ids.push(target.option(choice).ok_or_else(|| format!("'{choice}' is not an option of the field"))?);
            }
            if ids.is_empty() { Ok(Vec::new()) } else { one(CustomValue::Options(ids)) }
        }
        other => Err(format!("this tool does not write {other} fields")),
    }
}

fn with_marker(mut custom: CustomValues, targets: &Targets, entity: EntityKind, source_id: &str) -> CustomValues {
    if let Some(code) = targets.markers.get(&entity) {
        custom.insert(code.clone(), CustomValue::Text(targets.marking.field_value(source_id)));
    }
    custom
}

fn tags(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Choices(tags)) => tags.clone(),
        _ => Vec::new(),
    }
}

pub fn organization(
    record: &Record,
    mapping: &Mapping,
    targets: &Targets,
    issues: &[Issue],
) -> Result<NewOrganization, String> {
    let mapped = map_record(record, mapping, targets, issues)?;
    let address: Vec<String> = mapped
        .all("address")
        .into_iter()
        .map(plain)
        .map(|part| part.trim().to_owned())
        .filter(|part| !part.is_empty())
        .collect();
    Ok(NewOrganization {
        name: mapped.text("name").unwrap_or_else(|| format!("User.com company {}", record.source_id)),
        owner_id: Some(targets.owner(mapped.text("owner_id").as_deref())),
        address: (!address.is_empty()).then(|| address.join(", ")),
        website: mapped.text("website"),
        label_ids: targets.label_ids(EntityKind::Organization, &tags(mapped.get("label"))),
        add_time: mapped
            .get("add_time")
            .and_then(utc_parts)
            .map(|(date, time)| format!("{date}T{}Z", time.unwrap_or_else(|| "00:00:00".into()))),
        visible_to: None,
        custom_fields: with_marker(mapped.custom, targets, EntityKind::Organization, &record.source_id),
    })
}

/// A person, and how its organization was found when not by company id.
pub fn person(
    record: &Record,
    mapping: &Mapping,
    targets: &Targets,
    issues: &[Issue],
    links: &Links,
) -> Result<(NewPerson, Option<String>), String> {
    let mapped = map_record(record, mapping, targets, issues)?;
    // One name: the full name or its parts, as [names] says, never both joined.
    let full = mapped.text("name");
    let parts: Vec<String> = ["first_name", "last_name"].into_iter().filter_map(|code| mapped.text(code)).collect();
    let parts = (!parts.is_empty()).then(|| parts.join(" "));
    let name = match mapping.names {
        NamePreference::Full => full.or(parts),
        NamePreference::Parts => parts.or(full),
    };
    let email = mapped.text("emails");
    let phone = mapped.text("phones");
    let name = name
        .or_else(|| email.clone())
        .or_else(|| phone.clone())
        .unwrap_or_else(|| format!("User.com contact {}", record.source_id));
    let mut fallback = None;
    let org_id = match mapped.text("org_id") {
        Some(company) if links.organizations.contains(&company) => links.organizations.get(&company).copied(),
        company => {
            let by_domain = email
                .as_deref()
                .and_then(domain)
                .and_then(|domain| links.organizations_by_domain.get(&domain).map(|id| (domain, *id)));
            by_domain.map(|(domain, id)| {
                let why = match company {
                    Some(company) => format!("company {company} was not migrated"),
                    None => "no company id".to_owned(),
                };
                fallback = Some(format!("linked to organization {id} by the email domain {domain} ({why})"));
                id
            })
        }
    };
    let marketing_status = match mapped.get("marketing_status") {
        Some(Value::Boolean(true)) => Some("unsubscribed".to_owned()),
        _ => None,
    };
    let person = NewPerson {
        name,
        owner_id: Some(targets.owner(mapped.text("owner_id").as_deref())),
        org_id,
        emails: email.map(ContactPoint::primary).into_iter().collect(),
        phones: phone.map(ContactPoint::primary).into_iter().collect(),
        label_ids: targets.label_ids(EntityKind::Person, &tags(mapped.get("label"))),
        add_time: mapped
            .get("add_time")
            .and_then(utc_parts)
            .map(|(date, time)| format!("{date}T{}Z", time.unwrap_or_else(|| "00:00:00".into()))),
        visible_to: None,
        marketing_status,
        custom_fields: with_marker(mapped.custom, targets, EntityKind::Person, &record.source_id),
    };
    Ok((person, fallback))
}

pub fn deal(
    record: &Record,
    mapping: &Mapping,
    targets: &Targets,
    issues: &[Issue],
    links: &Links,
) -> Result<(NewDeal, Option<String>), String> {
    let mapped = map_record(record, mapping, targets, issues)?;
    let word = mapped.text("status").unwrap_or_else(|| "in_progress".to_owned());
    let status =
        mapping.deal_status.iter().find(|choice| choice.source == word).map_or("open", |choice| choice.target.as_str());
    let time = |code| {
        mapped
            .get(code)
            .and_then(utc_parts)
            .map(|(date, time)| format!("{date}T{}Z", time.unwrap_or_else(|| "12:00:00".into())))
    };
    let mut note = None;
    let (stage_id, pipeline_id) = match mapped.text("stage_id").and_then(|stage| targets.stages.get(&stage).copied()) {
        Some((stage, pipeline)) => (Some(stage), Some(pipeline)),
        None => {
            // A stage the export does not list: the first stage of the deal's pipeline.
            let pipeline = mapped.text("pipeline_id").and_then(|pipeline| targets.pipelines.get(&pipeline).copied());
            let first = mapping
                .pipelines
                .iter()
                .filter(|entry| pipeline.is_none() || targets.pipelines.get(&entry.source_id) == pipeline.as_ref())
                .flat_map(|entry| entry.stages.first())
                .find_map(|stage| targets.stages.get(&stage.source).copied());
            let Some((stage, pipeline)) = first else {
                return Err("its stage and pipeline have no Pipedrive stage".into());
            };
            note = Some(format!(
                "stage {} is not in stages.csv: put in the first stage of its pipeline",
                mapped.text("stage_id").unwrap_or_default()
            ));
            (Some(stage), Some(pipeline))
        }
    };
    let lost_reason = match (status, word.as_str()) {
        ("lost", "abandoned") => Some("Abandoned in User.com".to_owned()),
        ("lost", "archived") => Some("Archived in User.com".to_owned()),
        ("lost", _) => mapped.text("lost_reason"),
        _ => None,
    };
    let deal = NewDeal {
        title: mapped.text("title").unwrap_or_else(|| format!("User.com deal {}", record.source_id)),
        owner_id: Some(targets.owner(mapped.text("owner_id").as_deref())),
        person_id: mapped.text("person_id").and_then(|contact| links.person(&contact)),
        org_id: mapped.text("org_id").and_then(|company| links.organizations.get(&company).copied()),
        pipeline_id,
        stage_id,
        value: match mapped.get("value") {
            Some(Value::Number(value)) => Some(*value),
            _ => None,
        },
        currency: mapped.text("currency").map(|currency| currency.to_uppercase()),
        status: Some(match status {
            "won" => DealStatus::Won,
            "lost" => DealStatus::Lost,
            _ => DealStatus::Open,
        }),
        won_time: if status == "won" { time("won_time") } else { None },
        lost_time: if status == "lost" { time("lost_time") } else { None },
        lost_reason,
        close_time: None,
        expected_close_date: mapped.get("expected_close_date").and_then(utc_parts).map(|(date, _)| date),
        label_ids: targets.label_ids(EntityKind::Deal, &tags(mapped.get("label"))),
        custom_fields: with_marker(mapped.custom, targets, EntityKind::Deal, &record.source_id),
    };
    Ok((deal, note))
}

/// An activity, or (for an event) a done activity of the events' type.
pub fn activity(
    record: &Record,
    mapping: &Mapping,
    targets: &Targets,
    issues: &[Issue],
    links: &Links,
) -> Result<NewActivity, String> {
    let mapped = map_record(record, mapping, targets, issues)?;
    let event = record.kind == ObjectKind::Event;
    let type_key = if event {
        targets.event_type.clone()
    } else {
        let source_type = mapped.text("type").unwrap_or_default();
        targets.activity_types.get(&source_type).cloned().unwrap_or_else(|| "task".to_owned())
    };
    let mut note: Vec<String> = Vec::new();
    for entry in mapping.fields.iter().filter(|entry| {
        entry.object == record.kind && matches!(&entry.landing, Landing::Standard { code } if code == "note")
    }) {
        let Some(value) = record.get(&entry.attribute).filter(|value| !matches!(value, Value::Null)) else { continue };
        let text = match value {
            Value::DateTime(datetime) => utc(datetime),
            other => plain(other),
        };
        if text.trim().is_empty() {
            continue;
        }
        // The description is the note itself; anything else is labelled.
        if matches!(entry.attribute.as_str(), "description" | "data") {
            note.push(format!("<p>{}</p>", escape(&text)));
        } else {
            note.push(format!("<p>{}: {}</p>", escape(&entry.attribute), escape(&text)));
        }
    }
    note.extend(mapped.kept_in_note());
    // Last, after everything copied from User.com: the only place a marker is read from.
    note.push(targets.marking.paragraph(record.kind, &record.source_id));
    let due = mapped.get("due_date").and_then(utc_parts);
    // Minutes: the duration column's, else the end minus the start.
    let minutes = match (mapped.get("duration"), mapped.get("due_date"), mapped.get("end_time")) {
        (Some(Value::Number(minutes)), _, _) => Some(*minutes),
        (_, Some(Value::DateTime(start)), Some(Value::DateTime(end))) => {
            Some((end.unix_millis - start.unix_millis) as f64 / 60_000.0)
        }
        _ => None,
    };
    let duration = minutes
        .filter(|minutes| *minutes > 0.0)
        .map(|minutes| format!("{:02}:{:02}", (minutes as u64) / 60, (minutes as u64) % 60));
    let person =
        mapped.text("participants").and_then(|contact| links.person(&contact).map(|person_id| (contact, person_id)));
    let mut participants: Vec<Participant> =
        person.iter().map(|(_, person_id)| Participant { person_id: *person_id, primary: true }).collect();
    let mut attendees: Vec<Attendee> = Vec::new();
    let mut invite = |email: &str, name: &str, person_id: Option<u64>| {
        if !attendees.iter().any(|attendee| attendee.email.eq_ignore_ascii_case(email)) {
            attendees.push(Attendee {
                email: email.to_owned(),
                name: Some(name.to_owned()).filter(|name| !name.is_empty()),
                person_id,
            });
        }
    };
    // An event is a meeting: its contact is invited, by email.
    if let (Some((contact, person_id)), true) = (&person, event)
        && let Some((email, name)) = links.contacts.get(contact)
    {
        invite(&email, &name, Some(*person_id));
    }
    // Its attendees: each a migrated person's (a participant too) or another's (an attendee).
    let listed = mapped.text("attendees").unwrap_or_default();
    for token in crate::extract::columns::list_items(&listed) {
        let contact = if crate::extract::values::is_email(token) {
            links.contact_by_email(token, mapped.text("participants").as_deref())
        } else {
            Some(token.to_owned()).filter(|id| links.contacts.get(id).is_some())
        };
        let person_id = contact.as_deref().and_then(|contact| links.person(contact));
        if let Some(person_id) =
            person_id.filter(|id| !participants.iter().any(|participant| participant.person_id == *id))
        {
            participants.push(Participant { person_id, primary: participants.is_empty() });
        }
        match contact.as_deref().and_then(|contact| links.contacts.get(contact)) {
            Some((email, name)) => invite(&email, &name, person_id),
            None if crate::extract::values::is_email(token) => invite(token, "", None),
            None => {}
        }
    }
    Ok(NewActivity {
        subject: mapped
            .text("subject")
            .unwrap_or_else(|| if event { "User.com event".to_owned() } else { "Activity".to_owned() }),
        type_key,
        owner_id: Some(targets.owner(mapped.text("owner_id").as_deref())),
        deal_id: mapped.text("deal_id").and_then(|deal| links.deals.get(&deal).copied()),
        org_id: mapped.text("org_id").and_then(|company| links.organizations.get(&company).copied()),
        participants,
        attendees,
        due_date: due.as_ref().map(|(date, _)| date.clone()),
        due_time: due.and_then(|(_, time)| time).map(|time| time[..5].to_owned()),
        duration,
        // An activity's own flag wins; an event happened, unless its time is after the export.
        done: (event && !issues.iter().any(crate::extract::export_time::is_after_export))
            || matches!(mapped.get("done"), Some(Value::Boolean(true))),
        location: mapped.text("location").map(|value| Location { value }),
        note: Some(note.join("")),
    })
}

/// The journal id of a person's, organization's or deal's note of raw values (journalled with
/// the conversations' notes, which are the notes this tool writes): `contact 10000/values`.
pub fn raw_values_note_id(record: &Record) -> String {
    format!("{} {}/values", record.kind, record.source_id)
}

/// The id is a note of raw values ([`raw_values_note_id`]), not a conversation's.
pub fn is_raw_values_note(id: &str) -> bool {
    id.ends_with("/values")
}

/// For a person, organization or deal whose values did not fit their fields and whose policy is
/// `keep-raw-in-note` (the record has no note of its own): one note attached to it, with each
/// such value, what it was for and why it did not fit. None for a record not created (its
/// values are listed with its fate).
pub fn raw_values_note(
    record: &Record,
    issues: &[Issue],
    mapping: &Mapping,
    targets: &Targets,
    links: &Links,
) -> Option<(String, NewNote)> {
    let mapped = map_record(record, mapping, targets, issues).ok()?;
    let kept: Vec<String> = mapped.kept_in_note().collect();
    let (person_id, org_id, deal_id) = match record.kind {
        ObjectKind::Contact => (links.person(&record.source_id), None, None),
        ObjectKind::Company => (None, links.organizations.get(&record.source_id).copied(), None),
        ObjectKind::Deal => (None, None, links.deals.get(&record.source_id).copied()),
        _ => return None,
    };
    if kept.is_empty() || (person_id, org_id, deal_id) == (None, None, None) {
        return None;
    }
    let id = raw_values_note_id(record);
    let content = format!(
        "<p><b>User.com values not migrated to their fields</b></p>{}{}",
        kept.join(""),
        targets.marking.paragraph(ObjectKind::Conversation, &id)
    );
    Some((id, NewNote { content, person_id, org_id, deal_id, add_time: None, user_id: None }))
}

/// Roles of a message's author that are the contact (whose name the note then shows).
const CONTACT_ROLES: &[&str] = &[
    "user",
    "contact",
    "visitor",
    "customer",
    "client",
    "uzytkownik",
    "użytkownik",
    "klient",
    "in",
    "inbound",
    "incoming",
];

/// Who wrote a message: `Anna Nowak (agent)`, the contact's name for messages whose role says
/// the contact wrote them (`Hanna Müller (user)`), the role alone when no name is known,
/// `unknown author` without either.
fn author(mapped: &Mapped, links: &Links) -> String {
    let role = mapped.text("author_role");
    let contact_wrote = role.as_deref().is_some_and(|role| CONTACT_ROLES.contains(&role.to_lowercase().as_str()));
    let name = mapped.text("author_name").or_else(|| {
        let contact = mapped.text("person_id").filter(|_| contact_wrote)?;
        links.contacts.get(&contact).map(|(_, name)| name.trim().to_owned()).filter(|name| !name.is_empty())
    });
    match (name, role) {
        (Some(name), Some(role)) => format!("{name} ({role})"),
        (Some(name), None) => name,
        (None, Some(role)) => role,
        (None, None) => "unknown author".to_owned(),
    }
}

/// The notes for a conversation: its messages in time order, each with its time and author, the
/// channel in its header. One note, unless the messages are more than a note holds (Pipedrive's
/// 100 KB): then several, in order, each headed "part i of n" and journalled under its own id
/// ([`crate::plan::limits::conversation_part_id`]), dated by its first message.
pub fn note(
    conversation: &str,
    messages: &[&Record],
    issues: &[&[Issue]],
    mapping: &Mapping,
    targets: &Targets,
    links: &Links,
) -> Result<Vec<(String, NewNote)>, String> {
    let mut lines = Vec::new();
    let mut person = None;
    let mut first: Option<DateTime> = None;
    let mut channel = None;
    let mut times = Vec::new();
    let mut ordered: Vec<(&Record, Mapped)> = Vec::new();
    for (message, issues) in messages.iter().zip(issues) {
        let mapped = map_record(message, mapping, targets, issues)?;
        ordered.push((message, mapped));
    }
    let time_of = |mapped: &Mapped| match mapped.get("add_time") {
        Some(Value::DateTime(datetime)) => Some(*datetime),
        _ => None,
    };
    ordered.sort_by_key(|(message, mapped)| {
        (time_of(mapped).map_or(i64::MAX, |time| time.unix_millis), message.source_id.clone())
    });
    for (_, mapped) in &ordered {
        if person.is_none() {
            person = mapped.text("person_id").and_then(|contact| links.person(&contact));
        }
        let time = time_of(mapped);
        if first.is_none() {
            first = time;
        }
        if channel.is_none() {
            channel = mapped.text("channel");
        }
        let stamp = time.map(|time| utc(&time)[..16].replace('T', " ") + " UTC").unwrap_or_default();
        let content = mapped.attribute("content").unwrap_or_default();
        times.push(time);
        lines.push(format!("<p>[{stamp}] <b>{}</b>: {}</p>", escape(&author(mapped, links)), escape(&content)));
    }
    let Some(person_id) = person else {
        let contact = ordered.iter().find_map(|(message, _)| message.get("contact_id").map(plain)).unwrap_or_default();
        return Err(format!(
            "its contact {contact} was not migrated (see the contacts' fates), and a note needs a person"
        ));
    };
    let channel = channel.map(|channel| format!(" ({})", escape(&channel))).unwrap_or_default();
    let stamp = |time: Option<DateTime>| time.map(|time| utc(&time)[..19].replace('T', " "));
    let whole = lines.iter().map(String::len).sum::<usize>() as u64;
    if whole + crate::plan::limits::NOTE_FRAME_BYTES <= pipedrive_api::limits::NOTE_MAX_BYTES {
        let content = format!(
            "<p><b>User.com conversation</b>{channel}</p>{}{}",
            lines.join(""),
            targets.marking.paragraph(ObjectKind::Conversation, conversation)
        );
        return Ok(vec![(
            conversation.to_owned(),
            NewNote {
                content,
                person_id: Some(person_id),
                org_id: None,
                deal_id: None,
                add_time: stamp(first),
                user_id: None,
            },
        )]);
    }
    let room = (pipedrive_api::limits::NOTE_MAX_BYTES - crate::plan::limits::NOTE_FRAME_BYTES) as usize;
    let parts = crate::plan::limits::split_paragraphs(&lines, room);
    let total = parts.len();
    Ok(parts
        .into_iter()
        .enumerate()
        .map(|(index, (starts_in, part))| {
            // Dated by the message it starts in: Pipedrive shows notes by date, so they stay in order.
            let start = times.get(starts_in).copied().flatten().or(first);
            let id = crate::plan::limits::conversation_part_id(conversation, index + 1);
            let content = format!(
                "<p><b>User.com conversation</b>{channel}, part {} of {total}</p>{}{}",
                index + 1,
                part.join(""),
                targets.marking.paragraph(ObjectKind::Conversation, &id)
            );
            (
                id,
                NewNote {
                    content,
                    person_id: Some(person_id),
                    org_id: None,
                    deal_id: None,
                    add_time: stamp(start),
                    user_id: None,
                },
            )
        })
        .collect())
}
