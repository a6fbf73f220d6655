//! The scale bench: a whole migration of a generated User.com account against the local Pipedrive
//! sandbox, unthrottled, step by step, printed as figures (run:
//! `SCALE_CONTACTS=100000 cargo bench -p crm-migrate --bench scale_bench`; 2,000 contacts by
//! default, so that a run is quick).
//!
//! Settings (environment): `SCALE_CONTACTS=10000,100000` runs each size in turn (`_` may group
//! digits: `1_000_000`) and ends with the larger size's figures over the smaller's (peak RSS,
//! records per second), so that how memory and speed grow is read off one run on one machine.
//! `SCALE_KILLS=3` adds the crash check (below). `SCALE_BENCH_KEEP=1` keeps the exports, the
//! projects and each step's log (all are deleted after each size otherwise: at 1,000,000
//! contacts they take gigabytes). `SCALE_BENCH_PROGRESS=SECONDS` (30) is how often a running
//! step prints where it is.
//!
//! Before it generates anything the bench prints the disk the run needs at the most (an
//! estimate per contact, measured) and refuses to start, exit 2, when the filesystem of
//! `target/bench-work` has less free. A step that fails (an exit it may not have, or the bench's
//! own error) ends the run: the figures measured so far are printed, with the step's log's last
//! lines, the logs stay in `target/bench-work/scale-N-failed-PID`, the larger sizes are not run,
//! and the exit is 1. The run ends with the targets next to the measured figures, each
//! met or not.
//!
//! Per size: the export and the same account a month later (1% of the people changed, the rest
//! scaled with it) are generated. The sandbox runs in this process with the burst limits lifted
//! and a token budget no run can use up, so that what is measured is crm-migrate and the
//! sandbox, not Pipedrive's pacing. Each step (init, audit, plan, approve, apply, verify, delta,
//! and the bench's own: generating, the bare parse, the read-back) runs as its own process, the
//! crm-migrate steps as a user runs them, waited for with `wait4` by a small launcher process
//! (see `spawn_measured`), so that its peak memory and CPU time are its own. For each step:
//! wall time and the export's records per second of it, peak RSS, the step's own CPU seconds
//! (and records per CPU second, CPU seconds per 1,000 records: the host's throughput whatever
//! else runs on the machine), the sandbox's CPU in the same time (this process's own CPU while
//! the step ran: the sandbox's threads are all that run in it then), the sandbox's peak RSS in
//! the step (this process's) and the API requests it served.
//!
//! The project runs the vetted plugins a customer would (clean-basic and dedup-email, batch by
//! batch), so that their cost is in the figures.
//!
//! Ratios are taken within the run, against a baseline measured in it: the audit (read +
//! normalize + audit) against a bare `csv` parse of the same files; plan against the audit (plan
//! reads the export as the audit does); verify against the read-back's unavoidable calls (every
//! migrated record listed once, 500 a page, over plain HTTP, in a process of its own, right after
//! apply) and against apply; delta against apply; each as wall time and as CPU time (on a shared
//! machine the wall times stretch with the load, printed at the end; CPU times do not).
//! No figure is asserted: this machine's timings drift, the ratios are the figures.
//!
//! The crash check (`SCALE_KILLS=N`): after the clean run, a second project on the same export
//! migrates into a fresh sandbox, and its apply is killed with SIGKILL N times, at writes spread
//! evenly over the clean apply's (a quarter, half and three quarters of them for 3), and resumed
//! each time until it finishes. Then the journal's fates per object must equal the clean run's,
//! and the sandbox must hold one record per marker the clean run's held and no other: no
//! duplicate, nothing missing. The bench prints the result and exits 1 when a guarantee fails.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crm_migrate::audit::report::thousands;
use crm_migrate_sandbox::{Plan, SandboxConfig, SandboxHandle};

#[path = "support/csv_baseline.rs"]
mod csv_baseline;
use csv_baseline::{bare_parse, csv_files};
#[path = "support/listing.rs"]
mod listing;

const TOKEN: &str = "scale-bench-token";
const DEFAULT_CONTACTS: usize = 2_000;
/// Requests per 2 s per token: no run of this bench comes near it.
const UNTHROTTLED: u32 = 1_000_000;
/// The delta's month: 1% of the people changed (the "delta of 1% changes").
const CHANGE_PERCENT: u32 = 1;
/// The disk one size takes at its peak, per contact: the two exports, the project with its
/// state.db and apply's spool, the markers, the crash check's project (the clean one is deleted
/// before it, unless kept), and verify's read-back spool (a temporary SQLite file). Measured
/// ("disk:" in the output): 7.1 KB a contact at 30,000 contacts, at its peak in verify (the
/// read-back spool about 1 KB a listed record of it); 5.2 KB at 6,000 with three kills (the
/// spool still in its 16 MB page cache). The estimate adds half again; once a size has run,
/// what it took a contact (with a quarter more) estimates the larger ones when that is more.
const DISK_BYTES_PER_CONTACT: u64 = 10_000;

fn main() {
    if let Some(figures) = std::env::var_os("SCALE_BENCH_LAUNCH") {
        launch(Path::new(&figures));
        return;
    }
    if let Ok(role) = std::env::var("SCALE_BENCH_CHILD") {
        child(&role);
        return;
    }
    let sizes: Vec<usize> = std::env::var("SCALE_CONTACTS")
        .ok()
        .map(|sizes| {
            sizes
                .split(',')
                .map(|n| n.trim().replace('_', "").parse().expect("SCALE_CONTACTS: numbers, comma-separated"))
                .collect()
        })
        .unwrap_or_else(|| vec![DEFAULT_CONTACTS]);
    let kills: usize = std::env::var("SCALE_KILLS").map_or(0, |n| n.parse().expect("SCALE_KILLS is a number"));
    let target = target_dir();
    // A customer's rules as they run: the vetted clean and dedup plugins, batch by batch.
    let plugins = ["clean=clean_basic", "dedup=dedup_email"].map(|plugin| {
        let (hook, name) = plugin.split_once('=').unwrap();
        let wasm = target.join("wasm32-wasip2/plugin").join(format!("{name}.wasm"));
        assert!(wasm.is_file(), "{} is missing: run `cargo build-plugins` first", wasm.display());
        format!("{hook}={}", wasm.display())
    });
    let bench_work = target.join("bench-work");
    std::fs::create_dir_all(&bench_work).unwrap();
    let keep = std::env::var("SCALE_BENCH_KEEP").is_ok_and(|keep| keep == "1");
    // Kept, every size's directory stays to the end; else one size's at a time.
    let per_size: Vec<u64> = sizes.iter().map(|&contacts| disk_needed(contacts, kills, keep)).collect();
    let needed = if keep { per_size.iter().sum() } else { per_size.iter().copied().max().unwrap_or(0) };
    println!(
        "scale bench: {} contacts; the kill -9 check: {}",
        sizes.iter().map(|&c| thousands(c as u64)).collect::<Vec<_>>().join(", then "),
        if kills == 0 { "not run (SCALE_KILLS=0)".to_owned() } else { format!("{kills} kills at each size") },
    );
    println!(
        "scale bench: disk: the run needs about {} at the most ({:.1} KB a contact, {}); {} free in {}",
        gigabytes(needed),
        disk_needed(1000, kills, keep) as f64 / 1e6,
        if keep { "every size kept" } else { "one size at a time" },
        gigabytes(free_bytes(&bench_work)),
        bench_work.display(),
    );
    if let Err(refusal) = room_for(needed, &bench_work) {
        println!("scale bench: {refusal}");
        std::process::exit(2);
    }
    let work = tempfile::tempdir_in(&bench_work).unwrap();
    if keep {
        eprintln!("scale bench: the exports, the projects and the logs stay in {}", work.path().display());
    }
    let mut sizes_run = Vec::new();
    let mut failed = false;
    for (index, &contacts) in sizes.iter().enumerate() {
        let dir = work.path().join(format!("scale-{contacts}"));
        // What a smaller size took is the better estimate once it is known (with a quarter more).
        let measured =
            sizes_run.iter().filter_map(|size: &Size| Some(size.disk_peak()?.0 / size.contacts as u64)).max();
        let estimate = per_size[index].max(measured.map_or(0, |per_contact| per_contact * contacts as u64 * 5 / 4));
        let mut size = Size::new(contacts, estimate);
        // An earlier size's kept projects (a failed crash check) take their share of the disk.
        let outcome = room_for(size.disk_estimate, &bench_work).map_err(Failure::without_log).and_then(|()| {
            // The bench's own errors (panics) end the size too, with what it measured printed.
            std::panic::catch_unwind(AssertUnwindSafe(|| run_size(&mut size, kills, keep, &dir, &plugins)))
                .unwrap_or_else(|_| Err(Failure::without_log("the bench itself failed (its message is above)".into())))
        });
        print_size(&size);
        if let Err(failure) = &outcome {
            failed = true;
            let kept = bench_work.join(format!("scale-{contacts}-failed-{}", std::process::id()));
            keep_logs(&dir, &kept);
            println!("scale bench: FAILED at {} contacts: {}", thousands(contacts as u64), failure.what);
            if let Some(log) = &failure.log {
                println!("  the last lines of its log ({}):", kept.join(kept_name(&dir, log)).display());
                for line in tail(log).lines() {
                    println!("    | {line}");
                }
            }
            println!("  the logs of this size stay in {}", kept.display());
        } else if size.crash.as_ref().is_some_and(|crash| !crash.holds()) {
            failed = true;
            let kept = bench_work.join(format!("scale-{contacts}-failed-{}", std::process::id()));
            let _ = std::fs::rename(&dir, &kept);
            println!("  the projects of the failed crash check stay in {}", kept.display());
        }
        if !keep {
            let _ = std::fs::remove_dir_all(&dir);
        }
        sizes_run.push(size);
        if outcome.is_err() {
            if index + 1 < sizes.len() {
                println!("scale bench: the larger sizes are not run");
            }
            break;
        }
    }
    sizes_run.sort_by_key(|size| size.contacts);
    print_growth(&sizes_run);
    print_targets(&sizes_run, kills);
    if keep {
        let _ = work.keep();
    } else {
        drop(work);
    }
    if failed {
        eprintln!("scale bench: a step failed or a crash guarantee did not hold (see above)");
        std::process::exit(1);
    }
}

/// Everything measured at one size, filled in as the steps run (a failed step leaves the rest
/// empty).
struct Size {
    contacts: usize,
    /// What the run was expected to take on disk at the most (`disk_needed`).
    disk_estimate: u64,
    records: u64,
    export_mb: u64,
    later_records: u64,
    /// Records the read-back listed after apply.
    listed: u64,
    /// What the month later changed, as the generator counts it (`contacts_added`...).
    changes: BTreeMap<String, u64>,
    generated: Vec<Step>,
    steps: Vec<Step>,
    crash: Option<Crash>,
    load_before: String,
    load_after: String,
}

impl Size {
    fn new(contacts: usize, disk_estimate: u64) -> Size {
        Size {
            contacts,
            disk_estimate,
            records: 0,
            export_mb: 0,
            later_records: 0,
            listed: 0,
            changes: BTreeMap::new(),
            generated: Vec::new(),
            steps: Vec::new(),
            crash: None,
            load_before: load_average(),
            load_after: String::new(),
        }
    }

    fn step(&self, name: &str) -> Option<&Step> {
        self.steps.iter().find(|step| step.name == name)
    }

    /// The size's peak on disk (`Step::disk_bytes`), and the step it was reached in.
    fn disk_peak(&self) -> Option<(u64, &'static str)> {
        let runs = self.crash.iter().flat_map(|crash| &crash.runs);
        self.generated.iter().chain(&self.steps).chain(runs).map(|s| (s.disk_bytes, s.name)).max()
    }
}

/// A step that ended otherwise than it may (an exit code it may not have, or the bench's own
/// error): what happened, and the log whose last lines say why.
struct Failure {
    what: String,
    log: Option<PathBuf>,
}

impl Failure {
    fn without_log(what: String) -> Failure {
        Failure { what, log: None }
    }
}

/// Keeps `step` among `steps`, and fails when it exited otherwise than `accepted`.
fn record(steps: &mut Vec<Step>, step: Step, accepted: &[i32], log: &Path) -> Result<(), Failure> {
    let exit = step.exit;
    let name = step.name;
    steps.push(step);
    if accepted.contains(&exit) {
        return Ok(());
    }
    let what = if exit == KILLED { format!("{name} was killed") } else { format!("{name} exited {exit}") };
    Err(Failure { what: format!("{what} (it may exit {accepted:?})"), log: Some(log.to_owned()) })
}

/// Runs the migration of `size.contacts` contacts in `dir` (and the crash check with `kills`),
/// filling `size` in as it goes; with `keep`, the clean project stays when the crash check's is
/// made.
fn run_size(size: &mut Size, kills: usize, keep: bool, dir: &Path, plugins: &[String; 2]) -> Result<(), Failure> {
    let contacts = size.contacts;
    let (first, later) = (dir.join("first"), dir.join("a-month-later"));
    generate(size, "generate the export", dir, &first, None)?;
    size.changes = generate(size, "generate a month later", dir, &later, Some(CHANGE_PERCENT))?;
    size.records = bare_parse(&first);
    size.later_records = bare_parse(&later);
    size.export_mb = dir_bytes(&first) / 1_000_000;
    let bare = measure_bare(dir, &first);
    record(&mut size.steps, bare, &[0], &first.with_extension("bare.log"))?;

    let sandbox = unthrottled_sandbox();
    let project = dir.join("scale");
    for (name, args, accepted) in migration_steps(&project, &first, &sandbox.url(), plugins) {
        let log = dir.join(format!("{name}.log"));
        record(&mut size.steps, run_step(&sandbox, dir, &log, name, &args, size.records), accepted, &log)?;
    }
    let apply_writes = size.step("apply").unwrap().writes;
    let clean_fates = fates(&project);
    // The read-back's unavoidable calls, right after apply (verify and delta come after it):
    // also the clean run's markers, for the crash check.
    let clean_markers = dir.join("clean.markers");
    let (read_back, listed) = measure_listing(&sandbox, dir, &clean_markers, size.records);
    record(&mut size.steps, read_back, &[0], &clean_markers.with_extension("log"))?;
    size.listed = listed.unwrap();
    let project_arg = project.to_str().unwrap();
    // 8: something is not verified (the planted bad values are reported, as they should be).
    let log = dir.join("verify.log");
    let verify = run_step(&sandbox, dir, &log, "verify", &["-C", project_arg, "verify"], size.records);
    record(&mut size.steps, verify, &[0, 8], &log)?;
    let delta = ["-C", project_arg, "delta", "--export", later.to_str().unwrap()];
    let log = dir.join("delta.log");
    record(&mut size.steps, run_step(&sandbox, dir, &log, "delta", &delta, size.later_records), &[0], &log)?;
    size.load_after = load_average();
    eprintln!("scale bench: {} contacts: the clean run is done", thousands(contacts as u64));
    // The sandbox's memory goes back before the crash check starts one of its own.
    drop(sandbox);
    if kills > 0 {
        if !keep {
            std::fs::remove_dir_all(&project).unwrap();
        }
        let crash = crash_check(dir, &first, plugins, size.records, kills, apply_writes, &clean_fates, &clean_markers)?;
        size.crash = Some(crash);
        size.load_after = load_average();
    }
    Ok(())
}

fn unthrottled_sandbox() -> SandboxHandle {
    SandboxHandle::spawn(SandboxConfig {
        plan: Plan::Ultimate,
        seats: 1000,
        burst_limit: Some(UNTHROTTLED),
        search_burst_limit: Some(UNTHROTTLED),
        daily_token_budget: Some(1_000_000_000_000),
        api_tokens: vec![TOKEN.into()],
        ..SandboxConfig::default()
    })
    .unwrap()
}

/// The migration up to apply, as a user runs it: each step, its arguments, the exits it may have.
fn migration_steps(
    project: &Path,
    export: &Path,
    url: &str,
    plugins: &[String; 2],
) -> Vec<(&'static str, Vec<String>, &'static [i32])> {
    let project = project.to_str().unwrap().to_owned();
    let in_project =
        |args: &[&str]| [&["-C", project.as_str()][..], args].concat().into_iter().map(str::to_owned).collect();
    let init = [
        "init",
        project.as_str(),
        "--export",
        export.to_str().unwrap(),
        "--pipedrive",
        url,
        "--plan",
        "ultimate",
        "--seats",
        "1000",
        "--plugin",
        plugins[0].as_str(),
        "--plugin",
        plugins[1].as_str(),
    ];
    vec![
        ("init", init.map(str::to_owned).to_vec(), &[0]),
        ("audit", in_project(&["audit"]), &[0]),
        ("plan", in_project(&["plan"]), &[0]),
        ("approve", in_project(&["approve", "--yes", "--by", "scale-bench"]), &[0]),
        ("apply", in_project(&["apply", "--concurrency", "16"]), &[0]),
    ]
}

/// How many records of each object the journal of the project at `project` holds in each fate
/// (`created`, `merged`...), counted by SQLite: `Journal::counts` reads every entry, with what
/// was sent for it, which at 1,000,000 contacts is gigabytes in this process.
fn fates(project: &Path) -> Fates {
    let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
    let db = rusqlite::Connection::open_with_flags(project.join("state.db"), flags).unwrap();
    let mut query = db.prepare("SELECT object, fate, COUNT(*) FROM records GROUP BY object, fate").unwrap();
    let rows =
        query.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get(2)?))).unwrap();
    let mut fates = Fates::new();
    for row in rows {
        let (object, fate, count) = row.unwrap();
        fates.entry(object).or_default().insert(fate, count);
    }
    fates
}

/// Records per object and fate, as the journal holds them.
type Fates = BTreeMap<String, BTreeMap<String, u64>>;

/// The crash check's findings.
struct Crash {
    /// Kills asked for (`SCALE_KILLS`).
    requested: usize,
    /// Writes the sandbox had applied when each kill was sent, and the kill's wall time into apply.
    kills: Vec<(u64, Duration)>,
    apply_writes: u64,
    /// Every run of the killed apply, the last one to the end.
    runs: Vec<Step>,
    fates_equal: bool,
    fates_clean: Fates,
    fates_killed: Fates,
    comparison: listing::Comparison,
    clean_listed: u64,
}

impl Crash {
    fn holds(&self) -> bool {
        self.kills.len() == self.requested
            && self.fates_equal
            && self.comparison.holds()
            && self.runs.last().is_some_and(|run| run.exit == 0)
    }
}

/// A second project on the same export into a fresh sandbox, its apply killed (SIGKILL) `kills`
/// times at writes spread over the clean apply's and resumed each time to the end; then its
/// journal and the sandbox's records against the clean run's.
#[allow(clippy::too_many_arguments)]
fn crash_check(
    dir: &Path,
    export: &Path,
    plugins: &[String; 2],
    records: u64,
    kills: usize,
    apply_writes: u64,
    clean_fates: &Fates,
    clean_markers: &Path,
) -> Result<Crash, Failure> {
    let sandbox = unthrottled_sandbox();
    let project = dir.join("killed");
    let logs = dir.join("killed-logs");
    std::fs::create_dir_all(&logs).unwrap();
    let mut steps = migration_steps(&project, export, &sandbox.url(), plugins);
    let (_, apply_args, _) = steps.pop().unwrap();
    // The setup steps and the listing are not printed: only their exits matter.
    let mut unprinted = Vec::new();
    for (name, args, accepted) in steps {
        let log = logs.join(format!("{name}.log"));
        record(&mut unprinted, run_step(&sandbox, dir, &log, name, &args, records), accepted, &log)?;
    }
    let points: Vec<u64> = (1..=kills as u64).map(|k| apply_writes * k / (kills as u64 + 1)).collect();
    let mut crash_kills = Vec::new();
    let mut runs = Vec::new();
    // A run that ends before its kill point (it cannot: the points are below the clean run's
    // writes) or on its own with an error ends the check.
    while runs.len() <= kills + 2 {
        let point = points.get(crash_kills.len()).copied();
        let name = if point.is_some() { "apply (killed)" } else { "apply (resumed)" };
        let sandbox = &sandbox;
        let kill_when = point.map(|point| move || sandbox.stats().writes_applied >= point);
        let log = logs.join(format!("apply-{}.log", runs.len() + 1));
        let command = crm_migrate(&apply_args, dir);
        let step = measure(
            name,
            command,
            &log,
            records,
            dir,
            Some(sandbox),
            kill_when.as_ref().map(|f| f as &dyn Fn() -> bool),
        );
        let (exit, wall) = (step.exit, step.wall);
        runs.push(step);
        let writes = sandbox.stats().writes_applied;
        match exit {
            KILLED => {
                crash_kills.push((writes, wall));
                eprintln!("scale bench: apply killed (SIGKILL) at {} writes", thousands(writes));
            }
            0 if crash_kills.len() == kills => break,
            exit => {
                eprintln!("scale bench: apply exited {exit} before its kill:\n{}", tail(&log));
                break;
            }
        }
    }
    let fates_killed = fates(&project);
    let killed_markers = dir.join("killed.markers");
    let (listing, listed) = measure_listing(&sandbox, dir, &killed_markers, records);
    record(&mut unprinted, listing, &[0], &killed_markers.with_extension("log"))?;
    let comparison = listing::compare_markers(clean_markers, &killed_markers);
    assert_eq!(Some(comparison.listed), listed, "the listing's count and its markers");
    Ok(Crash {
        requested: kills,
        kills: crash_kills,
        apply_writes,
        runs,
        fates_equal: *clean_fates == fates_killed,
        fates_clean: clean_fates.clone(),
        fates_killed,
        comparison,
        clean_listed: count_lines(clean_markers),
    })
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
    /// This process's peak RSS while the step ran: the sandbox's.
    sandbox_peak_kb: u64,
    /// API requests the sandbox served in the step, and the writes among them.
    requests: u64,
    writes: u64,
    records: u64,
    /// The exit code, or `KILLED`.
    exit: i32,
    /// The peak on disk while the step ran (sampled every 2 s and at its end) of the size's
    /// directory and the step's unlinked temporary files (verify's read-back spool).
    disk_bytes: u64,
}

/// A step's exit when the bench killed it (SIGKILL).
const KILLED: i32 = -9;

/// The crm-migrate binary with `args`, as a user runs it, with the sandbox's token; its
/// temporary files (verify's read-back spool: gigabytes at 1,000,000 contacts) go into `dir`,
/// on the filesystem whose free space the bench checked.
fn crm_migrate(args: &[impl AsRef<std::ffi::OsStr>], dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_crm-migrate"));
    command.args(args).env("PIPEDRIVE_API_TOKEN", TOKEN).env("TMPDIR", dir);
    command
}

/// This bench in one of its own roles (`child`), on `dir`.
fn bench_child(role: &str, dir: &Path) -> Command {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.env("SCALE_BENCH_CHILD", role).env("SCALE_BENCH_DIR", dir);
    command
}

/// Runs the crm-migrate step `name` with `args` against `sandbox`, its output into `log`.
fn run_step(
    sandbox: &SandboxHandle,
    dir: &Path,
    log: &Path,
    name: &'static str,
    args: &[impl AsRef<std::ffi::OsStr>],
    records: u64,
) -> Step {
    let step = measure(name, crm_migrate(args, dir), log, records, dir, Some(sandbox), None);
    eprintln!("scale bench: {name} done in {:.1} s, exit {}", step.wall.as_secs_f64(), step.exit);
    step
}

/// Every step's one way to run: `command` through `spawn_measured` (its own peak RSS and CPU),
/// with what the sandbox, when it serves the step, spent and served meanwhile, and the peak on
/// disk of `dir`, the size's directory. `records` is what the step's records per second count.
fn measure(
    name: &'static str,
    command: Command,
    log: &Path,
    records: u64,
    dir: &Path,
    sandbox: Option<&SandboxHandle>,
    kill_when: Option<&dyn Fn() -> bool>,
) -> Step {
    let before = sandbox.map(SandboxHandle::stats);
    let cpu_before = own_cpu();
    let measured = spawn_measured(command, log, name, dir, sandbox, kill_when);
    let (requests, writes) = match (before, sandbox.map(SandboxHandle::stats)) {
        (Some(before), Some(after)) => (after.requests - before.requests, after.writes_applied - before.writes_applied),
        _ => (0, 0),
    };
    Step {
        name,
        wall: measured.wall,
        cpu: measured.cpu,
        peak_rss_kb: measured.peak_rss_kb,
        sandbox_cpu: if sandbox.is_some() { own_cpu().saturating_sub(cpu_before) } else { Duration::ZERO },
        sandbox_peak_kb: if sandbox.is_some() { own_peak_rss_kb() } else { 0 },
        requests,
        writes,
        records,
        exit: measured.exit.unwrap_or(KILLED),
        disk_bytes: measured.disk_peak,
    }
}

/// What `wait4` said of a child.
struct Measured {
    wall: Duration,
    /// None: killed by us.
    exit: Option<i32>,
    cpu: Duration,
    peak_rss_kb: u64,
    /// The peak on disk of `dir`'s files and the step's unlinked temporary files while it ran.
    disk_peak: u64,
}

/// Runs `command` with its output into `log`, through a launcher (below), and gives its wall
/// time, exit code, user + system CPU and peak RSS in KB, and the peak on disk of `dir` (sampled
/// every 2 s). Every `SCALE_BENCH_PROGRESS` seconds it prints where the step is (its RSS, the
/// sandbox's requests, `dir` on disk, its log's last line); when `kill_when` holds, the step is
/// killed with SIGKILL.
///
/// Why a launcher: a child spawned from this process starts its `ru_maxrss` at this process's
/// peak (exec keeps the peak of the memory it replaces, and posix_spawn's child shares this
/// process's memory until exec), so with a sandbox of gigabytes in this process `wait4` would
/// give the sandbox's peak for a step that took 30 MB. The launcher is a fresh small process:
/// the step it spawns and waits for has its own peak, which it writes down for this one.
#[allow(unsafe_code)] // wait4 on the launcher, kill on the step
fn spawn_measured(
    command: Command,
    log: &Path,
    name: &str,
    dir: &Path,
    sandbox: Option<&SandboxHandle>,
    kill_when: Option<&dyn Fn() -> bool>,
) -> Measured {
    let every = Duration::from_secs(std::env::var("SCALE_BENCH_PROGRESS").map_or(30, |s| s.parse().unwrap()));
    let file = std::fs::File::create(log).unwrap();
    let figures = log.with_extension("figures");
    let step_pid = log.with_extension("pid");
    let _ = std::fs::remove_file(&figures);
    let _ = std::fs::remove_file(&step_pid);
    let mut launcher = Command::new(std::env::current_exe().unwrap());
    launcher.arg(command.get_program()).args(command.get_args()).env("SCALE_BENCH_LAUNCH", &figures);
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => launcher.env(key, value),
            None => launcher.env_remove(key),
        };
    }
    // The sandbox's peak in this step is this process's from here (`Step::sandbox_peak_kb`).
    reset_own_peak_rss();
    let started = Instant::now();
    #[allow(clippy::zombie_processes)] // waited for below, with wait4
    let launched = launcher.stdin(Stdio::null()).stdout(file.try_clone().unwrap()).stderr(file).spawn().unwrap();
    let launcher_pid = launched.id() as libc::pid_t;
    let mut pid: Option<libc::pid_t> = None;
    let mut next_progress = every;
    let mut next_disk = Duration::ZERO;
    let mut disk_peak = 0;
    let mut sample_disk = |pid: Option<libc::pid_t>| {
        disk_peak = disk_peak.max(disk_usage(dir) + pid.map_or(0, unlinked_open_files));
        disk_peak
    };
    let mut killed = false;
    loop {
        pid = pid.or_else(|| std::fs::read_to_string(&step_pid).ok()?.trim().parse().ok());
        if started.elapsed() >= next_disk {
            next_disk += Duration::from_secs(2);
            sample_disk(pid);
        }
        let mut status = 0;
        // SAFETY: the pid is our own child, not yet waited for; the pointer is to a live local.
        let waited = unsafe { libc::waitpid(launcher_pid, &mut status, libc::WNOHANG) };
        assert!(waited >= 0, "waitpid: {}", std::io::Error::last_os_error());
        if waited == launcher_pid {
            assert!(
                libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
                "the launcher of {name} failed: {status}"
            );
            break;
        }
        if let (Some(pid), false) = (pid, killed)
            && kill_when.is_some_and(|kill_when| kill_when())
        {
            // SAFETY: the step is alive: its launcher, which reaps it, has not exited.
            assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0, "SIGKILL {pid}"); // no chance to clean up
            killed = true;
        }
        if started.elapsed() >= next_progress {
            next_progress += every;
            let served =
                sandbox.map(|s| format!(", sandbox {} requests", thousands(s.stats().requests))).unwrap_or_default();
            let rss = pid.map_or(0, |pid| proc_status_kb(&format!("/proc/{pid}/status"), "VmRSS:"));
            eprintln!(
                "scale bench: {name} running {:.0} s, RSS {} MB{served}, disk {}; {}",
                started.elapsed().as_secs_f64(),
                rss / 1024,
                megabytes(sample_disk(pid)),
                last_line(log)
            );
        }
        std::thread::sleep(Duration::from_millis(if kill_when.is_some() { 2 } else { 20 }));
    }
    let wall = started.elapsed();
    sample_disk(None);
    let text = std::fs::read_to_string(&figures).unwrap();
    let [exit, cpu_micros, peak_rss_kb] = text.split(' ').map(|n| n.trim().parse().unwrap()).collect::<Vec<i64>>()[..]
    else {
        panic!("{}: {text}", figures.display())
    };
    assert!(exit >= 0 || killed && exit == -libc::SIGKILL as i64, "{name} was killed by signal {}", -exit);
    Measured {
        wall,
        exit: (exit >= 0).then_some(exit as i32),
        cpu: Duration::from_micros(cpu_micros as u64),
        peak_rss_kb: peak_rss_kb as u64,
        disk_peak,
    }
}

/// In the launcher: spawns the step (its program and arguments are this process's), writes its
/// pid next to `figures`, waits for it with `wait4` and writes its exit code (minus the signal
/// that killed it), CPU microseconds and peak RSS in KB into `figures`.
#[allow(unsafe_code)] // wait4, for the step's CPU and peak memory
fn launch(figures: &Path) {
    let mut args = std::env::args_os().skip(1);
    let program = args.next().expect("the step's program");
    #[allow(clippy::zombie_processes)] // waited for below, with wait4, for its own usage
    let step = Command::new(program).args(args).env_remove("SCALE_BENCH_LAUNCH").spawn().unwrap();
    let pid = step.id() as libc::pid_t;
    std::fs::write(figures.with_extension("pid"), pid.to_string()).unwrap();
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pid is our own child, not yet waited for; the pointers are to live locals.
    assert_eq!(unsafe { libc::wait4(pid, &mut status, 0, &mut usage) }, pid);
    let exit = if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { -libc::WTERMSIG(status) };
    // ru_maxrss is in kilobytes on Linux.
    let text = format!("{exit} {} {}", cpu_of(&usage).as_micros(), usage.ru_maxrss);
    std::fs::write(figures, text).unwrap();
}

fn cpu_of(usage: &libc::rusage) -> Duration {
    let seconds = |time: libc::timeval| Duration::new(time.tv_sec as u64, time.tv_usec as u32 * 1000);
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// This process's CPU so far (the in-process sandbox's, while a step runs).
#[allow(unsafe_code)] // getrusage
fn own_cpu() -> Duration {
    // SAFETY: a zeroed rusage is a valid value for getrusage to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pointer is to a live local.
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) }, 0);
    cpu_of(&usage)
}

/// Starts this process's peak RSS (VmHWM) again from its RSS now, so that a step's peak is the
/// sandbox's in that step, not an earlier step's or size's (Linux: `5` into clear_refs).
fn reset_own_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// This process's peak RSS in KB since the last reset.
fn own_peak_rss_kb() -> u64 {
    proc_status_kb("/proc/self/status", "VmHWM:")
}

/// A `kB` line of a /proc status file (0 when it is gone).
fn proc_status_kb(path: &str, key: &str) -> u64 {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let line = text.lines().find(|line| line.starts_with(key)).unwrap_or_default();
    line.split_whitespace().nth(1).and_then(|kb| kb.parse().ok()).unwrap_or(0)
}

/// The baseline of the audit: the export at `export` through a bare `csv` parse, in a child of
/// its own; the records it read are the step's.
fn measure_bare(dir: &Path, export: &Path) -> Step {
    let log = export.with_extension("bare.log");
    let mut step = measure("bare csv parse", bench_child("bare", export), &log, 0, dir, None, None);
    step.records = printed_count(&log).unwrap_or(0);
    step
}

/// Verify's baseline: every record in the sandbox listed once (see `listing`), in a child of its
/// own, its markers sorted into `markers`; and how many records it listed (none when it failed).
fn measure_listing(sandbox: &SandboxHandle, dir: &Path, markers: &Path, records: u64) -> (Step, Option<u64>) {
    let mut command = bench_child("list", markers);
    command.env("SCALE_BENCH_URL", sandbox.url());
    let log = markers.with_extension("log");
    let step = measure("read-back", command, &log, records, dir, Some(sandbox), None);
    let listed = printed_count(&log);
    eprintln!(
        "scale bench: read-back listed {} records in {} requests, {:.1} s",
        listed.map_or("no".to_owned(), thousands),
        thousands(step.requests),
        step.wall.as_secs_f64()
    );
    (step, listed)
}

/// The count a child printed, the last line of its log.
fn printed_count(log: &Path) -> Option<u64> {
    last_line(log).trim().parse().ok()
}

/// Generates an export into `export` (in a child of this bench, so that the generator's own peak
/// memory is measured): the first export, or with `changes` the account a month later with that
/// percent changed. Keeps the step in `size` and gives what changed.
fn generate(
    size: &mut Size,
    name: &'static str,
    dir: &Path,
    export: &Path,
    changes: Option<u32>,
) -> Result<BTreeMap<String, u64>, Failure> {
    eprintln!("scale bench: generating {} contacts into {}", thousands(size.contacts as u64), export.display());
    std::fs::create_dir_all(dir).unwrap();
    let mut command = bench_child("generate", export);
    command
        .env("SCALE_CONTACTS", size.contacts.to_string())
        .env("SCALE_BENCH_CHANGES", changes.map_or("0".to_owned(), |percent| percent.to_string()));
    let log = export.with_extension("log");
    let mut step = measure(name, command, &log, 0, dir, None, None);
    let planted: Option<usercom_export_gen::Planted> = (step.exit == 0)
        .then(|| serde_json::from_slice(&std::fs::read(export.with_extension("planted.json")).unwrap()).unwrap());
    step.records = planted.as_ref().map_or(0, |planted| planted.counts.values().sum());
    record(&mut size.generated, step, &[0], &log)?;
    Ok(planted.unwrap().changes)
}

/// In a child: generate an export, parse one bare (printing the rows read), or list the
/// sandbox's records (printing how many).
fn child(role: &str) {
    let dir = PathBuf::from(std::env::var("SCALE_BENCH_DIR").expect("the parent names the directory"));
    match role {
        "generate" => {
            let contacts = std::env::var("SCALE_CONTACTS").unwrap().parse().unwrap();
            let percent: u32 = std::env::var("SCALE_BENCH_CHANGES").unwrap().parse().unwrap();
            let options = usercom_export_gen::Options {
                contacts,
                changes: percent > 0,
                change_percent: if percent > 0 { percent } else { usercom_export_gen::DEFAULT_CHANGE_PERCENT },
                ..usercom_export_gen::Options::default()
            };
            let planted = usercom_export_gen::generate(&dir, &options).unwrap();
            std::fs::write(dir.with_extension("planted.json"), serde_json::to_vec(&planted).unwrap()).unwrap();
        }
        "bare" => println!("{}", bare_parse(&dir)),
        "list" => println!("{}", listing::list_markers(&std::env::var("SCALE_BENCH_URL").unwrap(), TOKEN, &dir)),
        other => panic!("unknown child role {other}"),
    }
}

fn print_size(size: &Size) {
    let steps = &size.steps;
    let ratios = [
        ("audit", "bare csv parse"),
        ("plan", "audit"),
        ("verify", "read-back"),
        ("verify", "apply"),
        ("delta", "apply"),
    ];
    println!(
        "scale bench: {} contacts; export {} records in {} MB; sandbox unthrottled",
        thousands(size.contacts as u64),
        thousands(size.records),
        size.export_mb,
    );
    let changed = |object: &str| {
        ["added", "changed", "deleted"].map(|what| size.changes.get(&format!("{object}_{what}")).copied().unwrap_or(0))
    };
    let ([c_added, c_changed, c_deleted], [d_added, d_changed, _]) = (changed("contacts"), changed("deals"));
    if !size.changes.is_empty() {
        println!(
            "  a month later ({CHANGE_PERCENT}% of the people changed): {} records; contacts {} added, {} changed, {} deleted; deals {} added, {} changed ({} records changed)",
            thousands(size.later_records),
            thousands(c_added),
            thousands(c_changed),
            thousands(c_deleted),
            thousands(d_added),
            thousands(d_changed),
            thousands(c_added + c_changed + c_deleted + d_added + d_changed),
        );
    }
    for generated in &size.generated {
        println!(
            "  {:<24} {:>8.1} s   peak RSS {:>7.1} MB",
            generated.name,
            generated.wall.as_secs_f64(),
            generated.peak_rss_kb as f64 / 1024.0
        );
    }
    println!(
        "  {:<16} {:>8} {:>10} {:>9} {:>8} {:>11} {:>9} {:>12} {:>11} {:>8} {:>5}  ratio",
        "step",
        "wall s",
        "records/s",
        "peak MB",
        "CPU s",
        "rec/CPU s",
        "CPU s/1k",
        "sandbox CPU",
        "sandbox MB",
        "requests",
        "exit"
    );
    for step in steps {
        let ratio = ratios
            .iter()
            .filter(|(name, _)| *name == step.name)
            .filter_map(|(_, base)| size.step(base))
            .map(|base| {
                format!(
                    "{:.2}x {} (CPU {:.2}x)",
                    step.wall.as_secs_f64() / base.wall.as_secs_f64(),
                    base.name,
                    step.cpu.as_secs_f64() / base.cpu.as_secs_f64().max(1e-3)
                )
            })
            .collect::<Vec<_>>()
            .join("; ");
        println!(
            "  {:<16} {:>8.2} {:>10} {:>9.1} {:>8.2} {:>11} {:>9.3} {:>10.2} s {:>11.1} {:>8} {:>5}  {ratio}",
            step.name,
            step.wall.as_secs_f64(),
            thousands((step.records as f64 / step.wall.as_secs_f64()) as u64),
            step.peak_rss_kb as f64 / 1024.0,
            step.cpu.as_secs_f64(),
            thousands((step.records as f64 / step.cpu.as_secs_f64().max(1e-3)) as u64),
            step.cpu.as_secs_f64() * 1000.0 / step.records.max(1) as f64,
            step.sandbox_cpu.as_secs_f64(),
            step.sandbox_peak_kb as f64 / 1024.0,
            thousands(step.requests),
            step.exit,
        );
    }
    println!(
        "  read-back: {} records listed, 500 a page, one object after another, over plain HTTP",
        thousands(size.listed)
    );
    let measured = || steps.iter().skip(1).filter(|s| s.name != "read-back");
    let total: Duration = measured().map(|s| s.wall).sum();
    let host: Duration = measured().map(|s| s.cpu).sum();
    let served: Duration = measured().map(|s| s.sandbox_cpu).sum();
    let sandbox_peak = steps.iter().map(|s| s.sandbox_peak_kb).max().unwrap_or(0);
    println!(
        "  steps: {:.1} s wall; crm-migrate {:.1} CPU s, sandbox {:.1} CPU s; sandbox peak RSS (this process) {:.1} MB",
        total.as_secs_f64(),
        host.as_secs_f64(),
        served.as_secs_f64(),
        sandbox_peak as f64 / 1024.0
    );
    if let Some(crash) = &size.crash {
        print_crash(crash);
    }
    if let Some((peak, step)) = size.disk_peak() {
        println!(
            "  disk: this size took {} at its peak ({:.1} KB a contact, in {step}: its directory and the step's unlinked temporary files); the bench allowed {}",
            megabytes(peak),
            peak as f64 / size.contacts as f64 / 1000.0,
            megabytes(size.disk_estimate),
        );
    }
    // On a shared machine the wall times stretch with the load; the CPU figures do not.
    println!(
        "  load average (1 min) at the start {}, at the end {}",
        size.load_before,
        if size.load_after.is_empty() { load_average() } else { size.load_after.clone() }
    );
}

fn print_crash(crash: &Crash) {
    let points: Vec<String> = crash
        .kills
        .iter()
        .map(|(writes, wall)| format!("{} writes ({:.1} s in)", thousands(*writes), wall.as_secs_f64()))
        .collect();
    let wall: Duration = crash.runs.iter().map(|run| run.wall).sum();
    let cpu: Duration = crash.runs.iter().map(|run| run.cpu).sum();
    let peak = crash.runs.iter().map(|run| run.peak_rss_kb).max().unwrap_or(0);
    println!(
        "  kill -9: apply killed {} times (SIGKILL at {}; the clean apply wrote {}), resumed to the end: {} runs, {:.1} s wall, {:.1} CPU s, peak RSS {:.1} MB, last exit {}",
        crash.kills.len(),
        points.join(", "),
        thousands(crash.apply_writes),
        crash.runs.len(),
        wall.as_secs_f64(),
        cpu.as_secs_f64(),
        peak as f64 / 1024.0,
        crash.runs.last().map_or(-1, |run| run.exit),
    );
    let summary = |fates: &Fates| {
        let object = |(object, counts): (&String, &BTreeMap<String, u64>)| {
            let counts: Vec<String> =
                counts.iter().map(|(fate, count)| format!("{} {fate}", thousands(*count))).collect();
            format!("{object} {}", counts.join(" "))
        };
        fates.iter().map(object).collect::<Vec<_>>().join("; ")
    };
    println!("    journal, clean run:  {}", summary(&crash.fates_clean));
    if !crash.fates_equal {
        println!("    journal, killed run: {}", summary(&crash.fates_killed));
    }
    let comparison = &crash.comparison;
    println!(
        "    the sandbox holds {} records against the clean run's {}: {} duplicates, {} missing, {} not in the clean run{}",
        thousands(comparison.listed),
        thousands(crash.clean_listed),
        thousands(comparison.duplicates),
        thousands(comparison.missing),
        thousands(comparison.extra),
        if comparison.examples.is_empty() {
            String::new()
        } else {
            format!(" (e.g. {})", comparison.examples.join(", "))
        }
    );
    println!(
        "    kill -9 result: {} (journal fates equal the clean run's: {}; no duplicate: {}; nothing missing: {})",
        if crash.holds() { "PASS" } else { "FAIL" },
        yes(crash.fates_equal),
        yes(comparison.duplicates == 0),
        yes(comparison.missing == 0 && comparison.extra == 0),
    );
}

fn yes(holds: bool) -> &'static str {
    if holds { "yes" } else { "NO" }
}

/// With several sizes: each larger size's figures over the next smaller one's, per step.
fn print_growth(sizes: &[Size]) {
    for pair in sizes.windows(2) {
        let (small, large) = (&pair[0], &pair[1]);
        println!(
            "scale bench: {} contacts against {} ({:.1}x the records): the larger's figure over the smaller's",
            thousands(large.contacts as u64),
            thousands(small.contacts as u64),
            large.records as f64 / small.records as f64
        );
        println!("  {:<16} {:>10} {:>12} {:>10} {:>12}", "step", "peak RSS", "records/s", "CPU s/1k", "sandbox MB");
        for step in &large.steps {
            let Some(before) = small.steps.iter().find(|s| s.name == step.name) else { continue };
            let per_second = |s: &Step| s.records as f64 / s.wall.as_secs_f64();
            let per_1k = |s: &Step| s.cpu.as_secs_f64() / s.records as f64;
            let ratio = |a: f64, b: f64| if b > 0.0 { format!("{:.2}x", a / b) } else { "-".to_owned() };
            println!(
                "  {:<16} {:>10} {:>12} {:>10} {:>12}",
                step.name,
                ratio(step.peak_rss_kb as f64, before.peak_rss_kb as f64),
                ratio(per_second(step), per_second(before)),
                ratio(per_1k(step), per_1k(before)),
                ratio(step.sandbox_peak_kb as f64, before.sandbox_peak_kb as f64),
            );
        }
    }
}

/// The targets (issue 17) next to what was measured, each met or not: apply's memory at
/// the largest size and its growth over the next smaller, apply's records per second, plan
/// against the audit, verify against its read-back, and the kill -9 check. Wall time decides
/// (as the targets are put); CPU time is printed alongside.
fn print_targets(sizes: &[Size], kills: usize) {
    let Some(largest) = sizes.last() else { return };
    let at = |size: &Size| format!("{} contacts", thousands(size.contacts as u64));
    println!("scale bench: the targets of issue 17 at {}, the largest size run (wall time decides)", at(largest));
    // None: not measured (a step failed before it, or the run has not got what it needs).
    let row = |target: &str, goal: &str, measured: Option<(String, bool)>, why_not: &str| {
        let (figure, verdict) = match measured {
            Some((figure, met)) => (figure, if met { "met" } else { "NOT MET" }),
            None => (why_not.to_owned(), "not measured"),
        };
        println!("  {target:<40} {goal:>9}   {figure:<50} {verdict}");
    };
    println!("  {:<40} {:>9}   {:<50} verdict", "target", "goal", "measured");
    let apply = largest.step("apply");
    let mb = |step: &Step| step.peak_rss_kb as f64 / 1024.0;
    let failed = "- (a step failed before it)";
    row("apply: peak RSS", "<= 500 MB", apply.map(|a| (format!("{:.1} MB", mb(a)), mb(a) <= 500.0)), failed);
    let smaller = sizes.len().checked_sub(2).map(|i| &sizes[i]);
    let growth = smaller.and_then(|small| Some((small, small.step("apply")?, apply?))).map(|(small, before, after)| {
        let ratio = mb(after) / mb(before);
        let figure = format!("{ratio:.2}x ({:.1} MB at {})", mb(before), at(small));
        (figure, ratio <= 1.5)
    });
    let over = smaller.map_or("apply: peak RSS over a smaller size's".to_owned(), |small| {
        format!("apply: peak RSS over {}'s", thousands(small.contacts as u64))
    });
    row(&over, "<= 1.5x", growth, if smaller.is_some() { failed } else { "- (one size run)" });
    let per_second = |step: &Step| step.records as f64 / step.wall.as_secs_f64();
    let per_cpu_second = |step: &Step| step.records as f64 / step.cpu.as_secs_f64().max(1e-3);
    row(
        "apply: records a second",
        ">= 1,000",
        apply.map(|a| {
            let figure =
                format!("{} ({} a CPU second)", thousands(per_second(a) as u64), thousands(per_cpu_second(a) as u64));
            (figure, per_second(a) >= 1000.0)
        }),
        failed,
    );
    let ratio = |step: &str, base: &str| {
        let (step, base) = (largest.step(step)?, largest.step(base)?);
        let wall = step.wall.as_secs_f64() / base.wall.as_secs_f64();
        let cpu = step.cpu.as_secs_f64() / base.cpu.as_secs_f64().max(1e-3);
        Some((format!("{wall:.2}x (CPU {cpu:.2}x)"), wall <= 2.0))
    };
    row("plan / audit", "<= 2x", ratio("plan", "audit"), failed);
    row("verify / its read-back", "<= 2x", ratio("verify", "read-back"), failed);
    let crash = largest.crash.as_ref().map(|crash| {
        let comparison = &crash.comparison;
        let figure = format!(
            "{} ({} kills; {} duplicates, {} missing, {} extra)",
            if crash.holds() { "PASS" } else { "FAIL" },
            crash.kills.len(),
            thousands(comparison.duplicates),
            thousands(comparison.missing),
            thousands(comparison.extra),
        );
        (figure, crash.holds())
    });
    let why_not = if kills == 0 { "- (not run: SCALE_KILLS=0)" } else { failed };
    row("kill -9: no duplicate, nothing missing", "PASS", crash, why_not);
}

/// Copies every log of the size's directory `dir` into `kept`, for a failed size whose
/// directory goes.
fn keep_logs(dir: &Path, kept: &Path) {
    std::fs::create_dir_all(kept).unwrap();
    for (path, _) in files_below(dir).into_iter().filter(|(path, _)| path.extension().is_some_and(|e| e == "log")) {
        let _ = std::fs::copy(&path, kept.join(kept_name(dir, &path)));
    }
}

/// The name a log below `dir` is kept under (`killed-logs/apply-2.log`: `killed-logs-apply-2.log`).
fn kept_name(dir: &Path, log: &Path) -> String {
    log.strip_prefix(dir).unwrap_or(log).to_string_lossy().replace('/', "-")
}

/// The disk one size takes at its peak, estimated (`DISK_BYTES_PER_CONTACT`, with half again);
/// kept with a crash check, its clean project stays beside the killed one.
fn disk_needed(contacts: usize, kills: usize, keep: bool) -> u64 {
    let projects = if keep && kills > 0 { 2 } else { 1 };
    contacts as u64 * DISK_BYTES_PER_CONTACT * 3 / 2 * projects
}

/// Refuses (with what to do) when the filesystem of `dir` has less than `needed` free.
fn room_for(needed: u64, dir: &Path) -> Result<(), String> {
    let free = free_bytes(dir);
    if free >= needed {
        return Ok(());
    }
    Err(format!(
        "not enough disk: the run needs about {} and the filesystem of {} has {} free; free some space there (the runs left in it?) or run smaller sizes (SCALE_CONTACTS)",
        gigabytes(needed),
        dir.display(),
        gigabytes(free)
    ))
}

/// The bytes free to an unprivileged user on the filesystem of `dir` (statvfs).
#[allow(unsafe_code)] // statvfs
fn free_bytes(dir: &Path) -> u64 {
    let path = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a zeroed statvfs is a valid value for statvfs to fill in.
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: the path is a live NUL-terminated string, the pointer is to a live local.
    let answer = unsafe { libc::statvfs(path.as_ptr(), &mut stats) };
    assert_eq!(answer, 0, "statvfs {}: {}", dir.display(), std::io::Error::last_os_error());
    stats.f_bavail as u64 * stats.f_frsize as u64
}

/// What the files the process `pid` holds open but has unlinked take on disk (SQLite's
/// temporary databases, such as verify's read-back spool), read through /proc/PID/fd.
fn unlinked_open_files(pid: libc::pid_t) -> u64 {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).into_iter().flatten().flatten();
    let unlinked = fds.filter(|fd| {
        std::fs::read_link(fd.path()).is_ok_and(|to| to.as_os_str().as_encoded_bytes().ends_with(b" (deleted)"))
    });
    // The fd's metadata is its file's (the link is followed); files closed meanwhile are 0.
    let files = unlinked.filter_map(|fd| std::fs::metadata(fd.path()).ok()).filter(|m| m.is_file());
    files.map(|metadata| metadata.blocks() * 512).sum()
}

/// What the files below `dir` take on disk (their blocks), 0 when it is gone.
fn disk_usage(dir: &Path) -> u64 {
    files_below(dir).iter().map(|(_, metadata)| metadata.blocks() * 512).sum()
}

/// Every file below `dir`, with its metadata (none when `dir` is gone).
fn files_below(dir: &Path) -> Vec<(PathBuf, std::fs::Metadata)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(folder) = pending.pop() {
        // Files come and go while a step runs (the spool, SQLite's journals): those gone are skipped.
        for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            let Ok(metadata) = entry.metadata() else { continue };
            if metadata.is_dir() {
                pending.push(entry.path());
            } else {
                files.push((entry.path(), metadata));
            }
        }
    }
    files
}

fn megabytes(bytes: u64) -> String {
    format!("{} MB", thousands(bytes / 1_000_000))
}

fn gigabytes(bytes: u64) -> String {
    format!("{:.1} GB", bytes as f64 / 1e9)
}

/// The machine's load average over the last minute, as /proc/loadavg says it.
fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().next().unwrap_or("unknown").to_owned()
}

fn dir_bytes(dir: &Path) -> u64 {
    csv_files(dir).iter().map(|f| std::fs::metadata(f).unwrap().len()).sum()
}

fn count_lines(path: &Path) -> u64 {
    std::io::BufRead::lines(std::io::BufReader::new(std::fs::File::open(path).unwrap())).count() as u64
}

/// The last lines of a step's log, for a failure's message.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(40)..].join("\n")
}

/// A running step's log's last line (read from its last 4 KB), for its progress.
fn last_line(log: &Path) -> String {
    let Ok(mut file) = std::fs::File::open(log) else { return String::new() };
    let length = file.metadata().map_or(0, |m| m.len());
    let _ = file.seek(SeekFrom::Start(length.saturating_sub(4096)));
    let mut end = Vec::new();
    let _ = file.read_to_end(&mut end);
    let text = String::from_utf8_lossy(&end);
    let line = text.lines().rev().find(|line| !line.trim().is_empty()).unwrap_or_default();
    line.chars().filter(|c| !c.is_control()).take(120).collect()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| {
        // target/release/deps/scale_bench-HASH -> target
        std::env::current_exe().unwrap().ancestors().nth(3).unwrap().to_owned()
    })
}
