//! The comments beside each choice of `mapping.toml`: what the choice does in this workspace
//! (reuses field 12, creates a stage), what the export holds, which entries need review, and
//! where a person's edit was kept over the proposal. Derived each plan, never read back.

use crate::mapping::file::{Comments, comment_key};
use crate::mapping::{DEFAULT_OWNER, Destination, FieldEntry, Landing, Mapping, REVIEW_BELOW};
use crate::pipedrive::workspace::Workspace;
use crate::plan::propose::propose_activity_type;
use crate::profile::SourceProfile;
use crate::project::Project;
use crate::record::ObjectKind;

const HEADER: &str = "crm-migrate mapping: where each User.com attribute lands in Pipedrive.
Edit it, then run `crm-migrate approve`. A re-plan keeps your edits and adds what is new.

Each [object.attribute] entry says where the attribute goes:
  to = \"emails\"                    a Pipedrive built-in field (the choices are listed above each object)
  to = \"existing\", field = \"Name\"  a custom field the account has; values = { a = \"A\" } maps spellings to its options
  to = \"new\", field = \"Name\", type = \"...\"   a custom field apply creates: varchar, text, double, monetary
                                   (with currency), date, date+time, enum or set (with options), phone
  to = \"skip\", reason = \"...\"      not migrated; the reason goes into the handoff report
An entry whose `to` is a built-in field is a source role (the column that field is read from):
move it to another column by giving that one the `to`; confirm one marked REVIEW with confidence = 1.0.
confidence and why are the proposal's; entries below";

/// What a landing does, in a few words.
pub fn describe(entry: &FieldEntry) -> String {
    let destination = Destination::of(entry.object);
    match &entry.landing {
        Landing::Standard { code } => match destination.standard(code) {
            Some(standard) => format!("{}'s {} ({})", destination.name(), standard.label, standard.how),
            None => format!("{}'s {code}", destination.name()),
        },
        Landing::Existing { field, .. } => format!("the existing {} field '{field}'", destination.name()),
        Landing::New { field, ty, .. } => format!("a new {} {} field '{field}'", destination.name(), ty.as_str()),
        Landing::Skip { reason } => format!("skipped: {reason}"),
    }
}

pub fn comments(
    mapping: &Mapping,
    fresh: &Mapping,
    kept: &[String],
    profile: &SourceProfile,
    workspace: &Workspace,
    project: &Project,
    planned_at: &str,
) -> Comments {
    let mut comments = Comments {
        header: format!(
            "{HEADER} {REVIEW_BELOW:.2} are marked REVIEW.\nEvery person, organization and deal also gets a 'User.com ID' field: the migration's marker.\n\n\
             Planned {planned_at} from {} against {} ({} plan, {} seat(s)).",
            project.export_dir().display(),
            workspace.url,
            project.plan,
            project.config.target.seats
        ),
        by_key: Default::default(),
    };
    let is_kept = |key: &str| kept.iter().any(|k| k == key);
    let mut add = |key: String, text: String| {
        comments.by_key.insert(key, text);
    };

    if let Some(user) = workspace.user_by_email(&mapping.default_owner.target) {
        add(
            "owners.default".into(),
            format!("Pipedrive user {} (id {}): owns records whose agent has no user", user.name, user.id),
        );
    }
    for agent in &mapping.agents {
        let records = profile.agents.get(&agent.source).copied().unwrap_or(0);
        let what = match workspace.user_by_email(&agent.target) {
            Some(user) if agent.target.eq_ignore_ascii_case(&agent.source) => {
                format!("the same email in Pipedrive: {} (id {})", user.name, user.id)
            }
            Some(user) => format!("{} (id {})", user.name, user.id),
            None if agent.target == DEFAULT_OWNER => "no Pipedrive user has this email: the default owner".to_owned(),
            None => "not a Pipedrive user".to_owned(),
        };
        add(
            comment_key(&["owners", "agents", &agent.source]),
            format!("{records} records; {what}{}", edited(is_kept(&format!("owners.agents.{}", agent.source)))),
        );
    }
    for pipeline in &mapping.pipelines {
        let source =
            profile.catalogue.pipelines.iter().find(|p| p.id == pipeline.source_id).map_or("", |p| p.name.as_str());
        let existing = workspace.pipeline(&pipeline.name);
        let what = match existing {
            Some(found) => format!("exists in Pipedrive (id {}): reused", found.id),
            None => "created".to_owned(),
        };
        let key = format!("pipelines.{}", pipeline.source_id);
        add(key.clone(), format!("User.com '{source}': {what}{}", edited(is_kept(&key))));
        for (position, stage) in pipeline.stages.iter().enumerate() {
            let source = profile.catalogue.stages.iter().find(|s| s.id == stage.source).map_or("", |s| s.name.as_str());
            let what = match existing.and_then(|found| workspace.stage(found.id, &stage.target)) {
                Some(found) => format!("exists (id {}): reused", found.id),
                None => format!("created, {}", ordinal(position + 1)),
            };
            let key = format!("pipelines.{}.stages.{}", pipeline.source_id, stage.source);
            add(key.clone(), format!("User.com '{source}': {what}{}", edited(is_kept(&key))));
        }
    }
    for status in &mapping.deal_status {
        let deals = profile.deal_statuses.get(&status.source).copied().unwrap_or(0);
        let how = match (status.source.as_str(), status.target.as_str()) {
            ("abandoned", "lost") => ", lost reason \"Abandoned in User.com\"",
            ("archived", "lost") => {
                ": Pipedrive's archive is a flag, not a status; lost reason \"Archived in User.com\""
            }
            _ => "",
        };
        let key = format!("deal_status.{}", status.source);
        add(key.clone(), format!("{deals} deals{how}{}", edited(is_kept(&key))));
    }
    for kind in &mapping.activity_types {
        let key = format!("activity_types.{}", kind.source);
        let what = match workspace.activity_type(&kind.target) {
            Some(found) if fresh.activity_types.iter().any(|c| c.source == kind.source && c.target == kind.target) => {
                propose_activity_type(profile, &kind.source, workspace).1 + &format!(" (id {})", found.id)
            }
            Some(found) => format!("Pipedrive's {} (id {})", found.name, found.id),
            None => "no such Pipedrive type: created as a custom activity type".to_owned(),
        };
        add(key.clone(), format!("{what}{}", edited(is_kept(&key))));
    }
    let names = &profile.names;
    let disagree = if names.disagree > 0 {
        format!("; {} of {} contacts with both disagree (listed in reports/plan.md)", names.disagree, names.both)
    } else {
        String::new()
    };
    add(
        "names".into(),
        format!(
            "a person's name: \"full\" (the full name column) or \"parts\" (first + last name); either falls back to the other{disagree}{}",
            edited(is_kept("names.prefer"))
        ),
    );
    let events = profile.records(ObjectKind::Event);
    let created = if workspace.activity_type(&mapping.event_activity_type.target).is_some() {
        ""
    } else {
        " (created as a custom type)"
    };
    add(
        "events".into(),
        format!(
            "{events} events become done activities of this type{created}, at their start, their other data in the note{}",
            edited(is_kept("events.activity_type"))
        ),
    );

    for object in &profile.objects {
        let destination = Destination::of(object.kind);
        let codes: Vec<&str> = destination.standard_fields().iter().map(|standard| standard.code).collect();
        // The source roles: which column each built-in field is read from, and how sure.
        let roles: Vec<String> = mapping
            .fields
            .iter()
            .filter(|entry| entry.object == object.kind)
            .filter_map(|entry| match &entry.landing {
                Landing::Standard { code } => {
                    let column = object
                        .attribute(&entry.attribute)
                        .map_or(entry.attribute.as_str(), |attribute| attribute.column.header.as_str());
                    let review = if entry.needs_review() { " REVIEW" } else { "" };
                    Some(format!("{code} <- '{column}' ({:.2}{review})", entry.confidence))
                }
                _ => None,
            })
            .collect();
        let custom = if destination.entity().is_some() {
            "; or existing, new, skip"
        } else {
            "; or skip (no custom fields here)"
        };
        add(
            comment_key(&["object", object.kind.as_str()]),
            format!(
                "---- {} ({}, {} records) -> Pipedrive {}s ----\nbuilt-in fields: {}{custom}\nroles (built-in field <- column): {}",
                object.kind,
                object.file,
                object.records,
                destination.name(),
                codes.join(", "),
                if roles.is_empty() { "none".to_owned() } else { roles.join(", ") }
            ),
        );
    }
    for entry in &mapping.fields {
        let mut lines = Vec::new();
        let key = entry.key();
        if is_kept(&key) {
            let proposal = fresh.field(entry.object, &entry.attribute).map(describe).unwrap_or_default();
            lines.push(format!("kept your edit (plan proposes {proposal})"));
        } else if entry.needs_review() {
            lines.push(format!("REVIEW: confidence {:.2}", entry.confidence));
        }
        lines.push(format!("-> {}", describe(entry)));
        if let Some(attribute) = profile.object(entry.object).and_then(|object| object.attribute(&entry.attribute))
            && attribute.column.header != attribute.field()
        {
            lines.push(format!("column '{}'", attribute.column.header));
        }
        add(comment_key(&[entry.object.as_str(), &entry.attribute]), lines.join("\n"));
    }
    comments
}

fn edited(kept: bool) -> &'static str {
    if kept { " [kept your edit]" } else { "" }
}

fn ordinal(n: usize) -> String {
    let suffix = match (n % 10, n % 100) {
        (1, 11) | (2, 12) | (3, 13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}
