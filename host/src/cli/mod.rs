//! Parses the command line and runs the verb; errors end here, as text and an exit code. One
//! file per verb, holding its arguments, its help and what it does; what a verb prints is
//! formatted by the library (`crm_migrate::terminal`, `status::text`, the reports' summaries).

mod apply;
mod approve;
mod audit;
mod delta;
mod demo;
mod exit;
mod extract;
mod init;
mod plan;
mod plugin;
mod progress;
mod prompt;
mod purge;
mod report;
mod rollback;
mod sandbox;
mod status;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use exit::Exit;

#[derive(Parser)]
#[command(
    name = "crm-migrate",
    version,
    about = "Move a CRM from User.com to Pipedrive; per-customer rules run as sandboxed WebAssembly plugins",
    after_help = "Exit codes: 0 success, 1 error, 2 bad usage, 3 plugin run finished with failed batches (quarantined), \
                  4 apply refused (mapping not approved, or changed since), 5 the mapping has problems, 6 approval declined, \
                  7 apply stopped at the daily token budget (run it again after the reset), 8 verify found differences, 9 rollback left residue, \
                  10 delta refused its deletions (nothing written), 11 plan left decisions marked REVIEW, \
                  12 a plugin is not trusted on this machine (the trust store does not list its digest).\n\
                  A migration: init -> audit -> plan -> approve -> apply (-> verify -> report -> purge).\n\
                  Start with: crm-migrate init --help, crm-migrate audit --help, crm-migrate plugin --help, \
                  crm-migrate sandbox serve --help"
)]
struct Cli {
    /// The migration project directory (holds migration.toml)
    #[arg(short = 'C', long = "project", global = true, value_name = "DIR", default_value = ".")]
    project: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a migration project: a directory with a commented migration.toml and reports/
    #[command(after_help = init::HELP)]
    Init(init::InitArgs),
    /// Read a User.com account through its REST API into a local snapshot (resumable; --changes at cutover)
    #[command(after_help = extract::HELP)]
    Extract(extract::ExtractArgs),
    /// Audit a User.com export: counts, duplicates, orphans, bad values, billing, inventory
    #[command(after_help = audit::HELP)]
    Audit(audit::AuditArgs),
    /// Propose mapping.toml from the export and the target workspace, with the workspace changes and the token bill
    #[command(after_help = plan::HELP)]
    Plan(plan::PlanArgs),
    /// Approve mapping.toml (after showing what changed since the last approval); apply needs it
    #[command(
        after_help = approve::HELP
    )]
    Approve(approve::ApproveArgs),
    /// Load the export into Pipedrive by the approved mapping: phase by phase, journalled, reconciled, resumable
    #[command(
        after_help = apply::HELP
    )]
    Apply(apply::ApplyArgs),
    /// Show where the migration stands: approval, runs, each object's fates against the export, tokens left
    #[command(after_help = status::HELP)]
    Status(status::StatusArgs),
    /// Read back what arrived in Pipedrive and compare every migrated record, field by field, with the mapping
    #[command(after_help = verify::HELP)]
    Verify(verify::VerifyArgs),
    /// Move what changed since the migrated export: new records created, changed ones updated, deleted ones listed
    #[command(after_help = delta::HELP)]
    Delta(delta::DeltaArgs),
    /// Write the handoff for the customer's admin: reports/handoff/*.md and one self-contained handoff.html
    #[command(after_help = report::HELP)]
    Report,
    /// Undo the migration (or only its sample runs): delete what apply created, in reverse order
    #[command(after_help = rollback::HELP)]
    Rollback(rollback::RollbackArgs),
    /// Remove the customer data a finished migration no longer needs; ids, counts and the audit trail stay
    #[command(after_help = purge::HELP)]
    Purge(purge::PurgeArgs),
    /// Vet, try out and scaffold plugins
    #[command(
        subcommand,
        after_help = plugin::HELP
    )]
    Plugin(plugin::PluginCommand),
    /// The whole story on the sample exports against an in-process Pipedrive sandbox, in a few minutes
    #[command(after_help = demo::HELP)]
    Demo(demo::DemoArgs),
    /// Run the local Pipedrive sandbox (an API-compatible Pipedrive for rehearsals)
    #[command(subcommand)]
    Sandbox(sandbox::SandboxCommand),
}

pub fn main() -> ExitCode {
    // Plugins are compiled in a child process of this binary, which can be stopped (see
    // `plugins::compile`); without the path, on a thread, which cannot.
    if let Ok(program) = std::env::current_exe() {
        crm_migrate::plugins::compile_in_child_processes_of(program);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // As clap's own exit: help and version on standard output, a usage error on standard error.
            let _ = error.print();
            return if error.use_stderr() { Exit::BadUsage } else { Exit::Success }.into();
        }
    };
    let result = match cli.command {
        // The compile child answers its parent in the codes `plugins::compile` reads, not a verb's.
        Command::Plugin(plugin::PluginCommand::Compile { stack_bytes, cpu, max_file_bytes }) => {
            return crm_migrate::plugins::run_compile_child(stack_bytes, &cpu, max_file_bytes);
        }
        Command::Init(args) => init::run(&args),
        Command::Extract(args) => extract::run(&cli.project, &args),
        Command::Audit(args) => audit::run(&cli.project, &args),
        Command::Plan(args) => plan::run(&cli.project, &args),
        Command::Approve(args) => approve::run(&cli.project, &args),
        Command::Apply(args) => apply::run(&cli.project, &args),
        Command::Status(args) => status::run(&cli.project, &args),
        Command::Verify(args) => verify::run(&cli.project, &args),
        Command::Rollback(args) => rollback::run(&cli.project, &args),
        Command::Delta(args) => delta::run(&cli.project, &args),
        Command::Report => report::run(&cli.project),
        Command::Purge(args) => purge::run(&cli.project, &args),
        Command::Demo(args) => demo::run(&args),
        Command::Plugin(command) => plugin::run(&cli.project, command),
        Command::Sandbox(command) => sandbox::run(command),
    };
    match result {
        Ok(exit) => exit,
        Err(error) => {
            eprintln!("error: {}", crm_migrate::terminal::escape_lines(&format!("{error:#}")));
            Exit::of_error(&error)
        }
    }
    .into()
}

/// The tokio runtime of every verb that talks to a server or serves one: one kind for all.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}
