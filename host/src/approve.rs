//! `crm-migrate approve`: a person reviews the mapping (its summary, and the diff since the last
//! approval), confirms, and the mapping's sha256, who and when go into `state.db`, with the rest
//! of what decides what apply writes (the [`Basis`]: each plugin's digest and configuration, the
//! export's files, the target URL). Before apply moves any record it passes [`require_approval`]:
//! no approval, or a mapping, plugin, export or target changed since, and nothing moves.

use std::path::{Path, PathBuf};

use crate::basis::{Basis, BasisError, approved_copy, digest};
use crate::mapping::file::{self, MappingError};
use crate::mapping::{MAPPING_FILE, Mapping, check};
use crate::pipedrive::workspace::Workspace;
use crate::plan::PlanError;
use crate::profile::{ReadProgress, profile};
use crate::project::{APPROVED_PLUGINS_DIR, Project};
use crate::source::{OpenExportError, open_export};
use crate::state::{Approval, State, StateError, now_utc};

#[derive(Debug, thiserror::Error)]
pub enum ApproveError {
    #[error("{} does not exist: run `crm-migrate plan` first, which proposes it", .0.display())]
    NoMapping(PathBuf),
    #[error("{}: {source}", .path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error(
        "no workspace on record: run `crm-migrate plan` first (it reads the Pipedrive workspace the mapping is checked against)"
    )]
    NoWorkspace,
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Export(#[from] OpenExportError),
    #[error(transparent)]
    Basis(#[from] BasisError),
    #[error(transparent)]
    Gate(#[from] GateError),
    #[error("{}: nothing is approved until every problem is fixed:\n{}", .path.display(), .errors.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n"))]
    Invalid { path: PathBuf, errors: Vec<MappingError> },
}

/// Why apply may not move records. Each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum GateError {
    #[error("{} does not exist: run `crm-migrate plan`, review the mapping, then `crm-migrate approve`", .0.display())]
    NoMapping(PathBuf),
    #[error("the mapping has not been approved: review {}, then run `crm-migrate approve`; nothing was written to Pipedrive", .0.display())]
    NotApproved(PathBuf),
    #[error(
        "{} changed since {approved_by} approved it at {approved_at}; nothing was written to Pipedrive. \
         Review the change and run `crm-migrate approve` again:\n{diff}", .path.display()
    )]
    Changed { path: PathBuf, approved_by: String, approved_at: String, diff: String },
    #[error(
        "{} changed since {approved_by} approved the migration at {approved_at}; nothing was written to Pipedrive. \
         Review the change (`crm-migrate plan`) and run `crm-migrate approve` again:\n{}", .what, .changes.iter().map(|c| format!("  {c}")).collect::<Vec<_>>().join("\n")
    )]
    BasisChanged { what: String, approved_by: String, approved_at: String, changes: Vec<String> },
    #[error("{}: {source}", .path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Basis(#[from] BasisError),
}

/// Keeps a copy of each of the project's plugin files, by digest, as they are approved.
fn keep_approved_plugins(project: &Project) -> Result<(), ApproveError> {
    let dir = project.dir.join(APPROVED_PLUGINS_DIR);
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| ApproveError::Io { path, source }
    };
    crate::private_files::create_dir(&dir).map_err(io(&dir))?;
    for plugin in &project.config.plugins {
        let copy = approved_copy(project, plugin.digest.get_ref());
        let file = project.plugin_path(plugin);
        if copy.is_file() {
            continue;
        }
        // Only the pinned bytes are kept: a file missing or changed since it was pinned is not
        // what the basis names (apply refuses it; a later diff says the approved build is not kept).
        let Ok(bytes) = std::fs::read(&file) else { continue };
        if crate::plugins::Digest::of(&bytes).to_string() == plugin.digest.get_ref().trim() {
            crate::private_files::write(&copy, bytes).map_err(io(&copy))?;
        }
    }
    Ok(())
}

/// A unified diff between two versions of the mapping (empty when equal).
pub fn diff(before: &str, after: &str) -> String {
    similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(2)
        .header("approved mapping.toml", "mapping.toml now")
        .to_string()
}

/// What a person is asked to approve.
#[derive(Debug)]
pub struct Review {
    pub path: PathBuf,
    pub text: String,
    pub digest: String,
    pub mapping: Mapping,
    pub workspace: Workspace,
    pub previous: Option<Approval>,
    /// Against the previous approval; `None` on a first approval.
    pub diff: Option<String>,
    /// The plugins, export and target approved with the mapping.
    pub basis: Basis,
    /// What of the basis changed since the previous approval (empty on a first approval).
    pub basis_changes: Vec<String>,
}

impl Review {
    pub fn already_approved(&self) -> bool {
        self.previous.as_ref().is_some_and(|previous| previous.digest == self.digest)
            && self.previous_basis().is_some_and(|basis| basis == self.basis)
    }

    /// What the previous approval covered besides the mapping, when it says.
    pub fn previous_basis(&self) -> Option<Basis> {
        self.previous.as_ref()?.basis.as_deref().and_then(|basis| serde_json::from_str(basis).ok())
    }
}

fn read_mapping(path: &Path) -> Result<Option<String>, std::io::Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// Reads and checks the mapping (against the export and the workspace plan read); refuses a
/// mapping with problems.
pub fn review(project: &Project, progress: ReadProgress<'_>) -> Result<Review, ApproveError> {
    let path = project.dir.join(MAPPING_FILE);
    let text = read_mapping(&path)
        .map_err(|source| ApproveError::Io { path: path.clone(), source })?
        .ok_or_else(|| ApproveError::NoMapping(path.clone()))?;
    let mapping = file::parse(&text).map_err(|errors| ApproveError::Invalid { path: path.clone(), errors })?;
    let state = State::open(&project.dir)?;
    let (_, _, snapshot) = state.last_workspace()?.ok_or(ApproveError::NoWorkspace)?;
    let workspace: Workspace = serde_json::from_str(&snapshot).map_err(|_| ApproveError::NoWorkspace)?;
    let export = open_export(project)?;
    let profile = profile(&export, progress).map_err(PlanError::from)?;
    let mut errors = check::check(&mapping, &profile, &workspace);
    // The account's limits too (labels aside: the label plugin decides them, and plan checked them).
    errors.extend(
        crate::plan::limits::check_project(project, &mapping, &profile, &workspace, &Default::default())?.errors(),
    );
    if !errors.is_empty() {
        return Err(ApproveError::Invalid { path, errors });
    }
    // Every match with a record the account has is decided (the file reads, none left to review).
    crate::plan::existing::decided(project)?;
    let previous = state.last_approval()?;
    let digest = digest(&text);
    let diff =
        previous.as_ref().filter(|previous| previous.digest != digest).map(|previous| diff(&previous.mapping, &text));
    let basis = Basis::of(project, &project.export_dir())?;
    let basis_changes = match previous.as_ref().map(|previous| previous.basis.as_deref().and_then(|basis| serde_json::from_str::<Basis>(basis).ok())) {
        Some(Some(approved)) => approved.changes_to(&basis, true),
        Some(None) => vec!["the previous approval covered the mapping only; this one covers the plugins, the export and the target too".to_owned()],
        None => Vec::new(),
    };
    Ok(Review { path, text, digest, mapping, workspace, previous, diff, basis, basis_changes })
}

/// Records the approval of what was reviewed.
pub fn approve(project: &Project, review: &Review, approved_by: &str) -> Result<Approval, ApproveError> {
    let approval = Approval {
        digest: review.digest.clone(),
        mapping: review.text.clone(),
        approved_by: approved_by.to_owned(),
        approved_at: now_utc(),
        basis: Some(serde_json::to_string(&review.basis).expect("plain data serializes")),
    };
    keep_approved_plugins(project)?;
    State::open(&project.dir)?.record_approval(&approval)?;
    Ok(approval)
}

/// Who approves: the name given, else the login name.
pub fn approver(given: Option<&str>) -> String {
    given
        .map(str::to_owned)
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .filter(|name| !name.trim().is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Which export the gate holds to the approved one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportCheck {
    /// The project's export must be the one approved, file for file (apply).
    Approved,
    /// A newer export is being moved (delta, verify after a delta): it is shown and confirmed
    /// by the verb itself; the mapping, plugins and target must still be the approved ones.
    Newer,
}

/// The gate: the mapping, the plugins, the export and the target as they are now were approved.
/// Returns that approval.
pub fn require_approval(project: &Project, export: ExportCheck) -> Result<Approval, GateError> {
    let path = project.dir.join(MAPPING_FILE);
    let text = read_mapping(&path)
        .map_err(|source| GateError::Io { path: path.clone(), source })?
        .ok_or_else(|| GateError::NoMapping(path.clone()))?;
    let approval = State::open(&project.dir)?.last_approval()?.ok_or_else(|| GateError::NotApproved(path.clone()))?;
    if approval.digest != digest(&text) {
        return Err(GateError::Changed {
            diff: diff(&approval.mapping, &text),
            path,
            approved_by: approval.approved_by,
            approved_at: approval.approved_at,
        });
    }
    let now = Basis::of(project, &project.export_dir())?;
    let changes = match approval.basis.as_deref().and_then(|basis| serde_json::from_str::<Basis>(basis).ok()) {
        Some(approved) => approved.changes_to(&now, export == ExportCheck::Approved),
        None => vec!["the approval on record covers the mapping only (an earlier crm-migrate); approve again to cover the plugins, the export and the target".to_owned()],
    };
    if !changes.is_empty() {
        let what = if changes.iter().all(|change| change.starts_with("the export")) {
            "the export"
        } else {
            "what the migration runs on"
        };
        return Err(GateError::BasisChanged {
            what: what.to_owned(),
            approved_by: approval.approved_by,
            approved_at: approval.approved_at,
            changes,
        });
    }
    Ok(approval)
}
