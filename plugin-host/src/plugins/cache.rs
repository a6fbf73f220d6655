//! Compiled components cached on disk by plugin digest and engine, so the second load of a
//! plugin skips compilation, and what a cache entry may contain is only ever code this host
//! compiled itself for that plugin.
//!
//! Loading compiled code is `unsafe` in wasmtime: a forged artifact runs arbitrary native code,
//! and an entry's file name (the plugin's public sha256) says nothing about what is inside. So:
//!
//! - The directory is checked on every load: it must be a real directory (not a symlink), owned
//!   by this user and not writable by group or others. A directory that fails is not used at
//!   all: the plugin is compiled in memory, with one warning on stderr
//!   ([`CacheOutcome::Untrusted`]).
//! - The directory holds `key`: 32 random bytes from the OS, mode 0600, created on first use.
//!   Each entry carries HMAC-SHA256(key, plugin digest || engine hash || artifact), checked
//!   before wasmtime sees a byte of it. An entry copied from another plugin's, written for
//!   another engine configuration, made on another machine or under a replaced key, or modified
//!   in any way, fails the check and is compiled again ([`CacheOutcome::Rebuilt`], with why).
//! - Nothing is followed through a symlink: not the directory, the key or an entry (opened with
//!   `O_NOFOLLOW`); entries are written to a new file and renamed into place.
//!
//! The key only proves that this user's crm-migrate wrote the entry; whoever can write files
//! as this user can run code as this user anyway.

use std::fs::{self, File, OpenOptions};
use std::hash::Hasher;
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};

use hmac::{Hmac, Mac};
use sha2::{Digest as _, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::digest::Digest;

const MAGIC: &[u8] = b"crm-migrate compiled component v3\n";
/// An entry is MAGIC, the HMAC-SHA256 tag, then the artifact.
const TAG_LEN: usize = 32;
const KEY_LEN: usize = 32;
const KEY_FILE: &str = "key";

type HmacSha256 = Hmac<Sha256>;

/// Where the compiled code of a load came from.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "lowercase", tag = "cache")]
pub enum CacheOutcome {
    /// Read from the cache, its keyed checksum verified.
    Hit,
    /// Compiled now (and stored, if a cache directory is set).
    Compiled,
    /// An entry existed but was rejected, for this reason; compiled again and replaced.
    Rebuilt { reason: String },
    /// The cache directory (or its key) cannot be trusted, for this reason: compiled without
    /// reading or writing the cache.
    Untrusted { reason: String },
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

    /// The compiled component of the plugin with `digest`, from the cache when a verified entry
    /// exists, else from `compile` (the caller bounds it: see the `compile` module).
    #[allow(unsafe_code)] // deserializes compiled code this host wrote and signed (SAFETY below)
    pub(super) fn load_or_compile<E>(
        &self,
        engine: &Engine,
        digest: &Digest,
        compile: impl FnOnce() -> Result<Component, E>,
    ) -> Result<(Component, CacheOutcome), E> {
        let Some(dir) = &self.dir else {
            return Ok((compile()?, CacheOutcome::Compiled));
        };
        let trusted = match TrustedDir::open(dir) {
            Ok(trusted) => trusted,
            Err(reason) => {
                warn_once(&reason);
                return Ok((compile()?, CacheOutcome::Untrusted { reason }));
            }
        };
        let binding = Binding { digest: digest.hex(), engine: engine_hash(engine) };
        let entry = dir.join(format!("{}-{}.cwasm", binding.digest, hex::encode(&binding.engine[..8])));
        let outcome = match trusted.read_entry(&entry, &binding) {
            Ok(None) => CacheOutcome::Compiled,
            Ok(Some(entry_bytes)) => {
                let artifact = &entry_bytes[MAGIC.len() + TAG_LEN..];
                // SAFETY: the artifact's HMAC, under a key only this user can read, binds it to
                // this plugin's digest and this engine's configuration: it is code this host
                // compiled from these very wasm bytes (`store` below). wasmtime still refuses
                // artifacts of another version or configuration with an error.
                match unsafe { Component::deserialize(engine, artifact) } {
                    Ok(component) => return Ok((component, CacheOutcome::Hit)),
                    Err(error) => CacheOutcome::Rebuilt { reason: format!("{error:#}") },
                }
            }
            Err(reason) => CacheOutcome::Rebuilt { reason },
        };
        let component = compile()?;
        // A cache that cannot be written only costs speed: the load goes on.
        if let Ok(artifact) = component.serialize() {
            let _ = trusted.store(&entry, &binding, &artifact);
        }
        Ok((component, outcome))
    }
}

/// What an entry is bound to besides its artifact.
struct Binding {
    /// The plugin's sha256, hex (fixed length, so the HMAC input is unambiguous).
    digest: String,
    /// sha256 of the engine's compilation settings.
    engine: [u8; 32],
}

fn engine_hash(engine: &Engine) -> [u8; 32] {
    let mut hasher = Sha256Hasher(Sha256::new());
    std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut hasher);
    hasher.0.finalize().into()
}

/// A cache directory that passed its checks, with its key.
struct TrustedDir {
    key: [u8; KEY_LEN],
}

impl TrustedDir {
    /// Checks the directory (creating it, mode 0700, if missing) and reads its key (creating
    /// it if missing). `Err`: why the directory cannot be used.
    fn open(dir: &Path) -> Result<TrustedDir, String> {
        let metadata = match fs::symlink_metadata(dir) {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == ErrorKind::NotFound => {
                create_dir(dir).map_err(|error| format!("cannot create {}: {error}", dir.display()))?;
                fs::symlink_metadata(dir).map_err(|error| format!("cannot read {}: {error}", dir.display()))?
            }
            Err(error) => return Err(format!("cannot read {}: {error}", dir.display())),
        };
        if metadata.file_type().is_symlink() {
            return Err(format!("{} is a symlink (not followed)", dir.display()));
        }
        if !metadata.is_dir() {
            return Err(format!("{} is not a directory", dir.display()));
        }
        check_owner_and_mode(dir, &metadata, 0o022, "writable by group or others; chmod 700 it")?;
        let key_path = dir.join(KEY_FILE);
        let key = match read_key(&key_path) {
            Err(KeyError::Missing) => create_key(dir, &key_path).and_then(|()| read_key(&key_path)),
            read => read,
        };
        let key = key.map_err(|error| match error {
            KeyError::Missing => format!("{} vanished while being created", key_path.display()),
            KeyError::Bad(reason) => format!("{reason}; remove it to start a new cache"),
        })?;
        Ok(TrustedDir { key })
    }

    fn mac(&self, binding: &Binding) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes a key of any length");
        mac.update(binding.digest.as_bytes());
        mac.update(&binding.engine);
        mac
    }

    /// The whole entry, verified (the artifact follows MAGIC and the tag). `Ok(None)`: no
    /// entry. `Err`: an entry that cannot be trusted, and why.
    fn read_entry(&self, path: &Path, binding: &Binding) -> Result<Option<Vec<u8>>, String> {
        let mut file = match open_no_follow(path) {
            Ok(file) => file,
            Err(error) if error.kind() == ErrorKind::NotFound => return Ok(None),
            Err(error) if is_symlink_error(&error) => return Err("the entry is a symlink (not followed)".into()),
            Err(error) => return Err(format!("unreadable: {error}")),
        };
        let metadata = file.metadata().map_err(|error| format!("unreadable: {error}"))?;
        if !metadata.is_file() {
            return Err("the entry is not a regular file".into());
        }
        check_owner_and_mode(path, &metadata, 0o022, "writable by group or others")?;
        let mut bytes = Vec::with_capacity(metadata.len() as usize);
        file.read_to_end(&mut bytes).map_err(|error| format!("unreadable: {error}"))?;
        let rest = bytes.strip_prefix(MAGIC).ok_or("not a crm-migrate cache entry (or an older format)")?;
        let (tag, artifact) = rest.split_first_chunk::<TAG_LEN>().ok_or("truncated")?;
        let mut mac = self.mac(binding);
        mac.update(artifact);
        mac.verify_slice(tag).map_err(|_| {
            "keyed checksum (HMAC-SHA256) mismatch: the entry was modified, or written for another plugin, engine or key".to_owned()
        })?;
        Ok(Some(bytes))
    }

    fn store(&self, path: &Path, binding: &Binding, artifact: &[u8]) -> std::io::Result<()> {
        let mut mac = self.mac(binding);
        mac.update(artifact);
        let tag = mac.finalize().into_bytes();
        let temporary = path.with_extension(format!("tmp{}", std::process::id()));
        // Left over by a process of the same id that died mid-write.
        let _ = fs::remove_file(&temporary);
        let write = || {
            let mut file = create_new_private(&temporary)?;
            file.write_all(MAGIC)?;
            file.write_all(&tag)?;
            file.write_all(artifact)?;
            file.sync_all()?;
            // rename replaces a symlink planted at `path` itself, never what it points to.
            fs::rename(&temporary, path)
        };
        let written = write();
        if written.is_err() {
            let _ = fs::remove_file(&temporary);
        }
        written
    }
}

enum KeyError {
    Missing,
    Bad(String),
}

fn read_key(path: &Path) -> Result<[u8; KEY_LEN], KeyError> {
    let bad = |reason: String| KeyError::Bad(reason);
    let mut file = match open_no_follow(path) {
        Ok(file) => file,
        Err(error) if error.kind() == ErrorKind::NotFound => return Err(KeyError::Missing),
        Err(error) if is_symlink_error(&error) => {
            return Err(bad(format!("{} is a symlink (not followed)", path.display())));
        }
        Err(error) => return Err(bad(format!("cannot read {}: {error}", path.display()))),
    };
    let metadata = file.metadata().map_err(|error| bad(format!("cannot read {}: {error}", path.display())))?;
    if !metadata.is_file() {
        return Err(bad(format!("{} is not a regular file", path.display())));
    }
    check_owner_and_mode(path, &metadata, 0o077, "readable or writable by others").map_err(bad)?;
    let mut key = [0u8; KEY_LEN];
    let mut rest = Vec::new();
    let read = file.read_exact(&mut key).and_then(|()| file.read_to_end(&mut rest));
    match read {
        Ok(0) => Ok(key),
        Ok(_) | Err(_) => Err(bad(format!("{} is not a {KEY_LEN}-byte key", path.display()))),
    }
}

/// Writes a new random key to a private temporary file, then links it into place: a reader
/// never sees half a key, and of two processes creating it at once, one key wins for both.
fn create_key(dir: &Path, path: &Path) -> Result<(), KeyError> {
    let failed = |error: std::io::Error| KeyError::Bad(format!("cannot create {}: {error}", path.display()));
    let mut key = [0u8; KEY_LEN];
    getrandom::getrandom(&mut key).map_err(|error| failed(std::io::Error::other(error.to_string())))?;
    let temporary = dir.join(format!("{KEY_FILE}.tmp{}", std::process::id()));
    let _ = fs::remove_file(&temporary);
    let written = create_new_private(&temporary).and_then(|mut file| {
        file.write_all(&key)?;
        file.sync_all()
    });
    let linked = written.and_then(|()| match fs::hard_link(&temporary, path) {
        Err(error) if error.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(_) => fs::rename(&temporary, path),
        Ok(()) => Ok(()),
    });
    let _ = fs::remove_file(&temporary);
    linked.map_err(failed)
}

fn create_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

fn open_no_follow(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NOFOLLOW);
    options.open(path)
}

/// A new file only this user can read and write; fails if anything (a symlink too) is there.
fn create_new_private(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    options.open(path)
}

/// `open` with `O_NOFOLLOW` on a symlink fails with ELOOP.
#[cfg(unix)]
fn is_symlink_error(error: &std::io::Error) -> bool {
    error.raw_os_error() == Some(libc::ELOOP)
}

#[cfg(not(unix))]
fn is_symlink_error(_: &std::io::Error) -> bool {
    false
}

/// Owned by this user, and none of the `forbidden` mode bits set.
#[allow(unsafe_code)] // geteuid
#[cfg(unix)]
fn check_owner_and_mode(path: &Path, metadata: &fs::Metadata, forbidden: u32, what: &str) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if metadata.uid() != me {
        return Err(format!("{} is owned by uid {}, not by this user (uid {me})", path.display(), metadata.uid()));
    }
    let mode = metadata.mode() & 0o7777;
    if mode & forbidden != 0 {
        return Err(format!("{} is {what} (mode {mode:04o})", path.display()));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_owner_and_mode(_: &Path, _: &fs::Metadata, _: u32, _: &str) -> Result<(), String> {
    Ok(())
}

/// An untrusted cache slows every load down; saying so once per process is enough.
fn warn_once(reason: &str) {
    static WARNED: std::sync::Once = std::sync::Once::new();
    WARNED.call_once(|| eprintln!("warning: compiled-plugin cache not used: {reason}"));
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
