//! The records a run moves: read from the export (all of them, or a sample of contacts with
//! everything they link to), then through the customer's plugins: clean over every object,
//! dedup over contacts. What a plugin drops, rejects or merges is settled here, with its reason
//! or survivor; the rest goes on to be loaded. Plan, plugin diff, apply and verify all read the
//! export this way, so what they count, compare and send is one reading of it.
//!
//! ```text
//! labels       the label plugin's decision for each of the export's tags
//! deal_extras  a deal's order lines and participants: what migrates, and what is left out and why
//! spool        the run's records on disk, read back a page, a conversation or an id at a time
//! ```

pub mod deal_extras;
pub mod labels;
pub mod spool;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use crate::extract::{Export, ExportOptions, ExtractError, ReadRecord};
use crate::pipeline::{self, BatchIds, Fate as StageFate, StageOutput};
use crate::plugins::{Hook, LoadedPlugin};
use crate::record::{ObjectKind, Record, Value};

use crate::journal::Fate;
use crate::project::{CONFIG_FILE, Project};
pub use spool::{Spool, SpoolError, Spooled};

/// Records per plugin call unless a run says otherwise; a call that fails quarantines its batch.
pub const BATCH_SIZE: usize = 1000;

/// Where a run is before its phases, for progress: reading the export into the spool, or a
/// plugin over one object. Told when a step starts (`done` 0), every [`PROGRESS_EVERY`] records,
/// and when it ends (`finished`).
#[derive(Debug, Clone, Copy)]
pub struct Preparing<'a> {
    /// `read`, `clean` or `dedup`.
    pub step: &'static str,
    /// The file read, or the plugin run.
    pub what: &'a str,
    pub object: ObjectKind,
    pub done: u64,
    pub finished: bool,
}

/// Told where reading and the plugins are (a run of a million contacts spends minutes there).
pub type PrepareProgress<'a> = &'a mut dyn FnMut(Preparing<'_>);

/// Records between two progress reports of a step.
pub const PROGRESS_EVERY: u64 = 100_000;

/// Counts a step's records and tells `progress` at its start, every [`PROGRESS_EVERY`] records
/// and at its end.
struct StepCount<'p, 'q> {
    progress: &'p mut dyn FnMut(Preparing<'_>),
    step: &'static str,
    what: &'q str,
    object: ObjectKind,
    done: u64,
}

impl<'p, 'q> StepCount<'p, 'q> {
    fn start(
        progress: &'p mut dyn FnMut(Preparing<'_>),
        step: &'static str,
        what: &'q str,
        object: ObjectKind,
    ) -> StepCount<'p, 'q> {
        let mut count = StepCount { progress, step, what, object, done: 0 };
        count.tell(false);
        count
    }

    fn add(&mut self, records: u64) {
        let before = self.done / PROGRESS_EVERY;
        self.done += records;
        if self.done / PROGRESS_EVERY > before {
            self.tell(false);
        }
    }

    fn finish(mut self) {
        self.tell(true);
    }

    fn tell(&mut self, finished: bool) {
        let StepCount { step, what, object, done, .. } = *self;
        (self.progress)(Preparing { step, what, object, done, finished });
    }
}

/// Why the project's export cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenExportError {
    #[error("{}: unknown encoding '{label}' for {file}", .config.display())]
    UnknownEncoding { config: PathBuf, file: String, label: String },
    #[error(transparent)]
    Extract(#[from] ExtractError),
}

/// Why the records could not be read into the run's spool, or back from it.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error(transparent)]
    Extract(#[from] ExtractError),
    #[error(transparent)]
    Spool(#[from] SpoolError),
}

/// Opens the project's export with its declared encodings.
pub fn open_export(project: &Project) -> Result<Export, OpenExportError> {
    open_export_at(project, &project.export_dir())
}

/// Opens an export (a newer one, for a delta) with the project's declared encodings.
pub fn open_export_at(project: &Project, dir: &Path) -> Result<Export, OpenExportError> {
    Ok(Export::open(dir, export_options(project)?)?)
}

/// How the project reads its exports: the encodings `migration.toml` declares per file, and its
/// limits.
pub fn export_options(project: &Project) -> Result<ExportOptions, OpenExportError> {
    let mut encodings = Vec::new();
    for (file, label) in &project.config.source.encodings {
        let encoding =
            crate::extract::sniff::encoding_for_label(label).ok_or_else(|| OpenExportError::UnknownEncoding {
                config: project.dir.join(CONFIG_FILE),
                file: file.clone(),
                label: label.clone(),
            })?;
        encodings.push((Some(file.clone()), encoding));
    }
    Ok(ExportOptions { encodings, limits: *project.config.source.limits.get_ref(), ..ExportOptions::default() })
}

/// A record's fate decided before loading.
#[derive(Debug, Clone, PartialEq)]
pub struct Settled {
    pub object: ObjectKind,
    pub source_id: String,
    pub fate: Fate,
    pub detail: String,
}

/// The contact a contact ended in: itself, or, merged away by the dedup plugin, its survivor
/// (followed through merges of merges, at most 16). `survivors` holds contacts only: a company's
/// or a deal's id is never looked up there (ids of different objects may be equal).
pub fn survivor<'a>(survivors: &'a HashMap<String, String>, contact_id: &'a str) -> &'a str {
    let mut id = contact_id;
    for _ in 0..16 {
        match survivors.get(id) {
            Some(next) => id = next,
            None => break,
        }
    }
    id
}

/// What a run moves.
#[derive(Debug, Default)]
pub struct Source {
    /// The records to load, in file order (conversations: every message), with the line each
    /// starts on and the values that did not read as their column's type, on disk.
    pub spool: std::sync::Arc<Spool>,
    /// Records in scope per object: the count reconciliation adds up to. Conversations count
    /// conversations (each becomes one note), not messages.
    pub in_scope: BTreeMap<ObjectKind, u64>,
    /// Each record field's column header as written, for the quarantine report.
    pub headers: HashMap<(ObjectKind, String), String>,
    /// Contact merged away -> the contact it was merged into.
    pub survivors: HashMap<String, String>,
    /// What the plugins logged, for the run's report.
    pub plugin_failures: Vec<String>,
    /// Fields a plugin set that the export does not have (so no mapping entry migrates them):
    /// `(object, field)` -> the plugin and the number of records, for the run's report.
    pub new_fields: BTreeMap<(ObjectKind, String), (String, u64)>,
    /// Per object, the source ids that more than one row of its file has, with the lines of
    /// those rows. Every row of such an id is quarantined (nothing is sent for it) until a
    /// person resolves it in the export; conversations: the conversations holding such a
    /// message are quarantined.
    pub duplicates: BTreeMap<ObjectKind, BTreeMap<String, Vec<u64>>>,
    /// The file each object was read from, for reasons and reports.
    pub files: BTreeMap<ObjectKind, String>,
    /// What each plugin did to each object, in the order they ran: the plugin's name, the
    /// object, and how many records ended each way (the demo shows them).
    pub stage_counts: Vec<(String, ObjectKind, pipeline::FateCounts)>,
    /// The export's products catalogue (`products.csv`), which deals' order lines name.
    pub products: Vec<crate::extract::catalogue::Product>,
}

/// Why every row of a duplicated id is quarantined.
pub fn duplicate_reason(id: &str, lines: &[u64], file: &str) -> String {
    let lines: Vec<String> = lines.iter().map(u64::to_string).collect();
    format!("duplicate source id {id} on lines {} of {file}: resolve in the export", lines.join(", "))
}

/// The conversation a message belongs to (its own id when the file has no conversation ids).
pub fn conversation_of(message: &Record) -> String {
    match message.get("conversation_id") {
        Some(Value::Text(id)) if !id.trim().is_empty() => id.trim().to_owned(),
        _ => format!("message-{}", message.source_id),
    }
}

fn reference(record: &Record, field: &str) -> Option<String> {
    match record.get(field) {
        Some(Value::Text(id)) if !id.trim().is_empty() => Some(id.trim().to_owned()),
        _ => None,
    }
}

/// Reads every record of the export into a spool in `project_dir`, or with `sample`, the first
/// `sample` contacts and what links to them: their companies, their deals, the activities of
/// those contacts and deals, their events and conversations.
pub fn read(
    export: &Export,
    sample: Option<usize>,
    project_dir: &Path,
    progress: PrepareProgress<'_>,
) -> Result<Source, SourceError> {
    let mut source = Source { spool: std::sync::Arc::new(Spool::create(project_dir)?), ..Source::default() };
    // Ids (or conversations) settled as duplicates, per object: in scope, never sent.
    let mut duplicated_scope: BTreeMap<ObjectKind, u64> = BTreeMap::new();
    let mut present = BTreeSet::new();
    for kind in ObjectKind::ALL {
        let Some(reader) = export.records(kind)? else { continue };
        present.insert(kind);
        let has_ids = reader.has_id_column();
        let file = reader
            .path()
            .file_name()
            .map_or_else(|| reader.path().display().to_string(), |name| name.to_string_lossy().into_owned());
        source
            .headers
            .extend(reader.columns().iter().map(|column| ((kind, column.field.clone()), column.header.clone())));
        let mut count = StepCount::start(progress, "read", &file, kind);
        source.spool.batch::<(), SourceError>(|writer| {
            for read in reader {
                let ReadRecord { record, line, issues, .. } = read?;
                count.add(1);
                let conversation = (kind == ObjectKind::Conversation).then(|| conversation_of(&record));
                writer.add(&record, line, &issues, conversation.as_deref())?;
            }
            Ok(())
        })?;
        count.finish();
        // Found by the spool's index of ids: a map of every id read would grow with the file.
        let duplicates = if has_ids { source.spool.repeated_ids(kind)? } else { BTreeMap::new() };
        if !duplicates.is_empty() {
            duplicated_scope.insert(kind, settle_duplicates(&mut source, kind, &file, &duplicates)?);
            source.duplicates.insert(kind, duplicates);
        }
        source.files.insert(kind, file);
    }
    if let Some(size) = sample {
        take_sample(&source.spool, size)?;
        present.extend(ObjectKind::ALL);
    }
    for kind in present {
        let count = source.spool.count(kind)?;
        source.in_scope.insert(kind, count + duplicated_scope.get(&kind).copied().unwrap_or(0));
    }
    Ok(source)
}

/// Leaves in the spool the first `size` contacts and what links to them.
fn take_sample(spool: &Spool, size: usize) -> Result<(), SpoolError> {
    let mut left_out = Vec::new();
    let mut contact_ids = BTreeSet::new();
    let mut companies = BTreeSet::new();
    for row in spool.records(ObjectKind::Contact) {
        let (seq, Spooled { record, .. }) = row?;
        if contact_ids.len() < size {
            companies.extend(reference(&record, "company_id"));
            contact_ids.insert(record.source_id);
        } else {
            left_out.push(seq);
        }
    }
    let linked = |record: &Record| reference(record, "contact_id").is_some_and(|id| contact_ids.contains(&id));
    let mut deal_ids = BTreeSet::new();
    for row in spool.records(ObjectKind::Deal) {
        let (seq, Spooled { record, .. }) = row?;
        if linked(&record) {
            companies.extend(reference(&record, "company_id"));
            deal_ids.insert(record.source_id);
        } else {
            left_out.push(seq);
        }
    }
    let mut keep = |kind: ObjectKind, keep: &dyn Fn(&Record) -> bool| -> Result<(), SpoolError> {
        for row in spool.records(kind) {
            let (seq, Spooled { record, .. }) = row?;
            if !keep(&record) {
                left_out.push(seq);
            }
        }
        Ok(())
    };
    keep(ObjectKind::Company, &|company| companies.contains(&company.source_id))?;
    keep(ObjectKind::Activity, &|activity| {
        linked(activity) || reference(activity, "deal_id").is_some_and(|id| deal_ids.contains(&id))
    })?;
    keep(ObjectKind::Event, &linked)?;
    keep(ObjectKind::Conversation, &linked)?;
    spool.batch(|writer| left_out.iter().try_for_each(|seq| writer.leave_out(*seq)))
}

/// Takes every row of a duplicated id out of the spool and quarantines the id (for messages:
/// the conversations they belong to), with the lines. Returns how many ids (conversations) it
/// settled: they stay in scope, so that reconciliation accounts for them.
fn settle_duplicates(
    source: &mut Source,
    kind: ObjectKind,
    file: &str,
    duplicates: &BTreeMap<String, Vec<u64>>,
) -> Result<u64, SpoolError> {
    let ids: Vec<String> = duplicates.keys().cloned().collect();
    if kind == ObjectKind::Conversation {
        // A note is one conversation: one whose messages are in doubt is not written at all.
        let mut reasons: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (_, Spooled { record: message, .. }) in source.spool.by_ids(kind, &ids)? {
            let reason = duplicate_reason(&message.source_id, &duplicates[&message.source_id], file);
            let reasons = reasons.entry(conversation_of(&message)).or_default();
            if !reasons.contains(&reason) {
                reasons.push(reason);
            }
        }
        source
            .spool
            .batch(|writer| reasons.keys().try_for_each(|conversation| writer.retire_conversation(conversation)))?;
        let count = reasons.len() as u64;
        let settled: Vec<Settled> = reasons
            .into_iter()
            .map(|(conversation, reasons)| Settled {
                object: kind,
                source_id: conversation,
                fate: Fate::Quarantined,
                detail: format!("a message's {}", reasons.join("; ")),
            })
            .collect();
        source.spool.add_settled(&settled)?;
        return Ok(count);
    }
    source.spool.batch(|writer| ids.iter().try_for_each(|id| writer.retire(kind, id)))?;
    let settled: Vec<Settled> = duplicates
        .iter()
        .map(|(id, lines)| Settled {
            object: kind,
            source_id: id.clone(),
            fate: Fate::Quarantined,
            detail: duplicate_reason(id, lines, file),
        })
        .collect();
    source.spool.add_settled(&settled)?;
    Ok(duplicates.len() as u64)
}

impl Source {
    /// The records to load of `kind`, in file order (conversations: every message).
    pub fn records(&self, kind: ObjectKind) -> impl Iterator<Item = Result<Record, SpoolError>> + '_ {
        self.spool.records(kind).spooled().map(|row| row.map(|spooled| spooled.record))
    }

    /// What the duplicates and the plugins settled before loading, of every object, one at a
    /// time as the spool gives them back.
    pub fn each_settled<E: From<SpoolError>>(&self, each: impl FnMut(Settled) -> Result<(), E>) -> Result<(), E> {
        self.spool.each_settled(None, each)
    }

    /// Whether the run has this record, to load or settled (by a plugin, or as a duplicate).
    /// Not for conversations (a conversation is settled by its id, not its messages').
    pub fn has(&self, kind: ObjectKind, id: &str) -> Result<bool, SpoolError> {
        self.spool.contains(kind, id)
    }

    /// The line a record starts on, for the quarantine report (0: not read from a file).
    pub fn line(&self, kind: ObjectKind, id: &str) -> Result<u64, SpoolError> {
        Ok(self.spool.line(kind, id)?.unwrap_or(0))
    }

    /// Runs the clean plugin over every object but conversations, then the dedup plugin over
    /// contacts; settles what they drop, reject, quarantine and merge. Clean goes batch by
    /// batch as the records stream from the spool; what it keeps changed is written back.
    pub fn run_plugins(
        &mut self,
        plugins: &[(Hook, LoadedPlugin)],
        batch_size: usize,
        progress: PrepareProgress<'_>,
    ) -> Result<(), SpoolError> {
        let mut ids = BatchIds::default();
        for (hook, plugin) in plugins {
            let kinds: &[ObjectKind] = match hook {
                Hook::Clean => &[
                    ObjectKind::Contact,
                    ObjectKind::Company,
                    ObjectKind::Deal,
                    ObjectKind::Activity,
                    ObjectKind::Event,
                ],
                Hook::Dedup => &[ObjectKind::Contact],
                Hook::Label => continue,
            };
            let name = plugin.name();
            for kind in kinds {
                let mut stage = Stage::default();
                let step = if *hook == Hook::Clean { "clean" } else { "dedup" };
                let mut count = StepCount::start(&mut *progress, step, &name, *kind);
                match hook {
                    Hook::Clean => {
                        let spool = self.spool.clone();
                        let mut rows = spool.records(*kind).peekable();
                        while rows.peek().is_some() {
                            let batch = rows.by_ref().take(batch_size.max(1)).collect::<Result<Vec<_>, _>>()?;
                            let (seqs, records): (Vec<i64>, Vec<Record>) =
                                batch.into_iter().map(|(seq, spooled)| (seq, spooled.record)).unzip();
                            stage.input(&records);
                            count.add(records.len() as u64);
                            let output = pipeline::clean(plugin, records, batch_size, &mut ids);
                            self.take_output(&mut stage, &seqs, output, &name)?;
                        }
                    }
                    _ => {
                        // The contacts' match keys in the spool; records a batch at a time.
                        let mut input = Spooling::new(&self.spool, *kind)?;
                        let pipeline::Dedup { output, positions, unchanged } =
                            pipeline::dedup_from(plugin, &mut input, batch_size, &mut ids)?;
                        input.write_changed()?;
                        stage.input_fields.extend(std::mem::take(&mut input.fields));
                        count.add(input.seqs.len() as u64);
                        stage.counts.kept += unchanged;
                        let seqs: Vec<i64> = positions.iter().map(|&position| input.seqs[position]).collect();
                        self.take_output(&mut stage, &seqs, output, &name)?;
                    }
                }
                count.finish();
                // An object the run reads (a sample reads every one) has its stage, records or not.
                if self.in_scope.contains_key(kind) {
                    for (key, records) in stage.changed_fields {
                        if !stage.input_fields.contains(&key) {
                            self.new_fields.entry(key).or_insert_with(|| (name.clone(), 0)).1 += records;
                        }
                    }
                    self.stage_counts.push((name.clone(), *kind, stage.counts));
                }
            }
        }
        Ok(())
    }

    /// A stage's outcome for the rows `seqs`: written back to the spool, its fates settled.
    fn take_output(
        &mut self,
        stage: &mut Stage,
        seqs: &[i64],
        output: StageOutput,
        plugin: &str,
    ) -> Result<(), SpoolError> {
        self.write_back(seqs, &output)?;
        // What a batch settles goes to the spool: a run's settled records are not held.
        let mut settled = Vec::new();
        stage.output(&mut settled, &mut self.survivors, &mut self.plugin_failures, output, plugin);
        self.spool.add_settled(&settled)
    }

    /// Writes a stage's outcome for the rows `seqs` (the rows of its fates, in their order) to
    /// the spool: a changed record it holds written back, one not kept taken out.
    fn write_back(&self, seqs: &[i64], output: &StageOutput) -> Result<(), SpoolError> {
        self.spool.batch(|writer| {
            let mut kept = output.records.iter();
            for (seq, entry) in seqs.iter().zip(&output.fates) {
                match &entry.fate {
                    StageFate::Kept { changes } => {
                        let record = kept.next();
                        if let Some(record) = record.filter(|_| !changes.is_empty()) {
                            writer.replace(*seq, record)?;
                        }
                    }
                    _ => writer.retire_row(*seq)?,
                }
            }
            Ok(())
        })
    }
}

/// The dedup stage's input from the spool: one object's live records by position, their match
/// keys, and the fields they have; merged survivors a merge changed, held until the next read writes them back
/// (a batch of them at most).
struct Spooling<'a> {
    spool: &'a Spool,
    kind: ObjectKind,
    /// The row of each position.
    seqs: Vec<i64>,
    fields: BTreeSet<(ObjectKind, String)>,
    changed: Vec<(usize, Record)>,
}

impl<'a> Spooling<'a> {
    fn new(spool: &'a Spool, kind: ObjectKind) -> Result<Spooling<'a>, SpoolError> {
        Ok(Spooling { spool, kind, seqs: spool.rows(kind)?, fields: BTreeSet::new(), changed: Vec::new() })
    }

    /// Writes the changed records held back to their rows (a record is read at most once a
    /// pass, so none is read again before it is written).
    fn write_changed(&mut self) -> Result<(), SpoolError> {
        if self.changed.is_empty() {
            return Ok(());
        }
        let changed = std::mem::take(&mut self.changed);
        let seqs = &self.seqs;
        self.spool
            .batch(|writer| changed.iter().try_for_each(|(position, record)| writer.replace(seqs[*position], record)))
    }
}

impl pipeline::DedupInput for Spooling<'_> {
    type Error = SpoolError;

    fn len(&self) -> usize {
        self.seqs.len()
    }

    fn read(&mut self, positions: &[usize]) -> Result<Vec<Record>, SpoolError> {
        self.write_changed()?;
        let seqs: Vec<i64> = positions.iter().map(|&position| self.seqs[position]).collect();
        let records = self.spool.at(self.kind, &seqs)?;
        self.fields.extend(pipeline::fields_of(&records));
        Ok(records)
    }

    fn keep(&mut self, position: usize, record: Record, changed: bool) {
        if changed {
            self.changed.push((position, record));
        }
    }

    fn add_keys(&mut self, keys: &[(usize, ObjectKind, &[String])]) -> Result<(), SpoolError> {
        self.spool.batch(|writer| writer.add_match_keys(keys))
    }

    fn shared_keys(&mut self, each: &mut dyn FnMut(usize, usize)) -> Result<(), SpoolError> {
        self.spool.each_shared_key(each)
    }
}

/// Settles a stage's fates: into `settled`, merges into `survivors` too, and what failed.
fn settle(
    settled: &mut Vec<Settled>,
    survivors: &mut HashMap<String, String>,
    failures: &mut Vec<String>,
    output: &StageOutput,
    plugin: &str,
) {
    for failure in &output.failures {
        failures.push(format!("{plugin}: {failure}"));
    }
    for entry in &output.fates {
        let (fate, detail) = match &entry.fate {
            StageFate::Kept { .. } => continue,
            StageFate::Dropped { reason } => (Fate::Excluded, format!("{plugin}: {reason}")),
            StageFate::Rejected { issues } => (
                Fate::Quarantined,
                format!(
                    "{plugin}: {}",
                    issues
                        .iter()
                        .map(|issue| format!("{}: {}", issue.field, issue.message))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            ),
            StageFate::Quarantined { reason } => (Fate::Quarantined, format!("{plugin} failed on its batch: {reason}")),
            StageFate::Merged { survivor } => {
                survivors.insert(entry.source_id.clone(), survivor.clone());
                (Fate::Merged, survivor.clone())
            }
        };
        settled.push(Settled { object: entry.kind, source_id: entry.source_id.clone(), fate, detail });
    }
}

/// One plugin's stage over one object, added up over its batches.
#[derive(Default)]
struct Stage {
    counts: pipeline::FateCounts,
    /// The fields the stage's input had.
    input_fields: BTreeSet<(ObjectKind, String)>,
    /// The fields kept records were changed in, with how many records each: those the input
    /// did not have are new.
    changed_fields: BTreeMap<(ObjectKind, String), u64>,
}

impl Stage {
    fn input(&mut self, records: &[Record]) {
        self.input_fields.extend(pipeline::fields_of(records));
    }

    fn output(
        &mut self,
        settled: &mut Vec<Settled>,
        survivors: &mut HashMap<String, String>,
        failures: &mut Vec<String>,
        output: StageOutput,
        plugin: &str,
    ) {
        for (key, records) in pipeline::new_fields(&output, &BTreeSet::new()) {
            *self.changed_fields.entry(key).or_default() += records;
        }
        let counts = output.counts();
        self.counts.kept += counts.kept;
        self.counts.changed += counts.changed;
        self.counts.dropped += counts.dropped;
        self.counts.rejected += counts.rejected;
        self.counts.quarantined += counts.quarantined;
        self.counts.merged += counts.merged;
        settle(settled, survivors, failures, &output, plugin);
    }
}

/// Free email services: their domain says nothing about a person's company.
const FREE_MAIL: &[&str] = &[
    "gmail.com",
    "googlemail.com",
    "wp.pl",
    "onet.pl",
    "op.pl",
    "o2.pl",
    "interia.pl",
    "interia.eu",
    "poczta.fm",
    "gazeta.pl",
    "tlen.pl",
    "yahoo.com",
    "hotmail.com",
    "outlook.com",
    "live.com",
    "icloud.com",
    "me.com",
    "aol.com",
    "proton.me",
    "protonmail.com",
    "gmx.com",
    "gmx.de",
];

/// The domain of an email address or a website, lower case, without `www.`.
pub fn domain(text: &str) -> Option<String> {
    let text = text.trim().to_lowercase();
    let host = match text.split_once('@') {
        Some((_, domain)) => domain.to_owned(),
        None => text
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .split(['/', '?', '#'])
            .next()
            .unwrap_or("")
            .to_owned(),
    };
    let host = host.trim_start_matches("www.").to_owned();
    (host.contains('.') && !FREE_MAIL.contains(&host.as_str())).then_some(host)
}
