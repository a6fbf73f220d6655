//! `crm-migrate plugin new`: a plugin crate that builds and passes its tests as is.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use crate::cli::exit::Exit;

/// The help's closing text: examples, then what the verb does.
pub const HELP: &str = "Example:\n  crm-migrate plugin new acme-rules\n  cd acme-rules && cargo test && \
        cargo build --release --target wasm32-wasip2\n  crm-migrate plugin vet target/wasm32-wasip2/release/acme_rules.wasm";

const CARGO_TOML: &str = r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"
publish = false

[lib]
# cdylib: the WebAssembly component the host loads; rlib: native unit tests.
crate-type = ["cdylib", "rlib"]

[dependencies]
crm-migrate-plugin-sdk = {sdk}

# Small, fast components: build with `cargo build --release --target wasm32-wasip2`.
[profile.release]
opt-level = "s"
lto = true
codegen-units = 1
strip = true
panic = "abort"

# A plugin is its own workspace, wherever it lives.
[workspace]
"#;

const LIB_RS: &str = r#"//! {name}: {customer}'s rules for the User.com -> Pipedrive migration.

use crm_migrate_plugin_sdk::{Clean, Config, ConfigError, ConfigOption, HookError, Info, Outcome, Plugin, Record};

pub struct {type_name} {
    country_field: String,
}

const OPTIONS: &[ConfigOption] =
    &[ConfigOption::new("country_field", "the field holding a country code").default_value("country")];

impl Plugin for {type_name} {
    fn describe() -> Info {
        Info::new("{name}", env!("CARGO_PKG_VERSION"), "Upper-cases country codes; rejects records without an id")
            .options(OPTIONS)
    }

    fn configure(config: &Config) -> Result<Self, ConfigError> {
        let country_field = config.get("country_field").unwrap_or_default().trim().to_owned();
        if country_field.is_empty() {
            return Err(ConfigError::new("country_field", "must name a field"));
        }
        Ok({type_name} { country_field })
    }
}

// Implementing a hook trait (Clean, Dedup, Label) is what tells the host the plugin has that hook.
impl Clean for {type_name} {
    // An Err quarantines the record's batch with the message as the reason; prefer a record's
    // Outcome::reject when only that record is at fault.
    fn clean(&self, record: &mut Record<'_>) -> Result<Outcome, HookError> {
        if record.source_id().trim().is_empty() {
            return Ok(Outcome::reject("id", "the record has no User.com id"));
        }
        if let Some(country) = record.text(&self.country_field) {
            let upper = country.trim().to_uppercase();
            record.set(&self.country_field, upper);
        }
        Ok(Outcome::Keep)
    }
}

crm_migrate_plugin_sdk::export_plugin!({type_name});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn country_codes_are_upper_cased() {
        let plugin = {type_name}::with_config(&[]).unwrap();
        let mut record = Record::contact("u1").with("country", " pl ");
        assert_eq!(plugin.clean(&mut record), Ok(Outcome::Keep));
        assert_eq!(record.text("country"), Some("PL"));
    }

    #[test]
    fn the_plugin_tells_the_host_it_cleans() {
        assert_eq!(crm_migrate_plugin_sdk::implemented_hooks!({type_name}), [crm_migrate_plugin_sdk::Hook::Clean]);
    }

    #[test]
    fn an_empty_country_field_option_is_refused() {
        let error = {type_name}::with_config(&[("country_field", " ")]).err().unwrap();
        assert_eq!(error.key, "country_field");
    }
}
"#;

const README: &str = r#"# {name}

A crm-migrate plugin. Test natively, build the component, vet it:

    cargo test
    rustup target add wasm32-wasip2
    cargo build --release --target wasm32-wasip2
    crm-migrate plugin vet target/wasm32-wasip2/release/{crate_file}.wasm
    crm-migrate plugin run target/wasm32-wasip2/release/{crate_file}.wasm --hook clean --input records.csv
"#;

/// The SDK version a new plugin depends on by default: the workspace versions the host and the
/// SDK together, so this binary's version is the SDK's it speaks the contract of.
const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The `crm-migrate-plugin-sdk` dependency of a new plugin, as a TOML value: the published
/// version by default, or the crate at `sdk` (a checkout, or an unpacked `cargo package`),
/// written as an absolute path so the plugin builds from wherever it is moved to.
fn sdk_dependency(sdk: Option<&Path>) -> anyhow::Result<String> {
    let Some(sdk) = sdk else { return Ok(format!("\"{SDK_VERSION}\"")) };
    let manifest = sdk.join("Cargo.toml");
    let is_sdk = std::fs::read_to_string(&manifest)
        .is_ok_and(|text| text.lines().any(|line| line.trim() == r#"name = "crm-migrate-plugin-sdk""#));
    if !is_sdk {
        bail!(
            "{} is not the crm-migrate-plugin-sdk crate (no Cargo.toml naming it); pass --sdk the SDK's directory",
            sdk.display()
        );
    }
    let sdk = sdk.canonicalize().with_context(|| format!("cannot resolve {}", sdk.display()))?;
    let Some(path) = sdk.to_str() else { bail!("the SDK's path {} is not UTF-8; move it", sdk.display()) };
    // A TOML string, escaped: a path may hold quotes or backslashes.
    Ok(format!("{{ path = {} }}", toml::Value::String(path.to_owned())))
}

pub fn run(name: &str, dir: Option<PathBuf>, sdk: Option<PathBuf>) -> anyhow::Result<Exit> {
    let valid = !name.is_empty()
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !valid {
        bail!("plugin name '{name}' must start with a lower-case letter and hold only a-z, 0-9 and '-'");
    }
    let dir = dir.unwrap_or_else(|| PathBuf::from(name));
    if dir.exists() {
        bail!("{} already exists; choose another --dir or name", dir.display());
    }
    let sdk = sdk_dependency(sdk.as_deref())?;
    let type_name: String = name
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|first| first.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect();
    let fill = |template: &str| {
        template
            .replace("{name}", name)
            .replace("{type_name}", &type_name)
            .replace("{customer}", "the customer")
            .replace("{crate_file}", &name.replace('-', "_"))
            .replace("{sdk}", &sdk)
    };
    std::fs::create_dir_all(dir.join("src")).with_context(|| format!("cannot create {}", dir.display()))?;
    for (file, template) in [("Cargo.toml", CARGO_TOML), ("src/lib.rs", LIB_RS), ("README.md", README)] {
        let path = dir.join(file);
        std::fs::write(&path, fill(template)).with_context(|| format!("cannot write {}", path.display()))?;
    }
    println!("created plugin {name} in {}", dir.display());
    println!("next: cd {} && cargo test && cargo build --release --target wasm32-wasip2", dir.display());
    Ok(Exit::Success)
}
