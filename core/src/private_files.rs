//! Files that hold customer data (reports, `state.db`) are created readable by the user only:
//! files 0600, directories 0700, whatever the umask. Every report writer goes through here, so
//! that a new report cannot forget.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};

/// Owner read and write.
pub const FILE_MODE: u32 = 0o600;
/// Owner read, write and enter.
pub const DIR_MODE: u32 = 0o700;

/// Creates (or truncates) `path` for writing, readable by the user only. A file that existed with
/// a looser mode is tightened before anything is written into it.
pub fn create(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(FILE_MODE);
    let file = options.open(path)?;
    // `mode` applies only when the file is created; an older file keeps its mode otherwise.
    #[cfg(unix)]
    file.set_permissions(std::fs::Permissions::from_mode(FILE_MODE))?;
    Ok(file)
}

/// Writes `contents` to `path` as [`create`] does.
pub fn write(path: &Path, contents: impl AsRef<[u8]>) -> io::Result<()> {
    use std::io::Write;
    let mut file = create(path)?;
    file.write_all(contents.as_ref())?;
    file.flush()
}

/// Creates `dir` and any missing parents, each created one 0700. A directory that exists is left
/// as it is: `--out .` must not change the mode of the user's working directory.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(DIR_MODE);
    builder.create(dir)
}

/// Takes group and other permissions away from an existing file or directory (a project made by
/// an older crm-migrate, or copied with a loose umask). Missing paths are fine.
pub fn tighten(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        let metadata = match std::fs::symlink_metadata(path) {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(error) => return Err(error),
        };
        // A symlink's own mode means nothing, and following it could change someone else's file.
        if metadata.file_type().is_symlink() {
            return Ok(());
        }
        let mode = metadata.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_and_directories_are_the_users_only_and_loose_ones_are_tightened() {
        let dir = tempfile::tempdir().unwrap();
        let reports = dir.path().join("a/reports");
        create_dir(&reports).unwrap();
        assert_eq!((mode(&reports), mode(&dir.path().join("a"))), (0o700, 0o700));
        let file = reports.join("quarantine.csv");
        std::fs::write(&file, "old").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        write(&file, "new").unwrap();
        assert_eq!((mode(&file), std::fs::read_to_string(&file).unwrap().as_str()), (0o600, "new"));
        std::fs::set_permissions(&reports, std::fs::Permissions::from_mode(0o755)).unwrap();
        tighten(&reports).unwrap();
        assert_eq!(mode(&reports), 0o700);
        tighten(&dir.path().join("missing")).unwrap();
    }
}
