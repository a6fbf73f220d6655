//! Unit tests of lookup and request/response validation on small inline documents.

use std::path::Path;

use serde_json::{Value, json};

use crate::{Spec, SpecError, Violation};

const DOCUMENT: &str = r#"
openapi: 3.0.1
info: {title: test, version: 1.0.0}
servers:
  - url: 'https://api.example.com/v1'
paths:
  /persons:
    get:
      operationId: getPersons
      x-token-cost: 20
      parameters:
        - in: query
          name: limit
          schema: {type: integer, maximum: 500}
        - in: query
          name: owned_by_you
          schema: {type: number, title: numberBoolean, enum: [0, 1]}
        - in: query
          name: include_fields
          description: Optional comma separated string array of additional fields to include
          schema: {type: string, enum: [next_activity_id, open_deals_count]}
        - in: query
          name: sort
          description: The field names and sorting mode separated by a comma
          schema: {type: string, enum: [id, add_time]}
        - in: query
          name: ids
          style: form
          explode: false
          schema: {type: array, items: {type: integer}}
        - in: query
          name: archived
          schema: {type: boolean}
        - in: query
          name: since
          schema: {type: string, format: date}
      responses:
        '200':
          description: OK
          content:
            application/json:
              schema: {$ref: '#/components/schemas/PersonList'}
              example: {success: true, data: [{id: 1, name: Ada, emails: []}]}
        '404':
          description: Not found
    post:
      operationId: addPerson
      x-token-cost: 10
      requestBody:
        $ref: '#/components/requestBodies/PersonBody'
      responses:
        default:
          $ref: '#/components/responses/Error'
        2XX:
          description: Created
          content:
            application/json:
              schema:
                type: object
                properties:
                  data: {$ref: '#/components/schemas/Person'}
  /persons/search:
    get:
      operationId: searchPersons
      x-token-cost: 40
      parameters:
        - in: query
          name: term
          required: true
          schema: {type: string, minLength: 2}
      responses:
        '200': {description: OK}
  '/persons/{id}':
    parameters:
      - $ref: '#/components/parameters/Id'
    get:
      operationId: getPerson
      x-token-cost: 2
      deprecated: true
      responses:
        '200':
          description: OK
          content:
            application/json:
              schema:
                type: object
                properties:
                  data: {$ref: '#/components/schemas/Person'}
  /files:
    post:
      operationId: addFile
      x-token-cost: 20
      requestBody:
        required: true
        content:
          multipart/form-data:
            schema:
              type: object
              required: [file]
              properties:
                file: {type: string, format: binary}
                deal_id: {type: integer}
      responses:
        '200': {description: OK}
  /oauth/token:
    post:
      operationId: getTokens
      x-token-cost: 0
      servers:
        - url: 'https://oauth.example.com'
      responses:
        '200': {description: OK}
components:
  parameters:
    Id:
      in: path
      name: id
      required: true
      schema: {type: integer}
  requestBodies:
    PersonBody:
      required: true
      content:
        application/json:
          schema:
            allOf:
              - $ref: '#/components/schemas/Person'
              - type: object
                required: [name]
  responses:
    Error:
      description: Error
      content:
        application/json:
          schema:
            type: object
            required: [success, error]
            properties:
              success: {type: boolean, enum: [false]}
              error: {type: string}
  schemas:
    Person:
      type: object
      properties:
        id: {type: integer, readOnly: true}
        name: {type: string}
        emails:
          type: array
          items:
            type: object
            properties:
              value: {type: string}
              primary: {type: boolean}
              label: {type: string, nullable: true}
        birthday: {type: string, format: date, nullable: true}
        owner_id:
          oneOf:
            - {type: integer}
            - {type: object, required: [id], properties: {id: {type: integer}}}
    PersonList:
      type: object
      required: [success, data]
      properties:
        success: {type: boolean}
        data:
          type: array
          nullable: true
          items: {$ref: '#/components/schemas/Person'}
"#;

fn spec() -> Spec {
    Spec::from_yaml_str(DOCUMENT, Path::new("inline.yaml")).expect("the inline document parses")
}

fn query(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect()
}

fn rendered(violations: Vec<Violation>) -> Vec<String> {
    violations.iter().map(Violation::to_string).collect()
}

#[test]
fn lookup_strips_the_server_prefix_and_accepts_api_v1() {
    let spec = spec();
    assert_eq!(spec.operation("GET", "/v1/persons").map(|operation| operation.id()), Some("getPersons"));
    assert_eq!(spec.operation("get", "/api/v1/persons").map(|operation| operation.id()), Some("getPersons"));
    assert!(spec.operation("GET", "/persons").is_none(), "the server prefix is part of the sent path");
    assert!(spec.operation("GET", "/v2/persons").is_none());
    assert!(spec.operation("DELETE", "/v1/persons").is_none());
    assert!(spec.operation("GET", "/v1/persons?limit=5").is_none(), "the query string is passed apart");
}

#[test]
fn literal_segments_win_over_parameters() {
    let spec = spec();
    let search = spec.operation("GET", "/v1/persons/search").expect("search");
    assert_eq!((search.id(), search.template()), ("searchPersons", "/persons/search"));
    let one = spec.operation("GET", "/v1/persons/12").expect("one person");
    assert_eq!((one.id(), one.template()), ("getPerson", "/persons/{id}"));
    assert_eq!(one.path_arguments(), [("id".to_string(), "12".to_string())]);
    assert!(spec.operation("GET", "/v1/persons/").is_none(), "an empty segment is no id");
}

#[test]
fn operation_servers_override_the_document_servers() {
    let spec = spec();
    assert_eq!(spec.operation("POST", "/oauth/token").map(|operation| operation.id()), Some("getTokens"));
    assert!(spec.operation("POST", "/v1/oauth/token").is_none());
}

#[test]
fn token_costs_list_every_operation() {
    let costs = spec().token_costs();
    assert_eq!(costs.len(), 6);
    let get_person = costs.iter().find(|cost| cost.operation_id == "getPerson").expect("getPerson");
    assert_eq!((get_person.method.as_str(), get_person.template.as_str()), ("GET", "/persons/{id}"));
    assert_eq!((get_person.token_cost, get_person.deprecated), (Some(2), true));
    assert_eq!(spec().operation("POST", "/v1/files").and_then(|operation| operation.token_cost()), Some(20));
}

#[test]
fn path_arguments_are_checked_against_path_parameters() {
    let spec = spec();
    let operation = spec.operation("GET", "/v1/persons/abc").expect("matches the template");
    assert_eq!(rendered(operation.validate_request(&[], None, None)), ["path id: \"abc\" is not an integer"]);
}

#[test]
fn query_values_must_parse_as_their_declared_types() {
    let spec = spec();
    let operation = spec.operation("GET", "/v1/persons").expect("getPersons");
    let good = query(&[
        ("limit", "500"),
        ("owned_by_you", "1"),
        ("include_fields", "next_activity_id,open_deals_count"),
        ("sort", "add_time DESC, id ASC"),
        ("ids", "1,2,3"),
        ("archived", "false"),
        ("since", "2024-02-29"),
    ]);
    assert_eq!(rendered(operation.validate_request(&good, None, None)), Vec::<String>::new());
    let bad = query(&[
        ("limit", "501"),
        ("owned_by_you", "true"),
        ("include_fields", "next_activity_id,bogus"),
        ("ids", "1,x"),
        ("archived", "1"),
        ("since", "2024-02-30"),
        ("api_token", "secret"),
        ("limit", "5"),
    ]);
    let found = rendered(operation.validate_request(&bad, None, None));
    let expected_starts = [
        "query limit: given 2 times",
        "query limit: 501 is above the maximum 500",
        "query owned_by_you: \"true\" is not a number",
        "query include_fields: string \"next_activity_id,bogus\" is not one of",
        "query ids: item 1: \"x\" is not an integer",
        "query archived: \"1\" is not a boolean",
        "query since: \"2024-02-30\" is not a valid date",
        "query api_token: not a query parameter of getPersons",
    ];
    for start in expected_starts {
        assert!(found.iter().any(|line| line.starts_with(start)), "{start} in {found:#?}");
    }
    assert_eq!(found.len(), 8, "{found:#?}");
}

#[test]
fn required_query_parameters_must_be_present() {
    let spec = spec();
    let operation = spec.operation("GET", "/v1/persons/search").expect("searchPersons");
    assert_eq!(
        rendered(operation.validate_request(&[], None, None)),
        ["query term: required query parameter is missing"]
    );
    let short = query(&[("term", "a")]);
    assert_eq!(
        rendered(operation.validate_request(&short, None, None)),
        ["query term: \"a\" is shorter than minLength 2"]
    );
}

#[test]
fn a_valid_json_body_passes_through_request_body_refs_and_all_of() {
    let spec = spec();
    let operation = spec.operation("POST", "/v1/persons").expect("addPerson");
    let body = json!({"name": "Ada", "emails": [{"value": "a@b.c", "primary": true, "label": null}],
                      "birthday": null, "owner_id": {"id": 3}, "custom_1f2e": "anything"});
    assert_eq!(
        rendered(operation.validate_request(&[], Some("application/json; charset=utf-8"), Some(&body))),
        Vec::<String>::new()
    );
}

#[test]
fn a_string_boolean_in_a_json_body_is_reported_with_its_pointer() {
    let spec = spec();
    let operation = spec.operation("POST", "/v1/persons").expect("addPerson");
    let body = json!({"name": "Ada", "emails": [{"value": "a@b.c", "primary": "true"}]});
    assert_eq!(
        rendered(operation.validate_request(&[], Some("application/json"), Some(&body))),
        ["request body /emails/0/primary: expected boolean, got string \"true\""]
    );
}

#[test]
fn request_body_presence_content_type_and_read_only_are_checked() {
    let spec = spec();
    let add_person = spec.operation("POST", "/v1/persons").expect("addPerson");
    assert_eq!(
        rendered(add_person.validate_request(&[], None, None)),
        ["request body: required request body is missing"]
    );
    let body = json!({"name": "Ada"});
    let found = rendered(add_person.validate_request(&[], Some("text/plain"), Some(&body)));
    assert_eq!(found, ["request content type: text/plain is not declared (declared: application/json)"]);
    let with_id = json!({"name": "Ada", "id": 5});
    let found = rendered(add_person.validate_request(&[], Some("application/json"), Some(&with_id)));
    assert_eq!(found, ["request body /id: property is readOnly: it must not appear in requests"]);
    let nameless = json!({"emails": []});
    let found = rendered(add_person.validate_request(&[], Some("application/json"), Some(&nameless)));
    assert_eq!(found, ["request body: required property \"name\" is missing"]);
    let get_persons = spec.operation("GET", "/v1/persons").expect("getPersons");
    let found = rendered(get_persons.validate_request(&[], Some("application/json"), Some(&body)));
    assert_eq!(found, ["request body: getPersons declares no request body"]);
}

#[test]
fn form_bodies_are_checked_field_by_field_as_text() {
    let spec = spec();
    let add_file = spec.operation("POST", "/v1/files").expect("addFile");
    let good = json!({"file": "<bytes>", "deal_id": "12"});
    let content_type = Some("multipart/form-data; boundary=xyz");
    assert_eq!(rendered(add_file.validate_request(&[], content_type, Some(&good))), Vec::<String>::new());
    let bad = json!({"deal_id": "twelve", "person_id": "3"});
    assert_eq!(
        rendered(add_file.validate_request(&[], content_type, Some(&bad))),
        [
            "request form field file: required form field is missing",
            "request form field deal_id: \"twelve\" is not an integer",
            "request form field person_id: not a form field of addFile",
        ]
    );
    let json_instead = rendered(add_file.validate_request(&[], Some("application/json"), Some(&good)));
    assert_eq!(
        json_instead,
        ["request content type: application/json is not declared (declared: multipart/form-data)"]
    );
}

#[test]
fn responses_use_the_exact_status_then_the_range_then_default() {
    let spec = spec();
    let add_person = spec.operation("POST", "/v1/persons").expect("addPerson");
    assert!(add_person.validate_response(201, &json!({"data": {"id": 1, "name": "Ada"}})).is_empty());
    let found = rendered(add_person.validate_response(201, &json!({"data": {"id": "1"}})));
    assert_eq!(found, ["response 201 body /data/id: expected integer, got string \"1\""]);
    let found = rendered(add_person.validate_response(400, &json!({"success": true})));
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found[0].starts_with("response 400 body: required property \"error\""));
    assert!(found[1].starts_with("response 400 body /success: boolean true is not one of the enum values [false]"));
    assert!(add_person.documents_status(201) && add_person.documents_status(503));
}

#[test]
fn undocumented_statuses_are_unchecked_and_say_so() {
    let spec = spec();
    let get_persons = spec.operation("GET", "/v1/persons").expect("getPersons");
    assert!(get_persons.documents_status(200));
    assert!(!get_persons.documents_status(404), "404 is documented without content");
    assert!(!get_persons.documents_status(500));
    assert!(get_persons.validate_response(500, &json!("anything")).is_empty());
}

#[test]
fn nullable_one_of_and_formats_apply_in_responses() {
    let spec = spec();
    let get_persons = spec.operation("GET", "/v1/persons").expect("getPersons");
    assert!(get_persons.validate_response(200, &json!({"success": true, "data": null})).is_empty());
    let body = json!({"success": true, "data": [{"id": 1, "birthday": "1815-12-10", "owner_id": 7},
                                                {"id": 2, "birthday": "10.12.1815", "owner_id": "7", "emails": null}]});
    let found = rendered(get_persons.validate_response(200, &body));
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(found[0].starts_with("response 200 body /data/1/birthday: \"10.12.1815\" is not a valid date"));
    assert!(found[1].starts_with("response 200 body /data/1/emails: null is not allowed here"));
    assert!(found[2].starts_with("response 200 body /data/1/owner_id: matches none of the 2 oneOf alternatives"));
}

#[test]
fn the_documents_own_examples_are_checked() {
    let report = spec().check_response_examples();
    assert_eq!((report.checked, report.passed), (1, 1), "{:?}", report.failures);
}

#[test]
fn unchecked_features_are_listed() {
    let yaml = r#"
openapi: 3.0.3
info: {title: t, version: '1'}
paths:
  /things:
    get:
      operationId: getThings
      parameters:
        - {in: header, name: X-Trace, schema: {type: string}}
      responses:
        '200':
          description: OK
          content:
            application/json:
              schema: {type: string, pattern: '^a', format: uuid, x-vendor: 1, example: a}
"#;
    let spec = Spec::from_yaml_str(yaml, Path::new("inline.yaml")).expect("parses");
    let lines = spec.unchecked_features();
    assert_eq!(
        lines,
        [
            "header parameter X-Trace of getThings is not checked",
            "schema keyword pattern (first at getThings response 200 application/json) is not checked",
            "format uuid is not checked",
        ]
    );
    assert!(spec.operation("GET", "/things").is_some(), "no servers means the root");
}

#[test]
fn errors_name_the_document() {
    let missing = Spec::from_file(Path::new("/nonexistent/v9.yaml")).err().expect("missing file");
    assert!(matches!(missing, SpecError::Read { .. }));
    assert!(missing.to_string().contains("/nonexistent/v9.yaml"), "{missing}");
    let broken = Spec::from_yaml_str("openapi: [3", Path::new("broken.yaml")).err().expect("bad YAML");
    assert!(broken.to_string().starts_with("OpenAPI document broken.yaml is not valid YAML"), "{broken}");
    let swagger = Spec::from_yaml_str("swagger: '2.0'\npaths: {}", Path::new("old.yaml")).err().expect("not 3.0");
    assert!(swagger.to_string().contains("only 3.0.x"), "{swagger}");
}

#[test]
fn numeric_response_codes_parse_as_keys() {
    // YAML reads an unquoted 200 as a number; the document must still find the response.
    let yaml = "openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths:\n  /a:\n    get:\n      responses:\n        200:\n          description: OK\n          content:\n            application/json:\n              schema: {type: integer}\n";
    let spec = Spec::from_yaml_str(yaml, Path::new("inline.yaml")).expect("parses");
    let operation = spec.operation("GET", "/a").expect("found");
    assert_eq!(operation.validate_response(200, &Value::from("x")).len(), 1);
}

#[test]
fn a_maximum_stated_only_in_the_description_is_enforced() {
    let yaml = r#"
openapi: 3.0.1
info: {title: t, version: '1'}
servers: [{url: 'https://api.example.com/api/v2'}]
paths:
  /deals:
    get:
      operationId: getDeals
      parameters:
        - in: query
          name: limit
          description: 'For pagination. Please note that a maximum value of 500 is allowed.'
          schema: {type: integer}
      responses: {'200': {description: OK}}
"#;
    let spec = Spec::from_yaml_str(yaml, Path::new("inline.yaml")).expect("parses");
    let operation = spec.operation("GET", "/api/v2/deals").expect("getDeals");
    assert!(operation.validate_request(&query(&[("limit", "500")]), None, None).is_empty());
    assert_eq!(
        rendered(operation.validate_request(&query(&[("limit", "501")]), None, None)),
        ["query limit: 501 is above the maximum 500"]
    );
}
