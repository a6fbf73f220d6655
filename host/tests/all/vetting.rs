//! A plugin runs only if it is what was vetted: the pinned digest, a supported contract, and
//! no import beyond what plugins are granted.

use crm_migrate::plugins::{Digest, Hook, LoadError};

use crate::support::{host, plugin};

#[test]
fn vetting_reports_name_version_hooks_options_imports_and_digest() {
    let path = plugin("clean_basic");
    let component = host().open(&path, None).expect("clean-basic loads");
    assert_eq!(component.info.name, "clean-basic");
    assert_eq!(component.info.version, "0.1.0");
    assert_eq!(component.info.hooks, [Hook::Clean]);
    assert!(
        component
            .info
            .options
            .iter()
            .any(|option| option.key == "default_country" && option.default.as_deref() == Some("PL"))
    );
    assert_eq!(component.contract_version(), "0.2.0");
    assert_eq!(component.digest, Digest::of(&std::fs::read(&path).unwrap()));
    assert!(component.imports.iter().all(|import| import.starts_with("wasi:cli/")
        || import.starts_with("wasi:io/")
        || import.starts_with("crm-migrate:plugin/")));
}

#[test]
fn a_file_whose_digest_differs_from_the_pinned_one_is_refused() {
    let path = plugin("clean_basic");
    let pinned: Digest = "sha256:0000000000000000000000000000000000000000000000000000000000000000".parse().unwrap();
    let error = host().open(&path, Some(&pinned)).err().expect("refused");
    assert!(matches!(error, LoadError::DigestMismatch { .. }), "{error}");
    assert!(error.to_string().contains("vet it again"), "{error}");

    let actual = Digest::of(&std::fs::read(&path).unwrap());
    assert!(host().open(&path, Some(&actual)).is_ok(), "the vetted digest loads");
}

#[test]
fn a_plugin_that_asks_for_the_file_system_is_refused_naming_each_import() {
    let error = host().open(&plugin("hostile_filesystem"), None).err().expect("refused");
    match &error {
        LoadError::ForbiddenImports { imports, .. } => {
            assert!(imports.iter().any(|import| import.starts_with("wasi:filesystem/")), "{imports:?}");
        }
        other => panic!("expected forbidden imports, got {other}"),
    }
}

#[test]
fn a_plugin_that_imports_a_function_the_host_does_not_grant_is_refused() {
    let error = host().open(&plugin("hostile_import"), None).err().expect("refused");
    assert!(
        matches!(&error, LoadError::ForbiddenImports { imports, .. } if imports.iter().any(|i| i.starts_with("evil:escape/shell"))),
        "{error}"
    );
}

#[test]
fn a_plugin_built_against_an_unknown_contract_is_refused_naming_the_supported_ones() {
    let error = host().open(&plugin("future_version"), None).err().expect("refused");
    assert!(matches!(&error, LoadError::UnsupportedContract { found, .. } if found == "0.9.0"), "{error}");
    assert!(error.to_string().contains("supports 0.2.0, 0.1.0"), "{error}");
}

/// Contract 0.2.0 changed how batches and `clean`'s answers travel; a plugin built against
/// 0.1.0 (here one written on the raw 0.1.0 bindings, which drops even records and rejects odd
/// ones) still loads and runs, through the host's 0.1.0 translator.
#[test]
fn a_plugin_built_against_contract_0_1_still_loads_and_runs() {
    use crm_migrate::plugins::CleanOutcome;
    use crm_migrate::record::{ObjectKind, Record, Value};

    let component = host().open(&plugin("hostile_text"), None).expect("a 0.1.0 plugin loads");
    assert_eq!(component.contract_version(), "0.1.0");
    let loaded = component.configure(Vec::new()).expect("configured");
    let record = |id: &str| Record {
        kind: ObjectKind::Contact,
        source_id: id.into(),
        fields: vec![("email".into(), Value::Text("ada@example.com".into()))],
    };
    let (first, second) = (record("u-1"), record("u-2"));
    let outcomes = loaded.clean(1, &[&first, &second]).expect("the 0.1.0 clean runs").output;
    assert!(
        matches!(&outcomes[..], [CleanOutcome::Drop(reason), CleanOutcome::Reject(issues)]
        if reason.starts_with("drop") && issues[0].field == "email"),
        "{outcomes:?}"
    );
}

#[test]
fn a_file_that_is_not_a_component_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.wasm");
    std::fs::write(&path, b"this is not WebAssembly").unwrap();
    let error = host().open(&path, None).err().expect("refused");
    assert!(matches!(error, LoadError::NotAComponent { .. }), "{error}");
}

#[test]
fn a_bad_configuration_value_is_refused_naming_the_key() {
    let component = host().open(&plugin("clean_basic"), None).unwrap();
    let error = component.configure(vec![("default_country".into(), "Atlantis".into())]).err().expect("refused");
    assert!(matches!(&error, LoadError::Config { key, .. } if key == "default_country"), "{error}");

    let component = host().open(&plugin("clean_basic"), None).unwrap();
    let error = component.configure(vec![("no_such_option".into(), "1".into())]).err().expect("refused");
    assert!(error.to_string().contains("no_such_option") && error.to_string().contains("default_country"), "{error}");
}

#[test]
fn a_plugin_describing_itself_in_toml_cannot_add_or_hide_an_entry_of_migration_toml() {
    let hostile = plugin("hostile_toml_injection");
    let dir = tempfile::tempdir().unwrap();
    let project_dir = dir.path().join("acme");
    let export = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/usercom-export");
    let output = crate::support::crm_migrate()
        .args(["init", project_dir.to_str().unwrap(), "--export", export.to_str().unwrap(), "--plugin"])
        .arg(format!("clean={}", hostile.display()))
        .env("CRM_MIGRATE_CACHE_DIR", dir.path().join("cache"))
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.code() == Some(1)
        && stderr.contains("hostile_toml_injection")
        && stderr.contains("name")
        && !stderr.contains("compil")
    {
        // A host that holds describe's name to a grammar refuses the plugin outright: as safe,
        // provided nothing was written. (The writer itself is tested in `project.rs`.)
        assert!(!project_dir.join("migration.toml").exists(), "nothing written on a refused init");
        return;
    }
    assert!(output.status.success(), "{stderr}");
    let text = std::fs::read_to_string(project_dir.join("migration.toml")).unwrap();

    let project = crm_migrate::project::Project::open(&project_dir).unwrap_or_else(|error| panic!("{error}\n{text}"));
    let [entry] = project.config.plugins.as_slice() else {
        panic!("exactly the one plugin given, got {:?}\n{text}", project.config.plugins);
    };
    assert_eq!(entry.path, hostile.canonicalize().unwrap(), "{text}");
    assert_eq!(*entry.digest.get_ref(), Digest::of(&std::fs::read(&hostile).unwrap()).to_string(), "{text}");
    assert!(entry.config.is_empty(), "the plugin's text set no configuration: {:?}\n{text}", entry.config);
    assert!(
        text.contains(r#"# tidy\n[[plugins]]\nhook = "clean""#),
        "the name is shown, escaped, in its comment:\n{text}"
    );

    // What plan and apply load: this file, and nothing else (under no trust store, as the
    // tests' binary runs: the machine's would refuse a plugin it does not list).
    let loaded = project.load_plugins_with(None).unwrap_or_else(|error| panic!("{error}\n{text}"));
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].1.component().path, project.plugin_path(entry));
}
