//! The records a run moves: read from the export (all of them, or a sample of contacts with
//! everything they link to), then through the customer's plugins: clean over every object,
//! dedup over contacts. What a plugin drops, rejects or merges is settled here, with its reason
//! or survivor; the rest goes on to be loaded. Plan, plugin diff, apply and verify all read the
//! export this way, so what they count, compare and send is one reading of it.
//!
//! ```text
//! labels       the label plugin's decision for each of the export's tags
//! deal_extras  a deal's order lines and participants: what migrates, and what is left out and why
//! ```

pub mod deal_extras;
pub mod labels;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use crate::extract::{Export, ExportOptions, ExtractError, Issue, ReadRecord};
use crate::pipeline::{self, BatchIds, Fate as StageFate, StageOutput};
use crate::plugins::{Hook, LoadedPlugin};
use crate::record::{ObjectKind, Record, Value};

use crate::journal::Fate;
use crate::project::{CONFIG_FILE, Project};

/// Records per plugin call unless a run says otherwise; a call that fails quarantines its batch.
pub const BATCH_SIZE: usize = 1000;

/// Why the project's export cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenExportError {
    #[error("{}: unknown encoding '{label}' for {file}", .config.display())]
    UnknownEncoding { config: PathBuf, file: String, label: String },
    #[error(transparent)]
    Extract(#[from] ExtractError),
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
    /// Per object, the records to load, in file order (conversations: every message).
    pub records: BTreeMap<ObjectKind, Vec<Record>>,
    /// Records in scope per object: the count reconciliation adds up to. Conversations count
    /// conversations (each becomes one note), not messages.
    pub in_scope: BTreeMap<ObjectKind, u64>,
    pub settled: Vec<Settled>,
    /// Values that did not read as their column's type, per record.
    pub issues: HashMap<(ObjectKind, String), Vec<Issue>>,
    /// The line each record starts on, for the quarantine report.
    pub lines: HashMap<(ObjectKind, String), u64>,
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

/// Reads every record of the export, or with `sample`, the first `sample` contacts and what
/// links to them: their companies, their deals, the activities of those contacts and deals,
/// their events and conversations.
pub fn read(export: &Export, sample: Option<usize>) -> Result<Source, ExtractError> {
    let mut source = Source::default();
    let mut all: BTreeMap<ObjectKind, Vec<Record>> = BTreeMap::new();
    // Ids (or conversations) settled as duplicates, per object: in scope, never sent.
    let mut duplicated_scope: BTreeMap<ObjectKind, u64> = BTreeMap::new();
    for kind in ObjectKind::ALL {
        let Some(reader) = export.records(kind)? else { continue };
        let has_ids = reader.has_id_column();
        let file = reader
            .path()
            .file_name()
            .map_or_else(|| reader.path().display().to_string(), |name| name.to_string_lossy().into_owned());
        let mut records = Vec::new();
        let mut lines_of: HashMap<String, Vec<u64>> = HashMap::new();
        source
            .headers
            .extend(reader.columns().iter().map(|column| ((kind, column.field.clone()), column.header.clone())));
        for read in reader {
            let ReadRecord { record, line, issues, .. } = read?;
            let key = (kind, record.source_id.clone());
            if !issues.is_empty() {
                source.issues.insert(key.clone(), issues);
            }
            source.lines.insert(key, line);
            if has_ids {
                lines_of.entry(record.source_id.clone()).or_default().push(line);
            }
            records.push(record);
        }
        let duplicates: BTreeMap<String, Vec<u64>> =
            lines_of.into_iter().filter(|(_, lines)| lines.len() > 1).collect();
        if !duplicates.is_empty() {
            duplicated_scope
                .insert(kind, settle_duplicates(&mut source.settled, kind, &file, &duplicates, &mut records));
            source.duplicates.insert(kind, duplicates);
        }
        source.files.insert(kind, file);
        all.insert(kind, records);
    }
    if let Some(size) = sample {
        let contacts: Vec<Record> =
            all.remove(&ObjectKind::Contact).unwrap_or_default().into_iter().take(size).collect();
        let contact_ids: BTreeSet<String> = contacts.iter().map(|contact| contact.source_id.clone()).collect();
        let company_ids: BTreeSet<String> =
            contacts.iter().filter_map(|contact| reference(contact, "company_id")).collect();
        let linked = |record: &Record| reference(record, "contact_id").is_some_and(|id| contact_ids.contains(&id));
        let deals: Vec<Record> = all.remove(&ObjectKind::Deal).unwrap_or_default().into_iter().filter(linked).collect();
        let deal_ids: BTreeSet<String> = deals.iter().map(|deal| deal.source_id.clone()).collect();
        let mut companies = company_ids.clone();
        companies.extend(deals.iter().filter_map(|deal| reference(deal, "company_id")));
        let mut keep = |kind: ObjectKind, keep: &dyn Fn(&Record) -> bool| {
            let records = all.remove(&kind).unwrap_or_default().into_iter().filter(|record| keep(record)).collect();
            all.insert(kind, records);
        };
        keep(ObjectKind::Company, &|company| companies.contains(&company.source_id));
        keep(ObjectKind::Activity, &|activity| {
            linked(activity) || reference(activity, "deal_id").is_some_and(|id| deal_ids.contains(&id))
        });
        keep(ObjectKind::Event, &linked);
        keep(ObjectKind::Conversation, &linked);
        all.insert(ObjectKind::Contact, contacts);
        all.insert(ObjectKind::Deal, deals);
    }
    for (kind, records) in &all {
        let count = if *kind == ObjectKind::Conversation {
            records.iter().map(conversation_of).collect::<BTreeSet<_>>().len()
        } else {
            records.len()
        };
        source.in_scope.insert(*kind, count as u64 + duplicated_scope.get(kind).copied().unwrap_or(0));
    }
    source.records = all;
    Ok(source)
}

/// Takes every row of a duplicated id out of `records` and quarantines the id (for messages:
/// the conversations they belong to), with the lines. Returns how many ids (conversations) it
/// settled: they stay in scope, so that reconciliation accounts for them.
fn settle_duplicates(
    settled: &mut Vec<Settled>,
    kind: ObjectKind,
    file: &str,
    duplicates: &BTreeMap<String, Vec<u64>>,
    records: &mut Vec<Record>,
) -> u64 {
    if kind == ObjectKind::Conversation {
        // A note is one conversation: one whose messages are in doubt is not written at all.
        let mut reasons: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for message in records.iter().filter(|message| duplicates.contains_key(&message.source_id)) {
            let reason = duplicate_reason(&message.source_id, &duplicates[&message.source_id], file);
            let reasons = reasons.entry(conversation_of(message)).or_default();
            if !reasons.contains(&reason) {
                reasons.push(reason);
            }
        }
        records.retain(|message| !reasons.contains_key(&conversation_of(message)));
        let count = reasons.len() as u64;
        for (conversation, reasons) in reasons {
            settled.push(Settled {
                object: kind,
                source_id: conversation,
                fate: Fate::Quarantined,
                detail: format!("a message's {}", reasons.join("; ")),
            });
        }
        return count;
    }
    records.retain(|record| !duplicates.contains_key(&record.source_id));
    for (id, lines) in duplicates {
        settled.push(Settled {
            object: kind,
            source_id: id.clone(),
            fate: Fate::Quarantined,
            detail: duplicate_reason(id, lines, file),
        });
    }
    duplicates.len() as u64
}

impl Source {
    /// Runs the clean plugin over every object but conversations, then the dedup plugin over
    /// contacts; settles what they drop, reject, quarantine and merge.
    pub fn run_plugins(&mut self, plugins: &[(Hook, LoadedPlugin)], batch_size: usize) {
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
            for kind in kinds {
                let Some(records) = self.records.remove(kind) else { continue };
                let input_fields = pipeline::fields_of(&records);
                let output = match hook {
                    Hook::Clean => pipeline::clean(plugin, records, batch_size, &mut ids),
                    _ => pipeline::dedup(plugin, records, batch_size, &mut ids),
                };
                for (key, records) in pipeline::new_fields(&output, &input_fields) {
                    self.new_fields.entry(key).or_insert_with(|| (plugin.name(), 0)).1 += records;
                }
                self.stage_counts.push((plugin.name(), *kind, output.counts()));
                let kept = self.settle(output, &plugin.name());
                self.records.insert(*kind, kept);
            }
        }
    }

    /// Settles a stage's fates; returns the records that go on.
    fn settle(&mut self, output: StageOutput, plugin: &str) -> Vec<Record> {
        for failure in &output.failures {
            self.plugin_failures.push(format!("{plugin}: {failure}"));
        }
        for entry in output.fates {
            let (fate, detail) = match entry.fate {
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
                StageFate::Quarantined { reason } => {
                    (Fate::Quarantined, format!("{plugin} failed on its batch: {reason}"))
                }
                StageFate::Merged { survivor } => {
                    self.survivors.insert(entry.source_id.clone(), survivor.clone());
                    (Fate::Merged, survivor)
                }
            };
            self.settled.push(Settled { object: entry.kind, source_id: entry.source_id, fate, detail });
        }
        output.records
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
