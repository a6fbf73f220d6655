//! Search: `GET /api/v2/persons/search` (case-insensitive, over name, emails, phones, notes and
//! searchable custom fields) and `GET /api/v2/itemSearch/field` (one field, case-sensitive
//! exact/beginning/middle match; how a client finds a record by its own marker field).

use super::Ctx;
use crate::custom;
use crate::envelope::{ApiError, ApiResult, offset_page, ok_with};
use crate::store::Entity;
use crate::table::Packed;
use crate::validate::{query_boolean, query_integer};
use serde_json::{Value, json};

const SEARCHABLE_CUSTOM_TYPES: [&str; 7] =
    ["address", "varchar", "text", "varchar_auto", "double", "monetary", "phone"];

fn term(ctx: &Ctx, exact: bool) -> Result<String, ApiError> {
    let term = ctx.query.get("term").cloned().unwrap_or_default();
    let minimum = if exact { 1 } else { 2 };
    if term.chars().count() < minimum {
        return Err(ApiError::invalid("term", format!("must be at least {minimum} characters long")));
    }
    Ok(term)
}

pub fn persons(ctx: &mut Ctx) -> ApiResult {
    let exact = query_boolean(ctx.query, "exact_match")?.unwrap_or(false);
    let term = term(ctx, exact)?;
    let needle = term.to_lowercase();
    let fields: Vec<String> = match ctx.query.get("fields") {
        Some(text) => text.split(',').map(|part| part.trim().to_owned()).collect(),
        None => ["custom_fields", "email", "notes", "phone", "name"].map(str::to_owned).to_vec(),
    };
    for field in &fields {
        if !matches!(field.as_str(), "custom_fields" | "email" | "notes" | "phone" | "name") {
            return Err(ApiError::invalid(
                "fields",
                format!("'{field}' is not one of custom_fields, email, notes, phone, name"),
            ));
        }
    }
    let organization = query_integer(ctx.query, "organization_id")?;
    let account = &*ctx.account;
    let searchable_custom: Vec<String> = account
        .fields_of(Entity::Person)
        .filter(|field| field.is_custom && SEARCHABLE_CUSTOM_TYPES.contains(&field.field_type.as_str()))
        .map(|field| field.code.clone())
        .collect();
    let hit = |text: &str| if exact { text.to_lowercase() == needle } else { text.to_lowercase().contains(&needle) };
    let mut found = Vec::new();
    for person in account.persons.values().filter(|person| person["is_deleted"] != json!(true)) {
        if organization.is_some_and(|organization| person["org_id"].as_i64() != Some(organization)) {
            continue;
        }
        let strings = |key: &str| -> Vec<String> {
            person[key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|item| item["value"].as_str().map(str::to_owned))
                .collect()
        };
        let emails = strings("emails");
        let phones = strings("phones");
        let name = person["name"].as_str().unwrap_or("").to_owned();
        let custom_values: Vec<String> = searchable_custom
            .iter()
            .filter_map(|code| person["custom_fields"].get(code).and_then(custom::searchable_text))
            .collect();
        let mut score: f64 = 0.0;
        for field in &fields {
            let matched = match field.as_str() {
                "name" => hit(&name),
                "email" => emails.iter().any(|email| hit(email)),
                "phone" => phones.iter().any(|phone| hit(phone)),
                "notes" => person["notes"].as_str().is_some_and(hit),
                _ => custom_values.iter().any(|value| hit(value)),
            };
            if matched {
                score = score.max(if field == "name" { 1.0 } else { 0.9 });
            }
        }
        if score == 0.0 {
            continue;
        }
        let org = person["org_id"].as_u64().and_then(|org| account.organizations.live(org));
        found.push((
            score,
            json!({
                "result_score": score,
                "item": {
                    "id": person["id"], "type": "person", "name": name, "phones": phones, "emails": emails,
                    "visible_to": person["visible_to"], "owner": {"id": person["owner_id"]},
                    "organization": org.map(|org| json!({"id": org["id"], "name": org["name"], "address": org["address"]["value"]})),
                    "custom_fields": custom_values, "notes": person["notes"].as_str().map(|notes| vec![notes]).unwrap_or_default(),
                }
            }),
        ));
    }
    found.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1["item"]["id"].as_u64().cmp(&b.1["item"]["id"].as_u64())));
    let (items, additional) = offset_page(found.into_iter().map(|(_, item)| item).collect(), ctx.query)?;
    ok_with(json!({"items": items}), additional)
}

/// The searchable text values of one field of a record (read from the packed record: a search
/// looks at one field of every record, and unpacks none).
fn field_values(record: &Packed, code: &str, is_custom: bool) -> Vec<String> {
    if is_custom {
        return custom::searchable_text(&record.path(&["custom_fields", code])).into_iter().collect();
    }
    let value = match code {
        "email" => record.get("emails"),
        "phone" => record.get("phones"),
        other => record.get(other),
    };
    match &value {
        Value::Array(items) => items
            .iter()
            .filter_map(|item| {
                item.get("value").and_then(custom::searchable_text).or_else(|| custom::searchable_text(item))
            })
            .collect(),
        other => custom::searchable_text(other).into_iter().collect(),
    }
}

pub fn item_by_field(ctx: &mut Ctx) -> ApiResult {
    let entity = match ctx.query.get("entity_type").map(String::as_str) {
        Some("person") => Some(Entity::Person),
        Some("organization") => Some(Entity::Organization),
        Some("deal") => Some(Entity::Deal),
        Some("lead" | "product" | "project") => None,
        Some(other) => {
            return Err(ApiError::invalid(
                "entity_type",
                format!("'{other}' is not one of deal, lead, person, organization, product, project"),
            ));
        }
        None => return Err(ApiError::invalid("entity_type", "is required")),
    };
    let mode = ctx.query.get("match").map(String::as_str).unwrap_or("exact");
    if !matches!(mode, "exact" | "beginning" | "middle") {
        return Err(ApiError::invalid("match", "must be one of exact, beginning, middle"));
    }
    let term = term(ctx, mode == "exact")?;
    let Some(code) = ctx.query.get("field").filter(|code| !code.is_empty()) else {
        return Err(ApiError::invalid("field", "is required"));
    };
    let Some(entity) = entity else {
        // The sandbox keeps no leads, products or projects: nothing can match.
        let (items, additional) = offset_page(Vec::new(), ctx.query)?;
        return ok_with(Value::Array(items), additional);
    };
    let account = &*ctx.account;
    let Some(field) = account.field(entity, code) else {
        return Err(ApiError::invalid("field", format!("'{code}' is not a field of {}", entity.search_name())));
    };
    let is_custom = field.is_custom;
    let matches = |text: &str| match mode {
        "exact" => text == term,
        "beginning" => text.starts_with(&term),
        _ => text.contains(&term),
    };
    let name_key = entity.name_property();
    let found: Vec<Value> = account
        .table(entity)
        .iter()
        .filter(|(_, record)| record.get("is_deleted") != json!(true))
        .filter(|(_, record)| field_values(record, code, is_custom).iter().any(|text| matches(text)))
        .map(|(_, record)| {
            let (id, name) = (record.get("id"), record.get(name_key));
            json!({
                "id": id, "name": name,
                "result_score": 1.0,
                "item": {"id": id, "type": entity.search_name(), "name": name},
            })
        })
        .collect();
    let (items, additional) = offset_page(found, ctx.query)?;
    ok_with(Value::Array(items), additional)
}
