//! crm-migrate's plugin host: the only crate of the workspace that compiles wasmtime, so that a
//! change to the migration, its reports or its CLI does not rebuild the WebAssembly bindings.
//!
//! ```text
//! plugins      the sandboxed WebAssembly plugin host: loading, vetting, running hooks
//! pipeline     clean -> dedup -> label over a whole data set, every record accounted for
//! records_csv  records from a CSV file (plugin authors' test input)
//! ```

pub mod pipeline;
pub mod plugins;
pub mod records_csv;
