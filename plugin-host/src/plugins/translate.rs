//! What every contract version's translator has in common, written once: a macro that each
//! version's module (`v0_1`, `v0_2`) expands over its own generated bindings. The versions share
//! most of their types by shape but not by Rust type (each version's bindings are generated on
//! their own), so the translation is one text compiled once per version. Also the batch's
//! columns and text arena, which do not depend on the bindings.

use std::collections::HashMap;

use crm_migrate_core::record::Record;

/// Expands, in a version's module, to: `add_to_linker`, `Pre`, `Instance` with the hooks whose
/// wire form the version shares with 0.1.0 (describe, configure, match-keys, merge, label), and
/// the translations of the shared types. The module must have `wire` (its `types` interface),
/// `LogLevel`, `Plugin` and `PluginPre` in scope, as `wasmtime::component::bindgen!` makes them.
macro_rules! contract_translations {
    ($version:literal) => {
        /// Grants this contract version's imports (`host.log`) to plugins instantiated through
        /// `linker`. `host.log` is linked by hand rather than through the generated `Host` trait,
        /// because it needs the store to charge its bytes to the call's fuel
        /// ([`sandbox::host_log`](super::sandbox::host_log)).
        pub fn add_to_linker(
            linker: &mut wasmtime::component::Linker<super::sandbox::StoreState>,
        ) -> wasmtime::Result<()> {
            linker.instance(concat!("crm-migrate:plugin/types@", $version))?;
            linker.instance(concat!("crm-migrate:plugin/host@", $version))?.func_wrap(
                "log",
                |mut store: wasmtime::StoreContextMut<'_, super::sandbox::StoreState>,
                 (level, message): (LogLevel, String)| {
                    let level = match level {
                        LogLevel::Debug => "debug",
                        LogLevel::Info => "info",
                        LogLevel::Warn => "warn",
                        LogLevel::Error => "error",
                    };
                    super::sandbox::host_log(&mut store, level, message)
                },
            )
        }

        /// A component checked against this version's world, ready to instantiate cheaply.
        pub struct Pre(PluginPre<super::sandbox::StoreState>);

        impl Pre {
            pub fn new(
                linker: &wasmtime::component::Linker<super::sandbox::StoreState>,
                component: &wasmtime::component::Component,
            ) -> wasmtime::Result<Pre> {
                Ok(Pre(PluginPre::new(linker.instantiate_pre(component)?)?))
            }

            pub fn instantiate(
                &self,
                store: &mut wasmtime::Store<super::sandbox::StoreState>,
            ) -> wasmtime::Result<Instance> {
                Ok(Instance(self.0.instantiate(store)?))
            }
        }

        /// One live instance; it serves one call.
        pub struct Instance(Plugin);

        impl Instance {
            pub fn describe(
                &self,
                store: &mut wasmtime::Store<super::sandbox::StoreState>,
            ) -> wasmtime::Result<super::types::PluginInfo> {
                Ok(plugin_info(self.0.crm_migrate_plugin_hooks().call_describe(store)?))
            }

            /// `Ok(Err((key, message)))` when the plugin refuses its configuration.
            pub fn configure(
                &self,
                store: &mut wasmtime::Store<super::sandbox::StoreState>,
                config: &[(String, String)],
            ) -> wasmtime::Result<Result<(), (String, String)>> {
                let answer = self.0.crm_migrate_plugin_hooks().call_configure(store, config)?;
                Ok(answer.map_err(|error| (error.key, error.message)))
            }

            pub fn match_keys(
                &self,
                store: &mut wasmtime::Store<super::sandbox::StoreState>,
                batch: &wire::Batch,
            ) -> wasmtime::Result<Result<Vec<Vec<String>>, String>> {
                self.0.crm_migrate_plugin_hooks().call_match_keys(store, batch)
            }

            pub fn merge(
                &self,
                store: &mut wasmtime::Store<super::sandbox::StoreState>,
                batch: &wire::Batch,
                groups: &[Vec<u32>],
            ) -> wasmtime::Result<Result<Vec<super::types::MergeDecision>, String>> {
                let answer = self.0.crm_migrate_plugin_hooks().call_merge(store, batch, groups)?;
                Ok(answer.map(|decisions| {
                    decisions
                        .into_iter()
                        .map(|decision| super::types::MergeDecision {
                            survivor: decision.survivor as usize,
                            absorbed: decision.absorbed.into_iter().map(|i| i as usize).collect(),
                            changes: decision.changes.into_iter().map(field_change).collect(),
                        })
                        .collect()
                }))
            }

            pub fn label(
                &self,
                store: &mut wasmtime::Store<super::sandbox::StoreState>,
                tags: &[super::types::Tag],
                segments: &[super::types::Segment],
            ) -> wasmtime::Result<Result<Vec<super::types::TagDecision>, String>> {
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

        fn plugin_info(info: wire::PluginInfo) -> super::types::PluginInfo {
            use super::types::{ConfigOption, Hook};
            super::types::PluginInfo {
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
            }
        }

        fn object_kind(kind: crm_migrate_core::record::ObjectKind) -> wire::ObjectKind {
            use crm_migrate_core::record::ObjectKind;
            match kind {
                ObjectKind::Contact => wire::ObjectKind::Contact,
                ObjectKind::Company => wire::ObjectKind::Company,
                ObjectKind::Deal => wire::ObjectKind::Deal,
                ObjectKind::Activity => wire::ObjectKind::Activity,
                ObjectKind::Event => wire::ObjectKind::Event,
                ObjectKind::Conversation => wire::ObjectKind::Conversation,
            }
        }

        fn text_ref((start, len): (u32, u32)) -> wire::TextRef {
            wire::TextRef { start, len }
        }

        fn wire_date(date: &crm_migrate_core::record::Date) -> wire::Date {
            wire::Date { year: date.year, month: date.month, day: date.day }
        }

        fn wire_datetime(datetime: &crm_migrate_core::record::DateTime) -> wire::Datetime {
            wire::Datetime { unix_millis: datetime.unix_millis, offset_minutes: datetime.offset_minutes }
        }

        fn date(date: wire::Date) -> crm_migrate_core::record::Date {
            crm_migrate_core::record::Date { year: date.year, month: date.month, day: date.day }
        }

        fn datetime(datetime: wire::Datetime) -> crm_migrate_core::record::DateTime {
            crm_migrate_core::record::DateTime {
                unix_millis: datetime.unix_millis,
                offset_minutes: datetime.offset_minutes,
            }
        }

        fn field_issue(issue: wire::FieldIssue) -> super::types::FieldIssue {
            super::types::FieldIssue { field: issue.field, message: issue.message }
        }

        fn field_change(change: wire::FieldChange) -> super::types::FieldChange {
            use crm_migrate_core::record::Value;
            let value = match change.value {
                wire::FieldValue::Null => Value::Null,
                wire::FieldValue::Text(text) => Value::Text(text),
                wire::FieldValue::Number(number) => Value::Number(number),
                wire::FieldValue::Boolean(boolean) => Value::Boolean(boolean),
                wire::FieldValue::Date(wire_date) => Value::Date(date(wire_date)),
                wire::FieldValue::Datetime(wire_datetime) => Value::DateTime(datetime(wire_datetime)),
                wire::FieldValue::Choices(choices) => Value::Choices(choices),
            };
            super::types::FieldChange { field: change.field, value }
        }

        fn tag_decision(decision: wire::TagDecision) -> super::types::TagDecision {
            use super::types::{LabelColor, TagFate};
            let color = |color| match color {
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
            };
            let fate = match decision.fate {
                wire::TagFate::Label(spec) => TagFate::Label { name: spec.name, color: color(spec.color) },
                wire::TagFate::Skip(reason) => TagFate::Skip { reason },
            };
            super::types::TagDecision { tag_id: decision.tag_id, fate, segment_origin: decision.segment_origin }
        }
    };
}

/// A batch's column names in first-seen order. Records of one export share their fields and
/// field order, so a field is looked up at its own position first and hashed only on a miss.
#[derive(Default)]
pub struct Columns<'r> {
    pub names: Vec<&'r str>,
    index: HashMap<&'r str, usize>,
}

impl<'r> Columns<'r> {
    /// The columns of `records`, in first-seen order.
    pub fn of(records: &[&'r Record]) -> Columns<'r> {
        let mut columns = Columns::default();
        for record in records {
            for (position, (name, _)) in record.fields.iter().enumerate() {
                columns.find_or_add(name, position);
            }
        }
        columns
    }

    pub fn find_or_add(&mut self, name: &'r str, position: usize) -> usize {
        if self.names.get(position) == Some(&name) {
            return position;
        }
        *self.index.entry(name).or_insert_with(|| {
            self.names.push(name);
            self.names.len() - 1
        })
    }
}

/// A batch's text: every string its cells point to, end to end.
pub struct Arena(pub String);

impl Arena {
    /// An arena sized for a table of `rows` x `width` cells of ordinary text.
    pub fn for_table(rows: usize, width: usize) -> Arena {
        Arena(String::with_capacity(rows * 16 * width.max(1)))
    }

    /// Appends `text`; its start and length in the arena.
    pub fn push(&mut self, text: &str) -> (u32, u32) {
        let start = self.0.len();
        self.0.push_str(text);
        (u32::try_from(start).expect("a batch's text stays under 4 GiB"), text.len() as u32)
    }
}
