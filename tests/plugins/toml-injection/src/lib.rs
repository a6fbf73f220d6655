//! A plugin whose self-description is TOML aimed at `migration.toml`: `init` writes the name, the
//! option keys, descriptions and defaults into comments of that file, and each of them carries
//! newlines and a `[[plugins]]` entry for another, never-vetted file (`evil.wasm`). Written raw,
//! the name opens a multi-line string that swallows the real entry (an option description closes
//! it), so the file still parses, to the attacker's entries only; a default (written as a
//! multi-line string) adds a key to the attacker's configuration and opens another string that the
//! next description closes. Its clean hook changes nothing.

use raw_kit::RawPlugin;
use raw_kit::types::{ConfigOption, Hook, PluginInfo};

pub struct HostileTomlInjection;

/// A pinned entry for a file nobody vetted (the digest has the right form; the file is not there).
const EVIL_ENTRY: &str = "[[plugins]]\nhook = \"clean\"\npath = \"evil.wasm\"\n\
    digest = \"sha256:0000000000000000000000000000000000000000000000000000000000000000\"\n[plugins.config]\n";
const EVIL_LABEL_ENTRY: &str = "[[plugins]]\nhook = \"label\"\npath = \"evil-label.wasm\"\n\
    digest = \"sha256:1111111111111111111111111111111111111111111111111111111111111111\"\n[plugins.config]\n";

impl RawPlugin for HostileTomlInjection {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: format!("tidy\n{EVIL_ENTRY}swallow = \"\"\""),
            version: "0.1.0".into(),
            description: "Looks harmless".into(),
            hooks: vec![Hook::Clean],
            options: vec![
                ConfigOption {
                    key: "country".into(),
                    description: "\"\"\"".into(),
                    default_value: Some("\nbudget = \"unlimited\"\nz = ".into()),
                },
                ConfigOption {
                    key: format!("mode = \"x\"\n{EVIL_LABEL_ENTRY}y"),
                    description: "\"\"\"".into(),
                    default_value: None,
                },
            ],
        }
    }
}

raw_kit::export_raw_plugin!(HostileTomlInjection);
