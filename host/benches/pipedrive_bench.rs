//! Pipedrive client benchmarks against the in-process sandbox, printed as figures
//! (run: `cargo bench -p crm-migrate --bench pipedrive_bench`; `CRM_BENCH_PERSONS` sets the count).
//!
//! 1. Load efficiency at plan growth (40 requests per 2 s): creating 5,000 persons from 16 tasks,
//!    the achieved request rate against the rate the plan allows, and the 429s the sandbox sent.
//!    Targets: >= 0.95 and zero 429s.
//! 2. Token bill: tokens the sandbox debited against the minimum for the same work (one marker
//!    field, one create per person), without faults and with 5% 5xx and 2% lost answers.
//!    Target without faults: <= 1.05.

use std::sync::Arc;
use std::time::Instant;

use crm_migrate::pipedrive::{
    ApiToken, ClientConfig, CustomValue, EntityKind, FieldType, Marker, NewField, NewPerson, PipedriveClient, Plan,
};
use crm_migrate_sandbox::{Faults, SandboxConfig, SandboxHandle};

const TOKEN: &str = "bench-token";

fn main() {
    let persons: usize = std::env::var("CRM_BENCH_PERSONS").ok().and_then(|n| n.parse().ok()).unwrap_or(5_000);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();

    let plan = Plan::Growth;
    let sandbox =
        SandboxHandle::spawn(SandboxConfig { plan, api_tokens: vec![TOKEN.into()], ..SandboxConfig::default() })
            .unwrap();
    let run = runtime.block_on(create_persons(&sandbox, plan, persons));
    let stats = sandbox.stats();
    let allowed_rate = f64::from(plan.burst_limit()) / pipedrive_api::BURST_WINDOW.as_secs_f64();
    let achieved_rate = run.requests as f64 / run.seconds;
    println!(
        "load efficiency, plan {plan} ({} requests per 2 s), {persons} persons from 16 tasks:",
        plan.burst_limit()
    );
    println!(
        "  {} requests in {:.1} s: {achieved_rate:.2} req/s of {allowed_rate:.0} allowed",
        run.requests, run.seconds
    );
    println!(
        "  efficiency {:.3} (target >= 0.95); 429s: {} (target 0)",
        achieved_rate / allowed_rate,
        stats.too_many_requests()
    );
    println!("token bill without faults:");
    print_bill(&run, stats.tokens_debited);
    drop(sandbox);

    // The same work through faults, at a burst limit high enough to finish quickly.
    let faulty = SandboxHandle::spawn(SandboxConfig {
        plan: Plan::Ultimate,
        api_tokens: vec![TOKEN.into()],
        burst_limit: Some(2_000),
        search_burst_limit: Some(200),
        faults: Faults { seed: 11, server_error_rate: 0.05, lost_response_rate: 0.02, ..Faults::default() },
        ..SandboxConfig::default()
    })
    .unwrap();
    let run = runtime.block_on(create_persons(&faulty, Plan::Ultimate, persons));
    let stats = faulty.stats();
    println!(
        "token bill with 5% 5xx and 2% lost answers ({} server errors, {} lost answers):",
        stats.server_errors, stats.lost_responses
    );
    print_bill(&run, faulty.stats().tokens_debited);
}

struct Run {
    requests: u64,
    seconds: f64,
    minimum_tokens: u64,
    client_tokens: u64,
}

fn print_bill(run: &Run, debited: u64) {
    println!(
        "  debited {debited} tokens (client's bill {}), minimum {}: ratio {:.3} (target <= 1.05 without faults)",
        run.client_tokens,
        run.minimum_tokens,
        debited as f64 / run.minimum_tokens as f64
    );
}

async fn create_persons(sandbox: &SandboxHandle, plan: Plan, count: usize) -> Run {
    let mut config = ClientConfig::new(sandbox.url(), ApiToken::new(TOKEN).unwrap(), plan);
    // The sandbox's search is immediately consistent: one look for a lost write is enough.
    config.lost_write_settle = std::time::Duration::ZERO;
    let client = Arc::new(PipedriveClient::new(config, None).unwrap());
    let started = Instant::now();
    let field = NewField { field_name: "User.com ID".into(), field_type: FieldType::Varchar, options: Vec::new() };
    let marker_field = client.create_field(EntityKind::Person, &field).await.unwrap().field_code;
    let waits = Arc::new(std::sync::Mutex::new(Vec::with_capacity(count)));
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..16 {
        let client = Arc::clone(&client);
        let waits = Arc::clone(&waits);
        let marker_field = marker_field.clone();
        tasks.spawn(async move {
            for index in (task..count).step_by(16) {
                let marker = Marker { field_code: marker_field.clone(), value: format!("uc-{index}") };
                let person = NewPerson {
                    name: format!("Person {index}"),
                    custom_fields: [(marker_field.clone(), CustomValue::Text(marker.value.clone()))].into(),
                    ..NewPerson::default()
                };
                let sent = Instant::now();
                client.create_person(&person, Some(&marker)).await.unwrap();
                waits.lock().unwrap().push(sent.elapsed());
            }
        });
    }
    while let Some(task) = tasks.join_next().await {
        task.unwrap();
    }
    let seconds = started.elapsed().as_secs_f64();
    let mut waits = waits.lock().unwrap().clone();
    waits.sort();
    println!(
        "  create_person calls, pacing included: median {:?}, 90th percentile {:?}",
        waits[waits.len() / 2],
        waits[waits.len() * 9 / 10]
    );
    let cost = |method, path| u64::from(pipedrive_api::operation(method, path).unwrap().token_cost);
    Run {
        requests: client.stats().requests,
        seconds,
        minimum_tokens: cost("POST", "/api/v2/personFields") + count as u64 * cost("POST", "/api/v2/persons"),
        client_tokens: client.bill().tokens() + client.bill().uncertain_tokens(),
    }
}
