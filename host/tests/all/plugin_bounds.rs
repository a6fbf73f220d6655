//! The host work a plugin can cause is bounded, not only its guest work: error strings, empty
//! strings and other output elements count in the output limit, applying changes is linear,
//! `host.log` costs fuel and is capped, a wall-clock deadline backs fuel up, a whole-run budget
//! stops a plugin that burns its budget on every batch, and a failed batch's fuel is counted.
//! Each bound is asserted by what the host charges or counts, or by a resource limit set on a
//! child process, never by wall-clock time.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::Duration;

use crm_migrate::pipeline::{self, BatchIds, Fate, StageOutput};
use crm_migrate::plugins::{
    CpuBudget, HookError, HookFailure, LOG_BYTE_FUEL, LOG_CALL_FUEL, Limits, LoadError, MAX_LOG_CALLS_PER_CALL,
    MAX_LOG_CALLS_PER_RECORD, MAX_NEW_FIELDS_PER_CALL, MAX_REASON_BYTES, OUTPUT_ELEMENT_BYTES, RunBudget,
};
use crm_migrate::record::Record;

use crate::support::{contact, contacts, host, host_with, load, plugin};

/// An attacker and `size - 1` harmless records in batch 1, then 2 harmless records in batch 2.
fn attack_batch(size: usize) -> Vec<Record> {
    let mut records = vec![contact("attacker", &[("attack", "yes")])];
    records.extend(contacts("victim", size - 1));
    records.extend(contacts("later", 2));
    records
}

/// Runs `clean` over [`attack_batch`] and checks what every attack must give: batch 1 fails
/// with a reason naming plugin, hook and batch, all its records are quarantined with that
/// (short) reason, and batch 2 runs.
fn clean_under_attack(
    file_stem: &str,
    limits: Limits,
    config: &[(&str, &str)],
    size: usize,
) -> (StageOutput, HookError) {
    let host = host_with(limits);
    let plugin = load(&host, file_stem, config);
    let output = pipeline::clean(&plugin, attack_batch(size), size, &mut BatchIds::default());
    assert_eq!(output.failures.len(), 1, "only the attacking batch fails: {:?}", output.failures);
    let error = output.failures[0].clone();
    let message = error.to_string();
    assert!(
        message.contains(&plugin.name()) && message.contains("hook clean") && message.contains("batch 1"),
        "{message}"
    );
    let quarantined =
        output.fates.iter().filter(|entry| matches!(&entry.fate, Fate::Quarantined { reason } if *reason == message));
    assert_eq!(quarantined.count(), size, "the whole batch is quarantined with the reason");
    assert!(message.len() <= 2 * MAX_REASON_BYTES, "the reason is short: {} bytes", message.len());
    let survivors: Vec<&str> = output.records.iter().map(|record| record.source_id.as_str()).collect();
    assert_eq!(survivors, ["later-0", "later-1"], "the host goes on with the next batch");
    assert_eq!(output.counts().total(), size + 2);
    (output, error)
}

/// What a child process used, as the kernel counted it.
#[derive(Debug)]
struct ChildUsage {
    exit_code: Option<i32>,
    output: String,
    /// Peak resident set, in bytes.
    max_rss: u64,
    /// User plus system CPU time.
    cpu: Duration,
}

/// `crm-migrate plugin run --hook clean` over [`attack_batch`] written as CSV, in a child
/// process under the given resource limits (setrlimit before exec), reaped with wait4 for its
/// own resource usage (not that of other tests' children).
#[allow(unsafe_code)] // setrlimit in the child, wait4
fn plugin_run_limited(
    file_stem: &str,
    config: &[&str],
    size: usize,
    limits: &[(libc::__rlimit_resource_t, u64)],
) -> ChildUsage {
    let dir = tempfile::tempdir().unwrap();
    let (stdout, stderr) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let input = dir.path().join("records.csv");
    write_records_csv(&input, &attack_batch(size));
    let mut command = crate::support::crm_migrate();
    command.args(["plugin", "run", "--no-cache", "--hook", "clean", "--batch-size", &size.to_string(), "--input"]);
    command.arg(&input).arg(plugin(file_stem));
    for pair in config {
        command.args(["--config", pair]);
    }
    let limits = limits.to_vec();
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        command.pre_exec(move || {
            for &(resource, bytes) in &limits {
                let limit = libc::rlimit { rlim_cur: bytes, rlim_max: bytes };
                if libc::setrlimit(resource, &limit) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    command.stdout(std::fs::File::create(&stdout).unwrap()).stderr(std::fs::File::create(&stderr).unwrap());
    // Reaped by wait4 below, which also gives its own resource usage.
    #[allow(clippy::zombie_processes)]
    let child = command.spawn().expect("the binary runs");
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let (mut status, mut usage) = (0, unsafe { std::mem::zeroed::<libc::rusage>() });
    // SAFETY: the child is ours and not yet reaped; status and usage are valid out-parameters.
    let reaped = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(reaped, child.id() as libc::pid_t, "{}", std::io::Error::last_os_error());
    let time = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    ChildUsage {
        exit_code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        output: std::fs::read_to_string(&stdout).unwrap() + &std::fs::read_to_string(&stderr).unwrap(),
        max_rss: usage.ru_maxrss as u64 * 1024,
        cpu: time(usage.ru_utime) + time(usage.ru_stime),
    }
}

fn write_records_csv(path: &Path, records: &[Record]) {
    let mut text = String::from("id,attack,email\n");
    for record in records {
        let field =
            |name| record.get(name).map(|value| value.to_string().trim_matches('"').to_owned()).unwrap_or_default();
        text.push_str(&format!("{},{},{}\n", record.source_id, field("attack"), field("email")));
    }
    std::fs::write(path, text).unwrap();
}

/// What a 1,000-record batch may make the host hold, as the issue sets it.
const BATCH_MEMORY: u64 = 512 << 20;

#[test]
fn a_20_mb_error_string_is_over_the_output_limit_and_quarantines_its_batch() {
    let (_, error) = clean_under_attack("hostile_error", Limits::default(), &[("bytes", "20000000")], 1000);
    let limit = Limits::default().output_limit(1000);
    assert_eq!(
        error.failure,
        HookFailure::OutputTooLarge { bytes: 20_000_000, limit },
        "the error string counts in the output limit"
    );
}

#[test]
fn an_error_string_within_the_limit_is_cut_once_not_copied_whole_into_every_record() {
    let (output, error) = clean_under_attack("hostile_error", Limits::default(), &[("bytes", "1000000")], 100);
    match &error.failure {
        HookFailure::PluginError { message } => {
            assert!(
                message.len() <= MAX_REASON_BYTES + 64 && message.contains("1000000 bytes in all"),
                "{} bytes",
                message.len()
            )
        }
        other => panic!("{other:?}"),
    }
    let reasons: Vec<&str> = output
        .fates
        .iter()
        .filter_map(|entry| match &entry.fate {
            Fate::Quarantined { reason } => Some(&**reason),
            _ => None,
        })
        .collect();
    assert_eq!(reasons.len(), 100);
    assert!(
        reasons.iter().all(|reason| reason.as_ptr() == reasons[0].as_ptr()),
        "the records share one copy of the reason"
    );
}

#[test]
fn a_20_mb_error_on_a_1000_record_batch_keeps_the_host_under_512_mb() {
    let _machine = crate::support::heavy();
    // RLIMIT_AS and RLIMIT_DATA would count the address space wasmtime's pooling allocator
    // reserves up front (several GiB, never touched): the kernel's peak RSS is the measure.
    let usage = plugin_run_limited("hostile_error", &["bytes=20000000"], 1000, &[]);
    assert_eq!(usage.exit_code, Some(3), "batches failed, host alive: {usage:?}");
    assert!(
        usage.output.contains("quarantined 1000") && usage.output.contains("over the limit of"),
        "{}",
        usage.output
    );
    assert!(usage.max_rss < BATCH_MEMORY, "peak RSS {} MiB", usage.max_rss >> 20);
    eprintln!("20 MB error on 1,000 records: peak RSS {} MiB, CPU {:?}", usage.max_rss >> 20, usage.cpu);
}

#[test]
fn configuration_errors_count_in_the_output_limit_and_are_cut() {
    let host = host();
    let open = || host.open(&plugin("hostile_error"), None).expect("loads");
    let huge = open().configure(vec![("config_error_bytes".into(), "2000000".into())]).err().expect("refused");
    assert!(
        matches!(&huge, LoadError::Trapped { failure: HookFailure::OutputTooLarge { bytes: 4_000_000, .. }, .. }),
        "{huge}"
    );
    let large = open().configure(vec![("config_error_bytes".into(), "100000".into())]).err().expect("refused");
    match &large {
        LoadError::Config { key, message, .. } => {
            assert!(key.len() + message.len() <= 2 * MAX_REASON_BYTES + 128, "{large}")
        }
        other => panic!("{other}"),
    }
}

#[test]
fn eighty_thousand_changes_for_one_record_are_all_applied_and_counted() {
    let host = host();
    let plugin = load(&host, "hostile_changes", &[("fields", "200")]);
    let output = pipeline::clean(&plugin, attack_batch(1000), 1000, &mut BatchIds::default());
    assert!(output.failures.is_empty(), "{:?}", output.failures);
    let attacker = output.records.iter().find(|record| record.source_id == "attacker").unwrap();
    assert_eq!(attacker.fields.len(), 1 + 200, "200 new fields, each changed 400 times");
    let changes = output.fates.iter().find_map(|entry| match &entry.fate {
        Fate::Kept { changes } if entry.source_id == "attacker" => Some(changes.len()),
        _ => None,
    });
    assert_eq!(changes, Some(80_000), "each change is listed");
    assert_eq!(output.counts().changed, 1);
}

/// An attack of our own: new fields on one record widen the next stage's batch, a dense table
/// of records x all their fields (80,000 new fields on one record: 80 million cells).
#[test]
fn changes_adding_more_new_fields_than_the_cap_quarantine_their_batch() {
    let (_, error) = clean_under_attack("hostile_changes", Limits::default(), &[("changes", "257")], 3);
    match &error.failure {
        HookFailure::InvalidOutput { detail } => {
            assert!(detail.contains(&format!("more than {MAX_NEW_FIELDS_PER_CALL} fields")), "{detail}")
        }
        other => panic!("{other:?}"),
    }
    let host = host();
    let plugin = load(&host, "hostile_changes", &[("changes", "256")]);
    let output = pipeline::clean(&plugin, attack_batch(3), 3, &mut BatchIds::default());
    assert!(output.failures.is_empty(), "256 new fields are within the cap: {:?}", output.failures);
}

#[test]
fn eighty_thousand_new_fields_for_one_record_stay_within_a_cpu_and_memory_bound() {
    let _machine = crate::support::heavy();
    // Applying them one scan each took 20-32 s of CPU for this batch in a debug build (killed
    // here by SIGXCPU); now they are refused, and applying is linear besides.
    let usage = plugin_run_limited("hostile_changes", &[], 1000, &[(libc::RLIMIT_CPU, 15)]);
    assert_eq!(
        usage.exit_code,
        Some(3),
        "within 15 s of CPU (SIGXCPU otherwise), the batch failed: {:.2000}",
        usage.output
    );
    assert!(
        usage.output.contains("quarantined 1000") && usage.output.contains("fields that no record of the batch has"),
        "{:.2000}",
        usage.output
    );
    assert!(usage.max_rss < BATCH_MEMORY, "peak RSS {} MiB", usage.max_rss >> 20);
    eprintln!("80,000 new fields on 1,000 records: peak RSS {} MiB, CPU {:?}", usage.max_rss >> 20, usage.cpu);
}

#[test]
fn choices_made_of_empty_strings_cost_an_element_each() {
    let (_, error) = clean_under_attack("hostile_empty_strings", Limits::default(), &[("strings", "100000")], 3);
    let limit = Limits::default().output_limit(3);
    match error.failure {
        HookFailure::OutputTooLarge { bytes, limit: refused_at } => {
            assert_eq!(refused_at, limit);
            assert!(bytes >= 100_000 * OUTPUT_ELEMENT_BYTES, "{bytes}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn match_keys_made_of_empty_strings_cost_an_element_each() {
    let host = host();
    let plugin = load(&host, "hostile_empty_strings", &[("strings", "100000")]);
    let records = attack_batch(3);
    let error = plugin.match_keys(4, &records.iter().collect::<Vec<_>>()).unwrap_err();
    assert!(
        matches!(error.failure, HookFailure::OutputTooLarge { bytes, .. } if bytes >= 100_000 * OUTPUT_ELEMENT_BYTES),
        "{error}"
    );
    assert_eq!(error.batch, 4);
}

#[test]
fn a_10_mb_log_message_fails_its_batch_and_is_charged() {
    let (_, error) = clean_under_attack("hostile_log", Limits::default(), &[("bytes", "10000000")], 1000);
    match &error.failure {
        HookFailure::LogLimit { detail } => assert!(detail.contains("10000000 bytes"), "{detail}"),
        other => panic!("{other:?}"),
    }
    assert!(error.fuel_used >= LOG_CALL_FUEL + 10_000_000 * LOG_BYTE_FUEL, "charged: {}", error.fuel_used);
}

/// An attack of our own: an answer of 10 million empty strings (80 MB of guest memory, 240 MB
/// as host `String`s) is refused while wasmtime lifts it, before the host allocates it.
#[test]
fn ten_million_empty_strings_are_refused_before_the_host_holds_them() {
    let limits = Limits { cpu: CpuBudget::Fuel { per_call: 10_000_000_000, per_record: 0 }, ..Limits::default() };
    let (_, error) = clean_under_attack("hostile_empty_strings", limits, &[("strings", "10000000")], 3);
    assert!(matches!(error.failure, HookFailure::OutputTooLargeToLift { limit } if limit == 64 << 20), "{error}");
}

#[test]
fn log_calls_cost_fuel_in_proportion_to_their_bytes() {
    let host = host();
    let attacker = contact("attacker", &[("attack", "yes")]);
    let fuel = |calls: &str| {
        let plugin = load(&host, "hostile_log", &[("bytes", "1000"), ("calls", calls)]);
        plugin.clean(1, &[&attacker]).expect("within the limits").fuel_used.expect("fuel budget")
    };
    let (none, ten) = (fuel("0"), fuel("10"));
    let charged = 10 * (LOG_CALL_FUEL + 1000 * LOG_BYTE_FUEL);
    assert!(ten - none >= charged, "10 calls of 1000 bytes cost {} fuel, at least {charged}", ten - none);
}

#[test]
fn millions_of_one_byte_log_calls_are_charged_fuel_and_stop_at_the_call_cap() {
    // With the default budget, the fuel the calls cost runs out first.
    let (_, error) = clean_under_attack("hostile_log", Limits::default(), &[("bytes", "1")], 3);
    assert!(matches!(error.failure, HookFailure::CpuBudgetExhausted { .. }), "{error}");
    // With fuel to spare, the cap on calls stops it.
    let limits = Limits { cpu: CpuBudget::Fuel { per_call: 100_000_000_000, per_record: 0 }, ..Limits::default() };
    let (output, error) = clean_under_attack("hostile_log", limits, &[("bytes", "1")], 3);
    let cap = MAX_LOG_CALLS_PER_CALL + 3 * MAX_LOG_CALLS_PER_RECORD;
    match &error.failure {
        HookFailure::LogLimit { detail } => {
            assert!(detail.contains(&format!("more than {cap} host.log calls")), "{detail}")
        }
        other => panic!("{other:?}"),
    }
    assert!(error.fuel_used >= cap * (LOG_CALL_FUEL + LOG_BYTE_FUEL), "the calls were charged: {}", error.fuel_used);
    assert!(output.logs.len() <= 101, "the kept lines stay bounded");
}

#[test]
fn a_wall_clock_deadline_backs_the_fuel_budget_up() {
    let limits = Limits {
        cpu: CpuBudget::Fuel { per_call: 1 << 60, per_record: 0 },
        deadline_per_call: Duration::from_millis(50),
        deadline_per_record: Duration::ZERO,
        ..Limits::default()
    };
    let (_, error) = clean_under_attack("hostile_loop", limits, &[], 3);
    assert!(matches!(error.failure, HookFailure::DeadlineExceeded { .. }), "{error}");
}

#[test]
fn fuel_spent_by_a_failed_batch_is_reported_as_spent() {
    let limits = Limits { cpu: CpuBudget::Fuel { per_call: 2_000_000, per_record: 1_000_000 }, ..Limits::default() };
    let (output, error) = clean_under_attack("hostile_loop", limits, &[], 3);
    assert!(matches!(error.failure, HookFailure::CpuBudgetExhausted { .. }), "{error}");
    assert_eq!(error.fuel_used, 5_000_000, "the whole budget of the failed call");
    assert!(output.fuel_used > 5_000_000, "the stage counts it with the next batch's: {}", output.fuel_used);
}

#[test]
fn a_whole_run_budget_stops_a_plugin_that_burns_its_budget_on_every_batch() {
    let limits = Limits { cpu: CpuBudget::Fuel { per_call: 10_000_000, per_record: 0 }, ..Limits::default() };
    let host = host_with(limits);
    let budget = RunBudget { fuel: 25_000_000, time: Duration::from_secs(3600) };
    let plugin = load(&host, "hostile_loop", &[]).with_run_budget(budget);
    let records: Vec<Record> = (0..5).map(|i| contact(&format!("a{i}"), &[("attack", "yes")])).collect();
    let output = pipeline::clean(&plugin, records, 1, &mut BatchIds::default());
    let failures: Vec<&HookFailure> = output.failures.iter().map(|error| &error.failure).collect();
    assert!(
        matches!(failures[..2], [HookFailure::CpuBudgetExhausted { .. }, HookFailure::CpuBudgetExhausted { .. }]),
        "{failures:?}"
    );
    assert!(
        failures[2..].iter().all(|failure| matches!(failure, HookFailure::RunBudgetExhausted { .. })),
        "{failures:?}"
    );
    assert_eq!(output.fuel_used, 25_000_000, "the run spent exactly its budget");
    assert_eq!(plugin.run_spent().0, 25_000_000);
    assert_eq!(output.counts().quarantined, 5);
    assert!(
        output.failures[4].to_string().contains("batch 5") && output.failures[4].to_string().contains("max_run_fuel")
    );
}

#[test]
fn a_run_budget_is_capped_by_the_hosts_maximum() {
    let host = host_with(Limits {
        max_run_budget: RunBudget { fuel: 1000, time: Duration::from_secs(1) },
        ..Limits::default()
    });
    let plugin = load(&host, "hostile_loop", &[]).with_run_budget(RunBudget { fuel: u64::MAX, time: Duration::MAX });
    assert_eq!(plugin.run_budget(), RunBudget { fuel: 1000, time: Duration::from_secs(1) });
}

/// An attack of our own: `describe` answers a million (empty) options.
#[test]
fn a_describe_answer_of_a_million_options_is_refused_at_load() {
    let host = host();
    let error = host.open(&plugin("hostile_describe_flood"), None).err().expect("refused");
    assert!(
        matches!(
            &error,
            LoadError::Trapped {
                stage: "describing itself",
                failure: HookFailure::OutputTooLarge { .. } | HookFailure::OutputTooLargeToLift { .. },
                ..
            }
        ),
        "{error}"
    );
}
