//! A rendered template as an INI fragment: `key=value` lines read exactly as Windows reads them.
//!
//! The text is given a synthetic section header and parsed by [`crate::ini`] as a UTF-16LE file,
//! so every value is what `GetPrivateProfileStringW` would return (blanks trimmed, one pair of
//! matching outer quotes removed, the first `=` splitting key from value), and lines are split
//! where Windows splits them (CRLF, LF or a lone CR). On top of that, a fragment must be
//! unambiguous: no `[section]` header (the merge chooses the section), no line without `=`
//! (Windows would ignore it), no empty key, no key twice (Windows would silently ignore the
//! second), and no line break that came from an interpolated value.

use crate::ini::{CodePage, IniDocument};

use super::error::RenderError;
use super::helpers::has_marked_line_break;

/// The header put in front of a fragment. Fragments may not contain headers, so it cannot clash.
const SECTION: &str = "microsip-provision fragment";

/// Blanks Windows skips at the start of a line (`win32-ini-rules.md`, rule 5).
const BLANKS: &[char] = &[' ', '\t', '\u{0B}'];

/// Parse `rendered` (the output of template `template`, whose source is `source` when known) into
/// its `(key, value)` pairs, in order.
pub(crate) fn parse(
    template: &str,
    source: Option<&str>,
    rendered: &str,
) -> Result<Vec<(String, String)>, RenderError> {
    let mut bytes = vec![0xFF, 0xFE];
    for unit in format!("[{SECTION}]\r\n")
        .encode_utf16()
        .chain(rendered.encode_utf16())
    {
        bytes.extend_from_slice(&unit.to_le_bytes());
    }
    let document = IniDocument::parse(&bytes, CodePage::WINDOWS_1252).map_err(|e| {
        RenderError::new(
            template,
            format!("the rendered fragment does not decode: {e}"),
        )
    })?;

    // Line 1 of the document is the synthetic header: document line n is rendered line n - 1.
    for number in 2..=document.line_count() {
        let line = number - 1;
        let text = document.line_text(number).unwrap_or_default();
        let error = |message: String| locate(template, source, text, message);
        if has_marked_line_break(text) {
            return Err(RenderError::new(
                template,
                format!(
                    "a value inserted on rendered line {line} contains a line break, which would \
                     add lines to the INI file"
                ),
            ));
        }
        let content = text.trim_start_matches(BLANKS);
        if content.is_empty() || content.starts_with(';') {
            continue;
        }
        if content.starts_with('[') {
            return Err(error(format!(
                "rendered line {line} is a `[section]` header; a template renders only \
                 `key=value` lines, and the tool decides which section they go to"
            )));
        }
        let Some((key, _)) = content.split_once('=') else {
            return Err(error(format!(
                "rendered line {line} is not `key=value` (it has no `=`), so Windows would \
                 ignore it"
            )));
        };
        let key = key.trim_matches(BLANKS);
        if key.is_empty() {
            return Err(error(format!(
                "rendered line {line} has an empty key name before its `=`"
            )));
        }
        match document.line_of(SECTION, key) {
            Some(first) if first != number => {
                return Err(error(format!(
                    "key `{key}` is written twice (rendered lines {} and {line}); Windows reads \
                     only the first and would silently ignore the second",
                    first - 1
                )));
            }
            _ => {}
        }
    }

    Ok(document
        .entries(SECTION)
        .into_iter()
        .map(|entry| (entry.name, entry.value))
        .collect())
}

/// An error about rendered line `text`, positioned in the template source when that line is
/// written there literally (the usual case for a stray header); otherwise without a position.
/// The rendered text itself is never repeated: it may hold a value from the users CSV.
fn locate(template: &str, source: Option<&str>, text: &str, message: String) -> RenderError {
    let wanted = text.trim_matches(BLANKS);
    let found = source.and_then(|source| {
        source
            .lines()
            .enumerate()
            .find(|(_, line)| line.trim_matches(BLANKS) == wanted)
            .map(|(index, line)| {
                let indent = line.chars().take_while(|c| BLANKS.contains(c)).count();
                (index + 1, indent + 1)
            })
    });
    RenderError {
        template: template.to_owned(),
        line: found.map(|(line, _)| line),
        column: found.map(|(_, column)| column),
        message,
    }
}

/// What the built-in template (`templates/account.ini.hbs`: `label="…"`, then `key="…"` for each
/// key) renders and [`parse`] reads back, without running the template: `label` and then `keys`,
/// in order, unchanged. `None` unless every name and value is one for which that is certain
/// (a plain key name, no line break or NUL, no duplicate, a value far from Windows' 64K wrap);
/// then the template runs as for any other. Rendering the same fragment for every user was a
/// sixth of a first apply.
pub(crate) fn builtin(label: &str, keys: &[(String, String)]) -> Option<Vec<(String, String)>> {
    let plain_value = |v: &str| v.len() < 4096 && !v.contains(['\r', '\n', '\0']);
    let plain_key = |k: &str| {
        !k.is_empty()
            && k.trim_matches(BLANKS) == k
            && !k.contains(['=', '\r', '\n', '\0'])
            && !k.starts_with(['[', ';'])
    };
    if !plain_value(label) {
        return None;
    }
    let mut out = Vec::with_capacity(keys.len() + 1);
    out.push(("label".to_string(), label.to_string()));
    for (key, value) in keys {
        let duplicate = out.iter().any(|(seen, _): &(String, String)| {
            crate::ini::document::folds_to(key, &crate::ini::document::fold(seen))
        });
        if !plain_key(key) || !plain_value(value) || duplicate {
            return None;
        }
        out.push((key.clone(), value.clone()));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(rendered: &str) -> Vec<(String, String)> {
        parse("t", None, rendered).unwrap()
    }

    #[test]
    fn values_read_as_windows_reads_them() {
        assert_eq!(
            pairs("  a =  1  \r\n\r\n; note\r\nb=\"  x  \"\nc='q'\rd=x=y\n e = ; not a comment"),
            [
                ("a".into(), "1".into()),
                ("b".into(), "  x  ".into()),
                ("c".into(), "q".into()),
                ("d".into(), "x=y".into()),
                ("e".into(), "; not a comment".into()),
            ]
        );
        assert!(pairs("").is_empty());
        assert!(pairs("\r\n; only a comment\r\n").is_empty());
    }

    #[test]
    fn headers_and_bare_lines_are_errors_located_in_the_source() {
        let source = "label=x\r\n  [Account1]\r\nserver=y\r\n";
        let e = parse("t.hbs", Some(source), "label=x\r\n  [Account1]\r\n").unwrap_err();
        assert_eq!((e.line, e.column), (Some(2), Some(3)), "{e}");
        assert!(
            e.message
                .contains("rendered line 2 is a `[section]` header"),
            "{e}"
        );

        let e = parse("t.hbs", Some("{{x}}\n"), "secret-ish\n").unwrap_err();
        assert_eq!((e.line, e.column), (None, None));
        assert!(
            e.message.contains("rendered line 1 is not `key=value`"),
            "{e}"
        );
        assert!(!e.to_string().contains("secret-ish"));

        let e = parse("t", None, "=v").unwrap_err();
        assert!(e.message.contains("empty key"), "{e}");
    }

    #[test]
    fn duplicate_keys_are_errors_ignoring_case() {
        let e = parse("t", None, "a=1\nb=2\nA=3\n").unwrap_err();
        assert!(
            e.message
                .contains("key `A` is written twice (rendered lines 1 and 3)"),
            "{e}"
        );
    }
}
