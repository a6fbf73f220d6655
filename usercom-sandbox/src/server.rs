//! The request flow (path -> auth -> version -> rate limit -> fault draw -> resource), the cursor
//! paging, the request log and the account's two states.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use usercom_export_gen::account::{Account, CHANGED_AT};

use crate::{Faults, RateLimit, UsercomConfig, shapes};

/// At most this many results a page ([doc] basic-api-usage.html: "up to 100 results per page").
pub const PAGE_SIZE: usize = 100;

/// The documented 429 message ([doc] https://apidocs.user.com/get-started/http-response-codes.html).
pub const RATE_LIMIT_MESSAGE: &str = "Too many requests. You have reached a rate limit.";

/// One API request as the sandbox answered it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Logged {
    pub method: String,
    /// The path as asked (`/api/public/users/`).
    pub path: String,
    /// The query string as asked, without the `?`.
    pub query: String,
    /// The `cursor` parameter, if any: which page of a list.
    pub cursor: Option<String>,
    pub status: u16,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The account with its API shapes made once: lists sorted by id, per-user indexes.
struct Served {
    account: Arc<Account>,
    users: Vec<(u64, Value)>,
    companies: Vec<(u64, Value)>,
    deals: Vec<(u64, Value)>,
    activities: Vec<(u64, Value)>,
    events_by_user: HashMap<u64, Vec<(u64, Value)>>,
    conversations_by_user: HashMap<u64, Vec<(u64, Value)>>,
    conversations: HashMap<u64, Value>,
}

impl Served {
    fn new(account: Account) -> Served {
        let by_id = |mut items: Vec<(u64, Value)>| {
            items.sort_by_key(|(id, _)| *id);
            items
        };
        let mut events_by_user: HashMap<u64, Vec<(u64, Value)>> = HashMap::new();
        for event in &account.events {
            events_by_user.entry(event.user_id).or_default().push((event.id, shapes::event(event)));
        }
        let mut conversations_by_user: HashMap<u64, Vec<(u64, Value)>> = HashMap::new();
        for conversation in &account.conversations {
            conversations_by_user
                .entry(conversation.user_id)
                .or_default()
                .push((conversation.id, shapes::conversation_summary(&account, conversation)));
        }
        for list in events_by_user.values_mut().chain(conversations_by_user.values_mut()) {
            list.sort_by_key(|(id, _)| *id);
        }
        Served {
            users: by_id(account.users.iter().map(|user| (user.id, shapes::user(&account, user))).collect()),
            companies: by_id(
                account.companies.iter().map(|company| (company.id, shapes::company(&account, company))).collect(),
            ),
            deals: by_id(account.deals.iter().map(|deal| (deal.id, shapes::deal(&account, deal))).collect()),
            activities: by_id(account.activities.iter().map(|a| (a.id, shapes::activity(a))).collect()),
            conversations: account
                .conversations
                .iter()
                .map(|conversation| (conversation.id, shapes::conversation(&account, conversation)))
                .collect(),
            events_by_user,
            conversations_by_user,
            account: Arc::new(account),
        }
    }
}

/// One bucket of the rate limit.
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// SplitMix64: the fault draws, deterministic for a seed and a request sequence.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub struct Shared {
    config: UsercomConfig,
    served: RwLock<Arc<Served>>,
    buckets: Mutex<HashMap<String, Bucket>>,
    faults: Mutex<(Faults, Dice)>,
    log: Mutex<Vec<Logged>>,
}

impl Shared {
    pub fn new(config: UsercomConfig) -> Shared {
        let account = Account::new(&UsercomConfig::first_state(&config));
        let faults = config.faults;
        Shared {
            served: RwLock::new(Arc::new(Served::new(account))),
            buckets: Mutex::new(HashMap::new()),
            faults: Mutex::new((faults, Dice(faults.seed))),
            log: Mutex::new(Vec::new()),
            config,
        }
    }

    fn served(&self) -> Arc<Served> {
        self.served.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    pub fn account(&self) -> Arc<Account> {
        self.served().account.clone()
    }

    pub fn advance_to_changes(&self) {
        let options = usercom_export_gen::Options { changes: true, ..UsercomConfig::first_state(&self.config) };
        let mut account = Account::new(&options);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(CHANGED_AT, |since| since.as_secs() as i64);
        // The generator dates what changed a month after its first export; here it changed now,
        // after any extraction a test made of the first state.
        for user in account.users.iter_mut().filter(|user| user.updated_at == CHANGED_AT) {
            user.updated_at = now;
        }
        for deal in account.deals.iter_mut().filter(|deal| deal.updated_at == CHANGED_AT) {
            deal.updated_at = now;
        }
        *self.served.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(Served::new(account));
    }

    /// Adds a tracked event to a user, leaving the user's `updated_at` as it is.
    pub fn track_event(&self, user_id: u64, name: &'static str, timestamp: i64, data: &str) {
        let mut account = (*self.account()).clone();
        let id = account.events.iter().map(|event| event.id).max().unwrap_or(0) + 1;
        account.events.push(usercom_export_gen::account::Event { id, name, user_id, timestamp, data: data.to_owned() });
        *self.served.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(Served::new(account));
    }

    pub fn requests(&self) -> Vec<Logged> {
        lock(&self.log).clone()
    }

    pub fn set_faults(&self, faults: Faults) {
        *lock(&self.faults) = (faults, Dice(faults.seed));
    }

    /// Takes one request from `token`'s bucket; `Err(seconds)` to wait when it is empty.
    fn admit(&self, token: &str, rate: RateLimit) -> Result<(), u64> {
        let mut buckets = lock(&self.buckets);
        let now = Instant::now();
        let bucket =
            buckets.entry(token.to_owned()).or_insert_with(|| Bucket { tokens: f64::from(rate.burst), at: now });
        let refill = now.duration_since(bucket.at).as_secs_f64() * rate.per_second;
        bucket.tokens = (bucket.tokens + refill).min(f64::from(rate.burst));
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / rate.per_second;
            Err((wait.ceil() as u64).max(1))
        }
    }

    /// The fault this request draws, if any.
    fn fault(&self) -> Option<StatusCode> {
        let mut faults = lock(&self.faults);
        let (settings, dice) = &mut *faults;
        if settings.rate <= 0.0 || dice.unit() >= settings.rate {
            return None;
        }
        Some(match dice.next() % 3 {
            0 => StatusCode::INTERNAL_SERVER_ERROR,
            1 => StatusCode::BAD_GATEWAY,
            _ => StatusCode::GATEWAY_TIMEOUT,
        })
    }
}

impl UsercomConfig {
    /// The account's first state: the generator's options without `changes`.
    fn first_state(config: &UsercomConfig) -> usercom_export_gen::Options {
        usercom_export_gen::Options { changes: false, ..config.account.clone() }
    }
}

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/_sandbox/changes",
            post(|State(shared): State<Arc<Shared>>| async move {
                shared.advance_to_changes();
                axum::Json(json!({"state": "changes"}))
            }),
        )
        .route(
            "/_sandbox/requests",
            get(|State(shared): State<Arc<Shared>>| async move { axum::Json(shared.requests()) }),
        )
        .route("/_sandbox/redirect/{name}", get(redirect))
        .route("/media/attachments/{message}/{name}", get(file))
        .fallback(api)
        .with_state(shared)
}

/// A file a chat message links to (`Account::files`). Served without the API key: how User.com
/// serves chat uploads, and whether they need the key, is not documented ([gap]); crm-migrate
/// never sends a key with a download, so a sandbox that asked for one would test nothing.
async fn file(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let account = shared.account();
    match account.files.iter().find(|file| file.path == request.uri().path()) {
        Some(file) => ([(header::CONTENT_TYPE, "application/octet-stream")], file.bytes()).into_response(),
        None => detail(StatusCode::NOT_FOUND, "Not found."),
    }
}

/// `302` to the `to` parameter: a file link (`/_sandbox/redirect/offer.pdf?to=URL`) that moves
/// elsewhere, for tests of where a download may be redirected.
async fn redirect(request: Request) -> Response {
    let params = url_params(request.uri().query().unwrap_or(""));
    match params.into_iter().find(|(name, _)| name == "to").and_then(|(_, to)| HeaderValue::from_str(&to).ok()) {
        Some(to) => (StatusCode::FOUND, [(header::LOCATION, to)]).into_response(),
        None => detail(StatusCode::BAD_REQUEST, "to= is required"),
    }
}

fn detail(status: StatusCode, message: &str) -> Response {
    Refusal::detail(status, message).into_response()
}

/// An answer other than 200 from a resource: its status and JSON body.
pub struct Refusal {
    status: StatusCode,
    body: Value,
}

impl Refusal {
    /// Django REST framework's error body, `{"detail": ...}`.
    fn detail(status: StatusCode, message: &str) -> Refusal {
        Refusal { status, body: json!({ "detail": message }) }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body)).into_response()
    }
}

async fn api(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (path, query) = (request.uri().path().to_owned(), request.uri().query().unwrap_or("").to_owned());
    let params: Vec<(String, String)> = url_params(&query);
    let cursor = params.iter().find(|(name, _)| name == "cursor").map(|(_, value)| value.clone());
    let response = answer(&shared, request.method(), request.headers(), &path, &query, &params);
    lock(&shared.log).push(Logged {
        method: request.method().to_string(),
        path,
        query,
        cursor,
        status: response.status().as_u16(),
    });
    response
}

fn answer(
    shared: &Shared,
    method: &Method,
    headers: &HeaderMap,
    path: &str,
    query: &str,
    params: &[(String, String)],
) -> Response {
    let Some(resource) = path.strip_prefix("/api/public/") else {
        return detail(StatusCode::NOT_FOUND, "Not found.");
    };
    if !path.ends_with('/') {
        // APPEND_SLASH: the same path with its slash ([gap], see the crate's docs).
        let location = if query.is_empty() { format!("{path}/") } else { format!("{path}/?{query}") };
        return (StatusCode::MOVED_PERMANENTLY, [(header::LOCATION, location)]).into_response();
    }
    // [doc] basic-api-usage.html: "Authorization: Token <your_64_char_api_key>".
    let token = match headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok()) {
        None => return detail(StatusCode::UNAUTHORIZED, "Authentication credentials were not provided."),
        Some(value) => match value.strip_prefix("Token ") {
            Some(token) if shared.config.tokens.iter().any(|known| known == token.trim()) => token.trim().to_owned(),
            _ => return detail(StatusCode::UNAUTHORIZED, "Invalid token."),
        },
    };
    // [doc] basic-api-usage.html: "Accept: */*; version=2".
    let accept = headers.get(header::ACCEPT).and_then(|value| value.to_str().ok()).unwrap_or("");
    if !accept.split(';').any(|part| part.trim() == "version=2") {
        return detail(StatusCode::NOT_ACCEPTABLE, "Invalid version in \"Accept\" header.");
    }
    if method != Method::GET {
        return detail(StatusCode::METHOD_NOT_ALLOWED, &format!("Method \"{method}\" not allowed."));
    }
    if let Some(rate) = shared.config.rate
        && let Err(wait) = shared.admit(&token, rate)
    {
        let mut response = detail(StatusCode::TOO_MANY_REQUESTS, RATE_LIMIT_MESSAGE);
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(wait));
        return response;
    }
    if let Some(status) = shared.fault() {
        return match status {
            StatusCode::INTERNAL_SERVER_ERROR => detail(status, "A server error occurred."),
            _ => {
                (status, [(header::CONTENT_TYPE, "text/html")], format!("<html><body><h1>{status}</h1></body></html>"))
                    .into_response()
            }
        };
    }
    let base = match headers.get(header::HOST).and_then(|host| host.to_str().ok()) {
        Some(host) => format!("http://{host}"),
        None => "http://localhost".to_owned(),
    };
    let lists = Lists { base: &base, path, params };
    match resource_of(&shared.served(), resource, &lists) {
        Ok(body) => axum::Json(body).into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

/// What a list answer needs of its request: where `next` and `previous` point.
struct Lists<'a> {
    base: &'a str,
    path: &'a str,
    params: &'a [(String, String)],
}

impl Lists<'_> {
    fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    /// One page of `items` (sorted by id) as the list envelope ([doc] basic-api-usage.html:
    /// `count` across all pages, `next`/`previous` URLs or null). The cursor is
    /// `p=<id>` (after that id) or `r=1&p=<id>` (before it), base64: opaque to clients.
    fn page<'v>(&self, items: impl IntoIterator<Item = &'v (u64, Value)>) -> Result<Value, Refusal> {
        let items: Vec<&(u64, Value)> = items.into_iter().collect();
        let position = match self.param("cursor") {
            None => Cursor::After(None),
            Some(cursor) => {
                decode_cursor(cursor).ok_or_else(|| Refusal::detail(StatusCode::NOT_FOUND, "Invalid cursor"))?
            }
        };
        let start = match position {
            Cursor::After(None) => 0,
            Cursor::After(Some(id)) => items.partition_point(|(item, _)| *item <= id),
            Cursor::Before(id) => items.partition_point(|(item, _)| *item < id).saturating_sub(PAGE_SIZE),
        };
        let end = match position {
            Cursor::Before(id) => items.partition_point(|(item, _)| *item < id),
            _ => (start + PAGE_SIZE).min(items.len()),
        };
        let page = &items[start..end];
        let next = (end < items.len()).then(|| self.url(&format!("p={}", page.last().map_or(0, |(id, _)| *id))));
        let previous = (start > 0).then(|| self.url(&format!("r=1&p={}", items[start].0)));
        Ok(json!({
            "count": items.len(),
            "next": next,
            "previous": previous,
            "results": page.iter().map(|(_, value)| value.clone()).collect::<Vec<_>>(),
        }))
    }

    fn url(&self, position: &str) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.extend_pairs(self.params.iter().filter(|(name, _)| name != "cursor"));
        query.append_pair("cursor", &URL_SAFE_NO_PAD.encode(position));
        format!("{}{}?{}", self.base, self.path, query.finish())
    }
}

enum Cursor {
    After(Option<u64>),
    Before(u64),
}

fn decode_cursor(cursor: &str) -> Option<Cursor> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    match text.strip_prefix("r=1&p=") {
        Some(id) => Some(Cursor::Before(id.parse().ok()?)),
        None => Some(Cursor::After(Some(text.strip_prefix("p=")?.parse().ok()?))),
    }
}

fn not_found() -> Refusal {
    Refusal::detail(StatusCode::NOT_FOUND, "Not found.")
}

fn one(items: &[(u64, Value)], id: &str) -> Result<Value, Refusal> {
    let id: u64 = id.parse().map_err(|_| not_found())?;
    items.binary_search_by_key(&id, |(item, _)| *item).map(|at| items[at].1.clone()).map_err(|_| not_found())
}

fn resource_of(served: &Served, resource: &str, lists: &Lists) -> Result<Value, Refusal> {
    let account = &served.account;
    let segments: Vec<&str> = resource.trim_end_matches('/').split('/').collect();
    let catalogue = |values: Vec<(u64, Value)>| lists.page(&values);
    match segments[..] {
        ["users"] => lists.page(&served.users),
        ["users", "search"] => search_users(served, lists),
        ["users", id] => one(&served.users, id),
        ["users", id, "events"] => {
            let id: u64 = id.parse().map_err(|_| not_found())?;
            one(&served.users, &id.to_string())?;
            lists.page(served.events_by_user.get(&id).into_iter().flatten())
        }
        ["users", id, "conversations"] => {
            let id: u64 = id.parse().map_err(|_| not_found())?;
            one(&served.users, &id.to_string())?;
            // `?status=true`: open conversations only ([doc] get-user-conversations); the
            // generated ones are all closed.
            let open_only = lists.param("status") == Some("true");
            lists.page(served.conversations_by_user.get(&id).into_iter().flatten().filter(|_| !open_only))
        }
        ["conversations", id] => {
            let id: u64 = id.parse().map_err(|_| not_found())?;
            let conversation = served.conversations.get(&id).ok_or_else(not_found)?;
            // [doc] get-single-conversation.html: the envelope with `results` the conversation.
            Ok(json!({"results": conversation, "previous": null, "count": 1, "next": null}))
        }
        ["companies"] => lists.page(&served.companies),
        ["companies", id] => one(&served.companies, id),
        ["deals"] => {
            // [doc] get-deals-by-user.html (`?user_id=`), v1/deals/get-deals-by-stage.html (`?stage=`).
            let filter = |name: &str| lists.param(name).map(|value| value.parse::<u64>().ok());
            let (user, stage) = (filter("user_id"), filter("stage"));
            let matches = |value: &Value, wanted: Option<Option<u64>>, key: &str| match wanted {
                None => true,
                Some(wanted) => wanted.is_some() && value[key].as_u64() == wanted,
            };
            lists.page(
                served.deals.iter().filter(|(_, deal)| matches(deal, user, "user_id") && matches(deal, stage, "stage")),
            )
        }
        ["deals", id] => one(&served.deals, id),
        ["activities"] => lists.page(&served.activities),
        ["activities", id] => one(&served.activities, id),
        ["tags"] => catalogue(account.tags.iter().map(|tag| (tag.id, shapes::tag(tag))).collect()),
        ["segments"] => catalogue(
            account.segments.iter().map(|segment| (segment.id, shapes::segment(segment, lists.base))).collect(),
        ),
        ["segments", id, "users"] => {
            let id: u64 = id.parse().map_err(|_| not_found())?;
            let segment = account.segments.iter().find(|segment| segment.id == id).ok_or_else(not_found)?;
            let members = segment_members(served, segment.id, segment.object_count as usize);
            lists.page(members)
        }
        ["attributes"] => catalogue(account.attributes.iter().map(|a| (a.id, shapes::attribute(a))).collect()),
        ["pipelines"] => catalogue(account.pipelines.iter().map(|p| (p.id, shapes::pipeline(p))).collect()),
        ["stages"] => catalogue(account.stages.iter().map(|stage| (stage.id, shapes::stage(stage))).collect()),
        ["products"] => catalogue(account.products.iter().map(|p| (p.id, shapes::product(p))).collect()),
        _ => Err(not_found()),
    }
}

/// `users/search/?search=updated_at&min=<unix>&max=<unix>` ([code] keghub
/// `UserComClient.Users.cs` `FindByDateAsync`): users whose `updated_at` is in [min, max], paged
/// like any list. Other searches are not simulated: 400 `{"errors": ...}` ([code] the 400 body
/// of kerak19/userengage-go).
fn search_users(served: &Served, lists: &Lists) -> Result<Value, Refusal> {
    let bad =
        |message: &str| Refusal { status: StatusCode::BAD_REQUEST, body: json!({"errors": {"search": [message]}}) };
    if lists.param("search") != Some("updated_at") {
        return Err(bad("the sandbox searches by updated_at only (search=updated_at&min=&max=)"));
    }
    let bound = |name: &str| lists.param(name).map(|value| value.parse::<i64>());
    let (min, max) = match (bound("min"), bound("max")) {
        (Some(Ok(min)), Some(Ok(max))) => (min, max),
        _ => return Err(bad("min and max are unix seconds")),
    };
    let account = &served.account;
    let within: Vec<u64> =
        account.users.iter().filter(|user| (min..=max).contains(&user.updated_at)).map(|user| user.id).collect();
    lists.page(served.users.iter().filter(|(id, _)| within.binary_search(id).is_ok()))
}

/// A segment's members: `count` users picked by a hash of (segment, user), so that segments
/// differ. [gap] membership is not in the export; the sandbox makes it consistent with the
/// segment's `object_count`.
fn segment_members(served: &Served, segment: u64, count: usize) -> Vec<&(u64, Value)> {
    let mut ranked: Vec<&(u64, Value)> = served.users.iter().collect();
    ranked.sort_by_key(|(id, _)| Dice(id ^ segment.rotate_left(32)).next());
    ranked.truncate(count);
    ranked.sort_by_key(|(id, _)| *id);
    ranked
}

/// The query's parameters, percent-decoded.
fn url_params(query: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes()).into_owned().collect()
}
