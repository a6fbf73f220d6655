//! What Pipedrive's API costs and allows: token costs per operation, plans with their daily token
//! budgets and burst limits, and the rate-limit headers. The sandbox enforces these numbers and the
//! client paces itself by them, so both read them from this one crate.
//!
//! Sources: Pipedrive's rate-limiting docs (token budgets since December 2024) and the `x-token-cost`
//! of every operation in the official OpenAPI specs, kept in `token-costs.tsv`.

pub mod limits;
pub mod webhooks;

use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::Duration;

/// Every company gets this many tokens a day per seat, times its plan's multiplier.
pub const BASE_DAILY_TOKENS: u64 = 30_000;

/// Burst limits count requests in a rolling window of this length, per API token.
pub const BURST_WINDOW: Duration = Duration::from_secs(2);

/// The search endpoints allow this many requests per window on every plan.
pub const SEARCH_BURST_LIMIT: u32 = 10;

/// Response headers through which Pipedrive reports the limits.
pub mod headers {
    /// Requests this token may make per 2-second window.
    pub const BURST_LIMIT: &str = "x-ratelimit-limit";
    /// Requests left in the current window.
    pub const BURST_REMAINING: &str = "x-ratelimit-remaining";
    /// Seconds until the window frees up (not an epoch).
    pub const BURST_RESET: &str = "x-ratelimit-reset";
    /// The company's daily token budget.
    pub const DAILY_TOKEN_LIMIT: &str = "x-daily-ratelimit-token-limit";
    /// Tokens left today.
    pub const DAILY_TOKEN_REMAINING: &str = "x-daily-ratelimit-token-remaining";
    /// Seconds to wait before trying again, on a 429.
    pub const RETRY_AFTER: &str = "retry-after";
}

/// A Pipedrive subscription plan: it sets the daily token multiplier and the burst limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Plan {
    Lite,
    Growth,
    Premium,
    Ultimate,
}

impl Plan {
    pub const ALL: [Plan; 4] = [Plan::Lite, Plan::Growth, Plan::Premium, Plan::Ultimate];

    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Lite => "lite",
            Plan::Growth => "growth",
            Plan::Premium => "premium",
            Plan::Ultimate => "ultimate",
        }
    }

    /// The multiplier of the daily token budget.
    pub fn token_multiplier(self) -> u64 {
        match self {
            Plan::Lite => 1,
            Plan::Growth => 2,
            Plan::Premium => 5,
            Plan::Ultimate => 7,
        }
    }

    /// Requests per 2-second window for an API-token integration (OAuth apps get four times as many).
    pub fn burst_limit(self) -> u32 {
        match self {
            Plan::Lite => 20,
            Plan::Growth => 40,
            Plan::Premium => 100,
            Plan::Ultimate => 120,
        }
    }

    /// The company's daily token budget: 30,000 x plan multiplier x seats, plus purchased top-ups.
    pub fn daily_token_budget(self, seats: u32, top_up_tokens: u64) -> u64 {
        BASE_DAILY_TOKENS * self.token_multiplier() * u64::from(seats.max(1)) + top_up_tokens
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Plan {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Plan::ALL
            .into_iter()
            .find(|plan| plan.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| format!("unknown Pipedrive plan '{text}'; expected one of lite, growth, premium, ultimate"))
    }
}

/// Which of Pipedrive's two APIs an operation belongs to: `/v1` (or `/api/v1`) or `/api/v2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiVersion {
    V1,
    V2,
}

impl ApiVersion {
    /// The path prefix this project sends (Pipedrive serves v1 under both `/v1` and `/api/v1`).
    pub fn prefix(self) -> &'static str {
        match self {
            ApiVersion::V1 => "/api/v1",
            ApiVersion::V2 => "/api/v2",
        }
    }

    /// Splits a request path into the API version and the path below the version prefix.
    pub fn split_path(path: &str) -> Option<(ApiVersion, &str)> {
        if let Some(rest) = path.strip_prefix("/api/v2") {
            Some((ApiVersion::V2, rest))
        } else {
            path.strip_prefix("/api/v1").or_else(|| path.strip_prefix("/v1")).map(|rest| (ApiVersion::V1, rest))
        }
        .filter(|(_, rest)| rest.is_empty() || rest.starts_with('/'))
    }
}

/// One operation of Pipedrive's API and what it costs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub version: ApiVersion,
    pub method: &'static str,
    /// The spec's path template below the version prefix, such as `/persons/{id}`.
    pub template: &'static str,
    pub token_cost: u32,
    pub operation_id: &'static str,
    pub deprecated: bool,
}

impl Operation {
    /// Search endpoints have their own, lower burst limit.
    pub fn is_search(&self) -> bool {
        self.template.ends_with("/search") || self.template.starts_with("/itemSearch")
    }

    /// Whether sending the same request twice does no more than sending it once.
    pub fn is_idempotent(&self) -> bool {
        matches!(self.method, "GET" | "PUT" | "DELETE" | "PATCH")
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        if !self.method.eq_ignore_ascii_case(method) {
            return false;
        }
        let mut template = self.template.split('/');
        let mut concrete = path.split('/');
        loop {
            match (template.next(), concrete.next()) {
                (None, None) => return true,
                (Some(pattern), Some(segment)) if pattern.starts_with('{') => {
                    if segment.is_empty() {
                        return false;
                    }
                }
                (Some(pattern), Some(segment)) if pattern == segment => {}
                _ => return false,
            }
        }
    }

    /// Literal segments beat parameters: `/persons/search` is not `/persons/{id}`.
    fn specificity(&self) -> usize {
        self.template.split('/').filter(|segment| !segment.starts_with('{')).count()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("token-costs.tsv line {line}: {reason}")]
pub struct TableError {
    pub line: usize,
    pub reason: String,
}

const TOKEN_COSTS: &str = include_str!("../token-costs.tsv");

/// Every operation of the v1 and v2 specs with its token cost.
pub fn operations() -> &'static [Operation] {
    static TABLE: OnceLock<Vec<Operation>> = OnceLock::new();
    TABLE.get_or_init(|| {
        parse_table(TOKEN_COSTS).expect("the token cost table compiled into this crate is well-formed (unit-tested)")
    })
}

/// The operation a request is, by method and full path (`/api/v2/persons/7`, `/v1/notes`).
pub fn operation(method: &str, path: &str) -> Option<&'static Operation> {
    let (version, below) = ApiVersion::split_path(path)?;
    operations()
        .iter()
        .filter(|op| op.version == version && op.matches(method, below))
        .max_by_key(|op| op.specificity())
}

fn parse_table(text: &'static str) -> Result<Vec<Operation>, TableError> {
    let mut operations = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let error = |reason: String| TableError { line: index + 1, reason };
        let columns: Vec<&'static str> = line.split('\t').collect();
        let [version, method, template, cost, operation_id, deprecated] = columns[..] else {
            return Err(error(format!("expected 6 tab-separated columns, found {}", columns.len())));
        };
        let version = match version {
            "v1" => ApiVersion::V1,
            "v2" => ApiVersion::V2,
            other => return Err(error(format!("unknown version '{other}'"))),
        };
        let token_cost = cost.parse().map_err(|_| error(format!("token cost '{cost}' is not a number")))?;
        operations.push(Operation {
            version,
            method,
            template,
            token_cost,
            operation_id,
            deprecated: deprecated == "deprecated",
        });
    }
    Ok(operations)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daily_budget_follows_the_documented_formula() {
        assert_eq!(Plan::Lite.daily_token_budget(1, 0), 30_000);
        // The docs' worked example: a 10-seat Growth company gets 600,000 tokens a day.
        assert_eq!(Plan::Growth.daily_token_budget(10, 0), 600_000);
        assert_eq!(Plan::Ultimate.daily_token_budget(3, 5_000), 635_000);
    }

    #[test]
    fn the_table_parses_and_covers_both_specs() {
        let table = parse_table(TOKEN_COSTS).unwrap();
        assert_eq!(table.iter().filter(|op| op.version == ApiVersion::V1).count(), 213);
        assert_eq!(table.iter().filter(|op| op.version == ApiVersion::V2).count(), 158);
    }

    #[test]
    fn requests_resolve_to_their_operation_and_cost() {
        let cost = |method, path| operation(method, path).map(|op| (op.operation_id, op.token_cost));
        assert_eq!(cost("POST", "/api/v2/persons"), Some(("addPerson", 5)));
        assert_eq!(cost("GET", "/api/v2/persons/search"), Some(("searchPersons", 20)));
        assert_eq!(cost("GET", "/api/v2/persons/42"), Some(("getPerson", 1)));
        assert_eq!(cost("PATCH", "/api/v2/persons/42"), Some(("updatePerson", 5)));
        assert_eq!(cost("GET", "/v1/notes"), Some(("getNotes", 20)));
        assert_eq!(cost("POST", "/api/v1/notes"), Some(("addNote", 10)));
        assert_eq!(cost("GET", "/api/v2/itemSearch/field"), Some(("searchItemByField", 20)));
        assert_eq!(cost("GET", "/v2/persons"), None, "Pipedrive serves v2 only under /api/v2");
        assert_eq!(cost("POST", "/api/v2/persons/"), None);
        assert!(operation("GET", "/api/v2/persons/search").unwrap().is_search());
        assert!(!operation("GET", "/api/v2/persons").unwrap().is_search());
    }

    #[test]
    fn a_malformed_table_line_is_reported_with_its_number() {
        let error = parse_table("# header\nv2\tGET\t/persons\tten\tgetPersons\t-\n").unwrap_err();
        assert_eq!(error.line, 2);
        assert!(error.reason.contains("'ten'"), "{}", error.reason);
    }
}
