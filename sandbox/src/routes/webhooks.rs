//! API v1 webhooks (`/webhooks`: GET list, POST, DELETE `{id}`; v1.yaml's Webhooks tag), in the
//! spec's `BaseWebhook` shape and `{"status":"ok","success":true,...}` envelope, its 400 in the
//! spec's form (`{"status":"error","success":false,"errors":{field:[...]}}`). The sandbox calls
//! no one: each write it applies counts, per live webhook it fires ([`pipedrive_api::webhooks`]),
//! one delivery of that event, which [`crate::Stats::webhook_deliveries`] shows.

use super::{Ctx, Route};
use crate::clock;
use crate::envelope::{ApiError, ApiResult, Reply};
use crate::store::{Account, Entity};
use pipedrive_api::webhooks::{Action, OBJECTS, event_name, fires};
use serde_json::{Value, json};

const ACTIONS: [&str; 4] = ["create", "change", "delete", "*"];

fn invalid(field: &str, message: &str) -> ApiError {
    ApiError { status: 400, body: json!({"status": "error", "success": false, "errors": { field: [message] }}) }
}

fn text<'a>(body: &'a serde_json::Map<String, Value>, key: &str) -> Option<&'a str> {
    body.get(key).and_then(Value::as_str).map(str::trim).filter(|text| !text.is_empty())
}

pub fn create(ctx: &mut Ctx) -> ApiResult {
    let body = ctx.body.json()?.as_object().cloned().ok_or_else(|| invalid("body", "must be a JSON object"))?;
    let url = text(&body, "subscription_url").ok_or_else(|| invalid("subscription_url", "is required"))?;
    if !(url.starts_with("https://") || url.starts_with("http://")) || url.len() < "http://x".len() {
        return Err(invalid("subscription_url", "invalid or non-reachable URL"));
    }
    let action = text(&body, "event_action").ok_or_else(|| invalid("event_action", "is required"))?;
    if !ACTIONS.contains(&action) {
        return Err(invalid("event_action", "must be one of create, change, delete, *"));
    }
    let object = text(&body, "event_object").ok_or_else(|| invalid("event_object", "is required"))?;
    if object != "*" && !OBJECTS.contains(&object) {
        return Err(invalid("event_object", "is not an object webhooks can subscribe to"));
    }
    let name = text(&body, "name").ok_or_else(|| invalid("name", "is required"))?;
    if name.chars().count() > 255 {
        return Err(invalid("name", "must be at most 255 characters"));
    }
    let version = text(&body, "version").unwrap_or("2.0");
    if !matches!(version, "1.0" | "2.0") {
        return Err(invalid("version", "must be 1.0 or 2.0"));
    }
    let id = ctx.account.next_id("webhooks");
    let user_id = body.get("user_id").and_then(Value::as_u64).unwrap_or(ctx.user_id);
    let auth = |key: &str| body.get(key).and_then(Value::as_str).map_or(Value::Null, |text| json!(text));
    let stored = json!({
        "id": id, "company_id": ctx.account.company_id, "owner_id": ctx.user_id, "user_id": user_id,
        "event_action": action, "event_object": object, "subscription_url": url, "version": version, "is_active": 1,
        "add_time": clock::rfc3339(ctx.now), "remove_time": null, "type": "general",
        "http_auth_user": auth("http_auth_user"), "http_auth_password": auth("http_auth_password"), "remove_reason": null,
        "last_delivery_time": null, "last_http_status": null, "admin_id": ctx.user_id, "name": name,
    });
    ctx.account.webhooks.insert(id, stored.clone());
    Ok(Reply { status: 201, body: json!({"status": "ok", "success": true, "data": stored}) })
}

pub fn list(ctx: &mut Ctx) -> ApiResult {
    let data: Vec<Value> = ctx.account.webhooks.values().cloned().collect();
    Ok(Reply { status: 200, body: json!({"status": "ok", "success": true, "data": data}) })
}

pub fn delete(ctx: &mut Ctx) -> ApiResult {
    let id = ctx.id().map_err(|_| ApiError::not_found("Webhook"))?;
    ctx.account.webhooks.remove(&id).ok_or_else(|| ApiError::not_found("Webhook"))?;
    Ok(Reply { status: 200, body: json!({"status": "ok", "success": true}) })
}

/// The event a successful write fires, as webhooks name objects; `None` for writes no webhook
/// object covers (fields, activity types, relationships, files, deal products, participants).
pub fn event(route: Route) -> Option<(Action, &'static str)> {
    let entity = |entity: Entity| match entity {
        Entity::Person => "person",
        Entity::Organization => "organization",
        Entity::Deal => "deal",
        Entity::Activity => "activity",
    };
    Some(match route {
        Route::EntityCreate(kind) => (Action::Create, entity(kind)),
        Route::EntityUpdate(kind) => (Action::Change, entity(kind)),
        Route::EntityDelete(kind) => (Action::Delete, entity(kind)),
        Route::PipelineCreate => (Action::Create, "pipeline"),
        Route::PipelineUpdate => (Action::Change, "pipeline"),
        Route::PipelineDelete => (Action::Delete, "pipeline"),
        Route::StageCreate => (Action::Create, "stage"),
        Route::StageUpdate => (Action::Change, "stage"),
        Route::StageDelete => (Action::Delete, "stage"),
        Route::NoteCreate => (Action::Create, "note"),
        Route::NoteUpdate => (Action::Change, "note"),
        Route::NoteDelete => (Action::Delete, "note"),
        Route::ProductCreate => (Action::Create, "product"),
        Route::ProductDelete => (Action::Delete, "product"),
        _ => return None,
    })
}

/// The deliveries one event makes: each active webhook it fires, with the event as that
/// webhook's version names it.
pub fn deliveries(account: &Account, action: Action, object: &str) -> Vec<(u64, String)> {
    account
        .webhooks
        .values()
        .filter(|webhook| webhook["is_active"] != json!(0))
        .filter(|webhook| {
            fires(
                webhook["event_action"].as_str().unwrap_or(""),
                webhook["event_object"].as_str().unwrap_or(""),
                action,
                object,
            )
        })
        .filter_map(|webhook| Some((webhook["id"].as_u64()?, event_name(webhook["version"].as_str(), action, object))))
        .collect()
}
