//! Records, tags and segments from small CSV files: what a plugin author feeds
//! `crm-migrate plugin run`. (A User.com export is read by the extract stage, not here; reports
//! are written through `crm_migrate_core::report_csv`.)
//!
//! The header names the fields. `id` (or `source_id`) is the record's id and `kind` its object
//! kind (else the kind given by the caller). A column may declare its type with a suffix:
//! `score:number`, `vip:boolean`, `birthday:date`, `updated_at:datetime`, `tags:choices`
//! (options separated by `|`); other columns are text. An empty cell is null.

use std::path::{Path, PathBuf};

use crate::plugins::{Segment, Tag};
use crm_migrate_core::record::{Date, DateTime, ObjectKind, Record, Value};

/// A cell that cannot be read: where it is and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    #[error("cannot read {path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("{path}, line {line}, field '{field}': {message}")]
    Cell { path: PathBuf, line: u64, field: String, message: String },
}

/// Records read from a CSV file, each with the line it started on.
pub struct CsvRecords {
    pub records: Vec<Record>,
    pub lines: Vec<u64>,
}

#[derive(Clone, Copy)]
enum ColumnType {
    Text,
    Number,
    Boolean,
    Date,
    DateTime,
    Choices,
}

pub fn read_records(path: &Path, default_kind: ObjectKind) -> Result<CsvRecords, CsvError> {
    let mut reader = open(path)?;
    let header = reader.headers().map_err(|error| file_error(path, error))?.clone();
    let mut columns = Vec::new();
    for (index, raw) in header.iter().enumerate() {
        let (name, ty) = match raw.split_once(':') {
            None => (raw.trim(), ColumnType::Text),
            Some((name, ty)) => {
                let ty = match ty.trim() {
                    "text" => ColumnType::Text,
                    "number" => ColumnType::Number,
                    "boolean" => ColumnType::Boolean,
                    "date" => ColumnType::Date,
                    "datetime" => ColumnType::DateTime,
                    "choices" => ColumnType::Choices,
                    other => {
                        return Err(CsvError::Cell {
                            path: path.to_owned(),
                            line: 1,
                            field: raw.to_owned(),
                            message: format!(
                                "unknown column type '{other}'; use text, number, boolean, date, datetime or choices"
                            ),
                        });
                    }
                };
                (name.trim(), ty)
            }
        };
        columns.push((index, name.to_owned(), ty));
    }
    let id_column = columns.iter().position(|(_, name, _)| name == "id" || name == "source_id");
    let kind_column = columns.iter().position(|(_, name, _)| name == "kind");

    let mut records = Vec::new();
    let mut lines = Vec::new();
    for row in reader.records() {
        let row = row.map_err(|error| file_error(path, error))?;
        let line = row.position().map_or(0, |position| position.line());
        let cell_error = |field: &str, message: String| CsvError::Cell {
            path: path.to_owned(),
            line,
            field: field.to_owned(),
            message,
        };
        let kind = match kind_column.and_then(|column| row.get(column)).filter(|kind| !kind.is_empty()) {
            Some(kind) => kind.parse().map_err(|message| cell_error("kind", message))?,
            None => default_kind,
        };
        let source_id = match id_column.and_then(|column| row.get(column)) {
            Some(id) if !id.trim().is_empty() => id.trim().to_owned(),
            _ => format!("line-{line}"),
        };
        let mut record = Record::new(kind, source_id);
        for (position, (index, name, ty)) in columns.iter().enumerate() {
            if Some(position) == id_column || Some(position) == kind_column {
                continue;
            }
            let raw = row.get(*index).unwrap_or_default();
            let value = parse_cell(raw, *ty).map_err(|message| cell_error(name, message))?;
            record.fields.push((name.clone(), value));
        }
        records.push(record);
        lines.push(line);
    }
    Ok(CsvRecords { records, lines })
}

/// A tag catalogue: columns `id`, `name`, `record_count` (optional, default 0).
pub fn read_tags(path: &Path) -> Result<Vec<Tag>, CsvError> {
    read_rows(path, &["id", "name"], |row| {
        let record_count = match row.get("record_count") {
            "" => 0,
            count => count.parse().map_err(|_| row.error("record_count", format!("'{count}' is not a count")))?,
        };
        Ok(Tag { id: row.get("id").to_owned(), name: row.get("name").to_owned(), record_count })
    })
}

/// Segment definitions: columns `id`, `name`, `definition` (optional).
pub fn read_segments(path: &Path) -> Result<Vec<Segment>, CsvError> {
    read_rows(path, &["id", "name"], |row| {
        let definition = Some(row.get("definition").to_owned()).filter(|definition| !definition.is_empty());
        Ok(Segment { id: row.get("id").to_owned(), name: row.get("name").to_owned(), definition })
    })
}

/// A row of a small catalogue file, read by column name.
struct Row<'a> {
    path: &'a Path,
    header: &'a csv::StringRecord,
    row: &'a csv::StringRecord,
}

impl Row<'_> {
    fn get(&self, column: &str) -> &str {
        self.header.iter().position(|name| name == column).and_then(|i| self.row.get(i)).unwrap_or_default().trim()
    }

    fn error(&self, field: &str, message: String) -> CsvError {
        let line = self.row.position().map_or(0, |position| position.line());
        CsvError::Cell { path: self.path.to_owned(), line, field: field.to_owned(), message }
    }
}

fn read_rows<T>(
    path: &Path,
    required: &[&str],
    mut build: impl FnMut(&Row<'_>) -> Result<T, CsvError>,
) -> Result<Vec<T>, CsvError> {
    let mut reader = open(path)?;
    let header = reader.headers().map_err(|error| file_error(path, error))?.clone();
    if let Some(missing) = required.iter().find(|column| !header.iter().any(|name| name == **column)) {
        return Err(CsvError::Cell {
            path: path.to_owned(),
            line: 1,
            field: missing.to_string(),
            message: format!("missing column; the header needs: {}", required.join(", ")),
        });
    }
    let mut rows = Vec::new();
    for row in reader.records() {
        let row = row.map_err(|error| file_error(path, error))?;
        rows.push(build(&Row { path, header: &header, row: &row })?);
    }
    Ok(rows)
}

fn open(path: &Path) -> Result<csv::Reader<std::fs::File>, CsvError> {
    csv::ReaderBuilder::new().flexible(false).from_path(path).map_err(|error| file_error(path, error))
}

fn file_error(path: &Path, error: csv::Error) -> CsvError {
    CsvError::File { path: path.to_owned(), message: error.to_string() }
}

fn parse_cell(raw: &str, ty: ColumnType) -> Result<Value, String> {
    if raw.is_empty() {
        return Ok(Value::Null);
    }
    let trimmed = raw.trim();
    match ty {
        ColumnType::Text => Ok(Value::Text(raw.to_owned())),
        ColumnType::Number => trimmed.parse().map(Value::Number).map_err(|_| format!("'{raw}' is not a number")),
        ColumnType::Boolean => match trimmed.to_ascii_lowercase().as_str() {
            "true" | "t" | "yes" | "1" => Ok(Value::Boolean(true)),
            "false" | "f" | "no" | "0" => Ok(Value::Boolean(false)),
            _ => Err(format!("'{raw}' is not a boolean (true/false, t/f, yes/no, 1/0)")),
        },
        ColumnType::Date => {
            parse_date(trimmed).map(Value::Date).ok_or_else(|| format!("'{raw}' is not a date (YYYY-MM-DD)"))
        }
        ColumnType::DateTime => parse_datetime(trimmed)
            .map(Value::DateTime)
            .ok_or_else(|| format!("'{raw}' is not an ISO 8601 datetime (YYYY-MM-DDTHH:MM:SS with Z or +HH:MM)")),
        ColumnType::Choices => Ok(Value::Choices(
            raw.split('|').map(str::trim).filter(|choice| !choice.is_empty()).map(str::to_owned).collect(),
        )),
    }
}

fn parse_date(text: &str) -> Option<Date> {
    let mut parts = text.splitn(3, '-');
    let year = parts.next()?.parse().ok()?;
    let month: u8 = parts.next()?.parse().ok()?;
    let day: u8 = parts.next()?.parse().ok()?;
    // Only dates on the calendar: not 2024-02-30 and friends.
    Date::new(year, month, day)
}

fn parse_datetime(text: &str) -> Option<DateTime> {
    let (date, rest) = text.split_once(['T', ' '])?;
    let date = parse_date(date)?;
    let (time, offset_minutes) = if let Some(time) = rest.strip_suffix('Z') {
        (time, 0i16)
    } else if let Some(split) = rest.rfind(['+', '-']) {
        let (time, offset) = rest.split_at(split);
        let sign = if offset.starts_with('-') { -1 } else { 1 };
        let (hours, minutes) = offset[1..].split_once(':').unwrap_or((&offset[1..], "0"));
        (time, sign * (hours.parse::<i16>().ok()? * 60 + minutes.parse::<i16>().ok()?))
    } else {
        (rest, 0)
    };
    let time = time.split('.').next()?;
    let mut parts = time.split(':');
    let hour: i64 = parts.next()?.parse().ok()?;
    let minute: i64 = parts.next()?.parse().ok()?;
    let second: i64 = parts.next().map_or(Some(0), |s| s.parse().ok())?;
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let local_seconds = date.days_since_epoch()? * 86_400 + hour * 3600 + minute * 60 + second;
    Some(DateTime { unix_millis: (local_seconds - i64::from(offset_minutes) * 60) * 1000, offset_minutes })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_columns_are_parsed_and_bad_cells_named_by_line_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("records.csv");
        std::fs::write(
            &path,
            "id,email,score:number,vip:boolean,updated_at:datetime,tags:choices\n\
             u1,ada@example.com,4.5,t,2024-03-01T10:30:00+01:00,vip|beta\n\
             u2,,,,,\n",
        )
        .unwrap();
        let read = read_records(&path, ObjectKind::Contact).unwrap();
        assert_eq!(read.lines, vec![2, 3]);
        let first = &read.records[0];
        assert_eq!(first.source_id, "u1");
        assert_eq!(first.get("score"), Some(&Value::Number(4.5)));
        assert_eq!(first.get("vip"), Some(&Value::Boolean(true)));
        assert_eq!(first.get("updated_at").unwrap().to_string(), "2024-03-01T10:30:00+01:00");
        assert_eq!(first.get("tags"), Some(&Value::Choices(vec!["vip".into(), "beta".into()])));
        assert_eq!(read.records[1].get("email"), Some(&Value::Null));

        std::fs::write(&path, "id,score:number\nu1,1\nu2,lots\n").unwrap();
        let error = read_records(&path, ObjectKind::Contact).err().unwrap().to_string();
        assert!(error.contains("line 3") && error.contains("'score'") && error.contains("not a number"), "{error}");
    }

    #[test]
    fn impossible_dates_are_refused() {
        assert!(parse_date("2024-02-29").is_some());
        assert!(parse_date("2023-02-29").is_none());
        assert!(parse_datetime("2024-03-01T25:00:00Z").is_none());
    }
}
