//! API v1 notes: attached to a person, organization or deal; `add_time` may be set (past or
//! future, `YYYY-MM-DD HH:MM:SS` UTC); delete marks `active_flag: false`.

use super::Ctx;
use crate::clock;
use crate::envelope::{ApiError, ApiResult, OffsetPage, ok, ok_with};
use crate::store::Account;
use crate::table::{Packed, Table};
use crate::validate::json_type;
use serde_json::{Map, Value, json};

/// v1 is lenient: an id may come as a number or a numeric string.
pub fn v1_integer(key: &str, value: &Value) -> Result<Option<u64>, ApiError> {
    match value {
        Value::Null => Ok(None),
        Value::Number(number) => {
            number.as_u64().map(Some).ok_or_else(|| ApiError::invalid(key, "must be a positive integer"))
        }
        Value::String(text) => {
            text.trim().parse().map(Some).map_err(|_| ApiError::invalid(key, format!("'{text}' is not an integer")))
        }
        other => Err(ApiError::invalid(key, format!("Expected 'integer' but got '{}'", json_type(other)))),
    }
}

fn v1_flag(key: &str, value: &Value) -> Result<bool, ApiError> {
    match value {
        Value::Bool(flag) => Ok(*flag),
        Value::Number(number) if number.as_u64() == Some(0) || number.as_u64() == Some(1) => {
            Ok(number.as_u64() == Some(1))
        }
        Value::String(text) if text == "0" || text == "1" => Ok(text == "1"),
        other => Err(ApiError::invalid(key, format!("must be 0 or 1, got {other}"))),
    }
}

const TARGETS: [(&str, &str); 3] = [("person_id", "person"), ("org_id", "organization"), ("deal_id", "deal")];
const PINS: [&str; 6] = [
    "pinned_to_lead_flag",
    "pinned_to_deal_flag",
    "pinned_to_organization_flag",
    "pinned_to_person_flag",
    "pinned_to_project_flag",
    "pinned_to_task_flag",
];

fn render(account: &Account, note: &Value, me: u64) -> Value {
    let mut rendered = note.clone();
    let name_of = |table: &Table, key: &str, property: &str| {
        note[key]
            .as_u64()
            .and_then(|id| table.packed_of(id))
            .map(|record| json!({ property: record.get(property) }))
            .unwrap_or(Value::Null)
    };
    rendered["person"] = name_of(&account.persons, "person_id", "name");
    rendered["organization"] = name_of(&account.organizations, "org_id", "name");
    rendered["deal"] = name_of(&account.deals, "deal_id", "title");
    rendered["user"] = note["user_id"]
        .as_u64()
        .and_then(|id| account.user(id))
        .map(|user| json!({"email": user.email, "name": user.name, "icon_url": null, "is_you": user.id == me}))
        .unwrap_or(Value::Null);
    rendered
}

fn apply(ctx: &Ctx, body: &Map<String, Value>, note: &mut Map<String, Value>) -> Result<(), ApiError> {
    for (key, value) in body {
        let key = key.as_str();
        match key {
            "content" => {
                let Some(content) = value.as_str().filter(|content| !content.trim().is_empty()) else {
                    return Err(ApiError::invalid(key, "must be a non-empty string"));
                };
                note.insert(key.into(), json!(content));
            }
            "person_id" | "org_id" | "deal_id" => {
                let id = v1_integer(key, value)?;
                if let Some(id) = id {
                    let table = match key {
                        "person_id" => &ctx.account.persons,
                        "org_id" => &ctx.account.organizations,
                        _ => &ctx.account.deals,
                    };
                    if !table.has_live(id) {
                        let what = TARGETS
                            .iter()
                            .find(|(target, _)| *target == key)
                            .map(|(_, what)| *what)
                            .unwrap_or("entity");
                        return Err(ApiError::invalid(key, format!("{what} {id} does not exist")));
                    }
                }
                note.insert(key.into(), json!(id));
            }
            "lead_id" | "project_id" | "task_id" => {
                if !value.is_null() {
                    return Err(ApiError::invalid(
                        key,
                        format!("{value} does not exist (the sandbox keeps no leads, projects or tasks)"),
                    ));
                }
            }
            "user_id" => {
                let id = v1_integer(key, value)?.unwrap_or(ctx.user_id);
                if ctx.account.user(id).is_none() {
                    return Err(ApiError::invalid(key, format!("user {id} does not exist")));
                }
                note.insert(key.into(), json!(id));
            }
            "add_time" => {
                let Some(seconds) = value.as_str().and_then(clock::parse_v1_time) else {
                    return Err(ApiError::invalid(key, "must be in the format YYYY-MM-DD HH:MM:SS (UTC)"));
                };
                note.insert(key.into(), json!(clock::v1_time(seconds)));
            }
            pin if PINS.contains(&pin) => {
                note.insert(key.into(), json!(v1_flag(key, value)?));
            }
            other => return Err(ApiError::invalid(other, "is not an allowed property of this request")),
        }
    }
    if !TARGETS.iter().any(|(key, _)| note.get(*key).is_some_and(|value| !value.is_null())) {
        return Err(ApiError::bad_request(
            "Validation failed: one of deal_id, person_id, org_id, lead_id, project_id, task_id is required",
        ));
    }
    note.insert("last_update_user_id".into(), json!(ctx.user_id));
    note.insert("update_time".into(), json!(clock::v1_time(ctx.now)));
    Ok(())
}

pub fn create(ctx: &mut Ctx) -> ApiResult {
    let body = ctx
        .body
        .json()?
        .as_object()
        .cloned()
        .ok_or_else(|| ApiError::bad_request("Validation failed: body: must be a JSON object"))?;
    if body.get("content").is_none() {
        return Err(ApiError::invalid("content", "is required"));
    }
    crate::capping::note_size(ctx, "content", body.get("content"))?;
    let id = ctx.account.last_ids.get("notes").copied().unwrap_or(0) + 1;
    let stamp = clock::v1_time(ctx.now);
    let mut note = json!({
        "id": id, "active_flag": true, "add_time": stamp, "content": "", "lead_id": null, "deal_id": null, "org_id": null,
        "person_id": null, "project_id": null, "task_id": null, "last_update_user_id": ctx.user_id, "user_id": ctx.user_id,
        "pinned_to_lead_flag": false, "pinned_to_deal_flag": false, "pinned_to_organization_flag": false,
        "pinned_to_person_flag": false, "pinned_to_project_flag": false, "pinned_to_task_flag": false, "update_time": stamp,
    })
    .as_object()
    .cloned()
    .unwrap_or_default();
    apply(ctx, &body, &mut note)?;
    ctx.account.next_id("notes");
    let note = Value::Object(note);
    ctx.account.notes.insert(id, &note);
    ok(render(ctx.account, &note, ctx.user_id))
}

pub fn get(ctx: &mut Ctx) -> ApiResult {
    let id = ctx.id().map_err(|_| ApiError::not_found("Note"))?;
    let note = ctx.account.notes.live(id).ok_or_else(|| ApiError::not_found("Note"))?;
    ok(render(ctx.account, &note, ctx.user_id))
}

pub fn update(ctx: &mut Ctx) -> ApiResult {
    let id = ctx.id().map_err(|_| ApiError::not_found("Note"))?;
    let body = ctx
        .body
        .json()?
        .as_object()
        .cloned()
        .ok_or_else(|| ApiError::bad_request("Validation failed: body: must be a JSON object"))?;
    let mut note = match ctx.account.notes.live(id) {
        Some(Value::Object(note)) => note,
        _ => return Err(ApiError::not_found("Note")),
    };
    crate::capping::note_size(ctx, "content", body.get("content"))?;
    apply(ctx, &body, &mut note)?;
    let note = Value::Object(note);
    ctx.account.notes.insert(id, &note);
    ok(render(ctx.account, &note, ctx.user_id))
}

pub fn delete(ctx: &mut Ctx) -> ApiResult {
    let id = ctx.id().map_err(|_| ApiError::not_found("Note"))?;
    let stamp = clock::v1_time(ctx.now);
    let notes = &mut ctx.account.notes;
    if notes.packed_of(id).is_none_or(|note| note.get("active_flag") != json!(true)) {
        return Err(ApiError::not_found("Note"));
    }
    notes.modify(id, |note| {
        note["active_flag"] = json!(false);
        note["update_time"] = json!(stamp);
    });
    ok(json!(true))
}

pub fn list(ctx: &mut Ctx) -> ApiResult {
    let mut filters = Vec::new();
    for key in ["user_id", "deal_id", "person_id", "org_id"] {
        if let Some(text) = ctx.query.get(key) {
            let id: u64 = text.parse().map_err(|_| ApiError::invalid(key, format!("'{text}' is not an integer")))?;
            filters.push((key, id));
        }
    }
    let updated_since = match ctx.query.get("updated_since") {
        None => None,
        Some(text) => Some(
            clock::parse_rfc3339(text)
                .ok_or_else(|| ApiError::invalid("updated_since", "is not an RFC 3339 date-time"))?,
        ),
    };
    let (sort_key, descending) = match ctx.query.get("sort").map(|text| text.trim().to_owned()) {
        None => ("id".to_owned(), false),
        Some(text) => {
            let mut parts = text.split_whitespace();
            let key = parts.next().unwrap_or("id").to_owned();
            if !matches!(key.as_str(), "id" | "add_time" | "update_time" | "user_id" | "content") {
                return Err(ApiError::invalid("sort", format!("cannot sort by '{key}'")));
            }
            (key, parts.next().is_some_and(|direction| direction.eq_ignore_ascii_case("desc")))
        }
    };
    // Reads only the properties the filters ask about; only the page's notes are unpacked.
    let matches = |note: &Packed| {
        note.get("active_flag") == json!(true)
            && filters.iter().all(|(key, id)| note.get(key).as_u64() == Some(*id))
            && updated_since.is_none_or(|since| {
                note.get("update_time").as_str().and_then(clock::parse_v1_time).unwrap_or(0) >= since
            })
    };
    let page = OffsetPage::from_query(ctx.query, 500)?;
    let notes = &ctx.account.notes;
    let (ids, additional) = if sort_key == "id" {
        let list = format!("{filters:?} {updated_since:?} {descending}");
        let (walk, passed) = notes.walk_at(&list, page.start, descending);
        let (ids, additional) = page.cut(walk.filter(|(_, note)| matches(note)).map(|(id, _)| id), passed);
        if let Some(last) = ids.last() {
            ctx.account.notes.remember_end(&list, page.start + ids.len(), *last);
        }
        (ids, additional)
    } else {
        let mut keys: Vec<(Value, u64)> =
            notes.iter().filter(|(_, note)| matches(note)).map(|(id, note)| (note.get(&sort_key), id)).collect();
        keys.sort_by(|(a, a_id), (b, b_id)| {
            let ordering = match (a, b) {
                (Value::String(x), Value::String(y)) => x.cmp(y),
                (x, y) => x.as_u64().cmp(&y.as_u64()),
            }
            .then(a_id.cmp(b_id));
            if descending { ordering.reverse() } else { ordering }
        });
        page.cut(keys.into_iter().map(|(_, id)| id), 0)
    };
    let account = &*ctx.account;
    let rendered = ids
        .into_iter()
        .filter_map(|id| account.notes.get(id))
        .map(|note| render(account, &note, ctx.user_id))
        .collect();
    ok_with(Value::Array(rendered), additional)
}
