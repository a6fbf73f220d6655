//! `crm-migrate apply`: the migration itself. Behind the approval gate, the records go through
//! the customer's plugins, then into Pipedrive phase by phase, each finished and reconciled before
//! the next begins; every create is journalled in `state.db`, so that a run stopped anywhere (a
//! crash, a lost answer, the daily budget) continues where it stopped, without duplicates.
//!
//! ```text
//! workspace  phase 1: users, fields, markers, options, pipelines, stages, activity types, labels
//! payload    a record as Pipedrive is sent it, by the mapping; or why it is quarantined
//! load       creates sent and journalled; open intents resolved by marker
//! relationships  after the organizations: each company's parent as a parent relationship
//! products   after the deals: products, deal products and deal participants
//! attachments  after the notes: the files chat messages link to, uploaded to their person
//! deletions  records gone from the export: listed, or deleted within bounds (a delta)
//! existing   records the account already had: linked (fill or update), prior values journalled
//! report     reports/quarantine.csv, reports/reconciliation.md
//! ```

pub mod attachments;
pub mod deletions;
pub mod existing;
pub mod ids;
pub mod load;
pub mod notes;
pub mod payload;
pub mod products;
pub mod relationships;
pub mod report;
pub mod workspace;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::approve::{ExportCheck, GateError, require_approval};
use crate::mapping::file::{MappingError, parse};
use crate::mapping::{Destination, Landing, Mapping};
use crate::pipedrive::{ClientError, EntityKind, PipedriveClient};
use crate::plan::PlanError;
use crate::project::{Project, ProjectError};
use crate::record::{ObjectKind, Record, Value};
use crate::state::{State, StateError};

use crate::journal::{self, Fate, FateCounts, Journal, LeftOutField, RunKind};
use crate::source::domain;
use crate::source::{self, OpenExportError, Source, Spooled, open_export};
use ids::{IdMap, IdSet};
use load::{Job, Payload};
use payload::Links;
use workspace::Targets;

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Gate(#[from] GateError),
    #[error(transparent)]
    Project(#[from] ProjectError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Export(#[from] OpenExportError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Extract(#[from] crate::extract::ExtractError),
    #[error(transparent)]
    Spool(#[from] source::SpoolError),
    #[error("Pipedrive")]
    Client(#[from] ClientError),
    /// The temporary file the records read back are listed into (Pipedrive's own errors are
    /// [`ApplyError::Client`]).
    #[error(transparent)]
    Readback(crate::readback::ReadbackError),
    /// The mapping's default owner is no longer a user of the account.
    #[error("the default owner {email} is not a Pipedrive user (any more); plan again")]
    DefaultOwnerGone { email: String },
    /// A field the mapping sends values to is no longer in the account.
    #[error("the {entity} field '{field}' is gone from Pipedrive; plan again")]
    FieldGone { entity: &'static str, field: String },
    /// A workspace object apply made is gone (verify reads the workspace without writing to it).
    #[error("{what} is not in Pipedrive (deleted since apply?)")]
    NotInPipedrive { what: String },
    /// The mapping kept in state.db with the approval no longer reads (this version reads
    /// mapping files otherwise than the one that approved it).
    #[error("the approved mapping (kept in state.db) does not read; run `crm-migrate approve` again:\n{}", .errors.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n"))]
    ApprovedMappingUnreadable { errors: Vec<MappingError> },
    /// A task sending requests panicked or was cancelled.
    #[error("a {what} task failed: {source}")]
    Task { what: &'static str, source: tokio::task::JoinError },
    #[error("writing {}: {source}", .path.display())]
    Write { path: PathBuf, source: std::io::Error },
    /// A report (reconciliation.md, verification.md...) could not be written.
    #[error(transparent)]
    Report(#[from] crate::report::WriteError),
    #[error("writing {}: {source}", .path.display())]
    WriteCsv { path: PathBuf, source: csv::Error },
    #[error("nothing was written to Pipedrive: the deletions are refused:\n{}", .0.iter().map(|r| format!("  {r}")).collect::<Vec<_>>().join("\n"))]
    DeletionsRefused(Vec<String>),
    /// A delete of a record this project did not create (one the account had before) was refused.
    #[error("refused to delete {object} (Pipedrive id {id}): {why}; a record the account had before is never deleted")]
    DeleteRefused { object: ObjectKind, id: u64, why: &'static str },
    #[error(
        "the {phase} phase does not reconcile: {in_scope} source records, but {} accounted for ({} created, {} merged, {} linked, {} quarantined, {} excluded, {} unresolved); \
         run apply again to resolve the unresolved ones. Not accounted for: {}",
        counts.total(), counts.created, counts.merged, counts.linked, counts.quarantined, counts.excluded, counts.intent, missing.join(", ")
    )]
    Unreconciled { phase: &'static str, in_scope: u64, counts: FateCounts, missing: Vec<String> },
}

impl ApplyError {
    /// The daily budget ran out and the project's policy is to stop: a later run resumes.
    pub fn is_budget_stop(&self) -> bool {
        matches!(self, ApplyError::Client(ClientError::BudgetExhausted { .. }))
    }
}

// Pipedrive's errors stay Pipedrive's (a budget stop is told by them).
impl From<crate::readback::ReadbackError> for ApplyError {
    fn from(error: crate::readback::ReadbackError) -> ApplyError {
        match error {
            crate::readback::ReadbackError::Client(error) => ApplyError::Client(error),
            error => ApplyError::Readback(error),
        }
    }
}

/// What apply tells its watcher.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ProgressEvent {
    /// Before the phases: the export read into the run's spool (`step` read, `what` the file),
    /// or a plugin over an object (`step` clean or dedup, `what` the plugin).
    Preparing {
        step: &'static str,
        what: String,
        object: ObjectKind,
        done: u64,
        finished: bool,
    },
    PhaseStarted {
        phase: &'static str,
        records: u64,
    },
    Progress {
        object: ObjectKind,
        done: u64,
        total: u64,
        tokens: u64,
    },
    PhaseDone {
        phase: &'static str,
        reconciliation: Vec<Reconciliation>,
        tokens: u64,
        seconds: f64,
    },
}

/// Passes progress events to whoever shows them.
pub struct Reporter(Box<dyn Fn(&ProgressEvent) + Send + Sync>);

impl Reporter {
    pub fn new(show: impl Fn(&ProgressEvent) + Send + Sync + 'static) -> Reporter {
        Reporter(Box::new(show))
    }

    pub fn report(&self, event: ProgressEvent) {
        (self.0)(&event)
    }

    /// Where reading and the plugins are, as [`ProgressEvent::Preparing`].
    pub fn preparing(&self, preparing: source::Preparing<'_>) {
        let source::Preparing { step, what, object, done, finished } = preparing;
        self.report(ProgressEvent::Preparing { step, what: what.to_owned(), object, done, finished })
    }
}

/// One object's numbers after its phase: source = created + merged + linked + quarantined + excluded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Reconciliation {
    pub object: ObjectKind,
    pub in_scope: u64,
    pub counts: FateCounts,
    /// Records created before whose fields changed, and were updated (only those fields).
    pub updated: u64,
    /// Rows of source ids that more than one row has, all quarantined: `in_scope` counts rows,
    /// so that source rows = created + merged + quarantined + excluded + these.
    pub duplicate_rows: u64,
    /// Created records migrated with values left out (they did not fit their fields): a count
    /// on `counts.created`, not a fate of its own.
    pub records_with_fields_left_out: u64,
    /// The values left out of those records, each listed in `reports/quarantine.csv`.
    pub fields_left_out: u64,
}

#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// Contacts of a sample run; `None`: the full migration.
    pub sample: Option<usize>,
    /// Creates in flight at once (the client paces them to the burst limit either way).
    pub concurrency: usize,
    /// Stop after this phase (the phases before it run first: later records link to theirs).
    pub until: Option<String>,
    /// Records per plugin call; a call that fails quarantines its batch.
    pub batch_size: usize,
    /// A newer export than the project's (a delta): new records are created, changed ones updated.
    pub export: Option<std::path::PathBuf>,
    /// Delete in Pipedrive the records apply created whose source is gone from the export
    /// (within the bounds of [`deletions::preview`]).
    pub delete_missing: bool,
    /// The number of deletions the user expects: lifts the threshold when it is exact.
    pub expect_deletions: Option<u64>,
    /// Update or delete records someone changed in Pipedrive since the migration wrote them.
    pub overwrite_conflicts: bool,
}

impl Default for ApplyOptions {
    fn default() -> ApplyOptions {
        ApplyOptions {
            sample: None,
            concurrency: 16,
            until: None,
            batch_size: source::BATCH_SIZE,
            export: None,
            delete_missing: false,
            expect_deletions: None,
            overwrite_conflicts: false,
        }
    }
}

/// The phases in their order, for `--phase`.
pub const PHASE_NAMES: [&str; 6] = ["workspace", "organizations", "persons", "deals", "activities", "notes"];

/// What a run did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ApplyOutcome {
    pub run_id: i64,
    pub kind: &'static str,
    pub phases: Vec<PhaseOutcome>,
    pub tokens: u64,
    pub seconds: f64,
    /// How records were linked or placed where the source did not say (a person's organization
    /// by email domain, a deal's stage missing from stages.csv): the first listed, all counted.
    pub notes: notes::Notes,
    /// Records apply created whose source is gone from the export (deleted in User.com), and
    /// whether they were deleted in Pipedrive too (`--delete-missing`).
    pub gone_from_source: Vec<String>,
    /// Records deleted in Pipedrive because their source is gone.
    pub deleted: u64,
    /// Records changed in Pipedrive since the migration wrote them, which this run was to update
    /// or delete: left alone (or, with `overwrite_conflicts`, written anyway).
    pub conflicts: Vec<crate::readback::Conflict>,
    /// The company hierarchy, made after the organizations phase (`None`: the run stopped before).
    pub relationships: Option<relationships::RelationshipsOutcome>,
    /// Deal products and participants, made after the deals phase (`None`: the run stopped before).
    pub deal_products: Option<products::ProductsOutcome>,
    /// Files chat messages link to, uploaded after the notes phase (`None`: the run stopped before).
    pub attachments: Option<attachments::AttachmentsOutcome>,
    pub reports: Vec<std::path::PathBuf>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct PhaseOutcome {
    pub phase: &'static str,
    pub reconciliation: Vec<Reconciliation>,
    pub tokens: u64,
    pub seconds: f64,
}

/// The phases after the workspace, each with the objects it moves.
pub const PHASES: [(&str, &[ObjectKind]); 5] = [
    ("organizations", &[ObjectKind::Company]),
    ("persons", &[ObjectKind::Contact]),
    ("deals", &[ObjectKind::Deal]),
    ("activities", &[ObjectKind::Activity, ObjectKind::Event]),
    ("notes", &[ObjectKind::Conversation]),
];

/// Rounds of looking for creates whose outcome is unknown, and sending again those not found.
const RESOLVE_ROUNDS: usize = 3;

/// A run made ready before anything is sent: the approval checked, the records read and put
/// through the plugins, the labels decided. Plugins run here, outside any async runtime (their
/// WASI calls block on their own).
pub struct Prepared {
    approval: crate::state::Approval,
    mapping: Mapping,
    source: Source,
    needs: workspace::Needs,
    /// The file each object was read from (`None`: the export has none).
    files: BTreeMap<ObjectKind, Option<String>>,
    /// The export read, when not the project's own (a delta's newer one).
    export_dir: Option<std::path::PathBuf>,
}

impl Prepared {
    /// The export read, when not the project's own (verify reads it again for its coverage).
    pub fn export_dir(&self) -> Option<&std::path::Path> {
        self.export_dir.as_deref()
    }

    pub fn into_parts(self) -> (Mapping, Source, workspace::Needs) {
        (self.mapping, self.source, self.needs)
    }
}

pub fn prepare(
    project: &Project,
    options: &ApplyOptions,
    progress: source::PrepareProgress<'_>,
) -> Result<Prepared, ApplyError> {
    let approval =
        require_approval(project, if options.export.is_some() { ExportCheck::Newer } else { ExportCheck::Approved })?;
    let mapping = parse(&approval.mapping).map_err(|errors| ApplyError::ApprovedMappingUnreadable { errors })?;
    let export = match &options.export {
        Some(dir) => crate::source::open_export_at(project, dir)?,
        None => open_export(project)?,
    };
    let mut source =
        source::read(&export, options.sample, &project.dir, &mut *progress).map_err(|error| match error {
            source::SourceError::Extract(error) => ApplyError::Extract(error),
            source::SourceError::Spool(error) => ApplyError::Spool(error),
        })?;
    let plugins = project.load_plugins()?;
    source.run_plugins(&plugins, options.batch_size.max(1), progress)?;
    let catalogue = export.catalogue()?;
    source.products = catalogue.products.clone();
    let needs = workspace_needs(&plugins, &mapping, &source, &catalogue)?;
    let files = ObjectKind::ALL
        .into_iter()
        .map(|kind| (kind, export.file(crate::extract::FileKind::for_object(kind)).map(|file| file.name())))
        .collect();
    Ok(Prepared { approval, mapping, source, needs, files, export_dir: options.export.clone() })
}

/// What a run will create, and what it would delete (records gone from the export), with the
/// reasons it refuses to delete; reads the journal, sends nothing.
pub fn preview(
    project: &Project,
    prepared: &Prepared,
    expect_deletions: Option<u64>,
) -> Result<deletions::Preview, ApplyError> {
    let journal = Journal::read(State::open(&project.dir)?);
    // One object's ids at a time.
    let mut scope_of = |kind| Ok(scope_ids(&prepared.source, kind)?);
    deletions::preview(&journal, &mut scope_of, &prepared.files, expect_deletions)
}

/// Runs the migration (or a sample of it).
pub async fn apply(
    project: &Project,
    prepared: Prepared,
    client: Arc<PipedriveClient>,
    options: &ApplyOptions,
    reporter: &Reporter,
) -> Result<ApplyOutcome, ApplyError> {
    let started = Instant::now();
    let whole_run = options.sample.is_none() && options.until.is_none();
    // Deletions are checked before anything is sent: a refused delta writes nothing.
    let deletion_preview = if whole_run { Some(preview(project, &prepared, options.expect_deletions)?) } else { None };
    if options.delete_missing
        && let Some(refusals) =
            deletion_preview.as_ref().map(|preview| &preview.refusals).filter(|refusals| !refusals.is_empty())
    {
        return Err(ApplyError::DeletionsRefused(refusals.clone()));
    }
    let Prepared { approval, mapping, mut source, needs, .. } = prepared;
    // The links take the survivors over (nothing else of the run reads them): one copy, not two.
    let survivors = std::mem::take(&mut source.survivors);
    let decisions = existing::Decisions::of(project)?;
    let kind = match (options.sample, &options.export) {
        (Some(_), _) => RunKind::Sample,
        (None, Some(_)) => RunKind::Delta,
        (None, None) => RunKind::Full,
    };
    let journal = Journal::start(State::open(&project.dir)?, kind, &approval.digest)?;
    let mut outcome = ApplyOutcome {
        run_id: journal.run_id,
        kind: kind.as_str(),
        phases: Vec::new(),
        tokens: 0,
        seconds: 0.0,
        notes: notes::Notes::in_spool(source.spool.clone()),
        gone_from_source: Vec::new(),
        deleted: 0,
        conflicts: Vec::new(),
        relationships: None,
        deal_products: None,
        attachments: None,
        reports: Vec::new(),
    };
    let result = async {
        settle_plugin_fates(&journal, &source)?;
        reporter.report(ProgressEvent::PhaseStarted { phase: "workspace", records: 0 });
        let tokens_before = client.bill().tokens();
        let targets = workspace::Targets {
            marking: project.markers(),
            ..workspace::ensure(&client, project.config.target.url.get_ref(), &mapping, needs, &journal, true).await?
        };
        let workspace_phase = PhaseOutcome {
            phase: "workspace",
            reconciliation: Vec::new(),
            tokens: client.bill().tokens() - tokens_before,
            seconds: started.elapsed().as_secs_f64(),
        };
        reporter.report(ProgressEvent::PhaseDone {
            phase: "workspace",
            reconciliation: Vec::new(),
            tokens: workspace_phase.tokens,
            seconds: workspace_phase.seconds,
        });
        outcome.phases.push(workspace_phase);
        let mut links = Links { survivors, contacts: payload::Contacts::of(&source), ..Links::default() };
        let run = RunContext {
            client: &client,
            journal: &journal,
            mapping: &mapping,
            targets: &targets,
            source: &source,
            decisions: &decisions,
            options,
            reporter,
        };
        run_phases(&run, &mut links, &mut outcome).await?;
        if options.until.as_deref().is_none_or(|until| until == "notes") {
            // Conversations and persons exist now: the files their messages link to go in.
            let policy = project.attachment_policy();
            outcome.attachments =
                Some(attachments::run(&client, &journal, &source, &links, &policy, options.concurrency).await?);
        }
        if let Some(preview) = &deletion_preview {
            let names = targets.field_names();
            outcome.deleted = deletions::run(
                &client,
                &journal,
                &preview.gone,
                options.delete_missing,
                options.overwrite_conflicts,
                &names,
                &mut outcome,
            )
            .await?;
        }
        Ok::<(), ApplyError>(())
    }
    .await;
    outcome.reports = report::write(project, &journal, &source, &outcome)?;
    outcome.tokens = client.bill().tokens() + client.bill().uncertain_tokens();
    outcome.seconds = started.elapsed().as_secs_f64();
    let finished = match &result {
        Ok(()) => "done",
        Err(error) if error.is_budget_stop() => "stopped: daily budget used up",
        Err(_) => "stopped",
    };
    journal.finish(finished, outcome.tokens)?;
    result.map(|()| outcome)
}

/// Journals what the plugins decided, except for records an earlier run already created.
fn settle_plugin_fates(journal: &Journal, source: &Source) -> Result<(), ApplyError> {
    source.spool.each_settled(None, |settled| {
        let journalled = journal.entries_among(settled.object, &[&settled.source_id])?;
        if journalled.values().all(|entry| entry.fate != Fate::Created) {
            journal.set(settled.object, &settled.source_id, settled.fate, None, Some(&settled.detail))?;
        }
        Ok::<(), ApplyError>(())
    })
}

/// The values of mapped choice attributes (options an existing field may lack) and the labels
/// each entity's records carry; the labels as the tags of the whole source decide them.
fn workspace_needs(
    plugins: &[(crate::plugins::Hook, crate::plugins::LoadedPlugin)],
    mapping: &Mapping,
    source: &Source,
    catalogue: &crate::extract::Catalogue,
) -> Result<workspace::Needs, ApplyError> {
    let mut tag_use: BTreeMap<ObjectKind, BTreeMap<String, u64>> = BTreeMap::new();
    for_each_choice(mapping, source, &|_, _| true, &mut |entry, choice| {
        if matches!(&entry.landing, Landing::Standard { .. }) {
            *tag_use.entry(entry.object).or_default().entry(choice).or_default() += 1;
        }
    })?;
    let (_, tag_labels) = crate::plan::label_decisions(plugins, catalogue, &tag_use)?;
    Ok(needs_of(mapping, source, tag_labels, &|_, _| true)?)
}

/// What the workspace must hold for the records `migrated` keeps: verify, which creates nothing,
/// asks for what the records apply migrated need (a sample's), not for the whole export's.
pub fn needs_of(
    mapping: &Mapping,
    source: &Source,
    tag_labels: crate::plan::changes::LabelDecisions,
    migrated: &dyn Fn(ObjectKind, &str) -> bool,
) -> Result<workspace::Needs, source::SpoolError> {
    let mut values: HashMap<(ObjectKind, String), BTreeSet<String>> = HashMap::new();
    let mut labels: HashMap<EntityKind, BTreeSet<String>> = HashMap::new();
    for_each_choice(mapping, source, migrated, &mut |entry, choice| match &entry.landing {
        Landing::Standard { .. } => {
            let Some(entity) = Destination::of(entry.object).entity() else { return };
            if let Some(Some(label)) = tag_labels.get(&choice).cloned().or(Some(Some(choice))) {
                labels.entry(entity).or_default().insert(label);
            }
        }
        _ => {
            values.entry((entry.object, entry.attribute.clone())).or_default().insert(choice);
        }
    })?;
    Ok(workspace::Needs { values, labels, tag_labels })
}

/// Calls `each` with every value of the records `migrated` keeps, under an attribute mapped to
/// the labels or to a field the account had. A value that did not read as its attribute's type
/// is left out of any field whatever its options (as plan's profile leaves it out of the options
/// it proposes): no option is asked for it.
fn for_each_choice(
    mapping: &Mapping,
    source: &Source,
    migrated: &dyn Fn(ObjectKind, &str) -> bool,
    each: &mut dyn FnMut(&crate::mapping::FieldEntry, String),
) -> Result<(), source::SpoolError> {
    // One pass over each object's records, for all its entries.
    let mut by_object: BTreeMap<ObjectKind, Vec<&crate::mapping::FieldEntry>> = BTreeMap::new();
    for entry in &mapping.fields {
        let labelled = matches!(&entry.landing, Landing::Standard { code } if code == "label");
        let existing = matches!(entry.landing, Landing::Existing { .. });
        if labelled || existing {
            by_object.entry(entry.object).or_default().push(entry);
        }
    }
    for (object, entries) in by_object {
        for row in source.spool.records(object).spooled() {
            let Spooled { record, issues, .. } = row?;
            if !migrated(record.kind, &record.source_id) {
                continue;
            }
            for entry in &entries {
                if issues.iter().any(|issue| issue.field == entry.attribute) {
                    continue;
                }
                let choices: Vec<String> = match record.get(&entry.attribute) {
                    Some(Value::Choices(choices)) => choices.clone(),
                    Some(Value::Null) | None => continue,
                    Some(other) => vec![crate::profile::plain(other)],
                };
                for choice in choices {
                    each(entry, choice);
                }
            }
        }
    }
    Ok(())
}

/// Records a phase builds and sends at a time: what a phase holds in memory is one chunk's
/// records and payloads, whatever the size of the export.
const CHUNK: usize = 2000;
/// Conversations a phase builds and sends at a time (each a note of all its messages).
const CONVERSATION_CHUNK: usize = 200;

/// Some of an object's records, as a phase builds them.
pub(crate) enum Chunk {
    Records(Vec<Spooled>),
    /// Conversations, each with its messages in file order.
    Conversations(Vec<(String, Vec<Spooled>)>),
    /// Persons, organizations or deals, for their notes of raw values (after the conversations).
    RawValues(Vec<Spooled>),
}

/// An object's records a chunk at a time, in file order (conversations in order of their ids,
/// then the notes of raw values).
pub(crate) struct Chunks<'a> {
    source: &'a Source,
    object: ObjectKind,
    records: Option<source::spool::Records<'a>>,
    conversations: std::vec::IntoIter<String>,
    /// Conversations: the objects whose notes of raw values come after them.
    raw_values: Vec<ObjectKind>,
}

impl<'a> Chunks<'a> {
    pub(crate) fn of(source: &'a Source, object: ObjectKind) -> Result<Chunks<'a>, source::SpoolError> {
        let conversation = object == ObjectKind::Conversation;
        Ok(Chunks {
            source,
            object,
            records: (!conversation).then(|| source.spool.records(object)),
            conversations: if conversation { source.spool.conversations()? } else { Vec::new() }.into_iter(),
            raw_values: if conversation {
                vec![ObjectKind::Deal, ObjectKind::Contact, ObjectKind::Company]
            } else {
                Vec::new()
            },
        })
    }

    pub(crate) fn next_chunk(&mut self) -> Result<Option<Chunk>, source::SpoolError> {
        if self.object != ObjectKind::Conversation {
            let records = self.records.as_mut().expect("an object's records");
            let chunk = records
                .by_ref()
                .take(CHUNK)
                .map(|row| row.map(|(_, spooled)| spooled))
                .collect::<Result<Vec<_>, _>>()?;
            return Ok((!chunk.is_empty()).then_some(Chunk::Records(chunk)));
        }
        let ids: Vec<String> = self.conversations.by_ref().take(CONVERSATION_CHUNK).collect();
        if !ids.is_empty() {
            let conversations =
                ids.into_iter().map(|id| Ok((self.source.spool.messages(&id)?, id))).collect::<Result<Vec<_>, _>>()?;
            return Ok(Some(Chunk::Conversations(
                conversations.into_iter().map(|(messages, id)| (id, messages)).collect(),
            )));
        }
        loop {
            if let Some(records) = self.records.as_mut() {
                let chunk = records
                    .by_ref()
                    .take(CHUNK)
                    .map(|row| row.map(|(_, spooled)| spooled))
                    .collect::<Result<Vec<_>, _>>()?;
                if !chunk.is_empty() {
                    return Ok(Some(Chunk::RawValues(chunk)));
                }
            }
            let Some(kind) = self.raw_values.pop() else { return Ok(None) };
            self.records = Some(self.source.spool.records(kind));
        }
    }
}

/// The records of `object` with these source ids (a conversation's parts: the conversation), as
/// chunks: the creates whose outcome is unknown, built again to be sent again.
fn chunks_of(source: &Source, object: ObjectKind, ids: &[String]) -> Result<Vec<Chunk>, source::SpoolError> {
    if object != ObjectKind::Conversation {
        let records = source.spool.by_ids(object, ids)?.into_iter().map(|(_, spooled)| spooled).collect();
        return Ok(vec![Chunk::Records(records)]);
    }
    let mut conversations = BTreeSet::new();
    let mut raw_values: BTreeMap<ObjectKind, Vec<String>> = BTreeMap::new();
    for id in ids {
        let record = id.strip_suffix("/values").and_then(|record| record.split_once(' '));
        match record.and_then(|(kind, record)| {
            Some((ObjectKind::ALL.into_iter().find(|known| known.to_string() == kind)?, record))
        }) {
            Some((kind, record)) => raw_values.entry(kind).or_default().push(record.to_owned()),
            None => {
                conversations.insert(crate::plan::limits::conversation_of_part(id).to_owned());
            }
        }
    }
    let mut chunks = Vec::new();
    let mut messages = Vec::new();
    for id in conversations {
        messages.push((id.clone(), source.spool.messages(&id)?));
    }
    chunks.push(Chunk::Conversations(messages));
    for (kind, ids) in raw_values {
        chunks
            .push(Chunk::RawValues(source.spool.by_ids(kind, &ids)?.into_iter().map(|(_, spooled)| spooled).collect()));
    }
    Ok(chunks)
}

/// What a run's phases share: where they send, what they read and journal, and how.
#[derive(Clone, Copy)]
struct RunContext<'a> {
    client: &'a Arc<PipedriveClient>,
    journal: &'a Journal,
    mapping: &'a Mapping,
    targets: &'a Targets,
    source: &'a Source,
    decisions: &'a existing::Decisions,
    options: &'a ApplyOptions,
    reporter: &'a Reporter,
}

async fn run_phases(run: &RunContext<'_>, links: &mut Links, outcome: &mut ApplyOutcome) -> Result<(), ApplyError> {
    let RunContext { client, journal, mapping, targets, source, options, reporter, .. } = *run;
    for (phase, objects) in PHASES {
        if options.until.as_deref().is_some_and(|until| {
            PHASE_NAMES.iter().position(|p| *p == until) < PHASE_NAMES.iter().position(|p| *p == phase)
        }) {
            break;
        }
        let started = Instant::now();
        let tokens_before = client.bill().tokens();
        let records: u64 = objects.iter().map(|object| source.in_scope.get(object).copied().unwrap_or(0)).sum();
        reporter.report(ProgressEvent::PhaseStarted { phase, records });
        let mut reconciliation = Vec::new();
        for object in objects.iter().copied() {
            reconciliation.push(run_object(run, links, outcome, phase, object).await?);
        }
        let tokens = client.bill().tokens() - tokens_before;
        let seconds = started.elapsed().as_secs_f64();
        reporter.report(ProgressEvent::PhaseDone { phase, reconciliation: reconciliation.clone(), tokens, seconds });
        outcome.phases.push(PhaseOutcome { phase, reconciliation, tokens, seconds });
        if phase == "organizations" {
            // Both organizations of every pair exist now: the hierarchy goes in before the persons.
            outcome.relationships = Some(
                relationships::run(client, journal, mapping, source, options.concurrency, options.sample.is_some())
                    .await?,
            );
        }
        if phase == "deals" {
            // Deals and persons exist now: their products and participants go in.
            let outcome_of =
                products::run(client, journal, mapping, source, links, &targets.marking, options.concurrency);
            outcome.deal_products = Some(outcome_of.await?);
        }
    }
    Ok(())
}

/// One object's part of its phase: its records built, sent and journalled a chunk at a time,
/// then reconciled.
async fn run_object(
    run: &RunContext<'_>,
    links: &mut Links,
    outcome: &mut ApplyOutcome,
    phase: &'static str,
    object: ObjectKind,
) -> Result<Reconciliation, ApplyError> {
    let RunContext { client, journal, mapping, targets, source, decisions, options, reporter } = *run;
    let scope = scope_ids(source, object)?;
    // Created before (an earlier run, the sample): linked, not sent again.
    let mut created: IdMap<u64> = IdMap::default();
    // Creates sent whose answer is not journalled (a run killed, an answer lost).
    let mut open: Vec<String> = Vec::new();
    // A split conversation's later parts are looked for with their conversation.
    let in_scope = |id: &str| {
        scope.contains(if object == ObjectKind::Conversation {
            crate::plan::limits::conversation_of_part(id)
        } else {
            id
        }) || (object == ObjectKind::Conversation && payload::is_raw_values_note(id))
    };
    journal.each_fate(object, |id, fated| match (fated.fate, fated.pipedrive_id) {
        (Fate::Created, Some(pipedrive_id)) => {
            created.insert(id, pipedrive_id);
        }
        (Fate::Intent, _) if in_scope(id) => open.push(id.to_owned()),
        _ => {}
    })?;
    for (id, pipedrive_id) in load::resolve(client, object, targets, &open).await? {
        journal.resolve_intent(object, &id, pipedrive_id)?;
        created.insert(&id, pipedrive_id);
    }
    add_links(links, object, &created, source)?;
    let mut settled = IdSet::default();
    source.spool.each_settled(Some(object), |one| {
        settled.add(&one.source_id);
        Ok::<(), source::SpoolError>(())
    })?;
    // Records existing.toml sends to a record the account already has: linked, not created.
    let mut to_link: Vec<(String, Payload)> = Vec::new();
    let link_ids: Vec<String> =
        decisions.ids(object).into_iter().filter(|id| !settled.contains(id) && !created.contains(id)).collect();
    for chunk in if link_ids.is_empty() { Vec::new() } else { chunks_of(source, object, &link_ids)? } {
        for (source_id, built) in build(chunk, mapping, targets, source, links) {
            if let Ok(built) = built {
                to_link.push((source_id, built.payload));
            }
        }
    }
    let linking = existing::link(
        client,
        journal,
        object,
        targets,
        decisions,
        to_link,
        &targets.field_names(),
        options.overwrite_conflicts,
    )
    .await?;
    add_links(links, object, &linking.linked, source)?;
    for line in linking.notes {
        outcome.notes.push(line)?;
    }
    outcome.conflicts.extend(linking.conflicts);
    let mut updates = Updates::default();
    let mut unknown = Vec::new();
    let mut progress = Progress { done: 0, total: scope.len().saturating_sub(created.len()) as u64 };
    // The records the journal lists something left out of (few): the others' lists are read
    // only when their build leaves something out.
    let mut with_left_out = IdSet::default();
    journal.each_left_out_id(object, |id| with_left_out.add(id))?;
    let mut chunks = Chunks::of(source, object)?;
    while let Some(chunk) = chunks.next_chunk()? {
        let mut existing: Vec<(String, Payload)> = Vec::new();
        let mut jobs = Vec::new();
        for (source_id, built) in build(chunk, mapping, targets, source, links) {
            if settled.contains(&source_id) {
                continue;
            }
            let left_out = built.as_ref().map(|built| built.left_out.as_slice()).unwrap_or(&[]);
            // What the journal lists as left out: written again only where the build differs.
            let journalled = if with_left_out.contains(&source_id) || !left_out.is_empty() {
                journal.left_out_of(object, &source_id)?
            } else {
                Vec::new()
            };
            if journalled != left_out {
                journal.set_left_out(object, &source_id, left_out)?;
            }
            if created.contains(&source_id) {
                if let Ok(built) = built {
                    existing.push((source_id, built.payload));
                }
                continue;
            }
            if decisions.get(object, &source_id).is_some() && built.is_ok() {
                continue;
            }
            match built {
                Ok(Built { payload, note, .. }) => {
                    if let Some(note) = note {
                        outcome.notes.push(format!("{object} {source_id}: {note}"))?;
                    }
                    jobs.push(Job { source_id, payload });
                }
                Err(reason) => journal.set(object, &source_id, Fate::Quarantined, None, Some(&reason))?,
            }
        }
        links.contacts.failure()?;
        let (new, lost) =
            load::send_all(client, journal, object, targets, jobs, options.concurrency, reporter, &mut progress)
                .await?;
        add_links(links, object, &new, source)?;
        unknown.extend(lost);
        update_changed(
            client,
            journal,
            object,
            targets,
            &existing,
            &created,
            options.overwrite_conflicts,
            &mut updates,
            outcome,
        )
        .await?;
    }
    updates.note(object, outcome)?;
    for _ in 0..RESOLVE_ROUNDS {
        if unknown.is_empty() {
            break;
        }
        // Creates whose answer was lost: found when applied, sent again when not.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let found = load::resolve(client, object, targets, &unknown).await?;
        for (id, pipedrive_id) in &found {
            journal.resolve_intent(object, id, *pipedrive_id)?;
        }
        add_links(links, object, &found, source)?;
        let again: Vec<String> = unknown.into_iter().filter(|id| !found.contains_key(id)).collect();
        let wanted: HashSet<&String> = again.iter().collect();
        let mut jobs = Vec::new();
        for chunk in chunks_of(source, object, &again)? {
            jobs.extend(
                build(chunk, mapping, targets, source, links)
                    .into_iter()
                    .filter(|(id, _)| wanted.contains(id))
                    .filter_map(|(source_id, built)| Some(Job { source_id, payload: built.ok()?.payload })),
            );
        }
        links.contacts.failure()?;
        let (new, lost) =
            load::send_all(client, journal, object, targets, jobs, options.concurrency, reporter, &mut progress)
                .await?;
        add_links(links, object, &new, source)?;
        unknown = lost;
    }
    let mut row = reconcile(
        phase,
        object,
        &scope,
        journal,
        source.duplicates.get(&object).filter(|_| object != ObjectKind::Conversation),
    )?;
    row.updated = updates.updated + linking.updated;
    Ok(row)
}

/// Sends' progress over an object's chunks.
#[derive(Debug, Default)]
pub struct Progress {
    pub done: u64,
    pub total: u64,
}

/// What [`update_changed`] did over an object's chunks.
#[derive(Default)]
struct Updates {
    updated: u64,
    without_baseline: u64,
    /// What Pipedrive holds, read back once per object when something is to be written.
    listings: crate::readback::Listings,
}

impl Updates {
    fn note(&self, object: ObjectKind, outcome: &mut ApplyOutcome) -> Result<(), source::SpoolError> {
        if self.without_baseline > 0 {
            outcome.notes.push(format!(
                "{} {object} records had no journalled payload to compare with (purged, or found again by their marker): not compared, not updated; what would be sent now is their baseline for the next delta",
                self.without_baseline
            ))?;
        }
        Ok(())
    }
}

/// Records created before whose payload now differs (a newer export, a re-approved mapping):
/// only the changed fields are sent, and what each was and became is journalled. A record
/// someone changed in Pipedrive since the migration wrote it is a conflict: listed, and left
/// alone unless `overwrite` (then the prior values journalled are Pipedrive's). Reads what was
/// sent for the chunk's records only.
#[allow(clippy::too_many_arguments)]
async fn update_changed(
    client: &PipedriveClient,
    journal: &Journal,
    object: ObjectKind,
    targets: &Targets,
    existing: &[(String, Payload)],
    created: &IdMap<u64>,
    overwrite: bool,
    updates: &mut Updates,
    outcome: &mut ApplyOutcome,
) -> Result<(), ApplyError> {
    let ids: Vec<&str> = existing.iter().map(|(id, _)| id.as_str()).collect();
    let sent_before = journal.sent(object, &ids)?;
    let names = targets.field_names();
    for (source_id, payload) in existing {
        let now = load::payload_json(payload);
        let Some(id) = created.get(source_id).copied() else { continue };
        let sent_json = sent_before.get(source_id);
        let Some(sent) = sent_json.and_then(|sent| serde_json::from_str::<serde_json::Value>(sent).ok()) else {
            // Nothing to tell a change by (purged, found by its marker, or written before the
            // journal kept payloads): what would be sent now becomes the baseline, and says so.
            journal.set_sent(object, source_id, &now.to_string())?;
            updates.without_baseline += 1;
            continue;
        };
        let mut changes = crate::pipedrive::changes::changed_fields(&sent, &now);
        if changes.is_empty() {
            continue;
        }
        // Read back only when there is something to write: what Pipedrive holds now.
        let Some(actual) = updates.listings.record(client, object, id).await? else {
            outcome.notes.push(format!(
                "{object} {source_id}: changed in User.com, but deleted in Pipedrive (id {id}); not created again"
            ))?;
            continue;
        };
        if let Some(mut conflict) = crate::readback::Conflict::between(
            object,
            source_id,
            id,
            "update",
            sent_json.map(String::as_str),
            &actual,
            &names,
        ) {
            conflict.overridden = overwrite;
            outcome.conflicts.push(conflict);
            if !overwrite {
                continue;
            }
            // What rollback restores is what the person had in Pipedrive.
            for (field, prior, _) in &mut changes {
                *prior = match field.strip_prefix("custom_fields.") {
                    Some(code) => actual["custom_fields"][code].clone(),
                    None => actual[field.as_str()].clone(),
                };
            }
        }
        match load::update(client, object, id, &changes).await {
            Ok(()) => {
                for (field, prior, new) in &changes {
                    journal.record_change(object, source_id, id, field, &prior.to_string(), &new.to_string())?;
                }
                journal.set_sent(object, source_id, &now.to_string())?;
                updates.updated += 1;
            }
            Err(ClientError::NotFound { .. }) => outcome.notes.push(format!(
                "{object} {source_id}: changed in User.com, but deleted in Pipedrive (id {id}); not created again"
            ))?,
            Err(error) => return Err(error.into()),
        }
    }
    Ok(())
}

/// The source ids a phase must account for (conversations: their conversation ids).
fn scope_ids(source: &Source, object: ObjectKind) -> Result<IdSet, source::SpoolError> {
    let mut ids: IdSet = if object == ObjectKind::Conversation {
        source.spool.conversations()?.into_iter().map(|id| (id, ())).collect()
    } else {
        source.records(object).map(|record| record.map(|record| (record.source_id, ()))).collect::<Result<_, _>>()?
    };
    source.spool.each_settled(Some(object), |settled| {
        ids.add(&settled.source_id);
        Ok::<(), source::SpoolError>(())
    })?;
    Ok(ids)
}

/// Created records' source ids with their Pipedrive ids, as [`add_links`] takes them: a chunk's
/// answers (by text), or what an object's journal lists (compact).
pub(crate) trait CreatedIds {
    fn pipedrive_id(&self, source_id: &str) -> Option<u64>;
    fn count(&self) -> usize;
    fn source_ids(&self) -> Vec<String>;
    fn add_to(&self, links: &mut IdMap<u64>);
}

impl CreatedIds for HashMap<String, u64> {
    fn pipedrive_id(&self, source_id: &str) -> Option<u64> {
        self.get(source_id).copied()
    }
    fn count(&self) -> usize {
        self.len()
    }
    fn source_ids(&self) -> Vec<String> {
        self.keys().cloned().collect()
    }
    fn add_to(&self, links: &mut IdMap<u64>) {
        links.extend(self.iter().map(|(id, pipedrive_id)| (id, *pipedrive_id)));
    }
}

impl CreatedIds for IdMap<u64> {
    fn pipedrive_id(&self, source_id: &str) -> Option<u64> {
        self.get(source_id).copied()
    }
    fn count(&self) -> usize {
        self.len()
    }
    fn source_ids(&self) -> Vec<String> {
        self.iter().map(|(id, _)| id.into_owned()).collect()
    }
    fn add_to(&self, links: &mut IdMap<u64>) {
        links.extend_from(self);
    }
}

/// Adds created records to the links (and, for organizations, their email and website domains).
pub(crate) fn add_links(
    links: &mut Links,
    object: ObjectKind,
    created: &impl CreatedIds,
    source: &Source,
) -> Result<(), source::SpoolError> {
    let map = match object {
        ObjectKind::Company => &mut links.organizations,
        ObjectKind::Contact => &mut links.persons,
        ObjectKind::Deal => &mut links.deals,
        _ => return Ok(()),
    };
    created.add_to(map);
    if object == ObjectKind::Company && created.count() > 0 {
        // In file order, the first company of a domain takes it; those created now are read back.
        let companies = if created.count() > CHUNK {
            source.records(ObjectKind::Company).collect::<Result<Vec<_>, _>>()?
        } else {
            source
                .spool
                .by_ids(ObjectKind::Company, &created.source_ids())?
                .into_iter()
                .map(|(_, spooled)| spooled.record)
                .collect()
        };
        for company in companies {
            let Some(id) = created.pipedrive_id(&company.source_id) else { continue };
            for field in ["email", "website"] {
                if let Some(domain) = company.get(field).map(crate::profile::plain).as_deref().and_then(domain) {
                    links.organizations_by_domain.entry(domain).or_insert(id);
                }
            }
        }
    }
    Ok(())
}

/// A record ready to send, what is worth telling about how it was linked, and the values it is
/// sent without.
struct Built {
    payload: Payload,
    note: Option<String>,
    left_out: Vec<LeftOutField>,
}

fn ready(payload: Payload) -> Built {
    Built { payload, note: None, left_out: Vec::new() }
}

/// The values a record is sent without, each with its place in the export (from the extract's
/// finding, else the record's file, line and the column of its attribute).
fn fields_left_out(spooled: &Spooled, mapping: &Mapping, targets: &Targets, source: &Source) -> Vec<LeftOutField> {
    let Spooled { record, line, issues } = spooled;
    payload::left_out(record, mapping, targets, issues)
        .into_iter()
        .map(|left| {
            let (file, line, column) = match &left.issue {
                Some(issue) => (
                    issue
                        .file
                        .file_name()
                        .map_or_else(|| issue.file.display().to_string(), |name| name.to_string_lossy().into_owned()),
                    issue.line,
                    issue.column.clone(),
                ),
                None => (
                    source.files.get(&record.kind).cloned().unwrap_or_default(),
                    *line,
                    source
                        .headers
                        .get(&(record.kind, left.attribute.clone()))
                        .cloned()
                        .unwrap_or_else(|| left.attribute.clone()),
                ),
            };
            LeftOutField {
                field: left.attribute,
                file,
                line,
                column,
                value: left.value,
                why: left.why,
                in_note: left.in_note,
            }
        })
        .collect()
}

/// A chunk's records as their payloads, or the reasons they cannot be sent.
fn build(
    chunk: Chunk,
    mapping: &Mapping,
    targets: &Targets,
    source: &Source,
    links: &Links,
) -> Vec<(String, Result<Built, String>)> {
    let records = match chunk {
        Chunk::Records(records) => records,
        Chunk::Conversations(conversations) => {
            // A conversation too long for one note is several (its parts after the first under ids of their own).
            return conversations
                .into_iter()
                .filter(|(_, messages)| !messages.is_empty())
                .flat_map(|(id, messages)| {
                    let records: Vec<&Record> = messages.iter().map(|message| &message.record).collect();
                    let issues: Vec<&[crate::extract::Issue]> =
                        messages.iter().map(|message| message.issues.as_slice()).collect();
                    match payload::note(&id, &records, &issues, mapping, targets, links) {
                        Ok(parts) => {
                            let mut left_out: Vec<LeftOutField> = messages
                                .iter()
                                .flat_map(|message| fields_left_out(message, mapping, targets, source))
                                .collect();
                            parts
                                .into_iter()
                                .map(|(part_id, note)| {
                                    (
                                        part_id,
                                        Ok(Built {
                                            left_out: std::mem::take(&mut left_out),
                                            ..ready(Payload::Note(note))
                                        }),
                                    )
                                })
                                .collect::<Vec<_>>()
                        }
                        Err(reason) => vec![(id, Err(reason))],
                    }
                })
                .collect();
        }
        Chunk::RawValues(records) => {
            // The notes of raw values of persons, organizations and deals.
            return records
                .iter()
                .filter_map(|spooled| {
                    payload::raw_values_note(&spooled.record, &spooled.issues, mapping, targets, links)
                })
                .map(|(id, note)| (id, Ok(ready(Payload::Note(note)))))
                .collect();
        }
    };
    let each = |make: &dyn Fn(&Spooled) -> Result<Built, String>| {
        records
            .iter()
            .map(|spooled| {
                (
                    spooled.record.source_id.clone(),
                    make(spooled).map(|built| Built {
                        left_out: fields_left_out(spooled, mapping, targets, source)
                            .into_iter()
                            .chain(products::left_out(spooled, mapping, source, links))
                            .collect(),
                        ..built
                    }),
                )
            })
            .collect()
    };
    let Some(object) = records.first().map(|spooled| spooled.record.kind) else { return Vec::new() };
    match object {
        ObjectKind::Company => each(&|s| {
            payload::organization(&s.record, mapping, targets, &s.issues).map(Payload::Organization).map(ready)
        }),
        ObjectKind::Contact => each(&|s| {
            payload::person(&s.record, mapping, targets, &s.issues, links)
                .map(|(person, note)| Built { note, ..ready(Payload::Person(person)) })
        }),
        ObjectKind::Deal => each(&|s| {
            payload::deal(&s.record, mapping, targets, &s.issues, links)
                .map(|(deal, note)| Built { note, ..ready(Payload::Deal(deal)) })
        }),
        ObjectKind::Activity | ObjectKind::Event => each(&|s| {
            payload::activity(&s.record, mapping, targets, &s.issues, links).map(Payload::Activity).map(ready)
        }),
        ObjectKind::Conversation => unreachable!("messages are built as conversations"),
    }
}

/// A chunk of records as apply sends them (or why it does not), by source id.
pub(crate) type Expected = Vec<(String, Result<Payload, String>)>;

/// What apply sends for each record of an object (or why it does not): what verify expects,
/// given to `each` a chunk at a time.
pub(crate) fn expected_payloads(
    object: ObjectKind,
    mapping: &Mapping,
    targets: &Targets,
    source: &Source,
    links: &Links,
    each: &mut dyn FnMut(Expected),
) -> Result<(), source::SpoolError> {
    let mut chunks = Chunks::of(source, object)?;
    while let Some(chunk) = chunks.next_chunk()? {
        let built = build(chunk, mapping, targets, source, links);
        links.contacts.failure()?;
        each(built.into_iter().map(|(id, built)| (id, built.map(|built| built.payload))).collect());
    }
    Ok(())
}

/// Source = created + merged + quarantined + excluded, over the records in scope; a duplicated
/// id's rows (`duplicates`, all quarantined) count as rows of their own.
fn reconcile(
    phase: &'static str,
    object: ObjectKind,
    scope: &IdSet,
    journal: &Journal,
    duplicates: Option<&BTreeMap<String, Vec<u64>>>,
) -> Result<Reconciliation, ApplyError> {
    let mut counts = FateCounts::default();
    let mut missing = Vec::new();
    let (mut duplicate_ids, mut duplicate_rows) = (0, 0);
    // Created records migrated without some values, and how many values: a count on created
    // records, not a fate. Values kept in a note are not left out.
    let mut left_out: IdMap<u64> = IdMap::default();
    journal.each_left_out_count(object, |id, fields| {
        left_out.insert(id, fields);
    })?;
    let (mut records_with_fields_left_out, mut fields_left_out) = (0, 0);
    // The journal's lines are read as they come: the fates of a whole object are not held.
    let mut seen = 0;
    journal.each_fate(object, |id, fated| {
        if !scope.contains(id) {
            return;
        }
        seen += 1;
        match fated.fate {
            Fate::Quarantined if duplicates.is_some_and(|duplicates| duplicates.contains_key(id)) => {
                duplicate_ids += 1;
                duplicate_rows += duplicates.map_or(0, |duplicates| duplicates[id].len() as u64);
            }
            Fate::Created => {
                counts.created += 1;
                if let Some(fields) = left_out.get(id) {
                    records_with_fields_left_out += 1;
                    fields_left_out += fields;
                }
            }
            Fate::Merged => counts.merged += 1,
            Fate::Quarantined => counts.quarantined += 1,
            Fate::Excluded => counts.excluded += 1,
            Fate::Linked => counts.linked += 1,
            Fate::Intent => {
                counts.intent += 1;
                missing.push(format!("{object} {id} (create sent, outcome unknown)"));
            }
        }
    })?;
    if seen < scope.len() {
        // Records in scope without a line in the journal: looked for only when there are some.
        let journalled = journal.fates(object)?;
        missing.extend(
            scope.ids().filter(|id| !journalled.contains_key(id.as_ref())).map(|id| format!("{object} {id} (no fate)")),
        );
    }
    let in_scope = scope.len() as u64 - duplicate_ids + duplicate_rows;
    if counts.total() + duplicate_rows != in_scope || counts.intent > 0 {
        missing.sort();
        missing.truncate(20);
        return Err(ApplyError::Unreconciled { phase, in_scope, counts, missing });
    }
    Ok(Reconciliation {
        object,
        in_scope,
        counts,
        updated: 0,
        duplicate_rows,
        records_with_fields_left_out,
        fields_left_out,
    })
}
