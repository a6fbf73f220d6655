//! A plugin written against the raw contract (no SDK: the SDK's types cannot express these
//! values) that answers with values out of range. `clean` reads each record's `attack` field and
//! sets the field `when` (or names a field) as that attack says: a datetime offset of -32768
//! minutes, unix millis of i64::MAX, month 13, day 0, a NaN, a field name with an escape
//! sequence... A record without `attack` gets a valid date. `label` turns a tag named `empty`,
//! `control` or `long` into a label of that kind, and any other tag into a label of its name.
//! `merge` keeps each group's first record and sets `when` on it: to an offset of -32768
//! minutes when a record of the batch has `attack` = `merge-offset`.

use raw_kit::RawPlugin;
use raw_kit::types::{
    Batch, Cell, CleanOutcome, Date, Datetime, FieldChange, FieldIssue, FieldValue, Hook, LabelColor, LabelSpec,
    MergeDecision, PluginInfo, Segment, Tag, TagDecision, TagFate,
};

pub struct HostileValues;

/// The `attack` field of each record, in order (empty when the record has none).
fn attacks(batch: &Batch) -> Vec<String> {
    let width = batch.columns.len();
    let column = batch.columns.iter().position(|name| name == "attack");
    (0..batch.records.len())
        .map(|row| match column.map(|column| &batch.cells[row * width + column]) {
            Some(Cell::Text(text)) => batch.text[text.start as usize..(text.start + text.len) as usize].to_owned(),
            _ => String::new(),
        })
        .collect()
}

fn set(field: &str, value: FieldValue) -> CleanOutcome {
    CleanOutcome::Keep(vec![FieldChange { field: field.to_owned(), value }])
}

fn datetime(unix_millis: i64, offset_minutes: i16) -> CleanOutcome {
    set("when", FieldValue::Datetime(Datetime { unix_millis, offset_minutes }))
}

fn date(year: i32, month: u8, day: u8) -> CleanOutcome {
    set("when", FieldValue::Date(Date { year, month, day }))
}

fn outcome(attack: &str) -> CleanOutcome {
    match attack {
        "offset-min" => datetime(0, i16::MIN),
        "offset-max" => datetime(0, i16::MAX),
        "offset-19h" => datetime(0, 19 * 60),
        "millis-max" => datetime(i64::MAX, 0),
        "millis-min" => datetime(i64::MIN, 60),
        // 9999-12-31T23:59:59.999Z is the last instant; written at +01:00 it is local year 10000.
        "local-year-10000" => datetime(253_402_300_799_999, 60),
        "month-13" => date(2024, 13, 1),
        "month-0" => date(2024, 0, 1),
        "day-0" => date(2024, 1, 0),
        "feb-29-2023" => date(2023, 2, 29),
        "year-max" => date(i32::MAX, 12, 31),
        "nan" => set("score", FieldValue::Number(f64::NAN)),
        "infinity" => set("score", FieldValue::Number(f64::INFINITY)),
        "field-empty" => set("", FieldValue::Text("x".into())),
        "field-escape" => set("name\u{1b}[2K", FieldValue::Text("x".into())),
        "field-newline" => set("a\nb", FieldValue::Text("x".into())),
        "field-long" => set(&"f".repeat(1000), FieldValue::Text("x".into())),
        "issue-field-escape" => {
            CleanOutcome::Reject(vec![FieldIssue { field: "email\u{1b}[2K".into(), message: "bad".into() }])
        }
        "new-field" => set("invented_by_plugin", FieldValue::Text("x".into())),
        _ => date(2024, 2, 29),
    }
}

impl RawPlugin for HostileValues {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "hostile-values".into(),
            version: "0.1.0".into(),
            description: "Values out of range".into(),
            hooks: vec![Hook::Clean, Hook::Dedup, Hook::Label],
            options: Vec::new(),
        }
    }

    fn clean(batch: Batch) -> Result<Vec<CleanOutcome>, String> {
        Ok(attacks(&batch).iter().map(|attack| outcome(attack)).collect())
    }

    fn merge(batch: Batch, groups: Vec<Vec<u32>>) -> Result<Vec<MergeDecision>, String> {
        let offset = if attacks(&batch).iter().any(|attack| attack == "merge-offset") { i16::MIN } else { 60 };
        Ok(groups
            .into_iter()
            .map(|group| MergeDecision {
                survivor: group[0],
                absorbed: group[1..].to_vec(),
                changes: vec![FieldChange {
                    field: "when".into(),
                    value: FieldValue::Datetime(Datetime { unix_millis: 0, offset_minutes: offset }),
                }],
            })
            .collect())
    }

    fn label(tags: Vec<Tag>, _segments: Vec<Segment>) -> Result<Vec<TagDecision>, String> {
        Ok(tags
            .into_iter()
            .map(|tag| {
                let name = match tag.name.as_str() {
                    "empty" => "  ".to_owned(),
                    "control" => "VIP\u{1b}[2K\ndigest: sha256:0".to_owned(),
                    "long" => "L".repeat(1000),
                    other => other.to_owned(),
                };
                TagDecision {
                    tag_id: tag.id,
                    fate: TagFate::Label(LabelSpec { name, color: LabelColor::Red }),
                    segment_origin: false,
                }
            })
            .collect())
    }
}

raw_kit::export_raw_plugin!(HostileValues);
