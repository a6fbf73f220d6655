//! Helpers: a sandbox per test, a plain HTTP client, and short JSON calls.

use crm_migrate_sandbox::{SandboxConfig, SandboxHandle};
use reqwest::{Client, Method, StatusCode};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

pub const TOKEN: &str = "sandbox-token";

/// A configuration that never hits the burst limits, with a fixed account seed.
pub fn fast_config() -> SandboxConfig {
    SandboxConfig {
        burst_limit: Some(100_000),
        search_burst_limit: Some(100_000),
        account_seed: Some(7),
        ..SandboxConfig::default()
    }
}

pub struct Sandbox {
    pub handle: SandboxHandle,
    pub client: Client,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).and_then(|value| value.to_str().ok()).map(str::to_owned)
    }
}

impl Sandbox {
    pub fn start(config: SandboxConfig) -> Sandbox {
        Sandbox { handle: SandboxHandle::spawn(config).expect("sandbox starts"), client: http_client() }
    }

    pub fn fast() -> Sandbox {
        Sandbox::start(fast_config())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.handle.url())
    }

    /// Sends a request with the `x-api-token` header; a transport error is returned as Err.
    pub async fn try_call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Answer, reqwest::Error> {
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.client.request(method, self.url(path)).header("x-api-token", TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(Answer { status, headers, body })
    }

    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        self.try_call(method, path, body).await.expect("the sandbox answers")
    }

    /// A call that must succeed; returns `data`.
    pub async fn ok(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let answer = self.call(method, path, body).await;
        assert!(answer.status.is_success(), "{method} {path}: {} {}", answer.status, answer.body);
        assert_eq!(answer.body["success"], true);
        answer.body["data"].clone()
    }
}

/// A fresh file path in the temp directory (removed first if it exists).
pub fn temp_path(name: &str) -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let path = std::env::temp_dir().join(format!(
        "crm-sandbox-{}-{}-{name}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_file(&path);
    path
}

/// A plain HTTP client. In a workspace build reqwest is compiled with rustls and no built-in
/// crypto provider (the host picks ring), so one is installed first, as the host does.
pub fn http_client() -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::new()
}
