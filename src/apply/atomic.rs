//! Atomic, link-refusing file writes and reads: this module owns every byte this tool puts on
//! disk. [`write_atomic`] writes a temporary file in the same folder (created with `create_new`,
//! so a planted file or link at the temp name is never followed), flushes it, and replaces the
//! target in one step (`rename` + folder fsync on Unix, `ReplaceFileW` on Windows so the original
//! ACL, owner and creation time survive). It refuses a target that is a symbolic link or reparse
//! point, refuses a directory, does not touch a file whose bytes are already the wanted ones
//! (mtime kept), and detects a file changed since it was read ([`Fingerprint`]). [`read_file`]
//! reads with the same refusal rules, [`clean_stale_temps`] removes a crash's leftovers, and
//! [`FsError`] is the one error type of the `apply` layer (also used by [`super::lock`]).

use std::ffi::OsString;
use std::fmt;
use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Suffix of the temporary files written next to a target: `.<file name>.<pid>.<counter>.mpv-tmp`.
pub const TEMP_SUFFIX: &str = ".mpv-tmp";

/// How many temp names [`write_atomic`] tries before giving up when names are already taken
/// (a crash leftover, or something planted there).
const TEMP_ATTEMPTS: u64 = 4096;

/// Per-process counter that makes temp names unique between threads.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Errors of the `apply` layer. Every message says what failed, on which path, and what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FsError {
    /// An I/O operation failed; `action` says which one ("write", "read", "replace", ...).
    #[error("cannot {action} {}: {}; {}", .path.display(), describe(.source), hint(.source))]
    Io {
        /// The file or folder the operation was about.
        path: PathBuf,
        /// What was being done, phrased to follow "cannot", e.g. `"read"`.
        action: &'static str,
        /// The underlying error (its OS code is in the source chain).
        source: io::Error,
    },
    /// The path is a symbolic link (or, on Windows, a junction or other reparse point).
    #[error(
        "refusing to use {}: it is a symbolic link or reparse point and could point anywhere; \
         replace it with a regular file, or allow symlink targets explicitly if the link is intended",
        .path.display()
    )]
    SymlinkRefused {
        /// The link.
        path: PathBuf,
    },
    /// A file was expected but the path is a directory.
    #[error(
        "{} is a directory, not a file; check the configured path or move the directory away",
        .path.display()
    )]
    IsADirectory {
        /// The directory.
        path: PathBuf,
    },
    /// A file was expected but the path is something else that is not a folder either: a named
    /// pipe (FIFO), a socket or a device. Reading a FIFO would wait for a writer forever, so a
    /// user could stop an admin's batch run with one `mkfifo` in their own profile.
    #[error(
        "{} is not a regular file (a named pipe, socket or device); refusing to use it: remove \
         it, MicroSIP creates a new file",
        .path.display()
    )]
    NotARegularFile {
        /// The path.
        path: PathBuf,
    },
    /// The file's content differs from the [`Fingerprint`] taken when it was read.
    #[error(
        "{} was changed by another program since it was read, so nothing was written; run again \
         to plan against the current content (is MicroSIP running? it rewrites its settings on exit)",
        .path.display()
    )]
    ChangedSinceRead {
        /// The file that changed.
        path: PathBuf,
    },
    /// Another process held the folder's lock for longer than the allowed wait.
    #[error(
        "gave up after {:.1} s waiting for the lock on {}: another microsip-provision is working \
         in this folder; let it finish and retry (the lock is released when that process exits)",
        .waited.as_secs_f64(),
        .path.display()
    )]
    LockTimeout {
        /// What is locked ([`super::lock::lock_path_for`]).
        path: PathBuf,
        /// How long we waited.
        waited: Duration,
    },
}

impl FsError {
    /// The path the error is about.
    pub fn path(&self) -> &Path {
        match self {
            FsError::Io { path, .. }
            | FsError::SymlinkRefused { path }
            | FsError::IsADirectory { path }
            | FsError::NotARegularFile { path }
            | FsError::ChangedSinceRead { path }
            | FsError::LockTimeout { path, .. } => path,
        }
    }

    /// Shorthand for [`FsError::Io`].
    pub(crate) fn io(path: &Path, action: &'static str, source: io::Error) -> Self {
        FsError::Io {
            path: path.to_path_buf(),
            action,
            source,
        }
    }
}

/// Windows error codes worth naming (the numbers are stable Win32 ABI).
#[cfg(windows)]
mod win_codes {
    pub const SHARING_VIOLATION: i32 = 32;
    pub const LOCK_VIOLATION: i32 = 33;
    pub const UNABLE_TO_REMOVE_REPLACED: i32 = 1175;
    pub const UNABLE_TO_MOVE_REPLACEMENT: i32 = 1176;
    pub const UNABLE_TO_MOVE_REPLACEMENT_2: i32 = 1177;
}

/// Short description of an I/O error for the message (the full OS text stays in the source).
fn describe(e: &io::Error) -> String {
    #[cfg(windows)]
    if let Some(code) = e.raw_os_error() {
        use win_codes::*;
        match code {
            SHARING_VIOLATION => return "the file is in use by another program".into(),
            LOCK_VIOLATION => return "part of the file is locked by another program".into(),
            UNABLE_TO_REMOVE_REPLACED => return "the old file could not be replaced".into(),
            UNABLE_TO_MOVE_REPLACEMENT | UNABLE_TO_MOVE_REPLACEMENT_2 => {
                return "the new file could not be moved into place".into()
            }
            _ => {}
        }
    }
    match e.kind() {
        ErrorKind::PermissionDenied => "permission denied".into(),
        ErrorKind::NotFound => "not found".into(),
        ErrorKind::AlreadyExists => "already exists".into(),
        ErrorKind::StorageFull => "the disk is full".into(),
        ErrorKind::QuotaExceeded => "the disk quota is exceeded".into(),
        ErrorKind::ReadOnlyFilesystem => "the file system is read-only".into(),
        ErrorKind::ResourceBusy => "the file is busy".into(),
        ErrorKind::IsADirectory => "it is a directory".into(),
        ErrorKind::NotADirectory => "a parent is not a directory".into(),
        _ => e.to_string(),
    }
}

/// What the user can do about an I/O error.
fn hint(e: &io::Error) -> &'static str {
    #[cfg(windows)]
    if let Some(code) = e.raw_os_error() {
        use win_codes::*;
        if matches!(
            code,
            SHARING_VIOLATION
                | LOCK_VIOLATION
                | UNABLE_TO_REMOVE_REPLACED
                | UNABLE_TO_MOVE_REPLACEMENT
                | UNABLE_TO_MOVE_REPLACEMENT_2
        ) {
            return "close the program holding the file open (is MicroSIP running? an antivirus \
                    or backup tool?) and retry";
        }
    }
    match e.kind() {
        ErrorKind::PermissionDenied => {
            "check that this account may write to the folder, that the file is not read-only, \
             and that no other program (MicroSIP, an antivirus or backup tool) holds it open"
        }
        ErrorKind::NotFound | ErrorKind::NotADirectory => {
            "check that the folder exists and the path is spelled correctly"
        }
        ErrorKind::AlreadyExists => "remove the leftover file and retry",
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded => "free some disk space and retry",
        ErrorKind::ReadOnlyFilesystem => "the volume is mounted read-only; use a writable one",
        ErrorKind::ResourceBusy => "close the program holding the file open and retry",
        _ => "check the path, the disk and the permissions, then retry",
    }
}

/// Options for [`write_atomic`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteOptions {
    /// Accept a target that is a symbolic link (or reparse point): the link is resolved and the
    /// file it points to is replaced atomically in *its* folder; the link itself stays. A dangling
    /// link is an error. Off by default: a planted link is refused with [`FsError::SymlinkRefused`].
    pub allow_symlink_target: bool,
    /// Optimistic concurrency: the fingerprint of the content the caller planned against. If the
    /// file now holds something else (or is gone), nothing is written and
    /// [`FsError::ChangedSinceRead`] is returned. `None` skips the check (also the value to pass
    /// when the file did not exist at read time).
    pub if_unchanged_since: Option<Fingerprint>,
    /// Unix: leave out the fsync of the folder after the rename, because the caller makes the
    /// whole run durable at its end ([`sync_file_system`], one call instead of one per file).
    /// The file's own content is flushed before the rename either way, so a crash can never
    /// leave a truncated file: at worst the rename is undone and the old file is back.
    pub defer_folder_sync: bool,
}

/// What [`write_atomic`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The file already held exactly these bytes; nothing was written (mtime kept).
    Unchanged,
    /// The file was created or replaced.
    Written,
}

/// Length plus a 64-bit xxh3 hash of a file's content: cheap change detection between reading
/// a file and writing it back (xxh3 runs at memory speed; this is taken twice per write). Stable
/// across platforms, processes and versions (xxh3 is a fixed algorithm). Not a cryptographic
/// hash: it detects accidental concurrent edits, not adversarial collisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    len: u64,
    hash: u64,
}

impl Fingerprint {
    /// The fingerprint of `bytes`.
    pub fn of(bytes: &[u8]) -> Fingerprint {
        Fingerprint {
            len: bytes.len() as u64,
            hash: xxhash_rust::xxh3::xxh3_64(bytes),
        }
    }

    /// The fingerprint of the file at `path`, `None` if it does not exist. Same refusal rules as
    /// [`read_file`] (symbolic links, directories).
    pub fn of_file(path: &Path) -> Result<Option<Fingerprint>, FsError> {
        Ok(read_file(path)?.map(|bytes| Fingerprint::of(&bytes)))
    }

    /// Length of the content in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the content was empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The 64-bit xxh3 hash of the content.
    pub fn hash(&self) -> u64 {
        self.hash
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} bytes, xxh3 {:016x}", self.len, self.hash)
    }
}

/// Read the whole file at `path`; `None` if it does not exist. Refuses a symbolic link or
/// reparse point ([`FsError::SymlinkRefused`]) and a directory ([`FsError::IsADirectory`]);
/// the check is made on the opened handle too, so a link swapped in at the last moment is not
/// followed.
pub fn read_file(path: &Path) -> Result<Option<Vec<u8>>, FsError> {
    read_existing(path)
}

/// Remove leftover temp files `.<file_name>.<pid>.<counter>.mpv-tmp` in `dir` (a crash between
/// creating and renaming one). Only call this while holding the file's lock
/// ([`super::lock::lock_for`]), or a concurrent writer's temp file could be removed. Directories
/// are left alone; a link at a temp name is removed as a link (never followed). Returns how many
/// were removed; a missing `dir` counts as none.
pub fn clean_stale_temps(dir: &Path, file_name: &str) -> Result<usize, FsError> {
    match folder_names(dir) {
        Ok(names) => remove_stale_temps(dir, file_name, &names),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(0),
        Err(e) => Err(FsError::io(dir, "list the folder", e)),
    }
}

/// The names in `dir` (those that are not Unicode cannot be ours and are left out).
pub(crate) fn folder_names(dir: &Path) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir)? {
        if let Ok(name) = entry?.file_name().into_string() {
            names.push(name);
        }
    }
    Ok(names)
}

/// [`clean_stale_temps`] with the folder already listed (`names`: the names in `dir`).
pub fn remove_stale_temps(dir: &Path, file_name: &str, names: &[String]) -> Result<usize, FsError> {
    let mut removed = 0;
    for name in names {
        if !is_temp_name_for(name, file_name) {
            continue;
        }
        let path = dir.join(name);
        match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => continue,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(FsError::io(&path, "inspect the stale temporary file", e)),
        }
        match fs::remove_file(&path) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(FsError::io(&path, "remove the stale temporary file", e)),
        }
    }
    Ok(removed)
}

/// `.<file_name>.<digits>.<digits>.mpv-tmp`: exactly the names [`write_atomic`] creates.
fn is_temp_name_for(name: &str, file_name: &str) -> bool {
    let Some(rest) = name.strip_prefix('.') else {
        return false;
    };
    let Some(rest) = rest.strip_prefix(file_name) else {
        return false;
    };
    let Some(rest) = rest.strip_prefix('.') else {
        return false;
    };
    let Some(middle) = rest.strip_suffix(TEMP_SUFFIX) else {
        return false;
    };
    let Some((pid, counter)) = middle.split_once('.') else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(pid) && digits(counter)
}

/// This process's id, asked of the system once (it is a system call on Unix).
fn process_id() -> u32 {
    static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *PID.get_or_init(std::process::id)
}

/// The temp name for `file_name` with this process id and `counter`.
fn temp_name(file_name: &std::ffi::OsStr, counter: u64) -> OsString {
    let mut name = OsString::from(".");
    name.push(file_name);
    name.push(format!(".{}.{counter}{TEMP_SUFFIX}", process_id()));
    name
}

/// Write `bytes` to `path` atomically: readers see the old or the new content, never a mix,
/// and a crash leaves the old file plus at most a stale temp file ([`clean_stale_temps`]).
///
/// Steps, in order:
/// 1. refuse a symbolic link / reparse point at `path` (unless
///    [`WriteOptions::allow_symlink_target`]), refuse a directory;
/// 2. if the file exists with exactly `bytes`, return [`WriteOutcome::Unchanged`] without
///    writing anything (mtime kept);
/// 3. if [`WriteOptions::if_unchanged_since`] is set and the current content's fingerprint
///    differs, return [`FsError::ChangedSinceRead`];
/// 4. create `.<name>.<pid>.<counter>.mpv-tmp` in the same folder with `create_new` (a name
///    already taken, even by a link, is skipped, never opened), write, `sync_all`; on Unix the
///    existing file's mode (and, best effort, owner) is copied onto it;
/// 5. replace the target: Unix `rename` then fsync of the folder; Windows `ReplaceFileW` when the
///    target exists (see below), a write-through `MoveFileExW` when it does not.
///
/// On any failure the temp file is removed and the target is left as it was. (One exception on
/// Unix: if only the final fsync of the folder fails with an I/O error, the new content is
/// already in place when the error is returned.)
///
/// **Windows:** `ReplaceFileW(target, temp, NULL, REPLACEFILE_IGNORE_MERGE_ERRORS)` keeps the
/// original's ACL, owner, attributes and creation time, which matters when an administrator edits
/// another user's profile; `MoveFileExW` (what `tempfile`'s `persist` uses) would give the file
/// the temp file's security descriptor. The fallback to
/// `MoveFileExW(MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)` is taken only when
/// `ReplaceFileW` reports that the volume does not support it (`ERROR_NOT_SUPPORTED`,
/// `ERROR_INVALID_FUNCTION`, `ERROR_CALL_NOT_IMPLEMENTED`, `ERROR_INVALID_PARAMETER`: some network
/// redirectors), or when it failed with `ERROR_UNABLE_TO_MOVE_REPLACEMENT` after the old file was
/// already removed (then moving the temp file into place is the only way to finish). Sharing
/// violations (an antivirus or MicroSIP briefly holding the file) are retried for about a second.
/// Every other error is reported, not papered over with a weaker replace.
pub fn write_atomic(
    path: &Path,
    bytes: &[u8],
    options: &WriteOptions,
) -> Result<WriteOutcome, FsError> {
    write_atomic_impl(path, bytes, options, &TEMP_COUNTER, &mut |_| {})
}

/// [`write_atomic`] with the temp counter and a hook run just before the replace step
/// (tests inject failures and races there).
fn write_atomic_impl(
    path: &Path,
    bytes: &[u8],
    options: &WriteOptions,
    counter: &AtomicU64,
    before_replace: &mut dyn FnMut(&Path),
) -> Result<WriteOutcome, FsError> {
    // 1. What is at `path` now (without following a link).
    let resolved;
    let path = match fs::symlink_metadata(path) {
        Ok(meta) if is_link(&meta) => {
            if !options.allow_symlink_target {
                return Err(FsError::SymlinkRefused {
                    path: path.to_path_buf(),
                });
            }
            resolved = fs::canonicalize(path)
                .map_err(|e| FsError::io(path, "resolve the symbolic link", e))?;
            resolved.as_path()
        }
        Ok(meta) if meta.is_dir() => {
            return Err(FsError::IsADirectory {
                path: path.to_path_buf(),
            })
        }
        Ok(_) => path,
        Err(e) if e.kind() == ErrorKind::NotFound => path,
        Err(e) => return Err(FsError::io(path, "inspect", e)),
    };
    let file_name = path.file_name().ok_or_else(|| FsError::IsADirectory {
        path: path.to_path_buf(),
    })?;
    let dir = parent_dir(path);

    // 2. + 3. Compare with the current content.
    let (existing, existing_meta) = match open_no_follow(path)? {
        Some((mut file, meta)) => (Some(read_all(&mut file, &meta, path)?), Some(meta)),
        None => (None, None),
    };
    if existing.as_deref() == Some(bytes) {
        return Ok(WriteOutcome::Unchanged);
    }
    if let Some(expected) = options.if_unchanged_since {
        if existing.as_deref().map(Fingerprint::of) != Some(expected) {
            return Err(FsError::ChangedSinceRead {
                path: path.to_path_buf(),
            });
        }
    }

    // 4. Temp file in the same folder.
    let (mut file, temp) = create_temp(dir, file_name, counter, existing_meta.as_ref())?;
    let mut guard = TempGuard {
        path: Some(temp.clone()),
    };
    file.write_all(bytes)
        .map_err(|e| FsError::io(&temp, "write the temporary file", e))?;
    #[cfg(unix)]
    if let Some(meta) = &existing_meta {
        copy_unix_owner_and_mode(&file, &temp, meta)?;
    }
    {
        let _permit = flush_gate::enter();
        file.sync_all()
            .map_err(|e| FsError::io(&temp, "flush the temporary file", e))?;
    }
    drop(file); // Windows cannot rename or replace a file that is still open here.

    // 5. Replace.
    before_replace(path);
    replace(&temp, path, existing.is_some(), options.defer_folder_sync)?;
    guard.path = None; // the temp name no longer exists
    Ok(WriteOutcome::Written)
}

/// Make every write so far on the file system holding `path` durable: the end of a run whose
/// writes used [`WriteOptions::defer_folder_sync`]. Linux: `syncfs` of that file system; other
/// Unix: `sync`. Windows: nothing to do (`ReplaceFileW` and write-through moves are recorded by
/// the file system's own journal).
pub fn sync_file_system(path: &Path) -> Result<(), FsError> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let dir = File::open(path).map_err(|e| FsError::io(path, "open", e))?;
        // SAFETY: `syncfs` only reads the descriptor, which stays open for the call.
        if unsafe { libc::syncfs(dir.as_raw_fd()) } != 0 {
            return Err(FsError::io(
                path,
                "flush the file system",
                io::Error::last_os_error(),
            ));
        }
    }
    #[cfg(all(unix, not(target_os = "linux")))]
    {
        let _ = path;
        // SAFETY: `sync` takes no arguments and cannot fail.
        unsafe { libc::sync() };
    }
    #[cfg(windows)]
    let _ = path;
    Ok(())
}

/// Removes the temp file on every early return of [`write_atomic`].
struct TempGuard {
    path: Option<PathBuf>,
}

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = fs::remove_file(path);
        }
    }
}

/// The folder of `path`, `.` for a bare file name.
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Symbolic link, or on Windows any reparse point (junction, mount point, ...).
fn is_link(meta: &Metadata) -> bool {
    if meta.file_type().is_symlink() {
        return true;
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::MetadataExt;
        use windows_sys::Win32::Storage::FileSystem::FILE_ATTRIBUTE_REPARSE_POINT;
        if meta.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
            return true;
        }
    }
    false
}

/// Read the file at `path` through [`open_no_follow`].
fn read_existing(path: &Path) -> Result<Option<Vec<u8>>, FsError> {
    let Some((mut file, meta)) = open_no_follow(path)? else {
        return Ok(None);
    };
    Ok(Some(read_all(&mut file, &meta, path)?))
}

/// The rest of an open file, sized from its metadata: one read for the content and one that
/// sees the end (`File::read_to_end` would ask for the size and position again first).
fn read_all(file: &mut File, meta: &Metadata, path: &Path) -> Result<Vec<u8>, FsError> {
    let error = |e| FsError::io(path, "read", e);
    // A file stating a size no profile file has (a planted sparse `truncate -s 1T`) is refused:
    // allocating its size would abort the whole run, not just fail this profile.
    let too_large = || {
        error(io::Error::new(
            ErrorKind::FileTooLarge,
            format!(
                "larger than {} MiB, more than any MicroSIP file holds",
                MAX_READ_BYTES >> 20
            ),
        ))
    };
    if meta.len() > MAX_READ_BYTES {
        return Err(too_large());
    }
    let mut bytes = vec![0; meta.len() as usize];
    let mut filled = 0;
    while filled < bytes.len() {
        match file.read(&mut bytes[filled..]) {
            Ok(0) => break, // it shrank since
            Ok(n) => filled += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(error(e)),
        }
    }
    bytes.truncate(filled);
    // Whatever was appended since the size was taken (usually one read that finds the end), up
    // to the same limit.
    Read::take(file, MAX_READ_BYTES + 1 - bytes.len() as u64)
        .read_to_end(&mut bytes)
        .map_err(error)?;
    if bytes.len() as u64 > MAX_READ_BYTES {
        return Err(too_large());
    }
    Ok(bytes)
}

/// The largest file [`read_file`] reads: far more than any MicroSIP file (an INI is kilobytes, a
/// large `Contacts.xml` a few megabytes).
pub const MAX_READ_BYTES: u64 = 1 << 30;

/// Open `path` for reading, refusing a link or a directory, `None` if absent. Returns the handle's
/// metadata too (the file actually opened).
fn open_no_follow(path: &Path) -> Result<Option<(File, Metadata)>, FsError> {
    open_checked(path, OpenOptions::new().read(true), "read")
}

/// Open `path` with `options` and make sure the handle is not a folder and was not reached
/// through a link at `path` itself. Unix: the open uses `O_NOFOLLOW`, so the kernel refuses a
/// symbolic link in the same step that opens the file (no window for a link swapped in between),
/// and the handle's own metadata rules out a folder. Windows: the open uses
/// `FILE_FLAG_OPEN_REPARSE_POINT`, so a link is opened as itself and its attributes reveal it.
pub(crate) fn open_checked(
    path: &Path,
    options: &OpenOptions,
    action: &'static str,
) -> Result<Option<(File, Metadata)>, FsError> {
    let refused = || FsError::SymlinkRefused {
        path: path.to_path_buf(),
    };
    let mut options = options.clone();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // `O_NONBLOCK`: opening a named pipe must not wait for a writer (it is refused below);
        // on a regular file the flag changes nothing.
        options.custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK);
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::OpenOptionsExt;
        use windows_sys::Win32::Storage::FileSystem::FILE_FLAG_OPEN_REPARSE_POINT;
        options.custom_flags(FILE_FLAG_OPEN_REPARSE_POINT);
    }
    // Windows opens a folder only with backup semantics, so it would answer "access denied":
    // name it properly first (the handle's attributes below catch a swap).
    #[cfg(not(unix))]
    match fs::symlink_metadata(path) {
        Ok(meta) if is_link(&meta) => return Err(refused()),
        Ok(meta) if meta.is_dir() => {
            return Err(FsError::IsADirectory {
                path: path.to_path_buf(),
            })
        }
        _ => {}
    }
    let file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        // `O_NOFOLLOW` on a link: ELOOP (Linux, macOS), EMLINK (FreeBSD), EFTYPE (NetBSD).
        #[cfg(unix)]
        Err(e) if matches!(e.raw_os_error(), Some(libc::ELOOP | libc::EMLINK)) => {
            return Err(refused())
        }
        Err(e) if e.kind() == ErrorKind::IsADirectory => {
            return Err(FsError::IsADirectory {
                path: path.to_path_buf(),
            })
        }
        Err(e) => return Err(FsError::io(path, action, e)),
    };
    let meta = file
        .metadata()
        .map_err(|e| FsError::io(path, "inspect", e))?;
    if is_link(&meta) {
        return Err(refused());
    }
    if meta.is_dir() {
        return Err(FsError::IsADirectory {
            path: path.to_path_buf(),
        });
    }
    if !meta.is_file() {
        return Err(FsError::NotARegularFile {
            path: path.to_path_buf(),
        });
    }
    Ok(Some((file, meta)))
}

/// Create the temp file next to the target with `create_new`, skipping names already taken.
fn create_temp(
    dir: &Path,
    file_name: &std::ffi::OsStr,
    counter: &AtomicU64,
    existing: Option<&Metadata>,
) -> Result<(File, PathBuf), FsError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if let Some(meta) = existing {
        // Never let the temp file be more readable than the file it replaces, even briefly
        // (microsip.ini holds the SIP password).
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(meta.permissions().mode() & 0o777);
    }
    #[cfg(not(unix))]
    let _ = existing;
    let mut last_err = None;
    for _ in 0..TEMP_ATTEMPTS {
        let n = counter.fetch_add(1, Ordering::Relaxed);
        let temp = dir.join(temp_name(file_name, n));
        match options.open(&temp) {
            Ok(file) => return Ok((file, temp)),
            Err(e) if e.kind() == ErrorKind::AlreadyExists => last_err = Some((temp, e)),
            // Windows reports a name taken by a directory or a delete-pending file this way.
            #[cfg(windows)]
            Err(e)
                if e.kind() == ErrorKind::PermissionDenied
                    && fs::symlink_metadata(&temp).is_ok() =>
            {
                last_err = Some((temp, e))
            }
            Err(e) => return Err(FsError::io(&temp, "create the temporary file", e)),
        }
    }
    let (temp, e) = last_err.expect("TEMP_ATTEMPTS > 0");
    Err(FsError::io(&temp, "create the temporary file", e))
}

/// Give the temp file the mode (exactly) and, best effort, the owner of the file it replaces.
#[cfg(unix)]
fn copy_unix_owner_and_mode(file: &File, temp: &Path, existing: &Metadata) -> Result<(), FsError> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let mine = file
        .metadata()
        .map_err(|e| FsError::io(temp, "inspect the temporary file", e))?;
    if mine.uid() != existing.uid() || mine.gid() != existing.gid() {
        // Succeeds as root (editing another user's file); otherwise the new file belongs to us,
        // which is what any rename-based write gives. Done before chmod: chown clears setuid bits.
        let _ = std::os::unix::fs::fchown(file, Some(existing.uid()), Some(existing.gid()));
    }
    let mode = existing.permissions().mode() & 0o7777;
    file.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(|e| FsError::io(temp, "set the permissions of the temporary file", e))
}

/// Move `temp` over `target` (Unix).
#[cfg(not(windows))]
fn replace(
    temp: &Path,
    target: &Path,
    _target_existed: bool,
    defer_folder_sync: bool,
) -> Result<(), FsError> {
    fs::rename(temp, target).map_err(|e| FsError::io(target, "replace", e))?;
    if defer_folder_sync {
        return Ok(());
    }
    // Make the rename itself durable. Some file systems cannot fsync a directory (EINVAL):
    // the rename has happened, so that is not worth failing for.
    let dir = parent_dir(target);
    if let Ok(d) = File::open(dir) {
        if let Err(e) = d.sync_all() {
            if !matches!(e.kind(), ErrorKind::InvalidInput | ErrorKind::Unsupported) {
                return Err(FsError::io(dir, "flush the folder", e));
            }
        }
    }
    Ok(())
}

/// Move `temp` over `target` (Windows): see [`write_atomic`] for the choice of calls.
#[cfg(windows)]
fn replace(
    temp: &Path,
    target: &Path,
    target_existed: bool,
    _defer_folder_sync: bool,
) -> Result<(), FsError> {
    if !target_existed {
        match win::move_file(temp, target, false) {
            Ok(()) => return Ok(()),
            // It appeared since we looked: replace it properly.
            Err(e) if matches!(e.raw_os_error(), Some(80 | 183)) => {}
            Err(e) => return Err(FsError::io(target, "create", e)),
        }
    }
    win::replace_file(temp, target).map_err(|e| FsError::io(target, "replace", e))
}

#[cfg(windows)]
mod win {
    use std::ffi::OsStr;
    use std::io;
    use std::os::windows::ffi::OsStrExt;
    use std::path::Path;
    use std::time::Duration;

    use windows_sys::Win32::Foundation::{
        ERROR_ACCESS_DENIED, ERROR_CALL_NOT_IMPLEMENTED, ERROR_INVALID_FUNCTION,
        ERROR_INVALID_PARAMETER, ERROR_LOCK_VIOLATION, ERROR_NOT_SUPPORTED,
        ERROR_SHARING_VIOLATION, ERROR_UNABLE_TO_MOVE_REPLACEMENT, ERROR_UNABLE_TO_REMOVE_REPLACED,
    };
    use windows_sys::Win32::Storage::FileSystem::{
        MoveFileExW, ReplaceFileW, MOVEFILE_REPLACE_EXISTING, MOVEFILE_WRITE_THROUGH,
        REPLACEFILE_IGNORE_MERGE_ERRORS,
    };

    /// Attempts for transient sharing errors (antivirus, MicroSIP reading), ~1 s in total.
    const ATTEMPTS: u32 = 10;

    fn wide(path: &Path) -> io::Result<Vec<u16>> {
        let s: &OsStr = path.as_os_str();
        let mut v: Vec<u16> = s.encode_wide().collect();
        if v.contains(&0) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "path contains a NUL character",
            ));
        }
        v.push(0);
        Ok(v)
    }

    fn code(e: &io::Error) -> u32 {
        e.raw_os_error().unwrap_or(0) as u32
    }

    /// `MoveFileExW(temp, target, WRITE_THROUGH [| REPLACE_EXISTING])`.
    pub(super) fn move_file(temp: &Path, target: &Path, replace_existing: bool) -> io::Result<()> {
        let (from, to) = (wide(temp)?, wide(target)?);
        let mut flags = MOVEFILE_WRITE_THROUGH;
        if replace_existing {
            flags |= MOVEFILE_REPLACE_EXISTING;
        }
        // SAFETY: both buffers are NUL-terminated UTF-16 strings that outlive the call.
        let ok = unsafe { MoveFileExW(from.as_ptr(), to.as_ptr(), flags) };
        if ok == 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }

    /// `ReplaceFileW` with the documented fallbacks.
    pub(super) fn replace_file(temp: &Path, target: &Path) -> io::Result<()> {
        let (replacement, replaced) = (wide(temp)?, wide(target)?);
        let mut attempt = 0;
        loop {
            attempt += 1;
            // SAFETY: NUL-terminated UTF-16 strings that outlive the call; no backup file
            // (NULL), and the two reserved pointers must be NULL.
            let ok = unsafe {
                ReplaceFileW(
                    replaced.as_ptr(),
                    replacement.as_ptr(),
                    std::ptr::null(),
                    REPLACEFILE_IGNORE_MERGE_ERRORS,
                    std::ptr::null(),
                    std::ptr::null(),
                )
            };
            if ok != 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            match code(&e) {
                // The volume cannot do it (some network redirectors): plain replacing rename.
                ERROR_NOT_SUPPORTED
                | ERROR_INVALID_FUNCTION
                | ERROR_CALL_NOT_IMPLEMENTED
                | ERROR_INVALID_PARAMETER => return move_file(temp, target, true),
                // Documented: without a backup name the old file may already be gone while the
                // replacement keeps its temp name. Finish the job if so.
                ERROR_UNABLE_TO_MOVE_REPLACEMENT => {
                    if std::fs::symlink_metadata(target).is_err() {
                        return move_file(temp, target, false);
                    }
                    return Err(e);
                }
                ERROR_SHARING_VIOLATION
                | ERROR_LOCK_VIOLATION
                | ERROR_UNABLE_TO_REMOVE_REPLACED
                | ERROR_ACCESS_DENIED
                    if attempt < ATTEMPTS =>
                {
                    std::thread::sleep(Duration::from_millis(25 * u64::from(attempt)));
                }
                _ => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> WriteOptions {
        WriteOptions::default()
    }

    #[test]
    fn xxh3_known_vectors() {
        // The reference vectors of xxh3-64 (seed 0).
        assert_eq!(Fingerprint::of(b"").hash(), 0x2d06_8005_38d3_94c2);
        assert_eq!(Fingerprint::of(b"a").hash(), 0xe6c6_32b6_1e96_4e1f);
        assert_eq!(Fingerprint::of(b"foobar").len(), 6);
        assert!(Fingerprint::of(b"").is_empty());
        assert_ne!(Fingerprint::of(b"ab"), Fingerprint::of(b"ba"));
        assert_eq!(
            Fingerprint::of(b"a").to_string(),
            "1 bytes, xxh3 e6c632b61e964e1f"
        );
    }

    #[test]
    fn temp_names_round_trip_through_the_cleaner_pattern() {
        let name = temp_name(std::ffi::OsStr::new("microsip.ini"), 7);
        let name = name.to_str().unwrap();
        assert_eq!(
            name,
            format!(".microsip.ini.{}.7.mpv-tmp", std::process::id())
        );
        assert!(is_temp_name_for(name, "microsip.ini"));
        assert!(!is_temp_name_for(name, "microsip"));
        assert!(!is_temp_name_for(name, "Contacts.xml"));
        assert!(!is_temp_name_for(".microsip.ini.mpv-lock", "microsip.ini"));
        assert!(!is_temp_name_for(".microsip.ini.1.mpv-tmp", "microsip.ini"));
        assert!(!is_temp_name_for(
            ".microsip.ini.a.1.mpv-tmp",
            "microsip.ini"
        ));
        assert!(!is_temp_name_for(
            ".microsip.ini..1.mpv-tmp",
            "microsip.ini"
        ));
        assert!(!is_temp_name_for(
            "microsip.ini.1.2.mpv-tmp",
            "microsip.ini"
        ));
        assert!(is_temp_name_for(
            ".microsip.ini.1.2.mpv-tmp",
            "microsip.ini"
        ));
    }

    #[test]
    fn taken_temp_names_are_skipped_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("microsip.ini");
        fs::write(&target, b"old").unwrap();
        // A private counter makes the temp names predictable: plant files at the first three.
        let counter = AtomicU64::new(0);
        for n in 0..3 {
            let planted = dir.path().join(temp_name(target.file_name().unwrap(), n));
            fs::write(&planted, format!("planted {n}")).unwrap();
        }
        let outcome = write_atomic_impl(&target, b"new", &opts(), &counter, &mut |_| {}).unwrap();
        assert_eq!(outcome, WriteOutcome::Written);
        assert_eq!(fs::read(&target).unwrap(), b"new");
        assert_eq!(
            counter.load(Ordering::Relaxed),
            4,
            "three names skipped, the fourth used"
        );
        for n in 0..3 {
            let planted = dir.path().join(temp_name(target.file_name().unwrap(), n));
            assert_eq!(fs::read_to_string(planted).unwrap(), format!("planted {n}"));
        }
        let fourth = dir.path().join(temp_name(target.file_name().unwrap(), 3));
        assert!(!fourth.exists(), "the used temp file was renamed away");
    }

    #[cfg(unix)]
    #[test]
    fn a_link_planted_at_the_temp_name_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim.txt");
        fs::write(&victim, b"precious").unwrap();
        let target = dir.path().join("microsip.ini");
        let counter = AtomicU64::new(0);
        let planted = dir.path().join(temp_name(target.file_name().unwrap(), 0));
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        write_atomic_impl(&target, b"new", &opts(), &counter, &mut |_| {}).unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        assert_eq!(fs::read(&target).unwrap(), b"new");
        assert!(fs::symlink_metadata(&planted)
            .unwrap()
            .file_type()
            .is_symlink());
    }

    /// A sparse file stating a terabyte is refused with an error naming it, not allocated.
    #[cfg(unix)]
    #[test]
    fn a_file_stating_a_huge_size_is_refused_not_allocated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("microsip.ini");
        let file = fs::File::create(&path).unwrap();
        file.set_len(1 << 40).unwrap(); // sparse: no disk space is used
        drop(file);
        let err = read_file(&path).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("microsip.ini"), "{message}");
        assert!(message.contains("larger than 1024 MiB"), "{message}");
    }

    #[test]
    fn a_failed_replace_removes_the_temp_file_and_keeps_the_target() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("microsip.ini");
        fs::write(&target, b"old").unwrap();
        let counter = AtomicU64::new(0);
        // Just before the replace, something makes it impossible. Unix: a non-empty directory
        // takes the file's place (rename cannot replace it). Windows: another program holds the
        // file open without sharing (ReplaceFileW gets a sharing violation, retried, then
        // reported).
        #[cfg(unix)]
        let mut sabotage = |p: &Path| {
            fs::remove_file(p).unwrap();
            fs::create_dir(p).unwrap();
            fs::write(p.join("inside"), b"x").unwrap();
        };
        #[cfg(windows)]
        let mut holder = None;
        #[cfg(windows)]
        let mut sabotage = |p: &Path| {
            use std::os::windows::fs::OpenOptionsExt;
            holder = Some(OpenOptions::new().read(true).share_mode(0).open(p).unwrap());
        };
        let result = write_atomic_impl(&target, b"new", &opts(), &counter, &mut sabotage);
        #[cfg(windows)]
        drop(holder);
        let err = result.unwrap_err();
        assert!(
            matches!(
                &err,
                FsError::Io {
                    action: "replace",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("microsip.ini"), "{err}");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(names.contains(&"microsip.ini".to_string()), "{names:?}");
        // (Wine's ReplaceFileW leaves its own `rfXXXX.tmp` files behind when it fails; only
        // ours are this module's business.)
        assert!(
            !names.iter().any(|n| n.ends_with(TEMP_SUFFIX)),
            "temp file left behind: {names:?}"
        );
        #[cfg(unix)]
        assert_eq!(names.len(), 1, "{names:?}");
        #[cfg(unix)]
        assert_eq!(fs::read(target.join("inside")).unwrap(), b"x");
        #[cfg(windows)]
        assert_eq!(fs::read(&target).unwrap(), b"old");
    }

    #[test]
    fn messages_say_what_where_and_what_to_do() {
        let p = Path::new("/x/microsip.ini");
        let e = FsError::io(p, "write", io::Error::from(ErrorKind::PermissionDenied));
        let msg = e.to_string();
        assert!(msg.starts_with("cannot write "), "{msg}");
        assert!(
            msg.contains("microsip.ini: permission denied; check"),
            "{msg}"
        );
        assert_eq!(e.path(), p);
        assert!(std::error::Error::source(&e).is_some());

        let msgs = [
            FsError::SymlinkRefused { path: p.into() }.to_string(),
            FsError::IsADirectory { path: p.into() }.to_string(),
            FsError::ChangedSinceRead { path: p.into() }.to_string(),
            FsError::LockTimeout {
                path: p.into(),
                waited: Duration::from_millis(1500),
            }
            .to_string(),
        ];
        for msg in &msgs {
            assert!(msg.contains("microsip.ini"), "{msg}");
        }
        assert!(msgs[0].contains("symbolic link"));
        assert!(msgs[1].contains("is a directory"));
        assert!(msgs[2].contains("run again"));
        assert!(msgs[3].contains("1.5 s") && msgs[3].contains("another microsip-provision"));
    }

    #[test]
    fn bare_file_names_use_the_current_folder() {
        assert_eq!(parent_dir(Path::new("microsip.ini")), Path::new("."));
        assert_eq!(parent_dir(Path::new("a/microsip.ini")), Path::new("a"));
    }

    #[test]
    fn read_file_absent_and_present() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.ini");
        assert_eq!(read_file(&p).unwrap(), None);
        assert_eq!(Fingerprint::of_file(&p).unwrap(), None);
        fs::write(&p, b"abc").unwrap();
        assert_eq!(read_file(&p).unwrap().as_deref(), Some(&b"abc"[..]));
        assert_eq!(
            Fingerprint::of_file(&p).unwrap(),
            Some(Fingerprint::of(b"abc"))
        );
        assert!(matches!(
            read_file(dir.path()),
            Err(FsError::IsADirectory { .. })
        ));
    }
}

/// How many files this process flushes to disk at once ([`flush_gate::limit_concurrent_flushes`]).
///
/// A fleet run that writes spends most of each profile waiting for its file to reach the disk,
/// with its core idle. It runs twice as many workers as `--jobs`, and lets only `--jobs` of them
/// flush at a time: the disk sees exactly the concurrency the admin asked for (more flushes in
/// flight made this disk slower, not faster), while the other workers prepare their next
/// profile (parse, render, merge) instead of waiting in line.
pub mod flush_gate {
    use std::sync::{Condvar, Mutex, OnceLock};

    /// A counting semaphore: at most `n` holders of a [`Permit`] at once.
    pub struct Gate {
        free: Mutex<usize>,
        freed: Condvar,
    }

    impl Gate {
        /// A gate letting `n` (at least one) through at once.
        pub fn new(n: usize) -> Gate {
            Gate {
                free: Mutex::new(n.max(1)),
                freed: Condvar::new(),
            }
        }

        /// Wait for a turn.
        pub fn enter(&self) -> Permit<'_> {
            let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
            while *free == 0 {
                free = self.freed.wait(free).unwrap_or_else(|e| e.into_inner());
            }
            *free -= 1;
            Permit(Some(self))
        }
    }

    /// A turn through a [`Gate`], held until dropped.
    pub struct Permit<'a>(Option<&'a Gate>);

    impl Drop for Permit<'_> {
        fn drop(&mut self) {
            if let Some(gate) = self.0 {
                *gate.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
                gate.freed.notify_one();
            }
        }
    }

    static GATE: OnceLock<Gate> = OnceLock::new();

    /// Let at most `n` flushes run at once from now on (for the whole process; the first call
    /// decides). Without a call, flushes are not limited.
    pub fn limit_concurrent_flushes(n: usize) {
        let _ = GATE.set(Gate::new(n));
    }

    /// Wait for a turn to flush (at once when flushes are not limited).
    pub fn enter() -> Permit<'static> {
        match GATE.get() {
            Some(gate) => gate.enter(),
            None => Permit(None),
        }
    }

    #[cfg(test)]
    mod tests {
        use super::Gate;
        use std::sync::atomic::{AtomicUsize, Ordering};

        #[test]
        fn no_more_than_n_hold_a_permit_at_once() {
            let gate = Gate::new(2);
            let (inside, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
            std::thread::scope(|scope| {
                for _ in 0..6 {
                    scope.spawn(|| {
                        for _ in 0..10 {
                            let _permit = gate.enter();
                            let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                            most.fetch_max(now, Ordering::SeqCst);
                            // Held long enough for the others to pile up at the gate.
                            std::thread::sleep(std::time::Duration::from_millis(2));
                            inside.fetch_sub(1, Ordering::SeqCst);
                        }
                    });
                }
            });
            assert_eq!(most.into_inner(), 2, "two at once, and never more");
        }
    }
}
