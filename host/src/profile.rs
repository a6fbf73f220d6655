//! What the export holds, attribute by attribute: one streaming pass gathers what a mapping
//! proposal is decided on (type, fill, longest value, observed options, samples, values that did
//! not parse), and what the rest of the map needs: agents, activity types, deal statuses,
//! currencies, tag use and the number of conversations.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::extract::{Catalogue, Column, Export, ExtractError, FieldType, ReadRecord};
use crate::record::{ObjectKind, Record, Value};

/// Distinct values remembered per attribute; past this an attribute is not a choice list.
pub const DISTINCT_CAP: usize = 500;
/// Sample values shown per attribute.
const SAMPLES: usize = 3;

/// The deal fields the profile keeps of a deal with order lines or participants.
pub const KEPT: [&str; 4] = ["currency", "contact_id", "participants", "order_products"];

/// A deal with order lines or participants, with only [`KEPT`] fields; `None` for others.
pub fn kept(record: &Record) -> Option<Record> {
    let filled = |field: &str| record.get(field).is_some_and(|value| !matches!(value, Value::Null));
    if !filled("participants") && !filled("order_products") {
        return None;
    }
    let mut kept = Record::new(ObjectKind::Deal, record.source_id.clone());
    for field in KEPT {
        if let Some(value) = record.get(field) {
            kept.set(field, value.clone());
        }
    }
    Some(kept)
}

/// One attribute (column) of one object, as its values show it.
#[derive(Debug, Clone)]
pub struct AttributeProfile {
    pub column: Column,
    /// Records with a value.
    pub filled: u64,
    /// Values kept as raw text because they did not read as the column's type.
    pub unparsed: u64,
    /// Events (source ids) whose time here is after the export was taken: counted in `unparsed`.
    pub after_export: Vec<String>,
    /// Longest value, in characters.
    pub max_chars: usize,
    /// Datetimes whose time of day (in their own offset) is not midnight.
    pub with_time: u64,
    /// Numbers that are not whole.
    pub fractional: u64,
    /// Distinct values (each choice of a list counted on its own) and how many records hold
    /// each; empty for secrets. `distinct_overflow` when there were more than [`DISTINCT_CAP`].
    pub distinct: BTreeMap<String, u64>,
    pub distinct_overflow: bool,
    pub samples: Vec<String>,
}

impl AttributeProfile {
    fn new(column: Column) -> AttributeProfile {
        AttributeProfile {
            column,
            filled: 0,
            unparsed: 0,
            after_export: Vec::new(),
            max_chars: 0,
            with_time: 0,
            fractional: 0,
            distinct: BTreeMap::new(),
            distinct_overflow: false,
            samples: Vec::new(),
        }
    }

    pub fn field(&self) -> &str {
        &self.column.field
    }

    fn observe(&mut self, value: &Value) {
        if matches!(value, Value::Null) {
            return;
        }
        self.filled += 1;
        if self.column.ty == FieldType::Secret {
            return;
        }
        match value {
            Value::Choices(choices) => {
                for choice in choices {
                    self.remember(choice);
                }
            }
            Value::DateTime(datetime) => {
                let local_seconds =
                    (datetime.unix_millis / 1000 + i64::from(datetime.offset_minutes) * 60).rem_euclid(86_400);
                if local_seconds != 0 {
                    self.with_time += 1;
                }
                self.remember(&datetime.to_string());
            }
            Value::Number(number) => {
                if number.fract() != 0.0 {
                    self.fractional += 1;
                }
                self.remember(&number.to_string());
            }
            Value::Text(text) => {
                self.max_chars = self.max_chars.max(text.chars().count());
                self.remember(text);
            }
            other => self.remember(&plain(other)),
        }
    }

    fn remember(&mut self, text: &str) {
        if self.samples.len() < SAMPLES && !self.samples.iter().any(|sample| sample == text) {
            self.samples.push(text.chars().take(60).collect());
        }
        if let Some(count) = self.distinct.get_mut(text) {
            *count += 1;
        } else if self.distinct.len() < DISTINCT_CAP {
            self.distinct.insert(text.to_owned(), 1);
        } else {
            self.distinct_overflow = true;
        }
    }

    /// The observed options, most used first (ties by name), when the attribute is a choice list.
    pub fn options_by_use(&self) -> Vec<String> {
        let mut options: Vec<(&String, &u64)> = self.distinct.iter().collect();
        options.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        options.into_iter().map(|(option, _)| option.clone()).collect()
    }
}

/// A value as plain text (no quotes), as a person would type it.
pub fn plain(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Text(text) => text.clone(),
        Value::Choices(choices) => choices.join(", "),
        other => other.to_string(),
    }
}

/// One object file of the export.
#[derive(Debug, Clone)]
pub struct ObjectProfile {
    pub kind: ObjectKind,
    pub file: String,
    pub records: u64,
    /// In the file's column order, without the id column.
    pub attributes: Vec<AttributeProfile>,
}

impl ObjectProfile {
    pub fn attribute(&self, field: &str) -> Option<&AttributeProfile> {
        self.attributes.iter().find(|attribute| attribute.field() == field)
    }
}

/// The export, profiled.
#[derive(Debug, Clone, Default)]
pub struct SourceProfile {
    pub objects: Vec<ObjectProfile>,
    pub catalogue: Catalogue,
    /// Conversations (distinct conversation ids; each message its own when the file has none).
    pub conversations: u64,
    /// Agents (`assigned_to` values) and how many records each owns, over all objects.
    pub agents: BTreeMap<String, u64>,
    /// Activity type id -> the activity names used with it, and how often.
    pub activity_types: BTreeMap<String, BTreeMap<String, u64>>,
    /// Deal status code as written -> deals.
    pub deal_statuses: BTreeMap<String, u64>,
    /// Currency -> deals.
    pub currencies: BTreeMap<String, u64>,
    /// Per object: tag name -> records carrying it.
    pub tag_use: BTreeMap<ObjectKind, BTreeMap<String, u64>>,
    /// Contacts with both a full name and first/last name, and those where they disagree.
    pub names: NameAgreement,
    /// Deals with order lines or participants, with only the fields those are read with
    /// ([`KEPT`]): what plan counts and bills for them.
    pub deal_extras: Vec<Record>,
    /// File links in chat messages' content (attachments, see `crate::attachments`).
    pub file_links: Vec<crate::attachments::Link>,
}

/// Examples of contacts whose names disagree, listed in the plan.
const NAME_EXAMPLES: usize = 10;

/// Whether a contact's full name is its first and last name: one role, so where the two say
/// different things the rule in `[names]` picks one and the records are listed (by id only).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct NameAgreement {
    /// Contacts with a full name and at least one of first and last name.
    pub both: u64,
    /// Of those, the ones whose full name is not first + " " + last (case and spaces aside).
    pub disagree: u64,
    /// The first of them, by source id.
    pub examples: Vec<String>,
}

impl NameAgreement {
    fn observe(&mut self, source_id: &str, full: Option<String>, first: Option<String>, last: Option<String>) {
        let Some(full) = full else { return };
        if first.is_none() && last.is_none() {
            return;
        }
        self.both += 1;
        let squeeze = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
        let parts = [first, last].into_iter().flatten().collect::<Vec<_>>().join(" ");
        if squeeze(&full) != squeeze(&parts) {
            self.disagree += 1;
            if self.examples.len() < NAME_EXAMPLES {
                self.examples.push(source_id.to_owned());
            }
        }
    }
}

impl SourceProfile {
    pub fn object(&self, kind: ObjectKind) -> Option<&ObjectProfile> {
        self.objects.iter().find(|object| object.kind == kind)
    }

    pub fn records(&self, kind: ObjectKind) -> u64 {
        self.object(kind).map_or(0, |object| object.records)
    }

    /// The currency most deals use (the one money without a currency is taken to be in).
    pub fn main_currency(&self) -> Option<&str> {
        self.currencies.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))).map(|(currency, _)| currency.as_str())
    }
}

/// Told, while the export is read, the file, the records read so far, and whether the file is done.
pub type ReadProgress<'a> = &'a mut dyn FnMut(&str, u64, bool);

/// Records between two progress reports within a file.
const PROGRESS_EVERY: u64 = 100_000;

/// Reads the whole export once. Memory grows with distinct values (capped per attribute), not
/// with records (deals with order lines or participants aside: those columns are kept).
pub fn profile(export: &Export, progress: ReadProgress<'_>) -> Result<SourceProfile, ExtractError> {
    let mut profile = SourceProfile { catalogue: export.catalogue()?, ..SourceProfile::default() };
    let mut conversation_ids = BTreeSet::new();
    for kind in ObjectKind::ALL {
        let Some(mut reader) = export.records(kind)? else { continue };
        let file = reader.path().file_name().map_or_else(String::new, |name| name.to_string_lossy().into_owned());
        let mut attributes: Vec<AttributeProfile> = reader
            .columns()
            .iter()
            .filter(|column| column.ty != FieldType::Id)
            .cloned()
            .map(AttributeProfile::new)
            .collect();
        let index: HashMap<String, usize> =
            attributes.iter().enumerate().map(|(i, attribute)| (attribute.field().to_owned(), i)).collect();
        let mut read = ReadRecord::new(kind);
        let mut records = 0;
        progress(&file, 0, false);
        while reader.read_into(&mut read)? {
            records += 1;
            if records % PROGRESS_EVERY == 0 {
                progress(&file, records, false);
            }
            for issue in &read.issues {
                if let Some(&i) = index.get(&issue.field) {
                    attributes[i].unparsed += 1;
                    if crate::extract::export_time::is_after_export(issue) {
                        attributes[i].after_export.push(read.record.source_id.clone());
                    }
                }
            }
            for (field, value) in &read.record.fields {
                // A value that did not read as its type is quarantined at apply: it is no option.
                if let Some(&i) = index.get(field).filter(|_| !read.issues.iter().any(|issue| issue.field == *field)) {
                    attributes[i].observe(value);
                }
            }
            let record = &read.record;
            let text = |field: &str| record.get(field).map(plain).filter(|text| !text.trim().is_empty());
            if let Some(agent) = text("assigned_to") {
                *profile.agents.entry(agent.trim().to_lowercase()).or_default() += 1;
            }
            if let Some(Value::Choices(tags)) = record.get("tags") {
                for tag in tags {
                    *profile.tag_use.entry(kind).or_default().entry(tag.clone()).or_default() += 1;
                }
            }
            match kind {
                ObjectKind::Contact => {
                    profile.names.observe(&record.source_id, text("name"), text("first_name"), text("last_name"))
                }
                ObjectKind::Deal => {
                    if let Some(status) = text("status") {
                        *profile.deal_statuses.entry(status).or_default() += 1;
                    }
                    if let Some(currency) = text("currency") {
                        *profile.currencies.entry(currency.trim().to_uppercase()).or_default() += 1;
                    }
                    profile.deal_extras.extend(kept(record));
                }
                ObjectKind::Activity => {
                    let type_id = text("activity_type").unwrap_or_default();
                    let name = text("name").unwrap_or_default();
                    *profile.activity_types.entry(type_id).or_default().entry(name).or_default() += 1;
                }
                ObjectKind::Conversation => {
                    match text("conversation_id") {
                        Some(id) => {
                            conversation_ids.insert(id);
                        }
                        None => profile.conversations += 1,
                    }
                    profile.file_links.extend(crate::attachments::links_in(&text("content").unwrap_or_default()));
                }
                _ => {}
            }
        }
        progress(&file, records, true);
        profile.objects.push(ObjectProfile { kind, file, records, attributes });
    }
    profile.conversations += conversation_ids.len() as u64;
    Ok(profile)
}
