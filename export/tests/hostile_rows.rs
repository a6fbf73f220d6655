//! A hostile users.csv read end to end, in batches and not: a byte order mark, CRLF line ends,
//! quoted cells with line breaks, blank and all-space lines, dates in odd forms, and bytes that
//! are not UTF-8 in one cell. Every record must come out with its exact line and issues, and
//! reading the CSV on a thread of its own ([`RecordReader::parse_ahead`]) must change nothing.

use std::path::Path;

use crm_migrate_core::record::{ObjectKind, Value};
use usercom_export::extract::{Export, ExportOptions, ExtractError, ReadRecord, RecordReader};

/// Datetimes as exports (and people) write them, and whether the reader takes them.
const MOMENTS: [(&str, bool); 21] = [
    ("2024-03-01T10:00:00Z", true),
    ("2024-03-01 10:00:00+01", true),
    ("2024-02-30", false),
    ("2024-13-01T00:00:00Z", false),
    ("2024-03-01T25:00:00", false),
    ("2024-03-01 10:00:00.1234567+01:30", true),
    (" 2024-03-01 ", true),
    ("1700000000", true),
    ("01.03.2024", true),
    ("2024-03-01T10:00", true),
    ("2024-03-01t10:00:00z", true),
    ("2024-03-01 10:00:00 +0130", true),
    ("2024-03-01T10:00:00,5-05", true),
    ("9999-12-31T23:59:60Z", true),
    ("2024-3-1", false),
    ("+2024-03-01", false),
    ("2024-03-01T10:00:00+19", false),
    ("２０２４-03-01", false),
    ("2024-03-01T10:00:00.Z", true),
    ("2024-03-01T10:00:00+01:30:00", false),
    ("", true),
];

/// The row count: several of the reader's batches.
const ROWS: usize = 2_500;

/// What the test expects of one row.
struct Expected {
    id: String,
    line: u64,
    /// Columns with an issue, in order.
    issues: Vec<&'static str>,
    /// Of them, cells that are not UTF-8.
    not_utf8: usize,
}

/// Writes users.csv into `dir`; returns what each record must read as.
fn write_hostile_users(dir: &Path) -> Vec<Expected> {
    let mut bytes = b"\xEF\xBB\xBFid,email,created_at,city,status\r\n".to_vec();
    let mut line = 2;
    let mut expected = Vec::new();
    for i in 0..ROWS {
        let id = (10_000 + i).to_string();
        let mut issues = Vec::new();
        let email = if i % 97 == 5 {
            issues.push("email");
            "jan@".to_owned()
        } else {
            format!("u{i}@example.pl")
        };
        let (moment, fits) = MOMENTS[i % MOMENTS.len()];
        if !fits {
            issues.push("created_at");
        }
        let city: &[u8] = match i % 211 {
            7 => {
                issues.push("city");
                b"Gda\xFFsk"
            }
            // A character split by the cell's end: the row is UTF-8 only with the delimiter removed.
            8 => {
                issues.push("city");
                b"Krak\xC3"
            }
            _ if i % 100 == 3 => b"\"Multi\r\nline, \"\"quoted\"\"\"",
            _ => "Łódź".as_bytes(),
        };
        let status: &[u8] = if i % 211 == 8 { b"\xB3" } else { b"2" };
        if i % 211 == 8 {
            // Not UTF-8, and then not a status either.
            issues.extend(["status", "status"]);
        }
        let moment = if moment.contains([',', ' ']) { format!("\"{moment}\"") } else { moment.to_owned() };
        bytes.extend_from_slice(format!("{id},{email},{moment},").as_bytes());
        bytes.extend_from_slice(city);
        bytes.push(b',');
        bytes.extend_from_slice(status);
        bytes.extend_from_slice(b"\r\n");
        let not_utf8 = match i % 211 {
            7 => 1,
            8 => 2,
            _ => 0,
        };
        expected.push(Expected { id, line, issues, not_utf8 });
        line += 1 + city.iter().filter(|b| **b == b'\n').count() as u64;
        if i % 300 == 299 {
            bytes.extend_from_slice(b"\r\n");
            line += 1;
        }
        if i == 700 {
            bytes.extend_from_slice(b"   \r\n");
            line += 1;
        }
    }
    std::fs::write(dir.join("users.csv"), bytes).unwrap();
    expected
}

fn read(mut reader: RecordReader) -> Vec<ReadRecord> {
    let mut records = Vec::new();
    let mut out = ReadRecord::new(ObjectKind::Contact);
    while reader.read_into(&mut out).unwrap() {
        records.push(out.clone());
    }
    records
}

fn assert_same(ahead: &[ReadRecord], here: &[ReadRecord]) {
    assert_eq!(ahead.len(), here.len());
    for (ahead, here) in ahead.iter().zip(here) {
        assert_eq!((&ahead.record, ahead.line, &ahead.issues), (&here.record, here.line, &here.issues));
    }
}

#[test]
fn a_hostile_file_reads_with_exact_lines_and_issues() {
    let dir = tempfile::tempdir().unwrap();
    let expected = write_hostile_users(dir.path());
    let export = Export::open(dir.path(), ExportOptions::default()).unwrap();
    let records = read(export.records(ObjectKind::Contact).unwrap().unwrap());
    assert_eq!(records.len(), ROWS, "the all-space and blank lines are not records");
    for (record, expected) in records.iter().zip(&expected) {
        assert_eq!((record.record.source_id.as_str(), record.line), (expected.id.as_str(), expected.line));
        let columns: Vec<&str> = record.issues.iter().map(|issue| issue.column.as_str()).collect();
        assert_eq!(columns, expected.issues, "line {}", record.line);
        for issue in &record.issues {
            assert_eq!(issue.line, record.line);
            assert_eq!(issue.file.file_name().unwrap(), "users.csv");
            if issue.expected.starts_with("UTF-8 text") {
                assert!(issue.value.contains('\u{FFFD}'), "{issue}");
            }
        }
        let not_utf8 = record.issues.iter().filter(|issue| issue.expected.starts_with("UTF-8 text")).count();
        assert_eq!(not_utf8, expected.not_utf8, "line {}", record.line);
    }
    let multi = &records[3];
    assert_eq!(multi.record.get("city"), Some(&Value::Text("Multi\r\nline, \"quoted\"".into())));
    assert_eq!(records[4].line, multi.line + 2);
    assert!(matches!(records[0].record.get("created_at"), Some(Value::DateTime(_))));
    assert_eq!(records[6].record.get("created_at").map(ToString::to_string).as_deref(), Some("2024-03-01"));
}

#[test]
fn parsing_ahead_reads_the_same_records_lines_and_issues() {
    let dir = tempfile::tempdir().unwrap();
    write_hostile_users(dir.path());
    let export = Export::open(dir.path(), ExportOptions::default()).unwrap();
    let here = read(export.records(ObjectKind::Contact).unwrap().unwrap());
    let ahead = read(export.records(ObjectKind::Contact).unwrap().unwrap().parse_ahead().unwrap());
    assert_same(&ahead, &here);
    // Rows held while a column's type is inferred come first, then the thread's.
    let inferring = ExportOptions { inference_rows: 300, ..ExportOptions::default() };
    std::fs::write(dir.path().join("users.csv"), {
        let mut bytes = std::fs::read(dir.path().join("users.csv")).unwrap();
        let header_end = bytes.iter().position(|b| *b == b'\r').unwrap();
        bytes.splice(header_end..header_end, *b",vip");
        bytes
    })
    .unwrap();
    let export = Export::open(dir.path(), inferring).unwrap();
    let here = read(export.records(ObjectKind::Contact).unwrap().unwrap());
    let ahead = read(export.records(ObjectKind::Contact).unwrap().unwrap().parse_ahead().unwrap());
    assert!(here.iter().all(|record| record.issues.iter().any(|issue| issue.column == "(row)")));
    assert_same(&ahead, &here);
}

#[test]
fn parsing_ahead_gives_the_rows_before_a_broken_one_then_its_error() {
    let dir = tempfile::tempdir().unwrap();
    let mut users = String::from("id,email\n");
    for i in 0..1_000 {
        users.push_str(&format!("{i},u{i}@example.pl\n"));
    }
    users.push_str("1000,\"never closed\n1001,x\n");
    std::fs::write(dir.path().join("users.csv"), users).unwrap();
    let export = Export::open(dir.path(), ExportOptions::default()).unwrap();
    for ahead in [false, true] {
        let mut reader = export.records(ObjectKind::Contact).unwrap().unwrap();
        if ahead {
            reader = reader.parse_ahead().unwrap();
        }
        let mut out = ReadRecord::new(ObjectKind::Contact);
        let mut read = 0;
        let error = loop {
            match reader.read_into(&mut out) {
                Ok(true) => read += 1,
                Ok(false) => panic!("the file ends inside a quote"),
                Err(error) => break error,
            }
        };
        assert_eq!(read, 1_000, "ahead: {ahead}");
        assert!(matches!(error, ExtractError::Row { line: 1002, .. }), "ahead: {ahead}: {error}");
        assert!(!reader.read_into(&mut out).unwrap(), "nothing after the error");
    }
    // A reader dropped half way stops its thread (the test would hang otherwise).
    let mut reader = export.records(ObjectKind::Contact).unwrap().unwrap().parse_ahead().unwrap();
    let mut out = ReadRecord::new(ObjectKind::Contact);
    assert!(reader.read_into(&mut out).unwrap());
    drop(reader);
}
