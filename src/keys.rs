//! The one table of MicroSIP's INI keys: every section, key, value type, default, read limit,
//! secrecy and quoting rule the rest of the crate needs, each defined once with its documentation
//! (ripgrep's `FLAGS` discipline). Rendering, planning, linting and reporting read from [`KEYS`]
//! and the lookups below; nothing else in the crate spells a MicroSIP key name or limit.
//!
//! Every fact cites `microsip-formats.md` by section (§1.3 read buffers, §1.4 sections, §1.5
//! `[Global]`, §1.6 `[Settings]`, §1.7 `[AccountN]`, §1.8 passwords, §1.9 account slots, §1.10
//! `[Shortcuts]`, §3.2 legacy `[Calls]`). Rows of one section appear in the order MicroSIP's save
//! routine writes them (`SettingsSave`, `AccountSave`), because new keys are appended in table
//! order; keys MicroSIP only reads (legacy) or no longer reads (retired) follow the live rows.
//!
//! Sections whose keys are decimal indices (`[Shortcuts]`, `[Dialed]`, legacy `[Calls]` and
//! `[Contacts]`) have one row named [`INDEXED_KEY`] that describes every index; see
//! [`KeyNaming`].

use std::fmt;

/// Most values are read into a 256-character buffer including the NUL: 255 usable (§1.3).
pub const VALUE_LIMIT: usize = 255;
/// `[AccountN]` `server`, `proxy`, `domain`, `username`, `password`, `authID` and `displayName`
/// are read into 1041-character buffers: 1040 usable (§1.3, §1.7).
pub const ACCOUNT_FIELD_LIMIT: usize = 1040;
/// `[Settings] audioCodecs` is read into a 512-character buffer: 511 usable (§1.3).
pub const AUDIO_CODECS_LIMIT: usize = 511;
/// A `[Shortcuts]` value is read into a 1024-character buffer: 1023 usable (§1.3, §1.10).
pub const SHORTCUT_LIMIT: usize = 1023;

/// The account menu, Export dialog and new-account search handle at most 100 accounts
/// (`[Account1]`…`[Account100]`; command ID range +99). Accounts past it, or past the first gap,
/// are invisible in the menu, though `accountId` can still select them (§1.9).
pub const ACCOUNT_SLOT_LIMIT: u32 = 100;
/// `[Account0]` is the local "call by IP address" account (§1.4, §1.9).
pub const LOCAL_ACCOUNT_INDEX: u32 = 0;
/// SIP accounts are numbered from 1 (§1.9).
pub const FIRST_ACCOUNT_INDEX: u32 = 1;
/// Label MicroSIP shows for `[Account0]` when its `label` key is absent (§1.7 row 1).
pub const LOCAL_ACCOUNT_LABEL: &str = "Local (call by IP address)";
/// Section names of accounts are this prefix followed by the decimal index (§1.4).
pub const ACCOUNT_SECTION_PREFIX: &str = "Account";

/// `[Shortcuts]` holds keys `0`…`7` (`_GLOBAL_SHORTCUTS_QTY` = 8, §1.10).
pub const SHORTCUTS_QTY: u32 = 8;
/// `[Dialed]` holds the last 10 dialled numbers, keys `0`…`9`, `0` newest (§1.4).
pub const DIALED_QTY: u32 = 10;
/// Legacy `[Calls]` is a ring buffer of keys `0`…`999` (§3.2).
pub const CALLS_QTY: u32 = 1000;
/// A deleted legacy `[Calls]` entry is rewritten as this literal (§3.2).
pub const CALLS_DELETED: &str = "null";
/// `[Settings] audioCodecs` when the key is absent (A:define.h, §1.6).
pub const DEFAULT_AUDIO_CODECS: &str = "PCMA/8000/1 PCMU/8000/1";

/// The `name` of the row that stands for every index key of an indexed section ([`KeyNaming`]).
pub const INDEXED_KEY: &str = "*";

/// The sections MicroSIP reads (§1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SectionKind {
    /// `[Global]`: `version` and `checkUpdatesTime`, 3.22+ (§1.5).
    Global,
    /// `[Settings]`: program settings and `accountId` (§1.6).
    Settings,
    /// `[AccountN]`: `N` = 0 is the local account, 1… are SIP accounts (§1.7, §1.9).
    Account,
    /// `[Shortcuts]`: speed-dial buttons, keys `0`…`7`; MicroSIP deletes and rewrites the whole
    /// section (§1.10).
    Shortcuts,
    /// `[Dialed]`: last dialled numbers, keys `0`…`9`; rewritten whole on every dial (§1.4, §5).
    Dialed,
    /// `[Calls]`: ≤3.21 call history ring buffer; 3.22 imports it once and deletes it (§1.4, §3).
    Calls,
    /// `[Contacts]`: pre-XML contacts, read once when `Contacts.xml` cannot be opened, then
    /// deleted (§1.4).
    Contacts,
}

/// How the keys of a section are named.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyNaming {
    /// Each key has its own row in [`KEYS`].
    Named,
    /// Keys are decimal indices `0`, `1`, … formatted with `%d` (no sign, no leading zeros).
    /// MicroSIP reads upward from `0`; `GetPrivateProfileString` returns 0 for a missing **and**
    /// an empty key, so an empty value reads as missing and ends the list (`[Shortcuts]`,
    /// `[Dialed]`, `[Contacts]`: §1.10, C:Dialer.cpp `DialedLoad`) or leaves a hole (`[Calls]`,
    /// §3.2). One row named [`INDEXED_KEY`] describes every index.
    Indexed {
        /// Number of indices MicroSIP reads (`0..count`); `None` when it reads until the first
        /// gap with no upper bound (legacy `[Contacts]`).
        count: Option<u32>,
    },
}

impl SectionKind {
    /// Every section kind, in the order of §1.4.
    pub const ALL: [SectionKind; 7] = [
        SectionKind::Global,
        SectionKind::Settings,
        SectionKind::Account,
        SectionKind::Shortcuts,
        SectionKind::Dialed,
        SectionKind::Calls,
        SectionKind::Contacts,
    ];

    /// How this section names its keys.
    pub const fn key_naming(self) -> KeyNaming {
        match self {
            SectionKind::Global | SectionKind::Settings | SectionKind::Account => KeyNaming::Named,
            SectionKind::Shortcuts => KeyNaming::Indexed {
                count: Some(SHORTCUTS_QTY),
            },
            SectionKind::Dialed => KeyNaming::Indexed {
                count: Some(DIALED_QTY),
            },
            SectionKind::Calls => KeyNaming::Indexed {
                count: Some(CALLS_QTY),
            },
            SectionKind::Contacts => KeyNaming::Indexed { count: None },
        }
    }

    /// The section's name as MicroSIP spells it; `None` for [`SectionKind::Account`], whose name
    /// needs an index (use [`section_name`]).
    pub const fn fixed_name(self) -> Option<&'static str> {
        match self {
            SectionKind::Global => Some("Global"),
            SectionKind::Settings => Some("Settings"),
            SectionKind::Account => None,
            SectionKind::Shortcuts => Some("Shortcuts"),
            SectionKind::Dialed => Some("Dialed"),
            SectionKind::Calls => Some("Calls"),
            SectionKind::Contacts => Some("Contacts"),
        }
    }
}

impl fmt::Display for SectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.fixed_name() {
            Some(name) => write!(f, "[{name}]"),
            None => write!(f, "[{ACCOUNT_SECTION_PREFIX}N]"),
        }
    }
}

/// Classify a section name as the Win32 profile API matches it: ASCII case-insensitively (§1.3).
///
/// `Account12` gives `(Account, Some(12))` and `Account0` the local account `(Account, Some(0))`.
/// The index must be what MicroSIP's `Format("Account%d")` produces: decimal digits, no sign, no
/// leading zero, within `int` range; so `Account`, `Accountx`, `Account01` and `Account+1` are
/// `None` (MicroSIP never reads them). Other sections give `(kind, None)`; unknown names `None`.
pub fn classify(section_name: &str) -> Option<(SectionKind, Option<u32>)> {
    let prefix_len = ACCOUNT_SECTION_PREFIX.len();
    if section_name.len() > prefix_len
        && section_name.is_char_boundary(prefix_len)
        && section_name[..prefix_len].eq_ignore_ascii_case(ACCOUNT_SECTION_PREFIX)
    {
        return parse_index(&section_name[prefix_len..], Some(i32::MAX as u32 + 1))
            .map(|index| (SectionKind::Account, Some(index)));
    }
    SectionKind::ALL
        .into_iter()
        .find(|kind| {
            kind.fixed_name()
                .is_some_and(|name| name.eq_ignore_ascii_case(section_name))
        })
        .map(|kind| (kind, None))
}

/// The section name MicroSIP writes for `kind`: `Account{index}` for accounts, the fixed name
/// otherwise. `None` when `index` is missing for an account or given for any other section.
pub fn section_name(kind: SectionKind, index: Option<u32>) -> Option<String> {
    match (kind.fixed_name(), index) {
        (None, Some(index)) => Some(format!("{ACCOUNT_SECTION_PREFIX}{index}")),
        (Some(name), None) => Some(name.to_string()),
        _ => None,
    }
}

/// A canonical `%d` index below `count` (when bounded), as MicroSIP formats keys and sections.
fn parse_index(text: &str, count: Option<u32>) -> Option<u32> {
    let canonical = !text.is_empty()
        && text.bytes().all(|b| b.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if !canonical {
        return None;
    }
    let index: u32 = text.parse().ok()?;
    match count {
        Some(count) if index >= count => None,
        _ => Some(index),
    }
}

/// How MicroSIP interprets a value, and so what [`check_value`] accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyType {
    /// Written `0`/`1`; read with `_wtoi`, any non-zero number is true (§1.6).
    Bool,
    /// Written `0`/`1`; true only when exactly `1` (§1.6 "=1").
    BoolExactlyOne,
    /// Written `0`/`1`; true unless exactly `0`, so empty is true (§1.6 "≠0").
    BoolUnlessZero,
    /// A decimal C `int`; the bounds are inclusive.
    Int {
        /// Smallest accepted value, if bounded.
        min: Option<i64>,
        /// Largest accepted value, if bounded.
        max: Option<i64>,
    },
    /// Free text (host names, numbers, URLs, device names).
    Text,
    /// A file or folder path.
    Path,
    /// One of a fixed list of values, compared case-sensitively by MicroSIP; `""` in the list
    /// means an empty value is meaningful (§1.3 "empty is not the same as missing").
    Choice(&'static [&'static str]),
    /// Space-separated `name/rate/channels` codec list, e.g. `opus/48000/2 PCMA/8000/1` (§1.6).
    CodecList,
    /// A command line run on a call event (§1.6 `cmd*`).
    CommandLine,
    /// An account password: lowercase hex ciphertext, or plaintext that MicroSIP encrypts on
    /// its next load (§1.8). Always secret.
    Password,
    /// A `[Shortcuts]` value `label;number;type;number2;presence` plus `;label2` in 3.22 (§1.10).
    Shortcut,
    /// A legacy `[Calls]` value `number;name;type;time;duration;info`, or `null` (§3.2).
    CallEntry,
    /// A legacy `[Contacts]` value `number;name;presence;directory` (§1.4).
    LegacyContact,
}

/// Whether current MicroSIP (3.22.16) reads and writes a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyStatus {
    /// Read and written by 3.22.16's load and save routines.
    Live,
    /// Read only to migrate or clean up, then deleted; never written by 3.22.16. The tool keeps
    /// such keys it finds but must not create them.
    Legacy,
    /// Ignored by 3.22.16 (left in place as a stale key, §5); only older versions used it.
    Retired,
}

/// One key of one section: everything the tool knows about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeySpec {
    /// Section the key lives in. For [`SectionKind::Account`] the row applies to every `N`.
    pub section: SectionKind,
    /// Key name as MicroSIP spells it (matched case-insensitively), or [`INDEXED_KEY`] for the
    /// row that describes every index of an indexed section.
    pub name: &'static str,
    /// How MicroSIP interprets the value.
    pub ty: KeyType,
    /// Value MicroSIP uses when the key is **absent**; `None` when absence has a special meaning
    /// (see `doc`). An empty value is never the same as absence (§1.3).
    pub default: Option<&'static str>,
    /// Most characters (UTF-16 code units, as Win32 counts) MicroSIP reads; the rest is silently
    /// truncated (§1.3).
    pub limit: usize,
    /// The value is a credential: never print, log or diff it (§1.8).
    pub secret: bool,
    /// MicroSIP writes the value wrapped in `"…"` (`key=""` when empty); Win32 strips one pair
    /// of surrounding quotes on read (§1.3, §1.6).
    pub quoted: bool,
    /// First MicroSIP version line known to have the key (e.g. `"3.22"`); `None` when it is at
    /// least as old as the oldest source read (3.20.5, §0).
    pub since: Option<&'static str>,
    /// Whether 3.22.16 reads and writes the key.
    pub status: KeyStatus,
    /// One line for humans, citing the format document.
    pub doc: &'static str,
}

impl KeySpec {
    /// Whether this row stands for every index key of an indexed section ([`KeyNaming`]).
    pub fn is_indexed(&self) -> bool {
        self.name == INDEXED_KEY
    }

    const fn limit(mut self, limit: usize) -> Self {
        self.limit = limit;
        self
    }

    const fn secret(mut self) -> Self {
        self.secret = true;
        self
    }

    const fn quoted(mut self) -> Self {
        self.quoted = true;
        self
    }

    const fn since(mut self, version: &'static str) -> Self {
        self.since = Some(version);
        self
    }

    const fn legacy(mut self) -> Self {
        self.status = KeyStatus::Legacy;
        self
    }

    const fn retired(mut self) -> Self {
        self.status = KeyStatus::Retired;
        self
    }
}

const fn spec(
    section: SectionKind,
    name: &'static str,
    ty: KeyType,
    default: Option<&'static str>,
    doc: &'static str,
) -> KeySpec {
    KeySpec {
        section,
        name,
        ty,
        default,
        limit: VALUE_LIMIT,
        secret: false,
        quoted: false,
        since: None,
        status: KeyStatus::Live,
        doc,
    }
}

const fn global(
    name: &'static str,
    ty: KeyType,
    default: Option<&'static str>,
    doc: &'static str,
) -> KeySpec {
    spec(SectionKind::Global, name, ty, default, doc).since("3.22")
}

const fn settings(
    name: &'static str,
    ty: KeyType,
    default: Option<&'static str>,
    doc: &'static str,
) -> KeySpec {
    spec(SectionKind::Settings, name, ty, default, doc)
}

const fn account(
    name: &'static str,
    ty: KeyType,
    default: Option<&'static str>,
    doc: &'static str,
) -> KeySpec {
    spec(SectionKind::Account, name, ty, default, doc)
}

const fn indexed(section: SectionKind, ty: KeyType, doc: &'static str) -> KeySpec {
    // Absent ends the list (§1.10, §1.4), so there is no default.
    spec(section, INDEXED_KEY, ty, None, doc)
}

use KeyType::{Bool, BoolExactlyOne, BoolUnlessZero, CodecList, CommandLine, Password, Path, Text};

const fn int(min: i64, max: i64) -> KeyType {
    KeyType::Int {
        min: Some(min),
        max: Some(max),
    }
}
const INT: KeyType = KeyType::Int {
    min: None,
    max: None,
};
const NON_NEGATIVE: KeyType = KeyType::Int {
    min: Some(0),
    max: None,
};
const PORT: KeyType = int(0, 65535);
const PERCENT: KeyType = int(0, 100);

const RECORDING_FORMATS: KeyType = KeyType::Choice(&["", "mp3", "wav"]);
const AUTO_ANSWER: KeyType = KeyType::Choice(&["", "button", "header", "all"]);
const AUTO_ANSWER_CALLS: KeyType = KeyType::Choice(&["", "all", "hold"]);
const FORWARDING: KeyType = KeyType::Choice(&["", "button", "all"]);
const DENY_INCOMING: KeyType = KeyType::Choice(&[
    "",
    "button",
    "user",
    "domain",
    "userdomain",
    "remotedomain",
    "all",
]);
const DEFAULT_ACTION: KeyType = KeyType::Choice(&["", "call", "video", "message"]);
const UPDATES_INTERVAL: KeyType =
    KeyType::Choice(&["", "daily", "monthly", "quarterly", "never", "always"]);
// 3.22 values first; `0`/`1` are what ≤3.21 writes, and 3.22 reads `1` as `hard` (§1.7 row 11).
const HIDE_CID: KeyType = KeyType::Choice(&["", "soft", "hard", "0", "1"]);
const TRANSPORT: KeyType = KeyType::Choice(&["udp", "tcp", "tls", ""]);
// `dtls-sdes` and `dtls` are 3.22+ (§0 version table, §1.7 row 15).
const SRTP: KeyType = KeyType::Choice(&["", "optional", "mandatory", "dtls-sdes", "dtls"]);

/// Shortcut `type` values: 3.22.16 (A:global.h), then the 3.21.6-only ones (C:global.h), then
/// the legacy numeric types both versions map onto strings (§1.10).
const SHORTCUT_TYPES: &[&str] = &[
    "call",
    "video",
    "message",
    "dtmf",
    "transfer",
    "attendedTransfer",
    "callOrBT",
    "callOrAT",
    "conference",
    "callOrConference",
    "runBatch",
    "callURL",
    "popURL",
    "0",
    "1",
    "2",
    "3",
    "4",
];

/// Every key MicroSIP reads, section by section; within a section, in save order (live keys
/// first, then legacy and retired ones).
// One row per line so the table reads as a table; rustfmt would break rows apart.
#[rustfmt::skip]
pub static KEYS: &[KeySpec] = &[
    // ---- [Global], 3.22+ (§1.5) ----
    global("version", Text, None,
        "§1.5: running version, rewritten at every start when it differs; absent is simply rewritten."),
    global("checkUpdatesTime", NON_NEGATIVE, None,
        "§1.5: Unix time of the last update check (GlobalSave); absent makes 3.22 delete [Settings] checkUpdatesTime."),
    // ---- [Settings], in 3.22.16 SettingsSave order (§1.6) ----
    settings("accountId", NON_NEGATIVE, None,
        "§1.6, §1.9: active account, 0 = local (needs enableLocalAccount=1); absent runs the legacy migration and activates nothing, so always write it."),
    settings("singleMode", Bool, Some("1"), "§1.6: single-call mode; note `singleMode=` (empty) reads as 0 (§1.3)."),
    settings("ringingSound", Path, Some(""), "§1.6: custom ring file; empty = built-in ring."),
    settings("volumeRing", PERCENT, Some("100"), "§1.6: ring volume, 0–100."),
    settings("audioRingDevice", Text, Some(""), "§1.6: ring device name, empty = system default; written quoted.").quoted(),
    settings("audioOutputDevice", Text, Some(""), "§1.6: speaker device name, empty = system default; written quoted.").quoted(),
    settings("audioInputDevice", Text, Some(""), "§1.6: microphone device name, empty = system default; written quoted.").quoted(),
    settings("micAmplification", Bool, Some("0"), "§1.6: microphone amplification."),
    settings("swLevelAdjustment", Bool, Some("0"), "§1.6: software level adjustment."),
    settings("audioCodecs", CodecList, Some(DEFAULT_AUDIO_CODECS),
        "§1.6: enabled codecs in priority order, `name/rate/channels` separated by spaces; 511 characters max (§1.3).")
        .limit(AUDIO_CODECS_LIMIT),
    settings("VAD", Bool, Some("0"), "§1.6: voice activity detection."),
    settings("EC", Bool, Some("1"), "§1.6: echo cancellation."),
    settings("forceCodec", Bool, Some("0"), "§1.6: forceCodec flag (codec negotiation)."),
    settings("opusStereo", Bool, Some("0"), "§1.6: Opus in stereo."),
    settings("disableMessaging", Bool, Some("0"), "§1.6: disable instant messaging."),
    settings("disableVideo", BoolExactlyOne, Some("0"), "§1.6: disable video; true only when exactly 1; video builds only."),
    settings("videoCaptureDevice", Text, Some(""), "§1.6: camera name, empty = default; written quoted; video builds only.").quoted(),
    settings("videoCodec", Text, Some(""), "§1.6: preferred video codec, empty = default; video builds only."),
    settings("videoH264", BoolUnlessZero, Some("1"), "§1.6: H.264 enabled unless exactly 0; video builds only."),
    settings("videoH263", BoolUnlessZero, Some("1"), "§1.6: H.263 enabled unless exactly 0; video builds only."),
    settings("videoVP8", BoolUnlessZero, Some("1"), "§1.6: VP8 enabled unless exactly 0; video builds only."),
    settings("videoVP9", BoolUnlessZero, Some("1"), "§1.6: VP9 enabled unless exactly 0; video builds only; absent in 3.20.5.")
        .since("3.21"),
    settings("videoBitrate", NON_NEGATIVE, Some("0"), "§1.6: video bitrate in kbit/s, 0 = codec default; video builds only."),
    settings("rport", BoolUnlessZero, Some("1"), "§1.6: use rport; on unless exactly 0."),
    settings("sourcePort", PORT, Some("0"), "§1.6: local SIP port, 0 = automatic."),
    settings("rtpPortMin", PORT, Some("0"), "§1.6: lowest RTP port, 0 = automatic."),
    settings("rtpPortMax", PORT, Some("0"), "§1.6: highest RTP port, 0 = automatic."),
    settings("dnsSrvNs", Text, Some(""), "§1.6: DNS server for SRV lookups."),
    settings("dnsSrv", BoolExactlyOne, Some("0"), "§1.6: use DNS SRV; true only when exactly 1."),
    settings("STUN", Text, Some(""),
        "§1.6: STUN server host[:port]; the legacy migration also deletes it, and SettingsSave writes it back."),
    settings("enableSTUN", BoolExactlyOne, Some("0"), "§1.6: use STUN; true only when exactly 1."),
    settings("recordingPath", Path, None,
        "§1.6: recordings folder; absent = `<Desktop>\\Recordings` when installed, `Recordings` when portable."),
    settings("recordingFormat", RECORDING_FORMATS, Some(""), "§1.6: recording format; the dialog treats anything but wav as mp3."),
    settings("autoRecording", Bool, Some("0"), "§1.6: record every call."),
    settings("recordingButton", Bool, Some("1"), "§1.6: show the REC button."),
    settings("buttonAC", Bool, Some("1"), "§1.6: show the auto-conference button.").since("3.22"),
    settings("buttonCONF", Bool, Some("1"), "§1.6: show the conference button.").since("3.22"),
    settings("DTMFMethod", int(0, 3), Some("0"), "§1.6: DTMF method: 0 auto, 1 in-band, 2 RFC2833, 3 SIP INFO."),
    settings("autoAnswer", AUTO_ANSWER, Some("button"), "§1.6: auto-answer mode."),
    settings("autoAnswerDelay", NON_NEGATIVE, Some("0"), "§1.6: auto-answer delay in seconds."),
    settings("autoAnswerNumber", Text, Some(""), "§1.6: auto-answer only this number."),
    settings("autoAnswerCalls", AUTO_ANSWER_CALLS, Some(""),
        "§1.6: auto-answer while other calls exist; empty = only when there is no other call.")
        .since("3.22"),
    settings("forwarding", FORWARDING, Some(""), "§1.6: call forwarding mode; absent in 3.20.5.").since("3.21"),
    settings("forwardingNumber", Text, Some(""), "§1.6: forwarding target; absent in 3.20.5.").since("3.21"),
    settings("forwardingDelay", NON_NEGATIVE, Some("0"), "§1.6: forwarding delay in seconds; absent in 3.20.5.").since("3.21"),
    settings("featureCodeCP", Text, Some("**"), "§1.6: call pickup feature code; absent in 3.20.5.").since("3.21"),
    settings("featureCodeBT", Text, Some("##"), "§1.6: blind transfer feature code; absent in 3.20.5.").since("3.21"),
    settings("featureCodeAT", Text, Some("*2"), "§1.6: attended transfer feature code; absent in 3.20.5.").since("3.21"),
    settings("enableFeatureCodeCP", Bool, Some("1"), "§1.6: enable the call pickup code; absent in 3.20.5.").since("3.21"),
    settings("enableFeatureCodeBT", Bool, Some("0"), "§1.6: enable the blind transfer code; absent in 3.20.5.").since("3.21"),
    settings("enableFeatureCodeAT", Bool, Some("0"), "§1.6: enable the attended transfer code; absent in 3.20.5.").since("3.21"),
    settings("denyIncoming", DENY_INCOMING, Some("button"), "§1.6: which incoming calls to refuse."),
    settings("usersDirectory", Text, Some(""), "§1.6, §4: remote phone book URL with placeholders."),
    settings("defaultAction", DEFAULT_ACTION, Some(""), "§1.6: default action for a contact."),
    settings("enableMediaButtons", Bool, Some("0"), "§1.6: react to keyboard media buttons."),
    settings("headsetSupport", Bool, Some("0"), "§1.6: headset (HID) support."),
    settings("localDTMF", Bool, Some("1"), "§1.6: play DTMF tones locally."),
    settings("enableLog", Bool, Some("0"), "§1.6: write `pathLocal\\<exe>_log.txt`."),
    settings("bringToFrontOnIncoming", Bool, Some("1"), "§1.6: raise the window on an incoming call."),
    settings("enableLocalAccount", Bool, Some("0"), "§1.6, §1.9: enable [Account0]; without it accountId=0 is coerced to 1."),
    settings("randomAnswerBox", Bool, Some("0"), "§1.6: randomAnswerBox flag (answer window placement)."),
    settings("disableNameLookup", Bool, Some("0"), "§1.6: disable caller name lookup.").since("3.22"),
    settings("callWaiting", Bool, Some("1"), "§1.6: call waiting."),
    settings("multiMonitor", Bool, Some("0"), "§1.6: multi-monitor window placement; absent in 3.20.5.").since("3.21"),
    settings("networkChanges", Bool, Some("1"), "§1.6: re-register on network changes.").since("3.22"),
    settings("updatesInterval", UPDATES_INTERVAL, Some(""), "§1.6: update check interval; empty = weekly."),
    settings("noResize", BoolExactlyOne, Some("0"), "§1.6: fixed window size; true only when exactly 1."),
    settings("userAgent", Text, Some(""), "§1.6: SIP User-Agent override; empty = not overridden."),
    settings("autoHangUpTime", NON_NEGATIVE, Some("0"), "§1.6: automatic hang-up time in seconds; 0 = off."),
    settings("maxConcurrentCalls", NON_NEGATIVE, Some("0"), "§1.6: concurrent call limit; 0 = off."),
    settings("noIgnoreCall", BoolExactlyOne, Some("0"), "§1.6: hide the Ignore button; true only when exactly 1."),
    settings("cmdOutgoingCall", CommandLine, Some(""), "§1.6: command run on an outgoing call; written quoted (F shows it unquoted).").quoted(),
    settings("cmdIncomingCall", CommandLine, Some(""), "§1.6: command run on an incoming call; written quoted.").quoted(),
    settings("cmdCallRing", CommandLine, Some(""), "§1.6: command run while ringing; written quoted.").quoted(),
    settings("cmdCallAnswer", CommandLine, Some(""), "§1.6: command run on answer; written quoted.").quoted(),
    settings("cmdCallAnswerVideo", CommandLine, Some(""), "§1.6: command run on video answer; written quoted; absent in 3.20.5.")
        .quoted()
        .since("3.21"),
    settings("cmdCallBusy", CommandLine, Some(""), "§1.6: command run on busy; written quoted.").quoted(),
    settings("cmdCallStart", CommandLine, Some(""), "§1.6: command run when a call starts; written quoted.").quoted(),
    settings("cmdCallEnd", CommandLine, Some(""), "§1.6: command run when a call ends; written quoted.").quoted(),
    settings("minimized", Bool, Some("0"), "§1.6: start in the tray; absent in 3.20.5.").since("3.21"),
    settings("portKnockerHost", Text, Some(""), "§1.6: port-knocking host."),
    settings("portKnockerPorts", Text, Some(""), "§1.6: port-knocking ports, comma-separated."),
    settings("mainX", INT, Some("0"), "§1.6: main window geometry (may be negative on multi-monitor setups)."),
    settings("mainY", INT, Some("0"), "§1.6: main window geometry."),
    settings("mainW", INT, Some("0"), "§1.6: main window geometry."),
    settings("mainH", INT, Some("0"), "§1.6: main window geometry."),
    settings("messagesX", INT, Some("0"), "§1.6: messages window geometry."),
    settings("messagesY", INT, Some("0"), "§1.6: messages window geometry."),
    settings("messagesW", INT, Some("0"), "§1.6: messages window geometry."),
    settings("messagesH", INT, Some("0"), "§1.6: messages window geometry."),
    settings("ringinX", INT, Some("0"), "§1.6: ringing window position."),
    settings("ringinY", INT, Some("0"), "§1.6: ringing window position."),
    settings("callsWidth0", INT, Some("0"), "§1.6: call list column width."),
    settings("callsWidth1", INT, Some("0"), "§1.6: call list column width."),
    settings("callsWidth2", INT, Some("0"), "§1.6: call list column width."),
    settings("callsWidth3", INT, Some("0"), "§1.6: call list column width."),
    settings("callsWidth4", INT, Some("0"), "§1.6: call list column width."),
    settings("callsWidth5", INT, Some("0"), "§1.6: call list column width."),
    settings("contactsWidth0", INT, Some("0"), "§1.6: contact list column width."),
    settings("contactsWidth1", INT, Some("0"), "§1.6: contact list column width."),
    settings("contactsWidth2", INT, Some("0"), "§1.6: contact list column width."),
    settings("volumeOutput", PERCENT, Some("100"), "§1.6: speaker volume, 0–100 (the dialer slider's range, C:Dialer.cpp)."),
    settings("volumeInput", PERCENT, Some("100"), "§1.6: microphone volume, 0–100 (the dialer slider's range, C:Dialer.cpp)."),
    settings("activeTab", NON_NEGATIVE, Some("0"), "§1.6: selected tab."),
    settings("FWD", Bool, Some("0"), "§1.6: forwarding toggle state; absent in 3.20.5.").since("3.21"),
    settings("AA", Bool, Some("0"), "§1.6: auto-answer toggle state."),
    settings("AC", Bool, Some("0"), "§1.6: auto-conference toggle state."),
    settings("DND", Bool, Some("0"), "§1.6: do-not-disturb toggle state."),
    settings("alwaysOnTop", INT, Some("0"), "§1.6: keep the window on top (an int, not a bool, in the source)."),
    settings("enableShortcuts", Bool, Some("0"), "§1.6, §1.10: show the [Shortcuts] buttons."),
    settings("shortcutsBottom", Bool, Some("0"), "§1.6, §1.10: shortcut buttons below the dialer."),
    settings("lastCallNumber", Text, Some(""), "§1.6: number of the last call (redial)."),
    settings("lastCallHasVideo", BoolExactlyOne, Some("0"), "§1.6: last call had video; true only when exactly 1."),
    // [Settings] keys 3.22.16 never writes (§1.6 "Other keys seen in [Settings]").
    settings("version", Text, None,
        "§1.5: pre-3.22 version stamp; 3.22 deletes it when it rewrites [Global] version.")
        .legacy(),
    settings("checkUpdatesTime", NON_NEGATIVE, None,
        "§1.5, §1.6: ≤3.21 kept the update-check time here; 3.22 uses [Global] and deletes this one.")
        .legacy(),
    settings("silent", Bool, Some("0"), "§1.6: 3.21.6 reads and writes it; 3.22.16 ignores it.").retired(),
    settings("callsLastKey", int(-1, CALLS_QTY as i64 - 1), Some("-1"),
        "§3.2: last [Calls] key written (≤3.21); 3.22 deletes it after importing [Calls] once.")
        .legacy(),
    // The pre-[AccountN] single-account keys, migrated into [Account1] and deleted when
    // `accountId` is absent (§1.6, §1.9). `STUN` is also on that list but is a live key above.
    settings("server", Text, None, "§1.6, §1.9: legacy single-account registrar, migrated to [Account1].")
        .limit(ACCOUNT_FIELD_LIMIT)
        .legacy(),
    settings("proxy", Text, None, "§1.6, §1.9: legacy single-account proxy, migrated to [Account1].")
        .limit(ACCOUNT_FIELD_LIMIT)
        .legacy(),
    settings("domain", Text, None, "§1.6, §1.9: legacy single-account domain; [Account1] is written only if it is set.")
        .limit(ACCOUNT_FIELD_LIMIT)
        .legacy(),
    settings("username", Text, None, "§1.6, §1.9: legacy single-account user, migrated to [Account1].")
        .limit(ACCOUNT_FIELD_LIMIT)
        .legacy(),
    settings("password", Password, None, "§1.6, §1.8: legacy single-account password (hex or plaintext), migrated to [Account1].")
        .limit(ACCOUNT_FIELD_LIMIT)
        .secret()
        .legacy(),
    settings("passwordSize", NON_NEGATIVE, None, "§1.8: pre-3.x struct-password length; 3.21+ only deletes it during the migration.")
        .legacy(),
    settings("id", Text, None, "§1.6: legacy single-account key, deleted by the migration.").legacy(),
    settings("displayName", Text, None, "§1.6, §1.9: legacy single-account display name, migrated to [Account1].")
        .limit(ACCOUNT_FIELD_LIMIT)
        .legacy(),
    settings("SRTP", SRTP, None, "§1.6, §1.9: legacy single-account SRTP mode, migrated to [Account1].").legacy(),
    settings("transport", TRANSPORT, None, "§1.6, §1.9: legacy single-account transport, migrated to [Account1].").legacy(),
    settings("publicAddr", Text, None, "§1.6, §1.9: legacy single-account public address, migrated to [Account1].").legacy(),
    settings("publish", BoolExactlyOne, None, "§1.6, §1.9: legacy single-account presence PUBLISH, migrated to [Account1].").legacy(),
    settings("ICE", BoolExactlyOne, None, "§1.6, §1.9: legacy single-account ICE, migrated to [Account1].").legacy(),
    settings("allowRewrite", BoolExactlyOne, None, "§1.6, §1.9: legacy single-account allowRewrite, migrated to [Account1].").legacy(),
    settings("authID", Text, None, "§1.6, §1.9: legacy single-account login, migrated to [Account1].")
        .limit(ACCOUNT_FIELD_LIMIT)
        .legacy(),
    // ---- [AccountN], in AccountSave order; all 21 are written on every save (§1.7) ----
    account("label", Text, None,
        "§1.7 #1: menu label; absent = \"\" for [Account1…] but LOCAL_ACCOUNT_LABEL for [Account0]; empty shows username@domain."),
    account("server", Text, Some(""), "§1.7 #2: registrar host[:port]; empty = no REGISTER.").limit(ACCOUNT_FIELD_LIMIT),
    account("proxy", Text, Some(""), "§1.7 #3: outbound proxy host[:port].").limit(ACCOUNT_FIELD_LIMIT),
    account("domain", Text, Some(""), "§1.7 #4, §1.9: SIP domain; required: empty means the account does not exist.")
        .limit(ACCOUNT_FIELD_LIMIT),
    account("username", Text, Some(""), "§1.7 #5: user; if empty, MicroSIP saves username and password empty.")
        .limit(ACCOUNT_FIELD_LIMIT),
    account("password", Password, Some(""),
        "§1.7 #6, §1.8: lowercase hex ciphertext or plaintext (encrypted by MicroSIP on load); secret.")
        .limit(ACCOUNT_FIELD_LIMIT)
        .secret(),
    account("authID", Text, Some(""), "§1.7 #7: login, if different from username.").limit(ACCOUNT_FIELD_LIMIT),
    account("displayName", Text, Some(""), "§1.7 #8: display name.").limit(ACCOUNT_FIELD_LIMIT),
    account("dialingPrefix", Text, Some(""), "§1.7 #9: prefix added to dialled numbers."),
    account("dialPlan", Text, Some(""), "§1.7 #10: dial plan."),
    account("hideCID", HIDE_CID, Some(""),
        "§1.7 #11: hide caller ID; 3.22 \"\"/soft/hard (reads 1 as hard, 0 as \"\"); ≤3.21 0/1."),
    account("voicemailNumber", Text, Some(""), "§1.7 #12: voicemail number."),
    account("transport", TRANSPORT, Some("udp"), "§1.7 #13, §1.3: udp/tcp/tls; empty = UDP+TCP, absent = udp."),
    account("publicAddr", Text, Some(""), "§1.7 #14: public IP, empty = automatic."),
    account("SRTP", SRTP, Some(""), "§1.7 #15: media encryption; dtls-sdes and dtls are 3.22+."),
    account("registerRefresh", INT, Some("300"), "§1.7 #16: re-register interval in s; ≤0 becomes 300, 1–10 become 10."),
    account("keepAlive", INT, Some("15"), "§1.7 #17: keep-alive interval in s; ≤0 becomes 15, 3.22 turns 1 into 2."),
    account("publish", BoolExactlyOne, Some("0"), "§1.7 #18: presence PUBLISH; true only when exactly 1."),
    account("ICE", BoolExactlyOne, Some("0"), "§1.7 #19: ICE; true only when exactly 1."),
    account("allowRewrite", BoolExactlyOne, Some("0"), "§1.7 #20: allow contact rewrite; true only when exactly 1."),
    account("disableSessionTimer", BoolExactlyOne, Some("0"), "§1.7 #21: disable SIP session timers; true only when exactly 1."),
    account("passwordSize", NON_NEGATIVE, None,
        "§1.8: pre-3.x struct-password length; 3.19/3.20 convert and delete it, 3.21+ ignore it here.")
        .retired(),
    // ---- Indexed sections ----
    indexed(SectionKind::Shortcuts, KeyType::Shortcut,
        "§1.10: speed-dial button `label;number;type;number2;presence[;label2]`, keys 0…7; loading stops at the first gap.")
        .limit(SHORTCUT_LIMIT),
    indexed(SectionKind::Dialed, Text,
        "§1.4: a dialled number, 0 = newest, keys 0…9; rewritten whole on every dial."),
    indexed(SectionKind::Calls, KeyType::CallEntry,
        "§3.2: ≤3.21 history entry `number;name;type;time;duration;info` or `null`; 3.22 imports once, then deletes.")
        .legacy(),
    indexed(SectionKind::Contacts, KeyType::LegacyContact,
        "§1.4: pre-XML contact `number;name;presence;directory`; imported into Contacts.xml once, then deleted.")
        .legacy(),
];

/// The spec for `key` in section `section_name`, matched ASCII case-insensitively as Win32 does
/// (§1.3). `[Account7] password` finds the account `password` row; `[Shortcuts] 3` finds the
/// indexed row. `None` for sections or keys MicroSIP never reads (including index keys outside
/// the section's range or not in `%d` form, such as `[Shortcuts] 8` or `[Dialed] 01`).
pub fn lookup(section_name: &str, key: &str) -> Option<&'static KeySpec> {
    let (kind, _) = classify(section_name)?;
    lookup_in(kind, key)
}

/// [`lookup`] for an already classified section.
pub fn lookup_in(kind: SectionKind, key: &str) -> Option<&'static KeySpec> {
    match kind.key_naming() {
        KeyNaming::Indexed { count } => {
            parse_index(key, count)?;
            section_keys(kind).find(|spec| spec.is_indexed())
        }
        KeyNaming::Named => section_keys(kind).find(|spec| spec.name.eq_ignore_ascii_case(key)),
    }
}

/// Most characters MicroSIP reads from this value (§1.3); `None` when MicroSIP never reads it.
pub fn value_limit(section_name: &str, key: &str) -> Option<usize> {
    lookup(section_name, key).map(|spec| spec.limit)
}

/// Whether the value must never be shown (§1.8). Redaction fails safe: a key named `password`
/// is secret even where MicroSIP would not read it (an unknown section, `[Account01]`, …).
pub fn is_secret(section_name: &str, key: &str) -> bool {
    match lookup(section_name, key) {
        Some(spec) => spec.secret,
        None => key.eq_ignore_ascii_case("password"),
    }
}

/// All rows of one section, in table (save) order, live keys first.
pub fn section_keys(kind: SectionKind) -> impl Iterator<Item = &'static KeySpec> {
    KEYS.iter().filter(move |spec| spec.section == kind)
}

/// The 21 keys `AccountSave` writes, in its order (§1.7). New account sections are written in
/// this order.
pub fn account_keys() -> impl Iterator<Item = &'static KeySpec> {
    section_keys(SectionKind::Account).filter(|spec| spec.status == KeyStatus::Live)
}

/// Check `value` against `spec`: no line break or NUL, at most `spec.limit` UTF-16 units, and the
/// type's syntax (booleans `0`/`1`, integer range, choice membership, list formats). An empty
/// value is accepted only where it means something (text, choices listing `""`), because empty is
/// not the same as absent (§1.3). The error is a sentence naming what is allowed; it never
/// repeats a secret value, and the caller adds the section and key.
pub fn check_value(spec: &KeySpec, value: &str) -> Result<(), String> {
    let shown = |v: &str| {
        if spec.secret {
            "the given value".to_string()
        } else {
            format!("{v:?}")
        }
    };
    if value.contains(['\r', '\n', '\0']) {
        return Err("contains a line break or NUL, which an INI value cannot hold (§1.3)".into());
    }
    let len = value.encode_utf16().count();
    if len > spec.limit {
        return Err(format!(
            "is {len} characters long; MicroSIP reads at most {} and silently truncates the rest (§1.3)",
            spec.limit
        ));
    }
    if value.is_empty() {
        if let KeyNaming::Indexed { .. } = spec.section.key_naming() {
            return Err(format!(
                "is empty; MicroSIP reads an empty {} key as missing, which ends the list (§1.10)",
                spec.section
            ));
        }
    }
    let empty_hint = || {
        match spec.default {
        Some(default) => format!(
            "; an empty value is not the same as an absent key (§1.3): omit the key for the default {default:?}"
        ),
        None => "; an empty value is not the same as an absent key (§1.3)".to_string(),
    }
    };
    match spec.ty {
        KeyType::Bool | KeyType::BoolExactlyOne | KeyType::BoolUnlessZero => match value {
            "0" | "1" => Ok(()),
            "" => Err(format!("expected 0 or 1{}", empty_hint())),
            _ => Err(format!("expected 0 or 1, got {}", shown(value))),
        },
        KeyType::Int { min, max } => {
            let wanted = describe_int(min, max);
            if value.is_empty() {
                return Err(format!("expected {wanted}{}", empty_hint()));
            }
            let lo = min.unwrap_or(i32::MIN.into());
            let hi = max.unwrap_or(i32::MAX.into());
            match parse_decimal(value) {
                Some(n) if (lo..=hi).contains(&n) => Ok(()),
                _ => Err(format!("expected {wanted}, got {}", shown(value))),
            }
        }
        KeyType::Choice(values) => {
            if values.contains(&value) {
                Ok(())
            } else {
                Err(format!(
                    "expected {}, got {}",
                    describe_choices(values),
                    shown(value)
                ))
            }
        }
        KeyType::Text | KeyType::Path | KeyType::CommandLine | KeyType::Password => Ok(()),
        KeyType::CodecList => check_codec_list(value).map_err(|bad| {
            format!(
                "expected codecs as name/rate/channels separated by single spaces, \
                 e.g. \"opus/48000/2 PCMA/8000/1\" (§1.6); {bad}{}",
                if value.is_empty() {
                    empty_hint()
                } else {
                    String::new()
                }
            )
        }),
        KeyType::Shortcut => check_shortcut(value),
        KeyType::CallEntry => check_call_entry(value),
        KeyType::LegacyContact => check_legacy_contact(value),
    }
}

/// A decimal C `int` as MicroSIP writes it with `%d`: optional `-`, then digits.
fn parse_decimal(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn describe_int(min: Option<i64>, max: Option<i64>) -> String {
    match (min, max) {
        (Some(lo), Some(hi)) => format!("a whole number from {lo} to {hi}"),
        (Some(lo), None) => format!("a whole number of at least {lo}"),
        (None, Some(hi)) => format!("a whole number of at most {hi}"),
        (None, None) => "a whole number".to_string(),
    }
}

fn describe_choices(values: &[&str]) -> String {
    let shown: Vec<String> = values
        .iter()
        .map(|v| {
            if v.is_empty() {
                "\"\" (empty)".to_string()
            } else {
                format!("{v:?}")
            }
        })
        .collect();
    match shown.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("one of {} or {last}", rest.join(", ")),
        None => "nothing".to_string(),
    }
}

fn check_codec_list(value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err("the list is empty, which enables no codec".to_string());
    }
    for token in value.split(' ') {
        let parts: Vec<&str> = token.split('/').collect();
        let ok = matches!(parts.as_slice(), [name, rate, channels]
            if !name.is_empty()
                && !rate.is_empty() && rate.bytes().all(|b| b.is_ascii_digit())
                && !channels.is_empty() && channels.bytes().all(|b| b.is_ascii_digit()));
        if !ok {
            return Err(format!("{token:?} is not one"));
        }
    }
    Ok(())
}

/// §1.10 and C:settings.cpp `ShortcutDecode`: fields are split at `;`; without a `type` field the
/// button silently becomes a DTMF button, so at least `label;number;type` is required.
fn check_shortcut(value: &str) -> Result<(), String> {
    const FORMAT: &str =
        "expected label;number;type;number2;presence, plus ;label2 in 3.22 (§1.10)";
    let fields: Vec<&str> = value.split(';').collect();
    if !(3..=6).contains(&fields.len()) {
        return Err(format!(
            "{FORMAT}; got {} field(s) in {value:?}",
            fields.len()
        ));
    }
    if !SHORTCUT_TYPES.contains(&fields[2]) {
        return Err(format!(
            "{FORMAT}; type must be {}, got {:?}",
            describe_choices(SHORTCUT_TYPES),
            fields[2]
        ));
    }
    match fields.get(4) {
        Some(presence) if !matches!(*presence, "0" | "1") => Err(format!(
            "{FORMAT}; presence must be 0 or 1, got {presence:?}"
        )),
        _ => Ok(()),
    }
}

/// §3.2: six `;`-separated fields with no escaping, so a `;` inside a field corrupts the entry.
fn check_call_entry(value: &str) -> Result<(), String> {
    const FORMAT: &str =
        "expected \"null\" or number;name;type;time;duration;info with no ';' inside a field (§3.2)";
    if value == CALLS_DELETED {
        return Ok(());
    }
    let fields: Vec<&str> = value.split(';').collect();
    let [_, _, kind, time, duration, _] = fields.as_slice() else {
        return Err(format!("{FORMAT}; got {} field(s)", fields.len()));
    };
    if !matches!(*kind, "0" | "1" | "2" | "3") {
        return Err(format!(
            "{FORMAT}; type must be 0 out, 1 in, 2 missed or 3 answered elsewhere, got {kind:?}"
        ));
    }
    for (what, field) in [("time", time), ("duration", duration)] {
        if parse_decimal(field).is_none_or(|n| n < 0) {
            return Err(format!(
                "{FORMAT}; {what} must be a whole number of seconds, got {field:?}"
            ));
        }
    }
    Ok(())
}

/// §1.4: `number;name;presence;directory`, written `%s;%s;%d;%d` by the pre-XML versions.
fn check_legacy_contact(value: &str) -> Result<(), String> {
    const FORMAT: &str =
        "expected number;name;presence;directory with presence and directory 0 or 1 (§1.4)";
    match value.split(';').collect::<Vec<_>>().as_slice() {
        [_, _, "0" | "1", "0" | "1"] => Ok(()),
        _ => Err(format!("{FORMAT}, got {value:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn account_keys_are_the_21_in_save_order() {
        let names: Vec<&str> = account_keys().map(|spec| spec.name).collect();
        assert_eq!(
            names,
            [
                "label",
                "server",
                "proxy",
                "domain",
                "username",
                "password",
                "authID",
                "displayName",
                "dialingPrefix",
                "dialPlan",
                "hideCID",
                "voicemailNumber",
                "transport",
                "publicAddr",
                "SRTP",
                "registerRefresh",
                "keepAlive",
                "publish",
                "ICE",
                "allowRewrite",
                "disableSessionTimer",
            ]
        );
        // Live rows come before the others, so table order is save order.
        let statuses: Vec<KeyStatus> = section_keys(SectionKind::Account)
            .map(|spec| spec.status)
            .collect();
        assert!(statuses[..21].iter().all(|s| *s == KeyStatus::Live));
        assert!(statuses[21..].iter().all(|s| *s != KeyStatus::Live));
    }

    #[test]
    fn settings_keys_are_in_settings_save_order() {
        // 3.22.16 `SettingsSave` order (§1.6, samples/microsip.ini).
        let expected = "accountId singleMode ringingSound volumeRing audioRingDevice \
            audioOutputDevice audioInputDevice micAmplification swLevelAdjustment audioCodecs VAD EC \
            forceCodec opusStereo disableMessaging disableVideo videoCaptureDevice videoCodec \
            videoH264 videoH263 videoVP8 videoVP9 videoBitrate rport sourcePort rtpPortMin \
            rtpPortMax dnsSrvNs dnsSrv STUN enableSTUN recordingPath recordingFormat autoRecording \
            recordingButton buttonAC buttonCONF DTMFMethod autoAnswer autoAnswerDelay \
            autoAnswerNumber autoAnswerCalls forwarding forwardingNumber forwardingDelay \
            featureCodeCP featureCodeBT featureCodeAT enableFeatureCodeCP enableFeatureCodeBT \
            enableFeatureCodeAT denyIncoming usersDirectory defaultAction enableMediaButtons \
            headsetSupport localDTMF enableLog bringToFrontOnIncoming enableLocalAccount \
            randomAnswerBox disableNameLookup callWaiting multiMonitor networkChanges \
            updatesInterval noResize userAgent autoHangUpTime maxConcurrentCalls noIgnoreCall \
            cmdOutgoingCall cmdIncomingCall cmdCallRing cmdCallAnswer cmdCallAnswerVideo \
            cmdCallBusy cmdCallStart cmdCallEnd minimized portKnockerHost portKnockerPorts mainX \
            mainY mainW mainH messagesX messagesY messagesW messagesH ringinX ringinY callsWidth0 \
            callsWidth1 callsWidth2 callsWidth3 callsWidth4 callsWidth5 contactsWidth0 \
            contactsWidth1 contactsWidth2 volumeOutput volumeInput activeTab FWD AA AC DND \
            alwaysOnTop enableShortcuts shortcutsBottom lastCallNumber lastCallHasVideo";
        let live: Vec<&str> = section_keys(SectionKind::Settings)
            .filter(|spec| spec.status == KeyStatus::Live)
            .map(|spec| spec.name)
            .collect();
        assert_eq!(live, expected.split_whitespace().collect::<Vec<_>>());
        let global: Vec<&str> = section_keys(SectionKind::Global).map(|s| s.name).collect();
        assert_eq!(global, ["version", "checkUpdatesTime"]);
    }

    #[test]
    fn no_duplicate_rows() {
        let mut seen = HashSet::new();
        for spec in KEYS {
            assert!(
                seen.insert((spec.section, spec.name.to_ascii_lowercase())),
                "duplicate row {} {}",
                spec.section,
                spec.name
            );
        }
    }

    #[test]
    fn every_row_is_documented_and_consistent() {
        for spec in KEYS {
            assert!(
                spec.doc.contains('§'),
                "{} {} doc cites no section",
                spec.section,
                spec.name
            );
            assert!(
                !spec.doc.contains('\n'),
                "{} doc is not one line",
                spec.name
            );
            if let Some(default) = spec.default {
                if let Err(e) = check_value(spec, default) {
                    panic!(
                        "{} {} default {default:?} fails its own check: {e}",
                        spec.section, spec.name
                    );
                }
            }
            assert_eq!(
                spec.is_indexed(),
                matches!(spec.section.key_naming(), KeyNaming::Indexed { .. }),
                "{} {}",
                spec.section,
                spec.name
            );
        }
        for kind in SectionKind::ALL {
            assert!(section_keys(kind).next().is_some(), "{kind} has no rows");
        }
    }

    #[test]
    fn classify_sections() {
        assert_eq!(
            classify("Account12"),
            Some((SectionKind::Account, Some(12)))
        );
        assert_eq!(
            classify("ACCOUNT12"),
            Some((SectionKind::Account, Some(12)))
        );
        assert_eq!(classify("account0"), Some((SectionKind::Account, Some(0))));
        assert_eq!(
            classify("Account2147483647"),
            Some((SectionKind::Account, Some(2147483647)))
        );
        for bad in [
            "Account",
            "Accountx",
            "Account01",
            "Account+1",
            "Account-1",
            "Account 1",
            "Account2147483648",
            "Accounts",
            "",
        ] {
            assert_eq!(classify(bad), None, "{bad:?}");
        }
        assert_eq!(classify("settings"), Some((SectionKind::Settings, None)));
        assert_eq!(classify("GLOBAL"), Some((SectionKind::Global, None)));
        assert_eq!(classify("Shortcuts"), Some((SectionKind::Shortcuts, None)));
        assert_eq!(classify("dialed"), Some((SectionKind::Dialed, None)));
        assert_eq!(classify("Calls"), Some((SectionKind::Calls, None)));
        assert_eq!(classify("Contacts"), Some((SectionKind::Contacts, None)));
        assert_eq!(classify("Settings2"), None);
        assert_eq!(classify("Accöunt1"), None);
    }

    #[test]
    fn section_names_round_trip() {
        assert_eq!(
            section_name(SectionKind::Account, Some(7)).as_deref(),
            Some("Account7")
        );
        assert_eq!(section_name(SectionKind::Account, None), None);
        assert_eq!(section_name(SectionKind::Settings, Some(1)), None);
        for kind in SectionKind::ALL {
            let index = (kind == SectionKind::Account).then_some(3);
            let name = section_name(kind, index).unwrap();
            assert_eq!(classify(&name), Some((kind, index)));
        }
    }

    #[test]
    fn lookup_ignores_ascii_case() {
        let spec = lookup("account7", "PASSWORD").unwrap();
        assert_eq!(
            (spec.section, spec.name),
            (SectionKind::Account, "password")
        );
        assert_eq!(
            lookup("SETTINGS", "audiocodecs").unwrap().name,
            "audioCodecs"
        );
        assert_eq!(lookup("Account0", "Label").unwrap().name, "label");
        assert_eq!(
            lookup("global", "VERSION").unwrap().section,
            SectionKind::Global
        );
        assert_eq!(lookup("Settings", "crashReport"), None);
        assert_eq!(lookup("Account1", "AVPF"), None);
        assert_eq!(lookup("Unknown", "label"), None);
    }

    #[test]
    fn lookup_indexed_sections() {
        for i in 0..8 {
            assert!(lookup("Shortcuts", &i.to_string()).unwrap().is_indexed());
        }
        assert_eq!(lookup("Shortcuts", "8"), None);
        assert_eq!(lookup("Shortcuts", "07"), None);
        assert_eq!(lookup("Shortcuts", "*"), None);
        assert_eq!(lookup("Shortcuts", "label"), None);
        assert!(lookup("Dialed", "9").is_some());
        assert_eq!(lookup("Dialed", "10"), None);
        assert!(lookup("Calls", "999").is_some());
        assert_eq!(lookup("Calls", "1000"), None);
        assert!(lookup("Contacts", "12345").is_some());
        assert_eq!(lookup("Settings", "*"), None);
    }

    #[test]
    fn limits() {
        assert_eq!(value_limit("Settings", "volumeRing"), Some(255));
        assert_eq!(value_limit("Settings", "cmdCallEnd"), Some(255));
        assert_eq!(value_limit("Global", "version"), Some(255));
        for key in [
            "server",
            "proxy",
            "domain",
            "username",
            "password",
            "authID",
            "displayName",
        ] {
            assert_eq!(value_limit("Account3", key), Some(1040), "{key}");
        }
        for key in [
            "label",
            "dialingPrefix",
            "dialPlan",
            "transport",
            "keepAlive",
        ] {
            assert_eq!(value_limit("Account3", key), Some(255), "{key}");
        }
        assert_eq!(value_limit("settings", "AUDIOCODECS"), Some(511));
        assert_eq!(value_limit("Shortcuts", "0"), Some(1023));
        assert_eq!(value_limit("Dialed", "0"), Some(255));
        assert_eq!(value_limit("Calls", "0"), Some(255));
        assert_eq!(value_limit("Contacts", "0"), Some(255));
        assert_eq!(value_limit("MySection", "x"), None);
        assert_eq!(value_limit("Settings", "notAKey"), None);
    }

    #[test]
    fn only_passwords_are_secret() {
        for spec in KEYS {
            assert_eq!(
                spec.secret,
                spec.name == "password",
                "{} {}",
                spec.section,
                spec.name
            );
            assert_eq!(
                spec.secret,
                spec.ty == KeyType::Password,
                "{} {}",
                spec.section,
                spec.name
            );
        }
        assert!(is_secret("Account3", "password"));
        assert!(is_secret("ACCOUNT3", "Password"));
        assert!(is_secret("Settings", "password"));
        assert!(!is_secret("Account3", "username"));
        assert!(!is_secret("Settings", "passwordSize"));
        // Fail safe where MicroSIP would not read the key.
        assert!(is_secret("Account01", "password"));
        assert!(is_secret("Custom", "PASSWORD"));
        assert!(!is_secret("Custom", "user"));
    }

    #[test]
    fn quoted_keys() {
        let quoted: Vec<&str> = KEYS.iter().filter(|s| s.quoted).map(|s| s.name).collect();
        assert_eq!(
            quoted,
            [
                "audioRingDevice",
                "audioOutputDevice",
                "audioInputDevice",
                "videoCaptureDevice",
                "cmdOutgoingCall",
                "cmdIncomingCall",
                "cmdCallRing",
                "cmdCallAnswer",
                "cmdCallAnswerVideo",
                "cmdCallBusy",
                "cmdCallStart",
                "cmdCallEnd",
            ]
        );
    }

    fn spec_of(section: &str, key: &str) -> &'static KeySpec {
        lookup(section, key).unwrap_or_else(|| panic!("no spec for [{section}] {key}"))
    }

    #[test]
    fn check_booleans() {
        for (section, key) in [
            ("Settings", "VAD"),
            ("Settings", "dnsSrv"),
            ("Settings", "rport"),
        ] {
            let spec = spec_of(section, key);
            assert!(check_value(spec, "0").is_ok());
            assert!(check_value(spec, "1").is_ok());
            let err = check_value(spec, "yes").unwrap_err();
            assert!(err.contains("0 or 1"), "{err}");
            let err = check_value(spec, "").unwrap_err();
            assert!(err.contains("absent"), "{err}");
        }
        assert!(check_value(spec_of("Settings", "EC"), "2").is_err());
    }

    #[test]
    fn check_integers() {
        let volume = spec_of("Settings", "volumeRing");
        assert!(check_value(volume, "0").is_ok());
        assert!(check_value(volume, "100").is_ok());
        let err = check_value(volume, "101").unwrap_err();
        assert!(err.contains("from 0 to 100"), "{err}");
        assert!(check_value(volume, "-1").is_err());
        assert!(check_value(volume, "+5").is_err());
        assert!(check_value(volume, "5 ").is_err());
        assert!(check_value(volume, "abc").is_err());
        assert!(check_value(volume, "").unwrap_err().contains("\"100\""));
        let x = spec_of("Settings", "mainX");
        assert!(check_value(x, "-1920").is_ok());
        assert!(check_value(x, "2147483648").is_err());
        assert!(check_value(spec_of("Settings", "DTMFMethod"), "3").is_ok());
        assert!(check_value(spec_of("Settings", "DTMFMethod"), "4").is_err());
        assert!(check_value(spec_of("Settings", "sourcePort"), "65536").is_err());
        assert!(check_value(spec_of("Settings", "accountId"), "-1").is_err());
        assert!(check_value(spec_of("Settings", "accountId"), "250").is_ok());
        assert!(check_value(spec_of("Settings", "callsLastKey"), "-1").is_ok());
        assert!(check_value(spec_of("Settings", "callsLastKey"), "1000").is_err());
    }

    #[test]
    fn check_choices() {
        let transport = spec_of("Account1", "transport");
        for ok in ["udp", "tcp", "tls", ""] {
            assert!(check_value(transport, ok).is_ok(), "{ok:?}");
        }
        let err = check_value(transport, "TLS").unwrap_err();
        assert!(
            err.contains("\"udp\"") && err.contains("(empty)") && err.contains("\"TLS\""),
            "{err}"
        );
        let srtp = spec_of("Account1", "SRTP");
        assert!(check_value(srtp, "dtls-sdes").is_ok());
        assert!(check_value(srtp, "required").is_err());
        let hide = spec_of("Account1", "hideCID");
        for ok in ["", "soft", "hard", "0", "1"] {
            assert!(check_value(hide, ok).is_ok(), "{ok:?}");
        }
        assert!(check_value(spec_of("Settings", "autoAnswer"), "").is_ok());
        assert!(check_value(spec_of("Settings", "updatesInterval"), "weekly").is_err());
    }

    #[test]
    fn check_lengths_and_text() {
        let password = spec_of("Account1", "password");
        let long = "x".repeat(1040);
        assert!(check_value(password, &long).is_ok());
        let err = check_value(password, &format!("{long}y")).unwrap_err();
        assert!(err.contains("1040") && !err.contains("xxxx"), "{err}");
        assert!(check_value(password, "").is_ok());
        assert!(check_value(spec_of("Account1", "label"), &"é".repeat(255)).is_ok());
        // Win32 counts UTF-16 units: a non-BMP character takes two.
        assert!(check_value(spec_of("Account1", "label"), &"😀".repeat(128)).is_err());
        assert!(check_value(spec_of("Settings", "userAgent"), "a\r\nb").is_err());
        assert!(check_value(spec_of("Settings", "audioRingDevice"), "Speakers \"x\"").is_ok());
        let err = check_value(password, "se\ncret").unwrap_err();
        assert!(!err.contains("cret"), "{err}");
        let err = check_value(spec_of("Settings", "password"), &"p".repeat(2000)).unwrap_err();
        assert!(!err.contains("ppp"), "{err}");
    }

    #[test]
    fn check_codec_lists() {
        let codecs = spec_of("Settings", "audioCodecs");
        assert!(check_value(codecs, DEFAULT_AUDIO_CODECS).is_ok());
        assert!(check_value(codecs, "opus/48000/2 G722/16000/1 G729/8000/1").is_ok());
        for bad in [
            "",
            "opus",
            "opus/48000",
            "opus/48000/2  PCMA/8000/1",
            "opus/x/2",
            "/8000/1",
        ] {
            let err = check_value(codecs, bad).unwrap_err();
            assert!(err.contains("name/rate/channels"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn check_indexed_values() {
        let shortcut = spec_of("Shortcuts", "0");
        assert!(check_value(shortcut, "Inativo;*4801;call;*4800;0").is_ok());
        assert!(check_value(shortcut, "Reception;100;call;;1;").is_ok());
        assert!(check_value(shortcut, "Park;*70;attendedTransfer").is_ok());
        assert!(check_value(shortcut, "Old;100;0;;0").is_ok());
        assert!(check_value(shortcut, "Reception;100").is_err());
        assert!(check_value(shortcut, "Reception;100;ring;;0")
            .unwrap_err()
            .contains("\"call\""));
        assert!(check_value(shortcut, "Reception;100;call;;yes").is_err());
        assert!(check_value(shortcut, "a;b;call;d;0;f;g").is_err());
        assert!(check_value(shortcut, "")
            .unwrap_err()
            .contains("[Shortcuts]"));

        let dialed = spec_of("Dialed", "0");
        assert!(check_value(dialed, "+4930123456").is_ok());
        assert!(check_value(dialed, "").is_err());

        let call = spec_of("Calls", "17");
        assert!(check_value(call, "null").is_ok());
        assert!(check_value(call, "100;Reception;1;1700000000;42;").is_ok());
        assert!(check_value(call, "100;Smith; John;1;1700000000;42;").is_err());
        assert!(check_value(call, "100;Reception;5;1700000000;42;").is_err());
        assert!(check_value(call, "100;Reception;1;yesterday;42;").is_err());

        let contact = spec_of("Contacts", "0");
        assert!(check_value(contact, "100;Reception;1;0").is_ok());
        assert!(check_value(contact, "100;Reception;yes;0").is_err());
    }

    #[test]
    fn statuses() {
        assert_eq!(
            spec_of("Settings", "callsLastKey").status,
            KeyStatus::Legacy
        );
        assert_eq!(
            spec_of("Settings", "passwordSize").status,
            KeyStatus::Legacy
        );
        assert_eq!(
            spec_of("Account2", "passwordSize").status,
            KeyStatus::Retired
        );
        assert_eq!(spec_of("Settings", "silent").status, KeyStatus::Retired);
        assert_eq!(spec_of("Settings", "STUN").status, KeyStatus::Live);
        assert_eq!(spec_of("Calls", "0").status, KeyStatus::Legacy);
        assert_eq!(spec_of("Settings", "accountId").default, None);
        assert_eq!(spec_of("Account1", "transport").default, Some("udp"));
        assert_eq!(spec_of("Global", "checkUpdatesTime").since, Some("3.22"));
    }
}
