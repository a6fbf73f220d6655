//! A hostile or broken export cannot exhaust memory or move the wrong records: a wide row, a
//! huge cell and an unterminated quote each end in a clear error (file, line, limit) while the
//! command runs under a memory limit the test sets; a duplicated source id is named by the audit
//! and quarantined, every row of it, by apply.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Output;

use crm_migrate::record::ObjectKind;
use crm_migrate_sandbox::SandboxConfig;
use serde_json::Value;

use crate::extract::{sample_export, sample_export_copy};
use crate::pipedrive_support::TOKEN;
use crate::plan::{in_project, prepared_sandbox_with, text};

/// The data segment a child may use (`RLIMIT_DATA`: heap and private writable mappings). The
/// audit of the sample needs far less; before input bounds, a 64 MB cell or a quote left open
/// over 40 MB needed more and the child died on an allocation.
const MEMORY_LIMIT: u64 = 160 << 20;

/// Runs the binary with `args` under [`MEMORY_LIMIT`] (set in the child only: other tests of
/// this binary reserve a lot of virtual memory).
#[allow(unsafe_code)] // setrlimit in the child
fn run_limited(args: &[&str]) -> Output {
    let cache = tempfile::tempdir().unwrap();
    let mut command = crate::support::crm_migrate();
    command.args(args).env("CRM_MIGRATE_CACHE_DIR", cache.path()).env("PIPEDRIVE_API_TOKEN", TOKEN);
    // SAFETY: setrlimit is async-signal-safe and touches nothing of the parent.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit { rlim_cur: MEMORY_LIMIT, rlim_max: MEMORY_LIMIT };
            if libc::setrlimit(libc::RLIMIT_DATA, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command.output().expect("the binary runs")
}

/// A copy of the sample export in a fresh directory.
fn copy_of_sample() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let export = sample_export_copy(&dir.path().join("export"));
    (dir, export)
}

/// The lines of the sample's users.csv (CRLF line ends), header first.
fn users_lines() -> Vec<String> {
    let text = std::fs::read_to_string(sample_export().join("users.csv")).unwrap();
    text.split("\r\n").filter(|line| !line.is_empty()).map(str::to_owned).collect()
}

fn write_users(export: &Path, lines: impl IntoIterator<Item = String>) {
    let mut file = std::io::BufWriter::new(std::fs::File::create(export.join("users.csv")).unwrap());
    for line in lines {
        file.write_all(line.as_bytes()).unwrap();
        file.write_all(b"\r\n").unwrap();
    }
    file.flush().unwrap();
}

/// `audit` of `export` under the memory limit: it must fail with an error naming users.csv,
/// the line, and the limit with how to raise it.
fn assert_refused_clearly(dir: &Path, export: &Path, line: u64, limit: &str) {
    let out = dir.join("reports");
    let output = run_limited(&["audit", "--export", export.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let stderr = text(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "a clear error, not a crash on allocation (signal: {:?}):\n{stderr}",
        std::os::unix::process::ExitStatusExt::signal(&output.status)
    );
    assert!(stderr.contains(&format!("users.csv, line {line}")), "names the file and line:\n{stderr}");
    assert!(
        stderr.contains(limit) && stderr.contains("[source.limits]") && stderr.contains("migration.toml"),
        "names the limit and how to raise it:\n{stderr}"
    );
}

#[test]
fn the_sample_audits_under_the_memory_limit() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("reports");
    let output = run_limited(&["audit", "--export", sample_export().to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
}

#[test]
fn a_row_ending_in_50000_commas_is_refused_with_its_line_and_the_column_limit() {
    // 50,000 commas; and 30 million, a row under the row length limit that the parser alone
    // would hold as 30 million cell offsets.
    for commas in [50_000, 30 << 20] {
        let (dir, export) = copy_of_sample();
        let mut lines = users_lines();
        lines[2].push_str(&",".repeat(commas));
        write_users(&export, lines);
        assert_refused_clearly(dir.path(), &export, 3, "max_columns");
    }
}

#[test]
fn a_64_mb_cell_is_refused_with_its_line_and_the_cell_limit() {
    let (dir, export) = copy_of_sample();
    let mut lines = users_lines();
    // The city of the contact on line 4, 64 MB long.
    let mut cells: Vec<String> = lines[3].split(',').map(str::to_owned).collect();
    let city = lines[0].split(',').position(|header| header == "city").unwrap();
    cells[city] = "x".repeat(64 << 20);
    lines[3] = cells.join(",");
    write_users(&export, lines);
    assert_refused_clearly(dir.path(), &export, 4, "max_cell_bytes");
}

/// 40 MB of valid contacts without a quote character (so that a quote left open is never
/// closed): the sample's, lists written with `;`, with fresh ids and emails and no phone numbers
/// (so that they are not one big duplicate group).
fn large_users() -> Vec<String> {
    let lines = users_lines();
    let data = lines[1..].join("\n");
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(data.as_bytes());
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|row| row.unwrap().iter().map(|cell| cell.replace('"', "").replace(',', ";")).collect())
        .collect();
    let mut out = vec![lines[0].clone()];
    let mut id = 1_000_000u64;
    let mut bytes = 0;
    while bytes < 40 << 20 {
        for cells in &rows {
            let mut cells = cells.clone();
            cells[3] = if cells[3].is_empty() { String::new() } else { format!("{id}.{}", cells[3]) };
            cells[0] = id.to_string();
            cells[6] = String::new();
            let row = cells.join(",");
            bytes += row.len() + 2;
            out.push(row);
            id += 1;
        }
    }
    out
}

#[test]
fn a_quote_left_open_near_the_start_of_a_40_mb_file_is_refused_at_its_line() {
    let (dir, export) = copy_of_sample();
    let mut lines = large_users();
    // Line 3's first name opens a quote that nothing closes: the rest of the file would be one cell.
    let (id, rest) = lines[2].split_once(',').unwrap();
    lines[2] = format!("{id},\"{rest}");
    write_users(&export, lines);
    assert_refused_clearly(dir.path(), &export, 3, "max_cell_bytes");
}

#[test]
fn a_quote_left_open_at_the_end_of_a_40_mb_file_is_refused_at_its_line() {
    let (dir, export) = copy_of_sample();
    let mut lines = large_users();
    let last = lines.len();
    let (id, rest) = lines[last - 1].split_once(',').unwrap();
    lines[last - 1] = format!("{id},\"{rest}");
    write_users(&export, lines);
    let out = dir.path().join("reports");
    let output = run_limited(&["audit", "--export", export.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("users.csv, line {last}")) && stderr.contains("quote"),
        "names the file, the line and the open quote:\n{stderr}"
    );
}

#[test]
fn the_limits_are_raised_in_migration_toml() {
    let sandbox = prepared_sandbox_with(SandboxConfig::default());
    let (dir, export) = copy_of_sample();
    let mut lines = users_lines();
    lines[2].push_str(&",".repeat(3_000));
    write_users(&export, lines);
    let project = dir.path().join("zubr");
    let output = crate::plan::run(&[
        "init",
        project.to_str().unwrap(),
        "--export",
        export.to_str().unwrap(),
        "--pipedrive",
        &sandbox.url(),
        "--plan",
        "premium",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    crate::plan::migrate_duplicates_as_they_are(&project);
    let template = std::fs::read_to_string(project.join("migration.toml")).unwrap();
    assert!(
        template.contains("# [source.limits]")
            && template.contains("max_columns")
            && template.contains("max_cell_bytes")
            && template.contains("max_record_bytes"),
        "documented:\n{template}"
    );
    let refused = in_project(&project, &["audit"]);
    assert!(!refused.status.success() && text(&refused.stderr).contains("max_columns"), "{}", text(&refused.stderr));

    let config = template.replace("[target]", "[source.limits]\nmax_columns = 4000\n\n[target]");
    std::fs::write(project.join("migration.toml"), config).unwrap();
    let audited = in_project(&project, &["audit"]);
    assert!(audited.status.success(), "{}", text(&audited.stderr));
    let planned = in_project(&project, &["plan"]);
    assert!(planned.status.success(), "plan reads the export with the project's limits too: {}", text(&planned.stderr));
}

/// The sample with a second row for its first contact's id (another name and email) at the end.
fn export_with_a_duplicated_contact() -> (tempfile::TempDir, PathBuf, String, u64) {
    let (dir, export) = copy_of_sample();
    let mut lines = users_lines();
    let first = lines[1].clone();
    let header: Vec<&str> = lines[0].split(',').collect();
    let mut cells: Vec<String> = first.split(',').map(str::to_owned).collect();
    let at = |name: &str| header.iter().position(|h| *h == name).unwrap();
    cells[at("email")] = "zofia.duplikat@example.pl".into();
    cells[at("first_name")] = "Zofia".into();
    cells[at("last_name")] = "Duplikat".into();
    cells[at("key")] = "ffffffffffffffff".into();
    let id = cells[0].clone();
    lines.push(cells.join(","));
    let line = lines.len() as u64;
    write_users(&export, lines);
    (dir, export, id, line)
}

#[test]
fn a_duplicated_contact_id_is_named_by_the_audit_and_every_row_of_it_is_quarantined_by_apply() {
    let _machine = crate::support::heavy();
    let sandbox = prepared_sandbox_with(SandboxConfig { burst_limit: Some(1000), ..SandboxConfig::default() });
    let (dir, export, id, line) = export_with_a_duplicated_contact();
    let lines = users_lines();
    let first_email = lines[1].split(',').nth(3).unwrap().to_owned();
    assert!(first_email.contains('@'));
    let rows = lines.len() as u64; // the sample's data rows plus the duplicate

    // The audit names the id and both lines, in its summary and its reports.
    let out = dir.path().join("audit");
    let output = crate::plan::run(&["audit", "--export", export.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let named = format!("{id} on lines 2, {line}");
    assert!(text(&output.stdout).contains(&named), "the summary names it:\n{}", text(&output.stdout));
    let markdown = std::fs::read_to_string(out.join("audit.md")).unwrap();
    assert!(
        markdown.contains("Duplicate ids")
            && markdown.contains(&format!("`{id}`"))
            && markdown.contains(&format!("2, {line}")),
        "{markdown}"
    );
    let json: Value = serde_json::from_slice(&std::fs::read(out.join("audit.json")).unwrap()).unwrap();
    let duplicates = json["duplicate_ids"].as_array().unwrap();
    assert_eq!(duplicates.len(), 1, "{duplicates:?}");
    assert_eq!((duplicates[0]["file"].as_str(), duplicates[0]["id"].as_str()), (Some("users.csv"), Some(id.as_str())));
    assert_eq!(duplicates[0]["lines"], serde_json::json!([2, line]));

    // Apply creates neither row, lists both in quarantine.csv, and its counts add up to the rows.
    let project = dir.path().join("zubr");
    let output = crate::plan::run(&[
        "init",
        project.to_str().unwrap(),
        "--export",
        export.to_str().unwrap(),
        "--pipedrive",
        &sandbox.url(),
        "--plan",
        "premium",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    crate::plan::migrate_duplicates_as_they_are(&project);
    for step in [&["plan"][..], &["approve", "--yes", "--by", "test"]] {
        let output = in_project(&project, step);
        assert!(output.status.success(), "{}", text(&output.stderr));
    }
    let output = in_project(&project, &["apply", "--concurrency", "16"]);
    let stderr = text(&output.stderr);
    assert!(output.status.success(), "{}\n{stderr}", text(&output.stdout));

    let state = sandbox.state();
    let emails: Vec<String> = state["persons"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|person| person["emails"].as_array().cloned().unwrap_or_default())
        .filter_map(|email| email["value"].as_str().map(str::to_lowercase))
        .collect();
    assert!(!emails.is_empty());
    for email in [first_email.to_lowercase(), "zofia.duplikat@example.pl".to_owned()] {
        assert!(!emails.contains(&email), "{email} was sent to Pipedrive");
    }

    let quarantine = std::fs::read_to_string(project.join("reports/quarantine.csv")).unwrap();
    let reason = format!("duplicate source id {id} on lines 2, {line} of users.csv: resolve in the export");
    for row in [2, line] {
        assert!(
            quarantine.lines().any(|l| l.starts_with(&format!("contact,{id},{row},")) && l.contains(&reason)),
            "row {row}:\n{quarantine}"
        );
    }

    // persons: ROWS = created + merged + quarantined + excluded + duplicate-id rows.
    let persons = stderr
        .lines()
        .find(|l| l.trim_start().starts_with("contact: ") && l.contains(" = "))
        .unwrap_or_else(|| panic!("{stderr}"));
    let numbers: Vec<u64> = persons
        .split(|c: char| !c.is_ascii_digit() && c != ',')
        .filter_map(|n| n.replace(',', "").parse().ok())
        .collect();
    assert_eq!(numbers[0], rows, "counts rows: {persons}");
    assert_eq!(numbers[1..].iter().sum::<u64>(), rows, "adds up: {persons}");
    assert!(persons.contains("+ 2 duplicate-id rows quarantined"), "{persons}");
    let reconciliation = std::fs::read_to_string(project.join("reports/reconciliation.md")).unwrap();
    assert!(!reconciliation.contains("**no**"), "{reconciliation}");
    assert!(reconciliation.contains("Duplicate ids"), "{reconciliation}");
}

/// Appends to `file` of `export` a copy of its first record, as written; returns its id.
fn duplicate_first_record(export: &Path, file: &str) -> String {
    let path = export.join(file);
    let bytes = std::fs::read(&path).unwrap();
    let header = bytes.split(|b| *b == b'\n').next().unwrap();
    let delimiter = [b',', b';', b'\t'].into_iter().max_by_key(|d| header.iter().filter(|b| *b == d).count()).unwrap();
    let mut reader = csv::ReaderBuilder::new().has_headers(false).delimiter(delimiter).from_reader(bytes.as_slice());
    let mut record = csv::ByteRecord::new();
    reader.read_byte_record(&mut record).unwrap();
    reader.read_byte_record(&mut record).unwrap();
    let (start, id) = (record.position().unwrap().byte() as usize, String::from_utf8_lossy(&record[0]).into_owned());
    reader.read_byte_record(&mut record).unwrap();
    let end = record.position().unwrap().byte() as usize;
    let mut copy = bytes[start..end].to_vec();
    let mut out = bytes.clone();
    if !out.ends_with(b"\n") {
        out.extend_from_slice(b"\r\n");
    }
    out.append(&mut copy);
    std::fs::write(&path, out).unwrap();
    id
}

#[test]
fn a_duplicated_id_in_any_object_file_is_named_by_the_audit_and_quarantined_by_apply() {
    let _machine = crate::support::heavy();
    let sandbox = prepared_sandbox_with(SandboxConfig { burst_limit: Some(1000), ..SandboxConfig::default() });
    let (dir, export) = copy_of_sample();
    let files = [
        ("companies.csv", "company"),
        ("deals.csv", "deal"),
        ("activities.csv", "activity"),
        ("events.csv", "event"),
        ("conversations.csv", "conversation"),
    ];
    let ids: Vec<String> = files.iter().map(|(file, _)| duplicate_first_record(&export, file)).collect();

    let out = dir.path().join("audit");
    let output =
        crate::plan::run(&["audit", "--export", export.to_str().unwrap(), "--out", out.to_str().unwrap(), "--json"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    let listed: Vec<(String, String)> = summary["duplicate_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["file"].as_str().unwrap().to_owned(), d["id"].as_str().unwrap().to_owned()))
        .collect();
    for ((file, _), id) in files.iter().zip(&ids) {
        assert!(listed.contains(&(file.to_string(), id.clone())), "{file} {id} in {listed:?}");
    }

    let project = dir.path().join("zubr");
    let output = crate::plan::run(&[
        "init",
        project.to_str().unwrap(),
        "--export",
        export.to_str().unwrap(),
        "--pipedrive",
        &sandbox.url(),
        "--plan",
        "premium",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    crate::plan::migrate_duplicates_as_they_are(&project);
    for step in [&["plan"][..], &["approve", "--yes", "--by", "test"], &["apply", "--concurrency", "16"]] {
        let output = in_project(&project, step);
        assert!(output.status.success(), "{}\n{}", text(&output.stdout), text(&output.stderr));
    }
    let quarantine = std::fs::read_to_string(project.join("reports/quarantine.csv")).unwrap();
    for ((file, object), id) in files.iter().zip(&ids) {
        if *object == "conversation" {
            // A note is a whole conversation: the one holding the duplicated message is quarantined.
            assert!(
                quarantine
                    .lines()
                    .any(|l| l.starts_with("conversation,")
                        && l.contains(&format!("duplicate source id {id} on lines 2, "))),
                "{quarantine}"
            );
            continue;
        }
        let rows = quarantine
            .lines()
            .filter(|l| {
                l.starts_with(&format!("{object},{id},"))
                    && l.contains(&format!("duplicate source id {id} on lines 2, "))
                    && l.contains(file)
            })
            .count();
        assert_eq!(rows, 2, "{object} {id}: both rows in quarantine.csv:\n{quarantine}");
    }
    let reconciliation = std::fs::read_to_string(project.join("reports/reconciliation.md")).unwrap();
    assert!(!reconciliation.contains("**no**"), "{reconciliation}");
    // Nothing was sent for those ids: no marker of theirs in Pipedrive (the next record's is).
    let state = sandbox.state();
    let marked = |collection: &str, id: &str| {
        let marker =
            |value: &str| value == id || [" ", ":", "/"].iter().any(|sep| value.ends_with(&format!("{sep}{id}")));
        state[collection].as_object().unwrap().values().any(|record| {
            record["custom_fields"].as_object().into_iter().flatten().any(|(_, v)| v.as_str().is_some_and(marker))
        })
    };
    let sample =
        crm_migrate::extract::Export::open(&sample_export(), crm_migrate::extract::ExportOptions::default()).unwrap();
    for (at, collection, kind) in [(0, "organizations", ObjectKind::Company), (1, "deals", ObjectKind::Deal)] {
        let others = sample
            .records(kind)
            .unwrap()
            .unwrap()
            .map(|read| read.unwrap().record.source_id)
            .filter(|id| *id != ids[at]);
        assert!(others.filter(|id| marked(collection, id)).count() > 10, "{collection} are found by their marker");
        assert!(!marked(collection, &ids[at]), "{} {} was sent", files[at].1, ids[at]);
    }
}
