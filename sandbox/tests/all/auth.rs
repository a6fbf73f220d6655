//! Auth three ways, 401 otherwise, and the path prefixes Pipedrive serves.

use crate::support::{Sandbox, TOKEN};
use serde_json::json;

#[tokio::test]
async fn token_is_accepted_in_header_query_and_bearer_and_refused_otherwise() {
    let sandbox = Sandbox::fast();
    let client = &sandbox.client;
    let url = sandbox.url("/api/v2/persons");
    let header = client.get(&url).header("x-api-token", TOKEN).send().await.unwrap();
    assert_eq!(header.status(), 200);
    let query = client.get(&url).query(&[("api_token", TOKEN)]).send().await.unwrap();
    assert_eq!(query.status(), 200);
    let bearer = client.get(&url).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(bearer.status(), 200);

    for request in
        [client.get(&url), client.get(&url).header("x-api-token", "wrong"), client.get(&url).bearer_auth("wrong")]
    {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401);
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body, json!({"success": false, "error": "unauthorized access", "errorCode": 401}));
    }
    assert_eq!(sandbox.handle.stats().unauthorized, 3);
}

#[tokio::test]
async fn v1_is_served_under_both_prefixes_and_v2_only_under_api() {
    let sandbox = Sandbox::fast();
    assert_eq!(sandbox.ok("GET", "/v1/users/me", None).await["id"], 1);
    assert_eq!(sandbox.ok("GET", "/api/v1/users/me", None).await["is_you"], true);
    assert_eq!(sandbox.call("GET", "/v2/persons", None).await.status, 404);
    let unknown = sandbox.call("GET", "/api/v2/products/search?term=pencil", None).await;
    assert_eq!(unknown.status, 404, "not simulated");
    assert_eq!(
        sandbox.handle.state()["token_ledger"]["used"],
        4,
        "only the two users/me calls were debited (2 tokens each)"
    );
}
