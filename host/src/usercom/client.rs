//! User.com's REST API over HTTP: the documented headers, cursor pages followed by their `next`
//! URL, pacing, retries of 429 (after `Retry-After`) and 5xx with a bounded backoff, and every
//! answer treated as untrusted (size bound, JSON shape checked, errors naming resource and page).
//!
//! The wire facts are from `shared/reference/usercom-api.md`, section 1: the base URL
//! `https://ACCOUNT.user.com/api/public/` with a trailing slash on every path, `Authorization:
//! Token KEY`, `Accept: */*; version=2`, list envelopes `{count, next, previous, results}` of up to
//! 100 results, and the error codes 400, 401, 403, 404, 429, 500, 502, 504.

use std::time::{Duration, Instant};

use reqwest::Url;
use serde_json::Value;

use crate::pipedrive::{ApiToken, TargetUrlError, check_account_url};

/// The path every resource hangs under ([doc] basic-api-usage.html).
pub const API_ROOT: &str = "/api/public/";

/// The largest answer read (one page of 100 records; a conversation with its messages): a
/// hostile or broken server cannot make the extractor hold more than this at once.
pub const MAX_BODY_BYTES: usize = 32 << 20;

/// How the client talks to one account.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `https://acme.user.com` (checked again when the client is built).
    pub url: String,
    /// A host other than *.user.com the URL may name (`[source] allow_host`).
    pub allowed_host: Option<String>,
    pub token: ApiToken,
    /// At most this many requests a second (User.com publishes no number; [gap] in the reference).
    pub requests_per_second: f64,
    /// Attempts of one request before giving up (429s and 5xx alike).
    pub attempts: u32,
    /// The first wait after a 5xx or a transport error (doubled each time, at most a minute).
    pub first_backoff: Duration,
    /// The longest `Retry-After` obeyed; a longer one is waited only this long.
    pub max_retry_after: Duration,
    pub request_timeout: Duration,
}

impl ClientConfig {
    pub fn new(url: String, allowed_host: Option<String>, token: ApiToken) -> ClientConfig {
        ClientConfig {
            url,
            allowed_host,
            token,
            requests_per_second: 10.0,
            attempts: 8,
            first_backoff: Duration::from_millis(500),
            max_retry_after: Duration::from_secs(120),
            request_timeout: Duration::from_secs(60),
        }
    }
}

/// Why a request failed. Messages name the resource and page; never the token, and of a URL only
/// what the account's own URL shows.
#[derive(Debug, thiserror::Error)]
pub enum UsercomError {
    #[error("[source] api {0}")]
    Url(#[from] TargetUrlError),
    #[error(
        "User.com refused the API token ({status}) for {resource}: check the token [source] token_env or token_file names (it is an account's REST API key)"
    )]
    Unauthorized { resource: String, status: u16 },
    #[error("{resource}: User.com has no such resource (404)")]
    NotFound { resource: String },
    #[error("{resource} page {page}: User.com answered {status}{}", .detail.as_ref().map(|d| format!(": {d}")).unwrap_or_default())]
    Status { resource: String, page: u64, status: u16, detail: Option<String> },
    #[error("{resource} page {page}: gave up after {attempts} attempts; the last: {last}")]
    GaveUp { resource: String, page: u64, attempts: u32, last: String },
    #[error(
        "{resource} page {page}: User.com answered {status} pointing to {to}; redirects are never followed (the token would go along)"
    )]
    Redirected { resource: String, page: u64, status: u16, to: String },
    #[error("{resource} page {page}: the answer is larger than {limit} bytes")]
    TooLarge { resource: String, page: u64, limit: usize },
    #[error("{resource} page {page}: {field}: {reason}")]
    Malformed { resource: String, page: u64, field: String, reason: String },
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub results: Vec<Value>,
    /// The next page's URL, checked to be this account's API (see [`UsercomClient::check_next`]).
    pub next: Option<String>,
    /// "Total number of items across all pages", when the list says it.
    pub count: Option<u64>,
}

/// Requests made, and the ones that were answered 429 or 5xx and sent again.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct RequestStats {
    pub requests: u64,
    pub throttled: u64,
    pub retried: u64,
}

pub struct UsercomClient {
    http: reqwest::Client,
    /// `https://acme.user.com/api/public/`
    root: Url,
    config: ClientConfig,
    last_request: Option<Instant>,
    pub stats: RequestStats,
}

impl UsercomClient {
    pub fn new(config: ClientConfig) -> Result<UsercomClient, UsercomError> {
        let base = check_account_url(&config.url, crate::project::USERCOM, config.allowed_host.as_deref())?.base();
        let root = Url::parse(&format!("{base}{API_ROOT}")).map_err(|error| TargetUrlError::NotAUrl {
            shown: base.clone(),
            reason: error.to_string(),
            service: crate::project::USERCOM,
        })?;
        crate::pipedrive::install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            // A redirect would carry the Authorization header to wherever Location points.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("crm-migrate/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| UsercomError::GaveUp {
                resource: "connect".into(),
                page: 0,
                attempts: 0,
                last: error.to_string(),
            })?;
        Ok(UsercomClient { http, root, config, last_request: None, stats: RequestStats::default() })
    }

    /// The first page's URL of a resource (`users/`, `users/10001/events/`).
    pub fn first_url(&self, resource: &str) -> String {
        format!("{}{resource}", self.root)
    }

    /// A `next` URL from an answer, followed verbatim only when it is this account's API: the
    /// same scheme, host and port, under `/api/public/`. Anything else would send the token to
    /// whoever wrote the answer.
    pub fn check_next(&self, next: &str, resource: &str, page: u64) -> Result<String, UsercomError> {
        let malformed = |reason: String| UsercomError::Malformed {
            resource: resource.to_owned(),
            page,
            field: "next".into(),
            reason,
        };
        let url = Url::parse(next).or_else(|_| self.root.join(next)).map_err(|error| malformed(error.to_string()))?;
        let same_origin = url.scheme() == self.root.scheme()
            && url.host_str() == self.root.host_str()
            && url.port_or_known_default() == self.root.port_or_known_default();
        if !same_origin || !url.path().starts_with(API_ROOT) || !url.username().is_empty() || url.password().is_some() {
            let port = url.port().map(|port| format!(":{port}")).unwrap_or_default();
            return Err(malformed(format!(
                "points outside this account's API ({}://{}{port}{}); not followed",
                url.scheme(),
                url.host_str().unwrap_or_default(),
                url.path()
            )));
        }
        Ok(url.to_string())
    }

    /// GETs one page of a list (or a single object, given back as a page of one).
    pub async fn page(&mut self, resource: &str, page: u64, url: &str) -> Result<Page, UsercomError> {
        let body = self.get(resource, page, url).await?;
        self.parse_page(resource, page, body)
    }

    fn parse_page(&self, resource: &str, page: u64, body: Value) -> Result<Page, UsercomError> {
        let malformed = |field: &str, reason: &str| UsercomError::Malformed {
            resource: resource.to_owned(),
            page,
            field: field.to_owned(),
            reason: reason.to_owned(),
        };
        match body {
            // Some sub-resources may answer a bare list ([gap]): one page, nothing after it.
            Value::Array(results) => Ok(Page { results, next: None, count: None }),
            Value::Object(mut object) if object.contains_key("results") => {
                let results = match object.remove("results") {
                    Some(Value::Array(results)) => results,
                    // A single object in the envelope (get-single-conversation.html's example).
                    Some(Value::Object(one)) => vec![Value::Object(one)],
                    _ => return Err(malformed("results", "is neither a list nor an object")),
                };
                let next = match object.remove("next") {
                    None | Some(Value::Null) => None,
                    Some(Value::String(next)) if next.is_empty() => None,
                    Some(Value::String(next)) => Some(self.check_next(&next, resource, page)?),
                    Some(_) => return Err(malformed("next", "is neither a URL nor null")),
                };
                let count = match object.remove("count") {
                    None | Some(Value::Null) => None,
                    Some(Value::Number(count)) => {
                        Some(count.as_u64().ok_or_else(|| malformed("count", "is not a whole number"))?)
                    }
                    Some(_) => return Err(malformed("count", "is not a number")),
                };
                Ok(Page { results, next, count })
            }
            // A single object (`conversations/{id}/`).
            Value::Object(object) => Ok(Page { results: vec![Value::Object(object)], next: None, count: None }),
            _ => Err(malformed("(answer)", "is neither a list nor an object")),
        }
    }

    async fn get(&mut self, resource: &str, page: u64, url: &str) -> Result<Value, UsercomError> {
        let mut backoff = self.config.first_backoff;
        let mut last = String::new();
        for _attempt in 0..self.config.attempts {
            self.pace().await;
            self.stats.requests += 1;
            let sent = self
                .http
                .get(url)
                .header("Authorization", format!("Token {}", self.config.token.expose()))
                .header("Accept", "*/*; version=2")
                .send()
                .await;
            let response = match sent {
                Ok(response) => response,
                Err(error) => {
                    last = without_url(error);
                    self.stats.retried += 1;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(60));
                    continue;
                }
            };
            let status = response.status();
            if status.is_redirection() {
                let to = response
                    .headers()
                    .get("location")
                    .and_then(|location| location.to_str().ok())
                    .and_then(|location| self.root.join(location).ok())
                    .map(|url| format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default()))
                    .unwrap_or_else(|| "(no readable Location)".into());
                return Err(UsercomError::Redirected { resource: resource.into(), page, status: status.as_u16(), to });
            }
            match status.as_u16() {
                401 | 403 => {
                    return Err(UsercomError::Unauthorized { resource: resource.into(), status: status.as_u16() });
                }
                404 => return Err(UsercomError::NotFound { resource: resource.into() }),
                429 => {
                    self.stats.throttled += 1;
                    let wait = response
                        .headers()
                        .get("retry-after")
                        .and_then(|value| value.to_str().ok())
                        .and_then(|value| value.trim().parse::<f64>().ok())
                        .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
                        .map(|seconds| Duration::from_secs_f64(seconds).min(self.config.max_retry_after))
                        .unwrap_or(backoff);
                    last = format!("429 (waited {:.1} s)", wait.as_secs_f64());
                    tokio::time::sleep(wait).await;
                    backoff = (backoff * 2).min(Duration::from_secs(60));
                    continue;
                }
                500..=599 => {
                    self.stats.retried += 1;
                    last = format!("{status}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(60));
                    continue;
                }
                _ => {}
            }
            let body = match read_bounded(response, MAX_BODY_BYTES).await {
                Ok(Some(body)) => body,
                Ok(None) => {
                    return Err(UsercomError::TooLarge { resource: resource.into(), page, limit: MAX_BODY_BYTES });
                }
                Err(error) => {
                    last = error;
                    self.stats.retried += 1;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(60));
                    continue;
                }
            };
            if !status.is_success() {
                let detail = serde_json::from_slice::<Value>(&body)
                    .ok()
                    .and_then(|body| body.get("errors").or_else(|| body.get("detail")).map(Value::to_string))
                    .map(|detail| crate::untrusted::escape(&detail.chars().take(300).collect::<String>()).into_owned());
                return Err(UsercomError::Status { resource: resource.into(), page, status: status.as_u16(), detail });
            }
            return serde_json::from_slice(&body).map_err(|error| UsercomError::Malformed {
                resource: resource.into(),
                page,
                field: "(answer)".into(),
                reason: format!("not JSON: {error}"),
            });
        }
        Err(UsercomError::GaveUp { resource: resource.into(), page, attempts: self.config.attempts, last })
    }

    /// Waits until the next request keeps to `requests_per_second`.
    async fn pace(&mut self) {
        let interval = Duration::from_secs_f64(1.0 / self.config.requests_per_second.max(0.001));
        if let Some(last) = self.last_request {
            let due = last + interval;
            let now = Instant::now();
            if due > now {
                tokio::time::sleep(due - now).await;
            }
        }
        self.last_request = Some(Instant::now());
    }
}

/// The body, or None when it is over `limit` bytes (read no further than that).
async fn read_bounded(mut response: reqwest::Response, limit: usize) -> Result<Option<Vec<u8>>, String> {
    if response.content_length().is_some_and(|length| length > limit as u64) {
        return Ok(None);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(without_url)? {
        if body.len() + chunk.len() > limit {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Some(body))
}

/// reqwest's errors name the URL; keep only the cause.
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

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> UsercomClient {
        UsercomClient::new(ClientConfig::new(
            "https://acme.user.com".into(),
            None,
            ApiToken::new("secret-token-0123").unwrap(),
        ))
        .unwrap()
    }

    #[test]
    fn next_urls_are_followed_only_within_the_accounts_api() {
        let client = client();
        assert_eq!(client.first_url("users/"), "https://acme.user.com/api/public/users/");
        assert_eq!(
            client.check_next("https://acme.user.com/api/public/users/?cursor=abc", "users/", 1).unwrap(),
            "https://acme.user.com/api/public/users/?cursor=abc"
        );
        assert!(client.check_next("/api/public/users/?cursor=abc", "users/", 1).is_ok(), "relative to the account");
        for hostile in [
            "https://evil.example/api/public/users/?cursor=abc",
            "http://acme.user.com/api/public/users/",
            "https://acme.user.com:8443/api/public/users/",
            "https://acme.user.com.evil.example/api/public/users/",
            "https://user:pw@acme.user.com/api/public/users/",
            "https://acme.user.com/admin/",
        ] {
            let error = client.check_next(hostile, "users/", 3).unwrap_err().to_string();
            assert!(error.contains("users/ page 3: next"), "{hostile}: {error}");
        }
    }

    #[test]
    fn pages_are_checked_for_their_shape() {
        let client = client();
        let page = client
            .parse_page(
                "users/",
                1,
                serde_json::json!({"count": 2, "next": null, "previous": null, "results": [{"id": 1}, {"id": 2}]}),
            )
            .unwrap();
        assert_eq!((page.results.len(), page.next, page.count), (2, None, Some(2)));
        let one = client.parse_page(
            "conversations/900/",
            1,
            serde_json::json!({"count": 1, "next": null, "results": {"id": 900, "messages": []}}),
        );
        assert_eq!(
            one.unwrap().results,
            [serde_json::json!({"id": 900, "messages": []})],
            "a single object in the envelope"
        );
        for (body, field) in [
            (serde_json::json!({"results": 5}), "results"),
            (serde_json::json!({"results": [], "next": 5}), "next"),
            (serde_json::json!({"results": [], "count": "many"}), "count"),
            (serde_json::json!("text"), "(answer)"),
        ] {
            let error = client.parse_page("deals/", 4, body).unwrap_err().to_string();
            assert!(error.starts_with(&format!("deals/ page 4: {field}")), "{error}");
        }
    }

    #[test]
    fn the_sandbox_on_this_machine_needs_allow_host() {
        let token = ApiToken::new("t").unwrap();
        let local = |allowed: Option<&str>| {
            UsercomClient::new(ClientConfig::new("http://127.0.0.1:9".into(), allowed.map(Into::into), token.clone()))
        };
        assert!(local(None).is_err());
        assert!(local(Some("127.0.0.1")).is_ok());
        assert!(
            UsercomClient::new(ClientConfig::new("https://acme.user.com.evil.example".into(), None, token)).is_err()
        );
    }
}
