//! Runs a customer's plugins over a whole data set, batch by batch, and accounts for every
//! record: it ends kept (possibly changed), dropped by a rule, rejected or quarantined (with the
//! reason), or merged into a named survivor. A batch whose plugin call fails goes to quarantine
//! whole, with the failure as the reason, and the run goes on with the next batch.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use crate::plugins::{
    Call, CleanOutcome, FieldChange, FieldIssue, HookError, LoadedPlugin, MAX_REASON_BYTES, MergeDecision, PluginLog,
    shorten_to,
};
use crm_migrate_core::record::{ObjectKind, Record, Value};

/// The hook calls a stage makes. [`LoadedPlugin`] answers them from a sandboxed component; the
/// benchmark's native baseline answers them with the same plugin logic compiled into the host.
pub trait Hooks {
    fn clean(&self, batch: u64, records: &[&Record]) -> Result<Call<Vec<CleanOutcome>>, HookError>;
    fn match_keys(&self, batch: u64, records: &[&Record]) -> Result<Call<Vec<Vec<String>>>, HookError>;
    fn merge(
        &self,
        batch: u64,
        records: &[&Record],
        groups: &[Vec<u32>],
    ) -> Result<Call<Vec<MergeDecision>>, HookError>;
}

impl Hooks for LoadedPlugin {
    fn clean(&self, batch: u64, records: &[&Record]) -> Result<Call<Vec<CleanOutcome>>, HookError> {
        LoadedPlugin::clean(self, batch, records)
    }
    fn match_keys(&self, batch: u64, records: &[&Record]) -> Result<Call<Vec<Vec<String>>>, HookError> {
        LoadedPlugin::match_keys(self, batch, records)
    }
    fn merge(
        &self,
        batch: u64,
        records: &[&Record],
        groups: &[Vec<u32>],
    ) -> Result<Call<Vec<MergeDecision>>, HookError> {
        LoadedPlugin::merge(self, batch, records, groups)
    }
}

/// A field a plugin changed: what it was and what it became.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub field: String,
    pub before: Value,
    pub after: Value,
}

/// What became of one source record in a stage.
#[derive(Debug, Clone, PartialEq)]
pub enum Fate {
    /// Goes on to the next stage, with these changes (none: untouched).
    Kept { changes: Vec<Change> },
    /// Excluded by a rule of the plugin.
    Dropped { reason: String },
    /// The plugin found fields that cannot be migrated; to quarantine.
    Rejected { issues: Vec<FieldIssue> },
    /// The plugin failed on the record's batch; to quarantine.
    Quarantined { reason: BatchReason },
    /// Merged into the record with this source id.
    Merged { survivor: String },
}

/// Why a batch was quarantined: one string shared by all of the batch's records (a 1,000-record
/// batch holds its reason once, not 1,000 times), cut to a length fit for the reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchReason(Arc<str>);

impl BatchReason {
    fn new(reason: String) -> BatchReason {
        BatchReason(Arc::from(shorten_to(reason, 4 * MAX_REASON_BYTES)))
    }
}

impl Deref for BatchReason {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BatchReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<String> for BatchReason {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<&str> for BatchReason {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

impl serde::Serialize for BatchReason {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// One record's fate, named by its kind and source id.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordFate {
    pub kind: ObjectKind,
    pub source_id: String,
    pub fate: Fate,
}

/// The result of a stage over a data set.
#[derive(Debug, Default)]
pub struct StageOutput {
    /// The records that go on, in source order.
    pub records: Vec<Record>,
    /// One entry per input record, in input order.
    pub fates: Vec<RecordFate>,
    /// Each failed batch, with why.
    pub failures: Vec<HookError>,
    /// What the plugin logged, by batch.
    pub logs: Vec<(u64, PluginLog)>,
    /// Fuel the plugin used over the stage, failed calls included.
    pub fuel_used: u64,
    /// Plugin calls made.
    pub batches: u64,
    /// Groups of duplicates too large to merge automatically (more than [`MAX_MERGE_GROUP`]
    /// records), by their members' source ids: their records are kept unmerged, for a person
    /// to look at (a match key shared by that many records is usually a placeholder value).
    pub unmerged_groups: Vec<Vec<String>>,
}

/// The largest group of duplicates `dedup` merges on its own.
pub const MAX_MERGE_GROUP: usize = 50;

/// How many records ended each way; they add up to the stage's input.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct FateCounts {
    pub kept: usize,
    pub changed: usize,
    pub dropped: usize,
    pub rejected: usize,
    pub quarantined: usize,
    pub merged: usize,
}

impl FateCounts {
    /// Every record counted once (`changed` is a subset of `kept`).
    pub fn total(&self) -> usize {
        self.kept + self.dropped + self.rejected + self.quarantined + self.merged
    }
}

impl StageOutput {
    pub fn counts(&self) -> FateCounts {
        let mut counts = FateCounts::default();
        for entry in &self.fates {
            match &entry.fate {
                Fate::Kept { changes } => {
                    counts.kept += 1;
                    counts.changed += usize::from(!changes.is_empty());
                }
                Fate::Dropped { .. } => counts.dropped += 1,
                Fate::Rejected { .. } => counts.rejected += 1,
                Fate::Quarantined { .. } => counts.quarantined += 1,
                Fate::Merged { .. } => counts.merged += 1,
            }
        }
        counts
    }

    fn record_call<T>(&mut self, batch: u64, call: &mut Call<T>) {
        self.batches += 1;
        self.fuel_used += call.fuel_used.unwrap_or(0);
        self.logs.extend(call.logs.drain(..).map(|log| (batch, log)));
    }

    /// Records a record's fate; a kept record goes on to the next stage.
    fn settle(&mut self, record: Record, fate: Fate) {
        let kept = matches!(fate, Fate::Kept { .. });
        self.fates.push(RecordFate { kind: record.kind, source_id: record.source_id.clone(), fate });
        if kept {
            self.records.push(record);
        }
    }

    fn quarantine_batch(&mut self, records: impl IntoIterator<Item = Record>, error: HookError) {
        self.batches += 1;
        self.fuel_used += error.fuel_used;
        // The plugin's own text in the reason is already cut to MAX_REASON_BYTES; BatchReason
        // cuts the whole as a safety net, and its records share it.
        let reason = BatchReason::new(error.to_string());
        self.fates.extend(records.into_iter().map(|record| RecordFate {
            kind: record.kind,
            source_id: record.source_id,
            fate: Fate::Quarantined { reason: reason.clone() },
        }));
        self.failures.push(error);
    }
}

/// Numbers batches across the stages of a run, so that errors and logs name one batch.
#[derive(Debug, Default)]
pub struct BatchIds(u64);

impl BatchIds {
    fn next(&mut self) -> u64 {
        self.0 += 1;
        self.0
    }
}

/// The clean hook over `records`, `batch_size` records per call.
pub fn clean(plugin: &impl Hooks, records: Vec<Record>, batch_size: usize, ids: &mut BatchIds) -> StageOutput {
    let mut output = StageOutput::default();
    let mut records = records.into_iter().peekable();
    while records.peek().is_some() {
        let batch: Vec<Record> = records.by_ref().take(batch_size.max(1)).collect();
        let id = ids.next();
        let refs: Vec<&Record> = batch.iter().collect();
        let mut call = match plugin.clean(id, &refs) {
            Ok(call) => call,
            Err(error) => {
                output.quarantine_batch(batch, error);
                continue;
            }
        };
        output.record_call(id, &mut call);
        for (mut record, outcome) in batch.into_iter().zip(call.output) {
            let fate = match outcome {
                CleanOutcome::Keep(changes) => Fate::Kept { changes: apply(&mut record, changes) },
                CleanOutcome::Drop(reason) => Fate::Dropped { reason },
                CleanOutcome::Reject(issues) => Fate::Rejected { issues },
            };
            output.settle(record, fate);
        }
    }
    output
}

/// Where [`dedup_from`] reads the records it groups and merges, by their position in the data
/// set (0 to `len - 1`, in source order): a vector in memory, or records on disk, whose run
/// then holds only the match keys and ids of every record, and one batch's records at a time.
pub trait DedupInput {
    type Error;
    /// How many records the data set has.
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The records at `positions`, in that order (each position is read at most once per pass).
    fn read(&mut self, positions: &[usize]) -> Result<Vec<Record>, Self::Error>;
    /// A record the stage is done with in this pass, back (`changed`: a merge changed it).
    fn keep(&mut self, position: usize, record: Record, changed: bool);
}

/// What [`dedup_from`] decided.
#[derive(Debug, Default)]
pub struct Dedup {
    /// The stage's fates, failures and calls; no records (they stay where the input keeps them).
    pub output: StageOutput,
    /// The position of the record of each of `output.fates`.
    pub positions: Vec<usize>,
}

/// The dedup hook over `records`: the plugin names each record's match keys, the host groups
/// records sharing any key (transitively, per object kind) across the whole data set, and the
/// plugin decides each group's merge.
pub fn dedup(plugin: &impl Hooks, records: Vec<Record>, batch_size: usize, ids: &mut BatchIds) -> StageOutput {
    /// Records in memory, taken out while a pass holds them.
    struct InMemory(Vec<Option<Record>>);
    impl DedupInput for InMemory {
        type Error = std::convert::Infallible;
        fn len(&self) -> usize {
            self.0.len()
        }
        fn read(&mut self, positions: &[usize]) -> Result<Vec<Record>, Self::Error> {
            Ok(positions
                .iter()
                .map(|&position| self.0[position].take().expect("each record read once a pass"))
                .collect())
        }
        fn keep(&mut self, position: usize, record: Record, _changed: bool) {
            self.0[position] = Some(record);
        }
    }
    let mut input = InMemory(records.into_iter().map(Some).collect());
    let Ok(Dedup { mut output, positions }) = dedup_from(plugin, &mut input, batch_size, ids);
    output.records = output
        .fates
        .iter()
        .zip(positions)
        .filter(|(entry, _)| matches!(entry.fate, Fate::Kept { .. }))
        .map(|(_, position)| input.0[position].take().expect("a kept record stays in place"))
        .collect();
    output
}

/// [`dedup`] over records an input reads by position: what the run holds is the match keys and
/// source ids of every record (small), and one batch's records at a time.
pub fn dedup_from<I: DedupInput>(
    plugin: &impl Hooks,
    input: &mut I,
    batch_size: usize,
    ids: &mut BatchIds,
) -> Result<Dedup, I::Error> {
    let batch_size = batch_size.max(1);
    let mut dedup = Dedup::default();
    let len = input.len();
    // Each record's kind and id while it takes part (`None`: quarantined with its batch).
    let mut named: Vec<Option<(ObjectKind, String)>> = Vec::with_capacity(len);
    // Positions of the records that take part, in source order, and their keys.
    let mut taking_part: Vec<usize> = Vec::with_capacity(len);
    let mut keys: Vec<Vec<String>> = Vec::with_capacity(len);

    // 1. Match keys, batch by batch. A failed batch is quarantined and takes no part in merging.
    let mut start = 0;
    while start < len {
        let positions: Vec<usize> = (start..(start + batch_size).min(len)).collect();
        start += positions.len();
        let batch = input.read(&positions)?;
        named.extend(batch.iter().map(|record| Some((record.kind, record.source_id.clone()))));
        let id = ids.next();
        let refs: Vec<&Record> = batch.iter().collect();
        match plugin.match_keys(id, &refs) {
            Ok(mut call) => {
                dedup.output.record_call(id, &mut call);
                keys.extend(call.output);
                taking_part.extend(&positions);
                for (position, record) in positions.into_iter().zip(batch) {
                    input.keep(position, record, false);
                }
            }
            Err(error) => {
                for &position in &positions {
                    named[position] = None;
                }
                dedup.positions.extend(positions);
                dedup.output.quarantine_batch(batch, error);
            }
        }
    }

    // 2. Group: union-find over records that share a key (indexes into `taking_part`).
    let mut parent: Vec<usize> = (0..taking_part.len()).collect();
    let mut first_holder: HashMap<(ObjectKind, &str), usize> = HashMap::new();
    for (index, record_keys) in keys.iter().enumerate() {
        let kind = named[taking_part[index]].as_ref().map(|(kind, _)| *kind).expect("taking part");
        for key in record_keys {
            match first_holder.get(&(kind, key.as_str())) {
                Some(&holder) => union(&mut parent, holder, index),
                None => {
                    first_holder.insert((kind, key.as_str()), index);
                }
            }
        }
    }
    drop(first_holder);
    let mut groups: HashMap<usize, Vec<usize>> = HashMap::new();
    for (index, &position) in taking_part.iter().enumerate() {
        let root = find(&mut parent, index);
        groups.entry(root).or_default().push(position);
    }
    drop(keys);
    let mut groups: Vec<Vec<usize>> = groups.into_values().filter(|members| members.len() > 1).collect();
    groups.sort_by_key(|members| members[0]);
    let (groups, oversized): (Vec<_>, Vec<_>) =
        groups.into_iter().partition(|members| members.len() <= MAX_MERGE_GROUP);
    let id_of = |named: &[Option<(ObjectKind, String)>], position: usize| {
        named[position].as_ref().map(|(_, id)| id.clone()).expect("taking part")
    };
    dedup.output.unmerged_groups =
        oversized.iter().map(|members| members.iter().map(|&position| id_of(&named, position)).collect()).collect();

    // 3. Merge, packing whole groups into batches.
    let mut merged_into: HashMap<usize, usize> = HashMap::new();
    let mut merge_changes: HashMap<usize, Vec<Change>> = HashMap::new();
    let mut pending = groups.into_iter().peekable();
    while pending.peek().is_some() {
        let mut batch_groups = Vec::new();
        let mut size = 0;
        while let Some(group) = pending.next_if(|group| size == 0 || size + group.len() <= batch_size) {
            size += group.len();
            batch_groups.push(group);
        }
        let members: Vec<usize> = batch_groups.iter().flatten().copied().collect();
        let mut records = input.read(&members)?;
        // Each group as positions in this batch: members are laid out group after group.
        let mut next_position = 0u32;
        let local_groups: Vec<Vec<u32>> = batch_groups
            .iter()
            .map(|group| {
                let start = next_position;
                next_position += group.len() as u32;
                (start..next_position).collect()
            })
            .collect();
        let id = ids.next();
        let refs: Vec<&Record> = records.iter().collect();
        match plugin.merge(id, &refs, &local_groups) {
            Ok(mut call) => {
                dedup.output.record_call(id, &mut call);
                let mut changed = vec![false; members.len()];
                for decision in call.output {
                    let survivor = members[decision.survivor];
                    for absorbed in decision.absorbed {
                        merged_into.insert(members[absorbed], survivor);
                    }
                    let changes = apply(&mut records[decision.survivor], decision.changes);
                    changed[decision.survivor] |= !changes.is_empty();
                    merge_changes.entry(survivor).or_default().extend(changes);
                }
                for ((position, record), changed) in members.iter().zip(records).zip(changed) {
                    input.keep(*position, record, changed);
                }
            }
            Err(error) => {
                for &position in &members {
                    named[position] = None;
                }
                dedup.positions.extend(&members);
                dedup.output.quarantine_batch(records, error);
            }
        }
    }

    // 4. Fates in source order; survivors and unmerged records go on.
    let survivor_ids: HashMap<usize, String> =
        merged_into.values().map(|&survivor| (survivor, id_of(&named, survivor))).collect();
    for (position, name) in named.into_iter().enumerate() {
        let Some((kind, source_id)) = name else { continue };
        let fate = match merged_into.get(&position) {
            Some(survivor) => Fate::Merged { survivor: survivor_ids[survivor].clone() },
            None => Fate::Kept { changes: merge_changes.remove(&position).unwrap_or_default() },
        };
        dedup.output.fates.push(RecordFate { kind, source_id, fate });
        dedup.positions.push(position);
    }
    Ok(dedup)
}

/// Changes to a record up to this many are applied by scanning its fields; more go through an
/// index, so that applying is linear in the changes (80,000 changes to one record, each scan
/// as long as the fields added so far, took 32 s of host CPU).
const SCANNED_CHANGES: usize = 16;

/// Applies a plugin's changes to a record, returning what changed (before and after).
fn apply(record: &mut Record, changes: Vec<FieldChange>) -> Vec<Change> {
    let mut index: Option<HashMap<String, usize>> = (changes.len() > SCANNED_CHANGES).then(|| {
        let mut index = HashMap::with_capacity(record.fields.len() + changes.len());
        for (position, (name, _)) in record.fields.iter().enumerate() {
            index.entry(name.clone()).or_insert(position);
        }
        index
    });
    changes
        .into_iter()
        .filter_map(|FieldChange { field, value }| {
            let position = match &index {
                Some(index) => index.get(&field).copied(),
                None => record.fields.iter().position(|(name, _)| *name == field),
            };
            let slot = match position {
                Some(position) if record.fields[position].1 == value => return None,
                Some(position) => &mut record.fields[position].1,
                None if value == Value::Null => return None,
                None => {
                    if let Some(index) = &mut index {
                        index.insert(field.clone(), record.fields.len());
                    }
                    record.fields.push((field.clone(), Value::Null));
                    &mut record.fields.last_mut().expect("just pushed").1
                }
            };
            let before = std::mem::replace(slot, value.clone());
            Some(Change { field, before, after: value })
        })
        .collect()
}

fn find(parent: &mut [usize], mut index: usize) -> usize {
    while parent[index] != index {
        parent[index] = parent[parent[index]];
        index = parent[index];
    }
    index
}

fn union(parent: &mut [usize], a: usize, b: usize) {
    let (root_a, root_b) = (find(parent, a), find(parent, b));
    if root_a != root_b {
        // The earlier record becomes the root, so group order follows the source.
        let (low, high) = if root_a < root_b { (root_a, root_b) } else { (root_b, root_a) };
        parent[high] = low;
    }
}

/// The fields `records` hold, per object kind: what a stage's changes are compared against.
pub fn fields_of(records: &[Record]) -> BTreeSet<(ObjectKind, String)> {
    records.iter().flat_map(|record| record.fields.iter().map(|(name, _)| (record.kind, name.clone()))).collect()
}

/// Fields a stage set that no record of its input had (`input` from [`fields_of`]), with the
/// number of records each was set on: a plugin adds a field only in plain sight.
pub fn new_fields(output: &StageOutput, input: &BTreeSet<(ObjectKind, String)>) -> BTreeMap<(ObjectKind, String), u64> {
    let mut new = BTreeMap::new();
    for entry in &output.fates {
        let Fate::Kept { changes } = &entry.fate else { continue };
        for change in changes {
            let key = (entry.kind, change.field.clone());
            if !input.contains(&key) {
                *new.entry(key).or_insert(0) += 1;
            }
        }
    }
    new
}
