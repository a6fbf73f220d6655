//! Apply in bounded memory: the records of a run wait in a spool on disk (`.spool/` in the
//! project), not in memory; a run killed leaves its spool, which the next run removes. How
//! apply's peak memory grows with the export is measured by the scale bench, not asserted here.

use std::path::{Path, PathBuf};

use crm_migrate_sandbox::SandboxConfig;

use crate::apply::{apply, approved_project, canonical, fast, kill_apply_inside_a_step};

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
