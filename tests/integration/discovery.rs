//! Fleet discovery end to end (issue 6): Windows' domain forms of profile folder names.
//!
//! When a profile folder name is taken, Windows names the new one `<user>.<DOMAIN>`, then
//! `<user>.<DOMAIN>.000`, `.001`…, and a roaming profile adds `.V2`..`.V6` after that. The real
//! binary runs over temp trees of such folders (copies of `examples/profiles/*` and the example
//! manifest) and must apply each folder for its user, use one folder per user (the newest) and
//! report the others as skipped, never cut a dotted user name (`john.doe`), and prefer a manifest
//! user named like the whole folder over a domain reading of it.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use microsip_provision::ini::{CodePage, IniDocument};
use serde_json::Value;

use crate::common::{bin, examples_dir};

/// Below a user folder, as the default layout has it.
const LAYOUT: &str = "AppData/Roaming/MicroSIP";

/// A temp fleet: the example manifest, a users CSV, secrets and `profiles/`.
struct Fleet {
    dir: tempfile::TempDir,
}

/// One run of the binary: exit code, output and the JSON Lines report by user folder.
struct Run {
    code: i32,
    output: String,
    reports: BTreeMap<String, Value>,
}

impl Fleet {
    /// A fleet whose manifest knows `users` (extension 2001, 2002… in that order).
    fn new(users: &[&str]) -> Fleet {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::copy(examples_dir().join("fleet.toml"), root.join("fleet.toml")).unwrap();
        fs::create_dir_all(root.join("secrets")).unwrap();
        fs::create_dir_all(root.join("profiles")).unwrap();
        let mut csv = String::from("username,display_name,extension,department\n");
        for (n, user) in users.iter().enumerate() {
            csv.push_str(&format!("{user},User {user},{},Ops\n", 2001 + n));
            fs::write(root.join("secrets").join(format!("{user}.txt")), "pw").unwrap();
        }
        fs::write(root.join("users.csv"), csv).unwrap();
        Fleet { dir }
    }

    fn profiles(&self) -> PathBuf {
        self.dir.path().join("profiles")
    }

    fn ini(&self, folder: &str) -> PathBuf {
        self.profiles()
            .join(folder)
            .join(LAYOUT)
            .join("microsip.ini")
    }

    /// A user folder holding a copy of an example `microsip.ini`, last modified `age` ago.
    fn add(&self, folder: &str, age: Duration) {
        let ini = self.ini(folder);
        fs::create_dir_all(ini.parent().unwrap()).unwrap();
        let example = examples_dir()
            .join("profiles/alice")
            .join(LAYOUT)
            .join("microsip.ini");
        fs::copy(example, &ini).unwrap();
        fs::File::options()
            .write(true)
            .open(&ini)
            .unwrap()
            .set_modified(SystemTime::now() - age)
            .unwrap();
    }

    /// `microsip-provision <command> fleet.toml --profiles-root profiles --report FILE`.
    fn run(&self, command: &str) -> Run {
        let report = self.dir.path().join("report.jsonl");
        let _ = fs::remove_file(&report);
        let output = bin()
            .arg(command)
            .arg(self.dir.path().join("fleet.toml"))
            .arg("--profiles-root")
            .arg(self.profiles())
            .arg("--report")
            .arg(&report)
            .output()
            .unwrap();
        let text = format!(
            "--- stdout\n{}\n--- stderr\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let mut reports = BTreeMap::new();
        for line in fs::read_to_string(&report).unwrap_or_default().lines() {
            let value: Value = serde_json::from_str(line).unwrap();
            let folder = self.folder_of(&value);
            assert!(
                reports.insert(folder.clone(), value).is_none(),
                "{folder} reported twice\n{text}"
            );
        }
        Run {
            code: output.status.code().expect("exited normally"),
            output: text,
            reports,
        }
    }

    /// The user folder a report line is about.
    fn folder_of(&self, report: &Value) -> String {
        let path = Path::new(report["profile"].as_str().expect("profile path"));
        let relative = path.strip_prefix(self.profiles()).unwrap();
        let first = relative.components().next().unwrap();
        first.as_os_str().to_string_lossy().into_owned()
    }

    /// The `username` of the Office account in a folder's INI (the user's extension once applied).
    fn office_username(&self, folder: &str) -> Option<String> {
        let bytes = fs::read(self.ini(folder)).unwrap();
        let doc = IniDocument::parse(&bytes, CodePage::WINDOWS_1252).unwrap();
        let section = doc
            .section_names()
            .into_iter()
            .find(|s| doc.get(s, "label").as_deref() == Some("Office"))?;
        doc.get(&section, "username")
    }
}

impl Run {
    #[track_caller]
    fn code(&self, expected: i32) -> &Run {
        assert_eq!(self.code, expected, "exit code\n{}", self.output);
        self
    }

    /// (user, outcome) of a folder's report line.
    #[track_caller]
    fn of(&self, folder: &str) -> (String, String) {
        let report = self
            .reports
            .get(folder)
            .unwrap_or_else(|| panic!("no report for {folder}\n{}", self.output));
        (
            report["user"].as_str().unwrap().to_string(),
            report["outcome"].as_str().unwrap().to_string(),
        )
    }

    /// The error of a folder's report line.
    fn error(&self, folder: &str) -> String {
        self.reports[folder]["error"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

const HOUR: Duration = Duration::from_secs(3600);

fn pair(user: &str, outcome: &str) -> (String, String) {
    (user.to_string(), outcome.to_string())
}

#[test]
fn a_domain_form_folder_is_applied_for_its_user() {
    let fleet = Fleet::new(&["jdoe", "anna"]);
    fleet.add("jdoe.CORP", HOUR);
    fleet.add("anna.CORP.001.V6", HOUR);

    let plan = fleet.run("plan");
    plan.code(0);
    assert_eq!(plan.of("jdoe.CORP"), pair("jdoe", "pending"));
    assert_eq!(plan.of("anna.CORP.001.V6"), pair("anna", "pending"));

    let apply = fleet.run("apply");
    apply.code(0);
    assert_eq!(apply.of("jdoe.CORP"), pair("jdoe", "changed"));
    assert_eq!(apply.of("anna.CORP.001.V6"), pair("anna", "changed"));
    // Each got its own row of users.csv.
    assert_eq!(fleet.office_username("jdoe.CORP").as_deref(), Some("2001"));
    assert_eq!(
        fleet.office_username("anna.CORP.001.V6").as_deref(),
        Some("2002")
    );

    let again = fleet.run("apply");
    again.code(0);
    assert_eq!(again.of("jdoe.CORP"), pair("jdoe", "unchanged"));
}

#[test]
fn two_folders_of_one_user_the_newest_is_applied_and_the_other_reported() {
    let fleet = Fleet::new(&["jdoe", "kim", "lee"]);
    // Same roaming version: the profile whose microsip.ini was used last wins.
    fleet.add("jdoe", 48 * HOUR);
    fleet.add("jdoe.CORP", HOUR);
    fleet.add("kim", HOUR);
    fleet.add("kim.CORP", 48 * HOUR);
    // A newer roaming version wins over a more recently used INI.
    fleet.add("lee.CORP.000", HOUR);
    fleet.add("lee.CORP.V6", 48 * HOUR);
    let untouched: Vec<(&str, Vec<u8>)> = ["jdoe", "kim.CORP", "lee.CORP.000"]
        .into_iter()
        .map(|folder| (folder, fs::read(fleet.ini(folder)).unwrap()))
        .collect();

    let apply = fleet.run("apply");
    apply.code(0);
    assert_eq!(apply.reports.len(), 6, "{}", apply.output);
    for (used, superseded) in [
        ("jdoe.CORP", "jdoe"),
        ("kim", "kim.CORP"),
        ("lee.CORP.V6", "lee.CORP.000"),
    ] {
        let (user, _) = apply.of(used);
        assert_eq!(apply.of(used), pair(&user, "changed"));
        assert_eq!(apply.of(superseded), pair(&user, "skipped"));
        // Compared with `/` for either separator: Windows prints the path with `\`.
        let error = apply.error(superseded).replace('\\', "/");
        let winner = fleet
            .ini(used)
            .parent()
            .unwrap()
            .display()
            .to_string()
            .replace('\\', "/");
        assert!(
            error.contains(&winner) && error.contains("used instead"),
            "{superseded}: {error}"
        );
    }
    assert!(
        apply
            .output
            .contains("3 changed, 0 unchanged, 0 pending, 3 skipped, 0 failed"),
        "{}",
        apply.output
    );
    for (folder, bytes) in &untouched {
        assert_eq!(&fs::read(fleet.ini(folder)).unwrap(), bytes, "{folder}");
    }

    // The choice holds on the next run: applying only ever makes the winner newer.
    let again = fleet.run("apply");
    again.code(0);
    assert_eq!(again.of("jdoe.CORP"), pair("jdoe", "unchanged"));
    assert_eq!(again.of("jdoe"), pair("jdoe", "skipped"));
    assert_eq!(again.of("kim"), pair("kim", "unchanged"));
    assert_eq!(again.of("lee.CORP.000"), pair("lee", "skipped"));
}

#[test]
fn dotted_names_and_lower_case_suffixes_are_not_cut() {
    let fleet = Fleet::new(&["john.doe", "john", "jdoe"]);
    fleet.add("john.doe", HOUR);
    fleet.add("john", HOUR);
    fleet.add("jdoe", HOUR);
    // Not what Windows writes for a domain: a user of its own, who is not in the manifest.
    fleet.add("jdoe.corp", HOUR);

    let apply = fleet.run("apply");
    apply.code(0);
    assert_eq!(apply.of("john.doe"), pair("john.doe", "changed"));
    assert_eq!(apply.of("john"), pair("john", "changed"));
    assert_eq!(apply.of("jdoe"), pair("jdoe", "changed"));
    assert_eq!(apply.of("jdoe.corp"), pair("jdoe.corp", "skipped"));
    assert!(
        apply.error("jdoe.corp").contains("not in the manifest"),
        "{}",
        apply.error("jdoe.corp")
    );
    assert_eq!(fleet.office_username("john.doe").as_deref(), Some("2001"));
    assert_eq!(fleet.office_username("john").as_deref(), Some("2002"));
}

#[test]
fn a_manifest_user_named_like_the_whole_folder_wins_over_the_domain_reading() {
    // `ops.TEAM` reads as user `ops` of domain `TEAM`, unless the manifest has a user `ops.team`.
    let fleet = Fleet::new(&["ops", "ops.team"]);
    fleet.add("ops", HOUR);
    fleet.add("ops.TEAM", 48 * HOUR);
    fleet.add("ops.TEAM.V6", 48 * HOUR);

    let apply = fleet.run("apply");
    apply.code(0);
    assert_eq!(apply.of("ops"), pair("ops", "changed"));
    // The whole name and the name without the roaming version are `ops.team`'s.
    assert_eq!(apply.of("ops.TEAM.V6"), pair("ops.TEAM", "changed"));
    assert_eq!(apply.of("ops.TEAM"), pair("ops.TEAM", "skipped"));
    assert_eq!(fleet.office_username("ops").as_deref(), Some("2001"));
    assert_eq!(
        fleet.office_username("ops.TEAM.V6").as_deref(),
        Some("2002")
    );

    // Without that user, all three are `ops`'s: the V6 profile wins.
    let fleet = Fleet::new(&["ops"]);
    fleet.add("ops", HOUR);
    fleet.add("ops.TEAM", 48 * HOUR);
    fleet.add("ops.TEAM.V6", 48 * HOUR);
    let apply = fleet.run("apply");
    apply.code(0);
    assert_eq!(apply.of("ops.TEAM.V6"), pair("ops", "changed"));
    assert_eq!(apply.of("ops"), pair("ops", "skipped"));
    assert_eq!(apply.of("ops.TEAM"), pair("ops", "skipped"));
}
