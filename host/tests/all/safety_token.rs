//! Safety of customer data and the token: the API token reaches only the account's host (redirects
//! are not followed, hostile URLs are refused by init, by Project::open and by the client itself),
//! the files holding customer data are readable by the user only, and `purge` removes the data a
//! finished migration no longer needs while keeping its audit trail.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};

use crm_migrate::pipedrive::{ApiToken, ClientConfig, ClientError, PipedriveClient, Plan};
use crm_migrate::project::{Project, ProjectError};

use crate::extract::sample_export;
use crate::pipedrive_support::TOKEN;
use crate::plan::{run, text};

/// A local HTTP listener on 127.0.0.1 that records every request head it receives and answers
/// each with `answer` (a whole HTTP response, `{port}` replaced by its own port).
struct RecordingListener {
    port: u16,
    requests: Arc<Mutex<Vec<String>>>,
}

impl RecordingListener {
    fn start(answer: String) -> RecordingListener {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a local port");
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let recorded = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let head = read_head(&stream);
                recorded.lock().unwrap().push(head);
                let _ = (&stream).write_all(answer.as_bytes());
            }
        });
        RecordingListener { port, requests }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

/// The request line and headers (a GET has no body).
fn read_head(mut stream: &TcpStream) -> String {
    stream.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

fn redirect(status: &str, location: &str) -> String {
    format!("HTTP/1.1 {status}\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
}

const ME: &str = "{\"success\":true,\"data\":{\"id\":1,\"name\":\"Admin\",\"email\":\"admin@example.com\",\"active_flag\":true,\"is_admin\":true}}";

fn client_for(url: &str) -> Result<PipedriveClient, ClientError> {
    PipedriveClient::new(ClientConfig::new(url, ApiToken::new(TOKEN).unwrap(), Plan::Growth), None)
}

#[test]
fn a_redirect_to_another_listener_never_carries_the_token_there() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    for status in ["302 Found", "307 Temporary Redirect", "301 Moved Permanently", "308 Permanent Redirect"] {
        let second = RecordingListener::start(format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{ME}",
            ME.len()
        ));
        let first = RecordingListener::start(redirect(status, &format!("{}/api/v1/users/me", second.url())));
        let client = client_for(&first.url()).expect("a loopback URL is accepted");
        let answer = runtime.block_on(client.me());
        let leaked: Vec<_> = second.requests().into_iter().filter(|head| head.contains(TOKEN)).collect();
        assert!(leaked.is_empty(), "{status}: the second listener received the token: {leaked:?}");
        assert!(second.requests().is_empty(), "{status}: the redirect was not followed at all");
        let error = answer.expect_err("a redirect is an error, not followed");
        let code: u16 = status[..3].parse().unwrap();
        match &error {
            ClientError::Redirected { status, location_host, .. } => {
                assert_eq!(*status, code);
                assert_eq!(location_host, &second.url(), "the message names where the redirect pointed");
            }
            other => panic!("expected Redirected for {status}, got {other:?}"),
        }
        let message = error.to_string();
        assert!(
            message.contains(&code.to_string()) && message.contains(&second.url()) && !message.contains(TOKEN),
            "{message}"
        );
        assert_eq!(first.requests().len(), 1, "the first listener was asked once");
        assert!(first.requests()[0].contains(TOKEN), "the token went to the account's own host");
    }
}

/// The hostile URLs, and URLs that are fine.
const REFUSED: [&str; 5] = [
    "http://127.0.0.1@evil.example",
    "http://localhost.evil.example",
    "http://evil.example",
    "https://user:pw@acme.pipedrive.com",
    "https://acme.pipedrive.com.evil.example",
];

#[test]
fn the_client_refuses_to_be_built_for_a_url_the_token_must_not_go_to() {
    for url in REFUSED {
        match client_for(url) {
            Err(ClientError::UnsafeTargetUrl(_)) => {}
            Err(other) => panic!("{url}: refused for the wrong reason: {other}"),
            Ok(_) => panic!("{url}: a client was built"),
        }
    }
    let mut config = ClientConfig::new("https://crm.example.net", ApiToken::new(TOKEN).unwrap(), Plan::Growth);
    assert!(PipedriveClient::new(config.clone(), None).is_err(), "another host needs naming");
    config.allowed_host = Some("crm.example.net".into());
    assert!(PipedriveClient::new(config, None).is_ok(), "a host named explicitly is accepted");
}

fn init(dir: &Path, url: &str) -> std::process::Output {
    run(&["init", dir.to_str().unwrap(), "--export", sample_export().to_str().unwrap(), "--pipedrive", url])
}

#[test]
fn init_refuses_each_hostile_url_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for (index, url) in REFUSED.iter().enumerate() {
        let project = dir.path().join(format!("refused-{index}"));
        let output = init(&project, url);
        assert!(!output.status.success(), "{url}: init accepted it");
        let stderr = text(&output.stderr);
        assert!(stderr.contains("--pipedrive") && stderr.contains("nothing was written"), "{url}: {stderr}");
        assert!(!stderr.contains("pw@"), "the password is not repeated: {stderr}");
        assert!(!project.join("migration.toml").exists(), "{url}: a project was written");
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    for url in
        ["https://acme.pipedrive.com".to_string(), format!("http://127.0.0.1:{port}"), format!("http://[::1]:{port}")]
    {
        let project = dir.path().join(format!("accepted-{port}-{}", url.len()));
        let output = init(&project, &url);
        assert!(output.status.success(), "{url}: {}", text(&output.stderr));
    }
}

/// A project whose migration.toml says `target` (the `[target]` table's lines after `url`).
fn open_with(url: &str, extra: &str) -> (tempfile::TempDir, Result<Project, ProjectError>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("export")).unwrap();
    let config = format!(
        "[source]\nexport = \"export\"\n\n[target]\nurl = \"{url}\"\n{extra}token_env = \"T\"\nplan = \"lite\"\n"
    );
    std::fs::write(dir.path().join("migration.toml"), config).unwrap();
    let project = Project::open(dir.path());
    (dir, project)
}

#[test]
fn opening_a_project_refuses_each_hostile_url_naming_the_line() {
    for url in REFUSED {
        match open_with(url, "").1 {
            Err(ProjectError::Invalid { line: Some(5), message, .. }) => {
                assert!(message.contains("[target] url"), "{url}: {message}")
            }
            other => panic!("{url}: expected an error at migration.toml line 5, got {other:?}"),
        }
    }
    for url in ["https://acme.pipedrive.com", "http://127.0.0.1:8089", "http://[::1]:8089"] {
        assert!(open_with(url, "").1.is_ok(), "{url} refused");
    }
    assert!(open_with("https://crm.example.net", "").1.is_err(), "another host is refused unless named");
    let (_dir, allowed) = open_with("https://crm.example.net", "allow_host = \"crm.example.net\"\n");
    let allowed = allowed.expect("a host named by allow_host is accepted");
    assert!(allowed.config.target.allow_host.is_some());
    let (_dir, lookalike) = open_with("https://crm.example.net.evil.example", "allow_host = \"crm.example.net\"\n");
    assert!(lookalike.is_err(), "allow_host is the exact host, not a prefix");
}

// ----- customer data on disk: the user's only -----

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|error| panic!("{}: {error}", path.display())).permissions().mode() & 0o777
}

/// Runs the binary as `plan::run` does, under the umask most systems give a user (022): a file
/// created without an explicit mode would be readable by everyone.
#[allow(unsafe_code)] // umask in the child
fn run_loose(args: &[&str]) -> std::process::Output {
    let cache = tempfile::tempdir().unwrap();
    let mut command = crate::support::crm_migrate();
    command.args(args).env("CRM_MIGRATE_CACHE_DIR", cache.path()).env("PIPEDRIVE_API_TOKEN", TOKEN);
    // SAFETY: umask is async-signal-safe and touches nothing but the child's own file mode mask.
    unsafe {
        command.pre_exec(|| {
            libc::umask(0o022);
            Ok(())
        });
    }
    command.output().expect("the binary runs")
}

fn in_project_loose(project: &Path, args: &[&str]) -> std::process::Output {
    let output = run_loose(&[&["-C", project.to_str().unwrap()], args].concat());
    assert!(output.status.success(), "{args:?}: {}\n{}", text(&output.stdout), text(&output.stderr));
    output
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        if entry.file_type().unwrap().is_dir() {
            files.extend(files_under(&entry.path()));
        } else {
            files.push(entry.path());
        }
    }
    files
}

/// state.db and, where SQLite left them, its -wal and -shm files.
fn state_files(project: &Path) -> Vec<PathBuf> {
    ["state.db", "state.db-wal", "state.db-shm"]
        .iter()
        .map(|name| project.join(name))
        .filter(|path| path.exists())
        .collect()
}

/// A project on the sample export, made as a user does (init under a loose umask).
fn loose_project(url: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("zubr");
    let output = run_loose(&[
        "init",
        project.to_str().unwrap(),
        "--export",
        sample_export().to_str().unwrap(),
        "--pipedrive",
        url,
        "--plan",
        "premium",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    crate::plan::migrate_duplicates_as_they_are(&project);
    (dir, project)
}

#[test]
fn reports_and_state_db_are_the_users_only_and_an_older_project_is_tightened_when_opened() {
    let (_dir, project) = loose_project("http://127.0.0.1:9");
    in_project_loose(&project, &["audit"]);
    in_project_loose(&project, &["status"]);
    let reports = project.join("reports");
    assert_eq!(mode(&reports), 0o700, "reports/");
    let written = files_under(&reports);
    assert!(written.iter().any(|path| path.ends_with("billing-audit.csv")), "{written:?}");
    for path in written.iter().chain(&state_files(&project)) {
        assert_eq!(mode(path), 0o600, "{}", path.display());
    }
    assert!(!state_files(&project).is_empty(), "status opened state.db");

    // A project from before: everything readable by all. Opening it takes that away.
    for path in written.iter().chain(&state_files(&project)) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    std::fs::set_permissions(&reports, std::fs::Permissions::from_mode(0o755)).unwrap();
    in_project_loose(&project, &["status"]);
    assert_eq!(mode(&reports), 0o700, "reports/ tightened");
    for path in written.iter().chain(&state_files(&project)) {
        assert_eq!(mode(path), 0o600, "{} tightened", path.display());
    }
}

// ----- purge -----

use crm_migrate_sandbox::SandboxConfig;

/// Every email address in the sample's users.csv.
fn sample_emails() -> Vec<String> {
    let mut reader = csv::Reader::from_path(sample_export().join("users.csv")).unwrap();
    let column = reader.headers().unwrap().iter().position(|name| name == "email").expect("an email column");
    reader.records().map(|row| row.unwrap()[column].trim().to_owned()).filter(|email| email.contains('@')).collect()
}

/// The bytes of state.db with its -wal and -shm, as one blob.
fn state_bytes(project: &Path) -> Vec<u8> {
    state_files(project).iter().flat_map(|path| std::fs::read(path).unwrap()).collect()
}

fn count(project: &Path, sql: &str) -> i64 {
    let connection = rusqlite::Connection::open(project.join("state.db")).unwrap();
    connection.query_row(sql, [], |row| row.get(0)).unwrap()
}

/// What status says of the runs and the records, which purge must not change.
fn status_counts(project: &Path) -> serde_json::Value {
    let status: serde_json::Value =
        serde_json::from_slice(&in_project_loose(project, &["status", "--json"]).stdout).unwrap();
    serde_json::json!({ "runs": status["runs"], "objects": status["objects"], "tokens_spent": status["tokens_spent"] })
}

/// `table.column` of every text cell in state.db that contains `needle`: what a failure names.
fn tables_holding(project: &Path, needle: &str) -> Vec<String> {
    let connection = rusqlite::Connection::open(project.join("state.db")).unwrap();
    let tables: Vec<String> = connection
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut found = Vec::new();
    for table in tables {
        let columns: Vec<String> = connection
            .prepare(&format!("PRAGMA table_info({table})"))
            .unwrap()
            .query_map([], |row| row.get(1))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        for column in columns {
            let hits: i64 = connection
                .query_row(
                    &format!("SELECT COUNT(*) FROM {table} WHERE CAST({column} AS TEXT) LIKE '%' || ?1 || '%'"),
                    [needle],
                    |row| row.get(0),
                )
                .unwrap();
            if hits > 0 {
                found.push(format!("{table}.{column} ({hits} rows)"));
            }
        }
    }
    found
}

#[test]
fn purge_after_apply_and_delta_leaves_no_sent_payload_or_value_in_state_db_and_status_keeps_the_counts() {
    let _machine = crate::support::heavy();
    let sandbox =
        crate::plan::prepared_sandbox_with(SandboxConfig { burst_limit: Some(1000), ..SandboxConfig::default() });
    let (dir, project) = loose_project(&sandbox.url());
    in_project_loose(&project, &["audit"]);
    in_project_loose(&project, &["plan"]);
    in_project_loose(&project, &["approve", "--yes", "--by", "test"]);
    in_project_loose(&project, &["apply", "--concurrency", "16"]);
    let newer = dir.path().join("newer-export");
    std::fs::create_dir(&newer).unwrap();
    usercom_export_gen::generate(
        &newer,
        &usercom_export_gen::Options { changes: true, ..usercom_export_gen::Options::default() },
    )
    .unwrap();
    in_project_loose(&project, &["delta", "--export", newer.to_str().unwrap()]);
    // Deleted in User.com but kept in Pipedrive: verify may find differences (exit 8); its reports are what counts here.
    run_loose(&["-C", project.to_str().unwrap(), "verify", "--export", newer.to_str().unwrap()]);
    assert!(project.join("reports/verification.json").exists());
    in_project_loose(&project, &["report"]);

    // Written under a loose umask: the journal and every report are the user's only.
    for path in state_files(&project).iter().chain(&files_under(&project.join("reports"))) {
        assert_eq!(mode(path), 0o600, "{}", path.display());
    }
    // Before: the journal holds what was sent, and the file the sample's email addresses.
    assert!(count(&project, "SELECT COUNT(*) FROM records WHERE sent IS NOT NULL") > 400);
    assert!(count(&project, "SELECT COUNT(*) FROM changes") > 0, "the delta journalled changed fields");
    let emails = sample_emails();
    let bytes = state_bytes(&project);
    let in_file = |bytes: &[u8], email: &str| bytes.windows(email.len()).any(|window| window == email.as_bytes());
    let before = emails.iter().filter(|email| in_file(&bytes, email)).count();
    assert!(
        before > 100,
        "only {before} of the sample's emails found in state.db before purge: the check would prove nothing"
    );
    assert!(project.join("reports/quarantine.csv").exists() && project.join("reports/billing-audit.csv").exists());
    let counts = status_counts(&project);

    assert!(count(&project, "SELECT COUNT(*) FROM left_out") > 0, "the sample's bad values are journalled as left out");
    let output = in_project_loose(&project, &["purge", "--yes"]);
    let stdout = text(&output.stdout);
    assert_eq!(
        count(&project, "SELECT COUNT(*) FROM left_out WHERE value <> 'purged'"),
        0,
        "the values left out are purged"
    );
    assert!(
        stdout.contains("records.sent")
            && stdout.contains("quarantine.csv")
            && stdout.contains("a delta can no longer tell"),
        "{stdout}"
    );

    // After: no payload, no value, none of the emails anywhere in the file; the audit trail whole.
    assert_eq!(count(&project, "SELECT COUNT(*) FROM records WHERE sent IS NOT NULL"), 0);
    assert_eq!(count(&project, "SELECT COUNT(*) FROM changes WHERE prior <> '' OR new <> ''"), 0);
    assert!(count(&project, "SELECT COUNT(*) FROM changes") > 0, "which fields changed, and when, stays");
    // Except where plan quoted one example value per attribute into the mapping's reasons ("e.g.
    // '...'"): the approved mapping is part of the audit trail and stays (see the report).
    let mapping = std::fs::read(project.join("mapping.toml")).unwrap();
    let quoted: Vec<&String> = emails.iter().filter(|email| in_file(&mapping, email)).collect();
    assert!(quoted.len() <= 1, "the mapping quotes {} emails", quoted.len());
    let bytes = state_bytes(&project);
    let left: Vec<&String> = emails.iter().filter(|email| !quoted.contains(email) && in_file(&bytes, email)).collect();
    assert!(
        left.is_empty(),
        "{} of the sample's emails are still in state.db's bytes, e.g. {:?} in {:?}",
        left.len(),
        left.first(),
        left.first().map(|email| tables_holding(&project, email))
    );
    for report in ["quarantine.csv", "billing-audit.csv", "audit.json", "verification.json", "handoff/handoff.html"] {
        assert!(!project.join("reports").join(report).exists(), "{report} removed");
    }
    assert!(project.join("reports/reconciliation.md").exists(), "counts stay");
    assert_eq!(status_counts(&project), counts, "status shows the same runs and counts");
    assert!(count(&project, "SELECT COUNT(*) FROM records WHERE pipedrive_id IS NOT NULL") > 400, "ids stay");

    // Rollback still works from the ids alone.
    let output = in_project_loose(&project, &["rollback", "--yes"]);
    assert!(text(&output.stdout).contains("residue: none"), "{}", text(&output.stdout));
}

#[test]
fn purge_refuses_before_any_run_and_while_the_last_run_is_unfinished_or_stopped_saying_what_to_do() {
    let (_dir, project) = loose_project("http://127.0.0.1:9");
    in_project_loose(&project, &["status"]);
    let purge = || run_loose(&["-C", project.to_str().unwrap(), "purge", "--yes"]);
    let output = purge();
    assert!(
        !output.status.success() && text(&output.stderr).contains("nothing was migrated yet"),
        "{}",
        text(&output.stderr)
    );

    let connection = rusqlite::Connection::open(project.join("state.db")).unwrap();
    let sql = |statement: &str| connection.execute_batch(statement).unwrap();
    sql(
        "INSERT INTO runs (id, kind, mapping_digest, started_at) VALUES (1, 'full', 'sha256:x', '2026-11-30T10:00:00Z')",
    );
    sql(
        "INSERT INTO records (object, source_id, fate, run_id, updated_at, sent) VALUES ('contact', '1', 'created', 1, 't', '{\"email\":\"a@b.pl\"}')",
    );
    let output = purge();
    let stderr = text(&output.stderr);
    assert!(
        !output.status.success()
            && stderr.contains("run 1")
            && stderr.contains("did not finish")
            && stderr.contains("apply"),
        "{stderr}"
    );

    sql("UPDATE runs SET finished_at = 't', outcome = 'stopped: daily budget used up'");
    let stderr = text(&purge().stderr);
    assert!(stderr.contains("stopped: daily budget used up") && stderr.contains("finish the migration"), "{stderr}");

    sql(
        "UPDATE runs SET outcome = 'done'; INSERT INTO records (object, source_id, fate, run_id, updated_at) VALUES ('contact', '2', 'intent', 1, 't')",
    );
    let stderr = text(&purge().stderr);
    assert!(stderr.contains("creates sent without a recorded answer: 1"), "{stderr}");
    assert_eq!(
        count(&project, "SELECT COUNT(*) FROM records WHERE sent IS NOT NULL"),
        1,
        "nothing was purged by a refused purge"
    );

    sql("DELETE FROM records WHERE fate = 'intent'");
    drop(connection);
    let output = purge();
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(count(&project, "SELECT COUNT(*) FROM records WHERE sent IS NOT NULL"), 0);
}
