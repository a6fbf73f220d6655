//! Custom fields: 40-hex keys per account, values nested in `custom_fields`, option endpoints.

use crate::support::{Sandbox, fast_config};
use crm_migrate_sandbox::SandboxConfig;
use serde_json::{Value, json};

async fn create_field(sandbox: &Sandbox, body: Value) -> Value {
    sandbox.ok("POST", "/api/v2/personFields", Some(body)).await
}

#[tokio::test]
async fn custom_values_round_trip_enum_set_monetary_and_text() {
    let sandbox = Sandbox::fast();
    let tier = create_field(
        &sandbox,
        json!({"field_name": "Tier", "field_type": "enum", "options": [{"label": "Gold"}, {"label": "Silver"}]}),
    )
    .await;
    let tags = create_field(
        &sandbox,
        json!({"field_name": "Tags", "field_type": "set", "options": [{"label": "a"}, {"label": "b"}, {"label": "c"}]}),
    )
    .await;
    let spend = create_field(&sandbox, json!({"field_name": "Spend", "field_type": "monetary"})).await;
    let marker = create_field(&sandbox, json!({"field_name": "User.com ID", "field_type": "varchar"})).await;
    for field in [&tier, &tags, &spend, &marker] {
        let code = field["field_code"].as_str().unwrap();
        assert_eq!(code.len(), 40);
        assert!(code.bytes().all(|byte| byte.is_ascii_hexdigit()));
        assert_eq!(field["is_custom_field"], true);
    }
    assert_eq!(spend["subfields"][1]["field_code"], format!("{}_currency", spend["field_code"].as_str().unwrap()));
    let gold = tier["options"][0]["id"].clone();
    assert!(gold.is_i64());
    let tag_ids: Vec<Value> = tags["options"].as_array().unwrap().iter().map(|option| option["id"].clone()).collect();
    let code = |field: &Value| field["field_code"].as_str().unwrap().to_owned();
    let custom = json!({
        code(&tier): gold,
        code(&tags): [tag_ids[0], tag_ids[2]],
        code(&spend): {"value": 99.5, "currency": "EUR"},
        code(&marker): "uc-42",
    });
    let person = sandbox.ok("POST", "/api/v2/persons", Some(json!({"name": "Val", "custom_fields": custom}))).await;
    assert_eq!(person["custom_fields"], custom);
    let fetched = sandbox.ok("GET", &format!("/api/v2/persons/{}", person["id"]), None).await;
    assert_eq!(fetched["custom_fields"], custom);
    let labelled =
        sandbox.ok("GET", &format!("/api/v2/persons/{}?include_option_labels=true", person["id"]), None).await;
    assert_eq!(labelled["custom_fields"][code(&tier)], json!({"id": gold, "label": "Gold"}));
    let cleared = sandbox
        .ok("PATCH", &format!("/api/v2/persons/{}", person["id"]), Some(json!({"custom_fields": {code(&tags): null}})))
        .await;
    assert_eq!(cleared["custom_fields"][code(&tags)], Value::Null);
    assert_eq!(cleared["custom_fields"][code(&marker)], "uc-42");
    let other = sandbox.ok("POST", "/api/v2/persons", Some(json!({"name": "Empty"}))).await;
    assert_eq!(other["custom_fields"][code(&tier)], Value::Null, "every custom field is returned, null when unset");
}

#[tokio::test]
async fn option_endpoints_add_rename_and_delete_atomically() {
    let sandbox = Sandbox::fast();
    let field = sandbox
        .ok(
            "POST",
            "/api/v2/dealFields",
            Some(json!({"field_name": "Source", "field_type": "enum", "options": [{"label": "Web"}]})),
        )
        .await;
    let code = field["field_code"].as_str().unwrap();
    let added = sandbox
        .ok("POST", &format!("/api/v2/dealFields/{code}/options"), Some(json!([{"label": "Fair"}, {"label": "Call"}])))
        .await;
    assert_eq!(added.as_array().unwrap().len(), 2);
    let fair = added[0]["id"].clone();
    let renamed = sandbox
        .ok("PATCH", &format!("/api/v2/dealFields/{code}/options"), Some(json!([{"id": fair, "label": "Trade fair"}])))
        .await;
    assert_eq!(renamed, json!([{"id": fair, "label": "Trade fair"}]));
    let missing = sandbox
        .call("DELETE", &format!("/api/v2/dealFields/{code}/options"), Some(json!([{"id": fair}, {"id": 999_999}])))
        .await;
    assert_eq!(missing.status, 400);
    assert_eq!(
        sandbox.ok("GET", &format!("/api/v2/dealFields/{code}"), None).await["options"].as_array().unwrap().len(),
        3,
        "nothing was deleted"
    );
    sandbox.ok("DELETE", &format!("/api/v2/dealFields/{code}/options"), Some(json!([{"id": fair}]))).await;
    assert_eq!(
        sandbox.ok("GET", &format!("/api/v2/dealFields/{code}"), None).await["options"].as_array().unwrap().len(),
        2
    );

    // Labels are the options of the built-in `label` field.
    let labels = sandbox.ok("GET", "/api/v2/personFields/label", None).await;
    assert_eq!(labels["is_custom_field"], false);
    let vip = sandbox
        .ok("POST", "/api/v2/personFields/label/options", Some(json!([{"label": "VIP", "color": "purple"}])))
        .await[0]["id"]
        .clone();
    let person = sandbox.ok("POST", "/api/v2/persons", Some(json!({"name": "Vip", "label_ids": [vip]}))).await;
    assert_eq!(person["label_ids"], json!([vip]));

    sandbox.ok("PATCH", &format!("/api/v2/dealFields/{code}"), Some(json!({"field_name": "Lead source"}))).await;
    sandbox.ok("DELETE", &format!("/api/v2/dealFields/{code}"), None).await;
    assert_eq!(sandbox.call("GET", &format!("/api/v2/dealFields/{code}"), None).await.status, 404);
    assert_eq!(sandbox.call("DELETE", "/api/v2/dealFields/title", None).await.status, 400, "built-in fields stay");
}

#[tokio::test]
async fn field_keys_differ_between_accounts_and_repeat_for_one_seed() {
    let key = |config: SandboxConfig| async move {
        let sandbox = Sandbox::start(config);
        sandbox.ok("POST", "/api/v2/personFields", Some(json!({"field_name": "X", "field_type": "varchar"}))).await["field_code"].clone()
    };
    let first = key(fast_config()).await;
    assert_eq!(first, key(fast_config()).await);
    assert_ne!(first, key(SandboxConfig { account_seed: Some(8), ..fast_config() }).await);
    assert_ne!(first, key(SandboxConfig { account_seed: None, ..fast_config() }).await);
}

#[tokio::test]
async fn system_fields_are_seeded_per_entity() {
    let sandbox = Sandbox::fast();
    let person_fields = sandbox.ok("GET", "/api/v2/personFields?limit=500", None).await;
    let codes: Vec<&str> =
        person_fields.as_array().unwrap().iter().map(|field| field["field_code"].as_str().unwrap()).collect();
    for code in ["name", "owner_id", "label", "email", "phone", "org_id"] {
        assert!(codes.contains(&code), "{code} in {codes:?}");
    }
    assert!(person_fields.as_array().unwrap().iter().all(|field| field["is_custom_field"] == false));
    let deal_fields = sandbox.ok("GET", "/api/v2/dealFields", None).await;
    assert!(deal_fields.as_array().unwrap().iter().any(|field| field["field_code"] == "title"));
    let org_fields = sandbox.ok("GET", "/api/v2/organizationFields", None).await;
    assert!(org_fields.as_array().unwrap().iter().any(|field| field["field_code"] == "address"));
}
