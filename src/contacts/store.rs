//! A profile's `Contacts.xml` on disk: read, edit under the lock, back up, write atomically,
//! verify.
//!
//! The same path as the INI in [`crate::apply`]: the sidecar lock ([`crate::apply::lock`]), a
//! timestamped backup beside the file (a hard link), [`atomic::write_atomic`] with the
//! fingerprint of the bytes the edit was planned against (a file changed in between is not
//! overwritten), no write when the bytes are unchanged (mtime kept), and a read-back check. And
//! the same running-MicroSIP rule, for a stronger reason: MicroSIP rewrites the whole file from
//! memory on its next contact change, undoing ours (`microsip-formats.md` §2.2, §5).

use std::path::{Path, PathBuf};
use std::time::Duration;

use similar::TextDiff;

use super::document::ContactsDocument;
use super::error::ContactsError;
use crate::apply::atomic::{self, Fingerprint, FsError, WriteOptions};
use crate::apply::lock;
use crate::apply::running::{self, MicrosipProcesses, SystemProcesses};
use crate::profile::Profile;

/// The file's name: next to the INI (`microsip-formats.md` §2).
pub const CONTACTS_FILE: &str = "Contacts.xml";

/// How long an edit waits for another microsip-provision holding the same file.
pub const LOCK_WAIT: Duration = Duration::from_secs(30);

/// `Contacts.xml` in the profile's folder.
pub fn contacts_path(profile: &Profile) -> PathBuf {
    profile.dir.join(CONTACTS_FILE)
}

/// Why a profile's contacts could not be read or written. Every message names the file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading or writing failed.
    #[error(transparent)]
    Fs(#[from] FsError),
    /// The file was refused (malformed, hostile, too large); it is left untouched.
    #[error("{}:{}:{}: {}; the file was left untouched", .path.display(), .source.line, .source.column, .source.kind)]
    Parse {
        /// The file.
        path: PathBuf,
        /// Where and why.
        source: ContactsError,
    },
    /// MicroSIP is running: it rewrites the whole file from memory on its next change.
    #[error("MicroSIP is running (process {pid}): it rewrites Contacts.xml from memory whenever a contact changes, which would undo these changes; close MicroSIP first, or pass --if-running skip|ignore")]
    MicrosipRunning {
        /// Its process id.
        pid: u32,
    },
    /// The file read back after writing is not what was planned.
    #[error("{}: read back after writing, {what}; the backup in {} holds the previous version", .path.display(), .backup_dir.display())]
    Verify {
        /// The file.
        path: PathBuf,
        /// What differed.
        what: String,
        /// Where the backup is.
        backup_dir: PathBuf,
    },
}

/// A contacts file as read.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The file.
    pub path: PathBuf,
    /// Its bytes (`None`: it does not exist).
    pub bytes: Option<Vec<u8>>,
    /// The document (MicroSIP's empty file when it does not exist).
    pub document: ContactsDocument,
}

/// Read and parse `path`; a missing file is MicroSIP's empty list.
pub fn load(path: &Path) -> Result<Loaded, StoreError> {
    let bytes = atomic::read_file(path)?;
    let document = match &bytes {
        Some(bytes) => ContactsDocument::parse(bytes).map_err(|source| StoreError::Parse {
            path: path.to_path_buf(),
            source,
        })?,
        None => ContactsDocument::new_empty(),
    };
    Ok(Loaded {
        path: path.to_path_buf(),
        bytes,
        document,
    })
}

/// What to do when MicroSIP is running for the profile's user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RunningPolicy {
    /// Refuse with [`StoreError::MicrosipRunning`] (the default: its next contact change would
    /// rewrite the file from memory and silently undo ours).
    #[default]
    Fail,
    /// Do nothing and say so ([`Modified::Skipped`]).
    Skip,
    /// Write anyway.
    Ignore,
}

/// Options of [`modify`].
#[derive(Debug, Clone, Default)]
pub struct StoreOptions {
    /// Edit under the lock and report; write nothing.
    pub dry_run: bool,
    /// Keep no backup of the previous file.
    pub no_backup: bool,
    /// What to do when MicroSIP is running.
    pub if_running: RunningPolicy,
    /// The executable name MicroSIP runs as (`None`: `microsip.exe`).
    pub microsip_exe: Option<String>,
    /// The caller already holds the profile folder's lock ([`lock::lock_for`]; `apply` holds it
    /// while it edits the INI, then the contacts): do not take it again.
    pub caller_holds_lock: bool,
}

/// What [`modify`] did.
#[derive(Debug)]
pub enum Modified<T> {
    /// The edit ran.
    Done {
        /// What the edit returned.
        value: T,
        /// The bytes before (`None`: no file).
        before: Option<Vec<u8>>,
        /// The bytes after the edit (what was or would be written).
        after: Vec<u8>,
        /// Whether the file was written.
        written: bool,
    },
    /// MicroSIP is running and `IfRunning::Skip` was asked for: nothing was read or written.
    Skipped {
        /// Why.
        reason: String,
    },
}

/// Read-modify-write the profile's `Contacts.xml` under its lock: `edit` sees the current
/// document; the result is written (backup first, atomically, only if the bytes changed, only if
/// nobody changed the file since it was read) unless this is a dry run, then read back.
/// A missing file is created only when the edit changed something.
pub fn modify<T, E: From<StoreError>>(
    profile: &Profile,
    options: &StoreOptions,
    on_wait: &mut dyn FnMut(&Path),
    edit: impl FnOnce(&mut ContactsDocument) -> Result<T, E>,
) -> Result<Modified<T>, E> {
    let processes = SystemProcesses::new(
        options
            .microsip_exe
            .clone()
            .unwrap_or_else(|| running::MICROSIP_EXE.to_string()),
    );
    modify_with(profile, options, &processes, on_wait, edit)
}

/// [`modify`] with a given view of the running processes (tests fake one).
pub fn modify_with<T, E: From<StoreError>>(
    profile: &Profile,
    options: &StoreOptions,
    processes: &dyn MicrosipProcesses,
    on_wait: &mut dyn FnMut(&Path),
    edit: impl FnOnce(&mut ContactsDocument) -> Result<T, E>,
) -> Result<Modified<T>, E> {
    if options.if_running != RunningPolicy::Ignore {
        if let Some(process) = processes.find(&profile.user) {
            let pid = process.pid;
            if options.if_running == RunningPolicy::Skip {
                return Ok(Modified::Skipped {
                    reason: format!(
                        "MicroSIP is running (process {pid}) and rewrites Contacts.xml from memory; \
                         run again when it is closed"
                    ),
                });
            }
            return Err(StoreError::MicrosipRunning { pid }.into());
        }
    }
    let path = contacts_path(profile);
    let _lock = if options.caller_holds_lock {
        None
    } else {
        Some(lock::lock_for(&path, LOCK_WAIT, on_wait).map_err(StoreError::from)?)
    };
    // A crash of an earlier run may have left a temp file; we hold the lock, so it is stale.
    let _ = atomic::clean_stale_temps(&profile.dir, CONTACTS_FILE);
    let Loaded {
        bytes: before,
        mut document,
        ..
    } = load(&path)?;
    let value = edit(&mut document)?;
    let after = document.to_bytes();
    let unchanged = match &before {
        Some(before) => before == &after,
        None => !document.is_edited(),
    };
    if options.dry_run || unchanged {
        return Ok(Modified::Done {
            value,
            before,
            after,
            written: false,
        });
    }
    let backup_dir = profile.backup_dir().to_path_buf();
    if let (Some(before), false) = (&before, options.no_backup) {
        write_backup(profile, before).map_err(StoreError::from)?;
    }
    let write = WriteOptions {
        if_unchanged_since: before.as_deref().map(Fingerprint::of),
        ..WriteOptions::default()
    };
    atomic::write_atomic(&path, &after, &write).map_err(StoreError::from)?;
    verify(&path, &after, &backup_dir)?;
    Ok(Modified::Done {
        value,
        before,
        after,
        written: true,
    })
}

/// Read the file back: the bytes must be the planned ones, and they must parse.
fn verify(path: &Path, planned: &[u8], backup_dir: &Path) -> Result<(), StoreError> {
    let failure = |what: String| StoreError::Verify {
        path: path.to_path_buf(),
        what,
        backup_dir: backup_dir.to_path_buf(),
    };
    let bytes = atomic::read_file(path)?.ok_or_else(|| failure("the file is gone".into()))?;
    if bytes != planned {
        return Err(failure("its bytes differ from the plan".into()));
    }
    ContactsDocument::parse(&bytes).map_err(|e| failure(e.to_string()))?;
    Ok(())
}

/// Keep the previous file as `Contacts.xml.<UTC timestamp>.bak` beside it, at most
/// [`crate::apply::BACKUPS_KEPT`] of them (the same backups as the INI's, [`crate::apply::backup_file`]).
pub fn write_backup(profile: &Profile, bytes: &[u8]) -> Result<Option<PathBuf>, FsError> {
    let path = crate::apply::backup_file(profile, CONTACTS_FILE, bytes)?;
    crate::apply::prune_backups_of(profile, CONTACTS_FILE)?;
    Ok(path)
}

/// The unified diff of two versions of the file (decoded as UTF-8, lossily), labelled `label`;
/// empty when they are equal.
pub fn unified_diff(label: &str, before: Option<&[u8]>, after: &[u8]) -> String {
    let old = before.map(String::from_utf8_lossy).unwrap_or_default();
    let new = String::from_utf8_lossy(after);
    if old == new && before.is_some() {
        return String::new();
    }
    let old_label = if before.is_some() {
        format!("a/{label}")
    } else {
        "/dev/null".to_string()
    };
    // Diff line by line without the CRs, so a CRLF file reads like any other.
    let strip = |text: &str| text.replace("\r\n", "\n");
    let (old, new) = (strip(&old), strip(&new));
    TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(2)
        .header(&old_label, &format!("b/{label}"))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apply::running::RunningMicrosip;
    use crate::contacts::Contact;

    struct Processes(Option<u32>);

    impl MicrosipProcesses for Processes {
        fn find(&self, _user: &str) -> Option<RunningMicrosip> {
            self.0.map(|pid| RunningMicrosip { pid, exe: None })
        }
        fn request_exit(&self, _: &RunningMicrosip) -> std::io::Result<()> {
            Ok(())
        }
        fn start_minimized(&self, _: &RunningMicrosip) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn add(document: &mut ContactsDocument) -> Result<(), StoreError> {
        document.add(Contact::new("1", "A")).expect("valid contact");
        Ok(())
    }

    fn modify_add(
        profile: &Profile,
        options: &StoreOptions,
        running: Option<u32>,
    ) -> Result<Modified<()>, StoreError> {
        modify_with(profile, options, &Processes(running), &mut |_| {}, add)
    }

    #[test]
    fn writes_backs_up_and_skips_unchanged_files() {
        let dir = tempfile::tempdir().unwrap();
        let profile = Profile::in_dir(dir.path(), "alice");
        let path = contacts_path(&profile);
        // Nothing edited: no file is created.
        let outcome = modify_with(
            &profile,
            &StoreOptions::default(),
            &Processes(None),
            &mut |_| {},
            |_| Ok::<_, StoreError>(()),
        )
        .unwrap();
        assert!(matches!(outcome, Modified::Done { written: false, .. }));
        assert!(!path.exists());
        // A dry run writes nothing either.
        let dry = StoreOptions {
            dry_run: true,
            ..StoreOptions::default()
        };
        assert!(matches!(
            modify_add(&profile, &dry, None).unwrap(),
            Modified::Done { written: false, .. }
        ));
        assert!(!path.exists());
        // The first real write creates the file, without a backup (there was nothing).
        assert!(matches!(
            modify_add(&profile, &StoreOptions::default(), None).unwrap(),
            Modified::Done {
                written: true,
                before: None,
                ..
            }
        ));
        let first = std::fs::read(&path).unwrap();
        let backups = || -> Vec<_> {
            std::fs::read_dir(profile.backup_dir())
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "bak"))
                .collect()
        };
        assert!(backups().is_empty());
        // Adding the same contact again adds a duplicate (MicroSIP keeps duplicates) and backs
        // up the previous file.
        modify_add(&profile, &StoreOptions::default(), None).unwrap();
        let backups = backups();
        assert_eq!(backups.len(), 1);
        assert_eq!(std::fs::read(&backups[0]).unwrap(), first);
        assert_eq!(load(&path).unwrap().document.count("1"), 2);
    }

    #[test]
    fn a_running_microsip_is_refused_or_skipped_or_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let profile = Profile::in_dir(dir.path(), "alice");
        let error = modify_add(&profile, &StoreOptions::default(), Some(42)).unwrap_err();
        assert!(matches!(error, StoreError::MicrosipRunning { pid: 42 }));
        assert!(error.to_string().contains("--if-running"), "{error}");
        let skip = StoreOptions {
            if_running: RunningPolicy::Skip,
            ..StoreOptions::default()
        };
        assert!(matches!(
            modify_add(&profile, &skip, Some(42)).unwrap(),
            Modified::Skipped { .. }
        ));
        assert!(!contacts_path(&profile).exists());
        let ignore = StoreOptions {
            if_running: RunningPolicy::Ignore,
            ..StoreOptions::default()
        };
        assert!(matches!(
            modify_add(&profile, &ignore, Some(42)).unwrap(),
            Modified::Done { written: true, .. }
        ));
    }

    #[test]
    fn a_refused_file_is_left_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let profile = Profile::in_dir(dir.path(), "alice");
        let path = contacts_path(&profile);
        std::fs::write(&path, b"<contacts>\n<contact number=\"1\"").unwrap();
        let error = modify_add(&profile, &StoreOptions::default(), None).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("Contacts.xml:2:1: malformed XML"),
            "{message}"
        );
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"<contacts>\n<contact number=\"1\""
        );
    }

    #[test]
    fn diffs_read_like_text() {
        let diff = unified_diff("Contacts.xml", Some(b"a\r\nb\r\n"), b"a\r\nc\r\n");
        assert!(diff.contains("-b\n+c\n"), "{diff}");
        assert!(unified_diff("x", Some(b"same"), b"same").is_empty());
        assert!(unified_diff("x", None, b"new\n").starts_with("--- /dev/null"));
    }
}
