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
    /// One entry per input record, in input order ([`dedup_from`]: only for the records it did
    /// something to, see [`Dedup`]).
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
/// then holds only the distinct match keys and a number per record, and one batch's records at
/// a time.
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
    /// Keeps a batch's match keys: each record's position and kind, and its keys.
    fn add_keys(&mut self, keys: &[(usize, ObjectKind, &[String])]) -> Result<(), Self::Error>;
    /// Tells `each` of records that share a key (the same kind and the same text, byte for
    /// byte), as pairs of positions, every record sharing a key in at least one pair with
    /// another that holds it; the keys are done with after.
    fn shared_keys(&mut self, each: &mut dyn FnMut(usize, usize)) -> Result<(), Self::Error>;
}

/// What [`dedup_from`] decided.
#[derive(Debug, Default)]
pub struct Dedup {
    /// The stage's fates, failures and calls; no records (they stay where the input keeps them).
    /// Fates are listed only for records the stage did something to (quarantined, merged away,
    /// changed by a merge): the rest simply go on unchanged, and are only counted, so that what
    /// a run holds does not grow with them.
    pub output: StageOutput,
    /// The position of the record of each of `output.fates`.
    pub positions: Vec<usize>,
    /// Records kept unchanged: those without a fate in `output.fates`.
    pub unchanged: usize,
}

/// The dedup hook over `records`: the plugin names each record's match keys, the host groups
/// records sharing any key (transitively, per object kind) across the whole data set, and the
/// plugin decides each group's merge.
pub fn dedup(plugin: &impl Hooks, records: Vec<Record>, batch_size: usize, ids: &mut BatchIds) -> StageOutput {
    /// Records in memory, taken out while a pass holds them, and their keys.
    struct InMemory(Vec<Option<Record>>, KeyIndex);
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
        fn add_keys(&mut self, keys: &[(usize, ObjectKind, &[String])]) -> Result<(), Self::Error> {
            self.1.add(keys);
            Ok(())
        }
        fn shared_keys(&mut self, each: &mut dyn FnMut(usize, usize)) -> Result<(), Self::Error> {
            std::mem::take(&mut self.1).shared.into_iter().for_each(|(holder, position)| each(holder, position));
            Ok(())
        }
    }
    let mut input = InMemory(records.into_iter().map(Some).collect(), KeyIndex::default());
    let Ok(Dedup { mut output, positions, .. }) = dedup_from(plugin, &mut input, batch_size, ids);
    // Every record's fate, as a stage in memory gives them: the quarantined first (as listed),
    // then the rest in source order, those without a listed fate kept unchanged.
    let mut listed: Vec<Option<RecordFate>> = vec![None; input.0.len()];
    for (entry, position) in std::mem::take(&mut output.fates).into_iter().zip(positions) {
        match entry.fate {
            Fate::Quarantined { .. } => output.fates.push(entry),
            _ => listed[position] = Some(entry),
        }
    }
    // A quarantined record is not given back to the input: its slot is empty.
    for (record, listed) in input.0.into_iter().zip(listed) {
        let Some(record) = record else { continue };
        let entry = listed.unwrap_or_else(|| RecordFate {
            kind: record.kind,
            source_id: record.source_id.clone(),
            fate: Fate::Kept { changes: Vec::new() },
        });
        if matches!(entry.fate, Fate::Kept { .. }) {
            output.records.push(record);
        }
        output.fates.push(entry);
    }
    output
}

/// [`dedup`] over records an input reads by position: what the run holds is a number per
/// record, the groups of duplicates, and one batch's records at a time; the match keys are the
/// input's to keep (on disk, for the host's spool).
pub fn dedup_from<I: DedupInput>(
    plugin: &impl Hooks,
    input: &mut I,
    batch_size: usize,
    ids: &mut BatchIds,
) -> Result<Dedup, I::Error> {
    let batch_size = batch_size.max(1);
    let mut dedup = Dedup::default();
    let len = input.len();
    // Positions are held as u32: four bytes a record (a spool of four billion records is far
    // past what a run reads).
    let count = u32::try_from(len).expect("a data set of fewer than 2^32 records");
    // Union-find over positions: records that share a key end with one root, the earliest.
    let mut parent: Vec<u32> = (0..count).collect();

    // 1. Match keys, batch by batch. A failed batch is quarantined and takes no part in merging.
    let mut start = 0;
    while start < len {
        let positions: Vec<usize> = (start..(start + batch_size).min(len)).collect();
        start += positions.len();
        let batch = input.read(&positions)?;
        let id = ids.next();
        let refs: Vec<&Record> = batch.iter().collect();
        match plugin.match_keys(id, &refs) {
            Ok(mut call) => {
                dedup.output.record_call(id, &mut call);
                let keys: Vec<(usize, ObjectKind, &[String])> = positions
                    .iter()
                    .zip(&batch)
                    .zip(&call.output)
                    .map(|((&position, record), keys)| (position, record.kind, keys.as_slice()))
                    .collect();
                input.add_keys(&keys)?;
                for (position, record) in positions.into_iter().zip(batch) {
                    input.keep(position, record, false);
                }
            }
            Err(error) => {
                dedup.positions.extend(positions);
                dedup.output.quarantine_batch(batch, error);
            }
        }
    }
    input.shared_keys(&mut |holder, position| union(&mut parent, holder as u32, position as u32))?;

    // 2. Groups: their sizes counted first, so that only groups of two or more records are
    // collected (a quarantined record shares no key, so it is alone).
    let mut sizes: HashMap<u32, usize> = HashMap::new();
    for position in 0..count {
        let root = find(&mut parent, position);
        if root != position {
            *sizes.entry(root).or_insert(1) += 1;
        }
    }
    let mut members: HashMap<u32, Vec<usize>> =
        sizes.into_iter().map(|(root, size)| (root, Vec::with_capacity(size))).collect();
    for position in 0..count {
        if let Some(group) = members.get_mut(&find(&mut parent, position)) {
            group.push(position as usize);
        }
    }
    drop(parent);
    let mut groups: Vec<Vec<usize>> = members.into_values().collect();
    groups.sort_by_key(|members| members[0]);
    let (groups, oversized): (Vec<_>, Vec<_>) =
        groups.into_iter().partition(|members| members.len() <= MAX_MERGE_GROUP);
    for members in oversized {
        let mut names = Vec::with_capacity(members.len());
        for chunk in members.chunks(batch_size) {
            for (&position, record) in chunk.iter().zip(input.read(chunk)?) {
                names.push(record.source_id.clone());
                input.keep(position, record, false);
            }
        }
        dedup.output.unmerged_groups.push(names);
    }

    // 3. Merge, packing whole groups into batches.
    let mut merged_into: HashMap<usize, usize> = HashMap::new();
    let mut merge_changes: HashMap<usize, Vec<Change>> = HashMap::new();
    // The kind and id of each record of a merged batch: fates name them.
    let mut names: HashMap<usize, (ObjectKind, String)> = HashMap::new();
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
                for ((&position, record), changed) in members.iter().zip(records).zip(changed) {
                    names.insert(position, (record.kind, record.source_id.clone()));
                    input.keep(position, record, changed);
                }
            }
            Err(error) => {
                dedup.positions.extend(&members);
                dedup.output.quarantine_batch(records, error);
            }
        }
    }

    // 4. Fates in source order of the records merged away or changed; the rest go on unchanged.
    let decided: BTreeSet<usize> = merged_into.keys().chain(merge_changes.keys()).copied().collect();
    for position in decided {
        let fate = match merged_into.get(&position) {
            Some(survivor) => Fate::Merged { survivor: names[survivor].1.clone() },
            None => match merge_changes.remove(&position) {
                Some(changes) if !changes.is_empty() => Fate::Kept { changes },
                _ => continue,
            },
        };
        let (kind, source_id) = names[&position].clone();
        dedup.output.fates.push(RecordFate { kind, source_id, fate });
        dedup.positions.push(position);
    }
    dedup.unchanged = len - dedup.output.fates.len();
    Ok(dedup)
}

/// The match keys of a dedup stage in memory (for [`dedup`] over records in memory), each
/// distinct key with the first record that gave it. A key is its object kind's code and its
/// text, compared whole, byte for byte (the hash only says where to look); their bytes lie one
/// after another in one buffer, so that a million keys are not a million allocations.
#[derive(Default)]
struct KeyIndex {
    /// Each key: its kind's code, then its text.
    bytes: Vec<u8>,
    /// Where each key ends in `bytes` (the next one starts there).
    ends: Vec<usize>,
    /// The position of the first record that gave each key.
    holders: Vec<usize>,
    /// Key numbers, by the hash of the key.
    table: hashbrown::HashTable<u32>,
    hasher: std::hash::RandomState,
    /// Records that gave a key an earlier record gave: (that record, this one).
    shared: Vec<(usize, usize)>,
}

impl KeyIndex {
    fn add(&mut self, keys: &[(usize, ObjectKind, &[String])]) {
        for &(position, kind, keys) in keys {
            for key in keys {
                if let Some(holder) = self.holder(kind, key, position) {
                    self.shared.push((holder, position));
                }
            }
        }
    }

    /// The first record that gave `key` under `kind`; `None` when `position` is the first (it
    /// is then recorded as the key's holder).
    fn holder(&mut self, kind: ObjectKind, key: &str, position: usize) -> Option<usize> {
        let code = ObjectKind::ALL.iter().position(|known| *known == kind).expect("every kind is in ALL") as u8;
        let KeyIndex { bytes, ends, holders, table, hasher, .. } = self;
        let stored = |number: u32| {
            let number = number as usize;
            &bytes[if number == 0 { 0 } else { ends[number - 1] }..ends[number]]
        };
        let hash = hash_key(hasher, code, key.as_bytes());
        let entry = table.entry(
            hash,
            |&number| {
                let stored = stored(number);
                stored[0] == code && &stored[1..] == key.as_bytes()
            },
            |&number| {
                let stored = stored(number);
                hash_key(hasher, stored[0], &stored[1..])
            },
        );
        match entry {
            hashbrown::hash_table::Entry::Occupied(found) => Some(holders[*found.get() as usize]),
            hashbrown::hash_table::Entry::Vacant(slot) => {
                slot.insert(holders.len() as u32);
                bytes.push(code);
                bytes.extend_from_slice(key.as_bytes());
                ends.push(bytes.len());
                holders.push(position);
                None
            }
        }
    }
}

fn hash_key(hasher: &std::hash::RandomState, code: u8, key: &[u8]) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = hasher.build_hasher();
    hasher.write_u8(code);
    hasher.write(key);
    hasher.finish()
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

fn find(parent: &mut [u32], mut index: u32) -> u32 {
    while parent[index as usize] != index {
        parent[index as usize] = parent[parent[index as usize] as usize];
        index = parent[index as usize];
    }
    index
}

fn union(parent: &mut [u32], a: u32, b: u32) {
    let (root_a, root_b) = (find(parent, a), find(parent, b));
    if root_a != root_b {
        // The earlier record becomes the root, so group order follows the source.
        let (low, high) = if root_a < root_b { (root_a, root_b) } else { (root_b, root_a) };
        parent[high as usize] = low;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::{Hook, HookFailure};

    /// A native plugin scripted by its records: a record's match keys are its `keys` field; a
    /// batch holding a record whose `fail` field is `keys` (or `merge`) fails that hook; a group
    /// merges into its first member, which is told what it absorbed unless it is `quiet`.
    struct Scripted;

    fn failure(records: &[&Record], hook: &str, batch: u64) -> Result<(), HookError> {
        let fails = records.iter().any(|record| record.get("fail") == Some(&Value::Text(hook.into())));
        match fails {
            true => Err(HookError {
                plugin: "scripted 0.1.0".into(),
                hook: Hook::Dedup,
                batch,
                failure: HookFailure::PluginError { message: format!("{hook} failed") },
                fuel_used: 7,
            }),
            false => Ok(()),
        }
    }

    fn call<T>(output: T) -> Call<T> {
        Call { output, logs: Vec::new(), fuel_used: Some(1) }
    }

    impl Hooks for Scripted {
        fn clean(&self, _: u64, _: &[&Record]) -> Result<Call<Vec<CleanOutcome>>, HookError> {
            unreachable!("dedup only")
        }
        fn match_keys(&self, batch: u64, records: &[&Record]) -> Result<Call<Vec<Vec<String>>>, HookError> {
            failure(records, "keys", batch)?;
            Ok(call(
                records
                    .iter()
                    .map(|record| match record.get("keys") {
                        Some(Value::Choices(keys)) => keys.clone(),
                        _ => Vec::new(),
                    })
                    .collect(),
            ))
        }
        fn merge(
            &self,
            batch: u64,
            records: &[&Record],
            groups: &[Vec<u32>],
        ) -> Result<Call<Vec<MergeDecision>>, HookError> {
            failure(records, "merge", batch)?;
            Ok(call(
                groups
                    .iter()
                    .map(|group| {
                        let survivor = group[0] as usize;
                        let absorbed: Vec<usize> = group[1..].iter().map(|&member| member as usize).collect();
                        let names = absorbed.iter().map(|&member| records[member].source_id.clone()).collect();
                        let changes = match records[survivor].get("quiet") {
                            Some(_) => Vec::new(),
                            None => vec![FieldChange { field: "absorbed".into(), value: Value::Choices(names) }],
                        };
                        MergeDecision { survivor, absorbed, changes }
                    })
                    .collect(),
            ))
        }
    }

    fn record(kind: ObjectKind, id: &str, keys: &[&str]) -> Record {
        let keys = keys.iter().map(|key| key.to_string()).collect();
        Record::new(kind, id).with("keys", Value::Choices(keys))
    }

    fn contact(id: &str, keys: &[&str]) -> Record {
        record(ObjectKind::Contact, id, keys)
    }

    /// Each fate as one line: kind, id and what became of it.
    fn lines(output: &StageOutput) -> Vec<String> {
        output
            .fates
            .iter()
            .map(|entry| {
                let fate = match &entry.fate {
                    Fate::Kept { changes } if changes.is_empty() => "kept".to_owned(),
                    Fate::Kept { changes } => format!("changed {}", changes[0].after),
                    Fate::Merged { survivor } => format!("merged into {survivor}"),
                    Fate::Quarantined { reason } => format!("quarantined: {reason}"),
                    other => format!("{other:?}"),
                };
                format!("{:?} {} {fate}", entry.kind, entry.source_id)
            })
            .collect()
    }

    /// Grouping's edges: one key text under two kinds, the empty key, keys that differ only
    /// after a NUL byte or in non-ASCII letters, two keys that concatenate to a third, a chain of
    /// keys, a group just at and one just over MAX_MERGE_GROUP, a batch whose keys failed (its
    /// records take no part in grouping) and a merge batch that failed.
    #[test]
    fn dedup_groups_exactly_by_kind_and_whole_key() {
        let mut records = vec![
            contact("c1", &["a@x"]),
            record(ObjectKind::Company, "o1", &["a@x"]),
            contact("c2", &["a@x"]),
            contact("e1", &[""]).with("quiet", Value::Text("yes".into())),
            contact("none", &[]),
            contact("e2", &[""]),
            contact("n1", &["żółw\0x"]),
            contact("n2", &["żółw\0y"]),
            contact("n3", &["żółw\0x", "ZÓŁW"]),
            contact("ab", &["ab"]),
            contact("a-b", &["a", "b"]),
            contact("t1", &["k1"]),
            contact("t2", &["k2"]),
            contact("t3", &["k1", "k2"]),
            contact("n4", &["ZÓŁW"]),
            contact("none2", &[]),
            // A batch (size 4 below, positions 16-19 with the two above) whose keys fail.
            contact("f1", &["q"]),
            contact("f2", &["q"]),
            contact("f3", &["a@x"]).with("fail", Value::Text("keys".into())),
            contact("f4", &["ab"]),
            contact("q1", &["q"]),
            contact("q2", &["q"]),
            contact("m1", &["m"]).with("fail", Value::Text("merge".into())),
            contact("m2", &["m"]),
        ];
        records.extend((0..MAX_MERGE_GROUP).map(|i| contact(&format!("at{i}"), &["at most"])));
        records.extend((0..=MAX_MERGE_GROUP).map(|i| contact(&format!("over{i}"), &["placeholder"])));
        let output = dedup(&Scripted, records, 4, &mut BatchIds::default());

        let keys_failed = "quarantined: plugin scripted 0.1.0, hook dedup, batch 5: reported an error: keys failed";
        let merge_failed = "quarantined: plugin scripted 0.1.0, hook dedup, batch 36: reported an error: merge failed";
        let mut expected: Vec<String> = ["f1", "f2", "f3", "f4"]
            .iter()
            .map(|id| format!("Contact {id} {keys_failed}"))
            .chain(["q1", "q2", "m1", "m2"].iter().map(|id| format!("Contact {id} {merge_failed}")))
            .collect();
        expected.extend(
            [
                "Contact c1 changed [\"c2\"]",
                "Company o1 kept",
                "Contact c2 merged into c1",
                "Contact e1 kept",
                "Contact none kept",
                "Contact e2 merged into e1",
                "Contact n1 changed [\"n3\", \"n4\"]",
                "Contact n2 kept",
                "Contact n3 merged into n1",
                "Contact ab kept",
                "Contact a-b kept",
                "Contact t1 changed [\"t2\", \"t3\"]",
                "Contact t2 merged into t1",
                "Contact t3 merged into t1",
                "Contact n4 merged into n1",
                "Contact none2 kept",
            ]
            .map(str::to_owned),
        );
        let absorbed: Vec<String> = (1..MAX_MERGE_GROUP).map(|i| format!("at{i}")).collect();
        expected.push(format!("Contact at0 changed {absorbed:?}"));
        expected.extend(absorbed.iter().map(|id| format!("Contact {id} merged into at0")));
        let over: Vec<String> = (0..=MAX_MERGE_GROUP).map(|i| format!("over{i}")).collect();
        expected.extend(over.iter().map(|id| format!("Contact {id} kept")));
        assert_eq!(lines(&output), expected);

        let kept: Vec<&str> = output.records.iter().map(|record| record.source_id.as_str()).collect();
        let kept_expected = ["c1", "o1", "e1", "none", "n1", "n2", "ab", "a-b", "t1", "none2", "at0"];
        assert_eq!(kept[..kept_expected.len()], kept_expected);
        assert_eq!(kept[kept_expected.len()..], over);
        assert_eq!(output.records[0].get("absorbed"), Some(&Value::Choices(vec!["c2".into()])));
        assert_eq!(output.unmerged_groups, vec![over.clone()]);
        assert_eq!(output.failures.iter().map(|failure| failure.batch).collect::<Vec<_>>(), [5, 36]);
        // 32 key batches and 5 merge batches (groups packed whole), one of each failed (7 fuel each).
        assert_eq!((output.batches, output.fuel_used), (37, 35 + 7 + 7));
        let counts = output.counts();
        assert_eq!((counts.kept, counts.changed, counts.merged, counts.quarantined), (11 + 51, 4, 55, 8));
    }

    /// An input in memory that counts the records a stage holds out of it at once.
    struct Counted {
        records: Vec<Option<Record>>,
        out: usize,
        most_out: usize,
        keys: KeyIndex,
    }

    impl DedupInput for Counted {
        type Error = std::convert::Infallible;
        fn len(&self) -> usize {
            self.records.len()
        }
        fn read(&mut self, positions: &[usize]) -> Result<Vec<Record>, Self::Error> {
            self.out += positions.len();
            self.most_out = self.most_out.max(self.out);
            Ok(positions.iter().map(|&position| self.records[position].take().expect("read once a pass")).collect())
        }
        fn keep(&mut self, position: usize, record: Record, _changed: bool) {
            self.out -= 1;
            self.records[position] = Some(record);
        }
        fn add_keys(&mut self, keys: &[(usize, ObjectKind, &[String])]) -> Result<(), Self::Error> {
            self.keys.add(keys);
            Ok(())
        }
        fn shared_keys(&mut self, each: &mut dyn FnMut(usize, usize)) -> Result<(), Self::Error> {
            self.keys.shared.drain(..).for_each(|(holder, position)| each(holder, position));
            Ok(())
        }
    }

    /// What a run holds does not grow with the records that simply go on: they get no fate of
    /// their own (the caller counts them), and no more than a batch of records is out at once,
    /// a large group's too.
    #[test]
    fn dedup_from_lists_only_the_records_it_settles_or_changes() {
        let mut records: Vec<Record> = (0..1000).map(|i| contact(&format!("u{i}"), &[&format!("u{i}@x")])).collect();
        records.extend((0..60).map(|i| contact(&format!("p{i}"), &["placeholder"])));
        records.push(contact("dup", &["u7@x"]));
        let mut input = Counted {
            records: records.into_iter().map(Some).collect(),
            out: 0,
            most_out: 0,
            keys: KeyIndex::default(),
        };
        let found = dedup_from(&Scripted, &mut input, 10, &mut BatchIds::default()).unwrap();
        assert_eq!(found.output.fates.len(), 2, "fates listed");
        assert_eq!(found.unchanged, 1059);
        assert_eq!(lines(&found.output), ["Contact u7 changed [\"dup\"]", "Contact dup merged into u7"]);
        assert_eq!(found.positions, [7, 1060]);
        assert_eq!(found.output.unmerged_groups[0].len(), 60);
        assert!(input.most_out <= 10, "{} records out at once", input.most_out);
    }
}
