//! `crm-migrate plugin ...`: vet, try out, compare, trust and scaffold plugins.

mod args;
mod diff;
mod new;
mod run;
mod trust;
mod vet;

use std::path::{Path, PathBuf};

use clap::Subcommand;

use args::PluginArgs;

use crate::cli::exit::Exit;

/// `plugin`'s closing help: a plugin's life, and the trust store.
pub const HELP: &str = "A plugin's life:\n  crm-migrate plugin new acme-rules          # a crate that builds and passes its tests\n  \
            crm-migrate plugin vet acme_rules.wasm     # check it, get the digest to pin\n  \
            crm-migrate plugin run acme_rules.wasm --hook clean --input records.csv   # see what it does\n  \
            crm-migrate -C acme plugin diff acme_rules_v1.wasm acme_rules.wasm       # what a swap changes on the export\n\n\
            On a shared machine, the operator's trust store lists the plugins that may run (plugin trust, untrust, \
            list): $CRM_MIGRATE_TRUST_STORE, else $XDG_CONFIG_HOME/crm-migrate/trust.toml (~/.config/...), else \
            /etc/crm-migrate/trust.toml.";

#[derive(Subcommand)]
pub enum PluginCommand {
    /// Check a plugin component and print its name, version, hooks, options, imports and digest
    #[command(after_help = vet::HELP)]
    Vet {
        #[command(flatten)]
        plugin: PluginArgs,
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// Run one hook of a plugin over a CSV file and show what it did to each record
    #[command(after_help = run::HELP)]
    Run(run::RunArgs),
    /// Run two builds of a plugin over the project's export and report what swapping them changes
    #[command(
        after_help = diff::HELP
    )]
    Diff(diff::DiffArgs),
    /// Vet a plugin and add it to this machine's trust store: only listed plugins load while a store is configured
    #[command(after_help = trust::HELP)]
    Trust {
        #[command(flatten)]
        plugin: PluginArgs,
        /// Refuse the file unless it describes itself with this name
        #[arg(long)]
        name: Option<String>,
        /// Refuse the file unless it describes itself with this version
        #[arg(long)]
        version: Option<String>,
        /// Who vetted it, as the store records it (default: the login name)
        #[arg(long, value_name = "NAME")]
        by: Option<String>,
    },
    /// Remove a plugin from this machine's trust store, by digest or by its file
    Untrust {
        /// sha256:<hex>, or the plugin's .wasm file
        #[arg(value_name = "DIGEST|FILE")]
        plugin: String,
    },
    /// List the plugins this machine's trust store lists, and its maxima
    List {
        /// Print JSON instead of text
        #[arg(long)]
        json: bool,
    },
    /// Compile a component read from stdin, write its compiled code to stdout (run by crm-migrate
    /// itself, in a child process with time and memory limits)
    #[command(hide = true)]
    Compile {
        #[arg(long)]
        stack_bytes: usize,
        #[arg(long)]
        cpu: String,
        #[arg(long)]
        max_file_bytes: u64,
    },
    /// Create a new plugin crate that builds and passes its tests as is
    #[command(after_help = new::HELP)]
    New {
        /// Plugin name (lower-case letters, digits and dashes)
        name: String,
        /// Where to create it (default: ./NAME)
        #[arg(long)]
        dir: Option<PathBuf>,
        /// The crm-migrate-plugin-sdk crate to depend on, by its directory (default: the published
        /// crate, at this binary's version)
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
}

/// Runs one `plugin` verb.
pub fn run(project_dir: &Path, command: PluginCommand) -> anyhow::Result<Exit> {
    match command {
        PluginCommand::Vet { plugin, json } => vet::run(&plugin, json),
        PluginCommand::Run(args) => run::run(&args),
        PluginCommand::Diff(args) => diff::run(project_dir, &args),
        PluginCommand::Trust { plugin, name, version, by } => {
            trust::trust(&plugin, name.as_deref(), version.as_deref(), by.as_deref())
        }
        PluginCommand::Untrust { plugin } => trust::untrust(&plugin),
        PluginCommand::List { json } => trust::list(json),
        PluginCommand::Compile { .. } => unreachable!("cli::main runs the compile child before any verb"),
        PluginCommand::New { name, dir, sdk } => new::run(&name, dir, sdk),
    }
}
