//! `crm-migrate demo`: the whole story on the sample exports against a Pipedrive sandbox started
//! in-process (plan premium, its real pacing): init with the three vetted plugins, audit, plan,
//! approve, what each plugin did (records cleaned, duplicates merged into named survivors, tags
//! made labels), a sample apply and its rollback; then the dedup plugin swapped for another build
//! without rebuilding the host (what the swap changes, by `plugin diff`; apply refusing until it is approved again),
//! the full apply, a delta with the second export, verify, the handoff; then a summary table and
//! where the reports are. The plugins are `cargo build-plugins`'s: missing, the demo says so.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, anyhow, bail};
use clap::Args;

use crm_migrate::apply::{self, ApplyOptions, ProgressEvent, Reporter};
use crm_migrate::audit::report::thousands;
use crm_migrate::extract::{Export, ExportOptions};
use crm_migrate::pipedrive::{ApiToken, ClientConfig, PipedriveClient, Plan};
use crm_migrate::pipeline::FateCounts;
use crm_migrate::plugin_diff;
use crm_migrate::plugins::{ComponentCache, Hook, Limits, PluginHost, TagFate};
use crm_migrate::project::{self, InitPlugin, Project};
use crm_migrate::record::ObjectKind;
use crm_migrate::source::Source;
use crm_migrate::untrusted::escape;
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

struct Step {
    name: String,
    outcome: String,
    tokens: u64,
    seconds: f64,
}

pub fn demo(args: &DemoArgs) -> anyhow::Result<std::process::ExitCode> {
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
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let mut steps: Vec<Step> = Vec::new();
    let mut step = |name: &str, run: &mut dyn FnMut() -> anyhow::Result<String>| -> anyhow::Result<()> {
        let (started, tokens) = (Instant::now(), client.bill().tokens());
        println!("\n== {name}");
        let outcome = run().with_context(|| format!("the demo's {name} step"))?;
        println!("   {outcome}");
        steps.push(Step {
            name: name.to_owned(),
            outcome,
            tokens: client.bill().tokens() - tokens,
            seconds: started.elapsed().as_secs_f64(),
        });
        Ok(())
    };
    let mut project: Option<Project> = None;
    step("init", &mut || {
        let plugins = vetted
            .iter()
            .map(|(hook, path)| {
                InitPlugin::vet(&host, *hook, path).with_context(|| format!("the vetted plugin {}", path.display()))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let names: Vec<String> =
            plugins.iter().map(|plugin| format!("{} {}", plugin.hook, escape(&plugin.name))).collect();
        let options = project::InitOptions {
            source: project::InitSource::Export(export.clone()),
            account: None,
            pipedrive_url: sandbox.url(),
            plan: Plan::Premium,
            seats: 1,
            plugins,
            proposed: Vec::new(),
        };
        project = Some(project::init(&args.dir, &options)?);
        Ok(format!(
            "{}, with the vetted plugins pinned by digest: {}",
            args.dir.join(project::CONFIG_FILE).display(),
            names.join(", ")
        ))
    })?;
    let mut project = project.expect("init made it");
    step("audit", &mut || {
        let export = Export::open(&project.export_dir(), ExportOptions::default())?;
        let (audit, _) = crm_migrate::audit::report::write_reports(&export, &project.reports_dir())?;
        let contacts = audit.counts.get("contacts").copied().unwrap_or(0);
        Ok(format!(
            "{} contacts, {} of them billable; {} duplicate groups by email, {} by phone",
            thousands(contacts),
            thousands(audit.billing.billable),
            audit.duplicates.by_email.len(),
            audit.duplicates.by_phone.len()
        ))
    })?;
    let mut labels = String::new();
    step("plan", &mut || {
        let prepared = crm_migrate::plan::prepare(&project, &mut |_: &str, _: u64, _: bool| {})?;
        let result = runtime.block_on(crm_migrate::plan::plan(&project, &client, prepared))?;
        crm_migrate::plan::report::write_reports(&result, project.budget_policy, &project.reports_dir())?;
        if let Some(decision) = result.decisions.first() {
            bail!("the plan leaves a decision open: {}: {}", decision.what, decision.found);
        }
        labels = label_figures(&project, &result)?;
        let counts = crm_migrate::plan::report::entry_counts(&result.mapping);
        Ok(format!(
            "{} attributes mapped ({} new custom fields, {} skipped); bill {} tokens",
            result.mapping.fields.len(),
            counts.new,
            counts.skip,
            thousands(result.bill.tokens)
        ))
    })?;
    step("approve", &mut || approve(&project))?;

    let before = through_plugins(&project)?;
    let (clean_name, dedup_name, label_name) =
        (before.name(Hook::Clean), before.name(Hook::Dedup), before.name(Hook::Label));
    step(&format!("plugin {clean_name}"), &mut || {
        let counts = before.counts(&clean_name);
        Ok(format!(
            "{} records cleaned (a value changed) of {}; {} dropped, {} rejected, {} quarantined",
            thousands(counts.changed as u64),
            thousands(counts.total() as u64),
            counts.dropped,
            counts.rejected,
            counts.quarantined
        ))
    })?;
    step(&format!("plugin {dedup_name}"), &mut || {
        for (survivor, absorbed) in &before.groups {
            println!(
                "   survivor {} <- {}",
                escape(survivor),
                absorbed.iter().map(|id| escape(id).into_owned()).collect::<Vec<_>>().join(", ")
            );
        }
        Ok(format!(
            "{} duplicate groups merged: {} contacts into {} survivors (named above)",
            before.groups.len(),
            before.merged(),
            before.groups.len()
        ))
    })?;
    step(&format!("plugin {label_name}"), &mut || Ok(labels.clone()))?;

    let quiet = Reporter::new(|_: &ProgressEvent| {});
    let migrate = |project: &Project, options: ApplyOptions| -> anyhow::Result<String> {
        let prepared = apply::prepare(project, &options)?;
        let outcome = runtime.block_on(apply::apply(project, prepared, client.clone(), &options, &quiet))?;
        let rows = || outcome.phases.iter().flat_map(|phase| &phase.reconciliation);
        let created: u64 = rows().map(|row| row.counts.created).sum();
        let merged: u64 = rows().map(|row| row.counts.merged).sum();
        let updated: u64 = rows().map(|row| row.updated).sum();
        let quarantined: u64 = rows().map(|row| row.counts.quarantined).sum();
        Ok(format!(
            "{} records in Pipedrive, {} merged into a survivor, {} updated, {} quarantined; every phase reconciled",
            thousands(created),
            thousands(merged),
            thousands(updated),
            thousands(quarantined)
        ))
    };
    step("apply --sample 50", &mut || migrate(&project, ApplyOptions { sample: Some(50), ..ApplyOptions::default() }))?;
    step("rollback --sample", &mut || {
        let outcome = runtime.block_on(crm_migrate::rollback::rollback(&project, client.clone(), true, false, 16))?;
        let deleted: u64 = outcome.deleted.values().sum();
        Ok(format!(
            "{} records deleted; residue: {}",
            thousands(deleted),
            if outcome.residue.is_empty() { "none".to_owned() } else { outcome.residue.join("; ") }
        ))
    })?;

    // The swap: a person points the dedup entry at another build; the host stays as it is.
    step("swap the dedup plugin", &mut || {
        // What the swap does to this export, shown before the swap is made: `plugin diff`.
        let current = project
            .config
            .plugins
            .iter()
            .find(|plugin| *plugin.hook.get_ref() == Hook::Dedup)
            .context("the project has no dedup plugin")?;
        let diff = plugin_diff::diff_files(&project, &project.plugin_path(current), &swapped_in, &mut |_: &str| {})?;
        let reports = diff.write_reports(&project.reports_dir())?;
        let swapped = swap_dedup(&project, &host, &swapped_in)?;
        println!("   {}", swapped.0);
        project = swapped.1;
        if let Some(contacts) = diff.objects.iter().find(|object| object.object == ObjectKind::Contact.as_str()) {
            let (old, new) = (contacts.old_counts, contacts.new_counts);
            println!(
                "   contacts per fate: kept {} -> {}, merged {} -> {}, quarantined {} -> {}",
                old.kept, new.kept, old.merged, new.merged, old.quarantined, new.quarantined
            );
        }
        print!("{}", diff.summary().lines().map(|line| format!("   {line}\n")).collect::<String>());
        let changed = diff.survivor_changes(ObjectKind::Contact);
        for (old, new) in &changed {
            println!("   survivor {} -> {}", escape(old), escape(new));
        }
        Ok(format!(
            "{} builds another survivor rule, no host rebuilt: the survivor changes in {} groups (shown above; {} names every record)",
            escape(&diff.new.name),
            changed.len(),
            reports[0].display()
        ))
    })?;
    step("apply (refused)", &mut || match apply::prepare(&project, &ApplyOptions::default()) {
        Ok(_) => bail!("apply did not refuse a plugin swapped since the approval"),
        Err(error) => {
            let error = error.to_string();
            let mut lines = error.lines();
            let first = lines.next().unwrap_or_default().trim_end_matches(':');
            for line in lines {
                println!("   {line}");
            }
            Ok(format!("refused until the swap is approved again: {first}"))
        }
    })?;
    step("approve (the swap)", &mut || approve(&project))?;

    step("apply", &mut || migrate(&project, ApplyOptions::default()))?;
    step("delta --delete-missing", &mut || {
        migrate(
            &project,
            ApplyOptions { export: Some(changes.clone()), delete_missing: true, ..ApplyOptions::default() },
        )
    })?;
    step("verify", &mut || {
        let options = ApplyOptions { export: Some(changes.clone()), ..ApplyOptions::default() };
        let prepared = apply::prepare(&project, &options)?;
        let verification = runtime.block_on(crm_migrate::verify::verify(&project, prepared, &client))?;
        let verified: u64 = verification.objects.values().map(|counts| counts.verified).sum();
        Ok(format!(
            "{} records verified field by field; {} mismatches, {} missing, {} unexpected",
            thousands(verified),
            verification.mismatches.len(),
            verification.missing.len(),
            verification.unexpected.len()
        ))
    })?;
    step("report", &mut || {
        let paths = crm_migrate::handoff::write(&project)?;
        Ok(format!("{} handoff documents; the summary counts the merged duplicates", paths.len()))
    })?;

    println!("\n{:<32} {:>8} {:>8}  outcome", "step", "tokens", "seconds");
    for step in &steps {
        println!("{:<32} {:>8} {:>8.1}  {}", escape(&step.name), thousands(step.tokens), step.seconds, step.outcome);
    }
    let reports = canonical(&project.reports_dir());
    println!(
        "\nreports: {}\n  the handoff page: {}",
        reports.display(),
        reports.join("handoff/handoff.html").display()
    );
    Ok(std::process::ExitCode::SUCCESS)
}

fn approve(project: &Project) -> anyhow::Result<String> {
    let review = crm_migrate::approve::review(project, &mut |_: &str, _: u64, _: bool| {})?;
    let approval = crm_migrate::approve::approve(project, &review, "demo")?;
    // Enough of each digest to tell two builds apart in the table.
    let short = |digest: &str| digest.chars().take("sha256:".len() + 12).collect::<String>();
    let plugins: Vec<String> =
        review.basis.plugins.iter().map(|pin| format!("{} {}", pin.hook, short(&pin.digest))).collect();
    Ok(format!("approved ({}), plugins: {}", short(&approval.digest), plugins.join(", ")))
}

/// The label plugin's figures: labels made, tags skipped, tags flagged as a segment's.
fn label_figures(project: &Project, result: &crm_migrate::plan::PlanResult) -> anyhow::Result<String> {
    let plugins = project.load_plugins()?;
    let Some((name, decisions)) = crm_migrate::source::labels::label_plugin_decisions(
        &plugins,
        &result.profile.catalogue,
        &result.profile.tag_use,
    )?
    else {
        bail!("the project has no label plugin");
    };
    let labels = decisions.iter().filter(|(_, decision)| matches!(decision.fate, TagFate::Label { .. })).count();
    let origins: Vec<String> = decisions
        .iter()
        .filter(|(_, decision)| decision.segment_origin)
        .map(|(tag, _)| escape(&tag.name).into_owned())
        .collect();
    Ok(format!(
        "{} tags decided by {}: {labels} become labels, {} skipped; {} flagged segment-origin (rebuild as Pipedrive filters): {}",
        decisions.len(),
        escape(&name),
        decisions.len() - labels,
        origins.len(),
        if origins.is_empty() { "none".to_owned() } else { origins.join(", ") }
    ))
}

/// The export through the project's plugins, as apply puts it (nothing is sent).
struct PluginRun {
    source: Source,
    /// Each plugin's name (and version), by hook.
    names: Vec<(Hook, String)>,
    /// Survivor -> the contacts merged into it.
    groups: std::collections::BTreeMap<String, Vec<String>>,
}

impl PluginRun {
    fn name(&self, hook: Hook) -> String {
        self.names.iter().find(|(of, _)| *of == hook).map(|(_, name)| name.clone()).unwrap_or_default()
    }

    /// What one plugin did, over every object it saw.
    fn counts(&self, plugin: &str) -> FateCounts {
        let mut total = FateCounts::default();
        for (_, _, counts) in self.source.stage_counts.iter().filter(|(name, _, _)| name == plugin) {
            total.kept += counts.kept;
            total.changed += counts.changed;
            total.dropped += counts.dropped;
            total.rejected += counts.rejected;
            total.quarantined += counts.quarantined;
            total.merged += counts.merged;
        }
        total
    }

    fn merged(&self) -> usize {
        self.groups.values().map(Vec::len).sum()
    }
}

fn through_plugins(project: &Project) -> anyhow::Result<PluginRun> {
    let export = crm_migrate::source::open_export(project)?;
    let mut source = crm_migrate::source::read(&export, None)?;
    let plugins = project.load_plugins()?;
    source.run_plugins(&plugins, ApplyOptions::default().batch_size);
    let mut groups: std::collections::BTreeMap<String, Vec<String>> = std::collections::BTreeMap::new();
    for (absorbed, survivor) in &source.survivors {
        groups.entry(survivor.clone()).or_default().push(absorbed.clone());
    }
    groups.values_mut().for_each(|members| members.sort());
    Ok(PluginRun { source, names: plugins.iter().map(|(hook, plugin)| (*hook, plugin.name())).collect(), groups })
}

/// Points the project's dedup entry at `file` (its path and its digest, as a person edits
/// migration.toml) and opens the project again.
fn swap_dedup(project: &Project, host: &PluginHost, file: &Path) -> anyhow::Result<(String, Project)> {
    let swapped_in =
        InitPlugin::vet(host, Hook::Dedup, file).with_context(|| format!("the plugin {}", file.display()))?;
    let current = project
        .config
        .plugins
        .iter()
        .find(|plugin| *plugin.hook.get_ref() == Hook::Dedup)
        .context("the project has no dedup plugin")?;
    let (old_path, new_path) = (project.plugin_path(current).canonicalize()?, file.canonicalize()?);
    let path = project.dir.join(project::CONFIG_FILE);
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let quoted = |path: &Path| toml::Value::String(path.display().to_string()).to_string();
    let (old_digest, new_digest) = (current.digest.get_ref().clone(), swapped_in.digest.to_string());
    if text.matches(&quoted(&old_path)).count() != 1 || text.matches(&old_digest).count() != 1 {
        bail!("{}: the dedup entry is not as init wrote it; swap it by hand", path.display());
    }
    std::fs::write(&path, text.replace(&quoted(&old_path), &quoted(&new_path)).replace(&old_digest, &new_digest))
        .with_context(|| format!("writing {}", path.display()))?;
    let said = format!(
        "{}: the dedup entry now runs {} ({}), was {} ({})",
        path.display(),
        new_path.display(),
        new_digest,
        old_path.display(),
        old_digest
    );
    Ok((said, Project::open(&project.dir)?))
}

fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_owned())
}
