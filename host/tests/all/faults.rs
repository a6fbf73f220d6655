//! With Pipedrive failing as it does in real life (5xx answers, dropped connections, writes whose
//! answer is lost), every record still arrives exactly once.

use std::collections::BTreeSet;

use crm_migrate::pipedrive::Plan;
use crm_migrate_sandbox::{Faults, SandboxConfig};

use crate::pipedrive_support::{client, create_persons, live_persons, marker_field, sandbox};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_persons_arrive_exactly_once_through_5xx_and_lost_answers() {
    let sandbox = sandbox(SandboxConfig {
        plan: Plan::Ultimate,
        // Faster than any plan, so the test takes seconds; the pacing is the same.
        burst_limit: Some(2_000),
        search_burst_limit: Some(200),
        ..SandboxConfig::default()
    });
    let client = client(&sandbox, Plan::Ultimate);
    let marker = marker_field(&client).await;
    sandbox.set_faults(Faults { seed: 7, server_error_rate: 0.05, lost_response_rate: 0.02, ..Faults::default() });

    create_persons(&client, 2_000, 8, Some(&marker)).await;

    let persons = live_persons(&sandbox.state());
    let markers: BTreeSet<String> = persons
        .iter()
        .map(|person| person["custom_fields"][&marker].as_str().expect("marker value").to_string())
        .collect();
    assert_eq!(persons.len(), 2_000, "exactly 2,000 persons");
    assert_eq!(markers.len(), 2_000, "none twice");
    let stats = sandbox.stats();
    assert!(stats.lost_responses > 10 && stats.server_errors > 50, "the faults happened: {stats:?}");
    // Lost answers to reads are simply read again; lost creates are found by their marker.
    let found = client.stats().lost_writes_found;
    assert!(
        found > 0 && found <= stats.lost_responses,
        "{found} lost creates found, {} answers lost",
        stats.lost_responses
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_connections_are_retried_for_reads() {
    let sandbox = sandbox(SandboxConfig { burst_limit: Some(1_000), ..SandboxConfig::default() });
    let client = client(&sandbox, Plan::Growth);
    create_persons(&client, 20, 1, None).await;
    sandbox.set_faults(Faults { seed: 3, dropped_connection_rate: 0.3, ..Faults::default() });
    for _ in 0..10 {
        assert_eq!(client.persons().await.expect("reads are retried").len(), 20);
    }
    assert!(client.stats().retries > 0);
}
