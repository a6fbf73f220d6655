//! `init` as text: the project created, its source, target and plugins, and what to run next.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::plugins::TrustStore;
use crate::project::{self, InitOptions, Project};
use crate::untrusted::escape;

/// What `init` made in `dir`: `missing` are the vetted plugins not built (their paths).
pub fn created_text(
    dir: &Path,
    project: &Project,
    options: &InitOptions,
    store: Option<&TrustStore>,
    missing: &[PathBuf],
) -> String {
    let mut text = format!("created {}\n", project.dir.join(project::CONFIG_FILE).display());
    let markers = project.markers();
    let account = markers.account().unwrap_or_default();
    let _ = match project.usercom_api() {
        Some(api) => writeln!(
            text,
            "  source  {api}, User.com's API (account {account}); API token from $USERCOM_TOKEN; crm-migrate extract writes the snapshot {}",
            project.export_dir().display()
        ),
        None => writeln!(text, "  source  {} (account {account})", project.export_dir().display()),
    };
    let _ = writeln!(
        text,
        "  target  {} (plan {}, {} seat(s)); API token from $PIPEDRIVE_API_TOKEN",
        options.pipedrive_url, options.plan, options.seats
    );
    for plugin in &options.plugins {
        let _ = writeln!(text, "  plugin  {} {} ({})", plugin.hook, escape(&plugin.name), plugin.digest);
    }
    for plugin in &options.proposed {
        let _ = writeln!(
            text,
            "  proposed plugin  {} {} ({}): commented out in {}; to use it, take the first \"# \" off each line of its entry",
            plugin.hook,
            escape(&plugin.name),
            plugin.digest,
            project::CONFIG_FILE
        );
    }
    if let Some(store) = store {
        for plugin in
            options.plugins.iter().chain(&options.proposed).filter(|plugin| store.find(&plugin.digest).is_none())
        {
            let _ = writeln!(
                text,
                "  plugin  {} is not listed by this machine's trust store {}: plan refuses it until an operator runs crm-migrate plugin trust",
                escape(&plugin.name),
                store.path().display()
            );
        }
    }
    if let Some(first) = missing.first() {
        let _ = writeln!(
            text,
            "  the vetted plugins are not built ({} is missing): run `{}` in the crm-migrate checkout, then add them with --plugin or in {}",
            first.display(),
            project::BUILD_PLUGINS,
            project::CONFIG_FILE
        );
    }
    let first = if project.usercom_api().is_some() { "extract" } else { "audit" };
    let _ = writeln!(text, "next: read and edit migration.toml, then: crm-migrate -C {} {first}", dir.display());
    text
}
