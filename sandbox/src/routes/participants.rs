//! API v1 deal participants (`/deals/{id}/participants`: GET list, POST, DELETE
//! `{deal_participant_id}`; v1.yaml's Deals tag), in the spec's `dealParticipantItem` shape:
//! the person as `person_id` (`{name, email, phone, owner_id, active_flag, value}`) and as
//! `person`, the deal as `related_item_data`. Only persons added through this call are
//! listed (the deal's own person is not). Adding a person twice makes two entries, as nothing
//! in the spec forbids it; a deleted entry is gone from the list.

use super::Ctx;
use super::notes::v1_integer;
use crate::clock;
use crate::envelope::{ApiError, ApiResult, v1_page};
use crate::store::Account;
use serde_json::{Value, json};

fn deal_of_path(ctx: &Ctx) -> Result<u64, ApiError> {
    let id = ctx.id().map_err(|_| ApiError::not_found("Deal"))?;
    if !ctx.account.deals.has_live(id) {
        return Err(ApiError::not_found("Deal"));
    }
    Ok(id)
}

/// v1 contact points from the stored v2 ones (`[{value, primary, label}]`).
fn points(person: &Value, key: &str) -> Value {
    person[key].as_array().cloned().map_or(json!([]), Value::Array)
}

fn render(account: &Account, stored: &Value) -> Value {
    let person_id = stored["person_id"].as_u64().unwrap_or(0);
    let person = account.persons.get(person_id).unwrap_or(Value::Null);
    let deal_id = stored["deal_id"].as_u64().unwrap_or(0);
    let title = account.deals.packed_of(deal_id).map_or(Value::Null, |deal| deal.get("title"));
    let name = person["name"].clone();
    let active = person["is_deleted"] != json!(true);
    json!({
        "id": stored["id"],
        "person_id": {
            "active_flag": active, "name": name, "email": points(&person, "emails"), "phone": points(&person, "phones"),
            "owner_id": person["owner_id"], "value": person_id,
        },
        "add_time": stored["add_time"],
        "active_flag": stored["active_flag"],
        "related_item_data": { "deal_id": deal_id, "title": title },
        "person": {
            "id": person_id, "active_flag": active, "name": name, "email": points(&person, "emails"),
            "phone": points(&person, "phones"),
            "first_char": name.as_str().and_then(|name| name.chars().next()).map(|first| first.to_lowercase().to_string()),
            "add_time": person["add_time"], "update_time": person["update_time"], "visible_to": "3",
        },
        "related_item_type": "deal",
        "related_item_id": deal_id,
    })
}

pub fn add(ctx: &mut Ctx) -> ApiResult {
    let deal_id = deal_of_path(ctx)?;
    let body = ctx
        .body
        .json()?
        .as_object()
        .cloned()
        .ok_or_else(|| ApiError::bad_request("Validation failed: body: must be a JSON object"))?;
    let person_id = v1_integer("person_id", body.get("person_id").unwrap_or(&Value::Null))?
        .ok_or_else(|| ApiError::invalid("person_id", "is required"))?;
    if !ctx.account.persons.has_live(person_id) {
        return Err(ApiError::invalid("person_id", format!("person {person_id} does not exist")));
    }
    let id = ctx.account.next_id("deal_participants");
    let stored = json!({"id": id, "deal_id": deal_id, "person_id": person_id, "add_time": clock::v1_time(ctx.now), "active_flag": true});
    ctx.account.deal_participants.insert(id, stored.clone());
    crate::envelope::ok(render(ctx.account, &stored))
}

pub fn list(ctx: &mut Ctx) -> ApiResult {
    let deal_id = deal_of_path(ctx)?;
    let entries: Vec<Value> = ctx
        .account
        .deal_participants
        .values()
        .filter(|entry| entry["deal_id"] == json!(deal_id) && entry["active_flag"] != json!(false))
        .map(|entry| render(ctx.account, entry))
        .collect();
    let (data, additional) = v1_page(entries, ctx.query, 500)?;
    crate::envelope::ok_with(Value::Array(data), additional)
}

pub fn delete(ctx: &mut Ctx) -> ApiResult {
    let deal_id = deal_of_path(ctx)?;
    let entry_id: u64 =
        ctx.params.get(1).and_then(|id| id.parse().ok()).ok_or_else(|| ApiError::not_found("Participant"))?;
    match ctx.account.deal_participants.get_mut(&entry_id) {
        Some(entry) if entry["deal_id"] == json!(deal_id) && entry["active_flag"] != json!(false) => {
            entry["active_flag"] = json!(false);
        }
        _ => return Err(ApiError::not_found("Participant")),
    }
    crate::envelope::ok(json!({ "id": entry_id }))
}
