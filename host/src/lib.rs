//! crm-migrate moves a company's CRM from User.com to Pipedrive. The modules follow the data:
//!
//! ```text
//! project    the migration project directory: migration.toml, reports/ (init, -C DIR)
//! record     the host's record model, shared by every stage (crate crm-migrate-core)
//! usercom    User.com's REST API read into a local snapshot (an export directory), resumable
//! extract    a User.com CSV export read as records: sniffed, typed, streamed (crate usercom-export)
//! audit      what an export holds: counts, data quality, billing, inventory (crate usercom-export)
//! records_csv  records from a CSV file (plugin authors' test input) (crate crm-migrate-plugin-host)
//! plugins    the sandboxed WebAssembly plugin host (crate crm-migrate-plugin-host, the only one with wasmtime)
//! pipeline   clean -> dedup -> label over a whole data set, every record accounted for (crm-migrate-plugin-host)
//! pipedrive  the Pipedrive client: typed calls, pacing, retries, token bill (crate pipedrive-client)
//! profile    what the export holds, attribute by attribute: what plan and mapping decide on
//! source     the export as a run reads it: records, through clean and dedup; order lines, domains
//! plan       the export and the target workspace read, mapping.toml proposed, token bill (plan)
//! mapping    mapping.toml: the model, its text both ways, the checks an edit must pass
//! marker     the marker on every migrated record: written, read back strictly, unforgeable
//! basis      what apply writes by besides the mapping (plugins, export, target), pinned at approval
//! approve    a person's approval of the mapping, and the gate apply passes through
//! attachments  files linked from the export's records: found, checked, fetched (for apply)
//! journal    apply's journal in state.db: runs, record fates and ids, workspace objects
//! apply      the migration: plugins, workspace, records phase by phase, journalled, reconciled
//! status     where a migration stands: approval, runs, fates per object, tokens left
//! readback   what Pipedrive holds now, listed, and how a record differs from what was sent
//! verify     what arrived in Pipedrive read back and compared, field by field
//! rollback   what apply created, deleted in reverse order; the residue listed
//! handoff    the customer's documents: automations, segments as filters, templates, billing, summary
//! purge      after the migration: the customer data it no longer needs removed, the audit trail kept
//! terminal   what the verbs print: each verb's outcome and progress as text, escaped
//! state      state.db (SQLite): workspace snapshots, proposals, approvals
//! private_files  files with customer data created readable by the user only (crate crm-migrate-core)
//! untrusted  text from a plugin or an export made safe for the terminal and reports (crm-migrate-core)
//! report     a report for people: one document model, Markdown and HTML, atomic writes (crm-migrate-report)
//! report_csv  a CSV report's row, safe to open in a spreadsheet (crate crm-migrate-core)
//! ```

// The record model, the export reader, the plugin host and the Pipedrive client are crates of
// their own (only the plugin host compiles wasmtime); they are re-exported here so that
// `crate::record`, `crm_migrate::plugins`, `crm_migrate::pipedrive` and the rest keep their paths.
pub use crm_migrate_core::{private_files, record, report_csv, untrusted};
pub use crm_migrate_plugin_host::{pipeline, plugins, records_csv};
pub use crm_migrate_report as report;
pub use pipedrive_client as pipedrive;
pub use usercom_export::{audit, extract};

pub mod apply;
pub mod approve;
pub mod attachments;
pub mod basis;
pub mod handoff;
pub mod journal;
pub mod mapping;
pub mod marker;
pub mod plan;
pub mod plugin_diff;
pub mod profile;
pub mod project;
pub mod purge;
pub mod readback;
pub mod rollback;
pub mod source;
pub mod state;
pub mod status;
pub mod terminal;
pub mod usercom;
pub mod verify;

// The host allocates and frees many small strings per record (lifting plugin answers, applying
// changes); with mimalloc the plugin benchmark ran about 10% faster than with glibc's malloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
