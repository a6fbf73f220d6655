//! Field definitions: API v2 `*Fields` (by `field_code`, options through the bulk `/options`
//! endpoints) and API v1 `*Fields` (by numeric id; a PUT's options replace the whole set).

use super::Ctx;
use crate::envelope::{ApiError, ApiResult, offset_page, ok, ok_with, v1_page};
use crate::store::{Entity, Field, FieldOption};
use crate::validate::{Kind, Prop, check_object, json_type, nullable, prop, require};
use serde_json::{Value, json};

/// The types a custom field can be created with (v2 `POST /personFields`; v1 adds `visible_to`).
const CREATABLE_TYPES: [&str; 16] = [
    "varchar",
    "text",
    "double",
    "phone",
    "date",
    "daterange",
    "time",
    "timerange",
    "set",
    "enum",
    "varchar_auto",
    "address",
    "monetary",
    "org",
    "people",
    "user",
];

fn include_list(ctx: &Ctx) -> Vec<String> {
    ctx.query
        .get("include_fields")
        .map(|text| text.split(',').map(|part| part.trim().to_owned()).collect())
        .unwrap_or_default()
}

fn v2_json(ctx: &Ctx, field: &Field) -> Value {
    let include = include_list(ctx);
    let include: Vec<&str> = include.iter().map(String::as_str).collect();
    field.to_v2(&include)
}

fn find<'a>(ctx: &'a Ctx, entity: Entity) -> Result<&'a Field, ApiError> {
    ctx.account.field(entity, ctx.param()).ok_or_else(|| ApiError::not_found("Field"))
}

pub fn list(ctx: &mut Ctx, entity: Entity) -> ApiResult {
    let items: Vec<Value> = ctx.account.fields_of(entity).map(|field| v2_json(ctx, field)).collect();
    let (items, additional) = offset_page(items, ctx.query)?;
    ok_with(Value::Array(items), additional)
}

pub fn get(ctx: &mut Ctx, entity: Entity) -> ApiResult {
    ok(v2_json(ctx, find(ctx, entity)?))
}

const VISIBILITY_PROPS: [Prop; 3] = [
    prop("ui_visibility", Kind::Object),
    prop("important_fields", Kind::Object),
    prop("required_fields", Kind::Object),
];

fn options_from_labels(ctx: &mut Ctx, options: &Value, context: &str) -> Result<Vec<FieldOption>, ApiError> {
    let Some(items) = options.as_array() else {
        return Err(ApiError::invalid(context, format!("Expected 'array' but got '{}'", json_type(options))));
    };
    let mut labels = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let object = check_object(
            item,
            &[prop("label", Kind::String), nullable("color", Kind::String)],
            &format!("{context}[{index}]"),
        )?;
        let label = require(object, "label")
            .map_err(|_| ApiError::invalid(&format!("{context}[{index}].label"), "is required"))?;
        labels.push((
            label.as_str().unwrap_or("").to_owned(),
            object.get("color").and_then(Value::as_str).map(str::to_owned),
        ));
    }
    Ok(labels.into_iter().map(|(label, color)| ctx.account.new_option(&label, color, ctx.now)).collect())
}

/// Creates a custom field; shared by v1 (`name`) and v2 (`field_name`).
fn create_field(
    ctx: &mut Ctx,
    entity: Entity,
    name: String,
    field_type: &str,
    options: Option<&Value>,
    description: Option<String>,
) -> Result<Field, ApiError> {
    let type_key = "field_type";
    if !CREATABLE_TYPES.contains(&field_type) {
        return Err(ApiError::invalid(
            type_key,
            format!("'{field_type}' is not one of {}", CREATABLE_TYPES.join(", ")),
        ));
    }
    if name.trim().is_empty() || name.chars().count() > 255 {
        return Err(ApiError::invalid("field_name", "must be 1 to 255 characters"));
    }
    crate::capping::custom_field_room(ctx)?;
    let options = if matches!(field_type, "enum" | "set") {
        let Some(options) = options else {
            return Err(ApiError::invalid("options", "are required for enum and set fields"));
        };
        crate::capping::options_room(ctx, options.as_array().map_or(0, Vec::len))?;
        Some(options_from_labels(ctx, options, "options")?)
    } else {
        if options.is_some_and(|options| options.as_array().is_some_and(|items| !items.is_empty())) {
            return Err(ApiError::invalid(
                "options",
                format!("are only allowed for enum and set fields, not {field_type}"),
            ));
        }
        None
    };
    let code = ctx.account.key_rng.field_key();
    let id = ctx.account.next_id("fields");
    let order_nr = ctx.account.fields.iter().filter(|field| field.entity == entity).count() as u64;
    let field = Field {
        entity,
        id,
        code,
        name,
        field_type: field_type.to_owned(),
        options,
        is_custom: true,
        is_deleted: false,
        order_nr,
        add_time: ctx.now,
        update_time: ctx.now,
        description,
    };
    ctx.account.fields.push(field.clone());
    Ok(field)
}

pub fn create(ctx: &mut Ctx, entity: Entity) -> ApiResult {
    if entity == Entity::Activity {
        return Err(ApiError::not_found("Operation"));
    }
    let body = ctx.body.json()?.clone();
    let mut props = vec![
        prop("field_name", Kind::String),
        prop("field_type", Kind::String),
        prop("options", Kind::ObjectArray),
        nullable("description", Kind::String),
    ];
    props.extend(VISIBILITY_PROPS);
    let object = check_object(&body, &props, "")?;
    let name = require(object, "field_name")?.as_str().unwrap_or("").to_owned();
    let field_type = require(object, "field_type")?.as_str().unwrap_or("").to_owned();
    let description = object.get("description").and_then(Value::as_str).map(str::to_owned);
    let field = create_field(ctx, entity, name, &field_type, object.get("options"), description)?;
    ok(v2_json(ctx, &field))
}

fn custom_field_mut<'a>(ctx: &'a mut Ctx, entity: Entity) -> Result<&'a mut Field, ApiError> {
    let code = ctx.param().to_owned();
    let field = ctx.account.field_mut(entity, &code).ok_or_else(|| ApiError::not_found("Field"))?;
    if !field.is_custom {
        return Err(ApiError::bad_request(format!(
            "Validation failed: field_code: '{code}' is a built-in field and cannot be changed"
        )));
    }
    Ok(field)
}

pub fn update(ctx: &mut Ctx, entity: Entity) -> ApiResult {
    let body = ctx.body.json()?.clone();
    let mut props = vec![prop("field_name", Kind::String), nullable("description", Kind::String)];
    props.extend(VISIBILITY_PROPS);
    let object = check_object(&body, &props, "")?.clone();
    if object.is_empty() {
        return Err(ApiError::bad_request("Validation failed: body: at least one property must be provided"));
    }
    let now = ctx.now;
    let field = custom_field_mut(ctx, entity)?;
    if let Some(name) = object.get("field_name").and_then(Value::as_str) {
        field.name = name.to_owned();
    }
    if let Some(description) = object.get("description") {
        field.description = description.as_str().map(str::to_owned);
    }
    field.update_time = now;
    let field = field.clone();
    ok(v2_json(ctx, &field))
}

pub fn delete(ctx: &mut Ctx, entity: Entity) -> ApiResult {
    let now = ctx.now;
    let field = custom_field_mut(ctx, entity)?;
    field.is_deleted = true;
    field.update_time = now;
    let field = field.clone();
    ok(json!({
        "field_name": field.name, "field_code": field.code, "field_type": field.field_type,
        "options": field.to_v2(&[])["options"], "subfields": field.subfields(),
        "is_custom_field": true, "is_optional_response_field": false,
    }))
}

/// The field whose options change: a custom enum/set field, or the built-in `label` field.
fn option_field_mut<'a>(ctx: &'a mut Ctx, entity: Entity) -> Result<&'a mut Field, ApiError> {
    let code = ctx.param().to_owned();
    let field = ctx.account.field_mut(entity, &code).ok_or_else(|| ApiError::not_found("Field"))?;
    if !field.has_options() || !(field.is_custom || field.code == "label") {
        return Err(ApiError::bad_request(format!(
            "Validation failed: field_code: '{code}' is not a custom field with options"
        )));
    }
    Ok(field)
}

fn options_body(ctx: &Ctx, props: &[Prop]) -> Result<Vec<serde_json::Map<String, Value>>, ApiError> {
    let body = ctx.body.json()?;
    let Some(items) = body.as_array().filter(|items| !items.is_empty()) else {
        return Err(ApiError::bad_request("Validation failed: body: expected a non-empty array of options"));
    };
    let mut objects = Vec::new();
    for (index, item) in items.iter().enumerate() {
        let context = format!("body[{index}]");
        let object = check_object(item, props, &context)?;
        for required in props.iter().filter(|prop| prop.name != "color") {
            if object.get(required.name).is_none_or(Value::is_null) {
                return Err(ApiError::invalid(&format!("{context}.{}", required.name), "is required"));
            }
        }
        objects.push(object.clone());
    }
    Ok(objects)
}

fn option_json(option: &FieldOption) -> Value {
    json!({"id": option.id, "label": option.label})
}

pub fn add_options(ctx: &mut Ctx, entity: Entity) -> ApiResult {
    let items = options_body(ctx, &[prop("label", Kind::String), nullable("color", Kind::String)])?;
    let existing = option_field_mut(ctx, entity)?.options.as_ref().map_or(0, Vec::len);
    crate::capping::options_room(ctx, existing + items.len())?;
    let now = ctx.now;
    let new: Vec<FieldOption> = items
        .iter()
        .map(|item| {
            ctx.account.new_option(
                item["label"].as_str().unwrap_or(""),
                item.get("color").and_then(Value::as_str).map(str::to_owned),
                now,
            )
        })
        .collect();
    let field = option_field_mut(ctx, entity)?;
    field.options.get_or_insert_with(Vec::new).extend(new.iter().cloned());
    field.update_time = now;
    Ok(crate::envelope::Reply {
        status: 200,
        body: json!({"success": true, "data": new.iter().map(option_json).collect::<Vec<_>>(), "additional_data": null}),
    })
}

pub fn update_options(ctx: &mut Ctx, entity: Entity) -> ApiResult {
    let items =
        options_body(ctx, &[prop("id", Kind::Integer), prop("label", Kind::String), nullable("color", Kind::String)])?;
    let now = ctx.now;
    let field = option_field_mut(ctx, entity)?;
    let options = field.options.get_or_insert_with(Vec::new);
    for item in &items {
        let id = item["id"].as_i64().unwrap_or(0);
        if !options.iter().any(|option| option.id == id) {
            return Err(ApiError::invalid("id", format!("option {id} does not exist; nothing was changed")));
        }
    }
    let mut changed = Vec::new();
    for item in &items {
        let id = item["id"].as_i64().unwrap_or(0);
        if let Some(option) = options.iter_mut().find(|option| option.id == id) {
            option.label = item["label"].as_str().unwrap_or("").to_owned();
            if let Some(color) = item.get("color") {
                option.color = color.as_str().map(str::to_owned);
            }
            option.update_time = now;
            changed.push(option_json(option));
        }
    }
    field.update_time = now;
    Ok(crate::envelope::Reply { status: 200, body: json!({"success": true, "data": changed, "additional_data": null}) })
}

pub fn delete_options(ctx: &mut Ctx, entity: Entity) -> ApiResult {
    let items = options_body(ctx, &[prop("id", Kind::Integer)])?;
    let now = ctx.now;
    let field = option_field_mut(ctx, entity)?;
    let options = field.options.get_or_insert_with(Vec::new);
    let ids: Vec<i64> = items.iter().map(|item| item["id"].as_i64().unwrap_or(0)).collect();
    if let Some(missing) = ids.iter().find(|id| !options.iter().any(|option| option.id == **id)) {
        return Err(ApiError::invalid("id", format!("option {missing} does not exist; nothing was deleted")));
    }
    let removed: Vec<Value> = options.iter().filter(|option| ids.contains(&option.id)).map(option_json).collect();
    options.retain(|option| !ids.contains(&option.id));
    field.update_time = now;
    Ok(crate::envelope::Reply { status: 200, body: json!({"success": true, "data": removed, "additional_data": null}) })
}

// ---- API v1 ----

fn v1_find(ctx: &Ctx, entity: Entity) -> Result<Field, ApiError> {
    let id: u64 = ctx.param().parse().map_err(|_| ApiError::not_found("Field"))?;
    ctx.account.fields_of(entity).find(|field| field.id == id).cloned().ok_or_else(|| ApiError::not_found("Field"))
}

pub fn v1_list(ctx: &mut Ctx, entity: Entity) -> ApiResult {
    let items: Vec<Value> = ctx.account.fields_of(entity).map(Field::to_v1).collect();
    let (items, additional) = v1_page(items, ctx.query, 500)?;
    ok_with(Value::Array(items), additional)
}

pub fn v1_get(ctx: &mut Ctx, entity: Entity) -> ApiResult {
    ok(v1_find(ctx, entity)?.to_v1())
}

/// v1 accepts `options` as an array or as a JSON-encoded string of one.
fn v1_options(value: Option<&Value>) -> Result<Option<Value>, ApiError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => {
            serde_json::from_str(text).map(Some).map_err(|_| ApiError::invalid("options", "is not a JSON array"))
        }
        Some(other) => Ok(Some(other.clone())),
    }
}

pub fn v1_create(ctx: &mut Ctx, entity: Entity) -> ApiResult {
    let body = ctx.body.json()?.clone();
    let object = check_object(
        &body,
        &[
            prop("name", Kind::String),
            prop("field_type", Kind::String),
            prop("options", Kind::Any),
            prop("add_visible_flag", Kind::Any),
        ],
        "",
    )?;
    let name = require(object, "name")?.as_str().unwrap_or("").to_owned();
    let field_type = require(object, "field_type")?.as_str().unwrap_or("").to_owned();
    let options = v1_options(object.get("options"))?;
    let field = create_field(ctx, entity, name, &field_type, options.as_ref(), None)?;
    ok(field.to_v1())
}

pub fn v1_update(ctx: &mut Ctx, entity: Entity) -> ApiResult {
    let body = ctx.body.json()?.clone();
    let object = check_object(
        &body,
        &[prop("name", Kind::String), prop("options", Kind::Any), prop("add_visible_flag", Kind::Any)],
        "",
    )?
    .clone();
    let field = v1_find(ctx, entity)?;
    let label_options_only = field.code == "label" && object.keys().all(|key| key == "options");
    if !(field.is_custom || label_options_only) {
        return Err(ApiError::bad_request("Validation failed: id: built-in fields cannot be changed"));
    }
    let now = ctx.now;
    let replacement = match v1_options(object.get("options"))? {
        None => None,
        Some(options) => {
            if !field.has_options() {
                return Err(ApiError::invalid("options", "are only allowed for enum and set fields"));
            }
            let Some(items) = options.as_array() else { return Err(ApiError::invalid("options", "must be an array")) };
            crate::capping::options_room(ctx, items.len())?;
            // All active options must be supplied: existing ones by id, new ones by label only.
            let mut replacement = Vec::new();
            for (index, item) in items.iter().enumerate() {
                let label = item
                    .get("label")
                    .and_then(Value::as_str)
                    .ok_or_else(|| ApiError::invalid(&format!("options[{index}].label"), "is required"))?;
                match item.get("id") {
                    Some(id) if !id.is_null() => {
                        let id = id.as_i64().or_else(|| id.as_str().and_then(|text| text.parse().ok())).unwrap_or(-1);
                        let Some(existing) = field.option(id) else {
                            return Err(ApiError::invalid(
                                &format!("options[{index}].id"),
                                format!("option {id} does not exist"),
                            ));
                        };
                        let mut option = existing.clone();
                        if option.label != label {
                            option.label = label.to_owned();
                            option.update_time = now;
                        }
                        replacement.push(option);
                    }
                    _ => replacement.push(ctx.account.new_option(label, None, now)),
                }
            }
            Some(replacement)
        }
    };
    let code = field.code.clone();
    let stored = ctx.account.field_mut(entity, &code).ok_or_else(|| ApiError::not_found("Field"))?;
    if let Some(name) = object.get("name").and_then(Value::as_str) {
        stored.name = name.to_owned();
    }
    if let Some(replacement) = replacement {
        stored.options = Some(replacement);
    }
    stored.update_time = now;
    ok(stored.to_v1())
}

pub fn v1_delete(ctx: &mut Ctx, entity: Entity) -> ApiResult {
    let field = v1_find(ctx, entity)?;
    if !field.is_custom {
        return Err(ApiError::bad_request("Validation failed: id: built-in fields cannot be deleted"));
    }
    let now = ctx.now;
    if let Some(stored) = ctx.account.field_mut(entity, &field.code) {
        stored.is_deleted = true;
        stored.update_time = now;
    }
    ok(json!({"id": field.id}))
}
