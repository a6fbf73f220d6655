//! The exit codes scripts rely on (the README's list), by name, and the one place where they
//! become the process's exit code. The numbers are a contract: a variant's number never changes.

use std::process::ExitCode;

use crm_migrate::plugins::{LoadError, TrustError};

/// How a verb ended, as a script sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Done (and `--help`, `--version`).
    Success = 0,
    /// Any other error; the message names the file, line and field, or the plugin and the key.
    Error = 1,
    /// The command line was not understood (clap says why).
    BadUsage = 2,
    /// `plugin run` finished, but some batches failed and went to quarantine.
    BatchesFailed = 3,
    /// `apply` refused: the mapping was never approved, or changed since.
    NotApproved = 4,
    /// `plan` wrote a mapping that has problems (or `approve` was given one).
    MappingInvalid = 5,
    /// Declined at the prompt: approve, rollback, delta's deletions or purge.
    Declined = 6,
    /// `apply` stopped because the daily token budget ran out (policy "stop"); run it again later.
    BudgetStop = 7,
    /// `verify` found records that are not as the mapping says, or source values missing.
    NotVerified = 8,
    /// `rollback` finished, but something apply created is still there (listed).
    Residue = 9,
    /// `delta --delete-missing` refused its deletions (a file missing or empty in the newer
    /// export, more than the threshold, or not the number given to --expect-deletions); nothing
    /// was written.
    DeletionsRefused = 10,
    /// `plan` left decisions to a person (REVIEW in its summary); the mapping is written.
    PlanUndecided = 11,
    /// A plugin is not trusted on this machine: the trust store does not list its digest.
    NotTrusted = 12,
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit as u8)
    }
}

impl Exit {
    /// The exit code of the error a verb ended with.
    pub fn of_error(error: &anyhow::Error) -> Exit {
        if refused_by_trust_store(error) { Exit::NotTrusted } else { Exit::Error }
    }
}

/// Whether the machine's trust store refused a plugin, wherever the refusal sits in the error's
/// chain (the library's errors carry it transparently, as each layer's own variant).
fn refused_by_trust_store(error: &anyhow::Error) -> bool {
    use crm_migrate::{apply::ApplyError, plan::PlanError, project::ProjectError};
    error.chain().any(|cause| {
        let refusal = cause
            .downcast_ref::<TrustError>()
            .or_else(|| match cause.downcast_ref::<LoadError>() {
                Some(LoadError::Trust(error)) => Some(error),
                _ => None,
            })
            .or_else(|| match cause.downcast_ref::<ProjectError>() {
                Some(ProjectError::Trust(error)) => Some(error),
                _ => None,
            })
            .or_else(|| match cause.downcast_ref::<PlanError>() {
                Some(PlanError::Trust(error)) => Some(error),
                _ => None,
            })
            .or_else(|| match cause.downcast_ref::<ApplyError>() {
                Some(ApplyError::Project(ProjectError::Trust(error))) => Some(error),
                _ => None,
            });
        refusal.is_some_and(TrustError::refuses_plugin)
    })
}
