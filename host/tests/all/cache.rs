//! Compiled code is cached by plugin digest and engine; a bad entry is rebuilt, never trusted.
//! An entry planted from another plugin, a directory others can write or reach through a symlink,
//! a symlinked entry and a replaced key are each an attack: none gets its code run.

use std::path::{Path, PathBuf};
use std::process::Output;

use crm_migrate::plugins::{CacheOutcome, ComponentCache, Digest, Limits, PluginHost};

use crate::support::plugin;

fn cached_host(dir: &std::path::Path) -> PluginHost {
    PluginHost::new(Limits::default(), ComponentCache::new(Some(dir.to_owned()))).unwrap()
}

#[test]
fn second_load_comes_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let path = plugin("clean_basic");
    assert_eq!(cached_host(dir.path()).open(&path, None).unwrap().cache, CacheOutcome::Compiled);
    assert_eq!(cached_host(dir.path()).open(&path, None).unwrap().cache, CacheOutcome::Hit);
}

#[test]
fn a_corrupt_or_foreign_cache_entry_is_rebuilt_not_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let path = plugin("clean_basic");
    cached_host(dir.path()).open(&path, None).unwrap();
    let entry = entry_of(dir.path(), &path);

    let mut bytes = std::fs::read(&entry).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&entry, &bytes).unwrap();
    let reloaded = cached_host(dir.path()).open(&path, None).unwrap();
    assert!(
        matches!(&reloaded.cache, CacheOutcome::Rebuilt { reason } if reason.contains("checksum")),
        "{:?}",
        reloaded.cache
    );

    std::fs::write(&entry, b"some other tool's file").unwrap();
    let reloaded = cached_host(dir.path()).open(&path, None).unwrap();
    assert!(matches!(reloaded.cache, CacheOutcome::Rebuilt { .. }));
    assert_eq!(
        cached_host(dir.path()).open(&path, None).unwrap().cache,
        CacheOutcome::Hit,
        "the rebuilt entry is good"
    );
}

#[test]
fn entries_are_keyed_by_engine_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let path = plugin("clean_basic");
    cached_host(dir.path()).open(&path, None).unwrap();
    let wall_clock = Limits {
        cpu: crm_migrate::plugins::CpuBudget::WallClock {
            per_call: std::time::Duration::from_secs(1),
            per_record: std::time::Duration::from_millis(1),
        },
        ..Limits::default()
    };
    let other_engine = PluginHost::new(wall_clock, ComponentCache::new(Some(dir.path().to_owned()))).unwrap();
    assert_eq!(
        other_engine.open(&path, None).unwrap().cache,
        CacheOutcome::Compiled,
        "a fuel engine's code is not reused"
    );
}

/// `crm-migrate ARGS` as a user runs it, with its compiled-plugin cache in `cache`.
fn crm_migrate_with_cache(cache: &Path, args: &[&str]) -> Output {
    crate::support::crm_migrate().args(args).env("CRM_MIGRATE_CACHE_DIR", cache).output().expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The cache entry of the plugin at `path` (its file name starts with the plugin's digest).
fn entry_of(cache: &Path, path: &Path) -> PathBuf {
    let digest = Digest::of(&std::fs::read(path).unwrap()).hex();
    std::fs::read_dir(cache)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|entry| entry.file_name().unwrap().to_str().unwrap().starts_with(&digest))
        .unwrap_or_else(|| panic!("no cache entry for {} in {}", path.display(), cache.display()))
}

#[test]
fn a_planted_entry_of_another_plugin_is_never_executed() {
    let cache = tempfile::tempdir().unwrap();
    let clean = plugin("clean_basic");
    let hostile = plugin("hostile_panic");
    let (clean_arg, hostile_arg) = (clean.to_str().unwrap(), hostile.to_str().unwrap());
    for path in [clean_arg, hostile_arg] {
        let output = crm_migrate_with_cache(cache.path(), &["plugin", "vet", path]);
        assert!(output.status.success(), "{}", text(&output.stderr));
    }
    let plant = || std::fs::copy(entry_of(cache.path(), &hostile), entry_of(cache.path(), &clean)).unwrap();

    // The attack: the hostile plugin's compiled code filed under the clean plugin's digest.
    plant();
    let output = crm_migrate_with_cache(cache.path(), &["plugin", "vet", clean_arg]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(stdout.starts_with("clean-basic ") && !stdout.contains("hostile-panic"), "{stdout}");
    assert!(stdout.contains("compiled again (cache entry rejected: keyed checksum"), "{stdout}");

    plant();
    let input = cache.path().join("records.csv");
    std::fs::write(&input, "id,email,attack\nu-1,ada@example.com,yes\n").unwrap();
    let output = crm_migrate_with_cache(
        cache.path(),
        &["plugin", "run", clean_arg, "--hook", "clean", "--input", input.to_str().unwrap()],
    );
    assert_eq!(
        output.status.code(),
        Some(0),
        "the clean plugin's code ran, not the panicking one: {}",
        text(&output.stderr)
    );
    assert!(text(&output.stdout).contains("kept 1"), "{}", text(&output.stdout));

    let output = crm_migrate_with_cache(cache.path(), &["plugin", "vet", clean_arg]);
    assert!(
        text(&output.stdout).contains("loaded    from cache"),
        "the rebuilt entry is trusted again: {}",
        text(&output.stdout)
    );
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn untrusted_because(outcome: &CacheOutcome, words: &str) -> bool {
    matches!(outcome, CacheOutcome::Untrusted { reason } if reason.contains(words))
}

#[test]
fn a_cache_directory_writable_by_group_or_others_is_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let path = plugin("clean_basic");
    cached_host(dir.path()).open(&path, None).unwrap();
    let entries_before = std::fs::read_dir(dir.path()).unwrap().count();
    for mode in [0o770, 0o707, 0o777] {
        set_mode(dir.path(), mode);
        let outcome = cached_host(dir.path()).open(&path, None).unwrap().cache;
        assert!(untrusted_because(&outcome, "writable by group or others"), "mode {mode:o}: {outcome:?}");
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), entries_before, "nothing written there either");

    // Through the binary: the plugin loads, compiled, with a warning.
    let output = crm_migrate_with_cache(dir.path(), &["plugin", "vet", path.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("warning: compiled-plugin cache not used:"), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("loaded    compiled, cache not used"), "{}", text(&output.stdout));

    set_mode(dir.path(), 0o755);
    assert_eq!(
        cached_host(dir.path()).open(&path, None).unwrap().cache,
        CacheOutcome::Hit,
        "writable by its owner only: used again"
    );
}

#[test]
fn a_symlinked_cache_directory_is_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real");
    let path = plugin("clean_basic");
    cached_host(&real).open(&path, None).unwrap();
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let outcome = cached_host(&link).open(&path, None).unwrap().cache;
    assert!(untrusted_because(&outcome, "is a symlink"), "{outcome:?}");
}

#[test]
fn a_symlinked_entry_is_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let path = plugin("clean_basic");
    cached_host(&cache).open(&path, None).unwrap();
    // A valid entry moved elsewhere and linked back: the link itself is the problem.
    let entry = entry_of(&cache, &path);
    let elsewhere = dir.path().join("elsewhere.cwasm");
    std::fs::rename(&entry, &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &entry).unwrap();
    let outcome = cached_host(&cache).open(&path, None).unwrap().cache;
    assert!(matches!(&outcome, CacheOutcome::Rebuilt { reason } if reason.contains("symlink")), "{outcome:?}");
    assert!(
        !std::fs::symlink_metadata(&entry).unwrap().file_type().is_symlink(),
        "the link was replaced by a real entry"
    );
    assert_eq!(cached_host(&cache).open(&path, None).unwrap().cache, CacheOutcome::Hit);
}

#[test]
fn a_replaced_or_missing_key_makes_every_entry_compile_again() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = [plugin("clean_basic"), plugin("dedup_email")];
    for path in &plugins {
        cached_host(dir.path()).open(path, None).unwrap();
    }
    let key = dir.path().join("key");
    assert_eq!(std::fs::read(&key).unwrap().len(), 32);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);

    std::fs::write(&key, [7u8; 32]).unwrap();
    for path in &plugins {
        let outcome = cached_host(dir.path()).open(path, None).unwrap().cache;
        assert!(matches!(&outcome, CacheOutcome::Rebuilt { reason } if reason.contains("HMAC")), "{outcome:?}");
        assert_eq!(
            cached_host(dir.path()).open(path, None).unwrap().cache,
            CacheOutcome::Hit,
            "rebuilt under the new key"
        );
    }

    std::fs::remove_file(&key).unwrap();
    for path in &plugins {
        assert!(
            matches!(cached_host(dir.path()).open(path, None).unwrap().cache, CacheOutcome::Rebuilt { .. }),
            "a new key, so no old entry verifies"
        );
    }
    assert_ne!(std::fs::read(&key).unwrap(), [7u8; 32]);
}

#[test]
fn a_key_others_can_read_or_a_symlinked_key_makes_the_cache_untrusted() {
    let dir = tempfile::tempdir().unwrap();
    let path = plugin("clean_basic");
    cached_host(dir.path()).open(&path, None).unwrap();
    let key = dir.path().join("key");
    set_mode(&key, 0o644);
    let outcome = cached_host(dir.path()).open(&path, None).unwrap().cache;
    assert!(untrusted_because(&outcome, "readable or writable by others"), "{outcome:?}");

    let elsewhere = dir.path().join("elsewhere");
    std::fs::rename(&key, &elsewhere).unwrap();
    set_mode(&elsewhere, 0o600);
    std::os::unix::fs::symlink(&elsewhere, &key).unwrap();
    let outcome = cached_host(dir.path()).open(&path, None).unwrap().cache;
    assert!(untrusted_because(&outcome, "is a symlink"), "{outcome:?}");
}
