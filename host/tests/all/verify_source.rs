//! Verify against the source, not against apply: every value of the export is found where the
//! mapping (or its role) sends it in Pipedrive, or listed as left out with its reason. A wrong
//! mapping that apply follows faithfully, and a value changed in Pipedrive after the migration,
//! show as values missing; a skipped attribute as left out, with the mapping's reason.

use std::path::Path;

use crm_migrate_sandbox::SandboxConfig;
use serde_json::{Value, json};

use crate::apply::{apply, approved_project, by_marker, fast};
use crate::extract::planted;
use crate::pipedrive_support::TOKEN;
use crate::plan::{in_project, project, text};

/// `verify --json`: its exit code and report.
fn verify(project: &Path) -> (Option<i32>, Value) {
    let output = in_project(project, &["verify", "--json"]);
    let report = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("verify --json: {error}\n{}\n{}", text(&output.stdout), text(&output.stderr)));
    (output.status.code(), report)
}

/// The coverage row of one object's attribute.
fn row<'a>(report: &'a Value, object: &str, attribute: &str) -> &'a Value {
    report["coverage"]["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["object"] == object && row["attribute"] == attribute)
        .unwrap_or_else(|| panic!("no coverage row for {object}.{attribute}"))
}

fn missing(report: &Value) -> Vec<String> {
    report["coverage"]["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|row| row["missing"] != 0)
        .map(|row| format!("{}.{}: {} ({})", row["object"], row["attribute"], row["missing"], row["missing_examples"]))
        .collect()
}

/// Sends one request to the sandbox, as a person editing Pipedrive by hand would.
pub(crate) fn send(sandbox: &crm_migrate_sandbox::SandboxHandle, method: reqwest::Method, path: &str, body: Value) {
    let http = crate::pipedrive_support::http_client();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let answer = http
            .request(method, format!("{}{path}", sandbox.url()))
            .header("x-api-token", TOKEN)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success(), "{path}: {}", answer.text().await.unwrap());
    });
}

/// Replaces the `to = ...` line (and what follows it up to `confidence`) of one entry of mapping.toml.
fn remap(project: &Path, entry: &str, landing: &str) {
    let path = project.join("mapping.toml");
    let mapping = std::fs::read_to_string(&path).unwrap();
    let start = mapping.find(&format!("[{entry}]\n")).unwrap_or_else(|| panic!("[{entry}] in mapping.toml"));
    let to = start + mapping[start..].find("\nto = ").unwrap() + 1;
    let end = to + mapping[to..].find("\nconfidence").unwrap();
    std::fs::write(&path, format!("{}{landing}{}", &mapping[..to], &mapping[end..])).unwrap();
}

#[test]
fn a_clean_apply_accounts_for_every_source_value_and_a_value_changed_doubled_or_blanked_afterwards_is_missing() {
    let _machine = crate::support::heavy();
    let sandbox = fast(SandboxConfig::default());
    let (_dir, project) = approved_project(&sandbox);
    apply(&project, &[]);

    let (code, report) = verify(&project);
    assert_eq!(missing(&report), Vec::<String>::new(), "a clean apply leaves no source value missing");
    assert_eq!(code, Some(0));
    for row in report["coverage"]["attributes"].as_array().unwrap() {
        let sum: u64 =
            ["in_field", "in_note", "left_out", "missing"].iter().map(|key| row[key].as_u64().unwrap()).sum();
        assert!(sum > 0, "each attribute with values has its values counted: {row}");
        let reasons: u64 =
            row["left_out_reasons"].as_object().unwrap().values().map(|count| count.as_u64().unwrap()).sum();
        assert_eq!(reasons, row["left_out"].as_u64().unwrap(), "every value left out has its reason: {row}");
    }
    // The planted bad values are left out, whether the policy leaves the field empty or
    // quarantines the record.
    for (key, count) in planted().mismatches {
        let (object, attribute) = key.split_once('.').unwrap();
        let attribute = if attribute == "phone" { "phone_number" } else { attribute };
        let row = row(&report, object, attribute);
        let reasons = &row["left_out_reasons"];
        let listed = reasons["did not read as its type"].as_u64().unwrap_or(0)
            + reasons["the record was quarantined"].as_u64().unwrap_or(0);
        assert!(listed >= count, "{key}: {count} planted bad values are left out with a reason: {row}");
    }
    // Secrets are left out, and never shown.
    let key = row(&report, "contact", "key");
    assert_eq!(
        (key["in_field"].clone(), key["missing"].clone(), key["left_out"].clone()),
        (json!(0), json!(0), json!(500))
    );
    let markdown = std::fs::read_to_string(project.join("reports/verification.md")).unwrap();
    assert!(
        markdown.contains("## Source coverage") && markdown.contains("| contact | `email` | person.emails |"),
        "{markdown}"
    );
    let keys = crm_migrate::extract::Export::open(&crate::extract::sample_export(), Default::default()).unwrap();
    let first_key = keys
        .records(crm_migrate::record::ObjectKind::Contact)
        .unwrap()
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .record
        .get("key")
        .map(crm_migrate::profile::plain)
        .unwrap();
    assert!(
        !markdown.contains(&first_key)
            && !text(&in_project(&project, &["verify", "--json"]).stdout).contains(&first_key),
        "a secret's value is never printed"
    );

    // A mapped custom value changed in Pipedrive after the migration, a name joined twice, and
    // the due dates of two events blanked: those values are missing, named by source id and
    // attribute.
    let state = sandbox.state();
    let persons = by_marker(&state, "person", "persons");
    let (changed, changed_id) = persons.iter().next().map(|(marker, id)| (marker.clone(), *id)).unwrap();
    let city = state["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["entity"] == "person" && f["name"] == "City")
        .unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned();
    send(
        &sandbox,
        reqwest::Method::PATCH,
        &format!("/api/v2/persons/{changed_id}"),
        json!({"custom_fields": {&city: "Zmieniono"}}),
    );
    // A name joined twice (the parts appear in it, but it is not the contact's name).
    let (doubled, doubled_id) = persons
        .iter()
        .map(|(marker, id)| (marker.clone(), *id))
        .find(|(_, id)| {
            *id != changed_id
                && state["persons"][id.to_string()]["name"]
                    .as_str()
                    .is_some_and(|name| name.split(' ').count() == 2 && !name.contains('@'))
        })
        .unwrap();
    let name = state["persons"][doubled_id.to_string()]["name"].as_str().unwrap().to_owned();
    send(
        &sandbox,
        reqwest::Method::PATCH,
        &format!("/api/v2/persons/{doubled_id}"),
        json!({"name": format!("{name} {name}")}),
    );
    let events: Vec<(String, u64)> = state["activities"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|activity| {
            let note = activity["note"].as_str()?;
            let at = note.find("[User.com usercom-export: event ")?;
            Some((
                note[at..].trim_start_matches("[User.com usercom-export: event ").split(']').next()?.to_owned(),
                activity["id"].as_u64()?,
            ))
        })
        .take(2)
        .collect();
    assert_eq!(events.len(), 2);
    for (_, id) in &events {
        send(
            &sandbox,
            reqwest::Method::PATCH,
            &format!("/api/v2/activities/{id}"),
            json!({"due_date": null, "due_time": null}),
        );
    }
    let (code, report) = verify(&project);
    assert_eq!(code, Some(8), "values missing: verify finds differences");
    let city_row = row(&report, "contact", "city");
    assert_eq!(city_row["missing"], 1);
    assert_eq!(
        (city_row["missing_examples"][0]["source_id"].clone(), city_row["missing_examples"][0]["attribute"].clone()),
        (json!(changed), json!("city"))
    );
    let timestamps = row(&report, "event", "timestamp");
    assert_eq!(timestamps["missing"], 2, "{timestamps}");
    let mut named: Vec<String> = timestamps["missing_examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|example| example["source_id"].as_str().unwrap().to_owned())
        .collect();
    let mut blanked: Vec<String> = events.into_iter().map(|(id, _)| id).collect();
    named.sort();
    blanked.sort();
    assert_eq!(named, blanked);
    for part in ["first_name", "last_name"] {
        let row = row(&report, "contact", part);
        assert_eq!(
            (row["missing"].clone(), row["missing_examples"][0]["source_id"].clone()),
            (json!(1), json!(doubled)),
            "{row}"
        );
    }
    assert_eq!(
        report["coverage"]["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|row| row["missing"].as_u64().unwrap())
            .sum::<u64>(),
        5,
        "{:?}",
        missing(&report)
    );
    let output = in_project(&project, &["verify"]);
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("event source values:")
            && stdout.contains("2 missing")
            && stdout.contains(&format!("missing value: contact {changed} city")),
        "{stdout}"
    );
}

#[test]
fn events_whose_time_went_to_the_note_do_not_verify_clean_and_a_skipped_attribute_is_left_out_with_its_reason() {
    let _machine = crate::support::heavy();
    let sandbox = fast(SandboxConfig::default());
    let (_dir, project) = project(&sandbox, "premium");
    let planned = in_project(&project, &["plan"]);
    assert!(planned.status.success(), "{}", text(&planned.stderr));
    // The mistake of the issue: the events' time pasted into the note, no due date. Apply
    // follows the mapping faithfully, so comparing Pipedrive with apply finds nothing.
    remap(&project, "event.timestamp", "to = \"note\"");
    remap(&project, "contact.city", "to = \"skip\"\nreason = \"the customer keeps cities in the address book\"");
    let approved = in_project(&project, &["approve", "--yes", "--by", "test"]);
    assert!(approved.status.success(), "{}\n{}", text(&approved.stdout), text(&approved.stderr));
    apply(&project, &[]);
    let state = sandbox.state();
    assert!(
        state["activities"]
            .as_object()
            .unwrap()
            .values()
            .filter(|a| a["note"].as_str().is_some_and(|note| note.contains(": event ")))
            .all(|a| a["due_date"].is_null()),
        "the events have no due date"
    );

    let (code, report) = verify(&project);
    assert_eq!(
        (report["mismatches"].clone(), report["missing"].clone(), report["unexpected"].clone()),
        (json!([]), json!([]), json!([])),
        "the comparison with apply sees nothing wrong"
    );
    assert_eq!(code, Some(8), "the source coverage does: {:?}", missing(&report));
    let timestamps = row(&report, "event", "timestamp");
    assert_eq!(
        timestamps["missing"], report["objects"]["event"]["verified"],
        "every migrated event's time is missing from its due date: {timestamps}"
    );
    let why = timestamps["missing_examples"][0]["why"].as_str().unwrap();
    assert!(why.contains("due_date in Pipedrive: empty") && why.contains("the mapping sends it to note"), "{why}");
    let city = row(&report, "contact", "city");
    assert_eq!((city["in_field"].clone(), city["missing"].clone()), (json!(0), json!(0)));
    assert_eq!(
        city["left_out_reasons"]["skipped by the mapping: the customer keeps cities in the address book"], 500,
        "{city}"
    );
    let markdown = std::fs::read_to_string(project.join("reports/verification.md")).unwrap();
    assert!(markdown.contains("skipped by the mapping: the customer keeps cities in the address book"), "{markdown}");
    assert!(
        markdown.contains("source values are missing in Pipedrive")
            && markdown.contains("- event `timestamp`: 100 missing"),
        "{markdown}"
    );
}
