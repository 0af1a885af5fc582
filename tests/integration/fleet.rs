//! Fleet mode end to end (issue 6): the real binary over generated profile trees in temp folders.
//!
//! A tree holds good profiles (copies of `examples/profiles/*` renamed per user, with a users CSV
//! and secret files to match) mixed with broken ones: an undecodable INI, a truncated one,
//! read-only files and folders, a folder named `microsip.ini`, links planted at every level (the
//! INI, the user folder, the MicroSIP folder, the tool's own folder, the lock file), a named
//! pipe planted as the INI (reading it would wait forever), a profile
//! whose lock another process holds, a user missing from the manifest and two roaming-profile
//! versions of one user. Every profile must be reported with the right outcome and a useful
//! error, the good ones applied, the bad ones (and every file a link points at) left
//! byte-identical; a second run writes nothing at all.
//!
//! Read-only on Unix: replacing a file by `rename` needs write permission on the folder only, so a
//! `chmod 0444` file is replaced (for root and for everybody else; its mode survives), while
//! Windows' read-only attribute makes `ReplaceFileW` fail. A folder without write permission stops
//! the write for a normal user but not for root (these tests usually run as root); the test finds
//! out which is true and asserts that. The case that stops root too is the immutable attribute
//! (`chattr +i`), used when the file system supports it.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, SystemTime};

use microsip_provision::ini::{CodePage, IniDocument};
use microsip_provision::profile::state::STATE_SECTION;
use serde_json::Value;

use crate::common::examples_dir;
use crate::common::{bin, output_within, utf16le_bom};

/// The example profiles the good ones are copied from.
const TEMPLATES: [&str; 3] = ["alice", "bob", "carol"];

fn template_ini(n: usize) -> Vec<u8> {
    let user = TEMPLATES[n % TEMPLATES.len()];
    fs::read(
        examples_dir()
            .join("profiles")
            .join(user)
            .join("AppData/Roaming/MicroSIP/microsip.ini"),
    )
    .unwrap()
}

/// The password in a user's secret file: it must never show up in any output.
fn secret_of(user: &str) -> String {
    format!("S3cret-{user}-pw!")
}

/// The default layout below a user folder.
const DEFAULT_LAYOUT: &str = "AppData/Roaming/MicroSIP";

/// What a profile is made of, and so what must happen to it.
// The links, pipes and permission cases are built on Unix only.
#[cfg_attr(not(unix), allow(dead_code))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A copy of an example profile: applied.
    Good,
    /// UTF-16LE with BOM and an odd trailing byte.
    BadEncoding,
    /// A UTF-16LE file cut between the two halves of a surrogate pair.
    Truncated,
    /// `chmod 0444` on the INI (Unix).
    ReadOnlyFile,
    /// `chmod 0555` on the MicroSIP folder (Unix).
    ReadOnlyFolder,
    /// `chattr +i` on the INI (Linux, when supported).
    Immutable,
    /// A folder named `microsip.ini`.
    IniIsFolder,
    /// `microsip.ini` is a symlink to a file outside the tree.
    IniSymlink,
    /// The user folder is a symlink to a folder outside the tree.
    UserSymlink,
    /// The MicroSIP folder is a symlink to a folder outside the tree.
    MicrosipSymlink,
    /// The tool's own folder (`microsip-provision`, backups and state) is a symlink outside.
    ToolDirSymlink,
    /// The sidecar lock file is a symlink to a file outside the tree.
    LockSymlink,
    /// Another process holds the profile's lock for the whole run.
    Locked,
    /// `microsip.ini` is a named pipe (Unix): opening it to read would wait for a writer forever.
    IniPipe,
    /// A good profile whose user is not in the manifest.
    Stranger,
}

/// One user folder of a generated tree.
#[derive(Debug, Clone)]
struct Case {
    /// The user folder's name under the profiles root (`jdoe.V6`).
    folder: String,
    /// The user it maps to (`jdoe`).
    user: String,
    kind: Kind,
    /// The file whose bytes must never change (the INI, or what a link points at).
    watched: Option<PathBuf>,
}

/// A generated fleet: `fleet.toml` (examples/fleet.toml), `users.csv`, `secrets/`, `profiles/`,
/// and `outside/` (what planted links point at).
struct Tree {
    dir: tempfile::TempDir,
    layout: String,
    cases: Vec<Case>,
    /// Files made immutable (made mutable again on drop, or the temp folder cannot be removed).
    #[cfg(unix)]
    immutable: Vec<PathBuf>,
    /// Folders made read-only (made writable again on drop).
    #[cfg(unix)]
    read_only_dirs: Vec<PathBuf>,
}

impl Drop for Tree {
    fn drop(&mut self) {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for path in &self.immutable {
                let _ = std::process::Command::new("chattr")
                    .arg("-i")
                    .arg(path)
                    .status();
            }
            for dir in &self.read_only_dirs {
                let _ = fs::set_permissions(dir, fs::Permissions::from_mode(0o755));
            }
        }
    }
}

impl Tree {
    /// An empty fleet with the example manifest.
    fn new(layout: &str) -> Tree {
        let dir = tempfile::tempdir().unwrap();
        fs::copy(
            examples_dir().join("fleet.toml"),
            dir.path().join("fleet.toml"),
        )
        .unwrap();
        for sub in ["secrets", "profiles", "outside"] {
            fs::create_dir_all(dir.path().join(sub)).unwrap();
        }
        Tree {
            dir,
            layout: layout.to_string(),
            cases: Vec::new(),
            #[cfg(unix)]
            immutable: Vec::new(),
            #[cfg(unix)]
            read_only_dirs: Vec::new(),
        }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn manifest(&self) -> PathBuf {
        self.root().join("fleet.toml")
    }

    fn profiles(&self) -> PathBuf {
        self.root().join("profiles")
    }

    #[cfg_attr(not(unix), allow(dead_code))]
    fn outside(&self) -> PathBuf {
        self.root().join("outside")
    }

    fn profile_dir(&self, folder: &str) -> PathBuf {
        self.profiles().join(folder).join(&self.layout)
    }

    fn ini(&self, folder: &str) -> PathBuf {
        self.profile_dir(folder).join("microsip.ini")
    }

    fn case(&self, folder: &str) -> &Case {
        self.cases
            .iter()
            .find(|c| c.folder == folder)
            .unwrap_or_else(|| panic!("no case {folder}"))
    }

    /// Write `users.csv` and a secret file for every user of the tree except the strangers.
    fn write_users(&self) {
        let mut csv = String::from("username,display_name,extension,department\n");
        let mut users: Vec<String> = self
            .cases
            .iter()
            .filter(|c| c.kind != Kind::Stranger)
            .map(|c| c.user.to_lowercase())
            .collect();
        users.sort();
        users.dedup();
        for (n, user) in users.iter().enumerate() {
            csv.push_str(&format!("{user},User {user},{},Ops\n", 2001 + n));
            fs::write(
                self.root().join("secrets").join(format!("{user}.txt")),
                secret_of(user),
            )
            .unwrap();
        }
        fs::write(self.root().join("users.csv"), csv).unwrap();
    }

    /// The extension `write_users` gave `user`.
    fn extension(&self, user: &str) -> String {
        let csv = fs::read_to_string(self.root().join("users.csv")).unwrap();
        csv.lines()
            .find_map(|line| {
                let fields: Vec<&str> = line.split(',').collect();
                (fields[0] == user).then(|| fields[2].to_string())
            })
            .unwrap_or_else(|| panic!("{user} not in users.csv"))
    }

    /// Add a user folder of `kind` named `folder` (mapping to `user`).
    fn add(&mut self, folder: &str, user: &str, kind: Kind) {
        let n = self.cases.len();
        let dir = self.profile_dir(folder);
        let ini = dir.join("microsip.ini");
        let mut watched = Some(ini.clone());
        match kind {
            Kind::Good | Kind::Stranger | Kind::Locked => {
                fs::create_dir_all(&dir).unwrap();
                fs::write(&ini, template_ini(n)).unwrap();
                if kind != Kind::Locked {
                    watched = None;
                }
            }
            Kind::BadEncoding => {
                fs::create_dir_all(&dir).unwrap();
                let mut bytes = template_ini(n);
                bytes.push(b'x');
                fs::write(&ini, bytes).unwrap();
            }
            Kind::Truncated => {
                fs::create_dir_all(&dir).unwrap();
                // A contact name with a character outside the BMP (two UTF-16 units), cut
                // after the high surrogate, as a copy interrupted mid-write leaves it.
                let text = "[Settings]\r\naccountId=1\r\n[Dialed]\r\n0=+4930123456 \u{1F4DE}";
                let mut bytes = utf16le_bom(text);
                bytes.truncate(bytes.len() - 2);
                fs::write(&ini, bytes).unwrap();
            }
            Kind::IniIsFolder => {
                fs::create_dir_all(ini.join("inside")).unwrap();
                watched = None;
            }
            #[cfg(unix)]
            Kind::ReadOnlyFile => {
                use std::os::unix::fs::PermissionsExt;
                fs::create_dir_all(&dir).unwrap();
                fs::write(&ini, template_ini(n)).unwrap();
                fs::set_permissions(&ini, fs::Permissions::from_mode(0o444)).unwrap();
            }
            #[cfg(unix)]
            Kind::ReadOnlyFolder => {
                use std::os::unix::fs::PermissionsExt;
                fs::create_dir_all(&dir).unwrap();
                fs::write(&ini, template_ini(n)).unwrap();
                fs::set_permissions(&dir, fs::Permissions::from_mode(0o555)).unwrap();
                self.read_only_dirs.push(dir.clone());
            }
            #[cfg(unix)]
            Kind::Immutable => {
                fs::create_dir_all(&dir).unwrap();
                fs::write(&ini, template_ini(n)).unwrap();
                assert!(chattr_immutable(&ini, true), "chattr +i {}", ini.display());
                self.immutable.push(ini.clone());
            }
            #[cfg(unix)]
            Kind::IniSymlink => {
                fs::create_dir_all(&dir).unwrap();
                let target = self.outside().join(format!("{folder}-victim.ini"));
                fs::write(&target, template_ini(n)).unwrap();
                std::os::unix::fs::symlink(&target, &ini).unwrap();
                watched = Some(target);
            }
            #[cfg(unix)]
            Kind::UserSymlink => {
                let target = self.outside().join(format!("{folder}-home"));
                let target_ini = target.join(&self.layout).join("microsip.ini");
                fs::create_dir_all(target_ini.parent().unwrap()).unwrap();
                fs::write(&target_ini, template_ini(n)).unwrap();
                std::os::unix::fs::symlink(&target, self.profiles().join(folder)).unwrap();
                watched = Some(target_ini);
            }
            #[cfg(unix)]
            Kind::MicrosipSymlink => {
                let target = self.outside().join(format!("{folder}-microsip"));
                fs::create_dir_all(&target).unwrap();
                fs::write(target.join("microsip.ini"), template_ini(n)).unwrap();
                fs::create_dir_all(dir.parent().unwrap()).unwrap();
                std::os::unix::fs::symlink(&target, &dir).unwrap();
                watched = Some(target.join("microsip.ini"));
            }
            #[cfg(unix)]
            Kind::ToolDirSymlink => {
                fs::create_dir_all(&dir).unwrap();
                fs::write(&ini, template_ini(n)).unwrap();
                let target = self.outside().join(format!("{folder}-tool"));
                fs::create_dir_all(&target).unwrap();
                std::os::unix::fs::symlink(&target, dir.join("microsip-provision")).unwrap();
            }
            #[cfg(unix)]
            Kind::IniPipe => {
                fs::create_dir_all(&dir).unwrap();
                let made = std::process::Command::new("mkfifo").arg(&ini).status();
                assert!(made.is_ok_and(|s| s.success()), "mkfifo {}", ini.display());
                watched = None; // reading it would wait; the snapshot keeps it as a pipe
            }
            #[cfg(unix)]
            Kind::LockSymlink => {
                fs::create_dir_all(&dir).unwrap();
                fs::write(&ini, template_ini(n)).unwrap();
                let target = self.outside().join(format!("{folder}-lock-target"));
                fs::write(&target, b"not a lock file").unwrap();
                std::os::unix::fs::symlink(&target, dir.join(".microsip.ini.mpv-lock")).unwrap();
            }
            #[cfg(not(unix))]
            _ => unreachable!("{kind:?} is built on Unix only"),
        }
        self.cases.push(Case {
            folder: folder.to_string(),
            user: user.to_string(),
            kind,
            watched,
        });
    }

    /// Hold the lock of every `Locked` profile, as another microsip-provision would.
    fn hold_locks(&self) -> Vec<microsip_provision::apply::lock::FileLock> {
        self.cases
            .iter()
            .filter(|c| c.kind == Kind::Locked)
            .map(|c| {
                microsip_provision::apply::lock::lock_for(
                    &self.ini(&c.folder),
                    Duration::ZERO,
                    &mut |_| {},
                )
                .unwrap()
            })
            .collect()
    }

    /// The bytes of every watched file.
    fn watched_bytes(&self) -> BTreeMap<String, Vec<u8>> {
        self.cases
            .iter()
            .filter_map(|c| {
                let path = c.watched.as_ref()?;
                Some((c.folder.clone(), fs::read(path).unwrap()))
            })
            .collect()
    }

    /// Run the binary with `args`; `{root}`, `{manifest}` and `{report}` are filled in.
    fn run(&self, args: &[&str]) -> Run {
        let root = self.profiles();
        let manifest = self.manifest();
        let report = self.root().join("report.jsonl");
        let args: Vec<String> = args
            .iter()
            .map(|a| match *a {
                "{root}" => root.display().to_string(),
                "{manifest}" => manifest.display().to_string(),
                "{report}" => report.display().to_string(),
                other => other.to_string(),
            })
            .collect();
        let _ = fs::remove_file(&report);
        let output = output_within(bin().args(&args), Duration::from_secs(120));
        let mut run = Run::from_output(format!("microsip-provision {}", args.join(" ")), output);
        if let Ok(text) = fs::read_to_string(&report) {
            run.report = Some(text);
        }
        let secrets: Vec<String> = self.cases.iter().map(|c| secret_of(&c.user)).collect();
        for secret in &secrets {
            assert!(
                !run.all_output().contains(secret.as_str()),
                "a secret leaked in `{}`:\n{}",
                run.what,
                run.all_output()
            );
        }
        run
    }

    /// `apply` over the whole tree with a JSON Lines report and a short lock wait.
    fn apply(&self, extra: &[&str]) -> Run {
        let mut args = vec![
            "apply",
            "{manifest}",
            "--profiles-root",
            "{root}",
            "--report",
            "{report}",
            "--lock-wait",
            "0.2",
        ];
        if self.layout != DEFAULT_LAYOUT {
            args.extend(["--layout", "{user}/MicroSIP"]);
            assert_eq!(self.layout, "MicroSIP", "only two layouts are used here");
        }
        args.extend(extra);
        self.run(&args)
    }

    /// `plan` over the whole tree with a JSON Lines report.
    fn plan(&self, extra: &[&str]) -> Run {
        let mut args = vec![
            "plan",
            "{manifest}",
            "--profiles-root",
            "{root}",
            "--report",
            "{report}",
        ];
        if self.layout != DEFAULT_LAYOUT {
            args.extend(["--layout", "{user}/MicroSIP"]);
        }
        args.extend(extra);
        self.run(&args)
    }

    /// The user folder a report line is about (first component below the profiles root).
    fn folder_of(&self, report: &Value) -> String {
        let path = PathBuf::from(report["profile"].as_str().expect("profile path"));
        let relative = path
            .strip_prefix(self.profiles())
            .unwrap_or_else(|_| panic!("report path {} is outside the root", path.display()));
        relative
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .into_owned()
    }

    /// The report as folder -> report line; every line appears once.
    fn reports(&self, run: &Run) -> BTreeMap<String, Value> {
        let text = run
            .report
            .as_deref()
            .unwrap_or_else(|| panic!("`{}` wrote no report", run.what));
        let mut found = BTreeMap::new();
        for line in text.lines() {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("report line is not JSON ({e}): {line}"));
            for field in ["user", "profile", "outcome", "duration_ms"] {
                assert!(!value[field].is_null(), "no {field} in {line}");
            }
            assert!(value["duration_ms"].as_f64().unwrap() >= 0.0);
            let folder = self.folder_of(&value);
            assert!(
                found.insert(folder.clone(), value).is_none(),
                "{folder} reported twice in `{}`",
                run.what
            );
        }
        found
    }

    /// Folder -> outcome from a run's report.
    fn outcomes(&self, run: &Run) -> BTreeMap<String, String> {
        self.reports(run)
            .into_iter()
            .map(|(folder, r)| (folder, r["outcome"].as_str().unwrap().to_string()))
            .collect()
    }

    /// Every file, folder and link under the tree (not followed), with its bytes and mtime.
    fn snapshot(&self) -> BTreeMap<PathBuf, Entry> {
        let mut out = BTreeMap::new();
        snapshot_into(self.root(), self.root(), &mut out);
        out
    }

    /// Check a good profile's INI: the office account with the user's extension, once.
    fn assert_provisioned(&self, folder: &str) {
        let case = self.case(folder);
        let bytes = fs::read(self.ini(folder)).unwrap();
        let doc = IniDocument::parse(&bytes, CodePage::WINDOWS_1252).unwrap();
        let offices: Vec<String> = doc
            .section_names()
            .into_iter()
            .filter(|s| doc.get(s, "label").as_deref() == Some("Office"))
            .collect();
        assert_eq!(
            offices.len(),
            1,
            "{folder}: one Office account: {offices:?}"
        );
        let account = &offices[0];
        let extension = self.extension(&case.user);
        assert_eq!(
            doc.get(account, "username").as_deref(),
            Some(extension.as_str()),
            "{folder}"
        );
        assert_eq!(
            doc.get(account, "transport").as_deref(),
            Some("tls"),
            "{folder}"
        );
        assert_eq!(
            doc.get(account, "password").as_deref(),
            Some(secret_of(&case.user).as_str()),
            "{folder}: the password from the user's secret file"
        );
    }

    /// The bytes a folder's INI was created with.
    fn original(&self, folder: &str) -> Vec<u8> {
        template_ini(self.cases.iter().position(|c| c.folder == folder).unwrap())
    }
}

/// One entry of a [`Tree::snapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    File {
        bytes: Vec<u8>,
        mtime: SystemTime,
    },
    Folder,
    Link(PathBuf),
    /// A named pipe (never read: that would wait for a writer), with its modification time.
    Pipe(SystemTime),
}

fn snapshot_into(base: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Entry>) {
    let mut entries: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap()).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let relative = path.strip_prefix(base).unwrap().to_path_buf();
        if relative == Path::new("report.jsonl") {
            continue;
        }
        let meta = fs::symlink_metadata(&path).unwrap();
        if meta.file_type().is_symlink() {
            out.insert(relative, Entry::Link(fs::read_link(&path).unwrap()));
        } else if meta.is_dir() {
            out.insert(relative, Entry::Folder);
            snapshot_into(base, &path, out);
        } else if !meta.is_file() {
            out.insert(relative, Entry::Pipe(meta.modified().unwrap()));
        } else {
            out.insert(
                relative,
                Entry::File {
                    bytes: fs::read(&path).unwrap(),
                    mtime: meta.modified().unwrap(),
                },
            );
        }
    }
}

/// What differs between two snapshots (for assertion messages).
fn snapshot_diff(before: &BTreeMap<PathBuf, Entry>, after: &BTreeMap<PathBuf, Entry>) -> String {
    let mut out = String::new();
    for (path, entry) in before {
        match after.get(path) {
            None => out.push_str(&format!("  removed {}\n", path.display())),
            Some(now) if now != entry => {
                let what = match (entry, now) {
                    (Entry::File { bytes: a, .. }, Entry::File { bytes: b, .. }) if a == b => {
                        "mtime changed (rewritten with the same bytes)"
                    }
                    _ => "content changed",
                };
                out.push_str(&format!("  {what}: {}\n", path.display()));
            }
            Some(_) => {}
        }
    }
    for path in after.keys() {
        if !before.contains_key(path) {
            out.push_str(&format!("  created {}\n", path.display()));
        }
    }
    out
}

/// The result of one run of the binary.
#[derive(Debug)]
struct Run {
    what: String,
    code: i32,
    stdout: String,
    stderr: String,
    report: Option<String>,
}

impl Run {
    fn from_output(what: String, output: Output) -> Run {
        Run {
            what,
            code: output.status.code().expect("exited normally"),
            stdout: String::from_utf8(output.stdout).expect("UTF-8 stdout"),
            stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
            report: None,
        }
    }

    #[track_caller]
    fn code(&self, expected: i32) -> &Run {
        assert_eq!(
            self.code, expected,
            "`{}` exited {} (expected {expected})\n--- stdout\n{}\n--- stderr\n{}",
            self.what, self.code, self.stdout, self.stderr
        );
        self
    }

    fn all_output(&self) -> String {
        format!(
            "{}\n{}\n{}",
            self.stdout,
            self.stderr,
            self.report.as_deref().unwrap_or("")
        )
    }

    /// The counts of the summary line `N profiles in S s: a changed, b unchanged, c pending,
    /// d skipped, e failed`, as (total, changed, unchanged, pending, skipped, failed).
    #[track_caller]
    fn summary(&self) -> [usize; 6] {
        let line = self
            .stdout
            .lines()
            .find(|l| l.contains(" profiles in ") && l.ends_with(" failed"))
            .unwrap_or_else(|| panic!("no summary line in `{}`:\n{}", self.what, self.stdout));
        let (head, counts) = line.split_once(": ").unwrap();
        let total: usize = head.split(' ').next().unwrap().parse().unwrap();
        let mut out = [total, 0, 0, 0, 0, 0];
        let names = ["changed", "unchanged", "pending", "skipped", "failed"];
        for (i, part) in counts.split(", ").enumerate() {
            let (n, name) = part.split_once(' ').unwrap();
            assert_eq!(name, names[i], "summary line: {line}");
            out[i + 1] = n.parse().unwrap();
        }
        out
    }
}

/// Set or clear the immutable attribute; false when that is not possible here.
#[cfg(unix)]
fn chattr_immutable(path: &Path, on: bool) -> bool {
    std::process::Command::new("chattr")
        .arg(if on { "+i" } else { "-i" })
        .arg(path)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether `chattr +i` works here and stops even this process from replacing a file.
#[cfg(unix)]
fn immutable_supported() -> bool {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("probe");
    fs::write(&file, b"x").unwrap();
    if !chattr_immutable(&file, true) {
        return false;
    }
    let other = dir.path().join("other");
    fs::write(&other, b"y").unwrap();
    let stopped = fs::rename(&other, &file).is_err();
    chattr_immutable(&file, false);
    stopped
}

/// Whether this process can create files in a folder without write permission (root can).
#[cfg(unix)]
fn read_only_folders_are_writable_here() -> bool {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let inner = dir.path().join("ro");
    fs::create_dir(&inner).unwrap();
    fs::set_permissions(&inner, fs::Permissions::from_mode(0o555)).unwrap();
    let writable = fs::write(inner.join("probe"), b"x").is_ok();
    fs::set_permissions(&inner, fs::Permissions::from_mode(0o755)).unwrap();
    writable
}

/// The mixed tree: good profiles and every kind of broken one, under the given layout.
fn mixed_tree(layout: &str) -> Tree {
    let mut tree = Tree::new(layout);
    for user in ["ann", "ben", "cat", "dan", "eve", "fay"] {
        tree.add(user, user, Kind::Good);
    }
    // Two roaming-profile versions of one user: the newest wins, the other is reported.
    tree.add("jdoe", "jdoe", Kind::Good);
    tree.add("jdoe.V6", "jdoe", Kind::Good);
    tree.add("badenc", "badenc", Kind::BadEncoding);
    tree.add("truncated", "truncated", Kind::Truncated);
    tree.add("inidir", "inidir", Kind::IniIsFolder);
    tree.add("locked", "locked", Kind::Locked);
    tree.add("stranger", "stranger", Kind::Stranger);
    #[cfg(unix)]
    {
        tree.add("rofile", "rofile", Kind::ReadOnlyFile);
        tree.add("rodir", "rodir", Kind::ReadOnlyFolder);
        if immutable_supported() {
            tree.add("immutable", "immutable", Kind::Immutable);
        } else {
            eprintln!("note: chattr +i is not supported here; the immutable profile is left out");
        }
        tree.add("inilink", "inilink", Kind::IniSymlink);
        tree.add("userlink", "userlink", Kind::UserSymlink);
        tree.add("msiplink", "msiplink", Kind::MicrosipSymlink);
        tree.add("toollink", "toollink", Kind::ToolDirSymlink);
        tree.add("locklink", "locklink", Kind::LockSymlink);
        tree.add("inipipe", "inipipe", Kind::IniPipe);
    }
    tree.write_users();
    tree
}

/// The outcome each folder of a mixed tree must have on the first `apply`, and words its error
/// must contain (case-insensitive).
fn expected_first_apply(case: &Case) -> (&'static str, Vec<&'static str>) {
    match case.kind {
        Kind::Good if case.folder == "jdoe" => {
            ("skipped", vec!["older roaming profile version", "jdoe.V6"])
        }
        Kind::Good => ("changed", vec![]),
        Kind::BadEncoding => (
            "failed",
            vec![
                "badenc",
                "microsip.ini",
                "odd number of bytes",
                "left untouched",
            ],
        ),
        Kind::Truncated => (
            "failed",
            vec![
                "truncated",
                "microsip.ini",
                "lone utf-16 surrogate",
                "left untouched",
            ],
        ),
        Kind::IniIsFolder => ("failed", vec!["inidir", "microsip.ini", "folder"]),
        Kind::Locked => ("failed", vec!["locked", "waiting for the lock"]),
        Kind::Stranger => ("skipped", vec!["stranger", "not in the manifest"]),
        // rename() replaces a 0444 file: only the folder's permission counts (see the module doc).
        Kind::ReadOnlyFile => ("changed", vec![]),
        Kind::ReadOnlyFolder => {
            #[cfg(unix)]
            if read_only_folders_are_writable_here() {
                return ("changed", vec![]);
            }
            ("failed", vec!["rodir", "permission denied"])
        }
        Kind::Immutable => (
            "failed",
            vec![
                "cannot replace",
                "immutable",
                "microsip.ini",
                "permission denied",
            ],
        ),
        Kind::IniSymlink => ("failed", vec!["inilink", "microsip.ini", "symbolic link"]),
        Kind::IniPipe => (
            "failed",
            vec![
                "inipipe",
                "microsip.ini",
                "not a regular file",
                "named pipe",
            ],
        ),
        Kind::UserSymlink => ("failed", vec!["userlink", "symbolic link", "refusing"]),
        Kind::MicrosipSymlink => ("failed", vec!["msiplink", "microsip", "symbolic link"]),
        Kind::ToolDirSymlink => (
            "failed",
            vec!["toollink", "microsip-provision", "symbolic link"],
        ),
        // Unix locks the folder itself: a link where earlier versions kept a lock file is
        // never opened (its target stays as it was, checked below).
        Kind::LockSymlink => ("changed", vec![]),
    }
}

/// Check every report line of a mixed-tree `apply` against the expectations.
fn check_mixed_reports(tree: &Tree, run: &Run, good_outcome: &str) {
    let reports = tree.reports(run);
    let folders: Vec<&String> = reports.keys().collect();
    let expected_folders: Vec<&String> = {
        let mut f: Vec<&String> = tree.cases.iter().map(|c| &c.folder).collect();
        f.sort();
        f
    };
    assert_eq!(folders, expected_folders, "every profile reported once");
    let mut counts = [0usize; 6];
    for case in &tree.cases {
        let report = &reports[&case.folder];
        let (mut outcome, words) = expected_first_apply(case);
        if outcome == "changed" {
            outcome = good_outcome;
        }
        assert_eq!(
            report["outcome"].as_str().unwrap(),
            outcome,
            "{}: {report:#}",
            case.folder
        );
        assert_eq!(
            report["user"].as_str().unwrap(),
            case.user,
            "{}: {report:#}",
            case.folder
        );
        let error = report["error"].as_str().unwrap_or_default().to_lowercase();
        if outcome == "failed" || outcome == "skipped" {
            assert!(!error.is_empty(), "{}: no error: {report:#}", case.folder);
        } else {
            assert!(error.is_empty(), "{}: {report:#}", case.folder);
        }
        for word in words {
            assert!(
                error.contains(&word.to_lowercase()),
                "{}: the error should say {word:?}: {error}",
                case.folder
            );
        }
        if outcome == "changed" {
            let changes = report["changes"].as_array().expect("changes");
            assert!(!changes.is_empty(), "{}", case.folder);
            for change in changes {
                if change["key"] == "password" {
                    assert_eq!(change["secret"], true, "{change}");
                    assert!(change.get("new").is_none(), "{change}");
                }
            }
        }
        let slot = ["changed", "unchanged", "pending", "skipped", "failed"]
            .iter()
            .position(|o| *o == outcome)
            .unwrap();
        counts[slot + 1] += 1;
        counts[0] += 1;
    }
    assert_eq!(run.summary(), counts, "summary line of `{}`", run.what);
    // Failures are on stderr, one line each, naming the profile.
    for case in &tree.cases {
        if expected_first_apply(case).0 == "failed" {
            assert!(
                run.stderr
                    .lines()
                    .any(|l| l.starts_with("error: ") && l.contains(&case.folder)),
                "{} not on stderr:\n{}",
                case.folder,
                run.stderr
            );
        }
    }
}

#[test]
fn mixed_tree_reports_every_profile_applies_the_good_and_leaves_the_bad_untouched() {
    let tree = mixed_tree(DEFAULT_LAYOUT);
    let watched = tree.watched_bytes();
    let locks = tree.hold_locks();

    let started = std::time::Instant::now();
    let first = tree.apply(&[]);
    first.code(1);
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "--lock-wait 0.2 must not wait 30 s"
    );
    check_mixed_reports(&tree, &first, "changed");

    for case in &tree.cases {
        let (outcome, _) = expected_first_apply(case);
        if outcome == "changed" {
            tree.assert_provisioned(&case.folder);
        }
    }
    // The superseded roaming version and the stranger are untouched.
    for folder in ["jdoe", "stranger"] {
        assert_eq!(
            fs::read(tree.ini(folder)).unwrap(),
            tree.original(folder),
            "{folder} untouched"
        );
    }
    // Every broken file, and everything a link points at, is byte-identical.
    for (folder, bytes) in &watched {
        let case = tree.case(folder);
        if expected_first_apply(case).0 == "changed" {
            continue;
        }
        assert_eq!(
            &fs::read(case.watched.as_ref().unwrap()).unwrap(),
            bytes,
            "{folder}: {} changed",
            case.watched.as_ref().unwrap().display()
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // Nothing was created or changed outside the tree's profiles through a link.
        let mut outside: Vec<String> = fs::read_dir(tree.outside())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        outside.sort();
        assert_eq!(
            outside,
            [
                "inilink-victim.ini",
                "locklink-lock-target",
                "msiplink-microsip",
                "toollink-tool",
                "userlink-home"
            ]
        );
        assert_eq!(
            fs::read(tree.outside().join("locklink-lock-target")).unwrap(),
            b"not a lock file"
        );
        let tool_target: Vec<_> = fs::read_dir(tree.outside().join("toollink-tool"))
            .unwrap()
            .collect();
        assert!(
            tool_target.is_empty(),
            "nothing written through the tool folder link"
        );
        for dir in [
            "msiplink-microsip",
            "userlink-home/AppData/Roaming/MicroSIP",
        ] {
            let names: Vec<String> = fs::read_dir(tree.outside().join(dir))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            assert_eq!(names, ["microsip.ini"], "{dir}: no lock, temp or backup");
        }
        // The read-only file was replaced with its mode kept.
        let mode = fs::metadata(tree.ini("rofile"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o444, "rofile keeps its mode");
    }
    // No temp file is left anywhere.
    let after_first = tree.snapshot();
    for path in after_first.keys() {
        assert!(
            !path.to_string_lossy().ends_with(".mpv-tmp"),
            "temp file left: {}",
            path.display()
        );
    }

    // A second run: the good ones unchanged, the bad ones fail again, and nothing at all is
    // written anywhere in the tree (mtimes kept, no file created).
    let second = tree.apply(&[]);
    second.code(1);
    check_mixed_reports(&tree, &second, "unchanged");
    let after_second = tree.snapshot();
    assert!(
        after_first == after_second,
        "the no-change run wrote:\n{}",
        snapshot_diff(&after_first, &after_second)
    );

    // The lock released, the locked profile is applied like the others.
    drop(locks);
    let third = tree.apply(&[]);
    third.code(1);
    assert_eq!(tree.outcomes(&third)["locked"], "changed");
    tree.assert_provisioned("locked");
}

/// A profile that fails at the replace step (here an immutable INI or a read-only folder; on
/// Windows a read-only or locked-by-another-program file) must not get a new backup on every run:
/// only [`BACKUPS_KEPT`] backups are kept, so ten failed nightly runs would push out every real
/// backup of the profile, the ones an admin needs to undo an earlier provisioning. (Found by this
/// test: the backup was written before the replace and never taken back.)
///
/// [`BACKUPS_KEPT`]: microsip_provision::apply::BACKUPS_KEPT
#[cfg(unix)]
#[test]
fn repeated_failed_runs_do_not_push_out_older_backups() {
    // What makes the replace fail: the immutable attribute (stops root too), else a read-only
    // folder (stops everybody else).
    let immutable = immutable_supported();
    if !immutable && read_only_folders_are_writable_here() {
        eprintln!("note: neither chattr +i nor a read-only folder stops writes here; skipped");
        return;
    }
    let mut tree = Tree::new(DEFAULT_LAYOUT);
    tree.add("ann", "ann", Kind::Good);
    tree.write_users();
    tree.apply(&[]).code(0);
    let backups = tree.profile_dir("ann");
    let list = |dir: &Path| -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.ends_with(".bak"))
            .collect();
        names.sort();
        names
    };
    let first = list(&backups);
    assert_eq!(first.len(), 1, "{first:?}");
    // Make it an older backup, as from provisioning done last year.
    let old = backups.join("microsip.ini.20250101T000000Z.bak");
    fs::rename(backups.join(&first[0]), &old).unwrap();
    let old_bytes = fs::read(&old).unwrap();
    assert_eq!(old_bytes, tree.original("ann"));

    // The manifest moves ann to another extension; her INI cannot be replaced any more.
    let csv = fs::read_to_string(tree.root().join("users.csv")).unwrap();
    fs::write(
        tree.root().join("users.csv"),
        csv.replace(",2001,", ",3001,"),
    )
    .unwrap();
    let mut tree = tree;
    if immutable {
        let ini = tree.ini("ann");
        assert!(chattr_immutable(&ini, true));
        tree.immutable.push(ini);
    } else {
        use std::os::unix::fs::PermissionsExt;
        let dir = tree.profile_dir("ann");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o555)).unwrap();
        tree.read_only_dirs.push(dir);
    }

    let runs = microsip_provision::apply::BACKUPS_KEPT + 1;
    for _ in 0..runs {
        let run = tree.apply(&[]);
        run.code(1);
        assert_eq!(tree.outcomes(&run)["ann"], "failed");
    }
    let now = list(&backups);
    assert!(
        old.exists(),
        "{runs} failed runs pushed out the older backup; backups now: {now:#?}"
    );
    assert_eq!(
        now,
        ["microsip.ini.20250101T000000Z.bak"],
        "failed runs must not add backups"
    );
}

/// The progress bar is off when output is redirected, and so is the carriage return meant to
/// overwrite it: a redirected log must not have `\r` at the start of its lines (`grep '^error:'`
/// must find the failures). (Found by this test.)
#[test]
fn redirected_output_has_no_progress_carriage_returns() {
    let mut tree = Tree::new(DEFAULT_LAYOUT);
    tree.add("ann", "ann", Kind::Good);
    tree.add("badenc", "badenc", Kind::BadEncoding);
    tree.write_users();
    let run = tree.apply(&[]);
    run.code(1);
    assert!(
        !run.stdout.contains('\r') && !run.stderr.contains('\r'),
        "carriage returns in redirected output:\n--- stdout\n{:?}\n--- stderr\n{:?}",
        run.stdout,
        run.stderr
    );
}

#[test]
fn jobs_1_and_jobs_4_give_the_same_outcomes_and_bytes() {
    let one = mixed_tree(DEFAULT_LAYOUT);
    let four = mixed_tree(DEFAULT_LAYOUT);
    let _locks = (one.hold_locks(), four.hold_locks());
    let run_one = one.apply(&["--jobs", "1"]);
    let run_four = four.apply(&["--jobs", "4"]);
    run_one.code(1);
    run_four.code(1);
    let changes = |tree: &Tree, run: &Run| -> BTreeMap<String, (String, usize)> {
        tree.reports(run)
            .into_iter()
            .map(|(folder, r)| {
                let n = r["changes"].as_array().map_or(0, |a| a.len());
                (folder, (r["outcome"].as_str().unwrap().to_string(), n))
            })
            .collect()
    };
    assert_eq!(changes(&one, &run_one), changes(&four, &run_four));
    for case in &one.cases {
        if expected_first_apply(case).0 == "changed" {
            // The same bytes but for the state section (random salts, and so the hashes).
            let without_state = |tree: &Tree| {
                let mut doc = IniDocument::parse(
                    &fs::read(tree.ini(&case.folder)).unwrap(),
                    CodePage::WINDOWS_1252,
                )
                .unwrap();
                doc.remove_section(STATE_SECTION);
                doc.to_bytes()
            };
            assert_eq!(
                without_state(&one),
                without_state(&four),
                "{}: same bytes with 1 and 4 jobs",
                case.folder
            );
        }
    }
    assert_eq!(run_one.summary()[1..], run_four.summary()[1..]);
}

#[test]
fn plan_exit_code_is_3_before_apply_and_0_after_and_plan_writes_nothing() {
    // Only profiles that cannot fail: good ones, an older roaming version, a stranger.
    let mut tree = Tree::new(DEFAULT_LAYOUT);
    for user in ["ann", "ben", "cat"] {
        tree.add(user, user, Kind::Good);
    }
    tree.add("jdoe", "jdoe", Kind::Good);
    tree.add("JDoe.v2", "JDoe", Kind::Good);
    tree.add("stranger", "stranger", Kind::Stranger);
    tree.write_users();
    let before = tree.snapshot();

    let plan = tree.plan(&["--exit-code"]);
    plan.code(3);
    assert_eq!(plan.summary(), [6, 0, 0, 4, 2, 0]);
    let outcomes = tree.outcomes(&plan);
    assert_eq!(outcomes["JDoe.v2"], "pending");
    assert_eq!(outcomes["jdoe"], "skipped");
    assert_eq!(outcomes["stranger"], "skipped");
    // The plan's report carries each pending profile's diff, passwords redacted.
    let reports = tree.reports(&plan);
    let diff = reports["ann"]["diff"]
        .as_str()
        .expect("a diff in the plan report");
    assert!(
        diff.contains("+username=") || diff.contains("username="),
        "{diff}"
    );
    assert!(
        tree.snapshot() == before,
        "plan wrote:\n{}",
        snapshot_diff(&before, &tree.snapshot())
    );
    // Without --exit-code, pending is success.
    tree.plan(&[]).code(0);

    tree.apply(&[]).code(0);
    let applied = tree.snapshot();
    let plan = tree.plan(&["--exit-code"]);
    plan.code(0);
    assert_eq!(plan.summary(), [6, 0, 4, 0, 2, 0]);
    assert!(
        tree.snapshot() == applied,
        "plan wrote:\n{}",
        snapshot_diff(&applied, &tree.snapshot())
    );
}

#[test]
fn plan_over_a_mixed_tree_fails_on_the_broken_ones_and_writes_nothing() {
    let tree = mixed_tree(DEFAULT_LAYOUT);
    let _locks = tree.hold_locks();
    let before = tree.snapshot();
    let plan = tree.plan(&["--exit-code"]);
    // Failures win over pending.
    plan.code(1);
    let outcomes = tree.outcomes(&plan);
    for case in &tree.cases {
        let (apply, _) = expected_first_apply(case);
        let expected = match (case.kind, apply) {
            // plan takes no lock and needs no write permission
            (Kind::Locked, _) | (Kind::ReadOnlyFolder, _) | (Kind::Immutable, _) => "pending",
            (_, "changed") => "pending",
            (_, other) => other,
        };
        assert_eq!(outcomes[&case.folder], expected, "{}", case.folder);
    }
    let after = tree.snapshot();
    assert!(
        after == before,
        "plan wrote:\n{}",
        snapshot_diff(&before, &after)
    );
}

#[test]
fn strict_makes_a_user_missing_from_the_manifest_a_failure() {
    let mut tree = Tree::new(DEFAULT_LAYOUT);
    tree.add("ann", "ann", Kind::Good);
    tree.add("stranger", "stranger", Kind::Stranger);
    tree.write_users();
    let strict = tree.plan(&["--strict"]);
    strict.code(1);
    let reports = tree.reports(&strict);
    assert_eq!(reports["stranger"]["outcome"], "failed");
    assert!(reports["stranger"]["error"]
        .as_str()
        .unwrap()
        .contains("not in the manifest"));
    assert_eq!(reports["ann"]["outcome"], "pending");
    let before = fs::read(tree.ini("stranger")).unwrap();
    let applied = tree.apply(&["--strict"]);
    applied.code(1);
    assert_eq!(tree.outcomes(&applied)["stranger"], "failed");
    assert_eq!(tree.outcomes(&applied)["ann"], "changed");
    assert_eq!(fs::read(tree.ini("stranger")).unwrap(), before);
    // Without --strict, a stranger is only skipped.
    let relaxed = tree.apply(&[]);
    relaxed.code(0);
    assert_eq!(tree.outcomes(&relaxed)["stranger"], "skipped");
    assert_eq!(tree.outcomes(&relaxed)["ann"], "unchanged");
}

#[test]
fn layout_user_microsip_finds_profiles_there_and_only_there() {
    let tree = mixed_tree("MicroSIP");
    // A profile at the default place is not part of this layout.
    let elsewhere = tree.profiles().join("zed").join(DEFAULT_LAYOUT);
    fs::create_dir_all(&elsewhere).unwrap();
    fs::write(elsewhere.join("microsip.ini"), template_ini(0)).unwrap();
    let _locks = tree.hold_locks();
    let first = tree.apply(&[]);
    first.code(1);
    check_mixed_reports(&tree, &first, "changed");
    assert!(!tree.reports(&first).contains_key("zed"));
    for case in &tree.cases {
        if expected_first_apply(case).0 == "changed" {
            tree.assert_provisioned(&case.folder);
        }
    }
    assert_eq!(
        fs::read(elsewhere.join("microsip.ini")).unwrap(),
        template_ini(0)
    );

    // The default layout over the same root finds no MicroSIP folder at all.
    let run = tree.run(&[
        "plan",
        "{manifest}",
        "--profiles-root",
        "{root}",
        "--report",
        "{report}",
    ]);
    let reports = tree.reports(&run);
    let mut expected = vec!["zed"];
    if cfg!(unix) {
        // A linked user folder is refused whatever the layout.
        expected.insert(0, "userlink");
        assert_eq!(reports["userlink"]["outcome"], "failed");
    }
    assert_eq!(reports.keys().collect::<Vec<_>>(), expected);
    // (zed is not among the users: skipped, not planned)
    assert_eq!(reports["zed"]["outcome"], "skipped");
}

/// The benchmark's generator (`benches/fleet/generate.rs`), checked here against the real binary.
#[path = "../../benches/fleet/generate.rs"]
mod generate;

#[test]
fn the_benchmark_generator_makes_realistic_profiles_with_changes_in_every_one() {
    let dir = tempfile::tempdir().unwrap();
    let n = 24;
    let fleet = generate::generate(dir.path(), n, 2).unwrap();
    assert_eq!(fleet.inis.len(), n);
    for (i, ini) in fleet.inis.iter().enumerate() {
        let bytes = fs::read(ini).unwrap();
        assert!(bytes.starts_with(&[0xFF, 0xFE]), "UTF-16LE with BOM");
        assert!(
            (generate::INI_BYTES - 256..=generate::INI_BYTES).contains(&bytes.len()),
            "profile {i}: {} bytes",
            bytes.len()
        );
        assert_eq!(bytes, generate::ini_bytes(i), "deterministic");
        let doc = IniDocument::parse(&bytes, CodePage::WINDOWS_1252).unwrap();
        assert_eq!(doc.get("Global", "version").as_deref(), Some("3.22.16"));
        assert!(doc.entries("Settings").len() > 100);
        assert!(doc.entries("Calls").len() > 50);
        let text = generate::ini_text(i);
        assert!(text.ends_with("\r\n") && !text.contains("\r\n\r\n"));
        assert!(!text.replace("\r\n", "").contains('\n'));

        let xml = fs::read(ini.with_file_name("Contacts.xml")).unwrap();
        let xml = String::from_utf8(xml).expect("UTF-8 without BOM");
        assert!(xml.starts_with("<?xml version=\"1.0\"?>\r\n<contacts>\r\n"));
        assert!(xml.ends_with("</contacts>\r\n"));
        let contacts: Vec<&str> = xml
            .split("\r\n")
            .filter(|l| l.starts_with("<contact "))
            .collect();
        assert_eq!(contacts.len(), generate::CONTACTS);
        for line in &contacts {
            let names: Vec<&str> = line
                .split("=\"")
                .filter_map(|part| part.rsplit(' ').next())
                .take(17)
                .collect();
            assert_eq!(
                names,
                [
                    "name",
                    "number",
                    "firstname",
                    "lastname",
                    "phone",
                    "mobile",
                    "email",
                    "address",
                    "city",
                    "state",
                    "zip",
                    "comment",
                    "id",
                    "info",
                    "presence",
                    "starred",
                    "directory"
                ],
                "{line}"
            );
            assert!(line.ends_with("\"/>"), "{line}");
        }
        let mut reader = quick_xml::Reader::from_str(&xml);
        loop {
            match reader.read_event() {
                Ok(quick_xml::events::Event::Eof) => break,
                Ok(_) => {}
                Err(e) => panic!("profile {i}: Contacts.xml is not well-formed: {e}"),
            }
        }
    }
    assert!((0..n).any(generate::edited));
    assert!((0..n).any(generate::has_legacy_account));
    assert!((0..n).any(generate::no_shortcuts));

    let manifest = fleet.manifest.display().to_string();
    let root = fleet.profiles_root.display().to_string();
    let output = bin().args(["validate", &manifest]).output().unwrap();
    assert!(output.status.success(), "{output:?}");

    let report = dir.path().join("report.jsonl");
    let report_arg = report.display().to_string();
    let args = [
        "apply",
        &manifest,
        "--profiles-root",
        &root,
        "--report",
        &report_arg,
        "--quiet",
    ];
    let output = bin().args(args).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let lines: Vec<Value> = fs::read_to_string(&report)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), n);
    for line in &lines {
        assert_eq!(line["outcome"], "changed", "{line:#}");
        let user = line["user"].as_str().unwrap();
        let i: usize = user.trim_start_matches("user").parse().unwrap();
        // Every edit the crudini peer makes is one the tool makes too.
        let changed: Vec<(String, String)> = line["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["section"].as_str().unwrap_or_default().to_string(),
                    c["key"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        for (_, section, key, _) in generate::crudini_edits(i) {
            // The report names sections as they are after the legacy account is gone.
            let section = if section == "Account2" && generate::has_legacy_account(i) {
                "Account1".to_string()
            } else {
                section
            };
            assert!(
                changed.contains(&(section.clone(), key.to_string())),
                "{user}: [{section}] {key} is not among the changes {changed:?}"
            );
        }
        let doc =
            IniDocument::parse(&fs::read(&fleet.inis[i]).unwrap(), CodePage::WINDOWS_1252).unwrap();
        assert_eq!(
            doc.get("Account1", "username"),
            Some(generate::extension(i).to_string())
        );
        assert_eq!(doc.get("Account1", "password"), Some(generate::password(i)));
        if generate::edited(i) {
            assert_eq!(doc.get("Account2", "label").as_deref(), Some("Home (TLS)"));
            assert!(doc
                .get("Settings", "recordingPath")
                .unwrap()
                .starts_with("D:\\Aufnahmen"));
        }
    }
    let output = bin().args(args).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let unchanged = fs::read_to_string(&report)
        .unwrap()
        .lines()
        .filter(|l| l.contains("\"outcome\":\"unchanged\""))
        .count();
    assert_eq!(unchanged, n);
}
