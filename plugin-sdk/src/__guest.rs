//! The glue `export_plugin!` expands to: which hooks a plugin implements, and for each, wire
//! batches in, typed records to the plugin, sparse answers (or its error) back. Not for plugin
//! authors.

use std::borrow::Cow;
use std::marker::PhantomData;

use crate::config::Config;
use crate::error::{HookError, bounded};
use crate::label::{LabelColor, Segment, Tag, TagDecision, TagFate};
use crate::plugin::{Clean, Dedup, Hook, Label, Merge, Plugin};
use crate::record::{NEW_FIELD, Outcome, Record};
use crate::value::Value;

pub use crate::bindings::exports::crm_migrate::plugin::hooks::Guest;

/// The contract's generated types, as the wire carries them.
pub mod wire {
    pub use crate::bindings::crm_migrate::plugin::types::{
        Batch, Cleaned, ConfigError, ConfigOption, Exit, FieldChange, FieldIssue, FieldValue, LabelColor, LabelSpec,
        MergeDecision, PluginInfo, RecordExit, Segment, Tag, TagDecision, TagFate, TextRef, TypedValue,
    };

    /// A cell's `len` that says it is null (see the contract's `batch`).
    pub const NULL: u32 = u32::MAX;
    /// A cell's `len` that says its value is `values[start]`.
    pub const TYPED: u32 = u32::MAX - 1;
}

pub type CleanFn<P> = fn(&P, &wire::Batch) -> Result<wire::Cleaned, String>;
pub type MatchKeysFn<P> = fn(&P, &wire::Batch) -> Result<Vec<Vec<String>>, String>;
pub type MergeFn<P> = fn(&P, &wire::Batch, &[Vec<u32>]) -> Result<Vec<wire::MergeDecision>, String>;
pub type LabelFn<P> = fn(&P, Vec<wire::Tag>, Vec<wire::Segment>) -> Result<Vec<wire::TagDecision>, String>;

/// The hooks plugin `P` implements, each as the function that serves it over the wire.
/// Built by `__hooks!`, which looks at the hook traits `P` implements.
pub struct Hooks<P> {
    pub clean: Option<CleanFn<P>>,
    pub dedup: Option<(MatchKeysFn<P>, MergeFn<P>)>,
    pub label: Option<LabelFn<P>>,
}

impl<P> Hooks<P> {
    /// What `describe` tells the host.
    pub fn declared(&self) -> Vec<Hook> {
        [(self.clean.is_some(), Hook::Clean), (self.dedup.is_some(), Hook::Dedup), (self.label.is_some(), Hook::Label)]
            .into_iter()
            .filter_map(|(implemented, hook)| implemented.then_some(hook))
            .collect()
    }

    pub fn clean(&self, plugin: &P, batch: &wire::Batch) -> Result<wire::Cleaned, String> {
        self.clean.ok_or_else(|| not_implemented("clean"))?(plugin, batch)
    }

    pub fn match_keys(&self, plugin: &P, batch: &wire::Batch) -> Result<Vec<Vec<String>>, String> {
        self.dedup.ok_or_else(|| not_implemented("dedup")).and_then(|(match_keys, _)| match_keys(plugin, batch))
    }

    pub fn merge(
        &self,
        plugin: &P,
        batch: &wire::Batch,
        groups: &[Vec<u32>],
    ) -> Result<Vec<wire::MergeDecision>, String> {
        self.dedup.ok_or_else(|| not_implemented("dedup")).and_then(|(_, merge)| merge(plugin, batch, groups))
    }

    pub fn label(
        &self,
        plugin: &P,
        tags: Vec<wire::Tag>,
        segments: Vec<wire::Segment>,
    ) -> Result<Vec<wire::TagDecision>, String> {
        self.label.ok_or_else(|| not_implemented("label"))?(plugin, tags, segments)
    }
}

fn not_implemented(hook: &str) -> String {
    format!("the plugin does not implement the {hook} hook (it is not among those its describe names)")
}

/// Which hook traits a concrete plugin type implements, told apart at compile time by method
/// resolution ("autoref specialization"): on `&Probe<P>`, a `*Implemented` trait implemented
/// for `Probe<P>` when `P` implements the hook is found before the `*Missing` one implemented
/// for every `&Probe<P>`. It works only where `P` is a concrete type, as in `export_plugin!`.
pub mod probe {
    use super::*;

    pub struct Probe<P>(PhantomData<P>);

    impl<P> Probe<P> {
        pub const NEW: Self = Probe(PhantomData);
    }

    macro_rules! probe {
        ($implemented:ident, $missing:ident, $hook:ident, $bound:ident, $ty:ty, $found:expr) => {
            pub trait $implemented {
                type Plugin;
                fn $hook(&self) -> Option<$ty>;
            }
            impl<P: $bound> $implemented for Probe<P> {
                type Plugin = P;
                fn $hook(&self) -> Option<$ty> {
                    Some($found)
                }
            }
            pub trait $missing {
                type Plugin;
                fn $hook(&self) -> Option<$ty> {
                    None
                }
            }
            impl<P> $missing for &Probe<P> {
                type Plugin = P;
            }
        };
    }

    probe!(CleanImplemented, CleanMissing, clean_hook, Clean, CleanFn<Self::Plugin>, clean::<P>);
    probe!(
        DedupImplemented,
        DedupMissing,
        dedup_hook,
        Dedup,
        (MatchKeysFn<Self::Plugin>, MergeFn<Self::Plugin>),
        (match_keys::<P>, merge::<P>)
    );
    probe!(LabelImplemented, LabelMissing, label_hook, Label, LabelFn<Self::Plugin>, label::<P>);
}

pub fn describe<P: Plugin>(hooks: Vec<Hook>) -> wire::PluginInfo {
    let info = P::describe();
    wire::PluginInfo {
        name: info.name.to_owned(),
        version: info.version.to_owned(),
        description: info.description.to_owned(),
        hooks,
        options: info
            .options
            .iter()
            .map(|option| wire::ConfigOption {
                key: option.key.to_owned(),
                description: option.description.to_owned(),
                default_value: option.default.map(str::to_owned),
            })
            .collect(),
    }
}

pub fn configure<P: Plugin>(pairs: Vec<(String, String)>) -> Result<P, wire::ConfigError> {
    Config::from_pairs(&P::describe(), &pairs)
        .and_then(|config| P::configure(&config))
        .map_err(|error| wire::ConfigError { key: error.key, message: error.message })
}

/// At most this many bytes of an id are quoted in an error (ids come from the export).
const ID_BYTES_IN_ERROR: usize = 64;

/// A hook's error as the batch's answer: what the plugin said, and where it was.
fn failed_at(what: &str, id: &str, error: HookError) -> String {
    format!("{what} {}: {error}", bounded(id, ID_BYTES_IN_ERROR))
}

fn clean<P: Clean>(plugin: &P, batch: &wire::Batch) -> Result<wire::Cleaned, String> {
    let width = check_shape(batch)?;
    let mut answer = Answer::default();
    // One record at a time, decoded, cleaned and encoded: nothing of the batch is kept.
    for row in 0..batch.records.len() {
        let mut record = decode_record(batch, row, width)?;
        let outcome = plugin.clean(&mut record).map_err(|error| failed_at("record", record.source_id(), error))?;
        let position = row as u32;
        match outcome {
            Outcome::Keep => {
                for (column, name, value) in record.into_changes() {
                    let field = if column == NEW_FIELD { width as u32 + answer.new_field(name) } else { column };
                    let (start, len) = answer.value(value)?;
                    answer.cleaned.changes.extend_from_slice(&[position, field, start, len]);
                }
            }
            Outcome::Drop(reason) => {
                answer.cleaned.exits.push(wire::RecordExit { record: position, exit: wire::Exit::Drop(reason) })
            }
            Outcome::Reject(issues) => answer.cleaned.exits.push(wire::RecordExit {
                record: position,
                exit: wire::Exit::Reject(
                    issues
                        .into_iter()
                        .map(|issue| wire::FieldIssue { field: issue.field, message: issue.message })
                        .collect(),
                ),
            }),
        }
    }
    Ok(answer.cleaned)
}

/// A `cleaned` answer being written: changes as numbers, their text in one arena.
struct Answer {
    cleaned: wire::Cleaned,
}

impl Default for Answer {
    fn default() -> Self {
        let cleaned = wire::Cleaned {
            changes: Vec::new(),
            values: Vec::new(),
            new_fields: Vec::new(),
            exits: Vec::new(),
            text: String::new(),
        };
        Answer { cleaned }
    }
}

impl Answer {
    /// The position of a new field among the answer's `new-fields`, added on first use.
    fn new_field(&mut self, name: Cow<'_, str>) -> u32 {
        let fields = &mut self.cleaned.new_fields;
        let position = fields.iter().position(|field| *field == name).unwrap_or_else(|| {
            fields.push(name.into_owned());
            fields.len() - 1
        });
        position as u32
    }

    /// The value as a cell of the answer: `(start, len)`, its text copied into the arena.
    fn value(&mut self, value: Value<'_>) -> Result<(u32, u32), String> {
        let typed = match value {
            Value::Null => return Ok((0, wire::NULL)),
            Value::Text(text) => return self.text(&text).map(|text_ref| (text_ref.start, text_ref.len)),
            Value::Number(number) => wire::TypedValue::Number(number),
            Value::Boolean(boolean) => wire::TypedValue::Boolean(boolean),
            Value::Date(date) => wire::TypedValue::Date(date),
            Value::DateTime(datetime) => wire::TypedValue::Datetime(datetime),
            Value::Choices(choices) => {
                wire::TypedValue::Choices(choices.iter().map(|choice| self.text(choice)).collect::<Result<_, _>>()?)
            }
        };
        self.cleaned.values.push(typed);
        Ok(((self.cleaned.values.len() - 1) as u32, wire::TYPED))
    }

    fn text(&mut self, text: &str) -> Result<wire::TextRef, String> {
        let arena = &mut self.cleaned.text;
        let start = arena.len();
        arena.push_str(text);
        // Below both markers: a length of NULL or TYPED is not a length.
        match (u32::try_from(start), u32::try_from(text.len())) {
            (Ok(start), Ok(len)) if len < wire::TYPED => Ok(wire::TextRef { start, len }),
            _ => Err("the answer's text is over 4 GiB".into()),
        }
    }
}

fn match_keys<P: Dedup>(plugin: &P, batch: &wire::Batch) -> Result<Vec<Vec<String>>, String> {
    decode_batch(batch)?
        .iter()
        .map(|record| plugin.match_keys(record).map_err(|error| failed_at("record", record.source_id(), error)))
        .collect()
}

fn merge<P: Dedup>(plugin: &P, batch: &wire::Batch, groups: &[Vec<u32>]) -> Result<Vec<wire::MergeDecision>, String> {
    let records = decode_batch(batch)?;
    groups
        .iter()
        .map(|positions| {
            let group = positions
                .iter()
                .map(|&position| {
                    records
                        .get(position as usize)
                        .cloned()
                        .ok_or_else(|| format!("group names record {position}, the batch has {}", records.len()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let first = group.first().map(Record::source_id).unwrap_or_default();
            let Merge { survivor, absorbed, changes } =
                plugin.merge(&group).map_err(|error| failed_at("merging the group of record", first, error))?;
            let batch_position = |member: usize| {
                positions
                    .get(member)
                    .copied()
                    .ok_or_else(|| format!("merge names member {member} of a group of {}", positions.len()))
            };
            Ok(wire::MergeDecision {
                survivor: batch_position(survivor)?,
                absorbed: absorbed.into_iter().map(batch_position).collect::<Result<_, _>>()?,
                changes: changes.into_iter().map(|(field, value)| field_change(field, value)).collect(),
            })
        })
        .collect()
}

fn label<P: Label>(
    plugin: &P,
    tags: Vec<wire::Tag>,
    segments: Vec<wire::Segment>,
) -> Result<Vec<wire::TagDecision>, String> {
    let segments: Vec<Segment> = segments
        .into_iter()
        .map(|segment| Segment { id: segment.id, name: segment.name, definition: segment.definition })
        .collect();
    tags.into_iter()
        .map(|tag| {
            let tag = Tag { id: tag.id, name: tag.name, record_count: tag.record_count };
            let TagDecision { fate, segment_origin } =
                plugin.label(&tag, &segments).map_err(|error| failed_at("tag", &tag.id, error))?;
            let fate = match fate {
                TagFate::Label { name, color } => {
                    wire::TagFate::Label(wire::LabelSpec { name, color: label_color(color) })
                }
                TagFate::Skip { reason } => wire::TagFate::Skip(reason),
            };
            Ok(wire::TagDecision { tag_id: tag.id, fate, segment_origin })
        })
        .collect()
}

fn label_color(color: LabelColor) -> wire::LabelColor {
    match color {
        LabelColor::Blue => wire::LabelColor::Blue,
        LabelColor::Brown => wire::LabelColor::Brown,
        LabelColor::DarkGray => wire::LabelColor::DarkGray,
        LabelColor::Gray => wire::LabelColor::Gray,
        LabelColor::Green => wire::LabelColor::Green,
        LabelColor::Orange => wire::LabelColor::Orange,
        LabelColor::Pink => wire::LabelColor::Pink,
        LabelColor::Purple => wire::LabelColor::Purple,
        LabelColor::Red => wire::LabelColor::Red,
        LabelColor::Yellow => wire::LabelColor::Yellow,
    }
}

/// Typed records borrowing the batch's column names and text arena.
fn decode_batch(batch: &wire::Batch) -> Result<Vec<Record<'_>>, String> {
    let width = check_shape(batch)?;
    (0..batch.records.len()).map(|row| decode_record(batch, row, width)).collect()
}

/// The batch's width (its number of columns), once its cells are known to fill its table.
fn check_shape(batch: &wire::Batch) -> Result<usize, String> {
    let width = batch.columns.len();
    let expected_cells = batch.records.len() * width;
    if batch.cells.len() != 2 * expected_cells {
        return Err(format!(
            "batch {} has {} cell numbers, expected 2 a cell for {} records x {} columns",
            batch.id,
            batch.cells.len(),
            batch.records.len(),
            width
        ));
    }
    Ok(width)
}

/// The `row`-th record of a batch whose shape [`check_shape`] accepted.
fn decode_record(batch: &wire::Batch, row: usize, width: usize) -> Result<Record<'_>, String> {
    let header = &batch.records[row];
    let text = |start: u32, len: u32| -> Result<&str, String> {
        let start = start as usize;
        start
            .checked_add(len as usize)
            .and_then(|end| batch.text.get(start..end))
            .ok_or_else(|| format!("batch {} has a text-ref outside its arena", batch.id))
    };
    let cells = &batch.cells[2 * row * width..2 * (row + 1) * width];
    let mut record = Record::with_capacity(header.kind, text(header.source_id.start, header.source_id.len)?, width);
    // Plain loops rather than iterator adapters over `Result`s: this runs for every cell of
    // every batch, and in a component each operation costs fuel.
    for (column, name) in batch.columns.iter().enumerate() {
        let (start, len) = (cells[2 * column], cells[2 * column + 1]);
        let value = match len {
            wire::NULL => Value::Null,
            wire::TYPED => match batch.values.get(start as usize) {
                Some(wire::TypedValue::Number(number)) => Value::Number(*number),
                Some(wire::TypedValue::Boolean(boolean)) => Value::Boolean(*boolean),
                Some(wire::TypedValue::Date(date)) => Value::Date(*date),
                Some(wire::TypedValue::Datetime(datetime)) => Value::DateTime(*datetime),
                Some(wire::TypedValue::Choices(choices)) => Value::Choices(
                    choices.iter().map(|c| text(c.start, c.len).map(Cow::Borrowed)).collect::<Result<_, _>>()?,
                ),
                None => return Err(format!("batch {} has a typed cell outside its values", batch.id)),
            },
            len => Value::Text(Cow::Borrowed(text(start, len)?)),
        };
        record.push_column(column as u32, name, value);
    }
    Ok(record)
}

fn field_change(field: String, value: Value<'_>) -> wire::FieldChange {
    let value = match value {
        Value::Null => wire::FieldValue::Null,
        Value::Text(text) => wire::FieldValue::Text(text.into_owned()),
        Value::Number(number) => wire::FieldValue::Number(number),
        Value::Boolean(boolean) => wire::FieldValue::Boolean(boolean),
        Value::Date(date) => wire::FieldValue::Date(date),
        Value::DateTime(datetime) => wire::FieldValue::Datetime(datetime),
        Value::Choices(choices) => wire::FieldValue::Choices(choices.into_iter().map(Cow::into_owned).collect()),
    };
    wire::FieldChange { field, value }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::crm_migrate::plugin::types::{ObjectKind, RecordHeader};
    use crate::{Config, ConfigError, Info};

    /// Upper-cases names; fails on a record named "fail".
    struct Upper;

    impl Plugin for Upper {
        fn describe() -> Info {
            Info::new("upper", "0.1.0", "upper-cases names")
        }
        fn configure(_config: &Config) -> Result<Self, ConfigError> {
            Ok(Upper)
        }
    }

    impl Clean for Upper {
        fn clean(&self, record: &mut Record<'_>) -> Result<Outcome, HookError> {
            let upper = record.text("name").map(str::to_uppercase);
            if upper.as_deref() == Some("FAIL") {
                return Err(HookError::new("cannot upper-case\na name that says fail"));
            }
            if let Some(upper) = upper {
                record.set("name", upper);
            }
            Ok(Outcome::Keep)
        }
    }

    /// Labels every tag red, and dedups by name.
    struct Labeller;

    impl Plugin for Labeller {
        fn describe() -> Info {
            Info::new("labeller", "0.1.0", "labels")
        }
        fn configure(_config: &Config) -> Result<Self, ConfigError> {
            Ok(Labeller)
        }
    }

    impl Label for Labeller {
        fn label(&self, tag: &Tag, segments: &[Segment]) -> Result<TagDecision, HookError> {
            if tag.name.is_empty() {
                return Err(HookError::new("a tag without a name"));
            }
            let from_segment = segments.iter().any(|segment| segment.name == tag.name);
            Ok(TagDecision::label(tag.name.to_uppercase(), LabelColor::Red).from_segment(from_segment))
        }
    }

    impl Dedup for Labeller {
        fn match_keys(&self, record: &Record<'_>) -> Result<Vec<String>, HookError> {
            Ok(record.text("name").map(str::to_owned).into_iter().collect())
        }
        fn merge<'a>(&self, group: &[Record<'a>]) -> Result<Merge<'a>, HookError> {
            Ok(Merge::survivor(0, group.len()))
        }
    }

    struct Nothing;

    impl Plugin for Nothing {
        fn describe() -> Info {
            Info::new("nothing", "0.1.0", "does nothing")
        }
        fn configure(_config: &Config) -> Result<Self, ConfigError> {
            Ok(Nothing)
        }
    }

    #[test]
    fn the_declared_hooks_are_the_hook_traits_a_plugin_implements() {
        assert_eq!(crate::implemented_hooks!(Upper), [Hook::Clean]);
        assert_eq!(crate::implemented_hooks!(Labeller), [Hook::Dedup, Hook::Label]);
        assert_eq!(crate::implemented_hooks!(Nothing), []);
        let info = describe::<Labeller>(crate::implemented_hooks!(Labeller));
        assert_eq!(info.hooks, [Hook::Dedup, Hook::Label]);
    }

    #[test]
    fn a_hook_a_plugin_lacks_answers_an_error_instead_of_passing_records_through() {
        let hooks = crate::__hooks!(Labeller);
        let batch = batch(&["name"], &[("a", &["ada"])]);
        assert!(hooks.clean(&Labeller, &batch).unwrap_err().contains("does not implement the clean hook"));
        assert_eq!(hooks.match_keys(&Labeller, &batch).unwrap(), [vec!["ada".to_owned()]]);
    }

    #[test]
    fn a_hook_error_is_the_batch_answer_naming_the_record() {
        let batch = batch(&["name"], &[("a", &["ada"]), ("u-42", &["fail"])]);
        let error = clean(&Upper, &batch).unwrap_err();
        assert_eq!(error, "record u-42: cannot upper-case\na name that says fail");
    }

    #[test]
    fn label_decisions_answer_each_tag_in_order_with_its_id() {
        let tags = vec![
            wire::Tag { id: "t1".into(), name: "vip".into(), record_count: 3 },
            wire::Tag { id: "t2".into(), name: "trial".into(), record_count: 0 },
        ];
        let segments = vec![wire::Segment { id: "s1".into(), name: "trial".into(), definition: None }];
        let decisions = label(&Labeller, tags.clone(), segments).unwrap();
        assert_eq!(decisions.iter().map(|decision| decision.tag_id.as_str()).collect::<Vec<_>>(), ["t1", "t2"]);
        assert_eq!(
            decisions[0].fate,
            wire::TagFate::Label(wire::LabelSpec { name: "VIP".into(), color: wire::LabelColor::Red })
        );
        assert!(!decisions[0].segment_origin && decisions[1].segment_origin);

        let nameless = vec![wire::Tag { id: "t\u{1b}3".into(), name: String::new(), record_count: 1 }];
        assert_eq!(label(&Labeller, nameless, Vec::new()).unwrap_err(), "tag t\u{1b}3: a tag without a name");
    }

    fn batch(columns: &[&str], rows: &[(&str, &[&str])]) -> wire::Batch {
        let mut text = String::new();
        let mut push = |s: &str| {
            let start = text.len() as u32;
            text.push_str(s);
            wire::TextRef { start, len: s.len() as u32 }
        };
        let mut records = Vec::new();
        let mut cells = Vec::new();
        for (id, values) in rows {
            records.push(RecordHeader { kind: ObjectKind::Contact, source_id: push(id) });
            for value in *values {
                let text_ref = push(value);
                cells.extend([text_ref.start, text_ref.len]);
            }
        }
        let columns = columns.iter().map(|c| c.to_string()).collect();
        wire::Batch { id: 1, columns, records, cells, values: Vec::new(), text }
    }

    #[test]
    fn clean_answers_only_the_changes_by_record_and_column_with_their_text_in_one_arena() {
        let batch = batch(&["name", "city"], &[("a", &["ada", "Kraków"]), ("b", &["BOB", "Gdańsk"])]);
        let cleaned = clean(&Upper, &batch).unwrap();
        // Record 0, column 0 ("name"), text [0, 3) of the answer; record 1 is unchanged.
        assert_eq!(cleaned.changes, [0, 0, 0, 3]);
        assert_eq!(cleaned.text, "ADA");
        assert!(cleaned.new_fields.is_empty() && cleaned.exits.is_empty() && cleaned.values.is_empty());
    }

    /// Sets a field the batch lacks, clears another, sets a number, and drops or rejects by name.
    struct Shapes;

    impl Plugin for Shapes {
        fn describe() -> Info {
            Info::new("shapes", "0.1.0", "every kind of answer")
        }
        fn configure(_config: &Config) -> Result<Self, ConfigError> {
            Ok(Shapes)
        }
    }

    impl Clean for Shapes {
        fn clean(&self, record: &mut Record<'_>) -> Result<Outcome, HookError> {
            match record.text("name") {
                Some("drop") => return Ok(Outcome::drop_because("a test account")),
                Some("reject") => return Ok(Outcome::reject("name", "not a name")),
                _ => {}
            }
            record.set("city", Value::Null);
            record.set("score", 2.5);
            record.set("tags", vec!["a".to_owned(), "bé".to_owned()]);
            Ok(Outcome::Keep)
        }
    }

    #[test]
    fn new_fields_typed_values_drops_and_rejects_travel_in_the_answer() {
        let batch = batch(&["name", "city"], &[("a", &["drop", "x"]), ("b", &["ok", "y"]), ("c", &["reject", "z"])]);
        let cleaned = clean(&Shapes, &batch).unwrap();
        let (null, typed) = (wire::NULL, wire::TYPED);
        // city (column 1) cleared; score and tags are new fields 2 + 0 and 2 + 1.
        assert_eq!(cleaned.changes, [1, 1, 0, null, 1, 2, 0, typed, 1, 3, 1, typed]);
        assert_eq!(cleaned.new_fields, ["score", "tags"]);
        assert_eq!(cleaned.text, "abé");
        let choices = vec![wire::TextRef { start: 0, len: 1 }, wire::TextRef { start: 1, len: 3 }];
        assert_eq!(cleaned.values, [wire::TypedValue::Number(2.5), wire::TypedValue::Choices(choices)]);
        assert_eq!(
            cleaned.exits,
            [
                wire::RecordExit { record: 0, exit: wire::Exit::Drop("a test account".into()) },
                wire::RecordExit {
                    record: 2,
                    exit: wire::Exit::Reject(vec![wire::FieldIssue {
                        field: "name".into(),
                        message: "not a name".into()
                    }])
                },
            ]
        );
    }

    #[test]
    fn a_batch_without_columns_is_cleaned_without_changes() {
        let batch = batch(&[], &[("a", &[]), ("b", &[])]);
        assert!(clean(&Upper, &batch).unwrap().changes.is_empty());
    }

    #[test]
    fn a_text_ref_outside_the_arena_is_an_error_not_a_panic() {
        let mut batch = batch(&["name"], &[("a", &["ada"])]);
        batch.cells[..2].copy_from_slice(&[2, 100]);
        assert!(clean(&Upper, &batch).unwrap_err().contains("outside its arena"));
        batch.cells[..2].copy_from_slice(&[u32::MAX, 2]);
        assert!(clean(&Upper, &batch).unwrap_err().contains("outside its arena"), "start + len overflows");
        batch.cells[..2].copy_from_slice(&[0, wire::TYPED]);
        assert!(clean(&Upper, &batch).unwrap_err().contains("outside its values"));
        batch.cells.pop();
        assert!(clean(&Upper, &batch).unwrap_err().contains("cell numbers"));
    }
}
