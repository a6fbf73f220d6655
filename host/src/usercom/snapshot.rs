//! Writes what the API gave as a CSV export directory in the sample's dialect (one file per
//! object, the standard headers `examples/usercom-export/` uses, `t`/`f` booleans, PostgreSQL
//! arrays, and `attributes.csv` defining the custom attributes), so that the export reader decides
//! every role from a standard header and audit, plan, apply, verify and delta read it unchanged.
//!
//! API shapes taken (`shared/reference/usercom-api.md`): a user's `tags` as `[{id, name}]` and
//! custom attributes either flattened onto the object (v2) or as `attributes: [{name_std, value}]`
//! (v1); a deal's `participants` (user ids) and `order_products`; a conversation's messages with
//! `user {id, ...}`; events per user as `{id, name, timestamp, data}`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{Map, Value};

/// Everything fetched, by what it is, ready to be written.
#[derive(Debug, Default, Clone)]
pub struct View {
    /// Top-level lists by resource (`users/`, `deals/`...); a resource the API does not have is absent.
    pub lists: BTreeMap<String, Vec<Value>>,
    /// Per segment id: its members (users).
    pub segment_members: BTreeMap<u64, Vec<Value>>,
    /// Per user id: the user's events.
    pub events: BTreeMap<u64, Vec<Value>>,
    /// Per user id: the user's conversations, each with its `messages`.
    pub conversations: BTreeMap<u64, Vec<Value>>,
}

/// One file of the snapshot: the resource it comes from, its name, and its columns in the
/// sample's order (other fields the API gives follow, sorted).
struct FileSpec {
    resource: &'static str,
    file: &'static str,
    columns: &'static [&'static str],
    /// `content_type` of the custom attributes that belong to it.
    content_type: Option<&'static str>,
}

const FILES: &[FileSpec] = &[
    FileSpec {
        resource: "users/",
        file: "users.csv",
        columns: &[
            "id",
            "custom_id",
            "key",
            "email",
            "first_name",
            "last_name",
            "phone_number",
            "gender",
            "status",
            "company_id",
            "city",
            "country",
            "unsubscribed",
            "created_at",
            "last_seen",
            "last_heard",
            "web_push_subscription",
            "fcm_key",
            "tags",
            "score",
        ],
        content_type: Some("user"),
    },
    FileSpec {
        resource: "companies/",
        file: "companies.csv",
        columns: &["id", "name", "phone_number", "email", "city", "country", "created_at", "tags"],
        content_type: Some("company"),
    },
    FileSpec {
        resource: "deals/",
        file: "deals.csv",
        columns: &[
            "id",
            "name",
            "value",
            "currency",
            "status",
            "pipeline",
            "stage",
            "user_id",
            "company_id",
            "created_at",
            "expected_close_date",
            "won_at",
            "lost_at",
            "tags",
        ],
        content_type: Some("deal"),
    },
    FileSpec {
        resource: "activities/",
        file: "activities.csv",
        columns: &[
            "id",
            "name",
            "activity_type",
            "deal_id",
            "user_id",
            "company_id",
            "description",
            "done",
            "due_date",
            "created_at",
            "duration",
            "assigned_to",
        ],
        content_type: Some("activity"),
    },
    FileSpec { resource: "pipelines/", file: "pipelines.csv", columns: &["id", "name"], content_type: None },
    FileSpec {
        resource: "stages/",
        file: "stages.csv",
        columns: &["id", "name", "pipeline", "order"],
        content_type: None,
    },
    FileSpec { resource: "tags/", file: "tags.csv", columns: &["id", "name"], content_type: None },
    FileSpec {
        resource: "segments/",
        file: "segments.csv",
        columns: &["id", "name", "description", "rules", "object_count"],
        content_type: None,
    },
    FileSpec {
        resource: "attributes/",
        file: "attributes.csv",
        columns: &["id", "name", "name_std", "value_type", "content_type", "multiple", "choices"],
        content_type: None,
    },
    FileSpec {
        resource: "automations/",
        file: "automations.csv",
        columns: &["id", "name", "trigger", "conditions", "actions", "active"],
        content_type: None,
    },
    FileSpec {
        resource: "email-templates/",
        file: "email_templates.csv",
        columns: &["id", "name", "subject", "body", "updated_at"],
        content_type: None,
    },
    FileSpec {
        resource: "products/",
        file: "products.csv",
        columns: &["id", "name", "price", "currency"],
        content_type: None,
    },
];

/// Fields that are structure, not a column: flattened (`attributes`), turned into another column
/// (`companies` -> `company_id`, `agent` -> `assigned_to`), links (`users` of a segment), or said
/// twice (a deal's `products` ids are its `order_products`).
const NOT_COLUMNS: &[&str] = &[
    "attributes",
    "companies",
    "segments",
    "users",
    "url",
    "agent",
    "products",
    "products_custom_ids",
    "products_custom_id",
    "messages",
];

/// The top-level lists extract reads, by resource: every file above.
pub fn list_resources() -> impl Iterator<Item = &'static str> {
    FILES.iter().map(|spec| spec.resource)
}

/// Writes the snapshot into `dir` (which must not exist: the caller writes into a fresh
/// directory and renames it into place). Returns the rows written per file.
pub fn write(view: &View, dir: &Path) -> std::io::Result<BTreeMap<String, u64>> {
    crate::private_files::create_dir(dir)?;
    let attributes = definitions(view);
    let mut rows = BTreeMap::new();
    for spec in FILES {
        let Some(items) =
            (if spec.resource == "attributes/" { Some(&attributes) } else { view.lists.get(spec.resource) })
        else {
            continue;
        };
        let defined: Vec<String> = spec
            .content_type
            .map(|content_type| {
                attributes
                    .iter()
                    .filter(|attribute| text(attribute.get("content_type")) == content_type)
                    .map(|attribute| text(attribute.get("name_std")))
                    .filter(|name| !name.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let records: Vec<Map<String, Value>> = items.iter().map(|item| flatten(spec.resource, item)).collect();
        rows.insert(spec.file.to_owned(), write_table(dir, spec.file, spec.columns, &defined, &records)?);
    }
    let events: Vec<Map<String, Value>> = view
        .events
        .iter()
        .flat_map(|(user, events)| {
            events.iter().map(move |event| {
                let mut event = flatten("events", event);
                event.entry("user_id").or_insert_with(|| Value::from(*user));
                event
            })
        })
        .collect();
    if !view.events.is_empty() || view.lists.contains_key("users/") {
        let mut events = events;
        events.sort_by_key(id_of);
        rows.insert(
            "events.csv".into(),
            write_table(dir, "events.csv", &["id", "name", "user_id", "timestamp", "data"], &[], &events)?,
        );
    }
    let mut messages: Vec<Map<String, Value>> = Vec::new();
    for (user, conversations) in &view.conversations {
        for conversation in conversations {
            let conversation_id = conversation.get("id").cloned().unwrap_or(Value::Null);
            for message in conversation.get("messages").and_then(Value::as_array).into_iter().flatten() {
                messages.push(message_row(*user, &conversation_id, message));
            }
        }
    }
    if !view.conversations.is_empty() || view.lists.contains_key("users/") {
        messages.sort_by_key(id_of);
        rows.insert(
            "conversations.csv".into(),
            write_table(
                dir,
                "conversations.csv",
                &["id", "conversation_id", "user_id", "sender", "content", "timestamp", "source"],
                &[],
                &messages,
            )?,
        );
    }
    if !view.segment_members.is_empty() {
        let members: Vec<Map<String, Value>> = view
            .segment_members
            .iter()
            .flat_map(|(segment, users)| {
                users.iter().map(move |user| {
                    Map::from_iter([
                        ("segment_id".to_owned(), Value::from(*segment)),
                        ("user_id".to_owned(), user.get("id").cloned().unwrap_or(Value::Null)),
                    ])
                })
            })
            .collect();
        rows.insert(
            "segment_members.csv".into(),
            write_table(dir, "segment_members.csv", &["segment_id", "user_id"], &[], &members)?,
        );
    }
    Ok(rows)
}

/// The attribute definitions, with `multiple` where the API leaves it out: a choice attribute
/// (`value_type` fixed) whose values are lists is a multiple choice. The API gives no options
/// ([code] keghub `Attribute.cs`: id, name, name_std, value_type, content_type), so none are
/// written and the reader takes the options observed.
fn definitions(view: &View) -> Vec<Value> {
    let mut attributes = view.lists.get("attributes/").cloned().unwrap_or_default();
    for attribute in &mut attributes {
        let Some(object) = attribute.as_object_mut() else { continue };
        if object.contains_key("multiple") || text(object.get("value_type")) != "fixed" {
            continue;
        }
        let name = text(object.get("name_std"));
        let resource = FILES
            .iter()
            .find(|spec| spec.content_type.is_some_and(|content_type| content_type == text(object.get("content_type"))))
            .map(|spec| spec.resource);
        let records = resource.and_then(|resource| view.lists.get(resource)).into_iter().flatten();
        let multiple =
            records.map(|record| flatten("", record)).any(|record| record.get(&name).is_some_and(Value::is_array));
        object.insert("multiple".into(), Value::Bool(multiple));
    }
    attributes
}

/// A message as a row of `conversations.csv`: who wrote it is the conversation's user when the
/// message's `user` is that user, an agent otherwise (unless the message says so itself).
fn message_row(user: u64, conversation_id: &Value, message: &Value) -> Map<String, Value> {
    let author = message.get("user").and_then(|author| author.get("id")).and_then(as_id);
    let sender = match message.get("sender").or_else(|| message.get("author_type")) {
        Some(Value::String(sender)) if !sender.is_empty() => sender.clone(),
        _ if author == Some(user) => "user".to_owned(),
        _ => "agent".to_owned(),
    };
    Map::from_iter([
        ("id".to_owned(), message.get("id").cloned().unwrap_or(Value::Null)),
        ("conversation_id".to_owned(), conversation_id.clone()),
        ("user_id".to_owned(), Value::from(user)),
        ("sender".to_owned(), Value::String(sender)),
        ("content".to_owned(), message.get("content").cloned().unwrap_or(Value::Null)),
        ("timestamp".to_owned(), message.get("timestamp").cloned().unwrap_or(Value::Null)),
        ("source".to_owned(), message.get("source").cloned().unwrap_or(Value::Null)),
    ])
}

/// An item's fields as columns: custom attributes flattened, structure turned into columns.
fn flatten(resource: &str, item: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    let Some(object) = item.as_object() else { return out };
    for (key, value) in object {
        if !NOT_COLUMNS.contains(&key.as_str()) {
            out.insert(key.clone(), value.clone());
        }
    }
    // v1: custom attributes as a list of {name_std, value}.
    for attribute in object.get("attributes").and_then(Value::as_array).into_iter().flatten() {
        let name = text(attribute.get("name_std"));
        if !name.is_empty() {
            out.entry(name).or_insert_with(|| attribute.get("value").cloned().unwrap_or(Value::Null));
        }
    }
    if resource == "users/"
        && out.get("company_id").is_none_or(Value::is_null)
        && let Some(first) = object.get("companies").and_then(Value::as_array).and_then(|companies| companies.first())
    {
        let id = first.get("id").unwrap_or(first).clone();
        out.insert("company_id".into(), id);
    }
    // An agent is known to Pipedrive by email (plan matches agents to users so), the export
    // writes the email, and v2 gives `agent {id, email}` beside the id in `assigned_to`.
    match object.get("agent") {
        Some(agent) if agent.get("email").is_some_and(Value::is_string) => {
            out.insert("assigned_to".into(), agent.clone());
        }
        Some(agent) if !agent.is_null() && out.get("assigned_to").is_none_or(Value::is_null) => {
            out.insert("assigned_to".into(), agent.clone());
        }
        _ => {}
    }
    if resource == "deals/"
        && let Some(products) = out.get("order_products").and_then(Value::as_array)
    {
        out.insert("order_products".into(), Value::String(order_products(products)));
    }
    out
}

/// `[{"product_id":N,"quantity":N,"value":"123.00","currency":"PLN"}]`, the shape the deals phase
/// reads, keys in the deal model's order (a JSON map would sort them).
fn order_products(products: &[Value]) -> String {
    let lines: Vec<String> = products
        .iter()
        .map(|product| {
            let value = match product.get("value") {
                Some(Value::Number(number)) => number.as_f64().map(|value| format!("{value:.2}")).unwrap_or_default(),
                Some(Value::String(value)) => value.clone(),
                _ => String::new(),
            };
            let json = |value: Option<&Value>| value.cloned().unwrap_or(Value::Null).to_string();
            format!(
                r#"{{"product_id":{},"quantity":{},"value":{},"currency":{}}}"#,
                product.get("product_id").and_then(as_id).map_or("null".to_owned(), |id| id.to_string()),
                json(product.get("quantity")),
                Value::String(value),
                json(product.get("currency")),
            )
        })
        .collect();
    format!("[{}]", lines.join(","))
}

fn write_table(
    dir: &Path,
    file: &str,
    preferred: &[&str],
    defined: &[String],
    records: &[Map<String, Value>],
) -> std::io::Result<u64> {
    let present: BTreeSet<&str> = records
        .iter()
        .flat_map(|record| record.iter().filter(|(_, value)| !is_empty(value)).map(|(key, _)| key.as_str()))
        .collect();
    // The sample's columns and the defined attributes always; any other field the API gives when
    // some record has a value in it (an empty column carries nothing and would only add a field).
    let mut columns: Vec<String> = preferred.iter().map(|column| column.to_string()).collect();
    for name in defined {
        if !columns.contains(name) {
            columns.push(name.clone());
        }
    }
    for name in present {
        if !columns.iter().any(|column| column == name) {
            columns.push(name.to_owned());
        }
    }
    let path = dir.join(file);
    let mut writer = csv::Writer::from_writer(crate::private_files::create(&path)?);
    writer.write_record(&columns)?;
    for record in records {
        writer.write_record(columns.iter().map(|column| record.get(column).map(cell).unwrap_or_default()))?;
    }
    writer.flush()?;
    Ok(records.len() as u64)
}

/// A JSON value as the export writes it: `t`/`f`, numbers as written, lists as PostgreSQL arrays
/// (tags by name), an agent by email, anything else structured as JSON text.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(true) => "t".into(),
        Value::Bool(false) => "f".into(),
        Value::Number(number) => number.to_string(),
        Value::String(text) => text.clone(),
        Value::Array(items) if items.iter().all(|item| !item.is_object() && !item.is_array()) => {
            pg_array(items.iter().map(cell))
        }
        Value::Array(items) if items.iter().all(|item| item.get("name").is_some_and(Value::is_string)) => {
            pg_array(items.iter().map(|item| text(item.get("name"))))
        }
        Value::Object(object) if object.get("email").is_some_and(Value::is_string) => text(object.get("email")),
        other => other.to_string(),
    }
}

/// `{a,"b c"}`: PostgreSQL's text form of an array, as the export writes choices and tags.
fn pg_array(items: impl Iterator<Item = String>) -> String {
    let quoted: Vec<String> = items
        .map(|item| {
            let plain = !item.is_empty()
                && !item.eq_ignore_ascii_case("null")
                && !item.chars().any(|c| matches!(c, ',' | '{' | '}' | '"' | '\\') || c.is_whitespace());
            if plain { item } else { format!("\"{}\"", item.replace('\\', "\\\\").replace('"', "\\\"")) }
        })
        .collect();
    format!("{{{}}}", quoted.join(","))
}

/// No value: null, an empty text, an empty list (`{}` would say nothing).
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Array(items) => items.is_empty(),
        Value::String(text) => text.is_empty() || text == "[]",
        other => cell(other).is_empty(),
    }
}

fn text(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// An id: a whole number, or a string of digits.
pub fn as_id(value: &Value) -> Option<u64> {
    match value {
        Value::Number(number) => number.as_u64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

fn id_of(record: &Map<String, Value>) -> u64 {
    record.get("id").and_then(as_id).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn api_values_are_written_as_the_export_writes_them() {
        assert_eq!(cell(&json!(true)), "t");
        assert_eq!(cell(&json!([{"id": 1, "name": "VIP"}, {"id": 2, "name": "Klient B2B"}])), r#"{VIP,"Klient B2B"}"#);
        assert_eq!(cell(&json!([10001, 10002])), "{10001,10002}");
        assert_eq!(cell(&json!({"id": 3, "email": "anna@example.com"})), "anna@example.com");
        assert_eq!(cell(&json!({"value": 3})), r#"{"value":3}"#);
        assert_eq!(
            order_products(&[json!({"product_id": 2, "quantity": 1, "value": 4500, "currency": "PLN"})]),
            r#"[{"product_id":2,"quantity":1,"value":"4500.00","currency":"PLN"}]"#
        );
    }

    #[test]
    fn a_snapshot_reads_back_with_every_role_from_standard_headers() {
        let dir = tempfile::tempdir().unwrap();
        let mut view = View::default();
        view.lists.insert(
            "attributes/".into(),
            vec![json!({"id": 301, "name": "Industry segment", "name_std": "industry_segment", "value_type": "fixed", "content_type": "user", "multiple": false, "choices": ["retail", "it"]})],
        );
        view.lists.insert(
            "users/".into(),
            vec![json!({"id": 10000, "email": "a@example.com", "first_name": "Anna", "tags": [{"id": 41, "name": "VIP"}], "unsubscribed": false, "industry_segment": "it", "companies": [{"id": 500}], "browser": null})],
        );
        view.lists.insert(
            "deals/".into(),
            vec![json!({"id": 7000, "name": "D", "value": "10.00", "status": 1, "pipeline": 1, "stage": 11, "user_id": 10000, "participants": [10000], "order_products": [], "agent": {"id": 1, "email": "agent@example.com"}})],
        );
        view.events.insert(
            10000,
            vec![json!({"id": 50000, "name": "cart_abandoned", "timestamp": 1638344475, "data": {"items": 3}})],
        );
        view.conversations.insert(
            10000,
            vec![json!({"id": 900, "messages": [{"id": 70000, "content": "Hej", "timestamp": "2019-04-17T11:33:44+01:00", "source": "chat", "user": {"id": 10000}}, {"id": 70001, "content": "Dzień dobry", "timestamp": "2019-04-17T11:34:44+01:00", "source": "chat", "user": {"id": 3, "name": "Agent"}}]})],
        );
        let snapshot = dir.path().join("snapshot");
        let rows = write(&view, &snapshot).unwrap();
        assert_eq!((rows["users.csv"], rows["events.csv"], rows["conversations.csv"]), (1, 1, 2));
        let users = std::fs::read_to_string(snapshot.join("users.csv")).unwrap();
        assert!(users.lines().next().unwrap().ends_with(",industry_segment"), "{users}");
        assert!(!users.contains("browser"), "an empty field adds no column: {users}");
        let messages = std::fs::read_to_string(snapshot.join("conversations.csv")).unwrap();
        assert!(
            messages.contains("70000,900,10000,user,Hej") && messages.contains("70001,900,10000,agent,"),
            "{messages}"
        );

        let export = crate::extract::Export::open(&snapshot, crate::extract::ExportOptions::default()).unwrap();
        let read = |kind| -> Vec<crate::record::Record> {
            export.records(kind).unwrap().unwrap().map(|read| read.unwrap().record).collect()
        };
        let user = &read(crate::record::ObjectKind::Contact)[0];
        assert!(format!("{:?}", user.get("company_id")).contains("500"), "{user:?}");
        let deal = &read(crate::record::ObjectKind::Deal)[0];
        assert!(format!("{:?}", deal.get("assigned_to")).contains("agent@example.com"), "{deal:?}");
    }
}
