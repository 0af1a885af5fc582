//! Fleet discovery: every MicroSIP profile folder under a root, safely.
//!
//! An admin points the tool at a share of roaming profiles or at `C:\Users`. A layout pattern
//! (default `{user}/AppData/Roaming/MicroSIP`) says where MicroSIP's folder sits below each user
//! folder.
//!
//! # Whose folder is it
//!
//! Windows does not always name a profile folder after its user. When the name is taken it
//! appends the NetBIOS domain (or, for a local account, computer) name, `jdoe.CORP`; when that is
//! taken too, a three-digit counter, `jdoe.CORP.000`, `jdoe.CORP.001` (or `jdoe.000`); and a
//! roaming profile ends in its version, `jdoe.V2` … `jdoe.V6`, after all of that
//! (`jdoe.CORP.V6`).
//! User names may contain dots themselves (`john.doe`), so a folder name is never cut at its first
//! dot. [`parse_folder_name`] peels suffixes off the right, each kind at most once and in this
//! order:
//!
//! 1. `.Vn` / `.vn`, n from 2 to 99: the roaming-profile version;
//! 2. `.nnn`, exactly three digits: the conflict counter;
//! 3. `.DOMAIN`, only when it looks the way Windows writes a NetBIOS name: 1–15 ASCII letters,
//!    digits or `-`, at least one letter, no lower case. `jdoe.corp` and `john.doe` keep their
//!    dots; `john.DOE` reads as `john`.
//!
//! The manifest has the last word: [`resolve_folder_name`] takes the longest reading of the name
//! that is a known user (whole name first, then without the version, then without the counter,
//! then without the domain), so with a user `john.doe` in the manifest the folder `john.DOE` is
//! his, not `john`'s. When no reading is known the fully peeled one is used, and the fleet run
//! reports that user as not in the manifest.
//!
//! # One profile per user
//!
//! Folders that map to the same user (compared case-insensitively, as the users table compares
//! names) yield one profile; every other folder of that user that holds MicroSIP is reported as
//! superseded (skipped) and names the folder used instead. The newest profile wins, decided by the
//! first of these that differs:
//!
//! 1. the higher roaming-profile version (`.V6` over `.V2` over none): the newer Windows wrote it;
//! 2. the more recently modified `microsip.ini` (a folder without one comes last): MicroSIP
//!    rewrites its INI as it is used (settings, window position on exit), so this is the profile
//!    the user actually runs; and as an apply only ever writes the winner, the choice stays put
//!    from run to run;
//! 3. the name Windows gave later: a higher conflict counter over a lower one over none, then a
//!    domain form over the plain name, since Windows only adds those when the shorter name is
//!    already taken;
//! 4. the folder name in byte order, so the choice never depends on the order the root is listed.
//!
//! The choice is thus fixed by the tree's names and modification times alone. Folders without a
//! MicroSIP folder take no part; a refused folder is reported as such and never blocks another
//! folder of the same user.
//!
//! A user can plant a symbolic link, junction or other reparse point in their own profile to turn
//! an admin's run against another file, so no component below the root is ever followed through a
//! link: such a profile is refused with the reason. On Linux one `openat2` with
//! `RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH` checks a whole path at once; anything it does not
//! accept is walked component by component, which decides and names the reason.
//!
//! # Checked here or by the worker
//!
//! [`discover`] looks into every folder before it returns. A fleet run uses [`discover_deferred`]
//! instead: the only folder of its user (nearly all of them) needs no comparison with another, so
//! it is handed over unchecked ([`Unchecked`]) and the worker that handles it checks it with the
//! same rules, in parallel — on Linux in the very `openat2` that opens its `microsip.ini`, so a
//! profile confirmed unchanged by its fingerprint costs the same system calls as reading the file.
//! A fleet run lists the root ([`RootListing::read`]) while the manifest loads;
//! [`RootListing::resolve`] then maps the names to users once the users table is there.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Profile;

/// The default layout: a user folder, then `AppData\Roaming\MicroSIP`.
pub const DEFAULT_LAYOUT: &str = "{user}/AppData/Roaming/MicroSIP";

/// A folder under the root that maps to a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discovered {
    /// A profile to work on.
    Profile(Profile),
    /// The only folder of its user, not looked into yet ([`discover_deferred`]): whoever works
    /// on it checks it ([`Unchecked::check`]), in parallel, and on Linux may read its
    /// `microsip.ini` in the same system call that proves no link is on the way
    /// ([`Unchecked::read_ini_into`]).
    Unchecked(Unchecked),
    /// A folder that cannot be used, and why (counted as failed).
    Refused {
        /// The user folder's name.
        user: String,
        /// The path concerned.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },
    /// A folder passed over on purpose (counted as skipped).
    Superseded {
        /// The user.
        user: String,
        /// The older profile folder.
        path: PathBuf,
        /// The folder used instead.
        by: PathBuf,
        /// Why this one was passed over, for the report.
        reason: String,
    },
}

impl Discovered {
    /// The user it maps to.
    pub fn user(&self) -> &str {
        match self {
            Discovered::Profile(profile) => &profile.user,
            Discovered::Unchecked(unchecked) => &unchecked.user,
            Discovered::Refused { user, .. } | Discovered::Superseded { user, .. } => user,
        }
    }
}

/// A user folder whose path below the root is checked by whoever works on it.
#[derive(Debug, Clone)]
pub struct Unchecked {
    /// The user the folder maps to.
    pub user: String,
    /// The user folder's name in the root.
    folder: String,
    /// The root and the layout below each user folder.
    beneath: Arc<Beneath>,
}

/// The root (and a handle on it, to resolve paths beneath it) and the layout's components below
/// a user folder.
#[derive(Debug)]
struct Beneath {
    root: PathBuf,
    handle: Option<std::fs::File>,
    rest: Vec<String>,
}

impl PartialEq for Unchecked {
    fn eq(&self, other: &Self) -> bool {
        (
            &self.user,
            &self.folder,
            &self.beneath.root,
            &self.beneath.rest,
        ) == (
            &other.user,
            &other.folder,
            &other.beneath.root,
            &other.beneath.rest,
        )
    }
}

impl Eq for Unchecked {}

impl Unchecked {
    /// The MicroSIP folder this would be, if it checks out.
    pub fn dir(&self) -> PathBuf {
        let mut dir = self.beneath.root.join(&self.folder);
        dir.extend(&self.beneath.rest);
        dir
    }

    /// Look into the folder exactly as [`discover`] does: `None` when it holds no MicroSIP
    /// folder (not a profile), else a [`Discovered::Profile`] or a [`Discovered::Refused`].
    pub fn check(&self) -> Option<Discovered> {
        let rest: Vec<&str> = self.beneath.rest.iter().map(String::as_str).collect();
        let walk = walk_user_folder(
            &self.beneath.root,
            self.beneath.handle.as_ref(),
            &self.folder,
            &rest,
        )?;
        match walk {
            Ok(None) => None,
            Ok(Some(dir)) => Some(Discovered::Profile(Profile::in_dir(dir, self.user.clone()))),
            Err((path, reason)) => Some(Discovered::Refused {
                user: self.user.clone(),
                path,
                reason,
            }),
        }
    }

    /// The bytes of `microsip.ini`, read only if no component from the root down to it is a
    /// link (Linux: one `openat2` with `RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH`), into `buffer`,
    /// which is reused from profile to profile (its length is kept at its capacity, so it is
    /// zeroed once, not per file): `Some(n)`, the file is `buffer[..n]`. `None` in every other
    /// case (no such file, a link, another system): then [`Unchecked::check`] decides.
    ///
    /// No `fstat` first (this runs for every profile of a run): a folder fails the read
    /// (`EISDIR`); a named pipe, opened without waiting, reads as empty or fails, and a file
    /// larger than any INI ([`MAX_INI_BYTES`]) is given up. In each case the caller's full
    /// path, which opens the file again with every check, decides and says why.
    pub fn read_ini_into(&self, buffer: &mut Vec<u8>) -> Option<usize> {
        #[cfg(target_os = "linux")]
        {
            use std::io::Read;
            let mut relative = PathBuf::from(&self.folder);
            relative.extend(&self.beneath.rest);
            relative.push("microsip.ini");
            let handle = self.beneath.handle.as_ref()?;
            // `O_NONBLOCK`: a named pipe planted as `microsip.ini` must not make the open wait
            // for a writer.
            let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK;
            let mut file = std::fs::File::from(linux::open_beneath(handle, &relative, flags)?);
            let mut filled = 0;
            loop {
                if filled == buffer.len() {
                    if filled >= MAX_INI_BYTES {
                        return None;
                    }
                    buffer.resize((filled * 2).max(64 * 1024), 0);
                }
                match file.read(&mut buffer[filled..]) {
                    Ok(0) => return Some(filled),
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(_) => return None,
                }
            }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = buffer;
            None
        }
    }
}

/// More than any `microsip.ini` holds (MicroSIP's own are tens of kilobytes): the fast read
/// gives up there and leaves the file to the full path.
pub const MAX_INI_BYTES: usize = 16 * 1024 * 1024;

/// A layout pattern that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("layout {0:?} must be a relative path whose first component is {{user}} (e.g. {DEFAULT_LAYOUT}); {1}")]
pub struct LayoutError(pub String, pub &'static str);

/// Why discovery could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    /// The layout is unusable.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// The root cannot be listed.
    #[error("cannot list the profiles root {}: {source}; check the path and your permissions", .path.display())]
    Root {
        /// The root.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Split a user folder name into the user and its roaming-profile version: `jdoe.V6` -> (`jdoe`,
/// 6); a folder without a suffix is version 1. Only the version is looked at: see
/// [`parse_folder_name`] for the whole name.
pub fn profile_version(folder: &str) -> (&str, u32) {
    if let Some((user, suffix)) = folder.rsplit_once('.') {
        if let Some(digits) = suffix.strip_prefix(['V', 'v']) {
            if let Ok(version) = digits.parse::<u32>() {
                if (2..=99).contains(&version) && !user.is_empty() {
                    return (user, version);
                }
            }
        }
    }
    (folder, 1)
}

/// A user folder's name read as Windows builds it: `<user>[.<DOMAIN>][.<nnn>][.V<n>]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FolderName<'a> {
    /// The user the folder belongs to: a prefix of the folder name.
    pub user: &'a str,
    /// The NetBIOS domain (or computer) name Windows appended on a name conflict (`CORP`).
    pub domain: Option<&'a str>,
    /// The conflict counter Windows appended after that (`.000` -> 0, `.001` -> 1).
    pub conflict: Option<u16>,
    /// The roaming-profile version (`.V6` -> 6); 1 without a suffix.
    pub version: u32,
}

impl<'a> FolderName<'a> {
    /// The whole folder name as the user, with no suffix.
    fn whole(folder: &'a str) -> Self {
        FolderName {
            user: folder,
            domain: None,
            conflict: None,
            version: 1,
        }
    }
}

/// `jdoe.000` -> (`jdoe`, 0): exactly three ASCII digits after the last dot, something before it.
fn split_conflict(name: &str) -> Option<(&str, u16)> {
    let (user, suffix) = name.rsplit_once('.')?;
    let is_counter = suffix.len() == 3 && suffix.bytes().all(|b| b.is_ascii_digit());
    (is_counter && !user.is_empty()).then(|| (user, suffix.parse().expect("three digits")))
}

/// `jdoe.CORP` -> (`jdoe`, `CORP`): a last suffix shaped like a NetBIOS name as Windows writes it
/// (1–15 ASCII letters, digits or `-`, at least one letter, no lower case), something before it.
fn split_domain(name: &str) -> Option<(&str, &str)> {
    let (user, suffix) = name.rsplit_once('.')?;
    let is_netbios = (1..=15).contains(&suffix.len())
        && suffix
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
        && suffix.bytes().any(|b| b.is_ascii_uppercase());
    (is_netbios && !user.is_empty()).then_some((user, suffix))
}

/// Every reading of a folder name, longest user first: the whole name, then without the
/// roaming version, then without the conflict counter, then without the domain (each step only
/// when that suffix is there). At most four, so no allocation.
fn readings(folder: &str) -> impl Iterator<Item = FolderName<'_>> {
    let mut out = [None; 4];
    let mut current = FolderName::whole(folder);
    out[0] = Some(current);
    let (user, version) = profile_version(folder);
    if version != 1 {
        current = FolderName {
            user,
            version,
            ..current
        };
        out[1] = Some(current);
    }
    if let Some((user, conflict)) = split_conflict(current.user) {
        current = FolderName {
            user,
            conflict: Some(conflict),
            ..current
        };
        out[2] = Some(current);
    }
    if let Some((user, domain)) = split_domain(current.user) {
        current = FolderName {
            user,
            domain: Some(domain),
            ..current
        };
        out[3] = Some(current);
    }
    out.into_iter().flatten()
}

/// Read a user folder name with every Windows suffix peeled off (see the module doc):
/// `jdoe.CORP.001.V6` -> user `jdoe`, domain `CORP`, conflict 1, version 6; `john.doe` and
/// `jdoe.corp` stay whole (a dot in a user name, a suffix in lower case).
pub fn parse_folder_name(folder: &str) -> FolderName<'_> {
    readings(folder)
        .last()
        .unwrap_or_else(|| FolderName::whole(folder))
}

/// Read a user folder name, preferring what the manifest knows: the longest reading whose user
/// `is_user` accepts (the whole folder name first), else [`parse_folder_name`]. With a manifest
/// user `john.doe`, the folder `john.DOE` is `john.doe`'s; without one, it is `john`'s.
pub fn resolve_folder_name<'a>(folder: &'a str, is_user: impl Fn(&str) -> bool) -> FolderName<'a> {
    let mut last = FolderName::whole(folder);
    let mut readings = readings(folder).peekable();
    while let Some(reading) = readings.next() {
        // The last reading is taken whether it is a user or not: no need to ask (a plain name
        // has only the one reading, and a fleet run resolves thousands of them).
        if readings.peek().is_none() || is_user(reading.user) {
            return reading;
        }
        last = reading;
    }
    last
}

/// What walking one user folder found: a MicroSIP folder, none, or a refusal (path, reason).
type Walk = Result<Option<PathBuf>, (PathBuf, String)>;

/// One user folder: its name, how it was read and what walking it found.
struct Candidate {
    /// The user folder's name.
    folder: String,
    /// The user is `folder[..user_len]`.
    user_len: usize,
    /// The roaming-profile version.
    version: u32,
    /// The Windows conflict counter, if any.
    conflict: Option<u16>,
    /// Whether a domain suffix was peeled off.
    domain: bool,
    /// What walking it found.
    walk: Walk,
}

impl Candidate {
    fn user(&self) -> &str {
        &self.folder[..self.user_len]
    }
}

/// Is this path a link of any kind (symlink, junction, other reparse point)?
fn is_link(meta: &std::fs::Metadata) -> bool {
    if meta.file_type().is_symlink() {
        return true;
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::MetadataExt;
        const FILE_ATTRIBUTE_REPARSE_POINT: u32 = 0x400;
        if meta.file_attributes() & FILE_ATTRIBUTE_REPARSE_POINT != 0 {
            return true;
        }
    }
    false
}

/// `f` over `items` on every core, results in `items`' order.
fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    // A few items are not worth a thread (nor asking how many cores there are: that reads
    // cgroup files); a fleet run defers nearly every folder and leaves none here.
    const MIN_CHUNK: usize = 64;
    if items.len() <= MIN_CHUNK {
        return items.iter().map(&f).collect();
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = items.len().div_ceil(threads).max(MIN_CHUNK);
    if items.len() <= chunk {
        return items.iter().map(&f).collect();
    }
    std::thread::scope(|scope| {
        let workers: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().map(&f).collect::<Vec<R>>()))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("discovery worker"))
            .collect()
    })
}

/// What is at `root/folder` and below it along `rest`; `None` when `root/folder` is not a
/// folder at all (a file in the root: not a profile).
fn walk_user_folder(
    root: &Path,
    root_handle: Option<&std::fs::File>,
    folder: &str,
    rest: &[&str],
) -> Option<Walk> {
    #[cfg(target_os = "linux")]
    if let Some(walk) = root_handle.and_then(|fd| linux::walk_beneath(fd, root, folder, rest)) {
        return Some(walk);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = root_handle;
    let path = root.join(folder);
    match std::fs::symlink_metadata(&path) {
        Ok(meta) if is_link(&meta) => Some(Err((
            path,
            "the user folder is a symbolic link, junction or reparse point; refusing to follow it"
                .to_string(),
        ))),
        Ok(meta) if !meta.is_dir() => None,
        Ok(_) => Some(walk_no_links(&path, rest)),
        Err(e) => Some(Err((path, format!("cannot inspect it: {e}")))),
    }
}

/// The common case in one system call: `openat2` with `RESOLVE_NO_SYMLINKS` opens the MicroSIP
/// folder only if no component on the way is a link (Linux 5.6+), then one `fstatat` looks at
/// `microsip.ini` without following it. Anything else (a link, a missing folder, an old kernel)
/// returns `None`, and the component-by-component walk decides and names the reason.
#[cfg(target_os = "linux")]
mod linux {
    use std::ffi::CString;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

    use std::os::unix::ffi::OsStrExt;
    use std::path::Path;

    use super::Walk;

    /// `openat2(root, relative, flags, RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH)`: the file, or
    /// `None` (missing, a link on the way, an old kernel...).
    pub(super) fn open_beneath(
        root: &std::fs::File,
        relative: &Path,
        flags: libc::c_int,
    ) -> Option<OwnedFd> {
        let c_relative = CString::new(relative.as_os_str().as_bytes()).ok()?;
        // SAFETY: `open_how` is plain data; all-zero is its documented default.
        let mut how: libc::open_how = unsafe { std::mem::zeroed() };
        how.flags = (flags | libc::O_CLOEXEC) as u64;
        how.resolve = libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_BENEATH;
        // SAFETY: the path is NUL-terminated and outlives the call; `how` is a valid `open_how`
        // of the size passed. The result is a new descriptor or -1.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                root.as_raw_fd(),
                c_relative.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        // SAFETY: a fresh descriptor from the kernel, owned by nobody else.
        (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as i32) })
    }

    pub(super) fn walk_beneath(
        root_fd: &std::fs::File,
        root: &Path,
        folder: &str,
        rest: &[&str],
    ) -> Option<Walk> {
        let mut relative = std::path::PathBuf::from(folder);
        relative.extend(rest);
        let dir = open_beneath(root_fd, &relative, libc::O_PATH | libc::O_DIRECTORY)?;
        // SAFETY: `stat` is plain data; all-zero is a valid value for the kernel to overwrite.
        let mut stat: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: a descriptor we own, a NUL-terminated literal name, a `stat` to fill.
        let found = unsafe {
            libc::fstatat(
                dir.as_raw_fd(),
                c"microsip.ini".as_ptr(),
                &mut stat,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        };
        if found == 0 {
            if stat.st_mode & libc::S_IFMT != libc::S_IFREG {
                return None; // a link, folder, pipe...: refused, with the reason, by the slow walk
            }
        } else if std::io::Error::last_os_error().raw_os_error() != Some(libc::ENOENT) {
            return None;
        }
        Some(Ok(Some(root.join(relative))))
    }
}

/// Walk `rest` below `base` without following a link anywhere. `Ok(None)`: a component is
/// missing (no MicroSIP there); `Err(reason)`: a link or a non-folder stands in the way.
fn walk_no_links(base: &Path, rest: &[&str]) -> Walk {
    let mut path = base.to_path_buf();
    for component in rest {
        path.push(component);
        match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err((path, format!("cannot inspect it: {e}"))),
            Ok(meta) if is_link(&meta) => {
                return Err((
                    path,
                    "it is a symbolic link, junction or reparse point; refusing to follow it (it \
                     could point at another user's files)"
                        .to_string(),
                ))
            }
            Ok(meta) if !meta.is_dir() => {
                return Err((path, "it is not a folder".to_string()));
            }
            Ok(_) => {}
        }
    }
    // The INI itself must not be a link either (the write path refuses it again, atomically).
    let ini = path.join("microsip.ini");
    if let Ok(meta) = std::fs::symlink_metadata(&ini) {
        if is_link(&meta) {
            return Err((
                ini,
                "microsip.ini is a symbolic link or reparse point; refusing to follow it".into(),
            ));
        }
        if meta.is_dir() {
            return Err((ini, "microsip.ini is a folder, not a file".into()));
        }
        if !meta.is_file() {
            return Err((
                ini,
                "microsip.ini is not a regular file (a named pipe, socket or device); refusing \
                 to read it"
                    .into(),
            ));
        }
    }
    Ok(Some(path))
}

/// Find every MicroSIP profile under `root` laid out as `layout`, in user order.
///
/// `is_user` says whether a name is a user of the manifest (e.g.
/// `|name| users.find(name).is_some()`); it decides between readings of a folder name as
/// [`resolve_folder_name`] does (`|_| false` takes every Windows suffix off). Folders mapping to
/// one user yield one [`Discovered::Profile`], chosen as the module doc says (roaming version,
/// then `microsip.ini` modification time, then the name Windows gave later, then the folder name);
/// the others that hold MicroSIP are [`Discovered::Superseded`] by it.
///
/// Memory is one small record per user folder; modification times are only read for users with
/// more than one candidate folder.
pub fn discover(
    root: &Path,
    layout: &str,
    is_user: impl Fn(&str) -> bool,
) -> Result<Vec<Discovered>, DiscoverError> {
    Ok(RootListing::read(root, layout)?.resolve(is_user, false))
}

/// [`discover`], but the only folder of a user is not looked into here: it comes back as
/// [`Discovered::Unchecked`], for the worker that handles it to check ([`Unchecked::check`],
/// the same rules) — in parallel, and on Linux in the system call that opens its
/// `microsip.ini`. Users with several folders are resolved here, as [`discover`] does.
pub fn discover_deferred(
    root: &Path,
    layout: &str,
    is_user: impl Fn(&str) -> bool,
) -> Result<Vec<Discovered>, DiscoverError> {
    Ok(RootListing::read(root, layout)?.resolve(is_user, true))
}

/// The names in a profiles root, read before anything is known of the manifest's users: a
/// fleet run lists the root while it loads the manifest ([`RootListing::read`], then
/// [`RootListing::resolve`], which is [`discover`] or [`discover_deferred`] in two steps).
#[derive(Debug)]
pub struct RootListing {
    /// Every entry's name, in the order the file system lists them.
    names: Vec<String>,
    beneath: Arc<Beneath>,
}

impl RootListing {
    /// Check `layout` and list `root`.
    pub fn read(root: &Path, layout: &str) -> Result<RootListing, DiscoverError> {
        let parts: Vec<&str> = layout
            .split(['/', '\\'])
            .filter(|p| !p.is_empty() && *p != ".")
            .collect();
        if parts.first() != Some(&"{user}") {
            return Err(LayoutError(layout.to_string(), "it does not start with {user}").into());
        }
        if parts[1..].iter().any(|p| p.contains('{') || *p == "..") {
            return Err(LayoutError(
                layout.to_string(),
                "only the first component may be a placeholder",
            )
            .into());
        }
        let entries = std::fs::read_dir(root).map_err(|source| DiscoverError::Root {
            path: root.to_path_buf(),
            source,
        })?;
        let names = entries
            .flatten()
            .map(|entry| {
                entry
                    .file_name()
                    .into_string()
                    .unwrap_or_else(|name| name.to_string_lossy().into_owned())
            })
            .collect();
        Ok(RootListing {
            names,
            beneath: Arc::new(Beneath {
                root: root.to_path_buf(),
                handle: std::fs::File::open(root).ok(),
                rest: parts[1..].iter().map(|p| p.to_string()).collect(),
            }),
        })
    }

    /// Map every name to its user and find the profiles, as [`discover`] (`defer: false`) or
    /// [`discover_deferred`] (`defer: true`) does.
    pub fn resolve(self, is_user: impl Fn(&str) -> bool, defer: bool) -> Vec<Discovered> {
        let RootListing { names, beneath } = self;
        let root = beneath.root.as_path();
        let rest: Vec<&str> = beneath.rest.iter().map(String::as_str).collect();
        // Every folder with its user (as the users table compares names), sorted by user so
        // that a user's folders sit side by side: no map and no list per user for a root of
        // 10,000 folders that are mostly one a user.
        let mut listed: Vec<(String, Candidate)> = names
            .into_iter()
            .map(|folder| {
                let name = resolve_folder_name(&folder, &is_user);
                // A name the users table reads as empty (`@x`) cannot match a user: kept apart.
                let key = match crate::manifest::normalize_user_name(name.user) {
                    key if key.is_empty() => name.user.to_lowercase(),
                    key => key,
                };
                let candidate = Candidate {
                    user_len: name.user.len(),
                    version: name.version,
                    conflict: name.conflict,
                    domain: name.domain.is_some(),
                    folder,
                    walk: Ok(None),
                };
                (key, candidate)
            })
            .collect();
        listed.sort_unstable_by(|a, b| (&a.0, &a.1.folder).cmp(&(&b.0, &b.1.folder)));

        // The users in order, each settled here (the only folder of its user, deferred) or
        // once its folders are walked.
        enum Run {
            Settled(Discovered),
            Walked,
        }
        let mut runs: Vec<Run> = Vec::with_capacity(listed.len());
        let mut groups: Vec<Vec<Candidate>> = Vec::new();
        let mut listed = listed.into_iter().peekable();
        while let Some((key, first)) = listed.next() {
            let alone = listed.peek().is_none_or(|(next, _)| *next != key);
            // Deferred: the only folder of its user needs no comparison, nothing is read here.
            if defer && alone {
                let user = first.user().to_string();
                runs.push(Run::Settled(Discovered::Unchecked(Unchecked {
                    user,
                    folder: first.folder,
                    beneath: Arc::clone(&beneath),
                })));
                continue;
            }
            let mut candidates = vec![first];
            while let Some((_, next)) = listed.next_if(|(next, _)| *next == key) {
                candidates.push(next);
            }
            runs.push(Run::Walked);
            groups.push(candidates);
        }
        // Checking each folder's path is a few system calls that wait on the file system: done
        // on every core, a user's folders together. A root entry that is not a folder is no
        // candidate.
        let handle = beneath.handle.as_ref();
        let walks = parallel_map(&groups, |candidates| {
            candidates
                .iter()
                .map(|c| walk_user_folder(root, handle, &c.folder, &rest))
                .collect::<Vec<_>>()
        });
        // In user order (as the users table compares them); a user's own entries keep their
        // order (the profile first).
        let mut walked = groups.into_iter().zip(walks);
        let mut found = Vec::with_capacity(runs.len());
        for run in runs {
            match run {
                Run::Settled(discovered) => found.push(discovered),
                Run::Walked => {
                    let (candidates, walks) = walked.next().expect("a walk for every group");
                    let candidates: Vec<Candidate> = candidates
                        .into_iter()
                        .zip(walks)
                        .filter_map(|(candidate, walk)| {
                            Some(Candidate {
                                walk: walk?,
                                ..candidate
                            })
                        })
                        .collect();
                    choose_profile(candidates, &mut found);
                }
            }
        }
        found
    }
}

/// Of one user's walked folders, the profile and the superseded or refused others, pushed onto
/// `found` (see the module doc for the order).
fn choose_profile(mut candidates: Vec<Candidate>, found: &mut Vec<Discovered>) {
    let usable = candidates
        .iter()
        .filter(|c| matches!(c.walk, Ok(Some(_))))
        .count();
    if usable > 1 {
        candidates.sort_by_cached_key(|c| {
            let modified = match &c.walk {
                Ok(Some(dir)) => std::fs::symlink_metadata(dir.join("microsip.ini"))
                    .and_then(|meta| meta.modified())
                    .ok(),
                _ => None,
            };
            // Newest first: every part but the folder name is reversed.
            (
                std::cmp::Reverse((c.version, modified, c.conflict, c.domain)),
                c.folder.clone(),
            )
        });
    }
    let mut winner: Option<(PathBuf, u32)> = None;
    for candidate in candidates {
        let user = candidate.user().to_string();
        match candidate.walk {
            Ok(None) => {}
            Ok(Some(dir)) => match &winner {
                None => {
                    winner = Some((dir.clone(), candidate.version));
                    found.push(Discovered::Profile(Profile::in_dir(dir, user)));
                }
                Some((by, version)) => found.push(Discovered::Superseded {
                    user,
                    path: dir,
                    by: by.clone(),
                    reason: if candidate.version < *version {
                        format!(
                            "an older roaming profile version (V{} < V{version})",
                            candidate.version
                        )
                    } else {
                        "another folder of the same user holds a newer profile (a newer \
                             microsip.ini, or a name Windows gave later)"
                            .to_string()
                    },
                }),
            },
            Err((path, reason)) => found.push(Discovered::Refused { user, path, reason }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roaming_versions() {
        assert_eq!(profile_version("jdoe.V6"), ("jdoe", 6));
        assert_eq!(profile_version("john.doe"), ("john.doe", 1));
        assert_eq!(profile_version("john.doe.v2"), ("john.doe", 2));
        assert_eq!(profile_version("jdoe"), ("jdoe", 1));
        assert_eq!(profile_version(".V2"), (".V2", 1));
    }

    #[test]
    fn layouts_must_start_with_the_user() {
        let dir = tempfile::tempdir().unwrap();
        assert!(discover(dir.path(), "MicroSIP/{user}", |_| false).is_err());
        assert!(discover(dir.path(), "{user}/../x", |_| false).is_err());
        assert!(discover(dir.path(), "{user}/MicroSIP", |_| false)
            .unwrap()
            .is_empty());
    }

    /// A root with a user folder for each of `users` (with a `MicroSIP` folder, and a
    /// `microsip.ini` in it when `ini`, except for `nomicrosip`) and, on Unix, `mallory`, whose
    /// `MicroSIP` is a link to anna's.
    fn mixed_root(users: &[&str], ini: bool) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        for user in users {
            let dir = root.path().join(user);
            std::fs::create_dir_all(&dir).unwrap();
            if *user != "nomicrosip" {
                std::fs::create_dir_all(dir.join("MicroSIP")).unwrap();
                if ini {
                    std::fs::write(dir.join("MicroSIP/microsip.ini"), b"\xFF\xFE").unwrap();
                }
            }
        }
        #[cfg(unix)]
        {
            std::fs::create_dir_all(root.path().join("mallory")).unwrap();
            std::os::unix::fs::symlink(
                root.path().join("anna/MicroSIP"),
                root.path().join("mallory/MicroSIP"),
            )
            .unwrap();
        }
        root
    }

    #[test]
    fn newest_version_wins_and_links_are_refused() {
        let root = mixed_root(&["jdoe", "jdoe.V6", "anna", "nomicrosip"], false);
        let found = discover(root.path(), "{user}/MicroSIP", |_| false).unwrap();
        let profiles: Vec<_> = found
            .iter()
            .filter_map(|d| match d {
                Discovered::Profile(p) => Some((p.user.clone(), p.dir.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(
            profiles,
            [
                ("anna".to_string(), root.path().join("anna/MicroSIP")),
                ("jdoe".to_string(), root.path().join("jdoe.V6/MicroSIP")),
            ]
        );
        assert!(found
            .iter()
            .any(|d| matches!(d, Discovered::Superseded { user, .. } if user == "jdoe")));
        #[cfg(unix)]
        assert!(found
            .iter()
            .any(|d| matches!(d, Discovered::Refused { user, .. } if user == "mallory")));
    }

    /// The deferred form checks exactly as the eager one: the same profiles, refusals and
    /// supersessions once every unchecked folder is checked, and a folder without MicroSIP or a
    /// file in the root disappears. On Linux, the INI is readable through `read_ini_into` only
    /// where no link is on the way.
    #[test]
    fn deferred_discovery_checks_the_same_as_eager_discovery() {
        let root = mixed_root(&["jdoe", "jdoe.V6", "anna", "nomicrosip", "bob.CORP"], true);
        std::fs::write(root.path().join("notes.txt"), b"not a profile").unwrap();
        #[cfg(unix)]
        {
            std::fs::create_dir_all(root.path().join("eve/MicroSIP")).unwrap();
            std::os::unix::fs::symlink(
                root.path().join("anna/MicroSIP/microsip.ini"),
                root.path().join("eve/MicroSIP/microsip.ini"),
            )
            .unwrap();
        }
        let eager = discover(root.path(), "{user}/MicroSIP", |_| false).unwrap();
        let deferred = discover_deferred(root.path(), "{user}/MicroSIP", |_| false).unwrap();
        assert!(deferred
            .iter()
            .any(|d| matches!(d, Discovered::Unchecked(_))));
        for item in &deferred {
            if let Discovered::Unchecked(unchecked) = item {
                let readable = unchecked.read_ini_into(&mut Vec::new()).is_some();
                let clean = matches!(unchecked.check(), Some(Discovered::Profile(_)));
                if cfg!(target_os = "linux") {
                    assert_eq!(readable, clean, "{unchecked:?}");
                } else {
                    assert!(!readable);
                }
            }
        }
        let checked: Vec<Discovered> = deferred
            .into_iter()
            .filter_map(|d| match d {
                Discovered::Unchecked(u) => u.check(),
                other => Some(other),
            })
            .collect();
        assert_eq!(checked, eager);
    }

    /// `parse_folder_name` as a tuple (user, domain, conflict, version), for short assertions.
    fn parsed(folder: &str) -> (&str, Option<&str>, Option<u16>, u32) {
        let name = parse_folder_name(folder);
        (name.user, name.domain, name.conflict, name.version)
    }

    #[test]
    fn dotted_user_names_stay_whole() {
        assert_eq!(parsed("john.doe"), ("john.doe", None, None, 1));
        assert_eq!(parsed("john.doe.V2"), ("john.doe", None, None, 2));
        assert_eq!(parsed("a.b.c"), ("a.b.c", None, None, 1));
        assert_eq!(parsed("jdoe"), ("jdoe", None, None, 1));
    }

    #[test]
    fn domain_forms_map_to_the_user() {
        assert_eq!(parsed("jdoe.CORP"), ("jdoe", Some("CORP"), None, 1));
        assert_eq!(parsed("jdoe.CORP.V6"), ("jdoe", Some("CORP"), None, 6));
        assert_eq!(parsed("jdoe.CORP.001"), ("jdoe", Some("CORP"), Some(1), 1));
        assert_eq!(
            parsed("jdoe.CORP.001.V6"),
            ("jdoe", Some("CORP"), Some(1), 6)
        );
        assert_eq!(parsed("john.doe.CORP"), ("john.doe", Some("CORP"), None, 1));
        // A computer name (local account), digits and `-` as NetBIOS allows, 15 characters.
        assert_eq!(parsed("jdoe.PC-0042"), ("jdoe", Some("PC-0042"), None, 1));
        assert_eq!(
            parsed("jdoe.ABCDEFGHIJKLMNO"),
            ("jdoe", Some("ABCDEFGHIJKLMNO"), None, 1)
        );
    }

    #[test]
    fn conflict_counters_map_to_the_user() {
        assert_eq!(parsed("jdoe.000"), ("jdoe", None, Some(0), 1));
        assert_eq!(parsed("jdoe.042.v3"), ("jdoe", None, Some(42), 3));
        assert_eq!(parsed("john.doe.001"), ("john.doe", None, Some(1), 1));
        // Not three digits: part of the name.
        assert_eq!(parsed("jdoe.00"), ("jdoe.00", None, None, 1));
        assert_eq!(parsed("jdoe.0001"), ("jdoe.0001", None, None, 1));
        assert_eq!(parsed("jdoe.2024"), ("jdoe.2024", None, None, 1));
    }

    #[test]
    fn only_what_windows_writes_is_a_domain() {
        // Lower or mixed case: Windows writes the NetBIOS name in upper case; a user name part.
        assert_eq!(parsed("jdoe.corp"), ("jdoe.corp", None, None, 1));
        assert_eq!(parsed("jdoe.Corp"), ("jdoe.Corp", None, None, 1));
        assert_eq!(parsed("jdoe.corp.V2"), ("jdoe.corp", None, None, 2));
        // Too long for NetBIOS, a character NetBIOS domains do not use, no letter at all.
        assert_eq!(
            parse_folder_name("jdoe.ABCDEFGHIJKLMNOP").user,
            "jdoe.ABCDEFGHIJKLMNOP"
        );
        assert_eq!(parse_folder_name("jdoe.CO_RP").user, "jdoe.CO_RP");
        assert_eq!(parse_folder_name("jdoe.12").user, "jdoe.12");
        assert_eq!(parse_folder_name("jdoe.-").user, "jdoe.-");
        // Each suffix once, in Windows' order only: `.V6` is not a domain in front of `.CORP`.
        assert_eq!(parsed("jdoe.V6.CORP"), ("jdoe.V6", Some("CORP"), None, 1));
        assert_eq!(parsed("jdoe.A.B"), ("jdoe.A", Some("B"), None, 1));
    }

    #[test]
    fn a_suffix_alone_is_a_name() {
        assert_eq!(parsed(".V2"), (".V2", None, None, 1));
        assert_eq!(parsed("jdoe.V2"), ("jdoe", None, None, 2));
        assert_eq!(parsed(".CORP"), (".CORP", None, None, 1));
        assert_eq!(parsed(".000"), (".000", None, None, 1));
        assert_eq!(parsed("CORP.000"), ("CORP", None, Some(0), 1));
        assert_eq!(parsed("."), (".", None, None, 1));
        assert_eq!(parsed(""), ("", None, None, 1));
    }

    #[test]
    fn a_known_user_wins_over_peeling() {
        let known = |name: &str| ["john.doe", "jdoe", "ops.v2"].contains(&name);
        // The whole name is a user (the users table ignores case, so the predicate decides).
        let known_ci = |name: &str| known(&name.to_lowercase());
        assert_eq!(resolve_folder_name("john.DOE", known_ci).user, "john.DOE");
        assert_eq!(resolve_folder_name("john.DOE", |_| false).user, "john");
        // The longest known reading, version kept when it was peeled off.
        let name = resolve_folder_name("john.DOE.V6", known_ci);
        assert_eq!(
            (name.user, name.domain, name.version),
            ("john.DOE", None, 6)
        );
        let name = resolve_folder_name("jdoe.CORP.000.V6", known);
        assert_eq!(
            (name.user, name.domain, name.conflict, name.version),
            ("jdoe", Some("CORP"), Some(0), 6)
        );
        // A user named like a roaming suffix keeps it.
        let name = resolve_folder_name("ops.V2", known_ci);
        assert_eq!((name.user, name.version), ("ops.V2", 1));
        // Nobody known: every suffix off.
        assert_eq!(resolve_folder_name("anna.CORP.001", known).user, "anna");
    }

    /// A user folder with `MicroSIP/microsip.ini` modified at `mtime` seconds after an epoch.
    fn profile_folder(root: &Path, folder: &str, mtime: Option<u64>) -> PathBuf {
        let dir = root.join(folder).join("MicroSIP");
        std::fs::create_dir_all(&dir).unwrap();
        if let Some(seconds) = mtime {
            let ini = std::fs::File::create(dir.join("microsip.ini")).unwrap();
            let at =
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000 + seconds);
            ini.set_modified(at).unwrap();
        }
        dir
    }

    /// (user, folder used) of every profile, and (user, folder, by) of every superseded one.
    #[allow(clippy::type_complexity)]
    fn outcome(
        root: &Path,
        found: &[Discovered],
    ) -> (Vec<(String, String)>, Vec<(String, String, String)>) {
        let folder = |path: &Path| {
            let relative = path.strip_prefix(root).unwrap();
            let first = relative.components().next().unwrap();
            first.as_os_str().to_string_lossy().into_owned()
        };
        let mut profiles = Vec::new();
        let mut superseded = Vec::new();
        for item in found {
            match item {
                Discovered::Profile(p) => profiles.push((p.user.clone(), folder(&p.dir))),
                Discovered::Superseded { user, path, by, .. } => {
                    superseded.push((user.clone(), folder(path), folder(by)))
                }
                Discovered::Refused { .. } => {}
                Discovered::Unchecked(_) => unreachable!("discover checks every folder"),
            }
        }
        (profiles, superseded)
    }

    #[test]
    fn domain_forms_are_one_user_and_the_newest_profile_wins() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        // Same version: the more recently used microsip.ini wins, whatever the names.
        profile_folder(root, "jdoe", Some(200));
        profile_folder(root, "jdoe.CORP", Some(100));
        // Same version, same time: the name Windows gave later wins.
        profile_folder(root, "anna", Some(0));
        profile_folder(root, "anna.CORP", Some(0));
        profile_folder(root, "anna.CORP.000", Some(0));
        profile_folder(root, "anna.CORP.001", Some(0));
        // A higher version beats a newer INI; no INI comes last.
        profile_folder(root, "bob.CORP", Some(500));
        profile_folder(root, "bob.V6", Some(1));
        profile_folder(root, "carl", None);
        profile_folder(root, "carl.CORP", Some(0));
        // Different users despite the dots.
        profile_folder(root, "john.doe", Some(0));
        profile_folder(root, "john", Some(0));
        // A lower-case suffix is no domain (a name of its own that a case-insensitive file
        // system, Windows', can hold beside the others).
        profile_folder(root, "mary.corp", Some(0));
        let found = discover(root, "{user}/MicroSIP", |_| false).unwrap();
        let (profiles, superseded) = outcome(root, &found);
        let pairs = |items: &[(&str, &str)]| {
            items
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            profiles,
            pairs(&[
                ("anna", "anna.CORP.001"),
                ("bob", "bob.V6"),
                ("carl", "carl.CORP"),
                ("jdoe", "jdoe"),
                ("john", "john"),
                ("john.doe", "john.doe"),
                ("mary.corp", "mary.corp"),
            ])
        );
        let triples = |items: &[(&str, &str, &str)]| {
            items
                .iter()
                .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            superseded,
            triples(&[
                ("anna", "anna.CORP.000", "anna.CORP.001"),
                ("anna", "anna.CORP", "anna.CORP.001"),
                ("anna", "anna", "anna.CORP.001"),
                ("bob", "bob.CORP", "bob.V6"),
                ("carl", "carl", "carl.CORP"),
                ("jdoe", "jdoe.CORP", "jdoe"),
            ])
        );
    }

    #[test]
    fn the_manifest_decides_between_readings() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        profile_folder(root, "john.DOE", Some(0));
        profile_folder(root, "john", Some(5));
        let known = |name: &str| name.eq_ignore_ascii_case("john.doe") || name == "john";
        let found = discover(root, "{user}/MicroSIP", known).unwrap();
        let (profiles, superseded) = outcome(root, &found);
        assert_eq!(
            profiles,
            [
                ("john".to_string(), "john".to_string()),
                ("john.DOE".to_string(), "john.DOE".to_string()),
            ]
        );
        assert!(superseded.is_empty());
        // Without that user, `john.DOE` is a domain form of `john`, and older.
        let found = discover(root, "{user}/MicroSIP", |name: &str| name == "john").unwrap();
        let (profiles, superseded) = outcome(root, &found);
        assert_eq!(profiles, [("john".to_string(), "john".to_string())]);
        assert_eq!(
            superseded,
            [(
                "john".to_string(),
                "john.DOE".to_string(),
                "john".to_string()
            )]
        );
    }

    #[test]
    fn equal_candidates_are_decided_by_the_folder_name() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path();
        // Same version, time and Windows order: the folder name decides. (Two domains, not two
        // cases of one name, which Windows' file system could not hold side by side.)
        profile_folder(root, "jdoe.DEV", Some(0));
        profile_folder(root, "jdoe.CORP", Some(0));
        let first = discover(root, "{user}/MicroSIP", |_| false).unwrap();
        let (profiles, superseded) = outcome(root, &first);
        assert_eq!(profiles, [("jdoe".to_string(), "jdoe.CORP".to_string())]);
        assert_eq!(superseded.len(), 1);
        assert_eq!(discover(root, "{user}/MicroSIP", |_| false).unwrap(), first);
    }
}
