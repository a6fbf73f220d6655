//! The main command as a newcomer runs it: `crm-migrate demo` migrates the sample through the
//! three vetted plugins (the planted duplicates merged into named survivors, labels decided by
//! the label plugin), swaps the dedup plugin for another build without rebuilding the host and
//! has the swap approved again; `plan` stops at duplicates nothing merges; `init` proposes the
//! vetted plugins when they are built, and says how to build them when they are not.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use crm_migrate::journal::{Fate, Journal};
use crm_migrate::plugins::Digest;
use crm_migrate::record::ObjectKind;
use crm_migrate::state::State;
use crm_migrate_sandbox::SandboxConfig;

use crate::extract::{planted, sample_export};
use crate::plan::{in_project, run, text};
use crate::support::plugin;

/// `plan`'s exit code while a decision is open.
const EXIT_PLAN_UNDECIDED: i32 = 11;

/// The planted duplicate groups: by email, and by phone.
fn planted_duplicate_groups() -> (u64, u64) {
    let planted = planted();
    (planted.duplicate_email_groups, planted.duplicate_phone_groups)
}

/// The lines of one step's section of the demo's output (from `== NAME` to the next `==`).
fn section<'a>(stdout: &'a str, name: &str) -> Vec<&'a str> {
    let heading = format!("== {name}");
    stdout
        .lines()
        .skip_while(|line| !line.starts_with(&heading))
        .skip(1)
        .take_while(|line| !line.starts_with("==") && !line.is_empty())
        .collect()
}

fn digest_of(path: &Path) -> String {
    Digest::of(&std::fs::read(path).unwrap()).to_string()
}

#[test]
fn demo_merges_the_planted_duplicates_labels_by_plugin_and_swaps_the_dedup_plugin_without_a_rebuild() {
    let _machine = crate::support::heavy();
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("demo");
    let output = run(&["demo", "--dir", project.to_str().unwrap()]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", text(&output.stderr));

    let steps = [
        "init",
        "audit",
        "plan",
        "approve",
        "plugin clean-basic",
        "plugin dedup-email",
        "plugin segment-labels",
        "apply --sample 50",
        "rollback --sample",
        "swap the dedup plugin",
        "apply (refused)",
        "approve (the swap)",
        "apply",
        "delta --delete-missing",
        "verify",
        "report",
    ];
    for step in steps {
        assert!(stdout.lines().any(|line| line.starts_with(step)), "the closing table has the {step} step:\n{stdout}");
    }
    assert!(stdout.contains("residue: none"), "{stdout}");
    assert!(stdout.contains("0 mismatches, 0 missing, 0 unexpected"), "{stdout}");
    assert!(project.join("reports/handoff/handoff.html").is_file() && stdout.contains("handoff.html"));

    // The planted duplicate groups (each pair shares an email or a phone) are merged, each into a named survivor.
    let (by_email, by_phone) = planted_duplicate_groups();
    let groups = by_email + by_phone;
    let first_rule: BTreeMap<String, String> = section(&stdout, "plugin dedup-email")
        .iter()
        .filter_map(|line| line.trim().strip_prefix("survivor "))
        .map(|line| {
            let (survivor, absorbed) = line.split_once(" <- ").unwrap();
            (absorbed.to_owned(), survivor.to_owned())
        })
        .collect();
    assert_eq!(first_rule.len() as u64, groups, "one survivor named per planted group:\n{stdout}");
    assert!(stdout.contains(&format!("{groups} duplicate groups merged")), "{stdout}");

    // In Pipedrive (as the journal has it): every absorbed contact merged into a survivor that was created.
    let journal = Journal::read(State::open(&project).unwrap());
    let contacts = journal.entries(ObjectKind::Contact).unwrap();
    let merged: BTreeMap<&String, &String> = contacts
        .iter()
        .filter(|(_, entry)| entry.fate == Fate::Merged)
        .map(|(id, entry)| (id, entry.detail.as_ref().expect("a merge names its survivor")))
        .collect();
    assert_eq!(merged.len() as u64, groups, "{merged:?}");
    for (absorbed, survivor) in &merged {
        assert_eq!(contacts[*survivor].fate, Fate::Created, "{absorbed} merged into {survivor}, which is in Pipedrive");
    }
    let summary = std::fs::read_to_string(project.join("reports/handoff/summary.md")).unwrap();
    assert!(summary.contains(&format!("{groups} duplicates merged into their survivor")), "{summary}");

    // Labels: the label plugin decided them, and flagged the tags that came from a segment.
    let labels = section(&stdout, "plugin segment-labels").join("\n");
    assert!(labels.contains("decided by segment-labels") && labels.contains("flagged segment-origin"), "{labels}");

    // The swap: another build, another digest, the same host; what it changes is shown; apply
    // refuses until it is approved again; the run then goes on with the new rule.
    let (old, new) = (digest_of(&plugin("dedup_email")), digest_of(&plugin("dedup_email_oldest")));
    assert_ne!(old, new);
    let swap = section(&stdout, "swap the dedup plugin").join("\n");
    assert!(swap.contains(&new) && swap.contains(&old), "{swap}");
    assert!(swap.contains(&format!("merged {groups} -> {groups}")), "counts per fate: {swap}");
    let changed: Vec<(&str, &str)> = swap
        .lines()
        .filter_map(|line| line.trim().strip_prefix("survivor "))
        .map(|line| line.split_once(" -> ").unwrap())
        .collect();
    assert!(!changed.is_empty(), "the oldest record survives where the newest did: {swap}");
    for (before, after) in &changed {
        assert_eq!(
            merged.get(&before.to_string()).map(|survivor| survivor.as_str()),
            Some(*after),
            "{before} is merged into {after} in Pipedrive"
        );
    }
    assert!(std::fs::read_to_string(project.join("migration.toml")).unwrap().contains(&new));
    assert!(
        section(&stdout, "apply (refused)").join("\n").contains("refused until the swap is approved again"),
        "{stdout}"
    );
    assert!(section(&stdout, "approve (the swap)").join("\n").contains(&format!("dedup {}", &new[..19])), "{stdout}");

    let again = run(&["demo", "--dir", project.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1), "a demo never overwrites a directory");
}

/// Runs the binary with `CARGO_TARGET_DIR` at an empty directory: no plugin is built there.
fn without_built_plugins(args: &[&str]) -> Output {
    let empty = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    crate::support::crm_migrate()
        .args(args)
        .env("CARGO_TARGET_DIR", empty.path())
        .env("CRM_MIGRATE_CACHE_DIR", cache.path())
        .output()
        .expect("the binary runs")
}

#[test]
fn demo_without_built_plugins_says_what_to_run_and_starts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("demo");
    let output = without_built_plugins(&["demo", "--dir", project.to_str().unwrap()]);
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("clean_basic.wasm is missing")
            && stderr.contains("cargo build-plugins && cargo run -p crm-migrate -- demo"),
        "{stderr}"
    );
    assert!(!project.exists(), "nothing was started");
}

#[test]
fn init_proposes_the_built_vetted_plugins_pinned_and_says_how_to_build_them_when_not_built() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("acme");
    let export = sample_export();
    let output = run(&["init", project.to_str().unwrap(), "--export", export.to_str().unwrap()]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let config = std::fs::read_to_string(project.join("migration.toml")).unwrap();
    for (stem, name) in
        [("clean_basic", "clean-basic"), ("dedup_email", "dedup-email"), ("segment_labels", "segment-labels")]
    {
        let digest = digest_of(&plugin(stem));
        assert!(
            config.contains(&format!("# digest = \"{digest}\"")),
            "{stem} is proposed, pinned, commented out:\n{config}"
        );
        assert!(stdout.contains("proposed plugin") && stdout.contains(name), "{stdout}");
    }
    let table: toml::Table = toml::from_str(&config).unwrap();
    assert!(table.get("plugins").is_none(), "proposed, not taken: a person decides\n{config}");

    let other = dir.path().join("other");
    let output = without_built_plugins(&["init", other.to_str().unwrap(), "--export", export.to_str().unwrap()]);
    let stdout = text(&output.stdout);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        stdout.contains("the vetted plugins are not built") && stdout.contains("run `cargo build-plugins`"),
        "{stdout}"
    );
    assert!(!std::fs::read_to_string(other.join("migration.toml")).unwrap().contains("Proposed"));
}

/// Takes the first `# ` off each line of the proposed entry whose hook is `hook`.
fn take_proposed(config: &str, hook: &str) -> String {
    let blocks: Vec<&str> = config.split("\n\n").collect();
    blocks
        .iter()
        .map(|block| {
            if block.starts_with("# Proposed") && block.contains(&format!("# hook = \"{hook}\"")) {
                block.lines().skip(1).map(|line| line.strip_prefix("# ").unwrap_or(line)).collect::<Vec<_>>().join("\n")
            } else {
                block.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

#[test]
fn plan_leaves_duplicates_to_a_person_until_a_dedup_plugin_or_dedup_none_decides() {
    let _machine = crate::support::heavy();
    let sandbox = crate::apply::fast(SandboxConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("zubr");
    let init = run(&[
        "init",
        project.to_str().unwrap(),
        "--export",
        sample_export().to_str().unwrap(),
        "--pipedrive",
        &sandbox.url(),
    ]);
    assert!(init.status.success(), "{}", text(&init.stderr));
    let config_path = project.join("migration.toml");
    let config = std::fs::read_to_string(&config_path).unwrap();

    let output = in_project(&project, &["plan"]);
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(EXIT_PLAN_UNDECIDED), "{stdout}\n{}", text(&output.stderr));
    let review = stdout
        .lines()
        .find(|line| line.trim_start().starts_with("REVIEW duplicates:"))
        .unwrap_or_else(|| panic!("{stdout}"));
    let (by_email, by_phone) = planted_duplicate_groups();
    // The planted groups are pairs: one person created twice per group.
    assert!(review.contains(&format!("{} persons would be created twice", by_email + by_phone)), "{review}");
    assert!(review.contains(&format!("{by_email} groups of contacts share an email, {by_phone} a phone")), "{review}");
    assert!(review.contains("dedup = \"none\"") && review.contains("dedup plugin"), "says how to decide: {review}");
    let plan_md = std::fs::read_to_string(project.join("reports/plan.md")).unwrap();
    assert!(plan_md.contains("REVIEW") && plan_md.contains("persons would be created twice"), "{plan_md}");

    // Decided by taking the proposed dedup plugin...
    std::fs::write(&config_path, take_proposed(&config, "dedup")).unwrap();
    let output = in_project(&project, &["plan"]);
    assert_eq!(output.status.code(), Some(0), "{}\n{}", text(&output.stdout), text(&output.stderr));
    assert!(!text(&output.stdout).contains("REVIEW duplicates"));

    // ...or by saying they go as they are.
    std::fs::write(&config_path, &config).unwrap();
    crate::plan::migrate_duplicates_as_they_are(&project);
    let output = in_project(&project, &["plan"]);
    assert_eq!(output.status.code(), Some(0), "{}\n{}", text(&output.stdout), text(&output.stderr));
    assert!(!text(&output.stdout).contains("REVIEW duplicates"));

    // Anything else there is a mistake, named with its line.
    std::fs::write(&config_path, format!("{config}dedup = \"some\"\n")).unwrap();
    let output = in_project(&project, &["plan"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("dedup is 'some'"), "{}", text(&output.stderr));
}
