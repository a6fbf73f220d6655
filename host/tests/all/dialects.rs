//! The same User.com account written as other exports write it (the generator's dialects: other
//! headers, column sets, file sets, value forms) migrates to the same Pipedrive content as the
//! sample, field by field; what a migration leaves out is exactly what the generator planted;
//! the handoff reads the dialects' segment rules and automations.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::OnceLock;

use crm_migrate_sandbox::SandboxConfig;
use serde_json::Value;
use usercom_export_gen::{Dialect, Options, Planted};

use crate::apply::{canonical, fast};
use crate::plan::{in_project, run, text};

/// One dialect's migration: the account in Pipedrive as `canonical` sees it, and what the
/// project's reports say.
struct Migration {
    planted: Planted,
    content: BTreeMap<String, Value>,
    /// `reports/quarantine.csv` as rows of (header -> cell).
    quarantine: Vec<BTreeMap<String, String>>,
    segments_md: String,
    automations_md: String,
    /// `verify --json`: its exit code and report (the comparison and the source coverage).
    verify_code: Option<i32>,
    verification: Value,
}

/// Each dialect is migrated once for all the tests here (a whole migration takes a while); a
/// failure is kept as its message so that every test that needs it fails with it.
fn migration(dialect: Dialect) -> &'static Migration {
    static MIGRATIONS: [OnceLock<Result<Migration, String>>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let index = Dialect::ALL.iter().position(|d| *d == dialect).unwrap();
    match MIGRATIONS[index].get_or_init(|| migrate(dialect)) {
        Ok(migration) => migration,
        Err(message) => panic!("the {} dialect did not migrate: {message}", dialect.name()),
    }
}

fn migrate(dialect: Dialect) -> Result<Migration, String> {
    let _machine = crate::support::heavy();
    let dir = tempfile::tempdir().unwrap();
    // The directory's name is the project's source account, which starts every marker.
    let export = dir.path().join(dialect.name()).join("usercom-export");
    let planted = usercom_export_gen::generate(&export, &Options { dialect, ..Options::default() })
        .map_err(|error| error.to_string())?;
    let sandbox = fast(SandboxConfig::default());
    let project = dir.path().join("zubr");
    let init = run(&[
        "init",
        project.to_str().unwrap(),
        "--export",
        export.to_str().unwrap(),
        "--pipedrive",
        &sandbox.url(),
        "--plan",
        "premium",
    ]);
    if !init.status.success() {
        return Err(format!("init: {}", text(&init.stderr)));
    }
    crate::plan::migrate_duplicates_as_they_are(&project);
    plan_and_decide(&project)?;
    for step in [&["approve", "--yes", "--by", "test"][..], &["apply", "--concurrency", "16"], &["report"]] {
        let output = in_project(&project, step);
        if !output.status.success() {
            return Err(format!(
                "{step:?} exited {:?}:\n{}\n{}",
                output.status.code(),
                text(&output.stdout),
                text(&output.stderr)
            ));
        }
    }
    let verified = in_project(&project, &["verify", "--json"]);
    let verification: Value = serde_json::from_slice(&verified.stdout)
        .map_err(|error| format!("verify --json: {error}: {}", text(&verified.stderr)))?;
    let read = |path: &str| std::fs::read_to_string(project.join(path)).map_err(|error| format!("{path}: {error}"));
    let mut quarantine = Vec::new();
    let mut reader =
        csv::Reader::from_path(project.join("reports/quarantine.csv")).map_err(|error| error.to_string())?;
    let headers = reader.headers().map_err(|error| error.to_string())?.clone();
    for row in reader.records() {
        let row = row.map_err(|error| error.to_string())?;
        quarantine
            .push(headers.iter().zip(row.iter()).map(|(header, cell)| (header.to_owned(), cell.to_owned())).collect());
    }
    Ok(Migration {
        planted,
        content: canonical(&sandbox.state()),
        quarantine,
        segments_md: read("reports/handoff/segments.md")?,
        automations_md: read("reports/handoff/automations.md")?,
        verify_code: verified.status.code(),
        verification,
    })
}

/// `plan`, and the decisions it leaves to a person (exit 11, REVIEW) taken the documented way:
/// each role the plan proposed is confirmed in `mapping.toml` (its entry's `confidence = 1.0`).
/// A wrong proposal confirmed so shows as a difference from the sample's content.
fn plan_and_decide(project: &Path) -> Result<(), String> {
    let mut confirmed = Vec::new();
    loop {
        let planned = in_project(project, &["plan"]);
        match planned.status.code() {
            Some(0) => return Ok(()),
            Some(11) => {
                let plan: Value =
                    serde_json::from_slice(&std::fs::read(project.join("reports/plan.json")).unwrap_or_default())
                        .unwrap_or(Value::Null);
                let open: Vec<(String, String)> = plan["decisions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|decision| {
                        (
                            decision["what"].as_str().unwrap_or("").to_owned(),
                            format!(
                                "  REVIEW {}: {} (decide: {})",
                                decision["what"], decision["found"], decision["how"]
                            ),
                        )
                    })
                    .collect();
                let undecided: Vec<&(String, String)> =
                    open.iter().filter(|(what, _)| confirmed.contains(what) || !confirm(project, what)).collect();
                if !undecided.is_empty() {
                    return Err(format!(
                        "plan left decisions open that confirming in mapping.toml did not close:\n{}",
                        undecided.iter().map(|(_, line)| line.as_str()).collect::<Vec<_>>().join("\n")
                    ));
                }
                confirmed.extend(open.into_iter().map(|(what, _)| what));
            }
            code => return Err(format!("plan exited {code:?}:\n{}\n{}", text(&planned.stdout), text(&planned.stderr))),
        }
    }
}

/// Sets `confidence = 1.0` in the entry `[object.attribute]` of `mapping.toml` (the attribute
/// quoted or not); false when there is no such entry.
fn confirm(project: &Path, what: &str) -> bool {
    let Some((object, attribute)) = what.split_once('.') else { return false };
    let path = project.join("mapping.toml");
    let Ok(mapping) = std::fs::read_to_string(&path) else { return false };
    let headers = [format!("[{object}.{attribute}]"), format!("[{object}.\"{attribute}\"]")];
    let mut inside = false;
    let mut done = false;
    let lines: Vec<String> = mapping
        .lines()
        .map(|line| {
            if line.starts_with('[') {
                inside = headers.iter().any(|header| line.trim() == header);
            } else if inside && !done && line.starts_with("confidence =") {
                done = true;
                return "confidence = 1.0".to_owned();
            }
            line.to_owned()
        })
        .collect();
    done && std::fs::write(&path, lines.join("\n") + "\n").is_ok()
}

/// `a b-c` and `A_B C` alike: letters and digits only, lower case.
fn folded(name: &str) -> String {
    name.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// One difference: record (as `canonical` keys it), field, the sample's value, the dialect's.
type Difference = (String, String, String, String);

/// Every field that differs between the sample's content and a dialect's, custom fields compared
/// by name; custom fields named after a column only the dialect has (it carries information the
/// sample has not got) are set aside.
fn differences(
    sample: &BTreeMap<String, Value>,
    dialect: &BTreeMap<String, Value>,
    dialect_only: &BTreeSet<String>,
) -> Vec<Difference> {
    let shown = |value: Option<&Value>| match value {
        None => "(none)".to_owned(),
        Some(value) => {
            let text = value.to_string();
            if text.chars().count() > 70 { format!("{}…", text.chars().take(70).collect::<String>()) } else { text }
        }
    };
    let mut out = Vec::new();
    for key in sample.keys().chain(dialect.keys()).collect::<BTreeSet<_>>() {
        let (a, b) = (sample.get(key), dialect.get(key));
        let (Some(Value::Object(a)), Some(Value::Object(b))) = (a, b) else {
            if a != b {
                let migrated =
                    |record: Option<&Value>| if record.is_some() { "migrated" } else { "not migrated" }.to_owned();
                out.push((key.clone(), "(record)".to_owned(), migrated(a), migrated(b)));
            }
            continue;
        };
        for field in a.keys().chain(b.keys()).collect::<BTreeSet<_>>() {
            if field == "custom" {
                let empty = serde_json::Map::new();
                let (ca, cb) =
                    (a[field].as_object().unwrap_or(&empty), b.get(field).and_then(Value::as_object).unwrap_or(&empty));
                for name in ca.keys().chain(cb.keys()).collect::<BTreeSet<_>>() {
                    if dialect_only.contains(&folded(name)) || ca.get(name) == cb.get(name) {
                        continue;
                    }
                    out.push((key.clone(), format!("custom field '{name}'"), shown(ca.get(name)), shown(cb.get(name))));
                }
            } else if a.get(field) != b.get(field) {
                out.push((key.clone(), field.clone(), shown(a.get(field)), shown(b.get(field))));
            }
        }
    }
    out
}

/// Differences grouped by object and field with their counts and a first example each, at most
/// 40 lines.
fn readable(dialect: Dialect, differences: &[Difference]) -> String {
    let object = |key: &str| key.trim_start_matches("User.com ").split(' ').next().unwrap_or("").to_owned();
    let mut groups: BTreeMap<(String, String), (usize, &Difference)> = BTreeMap::new();
    for difference in differences {
        groups.entry((object(&difference.0), difference.1.clone())).or_insert((0, difference)).0 += 1;
    }
    let mut out = format!(
        "the {} dialect's Pipedrive content differs from the sample's in {} fields of {} kinds (the export: cargo run -p usercom-export-gen -- --dialect {} --out DIR)\n\
         count, object, field: an example (record: sample | dialect)\n",
        dialect.name(),
        differences.len(),
        groups.len(),
        dialect.name()
    );
    for ((object, field), (count, (key, _, a, b))) in groups.iter().take(40) {
        out.push_str(&format!("{count:>5} {object} {field}: {key}: {a} | {b}\n"));
    }
    out
}

fn assert_same_content_as_the_sample(dialect: Dialect) {
    let (sample, other) = (migration(Dialect::Sample), migration(dialect));
    let manifest = other.planted.dialect.as_ref().expect("a dialect's manifest");
    let dialect_only: BTreeSet<String> = manifest
        .extra_columns
        .iter()
        .filter_map(|column| column.split_once(": "))
        .map(|(_, header)| folded(header))
        .collect();
    let found = differences(&sample.content, &other.content, &dialect_only);
    assert!(found.is_empty(), "{}", readable(dialect, &found));
}

#[test]
fn the_display_dialect_migrates_to_the_same_pipedrive_content_as_the_sample() {
    assert_same_content_as_the_sample(Dialect::Display);
}

#[test]
fn the_panel_pl_dialect_migrates_to_the_same_pipedrive_content_as_the_sample() {
    assert_same_content_as_the_sample(Dialect::PanelPl);
}

/// A record: (object, source id).
type RecordKey = (String, String);
/// A value of a record: (object, source id, folded field).
type ValueKey = (String, String, String);

/// What `reports/quarantine.csv` says was left out: values (a row naming a field) and whole
/// records (a row naming none).
fn left_out(migration: &Migration) -> (BTreeSet<ValueKey>, BTreeSet<RecordKey>) {
    let (mut values, mut records) = (BTreeSet::new(), BTreeSet::new());
    for row in &migration.quarantine {
        let cell = |name: &str| row.get(name).cloned().unwrap_or_default();
        let field = ["field", "attribute", "column"].iter().map(|name| cell(name)).find(|field| !field.is_empty());
        match field {
            Some(field) => values.insert((cell("object"), cell("source_id"), folded(&field))),
            None => records.insert((cell("object"), cell("source_id"))),
        };
    }
    (values, records)
}

/// The values left out are exactly the planted bad values (each named by its attribute or by
/// its column as the dialect wrote it), and a record is quarantined whole only when it names a
/// record that does not exist (a planted orphan).
fn assert_left_out_exactly_what_was_planted(dialect: Dialect) {
    let migration = migration(dialect);
    let planted = &migration.planted.values;
    let (values, records) = left_out(migration);
    let bad: Vec<_> = planted.iter().filter(|value| value.kind == "bad value").collect();
    let missing: Vec<String> = bad
        .iter()
        .filter(|v| {
            !values.contains(&(v.object.clone(), v.source_id.clone(), folded(&v.attribute)))
                && !values.contains(&(v.object.clone(), v.source_id.clone(), folded(&v.column)))
        })
        .map(|v| format!("  {} {} {} ({}: {:?})", v.object, v.source_id, v.attribute, v.column, v.value))
        .collect();
    let extra: Vec<String> = values
        .iter()
        .filter(|(object, id, field)| {
            !bad.iter().any(|v| {
                &v.object == object
                    && &v.source_id == id
                    && (folded(&v.attribute) == *field || folded(&v.column) == *field)
            })
        })
        .map(|(object, id, field)| format!("  {object} {id} {field}"))
        .collect();
    let orphans: BTreeSet<RecordKey> = planted
        .iter()
        .filter(|value| value.kind == "orphan")
        .map(|v| (v.object.clone(), v.source_id.clone()))
        .collect();
    let whole: Vec<String> = records.difference(&orphans).map(|(object, id)| format!("  {object} {id}")).collect();
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for row in
        migration.quarantine.iter().filter(|row| whole.contains(&format!("  {} {}", row["object"], row["source_id"])))
    {
        // Without the file line, which differs from record to record.
        let reason = row.get("reason").map_or("", String::as_str);
        let reason = reason.find("column '").map_or(reason, |at| &reason[at..]);
        // ... and without the value: `column 'X': '<value>', expected ...`.
        let reason = match (reason.find("': '"), reason.rfind("', ")) {
            (Some(head), Some(tail)) if head < tail => format!("{}: {}", &reason[..head + 1], &reason[tail + 3..]),
            _ => reason.to_owned(),
        };
        // ... and ids as `#`, so that one cause is one line.
        let mut general = String::new();
        for c in reason.chars().take(100) {
            if !c.is_ascii_digit() {
                general.push(c);
            } else if !general.ends_with('#') {
                general.push('#');
            }
        }
        *reasons.entry(format!("{}: {general}", row["object"])).or_default() += 1;
    }
    let reasons: Vec<String> =
        reasons.iter().take(25).map(|(reason, count)| format!("  {count:>4} {reason}")).collect();
    assert!(
        missing.is_empty() && extra.is_empty() && whole.is_empty(),
        "the {} dialect: {} planted bad values, {} values left out in reports/quarantine.csv\n\
         planted but not listed as a value left out ({}):\n{}\nleft out but not planted ({}):\n{}\nquarantined whole without a planted orphan ({}):\n{}\nwhy (grouped, without the file line):\n{}",
        dialect.name(),
        bad.len(),
        values.len(),
        missing.len(),
        missing.iter().take(15).cloned().collect::<Vec<_>>().join("\n"),
        extra.len(),
        extra.iter().take(15).cloned().collect::<Vec<_>>().join("\n"),
        whole.len(),
        whole.iter().take(15).cloned().collect::<Vec<_>>().join("\n"),
        reasons.join("\n"),
    );
}

#[test]
fn the_sample_leaves_out_exactly_the_planted_bad_values() {
    assert_left_out_exactly_what_was_planted(Dialect::Sample);
}

#[test]
fn the_display_dialect_leaves_out_exactly_the_planted_bad_values() {
    assert_left_out_exactly_what_was_planted(Dialect::Display);
}

#[test]
fn the_panel_pl_dialect_leaves_out_exactly_the_planted_bad_values() {
    assert_left_out_exactly_what_was_planted(Dialect::PanelPl);
}

/// The rows of the first table after `## {title}` in a handoff Markdown document.
fn table_rows(markdown: &str, title: &str) -> Vec<Vec<String>> {
    let section =
        markdown.split(&format!("## {title}\n")).nth(1).unwrap_or_else(|| panic!("no section {title}:\n{markdown}"));
    section
        .lines()
        .skip_while(|line| !line.starts_with('|'))
        .take_while(|line| line.starts_with('|'))
        .skip(2)
        .map(|line| line.trim_matches('|').split(" | ").map(|cell| cell.trim().to_owned()).collect())
        .collect()
}

#[test]
fn the_display_dialects_handoff_translates_its_plain_segments_and_reads_delays_and_actions() {
    let migration = migration(Dialect::Display);
    let segments = table_rows(&migration.segments_md, "Segment-to-filter mapping");
    let expressible: Vec<&str> =
        segments.iter().filter(|row| row[3] == "expressible").map(|row| row[0].as_str()).collect();
    assert_eq!(expressible, ["VIP", "Stali klienci", "Nieaktywni 90 dni"], "{}", migration.segments_md);
    let filters: BTreeMap<&str, &str> = segments.iter().map(|row| (row[0].as_str(), row[2].as_str())).collect();
    // The filter is a value of the export in a Markdown cell: its `>` is an entity there.
    assert!(filters["Stali klienci"].contains("&gt; 5"), "{}", migration.segments_md);
    assert!(
        filters["Nieaktywni 90 dni"].contains("earlier than 90 days ago")
            && filters["Nieaktywni 90 dni"].contains("is No"),
        "{}",
        migration.segments_md
    );

    let automations = table_rows(&migration.automations_md, "Every User.com automation and its Pipedrive equivalent");
    let by_name: BTreeMap<&str, &Vec<String>> = automations.iter().map(|row| (row[0].as_str(), row)).collect();
    let cart = by_name["Porzucony koszyk"];
    assert_eq!(
        (cart[2].as_str(), cart[4].as_str()),
        ("event: cart_abandoned", "wait 2 hours, wait 1 day"),
        "{}",
        migration.automations_md
    );
    assert_eq!(cart[5], "send_email(template: Twój koszyk czeka), send_sms", "{}", migration.automations_md);
    assert_eq!(cart[6], "manual");
    assert_eq!(by_name["Powitanie nowego użytkownika"][6], "sequence", "{}", migration.automations_md);
    assert!(automations.iter().all(|row| !row.join(" ").contains("not read")), "{}", migration.automations_md);
}

/// Verify's promise on every dialect: each source value landed in a field or a note, or is
/// listed as left out with a reason; none missing.
fn assert_every_source_value_accounted_for(dialect: Dialect) {
    let migration = migration(dialect);
    let missing: Vec<String> = migration.verification["coverage"]["attributes"]
        .as_array()
        .expect("verify --json has the source coverage")
        .iter()
        .filter(|row| row["missing"].as_u64() != Some(0))
        .map(|row| {
            format!(
                "{}.{}: {} missing, e.g. {}",
                row["object"], row["attribute"], row["missing"], row["missing_examples"]
            )
        })
        .collect();
    assert!(
        missing.is_empty(),
        "the {} dialect: source values missing in Pipedrive:\n{}",
        dialect.name(),
        missing.join("\n")
    );
    assert_eq!(migration.verify_code, Some(0), "the {} dialect verifies clean", dialect.name());
}

#[test]
fn every_source_value_of_the_sample_is_accounted_for_by_verify() {
    assert_every_source_value_accounted_for(Dialect::Sample);
}

#[test]
fn every_source_value_of_the_display_dialect_is_accounted_for_by_verify() {
    assert_every_source_value_accounted_for(Dialect::Display);
}

#[test]
fn every_source_value_of_the_panel_pl_dialect_is_accounted_for_by_verify() {
    assert_every_source_value_accounted_for(Dialect::PanelPl);
}
