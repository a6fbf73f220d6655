//! API v2 persons, organizations, deals and activities: list (cursor pagination and the main
//! filters), create, get, patch and soft delete, with v2's strict typing and reference checks.

use super::Ctx;
use crate::clock;
use crate::custom;
use crate::envelope::{ApiError, ApiResult, CursorPage, SortKey, ok, ok_with};
use crate::store::{Account, Entity};
use crate::table::Packed;
use crate::validate::{Kind, Prop, check_object, nullable, prop, query_boolean, query_ids, query_integer, require};
use serde_json::{Map, Value, json};

const PERSON_PROPS: &[Prop] = &[
    prop("name", Kind::String),
    prop("owner_id", Kind::Integer),
    nullable("org_id", Kind::Integer),
    prop("add_time", Kind::DateTime),
    prop("emails", Kind::ObjectArray),
    prop("phones", Kind::ObjectArray),
    prop("visible_to", Kind::Integer),
    prop("label_ids", Kind::IntegerArray),
    nullable("postal_address", Kind::Object),
    nullable("notes", Kind::String),
    prop("im", Kind::ObjectArray),
    nullable("birthday", Kind::Date),
    nullable("job_title", Kind::String),
    prop("marketing_status", Kind::String),
    prop("custom_fields", Kind::Object),
];

const ORGANIZATION_PROPS: &[Prop] = &[
    prop("name", Kind::String),
    prop("owner_id", Kind::Integer),
    prop("add_time", Kind::DateTime),
    prop("visible_to", Kind::Integer),
    prop("label_ids", Kind::IntegerArray),
    nullable("address", Kind::Object),
    nullable("website", Kind::String),
    nullable("linkedin", Kind::String),
    nullable("industry", Kind::Integer),
    nullable("annual_revenue", Kind::Integer),
    nullable("employee_count", Kind::Integer),
    prop("custom_fields", Kind::Object),
];

const DEAL_PROPS: &[Prop] = &[
    prop("title", Kind::String),
    prop("owner_id", Kind::Integer),
    nullable("person_id", Kind::Integer),
    nullable("org_id", Kind::Integer),
    prop("pipeline_id", Kind::Integer),
    prop("stage_id", Kind::Integer),
    prop("value", Kind::Number),
    prop("currency", Kind::String),
    prop("is_deleted", Kind::Boolean),
    prop("is_archived", Kind::Boolean),
    nullable("archive_time", Kind::String),
    prop("status", Kind::String),
    nullable("probability", Kind::Number),
    nullable("lost_reason", Kind::String),
    prop("visible_to", Kind::Integer),
    nullable("close_time", Kind::DateTime),
    nullable("won_time", Kind::DateTime),
    nullable("lost_time", Kind::DateTime),
    nullable("expected_close_date", Kind::Date),
    prop("label_ids", Kind::IntegerArray),
    prop("custom_fields", Kind::Object),
];

const ACTIVITY_PROPS: &[Prop] = &[
    prop("subject", Kind::String),
    prop("type", Kind::String),
    prop("owner_id", Kind::Integer),
    nullable("deal_id", Kind::Integer),
    nullable("lead_id", Kind::String),
    nullable("org_id", Kind::Integer),
    nullable("project_id", Kind::Integer),
    nullable("due_date", Kind::Date),
    nullable("due_time", Kind::String),
    nullable("duration", Kind::String),
    prop("busy", Kind::Boolean),
    prop("done", Kind::Boolean),
    nullable("location", Kind::Object),
    prop("participants", Kind::ObjectArray),
    prop("attendees", Kind::ObjectArray),
    nullable("public_description", Kind::String),
    nullable("priority", Kind::Integer),
    nullable("note", Kind::String),
];

fn props(entity: Entity) -> &'static [Prop] {
    match entity {
        Entity::Person => PERSON_PROPS,
        Entity::Organization => ORGANIZATION_PROPS,
        Entity::Deal => DEAL_PROPS,
        Entity::Activity => ACTIVITY_PROPS,
    }
}

fn collection(entity: Entity) -> &'static str {
    match entity {
        Entity::Person => "persons",
        Entity::Organization => "organizations",
        Entity::Deal => "deals",
        Entity::Activity => "activities",
    }
}

fn render_options(ctx: &Ctx) -> Result<(bool, Option<Vec<String>>), ApiError> {
    let labels = query_boolean(ctx.query, "include_option_labels")?.unwrap_or(false);
    let only = match ctx.query.get("custom_fields") {
        None => None,
        Some(text) => {
            let codes: Vec<String> =
                text.split(',').map(|code| code.trim().to_owned()).filter(|code| !code.is_empty()).collect();
            if codes.len() > 15 {
                return Err(ApiError::invalid("custom_fields", "at most 15 custom field keys are allowed"));
            }
            Some(codes)
        }
    };
    Ok((labels, only))
}

/// What a read returns: a person's marketing status only when `include_fields` names it, as
/// Pipedrive answers (so a client that does not ask cannot see it).
fn render_read(ctx: &Ctx, entity: Entity, stored: Value) -> Result<Value, ApiError> {
    let mut rendered = render(ctx, entity, stored)?;
    let asked =
        ctx.query.get("include_fields").is_some_and(|fields| fields.split(',').any(|f| f.trim() == "marketing_status"));
    if let (Entity::Person, false, Some(object)) = (entity, asked, rendered.as_object_mut()) {
        object.remove("marketing_status");
    }
    Ok(rendered)
}

fn render(ctx: &Ctx, entity: Entity, stored: Value) -> Result<Value, ApiError> {
    let (labels, only) = render_options(ctx)?;
    Ok(ctx.account.render_v2(entity, stored, labels, only.as_deref()))
}

pub fn list(ctx: &mut Ctx, entity: Entity) -> ApiResult {
    if ctx.query.contains_key("filter_id") {
        return Err(ApiError::invalid("filter_id", "filters are not simulated by the sandbox"));
    }
    let sortable: &[&str] = if entity == Entity::Activity {
        &["id", "update_time", "add_time", "due_date"]
    } else {
        &["id", "update_time", "add_time"]
    };
    let page = CursorPage::from_query(ctx.query, sortable)?;
    let ids = query_ids(ctx.query)?;
    let owner_id = query_integer(ctx.query, "owner_id")?;
    let org_id = query_integer(ctx.query, "org_id")?;
    let person_id = query_integer(ctx.query, "person_id")?;
    let deal_id = query_integer(ctx.query, "deal_id")?;
    let pipeline_id = query_integer(ctx.query, "pipeline_id")?;
    let stage_id = query_integer(ctx.query, "stage_id")?;
    let done = query_boolean(ctx.query, "done")?;
    let time_bound = |name: &str| -> Result<Option<i64>, ApiError> {
        match ctx.query.get(name) {
            None => Ok(None),
            Some(text) => clock::parse_rfc3339(text)
                .map(Some)
                .ok_or_else(|| ApiError::invalid(name, format!("'{text}' is not an RFC 3339 date-time"))),
        }
    };
    let updated_since = time_bound("updated_since")?;
    let updated_until = time_bound("updated_until")?;
    let status = ctx.query.get("status").map(String::as_str);
    if entity == Entity::Deal && !matches!(status, None | Some("open" | "won" | "lost" | "deleted")) {
        return Err(ApiError::invalid("status", "must be one of open, won, lost, deleted"));
    }
    let account = &*ctx.account;
    // Reads only the properties a filter asks about: most records a page walks past are not
    // unpacked at all.
    let matches = |id: u64, record: Packed| -> bool {
        let deleted = record.get("is_deleted") == json!(true);
        if entity == Entity::Deal && status == Some("deleted") {
            if !deleted {
                return false;
            }
        } else if deleted {
            return false;
        }
        if entity == Entity::Deal
            && matches!(status, Some("open" | "won" | "lost"))
            && record.get("status") != json!(status)
        {
            return false;
        }
        if entity == Entity::Deal && record.get("is_archived") == json!(true) {
            return false;
        }
        let equals =
            |key: &str, wanted: Option<i64>| wanted.is_none_or(|wanted| record.get(key).as_i64() == Some(wanted));
        if ids.as_ref().is_some_and(|ids| !ids.contains(&id)) {
            return false;
        }
        let linked_to_deal = |deal: i64| {
            account
                .deals
                .packed_of(deal as u64)
                .is_some_and(|deal| deal.is_live() && deal.get("person_id").as_u64() == Some(id))
        };
        let person_matches = match entity {
            Entity::Activity => person_id.is_none_or(|person| record.get("person_id").as_i64() == Some(person)),
            _ => equals("person_id", person_id),
        };
        let deal_matches = match entity {
            Entity::Person => deal_id.is_none_or(linked_to_deal),
            _ => equals("deal_id", deal_id),
        };
        let update_time = || record.get("update_time").as_str().and_then(clock::parse_rfc3339).unwrap_or(0);
        equals("owner_id", owner_id)
            && equals("org_id", org_id)
            && person_matches
            && deal_matches
            && equals("pipeline_id", pipeline_id)
            && equals("stage_id", stage_id)
            && done.is_none_or(|done| record.get("done") == json!(done))
            && updated_since.is_none_or(|since| update_time() >= since)
            && updated_until.is_none_or(|until| update_time() < until)
    };
    let table = account.table(entity);
    let (items, additional) = match page.id_walk() {
        // Sorted by id: walk the table from the cursor, up to the page and one more match.
        Some(after) => page.walked(
            table
                .walk(after, page.descending)
                .filter(|(id, record)| matches(*id, *record))
                .take(page.limit + 1)
                .map(|(_, record)| record.value())
                .collect(),
        ),
        // Another sort: the sort key of every match, the page cut from those, then its records.
        None => {
            let keys: Vec<SortKey> = table
                .iter()
                .filter(|(id, record)| matches(*id, *record))
                .map(|(id, record)| SortKey { value: record.get(&page.sort_by), id })
                .collect();
            let (keys, additional) = page.page(keys);
            (keys.iter().filter_map(|key| table.get(key.id)).collect(), additional)
        }
    };
    let rendered: Result<Vec<Value>, ApiError> = items.into_iter().map(|item| render_read(ctx, entity, item)).collect();
    ok_with(Value::Array(rendered?), additional)
}

pub fn get(ctx: &mut Ctx, entity: Entity) -> ApiResult {
    let id = ctx.id()?;
    let stored = ctx.account.table(entity).get(id).ok_or_else(ApiError::entity_not_found)?;
    ok(render_read(ctx, entity, stored)?)
}

pub fn create(ctx: &mut Ctx, entity: Entity) -> ApiResult {
    let body = ctx.body.json()?.clone();
    match entity {
        Entity::Deal => crate::capping::deal_room(ctx)?,
        Entity::Activity => crate::capping::note_size(ctx, "note", body.get("note"))?,
        _ => {}
    }
    let id = ctx.account.last_ids.get(collection(entity)).copied().unwrap_or(0) + 1;
    let record = write(ctx, entity, &body, None, id)?;
    ctx.account.next_id(collection(entity));
    ctx.account.table_mut(entity).insert(id, &record);
    ok(render(ctx, entity, record)?)
}

pub fn update(ctx: &mut Ctx, entity: Entity) -> ApiResult {
    let id = ctx.id()?;
    let existing = ctx.account.table(entity).live(id).ok_or_else(ApiError::entity_not_found)?;
    let body = ctx.body.json()?.clone();
    if entity == Entity::Activity {
        crate::capping::note_size(ctx, "note", body.get("note"))?;
    }
    if body.as_object().is_some_and(|object| object.is_empty()) {
        return Err(ApiError::bad_request("Validation failed: body: at least one property must be provided"));
    }
    let record = write(ctx, entity, &body, Some(&existing), id)?;
    ctx.account.table_mut(entity).insert(id, &record);
    ok(render(ctx, entity, record)?)
}

pub fn delete(ctx: &mut Ctx, entity: Entity) -> ApiResult {
    let id = ctx.id()?;
    let now = clock::rfc3339(ctx.now);
    let table = ctx.account.table_mut(entity);
    let deleted = table.packed_of(id).ok_or_else(ApiError::entity_not_found)?.get("is_deleted") == json!(true);
    if !deleted {
        table.modify(id, |record| {
            record["is_deleted"] = json!(true);
            record["update_time"] = json!(now);
            if entity == Entity::Deal {
                record["status"] = json!("deleted");
            }
        });
    }
    ok(json!({"id": id}))
}

/// Builds the stored record from the body (and the existing record on PATCH).
fn write(ctx: &Ctx, entity: Entity, body: &Value, existing: Option<&Value>, id: u64) -> Result<Value, ApiError> {
    if entity == Entity::Activity && body.get("person_id").is_some() {
        return Err(ApiError::bad_request(
            "'person_id' is a read-only field. Add a primary participant to set 'person_id' instead. For example: \"participants\": [{ \"person_id\": 1, \"primary\": true }]",
        ));
    }
    if entity == Entity::Deal && body.get("add_time").is_some() {
        return Err(ApiError::invalid(
            "add_time",
            "is not an allowed property of this request (API v2 deals do not accept add_time)",
        ));
    }
    let object = check_object(body, props(entity), "")?;
    let account = &*ctx.account;
    let now = clock::rfc3339(ctx.now);
    let mut record = match existing {
        Some(existing) => existing.as_object().cloned().unwrap_or_default(),
        None => defaults(ctx, entity, id, &now),
    };
    for (key, value) in object {
        let key = key.as_str();
        match key {
            "custom_fields" => {
                let mut stored = record.get("custom_fields").and_then(Value::as_object).cloned().unwrap_or_default();
                custom::apply(account, entity, value, &mut stored)?;
                record.insert("custom_fields".into(), Value::Object(stored));
            }
            "owner_id" => {
                let owner = value.as_u64().unwrap_or(0);
                if account.user(owner).is_none() {
                    return Err(ApiError::invalid(key, format!("user {owner} does not exist")));
                }
                record.insert(key.into(), value.clone());
            }
            "org_id" | "person_id" | "deal_id" if !value.is_null() => {
                let target = value.as_u64().unwrap_or(0);
                let (table, what) = match key {
                    "org_id" => (&account.organizations, "organization"),
                    "person_id" => (&account.persons, "person"),
                    _ => (&account.deals, "deal"),
                };
                if !table.has_live(target) {
                    return Err(ApiError::invalid(key, format!("{what} {target} does not exist")));
                }
                record.insert(key.into(), value.clone());
            }
            "lead_id" | "project_id" if !value.is_null() => {
                return Err(ApiError::invalid(
                    key,
                    format!("{} {value} does not exist (the sandbox has none)", key.trim_end_matches("_id")),
                ));
            }
            "label_ids" => {
                let label_field = account.field(entity, "label");
                for label in value.as_array().into_iter().flatten() {
                    let label = label.as_i64().unwrap_or(0);
                    if label_field.and_then(|field| field.option(label)).is_none() {
                        return Err(ApiError::invalid(
                            key,
                            format!("label {label} is not an option of the label field"),
                        ));
                    }
                }
                record.insert(key.into(), value.clone());
            }
            "visible_to" => {
                if !matches!(value.as_i64(), Some(1 | 3 | 5 | 7)) {
                    return Err(ApiError::invalid(key, format!("must be one of 1, 3, 5, 7, got {value}")));
                }
                record.insert(key.into(), value.clone());
            }
            "add_time" => {
                let seconds = value.as_str().and_then(clock::parse_rfc3339).unwrap_or(0);
                record.insert(key.into(), json!(clock::rfc3339(seconds)));
            }
            "name" | "title" => {
                if value.as_str().is_none_or(|text| text.trim().is_empty()) {
                    return Err(ApiError::invalid(key, "must not be empty"));
                }
                record.insert(key.into(), value.clone());
                if entity == Entity::Person {
                    let name = value.as_str().unwrap_or("").trim();
                    let (first, last) =
                        name.split_once(' ').map(|(first, last)| (first, last.trim())).unwrap_or((name, ""));
                    record.insert("first_name".into(), json!(first));
                    record.insert("last_name".into(), if last.is_empty() { Value::Null } else { json!(last) });
                }
            }
            "emails" | "phones" | "im" => {
                record.insert(key.into(), contact_list(key, value)?);
            }
            "postal_address" | "address" | "location" if !value.is_null() => {
                record.insert(key.into(), custom::address(key, value)?);
            }
            "marketing_status" => {
                if !matches!(value.as_str(), Some("no_consent" | "unsubscribed" | "subscribed" | "archived")) {
                    return Err(ApiError::invalid(
                        key,
                        "must be one of no_consent, unsubscribed, subscribed, archived",
                    ));
                }
                record.insert(key.into(), value.clone());
            }
            "status" => {
                if !matches!(value.as_str(), Some("open" | "won" | "lost")) {
                    return Err(ApiError::invalid(key, format!("must be one of open, won, lost, got {value}")));
                }
                record.insert(key.into(), value.clone());
            }
            "type" => {
                let known = account
                    .activity_types
                    .values()
                    .any(|kind| kind["key_string"] == *value && kind["active_flag"] == json!(true));
                if !known {
                    return Err(ApiError::invalid(
                        key,
                        format!("{value} is not the key_string of an active activity type"),
                    ));
                }
                record.insert(key.into(), value.clone());
            }
            "due_time" | "duration" if !value.is_null() => {
                if value.as_str().and_then(clock::parse_time_of_day).is_none() {
                    return Err(ApiError::invalid(key, format!("{value} is not a time in the format HH:MM")));
                }
                record.insert(key.into(), value.clone());
            }
            "priority" if !value.is_null() => {
                let priority = value.as_i64().unwrap_or(0);
                if account.field(Entity::Activity, "priority").and_then(|field| field.option(priority)).is_none() {
                    return Err(ApiError::invalid(
                        key,
                        format!("{priority} is not an option of the priority field (see activityFields)"),
                    ));
                }
                record.insert(key.into(), value.clone());
            }
            "participants" => {
                let mut participants = Vec::new();
                for (index, participant) in value.as_array().into_iter().flatten().enumerate() {
                    let context = format!("participants[{index}]");
                    let participant = check_object(
                        participant,
                        &[prop("person_id", Kind::Integer), prop("primary", Kind::Boolean)],
                        &context,
                    )?;
                    let person = require(participant, "person_id")
                        .map_err(|_| ApiError::invalid(&context, "person_id is required"))?;
                    let person = person.as_u64().unwrap_or(0);
                    if !account.persons.has_live(person) {
                        return Err(ApiError::invalid(
                            &format!("{context}.person_id"),
                            format!("person {person} does not exist"),
                        ));
                    }
                    participants.push(json!({"person_id": person, "primary": participant.get("primary").cloned().unwrap_or(json!(false))}));
                }
                if !participants.is_empty()
                    && !participants.iter().any(|participant| participant["primary"] == json!(true))
                {
                    participants[0]["primary"] = json!(true);
                }
                let primary = participants
                    .iter()
                    .find(|participant| participant["primary"] == json!(true))
                    .map(|participant| participant["person_id"].clone());
                record.insert("person_id".into(), primary.unwrap_or(Value::Null));
                record.insert(key.into(), Value::Array(participants));
            }
            "attendees" => {
                let attendee_props = [
                    prop("email", Kind::String),
                    nullable("name", Kind::String),
                    nullable("status", Kind::String),
                    prop("is_organizer", Kind::Boolean),
                    nullable("person_id", Kind::Integer),
                    nullable("user_id", Kind::Integer),
                ];
                for (index, attendee) in value.as_array().into_iter().flatten().enumerate() {
                    check_object(attendee, &attendee_props, &format!("attendees[{index}]"))?;
                }
                record.insert(key.into(), value.clone());
            }
            "done" => {
                let was_done = record.get("done") == Some(&json!(true));
                record.insert(key.into(), value.clone());
                if value == &json!(true) && !was_done {
                    record.insert("marked_as_done_time".into(), json!(now));
                } else if value == &json!(false) {
                    record.insert("marked_as_done_time".into(), Value::Null);
                }
            }
            _ => {
                record.insert(key.into(), value.clone());
            }
        }
    }
    if existing.is_none() {
        let required = match entity {
            Entity::Person | Entity::Organization => Some("name"),
            Entity::Deal => Some("title"),
            Entity::Activity => None,
        };
        if let Some(required) = required
            && record.get(required).is_none_or(Value::is_null)
        {
            return Err(ApiError::invalid(required, "is required"));
        }
    }
    match entity {
        Entity::Deal => deal_rules(ctx, object, existing, &mut record, &now)?,
        Entity::Activity if record.get("subject").is_none_or(Value::is_null) => {
            let kind = record["type"].clone();
            let name = account
                .activity_types
                .values()
                .find(|activity_type| activity_type["key_string"] == kind)
                .map(|activity_type| activity_type["name"].clone());
            record.insert("subject".into(), name.unwrap_or(json!("Call")));
        }
        _ => {}
    }
    record.insert("update_time".into(), json!(now));
    Ok(Value::Object(record))
}

/// emails, phones, im: `[{value*, primary, label}]`; the first becomes primary when none is.
fn contact_list(key: &str, value: &Value) -> Result<Value, ApiError> {
    let mut list = Vec::new();
    for (index, item) in value.as_array().into_iter().flatten().enumerate() {
        let context = format!("{key}[{index}]");
        let object = check_object(
            item,
            &[prop("value", Kind::String), prop("primary", Kind::Boolean), prop("label", Kind::String)],
            &context,
        )?;
        let text = object
            .get("value")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::invalid(&format!("{context}.value"), "is required"))?;
        list.push(json!({
            "value": text,
            "primary": object.get("primary").cloned().unwrap_or(json!(false)),
            "label": object.get("label").cloned().unwrap_or(json!("work")),
        }));
    }
    if list.iter().filter(|item| item["primary"] == json!(true)).count() > 1 {
        return Err(ApiError::invalid(key, "only one entry can be primary"));
    }
    if !list.is_empty() && !list.iter().any(|item| item["primary"] == json!(true)) {
        list[0]["primary"] = json!(true);
    }
    Ok(Value::Array(list))
}

fn defaults(ctx: &Ctx, entity: Entity, id: u64, now: &str) -> Map<String, Value> {
    let value = match entity {
        Entity::Person => json!({
            "id": id, "name": null, "first_name": null, "last_name": null, "owner_id": ctx.user_id, "org_id": null,
            "add_time": now, "update_time": now, "emails": [], "phones": [], "is_deleted": false, "visible_to": 3,
            "label_ids": [], "picture_id": null, "custom_fields": {},
        }),
        Entity::Organization => json!({
            "id": id, "name": null, "owner_id": ctx.user_id, "add_time": now, "update_time": now, "is_deleted": false,
            "visible_to": 3, "address": null, "label_ids": [], "website": null, "linkedin": null, "industry": null,
            "annual_revenue": null, "employee_count": null, "custom_fields": {},
        }),
        Entity::Deal => json!({
            "id": id, "title": null, "creator_user_id": ctx.user_id, "owner_id": ctx.user_id, "person_id": null, "org_id": null,
            "pipeline_id": null, "stage_id": null, "value": 0, "currency": "USD", "add_time": now, "update_time": now,
            "stage_change_time": null, "is_deleted": false, "is_archived": false, "archive_time": null, "status": "open",
            "probability": null, "lost_reason": null, "visible_to": 3, "close_time": null, "won_time": null, "lost_time": null,
            "expected_close_date": null, "label_ids": [], "origin": "API", "origin_id": null, "channel": null, "channel_id": null,
            "arr": null, "mrr": null, "acv": null, "custom_fields": {},
        }),
        Entity::Activity => json!({
            "id": id, "subject": null, "type": "call", "owner_id": ctx.user_id, "creator_user_id": ctx.user_id, "is_deleted": false,
            "add_time": now, "update_time": now, "deal_id": null, "lead_id": null, "person_id": null, "org_id": null,
            "project_id": null, "due_date": null, "due_time": null, "duration": null, "busy": false, "done": false,
            "marked_as_done_time": null, "location": null, "participants": [], "attendees": [], "public_description": null,
            "priority": null, "note": null,
        }),
    };
    value.as_object().cloned().unwrap_or_default()
}

/// Won/lost fields only with the matching status; pipeline and stage kept consistent.
fn deal_rules(
    ctx: &Ctx,
    body: &Map<String, Value>,
    existing: Option<&Value>,
    record: &mut Map<String, Value>,
    now: &str,
) -> Result<(), ApiError> {
    let status = record.get("status").and_then(Value::as_str).unwrap_or("open").to_owned();
    let given = |key: &str| body.get(key).is_some_and(|value| !value.is_null());
    if (given("lost_reason") || given("lost_time")) && status != "lost" {
        let key = if given("lost_reason") { "lost_reason" } else { "lost_time" };
        return Err(ApiError::invalid(key, "can only be set if the deal status is lost"));
    }
    if given("won_time") && status != "won" {
        return Err(ApiError::invalid("won_time", "can only be set if the deal status is won"));
    }
    if given("close_time") && status != "won" && status != "lost" {
        return Err(ApiError::invalid("close_time", "can only be set if the deal status is won or lost"));
    }
    let previous_status = existing.and_then(|existing| existing["status"].as_str()).unwrap_or("open");
    if status != previous_status || existing.is_none() {
        match status.as_str() {
            "won" => {
                record
                    .entry("won_time")
                    .and_modify(|value| {
                        if value.is_null() {
                            *value = json!(now)
                        }
                    })
                    .or_insert(json!(now));
                record.insert("lost_time".into(), Value::Null);
                record.insert("lost_reason".into(), Value::Null);
            }
            "lost" => {
                record
                    .entry("lost_time")
                    .and_modify(|value| {
                        if value.is_null() {
                            *value = json!(now)
                        }
                    })
                    .or_insert(json!(now));
                record.insert("won_time".into(), Value::Null);
            }
            _ => {
                for key in ["won_time", "lost_time", "close_time", "lost_reason"] {
                    record.insert(key.into(), Value::Null);
                }
            }
        }
        if status == "won" || status == "lost" {
            let closed = if given("close_time") { body["close_time"].clone() } else { json!(now) };
            record.insert("close_time".into(), closed);
        }
    }
    for key in ["won_time", "lost_time", "close_time"] {
        if let Some(text) = body.get(key).and_then(Value::as_str) {
            let seconds = clock::parse_rfc3339(text).unwrap_or(0);
            record.insert(key.into(), json!(clock::rfc3339(seconds)));
        }
    }
    if let Some(archive_time) = body.get("archive_time").and_then(Value::as_str)
        && clock::parse_v1_time(archive_time).is_none()
    {
        return Err(ApiError::invalid("archive_time", "must be in the format YYYY-MM-DD HH:MM:SS"));
    }
    let account = &*ctx.account;
    let stage_given = body.get("stage_id").and_then(Value::as_u64);
    let pipeline_given = body.get("pipeline_id").and_then(Value::as_u64);
    let first_stage = |pipeline: u64| {
        account
            .stages
            .values()
            .filter(|stage| stage["pipeline_id"].as_u64() == Some(pipeline) && stage["is_deleted"] != json!(true))
            .min_by_key(|stage| (stage["order_nr"].as_u64(), stage["id"].as_u64()))
            .and_then(|stage| stage["id"].as_u64())
    };
    let placement = match (stage_given, pipeline_given) {
        (Some(stage), pipeline) => {
            let Some(stage_record) = Account::live(&account.stages, stage) else {
                return Err(ApiError::invalid("stage_id", format!("stage {stage} does not exist")));
            };
            let stage_pipeline = stage_record["pipeline_id"].as_u64().unwrap_or(0);
            if pipeline.is_some_and(|pipeline| pipeline != stage_pipeline) {
                return Err(ApiError::invalid(
                    "stage_id",
                    format!("stage {stage} is not in pipeline {}", pipeline.unwrap_or(0)),
                ));
            }
            Some((stage_pipeline, stage))
        }
        (None, Some(pipeline)) => {
            if Account::live(&account.pipelines, pipeline).is_none() {
                return Err(ApiError::invalid("pipeline_id", format!("pipeline {pipeline} does not exist")));
            }
            let stage = first_stage(pipeline)
                .ok_or_else(|| ApiError::invalid("pipeline_id", format!("pipeline {pipeline} has no stages")))?;
            Some((pipeline, stage))
        }
        (None, None) if existing.is_none() => {
            let pipeline = account
                .pipelines
                .values()
                .filter(|pipeline| pipeline["is_deleted"] != json!(true))
                .min_by_key(|pipeline| (pipeline["order_nr"].as_u64(), pipeline["id"].as_u64()))
                .and_then(|pipeline| pipeline["id"].as_u64());
            let stage = pipeline.and_then(first_stage);
            match (pipeline, stage) {
                (Some(pipeline), Some(stage)) => Some((pipeline, stage)),
                _ => {
                    return Err(ApiError::invalid(
                        "stage_id",
                        "the account has no pipeline with stages to put the deal in",
                    ));
                }
            }
        }
        (None, None) => None,
    };
    if let Some((pipeline, stage)) = placement {
        let changed = record.get("stage_id").and_then(Value::as_u64) != Some(stage);
        record.insert("pipeline_id".into(), json!(pipeline));
        record.insert("stage_id".into(), json!(stage));
        if changed {
            record.insert("stage_change_time".into(), json!(now));
        }
    }
    Ok(())
}
