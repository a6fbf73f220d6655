//! The API token: kept out of every log, report, error and database by having no way to print it.

use std::fmt;

/// An API token (Pipedrive's, or User.com's for the source). `Debug` and `Display` print a
/// redaction; only the transports (`pipedrive_client`'s, `crm_migrate::usercom::client`) read the value.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken(String);

impl ApiToken {
    pub fn new(token: impl Into<String>) -> Result<ApiToken, &'static str> {
        let token = token.into().trim().to_string();
        if token.is_empty() {
            return Err("the API token is empty");
        }
        if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("the API token contains whitespace or control characters");
        }
        Ok(ApiToken(token))
    }

    /// The token itself, for a transport's header (public for User.com's client in crm-migrate).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken(<redacted>)")
    }
}

impl fmt::Display for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_never_prints() {
        let token = ApiToken::new("0123456789abcdef").unwrap();
        assert!(!format!("{token:?} {token}").contains("0123"));
        assert!(ApiToken::new("  ").is_err());
        assert!(ApiToken::new("abc def").is_err());
    }
}
