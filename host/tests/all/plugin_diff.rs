//! `crm-migrate plugin diff`: two builds of a plugin run over a project's export, and what the
//! swap changes named record by record. The expected changes are worked out here from the export
//! and the plugins' documented rules, never from the diff's own output.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use crm_migrate::extract::{Export, ExportOptions};
use crm_migrate::record::{ObjectKind, Record, Value};
use serde_json::Value as Json;

use crate::extract::sample_export;
use crate::plan::{in_project, run, text};
use crate::support::plugin;

/// A project on the sample export whose only plugin is `dedup_email` (so that the contacts the
/// dedup hook sees are the export's, as read).
fn dedup_project(dir: &Path) -> PathBuf {
    let project = dir.join("acme");
    let dedup = format!("dedup={}", plugin("dedup_email").display());
    let output =
        run(&["init", project.to_str().unwrap(), "--export", sample_export().to_str().unwrap(), "--plugin", &dedup]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    project
}

fn diff_json(project: &Path, old: &str, new: &str) -> Json {
    let (old, new) = (plugin(old), plugin(new));
    let output = in_project(project, &["plugin", "diff", old.to_str().unwrap(), new.to_str().unwrap(), "--json"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "a diff is not an error: {}\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|error| panic!("{error}: {}", text(&output.stdout)))
}

/// The dedup-rules match keys (plugins/dedup-rules, keys.rs): `email:` the address trimmed and
/// lower-cased, a Gmail (or googlemail) address without the dots and `+suffix` of its local part;
/// `phone:` the digits (a leading `+` kept) of a phone holding at least 7 of them.
fn match_keys(contact: &Record) -> Vec<String> {
    let text = |field: &str| match contact.get(field) {
        Some(Value::Text(text)) => Some(text.clone()),
        Some(Value::Null) | None => None,
        Some(other) => Some(other.to_string()),
    };
    let mut keys = Vec::new();
    if let Some(email) = text("email").map(|email| email.trim().to_lowercase()).filter(|email| !email.is_empty()) {
        let gmail = email.rsplit_once('@').filter(|(local, domain)| {
            ["gmail.com", "googlemail.com"].contains(domain)
                && !local.split('+').next().unwrap().replace('.', "").is_empty()
        });
        keys.push(match gmail {
            Some((local, _)) => format!("email:{}@gmail.com", local.split('+').next().unwrap().replace('.', "")),
            None => format!("email:{email}"),
        });
    }
    for field in ["phone_number", "phone"] {
        let Some(raw) = text(field) else { continue };
        let digits: String = raw.trim().chars().filter(char::is_ascii_digit).collect();
        if digits.len() >= 7 {
            keys.push(format!("phone:{}{digits}", if raw.trim().starts_with('+') { "+" } else { "" }));
        }
    }
    keys
}

fn millis(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::DateTime(at) => Some(at.unix_millis),
        Value::Date(date) => date.days_since_epoch().map(|days| days * 86_400_000),
        _ => None,
    }
}

fn non_empty_fields(record: &Record) -> usize {
    record
        .fields
        .iter()
        .filter(|(_, value)| match value {
            Value::Null => false,
            Value::Text(text) => !text.trim().is_empty(),
            Value::Choices(choices) => !choices.is_empty(),
            _ => true,
        })
        .count()
}

/// The survivor rule (plugins/dedup-rules, survivor.rs): a record with the date before one
/// without, the newest `updated_at` (dedup-email) or the oldest `created_at`
/// (dedup-email-oldest); then the most non-empty fields; then the first in the file.
fn survivor<'r>(group: &[&'r Record], newest: bool) -> &'r Record {
    let field = if newest { "updated_at" } else { "created_at" };
    let mut ranked = group.to_vec();
    ranked.sort_by(|a, b| {
        let by_date = match (millis(a.get(field)), millis(b.get(field))) {
            (Some(a), Some(b)) if newest => b.cmp(&a),
            (Some(a), Some(b)) => a.cmp(&b),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        };
        by_date.then(non_empty_fields(b).cmp(&non_empty_fields(a)))
    });
    ranked[0]
}

/// Contacts of the sample (as apply reads them: a duplicated id is quarantined before any
/// plugin) grouped by shared keys, transitively; per contact whose survivor differs between the
/// two rules, the oldest rule's survivor.
fn contacts_whose_survivor_changes() -> BTreeMap<String, String> {
    let export = Export::open(&sample_export(), ExportOptions::default()).unwrap();
    let spool_dir = tempfile::tempdir().unwrap();
    let source = crm_migrate::source::read(&export, None, spool_dir.path(), &mut |_| {}).unwrap();
    let contacts: Vec<_> = source.records(ObjectKind::Contact).collect::<Result<_, _>>().unwrap();
    let mut parent: Vec<usize> = (0..contacts.len()).collect();
    fn root(parent: &mut [usize], mut at: usize) -> usize {
        while parent[at] != at {
            at = parent[at];
        }
        at
    }
    let mut holder: HashMap<String, usize> = HashMap::new();
    for (index, contact) in contacts.iter().enumerate() {
        for key in match_keys(contact) {
            match holder.get(&key) {
                Some(&first) => {
                    let (a, b) = (root(&mut parent, first), root(&mut parent, index));
                    parent[a.max(b)] = a.min(b);
                }
                None => {
                    holder.insert(key, index);
                }
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<&Record>> = BTreeMap::new();
    for (index, contact) in contacts.iter().enumerate() {
        groups.entry(root(&mut parent, index)).or_default().push(contact);
    }
    let mut changed = BTreeMap::new();
    for group in groups.values().filter(|group| group.len() > 1 && group.len() <= 50) {
        let (newest, oldest) = (survivor(group, true), survivor(group, false));
        if newest.source_id != oldest.source_id {
            changed.extend(group.iter().map(|contact| (contact.source_id.clone(), oldest.source_id.clone())));
        }
    }
    changed
}

fn object<'j>(diff: &'j Json, name: &str) -> Option<&'j Json> {
    diff["objects"].as_array().unwrap().iter().find(|object| object["object"] == name)
}

#[test]
fn plugin_diff_names_exactly_the_contacts_whose_survivor_changes_when_the_oldest_record_survives() {
    let _machine = crate::support::heavy();
    let dir = tempfile::tempdir().unwrap();
    let project = dedup_project(dir.path());
    let expected = contacts_whose_survivor_changes();
    assert!(!expected.is_empty(), "the sample has groups whose oldest contact is not the one dedup-email keeps");

    let diff = diff_json(&project, "dedup_email", "dedup_email_oldest");
    assert_eq!(diff["hook"], "dedup");
    let contacts = object(&diff, "contact").unwrap_or_else(|| panic!("{diff:#}"));
    let fates = contacts["fates"].as_array().unwrap();
    let named: BTreeSet<String> = fates.iter().map(|fate| fate["source_id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(named, expected.keys().cloned().collect::<BTreeSet<_>>(), "{diff:#}");
    for fate in fates {
        let id = fate["source_id"].as_str().unwrap();
        let survivor = &expected[id];
        if id == survivor {
            assert_eq!(fate["new"]["fate"], "kept", "{id} survives the oldest rule: {fate}");
            assert_eq!(fate["old"]["fate"], "merged", "{id} was merged by the newest rule: {fate}");
        } else {
            assert_eq!(
                (fate["new"]["fate"].as_str(), fate["new"]["into"].as_str()),
                (Some("merged"), Some(survivor.as_str())),
                "{id}: {fate}"
            );
        }
    }
    assert_eq!(contacts["fates_changed"], expected.len());
    for other in ["company", "deal", "activity", "event"] {
        assert!(
            object(&diff, other).is_none_or(|object| object["fates"].as_array().unwrap().is_empty()),
            "a dedup swap moves contacts only: {diff:#}"
        );
    }

    let markdown = std::fs::read_to_string(project.join("reports/plugin-diff.md")).unwrap();
    let json: Json =
        serde_json::from_str(&std::fs::read_to_string(project.join("reports/plugin-diff.json")).unwrap()).unwrap();
    assert_eq!(json["objects"], diff["objects"]);
    for (id, survivor) in expected.iter().filter(|(id, survivor)| id != survivor).take(5) {
        assert!(
            markdown.contains(&format!("`{id}`")) && markdown.contains(&format!("`{survivor}`")),
            "{id} into {survivor}:\n{markdown}"
        );
    }
    let csv = std::fs::read_to_string(project.join("reports/plugin-diff.csv")).unwrap();
    assert_eq!(
        csv.lines().filter(|line| line.starts_with("contact,") && line.contains(",fate,")).count(),
        expected.len(),
        "{csv}"
    );

    // Without --json: a short summary naming both plugins and the count.
    let (old, new) = (plugin("dedup_email"), plugin("dedup_email_oldest"));
    let output = in_project(&project, &["plugin", "diff", old.to_str().unwrap(), new.to_str().unwrap()]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}{}", text(&output.stderr));
    assert!(stdout.contains("dedup-email") && stdout.contains("dedup-email-oldest"), "{stdout}");
    assert!(stdout.contains(&format!("contact: {} records change fate", expected.len())), "{stdout}");
    assert!(stdout.contains("plugin-diff.md"), "{stdout}");
}

#[test]
fn plugin_diff_of_a_plugin_against_itself_reports_no_change() {
    let _machine = crate::support::heavy();
    let dir = tempfile::tempdir().unwrap();
    let project = dedup_project(dir.path());
    let diff = diff_json(&project, "dedup_email", "dedup_email");
    for object in diff["objects"].as_array().unwrap() {
        assert!(
            object["fates"].as_array().unwrap().is_empty() && object["fields"].as_array().unwrap().is_empty(),
            "{object}"
        );
    }
    assert!(diff["labels"].as_array().unwrap().is_empty());
    assert_eq!(diff["changed"], false, "{diff:#}");
    let (old, new) = (plugin("dedup_email"), plugin("dedup_email"));
    let output = in_project(&project, &["plugin", "diff", old.to_str().unwrap(), new.to_str().unwrap()]);
    assert!(text(&output.stdout).contains("no change"), "{}", text(&output.stdout));
}

#[test]
fn plugin_diff_refuses_plugins_for_different_hooks() {
    let dir = tempfile::tempdir().unwrap();
    let project = dedup_project(dir.path());
    let (old, new) = (plugin("clean_basic"), plugin("dedup_email"));
    let output = in_project(&project, &["plugin", "diff", old.to_str().unwrap(), new.to_str().unwrap()]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("clean") && stderr.contains("dedup") && stderr.contains("same hook"), "{stderr}");
    assert!(!project.join("reports/plugin-diff.md").exists(), "nothing is written");
}

/// Points the project's dedup entry at dedup_email_oldest (path and digest), as a person does.
fn swap_to_oldest(project: &Path) {
    let path = project.join("migration.toml");
    let digest = |stem: &str| crm_migrate::plugins::Digest::of(&std::fs::read(plugin(stem)).unwrap()).to_string();
    let config = std::fs::read_to_string(&path).unwrap();
    assert!(config.contains("dedup_email.wasm") && config.contains(&digest("dedup_email")), "{config}");
    std::fs::write(
        &path,
        config
            .replace("dedup_email.wasm", "dedup_email_oldest.wasm")
            .replace(&digest("dedup_email"), &digest("dedup_email_oldest")),
    )
    .unwrap();
}

/// Points the project's dedup entry back at dedup_email.
fn swap_back_to_newest(project: &Path) {
    let path = project.join("migration.toml");
    let digest = |stem: &str| crm_migrate::plugins::Digest::of(&std::fs::read(plugin(stem)).unwrap()).to_string();
    let config = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        config
            .replace("dedup_email_oldest.wasm", "dedup_email.wasm")
            .replace(&digest("dedup_email_oldest"), &digest("dedup_email")),
    )
    .unwrap();
}

#[test]
fn plan_and_approve_show_what_a_plugin_swapped_since_the_approval_changes() {
    let _machine = crate::support::heavy();
    let sandbox = crate::apply::fast(crm_migrate_sandbox::SandboxConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("acme");
    let dedup = format!("dedup={}", plugin("dedup_email").display());
    let init = run(&[
        "init",
        project.to_str().unwrap(),
        "--export",
        sample_export().to_str().unwrap(),
        "--pipedrive",
        &sandbox.url(),
        "--plugin",
        &dedup,
    ]);
    assert!(init.status.success(), "{}", text(&init.stderr));
    for step in [&["plan"][..], &["approve", "--yes"]] {
        let output = in_project(&project, step);
        assert!(output.status.success(), "{step:?}: {}\n{}", text(&output.stdout), text(&output.stderr));
        assert!(!text(&output.stdout).contains("records change fate"), "nothing swapped yet: {}", text(&output.stdout));
    }
    let expected = contacts_whose_survivor_changes().len();

    swap_to_oldest(&project);
    let plan = in_project(&project, &["plan"]);
    let stdout = text(&plan.stdout);
    assert!(plan.status.success(), "{stdout}\n{}", text(&plan.stderr));
    assert!(
        stdout.contains("dedup-email-oldest") && stdout.contains(&format!("contact: {expected} records change fate")),
        "{stdout}"
    );
    let plan_md = std::fs::read_to_string(project.join("reports/plan.md")).unwrap();
    assert!(
        plan_md.contains("## What the swapped plugin changes")
            && plan_md.contains(&format!("contact: {expected} records change fate")),
        "{plan_md}"
    );

    let approve = in_project(&project, &["approve", "--yes"]);
    let stdout = text(&approve.stdout);
    assert!(approve.status.success(), "{stdout}\n{}", text(&approve.stderr));
    let summary = stdout
        .find(&format!("contact: {expected} records change fate"))
        .unwrap_or_else(|| panic!("approve shows the swap's effect: {stdout}"));
    assert!(summary < stdout.find("approved by").unwrap(), "shown before the approval: {stdout}");

    // approve --json answers the same summary (swapped back, so that there is a swap to approve;
    // then the oldest build is approved again for what follows).
    swap_back_to_newest(&project);
    let approve = in_project(&project, &["approve", "--yes", "--json"]);
    assert!(approve.status.success(), "{}", text(&approve.stderr));
    let answer: Json = serde_json::from_slice(&approve.stdout).unwrap();
    let swaps = answer["plugin_swaps"].as_array().unwrap_or_else(|| panic!("{answer:#}"));
    assert_eq!(swaps.len(), 1, "{answer:#}");
    assert_eq!(swaps[0]["hook"], "dedup");
    let summary = swaps[0]["summary"].as_str().unwrap();
    assert!(summary.contains(&format!("contact: {expected} records change fate")), "{summary}");
    swap_to_oldest(&project);
    let approve = in_project(&project, &["approve", "--yes"]);
    assert!(approve.status.success(), "{}", text(&approve.stderr));

    // An approved build that is not kept (approved by an older crm-migrate): plan says so and
    // how to diff by hand, and goes on.
    std::fs::remove_dir_all(project.join("approved-plugins")).unwrap();
    swap_back_to_newest(&project);
    let plan = in_project(&project, &["plan"]);
    let stdout = text(&plan.stdout);
    assert!(plan.status.success(), "{stdout}\n{}", text(&plan.stderr));
    assert!(
        stdout.contains("the dedup plugin changed since the approval; what it changes cannot be shown")
            && stdout.contains("crm-migrate plugin diff OLD.wasm NEW.wasm"),
        "{stdout}"
    );
}

/// A project on the sample export whose only plugin is segment-labels, unconfigured (its defaults).
fn label_project(dir: &Path) -> PathBuf {
    let project = dir.join("acme");
    let label = format!("label={}", plugin("segment_labels").display());
    let output =
        run(&["init", project.to_str().unwrap(), "--export", sample_export().to_str().unwrap(), "--plugin", &label]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    project
}

/// The sample's tags (tags.csv, then any a record carries that it lacks), each with the records
/// of every object carrying it.
fn tags_with_records() -> BTreeMap<String, u64> {
    let export = Export::open(&sample_export(), ExportOptions::default()).unwrap();
    let catalogue = std::fs::read_to_string(sample_export().join("tags.csv")).unwrap();
    let mut tags: BTreeMap<String, u64> = csv::Reader::from_reader(catalogue.trim_start_matches('\u{feff}').as_bytes())
        .records()
        .map(|row| (row.unwrap()[1].to_owned(), 0))
        .collect();
    for kind in ObjectKind::ALL {
        let Some(records) = export.records(kind).unwrap() else { continue };
        for read in records {
            if let Some(Value::Choices(carried)) = read.unwrap().record.get("tags") {
                for tag in carried {
                    *tags.entry(tag.clone()).or_default() += 1;
                }
            }
        }
    }
    tags
}

/// The decision for `tag`, in plugin diff's words, of segment-labels with its defaults
/// (plugins/segment-labels: a tag no record carries is skipped; gray; segment names compared
/// ignoring case) and of segment-filters (tests/plugins/segment-filters: a tag named like a
/// segment is skipped; a tag no record carries is a label; red from 50 records).
fn label_decisions(tag: &str, records: u64, segments: &[String]) -> (String, String) {
    let name = tag.trim();
    let from_segment =
        !name.is_empty() && segments.iter().any(|segment| segment.trim().to_lowercase() == name.to_lowercase());
    let flagged = |words: String| if from_segment { format!("{words}; segment-origin") } else { words };
    let segment_labels = if name.is_empty() {
        "skipped: it has no name".to_owned()
    } else if records == 0 {
        "skipped: no record carries it".to_owned()
    } else {
        format!("label {name} (gray)")
    };
    let segment_filters = if name.is_empty() {
        "skipped: it has no name".to_owned()
    } else if from_segment {
        "skipped: it stands for a segment, rebuilt as a Pipedrive filter".to_owned()
    } else {
        format!("label {name} ({})", if records >= 50 { "red" } else { "gray" })
    };
    (flagged(segment_labels), flagged(segment_filters))
}

#[test]
fn plugin_diff_on_the_label_hook_names_exactly_the_tags_decided_otherwise_with_their_records() {
    let _machine = crate::support::heavy();
    let dir = tempfile::tempdir().unwrap();
    let project = label_project(dir.path());
    let segments: Vec<String> = {
        let text = std::fs::read_to_string(sample_export().join("segments.csv")).unwrap();
        csv::Reader::from_reader(text.trim_start_matches('\u{feff}').as_bytes())
            .records()
            .map(|row| row.unwrap()[1].to_owned())
            .collect()
    };
    let expected: BTreeMap<String, (String, String, u64)> = tags_with_records()
        .into_iter()
        .filter_map(|(tag, records)| {
            let (old, new) = label_decisions(&tag, records, &segments);
            (old != new).then_some((tag, (old, new, records)))
        })
        .collect();
    // The sample has both kinds of change (a tag standing for a segment, tags carried by 50
    // records or more), and tags that keep their label.
    assert!(expected.values().any(|(old, _, _)| old.ends_with("segment-origin")), "{expected:#?}");
    assert!(expected.values().any(|(_, new, _)| new.ends_with("(red)")), "{expected:#?}");
    assert!(expected.len() < tags_with_records().len(), "{expected:#?}");

    let diff = diff_json(&project, "segment_labels", "segment_filters");
    assert_eq!(diff["hook"], "label");
    assert_eq!(diff["changed"], true);
    assert!(diff["objects"].as_array().unwrap().is_empty(), "a label swap moves no record: {diff:#}");
    let named: BTreeMap<String, (String, String, u64)> = diff["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|change| {
            let field = |name: &str| change[name].as_str().unwrap_or_else(|| panic!("{name}: {change}")).to_owned();
            (
                field("tag"),
                (field("old"), field("new"), change["records"].as_u64().unwrap_or_else(|| panic!("{change}"))),
            )
        })
        .collect();
    assert_eq!(named, expected, "{diff:#}");

    let markdown = std::fs::read_to_string(project.join("reports/plugin-diff.md")).unwrap();
    let csv = std::fs::read_to_string(project.join("reports/plugin-diff.csv")).unwrap();
    for (tag, (old, new, _)) in &expected {
        assert!(markdown.contains(&format!("| {tag} | {old} | {new} |")), "{tag}:\n{markdown}");
        assert!(csv.lines().any(|line| line.starts_with(&format!("tag,{tag},label,"))), "{tag}:\n{csv}");
    }
    let (old, new) = (plugin("segment_labels"), plugin("segment_filters"));
    let output = in_project(&project, &["plugin", "diff", old.to_str().unwrap(), new.to_str().unwrap()]);
    let stdout = text(&output.stdout);
    assert!(stdout.contains(&format!("labels: {} tags decided otherwise", expected.len())), "{stdout}");

    // The same build on both sides: no tag is decided otherwise.
    let diff = diff_json(&project, "segment_labels", "segment_labels");
    assert_eq!(
        (diff["changed"].as_bool(), diff["labels"].as_array().map(Vec::len)),
        (Some(false), Some(0)),
        "{diff:#}"
    );
}
