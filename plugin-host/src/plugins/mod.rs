//! The plugin host: loads a customer's WebAssembly components at run time, vets them (digest,
//! contract version, imports), and runs their hooks in a sandbox, one fresh instance per batch.
//!
//! This module is the only part of crm-migrate that touches wasmtime; the rest of the host
//! speaks in [`Record`]s and the outcome types of [`types`].
//!
//! ```text
//! PluginHost::open(path, pinned digest)  -> PluginComponent   listed by the trust store (when one is
//!                                                             configured; trust.rs), size and names
//!                                                             checked, compiled in a
//!                                                             bounded child (or cached), described
//!                                                             (name, version, option keys in grammar)
//! PluginComponent::configure_for(hook, config) -> LoadedPlugin  a declared hook, the customer's options accepted
//! LoadedPlugin::{clean, match_keys, merge, label}(batch)      fresh store + instance per call; every
//!                                                             value of the answer checked (types.rs)
//! ```

mod cache;
mod compile;
mod contract;
mod digest;
mod error;
mod sandbox;
mod trust;
#[macro_use]
mod translate;
mod types;
mod v0_1;
mod v0_2;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use wasmtime::Store;
use wasmtime::component::Linker;

pub use cache::{CacheOutcome, ComponentCache};
pub use compile::{CompileLimits, Compiler, Isolation, compile_in_child_processes_of, run_compile_child};
pub use contract::SUPPORTED_VERSIONS;
pub use digest::Digest;
pub use error::{CompileStop, HookError, HookFailure, LoadError};
pub use sandbox::{
    CpuBudget, LOG_BYTE_FUEL, LOG_CALL_FUEL, Limits, MAX_LOG_CALLS_PER_CALL, MAX_LOG_CALLS_PER_RECORD,
    MAX_LOG_MESSAGE_BYTES, MAX_REASON_BYTES, OUTPUT_ELEMENT_BYTES, RunBudget, shorten, shorten_to,
};
pub use trust::{
    LimitsInForce, LimitsReport, Maxima, STORE_VARIABLE, SYSTEM_STORE, TrustError, TrustStore, TrustedPlugin,
    file_digest, limits_in_force,
};
pub use types::{
    CleanOutcome, ConfigOption, FieldChange, FieldIssue, Hook, LabelColor, MergeDecision, PluginInfo, PluginLog,
    Segment, Tag, TagDecision, TagFate,
};

use contract::ContractVersion;
use crm_migrate_core::record::{Record, Value};
use sandbox::{RunLeft, Sandbox, StoreState};

/// Loads plugins. One per process is enough: it owns the engine and the compiled-code cache.
pub struct PluginHost {
    sandbox: Arc<Sandbox>,
    linker: Linker<StoreState>,
    cache: ComponentCache,
    compiler: Compiler,
    /// When set, only the plugins it lists are opened.
    trust: Option<TrustStore>,
}

impl PluginHost {
    pub fn new(limits: Limits, cache: ComponentCache) -> wasmtime::Result<PluginHost> {
        let sandbox = Sandbox::new(limits)?;
        let mut linker = Linker::new(sandbox.engine());
        sandbox::link_std_wasi_stubs(&mut linker)?;
        v0_1::add_to_linker(&mut linker)?;
        v0_2::add_to_linker(&mut linker)?;
        Ok(PluginHost { sandbox: Arc::new(sandbox), linker, cache, compiler: Compiler::default(), trust: None })
    }

    /// Compiles with these limits, in this kind of isolation (default: [`Compiler::default`]).
    pub fn with_compiler(mut self, compiler: Compiler) -> PluginHost {
        self.compiler = compiler;
        self
    }

    /// Opens only the plugins `store` lists, and only within its maxima (the host's limits must
    /// already be capped to them: [`limits_in_force`]).
    pub fn with_trust_store(mut self, store: Option<TrustStore>) -> PluginHost {
        self.trust = store;
        self
    }

    pub fn limits(&self) -> &Limits {
        self.sandbox.limits()
    }

    /// Reads, compiles (or loads from cache), checks and describes a plugin. With `pinned`, a
    /// file whose sha256 differs is refused before anything of it is compiled; so is a file
    /// over the size limit, or one whose names or function sizes fail [`compile`]'s checks.
    pub fn open(&self, path: &Path, pinned: Option<&Digest>) -> Result<PluginComponent, LoadError> {
        let wasm = compile::read_bounded(path, &self.compiler.limits)?;
        let digest = Digest::of(&wasm);
        if let Some(expected) = pinned.filter(|expected| **expected != digest) {
            return Err(LoadError::DigestMismatch {
                path: path.to_owned(),
                expected: expected.to_string(),
                actual: digest.to_string(),
            });
        }
        if let Some(store) = &self.trust {
            store.check(&digest, path, self.sandbox.limits())?;
        }
        compile::check_before_compiling(path, &wasm, &self.compiler.limits)?;
        let started = Instant::now();
        // A component over the instance limits is refused as its code is loaded (wasmtime checks
        // its memories and instances against the pool), or when it is prepared: the refusal
        // names the limits in force, which a trust store or a project may have lowered.
        let over_limits = |message: String| LoadError::Instantiate {
            path: path.to_owned(),
            message: format!("{message} (limits in force: {})", self.sandbox.limits().instance_limits()),
        };
        let (component, cache) = self
            .cache
            .load_or_compile(self.sandbox.engine(), &digest, || {
                compile::compile(self.sandbox.engine(), self.sandbox.limits(), &wasm, &self.compiler, path)
            })
            .map_err(|error| match error {
                LoadError::Instantiate { message, .. } => over_limits(message),
                error => error,
            })?;
        let load_time = started.elapsed();
        let (version, imports) = contract::inspect(self.sandbox.engine(), &component, path)?;
        let instantiate_error = |error: wasmtime::Error| over_limits(format!("{error:#}"));
        let pre = match version {
            ContractVersion::V0_1 => {
                ContractPre::V0_1(v0_1::Pre::new(&self.linker, &component).map_err(instantiate_error)?)
            }
            ContractVersion::V0_2 => {
                ContractPre::V0_2(v0_2::Pre::new(&self.linker, &component).map_err(instantiate_error)?)
            }
        };
        let mut store = self.sandbox.store(0);
        let info = pre.instantiate(&mut store).and_then(|instance| instance.describe(&mut store)).map_err(|error| {
            LoadError::Trapped {
                path: path.to_owned(),
                stage: "describing itself",
                failure: self.sandbox.classify(&store, error, 0),
            }
        })?;
        let (bytes, limit) = (info.output_bytes(), self.sandbox.limits().output_limit(0));
        if bytes > limit {
            return Err(LoadError::Trapped {
                path: path.to_owned(),
                stage: "describing itself",
                failure: HookFailure::OutputTooLarge { bytes, limit },
            });
        }
        let problems = info.problems();
        if !problems.is_empty() {
            return Err(LoadError::InvalidDescription { path: path.to_owned(), problems });
        }
        Ok(PluginComponent {
            path: path.to_owned(),
            digest,
            size: wasm.len(),
            contract: version,
            imports,
            info,
            cache,
            load_time,
            pre,
            sandbox: Arc::clone(&self.sandbox),
        })
    }
}

/// A compiled, checked plugin that has described itself; not yet configured.
pub struct PluginComponent {
    pub path: PathBuf,
    pub digest: Digest,
    /// Size of the `.wasm` file in bytes.
    pub size: usize,
    contract: ContractVersion,
    /// Every import of the component (all of them granted, or it would not have loaded).
    pub imports: Vec<String>,
    pub info: PluginInfo,
    /// Whether the compiled code came from the cache.
    pub cache: CacheOutcome,
    /// Time to compile or to load the compiled code from the cache.
    pub load_time: Duration,
    pre: ContractPre,
    sandbox: Arc<Sandbox>,
}

impl PluginComponent {
    /// The contract version the plugin was built against.
    pub fn contract_version(&self) -> &'static str {
        self.contract.as_str()
    }

    /// Configures the plugin to run `hook`, which it must declare: every place that loads a
    /// plugin for a hook (a project's plugins, `plugin run`) comes through here.
    pub fn configure_for(self, hook: Hook, config: Vec<(String, String)>) -> Result<LoadedPlugin, LoadError> {
        self.check_hook(hook)?;
        self.configure(config)
    }

    /// Refuses a hook the plugin does not declare (`init` checks this before pinning it).
    pub fn check_hook(&self, hook: Hook) -> Result<(), LoadError> {
        if self.info.hooks.contains(&hook) {
            return Ok(());
        }
        Err(LoadError::HookNotDeclared {
            plugin: format!("{} {}", self.info.name, self.info.version),
            hook,
            declared: self.info.hooks.clone(),
        })
    }

    /// Gives the plugin the customer's configuration; a refused key fails the load. A hook
    /// the plugin does not declare is refused when called ([`PluginComponent::configure_for`]
    /// refuses it up front).
    pub fn configure(self, config: Vec<(String, String)>) -> Result<LoadedPlugin, LoadError> {
        let run_budget = RunBudget::DEFAULT.capped(self.sandbox.limits().max_run_budget);
        let plugin = LoadedPlugin { component: self, config, run_budget, run_spent: RunSpent::default() };
        let mut store = plugin.component.sandbox.store(0);
        let answer = plugin
            .component
            .pre
            .instantiate(&mut store)
            .and_then(|instance| instance.configure(&mut store, &plugin.config));
        match answer {
            Ok(Ok(())) => Ok(plugin),
            Ok(Err((key, message))) => match config_failure(plugin.component.sandbox.limits(), 0, key, message) {
                HookFailure::Config { key, message } => Err(LoadError::Config { plugin: plugin.name(), key, message }),
                failure => Err(LoadError::Trapped {
                    path: plugin.component.path.clone(),
                    stage: "taking its configuration",
                    failure,
                }),
            },
            Err(error) => Err(LoadError::Trapped {
                path: plugin.component.path.clone(),
                stage: "taking its configuration",
                failure: plugin.component.sandbox.classify(&store, error, 0),
            }),
        }
    }
}

/// What a hook call returned, with what the plugin logged and the CPU it used.
#[derive(Debug)]
pub struct Call<T> {
    pub output: T,
    pub logs: Vec<PluginLog>,
    /// Fuel consumed (when the CPU budget is counted in fuel).
    pub fuel_used: Option<u64>,
}

/// A configured plugin, ready to run hooks.
pub struct LoadedPlugin {
    component: PluginComponent,
    config: Vec<(String, String)>,
    /// What the plugin may spend over the whole run, and what it has spent.
    run_budget: RunBudget,
    run_spent: RunSpent,
}

/// Fuel and time spent over a run; atomics, so that calls may run on several threads.
#[derive(Debug, Default)]
struct RunSpent {
    fuel: AtomicU64,
    nanos: AtomicU64,
}

impl LoadedPlugin {
    pub fn component(&self) -> &PluginComponent {
        &self.component
    }

    pub fn info(&self) -> &PluginInfo {
        &self.component.info
    }

    /// The limits its calls run under (after the trust store's maxima).
    pub fn limits(&self) -> &Limits {
        self.component.sandbox.limits()
    }

    /// `name version`, as errors and reports name the plugin.
    pub fn name(&self) -> String {
        format!("{} {}", self.component.info.name, self.component.info.version)
    }

    /// Creates a fresh store and instance and drops them: what every call costs before the
    /// plugin runs (the benchmark measures it).
    pub fn instantiate(&self) -> wasmtime::Result<()> {
        let mut store = self.component.sandbox.store(0);
        self.component.pre.instantiate(&mut store).map(drop)
    }

    /// Gives the plugin a whole-run budget (from its `[[plugins]]` entry), capped by the host's
    /// maximum; without one it has [`RunBudget::DEFAULT`].
    pub fn with_run_budget(mut self, budget: RunBudget) -> LoadedPlugin {
        self.run_budget = budget.capped(self.component.sandbox.limits().max_run_budget);
        self
    }

    pub fn run_budget(&self) -> RunBudget {
        self.run_budget
    }

    /// Fuel and wall-clock time the plugin has spent so far in this run, failed calls included.
    pub fn run_spent(&self) -> (u64, Duration) {
        let spent = &self.run_spent;
        (spent.fuel.load(Ordering::Relaxed), Duration::from_nanos(spent.nanos.load(Ordering::Relaxed)))
    }

    /// What is left of the run budget, or `None` once either part is used up.
    fn run_left(&self) -> Option<RunLeft> {
        let (fuel, time) = self.run_spent();
        let left = RunLeft {
            fuel: self.run_budget.fuel.checked_sub(fuel).filter(|left| *left > 0)?,
            time: self.run_budget.time.checked_sub(time).filter(|left| !left.is_zero())?,
            budget: self.run_budget,
        };
        Some(left)
    }

    pub fn implements(&self, hook: Hook) -> bool {
        self.component.info.hooks.contains(&hook)
    }

    /// One outcome per record, in order.
    pub fn clean(&self, batch: u64, records: &[&Record]) -> Result<Call<Vec<CleanOutcome>>, HookError> {
        let limits = self.limits();
        self.call(Hook::Clean, batch, records.len(), |instance, store| instance.clean(store, batch, records, limits))
            .and_then(|call| {
                self.check(Hook::Clean, batch, call, |outcomes| {
                    expect_count("outcomes", outcomes.len(), "records", records.len())?;
                    check_values(
                        outcomes
                            .iter()
                            .zip(records)
                            .enumerate()
                            .map(|(position, (outcome, record))| (position, outcome.check(), *record)),
                    )?;
                    let changes = outcomes.iter().flat_map(|outcome| match outcome {
                        CleanOutcome::Keep(changes) => changes.as_slice(),
                        _ => &[],
                    });
                    check_new_fields(records, changes)
                })
            })
    }

    /// The match keys of each record, in order.
    pub fn match_keys(&self, batch: u64, records: &[&Record]) -> Result<Call<Vec<Vec<String>>>, HookError> {
        let limits = self.limits();
        self.call(Hook::Dedup, batch, records.len(), |instance, store| {
            answered(instance.match_keys(store, batch, records), limits, records.len())
        })
        .and_then(|call| {
            self.check(Hook::Dedup, batch, call, |keys| expect_count("key lists", keys.len(), "records", records.len()))
        })
    }

    /// One decision per group; groups hold positions in `records`.
    pub fn merge(
        &self,
        batch: u64,
        records: &[&Record],
        groups: &[Vec<u32>],
    ) -> Result<Call<Vec<MergeDecision>>, HookError> {
        let limits = self.limits();
        self.call(Hook::Dedup, batch, records.len(), |instance, store| {
            answered(instance.merge(store, batch, records, groups), limits, records.len())
        })
        .and_then(|call| {
            self.check(Hook::Dedup, batch, call, |decisions| {
                expect_count("merge decisions", decisions.len(), "groups", groups.len())?;
                decisions.iter().zip(groups).try_for_each(|(decision, group)| check_merge(decision, group))?;
                check_values(decisions.iter().map(|decision| {
                    let survivor = decision.survivor;
                    let checked = decision.changes.iter().enumerate().try_for_each(|(index, change)| {
                        change.check().map_err(|problem| format!("merge change {index}: {problem}"))
                    });
                    (survivor, checked, records[survivor])
                }))?;
                check_new_fields(records, decisions.iter().flat_map(|decision| &decision.changes))
            })
        })
    }

    /// One decision per tag, in order.
    pub fn label(&self, tags: &[Tag], segments: &[Segment]) -> Result<Call<Vec<TagDecision>>, HookError> {
        let limits = self.limits();
        self.call(Hook::Label, 0, tags.len(), |instance, store| {
            answered(instance.label(store, tags, segments), limits, tags.len())
        })
            .and_then(|call| {
                self.check(Hook::Label, 0, call, |decisions| {
                    expect_count("tag decisions", decisions.len(), "tags", tags.len())?;
                    match decisions.iter().zip(tags).find(|(decision, tag)| decision.tag_id != tag.id) {
                        Some((decision, tag)) => Err(format!(
                            "decision for tag '{}' where tag '{}' was expected (decisions must follow the catalogue's order)",
                            decision.tag_id, tag.id
                        )),
                        None => Ok(()),
                    }?;
                    decisions.iter().try_for_each(|decision| {
                        decision.check().map_err(|problem| format!("tag {}: {problem}", crm_migrate_core::untrusted::quote(&decision.tag_id)))
                    })
                })
            })
    }

    /// Runs one hook in a fresh store and instance: configure, then the hook.
    fn call<T: OutputBytes>(
        &self,
        hook: Hook,
        batch: u64,
        records: usize,
        run: impl FnOnce(&ContractInstance, &mut Store<StoreState>) -> wasmtime::Result<Result<T, HookFailure>>,
    ) -> Result<Call<T>, HookError> {
        let sandbox = &self.component.sandbox;
        let limits = sandbox.limits();
        let failed = |failure, fuel_used: Option<u64>| HookError {
            plugin: self.name(),
            hook,
            batch,
            failure,
            fuel_used: fuel_used.unwrap_or(0),
        };
        let Some(run_left) = self.run_left() else {
            let budget = self.run_budget;
            let budget = format!("{} fuel, {:?}", budget.fuel, budget.time);
            return Err(failed(HookFailure::RunBudgetExhausted { budget }, None));
        };
        if !self.implements(hook) {
            return Err(failed(HookFailure::HookNotDeclared, None));
        }
        let started = Instant::now();
        let mut store = sandbox.store_within(records, Some(run_left));
        let fuel_before = store.get_fuel().ok();
        let answer = self.component.pre.instantiate(&mut store).and_then(|instance| {
            match instance.configure(&mut store, &self.config)? {
                Ok(()) => run(&instance, &mut store),
                Err((key, message)) => Ok(Err(config_failure(limits, records, key, message))),
            }
        });
        // Spent whatever the outcome: a failed batch used its fuel too.
        let fuel_used = fuel_before.zip(store.get_fuel().ok()).map(|(before, after)| before.saturating_sub(after));
        self.run_spent.fuel.fetch_add(fuel_used.unwrap_or(0), Ordering::Relaxed);
        let nanos = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.run_spent.nanos.fetch_add(nanos, Ordering::Relaxed);
        let output = match answer {
            Ok(Ok(output)) => output,
            Ok(Err(failure)) => return Err(failed(failure, fuel_used)),
            Err(error) => return Err(failed(sandbox.classify(&store, error, records), fuel_used)),
        };
        let (bytes, limit) = (output.output_bytes(), limits.output_limit(records));
        if bytes > limit {
            return Err(failed(HookFailure::OutputTooLarge { bytes, limit }, fuel_used));
        }
        Ok(Call { output, logs: store.data_mut().take_logs(), fuel_used })
    }

    /// Turns an answer that breaks the contract into a hook failure.
    fn check<T>(
        &self,
        hook: Hook,
        batch: u64,
        call: Call<T>,
        validate: impl FnOnce(&T) -> Result<(), String>,
    ) -> Result<Call<T>, HookError> {
        match validate(&call.output) {
            Ok(()) => Ok(call),
            Err(detail) => Err(HookError {
                plugin: self.name(),
                hook,
                batch,
                failure: HookFailure::InvalidOutput { detail: shorten(detail) },
                fuel_used: call.fuel_used.unwrap_or(0),
            }),
        }
    }
}

/// A hook's answer, its `Err` made a failure by [`error_failure`].
fn answered<T>(
    answer: wasmtime::Result<Result<T, String>>,
    limits: &Limits,
    records: usize,
) -> wasmtime::Result<Result<T, HookFailure>> {
    answer.map(|answer| answer.map_err(|message| error_failure(limits, records, message)))
}

/// A hook's `Err` answer: counted in the output limit, and cut for the reports.
fn error_failure(limits: &Limits, records: usize, message: String) -> HookFailure {
    let (bytes, limit) = (message.output_bytes(), limits.output_limit(records));
    if bytes > limit {
        return HookFailure::OutputTooLarge { bytes, limit };
    }
    HookFailure::PluginError { message: shorten(message) }
}

/// A refused configuration: counted in the output limit, and cut for the reports.
fn config_failure(limits: &Limits, records: usize, key: String, message: String) -> HookFailure {
    let (bytes, limit) = (key.output_bytes() + message.output_bytes(), limits.output_limit(records));
    if bytes > limit {
        return HookFailure::OutputTooLarge { bytes, limit };
    }
    HookFailure::Config { key: shorten(key), message: shorten(message) }
}

/// Distinct fields a call may add that no record of its batch has. Records of a batch go on
/// together to the next stage, whose batch is a dense table as wide as all of its records'
/// fields together: 80,000 new fields on one record made the next batch of 1,000 records a
/// table of 80 million cells (2.5 GB), where the output limit had let the changes through.
pub const MAX_NEW_FIELDS_PER_CALL: usize = 256;

fn check_new_fields<'c>(records: &[&Record], changes: impl IntoIterator<Item = &'c FieldChange>) -> Result<(), String> {
    // The records of a batch mostly share one set of columns: the first record's names answer
    // nearly every change, and the whole batch's are gathered only for a name it lacks.
    let first: Vec<&str> =
        records.first().map(|record| record.fields.iter().map(|(name, _)| name.as_str()).collect()).unwrap_or_default();
    let mut known: Option<std::collections::HashSet<&str>> = None;
    let mut new = std::collections::HashSet::new();
    for change in changes {
        if first.contains(&change.field.as_str()) {
            continue;
        }
        let known = known.get_or_insert_with(|| {
            records.iter().flat_map(|record| record.fields.iter().map(|(name, _)| name.as_str())).collect()
        });
        if !known.contains(change.field.as_str())
            && new.insert(change.field.as_str())
            && new.len() > MAX_NEW_FIELDS_PER_CALL
        {
            return Err(format!(
                "changes add more than {MAX_NEW_FIELDS_PER_CALL} fields that no record of the batch has (the limit per call)"
            ));
        }
    }
    Ok(())
}

fn expect_count(what: &str, got: usize, per: &str, expected: usize) -> Result<(), String> {
    if got == expected { Ok(()) } else { Err(format!("{got} {what} for {expected} {per}")) }
}

/// The first value out of range, named by the record it was for (its position in the batch
/// and its source id).
fn check_values<'r>(checked: impl Iterator<Item = (usize, Result<(), String>, &'r Record)>) -> Result<(), String> {
    for (position, result, record) in checked {
        if let Err(problem) = result {
            return Err(format!(
                "record {position} (source id {}): {problem}",
                crm_migrate_core::untrusted::quote(&record.source_id)
            ));
        }
    }
    Ok(())
}

fn check_merge(decision: &MergeDecision, group: &[u32]) -> Result<(), String> {
    let in_group = |position: usize| group.iter().any(|&member| member as usize == position);
    if !in_group(decision.survivor) {
        return Err(format!("survivor {} is not a member of the group {group:?}", decision.survivor));
    }
    let mut seen = vec![decision.survivor];
    for &absorbed in &decision.absorbed {
        if !in_group(absorbed) || seen.contains(&absorbed) {
            return Err(format!(
                "absorbed record {absorbed} is not a member of the group {group:?}, or is named twice, or is the survivor"
            ));
        }
        seen.push(absorbed);
    }
    Ok(())
}

/// The compiled plugin, bound to the bindings of its contract version.
enum ContractPre {
    V0_1(v0_1::Pre),
    V0_2(v0_2::Pre),
}

/// A live instance of one contract version.
enum ContractInstance {
    V0_1(v0_1::Instance),
    V0_2(v0_2::Instance),
}

impl ContractPre {
    fn instantiate(&self, store: &mut Store<StoreState>) -> wasmtime::Result<ContractInstance> {
        match self {
            ContractPre::V0_1(pre) => pre.instantiate(store).map(ContractInstance::V0_1),
            ContractPre::V0_2(pre) => pre.instantiate(store).map(ContractInstance::V0_2),
        }
    }
}

impl ContractInstance {
    fn describe(&self, store: &mut Store<StoreState>) -> wasmtime::Result<PluginInfo> {
        match self {
            ContractInstance::V0_1(instance) => instance.describe(store),
            ContractInstance::V0_2(instance) => instance.describe(store),
        }
    }

    fn configure(
        &self,
        store: &mut Store<StoreState>,
        config: &[(String, String)],
    ) -> wasmtime::Result<Result<(), (String, String)>> {
        match self {
            ContractInstance::V0_1(instance) => instance.configure(store, config),
            ContractInstance::V0_2(instance) => instance.configure(store, config),
        }
    }

    fn clean(
        &self,
        store: &mut Store<StoreState>,
        batch: u64,
        records: &[&Record],
        limits: &Limits,
    ) -> wasmtime::Result<Result<Vec<CleanOutcome>, HookFailure>> {
        let answer = match self {
            ContractInstance::V0_1(instance) => instance.clean(store, &v0_1::encode_batch(batch, records)),
            ContractInstance::V0_2(instance) => {
                let (wire_batch, columns) = v0_2::encode_batch(batch, records);
                return Ok(match instance.clean(store, &wire_batch)? {
                    Ok(cleaned) => v0_2::outcomes(cleaned, &columns, records.len(), limits.output_limit(records.len())),
                    Err(message) => Err(error_failure(limits, records.len(), message)),
                });
            }
        };
        answered(answer, limits, records.len())
    }

    fn match_keys(
        &self,
        store: &mut Store<StoreState>,
        batch: u64,
        records: &[&Record],
    ) -> wasmtime::Result<Result<Vec<Vec<String>>, String>> {
        match self {
            ContractInstance::V0_1(instance) => instance.match_keys(store, &v0_1::encode_batch(batch, records)),
            ContractInstance::V0_2(instance) => instance.match_keys(store, &v0_2::encode_batch(batch, records).0),
        }
    }

    fn merge(
        &self,
        store: &mut Store<StoreState>,
        batch: u64,
        records: &[&Record],
        groups: &[Vec<u32>],
    ) -> wasmtime::Result<Result<Vec<MergeDecision>, String>> {
        match self {
            ContractInstance::V0_1(instance) => instance.merge(store, &v0_1::encode_batch(batch, records), groups),
            ContractInstance::V0_2(instance) => instance.merge(store, &v0_2::encode_batch(batch, records).0, groups),
        }
    }

    fn label(
        &self,
        store: &mut Store<StoreState>,
        tags: &[Tag],
        segments: &[Segment],
    ) -> wasmtime::Result<Result<Vec<TagDecision>, String>> {
        match self {
            ContractInstance::V0_1(instance) => instance.label(store, tags, segments),
            ContractInstance::V0_2(instance) => instance.label(store, tags, segments),
        }
    }
}

/// What a hook's answer costs in the output limit: the bytes of its text, plus
/// [`OUTPUT_ELEMENT_BYTES`] for each element (an outcome, a change, a choice, a key, an option),
/// so that an answer made of empty strings or empty lists is not free.
trait OutputBytes {
    fn output_bytes(&self) -> usize;
}

impl<T: OutputBytes> OutputBytes for Vec<T> {
    fn output_bytes(&self) -> usize {
        self.iter()
            .map(|element| OUTPUT_ELEMENT_BYTES.saturating_add(element.output_bytes()))
            .fold(0, usize::saturating_add)
    }
}

impl OutputBytes for String {
    fn output_bytes(&self) -> usize {
        self.len()
    }
}

impl OutputBytes for Option<String> {
    fn output_bytes(&self) -> usize {
        self.as_ref().map_or(0, String::len)
    }
}

impl OutputBytes for FieldChange {
    fn output_bytes(&self) -> usize {
        self.field.len()
            + match &self.value {
                Value::Text(text) => text.len(),
                Value::Choices(choices) => choices.output_bytes(),
                _ => 8,
            }
    }
}

impl OutputBytes for FieldIssue {
    fn output_bytes(&self) -> usize {
        self.field.len() + self.message.len()
    }
}

impl OutputBytes for CleanOutcome {
    fn output_bytes(&self) -> usize {
        match self {
            CleanOutcome::Keep(changes) => changes.output_bytes(),
            CleanOutcome::Drop(reason) => reason.len(),
            CleanOutcome::Reject(issues) => issues.output_bytes(),
        }
    }
}

impl OutputBytes for MergeDecision {
    fn output_bytes(&self) -> usize {
        8 * (1 + self.absorbed.len()) + self.changes.output_bytes()
    }
}

impl OutputBytes for TagDecision {
    fn output_bytes(&self) -> usize {
        self.tag_id.len()
            + match &self.fate {
                TagFate::Label { name, .. } => name.len(),
                TagFate::Skip { reason } => reason.len(),
            }
    }
}

impl OutputBytes for ConfigOption {
    fn output_bytes(&self) -> usize {
        self.key.len() + self.description.len() + self.default.output_bytes()
    }
}

impl OutputBytes for PluginInfo {
    fn output_bytes(&self) -> usize {
        let hooks = OUTPUT_ELEMENT_BYTES.saturating_mul(self.hooks.len());
        [self.name.len(), self.version.len(), self.description.len(), hooks, self.options.output_bytes()]
            .into_iter()
            .fold(0, usize::saturating_add)
    }
}
