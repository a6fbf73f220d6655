//! Pipedrive's account limits, checked by plan before anything is written: custom fields per
//! company, options of a field, labels, deals, and the size of notes and activity notes. A
//! mapping the account cannot hold is refused (a problem of the mapping: plan exits 5 and
//! approve refuses it) with the number, the limit and what to do; a conversation too long for
//! one note is not refused but split into parts, in order, and plan says which.
//!
//! The numbers are `pipedrive_api::limits` (the sandbox enforces the same ones).

use std::collections::HashMap;

use pipedrive_api::Plan;
use pipedrive_api::limits::AccountLimits;
use serde::Serialize;

use crate::extract::{Export, ExtractError, FieldType, ReadRecord, RecordReader};
use crate::mapping::file::MappingError;
use crate::mapping::{Landing, Mapping};
use crate::pipedrive::EntityKind;
use crate::pipedrive::workspace::Workspace;
use crate::plan::changes::WorkspaceChanges;
use crate::profile::{SourceProfile, plain};
use crate::record::{ObjectKind, Record, Value};

/// Room a note part keeps for what frames its messages: the conversation's header with
/// "part i of n" and the marker paragraph.
pub const NOTE_FRAME_BYTES: u64 = 400;

/// What the account cannot hold: one limit gone over.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Refusal {
    /// `custom fields`, `options of person field 'Industry'`, `deals`, `activity 123's note`.
    pub what: String,
    pub found: u64,
    pub limit: u64,
    /// What to do about it.
    pub how: String,
    /// The line of mapping.toml it concerns (0: the whole mapping).
    pub line: usize,
}

impl Refusal {
    /// As a problem of the mapping, which blocks approve as every other does.
    pub fn error(&self) -> MappingError {
        MappingError {
            line: self.line,
            message: format!(
                "Pipedrive account limit: {} {} where the account allows {}; {}",
                self.what,
                crate::report::thousands(self.found),
                crate::report::thousands(self.limit),
                self.how
            ),
        }
    }
}

/// A conversation whose note is over the size limit: apply writes it as `parts` notes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Split {
    pub conversation: String,
    /// Bytes of its messages as HTML (about what its one note would be).
    pub bytes: u64,
    pub parts: u64,
}

/// The limits of the account and how the migration stands against them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LimitsCheck {
    pub plan: &'static str,
    pub seats: u32,
    pub custom_fields_limit: Option<u64>,
    /// Custom fields the account has (persons, organizations, deals) and will have after apply.
    pub custom_fields_existing: u64,
    pub custom_fields_after: u64,
    pub deals_limit: Option<u64>,
    /// The export's deals.
    pub deals: u64,
    /// Deals the account already has (not created by this migration): they count against the limit too.
    pub deals_in_account: u64,
    pub options_per_field: u64,
    pub note_bytes: u64,
    pub refusals: Vec<Refusal>,
    pub splits: Vec<Split>,
}

impl LimitsCheck {
    pub fn errors(&self) -> Vec<MappingError> {
        self.refusals.iter().map(Refusal::error).collect()
    }
}

/// The size of the notes apply will write, measured on the export.
#[derive(Debug, Clone, Default)]
pub struct NoteSizes {
    /// Conversation id -> bytes of its messages as note HTML.
    pub conversations: HashMap<String, u64>,
    /// Activities and events whose note is over the limit: (object, id, bytes).
    pub activities_over: Vec<(ObjectKind, String, u64)>,
}

/// One message as the note shows it: `<p>[stamp] <b>author</b>: text</p>`, its text escaped as
/// apply escapes it. The author and stamp are counted at their longest usual size.
pub fn message_bytes(content: &str) -> u64 {
    crate::marker::escape_html(content).len() as u64 + MESSAGE_FRAME_BYTES
}

/// A message's stamp and author in its note, at their longest usual size.
const MESSAGE_FRAME_BYTES: u64 = 80;

/// Reads the conversations and the activities and events once, measuring the notes apply writes.
pub fn measure_notes(export: &Export, mapping: &Mapping, limit: u64) -> Result<NoteSizes, ExtractError> {
    let mut sizes = NoteSizes::default();
    let content_attributes: Vec<&str> = mapping
        .fields
        .iter()
        .filter(|entry| {
            entry.object == ObjectKind::Conversation
                && matches!(&entry.landing, Landing::Standard { code } if code == "content")
        })
        .map(|entry| entry.attribute.as_str())
        .collect();
    if let Some(mut reader) = export.records(ObjectKind::Conversation)? {
        let mut read = ReadRecord::new(ObjectKind::Conversation);
        while reader.read_into(&mut read)? {
            let record = &read.record;
            let content: String =
                content_attributes.iter().filter_map(|attribute| record.get(attribute)).map(plain).collect();
            *sizes.conversations.entry(crate::source::conversation_of(record)).or_default() += message_bytes(&content);
        }
    }
    for kind in [ObjectKind::Activity, ObjectKind::Event] {
        let noted: Vec<&str> = mapping
            .fields
            .iter()
            .filter(|entry| {
                entry.object == kind && matches!(&entry.landing, Landing::Standard { code } if code == "note")
            })
            .map(|entry| entry.attribute.as_str())
            .collect();
        let Some(mut reader) = export.records(kind)? else { continue };
        let mut read = ReadRecord::new(kind);
        while reader.read_into(&mut read)? {
            let record = &read.record;
            let bytes: u64 = noted
                .iter()
                .filter_map(|attribute| {
                    record
                        .get(attribute)
                        .filter(|value| !matches!(value, Value::Null))
                        .map(|value| (attribute, plain(value)))
                })
                .map(|(attribute, text)| (crate::marker::escape_html(&text).len() + attribute.len() + 9) as u64)
                .sum();
            if bytes + NOTE_FRAME_BYTES > limit {
                sizes.activities_over.push((kind, record.source_id.clone(), bytes + NOTE_FRAME_BYTES));
            }
        }
    }
    Ok(sizes)
}

/// The notes' sizes, measured as the export is read and before the mapping is known (plan's one
/// read): per conversation its messages and the bytes each attribute's values take as note HTML,
/// and the few activities and events whose note could be over the limit whatever attributes go
/// into it. [`NoteMeasure::sizes`] then adds up the attributes the mapping puts in the notes.
#[derive(Debug, Default)]
pub struct NoteMeasure {
    limit: u64,
    /// The open file's attribute names, each once (a repeated name's first column: a record's
    /// value is its first), and the column each field of its records is, if it counts.
    names: Vec<String>,
    slots: Vec<Option<usize>>,
    /// Conversation id -> messages, and bytes per attribute of `conversation_names`.
    conversations: HashMap<String, (u64, Vec<u64>)>,
    /// The conversations file's `names`, once it is read.
    conversation_names: Vec<String>,
    /// Activities and events whose attributes together could be over the limit.
    candidates: Vec<LongNote>,
    /// A value ends in a '[' that the next attribute's text could make a marker's (which the
    /// HTML escapes): the per-attribute sums could be a few bytes off, so [`NoteMeasure::sizes`]
    /// declines and the notes are measured by reading again.
    inexact: bool,
}

/// An activity or event whose note could be over the limit: its id and each attribute's bytes
/// as note HTML.
#[derive(Debug)]
struct LongNote {
    kind: ObjectKind,
    source_id: String,
    bytes: Vec<(String, u64)>,
}

/// The longest a number, date, time or boolean is as text (a float's digits: about 330).
const LONGEST_PLAIN_VALUE: u64 = 400;
/// Bytes of note HTML per byte of text at most (`&` is `&amp;`, `[` can be `&#91;`).
const HTML_GROWTH: u64 = 5;

/// Bytes of `text` as note HTML ([`crate::marker::escape_html`]), and whether that holds for it
/// inside a longer text too: a '[' is escaped when "user.com" follows, so one near the end
/// depends on what comes next.
fn html_bytes(text: &str) -> (u64, bool) {
    if !text.bytes().any(|byte| matches!(byte, b'&' | b'<' | b'>' | b'\n' | b'[')) {
        return (text.len() as u64, true);
    }
    let alone = text.match_indices('[').all(|(at, _)| text[at + 1..].trim_start().len() >= "user.com".len());
    (crate::marker::escape_html(text).len() as u64, alone)
}

/// A value's plain text length, counted without writing it.
fn plain_len(value: &Value) -> u64 {
    struct Count(u64);
    impl std::fmt::Write for Count {
        fn write_str(&mut self, text: &str) -> std::fmt::Result {
            self.0 += text.len() as u64;
            Ok(())
        }
    }
    let mut count = Count(0);
    let _ = std::fmt::Write::write_fmt(&mut count, format_args!("{value}"));
    count.0
}

impl NoteMeasure {
    pub fn new(limit: u64) -> NoteMeasure {
        NoteMeasure { limit, ..NoteMeasure::default() }
    }

    pub fn opened(&mut self, kind: ObjectKind, reader: &RecordReader) {
        self.names.clear();
        self.slots.clear();
        if !matches!(kind, ObjectKind::Conversation | ObjectKind::Activity | ObjectKind::Event) {
            return;
        }
        for column in reader.columns().iter().filter(|column| column.ty != FieldType::Id) {
            let first = !self.names.contains(&column.field);
            self.slots.push(first.then_some(self.names.len()));
            if first {
                self.names.push(column.field.clone());
            }
        }
    }

    pub fn closed(&mut self, kind: ObjectKind) {
        if kind == ObjectKind::Conversation {
            self.conversation_names = std::mem::take(&mut self.names);
        }
    }

    /// The attribute each field of `record` is, its first field of each name only (cells beyond
    /// the header are found by name).
    fn attributes<'r>(&mut self, record: &'r Record) -> Vec<(usize, &'r Value)> {
        let mut found = Vec::with_capacity(record.fields.len());
        for (position, (field, value)) in record.fields.iter().enumerate() {
            let slot = match self.slots.get(position) {
                Some(slot) => *slot,
                None if record.fields[..position].iter().any(|(earlier, _)| earlier == field) => None,
                None => Some(self.names.iter().position(|name| name == field).unwrap_or_else(|| {
                    self.names.push(field.clone());
                    self.names.len() - 1
                })),
            };
            if let Some(slot) = slot.filter(|_| !matches!(value, Value::Null)) {
                found.push((slot, value));
            }
        }
        found
    }

    pub fn record(&mut self, record: &Record) {
        match record.kind {
            ObjectKind::Conversation => {
                let attributes = self.attributes(record);
                let mut bytes = vec![0; self.names.len()];
                for (slot, value) in attributes {
                    let (html, alone) = match value {
                        Value::Text(text) => html_bytes(text),
                        Value::Choices(_) => html_bytes(&plain(value)),
                        // Numbers, dates, times and booleans are digits and letters: their text is their HTML.
                        other => (plain_len(other), true),
                    };
                    bytes[slot] = html;
                    self.inexact |= !alone;
                }
                let (messages, sums) = self.conversations.entry(crate::source::conversation_of(record)).or_default();
                *messages += 1;
                sums.resize(sums.len().max(bytes.len()), 0);
                for (sum, bytes) in sums.iter_mut().zip(bytes) {
                    *sum += bytes;
                }
            }
            ObjectKind::Activity | ObjectKind::Event => {
                let attributes = self.attributes(record);
                let most: u64 = attributes
                    .iter()
                    .map(|&(slot, value)| {
                        let plain = match value {
                            Value::Text(text) => text.len() as u64,
                            Value::Choices(choices) => choices.iter().map(|choice| choice.len() as u64 + 2).sum(),
                            _ => LONGEST_PLAIN_VALUE,
                        };
                        plain * HTML_GROWTH + self.names[slot].len() as u64 + 9
                    })
                    .sum();
                if most + NOTE_FRAME_BYTES > self.limit {
                    let bytes = attributes
                        .into_iter()
                        .map(|(slot, value)| {
                            (self.names[slot].clone(), crate::marker::escape_html(&plain(value)).len() as u64)
                        })
                        .collect();
                    self.candidates.push(LongNote { kind: record.kind, source_id: record.source_id.clone(), bytes });
                }
            }
            _ => {}
        }
    }

    /// The sizes [`measure_notes`] would read for `mapping`; `None` where the sums per attribute
    /// may be off (see `inexact`): then read them.
    pub fn sizes(self, mapping: &Mapping) -> Option<NoteSizes> {
        if self.inexact {
            return None;
        }
        let in_notes = |kind: ObjectKind, code: &str| -> Vec<&str> {
            mapping
                .fields
                .iter()
                .filter(|entry| {
                    entry.object == kind && matches!(&entry.landing, Landing::Standard { code: to } if to == code)
                })
                .map(|entry| entry.attribute.as_str())
                .collect()
        };
        let content: Vec<usize> = in_notes(ObjectKind::Conversation, "content")
            .iter()
            .filter_map(|attribute| self.conversation_names.iter().position(|name| name == attribute))
            .collect();
        let conversations = self
            .conversations
            .into_iter()
            .map(|(id, (messages, sums))| {
                let bytes = content.iter().map(|&slot| sums.get(slot).copied().unwrap_or(0)).sum::<u64>();
                (id, bytes + messages * MESSAGE_FRAME_BYTES)
            })
            .collect();
        let mut activities_over = Vec::new();
        for kind in [ObjectKind::Activity, ObjectKind::Event] {
            let noted = in_notes(kind, "note");
            for LongNote { source_id, bytes, .. } in self.candidates.iter().filter(|note| note.kind == kind) {
                let total: u64 = noted
                    .iter()
                    .filter_map(|attribute| bytes.iter().find(|(name, _)| name == attribute))
                    .map(|(name, html)| html + name.len() as u64 + 9)
                    .sum();
                if total + NOTE_FRAME_BYTES > self.limit {
                    activities_over.push((kind, source_id.clone(), total + NOTE_FRAME_BYTES));
                }
            }
        }
        Some(NoteSizes { conversations, activities_over })
    }
}

/// Checks the migration against the account's limits; `deals_in_account`: the deals the account
/// already has, besides this migration's.
#[allow(clippy::too_many_arguments)]
pub fn check(
    mapping: &Mapping,
    profile: &SourceProfile,
    workspace: &Workspace,
    changes: &WorkspaceChanges,
    notes: &NoteSizes,
    plan: Plan,
    seats: u32,
    deals_in_account: u64,
) -> LimitsCheck {
    let limits = AccountLimits::of(plan, seats);
    let mut refusals = Vec::new();
    let entities = [EntityKind::Person, EntityKind::Organization, EntityKind::Deal];
    let existing: u64 = entities
        .iter()
        .map(|entity| workspace.fields(*entity).iter().filter(|field| field.is_custom_field).count() as u64)
        .sum();
    let after = existing + changes.new_fields.len() as u64;
    if let Some(limit) = limits.custom_fields.filter(|limit| after > *limit) {
        let per_entity: Vec<String> = entities
            .iter()
            .map(|entity| {
                let has = workspace.fields(*entity).iter().filter(|field| field.is_custom_field).count();
                format!("{} {has} + {} new", entity.name(), changes.field_creates(entity.name()))
            })
            .collect();
        let fewer = after - limit;
        refusals.push(Refusal {
            what: format!("custom fields per company (the account has {existing}, the mapping adds {}: {})", changes.new_fields.len(), per_entity.join(", ")),
            found: after,
            limit,
            how: format!(
                "the {plan} plan allows {limit}: map {fewer} fewer attributes to new fields in mapping.toml (to = \"skip\" with a reason, to = \"note\", or to = \"existing\" with a field the account has), delete unused custom fields in Pipedrive, or move the account to a plan that allows more{}",
                next_plan_fields(plan).map(|(next, allows)| format!(" ({next} allows {allows})")).unwrap_or_default()
            ),
            line: 0,
        });
    }
    let line_of =
        |source: &str| mapping.fields.iter().find(|entry| entry.key() == source).map_or(0, |entry| entry.line);
    for field in &changes.new_fields {
        let options = field.options.len() as u64;
        if options > limits.options_per_field {
            refusals.push(Refusal {
                what: format!("options of the new {} field '{}'", field.entity, field.name),
                found: options,
                limit: limits.options_per_field,
                how: "map it to a text field instead (type = \"varchar\") or skip it: a list this long is not a choice"
                    .to_owned(),
                line: line_of(&field.source),
            });
        }
    }
    for (entity, name, added) in &changes.options_to_add {
        let kind = entities.into_iter().find(|kind| kind.name() == *entity);
        let has =
            kind.and_then(|kind| workspace.custom_field(kind, name)).map_or(0, |field| field.options.len()) as u64;
        let total = has + added.len() as u64;
        if total > limits.options_per_field {
            refusals.push(Refusal {
                what: format!(
                    "options of the {entity} field '{name}' (it has {has}, the mapping adds {})",
                    added.len()
                ),
                found: total,
                limit: limits.options_per_field,
                how: "map the attribute to a new text field instead, or delete unused options in Pipedrive".to_owned(),
                line: 0,
            });
        }
    }
    for entity in entities {
        let has = workspace.labels(entity).len() as u64;
        let new = changes.labels_to_create.iter().filter(|(kind, _)| *kind == entity.name()).count() as u64;
        if has + new > limits.options_per_field {
            refusals.push(Refusal {
                what: format!("{} labels (the account has {has}, the tags add {new})", entity.name()),
                found: has + new,
                limit: limits.options_per_field,
                how: "have the label plugin skip tags (its options in migration.toml), or delete unused labels in Pipedrive".to_owned(),
                line: 0,
            });
        }
    }
    let deals = profile.records(ObjectKind::Deal);
    if let Some(limit) = limits.deals.filter(|limit| deals + deals_in_account > *limit) {
        refusals.push(Refusal {
            what: format!(
                "deals (the export's {deals} and the {deals_in_account} the account already has)"
            ),
            found: deals + deals_in_account,
            limit,
            how: format!(
                "the {plan} plan with {seats} seat(s) allows {limit} (per seat, at most 300,000): {} fewer are needed; add seats or move to a larger plan before apply, delete deals the account no longer needs, or leave old lost deals out of the export; over the limit Pipedrive refuses each deal with 403",
                deals + deals_in_account - limit
            ),
            line: 0,
        });
    }
    // One refusal per object, however many records: the largest, and the first few by id.
    for kind in [ObjectKind::Activity, ObjectKind::Event] {
        let over: Vec<&(ObjectKind, String, u64)> =
            notes.activities_over.iter().filter(|(object, _, _)| *object == kind).collect();
        let Some(largest) = over.iter().max_by_key(|(_, _, bytes)| *bytes) else { continue };
        let first: Vec<&str> = over.iter().take(5).map(|(_, id, _)| id.as_str()).collect();
        refusals.push(Refusal {
            what: format!("bytes in the note of {kind} {} ({} {kind} record(s) over the limit: {}{})", largest.1, over.len(), first.join(", "), if over.len() > first.len() { ", ..." } else { "" }),
            found: largest.2,
            limit: limits.note_bytes,
            how: format!("skip the long attribute of {kind} (to = \"skip\" with a reason) in mapping.toml, or shorten its values in User.com: Pipedrive refuses an activity note over 100 KB, and a long text field holds 65,000 characters"),
            line: 0,
        });
    }
    let room = limits.note_bytes.saturating_sub(NOTE_FRAME_BYTES).max(1);
    let mut splits: Vec<Split> = notes
        .conversations
        .iter()
        .filter(|(_, bytes)| **bytes + NOTE_FRAME_BYTES > limits.note_bytes)
        .map(|(conversation, bytes)| Split {
            conversation: conversation.clone(),
            bytes: *bytes,
            parts: bytes.div_ceil(room),
        })
        .collect();
    splits.sort_by(|a, b| a.conversation.cmp(&b.conversation));
    LimitsCheck {
        plan: plan.as_str(),
        seats,
        custom_fields_limit: limits.custom_fields,
        custom_fields_existing: existing,
        custom_fields_after: after,
        deals_limit: limits.deals,
        deals,
        deals_in_account,
        options_per_field: limits.options_per_field,
        note_bytes: limits.note_bytes,
        refusals,
        splits,
    }
}

/// The next plan up and the custom fields it allows.
fn next_plan_fields(plan: Plan) -> Option<(Plan, u64)> {
    let next = Plan::ALL.into_iter().skip_while(|other| *other != plan).nth(1)?;
    AccountLimits::of(next, 1).custom_fields.map(|allows| (next, allows))
}

/// The check as approve runs it on a project: the notes measured on its export.
pub fn check_project(
    project: &crate::project::Project,
    mapping: &Mapping,
    profile: &SourceProfile,
    workspace: &Workspace,
    labels: &crate::plan::changes::LabelDecisions,
) -> Result<LimitsCheck, crate::plan::PlanError> {
    let export = crate::source::open_export(project)?;
    let notes = measure_notes(&export, mapping, note_limit(project))?;
    check_project_notes(project, mapping, profile, workspace, labels, &notes)
}

/// The largest note the project's account takes.
pub fn note_limit(project: &crate::project::Project) -> u64 {
    AccountLimits::of(project.plan, project.config.target.seats).note_bytes
}

/// The check as plan runs it, with the notes measured in its read of the export.
pub fn check_project_notes(
    project: &crate::project::Project,
    mapping: &Mapping,
    profile: &SourceProfile,
    workspace: &Workspace,
    labels: &crate::plan::changes::LabelDecisions,
    notes: &NoteSizes,
) -> Result<LimitsCheck, crate::plan::PlanError> {
    let changes = crate::plan::changes::workspace_changes(mapping, profile, workspace, labels);
    let deals_in_account = crate::plan::existing::deals_in_account(project)?;
    Ok(check(mapping, profile, workspace, &changes, notes, project.plan, project.config.target.seats, deals_in_account))
}

/// The source id apply journals part `part` (from 1) of a split conversation under: the
/// conversation's own id for the first part (so a conversation is one record whatever its
/// length), `ID/part-N` for the others, each its own note with its own marker.
pub fn conversation_part_id(conversation: &str, part: usize) -> String {
    if part <= 1 { conversation.to_owned() } else { format!("{conversation}/part-{part}") }
}

/// The conversation a journalled note belongs to (its own id, or the id of the part's conversation).
pub fn conversation_of_part(id: &str) -> &str {
    match id.rsplit_once("/part-") {
        Some((conversation, part)) if part.parse::<usize>().is_ok_and(|part| part > 1) => conversation,
        _ => id,
    }
}

/// Splits the messages of a conversation (each a paragraph of HTML, in order) into parts that
/// each fit `room` bytes; a message longer than a part on its own is cut at a character that is
/// not inside an HTML entity or tag. The parts keep the messages' order; each comes with the
/// index of the message it starts in.
pub fn split_paragraphs(paragraphs: &[String], room: usize) -> Vec<(usize, Vec<String>)> {
    let mut parts: Vec<(usize, Vec<String>)> = vec![(0, Vec::new())];
    let mut used = 0;
    for (index, paragraph) in paragraphs.iter().enumerate() {
        for piece in cut(paragraph, room) {
            if used + piece.len() > room && !parts.last().is_some_and(|(_, pieces)| pieces.is_empty()) {
                parts.push((index, Vec::new()));
                used = 0;
            }
            used += piece.len();
            parts.last_mut().expect("one part at least").1.push(piece);
        }
    }
    parts
}

/// A paragraph in pieces of at most `room` bytes, each closed and reopened as a paragraph.
fn cut(paragraph: &str, room: usize) -> Vec<String> {
    if paragraph.len() <= room {
        return vec![paragraph.to_owned()];
    }
    let inner = paragraph.strip_prefix("<p>").and_then(|text| text.strip_suffix("</p>")).unwrap_or(paragraph);
    let room = room.saturating_sub(7).max(16);
    let mut pieces = Vec::new();
    let mut rest = inner;
    while !rest.is_empty() {
        let mut end = rest.len().min(room);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        // Never inside `&amp;` or `<br>`: back up to before an opening that is not closed.
        if end < rest.len() {
            let head = &rest[..end];
            for (open, close) in [('&', ';'), ('<', '>')] {
                if let Some(at) = head.rfind(open).filter(|at| !head[*at..].contains(close)).filter(|at| *at > 0) {
                    end = end.min(at);
                }
            }
        }
        pieces.push(format!("<p>{}</p>", &rest[..end]));
        rest = &rest[end..];
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::ExportOptions;
    use crate::mapping::FieldEntry;

    fn to(object: ObjectKind, attribute: &str, code: &str) -> FieldEntry {
        FieldEntry {
            object,
            attribute: attribute.into(),
            landing: Landing::Standard { code: code.into() },
            confidence: 1.0,
            why: Vec::new(),
            note: None,
            on_bad_value: Default::default(),
            line: 0,
        }
    }

    /// Plan's read of the export: the notes measured before the mapping is known.
    fn measured_in_the_read(export: &Export, limit: u64) -> NoteMeasure {
        let mut measure = NoteMeasure::new(limit);
        for kind in [ObjectKind::Conversation, ObjectKind::Activity, ObjectKind::Event] {
            let Some(mut reader) = export.records(kind).unwrap() else { continue };
            measure.opened(kind, &reader);
            let mut read = ReadRecord::new(kind);
            while reader.read_into(&mut read).unwrap() {
                measure.record(&read.record);
            }
            measure.closed(kind);
        }
        measure
    }

    #[test]
    fn notes_measured_before_the_mapping_are_those_read_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let long = |words: usize| format!("\"{}\"", "zażółć & <b>gęślą</b> [jaźń]\n".repeat(words));
        let mut conversations = String::from("id,conversation_id,user_id,sender,content,timestamp,source\n");
        for message in 0..6 {
            conversations.push_str(&format!(
                "{},900,10000,user,{},2024-03-01T09:30:00+01:00,chat\n",
                7000 + message,
                long(20)
            ));
        }
        conversations.push_str("7010,901,10001,agent,short & sweet,2024-03-01T10:00:00Z,email\n");
        // No conversation id: each message its own; a cell beyond the header.
        conversations.push_str(&format!("7011,,10002,user,{},1709280000,chat,extra\n", long(3)));
        conversations.push_str("7012,,10002,user,,,\n");
        std::fs::write(dir.path().join("conversations.csv"), conversations).unwrap();
        let mut activities = String::from("id,name,activity_type,description,due_date,duration\n");
        activities.push_str(&format!("30000,Spotkanie,call,{},2024-03-01,30\n", long(40)));
        activities.push_str(&format!("30001,{},call,short,2024-03-02,1.5\n", long(40)));
        activities.push_str("30002,Telefon,call,,2024-03-03,\n");
        std::fs::write(dir.path().join("activities.csv"), activities).unwrap();
        let export = Export::open(dir.path(), ExportOptions::default()).unwrap();
        let limit = 1500;
        let (conversation, activity) = (ObjectKind::Conversation, ObjectKind::Activity);
        let mappings = [
            vec![],
            vec![to(conversation, "content", "content"), to(activity, "description", "note")],
            vec![
                to(conversation, "source", "content"),
                to(conversation, "content", "content"),
                to(conversation, "timestamp", "content"),
                to(conversation, "column_8", "content"),
                to(activity, "description", "note"),
                to(activity, "name", "note"),
                to(activity, "duration", "note"),
                to(activity, "missing", "note"),
            ],
        ];
        for fields in mappings {
            let mapping = Mapping { fields, ..Mapping::default() };
            let read = measure_notes(&export, &mapping, limit).unwrap();
            let measured = measured_in_the_read(&export, limit).sizes(&mapping).expect("no '[' near a value's end");
            assert_eq!(measured.conversations, read.conversations, "{:?}", mapping.fields);
            assert_eq!(measured.activities_over, read.activities_over, "{:?}", mapping.fields);
        }
    }

    #[test]
    fn a_value_ending_in_a_bracket_the_next_could_make_a_marker_is_measured_by_reading() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("conversations.csv"),
            "id,conversation_id,user_id,sender,content,timestamp,source\n7000,900,10000,user,see [,2024-03-01T09:30:00Z,user.com\n",
        )
        .unwrap();
        let export = Export::open(dir.path(), ExportOptions::default()).unwrap();
        assert!(measured_in_the_read(&export, 1500).sizes(&Mapping::default()).is_none());
    }

    #[test]
    fn long_paragraphs_are_cut_outside_entities_and_parts_keep_their_order() {
        let paragraphs: Vec<String> = (0..10).map(|i| format!("<p>message {i} {}</p>", "x&amp;y".repeat(20))).collect();
        let parts = split_paragraphs(&paragraphs, 400);
        assert!(parts.len() > 1);
        assert_eq!(parts.iter().map(|(_, part)| part.concat()).collect::<String>(), paragraphs.concat());
        assert!(
            parts.iter().all(
                |(first, part)| part[0] == paragraphs[*first] && part.iter().map(String::len).sum::<usize>() <= 400
            )
        );
        let long = vec![format!("<p>{}</p>", "a&amp;b ".repeat(200))];
        let pieces: Vec<String> = split_paragraphs(&long, 100).into_iter().flat_map(|(_, part)| part).collect();
        assert!(pieces.iter().all(|piece| piece.len() <= 100 && piece.starts_with("<p>") && piece.ends_with("</p>")));
        assert!(pieces.iter().all(|piece| !piece.contains("&am</p>") && !piece.contains("<p>p;")));
        let text: String = pieces.iter().map(|piece| &piece[3..piece.len() - 4]).collect();
        assert_eq!(text, "a&amp;b ".repeat(200));
    }
}
