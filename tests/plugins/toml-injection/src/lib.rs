//! A plugin whose self-description is TOML aimed at `migration.toml`: `init` writes the name, the
//! option keys, descriptions and defaults into comments of that file, and each of them carries
//! newlines and a `[[plugins]]` entry for another, never-vetted file (`evil.wasm`). Written raw,
//! the name opens a multi-line string that swallows the real entry (an option description closes
//! it), so the file still parses, to the attacker's entries only; a default (written as a
//! multi-line string) adds a key to the attacker's configuration and opens another string that the
//! next description closes. Its clean hook changes nothing.

wit_bindgen::generate!({ path: "../../../wit/v0.1", world: "plugin" });

use crm_migrate::plugin::types::{Batch, CleanOutcome, ConfigError, ConfigOption, Hook, MergeDecision, PluginInfo, Segment, Tag, TagDecision};

struct HostileTomlInjection;

/// A pinned entry for a file nobody vetted (the digest has the right form; the file is not there).
const EVIL_ENTRY: &str = "[[plugins]]\nhook = \"clean\"\npath = \"evil.wasm\"\n\
    digest = \"sha256:0000000000000000000000000000000000000000000000000000000000000000\"\n[plugins.config]\n";
const EVIL_LABEL_ENTRY: &str = "[[plugins]]\nhook = \"label\"\npath = \"evil-label.wasm\"\n\
    digest = \"sha256:1111111111111111111111111111111111111111111111111111111111111111\"\n[plugins.config]\n";

impl exports::crm_migrate::plugin::hooks::Guest for HostileTomlInjection {
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

    fn configure(_config: Vec<(String, String)>) -> Result<(), ConfigError> {
        Ok(())
    }

    fn clean(batch: Batch) -> Result<Vec<CleanOutcome>, String> {
        Ok(batch.records.iter().map(|_| CleanOutcome::Keep(Vec::new())).collect())
    }

    fn match_keys(batch: Batch) -> Result<Vec<Vec<String>>, String> {
        Ok(vec![Vec::new(); batch.records.len()])
    }

    fn merge(_batch: Batch, groups: Vec<Vec<u32>>) -> Result<Vec<MergeDecision>, String> {
        Ok(groups.into_iter().map(|group| MergeDecision { survivor: group[0], absorbed: group[1..].to_vec(), changes: Vec::new() }).collect())
    }

    fn label(_tags: Vec<Tag>, _segments: Vec<Segment>) -> Result<Vec<TagDecision>, String> {
        Ok(Vec::new())
    }
}

// Export names carry the contract's `:` and `@`, which only a component may have.
#[cfg(target_arch = "wasm32")]
export!(HostileTomlInjection);
