//! Apply in bounded memory: the records of a run wait in a spool on disk (`.spool/` in the
//! project), not in memory; a run killed leaves its spool, which the next run removes; and
//! apply's peak memory does not grow with the export beyond the id links.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crm_migrate_sandbox::SandboxConfig;

use crate::apply::{apply, approved_project, canonical, fast, kill_apply_inside_a_step};
use crate::pipedrive_support::TOKEN;
use crate::plan::{in_project, init_on_sandbox, migrate_duplicates_as_they_are, text};

/// The files in the project's spool directory.
fn spools(project: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(project.join(".spool")) {
        Ok(entries) => entries.map(|entry| entry.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

fn count(state: &serde_json::Value, table: &str) -> usize {
    state[table].as_object().map_or(0, |records| records.len())
}

#[cfg(unix)]
#[test]
fn a_run_killed_mid_phase_leaves_its_spool_which_the_next_run_removes_and_it_ends_without_duplicates() {
    let _machine = crate::support::heavy();
    let clean = fast(SandboxConfig::default());
    let (_clean_dir, clean_project) = approved_project(&clean);
    apply(&clean_project, &[]);
    assert_eq!(spools(&clean_project), Vec::<PathBuf>::new(), "a run that ends removes its spool");
    let expected = canonical(&clean.state());

    let sandbox = fast(SandboxConfig::default());
    let (_dir, project) = approved_project(&sandbox);
    // Killed inside the persons phase: the organizations are in, some persons too.
    let organizations = count(&clean.state(), "organizations");
    kill_apply_inside_a_step(
        &sandbox,
        &project,
        "persons",
        7,
        |state| count(state, "organizations") >= organizations,
        |state| count(state, "persons") >= 20,
    );
    let left = spools(&project);
    assert_eq!(left.len(), 1, "the killed run's spool is left: {left:?}");

    apply(&project, &[]);
    assert_eq!(spools(&project), Vec::<PathBuf>::new(), "the next run removed the killed run's spool, and its own");
    let landed = canonical(&sandbox.state());
    let duplicates: Vec<&String> = landed.keys().filter(|key| key.starts_with("DUPLICATE")).collect();
    assert!(duplicates.is_empty(), "duplicates: {duplicates:?}");
    assert_eq!(landed, expected, "the resumed run lands what a clean run does");
}

/// Apply's peak resident memory (kB) on a generated export of `contacts` contacts.
#[allow(unsafe_code)] // wait4, for the child's peak memory
fn apply_peak_kb(contacts: usize) -> u64 {
    let sandbox = fast(SandboxConfig::default());
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("usercom-export");
    usercom_export_gen::generate(&export, &usercom_export_gen::Options { contacts, ..Default::default() }).unwrap();
    let project = dir.path().join("scale");
    init_on_sandbox(&project, &export, &sandbox);
    migrate_duplicates_as_they_are(&project);
    for step in [&["plan"][..], &["approve", "--yes", "--by", "test"]] {
        let output = in_project(&project, step);
        assert!(output.status.success(), "{step:?}: {}", text(&output.stderr));
    }
    let cache = tempfile::tempdir().unwrap();
    #[allow(clippy::zombie_processes)] // waited for below, with wait4, for its peak memory
    let child = crate::support::crm_migrate()
        .args(["-C", project.to_str().unwrap(), "apply", "--concurrency", "16"])
        .env("CRM_MIGRATE_CACHE_DIR", cache.path())
        .env("PIPEDRIVE_API_TOKEN", TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the child is ours and not yet waited for; both pointers are to live locals.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as libc::pid_t);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "apply of {contacts} contacts failed: {status}");
    // ru_maxrss is in kilobytes on Linux.
    usage.ru_maxrss as u64
}

#[cfg(target_os = "linux")]
#[test]
fn applys_peak_memory_does_not_grow_with_the_number_of_records() {
    let _machine = crate::support::heavy();
    // Both sizes above what a run holds at most whatever the size (a phase's chunk of 2,000
    // records, the spool's 8 MB page cache): between them, only what grows with the records.
    let small = apply_peak_kb(1500);
    let large = apply_peak_kb(4500);
    eprintln!("apply's peak memory: {small} kB at 1,500 contacts, {large} kB at 4,500 contacts");
    // 3,000 contacts more are about 8,300 records more: held in memory, about 40 MB more (as
    // before the spool: 64 MB at 300 contacts, 101 MB at 3,000); spooled, their id links, about
    // 1 MB.
    assert!(
        large < small + 12_000,
        "apply's peak memory grew from {small} kB at 1,500 contacts to {large} kB at 4,500 contacts"
    );
}
