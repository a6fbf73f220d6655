//! A hostile or broken export cannot exhaust memory: a wide row, a huge cell and an unterminated
//! quote each end in a clear error (file, line, limit) while the command runs under a memory
//! limit the test sets.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crm_migrate_sandbox::SandboxConfig;

use crate::extract::sample_export;
use crate::pipedrive_support::TOKEN;
use crate::plan::{in_project, prepared_sandbox_with, text};

/// The data segment a child may use (`RLIMIT_DATA`: heap and private writable mappings). The
/// audit of the sample needs far less; before input bounds, a 64 MB cell or a quote left open
/// over 40 MB needed more and the child died on an allocation.
const MEMORY_LIMIT: u64 = 160 << 20;

/// Runs the binary with `args` under [`MEMORY_LIMIT`] (set in the child only: other tests of
/// this binary reserve a lot of virtual memory).
fn run_limited(args: &[&str]) -> Output {
    let cache = tempfile::tempdir().unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_crm-migrate"));
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
    let export = dir.path().join("export");
    std::fs::create_dir(&export).unwrap();
    for entry in std::fs::read_dir(sample_export()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), export.join(entry.file_name())).unwrap();
    }
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
    assert_eq!(output.status.code(), Some(1), "a clear error, not a crash on allocation (signal: {:?}):\n{stderr}", std::os::unix::process::ExitStatusExt::signal(&output.status));
    assert!(stderr.contains(&format!("users.csv, line {line}")), "names the file and line:\n{stderr}");
    assert!(stderr.contains(limit) && stderr.contains("[source.limits]") && stderr.contains("migration.toml"), "names the limit and how to raise it:\n{stderr}");
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
    let (dir, export) = copy_of_sample();
    let mut lines = users_lines();
    lines[2].push_str(&",".repeat(50_000));
    write_users(&export, lines);
    assert_refused_clearly(dir.path(), &export, 3, "max_columns");
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
    let rows: Vec<Vec<String>> = reader.records().map(|row| row.unwrap().iter().map(|cell| cell.replace('"', "").replace(',', ";")).collect()).collect();
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
    assert!(stderr.contains(&format!("users.csv, line {last}")) && stderr.contains("quote"), "names the file, the line and the open quote:\n{stderr}");
}

#[test]
fn the_limits_are_raised_in_migration_toml() {
    let sandbox = prepared_sandbox_with(SandboxConfig::default());
    let (dir, export) = copy_of_sample();
    let mut lines = users_lines();
    lines[2].push_str(&",".repeat(3_000));
    write_users(&export, lines);
    let project = dir.path().join("zubr");
    let output = crate::plan::run(&["init", project.to_str().unwrap(), "--export", export.to_str().unwrap(), "--pipedrive", &sandbox.url(), "--plan", "premium"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let template = std::fs::read_to_string(project.join("migration.toml")).unwrap();
    assert!(template.contains("# [source.limits]") && template.contains("max_columns") && template.contains("max_cell_bytes") && template.contains("max_record_bytes"), "documented:\n{template}");
    let refused = in_project(&project, &["audit"]);
    assert!(!refused.status.success() && text(&refused.stderr).contains("max_columns"), "{}", text(&refused.stderr));

    let config = template.replace("[target]", "[source.limits]\nmax_columns = 4000\n\n[target]");
    std::fs::write(project.join("migration.toml"), config).unwrap();
    let audited = in_project(&project, &["audit"]);
    assert!(audited.status.success(), "{}", text(&audited.stderr));
    let planned = in_project(&project, &["plan"]);
    assert!(planned.status.success(), "plan reads the export with the project's limits too: {}", text(&planned.stderr));
}
