//! Pipedrive's account limits, checked by plan before anything is written (and enforced by the
//! sandbox as Pipedrive answers them), and the complexity grade with its reasons.

use std::path::{Path, PathBuf};

use crm_migrate::pipedrive::{ClientError, EntityKind, FieldType, NewField, Plan};
use crm_migrate::plan::grade::THRESHOLDS;
use crm_migrate_sandbox::{AccountLimits, SandboxConfig};
use serde_json::Value;

use crate::extract::planted;
use crate::pipedrive_support::client;
use crate::plan::{in_project, migrate_duplicates_as_they_are, prepared_sandbox_with, project, run, text};

fn plan_json(project: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(project.join("reports/plan.json")).unwrap()).unwrap()
}

/// A project on `export`, pointed at the sandbox, on `plan`.
fn project_on(sandbox: &crm_migrate_sandbox::SandboxHandle, export: &Path, plan: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("acme");
    let output = run(&[
        "init",
        project.to_str().unwrap(),
        "--export",
        export.to_str().unwrap(),
        "--pipedrive",
        &sandbox.url(),
        "--plan",
        plan,
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    migrate_duplicates_as_they_are(&project);
    (dir, project)
}

#[test]
fn plan_refuses_a_mapping_with_more_custom_fields_than_the_plan_allows_and_apply_would_have_failed() {
    // An account on Lite (30 custom fields per company) that already has 3 (the prepared
    // account's) and 12 more a person made before the migration.
    let lite = AccountLimits::of(Plan::Lite, 1);
    let sandbox = prepared_sandbox_with(SandboxConfig {
        plan: Plan::Lite,
        account_limits: Some(lite),
        ..SandboxConfig::default()
    });
    let pipedrive = client(&sandbox, Plan::Lite);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        for index in 0..12 {
            let field =
                NewField { field_name: format!("Old field {index}"), field_type: FieldType::Varchar, options: vec![] };
            pipedrive.create_field(EntityKind::Deal, &field).await.unwrap();
        }
    });
    let custom_fields = |state: &Value| {
        state["fields"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|field| field["is_custom"] == true && field["is_deleted"] != true)
            .count() as u64
    };
    let existing = custom_fields(&sandbox.state());
    assert_eq!(existing, 15);

    let (_dir, project) = project(&sandbox, "lite");
    let writes_before = sandbox.stats().writes_applied;
    let planned = in_project(&project, &["plan"]);
    let stdout = text(&planned.stdout);
    assert_eq!(
        planned.status.code(),
        Some(5),
        "a limit gone over is a problem of the mapping:\n{stdout}\n{}",
        text(&planned.stderr)
    );
    let json = plan_json(&project);
    let new_fields = json["workspace_changes"]["new_fields"].as_array().unwrap().len() as u64;
    assert!(existing + new_fields > 30, "the sample needs {new_fields} new fields");
    let limits = &json["limits"];
    assert_eq!(
        (
            limits["custom_fields_existing"].as_u64(),
            limits["custom_fields_after"].as_u64(),
            limits["custom_fields_limit"].as_u64()
        ),
        (Some(existing), Some(existing + new_fields), Some(30))
    );
    let refusal = &limits["refusals"][0];
    assert_eq!((refusal["found"].as_u64(), refusal["limit"].as_u64()), (Some(existing + new_fields), Some(30)));
    let fewer = existing + new_fields - 30;
    let how = refusal["how"].as_str().unwrap();
    assert!(how.contains(&format!("map {fewer} fewer attributes")) && how.contains("growth allows 100"), "{how}");
    assert!(
        stdout.contains(&"Pipedrive account limit: custom fields per company".to_string())
            && stdout.contains(&format!("{} where the account allows 30", existing + new_fields)),
        "{stdout}"
    );
    let markdown = std::fs::read_to_string(project.join("reports/plan.md")).unwrap();
    assert!(markdown.contains("**Refused: the account cannot hold this mapping.**"), "{markdown}");
    assert_eq!(sandbox.stats().writes_applied, writes_before, "plan writes nothing to Pipedrive");

    // Approve refuses it, and apply with it: nothing approved.
    let approved = in_project(&project, &["approve", "--yes", "--by", "test"]);
    assert_eq!(approved.status.code(), Some(5), "{}", text(&approved.stderr));
    assert!(text(&approved.stderr).contains("Pipedrive account limit"), "{}", text(&approved.stderr));

    // What apply's workspace phase would have done: create the plan's new fields. The account
    // takes them until its 30th custom field, then answers Pipedrive's 403.
    let created = runtime.block_on(async {
        let mut created = 0;
        for field in json["workspace_changes"]["new_fields"].as_array().unwrap() {
            let entity = match field["entity"].as_str().unwrap() {
                "person" => EntityKind::Person,
                "organization" => EntityKind::Organization,
                _ => EntityKind::Deal,
            };
            let new = NewField {
                field_name: field["name"].as_str().unwrap().to_owned(),
                field_type: FieldType::Varchar,
                options: vec![],
            };
            match pipedrive.create_field(entity, &new).await {
                Ok(_) => created += 1,
                Err(ClientError::Rejected { status, message, .. }) => {
                    assert_eq!(status, 403, "{message}");
                    assert!(message.contains("custom fields limit"), "{message}");
                    return created;
                }
                Err(other) => panic!("{other}"),
            }
        }
        panic!("the account took every field");
    });
    assert_eq!(existing + created, 30);
}

#[test]
fn the_sandbox_refuses_deals_past_the_deals_limit_and_notes_past_the_size_limit() {
    let limits = AccountLimits { deals: Some(2), note_bytes: 1_000, ..AccountLimits::of(Plan::Growth, 1) };
    let sandbox =
        crate::pipedrive_support::sandbox(SandboxConfig { account_limits: Some(limits), ..SandboxConfig::default() });
    let url = sandbox.url();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let http = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        let request =
            http.post(format!("{url}{path}")).header("x-api-token", crate::pipedrive_support::TOKEN).json(&body);
        runtime.block_on(async {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap())
        })
    };
    assert_eq!(post("/api/v2/deals", serde_json::json!({"title": "one"})).0, 200);
    assert_eq!(post("/api/v2/deals", serde_json::json!({"title": "two"})).0, 200);
    let (status, body) = post("/api/v2/deals", serde_json::json!({"title": "three"}));
    assert_eq!(status, 403);
    assert_eq!(
        (body["success"].as_bool(), body["code"].as_str()),
        (Some(false), Some("feature_capping_deals_limit")),
        "{body}"
    );
    let person = post("/api/v2/persons", serde_json::json!({"name": "Anna"})).1["data"]["id"].as_u64().unwrap();
    let (status, body) = post("/v1/notes", serde_json::json!({"content": "x".repeat(1_001), "person_id": person}));
    assert_eq!(status, 400, "{body}");
    assert_eq!(post("/v1/notes", serde_json::json!({"content": "x".repeat(1_000), "person_id": person})).0, 200);
}

/// The grade a factor's value reaches by the thresholds' table.
fn expected_grade(factor: &str, value: f64) -> &'static str {
    let threshold = THRESHOLDS.iter().find(|threshold| threshold.factor == factor).unwrap();
    if value >= threshold.complex_from {
        "complex"
    } else if value >= threshold.standard_from {
        "standard"
    } else {
        "simple"
    }
}

fn reason<'a>(json: &'a Value, factor: &str) -> &'a Value {
    json["grade"]["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .find(|reason| reason["factor"] == factor)
        .unwrap_or_else(|| panic!("no reason {factor}"))
}

#[test]
fn the_sample_grades_standard_for_the_reasons_its_planted_figures_give() {
    let sandbox = prepared_sandbox_with(SandboxConfig::default());
    let (_dir, project) = project(&sandbox, "growth");
    let planned = in_project(&project, &["plan"]);
    assert!(planned.status.success(), "{}", text(&planned.stderr));
    let json = plan_json(&project);
    let planted = planted();
    let count = |name: &str| planted.counts[name];
    let records = ["contacts", "companies", "deals", "activities", "events", "conversation_messages"]
        .iter()
        .map(|name| count(name))
        .sum::<u64>();
    let entries = &json["entries"];
    let figures = [
        ("records", records as f64),
        (
            "attributes into custom fields",
            (entries["new"].as_u64().unwrap() + entries["existing"].as_u64().unwrap()) as f64,
        ),
        ("duplicate groups", (planted.duplicate_email_groups + planted.duplicate_phone_groups) as f64),
        ("orphaned references", planted.orphans.values().sum::<u64>() as f64),
        ("automations and segments to rebuild", (count("automations") + count("segments")) as f64),
        ("conversations", planted.conversations as f64),
        ("days of token budget", json["bill"]["budget_days"].as_f64().unwrap()),
    ];
    for (factor, value) in figures {
        let reason = reason(&json, factor);
        assert_eq!(reason["value"].as_f64(), Some(value), "{factor}");
        assert_eq!(reason["grade"].as_str(), Some(expected_grade(factor, value)), "{factor}");
    }
    assert_eq!(json["grade"]["grade"], "standard");
    assert_eq!(json["grade"]["load_days"], 1);
    let stdout = text(&planned.stdout);
    assert!(
        stdout.contains(&format!(
            "grade: standard (records {}: standard",
            crm_migrate::audit::report::thousands(records)
        )),
        "{stdout}"
    );
    let markdown = std::fs::read_to_string(project.join("reports/plan.md")).unwrap();
    assert!(
        markdown.contains("## Complexity: standard")
            && markdown.contains("| automations and segments to rebuild | 11 | 5 | 30 | standard |"),
        "{markdown}"
    );

    // `report` carries it into the handoff's summary.
    let reported = in_project(&project, &["report"]);
    assert!(reported.status.success(), "{}", text(&reported.stderr));
    let summary = std::fs::read_to_string(project.join("reports/handoff/summary.md")).unwrap();
    assert!(summary.contains("## Complexity") && summary.contains("Graded standard by plan"), "{summary}");
    assert!(
        summary.contains(&format!(
            "| records | {} | 1,000 | 50,000 | standard |",
            crm_migrate::audit::report::thousands(records)
        )),
        "{summary}"
    );
}

#[test]
fn a_generated_export_of_3000_contacts_with_many_automations_grades_complex() {
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("export");
    let planted = usercom_export_gen::generate(
        &export,
        &usercom_export_gen::Options { seed: 99, contacts: 3000, ..usercom_export_gen::Options::default() },
    )
    .unwrap();
    // 40 more automations: each a workflow to rebuild by hand.
    let automations = export.join("automations.csv");
    let mut csv = std::fs::read_to_string(&automations).unwrap();
    for index in 0..40 {
        csv.push_str(&format!("{},Follow-up {index},event: visit,,send_email(template: Hello),t\n", 9000 + index));
    }
    std::fs::write(&automations, csv).unwrap();
    let rebuild = planted.counts["automations"] + 40 + planted.counts["segments"];

    let sandbox = prepared_sandbox_with(SandboxConfig::default());
    let (_project_dir, project) = project_on(&sandbox, &export, "growth");
    let planned = in_project(&project, &["plan"]);
    assert!(planned.status.success(), "{}", text(&planned.stderr));
    let json = plan_json(&project);
    let rebuilt = reason(&json, "automations and segments to rebuild");
    assert_eq!(rebuilt["value"].as_f64(), Some(rebuild as f64));
    assert_eq!(rebuilt["grade"], "complex");
    assert_eq!(json["grade"]["grade"], "complex");
    let records = reason(&json, "records")["value"].as_f64().unwrap();
    assert!(records > 3000.0);
}

#[test]
fn a_conversation_longer_than_a_note_holds_is_split_into_ordered_parts_and_verified() {
    let _machine = crate::support::heavy();
    let dir = tempfile::tempdir().unwrap();
    let export = crate::extract::sample_export_copy(&dir.path().join("export"));
    // Conversation 99999 of contact 10010: 30 messages of 3,200 characters, 5,200 bytes of note HTML each (`&` is `&amp;`, `ł` two bytes): about 160 KB.
    let conversations = export.join("conversations.csv");
    let mut csv = std::fs::read_to_string(&conversations).unwrap();
    for index in 0..30 {
        csv.push_str(&format!(
            "{},99999,10010,user,message {index:02} {},2020-01-01T10:{index:02}:00+00:00,chat\n",
            80_000 + index,
            "słowo & ".repeat(400)
        ));
    }
    std::fs::write(&conversations, csv).unwrap();

    let sandbox = crate::apply::fast(SandboxConfig {
        account_limits: Some(AccountLimits::of(Plan::Premium, 1)),
        ..SandboxConfig::default()
    });
    let (_project_dir, project) = project_on(&sandbox, &export, "premium");
    let planned = in_project(&project, &["plan"]);
    assert!(
        planned.status.success(),
        "a long conversation is no refusal:\n{}\n{}",
        text(&planned.stdout),
        text(&planned.stderr)
    );
    let splits = &plan_json(&project)["limits"]["splits"];
    assert_eq!(
        (splits[0]["conversation"].as_str(), splits[0]["parts"].as_u64(), splits.as_array().unwrap().len()),
        (Some("99999"), Some(2), 1),
        "{splits}"
    );
    assert!(text(&planned.stdout).contains("1 conversation(s) too long for one note"), "{}", text(&planned.stdout));
    assert!(in_project(&project, &["approve", "--yes", "--by", "test"]).status.success());
    crate::apply::apply(&project, &[]);

    let state = sandbox.state();
    let mut parts: Vec<&Value> = state["notes"]
        .as_object()
        .unwrap()
        .values()
        .filter(|note| note["content"].as_str().unwrap().contains("conversation 99999"))
        .collect();
    parts.sort_by_key(|note| note["content"].as_str().unwrap().contains("part 2 of 2"));
    assert_eq!(parts.len(), 2, "two notes");
    let contents: Vec<&str> = parts.iter().map(|note| note["content"].as_str().unwrap()).collect();
    assert!(
        contents[0].contains(", part 1 of 2</p>") && contents[0].ends_with("conversation 99999]</p>"),
        "{}",
        &contents[0][..200]
    );
    assert!(contents[1].contains(", part 2 of 2</p>") && contents[1].ends_with("conversation 99999/part-2]</p>"));
    assert!(contents.iter().all(|content| content.len() <= 100_000));
    assert!(parts[0]["add_time"].as_str() < parts[1]["add_time"].as_str(), "dated in order");
    assert_eq!(parts[0]["person_id"], parts[1]["person_id"]);
    // Every message once, in time order across the parts.
    let joined = contents.concat();
    let order: Vec<usize> = (0..30)
        .map(|index| {
            joined.find(&format!("message {index:02} ")).unwrap_or_else(|| panic!("message {index} is in a part"))
        })
        .collect();
    assert!(order.windows(2).all(|pair| pair[0] < pair[1]), "in order");
    assert_eq!(joined.matches("message ").count(), 30);

    let verified = in_project(&project, &["verify", "--json"]);
    assert!(verified.status.success(), "{}\n{}", text(&verified.stdout), text(&verified.stderr));
    let report: Value = serde_json::from_slice(&verified.stdout).unwrap();
    assert_eq!(
        (report["mismatches"].clone(), report["missing"].clone(), report["unexpected"].clone()),
        (serde_json::json!([]), serde_json::json!([]), serde_json::json!([]))
    );
    assert_eq!(report["objects"]["conversation"]["verified"], 62, "the sample's 60 notes, and this conversation's two");
}

#[test]
fn plan_refuses_an_activity_whose_note_is_over_the_size_limit() {
    let dir = tempfile::tempdir().unwrap();
    let export = crate::extract::sample_export_copy(&dir.path().join("export"));
    // Activity 30000's description (its note) made 120,000 characters long.
    let activities = export.join("activities.csv");
    let text_of_file = std::fs::read_to_string(&activities).unwrap();
    let mut lines: Vec<String> = text_of_file.lines().map(str::to_owned).collect();
    let mut cells: Vec<String> = lines[1].split('\t').map(str::to_owned).collect();
    assert_eq!((cells[0].as_str(), lines[0].split('\t').nth(6)), ("30000", Some("description")));
    cells[6] = "x".repeat(120_000);
    lines[1] = cells.join("\t");
    std::fs::write(&activities, lines.join("\n") + "\n").unwrap();

    let sandbox = prepared_sandbox_with(SandboxConfig::default());
    let (_project_dir, project) = project_on(&sandbox, &export, "premium");
    let planned = in_project(&project, &["plan"]);
    assert_eq!(planned.status.code(), Some(5), "{}\n{}", text(&planned.stdout), text(&planned.stderr));
    let refusals = plan_json(&project)["limits"]["refusals"].clone();
    let refusal = refusals
        .as_array()
        .unwrap()
        .iter()
        .find(|refusal| refusal["what"].as_str().unwrap().starts_with("bytes in the note of activity 30000"))
        .unwrap_or_else(|| panic!("{refusals}"));
    assert!(refusal["found"].as_u64().unwrap() >= 120_000);
    assert_eq!(refusal["limit"], 100_000);
    assert!(
        text(&planned.stdout).contains("Pipedrive account limit: bytes in the note of activity 30000"),
        "{}",
        text(&planned.stdout)
    );
}
