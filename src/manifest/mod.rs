//! Placeholder: the manifest layer is being written (this temporary `Secret` keeps the crate
//! compiling meanwhile; the real module replaces this whole file).

/// A secret value: Debug prints `<redacted>`, no Display.
pub struct Secret(pub String);

impl Secret {
    /// Wrap a secret.
    pub fn new(text: String) -> Secret {
        Secret(text)
    }

    /// The secret's text.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}
