//! What every crate of crm-migrate shares, and nothing that compiles slowly: the record model
//! and the small utilities the plugin host, the export reader and the migration all use.
//!
//! ```text
//! record         the host's record model, passed along by every stage
//! untrusted      text from a plugin or an export made safe for the terminal and the reports
//! private_files  files with customer data created readable by the user only (reports, state.db)
//! report_csv     a CSV report's row, safe to open in a spreadsheet
//! ```

pub mod private_files;
pub mod record;
pub mod report_csv;
pub mod untrusted;

/// The 1-based line of `text` that byte `offset` is on (a TOML error's span, said as a line).
pub fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}
