//! `crm-migrate sandbox ...`: the local Pipedrive, or the local User.com, for rehearsals, until
//! Ctrl-C.

mod serve;
mod serve_usercom;

use anyhow::Context;
use clap::Subcommand;

use crate::cli::exit::Exit;

#[derive(Subcommand)]
pub enum SandboxCommand {
    /// Serve a Pipedrive-compatible API on this machine, with Pipedrive's rate limits and optional faults
    #[command(after_help = serve::HELP)]
    Serve(serve::ServeArgs),
    /// Serve a local User.com: a generated account over User.com's REST API, with its auth, paging, rate limit and faults
    #[command(after_help = serve_usercom::HELP)]
    ServeUsercom(serve_usercom::ServeUsercomArgs),
}

/// Runs one `sandbox` verb until Ctrl-C.
pub fn run(command: SandboxCommand) -> anyhow::Result<Exit> {
    match command {
        SandboxCommand::Serve(args) => serve::run(args),
        SandboxCommand::ServeUsercom(args) => serve_usercom::run(args),
    }
    .map(|()| Exit::Success)
}

/// A share between 0 and 1, for the fault rates.
fn rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if (0.0..=1.0).contains(&rate) => Ok(rate),
        _ => Err(format!("'{text}' is not a share between 0 and 1 (0.05 is 5%)")),
    }
}

/// A future that completes on Ctrl-C (SIGINT) or SIGTERM; the handlers are in place when it returns.
#[cfg(unix)]
fn interrupt_signal() -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt()).context("cannot catch Ctrl-C")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot catch SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

#[cfg(not(unix))]
fn interrupt_signal() -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}
