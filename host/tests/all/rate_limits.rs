//! The client keeps to Pipedrive's rate limits at every plan: no 429 in steady state, a burst of
//! 429s recovered without losing or repeating a write, and the daily token budget waited out or
//! stopped at, as configured.

use std::time::Duration;

use crm_migrate::pipedrive::{BudgetPolicy, ClientError, NewPerson, PipedriveClient, Plan};
use crm_migrate_sandbox::SandboxConfig;

use crate::pipedrive_support::{client, client_config, create_persons, live_persons, sandbox};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::await_holding_lock)] // the guard only keeps other timing-sensitive tests out while this one runs
async fn steady_load_at_every_plan_sees_no_429() {
    let _machine = crate::support::timing_sensitive();
    let mut runs = tokio::task::JoinSet::new();
    for plan in Plan::ALL {
        runs.spawn(async move {
            let sandbox = sandbox(SandboxConfig { plan, ..SandboxConfig::default() });
            let client = client(&sandbox, plan);
            // Two and a half windows' worth, from more tasks than a window needs.
            let count = plan.burst_limit() as usize * 5 / 2;
            create_persons(&client, count, 16, None).await;
            let stats = sandbox.stats();
            assert_eq!(stats.too_many_requests(), 0, "{plan}: the sandbox answered 429");
            assert_eq!(client.stats().throttled, 0, "{plan}");
            assert_eq!(live_persons(&sandbox.state()).len(), count, "{plan}");
            assert_eq!(client.burst_limit(), plan.burst_limit(), "{plan}: the limit the headers reported");
        });
    }
    while let Some(run) = runs.join_next().await {
        run.expect("plan run passes");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::await_holding_lock)] // the guard only keeps other timing-sensitive tests out while this one runs
async fn the_client_learns_the_accounts_limit_from_the_first_answer() {
    let _machine = crate::support::timing_sensitive();
    // The account allows 10 requests per 2 s; the client was told it is on Premium (100).
    let sandbox = sandbox(SandboxConfig { plan: Plan::Premium, burst_limit: Some(10), ..SandboxConfig::default() });
    let client = client(&sandbox, Plan::Premium);
    create_persons(&client, 30, 20, None).await;
    assert_eq!(client.burst_limit(), 10);
    assert_eq!(sandbox.stats().too_many_requests(), 0, "no window was overshot");
    assert_eq!(live_persons(&sandbox.state()).len(), 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::await_holding_lock)] // the guard only keeps other timing-sensitive tests out while this one runs
async fn a_burst_of_429s_is_recovered_without_losing_or_repeating_a_write() {
    // Someone else's integration uses the same token in bursts, so the client's requests meet
    // full windows it did not fill and get 429s.
    let sandbox = sandbox(SandboxConfig { plan: Plan::Lite, ..SandboxConfig::default() });
    let client = client(&sandbox, Plan::Lite);
    // Built after the client, which installed the process's TLS crypto provider.
    let neighbour = crate::pipedrive_support::http_client();
    let url = format!("{}/api/v1/users/me", sandbox.url());
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // The neighbour sends bursts of 8 and, being well-behaved, waits out a 429's retry-after.
    let noise = {
        let stop = stop.clone();
        tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                for _ in 0..8 {
                    let answer = neighbour
                        .get(&url)
                        .header("x-api-token", crate::pipedrive_support::TOKEN)
                        .send()
                        .await
                        .unwrap();
                    if answer.status() == 429 {
                        let retry_after: u64 = answer.headers()["retry-after"].to_str().unwrap().parse().unwrap();
                        tokio::time::sleep(std::time::Duration::from_secs(retry_after)).await;
                        break;
                    }
                }
                tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
            }
        })
    };
    create_persons(&client, 40, 8, None).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    noise.await.unwrap();

    assert!(client.stats().throttled > 0, "the test must provoke 429s");
    let mut names: Vec<String> =
        live_persons(&sandbox.state()).iter().map(|person| person["name"].as_str().unwrap().to_string()).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 40, "every person exactly once");
    assert_eq!(live_persons(&sandbox.state()).len(), 40);
    assert_eq!(sandbox.stats().blocked_403s, 0, "429s were honoured, so the token was never blocked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::await_holding_lock)] // the guard only keeps other timing-sensitive tests out while this one runs
async fn an_exhausted_daily_budget_stops_cleanly_and_the_run_resumes_after_the_reset() {
    // 100 tokens: twenty person creates at 5 tokens each.
    let sandbox =
        sandbox(SandboxConfig { plan: Plan::Lite, daily_token_budget: Some(100), ..SandboxConfig::default() });
    let mut config = client_config(&sandbox, Plan::Lite);
    config.on_budget_exhausted = BudgetPolicy::Stop;
    let client = PipedriveClient::new(config, None).unwrap();

    let mut created = 0;
    let resets_in = loop {
        let person = NewPerson { name: format!("Person {created}"), ..NewPerson::default() };
        match client.create_person(&person, None).await {
            Ok(_) => created += 1,
            Err(ClientError::BudgetExhausted { resets_in }) => break resets_in,
            Err(other) => panic!("{other}"),
        }
    };
    assert_eq!(created, 20);
    assert!(resets_in > Duration::ZERO && resets_in <= Duration::from_secs(86_400), "{resets_in:?}");
    assert_eq!(client.bill().tokens(), 100);

    sandbox.advance_clock(resets_in + Duration::from_secs(1));
    for index in created..30 {
        client
            .create_person(&NewPerson { name: format!("Person {index}"), ..NewPerson::default() }, None)
            .await
            .expect("budget was reset");
    }
    assert_eq!(live_persons(&sandbox.state()).len(), 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::await_holding_lock)] // the guard only keeps other timing-sensitive tests out while this one runs
async fn the_client_waits_for_the_daily_reset_when_told_to() {
    let sandbox = sandbox(SandboxConfig { plan: Plan::Lite, daily_token_budget: Some(50), ..SandboxConfig::default() });
    // Put the sandbox's clock three seconds before its midnight (UTC), so the wait is short.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    sandbox.advance_clock(Duration::from_secs(86_400 - now % 86_400 - 3));
    let client = client(&sandbox, Plan::Lite);

    create_persons(&client, 15, 1, None).await;

    assert_eq!(live_persons(&sandbox.state()).len(), 15);
    assert_eq!(client.stats().budget_waits, 1, "one wait for the reset");
    assert_eq!(client.bill().tokens(), 75);
}
