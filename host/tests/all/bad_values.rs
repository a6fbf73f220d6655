//! A value that does not fit its field loses that field, not the record: the record is created
//! without it, and the value is listed in `reports/quarantine.csv` (file, line, column as written,
//! value, why) and counted in the reconciliation. `on_bad_value` in `mapping.toml` changes that
//! per field: `quarantine-record` quarantines the whole record again, for that field only.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crm_migrate_sandbox::SandboxConfig;
use serde_json::{Value, json};

use crate::apply::{canonical, fast};
use crate::extract::sample_export_copy;
use crate::plan::{in_project, run, text};

const LONG_REFERRAL: usize = 300;

/// Rewrites cells of a CSV file of the export: (source id in the first column, header, value).
pub(crate) fn set_cells(file: &Path, cells: &[(&str, &str, String)]) {
    // Some of the sample's files are tab-separated, as some exports are.
    let delimiter =
        if std::fs::read_to_string(file).unwrap().lines().next().unwrap().contains('\t') { b'\t' } else { b',' };
    let mut reader = csv::ReaderBuilder::new().has_headers(false).delimiter(delimiter).from_path(file).unwrap();
    let mut rows: Vec<Vec<String>> =
        reader.records().map(|row| row.unwrap().iter().map(str::to_owned).collect()).collect();
    let header: Vec<String> = rows[0].iter().map(|cell| cell.trim_start_matches('\u{feff}').to_owned()).collect();
    for (id, column, value) in cells {
        let at = header.iter().position(|h| h == column).unwrap_or_else(|| panic!("{column} in {header:?}"));
        let row = rows.iter_mut().find(|row| row[0] == *id).unwrap_or_else(|| panic!("row {id}"));
        row[at] = value.clone();
    }
    let mut writer = csv::WriterBuilder::new().delimiter(delimiter).from_path(file).unwrap();
    for row in rows {
        writer.write_record(&row).unwrap();
    }
    writer.flush().unwrap();
}

/// The sample export with bad values on the first six contacts and on a deal of the first:
/// a float that reads `12.5k`, a boolean that reads `maybe`, a junk email next to a valid phone,
/// a referral code too long for a text field, a segment not among its options, and a deal whose
/// value reads `TBD` and whose contract type is not an option. Contact 10005's lifetime value is
/// written the Polish way (`1 250,50`) and must land as a number.
pub(crate) fn hostile_export(dir: &Path) -> PathBuf {
    // Named as the sample is: the marker values (and `canonical`'s keys) start with the account.
    let export = sample_export_copy(&dir.join("usercom-export"));
    set_cells(
        &export.join("users.csv"),
        &[
            ("10000", "lifetime_value", "12.5k".into()),
            ("10001", "newsletter_opt_in", "maybe".into()),
            ("10002", "email", "n/a".into()),
            ("10002", "Phone number", "500000002".into()),
            ("10003", "referral_code", "R".repeat(LONG_REFERRAL)),
            ("10004", "industry_segment", "handel".into()),
            ("10005", "lifetime_value", "1 250,50".into()),
        ],
    );
    set_cells(
        &export.join("deals.csv"),
        &[("7119", "value", "TBD".into()), ("7119", "contract_type", "kwartalna".into())],
    );
    // An activity of contact 10000 whose done flag reads `maybe`.
    set_cells(&export.join("activities.csv"), &[("30080", "done", "maybe".into())]);
    export
}

/// quarantine.csv as (object, source_id, column) -> the row, by header.
pub(crate) fn quarantine_rows(project: &Path) -> Vec<BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_path(project.join("reports/quarantine.csv")).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    reader.records().map(|row| header.iter().cloned().zip(row.unwrap().iter().map(str::to_owned)).collect()).collect()
}

/// Plans, approves (after `edit` of mapping.toml) and applies a sample of the first six contacts.
pub(crate) fn migrate(
    dir: &Path,
    sandbox: &crm_migrate_sandbox::SandboxHandle,
    edit: impl Fn(String) -> String,
) -> (PathBuf, std::process::Output) {
    let export = hostile_export(dir);
    let project = dir.join("zubr");
    let init =
        run(&["init", project.to_str().unwrap(), "--export", export.to_str().unwrap(), "--pipedrive", &sandbox.url()]);
    assert!(init.status.success(), "{}", text(&init.stderr));
    crate::plan::migrate_duplicates_as_they_are(&project);
    let planned = in_project(&project, &["plan"]);
    assert!(planned.status.success(), "{}\n{}", text(&planned.stdout), text(&planned.stderr));
    let mapping = project.join("mapping.toml");
    std::fs::write(&mapping, edit(std::fs::read_to_string(&mapping).unwrap())).unwrap();
    let approved = in_project(&project, &["approve", "--yes", "--by", "test"]);
    assert!(approved.status.success(), "{}\n{}", text(&approved.stdout), text(&approved.stderr));
    let applied = in_project(&project, &["apply", "--sample", "6"]);
    assert!(applied.status.success(), "{}\n{}", text(&applied.stdout), text(&applied.stderr));
    (project, applied)
}

/// The referral code into a varchar field whatever plan proposed (seeing a 300-character value,
/// it proposes a long text field, rightly): a value too long for its field is what is tested.
fn referral_code_as_varchar(mapping: String) -> String {
    let start = mapping.find("[contact.referral_code]\n").expect("contact.referral_code in mapping.toml");
    let end = start + mapping[start..].find("\n\n").unwrap_or(mapping.len() - start);
    let table: String = mapping[start..end]
        .lines()
        .map(|line| if line.starts_with("type = ") { "type = \"varchar\"" } else { line })
        .collect::<Vec<_>>()
        .join("\n");
    assert!(table.contains("to = \"new\""), "{table}");
    format!("{}{table}{}", &mapping[..start], &mapping[end..])
}

/// Adds a line to a table of mapping.toml (`[contact.email]`).
pub(crate) fn set_in_table(mapping: String, table: &str, line: &str) -> String {
    let header = format!("[{table}]\n");
    assert!(mapping.contains(&header), "{table} in mapping.toml:\n{mapping}");
    mapping.replacen(&header, &format!("{header}{line}\n"), 1)
}

#[test]
fn bad_values_leave_their_fields_empty_on_records_that_are_migrated_and_listed() {
    let _machine = crate::support::heavy();
    let dir = tempfile::tempdir().unwrap();
    let sandbox = fast(SandboxConfig::default());
    let (project, applied) = migrate(dir.path(), &sandbox, referral_code_as_varchar);
    let state = canonical(&sandbox.state());

    // Every record is created, each without its bad field.
    let person = |id: &str| {
        state
            .get(&format!("person {id}"))
            .unwrap_or_else(|| panic!("contact {id} was not migrated; quarantine.csv: {:?}", quarantine_rows(&project)))
            .clone()
    };
    let custom = |id: &str| person(id)["custom"].as_object().unwrap().clone();
    assert!(!custom("10000").contains_key("Lifetime value"), "{:?}", custom("10000"));
    assert!(!custom("10001").contains_key("Newsletter opt-in"), "{:?}", custom("10001"));
    assert_eq!(person("10002")["emails"], json!([]), "the junk email is left out");
    assert_eq!(person("10002")["phones"][0]["value"], json!("500000002"), "the valid phone arrives");
    let referral = custom("10003").into_iter().find(|(name, _)| name.to_lowercase().contains("referral"));
    assert_eq!(referral, None, "the over-long referral code is left out");
    assert!(!custom("10004").contains_key("Industry segment"), "{:?}", custom("10004"));
    assert_eq!(
        custom("10005")["Lifetime value"]["value"],
        json!(1250.5),
        "1 250,50 is a number written the Polish way"
    );
    let deal = state.get("deal 7119").expect("the deal whose value reads TBD is migrated");
    // Sent without a value: Pipedrive shows a deal without one as 0.
    assert!(deal["value"] == Value::Null || deal["value"] == json!(0), "{deal}");
    assert!(!deal["custom"].as_object().unwrap().contains_key("Contract type"), "{deal}");

    // Each is listed, with its place in the export and why.
    let rows = quarantine_rows(&project);
    let left_out: Vec<&BTreeMap<String, String>> = rows.iter().filter(|row| row["kind"] == "field left out").collect();
    let long = "R".repeat(LONG_REFERRAL);
    let expected = [
        ("contact", "10000", "users.csv", "lifetime_value", "12.5k"),
        ("contact", "10001", "users.csv", "newsletter_opt_in", "maybe"),
        ("contact", "10002", "users.csv", "email", "n/a"),
        ("contact", "10003", "users.csv", "referral_code", long.as_str()),
        ("contact", "10004", "users.csv", "industry_segment", "handel"),
        ("deal", "7119", "deals.csv", "value", "TBD"),
        ("deal", "7119", "deals.csv", "contract_type", "kwartalna"),
        ("activity", "30080", "activities.csv", "done", "maybe"),
        // Planted by the generator, in a company of the sample's contacts.
        ("company", "501", "companies.csv", "Employees", "50-100"),
    ];
    for (object, id, file, column, value) in expected {
        let row = left_out
            .iter()
            .find(|row| row["object"] == object && row["source_id"] == id && row["column"] == column)
            .unwrap_or_else(|| panic!("{object} {id} {column} in quarantine.csv: {rows:?}"));
        assert_eq!((row["file"].as_str(), row["value"].as_str()), (file, value), "{row:?}");
        assert!(row["line"].parse::<u64>().unwrap() > 1, "{row:?}");
        assert!(!row["reason"].is_empty(), "{row:?}");
    }
    assert_eq!(left_out.len(), expected.len(), "no more values left out than were planted: {left_out:?}");
    let too_long = left_out.iter().find(|row| row["column"] == "referral_code").unwrap();
    assert!(too_long["reason"].contains("more than the 255"), "{too_long:?}");
    assert!(
        !rows.iter().any(|row| row["kind"] == "record quarantined"
            && ["10000", "10001", "10002", "10003", "10004", "10005", "7119"].contains(&row["source_id"].as_str())),
        "{rows:?}"
    );

    // Counted on the created records, in the reconciliation and apply's summary.
    let reconciliation = std::fs::read_to_string(project.join("reports/reconciliation.md")).unwrap();
    assert!(!reconciliation.contains("**no**"), "{reconciliation}");
    assert!(reconciliation.contains("| 5 migrated with 5 fields left out |"), "{reconciliation}");
    assert!(reconciliation.contains("| 1 migrated with 2 fields left out |"), "{reconciliation}");
    assert!(
        text(&applied.stderr).contains("contact: 5 migrated with 5 fields left out, listed in reports/quarantine.csv"),
        "{}",
        text(&applied.stderr)
    );

    let status = text(&in_project(&project, &["status"]).stdout);
    assert!(
        status.contains("fields left out of created records")
            && status.contains("contact 5 in 5 records")
            && status.contains("deal 2 in 1 records"),
        "{status}"
    );

    // The list is journalled: a second run (nothing left to send) writes the same report, and
    // `--json` carries the counts.
    let again = in_project(&project, &["apply", "--sample", "6", "--json"]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert_eq!(quarantine_rows(&project), rows, "the same rows after a run that built nothing new");
    let done: Value = text(&again.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|event| event["event"] == "done")
        .expect("a done event");
    let contacts = done["outcome"]["phases"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|phase| phase["reconciliation"].as_array().unwrap().clone())
        .find(|row| row["object"] == "contact")
        .unwrap();
    assert_eq!(
        (
            contacts["counts"]["created"].clone(),
            contacts["records_with_fields_left_out"].clone(),
            contacts["fields_left_out"].clone()
        ),
        (json!(6), json!(5), json!(5)),
        "--json: {contacts}"
    );
}

#[test]
fn keep_raw_in_note_writes_an_activitys_bad_value_into_its_note() {
    let _machine = crate::support::heavy();
    let dir = tempfile::tempdir().unwrap();
    let sandbox = fast(SandboxConfig::default());
    let (project, _) = migrate(dir.path(), &sandbox, |mapping| {
        set_in_table(mapping, "activity.done", "on_bad_value = \"keep-raw-in-note\"")
    });
    let state = canonical(&sandbox.state());
    let activity = state.get("User.com activity 30080").expect("the activity is migrated");
    let note = activity["note"].as_str().unwrap();
    assert!(note.contains("done") && note.contains("maybe"), "the raw value is in the note: {note}");
    assert_eq!(activity["done"], json!(false), "{activity}");
    let rows = quarantine_rows(&project);
    let row = rows.iter().find(|row| row["source_id"] == "30080").expect("listed");
    assert_eq!(
        (row["kind"].as_str(), row["column"].as_str(), row["value"].as_str()),
        ("field kept in note", "done", "maybe"),
        "{row:?}"
    );
    let reconciliation = std::fs::read_to_string(project.join("reports/reconciliation.md")).unwrap();
    let activities = reconciliation.lines().find(|line| line.contains("| activity |")).unwrap();
    assert!(activities.contains("| none |"), "a value kept in the note is not left out: {activities}");
}

#[test]
fn quarantine_record_on_one_field_quarantines_records_whose_value_there_does_not_fit() {
    let _machine = crate::support::heavy();
    let dir = tempfile::tempdir().unwrap();
    let sandbox = fast(SandboxConfig::default());
    let (project, _) = migrate(dir.path(), &sandbox, |mapping| {
        set_in_table(mapping, "contact.newsletter_opt_in", "on_bad_value = \"quarantine-record\"")
    });
    let state = canonical(&sandbox.state());
    assert!(!state.contains_key("person 10001"), "the contact whose opt-in reads maybe is quarantined whole");
    for id in ["10000", "10002", "10003", "10004", "10005"] {
        assert!(state.contains_key(&format!("person {id}")), "contact {id}: other fields keep leave-empty");
    }
    let rows = quarantine_rows(&project);
    let quarantined = rows.iter().find(|row| row["source_id"] == "10001").expect("listed");
    assert_eq!(quarantined["kind"], "record quarantined", "{quarantined:?}");
    assert!(
        quarantined["reason"].contains("newsletter_opt_in") && quarantined["reason"].contains("maybe"),
        "{quarantined:?}"
    );
}

#[test]
fn keep_raw_in_note_is_refused_for_a_conversation_field_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = fast(SandboxConfig::default());
    let export = hostile_export(dir.path());
    let project = dir.path().join("zubr");
    assert!(
        run(&["init", project.to_str().unwrap(), "--export", export.to_str().unwrap(), "--pipedrive", &sandbox.url()])
            .status
            .success()
    );
    crate::plan::migrate_duplicates_as_they_are(&project);
    assert!(in_project(&project, &["plan"]).status.success());
    let mapping = project.join("mapping.toml");
    let text_before = std::fs::read_to_string(&mapping).unwrap();
    assert!(
        text_before.contains("on_bad_value = \"leave-empty\" | \"quarantine-record\" | \"keep-raw-in-note\""),
        "the policy is named in the file"
    );
    std::fs::write(&mapping, set_in_table(text_before, "conversation.content", "on_bad_value = \"keep-raw-in-note\""))
        .unwrap();
    let approved = in_project(&project, &["approve", "--yes", "--by", "test"]);
    assert!(!approved.status.success());
    let said = format!("{}{}", text(&approved.stdout), text(&approved.stderr));
    assert!(
        said.contains("[conversation.content]") && said.contains("keep-raw-in-note") && said.contains("leave-empty"),
        "{said}"
    );
}
