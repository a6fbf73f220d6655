//! Burst windows, the daily token budget and its reset, and the 403 block after ignored 429s.

use crate::support::{Sandbox, fast_config};
use crm_migrate_sandbox::{Plan, SandboxConfig};
use std::time::Duration;

#[tokio::test]
async fn forty_one_quick_requests_at_growth_get_exactly_one_429() {
    let sandbox = Sandbox::start(SandboxConfig { account_seed: Some(1), ..SandboxConfig::default() });
    let mut answers = Vec::new();
    for _ in 0..41 {
        answers.push(sandbox.call("GET", "/api/v2/persons/1", None).await);
    }
    let first = &answers[0];
    assert_eq!(first.status, 404, "no such person, but handled and debited");
    assert_eq!(first.header("x-ratelimit-limit").as_deref(), Some("40"));
    assert_eq!(first.header("x-ratelimit-remaining").as_deref(), Some("39"));
    assert_eq!(first.header("x-ratelimit-reset").as_deref(), Some("2"));
    assert_eq!(first.header("x-daily-ratelimit-token-limit").as_deref(), Some("60000"));
    assert_eq!(first.header("x-daily-ratelimit-token-remaining").as_deref(), Some("59999"));
    assert_eq!(answers[39].header("x-ratelimit-remaining").as_deref(), Some("0"));
    let limited: Vec<_> = answers.iter().filter(|answer| answer.status == 429).collect();
    assert_eq!(limited.len(), 1, "exactly one 429");
    let last = &answers[40];
    assert_eq!(last.status, 429);
    assert_eq!(last.body, serde_json::json!({"success": false, "error": "Too many requests", "errorCode": 429}));
    let retry_after: u64 = last.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry_after));
    assert_eq!(last.header("x-ratelimit-reset"), last.header("retry-after"));
    assert_eq!(last.header("x-ratelimit-remaining").as_deref(), Some("0"));
    assert_eq!(last.header("x-daily-ratelimit-token-remaining").as_deref(), Some("59960"), "the 429 debited nothing");
    assert_eq!(sandbox.handle.stats().burst_429s, 1);

    // The window rolls: after it, requests are admitted again.
    sandbox.handle.advance_clock(Duration::from_millis(2_001));
    let after = sandbox.call("GET", "/api/v2/persons/1", None).await;
    assert_eq!(after.status, 404);
    assert_eq!(after.header("x-ratelimit-remaining").as_deref(), Some("39"));
}

#[tokio::test]
async fn search_has_its_own_window_of_ten() {
    let sandbox =
        Sandbox::start(SandboxConfig { burst_limit: Some(1000), account_seed: Some(1), ..SandboxConfig::default() });
    let mut statuses = Vec::new();
    for _ in 0..11 {
        statuses.push(sandbox.call("GET", "/api/v2/persons/search?term=ab", None).await.status.as_u16());
    }
    assert_eq!(statuses.iter().filter(|status| **status == 429).count(), 1);
    assert_eq!(statuses[10], 429);
    let other = sandbox.call("GET", "/api/v2/persons", None).await;
    assert_eq!(other.status, 200, "the general window is separate");
    assert_eq!(other.header("x-ratelimit-limit").as_deref(), Some("1000"));
}

#[tokio::test]
async fn daily_budget_runs_out_and_resets_at_midnight() {
    let sandbox = Sandbox::start(SandboxConfig { daily_token_budget: Some(25), ..fast_config() });
    assert_eq!(sandbox.call("GET", "/api/v2/persons", None).await.status, 200);
    assert_eq!(sandbox.call("GET", "/api/v2/persons", None).await.status, 200);
    let exhausted = sandbox.call("GET", "/api/v2/persons", None).await;
    assert_eq!(exhausted.status, 429);
    assert_eq!(
        exhausted.body,
        serde_json::json!({"success": false, "error": "daily request budget exceeded", "errorCode": 429})
    );
    assert_eq!(exhausted.header("x-daily-ratelimit-token-remaining").as_deref(), Some("5"));
    let retry_after: u64 = exhausted.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=86_400).contains(&retry_after));
    assert_eq!(sandbox.call("GET", "/api/v2/persons/1", None).await.status, 404, "a cheaper call still fits");

    sandbox.handle.advance_clock(Duration::from_secs(retry_after));
    let next_day = sandbox.call("GET", "/api/v2/persons", None).await;
    assert_eq!(next_day.status, 200);
    assert_eq!(next_day.header("x-daily-ratelimit-token-remaining").as_deref(), Some("15"));
    assert_eq!(sandbox.handle.stats().budget_429s, 1);
}

#[tokio::test]
async fn ignored_429s_lead_to_a_403_html_block() {
    let config = SandboxConfig {
        burst_limit: Some(2),
        block_after_ignored_429s: 3,
        block_duration: Duration::from_secs(30),
        account_seed: Some(1),
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config);
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(sandbox.call("GET", "/api/v2/persons", None).await.status.as_u16());
    }
    assert_eq!(statuses, vec![200, 200, 429, 429, 429, 403]);
    let blocked = sandbox.call("GET", "/api/v2/persons", None).await;
    assert_eq!(blocked.status, 403);
    assert!(blocked.header("content-type").unwrap().starts_with("text/html"));
    assert!(blocked.body.as_str().unwrap().contains("Error"));
    assert!(blocked.body.as_str().unwrap().contains("1015"));
    assert_eq!(sandbox.handle.stats().blocks_started, 1);
    sandbox.handle.advance_clock(Duration::from_secs(31));
    assert_eq!(sandbox.call("GET", "/api/v2/persons", None).await.status, 200);
}

#[tokio::test]
async fn an_admitted_request_resets_the_count_of_ignored_429s() {
    let config = SandboxConfig {
        burst_limit: Some(1),
        block_after_ignored_429s: 2,
        plan: Plan::Lite,
        account_seed: Some(1),
        ..SandboxConfig::default()
    };
    let sandbox = Sandbox::start(config);
    assert_eq!(sandbox.call("GET", "/api/v2/persons", None).await.status, 200);
    assert_eq!(sandbox.call("GET", "/api/v2/persons", None).await.status, 429);
    sandbox.handle.advance_clock(Duration::from_millis(2_100));
    assert_eq!(sandbox.call("GET", "/api/v2/persons", None).await.status, 200);
    assert_eq!(sandbox.call("GET", "/api/v2/persons", None).await.status, 429);
    sandbox.handle.advance_clock(Duration::from_millis(2_100));
    assert_eq!(sandbox.call("GET", "/api/v2/persons", None).await.status, 200, "never two 429s in a row: no block");
}
