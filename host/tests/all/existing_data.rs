//! Into an account that already has data: plan matches the sample export with persons and
//! organizations seeded in the sandbox (by email and by domain; one email two persons have),
//! a person decides link, update or create in existing.toml, apply honours it, verify proves it,
//! and rollback gives every record the account had its values back and deletes none of them.
//! The deals the account already has count against its deals limit.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use crm_migrate::journal::Journal;
use crm_migrate::pipedrive::{ContactPoint, EntityKind, NewDeal, NewOrganization, NewPerson, PipedriveClient, Plan};
use crm_migrate::record::ObjectKind;
use crm_migrate::state::State;
use crm_migrate_sandbox::{AccountLimits, SandboxConfig};
use serde_json::{Value, json};

use crate::apply::{apply, fast};
use crate::pipedrive_support::client;
use crate::plan::{in_project, project, text};

fn person(name: &str, email: &str, phone: Option<&str>) -> NewPerson {
    NewPerson {
        name: name.into(),
        emails: vec![ContactPoint::primary(email)],
        phones: phone.map(ContactPoint::primary).into_iter().collect(),
        ..NewPerson::default()
    }
}

/// The account before the migration: Pipedrive ids by what they stand for.
pub(crate) async fn seed(client: &PipedriveClient) -> BTreeMap<&'static str, u64> {
    let mut ids = BTreeMap::new();
    let persons = [
        // Contact 10005 (link: its phone and organization are empty, its name is kept).
        ("linked", person("M. Lewandowska", "malgorzata.lewandowska5@firma.pl", None)),
        // Contact 10006 (update: name and phone overwritten).
        ("updated", person("Jan W.", "jan.wisniewski6@poczta.fm", Some("+48 111 111 111"))),
        // Contact 10011 (create: a new person anyway).
        ("created anyway", person("Andrzej K.", "andrzej.krawczyk11@o2.pl", None)),
        // Contact 10013: two persons share its email; a person picks the first.
        ("ambiguous 1", person("Urszula W.", "urszula.wojcik13@firma.pl", None)),
        ("ambiguous 2", person("U. Wójcik", "urszula.wojcik13@firma.pl", None)),
        ("unmatched", person("Zofia Obca", "zofia@obca.example", Some("+48 222 222 222"))),
    ];
    for (what, person) in persons {
        ids.insert(what, client.create_person(&person, None).await.unwrap().id);
    }
    let organizations = [
        // Company 504 by the domain of its email (biuro4@bielsko-biala.com.pl).
        ("organization", "Stara Nazwa Bielsko", "https://www.bielsko-biala.com.pl/kontakt"),
        ("unmatched organization", "Obca Firma", "obca.example"),
    ];
    for (what, name, website) in organizations {
        let organization = NewOrganization { name: name.into(), website: Some(website.into()), ..Default::default() };
        ids.insert(what, client.create_organization(&organization, None).await.unwrap().id);
    }
    ids
}

/// What a person sees of a record: its values, without write times and empty custom fields.
fn content(record: &Value) -> Value {
    let mut record = record.clone();
    let object = record.as_object_mut().unwrap();
    for key in ["update_time", "add_time", "last_activity_date", "next_activity_date", "open_deals_count"] {
        object.remove(key);
    }
    if let Some(custom) = object.get_mut("custom_fields").and_then(Value::as_object_mut) {
        custom.retain(|_, value| !value.is_null());
    }
    record
}

pub(crate) fn live(state: &Value, collection: &str) -> BTreeMap<u64, Value> {
    state[collection]
        .as_object()
        .unwrap()
        .values()
        .filter(|record| record["is_deleted"] != true)
        .map(|record| (record["id"].as_u64().unwrap(), content(record)))
        .collect()
}

/// Sets every decision of the project's existing.toml (if plan wrote one) to `create`: the
/// records the account has stay apart from the migration's.
pub(crate) fn create_anyway(project: &Path) {
    let path = project.join("existing.toml");
    let Ok(text) = std::fs::read_to_string(&path) else { return };
    let lines: Vec<String> = text
        .lines()
        .map(|line| match (line.split_once(" = { decision = "), line.split_once(", candidates")) {
            (Some((key, _)), Some((_, rest))) => format!("{key} = {{ decision = \"create\", candidates{rest}"),
            _ => line.to_owned(),
        })
        .collect();
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
}

pub(crate) fn set_decision(project: &Path, source_id: &str, decision: &str) {
    let path = project.join("existing.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let line = text.lines().find(|line| line.starts_with(&format!("\"{source_id}\" = "))).unwrap().to_owned();
    let (_, rest) = line.split_once(", candidates").unwrap();
    let edited = format!("\"{source_id}\" = {{ {decision}, candidates{rest}");
    std::fs::write(&path, text.replace(&line, &edited)).unwrap();
}

#[test]
fn records_the_account_had_are_linked_updated_or_created_verified_and_given_back_by_rollback() {
    let _machine = crate::support::heavy();
    let sandbox = fast(SandboxConfig::default());
    let seeding = client(&sandbox, Plan::Premium);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let ids = runtime.block_on(seed(&seeding));
    let before = sandbox.state();
    let (persons_before, organizations_before) = (live(&before, "persons"), live(&before, "organizations"));
    let (_dir, project) = project(&sandbox, "premium");

    // Plan finds the matches, and stops at the one it cannot decide.
    let planned = in_project(&project, &["plan", "--json"]);
    assert_eq!(planned.status.code(), Some(11), "{}\n{}", text(&planned.stdout), text(&planned.stderr));
    let report: Value = serde_json::from_slice(&planned.stdout).unwrap();
    let matches: Vec<(String, String, Value, String, Value)> = report["existing"]["matches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["object"].as_str().unwrap().to_owned(),
                m["source_id"].as_str().unwrap().to_owned(),
                m["candidates"].clone(),
                m["matched_on"].as_str().unwrap().to_owned(),
                m["decision"].clone(),
            )
        })
        .collect();
    let id = |what: &str| json!([ids[what]]);
    assert_eq!(
        matches,
        [
            ("company".into(), "504".into(), id("organization"), "domain".into(), json!("link")),
            ("contact".into(), "10005".into(), id("linked"), "email".into(), json!("link")),
            ("contact".into(), "10006".into(), id("updated"), "email".into(), json!("link")),
            ("contact".into(), "10011".into(), id("created anyway"), "email".into(), json!("link")),
            (
                "contact".into(),
                "10013".into(),
                json!([ids["ambiguous 1"], ids["ambiguous 2"]]),
                "email".into(),
                Value::Null
            ),
        ]
    );
    assert_eq!(report["existing"]["persons_in_account"], 6);
    let decisions = report["decisions"].as_array().unwrap();
    assert!(decisions.iter().any(|d| {
        d["what"] == "existing"
            && d["found"]
                .as_str()
                .unwrap()
                .contains(&format!("contact 10013 matches {}, {}", ids["ambiguous 1"], ids["ambiguous 2"]))
    }));
    let plan_md = std::fs::read_to_string(project.join("reports/plan.md")).unwrap();
    assert!(plan_md.contains("## Records the account already has"), "{plan_md}");
    assert!(plan_md.contains(&format!("| contact 10005 | {} | email | link |", ids["linked"])), "{plan_md}");

    // A person decides; a re-plan keeps the decisions and is done.
    set_decision(&project, "10006", &format!("decision = \"update\", pipedrive_id = {}", ids["updated"]));
    set_decision(&project, "10011", "decision = \"create\"");
    set_decision(&project, "10013", &format!("decision = \"link\", pipedrive_id = {}", ids["ambiguous 1"]));
    let replanned = in_project(&project, &["plan"]);
    assert!(replanned.status.success(), "{}\n{}", text(&replanned.stdout), text(&replanned.stderr));
    let approved = in_project(&project, &["approve", "--yes", "--by", "test"]);
    assert!(approved.status.success(), "{}", text(&approved.stderr));

    // A decision changed after the approval: apply refuses until it is approved again.
    let decided = std::fs::read_to_string(project.join("existing.toml")).unwrap();
    set_decision(&project, "10005", &format!("decision = \"update\", pipedrive_id = {}", ids["linked"]));
    let refused = in_project(&project, &["apply"]);
    assert!(!refused.status.success());
    assert!(text(&refused.stderr).contains("existing.toml changed"), "{}", text(&refused.stderr));
    std::fs::write(project.join("existing.toml"), &decided).unwrap();

    apply(&project, &[]);
    let after = sandbox.state();
    let persons = live(&after, "persons");
    let source = crate::apply::source_of(&crate::extract::sample_export());
    let contact = |id: &str| source[&ObjectKind::Contact].iter().find(|(r, _)| r.source_id == id).unwrap().0.clone();
    // Linked: its name kept, its empty phone and organization filled; its deals on it.
    let linked = &persons[&ids["linked"]];
    assert_eq!(linked["name"], "M. Lewandowska");
    assert!(linked["phones"].as_array().is_some_and(|phones| !phones.is_empty()), "{linked}");
    assert!(linked["org_id"].is_u64(), "{linked}");
    assert!(
        after["deals"].as_object().unwrap().values().any(|deal| deal["person_id"].as_u64() == Some(ids["linked"])),
        "the deals of contact 10005 are on the person the account had"
    );
    // Updated: its name is the export's.
    let first_last = |id: &str| {
        let record = contact(id);
        format!(
            "{} {}",
            crate::apply::text_of(&record, "first_name").unwrap(),
            crate::apply::text_of(&record, "last_name").unwrap()
        )
    };
    assert_eq!(persons[&ids["updated"]]["name"], json!(first_last("10006")));
    // Create: the person the account had is as it was, and a new one carries the marker.
    assert_eq!(persons[&ids["created anyway"]], persons_before[&ids["created anyway"]]);
    let created = crate::apply::by_marker(&after, "person", "persons");
    assert!(created.contains_key("10011") && !created.contains_key("10005") && !created.contains_key("10013"));
    assert_eq!(persons[&ids["unmatched"]], persons_before[&ids["unmatched"]]);
    assert_eq!(persons[&ids["ambiguous 2"]], persons_before[&ids["ambiguous 2"]]);
    let journal = Journal::read(State::open(&project).unwrap());
    assert_eq!(journal.counts(ObjectKind::Contact).unwrap().linked, 3);
    assert_eq!(journal.counts(ObjectKind::Company).unwrap().linked, 1);
    let status: Value = serde_json::from_slice(&in_project(&project, &["status", "--json"]).stdout).unwrap();
    let contacts = status["objects"].as_array().unwrap().iter().find(|row| row["object"] == "contact").unwrap();
    assert_eq!((contacts["counts"]["linked"].clone(), contacts["left"].clone()), (json!(3), json!(0)), "{contacts}");

    let verified = in_project(&project, &["verify", "--json"]);
    assert!(verified.status.success(), "{}\n{}", text(&verified.stdout), text(&verified.stderr));
    let reported = in_project(&project, &["report"]);
    assert!(reported.status.success(), "{}", text(&reported.stderr));
    let handoff = std::fs::read_to_string(project.join("reports/handoff/summary.md")).unwrap();
    assert!(handoff.contains("4 linked to records the account already had"), "{handoff}");
    // Verify reads the updated person back field by field: a name changed behind its back shows.
    let rename = |name: Value| seeding.update_fields(EntityKind::Person, ids["updated"], json!({ "name": name }));
    runtime.block_on(rename(json!("Someone Else"))).unwrap();
    let tampered = in_project(&project, &["verify", "--json"]);
    assert_eq!(tampered.status.code(), Some(8), "{}", text(&tampered.stderr));
    let report: Value = serde_json::from_slice(&tampered.stdout).unwrap();
    assert_eq!(
        report["mismatches"],
        json!([{"object": "contact", "source_id": "10006", "pipedrive_id": ids["updated"], "field": "name",
                "expected": first_last("10006"), "actual": "Someone Else"}])
    );
    runtime.block_on(rename(json!(first_last("10006")))).unwrap();

    // Planned again: the person apply created for contact 10011 carries the migration's marker,
    // so it is not a record the account had (10011 would match two); the decisions stand.
    let again = in_project(&project, &["plan"]);
    assert!(again.status.success(), "{}\n{}", text(&again.stdout), text(&again.stderr));
    assert_eq!(std::fs::read_to_string(project.join("existing.toml")).unwrap(), decided);
    // Someone changes a field apply filled: rollback leaves that one and says so, gives back the rest.
    let organization = after["persons"][ids["ambiguous 1"].to_string()]["org_id"].clone();
    assert!(organization.is_u64(), "contact 10013's organization filled in");
    let edit = json!({"phones": [{"value": "+48 999 999 999", "primary": true, "label": "work"}]});
    runtime.block_on(seeding.update_fields(EntityKind::Person, ids["ambiguous 1"], edit)).unwrap();
    let rolled = in_project(&project, &["rollback", "--yes"]);
    assert_eq!(
        rolled.status.code(),
        Some(9),
        "residue: the field left\n{}\n{}",
        text(&rolled.stdout),
        text(&rolled.stderr)
    );
    let said = text(&rolled.stdout) + &text(&rolled.stderr);
    assert!(said.contains("gave 3 contact records the account had their prior values back"), "{said}");
    assert!(said.contains("gave 1 company records the account had their prior values back"), "{said}");
    assert!(
        said.contains(&format!("contact 10013 (Pipedrive id {}, a record the account had): phones changed in Pipedrive since apply wrote it", ids["ambiguous 1"])),
        "{said}"
    );
    let back = sandbox.state();
    let mut persons_back = live(&back, "persons");
    let edited = persons_back.remove(&ids["ambiguous 1"]).unwrap();
    assert_eq!(edited["phones"][0]["value"], "+48 999 999 999", "the edit made in Pipedrive is left");
    let mut expected = persons_before.clone();
    let mut was = expected.remove(&ids["ambiguous 1"]).unwrap();
    was["phones"] = edited["phones"].clone();
    assert_eq!(edited, was, "its other fields given back (its organization too)");
    assert_eq!(persons_back, expected, "every person the account had, as it was; none other");
    assert_eq!(live(&back, "organizations"), organizations_before, "every organization the account had; none other");
}

#[test]
fn deals_the_account_has_count_against_the_deals_limit() {
    let _machine = crate::support::heavy();
    let sandbox = fast(SandboxConfig { daily_token_budget: Some(100_000_000), ..SandboxConfig::default() });
    let seeding: Arc<PipedriveClient> = client(&sandbox, Plan::Lite);
    let (_dir, project) = project(&sandbox, "lite");
    let export_deals = crate::apply::source_of(&crate::extract::sample_export())[&ObjectKind::Deal].len() as u64;
    let limit = AccountLimits::of(Plan::Lite, 1).deals.unwrap();
    let existing = limit - export_deals + 1;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for task in 0..8 {
            let client = seeding.clone();
            tasks.spawn(async move {
                for index in (task..existing).step_by(8) {
                    let deal = NewDeal { title: format!("Old deal {index}"), ..NewDeal::default() };
                    client.create_deal(&deal, None).await.unwrap();
                }
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.unwrap();
        }
    });
    let planned = in_project(&project, &["plan", "--json"]);
    assert!(!planned.status.success());
    let report: Value = serde_json::from_slice(&planned.stdout).unwrap();
    assert_eq!(report["limits"]["deals_in_account"], existing);
    let refusal = report["limits"]["refusals"]
        .as_array()
        .unwrap()
        .iter()
        .find(|refusal| refusal["what"].as_str().unwrap().starts_with("deals"))
        .unwrap_or_else(|| panic!("no deals refusal: {}", report["limits"]))
        .clone();
    assert_eq!(
        refusal["what"],
        json!(format!("deals (the export's {export_deals} and the {existing} the account already has)"))
    );
    assert_eq!((refusal["found"].clone(), refusal["limit"].clone()), (json!(limit + 1), json!(limit)));
    assert!(refusal["how"].as_str().unwrap().contains("1 fewer are needed"), "{refusal}");
}
