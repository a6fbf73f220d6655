//! Reports opened as spreadsheets cannot be steered by the export: a cell that would start a
//! formula in Excel or LibreOffice (`=`, `+`, `-`, `@`, tab, carriage return) is written with a
//! leading `'`, as OWASP advises against CSV injection; plain numbers (`-12.5`, `+48500000002`)
//! stay as they are.

use std::path::{Path, PathBuf};

use crate::extract::sample_export_copy;
use crate::plan::{in_project, prepared_sandbox_with, run, text};

const HOSTILE_ID: &str = "@SUM(A1)";
const HOSTILE_EMAIL: &str = "=HYPERLINK(\"http://evil.example\",\"x\")";
const HOSTILE_PHONE: &str = "+1+1";

/// The sample export with one more contact, first in users.csv, whose id, email, phone and
/// name are formulas (and whose score, email and phone are unreadable, so apply lists them in
/// quarantine.csv as fields left out, each with its formula value).
fn hostile_export(dir: &Path) -> PathBuf {
    let export = sample_export_copy(&dir.join("export"));
    let users = std::fs::read_to_string(export.join("users.csv")).unwrap();
    let (header, rest) = users.split_once('\n').unwrap();
    let columns: Vec<&str> = header.trim_start_matches('\u{feff}').trim_end_matches('\r').split(',').collect();
    let row: Vec<&str> = columns
        .iter()
        .map(|column| match *column {
            "id" => HOSTILE_ID,
            "email" => HOSTILE_EMAIL,
            "Phone number" => HOSTILE_PHONE,
            "first_name" => "-2+3",
            "last_name" => "\tcmd",
            "score" => "not a number",
            _ => "",
        })
        .collect();
    let mut line = csv::Writer::from_writer(Vec::new());
    line.write_record(&row).unwrap();
    let line = String::from_utf8(line.into_inner().unwrap()).unwrap();
    std::fs::write(export.join("users.csv"), format!("{header}\n{line}{rest}")).unwrap();
    export
}

/// A number as a spreadsheet reads it: it cannot be a formula.
fn plain_number(cell: &str) -> bool {
    let digits = cell.strip_prefix(['+', '-']).unwrap_or(cell);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    !whole.is_empty() && whole.bytes().all(|b| b.is_ascii_digit()) && fraction.bytes().all(|b| b.is_ascii_digit())
}

/// Every row of a report, each cell as written.
fn rows(path: &Path) -> Vec<Vec<String>> {
    let mut reader = csv::Reader::from_path(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    reader.records().map(|row| row.unwrap().iter().map(str::to_owned).collect()).collect()
}

fn assert_no_formula_starts(path: &Path, rows: &[Vec<String>]) {
    for (index, row) in rows.iter().enumerate() {
        for cell in row {
            let starts_formula = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
            assert!(
                !starts_formula || plain_number(cell),
                "{}, row {}: cell {cell:?} starts a formula",
                path.display(),
                index + 2
            );
        }
    }
}

#[test]
fn billing_audit_csv_neutralizes_formula_cells_from_the_export() {
    let dir = tempfile::tempdir().unwrap();
    let export = hostile_export(dir.path());
    let out = dir.path().join("reports");
    let output = run(&["audit", "--export", export.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));

    let path = out.join("billing-audit.csv");
    let rows = rows(&path);
    assert_no_formula_starts(&path, &rows);
    let hostile = rows
        .iter()
        .find(|row| row[0] == format!("'{HOSTILE_ID}"))
        .expect("the hostile contact is billable, its id neutralized");
    assert_eq!(hostile[2], format!("'{HOSTILE_EMAIL}"));
    assert_eq!(hostile[3], format!("'{HOSTILE_PHONE}"));
    let plain = rows.iter().find(|row| row[0] == "10002").unwrap();
    assert_eq!(plain[3], "+48500000002", "a plain number is left as it is");
}

#[test]
fn quarantine_csv_neutralizes_formula_cells_from_the_export() {
    let _machine = crate::support::heavy();
    let dir = tempfile::tempdir().unwrap();
    let export = hostile_export(dir.path());
    let sandbox =
        prepared_sandbox_with(crm_migrate_sandbox::SandboxConfig { burst_limit: Some(1000), ..Default::default() });
    let project = dir.path().join("zubr");
    let init =
        run(&["init", project.to_str().unwrap(), "--export", export.to_str().unwrap(), "--pipedrive", &sandbox.url()]);
    assert!(init.status.success(), "{}", text(&init.stderr));
    crate::plan::migrate_duplicates_as_they_are(&project);
    for step in [&["plan"][..], &["approve", "--yes"], &["apply", "--sample", "1"]] {
        let output = in_project(&project, step);
        assert!(output.status.success(), "{step:?}: {}\n{}", text(&output.stdout), text(&output.stderr));
    }

    let path = project.join("reports/quarantine.csv");
    let rows = rows(&path);
    assert_no_formula_starts(&path, &rows);
    assert!(
        rows.iter().any(|row| row[0] == "contact" && row[1] == format!("'{HOSTILE_ID}")),
        "the hostile contact's values are listed, its id neutralized: {rows:?}"
    );
    let email = rows
        .iter()
        .find(|row| row[1] == format!("'{HOSTILE_ID}") && row[6] == "email")
        .expect("its email is listed as left out");
    assert_eq!(email[7], format!("'{HOSTILE_EMAIL}"), "the value column is neutralized too");
}
