//! Extract + audit benchmark, printed as figures (run: `cargo bench -p crm-migrate --bench extract_bench`).
//!
//! A generated User.com export of 1,000,000 contacts (`CRM_BENCH_CONTACTS` for another size; with
//! its companies, deals, activities, events and conversations in the sample's proportions) is
//! read, normalized and audited exactly as `crm-migrate audit` does it, reports included. The
//! baseline is the same files through a bare `csv` crate parse (byte records, nothing else).
//! Each measurement runs in a child process of its own, so that one's peak memory (VmHWM) does
//! not hide the other's; rounds alternate the two and the best time of each is kept. The ratio
//! between them, taken in one run, is the figure (this machine's timings drift from run to run):
//! by wall time, and by CPU time (user + system, every thread), which a busy machine disturbs
//! less.
//!
//! The export is generated once into `target/bench-exports/` and reused.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crm_migrate::audit::report::thousands;

#[path = "support/csv_baseline.rs"]
mod csv_baseline;
use csv_baseline::{bare_parse, csv_files};

const DEFAULT_CONTACTS: usize = 1_000_000;
const ROUNDS: usize = 3;

fn main() {
    if let Ok(role) = std::env::var("CRM_BENCH_CHILD") {
        let dir = PathBuf::from(std::env::var("CRM_BENCH_DIR").expect("the parent names the export"));
        child(&role, &dir);
        return;
    }
    let contacts = std::env::var("CRM_BENCH_CONTACTS")
        .ok()
        .map(|n| n.replace('_', "").parse().expect("CRM_BENCH_CONTACTS is a number"))
        .unwrap_or(DEFAULT_CONTACTS);
    let dir = export_dir(contacts);
    let files: Vec<PathBuf> = csv_files(&dir);
    let bytes: u64 = files.iter().map(|f| std::fs::metadata(f).unwrap().len()).sum();

    let mut bare = Measurement::worst();
    let mut audit = Measurement::worst();
    for _ in 0..ROUNDS {
        bare = bare.best(run_child("bare", &dir));
        audit = audit.best(run_child("audit", &dir));
    }
    assert_eq!(bare.records, audit.records, "both read every record of every file");
    println!(
        "read + normalize + audit of a generated User.com export: {} contacts, {} records in {} files ({:.0} MB), best of {ROUNDS}",
        thousands(contacts as u64),
        thousands(audit.records),
        files.len(),
        bytes as f64 / 1e6
    );
    let line = |label: &str, m: &Measurement, note: &str| {
        println!(
            "  {label:<36} {:>8.0} ms  {:>10} records/s  {:>6.1} MB/s  peak RSS {:>6.1} MB  {:>5.2}x bare  CPU {:>6.0} ms {:>5.2}x bare{note}",
            m.elapsed.as_secs_f64() * 1000.0,
            thousands((m.records as f64 / m.elapsed.as_secs_f64()) as u64),
            bytes as f64 / 1e6 / m.elapsed.as_secs_f64(),
            m.peak_rss_kb as f64 / 1024.0,
            m.elapsed.as_secs_f64() / bare.elapsed.as_secs_f64(),
            m.cpu.as_secs_f64() * 1000.0,
            m.cpu.as_secs_f64() / bare.cpu.as_secs_f64()
        );
    };
    line("bare csv parse (baseline)", &bare, "");
    line("extract + normalize + audit + reports", &audit, "   (targets: <= 3x, <= 300 MB)");
}

/// One child's figures.
#[derive(Clone, Copy)]
struct Measurement {
    elapsed: Duration,
    cpu: Duration,
    records: u64,
    peak_rss_kb: u64,
}

impl Measurement {
    fn worst() -> Self {
        Measurement { elapsed: Duration::MAX, cpu: Duration::MAX, records: 0, peak_rss_kb: 0 }
    }

    /// The fastest times; the highest peak memory seen in any round.
    fn best(self, other: Measurement) -> Measurement {
        Measurement {
            elapsed: self.elapsed.min(other.elapsed),
            cpu: self.cpu.min(other.cpu),
            records: other.records,
            peak_rss_kb: self.peak_rss_kb.max(other.peak_rss_kb),
        }
    }
}

fn run_child(role: &str, dir: &Path) -> Measurement {
    let output = Command::new(std::env::current_exe().unwrap())
        .env("CRM_BENCH_CHILD", role)
        .env("CRM_BENCH_DIR", dir)
        .output()
        .expect("the benchmark runs itself");
    assert!(output.status.success(), "{role}: {}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8(output.stdout).unwrap();
    let numbers: Vec<u64> = text.split_whitespace().map(|n| n.parse().unwrap()).collect();
    let [nanos, cpu_nanos, records, peak_rss_kb] = numbers[..] else { panic!("{role} printed {text}") };
    Measurement { elapsed: Duration::from_nanos(nanos), cpu: Duration::from_nanos(cpu_nanos), records, peak_rss_kb }
}

/// In the child: one measurement, printed as `nanoseconds cpu_nanoseconds records peak_rss_kb`.
fn child(role: &str, dir: &Path) {
    let started = Instant::now();
    let records = match role {
        "bare" => bare_parse(dir),
        "audit" => audit(dir),
        other => panic!("unknown role {other}"),
    };
    let elapsed = started.elapsed();
    println!("{} {} {records} {}", elapsed.as_nanos(), cpu_time().as_nanos(), peak_rss_kb());
}

/// What `crm-migrate audit` does: open, read and type every file, audit, write the reports.
fn audit(dir: &Path) -> u64 {
    let out = tempfile::tempdir().unwrap();
    let export = crm_migrate::extract::Export::open(dir, crm_migrate::extract::ExportOptions::default()).unwrap();
    let (audit, _) = crm_migrate::audit::report::write_reports(&export, out.path()).unwrap();
    audit.files.iter().map(|file| file.rows).sum()
}

/// CPU time of this process so far, user and system, all its threads.
#[allow(unsafe_code)] // getrusage
fn cpu_time() -> Duration {
    // SAFETY: a zeroed rusage is a valid value for getrusage to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: RUSAGE_SELF and a valid pointer to an rusage.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    let of = |time: libc::timeval| Duration::new(time.tv_sec as u64, time.tv_usec as u32 * 1000);
    of(usage.ru_utime) + of(usage.ru_stime)
}

fn peak_rss_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The generated export for `contacts`, made once and kept under target/.
fn export_dir(contacts: usize) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| {
        // target/release/deps/extract_bench-HASH -> target
        std::env::current_exe().unwrap().ancestors().nth(3).unwrap().to_owned()
    });
    let options = usercom_export_gen::Options { contacts, ..usercom_export_gen::Options::default() };
    let dir = target.join("bench-exports").join(format!("usercom-{contacts}-seed{}", options.seed));
    let done = dir.join("planted.json.done");
    if !done.exists() {
        eprintln!("generating a {contacts}-contact export into {} (once)...", dir.display());
        let started = Instant::now();
        let _ = std::fs::remove_dir_all(&dir);
        let planted = usercom_export_gen::generate(&dir, &options).unwrap();
        std::fs::write(&done, serde_json::to_string_pretty(&planted).unwrap()).unwrap();
        eprintln!("  generated in {:.1} s", started.elapsed().as_secs_f64());
    }
    dir
}
