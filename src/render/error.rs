//! [`RenderError`] and its construction from handlebars' errors, with the hints an admin needs
//! (the missing variable, the columns the users CSV does have, a likely typo).
//!
//! No message built here repeats a rendered or context *value*: the users CSV may hold a
//! password column, and the issue demands no secret in any output. Names (variables, columns,
//! keys, helpers) and template text are fine.

use std::fmt::Write as _;

use handlebars::{RenderErrorReason, TemplateError, TemplateErrorReason};
use serde_json::Value;

use super::helpers::HELPER_NAMES;

/// A template that does not compile, does not render, or renders something that is not a valid
/// value or INI fragment. Displayed as `template:line:column: message` (the position parts only
/// when known).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{template}{}: {message}", position(*.line, *.column))]
pub struct RenderError {
    /// What failed: the registered template's name, the file path for a template read from a
    /// file, or the caller's name for an inline template (e.g. `accounts[0].keys.username`).
    pub template: String,
    /// 1-based line in the template source, when known.
    pub line: Option<usize>,
    /// 1-based column (in characters) in the template source, when known.
    pub column: Option<usize>,
    /// What went wrong, in a sentence.
    pub message: String,
}

fn position(line: Option<usize>, column: Option<usize>) -> String {
    match (line, column) {
        (Some(line), Some(column)) => format!(":{line}:{column}"),
        (Some(line), None) => format!(":{line}"),
        _ => String::new(),
    }
}

impl RenderError {
    /// An error without a position.
    pub(crate) fn new(template: impl Into<String>, message: impl Into<String>) -> RenderError {
        RenderError {
            template: template.into(),
            line: None,
            column: None,
            message: message.into(),
        }
    }

    /// A template that does not compile.
    pub(crate) fn from_syntax(template: &str, error: &TemplateError) -> RenderError {
        let (line, column) = match error.pos() {
            Some((line, column)) => (Some(line), Some(column)),
            None => (None, None),
        };
        let message = match error.reason() {
            TemplateErrorReason::InvalidSyntax(detail) => {
                format!("template syntax error: {}", friendly_syntax(detail))
            }
            TemplateErrorReason::MismatchingClosedHelper(open, close) => {
                format!("`{{{{#{open}}}}}` is closed by `{{{{/{close}}}}}`")
            }
            TemplateErrorReason::MismatchingClosedDecorator(open, close) => {
                format!("decorator `{open}` is closed by `{close}`")
            }
            other => format!("template syntax error: {other}"),
        };
        RenderError {
            template: template.into(),
            line,
            column,
            message,
        }
    }

    /// A handlebars render error. `name_of` maps a registered template name to what errors
    /// call it; `fallback` names the template when handlebars does not (inline templates);
    /// `context` is searched for hints about a missing variable.
    pub(crate) fn from_render(
        error: &handlebars::RenderError,
        fallback: &str,
        name_of: &dyn Fn(&str) -> String,
        context: &Value,
    ) -> RenderError {
        if let RenderErrorReason::TemplateError(syntax) = error.reason() {
            let template = syntax
                .name()
                .map_or_else(|| fallback.to_owned(), |n| name_of(n));
            return RenderError::from_syntax(&template, syntax);
        }
        let template = error
            .template_name
            .as_deref()
            .map_or_else(|| fallback.to_owned(), name_of);
        let message = match error.reason() {
            RenderErrorReason::MissingVariable(Some(path)) => missing_variable(path, context),
            RenderErrorReason::MissingVariable(None) => {
                "a helper produced no value (templates are strict: every variable must exist)"
                    .into()
            }
            RenderErrorReason::HelperNotFound(name) => format!(
                "unknown helper `{name}`; this tool adds {HELPER_NAMES} to handlebars' built-ins \
                 (`if`, `unless`, `each`, `with`, `lookup`, `eq`, `ne`, `and`, `or`, `not`, …)"
            ),
            RenderErrorReason::TemplateNotFound(name) => {
                format!("no template named `{name}` is registered")
            }
            RenderErrorReason::PartialNotFound(name) => {
                format!("no partial template named `{name}` is registered")
            }
            other => other.to_string(),
        };
        RenderError {
            template,
            line: error.line_no,
            column: error.column_no,
            message,
        }
    }
}

/// Pest's "expected <rule>, <rule>, …" in words an admin can act on.
fn friendly_syntax(detail: &str) -> String {
    if detail.contains("helper_block_end") {
        "a block `{{#…}}` is not closed by its `{{/…}}` before the end".into()
    } else if detail.contains("trailing_tilde_to_omit_whitespace") {
        "an expression opened with `{{` is not closed by `}}`".into()
    } else if detail.contains("leading_tilde_to_omit_whitespace") {
        "expected an expression after `{{` (a `{{/…}}` without its `{{#…}}`, or a `{{!--` \
         comment without its `--}}`?)"
            .into()
    } else {
        detail.trim().replace('_', " ")
    }
}

/// The message for a strict-mode missing variable: its path, what its parent does have, and a
/// likely intended name.
pub(crate) fn missing_variable(path: &str, context: &Value) -> String {
    let mut message = format!(
        "undefined variable `{path}` (templates are strict; for an optional value write \
         `{{{{default {path} \"…\"}}}}`)"
    );
    if let Some(hint) = hint(path, context) {
        message.push_str("; ");
        message.push_str(&hint);
    }
    message
}

/// Split a handlebars path (`user.[first name]`, `@root.user.x`, `user/x`) into segments.
/// `None` for relative forms (`this`, `../`, `@index`) whose base is not the root.
fn root_segments(path: &str) -> Option<Vec<String>> {
    let path = path
        .strip_prefix("@root.")
        .or_else(|| path.strip_prefix("@root/"))
        .unwrap_or(path);
    let mut segments = Vec::new();
    let mut current = String::new();
    let mut in_brackets = false;
    for c in path.chars() {
        match c {
            '[' if !in_brackets && current.is_empty() => in_brackets = true,
            ']' if in_brackets => in_brackets = false,
            '.' | '/' if !in_brackets => segments.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    segments.push(current);
    let first = segments.first()?;
    if first.is_empty() || first == "this" || first == ".." || first.starts_with('@') {
        return None;
    }
    Some(segments)
}

fn hint(path: &str, context: &Value) -> Option<String> {
    let segments = root_segments(path)?;
    let mut node = context;
    let mut prefix: Vec<&str> = Vec::new();
    for segment in &segments {
        let Value::Object(map) = node else {
            return (!prefix.is_empty())
                .then(|| format!("`{}` is a single value, it has no fields", prefix.join(".")));
        };
        match map.get(segment) {
            Some(child) => {
                node = child;
                prefix.push(segment);
            }
            None => {
                if prefix.is_empty() && segments.len() == 1 {
                    // A bare name may be relative to an `{{#each}}` item: no reliable hint.
                    return None;
                }
                let names: Vec<&str> = map.keys().map(String::as_str).collect();
                let mut hint = if prefix.as_slice() == ["user"] {
                    format!("the users CSV has the columns {}", list(&names))
                } else if prefix.is_empty() {
                    format!("the template context has {}", list(&names))
                } else {
                    format!("`{}` has {}", prefix.join("."), list(&names))
                };
                if let Some(near) = nearest(segment, &names) {
                    let mut suggestion = prefix.clone();
                    suggestion.push(near);
                    let _ = write!(hint, "; did you mean `{}`?", suggestion.join("."));
                }
                return Some(hint);
            }
        }
    }
    None
}

/// At most 40 names, each in backquotes.
fn list(names: &[&str]) -> String {
    if names.is_empty() {
        return "no fields".into();
    }
    let mut out: Vec<String> = names.iter().take(40).map(|n| format!("`{n}`")).collect();
    if names.len() > 40 {
        out.push(format!("and {} more", names.len() - 40));
    }
    out.join(", ")
}

/// The name a typo most likely meant: equal ignoring case, or within a small edit distance.
fn nearest<'a>(wanted: &str, names: &[&'a str]) -> Option<&'a str> {
    if let Some(same) = names
        .iter()
        .find(|n| n.to_lowercase() == wanted.to_lowercase())
    {
        return Some(same);
    }
    let budget = match wanted.chars().count() {
        0..=3 => 1,
        4..=8 => 2,
        _ => 3,
    };
    names
        .iter()
        .map(|n| (edit_distance(&wanted.to_lowercase(), &n.to_lowercase()), *n))
        .filter(|(d, _)| *d <= budget)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == *cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn display_has_position_only_when_known() {
        let mut e = RenderError::new("t.hbs", "boom");
        assert_eq!(e.to_string(), "t.hbs: boom");
        e.line = Some(3);
        assert_eq!(e.to_string(), "t.hbs:3: boom");
        e.column = Some(7);
        assert_eq!(e.to_string(), "t.hbs:3:7: boom");
    }

    #[test]
    fn hints_name_columns_and_typos() {
        let ctx = json!({"user": {"name": "Ann", "extension": "201"}, "account": {"keys": {}}});
        let m = missing_variable("user.extnsion", &ctx);
        assert!(m.contains("`user.extnsion`"), "{m}");
        assert!(
            m.contains("the users CSV has the columns `extension`, `name`"),
            "{m}"
        );
        assert!(m.contains("did you mean `user.extension`?"), "{m}");
        let m = missing_variable("user.[Name]", &ctx);
        assert!(m.contains("did you mean `user.name`?"), "{m}");
        let m = missing_variable("usr.name", &ctx);
        assert!(
            m.contains("the template context has `account`, `user`"),
            "{m}"
        );
        assert!(m.contains("did you mean `user`?"), "{m}");
        let m = missing_variable("user.name.first", &ctx);
        assert!(m.contains("`user.name` is a single value"), "{m}");
        // Relative names (inside `{{#each}}`) get no misleading hint.
        assert!(!missing_variable("name", &ctx).contains("has"));
        assert!(!missing_variable("this.name", &ctx).contains("has"));
    }

    #[test]
    fn edit_distance_basics() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
