//! The text of `mapping.toml`, both ways: [`render`] writes a mapping for people (grouped by
//! object, commented, in a stable order), [`parse`] reads a person's edit back, keeping the line of
//! every choice so that a check can point at it.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Deserialize;
use toml::Spanned;

use super::{Choice, FieldEntry, Landing, Mapping, NamePreference, NewFieldType, OnBadValue, PipelineEntry};
use crate::project::{comment_text, line_of, quoted, single_line_string};
use crate::record::ObjectKind;

/// A problem in `mapping.toml`, at a line (0 when the whole file is meant).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct MappingError {
    pub line: usize,
    pub message: String,
}

/// Comments to print beside the map's choices, keyed as [`comment_key`] names them. They are
/// derived (from the workspace and the export), never read back.
#[derive(Debug, Clone, Default)]
pub struct Comments {
    pub header: String,
    pub by_key: BTreeMap<String, String>,
}

impl Comments {
    fn get(&self, key: &str) -> Option<&str> {
        self.by_key.get(key).map(String::as_str)
    }
}

/// Keys of [`Comments::by_key`]: `owners.default`, `owners.agents.EMAIL`, `pipelines.ID`,
/// `pipelines.ID.stages.ID`, `deal_status.WORD`, `activity_types.ID`, `events`, `names`, `object.KIND`
/// (a line above the object's entries) and `KIND.ATTRIBUTE` (above an entry).
pub fn comment_key(parts: &[&str]) -> String {
    parts.join(".")
}

/// A TOML key: bare when it can be, quoted on one line otherwise (an attribute is named by
/// the export's header, which may hold a newline; a key cannot be a multi-line string).
fn key(text: &str) -> String {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        text.to_owned()
    } else {
        single_line_string(text)
    }
}

/// Comments hold text from the export, the workspace and the project: a newline or another
/// control character in it is written escaped, so that it can neither end the comment (and
/// add TOML of its own) nor make the file unreadable.
fn trailing(comment: Option<&str>) -> String {
    comment.map(|comment| format!("  # {}", comment_text(comment))).unwrap_or_default()
}

/// A comment of several lines: each line of `text` is a comment line of its own.
fn comment_lines(out: &mut String, text: &str) {
    for line in text.lines() {
        if line.is_empty() {
            out.push_str("#\n");
        } else {
            let _ = writeln!(out, "# {}", comment_text(line));
        }
    }
}

fn list(items: &[String]) -> String {
    format!("[{}]", items.iter().map(|item| quoted(item)).collect::<Vec<_>>().join(", "))
}

/// The file for a mapping. Stable: the same mapping and comments give the same bytes.
pub fn render(mapping: &Mapping, comments: &Comments) -> String {
    let mut out = String::new();
    comment_lines(&mut out, &comments.header);
    let choice = |out: &mut String, choice: &Choice, comment_key: String| {
        let _ = writeln!(
            out,
            "{} = {}{}",
            key(&choice.source),
            quoted(&choice.target),
            trailing(comments.get(&comment_key))
        );
    };

    out.push_str("\n[owners]\n");
    let _ = writeln!(
        out,
        "default = {}{}",
        quoted(&mapping.default_owner.target),
        trailing(comments.get("owners.default"))
    );
    out.push_str("\n[owners.agents]\n");
    if mapping.agents.is_empty() {
        out.push_str("# (no record of the export names an agent)\n");
    }
    for agent in &mapping.agents {
        choice(&mut out, agent, comment_key(&["owners", "agents", &agent.source]));
    }

    for pipeline in &mapping.pipelines {
        let _ = writeln!(out, "\n[pipelines.{}]", key(&pipeline.source_id));
        let _ = writeln!(
            out,
            "name = {}{}",
            quoted(&pipeline.name),
            trailing(comments.get(&comment_key(&["pipelines", &pipeline.source_id])))
        );
        let _ = writeln!(out, "\n[pipelines.{}.stages]", key(&pipeline.source_id));
        for stage in &pipeline.stages {
            choice(&mut out, stage, comment_key(&["pipelines", &pipeline.source_id, "stages", &stage.source]));
        }
    }

    out.push_str("\n[deal_status]\n");
    for status in &mapping.deal_status {
        choice(&mut out, status, comment_key(&["deal_status", &status.source]));
    }

    out.push_str("\n[activity_types]\n");
    for kind in &mapping.activity_types {
        choice(&mut out, kind, comment_key(&["activity_types", &kind.source]));
    }

    out.push_str("\n[events]\n");
    let _ = writeln!(
        out,
        "activity_type = {}{}",
        quoted(&mapping.event_activity_type.target),
        trailing(comments.get("events"))
    );

    out.push_str("\n[names]\n");
    let _ = writeln!(out, "prefer = {}{}", quoted(mapping.names.as_str()), trailing(comments.get("names")));

    if !mapping.fields.is_empty() {
        let policies: Vec<String> = OnBadValue::ALL.iter().map(|policy| quoted(policy.as_str())).collect();
        let _ = write!(
            out,
            "\n# A value that does not fit its field (does not read as its type, too long, not an option) leaves the field\n\
             # empty and is listed in reports/quarantine.csv. To change that for one entry: on_bad_value = {}.\n",
            policies.join(" | ")
        );
    }
    let mut object = None;
    for entry in &mapping.fields {
        if object != Some(entry.object) {
            object = Some(entry.object);
            out.push('\n');
            if let Some(comment) = comments.get(&comment_key(&["object", entry.object.as_str()])) {
                comment_lines(&mut out, comment);
            }
        }
        render_entry(&mut out, entry, comments.get(&comment_key(&[entry.object.as_str(), &entry.attribute])));
    }
    out
}

fn render_entry(out: &mut String, entry: &FieldEntry, comment: Option<&str>) {
    out.push('\n');
    if let Some(comment) = comment {
        comment_lines(out, comment);
    }
    let _ = writeln!(out, "[{}.{}]", entry.object.as_str(), key(&entry.attribute));
    match &entry.landing {
        Landing::Standard { code } => {
            let _ = writeln!(out, "to = {}", quoted(code));
        }
        Landing::Existing { field, values } => {
            let _ = writeln!(out, "to = \"existing\"\nfield = {}", quoted(field));
            if !values.is_empty() {
                let pairs: Vec<String> =
                    values.iter().map(|(from, to)| format!("{} = {}", key(from), quoted(to))).collect();
                let _ = writeln!(out, "values = {{ {} }}", pairs.join(", "));
            }
        }
        Landing::New { field, ty, options, currency } => {
            let _ = writeln!(out, "to = \"new\"\nfield = {}\ntype = {}", quoted(field), quoted(ty.as_str()));
            if ty.has_options() {
                let _ = writeln!(out, "options = {}", list(options));
            }
            if let Some(currency) = currency {
                let _ = writeln!(out, "currency = {}", quoted(currency));
            }
        }
        Landing::Skip { reason } => {
            let _ = writeln!(out, "to = \"skip\"\nreason = {}", quoted(reason));
        }
    }
    let _ = writeln!(out, "confidence = {:.2}", entry.confidence);
    if !entry.why.is_empty() {
        let _ = writeln!(out, "why = {}", list(&entry.why));
    }
    if let Some(note) = &entry.note {
        let _ = writeln!(out, "note = {}", quoted(note));
    }
    if entry.on_bad_value != OnBadValue::default() {
        let _ = writeln!(out, "on_bad_value = {}", quoted(entry.on_bad_value.as_str()));
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMapping {
    owners: Option<RawOwners>,
    #[serde(default)]
    pipelines: BTreeMap<String, RawPipeline>,
    #[serde(default)]
    deal_status: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    activity_types: BTreeMap<String, Spanned<String>>,
    events: Option<RawEvents>,
    names: Option<RawNames>,
    #[serde(default)]
    contact: BTreeMap<String, RawEntry>,
    #[serde(default)]
    company: BTreeMap<String, RawEntry>,
    #[serde(default)]
    deal: BTreeMap<String, RawEntry>,
    #[serde(default)]
    activity: BTreeMap<String, RawEntry>,
    #[serde(default)]
    event: BTreeMap<String, RawEntry>,
    #[serde(default)]
    conversation: BTreeMap<String, RawEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOwners {
    default: Spanned<String>,
    #[serde(default)]
    agents: BTreeMap<String, Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPipeline {
    name: Spanned<String>,
    #[serde(default)]
    stages: BTreeMap<String, Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEvents {
    activity_type: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNames {
    prefer: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    to: Spanned<String>,
    field: Option<Spanned<String>>,
    #[serde(rename = "type")]
    ty: Option<Spanned<String>>,
    options: Option<Vec<String>>,
    values: Option<BTreeMap<String, String>>,
    currency: Option<String>,
    reason: Option<String>,
    confidence: Option<f64>,
    #[serde(default)]
    why: Vec<String>,
    note: Option<String>,
    on_bad_value: Option<Spanned<String>>,
}

/// Reads `mapping.toml`, keeping the file's order within each table. Returns every problem the
/// file's own shape has; the checks against the export and the workspace are [`super::check`]'s.
pub fn parse(text: &str) -> Result<Mapping, Vec<MappingError>> {
    let raw: RawMapping = toml::from_str(text).map_err(|error| {
        vec![MappingError {
            line: error.span().map_or(0, |span| line_of(text, span.start)),
            message: error.message().trim().to_owned(),
        }]
    })?;
    let line = |span: std::ops::Range<usize>| line_of(text, span.start);
    let choice = |source: &str, target: &Spanned<String>| Choice {
        source: source.to_owned(),
        target: target.get_ref().trim().to_owned(),
        line: line(target.span()),
    };
    let mut errors = Vec::new();
    let mut mapping = Mapping::default();
    match &raw.owners {
        Some(owners) => {
            mapping.default_owner = choice("default", &owners.default);
            mapping.agents = by_file_order(&owners.agents, |target| target.span().start)
                .map(|(agent, target)| choice(agent, target))
                .collect();
        }
        None => errors.push(MappingError {
            line: 0,
            message: "[owners] is missing: it names the default owner (a Pipedrive user's email)".into(),
        }),
    }
    mapping.pipelines = by_file_order(&raw.pipelines, |pipeline| pipeline.name.span().start)
        .map(|(id, pipeline)| PipelineEntry {
            source_id: id.clone(),
            name: pipeline.name.get_ref().trim().to_owned(),
            stages: by_file_order(&pipeline.stages, |target| target.span().start)
                .map(|(stage, target)| choice(stage, target))
                .collect(),
            line: line(pipeline.name.span()),
        })
        .collect();
    mapping.deal_status = by_file_order(&raw.deal_status, |target| target.span().start)
        .map(|(word, target)| choice(word, target))
        .collect();
    mapping.activity_types = by_file_order(&raw.activity_types, |target| target.span().start)
        .map(|(id, target)| choice(id, target))
        .collect();
    match &raw.events {
        Some(events) => mapping.event_activity_type = choice("activity_type", &events.activity_type),
        None => errors.push(MappingError {
            line: 0,
            message: "[events] is missing: it names the activity type events become".into(),
        }),
    }
    // Without [names] (a file from before it existed), the default: the full name.
    if let Some(names) = &raw.names {
        match NamePreference::parse(names.prefer.get_ref()) {
            Some(preference) => mapping.names = preference,
            None => errors.push(MappingError {
                line: line(names.prefer.span()),
                message: format!("[names] prefer = \"{}\" is not a rule; expected \"full\" (the full name column) or \"parts\" (first and last name)", names.prefer.get_ref()),
            }),
        }
    }
    let objects = [
        (ObjectKind::Contact, &raw.contact),
        (ObjectKind::Company, &raw.company),
        (ObjectKind::Deal, &raw.deal),
        (ObjectKind::Activity, &raw.activity),
        (ObjectKind::Event, &raw.event),
        (ObjectKind::Conversation, &raw.conversation),
    ];
    for (object, entries) in objects {
        for (attribute, entry) in by_file_order(entries, |entry| entry.to.span().start) {
            match parse_entry(object, attribute, entry, &line) {
                Ok(entry) => mapping.fields.push(entry),
                Err(error) => errors.push(error),
            }
        }
    }
    if errors.is_empty() { Ok(mapping) } else { Err(errors) }
}

/// A table's entries in the order they are written in the file.
fn by_file_order<T>(table: &BTreeMap<String, T>, offset: impl Fn(&T) -> usize) -> impl Iterator<Item = (&String, &T)> {
    let mut entries: Vec<(&String, &T)> = table.iter().collect();
    entries.sort_by_key(|(_, value)| offset(value));
    entries.into_iter()
}

fn parse_entry(
    object: ObjectKind,
    attribute: &str,
    raw: &RawEntry,
    line: &impl Fn(std::ops::Range<usize>) -> usize,
) -> Result<FieldEntry, MappingError> {
    let at = line(raw.to.span());
    let name = format!("{object}.{attribute}");
    let error = |line: usize, message: String| MappingError { line, message: format!("[{name}] {message}") };
    let field = || -> Result<String, MappingError> {
        match &raw.field {
            Some(field) if !field.get_ref().trim().is_empty() => Ok(field.get_ref().trim().to_owned()),
            Some(field) => Err(error(line(field.span()), "field is empty; name the Pipedrive field".into())),
            None => Err(error(at, format!("to = \"{}\" needs field = \"<Pipedrive field name>\"", raw.to.get_ref()))),
        }
    };
    let unexpected = |key: &str, present: bool| {
        if present { Err(error(at, format!("{key} is not used with to = \"{}\"", raw.to.get_ref()))) } else { Ok(()) }
    };
    let landing = match raw.to.get_ref().trim() {
        "existing" => {
            unexpected("type", raw.ty.is_some())?;
            unexpected("options", raw.options.is_some())?;
            Landing::Existing { field: field()?, values: raw.values.clone().unwrap_or_default().into_iter().collect() }
        }
        "new" => {
            unexpected("values", raw.values.is_some())?;
            let ty = match &raw.ty {
                Some(ty) => NewFieldType::parse(ty.get_ref()).ok_or_else(|| {
                    let types: Vec<&str> = NewFieldType::ALL.iter().map(|ty| ty.as_str()).collect();
                    error(line(ty.span()), format!("type '{}' is not one this tool creates; expected one of {}", ty.get_ref(), types.join(", ")))
                })?,
                None => return Err(error(at, "to = \"new\" needs type = \"...\" (varchar, text, double, monetary, date, date+time, enum, set, phone)".into())),
            };
            Landing::New {
                field: field()?,
                ty,
                options: raw.options.clone().unwrap_or_default(),
                currency: raw.currency.clone(),
            }
        }
        "skip" => {
            unexpected("field", raw.field.is_some())?;
            Landing::Skip { reason: raw.reason.clone().unwrap_or_default() }
        }
        code => {
            unexpected("field", raw.field.is_some())?;
            unexpected("type", raw.ty.is_some())?;
            Landing::Standard { code: code.to_owned() }
        }
    };
    let confidence = raw.confidence.unwrap_or(1.0);
    if !(0.0..=1.0).contains(&confidence) {
        return Err(error(at, format!("confidence {confidence} is not between 0 and 1")));
    }
    let on_bad_value = match &raw.on_bad_value {
        Some(policy) => OnBadValue::parse(policy.get_ref()).ok_or_else(|| {
            let policies: Vec<&str> = OnBadValue::ALL.iter().map(|policy| policy.as_str()).collect();
            error(
                line(policy.span()),
                format!("on_bad_value '{}' is not a policy; expected one of {}", policy.get_ref(), policies.join(", ")),
            )
        })?,
        None => OnBadValue::default(),
    };
    Ok(FieldEntry {
        object,
        attribute: attribute.to_owned(),
        landing,
        confidence,
        why: raw.why.clone(),
        note: raw.note.clone(),
        on_bad_value,
        line: at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choice(source: &str, target: &str) -> Choice {
        Choice { source: source.into(), target: target.into(), line: 0 }
    }

    /// Comments carry text from the export (pipeline and stage names, column headers), the
    /// workspace (user names) and the project (paths): a newline in one must not end its comment.
    #[test]
    fn text_in_comments_and_keys_cannot_add_toml_to_the_mapping() {
        let evil = "x\n[owners.agents]\n\"evil@example.org\" = \"boss@example.org\"\r\n[contact.evil]\nto = \"skip\"\u{1b}[2J\u{7}";
        let attribute = format!("note{evil}");
        let mapping = Mapping {
            default_owner: choice("default", "boss@example.org"),
            agents: vec![choice("ada@example.org", "default")],
            pipelines: Vec::new(),
            deal_status: vec![choice("won", "won")],
            activity_types: Vec::new(),
            event_activity_type: choice("activity_type", "meeting"),
            names: NamePreference::Parts,
            fields: vec![FieldEntry {
                object: ObjectKind::Contact,
                attribute: attribute.clone(),
                landing: Landing::Skip { reason: evil.into() },
                confidence: 0.5,
                why: vec![evil.into()],
                note: Some(evil.into()),
                on_bad_value: OnBadValue::QuarantineRecord,
                line: 0,
            }],
        };
        let mut comments = Comments { header: format!("Planned from {evil}"), by_key: BTreeMap::new() };
        for key in [
            "owners.default".to_owned(),
            comment_key(&["owners", "agents", "ada@example.org"]),
            comment_key(&["deal_status", "won"]),
            "events".to_owned(),
            comment_key(&["object", "contact"]),
            comment_key(&["contact", &attribute]),
        ] {
            comments.by_key.insert(key, evil.into());
        }
        let text = render(&mapping, &comments);
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text:?}");
        let parsed = parse(&text).unwrap_or_else(|errors| panic!("{errors:?}\n{text}"));
        assert_eq!(
            parsed.agents.iter().map(|agent| agent.source.as_str()).collect::<Vec<_>>(),
            ["ada@example.org"],
            "{text}"
        );
        assert_eq!(parsed.fields.len(), 1, "{text}");
        assert_eq!(parsed.fields[0].attribute, attribute);
        assert_eq!(parsed.fields[0].landing, Landing::Skip { reason: evil.into() });
        assert_eq!(parsed.fields[0].note.as_deref(), Some(evil));
        assert_eq!(parsed.names, NamePreference::Parts, "the rule for names reads back");
        assert_eq!(parsed.fields[0].on_bad_value, OnBadValue::QuarantineRecord, "a policy survives the round trip");
    }
}
