//! Where an API token may go: the account URL is parsed (never prefix-matched) and accepted only
//! for the service's own hosts (Pipedrive's, or User.com's for the source), a host
//! `migration.toml` names explicitly, or this machine. Used by `Project::open` (so a bad URL is
//! refused before anything runs) and again by each client (so no caller can hand it a URL that
//! would carry the token elsewhere).

use reqwest::Url;

/// A service whose accounts live at `COMPANY.<domain>`, and where `migration.toml` configures it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    pub name: &'static str,
    /// Any subdomain of this is the service's.
    pub domain: &'static str,
    /// The `migration.toml` table holding its `url` and `allow_host`.
    pub section: &'static str,
    /// Whether this machine (where the sandbox runs) is accepted without `allow_host` naming it.
    pub loopback_without_allow_host: bool,
}

/// Pipedrive's accounts live at `COMPANY.pipedrive.com`; its sandbox on this machine is accepted.
pub const PIPEDRIVE: Service =
    Service { name: "Pipedrive", domain: "pipedrive.com", section: "target", loopback_without_allow_host: true };

/// A URL the token may be sent to: `scheme://host[:port]`, checked by [`check_target_url`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetUrl {
    url: Url,
}

impl TargetUrl {
    /// `https://acme.pipedrive.com` or `http://127.0.0.1:8089`: no trailing slash, ready for
    /// `/api/v2/...` to be appended.
    pub fn base(&self) -> String {
        self.url.as_str().trim_end_matches('/').to_string()
    }

    pub fn host(&self) -> String {
        self.url.host_str().unwrap_or_default().to_string()
    }
}

/// Why an account URL was refused. Messages show the URL without userinfo, query or fragment, so
/// that a password or token written into it is never repeated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetUrlError {
    #[error("'{shown}' is not a URL ({reason}); expected https://COMPANY.{}", .service.domain)]
    NotAUrl { shown: String, reason: String, service: Service },
    #[error("'{shown}': the scheme must be https (or http for a sandbox on this machine), not '{scheme}'")]
    Scheme { shown: String, scheme: String },
    #[error(
        "'{shown}' carries a user name or password before '@'; the token would go to the host after '@' ({host}); write only https://COMPANY.{}", .service.domain
    )]
    UserInfo { shown: String, host: String, service: Service },
    #[error("'{shown}' has a query or fragment ('?' or '#'); the account URL is only https://HOST[:PORT]")]
    QueryOrFragment { shown: String },
    #[error("'{shown}' has a path ('{path}'); the account URL is only https://HOST[:PORT] (crm-migrate adds /api/...)")]
    Path { shown: String, path: String },
    #[error(
        "'{shown}' must be https://: plain http would send the API token in clear to {host} (http is allowed only for 127.0.0.1, ::1 and localhost)"
    )]
    PlainHttp { shown: String, host: String },
    #[error(
        "'{shown}': {host} is not a {} host (*.{}); to send the API token there anyway, name it in migration.toml: [{}] allow_host = \"{host}\"", .service.name, .service.domain, .service.section
    )]
    ForeignHost { shown: String, host: String, service: Service },
    #[error(
        "allow_host '{given}' is not a host name (write only the host, e.g. crm.example.net, without scheme, port or path)"
    )]
    BadAllowHost { given: String },
}

/// Checks a Pipedrive account URL ([`check_account_url`] for [`PIPEDRIVE`]).
pub fn check_target_url(url: &str, allowed_host: Option<&str>) -> Result<TargetUrl, TargetUrlError> {
    check_account_url(url, PIPEDRIVE, allowed_host)
}

/// Checks an account URL: parsed, https (http only for loopback: 127.0.0.0/8, ::1 and the exact
/// host `localhost`), a host of the service (`*.pipedrive.com`) unless it is loopback or exactly
/// `allowed_host`, no userinfo, path, query or fragment.
pub fn check_account_url(url: &str, service: Service, allowed_host: Option<&str>) -> Result<TargetUrl, TargetUrlError> {
    let parsed = Url::parse(url.trim()).map_err(|error| TargetUrlError::NotAUrl {
        shown: shown_without_secrets(url),
        reason: error.to_string(),
        service,
    })?;
    let shown = shown_of(&parsed);
    let host = parsed.host_str().unwrap_or_default().to_ascii_lowercase();
    if !matches!(parsed.scheme(), "https" | "http") {
        return Err(TargetUrlError::Scheme { shown, scheme: parsed.scheme().to_string() });
    }
    if host.is_empty() {
        return Err(TargetUrlError::NotAUrl { shown, reason: "no host".into(), service });
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(TargetUrlError::UserInfo { shown, host, service });
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(TargetUrlError::QueryOrFragment { shown });
    }
    if parsed.path() != "/" && !parsed.path().is_empty() {
        return Err(TargetUrlError::Path { shown, path: parsed.path().to_string() });
    }
    let loopback = is_loopback(&parsed);
    if parsed.scheme() == "http" && !loopback {
        return Err(TargetUrlError::PlainHttp { shown, host });
    }
    let allowed = match allowed_host {
        Some(given) => {
            Some(normalized_host(given).ok_or_else(|| TargetUrlError::BadAllowHost { given: given.to_string() })?)
        }
        None => None,
    };
    let of_the_service = host.ends_with(&format!(".{}", service.domain));
    let named = allowed.as_deref() == Some(host.as_str());
    if !((loopback && service.loopback_without_allow_host) || of_the_service || named) {
        return Err(TargetUrlError::ForeignHost { shown, host, service });
    }
    Ok(TargetUrl { url: parsed })
}

/// 127.0.0.0/8, ::1, and the exact name `localhost` (not `localhost.example`).
fn is_loopback(url: &Url) -> bool {
    // The parser has already written IP addresses in their canonical form (`127.1` becomes
    // `127.0.0.1`, IPv6 sits in brackets), so parsing the host text back is exact.
    let host = url.host_str().unwrap_or_default();
    if let Some(v6) = host.strip_prefix('[').and_then(|host| host.strip_suffix(']')) {
        return v6.parse::<std::net::Ipv6Addr>().is_ok_and(|address| address.is_loopback());
    }
    match host.parse::<std::net::Ipv4Addr>() {
        Ok(address) => address.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// A host name as the URL parser would write it (lower case, punycode), or None when `given` is
/// more than a host.
fn normalized_host(given: &str) -> Option<String> {
    let given = given.trim();
    if given.is_empty() || given.contains(['/', '@', ':', '?', '#', ' ']) {
        return None;
    }
    let url = Url::parse(&format!("https://{given}")).ok()?;
    url.host_str().map(str::to_ascii_lowercase)
}

/// `scheme://host[:port]path`: what a message may repeat of a URL.
fn shown_of(url: &Url) -> String {
    let port = url.port().map(|port| format!(":{port}")).unwrap_or_default();
    format!("{}://{}{port}{}", url.scheme(), url.host_str().unwrap_or_default(), url.path().trim_end_matches('/'))
}

/// For text that does not even parse: cut at `@`, `?` and `#`, where secrets would sit.
fn shown_without_secrets(text: &str) -> String {
    let text = text.trim();
    let (scheme, rest) = text.split_once("://").unwrap_or(("", text));
    let rest = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
    let rest = rest.split(['?', '#']).next().unwrap_or_default();
    if scheme.is_empty() { rest.to_string() } else { format!("{scheme}://{rest}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issues_hostile_urls_are_refused_and_pipedrive_and_loopback_accepted() {
        for bad in [
            "http://127.0.0.1@evil.example",
            "http://localhost.evil.example",
            "http://evil.example",
            "https://evil.example",
            "https://user:pw@acme.pipedrive.com",
            "https://acme.pipedrive.com.evil.example",
            "https://acme.pipedrive.com?api_token=x",
            "https://acme.pipedrive.com#x",
            "https://acme.pipedrive.com/api",
            "http://acme.pipedrive.com",
            "https://pipedrive.com.",
            "https://evilpipedrive.com",
            "ftp://acme.pipedrive.com",
            "acme.pipedrive.com",
            "http://128.0.0.1:80",
        ] {
            assert!(check_target_url(bad, None).is_err(), "{bad} was accepted");
        }
        for good in [
            "https://acme.pipedrive.com",
            "https://acme.pipedrive.com/",
            "http://127.0.0.1:8089",
            "http://[::1]:8089",
            "http://localhost:1",
            "http://127.1.2.3",
        ] {
            assert!(check_target_url(good, None).is_ok(), "{good} was refused: {:?}", check_target_url(good, None));
        }
        assert_eq!(check_target_url("https://acme.pipedrive.com/", None).unwrap().base(), "https://acme.pipedrive.com");
    }

    #[test]
    fn another_host_passes_only_when_named_exactly_and_over_https() {
        assert!(check_target_url("https://crm.example.net", Some("crm.example.net")).is_ok());
        assert!(check_target_url("https://CRM.example.net", Some("crm.EXAMPLE.net")).is_ok());
        assert!(check_target_url("https://crm.example.net.evil.example", Some("crm.example.net")).is_err());
        assert!(check_target_url("http://crm.example.net", Some("crm.example.net")).is_err(), "http stays refused");
        assert!(matches!(
            check_target_url("https://crm.example.net", Some("https://crm.example.net")),
            Err(TargetUrlError::BadAllowHost { .. })
        ));
    }

    #[test]
    fn messages_never_repeat_a_password_or_query() {
        for url in [
            "https://user:s3cret@acme.pipedrive.com",
            "https://acme.pipedrive.com?api_token=s3cret",
            "https://u:s3cret@[bad",
            "http://evil.example/?s3cret",
        ] {
            let message = check_target_url(url, None).unwrap_err().to_string();
            assert!(!message.contains("s3cret"), "{message}");
        }
        let message = check_target_url("http://127.0.0.1@evil.example", None).unwrap_err().to_string();
        assert!(message.contains("evil.example"), "names where the token would go: {message}");
    }
}
