//! Compiled components cached on disk by plugin digest and engine, so the second load of a
//! plugin skips compilation.
//!
//! Loading compiled code is `unsafe` in wasmtime: a forged artifact could run arbitrary native
//! code. So an entry is only ever read from a directory this user created (mode 0700), it
//! carries a checksum of its own bytes (CRC-32: it guards against corruption and truncation;
//! the directory's permissions guard against tampering), and its file name binds the plugin's
//! sha256 and a hash of the engine's compilation settings. Anything that does not match (stale,
//! truncated, from another wasmtime or configuration) is compiled again and overwritten, never
//! trusted.

use std::fs;
use std::hash::Hasher;
use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::digest::Digest;

const MAGIC: &[u8] = b"crm-migrate compiled component v2\n";
/// An entry is MAGIC, the artifact's CRC-32 (little-endian), then the artifact.
const ARTIFACT_OFFSET: usize = MAGIC.len() + 4;

/// Where the compiled code of a load came from.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "lowercase", tag = "cache")]
pub enum CacheOutcome {
    /// Read from the cache.
    Hit,
    /// Compiled now (and stored, if a cache directory is set).
    Compiled,
    /// An entry existed but was rejected, for this reason; compiled again.
    Rebuilt { reason: String },
}

/// A directory of compiled components; `None` disables caching.
#[derive(Debug, Clone)]
pub struct ComponentCache {
    dir: Option<PathBuf>,
}

impl ComponentCache {
    pub fn new(dir: Option<PathBuf>) -> Self {
        ComponentCache { dir }
    }

    /// `$CRM_MIGRATE_CACHE_DIR`, else `$XDG_CACHE_HOME/crm-migrate`, else `~/.cache/crm-migrate`.
    pub fn default_dir() -> Option<PathBuf> {
        let env = |name| std::env::var_os(name).filter(|value| !value.is_empty()).map(PathBuf::from);
        env("CRM_MIGRATE_CACHE_DIR")
            .or_else(|| env("XDG_CACHE_HOME").map(|dir| dir.join("crm-migrate")))
            .or_else(|| env("HOME").map(|home| home.join(".cache").join("crm-migrate")))
    }

    /// The compiled component for `wasm`, from the cache when a valid entry exists.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        digest: &Digest,
        wasm: &[u8],
    ) -> wasmtime::Result<(Component, CacheOutcome)> {
        let Some(entry) = self.entry_path(engine, digest) else {
            return Ok((Component::new(engine, wasm)?, CacheOutcome::Compiled));
        };
        let outcome = match read_entry(&entry) {
            Ok(None) => CacheOutcome::Compiled,
            Ok(Some(entry_bytes)) => {
                let artifact = &entry_bytes[ARTIFACT_OFFSET..];
                // SAFETY: the artifact was written by `store` below into a directory only this
                // user can write, and its checksum matches; wasmtime itself refuses artifacts of
                // another version or engine configuration with an error.
                match unsafe { Component::deserialize(engine, artifact) } {
                    Ok(component) => return Ok((component, CacheOutcome::Hit)),
                    Err(error) => CacheOutcome::Rebuilt { reason: format!("{error:#}") },
                }
            }
            Err(reason) => CacheOutcome::Rebuilt { reason },
        };
        let component = Component::new(engine, wasm)?;
        // A cache that cannot be written only costs speed: the load goes on.
        let _ = store(&entry, &component.serialize()?);
        Ok((component, outcome))
    }

    fn entry_path(&self, engine: &Engine, digest: &Digest) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        let mut hasher = Sha256Hasher(Sha256::new());
        std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut hasher);
        let engine_hash = hex::encode(&hasher.0.finalize()[..8]);
        Some(dir.join(format!("{}-{engine_hash}.cwasm", digest.hex())))
    }
}

/// The whole entry, checked (the artifact starts at `ARTIFACT_OFFSET`). `Ok(None)`: no entry.
/// `Err`: an entry that cannot be trusted, and why.
fn read_entry(path: &Path) -> Result<Option<Vec<u8>>, String> {
    let bytes = match fs::read(path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(format!("unreadable: {error}")),
    };
    let rest = bytes.strip_prefix(MAGIC).ok_or("not a crm-migrate cache entry")?;
    let (checksum, artifact) = rest.split_first_chunk::<4>().ok_or("truncated")?;
    if crc32fast::hash(artifact).to_le_bytes() != *checksum {
        return Err("checksum mismatch (corrupt or modified)".into());
    }
    Ok(Some(bytes))
}

fn store(path: &Path, artifact: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().expect("cache entries live in a directory");
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    let temporary = path.with_extension(format!("tmp{}", std::process::id()));
    let mut file = fs::File::create(&temporary)?;
    file.write_all(MAGIC)?;
    file.write_all(&crc32fast::hash(artifact).to_le_bytes())?;
    file.write_all(artifact)?;
    file.sync_all()?;
    fs::rename(&temporary, path)
}

/// Feeds `Hash` output into sha256, for a hash that is stable across runs and builds.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    fn finish(&self) -> u64 {
        unreachable!("only the sha256 state is read")
    }
}
