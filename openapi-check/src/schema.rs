//! The OpenAPI 3.0 Schema Object validator: checks one JSON value against one schema of a document.
//!
//! OpenAPI 3.0 schemas are a dialect of JSON Schema draft 5 with their own rules, so this is not a
//! JSON Schema 2020 validator: `nullable` instead of `type: [.., "null"]`, boolean
//! `exclusiveMinimum`, siblings of `$ref` ignored, `readOnly`/`writeOnly` depending on direction.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::Violation;

/// Which way the value travels: `readOnly` properties belong to responses, `writeOnly` to requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Direction {
    Request,
    Response,
}

/// Keywords the validator enforces.
pub(crate) const VALIDATED_KEYWORDS: &[&str] = &[
    "$ref",
    "type",
    "nullable",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "allOf",
    "oneOf",
    "anyOf",
    "not",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "format",
    "readOnly",
    "writeOnly",
];

/// Keywords that document a schema without constraining values.
pub(crate) const ANNOTATION_KEYWORDS: &[&str] =
    &["title", "description", "default", "example", "examples", "deprecated", "externalDocs", "xml"];

/// Formats that are checked; any other `format` (uuid, binary, url, byte...) is documentation only.
pub(crate) const VALIDATED_FORMATS: &[&str] = &["date", "date-time"];

/// Deeper than any real payload; stops a self-referencing schema on self-referencing data.
const MAX_DEPTH: usize = 200;

pub(crate) struct SchemaValidator<'d> {
    root: &'d Value,
    direction: Direction,
    /// `$ref`s being expanded, with the address of the value they are applied to: the same pair
    /// twice means a cycle that consumes no data (`A: {allOf: [$ref A]}`), which would never end.
    expanding: Vec<(&'d str, *const Value)>,
}

impl<'d> SchemaValidator<'d> {
    pub(crate) fn new(root: &'d Value, direction: Direction) -> Self {
        SchemaValidator { root, direction, expanding: Vec::new() }
    }

    /// Validates `value` against `schema`; violations are located as `prefix` followed by the
    /// JSON pointer of the offending value (e.g. "request body /emails/0/primary").
    pub(crate) fn validate(&mut self, schema: &'d Value, value: &Value, prefix: &str) -> Vec<Violation> {
        let mut out = Vec::new();
        let mut pointer = String::new();
        self.check(schema, value, &mut pointer, &mut Checked { prefix, out: &mut out });
        out
    }

    /// Resolves a `$ref` chain to the schema it finally names (for callers that read the schema).
    pub(crate) fn resolve(&self, mut schema: &'d Value) -> &'d Value {
        for _ in 0..MAX_DEPTH {
            match schema.get("$ref").and_then(Value::as_str) {
                Some(reference) => match resolve_reference(self.root, reference) {
                    Some(target) => schema = target,
                    None => return schema,
                },
                None => return schema,
            }
        }
        schema
    }

    fn check(&mut self, schema: &'d Value, value: &Value, pointer: &mut String, sink: &mut Checked<'_>) {
        let Some(keywords) = schema.as_object() else {
            return;
        };
        if self.expanding.len() > MAX_DEPTH {
            sink.push(pointer, "schema nesting too deep to validate".to_string());
            return;
        }
        // OpenAPI 3.0: a Schema Object with `$ref` is replaced by its target; siblings are ignored.
        if let Some(reference) = keywords.get("$ref").and_then(Value::as_str) {
            let key = (reference, value as *const Value);
            if self.expanding.contains(&key) {
                return;
            }
            let Some(target) = resolve_reference(self.root, reference) else {
                sink.push(pointer, format!("schema $ref {reference} does not resolve"));
                return;
            };
            self.expanding.push(key);
            self.check(target, value, pointer, sink);
            self.expanding.pop();
            return;
        }

        let nullable = keywords.get("nullable").and_then(Value::as_bool).unwrap_or(false);
        if value.is_null() && nullable {
            return;
        }
        if let Some(expected) = keywords.get("type").and_then(Value::as_str)
            && !has_type(value, expected)
        {
            let message = if value.is_null() {
                format!("null is not allowed here: the schema says type {expected} without nullable: true")
            } else {
                format!("expected {expected}, got {}", describe(value))
            };
            sink.push(pointer, message);
            // Every further keyword would repeat the same mistake.
            return;
        }

        if let Some(options) = keywords.get("enum").and_then(Value::as_array)
            && !options.iter().any(|option| json_equal(option, value))
        {
            sink.push(pointer, enum_message(value, options));
        }

        match value {
            Value::String(text) => self.check_string(keywords, text, pointer, sink),
            Value::Number(_) => check_number(keywords, value.as_f64().unwrap_or(f64::NAN), pointer, sink),
            Value::Array(items) => self.check_array(keywords, items, pointer, sink),
            Value::Object(members) => self.check_object(keywords, members, pointer, sink),
            Value::Bool(_) | Value::Null => {}
        }

        if let Some(all) = keywords.get("allOf").and_then(Value::as_array) {
            for member in all {
                self.check(member, value, pointer, sink);
            }
        }
        for combinator in ["oneOf", "anyOf"] {
            if let Some(alternatives) = keywords.get(combinator).and_then(Value::as_array) {
                // Pipedrive's oneOf alternatives overlap (an integer is also a number), so oneOf is
                // checked like anyOf: matching more than one alternative is not reported.
                self.check_alternatives(combinator, alternatives, value, pointer, sink);
            }
        }
        if let Some(negated) = keywords.get("not")
            && self.matches(negated, value, pointer)
        {
            sink.push(pointer, "the value matches the schema under `not`".to_string());
        }
    }

    fn matches(&mut self, schema: &'d Value, value: &Value, pointer: &mut String) -> bool {
        self.violations_of(schema, value, pointer).is_empty()
    }

    fn violations_of(&mut self, schema: &'d Value, value: &Value, pointer: &mut String) -> Vec<Violation> {
        let mut out = Vec::new();
        self.check(schema, value, pointer, &mut Checked { prefix: "", out: &mut out });
        out
    }

    fn check_alternatives(
        &mut self,
        combinator: &str,
        alternatives: &'d [Value],
        value: &Value,
        pointer: &mut String,
        sink: &mut Checked<'_>,
    ) {
        let mut reasons = Vec::new();
        for alternative in alternatives {
            let violations = self.violations_of(alternative, value, pointer);
            match violations.first() {
                None => return,
                Some(first) => {
                    let extra = violations.len() - 1;
                    let more = if extra > 0 { format!(" (+{extra} more)") } else { String::new() };
                    reasons.push(format!("{}: {}{more}", first.location.trim(), first.message));
                }
            }
        }
        let listed: Vec<String> =
            reasons.iter().enumerate().map(|(index, reason)| format!("[{}] {reason}", index + 1)).collect();
        sink.push(
            pointer,
            format!("matches none of the {} {combinator} alternatives: {}", alternatives.len(), listed.join("; ")),
        );
    }

    fn check_string(
        &mut self,
        keywords: &'d serde_json::Map<String, Value>,
        text: &str,
        pointer: &str,
        sink: &mut Checked<'_>,
    ) {
        let length = text.chars().count() as u64;
        if let Some(min) = keywords.get("minLength").and_then(Value::as_u64)
            && length < min
        {
            sink.push(pointer, format!("string of {length} characters is shorter than minLength {min}"));
        }
        if let Some(max) = keywords.get("maxLength").and_then(Value::as_u64)
            && length > max
        {
            sink.push(pointer, format!("string of {length} characters is longer than maxLength {max}"));
        }
        if let Some(format) = keywords.get("format").and_then(Value::as_str)
            && let Err(problem) = check_format(format, text)
        {
            sink.push(pointer, problem);
        }
    }

    fn check_array(
        &mut self,
        keywords: &'d serde_json::Map<String, Value>,
        items: &[Value],
        pointer: &mut String,
        sink: &mut Checked<'_>,
    ) {
        let count = items.len() as u64;
        if let Some(min) = keywords.get("minItems").and_then(Value::as_u64)
            && count < min
        {
            sink.push(pointer, format!("array of {count} items has fewer than minItems {min}"));
        }
        if let Some(max) = keywords.get("maxItems").and_then(Value::as_u64)
            && count > max
        {
            sink.push(pointer, format!("array of {count} items has more than maxItems {max}"));
        }
        if keywords.get("uniqueItems").and_then(Value::as_bool) == Some(true) {
            for (index, item) in items.iter().enumerate() {
                if let Some(first) = items[..index].iter().position(|earlier| json_equal(earlier, item)) {
                    sink.push(pointer, format!("items {first} and {index} are equal but uniqueItems is true"));
                    break;
                }
            }
        }
        if let Some(item_schema) = keywords.get("items") {
            for (index, item) in items.iter().enumerate() {
                let length = pointer.len();
                pointer.push('/');
                pointer.push_str(&index.to_string());
                self.check(item_schema, item, pointer, sink);
                pointer.truncate(length);
            }
        }
    }

    fn check_object(
        &mut self,
        keywords: &'d serde_json::Map<String, Value>,
        members: &serde_json::Map<String, Value>,
        pointer: &mut String,
        sink: &mut Checked<'_>,
    ) {
        let properties = keywords.get("properties").and_then(Value::as_object);
        let count = members.len() as u64;
        if let Some(min) = keywords.get("minProperties").and_then(Value::as_u64)
            && count < min
        {
            sink.push(pointer, format!("object with {count} properties has fewer than minProperties {min}"));
        }
        if let Some(max) = keywords.get("maxProperties").and_then(Value::as_u64)
            && count > max
        {
            sink.push(pointer, format!("object with {count} properties has more than maxProperties {max}"));
        }
        if let Some(required) = keywords.get("required").and_then(Value::as_array) {
            for name in required.iter().filter_map(Value::as_str) {
                if members.contains_key(name) {
                    continue;
                }
                // OpenAPI 3.0: a required readOnly property is required in responses only, and a
                // required writeOnly one in requests only.
                let property = properties.and_then(|declared| declared.get(name)).map(|schema| self.resolve(schema));
                if property.is_some_and(|schema| self.belongs_to_other_direction(schema)) {
                    continue;
                }
                sink.push(pointer, format!("required property {name:?} is missing"));
            }
        }
        let additional = keywords.get("additionalProperties");
        for (name, member) in members {
            let length = pointer.len();
            pointer.push('/');
            pointer.push_str(&escape_pointer_token(name));
            match properties.and_then(|declared| declared.get(name)) {
                Some(property_schema) => {
                    let resolved = self.resolve(property_schema);
                    if self.belongs_to_other_direction(resolved) {
                        let (keyword, side) = match self.direction {
                            Direction::Request => ("readOnly", "requests"),
                            Direction::Response => ("writeOnly", "responses"),
                        };
                        sink.push(pointer, format!("property is {keyword}: it must not appear in {side}"));
                    }
                    self.check(property_schema, member, pointer, sink);
                }
                None => match additional {
                    Some(Value::Bool(false)) => {
                        sink.push(
                            pointer,
                            format!("property {name:?} is not declared and additionalProperties is false"),
                        );
                    }
                    Some(schema @ Value::Object(_)) => self.check(schema, member, pointer, sink),
                    _ => {}
                },
            }
            pointer.truncate(length);
        }
    }

    fn belongs_to_other_direction(&self, schema: &Value) -> bool {
        let flag = match self.direction {
            Direction::Request => "readOnly",
            Direction::Response => "writeOnly",
        };
        schema.get(flag).and_then(Value::as_bool) == Some(true)
    }
}

/// Where violations go, with the location prefix of the value being validated.
struct Checked<'o> {
    prefix: &'o str,
    out: &'o mut Vec<Violation>,
}

impl Checked<'_> {
    fn push(&mut self, pointer: &str, message: String) {
        let location = match (self.prefix.is_empty(), pointer.is_empty()) {
            (_, true) => self.prefix.to_string(),
            (true, false) => pointer.to_string(),
            (false, false) => format!("{} {pointer}", self.prefix),
        };
        self.out.push(Violation { location, message });
    }
}

/// Resolves a local `$ref` ("#/components/schemas/Person"); remote references are not supported
/// (Pipedrive's documents are self-contained) and resolve to nothing, which is reported.
pub(crate) fn resolve_reference<'d>(root: &'d Value, reference: &str) -> Option<&'d Value> {
    let pointer = reference.strip_prefix('#')?;
    // JSON pointer tokens in a URI fragment may also be percent-encoded.
    root.pointer(&percent_encoding::percent_decode_str(pointer).decode_utf8_lossy())
}

fn escape_pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

pub(crate) fn has_type(value: &Value, expected: &str) -> bool {
    match expected {
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "number" => value.is_number(),
        // JSON does not distinguish 1 from 1.0; JSON Schema calls both integers.
        "integer" => value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|number| number.fract() == 0.0),
        // An unknown type name is a broken document, not a broken value: don't blame the value.
        _ => true,
    }
}

/// JSON equality where numbers compare by value (YAML's `1.0` equals JSON's `1`).
pub(crate) fn json_equal(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Number(a), Value::Number(b)) => a == b || a.as_f64() == b.as_f64(),
        (Value::Array(a), Value::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| json_equal(x, y)),
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(key, x)| b.get(key).is_some_and(|y| json_equal(x, y)))
        }
        _ => left == right,
    }
}

/// Pipedrive's enums sometimes list `"1"` where the API sends `1` (and the reverse); the value is
/// still rejected, but the message says it is a JSON type mismatch, not an unknown value.
pub(crate) fn enum_message(value: &Value, options: &[Value]) -> String {
    let text_of = |option: &Value| match option {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    };
    let listed: Vec<String> = options.iter().take(12).map(Value::to_string).collect();
    let ellipsis = if options.len() > 12 { ", ..." } else { "" };
    let mut message = format!("{} is not one of the enum values [{}{ellipsis}]", describe(value), listed.join(", "));
    if let Some(text) = text_of(value)
        && let Some(twin) = options.iter().find(|option| text_of(option).as_deref() == Some(text.as_str()))
    {
        message.push_str(&format!(
            " (the enum lists {twin} as a {}, the value is a {})",
            json_type_name(twin),
            json_type_name(value)
        ));
    }
    message
}

pub(crate) fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(number) if number.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A short rendering of a value for messages; long strings and containers are abbreviated.
pub(crate) fn describe(value: &Value) -> String {
    match value {
        Value::Array(items) => format!("array of {} items", items.len()),
        Value::Object(members) => format!("object with {} properties", members.len()),
        Value::String(text) if text.chars().count() > 60 => {
            let head: String = text.chars().take(57).collect();
            format!("string {:?}", format!("{head}..."))
        }
        other => format!("{} {other}", json_type_name(other)),
    }
}

fn check_number(keywords: &serde_json::Map<String, Value>, number: f64, pointer: &str, sink: &mut Checked<'_>) {
    // OpenAPI 3.0 (draft 5): exclusiveMinimum/exclusiveMaximum are booleans modifying min/max.
    let exclusive = |name: &str| keywords.get(name).and_then(Value::as_bool).unwrap_or(false);
    if let Some(min) = keywords.get("minimum").and_then(Value::as_f64)
        && (number < min || (exclusive("exclusiveMinimum") && number == min))
    {
        let relation = if exclusive("exclusiveMinimum") { "greater than" } else { "at least" };
        sink.push(pointer, format!("{number} is below the minimum: must be {relation} {min}"));
    }
    if let Some(max) = keywords.get("maximum").and_then(Value::as_f64)
        && (number > max || (exclusive("exclusiveMaximum") && number == max))
    {
        let relation = if exclusive("exclusiveMaximum") { "less than" } else { "at most" };
        sink.push(pointer, format!("{number} is above the maximum: must be {relation} {max}"));
    }
    if let Some(step) = keywords.get("multipleOf").and_then(Value::as_f64) {
        let quotient = number / step;
        if step > 0.0 && (quotient - quotient.round()).abs() > 1e-9 {
            sink.push(pointer, format!("{number} is not a multiple of {step}"));
        }
    }
}

/// Checks the two formats that matter for Pipedrive payloads; other formats are not checked.
pub(crate) fn check_format(format: &str, text: &str) -> Result<(), String> {
    let valid = match format {
        "date" => is_date(text),
        "date-time" => is_date_time(text),
        _ => return Ok(()),
    };
    if valid {
        Ok(())
    } else {
        let expected = if format == "date" { "YYYY-MM-DD" } else { "RFC 3339, e.g. 2024-05-01T12:30:00Z" };
        Err(format!("{text:?} is not a valid {format} ({expected})"))
    }
}

fn digits(text: &str, range: std::ops::Range<usize>) -> Option<u32> {
    let part = text.get(range)?;
    if part.bytes().all(|byte| byte.is_ascii_digit()) { part.parse().ok() } else { None }
}

fn is_date(text: &str) -> bool {
    if text.len() != 10 || &text[4..5] != "-" || &text[7..8] != "-" {
        return false;
    }
    let (Some(year), Some(month), Some(day)) = (digits(text, 0..4), digits(text, 5..7), digits(text, 8..10)) else {
        return false;
    };
    let (Ok(year), Ok(month), Ok(day)) = (i16::try_from(year), i8::try_from(month), i8::try_from(day)) else {
        return false;
    };
    jiff::civil::Date::new(year, month, day).is_ok()
}

/// RFC 3339 `date-time`: full-date "T" partial-time time-offset ("t"/"z" allowed, as the RFC says).
fn is_date_time(text: &str) -> bool {
    if !text.is_ascii() || text.len() < 20 || !is_date(&text[..10]) || !matches!(&text[10..11], "T" | "t") {
        return false;
    }
    let time = &text[11..];
    let clock_ok = time.len() >= 8
        && &time[2..3] == ":"
        && &time[5..6] == ":"
        && digits(time, 0..2).is_some_and(|hour| hour < 24)
        && digits(time, 3..5).is_some_and(|minute| minute < 60)
        // 60 is a leap second.
        && digits(time, 6..8).is_some_and(|second| second <= 60);
    if !clock_ok {
        return false;
    }
    let mut rest = &time[8..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let count = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if count == 0 {
            return false;
        }
        rest = &fraction[count..];
    }
    match rest {
        "Z" | "z" => true,
        offset => {
            offset.len() == 6
                && matches!(&offset[..1], "+" | "-")
                && &offset[3..4] == ":"
                && digits(offset, 1..3).is_some_and(|hour| hour < 24)
                && digits(offset, 4..6).is_some_and(|minute| minute < 60)
        }
    }
}

/// Lists the keywords of every schema in `schemas` (and their subschemas) that the validator does
/// not enforce and that are not mere annotations, as "keyword at location"; also the formats that
/// are not checked, as "format NAME".
pub(crate) fn collect_unsupported(
    schema: &Value,
    location: &str,
    keywords_found: &mut BTreeSet<String>,
    formats_found: &mut BTreeSet<String>,
) {
    let Some(members) = schema.as_object() else {
        return;
    };
    for (keyword, value) in members {
        let known = VALIDATED_KEYWORDS.contains(&keyword.as_str())
            || ANNOTATION_KEYWORDS.contains(&keyword.as_str())
            || keyword.starts_with("x-");
        if !known {
            keywords_found.insert(format!("{keyword} (first at {location})"));
        }
        if keyword == "format"
            && let Some(format) = value.as_str()
            && !VALIDATED_FORMATS.contains(&format)
        {
            formats_found.insert(format.to_string());
        }
    }
    if let Some(properties) = members.get("properties").and_then(Value::as_object) {
        for (name, property) in properties {
            collect_unsupported(property, &format!("{location}/properties/{name}"), keywords_found, formats_found);
        }
    }
    for single in ["items", "additionalProperties", "not"] {
        if let Some(subschema) = members.get(single) {
            collect_unsupported(subschema, &format!("{location}/{single}"), keywords_found, formats_found);
        }
    }
    for list in ["allOf", "oneOf", "anyOf"] {
        if let Some(subschemas) = members.get(list).and_then(Value::as_array) {
            for (index, subschema) in subschemas.iter().enumerate() {
                collect_unsupported(subschema, &format!("{location}/{list}/{index}"), keywords_found, formats_found);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn references_are_percent_decoded_before_they_are_resolved() {
        let root = json!({"components": {"schemas": {"Deal Product": {"type": "object"}, "100%": {"type": "string"}}}});
        let deal_product = resolve_reference(&root, "#/components/schemas/Deal%20Product");
        assert_eq!(deal_product, Some(&json!({"type": "object"})));
        assert_eq!(resolve_reference(&root, "#/components/schemas/100%25"), Some(&json!({"type": "string"})));
        let lone = resolve_reference(&root, "#/components/schemas/100%");
        assert_eq!(lone, Some(&json!({"type": "string"})), "a lone % stays a %");
    }

    fn violations(schema: Value, value: Value) -> Vec<Violation> {
        let root = json!({ "components": { "schemas": { "Subject": schema } } });
        let subject = json!({ "$ref": "#/components/schemas/Subject" });
        SchemaValidator::new(&root, Direction::Response).validate(&subject, &value, "body")
    }

    fn messages(schema: Value, value: Value) -> Vec<String> {
        violations(schema, value).into_iter().map(|violation| violation.to_string()).collect()
    }

    #[test]
    fn type_mismatch_is_reported_with_the_value() {
        assert_eq!(messages(json!({"type": "integer"}), json!("12")), ["body: expected integer, got string \"12\""]);
        assert!(messages(json!({"type": "integer"}), json!(12.0)).is_empty());
        assert!(!messages(json!({"type": "integer"}), json!(12.5)).is_empty());
        assert!(messages(json!({"type": "number"}), json!(12)).is_empty());
    }

    #[test]
    fn null_needs_nullable_when_a_type_is_given() {
        assert!(messages(json!({"type": "string"}), Value::Null)[0].contains("nullable"));
        assert!(messages(json!({"type": "string", "nullable": true}), Value::Null).is_empty());
        assert!(messages(json!({"description": "anything"}), Value::Null).is_empty());
        assert!(messages(json!({"type": "string", "nullable": true, "enum": ["a"]}), Value::Null).is_empty());
    }

    #[test]
    fn nested_locations_are_json_pointers() {
        let schema = json!({"type": "object", "properties": {"emails": {"type": "array", "items": {
            "type": "object", "properties": {"primary": {"type": "boolean"}}}}}});
        let found = violations(schema, json!({"emails": [{"primary": true}, {"primary": "true"}]}));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].location, "body /emails/1/primary");
    }

    #[test]
    fn required_and_additional_properties() {
        let closed = json!({"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}},
            "additionalProperties": false});
        assert_eq!(
            messages(closed.clone(), json!({"nmae": "x"})),
            [
                "body: required property \"name\" is missing",
                "body /nmae: property \"nmae\" is not declared and additionalProperties is false"
            ]
        );
        let open = json!({"type": "object", "properties": {"name": {"type": "string"}}});
        assert!(messages(open, json!({"custom_hash_key": 1})).is_empty());
        let map = json!({"type": "object", "additionalProperties": {"type": "integer"}});
        assert_eq!(messages(map, json!({"a": 1, "b": "2"})), ["body /b: expected integer, got string \"2\""]);
    }

    #[test]
    fn enum_is_exact_per_json_type_and_says_so() {
        assert!(messages(json!({"enum": [0, 1]}), json!(1)).is_empty());
        assert!(messages(json!({"enum": [0, 1]}), json!(1.0)).is_empty());
        let found = messages(json!({"enum": ["0", "1"]}), json!(1));
        assert_eq!(found.len(), 1);
        assert!(found[0].contains("the enum lists \"1\" as a string, the value is a integer"), "{found:?}");
        assert!(messages(json!({"enum": ["open", "won"]}), json!("lost"))[0].contains("not one of"));
    }

    #[test]
    fn all_of_needs_every_member_and_one_of_needs_any() {
        let all = json!({"allOf": [{"type": "object", "required": ["a"]}, {"required": ["b"]}]});
        assert_eq!(messages(all, json!({"a": 1})).len(), 1);
        // Overlapping alternatives (an integer is a number too) are accepted for oneOf.
        let overlapping = json!({"oneOf": [{"type": "integer"}, {"type": "number"}]});
        assert!(messages(overlapping, json!(3)).is_empty());
        let any = json!({"anyOf": [{"type": "integer"}, {"type": "string", "format": "date"}]});
        assert!(messages(any.clone(), json!("2024-02-29")).is_empty());
        let found = messages(any, json!("2023-02-29"));
        assert_eq!(found.len(), 1);
        assert!(found[0].starts_with("body: matches none of the 2 anyOf alternatives: [1]"), "{found:?}");
    }

    #[test]
    fn not_rejects_what_it_matches() {
        assert_eq!(messages(json!({"not": {"type": "string"}}), json!("x")).len(), 1);
        assert!(messages(json!({"not": {"type": "string"}}), json!(1)).is_empty());
    }

    #[test]
    fn numeric_and_length_limits() {
        assert!(messages(json!({"type": "integer", "maximum": 500}), json!(500)).is_empty());
        assert!(messages(json!({"type": "integer", "maximum": 500}), json!(501))[0].contains("at most 500"));
        assert!(!messages(json!({"minimum": 0, "exclusiveMinimum": true}), json!(0)).is_empty());
        assert!(!messages(json!({"type": "string", "minLength": 1}), json!("")).is_empty());
        assert!(!messages(json!({"type": "string", "maxLength": 2}), json!("äöü")).is_empty());
        assert!(messages(json!({"type": "string", "maxLength": 3}), json!("äöü")).is_empty());
        assert!(!messages(json!({"type": "array", "maxItems": 1}), json!([1, 2])).is_empty());
        assert!(!messages(json!({"type": "array", "uniqueItems": true}), json!([1, 1])).is_empty());
        assert!(!messages(json!({"type": "object", "minProperties": 1}), json!({})).is_empty());
    }

    #[test]
    fn formats_date_and_date_time_only() {
        let date = json!({"type": "string", "format": "date"});
        assert!(messages(date.clone(), json!("2024-12-31")).is_empty());
        assert!(!messages(date.clone(), json!("2024-13-01")).is_empty());
        assert!(!messages(date, json!("2024-1-01")).is_empty());
        let date_time = json!({"type": "string", "format": "date-time"});
        for good in ["2024-05-01T12:30:00Z", "2024-05-01T12:30:00.123+02:00", "2024-05-01t12:30:00z"] {
            assert!(messages(date_time.clone(), json!(good)).is_empty(), "{good}");
        }
        for bad in ["2024-05-01 12:30:00", "2024-05-01T12:30:00", "2024-05-01T25:00:00Z", "2024-05-01"] {
            assert!(!messages(date_time.clone(), json!(bad)).is_empty(), "{bad}");
        }
        // A number is not a string: `format` only constrains strings.
        assert!(messages(json!({"format": "date"}), json!(20240501)).is_empty());
        assert!(messages(json!({"type": "string", "format": "uuid"}), json!("not-a-uuid")).is_empty());
    }

    #[test]
    fn refs_resolve_recursively_and_cycles_end() {
        let root = json!({"components": {"schemas": {
            "Node": {"type": "object", "properties": {"child": {"$ref": "#/components/schemas/Node"},
                                                      "name": {"$ref": "#/components/schemas/Name"}}},
            "Name": {"$ref": "#/components/schemas/Text"},
            "Text": {"type": "string"},
            "Loop": {"allOf": [{"$ref": "#/components/schemas/Loop"}], "type": "object"},
        }}});
        let node = json!({"$ref": "#/components/schemas/Node"});
        let data = json!({"child": {"child": {"name": 7}}});
        let found = SchemaValidator::new(&root, Direction::Response).validate(&node, &data, "body");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].location, "body /child/child/name");
        let looping = json!({"$ref": "#/components/schemas/Loop"});
        let found = SchemaValidator::new(&root, Direction::Response).validate(&looping, &json!({}), "body");
        assert!(found.is_empty());
        let dangling = json!({"$ref": "#/components/schemas/Missing"});
        let found = SchemaValidator::new(&root, Direction::Response).validate(&dangling, &json!({}), "body");
        assert!(found[0].message.contains("does not resolve"));
    }

    #[test]
    fn read_only_and_write_only_depend_on_direction() {
        let root = json!({});
        let schema = json!({"type": "object", "required": ["id", "password"], "properties": {
            "id": {"type": "integer", "readOnly": true}, "password": {"type": "string", "writeOnly": true}}});
        let request = SchemaValidator::new(&root, Direction::Request).validate(&schema, &json!({"password": "x"}), "b");
        assert!(request.is_empty(), "{request:?}");
        let response = SchemaValidator::new(&root, Direction::Response).validate(&schema, &json!({"id": 1}), "b");
        assert!(response.is_empty(), "{response:?}");
        let sent_id =
            SchemaValidator::new(&root, Direction::Request).validate(&schema, &json!({"id": 1, "password": "x"}), "b");
        assert_eq!(sent_id.len(), 1);
        assert!(sent_id[0].message.contains("readOnly"));
    }
}
