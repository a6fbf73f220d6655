//! `crm-migrate sandbox serve-usercom`: a local User.com, an account made by the export generator
//! served over User.com's API.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use crm_migrate::audit::report::thousands;

/// The help's closing text: examples, then what the verb does.
pub const HELP: &str = "Examples:\n  crm-migrate sandbox serve-usercom\n  \
        crm-migrate sandbox serve-usercom --contacts 5000 --deal-products --rate 10 --faults 0.02\n\n\
        The account is the one `usercom-export-gen` writes with the same --seed and --contacts: \
        migrate it from the API (url = the printed URL) and from that export to compare.";

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
    #[arg(long, default_value_t = 0.0, value_parser = super::rate)]
    faults: f64,
}

fn contacts(text: &str) -> Result<usize, String> {
    match text.replace('_', "").parse::<usize>() {
        Ok(contacts) if contacts >= 200 => Ok(contacts),
        _ => Err(format!("'{text}' is not a number of contacts of at least 200")),
    }
}

pub fn run(args: ServeUsercomArgs) -> anyhow::Result<()> {
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
    let runtime = crate::cli::runtime()?;
    runtime.block_on(async {
        let interrupted = super::interrupt_signal()?;
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
