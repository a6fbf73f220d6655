//! API v1: notes, users, activity types, files (multipart) and the v1 fields endpoints.

use crate::support::{Sandbox, TOKEN};
use serde_json::{Value, json};

#[tokio::test]
async fn notes_keep_their_add_time_and_paginate_with_start_and_limit() {
    let sandbox = Sandbox::fast();
    let person = sandbox.ok("POST", "/api/v2/persons", Some(json!({"name": "Noted"}))).await;
    let note = sandbox
        .ok(
            "POST",
            "/v1/notes",
            Some(json!({"content": "<p>Hello</p>", "person_id": person["id"], "add_time": "2018-06-01 09:15:00"})),
        )
        .await;
    assert_eq!(note["add_time"], "2018-06-01 09:15:00");
    assert_eq!(note["person"]["name"], "Noted");
    assert_eq!(note["active_flag"], true);
    for index in 0..4 {
        sandbox
            .ok("POST", "/api/v1/notes", Some(json!({"content": format!("n{index}"), "person_id": person["id"]})))
            .await;
    }
    let page = sandbox.call("GET", "/v1/notes?start=0&limit=2", None).await;
    assert_eq!(page.body["data"].as_array().unwrap().len(), 2);
    assert_eq!(
        page.body["additional_data"]["pagination"],
        json!({"start": 0, "limit": 2, "more_items_in_collection": true, "next_start": 2})
    );
    let last = sandbox.call("GET", "/v1/notes?start=4&limit=2", None).await;
    assert_eq!(last.body["additional_data"]["pagination"]["more_items_in_collection"], false);

    let id = note["id"].as_u64().unwrap();
    assert_eq!(
        sandbox.ok("PUT", &format!("/v1/notes/{id}"), Some(json!({"content": "edited"}))).await["content"],
        "edited"
    );
    assert_eq!(sandbox.ok("DELETE", &format!("/v1/notes/{id}"), None).await, json!(true));
    assert_eq!(sandbox.call("GET", &format!("/v1/notes/{id}"), None).await.status, 404);
    assert_eq!(sandbox.call("POST", "/v1/notes", Some(json!({"content": "orphan"}))).await.status, 400);
    assert_eq!(sandbox.call("POST", "/v1/notes", Some(json!({"content": "x", "person_id": 999}))).await.status, 400);
}

#[tokio::test]
async fn users_and_activity_types_are_seeded() {
    let sandbox = Sandbox::fast();
    let users = sandbox.ok("GET", "/v1/users", None).await;
    assert_eq!(users[0]["id"], 1);
    assert_eq!(users[0]["access"][0]["admin"], true);
    let me = sandbox.ok("GET", "/v1/users/me", None).await;
    assert!(me["company_domain"].is_string());
    let types = sandbox.ok("GET", "/v1/activityTypes", None).await;
    let keys: Vec<&str> = types.as_array().unwrap().iter().map(|kind| kind["key_string"].as_str().unwrap()).collect();
    assert_eq!(keys, ["call", "meeting", "task", "deadline", "email", "lunch"]);
    let video = sandbox
        .ok("POST", "/v1/activityTypes", Some(json!({"name": "Video call", "icon_key": "camera", "color": "aeb31b"})))
        .await;
    assert_eq!(video["key_string"], "video_call");
    assert_eq!(video["is_custom_flag"], true);
    let id = video["id"].as_u64().unwrap();
    assert_eq!(
        sandbox.ok("PUT", &format!("/v1/activityTypes/{id}"), Some(json!({"name": "Video"}))).await["key_string"],
        "video_call"
    );
    let activity = sandbox.ok("POST", "/api/v2/activities", Some(json!({"type": "video_call"}))).await;
    assert_eq!(activity["subject"], "Video");
    assert_eq!(sandbox.ok("DELETE", &format!("/v1/activityTypes/{id}"), None).await["active_flag"], false);
    assert_eq!(sandbox.call("POST", "/api/v2/activities", Some(json!({"type": "video_call"}))).await.status, 400);
}

#[tokio::test]
async fn files_upload_as_multipart_and_list_with_at_most_100() {
    let sandbox = Sandbox::fast();
    let deal = sandbox.ok("POST", "/api/v2/deals", Some(json!({"title": "With file"}))).await;
    let form = reqwest::multipart::Form::new().text("deal_id", deal["id"].to_string()).part(
        "file",
        reqwest::multipart::Part::bytes(vec![7u8; 1234]).file_name("contract.pdf").mime_str("application/pdf").unwrap(),
    );
    let response = sandbox
        .client
        .post(sandbox.url("/v1/files"))
        .header("x-api-token", TOKEN)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let file = &body["data"];
    assert_eq!(file["file_name"], "contract.pdf");
    assert_eq!(file["file_size"], 1234);
    assert_eq!(file["deal_id"], deal["id"]);
    assert_eq!(file["deal_name"], "With file");
    let id = file["id"].as_u64().unwrap();
    assert_eq!(sandbox.ok("GET", &format!("/v1/files/{id}"), None).await["id"], id);
    assert_eq!(sandbox.ok("GET", "/v1/files", None).await.as_array().unwrap().len(), 1);
    assert_eq!(sandbox.call("GET", "/v1/files?limit=101", None).await.status, 400);
    let unattached =
        reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(b"x".to_vec()).file_name("x.txt"));
    let response = sandbox
        .client
        .post(sandbox.url("/v1/files"))
        .header("x-api-token", TOKEN)
        .multipart(unattached)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(sandbox.ok("DELETE", &format!("/v1/files/{id}"), None).await, json!({"id": id}));
    assert_eq!(sandbox.ok("GET", "/v1/files", None).await, json!([]));
}

#[tokio::test]
async fn v1_fields_put_replaces_the_whole_option_set() {
    let sandbox = Sandbox::fast();
    let field = sandbox
        .ok(
            "POST",
            "/v1/organizationFields",
            Some(
                json!({"name": "Segment", "field_type": "set", "options": [{"label": "SMB"}, {"label": "Enterprise"}]}),
            ),
        )
        .await;
    assert_eq!(field["edit_flag"], true);
    assert_eq!(field["key"].as_str().unwrap().len(), 40);
    let id = field["id"].as_u64().unwrap();
    let smb = field["options"][0]["id"].clone();
    let updated = sandbox
        .ok(
            "PUT",
            &format!("/v1/organizationFields/{id}"),
            Some(json!({"options": [{"id": smb, "label": "Small"}, {"label": "Public"}]})),
        )
        .await;
    let labels: Vec<&str> =
        updated["options"].as_array().unwrap().iter().map(|option| option["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["Small", "Public"], "Enterprise was not supplied, so it is gone");
    assert_eq!(updated["options"][0]["id"], smb);
    let v2 = sandbox.ok("GET", &format!("/api/v2/organizationFields/{}", field["key"].as_str().unwrap()), None).await;
    assert_eq!(v2["options"].as_array().unwrap().len(), 2);
    let list = sandbox.call("GET", "/v1/organizationFields?limit=500", None).await;
    assert!(list.body["data"].as_array().unwrap().iter().any(|listed| listed["id"] == id));
    assert_eq!(list.body["additional_data"]["pagination"]["more_items_in_collection"], false);
    assert_eq!(sandbox.ok("DELETE", &format!("/v1/organizationFields/{id}"), None).await, json!({"id": id}));
    assert_eq!(sandbox.call("GET", &format!("/v1/organizationFields/{id}"), None).await.status, 404);
    let activity_fields = sandbox.ok("GET", "/v1/activityFields", None).await;
    assert!(!activity_fields.as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_file_over_the_upload_bound_is_refused_413_and_a_deleted_one_reads_404() {
    let sandbox = Sandbox::fast();
    let person = sandbox.ok("POST", "/api/v2/persons", Some(json!({"name": "With files"}))).await;
    let upload = |size: u64| {
        let form = reqwest::multipart::Form::new()
            .text("person_id", person["id"].to_string())
            .part("file", reqwest::multipart::Part::bytes(vec![1u8; size as usize]).file_name("scan.png"));
        sandbox.client.post(sandbox.url("/v1/files")).header("x-api-token", TOKEN).multipart(form).send()
    };
    let bound = pipedrive_api::limits::FILE_MAX_BYTES;
    let refused = upload(bound + 1).await.unwrap();
    assert_eq!(refused.status(), 413);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["success"], false);
    assert!(body["error"].as_str().unwrap().contains(&bound.to_string()), "{body}");
    assert_eq!(sandbox.ok("GET", "/v1/files", None).await, json!([]), "nothing kept");
    let kept: Value = upload(bound).await.unwrap().json().await.unwrap();
    let id = kept["data"]["id"].as_u64().unwrap();
    assert_eq!(kept["data"]["person_id"], person["id"]);
    assert_eq!(kept["data"]["file_size"], bound);
    sandbox.ok("DELETE", &format!("/v1/files/{id}"), None).await;
    assert_eq!(sandbox.call("GET", &format!("/v1/files/{id}"), None).await.status, 404);
}
