use std::collections::{HashMap, HashSet};
use std::io;

use super::desired::{command_starts, protocol_values};
use super::discover::validate_exe;
use super::*;

const EXE: &str = r"C:\Program Files\MicroSIP\microsip.exe";

/// Environment variables and existing files, for discovery.
#[derive(Default)]
struct FakeEnv {
    vars: HashMap<&'static str, &'static str>,
    files: HashSet<String>,
}

impl FakeEnv {
    fn var(mut self, name: &'static str, value: &'static str) -> Self {
        self.vars.insert(name, value);
        self
    }
    fn file(mut self, path: &str) -> Self {
        self.files.insert(path.to_string());
        self
    }
    /// What Wine and a default Windows install set.
    fn windows() -> Self {
        FakeEnv::default()
            .var("ProgramFiles", r"C:\Program Files")
            .var("ProgramFiles(x86)", r"C:\Program Files (x86)")
            .var("LOCALAPPDATA", r"C:\Users\jan\AppData\Local")
    }
}

impl DiscoveryEnv for FakeEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).map(|v| v.to_string())
    }
    fn is_file(&self, path: &str) -> bool {
        self.files.contains(path)
    }
}

fn sz(text: &str) -> RegData {
    RegData::Sz(text.to_string())
}

fn hkcu(key: &str, name: Option<&str>, data: RegData) -> RegistryValue {
    RegistryValue::new(Hive::CurrentUser, key, name, data)
}

fn all_protocols() -> Vec<UrlProtocol> {
    UrlProtocol::ALL.to_vec()
}

fn options(autostart: Option<bool>, protocols: Option<Vec<UrlProtocol>>) -> RegistryOptions {
    RegistryOptions {
        autostart,
        url_protocols: protocols,
        exe: Some(EXE.to_string()),
        sandbox: None,
    }
}

fn resolve(options: &RegistryOptions, registry: &MemoryRegistry) -> DesiredRegistry {
    DesiredRegistry::resolve(options, registry, &FakeEnv::windows()).expect("resolves")
}

// ---- the desired state -------------------------------------------------------------------------

#[test]
fn autostart_and_protocols_give_the_documented_values() {
    let desired = DesiredRegistry::for_exe(EXE, Some(true), Some(&[UrlProtocol::Sip]), None);
    let values: Vec<RegistryValue> = desired.values().into_iter().cloned().collect();
    assert_eq!(
        values,
        vec![
            hkcu(
                r"Software\Microsoft\Windows\CurrentVersion\Run",
                Some("MicroSIP"),
                sz(r#""C:\Program Files\MicroSIP\microsip.exe" /minimized"#)
            ),
            hkcu(r"Software\Classes\sip", None, sz("URL:sip Protocol")),
            hkcu(r"Software\Classes\sip", Some("URL Protocol"), sz("")),
            hkcu(
                r"Software\Classes\sip\DefaultIcon",
                None,
                sz(r"C:\Program Files\MicroSIP\microsip.exe,0")
            ),
            hkcu(
                r"Software\Classes\sip\shell\open\command",
                None,
                sz(r#""C:\Program Files\MicroSIP\microsip.exe" "%1""#)
            ),
        ]
    );
    // tel and callto are not listed: MicroSIP's handler for them (if any) goes.
    let removals: Vec<&DesiredEntry> = desired
        .entries
        .iter()
        .filter(|e| matches!(e, DesiredEntry::NoMicrosipHandler { .. }))
        .collect();
    assert_eq!(removals.len(), 2);
}

#[test]
fn protocols_are_planned_once_each_in_a_fixed_order() {
    let list = vec![UrlProtocol::Callto, UrlProtocol::Sip, UrlProtocol::Callto];
    let desired = resolve(&options(None, Some(list)), &MemoryRegistry::new());
    let keys: Vec<&str> = desired
        .values()
        .iter()
        .filter(|v| v.name.is_none() && !v.key.contains("\\shell") && !v.key.ends_with("Icon"))
        .map(|v| v.key.as_str())
        .collect();
    assert_eq!(
        keys,
        vec![r"Software\Classes\sip", r"Software\Classes\callto"]
    );
}

#[test]
fn none_leaves_everything_alone() {
    let desired = resolve(&options(None, None), &MemoryRegistry::new());
    assert!(desired.entries.is_empty());
}

#[test]
fn the_sandbox_moves_every_key_below_software() {
    let mut opts = options(Some(true), Some(vec![UrlProtocol::Tel]));
    opts.sandbox = Some("microsip-provision-test-1".into());
    let desired = resolve(&opts, &MemoryRegistry::new());
    for value in desired.values() {
        assert!(
            value
                .key
                .starts_with(r"Software\microsip-provision-test-1\Software\"),
            "{}",
            value.key
        );
    }
    assert_eq!(
        desired.values()[0].key,
        r"Software\microsip-provision-test-1\Software\Microsoft\Windows\CurrentVersion\Run"
    );
    for bad in ["", r"\x", r"x\", r"a\\b"] {
        opts.sandbox = Some(bad.into());
        let err = DesiredRegistry::resolve(&opts, &MemoryRegistry::new(), &FakeEnv::windows())
            .unwrap_err();
        assert!(
            matches!(err, RegistryError::InvalidKey { .. }),
            "{bad:?}: {err}"
        );
    }
}

#[test]
fn url_protocol_names_parse_and_deserialize() {
    assert_eq!("sip".parse::<UrlProtocol>(), Ok(UrlProtocol::Sip));
    assert_eq!("TEL:".parse::<UrlProtocol>(), Ok(UrlProtocol::Tel));
    assert_eq!(" callto ".parse::<UrlProtocol>(), Ok(UrlProtocol::Callto));
    assert!("http"
        .parse::<UrlProtocol>()
        .unwrap_err()
        .contains("expected sip, tel or callto"));
    let parsed: Vec<UrlProtocol> = serde_json::from_str(r#"["sip","callto"]"#).unwrap();
    assert_eq!(parsed, vec![UrlProtocol::Sip, UrlProtocol::Callto]);
    assert!(serde_json::from_str::<UrlProtocol>(r#""Sip""#).is_err());
}

#[test]
fn command_owner_is_the_program_file_name() {
    assert!(command_starts(
        r#""C:\Program Files\MicroSIP\microsip.exe" "%1""#,
        "microsip.exe"
    ));
    assert!(command_starts(
        r#""D:\old\MICROSIP.EXE" "%1""#,
        "microsip.exe"
    ));
    assert!(command_starts(
        r"C:\MicroSIP\microsip.exe %1",
        "microsip.exe"
    ));
    assert!(!command_starts(
        r#""C:\Skype\skype.exe" "%1""#,
        "microsip.exe"
    ));
    assert!(!command_starts(
        r#""C:\x\notmicrosip.exe" "%1""#,
        "microsip.exe"
    ));
    assert!(!command_starts("", "microsip.exe"));
}

// ---- plan and apply ----------------------------------------------------------------------------

#[test]
fn first_run_adds_everything_second_run_plans_and_writes_nothing() {
    let registry = MemoryRegistry::new();
    let desired = resolve(&options(Some(true), Some(all_protocols())), &registry);
    let changes = plan_registry(&desired, &registry).unwrap();
    assert_eq!(changes.len(), 1 + 3 * 4);
    assert!(changes.iter().all(|c| c.kind == RegistryChangeKind::Added));
    assert_eq!(registry.writes(), 0, "planning writes nothing");

    apply_registry(&changes, &registry).unwrap();
    assert_eq!(registry.writes(), 13);
    assert_eq!(registry.values().len(), 13);

    let again = plan_registry(&desired, &registry).unwrap();
    assert!(again.is_empty(), "{again:#?}");
    apply_registry(&again, &registry).unwrap();
    // Applying the old plan again writes nothing either: every value already holds its data.
    apply_registry(&changes, &registry).unwrap();
    assert_eq!(registry.writes(), 13);
}

#[test]
fn a_changed_value_is_updated_with_old_and_new_shown() {
    let run = r"Software\Microsoft\Windows\CurrentVersion\Run";
    let registry = MemoryRegistry::with([hkcu(
        run,
        Some("microsip"), // another spelling: names are case-insensitive
        sz(r#""D:\Portable\microsip.exe" /minimized"#),
    )]);
    let desired = resolve(&options(Some(true), None), &registry);
    let changes = plan_registry(&desired, &registry).unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].kind, RegistryChangeKind::Updated);
    assert_eq!(
        changes[0].describe(),
        r#"[HKEY_CURRENT_USER\Software\Microsoft\Windows\CurrentVersion\Run] "MicroSIP": REG_SZ: "D:\Portable\microsip.exe" /minimized -> REG_SZ: "C:\Program Files\MicroSIP\microsip.exe" /minimized"#
    );
    apply_registry(&changes, &registry).unwrap();
    assert!(plan_registry(&desired, &registry).unwrap().is_empty());
}

#[test]
fn a_value_of_the_wrong_type_is_updated() {
    let run = r"Software\Microsoft\Windows\CurrentVersion\Run";
    let expand = RegData::Other {
        kind: REG_EXPAND_SZ,
        bytes: utf16_bytes_with_nul(r#""%ProgramFiles%\MicroSIP\microsip.exe" /minimized"#),
    };
    let registry = MemoryRegistry::with([hkcu(run, Some("MicroSIP"), expand)]);
    let desired = resolve(&options(Some(true), None), &registry);
    let changes = plan_registry(&desired, &registry).unwrap();
    assert_eq!(changes[0].kind, RegistryChangeKind::Updated);
    assert!(changes[0]
        .describe()
        .contains(r#"REG_EXPAND_SZ: "%ProgramFiles%\MicroSIP\microsip.exe" /minimized -> REG_SZ"#));
}

#[test]
fn autostart_false_removes_the_run_value_and_none_keeps_it() {
    let run = r"Software\Microsoft\Windows\CurrentVersion\Run";
    let other = hkcu(run, Some("OneDrive"), sz(r"C:\OneDrive.exe /background"));
    let ours = hkcu(
        run,
        Some("MicroSIP"),
        sz(r#""C:\x\microsip.exe" /minimized"#),
    );
    let registry = MemoryRegistry::with([other.clone(), ours]);

    let keep = resolve(&options(None, None), &registry);
    assert!(plan_registry(&keep, &registry).unwrap().is_empty());

    let remove = resolve(&options(Some(false), None), &registry);
    assert!(remove.exe.is_some(), "a given exe is kept even when unused");
    let changes = plan_registry(&remove, &registry).unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].kind, RegistryChangeKind::Removed);
    assert_eq!(
        changes[0].describe(),
        r#"[HKEY_CURRENT_USER\Software\Microsoft\Windows\CurrentVersion\Run] "MicroSIP" removed (was REG_SZ: "C:\x\microsip.exe" /minimized)"#
    );
    apply_registry(&changes, &registry).unwrap();
    assert_eq!(registry.values(), vec![other]);
    assert!(plan_registry(&remove, &registry).unwrap().is_empty());
}

#[test]
fn only_microsips_own_handlers_are_unregistered() {
    let registry = MemoryRegistry::new();
    // MicroSIP handled all three (from an older install folder) ...
    for protocol in UrlProtocol::ALL {
        let key = format!(r"Software\Classes\{protocol}");
        for value in protocol_values(protocol, &key, r"D:\Old\MicroSIP\microsip.exe") {
            registry.set(&value).unwrap();
        }
    }
    // ... then another program took tel: over, and an unrelated key shares a prefix.
    registry
        .set(&hkcu(
            r"Software\Classes\tel\shell\open\command",
            None,
            sz(r#""C:\Phone\phone.exe" "%1""#),
        ))
        .unwrap();
    let unrelated = hkcu(r"Software\Classes\sipx", None, sz("URL:sipx Protocol"));
    registry.set(&unrelated).unwrap();

    let desired = resolve(&options(None, Some(vec![])), &registry);
    assert!(desired.exe.is_some());
    let changes = plan_registry(&desired, &registry).unwrap();
    let removed: Vec<&str> = changes.iter().map(|c| c.key.as_str()).collect();
    assert_eq!(
        removed,
        vec![r"Software\Classes\sip", r"Software\Classes\callto"]
    );
    assert!(changes
        .iter()
        .all(|c| c.kind == RegistryChangeKind::KeyRemoved));
    assert_eq!(
        changes[0].describe(),
        r#"[HKEY_CURRENT_USER\Software\Classes\sip] removed with all its values and subkeys (open command was REG_SZ: "D:\Old\MicroSIP\microsip.exe" "%1") (sip: links open microsip.exe, and the manifest no longer lists sip)"#
    );

    apply_registry(&changes, &registry).unwrap();
    let left: Vec<String> = registry.values().into_iter().map(|v| v.key).collect();
    assert!(left
        .iter()
        .all(|k| k.starts_with(r"Software\Classes\tel") || k.ends_with("sipx")));
    assert!(left.contains(&r"Software\Classes\sipx".to_string()));
    assert!(plan_registry(&desired, &registry).unwrap().is_empty());
}

#[test]
fn a_handler_taken_over_after_the_plan_is_not_deleted() {
    let registry = MemoryRegistry::new();
    for value in protocol_values(UrlProtocol::Sip, r"Software\Classes\sip", EXE) {
        registry.set(&value).unwrap();
    }
    let desired = resolve(&options(None, Some(vec![])), &registry);
    let changes = plan_registry(&desired, &registry).unwrap();
    assert_eq!(changes.len(), 1);
    let other = hkcu(
        r"Software\Classes\sip\shell\open\command",
        None,
        sz(r#""C:\Other\softphone.exe" "%1""#),
    );
    registry.set(&other).unwrap();
    apply_registry(&changes, &registry).unwrap();
    assert!(registry.values().contains(&other));
}

#[test]
fn an_unrelated_handler_is_replaced_when_the_scheme_is_listed() {
    let registry = MemoryRegistry::with([hkcu(
        r"Software\Classes\tel\shell\open\command",
        None,
        sz(r#""C:\Phone\phone.exe" "%1""#),
    )]);
    let desired = resolve(&options(None, Some(vec![UrlProtocol::Tel])), &registry);
    let changes = plan_registry(&desired, &registry).unwrap();
    let kinds: Vec<RegistryChangeKind> = changes.iter().map(|c| c.kind).collect();
    use RegistryChangeKind::*;
    assert_eq!(kinds, vec![Added, Added, Added, Updated]);
}

#[test]
fn read_and_write_errors_name_the_key_and_say_what_to_do() {
    let run = r"Software\Microsoft\Windows\CurrentVersion\Run";
    let registry = MemoryRegistry::new();
    registry.fail_under(
        Hive::CurrentUser,
        run,
        false,
        io::ErrorKind::PermissionDenied,
    );
    let desired = resolve(&options(Some(true), None), &registry);
    let changes = plan_registry(&desired, &registry).unwrap();
    let err = apply_registry(&changes, &registry).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"cannot write HKEY_CURRENT_USER\Software\Microsoft\Windows\CurrentVersion\Run, value "MicroSIP": access is denied; HKEY_CURRENT_USER belongs to the logged-on user: run the tool as that user (not as SYSTEM or another account), and check that no Group Policy or security software locks the key"#
    );

    let unreadable = MemoryRegistry::new();
    unreadable.fail_under(
        Hive::CurrentUser,
        r"Software\Classes",
        true,
        io::ErrorKind::Other,
    );
    let desired = resolve(&options(None, Some(vec![UrlProtocol::Sip])), &unreadable);
    let err = plan_registry(&desired, &unreadable).unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(r"cannot read HKEY_CURRENT_USER\Software\Classes\sip, value (Default): "),
        "{text}"
    );
    assert!(
        text.ends_with("check the key with regedit and retry"),
        "{text}"
    );
}

#[test]
fn a_nul_in_a_string_is_refused_not_truncated() {
    let registry = MemoryRegistry::new();
    let err = registry
        .set(&hkcu(r"Software\x", None, sz("a\0b")))
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert!(registry.delete_key(Hive::CurrentUser, "").is_err());
}

#[test]
fn changes_serialize_for_the_json_report() {
    let change = RegistryChange {
        hive: Hive::CurrentUser,
        key: r"Software\Classes\sip".into(),
        name: Some("URL Protocol".into()),
        kind: RegistryChangeKind::Updated,
        old: Some(RegData::Dword(10)),
        new: Some(sz("")),
        reason: None,
    };
    assert_eq!(
        serde_json::to_string(&change).unwrap(),
        r#"{"hive":"HKEY_CURRENT_USER","key":"Software\\Classes\\sip","name":"URL Protocol","kind":"updated","old":{"type":"REG_DWORD","data":10},"new":{"type":"REG_SZ","data":""}}"#
    );
    let binary = RegData::Other {
        kind: REG_BINARY,
        bytes: vec![1, 0xff],
    };
    assert_eq!(
        serde_json::to_string(&binary).unwrap(),
        r#"{"type":"REG_BINARY","data":"01,ff"}"#
    );
}

// ---- stored bytes ------------------------------------------------------------------------------

#[test]
fn stored_bytes_decode_the_way_readers_see_them() {
    assert_eq!(sz("ab").to_bytes(), vec![b'a', 0, b'b', 0, 0, 0]);
    assert_eq!(RegData::Dword(10).to_bytes(), vec![10, 0, 0, 0]);
    assert_eq!(
        RegData::from_bytes(REG_SZ, &[b'a', 0, b'b', 0, 0, 0]),
        sz("ab")
    );
    // No terminating NUL, an odd trailing byte, an embedded NUL: readers stop at the NUL.
    assert_eq!(RegData::from_bytes(REG_SZ, &[b'a', 0, b'b', 0]), sz("ab"));
    assert_eq!(RegData::from_bytes(REG_SZ, &[b'a', 0, b'b']), sz("a"));
    assert_eq!(
        RegData::from_bytes(REG_SZ, &[b'a', 0, 0, 0, b'b', 0]),
        sz("a")
    );
    assert_eq!(RegData::from_bytes(REG_SZ, &[]), sz(""));
    // An unpaired surrogate is not text: kept raw, so it plans as an update.
    assert!(matches!(
        RegData::from_bytes(REG_SZ, &[0x00, 0xd8]),
        RegData::Other { kind: REG_SZ, .. }
    ));
    assert_eq!(
        RegData::from_bytes(REG_DWORD, &[1, 0, 0, 0]),
        RegData::Dword(1)
    );
    assert!(matches!(
        RegData::from_bytes(REG_DWORD, &[1, 0]),
        RegData::Other {
            kind: REG_DWORD,
            ..
        }
    ));
    assert_eq!(RegData::Dword(10).describe(), "REG_DWORD: 10 (0x0000000a)");
    assert_eq!(sz("").describe(), "REG_SZ: (empty string)");
}

// ---- discovery ---------------------------------------------------------------------------------

fn discover(registry: &MemoryRegistry, env: &FakeEnv) -> Result<DiscoveredExe, RegistryError> {
    discover_exe(registry, env, None)
}

fn install_key(hive: Hive, key: &str, folder: &str) -> RegistryValue {
    RegistryValue::new(hive, key, None, sz(folder))
}

#[test]
fn discovery_prefers_the_hkcu_install_folder() {
    let registry = MemoryRegistry::with([
        install_key(
            Hive::CurrentUser,
            r"Software\MicroSIP",
            r"C:\Users\jan\AppData\Local\MicroSIP",
        ),
        install_key(
            Hive::LocalMachine,
            r"Software\MicroSIP",
            r"C:\Program Files\MicroSIP",
        ),
    ]);
    let env = FakeEnv::windows()
        .file(r"C:\Users\jan\AppData\Local\MicroSIP\microsip.exe")
        .file(r"C:\Program Files\MicroSIP\microsip.exe");
    let found = discover(&registry, &env).unwrap();
    assert_eq!(
        found.path,
        r"C:\Users\jan\AppData\Local\MicroSIP\microsip.exe"
    );
    assert_eq!(
        found.source,
        ExeSource::InstallKey {
            key: r"HKEY_CURRENT_USER\Software\MicroSIP".into()
        }
    );
}

#[test]
fn discovery_skips_an_install_folder_without_the_exe() {
    let registry = MemoryRegistry::with([
        install_key(
            Hive::CurrentUser,
            r"Software\MicroSIP",
            r"C:\Gone\MicroSIP\",
        ),
        install_key(Hive::LocalMachine, r"Software\MicroSIP", ""),
        install_key(
            Hive::LocalMachine,
            r"Software\WOW6432Node\MicroSIP",
            r"C:\Program Files (x86)\MicroSIP\",
        ),
    ]);
    let env = FakeEnv::windows().file(r"C:\Program Files (x86)\MicroSIP\microsip.exe");
    let found = discover(&registry, &env).unwrap();
    assert_eq!(found.path, r"C:\Program Files (x86)\MicroSIP\microsip.exe");
    assert_eq!(
        found.source,
        ExeSource::InstallKey {
            key: r"HKEY_LOCAL_MACHINE\Software\WOW6432Node\MicroSIP".into()
        }
    );
}

#[test]
fn discovery_falls_back_to_the_usual_folders_in_order() {
    let registry = MemoryRegistry::new();
    let x86 = r"C:\Program Files (x86)\MicroSIP\microsip.exe";
    let local = r"C:\Users\jan\AppData\Local\MicroSIP\microsip.exe";
    let programs = r"C:\Users\jan\AppData\Local\Programs\MicroSIP\microsip.exe";

    let env = FakeEnv::windows().file(programs).file(local).file(x86);
    assert_eq!(discover(&registry, &env).unwrap().path, x86);
    let env = FakeEnv::windows().file(programs).file(local);
    assert_eq!(discover(&registry, &env).unwrap().path, local);
    let env = FakeEnv::windows().file(programs);
    let found = discover(&registry, &env).unwrap();
    assert_eq!(found.path, programs);
    assert_eq!(
        found.source,
        ExeSource::KnownFolder {
            variable: "LOCALAPPDATA".into()
        }
    );
    let env = FakeEnv::windows().file(EXE).file(x86);
    assert_eq!(discover(&registry, &env).unwrap().path, EXE);
}

#[test]
fn discovery_lists_every_place_it_looked() {
    let registry = MemoryRegistry::with([install_key(
        Hive::CurrentUser,
        r"Software\MicroSIP",
        r"C:\Gone",
    )]);
    let env = FakeEnv::default().var("ProgramFiles", r"C:\Program Files");
    let err = discover(&registry, &env).unwrap_err();
    let RegistryError::ExeNotFound { searched } = &err else {
        panic!("{err}");
    };
    assert_eq!(
        searched,
        &vec![
            r#"C:\Gone\microsip.exe (named by HKEY_CURRENT_USER\Software\MicroSIP, value (Default))"#
                .to_string(),
            r"HKEY_LOCAL_MACHINE\Software\MicroSIP, value (Default) (not set)".into(),
            r"HKEY_LOCAL_MACHINE\Software\WOW6432Node\MicroSIP, value (Default) (not set)".into(),
            r"C:\Program Files\MicroSIP\microsip.exe".into(),
            r"%ProgramFiles(x86)%\MicroSIP (variable not set)".into(),
            r"%LOCALAPPDATA%\MicroSIP (variable not set)".into(),
            r"%LOCALAPPDATA%\Programs\MicroSIP (variable not set)".into(),
        ]
    );
    assert!(err
        .to_string()
        .ends_with("install MicroSIP for this user or machine first, or give its full path explicitly in the manifest"));
}

#[test]
fn discovery_reads_the_install_keys_below_the_sandbox() {
    let registry = MemoryRegistry::with([install_key(
        Hive::CurrentUser,
        r"Software\box\Software\MicroSIP",
        r"C:\Sandboxed",
    )]);
    let env = FakeEnv::default().file(r"C:\Sandboxed\microsip.exe");
    let found = discover_exe(&registry, &env, Some("box")).unwrap();
    assert_eq!(found.path, r"C:\Sandboxed\microsip.exe");
}

#[test]
fn a_given_exe_is_used_without_any_lookup() {
    let registry = MemoryRegistry::new();
    registry.fail_under(Hive::CurrentUser, "Software", true, io::ErrorKind::Other);
    registry.fail_under(Hive::LocalMachine, "Software", true, io::ErrorKind::Other);
    let desired =
        DesiredRegistry::resolve(&options(Some(true), None), &registry, &FakeEnv::default())
            .unwrap();
    assert_eq!(
        desired.exe,
        Some(DiscoveredExe {
            path: EXE.into(),
            source: ExeSource::Given
        })
    );
}

#[test]
fn the_exe_is_discovered_only_when_an_entry_needs_it() {
    let registry = MemoryRegistry::new();
    let mut opts = options(Some(false), Some(vec![]));
    opts.exe = None;
    // Removals only: nothing needs the path, so nothing is looked up and nothing fails.
    let desired = DesiredRegistry::resolve(&opts, &registry, &FakeEnv::default()).unwrap();
    assert_eq!(desired.exe, None);
    assert_eq!(desired.entries.len(), 4);
    assert!(desired.entries[1..].iter().all(|e| matches!(
        e,
        DesiredEntry::NoMicrosipHandler { exe_name, .. } if exe_name == "microsip.exe"
    )));

    opts.autostart = Some(true);
    let err = DesiredRegistry::resolve(&opts, &registry, &FakeEnv::default()).unwrap_err();
    assert!(matches!(err, RegistryError::ExeNotFound { .. }));
    let env = FakeEnv::windows().file(EXE);
    let desired = DesiredRegistry::resolve(&opts, &registry, &env).unwrap();
    assert_eq!(desired.exe.unwrap().path, EXE);
}

#[test]
fn a_renamed_portable_exe_marks_its_own_handlers() {
    let mut opts = options(None, Some(vec![]));
    opts.exe = Some(r"D:\Tools\phone.exe".into());
    let desired = resolve(&opts, &MemoryRegistry::new());
    assert!(desired.entries.iter().all(|e| matches!(
        e,
        DesiredEntry::NoMicrosipHandler { exe_name, .. } if exe_name == "phone.exe"
    )));
}

#[test]
fn exe_paths_must_fit_in_a_command_line() {
    for good in [EXE, r"\\server\apps\MicroSIP\microsip.exe", r"d:\m.exe"] {
        assert!(validate_exe(good).is_ok(), "{good}");
    }
    for bad in [
        "",
        "microsip.exe",
        r"MicroSIP\microsip.exe",
        "/opt/microsip.exe",
        r#"C:\a"b\microsip.exe"#,
        "C:\\a\nb.exe",
        r"C:\MicroSIP\",
        "C:microsip.exe",
    ] {
        assert!(validate_exe(bad).is_err(), "{bad:?}");
    }
    let err = DesiredRegistry::resolve(
        &RegistryOptions {
            autostart: Some(true),
            exe: Some("microsip.exe".into()),
            ..RegistryOptions::default()
        },
        &MemoryRegistry::new(),
        &FakeEnv::default(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"cannot use "microsip.exe" as MicroSIP's executable: it is not an absolute Windows path (C:\... or \\server\share\...); give the full path of microsip.exe, e.g. C:\Program Files\MicroSIP\microsip.exe"#
    );
}

#[cfg(not(windows))]
#[test]
fn the_system_registry_is_not_applicable_off_windows() {
    let err = SystemRegistry::open().unwrap_err();
    assert!(err.is_not_applicable());
    assert_eq!(
        err.to_string(),
        format!(
            "the Windows registry is not applicable on this platform ({}): autostart and URL \
             protocol handlers are only planned and applied on Windows; run the tool there, or \
             use `registry export` to produce a .reg file",
            std::env::consts::OS
        )
    );
}

// ---- .reg export -------------------------------------------------------------------------------

/// UTF-16LE with BOM, from text whose line ends are written out (`\r\n`) in the test.
fn utf16le_bom(text: &str) -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xFE];
    for unit in text.encode_utf16() {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    bytes
}

#[test]
fn an_empty_export_is_the_header_and_a_blank_line() {
    let mut expected: Vec<u8> = vec![0xFF, 0xFE];
    for &b in b"Windows Registry Editor Version 5.00\r\n\r\n" {
        expected.extend_from_slice(&[b, 0x00]);
    }
    assert_eq!(to_reg_file(&[]), expected);
    assert_eq!(
        &to_reg_file(&[])[..6],
        &[0xFF, 0xFE, b'W', 0x00, b'i', 0x00]
    );
}

#[test]
fn the_desired_state_exports_byte_for_byte() {
    let desired = DesiredRegistry::for_exe(EXE, Some(true), Some(&[UrlProtocol::Sip]), None);
    let bytes = to_reg_file(&RegEntry::from_desired(&desired));
    let expected = utf16le_bom(concat!(
        "Windows Registry Editor Version 5.00\r\n",
        "\r\n",
        "[HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Run]\r\n",
        "\"MicroSIP\"=\"\\\"C:\\\\Program Files\\\\MicroSIP\\\\microsip.exe\\\" /minimized\"\r\n",
        "\r\n",
        "[HKEY_CURRENT_USER\\Software\\Classes\\sip]\r\n",
        "@=\"URL:sip Protocol\"\r\n",
        "\"URL Protocol\"=\"\"\r\n",
        "\r\n",
        "[HKEY_CURRENT_USER\\Software\\Classes\\sip\\DefaultIcon]\r\n",
        "@=\"C:\\\\Program Files\\\\MicroSIP\\\\microsip.exe,0\"\r\n",
        "\r\n",
        "[HKEY_CURRENT_USER\\Software\\Classes\\sip\\shell\\open\\command]\r\n",
        "@=\"\\\"C:\\\\Program Files\\\\MicroSIP\\\\microsip.exe\\\" \\\"%1\\\"\"\r\n",
        "\r\n",
        "; tel: not exported: the tool removes HKEY_CURRENT_USER\\Software\\Classes\\tel only when its open command starts microsip.exe, which a .reg file cannot check\r\n",
        "\r\n",
        "; callto: not exported: the tool removes HKEY_CURRENT_USER\\Software\\Classes\\callto only when its open command starts microsip.exe, which a .reg file cannot check\r\n",
        "\r\n",
    ));
    assert_eq!(
        String::from_utf16_lossy(
            &bytes[2..]
                .chunks(2)
                .map(|p| u16::from_le_bytes([p[0], p[1]]))
                .collect::<Vec<_>>()
        ),
        String::from_utf16_lossy(
            &expected[2..]
                .chunks(2)
                .map(|p| u16::from_le_bytes([p[0], p[1]]))
                .collect::<Vec<_>>()
        )
    );
    assert_eq!(bytes, expected);
}

#[test]
fn deletions_dwords_and_escapes_export_byte_for_byte() {
    let entries = vec![
        RegEntry::DeleteValue(ValuePath::new(
            Hive::CurrentUser,
            r"Software\Microsoft\Windows\CurrentVersion\Run",
            Some("MicroSIP"),
        )),
        RegEntry::DeleteKey {
            hive: Hive::CurrentUser,
            key: r"Software\Classes\callto".into(),
        },
        hkcu(
            r"Software\MicroSIP",
            Some("RunAtSystemStartup"),
            RegData::Dword(10),
        )
        .into(),
        hkcu(r"Software\MicroSIP", Some("Max"), RegData::Dword(u32::MAX)).into(),
        hkcu(
            r"Software\MicroSIP",
            Some(r#"a "quoted" \ name"#),
            sz(r#"C:\x\"y"\"#),
        )
        .into(),
        hkcu(r"Software\MicroSIP", None, sz("Müller 李雷 😀")).into(),
        RegEntry::DeleteValue(ValuePath::new(
            Hive::CurrentUser,
            r"Software\MicroSIP",
            None,
        )),
        RegistryValue::new(Hive::LocalMachine, r"Software\MicroSIP", None, sz(r"C:\M")).into(),
    ];
    let expected = utf16le_bom(concat!(
        "Windows Registry Editor Version 5.00\r\n",
        "\r\n",
        "[HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Run]\r\n",
        "\"MicroSIP\"=-\r\n",
        "\r\n",
        "[-HKEY_CURRENT_USER\\Software\\Classes\\callto]\r\n",
        "\r\n",
        "[HKEY_CURRENT_USER\\Software\\MicroSIP]\r\n",
        "\"RunAtSystemStartup\"=dword:0000000a\r\n",
        "\"Max\"=dword:ffffffff\r\n",
        "\"a \\\"quoted\\\" \\\\ name\"=\"C:\\\\x\\\\\\\"y\\\"\\\\\"\r\n",
        "@=\"Müller 李雷 😀\"\r\n",
        "@=-\r\n",
        "\r\n",
        "[HKEY_LOCAL_MACHINE\\Software\\MicroSIP]\r\n",
        "@=\"C:\\\\M\"\r\n",
        "\r\n",
    ));
    assert_eq!(to_reg_file(&entries), expected);
    // The astral character is one surrogate pair, written little-endian.
    let smiley = [0x3D, 0xD8, 0x00, 0xDE];
    assert!(expected.windows(4).any(|w| w == smiley));
}

#[test]
fn strings_with_line_breaks_export_as_wrapped_hex() {
    let value = hkcu(
        r"Software\T",
        Some("Multi"),
        sz("a\r\nbcdefghijklmnopqrstu"),
    );
    let binary = hkcu(
        r"Software\T",
        Some("Bin"),
        RegData::Other {
            kind: REG_BINARY,
            bytes: vec![0xde, 0xad],
        },
    );
    // `"Multi"=` is 8 characters and `hex(1):` 7; each byte but the last adds 3 ("xx,"), and
    // Wine wraps once that count reaches 77: after 21 bytes, then after 25 more (count restarts
    // at 2 for the indent).
    let expected = utf16le_bom(concat!(
        "Windows Registry Editor Version 5.00\r\n",
        "\r\n",
        "[HKEY_CURRENT_USER\\Software\\T]\r\n",
        "\"Multi\"=hex(1):61,00,0d,00,0a,00,62,00,63,00,64,00,65,00,66,00,67,00,68,00,69,\\\r\n",
        "  00,6a,00,6b,00,6c,00,6d,00,6e,00,6f,00,70,00,71,00,72,00,73,00,74,00,75,00,\\\r\n",
        "  00,00\r\n",
        "\"Bin\"=hex:de,ad\r\n",
        "\r\n",
    ));
    assert_eq!(to_reg_file(&[value.into(), binary.into()]), expected);
}

#[test]
fn a_plan_exports_as_the_same_changes() {
    let registry = MemoryRegistry::with([hkcu(
        r"Software\Microsoft\Windows\CurrentVersion\Run",
        Some("MicroSIP"),
        sz("old"),
    )]);
    for value in protocol_values(UrlProtocol::Tel, r"Software\Classes\tel", EXE) {
        registry.set(&value).unwrap();
    }
    let desired = resolve(&options(Some(false), Some(vec![])), &registry);
    let changes = plan_registry(&desired, &registry).unwrap();
    let entries: Vec<RegEntry> = changes.iter().map(RegEntry::from).collect();
    assert_eq!(
        to_reg_file(&entries),
        utf16le_bom(concat!(
            "Windows Registry Editor Version 5.00\r\n",
            "\r\n",
            "[HKEY_CURRENT_USER\\Software\\Microsoft\\Windows\\CurrentVersion\\Run]\r\n",
            "\"MicroSIP\"=-\r\n",
            "\r\n",
            "[-HKEY_CURRENT_USER\\Software\\Classes\\tel]\r\n",
            "\r\n",
        ))
    );
}
