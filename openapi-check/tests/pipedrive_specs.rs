//! Checks the validator against Pipedrive's real OpenAPI documents in `shared/pipedrive-openapi`
//! (or `$PIPEDRIVE_OPENAPI_DIR`): skipped with a message where they are missing, failing under CI.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use openapi_check::{Spec, Specs, spec_dir};
use serde_json::{Value, json};

fn specs() -> Option<&'static Specs> {
    Specs::for_tests()
}

fn no_query() -> Vec<(String, String)> {
    Vec::new()
}

#[test]
fn operations_are_found_by_concrete_path() {
    let Some(specs) = specs() else { return };
    let cases = [
        ("POST", "/api/v2/persons", "addPerson", "/persons"),
        ("GET", "/api/v2/persons/search", "searchPersons", "/persons/search"),
        ("GET", "/api/v2/persons/12", "getPerson", "/persons/{id}"),
        ("GET", "/v1/notes", "getNotes", "/notes"),
        ("GET", "/api/v1/notes", "getNotes", "/notes"),
        ("POST", "/v1/files", "addFile", "/files"),
        ("POST", "/api/v2/dealFields/abc123_hash/options", "addDealFieldOptions", "/dealFields/{field_code}/options"),
        ("GET", "/api/v2/dealFields/abc123_hash", "getDealField", "/dealFields/{field_code}"),
    ];
    for (method, path, operation_id, template) in cases {
        let operation = specs.operation(method, path).unwrap_or_else(|| panic!("{method} {path} not found"));
        assert_eq!((operation.id(), operation.template()), (operation_id, template), "{method} {path}");
    }
    assert!(specs.operation("GET", "/api/v2/notes").is_none(), "notes are v1 only");
    assert!(specs.operation("PATCH", "/api/v2/persons").is_none());
}

#[test]
fn every_operation_is_found_by_its_own_template() {
    let Some(specs) = specs() else { return };
    for (spec, prefix) in [(&specs.v1, "/v1"), (&specs.v2, "/api/v2")] {
        for cost in spec.token_costs() {
            // Fill each {parameter} with a value that cannot collide with a literal segment.
            let concrete: String = cost
                .template
                .split('/')
                .map(|segment| if segment.starts_with('{') { "7" } else { segment })
                .collect::<Vec<_>>()
                .join("/");
            let path = if cost.operation_id.contains("token") || cost.operation_id == "authorize" {
                concrete
            } else {
                format!("{prefix}{concrete}")
            };
            let found = specs.operation(&cost.method, &path).map(|operation| operation.id().to_string());
            assert_eq!(found.as_deref(), Some(cost.operation_id.as_str()), "{} {path}", cost.method);
        }
    }
}

#[test]
fn token_costs_match_the_published_table() {
    let Some(specs) = specs() else { return };
    let table: Value =
        serde_json::from_str(&std::fs::read_to_string(spec_dir().join("token-costs.json")).expect("read"))
            .expect("token-costs.json is JSON");
    for (name, spec) in [("v1", &specs.v1), ("v2", &specs.v2)] {
        let costs = spec.token_costs();
        let published = table[name]["operations"].as_object().expect("operations");
        assert_eq!(costs.len(), published.len(), "{name} operation count");
        for cost in costs {
            let entry = &published[&format!("{} {}", cost.method, cost.template)];
            assert_eq!(entry["operationId"], json!(cost.operation_id), "{name} {}", cost.template);
            assert_eq!(entry["cost"].as_u64(), cost.token_cost.map(u64::from), "{name} {}", cost.operation_id);
            assert_eq!(entry["deprecated"], json!(cost.deprecated), "{name} {}", cost.operation_id);
        }
    }
    assert_eq!((specs.v1.token_costs().len(), specs.v2.token_costs().len()), (213, 158));
}

#[test]
fn a_valid_v2_person_passes_and_a_string_boolean_is_reported() {
    let Some(specs) = specs() else { return };
    let add_person = specs.operation("POST", "/api/v2/persons").expect("addPerson");
    let valid = json!({
        "name": "Ada Lovelace",
        "owner_id": 1,
        "org_id": 5,
        "emails": [{"value": "ada@example.com", "primary": true, "label": "work"}],
        "phones": [{"value": "+44 20 7946 0000", "primary": true, "label": "work"}],
        "visible_to": 3,
        "label_ids": [1, 2],
    });
    let found = add_person.validate_request(&no_query(), Some("application/json"), Some(&valid));
    assert!(found.is_empty(), "{found:#?}");
    let string_boolean = json!({"name": "Ada", "emails": [{"value": "a@b.c", "primary": "true"}]});
    let found = add_person.validate_request(&no_query(), Some("application/json"), Some(&string_boolean));
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].location, "request body /emails/0/primary");
    assert_eq!(found[0].message, "expected boolean, got string \"true\"");
}

#[test]
fn query_limits_and_unknown_parameters_are_reported_on_real_operations() {
    let Some(specs) = specs() else { return };
    let get_persons = specs.operation("GET", "/api/v2/persons").expect("getPersons");
    let query = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect()
    };
    let good = query(&[("limit", "500"), ("cursor", "abc"), ("include_fields", "next_activity_id,open_deals_count")]);
    assert!(get_persons.validate_request(&good, None, None).is_empty());
    let bad = query(&[("limit", "501"), ("start", "0")]);
    let found: Vec<String> = get_persons.validate_request(&bad, None, None).iter().map(ToString::to_string).collect();
    assert_eq!(
        found,
        ["query limit: 501 is above the maximum 500", "query start: not a query parameter of getPersons"]
    );
    let search = specs.operation("GET", "/api/v2/persons/search").expect("searchPersons");
    let found: Vec<String> = search.validate_request(&[], None, None).iter().map(ToString::to_string).collect();
    assert_eq!(found, ["query term: required query parameter is missing"]);
    let fields = query(&[("term", "ada"), ("fields", "email,name")]);
    assert!(search.validate_request(&fields, None, None).is_empty());
}

#[test]
fn a_v1_file_upload_is_checked_as_a_form() {
    let Some(specs) = specs() else { return };
    let add_file = specs.operation("POST", "/v1/files").expect("addFile");
    let form = json!({"file": "", "deal_id": "12"});
    assert!(add_file.validate_request(&[], Some("multipart/form-data; boundary=x"), Some(&form)).is_empty());
    let found = add_file.validate_request(&[], Some("multipart/form-data; boundary=x"), Some(&json!({"deal": "12"})));
    assert_eq!(found.len(), 2, "{found:#?}");
}

/// Examples that do not validate because the document contradicts itself, found by this test
/// when it was written and checked by hand. All of them are v1 `add_time`/`update_time` fields
/// declared `format: date-time` whose examples are "2019-02-04 13:58:03" (space, no offset),
/// which is not RFC 3339; v1 really answers in that form. A new failure means either a validator
/// regression or a new Pipedrive snapshot: look before adding it here.
const KNOWN_INCONSISTENT_EXAMPLES: &[(&str, &str, &str)] = &[
    ("v1", "getActivityFields", "200"),
    ("v1", "getActivityTypes", "200"),
    ("v1", "addActivityType", "200"),
    ("v1", "updateActivityType", "200"),
    ("v1", "deleteActivityType", "200"),
    ("v1", "addChannel", "200"),
    ("v1", "getDealFields", "200"),
    ("v1", "addDealField", "200"),
    ("v1", "getDealField", "200"),
    ("v1", "updateDealField", "200"),
    ("v1", "getLeadFields", "200"),
    ("v1", "getOrganizationFields", "200"),
    ("v1", "addOrganizationField", "200"),
    ("v1", "getOrganizationField", "200"),
    ("v1", "updateOrganizationField", "200"),
    ("v1", "getOrganizationFollowers", "200"),
    ("v1", "addOrganizationFollower", "200"),
    ("v1", "getPersonFields", "200"),
    ("v1", "addPersonField", "200"),
    ("v1", "getPersonField", "200"),
    ("v1", "updatePersonField", "200"),
];

#[test]
fn the_specs_own_response_examples_validate_against_their_schemas() {
    let Some(specs) = specs() else { return };
    let mut unexpected = Vec::new();
    let mut known_seen = Vec::new();
    for (name, spec) in [("v1", &specs.v1), ("v2", &specs.v2)] {
        let report = spec.check_response_examples();
        println!("{name}: {} of {} response examples validate", report.passed, report.checked);
        for (operation_id, status, violations) in &report.failures {
            let known = KNOWN_INCONSISTENT_EXAMPLES
                .iter()
                .any(|(spec_name, id, code)| *spec_name == name && id == operation_id && code == status);
            println!("  {name} {operation_id} {status}{}:", if known { " (known)" } else { "" });
            for violation in violations.iter().take(5) {
                println!("    {violation}");
            }
            if violations.len() > 5 {
                println!("    ... {} more", violations.len() - 5);
            }
            if known {
                known_seen.push((name, operation_id.clone(), status.clone()));
            } else {
                unexpected.push(format!("{name} {operation_id} {status}"));
            }
        }
    }
    assert!(unexpected.is_empty(), "examples failing beyond the known list: {unexpected:#?}");
    assert_eq!(known_seen.len(), KNOWN_INCONSISTENT_EXAMPLES.len(), "a known inconsistency was fixed: {known_seen:?}");
}

#[test]
fn the_specs_use_no_schema_keyword_the_validator_ignores() {
    let Some(specs) = specs() else { return };
    let mut by_kind: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (name, spec) in [("v1", &specs.v1), ("v2", &specs.v2)] {
        for line in spec.unchecked_features() {
            println!("{name}: {line}");
            let kind = if line.starts_with("schema keyword") { "keyword" } else { "other" };
            by_kind.entry(kind).or_default().push(format!("{name}: {line}"));
        }
    }
    assert_eq!(by_kind.get("keyword"), None, "schema keywords that would be silently ignored");
}

#[test]
fn parsing_time_is_measured() {
    let dir = spec_dir();
    if Specs::for_tests().is_none() {
        return;
    }
    for name in ["v1.yaml", "v2.yaml"] {
        let started = Instant::now();
        let spec = Spec::from_file(&dir.join(name)).expect("parses");
        println!("{name}: parsed {} operations in {:?}", spec.token_costs().len(), started.elapsed());
    }
    let started = Instant::now();
    Specs::load(Path::new(&dir)).expect("loads");
    println!("both in parallel: {:?}", started.elapsed());
}

#[test]
fn a_broken_copy_of_a_real_example_is_caught() {
    // The self-check above only shows the validator accepts; this shows it still rejects.
    let Some(specs) = specs() else { return };
    let get_person = specs.operation("GET", "/api/v2/persons/1").expect("getPerson");
    let example = get_person.body().pointer("/responses/200/content/application~1json/example").expect("example");
    assert!(get_person.validate_response(200, example).is_empty());
    let mut broken = example.clone();
    broken["data"]["id"] = json!("1");
    broken["data"]["emails"][0]["primary"] = json!("true");
    let found: Vec<String> =
        get_person.validate_response(200, &broken).iter().map(|violation| violation.location.clone()).collect();
    assert_eq!(found, ["response 200 body /data/emails/0/primary", "response 200 body /data/id"]);
    assert!(get_person.documents_status(200));
    assert!(!get_person.documents_status(500), "Pipedrive documents no 500 body for getPerson");

    let get_notes = specs.operation("GET", "/v1/notes").expect("getNotes");
    let example = get_notes.body().pointer("/responses/200/content/application~1json/example").expect("example");
    assert!(get_notes.validate_response(200, example).is_empty());
    let mut broken = example.clone();
    broken["success"] = json!("yes");
    assert_eq!(get_notes.validate_response(200, &broken).len(), 1);
}
