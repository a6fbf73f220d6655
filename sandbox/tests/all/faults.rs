//! Injected faults: lost responses (applied, then the connection dies), dropped connections
//! (nothing applied), 5xx, and their determinism for a seed.

use crate::support::{Sandbox, fast_config};
use crm_migrate_sandbox::{Faults, SandboxConfig};
use serde_json::json;

#[tokio::test]
async fn a_lost_response_applies_the_write_but_the_client_sees_a_connection_error() {
    let sandbox = Sandbox::fast();
    sandbox.handle.set_faults(Faults { lost_response_rate: 1.0, ..Faults::default() });
    let error =
        sandbox.try_call("POST", "/api/v2/persons", Some(json!({"name": "Ghost"}))).await.err().expect("no response");
    assert!(!error.is_status(), "{error}");
    let state = sandbox.handle.state();
    assert_eq!(state["persons"]["1"]["name"], "Ghost");
    assert_eq!(state["token_ledger"]["used"], 5, "the create was debited");
    let stats = sandbox.handle.stats();
    assert_eq!(stats.lost_responses, 1);
    assert_eq!(stats.writes_applied, 1);

    // The server lives on.
    sandbox.handle.set_faults(Faults::default());
    assert_eq!(sandbox.ok("GET", "/api/v2/persons", None).await[0]["name"], "Ghost");
}

#[tokio::test]
async fn a_lost_response_closes_the_socket_without_writing_a_byte() {
    use std::io::{Read, Write};
    let sandbox = Sandbox::fast();
    sandbox.handle.set_faults(Faults { lost_response_rate: 1.0, ..Faults::default() });
    let address = sandbox.handle.url().trim_start_matches("http://").to_owned();
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
    let body = r#"{"name":"Raw"}"#;
    let request = format!(
        "POST /api/v2/persons HTTP/1.1\r\nhost: x\r\nx-api-token: sandbox-token\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut received = Vec::new();
    if let Err(error) = stream.read_to_end(&mut received) {
        assert_ne!(error.kind(), std::io::ErrorKind::WouldBlock, "the socket was left open");
        assert_ne!(error.kind(), std::io::ErrorKind::TimedOut, "the socket was left open");
    }
    assert!(received.is_empty(), "got {:?}", String::from_utf8_lossy(&received));
}

#[tokio::test]
async fn a_dropped_connection_creates_nothing_and_debits_nothing() {
    let sandbox = Sandbox::fast();
    sandbox.handle.set_faults(Faults { dropped_connection_rate: 1.0, ..Faults::default() });
    assert!(sandbox.try_call("POST", "/api/v2/persons", Some(json!({"name": "Nobody"}))).await.is_err());
    let state = sandbox.handle.state();
    assert_eq!(state["persons"], json!({}));
    assert_eq!(state["token_ledger"]["used"], 0);
    assert_eq!(sandbox.handle.stats().dropped_connections, 1);
}

#[tokio::test]
async fn a_server_error_applies_nothing_and_has_pipedrives_envelope() {
    let sandbox = Sandbox::fast();
    sandbox.handle.set_faults(Faults { server_error_rate: 1.0, ..Faults::default() });
    let answer = sandbox.call("POST", "/api/v2/persons", Some(json!({"name": "Nobody"}))).await;
    assert!([500, 502, 503].contains(&answer.status.as_u16()));
    assert_eq!(answer.body["success"], false);
    assert_eq!(answer.body["code"], "ERR_UNKNOWN");
    assert!(answer.header("x-ratelimit-limit").is_some());
    assert_eq!(sandbox.handle.state()["persons"], json!({}));
    assert_eq!(sandbox.handle.state()["token_ledger"]["used"], 0);
}

async fn fault_sequence(seed: u64) -> Vec<String> {
    let faults = Faults {
        seed,
        server_error_rate: 0.3,
        lost_response_rate: 0.1,
        dropped_connection_rate: 0.1,
        ..Faults::default()
    };
    let sandbox = Sandbox::start(SandboxConfig { faults, ..fast_config() });
    let mut outcomes = Vec::new();
    for _ in 0..40 {
        outcomes.push(match sandbox.try_call("GET", "/api/v2/persons", None).await {
            Ok(answer) => answer.status.as_u16().to_string(),
            Err(_) => "no response".to_owned(),
        });
    }
    outcomes
}

#[tokio::test]
async fn faults_are_deterministic_for_a_seed() {
    let first = fault_sequence(42).await;
    assert_eq!(first, fault_sequence(42).await);
    assert_ne!(first, fault_sequence(43).await);
    assert!(first.iter().any(|outcome| outcome == "200"));
    assert!(first.iter().any(|outcome| outcome.starts_with('5')));
    assert!(first.iter().any(|outcome| outcome == "no response"));
}

#[tokio::test]
async fn a_slow_response_still_arrives() {
    let sandbox = Sandbox::fast();
    sandbox.handle.set_faults(Faults {
        slow_rate: 1.0,
        slow_by: std::time::Duration::from_millis(150),
        ..Faults::default()
    });
    let started = std::time::Instant::now();
    assert_eq!(sandbox.call("GET", "/api/v2/persons", None).await.status, 200);
    assert!(started.elapsed() >= std::time::Duration::from_millis(150));
    assert_eq!(sandbox.handle.stats().slow_responses, 1);
}
