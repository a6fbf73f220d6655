//! Every request of a scenario that touches every endpoint, and every sandbox response, checked
//! against Pipedrive's OpenAPI specs (skipped with a message when the specs are missing, failed
//! under CI=true).

use crate::support::{Sandbox, TOKEN, fast_config, temp_path};
use crm_migrate_sandbox::SandboxConfig;
use openapi_check::Specs;
use serde_json::{Value, json};

async fn scenario(sandbox: &Sandbox) {
    let enum_field = sandbox
        .ok(
            "POST",
            "/api/v2/personFields",
            Some(json!({"field_name": "Tier", "field_type": "enum", "options": [{"label": "Gold"}]})),
        )
        .await;
    let code = enum_field["field_code"].as_str().unwrap().to_owned();
    let gold = enum_field["options"][0]["id"].clone();
    let money =
        sandbox.ok("POST", "/api/v2/dealFields", Some(json!({"field_name": "Budget", "field_type": "monetary"}))).await;
    sandbox
        .ok("POST", "/api/v2/organizationFields", Some(json!({"field_name": "Segment", "field_type": "varchar"})))
        .await;
    sandbox.ok("POST", &format!("/api/v2/personFields/{code}/options"), Some(json!([{"label": "Silver"}]))).await;
    sandbox
        .ok("PATCH", &format!("/api/v2/personFields/{code}/options"), Some(json!([{"id": gold, "label": "Golden"}])))
        .await;
    sandbox.ok("PATCH", &format!("/api/v2/personFields/{code}"), Some(json!({"field_name": "Customer tier"}))).await;
    sandbox.ok("GET", &format!("/api/v2/personFields/{code}"), None).await;
    sandbox.ok("GET", "/api/v2/personFields?limit=500", None).await;
    sandbox.ok("GET", "/api/v2/dealFields", None).await;
    sandbox.ok("GET", "/api/v2/organizationFields", None).await;
    sandbox.ok("GET", "/api/v2/activityFields", None).await;
    sandbox.ok("GET", "/api/v2/activityFields/subject", None).await;

    let org = sandbox
        .ok(
            "POST",
            "/api/v2/organizations",
            Some(json!({"name": "Acme", "address": {"value": "1 Main St"}, "add_time": "2020-01-01T00:00:00Z"})),
        )
        .await;
    let person = sandbox
        .ok(
            "POST",
            "/api/v2/persons",
            Some(json!({"name": "Jane Doe", "org_id": org["id"], "emails": [{"value": "jane@acme.com", "primary": true, "label": "work"}],
                        "label_ids": [1], "custom_fields": {&code: gold}})),
        )
        .await;
    sandbox
        .ok("PATCH", &format!("/api/v2/persons/{}", person["id"]), Some(json!({"phones": [{"value": "+1 555"}]})))
        .await;
    sandbox.ok("GET", &format!("/api/v2/persons/{}", person["id"]), None).await;
    sandbox.ok("GET", "/api/v2/persons?limit=1", None).await;
    sandbox
        .ok("PATCH", &format!("/api/v2/organizations/{}", org["id"]), Some(json!({"website": "https://acme.example"})))
        .await;
    sandbox.ok("GET", &format!("/api/v2/organizations/{}", org["id"]), None).await;
    sandbox.ok("GET", "/api/v2/organizations", None).await;

    let pipeline = sandbox.ok("POST", "/api/v2/pipelines", Some(json!({"name": "Sales"}))).await;
    let stage = sandbox
        .ok(
            "POST",
            "/api/v2/stages",
            Some(json!({"name": "New", "pipeline_id": pipeline["id"], "deal_probability": 50})),
        )
        .await;
    sandbox.ok("PATCH", &format!("/api/v2/pipelines/{}", pipeline["id"]), Some(json!({"name": "Sales EU"}))).await;
    sandbox.ok("PATCH", &format!("/api/v2/stages/{}", stage["id"]), Some(json!({"name": "Fresh"}))).await;
    sandbox.ok("GET", &format!("/api/v2/pipelines/{}", pipeline["id"]), None).await;
    sandbox.ok("GET", &format!("/api/v2/stages/{}", stage["id"]), None).await;
    sandbox.ok("GET", "/api/v2/pipelines", None).await;
    sandbox.ok("GET", &format!("/api/v2/stages?pipeline_id={}", pipeline["id"]), None).await;

    let money_code = money["field_code"].as_str().unwrap();
    let deal = sandbox
        .ok(
            "POST",
            "/api/v2/deals",
            Some(json!({"title": "Deal", "person_id": person["id"], "org_id": org["id"], "stage_id": stage["id"], "value": 10,
                        "custom_fields": {money_code: {"value": 5, "currency": "EUR"}}})),
        )
        .await;
    sandbox
        .ok("PATCH", &format!("/api/v2/deals/{}", deal["id"]), Some(json!({"status": "lost", "lost_reason": "price"})))
        .await;
    sandbox.ok("GET", &format!("/api/v2/deals/{}", deal["id"]), None).await;
    sandbox.ok("GET", "/api/v2/deals?status=lost", None).await;

    let activity = sandbox
        .ok("POST", "/api/v2/activities", Some(json!({"subject": "Call", "type": "call", "due_date": "2024-01-02", "participants": [{"person_id": person["id"], "primary": true}]})))
        .await;
    sandbox.ok("PATCH", &format!("/api/v2/activities/{}", activity["id"]), Some(json!({"done": true}))).await;
    sandbox.ok("GET", &format!("/api/v2/activities/{}", activity["id"]), None).await;
    sandbox.ok("GET", "/api/v2/activities", None).await;

    sandbox.ok("GET", "/api/v2/persons/search?term=jane%40acme.com&fields=email&exact_match=true", None).await;
    sandbox.ok("GET", "/api/v2/itemSearch/field?term=Jane%20Doe&entity_type=person&field=name&match=exact", None).await;

    let note = sandbox
        .ok(
            "POST",
            "/v1/notes",
            Some(json!({"content": "Hi", "person_id": person["id"], "add_time": "2019-01-01 10:00:00"})),
        )
        .await;
    sandbox.ok("PUT", &format!("/v1/notes/{}", note["id"]), Some(json!({"content": "Hello"}))).await;
    sandbox.ok("GET", &format!("/v1/notes/{}", note["id"]), None).await;
    sandbox.ok("GET", "/v1/notes?limit=10", None).await;
    sandbox.ok("GET", "/v1/users", None).await;
    sandbox.ok("GET", "/v1/users/me", None).await;
    let kind = sandbox.ok("POST", "/v1/activityTypes", Some(json!({"name": "Video call", "icon_key": "camera"}))).await;
    sandbox.ok("PUT", &format!("/v1/activityTypes/{}", kind["id"]), Some(json!({"color": "FFFFFF"}))).await;
    sandbox.ok("GET", "/v1/activityTypes", None).await;
    let form = reqwest::multipart::Form::new()
        .text("person_id", person["id"].to_string())
        .part("file", reqwest::multipart::Part::bytes(b"hello".to_vec()).file_name("hello.txt"));
    let file: Value = sandbox
        .client
        .post(sandbox.url("/v1/files"))
        .header("x-api-token", TOKEN)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    sandbox.ok("GET", &format!("/v1/files/{}", file["data"]["id"]), None).await;
    sandbox.ok("GET", "/v1/files", None).await;
    let v1_field = sandbox
        .ok(
            "POST",
            "/v1/dealFields",
            Some(json!({"name": "Region", "field_type": "enum", "options": [{"label": "EU"}]})),
        )
        .await;
    sandbox.ok("PUT", &format!("/v1/dealFields/{}", v1_field["id"]), Some(json!({"options": [{"label": "US"}]}))).await;
    sandbox.ok("GET", &format!("/v1/dealFields/{}", v1_field["id"]), None).await;
    sandbox.ok("GET", "/v1/dealFields", None).await;
    sandbox.ok("GET", "/v1/personFields", None).await;
    sandbox.ok("GET", "/v1/activityFields", None).await;

    sandbox.ok("DELETE", &format!("/v1/dealFields/{}", v1_field["id"]), None).await;
    sandbox.ok("DELETE", &format!("/v1/files/{}", file["data"]["id"]), None).await;
    sandbox.ok("DELETE", &format!("/v1/activityTypes/{}", kind["id"]), None).await;
    sandbox.ok("DELETE", &format!("/v1/notes/{}", note["id"]), None).await;
    sandbox.ok("DELETE", &format!("/api/v2/activities/{}", activity["id"]), None).await;
    sandbox.ok("DELETE", &format!("/api/v2/deals/{}", deal["id"]), None).await;
    sandbox.ok("DELETE", &format!("/api/v2/stages/{}", stage["id"]), None).await;
    sandbox.ok("DELETE", &format!("/api/v2/pipelines/{}", pipeline["id"]), None).await;
    sandbox.ok("DELETE", &format!("/api/v2/personFields/{code}/options"), Some(json!([{"id": gold}]))).await;
    sandbox.ok("DELETE", &format!("/api/v2/personFields/{code}"), None).await;
    sandbox.ok("DELETE", &format!("/api/v2/persons/{}", person["id"]), None).await;
    sandbox.ok("DELETE", &format!("/api/v2/organizations/{}", org["id"]), None).await;
}

#[tokio::test]
async fn every_request_and_response_of_a_full_scenario_matches_the_specs() {
    let Some(specs) = Specs::for_tests() else { return };
    let record = temp_path("conformance.jsonl");
    let sandbox = Sandbox::start(SandboxConfig { record_path: Some(record.clone()), ..fast_config() });
    scenario(&sandbox).await;
    drop(sandbox);
    let report = crm_migrate_sandbox::conformance::check_record_file(specs, &record).unwrap();
    let _ = std::fs::remove_file(&record);
    assert!(report.requests_checked > 60, "checked {}", report.requests_checked);
    assert!(report.problems.is_empty(), "{} problems:\n{}", report.problems.len(), report.problems.join("\n"));
}
