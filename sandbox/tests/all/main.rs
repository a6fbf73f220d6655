//! Integration tests of the sandbox over real HTTP on 127.0.0.1: one binary, a module per concern.

mod support;

mod auth;
mod conformance;
mod custom_fields;
mod deal_products;
mod entities;
mod faults;
mod files_and_state;
mod limits;
mod paging;
mod relationships;
mod search;
mod v1;
mod validation;
mod webhooks;
