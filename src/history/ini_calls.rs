//! The `[Calls]` store of MicroSIP ≤3.21: a ring buffer in the INI, read exactly as MicroSIP
//! reads it and written only through the lossless INI engine.
//!
//! Format (`microsip-formats.md` §3.2, C:Calls.cpp): keys `0`..`999`, `[Settings] callsLastKey`
//! holds the last key written (default `-1`), the next call goes to `(last + 1) mod 1000`; a
//! value is `number;name;type;time;duration;info` with no escaping; a deleted entry is the
//! literal `null`. [`read_ring`] follows 3.21's loader: keys from `0` upward, a missing (or
//! empty) key is skipped until the scan reaches `callsLastKey`, the first one at or beyond it
//! ends the scan; entries come back in cursor order (oldest first: the keys after the cursor,
//! then the keys up to it). Values are decoded field by field as MicroSIP does (`atoi`, type
//! outside 0..3 read as 0, `info` cut at a sixth `;`), and every value MicroSIP would read
//! differently from its text — above all a `;` inside a name — is reported as a warning with
//! its key and line instead of being silently guessed.

use std::collections::{HashMap, HashSet};

use crate::ini::{EditError, IniDocument};
use crate::keys::{CALLS_DELETED, CALLS_QTY};

use super::record::{atoi, ini_call_id, CallRecord, CallType};
use super::HistoryWarning;

/// The section holding the ring buffer (§3.2).
pub const CALLS_SECTION: &str = "Calls";
/// The section holding the cursor (§3.2).
pub const SETTINGS_SECTION: &str = "Settings";
/// The cursor key: the last `[Calls]` key written (§3.2).
pub const LAST_KEY: &str = "callsLastKey";
/// MicroSIP reads a `[Calls]` value into a 256-character buffer: 255 characters survive
/// (§1.3, §3.2).
pub const MICROSIP_VALUE_CHARS: usize = 255;

/// One live `[Calls]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingEntry {
    /// Its key, `0`..`999`.
    pub key: u32,
    /// The call as MicroSIP decodes it, with 3.22's migration call id ([`ini_call_id`]).
    pub record: CallRecord,
    /// 1-based line in the INI.
    pub line: Option<usize>,
    /// Whether MicroSIP 3.21 shows it: `false` for a key after the gap where its scan stops.
    pub reachable: bool,
}

/// The ring buffer as MicroSIP reads it.
#[derive(Debug, Clone, Default)]
pub struct CallsRing {
    /// The cursor as MicroSIP reads it (`_wtoi` of `callsLastKey`; `-1` when absent).
    pub last_key: i64,
    /// Whether `callsLastKey` is present at all.
    pub has_last_key: bool,
    /// Whether the INI has a `[Calls]` section.
    pub has_section: bool,
    /// Live entries: reachable ones in cursor order, then unreachable ones by key.
    pub entries: Vec<RingEntry>,
    /// Keys holding `null` (deleted entries).
    pub deleted: Vec<u32>,
    /// Everything MicroSIP reads differently from the text.
    pub warnings: Vec<HistoryWarning>,
}

impl CallsRing {
    /// Whether the INI holds any trace of the ring (the section or the cursor).
    pub fn present(&self) -> bool {
        self.has_section || self.has_last_key
    }

    /// The records in ring order.
    pub fn records(&self) -> Vec<CallRecord> {
        self.entries.iter().map(|e| e.record.clone()).collect()
    }
}

/// `key` as MicroSIP formats it (`%d`): the only spelling `GetPrivateProfileString` finds.
fn canonical_key(name: &str) -> Option<u32> {
    let key: u32 = name.parse().ok()?;
    (key.to_string() == name).then_some(key)
}

/// Read the ring buffer exactly as MicroSIP 3.21's `CallsLoad` does (§3.2), with warnings for
/// every entry it reads differently from the text.
pub fn read_ring(doc: &IniDocument) -> CallsRing {
    let mut ring = CallsRing {
        has_section: doc.has_section(CALLS_SECTION),
        last_key: -1,
        ..CallsRing::default()
    };
    if let Some(raw) = doc.get(SETTINGS_SECTION, LAST_KEY) {
        ring.has_last_key = true;
        // GetNextKey reads the cursor with `_wtoi` (C:Calls.cpp, §3.2).
        let (value, plain) = atoi(&raw);
        ring.last_key = value;
        let line = doc.line_of(SETTINGS_SECTION, LAST_KEY);
        if !plain || !(-1..i64::from(CALLS_QTY)).contains(&value) {
            ring.warnings.push(HistoryWarning::at_line(
                line,
                format!(
                    "[Settings] callsLastKey={raw:?} is not a key from -1 to 999; MicroSIP reads \
                     it as {value} (§3.2)"
                ),
            ));
        }
    }
    if !ring.has_section {
        return ring;
    }
    let mut values: HashMap<u32, String> = HashMap::new();
    let mut max_key: Option<u32> = None;
    for entry in doc.entries(CALLS_SECTION) {
        match canonical_key(&entry.name) {
            Some(key) => {
                max_key = Some(max_key.map_or(key, |m| m.max(key)));
                values.insert(key, entry.value);
            }
            None => ring.warnings.push(HistoryWarning::at_line(
                doc.line_of(CALLS_SECTION, &entry.name),
                format!(
                    "[Calls] key {:?} is not a key MicroSIP reads (it asks for 0, 1, 2, ...); \
                     it is ignored (§3.2)",
                    entry.name
                ),
            )),
        }
    }
    let Some(max_key) = max_key else {
        return ring;
    };

    // 3.21's scan: a key with a value is read; a missing or empty one (GetPrivateProfileString
    // returns 0) is skipped, and ends the scan once the scan has reached callsLastKey.
    let mut reachable: Vec<(u32, &String)> = Vec::new();
    let mut stop: Option<u32> = None;
    for key in 0..=max_key {
        match values.get(&key).filter(|v| !v.is_empty()) {
            Some(value) => reachable.push((key, value)),
            None if ring.last_key <= i64::from(key) => {
                stop = Some(key);
                break;
            }
            None => {}
        }
    }
    let mut unreachable: Vec<(u32, &String)> = match stop {
        Some(stop) => values
            .iter()
            .filter(|(k, v)| **k > stop && !v.is_empty())
            .map(|(k, v)| (*k, v))
            .collect(),
        None => Vec::new(),
    };
    unreachable.sort_by_key(|(k, _)| *k);

    // Cursor order: the keys after the cursor are the older lap, then 0..=cursor.
    reachable.sort_by_key(|(key, _)| (i64::from(*key) <= ring.last_key, *key));
    for (list, is_reachable) in [(reachable, true), (unreachable, false)] {
        for (key, value) in list {
            let line = doc.line_of(CALLS_SECTION, &key.to_string());
            if value == CALLS_DELETED {
                ring.deleted.push(key);
                continue;
            }
            let (record, issues) = decode_value(key, value);
            for issue in issues {
                ring.warnings.push(HistoryWarning::at_line(
                    line,
                    format!("[Calls] key {key}: {issue}"),
                ));
            }
            if !is_reachable {
                ring.warnings.push(HistoryWarning::at_line(
                    line,
                    format!(
                        "[Calls] key {key} comes after key {} which is missing at or beyond \
                         callsLastKey={}: MicroSIP stops reading there and never shows this call \
                         (§3.2); it is kept here",
                        stop.unwrap_or_default(),
                        ring.last_key
                    ),
                ));
            }
            ring.entries.push(RingEntry {
                key,
                record,
                line,
                reachable: is_reachable,
            });
        }
    }
    ring.deleted.sort_unstable();
    ring
}

/// Decode one value as MicroSIP does (C:Calls.cpp `CallDecode`, A:Service/CallsService.cpp
/// `IniCallDecode`, §3.2) and list everything it reads differently from the text.
///
/// Fields are cut at the first five `;`; `info` ends at a sixth one. With fewer than five, the
/// missing fields keep MicroSIP's defaults (with none at all, number and name are both the
/// whole value). `type`, `time` and `duration` go through [`atoi`]; a type outside 0..3 reads
/// as 0. The call id is 3.22's migration id for `key` and the decoded time.
pub fn decode_value(key: u32, value: &str) -> (CallRecord, Vec<String>) {
    let mut issues = Vec::new();
    let fields: Vec<&str> = value.split(';').collect();
    let separators = fields.len() - 1;
    let mut record = CallRecord {
        call_id: String::new(),
        number: value.to_string(),
        name: value.to_string(),
        call_type: CallType::Outgoing,
        time: 0,
        duration: 0,
        info: String::new(),
    };
    let numeric = |what: &str, text: &str, issues: &mut Vec<String>| {
        let (n, plain) = atoi(text);
        if !plain {
            issues.push(format!(
                "{what} {text:?} is not a plain integer; MicroSIP reads {n}"
            ));
        }
        n
    };
    if separators >= 1 {
        record.number = fields[0].to_string();
    }
    if separators >= 2 {
        record.name = fields[1].to_string();
    }
    if separators >= 3 {
        let code = numeric("type", fields[2], &mut issues);
        record.call_type = CallType::from_code(code).unwrap_or_else(|| {
            issues.push(format!(
                "type {code} is outside 0..3; MicroSIP reads it as 0 (outgoing) (§3.2)"
            ));
            CallType::Outgoing
        });
    }
    if separators >= 4 {
        record.time = numeric("time", fields[3], &mut issues);
    }
    if separators >= 5 {
        record.duration = numeric("duration", fields[4], &mut issues);
        record.info = fields[5].to_string();
    }
    match separators.cmp(&5) {
        std::cmp::Ordering::Less => issues.push(format!(
            "the value has {separators} ';' where MicroSIP expects 5 \
             (number;name;type;time;duration;info); it reads number={:?}, name={:?} and \
             defaults for the rest (§3.2)",
            record.number, record.name
        )),
        std::cmp::Ordering::Greater => {
            let mut message = format!(
                "the value has {separators} ';' where MicroSIP expects 5: a ';' inside the name \
                 or the info is ambiguous and MicroSIP has no escaping (§3.2); it reads \
                 number={:?}, name={:?}, type={}, time={}, duration={}, info={:?}",
                record.number,
                record.name,
                record.call_type.code(),
                record.time,
                record.duration,
                record.info
            );
            // Offer the other reading (the extra `;` belong to the name) without adopting it.
            let n = fields.len();
            let tail_ok = [fields[n - 4], fields[n - 3], fields[n - 2]]
                .iter()
                .all(|f| atoi(f).1);
            if tail_ok {
                message.push_str(&format!(
                    "; if the extra ';' belong to the name, the call is name={:?}, type={}, \
                     time={}, duration={}, info={:?} — fix the entry or re-import it",
                    fields[1..n - 4].join(";"),
                    fields[n - 4],
                    fields[n - 3],
                    fields[n - 2],
                    fields[n - 1]
                ));
            }
            issues.push(message);
        }
        std::cmp::Ordering::Equal => {}
    }
    let units = value.encode_utf16().count();
    if units > MICROSIP_VALUE_CHARS {
        issues.push(format!(
            "the value is {units} characters long; MicroSIP reads only the first \
             {MICROSIP_VALUE_CHARS} (§1.3), so it shows a shortened entry; the whole value is kept here"
        ));
    }
    record.call_id = ini_call_id(key, record.time);
    (record, issues)
}

/// The `[Calls]` value MicroSIP writes for `record` (`%s;%s;%d;%d;%d;%s`, C:Calls.cpp
/// `CallEncode`), or why MicroSIP could not read it back unchanged.
pub fn encode_value(record: &CallRecord) -> Result<String, String> {
    for (what, text) in [
        ("number", &record.number),
        ("name", &record.name),
        ("info", &record.info),
    ] {
        if text.contains(';') {
            return Err(format!(
                "its {what} contains ';', which [Calls] cannot store: MicroSIP would misread the \
                 entry (§3.2)"
            ));
        }
        if text.contains(['\r', '\n', '\0']) {
            return Err(format!("its {what} contains a line break or NUL"));
        }
    }
    for (what, n) in [("time", record.time), ("duration", record.duration)] {
        if i32::try_from(n).is_err() {
            return Err(format!(
                "its {what} {n} does not fit the 32-bit integer MicroSIP reads (§3.2)"
            ));
        }
    }
    let value = format!(
        "{};{};{};{};{};{}",
        record.number,
        record.name,
        record.call_type.code(),
        record.time,
        record.duration,
        record.info
    );
    let units = value.encode_utf16().count();
    if units > MICROSIP_VALUE_CHARS {
        return Err(format!(
            "the entry would be {units} characters; MicroSIP reads only {MICROSIP_VALUE_CHARS} (§1.3)"
        ));
    }
    if value == CALLS_DELETED {
        return Err("the entry would read as a deleted one".into());
    }
    Ok(value)
}

/// `(number, name, type, time, duration, info)`: how `[Calls]` recognises a call whose call id
/// it cannot store.
fn content_key(r: &CallRecord) -> (String, String, u8, i64, i64, String) {
    (
        r.number.clone(),
        r.name.clone(),
        r.call_type.code(),
        r.time,
        r.duration,
        r.info.clone(),
    )
}

/// The outcome of [`import_into`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RingImport {
    /// Calls written.
    pub inserted: usize,
    /// Calls skipped because the ring already holds them (same call id or same content) or
    /// because the input repeats them.
    pub duplicates: usize,
    /// Calls skipped because `[Calls]` cannot store them ([`encode_value`]).
    pub unrepresentable: usize,
    /// Calls stored under a key whose migration id differs from their call id.
    pub rekeyed: usize,
    /// What the admin should know.
    pub warnings: Vec<HistoryWarning>,
}

/// Why [`import_into`] wrote nothing.
#[derive(Debug)]
pub enum RingImportError {
    /// More calls than free keys.
    Full {
        /// Calls to place.
        needed: usize,
        /// Free keys (missing, empty or `null`).
        free: usize,
    },
    /// The INI engine refused a value.
    Edit(EditError),
}

/// Add `records` to the ring, as MicroSIP would have written them, without overwriting any
/// live entry. Writes nothing when it fails.
///
/// * A call already in the ring (same call id, or for ids `[Calls]` cannot hold, same content)
///   or repeated in the input is skipped.
/// * A call whose id is 3.22's migration id for some key ([`ini_call_id`]) goes back to that
///   key when it is free, so `[Calls]` -> file -> `[Calls]` restores the very same entries.
/// * The others go, oldest first, to the free keys after the cursor, as MicroSIP's own next
///   calls would; their stored id becomes the migration id of their new key (reported).
/// * Keys below the highest live key that are missing become `null`, so MicroSIP's scan cannot
///   stop early (§3.2), and `callsLastKey` points at the newest call.
pub fn import_into(
    doc: &mut IniDocument,
    records: &[CallRecord],
) -> Result<RingImport, RingImportError> {
    let ring = read_ring(doc);
    let mut outcome = RingImport::default();
    let mut ids: HashSet<String> = ring
        .entries
        .iter()
        .map(|e| e.record.call_id.clone())
        .collect();
    let mut contents: HashSet<_> = ring
        .entries
        .iter()
        .map(|e| content_key(&e.record))
        .collect();
    let mut occupied: HashSet<u32> = ring.entries.iter().map(|e| e.key).collect();

    let mut candidates: Vec<(&CallRecord, String)> = Vec::new();
    let mut unrepresentable = Vec::new();
    for record in records {
        if ids.contains(&record.call_id) || contents.contains(&content_key(record)) {
            outcome.duplicates += 1;
            continue;
        }
        match encode_value(record) {
            Ok(value) => {
                ids.insert(record.call_id.clone());
                contents.insert(content_key(record));
                candidates.push((record, value));
            }
            Err(why) => {
                unrepresentable.push(format!("callId {:?}: {why}", record.call_id));
            }
        }
    }
    outcome.unrepresentable = unrepresentable.len();
    for why in unrepresentable {
        outcome.warnings.push(HistoryWarning::new(format!(
            "not imported into [Calls]: {why}"
        )));
    }

    // Home keys first: a migration id names its key.
    let mut placed: Vec<(u32, &CallRecord, String)> = Vec::new();
    let mut homeless: Vec<(&CallRecord, String)> = Vec::new();
    for (record, value) in candidates {
        match home_key(record).filter(|k| !occupied.contains(k)) {
            Some(key) => {
                occupied.insert(key);
                placed.push((key, record, value));
            }
            None => homeless.push((record, value)),
        }
    }
    let free = (0..CALLS_QTY).filter(|k| !occupied.contains(k)).count();
    if homeless.len() > free {
        return Err(RingImportError::Full {
            needed: homeless.len(),
            free,
        });
    }
    homeless.sort_by_key(|(record, _)| record.time);
    // MicroSIP's next key: last + 1, wrapping to 0 at 1000 (C:Calls.cpp `GetNextKey`, §3.2);
    // a cursor below -1 (which MicroSIP would follow into negative keys) starts at 0 here.
    let mut cursor = u32::try_from(ring.last_key + 1)
        .ok()
        .filter(|k| *k < CALLS_QTY)
        .unwrap_or(0);
    for (record, value) in homeless {
        while occupied.contains(&cursor) {
            cursor = (cursor + 1) % CALLS_QTY;
        }
        occupied.insert(cursor);
        if ini_call_id(cursor, record.time) != record.call_id {
            outcome.rekeyed += 1;
        }
        placed.push((cursor, record, value));
    }
    if placed.is_empty() {
        return Ok(outcome);
    }
    if outcome.rekeyed > 0 {
        outcome.warnings.push(HistoryWarning::new(format!(
            "{} call(s) get a new call id in [Calls]: MicroSIP derives it from the key and the \
             time (MD5 of \"<key>-<time>\", §3.1); a later import recognises them by content",
            outcome.rekeyed
        )));
    }
    outcome.inserted = placed.len();

    // Write in key order, filling gaps below the highest live key with `null`.
    let mut values: HashMap<u32, String> = placed.iter().map(|(k, _, v)| (*k, v.clone())).collect();
    let highest = occupied.iter().copied().max().unwrap_or(0);
    for key in 0..=highest {
        let name = key.to_string();
        if let Some(value) = values.remove(&key) {
            doc.set(CALLS_SECTION, &name, &value)
                .map_err(RingImportError::Edit)?;
        } else if doc.get(CALLS_SECTION, &name).is_none_or(|v| v.is_empty()) {
            doc.set(CALLS_SECTION, &name, CALLS_DELETED)
                .map_err(RingImportError::Edit)?;
        }
    }
    // The cursor points at the newest call (what MicroSIP's loader assumes when it has none).
    let after = read_ring(doc);
    if let Some(newest) = after
        .entries
        .iter()
        .filter(|e| e.reachable)
        .max_by_key(|e| e.record.time)
    {
        doc.set(SETTINGS_SECTION, LAST_KEY, &newest.key.to_string())
            .map_err(RingImportError::Edit)?;
    }
    Ok(outcome)
}

/// The key whose 3.22 migration id is `record`'s call id, if any.
pub fn home_key(record: &CallRecord) -> Option<u32> {
    let id = record.call_id.as_bytes();
    if id.len() != 32 || !id.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    (0..CALLS_QTY).find(|&k| ini_call_id(k, record.time) == record.call_id)
}

/// Mark `keys` deleted the way MicroSIP does: the value becomes `null` (§3.2).
pub fn delete_keys(doc: &mut IniDocument, keys: &[u32]) -> Result<(), EditError> {
    for key in keys {
        doc.set(CALLS_SECTION, &key.to_string(), CALLS_DELETED)?;
    }
    Ok(())
}

/// Remove the ring after a migration as 3.22 does: the `[Calls]` section and
/// `[Settings] callsLastKey` (A:Service/CallsService.cpp `IniCopyCalls`, §3.1). Returns whether
/// anything was removed.
pub fn remove_ring(doc: &mut IniDocument) -> bool {
    let section = doc.remove_section(CALLS_SECTION);
    let key = doc.remove_key(SETTINGS_SECTION, LAST_KEY);
    section || key
}

/// The first key 3.22.16's migration does not read: it scans from `0` and stops at the first
/// missing or empty key, whatever `callsLastKey` says (A:Service/CallsService.cpp
/// `IniCopyCalls`). `None` when it reads every live entry.
pub fn migration_stop(doc: &IniDocument, ring: &CallsRing) -> Option<u32> {
    let highest = ring.entries.iter().map(|e| e.key).max()?;
    (0..=highest).find(|k| {
        doc.get(CALLS_SECTION, &k.to_string())
            .is_none_or(|v| v.is_empty())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ini::CodePage;

    fn doc(text: &str) -> IniDocument {
        IniDocument::parse(text.as_bytes(), CodePage::WINDOWS_1252).unwrap()
    }

    #[test]
    fn sample_fragment_reads_in_cursor_order_without_null() {
        let d = doc("[Settings]\r\ncallsLastKey=4\r\n[Calls]\r\n0=+4930123456;Anna;0;1767261600;125;\r\n1=8001;Li;1;1767265200;42;\r\n2=null\r\n3=2002;\"Big Mike\" O'Neil;2;1767272400;0;Request Terminated\r\n4=sip:tj@example.com;Tom;3;1767276000;0;Call completed elsewhere\r\n");
        let ring = read_ring(&d);
        assert!(ring.warnings.is_empty(), "{:?}", ring.warnings);
        assert_eq!(
            ring.entries.iter().map(|e| e.key).collect::<Vec<_>>(),
            vec![0, 1, 3, 4]
        );
        assert_eq!(ring.deleted, vec![2]);
        assert_eq!(ring.entries[2].record.name, "\"Big Mike\" O'Neil");
        assert_eq!(
            ring.entries[3].record.call_type,
            CallType::AnsweredElsewhere
        );
        assert_eq!(
            ring.entries[0].record.call_id,
            "f80f7e5e8314637693ace79555579c6e"
        );
    }

    #[test]
    fn wrapped_ring_starts_after_the_cursor() {
        let d = doc("[Settings]\ncallsLastKey=1\n[Calls]\n0=a;A;0;30;0;\n1=b;B;0;40;0;\n2=c;C;0;10;0;\n3=d;D;0;20;0;\n");
        let ring = read_ring(&d);
        let names: Vec<_> = ring
            .entries
            .iter()
            .map(|e| e.record.name.as_str())
            .collect();
        assert_eq!(names, ["C", "D", "A", "B"]);
    }

    #[test]
    fn gaps_are_skipped_below_the_cursor_and_stop_the_scan_beyond_it() {
        let d = doc("[Settings]\ncallsLastKey=3\n[Calls]\n0=a;A;0;1;0;\n2=c;C;0;3;0;\n3=d;D;0;4;0;\n5=f;F;0;6;0;\n");
        let ring = read_ring(&d);
        let keys: Vec<_> = ring.entries.iter().map(|e| (e.key, e.reachable)).collect();
        assert_eq!(keys, [(0, true), (2, true), (3, true), (5, false)]);
        assert!(ring.warnings.iter().any(|w| w.message.contains("key 5")));
        // Without a cursor (-1) the first gap ends the scan.
        let d = doc("[Calls]\n0=a;A;0;1;0;\n2=c;C;0;3;0;\n");
        let ring = read_ring(&d);
        assert_eq!(
            ring.entries.iter().map(|e| e.reachable).collect::<Vec<_>>(),
            [true, false]
        );
    }

    #[test]
    fn semicolon_in_name_is_reported_with_both_readings() {
        let (record, issues) = decode_value(7, "100;Smith; John;1;1767261600;5;Busy");
        assert_eq!(record.name, "Smith");
        assert_eq!(record.call_type, CallType::Outgoing);
        assert_eq!(record.time, 1);
        assert_eq!(issues.len(), 2, "{issues:?}");
        let ambiguity = issues.iter().find(|i| i.contains("ambiguous")).unwrap();
        assert!(ambiguity.contains("name=\"Smith; John\""), "{ambiguity}");
    }

    #[test]
    fn decode_follows_microsip_defaults() {
        let (r, issues) = decode_value(0, "12345");
        assert_eq!((r.number.as_str(), r.name.as_str()), ("12345", "12345"));
        assert_eq!(issues.len(), 1);
        let (r, _) = decode_value(0, "1;2;9;x;-3;info");
        assert_eq!(r.call_type, CallType::Outgoing);
        assert_eq!((r.time, r.duration), (0, -3));
    }

    #[test]
    fn encode_refuses_what_microsip_cannot_read_back() {
        let mut r = decode_value(0, "100;A;1;5;6;x").0;
        assert_eq!(encode_value(&r).unwrap(), "100;A;1;5;6;x");
        r.name = "A;B".into();
        assert!(encode_value(&r).is_err());
        r.name = "A".into();
        r.time = 1 << 40;
        assert!(encode_value(&r).is_err());
    }

    #[test]
    fn import_restores_home_keys_and_fills_gaps() {
        let original = "[Settings]\r\ncallsLastKey=4\r\n[Calls]\r\n0=a;A;0;10;0;\r\n1=b;B;1;20;0;\r\n2=null\r\n3=c;C;2;30;0;x\r\n4=d;D;3;40;0;\r\n";
        let source = read_ring(&doc(original));
        let mut target = doc("[Settings]\r\n");
        let outcome = import_into(&mut target, &source.records()).unwrap();
        assert_eq!((outcome.inserted, outcome.rekeyed), (4, 0));
        assert_eq!(String::from_utf8(target.to_bytes()).unwrap(), original);
        // A second import finds every call.
        let again = import_into(&mut target, &source.records()).unwrap();
        assert_eq!((again.inserted, again.duplicates), (0, 4));
    }

    #[test]
    fn the_cursor_wraps_at_1000() {
        let mut d = doc("[Settings]\ncallsLastKey=999\n[Calls]\n999=a;A;0;10;0;\n");
        let new = decode_value(0, "200;N;1;50;3;").0;
        let new = CallRecord {
            call_id: "sip-1".into(),
            ..new
        };
        import_into(&mut d, &[new]).unwrap();
        assert_eq!(d.get("Calls", "0").as_deref(), Some("200;N;1;50;3;"));
        assert_eq!(d.get("Settings", "callsLastKey").as_deref(), Some("0"));
    }

    #[test]
    fn import_appends_after_the_cursor_and_refuses_overflow() {
        let mut d = doc("[Settings]\ncallsLastKey=0\n[Calls]\n0=a;A;0;10;0;\n");
        let new = CallRecord {
            call_id: "sip-call-1".into(),
            number: "200".into(),
            name: "N".into(),
            call_type: CallType::Incoming,
            time: 50,
            duration: 3,
            info: String::new(),
        };
        let outcome = import_into(&mut d, std::slice::from_ref(&new)).unwrap();
        assert_eq!((outcome.inserted, outcome.rekeyed), (1, 1));
        assert_eq!(d.get("Calls", "1").as_deref(), Some("200;N;1;50;3;"));
        assert_eq!(d.get("Settings", "callsLastKey").as_deref(), Some("1"));
        // Same content again: a duplicate even though its stored id changed.
        assert_eq!(
            import_into(&mut d, std::slice::from_ref(&new))
                .unwrap()
                .duplicates,
            1
        );
        let many: Vec<CallRecord> = (0..1000)
            .map(|i| CallRecord {
                call_id: format!("x{i}"),
                time: 100 + i,
                ..new.clone()
            })
            .collect();
        assert!(matches!(
            import_into(&mut d, &many),
            Err(RingImportError::Full {
                needed: 1000,
                free: 998
            })
        ));
    }
}
