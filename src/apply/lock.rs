//! The lock that serialises this tool's read-modify-write cycles in one folder.
//!
//! Every file we edit (`microsip.ini`, `Contacts.xml`, the call history) lives in a profile
//! folder, and one operation (an `apply`, say) may edit several of them, so the lock is the
//! folder's: whoever holds it may edit any file in it, and an operation takes it once
//! (callers further down are told the lock is held, e.g.
//! [`crate::contacts::store::StoreOptions::caller_holds_lock`]). It never touches the files
//! themselves, so MicroSIP's own opening of `microsip.ini` is never blocked (MicroSIP takes no
//! lock of its own; this only protects against a second copy of microsip-provision).
//!
//! * **Unix:** `flock` on the folder itself, opened with `O_NOFOLLOW`: no lock file is created,
//!   so a first run creates nothing it does not need and a no-change run writes nothing at all.
//! * **Windows:** `LockFileEx` needs a file, so the lock is a hidden `.mpv-lock` file in the folder
//!   (opened without following a reparse point), created once and deliberately never deleted
//!   (deleting a lock file races with a process that has just opened it).
//!
//! Both use std's `File::try_lock`; the operating system releases the lock when the process
//! dies, so nothing left behind ever blocks anybody.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::atomic::FsError;

/// Name of the lock file in a folder (Windows; Unix locks the folder itself).
pub const LOCK_FILE: &str = ".mpv-lock";

/// How often a blocked [`lock_for`] tries again.
const POLL: Duration = Duration::from_millis(25);

/// An exclusive lock on a folder; released when dropped.
#[derive(Debug)]
pub struct FileLock {
    file: File,
    path: PathBuf,
}

impl FileLock {
    /// What is locked ([`lock_path_for`]).
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

/// What [`lock_for`] locks for `target`: its folder (Unix), or `.mpv-lock` in it (Windows).
pub fn lock_path_for(target: &Path) -> Result<PathBuf, FsError> {
    if target.file_name().is_none() {
        return Err(FsError::IsADirectory {
            path: target.to_path_buf(),
        });
    }
    let folder = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok(if cfg!(windows) {
        folder.join(LOCK_FILE)
    } else {
        folder
    })
}

/// Take the exclusive lock of `target`'s folder, waiting at most `wait`.
///
/// Refuses a symbolic link or reparse point at what it opens ([`FsError::SymlinkRefused`]). If
/// another process (or thread) holds the lock, `on_wait(lock_path)` is called once, so the caller
/// can say "waiting for lock on …", and the lock is retried every 25 ms until `wait` has passed,
/// then [`FsError::LockTimeout`] is returned (also with a zero `wait`, after one try). A second
/// `lock_for` in the same folder by the same process waits like any other: take it once.
pub fn lock_for(
    target: &Path,
    wait: Duration,
    on_wait: &mut dyn FnMut(&Path),
) -> Result<FileLock, FsError> {
    let path = lock_path_for(target)?;
    let file = open_lock(&path)?;
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

/// Open the folder itself, never through a link.
#[cfg(unix)]
fn open_lock(folder: &Path) -> Result<File, FsError> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(folder)
        .map_err(|e| {
            // `O_DIRECTORY | O_NOFOLLOW` on a link answers ELOOP or ENOTDIR, depending on the
            // system: look at what is there.
            let is_link = std::fs::symlink_metadata(folder).is_ok_and(|m| m.is_symlink());
            if is_link {
                FsError::SymlinkRefused {
                    path: folder.to_path_buf(),
                }
            } else {
                FsError::io(folder, "open the folder to lock it", e)
            }
        })
}

/// Open (creating it if needed) the lock file, never through a reparse point.
#[cfg(not(unix))]
fn open_lock(path: &Path) -> Result<File, FsError> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    let (file, _) = super::atomic::open_checked(path, &options, "open the lock file")?
        // `create` cannot report "not found" for the file itself; a missing folder is an error.
        .ok_or_else(|| {
            FsError::io(
                path,
                "open the lock file",
                std::io::Error::from(std::io::ErrorKind::NotFound),
            )
        })?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_is_the_folders() {
        let expected = |folder: &str| {
            if cfg!(windows) {
                Path::new(folder).join(LOCK_FILE)
            } else {
                PathBuf::from(folder)
            }
        };
        assert_eq!(
            lock_path_for(Path::new("a/b/microsip.ini")).unwrap(),
            expected("a/b")
        );
        assert_eq!(
            lock_path_for(Path::new("a/b/Contacts.xml")).unwrap(),
            expected("a/b")
        );
        assert_eq!(
            lock_path_for(Path::new("microsip.ini")).unwrap(),
            expected(".")
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
        assert_eq!(first.path(), lock_path_for(&target).unwrap());
        assert!(
            !target.exists(),
            "the target itself is never created by locking"
        );

        // Another file of the same folder shares the lock.
        let start = Instant::now();
        let err = lock_for(
            &dir.path().join("Contacts.xml"),
            Duration::from_millis(120),
            &mut |p| calls.push(p.to_path_buf()),
        )
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
    fn missing_folder_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("nope").join("microsip.ini");
        let err = lock_for(&target, Duration::ZERO, &mut |_| {}).unwrap_err();
        assert!(matches!(err, FsError::Io { .. }), "{err:?}");
        assert!(err.to_string().contains("nope"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn unix_creates_no_lock_file_and_refuses_a_linked_folder() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        let lock = lock_for(&real.join("microsip.ini"), Duration::ZERO, &mut |_| {}).unwrap();
        assert_eq!(std::fs::read_dir(&real).unwrap().count(), 0);
        drop(lock);
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let err = lock_for(&link.join("microsip.ini"), Duration::ZERO, &mut |_| {}).unwrap_err();
        assert!(matches!(err, FsError::SymlinkRefused { .. }), "{err:?}");
    }
}
