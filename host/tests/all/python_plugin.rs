//! The clean plugin written in Python (`plugins/clean-basic-py`, built by componentize-py) run by
//! the same host as the Rust clean-basic: the same outcome for every record of the sample export
//! and for values where Python's and Rust's notions of whitespace and letters part; the imports
//! `plugin vet` reports; and the limits that let it run, which a trust store can still lower.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use crm_migrate::extract::{Export, ExportOptions};
use crm_migrate::pipeline::{self, BatchIds, StageOutput};
use crm_migrate::plugins::{CompileLimits, Compiler, ComponentCache, Limits, LoadedPlugin, PluginHost};
use crm_migrate::record::{ObjectKind, Record};

use crate::extract::sample_export;
use crate::support::{contact, plugin};

/// The command that builds the Python plugin (the README's test command runs it).
const BUILD_COMMAND: &str = "plugins/clean-basic-py/build";
/// Compiling the 18 MB component takes about 25 s of CPU; on a loaded 2-core machine that is
/// more wall time than the host's default compile limit, which is not what these tests check.
const COMPILE_TIMEOUT: Duration = Duration::from_secs(600);

/// `clean_basic_py.wasm`, built by [`BUILD_COMMAND`]; a missing file fails the test, naming it.
fn python_plugin() -> PathBuf {
    let path = plugin("clean_basic").with_file_name("clean_basic_py.wasm");
    assert!(
        path.exists(),
        "{} is missing: run `{BUILD_COMMAND}` first (the README's test command does)",
        path.display()
    );
    path
}

/// A host whose compiled code is cached in `cache`, so that each plugin is compiled once.
fn host(limits: Limits, cache: &Path) -> PluginHost {
    PluginHost::new(limits, ComponentCache::new(Some(cache.to_owned()))).expect("engine starts").with_compiler(
        Compiler {
            limits: CompileLimits { timeout: COMPILE_TIMEOUT, ..CompileLimits::default() },
            ..Compiler::default()
        },
    )
}

/// One cache of compiled code for every test here, filled once before any test reads it and
/// kept between runs in cargo's directory for test files: compiling the 18 MB component costs
/// about 25 s of CPU, which each test would otherwise pay again. Callers hold
/// `support::heavy()`: the compile must not starve the pacing tests.
fn shared_cache() -> &'static Path {
    static CACHE: OnceLock<PathBuf> = OnceLock::new();
    CACHE.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("python-plugin-cache");
        host(Limits::default(), &dir).open(&python_plugin(), None).expect("the Python plugin compiles");
        dir
    })
}

fn load(host: &PluginHost, path: &Path, config: &[(&str, &str)]) -> LoadedPlugin {
    let config = config.iter().map(|(key, value)| (key.to_string(), value.to_string())).collect();
    host.open(path, None).expect("plugin loads").configure(config).expect("config accepted")
}

/// Every record of the sample export, of every kind.
fn sample_records() -> Vec<Vec<Record>> {
    let export = Export::open(&sample_export(), ExportOptions::default()).unwrap();
    ObjectKind::ALL
        .into_iter()
        .filter_map(|kind| export.records(kind).unwrap())
        .map(|reader| reader.map(|read| read.unwrap().record).collect())
        .collect()
}

/// The two plugins' outputs are the same, record by record: fate, reason or issues, changes
/// (field, before, after), and the records that go on.
fn assert_same_outcomes(rust: &StageOutput, python: &StageOutput, what: &str) {
    assert!(rust.failures.is_empty(), "{what}: {:?}", rust.failures);
    assert!(python.failures.is_empty(), "{what}: {:?}", python.failures);
    assert_eq!(python.fates.len(), rust.fates.len(), "{what}");
    for (rust_fate, python_fate) in rust.fates.iter().zip(&python.fates) {
        assert_eq!(python_fate, rust_fate, "{what}: record {} differs", rust_fate.source_id);
    }
    assert_eq!(python.records, rust.records, "{what}: the records that go on");
}

#[test]
fn the_python_clean_plugin_gives_the_rust_ones_outcome_for_every_sample_record() {
    let _machine = crate::support::heavy();
    let host = host(Limits::default(), shared_cache());
    let python = python_plugin();
    let configs: [&[(&str, &str)]; 3] = [
        &[],
        &[
            ("drop_email_domains", "firma.pl, @Poczta.FM"),
            ("invalid_phone", "reject"),
            ("phone_fields", "Phone number,phone"),
            ("default_country", "de"),
        ],
        &[("invalid_phone", "clear"), ("phone_fields", "Phone number"), ("multiline_fields", "")],
    ];
    let (mut dropped, mut rejected, mut changed) = (0, 0, 0);
    for config in configs {
        let rust_plugin = load(&host, &plugin("clean_basic"), config);
        let python_plugin = load(&host, &python, config);
        for records in sample_records() {
            let what = format!("{:?} with {config:?}", records[0].kind);
            let rust = pipeline::clean(&rust_plugin, records.clone(), 1000, &mut BatchIds::default());
            let python = pipeline::clean(&python_plugin, records, 1000, &mut BatchIds::default());
            assert_same_outcomes(&rust, &python, &what);
            let counts = rust.counts();
            (dropped, rejected, changed) =
                (dropped + counts.dropped, rejected + counts.rejected, changed + counts.changed);
        }
    }
    // The comparison covers every kind of outcome, not only records left as they were.
    assert!(dropped > 0 && rejected > 0 && changed > 0, "dropped {dropped}, rejected {rejected}, changed {changed}");
}

#[test]
fn the_python_clean_plugin_agrees_where_python_and_rust_read_text_differently() {
    let _machine = crate::support::heavy();
    let host = host(Limits::default(), shared_cache());
    let records = vec![
        // U+001C..U+001F are whitespace to Python's str.split, not to Rust; U+0085, U+00A0 and
        // U+2003 are to both.
        contact("ws-1", &[("company_name", "Acme\u{1c}Corp"), ("city", " Kraków\u{85}\u{a0}\u{2003}Old Town ")]),
        // A multi-line field: a line's leading space is kept (clean-basic does not see it as
        // abnormal), trailing spaces go, "\r\n" is a line break; str.splitlines would split at
        // U+2028 too.
        contact("ws-2", &[("notes", "first \r\n second\u{2028}half\n\n"), ("description", "a\n b")]),
        contact("ws-3", &[("notes", "a\u{b}b\nc"), ("first_name", "\u{3000}Ada"), ("last_name", "Lovelace\t")]),
        // Title-case letters are not upper-case: the email is not lowered, and is valid.
        contact("email-1", &[("email", "\u{1c5}ubrovnik@example.com")]),
        contact("email-2", &[("email", "ADA@Example.COM"), ("phone", "(415) 555-0132")]),
        contact("email-3", &[("email", "józef.ŻÓŁĆ@przykład.pl")]),
        contact("email-4", &[("email", "ada@example.٣٣")]),
        contact("email-5", &[("email", "١٢@example.com")]),
        contact("email-6", &[("email", "ⅻ@example.com")]),
        contact("email-7", &[("email", "ada@exa_mple.com")]),
        contact("email-8", &[("email", "Σίσυφος@example.gr")]),
        // Letters to Rust's char::is_alphabetic (Other_Alphabetic, letter numbers), not to
        // Python's str.isalpha; the circled capital is upper-case to both.
        contact("email-9", &[("email", "ⓐda@example.com")]),
        contact("email-10", &[("email", "Ⓐda\u{345}@example.ⅻⅻ")]),
        contact("phone-1", &[("phone", "٥٠١ ٢٣٤ ٥٦٧")]),
        contact("phone-2", &[("phone_number", "+48 (501) 234-567 ext. 2")]),
        contact("phone-3", &[("phone_number", "0048501234567"), ("name", " ")]),
    ];
    for config in [&[][..], &[("invalid_phone", "reject")], &[("invalid_phone", "clear")]] {
        let rust = pipeline::clean(
            &load(&host, &plugin("clean_basic"), config),
            records.clone(),
            1000,
            &mut BatchIds::default(),
        );
        let python =
            pipeline::clean(&load(&host, &python_plugin(), config), records.clone(), 1000, &mut BatchIds::default());
        assert_same_outcomes(&rust, &python, &format!("{config:?}"));
    }
}

#[test]
fn the_python_plugin_refuses_a_bad_configuration_as_clean_basic_does() {
    let _machine = crate::support::heavy();
    let host = host(Limits::default(), shared_cache());
    for config in [
        &[("default_country", "Narnia")][..],
        &[("invalid_phone", " shrug ")],
        &[("drop_email_domains", "example.com,not a domain")],
        &[("colour", "blue"), ("default_country", "Narnia")],
    ] {
        let config: Vec<(String, String)> = config.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let refusal = |path: &Path| {
            let error = host.open(path, None).unwrap().configure(config.clone()).err().expect("refused");
            error.to_string().replace("clean-basic-py", "clean-basic")
        };
        assert_eq!(refusal(&python_plugin()), refusal(&plugin("clean_basic")), "{config:?}");
    }
}

/// `crm-migrate ARGS` with compiled code cached in `cache`.
fn command(args: &[&str], cache: &Path) -> Command {
    let mut command = crate::support::crm_migrate();
    command.args(args).env("CRM_MIGRATE_CACHE_DIR", cache);
    command
}

/// `crm-migrate ARGS` as an operator runs it, with the trust store at `store`.
fn crm_migrate(args: &[&str], store: &Path, cache: &Path) -> Output {
    command(args, cache)
        .args(["--compile-timeout-secs", &COMPILE_TIMEOUT.as_secs().to_string()])
        .env("CRM_MIGRATE_TRUST_STORE", store)
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn plugin_diff_from_the_rust_clean_plugin_to_the_python_one_changes_nothing_on_the_sample() {
    let _machine = crate::support::heavy();
    let dir = tempfile::tempdir().unwrap();
    let (project, cache) = (dir.path().join("acme"), shared_cache());
    let (rust, python) = (plugin("clean_basic"), python_plugin());
    let clean = format!("clean={}", rust.display());
    let export = sample_export();
    let init =
        command(&["init", project.to_str().unwrap(), "--export", export.to_str().unwrap(), "--plugin", &clean], cache)
            .output()
            .unwrap();
    assert!(init.status.success(), "{}", text(&init.stderr));
    // Compiled once into the cache first, under a compile limit fit for a loaded machine (diff
    // has no flag for it).
    let vet =
        command(&["plugin", "vet", python.to_str().unwrap(), "--compile-timeout-secs", "600"], cache).output().unwrap();
    assert!(vet.status.success(), "{}", text(&vet.stderr));

    let diff = command(
        &[
            "-C",
            project.to_str().unwrap(),
            "plugin",
            "diff",
            rust.to_str().unwrap(),
            python.to_str().unwrap(),
            "--json",
        ],
        cache,
    )
    .output()
    .unwrap();
    assert_eq!(diff.status.code(), Some(0), "{}", text(&diff.stderr));
    let diff: serde_json::Value = serde_json::from_slice(&diff.stdout).unwrap();
    assert_eq!(diff["hook"], "clean", "{diff:#}");
    assert!(!diff["objects"].as_array().unwrap().is_empty(), "{diff:#}");
    for object in diff["objects"].as_array().unwrap() {
        let (fates, fields) = (object["fates"].as_array().unwrap(), object["fields"].as_array().unwrap());
        assert!(fates.is_empty() && fields.is_empty(), "swapping the language changes nothing: {object:#}");
    }
    assert_eq!(diff["changed"], false, "{diff:#}");
}

#[test]
fn vet_reports_the_python_plugins_imports_and_a_trust_store_can_cap_what_it_needs() {
    let _machine = crate::support::heavy();
    let dir = tempfile::tempdir().unwrap();
    let (store, cache) = (dir.path().join("trust.toml"), shared_cache());
    let path = python_plugin();
    let path = path.to_str().unwrap();

    // componentize-py's WASI imports are stubbed inside the component: it asks for the
    // contract's host interface and nothing else, and loads under the host's default limits.
    let vet = crm_migrate(&["plugin", "vet", path, "--json"], &store, cache);
    assert!(vet.status.success(), "{}", text(&vet.stderr));
    let report: serde_json::Value = serde_json::from_slice(&vet.stdout).unwrap();
    assert_eq!(
        report["imports"],
        serde_json::json!(["crm-migrate:plugin/host@0.1.0", "crm-migrate:plugin/types@0.1.0"])
    );
    assert_eq!(report["plugin"]["hooks"], serde_json::json!(["clean"]), "{report:#}");
    assert_eq!(report["limits"]["core_instances"], Limits::default().core_instances, "{report:#}");

    let trust = crm_migrate(&["plugin", "trust", path, "--by", "Ola Nowak"], &store, cache);
    assert!(trust.status.success(), "{}", text(&trust.stderr));
    let input = dir.path().join("contacts.csv");
    std::fs::write(&input, "id,email\nu1,Ola@Example.com\n").unwrap();
    let run =
        || crm_migrate(&["plugin", "run", path, "--hook", "clean", "--input", input.to_str().unwrap()], &store, cache);
    let output = run();
    assert!(output.status.success(), "trusted, it runs: {}", text(&output.stderr));
    assert!(text(&output.stdout).contains("ola@example.com"), "{}", text(&output.stdout));

    // Maxima below what it needs (its pre-initialized interpreter is 12 MiB of memory, in 38
    // core instances): refused at load with the limit named, nothing run.
    let written = std::fs::read_to_string(&store).unwrap();
    for (maxima, named) in [("memory_mib = 8", "memory limit of 8 MiB"), ("core_instances = 16", "16 core instances")] {
        std::fs::write(&store, format!("[maxima]\n{maxima}\n\n{written}")).unwrap();
        let output = run();
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{maxima}: {stderr}");
        assert!(stderr.contains(named), "{maxima}: {stderr}");
        assert!(!stderr.contains("panicked"), "{maxima}: {stderr}");
    }
}

/// The Python plugin's `unicode_tables.py`: where Rust's `char::is_alphabetic`,
/// `is_alphanumeric` and `is_uppercase` answer true beyond ASCII, for this toolchain's Unicode
/// version. Python's `str.isalpha` and `isalnum` differ from them (Rust's alphabetic includes
/// Other_Alphabetic marks, circled letters and letter numbers; CPython has its own Unicode
/// version), and clean-basic validates emails with them.
fn unicode_tables() -> String {
    let boundaries = |property: fn(char) -> bool| {
        let mut boundaries = Vec::new();
        let mut inside = false;
        for code in 0x80..=0x11_0000u32 {
            let now = char::from_u32(code).is_some_and(property);
            if now != inside {
                boundaries.push(format!("0x{code:x}"));
                inside = now;
            }
        }
        boundaries.chunks(12).map(|line| format!("    {},\n", line.join(", "))).collect::<String>()
    };
    format!(
        "\"\"\"Generated by host/tests/all/python_plugin.rs (`unicode_tables`) from Rust's char methods,\n\
         Unicode {}.{}.{}: do not edit. Each table lists the code points (beyond ASCII) where the\n\
         property turns on, then off, in turn.\"\"\"\n\nALPHABETIC = (\n{})\n\nALPHANUMERIC = (\n{})\n\nUPPERCASE = (\n{})\n",
        char::UNICODE_VERSION.0,
        char::UNICODE_VERSION.1,
        char::UNICODE_VERSION.2,
        boundaries(char::is_alphabetic),
        boundaries(char::is_alphanumeric),
        boundaries(char::is_uppercase),
    )
}

#[test]
fn the_python_plugins_unicode_tables_are_rusts() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plugins/clean-basic-py/unicode_tables.py");
    let expected = unicode_tables();
    if std::env::var_os("CRM_WRITE_UNICODE_TABLES").is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    let found = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        found == expected,
        "{} is not what this toolchain's Unicode tables give: write it again with \
         `CRM_WRITE_UNICODE_TABLES=1 cargo test -p crm-migrate --test all unicode_tables`, then `{BUILD_COMMAND}`",
        path.display()
    );
}
