//! Contract 0.1.0 (`plugin-sdk/wit/v0.1/plugin.wit`, the one copy, shipped inside the SDK crate):
//! its generated bindings, and the translation between them and the host's types. When a new contract version ships, it gets a module like this
//! one, and this one stays so that plugins built against 0.1.0 keep running.

use std::collections::HashMap;

use wasmtime::component::{Component, Linker};
use wasmtime::{Store, StoreContextMut};

use super::sandbox::{self, StoreState};
use super::types::{
    CleanOutcome, ConfigOption, FieldChange, FieldIssue, Hook, LabelColor, MergeDecision, PluginInfo, Segment, Tag,
    TagDecision, TagFate,
};
use crm_migrate_core::record::{Date, DateTime, ObjectKind, Record, Value};

wasmtime::component::bindgen!({
    path: "../plugin-sdk/wit/v0.1",
    world: "plugin",
});

use self::crm_migrate::plugin::host::LogLevel;
use self::crm_migrate::plugin::types as wire;

/// Grants contract 0.1.0's imports (`host.log`) to plugins instantiated through `linker`.
/// `host.log` is linked by hand rather than through the generated `Host` trait, because it
/// needs the store to charge its bytes to the call's fuel ([`sandbox::host_log`]).
pub fn add_to_linker(linker: &mut Linker<StoreState>) -> wasmtime::Result<()> {
    linker.instance("crm-migrate:plugin/types@0.1.0")?;
    linker.instance("crm-migrate:plugin/host@0.1.0")?.func_wrap(
        "log",
        |mut store: StoreContextMut<'_, StoreState>, (level, message): (LogLevel, String)| {
            let level = match level {
                LogLevel::Debug => "debug",
                LogLevel::Info => "info",
                LogLevel::Warn => "warn",
                LogLevel::Error => "error",
            };
            sandbox::host_log(&mut store, level, message)
        },
    )
}

/// A component checked against the 0.1.0 world, ready to instantiate cheaply.
pub struct Pre(PluginPre<StoreState>);

impl Pre {
    pub fn new(linker: &Linker<StoreState>, component: &Component) -> wasmtime::Result<Pre> {
        Ok(Pre(PluginPre::new(linker.instantiate_pre(component)?)?))
    }

    pub fn instantiate(&self, store: &mut Store<StoreState>) -> wasmtime::Result<Instance> {
        Ok(Instance(self.0.instantiate(store)?))
    }
}

/// One live instance; it serves one call.
pub struct Instance(Plugin);

impl Instance {
    pub fn describe(&self, store: &mut Store<StoreState>) -> wasmtime::Result<PluginInfo> {
        let info = self.0.crm_migrate_plugin_hooks().call_describe(store)?;
        Ok(PluginInfo {
            name: info.name,
            version: info.version,
            description: info.description,
            hooks: info
                .hooks
                .into_iter()
                .map(|hook| match hook {
                    wire::Hook::Clean => Hook::Clean,
                    wire::Hook::Dedup => Hook::Dedup,
                    wire::Hook::Label => Hook::Label,
                })
                .collect(),
            options: info
                .options
                .into_iter()
                .map(|option| ConfigOption {
                    key: option.key,
                    description: option.description,
                    default: option.default_value,
                })
                .collect(),
        })
    }

    /// `Ok(Err((key, message)))` when the plugin refuses its configuration.
    pub fn configure(
        &self,
        store: &mut Store<StoreState>,
        config: &[(String, String)],
    ) -> wasmtime::Result<Result<(), (String, String)>> {
        let answer = self.0.crm_migrate_plugin_hooks().call_configure(store, config)?;
        Ok(answer.map_err(|error| (error.key, error.message)))
    }

    pub fn clean(
        &self,
        store: &mut Store<StoreState>,
        batch: &wire::Batch,
    ) -> wasmtime::Result<Result<Vec<CleanOutcome>, String>> {
        let answer = self.0.crm_migrate_plugin_hooks().call_clean(store, batch)?;
        Ok(answer.map(|outcomes| outcomes.into_iter().map(clean_outcome).collect()))
    }

    pub fn match_keys(
        &self,
        store: &mut Store<StoreState>,
        batch: &wire::Batch,
    ) -> wasmtime::Result<Result<Vec<Vec<String>>, String>> {
        self.0.crm_migrate_plugin_hooks().call_match_keys(store, batch)
    }

    pub fn merge(
        &self,
        store: &mut Store<StoreState>,
        batch: &wire::Batch,
        groups: &[Vec<u32>],
    ) -> wasmtime::Result<Result<Vec<MergeDecision>, String>> {
        let answer = self.0.crm_migrate_plugin_hooks().call_merge(store, batch, groups)?;
        Ok(answer.map(|decisions| {
            decisions
                .into_iter()
                .map(|decision| MergeDecision {
                    survivor: decision.survivor as usize,
                    absorbed: decision.absorbed.into_iter().map(|i| i as usize).collect(),
                    changes: decision.changes.into_iter().map(field_change).collect(),
                })
                .collect()
        }))
    }

    pub fn label(
        &self,
        store: &mut Store<StoreState>,
        tags: &[Tag],
        segments: &[Segment],
    ) -> wasmtime::Result<Result<Vec<TagDecision>, String>> {
        let tags: Vec<wire::Tag> = tags
            .iter()
            .map(|tag| wire::Tag { id: tag.id.clone(), name: tag.name.clone(), record_count: tag.record_count })
            .collect();
        let segments: Vec<wire::Segment> = segments
            .iter()
            .map(|segment| wire::Segment {
                id: segment.id.clone(),
                name: segment.name.clone(),
                definition: segment.definition.clone(),
            })
            .collect();
        let answer = self.0.crm_migrate_plugin_hooks().call_label(store, &tags, &segments)?;
        Ok(answer.map(|decisions| decisions.into_iter().map(tag_decision).collect()))
    }
}

/// Records as the contract's dense table: column names once, one text arena for all strings.
pub type Batch = wire::Batch;

pub fn encode_batch(id: u64, records: &[&Record]) -> Batch {
    let mut columns = Columns::default();
    for record in records {
        for (position, (name, _)) in record.fields.iter().enumerate() {
            columns.find_or_add(name, position);
        }
    }
    let width = columns.names.len();
    let mut arena = Arena(String::with_capacity(records.len() * 16 * width.max(1)));
    let mut cells = vec![wire::Cell::Null; records.len() * width];
    let mut headers = Vec::with_capacity(records.len());
    for (row, record) in records.iter().enumerate() {
        headers.push(wire::RecordHeader { kind: object_kind(record.kind), source_id: arena.push(&record.source_id) });
        for (position, (name, value)) in record.fields.iter().enumerate() {
            cells[row * width + columns.find_or_add(name, position)] = arena.cell(value);
        }
    }
    Batch {
        id,
        columns: columns.names.into_iter().map(str::to_owned).collect(),
        records: headers,
        cells,
        text: arena.0,
    }
}

/// A batch's column names in first-seen order. Records of one export share their fields and
/// field order, so a field is looked up at its own position first and hashed only on a miss.
#[derive(Default)]
struct Columns<'r> {
    names: Vec<&'r str>,
    index: HashMap<&'r str, usize>,
}

impl<'r> Columns<'r> {
    fn find_or_add(&mut self, name: &'r str, position: usize) -> usize {
        if self.names.get(position) == Some(&name) {
            return position;
        }
        *self.index.entry(name).or_insert_with(|| {
            self.names.push(name);
            self.names.len() - 1
        })
    }
}

struct Arena(String);

impl Arena {
    fn push(&mut self, text: &str) -> wire::TextRef {
        let start = self.0.len();
        self.0.push_str(text);
        wire::TextRef { start: u32::try_from(start).expect("a batch's text stays under 4 GiB"), len: text.len() as u32 }
    }

    fn cell(&mut self, value: &Value) -> wire::Cell {
        match value {
            Value::Null => wire::Cell::Null,
            Value::Text(text) => wire::Cell::Text(self.push(text)),
            Value::Number(number) => wire::Cell::Number(*number),
            Value::Boolean(boolean) => wire::Cell::Boolean(*boolean),
            Value::Date(date) => wire::Cell::Date(wire::Date { year: date.year, month: date.month, day: date.day }),
            Value::DateTime(datetime) => wire::Cell::Datetime(wire::Datetime {
                unix_millis: datetime.unix_millis,
                offset_minutes: datetime.offset_minutes,
            }),
            Value::Choices(choices) => wire::Cell::Choices(choices.iter().map(|choice| self.push(choice)).collect()),
        }
    }
}

fn object_kind(kind: ObjectKind) -> wire::ObjectKind {
    match kind {
        ObjectKind::Contact => wire::ObjectKind::Contact,
        ObjectKind::Company => wire::ObjectKind::Company,
        ObjectKind::Deal => wire::ObjectKind::Deal,
        ObjectKind::Activity => wire::ObjectKind::Activity,
        ObjectKind::Event => wire::ObjectKind::Event,
        ObjectKind::Conversation => wire::ObjectKind::Conversation,
    }
}

fn clean_outcome(outcome: wire::CleanOutcome) -> CleanOutcome {
    match outcome {
        wire::CleanOutcome::Keep(changes) => CleanOutcome::Keep(changes.into_iter().map(field_change).collect()),
        wire::CleanOutcome::Drop(reason) => CleanOutcome::Drop(reason),
        wire::CleanOutcome::Reject(issues) => CleanOutcome::Reject(
            issues.into_iter().map(|issue| FieldIssue { field: issue.field, message: issue.message }).collect(),
        ),
    }
}

fn field_change(change: wire::FieldChange) -> FieldChange {
    let value = match change.value {
        wire::FieldValue::Null => Value::Null,
        wire::FieldValue::Text(text) => Value::Text(text),
        wire::FieldValue::Number(number) => Value::Number(number),
        wire::FieldValue::Boolean(boolean) => Value::Boolean(boolean),
        wire::FieldValue::Date(date) => Value::Date(Date { year: date.year, month: date.month, day: date.day }),
        wire::FieldValue::Datetime(datetime) => {
            Value::DateTime(DateTime { unix_millis: datetime.unix_millis, offset_minutes: datetime.offset_minutes })
        }
        wire::FieldValue::Choices(choices) => Value::Choices(choices),
    };
    FieldChange { field: change.field, value }
}

fn tag_decision(decision: wire::TagDecision) -> TagDecision {
    let fate = match decision.fate {
        wire::TagFate::Label(spec) => TagFate::Label { name: spec.name, color: label_color(spec.color) },
        wire::TagFate::Skip(reason) => TagFate::Skip { reason },
    };
    TagDecision { tag_id: decision.tag_id, fate, segment_origin: decision.segment_origin }
}

fn label_color(color: wire::LabelColor) -> LabelColor {
    match color {
        wire::LabelColor::Blue => LabelColor::Blue,
        wire::LabelColor::Brown => LabelColor::Brown,
        wire::LabelColor::DarkGray => LabelColor::DarkGray,
        wire::LabelColor::Gray => LabelColor::Gray,
        wire::LabelColor::Green => LabelColor::Green,
        wire::LabelColor::Orange => LabelColor::Orange,
        wire::LabelColor::Pink => LabelColor::Pink,
        wire::LabelColor::Purple => LabelColor::Purple,
        wire::LabelColor::Red => LabelColor::Red,
        wire::LabelColor::Yellow => LabelColor::Yellow,
    }
}
