//! A delta into an account that already had data: records existing.toml linked to the account's
//! own persons and organizations follow their source's changes as created records do, within
//! their decision (link fills only what was empty or what the migration filled; update
//! overwrites), journalled with prior values; `rollback --run N` gives them back, leaving (and
//! naming, exit 9) a field someone changed in Pipedrive since; a full rollback then leaves every
//! record the account had as it was. Expectations come from the edits this file makes to a copy
//! of the export, never from what apply sends.

use std::path::Path;

use crm_migrate::pipedrive::{EntityKind, Plan};
use crm_migrate_sandbox::SandboxConfig;
use serde_json::{Value, json};

use crate::apply::{apply, by_marker, fast};
use crate::existing_data::{live, seed, set_decision};
use crate::pipedrive_support::client;
use crate::plan::{in_project, project, text};

/// Replaces `from` by `to` on the line of `id` in an export file (bytes, whatever its encoding).
fn edit_row(file: &Path, id: &str, from: &str, to: &str) {
    let bytes = std::fs::read(file).unwrap();
    let mut lines: Vec<Vec<u8>> = bytes.split(|byte| *byte == b'\n').map(<[u8]>::to_vec).collect();
    let row = lines
        .iter_mut()
        .find(|line| line.starts_with(format!("{id},").as_bytes()) || line.starts_with(format!("{id};").as_bytes()))
        .unwrap_or_else(|| panic!("no row {id} in {}", file.display()));
    let text = String::from_utf8_lossy(row).into_owned();
    let at = row.windows(from.len()).position(|window| window == from.as_bytes()).unwrap_or_else(|| {
        panic!("row {id} has no {from}: {text}");
    });
    row.splice(at..at + from.len(), to.bytes());
    std::fs::write(file, lines.join(&b'\n')).unwrap();
}

/// The digits of a person's first phone.
fn phone_digits(person: &Value) -> String {
    person["phones"][0]["value"].as_str().unwrap_or_default().chars().filter(char::is_ascii_digit).collect()
}

pub(crate) fn delta_run(output: &std::process::Output) -> i64 {
    text(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|event| event["event"] == "done")
        .unwrap_or_else(|| panic!("no done event:\n{}\n{}", text(&output.stdout), text(&output.stderr)))["outcome"]
        ["run_id"]
        .as_i64()
        .unwrap()
}

#[test]
fn a_delta_updates_linked_records_within_their_decision_and_rollback_run_gives_their_values_back() {
    let _machine = crate::support::heavy();
    let sandbox = fast(SandboxConfig::default());
    let seeding = client(&sandbox, Plan::Premium);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let ids = runtime.block_on(seed(&seeding));
    let before = sandbox.state();
    let (persons_before, organizations_before) = (live(&before, "persons"), live(&before, "organizations"));
    let (dir, project) = project(&sandbox, "premium");
    let planned = in_project(&project, &["plan"]);
    assert_eq!(planned.status.code(), Some(11), "{}", text(&planned.stderr));
    set_decision(&project, "10006", &format!("decision = \"update\", pipedrive_id = {}", ids["updated"]));
    set_decision(&project, "10011", "decision = \"create\"");
    set_decision(&project, "10013", &format!("decision = \"link\", pipedrive_id = {}", ids["ambiguous 1"]));
    let replanned = in_project(&project, &["plan"]);
    assert!(replanned.status.success(), "{}\n{}", text(&replanned.stdout), text(&replanned.stderr));
    let approved = in_project(&project, &["approve", "--yes", "--by", "test"]);
    assert!(approved.status.success(), "{}", text(&approved.stderr));
    apply(&project, &[]);
    let applied = sandbox.state();
    let persons_applied = live(&applied, "persons");
    let organizations = by_marker(&applied, "organization", "organizations");
    assert_eq!(persons_applied[&ids["ambiguous 1"]]["org_id"], json!(organizations["517"]), "10013's company filled");
    assert!(phone_digits(&persons_applied[&ids["linked"]]).ends_with("500000005"), "10005's phone filled");

    // A month later in User.com: 10005 (link) has a new phone (a field the migration filled) and a
    // new first name (its name is the account's own: kept); 10006 (update) a new last name;
    // 10013 (link) moved to another company; company 504 (link) a new NIP (filled by apply).
    let newer = crate::extract::sample_export_copy(&dir.path().join("newer"));
    let users = newer.join("users.csv");
    edit_row(&users, "10005", "500000005", "500000555");
    edit_row(&users, "10005", "Małgorzata", "Gosia");
    edit_row(&users, "10006", "Wiśniewski", "Wiśniewski-Nowak");
    edit_row(&users, "10013", ",517,", ",518,");
    edit_row(&newer.join("companies.csv"), "504", "1643346407", "1643346499");

    let output = in_project(&project, &["delta", "--export", newer.to_str().unwrap(), "--json"]);
    assert!(output.status.success(), "{}\n{}", text(&output.stdout), text(&output.stderr));
    let run = delta_run(&output);
    let after = sandbox.state();
    let persons = live(&after, "persons");
    assert!(
        phone_digits(&persons[&ids["linked"]]).ends_with("500000555"),
        "a field the migration filled follows its source: {}",
        persons[&ids["linked"]]
    );
    assert_eq!(persons[&ids["linked"]]["name"], "M. Lewandowska", "a value the account had is kept (link)");
    assert_eq!(persons[&ids["updated"]]["name"], "Jan Wiśniewski-Nowak", "update overwrites");
    assert_eq!(persons[&ids["ambiguous 1"]]["org_id"], json!(organizations["518"]), "10013's organization follows");
    let nip = |state: &Value| {
        let code = state["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|field| field["entity"] == "organization" && field["name"] == "NIP")
            .unwrap()["code"]
            .as_str()
            .unwrap()
            .to_owned();
        state["organizations"][ids["organization"].to_string()]["custom_fields"][code].clone()
    };
    assert_eq!(nip(&applied), json!("1643346407"), "company 504's NIP filled by apply");
    assert_eq!(nip(&after), json!("1643346499"), "and follows its source");
    assert_eq!(persons[&ids["unmatched"]], persons_before[&ids["unmatched"]]);
    let verified = in_project(&project, &["verify", "--export", newer.to_str().unwrap(), "--json"]);
    assert!(verified.status.success(), "verify proves the delta:\n{}", text(&verified.stdout));
    // Nothing changed since: the next delta writes nothing.
    let writes = sandbox.stats().writes_applied;
    let again = in_project(&project, &["delta", "--export", newer.to_str().unwrap(), "--json"]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert_eq!(sandbox.stats().writes_applied, writes, "a delta with nothing new writes nothing");
    let undone = in_project(&project, &["rollback", "--run", &delta_run(&again).to_string(), "--yes"]);
    assert!(undone.status.success(), "{}\n{}", text(&undone.stdout), text(&undone.stderr));
    assert_eq!(sandbox.stats().writes_applied, writes, "undoing it writes nothing either");

    // Someone renames 10006's person in Pipedrive; undoing the delta leaves that name (named,
    // exit 9) and gives every other field the delta wrote its prior value back.
    let rename = |name: &str| seeding.update_fields(EntityKind::Person, ids["updated"], json!({ "name": name }));
    runtime.block_on(rename("Someone Else")).unwrap();
    let undone = in_project(&project, &["rollback", "--run", &run.to_string(), "--yes"]);
    let said = text(&undone.stdout) + &text(&undone.stderr);
    assert_eq!(undone.status.code(), Some(9), "{said}");
    assert!(
        said.contains(&format!(
            "contact 10006 (Pipedrive id {}, a record the account had): name changed in Pipedrive since",
            ids["updated"]
        )),
        "{said}"
    );
    let back = sandbox.state();
    let mut persons_back = live(&back, "persons");
    assert_eq!(persons_back[&ids["updated"]]["name"], "Someone Else", "the edit made in Pipedrive is left");
    for field in ["name", "first_name", "last_name"] {
        persons_back.get_mut(&ids["updated"]).unwrap()[field] = persons_applied[&ids["updated"]][field].clone();
    }
    for (id, person) in &persons_applied {
        assert_eq!(&persons_back[id], person, "person {id} as the migration left it before the delta");
    }
    assert_eq!(persons_back.len(), persons_applied.len());
    assert_eq!(nip(&back), json!("1643346407"), "company 504's NIP given back");

    // A full rollback then gives the account its own records back as they were.
    runtime.block_on(rename(persons_applied[&ids["updated"]]["name"].as_str().unwrap())).unwrap();
    let rolled = in_project(&project, &["rollback", "--yes"]);
    assert!(rolled.status.success(), "{}\n{}", text(&rolled.stdout), text(&rolled.stderr));
    let end = sandbox.state();
    assert_eq!(live(&end, "persons"), persons_before, "every person the account had, as it was; none other");
    assert_eq!(live(&end, "organizations"), organizations_before, "every organization the account had");
}
