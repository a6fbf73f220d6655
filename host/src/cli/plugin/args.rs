//! Which plugin file to load, and the sandbox to load it in: the arguments `plugin vet`, `run`
//! and `trust` share.

use std::path::PathBuf;

use clap::Args;

use crm_migrate::plugins::{
    CompileLimits, Compiler, ComponentCache, CpuBudget, Digest, Limits, LimitsInForce, PluginComponent, PluginHost,
    TrustStore, file_digest, limits_in_force,
};

/// Which plugin file to load, and the sandbox to load it in.
#[derive(Args)]
pub struct PluginArgs {
    /// The plugin's .wasm file
    file: PathBuf,
    /// Refuse the file unless its sha256 is this (sha256:<hex>)
    #[arg(long)]
    digest: Option<Digest>,
    /// Where compiled plugins are cached (default: $CRM_MIGRATE_CACHE_DIR, else ~/.cache/crm-migrate)
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Compile the plugin every time instead of using the cache
    #[arg(long)]
    no_cache: bool,
    /// Memory a plugin instance may use, in MiB
    #[arg(long, default_value_t = Limits::default().memory_bytes >> 20)]
    memory_limit_mib: usize,
    /// CPU budget per record of a batch, in fuel (about one unit per WebAssembly instruction)
    #[arg(long, default_value_t = default_fuel_per_record())]
    fuel_per_record: u64,
    /// Largest plugin file accepted, in MiB
    #[arg(long, default_value_t = CompileLimits::default().max_file_bytes >> 20)]
    max_file_mib: u64,
    /// Time compiling a plugin may take, in seconds (it runs in a child process, killed then)
    #[arg(long, default_value_t = CompileLimits::default().timeout.as_secs())]
    compile_timeout_secs: u64,
    /// Address space of the process compiling a plugin, in MiB
    #[arg(long, default_value_t = CompileLimits::default().memory_bytes >> 20)]
    compile_memory_mib: u64,
}

fn default_fuel_per_record() -> u64 {
    match Limits::default().cpu {
        CpuBudget::Fuel { per_record, .. } => per_record,
        CpuBudget::WallClock { .. } => unreachable!("the default budget is counted in fuel"),
    }
}

impl PluginArgs {
    /// Opens the plugin to vet it: under the limits the flags ask, capped by the trust store's
    /// maxima, but not refused for being unlisted (vetting is how a plugin gets listed).
    pub fn vet(&self) -> anyhow::Result<(PluginComponent, LimitsInForce, Option<TrustStore>)> {
        self.open_under(TrustStore::configured()?, false)
    }

    /// Opens the plugin to run it: refused unless the trust store, when one is configured, lists it.
    pub fn open_trusted(&self) -> anyhow::Result<PluginComponent> {
        self.open_under(TrustStore::configured()?, true).map(|(component, _, _)| component)
    }

    pub fn open_under(
        &self,
        store: Option<TrustStore>,
        require_trust: bool,
    ) -> anyhow::Result<(PluginComponent, LimitsInForce, Option<TrustStore>)> {
        let compile = CompileLimits {
            max_file_bytes: self.max_file_mib << 20,
            timeout: std::time::Duration::from_secs(self.compile_timeout_secs),
            memory_bytes: self.compile_memory_mib << 20,
            ..CompileLimits::default()
        };
        // Pinned to the digest its limits were chosen for: a file changed in between is refused.
        let digest = match &self.digest {
            Some(digest) => *digest,
            None => file_digest(&self.file, &compile)?,
        };
        let defaults = Limits::default();
        let cpu = match defaults.cpu {
            CpuBudget::Fuel { per_call, .. } => CpuBudget::Fuel { per_call, per_record: self.fuel_per_record },
            other => other,
        };
        let requested = Limits { cpu, memory_bytes: self.memory_limit_mib << 20, ..defaults };
        let in_force = limits_in_force(requested, store.as_ref(), &digest);
        let cache_dir = if self.no_cache { None } else { self.cache_dir.clone().or_else(ComponentCache::default_dir) };
        let host = PluginHost::new(in_force.limits, ComponentCache::new(cache_dir))
            .map_err(|error| anyhow::anyhow!("{error:#}"))?;
        let host = host
            .with_compiler(Compiler { limits: compile, ..Compiler::default() })
            .with_trust_store(store.clone().filter(|_| require_trust));
        let component = host.open(&self.file, Some(&digest))?;
        Ok((component, in_force, store))
    }
}
