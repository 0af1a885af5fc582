//! Positioned messages about a manifest or a users file, rendered like rustc/toml errors
//! (`path:line:column: message`, the offending line, a caret) or as GitHub workflow annotations.
//!
//! [`SourceText`] turns byte offsets into 1-based line and column numbers and cuts out the source
//! line, blanking every byte range registered as secret so that a literal password or a users-file
//! password column never reaches a message.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// How bad a [`Diagnostic`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The manifest is still usable; the admin should look at it.
    Warning,
    /// The manifest (or users file) is invalid and cannot be used.
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

/// One message about a position in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The file the position is in (the manifest, or the users CSV file).
    pub path: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// What is wrong and, where possible, what to write instead. Never contains a secret.
    pub message: String,
    /// The text of line `line` (without its line break), with secret values replaced by
    /// `<redacted>`; `None` when it is unknown or cannot be shown without revealing a secret.
    pub source_line: Option<String>,
}

impl Diagnostic {
    /// A diagnostic without source text (for positions in files that could not be read).
    pub fn new(
        severity: Severity,
        path: impl Into<PathBuf>,
        line: usize,
        column: usize,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            severity,
            path: path.into(),
            line: line.max(1),
            column: column.max(1),
            message: message.into(),
            source_line: None,
        }
    }

    /// Whether this is an error (rather than a warning).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `path:line:column: message` (warnings say `warning: ` before the message), then the
    /// source line and a caret under the column, like rustc and toml. Ends without a newline.
    pub fn render_human(&self) -> String {
        let mut out = format!("{}:{}:{}: ", self.path.display(), self.line, self.column);
        if self.severity == Severity::Warning {
            out.push_str("warning: ");
        }
        out.push_str(&self.message);
        if let Some(source_line) = &self.source_line {
            let number = self.line.to_string();
            let gutter = " ".repeat(number.len());
            // Keep tabs in the caret's indentation so it lines up under tab-indented text.
            let indent: String = source_line
                .chars()
                .take(self.column.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            out.push_str(&format!(
                "\n{gutter} |\n{number} | {source_line}\n{gutter} | {indent}^"
            ));
        }
        out
    }

    /// A GitHub Actions workflow command:
    /// `::error file=PATH,line=L,col=C::MESSAGE` (or `::warning …`), escaped as GitHub requires.
    pub fn render_github(&self) -> String {
        format!(
            "::{} file={},line={},col={}::{}",
            self.severity,
            escape_property(&self.path.display().to_string()),
            self.line,
            self.column,
            escape_data(&self.message)
        )
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render_human())
    }
}

/// `%`, CR and LF escaped, as GitHub reads a workflow command's message.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// [`escape_data`] plus `:` and `,`, as GitHub reads a workflow command's properties.
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// A file's text with a line index and the byte ranges that must never be shown.
#[derive(Clone)]
pub(crate) struct SourceText {
    path: PathBuf,
    text: String,
    /// Byte offset of the start of every line.
    line_starts: Vec<usize>,
    /// Byte ranges holding secrets (literal passwords, password columns).
    secrets: Vec<Range<usize>>,
    /// Whether every secret is registered; when not (a syntax error stopped the mapping),
    /// parser errors hide lines that look like they hold a password.
    secrets_known: bool,
}

impl fmt::Debug for SourceText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The text may hold secrets: never print it.
        f.debug_struct("SourceText")
            .field("path", &self.path)
            .field("bytes", &self.text.len())
            .finish_non_exhaustive()
    }
}

/// Shown instead of a secret in a source line.
pub(crate) const REDACTED: &str = "<redacted>";

impl SourceText {
    pub(crate) fn new(path: impl Into<PathBuf>, text: String) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        SourceText {
            path: path.into(),
            text,
            line_starts,
            secrets: Vec::new(),
            secrets_known: true,
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// Register `range` as secret: it is never shown in a source line.
    pub(crate) fn add_secret(&mut self, range: Range<usize>) {
        if range.start < range.end && range.end <= self.text.len() {
            self.secrets.push(range);
        }
    }

    /// Whether every secret range has been registered (see [`Self::syntax_diagnostic`]).
    pub(crate) fn set_secrets_known(&mut self, known: bool) {
        self.secrets_known = known;
    }

    /// The secret texts (as written in the file, and without surrounding quotes), longest
    /// first, for scrubbing messages produced by parsers.
    fn secret_texts(&self) -> Vec<&str> {
        let mut texts: Vec<&str> = Vec::new();
        for range in &self.secrets {
            let raw = &self.text[range.clone()];
            texts.push(raw);
            let unquoted = raw.trim_matches(|c| c == '"' || c == '\'');
            if !unquoted.is_empty() {
                texts.push(unquoted);
            }
        }
        texts.sort_by_key(|t| std::cmp::Reverse(t.len()));
        texts.dedup();
        texts
    }

    /// `message` with every registered secret text replaced by `<redacted>`: for messages
    /// written by a parser, which may quote the value it rejected.
    pub(crate) fn scrub(&self, message: &str) -> String {
        let mut out = message.to_string();
        for secret in self.secret_texts() {
            out = out.replace(secret, REDACTED);
        }
        out
    }

    /// 0-based line index of byte `offset`.
    fn line_index(&self, offset: usize) -> usize {
        self.line_starts
            .partition_point(|&start| start <= offset)
            .saturating_sub(1)
    }

    /// The 1-based line and character column of byte `offset` (clamped to the text).
    pub(crate) fn line_column(&self, offset: usize) -> (usize, usize) {
        let offset = self.floor_boundary(offset.min(self.text.len()));
        let index = self.line_index(offset);
        let start = self.line_starts[index];
        (index + 1, self.text[start..offset].chars().count() + 1)
    }

    /// Byte offset of the 1-based `line` and character `column` (clamped).
    pub(crate) fn offset_of(&self, line: usize, column: usize) -> usize {
        let index = line.saturating_sub(1).min(self.line_starts.len() - 1);
        let start = self.line_starts[index];
        let end = self.line_end(index);
        self.text[start..end]
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(end, |(i, _)| start + i)
    }

    fn floor_boundary(&self, mut offset: usize) -> usize {
        while offset > 0 && !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        offset
    }

    /// Byte offset where the line with 0-based `index` ends (before `\r\n` or `\n`).
    fn line_end(&self, index: usize) -> usize {
        let end = self
            .line_starts
            .get(index + 1)
            .map_or(self.text.len(), |next| next - 1);
        let start = self.line_starts[index];
        if end > start && self.text.as_bytes()[end - 1] == b'\r' {
            end - 1
        } else {
            end
        }
    }

    /// The line holding byte `offset`, secrets replaced by `<redacted>`; `None` when a secret
    /// starts before `offset` on that line (the caret would no longer line up) or spans lines.
    fn shown_line(&self, offset: usize) -> Option<String> {
        let index = self.line_index(offset);
        let start = self.line_starts[index];
        let end = self.line_end(index);
        let mut cuts: Vec<Range<usize>> = Vec::new();
        for secret in &self.secrets {
            if secret.end <= start || secret.start >= end {
                continue;
            }
            if secret.start < start || secret.end > end || secret.start < offset {
                return None;
            }
            cuts.push(secret.clone());
        }
        cuts.sort_by_key(|r| r.start);
        let mut shown = String::new();
        let mut at = start;
        for cut in cuts {
            if cut.start < at {
                continue;
            }
            shown.push_str(&self.text[at..cut.start]);
            shown.push_str(REDACTED);
            at = cut.end;
        }
        shown.push_str(&self.text[at..end]);
        // A lone `\r` (an old Mac line end: a line to the parser, not to this index) would
        // send a terminal back to the start of the line, over what was shown; its symbol takes
        // one column, as the `\r` does in the caret's count.
        Some(shown.replace('\r', "\u{240D}"))
    }

    /// A diagnostic at byte `offset`. `message` must not contain a secret (use [`Self::scrub`]
    /// on text from elsewhere).
    pub(crate) fn diagnostic(
        &self,
        severity: Severity,
        offset: usize,
        message: impl Into<String>,
    ) -> Diagnostic {
        let offset = self.floor_boundary(offset.min(self.text.len()));
        let (line, column) = self.line_column(offset);
        Diagnostic {
            severity,
            path: self.path.clone(),
            line,
            column,
            message: message.into(),
            source_line: self.shown_line(offset),
        }
    }

    /// An error at byte `offset` of a file that could not be decoded (this text is its valid
    /// start): no source line is shown. The file never parsed, so which of its fields are
    /// passwords is unknown (a password column may have any name), and the line holding the
    /// bad byte may hold one before it.
    pub(crate) fn undecodable_diagnostic(&self, offset: usize, message: &str) -> Diagnostic {
        Diagnostic {
            source_line: None,
            ..self.diagnostic(Severity::Error, offset, message)
        }
    }

    /// A diagnostic for a parser's error at byte `offset`: the message is scrubbed of secret
    /// texts and, when the secrets are not all known (the text did not parse), a line that
    /// looks like it holds a password is not shown.
    pub(crate) fn syntax_diagnostic(&self, offset: usize, message: &str) -> Diagnostic {
        let mut diagnostic = self.diagnostic(Severity::Error, offset, self.scrub(message));
        let risky = diagnostic.source_line.as_deref().is_some_and(|line| {
            super::check::looks_secret(line) || line.to_ascii_lowercase().contains("literal")
        });
        if risky && !self.secrets_known {
            diagnostic.source_line = None;
        }
        diagnostic
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let source = SourceText::new("m.toml", "a = 1\r\né = \"x\"\n".to_string());
        assert_eq!(source.line_column(0), (1, 1));
        assert_eq!(source.line_column(4), (1, 5));
        let x = source.text().find('"').unwrap();
        assert_eq!(source.line_column(x), (2, 5));
        assert_eq!(source.offset_of(2, 5), x);
        let d = source.diagnostic(Severity::Error, x, "bad");
        assert_eq!(d.source_line.as_deref(), Some("é = \"x\""));
        assert_eq!(
            d.render_human(),
            "m.toml:2:5: bad\n  |\n2 | é = \"x\"\n  |     ^"
        );
    }

    /// Lone `\r` line ends (one line to this index) are shown as a symbol, not sent to the
    /// terminal, and the caret still lines up.
    #[test]
    fn a_lone_carriage_return_is_shown_as_a_symbol() {
        let source = SourceText::new("u.csv", "a,b\rc,d\r".to_string());
        let d = source.diagnostic(Severity::Error, 6, "here");
        assert_eq!(d.source_line.as_deref(), Some("a,b\u{240D}c,d"));
        assert_eq!(
            d.render_human(),
            "u.csv:1:7: here\n  |\n1 | a,b\u{240D}c,d\n  |       ^"
        );
    }

    #[test]
    fn secrets_are_redacted_from_lines_and_messages() {
        let text = "password = { literal = \"hunter2\" } # x\n".to_string();
        let mut source = SourceText::new("m.toml", text.clone());
        let start = text.find("\"hunter2\"").unwrap();
        source.add_secret(start..start + 9);
        let d = source.diagnostic(Severity::Error, start, "refused");
        assert_eq!(
            d.source_line.as_deref(),
            Some("password = { literal = <redacted> } # x")
        );
        // A caret after the secret would not line up: the line is not shown at all.
        let d = source.diagnostic(Severity::Error, text.find('#').unwrap(), "x");
        assert_eq!(d.source_line, None);
        assert_eq!(
            source.scrub("invalid value `hunter2`"),
            "invalid value `<redacted>`"
        );
    }

    #[test]
    fn github_annotations_are_escaped() {
        let d = Diagnostic::new(Severity::Warning, "a,b:c.toml", 3, 7, "50% done\nnext");
        assert_eq!(
            d.render_github(),
            "::warning file=a%2Cb%3Ac.toml,line=3,col=7::50%25 done%0Anext"
        );
    }
}
