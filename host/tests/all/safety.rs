//! What must never happen to a customer's data, tried as a careful user and as an attacker would:
//! an apply that runs on something nobody approved (a plugin swapped, an export replaced, another
//! target), a delta that deletes because its input is incomplete, edits made in Pipedrive
//! overwritten or deleted silently.

use std::collections::BTreeSet;
use std::path::Path;

use crm_migrate::pipedrive::{EntityKind, Plan};
use crm_migrate::record::ObjectKind;
use crm_migrate_sandbox::{SandboxConfig, SandboxHandle};
use serde_json::json;

use crate::apply::{apply, approved_project, by_marker, canonical, fast, source_of, text_of};
use crate::extract::{sample_export, sample_export_copy};
use crate::pipedrive_support::client;
use crate::plan::{in_project, prepared_sandbox_with, run, text};
use crate::support::plugin;

fn digest_of(file: &Path) -> String {
    let vetted = run(&["plugin", "vet", file.to_str().unwrap(), "--json"]);
    assert!(vetted.status.success(), "{}", text(&vetted.stderr));
    let answer: serde_json::Value = serde_json::from_slice(&vetted.stdout).unwrap();
    answer["digest"].as_str().expect("vet prints the digest").to_owned()
}

fn replace_in(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains(from), "{} has no {from:?}", file.display());
    std::fs::write(file, text.replace(from, to)).unwrap();
}

/// Apply refuses with exit 4, names `expected` among the changes, and writes nothing.
fn refused(project: &Path, sandbox: &SandboxHandle, expected: &str) {
    let writes = sandbox.stats().writes_applied;
    let output = in_project(project, &["apply"]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(4), "apply must refuse: {stderr}");
    assert!(stderr.contains(expected), "the refusal names what changed ({expected}):\n{stderr}");
    assert!(stderr.contains("approve"), "and says what to do:\n{stderr}");
    assert_eq!(sandbox.stats().writes_applied, writes, "a refused apply writes nothing");
}

fn approve(project: &Path) -> String {
    let output = in_project(project, &["approve", "--yes", "--by", "test"]);
    assert!(output.status.success(), "{}\n{}", text(&output.stdout), text(&output.stderr));
    text(&output.stdout)
}

#[test]
fn apply_refuses_a_plugin_swapped_or_reconfigured_an_export_replaced_or_another_target_since_approval() {
    let sandbox = prepared_sandbox_with(SandboxConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let export = sample_export_copy(&dir.path().join("export"));
    let project = dir.path().join("zubr");
    let clean = plugin("clean_basic");
    let output = run(&[
        "init",
        project.to_str().unwrap(),
        "--export",
        export.to_str().unwrap(),
        "--pipedrive",
        &sandbox.url(),
        "--plan",
        "premium",
        "--plugin",
        &format!("clean={}", clean.display()),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    crate::plan::migrate_duplicates_as_they_are(&project);
    let planned = in_project(&project, &["plan"]);
    assert!(planned.status.success() || planned.status.code() == Some(5), "{}", text(&planned.stderr));
    let approved = approve(&project);
    assert!(
        approved.contains(&format!("clean {}", digest_of(&clean))),
        "approve shows the plugins it approves:\n{approved}"
    );
    let config = project.join("migration.toml");

    // The clean plugin swapped for another file (path and digest both edited, as an attacker would).
    let hostile = plugin("hostile_panic");
    let original = std::fs::read_to_string(&config).unwrap();
    replace_in(
        &config,
        &clean.canonicalize().unwrap().display().to_string(),
        &hostile.canonicalize().unwrap().display().to_string(),
    );
    replace_in(&config, &digest_of(&clean), &digest_of(&hostile));
    refused(&project, &sandbox, "the clean plugin is another file");
    let approved = approve(&project);
    assert!(
        approved.contains("changed since the last approval: the clean plugin is another file"),
        "approve shows the swap:\n{approved}"
    );
    std::fs::write(&config, &original).unwrap();
    refused(&project, &sandbox, "the clean plugin is another file");
    approve(&project);

    // The same plugin, configured otherwise.
    // At a line's start: init's proposed plugins hold "# [plugins.config]" in their comments.
    replace_in(&config, "\n[plugins.config]\n", "\n[plugins.config]\ndrop_email_domains = \"zubrshop.pl\"\n");
    refused(
        &project,
        &sandbox,
        "the clean plugin's option \"drop_email_domains\": (not set) approved, \"zubrshop.pl\" now",
    );
    std::fs::write(&config, &original).unwrap();

    // The export replaced under the project (a row added).
    let users = export.join("users.csv");
    let before = std::fs::read(&users).unwrap();
    let mut changed = before.clone();
    changed.extend_from_slice(&before[before.iter().position(|&b| b == b'\n').unwrap() + 1..][..200]);
    std::fs::write(&users, &changed).unwrap();
    refused(&project, &sandbox, "the export's users.csv changed");
    std::fs::write(&users, &before).unwrap();

    // Another target account.
    let other = prepared_sandbox_with(SandboxConfig::default());
    let prepared = other.stats().writes_applied;
    replace_in(&config, &sandbox.url(), &other.url());
    refused(&project, &sandbox, "the target is another account");
    assert_eq!(other.stats().writes_applied, prepared, "nothing is written to the other account either");
    std::fs::write(&config, &original).unwrap();

    // Back as approved: the gate opens.
    let project = crm_migrate::project::Project::open(&project).unwrap();
    crm_migrate::approve::require_approval(&project, crm_migrate::approve::ExportCheck::Approved)
        .expect("as approved, the gate opens");
}

/// users.csv of the sample without the rows of `drop` (contact ids), and with only the header
/// when `drop` is None.
fn users_without(export: &Path, drop: Option<&BTreeSet<String>>) {
    let users = export.join("users.csv");
    let bytes = std::fs::read(&users).unwrap();
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(&bytes[..]);
    let mut writer = csv::WriterBuilder::new().flexible(true).from_writer(Vec::new());
    writer.write_byte_record(reader.byte_headers().unwrap()).unwrap();
    let id_column = reader.byte_headers().unwrap().iter().position(|h| h == b"id").expect("users.csv has an id column");
    if let Some(drop) = drop {
        for row in reader.byte_records() {
            let row = row.unwrap();
            if !drop.contains(&String::from_utf8_lossy(&row[id_column]).into_owned()) {
                writer.write_byte_record(&row).unwrap();
            }
        }
    }
    std::fs::write(&users, writer.into_inner().unwrap()).unwrap();
}

fn delta(project: &Path, export: &Path, extra: &[&str]) -> std::process::Output {
    in_project(project, &[&["delta", "--export", export.to_str().unwrap()], extra].concat())
}

#[test]
fn a_delta_refuses_deletions_from_a_partial_export_or_beyond_the_threshold_and_rollback_run_undoes_one() {
    let _machine = crate::support::heavy();
    let sandbox = fast(SandboxConfig::default());
    let (dir, project) = approved_project(&sandbox);
    apply(&project, &[]);
    let migrated = canonical(&sandbox.state());
    let persons = migrated.keys().filter(|key| key.starts_with("person ")).count();
    let writes = sandbox.stats().writes_applied;

    // users.csv missing (a partial export, a wrong directory): refused, nothing written.
    let missing = sample_export_copy(&dir.path().join("missing").join("export"));
    std::fs::remove_file(missing.join("users.csv")).unwrap();
    let output = delta(&project, &missing, &["--delete-missing", "--yes"]);
    assert_eq!(output.status.code(), Some(10), "{}\n{}", text(&output.stdout), text(&output.stderr));
    assert!(text(&output.stderr).contains("no contact file"), "{}", text(&output.stderr));
    // users.csv with its header only: refused too.
    let empty = sample_export_copy(&dir.path().join("empty").join("export"));
    users_without(&empty, None);
    let output = delta(&project, &empty, &["--delete-missing", "--yes"]);
    assert_eq!(output.status.code(), Some(10), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("users.csv has no contact records"), "{}", text(&output.stderr));
    assert_eq!(sandbox.stats().writes_applied, writes, "a refused delta writes nothing");
    assert_eq!(canonical(&sandbox.state()), migrated);

    // 60 contacts gone (more than 50, the threshold at this size): refused unless named exactly.
    let created: Vec<String> = by_marker(&sandbox.state(), "person", "persons").into_keys().collect();
    let gone: BTreeSet<String> = created.iter().step_by(7).take(60).cloned().collect();
    assert_eq!(gone.len(), 60);
    let fewer = sample_export_copy(&dir.path().join("fewer").join("export"));
    users_without(&fewer, Some(&gone));
    let output = delta(&project, &fewer, &["--delete-missing", "--yes"]);
    assert_eq!(output.status.code(), Some(10), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("60 contact records would be deleted, more than the 50 allowed"),
        "{}",
        text(&output.stderr)
    );
    let output = delta(&project, &fewer, &["--delete-missing", "--expect-deletions", "59", "--yes"]);
    assert_eq!(output.status.code(), Some(10), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("--expect-deletions 59, but the newer export would delete 60"),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(sandbox.stats().writes_applied, writes, "refused deltas write nothing");
    // Without --yes and without a terminal it asks for --yes rather than deleting.
    let output = delta(&project, &fewer, &["--delete-missing", "--expect-deletions", "60"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("pass --yes"), "{}", text(&output.stderr));
    assert_eq!(sandbox.stats().writes_applied, writes);

    let output = delta(&project, &fewer, &["--delete-missing", "--expect-deletions", "60", "--yes", "--json"]);
    assert!(output.status.success(), "{}\n{}", text(&output.stdout), text(&output.stderr));
    let after = canonical(&sandbox.state());
    assert_eq!(after.keys().filter(|key| key.starts_with("person ")).count(), persons - 60);
    assert!(gone.iter().all(|id| !after.contains_key(&format!("person {id}"))));
    let done: serde_json::Value = text(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|event| event["event"] == "done")
        .unwrap();
    assert_eq!(done["outcome"]["deleted"], 60);
    let run = done["outcome"]["run_id"].as_i64().unwrap();

    // rollback --run undoes that delta: the 60 persons come back as they were, their deals,
    // activities and notes linked to them again.
    let output = in_project(&project, &["rollback", "--run", &run.to_string(), "--yes"]);
    assert!(output.status.success(), "{}\n{}", text(&output.stdout), text(&output.stderr));
    assert!(text(&output.stdout).contains("created again 60 contact"), "{}", text(&output.stdout));
    assert_eq!(canonical(&sandbox.state()), migrated, "the account is as it was before the delta");
    let output = in_project(&project, &["rollback", "--run", &run.to_string(), "--yes"]);
    assert!(!output.status.success() && text(&output.stderr).contains("already undone"), "{}", text(&output.stderr));
    let status = in_project(&project, &["status"]);
    assert!(
        text(&status.stdout).contains(&format!("run {run} (delta)")) && text(&status.stdout).contains("undone by run"),
        "{}",
        text(&status.stdout)
    );
    let verified = in_project(&project, &["verify"]);
    assert!(verified.status.success(), "{}", text(&verified.stdout));

    // After a full rollback nothing of a delta is left to undo: --run refuses, creating nothing.
    let output = delta(&project, &fewer, &["--delete-missing", "--expect-deletions", "60", "--yes", "--json"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let done: serde_json::Value = text(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .find(|event| event["event"] == "done")
        .unwrap();
    let second = done["outcome"]["run_id"].as_i64().unwrap().to_string();
    let output = in_project(&project, &["rollback", "--yes"]);
    assert!(output.status.success() && text(&output.stdout).contains("residue: none"), "{}", text(&output.stdout));
    let writes = sandbox.stats().writes_applied;
    let output = in_project(&project, &["rollback", "--run", &second, "--yes"]);
    assert!(
        !output.status.success() && text(&output.stderr).contains("undone by a full rollback"),
        "{}",
        text(&output.stderr)
    );
    assert_eq!(sandbox.stats().writes_applied, writes);
}

#[test]
fn edits_made_in_pipedrive_are_conflicts_that_delta_and_rollback_list_and_keep() {
    let _machine = crate::support::heavy();
    let sandbox = fast(SandboxConfig::default());
    let (dir, project) = approved_project(&sandbox);
    apply(&project, &[]);
    let newer = dir.path().join("newer-export");
    std::fs::create_dir(&newer).unwrap();
    usercom_export_gen::generate(
        &newer,
        &usercom_export_gen::Options { changes: true, ..usercom_export_gen::Options::default() },
    )
    .unwrap();
    let (old, new) = (source_of(&sample_export()), source_of(&newer));
    let ids = |records: &Vec<(crm_migrate::record::Record, bool)>| {
        records.iter().map(|(r, _)| r.source_id.clone()).collect::<BTreeSet<_>>()
    };
    let persons = by_marker(&sandbox.state(), "person", "persons");
    let city = |records: &Vec<(crm_migrate::record::Record, bool)>, id: &str| {
        records.iter().find(|(r, _)| r.source_id == id).and_then(|(r, _)| text_of(r, "city"))
    };
    // One contact the newer export changes, one it no longer has: both edited by a salesperson.
    let migrated = canonical(&sandbox.state());
    let changed = new[&ObjectKind::Contact]
        .iter()
        .map(|(r, _)| r.source_id.clone())
        .find(|id| {
            persons.contains_key(id)
                && city(&old[&ObjectKind::Contact], id) != city(&new[&ObjectKind::Contact], id)
                && !migrated[&format!("person {id}")]["org"].is_null()
        })
        .expect("the newer export changes the city of a migrated contact who belongs to an organization");
    let deleted = ids(&old[&ObjectKind::Contact])
        .difference(&ids(&new[&ObjectKind::Contact]))
        .find(|id| persons.contains_key(*id))
        .cloned()
        .expect("a migrated contact is gone");
    let pipedrive = client(&sandbox, Plan::Premium);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for id in [&changed, &deleted] {
        runtime
            .block_on(pipedrive.update_fields(EntityKind::Person, persons[id], json!({"name": "Edited by sales"})))
            .unwrap();
    }

    let output = delta(&project, &newer, &["--delete-missing", "--yes"]);
    assert!(output.status.success(), "{}\n{}", text(&output.stdout), text(&output.stderr));
    let stdout = text(&output.stdout);
    for id in [&changed, &deleted] {
        assert!(
            stdout
                .contains(&format!("conflict: contact {id} (Pipedrive id {}): name changed in Pipedrive", persons[id])),
            "{id}: {stdout}"
        );
    }
    assert!(stdout.contains("\"Edited by sales\" now; kept"), "{stdout}");
    let state = sandbox.state();
    let after = canonical(&state);
    assert_eq!(after[&format!("person {changed}")]["name"], "Edited by sales", "the edit is not overwritten");
    assert_ne!(
        after[&format!("person {changed}")]["custom"]["City"],
        json!(city(&new[&ObjectKind::Contact], &changed)),
        "nor is the record updated"
    );
    assert_eq!(after[&format!("person {deleted}")]["name"], "Edited by sales", "the edited record is not deleted");

    // A full rollback keeps them too, names them, and keeps the workspace they use.
    let output = in_project(&project, &["rollback", "--yes"]);
    assert_eq!(output.status.code(), Some(9), "{}\n{}", text(&output.stdout), text(&output.stderr));
    let stdout = text(&output.stdout);
    for id in [&changed, &deleted] {
        assert!(
            stdout.contains(&format!("contact {id} (Pipedrive id {}) kept: changed in Pipedrive", persons[id])),
            "{stdout}"
        );
    }
    let after = canonical(&sandbox.state());
    let persons: Vec<&String> = after.keys().filter(|key| key.starts_with("person ")).collect();
    assert_eq!(
        persons,
        vec![&format!("person {changed}"), &format!("person {deleted}")],
        "only the edited persons are left"
    );
    // With the organizations they belong to, so that the kept persons keep their links.
    let organizations: BTreeSet<String> =
        after.keys().filter(|key| key.starts_with("organization ")).cloned().collect();
    let linked: BTreeSet<String> = persons
        .iter()
        .filter_map(|key| after[*key]["org"].as_str())
        .map(|org| format!("organization {}", org.rsplit(':').next().unwrap()))
        .collect();
    assert!(!linked.is_empty());
    assert_eq!(organizations, linked, "exactly the organizations the kept persons link to are kept");
    assert_eq!(
        after.len(),
        persons.len() + organizations.len(),
        "nothing else is left: {:?}",
        after.keys().collect::<Vec<_>>()
    );
    for org in &organizations {
        assert!(
            stdout.contains("kept: a record kept above links to it")
                && stdout.contains(&format!("company {}", org.trim_start_matches("organization "))),
            "{stdout}"
        );
    }

    // Asked to, rollback deletes them as well.
    let output = in_project(&project, &["rollback", "--yes", "--include-changed"]);
    assert!(output.status.success() && text(&output.stdout).contains("residue: none"), "{}", text(&output.stdout));
}
