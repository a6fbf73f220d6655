//! Audits a User.com export before anything moves: what it holds, what is wrong with it, which
//! contacts User.com bills for, and what a person must rebuild by hand in Pipedrive.
//!
//! [`run`] reads every file once, streaming (the reader's records are reused, so memory grows
//! only with what must be remembered: about 70 bytes per contact for the duplicate and
//! orphan checks, a bit per numeric id for the duplicate-id check), and writes the billing CSV
//! as it goes; a file with a duplicated id is read a second time, for the lines of that id. [`report`] turns the result into
//! `audit.md` for people and `audit.json` for machines. Nothing else is written.

pub mod report;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::io::Write;

use crate::extract::catalogue::{Automation, EmailTemplate, Pipeline, Segment, Stage, Tag};
use crate::extract::{
    Column, Export, ExtractError, FieldType, FileKind, Issue, Origin, ReadRecord, RecordReader, Target,
};
use crm_migrate_core::record::{ObjectKind, Value};
use crm_migrate_core::report_csv::write_report_row;

/// Examples kept per field or per kind of orphan.
pub const EXAMPLES: usize = 5;

/// Contacts read before the room for all of them is made ([`State::reserve_contacts`]).
const RESERVE_AFTER: u64 = 1024;

/// Everything the audit found, as `audit.json` has it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Audit {
    pub export: String,
    pub files: Vec<FileReport>,
    pub missing_files: Vec<FileKind>,
    pub ignored_files: Vec<crate::extract::IgnoredFile>,
    /// Rows per object, plus `conversations` (distinct conversations among the messages).
    pub counts: BTreeMap<String, u64>,
    pub duplicates: Duplicates,
    /// Source ids that more than one row of one file has: apply quarantines every such row.
    pub duplicate_ids: Vec<DuplicateId>,
    pub orphans: Vec<Orphans>,
    pub mismatches: Vec<FieldIssues>,
    pub inferred_columns: Vec<InferredColumn>,
    pub zoneless_datetimes: Vec<ZonelessDatetimes>,
    pub billing: Billing,
    pub inventory: Inventory,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct FileReport {
    pub kind: FileKind,
    pub file: String,
    pub encoding: String,
    pub encoding_source: crate::extract::EncodingSource,
    pub delimiter: String,
    /// Data rows (records for object files).
    pub rows: u64,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Duplicates {
    /// Contacts sharing an email, compared trimmed and in lower case.
    pub by_email: Vec<DuplicateGroup>,
    /// Contacts sharing a phone number, compared by its last 9 digits (all digits when it has
    /// 7 or 8; shorter numbers are not compared).
    pub by_phone: Vec<DuplicateGroup>,
}

/// One source id on several rows of one file (a broken export, or rows edited by hand).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DuplicateId {
    pub object: ObjectKind,
    pub file: String,
    pub id: String,
    pub lines: Vec<u64>,
}

impl DuplicateId {
    /// `users.csv: 10000 on lines 2, 502`
    pub fn describe(&self) -> String {
        let lines: Vec<String> = self.lines.iter().map(u64::to_string).collect();
        format!("{}: {} on lines {}", self.file, self.id, lines.join(", "))
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct DuplicateGroup {
    /// The normalized email or phone digits the contacts share.
    pub key: String,
    pub contacts: Vec<ContactRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ContactRef {
    pub id: String,
    pub line: u64,
}

/// References from one field to records that are not in the export.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Orphans {
    pub object: ObjectKind,
    pub field: String,
    pub target: Target,
    pub count: u64,
    pub examples: Vec<OrphanExample>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct OrphanExample {
    pub id: String,
    pub line: u64,
    pub missing_id: String,
}

/// Values of one field that do not match its type (or rows that do not match the header).
#[derive(Debug, Clone, serde::Serialize)]
pub struct FieldIssues {
    pub object: String,
    pub file: String,
    pub field: String,
    pub column: String,
    pub expected: String,
    pub count: u64,
    pub examples: Vec<IssueExample>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct IssueExample {
    pub line: u64,
    pub value: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct InferredColumn {
    pub object: ObjectKind,
    pub column: String,
    pub field: String,
    #[serde(rename = "type")]
    pub ty: &'static str,
    /// Non-empty values the type was inferred from.
    pub sampled: usize,
}

/// Datetimes written without a zone in one field, read as UTC.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ZonelessDatetimes {
    pub object: ObjectKind,
    pub field: String,
    pub count: u64,
}

/// Which contacts User.com counts as billable: a contact with any of an email, a phone number,
/// a user_id, a chat message it wrote (or a `last_heard` time), a web push subscription or an
/// FCM key (docs.user.com, "How do we calculate the price").
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Billing {
    pub contacts: u64,
    pub billable: u64,
    pub not_billable: u64,
    /// Contacts per reason; a contact can have several.
    pub reasons: BTreeMap<String, u64>,
}

/// The reasons, in the order the billing CSV and the reports list them.
pub const BILLING_REASONS: [&str; 6] = ["email", "phone", "user_id", "chat", "web_push", "fcm"];

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Inventory {
    pub custom_attributes: Vec<CustomAttribute>,
    pub pipelines: Vec<PipelineWithStages>,
    pub tags: Vec<Tag>,
    pub segments: Vec<Segment>,
    pub automations: Vec<Automation>,
    pub email_templates: Vec<EmailTemplate>,
    /// Problems in the attribute definitions file itself.
    pub definition_issues: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct CustomAttribute {
    /// `contact`, `company`, ...; the definition's content type when no file of ours has it.
    pub object: String,
    pub name: String,
    pub field: String,
    #[serde(rename = "type")]
    pub ty: String,
    pub options: Vec<String>,
    /// `definition` (attributes.csv), `inferred` (a column no definition names), or
    /// `definition, no column` (defined, but in no exported file).
    pub source: String,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct PipelineWithStages {
    #[serde(flatten)]
    pub pipeline: Pipeline,
    pub stages: Vec<Stage>,
}

/// Sees each record as the audit reads it, so that another pass over the export (plan's
/// profile) is made in the audit's read instead of a read of its own.
pub trait Observer {
    /// A file of `kind` is opened: its columns are `reader`'s.
    fn opened(&mut self, kind: ObjectKind, reader: &RecordReader);
    fn record(&mut self, kind: ObjectKind, read: &ReadRecord);
    /// The file of `kind` is read to its end.
    fn closed(&mut self, kind: ObjectKind, reader: &RecordReader);
    /// Whether [`Observer::record`] looks at every field. When not, records hold only the
    /// fields the audit reads ([`RecordReader::type_only`]): the others are checked, not stored.
    fn wants_records(&self) -> bool {
        true
    }
}

/// No one else looks.
impl Observer for () {
    fn opened(&mut self, _: ObjectKind, _: &RecordReader) {}
    fn record(&mut self, _: ObjectKind, _: &ReadRecord) {}
    fn closed(&mut self, _: ObjectKind, _: &RecordReader) {}
    fn wants_records(&self) -> bool {
        false
    }
}

/// Reads the whole export and audits it, writing one CSV row per billable contact to `billing`.
pub fn run(export: &Export, billing: impl Write) -> Result<Audit, AuditError> {
    run_observed(export, billing, &mut ())
}

/// [`run`], showing `observer` each record read (files in the audit's order, see below).
pub fn run_observed(export: &Export, billing: impl Write, observer: &mut impl Observer) -> Result<Audit, AuditError> {
    let mut billing_csv = csv::Writer::from_writer(billing);
    write_report_row(&mut billing_csv, ["contact_id", "line", "email", "phone_number", "user_id", "reasons"])
        .map_err(AuditError::billing)?;
    let catalogue = export.catalogue()?;
    let mut state = State::default();
    // A reference can only be checked against a file the export has.
    for (target, kind) in [
        (Target::Contact, FileKind::Contacts),
        (Target::Company, FileKind::Companies),
        (Target::Deal, FileKind::Deals),
        (Target::Pipeline, FileKind::Pipelines),
        (Target::Stage, FileKind::Stages),
    ] {
        if export.file(kind).is_some() {
            state.checkable[target as usize] = true;
        }
    }
    for pipeline in &catalogue.pipelines {
        state.pipelines.insert(id_hash(&pipeline.id));
    }
    for stage in &catalogue.stages {
        state.stages.insert(id_hash(&stage.id));
    }
    let mut rows: HashMap<FileKind, u64> = HashMap::new();
    rows.insert(FileKind::Pipelines, catalogue.pipelines.len() as u64);
    rows.insert(FileKind::Stages, catalogue.stages.len() as u64);
    rows.insert(FileKind::Tags, catalogue.tags.len() as u64);
    rows.insert(FileKind::Segments, catalogue.segments.len() as u64);
    rows.insert(FileKind::Automations, catalogue.automations.len() as u64);
    rows.insert(FileKind::EmailTemplates, catalogue.email_templates.len() as u64);
    rows.insert(FileKind::AttributeDefinitions, export.definitions.len() as u64);

    // Order matters: companies before contacts (contact -> company), conversations before
    // contacts (who wrote in chat is a billing reason), contacts and deals before activities.
    let order = [
        ObjectKind::Company,
        ObjectKind::Conversation,
        ObjectKind::Contact,
        ObjectKind::Deal,
        ObjectKind::Activity,
        ObjectKind::Event,
    ];
    let mut audit_columns: Vec<(ObjectKind, Vec<Column>)> = Vec::new();
    let mut duplicate_ids = Vec::new();
    for kind in order {
        let Some(reader) = export.records(kind)? else { continue };
        // The CSV parse on a thread of its own, overlapping the typing and the audit here.
        let mut reader = reader.parse_ahead()?;
        observer.opened(kind, &reader);
        let fields = FieldPositions::new(reader.columns());
        if !observer.wants_records() {
            reader.type_only(&fields.used());
        }
        let mut out = ReadRecord::new(kind);
        let file_name = reader.path().file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        // Ids seen, as keys (a bit per numeric id); an id seen again is looked up exactly below.
        let mut seen = IdSet::default();
        let mut seen_again: HashSet<String> = HashSet::new();
        let has_ids = reader.has_id_column();
        // Companies naming a parent company: checked once the whole file is read (a parent may
        // come later in it).
        let mut with_parents: Vec<ReadRecord> = Vec::new();
        while reader.read_into(&mut out)? {
            if has_ids {
                let key = id_hash(&out.record.source_id);
                if seen.contains(&key) {
                    seen_again.insert(out.record.source_id.clone());
                } else {
                    seen.insert(key);
                }
            }
            for issue in &out.issues {
                state.add_issue(kind, &file_name, issue);
            }
            if kind == ObjectKind::Contact && reader.stats.rows == RESERVE_AFTER {
                state.reserve_contacts(reader.rows_estimate().unwrap_or(0));
            }
            match kind {
                ObjectKind::Company => {
                    state.companies.insert(id_hash(&out.record.source_id));
                    if fields
                        .references
                        .iter()
                        .any(|(at, ..)| matches!(out.record.fields.get(*at), Some((_, Value::Text(_)))))
                    {
                        with_parents.push(out.clone());
                    }
                }
                ObjectKind::Conversation => state.conversation(&out, &fields),
                ObjectKind::Contact => state.contact(&out, &fields, &mut billing_csv)?,
                ObjectKind::Deal => {
                    state.deals.insert(id_hash(&out.record.source_id));
                    state.check_references(&out, &fields);
                }
                ObjectKind::Activity | ObjectKind::Event => state.check_references(&out, &fields),
            }
            observer.record(kind, &out);
        }
        observer.closed(kind, &reader);
        for company in &with_parents {
            state.check_references(company, &fields);
        }
        rows.insert(FileKind::for_object(kind), reader.stats.rows);
        for column in reader.columns() {
            let count = reader.stats.zoneless_datetimes[column.index];
            if count > 0 {
                state.zoneless.push(ZonelessDatetimes { object: kind, field: column.field.clone(), count });
            }
        }
        audit_columns.push((kind, reader.columns().to_vec()));
        if !seen_again.is_empty() {
            duplicate_ids.extend(lines_of_ids(export, kind, &file_name, &seen_again)?);
        }
    }
    billing_csv.flush().map_err(|error| AuditError::Billing(error.to_string()))?;
    let mut audit = state.finish(export, catalogue, rows, audit_columns);
    audit.duplicate_ids = duplicate_ids;
    Ok(audit)
}

/// Every line of the ids (seen twice by key) in one file, read again: only files with a
/// duplicate pay for it. Ids on one line only (two ids sharing a key) are dropped.
fn lines_of_ids(
    export: &Export,
    kind: ObjectKind,
    file: &str,
    ids: &HashSet<String>,
) -> Result<Vec<DuplicateId>, AuditError> {
    let Some(reader) = export.records(kind)? else { return Ok(Vec::new()) };
    let mut reader = reader.parse_ahead()?;
    // Only the ids are looked at.
    reader.type_only(&[]);
    let mut out = ReadRecord::new(kind);
    let mut lines: HashMap<String, Vec<u64>> = HashMap::new();
    while reader.read_into(&mut out)? {
        if ids.contains(&out.record.source_id) {
            lines.entry(out.record.source_id.clone()).or_default().push(out.line);
        }
    }
    let mut duplicates: Vec<DuplicateId> = lines
        .into_iter()
        .filter(|(_, lines)| lines.len() > 1)
        .map(|(id, lines)| DuplicateId { object: kind, file: file.to_owned(), id, lines })
        .collect();
    duplicates.sort_by_key(|duplicate| duplicate.lines[0]);
    Ok(duplicates)
}

/// An audit that could not finish.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Extract(#[from] ExtractError),
    #[error("cannot write the billing audit: {0}")]
    Billing(String),
    #[error("cannot write {path}: {message}")]
    Write { path: std::path::PathBuf, message: String },
}

impl AuditError {
    fn billing(error: csv::Error) -> AuditError {
        AuditError::Billing(error.to_string())
    }
}

/// Where the fields the audit looks at are in a reader's records.
struct FieldPositions {
    email: Option<usize>,
    phone: Option<usize>,
    user_id: Option<usize>,
    last_heard: Option<usize>,
    web_push: Option<usize>,
    fcm: Option<usize>,
    sender: Option<usize>,
    conversation_id: Option<usize>,
    contact_id: Option<usize>,
    references: Vec<(usize, String, Target)>,
}

impl FieldPositions {
    fn new(columns: &[Column]) -> Self {
        // Record fields are the columns without the id column, in order.
        let fields: Vec<&Column> = columns.iter().filter(|c| c.ty != FieldType::Id).collect();
        let position = |name: &str| fields.iter().position(|c| c.field == name && !c.is_custom());
        let references = fields
            .iter()
            .enumerate()
            .filter_map(|(at, c)| match c.ty {
                FieldType::Reference(target) => Some((at, c.field.clone(), target)),
                _ => None,
            })
            .collect();
        FieldPositions {
            email: position("email"),
            phone: position("phone_number"),
            user_id: position("user_id"),
            last_heard: position("last_heard"),
            web_push: position("web_push_subscription"),
            fcm: position("fcm_key"),
            sender: position("sender"),
            conversation_id: position("conversation_id"),
            contact_id: position("contact_id"),
            references,
        }
    }

    /// The positions the audit reads.
    fn used(&self) -> Vec<usize> {
        [
            self.email,
            self.phone,
            self.user_id,
            self.last_heard,
            self.web_push,
            self.fcm,
            self.sender,
            self.conversation_id,
            self.contact_id,
        ]
        .into_iter()
        .flatten()
        .chain(self.references.iter().map(|(at, ..)| *at))
        .collect()
    }
}

fn field(out: &ReadRecord, at: Option<usize>) -> Option<&Value> {
    at.and_then(|at| out.record.fields.get(at)).map(|(_, value)| value).filter(|value| **value != Value::Null)
}

fn text(out: &ReadRecord, at: Option<usize>) -> Option<&str> {
    match field(out, at)? {
        Value::Text(text) => Some(crate::extract::values::trim(text)).filter(|text| !text.is_empty()),
        _ => None,
    }
}

/// Ids are remembered as 64-bit keys: a million contacts take 16 MB instead of 50. A numeric id
/// (User.com's own) is its number, exactly; another id is hashed (a fixed, fast multiply-mix, so
/// runs are repeatable), where two ids sharing a hash (odds about 1 in 10^13 per lookup among a
/// million ids) could hide one orphan. Nothing else depends on it.
fn id_hash(id: &str) -> u64 {
    let bytes = id.as_bytes();
    if !bytes.is_empty() && bytes.len() <= 18 && bytes[0] != b'0' && bytes.iter().all(u8::is_ascii_digit) {
        return bytes.iter().fold(0u64, |n, b| n * 10 + u64::from(b - b'0'));
    }
    // Non-numeric ids live in the top half of the key space, away from the numbers.
    text_hash(bytes) | 1 << 63
}

/// A fast, fixed 64-bit hash of bytes (8 at a time, multiply and fold).
fn text_hash(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut hash = (bytes.len() as u64).wrapping_mul(K);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        hash = (hash ^ word).wrapping_mul(K).rotate_left(29);
    }
    let mut tail = [0u8; 8];
    tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
    hash = (hash ^ u64::from_le_bytes(tail)).wrapping_mul(K);
    // Final avalanche (SplitMix64's), so that nearby texts spread over the table.
    hash = (hash ^ (hash >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    hash = (hash ^ (hash >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    hash ^ (hash >> 31)
}

/// The keys are already hashes: hashing them again would only cost time.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = (self.0 ^ u64::from(*byte)).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn write_u64(&mut self, value: u64) {
        // Numeric ids are small consecutive numbers: spread them (the table uses the top bits).
        self.0 = value.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type Hashed = BuildHasherDefault<PassThrough>;

/// A set of id keys ([`id_hash`]). Numeric ids below 2^26 (User.com's own ids, in practice all
/// of them) are bits of a bitmap that grows to the largest one (8 MB at most): a million
/// contacts take 125 KB that stay in cache, where a hash set took 16 MB and a cache miss per
/// lookup. Other keys go to a hash set.
#[derive(Default)]
struct IdSet {
    bits: Vec<u64>,
    others: HashSet<u64, Hashed>,
    len: u64,
}

const BITMAP_LIMIT: u64 = 1 << 26;

impl IdSet {
    fn insert(&mut self, key: u64) {
        let new = if key < BITMAP_LIMIT {
            let (word, bit) = ((key / 64) as usize, key % 64);
            if word >= self.bits.len() {
                self.bits.resize((word + 1).next_power_of_two(), 0);
            }
            let was = self.bits[word] & (1 << bit) != 0;
            self.bits[word] |= 1 << bit;
            !was
        } else {
            self.others.insert(key)
        };
        self.len += u64::from(new);
    }

    fn contains(&self, key: &u64) -> bool {
        if *key < BITMAP_LIMIT {
            self.bits.get((*key / 64) as usize).is_some_and(|word| word & (1 << (*key % 64)) != 0)
        } else {
            self.others.contains(key)
        }
    }

    fn len(&self) -> u64 {
        self.len
    }
}

/// Duplicate groups of one key (emails, or phone numbers). Keys are only appended as contacts
/// come (to one arena, with a short hash and the contact), and grouped once all are in, by
/// sorting the hashes: at a million contacts a lookup per contact in a hash table of every key
/// cost a cache miss each, and its growth page faults and copies, several times what the sort
/// of one `u64` per key does.
#[derive(Default)]
struct Groups {
    keys: String,
    /// By contact: where its key ends in `keys` (it starts where the contact before's ends; a
    /// contact without a key has an empty one).
    ends: Vec<u32>,
    /// Per key: its hash's top 32 bits, then the contact. Sorted, each hash's contacts come in
    /// file order; keys that share a hash but differ are told apart by their text.
    hashed: Vec<u64>,
}

/// Room to add for `len` items kept for `read` contacts, to hold a tenth more than `estimate`
/// contacts' at the same rate.
fn room(len: usize, read: usize, estimate: u64) -> usize {
    if read == 0 {
        return 0;
    }
    let wanted = (len as u64).saturating_mul(estimate) / read as u64 * 11 / 10;
    usize::try_from(wanted).unwrap_or(usize::MAX).saturating_sub(len)
}

impl Groups {
    /// See [`State::reserve_contacts`].
    fn reserve(&mut self, read: usize, estimate: u64) {
        self.keys.reserve(room(self.keys.len(), read, estimate));
        self.ends.reserve(room(self.ends.len(), read, estimate));
        self.hashed.reserve(room(self.hashed.len(), read, estimate));
    }

    /// `key` for contact `ordinal` (contacts come in order, each with one key at most).
    fn add(&mut self, key: &str, ordinal: u32) {
        let end = self.keys.len() as u32;
        self.ends.resize(ordinal as usize, end);
        self.keys.push_str(key);
        self.ends.push(self.keys.len() as u32);
        self.hashed.push(text_hash(key.as_bytes()) >> 32 << 32 | u64::from(ordinal));
    }

    fn key(&self, ordinal: u32) -> &str {
        let start = if ordinal == 0 { 0 } else { self.ends[ordinal as usize - 1] as usize };
        &self.keys[start..self.ends[ordinal as usize] as usize]
    }

    /// The groups of contacts sharing a key exactly, in the order their second contact came;
    /// in each, the contacts in the order they came.
    fn groups(mut self) -> Vec<(String, Vec<u32>)> {
        let mut hashed = std::mem::take(&mut self.hashed);
        hashed.sort_unstable();
        let mut found: Vec<(u32, String, Vec<u32>)> = Vec::new();
        for run in hashed.chunk_by(|a, b| a >> 32 == b >> 32) {
            let mut rest: Vec<u32> = run.iter().map(|entry| *entry as u32).collect();
            while rest.len() > 1 {
                let first = self.key(rest[0]);
                let (same, other): (Vec<u32>, Vec<u32>) = rest.iter().partition(|at| self.key(**at) == first);
                if same.len() > 1 {
                    found.push((same[1], first.to_owned(), same));
                }
                rest = other;
            }
        }
        found.sort_unstable_by_key(|(second, ..)| *second);
        found.into_iter().map(|(_, key, members)| (key, members)).collect()
    }
}

/// A phone number's comparable digits: the last 9 (a Polish national number, and enough to
/// tell numbers apart anywhere), or all of 7 or 8; shorter numbers are not compared.
pub fn phone_key(phone: &str, key: &mut String) -> bool {
    key.clear();
    let digits = phone.bytes().filter(u8::is_ascii_digit);
    let skip = digits.clone().count().saturating_sub(9);
    key.extend(digits.skip(skip).map(char::from));
    key.len() >= 7
}

/// `n` in decimal digits into `text` (cleared first), without the formatting machinery: once
/// per billable contact.
fn decimal(mut n: u64, text: &mut String) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    text.clear();
    text.extend(digits[at..].iter().map(|digit| char::from(*digit)));
}

/// An email's comparable form: trimmed, lower case.
pub fn email_key(email: &str, key: &mut String) -> bool {
    key.clear();
    let email = crate::extract::values::trim(email);
    if email.is_ascii() {
        key.push_str(email);
        key.make_ascii_lowercase();
    } else {
        key.extend(email.chars().flat_map(char::to_lowercase));
    }
    !key.is_empty()
}

#[derive(Default)]
struct State {
    /// By `Target as usize`: whether the export has the file a reference points into.
    checkable: [bool; 5],
    pipelines: IdSet,
    stages: IdSet,
    companies: IdSet,
    contacts: IdSet,
    deals: IdSet,
    chat_writers: IdSet,
    conversations: IdSet,
    /// Contacts in file order: ids in one arena, and lines.
    contact_ids: String,
    contact_id_ends: Vec<u32>,
    contact_lines: Vec<u32>,
    emails: Groups,
    phones: Groups,
    orphans: BTreeMap<(ObjectKind, String), Orphans>,
    issues: BTreeMap<(String, String), FieldIssues>,
    zoneless: Vec<ZonelessDatetimes>,
    billing: Billing,
    key: String,
    reasons: Vec<&'static str>,
    /// Contacts per reason, in [`BILLING_REASONS`]' order (into `billing.reasons` at the end).
    reason_counts: [u64; BILLING_REASONS.len()],
    reasons_text: String,
    line_text: String,
}

impl State {
    /// Room for `estimate` contacts' ids, lines and keys, as much each as the contacts so far
    /// took, and a tenth more. What is kept per contact grows with the file; grown by doubling,
    /// each step copied it into fresh memory the kernel had to zero first (at 300,000 contacts
    /// a tenth of the audit's time). Room that stays unused is never touched, so costs no memory.
    fn reserve_contacts(&mut self, estimate: u64) {
        let read = self.contact_lines.len();
        self.contact_ids.reserve(room(self.contact_ids.len(), read, estimate));
        self.contact_id_ends.reserve(room(read, read, estimate));
        self.contact_lines.reserve(room(read, read, estimate));
        self.emails.reserve(read, estimate);
        self.phones.reserve(read, estimate);
    }

    fn add_issue(&mut self, kind: ObjectKind, file: &str, issue: &Issue) {
        let entry = self.issues.entry((kind.as_str().to_owned(), issue.field.clone())).or_insert_with(|| FieldIssues {
            object: kind.as_str().to_owned(),
            file: file.to_owned(),
            field: issue.field.clone(),
            column: issue.column.clone(),
            expected: issue.expected.clone(),
            count: 0,
            examples: Vec::new(),
        });
        entry.count += 1;
        if entry.examples.len() < EXAMPLES {
            entry.examples.push(IssueExample { line: issue.line, value: issue.value.clone() });
        }
    }

    fn conversation(&mut self, out: &ReadRecord, fields: &FieldPositions) {
        if let Some(conversation) = text(out, fields.conversation_id) {
            self.conversations.insert(id_hash(conversation));
        }
        let wrote = text(out, fields.sender).is_some_and(|sender| {
            ["user", "contact", "visitor", "client", "customer", "inbound", "in"]
                .iter()
                .any(|word| word.eq_ignore_ascii_case(sender))
        });
        if let (true, Some(contact)) = (wrote, text(out, fields.contact_id)) {
            self.chat_writers.insert(id_hash(contact));
        }
    }

    fn contact<W: Write>(
        &mut self,
        out: &ReadRecord,
        fields: &FieldPositions,
        billing: &mut csv::Writer<W>,
    ) -> Result<(), AuditError> {
        let id = &out.record.source_id;
        let id_hash = id_hash(id);
        self.contacts.insert(id_hash);
        let ordinal = self.contact_lines.len() as u32;
        self.contact_ids.push_str(id);
        self.contact_id_ends.push(self.contact_ids.len() as u32);
        self.contact_lines.push(out.line as u32);
        let email = text(out, fields.email);
        let phone = text(out, fields.phone);
        if let Some(email) = email
            && email_key(email, &mut self.key)
        {
            self.emails.add(&self.key, ordinal);
        }
        if let Some(phone) = phone
            && phone_key(phone, &mut self.key)
        {
            self.phones.add(&self.key, ordinal);
        }
        self.check_references(out, fields);

        let user_id = text(out, fields.user_id);
        self.reasons.clear();
        self.reasons_text.clear();
        let chat = field(out, fields.last_heard).is_some() || self.chat_writers.contains(&id_hash);
        let web_push = matches!(field(out, fields.web_push), Some(Value::Boolean(true)));
        let fcm = field(out, fields.fcm).is_some();
        for ((reason, yes), count) in BILLING_REASONS
            .iter()
            .zip([email.is_some(), phone.is_some(), user_id.is_some(), chat, web_push, fcm])
            .zip(&mut self.reason_counts)
        {
            if yes {
                if !self.reasons.is_empty() {
                    self.reasons_text.push('|');
                }
                self.reasons_text.push_str(reason);
                self.reasons.push(reason);
                *count += 1;
            }
        }
        self.billing.contacts += 1;
        if !self.reasons.is_empty() {
            self.billing.billable += 1;
            decimal(out.line, &mut self.line_text);
            write_report_row(
                billing,
                [
                    id.as_str(),
                    &self.line_text,
                    email.unwrap_or(""),
                    phone.unwrap_or(""),
                    user_id.unwrap_or(""),
                    &self.reasons_text,
                ],
            )
            .map_err(AuditError::billing)?;
        }
        Ok(())
    }

    fn check_references(&mut self, out: &ReadRecord, fields: &FieldPositions) {
        for (at, name, target) in &fields.references {
            let Some(Value::Text(reference)) = out.record.fields.get(*at).map(|(_, value)| value) else { continue };
            if !self.checkable[*target as usize] {
                continue;
            }
            let key = id_hash(reference);
            let exists = match target {
                Target::Contact => self.contacts.contains(&key),
                Target::Company => self.companies.contains(&key),
                Target::Deal => self.deals.contains(&key),
                Target::Pipeline => self.pipelines.contains(&key),
                Target::Stage => self.stages.contains(&key),
            };
            if !exists {
                let entry = self.orphans.entry((out.record.kind, name.clone())).or_insert_with(|| Orphans {
                    object: out.record.kind,
                    field: name.clone(),
                    target: *target,
                    count: 0,
                    examples: Vec::new(),
                });
                entry.count += 1;
                if entry.examples.len() < EXAMPLES {
                    entry.examples.push(OrphanExample {
                        id: out.record.source_id.clone(),
                        line: out.line,
                        missing_id: reference.clone(),
                    });
                }
            }
        }
    }

    fn contact_ref(&self, ordinal: u32) -> ContactRef {
        let end = self.contact_id_ends[ordinal as usize] as usize;
        let start = if ordinal == 0 { 0 } else { self.contact_id_ends[ordinal as usize - 1] as usize };
        ContactRef {
            id: self.contact_ids[start..end].to_owned(),
            line: u64::from(self.contact_lines[ordinal as usize]),
        }
    }

    fn finish(
        mut self,
        export: &Export,
        catalogue: crate::extract::Catalogue,
        rows: HashMap<FileKind, u64>,
        columns: Vec<(ObjectKind, Vec<Column>)>,
    ) -> Audit {
        let files = export
            .files
            .iter()
            .map(|file| FileReport {
                kind: file.kind,
                file: file.name(),
                encoding: file.encoding.name().to_owned(),
                encoding_source: file.encoding_source,
                delimiter: file.delimiter_name().to_owned(),
                rows: rows.get(&file.kind).copied().unwrap_or(0),
            })
            .collect();
        let mut counts = BTreeMap::new();
        for (kind, count) in &rows {
            let name = match kind {
                FileKind::Conversations => "conversation_messages".to_owned(),
                FileKind::AttributeDefinitions => "custom_attributes".to_owned(),
                FileKind::EmailTemplates => "email_templates".to_owned(),
                other => other.as_str().to_owned(),
            };
            counts.insert(name, *count);
        }
        if export.file(FileKind::Conversations).is_some() {
            counts.insert("conversations".to_owned(), self.conversations.len());
        }
        let groups = |groups: Groups, state: &State| -> Vec<DuplicateGroup> {
            groups
                .groups()
                .into_iter()
                .map(|(key, members)| DuplicateGroup {
                    key,
                    contacts: members.iter().map(|m| state.contact_ref(*m)).collect(),
                })
                .collect()
        };
        let by_email = groups(std::mem::take(&mut self.emails), &self);
        let by_phone = groups(std::mem::take(&mut self.phones), &self);
        let duplicates = Duplicates { by_email, by_phone };
        self.billing.not_billable = self.billing.contacts - self.billing.billable;
        for (reason, count) in BILLING_REASONS.iter().zip(self.reason_counts) {
            *self.billing.reasons.entry((*reason).to_owned()).or_default() += count;
        }

        let mut inferred_columns = Vec::new();
        let mut custom_attributes = Vec::new();
        for (kind, columns) in &columns {
            for column in columns.iter().filter(|c| c.is_custom()) {
                let (source, name) = match &column.origin {
                    Origin::Inferred { sampled } => {
                        let sampled = *sampled;
                        inferred_columns.push(InferredColumn {
                            object: *kind,
                            column: column.header.clone(),
                            field: column.field.clone(),
                            ty: column.ty.name(),
                            sampled,
                        });
                        ("inferred", column.header.clone())
                    }
                    Origin::Definition { name, .. } => {
                        ("definition", if name.is_empty() { column.header.clone() } else { name.clone() })
                    }
                    Origin::Standard | Origin::Values { .. } => unreachable!("custom columns only"),
                };
                custom_attributes.push(CustomAttribute {
                    object: kind.as_str().to_owned(),
                    name,
                    field: column.field.clone(),
                    ty: column.ty.name().to_owned(),
                    options: column.options.clone(),
                    source: source.to_owned(),
                });
            }
        }
        for definition in &export.definitions {
            let in_a_file = columns.iter().any(|(kind, columns)| {
                Some(*kind) == definition.object
                    && columns.iter().any(|c| matches!(&c.origin, Origin::Definition { attribute_id, .. } if *attribute_id == definition.id))
            });
            if !in_a_file {
                custom_attributes.push(CustomAttribute {
                    object: definition
                        .object
                        .map_or_else(|| definition.content_type.clone(), |kind| kind.as_str().to_owned()),
                    name: definition.name.clone(),
                    field: definition.name_std.clone(),
                    ty: definition.ty.name().to_owned(),
                    options: definition.options.clone(),
                    source: "definition, no column".to_owned(),
                });
            }
        }
        let pipelines = catalogue
            .pipelines
            .iter()
            .map(|pipeline| PipelineWithStages {
                pipeline: pipeline.clone(),
                stages: catalogue.stages.iter().filter(|s| s.pipeline_id == pipeline.id).cloned().collect(),
            })
            .collect();
        Audit {
            export: export.dir.display().to_string(),
            files,
            missing_files: export.missing.clone(),
            ignored_files: export.ignored.clone(),
            counts,
            duplicates,
            duplicate_ids: Vec::new(),
            orphans: self.orphans.into_values().collect(),
            mismatches: self.issues.into_values().collect(),
            inferred_columns,
            zoneless_datetimes: self.zoneless,
            billing: self.billing,
            inventory: Inventory {
                custom_attributes,
                pipelines,
                tags: catalogue.tags,
                segments: catalogue.segments,
                automations: catalogue.automations,
                email_templates: catalogue.email_templates,
                definition_issues: export.definition_issues.iter().map(ToString::to_string).collect(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_compare_by_their_last_nine_digits() {
        let mut a = String::new();
        let mut b = String::new();
        assert!(phone_key("+48 501 234 567", &mut a) && phone_key("0048 501-234-567", &mut b));
        assert_eq!(a, b);
        assert!(phone_key("501234567", &mut b));
        assert_eq!(a, b);
        assert!(phone_key("123 45 67", &mut a));
        assert_eq!(a, "1234567");
        assert!(!phone_key("12-34", &mut a));
    }

    #[test]
    fn emails_compare_trimmed_in_lower_case() {
        let (mut a, mut b) = (String::new(), String::new());
        email_key(" Jan.Kowalski@WP.pl ", &mut a);
        email_key("jan.kowalski@wp.pl", &mut b);
        assert_eq!(a, b);
        email_key("ŁUCJA@O2.PL", &mut a);
        assert_eq!(a, "łucja@o2.pl");
    }

    #[test]
    fn id_sets_hold_numbers_in_a_bitmap_and_other_keys_hashed() {
        let mut set = IdSet::default();
        for id in ["10000", "10001", "10000", "CRM-7", "999999999999", "0042"] {
            set.insert(id_hash(id));
        }
        assert_eq!(set.len(), 5);
        for id in ["10000", "10001", "CRM-7", "999999999999", "0042"] {
            assert!(set.contains(&id_hash(id)), "{id}");
        }
        for id in ["9999", "10002", "CRM-8", "42", "99999999"] {
            assert!(!set.contains(&id_hash(id)), "{id}");
        }
    }

    #[test]
    fn duplicate_groups_collect_every_contact_with_the_key() {
        let mut groups = Groups::default();
        for (ordinal, key) in ["a", "b", "a", "c", "a", "b"].iter().enumerate() {
            groups.add(key, ordinal as u32);
        }
        assert_eq!(groups.groups(), vec![("a".to_owned(), vec![0, 2, 4]), ("b".to_owned(), vec![1, 5])]);
    }

    #[test]
    fn keys_sharing_a_hash_are_grouped_only_with_their_equals() {
        let mut groups = Groups::default();
        for (ordinal, key) in ["x", "y", "y", "x", "z", "y"].iter().enumerate() {
            groups.add(key, ordinal as u32);
        }
        // As if every key had one hash.
        for entry in &mut groups.hashed {
            *entry = 7 << 32 | (*entry & 0xFFFF_FFFF);
        }
        assert_eq!(groups.groups(), vec![("y".to_owned(), vec![1, 2, 5]), ("x".to_owned(), vec![0, 3])]);
    }

    #[test]
    fn line_numbers_are_written_in_decimal() {
        let mut text = "old".to_owned();
        for n in [0, 7, 10, 1234567, u64::MAX] {
            decimal(n, &mut text);
            assert_eq!(text, n.to_string());
        }
    }
}
