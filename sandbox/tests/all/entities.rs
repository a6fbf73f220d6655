//! Persons, organizations, deals, activities, pipelines and stages over API v2.

use crate::support::Sandbox;
use serde_json::{Value, json};

#[tokio::test]
async fn person_is_created_read_listed_patched_and_soft_deleted() {
    let sandbox = Sandbox::fast();
    let org = sandbox
        .ok("POST", "/api/v2/organizations", Some(json!({"name": "Acme", "add_time": "2020-05-01T10:00:00+02:00"})))
        .await;
    assert_eq!(org["add_time"], "2020-05-01T08:00:00Z");
    let person = sandbox
        .ok(
            "POST",
            "/api/v2/persons",
            Some(json!({"name": "Jane Doe", "org_id": org["id"], "emails": [{"value": "jane@acme.com"}], "phones": [{"value": "+372 555", "label": "mobile"}], "add_time": "2019-01-02T03:04:05Z"})),
        )
        .await;
    let id = person["id"].as_u64().unwrap();
    assert_eq!(person["first_name"], "Jane");
    assert_eq!(person["last_name"], "Doe");
    assert_eq!(person["emails"], json!([{"value": "jane@acme.com", "primary": true, "label": "work"}]));
    assert_eq!(person["add_time"], "2019-01-02T03:04:05Z");
    assert_eq!(person["owner_id"], 1);

    let fetched = sandbox.ok("GET", &format!("/api/v2/persons/{id}"), None).await;
    assert_eq!(fetched, person);
    let patched = sandbox.ok("PATCH", &format!("/api/v2/persons/{id}"), Some(json!({"name": "Jane Smith"}))).await;
    assert_eq!(patched["last_name"], "Smith");
    assert_eq!(patched["org_id"], org["id"]);

    let filtered = sandbox.ok("GET", &format!("/api/v2/persons?org_id={}", org["id"]), None).await;
    assert_eq!(filtered.as_array().unwrap().len(), 1);

    assert_eq!(sandbox.ok("DELETE", &format!("/api/v2/persons/{id}"), None).await, json!({"id": id}));
    assert_eq!(sandbox.ok("GET", "/api/v2/persons", None).await, json!([]));
    assert_eq!(sandbox.ok("GET", &format!("/api/v2/persons/{id}"), None).await["is_deleted"], true);
    assert_eq!(sandbox.call("PATCH", &format!("/api/v2/persons/{id}"), Some(json!({"name": "x"}))).await.status, 404);
    assert_eq!(sandbox.handle.state()["persons"][id.to_string()]["is_deleted"], true);
    assert_eq!(sandbox.call("GET", "/api/v2/persons/999", None).await.status, 404);
}

#[tokio::test]
async fn cursor_pagination_walks_1200_persons_at_limit_500() {
    let sandbox = Sandbox::fast();
    let mut tasks = Vec::new();
    let sandbox = std::sync::Arc::new(sandbox);
    for worker in 0..8 {
        let sandbox = sandbox.clone();
        tasks.push(tokio::spawn(async move {
            for index in 0..150 {
                sandbox.ok("POST", "/api/v2/persons", Some(json!({"name": format!("Person {worker}-{index}")}))).await;
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/api/v2/persons?limit=500&cursor={cursor}"),
            None => "/api/v2/persons?limit=500".to_owned(),
        };
        let answer = sandbox.call("GET", &path, None).await;
        assert_eq!(answer.status, 200);
        pages += 1;
        seen.extend(answer.body["data"].as_array().unwrap().iter().map(|person| person["id"].as_u64().unwrap()));
        match &answer.body["additional_data"]["next_cursor"] {
            Value::String(next) => cursor = Some(next.clone()),
            Value::Null => break,
            other => panic!("next_cursor {other}"),
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, (1..=1200).collect::<Vec<u64>>());
    assert_eq!(sandbox.call("GET", "/api/v2/persons?limit=501", None).await.status, 400);
    let newest = sandbox.ok("GET", "/api/v2/persons?limit=2&sort_direction=desc", None).await;
    assert_eq!(newest[0]["id"], 1200);
}

#[tokio::test]
async fn deals_follow_status_rules_and_land_in_the_default_pipeline() {
    let sandbox = Sandbox::fast();
    let deal = sandbox
        .ok("POST", "/api/v2/deals", Some(json!({"title": "Big one", "value": 1200.5, "currency": "EUR"})))
        .await;
    assert_eq!(deal["pipeline_id"], 1);
    assert_eq!(deal["stage_id"], 1);
    assert_eq!(deal["status"], "open");
    let id = deal["id"].as_u64().unwrap();
    let won = sandbox
        .ok("PATCH", &format!("/api/v2/deals/{id}"), Some(json!({"status": "won", "won_time": "2024-03-01T12:00:00Z"})))
        .await;
    assert_eq!(won["won_time"], "2024-03-01T12:00:00Z");
    assert!(won["close_time"].is_string());
    let lost = sandbox
        .ok("POST", "/api/v2/deals", Some(json!({"title": "Lost one", "status": "lost", "lost_reason": "price"})))
        .await;
    assert_eq!(lost["lost_reason"], "price");
    assert!(lost["lost_time"].is_string());
    assert_eq!(sandbox.ok("GET", "/api/v2/deals?status=won", None).await.as_array().unwrap().len(), 1);
    sandbox.ok("DELETE", &format!("/api/v2/deals/{id}"), None).await;
    let deleted = sandbox.ok("GET", "/api/v2/deals?status=deleted", None).await;
    assert_eq!(deleted.as_array().unwrap().len(), 1);
    assert_eq!(sandbox.ok("GET", "/api/v2/deals", None).await.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn stages_are_appended_in_order_and_deals_follow_their_stage() {
    let sandbox = Sandbox::fast();
    let pipeline = sandbox.ok("POST", "/api/v2/pipelines", Some(json!({"name": "Renewals"}))).await;
    assert_eq!(pipeline["order_nr"], 2);
    let pipeline_id = pipeline["id"].clone();
    let mut stage_ids = Vec::new();
    for (index, name) in ["Lead", "Offer", "Signed"].iter().enumerate() {
        let stage = sandbox.ok("POST", "/api/v2/stages", Some(json!({"name": name, "pipeline_id": pipeline_id}))).await;
        assert_eq!(stage["order_nr"], index + 1);
        stage_ids.push(stage["id"].clone());
    }
    let order_nr = sandbox
        .call("POST", "/api/v2/stages", Some(json!({"name": "x", "pipeline_id": pipeline_id, "order_nr": 1})))
        .await;
    assert_eq!(order_nr.status, 400, "order_nr is read-only");
    let listed = sandbox.ok("GET", &format!("/api/v2/stages?pipeline_id={pipeline_id}&sort_by=order_nr"), None).await;
    assert_eq!(
        listed.as_array().unwrap().iter().map(|stage| stage["name"].clone()).collect::<Vec<_>>(),
        vec![json!("Lead"), json!("Offer"), json!("Signed")]
    );
    let deal = sandbox.ok("POST", "/api/v2/deals", Some(json!({"title": "Renewal", "stage_id": stage_ids[1]}))).await;
    assert_eq!(deal["pipeline_id"], pipeline_id);
    let mismatch = sandbox
        .call("POST", "/api/v2/deals", Some(json!({"title": "x", "stage_id": stage_ids[1], "pipeline_id": 1})))
        .await;
    assert_eq!(mismatch.status, 400);
}

#[tokio::test]
async fn activities_take_participants_and_known_types() {
    let sandbox = Sandbox::fast();
    let person = sandbox.ok("POST", "/api/v2/persons", Some(json!({"name": "Pat"}))).await;
    let activity = sandbox
        .ok(
            "POST",
            "/api/v2/activities",
            Some(json!({"subject": "Kickoff", "type": "meeting", "due_date": "2024-05-01", "due_time": "10:30", "done": true,
                        "participants": [{"person_id": person["id"], "primary": true}]})),
        )
        .await;
    assert_eq!(activity["person_id"], person["id"]);
    assert!(activity["marked_as_done_time"].is_string());
    let unknown_type = sandbox.call("POST", "/api/v2/activities", Some(json!({"subject": "x", "type": "fax"}))).await;
    assert_eq!(unknown_type.status, 400);
    let done = sandbox.ok("GET", &format!("/api/v2/activities?done=true&person_id={}", person["id"]), None).await;
    assert_eq!(done.as_array().unwrap().len(), 1);
    let fields = sandbox.ok("GET", "/api/v2/activityFields", None).await;
    assert!(fields.as_array().unwrap().iter().any(|field| field["field_code"] == "priority"));
    assert_eq!(sandbox.ok("GET", "/api/v2/activityFields/subject", None).await["field_type"], "varchar");
}
