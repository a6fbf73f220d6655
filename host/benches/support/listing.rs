//! The read-back's unavoidable calls, alone: every record a migration lands in Pipedrive listed
//! once over plain HTTP, 500 a page as verify lists them (v2 cursors for organizations, persons,
//! deals and activities; v1 offsets for notes), one object after another, and each record's
//! migration marker taken from it. The scale bench times this as verify's baseline, and compares
//! two accounts' markers (a clean run's and a killed run's) to find duplicates and gaps.

use std::io::{BufRead, BufWriter, Write};
use std::path::Path;

use serde_json::Value;

/// Verify's page size (pipedrive-client's `PAGE_LIMIT`).
const PAGE: usize = 500;

/// Lists every live record of the account at `url` and writes one marker a line, sorted, into
/// `out` (`person ACCOUNT:ID`, or the text of an activity's or note's last `[User.com ...]`; a
/// record without a marker as `COLLECTION (no marker)`). Returns how many records were listed.
pub fn list_markers(url: &str, token: &str, out: &Path) -> u64 {
    // reqwest is built without a TLS provider of its own; this one is plain HTTP to 127.0.0.1.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut markers = runtime.block_on(async {
        let http = reqwest::Client::new();
        let get = |path: String, query: Vec<(&'static str, String)>| {
            let request = http.get(format!("{url}{path}")).header("x-api-token", token).query(&query);
            async move {
                let answer = request.send().await.unwrap();
                let status = answer.status();
                let body: Value = answer.json().await.unwrap();
                assert!(status.is_success(), "{path}: {status} {body}");
                body
            }
        };
        let mut markers = Vec::new();
        for (entity, collection, extra) in [
            ("organization", "organizations", None),
            ("person", "persons", Some(("include_fields", "marketing_status".to_owned()))),
            ("deal", "deals", None),
            ("activity", "activities", None),
        ] {
            let code = if entity == "activity" {
                None
            } else {
                let fields = get(format!("/api/v2/{entity}Fields"), vec![("limit", PAGE.to_string())]).await;
                let marker = fields["data"].as_array().unwrap().iter().find(|f| f["field_name"] == "User.com ID");
                marker.map(|field| field["field_code"].as_str().unwrap().to_owned())
            };
            let mut cursor: Option<String> = None;
            loop {
                let mut query: Vec<(&'static str, String)> = extra.clone().into_iter().collect();
                query.push(("limit", PAGE.to_string()));
                if let Some(cursor) = &cursor {
                    query.push(("cursor", cursor.clone()));
                }
                let page = get(format!("/api/v2/{collection}"), query).await;
                for record in page["data"].as_array().unwrap().iter().filter(|r| r["is_deleted"] != true) {
                    let marker = match &code {
                        Some(code) => record["custom_fields"][code].as_str().map(|id| format!("{entity} {id}")),
                        None => record["note"].as_str().and_then(marker_in_text),
                    };
                    markers.push(marker.unwrap_or_else(|| format!("{collection} (no marker)")));
                }
                cursor = page.pointer("/additional_data/next_cursor").and_then(Value::as_str).map(str::to_owned);
                if cursor.is_none() {
                    break;
                }
            }
        }
        let mut start = 0;
        loop {
            let query = vec![("start", start.to_string()), ("limit", PAGE.to_string())];
            let page = get("/api/v1/notes".to_owned(), query).await;
            let notes = page["data"].as_array().cloned().unwrap_or_default();
            for note in notes.iter().filter(|note| note["active_flag"] != false) {
                markers.push(
                    note["content"].as_str().and_then(marker_in_text).unwrap_or_else(|| "notes (no marker)".into()),
                );
            }
            let pagination = &page["additional_data"]["pagination"];
            if pagination["more_items_in_collection"] != true {
                break;
            }
            start = pagination["next_start"].as_u64().unwrap_or(start + notes.len() as u64);
        }
        markers
    });
    markers.sort_unstable();
    let mut file = BufWriter::new(std::fs::File::create(out).unwrap());
    for marker in &markers {
        writeln!(file, "{marker}").unwrap();
    }
    file.flush().unwrap();
    markers.len() as u64
}

/// The marker a migrated activity or note carries: its text's last `[User.com ...]`.
fn marker_in_text(text: &str) -> Option<String> {
    let start = text.rfind("[User.com ")?;
    let inside = &text[start + 1..];
    Some(inside[..inside.find(']')?].to_owned())
}

/// What a killed run's account holds against a clean run's, marker by marker.
#[derive(Debug, Default)]
pub struct Comparison {
    /// Records in the killed run's account.
    pub listed: u64,
    /// Records beyond the first with one marker.
    pub duplicates: u64,
    /// Markers of the clean run the killed run's account has not got.
    pub missing: u64,
    /// Markers the killed run's account has and the clean run's has not.
    pub extra: u64,
    /// The first few of each, to look at.
    pub examples: Vec<String>,
}

impl Comparison {
    pub fn holds(&self) -> bool {
        self.duplicates == 0 && self.missing == 0 && self.extra == 0
    }
}

/// Compares two sorted marker files (as [`list_markers`] writes them), reading both once.
pub fn compare_markers(clean: &Path, killed: &Path) -> Comparison {
    let lines = |path: &Path| std::io::BufReader::new(std::fs::File::open(path).unwrap()).lines().map(Result::unwrap);
    let (mut clean, mut killed) = (lines(clean).peekable(), lines(killed).peekable());
    let mut comparison = Comparison::default();
    let example = |comparison: &mut Comparison, what: &str, marker: &str| {
        if comparison.examples.len() < 6 {
            comparison.examples.push(format!("{what} {marker:?}"));
        }
    };
    loop {
        let marker = match (clean.peek(), killed.peek()) {
            (None, None) => return comparison,
            (Some(a), Some(b)) => a.min(b).clone(),
            (Some(a), None) => a.clone(),
            (None, Some(b)) => b.clone(),
        };
        let count = |lines: &mut std::iter::Peekable<_>| {
            let mut count = 0u64;
            while lines.next_if(|line: &String| *line == marker).is_some() {
                count += 1;
            }
            count
        };
        let (in_clean, in_killed) = (count(&mut clean), count(&mut killed));
        comparison.listed += in_killed;
        if marker.ends_with("(no marker)") {
            // Records without a marker cannot be told apart: only their counts compare.
            comparison.missing += in_clean.saturating_sub(in_killed);
            comparison.extra += in_killed.saturating_sub(in_clean);
            if in_clean != in_killed {
                example(&mut comparison, &format!("{in_killed} (clean: {in_clean})"), &marker);
            }
            continue;
        }
        if in_killed > 1 {
            comparison.duplicates += in_killed - 1;
            example(&mut comparison, "duplicate", &marker);
        }
        if in_clean > 0 && in_killed == 0 {
            comparison.missing += 1;
            example(&mut comparison, "missing", &marker);
        }
        if in_killed > 0 && in_clean == 0 {
            comparison.extra += 1;
            example(&mut comparison, "extra", &marker);
        }
    }
}
