//! What can go wrong talking to Pipedrive, by kind, so that callers can decide what to do next.

use std::time::Duration;

/// A failed Pipedrive call. Messages never contain the API token.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("Pipedrive refused the API token (401): check the token and the account URL")]
    Unauthorized,
    #[error(
        "Pipedrive's firewall blocked this API token (403 HTML page) after too many requests; \
         wait at least an hour before trying again, and report it if it happens without 429s before it"
    )]
    Blocked,
    #[error("the company's daily API token budget is used up; it resets in {}", human_duration(*resets_in))]
    BudgetExhausted { resets_in: Duration },
    #[error("{operation}: Pipedrive rejected the request ({status}): {message}")]
    Rejected { operation: &'static str, status: u16, message: String },
    #[error("{operation}: not found in Pipedrive ({path})")]
    NotFound { operation: &'static str, path: String },
    /// A write left without an answer: Pipedrive may or may not have applied it. Writing it again
    /// could create a duplicate, so the caller must look before it retries.
    #[error("{operation}: the response was lost ({reason}); Pipedrive may or may not have applied the write")]
    WriteOutcomeUnknown { operation: &'static str, reason: String },
    #[error("{operation}: gave up after {attempts} attempts; last: {last}")]
    GaveUp { operation: &'static str, attempts: u32, last: String },
    #[error("{operation}: Pipedrive's answer could not be read: {reason}")]
    BadResponse { operation: &'static str, reason: String },
    /// The account URL would send the token somewhere it must not go (checked before any request).
    #[error("the API token is not sent to {0}")]
    UnsafeTargetUrl(#[from] super::TargetUrlError),
    /// The server answered with a redirect. Redirects are never followed: the token would go with
    /// the request to wherever `Location` points, maybe another host or plain http.
    #[error(
        "{operation}: the account URL answered {status}, a redirect to {location_host}; crm-migrate does not follow redirects (the API token would go along): check [target] url in migration.toml"
    )]
    Redirected { operation: &'static str, status: u16, location_host: String },
    #[error("no Pipedrive operation {method} {path} in the API this client knows")]
    UnknownOperation { method: String, path: String },
}

impl ClientError {
    /// Whether a later run could succeed without anyone changing anything.
    pub fn is_temporary(&self) -> bool {
        matches!(
            self,
            ClientError::BudgetExhausted { .. } | ClientError::GaveUp { .. } | ClientError::WriteOutcomeUnknown { .. }
        )
    }
}

/// "3 h 20 min", "45 s": for messages a person reads.
pub fn human_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    match seconds {
        0..=59 => format!("{seconds} s"),
        60..=3599 => format!("{} min {} s", seconds / 60, seconds % 60),
        _ => format!("{} h {} min", seconds / 3600, seconds % 3600 / 60),
    }
}
