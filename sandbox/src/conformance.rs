//! Checks a `--record` file against Pipedrive's OpenAPI specs: every request as it was sent and
//! every answer as it was given. Used by the conformance tests of the sandbox and of the client
//! (feature `conformance`, so the product binary does not carry a YAML parser).

use std::path::Path;

use openapi_check::{Specs, Violation};
use serde_json::{Map, Value, json};

/// What a record file's check found.
#[derive(Debug, Default)]
pub struct ConformanceReport {
    pub requests_checked: usize,
    /// Answers whose status the spec documents with a schema (Pipedrive documents few errors).
    pub responses_checked: usize,
    /// "METHOD /path: location: message", one per violation.
    pub problems: Vec<String>,
}

/// Validates each line of a record file. A request to an operation the specs do not have is a
/// problem too; lost and dropped answers have no body to check.
pub fn check_record_file(specs: &Specs, record: &Path) -> std::io::Result<ConformanceReport> {
    let text = std::fs::read_to_string(record)?;
    let mut report = ConformanceReport::default();
    for (index, line) in text.lines().enumerate() {
        let exchange: Value = serde_json::from_str(line)
            .map_err(|error| std::io::Error::other(format!("{} line {}: {error}", record.display(), index + 1)))?;
        let (method, path) = (exchange["method"].as_str().unwrap_or(""), exchange["path"].as_str().unwrap_or(""));
        let Some(operation) = specs.operation(method, path) else {
            report.problems.push(format!("{method} {path}: not in the specs"));
            continue;
        };
        let query: Vec<(String, String)> = exchange["query"]
            .as_object()
            .map(|query| {
                query.iter().map(|(name, value)| (name.clone(), value.as_str().unwrap_or("").to_owned())).collect()
            })
            .unwrap_or_default();
        let (content_type, body) = request_body(&exchange["request_body"]);
        for violation in operation.validate_request(&query, content_type, body.as_ref()) {
            report.problems.push(format!("{method} {path}: {violation}"));
        }
        report.requests_checked += 1;
        let Some(status) = exchange["status"].as_u64().map(|status| status as u16) else { continue };
        if operation.documents_status(status) {
            report.responses_checked += 1;
            let violations = operation.validate_response(status, &exchange["response_body"]);
            for violation in violations.into_iter().filter(|violation| !known_spec_gap(violation)) {
                report.problems.push(format!("{method} {path}: {violation}"));
            }
        }
    }
    Ok(report)
}

/// The body as the validator takes it: JSON as is; a multipart upload as its form fields.
fn request_body(recorded: &Value) -> (Option<&'static str>, Option<Value>) {
    match recorded {
        Value::Null => (None, None),
        Value::Object(object) if object.contains_key("multipart") => {
            let mut form = Map::new();
            for part in object["multipart"].as_array().into_iter().flatten() {
                form.insert(part["name"].as_str().unwrap_or("").to_owned(), part["value"].clone());
            }
            form.insert("file".to_owned(), json!("<bytes>"));
            (Some("multipart/form-data"), Some(Value::Object(form)))
        }
        body => (Some("application/json"), Some(body.clone())),
    }
}

/// Where Pipedrive's published spec contradicts what its API (and so the sandbox) returns; only
/// applied to answers, never to what the client sends:
/// - nulls in properties the spec declares without `nullable: true`, such as
///   `additional_data.next_cursor` (its own description says "null if no more pages"),
///   `picture_id`, `won_time`, address parts and field `description`;
/// - the v1 `*Fields` list schema restricts `field_type` to the types a field can be created
///   with, so built-in fields of type int, stage, status, picture, boolean, deal or
///   varchar_options can never validate.
pub fn known_spec_gap(violation: &Violation) -> bool {
    violation.message.starts_with("null is not allowed here")
        || (violation.location.ends_with("/field_type") && violation.message.contains("is not one of the enum values"))
}
