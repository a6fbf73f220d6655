//! Attachments against both sandboxes: a generated account whose chat messages link files
//! (`usercom-export-gen --attachments`, served by the local User.com), exported to CSV and
//! migrated: each file lands once on its conversation's person with its name and size, verify
//! reads them back, rollback deletes them. Hostile links (a host the project does not allow, a
//! redirect to another host, a file over `max_bytes`) are left out with their reason while their
//! conversation migrates; a kill during the uploads resumes without a file twice. What is expected
//! comes from the generator's account, never from what apply sent.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crm_migrate_sandbox::{Faults, SandboxConfig, SandboxHandle};
use serde_json::Value;
use usercom_sandbox::{AccountOptions, UsercomConfig, UsercomSandbox};

use crate::apply::{apply, by_marker, fast};
use crate::plan::{in_project, migrate_duplicates_as_they_are, text};

/// A project on a generated account's CSV export whose messages link files on `usercom`, with
/// three hostile links added to one conversation. Returns the project, the account's files
/// (contact id, name, size) expected to land, and the bound set on a file's size.
struct Setup {
    _dir: tempfile::TempDir,
    project: PathBuf,
    /// (contact, file name, bytes) for each file within the bound.
    expected: Vec<(String, String, u64)>,
    /// The conversation the hostile links are in, and its contact.
    hostile_conversation: (String, String),
    too_large: Vec<String>,
}

fn setup(sandbox: &SandboxHandle, usercom: &UsercomSandbox) -> Setup {
    let account = usercom.account();
    assert!(account.files.len() >= 3, "the account links files: {:?}", account.files);
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("usercom-export");
    let options = usercom_export_gen::Options { contacts: 200, attachments: Some(usercom.url()), ..Default::default() };
    usercom_export_gen::generate(&export, &options).unwrap();

    // The largest file is over the bound.
    let largest = account.files.iter().map(|file| file.size).max().unwrap();
    let max_bytes = largest - 1;
    let contact_of = |message: u64| {
        let conversation = account.conversations.iter().find(|c| c.messages.iter().any(|m| m.id == message)).unwrap();
        (conversation.id, conversation.user_id)
    };
    let expected = account
        .files
        .iter()
        .filter(|file| file.size <= max_bytes)
        .map(|file| (contact_of(file.message_id).1.to_string(), file.name.to_owned(), file.size))
        .collect();
    let too_large = account.files.iter().filter(|file| file.size > max_bytes).map(|f| f.path.clone()).collect();
    let (conversation, contact) = account
        .files
        .iter()
        .map(|file| contact_of(file.message_id))
        .find(|(_, user)| account.user(*user).and_then(|user| user.email.as_ref()).is_some_and(|e| e.contains('@')))
        .unwrap();
    let port = usercom.url().rsplit(':').next().unwrap().to_owned();
    let hostile = [
        "<a href=\"https://files.evil.example/steal.pdf\">steal.pdf</a>".to_owned(),
        format!(
            "<a href=\"{}/_sandbox/redirect/moved.pdf?to=http://localhost:{port}/media/attachments/1/moved.pdf\">moved.pdf</a>",
            usercom.url()
        ),
        format!("<a href=\"{}/media/attachments/1/gone.pdf\">gone.pdf</a>", usercom.url()),
    ];
    let mut conversations = std::fs::OpenOptions::new().append(true).open(export.join("conversations.csv")).unwrap();
    let mut writer = csv::Writer::from_writer(&mut conversations);
    for (index, link) in hostile.iter().enumerate() {
        let id = (99_001 + index).to_string();
        let (conversation, contact) = (conversation.to_string(), contact.to_string());
        writer
            .write_record([
                &id,
                &conversation,
                &contact,
                "user",
                &format!("Plik: {link}"),
                "2024-01-05T10:00:00+01:00",
                "chat",
            ])
            .unwrap();
    }
    writer.flush().unwrap();
    drop(writer);

    let project = dir.path().join("zubr");
    crate::plan::init_on_sandbox(&project, &export, sandbox);
    migrate_duplicates_as_they_are(&project);
    let config = project.join("migration.toml");
    let mut toml = std::fs::read_to_string(&config).unwrap();
    toml.push_str(&format!("\n[attachments]\nallow_hosts = [\"127.0.0.1\"]\nmax_bytes = {max_bytes}\n"));
    std::fs::write(&config, toml).unwrap();
    for step in [&["plan"][..], &["approve", "--yes", "--by", "test"]] {
        let output = in_project(&project, step);
        assert!(output.status.success(), "{step:?}: {}\n{}", text(&output.stdout), text(&output.stderr));
    }
    Setup {
        _dir: dir,
        project,
        expected,
        hostile_conversation: (conversation.to_string(), contact.to_string()),
        too_large,
    }
}

fn usercom_with_files() -> UsercomSandbox {
    let account = AccountOptions { contacts: 200, attachments: Some(String::new()), ..AccountOptions::default() };
    UsercomSandbox::spawn(UsercomConfig { account, ..UsercomConfig::default() }).unwrap()
}

/// The live files in Pipedrive: (person id, name, size), sorted.
fn files(state: &Value) -> Vec<(u64, String, u64)> {
    let mut files: Vec<(u64, String, u64)> = state["files"]
        .as_object()
        .map(|files| {
            files
                .values()
                .filter(|file| file["active_flag"] == true)
                .map(|file| {
                    (
                        file["person_id"].as_u64().unwrap(),
                        file["name"].as_str().unwrap().to_owned(),
                        file["file_size"].as_u64().unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// The files expected, on the persons the contacts became (those whose contact migrated).
fn expected_files(setup: &Setup, state: &Value) -> Vec<(u64, String, u64)> {
    let persons: BTreeMap<String, u64> = by_marker(state, "person", "persons");
    let mut expected: Vec<(u64, String, u64)> = setup
        .expected
        .iter()
        .filter_map(|(contact, name, size)| Some((*persons.get(contact)?, name.clone(), *size)))
        .collect();
    expected.sort();
    expected
}

#[test]
fn files_linked_in_chat_messages_move_to_their_persons_verify_proves_them_and_rollback_deletes_them() {
    let _machine = crate::support::heavy();
    let sandbox = fast(SandboxConfig::default());
    let usercom = usercom_with_files();
    let setup = setup(&sandbox, &usercom);
    let plan = std::fs::read_to_string(setup.project.join("reports/plan.md")).unwrap();
    let links = usercom.account().files.len() + 3;
    assert!(plan.contains(&format!("| conversations (links in messages) | {links} | {} files", links - 1)), "{plan}");
    assert!(plan.contains("files.evil.example is not an allowed host"), "{plan}");
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(setup.project.join("reports/plan.json")).unwrap()).unwrap();
    let phase =
        json["bill"]["phases"].as_array().unwrap().iter().find(|phase| phase["phase"] == "attachments").unwrap();
    let tokens: u64 = phase["lines"].as_array().unwrap().iter().map(|line| line["tokens"].as_u64().unwrap()).sum();
    assert_eq!((phase["records"].as_u64(), tokens), (Some(links as u64 - 1), 10 * (links as u64 - 1)), "10 an upload");

    apply(&setup.project, &[]);
    let state = sandbox.state();
    let expected = expected_files(&setup, &state);
    assert!(expected.len() >= 2, "files land: {expected:?}");
    assert_eq!(files(&state), expected, "each file once, on its person, with its name and size");

    // The hostile links are left out with their reason; their conversation and person migrate.
    let (conversation, contact) = &setup.hostile_conversation;
    let persons = by_marker(&state, "person", "persons");
    assert!(persons.contains_key(contact), "the contact of the hostile links migrates");
    let notes = state["notes"].as_object().unwrap();
    let marker = format!("conversation {conversation}]");
    assert!(
        notes.values().any(|note| note["content"].as_str().unwrap().contains(&marker)),
        "its conversation migrates"
    );
    let report = std::fs::read_to_string(setup.project.join("reports/reconciliation.md")).unwrap();
    for reason in [
        "message 99001/1: https://files.evil.example/steal.pdf: files.evil.example is not an allowed host",
        "message 99002/1",
        "redirected (302) to localhost, which is not an allowed host",
        "message 99003/1",
        "the download answered 404",
    ] {
        assert!(report.contains(reason), "'{reason}' in:\n{report}");
    }
    for path in &setup.too_large {
        let line =
            report.lines().find(|line| line.contains(path.as_str())).unwrap_or_else(|| panic!("{path}: {report}"));
        assert!(line.contains("more than [attachments] max_bytes"), "{line}");
    }

    let verified = in_project(&setup.project, &["verify"]);
    let verification = std::fs::read_to_string(setup.project.join("reports/verification.md")).unwrap();
    assert!(verified.status.success(), "{}\n{verification}", text(&verified.stderr));
    let bytes: u64 = expected.iter().map(|(_, _, size)| size).sum();
    assert!(
        verification.contains(&format!(
            "{} files verified ({} bytes), 0 differences",
            expected.len(),
            thousands(bytes)
        )),
        "{verification}"
    );

    // A file deleted behind the migration's back is named by verify.
    let (id, _) = state["files"].as_object().unwrap().iter().next().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let deleted = runtime.block_on(
        crate::pipedrive_support::http_client()
            .delete(format!("{}/api/v1/files/{id}", sandbox.url()))
            .header("x-api-token", crate::pipedrive_support::TOKEN)
            .send(),
    );
    assert!(deleted.unwrap().status().is_success());
    let verified = in_project(&setup.project, &["verify"]);
    let verification = std::fs::read_to_string(setup.project.join("reports/verification.md")).unwrap();
    assert!(!verified.status.success(), "a missing file fails verify");
    assert!(
        verification.contains(&format!("(file {id}, '")) && verification.contains("missing in Pipedrive"),
        "{verification}"
    );

    let rolled_back = in_project(&setup.project, &["rollback", "--yes"]);
    assert!(rolled_back.status.success(), "{}\n{}", text(&rolled_back.stdout), text(&rolled_back.stderr));
    assert!(files(&sandbox.state()).is_empty(), "rollback deletes the files it uploaded");
}

/// Uploads whose answers are lost (applied in Pipedrive, never journalled as created), then a
/// kill -9: the next apply finds each among the person's files instead of uploading it again.
#[test]
fn a_kill_during_the_uploads_resumes_without_a_file_twice() {
    let _machine = crate::support::heavy();
    let count = |state: &Value| state["files"].as_object().map_or(0, |files| files.len());
    // The kill must come while an upload went in unanswered (an open intent). On a busy machine
    // the run may end its uploads between two looks at the sandbox, or the uploads in flight when
    // the answers began to be lost may be answered yet: such an attempt shows nothing, and the
    // scenario is run again on a fresh account (at most 5 times).
    let mut attempts = 0;
    let (sandbox, _usercom, setup, before) = loop {
        attempts += 1;
        assert!(attempts <= 5, "no attempt was killed with an upload unanswered (an open intent)");
        let sandbox = fast(SandboxConfig::default());
        let usercom = usercom_with_files();
        let setup = setup(&sandbox, &usercom);
        let cache = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_crm-migrate"))
            .args(["-C", setup.project.to_str().unwrap(), "apply", "--concurrency", "2"])
            .env("CRM_MIGRATE_CACHE_DIR", cache.path())
            .env("PIPEDRIVE_API_TOKEN", crate::pipedrive_support::TOKEN)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(300);
        // The files in Pipedrive when answers began to be lost.
        let mut losing_from: Option<usize> = None;
        loop {
            assert!(Instant::now() < deadline, "the uploads never started");
            let files = count(&sandbox.state());
            if losing_from.is_none() && files >= 1 {
                // From here every upload is applied and its answer lost: an open intent each.
                sandbox.set_faults(Faults { seed: 3, lost_response_rate: 1.0, ..Faults::default() });
                losing_from = Some(files);
            }
            // Killed once two uploads went in after that (on a loaded machine the first look may
            // already see several files: killing then would leave no upload unanswered).
            if losing_from.is_some_and(|from| files >= from + 2) || child.try_wait().unwrap().is_some() {
                let _ = child.kill(); // SIGKILL: no chance to clean up.
                child.wait().unwrap();
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        sandbox.set_faults(Faults::default());
        let state_db = rusqlite::Connection::open(setup.project.join("state.db")).unwrap();
        let open: u64 = state_db
            .query_row("SELECT count(*) FROM records WHERE object = 'attachment' AND fate = 'intent'", [], |row| {
                row.get(0)
            })
            .unwrap();
        let before = count(&sandbox.state());
        if open >= 1 {
            break (sandbox, usercom, setup, before);
        }
    };

    apply(&setup.project, &[]);
    let state = sandbox.state();
    let expected = expected_files(&setup, &state);
    assert!(before < expected.len(), "killed during the uploads ({before} of {} made)", expected.len());
    assert_eq!(files(&state), expected, "no file twice after the resume");
}

/// From User.com's API: the snapshot's messages carry the links as the CSV export's do, and the
/// files land from it with no `[attachments]` table: the account's own host (the API's) is allowed.
#[test]
fn from_the_api_the_files_land_as_from_the_csv_export_with_the_accounts_own_host_allowed() {
    let _machine = crate::support::heavy();
    let pipedrive = fast(SandboxConfig::default());
    let usercom = usercom_with_files();
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("usercom-export");
    let options = usercom_export_gen::Options { contacts: 200, attachments: Some(usercom.url()), ..Default::default() };
    usercom_export_gen::generate(&export, &options).unwrap();
    let project = crate::usercom_api::api_project(dir.path(), &usercom, &pipedrive.url());
    crate::usercom_api::extract(&project, &[]);
    let contents = |file: PathBuf| -> BTreeMap<String, String> {
        let mut reader = csv::Reader::from_path(file).unwrap();
        let header = reader.headers().unwrap().clone();
        let content = header.iter().position(|h| h == "content").unwrap();
        reader.records().map(|row| row.unwrap()).map(|row| (row[0].to_owned(), row[content].to_owned())).collect()
    };
    let from_api = contents(project.join("usercom-snapshot/conversations.csv"));
    assert_eq!(from_api, contents(export.join("conversations.csv")), "the same messages, links and all");
    assert!(from_api.values().filter(|content| content.contains("<a href=")).count() >= 3);

    crate::usercom_api::plan_approve_apply(&project);
    let state = pipedrive.state();
    let account = usercom.account();
    let persons = by_marker(&state, "person", "persons");
    let mut expected: Vec<(u64, String, u64)> = account
        .files
        .iter()
        .filter_map(|file| {
            let contact =
                account.conversations.iter().find(|c| c.messages.iter().any(|m| m.id == file.message_id))?.user_id;
            Some((*persons.get(&contact.to_string())?, file.name.to_owned(), file.size))
        })
        .collect();
    expected.sort();
    assert!(expected.len() >= 3, "{expected:?}");
    assert_eq!(files(&state), expected, "every file, from the account's own host");
}

fn thousands(n: u64) -> String {
    crm_migrate::audit::report::thousands(n)
}
