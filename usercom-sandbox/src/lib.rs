//! # A local User.com
//!
//! Serves an account made by `usercom-export-gen` (the same records its CSV export holds) over
//! the part of User.com's REST API that crm-migrate's extractor reads, with User.com's auth,
//! paging and errors, a per-token rate limit and injected faults. Tests start it in-process with
//! [`UsercomSandbox::spawn`]; `crm-migrate sandbox serve-usercom` wraps [`serve_with_shutdown`].
//!
//! Everything below follows `shared/reference/usercom-api.md`; each shape cites its source there
//! in `shapes.rs` and `server.rs` ([doc] User.com's pages, [code] a public client, [gap] chosen
//! here, no public source shows it).
//!
//! ## Requests
//! - Under `/api/public/`, every path ending in `/` ([doc] basic-api-usage.html). A GET without
//!   the slash is answered `301` to the same path with it, as a Django app with `APPEND_SLASH`
//!   does ([gap]: the docs only say the slash is required; the list envelope and the `cursor`
//!   parameter are Django REST framework's, so its framework's behaviour is the likely one).
//! - `Authorization: Token <key>` on every request ([doc]); without it 401
//!   `{"detail":"Authentication credentials were not provided."}`, with an unknown key 401
//!   `{"detail":"Invalid token."}` (Django REST framework's token auth messages, [gap]).
//! - `Accept: */*; version=2` ([doc]); without `version=2`, 406
//!   `{"detail":"Invalid version in \"Accept\" header."}` ([code] "omitting the version causes
//!   errors"; the status and body are [gap], Django REST framework's for a bad version).
//! - Only GET is served; anything else is 405.
//!
//! ## Lists
//! `{"count", "next", "previous", "results"}` ([doc]), at most 100 results a page ([doc]),
//! ordered by id. `next`/`previous` are absolute URLs carrying the request's other parameters and
//! an opaque `cursor` ([code] clients GET `next` verbatim); a cursor the sandbox did not make is
//! 404 `{"detail":"Invalid cursor"}`. Cursors name the last id seen, so a page is the same
//! records after a delete elsewhere. There is no page-size parameter ([gap]).
//!
//! ## Endpoints
//! `users/`, `users/{id}/`, `users/{id}/events/`, `users/{id}/conversations/`,
//! `users/search/?search=updated_at&min=<unix>&max=<unix>` (both ends inclusive),
//! `conversations/{id}/`, `companies/`, `companies/{id}/`, `deals/` (`?user_id=`, `?stage=`),
//! `deals/{id}/`, `activities/`, `activities/{id}/`, `tags/`, `segments/`,
//! `segments/{id}/users/`, `attributes/`, `pipelines/`, `stages/`, `products/`. Automations and
//! email templates have no documented endpoint (the reference lists none), so the sandbox serves
//! none: a migration from the API lists them as not extracted.
//!
//! ## Limits and faults
//! - Rate limit ([`RateLimit`]): a token bucket per API key. When it is empty, 429
//!   `{"detail":"Too many requests. You have reached a rate limit."}` ([doc]
//!   http-response-codes.html) with `Retry-After` in whole seconds ([code] the uptimerobot SDK
//!   honours it); nothing is served.
//! - Faults ([`Faults`]): one draw per admitted request from a PRNG seeded by `Faults::seed`;
//!   a hit answers 500, 502 or 504 (the documented server errors) and serves nothing.
//!
//! ## Outside the API (no auth, not logged)
//! `POST /_sandbox/changes` moves the account to its state a month later ([`UsercomSandbox::advance_to_changes`]);
//! `GET /_sandbox/requests` lists every API request served so far;
//! `GET /_sandbox/redirect/{name}?to=URL` answers 302 to URL (a file link that moved, for tests).
//!
//! ## Files
//! With `AccountOptions::attachments`, chat messages link files (`Account::files`), served at
//! `GET /media/attachments/{message}/{name}` without the API key ([gap]: User.com documents no
//! file endpoint; a message's HTML content is the only place a file shows, see crm-migrate's
//! `attachments` module). [`UsercomSandbox::spawn`] and [`serve_with_shutdown`] point the links
//! at the sandbox's own address.

mod server;
pub mod shapes;

use std::future::Future;
use std::sync::Arc;

pub use server::Logged;
use server::Shared;
pub use usercom_export_gen::Options as AccountOptions;
pub use usercom_export_gen::account::Account;

/// A token bucket per API key: `burst` requests at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    pub burst: u32,
    pub per_second: f64,
}

/// Injected server errors: `rate` of admitted requests (0 to 1) answer 500, 502 or 504.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Faults {
    pub seed: u64,
    pub rate: f64,
}

impl Default for Faults {
    fn default() -> Faults {
        Faults { seed: 1, rate: 0.0 }
    }
}

/// What the sandbox serves and how it limits and fails.
#[derive(Debug, Clone)]
pub struct UsercomConfig {
    /// The account, as `usercom-export-gen` would write it (`dialect` only words segment rules
    /// and automations, which the API does not serve).
    pub account: AccountOptions,
    /// Accepted API keys.
    pub tokens: Vec<String>,
    /// None: no rate limit.
    pub rate: Option<RateLimit>,
    pub faults: Faults,
}

impl Default for UsercomConfig {
    fn default() -> UsercomConfig {
        UsercomConfig {
            account: AccountOptions::default(),
            tokens: vec!["usercom-sandbox-token".to_owned()],
            rate: None,
            faults: Faults::default(),
        }
    }
}

impl UsercomConfig {
    /// With files (`account.attachments` set), the messages link them at `url`, where this
    /// sandbox serves them.
    fn serving_files_at(mut self, url: &str) -> UsercomConfig {
        if self.account.attachments.is_some() {
            self.account.attachments = Some(url.to_owned());
        }
        self
    }
}

/// Serves until `shutdown` completes.
pub async fn serve_with_shutdown(
    config: UsercomConfig,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let config = config.serving_files_at(&format!("http://{}", listener.local_addr()?));
    let shared = Arc::new(Shared::new(config));
    axum::serve(listener, server::router(shared)).with_graceful_shutdown(shutdown).await
}

/// A sandbox on its own thread and tokio runtime, bound to `127.0.0.1:0`. Dropping it stops it.
pub struct UsercomSandbox {
    shared: Arc<Shared>,
    address: std::net::SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl UsercomSandbox {
    pub fn spawn(config: UsercomConfig) -> std::io::Result<UsercomSandbox> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config.serving_files_at(&format!("http://{address}"))));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("usercom-sandbox")
            .enable_all()
            .build()?;
        let served = shared.clone();
        let thread = std::thread::Builder::new().name("usercom-sandbox".to_owned()).spawn(move || {
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)?;
                axum::serve(listener, server::router(served))
                    .with_graceful_shutdown(async move {
                        let _ = stopped.await;
                    })
                    .await
            })
        })?;
        Ok(UsercomSandbox { shared, address, stop: Some(stop), thread: Some(thread) })
    }

    /// `http://127.0.0.1:PORT`: the account's URL (the API is under `/api/public/`).
    pub fn url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The account as served now.
    pub fn account(&self) -> Arc<Account> {
        self.shared.account()
    }

    /// Moves the account to its state a month later (`--changes`): new contacts and deals, some
    /// changed, half the anonymous visitors deleted. What was added or changed gets `updated_at`
    /// = now, so that a search from the time of an earlier extraction finds exactly it.
    pub fn advance_to_changes(&self) {
        self.shared.advance_to_changes();
    }

    /// Adds a tracked event to a user (as `POST events/` would) and leaves the user's
    /// `updated_at` as it is: the reference does not say whether a new event bumps it ([gap]), so
    /// the sandbox can serve the case an extraction must not miss.
    pub fn track_event(&self, user_id: u64, name: &'static str, timestamp: i64, data: &str) {
        self.shared.track_event(user_id, name, timestamp, data);
    }

    /// Every API request so far, in order (401s, 429s and faults too).
    pub fn requests(&self) -> Vec<Logged> {
        self.shared.requests()
    }

    /// How many times `path` (e.g. `/api/public/users/`) was answered 200 with this `cursor`
    /// (None: the first page), whatever other parameters it had.
    pub fn served(&self, path: &str, cursor: Option<&str>) -> usize {
        self.requests()
            .iter()
            .filter(|logged| logged.status == 200 && logged.path == path && logged.cursor.as_deref() == cursor)
            .count()
    }

    /// Pages (path and query) answered 200 more than once.
    pub fn served_twice(&self) -> Vec<String> {
        let mut seen = std::collections::BTreeMap::<String, usize>::new();
        for logged in self.requests().iter().filter(|logged| logged.status == 200) {
            *seen.entry(format!("{}?{}", logged.path, logged.query)).or_default() += 1;
        }
        seen.into_iter().filter(|(_, times)| *times > 1).map(|(page, _)| page).collect()
    }

    /// Replaces the faults (their PRNG restarts from the new seed).
    pub fn set_faults(&self, faults: Faults) {
        self.shared.set_faults(faults);
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

impl Drop for UsercomSandbox {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}
