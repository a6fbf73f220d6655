//! `crm-migrate approve`: a person reviews the mapping (its summary, and the diff since the last
//! approval), confirms, and the mapping's sha256, who and when go into `state.db`. Before apply
//! moves any record it passes [`require_approval`]: no approval, or a mapping changed since, and
//! nothing moves.

use std::path::{Path, PathBuf};

use crate::mapping::file::{self, MappingError};
use crate::mapping::{MAPPING_FILE, Mapping, check};
use crate::plan::profile::{ReadProgress, profile};
use crate::plan::workspace::Workspace;
use crate::plan::{PlanError, open_export};
use crate::project::Project;
use crate::state::{Approval, State, StateError, now_utc};

#[derive(Debug, thiserror::Error)]
pub enum ApproveError {
    #[error("{} does not exist: run `crm-migrate plan` first, which proposes it", .0.display())]
    NoMapping(PathBuf),
    #[error("{}: {source}", .path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("no workspace on record: run `crm-migrate plan` first (it reads the Pipedrive workspace the mapping is checked against)")]
    NoWorkspace,
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Plan(#[from] PlanError),
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
    #[error("{}: {source}", .path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    State(#[from] StateError),
}

/// `sha256:<hex>` of the mapping file's bytes.
pub fn digest(text: &str) -> String {
    crate::plugins::Digest::of(text.as_bytes()).to_string()
}

/// A unified diff between two versions of the mapping (empty when equal).
pub fn diff(before: &str, after: &str) -> String {
    similar::TextDiff::from_lines(before, after).unified_diff().context_radius(2).header("approved mapping.toml", "mapping.toml now").to_string()
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
}

impl Review {
    pub fn already_approved(&self) -> bool {
        self.previous.as_ref().is_some_and(|previous| previous.digest == self.digest)
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
    let text = read_mapping(&path).map_err(|source| ApproveError::Io { path: path.clone(), source })?.ok_or_else(|| ApproveError::NoMapping(path.clone()))?;
    let mapping = file::parse(&text).map_err(|errors| ApproveError::Invalid { path: path.clone(), errors })?;
    let state = State::open(&project.dir)?;
    let (_, _, snapshot) = state.last_workspace()?.ok_or(ApproveError::NoWorkspace)?;
    let workspace: Workspace = serde_json::from_str(&snapshot).map_err(|_| ApproveError::NoWorkspace)?;
    let export = open_export(project)?;
    let profile = profile(&export, progress).map_err(PlanError::from)?;
    let errors = check::check(&mapping, &profile, &workspace);
    if !errors.is_empty() {
        return Err(ApproveError::Invalid { path, errors });
    }
    let previous = state.last_approval()?;
    let digest = digest(&text);
    let diff = previous.as_ref().filter(|previous| previous.digest != digest).map(|previous| diff(&previous.mapping, &text));
    Ok(Review { path, text, digest, mapping, workspace, previous, diff })
}

/// Records the approval of what was reviewed.
pub fn approve(project: &Project, review: &Review, approved_by: &str) -> Result<Approval, ApproveError> {
    let approval = Approval { digest: review.digest.clone(), mapping: review.text.clone(), approved_by: approved_by.to_owned(), approved_at: now_utc() };
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

/// The gate: the mapping as it is now was approved. Returns that approval.
pub fn require_approval(project_dir: &Path) -> Result<Approval, GateError> {
    let path = project_dir.join(MAPPING_FILE);
    let text = read_mapping(&path).map_err(|source| GateError::Io { path: path.clone(), source })?.ok_or_else(|| GateError::NoMapping(path.clone()))?;
    let approval = State::open(project_dir)?.last_approval()?.ok_or_else(|| GateError::NotApproved(path.clone()))?;
    if approval.digest != digest(&text) {
        return Err(GateError::Changed { diff: diff(&approval.mapping, &text), path, approved_by: approval.approved_by, approved_at: approval.approved_at });
    }
    Ok(approval)
}
