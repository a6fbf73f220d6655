//! API v2's strict typing: every body property has one JSON type, unknown properties are refused,
//! and the error names the property, as Pipedrive's `ERR_BAD_REQUEST` does.

use crate::clock;
use crate::envelope::ApiError;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// The JSON type a body property must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    Integer,
    Number,
    Boolean,
    IntegerArray,
    Object,
    /// An array of objects (emails, phones, participants...).
    ObjectArray,
    /// `YYYY-MM-DD`
    Date,
    /// RFC 3339 (`2024-01-01T00:00:00Z`)
    DateTime,
    /// Anything: checked by the handler itself.
    Any,
}

/// One accepted body property.
#[derive(Debug, Clone, Copy)]
pub struct Prop {
    pub name: &'static str,
    pub kind: Kind,
    pub nullable: bool,
}

pub const fn prop(name: &'static str, kind: Kind) -> Prop {
    Prop { name, kind, nullable: false }
}

pub const fn nullable(name: &'static str, kind: Kind) -> Prop {
    Prop { name, kind, nullable: true }
}

pub fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(number) if number.is_i64() || number.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn expected(field: &str, wanted: &str, value: &Value) -> ApiError {
    ApiError::invalid(field, format!("Expected '{wanted}' but got '{}'", json_type(value)))
}

/// Checks one value against a kind; `field` names it in the error.
pub fn check_kind(field: &str, kind: Kind, value: &Value) -> Result<(), ApiError> {
    let fits = match kind {
        Kind::String => value.is_string(),
        Kind::Integer => value.is_i64() || value.is_u64(),
        Kind::Number => value.is_number(),
        Kind::Boolean => value.is_boolean(),
        Kind::Object => value.is_object(),
        Kind::Any => true,
        Kind::IntegerArray => {
            let Some(items) = value.as_array() else { return Err(expected(field, "array", value)) };
            for (index, item) in items.iter().enumerate() {
                if !(item.is_i64() || item.is_u64()) {
                    return Err(expected(&format!("{field}[{index}]"), "integer", item));
                }
            }
            true
        }
        Kind::ObjectArray => {
            let Some(items) = value.as_array() else { return Err(expected(field, "array", value)) };
            for (index, item) in items.iter().enumerate() {
                if !item.is_object() {
                    return Err(expected(&format!("{field}[{index}]"), "object", item));
                }
            }
            true
        }
        Kind::Date => {
            let Some(text) = value.as_str() else { return Err(expected(field, "string", value)) };
            if clock::parse_date(text).is_none() {
                return Err(ApiError::invalid(field, format!("'{text}' is not a date in the format YYYY-MM-DD")));
            }
            true
        }
        Kind::DateTime => {
            let Some(text) = value.as_str() else { return Err(expected(field, "string", value)) };
            if clock::parse_rfc3339(text).is_none() {
                return Err(ApiError::invalid(
                    field,
                    format!("'{text}' is not an RFC 3339 date-time such as 2024-01-01T00:00:00Z"),
                ));
            }
            true
        }
    };
    if fits {
        return Ok(());
    }
    let wanted = match kind {
        Kind::String | Kind::Date | Kind::DateTime => "string",
        Kind::Integer => "integer",
        Kind::Number => "number",
        Kind::Boolean => "boolean",
        Kind::Object => "object",
        _ => "array",
    };
    Err(expected(field, wanted, value))
}

/// Checks a JSON object body against the accepted properties: unknown ones and wrong types are 400.
pub fn check_object<'a>(body: &'a Value, props: &[Prop], context: &str) -> Result<&'a Map<String, Value>, ApiError> {
    let Some(object) = body.as_object() else {
        return Err(ApiError::bad_request(format!(
            "Validation failed: {context}: the request body must be a JSON object"
        )));
    };
    for (name, value) in object {
        let Some(prop) = props.iter().find(|prop| prop.name == name) else {
            return Err(ApiError::invalid(&qualified(context, name), "is not an allowed property of this request"));
        };
        if value.is_null() {
            if prop.nullable || prop.kind == Kind::Any {
                continue;
            }
            return Err(expected(&qualified(context, name), kind_name(prop.kind), value));
        }
        check_kind(&qualified(context, name), prop.kind, value)?;
    }
    Ok(object)
}

fn qualified(context: &str, name: &str) -> String {
    if context.is_empty() { name.to_owned() } else { format!("{context}.{name}") }
}

fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::String | Kind::Date | Kind::DateTime => "string",
        Kind::Integer => "integer",
        Kind::Number => "number",
        Kind::Boolean => "boolean",
        Kind::Object => "object",
        Kind::IntegerArray | Kind::ObjectArray => "array",
        Kind::Any => "any",
    }
}

pub fn require<'a>(object: &'a Map<String, Value>, name: &str) -> Result<&'a Value, ApiError> {
    match object.get(name) {
        Some(value) if !value.is_null() => Ok(value),
        _ => Err(ApiError::invalid(name, "is required")),
    }
}

/// An integer query parameter, strictly: `?owner_id=abc` is a 400.
pub fn query_integer(query: &HashMap<String, String>, name: &str) -> Result<Option<i64>, ApiError> {
    match query.get(name) {
        None => Ok(None),
        Some(text) => text
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ApiError::invalid(name, format!("Expected 'integer' but got '{text}'"))),
    }
}

/// A boolean query parameter: only `true` and `false` (API v2 has no 0/1 booleans).
pub fn query_boolean(query: &HashMap<String, String>, name: &str) -> Result<Option<bool>, ApiError> {
    match query.get(name).map(String::as_str) {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => Err(ApiError::invalid(name, format!("Expected 'boolean' but got '{other}'"))),
    }
}

/// `ids=1,2,3` (at most 100).
pub fn query_ids(query: &HashMap<String, String>) -> Result<Option<Vec<u64>>, ApiError> {
    let Some(text) = query.get("ids") else { return Ok(None) };
    let ids: Result<Vec<u64>, _> =
        text.split(',').filter(|part| !part.is_empty()).map(|part| part.trim().parse::<u64>()).collect();
    match ids {
        Ok(ids) if ids.len() <= 100 => Ok(Some(ids)),
        Ok(_) => Err(ApiError::invalid("ids", "at most 100 ids are allowed")),
        Err(_) => Err(ApiError::invalid("ids", format!("must be a comma-separated list of integers, got '{text}'"))),
    }
}
