//! `validate`, `plan`, `apply` and `account` end to end (issue 3): the real binary on copies of
//! the shipped example fleet (`examples/`) in temp folders.
//!
//! Every test copies `examples/` into its own temp folder and runs the binary with that folder
//! as its working directory, so paths on the command line (and in messages) are the relative
//! ones the test gave. The library is used only to read files back (`IniDocument`, with
//! Windows' reading rules); every change is made by the binary.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use microsip_provision::apply::lock::LOCK_FILE;
use microsip_provision::ini::{CodePage, IniDocument};
use microsip_provision::profile::state::STATE_SECTION;
use serde_json::Value;
use similar::{capture_diff_slices, Algorithm, DiffTag};

use crate::common::{bin, from_utf16le_bom, utf16le_bom};
use crate::common::{copy_dir, examples_dir};

/// The example users and the passwords in their secret files (one trailing line break removed;
/// carol's file ends with CRLF).
const EXAMPLE_USERS: [(&str, &str, &str); 3] = [
    ("alice", "1001", "dummy-alice-Pw1!"),
    ("bob", "1002", "dummy-bob-Pw2!"),
    ("carol", "1003", "dummy-carol-Pw3!"),
];

/// What MicroSIP leaves in `password=` after encrypting the plaintext on its first load.
const ENCRYPTED: &str = "3f9a0c1d2e3b4a5f69788796a5b4c3d2";

/// A time no write of ours can produce: set on files before a run that must not touch them.
fn long_ago() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_000_000_000)
}

/// The result of one run of the binary.
#[derive(Debug)]
struct Run {
    what: String,
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    fn from_output(what: String, output: Output) -> Run {
        Run {
            what,
            code: output.status.code().expect("exited normally"),
            stdout: String::from_utf8(output.stdout).expect("UTF-8 stdout"),
            stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
        }
    }

    /// Assert the exit code; returns self for chaining.
    #[track_caller]
    fn code(&self, expected: i32) -> &Run {
        assert_eq!(
            self.code, expected,
            "`{}` exited {} (expected {expected})\n--- stdout\n{}\n--- stderr\n{}",
            self.what, self.code, self.stdout, self.stderr
        );
        self
    }

    /// stdout parsed as one JSON value.
    #[track_caller]
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "`{}` printed no JSON ({e})\n--- stdout\n{}\n--- stderr\n{}",
                self.what, self.stdout, self.stderr
            )
        })
    }

    fn all_output(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// A copy of `examples/` in a temp folder.
struct Fleet {
    dir: tempfile::TempDir,
}

impl Fleet {
    fn new() -> Fleet {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&examples_dir(), dir.path());
        Fleet { dir }
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.root().join(relative)
    }

    fn read_text(&self, relative: &str) -> String {
        fs::read_to_string(self.path(relative)).unwrap()
    }

    fn write(&self, relative: &str, text: &str) {
        let path = self.path(relative);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }

    /// A profile folder as given on the command line (relative to the fleet).
    fn profile(user: &str) -> String {
        format!("profiles/{user}/AppData/Roaming/MicroSIP")
    }

    fn profile_dir(&self, user: &str) -> PathBuf {
        self.path(&Fleet::profile(user))
    }

    fn ini(&self, user: &str) -> PathBuf {
        self.profile_dir(user).join("microsip.ini")
    }

    /// The state the tool keeps in the INI's `[microsip-provision]` section.
    fn state(&self, user: &str) -> Value {
        let json = self
            .doc(user)
            .get("microsip-provision", "state")
            .expect("the INI holds the state");
        serde_json::from_str(&json).unwrap()
    }

    /// The backups beside the INI and `Contacts.xml` (`<name>.<UTC timestamp>.bak`).
    fn backups(&self, user: &str) -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = match fs::read_dir(self.profile_dir(user)) {
            Ok(entries) => entries
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "bak"))
                .collect(),
            Err(_) => Vec::new(),
        };
        found.sort();
        found
    }

    fn doc(&self, user: &str) -> IniDocument {
        IniDocument::parse(&fs::read(self.ini(user)).unwrap(), CodePage::WINDOWS_1252).unwrap()
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_env(args, &[])
    }

    /// Run the binary in the fleet's folder with a clean `MICROSIP_PROVISION_*` environment
    /// plus `env`.
    ///
    /// The running-MicroSIP check looks for an executable name that never runs, so a MicroSIP
    /// open on the developer's own machine cannot fail these tests; the test of that check
    /// names its fake process with `--microsip-exe`, which wins over the variable.
    fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut command = bin();
        command.current_dir(self.root()).args(args);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("MICROSIP_PROVISION_") {
                command.env_remove(name);
            }
        }
        command.env("MICROSIP_PROVISION_MICROSIP_EXE", "msp-never-runs.exe");
        for (name, value) in env {
            command.env(name, value);
        }
        let what = format!("microsip-provision {}", args.join(" "));
        Run::from_output(what, command.output().expect("the binary runs"))
    }

    fn plan(&self, manifest: &str, user: &str, extra: &[&str]) -> Run {
        let profile = Fleet::profile(user);
        let mut args = vec!["plan", manifest, "--profile", &profile];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    fn apply(&self, manifest: &str, user: &str, extra: &[&str]) -> Run {
        let profile = Fleet::profile(user);
        let mut args = vec!["apply", manifest, "--profile", &profile];
        args.extend_from_slice(extra);
        self.run(&args)
    }

    /// `apply --format json`, exit 0, and its report.
    #[track_caller]
    fn apply_json(&self, manifest: &str, user: &str) -> Value {
        self.apply(manifest, user, &["--format", "json"])
            .code(0)
            .json()
    }
}

/// Everything a run could have written in a profile, to check that nothing was.
#[derive(Debug, PartialEq)]
struct Snapshot {
    ini: Option<Vec<u8>>,
    ini_mtime: Option<SystemTime>,
    #[cfg(unix)]
    ini_inode: Option<u64>,
    /// Every other file in the profile folder (lock, temp, legacy state...), with its bytes.
    others: Vec<(String, Vec<u8>)>,
    backups: Vec<PathBuf>,
}

impl Snapshot {
    /// Set the INI's mtime to [`long_ago`] (so any rewrite shows), then record.
    fn take(fleet: &Fleet, user: &str) -> Snapshot {
        for path in [fleet.ini(user)] {
            if path.exists() {
                fs::File::options()
                    .write(true)
                    .open(&path)
                    .unwrap()
                    .set_modified(long_ago())
                    .unwrap();
            }
        }
        Snapshot::now(fleet, user)
    }

    fn now(fleet: &Fleet, user: &str) -> Snapshot {
        let meta = |path: &Path| fs::metadata(path).ok();
        let ini = fleet.ini(user);
        let mut others: Vec<(String, Vec<u8>)> = fs::read_dir(fleet.profile_dir(user))
            .map(|entries| {
                entries
                    .map(|e| e.unwrap())
                    // Windows' lock file is made once and kept (`apply::lock`): not a write.
                    .filter(|e| e.path() != ini && e.file_type().unwrap().is_file())
                    .filter(|e| e.file_name() != LOCK_FILE)
                    .map(|e| {
                        (
                            e.file_name().to_string_lossy().into_owned(),
                            fs::read(e.path()).unwrap(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        others.sort();
        Snapshot {
            ini: fs::read(&ini).ok(),
            ini_mtime: meta(&ini).map(|m| m.modified().unwrap()),
            #[cfg(unix)]
            ini_inode: meta(&ini).map(|m| std::os::unix::fs::MetadataExt::ino(&m)),
            others,
            backups: fleet.backups(user),
        }
    }

    #[track_caller]
    fn assert_untouched(&self, fleet: &Fleet, user: &str, what: &str) {
        let now = Snapshot::now(fleet, user);
        assert!(
            now == *self,
            "{what}: the profile was written to\nbefore: {:?}\nafter:  {:?}",
            self.summary(),
            now.summary()
        );
    }

    fn summary(&self) -> String {
        format!(
            "ini {} bytes, ini mtime {:?}, other files {:?}, backups {:?}",
            self.ini.as_ref().map_or(0, Vec::len),
            self.ini_mtime,
            self.others.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            self.backups
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Editing microsip.ini as MicroSIP or the user would (decode, edit the text, re-encode).

fn edit_ini(path: &Path, edit: impl FnOnce(&mut Vec<String>)) {
    let text = from_utf16le_bom(&fs::read(path).unwrap());
    let mut lines: Vec<String> = text.split("\r\n").map(str::to_string).collect();
    edit(&mut lines);
    fs::write(path, utf16le_bom(&lines.join("\r\n"))).unwrap();
}

/// Index of the `[section]` header line.
#[track_caller]
fn header_index(lines: &[String], section: &str) -> usize {
    lines
        .iter()
        .position(|l| header_name(l).as_deref() == Some(&section.to_ascii_lowercase()))
        .unwrap_or_else(|| panic!("no [{section}] in\n{}", lines.join("\n")))
}

/// Index just after the last line of `[section]`.
fn section_end(lines: &[String], section: &str) -> usize {
    let start = header_index(lines, section) + 1;
    (start..lines.len())
        .find(|&i| header_name(&lines[i]).is_some())
        .unwrap_or_else(|| {
            // The text ends with CRLF: the last "line" is the empty remainder.
            if lines.last().is_some_and(String::is_empty) {
                lines.len() - 1
            } else {
                lines.len()
            }
        })
}

/// Index of `key=` in `[section]`.
#[track_caller]
fn key_index(lines: &[String], section: &str, key: &str) -> usize {
    let start = header_index(lines, section) + 1;
    let end = section_end(lines, section);
    (start..end)
        .find(|&i| key_name(&lines[i]).as_deref() == Some(&key.to_ascii_lowercase()))
        .unwrap_or_else(|| panic!("no {key}= in [{section}]"))
}

#[track_caller]
fn set_line(lines: &mut [String], section: &str, key: &str, value: &str) {
    let index = key_index(lines, section, key);
    lines[index] = format!("{key}={value}");
}

/// MicroSIP encrypting the plaintext password of `[section]` in place.
fn encrypt_password(path: &Path, section: &str) {
    edit_ini(path, |lines| {
        set_line(lines, section, "password", ENCRYPTED)
    });
}

// ---------------------------------------------------------------------------------------------
// The line-level check: only managed lines changed.

/// Lines of `text` with their terminators (`\r\n`, `\n` or none for an unterminated last line).
fn split_lines(text: &str) -> Vec<(&str, &str)> {
    let mut lines = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        match rest.find('\n') {
            Some(i) if i > 0 && rest.as_bytes()[i - 1] == b'\r' => {
                lines.push((&rest[..i - 1], &rest[i - 1..=i]));
                rest = &rest[i + 1..];
            }
            Some(i) => {
                lines.push((&rest[..i], &rest[i..=i]));
                rest = &rest[i + 1..];
            }
            None => {
                lines.push((rest, ""));
                rest = "";
            }
        }
    }
    lines
}

/// `[Name]` -> `name` (lower case: Windows matches sections case-insensitively).
fn header_name(line: &str) -> Option<String> {
    let inner = line.trim_start().strip_prefix('[')?;
    let end = inner.find(']')?;
    Some(inner[..end].trim().to_ascii_lowercase())
}

/// `key=value` -> `key` (lower case).
fn key_name(line: &str) -> Option<String> {
    if header_name(line).is_some() {
        return None;
    }
    let (key, _) = line.split_once('=')?;
    Some(key.trim().to_ascii_lowercase())
}

/// The (lower-case) section each line belongs to; "" before the first header.
fn sections_of(lines: &[(&str, &str)]) -> Vec<String> {
    let mut current = String::new();
    lines
        .iter()
        .map(|(line, _)| {
            if let Some(name) = header_name(line) {
                current = name;
            }
            current.clone()
        })
        .collect()
}

/// The lines of `[section]` after its header, without the lines of `skip_keys`.
fn section_body(
    lines: &[(&str, &str)],
    sections: &[String],
    section: &str,
    skip_keys: &BTreeSet<(String, String)>,
) -> Vec<String> {
    lines
        .iter()
        .zip(sections)
        .filter(|((line, _), s)| s.as_str() == section && header_name(line).is_none())
        .filter(|((line, _), _)| {
            key_name(line).is_none_or(|k| !skip_keys.contains(&(section.to_string(), k)))
        })
        .map(|((line, eol), _)| format!("{line}{eol}"))
        .collect()
}

/// The report's changes.
fn changes(report: &Value) -> Vec<Value> {
    report["changes"].as_array().cloned().unwrap_or_default()
}

/// Require that `after` differs from `before` only in the lines the JSON report's changes name:
/// a removed or added line is the header or a line of a section removed/moved by a change, the
/// header of a section a change names, or a `key=` line whose (section, key) a change names.
/// Every other line keeps its order, its bytes and its line ending. Also checks the report
/// against the file: each non-secret value is what Windows reads back, each key change shows as
/// a line, each moved section keeps its lines.
#[track_caller]
fn assert_only_managed_lines_changed(before: &[u8], after: &[u8], report: &Value) {
    let old_text = from_utf16le_bom(before);
    let new_text = from_utf16le_bom(after);
    let old = split_lines(&old_text);
    let new = split_lines(&new_text);
    let old_sections = sections_of(&old);
    let new_sections = sections_of(&new);

    let lower = |v: &Value| v.as_str().unwrap_or_default().to_ascii_lowercase();
    let mut removed_sections = BTreeSet::new();
    let mut renames = Vec::new();
    let mut named = BTreeSet::new();
    let mut keys = BTreeSet::new();
    for change in changes(report) {
        let section = lower(&change["section"]);
        named.insert(section.clone());
        match change["kind"].as_str().unwrap() {
            "section-removed" => {
                removed_sections.insert(section);
            }
            "section-renamed" => {
                let to = lower(&change["new"]);
                named.insert(to.clone());
                renames.push((section, to));
            }
            "added" | "updated" | "removed" => {
                keys.insert((section, lower(&change["key"])));
            }
            other => panic!("unknown change kind {other:?} in {change}"),
        }
    }
    let renamed_from: BTreeSet<String> = renames.iter().map(|(from, _)| from.clone()).collect();
    let renamed_to: BTreeSet<String> = renames.iter().map(|(_, to)| to.clone()).collect();

    let old_lines: Vec<&str> = old.iter().map(|(line, _)| *line).collect();
    let new_lines: Vec<&str> = new.iter().map(|(line, _)| *line).collect();
    let mut problems = Vec::new();
    let mut lines_removed = BTreeSet::new();
    let mut lines_added = BTreeSet::new();
    for op in capture_diff_slices(Algorithm::Myers, &old_lines, &new_lines) {
        let (tag, old_range, new_range) = op.as_tag_tuple();
        if tag == DiffTag::Equal {
            for (i, j) in old_range.zip(new_range) {
                // An unterminated last line gains CRLF when something is appended after it.
                let last_unterminated = i + 1 == old.len() && old[i].1.is_empty();
                if old[i].1 != new[j].1 && !last_unterminated {
                    problems.push(format!(
                        "line {} {:?}: line ending {:?} became {:?}",
                        i + 1,
                        old[i].0,
                        old[i].1,
                        new[j].1
                    ));
                }
            }
            continue;
        }
        for i in old_range {
            let (line, section) = (old[i].0, &old_sections[i]);
            let key = key_name(line);
            if let Some(key) = &key {
                lines_removed.insert((section.clone(), key.clone()));
            }
            // The tool's own bookkeeping (state, fingerprint) is not MicroSIP's and not in
            // the report by design; everything else is.
            let allowed = section.eq_ignore_ascii_case(STATE_SECTION)
                || removed_sections.contains(section)
                || renamed_from.contains(section)
                || (header_name(line).is_some() && named.contains(section))
                || key.is_some_and(|k| keys.contains(&(section.clone(), k)));
            if !allowed {
                problems.push(format!("removed line {}: {line:?} in [{section}]", i + 1));
            }
        }
        for j in new_range {
            let (line, section) = (new[j].0, &new_sections[j]);
            let key = key_name(line);
            if let Some(key) = &key {
                lines_added.insert((section.clone(), key.clone()));
            }
            let allowed = section.eq_ignore_ascii_case(STATE_SECTION)
                || renamed_to.contains(section)
                || (header_name(line).is_some() && named.contains(section))
                || key.is_some_and(|k| keys.contains(&(section.clone(), k)));
            if !allowed {
                problems.push(format!("added line {}: {line:?} in [{section}]", j + 1));
            }
        }
    }
    // A moved account keeps every line (except keys a change names under its new name).
    for (from, to) in &renames {
        let moved_from = section_body(&old, &old_sections, from, &BTreeSet::new());
        let moved_to = section_body(&new, &new_sections, to, &keys);
        let expected: Vec<String> = moved_from
            .into_iter()
            .filter(|l| key_name(l).is_none_or(|k| !keys.contains(&(to.clone(), k))))
            .collect();
        if expected != moved_to {
            problems.push(format!(
                "[{from}] moved to [{to}] but its lines changed:\n  before {expected:?}\n  after  {moved_to:?}"
            ));
        }
    }
    // The report tells the truth about the file.
    let document = IniDocument::parse(after, CodePage::WINDOWS_1252).unwrap();
    for change in changes(report) {
        let Some(key) = change["key"].as_str() else {
            continue;
        };
        let section = change["section"].as_str().unwrap();
        let pair = (section.to_ascii_lowercase(), key.to_ascii_lowercase());
        let moved = renamed_to.contains(&pair.0);
        match change["kind"].as_str().unwrap() {
            "added" | "updated" => {
                if change["secret"] == true {
                    if change.get("old").is_some() || change.get("new").is_some() {
                        problems.push(format!("a secret change carries a value: {change}"));
                    }
                } else if document.get(section, key).as_deref() != change["new"].as_str() {
                    problems.push(format!(
                        "[{section}] {key} reads {:?}, the report says {change}",
                        document.get(section, key)
                    ));
                }
                if !moved && !lines_added.contains(&pair) {
                    problems.push(format!("no line was added for {change}"));
                }
            }
            "removed" => {
                if document.get(section, key).is_some() {
                    problems.push(format!("[{section}] {key} is still there: {change}"));
                }
                if !lines_removed.contains(&pair) {
                    problems.push(format!("no line was removed for {change}"));
                }
            }
            _ => {}
        }
    }
    assert!(
        problems.is_empty(),
        "lines outside the report's changes differ:\n{}\n--- report\n{report:#}\n--- before\n{old_text}\n--- after\n{new_text}",
        problems.join("\n")
    );
}

/// The slot of the managed account `id`, from the state file.
fn slot_of(fleet: &Fleet, user: &str, id: &str) -> u64 {
    fleet.state(user)["accounts"][id]["slot"]
        .as_u64()
        .unwrap_or_else(|| panic!("{id} is not in {user}'s state: {}", fleet.state(user)))
}

/// (line, column), 1-based, of the first `needle` in `text` (column in characters).
#[track_caller]
fn position_of(text: &str, needle: &str) -> (usize, usize) {
    let offset = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in the text"));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before[before.rfind('\n').map_or(0, |i| i + 1)..]
        .chars()
        .count()
        + 1;
    (line, column)
}

// ---------------------------------------------------------------------------------------------
// 1. Every example profile: pending, apply, then in line; every unmanaged byte kept.

/// The whole life of one example profile; returns the fleet for profile-specific checks.
fn apply_example_profile(user: &str) -> (Fleet, Vec<u8>, Value) {
    let (_, extension, secret) = EXAMPLE_USERS.iter().find(|(u, ..)| *u == user).unwrap();
    let fleet = Fleet::new();
    let original = fs::read(fleet.ini(user)).unwrap();

    // Before: changes pending, and neither plan nor a dry run writes anything.
    let untouched = Snapshot::take(&fleet, user);
    let plan = fleet.plan("fleet.toml", user, &["--exit-code"]);
    plan.code(3);
    assert!(
        plan.stdout.contains(&format!("{user}: pending")),
        "{}",
        plan.stdout
    );
    let dry = fleet.apply("fleet.toml", user, &["--dry-run", "--format", "json"]);
    assert_eq!(dry.code(0).json()["outcome"], "pending");
    untouched.assert_untouched(&fleet, user, "plan and apply --dry-run");

    // First apply.
    let report = fleet.apply_json("fleet.toml", user);
    assert_eq!(report["outcome"], "changed", "{report:#}");
    assert_eq!(report["user"], user);
    let after = fs::read(fleet.ini(user)).unwrap();
    assert_only_managed_lines_changed(&original, &after, &report);

    // The managed account holds this user's values, the plaintext password and is active.
    let slot = slot_of(&fleet, user, "office");
    let section = format!("Account{slot}");
    let doc = fleet.doc(user);
    assert_eq!(doc.get(&section, "label").as_deref(), Some("Office"));
    assert_eq!(doc.get(&section, "username").as_deref(), Some(*extension));
    assert_eq!(doc.get(&section, "authID").as_deref(), Some(*extension));
    assert_eq!(doc.get(&section, "password").as_deref(), Some(*secret));
    assert_eq!(doc.get(&section, "transport").as_deref(), Some("tls"));
    assert_eq!(
        doc.get("Settings", "accountId").as_deref(),
        Some(slot.to_string().as_str())
    );

    // One backup, holding exactly the previous file.
    let backups = fleet.backups(user);
    assert_eq!(backups.len(), 1, "{backups:?}");
    assert_eq!(fs::read(&backups[0]).unwrap(), original);

    // Second apply: nothing written (bytes, mtime, inode of the INI and the state file).
    let settled = Snapshot::take(&fleet, user);
    let again = fleet.apply_json("fleet.toml", user);
    assert_eq!(again["outcome"], "unchanged", "{again:#}");
    assert!(changes(&again).is_empty(), "{again:#}");
    settled.assert_untouched(&fleet, user, "the second apply");
    let plan = fleet.plan("fleet.toml", user, &["--exit-code"]);
    plan.code(0);
    assert!(
        plan.stdout.contains(&format!("{user}: unchanged")),
        "{}",
        plan.stdout
    );
    settled.assert_untouched(&fleet, user, "plan after apply");
    (fleet, original, report)
}

#[test]
fn fresh_profile_alice_is_provisioned_then_in_line() {
    let (fleet, _, _) = apply_example_profile("alice");
    let doc = fleet.doc("alice");
    assert_eq!(slot_of(&fleet, "alice", "office"), 1);
    // Defaults fill a fresh profile; speed dials are written because she has none.
    assert_eq!(doc.get("Settings", "autoAnswer").as_deref(), Some("button"));
    assert_eq!(
        doc.get("Settings", "recordingPath").as_deref(),
        Some(r"C:\Users\alice\Recordings")
    );
    assert_eq!(
        doc.get("Shortcuts", "0").as_deref(),
        Some("Reception;100;call;;0;")
    );
    assert_eq!(
        doc.get("Shortcuts", "1").as_deref(),
        Some("Helpdesk;200;call;;0;")
    );
}

#[test]
fn lived_in_profile_bob_keeps_his_changes() {
    let (fleet, _, report) = apply_example_profile("bob");
    let doc = fleet.doc("bob");
    // The existing "Office" account is reused, not duplicated.
    assert_eq!(slot_of(&fleet, "bob", "office"), 1);
    assert!(!doc.has_section("Account4"));
    assert_eq!(
        doc.get("Account2", "label").as_deref(),
        Some("Home office (TLS)")
    );
    assert_eq!(
        doc.get("Account3", "label").as_deref(),
        Some("Support & Sales")
    );
    // `default` keeps his own recording path; `remove` drops enableLog; his speed dials stay.
    assert_eq!(
        doc.get("Settings", "recordingPath").as_deref(),
        Some(r"C:\Users\bob\Desktop\Recordings")
    );
    assert_eq!(doc.get("Settings", "enableLog"), None);
    assert_eq!(
        doc.get("Shortcuts", "1").as_deref(),
        Some("Call park;*70;dtmf;;0;")
    );
    assert!(
        changes(&report)
            .iter()
            .all(|c| c["section"] != "Shortcuts" && c["key"] != "recordingPath"),
        "{report:#}"
    );
}

#[test]
fn carol_loses_the_legacy_account_and_keeps_her_own() {
    let (fleet, original, report) = apply_example_profile("carol");
    let doc = fleet.doc("carol");
    // "Legacy PBX" (slot 1) is removed; her own account moves down to slot 1, whole; the
    // managed account takes slot 2 and is active.
    assert_eq!(
        doc.get("Account1", "label").as_deref(),
        Some("Home (personal)")
    );
    assert_eq!(
        doc.get("Account1", "password").as_deref(),
        Some("0a1b2c3d4e5f60718293a4b5c6d7e8f9")
    );
    assert_eq!(slot_of(&fleet, "carol", "office"), 2);
    assert_eq!(doc.get("Settings", "accountId").as_deref(), Some("2"));
    assert!(!doc.has_section("Account3"));
    let text = from_utf16le_bom(&fs::read(fleet.ini("carol")).unwrap());
    assert!(!text.contains("Legacy PBX") && !text.contains("old-pbx"));
    assert!(from_utf16le_bom(&original).contains("Legacy PBX"));
    assert_eq!(doc.get("Settings", "autoAnswer").as_deref(), Some("all"));
    assert_eq!(
        doc.get("Shortcuts", "0").as_deref(),
        Some("Mum;+441234567;call;;0;")
    );
    assert!(changes(&report)
        .iter()
        .any(|c| c["kind"] == "section-removed" && c["section"] == "Account1"));
}

#[test]
fn the_line_check_catches_bytes_changed_outside_the_report() {
    let fleet = Fleet::new();
    let before = fs::read(fleet.ini("carol")).unwrap();
    let report = fleet.apply_json("fleet.toml", "carol");
    let after = fs::read(fleet.ini("carol")).unwrap();
    assert_only_managed_lines_changed(&before, &after, &report);
    let text = from_utf16le_bom(&after);
    let tampered = [
        // A line of a section the report does not name.
        text.replacen(
            "checkUpdatesTime=1789000000",
            "checkUpdatesTime=1789000001",
            1,
        ),
        // A line ending.
        text.replacen("version=3.22.16\r\n", "version=3.22.16\n", 1),
        // A line of the moved account.
        text.replacen("username=carol", "username=karol", 1),
        // A managed value that differs from the report.
        text.replacen("username=1003", "username=1004", 1),
    ];
    for bad in tampered {
        assert_ne!(bad, text);
        let bytes = utf16le_bom(&bad);
        let caught = std::panic::catch_unwind(|| {
            assert_only_managed_lines_changed(&before, &bytes, &report)
        });
        assert!(caught.is_err(), "not caught:\n{bad}");
    }
}

// ---------------------------------------------------------------------------------------------
// 2. YAML and TOML.

#[test]
fn yaml_and_toml_manifests_give_the_same_files() {
    for (user, ..) in EXAMPLE_USERS {
        let toml = Fleet::new();
        let yaml = Fleet::new();
        let plan_toml = toml.plan("fleet.toml", user, &["--format", "json"]).json();
        let plan_yaml = yaml.plan("fleet.yaml", user, &["--format", "json"]).json();
        assert_eq!(plan_toml["diff"], plan_yaml["diff"], "{user}");
        let report_toml = toml.apply_json("fleet.toml", user);
        let report_yaml = yaml.apply_json("fleet.yaml", user);
        assert_eq!(report_toml["changes"], report_yaml["changes"], "{user}");
        // Byte for byte, but for the state section (a random salt, and so other hashes).
        let without_state = |fleet: &Fleet| {
            let mut doc = fleet.doc(user);
            assert!(doc.remove_section(STATE_SECTION));
            doc.to_bytes()
        };
        assert_eq!(
            without_state(&toml),
            without_state(&yaml),
            "{user}: microsip.ini differs between fleet.toml and fleet.yaml"
        );
        // The states differ only by their random salt (and so the hashes).
        let strip = |mut state: Value| {
            state["salt"] = Value::Null;
            for account in state["accounts"].as_object_mut().unwrap().values_mut() {
                account["password_hash"] = Value::Null;
            }
            state
        };
        assert_eq!(strip(toml.state(user)), strip(yaml.state(user)), "{user}");
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Password rotation without churn.

#[test]
fn password_is_not_rewritten_after_microsip_encrypts_it_but_rotation_writes_it() {
    let fleet = Fleet::new();
    let report = fleet.apply_json("fleet.toml", "alice");
    let password = changes(&report)
        .into_iter()
        .find(|c| c["key"] == "password")
        .expect("the first run writes the password");
    assert_eq!(password["reason"], "new account");

    encrypt_password(&fleet.ini("alice"), "Account1");
    let encrypted = Snapshot::take(&fleet, "alice");
    let again = fleet.apply_json("fleet.toml", "alice");
    assert_eq!(again["outcome"], "unchanged", "{again:#}");
    encrypted.assert_untouched(
        &fleet,
        "alice",
        "apply after MicroSIP encrypted the password",
    );
    fleet.plan("fleet.toml", "alice", &["--exit-code"]).code(0);

    // The admin rotates the secret.
    let rotated = "rotated-Alice-Pw9!";
    fleet.write("secrets/alice.txt", &format!("{rotated}\n"));
    let plan = fleet.plan("fleet.toml", "alice", &["--exit-code"]);
    plan.code(3);
    assert!(
        plan.stdout.contains("+password=<redacted, changed>"),
        "{}",
        plan.stdout
    );
    let before = fs::read(fleet.ini("alice")).unwrap();
    let run = fleet.apply("fleet.toml", "alice", &["--format", "json"]);
    let report = run.code(0).json();
    assert_eq!(report["outcome"], "changed");
    let all = changes(&report);
    assert_eq!(all.len(), 1, "only the password changes: {report:#}");
    assert_eq!(all[0]["section"], "Account1");
    assert_eq!(all[0]["key"], "password");
    assert_eq!(all[0]["kind"], "updated");
    assert_eq!(all[0]["secret"], true);
    assert_eq!(all[0]["reason"], "password rotated");
    assert!(all[0].get("old").is_none() && all[0].get("new").is_none());
    for leak in [rotated, ENCRYPTED, "dummy-alice-Pw1!"] {
        assert!(!run.all_output().contains(leak), "{leak} printed: {run:?}");
        assert!(
            !plan.all_output().contains(leak),
            "{leak} printed: {plan:?}"
        );
    }
    assert_eq!(
        fleet.doc("alice").get("Account1", "password").as_deref(),
        Some(rotated)
    );
    assert_only_managed_lines_changed(&before, &fs::read(fleet.ini("alice")).unwrap(), &report);

    // Written once: the next run (before or after MicroSIP encrypts it) leaves it alone.
    let settled = Snapshot::take(&fleet, "alice");
    assert_eq!(
        fleet.apply_json("fleet.toml", "alice")["outcome"],
        "unchanged"
    );
    settled.assert_untouched(&fleet, "alice", "apply after rotation");
    encrypt_password(&fleet.ini("alice"), "Account1");
    assert_eq!(
        fleet.apply_json("fleet.toml", "alice")["outcome"],
        "unchanged"
    );
}

// ---------------------------------------------------------------------------------------------
// 4. Labels renamed, accounts removed from the middle.

#[test]
fn a_label_renamed_by_the_user_or_the_admin_keeps_the_slot() {
    let fleet = Fleet::new();
    fleet.apply_json("fleet.toml", "carol");
    assert_eq!(slot_of(&fleet, "carol", "office"), 2);

    // The user renames the label in MicroSIP.
    edit_ini(&fleet.ini("carol"), |lines| {
        set_line(lines, "Account2", "label", "Carol's desk")
    });
    let report = fleet.apply_json("fleet.toml", "carol");
    let doc = fleet.doc("carol");
    assert!(
        !doc.has_section("Account3"),
        "a duplicate account was created"
    );
    assert_eq!(doc.get("Account2", "label").as_deref(), Some("Office"));
    assert_eq!(doc.get("Settings", "accountId").as_deref(), Some("2"));
    let all = changes(&report);
    assert_eq!(all.len(), 1, "{report:#}");
    assert_eq!(
        (&all[0]["section"], &all[0]["key"], &all[0]["old"]),
        (
            &Value::from("Account2"),
            &Value::from("label"),
            &Value::from("Carol's desk")
        )
    );

    // The admin renames the label in the manifest (the id stays "office"), while the user has
    // renamed it again: still the same slot.
    edit_ini(&fleet.ini("carol"), |lines| {
        set_line(lines, "Account2", "label", "Mine now")
    });
    let manifest = fleet
        .read_text("fleet.toml")
        .replace("label = \"Office\"", "label = \"Head office\"");
    fleet.write("renamed.toml", &manifest);
    fleet.apply_json("renamed.toml", "carol");
    let doc = fleet.doc("carol");
    assert!(
        !doc.has_section("Account3"),
        "a duplicate account was created"
    );
    assert_eq!(doc.get("Account2", "label").as_deref(), Some("Head office"));
    assert_eq!(
        doc.get("Account1", "label").as_deref(),
        Some("Home (personal)")
    );
    assert_eq!(slot_of(&fleet, "carol", "office"), 2);
    fleet
        .plan("renamed.toml", "carol", &["--exit-code"])
        .code(0);
}

/// A manifest with the example users and accounts `(id, label, domain)`.
fn accounts_manifest(accounts: &[(&str, &str, &str)], removed: &[&str]) -> String {
    let mut text = String::from("version = 1\n");
    let removed: Vec<String> = removed.iter().map(|id| format!("{id:?}")).collect();
    text.push_str(&format!("removed_accounts = [{}]\n", removed.join(", ")));
    text.push_str("[users]\ncsv = \"users.csv\"\n");
    for (id, label, domain) in accounts {
        text.push_str(&format!(
            "\n[[accounts]]\nid = {id:?}\nlabel = {label:?}\n[accounts.keys]\n\
             server = {domain:?}\ndomain = {domain:?}\nusername = \"{{{{user.extension}}}}\"\n"
        ));
    }
    text
}

#[test]
fn an_account_removed_from_the_middle_moves_later_ones_down_and_account_id_follows() {
    let fleet = Fleet::new();
    let all = [
        ("alpha", "Alpha", "a.example"),
        ("beta", "Beta", "b.example"),
        ("gamma", "Gamma", "c.example"),
    ];
    fleet.write("three.toml", &accounts_manifest(&all, &[]));
    fleet.apply_json("three.toml", "alice");
    for (slot, id) in [(1, "alpha"), (2, "beta"), (3, "gamma")] {
        assert_eq!(slot_of(&fleet, "alice", id), slot);
    }
    // The user adds a key to Gamma, creates an account of her own after it and makes it active.
    edit_ini(&fleet.ini("alice"), |lines| {
        let end = section_end(lines, "Account3");
        lines.insert(end, "userNote=kept".into());
        let end = section_end(lines, "Account3");
        for (n, line) in [
            "[Account4]",
            "label=Mine",
            "server=mine.example",
            "domain=mine.example",
            "username=me",
            "password=0123456789abcdef0123456789abcdef",
        ]
        .iter()
        .enumerate()
        {
            lines.insert(end + n, line.to_string());
        }
        set_line(lines, "Settings", "accountId", "4");
    });
    let untouched = Snapshot::take(&fleet, "alice");
    assert_eq!(
        fleet.apply_json("three.toml", "alice")["outcome"],
        "unchanged"
    );
    untouched.assert_untouched(&fleet, "alice", "the user's own account");

    let before = fs::read(fleet.ini("alice")).unwrap();
    let two = [
        ("alpha", "Alpha", "a.example"),
        ("gamma", "Gamma", "c.example"),
    ];
    fleet.write("two.toml", &accounts_manifest(&two, &["beta"]));
    let report = fleet.apply_json("two.toml", "alice");
    assert_only_managed_lines_changed(&before, &fs::read(fleet.ini("alice")).unwrap(), &report);
    let doc = fleet.doc("alice");
    assert_eq!(doc.get("Account1", "label").as_deref(), Some("Alpha"));
    assert_eq!(doc.get("Account2", "label").as_deref(), Some("Gamma"));
    assert_eq!(doc.get("Account2", "userNote").as_deref(), Some("kept"));
    assert_eq!(doc.get("Account3", "label").as_deref(), Some("Mine"));
    assert!(
        !doc.has_section("Account4"),
        "a gap or a stale section is left"
    );
    assert_eq!(doc.get("Settings", "accountId").as_deref(), Some("3"));
    assert_eq!(slot_of(&fleet, "alice", "gamma"), 2);
    assert!(fleet.state("alice")["accounts"].get("beta").is_none());

    let listed = fleet
        .run(&[
            "account",
            "list",
            "--profile",
            &Fleet::profile("alice"),
            "--format",
            "json",
        ])
        .code(0)
        .json();
    let rows: Vec<(u64, &str, bool, bool)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["slot"].as_u64().unwrap(),
                r["label"].as_str().unwrap(),
                r["visible"] == true,
                r["active"] == true,
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (1, "Alpha", true, false),
            (2, "Gamma", true, false),
            (3, "Mine", true, true)
        ]
    );
    let settled = Snapshot::take(&fleet, "alice");
    assert_eq!(
        fleet.apply_json("two.toml", "alice")["outcome"],
        "unchanged"
    );
    settled.assert_untouched(&fleet, "alice", "apply after the removal");
    fleet.plan("two.toml", "alice", &["--exit-code"]).code(0);
}

// ---------------------------------------------------------------------------------------------
// 5. Settings policies and speed dials.

#[test]
fn setting_policies_enforce_default_and_remove_through_the_manifest() {
    let fleet = Fleet::new();
    fleet.apply_json("fleet.toml", "alice");
    // The user changes things in MicroSIP.
    edit_ini(&fleet.ini("alice"), |lines| {
        set_line(lines, "Settings", "singleMode", "0"); // enforce
        set_line(lines, "Settings", "autoAnswer", "all"); // default
        let recording = key_index(lines, "Settings", "recordingPath"); // default, deleted
        lines.remove(recording);
        let end = section_end(lines, "Settings");
        lines.insert(end, "enableLog=1".into()); // remove
    });
    let report = fleet.apply_json("fleet.toml", "alice");
    let doc = fleet.doc("alice");
    assert_eq!(doc.get("Settings", "singleMode").as_deref(), Some("1"));
    assert_eq!(doc.get("Settings", "autoAnswer").as_deref(), Some("all"));
    assert_eq!(
        doc.get("Settings", "recordingPath").as_deref(),
        Some(r"C:\Users\alice\Recordings")
    );
    assert_eq!(doc.get("Settings", "enableLog"), None);
    let mut described: Vec<(String, String, Option<String>)> = changes(&report)
        .iter()
        .map(|c| {
            (
                c["key"].as_str().unwrap().to_string(),
                c["kind"].as_str().unwrap().to_string(),
                c["reason"].as_str().map(str::to_string),
            )
        })
        .collect();
    described.sort();
    assert_eq!(
        described,
        [
            ("enableLog".to_string(), "removed".to_string(), None),
            (
                "recordingPath".to_string(),
                "added".to_string(),
                Some("default: only when missing".to_string())
            ),
            ("singleMode".to_string(), "updated".to_string(), None),
        ],
        "{report:#}"
    );
    fleet.plan("fleet.toml", "alice", &["--exit-code"]).code(0);
}

#[test]
fn speed_dials_if_empty_or_enforced() {
    let fleet = Fleet::new();
    // if-empty: alice has none and gets them; then she edits hers and they are kept.
    fleet.apply_json("fleet.toml", "alice");
    edit_ini(&fleet.ini("alice"), |lines| {
        set_line(lines, "Shortcuts", "0", "Mine;555;call;;0;");
        let helpdesk = key_index(lines, "Shortcuts", "1");
        lines.remove(helpdesk);
    });
    assert_eq!(
        fleet.apply_json("fleet.toml", "alice")["outcome"],
        "unchanged"
    );
    let doc = fleet.doc("alice");
    assert_eq!(
        doc.get("Shortcuts", "0").as_deref(),
        Some("Mine;555;call;;0;")
    );
    assert_eq!(doc.get("Shortcuts", "1"), None);

    // enforce: the list becomes exactly the manifest's, for alice and for bob.
    let enforced = fleet
        .read_text("fleet.toml")
        .replace("policy = \"if-empty\"", "policy = \"enforce\"");
    assert_ne!(enforced, fleet.read_text("fleet.toml"));
    fleet.write("enforce.toml", &enforced);
    for user in ["alice", "bob"] {
        let before = fs::read(fleet.ini(user)).unwrap();
        let report = fleet.apply_json("enforce.toml", user);
        assert_only_managed_lines_changed(&before, &fs::read(fleet.ini(user)).unwrap(), &report);
        let doc = fleet.doc(user);
        let entries: Vec<(String, String)> = doc
            .entries("Shortcuts")
            .into_iter()
            .map(|e| (e.name, e.value))
            .collect();
        assert_eq!(
            entries,
            [
                ("0".to_string(), "Reception;100;call;;0;".to_string()),
                ("1".to_string(), "Helpdesk;200;call;;0;".to_string())
            ],
            "{user}"
        );
        fleet.plan("enforce.toml", user, &["--exit-code"]).code(0);
    }
}

// ---------------------------------------------------------------------------------------------
// 6. MicroSIP running.

#[cfg(target_os = "linux")]
struct FakeMicrosip(std::process::Child);

#[cfg(target_os = "linux")]
impl Drop for FakeMicrosip {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_running_microsip_skips_or_fails_the_profile_and_nothing_is_written() {
    let fleet = Fleet::new();
    // A copy of `sleep` under a unique name within /proc's 15-character `comm`.
    let exe = format!("msp{}.exe", std::process::id() % 100_000);
    let fake = fleet.path(&exe);
    fs::copy("/bin/sleep", &fake).unwrap();
    let child = FakeMicrosip(std::process::Command::new(&fake).arg("60").spawn().unwrap());
    let pid = child.0.id();
    let comm = format!("/proc/{pid}/comm");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while fs::read_to_string(&comm).unwrap_or_default().trim() != exe {
        assert!(std::time::Instant::now() < deadline, "the fake never ran");
        std::thread::sleep(Duration::from_millis(10));
    }

    let untouched = Snapshot::take(&fleet, "bob");
    // Default: skip (exit 0, reported), naming MicroSIP and its process; matched
    // case-insensitively.
    let upper = exe.to_ascii_uppercase();
    let run = fleet.apply("fleet.toml", "bob", &["--microsip-exe", &upper]);
    run.code(0);
    assert!(
        run.stdout.contains("skipped")
            && run.stdout.contains("MicroSIP is running")
            && run.stdout.contains(&pid.to_string()),
        "{}",
        run.stdout
    );
    untouched.assert_untouched(&fleet, "bob", "apply while MicroSIP runs");

    // wait: gives up after --running-wait, fails (exit 1), writes nothing.
    let run = fleet.apply(
        "fleet.toml",
        "bob",
        &[
            "--microsip-exe",
            &exe,
            "--if-running",
            "wait",
            "--running-wait",
            "0.3",
            "--format",
            "json",
        ],
    );
    let report = run.code(1).json();
    assert_eq!(report["outcome"], "failed");
    assert!(
        report["error"].as_str().unwrap().contains("still running"),
        "{report:#}"
    );
    untouched.assert_untouched(&fleet, "bob", "apply --if-running wait");

    let run = fleet.apply(
        "fleet.toml",
        "bob",
        &[
            "--microsip-exe",
            &exe,
            "--if-running",
            "skip",
            "--format",
            "json",
        ],
    );
    let report = run.code(0).json();
    assert_eq!(report["outcome"], "skipped", "{report:#}");
    assert!(report["error"]
        .as_str()
        .unwrap()
        .contains("MicroSIP is running"));
    assert!(report.get("changes").is_none());
    untouched.assert_untouched(&fleet, "bob", "apply --if-running skip");

    let run = fleet.apply(
        "fleet.toml",
        "bob",
        &[
            "--microsip-exe",
            &exe,
            "--if-running",
            "ignore",
            "--format",
            "json",
        ],
    );
    assert_eq!(run.code(0).json()["outcome"], "changed");
    drop(child);
}

// ---------------------------------------------------------------------------------------------
// 7. Invalid manifests.

/// One broken manifest: its file name, text, and where the error is.
struct Broken {
    name: &'static str,
    text: String,
    at: (usize, usize),
    fragment: &'static str,
}

fn broken_manifests(fleet: &Fleet) -> Vec<Broken> {
    let toml = fleet.read_text("fleet.toml");
    let yaml = fleet.read_text("fleet.yaml");
    let mut cases = Vec::new();
    let mut case = |name, base: &str, from: &str, to: &str, marker: &str, fragment| {
        assert!(base.contains(from), "{from:?}");
        let text = base.replacen(from, to, 1);
        let at = position_of(&text, marker);
        cases.push(Broken {
            name,
            text,
            at,
            fragment,
        });
    };
    case(
        "unknown.toml",
        &toml,
        "label = \"Office\"\n",
        "label = \"Office\"\nbogus_field = 1\n",
        "bogus_field",
        "bogus_field",
    );
    case(
        "type.toml",
        &toml,
        "active = true ",
        "active = \"yes\" ",
        "\"yes\"",
        "boolean",
    );
    case(
        "syntax.toml",
        &toml,
        "singleMode = \"1\"",
        "singleMode = = \"1\"",
        "= \"1\"",
        "",
    );
    case(
        "unknown.yaml",
        &yaml,
        "    label: Office\n",
        "    label: Office\n    bogus_field: 1\n",
        "bogus_field",
        "bogus_field",
    );
    case(
        "type.yaml",
        &yaml,
        "    active: true\n",
        "    active: maybe\n",
        "maybe",
        "boolean",
    );
    case(
        "syntax.yaml",
        &yaml,
        "    label: Office\n",
        "    label: Office: x\n",
        ": x",
        "",
    );
    cases
}

#[test]
fn invalid_manifests_fail_with_path_line_and_column() {
    let fleet = Fleet::new();
    for broken in broken_manifests(&fleet) {
        fleet.write(broken.name, &broken.text);
        let (line, column) = broken.at;
        let location = format!("{}:{line}:{column}:", broken.name);
        let source_line = broken.text.lines().nth(line - 1).unwrap();

        let untouched = Snapshot::take(&fleet, "bob");
        for verb in ["apply", "plan"] {
            let run = if verb == "apply" {
                fleet.apply(broken.name, "bob", &[])
            } else {
                fleet.plan(broken.name, "bob", &[])
            };
            run.code(2);
            assert!(
                run.stderr.contains(&location),
                "{verb} {}: expected {location} in\n{}",
                broken.name,
                run.stderr
            );
            assert!(run.stderr.contains(broken.fragment), "{}", run.stderr);
            // The offending line with a caret under the column.
            let quoted = format!("{line} | {source_line}");
            let caret = format!(
                "{} | {}^",
                " ".repeat(line.to_string().len()),
                " ".repeat(column - 1)
            );
            assert!(
                run.stderr.contains(&format!("{quoted}\n{caret}")),
                "{verb} {}: no source line and caret at column {column}:\n{}",
                broken.name,
                run.stderr
            );
        }
        untouched.assert_untouched(&fleet, "bob", broken.name);

        let run = fleet.run(&["validate", broken.name]);
        run.code(2);
        assert!(run.stderr.contains(&location), "{}", run.stderr);
        let run = fleet.run(&["validate", broken.name, "--format", "github"]);
        run.code(2);
        let annotation = format!("::error file={},line={line},col={column}::", broken.name);
        assert!(
            run.stdout.lines().any(|l| l.starts_with(&annotation)),
            "expected {annotation} in\n{}",
            run.stdout
        );
    }
}

#[test]
fn the_examples_validate() {
    let fleet = Fleet::new();
    for manifest in ["fleet.toml", "fleet.yaml"] {
        let run = fleet.run(&["validate", manifest]);
        run.code(0);
        assert!(
            run.stdout.contains(&format!(
                "{manifest}: valid (3 users checked, 0 errors, 0 warnings)"
            )),
            "{}",
            run.stdout
        );
        let run = fleet.run(&["validate", manifest, "--format", "json"]);
        let json = run.code(0).json();
        assert_eq!(
            (&json["valid"], &json["users"], &json["errors"]),
            (&Value::from(true), &Value::from(3), &Value::from(0))
        );
        let run = fleet.run(&[
            "validate",
            manifest,
            "--format",
            "github",
            "--require-secrets",
        ]);
        run.code(0);
        assert!(!run.stdout.contains("::error"), "{}", run.stdout);
    }
    // And fails once a secret is missing with --require-secrets (a warning without it).
    fs::remove_file(fleet.path("secrets/bob.txt")).unwrap();
    let run = fleet.run(&["validate", "fleet.toml", "--require-secrets"]);
    run.code(2);
    assert!(run.stderr.contains("bob"), "{}", run.stderr);
    fleet.run(&["validate", "fleet.toml"]).code(0);
}

// ---------------------------------------------------------------------------------------------
// 8. Missing template variables.

#[test]
fn an_undefined_template_variable_in_a_key_names_manifest_position_and_template_position() {
    let fleet = Fleet::new();
    let cases = [
        (
            "nosuch.toml",
            fleet.read_text("fleet.toml").replace(
                "displayName = \"{{user.display_name}}\"",
                "displayName = \"Dr. {{user.nosuch}}\"",
            ),
            "\"Dr. {{user.nosuch}}\"",
        ),
        (
            "nosuch.yaml",
            fleet.read_text("fleet.yaml").replace(
                "displayName: \"{{user.display_name}}\"",
                "displayName: \"Dr. {{user.nosuch}}\"",
            ),
            "\"Dr. {{user.nosuch}}\"",
        ),
    ];
    let mut runs = Vec::new();
    for (name, text, marker) in cases {
        fleet.write(name, &text);
        let (line, column) = position_of(&text, marker);
        let untouched = Snapshot::take(&fleet, "carol");
        for args in [vec![], vec!["--dry-run"]] {
            let run = fleet.apply(name, "carol", &args);
            for expected in [
                format!("{name}:{line}:{column}:"),
                // The template (the value), and the line and column inside it.
                "accounts[0].keys.displayName:1:5".to_string(),
                "user.nosuch".to_string(),
            ] {
                assert!(
                    run.stderr.contains(&expected),
                    "{name}: expected {expected:?} in\n{}",
                    run.stderr
                );
            }
            runs.push(run);
        }
        untouched.assert_untouched(&fleet, "carol", name);
        runs.push(fleet.plan(name, "carol", &[]));
        runs.push(fleet.run(&["validate", name]));
    }
    // An invalid manifest is exit 2, whichever verb finds it.
    for run in &runs {
        run.code(2);
    }
}

#[test]
fn an_undefined_template_variable_in_a_template_file_names_the_template_line_and_column() {
    let fleet = Fleet::new();
    fleet.write(
        "templates/desk.ini.hbs",
        "{{!-- a custom account template --}}\nlabel=\"{{account.label}}\"\n\
         {{#each account.keys_list}}\n{{name}}=\"{{value}}\"\n{{/each}}\nsubscribe=\"{{lower user.nosuch}}\"\n",
    );
    let text = fleet.read_text("fleet.toml").replacen(
        "active = true",
        "template = \"templates/desk.ini.hbs\"\nactive = true",
        1,
    );
    fleet.write("custom.toml", &text);
    let (line, column) = position_of(&text, "\"templates/desk.ini.hbs\"");
    let untouched = Snapshot::take(&fleet, "bob");
    let run = fleet.apply("custom.toml", "bob", &[]);
    for expected in [
        format!("custom.toml:{line}:{column}:"),
        "desk.ini.hbs:6:12".to_string(),
        "user.nosuch".to_string(),
    ] {
        assert!(
            run.stderr.contains(&expected),
            "expected {expected:?} in\n{}",
            run.stderr
        );
    }
    untouched.assert_untouched(&fleet, "bob", "a template that does not render");
    let validate = fleet.run(&["validate", "custom.toml", "--format", "github"]);
    validate.code(2);
    assert_eq!(
        validate.stdout.matches("desk.ini.hbs:6:12").count(),
        3,
        "one error per user:\n{}",
        validate.stdout
    );
    // An invalid manifest is exit 2 for apply too.
    run.code(2);
}

// ---------------------------------------------------------------------------------------------
// 9. A bad profile file.

#[test]
fn a_bad_profile_file_fails_names_the_position_and_is_left_untouched() {
    let bob = fs::read(
        examples_dir()
            .join(Fleet::profile("bob"))
            .join("microsip.ini"),
    )
    .unwrap();
    let bob_text = from_utf16le_bom(&bob);
    // Cut bob's file inside the "[Dialed]" header, in the middle of a character.
    let dialed_offset = bob_text.find("[Dialed]").unwrap();
    let cut_chars = bob_text[..dialed_offset].encode_utf16().count() + 3;
    let truncated = bob[..2 + 2 * cut_chars + 1].to_vec();
    let dialed = position_of(&bob_text, "[Dialed]");

    let mut odd = utf16le_bom("[Global]\r\nversion=3.22.16\r\n[Settings]\r\naccountId=1\r\n");
    odd.push(0x41);
    let mut surrogate = utf16le_bom("[Settings]\r\naccountId=1\r\nab");
    surrogate.extend_from_slice(&0xD800u16.to_le_bytes());
    surrogate.extend_from_slice(&utf16le_bom("cd\r\n")[2..]);

    let cases = [
        ("odd trailing byte", odd, (5, 1)),
        ("truncated", truncated, (dialed.0, dialed.1 + 3)),
        ("lone surrogate", surrogate, (3, 3)),
    ];
    for (what, bytes, (line, column)) in cases {
        let fleet = Fleet::new();
        fs::write(fleet.ini("bob"), &bytes).unwrap();
        let untouched = Snapshot::take(&fleet, "bob");
        let location = format!(
            "{}:{line}:{column}:",
            Path::new(&Fleet::profile("bob"))
                .join("microsip.ini")
                .display()
        );
        let run = fleet.apply("fleet.toml", "bob", &[]);
        run.code(1);
        assert!(
            run.stderr.contains(&location),
            "{what}: expected {location} in\n{}",
            run.stderr
        );
        let report = fleet
            .apply("fleet.toml", "bob", &["--format", "json"])
            .code(1)
            .json();
        assert_eq!(report["outcome"], "failed");
        assert!(
            report["error"].as_str().unwrap().contains(&location),
            "{report:#}"
        );
        fleet.plan("fleet.toml", "bob", &[]).code(1);
        untouched.assert_untouched(&fleet, "bob", what);
        assert_eq!(fs::read(fleet.ini("bob")).unwrap(), bytes);
    }
}

// ---------------------------------------------------------------------------------------------
// 10. No secret in any output.

#[test]
fn no_secret_reaches_any_output_but_all_reach_microsip_ini() {
    let fleet = Fleet::new();
    let manifest = r#"version = 1
[users]
csv = "users.csv"

[[accounts]]
id = "office"
label = "Office"
active = true
password = { env = "MSP_TEST_PW_{{user.username}}" }
[accounts.keys]
server = "pbx.example.com"
domain = "pbx.example.com"
username = "{{user.extension}}"

[[accounts]]
id = "backup"
label = "Backup"
password = { file = "secrets/{{user.username}}.txt" }
[accounts.keys]
domain = "backup.example.com"
username = "{{user.extension}}"

[[accounts]]
id = "fax"
label = "Fax"
password = { column = "fax_password" }
[accounts.keys]
domain = "fax.example.com"
username = "{{user.extension}}"
"#;
    fleet.write("secret.toml", manifest);
    let users = |round: usize| {
        [("alice", "1001"), ("bob", "1002"), ("carol", "1003")].map(|(user, ext)| {
            (
                user,
                ext,
                format!("Env-{user}-S3cr{round}t"),
                format!("File-{user}-S3cr{round}t"),
                format!("Csv-{user}-S3cr{round}t"),
            )
        })
    };
    let write_sources = |round: usize| -> Vec<(String, String)> {
        let mut csv = String::from("username,extension,fax_password\n");
        let mut env = Vec::new();
        for (user, ext, env_pw, file_pw, csv_pw) in users(round) {
            csv.push_str(&format!("{user},{ext},{csv_pw}\n"));
            fleet.write(&format!("secrets/{user}.txt"), &format!("{file_pw}\r\n"));
            env.push((format!("MSP_TEST_PW_{user}"), env_pw));
        }
        fleet.write("users.csv", &csv);
        env
    };
    let secrets: Vec<String> = (1..=2)
        .flat_map(&users)
        .flat_map(|(_, _, a, b, c)| [a, b, c])
        .collect();
    let log = "events.jsonl";
    let profile = Fleet::profile("alice");
    let mut outputs: Vec<Run> = Vec::new();

    let mut env = write_sources(1);
    let run_all = |fleet: &Fleet, env: &[(String, String)], args: &[&str]| -> Run {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        fleet.run_env(args, &env)
    };
    for format in ["human", "json", "github"] {
        outputs.push(run_all(
            &fleet,
            &env,
            &["validate", "secret.toml", "--format", format],
        ));
    }
    outputs.push(run_all(
        &fleet,
        &env,
        &["validate", "secret.toml", "--require-secrets"],
    ));
    for format in ["human", "json"] {
        outputs.push(run_all(
            &fleet,
            &env,
            &[
                "plan",
                "secret.toml",
                "--profile",
                &profile,
                "--format",
                format,
                "--log-file",
                log,
            ],
        ));
        outputs.push(run_all(
            &fleet,
            &env,
            &[
                "apply",
                "secret.toml",
                "--profile",
                &profile,
                "--dry-run",
                "--format",
                format,
            ],
        ));
    }
    for run in &outputs {
        run.code(0);
    }
    let dry_run = outputs.last().unwrap();
    assert!(
        dry_run.stdout.contains("password=<redacted, changed>"),
        "{}",
        dry_run.stdout
    );
    let first = run_all(
        &fleet,
        &env,
        &[
            "apply",
            "secret.toml",
            "--profile",
            &profile,
            "--log-file",
            log,
        ],
    );
    first.code(0);
    outputs.push(first);
    // All three plaintext passwords are in microsip.ini, for MicroSIP to encrypt.
    let doc = fleet.doc("alice");
    let (_, _, env_pw, file_pw, csv_pw) = users(1)[0].clone();
    assert_eq!(doc.get("Account1", "password"), Some(env_pw));
    assert_eq!(doc.get("Account2", "password"), Some(file_pw));
    assert_eq!(doc.get("Account3", "password"), Some(csv_pw));
    for slot in 1..=3 {
        encrypt_password(&fleet.ini("alice"), &format!("Account{slot}"));
    }
    let unchanged = run_all(
        &fleet,
        &env,
        &[
            "apply",
            "secret.toml",
            "--profile",
            &profile,
            "--format",
            "json",
            "--log-file",
            log,
        ],
    );
    assert_eq!(unchanged.code(0).json()["outcome"], "unchanged");
    outputs.push(unchanged);

    // Rotate every secret.
    env = write_sources(2);
    let rotated = run_all(
        &fleet,
        &env,
        &[
            "apply",
            "secret.toml",
            "--profile",
            &profile,
            "--format",
            "json",
            "--log-file",
            log,
        ],
    );
    let report = rotated.code(0).json();
    let reasons: Vec<Value> = changes(&report)
        .iter()
        .map(|c| c["reason"].clone())
        .collect();
    assert_eq!(
        reasons,
        vec![Value::from("password rotated"); 3],
        "{report:#}"
    );
    outputs.push(rotated);
    let doc = fleet.doc("alice");
    let (_, _, env_pw, file_pw, csv_pw) = users(2)[0].clone();
    assert_eq!(doc.get("Account1", "password"), Some(env_pw));
    assert_eq!(doc.get("Account2", "password"), Some(file_pw));
    assert_eq!(doc.get("Account3", "password"), Some(csv_pw));
    for format in ["table", "json"] {
        outputs.push(run_all(
            &fleet,
            &env,
            &["account", "list", "--profile", &profile, "--format", format],
        ));
    }

    let ini = from_utf16le_bom(&fs::read(fleet.ini("alice")).unwrap());
    let log_text = fleet.read_text(log);
    let events: Vec<Value> = log_text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(
        events
            .iter()
            .map(|e| e["event"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["plan", "plan", "apply", "apply", "apply"]
    );
    let state = fleet.state("alice").to_string();
    let backups: Vec<String> = fleet
        .backups("alice")
        .iter()
        .map(|p| from_utf16le_bom(&fs::read(p).unwrap()))
        .collect();
    assert_eq!(backups.len(), 2);
    for secret in &secrets {
        for run in &outputs {
            assert!(
                !run.all_output().contains(secret.as_str()),
                "{secret} printed by `{}`:\n{}",
                run.what,
                run.all_output()
            );
        }
        assert!(!log_text.contains(secret.as_str()), "{secret} in the log");
        assert!(!state.contains(secret.as_str()), "{secret} in the state");
        for backup in &backups {
            assert!(!backup.contains(secret.as_str()), "{secret} in a backup");
        }
    }
    let (_, _, env_pw, file_pw, csv_pw) = users(2)[0].clone();
    for secret in [env_pw, file_pw, csv_pw] {
        assert!(ini.contains(&format!("password={secret}\r\n")), "{ini}");
    }
}

// ---------------------------------------------------------------------------------------------
// 11. The helpdesk's account verbs.

#[test]
fn account_add_list_and_remove_without_a_manifest() {
    let fleet = Fleet::new();
    let profile = Fleet::profile("carol");
    let secret = "Desk-S3cret-71x";
    let env = [("MSP_DESK_PW", secret)];
    let add = [
        "account",
        "add",
        "sip:2001@pbx.example.com",
        "--label",
        "Desk",
        "--password-from",
        "env:MSP_DESK_PW",
        "--transport",
        "tls",
        "--activate",
        "--profile",
        &profile,
    ];
    let before = fs::read(fleet.ini("carol")).unwrap();
    let run = fleet.run_env(&add, &env);
    run.code(0);
    assert!(!run.all_output().contains(secret), "{run:?}");
    let doc = fleet.doc("carol");
    // Her two accounts stay; Desk fills slot 3 and is active.
    assert_eq!(doc.get("Account3", "label").as_deref(), Some("Desk"));
    assert_eq!(doc.get("Account3", "username").as_deref(), Some("2001"));
    assert_eq!(
        doc.get("Account3", "domain").as_deref(),
        Some("pbx.example.com")
    );
    assert_eq!(
        doc.get("Account3", "server").as_deref(),
        Some("pbx.example.com")
    );
    assert_eq!(doc.get("Account3", "transport").as_deref(), Some("tls"));
    assert_eq!(doc.get("Account3", "password").as_deref(), Some(secret));
    assert_eq!(doc.get("Settings", "accountId").as_deref(), Some("3"));
    let after = fs::read(fleet.ini("carol")).unwrap();
    let old = from_utf16le_bom(&before);
    let new = from_utf16le_bom(&after);
    // Only accountId changed in what was there; the account was appended.
    assert_eq!(
        old.replace("accountId=1\r\n", "accountId=3\r\n"),
        new[..old.len()]
    );

    // Running it again changes nothing.
    let settled = Snapshot::take(&fleet, "carol");
    fleet.run_env(&add, &env).code(0);
    settled.assert_untouched(&fleet, "carol", "a second account add");

    let run = fleet.run(&["account", "list", "--profile", &profile, "--format", "json"]);
    run.code(0);
    for stored in [
        secret,
        "7d3a9f0c1e2b4a5f6c7d8e9f0a1b2c3d",
        "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
    ] {
        assert!(!run.all_output().contains(stored), "{}", run.stdout);
    }
    let rows = run.json();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 3);
    let desk = &rows[2];
    assert_eq!(desk["slot"], 3);
    assert_eq!(desk["label"], "Desk");
    assert_eq!(desk["active"], true);
    assert_eq!(desk["password"], "set");
    assert_eq!(desk["transport"], "tls");
    assert_eq!(rows[0]["active"], false);
    assert_eq!(rows[0]["label"], "Legacy PBX");

    // Removing an account from the middle moves Desk down and accountId follows it.
    fleet
        .run(&["account", "remove", "Legacy PBX", "--profile", &profile])
        .code(0);
    let doc = fleet.doc("carol");
    assert_eq!(
        doc.get("Account1", "label").as_deref(),
        Some("Home (personal)")
    );
    assert_eq!(doc.get("Account2", "label").as_deref(), Some("Desk"));
    assert!(!doc.has_section("Account3"));
    assert_eq!(doc.get("Settings", "accountId").as_deref(), Some("2"));

    fleet
        .run(&["account", "remove", "Desk", "--profile", &profile])
        .code(0);
    let doc = fleet.doc("carol");
    assert!(!doc.has_section("Account2"));
    assert_eq!(
        doc.get("Account1", "label").as_deref(),
        Some("Home (personal)")
    );
    let rows = fleet
        .run(&["account", "list", "--profile", &profile, "--format", "json"])
        .code(0)
        .json();
    assert_eq!(rows.as_array().unwrap().len(), 1);
}

#[test]
fn account_add_refuses_a_password_on_the_command_line_without_echoing_it() {
    let fleet = Fleet::new();
    let profile = Fleet::profile("alice");
    let untouched = Snapshot::take(&fleet, "alice");
    for source in ["literal:Hunter2-Cli", "Hunter2-Cli", "password:Hunter2-Cli"] {
        let run = fleet.run(&[
            "account",
            "add",
            "sip:2001@pbx.example.com",
            "--password-from",
            source,
            "--profile",
            &profile,
        ]);
        run.code(2);
        assert!(run.stderr.contains("env:NAME"), "{}", run.stderr);
        assert!(
            !run.all_output().contains("Hunter2-Cli"),
            "the refused password is echoed: {}",
            run.stderr
        );
    }
    untouched.assert_untouched(&fleet, "alice", "a refused account add");
}

#[test]
fn account_list_table_lines_up_under_its_header() {
    let fleet = Fleet::new();
    let run = fleet.run(&["account", "list", "--profile", &Fleet::profile("bob")]);
    run.code(0);
    let mut lines = run.stdout.lines();
    let header = lines.next().unwrap();
    let label_column = header.find("LABEL").unwrap();
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 3, "{}", run.stdout);
    for (row, label) in rows
        .iter()
        .zip(["Office", "Home office (TLS)", "Support & Sales"])
    {
        assert_eq!(
            row.find(label),
            Some(label_column),
            "the label is not under LABEL:\n{}",
            run.stdout
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 12. Environment variables.

#[test]
fn the_profile_and_the_user_come_from_the_environment() {
    let fleet = Fleet::new();
    // A profile folder whose path does not name its user.
    fs::create_dir_all(fleet.path("share/MicroSIP")).unwrap();
    fs::copy(fleet.ini("bob"), fleet.path("share/MicroSIP/microsip.ini")).unwrap();

    let run = fleet.run_env(
        &["plan", "fleet.toml", "--format", "json"],
        &[("MICROSIP_PROVISION_PROFILE", Fleet::profile("bob").as_str())],
    );
    let report = run.code(0).json();
    assert_eq!(report["user"], "bob");
    assert_eq!(report["profile"], Fleet::profile("bob"));
    assert!(report["diff"].as_str().unwrap().contains("+username=1002"));

    let run = fleet.run_env(
        &["plan", "fleet.toml", "--format", "json", "--exit-code"],
        &[
            ("MICROSIP_PROVISION_PROFILE", "share/MicroSIP"),
            ("MICROSIP_PROVISION_USER", "CORP\\carol"),
        ],
    );
    let report = run.code(3).json();
    assert_eq!(report["profile"], "share/MicroSIP");
    assert_eq!(report["outcome"], "pending");
    assert!(
        report["diff"].as_str().unwrap().contains("+username=1003"),
        "rendered for carol: {report:#}"
    );
    // A flag wins over its variable.
    let run = fleet.run_env(
        &["plan", "fleet.toml", "--format", "json", "--user", "alice"],
        &[
            ("MICROSIP_PROVISION_PROFILE", "share/MicroSIP"),
            ("MICROSIP_PROVISION_USER", "carol"),
        ],
    );
    assert_eq!(run.code(0).json()["user"], "alice");
    // Nothing was written by any plan.
    assert_eq!(
        fs::read(fleet.path("share/MicroSIP/microsip.ini")).unwrap(),
        fs::read(
            examples_dir()
                .join(Fleet::profile("bob"))
                .join("microsip.ini")
        )
        .unwrap()
    );
}

#[test]
fn boolean_flags_from_the_environment_accept_1_as_logon_scripts_write_it() {
    let fleet = Fleet::new();
    let profile = Fleet::profile("bob");
    for value in ["true", "1"] {
        let run = fleet.run_env(
            &["plan", "fleet.toml"],
            &[
                ("MICROSIP_PROVISION_PROFILE", profile.as_str()),
                ("MICROSIP_PROVISION_EXIT_CODE", value),
                ("MICROSIP_PROVISION_QUIET", value),
            ],
        );
        run.code(3);
        assert!(
            run.stdout.is_empty(),
            "--quiet from the environment: {}",
            run.stdout
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The no-change fingerprint never hides a change.

/// A profile left exactly as an apply wrote it is confirmed by its fingerprint without the full
/// check; every input that changes the target (secret file, users row, manifest) and every byte
/// changed in the file must still reach the full check.
#[test]
fn the_fingerprint_never_hides_a_change() {
    let fleet = Fleet::new();
    let first = fleet.apply_json("fleet.toml", "alice");
    assert_eq!(first["outcome"], "changed", "{first:#}");
    let fingerprint = || fleet.doc("alice").get(STATE_SECTION, "fingerprint");
    assert!(fingerprint().is_some_and(|f| f.starts_with("v1.")));
    // Untouched: unchanged, nothing written.
    let untouched = Snapshot::take(&fleet, "alice");
    assert_eq!(
        fleet.apply_json("fleet.toml", "alice")["outcome"],
        "unchanged"
    );
    untouched.assert_untouched(&fleet, "alice", "a no-change run");

    // The secret file rotates; the INI is untouched.
    fleet.write("secrets/alice.txt", "rotated-Pw2!\n");
    let rotated = fleet.apply_json("fleet.toml", "alice");
    assert_eq!(rotated["outcome"], "changed", "{rotated:#}");
    assert_eq!(
        fleet.doc("alice").get("Account1", "password").as_deref(),
        Some("rotated-Pw2!")
    );

    // The users row changes.
    let csv = fleet.read_text("users.csv");
    fleet.write(
        "users.csv",
        &csv.replace("Alice Martin", "Alice Martin-Roy"),
    );
    let renamed = fleet.apply_json("fleet.toml", "alice");
    assert_eq!(renamed["outcome"], "changed", "{renamed:#}");
    assert_eq!(
        fleet.doc("alice").get("Account1", "displayName").as_deref(),
        Some("Alice Martin-Roy")
    );

    // The manifest changes.
    let manifest = fleet.read_text("fleet.toml");
    fleet.write(
        "fleet.toml",
        &manifest.replace("singleMode = \"1\"", "singleMode = \"0\""),
    );
    let edited = fleet.apply_json("fleet.toml", "alice");
    assert_eq!(edited["outcome"], "changed", "{edited:#}");
    assert_eq!(
        fleet.doc("alice").get("Settings", "singleMode").as_deref(),
        Some("0")
    );

    // MicroSIP rewrites a value we manage, and copies the fingerprint line along: the bytes no
    // longer match it, so the full check puts the value back.
    edit_ini(&fleet.ini("alice"), |lines| {
        for line in lines.iter_mut() {
            if line == "singleMode=0" {
                *line = "singleMode=1".to_string();
            }
        }
    });
    let reverted = fleet.apply_json("fleet.toml", "alice");
    assert_eq!(reverted["outcome"], "changed", "{reverted:#}");
    assert_eq!(
        fleet.doc("alice").get("Settings", "singleMode").as_deref(),
        Some("0")
    );

    // A change MicroSIP makes to a key we do not manage: the full check finds nothing to do and
    // writes nothing (the stale fingerprint stays until the next real change).
    edit_ini(&fleet.ini("alice"), |lines| {
        let at = header_index(lines, "Settings") + 1;
        lines.insert(at, "windowLeft=42".to_string());
    });
    let unmanaged = Snapshot::take(&fleet, "alice");
    let report = fleet.apply_json("fleet.toml", "alice");
    assert_eq!(report["outcome"], "unchanged", "{report:#}");
    unmanaged.assert_untouched(&fleet, "alice", "a change to an unmanaged key");
}
