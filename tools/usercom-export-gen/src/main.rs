//! `usercom-export-gen`: writes a deterministic User.com CSV export with planted troubles.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use usercom_export_gen::{Dialect, Options, generate};

const USAGE: &str = "usage: usercom-export-gen --out DIR [--seed N] [--contacts N] [--changes [--change-percent P]] [--dialect NAME] [--hierarchy] [--deal-products] [--attachments URL] [--planted FILE]

Writes a User.com-style CSV export (users, companies, deals, pipelines, stages, activities,
events, conversations, tags, segments, attributes, automations, email templates) into DIR, and
what it planted (duplicates, orphans, bad values, billing reasons) as JSON into FILE, or to
standard output without --planted.

Defaults: --seed 2024 --contacts 500, which is exactly examples/usercom-export/.
--changes writes the same account a month later (for delta migrations): the same records,
plus new contacts and deals, some changed, some anonymous visitors deleted; what changed is
listed under `changes` in the planted JSON. --change-percent P (1 to 10, default 5) changes
P% of the people and scales the rest with it (at 1: 0.8% more contacts, 1% more deals, 2% of
the deals changed, a tenth of the anonymous visitors deleted).
--dialect writes the same account as another User.com export writes it: `sample` (the
default), `display` (the web panel's display-case export: a full-name column, an
activity-type catalogue, calendar-style events, JSON segment rules and automations, Polish
numbers, other delimiters and encodings, an extra file) or `panel-pl` (a Polish-language
panel's later export: Polish headers in another order, date-stamped file names, `;`,
tak/nie, DD.MM.YYYY dates, ISO times with milliseconds, columns the sample has not got).
--hierarchy gives companies parent companies (a `Parent company ID` column; chains, a parent
the export does not have, a cycle); the sample has none.
--deal-products gives deals participants and ordered products: a products.csv catalogue
(id, name, price, currency) and deals.csv columns `participants` ({10001,10002}) and
`order_products` (JSON: [{\"product_id\":1,\"quantity\":2,\"value\":\"199.00\",\"currency\":\"PLN\"}]);
the sample has none.
--attachments URL makes one contact's chat message in four link a file served under URL
(`<a href=\"URL/media/attachments/70001/umowa.docx\">umowa.docx</a>` in its content), as the
local User.com (crm-migrate sandbox serve-usercom) serves them; the sample has none.
The planted JSON says under `dialect` what it changed; `values` lists every planted bad
value and orphan where the dialect wrote it.

Example:
  cargo run -p usercom-export-gen -- --out /tmp/big-export --contacts 1000000";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

/// Writes `text` to standard output. A reader that stops early (`| head`) is not an error: what
/// it did not read, it did not want.
fn to_stdout(text: &str) -> Result<(), String> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(format!("writing to standard output: {error}"))
        }
        _ => Ok(()),
    }
}

fn run() -> Result<(), String> {
    let mut options = Options::default();
    let mut out = None;
    let mut planted_file = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--out" => out = Some(PathBuf::from(value("--out")?)),
            "--planted" => planted_file = Some(PathBuf::from(value("--planted")?)),
            "--seed" => {
                options.seed = value("--seed")?.parse().map_err(|_| "--seed takes a whole number".to_owned())?
            }
            "--contacts" => {
                options.contacts = value("--contacts")?
                    .replace('_', "")
                    .parse()
                    .map_err(|_| "--contacts takes a whole number".to_owned())?
            }
            "--changes" => options.changes = true,
            "--change-percent" => {
                options.change_percent = value("--change-percent")?
                    .parse()
                    .ok()
                    .filter(|percent| usercom_export_gen::CHANGE_PERCENTS.contains(percent))
                    .ok_or_else(|| "--change-percent takes a whole number from 1 to 10".to_owned())?
            }
            "--hierarchy" => options.hierarchy = true,
            "--deal-products" => options.deal_products = true,
            "--attachments" => options.attachments = Some(value("--attachments")?),
            "--dialect" => {
                let name = value("--dialect")?;
                let names: Vec<&str> = Dialect::ALL.iter().map(|dialect| dialect.name()).collect();
                options.dialect = Dialect::from_name(&name)
                    .ok_or_else(|| format!("--dialect takes one of {}, not '{name}'", names.join(", ")))?;
            }
            "-h" | "--help" => {
                return to_stdout(&format!("{USAGE}\n"));
            }
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    let out = out.ok_or("--out DIR is required")?;
    let planted = generate(&out, &options).map_err(|error| format!("writing {}: {error}", out.display()))?;
    let json = serde_json::to_string_pretty(&planted).expect("plain data serializes") + "\n";
    match planted_file {
        Some(path) => std::fs::write(&path, json).map_err(|error| format!("writing {}: {error}", path.display()))?,
        None => to_stdout(&json)?,
    }
    eprintln!("wrote {} contacts to {}", options.contacts, out.display());
    Ok(())
}
