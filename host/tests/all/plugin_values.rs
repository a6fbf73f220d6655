//! Nothing a plugin says is trusted unchecked: a value out of range (a datetime offset of
//! -32768 minutes, unix millis of i64::MAX, month 13, a NaN, a field name with an escape
//! sequence) quarantines its batch with a reason naming the plugin, the hook, the batch and the
//! value's place, and the host goes on; `describe` must follow the grammar of names; a hook
//! migration.toml names is refused unless the plugin declares it; and text from a plugin
//! reaches the terminal and plan.md escaped.

use std::path::{Path, PathBuf};

use crm_migrate::plugins::{Digest, HookFailure, Tag};
use crm_migrate::record::Record;
use crm_migrate_sandbox::SandboxConfig;
use serde_json::Value;

use crate::extract::sample_export;
use crate::plan::{in_project, prepared_sandbox_with, project, run, text};
use crate::support::{contact, host, load, plugin};

/// Each attack of `hostile_values` (a record's `attack` field) and what its reason must say.
const ATTACKS: &[(&str, &str)] = &[
    ("offset-min", "field \"when\": datetime offset -32768 minutes is outside ±1080 minutes"),
    ("offset-max", "datetime offset 32767 minutes is outside"),
    ("offset-19h", "datetime offset 1140 minutes is outside"),
    ("millis-max", "datetime unix millis 9223372036854775807 at offset 0 minutes is outside"),
    ("millis-min", "datetime unix millis -9223372036854775808 at offset 60 minutes is outside"),
    ("local-year-10000", "datetime unix millis 253402300799999 at offset 60 minutes is outside"),
    ("month-13", "field \"when\": date month 13 is outside 1 to 12"),
    ("month-0", "date month 0 is outside 1 to 12"),
    ("day-0", "date day 0 is outside 1 to 31"),
    ("feb-29-2023", "date day 29 is outside 1 to 28"),
    ("year-max", "date year 2147483647 is outside 1 to 9999"),
    ("nan", "field \"score\": number NaN is not finite"),
    ("infinity", "field \"score\": number inf is not finite"),
    ("field-empty", "change 0: field name \"\" is empty"),
    ("field-escape", "field name \"name\\u{1b}[2K\" holds control characters"),
    ("field-newline", "field name \"a\\nb\" holds control characters"),
    ("field-long", "is longer than 255 bytes"),
    ("issue-field-escape", "issue 0: field name \"email\\u{1b}[2K\" holds control characters"),
];

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

#[test]
fn each_value_out_of_range_quarantines_its_batch_with_its_place_and_the_host_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("id,attack\n");
    for (attack, _) in ATTACKS {
        csv.push_str(&format!("{attack},{attack}\n"));
    }
    csv.push_str("harmless,\nnew-field,new-field\n");
    let input = write(dir.path(), "records.csv", &csv);
    let wasm = plugin("hostile_values");
    let args = [
        "plugin",
        "run",
        wasm.to_str().unwrap(),
        "--hook",
        "clean",
        "--input",
        input.to_str().unwrap(),
        "--batch-size",
        "1",
    ];

    let output = run(&[&args[..], &["--json"]].concat());
    assert_ne!(output.status.code(), Some(101), "the host panicked: {}", text(&output.stderr));
    assert_eq!(output.status.code(), Some(3), "batches failed: {}", text(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let records = report["records"].as_array().unwrap();
    assert_eq!(report["failures"].as_array().unwrap().len(), ATTACKS.len(), "one failed batch per attack");
    for (index, (attack, says)) in ATTACKS.iter().enumerate() {
        let record = &records[index];
        assert_eq!(record["source_id"], *attack);
        assert_eq!(record["fate"], "quarantined", "{attack}: {record}");
        let reason = record["reason"].as_str().unwrap();
        let place = format!(
            "plugin hostile-values 0.1.0, hook clean, batch {}: returned an invalid answer: record 0 (source id \"{attack}\"): ",
            index + 1
        );
        assert!(reason.starts_with(&place) && reason.contains(says), "{attack}: {reason}\nexpected {place}...{says}");
    }
    let harmless = &records[ATTACKS.len()];
    assert_eq!(
        (harmless["fate"].as_str(), harmless["changes"][0]["after"].as_str()),
        (Some("changed"), Some("2024-02-29")),
        "the next batch runs"
    );

    // The text report prints every value; it too ends in the exit code for failed batches.
    let output = run(&args);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
    assert_eq!(text(&output.stderr).lines().filter(|line| line.starts_with("failed: ")).count(), ATTACKS.len());
}

#[test]
fn a_field_the_input_does_not_have_is_listed_as_a_new_field() {
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "records.csv", "id,attack,when\na,new-field,\nb,new-field,\nc,,\n");
    let wasm = plugin("hostile_values");
    let args = ["plugin", "run", wasm.to_str().unwrap(), "--hook", "clean", "--input", input.to_str().unwrap()];
    let output = run(&[&args[..], &["--json"]].concat());
    assert!(output.status.success(), "{}", text(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        report["new_fields"],
        serde_json::json!([{"kind": "contact", "field": "invented_by_plugin", "records": 2}]),
        "{report}"
    );
    let output = run(&args);
    let stdout = text(&output.stdout);
    assert!(stdout.contains("new field (not in the input): contact.invented_by_plugin, set on 2 records"), "{stdout}");
}

#[test]
fn merge_changes_are_checked_like_clean_changes() {
    let host = host();
    let plugin = load(&host, "hostile_values", &[]);
    let mut records: Vec<Record> = vec![contact("a", &[]), contact("b", &[("attack", "merge-offset")])];
    let error = plugin.merge(4, &records.iter().collect::<Vec<_>>(), &[vec![0, 1]]).unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with("plugin hostile-values 0.1.0, hook dedup, batch 4: returned an invalid answer: record 0 (source id \"a\"): merge change 0: field \"when\": datetime offset -32768 minutes"),
        "{message}"
    );
    records[1] = contact("b", &[]);
    let merged =
        plugin.merge(5, &records.iter().collect::<Vec<_>>(), &[vec![0, 1]]).expect("an offset of +01:00 passes");
    assert_eq!(merged.output[0].changes[0].value.to_string(), "1970-01-01T01:00:00+01:00");
}

#[test]
fn label_names_must_be_non_blank_bounded_and_printable() {
    let host = host();
    let plugin = load(&host, "hostile_values", &[]);
    let tag = |name: &str| Tag { id: format!("t-{name}"), name: name.into(), record_count: 1 };
    for (name, says) in [
        ("empty", "tag \"t-empty\": label name \"  \" is empty"),
        ("control", "label name \"VIP\\u{1b}[2K\\ndigest: sha256:0\" holds control characters"),
        ("long", "label name \"LLLL"),
    ] {
        let error = plugin.label(&[tag("fine"), tag(name)], &[]).unwrap_err();
        assert!(
            matches!(&error.failure, HookFailure::InvalidOutput { detail } if detail.contains(says)),
            "{name}: {error}"
        );
        assert!(error.to_string().starts_with("plugin hostile-values 0.1.0, hook label, batch 0"), "{error}");
    }
    let fine = plugin.label(&[tag("VIP")], &[]).expect("a printable name passes");
    assert_eq!(fine.output.len(), 1);
}

#[test]
fn a_hook_the_plugin_does_not_declare_is_never_called() {
    let host = host();
    let plugin = load(&host, "hostile_garbage", &[]); // declares clean and dedup
    let error = plugin.label(&[Tag { id: "1".into(), name: "vip".into(), record_count: 1 }], &[]).unwrap_err();
    assert_eq!(error.failure, HookFailure::HookNotDeclared, "{error}");
    let component = host.open(&crate::support::plugin("hostile_garbage"), None).unwrap();
    let refused = component.configure_for(crm_migrate::plugins::Hook::Label, Vec::new()).err().expect("refused");
    assert!(refused.to_string().contains("does not implement the label hook (it declares: clean, dedup)"), "{refused}");
}

#[test]
fn describe_out_of_grammar_is_refused_and_named_escaped() {
    let wasm = plugin("hostile_describe");
    let output = run(&["plugin", "vet", wasm.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stdout));
    let stderr = text(&output.stderr);
    for says in [
        "describes itself out of grammar",
        "name \"evil\\n[[plugins]]\\nhook = \\\"clean\\\"",
        "version \"1.0\\u{1b}[2K\" is not a semantic version",
        "option key \"a b\\u{1b}\" is not a lower-case letter",
    ] {
        assert!(stderr.contains(says), "{says}: {stderr}");
    }
    assert_eq!(stderr.lines().count(), 1, "one line, the plugin's newlines escaped: {stderr}");
    assert!(!stderr.contains('\u{1b}'));

    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("p");
    let clean = format!("clean={}", wasm.display());
    let output =
        run(&["init", project.to_str().unwrap(), "--export", sample_export().to_str().unwrap(), "--plugin", &clean]);
    assert_eq!(output.status.code(), Some(1));
    assert!(!project.join("migration.toml").exists(), "init pins no plugin that describes itself out of grammar");
}

/// No byte a terminal acts on: escape, carriage return, bell, nor a bidirectional override.
fn assert_inert(what: &str, output: &str) {
    for c in ['\u{1b}', '\r', '\u{7}', '\u{9b}', '\u{202e}'] {
        assert!(!output.contains(c), "{what} holds {c:?} raw:\n{output}");
    }
    assert!(!output.lines().any(|line| line.trim_start().starts_with("<script>")), "{what}:\n{output}");
}

#[test]
fn plugin_text_reaches_the_terminal_escaped() {
    let wasm = plugin("hostile_text");
    let digest = Digest::of(&std::fs::read(&wasm).unwrap()).to_string();
    let output = run(&["plugin", "vet", wasm.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert_inert("plugin vet", &stdout);
    let digest_lines: Vec<&str> = stdout.lines().filter(|line| line.trim_start().starts_with("digest")).collect();
    assert_eq!(digest_lines, [format!("  digest    {digest}")], "exactly one digest line, the real one:\n{stdout}");
    assert!(
        stdout.lines().next().unwrap().contains("harmless\\n\\u{1b}[1A\\u{1b}[2K  digest    sha256:0000"),
        "the fake stays on the description's line:\n{stdout}"
    );

    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "records.csv", "id,email\na,a@x.pl\nb,b@x.pl\n");
    let output = run(&["plugin", "run", wasm.to_str().unwrap(), "--hook", "clean", "--input", input.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert_inert("plugin run --hook clean", &stdout);
    assert_eq!(
        stdout.lines().filter(|line| line.contains("digest")).count(),
        3,
        "the log line, the drop and the reject each on one line:\n{stdout}"
    );

    let tags = write(dir.path(), "tags.csv", "id,name\n1,vip\n2,old\n");
    let output = run(&["plugin", "run", wasm.to_str().unwrap(), "--hook", "label", "--input", tags.to_str().unwrap()]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_inert("plugin run --hook label", &text(&output.stdout));
    assert_eq!(text(&output.stdout).lines().count(), 3, "{}", text(&output.stdout));
}

/// Appends a plugin entry to a project's migration.toml, as a person would.
fn add_plugin(project: &Path, hook: &str, file_stem: &str) {
    let wasm = plugin(file_stem);
    let digest = Digest::of(&std::fs::read(&wasm).unwrap());
    let entry =
        format!("\n[[plugins]]\nhook = \"{hook}\"\npath = {:?}\ndigest = \"{digest}\"\n", wasm.display().to_string());
    let config = project.join("migration.toml");
    let text = std::fs::read_to_string(&config).unwrap() + &entry;
    std::fs::write(config, text).unwrap();
}

#[test]
fn a_project_naming_a_hook_its_plugin_does_not_declare_is_refused_by_plan() {
    let _heavy = crate::support::heavy();
    let sandbox = prepared_sandbox_with(SandboxConfig::default());
    let (_dir, project) = project(&sandbox, "growth");
    add_plugin(&project, "label", "clean_basic");
    let output = in_project(&project, &["plan"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stdout));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("plugin clean-basic")
            && stderr.contains("does not implement the label hook (it declares: clean)"),
        "{stderr}"
    );
    assert!(!project.join("reports/plan.md").exists(), "nothing planned with it");
}

#[test]
fn plugin_label_names_reach_plan_md_escaped() {
    let _heavy = crate::support::heavy();
    let sandbox = prepared_sandbox_with(SandboxConfig::default());
    let (_dir, project) = project(&sandbox, "growth");
    add_plugin(&project, "label", "hostile_text");
    let output = in_project(&project, &["plan"]);
    assert_ne!(output.status.code(), Some(101), "{}", text(&output.stderr));
    assert!(matches!(output.status.code(), Some(0) | Some(5)), "{}", text(&output.stderr));
    assert_inert("plan's output", &(text(&output.stdout) + &text(&output.stderr)));
    let plan = std::fs::read_to_string(project.join("reports/plan.md")).unwrap();
    assert_inert("plan.md", &plan);
    assert!(!plan.contains("<script>"), "plan.md holds <script> raw");
    assert!(plan.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "the plugin's label is there, escaped:\n{plan}");
}

#[test]
fn apply_lists_the_fields_a_plugin_set_that_the_export_does_not_have() {
    let _heavy = crate::support::heavy();
    let sandbox = crate::apply::fast(SandboxConfig::default());
    let (_dir, project) = project(&sandbox, "premium");
    add_plugin(&project, "clean", "hostile_values"); // sets `when` on every record without `attack`
    assert!(in_project(&project, &["plan"]).status.success());
    assert!(in_project(&project, &["approve", "--yes"]).status.success());
    crate::apply::apply(&project, &["--sample", "5"]);
    let reconciliation = std::fs::read_to_string(project.join("reports/reconciliation.md")).unwrap();
    assert!(
        reconciliation
            .contains("## Fields a plugin set that the export does not have (no mapping entry: not migrated)")
            && reconciliation.contains("- contact.when: set by hostile-values 0.1.0 on 5 records"),
        "{reconciliation}"
    );
}
