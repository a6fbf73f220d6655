//! The gaps issue 15's closing note named, each closed by a hostile input: an undefined column
//! of phone numbers written `600 123 456`, a dedup plugin next to `dedup = "none"`, a marketing
//! status changed in Pipedrive after the migration.

use std::path::{Path, PathBuf};

use crm_migrate_sandbox::SandboxConfig;
use serde_json::{Value, json};

use crate::apply::{apply, approved_project, by_marker, canonical, fast};
use crate::extract::sample_export_copy;
use crate::plan::{in_project, run, text};
use crate::support::plugin;

/// Adds a column to a CSV file of the export: `value(row)` for each data row (0-based).
fn add_column(file: &Path, header: &str, value: impl Fn(usize) -> String) {
    let delimiter =
        if std::fs::read_to_string(file).unwrap().lines().next().unwrap().contains('\t') { b'\t' } else { b',' };
    let mut reader = csv::ReaderBuilder::new().has_headers(false).delimiter(delimiter).from_path(file).unwrap();
    let rows: Vec<Vec<String>> = reader.records().map(|row| row.unwrap().iter().map(str::to_owned).collect()).collect();
    let mut writer = csv::WriterBuilder::new().delimiter(delimiter).from_path(file).unwrap();
    for (index, mut row) in rows.into_iter().enumerate() {
        row.push(if index == 0 { header.to_owned() } else { value(index - 1) });
        writer.write_record(&row).unwrap();
    }
    writer.flush().unwrap();
}

/// A project on `export`, initialised against the sandbox, duplicates migrated as they are.
fn project_on(dir: &Path, export: &Path, sandbox: &crm_migrate_sandbox::SandboxHandle) -> PathBuf {
    let project = dir.join("zubr");
    let init =
        run(&["init", project.to_str().unwrap(), "--export", export.to_str().unwrap(), "--pipedrive", &sandbox.url()]);
    assert!(init.status.success(), "{}", text(&init.stderr));
    crate::plan::migrate_duplicates_as_they_are(&project);
    project
}

fn succeeds(project: &Path, args: &[&str]) -> std::process::Output {
    let output = in_project(project, args);
    assert!(output.status.success(), "{args:?}:\n{}\n{}", text(&output.stdout), text(&output.stderr));
    output
}

#[test]
fn an_undefined_column_of_phone_numbers_lands_as_written_not_as_numbers() {
    let _machine = crate::support::heavy();
    let dir = tempfile::tempdir().unwrap();
    let sandbox = fast(SandboxConfig::default());
    let export = sample_export_copy(&dir.path().join("usercom-export"));
    // Space-grouped as Polish numbers are; every tenth with the leading zero of a trunk prefix.
    let second_line = |row: usize| {
        if row % 10 == 3 {
            format!("0601{:06}", row)
        } else {
            format!("6{:02} {:03} {:03}", row % 100, row % 1000, 456)
        }
    };
    add_column(&export.join("users.csv"), "Druga linia", second_line);
    let project = project_on(dir.path(), &export, &sandbox);
    succeeds(&project, &["plan"]);
    let mapping = std::fs::read_to_string(project.join("mapping.toml")).unwrap();
    let start = mapping.find("[contact.druga_linia]").unwrap_or_else(|| panic!("{mapping}"));
    let entry = &mapping[start..start + mapping[start..].find("\n\n").unwrap()];
    assert!(!entry.contains("\"double\""), "phone numbers are not proposed as a number field:\n{entry}");
    succeeds(&project, &["approve", "--yes", "--by", "test"]);
    succeeds(&project, &["apply", "--sample", "6"]);
    let state = canonical(&sandbox.state());
    for (row, id) in [(0, "10000"), (3, "10003")] {
        let person = state.get(&format!("person {id}")).unwrap_or_else(|| panic!("person {id}"));
        assert_eq!(person["custom"]["Druga linia"], json!(second_line(row)), "contact {id}, as written: {person}");
    }
}

#[test]
fn dedup_none_next_to_a_dedup_plugin_is_refused_at_plan_approve_and_apply() {
    let dir = tempfile::tempdir().unwrap();
    let sandbox = fast(SandboxConfig::default());
    let export = sample_export_copy(&dir.path().join("usercom-export"));
    let project = dir.path().join("zubr");
    let dedup = format!("dedup={}", plugin("dedup_email").display());
    let init = run(&[
        "init",
        project.to_str().unwrap(),
        "--export",
        export.to_str().unwrap(),
        "--pipedrive",
        &sandbox.url(),
        "--plugin",
        &dedup,
    ]);
    assert!(init.status.success(), "{}", text(&init.stderr));
    succeeds(&project, &["plan"]);
    crate::plan::migrate_duplicates_as_they_are(&project);
    for command in [&["plan"][..], &["approve", "--yes", "--by", "test"], &["apply"]] {
        let output = in_project(&project, command);
        let said = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{command:?} refuses: {}\n{said}", text(&output.stdout));
        for named in ["migration.toml", "dedup = \"none\"", "hook = \"dedup\"", "dedup_email", "remove"] {
            assert!(said.contains(named), "{command:?} names {named}: {said}");
        }
    }
}

#[test]
fn a_marketing_status_changed_in_pipedrive_is_a_difference_verify_finds_against_the_source() {
    let _machine = crate::support::heavy();
    let sandbox = fast(SandboxConfig { campaigns: true, ..SandboxConfig::default() });
    let (_dir, project) = approved_project(&sandbox);
    let mapping = std::fs::read_to_string(project.join("mapping.toml")).unwrap();
    assert!(mapping.contains("[contact.unsubscribed]\nto = \"marketing_status\""), "{mapping}");
    apply(&project, &[]);
    let verified = in_project(&project, &["verify", "--json"]);
    let report: Value = serde_json::from_slice(&verified.stdout).unwrap();
    let row = report["coverage"]["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["object"] == "contact" && row["attribute"] == "unsubscribed")
        .cloned()
        .unwrap();
    assert_eq!((row["left_out"].clone(), row["missing"].clone()), (json!(0), json!(0)), "read back: {row}");
    assert_eq!(verified.status.code(), Some(0), "{}", text(&verified.stderr));

    // Contact 10003 unsubscribed in User.com; someone subscribes its person in Pipedrive.
    let persons = by_marker(&sandbox.state(), "person", "persons");
    let id = persons["10003"];
    crate::verify_source::send(
        &sandbox,
        reqwest::Method::PATCH,
        &format!("/api/v2/persons/{id}"),
        json!({"marketing_status": "subscribed"}),
    );
    let verified = in_project(&project, &["verify", "--json"]);
    let report: Value = serde_json::from_slice(&verified.stdout).unwrap();
    assert_eq!(verified.status.code(), Some(8), "{}", text(&verified.stderr));
    let row = report["coverage"]["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["object"] == "contact" && row["attribute"] == "unsubscribed")
        .cloned()
        .unwrap();
    assert_eq!(row["missing"], json!(1), "{row}");
    assert!(row["missing_examples"].to_string().contains("10003"), "{row}");
}

#[test]
fn an_event_dated_after_the_export_is_listed_and_not_marked_done() {
    let _machine = crate::support::heavy();
    let dir = tempfile::tempdir().unwrap();
    let sandbox = fast(SandboxConfig::default());
    let export = sample_export_copy(&dir.path().join("usercom-export"));
    // Event 50095 (of contact 10003) dated 2100-01-01, long after the export was taken.
    // Event 50001 (of 2019) moved to the same contact, so the sample holds a past event too.
    crate::bad_values::set_cells(
        &export.join("events.csv"),
        &[("50095", "timestamp", "4102444800".into()), ("50001", "user_id", "10003".into())],
    );
    let project = project_on(dir.path(), &export, &sandbox);
    succeeds(&project, &["plan"]);
    let plan_md = std::fs::read_to_string(project.join("reports/plan.md")).unwrap();
    let section = plan_md.split("## Events dated after the export").nth(1).unwrap_or_else(|| panic!("{plan_md}"));
    let line = section.lines().find(|line| line.contains("event.timestamp")).unwrap_or_else(|| panic!("{section}"));
    assert!(line.contains("50095") && line.contains("not marked done"), "{line}");
    succeeds(&project, &["approve", "--yes", "--by", "test"]);
    succeeds(&project, &["apply", "--sample", "6"]);

    let state = canonical(&sandbox.state());
    let future = state.get("User.com event 50095").unwrap_or_else(|| panic!("{:?}", state.keys().collect::<Vec<_>>()));
    assert_eq!(future["done"], json!(false), "{future}");
    let past: Vec<&Value> = state
        .iter()
        .filter(|(key, _)| key.starts_with("User.com event ") && key.as_str() != "User.com event 50095")
        .map(|(_, event)| event)
        .collect();
    assert!(!past.is_empty() && past.iter().all(|event| event["done"] == json!(true)), "{past:?}");
    let rows = crate::bad_values::quarantine_rows(&project);
    let row = rows.iter().find(|row| row["source_id"] == "50095").expect("listed in quarantine.csv");
    assert_eq!((row["column"].as_str(), row["value"].as_str()), ("timestamp", "4102444800"), "{row:?}");
    assert!(row["reason"].contains("export was taken") && row["reason"].contains("not marked done"), "{row:?}");
}

#[test]
fn keep_raw_in_note_gives_a_person_and_a_deal_a_note_of_their_raw_values_verified_and_rolled_back() {
    let _machine = crate::support::heavy();
    let dir = tempfile::tempdir().unwrap();
    let sandbox = fast(SandboxConfig::default());
    let keep = "on_bad_value = \"keep-raw-in-note\"";
    let (project, _) = crate::bad_values::migrate(dir.path(), &sandbox, |mapping| {
        let mapping = crate::bad_values::set_in_table(mapping, "contact.lifetime_value", keep);
        crate::bad_values::set_in_table(mapping, "deal.value", keep)
    });
    let state = sandbox.state();
    let persons = by_marker(&state, "person", "persons");
    let deals = by_marker(&state, "deal", "deals");
    let notes: Vec<&Value> = state["notes"]
        .as_object()
        .unwrap()
        .values()
        .filter(|note| note["content"].as_str().unwrap().contains("values not migrated"))
        .collect();
    assert_eq!(notes.len(), 2, "one note for contact 10000, one for deal 7119: {notes:?}");
    let of_person = notes.iter().find(|note| note["person_id"] == json!(persons["10000"])).expect("the person's");
    let content = of_person["content"].as_str().unwrap();
    assert!(content.contains("lifetime_value") && content.contains("12.5k"), "{content}");
    let of_deal = notes.iter().find(|note| note["deal_id"] == json!(deals["7119"])).expect("the deal's");
    assert!(of_deal["content"].as_str().unwrap().contains("TBD"), "{of_deal}");
    let rows = crate::bad_values::quarantine_rows(&project);
    for (id, column) in [("10000", "lifetime_value"), ("7119", "value")] {
        let row = rows.iter().find(|row| row["source_id"] == id && row["column"] == column).expect("listed");
        assert_eq!(row["kind"], "field kept in note", "{row:?}");
    }

    // The whole export (verify checks the whole mapping's workspace), then verified.
    apply(&project, &[]);
    let verified = in_project(&project, &["verify"]);
    assert_eq!(verified.status.code(), Some(0), "{}\n{}", text(&verified.stdout), text(&verified.stderr));
    // Blanked in Pipedrive: verify sees the note differ.
    let note_id = of_person["id"].as_u64().unwrap();
    crate::verify_source::send(
        &sandbox,
        reqwest::Method::PUT,
        &format!("/v1/notes/{note_id}"),
        json!({"content": "x"}),
    );
    let verified = in_project(&project, &["verify"]);
    assert_eq!(verified.status.code(), Some(8), "{}", text(&verified.stdout));

    succeeds(&project, &["rollback", "--yes", "--include-changed"]);
    let state = sandbox.state();
    let left: Vec<&Value> = state["notes"]
        .as_object()
        .unwrap()
        .values()
        .filter(|note| note["active_flag"] != json!(false))
        .filter(|note| note["content"].as_str().unwrap().contains("values not migrated"))
        .collect();
    assert!(left.is_empty(), "rolled back: {left:?}");
}
