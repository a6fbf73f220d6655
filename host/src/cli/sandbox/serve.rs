//! `crm-migrate sandbox serve`: the local Pipedrive sandbox, with Pipedrive's limits and optional
//! faults.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use crm_migrate::audit::report::thousands;
use crm_migrate::pipedrive::Plan;
use crm_migrate_sandbox::{AccountLimits, Faults, SandboxConfig};

/// The help's closing text: examples, then what the verb does.
pub const HELP: &str = "Examples:\n  crm-migrate sandbox serve\n  \
        crm-migrate sandbox serve --plan lite --record requests.jsonl --state account.json\n  \
        crm-migrate sandbox serve --server-error-rate 0.05 --lost-response-rate 0.02 --seed 7\n\n\
        Point a migration at it with its URL (http://127.0.0.1:8089) and the token sandbox-token. \
        It keeps the account in memory; --state keeps it across restarts.";

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
    /// Enforce none of the account's usage limits (by default the plan's: custom fields, deals,
    /// options per field and note size, refused with Pipedrive's 403 and 400 as an account does)
    #[arg(long)]
    no_account_limits: bool,
    /// A deals limit instead of the plan's (to rehearse reaching it)
    #[arg(long, conflicts_with = "no_account_limits")]
    deals_limit: Option<u64>,
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
    #[arg(long, default_value_t = 0.0, value_parser = super::rate)]
    server_error_rate: f64,
    /// Share of requests applied whose answer is lost (the connection closes), 0 to 1
    #[arg(long, default_value_t = 0.0, value_parser = super::rate)]
    lost_response_rate: f64,
    /// Share of requests whose connection is dropped before anything happens, 0 to 1
    #[arg(long, default_value_t = 0.0, value_parser = super::rate)]
    dropped_connection_rate: f64,
    /// Share of requests answered late, 0 to 1
    #[arg(long, default_value_t = 0.0, value_parser = super::rate)]
    slow_rate: f64,
    /// How late a slow answer is, in milliseconds
    #[arg(long, default_value_t = 3000)]
    slow_ms: u64,
    /// Share of requests answered 429 (retry after 1 s) whatever the window holds, 0 to 1
    #[arg(long, default_value_t = 0.0, value_parser = super::rate)]
    throttle_rate: f64,
}

/// The plan's usage limits (its deals limit replaced when given), unless none are wanted.
fn account_limits(args: &ServeArgs) -> Option<AccountLimits> {
    (!args.no_account_limits).then(|| {
        let limits = AccountLimits::of(args.plan, args.seats);
        AccountLimits { deals: args.deals_limit.or(limits.deals), ..limits }
    })
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let config = SandboxConfig {
        plan: args.plan,
        seats: args.seats,
        top_up_tokens: args.top_up_tokens,
        daily_token_budget: args.daily_token_budget,
        campaigns: args.campaigns,
        account_limits: account_limits(&args),
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
    let runtime = crate::cli::runtime()?;
    runtime.block_on(async {
        // Ctrl-C is caught from here on, before the address is printed: whoever starts the
        // sandbox and waits for that line can stop it cleanly at once.
        let interrupted = super::interrupt_signal()?;
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
        match account_limits(&args) {
            Some(limits) => println!(
                "  account limits: {} custom fields, {} deals, {} options per field, notes up to {} bytes (--no-account-limits for none)",
                limits.custom_fields.map_or_else(|| "unlimited".to_owned(), thousands),
                limits.deals.map_or_else(|| "unlimited".to_owned(), thousands),
                thousands(limits.options_per_field),
                thousands(limits.note_bytes)
            ),
            None => println!("  no account limits enforced"),
        }
        println!("  accepts the token(s) given with --token (default: sandbox-token)");
        if let Some(record) = &args.record {
            println!("  recording requests to {}", record.display());
        }
        if let Some(state) = &args.state {
            println!("  account state in {} (saved on exit)", state.display());
        }
        println!("  inspect: curl http://{address}/_sandbox/state | curl http://{address}/_sandbox/stats");
        println!("Ctrl-C stops it.");
        let stats = crm_migrate_sandbox::serve_until(config, listener, interrupted)
            .await
            .context("the sandbox stopped with an error")?;
        println!("{}", summary(&stats));
        Ok(())
    })
}

/// What the sandbox saw, printed when it stops: requests, tokens, writes, and the webhook
/// deliveries it would have made (it calls no one), per webhook and event.
fn summary(stats: &crm_migrate_sandbox::Stats) -> String {
    let mut lines = vec![format!(
        "Stopped: {} requests, {} tokens debited, {} writes applied.",
        thousands(stats.requests),
        thousands(stats.tokens_debited),
        thousands(stats.writes_applied)
    )];
    for (webhook, events) in &stats.webhook_deliveries {
        let events: Vec<String> =
            events.iter().map(|(event, count)| format!("{event} × {}", thousands(*count))).collect();
        lines.push(format!("  webhook {webhook} would have been delivered: {}", events.join(", ")));
    }
    lines.join("\n")
}
