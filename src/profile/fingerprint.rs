//! The no-change fast path: proving that a profile is exactly as this tool left it, without
//! parsing it.
//!
//! Most runs change nothing (a logon script runs at every logon, an admin re-runs a batch), and a
//! full check (decode, parse, render, merge, compare) costs far more than reading the file. So
//! when [`crate::apply`] writes a `microsip.ini`, it also writes a fingerprint in the INI's own
//! `[microsip-provision]` section (see [`super::state`]):
//!
//! ```text
//! fingerprint=v1.<salt>.<inputs>.<content>
//! ```
//!
//! * `inputs`: a 128-bit digest of what the target was rendered from ([`RenderInputs`]: the
//!   manifest, its templates, the user's row and profile name — rendering is a pure function of
//!   them), with each password as a salted SHA-256 (never the secret itself: the digest is fast to
//!   compute, so it must not allow guessing a password offline);
//! * `content`: a 128-bit xxh3 of the file's bytes with the fingerprint's own value left out.
//!
//! A later run gathers the same inputs without rendering anything
//! ([`crate::plan::target::Target::inputs`]) and calls [`confirms`] on the bytes it read: when
//! both digests match, the file is byte-for-byte what a previous apply wrote for the same inputs,
//! so the profile is unchanged and nothing needs to be rendered, parsed or merged (cargo's
//! freshness check works the same way). Any doubt — another encoding than UTF-16LE, a missing
//! or malformed fingerprint, one byte changed by MicroSIP or the user, different inputs — means the full check
//! runs, which decides exactly as before; the fast path can only ever say "unchanged" for a file
//! that is identical to one the full check produced. The fingerprint is refreshed only when the
//! INI is written anyway, never by itself (a no-change run makes zero writes), and it is left out
//! when the run has more to look at than the INI (a company directory for `Contacts.xml`, a
//! history retention rule) or has warnings to repeat.

use sha2::{Digest, Sha256};
use xxhash_rust::xxh3::Xxh3;

use crate::ini::{Encoding, IniDocument};
use crate::plan::{DesiredProfile, RenderInputs};

use super::state::{random_salt, STATE_SECTION};

/// The key of the fingerprint in `[microsip-provision]`.
pub const FINGERPRINT_KEY: &str = "fingerprint";

/// The format tag: a different tag (or tool version, which is part of the inputs) never matches.
const TAG: &str = "v1";

/// Hex digits of the salt (16 bytes).
const SALT_HEX: usize = 32;

/// Length of a fingerprint value: `v1.` + salt + `.` + 32 + `.` + 32.
const VALUE_LEN: usize = TAG.len() + 1 + SALT_HEX + 1 + 32 + 1 + 32;

/// Whether a file written for this target may carry a fingerprint: it came from a manifest
/// without warnings, and the INI is all there is to check.
pub fn applicable(desired: &DesiredProfile) -> bool {
    desired.inputs.is_some()
        && desired.directory.is_none()
        && desired.history_retention_days.is_none()
}

/// Whether `bytes` (the profile's `microsip.ini` as just read) carry a fingerprint proving they
/// are what an earlier apply wrote for these `inputs`. The caller makes sure the manifest has
/// nothing else to check ([`crate::plan::target::Target::fingerprint_applies`]).
pub fn confirms(bytes: &[u8], inputs: &RenderInputs) -> bool {
    // This runs for every profile of a run: the value is read into a buffer on the stack and
    // the digests compared as numbers, without a single allocation.
    let Some(range) = locate(bytes) else {
        return false;
    };
    let mut value = [0u8; VALUE_LEN];
    for (byte, unit) in value.iter_mut().zip(bytes[range.clone()].chunks_exact(2)) {
        if unit[1] != 0 || !unit[0].is_ascii() {
            return false;
        }
        *byte = unit[0];
    }
    let Ok(value) = std::str::from_utf8(&value) else {
        return false;
    };
    let Some((salt, stored_inputs, stored_content)) = split(value) else {
        return false;
    };
    parse_hex128(stored_inputs) == Some(inputs_digest(inputs, salt))
        && parse_hex128(stored_content) == Some(content_digest(bytes, range))
}

/// The number [`hex128`] wrote: exactly 32 lower-case hex digits, or `None`.
fn parse_hex128(text: &str) -> Option<u128> {
    let lower_hex = text.len() == 32
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    lower_hex.then(|| u128::from_str_radix(text, 16).ok())?
}

/// Put a fresh fingerprint for `desired` into `document` (UTF-16LE only) and return the
/// document's bytes. `None` (and the document without a fingerprint) when the file cannot carry
/// one.
pub fn stamp(document: &mut IniDocument, desired: &DesiredProfile) -> Option<Vec<u8>> {
    let inputs = match &desired.inputs {
        Some(inputs) if applicable(desired) && document.encoding() == Encoding::Utf16Le => inputs,
        _ => {
            document.remove_key(STATE_SECTION, FINGERPRINT_KEY);
            return None;
        }
    };
    let placeholder = "0".repeat(VALUE_LEN);
    if document
        .set(STATE_SECTION, FINGERPRINT_KEY, &placeholder)
        .is_err()
    {
        document.remove_key(STATE_SECTION, FINGERPRINT_KEY);
        return None;
    }
    let mut bytes = document.to_bytes();
    // The value must be found where `confirms` will look for it, holding the placeholder; a
    // second `fingerprint=` line later in the file (hand-made) makes the file unfit.
    let range = locate(&bytes)
        .filter(|r| ascii_of_utf16le(&bytes[r.clone()]).as_deref() == Some(placeholder.as_str()));
    let Some(range) = range else {
        document.remove_key(STATE_SECTION, FINGERPRINT_KEY);
        return None;
    };
    let salt = random_salt();
    let value = format!(
        "{TAG}.{salt}.{}.{}",
        hex128(inputs_digest(inputs, &salt)),
        hex128(content_digest(&bytes, range.clone()))
    );
    debug_assert_eq!(value.len(), VALUE_LEN);
    for (unit, byte) in bytes[range].chunks_exact_mut(2).zip(value.bytes()) {
        unit[0] = byte;
        unit[1] = 0;
    }
    document
        .set(STATE_SECTION, FINGERPRINT_KEY, &value)
        .expect("same shape as the placeholder");
    debug_assert_eq!(document.to_bytes(), bytes);
    Some(bytes)
}

/// The byte range of the fingerprint's value: after the last `\nfingerprint=` (UTF-16LE, on a
/// code-unit boundary) up to the end of that line.
fn locate(bytes: &[u8]) -> Option<std::ops::Range<usize>> {
    if !bytes.starts_with(&[0xFF, 0xFE]) {
        return None;
    }
    // A searcher for `\nfingerprint=` in UTF-16LE, built once (this runs for every profile of
    // a run).
    static FINDER: std::sync::OnceLock<memchr::memmem::FinderRev<'static>> =
        std::sync::OnceLock::new();
    let finder = FINDER.get_or_init(|| {
        let needle: Vec<u8> = format!("\n{FINGERPRINT_KEY}=")
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        memchr::memmem::FinderRev::new(&needle).into_owned()
    });
    let needle_len = finder.needle().len();
    let mut end = bytes.len();
    let start = loop {
        let at = finder.rfind(&bytes[..end])?;
        if at % 2 == 0 {
            break at + needle_len;
        }
        end = at + needle_len - 1;
    };
    let len = bytes[start..]
        .chunks_exact(2)
        .position(|unit| unit == b"\r\0" || unit == b"\n\0")
        .map_or(bytes.len() - start - (bytes.len() - start) % 2, |units| {
            units * 2
        });
    (len == VALUE_LEN * 2).then_some(start..start + len)
}

/// The ASCII text of UTF-16LE bytes, `None` if any unit is not ASCII.
fn ascii_of_utf16le(bytes: &[u8]) -> Option<String> {
    bytes
        .chunks_exact(2)
        .map(|unit| (unit[1] == 0 && unit[0].is_ascii()).then_some(unit[0] as char))
        .collect()
}

/// `v1.<salt>.<inputs>.<content>` -> its three parts.
fn split(value: &str) -> Option<(&str, &str, &str)> {
    let rest = value.strip_prefix(TAG)?.strip_prefix('.')?;
    let mut parts = rest.split('.');
    let (salt, inputs, content) = (parts.next()?, parts.next()?, parts.next()?);
    (parts.next().is_none() && salt.len() == SALT_HEX).then_some((salt, inputs, content))
}

/// xxh3-128 of `bytes` without the fingerprint's value.
fn content_digest(bytes: &[u8], value: std::ops::Range<usize>) -> u128 {
    let mut hasher = Xxh3::new();
    hasher.update(&bytes[..value.start]);
    hasher.update(&bytes[value.end..]);
    hasher.digest128()
}

/// The inputs as a 128-bit digest; passwords enter as SHA-256 of the salt, the account id and
/// the secret.
fn inputs_digest(inputs: &RenderInputs, salt: &str) -> u128 {
    let mut hasher = Xxh3::new();
    hasher.update(&inputs.digest.to_le_bytes());
    for (id, secret) in &inputs.secrets {
        let mut sha = Sha256::new();
        sha.update(salt.as_bytes());
        sha.update([0]);
        sha.update(id.as_bytes());
        sha.update([0]);
        sha.update(secret.expose().as_bytes());
        hasher.update(&(id.len() as u64).to_le_bytes());
        hasher.update(id.as_bytes());
        hasher.update(&sha.finalize());
    }
    hasher.digest128()
}

fn hex128(value: u128) -> String {
    format!("{value:032x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ini::CodePage;
    use crate::manifest::Secret;
    use crate::plan::{DesiredAccount, DesiredSetting, SettingPolicy};
    use xxhash_rust::xxh3::xxh3_128;

    fn desired(password: &str, codecs: &str) -> DesiredProfile {
        let digest = xxh3_128(codecs.as_bytes());
        DesiredProfile {
            inputs: Some(RenderInputs {
                digest,
                secrets: vec![("office".into(), Secret::new(password))],
            }),
            accounts: vec![DesiredAccount {
                id: "office".into(),
                label: "Office".into(),
                keys: vec![("username".into(), "1001".into())],
                password: Some(Secret::new(password)),
                password_missing: false,
                active: true,
            }],
            settings: vec![DesiredSetting {
                key: "audioCodecs".into(),
                value: Some(codecs.into()),
                policy: SettingPolicy::Enforce,
            }],
            complete: true,
            ..DesiredProfile::default()
        }
    }

    fn utf16le_bom(text: &str) -> Vec<u8> {
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        bytes
    }

    fn stamped(text: &str, target: &DesiredProfile) -> (IniDocument, Vec<u8>) {
        let mut document = IniDocument::parse(&utf16le_bom(text), CodePage::WINDOWS_1252).unwrap();
        let bytes = stamp(&mut document, target).expect("UTF-16LE takes a fingerprint");
        (document, bytes)
    }

    #[test]
    fn a_stamped_file_is_confirmed_until_a_byte_or_an_input_changes() {
        let target = desired("s3cret", "opus/48000/2");
        let (document, bytes) = stamped(
            "[Settings]\r\naudioCodecs=opus/48000/2\r\n[microsip-provision]\r\nstate={}\r\n",
            &target,
        );
        assert_eq!(document.to_bytes(), bytes);
        assert!(confirms(&bytes, target.inputs.as_ref().unwrap()));
        // The same file read back through the parser carries the same value.
        let reread = IniDocument::parse(&bytes, CodePage::WINDOWS_1252).unwrap();
        assert_eq!(
            reread.get(STATE_SECTION, FINGERPRINT_KEY),
            document.get(STATE_SECTION, FINGERPRINT_KEY)
        );

        // Another secret, another setting: not confirmed.
        let inputs = |d: DesiredProfile| d.inputs.unwrap();
        assert!(!confirms(
            &bytes,
            &inputs(desired("rotated", "opus/48000/2"))
        ));
        assert!(!confirms(&bytes, &inputs(desired("s3cret", "PCMA/8000/1"))));
        // Any byte outside the fingerprint: not confirmed.
        for at in [2, 10, bytes.len() - 2] {
            let mut edited = bytes.clone();
            edited[at] ^= 0x01;
            assert!(
                !confirms(&edited, &inputs(desired("s3cret", "opus/48000/2"))),
                "byte {at}"
            );
        }
        // The fingerprint itself tampered with: not confirmed.
        let text = String::from_utf16(
            &bytes[2..]
                .chunks_exact(2)
                .map(|u| u16::from_le_bytes([u[0], u[1]]))
                .collect::<Vec<_>>(),
        )
        .unwrap();
        let forged = text.replacen("fingerprint=v1.", "fingerprint=v2.", 1);
        assert!(!confirms(
            &utf16le_bom(&forged),
            target.inputs.as_ref().unwrap()
        ));
    }

    #[test]
    fn the_value_never_contains_the_secret_and_the_salt_differs_each_time() {
        let target = desired("s3cret", "opus/48000/2");
        let text = "[Settings]\r\naudioCodecs=opus/48000/2\r\n";
        let (a, _) = stamped(text, &target);
        let (b, _) = stamped(text, &target);
        let (a, b) = (
            a.get(STATE_SECTION, FINGERPRINT_KEY).unwrap(),
            b.get(STATE_SECTION, FINGERPRINT_KEY).unwrap(),
        );
        assert_ne!(a, b);
        assert!(!a.contains("s3cret"));
    }

    #[test]
    fn digests_are_read_back_only_as_written() {
        for value in [0, 1, u128::MAX, 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210] {
            assert_eq!(parse_hex128(&hex128(value)), Some(value));
        }
        // What `hex128` never writes is no match: upper case, a sign, another length.
        let written = hex128(0xabc);
        assert_eq!(parse_hex128(&written.to_uppercase()), None);
        assert_eq!(parse_hex128(&format!("+{}", &written[1..])), None);
        assert_eq!(parse_hex128(&written[1..]), None);
    }

    #[test]
    fn ansi_files_and_extra_inputs_take_no_fingerprint() {
        let mut ansi =
            IniDocument::parse(b"[Settings]\r\nx=1\r\n", CodePage::WINDOWS_1252).unwrap();
        assert!(stamp(&mut ansi, &desired("a", "b")).is_none());
        assert!(ansi.get(STATE_SECTION, FINGERPRINT_KEY).is_none());

        let mut target = desired("a", "b");
        target.history_retention_days = Some(30);
        let (mut document, _) = stamped("[Settings]\r\n", &desired("a", "b"));
        assert!(stamp(&mut document, &target).is_none());
        assert!(document.get(STATE_SECTION, FINGERPRINT_KEY).is_none());
        assert!(!confirms(
            &document.to_bytes(),
            target.inputs.as_ref().unwrap()
        ));
    }
}
