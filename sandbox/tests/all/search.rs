//! persons/search (case-insensitive) and itemSearch/field (case-sensitive, one field): how a
//! client finds a record after a lost write.

use crate::support::Sandbox;
use serde_json::json;

#[tokio::test]
async fn item_search_by_field_finds_a_person_by_an_exact_custom_value() {
    let sandbox = Sandbox::fast();
    let marker = sandbox
        .ok("POST", "/api/v2/personFields", Some(json!({"field_name": "User.com ID", "field_type": "varchar"})))
        .await;
    let code = marker["field_code"].as_str().unwrap().to_owned();
    for (name, value) in [("One", "uc-1"), ("Ten", "uc-10"), ("Upper", "UC-1")] {
        sandbox.ok("POST", "/api/v2/persons", Some(json!({"name": name, "custom_fields": {&code: value}}))).await;
    }
    let search = |term: &str, mode: &str| {
        format!("/api/v2/itemSearch/field?term={term}&entity_type=person&field={code}&match={mode}")
    };
    let exact = sandbox.ok("GET", &search("uc-1", "exact"), None).await;
    assert_eq!(exact.as_array().unwrap().len(), 1, "{exact}");
    assert_eq!(exact[0]["id"], 1);
    assert_eq!(exact[0]["name"], "One");
    assert_eq!(exact[0]["item"]["id"], 1);
    assert_eq!(sandbox.ok("GET", &search("uc-1", "beginning"), None).await.as_array().unwrap().len(), 2);
    assert_eq!(sandbox.ok("GET", &search("c-1", "middle"), None).await.as_array().unwrap().len(), 2);
    assert_eq!(sandbox.ok("GET", &search("uc-2", "exact"), None).await, json!([]));

    sandbox.ok("DELETE", "/api/v2/persons/1", None).await;
    assert_eq!(sandbox.ok("GET", &search("uc-1", "exact"), None).await, json!([]), "deleted persons are not found");
    let unknown_field = sandbox
        .call(
            "GET",
            "/api/v2/itemSearch/field?term=x&entity_type=person&field=0000000000000000000000000000000000000000",
            None,
        )
        .await;
    assert_eq!(unknown_field.status, 400);
    let answer = sandbox.call("GET", &search("uc-10", "exact"), None).await;
    assert_eq!(answer.body["additional_data"]["next_cursor"], serde_json::Value::Null);
    assert_eq!(answer.header("x-ratelimit-limit").as_deref(), Some("100000"), "search window");
}

#[tokio::test]
async fn person_search_by_email_is_exact_and_case_insensitive() {
    let sandbox = Sandbox::fast();
    let org = sandbox.ok("POST", "/api/v2/organizations", Some(json!({"name": "Acme"}))).await;
    sandbox
        .ok(
            "POST",
            "/api/v2/persons",
            Some(json!({"name": "Jane", "org_id": org["id"], "emails": [{"value": "Jane@Acme.com"}]})),
        )
        .await;
    sandbox
        .ok("POST", "/api/v2/persons", Some(json!({"name": "Janet", "emails": [{"value": "janet@acme.com"}]})))
        .await;
    let found = sandbox
        .ok("GET", "/api/v2/persons/search?term=jane%40acme.com&fields=email&exact_match=true&limit=1", None)
        .await;
    let items = found["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["item"]["name"], "Jane");
    assert_eq!(items[0]["item"]["emails"], json!(["Jane@Acme.com"]));
    assert_eq!(items[0]["item"]["organization"]["name"], "Acme");
    let partial = sandbox.ok("GET", "/api/v2/persons/search?term=acme&fields=email", None).await;
    assert_eq!(partial["items"].as_array().unwrap().len(), 2);
    assert_eq!(sandbox.call("GET", "/api/v2/persons/search?term=a", None).await.status, 400, "two characters at least");
}

#[tokio::test]
async fn item_search_by_field_exact_is_the_whole_value_and_nothing_else() {
    // How a migration tells two User.com accounts apart in one Pipedrive account: `acme:1` must
    // not find `acme:12`, `beta:1`, `ACME:1` or `acme:1 ` (the spec: exact, case-sensitive).
    let sandbox = Sandbox::fast();
    let marker = sandbox
        .ok("POST", "/api/v2/personFields", Some(json!({"field_name": "User.com ID", "field_type": "varchar"})))
        .await;
    let code = marker["field_code"].as_str().unwrap().to_owned();
    for value in ["acme:12", "beta:1", "ACME:1", "acme:1 ", "1", "acme:1"] {
        sandbox.ok("POST", "/api/v2/persons", Some(json!({"name": value, "custom_fields": {&code: value}}))).await;
    }
    let exact = sandbox
        .ok("GET", &format!("/api/v2/itemSearch/field?term=acme%3A1&entity_type=person&field={code}&match=exact"), None)
        .await;
    assert_eq!(
        exact.as_array().unwrap().iter().map(|hit| hit["name"].clone()).collect::<Vec<_>>(),
        vec![json!("acme:1")],
        "{exact}"
    );
}
