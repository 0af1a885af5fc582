//! The one call-record model every store and format converts to and from, with the call-id
//! rules MicroSIP uses.
//!
//! A [`CallRecord`] is a row of 3.22's `call_log` table without its `id` (the row number is the
//! table's business; its order is kept by exporting and importing rows in `id` order,
//! `microsip-formats.md` §3.1). `[Calls]` entries have no call id of their own, so they get the
//! one 3.22's migration derives ([`ini_call_id`], §3.1); files that carry none (a MicroSIP 3.21
//! export) get one derived from the content ([`content_call_id`]), so importing the same file
//! twice still finds the duplicates.

use std::fmt;

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

/// The four call types of 3.22's `call_log.type` and the INI's `type` field (A:Domain/Call.h,
/// `microsip-formats.md` §3.1, §3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum CallType {
    /// `0`: outgoing.
    #[default]
    Outgoing,
    /// `1`: incoming (answered).
    Incoming,
    /// `2`: missed.
    Missed,
    /// `3`: answered elsewhere (another device took the call).
    AnsweredElsewhere,
}

impl CallType {
    /// Every type, by code.
    pub const ALL: [CallType; 4] = [
        CallType::Outgoing,
        CallType::Incoming,
        CallType::Missed,
        CallType::AnsweredElsewhere,
    ];

    /// The number MicroSIP stores: 0..3.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The type for a stored number, `None` outside 0..3.
    pub fn from_code(code: i64) -> Option<CallType> {
        usize::try_from(code)
            .ok()
            .and_then(|i| CallType::ALL.get(i).copied())
    }

    /// The name 3.21's XML export writes: `out`, `in`, `miss`, `else` (§3.2).
    pub fn xml_name(self) -> &'static str {
        match self {
            CallType::Outgoing => "out",
            CallType::Incoming => "in",
            CallType::Missed => "miss",
            CallType::AnsweredElsewhere => "else",
        }
    }

    /// The name 3.22's CSV export writes: `outgoing`, `incoming`, `missed`,
    /// `answered_elsewhere` (§3.1).
    pub fn csv_name(self) -> &'static str {
        match self {
            CallType::Outgoing => "outgoing",
            CallType::Incoming => "incoming",
            CallType::Missed => "missed",
            CallType::AnsweredElsewhere => "answered_elsewhere",
        }
    }

    /// Read a type as any of our inputs spell it: the code (`0`..`3`), the XML export's names
    /// or the CSV export's names (case-insensitive). `None` for anything else.
    pub fn parse(text: &str) -> Option<CallType> {
        let text = text.trim();
        if let Ok(code) = text.parse::<i64>() {
            return CallType::from_code(code);
        }
        CallType::ALL.into_iter().find(|t| {
            text.eq_ignore_ascii_case(t.xml_name()) || text.eq_ignore_ascii_case(t.csv_name())
        })
    }
}

impl fmt::Display for CallType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.csv_name())
    }
}

impl Serialize for CallType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(self.code())
    }
}

impl<'de> Deserialize<'de> for CallType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Spelled {
            Code(i64),
            Name(String),
        }
        let invalid = |shown: String| {
            serde::de::Error::custom(format!(
                "invalid call type {shown}: expected 0 outgoing, 1 incoming, 2 missed or 3 answered elsewhere"
            ))
        };
        match Spelled::deserialize(deserializer)? {
            Spelled::Code(code) => {
                CallType::from_code(code).ok_or_else(|| invalid(code.to_string()))
            }
            Spelled::Name(name) => {
                CallType::parse(&name).ok_or_else(|| invalid(format!("{name:?}")))
            }
        }
    }
}

/// One call, as 3.22 stores it in `call_log` (every column but `id`, §3.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CallRecord {
    /// `callId`: the SIP Call-ID, or for calls from `[Calls]` the MD5 id of [`ini_call_id`].
    /// Unique in `call_log`; duplicates are recognised by it.
    #[serde(rename = "callId")]
    pub call_id: String,
    /// `number`: the user part (or `user@domain` when the domain differs from the account's).
    pub number: String,
    /// `name`: the display name.
    pub name: String,
    /// `type`.
    #[serde(rename = "type")]
    pub call_type: CallType,
    /// `time`: start of the call, Unix seconds.
    pub time: i64,
    /// `duration`: seconds.
    pub duration: i64,
    /// `info`: free text, e.g. a SIP reason such as `Busy Here`.
    #[serde(default)]
    pub info: String,
}

impl CallRecord {
    /// The same content with a call id derived from it ([`content_call_id`]), for inputs that
    /// carry none.
    pub fn with_content_id(mut self) -> CallRecord {
        self.call_id = content_call_id(&self);
        self
    }

    /// Why MicroSIP 3.22's own importer would refuse this record (A:Service/CallsService.cpp
    /// `Validate`, §3.1), or `None`. MicroSIP *displays* such rows (its migration inserts them
    /// unchecked); only its CSV import refuses them.
    pub fn microsip_validation_error(&self) -> Option<&'static str> {
        if self.call_id.is_empty() {
            Some("the call id is empty")
        } else if self.name.is_empty() {
            Some("the name is empty")
        } else if self.number.is_empty() {
            Some("the number is empty")
        } else if self.time <= 0 {
            Some("the time is not after 1970")
        } else if self.duration < 0 {
            Some("the duration is negative")
        } else {
            None
        }
    }
}

/// Lowercase hex MD5 of `text`'s bytes (what MicroSIP's `msip_md5sum` prints).
pub fn md5_hex(text: &str) -> String {
    let digest = Md5::digest(text.as_bytes());
    let mut out = String::with_capacity(32);
    for byte in digest {
        out.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
        out.push(char::from(b"0123456789abcdef"[usize::from(byte & 15)]));
    }
    out
}

/// The call id 3.22's one-time migration gives the `[Calls]` entry at `key`: the lowercase hex
/// MD5 of the ASCII text `"<key>-<time>"` (A:Service/CallsService.cpp `IniCopyCalls`, §3.1).
/// `time` is the value MicroSIP decoded, a 32-bit `atoi` result ([`atoi`]).
pub fn ini_call_id(key: u32, time: i64) -> String {
    md5_hex(&format!("{key}-{time}"))
}

/// A deterministic call id for a record read from a file without call ids (MicroSIP 3.21's XML
/// and CSV exports have none, §3.2): `content:` + the MD5 of the six fields joined by a
/// separator that cannot occur in them. The same content always gets the same id, so a second
/// import of the same file skips every row as a duplicate.
pub fn content_call_id(record: &CallRecord) -> String {
    let text = format!(
        "{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}\u{0}{}",
        record.number,
        record.name,
        record.call_type.code(),
        record.time,
        record.duration,
        record.info
    );
    format!("content:{}", md5_hex(&text))
}

/// C's `atoi` as MSVC implements it, which MicroSIP uses for `type`, `time` and `duration` of
/// a `[Calls]` value (C:Calls.cpp `CallDecode`, A:Service/CallsService.cpp `IniCallDecode`,
/// §3.2): leading white space skipped, an optional sign, then digits up to the first other
/// character; no digits gives 0; overflow gives `i32::MAX` / `i32::MIN`. Returns the value and
/// whether the text was exactly a plain integer (so callers can warn about the rest).
pub fn atoi(text: &str) -> (i64, bool) {
    let trimmed = text.trim_start_matches([' ', '\t', '\n', '\u{0B}', '\u{0C}', '\r']);
    let bytes = trimmed.as_bytes();
    let mut i = 0;
    let negative = match bytes.first() {
        Some(b'-') => {
            i = 1;
            true
        }
        Some(b'+') => {
            i = 1;
            false
        }
        _ => false,
    };
    let digits_start = i;
    let mut value: i64 = 0;
    while let Some(&b) = bytes.get(i) {
        if !b.is_ascii_digit() {
            break;
        }
        value = (value * 10 + i64::from(b - b'0')).min(1 << 40);
        i += 1;
    }
    let digits = i - digits_start;
    let value = if negative { -value } else { value };
    let clamped = value.clamp(i64::from(i32::MIN), i64::from(i32::MAX));
    let plain = digits > 0 && i == bytes.len() && trimmed.len() == text.len() && clamped == value;
    (clamped, plain)
}

/// `YYYY-MM-DDTHH:MM:SSZ` (and the date and time parts) of Unix seconds, in UTC, for any `i64`
/// a record may hold (proleptic Gregorian calendar).
pub fn utc_text(time: i64) -> (String, String) {
    let (year, month, day, hour, minute, second) = crate::report::utc_parts_of(time);
    (
        format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}Z"),
        format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_ids_match_the_sample_database() {
        // samples/call_log.sql rows 1-4 came from [Calls] keys 0, 1, 3, 4 (key 2 is `null`).
        assert_eq!(
            ini_call_id(0, 1_767_261_600),
            "f80f7e5e8314637693ace79555579c6e"
        );
        assert_eq!(
            ini_call_id(1, 1_767_265_200),
            "7ccec3c55ec6fba14c2c872ce466b360"
        );
        assert_eq!(
            ini_call_id(3, 1_767_272_400),
            "011a6852bc1ee69e2d879b329d803dbf"
        );
        assert_eq!(
            ini_call_id(4, 1_767_276_000),
            "c89eb40dece989190fdde540719a3648"
        );
    }

    #[test]
    fn atoi_is_msvc_atoi() {
        assert_eq!(atoi("42"), (42, true));
        assert_eq!(atoi("-7"), (-7, true));
        assert_eq!(atoi("+7"), (7, true));
        assert_eq!(atoi("  12abc"), (12, false));
        assert_eq!(atoi("abc"), (0, false));
        assert_eq!(atoi(""), (0, false));
        assert_eq!(atoi("99999999999"), (i64::from(i32::MAX), false));
        assert_eq!(atoi("-99999999999"), (i64::from(i32::MIN), false));
        assert_eq!(atoi("2147483647"), (2_147_483_647, true));
        assert_eq!(atoi("-2147483648"), (-2_147_483_648, true));
    }

    #[test]
    fn type_names() {
        for t in CallType::ALL {
            assert_eq!(CallType::parse(t.xml_name()), Some(t));
            assert_eq!(CallType::parse(t.csv_name()), Some(t));
            assert_eq!(CallType::parse(&t.code().to_string()), Some(t));
            assert_eq!(CallType::from_code(i64::from(t.code())), Some(t));
        }
        assert_eq!(CallType::parse("4"), None);
        assert_eq!(CallType::parse("OUT"), Some(CallType::Outgoing));
        assert_eq!(CallType::from_code(-1), None);
    }

    #[test]
    fn utc_text_formats() {
        assert_eq!(utc_text(0).0, "1970-01-01T00:00:00Z");
        assert_eq!(utc_text(1_767_261_600).0, "2026-01-01T10:00:00Z");
        assert_eq!(utc_text(1_767_261_600).1, "2026-01-01 10:00:00");
        assert_eq!(utc_text(-1).0, "1969-12-31T23:59:59Z");
    }

    #[test]
    fn content_ids_are_stable_and_distinct() {
        let record = CallRecord {
            call_id: String::new(),
            number: "100".into(),
            name: "A".into(),
            call_type: CallType::Missed,
            time: 5,
            duration: 0,
            info: String::new(),
        };
        let a = record.clone().with_content_id();
        let mut other = record.clone();
        other.name = "B".into();
        assert_eq!(a.call_id, record.clone().with_content_id().call_id);
        assert_ne!(a.call_id, other.with_content_id().call_id);
        assert!(a.call_id.starts_with("content:"));
    }
}
