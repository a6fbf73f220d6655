//! Organization relationships (API v1): a parent relationship made, listed from either side with
//! the type seen from it, read and deleted, every request and answer checked against v1.yaml
//! (skipped with a message when the specs are missing); and refused where the spec requires.

use crate::support::{Sandbox, fast_config, temp_path};
use crm_migrate_sandbox::SandboxConfig;
use openapi_check::Specs;
use serde_json::json;

#[tokio::test]
async fn a_parent_relationship_is_made_listed_from_both_sides_read_and_deleted_as_the_spec_shows() {
    let Some(specs) = Specs::for_tests() else { return };
    let record = temp_path("relationships.jsonl");
    let sandbox = Sandbox::start(SandboxConfig { record_path: Some(record.clone()), ..fast_config() });
    let parent = sandbox
        .ok("POST", "/api/v2/organizations", Some(json!({"name": "Holding", "address": {"value": "1 Main St"}})))
        .await;
    let child = sandbox.ok("POST", "/api/v2/organizations", Some(json!({"name": "Daughter"}))).await;
    sandbox.ok("POST", "/api/v2/persons", Some(json!({"name": "Jane", "org_id": child["id"]}))).await;

    let made = sandbox
        .ok(
            "POST",
            "/v1/organizationRelationships",
            Some(json!({"type": "parent", "rel_owner_org_id": parent["id"], "rel_linked_org_id": child["id"]})),
        )
        .await;
    assert_eq!(made["type"], "parent");
    assert_eq!(made["rel_owner_org_id"]["value"], parent["id"]);
    assert_eq!(made["rel_owner_org_id"]["address"], "1 Main St");
    assert_eq!(made["rel_linked_org_id"]["value"], child["id"]);
    assert_eq!(made["rel_linked_org_id"]["people_count"], 1);
    assert_eq!(made["active_flag"], "true", "the spec types it as a string");

    let of_child = sandbox.ok("GET", &format!("/v1/organizationRelationships?org_id={}", child["id"]), None).await;
    assert_eq!(of_child.as_array().unwrap().len(), 1);
    assert_eq!(of_child[0]["calculated_type"], "parent", "seen from the daughter, the other is its parent");
    assert_eq!(of_child[0]["calculated_related_org_id"], parent["id"]);
    let of_parent = sandbox.ok("GET", &format!("/v1/organizationRelationships?org_id={}", parent["id"]), None).await;
    assert_eq!(of_parent[0]["calculated_type"], "daughter");
    assert_eq!(of_parent[0]["related_organization_name"], "Daughter");
    let read = sandbox.ok("GET", &format!("/v1/organizationRelationships/{}", made["id"]), None).await;
    assert_eq!(read["id"], made["id"]);

    let deleted = sandbox.ok("DELETE", &format!("/v1/organizationRelationships/{}", made["id"]), None).await;
    assert_eq!(deleted["id"], made["id"]);
    assert_eq!(sandbox.call("GET", &format!("/v1/organizationRelationships/{}", made["id"]), None).await.status, 404);
    assert_eq!(
        sandbox.call("DELETE", &format!("/v1/organizationRelationships/{}", made["id"]), None).await.status,
        404
    );
    let after = sandbox.ok("GET", &format!("/v1/organizationRelationships?org_id={}", child["id"]), None).await;
    assert!(after.as_array().unwrap().is_empty());

    drop(sandbox);
    let report = crm_migrate_sandbox::conformance::check_record_file(specs, &record).unwrap();
    let _ = std::fs::remove_file(&record);
    assert!(report.requests_checked >= 11, "checked {}", report.requests_checked);
    assert!(report.problems.is_empty(), "{} problems:\n{}", report.problems.len(), report.problems.join("\n"));
}

#[tokio::test]
async fn a_relationship_without_what_the_spec_requires_is_refused() {
    let sandbox = Sandbox::start(fast_config());
    let parent = sandbox.ok("POST", "/api/v2/organizations", Some(json!({"name": "Holding"}))).await;
    let child = sandbox.ok("POST", "/api/v2/organizations", Some(json!({"name": "Daughter"}))).await;
    let missing = sandbox.call("GET", "/v1/organizationRelationships", None).await;
    assert_eq!(missing.status, 400, "org_id is required: {}", missing.body);
    let no_type = sandbox
        .call(
            "POST",
            "/v1/organizationRelationships",
            Some(json!({"rel_owner_org_id": parent["id"], "rel_linked_org_id": child["id"]})),
        )
        .await;
    assert_eq!(no_type.status, 400);
    let bad_type = sandbox
        .call(
            "POST",
            "/v1/organizationRelationships",
            Some(json!({"type": "sister", "rel_owner_org_id": parent["id"], "rel_linked_org_id": child["id"]})),
        )
        .await;
    assert_eq!(bad_type.status, 400);
    let unknown = sandbox
        .call(
            "POST",
            "/v1/organizationRelationships",
            Some(json!({"type": "parent", "rel_owner_org_id": 999, "rel_linked_org_id": child["id"]})),
        )
        .await;
    assert_eq!(unknown.status, 400, "an organization that does not exist: {}", unknown.body);
    assert!(unknown.body["error"].as_str().unwrap().contains("rel_owner_org_id"));

    let itself = sandbox
        .call(
            "POST",
            "/v1/organizationRelationships",
            Some(json!({"type": "parent", "rel_owner_org_id": child["id"], "rel_linked_org_id": child["id"]})),
        )
        .await;
    assert_eq!(itself.status, 400);
    assert_eq!(sandbox.call("GET", "/v1/organizationRelationships/77", None).await.status, 404);
}
