//! `crm-migrate sandbox serve` and `sandbox serve-usercom`: run the local Pipedrive sandbox, or the
//! local User.com (an account made by the export generator, served over User.com's API), for
//! rehearsals, until Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use crm_migrate::audit::report::thousands;
use crm_migrate::pipedrive::Plan;
use crm_migrate_sandbox::{Faults, SandboxConfig};

#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on; the default keeps the sandbox on this machine
    #[arg(long, default_value = "127.0.0.1:8089")]
    listen: SocketAddr,
    /// The account's plan: sets the daily token budget (30,000 x multiplier x seats) and the burst limit
    #[arg(long, default_value = "growth")]
    plan: Plan,
    /// Seats on the account
    #[arg(long, default_value_t = 1)]
    seats: u32,
    /// Purchased extra tokens per day
    #[arg(long, default_value_t = 0)]
    top_up_tokens: u64,
    /// A daily token budget instead of the plan's (to rehearse running out)
    #[arg(long)]
    daily_token_budget: Option<u64>,
    /// The account has Campaigns: persons get a marketing status field
    #[arg(long)]
    campaigns: bool,
    /// Requests per 2 s per token instead of the plan's
    #[arg(long)]
    burst_limit: Option<u32>,
    /// API token the sandbox accepts; repeat for several
    #[arg(long = "token", default_value = "sandbox-token")]
    tokens: Vec<String>,
    /// Write every request and answer to this file as JSON lines (tokens left out)
    #[arg(long)]
    record: Option<PathBuf>,
    /// Load the account from this file if it exists, and save it there on exit
    #[arg(long)]
    state: Option<PathBuf>,
    /// Seed for field keys and faults: the same seed gives the same account
    #[arg(long)]
    seed: Option<u64>,
    /// Share of requests answered 500/502/503 (nothing applied), 0 to 1
    #[arg(long, default_value_t = 0.0, value_parser = rate)]
    server_error_rate: f64,
    /// Share of requests applied whose answer is lost (the connection closes), 0 to 1
    #[arg(long, default_value_t = 0.0, value_parser = rate)]
    lost_response_rate: f64,
    /// Share of requests whose connection is dropped before anything happens, 0 to 1
    #[arg(long, default_value_t = 0.0, value_parser = rate)]
    dropped_connection_rate: f64,
    /// Share of requests answered late, 0 to 1
    #[arg(long, default_value_t = 0.0, value_parser = rate)]
    slow_rate: f64,
    /// How late a slow answer is, in milliseconds
    #[arg(long, default_value_t = 3000)]
    slow_ms: u64,
    /// Share of requests answered 429 (retry after 1 s) whatever the window holds, 0 to 1
    #[arg(long, default_value_t = 0.0, value_parser = rate)]
    throttle_rate: f64,
}

fn rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if (0.0..=1.0).contains(&rate) => Ok(rate),
        _ => Err(format!("'{text}' is not a share between 0 and 1 (0.05 is 5%)")),
    }
}

pub fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = SandboxConfig {
        plan: args.plan,
        seats: args.seats,
        top_up_tokens: args.top_up_tokens,
        daily_token_budget: args.daily_token_budget,
        campaigns: args.campaigns,
        burst_limit: args.burst_limit,
        api_tokens: args.tokens.clone(),
        record_path: args.record.clone(),
        state_path: args.state.clone(),
        account_seed: args.seed,
        faults: Faults {
            seed: args.seed.unwrap_or(1),
            server_error_rate: args.server_error_rate,
            lost_response_rate: args.lost_response_rate,
            dropped_connection_rate: args.dropped_connection_rate,
            slow_rate: args.slow_rate,
            slow_by: Duration::from_millis(args.slow_ms),
            throttle_rate: args.throttle_rate,
        },
        ..SandboxConfig::default()
    };
    let budget =
        args.daily_token_budget.unwrap_or_else(|| args.plan.daily_token_budget(args.seats, args.top_up_tokens));
    let burst = args.burst_limit.unwrap_or_else(|| args.plan.burst_limit());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        // Ctrl-C is caught from here on, before the address is printed: whoever starts the
        // sandbox and waits for that line can stop it cleanly at once.
        let interrupted = interrupt_signal()?;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let address = listener.local_addr()?;
        if !address.ip().is_loopback() {
            eprintln!("warning: listening on {address}, reachable from other machines");
        }
        println!("Pipedrive sandbox on http://{address}");
        println!(
            "  plan {}, {} seat(s): {} tokens a day, {burst} requests per 2 s per token",
            args.plan,
            args.seats,
            thousands(budget)
        );
        println!("  accepts the token(s) given with --token (default: sandbox-token)");
        if let Some(record) = &args.record {
            println!("  recording requests to {}", record.display());
        }
        if let Some(state) = &args.state {
            println!("  account state in {} (saved on exit)", state.display());
        }
        println!("  inspect: curl http://{address}/_sandbox/state | curl http://{address}/_sandbox/stats");
        println!("Ctrl-C stops it.");
        crm_migrate_sandbox::serve_with_shutdown(config, listener, interrupted)
            .await
            .context("the sandbox stopped with an error")
    })
}

#[derive(Args)]
pub struct ServeUsercomArgs {
    /// Port on 127.0.0.1 (0: any free port)
    #[arg(long, default_value_t = 8090)]
    port: u16,
    /// The generated account's seed (2024 is the sample export's)
    #[arg(long, default_value_t = 2024)]
    seed: u64,
    /// Contacts in the account (at least 200)
    #[arg(long, default_value_t = 500, value_parser = contacts)]
    contacts: usize,
    /// Companies with parent companies (as the generator's --hierarchy)
    #[arg(long)]
    hierarchy: bool,
    /// Deals with participants and ordered products (as the generator's --deal-products)
    #[arg(long)]
    deal_products: bool,
    /// API key the sandbox accepts (`Authorization: Token KEY`)
    #[arg(long, default_value = "usercom-sandbox-token", conflicts_with = "token_file")]
    token: String,
    /// Read the API key from this file's first line instead
    #[arg(long)]
    token_file: Option<PathBuf>,
    /// Requests per second per key (bursts of as many); over it, 429 with Retry-After. None: unlimited
    #[arg(long)]
    rate: Option<f64>,
    /// Share of requests answered 500/502/504 (nothing served), 0 to 1, drawn from --seed
    #[arg(long, default_value_t = 0.0, value_parser = rate)]
    faults: f64,
}

fn contacts(text: &str) -> Result<usize, String> {
    match text.replace('_', "").parse::<usize>() {
        Ok(contacts) if contacts >= 200 => Ok(contacts),
        _ => Err(format!("'{text}' is not a number of contacts of at least 200")),
    }
}

pub fn serve_usercom(args: ServeUsercomArgs) -> anyhow::Result<()> {
    let (token, token_source) = match &args.token_file {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            let token = text.lines().next().unwrap_or("").trim().to_owned();
            anyhow::ensure!(!token.is_empty(), "{}: the first line holds no API key", path.display());
            (token, format!("the key in {}", path.display()))
        }
        None => (args.token.clone(), "the key given with --token (default: usercom-sandbox-token)".to_owned()),
    };
    if let Some(rate) = args.rate {
        anyhow::ensure!(rate > 0.0, "--rate is requests per second, more than 0 (not {rate})");
    }
    let config = usercom_sandbox::UsercomConfig {
        account: usercom_sandbox::AccountOptions {
            seed: args.seed,
            contacts: args.contacts,
            hierarchy: args.hierarchy,
            deal_products: args.deal_products,
            ..usercom_sandbox::AccountOptions::default()
        },
        tokens: vec![token],
        rate: args.rate.map(|rate| usercom_sandbox::RateLimit { burst: rate.ceil().max(1.0) as u32, per_second: rate }),
        faults: usercom_sandbox::Faults { seed: args.seed, rate: args.faults },
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let interrupted = interrupt_signal()?;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
            .await
            .with_context(|| format!("cannot listen on 127.0.0.1:{}", args.port))?;
        let address = listener.local_addr()?;
        println!("User.com sandbox on http://{address}");
        println!("  API under http://{address}/api/public/ (Authorization: Token KEY, Accept: */*; version=2)");
        println!("  accepts {token_source}");
        println!(
            "  account: seed {}, {} contacts{}{}",
            args.seed,
            thousands(args.contacts as u64),
            if args.hierarchy { ", company hierarchies" } else { "" },
            if args.deal_products { ", deal products" } else { "" }
        );
        match args.rate {
            Some(rate) => println!("  {rate} requests per second per key, then 429 with Retry-After"),
            None => println!("  no rate limit"),
        }
        if args.faults > 0.0 {
            println!("  {}% of requests fail with 500/502/504 (seed {})", args.faults * 100.0, args.seed);
        }
        println!("  a month later: curl -X POST http://{address}/_sandbox/changes");
        println!("Ctrl-C stops it.");
        usercom_sandbox::serve_with_shutdown(config, listener, interrupted)
            .await
            .context("the User.com sandbox stopped with an error")
    })
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
