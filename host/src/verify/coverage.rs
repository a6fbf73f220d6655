//! Source coverage: the promise "every source value arrives", checked from the export's side.
//! Each non-empty value of each record is read again from the export and looked for at the place
//! the approved mapping sends it to in Pipedrive (as the listings return it), through the
//! journal's source id -> Pipedrive id; or it is found listed as intentionally not migrated, with
//! the reason. Every value ends in exactly one of: landed in a field, landed in a note, left out
//! with a reason, missing. The expectation is written here from the source value and the mapping
//! with normalizers of its own, never with apply's payload functions: comparing the product with
//! itself would prove nothing.
//!
//! Normalization rules (the README's verify section documents them for users):
//! text trimmed and whitespace-collapsed; emails case-insensitive; phones by their digits; numbers
//! by value; dates and datetimes by the UTC instant at the precision of the field they land in
//! (a date: the day; a due time: the minute; a creation time: the second); choices as sets of
//! option labels (case-insensitive, booleans as Yes/No, through the mapping's `values`); tags by
//! label names (through the label decisions); links by the linked record's User.com marker (a
//! merged contact's survivor counts); text in a note found in the note's text once its HTML is
//! taken off and unescaped; a company's parent by the parent relationship read back, linking the
//! daughter's organization to the parent's (parents in a cycle are left out: none can hold them).

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::rc::Rc;

use serde::Serialize;
use serde_json::Value as Json;

use crate::apply::workspace::{CustomTarget, Targets};
use crate::extract::{Export, FieldType, Issue, ReadRecord};
use crate::journal::{Entry, Fate, Journal};
use crate::mapping::{DEFAULT_OWNER, Destination, Landing, Mapping};
use crate::pipedrive::EntityKind;
use crate::profile::plain;
use crate::readback::Spool;
use crate::record::{DateTime, ObjectKind, Record, Value};
use crate::source::{Source, conversation_of};

/// Examples kept per attribute and outcome, for the report.
const EXAMPLES: usize = 3;

/// One value that did not land, or was left out: which record and attribute, and why. Never a
/// secret's value; the why may quote the export (escape it where printed).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Example {
    pub source_id: String,
    pub attribute: String,
    pub why: String,
}

/// How the values of one attribute of one object ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttributeCoverage {
    pub object: ObjectKind,
    pub attribute: String,
    /// Where the mapping sends it, in words.
    pub lands_in: String,
    pub in_field: u64,
    pub in_note: u64,
    pub left_out: u64,
    pub missing: u64,
    /// Values left out, counted by the kind of reason.
    pub left_out_reasons: BTreeMap<String, u64>,
    pub left_out_examples: Vec<Example>,
    pub missing_examples: Vec<Example>,
}

/// The coverage of every object and attribute of the export.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Coverage {
    pub attributes: Vec<AttributeCoverage>,
}

impl Coverage {
    pub fn missing(&self) -> u64 {
        self.attributes.iter().map(|row| row.missing).sum()
    }

    /// Per object: (in a field, in a note, left out, missing).
    pub fn per_object(&self) -> BTreeMap<ObjectKind, [u64; 4]> {
        let mut totals: BTreeMap<ObjectKind, [u64; 4]> = BTreeMap::new();
        for row in &self.attributes {
            let total = totals.entry(row.object).or_default();
            for (sum, count) in total.iter_mut().zip([row.in_field, row.in_note, row.left_out, row.missing]) {
                *sum += count;
            }
        }
        totals
    }
}

/// How one value ended.
#[derive(Debug, Clone, PartialEq)]
enum Outcome {
    Field,
    Note,
    /// (the kind of reason, for counting; the reason for this value).
    LeftOut(String, String),
    Missing(String),
}

fn left_out(kind: impl Into<String>, why: impl Into<String>) -> Outcome {
    Outcome::LeftOut(kind.into(), why.into())
}

/// Where a built-in landing is read back: one line per (destination, mapping code). A code not
/// listed is read as text from the record's field of that name.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Role {
    Text(&'static str),
    /// One name for a person: see [`same_name`].
    Name,
    Emails,
    Phones,
    /// A link to the record created from another object's record, by its marker.
    Link(&'static str, ObjectKind),
    Participants,
    Owner,
    Labels,
    Number(&'static str),
    Currency,
    DealStatus,
    Pipeline,
    Stage,
    /// An instant at the second (a date alone: the day).
    Time(&'static str),
    /// An instant kept only for deals of this Pipedrive status.
    TimeWhen(&'static str, &'static str),
    TextWhen(&'static str, &'static str),
    Day(&'static str),
    /// Due date and due time (the minute).
    Due,
    /// Minutes, or an end time measured from the start.
    Duration,
    Done,
    /// Text in the record's note or content.
    InNote(&'static str),
    Address,
    ActivityType,
    Attendees,
    /// A conversation's id: the note carries it as its marker.
    Conversation,
    /// A message's time: its stamp in the note.
    MessageTime,
    MarketingStatus,
    /// A company's parent: the parent relationship read back (a cycle of parents: left out).
    Parent,
    /// A deal's order lines or participants: read back line by line on their own
    /// (`verify::deal_products`), which names what is missing.
    DealExtras,
}

const ROLES: &[(Destination, &str, Role)] = &[
    (Destination::Person, "name", Role::Name),
    (Destination::Person, "emails", Role::Emails),
    (Destination::Person, "phones", Role::Phones),
    (Destination::Person, "org_id", Role::Link("org_id", ObjectKind::Company)),
    (Destination::Person, "owner_id", Role::Owner),
    (Destination::Person, "add_time", Role::Time("add_time")),
    (Destination::Person, "label", Role::Labels),
    (Destination::Person, "marketing_status", Role::MarketingStatus),
    (Destination::Deal, "products", Role::DealExtras),
    (Destination::Deal, "participants", Role::DealExtras),
    (Destination::Organization, "name", Role::Text("name")),
    (Destination::Organization, "address", Role::Address),
    (Destination::Organization, "website", Role::Text("website")),
    (Destination::Organization, "owner_id", Role::Owner),
    (Destination::Organization, "add_time", Role::Time("add_time")),
    (Destination::Organization, "label", Role::Labels),
    (Destination::Organization, "parent_org_id", Role::Parent),
    (Destination::Deal, "title", Role::Text("title")),
    (Destination::Deal, "value", Role::Number("value")),
    (Destination::Deal, "currency", Role::Currency),
    (Destination::Deal, "status", Role::DealStatus),
    (Destination::Deal, "pipeline_id", Role::Pipeline),
    (Destination::Deal, "stage_id", Role::Stage),
    (Destination::Deal, "person_id", Role::Link("person_id", ObjectKind::Contact)),
    (Destination::Deal, "org_id", Role::Link("org_id", ObjectKind::Company)),
    (Destination::Deal, "owner_id", Role::Owner),
    (Destination::Deal, "expected_close_date", Role::Day("expected_close_date")),
    (Destination::Deal, "won_time", Role::TimeWhen("won_time", "won")),
    (Destination::Deal, "lost_time", Role::TimeWhen("lost_time", "lost")),
    (Destination::Deal, "lost_reason", Role::TextWhen("lost_reason", "lost")),
    (Destination::Deal, "label", Role::Labels),
    (Destination::Activity, "subject", Role::Text("subject")),
    (Destination::Activity, "type", Role::ActivityType),
    (Destination::Activity, "deal_id", Role::Link("deal_id", ObjectKind::Deal)),
    (Destination::Activity, "participants", Role::Participants),
    (Destination::Activity, "org_id", Role::Link("org_id", ObjectKind::Company)),
    (Destination::Activity, "note", Role::InNote("note")),
    (Destination::Activity, "done", Role::Done),
    (Destination::Activity, "due_date", Role::Due),
    (Destination::Activity, "duration", Role::Duration),
    (Destination::Activity, "owner_id", Role::Owner),
    (Destination::Activity, "location", Role::Text("location")),
    (Destination::Activity, "attendees", Role::Attendees),
    (Destination::Note, "content", Role::InNote("content")),
    (Destination::Note, "author_role", Role::InNote("content")),
    (Destination::Note, "author_name", Role::InNote("content")),
    (Destination::Note, "channel", Role::InNote("content")),
    (Destination::Note, "person_id", Role::Link("person_id", ObjectKind::Contact)),
    (Destination::Note, "add_time", Role::MessageTime),
    (Destination::Note, "conversation", Role::Conversation),
];

/// Where the attributes of the roles the migration relies on belong, whatever the mapping says
/// (unless it skips them, with a reason): a person's name, emails and phones, an event's time,
/// end, attendees and place, a message's text. One line per attribute name; `unless`: not when
/// the object's file has that attribute (an event's `timestamp` is its time only where there is
/// no `start`).
const ROLE_PLACES: &[(ObjectKind, &str, Role, Option<&str>)] = &[
    (ObjectKind::Contact, "name", Role::Name, None),
    (ObjectKind::Contact, "first_name", Role::Name, None),
    (ObjectKind::Contact, "last_name", Role::Name, None),
    (ObjectKind::Contact, "email", Role::Emails, None),
    (ObjectKind::Contact, "phone_number", Role::Phones, None),
    (ObjectKind::Event, "start", Role::Due, None),
    (ObjectKind::Event, "timestamp", Role::Due, Some("start")),
    (ObjectKind::Event, "end", Role::Duration, None),
    (ObjectKind::Event, "attendees", Role::Attendees, None),
    (ObjectKind::Event, "location", Role::Text("location"), None),
    (ObjectKind::Conversation, "content", Role::InNote("content"), None),
];

/// The role an attribute has whatever the mapping says, for a file with these attributes.
fn role_place(object: ObjectKind, attribute: &str, has: impl Fn(&str) -> bool) -> Option<Role> {
    ROLE_PLACES
        .iter()
        .find(|(o, a, _, unless)| *o == object && *a == attribute && !unless.is_some_and(&has))
        .map(|(_, _, role, _)| *role)
}

fn role(destination: Destination, code: &str) -> Option<Role> {
    ROLES.iter().find(|(d, c, _)| *d == destination && *c == code).map(|(_, _, role)| *role)
}

/// What the coverage reads besides the export: the journal's fates, what Pipedrive lists, the
/// workspace's ids and the mapping.
pub struct Context<'a> {
    pub mapping: &'a Mapping,
    pub targets: &'a Targets,
    /// The records after the plugins (a value a clean plugin changed is looked for as changed).
    pub source: &'a Source,
    /// The journal: each chunk's entries are read with the chunk (conversations by conversation
    /// id), a linked record's when a link is not found.
    pub journal: &'a Journal,
    /// The live records, by destination and Pipedrive id.
    pub listed: &'a Spool,
    /// Per object with a marker field, as listed: Pipedrive id -> the User.com id its marker holds.
    pub markers: &'a HashMap<ObjectKind, HashMap<u64, String>>,
    /// Daughter organization id -> parent organization id, as the parent relationships read back.
    pub parents: &'a HashMap<u64, u64>,
}

/// How many of the export's records are checked at a time (their records after the plugins read
/// from the run's spool together).
const CHUNK: usize = 2_000;

/// Reads the export object by object, a chunk of records at a time, and accounts for every
/// non-empty value.
pub fn coverage(
    export: &Export,
    context: &Context,
    progress: crate::profile::ReadProgress<'_>,
) -> Result<Coverage, super::VerifyError> {
    let checker = Checker::new(context)?;
    let mut coverage = Coverage::default();
    for object in ObjectKind::ALL {
        let Some(reader) = export.records(object)? else { continue };
        let file = reader.path().file_name().map_or_else(String::new, |name| name.to_string_lossy().into_owned());
        let reading = format!("{file}, every value against the account");
        let mut read = 0;
        progress(&reading, 0, false);
        let types: HashMap<String, FieldType> =
            reader.columns().iter().map(|column| (column.field.clone(), column.ty)).collect();
        let mut rows: BTreeMap<String, AttributeCoverage> = BTreeMap::new();
        let mut order: Vec<String> = Vec::new();
        let mut check = |chunk: &mut Vec<ReadRecord>| -> Result<(), super::VerifyError> {
            // The records after the plugins, of this chunk only: an account of millions is not held.
            let ids: Vec<String> = chunk.iter().map(|read| read.record.source_id.clone()).collect();
            checker.read_entries(object, chunk.iter().map(|read| &read.record))?;
            let after_plugins: HashMap<String, Record> = context
                .source
                .spool
                .by_ids(object, &ids)
                .map_err(crate::apply::ApplyError::from)?
                .into_iter()
                .map(|(_, spooled)| (spooled.record.source_id.clone(), spooled.record))
                .collect();
            for ReadRecord { record, issues, .. } in chunk.drain(..) {
                let plugged = after_plugins.get(record.source_id.as_str());
                for (attribute, value) in &record.fields {
                    if is_empty(value) {
                        continue;
                    }
                    let ty = types.get(attribute).copied().unwrap_or(FieldType::Text);
                    let outcome = checker.value(
                        &record,
                        attribute,
                        value,
                        ty,
                        &issues,
                        plugged,
                        role_place(object, attribute, |other| types.contains_key(other)),
                    );
                    let row = rows.entry(attribute.clone()).or_insert_with(|| {
                        order.push(attribute.clone());
                        AttributeCoverage {
                            object,
                            attribute: attribute.clone(),
                            lands_in: lands_in(context.mapping, object, attribute, ty),
                            in_field: 0,
                            in_note: 0,
                            left_out: 0,
                            missing: 0,
                            left_out_reasons: BTreeMap::new(),
                            left_out_examples: Vec::new(),
                            missing_examples: Vec::new(),
                        }
                    });
                    let example = |why: String| Example {
                        source_id: record.source_id.clone(),
                        attribute: attribute.clone(),
                        why,
                    };
                    match outcome {
                        Outcome::Field => row.in_field += 1,
                        Outcome::Note => row.in_note += 1,
                        Outcome::LeftOut(kind, why) => {
                            row.left_out += 1;
                            *row.left_out_reasons.entry(kind).or_default() += 1;
                            if row.left_out_examples.len() < EXAMPLES {
                                row.left_out_examples.push(example(why));
                            }
                        }
                        Outcome::Missing(why) => {
                            row.missing += 1;
                            if row.missing_examples.len() < EXAMPLES {
                                row.missing_examples.push(example(why));
                            }
                        }
                    }
                }
            }
            checker.failure()?;
            Ok(())
        };
        let mut chunk = Vec::with_capacity(CHUNK);
        for record in reader {
            chunk.push(record?);
            if chunk.len() == CHUNK {
                check(&mut chunk)?;
            }
            read += 1;
            if read % crate::source::PROGRESS_EVERY == 0 {
                progress(&reading, read, false);
            }
        }
        check(&mut chunk)?;
        progress(&reading, read, true);
        coverage.attributes.extend(order.iter().filter_map(|attribute| rows.remove(attribute)));
    }
    Ok(coverage)
}

/// The id the journal keeps a record of `object` by: a message's conversation's, else its own.
fn key_of(object: ObjectKind, record: &Record) -> String {
    if object == ObjectKind::Conversation { conversation_of(record) } else { record.source_id.clone() }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Text(text) => text.trim().is_empty(),
        Value::Choices(choices) => choices.iter().all(|choice| choice.trim().is_empty()),
        _ => false,
    }
}

fn lands_in(mapping: &Mapping, object: ObjectKind, attribute: &str, ty: FieldType) -> String {
    if ty == FieldType::Secret {
        return "never migrated (a secret)".to_owned();
    }
    let destination = Destination::of(object).name();
    match mapping.field(object, attribute).map(|entry| &entry.landing) {
        None => "not in the mapping".to_owned(),
        Some(Landing::Standard { code }) => format!("{destination}.{code}"),
        Some(Landing::Existing { field, .. }) | Some(Landing::New { field, .. }) => {
            format!("{destination} field '{field}'")
        }
        Some(Landing::Skip { .. }) => "skipped".to_owned(),
    }
}

/// Text as compared: trimmed, runs of whitespace as one space.
fn text(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn digits(text: &str) -> String {
    text.chars().filter(char::is_ascii_digit).collect()
}

/// `YYYY-MM-DD HH:MM:SS` in UTC.
fn utc_seconds(datetime: &DateTime) -> String {
    DateTime { unix_millis: datetime.unix_millis, offset_minutes: 0 }.to_string()[..19].replace('T', " ")
}

/// A time as Pipedrive writes it (`2024-03-01T09:30:00Z`, `2024-03-01 09:30:00`), as
/// `YYYY-MM-DD HH:MM:SS` (Pipedrive answers in UTC).
fn pipedrive_seconds(text: &str) -> Option<String> {
    text.trim().get(..19).map(|head| head.replace('T', " "))
}

/// Minutes of `HH:MM` or `HH:MM:SS`.
fn minutes_of(text: &str) -> Option<i64> {
    let mut parts = text.trim().split(':');
    let hours: i64 = parts.next()?.parse().ok()?;
    let minutes: i64 = parts.next()?.parse().ok()?;
    Some(hours * 60 + minutes)
}

fn number_of(value: &Json) -> Option<f64> {
    match value {
        Json::Number(number) => number.as_f64(),
        Json::String(text) => crate::extract::values::parse_number(text),
        Json::Object(money) => money.get("value").or(money.get("amount")).and_then(number_of),
        _ => None,
    }
}

fn same_number(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// A note's text as a person reads it: tags off (each a space), entities unescaped, whitespace
/// collapsed.
fn note_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for character in html.chars() {
        match character {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    let out = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#91;", "[")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    text(&out)
}

/// Whether a value is written in a note's text: text as is, a datetime as its UTC minute (with
/// `T` or a space), choices each.
fn in_note_text(haystack: &str, value: &Value) -> bool {
    match value {
        Value::DateTime(datetime) => {
            let minute = utc_seconds(datetime)[..16].to_owned();
            haystack.contains(&minute) || haystack.contains(&minute.replace(' ', "T"))
        }
        Value::Choices(choices) => choices.iter().all(|choice| haystack.contains(&text(choice))),
        other => haystack.contains(&text(&plain(other))),
    }
}

struct Checker<'a> {
    context: &'a Context<'a>,
    /// Records linked to one the account had carry no marker: per object, Pipedrive id -> the
    /// User.com id linked to it, as the journal says.
    linked: HashMap<ObjectKind, HashMap<u64, String>>,
    /// (entity, label id) -> label (lower case).
    labels: HashMap<(EntityKind, u64), String>,
    /// Companies whose chain of parents returns to them.
    parent_cycles: HashSet<String>,
    /// The last note read as text, by Pipedrive id and field: a conversation's messages come one
    /// after another and share one note, which is read once, not once per message.
    last_note: RefCell<Option<(u64, &'static str, Rc<str>)>>,
    /// The last conversation read whole (see [`Checker::split_conversation`]), by its id: its
    /// messages come one after another.
    last_split: RefCell<Option<(String, Option<Rc<Json>>)>>,
    /// The journal's entries of the chunk at hand by source id (conversations: by conversation
    /// id): a chunk's, never the export's (see [`Checker::read_entries`]).
    entries: RefCell<HashMap<String, Entry>>,
    /// The most journal entries held at once.
    held: Cell<usize>,
    /// The first journal lookup that failed (read as no entry): the coverage is not to be trusted.
    failed: RefCell<Option<crate::state::StateError>>,
}

impl<'a> Checker<'a> {
    fn new(context: &'a Context<'a>) -> Result<Checker<'a>, super::VerifyError> {
        let targets = context.targets;
        let mut linked: HashMap<ObjectKind, HashMap<u64, String>> = HashMap::new();
        for object in [ObjectKind::Company, ObjectKind::Contact] {
            let ids = linked.entry(object).or_default();
            context.journal.each_fate(object, |source_id, fated| {
                if let (Fate::Linked, Some(pipedrive_id)) = (fated.fate, fated.pipedrive_id) {
                    ids.insert(pipedrive_id, source_id.to_owned());
                }
            })?;
        }
        let labels = targets.labels.iter().map(|((entity, label), id)| ((*entity, *id), label.clone())).collect();
        let parent_cycles = parent_cycles(context).map_err(crate::apply::ApplyError::from)?;
        Ok(Checker::with(context, linked, labels, parent_cycles))
    }

    fn with(
        context: &'a Context<'a>,
        linked: HashMap<ObjectKind, HashMap<u64, String>>,
        labels: HashMap<(EntityKind, u64), String>,
        parent_cycles: HashSet<String>,
    ) -> Checker<'a> {
        Checker {
            context,
            linked,
            labels,
            parent_cycles,
            last_note: RefCell::new(None),
            last_split: RefCell::new(None),
            entries: RefCell::new(HashMap::new()),
            held: Cell::new(0),
            failed: RefCell::new(None),
        }
    }

    /// The journal's entries of a chunk of the export's records of `object` (a message's: its
    /// conversation's), in place of the last chunk's: what the journal says of a million records
    /// is read a chunk at a time, not held whole.
    fn read_entries<'r>(
        &self,
        object: ObjectKind,
        records: impl Iterator<Item = &'r Record>,
    ) -> Result<(), crate::state::StateError> {
        let mut keys: Vec<String> = records.map(|record| key_of(object, record)).collect();
        keys.sort_unstable();
        keys.dedup();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let entries = self.context.journal.entries_among(object, &keys)?;
        self.held.set(self.held.get().max(entries.len()));
        *self.entries.borrow_mut() = entries;
        Ok(())
    }

    /// One record's journal entry read on its own (a linked record's, a conversation's later
    /// part's). A lookup that fails reads as none, and is kept for [`Checker::failure`].
    fn entry(&self, object: ObjectKind, key: &str) -> Option<Entry> {
        match self.context.journal.entries_among(object, &[key]) {
            Ok(mut entries) => entries.remove(key),
            Err(error) => {
                self.failed.borrow_mut().get_or_insert(error);
                None
            }
        }
    }

    /// The first journal lookup that failed, if one did.
    fn failure(&self) -> Result<(), crate::state::StateError> {
        self.failed.borrow_mut().take().map_or(Ok(()), Err)
    }

    fn note_text(&self, actual: &Json, field: &'static str) -> Rc<str> {
        let id = actual["id"].as_u64().unwrap_or(0);
        let mut last = self.last_note.borrow_mut();
        match &*last {
            Some((last_id, last_field, text)) if *last_id == id && *last_field == field => text.clone(),
            _ => {
                let text: Rc<str> = note_text(actual[field].as_str().unwrap_or_default()).into();
                *last = Some((id, field, text.clone()));
                text
            }
        }
    }

    /// A conversation apply split into several notes, read as one: its later parts' contents, then
    /// the first part's (whose marker, the conversation's, ends it). None when it is one note.
    /// Read once for the messages of one conversation, which come one after another.
    fn split_conversation(&self, key: &str, first: &Json) -> Option<Rc<Json>> {
        if let Some((last, whole)) = &*self.last_split.borrow()
            && last == key
        {
            return whole.clone();
        }
        let whole = self.read_split_conversation(key, first).map(Rc::new);
        *self.last_split.borrow_mut() = Some((key.to_owned(), whole.clone()));
        whole
    }

    fn read_split_conversation(&self, key: &str, first: &Json) -> Option<Json> {
        let mut content = String::new();
        for part in 2.. {
            let part_id = crate::plan::limits::conversation_part_id(key, part);
            let Some(Entry { fate: Fate::Created, pipedrive_id: Some(id), .. }) =
                self.entry(ObjectKind::Conversation, &part_id)
            else {
                break;
            };
            let note = self.context.listed.get(Destination::of(ObjectKind::Conversation), id);
            content.push_str(note.as_ref().and_then(|note| note["content"].as_str()).unwrap_or_default());
        }
        if content.is_empty() {
            return None;
        }
        content.push_str(first["content"].as_str().unwrap_or_default());
        let mut whole = first.clone();
        whole["content"] = Json::String(content);
        Some(whole)
    }

    /// How one source value ended; `forced`: the place its role gives it (see [`ROLE_PLACES`]).
    #[allow(clippy::too_many_arguments)]
    fn value(
        &self,
        record: &Record,
        attribute: &str,
        value: &Value,
        ty: FieldType,
        issues: &[Issue],
        plugged: Option<&Record>,
        forced: Option<Role>,
    ) -> Outcome {
        let object = record.kind;
        if ty == FieldType::Secret {
            return left_out("a secret: never migrated", "a secret (a cookie or push key): it never leaves User.com");
        }
        let landing = self.context.mapping.field(object, attribute).map(|entry| &entry.landing);
        if let Some(Landing::Skip { reason }) = landing {
            return left_out(format!("skipped by the mapping: {reason}"), format!("skipped by the mapping: {reason}"));
        }
        if landing.is_none() && forced.is_none() {
            return Outcome::Missing("the approved mapping does not say where it goes".to_owned());
        }
        let key = key_of(object, record);
        let entries = self.entries.borrow();
        let entry_of = entries.get(&key);
        let pipedrive_id = match entry_of {
            Some(Entry { fate: Fate::Created | Fate::Linked, pipedrive_id: Some(id), .. }) => *id,
            Some(Entry { fate: Fate::Merged, detail, .. }) => {
                return left_out(
                    "the record was merged",
                    format!("{object} {} merged into {}", record.source_id, detail.as_deref().unwrap_or("another")),
                );
            }
            Some(Entry { fate: Fate::Quarantined, detail, .. }) => {
                return left_out("the record was quarantined", detail.clone().unwrap_or_default());
            }
            Some(Entry { fate: Fate::Excluded, detail, .. }) => {
                return left_out("the record was excluded", detail.clone().unwrap_or_default());
            }
            Some(_) => {
                return Outcome::Missing(format!(
                    "{object} {key}: its create was sent, its outcome is unknown (run apply again)"
                ));
            }
            None => return Outcome::Missing(format!("{object} {key} has no fate in the journal: not migrated (yet)")),
        };
        if let Some(issue) = issues.iter().find(|issue| issue.field == attribute) {
            return left_out("did not read as its type", format!("{issue}"));
        }
        let Some(actual) = self.context.listed.get(Destination::of(object), pipedrive_id) else {
            return Outcome::Missing(format!("{object} {key} (Pipedrive id {pipedrive_id}) is not in Pipedrive"));
        };
        let split = if object == ObjectKind::Conversation { self.split_conversation(&key, &actual) } else { None };
        let actual = split.as_deref().unwrap_or(&actual);
        let place = |record: &Record, value: &Value| match (forced, landing) {
            (Some(role), _) => self.role(record, role, value, ty, actual),
            (None, Some(landing)) => self.landing(record, attribute, landing, value, ty, actual),
            (None, None) => Outcome::Missing("the approved mapping does not say where it goes".to_owned()),
        };
        let outcome = match (place(record, value), forced, landing) {
            // The role's place, where the mapping sends the value elsewhere: say so.
            (Outcome::Missing(why), Some(_), Some(Landing::Standard { code }))
                if role(Destination::of(object), code).is_none_or(|mapped| Some(mapped) != forced) =>
            {
                Outcome::Missing(format!("{why} (the mapping sends it to {code}, not to where its role puts it)"))
            }
            (Outcome::Missing(why), Some(_), Some(Landing::Existing { field, .. } | Landing::New { field, .. })) => {
                Outcome::Missing(format!(
                    "{why} (the mapping sends it to the field '{field}', not to where its role puts it)"
                ))
            }
            (outcome, _, _) => outcome,
        };
        // A record the account had keeps its own values where link did not fill them.
        let outcome = match outcome {
            Outcome::Missing(_) if entry_of.is_some_and(|entry| entry.fate == Fate::Linked) => left_out(
                "kept the value of the record the account had",
                format!("{object} {key} is linked to a record the account had, which keeps its own value"),
            ),
            outcome => outcome,
        };
        // A value a clean plugin changed arrives as changed.
        match (outcome, plugged.and_then(|plugged| plugged.get(attribute))) {
            (Outcome::Missing(why), Some(changed)) if changed != value => {
                if is_empty(changed) {
                    left_out("emptied by a plugin", "a clean plugin emptied it")
                } else {
                    match place(plugged.unwrap_or(record), changed) {
                        Outcome::Missing(_) => Outcome::Missing(why),
                        landed => landed,
                    }
                }
            }
            (outcome, _) => outcome,
        }
    }

    fn landing(
        &self,
        record: &Record,
        attribute: &str,
        landing: &Landing,
        value: &Value,
        ty: FieldType,
        actual: &Json,
    ) -> Outcome {
        match landing {
            Landing::Standard { code } => match role(Destination::of(record.kind), code) {
                Some(role) => self.role(record, role, value, ty, actual),
                // A code without a role of its own: the record's field of that name, as text.
                None if same_text(value, ty, &actual[code.as_str()]) => Outcome::Field,
                None => Outcome::Missing(format!("{code} in Pipedrive: {}", shown(actual, code))),
            },
            Landing::Existing { field, .. } | Landing::New { field, .. } => {
                match self.context.targets.fields.get(&(record.kind, attribute.to_owned())) {
                    Some(target) => custom(target, value, ty, &actual["custom_fields"], field),
                    None => Outcome::Missing(format!("no Pipedrive field '{field}' in the workspace")),
                }
            }
            Landing::Skip { reason } => left_out(format!("skipped by the mapping: {reason}"), reason.clone()),
        }
    }

    fn role(&self, record: &Record, role: Role, value: &Value, ty: FieldType, actual: &Json) -> Outcome {
        let found = |landed: bool, what: &str| {
            if landed {
                Outcome::Field
            } else {
                Outcome::Missing(format!("{what} in Pipedrive: {}", shown(actual, what)))
            }
        };
        let source_text = text(&plain(value));
        match role {
            Role::Text(field) => found(same_text(value, ty, &actual[field]), field),
            Role::Name => {
                found(same_name(record, &source_text, &text(actual["name"].as_str().unwrap_or_default())), "name")
            }
            Role::Emails => {
                let email = source_text.to_lowercase();
                found(points(&actual["emails"]).any(|point| text(point).to_lowercase() == email), "emails")
            }
            Role::Phones => {
                let wanted = digits(&source_text);
                found(
                    points(&actual["phones"]).any(|point| {
                        if wanted.is_empty() { text(point) == source_text } else { digits(point) == wanted }
                    }),
                    "phones",
                )
            }
            Role::Link(field, target) => self.link(target, &source_text, &[actual[field].as_u64()], field),
            Role::Participants => {
                let ids: Vec<Option<u64>> = actual["participants"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|participant| participant["person_id"].as_u64())
                    .collect();
                self.link(ObjectKind::Contact, &source_text, &ids, "participants")
            }
            Role::Owner => self.owner(&source_text, actual),
            Role::Labels => self.labels(record.kind, value, actual),
            Role::Number(field) => match value {
                Value::Number(number) => {
                    found(number_of(&actual[field]).is_some_and(|actual| same_number(*number, actual)), field)
                }
                _ => found(same_text(value, ty, &actual[field]), field),
            },
            Role::Currency => found(
                actual["currency"].as_str().is_some_and(|currency| currency.trim().eq_ignore_ascii_case(&source_text)),
                "currency",
            ),
            Role::DealStatus => {
                let target = self
                    .context
                    .mapping
                    .deal_status
                    .iter()
                    .find(|choice| choice.source == source_text)
                    .map_or("open", |choice| choice.target.as_str());
                found(actual["status"].as_str() == Some(target), "status")
            }
            Role::Pipeline => match self.context.targets.pipelines.get(&source_text) {
                Some(id) => found(actual["pipeline_id"].as_u64() == Some(*id), "pipeline_id"),
                None => left_out(
                    "not in [pipelines]",
                    format!("pipeline {source_text} is not in the mapping's [pipelines]"),
                ),
            },
            Role::Stage => match self.context.targets.stages.get(&source_text) {
                Some((id, _)) => found(actual["stage_id"].as_u64() == Some(*id), "stage_id"),
                None => left_out(
                    "a stage stages.csv does not list",
                    format!("stage {source_text} is not in stages.csv: the deal is in the first stage of its pipeline"),
                ),
            },
            Role::Time(field) => found(same_instant(value, &actual[field]), field),
            Role::TimeWhen(field, status) => match actual["status"].as_str() {
                Some(now) if now != status => left_out(
                    format!("kept only for {status} deals"),
                    format!("{field} is kept only for {status} deals; this deal is {now}"),
                ),
                _ => found(same_instant(value, &actual[field]), field),
            },
            Role::TextWhen(field, status) => match actual["status"].as_str() {
                Some(now) if now != status => left_out(
                    format!("kept only for {status} deals"),
                    format!("{field} is kept only for {status} deals; this deal is {now}"),
                ),
                _ if same_text(value, ty, &actual[field]) => Outcome::Field,
                // Abandoned and archived deals are lost with a reason that says so.
                _ if actual[field].as_str().is_some_and(|reason| reason.ends_with("in User.com")) => left_out(
                    "replaced by the status's reason",
                    format!("the deal's lost reason says its User.com status: {}", shown(actual, field)),
                ),
                _ => found(false, field),
            },
            Role::Day(field) => found(same_day(value, &actual[field]), field),
            Role::Due => {
                let landed = match value {
                    Value::DateTime(datetime) => {
                        let utc = utc_seconds(datetime);
                        actual["due_date"].as_str() == Some(&utc[..10])
                            && actual["due_time"].as_str().is_some_and(|time| time.get(..5) == Some(&utc[11..16]))
                    }
                    Value::Date(date) => actual["due_date"].as_str() == Some(date.to_string().as_str()),
                    _ => false,
                };
                if landed {
                    Outcome::Field
                } else {
                    Outcome::Missing(format!(
                        "due_date in Pipedrive: {}, due_time: {}",
                        shown(actual, "due_date"),
                        shown(actual, "due_time")
                    ))
                }
            }
            Role::Duration => {
                let actual_minutes = actual["duration"].as_str().and_then(minutes_of).unwrap_or(0);
                let wanted = match value {
                    Value::Number(minutes) => Some(minutes.floor() as i64),
                    // An end time: the minutes from the start (the value that lands as the due date).
                    Value::DateTime(end) => {
                        self.start_of(record).map(|start| (end.unix_millis - start.unix_millis).div_euclid(60_000))
                    }
                    _ => None,
                };
                match wanted {
                    Some(minutes) => found(minutes.max(0) == actual_minutes, "duration"),
                    None => Outcome::Missing("no start to measure the duration from".to_owned()),
                }
            }
            Role::Done => match value {
                Value::Boolean(done) => found(actual["done"].as_bool().unwrap_or(false) == *done, "done"),
                _ => found(false, "done"),
            },
            Role::InNote(field) => {
                let haystack = self.note_text(actual, field);
                if in_note_text(&haystack, value) {
                    Outcome::Note
                } else {
                    Outcome::Missing(format!("not in the {field} of the {}", Destination::of(record.kind).name()))
                }
            }
            Role::Address => {
                let address = match &actual["address"] {
                    Json::Object(address) => address.get("value").and_then(Json::as_str).unwrap_or_default().to_owned(),
                    Json::String(address) => address.clone(),
                    _ => String::new(),
                };
                found(text(&address).contains(&source_text), "address")
            }
            Role::ActivityType => match self.context.targets.activity_types.get(&source_text) {
                Some(key) => found(actual["type"].as_str() == Some(key.as_str()), "type"),
                None => left_out(
                    "not in [activity_types]",
                    format!(
                        "activity type {source_text} is not in the mapping's [activity_types]: the activity is a task"
                    ),
                ),
            },
            Role::Attendees => {
                let emails: Vec<String> = actual["attendees"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|attendee| {
                        attendee["email"].as_str().or(attendee["email_address"].as_str()).or(attendee.as_str())
                    })
                    .map(|email| email.trim().to_lowercase())
                    .collect();
                let wanted: Vec<String> = match value {
                    Value::Choices(choices) => choices.iter().map(|choice| choice.trim().to_lowercase()).collect(),
                    other => plain(other)
                        .split([',', ';', ' ', '\n'])
                        .filter(|part| !part.trim().is_empty())
                        .map(|part| part.trim().to_lowercase())
                        .collect(),
                };
                found(wanted.iter().all(|email| emails.contains(email)), "attendees")
            }
            Role::Conversation => {
                let content = actual["content"].as_str().unwrap_or_default();
                if self.context.targets.marking.parse_text(ObjectKind::Conversation, content).as_deref()
                    == Some(conversation_of(record).as_str())
                {
                    Outcome::Note
                } else {
                    Outcome::Missing("the note does not carry this conversation's marker".to_owned())
                }
            }
            Role::MessageTime => {
                let haystack = self.note_text(actual, "content");
                if in_note_text(&haystack, value) {
                    Outcome::Note
                } else {
                    Outcome::Missing("the message's time is not in the note".to_owned())
                }
            }
            Role::Parent => {
                let parent = actual["id"].as_u64().and_then(|id| self.context.parents.get(&id).copied());
                match self.link(ObjectKind::Company, &source_text, &[parent], "the parent relationship") {
                    Outcome::Missing(_) if self.parent_cycles.contains(&record.source_id) => left_out(
                        "its parent companies form a cycle",
                        format!(
                            "company {}: its parent companies form a cycle, which no parent relationship can hold",
                            record.source_id
                        ),
                    ),
                    outcome => outcome,
                }
            }
            Role::DealExtras => left_out(
                "deal products and participants are checked on their own",
                "each order line and participant is read back against the export in verification.md's 'Deal products and participants'",
            ),
            // The source's opt-out: an unsubscribed contact is an unsubscribed person, any other
            // is not one (apply sets no status for them; Pipedrive's default stands).
            Role::MarketingStatus => match value {
                Value::Boolean(unsubscribed) => found(
                    (actual["marketing_status"].as_str() == Some("unsubscribed")) == *unsubscribed,
                    "marketing_status",
                ),
                _ => found(false, "marketing_status"),
            },
        }
    }

    /// The start of an event or activity: the value of its attribute that lands as the due date,
    /// else its `start` or `timestamp`.
    fn start_of(&self, record: &Record) -> Option<DateTime> {
        let mapped = self.context.mapping.fields.iter().find(|entry| {
            entry.object == record.kind && matches!(&entry.landing, Landing::Standard { code } if code == "due_date")
        });
        [mapped.map(|entry| entry.attribute.as_str()), Some("start"), Some("timestamp")].into_iter().flatten().find_map(
            |attribute| match record.get(attribute) {
                Some(Value::DateTime(start)) => Some(*start),
                _ => None,
            },
        )
    }

    /// A link to the record created from `target`'s record `id` (a merged contact: its
    /// survivor's), among the Pipedrive ids `actual`; when it is not there because the linked
    /// record was not migrated, that is the reason.
    fn link(&self, target: ObjectKind, id: &str, actual: &[Option<u64>], field: &str) -> Outcome {
        // Only a contact has a survivor: a company whose id a merged contact also has is itself.
        let wanted = match target {
            ObjectKind::Contact => crate::source::survivor(&self.context.source.survivors, id).to_owned(),
            _ => id.to_owned(),
        };
        let marked = |pipedrive_id: &u64| {
            [self.context.markers.get(&target), self.linked.get(&target)]
                .into_iter()
                .flatten()
                .any(|markers| markers.get(pipedrive_id) == Some(&wanted))
        };
        if actual.iter().flatten().any(marked) {
            return Outcome::Field;
        }
        match self.entry(target, &wanted) {
            Some(Entry { fate: Fate::Created, .. }) => {
                Outcome::Missing(format!("{field} does not link to the record of {target} {wanted}"))
            }
            Some(entry) => left_out(
                format!("links to a {target} not migrated"),
                format!(
                    "links to {target} {wanted}, which was not migrated ({}{})",
                    entry.fate.as_str(),
                    entry.detail.as_deref().map(|detail| format!(": {detail}")).unwrap_or_default()
                ),
            ),
            None => left_out(
                format!("links to a {target} the export does not have"),
                format!("links to {target} {wanted}, which has no fate in the journal (not in the export)"),
            ),
        }
    }

    fn owner(&self, agent: &str, actual: &Json) -> Outcome {
        let choice = self.context.mapping.agents.iter().find(|choice| choice.source.trim().eq_ignore_ascii_case(agent));
        match choice {
            Some(choice) if choice.target != DEFAULT_OWNER => {
                match self.context.targets.owners.get(&agent.to_lowercase()) {
                    Some(user) if actual["owner_id"].as_u64() == Some(*user) => Outcome::Field,
                    _ => Outcome::Missing(format!(
                        "owner_id in Pipedrive: {} (agent {agent} is user {})",
                        shown(actual, "owner_id"),
                        choice.target
                    )),
                }
            }
            Some(_) => left_out(
                "the agent has no Pipedrive user",
                format!(
                    "agent {agent} has no Pipedrive user ([owners.agents] says default): the default owner owns the record"
                ),
            ),
            None => left_out(
                "the agent is not in [owners.agents]",
                format!("agent {agent} is not in [owners.agents]: the default owner owns the record"),
            ),
        }
    }

    fn labels(&self, object: ObjectKind, value: &Value, actual: &Json) -> Outcome {
        let Some(entity) = Destination::of(object).entity() else {
            return Outcome::Missing("this object has no labels".to_owned());
        };
        let tags: Vec<String> = match value {
            Value::Choices(tags) => tags.clone(),
            other => vec![plain(other)],
        };
        let have: Vec<&String> = actual["label_ids"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Json::as_u64)
            .filter_map(|id| self.labels.get(&(entity, id)))
            .collect();
        let mut wanted = Vec::new();
        for tag in tags.iter().filter(|tag| !tag.trim().is_empty()) {
            match self.context.targets.tag_labels.get(tag) {
                Some(None) => {}
                Some(Some(label)) => wanted.push(label.trim().to_lowercase()),
                None => wanted.push(tag.trim().to_lowercase()),
            }
        }
        if wanted.is_empty() {
            return left_out("dropped by the label plugin", format!("the label decisions drop {}", tags.join(", ")));
        }
        let absent: Vec<&String> = wanted.iter().filter(|label| !have.contains(label)).collect();
        if absent.is_empty() {
            Outcome::Field
        } else {
            Outcome::Missing(format!("labels {absent:?} are not on the record"))
        }
    }
}

/// The companies whose chain of parents (the attributes the mapping sends to `parent_org_id`)
/// returns to them: A parent of B parent of A, or a company its own parent.
fn parent_cycles(context: &Context) -> Result<HashSet<String>, crate::source::SpoolError> {
    let attributes: Vec<&str> = context
        .mapping
        .fields
        .iter()
        .filter(|entry| {
            entry.object == ObjectKind::Company
                && matches!(&entry.landing, Landing::Standard { code } if code == "parent_org_id")
        })
        .map(|entry| entry.attribute.as_str())
        .collect();
    let mut parent_of: HashMap<String, String> = HashMap::new();
    for company in context.source.records(ObjectKind::Company) {
        let company = company?;
        let parent = attributes
            .iter()
            .filter_map(|attribute| company.get(attribute))
            .map(|value| text(&plain(value)))
            .find(|parent| !parent.is_empty());
        parent_of.extend(parent.map(|parent| (company.source_id, parent)));
    }
    let returns = |start: &str| {
        let mut at = parent_of[start].as_str();
        for _ in 0..parent_of.len() {
            if at == start {
                return true;
            }
            match parent_of.get(at) {
                Some(next) => at = next,
                None => return false,
            }
        }
        false
    };
    Ok(parent_of.keys().filter(|start| returns(start)).map(|start| start.to_string()).collect())
}

/// Whether a person's name holds a contact's name once: its full name (`name`) equals it, or its
/// parts (`first_name`, `last_name`) joined with a space, in either order, equal it. So a name
/// joined twice ("Hanna Müller Hanna Müller") is not the contact's, although both parts appear
/// in it. Another attribute mapped to the name appears in it as whole words.
fn same_name(record: &Record, value: &str, name: &str) -> bool {
    let get = |attribute: &str| record.get(attribute).filter(|value| !is_empty(value)).map(|value| text(&plain(value)));
    let contains = |part: &str| format!(" {name} ").contains(&format!(" {part} "));
    let full = get("name");
    let parts: Vec<String> = [get("first_name"), get("last_name")].into_iter().flatten().collect();
    if full.as_deref() != Some(value) && !parts.iter().any(|part| part == value) {
        return contains(value);
    }
    let reversed: Vec<&str> = parts.iter().rev().map(String::as_str).collect();
    full.as_deref() == Some(name) || (!parts.is_empty() && (parts.join(" ") == name || reversed.join(" ") == name))
}

fn points(points: &Json) -> impl Iterator<Item = &str> {
    points.as_array().into_iter().flatten().filter_map(|point| point["value"].as_str().or(point.as_str()))
}

/// What a field holds in Pipedrive, for a reason.
fn shown(actual: &Json, field: &str) -> String {
    match actual.get(field) {
        None | Some(Json::Null) => "empty".to_owned(),
        Some(value) => value.to_string(),
    }
}

/// A text-like value against what a field holds: by the source's type (emails case-insensitive,
/// phones by digits, numbers by value, datetimes by the instant), else as text.
fn same_text(value: &Value, ty: FieldType, actual: &Json) -> bool {
    // A location or an address may come as an object with its text in `value`.
    let actual = actual.get("value").unwrap_or(actual);
    let Some(actual_text) = actual.as_str().map(str::to_owned).or_else(|| actual.as_f64().map(|n| n.to_string()))
    else {
        return false;
    };
    let source = text(&plain(value));
    match (value, ty) {
        (_, FieldType::Email) => text(&actual_text).to_lowercase() == source.to_lowercase(),
        (_, FieldType::Phone) if !digits(&source).is_empty() => digits(&actual_text) == digits(&source),
        (Value::Number(number), _) => number_of(actual).is_some_and(|actual| same_number(*number, actual)),
        (Value::DateTime(_) | Value::Date(_), _) => same_instant(value, actual) || text(&actual_text) == source,
        _ => text(&actual_text) == source,
    }
}

/// The same UTC instant at the second; a date alone: the same day.
fn same_instant(value: &Value, actual: &Json) -> bool {
    let Some(actual) = actual.as_str().map(str::trim) else { return false };
    match value {
        Value::DateTime(datetime) => match crate::extract::values::parse_moment(actual) {
            Some(crate::extract::values::Moment::DateTime { value, .. }) => {
                value.unix_millis.div_euclid(1000) == datetime.unix_millis.div_euclid(1000)
            }
            _ => pipedrive_seconds(actual).is_some_and(|seconds| seconds == utc_seconds(datetime)),
        },
        Value::Date(date) => actual.get(..10) == Some(date.to_string().as_str()),
        _ => false,
    }
}

/// The same UTC day.
fn same_day(value: &Value, actual: &Json) -> bool {
    let day = match value {
        Value::DateTime(datetime) => utc_seconds(datetime)[..10].to_owned(),
        Value::Date(date) => date.to_string(),
        _ => return false,
    };
    actual.as_str().and_then(|text| text.trim().get(..10)) == Some(day.as_str())
}

/// A value against its custom field: by the field's type.
fn custom(target: &CustomTarget, value: &Value, ty: FieldType, fields: &Json, name: &str) -> Outcome {
    let actual = &fields[&target.code];
    let landed = match target.field_type.as_str() {
        "double" | "int" | "monetary" => match value {
            Value::Number(number) => number_of(actual).is_some_and(|actual| same_number(*number, actual)),
            _ => same_text(value, ty, actual),
        },
        "date" => {
            let day = same_day(value, actual);
            match (value, &target.time_code) {
                (Value::DateTime(datetime), Some(time_code)) => {
                    let time = utc_seconds(datetime)[11..].to_owned();
                    day && fields[time_code]
                        .as_str()
                        .is_some_and(|actual| !actual.is_empty() && time.starts_with(actual.trim()))
                }
                _ => day,
            }
        }
        "time" => match value {
            Value::DateTime(datetime) => actual
                .as_str()
                .is_some_and(|actual| !actual.is_empty() && utc_seconds(datetime)[11..].starts_with(actual.trim())),
            _ => false,
        },
        "enum" => {
            let label = option_label(target, actual.as_u64());
            label.is_some_and(|label| label == expected_label(target, &plain(value)))
        }
        "set" => {
            let mut have: Vec<String> =
                actual.as_array().into_iter().flatten().filter_map(|id| option_label(target, id.as_u64())).collect();
            let mut wanted: Vec<String> = match value {
                Value::Choices(choices) => choices.iter().map(|choice| expected_label(target, choice)).collect(),
                other => vec![expected_label(target, &plain(other))],
            };
            have.sort();
            have.dedup();
            wanted.sort();
            wanted.dedup();
            have == wanted
        }
        _ => same_text(value, ty, actual),
    };
    if landed {
        Outcome::Field
    } else {
        Outcome::Missing(format!(
            "field '{name}' in Pipedrive: {}",
            if actual.is_null() { "empty".to_owned() } else { actual.to_string() }
        ))
    }
}

fn option_label(target: &CustomTarget, id: Option<u64>) -> Option<String> {
    let id = id?;
    target.options.iter().find(|(_, option)| **option == id).map(|(label, _)| label.clone())
}

/// The option label a source value is written as: the mapping's `values` first, booleans as
/// Yes/No; lower case.
fn expected_label(target: &CustomTarget, value: &str) -> String {
    let label = target
        .values
        .iter()
        .find(|(from, _)| from.trim().eq_ignore_ascii_case(value.trim()))
        .map_or(value, |(_, to)| to.as_str());
    match label.trim().to_lowercase().as_str() {
        "true" => "yes".to_owned(),
        "false" => "no".to_owned(),
        other => other.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// At 100,000 contacts the export's ids overlap between objects (the scale bench): a company
    /// whose id a merged contact also has was looked for as that contact's survivor, and verify
    /// reported its links missing (exit 8) though apply had linked them right.
    #[test]
    fn a_link_to_a_company_whose_id_a_merged_contact_has_is_to_that_company() {
        let mut source = Source::default();
        source.survivors.insert("570".into(), "10001".into());
        source.survivors.insert("10002".into(), "10001".into());
        let (mapping, targets) = (Mapping::default(), Targets::default());
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::read(crate::state::State::open(dir.path()).unwrap());
        let (listed, parents) = (Spool::new().unwrap(), HashMap::new());
        let markers = HashMap::from([
            (ObjectKind::Company, HashMap::from([(70, "570".to_owned())])),
            (ObjectKind::Contact, HashMap::from([(80, "10001".to_owned())])),
        ]);
        let context = Context {
            mapping: &mapping,
            targets: &targets,
            source: &source,
            journal: &journal,
            listed: &listed,
            markers: &markers,
            parents: &parents,
        };
        let checker = Checker::with(&context, HashMap::new(), HashMap::new(), HashSet::new());
        assert_eq!(checker.link(ObjectKind::Company, "570", &[Some(70)], "org_id"), Outcome::Field);
        // A merged contact's link is to its survivor.
        assert_eq!(checker.link(ObjectKind::Contact, "10002", &[Some(80)], "person_id"), Outcome::Field);
    }

    /// At 1,000,000 contacts the coverage held the journal's entries of every record of every
    /// object at once (hundreds of MB): it holds a chunk's now, and reads a linked record's own
    /// entry when a link is not found.
    #[test]
    fn the_coverage_holds_the_journal_entries_of_a_chunk_not_of_the_export() {
        let dir = tempfile::tempdir().unwrap();
        let journal =
            Journal::start(crate::state::State::open(dir.path()).unwrap(), crate::journal::RunKind::Full, "").unwrap();
        let contacts = 3 * CHUNK + 7;
        for n in 0..contacts {
            journal.set(ObjectKind::Contact, &n.to_string(), Fate::Created, Some(n as u64 + 1), None).unwrap();
        }
        journal.set(ObjectKind::Company, "c1", Fate::Quarantined, None, Some("a bad value")).unwrap();
        let (mapping, targets, source) = (Mapping::default(), Targets::default(), Source::default());
        let (listed, parents, markers) = (Spool::new().unwrap(), HashMap::new(), HashMap::new());
        let context = Context {
            mapping: &mapping,
            targets: &targets,
            source: &source,
            journal: &journal,
            listed: &listed,
            markers: &markers,
            parents: &parents,
        };
        let checker = Checker::new(&context).unwrap();
        let records: Vec<Record> = (0..contacts).map(|n| Record::new(ObjectKind::Contact, n.to_string())).collect();
        for chunk in records.chunks(CHUNK) {
            checker.read_entries(ObjectKind::Contact, chunk.iter()).unwrap();
            let entries = checker.entries.borrow();
            assert_eq!(entries.len(), chunk.len());
            assert!(chunk.iter().all(|record| entries[&record.source_id].fate == Fate::Created));
        }
        assert_eq!(checker.held.get(), CHUNK, "{contacts} contacts' entries, one chunk's held at a time");
        // A link to a company not in the chunk: its own entry says why it is not there.
        match checker.link(ObjectKind::Company, "c1", &[Some(5)], "org_id") {
            Outcome::LeftOut(kind, why) => {
                assert_eq!(kind, "links to a company not migrated");
                assert!(why.contains("quarantined: a bad value"), "{why}");
            }
            other => panic!("{other:?}"),
        }
        checker.failure().unwrap();
    }

    #[test]
    fn a_note_reads_as_text_with_its_html_off_and_entities_unescaped() {
        let html = "<p><b>Anna</b>: a &lt;b&gt; &amp;lt; &#91;User.com x]<br>second   line</p><p>[User.com acme: activity 7]</p>";
        assert_eq!(note_text(html), "Anna : a <b> &lt; [User.com x] second line [User.com acme: activity 7]");
        assert!(in_note_text(&note_text(html), &Value::Text("a <b>  &lt;".into())));
        let at = DateTime { unix_millis: 1_709_285_400_000, offset_minutes: 60 };
        assert!(in_note_text("[2024-03-01 09:30 UTC] hi", &Value::DateTime(at)));
        assert!(in_note_text("created_at: 2024-03-01T09:30:00Z", &Value::DateTime(at)));
        assert!(!in_note_text("created_at: 2024-03-01T10:30:00Z", &Value::DateTime(at)));
    }

    #[test]
    fn a_role_gives_its_place_whatever_the_mapping_and_an_events_timestamp_only_without_a_start() {
        assert_eq!(role_place(ObjectKind::Event, "start", |_| true), Some(Role::Due));
        assert_eq!(role_place(ObjectKind::Event, "timestamp", |other| other == "start"), None);
        assert_eq!(role_place(ObjectKind::Event, "timestamp", |_| false), Some(Role::Due));
        assert_eq!(role_place(ObjectKind::Contact, "first_name", |_| false), Some(Role::Name));
        assert_eq!(role_place(ObjectKind::Contact, "city", |_| false), None);
        assert_eq!(role(Destination::Activity, "due_date"), Some(Role::Due));
    }

    #[test]
    fn a_persons_name_holds_the_contacts_name_once() {
        let contact = |fields: &[(&str, &str)]| {
            fields.iter().fold(Record::new(ObjectKind::Contact, "1"), |record, (field, value)| {
                record.with(field, Value::Text((*value).into()))
            })
        };
        let both = contact(&[("name", "Hanna Müller"), ("first_name", "Hanna"), ("last_name", "Müller")]);
        assert!(same_name(&both, "Hanna Müller", "Hanna Müller"));
        assert!(same_name(&both, "Hanna", "Hanna Müller"));
        assert!(!same_name(&both, "Hanna Müller", "Hanna Müller Hanna Müller"), "joined twice is not the name");
        assert!(!same_name(&both, "Müller", "Hanna Müller Hanna Müller"));
        let parts = contact(&[("first_name", "Jan"), ("last_name", "Kowalski")]);
        assert!(same_name(&parts, "Kowalski", "Kowalski Jan"));
        assert!(!same_name(&parts, "Jan", "Jan Kowalski Jan Kowalski"));
        assert!(!same_name(&parts, "Jan", "Janina Kowalska"));
        assert!(same_name(&contact(&[("name", "Ola")]), "Ola", "Ola"));
    }

    #[test]
    fn values_compare_by_their_kind() {
        assert!(same_text(
            &Value::Text(" Jan@Example.PL ".into()),
            FieldType::Email,
            &Json::String("jan@example.pl".into())
        ));
        assert!(same_text(
            &Value::Text("+48 500-000-001".into()),
            FieldType::Phone,
            &Json::String("48500000001".into())
        ));
        assert!(same_text(&Value::Text("a  b\n c".into()), FieldType::Text, &Json::String("a b c".into())));
        assert!(!same_text(&Value::Text("a b".into()), FieldType::Text, &Json::String("a c".into())));
        assert!(same_text(&Value::Number(12.5), FieldType::Number, &serde_json::json!(12.50)));
        let at = Value::DateTime(DateTime { unix_millis: 1_709_285_400_000, offset_minutes: 60 });
        assert!(same_instant(&at, &Json::String("2024-03-01T09:30:00Z".into())));
        assert!(same_instant(&at, &Json::String("2024-03-01 09:30:00".into())));
        assert!(!same_instant(&at, &Json::String("2024-03-01 10:30:00".into())));
        assert!(same_day(&at, &Json::String("2024-03-01".into())));
        assert_eq!(minutes_of("01:45"), Some(105));
        assert_eq!(number_of(&serde_json::json!({"value": 3.5, "currency": "PLN"})), Some(3.5));
    }
}
