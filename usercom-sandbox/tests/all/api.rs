//! Each behaviour of the sandbox as a client sees it over HTTP.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::Value;
use usercom_sandbox::{AccountOptions, Faults, RateLimit, UsercomConfig, UsercomSandbox};

const TOKEN: &str = "usercom-sandbox-token";
const VERSION: &str = "*/*; version=2";

fn sandbox(config: UsercomConfig) -> UsercomSandbox {
    UsercomSandbox::spawn(config).expect("the sandbox starts")
}

fn small() -> UsercomConfig {
    UsercomConfig { account: AccountOptions { contacts: 200, ..AccountOptions::default() }, ..UsercomConfig::default() }
}

/// A plain HTTP client. In a workspace build reqwest is compiled with rustls and no built-in
/// crypto provider (the host picks ring), so one is installed first, as the host does.
fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// GETs `url` as a well-behaved client does: the token and the version header.
async fn get(url: &str) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let response = client()
        .get(url)
        .header("Authorization", format!("Token {TOKEN}"))
        .header("Accept", VERSION)
        .send()
        .await
        .unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let body = response.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

/// Every record of a list, following `next` verbatim; panics on anything but 200.
async fn walk(first: &str) -> (Vec<Value>, usize) {
    let (mut url, mut records, mut pages) = (Some(first.to_owned()), Vec::new(), 0);
    while let Some(next) = url {
        let (status, _, body) = get(&next).await;
        assert_eq!(status, StatusCode::OK, "{next}: {body}");
        let results = body["results"].as_array().unwrap();
        assert!(results.len() <= 100, "{next}: {} results", results.len());
        records.extend(results.iter().cloned());
        url = body["next"].as_str().map(str::to_owned);
        pages += 1;
    }
    (records, pages)
}

fn ids(records: &[Value]) -> Vec<u64> {
    records.iter().map(|record| record["id"].as_u64().unwrap()).collect()
}

#[tokio::test]
async fn paging_walks_every_record_exactly_once() {
    let sandbox = sandbox(UsercomConfig::default());
    let account = sandbox.account();
    let api = format!("{}/api/public", sandbox.url());
    let (users, pages) = walk(&format!("{api}/users/")).await;
    let expected: Vec<u64> = account.users.iter().map(|user| user.id).collect();
    assert_eq!(ids(&users), expected);
    assert_eq!(pages, 5);
    let (deals, _) = walk(&format!("{api}/deals/")).await;
    assert_eq!(ids(&deals), account.deals.iter().map(|deal| deal.id).collect::<Vec<_>>());
    let (activities, _) = walk(&format!("{api}/activities/")).await;
    assert_eq!(activities.len(), account.activities.len());
    // Every page was fetched once, and `count` is the total on every page.
    assert!(sandbox.served_twice().is_empty(), "{:?}", sandbox.served_twice());
    let (_, _, first) = get(&format!("{api}/users/")).await;
    assert_eq!(first["count"], 500);
    assert_eq!(first["previous"], Value::Null);
    // `previous` of the second page is the first page.
    let (_, _, second) = get(first["next"].as_str().unwrap()).await;
    let (_, _, back) = get(second["previous"].as_str().unwrap()).await;
    assert_eq!(back["results"], first["results"]);
    // A cursor the sandbox did not make.
    let (status, _, body) = get(&format!("{api}/users/?cursor=bm90LWEtY3Vyc29y")).await;
    assert_eq!((status, body["detail"].as_str()), (StatusCode::NOT_FOUND, Some("Invalid cursor")));
}

#[tokio::test]
async fn next_urls_keep_the_other_parameters() {
    let sandbox = sandbox(UsercomConfig::default());
    let account = sandbox.account();
    let user = account.deals[0].user_id;
    let (deals, _) = walk(&format!("{}/api/public/deals/?user_id={user}", sandbox.url())).await;
    assert_eq!(ids(&deals), account.deals.iter().filter(|d| d.user_id == user).map(|d| d.id).collect::<Vec<_>>());
    let (stage_deals, pages) = walk(&format!("{}/api/public/deals/?stage=11", sandbox.url())).await;
    assert!(stage_deals.iter().all(|deal| deal["stage"] == 11));
    assert_eq!(stage_deals.len(), account.deals.iter().filter(|deal| deal.stage == 11).count());
    assert!(pages >= 1);
}

#[tokio::test]
async fn requests_without_a_valid_token_are_401_and_without_version_2_are_406() {
    let sandbox = sandbox(small());
    let url = format!("{}/api/public/users/", sandbox.url());
    let send = |authorization: Option<&str>, accept: &str| {
        let mut request = client().get(&url).header("Accept", accept);
        if let Some(authorization) = authorization {
            request = request.header("Authorization", authorization);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            (status, response.json::<Value>().await.unwrap()["detail"].as_str().unwrap().to_owned())
        }
    };
    assert_eq!(
        send(None, VERSION).await,
        (StatusCode::UNAUTHORIZED, "Authentication credentials were not provided.".to_owned())
    );
    for wrong in ["Token nope", &format!("Bearer {TOKEN}"), TOKEN] {
        assert_eq!(
            send(Some(wrong), VERSION).await,
            (StatusCode::UNAUTHORIZED, "Invalid token.".to_owned()),
            "{wrong}"
        );
    }
    let (status, _) = send(Some(&format!("Token {TOKEN}")), "application/json").await;
    assert_eq!(status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(sandbox.served("/api/public/users/", None), 0);
}

#[tokio::test]
async fn a_path_without_its_slash_is_redirected_to_it() {
    let sandbox = sandbox(small());
    let (status, headers, _) = get(&format!("{}/api/public/users?with_email=1", sandbox.url())).await;
    assert_eq!(status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(headers["location"], "/api/public/users/?with_email=1");
    let (status, _, _) = get(&format!("{}/api/public/automations/", sandbox.url())).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_empty_bucket_answers_429_with_retry_after_and_serves_nothing() {
    let rate = RateLimit { burst: 3, per_second: 0.01 };
    let sandbox = sandbox(UsercomConfig { rate: Some(rate), ..small() });
    let url = format!("{}/api/public/tags/", sandbox.url());
    for _ in 0..3 {
        assert_eq!(get(&url).await.0, StatusCode::OK);
    }
    let (status, headers, body) = get(&url).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["detail"], "Too many requests. You have reached a rate limit.");
    let wait: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=100).contains(&wait), "{wait}");
    let statuses: Vec<u16> = sandbox.requests().iter().map(|logged| logged.status).collect();
    assert_eq!(statuses, [200, 200, 200, 429]);
    assert_eq!(sandbox.served("/api/public/tags/", None), 3);
}

#[tokio::test]
async fn faults_are_server_errors_drawn_from_a_seed() {
    let faulty = UsercomConfig { faults: Faults { seed: 7, rate: 0.5 }, ..small() };
    let mut runs = Vec::new();
    for _ in 0..2 {
        let sandbox = sandbox(faulty.clone());
        let url = format!("{}/api/public/pipelines/", sandbox.url());
        let mut statuses = Vec::new();
        for _ in 0..40 {
            statuses.push(get(&url).await.0.as_u16());
        }
        runs.push(statuses);
    }
    assert_eq!(runs[0], runs[1], "the same seed fails the same requests");
    let failed = runs[0].iter().filter(|status| **status != 200).count();
    assert!((8..=32).contains(&failed), "{failed} of 40 failed at a rate of 0.5");
    assert!(runs[0].iter().all(|status| [200, 500, 502, 504].contains(status)), "{:?}", runs[0]);
    assert!(runs[0].contains(&502) || runs[0].contains(&504));
}

#[tokio::test]
async fn a_search_by_updated_at_finds_what_changed_a_month_later() {
    let sandbox = sandbox(UsercomConfig::default());
    let api = format!("{}/api/public", sandbox.url());
    let before = sandbox.account();
    let extracted_at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() - 1;
    let search = |min: u64| format!("{api}/users/search/?search=updated_at&min={min}&max={}", extracted_at + 3600);
    let (nothing, _) = walk(&search(extracted_at)).await;
    assert!(nothing.is_empty());

    sandbox.advance_to_changes();
    let after = sandbox.account();
    let (changed, _) = walk(&search(extracted_at)).await;
    let changed: BTreeSet<u64> = ids(&changed).into_iter().collect();
    assert_eq!(changed.len() as u64, after.changes["contacts_added"] + after.changes["contacts_changed"]);
    let old: BTreeSet<u64> = before.users.iter().map(|user| user.id).collect();
    for id in &changed {
        let now = after.user(*id).unwrap();
        // Added, or changed (city, score, last seen).
        assert!(before.user(*id).is_none_or(|then| then != now), "{id}");
    }
    // Deleted users are gone from the list and from their own URL; the list holds the rest.
    let (users, _) = walk(&format!("{api}/users/")).await;
    let listed: BTreeSet<u64> = ids(&users).into_iter().collect();
    let deleted: Vec<&u64> = old.difference(&listed).collect();
    assert_eq!(deleted.len() as u64, after.changes["contacts_deleted"]);
    assert_eq!(get(&format!("{api}/users/{}/", deleted[0])).await.0, StatusCode::NOT_FOUND);
    // The whole first state is older than the extraction.
    let (all, _) = walk(&format!("{api}/users/search/?search=updated_at&min=0&max={}", extracted_at)).await;
    assert_eq!(all.len() as u64, after.users.len() as u64 - changed.len() as u64);
}

#[tokio::test]
async fn a_page_fetched_twice_is_in_the_log() {
    let sandbox = sandbox(small());
    let api = format!("{}/api/public", sandbox.url());
    let (_, _, first) = get(&format!("{api}/users/")).await;
    let next = first["next"].as_str().unwrap().to_owned();
    get(&next).await;
    get(&next).await;
    let cursor = next.split("cursor=").nth(1).unwrap();
    assert_eq!(sandbox.served("/api/public/users/", Some(cursor)), 2);
    assert_eq!(sandbox.served("/api/public/users/", None), 1);
    assert_eq!(sandbox.served_twice(), [format!("/api/public/users/?cursor={cursor}")]);
}

#[tokio::test]
async fn users_carry_their_events_and_conversations_with_messages() {
    let sandbox = sandbox(UsercomConfig::default());
    let account = sandbox.account();
    let api = format!("{}/api/public", sandbox.url());
    let conversation = &account.conversations[0];
    let (listed, _) = walk(&format!("{api}/users/{}/conversations/", conversation.user_id)).await;
    let summary = listed.iter().find(|c| c["id"] == conversation.id).expect("the user's conversation");
    assert_eq!(summary["messages"], conversation.messages.len());
    assert_eq!(summary["user"]["id"], conversation.user_id);
    let (status, _, body) = get(&format!("{api}/conversations/{}/", conversation.id)).await;
    assert_eq!(status, StatusCode::OK);
    let messages = body["results"]["messages"].as_array().unwrap();
    assert_eq!(messages.len(), conversation.messages.len());
    assert_eq!(messages[0]["content"], conversation.messages[0].content);
    assert_eq!(messages[0]["chat"], conversation.id);
    assert!(messages[0]["timestamp"].as_str().unwrap().ends_with('Z'));

    let event = &account.events[0];
    let (events, _) = walk(&format!("{api}/users/{}/events/", event.user_id)).await;
    let served = events.iter().find(|e| e["id"] == event.id).expect("the user's event");
    assert_eq!((served["name"].as_str(), served["timestamp"].as_i64()), (Some(event.name), Some(event.timestamp)));
    assert!(served["data"].is_object());
    let expected = account.events.iter().filter(|e| e.user_id == event.user_id).count();
    assert_eq!(events.len(), expected);
}

#[tokio::test]
async fn deals_have_the_v2_shape_with_participants_and_order_products() {
    let config = UsercomConfig {
        account: AccountOptions { deal_products: true, ..AccountOptions::default() },
        ..UsercomConfig::default()
    };
    let sandbox = sandbox(config);
    let account = sandbox.account();
    let api = format!("{}/api/public", sandbox.url());
    let (deals, _) = walk(&format!("{api}/deals/")).await;
    for (served, deal) in deals.iter().zip(&account.deals) {
        assert_eq!(served["value"].as_str(), Some(deal.value.as_str()));
        assert_eq!(served["status"].as_u64(), Some(u64::from(deal.status)));
        assert_eq!(served["contract_type"].as_str(), deal.contract_type);
        assert_eq!(served["participants"], serde_json::json!(deal.participants));
        let lines = served["order_products"].as_array().unwrap();
        assert_eq!(lines.len(), deal.order_products.len());
        for (line, ordered) in lines.iter().zip(&deal.order_products) {
            assert_eq!(line["product_id"], ordered.product_id);
            assert_eq!(line["value"], ordered.value);
        }
    }
    assert!(deals.iter().any(|deal| !deal["order_products"].as_array().unwrap().is_empty()));
    let (products, _) = walk(&format!("{api}/products/")).await;
    assert_eq!(products.len(), 5);
    let (attributes, _) = walk(&format!("{api}/attributes/")).await;
    let keys: Vec<&String> = attributes[0].as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 5, "{keys:?}");
    let (segments, _) = walk(&format!("{api}/segments/")).await;
    let members = segments[0]["users"].as_str().unwrap();
    let (users, _) = walk(members).await;
    assert_eq!(users.len() as u64, segments[0]["object_count"].as_u64().unwrap());
}

#[tokio::test]
async fn the_api_counts_what_the_csv_export_of_the_same_account_counts() {
    let options = AccountOptions { hierarchy: true, deal_products: true, ..AccountOptions::default() };
    let dir = std::env::temp_dir().join(format!("usercom-sandbox-export-{}", std::process::id()));
    let planted = usercom_export_gen::generate(&dir, &options).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    let sandbox = sandbox(UsercomConfig { account: options, ..UsercomConfig::default() });
    let api = format!("{}/api/public", sandbox.url());
    for (path, object) in [
        ("users", "contacts"),
        ("companies", "companies"),
        ("deals", "deals"),
        ("activities", "activities"),
        ("tags", "tags"),
        ("segments", "segments"),
        ("attributes", "custom_attributes"),
        ("pipelines", "pipelines"),
        ("stages", "stages"),
        ("products", "products"),
    ] {
        let (status, _, body) = get(&format!("{api}/{path}/")).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(body["count"].as_u64(), Some(planted.counts[object]), "{path}");
    }
    let (companies, _) = walk(&format!("{api}/companies/")).await;
    let with_parents = companies.iter().filter(|company| !company["parent_company_id"].is_null()).count();
    assert!(with_parents > 10, "{with_parents} companies have a parent");
}

/// With files, each message's link points at the sandbox itself and the file is served there
/// without the API key, its bytes the same each time; an unknown file is 404, and the redirect
/// route moves a link elsewhere.
#[tokio::test]
async fn files_linked_in_messages_are_served_at_the_links_and_a_redirect_moves_one() {
    let config = UsercomConfig {
        account: AccountOptions { contacts: 200, attachments: Some(String::new()), ..AccountOptions::default() },
        ..UsercomConfig::default()
    };
    let sandbox = sandbox(config);
    let account = sandbox.account();
    let file = account.files.first().expect("the account links files");
    let message = account.conversations.iter().flat_map(|c| &c.messages).find(|m| m.id == file.message_id).unwrap();
    let link = format!("{}{}", sandbox.url(), file.path);
    assert!(message.content.contains(&format!("<a href=\"{link}\">{}</a>", file.name)), "{}", message.content);
    let served = client().get(&link).send().await.unwrap();
    assert_eq!(served.status(), StatusCode::OK);
    let bytes = served.bytes().await.unwrap();
    assert_eq!(bytes.len() as u64, file.size);
    assert_eq!(bytes.to_vec(), file.bytes());
    let missing = client().get(format!("{}/media/attachments/1/none.pdf", sandbox.url())).send().await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let moved =
        client().get(format!("{}/_sandbox/redirect/a.pdf?to=https://elsewhere.example/a.pdf", sandbox.url())).send();
    let moved = moved.await.unwrap();
    assert_eq!(moved.status(), StatusCode::FOUND);
    assert_eq!(moved.headers()["location"], "https://elsewhere.example/a.pdf");
}
