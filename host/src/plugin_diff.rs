//! `crm-migrate plugin diff`: what swapping one build of a plugin for another does to a project's
//! own data. Both run over the export, each with the project's other plugins and its
//! configuration, as apply would run them ([`crate::source`]); per object, the records whose fate
//! changes (kept, dropped, quarantined, merged and into whom), the fields whose values change,
//! and for the label hook the tags whose decision changes. `plan` and `approve` show it for a
//! plugin swapped since the last approval, against the approved build `approve` keeps.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::basis::{Basis, approved_copy};
use crate::extract::{ExtractError, FieldType};
use crate::journal::Fate as JournalFate;
use crate::plugins::{
    ComponentCache, Digest, Hook, Limits, LoadError, LoadedPlugin, PluginComponent, PluginHost, TagFate,
};
use crate::project::APPROVED_PLUGINS_DIR;
use crate::project::{Project, ProjectError};
use crate::record::{ObjectKind, Record, Value};
use crate::report::{Document, Files, Table, Text, WriteError, code, number, thousands, value, words};
use crate::source::labels::{LabelPluginError, label_plugin_decisions};
use crate::source::{self, OpenExportError, Source, open_export};
use crate::untrusted::escape;

/// Examples of a changed field kept per field (the CSV has every change).
const EXAMPLES_PER_FIELD: usize = 3;
/// Records with a changed fate listed per object in the Markdown report (the JSON and the CSV
/// have them all).
const FATES_IN_MARKDOWN: usize = 200;
/// Characters of a value shown in an example.
const EXAMPLE_CHARS: usize = 80;
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error(
        "{old} is a {old_hooks} plugin and {new} a {new_hooks} plugin: a diff compares two builds for the same hook"
    )]
    HooksDiffer { old: String, old_hooks: String, new: String, new_hooks: String },
    #[error("{plugin} implements several hooks ({hooks}) and the project runs it for none of them: nothing to compare")]
    NoHook { plugin: String, hooks: String },
    #[error("starting the plugin engine: {0}")]
    Engine(String),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Project(#[from] ProjectError),
    #[error(transparent)]
    Extract(#[from] ExtractError),
    #[error(transparent)]
    Export(#[from] OpenExportError),
    #[error(transparent)]
    Source(#[from] source::SourceError),
    #[error(transparent)]
    LabelPlugin(#[from] LabelPluginError),
    #[error("the approved {hook} plugin ({digest}) is not kept in {}: it was approved before crm-migrate kept approved plugins; run `crm-migrate plugin diff OLD.wasm NEW.wasm` with the approved file", .dir.display())]
    ApprovedNotKept { hook: Hook, digest: String, dir: PathBuf },
    #[error("{}: {source}", .path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

/// One side of the diff: which build.
#[derive(Debug, Clone, Serialize)]
pub struct Side {
    /// `name version`, as the plugin describes itself.
    pub name: String,
    pub digest: String,
    pub path: PathBuf,
}

/// What became of a record at the end of the plugins, before loading.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "fate", rename_all = "lowercase")]
pub enum Outcome {
    Kept,
    Dropped {
        reason: String,
    },
    /// Rejected by a plugin or in a batch that failed (the reason says which).
    Quarantined {
        reason: String,
    },
    Merged {
        into: String,
    },
}

impl Outcome {
    /// The same fate, whatever the wording of its reason (a reason names its plugin, and the
    /// two builds are two plugins).
    fn same_fate(&self, other: &Outcome) -> bool {
        match (self, other) {
            (Outcome::Merged { into: a }, Outcome::Merged { into: b }) => a == b,
            _ => std::mem::discriminant(self) == std::mem::discriminant(other),
        }
    }

    fn words(&self) -> String {
        match self {
            Outcome::Kept => "kept".to_owned(),
            Outcome::Dropped { reason } => format!("dropped ({reason})"),
            Outcome::Quarantined { reason } => format!("quarantined ({reason})"),
            Outcome::Merged { into } => format!("merged into {into}"),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Outcome::Kept => "kept",
            Outcome::Dropped { .. } => "dropped",
            Outcome::Quarantined { .. } => "quarantined",
            Outcome::Merged { .. } => "merged",
        }
    }
}

/// A record whose fate differs between the two builds.
#[derive(Debug, Clone, Serialize)]
pub struct FateChange {
    pub source_id: String,
    pub old: Outcome,
    pub new: Outcome,
}

/// A changed value, as shown: escaped where printed, cut, `(hidden)` for a secret.
#[derive(Debug, Clone, Serialize)]
pub struct Example {
    pub source_id: String,
    pub old: String,
    pub new: String,
}

/// A field whose value differs on records both builds keep.
#[derive(Debug, Clone, Serialize)]
pub struct FieldChange {
    pub field: String,
    pub records: u64,
    pub examples: Vec<Example>,
}

/// Records per fate, at the end of the plugins.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub kept: u64,
    pub dropped: u64,
    pub quarantined: u64,
    pub merged: u64,
}

/// One object's changes.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectDiff {
    pub object: &'static str,
    pub old_counts: Tally,
    pub new_counts: Tally,
    pub fates_changed: usize,
    pub fates: Vec<FateChange>,
    /// Records kept by both builds whose values differ.
    pub records_changed: u64,
    pub fields: Vec<FieldChange>,
    /// Every changed value (the CSV's rows), not only the examples.
    #[serde(skip)]
    all_values: Vec<(String, String, String, String)>,
}

/// A tag whose label decision differs.
#[derive(Debug, Clone, Serialize)]
pub struct LabelChange {
    pub tag: String,
    pub old: String,
    pub new: String,
    /// The records carrying the tag: those whose label the swap changes.
    pub records: u64,
}

/// What the swap changes.
#[derive(Debug, Clone, Serialize)]
pub struct PluginDiff {
    pub hook: Hook,
    pub old: Side,
    pub new: Side,
    /// Whether anything at all differs.
    pub changed: bool,
    pub objects: Vec<ObjectDiff>,
    pub labels: Vec<LabelChange>,
}

/// Progress of a diff, a line at a time (the CLI prints it on standard error).
pub type Progress<'a> = &'a mut dyn FnMut(&str);

fn host() -> Result<PluginHost, DiffError> {
    PluginHost::new(Limits::default(), ComponentCache::new(ComponentCache::default_dir()))
        .map_err(|error| DiffError::Engine(format!("{error:#}")))
}

fn hooks_of(component: &PluginComponent) -> String {
    component.info.hooks.iter().map(Hook::to_string).collect::<Vec<_>>().join(", ")
}

/// Diffs two plugin files over `project`'s export.
pub fn diff_files(project: &Project, old: &Path, new: &Path, progress: Progress<'_>) -> Result<PluginDiff, DiffError> {
    let host = host()?;
    let (old, new) = (host.open(old, None)?, host.open(new, None)?);
    let name = |component: &PluginComponent| {
        format!("{} {} ({})", component.info.name, component.info.version, component.path.display())
    };
    let (mut old_hooks, mut new_hooks) = (old.info.hooks.clone(), new.info.hooks.clone());
    old_hooks.sort();
    new_hooks.sort();
    if old_hooks != new_hooks {
        return Err(DiffError::HooksDiffer {
            old: name(&old),
            old_hooks: hooks_of(&old),
            new: name(&new),
            new_hooks: hooks_of(&new),
        });
    }
    let hook = match old_hooks.as_slice() {
        [hook] => *hook,
        hooks => *hooks
            .iter()
            .find(|hook| project.config.plugins.iter().any(|plugin| plugin.hook.get_ref() == *hook))
            .ok_or_else(|| DiffError::NoHook { plugin: name(&old), hooks: hooks_of(&old) })?,
    };
    diff(project, hook, old, new, progress)
}

/// Diffs two opened builds, run for `hook` with the project's configuration of that hook (none
/// when the project has no plugin for it) among the project's other plugins.
pub fn diff(
    project: &Project,
    hook: Hook,
    old: PluginComponent,
    new: PluginComponent,
    progress: Progress<'_>,
) -> Result<PluginDiff, DiffError> {
    let side = |component: &PluginComponent| Side {
        name: format!("{} {}", component.info.name, component.info.version),
        digest: component.digest.to_string(),
        path: component.path.clone(),
    };
    let (old_side, new_side) = (side(&old), side(&new));
    let entry = project.config.plugins.iter().find(|plugin| *plugin.hook.get_ref() == hook);
    let config: Vec<(String, String)> =
        entry.map(|entry| entry.config.clone().into_iter().collect()).unwrap_or_default();
    let configure = |component: PluginComponent| -> Result<LoadedPlugin, DiffError> {
        let loaded = component.configure_for(hook, config.clone())?;
        Ok(match entry {
            Some(entry) => loaded.with_run_budget(entry.run_budget()),
            None => loaded,
        })
    };
    let (old, new) = (configure(old)?, configure(new)?);
    let mut diff =
        PluginDiff { hook, old: old_side, new: new_side, changed: false, objects: Vec::new(), labels: Vec::new() };
    if hook == Hook::Label {
        diff.labels = label_changes(project, old, new, progress)?;
    } else {
        // The project's plugins, with the one for `hook` taken out (each run puts in its build).
        let mut others: Vec<(Hook, LoadedPlugin)> =
            project.load_plugins()?.into_iter().filter(|(of, _)| *of != hook).collect();
        let mut runs = Vec::new();
        for (which, plugin) in [("old", old), ("new", new)] {
            progress(&format!(
                "running the project's plugins with the {which} {hook} plugin {} over the export",
                escape(&plugin.name())
            ));
            let at = others.iter().position(|(of, _)| *of > hook).unwrap_or(others.len());
            others.insert(at, (hook, plugin));
            runs.push(run(project, &others)?);
            others.remove(at);
            let records: usize = runs.last().map_or(0, |run: &Run| run.outcomes.len());
            progress(&format!("  {} records through the plugins", thousands(records as u64)));
        }
        let new_run = runs.pop().expect("two runs");
        let old_run = runs.pop().expect("two runs");
        diff.objects = compare(&old_run, &new_run, &secret_fields(project)?);
    }
    diff.changed = !diff.labels.is_empty()
        || diff.objects.iter().any(|object| !object.fates.is_empty() || !object.fields.is_empty());
    Ok(diff)
}

/// The fate and the final record of every record, after the plugins.
struct Run {
    outcomes: BTreeMap<(ObjectKind, String), Outcome>,
    records: HashMap<(ObjectKind, String), Record>,
}

fn run(project: &Project, plugins: &[(Hook, LoadedPlugin)]) -> Result<Run, DiffError> {
    let export = open_export(project)?;
    let mut source: Source = source::read(&export, None, &project.dir, &mut |_| {})?;
    source.run_plugins(plugins, source::BATCH_SIZE, &mut |_| {}).map_err(source::SourceError::from)?;
    let mut outcomes = BTreeMap::new();
    let mut records = HashMap::new();
    for kind in ObjectKind::ALL {
        for record in source.records(kind) {
            let record = record.map_err(source::SourceError::from)?;
            let key = (kind, record.source_id.clone());
            outcomes.insert(key.clone(), Outcome::Kept);
            records.insert(key, record);
        }
    }
    source.each_settled(|settled| {
        let outcome = match settled.fate {
            JournalFate::Excluded => Outcome::Dropped { reason: settled.detail },
            JournalFate::Merged => Outcome::Merged { into: settled.detail },
            _ => Outcome::Quarantined { reason: settled.detail },
        };
        outcomes.insert((settled.object, settled.source_id), outcome);
        Ok::<(), source::SourceError>(())
    })?;
    Ok(Run { outcomes, records })
}

/// Fields the export marks secret (user keys, push tokens): their values are never shown.
fn secret_fields(project: &Project) -> Result<BTreeSet<(ObjectKind, String)>, DiffError> {
    let export = open_export(project)?;
    let mut secret = BTreeSet::new();
    for kind in ObjectKind::ALL {
        if let Some(reader) = export.records(kind)? {
            secret.extend(
                reader
                    .columns()
                    .iter()
                    .filter(|column| column.ty == FieldType::Secret)
                    .map(|column| (kind, column.field.clone())),
            );
        }
    }
    Ok(secret)
}

fn shown(value: Option<&Value>, secret: bool) -> String {
    match value {
        None | Some(Value::Null) => "(empty)".to_owned(),
        Some(_) if secret => "(hidden)".to_owned(),
        Some(value) => {
            // As a person reads the value (escaped where it is written: Markdown, CSV).
            let text = match value {
                Value::Text(text) => text.clone(),
                Value::Choices(choices) => choices.join(", "),
                other => other.to_string(),
            };
            match text.char_indices().nth(EXAMPLE_CHARS) {
                Some((cut, _)) => format!("{}...", &text[..cut]),
                None => text,
            }
        }
    }
}

fn compare(old: &Run, new: &Run, secret: &BTreeSet<(ObjectKind, String)>) -> Vec<ObjectDiff> {
    let mut objects: BTreeMap<ObjectKind, ObjectDiff> = BTreeMap::new();
    let blank = |kind: ObjectKind| ObjectDiff {
        object: kind.as_str(),
        old_counts: Tally::default(),
        new_counts: Tally::default(),
        fates_changed: 0,
        fates: Vec::new(),
        records_changed: 0,
        fields: Vec::new(),
        all_values: Vec::new(),
    };
    let tally = |counts: &mut Tally, outcome: &Outcome| match outcome {
        Outcome::Kept => counts.kept += 1,
        Outcome::Dropped { .. } => counts.dropped += 1,
        Outcome::Quarantined { .. } => counts.quarantined += 1,
        Outcome::Merged { .. } => counts.merged += 1,
    };
    let keys: BTreeSet<&(ObjectKind, String)> = old.outcomes.keys().chain(new.outcomes.keys()).collect();
    for key in keys {
        let (kind, id) = key;
        let object = objects.entry(*kind).or_insert_with(|| blank(*kind));
        // A record only one run has (a message of a conversation, say) counts as gone on the other.
        let gone = Outcome::Dropped { reason: "not in this run".to_owned() };
        let (was, is) = (old.outcomes.get(key).unwrap_or(&gone), new.outcomes.get(key).unwrap_or(&gone));
        tally(&mut object.old_counts, was);
        tally(&mut object.new_counts, is);
        if !was.same_fate(is) {
            object.fates.push(FateChange { source_id: id.clone(), old: was.clone(), new: is.clone() });
            continue;
        }
        let (Some(before), Some(after)) = (old.records.get(key), new.records.get(key)) else { continue };
        let (before, after) = (field_values(before), field_values(after));
        let mut record_changed = false;
        for field in before.keys().chain(after.keys()).collect::<BTreeSet<_>>() {
            let (a, b) = (
                before.get(field).copied().filter(|value| **value != Value::Null),
                after.get(field).copied().filter(|value| **value != Value::Null),
            );
            if a == b {
                continue;
            }
            record_changed = true;
            let hidden = secret.contains(&(*kind, field.to_string()));
            let (a, b) = (shown(a, hidden), shown(b, hidden));
            let change = match object.fields.iter_mut().find(|change| change.field == *field) {
                Some(change) => change,
                None => {
                    object.fields.push(FieldChange { field: field.to_string(), records: 0, examples: Vec::new() });
                    object.fields.last_mut().expect("just pushed")
                }
            };
            change.records += 1;
            if change.examples.len() < EXAMPLES_PER_FIELD {
                change.examples.push(Example { source_id: id.clone(), old: a.clone(), new: b.clone() });
            }
            object.all_values.push((id.clone(), field.to_string(), a, b));
        }
        object.records_changed += u64::from(record_changed);
    }
    for object in objects.values_mut() {
        object.fates_changed = object.fates.len();
        object.fields.sort_by(|a, b| b.records.cmp(&a.records).then_with(|| a.field.cmp(&b.field)));
    }
    objects.into_values().collect()
}

fn field_values(record: &Record) -> BTreeMap<&str, &Value> {
    record.fields.iter().map(|(name, value)| (name.as_str(), value)).collect()
}

fn label_changes(
    project: &Project,
    old: LoadedPlugin,
    new: LoadedPlugin,
    progress: Progress<'_>,
) -> Result<Vec<LabelChange>, DiffError> {
    progress("reading the export's tags and segments");
    let export = open_export(project)?;
    let profile = crate::profile::profile(&export, &mut |_: &str, _: u64, _: bool| {})?;
    let decide = |plugin: LoadedPlugin| -> Result<Vec<(String, String, u64)>, DiffError> {
        // The label hook is run on its own: the decisions do not depend on the other plugins.
        let plugins = [(Hook::Label, plugin)];
        let decisions = label_plugin_decisions(&plugins, &profile.catalogue, &profile.tag_use)?
            .map(|(_, decisions)| decisions)
            .unwrap_or_default();
        Ok(decisions
            .into_iter()
            .map(|(tag, decision)| {
                let mut words = match decision.fate {
                    TagFate::Label { name, color } => format!("label {name} ({color})"),
                    TagFate::Skip { reason } => format!("skipped: {reason}"),
                };
                if decision.segment_origin {
                    words.push_str("; segment-origin");
                }
                (tag.name, words, u64::from(tag.record_count))
            })
            .collect())
    };
    let (before, after) = (decide(old)?, decide(new)?);
    let after: HashMap<String, String> = after.into_iter().map(|(tag, words, _)| (tag, words)).collect();
    Ok(before
        .into_iter()
        .filter_map(|(tag, was, records)| {
            let is = after.get(&tag).cloned().unwrap_or_else(|| "(no decision)".to_owned());
            (was != is).then_some(LabelChange { tag, old: was, new: is, records })
        })
        .collect())
}

/// For each plugin whose digest changed since `approved` (its hook still in the project): what
/// the change does, diffed from the approved build kept by `approve` (in `approved-plugins/`).
pub fn since_approval(project: &Project, approved: &Basis, progress: Progress<'_>) -> Vec<Swap> {
    let mut diffs = Vec::new();
    for plugin in &project.config.plugins {
        let hook = *plugin.hook.get_ref();
        let Some(was) = approved.plugins.iter().find(|pin| pin.hook == hook.to_string()) else { continue };
        if was.digest.trim() == plugin.digest.get_ref().trim() {
            continue;
        }
        let result = (|| {
            let copy = approved_copy(project, &was.digest);
            if !copy.is_file() {
                return Err(DiffError::ApprovedNotKept {
                    hook,
                    digest: was.digest.clone(),
                    dir: project.dir.join(APPROVED_PLUGINS_DIR),
                });
            }
            let host = host()?;
            let old = host.open(
                &copy,
                Some(&was.digest.parse().map_err(|message: String| {
                    DiffError::Project(ProjectError::Invalid { path: copy.clone(), line: None, message })
                })?),
            )?;
            let new_digest: Digest = plugin.digest.get_ref().parse().map_err(|message: String| {
                DiffError::Project(ProjectError::Invalid { path: project.plugin_path(plugin), line: None, message })
            })?;
            let new = host.open(&project.plugin_path(plugin), Some(&new_digest))?;
            diff(project, hook, old, new, progress)
        })();
        diffs.push((hook, result));
    }
    diffs
}

/// A plugin swapped since the last approval: what the swap does, or why it cannot be shown.
pub type Swap = (Hook, Result<PluginDiff, DiffError>);

/// [`since_approval`] against the project's last approval; none before a first approval.
pub fn since_last_approval(project: &Project) -> Result<Vec<Swap>, crate::state::StateError> {
    let approval = crate::state::State::open(&project.dir)?.last_approval()?;
    let Some(approved) = approval.and_then(|approval| serde_json::from_str::<Basis>(approval.basis.as_deref()?).ok())
    else {
        return Ok(Vec::new());
    };
    Ok(since_approval(project, &approved, &mut |_: &str| {}))
}

impl PluginDiff {
    /// A few lines: which builds, and per object what changes (or that nothing does).
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "the {} plugin {} ({}) -> {} ({})",
            self.hook,
            escape(&self.old.name),
            short(&self.old.digest),
            escape(&self.new.name),
            short(&self.new.digest)
        );
        if !self.changed {
            let _ = writeln!(out, "  no change: both builds do the same to this export");
            return out;
        }
        for object in &self.objects {
            if !object.fates.is_empty() {
                let mut moves: BTreeMap<(&str, &str), usize> = BTreeMap::new();
                for change in &object.fates {
                    *moves.entry((change.old.kind(), change.new.kind())).or_default() += 1;
                }
                let moves: Vec<String> =
                    moves.iter().map(|((was, is), count)| format!("{was} -> {is} {count}")).collect();
                let total = object.old_counts.kept
                    + object.old_counts.dropped
                    + object.old_counts.quarantined
                    + object.old_counts.merged;
                let _ = writeln!(
                    out,
                    "  {}: {} records change fate (of {}): {}",
                    object.object,
                    thousands(object.fates.len() as u64),
                    thousands(total),
                    moves.join(", ")
                );
            }
            if !object.fields.is_empty() {
                let fields: Vec<String> = object
                    .fields
                    .iter()
                    .take(5)
                    .map(|field| format!("{} ({})", escape(&field.field), thousands(field.records)))
                    .collect();
                let more = if object.fields.len() > 5 {
                    format!(" and {} more fields", object.fields.len() - 5)
                } else {
                    String::new()
                };
                let _ = writeln!(
                    out,
                    "  {}: {} records change values: {}{more}",
                    object.object,
                    thousands(object.records_changed),
                    fields.join(", ")
                );
            }
        }
        if !self.labels.is_empty() {
            let _ = writeln!(out, "  labels: {} tags decided otherwise", self.labels.len());
        }
        out
    }

    /// Each record kept by the old build and merged by the new: the old survivor, and the record
    /// it is now merged into (the demo shows them).
    pub fn survivor_changes(&self, object: ObjectKind) -> Vec<(&str, &str)> {
        self.objects
            .iter()
            .filter(|diff| diff.object == object.as_str())
            .flat_map(|diff| &diff.fates)
            .filter_map(|change| match (&change.old, &change.new) {
                (Outcome::Kept, Outcome::Merged { into }) => Some((change.source_id.as_str(), into.as_str())),
                _ => None,
            })
            .collect()
    }

    /// `reports/plugin-diff.md` for people.
    pub fn markdown(&self) -> String {
        self.document().markdown()
    }

    /// plugin-diff.md as a [`Document`].
    pub fn document(&self) -> Document {
        let mut doc = Document::new(words(format!("Plugin diff: the {} plugin", self.hook)));
        let mut sides = Table::new(["", "Plugin", "Digest", "File"]);
        for (which, side) in [("before", &self.old), ("after", &self.new)] {
            sides.row([words(which), value(&side.name), code(&side.digest), value(side.path.display().to_string())]);
        }
        doc.table(sides);
        doc.paragraph(
            "Both ran over the project's export with its other plugins and its configuration, as apply runs them; nothing was sent anywhere.",
        );
        if !self.changed {
            doc.paragraph(
                Text::new().strong("No change").words(": both builds do the same to every record of this export."),
            );
            return doc;
        }
        for object in self.objects.iter().filter(|object| !object.fates.is_empty() || !object.fields.is_empty()) {
            doc.section(object.object);
            let (a, b) = (object.old_counts, object.new_counts);
            let mut counts = Table::new(["Fate", "Before", "After"]).figures([1, 2]);
            for (fate, was, is) in [
                ("kept", a.kept, b.kept),
                ("dropped", a.dropped, b.dropped),
                ("quarantined", a.quarantined, b.quarantined),
                ("merged", a.merged, b.merged),
            ] {
                counts.row([words(fate), number(was), number(is)]);
            }
            doc.table(counts);
            if !object.fates.is_empty() {
                doc.paragraph(words(format!("{} records change fate:", object.fates.len())));
                let mut fates = Table::new(["Record", "Before", "After"]);
                for change in object.fates.iter().take(FATES_IN_MARKDOWN) {
                    fates.row([code(&change.source_id), outcome_text(&change.old), outcome_text(&change.new)]);
                }
                doc.table(fates);
                if object.fates.len() > FATES_IN_MARKDOWN {
                    doc.paragraph(words(format!(
                        "... and {} more (plugin-diff.csv and .json have every one).",
                        object.fates.len() - FATES_IN_MARKDOWN
                    )));
                }
            }
            if !object.fields.is_empty() {
                doc.paragraph(words(format!("{} records kept by both change values:", object.records_changed)));
                let mut fields = Table::new(["Field", "Records", "Examples (record: before -> after)"]).figures([1]);
                for field in &object.fields {
                    let examples = field.examples.iter().map(|example| {
                        code(&example.source_id).words(": ").value(&example.old).words(" -> ").value(&example.new)
                    });
                    fields.row([code(&field.field), number(field.records), Text::lines(examples)]);
                }
                doc.table(fields);
            }
        }
        if !self.labels.is_empty() {
            doc.section("Labels");
            let mut labels = Table::new(["Tag", "Before", "After"]);
            for change in &self.labels {
                labels.row([value(&change.tag), value(&change.old), value(&change.new)]);
            }
            doc.table(labels);
        }
        doc
    }

    /// Writes `plugin-diff.md`, `.json` and `.csv` (every change, one a row) into `dir`, all or
    /// none.
    pub fn write_reports(&self, dir: &Path) -> Result<Vec<PathBuf>, DiffError> {
        let io = |error: WriteError| DiffError::Io { path: error.path, source: error.source };
        let mut files = Files::in_dir(dir).map_err(io)?;
        let csv = files.path("plugin-diff.csv");
        files.write("plugin-diff.md", self.markdown()).map_err(io)?;
        files
            .write("plugin-diff.json", serde_json::to_string_pretty(self).expect("plain data serializes") + "\n")
            .map_err(io)?;
        let mut writer = csv::Writer::from_writer(Vec::new());
        let row = |writer: &mut csv::Writer<Vec<u8>>, cells: [&str; 6]| {
            crate::report_csv::write_report_row(writer, cells)
                .map_err(|error| DiffError::Io { path: csv.clone(), source: error.into() })
        };
        row(&mut writer, ["object", "source_id", "change", "field", "before", "after"])?;
        for object in &self.objects {
            for change in &object.fates {
                row(
                    &mut writer,
                    [object.object, &change.source_id, "fate", "", &change.old.words(), &change.new.words()],
                )?;
            }
            for (id, field, old, new) in &object.all_values {
                row(&mut writer, [object.object, id, "value", field, old, new])?;
            }
        }
        for change in &self.labels {
            row(&mut writer, ["tag", &change.tag, "label", "", &change.old, &change.new])?;
        }
        let bytes =
            writer.into_inner().map_err(|error| DiffError::Io { path: csv.clone(), source: error.into_error() })?;
        files.write("plugin-diff.csv", bytes).map_err(io)?;
        files.commit().map_err(io)
    }
}

fn short(digest: &str) -> &str {
    &digest[..digest.len().min("sha256:".len() + 12)]
}

fn outcome_text(outcome: &Outcome) -> Text {
    match outcome {
        Outcome::Merged { into } => words("merged into ").code(into),
        other => value(other.words()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(records: Vec<Record>, settled: Vec<(&str, Outcome)>) -> Run {
        let mut run = Run { outcomes: BTreeMap::new(), records: HashMap::new() };
        for record in records {
            let key = (record.kind, record.source_id.clone());
            run.outcomes.insert(key.clone(), Outcome::Kept);
            run.records.insert(key, record);
        }
        for (id, outcome) in settled {
            run.outcomes.insert((ObjectKind::Contact, id.to_owned()), outcome);
        }
        run
    }

    fn contact(id: &str, fields: &[(&str, &str)]) -> Record {
        fields.iter().fold(Record::new(ObjectKind::Contact, id), |record, (name, value)| {
            record.with(name, Value::Text((*value).to_owned()))
        })
    }

    #[test]
    fn changed_values_are_counted_per_field_with_examples_secrets_hidden_and_the_csv_safe_in_a_spreadsheet() {
        let old = run(
            vec![
                contact("1", &[("email", "ada@x.pl"), ("key", "s3cret-old")]),
                contact("2", &[("email", "bob@x.pl"), ("city", "Kraków")]),
                contact("4", &[("city", "Łódź")]),
            ],
            vec![("3", Outcome::Merged { into: "1".into() })],
        );
        let new = run(
            vec![
                contact("1", &[("email", "=HYPERLINK(\"http://evil\")"), ("key", "s3cret-new")]),
                contact("2", &[("email", "BOB@x.pl")]),
                contact("4", &[("city", "Łódź")]),
            ],
            vec![("3", Outcome::Quarantined { reason: "dedup-x: batch failed".into() })],
        );
        let secret = BTreeSet::from([(ObjectKind::Contact, "key".to_owned())]);
        let objects = compare(&old, &new, &secret);
        let [contacts] = objects.as_slice() else { panic!("{objects:?}") };
        assert_eq!(contacts.fates.len(), 1);
        assert_eq!((contacts.fates[0].source_id.as_str(), contacts.fates[0].new.kind()), ("3", "quarantined"));
        assert_eq!(contacts.records_changed, 2, "records 1 and 2; 4 is the same");
        let fields: Vec<(&str, u64)> =
            contacts.fields.iter().map(|field| (field.field.as_str(), field.records)).collect();
        assert_eq!(fields, [("email", 2), ("city", 1), ("key", 1)]);
        let key = &contacts.fields[2].examples[0];
        assert_eq!((key.old.as_str(), key.new.as_str()), ("(hidden)", "(hidden)"), "a secret is never shown");
        let city = &contacts.fields[1].examples[0];
        assert_eq!((city.source_id.as_str(), city.old.as_str(), city.new.as_str()), ("2", "Kraków", "(empty)"));

        let diff = PluginDiff {
            hook: Hook::Dedup,
            old: Side { name: "a 1".into(), digest: "sha256:00".into(), path: "a.wasm".into() },
            new: Side { name: "b\u{1b}[2K 1".into(), digest: "sha256:11".into(), path: "b.wasm".into() },
            changed: true,
            objects,
            labels: Vec::new(),
        };
        let dir = tempfile::tempdir().unwrap();
        diff.write_reports(dir.path()).unwrap();
        let csv = std::fs::read_to_string(dir.path().join("plugin-diff.csv")).unwrap();
        assert!(csv.contains("'=HYPERLINK") && !csv.contains(",=HYPERLINK") && !csv.contains("s3cret"), "{csv}");
        let markdown = std::fs::read_to_string(dir.path().join("plugin-diff.md")).unwrap();
        assert!(
            !markdown.contains('\u{1b}') && !markdown.contains("s3cret") && markdown.contains("| `email` | 2 |"),
            "{markdown}"
        );
        assert!(!diff.summary().contains('\u{1b}'), "{}", diff.summary());
    }
}
