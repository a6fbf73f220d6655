//! A run's reports written whole or not at all: each file is written beside its name
//! (`audit.md.partial`) and renamed into place once every file of the set is written, so that a
//! failed run leaves the previous reports whole and no half-written one. Files and the directory
//! are the user's only ([`crm_migrate_core::private_files`]).

use std::fs::File;
use std::path::{Path, PathBuf};

use crm_migrate_core::private_files;

/// Writing a report failed: which file, and why.
#[derive(Debug, thiserror::Error)]
#[error("writing {}: {source}", path.display())]
pub struct WriteError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// The files of one set of reports, staged in one directory until [`Files::commit`]. Dropped
/// without a commit, it removes what it staged.
#[derive(Debug)]
pub struct Files {
    dir: PathBuf,
    /// The final paths, in the order the files were staged.
    staged: Vec<PathBuf>,
}

impl Files {
    /// A set of reports for `dir`, created (0700) if missing.
    pub fn in_dir(dir: &Path) -> Result<Files, WriteError> {
        private_files::create_dir(dir).map_err(|source| WriteError { path: dir.to_owned(), source })?;
        Ok(Files { dir: dir.to_owned(), staged: Vec::new() })
    }

    /// Where `name` goes once the set is committed.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Creates the staged file for `name` (0600), for a report written as it is computed.
    pub fn create(&mut self, name: &str) -> Result<File, WriteError> {
        let path = self.path(name);
        let file =
            private_files::create(&partial(&path)).map_err(|source| WriteError { path: path.clone(), source })?;
        self.staged.push(path);
        Ok(file)
    }

    /// Stages `name` with `contents`.
    pub fn write(&mut self, name: &str, contents: impl AsRef<[u8]>) -> Result<(), WriteError> {
        let path = self.path(name);
        private_files::write(&partial(&path), contents).map_err(|source| WriteError { path: path.clone(), source })?;
        self.staged.push(path);
        Ok(())
    }

    /// Renames every staged file into place; the paths, in the order they were staged.
    pub fn commit(mut self) -> Result<Vec<PathBuf>, WriteError> {
        let staged = std::mem::take(&mut self.staged);
        for (index, path) in staged.iter().enumerate() {
            if let Err(source) = std::fs::rename(partial(path), path) {
                // Those not renamed yet are removed by the drop.
                self.staged = staged[index..].to_vec();
                return Err(WriteError { path: path.clone(), source });
            }
        }
        Ok(staged)
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        for path in &self.staged {
            let _ = std::fs::remove_file(partial(path));
        }
    }
}

/// `audit.md` -> `audit.md.partial`, beside it (a rename within one directory is atomic).
fn partial(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".partial");
    path.with_file_name(name)
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|entry| entry.unwrap().file_name().to_string_lossy().into()).collect();
        names.sort();
        names
    }

    #[test]
    fn a_set_appears_whole_on_commit_private_and_a_dropped_one_leaves_the_old_reports() {
        let dir = tempfile::tempdir().unwrap();
        let reports = dir.path().join("reports");
        let mut files = Files::in_dir(&reports).unwrap();
        files.write("a.md", "new a").unwrap();
        std::io::Write::write_all(&mut files.create("b.csv").unwrap(), b"new b").unwrap();
        assert_eq!(names(&reports), ["a.md.partial", "b.csv.partial"], "nothing in place before the commit");
        assert_eq!(files.commit().unwrap(), [reports.join("a.md"), reports.join("b.csv")]);
        assert_eq!(names(&reports), ["a.md", "b.csv"]);
        let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!((mode(&reports), mode(&reports.join("a.md"))), (0o700, 0o600));

        let mut failed = Files::in_dir(&reports).unwrap();
        failed.write("a.md", "half of a run").unwrap();
        drop(failed);
        assert_eq!(names(&reports), ["a.md", "b.csv"], "no leftovers");
        assert_eq!(std::fs::read_to_string(reports.join("a.md")).unwrap(), "new a", "the old report is whole");
    }
}
