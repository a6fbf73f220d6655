//! The audit finds exactly the troubles the generator planted, and `crm-migrate audit` writes its
//! three reports.

use std::collections::BTreeMap;
use std::path::Path;

use crm_migrate::audit::{self, Audit};
use crm_migrate::extract::{Export, ExportOptions, FileKind};
use usercom_export_gen::{Options, Planted};

use crate::extract::{planted, sample_export};

fn audit_of(dir: &Path) -> (Audit, String) {
    let export = Export::open(dir, ExportOptions::default()).unwrap();
    let mut billing = Vec::new();
    let audit = audit::run(&export, &mut billing).unwrap();
    (audit, String::from_utf8(billing).unwrap())
}

/// The audit's findings in the planted manifest's terms.
fn assert_finds_what_was_planted(audit: &Audit, planted: &Planted) {
    for (object, count) in &planted.counts {
        assert_eq!(audit.counts.get(object), Some(count), "count of {object}");
    }
    assert_eq!(audit.counts["conversations"], planted.conversations);
    assert_eq!(audit.duplicates.by_email.len() as u64, planted.duplicate_email_groups);
    assert_eq!(audit.duplicates.by_phone.len() as u64, planted.duplicate_phone_groups);
    assert!(audit.duplicates.by_email.iter().chain(&audit.duplicates.by_phone).all(|group| group.contacts.len() == 2));
    let orphans: BTreeMap<String, u64> =
        audit.orphans.iter().map(|o| (format!("{}.{}", o.object, o.field), o.count)).collect();
    assert_eq!(orphans, planted.orphans);
    let mismatches: BTreeMap<String, u64> =
        audit.mismatches.iter().map(|m| (format!("{}.{}", m.object, m.field), m.count)).collect();
    assert_eq!(mismatches, planted.mismatches);
    let mut billing = audit.billing.reasons.clone();
    billing.insert("billable".into(), audit.billing.billable);
    assert_eq!(billing, planted.billing);
    let inferred: BTreeMap<String, String> =
        audit.inferred_columns.iter().map(|c| (format!("{}.{}", c.object, c.field), c.ty.to_owned())).collect();
    assert_eq!(inferred, planted.undefined_columns);
}

#[test]
fn sample_export_audit_finds_exactly_the_planted_troubles() {
    let (audit, billing_csv) = audit_of(&sample_export());
    assert_finds_what_was_planted(&audit, &planted());
    assert!(audit.missing_files.is_empty());
    // One CSV row per billable contact, with its reasons.
    let rows: Vec<&str> = billing_csv.lines().collect();
    assert_eq!(rows[0], "contact_id,line,email,phone_number,user_id,reasons");
    assert_eq!(rows.len() as u64 - 1, audit.billing.billable);
    assert!(rows.iter().any(|row| row.ends_with(",chat")), "a visitor billable only for chatting");
    // Secrets never reach a report.
    let fcm_key = std::fs::read_to_string(sample_export().join("users.csv"))
        .unwrap()
        .lines()
        .find_map(|line| line.split(',').find(|cell| cell.starts_with("fcm:")).map(str::to_owned))
        .unwrap();
    assert!(!billing_csv.contains(&fcm_key));
    assert!(!serde_json::to_string(&audit).unwrap().contains(&fcm_key));
}

#[test]
fn the_committed_sample_is_what_the_generator_writes() {
    let dir = tempfile::tempdir().unwrap();
    let planted_now = usercom_export_gen::generate(dir.path(), &Options::default()).unwrap();
    assert_eq!(
        planted_now,
        planted(),
        "regenerate: cargo run -p usercom-export-gen -- --out examples/usercom-export --planted examples/usercom-export.planted.json"
    );
    for entry in std::fs::read_dir(sample_export()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            std::fs::read(dir.path().join(name)).unwrap(),
            "{name:?} differs from the generator's"
        );
    }
}

#[test]
fn a_larger_generated_export_scales_its_troubles_and_the_audit_still_finds_them_all() {
    let dir = tempfile::tempdir().unwrap();
    let planted =
        usercom_export_gen::generate(dir.path(), &Options { seed: 99, contacts: 3000, ..Options::default() }).unwrap();
    assert_eq!(planted.duplicate_email_groups, 72);
    let (audit, _) = audit_of(dir.path());
    assert_finds_what_was_planted(&audit, &planted);
}

#[test]
fn the_newer_export_for_delta_migration_has_the_same_troubles_and_its_changes() {
    let dir = tempfile::tempdir().unwrap();
    let planted = usercom_export_gen::generate(dir.path(), &Options { changes: true, ..Options::default() }).unwrap();
    let (audit, _) = audit_of(dir.path());
    assert_finds_what_was_planted(&audit, &planted);
    assert_eq!(audit.counts["contacts"], 500 + planted.changes["contacts_added"] - planted.changes["contacts_deleted"]);
    assert_eq!(audit.counts["deals"], 150 + planted.changes["deals_added"]);
}

#[test]
fn missing_files_are_listed_and_references_into_them_are_not_called_orphans() {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(sample_export()).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_owned();
        if name != "companies.csv" && name != "events.csv" {
            std::fs::copy(&path, dir.path().join(name)).unwrap();
        }
    }
    let (audit, _) = audit_of(dir.path());
    assert_eq!(audit.missing_files, [FileKind::Companies, FileKind::Events]);
    assert!(audit.orphans.iter().all(|o| o.target != crm_migrate::extract::Target::Company), "{:?}", audit.orphans);
    assert!(!audit.counts.contains_key("companies"));
    assert_eq!(audit.counts["contacts"], 500);
}

fn crm_migrate(args: &[&str], cwd: &Path) -> std::process::Output {
    crate::support::crm_migrate().args(args).current_dir(cwd).output().expect("the binary runs")
}

#[test]
fn audit_command_writes_three_reports_and_prints_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let export = sample_export();
    let output = crm_migrate(&["audit", "--export", export.to_str().unwrap()], dir.path());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("duplicates  12 groups by email, 8 by phone"), "{stdout}");
    assert!(stdout.contains("billable    475 of 500 contacts"), "{stdout}");
    let reports = dir.path().join("reports");
    let mut written: Vec<String> =
        std::fs::read_dir(&reports).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    written.sort();
    assert_eq!(written, ["audit.json", "audit.md", "billing-audit.csv"], "nothing else, no leftovers");
    let markdown = std::fs::read_to_string(reports.join("audit.md")).unwrap();
    assert!(markdown.contains("| deal.stage_id | stage | 5 |"), "{markdown}");
    assert!(
        markdown.contains("| companies | `companies.csv` | windows-1250 | detected from letters | semicolon | 80 |"),
        "{markdown}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(reports.join("audit.json")).unwrap()).unwrap();
    assert_eq!(json["billing"]["billable"], 475);
    assert_eq!(json["inventory"]["segments"].as_array().unwrap().len(), 5);
    assert_eq!(json["inventory"]["automations"].as_array().unwrap().len(), 6);
    assert_eq!(json["inventory"]["email_templates"].as_array().unwrap().len(), 4);

    let out = dir.path().join("elsewhere");
    let output = crm_migrate(
        &["audit", "--export", export.to_str().unwrap(), "--out", out.to_str().unwrap(), "--json"],
        dir.path(),
    );
    assert!(output.status.success());
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON summary");
    assert_eq!(summary["duplicate_groups"]["by_email"], 12);
    assert_eq!(summary["orphans"]["deal.stage_id"], 5);
    assert_eq!(summary["bad_values"]["contact.orders_count"], 3);
    assert!(out.join("billing-audit.csv").exists());
}

#[test]
fn audit_command_errors_name_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let output = crm_migrate(&["audit", "--export", "no-such-export"], dir.path());
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot read the export directory no-such-export"), "{stderr}");
    assert!(!dir.path().join("reports").exists(), "no reports for an export that was not read");

    let output = crm_migrate(&["audit", "--export", ".", "--encoding", "klingon"], dir.path());
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown encoding 'klingon'"));

    let output = crm_migrate(&["audit", "--help"], dir.path());
    assert!(
        String::from_utf8_lossy(&output.stdout)
            .contains("Example:\n  crm-migrate audit --export examples/usercom-export")
    );
}
