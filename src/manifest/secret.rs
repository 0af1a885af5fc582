//! Passwords: resolving a [`SecretRef`] for one user into a [`Secret`] that cannot be printed
//! by accident.
//!
//! A missing source (unset variable, absent file, empty column) is `Ok(None)`, not an error:
//! the caller leaves the password alone and warns (`validate --require-secrets` makes it an
//! error). An empty value counts as missing. No error message ever contains a secret's text.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use super::types::SecretRef;
use super::users::UserRow;

/// A password. `Debug` prints `<redacted>`; there is no `Display`: use [`Secret::expose`]
/// where the plaintext is really needed (writing the INI value, hashing it).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a password.
    pub fn new(text: impl Into<String>) -> Self {
        Secret(text.into())
    }

    /// The plaintext. Never print, log or diff it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Why a password source could not be read (as opposed to being absent).
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The environment variable is set but not valid Unicode.
    #[error("environment variable {name} is set but is not valid Unicode")]
    EnvNotUnicode {
        /// The variable's name.
        name: String,
    },
    /// The file exists but could not be read.
    #[error("cannot read password file {}: {source}", .path.display())]
    FileRead {
        /// The file, resolved against the manifest's folder.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
    /// The file is neither UTF-8 nor UTF-16 with a BOM.
    #[error("password file {} is neither UTF-8 nor UTF-16 with a byte order mark", .path.display())]
    FileEncoding {
        /// The file, resolved against the manifest's folder.
        path: PathBuf,
    },
    /// The rendered environment variable or file name is empty.
    #[error("the {kind} name of a password reference rendered to an empty string")]
    EmptyName {
        /// `env` or `file`.
        kind: &'static str,
    },
}

/// Resolve `reference` for `user`.
///
/// `rendered_name` is the reference's `env` or `file` name after the caller rendered it as a
/// template for this user; it is ignored for `column` (the column name is not a template) and
/// `literal`. A relative file path is resolved against `base_dir` (the manifest's folder).
///
/// * `env`: the variable's value; `None` if unset or empty.
/// * `file`: the file's text (UTF-8, optional BOM; or UTF-16 with BOM, as PowerShell 5's
///   `Out-File` writes) with one trailing CRLF or LF removed; `None` if the file does not exist
///   or is empty. Other I/O errors are errors naming the path.
/// * `column`: the user's value in that column; `None` if the column is missing or empty.
/// * `literal`: the text; `None` if empty.
pub fn resolve_secret(
    reference: &SecretRef,
    rendered_name: &str,
    user: &UserRow,
    base_dir: &Path,
) -> Result<Option<Secret>, SecretError> {
    let found = match reference {
        SecretRef::Env(_) => {
            if rendered_name.is_empty() {
                return Err(SecretError::EmptyName { kind: "env" });
            }
            match std::env::var(rendered_name) {
                Ok(value) => Some(value),
                Err(std::env::VarError::NotPresent) => None,
                Err(std::env::VarError::NotUnicode(_)) => {
                    return Err(SecretError::EnvNotUnicode {
                        name: rendered_name.to_string(),
                    })
                }
            }
        }
        SecretRef::File(_) => {
            if rendered_name.is_empty() {
                return Err(SecretError::EmptyName { kind: "file" });
            }
            let path = base_dir.join(rendered_name);
            match std::fs::read(&path) {
                Ok(bytes) => Some(
                    decode_secret_file(&bytes)
                        .ok_or(SecretError::FileEncoding { path: path.clone() })?,
                ),
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(source) => return Err(SecretError::FileRead { path, source }),
            }
        }
        SecretRef::Column(column) => user.get(column).map(str::to_string),
        SecretRef::Literal(text) => Some(text.clone()),
    };
    Ok(found.filter(|text| !text.is_empty()).map(Secret))
}

/// A password file's text: BOM-detected UTF-8/UTF-16, else strict UTF-8, minus one trailing
/// line break.
fn decode_secret_file(bytes: &[u8]) -> Option<String> {
    let mut text = match encoding_rs::Encoding::for_bom(bytes) {
        Some((encoding, bom_len)) => {
            let (text, had_errors) = encoding.decode_without_bom_handling(&bytes[bom_len..]);
            if had_errors {
                return None;
            }
            text.into_owned()
        }
        None => String::from_utf8(bytes.to_vec()).ok()?,
    };
    if text.ends_with("\r\n") {
        text.truncate(text.len() - 2);
    } else if text.ends_with('\n') {
        text.truncate(text.len() - 1);
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "<redacted>");
        assert_eq!(format!("{:?}", Some(&secret)), "Some(<redacted>)");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn files_lose_one_line_break_and_their_bom() {
        assert_eq!(decode_secret_file(b"pw\r\n").as_deref(), Some("pw"));
        assert_eq!(decode_secret_file(b"pw\n\n").as_deref(), Some("pw\n"));
        assert_eq!(
            decode_secret_file(b"\xEF\xBB\xBFpw\n").as_deref(),
            Some("pw")
        );
        assert_eq!(
            decode_secret_file(b"\xFF\xFEp\0w\0\r\0\n\0").as_deref(),
            Some("pw")
        );
        assert_eq!(decode_secret_file(b"\xFFpw"), None);
    }
}
