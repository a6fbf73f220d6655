//! Shared by the Pipedrive tests: an in-process sandbox and a client pointed at it.

use std::sync::Arc;

use crm_migrate::pipedrive::{
    ApiToken, ClientConfig, CustomValue, EntityKind, FieldType, Marker, NewField, NewPerson, PipedriveClient, Plan,
};
use crm_migrate_sandbox::{SandboxConfig, SandboxHandle};
use serde_json::Value;

pub const TOKEN: &str = "sandbox-token";

pub fn sandbox(config: SandboxConfig) -> SandboxHandle {
    SandboxHandle::spawn(SandboxConfig { api_tokens: vec![TOKEN.to_string()], ..config }).expect("sandbox starts")
}

pub fn client_config(sandbox: &SandboxHandle, plan: Plan) -> ClientConfig {
    let mut config = ClientConfig::new(sandbox.url(), ApiToken::new(TOKEN).unwrap(), plan);
    // The sandbox's search sees a record the moment it is written: no second look needed.
    config.lost_write_settle = std::time::Duration::ZERO;
    config
}

pub fn client(sandbox: &SandboxHandle, plan: Plan) -> Arc<PipedriveClient> {
    Arc::new(PipedriveClient::new(client_config(sandbox, plan), None).expect("client builds"))
}

/// The "User.com ID" marker field a migration adds to persons.
pub async fn marker_field(client: &PipedriveClient) -> String {
    let field = NewField { field_name: "User.com ID".into(), field_type: FieldType::Varchar, options: Vec::new() };
    client.create_field(EntityKind::Person, &field).await.expect("marker field created").field_code
}

pub fn person_with_marker(index: usize, marker_field: &str) -> (NewPerson, Marker) {
    let marker = Marker { field_code: marker_field.to_string(), value: format!("uc-{index}") };
    let person = NewPerson {
        name: format!("Person {index}"),
        custom_fields: [(marker_field.to_string(), CustomValue::Text(marker.value.clone()))].into(),
        ..NewPerson::default()
    };
    (person, marker)
}

/// Creates `count` persons from `tasks` concurrent tasks; panics on any error.
pub async fn create_persons(client: &Arc<PipedriveClient>, count: usize, tasks: usize, marker_field: Option<&str>) {
    let mut set = tokio::task::JoinSet::new();
    for task in 0..tasks {
        let client = Arc::clone(client);
        let marker_field = marker_field.map(str::to_string);
        set.spawn(async move {
            for index in (task..count).step_by(tasks) {
                let (person, marker) = match &marker_field {
                    Some(field) => {
                        let (person, marker) = person_with_marker(index, field);
                        (person, Some(marker))
                    }
                    None => (NewPerson { name: format!("Person {index}"), ..NewPerson::default() }, None),
                };
                client
                    .create_person(&person, marker.as_ref())
                    .await
                    .unwrap_or_else(|error| panic!("person {index}: {error}"));
            }
        });
    }
    while let Some(result) = set.join_next().await {
        result.expect("task finished");
    }
}

/// The persons in the sandbox's state dump that are not deleted.
pub fn live_persons(state: &Value) -> Vec<Value> {
    state["persons"]
        .as_object()
        .expect("state lists persons by id")
        .values()
        .filter(|person| !person["is_deleted"].as_bool().unwrap_or(false))
        .cloned()
        .collect()
}

/// A plain HTTP client for requests the tests send themselves (another integration's).
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}
