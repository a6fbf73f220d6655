//! A User.com CSV export, read and audited: the first stage of crm-migrate, on nothing but the
//! record model (`crm-migrate-core`), so that it builds without the plugin host or the clients.
//!
//! ```text
//! extract  a User.com CSV export read as records: sniffed, typed, streamed, issues kept
//! audit    what an export holds: counts, data quality, billing, inventory (reports/)
//! ```

pub mod audit;
pub mod extract;
