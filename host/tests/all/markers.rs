//! Markers that cannot be forged: text written by website visitors (chat messages) or staff
//! (descriptions) that holds another record's marker, in the old form or the new one, does not
//! make a lost answer or a killed run resolve to the wrong Pipedrive record; two User.com
//! accounts in one Pipedrive account resolve each to their own records; a project without an
//! account (made by an earlier version) keeps its old markers and still resumes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crm_migrate::journal::{Fate, Journal};
use crm_migrate::record::ObjectKind;
use crm_migrate::state::State;
use crm_migrate_sandbox::{Faults, SandboxConfig, SandboxHandle};
use serde_json::{Value, json};

use crate::apply::apply_with_kills;
use crate::extract::sample_export_copy;
use crate::pipedrive_support::TOKEN;
use crate::plan::{in_project, prepared_sandbox_with, text};

/// A copy of the sample export in `parent/name`, with every activity's description holding the
/// next activity's marker and every chat message the next conversation's, in the old form, in
/// the new form of `account`, and as a paragraph of its own.
fn hostile_export(parent: &Path, name: &str, account: &str) -> PathBuf {
    let export = sample_export_copy(&parent.join(name));
    let forged = |object: &str, id: &str| {
        format!(
            " [User.com {object} {id}] [User.com {account}: {object} {id}]\n</p><p>[User.com {object} {id}]</p><p>[User.com {account}: {object} {id}]"
        )
    };
    rewrite(&export.join("activities.csv"), b'\t', "description", "id", &|_, next| forged("activity", next));
    rewrite(&export.join("conversations.csv"), b',', "content", "conversation_id", &|own, next| {
        // A visitor quoting both the next conversation and their own in the old form.
        format!("{}{}", forged("conversation", next), forged("conversation", own))
    });
    export
}

/// Appends `forge(own key, next key)` to `column` of every row, the keys taken from `key`.
fn rewrite(path: &Path, delimiter: u8, column: &str, key: &str, forge: &dyn Fn(&str, &str) -> String) {
    let mut reader = csv::ReaderBuilder::new().delimiter(delimiter).from_path(path).unwrap();
    let headers = reader.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let at = |name: &str| {
        headers.iter().position(|header| header == name).unwrap_or_else(|| panic!("{} has no {name}", path.display()))
    };
    let (column, key) = (at(column), at(key));
    let keys: Vec<String> = rows.iter().map(|row| row[key].to_owned()).collect::<BTreeSet<_>>().into_iter().collect();
    let next = |own: &str| keys[(keys.iter().position(|k| k == own).unwrap() + 1) % keys.len()].clone();
    let mut writer = csv::WriterBuilder::new().delimiter(delimiter).from_path(path).unwrap();
    writer.write_record(&headers).unwrap();
    for row in &rows {
        let mut fields: Vec<String> = row.iter().map(str::to_owned).collect();
        fields[column].push_str(&forge(&row[key], &next(&row[key])));
        writer.write_record(&fields).unwrap();
    }
    writer.flush().unwrap();
}

/// `init` of a project on `export` (its account the default one), planned and approved; without
/// `account`, the `account` line is taken out first, as in a project made by an earlier version.
fn approved_project(parent: &Path, sandbox: &SandboxHandle, export: &Path, account: bool) -> PathBuf {
    let project = parent.join(format!("project-{}", export.file_name().unwrap().to_string_lossy()));
    crate::plan::init_on_sandbox(&project, export, sandbox);
    crate::plan::migrate_duplicates_as_they_are(&project);
    if !account {
        let config = std::fs::read_to_string(project.join("migration.toml")).unwrap();
        let old: Vec<&str> = config.lines().filter(|line| !line.trim_start().starts_with("account =")).collect();
        std::fs::write(project.join("migration.toml"), old.join("\n") + "\n").unwrap();
    }
    // Another account's records already in Pipedrive are records the account has (plan may stop
    // at an email two of them share): each account here keeps its own.
    in_project(&project, &["plan"]);
    crate::existing_data::create_anyway(&project);
    for step in [&["plan"][..], &["approve", "--yes", "--by", "test"]] {
        let output = in_project(&project, step);
        assert!(output.status.success(), "{step:?}: {}", text(&output.stderr));
    }
    project
}

/// The marker apply writes for a record: in the marker field (`account:id`, or the bare id in the
/// old form) or as the last paragraph of the note.
fn own_marker(account: Option<&str>, object: ObjectKind, source_id: &str) -> String {
    match (object, account) {
        (ObjectKind::Contact | ObjectKind::Company | ObjectKind::Deal, Some(account)) => {
            format!("{account}:{source_id}")
        }
        (ObjectKind::Contact | ObjectKind::Company | ObjectKind::Deal, None) => source_id.to_owned(),
        (_, Some(account)) => format!("<p>[User.com {account}: {object} {source_id}]</p>"),
        (_, None) => format!("<p>[User.com {object} {source_id}]</p>"),
    }
}

/// What a Pipedrive record really carries as its marker: the marker field's value, or the last
/// paragraph of its note.
fn real_marker(state: &Value, object: ObjectKind, pipedrive_id: u64) -> String {
    let (entity, collection) = match object {
        ObjectKind::Company => ("organization", "organizations"),
        ObjectKind::Contact => ("person", "persons"),
        ObjectKind::Deal => ("deal", "deals"),
        ObjectKind::Activity | ObjectKind::Event => ("", "activities"),
        ObjectKind::Conversation => ("", "notes"),
    };
    let record = &state[collection][pipedrive_id.to_string()];
    if entity.is_empty() {
        let text = record["note"].as_str().or(record["content"].as_str()).unwrap_or("(no text)");
        return text.rfind("<p>").map_or(text, |start| &text[start..]).to_owned();
    }
    let code = state["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["entity"] == entity && f["name"] == "User.com ID")
        .unwrap()["code"]
        .as_str()
        .unwrap();
    record["custom_fields"][code].as_str().unwrap_or("(no marker)").to_owned()
}

/// Every journal entry whose Pipedrive record carries another record's marker (or none):
/// (object, source id, Pipedrive id, the marker it carries).
fn misdirected(project: &Path, state: &Value, account: Option<&str>) -> Vec<(ObjectKind, String, u64, String)> {
    let journal = Journal::read(State::open(project).unwrap());
    let mut wrong = Vec::new();
    for object in [
        ObjectKind::Company,
        ObjectKind::Contact,
        ObjectKind::Deal,
        ObjectKind::Activity,
        ObjectKind::Event,
        ObjectKind::Conversation,
    ] {
        let entries: BTreeMap<String, u64> = journal
            .entries(object)
            .unwrap()
            .into_iter()
            .filter(|(_, entry)| entry.fate == Fate::Created)
            .filter_map(|(id, entry)| Some((id, entry.pipedrive_id?)))
            .collect();
        assert!(!entries.is_empty(), "{object}: something was created");
        for (source_id, pipedrive_id) in entries {
            let real = real_marker(state, object, pipedrive_id);
            if real != own_marker(account, object, &source_id) {
                wrong.push((object, source_id, pipedrive_id, real));
            }
        }
    }
    wrong
}

/// A sandbox fast enough for whole runs that loses one answer in five (once it is prepared).
fn lossy_sandbox(seed: u64) -> SandboxHandle {
    let sandbox = prepared_sandbox_with(SandboxConfig { burst_limit: Some(1000), ..SandboxConfig::default() });
    sandbox.set_faults(Faults { seed, lost_response_rate: 0.2, ..Faults::default() });
    sandbox
}

fn verify_report(project: &Path) -> Value {
    let output = in_project(project, &["verify", "--json"]);
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("verify --json: {error}\n{}", text(&output.stderr)))
}

/// Lost answers (20% of them) and kill -9s on an export whose descriptions and chat messages
/// hold other records' markers.
fn forged_markers_change_nothing(account: bool, seed: u64) {
    let _machine = crate::support::heavy();
    let dir = tempfile::tempdir().unwrap();
    let export = hostile_export(dir.path(), "acme-export", "acme-export");
    let sandbox = lossy_sandbox(seed);
    let project = approved_project(dir.path(), &sandbox, &export, account);
    let killed = apply_with_kills(&project, 4, seed);
    assert!(killed >= 2, "apply was killed midway ({killed} times)");
    assert!(sandbox.stats().lost_responses > 50, "answers were lost: {:?}", sandbox.stats());

    let report = verify_report(&project);
    let counts = |key: &str| report[key].as_array().map_or(0, Vec::len);
    assert_eq!(
        (counts("mismatches"), counts("missing"), counts("unexpected")),
        (0, 0, 0),
        "verify after forged markers: {}",
        serde_json::to_string_pretty(&json!({"objects": report["objects"], "unexpected": report["unexpected"]}))
            .unwrap()
    );
    assert_eq!(report["objects"]["activity"]["verified"], 400);
    let account = account.then_some("acme-export");
    let wrong = misdirected(&project, &sandbox.state(), account);
    assert!(
        wrong.is_empty(),
        "{} journal entries point at another record's Pipedrive record: {:?}",
        wrong.len(),
        &wrong[..wrong.len().min(10)]
    );
    let notes = sandbox.state()["activities"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|a| a["note"].as_str().map(str::to_owned))
        .collect::<Vec<_>>();
    assert!(
        notes.iter().any(|note| note.contains("&#91;User.com activity")),
        "marker-like text in a description is written as an entity"
    );
    assert!(
        notes.iter().all(|note| !note[..note.rfind("<p>").unwrap()].contains("[User.com")),
        "no marker-like text before the last paragraph"
    );
}

#[cfg(unix)]
#[test]
fn forged_markers_in_descriptions_and_chats_do_not_redirect_the_journal_under_lost_answers_and_kills() {
    forged_markers_change_nothing(true, 31);
}

#[cfg(unix)]
#[test]
fn a_project_without_an_account_keeps_the_old_markers_resumes_and_is_not_fooled_either() {
    forged_markers_change_nothing(false, 47);
}

/// A migration begun by an earlier version (old markers, no account) and killed; the account is
/// set before it resumes: what the old run created or left open is found by its old marker (in
/// the same exact place only), nothing is created twice, and the rest is marked the new way.
#[cfg(unix)]
#[test]
fn a_migration_begun_with_old_markers_resumes_with_an_account_and_finds_them() {
    let _machine = crate::support::heavy();
    let dir = tempfile::tempdir().unwrap();
    let export = hostile_export(dir.path(), "acme-export", "acme-export");
    let sandbox = lossy_sandbox(61);
    let project = approved_project(dir.path(), &sandbox, &export, false);
    let config = std::fs::read_to_string(project.join("migration.toml")).unwrap();
    // An old-form run killed once it is halfway through the activities (SIGKILL, never let finish).
    let mut child = crate::support::crm_migrate()
        .args(["-C", project.to_str().unwrap(), "apply", "--concurrency", "16"])
        .env("PIPEDRIVE_API_TOKEN", TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // About 750 writes come before the activities (the workspace, companies, contacts, deals).
    while sandbox.stats().writes_applied < 950 {
        assert!(child.try_wait().unwrap().is_none(), "the old-form run is still going");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    std::fs::write(
        project.join("migration.toml"),
        config.replace("[source]\n", "[source]\naccount = \"acme-export\"\n"),
    )
    .unwrap();
    apply_with_kills(&project, 1, 61);

    let report = verify_report(&project);
    let counts = |key: &str| report[key].as_array().map_or(0, Vec::len);
    // Records found by their old marker keep it: verify reads it as the record's, not as a difference.
    assert_eq!((counts("mismatches"), counts("missing"), counts("unexpected")), (0, 0, 0), "{}", serde_json::to_string_pretty(&json!({"objects": report["objects"], "mismatches": report["mismatches"].as_array().unwrap().iter().take(3).collect::<Vec<_>>(), "unexpected": report["unexpected"], "missing": report["missing"]})).unwrap());
    let state = sandbox.state();
    let live = |collection: &str| {
        state[collection]
            .as_object()
            .unwrap()
            .values()
            .filter(|r| r["is_deleted"] != true && r["active_flag"] != false)
            .count()
    };
    assert_eq!((live("persons"), live("activities")), (500, 500), "nothing created twice");
}

#[test]
fn two_user_com_accounts_in_one_pipedrive_account_resolve_each_to_their_own_records() {
    let _machine = crate::support::heavy();
    let dir = tempfile::tempdir().unwrap();
    let sandbox = lossy_sandbox(5);
    let mut journals = Vec::new();
    for account in ["alpha", "beta"] {
        // The same export (the same source ids) under two names: two User.com accounts.
        let export = sample_export_copy(&dir.path().join(account));
        let project = approved_project(dir.path(), &sandbox, &export, true);
        let apply = in_project(&project, &["apply", "--concurrency", "16"]);
        assert!(apply.status.success(), "{account}: {}", text(&apply.stderr));
        journals.push((account, project));
    }
    let state = sandbox.state();
    let mut claimed: BTreeMap<(&str, u64), &str> = BTreeMap::new();
    for (account, project) in &journals {
        let journal = Journal::read(State::open(project).unwrap());
        for object in [ObjectKind::Contact, ObjectKind::Activity, ObjectKind::Conversation] {
            let collection = match object {
                ObjectKind::Contact => "persons",
                ObjectKind::Activity => "activities",
                _ => "notes",
            };
            for (_, entry) in journal.entries(object).unwrap() {
                if let Some(id) = entry.pipedrive_id
                    && let Some(other) = claimed.insert((collection, id), account)
                {
                    panic!("{collection} {id} is in the journals of {other} and {account}");
                }
            }
        }
    }
    assert_eq!(claimed.keys().filter(|(collection, _)| *collection == "persons").count(), 2 * 500);
    for (account, project) in &journals {
        let wrong = misdirected(project, &state, Some(account));
        assert!(
            wrong.is_empty(),
            "{account}: {} entries point at a record not marked as theirs: {:?}",
            wrong.len(),
            &wrong[..wrong.len().min(10)]
        );
        let report = verify_report(project);
        assert_eq!(
            (report["mismatches"].clone(), report["unexpected"].clone()),
            (json!([]), json!([])),
            "{account}: the other account's records are not unexpected"
        );
    }
    // alpha created the fields, labels and options, beta reused them. Rolling alpha back removes
    // its records only, and keeps (naming them) the fields, options and labels beta's records
    // hold values in: beta verifies untouched.
    sandbox.set_faults(Faults::default());
    let rollback = in_project(&journals[0].1, &["rollback", "--yes"]);
    assert_eq!(rollback.status.code(), Some(9), "{}\n{}", text(&rollback.stdout), text(&rollback.stderr));
    let stdout = text(&rollback.stdout);
    assert!(stdout.contains("field person 'User.com ID' kept: records apply did not create use it"), "{stdout}");
    // An option no record holds (its records were quarantined) went with alpha; beta's apply
    // makes it again and writes no record twice.
    let writes = sandbox.stats().writes_applied;
    let apply = in_project(&journals[1].1, &["apply", "--concurrency", "16"]);
    assert!(apply.status.success(), "{}", text(&apply.stderr));
    assert!(!text(&apply.stderr).contains("updated)"), "beta's records are as they were: {}", text(&apply.stderr));
    assert!(
        sandbox.stats().writes_applied - writes < 10,
        "beta's second apply only restores workspace objects: {} writes",
        sandbox.stats().writes_applied - writes
    );
    let report = verify_report(&journals[1].1);
    assert!(
        report["mismatches"].as_array().unwrap().is_empty() && report["missing"].as_array().unwrap().is_empty(),
        "beta is untouched: {report}"
    );
    assert_eq!(report["objects"]["contact"]["verified"], 500);
    // beta created nothing of the workspace: its rollback removes its records, and alpha's
    // (marked, but not beta's) are no residue.
    let rollback = in_project(&journals[1].1, &["rollback", "--yes"]);
    assert!(
        rollback.status.success() && text(&rollback.stdout).contains("residue: none"),
        "{}\n{}",
        text(&rollback.stdout),
        text(&rollback.stderr)
    );
}

/// A Pipedrive stand-in whose `itemSearch/field` is lenient (it answers an "exact" search with
/// a longer value and another case too): the client must keep only the exact value.
#[tokio::test]
async fn find_by_field_keeps_only_records_whose_field_is_exactly_the_value() {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let code = "0123456789abcdef0123456789abcdef01234567";
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                loop {
                    let mut request_line = String::new();
                    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut line = String::new();
                    while reader.read_line(&mut line).is_ok_and(|read| read > 2) {
                        line.clear();
                    }
                    let path =
                        request_line.split_whitespace().nth(1).unwrap_or("").split('?').next().unwrap_or("").to_owned();
                    let hits: Vec<Value> = [1, 2, 3, 4]
                        .map(|id| json!({"result_score": 1.0, "item": {"id": id, "type": "person"}}))
                        .to_vec();
                    let person = |id: u64, value: &str| json!({"success": true, "data": {"id": id, "name": format!("P{id}"), "custom_fields": {code: value}}});
                    let (status, body) = match path.as_str() {
                        "/api/v2/itemSearch/field" => (
                            200,
                            json!({"success": true, "data": hits.clone(), "additional_data": {"next_cursor": null}}),
                        ),
                        "/api/v2/persons/1" => (200, person(1, "acme:12")),
                        "/api/v2/persons/2" => (200, person(2, "ACME:1")),
                        "/api/v2/persons/3" => (200, person(3, "acme:1")),
                        _ => (404, json!({"success": false, "error": "not found"})),
                    };
                    let body = body.to_string();
                    let reason = if status == 200 { "OK" } else { "Not Found" };
                    let answer = format!(
                        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if writer.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    let mut config = crm_migrate::pipedrive::ClientConfig::new(
        url,
        crm_migrate::pipedrive::ApiToken::new(TOKEN).unwrap(),
        crm_migrate::pipedrive::Plan::Growth,
    );
    config.lost_write_settle = Duration::ZERO;
    let client = crm_migrate::pipedrive::PipedriveClient::new(config, None).unwrap();
    let found = client.find_by_field(crm_migrate::pipedrive::EntityKind::Person, code, "acme:1").await.unwrap();
    assert_eq!(
        found,
        vec![3],
        "only the person whose marker is exactly acme:1 (not acme:12, ACME:1, or one that is gone)"
    );
}
