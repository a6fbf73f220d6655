//! When the export was taken, and the event times after it. An event is something that happened:
//! one dated after the export was written is a suspicious value (a clock or a time zone gone
//! wrong, a test event), read as a value that does not fit, so it is listed and its event is not
//! marked done.

use std::time::UNIX_EPOCH;

use crm_migrate_core::record::{DateTime, ObjectKind, Value};

use super::{Column, ExportFile, Issue};

/// How an issue of an event time after the export starts its `expected`.
const NOT_AFTER: &str = "a time no later than the export was taken";

/// The export's time: the newest modification time of its files, in unix milliseconds. A copy
/// made later has a later time, so this errs towards accepting a time, never towards refusing one.
pub fn taken_at(files: &[ExportFile]) -> Option<i64> {
    files
        .iter()
        .filter_map(|file| std::fs::metadata(&file.path).and_then(|meta| meta.modified()).ok())
        .filter_map(|time| time.duration_since(UNIX_EPOCH).ok())
        .map(|since| since.as_millis() as i64)
        .max()
}

/// What was expected instead, when `value` of `column` is an event's time after `taken_at`.
pub fn after_export(kind: ObjectKind, column: &Column, value: &Value, taken_at: i64) -> Option<String> {
    if kind != ObjectKind::Event || !matches!(column.field.as_str(), "start" | "timestamp") {
        return None;
    }
    match value {
        Value::DateTime(time) if time.unix_millis > taken_at => Some(format!(
            "{NOT_AFTER} ({}, the newest time of its files): an event is something that happened, so it is not marked done",
            DateTime { unix_millis: taken_at - taken_at.rem_euclid(1000), offset_minutes: 0 }
        )),
        _ => None,
    }
}

/// The issue is an event time after the export.
pub fn is_after_export(issue: &Issue) -> bool {
    issue.expected.starts_with(NOT_AFTER)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::columns::plan_columns;

    #[test]
    fn only_an_events_time_after_the_export_is_suspicious() {
        let (columns, _) = plan_columns(ObjectKind::Event, &["id".into(), "timestamp".into(), "name".into()], &[]);
        let time = |millis| Value::DateTime(DateTime { unix_millis: millis, offset_minutes: 0 });
        let expected = after_export(ObjectKind::Event, &columns[1], &time(2_000), 1_000).expect("after");
        assert!(expected.starts_with(NOT_AFTER) && expected.contains("1970-01-01"), "{expected}");
        assert_eq!(after_export(ObjectKind::Event, &columns[1], &time(1_000), 1_000), None);
        assert_eq!(after_export(ObjectKind::Activity, &columns[1], &time(2_000), 1_000), None);
        assert_eq!(after_export(ObjectKind::Event, &columns[2], &time(2_000), 1_000), None);
    }
}
