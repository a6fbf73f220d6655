//! Custom field values in API v2's nested `custom_fields`: each value is checked against its
//! field's type (enum option ids as integers, sets as non-empty integer arrays, monetary as
//! `{value, currency}`...), so a wrong shape is a 400 as on Pipedrive.

use crate::clock;
use crate::envelope::ApiError;
use crate::store::{Account, Entity, Field};
use crate::validate::json_type;
use serde_json::{Map, Value, json};

const ADDRESS_PARTS: [&str; 10] = [
    "value",
    "street_number",
    "route",
    "subpremise",
    "sublocality",
    "locality",
    "admin_area_level_1",
    "admin_area_level_2",
    "country",
    "postal_code",
];

/// Normalizes an address object (`value` required; missing parts become null).
pub fn address(field: &str, value: &Value) -> Result<Value, ApiError> {
    let Some(object) = value.as_object() else {
        return Err(ApiError::invalid(field, format!("Expected 'object' but got '{}'", json_type(value))));
    };
    let mut normalized = Map::new();
    for (key, part) in object {
        let known = ADDRESS_PARTS.contains(&key.as_str()) || key == "formatted_address";
        if !known {
            return Err(ApiError::invalid(&format!("{field}.{key}"), "is not an allowed property of this request"));
        }
        if !(part.is_string() || part.is_null()) {
            return Err(ApiError::invalid(
                &format!("{field}.{key}"),
                format!("Expected 'string' but got '{}'", json_type(part)),
            ));
        }
    }
    if !object.get("value").is_some_and(Value::is_string) {
        return Err(ApiError::invalid(&format!("{field}.value"), "is required"));
    }
    for part in ADDRESS_PARTS {
        normalized.insert(part.to_owned(), object.get(part).cloned().unwrap_or(Value::Null));
    }
    Ok(Value::Object(normalized))
}

fn type_error(field: &Field, problem: String) -> ApiError {
    ApiError::invalid("custom_fields", format!("{} ({}, {}): {problem}", field.code, field.name, field.field_type))
}

fn expect(field: &Field, wanted: &str, value: &Value) -> ApiError {
    type_error(field, format!("Expected '{wanted}' as value but got '{}'", json_type(value)))
}

fn range(field: &Field, value: &Value, parse: fn(&str) -> Option<i64>) -> Result<Value, ApiError> {
    let Some(object) = value.as_object() else { return Err(expect(field, "object", value)) };
    for key in object.keys() {
        if !matches!(key.as_str(), "value" | "until" | "timezone_name" | "timezone_id") {
            return Err(type_error(field, format!("unknown property '{key}'")));
        }
    }
    for key in ["value", "until"] {
        match object.get(key).and_then(Value::as_str) {
            Some(text) if parse(text).is_some() => {}
            _ => {
                return Err(type_error(
                    field,
                    format!("'{key}' is required and must be a valid {}", field.field_type.trim_end_matches("range")),
                ));
            }
        }
    }
    Ok(value.clone())
}

/// Checks one custom field value; returns what is stored (null clears the value).
fn check_value(account: &Account, field: &Field, value: &Value) -> Result<Value, ApiError> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    let integer = value.as_i64().filter(|_| value.is_i64() || value.is_u64());
    match field.field_type.as_str() {
        "varchar" | "varchar_auto" | "text" | "phone" => {
            let Some(text) = value.as_str() else { return Err(expect(field, "string", value)) };
            if field.field_type != "text" && text.chars().count() > 255 {
                return Err(type_error(field, "longer than 255 characters".to_owned()));
            }
            Ok(value.clone())
        }
        "double" => value.is_number().then(|| value.clone()).ok_or_else(|| expect(field, "number", value)),
        "date" => match value.as_str() {
            Some(text) if clock::parse_date(text).is_some() => Ok(value.clone()),
            _ => Err(type_error(field, "Expected a date string in the format YYYY-MM-DD".to_owned())),
        },
        "time" => match value.as_str() {
            Some(text) if clock::parse_time_of_day(text).is_some() => Ok(value.clone()),
            _ => Err(type_error(field, "Expected a time string in the format HH:MM:SS".to_owned())),
        },
        "daterange" => range(field, value, clock::parse_date),
        "timerange" => range(field, value, clock::parse_time_of_day),
        "monetary" => {
            let Some(object) = value.as_object() else { return Err(expect(field, "object", value)) };
            for key in object.keys() {
                if key != "value" && key != "currency" {
                    return Err(type_error(field, format!("unknown property '{key}'; expected value and currency")));
                }
            }
            if !object.get("value").is_some_and(Value::is_number) {
                return Err(type_error(field, "'value' is required and must be a number".to_owned()));
            }
            match object.get("currency") {
                None | Some(Value::Null) => Ok(json!({"value": object["value"], "currency": "USD"})),
                Some(Value::String(code)) if code.len() == 3 => Ok(value.clone()),
                Some(other) => {
                    Err(type_error(field, format!("'currency' must be a 3-letter currency code, got {other}")))
                }
            }
        }
        "address" => address(&format!("custom_fields.{}", field.code), value),
        "enum" => {
            let Some(id) = integer else { return Err(expect(field, "number", value)) };
            if field.option(id).is_none() {
                return Err(type_error(field, format!("option {id} does not exist")));
            }
            Ok(value.clone())
        }
        "set" => {
            let Some(ids) = value.as_array() else { return Err(expect(field, "array", value)) };
            if ids.is_empty() {
                return Err(type_error(field, "an empty array is not allowed; use null to clear the value".to_owned()));
            }
            for id in ids {
                let Some(id) = id.as_i64().filter(|_| id.is_i64() || id.is_u64()) else {
                    return Err(type_error(
                        field,
                        format!("Expected 'number' as option id but got '{}'", json_type(id)),
                    ));
                };
                if field.option(id).is_none() {
                    return Err(type_error(field, format!("option {id} does not exist")));
                }
            }
            Ok(value.clone())
        }
        "user" | "org" | "people" => {
            let Some(id) = integer else { return Err(expect(field, "number", value)) };
            let exists = match field.field_type.as_str() {
                "user" => account.user(id as u64).is_some(),
                "org" => account.organizations.has_live(id as u64),
                _ => account.persons.has_live(id as u64),
            };
            if !exists {
                return Err(type_error(field, format!("{} {id} does not exist", field.field_type)));
            }
            Ok(value.clone())
        }
        _ => Ok(value.clone()),
    }
}

/// Checks a `custom_fields` object and merges it into the stored values.
pub fn apply(account: &Account, entity: Entity, body: &Value, stored: &mut Map<String, Value>) -> Result<(), ApiError> {
    let Some(object) = body.as_object() else {
        return Err(ApiError::invalid("custom_fields", format!("Expected 'object' but got '{}'", json_type(body))));
    };
    let mut checked = Vec::new();
    for (code, value) in object {
        let Some(field) = account.field(entity, code).filter(|field| field.is_custom) else {
            return Err(ApiError::invalid("custom_fields", format!("'{code}' is not a custom field of this entity")));
        };
        checked.push((code.clone(), check_value(account, field, value)?));
    }
    for (code, value) in checked {
        if value.is_null() {
            stored.remove(&code);
        } else {
            stored.insert(code, value);
        }
    }
    Ok(())
}

/// The text a stored custom value is searched by (the `value` of monetary and address values).
pub fn searchable_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Object(object) => object.get("value").and_then(searchable_text),
        _ => None,
    }
}
