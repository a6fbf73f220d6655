//! Reading User.com exports: the sample export end to end, encodings, CSV dialects, and bad
//! values kept raw with their issue.

use std::path::{Path, PathBuf};

use crm_migrate::extract::{EncodingSource, Export, ExportOptions, FileKind, Origin, ReadRecord};
use crm_migrate::record::{ObjectKind, Value};

pub fn sample_export() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/usercom-export")
}

/// A copy of the sample export in `dir` (created), for a test that changes it.
pub fn sample_export_copy(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    for entry in std::fs::read_dir(sample_export()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    dir.to_path_buf()
}

pub fn planted() -> usercom_export_gen::Planted {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples").join(usercom_export_gen::PLANTED_FILE_NAME);
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn read_all(export: &Export, kind: ObjectKind) -> Vec<ReadRecord> {
    export.records(kind).unwrap().expect("the file is there").collect::<Result<_, _>>().unwrap()
}

fn open(dir: &Path) -> Export {
    Export::open(dir, ExportOptions::default()).unwrap()
}

fn write(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).unwrap();
}

#[test]
fn sample_export_files_are_found_with_their_encodings_and_delimiters() {
    let export = open(&sample_export());
    assert!(export.missing.is_empty(), "{:?}", export.missing);
    assert_eq!(
        export.files.len(),
        FileKind::ALL.iter().filter(|kind| !kind.optional()).count(),
        "every file but the optional activity types catalogue"
    );
    for file in &export.files {
        let planted = &planted().encodings[&file.name()];
        assert_eq!(file.encoding.name().to_ascii_lowercase(), *planted, "{}", file.name());
    }
    let companies = export.file(FileKind::Companies).unwrap();
    assert_eq!((companies.encoding_source, companies.delimiter), (EncodingSource::Detected, b';'));
    let users = export.file(FileKind::Contacts).unwrap();
    assert_eq!((users.encoding_source, users.bom_length), (EncodingSource::ByteOrderMark, 3));
    assert_eq!(export.file(FileKind::Activities).unwrap().delimiter, b'\t');
    assert_eq!(export.definitions.len(), 10);
}

#[test]
fn windows_1250_companies_keep_their_polish_names() {
    let export = open(&sample_export());
    let companies = read_all(&export, ObjectKind::Company);
    assert_eq!(companies.len(), 80);
    let first = &companies[0];
    assert_eq!(first.record.source_id, "500");
    assert_eq!(first.record.get("name"), Some(&Value::Text("Łódzka Spółdzielnia Mleczarska „Żubr”".into())));
    // Title-case headers ("Phone number", "Created at") matched the standard attributes.
    assert!(matches!(first.record.get("phone_number"), Some(Value::Text(_))));
    assert!(matches!(first.record.get("created_at"), Some(Value::DateTime(_))));
    assert!(companies.iter().all(|c| !format!("{:?}", c.record).contains('\u{fffd}')));
}

#[test]
fn sample_contacts_are_normalized_to_typed_fields() {
    let export = open(&sample_export());
    let contacts = read_all(&export, ObjectKind::Contact);
    assert_eq!(contacts.len(), 500);
    let first = &contacts[0].record;
    assert_eq!(first.source_id, "10000");
    assert_eq!(contacts[0].line, 2);
    assert_eq!(first.get("email"), Some(&Value::Text("katarzyna.mazur0@gmail.com".into())));
    assert_eq!(first.get("gender"), Some(&Value::Text("female".into())));
    assert_eq!(first.get("status"), Some(&Value::Text("user".into())));
    assert_eq!(first.get("unsubscribed"), Some(&Value::Boolean(false)));
    assert_eq!(
        first.get("tags"),
        Some(&Value::Choices(vec!["Porzucony koszyk".into(), "Black Friday".into(), "Newsletter".into()]))
    );
    // A plain `a,b` list in a multiple-choice column.
    assert_eq!(
        first.get("interests"),
        Some(&Value::Choices(vec!["technologia".into(), "sport".into(), "kultura i sztuka".into()]))
    );
    assert_eq!(first.get("created_at").unwrap().to_string(), "2020-02-01T07:12:32Z");
    assert_eq!(first.get("last_seen").unwrap().to_string(), "2020-04-18T16:57:53+02:00");
    assert_eq!(first.get("birthday").unwrap().to_string(), "1958-02-24");
    assert_eq!(first.get("loyalty_member"), Some(&Value::Boolean(false)));
    // `custom_id` is User.com's newer name for the contact's user_id.
    assert_eq!(contacts[2].record.get("user_id"), Some(&Value::Text("CRM-0000002".into())));
    // Every row has every column: nothing is dropped on the way.
    assert!(contacts.iter().all(|c| c.record.fields.len() == 28));
}

#[test]
fn quoted_multi_line_fields_keep_their_line_breaks_and_later_lines_stay_right() {
    let export = open(&sample_export());
    let activities = read_all(&export, ObjectKind::Activity);
    assert_eq!(activities.len(), 400);
    let multi = activities
        .iter()
        .position(|a| matches!(a.record.get("description"), Some(Value::Text(t)) if t.contains('\n')))
        .unwrap();
    let Some(Value::Text(description)) = activities[multi].record.get("description") else { unreachable!() };
    assert!(description.starts_with("Ustalenia:\n- rabat 10%\n"), "{description}");
    assert!(description.contains("\"do końca kwartału\""));
    // The record after a three-line one starts three lines further down.
    assert_eq!(activities[multi + 1].line, activities[multi].line + 3);
    let raw = std::fs::read_to_string(sample_export().join("activities.csv")).unwrap();
    let line = raw.lines().nth(activities[multi + 1].line as usize - 1).unwrap();
    assert!(line.starts_with(&activities[multi + 1].record.source_id), "{line}");
}

#[test]
fn a_bad_value_is_kept_raw_and_its_issue_names_file_line_column_and_expectation() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "attributes.csv",
        b"id,name,name_std,value_type,content_type\n1,Orders,orders_count,integer,user\n",
    );
    write(dir.path(), "users.csv", b"id,email,orders_count,status\n1,a@b.pl,3,2\n2,jan@,dwa,5\n");
    let export = open(dir.path());
    let records = read_all(&export, ObjectKind::Contact);
    assert!(records[0].issues.is_empty());
    assert_eq!(records[0].record.get("orders_count"), Some(&Value::Number(3.0)));
    let bad = &records[1];
    assert_eq!(bad.record.get("orders_count"), Some(&Value::Text("dwa".into())));
    assert_eq!(bad.record.get("email"), Some(&Value::Text("jan@".into())));
    assert_eq!(bad.record.get("status"), Some(&Value::Text("5".into())));
    let messages: Vec<String> = bad.issues.iter().map(ToString::to_string).collect();
    assert_eq!(
        messages,
        [
            "users.csv, line 3, column 'email': 'jan@', expected an email address (name@domain.tld)",
            "users.csv, line 3, column 'orders_count': 'dwa', expected a whole number",
            "users.csv, line 3, column 'status': '5', expected a contact status (1 visitor, 2 user)",
        ]
    );
}

#[test]
fn semicolons_crlf_and_a_declared_iso_8859_5_file_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let text = "id;name;city\r\n1;\"Общество \"\"Ромашка\"\"\";Москва\r\n2;Иван Петров;\"Санкт-\r\nПетербург\"\r\n";
    let (bytes, _, _) = encoding_rs::ISO_8859_5.encode(text);
    write(dir.path(), "companies.csv", &bytes);
    let declared = ExportOptions {
        encodings: vec![(Some("companies.csv".into()), encoding_rs::ISO_8859_5)],
        ..ExportOptions::default()
    };
    for export in [Export::open(dir.path(), declared).unwrap(), open(dir.path())] {
        let file = export.file(FileKind::Companies).unwrap();
        assert_eq!(file.encoding, encoding_rs::ISO_8859_5, "{:?}", file.encoding_source);
        let records = read_all(&export, ObjectKind::Company);
        assert_eq!(records[0].record.get("name"), Some(&Value::Text("Общество \"Ромашка\"".into())));
        assert_eq!(records[1].record.get("city"), Some(&Value::Text("Санкт-\r\nПетербург".into())));
        assert_eq!(records[1].line, 3);
    }
}

#[test]
fn columns_without_a_definition_are_typed_from_their_values_and_say_so() {
    let export = open(&sample_export());
    let reader = export.records(ObjectKind::Contact).unwrap().unwrap();
    let inferred: std::collections::BTreeMap<String, String> = reader
        .columns()
        .iter()
        .filter(|c| matches!(c.origin, Origin::Inferred { .. }))
        .map(|c| (format!("contact.{}", c.field), c.ty.name().to_owned()))
        .collect();
    assert_eq!(inferred, planted().undefined_columns);
}

#[test]
fn a_value_that_breaks_an_inferred_type_later_is_kept_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut users = String::from("id,vip\n");
    for i in 0..5 {
        users.push_str(&format!("{i},t\n"));
    }
    users.push_str("5,maybe\n");
    write(dir.path(), "users.csv", users.as_bytes());
    let export = Export::open(dir.path(), ExportOptions { inference_rows: 3, ..ExportOptions::default() }).unwrap();
    let records = read_all(&export, ObjectKind::Contact);
    assert_eq!(records[0].record.get("vip"), Some(&Value::Boolean(true)));
    assert_eq!(records[5].record.get("vip"), Some(&Value::Text("maybe".into())));
    assert!(records[5].issues[0].expected.contains("inferred from the first 3 values"), "{}", records[5].issues[0]);
}

#[test]
fn rows_longer_than_the_header_and_bytes_that_are_not_utf8_are_kept_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "deals.csv", b"id,name\n1,Ok\n2,Extra,cell\n3,Caf\xE9\n");
    let export = open(dir.path());
    assert_eq!(export.file(FileKind::Deals).unwrap().encoding_source, EncodingSource::Detected);
    // Detected as Windows-1250 from the sample: the byte is a letter there.
    let records = read_all(&export, ObjectKind::Deal);
    assert_eq!(records[1].record.get("column_3"), Some(&Value::Text("cell".into())));
    assert_eq!(records[1].issues[0].column, "(row)");
    assert_eq!(records[2].record.get("name"), Some(&Value::Text("Café".into())));

    // Read as UTF-8 (declared), the same byte is replaced, and said so.
    let utf8 = ExportOptions { encodings: vec![(None, encoding_rs::UTF_8)], ..ExportOptions::default() };
    let records = read_all(&Export::open(dir.path(), utf8).unwrap(), ObjectKind::Deal);
    assert_eq!(records[2].record.get("name"), Some(&Value::Text("Caf\u{fffd}".into())));
    assert!(records[2].issues[0].expected.contains("--encoding"), "{}", records[2].issues[0]);
}

#[test]
fn reusing_one_record_reads_the_same_as_iterating() {
    let export = open(&sample_export());
    let iterated = read_all(&export, ObjectKind::Deal);
    let mut reader = export.records(ObjectKind::Deal).unwrap().unwrap();
    let mut out = ReadRecord::new(ObjectKind::Deal);
    let mut index = 0;
    while reader.read_into(&mut out).unwrap() {
        assert_eq!(out.record, iterated[index].record);
        assert_eq!(out.issues, iterated[index].issues);
        index += 1;
    }
    assert_eq!(index, 150);
}

#[test]
fn a_reader_typing_only_some_fields_checks_every_cell_as_before() {
    let export = open(&sample_export());
    for kind in [ObjectKind::Contact, ObjectKind::Deal, ObjectKind::Event] {
        let full = read_all(&export, kind);
        let mut reader = export.records(kind).unwrap().unwrap();
        let first = full[0].record.fields.iter().position(|(_, value)| *value != Value::Null).unwrap();
        reader.type_only(&[first]);
        let mut out = ReadRecord::new(kind);
        let mut index = 0;
        while reader.read_into(&mut out).unwrap() {
            let read = &full[index];
            assert_eq!(
                (out.line, &out.record.source_id, &out.issues),
                (read.line, &read.record.source_id, &read.issues)
            );
            for (at, ((name, value), (_, typed))) in out.record.fields.iter().zip(&read.record.fields).enumerate() {
                // Choice lists are parsed in their slot, and events' times are checked against the
                // export's: those stay typed.
                let kept = at == first || matches!(typed, Value::Choices(_)) || kind == ObjectKind::Event;
                let expected = if kept { typed } else { &Value::Null };
                assert_eq!(value, expected, "{kind:?} line {} field {name}", read.line);
            }
            index += 1;
        }
        assert_eq!(index, full.len());
        let full_reader = export.records(kind).unwrap().unwrap();
        let zoneless = |mut reader: crm_migrate::extract::RecordReader| {
            let mut out = ReadRecord::new(kind);
            while reader.read_into(&mut out).unwrap() {}
            reader.stats.zoneless_datetimes
        };
        let mut partial = export.records(kind).unwrap().unwrap();
        partial.type_only(&[]);
        assert_eq!(zoneless(partial), zoneless(full_reader), "{kind:?}: datetimes without a zone are counted alike");
    }
}

#[test]
fn export_files_are_matched_by_name_and_others_ignored_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "Users_2024-05-01.csv", b"id,email\n1,a@b.pl\n");
    write(dir.path(), "contacts.csv", b"id,email\n2,c@d.pl\n");
    write(dir.path(), "invoices.csv", b"id\n1\n");
    write(dir.path(), "notes.json", b"{}");
    let export = open(dir.path());
    assert_eq!(export.file(FileKind::Contacts).unwrap().name(), "contacts.csv");
    let ignored: Vec<_> = export.ignored.iter().map(|i| i.file.as_str()).collect();
    assert_eq!(ignored, ["invoices.csv", "Users_2024-05-01.csv"]);
    assert!(export.missing.contains(&FileKind::Deals));

    let error = Export::open(&dir.path().join("nope"), ExportOptions::default()).unwrap_err().to_string();
    assert!(error.contains("cannot read the export directory") && error.contains("nope"), "{error}");
}
