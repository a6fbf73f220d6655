//! Source ids as User.com writes them are text: apply's links keep `007` apart from `7`, and
//! link ids that are not numbers, or numbers past u64, as exactly as the numeric ones.

use std::io::Write;
use std::path::Path;

use crm_migrate_sandbox::SandboxConfig;
use serde_json::json;

use crate::apply::{apply, canonical, fast};
use crate::plan::{in_project, init_on_sandbox, migrate_duplicates_as_they_are, text};

/// (company id, its name, contact id, the contact's email): each contact works at its company.
const HOSTILE: [(&str, &str, &str, &str); 5] = [
    ("007", "Padded Seven", "00042", "padded.seven@example.com"),
    ("7", "Plain Seven", "42", "plain.seven@example.com"),
    ("abc-7", "Letters Seven", "x-42", "letters.seven@example.com"),
    ("18446744073709551616", "Past u64", "18446744073709551617", "past.u64@example.com"),
    ("18446744073709551615", "u64 max", "0", "u64.max@example.com"),
];

fn append(path: &Path, lines: &[String]) {
    let mut file = std::fs::OpenOptions::new().append(true).open(path).unwrap();
    for line in lines {
        file.write_all(line.as_bytes()).unwrap();
    }
}

#[test]
fn ids_with_leading_zeros_letters_or_past_u64_link_to_their_own_records() {
    let _machine = crate::support::heavy();
    let sandbox = fast(SandboxConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let export = crate::extract::sample_export_copy(&dir.path().join("usercom-export"));
    let companies: Vec<String> =
        HOSTILE.iter().map(|(id, name, _, _)| format!("{id};{name};;;;;2021-01-01T00:00:00Z;;;\r\n")).collect();
    append(&export.join("companies.csv"), &companies);
    // 29 columns: id, custom_id, key, email, first_name, last_name, ..., company_id (the 10th).
    let contacts: Vec<String> = HOSTILE
        .iter()
        .map(|(company, _, id, email)| {
            let mut row = vec![String::new(); 29];
            row[0] = (*id).into();
            row[3] = (*email).into();
            row[4] = "Hostile".into();
            row[5] = format!("Id{id}");
            row[9] = (*company).into();
            row[13] = "2021-01-01T00:00:00Z".into();
            format!("{}\r\n", row.join(","))
        })
        .collect();
    append(&export.join("users.csv"), &contacts);
    // A deal of the padded contact at the padded company.
    append(
        &export.join("deals.csv"),
        &["79999,Hostile deal,100,PLN,1,1,11,00042,007,2021-07-08T12:49:39,,,,{},,\n".to_owned()],
    );
    let project = dir.path().join("zubr");
    init_on_sandbox(&project, &export, &sandbox);
    migrate_duplicates_as_they_are(&project);
    for args in [&["plan"][..], &["approve", "--yes", "--by", "test"]] {
        let output = in_project(&project, args);
        assert!(output.status.success(), "{args:?}: {}\n{}", text(&output.stdout), text(&output.stderr));
    }
    apply(&project, &[]);

    let landed = canonical(&sandbox.state());
    for (company, name, contact, _) in HOSTILE {
        let organization = &landed[&format!("organization {company}")];
        assert_eq!(organization["name"], json!(name), "{company}: {organization:#}");
        let person = &landed[&format!("person {contact}")];
        assert_eq!(person["org"], json!(company), "person {contact} works at {company}: {person:#}");
    }
    let deal = &landed["deal 79999"];
    assert_eq!((&deal["person"], &deal["org"]), (&json!("00042"), &json!("007")), "{deal:#}");
}
