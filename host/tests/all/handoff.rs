//! The handoff: `crm-migrate report` after an apply, and its HTML page rendered by a real browser
//! (Debian's headless Chromium, which `.ci/run` installs) showing the tables a person reads.

use std::path::PathBuf;
use std::process::Command;

use crm_migrate_sandbox::SandboxConfig;

use crate::plan::{in_project, prepared_sandbox_with, project, text};

/// Debian's Chromium, when installed; CI must have it.
fn chromium() -> Option<PathBuf> {
    let found =
        ["/usr/bin/chromium", "/usr/bin/chromium-browser"].into_iter().map(PathBuf::from).find(|path| path.exists());
    if found.is_none() && std::env::var("CI").as_deref() == Ok("true") {
        panic!("Chromium is missing: .ci/run installs Debian's chromium package");
    }
    found
}

/// The text of an HTML document as a person reads it: tags out, entities decoded, spaces folded.
fn visible_text(html: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    let mut skip = false;
    let lower = html.to_lowercase();
    let mut index = 0;
    for c in html.chars() {
        if c == '<' {
            in_tag = true;
            skip = lower[index..].starts_with("<style")
                || lower[index..].starts_with("<script")
                || (skip && !lower[index..].starts_with("</style") && !lower[index..].starts_with("</script"));
        }
        if !in_tag && !skip {
            text.push(c);
        } else if c == '>' {
            in_tag = false;
            text.push(' ');
        }
        index += c.len_utf8();
    }
    let text = text
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&nbsp;", " ");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn the_handoff_page_opens_in_chromium_and_shows_its_tables() {
    let _machine = crate::support::heavy();
    let Some(chromium) = chromium() else {
        eprintln!("skipped: no Chromium on this machine (CI installs it)");
        return;
    };
    let sandbox = prepared_sandbox_with(SandboxConfig { burst_limit: Some(1000), ..SandboxConfig::default() });
    let (_dir, project) = project(&sandbox, "premium");
    for step in [&["plan"][..], &["approve", "--yes"], &["apply"], &["report"]] {
        let output = in_project(&project, step);
        assert!(output.status.success(), "{step:?}: {}", text(&output.stderr));
    }
    let page = project.join("reports/handoff/handoff.html");
    let profile = tempfile::tempdir().unwrap();
    let output = Command::new(&chromium)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--dump-dom"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("file://{}", page.canonicalize().unwrap().display()))
        .output()
        .expect("Chromium runs");
    assert!(output.status.success(), "Chromium: {}", text(&output.stderr));
    let dom = text(&output.stdout);
    assert!(dom.matches("<table>").count() >= 6, "the documents' tables are there:\n{dom}");
    let seen = visible_text(&dom);
    for expected in [
        "Migration handoff",
        "Automations inventory",
        "Powitanie nowego użytkownika yes user_created status = user wait 1h send_email(template: Witamy) sequence",
        "Wygrany deal yes deal_status_changed: won pipeline = Partnerzy - add_tag(Partner), notify_agent workflow automation",
        "Segment-to-filter mapping",
        "VIP 37 Labels is VIP expressible",
        "Porzucone koszyki 30 dni 119 - not expressible",
        "Email templates to rebuild",
        "Billing audit",
        "persons contact 500 0 0 0 0",
    ] {
        assert!(seen.contains(expected), "the page shows '{expected}':\n{seen}");
    }
}
