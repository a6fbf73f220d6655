//! Attachments: the files an export's records link to, found, checked against the project's
//! rules, and fetched, for apply to upload them to Pipedrive's Files with their record.
//!
//! What User.com shows of files, and so the one shape read here:
//! - Attribute types are boolean, integer, date, string, datetime, fixed and float: there is no
//!   file attribute on a contact, company or deal ([doc]
//!   https://apidocs.user.com/get-started/miscellaneous.html "Attribute types"; the same list in
//!   keghub/usercom-dotnet-sdk `ValueType.cs`, `shared/reference/usercom-api.md` section 3b).
//! - A conversation's messages are `{user, content, chat, source, source_context, id, timestamp}`
//!   with no attachments or files field ([doc]
//!   https://apidocs.user.com/conversations/get-single-conversation.html), and a message's
//!   content "can be just plain text or HTML" ([doc]
//!   https://apidocs.user.com/conversations/create-message.html).
//! - No files endpoint is documented, nor in any public client found ([gap]).
//!
//! So a file reaches the export only as a link in a chat message's HTML content:
//! `<a href="https://acme.user.com/media/...">offer.pdf</a>`. Which host User.com serves chat
//! uploads from, and whether they need the API key, is not documented ([gap]): the project names
//! the hosts it trusts (`[attachments] allow_hosts`, the account's own host by default), and no
//! token is ever sent with a download (neither Pipedrive's nor User.com's). A link counts as a
//! file when its last path segment has an extension (`.pdf`); other links are pages, not files.
//!
//! The URL comes from the export and is untrusted: https only (http only on this machine, where
//! the sandboxes run, and only when allow_hosts names it), an allowed host, no user name or
//! password, redirects followed only to an allowed host, a size bound and a timeout.

use std::time::Duration;

use reqwest::Url;

/// Bytes a file may have by default: the most Pipedrive is assumed to take in one upload
/// ([`pipedrive_api::limits::FILE_MAX_BYTES`], a [gap]).
pub const DEFAULT_MAX_BYTES: u64 = pipedrive_api::limits::FILE_MAX_BYTES;
const DEFAULT_TIMEOUT_SECONDS: u64 = 60;
/// The longest file name sent to Pipedrive (bytes); longer ones are cut at a character boundary.
const NAME_MAX_BYTES: usize = 200;

/// `[attachments]` in migration.toml.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttachmentsConfig {
    /// Hosts files may be downloaded from, exactly (`cdn.example.net`); the account's own host
    /// (`ACCOUNT.user.com`, or the API's) is always one.
    #[serde(default)]
    pub allow_hosts: Vec<String>,
    /// A larger file is left out (listed with its size).
    #[serde(default = "max_bytes")]
    pub max_bytes: u64,
    /// A download taking longer is left out.
    #[serde(default = "timeout_seconds")]
    pub timeout_seconds: u64,
}

fn max_bytes() -> u64 {
    DEFAULT_MAX_BYTES
}

fn timeout_seconds() -> u64 {
    DEFAULT_TIMEOUT_SECONDS
}

impl Default for AttachmentsConfig {
    fn default() -> AttachmentsConfig {
        AttachmentsConfig { allow_hosts: Vec::new(), max_bytes: max_bytes(), timeout_seconds: timeout_seconds() }
    }
}

/// A file link found in a record's text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Link {
    pub url: String,
    /// The file's name: the link's text, else the URL's last segment (made safe, see [`file_name`]).
    pub name: String,
}

/// The file links in an HTML text, in order (`<a href="...">name</a>`, either quote).
pub fn links_in(content: &str) -> Vec<Link> {
    let mut links = Vec::new();
    let lower = content.to_ascii_lowercase();
    let mut at = 0;
    while let Some(found) = lower[at..].find("<a ") {
        let start = at + found;
        let Some(tag_end) = lower[start..].find('>').map(|end| start + end) else { break };
        at = tag_end + 1;
        let Some(href) = attribute(&content[start..tag_end], &lower[start..tag_end], "href") else { continue };
        let text_end = lower[at..].find("</a>").map_or(content.len(), |end| at + end);
        let text = strip_tags(&content[at..text_end]);
        let url = unescape(href.trim());
        let Ok(parsed) = Url::parse(&url) else { continue };
        if !matches!(parsed.scheme(), "http" | "https") {
            continue;
        }
        let Some(last) = parsed.path_segments().and_then(|mut segments| segments.next_back()).map(decode) else {
            continue;
        };
        if !has_extension(&last) {
            continue;
        }
        let text = unescape(text.trim());
        links.push(Link { name: file_name(if text.is_empty() { &last } else { &text }), url: parsed.to_string() });
        at = text_end;
    }
    links
}

/// A tag's attribute value (`href="..."` or `href='...'`), read from the original text at the
/// places the lower-case copy found it.
fn attribute<'a>(tag: &'a str, lower: &str, name: &str) -> Option<&'a str> {
    let key = format!("{name}=");
    let at = lower.find(&key)? + key.len();
    let quote = tag[at..].chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value_start = at + 1;
    let end = tag[value_start..].find(quote)? + value_start;
    Some(&tag[value_start..end])
}

fn strip_tags(html: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text
}

/// The five entities HTML text escapes (what a chat's HTML holds in an URL or a name).
fn unescape(text: &str) -> String {
    text.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}

/// A URL path segment with its `%XX` escapes decoded (invalid UTF-8 replaced).
fn decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(high), Some(low)) => {
                out.push((high * 16 + low) as u8);
                i += 3;
            }
            (byte, ..) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn has_extension(name: &str) -> bool {
    name.rsplit_once('.').is_some_and(|(stem, extension)| {
        !stem.is_empty() && (1..=5).contains(&extension.len()) && extension.chars().all(|c| c.is_ascii_alphanumeric())
    })
}

/// A name Pipedrive is sent: no path separators, control or unsafe characters (they would let
/// an export name a path, or reorder text on a terminal), at most [`NAME_MAX_BYTES`].
pub fn file_name(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| if c == '/' || c == '\\' || crate::untrusted::is_unsafe(c) || c.is_control() { '_' } else { c })
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.');
    let mut end = cleaned.len().min(NAME_MAX_BYTES);
    while !cleaned.is_char_boundary(end) {
        end -= 1;
    }
    match &cleaned[..end] {
        "" => "attachment".to_owned(),
        name => name.to_owned(),
    }
}

/// Why a file was not fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{url}: not a URL ({reason})")]
    NotAUrl { url: String, reason: String },
    #[error("{host}: plain http (https only; http only for this machine when allow_hosts names it)")]
    PlainHttp { host: String },
    #[error("{host} is not an allowed host (migration.toml [attachments] allow_hosts: {allowed})")]
    ForeignHost { host: String, allowed: String },
    #[error("{host}: a user name or password in the URL")]
    UserInfo { host: String },
    #[error("redirected ({status}) to {to}, which is not an allowed host")]
    Redirected { status: u16, to: String },
    #[error("{size} bytes, more than [attachments] max_bytes ({max})")]
    TooLarge { size: String, max: u64 },
    #[error("the download answered {status}")]
    Status { status: u16 },
    #[error("the download failed: {reason}")]
    Failed { reason: String },
}

/// Where files may come from, and how much of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Lower case, exact host names.
    pub allow_hosts: Vec<String>,
    pub max_bytes: u64,
    pub timeout: Duration,
}

impl Policy {
    /// The configuration's hosts, and `account_host` (the account's own) when known.
    pub fn new(config: &AttachmentsConfig, account_host: Option<&str>) -> Policy {
        let mut allow_hosts: Vec<String> = config
            .allow_hosts
            .iter()
            .chain(account_host.map(str::to_owned).as_ref())
            .map(|h| h.trim().to_ascii_lowercase())
            .collect();
        allow_hosts.sort();
        allow_hosts.dedup();
        Policy { allow_hosts, max_bytes: config.max_bytes, timeout: Duration::from_secs(config.timeout_seconds.max(1)) }
    }

    /// The URL, when a file may be fetched from it.
    pub fn check(&self, url: &str) -> Result<Url, Refusal> {
        let parsed =
            Url::parse(url).map_err(|error| Refusal::NotAUrl { url: url.to_owned(), reason: error.to_string() })?;
        let host = parsed.host_str().unwrap_or_default().to_ascii_lowercase();
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(Refusal::UserInfo { host });
        }
        if !self.allow_hosts.contains(&host) {
            return Err(Refusal::ForeignHost { host, allowed: self.allow_hosts.join(", ") });
        }
        match parsed.scheme() {
            "https" => Ok(parsed),
            "http" if is_loopback(&host) => Ok(parsed),
            _ => Err(Refusal::PlainHttp { host }),
        }
    }

    /// Fetches a file: no token, no cookie, redirects only to allowed hosts, at most `max_bytes`.
    pub async fn download(&self, url: &str) -> Result<Vec<u8>, Refusal> {
        let start = self.check(url)?;
        crate::pipedrive::install_crypto_provider();
        let policy = self.clone();
        let http = reqwest::Client::builder()
            .timeout(self.timeout)
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() < 3 && policy.check(attempt.url().as_str()).is_ok() {
                    attempt.follow()
                } else {
                    attempt.stop()
                }
            }))
            .build()
            .map_err(|error| Refusal::Failed { reason: error.to_string() })?;
        let failed = |error: reqwest::Error| Refusal::Failed {
            reason: if error.is_timeout() {
                format!("no answer within {} s ([attachments] timeout_seconds)", self.timeout.as_secs())
            } else {
                error.without_url().to_string()
            },
        };
        let mut response = http.get(start).send().await.map_err(failed)?;
        let status = response.status();
        if status.is_redirection() {
            let to = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|location| location.to_str().ok())
                .and_then(|location| response.url().join(location).ok())
                .and_then(|target| target.host_str().map(str::to_owned))
                .unwrap_or_else(|| "nowhere readable".to_owned());
            return Err(Refusal::Redirected {
                status: status.as_u16(),
                to: crate::untrusted::escape(&to).into_owned(),
            });
        }
        if !status.is_success() {
            return Err(Refusal::Status { status: status.as_u16() });
        }
        if let Some(length) = response.content_length().filter(|length| *length > self.max_bytes) {
            return Err(Refusal::TooLarge { size: length.to_string(), max: self.max_bytes });
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            if (bytes.len() + chunk.len()) as u64 > self.max_bytes {
                return Err(Refusal::TooLarge { size: format!("over {}", self.max_bytes), max: self.max_bytes });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }
}

/// 127.0.0.0/8, ::1 and `localhost`, as the account URLs' rule has them.
fn is_loopback(host: &str) -> bool {
    if let Some(v6) = host.strip_prefix('[').and_then(|host| host.strip_suffix(']')) {
        return v6.parse::<std::net::Ipv6Addr>().is_ok_and(|address| address.is_loopback());
    }
    match host.parse::<std::net::Ipv4Addr>() {
        Ok(address) => address.is_loopback(),
        Err(_) => host == "localhost",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_links_are_found_in_html_and_pages_are_not() {
        let content = "Przesyłam: <a href=\"https://acme.user.com/media/a/1/oferta%202024.pdf\">oferta &amp; cennik.pdf</a> \
                       i <A HREF='https://acme.user.com/media/a/2/scan.png'></A>, a tu sklep: \
                       <a href=\"https://shop.example/offer\">sklep</a> <a href=\"mailto:x@y.pl\">x.pdf</a>";
        let links = links_in(content);
        assert_eq!(
            links,
            vec![
                Link {
                    url: "https://acme.user.com/media/a/1/oferta%202024.pdf".into(),
                    name: "oferta & cennik.pdf".into()
                },
                Link { url: "https://acme.user.com/media/a/2/scan.png".into(), name: "scan.png".into() },
            ]
        );
        assert!(links_in("plain text, no link: https://acme.user.com/x.pdf").is_empty());
    }

    #[test]
    fn a_file_name_from_the_export_names_no_path_and_no_control_character() {
        assert_eq!(file_name("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(file_name("a\u{202e}fdp.exe"), "a_fdp.exe");
        assert_eq!(file_name("  "), "attachment");
        assert!(file_name(&"ż".repeat(300)).len() <= NAME_MAX_BYTES);
    }

    #[test]
    fn only_allowed_hosts_over_https_or_this_machine_over_http() {
        let config =
            AttachmentsConfig { allow_hosts: vec!["CDN.example.net".into(), "127.0.0.1".into()], ..Default::default() };
        let policy = Policy::new(&config, Some("acme.user.com"));
        assert!(policy.check("https://acme.user.com/m/a.pdf").is_ok());
        assert!(policy.check("https://cdn.example.net/a.pdf").is_ok());
        assert!(policy.check("http://127.0.0.1:8080/a.pdf").is_ok());
        assert!(matches!(policy.check("http://acme.user.com/a.pdf"), Err(Refusal::PlainHttp { .. })));
        assert!(matches!(policy.check("https://acme.user.com.evil.example/a.pdf"), Err(Refusal::ForeignHost { .. })));
        assert!(matches!(policy.check("https://x@evil.example/a.pdf"), Err(Refusal::UserInfo { .. })));
        assert!(matches!(policy.check("https://acme.user.com@evil.example/a.pdf"), Err(Refusal::UserInfo { .. })));
        assert!(matches!(policy.check("http://localhost/a.pdf"), Err(Refusal::ForeignHost { .. })), "not named");
    }

    /// A server answering each path with canned bytes: a chunked body without a length, a
    /// redirect on the same host, a small file, and one that answers too late.
    async fn canned_server() -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let here = base.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else { return };
                let here = here.clone();
                tokio::spawn(async move {
                    let mut head = vec![0u8; 4096];
                    let read = socket.read(&mut head).await.unwrap_or(0);
                    let head = String::from_utf8_lossy(&head[..read]).into_owned();
                    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    let answer: Vec<u8> = match path.as_str() {
                        "/chunked.pdf" => {
                            let mut body = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
                            for _ in 0..10 {
                                body.extend_from_slice(format!("{:x}\r\n", 1000).as_bytes());
                                body.extend_from_slice(&[b'x'; 1000]);
                                body.extend_from_slice(b"\r\n");
                            }
                            body.extend_from_slice(b"0\r\n\r\n");
                            body
                        }
                        "/hop.pdf" => {
                            format!("HTTP/1.1 302 Found\r\nLocation: {here}/small.pdf\r\nContent-Length: 0\r\n\r\n")
                                .into_bytes()
                        }
                        "/small.pdf" => b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello".to_vec(),
                        _ => {
                            tokio::time::sleep(Duration::from_secs(5)).await;
                            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec()
                        }
                    };
                    let _ = socket.write_all(&answer).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        base
    }

    #[tokio::test]
    async fn a_download_stops_at_max_bytes_without_a_length_follows_a_redirect_on_an_allowed_host_and_times_out() {
        let base = canned_server().await;
        let config = AttachmentsConfig { allow_hosts: vec!["127.0.0.1".into()], max_bytes: 5_000, timeout_seconds: 1 };
        let policy = Policy::new(&config, None);
        assert_eq!(policy.download(&format!("{base}/small.pdf")).await, Ok(b"hello".to_vec()));
        assert_eq!(policy.download(&format!("{base}/hop.pdf")).await, Ok(b"hello".to_vec()), "same host: followed");
        assert!(
            matches!(policy.download(&format!("{base}/chunked.pdf")).await, Err(Refusal::TooLarge { max: 5_000, .. })),
            "10,000 bytes sent without a length are cut at the bound"
        );
        let late = policy.download(&format!("{base}/slow.pdf")).await;
        assert!(matches!(&late, Err(Refusal::Failed { reason }) if reason.contains("timeout_seconds")), "{late:?}");
    }
}
