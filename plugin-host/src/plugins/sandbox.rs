//! The sandbox every hook call runs in: a fresh store with deny-all WASI, a memory cap, a CPU
//! budget and a bounded log, and the translation of whatever stopped a call into a
//! [`HookFailure`].

use std::time::Duration;

use wasmtime::component::{HasData, Linker, ResourceTable};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ResourceLimiter, Store, StoreContextMut, Trap,
};
use wasmtime_wasi::cli::{WasiCli, WasiCliView};
use wasmtime_wasi::p2::bindings::{cli, random, sync::io};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::random::WasiRandom;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::error::HookFailure;
use super::types::PluginLog;

/// How much CPU a hook call may use: a base per call plus an amount per record of the batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CpuBudget {
    /// Counted in wasmtime fuel (about one unit per WebAssembly instruction). Deterministic:
    /// the same plugin on the same batch stops at the same point on any machine and any load,
    /// so a re-run quarantines exactly the same records. The default (see the README for the
    /// measured cost against `WallClock`).
    Fuel { per_call: u64, per_record: u64 },
    /// Wall-clock time, checked by epoch interruption on a 10 ms tick. Cheaper per instruction,
    /// but a batch near the limit may pass on an idle machine and fail on a busy one.
    WallClock { per_call: Duration, per_record: Duration },
}

impl CpuBudget {
    fn describe(&self, records: usize) -> String {
        match *self {
            CpuBudget::Fuel { per_call, per_record } => {
                format!("{} fuel", per_call.saturating_add(per_record.saturating_mul(records as u64)))
            }
            CpuBudget::WallClock { per_call, per_record } => {
                format!("{:?}", per_call + per_record * records as u32)
            }
        }
    }
}

/// Per-call limits. The defaults leave a well-behaved plugin a wide margin (clean-basic uses
/// about 27,000 fuel and a few KiB per record) and stop a runaway one within seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub cpu: CpuBudget,
    /// Linear memory a plugin instance may grow to.
    pub memory_bytes: usize,
    /// Output (strings returned) allowed per call: a base plus an amount per record.
    pub output_bytes_per_call: usize,
    pub output_bytes_per_record: usize,
    /// WebAssembly stack.
    pub stack_bytes: usize,
    /// Core WebAssembly instances one plugin component may hold, and as many tables: a Rust
    /// plugin holds a handful (its module, the WASI adapter, shims), a Python one built by
    /// componentize-py 38 (CPython, its libc and extension libraries, each a core instance).
    /// Each costs host memory at instantiation, so it is a limit a trust store can lower.
    pub core_instances: u32,
    /// Wall-clock deadline of a call (a base plus an amount per record), whatever its CPU
    /// budget: it backs fuel up for time that fuel does not count (the host lifting a plugin's
    /// output, a machine that is much slower than expected). Checked by epoch interruption.
    pub deadline_per_call: Duration,
    pub deadline_per_record: Duration,
    /// A cap on that deadline, whatever the batch's size (a trust store's `batch_seconds`).
    pub max_deadline: Option<Duration>,
    /// The largest whole-run budget a project may give a plugin (`[[plugins]]` `max_run_fuel`,
    /// `max_run_seconds`); larger values are capped to it.
    pub max_run_budget: RunBudget,
}

/// What one plugin may spend over a whole run, summed over its calls: a plugin that burns its
/// full per-call budget on every batch is stopped once this is used up, and every later batch
/// is quarantined without running it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunBudget {
    /// Fuel over all calls (used only when the CPU budget is counted in fuel).
    pub fuel: u64,
    /// Wall-clock time over all calls.
    pub time: Duration,
}

impl RunBudget {
    /// What a plugin gets when its `[[plugins]]` entry sets no budget: 40 times what
    /// clean-basic needs for 100,000 records (27,000 fuel a record), and two hours.
    pub const DEFAULT: RunBudget = RunBudget { fuel: 100_000_000_000, time: Duration::from_secs(2 * 3600) };
    /// The most a project may give a plugin.
    pub const HOST_MAXIMUM: RunBudget = RunBudget { fuel: 10_000_000_000_000, time: Duration::from_secs(24 * 3600) };

    /// This budget, each part capped by `maximum`.
    pub fn capped(self, maximum: RunBudget) -> RunBudget {
        RunBudget { fuel: self.fuel.min(maximum.fuel), time: self.time.min(maximum.time) }
    }
}

impl Default for RunBudget {
    fn default() -> Self {
        RunBudget::DEFAULT
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            cpu: CpuBudget::Fuel { per_call: 100_000_000, per_record: 5_000_000 },
            memory_bytes: 256 << 20,
            output_bytes_per_call: 1 << 20,
            output_bytes_per_record: 16 << 10,
            stack_bytes: 512 << 10,
            core_instances: 64,
            // 30 s for a 1,000-record batch: the default fuel budget (5.1 billion) runs in about
            // 3 s on one core of the CI machine, so only a call far off its fuel trips this.
            deadline_per_call: Duration::from_secs(10),
            deadline_per_record: Duration::from_millis(20),
            max_deadline: None,
            max_run_budget: RunBudget::HOST_MAXIMUM,
        }
    }
}

impl Limits {
    pub fn output_limit(&self, records: usize) -> usize {
        self.output_bytes_per_call.saturating_add(self.output_bytes_per_record.saturating_mul(records))
    }

    /// What a component must fit in to be instantiated, as a refusal names it.
    pub fn instance_limits(&self) -> String {
        format!("memory limit of {} MiB, {} core instances", self.memory_bytes >> 20, self.core_instances)
    }

    /// The wall-clock deadline of a call over `records` records.
    pub fn deadline(&self, records: usize) -> Duration {
        let per_record = self.deadline_per_record.saturating_mul(u32::try_from(records).unwrap_or(u32::MAX));
        let deadline = self.deadline_per_call.saturating_add(per_record);
        self.max_deadline.map_or(deadline, |max| deadline.min(max))
    }

    fn fuel(&self, records: usize) -> Option<u64> {
        match self.cpu {
            CpuBudget::Fuel { per_call, per_record } => {
                Some(per_call.saturating_add(per_record.saturating_mul(records as u64)))
            }
            CpuBudget::WallClock { .. } => None,
        }
    }

    fn cpu_time(&self, records: usize) -> Option<Duration> {
        match self.cpu {
            CpuBudget::Fuel { .. } => None,
            CpuBudget::WallClock { per_call, per_record } => {
                Some(per_call.saturating_add(per_record.saturating_mul(u32::try_from(records).unwrap_or(u32::MAX))))
            }
        }
    }
}

/// Each element of a plugin's output (a change, a choice, a key, an outcome, an option...)
/// costs this many bytes of the output limit on top of its text, so that a list of empty
/// strings is not free: the host holds each in a 24-byte `String` at least, and a change as a
/// 56-byte `FieldChange`, then as a before/after `Change` and a record field (about 200 bytes).
/// It also bounds the host's work on an answer: at 128, the most elements a 1,000-record batch
/// may return (about 125,000) take the host about as long as the batch's fuel budget lets the
/// fastest guest loop run (see the README). 16 KiB a record still allows 128 elements a record.
pub const OUTPUT_ELEMENT_BYTES: usize = 128;
/// While a hook's answer (or a `host.log` message) is lifted into the host, wasmtime stops once
/// the host would hold more than this many times the output limit, and at least
/// [`LIFT_LIMIT_FLOOR`] (counted as the host types' sizes: 24 bytes for an empty string). The
/// element-level check after lifting gives the precise error; this keeps the lifting itself
/// bounded, so that a list of millions of empty strings is refused before it is allocated.
const LIFT_LIMIT_FACTOR: usize = 4;
const LIFT_LIMIT_FLOOR: usize = 64 << 20;

/// What one `host.log` call costs in fuel: a fixed part (a host call with its lifting costs
/// about as much host time as this much guest code) and a part per byte of the message
/// (copied and checked as UTF-8). See the README for the measurement behind these.
pub const LOG_CALL_FUEL: u64 = 100_000;
pub const LOG_BYTE_FUEL: u64 = 4;
/// The longest message one `host.log` call may pass; a longer one fails the batch.
pub const MAX_LOG_MESSAGE_BYTES: usize = 64 << 10;
/// `host.log` calls one hook call may make: a base plus an amount per record; one more fails
/// the batch.
pub const MAX_LOG_CALLS_PER_CALL: u64 = 10_000;
pub const MAX_LOG_CALLS_PER_RECORD: u64 = 10;
/// A failure reason kept for the reports is cut to this many bytes (plus a note of the size).
pub const MAX_REASON_BYTES: usize = 1024;

/// `text`, cut at a character boundary to [`MAX_REASON_BYTES`] with a note of its full size.
pub fn shorten(text: String) -> String {
    shorten_to(text, MAX_REASON_BYTES)
}

/// `text`, cut at a character boundary to `max` bytes with a note of its full size.
pub fn shorten_to(text: String, max: usize) -> String {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}... ({} bytes in all, cut)", &text[..end], text.len())
}

/// What a call may still spend of its plugin's whole-run budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunLeft {
    pub fuel: u64,
    pub time: Duration,
    /// The run budget, as the failure names it.
    pub budget: RunBudget,
}

/// The budgets one call got, and which one binds, so that a stop is named for what stopped it.
#[derive(Debug, Clone, Copy, Default)]
struct CallBudget {
    fuel_cut_by_run: bool,
    deadline: Duration,
    deadline_is_cpu_budget: bool,
    deadline_cut_by_run: bool,
    run_budget: Option<RunBudget>,
    records: usize,
}

/// What `wasi:random/insecure-seed` answers: always the same, so that a `HashMap` (whose
/// hasher std seeds from it) iterates in the same order on every run.
const FIXED_HASH_SEED: u128 = 0x6372_6d2d_6d69_6772_6174_6520_7365_6564;
const EPOCH_TICK: Duration = Duration::from_millis(10);
/// Plugin instances alive at once (one per call in flight).
const POOL_INSTANCES: u32 = 16;
/// Linear memory kept mapped between the instances that reuse a pool slot. A fresh mapping per
/// batch paid a page fault and a page clear for every page the plugin touched; resident pages
/// are reset with a memset instead.
const KEEP_RESIDENT_BYTES: usize = 16 << 20;
const STDERR_CAPACITY: usize = 16 << 10;
const LOG_LINES: usize = 100;
const LOG_BYTES: usize = 64 << 10;

/// The engine settings that shape compiled code: everything but how instances are allocated.
/// A plugin is compiled in a child process (see `compile`) by an engine built from these alone,
/// and its code must load into the sandbox's engine: a setting that changes compiled code
/// belongs here, or every load fails with "incompatible" until it does.
pub(super) fn compile_config(limits: &Limits) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.max_wasm_stack(limits.stack_bytes);
    if let CpuBudget::Fuel { .. } = limits.cpu {
        config.consume_fuel(true);
    }
    // Always on: with a fuel budget the epoch is the wall-clock deadline that backs it up.
    config.epoch_interruption(true);
    config
}

/// The engine, configured for the chosen CPU budget, and the limits it enforces.
pub struct Sandbox {
    engine: Engine,
    limits: Limits,
}

impl Sandbox {
    pub fn new(limits: Limits) -> wasmtime::Result<Sandbox> {
        let mut config = compile_config(&limits);
        let mut pool = PoolingAllocationConfig::default();
        let per_component = limits.core_instances.max(1);
        pool.total_component_instances(POOL_INSTANCES)
            .total_core_instances(POOL_INSTANCES.saturating_mul(per_component))
            .total_memories(POOL_INSTANCES)
            .total_tables(POOL_INSTANCES.saturating_mul(per_component))
            .max_core_instances_per_component(per_component)
            .max_tables_per_component(per_component)
            .max_memory_size(limits.memory_bytes)
            .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
            .table_keep_resident(64 << 10);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config)?;
        {
            let weak = engine.weak();
            std::thread::Builder::new().name("plugin-epoch-ticker".into()).spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(EPOCH_TICK);
                }
            })?;
        }
        Ok(Sandbox { engine, limits })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// A fresh store for one call over `records` records, with its budgets set.
    pub fn store(&self, records: usize) -> Store<StoreState> {
        self.store_within(records, None)
    }

    /// A fresh store for one call, its budgets also capped by what is left of its plugin's
    /// whole-run budget.
    pub fn store_within(&self, records: usize, run: Option<RunLeft>) -> Store<StoreState> {
        let stderr = MemoryOutputPipe::new(STDERR_CAPACITY);
        // Deny-all WASI: no environment, arguments or preopened directories; stdin empty;
        // stdout discarded; stderr kept only to report panics; a fixed hash seed. Clocks, real
        // randomness, files and sockets are not even linked (see `link_std_wasi_stubs`).
        let wasi = WasiCtx::builder().stderr(stderr.clone()).insecure_random_seed(FIXED_HASH_SEED).build();
        let state = StoreState {
            wasi,
            table: ResourceTable::new(),
            memory: MemoryCap { limit: self.limits.memory_bytes, refused: None },
            logs: Vec::new(),
            log_bytes: 0,
            logs_dropped: 0,
            log_calls: 0,
            max_log_calls: MAX_LOG_CALLS_PER_CALL
                .saturating_add(MAX_LOG_CALLS_PER_RECORD.saturating_mul(records as u64)),
            log_failure: None,
            budget: CallBudget { records, run_budget: run.map(|run| run.budget), ..CallBudget::default() },
            stderr,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.memory);
        store.set_hostcall_fuel(
            self.limits.output_limit(records).saturating_mul(LIFT_LIMIT_FACTOR).max(LIFT_LIMIT_FLOOR),
        );
        let mut budget = store.data().budget;
        if let Some(fuel) = self.limits.fuel(records) {
            let fuel = match run {
                Some(run) if run.fuel < fuel => {
                    budget.fuel_cut_by_run = true;
                    run.fuel
                }
                _ => fuel,
            };
            store.set_fuel(fuel).expect("fuel is enabled on this engine");
        }
        let (mut deadline, backstop) = (self.limits.deadline(records), self.limits.deadline(records));
        if let Some(cpu_time) = self.limits.cpu_time(records).filter(|cpu_time| *cpu_time <= backstop) {
            deadline = cpu_time;
            budget.deadline_is_cpu_budget = true;
        }
        if let Some(run) = run.filter(|run| run.time < deadline) {
            deadline = run.time;
            budget.deadline_cut_by_run = true;
        }
        budget.deadline = deadline;
        store.data_mut().budget = budget;
        let ticks = u64::try_from(deadline.as_millis()).unwrap_or(u64::MAX) / EPOCH_TICK.as_millis() as u64 + 1;
        store.set_epoch_deadline(ticks);
        store
    }

    /// What stopped a call, in terms a migration engineer can act on.
    pub fn classify(&self, store: &Store<StoreState>, error: wasmtime::Error, records: usize) -> HookFailure {
        if let Some(requested) = store.data().memory.refused {
            return HookFailure::MemoryLimit { requested, limit: self.limits.memory_bytes };
        }
        if let Some(failure) = &store.data().log_failure {
            return failure.clone();
        }
        let budget = store.data().budget;
        let run_exhausted = || HookFailure::RunBudgetExhausted { budget: describe_run_budget(budget.run_budget) };
        match error.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) if budget.fuel_cut_by_run => run_exhausted(),
            Some(Trap::Interrupt) if budget.deadline_cut_by_run => run_exhausted(),
            Some(Trap::Interrupt) if !budget.deadline_is_cpu_budget => {
                HookFailure::DeadlineExceeded { deadline: format!("{:?}", budget.deadline) }
            }
            Some(Trap::OutOfFuel) | Some(Trap::Interrupt) => {
                HookFailure::CpuBudgetExhausted { budget: self.limits.cpu.describe(records) }
            }
            Some(Trap::StackOverflow) => HookFailure::StackOverflow,
            // wasmtime's own message when lifting an answer would exceed the store's hostcall
            // fuel (its error type is private; the version is pinned in Cargo.toml).
            _ if format!("{error:#}").contains("fuel allocated for hostcalls has been exhausted") => {
                HookFailure::OutputTooLargeToLift { limit: store.hostcall_fuel() }
            }
            _ => match store.data().panic_message() {
                Some(message) => HookFailure::Panic { message: shorten(message) },
                None => HookFailure::Trap { message: format!("{error:#}") },
            },
        }
    }
}

/// Links the WASI interfaces Rust's std imports (`contract::STD_WASI_INTERFACES`), and only
/// those: a plugin gets no clock, no real randomness, no file system or socket even by accident.
pub fn link_std_wasi_stubs(linker: &mut Linker<StoreState>) -> wasmtime::Result<()> {
    io::error::add_to_linker::<StoreState, Table>(linker, |state| &mut state.table)?;
    io::poll::add_to_linker::<StoreState, Table>(linker, |state| &mut state.table)?;
    io::streams::add_to_linker::<StoreState, Table>(linker, |state| &mut state.table)?;
    cli::exit::add_to_linker::<StoreState, WasiCli>(linker, StoreState::cli)?;
    cli::environment::add_to_linker::<StoreState, WasiCli>(linker, StoreState::cli)?;
    cli::stdin::add_to_linker::<StoreState, WasiCli>(linker, StoreState::cli)?;
    cli::stdout::add_to_linker::<StoreState, WasiCli>(linker, StoreState::cli)?;
    cli::stderr::add_to_linker::<StoreState, WasiCli>(linker, StoreState::cli)?;
    cli::terminal_input::add_to_linker::<StoreState, WasiCli>(linker, StoreState::cli)?;
    cli::terminal_output::add_to_linker::<StoreState, WasiCli>(linker, StoreState::cli)?;
    cli::terminal_stdin::add_to_linker::<StoreState, WasiCli>(linker, StoreState::cli)?;
    cli::terminal_stdout::add_to_linker::<StoreState, WasiCli>(linker, StoreState::cli)?;
    cli::terminal_stderr::add_to_linker::<StoreState, WasiCli>(linker, StoreState::cli)?;
    random::insecure_seed::add_to_linker::<StoreState, WasiRandom>(linker, |state| state.wasi.random())?;
    Ok(())
}

/// The resource table, as the `wasi:io` bindings want it.
struct Table;

impl HasData for Table {
    type Data<'a> = &'a mut ResourceTable;
}

/// Everything one plugin instance can reach.
pub struct StoreState {
    wasi: WasiCtx,
    table: ResourceTable,
    memory: MemoryCap,
    logs: Vec<PluginLog>,
    log_bytes: usize,
    logs_dropped: usize,
    log_calls: u64,
    max_log_calls: u64,
    /// Why a `host.log` call failed the call, for [`Sandbox::classify`].
    log_failure: Option<HookFailure>,
    budget: CallBudget,
    stderr: MemoryOutputPipe,
}

fn describe_run_budget(budget: Option<RunBudget>) -> String {
    match budget {
        Some(budget) => format!("{} fuel, {:?}", budget.fuel, budget.time),
        None => "unknown".into(),
    }
}

/// `host.log`: charged to the store's fuel in proportion to its bytes, refused beyond a
/// message size and a number of calls per hook call (the batch then fails), and kept up to the
/// per-call bound of [`StoreState::log`].
pub fn host_log(
    store: &mut StoreContextMut<'_, StoreState>,
    level: &'static str,
    message: String,
) -> wasmtime::Result<()> {
    let cost = LOG_CALL_FUEL.saturating_add(LOG_BYTE_FUEL.saturating_mul(message.len() as u64));
    // Without fuel (a wall-clock budget) the caps below and the deadline bound the calls.
    if let Ok(fuel) = store.get_fuel() {
        if fuel < cost {
            store.set_fuel(0)?;
            return Err(Trap::OutOfFuel.into());
        }
        store.set_fuel(fuel - cost)?;
    }
    let state = store.data_mut();
    state.log_calls += 1;
    let failure = if message.len() > MAX_LOG_MESSAGE_BYTES {
        Some(format!(
            "a host.log message of {} bytes, over the limit of {MAX_LOG_MESSAGE_BYTES} bytes per call",
            message.len()
        ))
    } else if state.log_calls > state.max_log_calls {
        Some(format!(
            "more than {} host.log calls in one call, the limit for {} records",
            state.max_log_calls, state.budget.records
        ))
    } else {
        None
    };
    if let Some(detail) = failure {
        let failure = HookFailure::LogLimit { detail };
        wasmtime::bail!(state.log_failure.insert(failure).to_string());
    }
    state.log(level, message);
    Ok(())
}

impl StoreState {
    /// Keeps a plugin's log line, up to the per-call bound.
    pub fn log(&mut self, level: &'static str, message: String) {
        if self.logs.len() >= LOG_LINES || self.log_bytes + message.len() > LOG_BYTES {
            self.logs_dropped += 1;
            return;
        }
        self.log_bytes += message.len();
        self.logs.push(PluginLog { level, message });
    }

    /// The call's log lines, with a note when some were dropped.
    pub fn take_logs(&mut self) -> Vec<PluginLog> {
        let mut logs = std::mem::take(&mut self.logs);
        if self.logs_dropped > 0 {
            logs.push(PluginLog {
                level: "warn",
                message: format!(
                    "{} more log lines dropped (limit {LOG_LINES} lines, {LOG_BYTES} bytes per call)",
                    self.logs_dropped
                ),
            });
        }
        logs
    }

    fn panic_message(&self) -> Option<String> {
        let stderr = self.stderr.contents();
        let stderr = String::from_utf8_lossy(&stderr);
        let start = stderr.find("panicked at")?;
        Some(stderr[start..].trim().replace('\n', " "))
    }
}

impl WasiView for StoreState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// Caps linear memory; remembers a refused growth so the failure can say so.
struct MemoryCap {
    limit: usize,
    refused: Option<usize>,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.limit {
            self.refused = Some(desired);
            wasmtime::bail!("memory limit of {} bytes exceeded", self.limit);
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}
