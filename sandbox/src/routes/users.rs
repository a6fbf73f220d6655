//! API v1 users (list, me) and activity types (seeded with Pipedrive's defaults: call, meeting,
//! task, deadline, email, lunch).

use super::Ctx;
use crate::clock;
use crate::envelope::{ApiError, ApiResult, ok, ok_with};
use crate::validate::{Kind, check_object, nullable, prop, require};
use serde_json::{Value, json};

pub fn list(ctx: &mut Ctx) -> ApiResult {
    let users: Vec<Value> = ctx.account.users.iter().map(|user| user.to_v1(ctx.user_id)).collect();
    ok(Value::Array(users))
}

pub fn me(ctx: &mut Ctx) -> ApiResult {
    let user = ctx.account.user(ctx.user_id).ok_or_else(|| ApiError::not_found("User"))?;
    let mut data = user.to_v1(ctx.user_id);
    data["company_id"] = json!(ctx.account.company_id);
    data["company_name"] = json!(ctx.account.company_name);
    data["company_domain"] = json!(ctx.account.company_domain);
    data["company_country"] = json!("EE");
    data["company_industry"] = json!("Software");
    data["language"] = json!({"language_code": "en", "country_code": "US"});
    ok(data)
}

const ICON_KEYS: [&str; 40] = [
    "task",
    "email",
    "meeting",
    "deadline",
    "call",
    "lunch",
    "calendar",
    "downarrow",
    "document",
    "smartphone",
    "camera",
    "scissors",
    "cogs",
    "bubble",
    "uparrow",
    "checkbox",
    "signpost",
    "shuffle",
    "addressbook",
    "linegraph",
    "picture",
    "car",
    "world",
    "search",
    "clip",
    "sound",
    "brush",
    "key",
    "padlock",
    "pricetag",
    "suitcase",
    "finish",
    "plane",
    "loop",
    "wifi",
    "truck",
    "cart",
    "bulb",
    "bell",
    "presentation",
];

pub fn list_activity_types(ctx: &mut Ctx) -> ApiResult {
    let mut types: Vec<Value> = ctx.account.activity_types.values().cloned().collect();
    types.sort_by_key(|kind| (kind["order_nr"].as_u64(), kind["id"].as_u64()));
    ok_with(Value::Array(types), Value::Null)
}

fn check_fields(object: &serde_json::Map<String, Value>) -> Result<(), ApiError> {
    if let Some(icon) = object.get("icon_key").and_then(Value::as_str)
        && !ICON_KEYS.contains(&icon)
    {
        return Err(ApiError::invalid("icon_key", format!("'{icon}' is not a known icon key")));
    }
    if let Some(color) = object.get("color").and_then(Value::as_str)
        && !(color.len() == 6 && color.bytes().all(|byte| byte.is_ascii_hexdigit()))
    {
        return Err(ApiError::invalid("color", "must be 6 hex digits, such as FFFFFF"));
    }
    Ok(())
}

/// The `key_string` Pipedrive derives from a name: lower case, words joined by `_`, unique.
fn key_string(ctx: &Ctx, name: &str) -> String {
    let base: String = name
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join("_");
    let base = if base.is_empty() { "activity".to_owned() } else { base };
    let taken = |key: &str| ctx.account.activity_types.values().any(|kind| kind["key_string"] == json!(key));
    let mut candidate = base.clone();
    let mut counter = 1;
    while taken(&candidate) {
        counter += 1;
        candidate = format!("{base}{counter}");
    }
    candidate
}

pub fn create_activity_type(ctx: &mut Ctx) -> ApiResult {
    let body = ctx.body.json()?;
    let object = check_object(
        body,
        &[prop("name", Kind::String), prop("icon_key", Kind::String), nullable("color", Kind::String)],
        "",
    )?
    .clone();
    let name = require(&object, "name")?.as_str().unwrap_or("").to_owned();
    require(&object, "icon_key")?;
    check_fields(&object)?;
    let key = key_string(ctx, &name);
    let order_nr =
        ctx.account.activity_types.values().filter_map(|kind| kind["order_nr"].as_u64()).max().unwrap_or(0) + 1;
    let id = ctx.account.next_id("activity_types");
    let stamp = clock::rfc3339(ctx.now);
    let record = json!({"id": id, "name": name, "icon_key": object["icon_key"], "color": object.get("color").cloned().unwrap_or(Value::Null),
        "order_nr": order_nr, "key_string": key, "active_flag": true, "is_custom_flag": true, "add_time": stamp, "update_time": stamp});
    ctx.account.activity_types.insert(id, record.clone());
    ok(record)
}

pub fn update_activity_type(ctx: &mut Ctx) -> ApiResult {
    let id = ctx.id().map_err(|_| ApiError::not_found("Activity type"))?;
    let body = ctx.body.json()?;
    let object = check_object(
        body,
        &[
            prop("name", Kind::String),
            prop("icon_key", Kind::String),
            nullable("color", Kind::String),
            prop("order_nr", Kind::Integer),
        ],
        "",
    )?
    .clone();
    check_fields(&object)?;
    let stamp = clock::rfc3339(ctx.now);
    let record = ctx
        .account
        .activity_types
        .get_mut(&id)
        .filter(|kind| kind["active_flag"] == json!(true))
        .ok_or_else(|| ApiError::not_found("Activity type"))?;
    for (key, value) in object {
        record[key] = value;
    }
    record["update_time"] = json!(stamp);
    ok(record.clone())
}

pub fn delete_activity_type(ctx: &mut Ctx) -> ApiResult {
    let id = ctx.id().map_err(|_| ApiError::not_found("Activity type"))?;
    let stamp = clock::rfc3339(ctx.now);
    let record = ctx.account.activity_types.get_mut(&id).ok_or_else(|| ApiError::not_found("Activity type"))?;
    record["active_flag"] = json!(false);
    record["update_time"] = json!(stamp);
    ok(record.clone())
}
