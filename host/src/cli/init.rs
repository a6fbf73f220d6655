//! `crm-migrate init`: a migration project, its plugins vetted and pinned.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;

use crm_migrate::plugins::{ComponentCache, Hook, Limits, PluginHost, TrustStore};
use crm_migrate::project;

use crate::cli::exit::Exit;

/// The help's closing text: examples, then what the verb does.
pub const HELP: &str = "Examples:\n  crm-migrate init acme --export exports/acme-2026-11\n  \
        crm-migrate init acme --export exports/acme --pipedrive https://acme.pipedrive.com --plan premium --seats 5 \\\n      \
        --plugin clean=plugins/acme_clean.wasm --plugin dedup=target/wasm32-wasip2/plugin/dedup_email.wasm\n\n\
        Each --plugin is vetted first; its digest is pinned and its options written, commented, for you to fill in. \
        The API token is read from $PIPEDRIVE_API_TOKEN (or the file you name in migration.toml), never stored. \
        Then: crm-migrate -C acme audit";

#[derive(Args)]
pub struct InitArgs {
    /// The project directory to create
    dir: PathBuf,
    /// The User.com export: a directory with one CSV per object
    #[arg(long, value_name = "DIR", required_unless_present = "usercom_api", conflicts_with = "usercom_api")]
    export: Option<PathBuf>,
    /// Or User.com's REST API: the account's URL (https://ACCOUNT.user.com), read by crm-migrate extract
    #[arg(long, value_name = "URL")]
    usercom_api: Option<String>,
    /// The User.com account (acme for acme.user.com), part of every record's marker in Pipedrive
    /// [default: the export directory's name, as lower-case letters, digits and hyphens]
    #[arg(long, value_name = "NAME")]
    account: Option<String>,
    /// The Pipedrive account's URL (https://COMPANY.pipedrive.com), or a local sandbox's
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8089")]
    pipedrive: String,
    /// The account's plan: sets the daily token budget and the burst limit
    #[arg(long, default_value = "growth")]
    plan: crm_migrate::pipedrive::Plan,
    /// Seats on the account
    #[arg(long, default_value_t = 1)]
    seats: u32,
    /// A plugin for a hook, HOOK=FILE.wasm (hooks: clean, dedup, label); repeatable
    #[arg(long = "plugin", value_name = "HOOK=FILE", value_parser = parse_plugin_arg)]
    plugins: Vec<(Hook, PathBuf)>,
}

fn parse_plugin_arg(text: &str) -> Result<(Hook, PathBuf), String> {
    let (hook, file) =
        text.split_once('=').ok_or_else(|| format!("'{text}' is not HOOK=FILE (e.g. clean=acme_clean.wasm)"))?;
    let hook = match hook.trim() {
        "clean" => Hook::Clean,
        "dedup" => Hook::Dedup,
        "label" => Hook::Label,
        other => return Err(format!("unknown hook '{other}'; expected clean, dedup or label")),
    };
    Ok((hook, PathBuf::from(file)))
}

pub fn run(args: &InitArgs) -> anyhow::Result<Exit> {
    let source = match (&args.export, &args.usercom_api) {
        (Some(export), _) if !export.is_dir() => {
            bail!("the export {} is not a directory (a User.com export is a directory of CSV files)", export.display())
        }
        (Some(export), _) => project::InitSource::Export(export.clone()),
        (None, Some(url)) => project::InitSource::Api(url.clone()),
        (None, None) => unreachable!("clap requires one"),
    };
    let host = PluginHost::new(Limits::default(), ComponentCache::new(ComponentCache::default_dir()))
        .map_err(|error| anyhow::anyhow!("{error:#}"))?;
    let mut plugins = Vec::new();
    for (hook, path) in &args.plugins {
        plugins
            .push(project::InitPlugin::vet(&host, *hook, path).with_context(|| format!("plugin {}", path.display()))?);
    }
    // The vetted plugins, for the hooks --plugin leaves open: proposed when built, else how to build them.
    let mut proposed = Vec::new();
    let mut missing = Vec::new();
    for (hook, stem) in
        project::VETTED_PLUGINS.into_iter().filter(|(hook, _)| !args.plugins.iter().any(|(given, _)| given == hook))
    {
        match project::built_plugin(stem) {
            Ok(path) => proposed.push(
                project::InitPlugin::vet(&host, hook, &path)
                    .with_context(|| format!("the vetted plugin {}", path.display()))?,
            ),
            Err(path) => missing.push(path),
        }
    }
    let options = project::InitOptions {
        source,
        account: args.account.clone(),
        pipedrive_url: args.pipedrive.clone(),
        plan: args.plan,
        seats: args.seats,
        plugins,
        proposed,
    };
    let project = project::init(&args.dir, &options)?;
    let store = TrustStore::configured()?;
    print!("{}", crm_migrate::terminal::init::created_text(&args.dir, &project, &options, store.as_ref(), &missing));
    Ok(Exit::Success)
}
