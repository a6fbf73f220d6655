//! Lists walked page by page against what the account holds: every live record that matches,
//! once, in order, whatever the page size, sort, direction and filter; deleted records, equal
//! sort values, a filter that matches nothing after the cursor, a cursor at the last record.

use crate::support::{Answer, Sandbox, TOKEN};
use serde_json::{Value, json};
use std::time::Duration;

/// Walks a v2 list through its cursors; checks that only the last page has no `next_cursor`.
async fn walk(sandbox: &Sandbox, path: &str) -> Vec<u64> {
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1000 {
        let separator = if path.contains('?') { '&' } else { '?' };
        let url = match &cursor {
            Some(cursor) => format!("{path}{separator}cursor={cursor}"),
            None => path.to_owned(),
        };
        let answer = sandbox.call("GET", &url, None).await;
        assert_eq!(answer.status, 200, "{url}: {}", answer.body);
        let page = answer.body["data"].as_array().unwrap().clone();
        seen.extend(page.iter().map(|record| record["id"].as_u64().unwrap()));
        match &answer.body["additional_data"]["next_cursor"] {
            Value::String(next) => {
                assert!(!page.is_empty(), "{url}: an empty page with a next cursor");
                cursor = Some(next.clone());
            }
            Value::Null => return seen,
            other => panic!("{url}: next_cursor {other}"),
        }
    }
    panic!("{path}: more than 1000 pages");
}

/// What a list must answer, from the account's state: the live records of `collection` that
/// `keep` accepts, by (`sort_by`, id), ascending or descending.
fn expected(
    state: &Value,
    collection: &str,
    keep: impl Fn(&Value) -> bool,
    sort_by: &str,
    descending: bool,
) -> Vec<u64> {
    let mut records: Vec<&Value> = state[collection]
        .as_object()
        .unwrap()
        .values()
        .filter(|record| record["is_deleted"] != true && keep(record))
        .collect();
    records.sort_by(|a, b| {
        let ordering = match (&a[sort_by], &b[sort_by]) {
            (Value::String(x), Value::String(y)) => x.cmp(y),
            (Value::Number(x), Value::Number(y)) => x.as_u64().cmp(&y.as_u64()),
            (x, y) => x.is_null().cmp(&y.is_null()).reverse(),
        }
        .then(a["id"].as_u64().cmp(&b["id"].as_u64()));
        if descending { ordering.reverse() } else { ordering }
    });
    records.iter().map(|record| record["id"].as_u64().unwrap()).collect()
}

/// A list's query filter, and which records it keeps.
type Keep<'a> = Box<dyn Fn(&Value) -> bool + 'a>;

#[tokio::test]
async fn every_page_of_every_sort_and_filter_lists_each_live_match_once_in_order() {
    let sandbox = Sandbox::fast();
    let early = sandbox.ok("POST", "/api/v2/organizations", Some(json!({"name": "Early"}))).await["id"].clone();
    let late = sandbox.ok("POST", "/api/v2/organizations", Some(json!({"name": "Late"}))).await["id"].clone();
    // Three batches a minute apart: update_time and add_time are equal within a batch.
    let mut persons = Vec::new();
    for batch in 0..3 {
        for index in 0..13 {
            let org = match (batch, index % 3) {
                (0, 0) => early.clone(),
                (_, 1) => late.clone(),
                _ => Value::Null,
            };
            let person = sandbox
                .ok("POST", "/api/v2/persons", Some(json!({"name": format!("P{batch}-{index}"), "org_id": org})))
                .await;
            persons.push(person["id"].as_u64().unwrap());
        }
        sandbox.handle.advance_clock(Duration::from_secs(60));
    }
    // Deleted: the first, a run in the middle, the last one; an early one updated late.
    for id in [persons[0], persons[17], persons[18], persons[19], *persons.last().unwrap()] {
        sandbox.ok("DELETE", &format!("/api/v2/persons/{id}"), None).await;
    }
    sandbox.ok("PATCH", &format!("/api/v2/persons/{}", persons[3]), Some(json!({"name": "Touched"}))).await;
    let state = sandbox.handle.state();
    let filters: [(String, Keep<'_>); 4] = [
        (String::new(), Box::new(|_: &Value| true)),
        (format!("&org_id={early}"), Box::new(|person: &Value| person["org_id"] == early)),
        (format!("&org_id={late}"), Box::new(|person: &Value| person["org_id"] == late)),
        ("&org_id=999".to_owned(), Box::new(|_: &Value| false)),
    ];
    for sort_by in ["id", "update_time", "add_time"] {
        for direction in ["asc", "desc"] {
            for limit in [1, 4, 13, 500] {
                for (query, keep) in &filters {
                    let path =
                        format!("/api/v2/persons?limit={limit}&sort_by={sort_by}&sort_direction={direction}{query}");
                    let want = expected(&state, "persons", keep, sort_by, direction == "desc");
                    assert_eq!(walk(&sandbox, &path).await, want, "{path}");
                }
            }
        }
    }
    // The default sort is by id, ascending.
    assert_eq!(walk(&sandbox, "/api/v2/persons?limit=5").await, expected(&state, "persons", |_| true, "id", false));
}

#[tokio::test]
async fn a_cursor_whose_records_after_it_are_gone_or_filtered_out_gives_an_empty_last_page() {
    let sandbox = Sandbox::fast();
    let org = sandbox.ok("POST", "/api/v2/organizations", Some(json!({"name": "Acme"}))).await["id"].clone();
    for index in 0..6 {
        let org = if index < 4 { org.clone() } else { Value::Null };
        sandbox.ok("POST", "/api/v2/persons", Some(json!({"name": format!("P{index}"), "org_id": org}))).await;
    }
    for direction in ["asc", "desc"] {
        // Pages of 3 of the 4 in Acme: the cursor is at the third; only the fourth follows.
        let first = sandbox
            .call("GET", &format!("/api/v2/persons?limit=3&org_id={org}&sort_direction={direction}"), None)
            .await;
        let cursor = first.body["additional_data"]["next_cursor"].as_str().unwrap().to_owned();
        let ids: Vec<u64> = first.body["data"].as_array().unwrap().iter().map(|p| p["id"].as_u64().unwrap()).collect();
        assert_eq!(ids, if direction == "asc" { vec![1, 2, 3] } else { vec![4, 3, 2] });
        let next = sandbox
            .call(
                "GET",
                &format!("/api/v2/persons?limit=3&org_id={org}&sort_direction={direction}&cursor={cursor}"),
                None,
            )
            .await;
        let after = if direction == "asc" { 4 } else { 1 };
        assert_eq!(next.body["data"], json!([sandbox.ok("GET", &format!("/api/v2/persons/{after}"), None).await]));
        assert_eq!(next.body["additional_data"]["next_cursor"], Value::Null);
    }
    // The cursor at person 5 of 6 (asc), then person 6 deleted: the cursor is at the last record.
    let first = sandbox.call("GET", "/api/v2/persons?limit=5", None).await;
    let cursor = first.body["additional_data"]["next_cursor"].as_str().unwrap().to_owned();
    sandbox.ok("DELETE", "/api/v2/persons/6", None).await;
    let next = sandbox.call("GET", &format!("/api/v2/persons?limit=5&cursor={cursor}"), None).await;
    assert_eq!(next.status, 200);
    assert_eq!(next.body["data"], json!([]));
    assert_eq!(next.body["additional_data"]["next_cursor"], Value::Null);
    // Descending: a cursor at person 4 and one at person 2 (of 5 live), then person 1 deleted.
    let at_four = sandbox.call("GET", "/api/v2/persons?limit=2&sort_direction=desc", None).await;
    let at_four = at_four.body["additional_data"]["next_cursor"].as_str().unwrap().to_owned();
    let at_two = sandbox.call("GET", "/api/v2/persons?limit=4&sort_direction=desc", None).await;
    let at_two = at_two.body["additional_data"]["next_cursor"].as_str().unwrap().to_owned();
    sandbox.ok("DELETE", "/api/v2/persons/1", None).await;
    let next = sandbox.call("GET", &format!("/api/v2/persons?limit=4&sort_direction=desc&cursor={at_two}"), None).await;
    assert_eq!(next.body["data"], json!([]));
    assert_eq!(next.body["additional_data"]["next_cursor"], Value::Null);
    let next =
        sandbox.call("GET", &format!("/api/v2/persons?limit=2&sort_direction=desc&cursor={at_four}"), None).await;
    let ids: Vec<u64> = next.body["data"].as_array().unwrap().iter().map(|p| p["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, vec![3, 2]);
    assert_eq!(next.body["additional_data"]["next_cursor"], Value::Null, "nothing live after person 2");
}

#[tokio::test]
async fn deleted_and_closed_deals_are_listed_by_status_page_by_page() {
    let sandbox = Sandbox::fast();
    for index in 0..20 {
        let deal = sandbox.ok("POST", "/api/v2/deals", Some(json!({"title": format!("D{index}")}))).await;
        let id = deal["id"].as_u64().unwrap();
        match index % 4 {
            0 => {
                sandbox.ok("DELETE", &format!("/api/v2/deals/{id}"), None).await;
            }
            1 => {
                sandbox.ok("PATCH", &format!("/api/v2/deals/{id}"), Some(json!({"status": "won"}))).await;
            }
            _ => {}
        }
    }
    let state = sandbox.handle.state();
    let deleted: Vec<u64> = (1..=20).filter(|id| state["deals"][id.to_string()]["is_deleted"] == true).collect();
    for direction in ["asc", "desc"] {
        let mut want = deleted.clone();
        if direction == "desc" {
            want.reverse();
        }
        let path = format!("/api/v2/deals?status=deleted&limit=2&sort_direction={direction}");
        assert_eq!(walk(&sandbox, &path).await, want);
        let path = format!("/api/v2/deals?status=won&limit=3&sort_direction={direction}");
        let want = expected(&state, "deals", |deal| deal["status"] == "won", "id", direction == "desc");
        assert_eq!(walk(&sandbox, &path).await, want);
        let path = format!("/api/v2/deals?limit=4&sort_direction={direction}");
        assert_eq!(walk(&sandbox, &path).await, expected(&state, "deals", |_| true, "id", direction == "desc"));
    }
}

/// Walks a v1 list by `start`; checks `next_start` and that only the last page says no more.
async fn walk_v1(sandbox: &Sandbox, path: &str, limit: usize) -> Vec<u64> {
    let mut seen = Vec::new();
    let mut start = 0;
    loop {
        let url = format!("{path}{}start={start}&limit={limit}", if path.contains('?') { '&' } else { '?' });
        let answer = sandbox.call("GET", &url, None).await;
        assert_eq!(answer.status, 200, "{url}: {}", answer.body);
        let page = answer.body["data"].as_array().cloned().unwrap_or_default();
        seen.extend(page.iter().map(|record| record["id"].as_u64().unwrap()));
        let pagination = &answer.body["additional_data"]["pagination"];
        if pagination["more_items_in_collection"] != true {
            assert_eq!(pagination.get("next_start"), None, "{url}");
            return seen;
        }
        assert_eq!(page.len(), limit, "{url}: a short page that says there is more");
        start = pagination["next_start"].as_u64().unwrap() as usize;
        assert_eq!(start, seen.len(), "{url}");
    }
}

#[tokio::test]
async fn notes_and_files_pages_by_start_skip_deleted_ones_and_keep_their_sort() {
    let sandbox = Sandbox::fast();
    let anna = sandbox.ok("POST", "/api/v2/persons", Some(json!({"name": "Anna"}))).await["id"].clone();
    let ben = sandbox.ok("POST", "/api/v2/persons", Some(json!({"name": "Ben"}))).await["id"].clone();
    for index in 0..23 {
        let person = if index % 3 == 0 { &anna } else { &ben };
        // Contents out of id order, some equal.
        let content = format!("note {}", (index * 7) % 5);
        sandbox.ok("POST", "/v1/notes", Some(json!({"content": content, "person_id": person}))).await;
    }
    for id in [1, 12, 13, 23] {
        sandbox.ok("DELETE", &format!("/v1/notes/{id}"), None).await;
    }
    let state = sandbox.handle.state();
    let live = |keep: &dyn Fn(&Value) -> bool, key: &str, descending: bool| {
        let mut notes: Vec<&Value> = state["notes"]
            .as_object()
            .unwrap()
            .values()
            .filter(|note| note["active_flag"] == true && keep(note))
            .collect();
        notes.sort_by(|a, b| {
            let ordering = match (&a[key], &b[key]) {
                (Value::String(x), Value::String(y)) => x.cmp(y),
                (x, y) => x.as_u64().cmp(&y.as_u64()),
            }
            .then(a["id"].as_u64().cmp(&b["id"].as_u64()));
            if descending { ordering.reverse() } else { ordering }
        });
        notes.iter().map(|note| note["id"].as_u64().unwrap()).collect::<Vec<u64>>()
    };
    for limit in [1, 4, 19, 500] {
        assert_eq!(walk_v1(&sandbox, "/v1/notes", limit).await, live(&|_| true, "id", false));
        let path = format!("/v1/notes?person_id={anna}");
        assert_eq!(walk_v1(&sandbox, &path, limit).await, live(&|note| note["person_id"] == anna, "id", false));
        assert_eq!(walk_v1(&sandbox, "/v1/notes?sort=id%20DESC", limit).await, live(&|_| true, "id", true));
        let path = "/v1/notes?sort=content%20DESC";
        assert_eq!(walk_v1(&sandbox, path, limit).await, live(&|_| true, "content", true), "{path}");
        assert_eq!(walk_v1(&sandbox, "/v1/notes?person_id=999", limit).await, Vec::<u64>::new());
    }
    // Past the end: an empty page that says there is no more.
    let past = sandbox.call("GET", "/v1/notes?start=100&limit=5", None).await;
    assert_eq!(past.body["additional_data"]["pagination"]["more_items_in_collection"], false);

    for index in 0..9 {
        let form = reqwest::multipart::Form::new()
            .text("person_id", anna.to_string())
            .part("file", reqwest::multipart::Part::bytes(vec![1u8; index + 1]).file_name(format!("f{index}.txt")));
        let response =
            sandbox.client.post(sandbox.url("/v1/files")).header("x-api-token", TOKEN).multipart(form).send().await;
        assert_eq!(response.unwrap().status(), 200);
    }
    for id in [2, 9] {
        sandbox.ok("DELETE", &format!("/v1/files/{id}"), None).await;
    }
    // By update time, descending: equal times keep id order (a stable sort).
    let state = sandbox.handle.state();
    let mut by_time: Vec<(String, u64)> = [1u64, 3, 4, 5, 6, 7, 8]
        .iter()
        .map(|id| (state["files"][id.to_string()]["update_time"].as_str().unwrap().to_owned(), *id))
        .collect();
    by_time.sort_by(|a, b| b.0.cmp(&a.0));
    let by_time: Vec<u64> = by_time.into_iter().map(|(_, id)| id).collect();
    for limit in [1, 2, 100] {
        assert_eq!(walk_v1(&sandbox, "/v1/files", limit).await, vec![1, 3, 4, 5, 6, 7, 8]);
        assert_eq!(walk_v1(&sandbox, "/v1/files?sort=id%20DESC", limit).await, vec![8, 7, 6, 5, 4, 3, 1]);
        assert_eq!(walk_v1(&sandbox, "/v1/files?sort=update_time%20DESC", limit).await, by_time);
    }
}

#[tokio::test]
async fn a_v1_page_after_a_write_is_cut_from_the_list_as_it_is_now() {
    let sandbox = Sandbox::fast();
    let anna = sandbox.ok("POST", "/api/v2/persons", Some(json!({"name": "Anna"}))).await["id"].clone();
    for index in 0..12 {
        sandbox.ok("POST", "/v1/notes", Some(json!({"content": format!("n{index}"), "person_id": anna}))).await;
    }
    let ids = |page: &Answer| -> Vec<u64> {
        page.body["data"].as_array().unwrap().iter().map(|note| note["id"].as_u64().unwrap()).collect()
    };
    for direction in ["", "&sort=id%20DESC"] {
        let list = |start: usize| format!("/v1/notes?limit=3&start={start}{direction}");
        let first = sandbox.call("GET", &list(0), None).await;
        // Another list between the pages (by person): its pages are its own.
        let other = sandbox.call("GET", &format!("/v1/notes?limit=2&start=0&person_id={anna}{direction}"), None).await;
        assert_eq!(ids(&other), &ids(&first)[..2]);
        let second = sandbox.call("GET", &list(3), None).await;
        // A note of the first page deleted: the third page starts one further on.
        let gone = ids(&first)[1];
        sandbox.ok("DELETE", &format!("/v1/notes/{gone}"), None).await;
        let third = sandbox.call("GET", &list(6), None).await;
        let state = sandbox.handle.state();
        let mut live: Vec<u64> = state["notes"]
            .as_object()
            .unwrap()
            .values()
            .filter(|note| note["active_flag"] == true)
            .map(|note| note["id"].as_u64().unwrap())
            .collect();
        live.sort_unstable();
        if !direction.is_empty() {
            live.reverse();
        }
        assert_eq!(ids(&second), &live[2..5], "{direction}: the second page follows the first");
        assert_eq!(ids(&third), &live[6..9], "{direction}: the third page is cut after the delete");
        // A new note between pages: the next page is cut from the list with it.
        sandbox.ok("POST", "/v1/notes", Some(json!({"content": "late", "person_id": anna}))).await;
        let mut with_late = live.clone();
        let late = sandbox.handle.state()["last_ids"]["notes"].as_u64().unwrap();
        if direction.is_empty() {
            with_late.push(late)
        } else {
            with_late.insert(0, late)
        }
        assert_eq!(walk_v1(&sandbox, &format!("/v1/notes?{}", direction.trim_start_matches('&')), 4).await, with_late);
    }
}

/// The persons of an organization as a relationship counts them.
async fn people_count(sandbox: &Sandbox, relationship: &Value, org: &Value) -> Value {
    let read = sandbox.ok("GET", &format!("/v1/organizationRelationships/{}", relationship["id"]), None).await;
    if read["rel_owner_org_id"]["value"] == org["id"] {
        read["rel_owner_org_id"]["people_count"].clone()
    } else {
        read["rel_linked_org_id"]["people_count"].clone()
    }
}

/// The ids and order numbers of a deal's product lines.
async fn lines_of(sandbox: &Sandbox, deal: &Value) -> Vec<(u64, u64)> {
    let lines = sandbox.ok("GET", &format!("/api/v2/deals/{}/products?limit=500", deal["id"]), None).await;
    lines
        .as_array()
        .unwrap()
        .iter()
        .map(|line| (line["id"].as_u64().unwrap(), line["order_nr"].as_u64().unwrap()))
        .collect()
}

#[tokio::test]
async fn an_organizations_persons_and_a_deals_lines_follow_moves_deletes_and_a_restart() {
    let state = crate::support::temp_path("indexed-state.json");
    let config =
        || crm_migrate_sandbox::SandboxConfig { state_path: Some(state.clone()), ..crate::support::fast_config() };
    let sandbox = Sandbox::start(config());
    let holding = sandbox.ok("POST", "/api/v2/organizations", Some(json!({"name": "Holding"}))).await;
    let daughter = sandbox.ok("POST", "/api/v2/organizations", Some(json!({"name": "Daughter"}))).await;
    let mut persons = Vec::new();
    for index in 0..5 {
        let org = if index < 3 { &holding } else { &daughter };
        persons.push(
            sandbox
                .ok("POST", "/api/v2/persons", Some(json!({"name": format!("P{index}"), "org_id": org["id"]})))
                .await["id"]
                .clone(),
        );
    }
    let relationship = sandbox
        .ok(
            "POST",
            "/v1/organizationRelationships",
            Some(json!({"type": "parent", "rel_owner_org_id": holding["id"], "rel_linked_org_id": daughter["id"]})),
        )
        .await;
    assert_eq!(
        (people_count(&sandbox, &relationship, &holding).await, people_count(&sandbox, &relationship, &daughter).await),
        (json!(3), json!(2))
    );
    // One moves to the daughter, one is deleted, one leaves its organization.
    sandbox.ok("PATCH", &format!("/api/v2/persons/{}", persons[0]), Some(json!({"org_id": daughter["id"]}))).await;
    sandbox.ok("DELETE", &format!("/api/v2/persons/{}", persons[1]), None).await;
    sandbox.ok("PATCH", &format!("/api/v2/persons/{}", persons[3]), Some(json!({"org_id": null}))).await;
    assert_eq!(
        (people_count(&sandbox, &relationship, &holding).await, people_count(&sandbox, &relationship, &daughter).await),
        (json!(1), json!(2))
    );

    let product = sandbox.call("POST", "/api/v2/products", Some(json!({"name": "Pencil"}))).await.body["data"].clone();
    let deals = [
        sandbox.ok("POST", "/api/v2/deals", Some(json!({"title": "A"}))).await,
        sandbox.ok("POST", "/api/v2/deals", Some(json!({"title": "B"}))).await,
    ];
    let line = json!({"product_id": product["id"], "item_price": 1, "quantity": 1});
    for deal in [&deals[0], &deals[1], &deals[0], &deals[0]] {
        sandbox.ok("POST", &format!("/api/v2/deals/{}/products", deal["id"]), Some(line.clone())).await;
    }
    assert_eq!(lines_of(&sandbox, &deals[0]).await, vec![(1, 1), (3, 2), (4, 3)]);
    assert_eq!(lines_of(&sandbox, &deals[1]).await, vec![(2, 1)]);
    sandbox.ok("DELETE", &format!("/api/v2/deals/{}/products/3", deals[0]["id"]), None).await;
    assert_eq!(lines_of(&sandbox, &deals[0]).await, vec![(1, 1), (4, 3)]);
    // A line of one deal is not another's to delete.
    assert_eq!(sandbox.call("DELETE", &format!("/api/v2/deals/{}/products/2", deals[0]["id"]), None).await.status, 404);

    // Saved and read back: the same answers.
    drop(sandbox);
    let sandbox = Sandbox::start(config());
    assert_eq!(
        (people_count(&sandbox, &relationship, &holding).await, people_count(&sandbox, &relationship, &daughter).await),
        (json!(1), json!(2))
    );
    assert_eq!(lines_of(&sandbox, &deals[0]).await, vec![(1, 1), (4, 3)]);
    sandbox.ok("POST", &format!("/api/v2/deals/{}/products", deals[0]["id"]), Some(line)).await;
    assert_eq!(lines_of(&sandbox, &deals[0]).await, vec![(1, 1), (4, 3), (5, 3)], "order_nr counts the deal's lines");
    drop(sandbox);
    let _ = std::fs::remove_file(&state);
}
