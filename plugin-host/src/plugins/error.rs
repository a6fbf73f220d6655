//! Why a plugin did not load, and why a hook call failed: each names the plugin, and a hook
//! failure names the hook and the batch.

use std::path::PathBuf;

use super::types::Hook;
// What a plugin says is escaped where an error shows it: errors reach terminals and reports.
use crm_migrate_core::untrusted::escape;

/// A plugin that cannot be loaded. Nothing of it ran.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read plugin {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error(
        "plugin {path} has digest {actual}, but the migration pins {expected}: the file changed since it was vetted; \
         vet it again (crm-migrate plugin vet) and update the digest"
    )]
    DigestMismatch { path: PathBuf, expected: String, actual: String },
    #[error(
        "plugin {path} is {bytes} bytes, over the limit of {limit} bytes for a plugin file; nothing of it was compiled \
         (crm-migrate plugin vet --max-file-mib raises the limit)"
    )]
    TooLarge { path: PathBuf, bytes: u64, limit: u64 },
    #[error("{path} is not a valid WebAssembly component: {message}")]
    NotAComponent { path: PathBuf, message: String },
    #[error(
        "{path} has a function of {bytes} bytes of code (function {function} of core module {module}), over the \
         limit of {limit} bytes for one function: compiling it could take minutes; nothing of it was compiled"
    )]
    FunctionTooLarge { path: PathBuf, module: usize, function: usize, bytes: usize, limit: usize },
    #[error("compiling {path} was stopped: {stop}; nothing of it ran")]
    CompileStopped { path: PathBuf, stop: CompileStop },
    #[error("{path} does not export crm-migrate:plugin/hooks: it is not a crm-migrate plugin")]
    NoContract { path: PathBuf },
    #[error(
        "{path} was built against plugin contract {found}; this crm-migrate supports {}: rebuild the plugin \
         with a supported crm-migrate-plugin-sdk, or upgrade crm-migrate",
        supported.join(", ")
    )]
    UnsupportedContract { path: PathBuf, found: String, supported: Vec<String> },
    #[error(
        "{path} imports what plugins are not granted: {}. A plugin may import only crm-migrate:plugin/host \
         (log), plus what Rust's std links (wasi:cli, wasi:io, wasi:random/insecure-seed), which get deny-all \
         stubs and a fixed seed",
        imports.join(", ")
    )]
    ForbiddenImports { path: PathBuf, imports: Vec<String> },
    #[error("plugin {path} describes itself out of grammar: {}", problems.join("; "))]
    InvalidDescription { path: PathBuf, problems: Vec<String> },
    #[error(
        "plugin {plugin} does not implement the {hook} hook (it declares: {}); it can be used only for a hook it declares",
        if declared.is_empty() { "none".to_owned() } else { declared.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ") }
    )]
    HookNotDeclared { plugin: String, hook: Hook, declared: Vec<Hook> },
    #[error("plugin {plugin} rejected its configuration: key '{}': {}", escape(key), escape(message))]
    Config { plugin: String, key: String, message: String },
    #[error("plugin {path} failed while {stage}: {failure}")]
    Trapped { path: PathBuf, stage: &'static str, failure: HookFailure },
    #[error("cannot prepare plugin {path}: {message}")]
    Instantiate { path: PathBuf, message: String },
    /// The trust store does not list it, or its limits are over the store's maxima.
    #[error(transparent)]
    Trust(#[from] super::trust::TrustError),
}

/// Why compiling a plugin was given up.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CompileStop {
    #[error(
        "it did not finish within {}s (crm-migrate plugin vet --compile-timeout-secs raises the limit, on a busy machine)",
        .limit.as_secs_f64()
    )]
    TimedOut { limit: std::time::Duration },
    #[error(
        "it needed more than {} MiB of memory (crm-migrate plugin vet --compile-memory-mib raises the limit)",
        .limit >> 20
    )]
    MemoryLimit { limit: u64 },
    #[error("the compiler process failed: {detail}")]
    Failed { detail: String },
}

/// A hook call that failed. The host lives on; the batch's records go to quarantine.
#[derive(Debug, Clone, thiserror::Error)]
#[error("plugin {plugin}, hook {hook}, batch {batch}: {failure}")]
pub struct HookError {
    /// `name version` of the plugin.
    pub plugin: String,
    pub hook: Hook,
    pub batch: u64,
    pub failure: HookFailure,
    /// Fuel the call used before it failed (0 under a wall-clock budget): spent all the same.
    pub fuel_used: u64,
}

/// What went wrong inside a hook call.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HookFailure {
    #[error("used up its CPU budget ({budget}) and was stopped")]
    CpuBudgetExhausted { budget: String },
    #[error("tried to grow its memory to {requested} bytes, over the limit of {limit} bytes")]
    MemoryLimit { requested: usize, limit: usize },
    #[error("ran past its wall-clock deadline ({deadline}) and was stopped")]
    DeadlineExceeded { deadline: String },
    #[error(
        "has used up its budget for the whole run ({budget}); max_run_fuel and max_run_seconds in its \
         [[plugins]] entry of migration.toml set it"
    )]
    RunBudgetExhausted { budget: String },
    #[error("logged past the host's limits: {detail}")]
    LogLimit { detail: String },
    #[error(
        "passed the host more data in one answer or one host.log call than the host takes for this batch \
         ({limit} bytes, counted as the host would hold them)"
    )]
    OutputTooLargeToLift { limit: usize },
    #[error("overflowed its stack")]
    StackOverflow,
    #[error("panicked: {}", escape(message))]
    Panic { message: String },
    #[error("trapped: {}", escape(message))]
    Trap { message: String },
    #[error("returned {bytes} bytes of output, over the limit of {limit} bytes")]
    OutputTooLarge { bytes: usize, limit: usize },
    #[error("returned an invalid answer: {detail}")]
    InvalidOutput { detail: String },
    #[error("was called for a hook it does not declare")]
    HookNotDeclared,
    #[error("reported an error: {}", escape(message))]
    PluginError { message: String },
    #[error("rejected its configuration: key '{}': {}", escape(key), escape(message))]
    Config { key: String, message: String },
}
