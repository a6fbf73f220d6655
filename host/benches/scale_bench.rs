//! The scale bench: a whole migration of a generated User.com account against the local Pipedrive
//! sandbox, unthrottled, step by step, printed as figures (run:
//! `SCALE_CONTACTS=100000 cargo bench -p crm-migrate --bench scale_bench`; 2,000 contacts by
//! default, so that a run is quick).
//!
//! The export (and the same account a month later, for the delta) is generated once into
//! `target/bench-exports/`. The sandbox runs in this process with the burst limits lifted and a
//! token budget no run can use up, so that what is measured is crm-migrate and the sandbox, not
//! Pipedrive's pacing. Each step (init, audit, plan, approve, apply, verify, delta) runs as its
//! own `crm-migrate` process, as a user runs it, waited for with `wait4` so that its peak memory
//! and CPU time are its own. For each step: wall time and the export's records per second of it,
//! peak RSS, the step's own CPU seconds (and records per CPU second, CPU seconds per 1,000
//! records: the host's throughput whatever else runs on the machine), the sandbox's CPU in the
//! same time (this process's own CPU while the step ran: the sandbox's threads are all that run
//! in it then) and the API requests it served.
//!
//! The project runs the vetted plugins a customer would (clean-basic and dedup-email, batch by
//! batch), so that their cost is in the figures.
//!
//! Ratios are taken within the run, against a baseline measured in it: the audit (read +
//! normalize + audit) against a bare `csv` parse of the same files; plan against the audit (plan
//! reads the export as the audit does); verify against apply (both touch every record once, one
//! writing, one reading back); delta against apply; each as wall time and as CPU time (on a
//! shared machine the wall times stretch with the load, printed at the end; CPU times do not).
//! No figure is asserted: this machine's timings drift, the ratios are the figures.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crm_migrate::audit::report::thousands;
use crm_migrate_sandbox::{Plan, SandboxConfig, SandboxHandle};

#[path = "support/csv_baseline.rs"]
mod csv_baseline;
use csv_baseline::{bare_parse, csv_files};

const TOKEN: &str = "scale-bench-token";
const DEFAULT_CONTACTS: usize = 2_000;
/// Requests per 2 s per token: no run of this bench comes near it.
const UNTHROTTLED: u32 = 1_000_000;

fn main() {
    if let Ok(role) = std::env::var("SCALE_BENCH_CHILD") {
        child(&role);
        return;
    }
    let contacts = std::env::var("SCALE_CONTACTS")
        .ok()
        .map(|n| n.replace(['_', ','], "").parse().expect("SCALE_CONTACTS is a number"))
        .unwrap_or(DEFAULT_CONTACTS);
    let target = target_dir();
    let exports = target.join("bench-exports").join(format!("scale-{contacts}-seed2024"));
    let (first, later) = (exports.join("first"), exports.join("a-month-later"));
    let generated = [("generate the export", &first, false), ("generate a month later", &later, true)]
        .map(|(name, dir, changes)| generate(name, dir, contacts, changes));
    let records = bare_parse(&first);
    let later_records = bare_parse(&later);

    let sandbox = SandboxHandle::spawn(SandboxConfig {
        plan: Plan::Ultimate,
        seats: 1000,
        burst_limit: Some(UNTHROTTLED),
        search_burst_limit: Some(UNTHROTTLED),
        daily_token_budget: Some(1_000_000_000_000),
        api_tokens: vec![TOKEN.into()],
        ..SandboxConfig::default()
    })
    .unwrap();
    std::fs::create_dir_all(target.join("bench-work")).unwrap();
    let work = tempfile::tempdir_in(target.join("bench-work")).unwrap();
    // SCALE_BENCH_KEEP=1 keeps the project and each step's log (they are deleted otherwise).
    let work = if std::env::var("SCALE_BENCH_KEEP").is_ok_and(|keep| keep == "1") {
        let kept = work.keep();
        eprintln!("scale bench: the project and the logs stay in {}", kept.display());
        Work::Kept(kept)
    } else {
        Work::Temporary(work)
    };
    let project = work.path().join("scale");
    let project_arg = project.to_str().unwrap();
    let load_before = load_average();
    let bare = measure_bare(&first);
    // A customer's rules as they run: the vetted clean and dedup plugins, batch by batch.
    let plugins = ["clean=clean_basic", "dedup=dedup_email"].map(|plugin| {
        let (hook, name) = plugin.split_once('=').unwrap();
        let wasm = target.join("wasm32-wasip2/plugin").join(format!("{name}.wasm"));
        assert!(wasm.is_file(), "{} is missing: run `cargo build-plugins` first", wasm.display());
        format!("{hook}={}", wasm.display())
    });

    let mut steps = vec![bare];
    let mut step = |name: &'static str, args: &[&str], accepted: &[i32], records: u64| {
        let measured = run_step(&sandbox, work.path(), name, args, accepted, records);
        steps.push(measured);
    };
    step(
        "init",
        &[
            "init",
            project_arg,
            "--export",
            first.to_str().unwrap(),
            "--pipedrive",
            &sandbox.url(),
            "--plan",
            "ultimate",
            "--seats",
            "1000",
            "--plugin",
            &plugins[0],
            "--plugin",
            &plugins[1],
        ],
        &[0],
        records,
    );
    step("audit", &["-C", project_arg, "audit"], &[0], records);
    step("plan", &["-C", project_arg, "plan"], &[0], records);
    step("approve", &["-C", project_arg, "approve", "--yes", "--by", "scale-bench"], &[0], records);
    step("apply", &["-C", project_arg, "apply", "--concurrency", "16"], &[0], records);
    // 8: something is not verified (the planted bad values are reported, as they should be).
    step("verify", &["-C", project_arg, "verify"], &[0, 8], records);
    step("delta", &["-C", project_arg, "delta", "--export", later.to_str().unwrap()], &[0], later_records);

    let by_name = |name: &str| steps.iter().find(|s| s.name == name).unwrap();
    let ratios = [("audit", "bare csv parse"), ("plan", "audit"), ("verify", "apply"), ("delta", "apply")];
    println!(
        "scale bench: {} contacts; export {} records in {} MB ({} records a month later); sandbox unthrottled",
        thousands(contacts as u64),
        thousands(records),
        dir_bytes(&first) / 1_000_000,
        thousands(later_records)
    );
    for generated in &generated {
        println!(
            "  {:<24} {:>8.1} s   peak RSS {:>7.1} MB",
            generated.name,
            generated.wall.as_secs_f64(),
            generated.peak_rss_kb as f64 / 1024.0
        );
    }
    println!(
        "  {:<16} {:>8} {:>10} {:>9} {:>8} {:>11} {:>9} {:>12} {:>8} {:>5}  ratio",
        "step", "wall s", "records/s", "peak MB", "CPU s", "rec/CPU s", "CPU s/1k", "sandbox CPU", "requests", "exit"
    );
    for step in &steps {
        let ratio = ratios
            .iter()
            .find(|(name, _)| *name == step.name)
            .map(|(_, base)| {
                let base = by_name(base);
                format!(
                    "{:.2}x {} (CPU {:.2}x)",
                    step.wall.as_secs_f64() / base.wall.as_secs_f64(),
                    base.name,
                    step.cpu.as_secs_f64() / base.cpu.as_secs_f64()
                )
            })
            .unwrap_or_default();
        println!(
            "  {:<16} {:>8.2} {:>10} {:>9.1} {:>8.2} {:>11} {:>9.3} {:>10.2} s {:>8} {:>5}  {ratio}",
            step.name,
            step.wall.as_secs_f64(),
            thousands((step.records as f64 / step.wall.as_secs_f64()) as u64),
            step.peak_rss_kb as f64 / 1024.0,
            step.cpu.as_secs_f64(),
            thousands((step.records as f64 / step.cpu.as_secs_f64().max(1e-3)) as u64),
            step.cpu.as_secs_f64() * 1000.0 / step.records as f64,
            step.sandbox_cpu.as_secs_f64(),
            thousands(step.requests),
            step.exit,
        );
    }
    let total: Duration = steps.iter().skip(1).map(|s| s.wall).sum();
    let host: Duration = steps.iter().skip(1).map(|s| s.cpu).sum();
    let served: Duration = steps.iter().skip(1).map(|s| s.sandbox_cpu).sum();
    println!(
        "  steps: {:.1} s wall; crm-migrate {:.1} CPU s, sandbox {:.1} CPU s; sandbox peak RSS (this process) {:.1} MB",
        total.as_secs_f64(),
        host.as_secs_f64(),
        served.as_secs_f64(),
        self_usage().1 as f64 / 1024.0
    );
    // On a shared machine the wall times stretch with the load; the CPU figures do not.
    println!("  load average (1 min) at the start {load_before}, at the end {}", load_average());
}

/// The machine's load average over the last minute, as /proc/loadavg says it.
fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().next().unwrap_or("unknown").to_owned()
}

/// Where the project and the logs go.
enum Work {
    Temporary(tempfile::TempDir),
    Kept(PathBuf),
}

impl Work {
    fn path(&self) -> &Path {
        match self {
            Work::Temporary(dir) => dir.path(),
            Work::Kept(dir) => dir,
        }
    }
}

/// One measured step.
struct Step {
    name: &'static str,
    wall: Duration,
    /// The step's own user + system CPU.
    cpu: Duration,
    peak_rss_kb: u64,
    /// This process's CPU while the step ran: the in-process sandbox's.
    sandbox_cpu: Duration,
    /// API requests the sandbox served in the step.
    requests: u64,
    records: u64,
    exit: i32,
}

fn run_step(
    sandbox: &SandboxHandle,
    work: &Path,
    name: &'static str,
    args: &[&str],
    accepted: &[i32],
    records: u64,
) -> Step {
    let mut command = Command::new(env!("CARGO_BIN_EXE_crm-migrate"));
    command.args(args).env("PIPEDRIVE_API_TOKEN", TOKEN);
    let requests = sandbox.stats().requests;
    let (cpu_before, _) = self_usage();
    let (wall, exit, cpu, peak_rss_kb) = spawn_measured(command, &work.join(format!("{name}.log")));
    let (cpu_after, _) = self_usage();
    assert!(accepted.contains(&exit), "{name} ({args:?}) exited {exit}:\n{}", tail(&work.join(format!("{name}.log"))));
    eprintln!("scale bench: {name} done in {:.1} s", wall.as_secs_f64());
    Step {
        name,
        wall,
        cpu,
        peak_rss_kb,
        sandbox_cpu: cpu_after.saturating_sub(cpu_before),
        requests: sandbox.stats().requests - requests,
        records,
        exit,
    }
}

/// Runs `command` with its output into `log`, waited for with `wait4`: wall time, exit code,
/// user + system CPU, peak RSS in KB.
#[allow(unsafe_code)] // wait4, for the child's CPU and peak memory
fn spawn_measured(mut command: Command, log: &Path) -> (Duration, i32, Duration, u64) {
    let log = std::fs::File::create(log).unwrap();
    let started = Instant::now();
    #[allow(clippy::zombie_processes)] // waited for below, with wait4, for its own usage
    let child = command.stdin(Stdio::null()).stdout(log.try_clone().unwrap()).stderr(log).spawn().unwrap();
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pid is our own child, not yet waited for; the pointers are to live locals.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let wall = started.elapsed();
    assert!(pid > 0 && libc::WIFEXITED(status), "the child did not exit: status {status}");
    // ru_maxrss is in kilobytes on Linux.
    (wall, libc::WEXITSTATUS(status), cpu_of(&usage), usage.ru_maxrss as u64)
}

fn cpu_of(usage: &libc::rusage) -> Duration {
    let seconds = |time: libc::timeval| Duration::new(time.tv_sec as u64, time.tv_usec as u32 * 1000);
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// This process's CPU so far and its peak RSS in KB.
#[allow(unsafe_code)] // getrusage
fn self_usage() -> (Duration, u64) {
    // SAFETY: a zeroed rusage is a valid value for getrusage to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pointer is to a live local.
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) }, 0);
    (cpu_of(&usage), usage.ru_maxrss as u64)
}

/// The baseline of the audit: the same files through a bare `csv` parse, in a child of its own.
fn measure_bare(dir: &Path) -> Step {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.env("SCALE_BENCH_CHILD", "bare").env("SCALE_BENCH_DIR", dir);
    let log = dir.with_extension("bare.log");
    let (wall, exit, cpu, peak_rss_kb) = spawn_measured(command, &log);
    assert_eq!(exit, 0, "the bare parse failed:\n{}", tail(&log));
    let records = std::fs::read_to_string(&log).unwrap().trim().parse().expect("the child printed its count");
    Step { name: "bare csv parse", wall, cpu, peak_rss_kb, sandbox_cpu: Duration::ZERO, requests: 0, records, exit }
}

/// A generated export, made once (by a child of this bench, so that the generator's own peak
/// memory is measured) and kept; its figures are those of the run that made it.
struct Generated {
    name: &'static str,
    wall: Duration,
    peak_rss_kb: u64,
}

fn generate(name: &'static str, dir: &Path, contacts: usize, changes: bool) -> Generated {
    let figures = dir.with_extension("generated");
    if !figures.is_file() {
        eprintln!("scale bench: generating {contacts} contacts into {} (once)", dir.display());
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir.parent().unwrap()).unwrap();
        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .env("SCALE_BENCH_CHILD", "generate")
            .env("SCALE_BENCH_DIR", dir)
            .env("SCALE_CONTACTS", contacts.to_string())
            .env("SCALE_BENCH_CHANGES", if changes { "1" } else { "0" });
        let log = dir.with_extension("log");
        let (wall, exit, _, peak_rss_kb) = spawn_measured(command, &log);
        assert_eq!(exit, 0, "generating failed:\n{}", tail(&log));
        std::fs::write(&figures, format!("{} {peak_rss_kb}", wall.as_nanos())).unwrap();
    }
    let text = std::fs::read_to_string(&figures).unwrap();
    let [nanos, peak_rss_kb] = text.split(' ').map(|n| n.parse().unwrap()).collect::<Vec<u64>>()[..] else {
        panic!("{}: {text}", figures.display())
    };
    Generated { name, wall: Duration::from_nanos(nanos), peak_rss_kb }
}

/// In a child: generate an export, or parse one bare (printing the rows read).
fn child(role: &str) {
    let dir = PathBuf::from(std::env::var("SCALE_BENCH_DIR").expect("the parent names the directory"));
    match role {
        "generate" => {
            let contacts = std::env::var("SCALE_CONTACTS").unwrap().parse().unwrap();
            let changes = std::env::var("SCALE_BENCH_CHANGES").as_deref() == Ok("1");
            let options = usercom_export_gen::Options { contacts, changes, ..usercom_export_gen::Options::default() };
            usercom_export_gen::generate(&dir, &options).unwrap();
        }
        "bare" => println!("{}", bare_parse(&dir)),
        other => panic!("unknown child role {other}"),
    }
}

fn dir_bytes(dir: &Path) -> u64 {
    csv_files(dir).iter().map(|f| std::fs::metadata(f).unwrap().len()).sum()
}

/// The last lines of a step's log, for a failure's message.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| {
        // target/release/deps/scale_bench-HASH -> target
        std::env::current_exe().unwrap().ancestors().nth(3).unwrap().to_owned()
    })
}
