use crm_migrate_plugin_sdk::{Label, LabelColor, Plugin, Segment, Tag, TagDecision, TagFate};

use super::*;

fn plugin(pairs: &[(&str, &str)]) -> SegmentLabels {
    SegmentLabels::with_config(pairs).expect("valid config")
}

fn tag(id: &str, name: &str, record_count: u32) -> Tag {
    Tag { id: id.into(), name: name.into(), record_count }
}

fn segment(name: &str) -> Segment {
    Segment { id: format!("s-{name}"), name: name.into(), definition: None }
}

fn decide(plugin: &SegmentLabels, tag: Tag) -> TagDecision {
    plugin.label(&tag, &[]).expect("segment-labels reports no errors")
}

/// The decision for each tag, in order, as the SDK asks the plugin for them.
fn decide_all(plugin: &SegmentLabels, tags: &[Tag], segments: &[Segment]) -> Vec<TagDecision> {
    tags.iter().map(|tag| plugin.label(tag, segments).expect("segment-labels reports no errors")).collect()
}

fn label(name: &str, color: LabelColor) -> TagFate {
    TagFate::Label { name: name.into(), color }
}

fn skip_reason(decision: &TagDecision) -> &str {
    match &decision.fate {
        TagFate::Skip { reason } => reason,
        other => panic!("should be skipped, got {other:?}"),
    }
}

#[test]
fn tags_become_labels_of_their_trimmed_name_in_the_mapped_colour() {
    let plugin = plugin(&[("colors", "VIP=red, Newsletter = Dark-Gray")]);
    assert_eq!(decide(&plugin, tag("t1", "  VIP ", 2)).fate, label("VIP", LabelColor::Red));
    assert_eq!(decide(&plugin, tag("t2", "newsletter", 5)).fate, label("newsletter", LabelColor::DarkGray));
}

#[test]
fn tags_missing_from_the_colour_map_get_the_default_color() {
    assert_eq!(decide(&plugin(&[]), tag("t1", "beta", 1)).fate, label("beta", LabelColor::Gray));
    let plugin = plugin(&[("colors", "VIP=red"), ("default_color", "Yellow")]);
    assert_eq!(decide(&plugin, tag("t1", "beta", 1)).fate, label("beta", LabelColor::Yellow));
}

#[test]
fn tags_with_a_skipped_prefix_are_skipped_naming_the_prefix() {
    let plugin = plugin(&[("skip_prefixes", "internal_, tmp_"), ("colors", "tmp_import=red")]);
    let decision = decide(&plugin, tag("t1", "Internal_QA", 4));
    assert!(skip_reason(&decision).contains("'internal_'"), "{}", skip_reason(&decision));
    let decision = decide(&plugin, tag("t2", " tmp_import", 0));
    assert!(skip_reason(&decision).contains("'tmp_'"), "the prefix comes before the count: {}", skip_reason(&decision));
    assert!(matches!(decide(&plugin, tag("t3", "not_internal_", 1)).fate, TagFate::Label { .. }));
}

#[test]
fn tags_no_record_carries_are_skipped_unless_skip_empty_is_off() {
    let decision = decide(&plugin(&[]), tag("t1", "beta", 0));
    assert_eq!(skip_reason(&decision), "no record carries it");
    let kept = decide(&plugin(&[("skip_empty", "false")]), tag("t1", "beta", 0));
    assert_eq!(kept.fate, label("beta", LabelColor::Gray));
}

#[test]
fn tags_with_a_blank_name_are_skipped() {
    let decision = decide(&plugin(&[]), tag("t1", "  ", 3));
    assert_eq!(skip_reason(&decision), "it has no name");
}

#[test]
fn tag_named_like_a_segment_ignoring_case_is_segment_origin() {
    let segments = [segment("Trial users"), segment("Churn risk")];
    let tags = [tag("t1", "trial USERS ", 14), tag("t2", "trial-users", 3), tag("t3", "VIP", 2)];
    let decisions = decide_all(&plugin(&[]), &tags, &segments);
    let origins: Vec<bool> = decisions.iter().map(|decision| decision.segment_origin).collect();
    assert_eq!(origins, [true, false, false]);
}

#[test]
fn normalized_segment_match_also_ignores_spaces_dashes_and_underscores() {
    let segments = [segment("Trial users"), segment(" - ")];
    let tags =
        [tag("t1", "trial-users", 3), tag("t2", "Trial_Users", 3), tag("t3", "trial user", 3), tag("t4", "_", 1)];
    let decisions = decide_all(&plugin(&[("segment_match", "normalized")]), &tags, &segments);
    let origins: Vec<bool> = decisions.iter().map(|decision| decision.segment_origin).collect();
    assert_eq!(origins, [true, true, false, false], "a name that normalizes to nothing matches nothing");
}

#[test]
fn a_skipped_tag_still_reports_its_segment_origin() {
    let decisions = decide_all(&plugin(&[]), &[tag("t1", "Trial users", 0)], &[segment("Trial users")]);
    assert!(matches!(decisions[0].fate, TagFate::Skip { .. }));
    assert!(decisions[0].segment_origin);
}

#[test]
fn unknown_colour_is_refused_naming_it_and_the_allowed_ones() {
    let error = SegmentLabels::with_config(&[("colors", "VIP=red,Newsletter=teal")]).err().expect("refused");
    assert_eq!(error.key, "colors");
    assert!(error.message.contains("'teal'"), "{}", error.message);
    assert!(
        error.message.contains("blue, brown, dark-gray, gray, green, orange, pink, purple, red, yellow"),
        "{}",
        error.message
    );
    let error = SegmentLabels::with_config(&[("default_color", "grey")]).err().expect("refused");
    assert_eq!(error.key, "default_color");
    assert!(error.message.contains("'grey'"), "{}", error.message);
}

#[test]
fn malformed_colour_maps_are_refused() {
    for bad in ["VIP", "=red", "VIP=red,vip=blue"] {
        let error = SegmentLabels::with_config(&[("colors", bad)]).err().expect(bad);
        assert_eq!(error.key, "colors", "{bad}");
    }
}

#[test]
fn bad_configuration_names_the_key() {
    let error = SegmentLabels::with_config(&[("segment_match", "fuzzy")]).err().expect("refused");
    assert_eq!(error.key, "segment_match");
    let error = SegmentLabels::with_config(&[("skip_empty", "sometimes")]).err().expect("refused");
    assert_eq!(error.key, "skip_empty");
    let error = SegmentLabels::with_config(&[("colours", "VIP=red")]).err().expect("refused");
    assert_eq!(error.key, "colours");
    assert!(error.message.contains("colors"), "lists the accepted keys: {}", error.message);
}
