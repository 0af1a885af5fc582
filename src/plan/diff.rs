//! Unified diffs of a planned change, with every secret redacted.
//!
//! The diff is computed on decoded text (UTF-16 is not diffable as bytes), one line per INI line.
//! Secret values (`keys::is_secret`) are replaced on both sides before diffing, so a password
//! never reaches a plan, a log or a report; a rotated password shows as
//! `password=<redacted>` -> `password=<redacted, changed>`.

use similar::TextDiff;

use crate::ini::IniDocument;
use crate::keys;

/// The unified diff between `before` (absent for a new file) and `after`, labelled with `label`.
/// Empty when nothing visible changed.
pub fn unified_diff(label: &str, before: Option<&IniDocument>, after: &IniDocument) -> String {
    let redact = |section: &str, key: &str| keys::is_secret(section, key);
    let old = before
        .map(|d| d.display_lines(redact).join("\n") + "\n")
        .unwrap_or_default();
    let new = after.display_lines(redact).join("\n") + "\n";
    if old == new {
        return String::new();
    }
    let diff = TextDiff::from_lines(&old, &new);
    let old_label = if before.is_some() {
        format!("a/{label}")
    } else {
        "/dev/null".to_string()
    };
    diff.unified_diff()
        .context_radius(2)
        .header(&old_label, &format!("b/{label}"))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ini::CodePage;

    #[test]
    fn passwords_are_redacted_on_both_sides() {
        let before = IniDocument::parse(
            b"[Account1]\r\nlabel=a\r\npassword=0badc0ffee\r\n",
            CodePage::WINDOWS_1252,
        )
        .unwrap();
        let mut after = before.clone();
        after.set("Account1", "password", "hunter2").unwrap();
        after.set("Account1", "label", "b").unwrap();
        let diff = unified_diff("microsip.ini", Some(&before), &after);
        assert!(
            !diff.contains("hunter2") && !diff.contains("0badc0ffee"),
            "{diff}"
        );
        assert!(diff.contains("-password=<redacted>"), "{diff}");
        assert!(diff.contains("+password=<redacted, changed>"), "{diff}");
        assert!(diff.contains("+label=b"), "{diff}");
    }
}
