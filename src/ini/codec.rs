//! Bytes <-> text for INI files, decided exactly as Windows decides it.
//!
//! Windows' profile API looks at the first two bytes only: `FF FE` means UTF-16LE, anything else
//! is read in the ANSI code page (`microsip-formats.md` §1.2, `win32-ini-rules.md` "Rules Windows
//! and Wine share"). A UTF-8 or UTF-16BE byte-order mark does **not** switch the encoding on Windows
//! (rules 7 and 8): such files are decoded as ANSI here too, and [`ForeignBom`] records the mark so
//! the lints can say why the first section is invisible to MicroSIP.
//!
//! The codec splits a file into lines *before* decoding, so every line keeps its original bytes
//! and its own terminator; the document prints untouched lines from those bytes. Decoding never
//! replaces anything: an odd byte count, a lone surrogate or a malformed multi-byte sequence is a
//! [`DecodeError`] carrying the byte offset.

use std::fmt;

/// The ANSI code page used for files without a UTF-16LE BOM.
///
/// Windows uses the machine's ANSI code page (`GetACP`); Linux CI cannot ask Windows, so the
/// default is Windows-1252 (Western systems) and `--ansi-codepage` changes it. 65001 is UTF-8, for
/// machines with "Beta: use Unicode UTF-8 for worldwide language support" switched on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CodePage(u16);

impl CodePage {
    /// Windows-1252, the ANSI code page of Western European and US Windows installations.
    pub const WINDOWS_1252: CodePage = CodePage(1252);
    /// UTF-8 as an ANSI code page (ACP 65001).
    pub const UTF8: CodePage = CodePage(65001);

    /// The code page with this Windows number, if the codec supports it.
    pub fn new(number: u16) -> Result<CodePage, UnsupportedCodePage> {
        let page = CodePage(number);
        if page.encoding().is_some() {
            Ok(page)
        } else {
            Err(UnsupportedCodePage(number))
        }
    }

    /// The Windows number of this code page (e.g. 1252).
    pub fn number(self) -> u16 {
        self.0
    }

    fn encoding(self) -> Option<&'static encoding_rs::Encoding> {
        use encoding_rs::*;
        Some(match self.0 {
            874 => WINDOWS_874,
            932 => SHIFT_JIS,
            936 => GBK,
            949 => EUC_KR,
            950 => BIG5,
            1250 => WINDOWS_1250,
            1251 => WINDOWS_1251,
            1252 => WINDOWS_1252,
            1253 => WINDOWS_1253,
            1254 => WINDOWS_1254,
            1255 => WINDOWS_1255,
            1256 => WINDOWS_1256,
            1257 => WINDOWS_1257,
            1258 => WINDOWS_1258,
            65001 => UTF_8,
            _ => return None,
        })
    }
}

impl Default for CodePage {
    fn default() -> Self {
        CodePage::WINDOWS_1252
    }
}

impl fmt::Display for CodePage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl std::str::FromStr for CodePage {
    type Err = UnsupportedCodePage;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let trimmed = s.trim().trim_start_matches("cp").trim_start_matches("CP");
        let number: u16 = trimmed.parse().map_err(|_| UnsupportedCodePage(0))?;
        CodePage::new(number)
    }
}

/// A code page number the codec does not support.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "unsupported ANSI code page {0}; use one of 874, 932, 936, 949, 950, 1250-1258 or 65001 (UTF-8)"
)]
pub struct UnsupportedCodePage(pub u16);

/// How the bytes of an INI file are to be read, as Windows would read them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `FF FE` followed by UTF-16LE: the only encoding MicroSIP writes and the one new files get.
    Utf16Le,
    /// No UTF-16LE BOM: the ANSI code page.
    Ansi(CodePage),
}

impl Encoding {
    /// The name used in `ini dump --format json`: `"utf-16le"` or `"ansi"`.
    pub fn json_name(self) -> &'static str {
        match self {
            Encoding::Utf16Le => "utf-16le",
            Encoding::Ansi(_) => "ansi",
        }
    }

    /// The bytes that precede the first line in this encoding (the BOM).
    pub fn preamble(self) -> &'static [u8] {
        match self {
            Encoding::Utf16Le => &[0xFF, 0xFE],
            Encoding::Ansi(_) => &[],
        }
    }

    /// Encode `text` in this encoding, appending to `out`.
    ///
    /// Fails on the first character the ANSI code page cannot represent (encoding_rs would
    /// otherwise silently write `&#NNNN;`, see `crates.md` §2).
    pub fn encode_into(self, text: &str, out: &mut Vec<u8>) -> Result<(), Unrepresentable> {
        match self {
            Encoding::Utf16Le => {
                out.reserve(text.len() * 2);
                for unit in text.encode_utf16() {
                    out.extend_from_slice(&unit.to_le_bytes());
                }
                Ok(())
            }
            Encoding::Ansi(page) => {
                let encoding = page.encoding().expect("CodePage values are validated");
                if encoding == encoding_rs::UTF_8 || text.is_ascii() {
                    out.extend_from_slice(text.as_bytes());
                    return Ok(());
                }
                let (bytes, _, unmappable) = encoding.encode(text);
                if unmappable {
                    let character = text
                        .chars()
                        .find(|c| {
                            let mut buffer = [0u8; 4];
                            encoding.encode(c.encode_utf8(&mut buffer)).2
                        })
                        .unwrap_or('\u{FFFD}');
                    return Err(Unrepresentable {
                        character,
                        code_page: page,
                    });
                }
                out.extend_from_slice(&bytes);
                Ok(())
            }
        }
    }

    /// Whether `text` can be written in this encoding.
    pub fn can_encode(self, text: &str) -> Result<(), Unrepresentable> {
        self.encode_into(text, &mut Vec::new())
    }
}

/// A character an ANSI file's code page cannot hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the character {character:?} (U+{:04X}) cannot be written in ANSI code page {code_page}", *character as u32)]
pub struct Unrepresentable {
    /// The first character that does not fit.
    pub character: char,
    /// The file's code page.
    pub code_page: CodePage,
}

/// A byte-order mark Windows does not recognise, found at the start of an ANSI-decoded file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForeignBom {
    /// `EF BB BF`: Windows reads it as the ANSI text `ï»¿`, so the first line is no header.
    Utf8,
    /// `FE FF`: Windows reads the whole file as ANSI garbage.
    Utf16Be,
}

/// How a line ends in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Eol {
    /// `\r\n`, what Windows writes.
    CrLf,
    /// `\n` alone.
    Lf,
    /// `\r` alone (treated as a line break, as the profile API does).
    Cr,
    /// The last line of a file without a final line break.
    None,
}

impl Eol {
    /// The terminator's text.
    pub fn as_str(self) -> &'static str {
        match self {
            Eol::CrLf => "\r\n",
            Eol::Lf => "\n",
            Eol::Cr => "\r",
            Eol::None => "",
        }
    }
}

/// Undecodable input: never replaced silently.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} at byte offset {offset} (line {line}, column {column})")]
pub struct DecodeError {
    /// Offset of the first bad byte from the start of the file.
    pub offset: usize,
    /// 1-based line of the bad byte.
    pub line: usize,
    /// 1-based column (in characters) of the bad byte within its line.
    pub column: usize,
    /// What is wrong, e.g. "lone UTF-16 surrogate 0xD83D".
    pub what: String,
}

/// One line as it came out of the file: its decoded text, its terminator, and where its bytes are.
#[derive(Debug, Clone)]
pub(crate) struct RawLine {
    pub text: String,
    pub eol: Eol,
    /// Byte range of the line *including* its terminator in the source buffer.
    pub start: usize,
    pub end: usize,
}

/// The result of decoding a whole file.
#[derive(Debug)]
pub(crate) struct Decoded {
    pub encoding: Encoding,
    pub foreign_bom: Option<ForeignBom>,
    pub lines: Vec<RawLine>,
}

/// Decide the encoding as Windows does and split `bytes` into decoded lines.
pub(crate) fn decode(bytes: &[u8], ansi: CodePage) -> Result<Decoded, DecodeError> {
    if bytes.starts_with(&[0xFF, 0xFE]) {
        let lines = decode_utf16le(bytes)?;
        return Ok(Decoded {
            encoding: Encoding::Utf16Le,
            foreign_bom: None,
            lines,
        });
    }
    let foreign_bom = if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        Some(ForeignBom::Utf8)
    } else if bytes.starts_with(&[0xFE, 0xFF]) {
        Some(ForeignBom::Utf16Be)
    } else {
        None
    };
    let lines = decode_ansi(bytes, ansi)?;
    Ok(Decoded {
        encoding: Encoding::Ansi(ansi),
        foreign_bom,
        lines,
    })
}

fn decode_utf16le(bytes: &[u8]) -> Result<Vec<RawLine>, DecodeError> {
    const BOM_LEN: usize = 2;
    let body = &bytes[BOM_LEN..];
    let units: Vec<u16> = body
        .chunks_exact(2)
        .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
        .collect();
    let mut lines = Vec::with_capacity(units.len() / 32);
    let mut line_start = 0usize; // in units
    let mut i = 0usize;
    let finish = |lines: &mut Vec<RawLine>, from: usize, to: usize, eol: Eol, eol_units: usize| {
        let text = decode_units(&units[from..to]).map_err(|(bad, unit)| DecodeError {
            offset: BOM_LEN + 2 * (from + bad),
            line: lines.len() + 1,
            column: char_column(&units[from..from + bad]),
            what: format!("lone UTF-16 surrogate 0x{unit:04X}"),
        })?;
        lines.push(RawLine {
            text,
            eol,
            start: BOM_LEN + 2 * from,
            end: BOM_LEN + 2 * (to + eol_units),
        });
        Ok::<(), DecodeError>(())
    };
    while i < units.len() {
        // Straight to the next line break (a tight loop the compiler vectorises).
        match units[i..].iter().position(|&u| u == 0x000A || u == 0x000D) {
            Some(skip) => i += skip,
            None => break,
        }
        match units[i] {
            0x000A => {
                finish(&mut lines, line_start, i, Eol::Lf, 1)?;
                i += 1;
                line_start = i;
            }
            0x000D => {
                if units.get(i + 1) == Some(&0x000A) {
                    finish(&mut lines, line_start, i, Eol::CrLf, 2)?;
                    i += 2;
                } else {
                    finish(&mut lines, line_start, i, Eol::Cr, 1)?;
                    i += 1;
                }
                line_start = i;
            }
            _ => i += 1,
        }
    }
    let unterminated = line_start < units.len();
    if unterminated {
        finish(&mut lines, line_start, units.len(), Eol::None, 0)?;
    }
    if body.len() % 2 == 1 {
        // The half character sits at the end of the last line, or starts a new one.
        let (line, column) = match lines.last() {
            Some(last) if unterminated => (lines.len(), last.text.chars().count() + 1),
            _ => (lines.len() + 1, 1),
        };
        return Err(DecodeError {
            offset: bytes.len() - 1,
            line,
            column,
            what: "odd number of bytes in a UTF-16LE file (the last byte is half a character)"
                .to_string(),
        });
    }
    Ok(lines)
}

/// Strict UTF-16 decoding: `Err((index, unit))` at the first lone surrogate.
fn decode_units(units: &[u16]) -> Result<String, (usize, u16)> {
    // Nearly every INI line is ASCII: narrow it in one vectorisable pass.
    if units.iter().all(|&unit| unit < 0x80) {
        let bytes: Vec<u8> = units.iter().map(|&unit| unit as u8).collect();
        return Ok(String::from_utf8(bytes).expect("ASCII is UTF-8"));
    }
    let mut text = String::with_capacity(units.len());
    let mut index = 0usize;
    for result in char::decode_utf16(units.iter().copied()) {
        match result {
            Ok(c) => {
                index += c.len_utf16();
                text.push(c);
            }
            Err(e) => return Err((index, e.unpaired_surrogate())),
        }
    }
    Ok(text)
}

fn char_column(units_before: &[u16]) -> usize {
    char::decode_utf16(units_before.iter().copied()).count() + 1
}

fn decode_ansi(bytes: &[u8], page: CodePage) -> Result<Vec<RawLine>, DecodeError> {
    let encoding = page.encoding().expect("CodePage values are validated");
    let mut lines = Vec::new();
    let mut line_start = 0usize;
    let mut i = 0usize;
    // Splitting on the bytes 0x0A/0x0D is safe in every supported code page: no multi-byte
    // sequence of Shift_JIS, GBK, Big5, EUC-KR or UTF-8 uses a byte below 0x40 as a trail byte.
    let finish = |lines: &mut Vec<RawLine>, from: usize, to: usize, eol: Eol, eol_len: usize| {
        let text = decode_ansi_line(encoding, &bytes[from..to]).map_err(|bad| DecodeError {
            offset: from + bad,
            line: lines.len() + 1,
            column: decode_ansi_line(encoding, &bytes[from..from + bad])
                .map_or(bad + 1, |t| t.chars().count() + 1),
            what: format!(
                "byte 0x{:02X} is not valid in ANSI code page {page}",
                bytes[from + bad]
            ),
        })?;
        lines.push(RawLine {
            text,
            eol,
            start: from,
            end: to + eol_len,
        });
        Ok::<(), DecodeError>(())
    };
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => {
                finish(&mut lines, line_start, i, Eol::Lf, 1)?;
                i += 1;
                line_start = i;
            }
            b'\r' => {
                if bytes.get(i + 1) == Some(&b'\n') {
                    finish(&mut lines, line_start, i, Eol::CrLf, 2)?;
                    i += 2;
                } else {
                    finish(&mut lines, line_start, i, Eol::Cr, 1)?;
                    i += 1;
                }
                line_start = i;
            }
            _ => i += 1,
        }
    }
    if line_start < bytes.len() {
        finish(&mut lines, line_start, bytes.len(), Eol::None, 0)?;
    }
    Ok(lines)
}

/// Decode one ANSI line without replacement; `Err(offset)` names the first bad byte.
fn decode_ansi_line(
    encoding: &'static encoding_rs::Encoding,
    bytes: &[u8],
) -> Result<String, usize> {
    if bytes.is_ascii() {
        // Every supported code page is ASCII-compatible.
        return Ok(String::from_utf8(bytes.to_vec()).expect("ASCII is UTF-8"));
    }
    if encoding == encoding_rs::UTF_8 {
        return match std::str::from_utf8(bytes) {
            Ok(text) => Ok(text.to_string()),
            Err(e) => Err(e.valid_up_to()),
        };
    }
    let mut decoder = encoding.new_decoder_without_bom_handling();
    let capacity = decoder
        .max_utf8_buffer_length_without_replacement(bytes.len())
        .unwrap_or(bytes.len() * 3 + 16);
    let mut text = String::with_capacity(capacity);
    let (result, read) = decoder.decode_to_string_without_replacement(bytes, &mut text, true);
    match result {
        encoding_rs::DecoderResult::InputEmpty => Ok(text),
        encoding_rs::DecoderResult::Malformed(bad_len, consumed_after) => {
            let bad_start = read - consumed_after as usize - bad_len as usize;
            Err(bad_start)
        }
        encoding_rs::DecoderResult::OutputFull => unreachable!("buffer sized by the decoder"),
    }
}

/// Decode a whole UTF-8 or UTF-16BE buffer that carries a foreign BOM, for `ini convert`.
///
/// Returns the text without the BOM, or a [`DecodeError`] if it is not valid in that encoding.
pub(crate) fn decode_foreign(bytes: &[u8], bom: ForeignBom) -> Result<String, DecodeError> {
    let error = |offset: usize, what: String| DecodeError {
        offset,
        line: 1 + bytes[..offset].iter().filter(|&&b| b == b'\n').count(),
        column: 1,
        what,
    };
    match bom {
        ForeignBom::Utf8 => std::str::from_utf8(&bytes[3..])
            .map(str::to_string)
            .map_err(|e| error(3 + e.valid_up_to(), "invalid UTF-8".to_string())),
        ForeignBom::Utf16Be => {
            let body = &bytes[2..];
            if body.len() % 2 == 1 {
                return Err(error(
                    bytes.len() - 1,
                    "odd number of bytes in a UTF-16BE file".into(),
                ));
            }
            let units: Vec<u16> = body
                .chunks_exact(2)
                .map(|p| u16::from_be_bytes([p[0], p[1]]))
                .collect();
            decode_units(&units).map_err(|(index, unit)| {
                error(2 + 2 * index, format!("lone UTF-16 surrogate 0x{unit:04X}"))
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_utf16_length_is_an_error_with_offset() {
        let bytes = [0xFF, 0xFE, b'a', 0, b'b'];
        let error = decode(&bytes, CodePage::default()).unwrap_err();
        assert_eq!(error.offset, 4);
    }

    #[test]
    fn lone_surrogate_is_an_error_with_offset() {
        // "a\r\nb<D83D>c"
        let units: [u16; 6] = [0x61, 0x0D, 0x0A, 0x62, 0xD83D, 0x63];
        let mut bytes = vec![0xFF, 0xFE];
        for u in units {
            bytes.extend_from_slice(&u.to_le_bytes());
        }
        let error = decode(&bytes, CodePage::default()).unwrap_err();
        assert_eq!((error.offset, error.line, error.column), (2 + 8, 2, 2));
        assert!(error.what.contains("D83D"));
    }

    #[test]
    fn windows_1252_decodes_every_byte() {
        let bytes: Vec<u8> = (0u8..=255).filter(|b| *b != b'\n' && *b != b'\r').collect();
        let decoded = decode(&bytes, CodePage::WINDOWS_1252).unwrap();
        assert_eq!(decoded.lines.len(), 1);
        let mut out = Vec::new();
        Encoding::Ansi(CodePage::WINDOWS_1252)
            .encode_into(&decoded.lines[0].text, &mut out)
            .unwrap();
        assert_eq!(out, bytes);
    }

    #[test]
    fn invalid_utf8_under_acp_65001_names_the_byte() {
        let bytes = b"[a]\r\nk=v\xC3(\r\n";
        let error = decode(bytes, CodePage::UTF8).unwrap_err();
        assert_eq!((error.offset, error.line, error.column), (8, 2, 4));
    }

    #[test]
    fn malformed_shift_jis_is_an_error() {
        let bytes = b"k=\x81\x20";
        let error = decode(bytes, CodePage::new(932).unwrap()).unwrap_err();
        assert_eq!(error.offset, 2);
    }

    #[test]
    fn unrepresentable_character_is_named() {
        let error = Encoding::Ansi(CodePage::WINDOWS_1252)
            .can_encode("Łódź")
            .unwrap_err();
        assert_eq!(error.character, 'Ł');
    }

    #[test]
    fn foreign_boms_are_flagged_not_followed() {
        let decoded = decode(b"\xEF\xBB\xBF[Settings]\r\n", CodePage::default()).unwrap();
        assert_eq!(decoded.foreign_bom, Some(ForeignBom::Utf8));
        assert_eq!(decoded.lines[0].text, "\u{EF}\u{BB}\u{BF}[Settings]");
        let decoded = decode(b"\xFE\xFF\x00[", CodePage::default()).unwrap();
        assert_eq!(decoded.foreign_bom, Some(ForeignBom::Utf16Be));
    }
}
