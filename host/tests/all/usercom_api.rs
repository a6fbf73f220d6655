//! User.com's REST API as a source, against the in-process User.com sandbox over real HTTP: the
//! same generated account migrated from its CSV export and from the API lands identically in
//! Pipedrive; an extraction killed with SIGKILL resumes without asking again for a page it has;
//! 429s and 5xx are waited out; a wrong token is named and writes no snapshot; the token is
//! nowhere on disk or in the output.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crm_migrate_sandbox::SandboxConfig;
use usercom_sandbox::{Faults, RateLimit, UsercomConfig, UsercomSandbox};

use crate::apply::{apply, canonical, fast};
use crate::extract::sample_export;
use crate::plan::{in_project, migrate_duplicates_as_they_are, run, text};

/// The sandbox's API key, and one it does not know.
const USERCOM_TOKEN: &str = "usercom-sandbox-token";

pub(crate) fn usercom(config: UsercomConfig) -> UsercomSandbox {
    UsercomSandbox::spawn(UsercomConfig { tokens: vec![USERCOM_TOKEN.to_owned()], ..config }).unwrap()
}

/// `init --usercom-api` as a user does it (an https account URL), then pointed at the sandbox on
/// this machine, which `allow_host` must name, at a pace a test can wait for.
pub(crate) fn api_project(dir: &Path, usercom: &UsercomSandbox, pipedrive_url: &str) -> PathBuf {
    let project = dir.join("zubr-api");
    let output = run(&[
        "init",
        project.to_str().unwrap(),
        "--usercom-api",
        "https://zubr.user.com",
        "--account",
        "usercom-export",
        "--pipedrive",
        pipedrive_url,
        "--plan",
        "premium",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let path = project.join("migration.toml");
    let config = std::fs::read_to_string(&path).unwrap();
    assert!(config.contains("api = \"https://zubr.user.com\""), "{config}");
    let config = config
        .replace("api = \"https://zubr.user.com\"", &format!("api = \"{}\"\nrequests_per_second = 2000", usercom.url()))
        .replace("# allow_host = \"127.0.0.1\"", "allow_host = \"127.0.0.1\"");
    std::fs::write(&path, config).unwrap();
    migrate_duplicates_as_they_are(&project);
    project
}

/// `crm-migrate -C PROJECT extract ARGS` with `token` in `$USERCOM_TOKEN`.
fn extract_command(project: &Path, token: &str, args: &[&str]) -> Command {
    let mut command = crate::support::crm_migrate();
    command.args(["-C", project.to_str().unwrap(), "extract"]).args(args).env("USERCOM_TOKEN", token);
    command
}

pub(crate) fn extract(project: &Path, args: &[&str]) -> Output {
    let output = extract_command(project, USERCOM_TOKEN, args).output().unwrap();
    assert!(output.status.success(), "extract failed:\n{}\n{}", text(&output.stdout), text(&output.stderr));
    output
}

/// Every file of a snapshot, by name, with its bytes.
fn files(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .map(|path| (path.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&path).unwrap()))
        .collect()
}

pub(crate) fn plan_approve_apply(project: &Path) {
    let planned = in_project(project, &["plan"]);
    assert!(
        planned.status.success(),
        "plan:\n{}\n{}\n{}",
        text(&planned.stdout),
        text(&planned.stderr),
        std::fs::read_to_string(project.join("reports/plan.md")).unwrap_or_default()
    );
    let approved = in_project(project, &["approve", "--yes", "--by", "test"]);
    assert!(approved.status.success(), "{}", text(&approved.stderr));
    apply(project, &[]);
}

#[test]
fn the_same_account_from_its_csv_export_and_from_the_api_lands_identically_in_pipedrive() {
    let _machine = crate::support::heavy();
    let dir = tempfile::tempdir().unwrap();

    let from_csv = fast(SandboxConfig::default());
    let csv_project = dir.path().join("zubr-csv");
    let output = run(&[
        "init",
        csv_project.to_str().unwrap(),
        "--export",
        sample_export().to_str().unwrap(),
        "--account",
        "usercom-export",
        "--pipedrive",
        &from_csv.url(),
        "--plan",
        "premium",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    migrate_duplicates_as_they_are(&csv_project);
    plan_approve_apply(&csv_project);

    let usercom = usercom(UsercomConfig::default());
    let from_api = fast(SandboxConfig::default());
    let api_project = api_project(dir.path(), &usercom, &from_api.url());
    let extracted = extract(&api_project, &[]);
    assert!(text(&extracted.stdout).contains("users.csv"), "{}", text(&extracted.stdout));
    plan_approve_apply(&api_project);

    let (expected, actual) = (
        json_paragraphs_canonical(canonical(&from_csv.state())),
        json_paragraphs_canonical(canonical(&from_api.state())),
    );
    // The API defines no options for a choice attribute (attributes/ gives id, name, name_std,
    // value_type, content_type), so a value the export's definition does not list (a planted bad
    // value) is an option observed, not a bad value: that contact keeps it. Nothing else differs.
    let planted: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(sample_export().with_file_name("usercom-export.planted.json")).unwrap(),
    )
    .unwrap();
    let unlisted_options: std::collections::BTreeSet<String> = planted["values"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|value| value["attribute"] == "industry_segment" && value["kind"] == "bad value")
        .map(|value| format!("person {}", value["source_id"].as_str().unwrap()))
        .collect();
    assert!(!unlisted_options.is_empty());
    let differing: std::collections::BTreeSet<&String> =
        expected.keys().chain(actual.keys()).filter(|key| expected.get(*key) != actual.get(*key)).collect();
    for key in &differing {
        let (mut expected, mut actual) = (expected.get(*key).cloned(), actual.get(*key).cloned());
        if unlisted_options.contains(*key)
            && let Some(custom) = actual.as_mut().and_then(|actual| actual["custom"].as_object_mut())
        {
            custom.remove("Industry segment");
        }
        if let Some(custom) = expected.as_mut().and_then(|expected| expected["custom"].as_object_mut()) {
            assert!(!custom.contains_key("Industry segment") || !unlisted_options.contains(*key));
        }
        assert_eq!(expected, actual, "{key}: from the export, then from the API");
    }
    assert_eq!(expected.len(), actual.len());
    assert!(usercom.served_twice().is_empty(), "no page read twice: {:?}", usercom.served_twice());
}

/// The account with each note paragraph that is a JSON object (an event's data) written one way.
/// The one difference between the two sources: the export gives an event's data as text, the
/// API as a JSON object, whose keys come in another order and without the text's spaces.
fn json_paragraphs_canonical(
    records: std::collections::BTreeMap<String, serde_json::Value>,
) -> std::collections::BTreeMap<String, serde_json::Value> {
    records
        .into_iter()
        .map(|(key, mut record)| {
            if let Some(note) = record.get("note").and_then(serde_json::Value::as_str) {
                let paragraphs: Vec<String> = note
                    .split("</p>")
                    .map(|paragraph| {
                        match paragraph.strip_prefix("<p>").map(serde_json::from_str::<serde_json::Value>) {
                            Some(Ok(data @ serde_json::Value::Object(_))) => format!("<p>{data}"),
                            _ => paragraph.to_owned(),
                        }
                    })
                    .collect();
                record["note"] = serde_json::Value::String(paragraphs.join("</p>"));
            }
            (key, record)
        })
        .collect()
}

/// Runs extract until it finishes, killing it (SIGKILL) `kills` times first, each time after a
/// pseudo-random number of pages served by `usercom` since it started; returns how many kills
/// landed before it finished.
fn extract_with_kills(project: &Path, usercom: &UsercomSandbox, kills: usize, seed: u64) -> usize {
    let log = project.join("extract.log");
    let mut rng = seed;
    let mut killed = 0;
    for _ in 0..kills + 3 {
        let mut child = extract_command(project, USERCOM_TOKEN, &[])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let kill_after = if killed < kills { pages_served(usercom) + 20 + (rng % 300) as usize } else { usize::MAX };
        let deadline = std::time::Instant::now() + Duration::from_secs(300);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if pages_served(usercom) >= kill_after || std::time::Instant::now() >= deadline {
                break None;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        match status {
            Some(status) if status.success() => return killed,
            Some(status) => panic!(
                "extract failed on its own after {killed} kills: {status}\n{}",
                std::fs::read_to_string(&log).unwrap()
            ),
            None => {
                child.kill().unwrap();
                child.wait().unwrap();
                killed += 1;
            }
        }
    }
    panic!("extract did not finish after {killed} kills");
}

/// Pages the sandbox answered 200 (each one page read).
fn pages_served(usercom: &UsercomSandbox) -> usize {
    usercom.requests().iter().filter(|logged| logged.status == 200).count()
}

#[cfg(unix)]
#[test]
fn an_extraction_killed_at_random_instants_resumes_without_reading_a_committed_page_again() {
    let _machine = crate::support::heavy();
    let dir = tempfile::tempdir().unwrap();
    let pipedrive = fast(SandboxConfig::default());

    let clean_usercom = usercom(UsercomConfig::default());
    let clean = api_project(&dir.path().join("clean"), &clean_usercom, &pipedrive.url());
    extract(&clean, &[]);
    let clean_pages = pages_served(&clean_usercom);

    let usercom = usercom(UsercomConfig::default());
    let killed = api_project(&dir.path().join("killed"), &usercom, &pipedrive.url());
    // Slow enough that the kills land during the extraction.
    let path = killed.join("migration.toml");
    std::fs::write(
        &path,
        std::fs::read_to_string(&path).unwrap().replace("requests_per_second = 2000", "requests_per_second = 300"),
    )
    .unwrap();
    let kills = extract_with_kills(&killed, &usercom, 4, 7);
    assert!(kills >= 2, "the kills landed during the extraction ({kills})");

    // A page read but not yet committed when the kill came is read again; no other.
    let pages = pages_served(&usercom);
    assert!(
        pages >= clean_pages && pages <= clean_pages + kills,
        "{pages} pages served for {clean_pages} pages and {kills} kills; read twice, e.g.: {:?}",
        usercom.served_twice().iter().take(5).collect::<Vec<_>>()
    );
    assert_eq!(
        files(&killed.join("usercom-snapshot")),
        files(&clean.join("usercom-snapshot")),
        "the same snapshot as a run never killed"
    );
    let again = extract_command(&killed, USERCOM_TOKEN, &["--first"]).output().unwrap();
    assert!(!again.status.success() && text(&again.stderr).contains("extract --changes"), "{}", text(&again.stderr));
}

#[test]
fn throttling_and_server_errors_are_waited_out_and_the_token_is_nowhere() {
    let _machine = crate::support::heavy();
    let dir = tempfile::tempdir().unwrap();
    let pipedrive = fast(SandboxConfig::default());
    let clean_usercom = usercom(UsercomConfig::default());
    let clean = api_project(&dir.path().join("clean"), &clean_usercom, &pipedrive.url());
    extract(&clean, &[]);

    let usercom = usercom(UsercomConfig {
        rate: Some(RateLimit { burst: 10, per_second: 150.0 }),
        faults: Faults { seed: 5, rate: 0.02 },
        ..UsercomConfig::default()
    });
    let project = api_project(&dir.path().join("faults"), &usercom, &pipedrive.url());
    let output = extract(&project, &["--json"]);
    let statuses: Vec<u16> = usercom.requests().iter().map(|logged| logged.status).collect();
    assert!(statuses.contains(&429), "the rate limit was reached");
    assert!(statuses.iter().any(|status| (500..600).contains(status)), "server errors were injected");
    assert_eq!(files(&project.join("usercom-snapshot")), files(&clean.join("usercom-snapshot")));
    let done = text(&output.stdout).lines().last().unwrap().to_owned();
    assert!(done.contains("\"throttled\"") && done.contains("\"retried\""), "{done}");

    // The token: not in state.db (with its WAL), the snapshot, the reports, or the output.
    let mut places: Vec<(String, Vec<u8>)> =
        vec![("stdout".into(), output.stdout.clone()), ("stderr".into(), output.stderr.clone())];
    let mut stack = vec![project.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                places.push((path.display().to_string(), std::fs::read(&path).unwrap()));
            }
        }
    }
    assert!(places.iter().any(|(name, _)| name.ends_with("state.db")));
    for (name, bytes) in places {
        assert!(
            !bytes.windows(USERCOM_TOKEN.len()).any(|window| window == USERCOM_TOKEN.as_bytes()),
            "the token is in {name}"
        );
    }
}

#[test]
fn a_wrong_token_is_named_and_leaves_no_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let pipedrive = fast(SandboxConfig::default());
    let usercom = usercom(UsercomConfig::default());
    let project = api_project(dir.path(), &usercom, &pipedrive.url());
    let wrong = "not-the-key-0123456789";
    let output = extract_command(&project, wrong, &[]).output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("User.com refused the API token (401)") && stderr.contains("token_env"), "{stderr}");
    assert!(!stderr.contains(wrong), "{stderr}");
    assert!(!project.join("usercom-snapshot").exists());
    let audit = in_project(&project, &["audit"]);
    assert!(!audit.status.success(), "nothing to audit before an extraction");
}

#[test]
fn a_second_extraction_reads_again_only_the_users_changed_since_and_gives_the_whole_newer_account() {
    let _machine = crate::support::heavy();
    let dir = tempfile::tempdir().unwrap();
    let pipedrive = fast(SandboxConfig::default());
    let usercom = usercom(UsercomConfig::default());
    let project = api_project(&dir.path().join("cutover"), &usercom, &pipedrive.url());
    extract(&project, &[]);
    let refused = extract_command(&project, USERCOM_TOKEN, &["--first"]).output().unwrap();
    assert!(!refused.status.success(), "a first extraction once there is one");

    usercom.advance_to_changes();
    let served_before = usercom.requests().len();
    let output = extract(&project, &["--json"]);
    let done: serde_json::Value = serde_json::from_str(text(&output.stdout).lines().last().unwrap()).unwrap();
    let outcome = &done["outcome"];
    assert_eq!(outcome["kind"], "changes");
    let changes = usercom.account().changes.clone();
    let (added, changed) = (changes["contacts_added"], changes["contacts_changed"]);
    assert_eq!(outcome["users_refetched"], added + changed, "the users new or updated since, no other");
    let reads = |what: &str| {
        usercom.requests()[served_before..]
            .iter()
            .filter(|logged| logged.status == 200 && logged.path.ends_with(what))
            .count() as u64
    };
    assert_eq!(reads("/conversations/"), added + changed, "conversations read again only for them");
    let users = usercom.account().users.len() as u64;
    assert_eq!(reads("/events/"), users, "events read again for every user (one page each here)");

    // The newer snapshot is the whole newer account: what a first extraction of it gives, so
    // that delta takes no record it did not read again for a deleted one.
    let newer = PathBuf::from(outcome["snapshot"].as_str().unwrap());
    assert!(newer.ends_with("usercom-snapshot-changes-2"), "{}", newer.display());
    let fresh_usercom = usercom_advanced();
    let fresh = api_project(&dir.path().join("fresh"), &fresh_usercom, &pipedrive.url());
    extract(&fresh, &[]);
    // (`updated_at` is when each sandbox was moved to the newer state: the seconds differ.)
    assert_eq!(rows_but_updated_at(&newer), rows_but_updated_at(&fresh.join("usercom-snapshot")));
    assert!(files(&project.join("usercom-snapshot")) != files(&newer), "the first snapshot is kept as it was");
}

/// Every file of a snapshot, by name, as rows without their `updated_at` column.
fn rows_but_updated_at(dir: &Path) -> std::collections::BTreeMap<String, Vec<Vec<String>>> {
    files(dir)
        .into_iter()
        .map(|(name, bytes)| {
            let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(bytes.as_slice());
            let rows: Vec<Vec<String>> =
                reader.records().map(|row| row.unwrap().iter().map(str::to_owned).collect()).collect();
            let skip = rows.first().and_then(|header| header.iter().position(|column| column == "updated_at"));
            let rows = rows
                .into_iter()
                .map(|row| {
                    row.into_iter().enumerate().filter(|(at, _)| Some(*at) != skip).map(|(_, cell)| cell).collect()
                })
                .collect();
            (name, rows)
        })
        .collect()
}

/// A sandbox already moved to the account's state a month later.
fn usercom_advanced() -> UsercomSandbox {
    let sandbox = usercom(UsercomConfig::default());
    sandbox.advance_to_changes();
    sandbox
}

#[test]
fn deal_participants_and_order_products_are_written_as_the_csv_export_writes_them() {
    let _machine = crate::support::heavy();
    let dir = tempfile::tempdir().unwrap();
    let options = usercom_sandbox::AccountOptions { deal_products: true, ..usercom_sandbox::AccountOptions::default() };
    let export = dir.path().join("export");
    usercom_export_gen::generate(&export, &options).unwrap();
    let pipedrive = fast(SandboxConfig::default());
    let usercom = usercom(UsercomConfig { account: options, ..UsercomConfig::default() });
    let project = api_project(&dir.path().join("products"), &usercom, &pipedrive.url());
    extract(&project, &[]);
    let snapshot = project.join("usercom-snapshot");
    // Per deal id: its participants and order, by column name.
    let columns = |file: &Path, names: &[&str]| -> std::collections::BTreeMap<String, Vec<String>> {
        let mut reader = csv::Reader::from_path(file).unwrap();
        let header = reader.headers().unwrap().clone();
        let at: Vec<usize> = names.iter().map(|name| header.iter().position(|h| h == *name).unwrap()).collect();
        reader
            .records()
            .map(|row| {
                let row = row.unwrap();
                (row[0].to_owned(), at.iter().map(|at| row[*at].to_owned()).collect())
            })
            .collect()
    };
    let deals = ["participants", "order_products"];
    let (from_api, from_csv) =
        (columns(&snapshot.join("deals.csv"), &deals), columns(&export.join("deals.csv"), &deals));
    assert!(from_csv.values().any(|row| row[0] != "{}" && row[1] != "[]"), "the account has deal products");
    assert_eq!(from_api, from_csv);
    let products = ["name", "price", "currency"];
    assert_eq!(columns(&snapshot.join("products.csv"), &products), columns(&export.join("products.csv"), &products));
}

/// The contact ids of a snapshot's users.csv.
fn user_ids(snapshot: &Path) -> std::collections::BTreeSet<String> {
    csv::Reader::from_path(snapshot.join("users.csv"))
        .unwrap()
        .records()
        .map(|row| row.unwrap()[0].trim_start_matches('\u{feff}').to_owned())
        .collect()
}

/// The events of a snapshot's events.csv: (user id, name, timestamp).
fn events_of(snapshot: &Path) -> std::collections::BTreeSet<(String, String, String)> {
    let mut reader = csv::Reader::from_path(snapshot.join("events.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|header| header.trim_start_matches('\u{feff}') == name).unwrap();
    let (user, name, timestamp) = (column("user_id"), column("name"), column("timestamp"));
    reader
        .records()
        .map(Result::unwrap)
        .map(|row| (row[user].into(), row[name].into(), row[timestamp].into()))
        .collect()
}

/// At cutover from the API: `extract --changes`, then `delta` on its snapshot with
/// `--delete-missing`, lands the account a month later: verify finds 0 mismatches against the
/// snapshot, exactly the contacts User.com deleted are deleted, and no contact the changes
/// extraction did not read again (most of them) is taken for a deleted one.
#[test]
fn a_delta_on_an_api_changes_snapshot_lands_the_newer_account_and_deletes_only_what_user_com_deleted() {
    let _machine = crate::support::heavy();
    let dir = tempfile::tempdir().unwrap();
    let pipedrive = fast(SandboxConfig::default());
    let usercom = usercom(UsercomConfig::default());
    let project = api_project(dir.path(), &usercom, &pipedrive.url());
    extract(&project, &[]);
    plan_approve_apply(&project);
    let migrated: std::collections::BTreeSet<String> =
        crate::apply::by_marker(&pipedrive.state(), "person", "persons").into_keys().collect();
    let first = user_ids(&project.join("usercom-snapshot"));

    usercom.advance_to_changes();
    let output = extract(&project, &["--changes", "--json"]);
    let done: serde_json::Value = serde_json::from_str(text(&output.stdout).lines().last().unwrap()).unwrap();
    let refetched = done["outcome"]["users_refetched"].as_u64().unwrap();
    let newer = PathBuf::from(done["outcome"]["snapshot"].as_str().unwrap());
    let now = user_ids(&newer);
    assert!((refetched as usize) < now.len() / 4, "most users were not read again ({refetched} of {})", now.len());
    let deleted: std::collections::BTreeSet<String> =
        first.difference(&now).filter(|id| migrated.contains(*id)).cloned().collect();

    // First without --delete-missing: the new and changed go in, what is gone is listed.
    let preview = in_project(&project, &["delta", "--export", newer.to_str().unwrap(), "--json"]);
    assert!(preview.status.success(), "{}\n{}", text(&preview.stdout), text(&preview.stderr));
    let planned: serde_json::Value = text(&preview.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|event| event["event"] == "delta_plan")
        .unwrap();
    let contacts =
        planned["plan"]["objects"].as_array().unwrap().iter().find(|row| row["object"] == "contact").unwrap();
    assert_eq!(contacts["gone"], deleted.len(), "gone: the contacts User.com deleted, no other: {contacts}");
    let expect = planned["plan"]["deletions"].as_u64().unwrap().to_string();
    let output = in_project(
        &project,
        &["delta", "--export", newer.to_str().unwrap(), "--delete-missing", "--expect-deletions", &expect, "--yes"],
    );
    assert!(output.status.success(), "{}\n{}", text(&output.stdout), text(&output.stderr));
    let state = pipedrive.state();
    let persons: std::collections::BTreeSet<String> = crate::apply::by_marker(&state, "person", "persons")
        .into_iter()
        .filter(|(_, id)| state["persons"][id.to_string()]["is_deleted"] != true)
        .map(|(contact, _)| contact)
        .collect();
    assert!(deleted.iter().all(|id| !persons.contains(id)), "what User.com deleted is deleted");
    let kept: Vec<&String> = migrated.iter().filter(|id| now.contains(*id) && !persons.contains(*id)).collect();
    assert!(kept.is_empty(), "contacts still in User.com taken for deleted: {kept:?}");
    let added = now.difference(&first).count();
    assert!(added > 0 && persons.len() > migrated.len() - deleted.len(), "the new contacts are created");

    let verified = in_project(&project, &["verify", "--export", newer.to_str().unwrap(), "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&verified.stdout).unwrap();
    assert!(verified.status.success(), "{report:#}");
    assert_eq!(report["mismatches"], serde_json::json!([]), "0 mismatches against the newer snapshot");
}

/// Whether User.com bumps a user's `updated_at` when only an event is added is not in the
/// reference: an event tracked on a user who is otherwise unchanged (the sandbox leaves
/// `updated_at` as it was) is in the changes snapshot all the same.
#[test]
fn an_event_tracked_since_on_an_unchanged_user_is_in_the_changes_snapshot() {
    let _machine = crate::support::heavy();
    let dir = tempfile::tempdir().unwrap();
    let pipedrive = fast(SandboxConfig::default());
    let usercom = usercom(UsercomConfig::default());
    let project = api_project(dir.path(), &usercom, &pipedrive.url());
    extract(&project, &[]);
    let user = usercom.account().users.iter().map(|user| user.id).min().unwrap();
    let tracked = 1_700_000_000;
    usercom.track_event(user, "cart_abandoned", tracked, r#"{"value": 99.5, "currency": "PLN"}"#);
    let output = extract(&project, &["--changes", "--json"]);
    let done: serde_json::Value = serde_json::from_str(text(&output.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(done["outcome"]["users_refetched"], 0, "no user changed: {}", done["outcome"]);
    let newer = PathBuf::from(done["outcome"]["snapshot"].as_str().unwrap());
    let event = (user.to_string(), "cart_abandoned".to_owned(), tracked.to_string());
    assert!(!events_of(&project.join("usercom-snapshot")).contains(&event));
    assert!(events_of(&newer).contains(&event), "the event tracked since is in the changes snapshot");
    assert_eq!(
        events_of(&newer).len(),
        events_of(&project.join("usercom-snapshot")).len() + 1,
        "and every event the user had before"
    );
}
