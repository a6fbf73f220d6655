//! # A local, API-compatible Pipedrive
//!
//! The sandbox serves the part of Pipedrive's REST API that the loader uses, and behaves like
//! Pipedrive where it limits and fails: token budgets, burst windows, 429s, a Cloudflare 403
//! block, and injected faults including the nasty one, *the write is applied but the response
//! is lost*. The client in `host/` is built and tested against it; `crm-migrate sandbox serve`
//! wraps [`serve`], tests use [`SandboxHandle::spawn`].
//!
//! ## Paths and auth
//! - API v2 under `/api/v2/...`; API v1 under both `/v1/...` and `/api/v1/...`; `/v2/...` is 404.
//! - The token comes from the `x-api-token` header, the `api_token` query parameter, or
//!   `Authorization: Bearer`; anything else is 401
//!   `{"success":false,"error":"unauthorized access","errorCode":401}`. Every accepted token
//!   belongs to user 1, the admin. Tokens are never written to the record file.
//!
//! ## The flow of one request
//! auth -> 403 block check -> burst window -> daily budget -> fault draw -> handler.
//! - **Burst**: per token, a rolling 2-second window: a request at `t` is admitted if fewer than
//!   `limit` requests were admitted in `(t-2s, t]` (plan limit, or `burst_limit`); search
//!   operations have their own window (10, or `search_burst_limit`). Rejected requests are not
//!   counted. Over the limit: 429 `{"success":false,"error":"Too many requests","errorCode":429}`
//!   with `retry-after` = `x-ratelimit-reset` (at least 1).
//! - **Daily budget**: company-wide, `plan.daily_token_budget(seats, top_up_tokens)`. A handled
//!   request debits its operation's `x-token-cost` (also when the handler answers 400 or 404).
//!   When the remaining tokens cannot pay: 429
//!   `{"success":false,"error":"daily request budget exceeded","errorCode":429}` with
//!   `retry-after` = seconds to the next midnight UTC of the sandbox clock, nothing debited.
//!   The budget resets at that midnight. The sandbox clock is the real clock plus the offset
//!   that [`SandboxHandle::advance_clock`] or `POST /_sandbox/clock` adds.
//! - An operation the sandbox does not simulate (or that Pipedrive does not have) is 404 after
//!   the burst check, with nothing debited.
//! - **Headers** on every API response past auth (429s and errors too): `x-ratelimit-limit`,
//!   `x-ratelimit-remaining` (after this request), `x-ratelimit-reset` (whole seconds, rounded
//!   up, until the oldest admitted request leaves the window; 0 when empty),
//!   `x-daily-ratelimit-token-limit`, `x-daily-ratelimit-token-remaining`. 401s and the 403 page
//!   carry none (the 403 comes from "Cloudflare").
//! - **Block**: after `block_after_ignored_429s` consecutive 429s to a token (an admitted
//!   request resets the count), every request with that token gets, for `block_duration`, a
//!   403 `text/html` Cloudflare "Access denied | Error 1015" page.
//! - **Faults**, one draw per admitted request from a PRNG seeded by `Faults::seed`
//!   (deterministic for a seed and a request sequence): dropped connection (closed without a
//!   response; nothing applied, nothing debited), server error (500/502/503
//!   `{"success":false,"error":"Internal Server Error","code":"ERR_UNKNOWN"}`; nothing applied,
//!   nothing debited), lost response (handled, applied and debited, then closed without a
//!   response), slow (sleeps `slow_by`, then normal), throttled (429 with `retry-after: 1`, as
//!   Pipedrive answers under load whatever the window holds; nothing applied, nothing debited).
//!
//! ## Endpoints
//! API v2 (JSON only; creates answer 200; lists paginate with `cursor` and `limit` <= 500 and
//! return `additional_data.next_cursor`, null at the end):
//! - `persons`, `organizations`, `deals`, `activities`: GET list (filters `ids`, `owner_id`,
//!   `org_id`, `person_id`, `deal_id`, `pipeline_id`, `stage_id`, `status`, `done`,
//!   `updated_since`, `updated_until`, `sort_by`, `sort_direction`, `custom_fields`,
//!   `include_option_labels`), POST, GET/PATCH/DELETE `{id}`.
//! - `pipelines`, `stages` (GET list with `pipeline_id`), POST, GET/PATCH/DELETE `{id}`; new
//!   pipelines and stages are appended (`order_nr` is read-only). A new account has one pipeline
//!   "Pipeline" with Pipedrive's five default stages.
//! - `personFields`, `organizationFields`, `dealFields`: GET list, POST, GET/PATCH/DELETE
//!   `{field_code}`, POST/PATCH/DELETE `{field_code}/options` (bulk, atomic). `activityFields`:
//!   GET list, GET `{field_code}`.
//! - `GET persons/search` (`term`, `fields`, `exact_match` case-insensitive, `organization_id`).
//! - `GET itemSearch/field` (`term`, `entity_type` person/organization/deal, `field`, `match`
//!   exact (default)/beginning/middle, case-sensitive). Each result carries both shapes the spec
//!   shows: `{"id", "name", "result_score", "item": {"id", "type", "name"}}`.
//!
//! API v1 (lists paginate with `start`/`limit` and `additional_data.pagination`):
//! - `notes` (GET list, POST, GET/PUT/DELETE `{id}`), `users` (GET list, GET `me`),
//!   `activityTypes` (GET, POST, PUT/DELETE `{id}`), `files` (POST multipart, GET list with
//!   `limit` <= 100, GET/DELETE `{id}`), and `personFields`/`organizationFields`/`dealFields`
//!   (GET list, POST, GET/PUT/DELETE `{id}`; a PUT's `options` replace the whole set) and
//!   `GET activityFields`.
//! - `organizationRelationships`: GET list (`org_id` required: its relationships as parent,
//!   daughter or related, with the calculated type seen from it), POST (`type` parent/related,
//!   `rel_owner_org_id` the parent, `rel_linked_org_id` the daughter, both live organizations),
//!   GET/DELETE `{id}` (a deleted one is 404).
//! - `deals/{id}/participants`: GET list, POST (`person_id`), DELETE `{deal_participant_id}`.
//! - `webhooks`: GET list, POST (`subscription_url`, `event_action`, `event_object`, `name`,
//!   `version`), DELETE `{id}`. Nothing is called: each applied write counts one delivery per
//!   webhook it fires (`Stats::webhook_deliveries`, also in `GET /_sandbox/stats`), by the rules
//!   of `pipedrive_api::webhooks`: creates, changes and deletes of persons, organizations, deals,
//!   activities, notes, pipelines, stages and products.
//!
//! API v2 products: `products` (GET list, POST answering 201, GET/DELETE `{id}`), and
//! `deals/{id}/products` (GET list, POST answering 201, DELETE `{product_attachment_id}`).
//!
//! ## Semantics
//! - Custom field keys are 40 hex digits drawn from a PRNG seeded per account
//!   ([`SandboxConfig::account_seed`], random when unset). v2 values live in `custom_fields`:
//!   enum option ids as integers, sets as non-empty integer arrays (`[]` is 400, `null` clears),
//!   monetary as `{value, currency}`, address as `{value, ...}`, daterange/timerange as
//!   `{value, until}`. Every live custom field of the entity is returned (null when unset).
//! - Labels are the options of the built-in `label` field (type `set`, integer option ids) of
//!   personFields, organizationFields and dealFields; `label_ids` must name existing options.
//! - Strict v2 typing, each a 400 `{"success":false,"error":"Validation failed: <field>: <what>",
//!   "code":"ERR_BAD_REQUEST"}`: a string where a number is expected, 0/1 for a boolean,
//!   unknown body properties, `person_id` on an activity (use `participants`; Pipedrive's own
//!   message), `lost_reason`/`lost_time` unless the deal is lost, `won_time` unless won,
//!   `close_time` unless won or lost, `add_time` on a deal, references that do not exist
//!   (org, person, owner, pipeline, stage, deal, option ids, activity type).
//! - `add_time` is accepted on v2 persons and organizations (RFC 3339, stored normalized to
//!   `YYYY-MM-DDTHH:MM:SSZ`) and on v1 notes (`YYYY-MM-DD HH:MM:SS`).
//! - DELETE is a soft delete: `is_deleted: true` (v1: `active_flag: false`), hidden from lists
//!   (`GET /api/v2/deals?status=deleted` lists deleted deals). GET `{id}` of a deleted v2 entity
//!   still returns it with `is_deleted: true` (Pipedrive keeps it 30 days); PATCH of one is 404;
//!   a second DELETE answers 200 again.
//!
//! - **Usage limits** (with [`SandboxConfig::account_limits`]): a custom field past the
//!   company's limit (persons, organizations and deals together) is 403 with
//!   `"code":"feature_capping_custom_fields_limit"`, a deal past the deals limit 403 with
//!   `"code":"feature_capping_deals_limit"`, both in the documented error envelope; more options
//!   than a field holds, or a note's `content` or an activity's `note` over the size limit, 400.
//!
//! ## Control endpoints (no auth, no limits, not counted, not recorded)
//! `GET /_sandbox/state`, `GET /_sandbox/stats`, `POST /_sandbox/clock {"advance_seconds": N}`,
//! `POST /_sandbox/faults {"seed", "server_error_rate", "lost_response_rate",
//! "dropped_connection_rate", "slow_rate", "slow_by_ms", "throttle_rate"}`, `POST /_sandbox/save`.
//!
//! ## Record and state files
//! - `record_path`: one JSON line per API request: `time`, `method`, `path`, `query` (without
//!   `api_token`), `request_body` (JSON, or for multipart the field names/values and the file's
//!   name, type and size), `status` (null when lost/dropped), `response_body` (or `"lost"` /
//!   `"dropped"`), `token_cost`.
//! - `state_path`: loaded at start when the file exists; saved on shutdown and on
//!   `POST /_sandbox/save`. It holds the whole account, the token ledger and the clock offset.

mod capping;
mod clock;
#[cfg(feature = "conformance")]
pub mod conformance;
mod custom;
mod envelope;
mod faults;
mod limits;
mod record;
mod rng;
mod routes;
mod server;
mod store;
mod table;
mod validate;

pub use faults::{Faults, FaultsWire};
pub use pipedrive_api::Plan;
pub use pipedrive_api::limits::AccountLimits;
pub use store::UserSeed;

use serde::{Deserialize, Serialize};
use server::Shared;
use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How a sandbox account is set up and how it limits and fails.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    pub plan: Plan,
    pub seats: u32,
    pub top_up_tokens: u64,
    /// Overrides the plan's burst limit per token (tests use it to go fast).
    pub burst_limit: Option<u32>,
    /// Overrides the search burst limit (10).
    pub search_burst_limit: Option<u32>,
    /// Accepted API tokens; all belong to user 1, the admin.
    pub api_tokens: Vec<String>,
    /// The company's users; user 1 is the first.
    pub users: Vec<UserSeed>,
    pub faults: Faults,
    /// Consecutive 429s to a token (without an admitted request between) that start a 403 block.
    pub block_after_ignored_429s: u32,
    /// How long a 403 block lasts.
    pub block_duration: Duration,
    /// JSON lines of every API request and response.
    pub record_path: Option<PathBuf>,
    /// Loaded at start if it exists; saved on shutdown and on `POST /_sandbox/save`.
    pub state_path: Option<PathBuf>,
    /// Seeds the account's custom field keys; None draws a random seed (a fresh account).
    pub account_seed: Option<u64>,
    /// Overrides the daily token budget the plan gives (tests use it to run out fast).
    pub daily_token_budget: Option<u64>,
    /// The account has Campaigns: persons have a `marketing_status` field.
    pub campaigns: bool,
    /// Usage limits to enforce (custom fields, deals, options per field, note size), as
    /// `AccountLimits::of(plan, seats)` gives them or set lower by a test; None enforces none.
    pub account_limits: Option<AccountLimits>,
}

impl Default for SandboxConfig {
    fn default() -> SandboxConfig {
        SandboxConfig {
            plan: Plan::Growth,
            seats: 1,
            top_up_tokens: 0,
            burst_limit: None,
            search_burst_limit: None,
            api_tokens: vec!["sandbox-token".to_owned()],
            users: vec![UserSeed {
                name: "Sandbox Admin".to_owned(),
                email: "admin@sandbox.example".to_owned(),
                is_admin: true,
            }],
            faults: Faults::default(),
            block_after_ignored_429s: 10,
            block_duration: Duration::from_secs(60),
            record_path: None,
            state_path: None,
            account_seed: None,
            daily_token_budget: None,
            campaigns: false,
            account_limits: None,
        }
    }
}

/// What the sandbox has seen since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    /// API requests (control endpoints are not counted).
    pub requests: u64,
    /// Responses by status code (lost and dropped ones have none).
    pub by_status: BTreeMap<u16, u64>,
    pub tokens_debited: u64,
    pub unauthorized: u64,
    /// 429s from the burst window.
    pub burst_429s: u64,
    /// 429s from the daily token budget.
    pub budget_429s: u64,
    /// Requests answered with the 403 block page.
    pub blocked_403s: u64,
    pub blocks_started: u64,
    pub server_errors: u64,
    pub lost_responses: u64,
    pub dropped_connections: u64,
    pub slow_responses: u64,
    /// Successful writes (creates, updates, deletes), lost responses included.
    pub writes_applied: u64,
    /// The webhook deliveries those writes would have made (the sandbox calls no one): per
    /// webhook id, per event as the webhook names it (`create.person`, `added.person` for a
    /// version 1.0 webhook).
    #[serde(default)]
    pub webhook_deliveries: BTreeMap<u64, BTreeMap<String, u64>>,
}

impl Stats {
    /// All 429s, burst and budget.
    pub fn too_many_requests(&self) -> u64 {
        self.burst_429s + self.budget_429s
    }
}

/// Serves the sandbox on `listener` until Ctrl-C, then saves the state (when `state_path` is set).
pub async fn serve(config: SandboxConfig, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    serve_with_shutdown(config, listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}

/// Serves until `shutdown` completes, then saves the state (when `state_path` is set).
pub async fn serve_with_shutdown(
    config: SandboxConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_until(config, listener, shutdown).await.map(drop)
}

/// As [`serve_with_shutdown`], and gives back what the sandbox saw (its summary: requests,
/// tokens, the webhook deliveries it would have made).
pub async fn serve_until(
    config: SandboxConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<Stats> {
    let shared = Arc::new(Shared::new(config)?);
    run(shared.clone(), listener, shutdown).await?;
    Ok(shared.stats())
}

async fn run(
    shared: Arc<Shared>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = server::router(shared.clone());
    let server = tokio::spawn(
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .into_future(),
    );
    shutdown.await;
    let _ = stop.send(());
    // Connections in the middle of a slow response get a moment to finish, not forever.
    if let Ok(Ok(result)) = tokio::time::timeout(Duration::from_secs(2), server).await {
        result?;
    }
    shared.save()?;
    Ok(())
}

/// A sandbox on its own thread and tokio runtime, bound to `127.0.0.1:0`. Dropping it shuts it down.
pub struct SandboxHandle {
    shared: Arc<Shared>,
    address: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl SandboxHandle {
    pub fn spawn(config: SandboxConfig) -> std::io::Result<SandboxHandle> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config)?);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("pipedrive-sandbox")
            .enable_all()
            .build()?;
        let served = shared.clone();
        let thread = std::thread::Builder::new().name("pipedrive-sandbox".to_owned()).spawn(move || {
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)?;
                run(served, listener, async move {
                    let _ = stopped.await;
                })
                .await
            })
        })?;
        Ok(SandboxHandle { shared, address, stop: Some(stop), thread: Some(thread) })
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Moves the sandbox clock forward (timestamps, the daily reset, burst windows, blocks).
    pub fn advance_clock(&self, by: Duration) {
        self.shared.clock.advance(by);
    }

    /// The whole account as JSON (every entity, soft-deleted ones too), with `token_ledger` and
    /// `clock_offset_ms`.
    pub fn state(&self) -> serde_json::Value {
        self.shared.state_json()
    }

    pub fn stats(&self) -> Stats {
        self.shared.stats()
    }

    /// Replaces the faults (and restarts their PRNG from the new seed).
    pub fn set_faults(&self, faults: Faults) {
        self.shared.set_faults(faults);
    }

    /// Stops the server and saves the state when `state_path` is set.
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}
