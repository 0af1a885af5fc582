//! The sidecar lock that serialises this tool's read-modify-write cycles on one file. The lock is
//! taken on `.<file name>.mpv-lock` next to the target, never on the target itself, so MicroSIP's
//! own opening of `microsip.ini` is never blocked by us (MicroSIP takes no lock of its own; this
//! only protects against a second copy of microsip-provision). It uses std's `File::try_lock`
//! (`flock` on Unix, `LockFileEx` on Windows): the operating system releases it when the process
//! dies, so a lock file left behind never blocks anybody. Lock files are deliberately not
//! deleted: deleting a lock file races with a process that has just opened it.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::atomic::{open_checked, FsError};

/// Suffix of the sidecar lock file: `.<file name>.mpv-lock`.
pub const LOCK_SUFFIX: &str = ".mpv-lock";

/// How often a blocked [`lock_for`] tries again.
const POLL: Duration = Duration::from_millis(25);

/// An exclusive lock on a target file's sidecar lock file; released when dropped.
#[derive(Debug)]
pub struct FileLock {
    file: File,
    path: PathBuf,
}

impl FileLock {
    /// The lock file (`.<file name>.mpv-lock` next to the target).
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // Closing the handle releases the lock too; unlocking first makes it immediate.
        let _ = self.file.unlock();
    }
}

/// The sidecar lock path for `target`: `.<file name>.mpv-lock` in the same folder.
pub fn lock_path_for(target: &Path) -> Result<PathBuf, FsError> {
    let name = target.file_name().ok_or_else(|| FsError::IsADirectory {
        path: target.to_path_buf(),
    })?;
    let mut lock_name = std::ffi::OsString::from(".");
    lock_name.push(name);
    lock_name.push(LOCK_SUFFIX);
    Ok(target.with_file_name(lock_name))
}

/// Take the exclusive lock for `target`, waiting at most `wait`.
///
/// Opens (creating if needed) `.<file name>.mpv-lock` in the target's folder, refusing a symbolic
/// link or reparse point there ([`FsError::SymlinkRefused`]), and locks it with `try_lock`. If
/// another process (or thread) holds it, `on_wait(lock_path)` is called once, so the caller can
/// say "waiting for lock on …", and the lock is retried every 25 ms until `wait` has passed, then
/// [`FsError::LockTimeout`] is returned (also with a zero `wait`, after one try).
pub fn lock_for(
    target: &Path,
    wait: Duration,
    on_wait: &mut dyn FnMut(&Path),
) -> Result<FileLock, FsError> {
    let path = lock_path_for(target)?;
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    let (file, _) = open_checked(&path, &options, "open the lock file")?
        // `create` cannot report "not found" for the file itself; a missing folder is an error.
        .ok_or_else(|| {
            FsError::io(
                &path,
                "open the lock file",
                std::io::Error::from(std::io::ErrorKind::NotFound),
            )
        })?;
    let start = Instant::now();
    let mut announced = false;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(FileLock { file, path }),
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(e)) => return Err(FsError::io(&path, "lock", e)),
        }
        if !announced {
            announced = true;
            on_wait(&path);
        }
        let waited = start.elapsed();
        if waited >= wait {
            return Err(FsError::LockTimeout { path, waited });
        }
        std::thread::sleep(POLL.min(wait - waited));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_path_is_a_hidden_sidecar() {
        let p = lock_path_for(Path::new("a/b/microsip.ini")).unwrap();
        assert_eq!(p, Path::new("a/b/.microsip.ini.mpv-lock"));
        assert_eq!(
            lock_path_for(Path::new("microsip.ini")).unwrap(),
            Path::new(".microsip.ini.mpv-lock")
        );
        assert!(matches!(
            lock_path_for(Path::new("/")),
            Err(FsError::IsADirectory { .. })
        ));
    }

    #[test]
    fn second_lock_waits_then_times_out_and_first_release_frees_it() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("microsip.ini");
        let mut calls = Vec::new();
        let first = lock_for(&target, Duration::ZERO, &mut |p| {
            calls.push(p.to_path_buf())
        })
        .unwrap();
        assert!(calls.is_empty(), "on_wait called without contention");
        assert_eq!(first.path(), dir.path().join(".microsip.ini.mpv-lock"));
        assert!(
            !target.exists(),
            "the target itself is never created by locking"
        );

        let start = Instant::now();
        let err = lock_for(&target, Duration::from_millis(120), &mut |p| {
            calls.push(p.to_path_buf())
        })
        .unwrap_err();
        assert!(start.elapsed() >= Duration::from_millis(120));
        match &err {
            FsError::LockTimeout { path, waited } => {
                assert_eq!(path, first.path());
                assert!(*waited >= Duration::from_millis(120));
            }
            other => panic!("expected LockTimeout, got {other:?}"),
        }
        assert_eq!(
            calls,
            vec![first.path().to_path_buf()],
            "on_wait exactly once"
        );

        drop(first);
        calls.clear();
        let again = lock_for(&target, Duration::ZERO, &mut |p| {
            calls.push(p.to_path_buf())
        });
        assert!(again.is_ok());
        assert!(calls.is_empty());
    }

    #[test]
    fn missing_folder_is_an_error_naming_the_lock_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("nope").join("microsip.ini");
        let err = lock_for(&target, Duration::ZERO, &mut |_| {}).unwrap_err();
        assert!(matches!(err, FsError::Io { .. }), "{err:?}");
        assert!(err.to_string().contains(".microsip.ini.mpv-lock"), "{err}");
    }
}
