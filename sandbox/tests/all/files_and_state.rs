//! The record file, the state file (save on shutdown and on request, load at start), and the
//! control endpoints.

use crate::support::{Sandbox, TOKEN, fast_config, temp_path};
use crm_migrate_sandbox::{Faults, SandboxConfig};
use serde_json::{Value, json};

#[tokio::test]
async fn every_api_request_is_recorded_as_a_json_line_without_the_token() {
    let record = temp_path("record.jsonl");
    let sandbox = Sandbox::start(SandboxConfig { record_path: Some(record.clone()), ..fast_config() });
    sandbox.ok("POST", "/api/v2/persons", Some(json!({"name": "Rec"}))).await;
    let response = sandbox
        .client
        .get(sandbox.url("/api/v2/persons"))
        .query(&[("api_token", TOKEN), ("limit", "5")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    sandbox.handle.set_faults(Faults { lost_response_rate: 1.0, ..Faults::default() });
    let _ = sandbox.try_call("POST", "/api/v2/persons", Some(json!({"name": "Lost"}))).await;
    sandbox.handle.set_faults(Faults::default());
    let _ = sandbox.client.get(sandbox.url("/_sandbox/stats")).send().await.unwrap();
    drop(sandbox);

    let text = std::fs::read_to_string(&record).unwrap();
    assert!(!text.contains(TOKEN), "the token never reaches the record");
    let lines: Vec<Value> = text.lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(lines.len(), 3, "control endpoints are not recorded");
    assert_eq!(lines[0]["method"], "POST");
    assert_eq!(lines[0]["path"], "/api/v2/persons");
    assert_eq!(lines[0]["request_body"], json!({"name": "Rec"}));
    assert_eq!(lines[0]["status"], 200);
    assert_eq!(lines[0]["response_body"]["data"]["name"], "Rec");
    assert_eq!(lines[0]["token_cost"], 5);
    assert!(lines[0]["time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(lines[1]["query"], json!({"limit": "5"}));
    assert_eq!(lines[1]["token_cost"], 10);
    assert_eq!(lines[2]["response_body"], "lost");
    assert_eq!(lines[2]["status"], Value::Null);
    let _ = std::fs::remove_file(record);
}

#[tokio::test]
async fn state_is_saved_on_shutdown_and_loaded_at_start() {
    let path = temp_path("state.json");
    let config = SandboxConfig { state_path: Some(path.clone()), account_seed: None, ..fast_config() };
    let sandbox = Sandbox::start(config.clone());
    let field =
        sandbox.ok("POST", "/api/v2/personFields", Some(json!({"field_name": "Ref", "field_type": "varchar"}))).await;
    let code = field["field_code"].as_str().unwrap().to_owned();
    let person =
        sandbox.ok("POST", "/api/v2/persons", Some(json!({"name": "Kept", "custom_fields": {&code: "r-1"}}))).await;
    sandbox.ok("DELETE", &format!("/api/v2/persons/{}", person["id"]), None).await;
    sandbox.ok("POST", "/api/v2/persons", Some(json!({"name": "Second"}))).await;
    sandbox.handle.advance_clock(std::time::Duration::from_secs(60));
    let before = sandbox.handle.state();
    sandbox.handle.shutdown();
    assert!(path.exists());

    let reloaded = Sandbox::start(config);
    let after = reloaded.handle.state();
    assert_eq!(after["persons"], before["persons"]);
    assert_eq!(after["fields"], before["fields"]);
    assert_eq!(after["token_ledger"], before["token_ledger"]);
    assert_eq!(after["clock_offset_ms"], 60_000);
    let next =
        reloaded.ok("POST", "/api/v2/persons", Some(json!({"name": "Third", "custom_fields": {&code: "r-3"}}))).await;
    assert_eq!(next["id"], 3, "id counters survive");
    let new_field = reloaded
        .ok("POST", "/api/v2/personFields", Some(json!({"field_name": "Other", "field_type": "varchar"})))
        .await;
    assert_ne!(new_field["field_code"], json!(code), "the key generator continues, not restarts");

    let saved = reloaded.client.post(reloaded.url("/_sandbox/save")).send().await.unwrap();
    assert_eq!(saved.status(), 200);
    let on_disk: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(on_disk["persons"]["3"]["name"], "Third");
    drop(reloaded);
    let _ = std::fs::remove_file(path);
}

#[tokio::test]
async fn control_endpoints_show_state_and_stats_and_move_the_clock() {
    let sandbox = Sandbox::fast();
    sandbox.ok("POST", "/api/v2/organizations", Some(json!({"name": "Org"}))).await;
    let client = &sandbox.client;
    let state: Value = client.get(sandbox.url("/_sandbox/state")).send().await.unwrap().json().await.unwrap();
    assert_eq!(state["organizations"]["1"]["name"], "Org");
    let stats: Value = client.get(sandbox.url("/_sandbox/stats")).send().await.unwrap().json().await.unwrap();
    assert_eq!(stats["requests"], 1);
    assert_eq!(stats["tokens_debited"], 5);
    assert_eq!(stats["writes_applied"], 1);
    let clock: Value = client
        .post(sandbox.url("/_sandbox/clock"))
        .json(&json!({"advance_seconds": 3600}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(clock["offset_ms"], 3_600_000);
    let faults = client
        .post(sandbox.url("/_sandbox/faults"))
        .json(&json!({"seed": 1, "server_error_rate": 1.0}))
        .send()
        .await
        .unwrap();
    assert_eq!(faults.status(), 200);
    assert_eq!(sandbox.call("GET", "/api/v2/organizations", None).await.status.as_u16() / 100, 5);
    let no_state_path = client.post(sandbox.url("/_sandbox/save")).send().await.unwrap();
    assert_eq!(no_state_path.status(), 400);
    assert_eq!(sandbox.handle.stats().requests, 2, "control calls are not counted");
}
