//! Products, deal products and deal participants: made, listed, read and removed as the specs
//! show them (every request and answer checked against v1.yaml and v2.yaml, skipped with a
//! message when the specs are missing), and refused where the specs require.

use crate::support::{Sandbox, fast_config, temp_path};
use crm_migrate_sandbox::SandboxConfig;
use openapi_check::Specs;
use serde_json::json;

#[tokio::test]
async fn products_deal_products_and_participants_are_made_listed_and_removed_as_the_specs_show() {
    let Some(specs) = Specs::for_tests() else { return };
    let record = temp_path("deal-products.jsonl");
    let sandbox = Sandbox::start(SandboxConfig { record_path: Some(record.clone()), ..fast_config() });
    let person = sandbox.ok("POST", "/api/v2/persons", Some(json!({"name": "Jane"}))).await;
    let deal = sandbox.ok("POST", "/api/v2/deals", Some(json!({"title": "Licences", "currency": "PLN"}))).await;

    let pencil = sandbox
        .call(
            "POST",
            "/api/v2/products",
            Some(json!({"name": "Pencil", "code": "acme:product:1", "prices": [{"currency": "PLN", "price": 5}]})),
        )
        .await;
    assert_eq!(pencil.status, 201, "created, as the spec documents: {}", pencil.body);
    let pencil = pencil.body["data"].clone();
    assert_eq!(pencil["prices"][0]["product_id"], pencil["id"]);
    assert_eq!(pencil["code"], "acme:product:1");
    let listed = sandbox.ok("GET", "/api/v2/products?limit=500", None).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);

    let path = format!("/api/v2/deals/{}/products", deal["id"]);
    let line = json!({"product_id": pencil["id"], "item_price": 4.5, "quantity": 3});
    let added = sandbox.call("POST", &path, Some(line.clone())).await;
    assert_eq!(added.status, 201, "{}", added.body);
    assert_eq!(added.body["data"]["sum"], 13.5);
    assert_eq!(added.body["data"]["currency"], "PLN", "in the deal's currency");
    assert_eq!(added.body["data"]["name"], "Pencil");
    sandbox.ok("POST", &path, Some(line)).await;
    let lines = sandbox.ok("GET", &format!("{path}?limit=500"), None).await;
    assert_eq!(lines.as_array().unwrap().len(), 2, "one product may be attached twice, as in Pipedrive");
    for refused in [
        json!({"product_id": pencil["id"], "item_price": "4.5", "quantity": 3}),
        json!({"product_id": 999, "item_price": 4.5, "quantity": 3}),
        json!({"product_id": pencil["id"], "quantity": 3}),
    ] {
        assert_eq!(sandbox.call("POST", &path, Some(refused.clone())).await.status, 400, "{refused}");
    }
    let first = added.body["data"]["id"].clone();
    assert_eq!(sandbox.ok("DELETE", &format!("{path}/{first}"), None).await["id"], first);
    assert_eq!(sandbox.call("DELETE", &format!("{path}/{first}"), None).await.status, 404);
    assert_eq!(sandbox.ok("GET", &path, None).await.as_array().unwrap().len(), 1);

    let participants = format!("/v1/deals/{}/participants", deal["id"]);
    let entry = sandbox.ok("POST", &participants, Some(json!({"person_id": person["id"]}))).await;
    assert_eq!(entry["person_id"]["value"], person["id"], "the person as an object whose value is its id");
    assert_eq!(entry["related_item_data"]["deal_id"], deal["id"]);
    assert_eq!(sandbox.call("POST", &participants, Some(json!({"person_id": 999}))).await.status, 400);
    let listed = sandbox.ok("GET", &format!("{participants}?start=0&limit=500"), None).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    sandbox.ok("DELETE", &format!("{participants}/{}", entry["id"]), None).await;
    assert!(sandbox.ok("GET", &participants, None).await.as_array().unwrap().is_empty());

    assert_eq!(sandbox.ok("DELETE", &format!("/api/v2/products/{}", pencil["id"]), None).await["id"], pencil["id"]);
    assert!(sandbox.ok("GET", "/api/v2/products", None).await.as_array().unwrap().is_empty(), "gone from the list");
    assert_eq!(sandbox.ok("GET", &format!("/api/v2/products/{}", pencil["id"]), None).await["is_deleted"], true);
    assert_eq!(sandbox.call("GET", "/api/v2/products/search?term=x", None).await.status, 404, "not simulated");

    drop(sandbox);
    // The refusals above were asked for on purpose: the spec refuses their requests too.
    let accepted: Vec<String> = std::fs::read_to_string(&record)
        .unwrap()
        .lines()
        .filter(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()["status"] != 400)
        .map(str::to_owned)
        .collect();
    std::fs::write(&record, accepted.join("\n") + "\n").unwrap();
    let report = crm_migrate_sandbox::conformance::check_record_file(specs, &record).unwrap();
    let _ = std::fs::remove_file(&record);
    assert!(report.requests_checked >= 15, "checked {}", report.requests_checked);
    assert!(report.problems.is_empty(), "{} problems:\n{}", report.problems.len(), report.problems.join("\n"));
}
