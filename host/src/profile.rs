//! What the export holds, attribute by attribute: one streaming pass gathers what a mapping
//! proposal is decided on (type, fill, longest value, observed options, samples, values that did
//! not parse), and what the rest of the map needs: agents, activity types, deal statuses,
//! currencies, tag use and the number of conversations.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use rustc_hash::FxHashMap;

use crate::audit::Observer;
use crate::extract::{Catalogue, Column, Export, ExtractError, FieldType, ReadRecord, RecordReader};
use crate::record::{ObjectKind, Record, Value};

/// Distinct values remembered per attribute; past this an attribute is not a choice list.
pub const DISTINCT_CAP: usize = 500;
/// Sample values shown per attribute.
const SAMPLES: usize = 3;
/// A sample's first characters, all that is kept of it.
const SAMPLE_CHARS: usize = 60;

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
    /// `distinct` while the export is read, found by hash (a value a lookup, not a walk of
    /// string comparisons); moved into `distinct` when the file is read.
    counting: FxHashMap<String, u64>,
    /// A value written out as text, reused (no allocation per number or datetime).
    scratch: String,
    /// The counted texts of numbers, dates, times and booleans, by value: a value seen before
    /// is counted again without being written out.
    written: FxHashMap<Written, Box<str>>,
    /// Whether `counting` holds a text that no key of `written` leads to (a text value, a
    /// choice, a long number): a value new to `written` may then still be counted already.
    unkeyed: bool,
}

/// A number, date, time or boolean by what its text is made of: two values have one key exactly
/// when they have one text (a time's text is to the second, so its milliseconds are left out).
/// Values whose text is not so made (not a number, a date off the calendar) have none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Written {
    Number(u64),
    Boolean(bool),
    Date(i32, u8, u8),
    DateTime(i64, i16),
}

impl Written {
    fn of(value: &Value) -> Option<Written> {
        match value {
            Value::Number(number) if !number.is_nan() => Some(Written::Number(number.to_bits())),
            Value::Boolean(boolean) => Some(Written::Boolean(*boolean)),
            Value::Date(date) if date.check().is_ok() => Some(Written::Date(date.year, date.month, date.day)),
            Value::DateTime(datetime) if datetime.check().is_ok() => {
                Some(Written::DateTime(datetime.unix_millis.div_euclid(1000), datetime.offset_minutes))
            }
            _ => None,
        }
    }
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
            counting: FxHashMap::default(),
            scratch: String::new(),
            written: FxHashMap::default(),
            unkeyed: false,
        }
    }

    /// The file is read: the values counted go where the plan reads them.
    fn counted(&mut self) {
        self.distinct = std::mem::take(&mut self.counting).into_iter().collect();
        self.scratch = String::new();
        self.written = FxHashMap::default();
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
                    self.unkeyed |= self.remember(choice);
                }
            }
            Value::DateTime(datetime) => {
                let local_seconds =
                    (datetime.unix_millis / 1000 + i64::from(datetime.offset_minutes) * 60).rem_euclid(86_400);
                if local_seconds != 0 {
                    self.with_time += 1;
                }
                self.remember_written(datetime, Written::of(value));
            }
            Value::Number(number) => {
                if number.fract() != 0.0 {
                    self.fractional += 1;
                }
                self.remember_written(number, Written::of(value));
            }
            Value::Text(text) => {
                self.max_chars = self.max_chars.max(text.chars().count());
                self.unkeyed |= self.remember(text);
            }
            Value::Boolean(_) | Value::Date(_) => self.remember_written(value, Written::of(value)),
            Value::Null => {}
        }
    }

    /// [`AttributeProfile::remember`] of a value's text ([`plain`]'s), written out only when
    /// `written` does not know it already.
    fn remember_written(&mut self, value: &dyn std::fmt::Display, key: Option<Written>) {
        if let Some(key) = key {
            if let Some(text) = self.written.get(&key) {
                // Remembered before: among the samples already (or they were full), and counted.
                *self.counting.get_mut(&**text).expect("a written value's text is counted") += 1;
                return;
            }
            if !self.unkeyed && self.counting.len() >= DISTINCT_CAP && self.samples.len() >= SAMPLES {
                // Every counted text has its key in `written`, so this text is not counted, and
                // there is room for it neither among the samples nor among the distinct values.
                self.distinct_overflow = true;
                return;
            }
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let _ = write!(scratch, "{value}");
        self.remember(&scratch);
        if self.counting.contains_key(scratch.as_str()) {
            // A sample is cut to its first characters: a longer text is compared with the samples each time.
            match key.filter(|_| scratch.chars().count() <= SAMPLE_CHARS) {
                Some(key) => {
                    self.written.insert(key, scratch.as_str().into());
                }
                None => self.unkeyed = true,
            }
        }
        self.scratch = scratch;
    }

    /// Counts `text` (and keeps it as a sample while there is room); whether it was new to `counting`.
    fn remember(&mut self, text: &str) -> bool {
        if self.samples.len() < SAMPLES && !self.samples.iter().any(|sample| sample == text) {
            self.samples.push(text.chars().take(SAMPLE_CHARS).collect());
        }
        if let Some(count) = self.counting.get_mut(text) {
            *count += 1;
            false
        } else if self.counting.len() < DISTINCT_CAP {
            self.counting.insert(text.to_owned(), 1);
            true
        } else {
            self.distinct_overflow = true;
            false
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
    let mut profiler = Profiler::new(export.catalogue()?, progress);
    for kind in ObjectKind::ALL {
        let Some(mut reader) = export.records(kind)? else { continue };
        profiler.opened(kind, &reader);
        let mut read = ReadRecord::new(kind);
        while reader.read_into(&mut read)? {
            profiler.record(kind, &read);
        }
        profiler.closed(kind, &reader);
    }
    Ok(profiler.finish())
}

/// The profile, gathered record by record from whoever reads the export: [`profile`] on its
/// own, or the audit's read (plan's, which needs both: one read instead of two).
pub struct Profiler<'a> {
    profile: SourceProfile,
    conversation_ids: BTreeSet<String>,
    /// The file being read.
    file: Option<FileProfile>,
    progress: ReadProgress<'a>,
}

/// One file's attributes while it is read.
struct FileProfile {
    file: String,
    records: u64,
    attributes: Vec<AttributeProfile>,
    /// Field name -> its attribute (the last of a repeated name).
    index: HashMap<String, usize>,
    /// The record's n-th field (the reader's layout: its columns without the id) -> its attribute.
    by_position: Vec<usize>,
}

impl<'a> Profiler<'a> {
    pub fn new(catalogue: Catalogue, progress: ReadProgress<'a>) -> Profiler<'a> {
        Profiler {
            profile: SourceProfile { catalogue, ..SourceProfile::default() },
            conversation_ids: BTreeSet::new(),
            file: None,
            progress,
        }
    }

    /// The profile of the files read, in [`ObjectKind::ALL`]'s order whatever the order they were read in.
    pub fn finish(mut self) -> SourceProfile {
        let position = |kind: ObjectKind| ObjectKind::ALL.iter().position(|&other| other == kind);
        self.profile.objects.sort_by_key(|object| position(object.kind));
        self.profile.conversations += self.conversation_ids.len() as u64;
        self.profile
    }
}

impl Observer for Profiler<'_> {
    fn opened(&mut self, _: ObjectKind, reader: &RecordReader) {
        let file = reader.path().file_name().map_or_else(String::new, |name| name.to_string_lossy().into_owned());
        let attributes: Vec<AttributeProfile> = reader
            .columns()
            .iter()
            .filter(|column| column.ty != FieldType::Id)
            .cloned()
            .map(AttributeProfile::new)
            .collect();
        let index: HashMap<String, usize> =
            attributes.iter().enumerate().map(|(i, attribute)| (attribute.field().to_owned(), i)).collect();
        let by_position = attributes.iter().map(|attribute| index[attribute.field()]).collect();
        (self.progress)(&file, 0, false);
        self.file = Some(FileProfile { file, records: 0, attributes, index, by_position });
    }

    fn record(&mut self, kind: ObjectKind, read: &ReadRecord) {
        let Some(FileProfile { file, records, attributes, index, by_position }) = &mut self.file else { return };
        let profile = &mut self.profile;
        *records += 1;
        if *records % PROGRESS_EVERY == 0 {
            (self.progress)(file, *records, false);
        }
        for issue in &read.issues {
            if let Some(&i) = index.get(&issue.field) {
                attributes[i].unparsed += 1;
                if crate::extract::export_time::is_after_export(issue) {
                    attributes[i].after_export.push(read.record.source_id.clone());
                }
            }
        }
        // The reader lays its columns out in order: the n-th field is the n-th attribute's, and
        // only cells beyond the header (named `column_N`) are found by name.
        for (position, (field, value)) in read.record.fields.iter().enumerate() {
            let Some(i) = by_position.get(position).copied().or_else(|| index.get(field).copied()) else { continue };
            // A value that did not read as its type is quarantined at apply: it is no option.
            if read.issues.iter().any(|issue| issue.field == *field) {
                continue;
            }
            attributes[i].observe(value);
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
                        self.conversation_ids.insert(id);
                    }
                    None => profile.conversations += 1,
                }
                profile.file_links.extend(crate::attachments::links_in(&text("content").unwrap_or_default()));
            }
            _ => {}
        }
    }

    fn closed(&mut self, kind: ObjectKind, _: &RecordReader) {
        let Some(FileProfile { file, records, mut attributes, .. }) = self.file.take() else { return };
        for attribute in &mut attributes {
            attribute.counted();
        }
        (self.progress)(&file, records, true);
        self.profile.objects.push(ObjectProfile { kind, file, records, attributes });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::{ExportOptions, Origin};
    use crate::record::{Date, DateTime};

    /// Counts and samples as they were first written: every value written out and looked up.
    fn counted_as_text(values: &[Value]) -> (BTreeMap<String, u64>, bool, Vec<String>) {
        let (mut distinct, mut overflow, mut samples) = (BTreeMap::new(), false, Vec::<String>::new());
        for value in values {
            let texts = match value {
                Value::Choices(choices) => choices.clone(),
                other => vec![plain(other)],
            };
            for text in texts {
                if samples.len() < SAMPLES && !samples.contains(&text) {
                    samples.push(text.chars().take(SAMPLE_CHARS).collect());
                }
                if let Some(count) = distinct.get_mut(&text) {
                    *count += 1;
                } else if distinct.len() < DISTINCT_CAP {
                    distinct.insert(text, 1);
                } else {
                    overflow = true;
                }
            }
        }
        (distinct, overflow, samples)
    }

    fn profiled(values: &[Value]) -> AttributeProfile {
        let column = Column {
            index: 1,
            header: "mixed".into(),
            field: "mixed".into(),
            ty: FieldType::Text,
            options: Vec::new(),
            origin: Origin::Inferred { sampled: 0 },
        };
        let mut attribute = AttributeProfile::new(column);
        for value in values {
            attribute.observe(value);
        }
        attribute.counted();
        attribute
    }

    #[test]
    fn values_counted_by_their_value_are_counted_as_their_text() {
        let at = |seconds: i64, millis: i64, offset_minutes: i16| {
            Value::DateTime(DateTime { unix_millis: seconds * 1000 + millis, offset_minutes })
        };
        let long_number = Value::Number(1e100);
        let mut orders: Vec<Vec<Value>> = Vec::new();
        // One second written with and without its milliseconds, before and after it is counted;
        // the same time as text; a number longer than a sample; NaN and -0.
        let firsts = vec![
            at(1_700_000_000, 0, 60),
            at(1_700_000_000, 999, 60),
            Value::Text(plain(&at(1_700_000_000, 0, 60))),
            at(-1, 500, 0),
            at(-1, 0, 0),
            long_number.clone(),
            long_number.clone(),
            Value::Number(f64::NAN),
            Value::Number(-f64::NAN),
            Value::Number(-0.0),
            Value::Number(0.0),
            Value::Boolean(true),
            Value::Date(Date { year: 2024, month: 2, day: 29 }),
            Value::Date(Date { year: 2024, month: 2, day: 29 }),
        ];
        // Past the cap of distinct values: the counted ones go on being counted, the new ones not.
        let many: Vec<Value> = (0..DISTINCT_CAP as i64 + 50).map(|n| at(1_600_000_000 + n * 61, n % 1000, 0)).collect();
        orders.push(firsts.iter().chain(&many).chain(&firsts).chain(&many).cloned().collect());
        orders.push(many.iter().chain(&firsts).chain(&many).chain(&firsts).cloned().collect());
        // Only times (every counted text has its value's key), past the cap.
        orders.push(many.iter().chain(&many).chain(&many[..10]).cloned().collect());
        // A time counted before, written with other milliseconds, once the cap is reached.
        orders.push(many.iter().chain([&at(1_600_000_000, 999, 0)]).cloned().collect());
        for values in orders {
            let attribute = profiled(&values);
            let (distinct, overflow, samples) = counted_as_text(&values);
            assert_eq!(attribute.distinct, distinct);
            assert_eq!(attribute.distinct_overflow, overflow);
            assert_eq!(attribute.samples, samples);
        }
    }

    #[test]
    fn the_profile_in_the_audits_read_is_the_profile_read_alone() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/usercom-export");
        let export = Export::open(&dir, ExportOptions::default()).unwrap();
        let alone = profile(&export, &mut |_: &str, _: u64, _: bool| {}).unwrap();
        let mut quiet = |_: &str, _: u64, _: bool| {};
        let mut profiler = Profiler::new(export.catalogue().unwrap(), &mut quiet);
        crate::audit::run_observed(&export, std::io::sink(), &mut profiler).unwrap();
        assert_eq!(format!("{:?}", profiler.finish()), format!("{alone:?}"));
    }
}
