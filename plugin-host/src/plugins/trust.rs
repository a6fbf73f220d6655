//! The trust store of a shared machine: the plugins its operator vetted, listed by digest with
//! who vetted them and their vet report, and maxima for their limits. It lives in the operator's
//! host configuration, outside any project, and is read whenever it is present: a project then
//! loads only the plugins it lists, and cannot raise a limit past its maxima.
//!
//! Where it is (the first that applies is the store in force):
//! 1. `$CRM_MIGRATE_TRUST_STORE`, when set: that file, even before it exists (a store named but
//!    not written yet lists nothing, so every plugin is refused: it fails closed); or, when it is
//!    exactly `none`, no store at all, whatever files exist (a file named `none` is `./none`);
//! 2. `$XDG_CONFIG_HOME/crm-migrate/trust.toml` (else `~/.config/crm-migrate/trust.toml`), when
//!    the file exists;
//! 3. `/etc/crm-migrate/trust.toml`, when the file exists.
//!
//! No key of `migration.toml` names or disables it: the project is what it guards against.
//! `none` opens nothing new: the store guards a machine against the projects it runs, and
//! whoever sets a run's environment can already name a store file of their own that lists
//! anything. What it is for is a run that must not depend on the machine it is on: the test
//! suite sets it for every `crm-migrate` it starts (except those that test the store).

use std::num::NonZeroU64;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::compile::{self, CompileLimits};
use super::error::LoadError;
use super::sandbox::{CpuBudget, Limits, RunBudget};
use super::types::Hook;
use super::{Digest, PluginComponent};

/// The environment variable that names the trust store, ahead of the configuration directories.
pub const STORE_VARIABLE: &str = "CRM_MIGRATE_TRUST_STORE";
/// The value of [`STORE_VARIABLE`] that says no store is in force, whatever files exist.
const NO_STORE: &str = "none";
/// The machine-wide store, read when neither the variable nor the user's store is there.
pub const SYSTEM_STORE: &str = "/etc/crm-migrate/trust.toml";

/// Why the trust store refused a plugin, or could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    #[error(
        "plugin {} ({digest}) is not trusted on this machine: the trust store {} does not list its digest, so nothing \
         of it was compiled or run; an operator vets and adds it with `crm-migrate plugin trust {}`",
        .path.display(), .store.display(), .path.display()
    )]
    NotTrusted { digest: String, path: PathBuf, store: PathBuf },
    #[error(
        "plugin {} would run with {limit}, over the maximum of the trust store {}: the host must cap it",
        .path.display(), .store.display()
    )]
    AboveMaximum { path: PathBuf, limit: String, store: PathBuf },
    #[error("{}{}: {message}", .path.display(), .line.map(|line| format!(" line {line}")).unwrap_or_default())]
    Malformed { path: PathBuf, line: Option<usize>, message: String },
    #[error("the trust store {}: {source}", .path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error(
        "the trust store {} is not trusted: {} is writable by others (mode {mode:o}), so anyone could list a plugin \
         in it; make it writable by its owner only (chmod go-w)",
        .path.display(), .writable.display()
    )]
    WritableByOthers { path: PathBuf, writable: PathBuf, mode: u32 },
    #[error("{digest} is not in the trust store {}", .store.display())]
    NotListed { digest: String, store: PathBuf },
    #[error("{} describes itself as {found}, not {expected}: not trusted", .path.display())]
    NotAsNamed { path: PathBuf, expected: String, found: String },
    #[error(
        "{STORE_VARIABLE}={NO_STORE} says no trust store is in force, so there is none to change: name the store's \
         file in {STORE_VARIABLE}, or unset it to change the user's or the machine's"
    )]
    NoneInForce,
}

impl TrustError {
    /// A plugin was refused because the store does not list it (exit code 12 in the CLI).
    pub fn refuses_plugin(&self) -> bool {
        matches!(self, TrustError::NotTrusted { .. })
    }
}

/// Maxima of a plugin's limits; a missing one leaves the host's (or the project's) value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Maxima {
    /// Linear memory of one instance, in MiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mib: Option<NonZeroU64>,
    /// Fuel of one call: its base, and its amount per record of the batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuel_per_call: Option<NonZeroU64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuel_per_record: Option<NonZeroU64>,
    /// Wall-clock seconds of one call (a batch), whatever its size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_seconds: Option<NonZeroU64>,
    /// The whole-run budget a project may give a plugin (`max_run_fuel`, `max_run_seconds`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_fuel: Option<NonZeroU64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_seconds: Option<NonZeroU64>,
    /// Core WebAssembly instances (and tables) of one plugin component: a Python plugin needs
    /// about 40, a Rust one a handful.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub core_instances: Option<NonZeroU64>,
}

impl Maxima {
    fn is_empty(&self) -> bool {
        *self == Maxima::default()
    }

    /// `limits` with each of these maxima applied; what was lowered is said in `capped`,
    /// naming `by`.
    fn cap(&self, limits: &mut Limits, by: &str, capped: &mut Vec<String>) {
        let mut lower = |what: &str, unit: &str, value: u64, maximum: Option<NonZeroU64>| match maximum {
            Some(maximum) if value > maximum.get() => {
                capped.push(format!("{what}: {value}{unit} asked, capped to {maximum}{unit} by {by}"));
                maximum.get()
            }
            _ => value,
        };
        let memory_mib = lower("memory", " MiB", (limits.memory_bytes >> 20) as u64, self.memory_mib);
        limits.memory_bytes = limits.memory_bytes.min(usize::try_from(memory_mib << 20).unwrap_or(usize::MAX));
        if let CpuBudget::Fuel { per_call, per_record } = limits.cpu {
            limits.cpu = CpuBudget::Fuel {
                per_call: lower("fuel per call", "", per_call, self.fuel_per_call),
                per_record: lower("fuel per record", "", per_record, self.fuel_per_record),
            };
        }
        // The deadline of the largest batch the host runs (1,000 records) is what is compared.
        let batch = limits.deadline(1000);
        let seconds = lower("wall time per batch", " s", batch.as_secs(), self.batch_seconds);
        if seconds < batch.as_secs() {
            limits.max_deadline = Some(Duration::from_secs(seconds));
        }
        let core_instances = lower("core instances", "", u64::from(limits.core_instances), self.core_instances);
        limits.core_instances = u32::try_from(core_instances).unwrap_or(u32::MAX).min(limits.core_instances);
        let run = limits.max_run_budget;
        let run_seconds = lower("wall time per run", " s", run.time.as_secs(), self.run_seconds);
        limits.max_run_budget = RunBudget {
            fuel: lower("fuel per run", "", run.fuel, self.run_fuel),
            time: if run_seconds < run.time.as_secs() { Duration::from_secs(run_seconds) } else { run.time },
        };
    }

    /// The first limit in `limits` over these maxima, as the refusal names it.
    fn exceeded_by(&self, limits: &Limits) -> Option<String> {
        let (mut copy, mut capped) = (*limits, Vec::new());
        self.cap(&mut copy, "the store", &mut capped);
        capped.into_iter().next()
    }
}

/// A plugin's limits as a vet report shows them and the store keeps them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsReport {
    pub memory_mib: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuel_per_call: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fuel_per_record: Option<u64>,
    /// The wall-clock deadline of a 1,000-record batch.
    pub batch_seconds: u64,
    pub run_fuel: u64,
    pub run_seconds: u64,
    /// Absent from entries written before the limit existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub core_instances: Option<u32>,
}

impl From<&Limits> for LimitsReport {
    fn from(limits: &Limits) -> LimitsReport {
        let (fuel_per_call, fuel_per_record) = match limits.cpu {
            CpuBudget::Fuel { per_call, per_record } => (Some(per_call), Some(per_record)),
            CpuBudget::WallClock { .. } => (None, None),
        };
        LimitsReport {
            memory_mib: (limits.memory_bytes >> 20) as u64,
            fuel_per_call,
            fuel_per_record,
            batch_seconds: limits.deadline(1000).as_secs(),
            run_fuel: limits.max_run_budget.fuel,
            run_seconds: limits.max_run_budget.time.as_secs(),
            core_instances: Some(limits.core_instances),
        }
    }
}

/// One vetted plugin, with its vet report.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedPlugin {
    /// `sha256:<hex>` of the `.wasm` file, as a project pins it.
    pub digest: Spanned<String>,
    pub name: String,
    pub version: String,
    pub vetted_by: String,
    /// UTC, ISO 8601.
    pub vetted_at: String,
    /// Where the file was when it was vetted (a project may keep a copy anywhere).
    pub file: PathBuf,
    pub contract: String,
    pub hooks: Vec<Hook>,
    pub imports: Vec<String>,
    /// The limits it was vetted under.
    pub limits: LimitsReport,
    /// Maxima for this plugin only, on top of the store's.
    #[serde(default, skip_serializing_if = "Maxima::is_empty")]
    pub maxima: Maxima,
}

impl TrustedPlugin {
    /// The entry for a plugin that passed vetting under `limits`.
    pub fn vetted(component: &PluginComponent, limits: &Limits, vetted_by: String) -> TrustedPlugin {
        TrustedPlugin {
            digest: Spanned::new(0..0, component.digest.to_string()),
            name: component.info.name.clone(),
            version: component.info.version.clone(),
            vetted_by,
            vetted_at: crm_migrate_core::record::now_utc(),
            file: std::fs::canonicalize(&component.path).unwrap_or_else(|_| component.path.clone()),
            contract: component.contract_version().to_owned(),
            hooks: component.info.hooks.clone(),
            imports: component.imports.clone(),
            limits: LimitsReport::from(limits),
            maxima: Maxima::default(),
        }
    }

    fn is(&self, digest: &Digest) -> bool {
        self.digest.get_ref().parse::<Digest>().is_ok_and(|listed| listed == *digest)
    }
}

/// The file: store-wide maxima, then the plugins.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreFile {
    #[serde(default, skip_serializing_if = "Maxima::is_empty")]
    maxima: Maxima,
    #[serde(default)]
    plugins: Vec<TrustedPlugin>,
}

const HEADER: &str = "# crm-migrate trust store: the plugins this machine runs, by the sha256 of their .wasm file.\n\
# Written by `crm-migrate plugin trust FILE.wasm` and `plugin untrust`; `plugin list` shows it.\n\
# [maxima] (memory_mib, fuel_per_call, fuel_per_record, batch_seconds, run_fuel, run_seconds,\n\
# core_instances) caps every plugin's limits, a [plugins.maxima] table one plugin's: a project\n\
# cannot raise them.\n\n";

/// A trust store, read from its file (or empty, when the file is not written yet).
#[derive(Debug, Clone)]
pub struct TrustStore {
    path: PathBuf,
    file: StoreFile,
}

impl TrustStore {
    /// The store in force on this machine, if any (see the module's documentation for where it
    /// is looked for). A store that is there but unreadable or malformed is an error, never
    /// "no store".
    pub fn configured() -> Result<Option<TrustStore>, TrustError> {
        let candidates = match locations(|variable| std::env::var_os(variable)) {
            Locations::Named(path) => return TrustStore::open(&path).map(Some),
            Locations::NoStore => return Ok(None),
            Locations::Search(candidates) => candidates,
        };
        for path in candidates {
            match std::fs::metadata(&path) {
                Ok(_) => return TrustStore::open(&path).map(Some),
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => return Err(TrustError::Io { path, source }),
            }
        }
        Ok(None)
    }

    /// The store `plugin trust` writes into: the one in force, else a new one in the user's
    /// configuration directory; with `none`, an error (writing to a store that is not in force
    /// would change nothing this run sees).
    pub fn for_writing() -> Result<TrustStore, TrustError> {
        match (TrustStore::configured()?, locations(|variable| std::env::var_os(variable))) {
            (Some(store), _) => Ok(store),
            (None, Locations::Search(candidates)) => {
                let path = candidates.into_iter().next().expect("the system store is always a candidate");
                Ok(TrustStore { path, file: StoreFile::default() })
            }
            (None, _) => Err(TrustError::NoneInForce),
        }
    }

    /// Reads the store at `path`; a file not written yet is an empty store.
    pub fn open(path: &Path) -> Result<TrustStore, TrustError> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(TrustStore { path: path.to_owned(), file: StoreFile::default() });
            }
            Err(source) => return Err(TrustError::Io { path: path.to_owned(), source }),
        };
        check_not_writable_by_others(path)?;
        // The line is quoted: a type error alone ("expected a nonzero u64") does not name its key.
        let malformed = |span: Option<std::ops::Range<usize>>, message: String| {
            let line = span.map(|span| crm_migrate_core::line_of(&text, span.start));
            let quoted = line
                .and_then(|line| text.lines().nth(line - 1))
                .map(|line| format!(" (`{}`)", line.trim()))
                .unwrap_or_default();
            TrustError::Malformed { path: path.to_owned(), line, message: format!("{message}{quoted}") }
        };
        let file: StoreFile =
            toml::from_str(&text).map_err(|error| malformed(error.span(), error.message().trim().to_owned()))?;
        for plugin in &file.plugins {
            plugin
                .digest
                .get_ref()
                .parse::<Digest>()
                .map_err(|message| malformed(Some(plugin.digest.span()), message))?;
        }
        Ok(TrustStore { path: path.to_owned(), file })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn plugins(&self) -> &[TrustedPlugin] {
        &self.file.plugins
    }

    /// The maxima every plugin is held to.
    pub fn maxima(&self) -> &Maxima {
        &self.file.maxima
    }

    pub fn find(&self, digest: &Digest) -> Option<&TrustedPlugin> {
        self.file.plugins.iter().find(|plugin| plugin.is(digest))
    }

    /// The loading step: a plugin loads only when the store lists its digest and the limits it
    /// would run with are within the store's maxima.
    pub fn check(&self, digest: &Digest, path: &Path, limits: &Limits) -> Result<(), TrustError> {
        let Some(plugin) = self.find(digest) else {
            return Err(TrustError::NotTrusted {
                digest: digest.to_string(),
                path: path.to_owned(),
                store: self.path.clone(),
            });
        };
        match self.file.maxima.exceeded_by(limits).or_else(|| plugin.maxima.exceeded_by(limits)) {
            Some(limit) => Err(TrustError::AboveMaximum { path: path.to_owned(), limit, store: self.path.clone() }),
            None => Ok(()),
        }
    }

    /// Adds a vetted plugin, in place of an entry for the same digest.
    pub fn add(&mut self, plugin: TrustedPlugin) {
        match self.file.plugins.iter_mut().find(|listed| listed.digest.get_ref() == plugin.digest.get_ref()) {
            Some(listed) => *listed = TrustedPlugin { maxima: listed.maxima.clone(), ..plugin },
            None => self.file.plugins.push(plugin),
        }
    }

    /// Removes the plugin with this digest.
    pub fn remove(&mut self, digest: &Digest) -> Result<TrustedPlugin, TrustError> {
        match self.file.plugins.iter().position(|plugin| plugin.is(digest)) {
            Some(position) => Ok(self.file.plugins.remove(position)),
            None => Err(TrustError::NotListed { digest: digest.to_string(), store: self.path.clone() }),
        }
    }

    /// Writes the store: readable by its owner only, and atomically (a temporary file renamed
    /// over it), so that a crash never leaves half a store for the next load to refuse.
    pub fn save(&self) -> Result<(), TrustError> {
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| TrustError::Io { path, source }
        };
        let text = toml::to_string(&self.file).map_err(|error| TrustError::Malformed {
            path: self.path.clone(),
            line: None,
            message: error.to_string(),
        })?;
        let dir = self.path.parent().filter(|dir| !dir.as_os_str().is_empty()).unwrap_or(Path::new("."));
        crm_migrate_core::private_files::create_dir(dir).map_err(io(dir))?;
        let file_name = self.path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        let temporary = dir.join(format!(".{file_name}.{}.tmp", std::process::id()));
        crm_migrate_core::private_files::write(&temporary, format!("{HEADER}{text}")).map_err(io(&temporary))?;
        // A store its operator made readable by all (as /etc's must be, for every user's runs
        // to read it) stays readable; never writable by others.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if let Ok(metadata) = std::fs::metadata(&self.path) {
                let mode = metadata.permissions().mode() & 0o644;
                std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(mode | 0o600))
                    .map_err(io(&temporary))?;
            }
        }
        std::fs::rename(&temporary, &self.path).map_err(|source| {
            let _ = std::fs::remove_file(&temporary);
            TrustError::Io { path: self.path.clone(), source }
        })
    }
}

/// A store (or its directory, where it could be replaced) that others may write lists what
/// anyone wants: refused. A directory with the sticky bit (`/tmp`) lets only the owner replace
/// the file, but the check keeps to the simple rule.
fn check_not_writable_by_others(path: &Path) -> Result<(), TrustError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let dir = path.parent().filter(|dir| !dir.as_os_str().is_empty()).unwrap_or(Path::new("."));
        for checked in [path, dir] {
            let metadata =
                std::fs::metadata(checked).map_err(|source| TrustError::Io { path: checked.to_owned(), source })?;
            let mode = metadata.permissions().mode() & 0o7777;
            if mode & 0o022 != 0 {
                return Err(TrustError::WritableByOthers { path: path.to_owned(), writable: checked.to_owned(), mode });
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Where the store is looked for, as the environment says.
#[derive(Debug, PartialEq)]
enum Locations {
    /// `$CRM_MIGRATE_TRUST_STORE` names this file: in force whether or not it exists.
    Named(PathBuf),
    /// `$CRM_MIGRATE_TRUST_STORE=none`: no store is in force, whatever files exist.
    NoStore,
    /// The first of these files that exists is in force: the user's (`$XDG_CONFIG_HOME`, else
    /// `~/.config`; a relative one is ignored, as the XDG specification says), then the machine's.
    Search(Vec<PathBuf>),
}

fn locations(variable: impl Fn(&str) -> Option<std::ffi::OsString>) -> Locations {
    match variable(STORE_VARIABLE).filter(|value| !value.is_empty()) {
        Some(value) if value == NO_STORE => return Locations::NoStore,
        Some(path) => return Locations::Named(PathBuf::from(path)),
        None => {}
    }
    let absolute = |name: &str| variable(name).map(PathBuf::from).filter(|path| path.is_absolute());
    let user = absolute("XDG_CONFIG_HOME").or_else(|| absolute("HOME").map(|home| home.join(".config")));
    Locations::Search(
        user.map(|config| config.join("crm-migrate").join("trust.toml"))
            .into_iter()
            .chain([PathBuf::from(SYSTEM_STORE)])
            .collect(),
    )
}

/// The limits a plugin runs with, and what lowered them.
#[derive(Debug, Clone)]
pub struct LimitsInForce {
    pub limits: Limits,
    /// One line per limit the trust store capped: what was asked, what is in force, and by whom.
    pub capped: Vec<String>,
}

/// The limits in force for the plugin `digest`: `requested` (the host's, or a project's or a
/// flag's within the host's), each capped by the store's maxima and then by its entry's.
pub fn limits_in_force(requested: Limits, store: Option<&TrustStore>, digest: &Digest) -> LimitsInForce {
    let mut limits = requested;
    let mut capped = Vec::new();
    if let Some(store) = store {
        store.file.maxima.cap(
            &mut limits,
            &format!("the trust store {} ([maxima])", store.path.display()),
            &mut capped,
        );
        if let Some(plugin) = store.find(digest) {
            plugin.maxima.cap(
                &mut limits,
                &format!("the trust store {} (its entry's [plugins.maxima])", store.path.display()),
                &mut capped,
            );
        }
    }
    LimitsInForce { limits, capped }
}

/// The digest of a plugin file, read within the compile limits' size bound (before anything of
/// it is compiled, to choose its limits and check it against the store).
pub fn file_digest(path: &Path, limits: &CompileLimits) -> Result<Digest, LoadError> {
    compile::read_bounded(path, limits).map(|wasm| Digest::of(&wasm))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An environment of these variables only.
    fn environment<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<std::ffi::OsString> + 'a {
        move |name| pairs.iter().find(|(key, _)| *key == name).map(|(_, value)| std::ffi::OsString::from(value))
    }

    #[test]
    fn the_variable_comes_first_then_the_users_store_then_the_machines() {
        let system = PathBuf::from(SYSTEM_STORE);
        let all = [(STORE_VARIABLE, "/srv/trust.toml"), ("XDG_CONFIG_HOME", "/home/ola/.cfg"), ("HOME", "/home/ola")];
        assert_eq!(locations(environment(&all)), Locations::Named(PathBuf::from("/srv/trust.toml")));
        let home_only = [(STORE_VARIABLE, ""), ("XDG_CONFIG_HOME", "relative"), ("HOME", "/home/ola")];
        assert_eq!(
            locations(environment(&home_only)),
            Locations::Search(vec![PathBuf::from("/home/ola/.config/crm-migrate/trust.toml"), system.clone()])
        );
        assert_eq!(locations(environment(&[])), Locations::Search(vec![system]));
    }

    #[test]
    fn none_says_no_store_whatever_files_exist_and_only_as_the_exact_word() {
        let none = [(STORE_VARIABLE, "none"), ("XDG_CONFIG_HOME", "/home/ola/.cfg"), ("HOME", "/home/ola")];
        assert_eq!(locations(environment(&none)), Locations::NoStore);
        for file in ["./none", "None", "none ", "/etc/none"] {
            let named = [(STORE_VARIABLE, file)];
            assert_eq!(locations(environment(&named)), Locations::Named(PathBuf::from(file)), "{file:?} names a file");
        }
    }

    #[test]
    fn maxima_lower_what_is_over_them_and_say_so() {
        let maxima = Maxima {
            memory_mib: NonZeroU64::new(64),
            batch_seconds: NonZeroU64::new(25),
            run_fuel: NonZeroU64::new(1000),
            ..Maxima::default()
        };
        let mut limits = Limits::default();
        let mut capped = Vec::new();
        maxima.cap(&mut limits, "the store", &mut capped);
        assert_eq!(limits.memory_bytes, 64 << 20);
        assert_eq!(limits.deadline(1000), Duration::from_secs(25));
        assert_eq!(limits.deadline(1), Duration::from_millis(10_020), "a deadline under the cap stays");
        assert_eq!(limits.max_run_budget.fuel, 1000);
        assert_eq!(capped.len(), 3, "{capped:?}");
        assert!(capped[0].contains("memory: 256 MiB asked, capped to 64 MiB by the store"), "{capped:?}");
        assert_eq!(maxima.exceeded_by(&limits), None, "capped limits are within the maxima");
        assert!(maxima.exceeded_by(&Limits::default()).is_some());
    }
}
