//! crm-migrate's integration tests, one binary (one link) with a module per feature.
//! They load real components built by `cargo build-plugins` from the workspace's sources.

mod audit;
mod cache;
mod cli;
mod extract;
mod pipeline;
mod sandbox;
mod support;
mod vetting;
