//! `crm-migrate plugin run`: one hook of a plugin over a CSV file, each record's fate shown.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use serde_json::json;

use crm_migrate::pipeline::{self, BatchIds};
use crm_migrate::plugins::{Hook, LoadedPlugin};
use crm_migrate::record::ObjectKind;
use crm_migrate::records_csv;
use crm_migrate::terminal::plugins as plugins_text;

use super::args::PluginArgs;
use crate::cli::exit::Exit;

/// The help's closing text: examples, then what the verb does.
pub const HELP: &str = "Examples:\n  \
        crm-migrate plugin run target/wasm32-wasip2/plugin/clean_basic.wasm --hook clean \\\n      \
        --input examples/plugin-run/contacts.csv --config default_country=PL --config drop_email_domains=example.com\n  \
        crm-migrate plugin run target/wasm32-wasip2/plugin/dedup_email.wasm --hook dedup --input examples/plugin-run/contacts.csv\n  \
        crm-migrate plugin run target/wasm32-wasip2/plugin/segment_labels.wasm --hook label \\\n      \
        --input examples/plugin-run/tags.csv --segments examples/plugin-run/segments.csv --config colors=VIP=red\n\n\
        Input CSV: the header names the fields; `id` is the record's id, `kind` its object kind. Declare a column's \
        type with a suffix (score:number, vip:boolean, birthday:date, updated_at:datetime, tags:choices with \
        options separated by |); the rest is text, an empty cell is null. For --hook label the input is the tag \
        catalogue (id,name,record_count) and --segments the segment list (id,name,definition).";

#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    plugin: PluginArgs,
    /// Which hook to run
    #[arg(long, value_enum)]
    hook: HookArg,
    /// Records CSV (for --hook label: the tag catalogue)
    #[arg(long)]
    input: PathBuf,
    /// Segments CSV, for --hook label
    #[arg(long)]
    segments: Option<PathBuf>,
    /// Object kind of records without a `kind` column
    #[arg(long, default_value = "contact")]
    kind: ObjectKind,
    /// Plugin configuration, KEY=VALUE; repeat for several keys
    #[arg(long = "config", value_name = "KEY=VALUE", value_parser = parse_config_pair)]
    config: Vec<(String, String)>,
    /// Records per plugin call
    #[arg(long, default_value_t = 1000)]
    batch_size: usize,
    /// Print JSON instead of text
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum HookArg {
    Clean,
    Dedup,
    Label,
}

impl From<HookArg> for Hook {
    fn from(hook: HookArg) -> Hook {
        match hook {
            HookArg::Clean => Hook::Clean,
            HookArg::Dedup => Hook::Dedup,
            HookArg::Label => Hook::Label,
        }
    }
}

fn parse_config_pair(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(key, value)| (key.trim().to_owned(), value.to_owned()))
        .ok_or_else(|| format!("'{text}' is not KEY=VALUE"))
}

pub fn run(args: &RunArgs) -> anyhow::Result<Exit> {
    let component = args.plugin.open_trusted()?;
    let plugin = component.configure_for(Hook::from(args.hook), args.config.clone())?;
    match args.hook {
        HookArg::Label => run_label(args, &plugin),
        HookArg::Clean | HookArg::Dedup => run_records(args, &plugin),
    }
}

fn run_records(args: &RunArgs, plugin: &LoadedPlugin) -> anyhow::Result<Exit> {
    let hook = Hook::from(args.hook);
    let input = records_csv::read_records(&args.input, args.kind)?;
    let lines: std::collections::HashMap<String, u64> =
        input.records.iter().map(|record| record.source_id.clone()).zip(input.lines.iter().copied()).collect();
    let total = input.records.len();
    let input_fields = pipeline::fields_of(&input.records);
    let started = std::time::Instant::now();
    let mut ids = BatchIds::default();
    let output = match hook {
        Hook::Clean => pipeline::clean(plugin, input.records, args.batch_size, &mut ids),
        _ => pipeline::dedup(plugin, input.records, args.batch_size, &mut ids),
    };
    let elapsed = started.elapsed();
    let counts = output.counts();
    anyhow::ensure!(counts.total() == total, "internal error: {} fates for {total} records", counts.total());

    let new_fields = pipeline::new_fields(&output, &input_fields);
    let run = plugins_text::StageRun {
        plugin,
        hook,
        input: &args.input,
        output: &output,
        lines: &lines,
        new_fields: &new_fields,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&run.json())?);
    } else {
        print!("{}", run.text(total, elapsed));
        eprint!("{}", run.warnings());
        print!("{}", run.new_fields_text());
    }
    Ok(if output.failures.is_empty() { Exit::Success } else { Exit::BatchesFailed })
}

fn run_label(args: &RunArgs, plugin: &LoadedPlugin) -> anyhow::Result<Exit> {
    let tags = records_csv::read_tags(&args.input)?;
    let segments = match &args.segments {
        Some(path) => records_csv::read_segments(path)?,
        None => Vec::new(),
    };
    let call = plugin.label(&tags, &segments).context("the label hook failed")?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json!({"plugin": plugin.name(), "decisions": call.output}))?);
        return Ok(Exit::Success);
    }
    print!("{}", plugins_text::label_text(&plugin.name(), &tags, segments.len(), &call.output));
    Ok(Exit::Success)
}
