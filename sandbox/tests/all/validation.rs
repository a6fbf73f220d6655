//! API v2's strict typing: each rejected shape on its own, with the error naming the field.

use crate::support::Sandbox;
use serde_json::{Value, json};

async fn rejected(sandbox: &Sandbox, method: &str, path: &str, body: Value, mentions: &str) {
    let answer = sandbox.call(method, path, Some(body.clone())).await;
    assert_eq!(answer.status, 400, "{method} {path} {body}: {}", answer.body);
    assert_eq!(answer.body["success"], false);
    assert_eq!(answer.body["code"], "ERR_BAD_REQUEST");
    let error = answer.body["error"].as_str().unwrap();
    assert!(error.contains(mentions), "error {error:?} should mention {mentions:?}");
    assert_eq!(answer.body.as_object().unwrap().len(), 3, "{}", answer.body);
}

#[tokio::test]
async fn string_where_a_number_is_expected_is_rejected() {
    let sandbox = Sandbox::fast();
    rejected(&sandbox, "POST", "/api/v2/persons", json!({"name": "A", "owner_id": "1"}), "owner_id").await;
    rejected(&sandbox, "POST", "/api/v2/deals", json!({"title": "A", "value": "100"}), "value").await;
}

#[tokio::test]
async fn zero_or_one_for_a_boolean_is_rejected() {
    let sandbox = Sandbox::fast();
    rejected(&sandbox, "POST", "/api/v2/activities", json!({"subject": "A", "done": 1}), "done").await;
}

#[tokio::test]
async fn person_id_on_an_activity_is_rejected() {
    let sandbox = Sandbox::fast();
    let person = sandbox.ok("POST", "/api/v2/persons", Some(json!({"name": "P"}))).await;
    rejected(
        &sandbox,
        "POST",
        "/api/v2/activities",
        json!({"subject": "A", "person_id": person["id"]}),
        "participants",
    )
    .await;
}

#[tokio::test]
async fn lost_and_won_fields_on_an_open_deal_are_rejected() {
    let sandbox = Sandbox::fast();
    rejected(&sandbox, "POST", "/api/v2/deals", json!({"title": "A", "lost_reason": "price"}), "lost_reason").await;
    rejected(
        &sandbox,
        "POST",
        "/api/v2/deals",
        json!({"title": "A", "lost_time": "2024-01-01T00:00:00Z"}),
        "lost_time",
    )
    .await;
    rejected(&sandbox, "POST", "/api/v2/deals", json!({"title": "A", "won_time": "2024-01-01T00:00:00Z"}), "won_time")
        .await;
    rejected(
        &sandbox,
        "POST",
        "/api/v2/deals",
        json!({"title": "A", "close_time": "2024-01-01T00:00:00Z"}),
        "close_time",
    )
    .await;
    rejected(
        &sandbox,
        "POST",
        "/api/v2/deals",
        json!({"title": "A", "status": "won", "lost_reason": "price"}),
        "lost_reason",
    )
    .await;
}

#[tokio::test]
async fn add_time_on_a_deal_is_rejected() {
    let sandbox = Sandbox::fast();
    rejected(&sandbox, "POST", "/api/v2/deals", json!({"title": "A", "add_time": "2020-01-01T00:00:00Z"}), "add_time")
        .await;
}

#[tokio::test]
async fn unknown_properties_are_rejected() {
    let sandbox = Sandbox::fast();
    rejected(&sandbox, "POST", "/api/v2/persons", json!({"name": "A", "email": "a@b.c"}), "email").await;
    rejected(&sandbox, "POST", "/api/v2/organizations", json!({"name": "A", "custom_fields": {"nope": 1}}), "nope")
        .await;
}

#[tokio::test]
async fn references_that_do_not_exist_are_rejected() {
    let sandbox = Sandbox::fast();
    rejected(&sandbox, "POST", "/api/v2/persons", json!({"name": "A", "org_id": 404}), "org_id").await;
    rejected(&sandbox, "POST", "/api/v2/persons", json!({"name": "A", "owner_id": 404}), "owner_id").await;
    rejected(&sandbox, "POST", "/api/v2/persons", json!({"name": "A", "label_ids": [404_404]}), "label_ids").await;
    rejected(&sandbox, "POST", "/api/v2/deals", json!({"title": "A", "person_id": 404}), "person_id").await;
    rejected(&sandbox, "POST", "/api/v2/deals", json!({"title": "A", "stage_id": 404}), "stage_id").await;
    rejected(&sandbox, "POST", "/api/v2/deals", json!({"title": "A", "pipeline_id": 404}), "pipeline_id").await;
    rejected(&sandbox, "POST", "/api/v2/stages", json!({"name": "A", "pipeline_id": 404}), "pipeline_id").await;
}

#[tokio::test]
async fn bad_custom_values_are_rejected() {
    let sandbox = Sandbox::fast();
    let tier = sandbox
        .ok(
            "POST",
            "/api/v2/personFields",
            Some(json!({"field_name": "Tier", "field_type": "enum", "options": [{"label": "Gold"}]})),
        )
        .await;
    let tags = sandbox
        .ok(
            "POST",
            "/api/v2/personFields",
            Some(json!({"field_name": "Tags", "field_type": "set", "options": [{"label": "a"}]})),
        )
        .await;
    let spend = sandbox
        .ok("POST", "/api/v2/personFields", Some(json!({"field_name": "Spend", "field_type": "monetary"})))
        .await;
    let gold = tier["options"][0]["id"].as_i64().unwrap();
    let code = |field: &Value| field["field_code"].as_str().unwrap().to_owned();
    let person = |custom: Value| json!({"name": "A", "custom_fields": custom});
    rejected(&sandbox, "POST", "/api/v2/persons", person(json!({code(&tier): gold.to_string()})), "custom_fields")
        .await;
    rejected(&sandbox, "POST", "/api/v2/persons", person(json!({code(&tier): 987_654})), "987654").await;
    rejected(&sandbox, "POST", "/api/v2/persons", person(json!({code(&tags): []})), "empty array").await;
    rejected(&sandbox, "POST", "/api/v2/persons", person(json!({code(&tags): gold})), "array").await;
    rejected(&sandbox, "POST", "/api/v2/persons", person(json!({code(&spend): 12})), "object").await;
    assert_eq!(sandbox.ok("GET", "/api/v2/persons", None).await, json!([]), "nothing was created");
}
