//! The registry side against the real Win32 registry (on Windows; in CI: Wine 8 under
//! `ci/windows-test.sh`, whose prefix has a registry of its own).
//!
//! Every test writes below its own sandbox key, `HKCU\Software\microsip-provision-test-<pid>-<name>`
//! (`RegistryOptions::sandbox`), never into the real `Run` or `Classes` keys, and deletes it at the
//! end, even when it fails. Each value is checked three ways: read back through the registry API
//! (`SystemRegistry`), read by `reg.exe query` in a child process (Wine ships `reg.exe`; its output
//! must contain the value), and compared byte for byte with `reg.exe export` where our `.reg`
//! export covers the same key. A second plan after apply must be empty, and removal must remove.
//!
//! On other platforms the only check is that the system registry reports itself not applicable.

use microsip_provision::registry::SystemRegistry;

#[cfg(not(windows))]
#[test]
fn the_system_registry_is_not_applicable_off_windows() {
    let err = SystemRegistry::open().unwrap_err();
    assert!(err.is_not_applicable(), "{err}");
    assert!(err.to_string().contains("not applicable on this platform"));
}

#[cfg(windows)]
mod windows {
    use std::path::Path;
    use std::process::Command;

    use microsip_provision::registry::desired::{autostart_command, open_command};
    use microsip_provision::registry::*;

    use super::SystemRegistry;

    const EXE: &str = r"C:\Program Files\MicroSIP\microsip.exe";

    /// A test-only key below `HKCU\Software`, deleted (with everything below it) on drop.
    struct Sandbox {
        name: String,
        registry: SystemRegistry,
    }

    impl Sandbox {
        fn new(test: &str) -> Sandbox {
            let sandbox = Sandbox {
                name: format!("microsip-provision-test-{}-{test}", std::process::id()),
                registry: SystemRegistry::open().expect("the registry opens on Windows"),
            };
            sandbox
                .registry
                .delete_key(Hive::CurrentUser, &sandbox.root())
                .unwrap();
            sandbox
        }

        /// `Software\<name>`.
        fn root(&self) -> String {
            format!(r"Software\{}", self.name)
        }

        /// `key` (relative to a hive) below the sandbox.
        fn key(&self, key: &str) -> String {
            format!(r"{}\{key}", self.root())
        }

        /// `HKCU\Software\<name>\<key>`, as `reg.exe` takes it.
        fn reg_path(&self, key: &str) -> String {
            format!(r"HKCU\{}", self.key(key))
        }

        fn options(&self, autostart: Option<bool>, protocols: &[UrlProtocol]) -> RegistryOptions {
            RegistryOptions {
                autostart,
                url_protocols: Some(protocols.to_vec()),
                exe: Some(EXE.to_string()),
                sandbox: Some(self.name.clone()),
            }
        }

        fn plan(&self, options: &RegistryOptions) -> (DesiredRegistry, Vec<RegistryChange>) {
            let desired = DesiredRegistry::resolve(options, &self.registry, &SystemEnv)
                .unwrap_or_else(|e| panic!("{e}"));
            let changes = plan_registry(&desired, &self.registry).unwrap_or_else(|e| panic!("{e}"));
            (desired, changes)
        }
    }

    impl Drop for Sandbox {
        fn drop(&mut self) {
            let root = self.root();
            let result = self.registry.delete_key(Hive::CurrentUser, &root);
            if !std::thread::panicking() {
                result.expect("the sandbox key is deleted");
                let probe = ValuePath::new(Hive::CurrentUser, root.as_str(), None);
                assert_eq!(self.registry.get(&probe).unwrap(), None);
            }
        }
    }

    /// Run `reg.exe` (Wine's on Linux CI): success and stdout + stderr.
    fn reg(args: &[&str]) -> (bool, String) {
        let output = Command::new("reg")
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run reg.exe {args:?}: {e}"));
        let text = String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr);
        (output.status.success(), text)
    }

    fn reg_query(key: &str, value: Option<&str>) -> (bool, String) {
        match value {
            Some(name) => reg(&["query", key, "/v", name]),
            None => reg(&["query", key, "/ve"]),
        }
    }

    /// Size in bytes of the stored data, asked of the API directly (not through our code).
    fn stored_size(hive_key: &str, name: Option<&str>) -> u32 {
        use windows_sys::Win32::System::Registry::{RegGetValueW, HKEY_CURRENT_USER, RRF_RT_ANY};
        let key: Vec<u16> = hive_key.encode_utf16().chain([0]).collect();
        let name: Option<Vec<u16>> = name.map(|n| n.encode_utf16().chain([0]).collect());
        let mut size = 0u32;
        // SAFETY: NUL-terminated strings that outlive the call; no data buffer, only its size.
        let status = unsafe {
            RegGetValueW(
                HKEY_CURRENT_USER,
                key.as_ptr(),
                name.as_ref().map_or(std::ptr::null(), |n| n.as_ptr()),
                RRF_RT_ANY,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                &mut size,
            )
        };
        assert_eq!(status, 0, "RegGetValueW({hive_key}) failed with {status}");
        size
    }

    #[test]
    fn write_read_back_rerun_and_remove_through_the_api_and_reg_exe() {
        let sandbox = Sandbox::new("roundtrip");
        let registry = &sandbox.registry;

        // 1. First run: everything is added.
        let options = sandbox.options(Some(true), &UrlProtocol::ALL);
        let (desired, changes) = sandbox.plan(&options);
        assert_eq!(changes.len(), 13, "{changes:#?}");
        assert!(changes.iter().all(|c| c.kind == RegistryChangeKind::Added));
        apply_registry(&changes, registry).unwrap_or_else(|e| panic!("{e}"));

        // 2. Read back through the API.
        for value in desired.values() {
            assert_eq!(
                registry.get(&value.path()).unwrap().as_ref(),
                Some(&value.data),
                "{}",
                value.path()
            );
        }
        // REG_SZ is stored with its terminating NUL: `"<exe>" /minimized` + NUL, in UTF-16.
        let run_command = autostart_command(EXE);
        assert_eq!(
            stored_size(&sandbox.key(RUN_KEY), Some(MICROSIP_NAME)) as usize,
            (run_command.encode_utf16().count() + 1) * 2
        );
        assert_eq!(
            stored_size(&sandbox.key(r"Software\Classes\tel"), Some("URL Protocol")),
            2,
            "an empty REG_SZ is one NUL"
        );

        // 3. Read back with reg.exe in another process.
        let (ok, out) = reg_query(&sandbox.reg_path(RUN_KEY), Some(MICROSIP_NAME));
        assert!(ok, "{out}");
        assert!(out.contains("MicroSIP") && out.contains("REG_SZ"), "{out}");
        assert!(out.contains(&run_command), "{out}");
        let command_key = sandbox.reg_path(r"Software\Classes\sip\shell\open\command");
        let (ok, out) = reg_query(&command_key, None);
        assert!(ok, "{out}");
        assert!(out.contains(&open_command(EXE)), "{out}");
        let (ok, out) = reg_query(
            &sandbox.reg_path(r"Software\Classes\callto"),
            Some("URL Protocol"),
        );
        assert!(
            ok && out.contains("URL Protocol") && out.contains("REG_SZ"),
            "{out}"
        );
        let (ok, out) = reg_query(&sandbox.reg_path(r"Software\Classes\tel"), None);
        assert!(ok && out.contains("URL:tel Protocol"), "{out}");

        // 4. Second run: nothing to do, nothing written (applying the empty plan is a no-op).
        let (_, again) = sandbox.plan(&options);
        assert!(again.is_empty(), "{again:#?}");
        apply_registry(&again, registry).unwrap();

        // 5. MicroSIP moved: the exe-bearing values are updated, the others stay.
        let mut moved = options.clone();
        moved.exe = Some(r"D:\Apps\MicroSIP\microsip.exe".into());
        let (_, changes) = sandbox.plan(&moved);
        assert_eq!(changes.len(), 1 + 3 * 2, "{changes:#?}");
        assert!(changes
            .iter()
            .all(|c| c.kind == RegistryChangeKind::Updated));
        apply_registry(&changes, registry).unwrap();
        assert!(sandbox.plan(&moved).1.is_empty());

        // 6. Removal: autostart off, only sip: stays registered.
        let removal = RegistryOptions {
            autostart: Some(false),
            url_protocols: Some(vec![UrlProtocol::Sip]),
            ..moved
        };
        let (_, changes) = sandbox.plan(&removal);
        let kinds: Vec<(RegistryChangeKind, &str)> = changes
            .iter()
            .map(|c| (c.kind, c.key.rsplit('\\').next().unwrap()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (RegistryChangeKind::Removed, "Run"),
                (RegistryChangeKind::KeyRemoved, "tel"),
                (RegistryChangeKind::KeyRemoved, "callto"),
            ]
        );
        apply_registry(&changes, registry).unwrap();
        let run = ValuePath::new(Hive::CurrentUser, sandbox.key(RUN_KEY), Some(MICROSIP_NAME));
        assert_eq!(registry.get(&run).unwrap(), None);
        let (ok, out) = reg_query(&sandbox.reg_path(RUN_KEY), Some(MICROSIP_NAME));
        assert!(!ok, "the Run value is gone: {out}");
        let (ok, out) = reg(&["query", &sandbox.reg_path(r"Software\Classes\tel")]);
        assert!(!ok, "the tel key is gone: {out}");
        let (ok, out) = reg_query(&command_key, None);
        assert!(
            ok && out.contains(r"D:\Apps\MicroSIP\microsip.exe"),
            "{out}"
        );
        assert!(sandbox.plan(&removal).1.is_empty());
    }

    #[test]
    fn the_exe_is_found_through_the_install_folder_default_value() {
        let sandbox = Sandbox::new("discover");
        let folder = tempfile::tempdir().unwrap();
        std::fs::write(folder.path().join("microsip.exe"), b"MZ").unwrap();
        let folder_text = folder.path().to_str().unwrap().to_string();
        assert!(folder_text.contains(":\\"), "a Windows path: {folder_text}");
        // What MicroSIP's installer leaves: the folder as the key's default value (§1.1).
        let install = RegistryValue::new(
            Hive::CurrentUser,
            sandbox.key(INSTALL_KEY),
            None,
            RegData::Sz(folder_text.clone()),
        );
        sandbox.registry.set(&install).unwrap();
        let (ok, out) = reg_query(&sandbox.reg_path(INSTALL_KEY), None);
        assert!(ok && out.contains(&folder_text), "{out}");

        let options = RegistryOptions {
            autostart: Some(true),
            url_protocols: None,
            exe: None,
            sandbox: Some(sandbox.name.clone()),
        };
        let (desired, changes) = sandbox.plan(&options);
        let exe = desired.exe.expect("found");
        let expected = format!(r"{}\microsip.exe", folder_text.trim_end_matches('\\'));
        assert_eq!(exe.path, expected);
        assert!(Path::new(&exe.path).is_file());
        assert_eq!(
            exe.source,
            ExeSource::InstallKey {
                key: format!(r"HKEY_CURRENT_USER\{}", sandbox.key(INSTALL_KEY))
            }
        );
        assert_eq!(changes.len(), 1);
        assert_eq!(
            changes[0].new,
            Some(RegData::Sz(autostart_command(&expected)))
        );
    }

    #[test]
    fn our_reg_export_matches_reg_exe_export_byte_for_byte() {
        let sandbox = Sandbox::new("export");
        let options = sandbox.options(Some(true), &[UrlProtocol::Sip]);
        let (desired, changes) = sandbox.plan(&options);
        apply_registry(&changes, &sandbox.registry).unwrap();

        // Odd data in a key of its own: escapes, non-ASCII, a DWORD, binary long enough to wrap.
        // Names are in the order Wine enumerates them (sorted), default value first.
        let oracle_key = sandbox.key("Oracle");
        let oracle = vec![
            RegistryValue::new(
                Hive::CurrentUser,
                oracle_key.as_str(),
                None,
                RegData::Sz("Müller 李雷 😀".into()),
            ),
            RegistryValue::new(
                Hive::CurrentUser,
                oracle_key.as_str(),
                Some("Bin"),
                RegData::Other {
                    kind: REG_BINARY,
                    bytes: (0u8..40).collect(),
                },
            ),
            RegistryValue::new(
                Hive::CurrentUser,
                oracle_key.as_str(),
                Some("Dword"),
                RegData::Dword(10),
            ),
            RegistryValue::new(
                Hive::CurrentUser,
                oracle_key.as_str(),
                Some(r#"Quoted "name" \ here"#),
                RegData::Sz(r#"C:\x\"y"\"#.into()),
            ),
        ];
        for value in &oracle {
            sandbox.registry.set(value).unwrap();
        }

        let dir = tempfile::tempdir().unwrap();
        let leaf_keys = [
            RUN_KEY.to_string(),
            r"Software\Classes\sip\shell\open\command".to_string(),
            "Oracle".to_string(),
        ];
        for (i, key) in leaf_keys.iter().enumerate() {
            let full = sandbox.key(key);
            let ours: Vec<RegEntry> = desired
                .values()
                .into_iter()
                .chain(&oracle)
                .filter(|v| v.key == full)
                .cloned()
                .map(RegEntry::from)
                .collect();
            assert!(!ours.is_empty(), "{full}");
            let file = dir.path().join(format!("export{i}.reg"));
            let (ok, out) = reg(&[
                "export",
                &sandbox.reg_path(key),
                file.to_str().unwrap(),
                "/y",
            ]);
            assert!(ok, "reg export {full}: {out}");
            let theirs = std::fs::read(&file).unwrap();
            let mine = to_reg_file(&ours);
            assert_eq!(
                String::from_utf16_lossy(&utf16(&mine)),
                String::from_utf16_lossy(&utf16(&theirs)),
                "{full}"
            );
            assert_eq!(mine, theirs, "{full}");
        }
    }

    fn utf16(bytes: &[u8]) -> Vec<u16> {
        bytes
            .chunks(2)
            .map(|p| u16::from_le_bytes([p[0], p[1]]))
            .collect()
    }

    #[test]
    fn reg_import_of_our_export_applies_the_same_state() {
        let sandbox = Sandbox::new("import");
        let registry = &sandbox.registry;
        // What the import must undo: an autostart value and a MicroSIP tel: handler.
        let run_value = RegistryValue::new(
            Hive::CurrentUser,
            sandbox.key(RUN_KEY),
            Some(MICROSIP_NAME),
            RegData::Sz("old".into()),
        );
        registry.set(&run_value).unwrap();
        let tel_key = sandbox.key(r"Software\Classes\tel");
        for value in desired::protocol_values(UrlProtocol::Tel, &tel_key, EXE) {
            registry.set(&value).unwrap();
        }

        // The plan (remove autostart, register sip:, unregister MicroSIP's tel:) as one file.
        let options = sandbox.options(Some(false), &[UrlProtocol::Sip]);
        let (_, changes) = sandbox.plan(&options);
        let kinds: Vec<RegistryChangeKind> = changes.iter().map(|c| c.kind).collect();
        use RegistryChangeKind::*;
        assert_eq!(kinds, vec![Removed, Added, Added, Added, Added, KeyRemoved]);
        let entries: Vec<RegEntry> = changes.iter().map(RegEntry::from).collect();

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("import.reg");
        std::fs::write(&file, to_reg_file(&entries)).unwrap();
        let (ok, out) = reg(&["import", file.to_str().unwrap()]);
        assert!(ok, "reg import: {out}");

        assert_eq!(registry.get(&run_value.path()).unwrap(), None);
        let tel_command = ValuePath::new(
            Hive::CurrentUser,
            format!(r"{tel_key}\shell\open\command"),
            None,
        );
        assert_eq!(registry.get(&tel_command).unwrap(), None);
        let (ok, _) = reg(&["query", &sandbox.reg_path(r"Software\Classes\tel")]);
        assert!(!ok, "the tel key is gone");
        let (_, after) = sandbox.plan(&sandbox.options(Some(false), &[UrlProtocol::Sip]));
        assert!(
            after.is_empty(),
            "the import reached the desired state: {after:#?}"
        );
    }
}
