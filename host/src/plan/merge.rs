//! A re-plan keeps a person's edits: an entry of the current `mapping.toml` that differs from what
//! the last plan proposed for it is an edit and stays; every other entry takes the fresh proposal
//! (which may know more: new options, a field created by hand since). Without a record of the last
//! proposal, every entry that differs from the fresh proposal counts as an edit.

use crate::mapping::{Choice, FieldEntry, Mapping, PipelineEntry};

#[derive(Debug)]
pub struct Merged {
    pub mapping: Mapping,
    pub kept: Vec<String>,
    pub added: Vec<String>,
    pub dropped: Vec<String>,
}

pub fn merge(previous: Option<Mapping>, last_proposal: Option<&Mapping>, fresh: &Mapping) -> Merged {
    let Some(previous) = previous else {
        let added = fresh.fields.iter().map(FieldEntry::key).collect();
        return Merged { mapping: fresh.clone(), kept: Vec::new(), added, dropped: Vec::new() };
    };
    let mut merged = Merged { mapping: fresh.clone(), kept: Vec::new(), added: Vec::new(), dropped: Vec::new() };
    let kept = &mut merged.kept;

    merged.mapping.default_owner = pick(
        "owners.default",
        Some(&previous.default_owner),
        last_proposal.map(|last| &last.default_owner),
        &fresh.default_owner,
        kept,
    );
    merged.mapping.agents = choices(
        "owners.agents",
        &previous.agents,
        last_proposal.map(|last| last.agents.as_slice()),
        &fresh.agents,
        kept,
    );
    merged.mapping.deal_status = choices(
        "deal_status",
        &previous.deal_status,
        last_proposal.map(|last| last.deal_status.as_slice()),
        &fresh.deal_status,
        kept,
    );
    merged.mapping.activity_types = choices(
        "activity_types",
        &previous.activity_types,
        last_proposal.map(|last| last.activity_types.as_slice()),
        &fresh.activity_types,
        kept,
    );
    merged.mapping.event_activity_type = pick(
        "events.activity_type",
        Some(&previous.event_activity_type),
        last_proposal.map(|last| &last.event_activity_type),
        &fresh.event_activity_type,
        kept,
    );
    if previous.names != last_proposal.map_or(fresh.names, |last| last.names) {
        merged.mapping.names = previous.names;
        kept.push("names.prefer".to_owned());
    }
    merged.mapping.pipelines = fresh
        .pipelines
        .iter()
        .map(|pipeline| {
            let before = previous.pipelines.iter().find(|p| p.source_id == pipeline.source_id);
            let last = last_proposal.and_then(|last| last.pipelines.iter().find(|p| p.source_id == pipeline.source_id));
            let key = format!("pipelines.{}", pipeline.source_id);
            let name = pick(
                &key,
                before.map(|p| Choice { source: key.clone(), target: p.name.clone(), line: 0 }).as_ref(),
                last.map(|p| Choice { source: key.clone(), target: p.name.clone(), line: 0 }).as_ref(),
                &Choice { source: key.clone(), target: pipeline.name.clone(), line: 0 },
                kept,
            );
            let stages = choices(
                &format!("{key}.stages"),
                before.map_or(&[][..], |p| &p.stages),
                last.map(|p| p.stages.as_slice()),
                &pipeline.stages,
                kept,
            );
            PipelineEntry { source_id: pipeline.source_id.clone(), name: name.target, stages, line: 0 }
        })
        .collect();

    merged.mapping.fields = fresh
        .fields
        .iter()
        .map(|entry| {
            let Some(before) = previous.field(entry.object, &entry.attribute) else {
                merged.added.push(entry.key());
                return entry.clone();
            };
            let proposed_then =
                last_proposal.and_then(|last| last.field(entry.object, &entry.attribute)).unwrap_or(entry);
            // A person confirming a proposal marked REVIEW (raising its confidence) decided it too.
            if before.landing != proposed_then.landing || (proposed_then.needs_review() && !before.needs_review()) {
                kept.push(entry.key());
                return FieldEntry { line: 0, ..before.clone() };
            }
            FieldEntry { note: before.note.clone(), on_bad_value: before.on_bad_value, ..entry.clone() }
        })
        .collect();
    merged.dropped = previous
        .fields
        .iter()
        .filter(|entry| fresh.field(entry.object, &entry.attribute).is_none())
        .map(FieldEntry::key)
        .collect();
    for agent in &previous.agents {
        if !fresh.agents.iter().any(|choice| choice.source == agent.source) {
            merged.dropped.push(format!("owners.agents.{}", agent.source));
        }
    }
    for pipeline in &previous.pipelines {
        if !fresh.pipelines.iter().any(|p| p.source_id == pipeline.source_id) {
            merged.dropped.push(format!("pipelines.{}", pipeline.source_id));
        }
    }
    merged
}

/// The previous choice when a person changed it, else the fresh one.
fn pick(
    key: &str,
    previous: Option<&Choice>,
    last_proposal: Option<&Choice>,
    fresh: &Choice,
    kept: &mut Vec<String>,
) -> Choice {
    match previous {
        Some(previous) if previous.target != last_proposal.unwrap_or(fresh).target => {
            kept.push(key.to_owned());
            Choice { line: 0, ..previous.clone() }
        }
        _ => fresh.clone(),
    }
}

fn choices(
    section: &str,
    previous: &[Choice],
    last_proposal: Option<&[Choice]>,
    fresh: &[Choice],
    kept: &mut Vec<String>,
) -> Vec<Choice> {
    fresh
        .iter()
        .map(|choice| {
            let find = |list: &[Choice]| list.iter().find(|c| c.source == choice.source).cloned();
            let last = last_proposal.and_then(find);
            pick(&format!("{section}.{}", choice.source), find(previous).as_ref(), last.as_ref(), choice, kept)
        })
        .collect()
}
