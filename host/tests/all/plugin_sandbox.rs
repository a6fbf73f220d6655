//! Each attack a hostile plugin makes is contained: the call fails with an error naming the
//! plugin, the hook and the batch; the batch's records go to quarantine with that reason; and
//! the host goes on with the next batch.

use std::time::{Duration, Instant};

use crm_migrate::pipeline::{self, BatchIds, Fate};
use crm_migrate::plugins::{CpuBudget, HookFailure, Limits};
use crm_migrate::record::Record;

use crate::support::{contact, contacts, host, host_with, load};

/// Batch 1 carries the attack, batch 2 is harmless. Returns the failure of batch 1.
fn attack_then_carry_on(file_stem: &str, limits: Limits, config: &[(&str, &str)]) -> HookFailure {
    let host = host_with(limits);
    let plugin = load(&host, file_stem, config);
    let mut records: Vec<Record> = vec![contact("attacker", &[("attack", "yes")])];
    records.extend(contacts("victim", 2)); // same batch as the attacker
    records.extend(contacts("later", 3)); // the next batch
    let output = pipeline::clean(&plugin, records, 3, &mut BatchIds::default());

    assert_eq!(output.failures.len(), 1, "only the attacking batch fails: {:?}", output.failures);
    let error = &output.failures[0];
    let message = error.to_string();
    assert!(
        message.contains(&plugin.name()) && message.contains("hook clean") && message.contains("batch 1"),
        "{message}"
    );
    let quarantined: Vec<&str> = output
        .fates
        .iter()
        .filter(|entry| matches!(&entry.fate, Fate::Quarantined { reason } if *reason == message))
        .map(|entry| entry.source_id.as_str())
        .collect();
    assert_eq!(quarantined, ["attacker", "victim-0", "victim-1"], "the whole batch is quarantined with the reason");
    let survivors: Vec<&str> = output.records.iter().map(|record| record.source_id.as_str()).collect();
    assert_eq!(survivors, ["later-0", "later-1", "later-2"], "the host goes on with the next batch");
    assert_eq!(output.counts().total(), 6, "every record is accounted for");
    error.failure.clone()
}

#[test]
fn plugin_that_loops_forever_is_stopped_by_its_fuel_budget_and_its_batch_quarantined() {
    let started = Instant::now();
    let failure = attack_then_carry_on("hostile_loop", Limits::default(), &[]);
    assert!(matches!(failure, HookFailure::CpuBudgetExhausted { .. }), "{failure:?}");
    assert!(started.elapsed() < Duration::from_secs(30), "stopped promptly: {:?}", started.elapsed());
}

#[test]
fn plugin_that_loops_forever_is_stopped_by_a_wall_clock_budget_too() {
    let limits = Limits {
        cpu: CpuBudget::WallClock { per_call: Duration::from_millis(200), per_record: Duration::from_millis(10) },
        ..Limits::default()
    };
    let failure = attack_then_carry_on("hostile_loop", limits, &[]);
    assert!(matches!(failure, HookFailure::CpuBudgetExhausted { .. }), "{failure:?}");
}

#[test]
fn plugin_that_allocates_without_bound_hits_the_memory_cap() {
    let limits = Limits { memory_bytes: 32 << 20, ..Limits::default() };
    let failure = attack_then_carry_on("hostile_memory", limits, &[]);
    assert!(matches!(failure, HookFailure::MemoryLimit { limit, .. } if limit == 32 << 20), "{failure:?}");
}

#[test]
fn plugin_that_overflows_its_stack_is_stopped() {
    let failure = attack_then_carry_on("hostile_stack", Limits::default(), &[]);
    assert_eq!(failure, HookFailure::StackOverflow);
}

#[test]
fn plugin_panic_is_reported_with_its_message() {
    let failure = attack_then_carry_on("hostile_panic", Limits::default(), &[]);
    match failure {
        HookFailure::Panic { message } => assert!(message.contains("hostile panic on record attacker"), "{message}"),
        other => panic!("expected a panic, got {other:?}"),
    }
}

#[test]
fn plugin_returning_oversized_output_is_refused() {
    let failure = attack_then_carry_on("hostile_output", Limits::default(), &[("bytes", "8388608")]);
    assert!(
        matches!(failure, HookFailure::OutputTooLarge { bytes, limit } if bytes >= 8 << 20 && limit < bytes),
        "{failure:?}"
    );
}

#[test]
fn plugin_returning_garbage_is_refused_for_each_hook() {
    let failure = attack_then_carry_on("hostile_garbage", Limits::default(), &[]);
    assert!(
        matches!(&failure, HookFailure::InvalidOutput { detail } if detail.contains("4 outcomes for 3 records")),
        "{failure:?}"
    );

    let host = host();
    let plugin = load(&host, "hostile_garbage", &[]);
    let mut records = [contact("a", &[("attack", "yes")]), contact("b", &[])];
    let keys = plugin.match_keys(7, &records.iter().collect::<Vec<_>>()).unwrap_err();
    assert!(
        matches!(&keys.failure, HookFailure::InvalidOutput { detail } if detail.contains("1 key lists for 2 records")),
        "{keys}"
    );
    let merge = plugin.merge(8, &records.iter().collect::<Vec<_>>(), &[vec![0, 1]]).unwrap_err();
    assert!(matches!(&merge.failure, HookFailure::InvalidOutput { detail } if detail.contains("survivor")), "{merge}");
    assert_eq!(merge.batch, 8);

    records[0] = contact("a", &[]);
    let merged = plugin.merge(9, &records.iter().collect::<Vec<_>>(), &[vec![0, 1]]).expect("harmless batch");
    assert_eq!(merged.output[0].survivor, 0);
}

#[test]
#[allow(unsafe_code)] // set_var
fn plugin_sees_no_environment_and_no_arguments_and_a_fixed_hash_seed() {
    // SAFETY: tests in this binary do not read this variable concurrently.
    unsafe { std::env::set_var("CRM_MIGRATE_TEST_SECRET", "hunter2") };
    let host = host();
    let plugin = load(&host, "hostile_environment", &[]);
    let output = pipeline::clean(&plugin, contacts("c", 2), 10, &mut BatchIds::default());
    assert!(output.failures.is_empty(), "{:?}", output.failures);
    for record in &output.records {
        assert_eq!(record.get("seen_environment").map(ToString::to_string).as_deref(), Some("\"[]\""));
        assert_eq!(record.get("seen_arguments").map(ToString::to_string).as_deref(), Some("\"[]\""));
    }
    // A re-run gives the same output, HashMap iteration order included: std seeds the hasher
    // from wasi:random/insecure-seed, which the host answers with a fixed seed.
    let other_host = crate::support::host();
    let rerun =
        pipeline::clean(&load(&other_host, "hostile_environment", &[]), contacts("c", 2), 10, &mut BatchIds::default());
    let order = |records: &[Record]| records.iter().map(|r| r.get("hash_order").cloned()).collect::<Vec<_>>();
    assert_eq!(order(&output.records), order(&rerun.records));
}

#[test]
fn a_plugin_that_ran_out_of_budget_does_not_poison_the_next_call() {
    let host = host();
    let plugin = load(&host, "hostile_loop", &[]);
    let attacker = contact("x", &[("attack", "yes")]);
    let harmless = contact("y", &[]);
    assert!(plugin.clean(1, &[&attacker]).is_err());
    let call = plugin.clean(2, &[&harmless]).expect("a fresh instance serves the next batch");
    assert_eq!(call.output.len(), 1);
}

#[test]
fn plugin_logs_reach_the_host_tagged_by_batch_and_bounded_per_call() {
    let host = host();
    let plugin = load(&host, "hostile_environment", &[]);
    let output = pipeline::clean(&plugin, contacts("c", 150), 150, &mut BatchIds::default());
    let lines: Vec<&str> = output.logs.iter().map(|(_, log)| log.message.as_str()).collect();
    assert_eq!(lines.len(), 101, "100 lines kept, then one line saying how many were dropped");
    assert_eq!(lines[0], "saw record c-0");
    assert!(lines[100].contains("50 more log lines dropped"), "{}", lines[100]);
    assert!(output.logs.iter().all(|(batch, _)| *batch == 1));
}
