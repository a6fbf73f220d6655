//! Checks values that travel as text (query and path parameters, form fields) against the schema
//! of the parameter: "12" for an integer, "true" for a boolean, "a,b" for a comma-separated list.

use serde_json::Value;

use crate::schema::{check_format, enum_message, json_equal};

/// How a parameter's text may hold several values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Listing {
    /// One value.
    Single,
    /// Comma-separated values, each checked on its own: the schema is an array (style form,
    /// explode false), or the description of a string parameter says it is comma-separated.
    CommaSeparated,
}

/// Checks `text` against a resolved parameter `schema`; returns one message per problem.
pub(crate) fn check_text(schema: &Value, text: &str, listing: Listing) -> Vec<String> {
    let is_array = schema.get("type").and_then(Value::as_str) == Some("array");
    if is_array {
        let items = schema.get("items").unwrap_or(&Value::Null);
        let mut problems = Vec::new();
        for (index, item) in text.split(',').enumerate() {
            for problem in check_scalar_text(items, item.trim()) {
                problems.push(format!("item {index}: {problem}"));
            }
        }
        return problems;
    }
    let whole = check_scalar_text(schema, text);
    if whole.is_empty() || listing == Listing::Single || !text.contains(',') {
        return whole;
    }
    // Lenient on purpose: Pipedrive documents such parameters as plain strings with an enum of
    // single names ("fields": name, email...), and `sort` items carry a direction ("add_time DESC").
    let every_item_fits = text.split(',').map(str::trim).all(|item| {
        check_scalar_text(schema, item).is_empty()
            || item.split_whitespace().next().is_some_and(|name| check_scalar_text(schema, name).is_empty())
    });
    if every_item_fits { Vec::new() } else { whole }
}

fn check_scalar_text(schema: &Value, text: &str) -> Vec<String> {
    let declared = schema.get("type").and_then(Value::as_str);
    let parsed = match declared {
        Some("integer") => match text.parse::<i64>() {
            Ok(number) => Value::from(number),
            Err(_) => return vec![format!("{text:?} is not an integer")],
        },
        Some("number") => match text.parse::<f64>() {
            Ok(number) if number.is_finite() => {
                serde_json::Number::from_f64(number).map(Value::Number).unwrap_or(Value::Null)
            }
            _ => return vec![format!("{text:?} is not a number")],
        },
        Some("boolean") => match text {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return vec![format!("{text:?} is not a boolean (true or false)")],
        },
        _ => Value::String(text.to_string()),
    };
    let mut problems = Vec::new();
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        // A text value has no JSON type of its own: "1" fits both enum [1] and enum ["1"].
        let fits = options.iter().any(|option| {
            json_equal(option, &parsed)
                || match option {
                    Value::String(listed) => listed == text,
                    Value::Number(listed) => text.parse::<f64>().ok() == listed.as_f64(),
                    Value::Bool(listed) => text == listed.to_string(),
                    _ => false,
                }
        });
        if !fits {
            problems.push(enum_message(&parsed, options));
        }
    }
    if let Some(number) = parsed.as_f64() {
        if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
            && number > max
        {
            problems.push(format!("{text} is above the maximum {max}"));
        }
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
            && number < min
        {
            problems.push(format!("{text} is below the minimum {min}"));
        }
    }
    if parsed.is_string() {
        let length = text.chars().count() as u64;
        if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
            && length < min
        {
            problems.push(format!("{text:?} is shorter than minLength {min}"));
        }
        if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
            && length > max
        {
            problems.push(format!("{text:?} is longer than maxLength {max}"));
        }
        if let Some(format) = schema.get("format").and_then(Value::as_str)
            && let Err(problem) = check_format(format, text)
        {
            problems.push(problem);
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn integers_numbers_and_booleans_must_parse() {
        assert!(check_text(&json!({"type": "integer"}), "12", Listing::Single).is_empty());
        assert_eq!(check_text(&json!({"type": "integer"}), "12a", Listing::Single), ["\"12a\" is not an integer"]);
        assert!(check_text(&json!({"type": "number", "enum": [0, 1]}), "1", Listing::Single).is_empty());
        assert!(!check_text(&json!({"type": "number", "enum": [0, 1]}), "2", Listing::Single).is_empty());
        assert!(check_text(&json!({"type": "boolean"}), "false", Listing::Single).is_empty());
        assert!(!check_text(&json!({"type": "boolean"}), "1", Listing::Single).is_empty());
    }

    #[test]
    fn maximum_applies_to_limit() {
        let limit = json!({"type": "integer", "maximum": 500});
        assert!(check_text(&limit, "500", Listing::Single).is_empty());
        assert_eq!(check_text(&limit, "501", Listing::Single), ["501 is above the maximum 500"]);
    }

    #[test]
    fn comma_lists_check_each_item() {
        let fields = json!({"type": "string", "enum": ["name", "email"]});
        assert!(check_text(&fields, "name,email", Listing::CommaSeparated).is_empty());
        assert!(!check_text(&fields, "name,phone", Listing::CommaSeparated).is_empty());
        assert!(!check_text(&fields, "name,email", Listing::Single).is_empty());
        let sort = json!({"type": "string", "enum": ["id", "add_time"]});
        assert!(check_text(&sort, "add_time DESC, id ASC", Listing::CommaSeparated).is_empty());
        let ids = json!({"type": "array", "items": {"type": "integer"}});
        assert!(check_text(&ids, "1,2,3", Listing::Single).is_empty());
        assert_eq!(check_text(&ids, "1,x", Listing::Single), ["item 1: \"x\" is not an integer"]);
    }

    #[test]
    fn string_formats_and_enums_as_text() {
        assert!(!check_text(&json!({"type": "string", "format": "date"}), "01.02.2024", Listing::Single).is_empty());
        assert!(check_text(&json!({"type": "string", "enum": ["1"]}), "1", Listing::Single).is_empty());
        assert!(check_text(&json!({"type": "integer", "enum": ["1"]}), "1", Listing::Single).is_empty());
    }
}
