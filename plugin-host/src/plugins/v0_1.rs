//! Contract 0.1.0 (`plugin-sdk/wit/v0.1/plugin.wit`, the one copy, shipped inside the SDK crate):
//! its generated bindings, and the translation between them and the host's types. A newer
//! contract version gets a module like this one (`v0_2`), and this one stays so that plugins
//! built against 0.1.0 keep running. What the versions share is written once, in `translate`.

use super::translate::{Arena, Columns};
use super::types::CleanOutcome;
use crm_migrate_core::record::{Record, Value};

wasmtime::component::bindgen!({
    path: "../plugin-sdk/wit/v0.1",
    world: "plugin",
});

use self::crm_migrate::plugin::host::LogLevel;
use self::crm_migrate::plugin::types as wire;

contract_translations!("0.1.0");

impl Instance {
    pub fn clean(
        &self,
        store: &mut wasmtime::Store<super::sandbox::StoreState>,
        batch: &wire::Batch,
    ) -> wasmtime::Result<Result<Vec<CleanOutcome>, String>> {
        let answer = self.0.crm_migrate_plugin_hooks().call_clean(store, batch)?;
        Ok(answer.map(|outcomes| outcomes.into_iter().map(clean_outcome).collect()))
    }
}

/// Records as the contract's dense table: column names once, one text arena for all strings.
pub type Batch = wire::Batch;

pub fn encode_batch(id: u64, records: &[&Record]) -> Batch {
    let mut columns = Columns::of(records);
    let width = columns.names.len();
    let mut arena = Arena::for_table(records.len(), width);
    let mut cells = vec![wire::Cell::Null; records.len() * width];
    let mut headers = Vec::with_capacity(records.len());
    for (row, record) in records.iter().enumerate() {
        let source_id = text_ref(arena.push(&record.source_id));
        headers.push(wire::RecordHeader { kind: object_kind(record.kind), source_id });
        for (position, (name, value)) in record.fields.iter().enumerate() {
            cells[row * width + columns.find_or_add(name, position)] = cell(value, &mut arena);
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

fn cell(value: &Value, arena: &mut Arena) -> wire::Cell {
    match value {
        Value::Null => wire::Cell::Null,
        Value::Text(text) => wire::Cell::Text(text_ref(arena.push(text))),
        Value::Number(number) => wire::Cell::Number(*number),
        Value::Boolean(boolean) => wire::Cell::Boolean(*boolean),
        Value::Date(date) => wire::Cell::Date(wire_date(date)),
        Value::DateTime(datetime) => wire::Cell::Datetime(wire_datetime(datetime)),
        Value::Choices(choices) => {
            wire::Cell::Choices(choices.iter().map(|choice| text_ref(arena.push(choice))).collect())
        }
    }
}

fn clean_outcome(outcome: wire::CleanOutcome) -> CleanOutcome {
    match outcome {
        wire::CleanOutcome::Keep(changes) => CleanOutcome::Keep(changes.into_iter().map(field_change).collect()),
        wire::CleanOutcome::Drop(reason) => CleanOutcome::Drop(reason),
        wire::CleanOutcome::Reject(issues) => CleanOutcome::Reject(issues.into_iter().map(field_issue).collect()),
    }
}
