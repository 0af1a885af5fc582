//! The helpers admins get beyond handlebars' built-ins (`lower`, `upper`, `default`), and the
//! escape function that keeps interpolated line breaks detectable.
//!
//! # Strict mode and helper parameters (handlebars 6.4)
//!
//! In strict mode handlebars errors on a missing variable only where it is *printed*
//! (`{{user.x}}`) or walked by a built-in block helper (`each`, `with`, `lookup`). A helper's
//! parameters are evaluated without that check: a missing path reaches the helper as a
//! [`PathAndJson`] whose `is_value_missing()` is true and whose `relative_path()` is the path as
//! written. Each helper then decides; nothing has to be switched on at registration. (Helpers
//! written with the `handlebars_helper!` macro turn a missing parameter into the misleading
//! "param with name … required but not found", and a helper that *returns*
//! [`ScopedJson::Missing`] is a strict-mode error without a path.) So these helpers implement
//! [`HelperDef`] by hand: `default` accepts a missing first parameter, and `lower`/`upper`
//! report a missing parameter as the same strict-mode error `{{user.x}}` gives, naming the path.

use handlebars::{
    Context, Handlebars, Helper, HelperDef, PathAndJson, RenderContext, RenderErrorReason,
    ScopedJson,
};
use serde_json::Value;

/// Stands in for `\n` in interpolated text until the output is checked (a Unicode
/// noncharacter, reserved for exactly this kind of internal use).
pub(crate) const LF_MARK: char = '\u{FDD0}';
/// Stands in for `\r` in interpolated text until the output is checked.
pub(crate) const CR_MARK: char = '\u{FDD1}';

/// The registry's escape function: no HTML escaping at all (`=`, `&`, `<`, quotes pass), but a
/// line break inside an interpolated value is replaced by a marker, so the caller can tell it from
/// a line break written in the template itself. A value with a line break would otherwise add
/// lines to the INI fragment (`x\npassword=…`). [`restore_line_breaks`] undoes the marking.
pub(crate) fn mark_line_breaks(data: &str) -> String {
    if !data.contains(['\r', '\n']) {
        return data.to_owned();
    }
    data.chars()
        .map(|c| match c {
            '\n' => LF_MARK,
            '\r' => CR_MARK,
            c => c,
        })
        .collect()
}

/// Whether rendered text holds an interpolated line break.
pub(crate) fn has_marked_line_break(text: &str) -> bool {
    text.contains([LF_MARK, CR_MARK])
}

/// Turn the markers of [`mark_line_breaks`] back into the line breaks they stand for.
pub(crate) fn restore_line_breaks(text: String) -> String {
    if !has_marked_line_break(&text) {
        return text;
    }
    text.chars()
        .map(|c| match c {
            LF_MARK => '\n',
            CR_MARK => '\r',
            c => c,
        })
        .collect()
}

/// Register `lower`, `upper` and `default`.
pub(crate) fn register(registry: &mut Handlebars<'static>) {
    registry.register_helper(
        "lower",
        Box::new(CaseHelper {
            name: "lower",
            convert: str::to_lowercase,
        }),
    );
    registry.register_helper(
        "upper",
        Box::new(CaseHelper {
            name: "upper",
            convert: str::to_uppercase,
        }),
    );
    registry.register_helper("default", Box::new(DefaultHelper));
}

/// Names of the helpers this module adds, for error messages.
pub(crate) const HELPER_NAMES: &str = "`default`, `lower`, `upper`";

/// The strict-mode error handlebars itself gives for `{{path}}`, so a missing helper parameter
/// reads exactly like a missing printed variable.
fn missing(param: &PathAndJson<'_>) -> handlebars::RenderError {
    handlebars::RenderError::strict_error(param.relative_path())
}

fn usage(message: String) -> handlebars::RenderError {
    RenderErrorReason::Other(message).into()
}

/// `{{lower x}}` / `{{upper x}}`: Unicode case conversion of a text, number or boolean.
struct CaseHelper {
    name: &'static str,
    convert: fn(&str) -> String,
}

impl HelperDef for CaseHelper {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, handlebars::RenderError> {
        let name = self.name;
        let [param] = h.params().as_slice() else {
            return Err(usage(format!(
                "`{name}` takes one argument, e.g. `{{{{{name} user.email}}}}`"
            )));
        };
        if !h.hash().is_empty() {
            return Err(usage(format!("`{name}` takes no `name=value` arguments")));
        }
        if param.is_value_missing() {
            return Err(missing(param));
        }
        let text = match param.value() {
            Value::String(s) => (self.convert)(s),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => String::new(),
            Value::Array(_) | Value::Object(_) => {
                return Err(usage(format!(
                    "`{name}` expects a text, but {} is a list or a table",
                    describe(param)
                )));
            }
        };
        Ok(ScopedJson::Derived(Value::String(text)))
    }
}

/// `{{default x "fallback"}}`: `x` when it is defined and not empty, else the fallback. A
/// missing `x` is not an error even in strict mode (that is the point of the helper); a missing
/// fallback is.
struct DefaultHelper;

impl HelperDef for DefaultHelper {
    fn call_inner<'reg: 'rc, 'rc>(
        &self,
        h: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        _: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
    ) -> Result<ScopedJson<'rc>, handlebars::RenderError> {
        let [value, fallback] = h.params().as_slice() else {
            return Err(usage(
                "`default` takes two arguments, e.g. `{{default user.title \"Staff\"}}`".into(),
            ));
        };
        if !h.hash().is_empty() {
            return Err(usage("`default` takes no `name=value` arguments".into()));
        }
        if !value.is_value_missing() && !is_empty(value.value()) {
            return Ok(ScopedJson::Derived(value.value().clone()));
        }
        if fallback.is_value_missing() {
            return Err(missing(fallback));
        }
        Ok(ScopedJson::Derived(fallback.value().clone()))
    }
}

/// What `default` replaces: null, an empty text, an empty list or table.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

fn describe(param: &PathAndJson<'_>) -> String {
    match param.relative_path() {
        Some(path) => format!("`{path}`"),
        None => "the argument".into(),
    }
}
