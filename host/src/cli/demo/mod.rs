//! `crm-migrate demo`: the whole story on the sample exports against a Pipedrive sandbox started
//! in-process (plan premium, its real pacing): init with the three vetted plugins, audit, plan,
//! approve, what each plugin did (records cleaned, duplicates merged into named survivors, tags
//! made labels), a sample apply and its rollback; then the dedup plugin swapped for another build
//! without rebuilding the host (what the swap changes, by `plugin diff`; apply refusing until it is approved again),
//! the full apply, a delta with the second export, verify, the handoff; then a summary table and
//! where the reports are. The plugins are `cargo build-plugins`'s: missing, the demo says so.

mod migrate;
mod plugins;
mod setup;
mod swap;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, anyhow, bail};
use clap::Args;

use crm_migrate::audit::report::thousands;
use crm_migrate::pipedrive::{ApiToken, ClientConfig, PipedriveClient, Plan};
use crm_migrate::plugins::{ComponentCache, Limits, PluginHost};
use crm_migrate::project;
use crm_migrate::untrusted::escape;
use crm_migrate_sandbox::{SandboxConfig, SandboxHandle};

use crate::cli::exit::Exit;

/// The help's closing text: examples, then what the verb does.
pub const HELP: &str = "Example:\n  cargo run -p crm-migrate -- demo\n\n\
        Starts a Pipedrive sandbox in this process (plan premium, its real pacing), creates a project in \
        ./crm-migrate-demo, and runs: audit, plan, approve, a sample apply of 50 contacts and its rollback, the full \
        apply, a delta with examples/usercom-export-changes (deleting what User.com deleted), verify and the handoff report. Prints a table of steps \
        (outcome, tokens, seconds) and where the reports are.";

#[derive(Args)]
pub struct DemoArgs {
    /// Where the demo's migration project goes (it must not exist yet)
    #[arg(long, value_name = "DIR", default_value = "crm-migrate-demo")]
    dir: PathBuf,
    /// The first User.com export (default: the repository's examples/usercom-export)
    #[arg(long, value_name = "DIR")]
    export: Option<PathBuf>,
    /// The newer export for the delta (default: examples/usercom-export-changes)
    #[arg(long, value_name = "DIR")]
    changes: Option<PathBuf>,
}

const TOKEN: &str = "demo-token";

/// An example export: beside the current directory, else beside the sources this was built from.
fn example(name: &str) -> PathBuf {
    let here = PathBuf::from("examples").join(name);
    if here.is_dir() { here } else { PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("examples").join(name) }
}

/// The dedup build the demo swaps in for the vetted dedup-email: another survivor rule.
const SWAPPED_IN: &str = "dedup_email_oldest";

/// A plugin `cargo build-plugins` built, or what to run when it is missing.
fn built_plugin(file_stem: &str) -> anyhow::Result<PathBuf> {
    project::built_plugin(file_stem).map_err(|path| {
        anyhow!(
            "the demo's plugins are not built: {} is missing (CARGO_TARGET_DIR is honoured). Build them, then run the demo:\n  rustup target add wasm32-wasip2 && {} && cargo run -p crm-migrate -- demo",
            path.display(),
            project::BUILD_PLUGINS
        )
    })
}

/// One step done: its outcome, the tokens it spent and the time it took, for the table.
struct Step {
    name: String,
    outcome: String,
    tokens: u64,
    seconds: f64,
}

/// What every step runs with: the sandbox's client, a runtime, the plugin host; and the steps done.
struct Demo {
    client: Arc<PipedriveClient>,
    runtime: tokio::runtime::Runtime,
    host: PluginHost,
    steps: Vec<Step>,
}

impl Demo {
    /// Runs one step: its name, then its outcome, printed; its tokens and time kept for the table.
    fn step(&mut self, name: &str, run: impl FnOnce(&Demo) -> anyhow::Result<String>) -> anyhow::Result<()> {
        let (started, tokens) = (Instant::now(), self.client.bill().tokens());
        println!("\n== {name}");
        let outcome = run(self).with_context(|| format!("the demo's {name} step"))?;
        println!("   {outcome}");
        self.steps.push(Step {
            name: name.to_owned(),
            outcome,
            tokens: self.client.bill().tokens() - tokens,
            seconds: started.elapsed().as_secs_f64(),
        });
        Ok(())
    }
}

pub fn run(args: &DemoArgs) -> anyhow::Result<Exit> {
    let export = args.export.clone().unwrap_or_else(|| example("usercom-export"));
    let changes = args.changes.clone().unwrap_or_else(|| example("usercom-export-changes"));
    for dir in [&export, &changes] {
        if !dir.is_dir() {
            bail!(
                "the export {} is missing: run the demo from the repository's root, or pass --export and --changes",
                dir.display()
            );
        }
    }
    if args.dir.exists() {
        bail!("{} exists (a demo ran there before?): remove it, or pass --dir NEW", args.dir.display());
    }
    // Every plugin is found before anything starts, so that a fresh clone learns what to run at once.
    let vetted = project::VETTED_PLUGINS
        .iter()
        .map(|(hook, stem)| Ok((*hook, built_plugin(stem)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let swapped_in = built_plugin(SWAPPED_IN)?;
    let host = PluginHost::new(Limits::default(), ComponentCache::new(ComponentCache::default_dir()))
        .map_err(|error| anyhow!("{error:#}"))?;

    let sandbox = SandboxHandle::spawn(SandboxConfig {
        plan: Plan::Premium,
        api_tokens: vec![TOKEN.into()],
        ..SandboxConfig::default()
    })
    .context("starting the sandbox")?;
    println!("a Pipedrive sandbox (plan premium, 100 requests per 2 s) on {}", sandbox.url());
    let client = Arc::new(PipedriveClient::new(
        ClientConfig::new(sandbox.url(), ApiToken::new(TOKEN).map_err(anyhow::Error::msg)?, Plan::Premium),
        None,
    )?);
    let mut demo = Demo { client, runtime: crate::cli::runtime()?, host, steps: Vec::new() };
    let (project, labels) = setup::steps(&mut demo, &args.dir, &export, &vetted, &sandbox.url())?;
    plugins::steps(&mut demo, &project, labels)?;
    migrate::sample(&mut demo, &project)?;
    let project = swap::steps(&mut demo, project, &swapped_in)?;
    migrate::full(&mut demo, &project, &changes)?;

    println!("\n{:<32} {:>8} {:>8}  outcome", "step", "tokens", "seconds");
    for step in &demo.steps {
        println!("{:<32} {:>8} {:>8.1}  {}", escape(&step.name), thousands(step.tokens), step.seconds, step.outcome);
    }
    let reports = canonical(&project.reports_dir());
    println!(
        "\nreports: {}\n  the handoff page: {}",
        reports.display(),
        reports.join("handoff/handoff.html").display()
    );
    Ok(Exit::Success)
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_owned())
}
