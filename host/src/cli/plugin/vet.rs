//! `crm-migrate plugin vet`: a plugin checked, and what it is printed.

use crm_migrate::terminal::plugins as plugins_text;

use super::args::PluginArgs;
use crate::cli::exit::Exit;

/// The help's closing text: examples, then what the verb does.
pub const HELP: &str = "Example:\n  crm-migrate plugin vet target/wasm32-wasip2/plugin/clean_basic.wasm\n\n\
        Put the printed digest into the migration so that exactly this file runs. A component that imports \
        anything beyond what plugins are granted, or that was built against an unsupported contract, is refused.";

pub fn run(plugin: &PluginArgs, json: bool) -> anyhow::Result<Exit> {
    let (component, in_force, store) = plugin.vet()?;
    if json {
        let report = plugins_text::vet_json(&component, &in_force, store.as_ref());
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", plugins_text::vet_text(&component, &in_force, store.as_ref()));
    }
    Ok(Exit::Success)
}
