//! JSON: our own format, one call per line, every `call_log` column but `id`.
//!
//! MicroSIP has no JSON history format (`microsip-formats.md` §3), so this one mirrors 3.22's
//! table (§3.1): `{"calls":[{"callId", "number", "name", "type", "time", "duration",
//! "info"}, …]}` with `type` as the code `0`..`3`, one call per line so files diff and grep
//! well. [`parse`] also accepts a bare array, `type` spelled as a name, and calls without
//! `callId` (their id is then derived from the content).

use serde::Deserialize;

use super::record::{content_call_id, CallRecord, CallType};
use super::{ErrorKind, HistoryError, HistoryWarning};

/// The calls as JSON (UTF-8, LF).
pub fn render(records: &[CallRecord]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + records.len() * 170);
    out.extend_from_slice(b"{\"calls\":[");
    for (i, record) in records.iter().enumerate() {
        out.extend_from_slice(if i == 0 { b"\n" } else { b",\n" });
        serde_json::to_writer(&mut out, record).expect("records serialise");
    }
    if !records.is_empty() {
        out.push(b'\n');
    }
    out.extend_from_slice(b"]}\n");
    out
}

#[derive(Deserialize)]
struct JsonCall {
    #[serde(rename = "callId", default)]
    call_id: Option<String>,
    number: String,
    name: String,
    #[serde(rename = "type")]
    call_type: CallType,
    time: i64,
    #[serde(default)]
    duration: i64,
    #[serde(default)]
    info: String,
}

#[derive(Deserialize)]
struct JsonFile {
    calls: Vec<JsonCall>,
}

/// Read a JSON history file: `{"calls": [...]}` or a bare `[...]`.
pub fn parse(bytes: &[u8]) -> Result<(Vec<CallRecord>, Vec<HistoryWarning>), HistoryError> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    let calls = match first {
        Some(b'[') => serde_json::from_slice::<Vec<JsonCall>>(body),
        _ => serde_json::from_slice::<JsonFile>(body).map(|f| f.calls),
    }
    .map_err(|e| {
        HistoryError::new(ErrorKind::InvalidInput, None, format!("invalid JSON: {e}"))
            .at(e.line().max(1), e.column().max(1))
    })?;
    let mut without_id = 0usize;
    let records = calls
        .into_iter()
        .map(|c| {
            let mut record = CallRecord {
                call_id: c.call_id.unwrap_or_default(),
                number: c.number,
                name: c.name,
                call_type: c.call_type,
                time: c.time,
                duration: c.duration,
                info: c.info,
            };
            if record.call_id.is_empty() {
                without_id += 1;
                record.call_id = content_call_id(&record);
            }
            record
        })
        .collect();
    let mut warnings = Vec::new();
    if without_id > 0 {
        warnings.push(HistoryWarning::new(format!(
            "{without_id} call(s) have no callId: their ids are derived from their content"
        )));
    }
    Ok((records, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_shapes() {
        let records = vec![CallRecord {
            call_id: "id-1".into(),
            number: "+49 30".into(),
            name: "李雷 \"x\"".into(),
            call_type: CallType::Incoming,
            time: 1,
            duration: 2,
            info: "i".into(),
        }];
        let bytes = render(&records);
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            "{\"calls\":[\n{\"callId\":\"id-1\",\"number\":\"+49 30\",\"name\":\"李雷 \\\"x\\\"\",\"type\":1,\"time\":1,\"duration\":2,\"info\":\"i\"}\n]}\n"
        );
        assert_eq!(parse(&bytes).unwrap().0, records);
        assert_eq!(render(&[]), b"{\"calls\":[]}\n");
        let bare = br#"[{"number":"1","name":"n","type":"miss","time":5}]"#;
        let (parsed, warnings) = parse(bare).unwrap();
        assert_eq!(parsed[0].call_type, CallType::Missed);
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn errors_have_positions() {
        let err =
            parse(b"{\"calls\":[\n{\"number\":\"1\",\"name\":\"n\",\"type\":7,\"time\":5}\n]}")
                .unwrap_err();
        assert_eq!(err.position.map(|p| p.0), Some(2));
        assert!(
            err.message.contains("invalid call type 7"),
            "{}",
            err.message
        );
    }
}
