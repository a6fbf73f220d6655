//! API v1 organization relationships (`/organizationRelationships`, v1.yaml's
//! OrganizationRelationships tag): GET list of one organization's (`org_id` required), POST,
//! GET `{id}`, DELETE `{id}`. With type `parent` the owner (`rel_owner_org_id`) is the parent and
//! the linked organization (`rel_linked_org_id`) its daughter. Answers carry each organization as
//! the spec's `relationshipOrganizationInfoItem` (`name`, `people_count`, `owner_id`, `address`,
//! `cc_email`, `value`: its id), `active_flag` as the string the spec types it as, the calculated
//! type and related organization seen from `org_id`, and `related_objects.organization`.
//! Delete marks `active_flag` false: the relationship is gone from lists and from GET `{id}`.

use super::Ctx;
use super::notes::v1_integer;
use crate::clock;
use crate::envelope::{ApiError, ApiResult, Reply};
use crate::store::Account;
use serde_json::{Map, Value, json};

const TYPES: [&str; 2] = ["parent", "related"];

fn not_found() -> ApiError {
    ApiError::not_found("Organization relationship")
}

/// An organization as a relationship shows it (`relationshipOrganizationInfoItem`).
fn organization_info(account: &Account, id: u64) -> Value {
    let organization = account.organizations.get(id).unwrap_or(Value::Null);
    let persons = &account.persons;
    let people = persons
        .ids_by(id)
        .filter(|person| persons.packed_of(*person).is_some_and(|person| person.get("is_deleted") != json!(true)))
        .count();
    let address = match &organization["address"] {
        Value::Object(address) => address.get("value").cloned().unwrap_or(Value::Null),
        Value::String(address) => json!(address),
        _ => Value::Null,
    };
    json!({
        "name": organization["name"], "people_count": people, "owner_id": organization["owner_id"], "address": address,
        "active_flag": organization["is_deleted"] != json!(true), "cc_email": null, "value": id,
    })
}

/// The stored relationship as the API answers it; `base`: the organization the calculated
/// fields are seen from (`org_id`).
fn render(account: &Account, stored: &Value, base: Option<u64>) -> Value {
    let (owner, linked) =
        (stored["rel_owner_org_id"].as_u64().unwrap_or(0), stored["rel_linked_org_id"].as_u64().unwrap_or(0));
    let mut rendered = stored.clone();
    rendered["rel_owner_org_id"] = organization_info(account, owner);
    rendered["rel_linked_org_id"] = organization_info(account, linked);
    rendered["active_flag"] = json!(if stored["active_flag"] == json!(false) { "false" } else { "true" });
    if let Some(base) = base.filter(|base| *base == owner || *base == linked) {
        let (related, calculated) = match stored["type"].as_str() {
            Some("parent") if base == owner => (linked, "daughter"),
            Some("parent") => (owner, "parent"),
            _ => (if base == owner { linked } else { owner }, "related"),
        };
        rendered["calculated_type"] = json!(calculated);
        rendered["calculated_related_org_id"] = json!(related);
        rendered["related_organization_name"] =
            account.organizations.packed_of(related).map_or(Value::Null, |organization| organization.get("name"));
    }
    rendered
}

/// `related_objects.organization`: each organization the relationships name, by id.
fn related_objects(account: &Account, relationships: &[&Value]) -> Value {
    let mut organizations = Map::new();
    for relationship in relationships {
        for key in ["rel_owner_org_id", "rel_linked_org_id"] {
            if let Some(id) = relationship[key].as_u64() {
                let mut info = organization_info(account, id);
                if let Some(info) = info.as_object_mut() {
                    info.remove("value");
                    info.insert("id".into(), json!(id));
                }
                organizations.insert(id.to_string(), info);
            }
        }
    }
    json!({ "organization": organizations })
}

fn query_org_id(ctx: &Ctx, required: bool) -> Result<Option<u64>, ApiError> {
    match ctx.query.get("org_id") {
        Some(text) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| ApiError::invalid("org_id", format!("'{text}' is not an integer"))),
        None if required => Err(ApiError::invalid("org_id", "is required")),
        None => Ok(None),
    }
}

fn live(account: &Account, id: u64) -> Option<&Value> {
    account.organization_relationships.get(&id).filter(|relationship| relationship["active_flag"] != json!(false))
}

pub fn create(ctx: &mut Ctx) -> ApiResult {
    let body = ctx
        .body
        .json()?
        .as_object()
        .cloned()
        .ok_or_else(|| ApiError::bad_request("Validation failed: body: must be a JSON object"))?;
    for key in body.keys() {
        if !matches!(key.as_str(), "type" | "rel_owner_org_id" | "rel_linked_org_id" | "org_id") {
            return Err(ApiError::invalid(key, "is not an allowed property of this request"));
        }
    }
    let kind = match body.get("type") {
        None | Some(Value::Null) => return Err(ApiError::invalid("type", "is required")),
        Some(Value::String(kind)) if TYPES.contains(&kind.as_str()) => kind.clone(),
        Some(other) => return Err(ApiError::invalid("type", format!("must be one of parent, related, got {other}"))),
    };
    let mut ids = [0u64; 2];
    for (slot, key) in ids.iter_mut().zip(["rel_owner_org_id", "rel_linked_org_id"]) {
        let id = v1_integer(key, body.get(key).unwrap_or(&Value::Null))?
            .ok_or_else(|| ApiError::invalid(key, "is required"))?;
        if !ctx.account.organizations.has_live(id) {
            return Err(ApiError::invalid(key, format!("organization {id} does not exist")));
        }
        *slot = id;
    }
    let [owner, linked] = ids;
    if owner == linked {
        return Err(ApiError::invalid("rel_linked_org_id", "an organization cannot be related to itself"));
    }
    let base = match body.get("org_id") {
        Some(value) => v1_integer("org_id", value)?,
        None => None,
    };
    let id = ctx.account.next_id("organization_relationships");
    let stamp = clock::v1_time(ctx.now);
    let stored = json!({
        "id": id, "type": kind, "rel_owner_org_id": owner, "rel_linked_org_id": linked,
        "add_time": stamp, "update_time": stamp, "active_flag": true,
    });
    ctx.account.organization_relationships.insert(id, stored.clone());
    let data = render(ctx.account, &stored, base);
    Ok(Reply {
        status: 200,
        body: json!({"success": true, "data": data, "related_objects": related_objects(ctx.account, &[&stored])}),
    })
}

pub fn list(ctx: &mut Ctx) -> ApiResult {
    let org_id = query_org_id(ctx, true)?.unwrap_or(0);
    let relationships: Vec<&Value> = ctx
        .account
        .organization_relationships
        .values()
        .filter(|relationship| relationship["active_flag"] != json!(false))
        .filter(|relationship| {
            relationship["rel_owner_org_id"].as_u64() == Some(org_id)
                || relationship["rel_linked_org_id"].as_u64() == Some(org_id)
        })
        .collect();
    let data: Vec<Value> =
        relationships.iter().map(|relationship| render(ctx.account, relationship, Some(org_id))).collect();
    let pagination = json!({"start": 0, "limit": data.len().max(100), "more_items_in_collection": false});
    let related = related_objects(ctx.account, &relationships);
    Ok(Reply {
        status: 200,
        body: json!({"success": true, "data": data, "additional_data": {"pagination": pagination}, "related_objects": related}),
    })
}

pub fn get(ctx: &mut Ctx) -> ApiResult {
    let id = ctx.id().map_err(|_| not_found())?;
    let base = query_org_id(ctx, false)?;
    let stored = live(ctx.account, id).ok_or_else(not_found)?;
    let data = render(ctx.account, stored, base);
    Ok(Reply {
        status: 200,
        body: json!({"success": true, "data": data, "related_objects": related_objects(ctx.account, &[stored])}),
    })
}

pub fn delete(ctx: &mut Ctx) -> ApiResult {
    let id = ctx.id().map_err(|_| not_found())?;
    let stamp = clock::v1_time(ctx.now);
    live(ctx.account, id).ok_or_else(not_found)?;
    if let Some(relationship) = ctx.account.organization_relationships.get_mut(&id) {
        relationship["active_flag"] = json!(false);
        relationship["update_time"] = json!(stamp);
    }
    crate::envelope::ok(json!({ "id": id }))
}
