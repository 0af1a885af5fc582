//! What the registry should hold: [`RegistryOptions`] (the manifest's wishes) resolved against the
//! MicroSIP executable into a [`DesiredRegistry`], a list of [`DesiredEntry`]s.
//!
//! * Autostart (`microsip-formats.md` §1.1): `Some(true)` ensures
//!   `HKCU\Software\Microsoft\Windows\CurrentVersion\Run\MicroSIP` = `"<exe>" /minimized`, the
//!   exact value MicroSIP writes itself; `Some(false)` removes that value; `None` leaves it alone.
//! * URL protocols, after Microsoft's "Registering an Application to a URI Scheme": for each listed
//!   scheme, `HKCU\Software\Classes\<scheme>` gets the default value `URL:<scheme> Protocol`, an
//!   empty `URL Protocol` string ("without this key, the handler application will not launch"),
//!   `DefaultIcon` = `<exe>,0` (the documented `path,iconindex` form) and `shell\open\command` =
//!   `"<exe>" "%1"` (`%1` receives the whole URI; MicroSIP dials a `sip:`, `tel:` or `callto:`
//!   argument, §4). With `Some(list)`, a supported scheme missing from the list is unregistered,
//!   but only when its `shell\open\command` starts MicroSIP: another program's handler is never
//!   removed. `None` leaves every scheme alone.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::discover::{self, DiscoveryEnv};
use super::{
    Hive, RegData, Registry, RegistryError, RegistryValue, ValuePath, CLASSES_KEY,
    MICROSIP_EXE_NAME, MICROSIP_NAME, RUN_KEY,
};

/// A URL scheme MicroSIP can handle (it dials `sip:`, `tel:` and `callto:` arguments, §4).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum UrlProtocol {
    /// `sip:`
    Sip,
    /// `tel:`
    Tel,
    /// `callto:`
    Callto,
}

impl UrlProtocol {
    /// Every supported scheme, in the order entries are planned.
    pub const ALL: [UrlProtocol; 3] = [UrlProtocol::Sip, UrlProtocol::Tel, UrlProtocol::Callto];

    /// The scheme name, lowercase: `sip`.
    pub fn as_str(self) -> &'static str {
        match self {
            UrlProtocol::Sip => "sip",
            UrlProtocol::Tel => "tel",
            UrlProtocol::Callto => "callto",
        }
    }
}

impl fmt::Display for UrlProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for UrlProtocol {
    type Err = String;

    /// `sip`, `tel` or `callto`, any case, with or without the trailing colon.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim().trim_end_matches(':');
        UrlProtocol::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| format!("unknown URL protocol {s:?}: expected sip, tel or callto"))
    }
}

/// The registry part of a manifest, before the executable is known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistryOptions {
    /// `Some(true)`: ensure the Run value; `Some(false)`: remove it; `None`: leave it.
    pub autostart: Option<bool>,
    /// `Some(list)`: register exactly these schemes for MicroSIP (and unregister MicroSIP's
    /// handler for the other supported ones); `None`: leave every scheme alone.
    pub url_protocols: Option<Vec<UrlProtocol>>,
    /// MicroSIP's executable, full path. `None`: discovered ([`discover::discover_exe`]) when an
    /// entry needs it.
    pub exe: Option<String>,
    /// Tests only: a key below `HKCU\Software` (e.g. `microsip-provision-test-1234`) under which
    /// every key is placed instead of its real location, so `Software\...\Run` becomes
    /// `Software\<sandbox>\Software\...\Run` in the same hive. `None` in production.
    pub sandbox: Option<String>,
}

/// One thing the registry should or should not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DesiredEntry {
    /// This value with this data.
    Value(RegistryValue),
    /// No value at this path.
    NoValue(ValuePath),
    /// No handler for `protocol` registered to MicroSIP: the whole key `key` (in
    /// [`Hive::CurrentUser`]) is removed, but only when the default value of its
    /// `shell\open\command` subkey starts a program named like MicroSIP's executable.
    NoMicrosipHandler {
        /// The scheme.
        protocol: UrlProtocol,
        /// `Software\Classes\<scheme>` (below the sandbox, if any).
        key: String,
        /// The executable file name that marks the handler as MicroSIP's (`microsip.exe`, or the
        /// configured exe's name for a renamed portable copy).
        exe_name: String,
    },
}

/// The resolved desired state: what [`super::plan_registry`] compares against a registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DesiredRegistry {
    /// MicroSIP's executable, when an entry needed it (given or discovered).
    pub exe: Option<discover::DiscoveredExe>,
    /// The entries, in plan order: autostart first, then `sip`, `tel`, `callto`.
    pub entries: Vec<DesiredEntry>,
}

impl DesiredRegistry {
    /// Resolve `options`: validate them, find the executable if an entry needs it (looking in
    /// `registry` and `env`, see [`discover::discover_exe`]), and list the entries.
    pub fn resolve(
        options: &RegistryOptions,
        registry: &dyn Registry,
        env: &dyn DiscoveryEnv,
    ) -> Result<DesiredRegistry, RegistryError> {
        let sandbox = options.sandbox.as_deref();
        if let Some(sandbox) = sandbox {
            validate_key(sandbox)?;
        }
        let wanted: Option<Vec<UrlProtocol>> = options.url_protocols.as_ref().map(|list| {
            UrlProtocol::ALL
                .into_iter()
                .filter(|p| list.contains(p))
                .collect()
        });
        let needs_exe =
            options.autostart == Some(true) || wanted.as_ref().is_some_and(|w| !w.is_empty());
        let exe = match (&options.exe, needs_exe) {
            (Some(given), _) => {
                discover::validate_exe(given)?;
                Some(discover::DiscoveredExe {
                    path: given.clone(),
                    source: discover::ExeSource::Given,
                })
            }
            (None, true) => Some(discover::discover_exe(registry, env, sandbox)?),
            (None, false) => None,
        };
        Ok(DesiredRegistry::build(
            options.autostart,
            wanted.as_deref(),
            exe,
            sandbox,
        ))
    }

    /// The entries for a known executable, without looking anything up (the path is not checked
    /// here: [`DesiredRegistry::resolve`] validates it). `protocols`: `None` leaves every scheme
    /// alone.
    pub fn for_exe(
        exe: &str,
        autostart: Option<bool>,
        protocols: Option<&[UrlProtocol]>,
        sandbox: Option<&str>,
    ) -> DesiredRegistry {
        let exe = discover::DiscoveredExe {
            path: exe.to_string(),
            source: discover::ExeSource::Given,
        };
        DesiredRegistry::build(autostart, protocols, Some(exe), sandbox)
    }

    fn build(
        autostart: Option<bool>,
        protocols: Option<&[UrlProtocol]>,
        exe: Option<discover::DiscoveredExe>,
        sandbox: Option<&str>,
    ) -> DesiredRegistry {
        let place = |key: &str| sandboxed(sandbox, key);
        let exe_path = exe.as_ref().map(|e| e.path.as_str());
        let mut entries = Vec::new();
        let run = ValuePath::new(Hive::CurrentUser, place(RUN_KEY), Some(MICROSIP_NAME));
        match (autostart, exe_path) {
            (Some(true), Some(exe)) => entries.push(DesiredEntry::Value(RegistryValue {
                data: RegData::Sz(autostart_command(exe)),
                hive: run.hive,
                key: run.key,
                name: run.name,
            })),
            (Some(false), _) => entries.push(DesiredEntry::NoValue(run)),
            _ => {}
        }
        if let Some(wanted) = protocols {
            for protocol in UrlProtocol::ALL {
                let key = place(&format!("{CLASSES_KEY}\\{}", protocol.as_str()));
                match exe_path {
                    Some(exe) if wanted.contains(&protocol) => {
                        entries.extend(
                            protocol_values(protocol, &key, exe)
                                .into_iter()
                                .map(DesiredEntry::Value),
                        );
                    }
                    _ if wanted.contains(&protocol) => {}
                    _ => entries.push(DesiredEntry::NoMicrosipHandler {
                        protocol,
                        key,
                        exe_name: exe_path
                            .map(exe_file_name)
                            .unwrap_or(MICROSIP_EXE_NAME)
                            .to_string(),
                    }),
                }
            }
        }
        DesiredRegistry { exe, entries }
    }

    /// The values this state sets (without removals), in order.
    pub fn values(&self) -> Vec<&RegistryValue> {
        self.entries
            .iter()
            .filter_map(|entry| match entry {
                DesiredEntry::Value(value) => Some(value),
                _ => None,
            })
            .collect()
    }
}

/// `"<exe>" /minimized`: the Run value MicroSIP writes itself (§1.1, `msip_startup_set`).
pub fn autostart_command(exe: &str) -> String {
    format!("\"{exe}\" /minimized")
}

/// `"<exe>" "%1"`: the open command of a URL protocol handler.
pub fn open_command(exe: &str) -> String {
    format!("\"{exe}\" \"%1\"")
}

/// The four values that register `exe` for `protocol` below `key` (`Software\Classes\<scheme>`).
pub fn protocol_values(protocol: UrlProtocol, key: &str, exe: &str) -> Vec<RegistryValue> {
    let hive = Hive::CurrentUser;
    vec![
        RegistryValue::new(
            hive,
            key,
            None,
            RegData::Sz(format!("URL:{} Protocol", protocol.as_str())),
        ),
        RegistryValue::new(hive, key, Some("URL Protocol"), RegData::Sz(String::new())),
        RegistryValue::new(
            hive,
            format!("{key}\\DefaultIcon"),
            None,
            RegData::Sz(format!("{exe},0")),
        ),
        RegistryValue::new(
            hive,
            format!("{key}\\shell\\open\\command"),
            None,
            RegData::Sz(open_command(exe)),
        ),
    ]
}

/// The file name part of a Windows path: `microsip.exe` from `C:\MicroSIP\microsip.exe`.
pub(crate) fn exe_file_name(path: &str) -> &str {
    path.rsplit(['\\', '/']).next().unwrap_or(path)
}

/// Does this `shell\open\command` start a program named `exe_name` (case-insensitive)? The program
/// is the first quoted string, or the text up to the first blank when unquoted.
pub fn command_starts(command: &str, exe_name: &str) -> bool {
    let command = command.trim_start();
    let program = match command.strip_prefix('"') {
        Some(rest) => rest.split('"').next().unwrap_or(rest),
        None => command.split_whitespace().next().unwrap_or(""),
    };
    exe_file_name(program).eq_ignore_ascii_case(exe_name)
}

/// `key` below the sandbox: `Software\<sandbox>\<key>`, or `key` itself without a sandbox.
pub(crate) fn sandboxed(sandbox: Option<&str>, key: &str) -> String {
    match sandbox {
        Some(sandbox) => format!("Software\\{sandbox}\\{key}"),
        None => key.to_string(),
    }
}

/// A relative key path: not empty, no leading/trailing/doubled backslash, no control characters.
pub(crate) fn validate_key(key: &str) -> Result<(), RegistryError> {
    let reason = if key.is_empty() {
        Some("it is empty")
    } else if key.split('\\').any(str::is_empty) {
        Some("it has an empty component")
    } else if key.chars().any(char::is_control) {
        Some("it contains a control character")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(RegistryError::InvalidKey {
            key: key.to_string(),
            reason: reason.to_string(),
        }),
        None => Ok(()),
    }
}
