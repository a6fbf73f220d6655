//! The sandbox every hook call runs in: a fresh store with deny-all WASI, a memory cap, a CPU
//! budget and a bounded log, and the translation of whatever stopped a call into a
//! [`HookFailure`].

use std::time::Duration;

use wasmtime::component::{HasData, Linker, ResourceTable};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ResourceLimiter, Store, Trap};
use wasmtime_wasi::cli::{WasiCli, WasiCliView};
use wasmtime_wasi::p2::bindings::{cli, random, sync::io};
use wasmtime_wasi::random::WasiRandom;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
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
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            cpu: CpuBudget::Fuel { per_call: 100_000_000, per_record: 5_000_000 },
            memory_bytes: 256 << 20,
            output_bytes_per_call: 1 << 20,
            output_bytes_per_record: 16 << 10,
            stack_bytes: 512 << 10,
        }
    }
}

impl Limits {
    pub fn output_limit(&self, records: usize) -> usize {
        self.output_bytes_per_call.saturating_add(self.output_bytes_per_record.saturating_mul(records))
    }
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
    match limits.cpu {
        CpuBudget::Fuel { .. } => {
            config.consume_fuel(true);
        }
        CpuBudget::WallClock { .. } => {
            config.epoch_interruption(true);
        }
    }
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
        pool.total_component_instances(POOL_INSTANCES)
            .total_core_instances(POOL_INSTANCES * 16)
            .total_memories(POOL_INSTANCES)
            .total_tables(POOL_INSTANCES * 16)
            .max_core_instances_per_component(16)
            .max_tables_per_component(16)
            .max_memory_size(limits.memory_bytes)
            .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
            .table_keep_resident(64 << 10);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config)?;
        if let CpuBudget::WallClock { .. } = limits.cpu {
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
            stderr,
        };
        let mut store = Store::new(&self.engine, state);
        store.limiter(|state| &mut state.memory);
        match self.limits.cpu {
            CpuBudget::Fuel { per_call, per_record } => {
                let fuel = per_call.saturating_add(per_record.saturating_mul(records as u64));
                store.set_fuel(fuel).expect("fuel is enabled on this engine");
            }
            CpuBudget::WallClock { per_call, per_record } => {
                let budget = per_call + per_record * records as u32;
                let ticks = budget.as_millis() as u64 / EPOCH_TICK.as_millis() as u64 + 1;
                store.set_epoch_deadline(ticks);
            }
        }
        store
    }

    /// What stopped a call, in terms a migration engineer can act on.
    pub fn classify(&self, store: &Store<StoreState>, error: wasmtime::Error, records: usize) -> HookFailure {
        if let Some(requested) = store.data().memory.refused {
            return HookFailure::MemoryLimit { requested, limit: self.limits.memory_bytes };
        }
        match error.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) | Some(Trap::Interrupt) => {
                HookFailure::CpuBudgetExhausted { budget: self.limits.cpu.describe(records) }
            }
            Some(Trap::StackOverflow) => HookFailure::StackOverflow,
            _ => match store.data().panic_message() {
                Some(message) => HookFailure::Panic { message },
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
    stderr: MemoryOutputPipe,
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
                message: format!("{} more log lines dropped (limit {LOG_LINES} lines, {LOG_BYTES} bytes per call)", self.logs_dropped),
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
