//! The migration project: a directory holding `migration.toml` (what moves where, through which
//! plugins), and later `mapping.toml`, `state.db` and `reports/`. `init` writes it; every other
//! verb opens it with `-C DIR`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::pipedrive::{
    ApiToken, BudgetPolicy, ClientConfig, Plan, Service, TargetUrlError, check_account_url, check_target_url,
};
use crate::plugins::{
    ComponentCache, ConfigOption, Digest, Hook, Limits, LimitsInForce, LoadError, LoadedPlugin, PluginHost, RunBudget,
    TrustError, TrustStore, limits_in_force,
};

pub const CONFIG_FILE: &str = "migration.toml";
/// Where `extract` writes the snapshot of an API source, unless `[source] export` says otherwise.
pub const SNAPSHOT_DIR: &str = "usercom-snapshot";
pub const REPORTS_DIR: &str = "reports";
/// Where `approve` keeps each approved plugin build, by digest: a later swap is diffed
/// against exactly what was approved (`plugin_diff::since_approval`).
pub const APPROVED_PLUGINS_DIR: &str = "approved-plugins";
/// What becomes of the records the account already has: plan writes it, a person decides in it,
/// approve pins it with the mapping.
pub const EXISTING_FILE: &str = "existing.toml";

/// User.com's accounts live at `ACCOUNT.user.com`; a sandbox on this machine only when named.
pub const USERCOM: Service =
    Service { name: "User.com", domain: "user.com", section: "source", loopback_without_allow_host: false };

/// Why a project could not be created or opened. Messages name the file, and the line where known.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("{} has no {CONFIG_FILE}: create the project with `crm-migrate init {} --export PATH`", .dir.display(), .dir.display())]
    NotAProject { dir: PathBuf },
    #[error("{} already holds a migration ({CONFIG_FILE}); pick another directory, or edit that file", .dir.display())]
    AlreadyAProject { dir: PathBuf },
    #[error("{}: {source}", .path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}{}: {message}", .path.display(), .line.map(|line| format!(" line {line}")).unwrap_or_default())]
    Invalid { path: PathBuf, line: Option<usize>, message: String },
    /// `init --pipedrive URL` with a URL the token must not go to; nothing was written.
    /// The machine's trust store refused a plugin, or could not be read.
    #[error(transparent)]
    Trust(#[from] TrustError),
    #[error(
        "--pipedrive {source}; nothing was written (for a host other than Pipedrive's, init with https://COMPANY.pipedrive.com, then set url and allow_host in {CONFIG_FILE})"
    )]
    InitUrl { source: TargetUrlError },
    /// `init --usercom-api URL` with a URL the User.com token must not go to; nothing was written.
    #[error(
        "--usercom-api {source}; nothing was written (for a sandbox on this machine, init with https://COMPANY.user.com, then set api and allow_host in {CONFIG_FILE})"
    )]
    InitSourceUrl { source: TargetUrlError },
}

/// `migration.toml`, as written by `init` and edited by a person.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrationConfig {
    pub source: SourceConfig,
    pub target: TargetConfig,
    #[serde(default)]
    pub plugins: Vec<PluginConfig>,
    #[serde(default)]
    pub options: Options,
    /// Files linked from the export's records (`[attachments]`): where they may come from.
    #[serde(default)]
    pub attachments: crate::attachments::AttachmentsConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// The User.com export directory (relative to the project directory, or absolute). With
    /// `api`: where `extract` writes its snapshot (default [`SNAPSHOT_DIR`]).
    pub export: Option<Spanned<PathBuf>>,
    /// User.com's REST API instead of an export: the account's URL (`https://acme.user.com`).
    pub api: Option<Spanned<String>>,
    /// A host other than *.user.com that `api` may name (a proxy, or a sandbox on this machine).
    pub allow_host: Option<Spanned<String>>,
    /// The environment variable holding User.com's API token (with `api`).
    pub token_env: Option<String>,
    /// Or a file holding only that token.
    pub token_file: Option<PathBuf>,
    /// At most this many requests a second to User.com's API (default 10; it publishes no limit).
    pub requests_per_second: Option<f64>,
    /// Encodings by file name, where detection gets one wrong (`"companies.csv" = "windows-1250"`).
    #[serde(default)]
    pub encodings: BTreeMap<String, String>,
    /// Bounds on one row of the export (`[source.limits]`), checked as it is read.
    #[serde(default = "default_limits")]
    pub limits: Spanned<crate::extract::InputLimits>,
    /// The User.com account (`acme` for acme.user.com): part of every record's marker, so that
    /// two accounts can go into one Pipedrive account. None in projects made before it existed:
    /// their markers keep the old form.
    pub account: Option<Spanned<String>>,
}

fn default_limits() -> Spanned<crate::extract::InputLimits> {
    Spanned::new(0..0, crate::extract::InputLimits::default())
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// Where the API token goes: https://COMPANY.pipedrive.com, or http on this machine only.
    pub url: Spanned<String>,
    /// A host other than *.pipedrive.com that `url` may name (a proxy the customer runs).
    pub allow_host: Option<Spanned<String>>,
    /// The environment variable holding the API token.
    pub token_env: Option<String>,
    /// Or a file holding only the API token.
    pub token_file: Option<PathBuf>,
    pub plan: Spanned<String>,
    #[serde(default = "one")]
    pub seats: u32,
    #[serde(default)]
    pub top_up_tokens: u64,
    /// Owner of records whose User.com agent has no Pipedrive user; empty: the token's user.
    #[serde(default)]
    pub default_owner_email: String,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginConfig {
    pub hook: Spanned<Hook>,
    pub path: PathBuf,
    /// `sha256:<hex>`: exactly this file runs.
    pub digest: Spanned<String>,
    #[serde(default)]
    pub config: BTreeMap<String, String>,
    /// Fuel the plugin may use over a whole run (default: `RunBudget::DEFAULT`; capped by the
    /// host's maximum): a plugin that burns its full budget on every batch is stopped.
    #[serde(default)]
    pub max_run_fuel: Option<Spanned<u64>>,
    /// Wall-clock seconds the plugin may run over a whole run (same default and cap).
    #[serde(default)]
    pub max_run_seconds: Option<Spanned<u64>>,
    /// Linear memory of one instance of the plugin, in MiB (default: the host's, 256; at most
    /// 4096, a 32-bit memory's size; capped by the trust store's maximum when one is configured).
    #[serde(default)]
    pub memory_mib: Option<Spanned<u64>>,
}

/// The most `memory_mib` may ask: all a 32-bit linear memory can address.
pub const MAX_PLUGIN_MEMORY_MIB: u64 = 4096;

impl PluginConfig {
    /// The whole-run budget of this plugin: its entry's values, the default for the others.
    pub fn run_budget(&self) -> RunBudget {
        let default = RunBudget::DEFAULT;
        RunBudget {
            fuel: self.max_run_fuel.as_ref().map_or(default.fuel, |fuel| *fuel.get_ref()),
            time: self.max_run_seconds.as_ref().map_or(default.time, |seconds| Duration::from_secs(*seconds.get_ref())),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// `wait` for the daily token budget to reset, or `stop` and resume with a later `apply`.
    #[serde(default = "wait")]
    pub on_budget_exhausted: Spanned<String>,
    /// Contacts in the sample run (`apply --sample`).
    #[serde(default = "sample_size")]
    pub sample_size: usize,
    /// `"none"`: contacts sharing an email or phone go to Pipedrive as they are, one person
    /// each, by the customer's choice. Without it and without a dedup plugin, plan leaves the
    /// duplicates to a person (REVIEW).
    #[serde(default)]
    pub dedup: Option<Spanned<String>>,
}

impl Options {
    /// The project says duplicates are migrated as they are (`dedup = "none"`).
    pub fn dedup_none(&self) -> bool {
        self.dedup.as_ref().is_some_and(|dedup| dedup.get_ref() == "none")
    }
}

impl Default for Options {
    fn default() -> Options {
        Options { on_budget_exhausted: wait(), sample_size: sample_size(), dedup: None }
    }
}

fn wait() -> Spanned<String> {
    Spanned::new(0..0, "wait".to_string())
}

fn sample_size() -> usize {
    300
}

/// An opened, checked migration project.
#[derive(Debug, Clone)]
pub struct Project {
    pub dir: PathBuf,
    pub config: MigrationConfig,
    pub plan: Plan,
    pub budget_policy: BudgetPolicy,
}

impl Project {
    /// Opens `DIR/migration.toml` and checks what can be checked without the network.
    pub fn open(dir: &Path) -> Result<Project, ProjectError> {
        let path = dir.join(CONFIG_FILE);
        if !path.is_file() {
            return Err(ProjectError::NotAProject { dir: dir.to_path_buf() });
        }
        let text = std::fs::read_to_string(&path).map_err(|source| ProjectError::Io { path: path.clone(), source })?;
        let invalid = |span: Option<std::ops::Range<usize>>, message: String| ProjectError::Invalid {
            path: path.clone(),
            line: span.map(|span| line_of(&text, span.start)),
            message,
        };
        let config: MigrationConfig =
            toml::from_str(&text).map_err(|error| invalid(error.span(), error.message().trim().to_string()))?;

        let plan: Plan = config
            .target
            .plan
            .get_ref()
            .parse()
            .map_err(|message| invalid(Some(config.target.plan.span()), message))?;
        let budget_policy = match config.options.on_budget_exhausted.get_ref().as_str() {
            "wait" => BudgetPolicy::WaitForReset,
            "stop" => BudgetPolicy::Stop,
            other => {
                return Err(invalid(
                    Some(config.options.on_budget_exhausted.span()),
                    format!("on_budget_exhausted is '{other}'; expected wait or stop"),
                ));
            }
        };
        if let Some(dedup) = config.options.dedup.as_ref().filter(|dedup| dedup.get_ref() != "none") {
            return Err(invalid(
                Some(dedup.span()),
                format!(
                    "dedup is '{}'; the only value is \"none\" (to merge duplicates, add a dedup plugin)",
                    dedup.get_ref()
                ),
            ));
        }
        let allow_host = config.target.allow_host.as_ref();
        if let Err(error) =
            check_target_url(config.target.url.get_ref(), allow_host.map(|host| host.get_ref().as_str()))
        {
            let span = match (&error, allow_host) {
                (TargetUrlError::BadAllowHost { .. }, Some(host)) => host.span(),
                _ => config.target.url.span(),
            };
            return Err(invalid(Some(span), format!("[target] url {error}")));
        }
        match (&config.target.token_env, &config.target.token_file) {
            (Some(_), None) | (None, Some(_)) => {}
            _ => return Err(invalid(None, "[target] needs exactly one of token_env and token_file".into())),
        }
        check_source(&config.source, dir).map_err(|(span, message)| invalid(span, message))?;
        let limits = config.source.limits.get_ref();
        if limits.max_columns == 0 || limits.max_cell_bytes == 0 || limits.max_record_bytes == 0 {
            return Err(invalid(
                Some(config.source.limits.span()),
                "[source.limits]: each limit must be at least 1".into(),
            ));
        }
        if let Some(account) = &config.source.account {
            crate::marker::check_account(account.get_ref())
                .map_err(|message| invalid(Some(account.span()), message))?;
        }
        let mut previous: Option<Hook> = None;
        for plugin in &config.plugins {
            let hook = *plugin.hook.get_ref();
            if previous.is_some_and(|previous| previous >= hook) {
                return Err(invalid(
                    Some(plugin.hook.span()),
                    format!("plugins run clean, then dedup, then label, one each; '{hook}' is out of order"),
                ));
            }
            previous = Some(hook);
            plugin
                .digest
                .get_ref()
                .parse::<Digest>()
                .map_err(|error| invalid(Some(plugin.digest.span()), error.to_string()))?;
            for (key, value) in [("max_run_fuel", &plugin.max_run_fuel), ("max_run_seconds", &plugin.max_run_seconds)] {
                if let Some(value) = value.as_ref().filter(|value| *value.get_ref() == 0) {
                    return Err(invalid(Some(value.span()), format!("{key} must be at least 1")));
                }
            }
            if let Some(memory) =
                plugin.memory_mib.as_ref().filter(|memory| !(1..=MAX_PLUGIN_MEMORY_MIB).contains(memory.get_ref()))
            {
                return Err(invalid(
                    Some(memory.span()),
                    format!("memory_mib must be from 1 to {MAX_PLUGIN_MEMORY_MIB}"),
                ));
            }
        }
        // Two settings that contradict each other: one of them would be ignored, and which one is
        // the customer's choice, not the tool's.
        if let (Some(none), Some(plugin)) = (
            config.options.dedup.as_ref().filter(|_| config.options.dedup_none()),
            config.plugins.iter().find(|plugin| *plugin.hook.get_ref() == Hook::Dedup),
        ) {
            return Err(invalid(
                Some(none.span()),
                format!(
                    "[options] dedup = \"none\" says duplicates go as they are, but the [[plugins]] entry on line {} \
                     (hook = \"dedup\", {}) merges them: remove dedup = \"none\" to merge with the plugin, or \
                     remove that [[plugins]] entry to migrate duplicates as they are",
                    line_of(&text, plugin.hook.span().start),
                    plugin.path.display()
                ),
            ));
        }
        tighten_reports(&dir.join(REPORTS_DIR))?;
        Ok(Project { dir: dir.to_path_buf(), config, plan, budget_policy })
    }

    /// The export the migration reads: the configured directory, or an API source's snapshot.
    pub fn export_dir(&self) -> PathBuf {
        match &self.config.source.export {
            Some(export) => self.dir.join(export.get_ref()),
            None => self.dir.join(SNAPSHOT_DIR),
        }
    }

    /// The User.com API the source is read from (`[source] api`), when it is one.
    pub fn usercom_api(&self) -> Option<&str> {
        self.config.source.api.as_ref().map(|api| api.get_ref().as_str())
    }

    /// Reads User.com's API token from where `[source]` says it is. Never shown, never stored.
    pub fn usercom_token(&self) -> Result<ApiToken, ProjectError> {
        let source = &self.config.source;
        self.read_token("source", source.token_env.as_deref(), source.token_file.as_deref())
    }

    /// How this project's records are marked in Pipedrive (with its source account, if it has one).
    pub fn markers(&self) -> crate::marker::Markers {
        crate::marker::Markers::new(self.config.source.account.as_ref().map(|account| account.get_ref().as_str()))
    }

    /// Where attachments may be downloaded from: `[attachments]`, and the account's own host
    /// (`[source] api`'s, or `ACCOUNT.user.com` for `[source] account`).
    pub fn attachment_policy(&self) -> crate::attachments::Policy {
        let source = &self.config.source;
        let api_host = self.usercom_api().and_then(|api| reqwest::Url::parse(api).ok()?.host_str().map(str::to_owned));
        let account_host =
            api_host.or_else(|| source.account.as_ref().map(|account| format!("{}.user.com", account.get_ref())));
        crate::attachments::Policy::new(&self.config.attachments, account_host.as_deref())
    }

    pub fn reports_dir(&self) -> PathBuf {
        self.dir.join(REPORTS_DIR)
    }

    /// A plugin's file, relative paths taken from the project directory.
    pub fn plugin_path(&self, plugin: &PluginConfig) -> PathBuf {
        self.dir.join(&plugin.path)
    }

    /// Reads the Pipedrive API token from where `migration.toml` says it is. The token itself is never shown.
    pub fn api_token(&self) -> Result<ApiToken, ProjectError> {
        let target = &self.config.target;
        self.read_token("target", target.token_env.as_deref(), target.token_file.as_deref())
    }

    /// A token from the environment variable or the file a `migration.toml` table names.
    fn read_token(&self, table: &str, env: Option<&str>, file: Option<&Path>) -> Result<ApiToken, ProjectError> {
        let path = self.dir.join(CONFIG_FILE);
        let invalid = |message: String| ProjectError::Invalid { path: path.clone(), line: None, message };
        let token = match (env, file) {
            (Some(variable), _) => std::env::var(variable).map_err(|_| {
                invalid(format!("the environment variable {variable} ([{table}] token_env) is not set"))
            })?,
            (None, Some(file)) => {
                let file = self.dir.join(file);
                std::fs::read_to_string(&file).map_err(|source| ProjectError::Io { path: file, source })?
            }
            (None, None) => return Err(invalid(format!("[{table}] needs one of token_env and token_file"))),
        };
        ApiToken::new(token).map_err(|reason| invalid(format!("[{table}] {reason}")))
    }

    /// The project's plugins, opened (their digests checked against the pinned ones, and
    /// against the machine's trust store when one is configured) and configured, in hook order.
    pub fn load_plugins(&self) -> Result<Vec<(Hook, LoadedPlugin)>, ProjectError> {
        if self.config.plugins.is_empty() {
            return Ok(Vec::new());
        }
        self.load_plugins_with(TrustStore::configured()?.as_ref())
    }

    /// [`Project::load_plugins`] under this trust store (`None`: no store is configured).
    pub fn load_plugins_with(&self, store: Option<&TrustStore>) -> Result<Vec<(Hook, LoadedPlugin)>, ProjectError> {
        let path = self.dir.join(CONFIG_FILE);
        let invalid = |message: String| ProjectError::Invalid { path: path.clone(), line: None, message };
        let cache = ComponentCache::new(ComponentCache::default_dir());
        let mut plugins = Vec::new();
        for plugin in &self.config.plugins {
            let file = self.plugin_path(plugin);
            let digest: Digest = plugin.digest.get_ref().parse().map_err(invalid)?;
            // A host per plugin: memory and CPU limits are the engine's, and each plugin has its own.
            let limits = self.plugin_limits(plugin, store)?.limits;
            let host = PluginHost::new(limits, cache.clone())
                .map_err(|error| invalid(format!("{error:#}")))?
                .with_trust_store(store.cloned());
            let load_error = |error: LoadError| match error {
                LoadError::Trust(error) => ProjectError::Trust(error),
                error => invalid(format!("plugin {}: {error}", file.display())),
            };
            let component = host.open(&file, Some(&digest)).map_err(load_error)?;
            let loaded = component
                .configure_for(*plugin.hook.get_ref(), plugin.config.clone().into_iter().collect())
                .map_err(load_error)?;
            plugins.push((*plugin.hook.get_ref(), loaded.with_run_budget(plugin.run_budget())));
        }
        Ok(plugins)
    }

    /// The limits `plugin` runs under: the host's, with its entry's `memory_mib`, capped by the
    /// trust store's maxima (and what they capped).
    pub fn plugin_limits(
        &self,
        plugin: &PluginConfig,
        store: Option<&TrustStore>,
    ) -> Result<LimitsInForce, ProjectError> {
        let digest: Digest = plugin.digest.get_ref().parse().map_err(|message| ProjectError::Invalid {
            path: self.dir.join(CONFIG_FILE),
            line: None,
            message,
        })?;
        let defaults = Limits::default();
        let memory_bytes = plugin
            .memory_mib
            .as_ref()
            .map_or(defaults.memory_bytes, |mib| usize::try_from(*mib.get_ref() << 20).unwrap_or(usize::MAX));
        Ok(limits_in_force(Limits { memory_bytes, ..defaults }, store, &digest))
    }

    /// How to reach the target account: its URL, token, plan and budget policy.
    pub fn client_config(&self) -> Result<ClientConfig, ProjectError> {
        let mut config = ClientConfig::new(self.config.target.url.get_ref().clone(), self.api_token()?, self.plan);
        config.allowed_host = self.config.target.allow_host.as_ref().map(|host| host.get_ref().clone());
        config.on_budget_exhausted = self.budget_policy;
        Ok(config)
    }
}

/// The `[source]` table: an export directory that exists, or an API whose URL the token may go
/// to, with exactly one place for its token. Errors carry the span of the key they name.
fn check_source(source: &SourceConfig, dir: &Path) -> Result<(), (Option<std::ops::Range<usize>>, String)> {
    let Some(api) = &source.api else {
        for (key, given) in [
            ("allow_host", source.allow_host.is_some()),
            ("token_env", source.token_env.is_some()),
            ("token_file", source.token_file.is_some()),
        ] {
            if given {
                return Err((
                    None,
                    format!(
                        "[source] {key} is for an API source; set api = \"https://ACCOUNT.user.com\" too, or remove {key}"
                    ),
                ));
            }
        }
        let Some(export) = &source.export else {
            return Err((
                None,
                "[source] needs export (a User.com export directory) or api (https://ACCOUNT.user.com)".into(),
            ));
        };
        let path = dir.join(export.get_ref());
        if !path.is_dir() {
            return Err((Some(export.span()), format!("the export directory {} does not exist", path.display())));
        }
        return Ok(());
    };
    let allow_host = source.allow_host.as_ref();
    if let Err(error) = check_account_url(api.get_ref(), USERCOM, allow_host.map(|host| host.get_ref().as_str())) {
        let span = match (&error, allow_host) {
            (TargetUrlError::BadAllowHost { .. }, Some(host)) => host.span(),
            _ => api.span(),
        };
        return Err((Some(span), format!("[source] api {error}")));
    }
    if source.requests_per_second.is_some_and(|rate| !(rate.is_finite() && rate > 0.0)) {
        return Err((None, "[source] requests_per_second must be a number above 0".into()));
    }
    match (&source.token_env, &source.token_file) {
        (Some(_), None) | (None, Some(_)) => Ok(()),
        _ => Err((
            Some(api.span()),
            "[source] api needs exactly one of token_env and token_file (User.com's API token)".into(),
        )),
    }
}

/// `reports/` holds customer data (quarantined records, billing audit): a project written by an
/// older crm-migrate, or copied with a loose umask, is made the user's only when it is opened.
fn tighten_reports(reports: &Path) -> Result<(), ProjectError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ProjectError::Io { path, source }
    };
    crate::private_files::tighten(reports).map_err(io(reports))?;
    let Ok(entries) = std::fs::read_dir(reports) else { return Ok(()) };
    for entry in entries.flatten() {
        let path = entry.path();
        crate::private_files::tighten(&path).map_err(io(&path))?;
        if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
            tighten_reports(&path)?;
        }
    }
    Ok(())
}

/// A plugin `init` puts into the project, vetted beforehand.
#[derive(Debug, Clone)]
pub struct InitPlugin {
    pub hook: Hook,
    pub path: PathBuf,
    pub digest: Digest,
    pub name: String,
    pub options: Vec<ConfigOption>,
}

impl InitPlugin {
    /// Opens and checks the file (it must implement `hook`), as `init --plugin` does, and takes
    /// the digest to pin.
    pub fn vet(host: &PluginHost, hook: Hook, path: &Path) -> Result<InitPlugin, LoadError> {
        let component = host.open(path, None)?;
        component.check_hook(hook)?;
        Ok(InitPlugin {
            hook,
            path: path.to_owned(),
            digest: component.digest,
            name: component.info.name.clone(),
            options: component.info.options.clone(),
        })
    }
}

/// The vetted plugins that come with crm-migrate, one per hook, by file stem.
pub const VETTED_PLUGINS: [(Hook, &str); 3] =
    [(Hook::Clean, "clean_basic"), (Hook::Dedup, "dedup_email"), (Hook::Label, "segment_labels")];

/// How the vetted plugins are built, from the crm-migrate checkout.
pub const BUILD_PLUGINS: &str = "cargo build-plugins";

/// Where `cargo build-plugins` puts the components: under `$CARGO_TARGET_DIR` when it is set
/// (as cargo reads it), else under the workspace's `target/` this binary was built from.
pub fn built_plugins_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("target"))
        .join("wasm32-wasip2")
        .join("plugin")
}

/// The built component of a plugin (`dedup_email`), or where it should be.
pub fn built_plugin(file_stem: &str) -> Result<PathBuf, PathBuf> {
    let path = built_plugins_dir().join(format!("{file_stem}.wasm"));
    if path.is_file() { Ok(path) } else { Err(path) }
}

/// Where a new project's User.com data comes from.
#[derive(Debug, Clone)]
pub enum InitSource {
    /// An export directory.
    Export(PathBuf),
    /// The account's REST API (`https://acme.user.com`), read by `crm-migrate extract`.
    Api(String),
}

/// What `crm-migrate init` was told.
#[derive(Debug, Clone)]
pub struct InitOptions {
    pub source: InitSource,
    /// The User.com account; None: a slug of the export directory's name (or the API's subdomain).
    pub account: Option<String>,
    pub pipedrive_url: String,
    pub plan: Plan,
    pub seats: u32,
    pub plugins: Vec<InitPlugin>,
    /// Plugins written commented out, pinned, for a person to take by uncommenting them (the
    /// vetted ones, for hooks `plugins` leaves open).
    pub proposed: Vec<InitPlugin>,
}

/// Creates the project directory with a commented `migration.toml` and `reports/`, then opens it
/// (so that what was written is known to be valid). Never overwrites an existing project.
pub fn init(dir: &Path, options: &InitOptions) -> Result<Project, ProjectError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ProjectError::Io { path, source }
    };
    if dir.join(CONFIG_FILE).exists() {
        return Err(ProjectError::AlreadyAProject { dir: dir.to_path_buf() });
    }
    check_target_url(&options.pipedrive_url, None).map_err(|source| ProjectError::InitUrl { source })?;
    let (source_text, default_account) = match &options.source {
        InitSource::Export(export) => {
            let export = std::fs::canonicalize(export).map_err(io(export))?;
            let name = export.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
            (SOURCE_EXPORT_TEMPLATE.replace("{export}", &quoted(&export.display().to_string())), name)
        }
        InitSource::Api(url) => {
            let checked =
                check_account_url(url, USERCOM, None).map_err(|source| ProjectError::InitSourceUrl { source })?;
            let host = checked.host();
            let subdomain = host.split('.').next().unwrap_or_default().to_owned();
            (
                SOURCE_API_TEMPLATE
                    .replace("{api}", &quoted(&checked.base()))
                    .replace("{snapshot}", &quoted(SNAPSHOT_DIR)),
                subdomain,
            )
        }
    };
    let account = match &options.account {
        Some(account) => {
            crate::marker::check_account(account).map_err(|message| ProjectError::Invalid {
                path: dir.join(CONFIG_FILE),
                line: None,
                message,
            })?;
            account.clone()
        }
        None => crate::marker::default_account(&default_account),
    };
    crate::private_files::create_dir(&dir.join(REPORTS_DIR)).map_err(io(dir))?;
    // Taken and proposed entries in hook order, so that taking a proposed one keeps the order.
    let mut entries: Vec<(Hook, String)> = Vec::new();
    for plugin in &options.plugins {
        entries.push((plugin.hook, plugin_entry(plugin).map_err(io(&plugin.path))?));
    }
    for plugin in &options.proposed {
        let mut entry = String::from(
            "# Proposed (vetted, pinned by digest): to use it, take the first \"# \" off each line below.\n",
        );
        for line in plugin_entry(plugin).map_err(io(&plugin.path))?.lines() {
            entry.push_str(&format!("# {line}\n"));
        }
        entries.push((plugin.hook, entry));
    }
    entries.sort_by_key(|(hook, _)| *hook);
    let plugins: Vec<String> = entries.into_iter().map(|(_, entry)| entry).collect();
    let text = CONFIG_TEMPLATE
        .replace("{account}", &quoted(&account))
        .replace("{source}", &source_text)
        .replace("{url}", &quoted(&options.pipedrive_url))
        .replace("{plan}", &quoted(options.plan.as_str()))
        .replace("{seats}", &options.seats.to_string())
        .replace("{plugins}", &if plugins.is_empty() { NO_PLUGINS.to_string() } else { plugins.join("\n") });
    let path = dir.join(CONFIG_FILE);
    std::fs::write(&path, text).map_err(io(&path))?;
    Project::open(dir)
}

/// One `[[plugins]]` entry, its options commented out for a person to fill in. Every text the
/// plugin supplied (its name, option keys, descriptions and defaults) lands in a comment, and a
/// newline there would end the comment and let the plugin write TOML of its own (another entry,
/// for a file nobody vetted): it goes through [`comment_text`], and a default through
/// [`single_line_string`], so that what a person uncomments is the plugin's value and no more.
fn plugin_entry(plugin: &InitPlugin) -> std::io::Result<String> {
    let path = std::fs::canonicalize(&plugin.path)?;
    let file_name = plugin.path.file_name().map(|name| name.to_string_lossy()).unwrap_or_default();
    let mut entry = format!(
        "# {} ({}): the customer's {} rules.\n[[plugins]]\nhook = \"{}\"\npath = {}\ndigest = \"{}\"\n[plugins.config]\n",
        comment_text(&plugin.name),
        comment_text(&file_name),
        plugin.hook,
        plugin.hook,
        single_line_string(&path.display().to_string()),
        plugin.digest
    );
    if plugin.options.is_empty() {
        entry.push_str("# (this plugin has no options)\n");
    }
    for option in &plugin.options {
        entry.push_str(&format!("# {}\n", comment_text(&option.description)));
        let key = if !option.key.is_empty()
            && option.key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            option.key.clone()
        } else {
            single_line_string(&option.key)
        };
        let default = single_line_string(option.default.as_deref().unwrap_or_default());
        entry.push_str(&format!("# {}\n", comment_text(&format!("{key} = {default}"))));
    }
    Ok(entry)
}

/// Text for one line of a TOML comment. TOML ends a comment at a newline and allows no other
/// control character in it, so each is written as its escape (`\n`, `\r`, `\t`, `\u{1b}`):
/// the text can neither end the comment nor make the file unreadable, and a person sees it.
pub(crate) fn comment_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// A TOML basic string on one line, whatever the text holds (the toml crate writes a text with
/// a newline as a multi-line string, whose lines would leave a comment).
pub(crate) fn single_line_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

pub(crate) fn quoted(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

// The plugin host's trust store names lines of its TOML too, so the function lives below both.
pub(crate) use crm_migrate_core::line_of;

const NO_PLUGINS: &str =
    "# No plugins yet. Add one per hook, in this order (crm-migrate plugin vet FILE prints the digest):
# [[plugins]]
# hook = \"clean\"
# path = \"plugins/acme_rules.wasm\"
# digest = \"sha256:...\"
# [plugins.config]
# drop_email_domains = \"example.com\"
";

/// `[source]` for an export directory.
const SOURCE_EXPORT_TEMPLATE: &str =
    "# The User.com export: a directory with one CSV per object (users.csv, companies.csv, deals.csv...).
export = {export}
# Only where encoding detection reads a file wrongly (crm-migrate audit shows what it decided):
# encodings = { \"companies.csv\" = \"windows-1250\" }
";

/// `[source]` for User.com's REST API, read by `crm-migrate extract` into a snapshot.
const SOURCE_API_TEMPLATE: &str =
    "# User.com's REST API: `crm-migrate extract` reads the account into a snapshot (CSV files, as an
# export), which audit, plan, apply and verify then read; `extract --changes` at cutover.
# The API token goes only here: https is required, the host must be *.user.com, and redirects
# are never followed.
api = {api}
# Only to send the token to another host (a proxy you run, or a sandbox on this machine: http is
# then allowed for 127.0.0.1, ::1 and localhost), name it exactly:
# allow_host = \"127.0.0.1\"
# Where User.com's API token is read from (never written anywhere by crm-migrate): a variable...
token_env = \"USERCOM_TOKEN\"
# ...or a file holding only the token (keep it out of version control):
# token_file = \"usercom-token.txt\"
# Where extract writes the snapshot (relative to this file):
export = {snapshot}
";

const CONFIG_TEMPLATE: &str = "# A crm-migrate project: User.com -> Pipedrive.
# Edit this file, then run `crm-migrate plan` (reads both sides, writes nothing to Pipedrive).
# Relative paths are taken from this file's directory.

[source]
{source}# The User.com account (\"acme\" for acme.user.com; init proposes the export directory's name).
# It is part of the marker apply writes on every record (\"acme:12345\" in the \"User.com ID\"
# field; \"[User.com acme: activity 30000]\" ending a note), so that two User.com accounts can
# go into one Pipedrive account. Set it before the first apply and keep it: records are found
# again by it. A project without it (made by an earlier version) keeps the old markers.
account = {account}
# Bounds on one row of the export, checked as it is read: a broken or hostile file (a row of
# 50,000 commas, a quote never closed) ends in an error naming the file, line and limit instead
# of exhausting memory. Raise one only for an export that really is that wide or long:
# [source.limits]
# max_columns = 2000            # cells in one row, the header included
# max_cell_bytes = 16777216     # bytes in one cell (16 MB)
# max_record_bytes = 33554432   # bytes in one row (32 MB)

[target]
# The Pipedrive account: https://COMPANY.pipedrive.com, or a sandbox (crm-migrate sandbox serve).
# The API token goes only here: https is required (http only for 127.0.0.1, ::1 and localhost),
# the host must be *.pipedrive.com, and redirects are never followed.
url = {url}
# Only to send the token to a host other than Pipedrive's (a proxy you run), name it exactly:
# allow_host = \"crm.example.net\"
# Where the API token is read from (it is never written anywhere by crm-migrate):
# an environment variable...
token_env = \"PIPEDRIVE_API_TOKEN\"
# ...or a file holding only the token (keep it out of version control):
# token_file = \"pipedrive-token.txt\"
# The account's plan (lite, growth, premium, ultimate) and seats set the daily token budget
# (30,000 x plan multiplier x seats) and the requests allowed per 2 seconds.
plan = {plan}
seats = {seats}
# Tokens bought on top of the plan, per day.
top_up_tokens = 0
# Owner of records whose User.com agent has no Pipedrive user (matched by email); empty: the
# user the API token belongs to.
default_owner_email = \"\"

# The customer's rules, run in this order: clean, then dedup, then label. Each is pinned by its
# digest: a changed file is refused until it is vetted again.
{plugins}
[options]
# When the daily token budget runs out mid-run: \"wait\" until Pipedrive resets it, or \"stop\"
# (run apply again after the reset; it resumes where it stopped).
on_budget_exhausted = \"wait\"
# Contacts in the sample run (apply --sample), with everything they link to.
sample_size = 300
# Contacts sharing an email or phone become one person only through a dedup plugin (above);
# without one, plan asks (REVIEW) until you add one, or say they go as they are, one each:
# dedup = \"none\"
";

#[cfg(test)]
mod tests {
    use super::*;

    fn project_with(config: &str) -> (tempfile::TempDir, Result<Project, ProjectError>) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("export")).unwrap();
        std::fs::write(dir.path().join(CONFIG_FILE), config).unwrap();
        let project = Project::open(dir.path());
        (dir, project)
    }

    const MINIMAL: &str = "[source]\nexport = \"export\"\n[target]\nurl = \"https://acme.pipedrive.com\"\ntoken_env = \"T\"\nplan = \"lite\"\n";

    #[test]
    fn init_writes_a_commented_project_that_opens() {
        let dir = tempfile::tempdir().unwrap();
        let export = dir.path().join("export");
        std::fs::create_dir(&export).unwrap();
        let options = InitOptions {
            source: InitSource::Export(export),
            account: None,
            pipedrive_url: "http://127.0.0.1:8089".into(),
            plan: Plan::Lite,
            seats: 2,
            plugins: Vec::new(),
            proposed: Vec::new(),
        };
        let project = init(&dir.path().join("acme"), &options).unwrap();
        assert_eq!((project.plan, project.config.target.seats), (Plan::Lite, 2));
        assert_eq!(project.budget_policy, BudgetPolicy::WaitForReset);
        assert!(project.reports_dir().is_dir());
        let text = std::fs::read_to_string(dir.path().join("acme").join(CONFIG_FILE)).unwrap();
        assert!(text.contains("# The Pipedrive account"), "commented for a person");
        assert_eq!(project.markers().account(), Some("export"), "the account defaults to the export directory's name");
        let again = init(&dir.path().join("acme"), &options).unwrap_err();
        assert!(matches!(again, ProjectError::AlreadyAProject { .. }), "{again}");
    }

    #[test]
    fn proposed_plugins_are_commented_out_in_hook_order_and_taking_one_keeps_the_project_valid() {
        let dir = tempfile::tempdir().unwrap();
        let export = dir.path().join("export");
        std::fs::create_dir(&export).unwrap();
        let plugin = |hook: Hook, file: &str| {
            let path = dir.path().join(file);
            std::fs::write(&path, file).unwrap();
            InitPlugin { hook, path, digest: Digest::of(file.as_bytes()), name: file.into(), options: Vec::new() }
        };
        let options = InitOptions {
            source: InitSource::Export(export),
            account: None,
            pipedrive_url: "http://127.0.0.1:8089".into(),
            plan: Plan::Lite,
            seats: 1,
            plugins: vec![plugin(Hook::Label, "labels.wasm")],
            proposed: vec![plugin(Hook::Dedup, "dedup.wasm"), plugin(Hook::Clean, "clean.wasm")],
        };
        let project = init(&dir.path().join("acme"), &options).unwrap();
        assert_eq!(project.config.plugins.len(), 1, "proposed plugins are not taken");
        let path = dir.path().join("acme").join(CONFIG_FILE);
        let text = std::fs::read_to_string(&path).unwrap();
        let (clean, dedup, label) = (
            text.find("# hook = \"clean\"").unwrap(),
            text.find("# hook = \"dedup\"").unwrap(),
            text.find("\nhook = \"label\"").unwrap(),
        );
        assert!(clean < dedup && dedup < label, "in hook order:\n{text}");
        let taken: Vec<String> = text
            .split("\n\n")
            .map(|block| {
                if block.starts_with("# Proposed") && block.contains("dedup.wasm") {
                    block.lines().skip(1).map(|line| &line[2..]).collect::<Vec<_>>().join("\n")
                } else {
                    block.to_owned()
                }
            })
            .collect();
        std::fs::write(&path, taken.join("\n\n")).unwrap();
        let hooks: Vec<Hook> = Project::open(&dir.path().join("acme"))
            .unwrap()
            .config
            .plugins
            .iter()
            .map(|plugin| *plugin.hook.get_ref())
            .collect();
        assert_eq!(hooks, [Hook::Dedup, Hook::Label]);
    }

    #[test]
    fn plugin_text_in_an_entry_stays_in_its_comments() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("rules.wasm");
        std::fs::write(&file, b"").unwrap();
        let evil = "\n[[plugins]]\r\nhook = \"label\"\u{1b}[2J\u{7f}\u{85}\ttab '''\"\"\"\\";
        let option = |key: &str, description: &str, default: Option<&str>| ConfigOption {
            key: key.into(),
            description: description.into(),
            default: default.map(Into::into),
        };
        let plugin = InitPlugin {
            hook: Hook::Clean,
            path: file.clone(),
            digest: Digest::of(b""),
            name: format!("rules{evil}"),
            options: vec![option("country", evil, Some(evil)), option(&format!("key{evil}"), "plain", None)],
        };
        let entry = plugin_entry(&plugin).unwrap();
        assert!(
            entry.lines().all(|line| !line.starts_with('[') || line == "[[plugins]]" || line == "[plugins.config]"),
            "{entry}"
        );
        assert_eq!(entry.matches("[[plugins]]\n").count(), 1, "{entry}");
        assert!(!entry.chars().any(|c| c.is_control() && c != '\n'), "{entry:?}");
        let table: toml::Table = toml::from_str(&entry).unwrap_or_else(|error| panic!("{error}\n{entry}"));
        let plugins = table["plugins"].as_array().unwrap();
        assert_eq!(plugins.len(), 1, "{entry}");
        assert_eq!(plugins[0]["path"].as_str(), Some(std::fs::canonicalize(&file).unwrap().to_str().unwrap()));
        assert!(plugins[0]["config"].as_table().unwrap().is_empty(), "{entry}");

        // Uncommented, an option line sets exactly the plugin's key to exactly its default.
        let uncommented = entry
            .lines()
            .map(|line| if line.starts_with("# country = ") || line.starts_with("# \"key") { &line[2..] } else { line })
            .collect::<Vec<_>>()
            .join("\n");
        let table: toml::Table = toml::from_str(&uncommented).unwrap_or_else(|error| panic!("{error}\n{uncommented}"));
        let config = table["plugins"][0]["config"].as_table().unwrap();
        assert_eq!(config["country"].as_str(), Some(evil));
        assert_eq!(config[&format!("key{evil}")].as_str(), Some(""));
        assert_eq!(config.len(), 2, "{uncommented}");
    }

    #[test]
    fn a_minimal_project_opens_with_defaults() {
        let (_dir, project) = project_with(MINIMAL);
        let project = project.unwrap();
        assert_eq!(project.config.options.sample_size, 300);
        assert!(project.config.plugins.is_empty());
    }

    #[test]
    fn plugin_run_budgets_default_are_set_per_plugin_and_refuse_zero() {
        let entry = "[[plugins]]\nhook = \"clean\"\npath = \"p.wasm\"\ndigest = \"sha256:0000000000000000000000000000000000000000000000000000000000000000\"\n";
        let (_dir, project) = project_with(&format!("{MINIMAL}{entry}"));
        assert_eq!(project.unwrap().config.plugins[0].run_budget(), RunBudget::DEFAULT);
        let (_dir, project) = project_with(&format!("{MINIMAL}{entry}max_run_fuel = 5000\nmax_run_seconds = 60\n"));
        let budget = project.unwrap().config.plugins[0].run_budget();
        assert_eq!(budget, RunBudget { fuel: 5000, time: Duration::from_secs(60) });
        let (_dir, project) = project_with(&format!("{MINIMAL}{entry}max_run_seconds = 0\n"));
        match project {
            Err(ProjectError::Invalid { line: Some(_), message, .. }) => {
                assert!(message.contains("max_run_seconds must be at least 1"), "{message}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn source_limits_default_and_are_raised_one_by_one() {
        let (_dir, project) = project_with(MINIMAL);
        assert_eq!(*project.unwrap().config.source.limits.get_ref(), crate::extract::InputLimits::default());
        let raised = MINIMAL.replace("[target]", "[source.limits]\nmax_columns = 5000\n[target]");
        let (_dir, project) = project_with(&raised);
        let limits = *project.unwrap().config.source.limits.get_ref();
        assert_eq!(
            (limits.max_columns, limits.max_cell_bytes),
            (5000, crate::extract::InputLimits::default().max_cell_bytes)
        );
        for (bad, expected) in [("max_columns = 0", "at least 1"), ("max_cells = 3", "unknown field `max_cells`")] {
            let (_dir, project) =
                project_with(&MINIMAL.replace("[target]", &format!("[source.limits]\n{bad}\n[target]")));
            match project {
                Err(ProjectError::Invalid { line: Some(line), message, .. }) => {
                    assert!(message.contains(expected), "{message}");
                    assert!((3..=4).contains(&line), "{bad}: line {line}");
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn mistakes_are_named_with_their_line() {
        let cases = [
            (MINIMAL.replace("plan = \"lite\"", "plan = \"gold\""), 6, "unknown Pipedrive plan 'gold'"),
            (MINIMAL.replace("token_env", "token_variable"), 5, "unknown field `token_variable`"),
            (MINIMAL.replace("\"export\"", "\"missing\""), 2, "does not exist"),
            (MINIMAL.replace("https://acme", "http://acme"), 4, "must be https://"),
            (
                MINIMAL.replace("https://acme.pipedrive.com", "https://crm.example.net"),
                4,
                "allow_host = \"crm.example.net\"",
            ),
            (
                MINIMAL.replace("token_env", "allow_host = \"https://crm.example.net\"\ntoken_env"),
                5,
                "is not a host name",
            ),
            (MINIMAL.replace("[target]", "account = \"Acme Shop\"\n[target]"), 3, "lower-case letters"),
            (
                format!("{MINIMAL}[[plugins]]\nhook = \"label\"\npath = \"a.wasm\"\ndigest = \"sha256:00\"\n"),
                10,
                "sha256",
            ),
            (
                format!(
                    "{MINIMAL}[[plugins]]\nhook = \"clean\"\npath = \"a.wasm\"\ndigest = \"sha256:{}\"\nmemory_mib = 5000\n",
                    "0".repeat(64)
                ),
                11,
                "memory_mib must be from 1 to 4096",
            ),
            (
                format!(
                    "{MINIMAL}[[plugins]]\nhook = \"label\"\npath = \"a.wasm\"\ndigest = \"sha256:{0}\"\n[[plugins]]\nhook = \"clean\"\npath = \"b.wasm\"\ndigest = \"sha256:{0}\"\n",
                    "0".repeat(64)
                ),
                12,
                "out of order",
            ),
        ];
        for (config, line, expected) in cases {
            let (_dir, project) = project_with(&config);
            match project {
                Err(ProjectError::Invalid { line: Some(found), message, .. }) => {
                    assert_eq!(found, line, "{message}");
                    assert!(message.contains(expected), "{message}");
                }
                other => panic!("expected an error at line {line} mentioning {expected}, got {other:?}"),
            }
        }
    }

    #[test]
    fn an_api_source_is_initialised_opened_and_its_mistakes_named_by_key() {
        let dir = tempfile::tempdir().unwrap();
        let options = InitOptions {
            source: InitSource::Api("https://acme.user.com/".into()),
            account: None,
            pipedrive_url: "http://127.0.0.1:8089".into(),
            plan: Plan::Lite,
            seats: 1,
            plugins: Vec::new(),
            proposed: Vec::new(),
        };
        let project = init(&dir.path().join("acme"), &options).unwrap();
        assert_eq!(project.usercom_api(), Some("https://acme.user.com"));
        assert_eq!(project.markers().account(), Some("acme"), "the account defaults to the API's subdomain");
        assert_eq!(project.export_dir(), dir.path().join("acme").join(SNAPSHOT_DIR), "no snapshot needed to open");
        for hostile in ["http://127.0.0.1:9", "https://acme.user.com.evil.example", "https://u:p@acme.user.com"] {
            let options = InitOptions { source: InitSource::Api(hostile.into()), ..options.clone() };
            let error = init(&dir.path().join("other"), &options).unwrap_err();
            assert!(matches!(error, ProjectError::InitSourceUrl { .. }), "{hostile}: {error}");
            assert!(!dir.path().join("other").exists(), "nothing written for {hostile}");
        }

        let api = "[source]\napi = \"https://acme.user.com\"\ntoken_env = \"U\"\n[target]\nurl = \"https://acme.pipedrive.com\"\ntoken_env = \"T\"\nplan = \"lite\"\n";
        let (_dir, project) = project_with(api);
        assert!(project.is_ok(), "{project:?}");
        let cases = [
            (api.replace("https://acme.user.com", "http://127.0.0.1:9"), Some(2), "allow_host = \"127.0.0.1\""),
            (api.replace("https://acme.user.com", "https://acme.pipedrive.com"), Some(2), "not a User.com host"),
            (
                api.replace("token_env = \"U\"\n[target]", "[target]"),
                Some(2),
                "exactly one of token_env and token_file",
            ),
            (
                MINIMAL.replace("[target]", "token_env = \"U\"\n[target]"),
                None,
                "[source] token_env is for an API source",
            ),
            (api.replace("api = ", "allow_host = \"https://x\"\napi = "), Some(2), "not a host name"),
        ];
        for (config, line, expected) in cases {
            let (_dir, project) = project_with(&config);
            match project {
                Err(ProjectError::Invalid { line: found, message, .. }) => {
                    assert!(message.contains(expected), "{message}");
                    if line.is_some() {
                        assert!(found.is_some(), "{message}");
                    }
                }
                other => panic!("expected an error mentioning {expected}, got {other:?}"),
            }
        }
        let local = api
            .replace("https://acme.user.com", "http://127.0.0.1:9")
            .replace("token_env = \"U\"", "allow_host = \"127.0.0.1\"\ntoken_file = \"u.txt\"");
        let (dir, project) = project_with(&local);
        std::fs::write(dir.path().join("u.txt"), "usercom-secret\n").unwrap();
        assert_eq!(project.unwrap().usercom_token().unwrap().to_string(), "<redacted>");
    }

    #[test]
    fn the_token_comes_from_the_named_place_and_an_unset_variable_is_named() {
        let (dir, project) = project_with(&MINIMAL.replace("token_env = \"T\"", "token_file = \"token.txt\""));
        std::fs::write(dir.path().join("token.txt"), "abc123\n").unwrap();
        let token = project.unwrap().api_token().unwrap();
        assert_eq!(format!("{token}"), "<redacted>");
        let (_dir, project) = project_with(&MINIMAL.replace("\"T\"", "\"CRM_MIGRATE_TEST_UNSET_VARIABLE\""));
        let error = project.unwrap().api_token().unwrap_err().to_string();
        assert!(error.contains("CRM_MIGRATE_TEST_UNSET_VARIABLE"), "{error}");
    }
}
