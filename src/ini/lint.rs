//! Lints: what Windows or MicroSIP will silently ignore, misread or truncate in an INI file.
//!
//! Every lint is a warning with a 1-based line and column: the file is still accepted and still
//! round-trips byte for byte, but the admin should know that, for example, a duplicate key will
//! never be read (`win32-ini-rules.md`: first key wins), or that a UTF-8 BOM hides the first
//! section from MicroSIP (rule 7).

use std::collections::HashMap;

use serde::Serialize;

use super::codec::{Encoding, ForeignBom};
use super::document::{fold, unquote, IniDocument, LineKind, WIN32_VALUE_WRAP};

/// What kind of problem a lint reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LintKind {
    /// A later block of a section that already appeared: Windows never searches it.
    DuplicateSection,
    /// A later occurrence of a key in the same block: Windows reads the first one only.
    DuplicateKey,
    /// A `key=value` line before the first header: Windows cannot read it at all (rule 3).
    KeyBeforeFirstSection,
    /// The file starts with a UTF-8 BOM, which Windows does not recognise (rule 7).
    Utf8Bom,
    /// The file starts with a UTF-16BE BOM, which Windows does not recognise (rule 8).
    Utf16BeBom,
    /// An ANSI file whose non-ASCII bytes are valid UTF-8: MicroSIP will decode them as ANSI.
    Utf8WithoutBom,
    /// NUL characters in an ANSI file: most likely UTF-16 without its BOM, which Windows misreads.
    Utf16WithoutBom,
    /// A value longer than the buffer MicroSIP reads it into (`microsip-formats.md` §1.3).
    ValueTooLong,
    /// A value of 65,536 UTF-16 units or more, which Windows returns wrapped (rule 9).
    ValueWrapped,
}

/// One warning about a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lint {
    /// What kind of problem it is.
    pub kind: LintKind,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// What is wrong and what to do, in one sentence.
    pub message: String,
}

impl IniDocument {
    /// Everything in the file that Windows or MicroSIP will not read as it looks.
    pub fn lints(&self) -> Vec<Lint> {
        let mut lints = Vec::new();
        match self.foreign_bom() {
            Some(ForeignBom::Utf8) => lints.push(Lint {
                kind: LintKind::Utf8Bom,
                line: 1,
                column: 1,
                message: "the file starts with a UTF-8 BOM, which Windows does not recognise: \
                          the first line is not read as a header and everything before the next \
                          header is invisible to MicroSIP; run `microsip-provision ini convert` \
                          to rewrite it as UTF-16LE"
                    .to_string(),
            }),
            Some(ForeignBom::Utf16Be) => lints.push(Lint {
                kind: LintKind::Utf16BeBom,
                line: 1,
                column: 1,
                message: "the file starts with a UTF-16BE BOM, which Windows does not recognise: \
                          MicroSIP reads it as ANSI garbage; run `microsip-provision ini convert` \
                          to rewrite it as UTF-16LE"
                    .to_string(),
            }),
            None => {}
        }
        if let Encoding::Ansi(page) = self.encoding() {
            if let Some(index) = self.lines.iter().position(|l| l.text.contains('\0')) {
                lints.push(Lint {
                    kind: LintKind::Utf16WithoutBom,
                    line: index + 1,
                    column: 1,
                    message: "the file contains NUL characters: it looks like UTF-16 without its \
                              BOM, which Windows reads as ANSI and finds no sections in"
                        .to_string(),
                });
            } else if page.number() != 65001 && self.foreign_bom().is_none() {
                if let Some(index) = self.lines.iter().position(|l| looks_like_utf8(&l.text)) {
                    lints.push(Lint {
                        kind: LintKind::Utf8WithoutBom,
                        line: index + 1,
                        column: 1,
                        message: format!(
                            "the file looks like UTF-8 without a BOM: Windows and MicroSIP read \
                             it in ANSI code page {page}, so non-ASCII text is garbled; run \
                             `microsip-provision ini convert --from utf-8` to rewrite it as \
                             UTF-16LE"
                        ),
                    });
                }
            }
        }

        let first_header = self.blocks.first().map_or(self.lines.len(), |b| b.header);
        for (index, line) in self.lines[..first_header].iter().enumerate() {
            if let Some((key, _)) = line.entry() {
                lints.push(Lint {
                    kind: LintKind::KeyBeforeFirstSection,
                    line: index + 1,
                    column: 1,
                    message: format!(
                        "key {key:?} comes before the first [section] header: Windows cannot \
                         read it; move it under a section"
                    ),
                });
            }
        }

        let mut first_block_of: HashMap<&str, usize> = HashMap::new();
        for block in &self.blocks {
            let header_line = block.header + 1;
            let name = self.lines[block.header].header_name().unwrap_or_default();
            if let Some(&first) = first_block_of.get(block.folded.as_str()) {
                lints.push(Lint {
                    kind: LintKind::DuplicateSection,
                    line: header_line,
                    column: 1,
                    message: format!(
                        "section [{name}] already started at line {first}: Windows reads only \
                         the first block, so the keys below are never read; merge the blocks"
                    ),
                });
                continue;
            }
            first_block_of.insert(block.folded.as_str(), header_line);
            let mut first_key_line: HashMap<String, usize> = HashMap::new();
            for index in block.header + 1..block.end {
                let line = &self.lines[index];
                let Some((key, raw)) = line.entry() else {
                    continue;
                };
                let LineKind::Entry { value: span, .. } = &line.kind else {
                    continue;
                };
                let value_column = line.text[..span.start].chars().count() + 1;
                match first_key_line.get(&fold(key)) {
                    Some(&first) => lints.push(Lint {
                        kind: LintKind::DuplicateKey,
                        line: index + 1,
                        column: 1,
                        message: format!(
                            "key {key:?} in [{name}] already appears at line {first}: Windows \
                             reads the first one only, so this line is ignored; delete one"
                        ),
                    }),
                    None => {
                        first_key_line.insert(fold(key), index + 1);
                    }
                }
                let value = unquote(raw);
                let units = value.encode_utf16().count();
                if units >= WIN32_VALUE_WRAP {
                    lints.push(Lint {
                        kind: LintKind::ValueWrapped,
                        line: index + 1,
                        column: value_column,
                        message: format!(
                            "the value of {key:?} is {units} characters long: Windows returns \
                             values of 65,536 characters or more cut to their length modulo \
                             65,536"
                        ),
                    });
                } else if let Some(limit) = crate::keys::value_limit(name, key) {
                    if units > limit {
                        lints.push(Lint {
                            kind: LintKind::ValueTooLong,
                            line: index + 1,
                            column: value_column,
                            message: format!(
                                "the value of [{name}] {key} is {units} characters long; \
                                 MicroSIP reads at most {limit} and silently cuts the rest"
                            ),
                        });
                    }
                }
            }
        }
        lints.sort_by_key(|l| (l.line, l.column));
        lints
    }
}

/// Non-ASCII text that is really UTF-8 read as Windows-1252 shows the tell-tale `Ã`/`Â`/`â`
/// lead characters followed by a continuation character; re-encoding proves it.
fn looks_like_utf8(text: &str) -> bool {
    if text.is_ascii() {
        return false;
    }
    let Some(bytes) = text
        .chars()
        .map(|c| {
            let mut buffer = [0u8; 4];
            let (out, _, unmappable) = encoding_rs::WINDOWS_1252.encode(c.encode_utf8(&mut buffer));
            (!unmappable && out.len() == 1).then(|| out[0])
        })
        .collect::<Option<Vec<u8>>>()
    else {
        return false;
    };
    !bytes.is_ascii() && std::str::from_utf8(&bytes).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ini::CodePage;

    fn kinds(bytes: &[u8]) -> Vec<(LintKind, usize)> {
        IniDocument::parse(bytes, CodePage::WINDOWS_1252)
            .unwrap()
            .lints()
            .into_iter()
            .map(|l| (l.kind, l.line))
            .collect()
    }

    #[test]
    fn duplicates_and_orphans() {
        assert_eq!(
            kinds(b"x=1\r\n[A]\r\nk=1\r\nK=2\r\n[a]\r\nk=3\r\n"),
            [
                (LintKind::KeyBeforeFirstSection, 1),
                (LintKind::DuplicateKey, 4),
                (LintKind::DuplicateSection, 5)
            ]
        );
    }

    #[test]
    fn encodings() {
        assert_eq!(kinds(b"\xEF\xBB\xBF[A]\r\n")[0], (LintKind::Utf8Bom, 1));
        assert_eq!(
            kinds("[A]\r\nname=Müller\r\n".as_bytes()),
            [(LintKind::Utf8WithoutBom, 2)]
        );
        assert_eq!(kinds(b"[A]\r\nname=M\xfcller\r\n"), []);
        assert_eq!(kinds(b"[\x00A\x00]\x00"), [(LintKind::Utf16WithoutBom, 1)]);
    }

    #[test]
    fn microsip_buffer_limits() {
        let long = "a".repeat(256);
        let text = format!("[Settings]\r\nuserAgent={long}\r\n[Account1]\r\nserver={long}\r\n");
        assert_eq!(kinds(text.as_bytes()), [(LintKind::ValueTooLong, 2)]);
    }
}
