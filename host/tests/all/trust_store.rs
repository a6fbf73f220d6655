//! The trust store of a shared machine: with one configured (here by `CRM_MIGRATE_TRUST_STORE`),
//! only the plugins it lists load, whatever a project pins; its maxima cap the limits a project
//! or a flag asks for; a malformed store is an error with its line, never "no store";
//! `CRM_MIGRATE_TRUST_STORE=none` puts none in force, which is how every other test runs.

use std::path::{Path, PathBuf};
use std::process::Output;

use crm_migrate::plugins::{Digest, Hook, HookFailure, TrustStore};
use crm_migrate::project::Project;
use crm_migrate::record::Record;

use crate::pipedrive_support::TOKEN;
use crate::support::{contact, plugin};

/// `crm-migrate ARGS` as an operator runs it, with the trust store at `store`.
fn with_store(store: &Path, args: &[&str]) -> Output {
    with_environment(&[("CRM_MIGRATE_TRUST_STORE", Some(store.as_os_str()))], args)
}

/// `crm-migrate ARGS` with these variables set (or, `None`, unset) over the tests' environment.
fn with_environment(variables: &[(&str, Option<&std::ffi::OsStr>)], args: &[&str]) -> Output {
    let cache = tempfile::tempdir().unwrap();
    let mut command = crate::support::crm_migrate();
    command.args(args).env("CRM_MIGRATE_CACHE_DIR", cache.path()).env("PIPEDRIVE_API_TOKEN", TOKEN);
    for (name, value) in variables {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    command.output().expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn digest_of(path: &Path) -> String {
    Digest::of(&std::fs::read(path).unwrap()).to_string()
}

fn trust(store: &Path, stem: &str) {
    let output = with_store(store, &["plugin", "trust", plugin(stem).to_str().unwrap(), "--by", "Ola Nowak"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
}

fn listed(store: &Path) -> Vec<serde_json::Value> {
    let output = with_store(store, &["plugin", "list", "--json"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let list: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    list["plugins"].as_array().unwrap().clone()
}

fn records_csv(dir: &Path) -> PathBuf {
    let input = dir.join("records.csv");
    std::fs::write(&input, "id,email,attack\nu1,ola@example.com,\nu2,jan@example.com,yes\n").unwrap();
    input
}

#[test]
fn trust_untrust_and_list_round_trip_in_a_private_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("config/crm-migrate/trust.toml");
    assert!(listed(&store).is_empty(), "a store not written yet lists nothing");

    trust(&store, "clean_basic");
    trust(&store, "dedup_email");
    let plugins = listed(&store);
    assert_eq!(plugins.len(), 2, "{plugins:#?}");
    let clean = &plugins[0];
    assert_eq!(clean["digest"], digest_of(&plugin("clean_basic")));
    assert_eq!((clean["name"].as_str(), clean["vetted_by"].as_str()), (Some("clean-basic"), Some("Ola Nowak")));
    assert!(clean["vetted_at"].as_str().unwrap().ends_with('Z'), "{clean}");
    assert_eq!(clean["hooks"], serde_json::json!(["clean"]));
    assert!(
        clean["imports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|import| import.as_str().unwrap().starts_with("crm-migrate:plugin/")),
        "{clean}"
    );
    assert_eq!(clean["limits"]["memory_mib"], 256, "{clean}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&store), 0o600);
        // A store the operator made readable by all (as /etc's must be) stays readable, and one
        // that others may write is refused.
        std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o644)).unwrap();
        trust(&store, "dedup_email");
        assert_eq!(mode(&store), 0o644);
        std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o666)).unwrap();
        let output = with_store(&store, &["plugin", "list"]);
        assert_eq!(output.status.code(), Some(1));
        assert!(text(&output.stderr).contains("is writable by others (mode 666)"), "{}", text(&output.stderr));
        std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o600)).unwrap();
    }

    // Trusting the same file again replaces its entry; a name or version the file does not
    // describe is refused.
    trust(&store, "clean_basic");
    assert_eq!(listed(&store).len(), 2);
    let output =
        with_store(&store, &["plugin", "trust", plugin("clean_basic").to_str().unwrap(), "--name", "acme-rules"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("acme-rules"), "{}", text(&output.stderr));

    // A plugin that fails vetting is not added.
    let output = with_store(&store, &["plugin", "trust", plugin("hostile_import").to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("imports what plugins are not granted"), "{}", text(&output.stderr));
    assert_eq!(listed(&store).len(), 2);

    let digest = digest_of(&plugin("clean_basic"));
    let output = with_store(&store, &["plugin", "untrust", &digest]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let output = with_store(&store, &["plugin", "untrust", plugin("dedup_email").to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(listed(&store).is_empty());
    let output = with_store(&store, &["plugin", "untrust", &digest]);
    assert_eq!(output.status.code(), Some(1), "untrusting what is not listed says so");
    assert!(text(&output.stderr).contains(&digest), "{}", text(&output.stderr));
}

#[test]
fn with_a_store_plugin_run_refuses_an_untrusted_digest_and_runs_a_trusted_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("trust.toml");
    trust(&store, "dedup_email");
    let input = records_csv(dir.path());
    let clean = plugin("clean_basic");
    let args = ["plugin", "run", clean.to_str().unwrap(), "--hook", "clean", "--input", input.to_str().unwrap()];

    let output = with_store(&store, &args);
    assert_eq!(output.status.code(), Some(12), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    for named in [digest_of(&clean), clean.display().to_string(), store.display().to_string()] {
        assert!(stderr.contains(&named), "the refusal names {named}:\n{stderr}");
    }
    assert!(text(&output.stdout).is_empty(), "nothing of it ran");

    trust(&store, "clean_basic");
    let output = with_store(&store, &args);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("kept 2"), "{}", text(&output.stdout));
}

#[test]
fn none_puts_no_store_in_force_over_a_users_store_and_cannot_be_written_into() {
    let dir = tempfile::tempdir().unwrap();
    // The user's store, listing nothing: without `none` it is in force and refuses every plugin.
    let config = dir.path().join("config");
    let store = config.join("crm-migrate/trust.toml");
    std::fs::create_dir_all(store.parent().unwrap()).unwrap();
    std::fs::write(&store, "# vetted here: nothing yet\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(store.parent().unwrap(), std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let input = records_csv(dir.path());
    let clean = plugin("clean_basic");
    let run = ["plugin", "run", clean.to_str().unwrap(), "--hook", "clean", "--input", input.to_str().unwrap()];
    let users = Some(config.as_os_str());

    let output = with_environment(&[("XDG_CONFIG_HOME", users), ("CRM_MIGRATE_TRUST_STORE", None)], &run);
    assert_eq!(output.status.code(), Some(12), "the user's store is in force:\n{}", text(&output.stderr));
    assert!(text(&output.stderr).contains(&store.display().to_string()), "{}", text(&output.stderr));

    let none = Some(std::ffi::OsStr::new("none"));
    let output = with_environment(&[("XDG_CONFIG_HOME", users), ("CRM_MIGRATE_TRUST_STORE", none)], &run);
    assert!(output.status.success(), "with none, no store is in force:\n{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("kept 2"), "{}", text(&output.stdout));
    // The tests' own way of starting the binary is that: no store, whatever the machine has.
    let output = with_environment(&[("XDG_CONFIG_HOME", users)], &run);
    assert!(output.status.success(), "{}", text(&output.stderr));

    let output =
        with_environment(&[("XDG_CONFIG_HOME", users), ("CRM_MIGRATE_TRUST_STORE", none)], &["plugin", "list"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).starts_with("no trust store"), "{}", text(&output.stdout));
    // Trusting under `none` writes nowhere: the store it would change is not in force.
    let trust = ["plugin", "trust", clean.to_str().unwrap()];
    let output = with_environment(&[("XDG_CONFIG_HOME", users), ("CRM_MIGRATE_TRUST_STORE", none)], &trust);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("CRM_MIGRATE_TRUST_STORE=none"), "{}", text(&output.stderr));
    assert_eq!(
        std::fs::read_to_string(&store).unwrap(),
        "# vetted here: nothing yet\n",
        "the user's store is unchanged"
    );
}

#[test]
fn a_malformed_store_is_an_error_naming_its_file_and_line_never_no_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("trust.toml");
    std::fs::write(&store, "[maxima]\nmemory_mib = 64\nfuel_per_record = \"lots\"\n").unwrap();
    let input = records_csv(dir.path());
    let clean = plugin("clean_basic");
    for args in [
        vec!["plugin", "run", clean.to_str().unwrap(), "--hook", "clean", "--input", input.to_str().unwrap()],
        vec!["plugin", "list"],
    ] {
        let output = with_store(&store, &args);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {}", text(&output.stderr));
        let stderr = text(&output.stderr);
        assert!(stderr.contains(&format!("{} line 3", store.display())), "{args:?}: {stderr}");
        assert!(stderr.contains("fuel_per_record"), "{stderr}");
    }
    std::fs::remove_file(&store).unwrap();
    trust(&store, "clean_basic");
    let written = std::fs::read_to_string(&store).unwrap();
    let line = written.lines().position(|line| line.starts_with("digest = ")).expect("a digest line") + 1;
    std::fs::write(&store, written.replace(&digest_of(&clean), "sha256:00")).unwrap();
    let error = TrustStore::open(&store).expect_err("refused").to_string();
    assert!(error.contains(&format!("line {line}")) && error.contains("not a sha256 digest"), "{error}");
}

/// A project on an empty export with one clean plugin, its entry ending in `extra`.
fn project_with_plugin(dir: &Path, stem: &str, extra: &str) -> Project {
    std::fs::create_dir_all(dir.join("export")).unwrap();
    let path = plugin(stem);
    let config = format!(
        "[source]\nexport = \"export\"\n[target]\nurl = \"https://acme.pipedrive.com\"\ntoken_env = \"T\"\nplan = \"lite\"\n\
         [[plugins]]\nhook = \"clean\"\npath = {:?}\ndigest = \"{}\"\n{extra}",
        path.display().to_string(),
        digest_of(&path)
    );
    std::fs::write(dir.join("migration.toml"), config).unwrap();
    Project::open(dir).unwrap()
}

fn memory_failure(project: &Project, store: Option<&TrustStore>) -> (usize, HookFailure) {
    let plugins = project.load_plugins_with(store).unwrap();
    let (hook, plugin) = &plugins[0];
    assert_eq!(*hook, Hook::Clean);
    let record: Record = contact("u1", &[("attack", "yes")]);
    let error = plugin.clean(1, &[&record]).expect_err("the hoarder is stopped");
    (plugin.limits().memory_bytes, error.failure)
}

#[test]
fn a_projects_raised_memory_limit_is_capped_by_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let project = project_with_plugin(dir.path(), "hostile_memory", "memory_mib = 512\n");
    // (Filling 512 MiB takes more than the call's fuel: without a store, the limit is looked at.)
    let plugins = project.load_plugins_with(None).unwrap();
    assert_eq!(plugins[0].1.limits().memory_bytes, 512 << 20, "without a store the project's limit is in force");

    let store_path = dir.path().join("trust.toml");
    trust(&store_path, "hostile_memory");
    let written = std::fs::read_to_string(&store_path).unwrap();
    std::fs::write(&store_path, format!("[maxima]\nmemory_mib = 48\n\n{written}")).unwrap();
    let store = TrustStore::open(&store_path).unwrap();
    let (limit, failure) = memory_failure(&project, Some(&store));
    assert_eq!(limit, 48 << 20, "the store's maximum is in force");
    assert!(matches!(failure, HookFailure::MemoryLimit { limit, .. } if limit == 48 << 20), "{failure:?}");
    let capped = project.plugin_limits(&project.config.plugins[0], Some(&store)).unwrap().capped;
    assert!(
        capped.iter().any(|cap| cap.contains("memory") && cap.contains(&store_path.display().to_string())),
        "{capped:?}"
    );

    // The same cap on `plugin run`, whatever its flag asks, and `plugin vet` says what capped it.
    let input = records_csv(dir.path());
    let memory = plugin("hostile_memory");
    let output = with_store(
        &store_path,
        &[
            "plugin",
            "run",
            memory.to_str().unwrap(),
            "--hook",
            "clean",
            "--input",
            input.to_str().unwrap(),
            "--memory-limit-mib",
            "1024",
        ],
    );
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains(&format!("over the limit of {} bytes", 48 << 20)),
        "{}",
        text(&output.stderr)
    );
    let output = with_store(&store_path, &["plugin", "vet", memory.to_str().unwrap(), "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(report["limits"]["memory_mib"], 48, "{report:#}");
    assert!(report["capped"][0].as_str().unwrap().contains("trust store"), "{report:#}");
}

#[test]
fn plan_and_apply_refuse_a_project_plugin_the_store_does_not_list() {
    let _heavy = crate::support::heavy();
    let sandbox = crate::apply::fast(crm_migrate_sandbox::SandboxConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("trust.toml");
    let project = dir.path().join("zubr");
    let clean = plugin("clean_basic");
    let export = crate::extract::sample_export();
    let output = with_store(
        &store,
        &[
            "init",
            project.to_str().unwrap(),
            "--export",
            export.to_str().unwrap(),
            "--pipedrive",
            &sandbox.url(),
            "--plan",
            "premium",
            "--plugin",
            &format!("clean={}", clean.display()),
        ],
    );
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("clean-basic is not listed by this machine's trust store"),
        "init warns: {}",
        text(&output.stdout)
    );
    crate::plan::migrate_duplicates_as_they_are(&project);
    let in_project = |args: &[&str]| with_store(&store, &[&["-C", project.to_str().unwrap()], args].concat());

    let output = in_project(&["plan"]);
    assert_eq!(output.status.code(), Some(12), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains(&digest_of(&clean)), "{}", text(&output.stderr));

    trust(&store, "clean_basic");
    let written = std::fs::read_to_string(&store).unwrap();
    std::fs::write(&store, format!("[maxima]\nmemory_mib = 128\n\n{written}")).unwrap();
    let output = in_project(&["plan"]);
    assert!(output.status.success(), "a trusted plugin runs: {}", text(&output.stderr));
    let capped =
        format!("plugin clean limits: memory: 256 MiB asked, capped to 128 MiB by the trust store {}", store.display());
    assert!(text(&output.stderr).contains(&capped), "plan says what capped it: {}", text(&output.stderr));
    let output = in_project(&["approve", "--yes", "--by", "test"]);
    assert!(output.status.success(), "{}", text(&output.stderr));

    let output = with_store(&store, &["plugin", "untrust", &digest_of(&clean)]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let output = in_project(&["apply"]);
    assert_eq!(output.status.code(), Some(12), "{}", text(&output.stderr));
    let stderr = text(&output.stderr);
    assert!(stderr.contains(&digest_of(&clean)) && stderr.contains(&store.display().to_string()), "{stderr}");
}
