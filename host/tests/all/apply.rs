//! `apply` against the sandbox: the sample export lands field by field as the source says; runs
//! killed at random instants (with 5xx and lost answers on) resume to the same end state as a
//! clean run, with no duplicate and nothing missing; a plugin that fails on a batch has that batch
//! quarantined while the run reconciles.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crm_migrate::extract::{Export, ExportOptions};
use crm_migrate::record::{ObjectKind, Record, Value as SourceValue};
use crm_migrate_sandbox::{Faults, SandboxConfig, SandboxHandle};
use serde_json::{Value, json};

use crate::extract::{sample_export, sample_export_copy};
use crate::pipedrive_support::TOKEN;
use crate::plan::{in_project, prepared_sandbox_with, project, text};

/// A sandbox fast enough for whole runs in a test: 1,000 requests per 2 s.
pub(crate) fn fast(config: SandboxConfig) -> SandboxHandle {
    prepared_sandbox_with(SandboxConfig { burst_limit: Some(1000), ..config })
}

/// A project on the sample export, planned and approved.
pub(crate) fn approved_project(sandbox: &SandboxHandle) -> (tempfile::TempDir, PathBuf) {
    let (dir, project) = project(sandbox, "premium");
    let planned = in_project(&project, &["plan"]);
    assert!(planned.status.success(), "{}", text(&planned.stderr));
    let approved = in_project(&project, &["approve", "--yes", "--by", "test"]);
    assert!(approved.status.success(), "{}", text(&approved.stderr));
    (dir, project)
}

pub(crate) fn apply(project: &Path, extra: &[&str]) -> std::process::Output {
    let output = in_project(project, &[&["apply", "--concurrency", "16"], extra].concat());
    assert!(output.status.success(), "apply failed:\n{}\n{}", text(&output.stdout), text(&output.stderr));
    output
}

/// Attributes the sample's mapping skips: a bad value there is not migrated anyway.
const SKIPPED: [&str; 3] = ["key", "fcm_key", "web_push_subscription"];

/// Source records by object, each with whether a value of a migrated attribute failed to read
/// (such a record is migrated without that field, which is listed in quarantine.csv).
pub(crate) fn source_of(export_dir: &Path) -> BTreeMap<ObjectKind, Vec<(Record, bool)>> {
    let export = Export::open(export_dir, ExportOptions::default()).unwrap();
    ObjectKind::ALL
        .into_iter()
        .map(|kind| {
            let records = export
                .records(kind)
                .unwrap()
                .unwrap()
                .map(|read| read.unwrap())
                .map(|read| {
                    let bad = read.issues.iter().any(|issue| !SKIPPED.contains(&issue.field.as_str()));
                    (read.record, bad)
                })
                .collect();
            (kind, records)
        })
        .collect()
}

fn source() -> BTreeMap<ObjectKind, Vec<(Record, bool)>> {
    source_of(&sample_export())
}

pub(crate) fn text_of(record: &Record, field: &str) -> Option<String> {
    match record.get(field) {
        Some(SourceValue::Text(text)) if !text.trim().is_empty() => Some(text.trim().to_owned()),
        _ => None,
    }
}

fn utc(record: &Record, field: &str) -> Option<String> {
    match record.get(field) {
        Some(SourceValue::DateTime(at)) => {
            Some(crm_migrate::record::DateTime { unix_millis: at.unix_millis, offset_minutes: 0 }.to_string())
        }
        Some(SourceValue::Date(date)) => Some(format!("{date}T00:00:00Z")),
        _ => None,
    }
}

/// The sample project's source account (`init`'s default: the export directory's name), as it
/// starts a marker field's value.
const ACCOUNT: &str = "usercom-export:";

/// The account as a person compares it: records keyed by their User.com marker (without the
/// source account), links by the linked record's marker, users by email, fields by name, options
/// and labels by label; no ids and no write times. A marker seen twice is a duplicate and gets a key of its own.
pub(crate) fn canonical(state: &Value) -> BTreeMap<String, Value> {
    let fields = state["fields"].as_array().unwrap();
    let field = |entity: &str, code: &str| {
        fields.iter().find(|f| f["entity"] == entity && f["code"] == code && f["is_deleted"] == false)
    };
    let marker_code = |entity: &str| {
        fields
            .iter()
            .find(|f| f["entity"] == entity && f["name"] == "User.com ID")
            .map(|f| f["code"].as_str().unwrap().to_owned())
    };
    let option_label = |field: &Value, id: &Value| {
        field["options"]
            .as_array()
            .and_then(|options| options.iter().find(|o| o["id"] == *id))
            .map(|o| o["label"].clone())
            .unwrap_or(id.clone())
    };
    let custom = |entity: &str, record: &Value| -> BTreeMap<String, Value> {
        record["custom_fields"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(_, value)| !value.is_null())
            .map(|(code, value)| {
                let definition = field(entity, code).unwrap();
                let value = match (definition["field_type"].as_str().unwrap(), value) {
                    ("enum", id) => option_label(definition, id),
                    ("set", Value::Array(ids)) => {
                        let mut labels: Vec<String> =
                            ids.iter().map(|id| option_label(definition, id).as_str().unwrap().to_owned()).collect();
                        labels.sort();
                        json!(labels)
                    }
                    (_, value) => value.clone(),
                };
                (definition["name"].as_str().unwrap().to_owned(), value)
            })
            .collect()
    };
    let labels = |entity: &str, record: &Value| -> Vec<String> {
        let definition = field(entity, "label").unwrap();
        let mut names: Vec<String> = record["label_ids"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|id| option_label(definition, id).as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    };
    let user = |id: &Value| {
        state["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["id"] == *id)
            .map(|u| u["email"].clone())
            .unwrap_or(Value::Null)
    };
    let live = |collection: &str| {
        state[collection]
            .as_object()
            .unwrap()
            .values()
            .filter(|record| record["is_deleted"] != true && record["active_flag"] != false)
            .cloned()
            .collect::<Vec<_>>()
    };
    let marker_of = |entity: &str, collection: &str, id: &Value| -> Value {
        let Some(code) = marker_code(entity) else { return Value::Null };
        let marker = state[collection]
            .get(id.to_string())
            .map(|record| record["custom_fields"][&code].clone())
            .unwrap_or(Value::Null);
        marker.as_str().and_then(|marker| marker.strip_prefix(ACCOUNT)).map_or(marker.clone(), |id| json!(id))
    };
    // A creation time not sent (its source value did not read, so it was left out) is the write
    // time Pipedrive set, as the update time is: not the source's, and not the same in two runs.
    let sent_add_time = |record: &Value| {
        if record["add_time"] == record["update_time"] { Value::Null } else { record["add_time"].clone() }
    };
    let name_of = |collection: &str, id: &Value| {
        state[collection].get(id.to_string()).map(|record| record["name"].clone()).unwrap_or(Value::Null)
    };
    let mut out = BTreeMap::new();
    let mut insert = |key: String, value: Value| {
        let key = if out.contains_key(&key) { format!("DUPLICATE {key} {}", out.len()) } else { key };
        out.insert(key, value);
    };
    for (entity, collection) in [("organization", "organizations"), ("person", "persons"), ("deal", "deals")] {
        let code = marker_code(entity).expect("the marker field exists");
        for record in live(collection) {
            let mut value = json!({
                "name": record.get("name").or(record.get("title")),
                "owner": user(&record["owner_id"]),
                "labels": labels(entity, &record),
                "custom": custom(entity, &record),
            });
            let extra = match entity {
                "organization" => {
                    json!({"address": record["address"]["value"], "website": record["website"], "add_time": sent_add_time(&record)})
                }
                "person" => {
                    json!({"emails": record["emails"], "phones": record["phones"], "org": marker_of("organization", "organizations", &record["org_id"]), "add_time": sent_add_time(&record)})
                }
                _ => json!({
                    "value": record["value"], "currency": record["currency"], "status": record["status"],
                    // A close time equal to the deal's creation was set by Pipedrive at write time, not sent.
                    "won_time": if record["won_time"] == record["add_time"] { Value::Null } else { record["won_time"].clone() },
                    "lost_time": if record["lost_time"] == record["add_time"] { Value::Null } else { record["lost_time"].clone() },
                    "lost_reason": record["lost_reason"], "expected_close_date": record["expected_close_date"],
                    "pipeline": name_of("pipelines", &record["pipeline_id"]), "stage": name_of("stages", &record["stage_id"]),
                    "person": marker_of("person", "persons", &record["person_id"]), "org": marker_of("organization", "organizations", &record["org_id"]),
                }),
            };
            value.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
            let marker = record["custom_fields"][&code].as_str().unwrap_or("(no marker)");
            insert(format!("{entity} {}", marker.strip_prefix(ACCOUNT).unwrap_or(marker)), value);
        }
    }
    let marker_in = |text: &str| {
        text.rfind("[User.com ")
            .map(|start| {
                text[start..].split(']').next().unwrap().trim_start_matches('[').replacen(" usercom-export: ", " ", 1)
            })
            .unwrap_or_else(|| "(no marker)".into())
    };
    for record in live("activities") {
        let participants: Vec<Value> = record["participants"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| marker_of("person", "persons", &p["person_id"]))
            .collect();
        insert(
            marker_in(record["note"].as_str().unwrap_or("")),
            json!({
                "subject": record["subject"], "type": record["type"], "done": record["done"], "due_date": record["due_date"], "due_time": record["due_time"],
                "duration": record["duration"], "note": record["note"], "owner": user(&record["owner_id"]), "participants": participants,
                "attendees": record["attendees"].as_array().into_iter().flatten().map(|a| a["email"].clone()).collect::<Vec<_>>(),
                "deal": marker_of("deal", "deals", &record["deal_id"]), "org": marker_of("organization", "organizations", &record["org_id"]),
            }),
        );
    }
    for record in live("notes") {
        insert(
            marker_in(record["content"].as_str().unwrap_or("")),
            json!({"content": record["content"], "add_time": record["add_time"], "person": marker_of("person", "persons", &record["person_id"])}),
        );
    }
    out
}

#[test]
fn a_full_apply_lands_every_record_as_the_source_says_and_reconciles() {
    let _machine = crate::support::heavy();
    let sandbox = fast(SandboxConfig::default());
    let (_dir, project) = approved_project(&sandbox);
    let output = apply(&project, &[]);
    assert!(text(&output.stderr).contains("persons: 500 records"), "progress per phase:\n{}", text(&output.stderr));
    let state = canonical(&sandbox.state());
    let source = source();
    let created = |entity: &str, id: &str| state.contains_key(&format!("{entity} {id}"));

    // Counts: every source record created; a value that does not read leaves its field out, listed.
    let reconciliation = std::fs::read_to_string(project.join("reports/reconciliation.md")).unwrap();
    assert!(!reconciliation.contains("**no**"), "{reconciliation}");
    let quarantine = std::fs::read_to_string(project.join("reports/quarantine.csv")).unwrap();
    for (kind, entity) in
        [(ObjectKind::Company, "organization"), (ObjectKind::Contact, "person"), (ObjectKind::Deal, "deal")]
    {
        for (record, has_issue) in &source[&kind] {
            let listed = quarantine.lines().find(|line| line.starts_with(&format!("{kind},{},", record.source_id)));
            assert!(created(entity, &record.source_id), "{kind} {}: {listed:?}", record.source_id);
            assert_eq!(
                listed.is_some_and(|line| line.contains(",field left out,")),
                *has_issue,
                "{kind} {}: {listed:?}",
                record.source_id
            );
        }
    }
    let persons = state.keys().filter(|k| k.starts_with("person ")).count();
    let organizations = state.keys().filter(|k| k.starts_with("organization ")).count();
    assert!(state.keys().all(|key| !key.starts_with("DUPLICATE")), "no duplicates");

    // Persons, field by field (those with a field left out: in bad_values.rs).
    for (contact, has_issue) in &source[&ObjectKind::Contact] {
        if *has_issue {
            continue;
        }
        let person = &state[&format!("person {}", contact.source_id)];
        let name: Vec<String> = ["first_name", "last_name"].iter().filter_map(|f| text_of(contact, f)).collect();
        if !name.is_empty() {
            assert_eq!(person["name"], json!(name.join(" ")), "contact {}", contact.source_id);
        }
        match text_of(contact, "email") {
            Some(email) => assert_eq!(person["emails"], json!([{"value": email, "primary": true, "label": "work"}])),
            None => assert_eq!(person["emails"], json!([])),
        }
        match text_of(contact, "phone_number") {
            Some(phone) => assert_eq!(person["phones"][0]["value"], json!(phone)),
            None => assert_eq!(person["phones"], json!([])),
        }
        let company = text_of(contact, "company_id").filter(|company| created("organization", company));
        assert_eq!(
            person["org"],
            company.map_or(Value::Null, Value::from),
            "contact {}'s organization",
            contact.source_id
        );
        assert_eq!(person["owner"], json!("admin@zubrshop.pl"), "contacts have no agent: the default owner");
        assert_eq!(person["add_time"], json!(utc(contact, "created_at")));
        let custom = &person["custom"];
        assert_eq!(custom["City"], json!(text_of(contact, "city")));
        assert_eq!(
            custom["User.com ID"],
            json!(format!("{ACCOUNT}{}", contact.source_id)),
            "the marker names the source account"
        );
        if let Some(SourceValue::Number(score)) = contact.get("score") {
            assert_eq!(custom["Score"].as_f64(), Some(*score), "the existing Score field");
        }
        if let Some(SourceValue::Text(segment)) = contact.get("industry_segment") {
            assert_eq!(custom["Industry segment"], json!(segment), "the existing enum, options added");
        }
        if let Some(SourceValue::Choices(interests)) =
            contact.get("interests").filter(|v| !matches!(v, SourceValue::Choices(c) if c.is_empty()))
        {
            let mut interests = interests.clone();
            interests.sort();
            assert_eq!(custom["Interests"], json!(interests));
        }
        if let Some(SourceValue::Number(value)) = contact.get("lifetime_value") {
            assert_eq!(custom["Lifetime value"], json!({"value": value, "currency": "PLN"}));
        }
        if let Some(last_seen) = utc(contact, "last_seen") {
            assert_eq!(custom["Last seen"], json!(&last_seen[..10]));
            assert_eq!(custom["Last seen (time, UTC)"], json!(&last_seen[11..19]));
        }
        if let Some(SourceValue::Boolean(unsubscribed)) = contact.get("unsubscribed") {
            assert_eq!(custom["Unsubscribed (User.com)"], json!(if *unsubscribed { "Yes" } else { "No" }));
        }
        let mut tags = match contact.get("tags") {
            Some(SourceValue::Choices(tags)) => tags.clone(),
            _ => Vec::new(),
        };
        tags.sort();
        assert_eq!(person["labels"], json!(tags), "tags become labels");
    }

    // Deals: pipeline, stage, status, links, owner.
    let catalogue = Export::open(&sample_export(), ExportOptions::default()).unwrap().catalogue().unwrap();
    for (deal, has_issue) in &source[&ObjectKind::Deal] {
        if *has_issue {
            continue;
        }
        let landed = &state[&format!("deal {}", deal.source_id)];
        let pipeline =
            catalogue.pipelines.iter().find(|p| Some(&p.id) == text_of(deal, "pipeline_id").as_ref()).unwrap();
        assert_eq!(landed["pipeline"], json!(pipeline.name), "deal {}", deal.source_id);
        let stage = catalogue.stages.iter().find(|s| Some(&s.id) == text_of(deal, "stage_id").as_ref());
        let first_stage = catalogue
            .stages
            .iter()
            .filter(|s| s.pipeline_id == pipeline.id)
            .min_by_key(|s| s.order.parse::<u32>().unwrap())
            .unwrap();
        assert_eq!(
            landed["stage"],
            json!(stage.unwrap_or(first_stage).name),
            "deal {}: its stage, or its pipeline's first when stages.csv lacks it",
            deal.source_id
        );
        let status = text_of(deal, "status").unwrap();
        let expected = match status.as_str() {
            "in_progress" => "open",
            "won" => "won",
            _ => "lost",
        };
        assert_eq!(landed["status"], json!(expected), "deal {} was {status}", deal.source_id);
        if status == "won" {
            assert_eq!(landed["won_time"], json!(utc(deal, "won_at")));
        }
        if status == "abandoned" {
            assert_eq!(landed["lost_reason"], json!("Abandoned in User.com"));
        }
        let contact = text_of(deal, "contact_id").filter(|c| created("person", c));
        assert_eq!(landed["person"], contact.map_or(Value::Null, Value::from));
        let company = text_of(deal, "company_id").filter(|c| created("organization", c));
        assert_eq!(landed["org"], company.map_or(Value::Null, Value::from));
        let owner = match text_of(deal, "assigned_to").as_deref() {
            Some(agent @ ("anna.nowak@zubrshop.pl" | "piotr.zielinski@zubrshop.pl")) => agent.to_owned(),
            _ => "admin@zubrshop.pl".to_owned(),
        };
        assert_eq!(landed["owner"], json!(owner), "deal {}: its agent, or the default owner", deal.source_id);
        assert_eq!(
            landed["value"].as_f64(),
            match deal.get("value") {
                Some(SourceValue::Number(v)) => Some(*v),
                _ => None,
            }
        );
        assert_eq!(
            landed["custom"]["Created in User.com"],
            json!(utc(deal, "created_at").map(|at| at[..10].to_owned()))
        );
    }

    // Activities and events: type, links, due, done.
    let types: HashMap<&str, &str> =
        [("Telefon", "call"), ("Spotkanie", "meeting"), ("E-mail", "email"), ("Zadanie", "task")].into();
    for (activity, _) in &source[&ObjectKind::Activity] {
        let landed = &state[&format!("User.com activity {}", activity.source_id)];
        assert_eq!(
            landed["type"],
            json!(types[text_of(activity, "name").unwrap().as_str()]),
            "activity {}",
            activity.source_id
        );
        let deal = text_of(activity, "deal_id").filter(|d| created("deal", d));
        assert_eq!(landed["deal"], deal.map_or(Value::Null, Value::from));
        let contact: Vec<String> =
            text_of(activity, "contact_id").filter(|c| created("person", c)).into_iter().collect();
        assert_eq!(landed["participants"], json!(contact));
        assert_eq!(landed["done"], json!(matches!(activity.get("done"), Some(SourceValue::Boolean(true)))));
        let due = utc(activity, "due_date").unwrap();
        assert_eq!((landed["due_date"].clone(), landed["due_time"].clone()), (json!(&due[..10]), json!(&due[11..16])));
    }
    let emails: HashMap<&str, String> = source[&ObjectKind::Contact]
        .iter()
        .filter_map(|(c, _)| Some((c.source_id.as_str(), text_of(c, "email")?)))
        .collect();
    for (event, _) in &source[&ObjectKind::Event] {
        let landed = &state[&format!("User.com event {}", event.source_id)];
        assert_eq!(
            (landed["type"].clone(), landed["done"].clone(), landed["subject"].clone()),
            (json!("meeting"), json!(true), json!(text_of(event, "name")))
        );
        let contact = text_of(event, "contact_id").filter(|c| created("person", c));
        let invited: Vec<&String> = contact.as_deref().and_then(|c| emails.get(c)).into_iter().collect();
        assert_eq!(landed["attendees"], json!(invited), "event {}: its contact invited by email", event.source_id);
    }

    // Notes: one per conversation, on its person, at its first message's time, every message in it.
    let mut conversations: BTreeMap<String, Vec<&Record>> = BTreeMap::new();
    for (message, _) in &source[&ObjectKind::Conversation] {
        conversations.entry(text_of(message, "conversation_id").unwrap()).or_default().push(message);
    }
    for (conversation, messages) in &conversations {
        let contact = text_of(messages[0], "contact_id").unwrap();
        let key = format!("User.com conversation {conversation}");
        if !created("person", &contact) {
            assert!(!state.contains_key(&key), "a note needs its person");
            continue;
        }
        let landed = &state[&key];
        assert_eq!(landed["person"], json!(contact));
        let first = messages.iter().filter_map(|m| utc(m, "timestamp")).min().unwrap();
        assert_eq!(landed["add_time"], json!(first[..19].replace('T', " ")), "the note keeps the conversation's time");
        for message in messages {
            let content = text_of(message, "content").unwrap().replace('\n', "<br>");
            assert!(
                landed["content"].as_str().unwrap().contains(&content),
                "conversation {conversation} has '{content}'"
            );
        }
    }
    assert_eq!(
        (persons, organizations),
        (source[&ObjectKind::Contact].len(), source[&ObjectKind::Company].len()),
        "every record, bad values or not"
    );

    // A second apply finds everything done: nothing written again.
    let writes = sandbox.stats().writes_applied;
    apply(&project, &[]);
    assert_eq!(sandbox.stats().writes_applied, writes, "a finished migration applied again writes nothing");
    assert_eq!(canonical(&sandbox.state()), state);
}

/// Runs apply and kills it (SIGKILL) inside one step: once `started(state)` holds for the
/// sandbox's state, every answer is slowed by 150 ms (faults drawn from `seed`), so that the kill,
/// sent as soon as `kill_now(state)` holds, lands among requests applied and not yet journalled.
/// The faults are cleared before it returns; `step` names the step if it never starts.
pub(crate) fn kill_apply_inside_a_step(
    sandbox: &SandboxHandle,
    project: &Path,
    step: &str,
    seed: u64,
    started: impl Fn(&Value) -> bool,
    kill_now: impl Fn(&Value) -> bool,
) {
    let cache = tempfile::tempdir().unwrap();
    let mut child = crate::support::crm_migrate()
        .args(["-C", project.to_str().unwrap(), "apply", "--concurrency", "4"])
        .env("CRM_MIGRATE_CACHE_DIR", cache.path())
        .env("PIPEDRIVE_API_TOKEN", TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(300);
    let mut slowed = false;
    loop {
        assert!(std::time::Instant::now() < deadline, "the {step} step never started");
        assert!(child.try_wait().unwrap().is_none(), "apply ended before the kill");
        let state = sandbox.state();
        if !slowed && started(&state) {
            sandbox.set_faults(Faults {
                seed,
                slow_rate: 1.0,
                slow_by: Duration::from_millis(150),
                ..Faults::default()
            });
            slowed = true;
        }
        if kill_now(&state) {
            child.kill().unwrap(); // SIGKILL: no chance to clean up.
            child.wait().unwrap();
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    sandbox.set_faults(Faults::default());
}

/// Runs apply, killing it (SIGKILL) at up to `kills` instants drawn from `seed`, then lets it
/// finish. Returns how many times it was killed.
pub(crate) fn apply_with_kills(project: &Path, kills: usize, seed: u64) -> usize {
    let cache = tempfile::tempdir().unwrap();
    let log = cache.path().join("apply.log");
    let mut rng = seed;
    let mut killed = 0;
    for _ in 0..kills + 5 {
        let mut child = crate::support::crm_migrate()
            .args(["-C", project.to_str().unwrap(), "apply", "--concurrency", "16"])
            .env("CRM_MIGRATE_CACHE_DIR", cache.path())
            .env("PIPEDRIVE_API_TOKEN", TOKEN)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let deadline = std::time::Instant::now()
            + if killed < kills { Duration::from_millis(200 + rng % 2500) } else { Duration::from_secs(300) };
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break Some(status);
            }
            if std::time::Instant::now() >= deadline {
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        match status {
            Some(status) if status.success() => return killed,
            Some(status) => panic!(
                "apply failed on its own after {killed} kills: {status}\n{}",
                std::fs::read_to_string(&log).unwrap()
            ),
            None => {
                child.kill().unwrap(); // SIGKILL: no chance to clean up.
                child.wait().unwrap();
                killed += 1;
            }
        }
    }
    panic!("apply did not finish after {killed} kills");
}

#[cfg(unix)]
#[test]
fn runs_killed_at_random_instants_with_faults_on_end_like_a_clean_run() {
    let _machine = crate::support::heavy();
    let clean = fast(SandboxConfig::default());
    let (_clean_dir, clean_project) = approved_project(&clean);
    apply(&clean_project, &[]);
    let expected = canonical(&clean.state());

    // 5xx, lost answers, dropped connections, and 429 bursts: Pipedrive under load answers 429
    // whatever the window holds, and the client must wait each one out.
    let faults = Faults {
        seed: 11,
        server_error_rate: 0.05,
        lost_response_rate: 0.02,
        dropped_connection_rate: 0.01,
        throttle_rate: 0.005,
        ..Faults::default()
    };
    let faulty = fast(SandboxConfig { faults, ..SandboxConfig::default() });
    let (_dir, project) = approved_project(&faulty);
    let kills = apply_with_kills(&project, 10, 0x9e37_79b9_7f4a_7c15);
    assert_eq!(kills, 10, "killed ten times before it finished");
    let stats = faulty.stats();
    assert!(
        stats.server_errors > 0 && stats.lost_responses > 0 && stats.dropped_connections > 0,
        "faults happened: {stats:?}"
    );
    assert!(stats.burst_429s > 0 && stats.blocked_403s == 0, "429 bursts happened and were honoured: {stats:?}");
    let landed = canonical(&faulty.state());
    let duplicates: Vec<&String> = landed.keys().filter(|key| key.starts_with("DUPLICATE")).collect();
    assert!(duplicates.is_empty(), "duplicates: {duplicates:?}");
    let missing: BTreeSet<&String> = expected.keys().filter(|key| !landed.contains_key(*key)).collect();
    assert!(missing.is_empty(), "missing after {kills} kills: {missing:?}");
    for (key, value) in &expected {
        assert_eq!(&landed[key], value, "{key}");
    }
    assert_eq!(landed.len(), expected.len());
}

#[test]
fn a_plugin_that_fails_on_a_batch_has_that_batch_quarantined_and_the_run_reconciles() {
    let _machine = crate::support::heavy();
    // The sample export, with one contact marked for the hostile plugin's attack.
    let dir = tempfile::tempdir().unwrap();
    let export = sample_export_copy(&dir.path().join("export"));
    let users = std::fs::read_to_string(export.join("users.csv")).unwrap();
    let marked: Vec<String> = users
        .lines()
        .enumerate()
        .map(|(index, line)| match index {
            0 => format!("{line},attack"),
            250 => format!("{line},yes"),
            _ => format!("{line},"),
        })
        .collect();
    std::fs::write(export.join("users.csv"), marked.join("\n") + "\n").unwrap();
    // Defined as text ("yes" alone would read as a boolean).
    let mut attributes = std::fs::read_to_string(export.join("attributes.csv")).unwrap();
    attributes.push_str("999,Attack,attack,string,user,f,\n");
    std::fs::write(export.join("attributes.csv"), attributes).unwrap();

    let sandbox = fast(SandboxConfig::default());
    let project = dir.path().join("zubr");
    let panic_plugin = format!("clean={}", crate::support::plugin("hostile_panic").display());
    let init = crate::plan::run(&[
        "init",
        project.to_str().unwrap(),
        "--export",
        export.to_str().unwrap(),
        "--pipedrive",
        &sandbox.url(),
        "--plugin",
        &panic_plugin,
    ]);
    assert!(init.status.success(), "{}", text(&init.stderr));
    crate::plan::migrate_duplicates_as_they_are(&project);
    assert!(in_project(&project, &["plan"]).status.success());
    assert!(in_project(&project, &["approve", "--yes"]).status.success());
    let output = apply(&project, &["--batch-size", "100"]);
    let stderr = text(&output.stderr);
    // Reading the export and the plugin's pass say where they are before the phases.
    for step in ["  read users.csv (contact): 500 records", "  cleaned with hostile-panic 0.1.0 (contact): 500 records"]
    {
        assert!(stderr.contains(step), "{step}:\n{stderr}");
    }
    // Records 201 to 300 are the attacked record's batch; outside it, unreadable values leave only their fields out.
    let created = 400;
    assert!(
        stderr.contains(&format!(
            "contact: 500 = {created} created + 0 merged + {} quarantined + 0 excluded",
            500 - created
        )),
        "{stderr}"
    );
    let mut quarantine = csv::Reader::from_path(project.join("reports/quarantine.csv")).unwrap();
    let failed_batch: Vec<String> = quarantine
        .records()
        .map(|row| row.unwrap())
        .filter(|row| {
            row[3].contains("hostile-panic 0.1.0 failed on its batch")
                && row[3].contains("hostile panic on record 10249")
        })
        .map(|row| row[1].to_owned())
        .collect();
    let expected: Vec<String> = (10200..10300).map(|id| id.to_string()).collect();
    assert_eq!(failed_batch, expected, "the attacked record's batch: records 201 to 300");
    let reconciliation = std::fs::read_to_string(project.join("reports/reconciliation.md")).unwrap();
    assert!(
        reconciliation.contains("Plugin batches that failed") && !reconciliation.contains("**no**"),
        "{reconciliation}"
    );
    let persons = canonical(&sandbox.state()).keys().filter(|key| key.starts_with("person ")).count();
    assert_eq!(persons, created, "the other four batches moved");
}

fn count(state: &BTreeMap<String, Value>, prefix: &str) -> usize {
    state.keys().filter(|key| key.starts_with(prefix)).count()
}

#[test]
fn a_sample_moves_n_contacts_with_what_they_link_to_and_the_full_run_completes_it() {
    let _machine = crate::support::heavy();
    let sandbox = fast(SandboxConfig::default());
    let (_dir, project) = approved_project(&sandbox);
    apply(&project, &["--sample", "20"]);
    let state = canonical(&sandbox.state());
    let source = source();
    let contacts: Vec<&(Record, bool)> = source[&ObjectKind::Contact].iter().take(20).collect();
    let ids: BTreeSet<&str> = contacts.iter().map(|(contact, _)| contact.source_id.as_str()).collect();
    assert_eq!(count(&state, "person "), contacts.len(), "the first 20 contacts");
    let deals: Vec<&(Record, bool)> = source[&ObjectKind::Deal]
        .iter()
        .filter(|(deal, _)| text_of(deal, "contact_id").is_some_and(|c| ids.contains(c.as_str())))
        .collect();
    assert_eq!(count(&state, "deal "), deals.len(), "their deals");
    let mut companies: BTreeSet<String> =
        contacts.iter().filter_map(|(contact, _)| text_of(contact, "company_id")).collect();
    companies.extend(deals.iter().filter_map(|(deal, _)| text_of(deal, "company_id")));
    let companies_in_export =
        source[&ObjectKind::Company].iter().filter(|(company, _)| companies.contains(&company.source_id)).count();
    assert_eq!(count(&state, "organization "), companies_in_export, "their companies and their deals' companies");
    let events = source[&ObjectKind::Event]
        .iter()
        .filter(|(event, _)| text_of(event, "contact_id").is_some_and(|c| ids.contains(c.as_str())))
        .count();
    assert_eq!(count(&state, "User.com event "), events, "their events");

    let status: Value = serde_json::from_slice(&in_project(&project, &["status", "--json"]).stdout).unwrap();
    assert_eq!(status["runs"][0]["kind"], "sample");
    let contacts_left =
        status["objects"].as_array().unwrap().iter().find(|o| o["object"] == "contact").unwrap()["left"]
            .as_u64()
            .unwrap();
    assert_eq!(contacts_left, 480, "status says what is left");

    apply(&project, &[]);
    let full = canonical(&sandbox.state());
    assert!(
        full.keys().all(|key| !key.starts_with("DUPLICATE")),
        "the full run does not create the sample's records again"
    );
    assert_eq!(count(&full, "person "), source[&ObjectKind::Contact].len());
    assert_eq!(count(&full, "deal "), source[&ObjectKind::Deal].len());
    // The sample's records are the same records; where they differ, the sample could not link
    // yet (an activity of a sampled deal whose person was not in the sample) and the full run did.
    let mut completed = 0;
    for (key, value) in &state {
        for (field, sampled) in value.as_object().unwrap() {
            let now = &full[key][field];
            if now != sampled {
                assert!(sampled.is_null() || *sampled == json!([]), "{key}.{field}: {sampled} became {now}");
                completed += 1;
            }
        }
    }
    assert!(completed > 0, "some link the sample could not make was made by the full run");
}

#[test]
fn when_the_daily_budget_runs_out_with_the_stop_policy_apply_stops_cleanly_and_resumes_after_the_reset() {
    let _machine = crate::support::heavy();
    let sandbox = fast(SandboxConfig { daily_token_budget: Some(3_000), ..SandboxConfig::default() });
    let (_dir, project) = approved_project(&sandbox);
    let config = std::fs::read_to_string(project.join("migration.toml")).unwrap();
    std::fs::write(
        project.join("migration.toml"),
        config.replace("on_budget_exhausted = \"wait\"", "on_budget_exhausted = \"stop\""),
    )
    .unwrap();

    let stopped = in_project(&project, &["apply", "--concurrency", "16"]);
    assert_eq!(stopped.status.code(), Some(7), "{}", text(&stopped.stderr));
    assert!(
        text(&stopped.stderr).contains("daily API token budget is used up")
            && text(&stopped.stderr).contains("run `crm-migrate"),
        "{}",
        text(&stopped.stderr)
    );
    let status = text(&in_project(&project, &["status"]).stdout);
    assert!(status.contains("stopped: daily budget used up"), "{status}");

    // About 7,000 tokens at 3,000 a day: two more days, each run resuming where the last stopped.
    let mut days = 1;
    loop {
        sandbox.advance_clock(Duration::from_secs(24 * 3600));
        days += 1;
        let output = in_project(&project, &["apply", "--concurrency", "16"]);
        match output.status.code() {
            Some(0) => break,
            Some(7) if days < 5 => continue,
            other => panic!("day {days}: {other:?}\n{}", text(&output.stderr)),
        }
    }
    assert_eq!(days, 3, "7,000 tokens take three days of 3,000");
    let state = canonical(&sandbox.state());
    assert!(state.keys().all(|key| !key.starts_with("DUPLICATE")));
    let source = source();
    assert_eq!(count(&state, "person "), source[&ObjectKind::Contact].len());
}

/// Pipedrive ids by User.com id (the marker without the project's account), from the sandbox's state.
pub(crate) fn by_marker(state: &Value, entity: &str, collection: &str) -> BTreeMap<String, u64> {
    let code = state["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["entity"] == entity && f["name"] == "User.com ID")
        .unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned();
    state[collection]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|record| {
            let marker = record["custom_fields"][&code].as_str()?;
            Some((marker.strip_prefix(ACCOUNT).unwrap_or(marker).to_owned(), record["id"].as_u64()?))
        })
        .collect()
}

#[test]
fn verify_proves_a_clean_apply_and_catches_each_tampering_exactly_once() {
    let _machine = crate::support::heavy();
    let sandbox = fast(SandboxConfig::default());
    let (_dir, project) = approved_project(&sandbox);
    apply(&project, &[]);
    let clean = in_project(&project, &["verify", "--json"]);
    assert!(clean.status.success(), "{}\n{}", text(&clean.stdout), text(&clean.stderr));
    let report: Value = serde_json::from_slice(&clean.stdout).unwrap();
    assert_eq!(
        (report["mismatches"].clone(), report["missing"].clone(), report["unexpected"].clone()),
        (json!([]), json!([]), json!([]))
    );
    assert_eq!(report["objects"]["contact"]["verified"], 500, "every contact, those with a value left out too");
    assert_eq!(report["objects"]["conversation"]["verified"], 60);
    assert!(report["tokens"].as_u64().unwrap() > 0, "the tokens reading back cost are reported");
    assert!(
        std::fs::read_to_string(project.join("reports/verification.md"))
            .unwrap()
            .contains("Every migrated record is verified")
    );

    // Six changes made behind the migration's back, each to a record nothing else links to.
    let state = sandbox.state();
    let persons = by_marker(&state, "person", "persons");
    let linked: BTreeSet<u64> = state["deals"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|d| d["person_id"].as_u64())
        .chain(state["activities"].as_object().unwrap().values().flat_map(|a| {
            a["participants"].as_array().unwrap().iter().filter_map(|p| p["person_id"].as_u64()).collect::<Vec<_>>()
        }))
        .chain(state["notes"].as_object().unwrap().values().filter_map(|n| n["person_id"].as_u64()))
        .collect();
    let lonely: Vec<(&String, u64)> =
        persons.iter().filter(|(_, id)| !linked.contains(id)).map(|(marker, id)| (marker, *id)).take(4).collect();
    let [(changed, changed_id), (no_email, no_email_id), (deleted, deleted_id), (moved, moved_id)] = lonely[..] else {
        panic!("four unlinked persons")
    };
    let person = |id: u64| state["persons"][id.to_string()].clone();
    let city = state["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["entity"] == "person" && f["name"] == "City")
        .unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let marker = state["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["entity"] == "person" && f["name"] == "User.com ID")
        .unwrap()["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let organizations: Vec<u64> =
        state["organizations"].as_object().unwrap().values().filter_map(|o| o["id"].as_u64()).collect();
    let new_org = *organizations.iter().find(|id| Some(**id) != person(moved_id)["org_id"].as_u64()).unwrap();
    let deals = by_marker(&state, "deal", "deals");
    let (deal, deal_id) = deals.iter().next().map(|(marker, id)| (marker.clone(), *id)).unwrap();
    let stage = state["deals"][deal_id.to_string()]["stage_id"].as_u64().unwrap();
    let pipeline = state["deals"][deal_id.to_string()]["pipeline_id"].as_u64().unwrap();
    let other_stage = state["stages"]
        .as_object()
        .unwrap()
        .values()
        .find(|s| s["pipeline_id"] == pipeline && s["id"] != stage)
        .unwrap()["id"]
        .as_u64()
        .unwrap();

    let http = crate::pipedrive_support::http_client();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let send = |method: reqwest::Method, path: String, body: Value| {
        runtime.block_on(async {
            let answer = http
                .request(method, format!("{}{path}", sandbox.url()))
                .header("x-api-token", TOKEN)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert!(answer.status().is_success(), "{path}: {}", answer.text().await.unwrap());
        })
    };
    send(
        reqwest::Method::PATCH,
        format!("/api/v2/persons/{changed_id}"),
        json!({"custom_fields": {&city: "Zmieniono"}}),
    );
    send(reqwest::Method::PATCH, format!("/api/v2/persons/{no_email_id}"), json!({"emails": []}));
    send(reqwest::Method::DELETE, format!("/api/v2/persons/{deleted_id}"), json!({}));
    send(reqwest::Method::PATCH, format!("/api/v2/persons/{moved_id}"), json!({"org_id": new_org}));
    send(reqwest::Method::PATCH, format!("/api/v2/deals/{deal_id}"), json!({"stage_id": other_stage}));
    send(
        reqwest::Method::POST,
        "/api/v2/persons".into(),
        json!({"name": "Added by hand", "custom_fields": {&marker: "99999"}}),
    );

    let tampered = in_project(&project, &["verify", "--json"]);
    assert_eq!(tampered.status.code(), Some(8), "{}", text(&tampered.stderr));
    let report: Value = serde_json::from_slice(&tampered.stdout).unwrap();
    let mismatches: Vec<(String, String, Value, Value)> = report["mismatches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                format!("{} {}", m["object"].as_str().unwrap(), m["source_id"].as_str().unwrap()),
                m["field"].as_str().unwrap().to_owned(),
                m["expected"].clone(),
                m["actual"].clone(),
            )
        })
        .collect();
    let mut expected = vec![
        (
            format!("contact {changed}"),
            "custom field city".to_owned(),
            person(changed_id)["custom_fields"][&city].clone(),
            json!("Zmieniono"),
        ),
        (
            format!("contact {no_email}"),
            "emails".to_owned(),
            json!([person(no_email_id)["emails"][0]["value"].clone()]),
            json!([]),
        ),
        (format!("contact {moved}"), "org_id".to_owned(), person(moved_id)["org_id"].clone(), json!(new_org)),
        (format!("deal {deal}"), "stage_id".to_owned(), json!(stage), json!(other_stage)),
    ];
    let mut found = mismatches.clone();
    found.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    expected.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    assert_eq!(found, expected, "each change reported once, with what should be there and what is");
    assert_eq!(report["missing"], json!([{"object": "contact", "source_id": deleted, "pipedrive_id": deleted_id}]));
    assert_eq!(report["unexpected"].as_array().unwrap().len(), 1);
    assert_eq!(
        (report["unexpected"][0]["object"].clone(), report["unexpected"][0]["marker"].clone()),
        (json!("contact"), json!("99999"))
    );
}

/// The account's own things, for before/after comparisons: live records (without write times),
/// custom fields with their options, pipelines with their stages, labels, activity types.
pub(crate) fn account_shape(state: &Value) -> Value {
    let live = |collection: &str| -> Vec<Value> {
        let mut records: Vec<Value> = state[collection]
            .as_object()
            .unwrap()
            .values()
            .filter(|r| r["is_deleted"] != true && r["active_flag"] != false)
            .map(|r| {
                let mut r = r.clone();
                r.as_object_mut().unwrap().remove("update_time");
                r
            })
            .collect();
        records.sort_by_key(|r| r["id"].as_u64());
        records
    };
    let mut fields: Vec<Value> = state["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["is_deleted"] == false && (f["is_custom"] == true || f["code"] == "label"))
        .map(|f| {
            json!([
                f["entity"],
                f["name"],
                f["options"].as_array().map(|o| o.iter().map(|o| o["label"].clone()).collect::<Vec<_>>())
            ])
        })
        .collect();
    fields.sort_by_key(|f| f.to_string());
    let stages: Vec<Value> = live("stages").iter().map(|s| json!([s["pipeline_id"], s["name"]])).collect();
    let types: Vec<Value> = live("activity_types").iter().map(|t| t["key_string"].clone()).collect();
    json!({"persons": live("persons"), "organizations": live("organizations"), "deals": live("deals"), "activities": live("activities"), "notes": live("notes"),
           "fields": fields, "pipelines": live("pipelines").iter().map(|p| p["name"].clone()).collect::<Vec<_>>(), "stages": stages, "activity_types": types})
}

#[test]
fn rollback_after_a_sample_and_after_a_full_apply_leaves_no_residue_and_what_was_there_untouched() {
    let _machine = crate::support::heavy();
    let sandbox = fast(SandboxConfig::default());
    // What the account held before the migration: besides the prepared fields, pipeline and label, a person and an organization.
    let http = crate::pipedrive_support::http_client();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for (path, body) in [
        ("/api/v2/organizations", json!({"name": "Było Sp. z o.o."})),
        ("/api/v2/persons", json!({"name": "Jan Przedtem", "emails": [{"value": "jan@bylo.pl"}]})),
    ] {
        runtime.block_on(async {
            assert!(
                http.post(format!("{}{path}", sandbox.url()))
                    .header("x-api-token", TOKEN)
                    .json(&body)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .is_success()
            )
        });
    }
    let before = account_shape(&sandbox.state());
    let (_dir, project) = approved_project(&sandbox);

    apply(&project, &["--sample", "20"]);
    let output = in_project(&project, &["rollback", "--sample", "--yes"]);
    assert!(output.status.success(), "{}\n{}", text(&output.stdout), text(&output.stderr));
    assert!(text(&output.stdout).contains("residue: none"), "{}", text(&output.stdout));
    let after_sample = account_shape(&sandbox.state());
    for collection in ["persons", "organizations", "deals", "activities", "notes"] {
        assert_eq!(
            after_sample[collection], before[collection],
            "the sample's {collection} are gone, the ones from before untouched"
        );
    }

    apply(&project, &[]);
    let verified = in_project(&project, &["verify"]);
    assert!(verified.status.success(), "the full run after the sample rollback creates the sample's records again");
    // Verify says where it is: the export and the plugins again, the account read back, the
    // export's every value checked.
    let progress = text(&verified.stderr);
    for step in [
        "  read users.csv (contact): 500 records",
        "  read Pipedrive's persons: ",
        "  read users.csv, every value against the account: 500 records",
    ] {
        assert!(progress.contains(step), "{step}:\n{progress}");
    }
    let output = in_project(&project, &["rollback", "--yes"]);
    assert!(output.status.success(), "{}\n{}", text(&output.stdout), text(&output.stderr));
    assert!(text(&output.stdout).contains("residue: none"), "{}", text(&output.stdout));
    assert_eq!(
        account_shape(&sandbox.state()),
        before,
        "the account is as it was: records, fields and options, pipelines, stages, labels"
    );

    // The journal was emptied with it: a new apply migrates everything again.
    apply(&project, &[]);
    assert!(in_project(&project, &["verify"]).status.success());
}

#[cfg(unix)]
#[test]
fn a_rollback_killed_midway_finishes_when_run_again() {
    let _machine = crate::support::heavy();
    let sandbox = fast(SandboxConfig::default());
    let before = account_shape(&sandbox.state());
    let (_dir, project) = approved_project(&sandbox);
    apply(&project, &[]);
    let cache = tempfile::tempdir().unwrap();
    let mut child = crate::support::crm_migrate()
        .args(["-C", project.to_str().unwrap(), "rollback", "--yes"])
        .env("CRM_MIGRATE_CACHE_DIR", cache.path())
        .env("PIPEDRIVE_API_TOKEN", TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    child.kill().unwrap();
    child.wait().unwrap();
    assert_ne!(account_shape(&sandbox.state()), before, "killed before it finished (1,270 deletes take seconds)");
    let output = in_project(&project, &["rollback", "--yes"]);
    assert!(
        output.status.success() && text(&output.stdout).contains("residue: none"),
        "{}\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    assert_eq!(account_shape(&sandbox.state()), before);
}

#[test]
fn a_delta_creates_the_new_updates_the_changed_lists_the_deleted_and_then_writes_nothing() {
    let _machine = crate::support::heavy();
    let sandbox = fast(SandboxConfig::default());
    let untouched = account_shape(&sandbox.state());
    let (dir, project) = approved_project(&sandbox);
    apply(&project, &[]);
    let before = canonical(&sandbox.state());
    let newer = dir.path().join("newer-export");
    std::fs::create_dir(&newer).unwrap();
    let planted = usercom_export_gen::generate(
        &newer,
        &usercom_export_gen::Options { changes: true, ..usercom_export_gen::Options::default() },
    )
    .unwrap();
    let (old, new) = (source(), source_of(&newer));
    let ids = |records: &Vec<(Record, bool)>| records.iter().map(|(r, _)| r.source_id.clone()).collect::<BTreeSet<_>>();

    let output = in_project(&project, &["delta", "--export", newer.to_str().unwrap()]);
    assert!(output.status.success(), "{}\n{}", text(&output.stdout), text(&output.stderr));
    let after = canonical(&sandbox.state());
    // New contacts and deals created (bad values or not).
    for (kind, entity, added) in
        [(ObjectKind::Contact, "person", "contacts_added"), (ObjectKind::Deal, "deal", "deals_added")]
    {
        let new_ids: Vec<&(Record, bool)> =
            new[&kind].iter().filter(|(r, _)| !ids(&old[&kind]).contains(&r.source_id)).collect();
        assert_eq!(new_ids.len() as u64, planted.changes[added]);
        for (record, _) in new_ids {
            assert!(
                after.contains_key(&format!("{entity} {}", record.source_id)),
                "{entity} {} is new",
                record.source_id
            );
        }
    }
    // Changed contacts: city, score and last seen updated in place (same Pipedrive record).
    let mut changed = 0;
    for (contact, _) in &new[&ObjectKind::Contact] {
        let key = format!("person {}", contact.source_id);
        let (Some(was), Some(now)) = (before.get(&key), after.get(&key)) else { continue };
        changed += u64::from(was != now);
        assert_eq!(
            now["custom"]["City"],
            json!(text_of(contact, "city")),
            "contact {}: its city as the newer export has it",
            contact.source_id
        );
    }
    assert_eq!(changed, planted.changes["contacts_changed"], "exactly the changed contacts differ");
    let stderr = text(&output.stderr);
    assert!(stderr.contains(&format!("({} updated)", planted.changes["contacts_changed"])), "{stderr}");
    // Deleted in User.com: listed, kept in Pipedrive.
    let gone: Vec<String> = ids(&old[&ObjectKind::Contact])
        .difference(&ids(&new[&ObjectKind::Contact]))
        .filter(|id| before.contains_key(&format!("person {id}")))
        .cloned()
        .collect();
    assert!(!gone.is_empty());
    for id in &gone {
        assert!(
            text(&output.stdout).contains(&format!("contact {id}: deleted in User.com, kept in Pipedrive")),
            "{}",
            text(&output.stdout)
        );
        assert!(after.contains_key(&format!("person {id}")));
    }

    // With --delete-missing they go; then everything verifies against the newer export.
    let output = in_project(&project, &["delta", "--export", newer.to_str().unwrap(), "--delete-missing", "--yes"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let after = canonical(&sandbox.state());
    assert!(gone.iter().all(|id| !after.contains_key(&format!("person {id}"))));
    let verified = in_project(&project, &["verify", "--export", newer.to_str().unwrap()]);
    assert!(verified.status.success(), "{}", text(&verified.stdout));

    // Nothing changed since: a delta writes nothing.
    let writes = sandbox.stats().writes_applied;
    let output = in_project(&project, &["delta", "--export", newer.to_str().unwrap()]);
    assert!(output.status.success());
    assert_eq!(sandbox.stats().writes_applied, writes, "a delta with nothing new writes nothing");

    // A rollback after the delta leaves the account as it was before the migration.
    let output = in_project(&project, &["rollback", "--yes"]);
    assert!(output.status.success() && text(&output.stdout).contains("residue: none"), "{}", text(&output.stdout));
    assert_eq!(account_shape(&sandbox.state()), untouched);
}
