//! The plugin host: loads a customer's WebAssembly components at run time, vets them (digest,
//! contract version, imports), and runs their hooks in a sandbox, one fresh instance per batch.
//!
//! This module is the only part of crm-migrate that touches wasmtime; the rest of the host
//! speaks in [`Record`]s and the outcome types of [`types`].
//!
//! ```text
//! PluginHost::open(path, pinned digest)  -> PluginComponent   size and names checked, compiled in a
//!                                                             bounded child (or cached), described
//! PluginComponent::configure(config)     -> LoadedPlugin      the customer's options accepted
//! LoadedPlugin::{clean, match_keys, merge, label}(batch)      fresh store + instance per call
//! ```

mod cache;
mod compile;
mod contract;
mod digest;
mod error;
mod sandbox;
mod types;
mod v0_1;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::Store;
use wasmtime::component::Linker;

pub use cache::{CacheOutcome, ComponentCache};
pub use compile::{CompileLimits, Compiler, Isolation, compile_in_child_processes_of, run_compile_child};
pub use contract::SUPPORTED_VERSIONS;
pub use digest::Digest;
pub use error::{CompileStop, HookError, HookFailure, LoadError};
pub use sandbox::{CpuBudget, Limits};
pub use types::{
    CleanOutcome, ConfigOption, FieldChange, FieldIssue, Hook, LabelColor, MergeDecision, PluginInfo, PluginLog,
    Segment, Tag, TagDecision, TagFate,
};

use crate::record::{Record, Value};
use contract::ContractVersion;
use sandbox::{Sandbox, StoreState};

/// Loads plugins. One per process is enough: it owns the engine and the compiled-code cache.
pub struct PluginHost {
    sandbox: Arc<Sandbox>,
    linker: Linker<StoreState>,
    cache: ComponentCache,
    compiler: Compiler,
}

impl PluginHost {
    pub fn new(limits: Limits, cache: ComponentCache) -> wasmtime::Result<PluginHost> {
        let sandbox = Sandbox::new(limits)?;
        let mut linker = Linker::new(sandbox.engine());
        sandbox::link_std_wasi_stubs(&mut linker)?;
        v0_1::add_to_linker(&mut linker)?;
        Ok(PluginHost { sandbox: Arc::new(sandbox), linker, cache, compiler: Compiler::default() })
    }

    /// Compiles with these limits, in this kind of isolation (default: [`Compiler::default`]).
    pub fn with_compiler(mut self, compiler: Compiler) -> PluginHost {
        self.compiler = compiler;
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
        compile::check_before_compiling(path, &wasm, &self.compiler.limits)?;
        let started = Instant::now();
        let (component, cache) = self.cache.load_or_compile(self.sandbox.engine(), &digest, || {
            compile::compile(self.sandbox.engine(), self.sandbox.limits(), &wasm, &self.compiler, path)
        })?;
        let load_time = started.elapsed();
        let (version, imports) = contract::inspect(self.sandbox.engine(), &component, path)?;
        let instantiate_error = |error: wasmtime::Error| LoadError::Instantiate {
            path: path.to_owned(),
            message: format!("{error:#}"),
        };
        let pre = match version {
            ContractVersion::V0_1 => ContractPre::V0_1(v0_1::Pre::new(&self.linker, &component).map_err(instantiate_error)?),
        };
        let mut store = self.sandbox.store(0);
        let info = pre
            .instantiate(&mut store)
            .and_then(|instance| instance.describe(&mut store))
            .map_err(|error| LoadError::Trapped {
                path: path.to_owned(),
                stage: "describing itself",
                failure: self.sandbox.classify(&store, error, 0),
            })?;
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

    /// Gives the plugin the customer's configuration; a refused key fails the load.
    pub fn configure(self, config: Vec<(String, String)>) -> Result<LoadedPlugin, LoadError> {
        let plugin = LoadedPlugin { component: self, config };
        let mut store = plugin.component.sandbox.store(0);
        let answer = plugin
            .component
            .pre
            .instantiate(&mut store)
            .and_then(|instance| instance.configure(&mut store, &plugin.config));
        match answer {
            Ok(Ok(())) => Ok(plugin),
            Ok(Err((key, message))) => Err(LoadError::Config { plugin: plugin.name(), key, message }),
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
}

impl LoadedPlugin {
    pub fn component(&self) -> &PluginComponent {
        &self.component
    }

    pub fn info(&self) -> &PluginInfo {
        &self.component.info
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

    pub fn implements(&self, hook: Hook) -> bool {
        self.component.info.hooks.contains(&hook)
    }

    /// One outcome per record, in order.
    pub fn clean(&self, batch: u64, records: &[&Record]) -> Result<Call<Vec<CleanOutcome>>, HookError> {
        self.call(Hook::Clean, batch, records.len(), |instance, store| instance.clean(store, batch, records))
            .and_then(|call| {
                self.check(Hook::Clean, batch, call, |outcomes| {
                    expect_count("outcomes", outcomes.len(), "records", records.len())
                })
            })
    }

    /// The match keys of each record, in order.
    pub fn match_keys(&self, batch: u64, records: &[&Record]) -> Result<Call<Vec<Vec<String>>>, HookError> {
        self.call(Hook::Dedup, batch, records.len(), |instance, store| instance.match_keys(store, batch, records))
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
        self.call(Hook::Dedup, batch, records.len(), |instance, store| instance.merge(store, batch, records, groups))
            .and_then(|call| {
                self.check(Hook::Dedup, batch, call, |decisions| {
                    expect_count("merge decisions", decisions.len(), "groups", groups.len())?;
                    decisions.iter().zip(groups).try_for_each(|(decision, group)| check_merge(decision, group))
                })
            })
    }

    /// One decision per tag, in order.
    pub fn label(&self, tags: &[Tag], segments: &[Segment]) -> Result<Call<Vec<TagDecision>>, HookError> {
        self.call(Hook::Label, 0, tags.len(), |instance, store| instance.label(store, tags, segments))
            .and_then(|call| {
                self.check(Hook::Label, 0, call, |decisions| {
                    expect_count("tag decisions", decisions.len(), "tags", tags.len())?;
                    match decisions.iter().zip(tags).find(|(decision, tag)| decision.tag_id != tag.id) {
                        Some((decision, tag)) => Err(format!(
                            "decision for tag '{}' where tag '{}' was expected (decisions must follow the catalogue's order)",
                            decision.tag_id, tag.id
                        )),
                        None => Ok(()),
                    }
                })
            })
    }

    /// Runs one hook in a fresh store and instance: configure, then the hook.
    fn call<T: OutputBytes>(
        &self,
        hook: Hook,
        batch: u64,
        records: usize,
        run: impl FnOnce(&ContractInstance, &mut Store<StoreState>) -> wasmtime::Result<Result<T, String>>,
    ) -> Result<Call<T>, HookError> {
        let sandbox = &self.component.sandbox;
        let failed = |failure| HookError { plugin: self.name(), hook, batch, failure };
        let mut store = sandbox.store(records);
        let fuel_before = store.get_fuel().ok();
        let answer = self.component.pre.instantiate(&mut store).and_then(|instance| {
            match instance.configure(&mut store, &self.config)? {
                Ok(()) => Ok(run(&instance, &mut store)?.map_err(|message| HookFailure::PluginError { message })),
                Err((key, message)) => Ok(Err(HookFailure::Config { key, message })),
            }
        });
        let output = match answer {
            Ok(Ok(output)) => output,
            Ok(Err(failure)) => return Err(failed(failure)),
            Err(error) => return Err(failed(sandbox.classify(&store, error, records))),
        };
        let (bytes, limit) = (output.output_bytes(), sandbox.limits().output_limit(records));
        if bytes > limit {
            return Err(failed(HookFailure::OutputTooLarge { bytes, limit }));
        }
        let fuel_used = fuel_before.zip(store.get_fuel().ok()).map(|(before, after)| before - after);
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
            Err(detail) => Err(HookError { plugin: self.name(), hook, batch, failure: HookFailure::InvalidOutput { detail } }),
        }
    }
}

fn expect_count(what: &str, got: usize, per: &str, expected: usize) -> Result<(), String> {
    if got == expected {
        Ok(())
    } else {
        Err(format!("{got} {what} for {expected} {per}"))
    }
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
}

/// A live instance of one contract version.
enum ContractInstance {
    V0_1(v0_1::Instance),
}

impl ContractPre {
    fn instantiate(&self, store: &mut Store<StoreState>) -> wasmtime::Result<ContractInstance> {
        match self {
            ContractPre::V0_1(pre) => pre.instantiate(store).map(ContractInstance::V0_1),
        }
    }
}

impl ContractInstance {
    fn describe(&self, store: &mut Store<StoreState>) -> wasmtime::Result<PluginInfo> {
        match self {
            ContractInstance::V0_1(instance) => instance.describe(store),
        }
    }

    fn configure(
        &self,
        store: &mut Store<StoreState>,
        config: &[(String, String)],
    ) -> wasmtime::Result<Result<(), (String, String)>> {
        match self {
            ContractInstance::V0_1(instance) => instance.configure(store, config),
        }
    }

    fn clean(&self, store: &mut Store<StoreState>, batch: u64, records: &[&Record]) -> wasmtime::Result<Result<Vec<CleanOutcome>, String>> {
        match self {
            ContractInstance::V0_1(instance) => instance.clean(store, &v0_1::encode_batch(batch, records)),
        }
    }

    fn match_keys(
        &self,
        store: &mut Store<StoreState>,
        batch: u64,
        records: &[&Record],
    ) -> wasmtime::Result<Result<Vec<Vec<String>>, String>> {
        match self {
            ContractInstance::V0_1(instance) => instance.match_keys(store, &v0_1::encode_batch(batch, records)),
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
        }
    }

    fn label(&self, store: &mut Store<StoreState>, tags: &[Tag], segments: &[Segment]) -> wasmtime::Result<Result<Vec<TagDecision>, String>> {
        match self {
            ContractInstance::V0_1(instance) => instance.label(store, tags, segments),
        }
    }
}

/// Bytes of text a hook returned, checked against the output limit.
trait OutputBytes {
    fn output_bytes(&self) -> usize;
}

impl<T: OutputBytes> OutputBytes for Vec<T> {
    fn output_bytes(&self) -> usize {
        self.iter().map(OutputBytes::output_bytes).sum()
    }
}

impl OutputBytes for String {
    fn output_bytes(&self) -> usize {
        self.len()
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

impl OutputBytes for CleanOutcome {
    fn output_bytes(&self) -> usize {
        match self {
            CleanOutcome::Keep(changes) => changes.output_bytes(),
            CleanOutcome::Drop(reason) => reason.len(),
            CleanOutcome::Reject(issues) => issues.iter().map(|issue| issue.field.len() + issue.message.len()).sum(),
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
