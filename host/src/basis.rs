//! What decides what apply writes besides the mapping, pinned when a person approves it: each
//! plugin's digest and configuration, the export's files, the target, existing.toml; and where
//! the approved plugin builds are kept. `approve` writes it and its gate checks it; plan and
//! plugin diff read the last one to show what a plugin swapped since does.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::project::{APPROVED_PLUGINS_DIR, EXISTING_FILE, Project};

/// The basis could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BasisError {
    #[error("{}: {source}", .path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

/// One plugin as approved: its hook, the digest of its file and its configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginPin {
    pub hook: String,
    pub digest: String,
    pub config: BTreeMap<String, String>,
}

/// Besides the mapping, what decides what apply writes; approved with it, and checked again by
/// the gate. A plugin swapped (or configured otherwise), an export replaced, another target: each
/// changes what lands in Pipedrive, so each needs a new approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Basis {
    pub plugins: Vec<PluginPin>,
    /// The export's files: name -> sha256 of the bytes.
    pub export: BTreeMap<String, String>,
    pub target_url: String,
    /// sha256 of existing.toml (what becomes of records the account already has), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub existing: Option<String>,
}

impl Basis {
    /// The basis as the project stands now, with the export read from `export_dir`.
    pub fn of(project: &Project, export_dir: &Path) -> Result<Basis, BasisError> {
        let plugins = project
            .config
            .plugins
            .iter()
            .map(|plugin| PluginPin {
                hook: plugin.hook.get_ref().to_string(),
                digest: plugin.digest.get_ref().trim().to_owned(),
                config: plugin.config.clone(),
            })
            .collect();
        Ok(Basis {
            plugins,
            export: export_digests(export_dir)?,
            target_url: project.config.target.url.get_ref().trim().to_owned(),
            existing: std::fs::read_to_string(project.dir.join(EXISTING_FILE)).ok().map(|text| digest(&text)),
        })
    }

    /// What differs from `now`, one line each; the export is left out when `with_export` is false
    /// (a delta moves a newer export, which it shows and confirms itself).
    pub fn changes_to(&self, now: &Basis, with_export: bool) -> Vec<String> {
        let mut changes = Vec::new();
        let by_hook = |plugins: &[PluginPin]| {
            plugins.iter().map(|pin| (pin.hook.clone(), pin.clone())).collect::<BTreeMap<_, _>>()
        };
        let (before, after) = (by_hook(&self.plugins), by_hook(&now.plugins));
        for hook in before.keys().chain(after.keys()).collect::<BTreeSet<_>>() {
            match (before.get(hook), after.get(hook)) {
                (Some(was), Some(is)) => {
                    if was.digest != is.digest {
                        changes.push(format!(
                            "the {hook} plugin is another file: {} approved, {} now",
                            was.digest, is.digest
                        ));
                    }
                    for key in was.config.keys().chain(is.config.keys()).collect::<BTreeSet<_>>() {
                        let (a, b) = (was.config.get(key), is.config.get(key));
                        if a != b {
                            let show = |value: Option<&String>| {
                                value.map_or("(not set)".to_owned(), |value| format!("{value:?}"))
                            };
                            changes.push(format!(
                                "the {hook} plugin's option {key:?}: {} approved, {} now",
                                show(a),
                                show(b)
                            ));
                        }
                    }
                }
                (Some(was), None) => changes.push(format!("the {hook} plugin ({}) was removed", was.digest)),
                (None, Some(is)) => changes.push(format!("a {hook} plugin ({}) was added", is.digest)),
                (None, None) => {}
            }
        }
        if with_export {
            for name in self.export.keys().chain(now.export.keys()).collect::<BTreeSet<_>>() {
                match (self.export.get(name), now.export.get(name)) {
                    (Some(a), Some(b)) if a != b => {
                        changes.push(format!("the export's {name} changed ({} approved, {} now)", short(a), short(b)))
                    }
                    (Some(_), None) => changes.push(format!("the export's {name} is gone")),
                    (None, Some(_)) => changes.push(format!("the export has a new file {name}")),
                    _ => {}
                }
            }
        }
        if self.existing != now.existing {
            let show = |digest: &Option<String>| digest.as_deref().map_or("none", short).to_owned();
            changes.push(format!(
                "{} changed (what becomes of the records the account already has): {} approved, {} now",
                EXISTING_FILE,
                show(&self.existing),
                show(&now.existing)
            ));
        }
        if self.target_url != now.target_url {
            changes
                .push(format!("the target is another account: {} approved, {} now", self.target_url, now.target_url));
        }
        changes
    }
}

/// Where the approved build with this digest is kept.
pub fn approved_copy(project: &Project, digest: &str) -> PathBuf {
    project.dir.join(APPROVED_PLUGINS_DIR).join(format!("{}.wasm", digest.trim().replace(':', "-")))
}

/// `sha256:<hex...>` cut to the first 12 hex digits, as a person compares two.
fn short(digest: &str) -> &str {
    &digest[..digest.len().min("sha256:".len() + 12)]
}

/// sha256 of every file at the top of the export directory, by name.
fn export_digests(dir: &Path) -> Result<BTreeMap<String, String>, BasisError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| BasisError::Io { path, source }
    };
    let mut digests = BTreeMap::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        if !path.is_file() {
            continue;
        }
        let mut file = std::fs::File::open(&path).map_err(io(&path))?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 1 << 20];
        loop {
            let read = file.read(&mut buffer).map_err(io(&path))?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
        }
        digests.insert(
            path.file_name().unwrap_or_default().to_string_lossy().into_owned(),
            format!("sha256:{}", hex::encode(hasher.finalize())),
        );
    }
    Ok(digests)
}

/// `sha256:<hex>` of a text file's bytes (the mapping, existing.toml).
pub fn digest(text: &str) -> String {
    crate::plugins::Digest::of(text.as_bytes()).to_string()
}
