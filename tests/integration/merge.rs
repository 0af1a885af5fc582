//! The merge and apply path for one profile, through the library on real temp folders:
//! account slots, passwords, accountId, setting policies, speed dials, and the safety rules.

use std::fs;

use std::cell::Cell;

use microsip_provision::apply::running::{MicrosipProcesses, RunningMicrosip};
use microsip_provision::apply::{self, ApplyOptions, ApplyOutcome, IfRunning, ProfileError};
use microsip_provision::ini::{CodePage, IniDocument};
use microsip_provision::manifest::Secret;
use microsip_provision::plan::{
    ChangeKind, DesiredAccount, DesiredProfile, DesiredSetting, DesiredShortcuts, SettingPolicy,
    ShortcutPolicy,
};
use microsip_provision::profile::state::{STATE_KEY, STATE_SECTION};
use microsip_provision::profile::Profile;

use crate::common::{corpus_dir, from_utf16le_bom, utf16le_bom};

fn account(id: &str, label: &str, user: &str, password: Option<&str>) -> DesiredAccount {
    DesiredAccount {
        id: id.to_string(),
        label: label.to_string(),
        keys: vec![
            ("server".into(), "pbx.example.com".into()),
            ("domain".into(), "pbx.example.com".into()),
            ("username".into(), user.into()),
            ("transport".into(), "tls".into()),
        ],
        password: password.map(|p| Secret::new(p.to_string())),
        password_missing: false,
        active: false,
    }
}

fn apply(profile: &Profile, desired: &DesiredProfile) -> ApplyOutcome {
    apply::apply_profile(profile, desired, &ApplyOptions::default(), &mut |_| {}).unwrap()
}

/// The INI's text without the tool's own `[microsip-provision]` section (the state, checked on
/// its own with [`state`]).
fn ini_text(profile: &Profile) -> String {
    let mut document = doc(profile);
    document.remove_section(STATE_SECTION);
    from_utf16le_bom(&document.to_bytes())
}

/// The state JSON the tool keeps in the INI, if any.
fn state(profile: &Profile) -> Option<String> {
    doc(profile).get(STATE_SECTION, STATE_KEY)
}

fn doc(profile: &Profile) -> IniDocument {
    IniDocument::parse(
        &fs::read(&profile.ini_path).unwrap(),
        CodePage::WINDOWS_1252,
    )
    .unwrap()
}

fn changed(outcome: &ApplyOutcome) -> bool {
    matches!(outcome, ApplyOutcome::Changed(_))
}

fn temp_profile() -> (tempfile::TempDir, Profile) {
    let dir = tempfile::tempdir().unwrap();
    let profile = Profile::in_dir(dir.path().join("MicroSIP"), "alice");
    fs::create_dir_all(&profile.dir).unwrap();
    (dir, profile)
}

#[test]
fn fresh_profile_gets_a_utf16_file_and_a_second_run_writes_nothing() {
    let (_dir, profile) = temp_profile();
    let mut office = account("office", "Office", "1001", Some("s3cret-1"));
    office.active = true;
    let desired = DesiredProfile {
        accounts: vec![office],
        settings: vec![DesiredSetting {
            key: "singleMode".into(),
            value: Some("0".into()),
            policy: SettingPolicy::Enforce,
        }],
        ..DesiredProfile::default()
    };
    assert!(changed(&apply(&profile, &desired)));
    assert_eq!(
        ini_text(&profile),
        "[Account1]\r\nlabel=Office\r\nserver=pbx.example.com\r\ndomain=pbx.example.com\r\n\
         username=1001\r\npassword=s3cret-1\r\ntransport=tls\r\n[Settings]\r\naccountId=1\r\nsingleMode=0\r\n"
    );
    let state = state(&profile).expect("the state is kept in the INI");
    assert!(state.contains("\"office\""), "{state}");
    assert!(!state.contains("s3cret-1"), "{state}");

    let bytes = fs::read(&profile.ini_path).unwrap();
    let mtime = fs::metadata(&profile.ini_path).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(30));
    assert!(!changed(&apply(&profile, &desired)));
    assert_eq!(
        fs::metadata(&profile.ini_path).unwrap().modified().unwrap(),
        mtime
    );
    assert_eq!(fs::read(&profile.ini_path).unwrap(), bytes);
    // Nothing else was created in the profile folder: no state file, and on Unix no lock file
    // (Windows' `LockFileEx` needs one, `apply::lock`).
    let mut names: Vec<String> = fs::read_dir(&profile.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let expected: &[&str] = if cfg!(windows) {
        &[apply::lock::LOCK_FILE, "microsip.ini"]
    } else {
        &["microsip.ini"]
    };
    assert_eq!(names, expected);
}

#[test]
fn user_changes_and_unmanaged_accounts_are_kept_byte_for_byte() {
    let (_dir, profile) = temp_profile();
    let original = fs::read(corpus_dir().join("microsip.ini")).unwrap();
    fs::write(&profile.ini_path, &original).unwrap();
    let before_text = from_utf16le_bom(&original);
    let desired = DesiredProfile {
        accounts: vec![account("support", "Support", "2001", Some("pw"))],
        ..DesiredProfile::default()
    };
    assert!(changed(&apply(&profile, &desired)));
    let after_text = ini_text(&profile);
    // The sample has [Account1]..[Account3] (the user's own): ours goes to the first gap,
    // [Account4], and the rest of the file is untouched.
    assert!(
        after_text.starts_with(&before_text),
        "existing bytes changed"
    );
    assert_eq!(
        &after_text[before_text.len()..],
        "[Account4]\r\nlabel=Support\r\nserver=pbx.example.com\r\ndomain=pbx.example.com\r\n\
         username=2001\r\npassword=pw\r\ntransport=tls\r\n"
    );
}

#[test]
fn password_is_written_once_then_only_when_rotated() {
    let (_dir, profile) = temp_profile();
    let desired = |pw: &str| DesiredProfile {
        accounts: vec![account("office", "Office", "1001", Some(pw))],
        ..DesiredProfile::default()
    };
    apply(&profile, &desired("first-secret"));
    // MicroSIP encrypts the plaintext in place on its first load (microsip-formats.md §1.8).
    let mut document = doc(&profile);
    document
        .set("Account1", "password", "3f9a0c1d2e3b4a5f69788796a5b4c3d2")
        .unwrap();
    fs::write(&profile.ini_path, document.to_bytes()).unwrap();
    let encrypted = fs::read(&profile.ini_path).unwrap();

    assert!(
        !changed(&apply(&profile, &desired("first-secret"))),
        "no churn"
    );
    assert_eq!(fs::read(&profile.ini_path).unwrap(), encrypted);

    let outcome = apply(&profile, &desired("rotated-secret"));
    let ApplyOutcome::Changed(plan) = outcome else {
        panic!("rotation must write")
    };
    assert_eq!(
        doc(&profile).get("Account1", "password").as_deref(),
        Some("rotated-secret")
    );
    let change = plan
        .changes
        .iter()
        .find(|c| c.key.as_deref() == Some("password"))
        .unwrap();
    assert!(change.secret && change.old.is_none() && change.new.is_none());
    assert_eq!(change.reason.as_deref(), Some("password rotated"));
    let diff = plan.diff();
    assert!(
        !diff.contains("rotated-secret") && !diff.contains("3f9a0c1d"),
        "{diff}"
    );
}

#[test]
fn a_label_renamed_by_the_user_does_not_create_a_duplicate() {
    let (_dir, profile) = temp_profile();
    let desired = DesiredProfile {
        accounts: vec![account("office", "Office", "1001", None)],
        ..DesiredProfile::default()
    };
    apply(&profile, &desired);
    let mut document = doc(&profile);
    document.set("Account1", "label", "My desk phone").unwrap();
    fs::write(&profile.ini_path, document.to_bytes()).unwrap();
    apply(&profile, &desired);
    let document = doc(&profile);
    assert_eq!(document.get("Account1", "label").as_deref(), Some("Office"));
    assert!(!document.has_section("Account2"));
}

#[test]
fn removing_an_account_from_the_middle_shifts_later_ones_whole() {
    let (_dir, profile) = temp_profile();
    let mut third = account("c", "Gamma", "3", None);
    third.active = true;
    let all = DesiredProfile {
        accounts: vec![
            account("a", "Alpha", "1", None),
            account("b", "Beta", "2", None),
            third,
        ],
        ..DesiredProfile::default()
    };
    apply(&profile, &all);
    // The user adds an unknown key to the last account: it must travel with it.
    let mut document = doc(&profile);
    document.set("Account3", "customKey", "kept").unwrap();
    fs::write(&profile.ini_path, document.to_bytes()).unwrap();
    assert_eq!(
        doc(&profile).get("Settings", "accountId").as_deref(),
        Some("3")
    );

    let mut third = account("c", "Gamma", "3", None);
    third.active = true;
    let without_b = DesiredProfile {
        accounts: vec![account("a", "Alpha", "1", None), third],
        removed_accounts: vec!["b".into()],
        ..DesiredProfile::default()
    };
    let ApplyOutcome::Changed(plan) = apply(&profile, &without_b) else {
        panic!("removal must write")
    };
    assert!(plan
        .changes
        .iter()
        .any(|c| c.kind == ChangeKind::SectionRemoved));
    let document = doc(&profile);
    assert_eq!(document.get("Account2", "label").as_deref(), Some("Gamma"));
    assert_eq!(
        document.get("Account2", "customKey").as_deref(),
        Some("kept")
    );
    assert!(!document.has_section("Account3"));
    assert_eq!(document.get("Settings", "accountId").as_deref(), Some("2"));
    assert!(
        !changed(&apply(&profile, &without_b)),
        "idempotent after removal"
    );
}

#[test]
fn setting_policies() {
    let (_dir, profile) = temp_profile();
    fs::write(
        &profile.ini_path,
        utf16le_bom("[Settings]\r\naccountId=0\r\nenableLocalAccount=1\r\nautoAnswer=all\r\nenableLog=1\r\nVAD=1\r\n"),
    )
    .unwrap();
    let setting = |key: &str, value: Option<&str>, policy| DesiredSetting {
        key: key.into(),
        value: value.map(str::to_string),
        policy,
    };
    let desired = DesiredProfile {
        settings: vec![
            setting("VAD", Some("0"), SettingPolicy::Enforce),
            setting("autoAnswer", Some("button"), SettingPolicy::Default),
            setting("denyIncoming", Some("user"), SettingPolicy::Default),
            setting("enableLog", None, SettingPolicy::Remove),
        ],
        ..DesiredProfile::default()
    };
    apply(&profile, &desired);
    assert_eq!(
        ini_text(&profile),
        "[Settings]\r\naccountId=0\r\nenableLocalAccount=1\r\nautoAnswer=all\r\nVAD=0\r\ndenyIncoming=user\r\n"
    );
}

#[test]
fn account_id_is_always_written_and_new_accounts_fill_the_first_gap() {
    let (_dir, profile) = temp_profile();
    fs::write(
        &profile.ini_path,
        utf16le_bom("[Account1]\r\nlabel=Mine\r\ndomain=a.example\r\n[Account3]\r\nlabel=Lost\r\ndomain=b.example\r\n"),
    )
    .unwrap();
    let desired = DesiredProfile {
        accounts: vec![account("office", "Office", "1001", None)],
        ..DesiredProfile::default()
    };
    apply(&profile, &desired);
    let document = doc(&profile);
    assert_eq!(document.get("Account2", "label").as_deref(), Some("Office"));
    assert_eq!(document.get("Account1", "label").as_deref(), Some("Mine"));
    assert_eq!(document.get("Settings", "accountId").as_deref(), Some("2"));
}

#[test]
fn shortcuts_enforced_or_only_when_empty() {
    let (_dir, profile) = temp_profile();
    fs::write(
        &profile.ini_path,
        utf16le_bom("[Shortcuts]\r\n0=Mine;555;call;;0;\r\n1=Other;556;call;;0;\r\n2=Third;557;call;;0;\r\n"),
    )
    .unwrap();
    let shortcuts = |policy| DesiredProfile {
        shortcuts: Some(DesiredShortcuts {
            policy,
            values: vec!["Reception;100;call;;0;".into()],
        }),
        ..DesiredProfile::default()
    };
    apply(&profile, &shortcuts(ShortcutPolicy::IfEmpty));
    assert_eq!(
        doc(&profile).get("Shortcuts", "0").as_deref(),
        Some("Mine;555;call;;0;")
    );
    apply(&profile, &shortcuts(ShortcutPolicy::Enforce));
    let document = doc(&profile);
    assert_eq!(
        document.get("Shortcuts", "0").as_deref(),
        Some("Reception;100;call;;0;")
    );
    assert_eq!(document.get("Shortcuts", "1"), None);
    assert_eq!(document.get("Shortcuts", "2"), None);
}

#[test]
fn a_broken_profile_file_is_reported_and_left_untouched() {
    let (_dir, profile) = temp_profile();
    let mut bytes = utf16le_bom("[Settings]\r\naccountId=1\r\n");
    bytes.push(0x41);
    fs::write(&profile.ini_path, &bytes).unwrap();
    let desired = DesiredProfile {
        accounts: vec![account("office", "Office", "1001", None)],
        ..DesiredProfile::default()
    };
    let error = apply::apply_profile(&profile, &desired, &ApplyOptions::default(), &mut |_| {})
        .unwrap_err();
    assert!(matches!(error, ProfileError::Decode { .. }), "{error}");
    assert!(error.to_string().contains("microsip.ini:3:1"), "{error}");
    assert_eq!(fs::read(&profile.ini_path).unwrap(), bytes);
}

#[test]
fn backups_are_kept_and_bounded() {
    let (_dir, profile) = temp_profile();
    fs::write(
        &profile.ini_path,
        utf16le_bom("[Settings]\r\naccountId=1\r\n"),
    )
    .unwrap();
    for round in 0..(apply::BACKUPS_KEPT + 3) {
        let desired = DesiredProfile {
            settings: vec![DesiredSetting {
                key: "userAgent".into(),
                value: Some(format!("round {round}")),
                policy: SettingPolicy::Enforce,
            }],
            ..DesiredProfile::default()
        };
        assert!(changed(&apply(&profile, &desired)));
    }
    let backups = fs::read_dir(&profile.dir)
        .unwrap()
        .filter(|e| {
            let name = e
                .as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .into_owned();
            name.starts_with("microsip.ini.") && name.ends_with(".bak")
        })
        .count();
    assert_eq!(backups, apply::BACKUPS_KEPT);
}

#[cfg(target_os = "linux")]
#[test]
fn the_real_process_table_finds_a_running_microsip() {
    // A real process named like MicroSIP (a copy of `sleep`): what Wine's MicroSIP looks like.
    // Named uniquely (and within /proc's 15-character comm) so parallel tests are not affected.
    let dir = tempfile::tempdir().unwrap();
    let exe = format!("msip{}.exe", std::process::id() % 100_000);
    let fake = dir.path().join(&exe);
    fs::copy("/bin/sleep", &fake).unwrap();
    let mut child = std::process::Command::new(&fake).arg("30").spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(100));
    use microsip_provision::apply::running::SystemProcesses;
    let found = SystemProcesses::new(exe.clone()).find("alice");
    child.kill().unwrap();
    child.wait().unwrap();
    let found = found.expect("the fake MicroSIP is found");
    assert_eq!(found.pid, child.id());
    assert_eq!(found.exe.as_deref(), Some(fake.as_path()));
    assert_eq!(
        SystemProcesses::new(exe).find("alice"),
        None,
        "gone after kill"
    );
}

/// A MicroSIP that runs until asked to exit (or for a number of polls), recording what it was told.
struct FakeMicrosip {
    polls_left: Cell<u32>,
    exit_requested: Cell<bool>,
    exits_when_asked: bool,
    restarted: Cell<bool>,
}

impl FakeMicrosip {
    fn new(polls: u32, exits_when_asked: bool) -> FakeMicrosip {
        FakeMicrosip {
            polls_left: Cell::new(polls),
            exit_requested: Cell::new(false),
            exits_when_asked,
            restarted: Cell::new(false),
        }
    }
}

impl MicrosipProcesses for FakeMicrosip {
    fn find(&self, _user: &str) -> Option<RunningMicrosip> {
        if self.exit_requested.get() && self.exits_when_asked {
            return None;
        }
        let left = self.polls_left.get();
        (left > 0).then(|| {
            self.polls_left.set(left - 1);
            RunningMicrosip {
                pid: 4242,
                exe: Some("C:/Program Files/MicroSIP/microsip.exe".into()),
            }
        })
    }
    fn request_exit(&self, _: &RunningMicrosip) -> std::io::Result<()> {
        self.exit_requested.set(true);
        Ok(())
    }
    fn start_minimized(&self, _: &RunningMicrosip) -> std::io::Result<()> {
        self.restarted.set(true);
        Ok(())
    }
}

/// A fleet run shares one look at the process table: taken by the first profile that needs it
/// (here no MicroSIP runs, so the profile is written as with `--if-running ignore`), kept for
/// the others, and never taken by a run whose options ignore running copies.
#[test]
fn a_fleet_run_looks_at_the_process_table_once_when_a_profile_needs_it() {
    let desired = DesiredProfile {
        accounts: vec![account("office", "Office", "1001", None)],
        ..DesiredProfile::default()
    };
    let shared = std::sync::Arc::new(std::sync::OnceLock::new());
    let options = ApplyOptions {
        // A name no process has: the look finds nothing running.
        microsip_exe: Some("no-such-microsip-7f3a.exe".into()),
        any_running: Some(shared.clone()),
        ..ApplyOptions::default()
    };
    assert_eq!(shared.get(), None, "nothing looked yet");
    let (_dir, profile) = temp_profile();
    let outcome = apply::apply_profile(&profile, &desired, &options, &mut |_| {}).unwrap();
    assert!(matches!(outcome, ApplyOutcome::Changed(_)), "{outcome:?}");
    assert_eq!(shared.get(), Some(&false), "looked once: none running");

    let ignoring = std::sync::Arc::new(std::sync::OnceLock::new());
    let options = ApplyOptions {
        if_running: IfRunning::Ignore,
        any_running: Some(ignoring.clone()),
        ..ApplyOptions::default()
    };
    let (_dir, profile) = temp_profile();
    apply::apply_profile(&profile, &desired, &options, &mut |_| {}).unwrap();
    assert_eq!(ignoring.get(), None, "--if-running ignore never looks");
}

#[test]
fn a_running_microsip_is_skipped_waited_for_stopped_or_ignored() {
    let desired = DesiredProfile {
        accounts: vec![account("office", "Office", "1001", None)],
        ..DesiredProfile::default()
    };
    let run = |if_running, fake: &FakeMicrosip| {
        let (dir, profile) = temp_profile();
        let options = ApplyOptions {
            if_running,
            running_wait: Some(std::time::Duration::from_millis(300)),
            ..ApplyOptions::default()
        };
        let result = apply::apply_profile_with(&profile, &desired, &options, fake, &mut |_| {});
        let written = profile.ini_path.exists();
        drop(dir);
        (result, written)
    };

    // Skip (the default): nothing written, reported.
    let fake = FakeMicrosip::new(u32::MAX, false);
    let (result, written) = run(IfRunning::default(), &fake);
    assert!(matches!(result, Ok(ApplyOutcome::Skipped { .. })) && !written);

    // Wait: MicroSIP exits after a few polls, then the profile is applied.
    let fake = FakeMicrosip::new(3, false);
    let (result, written) = run(IfRunning::Wait, &fake);
    assert!(matches!(result, Ok(ApplyOutcome::Changed(_))) && written);

    // Wait: MicroSIP never exits: a clear failure, nothing written.
    let fake = FakeMicrosip::new(u32::MAX, false);
    let (result, written) = run(IfRunning::Wait, &fake);
    assert!(matches!(result, Err(ProfileError::MicrosipRunning { pid: 4242, .. })) && !written);

    // Stop: asked to exit, applied, started again minimized.
    let fake = FakeMicrosip::new(u32::MAX, true);
    let (result, written) = run(IfRunning::Stop, &fake);
    let Ok(ApplyOutcome::Changed(plan)) = result else {
        panic!("stop must apply")
    };
    assert!(written && fake.exit_requested.get() && fake.restarted.get());
    assert!(plan
        .warnings
        .iter()
        .any(|w| w.message.contains("started again")));

    // Ignore: written while it runs.
    let fake = FakeMicrosip::new(u32::MAX, false);
    let (result, written) = run(IfRunning::Ignore, &fake);
    assert!(matches!(result, Ok(ApplyOutcome::Changed(_))) && written);

    // Stop, with nothing pending: MicroSIP is left alone (no restart at every logon).
    let (_dir, profile) = temp_profile();
    apply(&profile, &desired);
    let fake = FakeMicrosip::new(u32::MAX, true);
    let options = ApplyOptions {
        if_running: IfRunning::Stop,
        ..ApplyOptions::default()
    };
    let result = apply::apply_profile_with(&profile, &desired, &options, &fake, &mut |_| {});
    assert!(matches!(result, Ok(ApplyOutcome::Unchanged(_))));
    assert!(!fake.exit_requested.get() && !fake.restarted.get());
}

/// Earlier versions kept the state in `microsip-provision\state.json`. Its records still decide
/// (the slot of an account the user renamed, a password that must not be rewritten), then the
/// state moves into the INI and the old file goes.
#[test]
fn a_legacy_state_file_is_honoured_then_moved_into_the_ini() {
    use microsip_provision::profile::state::{ManagedAccount, ProfileState};
    let (_dir, profile) = temp_profile();
    fs::write(
        &profile.ini_path,
        utf16le_bom(
            "[Account1]\r\nlabel=Mine\r\nserver=home.example\r\ndomain=home.example\r\n\
             username=9999\r\npassword=own\r\n\
             [Account2]\r\nlabel=Renamed by the user\r\nserver=pbx.example.com\r\n\
             domain=pbx.example.com\r\nusername=1001\r\npassword=ENCRYPTED-BY-MICROSIP\r\n\
             transport=tls\r\n[Settings]\r\naccountId=2\r\n",
        ),
    )
    .unwrap();
    let mut legacy = ProfileState::new();
    let hash = legacy.password_hash("office", "pw");
    legacy.accounts.insert(
        "office".into(),
        ManagedAccount {
            slot: 2,
            label: "Office".into(),
            username: "1001".into(),
            domain: "pbx.example.com".into(),
            password_hash: Some(hash),
        },
    );
    let legacy_path = ProfileState::legacy_path(&profile);
    fs::create_dir_all(legacy_path.parent().unwrap()).unwrap();
    fs::write(&legacy_path, serde_json::to_vec_pretty(&legacy).unwrap()).unwrap();

    let mut office = account("office", "Office", "1001", Some("pw"));
    office.active = true;
    let desired = DesiredProfile {
        accounts: vec![office],
        complete: true,
        ..DesiredProfile::default()
    };
    assert!(changed(&apply(&profile, &desired)));
    let document = doc(&profile);
    // The slot from the legacy state: no second copy of the account.
    assert_eq!(document.get("Account2", "label").as_deref(), Some("Office"));
    assert!(!document.has_section("Account3"));
    // The password was not rewritten: its hash matched.
    assert_eq!(
        document.get("Account2", "password").as_deref(),
        Some("ENCRYPTED-BY-MICROSIP")
    );
    // The state is in the INI now, with the same salt, and the old file is gone.
    let moved: ProfileState = serde_json::from_str(&state(&profile).unwrap()).unwrap();
    assert_eq!(moved.salt, legacy.salt);
    assert_eq!(moved.accounts["office"].slot, 2);
    assert!(!legacy_path.exists());
    // And the next run is a no-op.
    assert!(!changed(&apply(&profile, &desired)));
}
