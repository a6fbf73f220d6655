//! Plugin benchmarks, printed as figures (run: `cargo bench -p crm-migrate`).
//!
//! 1. Throughput of clean-basic over 100,000 contacts of 12 fields: the WebAssembly component
//!    through the host (batch sizes 1, 100, 1000), against the same Rust logic compiled natively
//!    into the host. Both run through the same pipeline (`pipeline::clean`, batches of 1000), from
//!    host records to host records, so the ratio is what the sandbox costs.
//! 2. CPU budget: fuel against a wall-clock (epoch) budget, batch 1000.
//! 3. Plugin load: cold compile, load from the compiled-code cache, and fresh store + instance.
//! 4. The same clean written in Python (`plugins/clean-basic-py`, componentize-py): throughput
//!    against the Rust component in the same run, per batch of 1000 records, and its load times.
//!
//! Timings on this machine drift between runs; the ratios, taken inside one run, are the figures.
//! Section 1 also prints the CPU time of the benchmark's thread (which runs the whole pipeline,
//! the plugin included), best of the same rounds: on a machine shared with other builds the
//! wall-clock best of a short run depends on the scheduler's luck, its CPU time much less.
//! Environment: `CRM_BENCH_RECORDS` (default 100,000) for a quick run, `CRM_BENCH_WASM` for
//! another build of clean-basic, `CRM_BENCH_COMPARE` for a second build measured in the same
//! rounds (an older one, say: before and after in one run), `CRM_BENCH_SKIP_PYTHON` to leave out
//! section 4, `CRM_BENCH_PROFILE=N` to run only N rounds of the WebAssembly batch of 1000 and
//! stop (for `perf record`: nothing else in the samples).

use std::borrow::Cow;
use std::time::{Duration, Instant};

use clean_basic::CleanBasic;
use crm_migrate::pipeline::{self, BatchIds, Hooks};
use crm_migrate::plugins::{
    Call, CleanOutcome, CompileLimits, Compiler, ComponentCache, CpuBudget, FieldChange, FieldIssue, HookError, Limits,
    LoadedPlugin, MergeDecision, PluginHost,
};
use crm_migrate::record::{ObjectKind, Record, Value};
use crm_migrate_plugin_sdk::{self as sdk, Clean, Plugin};

const DEFAULT_RECORDS: usize = 100_000;
static RECORDS: std::sync::LazyLock<usize> = std::sync::LazyLock::new(|| {
    std::env::var("CRM_BENCH_RECORDS").ok().and_then(|n| n.parse().ok()).unwrap_or(DEFAULT_RECORDS)
});

fn main() {
    // CRM_BENCH_WASM benchmarks another build of clean-basic (another profile, say).
    let wasm = std::env::var_os("CRM_BENCH_WASM").map(std::path::PathBuf::from).unwrap_or_else(|| {
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/wasm32-wasip2/plugin/clean_basic.wasm")
    });
    assert!(wasm.exists(), "run `cargo build-plugins` first");
    let records = contacts(*RECORDS);
    let config = [("drop_email_domains", "test.invalid")];
    println!("clean-basic over {} contacts x 12 fields", *RECORDS);

    let native_plugin = NativeCleanBasic(CleanBasic::with_config(&config).unwrap());
    let config: Vec<(String, String)> = config.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let fuel_host = PluginHost::new(Limits::default(), ComponentCache::new(None)).unwrap();
    let fuel_plugin = fuel_host.open(&wasm, None).unwrap().configure(config.clone()).unwrap();
    let wall_clock = Limits {
        cpu: CpuBudget::WallClock { per_call: Duration::from_secs(1), per_record: Duration::from_millis(10) },
        ..Limits::default()
    };
    let epoch_host = PluginHost::new(wall_clock, ComponentCache::new(None)).unwrap();
    let epoch_plugin = epoch_host.open(&wasm, None).unwrap().configure(config.clone()).unwrap();
    let compare = std::env::var_os("CRM_BENCH_COMPARE").map(std::path::PathBuf::from);
    let compare_plugin =
        compare.as_ref().map(|path| fuel_host.open(path, None).unwrap().configure(config.clone()).unwrap());

    // One run of a pipeline over all records: time, fuel, and the records that come out; the
    // thread's CPU time in `cpu`.
    let cpu = std::cell::Cell::new(Duration::ZERO);
    let run = |hooks: &dyn Fn(Vec<Record>) -> pipeline::StageOutput| {
        let input = records.clone();
        let (started, cpu_started) = (Instant::now(), thread_cpu_time());
        let output = hooks(input);
        let elapsed = started.elapsed();
        cpu.set(thread_cpu_time().saturating_sub(cpu_started));
        assert!(output.failures.is_empty());
        (elapsed, output.fuel_used, output.records)
    };
    let native_run = |input| pipeline::clean(&native_plugin, input, 1000, &mut BatchIds::default());
    let fuel_plugin = &fuel_plugin;
    let wasm_run =
        |batch_size: usize| move |input| pipeline::clean(fuel_plugin, input, batch_size, &mut BatchIds::default());
    let epoch_run = |input| pipeline::clean(&epoch_plugin, input, 1000, &mut BatchIds::default());
    if let Some(rounds) = std::env::var("CRM_BENCH_PROFILE").ok().and_then(|n| n.parse::<usize>().ok()) {
        for _ in 0..rounds {
            run(&wasm_run(1000));
        }
        return;
    }

    // Rounds interleave the contenders, so that the machine's drift hits them alike; each
    // figure is the best of its rounds.
    let (mut native, mut fuel, mut epoch, mut compared) = (Duration::MAX, Duration::MAX, Duration::MAX, Duration::MAX);
    let (mut native_cpu, mut fuel_cpu, mut compared_cpu) = (Duration::MAX, Duration::MAX, Duration::MAX);
    let (mut fuel_per_record, mut compared_fuel_per_record) = (0, 0);
    for _ in 0..5 {
        let (native_time, _, native_records) = run(&native_run);
        native_cpu = native_cpu.min(cpu.get());
        let (fuel_time, fuel_used, wasm_records) = run(&wasm_run(1000));
        fuel_cpu = fuel_cpu.min(cpu.get());
        let (epoch_time, _, _) = run(&epoch_run);
        assert_eq!(wasm_records, native_records, "WASM and native agree");
        if let Some(plugin) = &compare_plugin {
            let (time, fuel_used, records) =
                run(&|input| pipeline::clean(plugin, input, 1000, &mut BatchIds::default()));
            assert_eq!(records, native_records, "the compared build agrees");
            compared = compared.min(time);
            compared_cpu = compared_cpu.min(cpu.get());
            compared_fuel_per_record = fuel_used / *RECORDS as u64;
        }
        native = native.min(native_time);
        fuel = fuel.min(fuel_time);
        epoch = epoch.min(epoch_time);
        fuel_per_record = fuel_used / *RECORDS as u64;
    }
    let line = |label: &str, elapsed: Duration, note: String| {
        println!(
            "  {label:<34} {:>8.1} ms  {:>9.0} records/s  {:>5.2}x native{note}",
            ms(elapsed),
            rate(elapsed),
            elapsed.as_secs_f64() / native.as_secs_f64()
        );
    };
    line("native (same logic, in the host)", native, String::new());
    for (batch_size, rounds) in [(1, 1), (100, 3)] {
        let elapsed = (0..rounds).map(|_| run(&wasm_run(batch_size)).0).min().expect("at least one round");
        line(&format!("wasm, batch {batch_size}, fuel budget"), elapsed, String::new());
    }
    line("wasm, batch 1000, fuel budget", fuel, format!("  ({fuel_per_record} fuel/record)"));
    line(
        "wasm, batch 1000, wall-clock budget",
        epoch,
        format!("  (fuel costs {:+.0}%)", (fuel.as_secs_f64() / epoch.as_secs_f64() - 1.0) * 100.0),
    );
    let name = compare.as_ref().and_then(|path| path.file_name()).map(|name| name.to_string_lossy().into_owned());
    if let Some(name) = &name {
        line(&format!("compared: {name}, batch 1000"), compared, format!("  ({compared_fuel_per_record} fuel/record)"));
    }
    println!("CPU time of the bench's thread, best of the same rounds");
    let cpu_line = |label: &str, time: Duration| {
        println!("  {label:<34} {:>8.1} ms  {:>5.2}x native", ms(time), time.as_secs_f64() / native_cpu.as_secs_f64());
    };
    cpu_line("native", native_cpu);
    cpu_line("wasm, batch 1000, fuel budget", fuel_cpu);
    if let Some(name) = &name {
        cpu_line(&format!("compared: {name}"), compared_cpu);
    }

    println!("plugin load (clean_basic.wasm, {} KB)", std::fs::metadata(&wasm).unwrap().len() / 1024);
    let cache_dir = tempfile::tempdir().unwrap();
    let cached = || PluginHost::new(Limits::default(), ComponentCache::new(Some(cache_dir.path().to_owned()))).unwrap();
    let (cold, _) = best_of(3, || {
        let host = PluginHost::new(Limits::default(), ComponentCache::new(None)).unwrap();
        let component = host.open(&wasm, None).unwrap();
        (component.load_time, ())
    });
    cached().open(&wasm, None).unwrap();
    let (warm, _) = best_of(20, || {
        let component = cached().open(&wasm, None).unwrap();
        assert_eq!(component.cache, crm_migrate::plugins::CacheOutcome::Hit);
        (component.load_time, ())
    });
    let instantiations = 2000;
    let started = Instant::now();
    for _ in 0..instantiations {
        fuel_plugin.instantiate().unwrap();
    }
    let instantiate = started.elapsed() / instantiations;
    let empty: [&Record; 0] = [];
    let started = Instant::now();
    for batch in 0..instantiations {
        fuel_plugin.clean(u64::from(batch), &empty).unwrap();
    }
    let empty_call = started.elapsed() / instantiations;
    println!("  cold compile                       {:>8.2} ms", ms(cold));
    println!(
        "  load from cache                    {:>8.3} ms  ({:.0}x faster than compiling)",
        ms(warm),
        cold.as_secs_f64() / warm.as_secs_f64()
    );
    println!("  new store + instance               {:>8.1} us", instantiate.as_secs_f64() * 1e6);
    println!(
        "  per-batch overhead (store, instance, configure, empty clean)  {:.1} us",
        empty_call.as_secs_f64() * 1e6
    );

    // The Python section compiles 18 MB of component (about 25 s of CPU): skipped on request
    // while iterating on the Rust plugin.
    if std::env::var_os("CRM_BENCH_SKIP_PYTHON").is_none() {
        python_against_rust(&records, &config, fuel_plugin);
    }
}

/// Section 4: clean-basic written in Python, against the Rust component in the same run: interleaved
/// rounds of batch 1000 under the default limits, then its load times.
fn python_against_rust(records: &[Record], config: &[(String, String)], rust: &LoadedPlugin) {
    let wasm =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/wasm32-wasip2/plugin/clean_basic_py.wasm");
    assert!(wasm.exists(), "run `plugins/clean-basic-py/build` first");
    let cache_dir = tempfile::tempdir().unwrap();
    // Its 18 MB take about 25 s of CPU to compile: more than the default compile limit on a
    // busy machine, which is not what is measured here.
    let compiler = Compiler {
        limits: CompileLimits { timeout: Duration::from_secs(600), ..CompileLimits::default() },
        ..Compiler::default()
    };
    let host = || {
        PluginHost::new(Limits::default(), ComponentCache::new(Some(cache_dir.path().to_owned())))
            .unwrap()
            .with_compiler(compiler.clone())
    };
    let python_host = host();
    let component = python_host.open(&wasm, None).unwrap();
    let cold = component.load_time;
    let python = component.configure(config.to_vec()).unwrap();

    let run = |plugin: &LoadedPlugin| {
        let started = Instant::now();
        let output = pipeline::clean(plugin, records.to_vec(), 1000, &mut BatchIds::default());
        let elapsed = started.elapsed();
        assert!(output.failures.is_empty(), "{:?}", output.failures);
        (elapsed, output.fuel_used, output.records)
    };
    let (mut rust_time, mut python_time, mut python_fuel) = (Duration::MAX, Duration::MAX, 0);
    for _ in 0..3 {
        let (rust_elapsed, _, rust_records) = run(rust);
        let (python_elapsed, fuel, python_records) = run(&python);
        assert!(python_records == rust_records, "the Python and Rust components agree");
        rust_time = rust_time.min(rust_elapsed);
        python_time = python_time.min(python_elapsed);
        python_fuel = fuel / *RECORDS as u64;
    }
    let batches = (*RECORDS).div_ceil(1000) as u32;
    println!("clean-basic-py (Python, componentize-py) against clean-basic (Rust), both WebAssembly, batch 1000");
    for (label, elapsed, note) in [
        ("Rust component", rust_time, String::new()),
        ("Python component", python_time, format!("  ({python_fuel} fuel/record)")),
    ] {
        println!(
            "  {label:<34} {:>8.1} ms  {:>9.0} records/s  {:>7.1} ms per 1000 records{note}",
            ms(elapsed),
            rate(elapsed),
            ms(elapsed / batches)
        );
    }
    println!("  Python / Rust                      {:>8.1}x", python_time.as_secs_f64() / rust_time.as_secs_f64());

    let (warm, _) = best_of(3, || {
        let component = host().open(&wasm, None).unwrap();
        assert_eq!(component.cache, crm_migrate::plugins::CacheOutcome::Hit);
        (component.load_time, ())
    });
    let calls = 50;
    let started = Instant::now();
    for _ in 0..calls {
        python.instantiate().unwrap();
    }
    let instantiate = started.elapsed() / calls;
    let empty: [&Record; 0] = [];
    let started = Instant::now();
    for batch in 0..calls {
        python.clean(u64::from(batch), &empty).unwrap();
    }
    let empty_call = started.elapsed() / calls;
    println!("plugin load (clean_basic_py.wasm, {} KB)", std::fs::metadata(&wasm).unwrap().len() / 1024);
    println!("  cold compile                       {:>8.0} ms", ms(cold));
    println!("  load from cache                    {:>8.1} ms", ms(warm));
    println!("  new store + instance               {:>8.1} us", instantiate.as_secs_f64() * 1e6);
    println!(
        "  per-batch overhead (store, instance, configure, empty clean)  {:.1} us",
        empty_call.as_secs_f64() * 1e6
    );
}

/// The native baseline: clean-basic's logic compiled into the host, answering the pipeline's
/// clean calls on the same records, as the component does through the sandbox.
struct NativeCleanBasic(CleanBasic);

impl Hooks for NativeCleanBasic {
    fn clean(&self, _batch: u64, records: &[&Record]) -> Result<Call<Vec<CleanOutcome>>, HookError> {
        let output = records
            .iter()
            .map(|record| {
                let mut view = sdk::Record::new(sdk::ObjectKind::Contact, record.source_id.as_str());
                for (name, value) in &record.fields {
                    view = view.with(name.as_str(), to_sdk(value));
                }
                match self.0.clean(&mut view).expect("clean-basic reports no errors") {
                    sdk::Outcome::Keep => CleanOutcome::Keep(
                        view.changes()
                            .map(|(field, value)| FieldChange { field: field.to_owned(), value: from_sdk(value) })
                            .collect(),
                    ),
                    sdk::Outcome::Drop(reason) => CleanOutcome::Drop(reason),
                    sdk::Outcome::Reject(issues) => CleanOutcome::Reject(
                        issues
                            .into_iter()
                            .map(|issue| FieldIssue { field: issue.field, message: issue.message })
                            .collect(),
                    ),
                }
            })
            .collect();
        Ok(Call { output, logs: Vec::new(), fuel_used: None })
    }

    fn match_keys(&self, _batch: u64, _records: &[&Record]) -> Result<Call<Vec<Vec<String>>>, HookError> {
        unreachable!("clean-basic has no dedup hook")
    }

    fn merge(
        &self,
        _batch: u64,
        _records: &[&Record],
        _groups: &[Vec<u32>],
    ) -> Result<Call<Vec<MergeDecision>>, HookError> {
        unreachable!("clean-basic has no dedup hook")
    }
}

fn to_sdk(value: &Value) -> sdk::Value<'_> {
    match value {
        Value::Text(text) => sdk::Value::Text(Cow::Borrowed(text)),
        Value::Null => sdk::Value::Null,
        other => unreachable!("the benchmark's records are text: {other:?}"),
    }
}

fn from_sdk(value: &sdk::Value<'_>) -> Value {
    match value {
        sdk::Value::Text(text) => Value::Text(text.to_string()),
        sdk::Value::Null => Value::Null,
        other => unreachable!("clean-basic sets text or null: {other:?}"),
    }
}

/// Deterministic contacts with the troubles real exports have: mixed-case emails, stray
/// spaces, national phone formats, empty names, multi-line notes.
fn contacts(n: usize) -> Vec<Record> {
    let first = ["Ada", "Jan", "Marta", " Piotr", "Grace", "Zofia", "Tomasz  ", "Anna"];
    let last = ["Lovelace", "Kowalski", "Nowak", "Zieliński", "Hopper", "Wiśniewska"];
    let cities = ["Kraków", "Warszawa ", "  Gdańsk", "Poznań", "Wrocław"];
    let phones = ["501 234 567", "+48 600-100-200", "0048 512345678", "(22) 123 45 67", "not a phone"];
    let mut seed: u64 = 42;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed as usize
    };
    (0..n)
        .map(|i| {
            let (f, l) = (first[next() % first.len()], last[next() % last.len()]);
            let email = if i % 7 == 0 {
                format!(" {f}.{l}{i}@Example.COM")
            } else {
                format!("{}.{}{i}@firma.pl", f.trim(), l).to_lowercase()
            };
            let text = |s: &str| Value::Text(s.to_owned());
            Record {
                kind: ObjectKind::Contact,
                source_id: format!("u-{i}"),
                fields: vec![
                    ("email".into(), text(&email)),
                    ("first_name".into(), text(f)),
                    ("last_name".into(), text(l)),
                    ("name".into(), if i % 3 == 0 { Value::Null } else { text(&format!("{} {l}", f.trim())) }),
                    ("phone_number".into(), text(phones[next() % phones.len()])),
                    ("company_name".into(), text(&format!("Firma  {} Sp. z o.o.", next() % 500))),
                    ("city".into(), text(cities[next() % cities.len()])),
                    ("country".into(), text("PL")),
                    ("job_title".into(), text("Head of Sales")),
                    ("website".into(), text(&format!("https://firma{}.pl", next() % 500))),
                    ("notes".into(), text("Met at the expo.  \nWants a demo in Q3.")),
                    ("source".into(), text("import")),
                ],
            }
        })
        .collect()
}

/// CPU time this thread has used.
fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `now` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID needs nothing else.
    #[allow(unsafe_code)]
    let status = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(status, 0, "the thread's CPU clock");
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

fn best_of<T>(runs: usize, mut run: impl FnMut() -> (Duration, T)) -> (Duration, T) {
    (0..runs).map(|_| run()).min_by_key(|(elapsed, _)| *elapsed).expect("at least one run")
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn rate(duration: Duration) -> f64 {
    *RECORDS as f64 / duration.as_secs_f64()
}
