//! crm-migrate's integration tests, one binary (one link) with a module per feature.
//! They load real components built by `cargo build-plugins` from the workspace's sources.

mod cache;
mod cli;
mod pipeline;
mod plugin_sandbox;
mod support;
mod vetting;
