//! Contract 0.2.0 (`plugin-sdk/wit/v0.2/plugin.wit`): its generated bindings, and the translation
//! between them and the host's types. 0.2.0 differs from 0.1.0 in how a batch's cells travel
//! (two numbers a cell in one `list<u32>`) and in `clean`'s answer (changes as numbers, fields by
//! position, their text in one arena); what it shares with 0.1.0 is translated by the same code
//! (`translate`).
//!
//! Numbers from the plugin are checked before anything is built from them: a record or field
//! out of range, or a slice outside the answer's text, is an invalid answer; and the answer's
//! size is counted from its slices before any string is copied out, since a thousand changes
//! pointing at the same megabyte would otherwise make a gigabyte.

use super::error::HookFailure;
use super::translate::{Arena, Columns};
use super::types::{CleanOutcome, FieldChange};
use super::{OUTPUT_ELEMENT_BYTES, OutputBytes};
use crm_migrate_core::record::{Record, Value};

wasmtime::component::bindgen!({
    path: "../plugin-sdk/wit/v0.2",
    world: "plugin",
});

use self::crm_migrate::plugin::host::LogLevel;
use self::crm_migrate::plugin::types as wire;

contract_translations!("0.2.0");

/// A cell's `len` that says it is null (see the contract's `batch`).
const NULL: u32 = u32::MAX;
/// A cell's `len` that says its value is `values[start]`.
const TYPED: u32 = u32::MAX - 1;

impl Instance {
    pub fn clean(
        &self,
        store: &mut wasmtime::Store<super::sandbox::StoreState>,
        batch: &wire::Batch,
    ) -> wasmtime::Result<Result<wire::Cleaned, String>> {
        self.0.crm_migrate_plugin_hooks().call_clean(store, batch)
    }
}

/// Records as the contract's dense table: column names once, two numbers a cell, one text arena
/// for all strings; and the column names, which the answer's changes refer to by position.
pub fn encode_batch<'r>(id: u64, records: &[&'r Record]) -> (wire::Batch, Vec<&'r str>) {
    let mut columns = Columns::of(records);
    let width = columns.names.len();
    let mut arena = Arena::for_table(records.len(), width);
    // Every cell starts null: a record without one of the batch's fields has it empty.
    let mut cells: Vec<u32> = [0, NULL].repeat(records.len() * width);
    let mut values = Vec::new();
    let mut headers = Vec::with_capacity(records.len());
    for (row, record) in records.iter().enumerate() {
        let source_id = text_ref(arena.push(&record.source_id));
        headers.push(wire::RecordHeader { kind: object_kind(record.kind), source_id });
        for (position, (name, value)) in record.fields.iter().enumerate() {
            let cell = 2 * (row * width + columns.find_or_add(name, position));
            let (start, len) = match value {
                Value::Null => (0, NULL),
                Value::Text(text) => arena.push(text),
                typed => {
                    values.push(typed_value(typed, &mut arena));
                    (u32::try_from(values.len() - 1).expect("fewer values than cells"), TYPED)
                }
            };
            cells[cell] = start;
            cells[cell + 1] = len;
        }
    }
    let names = columns.names.clone();
    let batch = wire::Batch {
        id,
        columns: columns.names.into_iter().map(str::to_owned).collect(),
        records: headers,
        cells,
        values,
        text: arena.0,
    };
    (batch, names)
}

fn typed_value(value: &Value, arena: &mut Arena) -> wire::TypedValue {
    match value {
        Value::Number(number) => wire::TypedValue::Number(*number),
        Value::Boolean(boolean) => wire::TypedValue::Boolean(*boolean),
        Value::Date(date) => wire::TypedValue::Date(wire_date(date)),
        Value::DateTime(datetime) => wire::TypedValue::Datetime(wire_datetime(datetime)),
        Value::Choices(choices) => {
            wire::TypedValue::Choices(choices.iter().map(|choice| text_ref(arena.push(choice))).collect())
        }
        Value::Null | Value::Text(_) => unreachable!("null and text travel as spans"),
    }
}

/// The plugin's answer as one outcome per record, once every number in it is checked and its
/// size is within `output_limit`.
pub fn outcomes(
    cleaned: wire::Cleaned,
    columns: &[&str],
    records: usize,
    output_limit: usize,
) -> Result<Vec<CleanOutcome>, HookFailure> {
    let invalid = |detail: String| HookFailure::InvalidOutput { detail };
    let answer = Answer { cleaned: &cleaned, columns };
    // First the numbers and the size, without copying anything out.
    let changes = cleaned.changes.chunks(4);
    if !cleaned.changes.len().is_multiple_of(4) {
        return Err(invalid(format!("{} change numbers, not four a change", cleaned.changes.len())));
    }
    let mut bytes = cleaned.exits.iter().map(|exit| exit.output_bytes()).fold(0, usize::saturating_add);
    for (index, change) in changes.clone().enumerate() {
        let [record, field, start, len] = [change[0], change[1], change[2], change[3]];
        if record as usize >= records {
            return Err(invalid(format!("change {index} is for record {record}, the batch has {records}")));
        }
        let name = answer.field(field).ok_or_else(|| {
            invalid(format!(
                "change {index} sets field {field}, the batch has {} columns and the answer {} new fields",
                columns.len(),
                cleaned.new_fields.len()
            ))
        })?;
        let value_bytes =
            answer.value_bytes(start, len).map_err(|problem| invalid(format!("change {index}: {problem}")))?;
        bytes = bytes.saturating_add(OUTPUT_ELEMENT_BYTES).saturating_add(name.len()).saturating_add(value_bytes);
    }
    if bytes > output_limit {
        return Err(HookFailure::OutputTooLarge { bytes, limit: output_limit });
    }
    let mut outcomes = vec![CleanOutcome::Keep(Vec::new()); records];
    for change in changes {
        let [record, field, start, len] = [change[0], change[1], change[2], change[3]];
        let field = answer.field(field).expect("checked above").to_owned();
        let value = answer.value(start, len).expect("checked above");
        if let CleanOutcome::Keep(changes) = &mut outcomes[record as usize] {
            changes.push(FieldChange { field, value });
        }
    }
    for (index, exit) in cleaned.exits.into_iter().enumerate() {
        let record = exit.record as usize;
        match outcomes.get(record) {
            Some(CleanOutcome::Keep(changes)) if changes.is_empty() => {}
            Some(CleanOutcome::Keep(_)) => {
                return Err(invalid(format!("exit {index} is for record {record}, which the answer also changes")));
            }
            Some(_) => return Err(invalid(format!("exit {index} is for record {record}, which has one already"))),
            None => return Err(invalid(format!("exit {index} is for record {record}, the batch has {records}"))),
        }
        outcomes[record] = match exit.exit {
            wire::Exit::Drop(reason) => CleanOutcome::Drop(reason),
            wire::Exit::Reject(issues) => CleanOutcome::Reject(issues.into_iter().map(field_issue).collect()),
        };
    }
    Ok(outcomes)
}

/// Reads a `cleaned` answer's fields and values.
struct Answer<'a> {
    cleaned: &'a wire::Cleaned,
    columns: &'a [&'a str],
}

impl Answer<'_> {
    /// The name of field `field`: a column of the batch, or one of the answer's new fields.
    fn field(&self, field: u32) -> Option<&str> {
        let field = field as usize;
        match field.checked_sub(self.columns.len()) {
            None => Some(self.columns[field]),
            Some(new) => self.cleaned.new_fields.get(new).map(String::as_str),
        }
    }

    fn text(&self, text_ref: wire::TextRef) -> Result<&str, String> {
        let start = text_ref.start as usize;
        start.checked_add(text_ref.len as usize).and_then(|end| self.cleaned.text.get(start..end)).ok_or_else(|| {
            format!(
                "text [{start}, +{}) is outside the answer's {} bytes of text or not on character boundaries",
                text_ref.len,
                self.cleaned.text.len()
            )
        })
    }

    /// What the value of a change costs in the output limit (as [`OutputBytes`] counts it),
    /// or why it is not a value.
    fn value_bytes(&self, start: u32, len: u32) -> Result<usize, String> {
        Ok(match len {
            NULL => 8,
            TYPED => match self.typed(start)? {
                wire::TypedValue::Choices(choices) => {
                    let mut bytes = 0usize;
                    for choice in choices {
                        bytes = bytes.saturating_add(OUTPUT_ELEMENT_BYTES).saturating_add(self.text(*choice)?.len());
                    }
                    bytes
                }
                _ => 8,
            },
            len => self.text(wire::TextRef { start, len })?.len(),
        })
    }

    fn typed(&self, start: u32) -> Result<&wire::TypedValue, String> {
        self.cleaned
            .values
            .get(start as usize)
            .ok_or_else(|| format!("typed value {start} is outside the answer's {} values", self.cleaned.values.len()))
    }

    fn value(&self, start: u32, len: u32) -> Result<Value, String> {
        Ok(match len {
            NULL => Value::Null,
            TYPED => match self.typed(start)? {
                wire::TypedValue::Number(number) => Value::Number(*number),
                wire::TypedValue::Boolean(boolean) => Value::Boolean(*boolean),
                wire::TypedValue::Date(wire_date) => Value::Date(date(*wire_date)),
                wire::TypedValue::Datetime(wire_datetime) => Value::DateTime(datetime(*wire_datetime)),
                wire::TypedValue::Choices(choices) => Value::Choices(
                    choices.iter().map(|choice| self.text(*choice).map(str::to_owned)).collect::<Result<_, _>>()?,
                ),
            },
            len => Value::Text(self.text(wire::TextRef { start, len })?.to_owned()),
        })
    }
}

impl OutputBytes for wire::RecordExit {
    fn output_bytes(&self) -> usize {
        OUTPUT_ELEMENT_BYTES.saturating_add(match &self.exit {
            wire::Exit::Drop(reason) => reason.len(),
            wire::Exit::Reject(issues) => issues
                .iter()
                .map(|issue| OUTPUT_ELEMENT_BYTES.saturating_add(issue.field.len()).saturating_add(issue.message.len()))
                .fold(0, usize::saturating_add),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COLUMNS: &[&str] = &["name", "email"];

    fn cleaned(changes: &[u32], text: &str) -> wire::Cleaned {
        wire::Cleaned {
            changes: changes.to_vec(),
            values: Vec::new(),
            new_fields: Vec::new(),
            exits: Vec::new(),
            text: text.into(),
        }
    }

    fn text(text: &str) -> Value {
        Value::Text(text.into())
    }

    #[test]
    fn changes_by_position_become_named_changes_of_their_records() {
        let mut answer = cleaned(&[1, 1, 0, 3, 1, 2, 0, TYPED, 0, 0, 0, NULL], "ada");
        answer.new_fields = vec!["score".into()];
        answer.values = vec![wire::TypedValue::Number(2.5)];
        answer.exits = vec![wire::RecordExit { record: 2, exit: wire::Exit::Drop("test account".into()) }];
        let outcomes = outcomes(answer, COLUMNS, 3, 1 << 20).unwrap();
        assert_eq!(
            outcomes,
            [
                CleanOutcome::Keep(vec![FieldChange { field: "name".into(), value: Value::Null }]),
                CleanOutcome::Keep(vec![
                    FieldChange { field: "email".into(), value: text("ada") },
                    FieldChange { field: "score".into(), value: Value::Number(2.5) },
                ]),
                CleanOutcome::Drop("test account".into()),
            ]
        );
    }

    /// Answers a hostile plugin may send: each is refused with what is wrong, before the host
    /// copies anything out of it.
    #[test]
    fn numbers_out_of_range_are_invalid_answers_not_panics() {
        let refused = |answer: wire::Cleaned| match outcomes(answer, COLUMNS, 2, 1 << 20) {
            Err(HookFailure::InvalidOutput { detail }) => detail,
            other => panic!("{other:?}"),
        };
        assert!(refused(cleaned(&[2, 0, 0, 1], "a")).contains("record 2, the batch has 2"));
        assert!(refused(cleaned(&[0, 2, 0, 1], "a")).contains("sets field 2"));
        assert!(refused(cleaned(&[0, 0, 0, 2], "a")).contains("outside the answer's 1 bytes"));
        assert!(refused(cleaned(&[0, 0, u32::MAX, 2], "a")).contains("outside"), "start + len overflows");
        assert!(refused(cleaned(&[0, 0, 1, 1], "é")).contains("character boundaries"));
        assert!(refused(cleaned(&[0, 0, 0, TYPED], "")).contains("typed value 0 is outside"));
        assert!(refused(cleaned(&[0, 0, 0], "")).contains("not four a change"));
        let mut choices = cleaned(&[0, 0, 0, TYPED], "a");
        choices.values = vec![wire::TypedValue::Choices(vec![wire::TextRef { start: 0, len: 9 }])];
        assert!(refused(choices).contains("outside"));

        let exit = |record| wire::RecordExit { record, exit: wire::Exit::Drop("x".into()) };
        let mut changed_and_dropped = cleaned(&[0, 0, 0, 1], "a");
        changed_and_dropped.exits = vec![exit(0)];
        assert!(refused(changed_and_dropped).contains("also changes"));
        let mut twice = cleaned(&[], "");
        twice.exits = vec![exit(1), exit(1)];
        assert!(refused(twice).contains("has one already"));
        let mut beyond = cleaned(&[], "");
        beyond.exits = vec![exit(5)];
        assert!(refused(beyond).contains("record 5, the batch has 2"));
    }

    #[test]
    fn changes_that_point_at_the_same_text_count_each_time_before_any_is_copied() {
        // A thousand changes naming one megabyte: a gigabyte if copied out; refused first.
        let megabyte = "x".repeat(1 << 20);
        let changes: Vec<u32> = (0..1000).flat_map(|_| [0, 0, 0, 1 << 20]).collect();
        match outcomes(cleaned(&changes, &megabyte), COLUMNS, 1, 16 << 20) {
            Err(HookFailure::OutputTooLarge { bytes, limit }) => {
                assert!(bytes > 1000 << 20, "{bytes}");
                assert_eq!(limit, 16 << 20);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_batch_is_a_table_of_spans_with_typed_values_apart() {
        use crm_migrate_core::record::ObjectKind;
        let first = Record {
            kind: ObjectKind::Contact,
            source_id: "u-1".into(),
            fields: vec![("name".into(), text("Zofia")), ("score".into(), Value::Number(1.5))],
        };
        let second = Record {
            kind: ObjectKind::Contact,
            source_id: "u-2".into(),
            fields: vec![("tags".into(), Value::Choices(vec!["a".into()])), ("name".into(), Value::Null)],
        };
        let (batch, columns) = encode_batch(7, &[&first, &second]);
        assert_eq!(columns, ["name", "score", "tags"]);
        assert_eq!(batch.text, "u-1Zofiau-2a");
        // Row 1: name, score (values[0]), tags (absent: null); row 2: name null, score absent, tags values[1].
        assert_eq!(batch.cells, [3, 5, 0, TYPED, 0, NULL, 0, NULL, 0, NULL, 1, TYPED]);
        assert!(
            matches!(&batch.values[..], [
                wire::TypedValue::Number(1.5),
                wire::TypedValue::Choices(choices),
            ] if matches!(choices[..], [wire::TextRef { start: 11, len: 1 }])),
            "{:?}",
            batch.values
        );
    }
}
