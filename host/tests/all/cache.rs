//! Compiled code is cached by plugin digest and engine; a bad entry is rebuilt, never trusted.

use crm_migrate::plugins::{CacheOutcome, ComponentCache, Limits, PluginHost};

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
    let entry = std::fs::read_dir(dir.path()).unwrap().next().unwrap().unwrap().path();

    let mut bytes = std::fs::read(&entry).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&entry, &bytes).unwrap();
    let reloaded = cached_host(dir.path()).open(&path, None).unwrap();
    assert!(matches!(&reloaded.cache, CacheOutcome::Rebuilt { reason } if reason.contains("checksum")), "{:?}", reloaded.cache);

    std::fs::write(&entry, b"some other tool's file").unwrap();
    let reloaded = cached_host(dir.path()).open(&path, None).unwrap();
    assert!(matches!(reloaded.cache, CacheOutcome::Rebuilt { .. }));
    assert_eq!(cached_host(dir.path()).open(&path, None).unwrap().cache, CacheOutcome::Hit, "the rebuilt entry is good");
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
    assert_eq!(other_engine.open(&path, None).unwrap().cache, CacheOutcome::Compiled, "a fuel engine's code is not reused");
}
