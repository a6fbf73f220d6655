//! Company hierarchies against the sandbox: a company's parent company becomes an organization
//! relationship of type parent, made after both organizations; a parent the export does not have
//! and a cycle are listed, not sent; a kill during the relationships step resumes without
//! duplicates; verify proves each relationship and catches one deleted behind the migration's
//! back; rollback removes them. The expected pairs come from the export's own parent column,
//! read here with a plain CSV reader, never from what apply sends.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crm_migrate::pipedrive::Plan;
use crm_migrate_sandbox::{SandboxConfig, SandboxHandle};
use serde_json::Value;

use crate::apply::{apply, fast, kill_apply_inside_a_step};
use crate::plan::{in_project, migrate_duplicates_as_they_are, text};

/// A generated export whose companies have parents (chains, one parent not in the export, a cycle).
fn hierarchy_export(dir: &Path) -> PathBuf {
    let export = dir.join("usercom-export");
    usercom_export_gen::generate(
        &export,
        &usercom_export_gen::Options { contacts: 200, hierarchy: true, ..usercom_export_gen::Options::default() },
    )
    .unwrap();
    export
}

/// A project on that export, planned and approved, pointed at the sandbox.
fn hierarchy_project(sandbox: &SandboxHandle) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let export = hierarchy_export(dir.path());
    let project = dir.path().join("holding");
    crate::plan::init_on_sandbox(&project, &export, sandbox);
    migrate_duplicates_as_they_are(&project);
    let planned = in_project(&project, &["plan"]);
    assert!(planned.status.success(), "{}", text(&planned.stderr));
    let mapping = std::fs::read_to_string(project.join("mapping.toml")).unwrap();
    assert!(
        mapping.contains("parent_org_id"),
        "plan proposes the parent company as the parent organization:\n{mapping}"
    );
    let approved = in_project(&project, &["approve", "--yes", "--by", "test"]);
    assert!(approved.status.success(), "{}", text(&approved.stderr));
    (dir, project)
}

/// What the export's parent column says: (parent, child) pairs that can be made, and the
/// children whose parent cannot be (not in the export, or a cycle), by reason.
struct Expected {
    pairs: BTreeSet<(String, String)>,
    not_in_export: BTreeSet<String>,
    in_cycle: BTreeSet<String>,
}

fn expected(export: &Path) -> Expected {
    let mut reader = csv::ReaderBuilder::new().delimiter(b';').from_path(export.join("companies.csv")).unwrap();
    let headers = reader.byte_headers().unwrap().clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|header| header == name.as_bytes())
            .unwrap_or_else(|| panic!("companies.csv has {name}"))
    };
    let (id, parent) = (column("ID"), column("Parent company ID"));
    let mut parents: BTreeMap<String, String> = BTreeMap::new();
    let mut ids = BTreeSet::new();
    for row in reader.byte_records() {
        let row = row.unwrap();
        let cell = |index: usize| String::from_utf8_lossy(&row[index]).trim().to_owned();
        ids.insert(cell(id));
        if !cell(parent).is_empty() {
            parents.insert(cell(id), cell(parent));
        }
    }
    let mut expected = Expected { pairs: BTreeSet::new(), not_in_export: BTreeSet::new(), in_cycle: BTreeSet::new() };
    for (child, parent) in &parents {
        let mut at = parent.clone();
        let mut cycle = false;
        for _ in 0..=parents.len() {
            if at == *child {
                cycle = true;
                break;
            }
            match parents.get(&at) {
                Some(next) => at = next.clone(),
                None => break,
            }
        }
        if !ids.contains(parent) {
            expected.not_in_export.insert(child.clone());
        } else if cycle {
            expected.in_cycle.insert(child.clone());
        } else {
            expected.pairs.insert((parent.clone(), child.clone()));
        }
    }
    assert!(
        expected.pairs.len() >= 5 && !expected.not_in_export.is_empty() && expected.in_cycle.len() >= 2,
        "the export plants all three cases"
    );
    expected
}

/// The live parent relationships in the sandbox as (parent, child) User.com ids, read from the
/// organizations' marker fields; each pair once per relationship (a duplicate shows twice).
fn landed(sandbox: &SandboxHandle) -> Vec<(String, String)> {
    let state = sandbox.state();
    let marker_code = state["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["entity"] == "organization" && f["name"] == "User.com ID")
        .map(|f| f["code"].as_str().unwrap().to_owned());
    let marker = |id: &Value| -> String {
        let code = marker_code.as_deref().expect("the marker field exists");
        let organization = &state["organizations"][id.to_string()];
        assert_ne!(organization["is_deleted"], true, "a relationship links a live organization");
        organization["custom_fields"][code].as_str().unwrap_or("(no marker)").rsplit(':').next().unwrap().to_owned()
    };
    let mut pairs: Vec<(String, String)> = relationships(&state)
        .into_iter()
        .map(|relationship| {
            assert_eq!(relationship["type"], "parent");
            (marker(&relationship["rel_owner_org_id"]), marker(&relationship["rel_linked_org_id"]))
        })
        .collect();
    pairs.sort();
    pairs
}

/// Every relationship request the client sent during the test, and each answer, checked against
/// Pipedrive's v1 spec (skipped, with a message, when the specs are missing).
fn assert_relationship_requests_conform(record: &Path) {
    let Some(specs) = openapi_check::Specs::for_tests() else { return };
    let lines: Vec<String> = std::fs::read_to_string(record)
        .unwrap()
        .lines()
        .filter(|line| line.contains("/organizationRelationships"))
        .map(str::to_owned)
        .collect();
    assert!(!lines.is_empty(), "relationship requests were recorded");
    let only = record.with_extension("relationships.jsonl");
    std::fs::write(&only, lines.join("\n") + "\n").unwrap();
    let report = crm_migrate_sandbox::conformance::check_record_file(specs, &only).unwrap();
    assert_eq!(report.requests_checked, lines.len());
    assert!(report.problems.is_empty(), "{} problems:\n{}", report.problems.len(), report.problems.join("\n"));
}

fn relationships(state: &Value) -> Vec<Value> {
    state["organization_relationships"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(_, relationship)| relationship.clone())
        .filter(|relationship| relationship["active_flag"] != false)
        .collect()
}

#[test]
fn parent_companies_become_parent_relationships_verified_and_rolled_back() {
    let _machine = crate::support::heavy();
    let record = tempfile::tempdir().unwrap();
    let sandbox =
        fast(SandboxConfig { record_path: Some(record.path().join("requests.jsonl")), ..SandboxConfig::default() });
    let (dir, project) = hierarchy_project(&sandbox);
    let expected = expected(&dir.path().join("usercom-export"));
    apply(&project, &[]);

    let pairs = landed(&sandbox);
    assert_eq!(
        pairs.iter().cloned().collect::<BTreeSet<_>>(),
        expected.pairs,
        "one parent relationship for each pair the export can give, and no other"
    );
    assert_eq!(pairs.len(), expected.pairs.len(), "no pair twice");
    let reconciliation = std::fs::read_to_string(project.join("reports/reconciliation.md")).unwrap();
    for child in &expected.not_in_export {
        assert!(
            reconciliation
                .lines()
                .any(|line| line.contains(&format!("company {child}")) && line.contains("not in the export")),
            "{child} listed:\n{reconciliation}"
        );
    }
    for child in &expected.in_cycle {
        assert!(
            reconciliation.lines().any(|line| line.contains(&format!("company {child}")) && line.contains("cycle")),
            "{child} listed:\n{reconciliation}"
        );
    }

    let verified = in_project(&project, &["verify"]);
    let report = std::fs::read_to_string(project.join("reports/verification.md")).unwrap();
    assert!(verified.status.success(), "verify proves the migration:\n{}\n{report}", text(&verified.stderr));
    assert!(
        report.contains(&format!("{} verified", expected.pairs.len())),
        "the relationships are read back:\n{report}"
    );
    let row = report
        .lines()
        .find(|line| line.contains("`parent_company_id`"))
        .unwrap_or_else(|| panic!("a coverage row for the parent:\n{report}"));
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    assert_eq!(
        cells[4],
        expected.pairs.len().to_string(),
        "each parent that can be held lands in the hierarchy: {row}"
    );
    assert_eq!(cells[7], "0", "none missing: {row}");

    // Someone deletes one relationship in Pipedrive.
    let state = sandbox.state();
    let gone = relationships(&state).into_iter().next().unwrap();
    let (owner, linked) = (gone["rel_owner_org_id"].clone(), gone["rel_linked_org_id"].clone());
    let client = crate::pipedrive_support::client(&sandbox, Plan::Growth);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(client.delete_organization_relationship(gone["id"].as_u64().unwrap())).unwrap();
    let child_marker = |id: &Value| landed_marker(&state, id);
    let verified = in_project(&project, &["verify"]);
    assert!(!verified.status.success(), "verify catches the deleted relationship");
    let report = std::fs::read_to_string(project.join("reports/verification.md")).unwrap();
    let (parent, child) = (child_marker(&owner), child_marker(&linked));
    assert!(
        report.lines().any(|line| line.contains(&format!("company {child}"))
            && line.contains(&format!("company {parent}"))
            && line.contains("missing")),
        "the missing relationship is named:\n{report}"
    );

    let rolled_back = in_project(&project, &["rollback", "--yes"]);
    assert!(rolled_back.status.success(), "{}\n{}", text(&rolled_back.stdout), text(&rolled_back.stderr));
    let state = sandbox.state();
    assert!(relationships(&state).is_empty(), "rollback removes every relationship: {:?}", relationships(&state));
    assert!(!text(&rolled_back.stdout).contains("still there"), "no residue:\n{}", text(&rolled_back.stdout));
    // The one deleted behind its back counts as deleted: it is gone either way.
    assert!(
        text(&rolled_back.stdout).contains(&format!("deleted {} parent relationships", expected.pairs.len())),
        "{}",
        text(&rolled_back.stdout)
    );
    drop(sandbox);
    assert_relationship_requests_conform(&record.path().join("requests.jsonl"));
}

fn landed_marker(state: &Value, id: &Value) -> String {
    let code = state["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["entity"] == "organization" && f["name"] == "User.com ID")
        .unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned();
    state["organizations"][id.to_string()]["custom_fields"][&code]
        .as_str()
        .unwrap()
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned()
}

#[cfg(unix)]
#[test]
fn a_kill_during_the_relationships_step_resumes_without_duplicates() {
    let _machine = crate::support::heavy();
    let record = tempfile::tempdir().unwrap();
    let sandbox =
        fast(SandboxConfig { record_path: Some(record.path().join("requests.jsonl")), ..SandboxConfig::default() });
    let (dir, project) = hierarchy_project(&sandbox);
    let expected = expected(&dir.path().join("usercom-export"));
    let companies = std::fs::read(dir.path().join("usercom-export/companies.csv"))
        .unwrap()
        .split(|byte| *byte == b'\n')
        .filter(|line| line.len() > 1)
        .count()
        - 1;

    // Once every organization is there, each answer takes a while: the kill lands among the
    // relationship creates, some applied and not yet journalled.
    kill_apply_inside_a_step(
        &sandbox,
        &project,
        "relationships",
        3,
        |state| state["organizations"].as_object().map_or(0, |organizations| organizations.len()) >= companies,
        |state| !relationships(state).is_empty(),
    );
    let before = relationships(&sandbox.state()).len();
    assert!(before < expected.pairs.len(), "killed during the step ({before} of {} made)", expected.pairs.len());
    apply(&project, &[]);
    let pairs = landed(&sandbox);
    assert_eq!(pairs.len(), expected.pairs.len(), "no duplicates after the resume: {pairs:?}");
    assert_eq!(pairs.into_iter().collect::<BTreeSet<_>>(), expected.pairs);
    drop(sandbox);
    let requests = std::fs::read_to_string(record.path().join("requests.jsonl")).unwrap();
    let lookups = requests
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|line| line["method"] == "GET" && line["path"] == "/api/v1/organizationRelationships")
        .count();
    assert!(lookups > 0, "the resume looked for the creates the kill left open before sending them again");
    assert_relationship_requests_conform(&record.path().join("requests.jsonl"));
}

#[test]
fn the_audit_finds_the_planted_parent_that_is_not_in_the_export_as_an_orphan() {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("usercom-export");
    let planted = usercom_export_gen::generate(
        &export,
        &usercom_export_gen::Options { contacts: 200, hierarchy: true, ..usercom_export_gen::Options::default() },
    )
    .unwrap();
    assert_eq!(planted.orphans.get("company.parent_company_id"), Some(&1), "{:?}", planted.orphans);
    let opened = crm_migrate::extract::Export::open(&export, crm_migrate::extract::ExportOptions::default()).unwrap();
    let audit = crm_migrate::audit::run(&opened, &mut Vec::new()).unwrap();
    let orphans: BTreeMap<String, u64> =
        audit.orphans.iter().map(|orphan| (format!("{}.{}", orphan.object, orphan.field), orphan.count)).collect();
    assert_eq!(orphans, planted.orphans, "every planted orphan, the parent among them, and no other");
}

#[test]
fn a_sample_run_links_the_pairs_it_migrated_and_its_rollback_takes_them_back() {
    let _machine = crate::support::heavy();
    let sandbox = fast(SandboxConfig::default());
    let (dir, project) = hierarchy_project(&sandbox);
    let expected = expected(&dir.path().join("usercom-export"));
    apply(&project, &["--sample", "60"]);
    let state = sandbox.state();
    let migrated: BTreeSet<String> = state["organizations"]
        .as_object()
        .unwrap()
        .keys()
        .map(|id| landed_marker(&state, &serde_json::json!(id.parse::<u64>().unwrap())))
        .collect();
    let within: BTreeSet<(String, String)> = expected
        .pairs
        .iter()
        .filter(|(parent, child)| migrated.contains(parent) && migrated.contains(child))
        .cloned()
        .collect();
    assert!(!within.is_empty() && migrated.len() < 32, "the sample holds some pairs, not every company: {migrated:?}");
    assert_eq!(
        landed(&sandbox).into_iter().collect::<BTreeSet<_>>(),
        within,
        "each pair the sample migrated both companies of, and no other"
    );

    let rolled_back = in_project(&project, &["rollback", "--sample", "--yes"]);
    assert!(rolled_back.status.success(), "{}\n{}", text(&rolled_back.stdout), text(&rolled_back.stderr));
    assert!(relationships(&sandbox.state()).is_empty(), "the sample's relationships go with its organizations");

    apply(&project, &[]);
    let pairs = landed(&sandbox);
    assert_eq!(pairs.len(), expected.pairs.len());
    assert_eq!(pairs.into_iter().collect::<BTreeSet<_>>(), expected.pairs, "the full run makes them all again");
}
