//! The vetted plugins over real records through the host: every record ends kept, dropped,
//! rejected, quarantined or merged into a named survivor, and the counts add up.

use std::path::PathBuf;

use crm_migrate::pipeline::{self, BatchIds, Fate};
use crm_migrate::plugins::{LabelColor, TagFate};
use crm_migrate::record::{ObjectKind, Value};
use crm_migrate::records_csv;

use crate::support::{contact, host, load};

fn example(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/plugin-run").join(file)
}

fn fate_of<'a>(output: &'a pipeline::StageOutput, id: &str) -> &'a Fate {
    &output.fates.iter().find(|entry| entry.source_id == id).expect("every record has a fate").fate
}

#[test]
fn clean_basic_cleans_the_sample_contacts_and_accounts_for_each() {
    let host = host();
    let plugin = load(&host, "clean_basic", &[("drop_email_domains", "example.com")]);
    let input = records_csv::read_records(&example("contacts.csv"), ObjectKind::Contact).unwrap();
    let total = input.records.len();
    for batch_size in [1, 3, 1000] {
        let output = pipeline::clean(&plugin, input.records.clone(), batch_size, &mut BatchIds::default());
        let counts = output.counts();
        assert_eq!(counts.total(), total, "batch size {batch_size}");
        assert_eq!((counts.kept, counts.dropped, counts.rejected, counts.quarantined), (6, 1, 1, 0));
        assert!(matches!(fate_of(&output, "u-1004"), Fate::Dropped { reason } if reason.contains("example.com")));
        assert!(matches!(fate_of(&output, "u-1005"), Fate::Rejected { issues } if issues[0].field == "email"));
        let jan = output.records.iter().find(|record| record.source_id == "u-1003").unwrap();
        assert_eq!(jan.get("phone_number"), Some(&Value::Text("+48501234567".into())));
        assert_eq!(jan.get("name"), Some(&Value::Text("Jan Kowalski".into())));
    }
}

#[test]
fn dedup_merges_contacts_sharing_an_email_and_names_the_survivor() {
    let host = host();
    let clean = load(&host, "clean_basic", &[]);
    let dedup = load(&host, "dedup_email", &[]);
    let input = records_csv::read_records(&example("contacts.csv"), ObjectKind::Contact).unwrap();
    let mut ids = BatchIds::default();
    let cleaned = pipeline::clean(&clean, input.records, 1000, &mut ids);
    let kept = cleaned.records.len();
    // Small batches: groups must still form across batches.
    let output = pipeline::dedup(&dedup, cleaned.records, 2, &mut ids);
    assert!(output.failures.is_empty(), "{:?}", output.failures);
    assert_eq!(output.counts().total(), kept);

    // u-1001 (updated 2024-03) and u-1002 (2023-11) share an email: the most recent survives.
    assert_eq!(fate_of(&output, "u-1002"), &Fate::Merged { survivor: "u-1001".into() });
    // u-1007 and u-1008 share an email once cleaned; u-1007 is newer.
    assert_eq!(fate_of(&output, "u-1008"), &Fate::Merged { survivor: "u-1007".into() });
    let ada = output.records.iter().find(|record| record.source_id == "u-1001").unwrap();
    match ada.get("tags") {
        Some(Value::Choices(tags)) => {
            assert!(tags.contains(&"beta".to_string()) && tags.contains(&"vip".to_string()), "{tags:?}")
        }
        other => panic!("tags unioned into the survivor, got {other:?}"),
    }
    assert_eq!(output.counts().merged, 2);
}

#[test]
fn records_without_keys_are_never_merged() {
    let host = host();
    let dedup = load(&host, "dedup_email", &[]);
    let records = vec![contact("a", &[("first_name", "Ann")]), contact("b", &[("first_name", "Ann")])];
    let output = pipeline::dedup(&dedup, records, 10, &mut BatchIds::default());
    assert_eq!(output.counts().kept, 2);
    assert_eq!(output.counts().merged, 0);
}

#[test]
fn segment_labels_turns_tags_into_labels_and_flags_segment_origin() {
    let host = host();
    let plugin = load(&host, "segment_labels", &[("colors", "VIP=red"), ("skip_prefixes", "internal_")]);
    let tags = records_csv::read_tags(&example("tags.csv")).unwrap();
    let segments = records_csv::read_segments(&example("segments.csv")).unwrap();
    let decisions = plugin.label(&tags, &segments).unwrap().output;
    assert_eq!(decisions.len(), tags.len());
    let by_tag = |id: &str| decisions.iter().find(|decision| decision.tag_id == id).unwrap();
    assert_eq!(by_tag("t1").fate, TagFate::Label { name: "VIP".into(), color: LabelColor::Red });
    assert!(matches!(&by_tag("t3").fate, TagFate::Skip { reason } if reason.contains("internal_")));
    assert!(by_tag("t4").segment_origin, "a tag named like a segment is segment-origin");
    assert!(!by_tag("t1").segment_origin);
}

#[test]
fn a_huge_group_sharing_a_placeholder_key_is_left_unmerged_for_review() {
    let host = host();
    let dedup = load(&host, "dedup_email", &[]);
    let placeholder = (0..60).map(|i| contact(&format!("p{i}"), &[("phone", "000 000 0000")]));
    let pair = [contact("a", &[("email", "ann@example.org")]), contact("b", &[("email", "ANN@example.org")])];
    let output = pipeline::dedup(&dedup, placeholder.chain(pair).collect(), 1000, &mut BatchIds::default());
    assert_eq!(output.unmerged_groups.len(), 1);
    assert_eq!(output.unmerged_groups[0].len(), 60);
    assert_eq!(output.counts().merged, 1, "the real pair still merges");
    assert_eq!(output.counts().total(), 62);
}
