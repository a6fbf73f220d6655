//! The `crm-migrate` binary as a user runs it: output, JSON, errors and exit codes.

use std::path::PathBuf;
use std::process::{Command, Output};

use crate::support::plugin;

fn crm_migrate(args: &[&str]) -> Output {
    let cache = tempfile::tempdir().unwrap();
    crate::support::crm_migrate()
        .args(args)
        .env("CRM_MIGRATE_CACHE_DIR", cache.path())
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn example(file: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/plugin-run").join(file).display().to_string()
}

#[test]
fn plugin_vet_prints_the_digest_to_pin() {
    let path = plugin("clean_basic");
    let output = crm_migrate(&["plugin", "vet", path.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    let digest = crm_migrate::plugins::Digest::of(&std::fs::read(&path).unwrap()).to_string();
    assert!(stdout.contains(&digest) && stdout.contains("hooks     clean"), "{stdout}");
}

#[test]
fn plugin_run_shows_what_the_plugin_did_as_text_and_json() {
    let path = plugin("clean_basic");
    let args = [
        "plugin",
        "run",
        path.to_str().unwrap(),
        "--hook",
        "clean",
        "--input",
        &example("contacts.csv"),
        "--config",
        "drop_email_domains=example.com",
    ];
    let output = crm_migrate(&args);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("kept 6 (5 changed), dropped 1, merged 0, rejected 1"), "{stdout}");
    assert!(stdout.contains("phone_number: \"501 234 567\" -> \"+48501234567\""), "{stdout}");

    let output = crm_migrate(&[&args[..], &["--json"]].concat());
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("valid JSON");
    assert_eq!(report["counts"]["dropped"], 1);
    let rejected = report["records"].as_array().unwrap().iter().find(|r| r["fate"] == "rejected").unwrap();
    assert_eq!(rejected["source_id"], "u-1005");
    assert_eq!(rejected["line"], 7);
}

#[test]
fn plugin_run_exits_3_when_a_batch_failed_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("records.csv");
    std::fs::write(&input, "id,attack\na,yes\nb,\n").unwrap();
    let path = plugin("hostile_panic");
    let output = crm_migrate(&[
        "plugin",
        "run",
        path.to_str().unwrap(),
        "--hook",
        "clean",
        "--input",
        input.to_str().unwrap(),
        "--batch-size",
        "1",
    ]);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    assert!(text(&output.stderr).contains("hook clean, batch 1: panicked"), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("kept 1 (0 changed), dropped 0, merged 0, rejected 0, quarantined 1"));
}

#[test]
fn bad_input_and_bad_config_are_errors_naming_what_is_wrong() {
    let path = plugin("clean_basic");
    let output = crm_migrate(&[
        "plugin",
        "run",
        path.to_str().unwrap(),
        "--hook",
        "clean",
        "--input",
        &example("contacts.csv"),
        "--config",
        "default_country=Mars",
    ]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("key 'default_country'"), "{}", text(&output.stderr));

    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bad.csv");
    std::fs::write(&input, "id,score:number\nu1,12\nu2,twelve\n").unwrap();
    let output =
        crm_migrate(&["plugin", "run", path.to_str().unwrap(), "--hook", "clean", "--input", input.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("bad.csv, line 3, field 'score'"), "{stderr}");

    let output =
        crm_migrate(&["plugin", "run", path.to_str().unwrap(), "--hook", "label", "--input", &example("tags.csv")]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("does not implement the label hook"), "{}", text(&output.stderr));
}

#[test]
fn plugin_new_scaffolds_a_crate_that_passes_its_tests_and_vets() {
    let _machine = crate::support::heavy();
    let dir = tempfile::tempdir().unwrap();
    let crate_dir = dir.path().join("acme-rules");
    // The SDK of this checkout: the default, the published SDK, is not there to build offline.
    let sdk = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../plugin-sdk");
    let output = crm_migrate(&[
        "plugin",
        "new",
        "acme-rules",
        "--dir",
        crate_dir.to_str().unwrap(),
        "--sdk",
        sdk.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));

    // Share the workspace's target dir so the SDK and wit-bindgen are not compiled again.
    let target = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/scaffold");
    let cargo = |args: &[&str]| {
        let status = Command::new(env!("CARGO"))
            .args(args)
            .current_dir(&crate_dir)
            .env("CARGO_TARGET_DIR", &target)
            .status()
            .expect("cargo runs");
        assert!(status.success(), "cargo {args:?} in the scaffolded crate");
    };
    cargo(&["test", "--quiet"]);
    cargo(&["build", "--quiet", "--release", "--target", "wasm32-wasip2"]);
    let wasm = target.join("wasm32-wasip2/release/acme_rules.wasm");
    let output = crm_migrate(&["plugin", "vet", wasm.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(text(&output.stdout).contains("acme-rules 0.1.0"));

    let again = crm_migrate(&["plugin", "new", "acme-rules", "--dir", crate_dir.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1), "an existing directory is never overwritten");
}

#[test]
#[allow(unsafe_code)] // SIGINT to the child
fn sandbox_serve_answers_like_pipedrive_and_keeps_the_account_across_restarts() {
    let _machine = crate::support::heavy();
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("account.json");
    let serve = |state: &std::path::Path, more: &[&str]| {
        let mut child = crate::support::crm_migrate()
            .args(["sandbox", "serve", "--listen", "127.0.0.1:0", "--plan", "lite", "--state", state.to_str().unwrap()])
            .args(more)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("the binary runs");
        let mut first_line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut first_line).unwrap();
        let url = first_line.trim().rsplit(' ').next().unwrap().to_string();
        assert!(url.starts_with("http://127.0.0.1:"), "{first_line}");
        (child, url)
    };
    let stop = |child: &mut std::process::Child| {
        // SAFETY: sending SIGINT (Ctrl-C) to a child process we started.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        assert!(child.wait().unwrap().success(), "Ctrl-C ends the sandbox cleanly");
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let http = crate::pipedrive_support::http_client();
    let call = |method: reqwest::Method, url: String, body: Option<&str>| {
        runtime.block_on(async {
            let mut request = http.request(method, url).header("x-api-token", "sandbox-token");
            if let Some(body) = body {
                request = request.header("content-type", "application/json").body(body.to_string());
            }
            let answer = request.send().await.expect("the sandbox answers");
            let headers = answer.headers().clone();
            (answer.status().as_u16(), headers, answer.text().await.unwrap())
        })
    };

    let (mut child, url) = serve(&state, &[]);
    let hook = r#"{"subscription_url":"https://hooks.example.com/p","event_action":"create","event_object":"person","name":"p"}"#;
    let (status, _, body) = call(reqwest::Method::POST, format!("{url}/v1/webhooks"), Some(hook));
    assert_eq!(status, 201, "{body}");
    let (status, headers, body) =
        call(reqwest::Method::POST, format!("{url}/api/v2/persons"), Some(r#"{"name":"Ada Lovelace"}"#));
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["x-ratelimit-limit"], "20", "lite's burst limit");
    assert_eq!(headers["x-daily-ratelimit-token-remaining"], "29985", "30,000 a day less a webhook and a create");
    stop(&mut child);
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut rest).unwrap();
    assert!(
        rest.contains("webhook 1 would have been delivered: create.person × 1"),
        "the summary counts the deliveries it would have made:\n{rest}"
    );
    assert!(state.exists(), "the account was saved on exit");

    let (mut child, url) = serve(&state, &[]);
    let (status, _, body) = call(reqwest::Method::GET, format!("{url}/api/v2/persons"), None);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Ada Lovelace"), "the account came back: {body}");
    stop(&mut child);

    // The account's limits are enforced as the plan's (here a deals limit set lower to reach it).
    let (mut child, url) = serve(&dir.path().join("capped.json"), &["--deals-limit", "1"]);
    let deal = |title: &str| {
        call(reqwest::Method::POST, format!("{url}/api/v2/deals"), Some(&format!(r#"{{"title":"{title}"}}"#)))
    };
    assert_eq!(deal("First").0, 200);
    let (status, _, body) = deal("Second");
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("feature_capping_deals_limit"), "{body}");
    stop(&mut child);
}

#[test]
fn init_creates_a_project_that_audit_works_in_and_refuses_to_overwrite_it() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("acme");
    let export = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/usercom-export");
    let clean = plugin("clean_basic");
    let init = ["init", project.to_str().unwrap(), "--export", export.to_str().unwrap(), "--plan", "lite", "--plugin"];
    let clean_arg = format!("clean={}", clean.display());
    let output = crm_migrate(&[&init[..], &[clean_arg.as_str()]].concat());
    assert!(output.status.success(), "{}", text(&output.stderr));
    let config = std::fs::read_to_string(project.join("migration.toml")).unwrap();
    let digest = crm_migrate::plugins::Digest::of(&std::fs::read(&clean).unwrap()).to_string();
    assert!(config.contains(&digest), "the plugin is pinned by its digest:\n{config}");
    assert!(
        config.contains("# default_country = \"PL\""),
        "its options are there, commented, with defaults:\n{config}"
    );

    let output = crm_migrate(&["-C", project.to_str().unwrap(), "audit"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(project.join("reports/audit.md").is_file(), "the project's reports/ holds the audit");

    let again = crm_migrate(&[&init[..], &[clean_arg.as_str()]].concat());
    assert_eq!(again.status.code(), Some(1));
    assert!(text(&again.stderr).contains("already holds a migration"), "{}", text(&again.stderr));

    let wrong_hook = format!("label={}", clean.display());
    let other = dir.path().join("other");
    let output =
        crm_migrate(&["init", other.to_str().unwrap(), "--export", export.to_str().unwrap(), "--plugin", &wrong_hook]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("does not implement the label hook"), "{}", text(&output.stderr));
    assert!(!other.join("migration.toml").exists(), "nothing written on a refused init");

    let outside = crm_migrate(&["-C", dir.path().to_str().unwrap(), "audit"]);
    assert_eq!(outside.status.code(), Some(1));
    assert!(
        text(&outside.stderr).contains("crm-migrate init"),
        "says how to make a project: {}",
        text(&outside.stderr)
    );
}
