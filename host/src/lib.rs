//! crm-migrate moves a company's CRM from User.com to Pipedrive. The modules follow the data:
//!
//! ```text
//! record     the host's record model, shared by every stage
//! records_csv  records from a CSV file (plugin authors' test input)
//! plugins    the sandboxed WebAssembly plugin host (the only module that touches wasmtime)
//! pipeline   clean -> dedup -> label over a whole data set, every record accounted for
//! ```

pub mod pipeline;
pub mod plugins;
pub mod record;
pub mod records_csv;
