//! The plugin SDK as a customer gets it: packaged with `cargo package`, unpacked outside this
//! repository, a `plugin new` scaffold built against it offline, and the result vetted.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").canonicalize().unwrap()
}

/// Shared with `cli::plugin_new_scaffolds_a_crate_that_passes_its_tests_and_vets`, so that
/// wit-bindgen and its macros are compiled once for every scaffold test.
fn scaffold_target() -> PathBuf {
    repository().join("target/scaffold")
}

fn run(command: &mut Command) -> Output {
    let output = command.output().expect("the command runs");
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn crm_migrate(args: &[&std::ffi::OsStr]) -> Output {
    let cache = tempfile::tempdir().unwrap();
    run(crate::support::crm_migrate().args(args).env("CRM_MIGRATE_CACHE_DIR", cache.path()))
}

/// `cargo package`s the SDK and unpacks the `.crate` into `into`; returns the crate's directory.
/// Nothing is compiled (`--no-verify`: the scaffold's build is the verification), so the
/// `.crate` is written into `into` too, where no other test writes one.
fn packaged_sdk(into: &Path) -> PathBuf {
    let package_dir = into.join("target");
    run(Command::new(env!("CARGO"))
        .current_dir(repository())
        .args(["package", "--quiet", "--offline", "--allow-dirty", "--no-verify", "-p", "crm-migrate-plugin-sdk"])
        .env("CARGO_TARGET_DIR", &package_dir));
    let name = format!("crm-migrate-plugin-sdk-{}", env!("CARGO_PKG_VERSION"));
    let crate_file = package_dir.join("package").join(format!("{name}.crate"));
    run(Command::new("tar").arg("xzf").arg(&crate_file).arg("-C").arg(into));
    into.join(name)
}

#[test]
fn the_packaged_sdk_carries_the_contract_the_host_reads() {
    let unpacked = tempfile::tempdir().unwrap();
    let sdk = packaged_sdk(unpacked.path());
    for version in ["v0.2", "v0.1"] {
        let contract = format!("wit/{version}/plugin.wit");
        let shipped = std::fs::read(sdk.join(&contract)).expect("the .crate holds the contracts");
        let read_by_host = std::fs::read(repository().join("plugin-sdk").join(&contract)).unwrap();
        assert_eq!(shipped, read_by_host, "{contract}");
    }
    assert!(!repository().join("wit").exists(), "one copy of the contract, inside the SDK crate");
}

#[test]
fn a_scaffold_builds_offline_outside_the_repository_against_the_packaged_sdk() {
    let _machine = crate::support::heavy();
    let unpacked = tempfile::tempdir().unwrap();
    let sdk = packaged_sdk(unpacked.path());
    let work = tempfile::tempdir().unwrap();
    assert!(!work.path().starts_with(repository()), "the scaffold lives outside this repository");
    let crate_dir = work.path().join("demo");
    crm_migrate(&[
        "plugin".as_ref(),
        "new".as_ref(),
        "demo".as_ref(),
        "--dir".as_ref(),
        crate_dir.as_ref(),
        "--sdk".as_ref(),
        sdk.as_ref(),
    ]);
    let manifest = std::fs::read_to_string(crate_dir.join("Cargo.toml")).unwrap();
    assert!(manifest.contains(&format!("path = \"{}\"", sdk.canonicalize().unwrap().display())), "{manifest}");

    let target = scaffold_target();
    run(Command::new(env!("CARGO"))
        .current_dir(&crate_dir)
        .args(["build", "--quiet", "--offline", "--release", "--target", "wasm32-wasip2"])
        .env("CARGO_TARGET_DIR", &target));
    let wasm = target.join("wasm32-wasip2/release/demo.wasm");
    let vetted = crm_migrate(&["plugin".as_ref(), "vet".as_ref(), wasm.as_ref()]);
    let report = String::from_utf8_lossy(&vetted.stdout);
    assert!(report.contains("demo 0.1.0") && report.contains("clean"), "{report}");
}

#[test]
fn a_scaffold_depends_on_the_published_sdk_by_default() {
    let work = tempfile::tempdir().unwrap();
    let crate_dir = work.path().join("acme");
    crm_migrate(&["plugin".as_ref(), "new".as_ref(), "acme".as_ref(), "--dir".as_ref(), crate_dir.as_ref()]);
    let manifest = std::fs::read_to_string(crate_dir.join("Cargo.toml")).unwrap();
    let dependency = format!("crm-migrate-plugin-sdk = \"{}\"", env!("CARGO_PKG_VERSION"));
    assert!(manifest.contains(&dependency), "no path of the machine that built the host:\n{manifest}");
}

#[test]
fn a_scaffold_refuses_an_sdk_path_that_is_not_the_sdk() {
    let work = tempfile::tempdir().unwrap();
    let output = crate::support::crm_migrate()
        .args(["plugin", "new", "acme", "--sdk"])
        .arg(work.path())
        .arg("--dir")
        .arg(work.path().join("acme"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("is not the crm-migrate-plugin-sdk crate"));
    assert!(!work.path().join("acme").exists(), "nothing is written");
}

#[test]
fn a_hook_error_from_the_sdk_is_the_quarantine_reason_bounded_and_escaped() {
    use crm_migrate::pipeline::{self, BatchIds, Fate};
    use crm_migrate::plugins::{HookFailure, MAX_REASON_BYTES};

    let host = crate::support::host();
    let plugin = crate::support::load(&host, "sdk_error", &[]);
    let mut records = vec![crate::support::contact("attacker", &[("attack", "yes")])];
    records.extend(crate::support::contacts("victim", 3));
    records.extend(crate::support::contacts("later", 2));
    let output = pipeline::clean(&plugin, records, 4, &mut BatchIds::default());

    assert_eq!(output.failures.len(), 1, "{:?}", output.failures);
    match &output.failures[0].failure {
        HookFailure::PluginError { message } => {
            assert!(
                message.starts_with("record attacker: the phone field holds a fax number\n\u{1b}[2Jforged line xxx"),
                "{message}"
            );
            assert!(message.ends_with("(5051 bytes in all)"), "the SDK cut it and said so: {message}");
        }
        other => panic!("{other:?}"),
    }
    let reason = output.failures[0].to_string();
    assert!(reason.contains("sdk-error") && reason.contains("hook clean") && reason.contains("batch 1"), "{reason}");
    assert!(reason.contains("fax number\\n\\u{1b}[2Jforged line"), "escaped, on one line: {reason}");
    assert!(!reason.contains('\n') && !reason.contains('\u{1b}'));
    assert!(reason.len() <= 2 * MAX_REASON_BYTES, "{} bytes", reason.len());
    let quarantined: Vec<&str> = output
        .fates
        .iter()
        .filter(|entry| matches!(&entry.fate, Fate::Quarantined { reason: quarantine } if **quarantine == *reason))
        .map(|entry| entry.source_id.as_str())
        .collect();
    assert_eq!(quarantined.len(), 4, "the failing record's whole batch, with the plugin's words as the reason");
    let survivors: Vec<&str> = output.records.iter().map(|record| record.source_id.as_str()).collect();
    assert_eq!(survivors, ["later-0", "later-1"], "the next batch runs");
}

#[test]
fn the_vetted_plugins_declare_exactly_the_hooks_they_implement() {
    use crm_migrate::plugins::Hook;

    let host = crate::support::host();
    for (file_stem, hooks) in [
        ("clean_basic", vec![Hook::Clean]),
        ("dedup_email", vec![Hook::Dedup]),
        ("dedup_email_oldest", vec![Hook::Dedup]),
        ("segment_labels", vec![Hook::Label]),
    ] {
        let plugin = crate::support::load(&host, file_stem, &[]);
        assert_eq!(plugin.info().hooks, hooks, "{file_stem}");
    }
}
