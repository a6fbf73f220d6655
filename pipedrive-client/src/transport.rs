//! Sends one request to Pipedrive: paced, authenticated, retried where a retry is safe, and charged
//! to the token bill. Everything about status codes, headers and backoff lives here.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pipedrive_api::{BURST_WINDOW, Operation, Plan, SEARCH_BURST_LIMIT, headers};
use reqwest::{Method, StatusCode};
use serde_json::Value;

use super::bill::TokenBill;
use super::error::ClientError;
use super::pacing::{Pacer, WindowReport};
use super::secret::ApiToken;
use super::target_url::check_target_url;

/// What to do when the company's daily token budget runs out mid-run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetPolicy {
    /// Sleep until Pipedrive resets the budget (it says when), then go on.
    WaitForReset,
    /// Stop with [`ClientError::BudgetExhausted`], saying when it resets; a later run resumes.
    Stop,
}

/// Retries for failures a retry can fix: 5xx answers and dropped connections.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub first_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { max_attempts: 8, first_backoff: Duration::from_millis(250), max_backoff: Duration::from_secs(30) }
    }
}

/// How the client reaches one Pipedrive account.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `https://COMPANY.pipedrive.com`, or a sandbox's `http://127.0.0.1:PORT`. Checked by
    /// [`check_target_url`] when the client is built: a URL that fails gets no request at all.
    pub base_url: String,
    /// A host other than Pipedrive's (and not this machine) the token may go to: `[target]
    /// allow_host` in migration.toml.
    pub allowed_host: Option<String>,
    pub token: ApiToken,
    /// Sets the burst limit to start with; the server's headers correct it on the first answer.
    pub plan: Plan,
    pub on_budget_exhausted: BudgetPolicy,
    pub retry: RetryPolicy,
    pub request_timeout: Duration,
    /// Pipedrive's search is eventually consistent: before a create whose answer was lost is
    /// judged "not applied" (and sent again), its marker is looked up a second time this much later.
    pub lost_write_settle: Duration,
}

impl ClientConfig {
    pub fn new(base_url: impl Into<String>, token: ApiToken, plan: Plan) -> ClientConfig {
        ClientConfig {
            base_url: base_url.into().trim_end_matches('/').to_string(),
            allowed_host: None,
            token,
            plan,
            on_budget_exhausted: BudgetPolicy::WaitForReset,
            retry: RetryPolicy::default(),
            request_timeout: Duration::from_secs(60),
            lost_write_settle: Duration::from_secs(3),
        }
    }
}

/// Things a person watching a long run wants to hear about.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    /// A 429 for the burst window: every request waits this long.
    Throttled {
        retry_after: Duration,
    },
    /// The daily budget is used up; the run sleeps until it resets.
    WaitingForBudgetReset {
        resets_in: Duration,
    },
    Retrying {
        operation: &'static str,
        attempt: u32,
        reason: String,
    },
    /// A write whose answer was lost turned out to have been applied; its record was found.
    LostWriteFound {
        operation: &'static str,
        id: u64,
    },
}

pub type EventObserver = Arc<dyn Fn(&ClientEvent) + Send + Sync>;

/// Counts of what happened on the wire.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ClientStats {
    pub requests: u64,
    pub throttled: u64,
    pub retries: u64,
    pub lost_writes: u64,
    pub lost_writes_found: u64,
    pub budget_waits: u64,
}

/// The company's daily budget as the last answer reported it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DailyBudget {
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
}

/// A request body.
#[derive(Debug, Clone)]
pub enum Payload {
    Empty,
    Json(Value),
    /// A file upload: form fields plus one file part named `file`.
    Multipart {
        fields: Vec<(String, String)>,
        file_name: String,
        bytes: Vec<u8>,
    },
}

pub struct Transport {
    http: reqwest::Client,
    config: ClientConfig,
    pacer: Pacer,
    /// Set once an answer came back with the account's burst limit, cleared by a 429. While it is
    /// not set, requests go one at a time: a client that trusted a wrong plan, or that shares its
    /// token with another integration, would otherwise send a whole window into 429s.
    limit_confirmed: std::sync::atomic::AtomicBool,
    first_contact: tokio::sync::Mutex<()>,
    observer: Option<EventObserver>,
    ledger: Mutex<Ledger>,
}

#[derive(Default)]
struct Ledger {
    bill: TokenBill,
    stats: ClientStats,
    budget: DailyBudget,
    jitter_state: u64,
}

/// One attempt's verdict.
enum Verdict {
    Done(Value),
    /// Safe to send again after a backoff; counts as a failed attempt.
    Retry(String),
    /// Pipedrive asked us to wait (a 429), and we did: send again at once; not a failure.
    Again,
    /// A write that may have been applied.
    Unknown(String),
    Fail(ClientError),
}

impl Transport {
    pub fn new(mut config: ClientConfig, observer: Option<EventObserver>) -> Result<Transport, ClientError> {
        // Defense in depth: Project::open checks the URL too, but a client built any other way
        // must not be able to send the token elsewhere either.
        config.base_url = check_target_url(&config.base_url, config.allowed_host.as_deref())?.base();
        install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            // A redirect would carry the x-api-token header to wherever Location points.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("crm-migrate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| ClientError::BadResponse { operation: "connect", reason: error.to_string() })?;
        let pacer = Pacer::new(config.plan.burst_limit(), SEARCH_BURST_LIMIT);
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |since| since.as_nanos() as u64)
            | 1;
        Ok(Transport {
            http,
            config,
            pacer,
            limit_confirmed: std::sync::atomic::AtomicBool::new(false),
            first_contact: tokio::sync::Mutex::new(()),
            observer,
            ledger: Mutex::new(Ledger { jitter_state: seed, ..Ledger::default() }),
        })
    }

    pub fn bill(&self) -> TokenBill {
        self.ledger.lock().expect("ledger lock").bill.clone()
    }

    pub fn stats(&self) -> ClientStats {
        self.ledger.lock().expect("ledger lock").stats
    }

    pub fn budget(&self) -> DailyBudget {
        self.ledger.lock().expect("ledger lock").budget
    }

    pub fn burst_limit(&self) -> u32 {
        self.pacer.burst_limit()
    }

    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    pub fn notify(&self, event: ClientEvent) {
        if let Some(observer) = &self.observer {
            observer(&event);
        }
    }

    pub fn note_lost_write_found(&self, operation: &'static str, id: u64) {
        self.ledger.lock().expect("ledger lock").stats.lost_writes_found += 1;
        self.notify(ClientEvent::LostWriteFound { operation, id });
    }

    /// Sends a request and returns Pipedrive's JSON envelope. Retries 5xx answers and dropped
    /// connections for reads and idempotent writes; a create whose answer is lost comes back as
    /// [`ClientError::WriteOutcomeUnknown`] for the caller to resolve.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        payload: &Payload,
    ) -> Result<Value, ClientError> {
        let operation = pipedrive_api::operation(method.as_str(), path)
            .ok_or_else(|| ClientError::UnknownOperation { method: method.to_string(), path: path.to_string() })?;
        let mut attempt = 1;
        loop {
            let verdict = if self.limit_confirmed.load(std::sync::atomic::Ordering::Acquire) {
                self.attempt(operation, &method, path, query, payload).await
            } else {
                let _one_at_a_time = self.first_contact.lock().await;
                self.attempt(operation, &method, path, query, payload).await
            };
            let reason = match verdict {
                Verdict::Done(body) => return Ok(body),
                Verdict::Fail(error) => return Err(error),
                Verdict::Unknown(reason) => {
                    let mut ledger = self.ledger.lock().expect("ledger lock");
                    ledger.stats.lost_writes += 1;
                    ledger.bill.charge_uncertain(operation.operation_id, operation.token_cost);
                    return Err(ClientError::WriteOutcomeUnknown { operation: operation.operation_id, reason });
                }
                Verdict::Again => continue,
                Verdict::Retry(reason) => reason,
            };
            if attempt >= self.config.retry.max_attempts {
                return Err(ClientError::GaveUp { operation: operation.operation_id, attempts: attempt, last: reason });
            }
            self.ledger.lock().expect("ledger lock").stats.retries += 1;
            self.notify(ClientEvent::Retrying { operation: operation.operation_id, attempt, reason });
            tokio::time::sleep(self.backoff(attempt)).await;
            attempt += 1;
        }
    }

    async fn attempt(
        &self,
        operation: &'static Operation,
        method: &Method,
        path: &str,
        query: &[(&str, String)],
        payload: &Payload,
    ) -> Verdict {
        let search = operation.is_search();
        loop {
            let send_at = self.pacer.reserve(search, Instant::now());
            tokio::time::sleep_until(send_at.into()).await;
            // A 429 that came in while this request waited for its turn holds it back too.
            if !self.pacer.is_paused(Instant::now()) {
                break;
            }
        }

        let mut request = self
            .http
            .request(method.clone(), format!("{}{}", self.config.base_url, path))
            .header("x-api-token", self.config.token.expose())
            .header("accept", "application/json");
        if !query.is_empty() {
            request = request.query(query);
        }
        request = match payload {
            Payload::Empty => request,
            Payload::Json(body) => request.json(body),
            Payload::Multipart { fields, file_name, bytes } => {
                let mut form = reqwest::multipart::Form::new();
                for (name, value) in fields {
                    form = form.text(name.clone(), value.clone());
                }
                form = form.part("file", reqwest::multipart::Part::bytes(bytes.clone()).file_name(file_name.clone()));
                request.multipart(form)
            }
        };
        self.ledger.lock().expect("ledger lock").stats.requests += 1;

        let response = match request.send().await {
            Ok(response) => response,
            // Nothing reached Pipedrive: always safe to send again.
            Err(error) if error.is_connect() => {
                return Verdict::Retry(format!("could not connect: {}", without_url(error)));
            }
            Err(error) => return self.unanswered(operation, without_url(error)),
        };
        let status = response.status();
        self.observe_headers(search, response.headers());
        // The limit is now the server's (or, if it sent no headers, the plan's: nothing better is known).
        if status != StatusCode::TOO_MANY_REQUESTS {
            self.limit_confirmed.store(true, std::sync::atomic::Ordering::Release);
        }
        let retry_after = header_number(response.headers(), headers::RETRY_AFTER).map(Duration::from_secs);
        let location =
            response.headers().get(reqwest::header::LOCATION).and_then(|value| value.to_str().ok()).map(str::to_owned);
        let is_html = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("text/html"));
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(error) => return self.unanswered(operation, format!("the answer broke off: {}", without_url(error))),
        };
        let json: Option<Value> = serde_json::from_slice(&body).ok();
        let message = json
            .as_ref()
            .and_then(error_message)
            .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(200).collect());

        match status {
            status if status.is_success() => {
                self.ledger.lock().expect("ledger lock").bill.charge(operation.operation_id, operation.token_cost);
                match json {
                    Some(json) => Verdict::Done(json),
                    None => Verdict::Fail(ClientError::BadResponse {
                        operation: operation.operation_id,
                        reason: "the body is not JSON".into(),
                    }),
                }
            }
            StatusCode::TOO_MANY_REQUESTS => {
                // Until an answer gets through again, requests go one at a time: every 429 sent
                // while throttled brings the token closer to Pipedrive's firewall block.
                self.limit_confirmed.store(false, std::sync::atomic::Ordering::Release);
                self.throttled(retry_after.unwrap_or(BURST_WINDOW), &message).await
            }
            status if status.is_redirection() => Verdict::Fail(ClientError::Redirected {
                operation: operation.operation_id,
                status: status.as_u16(),
                location_host: location_host(&location, &self.config.base_url),
            }),
            StatusCode::UNAUTHORIZED => Verdict::Fail(ClientError::Unauthorized),
            StatusCode::FORBIDDEN if is_html => Verdict::Fail(ClientError::Blocked),
            StatusCode::SERVICE_UNAVAILABLE => Verdict::Retry(format!("503 {message}")),
            status if status.is_server_error() => {
                if operation.is_idempotent() {
                    Verdict::Retry(format!("{} {message}", status.as_u16()))
                } else {
                    Verdict::Unknown(format!("{} {message}", status.as_u16()))
                }
            }
            StatusCode::NOT_FOUND => {
                self.ledger.lock().expect("ledger lock").bill.charge(operation.operation_id, operation.token_cost);
                Verdict::Fail(ClientError::NotFound { operation: operation.operation_id, path: path.to_string() })
            }
            status => {
                self.ledger.lock().expect("ledger lock").bill.charge(operation.operation_id, operation.token_cost);
                Verdict::Fail(ClientError::Rejected {
                    operation: operation.operation_id,
                    status: status.as_u16(),
                    message,
                })
            }
        }
    }

    /// A request that got no (complete) answer: reads are sent again, writes may have happened.
    fn unanswered(&self, operation: &Operation, reason: String) -> Verdict {
        if operation.is_idempotent() { Verdict::Retry(reason) } else { Verdict::Unknown(reason) }
    }

    /// A 429: either the burst window (wait a second or two, then the same request again) or the
    /// daily budget (wait for the reset, or stop, as configured).
    async fn throttled(&self, retry_after: Duration, message: &str) -> Verdict {
        let daily = retry_after > BURST_WINDOW || message.contains("budget") || message.contains("daily");
        if !daily {
            self.ledger.lock().expect("ledger lock").stats.throttled += 1;
            self.pacer.pause_until(Instant::now() + retry_after);
            self.notify(ClientEvent::Throttled { retry_after });
            return Verdict::Again;
        }
        match self.config.on_budget_exhausted {
            BudgetPolicy::Stop => Verdict::Fail(ClientError::BudgetExhausted { resets_in: retry_after }),
            BudgetPolicy::WaitForReset => {
                self.ledger.lock().expect("ledger lock").stats.budget_waits += 1;
                self.notify(ClientEvent::WaitingForBudgetReset { resets_in: retry_after });
                // A second past the announced reset, so that the first request lands after it.
                let until = Instant::now() + retry_after + Duration::from_secs(1);
                self.pacer.pause_until(until);
                tokio::time::sleep_until(until.into()).await;
                Verdict::Again
            }
        }
    }

    fn observe_headers(&self, search: bool, headers: &reqwest::header::HeaderMap) {
        if let (Some(limit), Some(remaining)) =
            (header_number(headers, headers::BURST_LIMIT), header_number(headers, headers::BURST_REMAINING))
        {
            let report = WindowReport { limit: limit as u32, remaining: remaining as u32 };
            self.pacer.observe(search, report, Instant::now());
        }
        let mut ledger = self.ledger.lock().expect("ledger lock");
        if let Some(limit) = header_number(headers, headers::DAILY_TOKEN_LIMIT) {
            ledger.budget.limit = Some(limit);
        }
        if let Some(remaining) = header_number(headers, headers::DAILY_TOKEN_REMAINING) {
            ledger.budget.remaining = Some(remaining);
        }
    }

    /// Exponential backoff with full jitter, so that parallel retries do not arrive together.
    fn backoff(&self, attempt: u32) -> Duration {
        let policy = &self.config.retry;
        let ceiling = policy.first_backoff.saturating_mul(1 << attempt.min(16)).min(policy.max_backoff);
        let mut ledger = self.ledger.lock().expect("ledger lock");
        // xorshift64: jitter needs spread, not cryptographic quality.
        let mut state = ledger.jitter_state;
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        ledger.jitter_state = state;
        ceiling.mul_f64((state % 1000) as f64 / 1000.0).max(policy.first_backoff / 2)
    }
}

fn header_number(headers: &reqwest::header::HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// The host a redirect points to (only the host: a Location may carry a token in its query), or
/// what is known when it names none.
fn location_host(location: &Option<String>, base_url: &str) -> String {
    let Some(location) = location else { return "(no Location header)".into() };
    let Ok(base) = reqwest::Url::parse(base_url) else { return "(unreadable Location)".into() };
    match base.join(location) {
        Ok(url) => {
            let port = url.port().map(|port| format!(":{port}")).unwrap_or_default();
            format!("{}://{}{port}", url.scheme(), url.host_str().unwrap_or_default())
        }
        Err(_) => "(unreadable Location)".into(),
    }
}

/// Pipedrive's error envelope: `{"success":false,"error":"...","error_info":"..."}`.
fn error_message(body: &Value) -> Option<String> {
    let error = body.get("error")?.as_str()?;
    Some(match body.get("error_info").and_then(Value::as_str) {
        Some(info) if !info.is_empty() => format!("{error} ({info})"),
        _ => error.to_string(),
    })
}

/// reqwest's errors name the URL, and a URL may carry a token in its query: keep only the cause.
fn without_url(error: reqwest::Error) -> String {
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

/// rustls needs one process-wide crypto provider; ring is the one built in. User.com's client
/// installs it through here too.
pub fn install_crypto_provider() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
