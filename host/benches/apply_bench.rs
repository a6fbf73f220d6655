//! `apply` against the in-process sandbox at plan premium (100 requests per 2 s), printed as
//! figures (run: `cargo bench -p crm-migrate --bench apply_bench`; `CRM_BENCH_SCALE=N` scales
//! the sample export N times, 20 by default: 10,000 contacts and what they link to).
//!
//! The `crm-migrate` binary runs as a user runs it (init, plan, approve --yes, apply), as a
//! child process so that its peak memory is its own. The workspace phase runs first on its own;
//! the record phases are then measured against what the burst limit and Pipedrive's prices allow:
//! - wall time against the minimum: one create per record created, at 50 requests a second
//!   (target <= 1.10);
//! - tokens the sandbox debited against the minimum: each record created at its create's cost
//!   (target <= 1.05);
//! - peak resident memory of the apply process.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crm_migrate::plan::bill::create_cost;
use crm_migrate::record::ObjectKind;
use crm_migrate_sandbox::{Plan, SandboxConfig, SandboxHandle};
use serde_json::Value;

const TOKEN: &str = "bench-token";

fn main() {
    let scale: usize = std::env::var("CRM_BENCH_SCALE").ok().and_then(|n| n.parse().ok()).unwrap_or(20);
    let contacts = 500 * scale;
    let target = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/bench-exports");
    let export = target.join(format!("usercom-{contacts}-seed2024"));
    if !export.join("users.csv").is_file() {
        std::fs::create_dir_all(&export).unwrap();
        usercom_export_gen::generate(
            &export,
            &usercom_export_gen::Options { contacts, ..usercom_export_gen::Options::default() },
        )
        .unwrap();
    }
    let plan = Plan::Premium;
    // Two seats: 300,000 tokens a day, more than the run needs.
    let sandbox = SandboxHandle::spawn(SandboxConfig {
        plan,
        seats: 2,
        api_tokens: vec![TOKEN.into()],
        ..SandboxConfig::default()
    })
    .unwrap();
    let work = tempfile::tempdir().unwrap();
    let project = work.path().join("bench");
    run(&[
        "init",
        project.to_str().unwrap(),
        "--export",
        export.to_str().unwrap(),
        "--pipedrive",
        &sandbox.url(),
        "--plan",
        "premium",
        "--seats",
        "2",
    ]);
    let project_arg = project.to_str().unwrap();
    run(&["-C", project_arg, "plan"]);
    run(&["-C", project_arg, "approve", "--yes", "--by", "bench"]);

    let before = sandbox.stats();
    let started = Instant::now();
    run(&["-C", project_arg, "apply", "--phase", "workspace"]);
    let workspace_seconds = started.elapsed().as_secs_f64();
    let after_workspace = sandbox.stats();

    let started = Instant::now();
    let (outcome, peak_rss_kb) = apply_measured(&project);
    let seconds = started.elapsed().as_secs_f64();
    let after = sandbox.stats();

    let mut created = 0;
    let mut minimum_tokens = 0;
    for phase in outcome["phases"].as_array().unwrap() {
        for row in phase["reconciliation"].as_array().unwrap() {
            let object: ObjectKind = row["object"].as_str().unwrap().parse().unwrap();
            let count = row["counts"]["created"].as_u64().unwrap();
            created += count;
            minimum_tokens += count * u64::from(create_cost(object));
        }
    }
    // The record run re-reads the workspace (7 calls, 80 tokens) before its first phase.
    let reads = 7;
    minimum_tokens += 80;
    let rate = f64::from(plan.burst_limit()) / pipedrive_api::BURST_WINDOW.as_secs_f64();
    let minimum_seconds = (created + reads) as f64 / rate;
    let tokens = after.tokens_debited - after_workspace.tokens_debited;
    println!(
        "apply at plan {plan} ({} requests per 2 s), sample export x{scale} ({contacts} contacts):",
        plan.burst_limit()
    );
    println!(
        "  workspace phase: {} requests, {} tokens, {workspace_seconds:.1} s",
        after_workspace.requests - before.requests,
        after_workspace.tokens_debited - before.tokens_debited
    );
    println!(
        "  record phases: {created} records created in {seconds:.1} s; {} requests; {} 429s",
        after.requests - after_workspace.requests,
        after.too_many_requests()
    );
    println!(
        "  wall time / minimum ({created} creates + {reads} reads at {rate:.0}/s = {minimum_seconds:.1} s): {:.3} (target <= 1.10)",
        seconds / minimum_seconds
    );
    println!(
        "  tokens / minimum ({tokens} / {minimum_tokens}: the creates at their cost + 80 for the reads): {:.3} (target <= 1.05)",
        tokens as f64 / minimum_tokens as f64
    );
    println!("  peak RSS of the apply process: {:.1} MB", peak_rss_kb as f64 / 1024.0);
}

fn command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_crm-migrate"));
    command.args(args).env("PIPEDRIVE_API_TOKEN", TOKEN);
    command
}

fn run(args: &[&str]) {
    let output = command(args).output().expect("crm-migrate runs");
    assert!(
        output.status.success(),
        "{args:?}: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The full apply as a child, waited for with `wait4` for its own peak memory; its JSON outcome.
#[allow(unsafe_code)] // wait4, for the child's peak memory
fn apply_measured(project: &Path) -> (Value, u64) {
    let stdout = tempfile::NamedTempFile::new().unwrap();
    #[allow(clippy::zombie_processes)] // waited for below, with wait4, for its peak memory
    let child = command(&["-C", project.to_str().unwrap(), "apply", "--json", "--concurrency", "16"])
        .stdout(stdout.reopen().unwrap())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap();
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pid is our own child, not yet waited for; the pointers are to live locals.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert!(pid > 0 && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "apply failed: status {status}");
    let lines = std::fs::read_to_string(stdout.path()).unwrap();
    let done = lines
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|event| event["event"] == "done")
        .expect("apply printed its outcome");
    // ru_maxrss is in kilobytes on Linux.
    (done["outcome"].clone(), usage.ru_maxrss as u64)
}
