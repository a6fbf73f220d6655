//! The request flow: auth -> 403 block -> burst window -> daily budget -> fault draw -> handler,
//! the rate-limit headers on every API response, recording, and the `/_sandbox` control endpoints.

use crate::clock::{self, Clock};
use crate::envelope::Reply;
use crate::faults::{Fault, FaultDice, Faults, FaultsWire};
use crate::limits::{Admission, LimitSettings, Limits, Moment, TokenLedger, WindowReport};
use crate::record::Recorder;
use crate::routes::{self, Body, Ctx, MultipartBody};
use crate::store::Account;
use crate::{SandboxConfig, Stats};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use pipedrive_api::{ApiVersion, headers as names};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Unwinds the connection task so the socket closes without a byte written (lost/dropped faults).
/// `resume_unwind` skips the panic hook, so nothing is printed; the server lives on.
struct ConnectionKilled;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Everything the server shares between requests.
pub struct Shared {
    pub config: SandboxConfig,
    pub settings: LimitSettings,
    pub clock: Clock,
    pub account: Mutex<Account>,
    pub limits: Mutex<Limits>,
    pub dice: Mutex<FaultDice>,
    pub stats: Mutex<Stats>,
    recorder: Option<Recorder>,
}

impl Shared {
    pub fn new(config: SandboxConfig) -> std::io::Result<Shared> {
        let (account, ledger, offset_ms) = match &config.state_path {
            Some(path) if path.exists() => load_state(path)?,
            _ => {
                let seed = config.account_seed.unwrap_or_else(random_seed);
                let now = Clock::new(0).now_secs();
                (Account::new(seed, &config.users, now, config.campaigns), TokenLedger::default(), 0)
            }
        };
        let recorder = config.record_path.as_deref().map(Recorder::create).transpose()?;
        let settings = LimitSettings {
            burst_limit: config.burst_limit.unwrap_or(config.plan.burst_limit()),
            search_burst_limit: config.search_burst_limit.unwrap_or(pipedrive_api::SEARCH_BURST_LIMIT),
            daily_budget: config
                .daily_token_budget
                .unwrap_or_else(|| config.plan.daily_token_budget(config.seats, config.top_up_tokens)),
            block_after_ignored_429s: config.block_after_ignored_429s,
            block_ms: config.block_duration.as_millis() as i64,
        };
        Ok(Shared {
            settings,
            clock: Clock::new(offset_ms),
            account: Mutex::new(account),
            limits: Mutex::new(Limits::new(ledger)),
            dice: Mutex::new(FaultDice::new(config.faults.clone())),
            stats: Mutex::new(Stats::default()),
            recorder,
            config,
        })
    }

    /// The whole account as JSON, plus the token ledger and the clock offset.
    pub fn state_json(&self) -> Value {
        let mut state = serde_json::to_value(&*lock(&self.account)).unwrap_or(Value::Null);
        state["token_ledger"] = serde_json::to_value(&lock(&self.limits).ledger).unwrap_or(Value::Null);
        state["clock_offset_ms"] = json!(self.clock.offset_ms());
        state
    }

    /// Writes the state file as it serializes (each record unpacked alone, never the whole account
    /// as JSON values: at a million records that would be gigabytes).
    pub fn save(&self) -> std::io::Result<bool> {
        #[derive(serde::Serialize)]
        struct StateFile<'a> {
            #[serde(flatten)]
            account: &'a Account,
            token_ledger: &'a TokenLedger,
            clock_offset_ms: i64,
        }
        let Some(path) = &self.config.state_path else { return Ok(false) };
        let temporary = path.with_extension("tmp");
        let mut writer = std::io::BufWriter::new(std::fs::File::create(&temporary)?);
        let token_ledger = lock(&self.limits).ledger.clone();
        let file = StateFile {
            account: &lock(&self.account),
            token_ledger: &token_ledger,
            clock_offset_ms: self.clock.offset_ms(),
        };
        serde_json::to_writer_pretty(&mut writer, &file).map_err(std::io::Error::other)?;
        std::io::Write::flush(&mut writer)?;
        drop(writer);
        std::fs::rename(&temporary, path)?;
        Ok(true)
    }

    pub fn stats(&self) -> Stats {
        lock(&self.stats).clone()
    }

    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.dice) = FaultDice::new(faults);
    }
}

fn random_seed() -> u64 {
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0);
    let mut rng = crate::rng::SplitMix64::new(nanos ^ (u64::from(std::process::id()) << 32));
    rng.next_u64()
}

/// Reads the state file as it parses (twice: the account, then what else it holds), so that
/// neither the file nor its records are ever held whole.
fn load_state(path: &std::path::Path) -> std::io::Result<(Account, TokenLedger, i64)> {
    /// What the state file holds besides the account (read apart, so that the account's records
    /// are packed as they are read, never held whole as JSON values).
    #[derive(serde::Deserialize)]
    struct Extras {
        #[serde(default)]
        token_ledger: Option<TokenLedger>,
        #[serde(default)]
        clock_offset_ms: Option<Value>,
    }
    let invalid = |error: serde_json::Error| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, format!("sandbox state file: {error}"))
    };
    let reader = || std::fs::File::open(path).map(std::io::BufReader::new);
    let extras: Extras = serde_json::from_reader(reader()?).map_err(invalid)?;
    let mut account: Account = serde_json::from_reader(reader()?).map_err(invalid)?;
    account.index();
    let offset = extras.clock_offset_ms.and_then(|offset| offset.as_i64()).unwrap_or(0);
    Ok((account, extras.token_ledger.unwrap_or_default(), offset))
}

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/_sandbox/state", get(control_state))
        .route("/_sandbox/stats", get(control_stats))
        .route("/_sandbox/clock", post(control_clock))
        .route("/_sandbox/faults", post(control_faults))
        .route("/_sandbox/save", post(control_save))
        .fallback(api)
        // Bodies up to what `api` reads (axum's multipart reader stops at 2 MB without this),
        // so that an upload is judged by the files route's own bound.
        .layer(axum::extract::DefaultBodyLimit::max(BODY_MAX_BYTES))
        .with_state(shared)
}

/// The largest request body the sandbox reads.
const BODY_MAX_BYTES: usize = 256 * 1024 * 1024;

async fn control_state(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(shared.state_json()).into_response()
}

async fn control_stats(State(shared): State<Arc<Shared>>) -> Response {
    axum::Json(shared.stats()).into_response()
}

fn control_error(message: String) -> Response {
    (StatusCode::BAD_REQUEST, axum::Json(json!({"success": false, "error": message}))).into_response()
}

async fn control_clock(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let seconds = serde_json::from_slice::<Value>(&body).ok().and_then(|value| value["advance_seconds"].as_u64());
    let Some(seconds) = seconds else { return control_error("expected {\"advance_seconds\": N}".to_owned()) };
    shared.clock.advance(Duration::from_secs(seconds));
    axum::Json(
        json!({"success": true, "now": clock::rfc3339(shared.clock.now_secs()), "offset_ms": shared.clock.offset_ms()}),
    )
    .into_response()
}

async fn control_faults(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    match serde_json::from_slice::<FaultsWire>(&body) {
        Ok(wire) => {
            shared.set_faults(wire.clone().into());
            axum::Json(json!({"success": true, "faults": wire})).into_response()
        }
        Err(error) => control_error(format!("invalid faults: {error}")),
    }
}

async fn control_save(State(shared): State<Arc<Shared>>) -> Response {
    match shared.save() {
        Ok(true) => axum::Json(json!({"success": true})).into_response(),
        Ok(false) => control_error("the sandbox was started without a state path".to_owned()),
        Err(error) => {
            (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(json!({"success": false, "error": error.to_string()})))
                .into_response()
        }
    }
}

/// What the request body was, for the record file (files by name and size, not content).
fn describe_body(body: &Body) -> Value {
    match body {
        Body::Empty => Value::Null,
        Body::Json(value) => value.clone(),
        Body::Invalid(reason) => json!({"invalid": reason}),
        Body::Multipart(form) => json!({
            "multipart": form.fields.iter().map(|(name, value)| json!({"name": name, "value": value})).collect::<Vec<_>>(),
            "file": form.file.as_ref().map(|(name, content_type, size)| json!({"file_name": name, "content_type": content_type, "size": size})),
        }),
    }
}

async fn parse_body(headers: &HeaderMap, extensions: axum::http::Extensions, bytes: Bytes) -> Body {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or("").to_owned();
    if content_type.starts_with("multipart/form-data") {
        let request = Request::builder().header(header::CONTENT_TYPE, content_type).body(axum::body::Body::from(bytes));
        let Ok(mut request) = request else { return Body::Invalid("malformed multipart request".to_owned()) };
        // The body limit the router set travels in the extensions.
        *request.extensions_mut() = extensions;
        let mut multipart = match axum::extract::Multipart::from_request(request, &()).await {
            Ok(multipart) => multipart,
            Err(error) => return Body::Invalid(format!("malformed multipart body: {error}")),
        };
        let mut form = MultipartBody::default();
        loop {
            match multipart.next_field().await {
                Ok(Some(field)) => {
                    let name = field.name().unwrap_or("").to_owned();
                    let file_name = field.file_name().map(str::to_owned);
                    let part_type = field.content_type().unwrap_or("application/octet-stream").to_owned();
                    let Ok(data) = field.bytes().await else {
                        return Body::Invalid("malformed multipart body".to_owned());
                    };
                    match (name.as_str(), file_name) {
                        ("file", file_name) => {
                            form.file =
                                Some((file_name.unwrap_or_else(|| "file".to_owned()), part_type, data.len() as u64))
                        }
                        _ => form.fields.push((name, String::from_utf8_lossy(&data).into_owned())),
                    }
                }
                Ok(None) => break,
                Err(error) => return Body::Invalid(format!("malformed multipart body: {error}")),
            }
        }
        return Body::Multipart(form);
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Body::Empty;
    }
    match serde_json::from_slice(&bytes) {
        Ok(value) => Body::Json(value),
        Err(error) => Body::Invalid(format!(
            "the request body is not valid JSON ({error}); the sandbox accepts JSON and multipart bodies"
        )),
    }
}

/// The API token: `x-api-token` header, `api_token` query parameter, or `Authorization: Bearer`.
fn token_of(headers: &HeaderMap, query: &HashMap<String, String>) -> Option<String> {
    if let Some(token) = headers.get("x-api-token").and_then(|value| value.to_str().ok()) {
        return Some(token.to_owned());
    }
    if let Some(token) = query.get("api_token") {
        return Some(token.clone());
    }
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")))
        .map(|token| token.trim().to_owned())
}

const BLOCK_PAGE: &str = r#"<!DOCTYPE html>
<html lang="en-US">
<head><title>Access denied | api.pipedrive.com used Cloudflare to restrict access</title>
<meta charset="UTF-8" /></head>
<body>
<div id="cf-wrapper">
<div id="cf-error-details" class="cf-error-details-wrapper">
<h1><span class="cf-error-type">Error</span> <span class="cf-error-code">1015</span></h1>
<h2 class="cf-subheadline">You are being rate limited</h2>
<p>The owner of this website (api.pipedrive.com) has banned you temporarily from accessing this website.</p>
</div>
<div class="cf-error-footer"><span>Performance &amp; security by Cloudflare</span></div>
</div>
</body>
</html>
"#;

/// How a request ended, for the response, the record file and the stats.
enum Outcome {
    Json { status: u16, body: Value, headers: Vec<(&'static str, String)> },
    Html { status: u16, body: &'static str },
    Lost,
    Dropped,
}

fn limit_headers(window: Option<WindowReport>, daily_limit: u64, daily_remaining: u64) -> Vec<(&'static str, String)> {
    let mut headers = Vec::new();
    if let Some(window) = window {
        headers.push((names::BURST_LIMIT, window.limit.to_string()));
        headers.push((names::BURST_REMAINING, window.remaining.to_string()));
        headers.push((names::BURST_RESET, window.reset_secs.to_string()));
    }
    headers.push((names::DAILY_TOKEN_LIMIT, daily_limit.to_string()));
    headers.push((names::DAILY_TOKEN_REMAINING, daily_remaining.to_string()));
    headers
}

async fn api(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, BODY_MAX_BYTES).await.unwrap_or_default();
    let method = parts.method.as_str().to_owned();
    let path = parts.uri.path().to_owned();
    let pairs: Vec<(String, String)> =
        Query::<Vec<(String, String)>>::try_from_uri(&parts.uri).map(|query| query.0).unwrap_or_default();
    let query: HashMap<String, String> = pairs.iter().cloned().collect();
    let body = parse_body(&parts.headers, parts.extensions.clone(), bytes).await;
    let started = clock::rfc3339(shared.clock.now_secs());
    let (outcome, cost) = process(&shared, &method, &path, &parts.headers, &query, &body).await;

    let status = match &outcome {
        Outcome::Json { status, .. } | Outcome::Html { status, .. } => Some(*status),
        Outcome::Lost | Outcome::Dropped => None,
    };
    {
        let mut stats = lock(&shared.stats);
        stats.requests += 1;
        stats.tokens_debited += cost;
        match status {
            Some(status) => *stats.by_status.entry(status).or_insert(0) += 1,
            None if matches!(outcome, Outcome::Lost) => stats.lost_responses += 1,
            None => stats.dropped_connections += 1,
        }
    }
    if let Some(recorder) = &shared.recorder {
        let recorded_query: serde_json::Map<String, Value> = pairs
            .iter()
            .filter(|(key, _)| key != "api_token")
            .map(|(key, value)| (key.clone(), json!(value)))
            .collect();
        let response = match &outcome {
            Outcome::Json { body, .. } => body.clone(),
            Outcome::Html { body, .. } => json!(body),
            Outcome::Lost => json!("lost"),
            Outcome::Dropped => json!("dropped"),
        };
        recorder.write(&json!({
            "time": started, "method": method, "path": path, "query": recorded_query, "request_body": describe_body(&body),
            "status": status, "response_body": response, "token_cost": cost,
        }));
    }
    match outcome {
        Outcome::Json { status, body, headers } => {
            let mut response =
                (StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), axum::Json(body))
                    .into_response();
            for (name, value) in headers {
                if let Ok(value) = HeaderValue::from_str(&value) {
                    response.headers_mut().insert(name, value);
                }
            }
            response
        }
        Outcome::Html { status, body } => {
            let mut response = (StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN), body).into_response();
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=UTF-8"));
            response.headers_mut().insert("server", HeaderValue::from_static("cloudflare"));
            response
        }
        Outcome::Lost | Outcome::Dropped => std::panic::resume_unwind(Box::new(ConnectionKilled)),
    }
}

/// The flow of one API request. Returns the outcome and the tokens it cost.
async fn process(
    shared: &Shared,
    method: &str,
    path: &str,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    body: &Body,
) -> (Outcome, u64) {
    let settings = shared.settings;
    let json = |status: u16, body: Value, headers: Vec<(&'static str, String)>| Outcome::Json { status, body, headers };
    if ApiVersion::split_path(path).is_none() {
        return (json(404, json!({"success": false, "error": "Not found", "errorCode": 404}), Vec::new()), 0);
    }
    let token =
        token_of(headers, query).filter(|token| shared.config.api_tokens.iter().any(|accepted| accepted == token));
    let Some(token) = token else {
        lock(&shared.stats).unauthorized += 1;
        return (json(401, json!({"success": false, "error": "unauthorized access", "errorCode": 401}), Vec::new()), 0);
    };
    let now_ms = shared.clock.now_ms();
    if lock(&shared.limits).is_blocked(&token, now_ms) {
        lock(&shared.stats).blocked_403s += 1;
        return (Outcome::Html { status: 403, body: BLOCK_PAGE }, 0);
    }
    let operation = pipedrive_api::operation(method, path);
    let route = operation.and_then(routes::route);
    let cost = route.and(operation).map(|operation| u64::from(operation.token_cost));
    let search = operation.is_some_and(|operation| operation.is_search());
    let day = shared.clock.day();
    let admission = lock(&shared.limits).admit(
        &token,
        Moment { now_ms, day, seconds_to_midnight: shared.clock.seconds_to_midnight() },
        search,
        cost,
        &settings,
    );
    let daily_remaining = || lock(&shared.limits).daily_remaining(&settings, day);
    let window = match admission {
        Admission::Admitted(window) => window,
        Admission::BurstLimited { window, retry_after, block_started }
        | Admission::BudgetExhausted { window, retry_after, block_started } => {
            let burst = matches!(admission, Admission::BurstLimited { .. });
            {
                let mut stats = lock(&shared.stats);
                if burst {
                    stats.burst_429s += 1
                } else {
                    stats.budget_429s += 1
                }
                stats.blocks_started += u64::from(block_started);
            }
            let error = if burst { "Too many requests" } else { "daily request budget exceeded" };
            let mut headers = limit_headers(Some(window), settings.daily_budget, daily_remaining());
            headers.push((names::RETRY_AFTER, retry_after.to_string()));
            return (json(429, json!({"success": false, "error": error, "errorCode": 429}), headers), 0);
        }
    };
    let (Some(operation), Some(route), Some(cost)) = (operation, route, cost) else {
        let headers = limit_headers(Some(window), settings.daily_budget, daily_remaining());
        let body = json!({"success": false, "error": format!("Unknown method {method} {path} (not simulated by the sandbox)"), "error_info": "Please check developers.pipedrive.com", "data": null, "additional_data": null});
        return (json(404, body, headers), 0);
    };
    let fault = lock(&shared.dice).draw();
    match fault {
        Fault::DroppedConnection => {
            lock(&shared.limits).refund(cost);
            return (Outcome::Dropped, 0);
        }
        Fault::ServerError(status) => {
            lock(&shared.limits).refund(cost);
            lock(&shared.stats).server_errors += 1;
            let error = match status {
                502 => "Bad Gateway",
                503 => "Service Unavailable",
                _ => "Internal Server Error",
            };
            let headers = limit_headers(Some(window), settings.daily_budget, daily_remaining());
            return (json(status, json!({"success": false, "error": error, "code": "ERR_UNKNOWN"}), headers), 0);
        }
        Fault::Slow(by) => {
            lock(&shared.stats).slow_responses += 1;
            tokio::time::sleep(by).await;
        }
        Fault::Throttled => {
            lock(&shared.limits).refund(cost);
            lock(&shared.stats).burst_429s += 1;
            let mut headers = limit_headers(Some(window), settings.daily_budget, daily_remaining());
            headers.push((names::RETRY_AFTER, "1".to_owned()));
            return (json(429, json!({"success": false, "error": "Too many requests", "errorCode": 429}), headers), 0);
        }
        Fault::None | Fault::LostResponse => {}
    }
    let params = routes::path_params(operation, path);
    let result = {
        let mut account = lock(&shared.account);
        let mut ctx = Ctx {
            account: &mut account,
            now: shared.clock.now_secs(),
            user_id: 1,
            query,
            body,
            params,
            limits: shared.config.account_limits,
        };
        routes::run(route, &mut ctx)
    };
    let Reply { status, body } = result.unwrap_or_else(|error| Reply { status: error.status, body: error.body });
    if routes::is_write(route) && (200..300).contains(&status) {
        let deliveries = routes::webhooks::event(route)
            .map(|(action, object)| routes::webhooks::deliveries(&lock(&shared.account), action, object))
            .unwrap_or_default();
        let mut stats = lock(&shared.stats);
        stats.writes_applied += 1;
        for (webhook, event) in deliveries {
            *stats.webhook_deliveries.entry(webhook).or_default().entry(event).or_default() += 1;
        }
    }
    if fault == Fault::LostResponse {
        return (Outcome::Lost, cost);
    }
    let headers = limit_headers(Some(window), settings.daily_budget, daily_remaining());
    (json(status, body, headers), cost)
}
