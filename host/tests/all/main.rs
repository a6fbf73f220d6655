//! crm-migrate's integration tests, one binary (one link) with a module per feature.
//! The plugin tests load real components built by `cargo build-plugins` from the workspace's
//! sources; the Pipedrive tests talk real HTTP to a sandbox started in-process.

mod apply;
mod attachments;
mod audit;
mod bad_values;
mod cache;
mod cli;
mod conformance;
mod csv_injection;
mod deal_products;
mod demo;
mod dialects;
mod existing_data;
mod extract;
mod faults;
mod fidelity_gaps;
mod handoff;
mod hierarchy;
mod limits;
mod markers;
mod pipedrive_client;
mod pipedrive_support;
mod pipeline;
mod plan;
mod plugin_bounds;
mod plugin_compile;
mod plugin_diff;
mod plugin_sandbox;
mod plugin_values;
mod python_plugin;
mod rate_limits;
mod replan;
mod roles;
mod safety;
mod safety_export;
mod safety_token;
mod sdk;
mod side_effects;
mod support;
mod trust_store;
mod usercom_api;
mod usercom_sandbox_cli;
mod verify_source;
mod vetting;
