//! `crm-migrate apply`: the export loaded into Pipedrive by the approved mapping; `delta` runs
//! through it too.

use std::path::Path;

use clap::Args;
use serde_json::json;

use crm_migrate::approve::GateError;
use crm_migrate::pipedrive::PipedriveClient;
use crm_migrate::project::Project;

use super::progress::text_progress;
use crate::cli::exit::Exit;

/// The help's closing text: examples, then what the verb does.
pub const HELP: &str = "Examples:\n  crm-migrate -C acme apply --sample        # 300 contacts and what they link to, first\n  \
        crm-migrate -C acme apply                 # the full migration\n\n\
        Refuses to start (exit code 4) when mapping.toml was never approved or changed since its approval, printing the \
        diff. Runs the project's plugins (clean, dedup), then: workspace (users, fields, pipelines, stages, activity types, \
        labels), organizations, persons, deals, activities and events, notes. Each phase is reconciled (source = created + \
        merged + quarantined + excluded) before the next. Every create is journalled in state.db: after a crash or a \
        stop, run apply again and it continues where it stopped, without duplicates. Reports: reports/quarantine.csv, \
        reports/reconciliation.md. Exit codes: 0 done, 4 not approved, 7 stopped because the daily token budget ran out \
        (on_budget_exhausted = \"stop\"; run apply again after midnight UTC), 1 any other error.";

#[derive(Args)]
pub struct ApplyArgs {
    /// A test migration of N contacts (default: sample_size in migration.toml, 300) with what they link to
    #[arg(long, value_name = "N", num_args = 0..=1, default_missing_value = "0")]
    sample: Option<usize>,
    /// Stop after this phase: workspace, organizations, persons, deals, activities, notes
    #[arg(long, value_name = "NAME", value_parser = clap::builder::PossibleValuesParser::new(crm_migrate::apply::PHASE_NAMES))]
    phase: Option<String>,
    #[command(flatten)]
    load: LoadArgs,
}

/// How apply and delta load: shared by both.
#[derive(Args)]
pub struct LoadArgs {
    /// Writes in flight at once; the client paces them to the account's burst limit either way
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Records per plugin call (a call that fails quarantines its batch, and the run goes on)
    #[arg(long, default_value_t = 1000)]
    pub batch_size: usize,
    /// Print progress events and the outcome as JSON lines instead of text
    #[arg(long)]
    pub json: bool,
}

pub fn run(project_dir: &Path, args: &ApplyArgs) -> anyhow::Result<Exit> {
    let project = Project::open(project_dir)?;
    let sample = args.sample.map(|size| if size == 0 { project.config.options.sample_size } else { size });
    let options = crm_migrate::apply::ApplyOptions {
        sample,
        concurrency: args.load.concurrency,
        until: args.phase.clone(),
        batch_size: args.load.batch_size,
        ..crm_migrate::apply::ApplyOptions::default()
    };
    run_apply(&project, project_dir, &options, args.load.json, None)
}

/// An apply (or a delta, with its preview and `--yes`) with progress, its outcome, and the exit
/// code scripts rely on.
pub fn run_apply(
    project: &Project,
    project_dir: &Path,
    options: &crm_migrate::apply::ApplyOptions,
    json_output: bool,
    delta_yes: Option<bool>,
) -> anyhow::Result<Exit> {
    use crm_migrate::apply::{self as migration, ApplyError, ProgressEvent, Reporter};
    let observer: crm_migrate::pipedrive::EventObserver =
        std::sync::Arc::new(|event: &crm_migrate::pipedrive::ClientEvent| {
            if let crm_migrate::pipedrive::ClientEvent::WaitingForBudgetReset { resets_in } = event {
                eprintln!("{}", crm_migrate::terminal::apply::waiting_for_reset_text(*resets_in));
            }
        });
    let client = std::sync::Arc::new(PipedriveClient::new(project.client_config()?, Some(observer))?);
    let reporter = if json_output {
        Reporter::new(|event: &ProgressEvent| {
            println!("{}", serde_json::to_string(event).expect("plain data serializes"))
        })
    } else {
        text_progress()
    };
    let runtime = crate::cli::runtime()?;
    let prepared = match (migration::prepare(project, options, &mut |step| reporter.preparing(step)), delta_yes) {
        (Ok(prepared), Some(yes)) => match super::delta::preview(project, &prepared, options, yes, json_output)? {
            Some(code) => return Ok(code),
            None => Ok(prepared),
        },
        (prepared, _) => prepared,
    };
    let result = prepared
        .and_then(|prepared| runtime.block_on(migration::apply(project, prepared, client.clone(), options, &reporter)));
    match result {
        Ok(outcome) => {
            if json_output {
                println!("{}", serde_json::to_string(&json!({"event": "done", "outcome": outcome}))?);
            } else {
                print!("{}", crm_migrate::terminal::apply::outcome_text(&outcome));
            }
            Ok(Exit::Success)
        }
        Err(
            error @ ApplyError::Gate(
                GateError::NotApproved(_)
                | GateError::Changed { .. }
                | GateError::BasisChanged { .. }
                | GateError::NoMapping(_),
            ),
        ) => {
            let ApplyError::Gate(gate) = &error else { unreachable!("matched above") };
            if json_output {
                let reason = match gate {
                    GateError::NotApproved(_) => "not_approved",
                    GateError::Changed { .. } | GateError::BasisChanged { .. } => "changed_since_approval",
                    _ => "no_mapping",
                };
                println!(
                    "{}",
                    serde_json::to_string_pretty(
                        &json!({"applied": false, "refused": reason, "message": error.to_string()})
                    )?
                );
            } else {
                eprintln!("error: {error}");
            }
            Ok(Exit::NotApproved)
        }
        Err(error @ ApplyError::DeletionsRefused(_)) => {
            eprintln!("error: {error}");
            Ok(Exit::DeletionsRefused)
        }
        Err(error) if error.is_budget_stop() => {
            eprintln!(
                "stopped: {:#}. Everything sent so far is journalled; run `crm-migrate -C {} apply` again after the reset to continue.",
                anyhow::Error::from(error),
                project_dir.display()
            );
            Ok(Exit::BudgetStop)
        }
        Err(error) => Err(error.into()),
    }
}
