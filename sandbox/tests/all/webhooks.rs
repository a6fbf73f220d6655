//! Webhooks (API v1): created, listed and deleted as the spec shows, refused in the spec's 400
//! form; the sandbox calls no one but counts, per webhook and event, the deliveries each applied
//! write would have made (a version 1.0 webhook names the events the older way).

use crate::support::{Sandbox, fast_config, temp_path};
use crm_migrate_sandbox::SandboxConfig;
use openapi_check::Specs;
use serde_json::json;

#[tokio::test]
async fn webhooks_are_listed_and_each_write_counts_the_deliveries_it_would_make() {
    let record = temp_path("webhooks.jsonl");
    let sandbox = Sandbox::start(SandboxConfig { record_path: Some(record.clone()), ..fast_config() });
    let hook = |name: &str, action: &str, object: &str, version: &str| {
        json!({"subscription_url": format!("https://hooks.example.com/{name}"), "event_action": action,
               "event_object": object, "name": name, "version": version})
    };
    let people = sandbox.call("POST", "/v1/webhooks", Some(hook("people", "create", "person", "2.0"))).await;
    assert_eq!(people.status, 201, "{}", people.body);
    assert_eq!(people.body["status"], "ok");
    let people = people.body["data"]["id"].as_u64().unwrap();
    let all = sandbox.ok("POST", "/v1/webhooks", Some(hook("all", "*", "*", "1.0"))).await["id"].as_u64().unwrap();
    let refused = sandbox
        .call(
            "POST",
            "/v1/webhooks",
            Some(json!({"subscription_url": "nope", "event_action": "create", "event_object": "person", "name": "x"})),
        )
        .await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.body["errors"]["subscription_url"][0], "invalid or non-reachable URL");
    assert_eq!(
        sandbox.call("POST", "/v1/webhooks", Some(hook("bad", "create", "invoice", "2.0"))).await.status,
        400,
        "an object webhooks cannot subscribe to"
    );
    assert_eq!(sandbox.ok("GET", "/v1/webhooks", None).await.as_array().unwrap().len(), 2);

    let person = sandbox.ok("POST", "/api/v2/persons", Some(json!({"name": "Jane"}))).await;
    sandbox.ok("POST", "/api/v2/persons", Some(json!({"name": "John"}))).await;
    sandbox.ok("PATCH", &format!("/api/v2/persons/{}", person["id"]), Some(json!({"name": "Jane Doe"}))).await;
    sandbox.ok("POST", "/api/v2/organizations", Some(json!({"name": "Acme"}))).await;
    sandbox.ok("POST", "/api/v2/personFields", Some(json!({"field_name": "Tier", "field_type": "varchar"}))).await;
    assert_eq!(sandbox.call("POST", "/api/v2/persons", Some(json!({"name": 5}))).await.status, 400);
    let deliveries = sandbox.handle.stats().webhook_deliveries;
    assert_eq!(deliveries[&people], [("create.person".to_owned(), 2)].into_iter().collect());
    assert_eq!(
        deliveries[&all],
        [("added.person".to_owned(), 2), ("updated.person".to_owned(), 1), ("added.organization".to_owned(), 1)]
            .into_iter()
            .collect(),
        "a field and a refused write fire nothing"
    );

    sandbox.ok("DELETE", &format!("/v1/webhooks/{people}"), None).await;
    sandbox.ok("POST", "/api/v2/persons", Some(json!({"name": "Ann"}))).await;
    assert_eq!(sandbox.handle.stats().webhook_deliveries[&people]["create.person"], 2, "a deleted webhook gets none");
    assert_eq!(sandbox.call("DELETE", &format!("/v1/webhooks/{people}"), None).await.status, 404);

    drop(sandbox);
    if let Some(specs) = Specs::for_tests() {
        let webhooks: Vec<String> = std::fs::read_to_string(&record)
            .unwrap()
            .lines()
            .filter(|line| line.contains("/webhooks"))
            // The refusals were asked for on purpose: the spec refuses their requests too.
            .filter(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()["status"] != 400)
            .map(str::to_owned)
            .collect();
        let only = record.with_extension("only.jsonl");
        std::fs::write(&only, webhooks.join("\n") + "\n").unwrap();
        let report = crm_migrate_sandbox::conformance::check_record_file(specs, &only).unwrap();
        let _ = std::fs::remove_file(&only);
        assert_eq!(report.requests_checked, webhooks.len());
        assert!(report.problems.is_empty(), "{} problems:\n{}", report.problems.len(), report.problems.join("\n"));
    }
    let _ = std::fs::remove_file(&record);
}
