//! `crm-migrate demo`: the whole story on the sample exports against a Pipedrive sandbox started
//! in-process (plan premium, its real pacing): init, audit, plan, approve, a sample apply and its
//! rollback, the full apply, a delta with the second export, verify, the handoff; then a summary
//! table and where the reports are.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Args;

use crm_migrate::apply::{self, ApplyOptions, ProgressEvent, Reporter};
use crm_migrate::audit::report::thousands;
use crm_migrate::extract::{Export, ExportOptions};
use crm_migrate::pipedrive::{ApiToken, ClientConfig, PipedriveClient, Plan};
use crm_migrate::project::{self, Project};
use crm_migrate_sandbox::{SandboxConfig, SandboxHandle};

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

struct Step {
    name: &'static str,
    outcome: String,
    tokens: u64,
    seconds: f64,
}

pub fn demo(args: &DemoArgs) -> anyhow::Result<std::process::ExitCode> {
    let export = args.export.clone().unwrap_or_else(|| example("usercom-export"));
    let changes = args.changes.clone().unwrap_or_else(|| example("usercom-export-changes"));
    for dir in [&export, &changes] {
        if !dir.is_dir() {
            bail!("the export {} is missing: run the demo from the repository's root, or pass --export and --changes", dir.display());
        }
    }
    if args.dir.exists() {
        bail!("{} exists (a demo ran there before?): remove it, or pass --dir NEW", args.dir.display());
    }
    let sandbox = SandboxHandle::spawn(SandboxConfig { plan: Plan::Premium, api_tokens: vec![TOKEN.into()], ..SandboxConfig::default() }).context("starting the sandbox")?;
    println!("a Pipedrive sandbox (plan premium, 100 requests per 2 s) on {}", sandbox.url());
    let client = Arc::new(PipedriveClient::new(ClientConfig::new(sandbox.url(), ApiToken::new(TOKEN).map_err(anyhow::Error::msg)?, Plan::Premium), None)?);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let mut steps: Vec<Step> = Vec::new();
    let mut step = |name: &'static str, run: &mut dyn FnMut() -> anyhow::Result<String>| -> anyhow::Result<()> {
        let (started, tokens) = (Instant::now(), client.bill().tokens());
        println!("\n== {name}");
        let outcome = run().with_context(|| format!("the demo's {name} step"))?;
        println!("   {outcome}");
        steps.push(Step { name, outcome, tokens: client.bill().tokens() - tokens, seconds: started.elapsed().as_secs_f64() });
        Ok(())
    };
    let mut project: Option<Project> = None;
    step("init", &mut || {
        let options = project::InitOptions { export: export.clone(), account: None, pipedrive_url: sandbox.url(), plan: Plan::Premium, seats: 1, plugins: Vec::new() };
        project = Some(project::init(&args.dir, &options)?);
        Ok(format!("{}", args.dir.join(project::CONFIG_FILE).display()))
    })?;
    let project = project.expect("init made it");
    step("audit", &mut || {
        let export = Export::open(&project.export_dir(), ExportOptions::default())?;
        let (audit, _) = crm_migrate::audit::report::write_reports(&export, &project.reports_dir())?;
        let contacts = audit.counts.get("contacts").copied().unwrap_or(0);
        Ok(format!("{} contacts, {} of them billable; {} duplicate groups by email", thousands(contacts), thousands(audit.billing.billable), audit.duplicates.by_email.len()))
    })?;
    step("plan", &mut || {
        let prepared = crm_migrate::plan::prepare(&project, &mut |_: &str, _: u64, _: bool| {})?;
        let result = runtime.block_on(crm_migrate::plan::plan(&project, &client, prepared))?;
        crm_migrate::plan::report::write_reports(&result, project.budget_policy, &project.reports_dir())?;
        let counts = crm_migrate::plan::report::entry_counts(&result.mapping);
        Ok(format!("{} attributes mapped ({} new custom fields, {} skipped); bill {} tokens", result.mapping.fields.len(), counts.new, counts.skip, thousands(result.bill.tokens)))
    })?;
    step("approve", &mut || {
        let review = crm_migrate::approve::review(&project, &mut |_: &str, _: u64, _: bool| {})?;
        let approval = crm_migrate::approve::approve(&project, &review, "demo")?;
        Ok(format!("approved ({})", approval.digest))
    })?;
    let quiet = Reporter::new(|_: &ProgressEvent| {});
    let migrate = |options: ApplyOptions| -> anyhow::Result<String> {
        let prepared = apply::prepare(&project, &options)?;
        let outcome = runtime.block_on(apply::apply(&project, prepared, client.clone(), &options, &quiet))?;
        let created: u64 = outcome.phases.iter().flat_map(|phase| &phase.reconciliation).map(|row| row.counts.created).sum();
        let updated: u64 = outcome.phases.iter().flat_map(|phase| &phase.reconciliation).map(|row| row.updated).sum();
        let quarantined: u64 = outcome.phases.iter().flat_map(|phase| &phase.reconciliation).map(|row| row.counts.quarantined).sum();
        Ok(format!("{} records in Pipedrive, {} updated, {} quarantined; every phase reconciled", thousands(created), thousands(updated), thousands(quarantined)))
    };
    step("apply --sample 50", &mut || migrate(ApplyOptions { sample: Some(50), ..ApplyOptions::default() }))?;
    step("rollback --sample", &mut || {
        let outcome = runtime.block_on(crm_migrate::rollback::rollback(&project, client.clone(), true, false, 16))?;
        let deleted: u64 = outcome.deleted.values().sum();
        Ok(format!("{} records deleted; residue: {}", thousands(deleted), if outcome.residue.is_empty() { "none".to_owned() } else { outcome.residue.join("; ") }))
    })?;
    step("apply", &mut || migrate(ApplyOptions::default()))?;
    step("delta --delete-missing", &mut || migrate(ApplyOptions { export: Some(changes.clone()), delete_missing: true, ..ApplyOptions::default() }))?;
    step("verify", &mut || {
        let options = ApplyOptions { export: Some(changes.clone()), ..ApplyOptions::default() };
        let prepared = apply::prepare(&project, &options)?;
        let verification = runtime.block_on(crm_migrate::verify::verify(&project, prepared, &client))?;
        let verified: u64 = verification.objects.values().map(|counts| counts.verified).sum();
        Ok(format!("{} records verified field by field; {} mismatches, {} missing, {} unexpected", thousands(verified), verification.mismatches.len(), verification.missing.len(), verification.unexpected.len()))
    })?;
    step("report", &mut || {
        let paths = crm_migrate::handoff::write(&project)?;
        Ok(format!("{} handoff documents", paths.len()))
    })?;

    println!("\n{:<24} {:>8} {:>8}  outcome", "step", "tokens", "seconds");
    for step in &steps {
        println!("{:<24} {:>8} {:>8.1}  {}", step.name, thousands(step.tokens), step.seconds, step.outcome);
    }
    let reports = canonical(&project.reports_dir());
    println!("\nreports: {}\n  the handoff page: {}", reports.display(), reports.join("handoff/handoff.html").display());
    Ok(std::process::ExitCode::SUCCESS)
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_owned())
}
