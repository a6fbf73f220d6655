//! The changes of a record created before, as Pipedrive's API takes them: what differs between
//! two bodies sent for it, field by field (a custom field as `custom_fields.KEY`), and the body
//! of the PATCH (or a note's PUT) that sends only those.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// One changed field: its name (`custom_fields.KEY` for a custom field), what it was, what it becomes.
pub type FieldChange = (String, Value, Value);

/// The fields whose values differ between what was sent and what would be sent now:
/// (field, prior, new); custom fields one by one, as `custom_fields.KEY`. A custom field no
/// longer set is cleared (new: null); a built-in one is left as it is.
pub fn changed_fields(sent: &Value, now: &Value) -> Vec<FieldChange> {
    let empty = Map::new();
    let (sent, now) = (sent.as_object().unwrap_or(&empty), now.as_object().unwrap_or(&empty));
    let mut changes = Vec::new();
    for (key, value) in now {
        if key == "custom_fields" {
            let before = sent.get(key).and_then(|v| v.as_object()).cloned().unwrap_or_default();
            let after = value.as_object().cloned().unwrap_or_default();
            for code in before.keys().chain(after.keys()).collect::<BTreeSet<_>>() {
                let (prior, new) =
                    (before.get(code).cloned().unwrap_or_default(), after.get(code).cloned().unwrap_or_default());
                if prior != new {
                    changes.push((format!("custom_fields.{code}"), prior, new));
                }
            }
        } else if sent.get(key) != Some(value) {
            changes.push((key.clone(), sent.get(key).cloned().unwrap_or_default(), value.clone()));
        }
    }
    changes
}

/// The body that sets `changes` (their new values), custom fields nested under `custom_fields`.
pub fn patch_body(changes: &[FieldChange]) -> Value {
    let mut body = Map::new();
    for (field, _, new) in changes {
        match field.strip_prefix("custom_fields.") {
            Some(code) => {
                let custom = body.entry("custom_fields").or_insert_with(|| serde_json::json!({}));
                custom[code] = new.clone();
            }
            None => {
                body.insert(field.clone(), new.clone());
            }
        }
    }
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_changed_fields_are_sent_and_custom_ones_nested_again() {
        let sent = json!({"name": "Jan", "phones": [], "custom_fields": {"a1": "x", "b2": "y"}});
        let now = json!({"name": "Jan K", "phones": [], "custom_fields": {"a1": "x"}});
        let mut changes = changed_fields(&sent, &now);
        changes.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            changes,
            [
                ("custom_fields.b2".to_owned(), json!("y"), Value::Null),
                ("name".to_owned(), json!("Jan"), json!("Jan K")),
            ]
        );
        assert_eq!(patch_body(&changes), json!({"name": "Jan K", "custom_fields": {"b2": null}}));
    }
}
