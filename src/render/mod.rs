//! Templates: the handlebars layer that turns a manifest's account and per-user data into INI
//! fragments and values. This module owns the [`Renderer`] (the handlebars registry with the
//! tool's settings and helpers), the built-in account template (`templates/account.ini.hbs`,
//! embedded in the binary), the template context contract below, and [`RenderError`]. A rendered
//! template is never pasted over a file: [`Renderer::render_fragment`] parses it with the crate's
//! own Win32 INI engine into `key=value` pairs, and the merge applies those.
//!
//! # Settings
//!
//! - **Strict mode**: printing an undefined variable is an error naming the template, line and
//!   column, the variable, the columns the users CSV does have and a likely typo. `{{#if x}}`
//!   on an undefined `x` is still allowed (handlebars' rule). For an optional value write
//!   `{{default user.title "Staff"}}`.
//! - **No HTML escaping**: `=`, `&`, `<`, `>`, quotes and backquotes pass unchanged. The one
//!   thing the escape step still does is mark line breaks inside interpolated values, so that a
//!   users-CSV cell holding `x\npassword=…` is an error instead of an injected INI line. For the
//!   same reason `{{{x}}}` and `{{&x}}` (which skip the escape step) are refused when a template
//!   is added; they are never needed, since nothing is escaped.
//! - **Helpers** (see `helpers.rs` for how they meet strict mode): `{{lower x}}` and
//!   `{{upper x}}` (Unicode case mapping; a missing `x` is the usual strict-mode error) and
//!   `{{default x "fallback"}}` (`x` when it exists and is not empty, else the fallback; a missing
//!   `x` is fine, as intended). Handlebars' built-ins (`if`, `each`, `with`, `lookup`, `eq`, …)
//!   are available too.
//!
//! # Template context
//!
//! Every template and inline value is rendered against one JSON object, built by
//! [`template_context`]:
//!
//! ```text
//! {
//!   "user":    { <every users-CSV column>: <its value for this user>, … },
//!   "account": {                                  // absent while the account's own keys render
//!     "id":        "<the account's stable id>",
//!     "label":     "<its label, already rendered>",
//!     "keys":      { "<key>": "<already rendered value>", … },   // sorted by key name
//!     "keys_list": [ { "name": "<key>", "value": "<value>" }, … ] // in manifest order
//!   },
//!   "profile": { "user": "<the profile's user name>" }
//! }
//! ```
//!
//! `account.keys` is a map for direct access (`{{account.keys.domain}}`); serde_json's map is
//! sorted by key (the crate does not enable `preserve_order`), so iterate `account.keys_list` to
//! keep the manifest's order, as the built-in template does. The merge orders keys it adds by
//! MicroSIP's save order (`keys::account_keys`) in any case. `label` is `account.label`, not an
//! entry of `keys`, and the account password is not part of the context at all: the merge writes
//! it under MicroSIP's password rules, and a secret that never enters a template can never leak
//! through a template error.
//!
//! # Values
//!
//! A manifest field such as `username = "{{user.extension}}"` is an inline template, rendered
//! by [`Renderer::render_value`]: its output must not contain a line break or NUL, which an INI
//! value cannot hold. [`Renderer::render_str`] renders without that check. Compiled inline
//! templates are cached per source text, so a fleet of thousands of users compiles each
//! distinct string once; a string without `{{` is returned as it is, without handlebars.

mod error;
mod fragment;
mod helpers;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};

use handlebars::template::TemplateElement;
use handlebars::{Context, Handlebars, Renderable, StringOutput, Template};
use serde_json::{Map, Value};

pub use error::RenderError;

/// What errors call the built-in account template. It is not a registered name: a template
/// file of this name is the manifest's own (see [`Renderer::render_builtin_fragment`]).
pub const BUILTIN_TEMPLATE: &str = "account.ini.hbs";

/// [`BUILTIN_TEMPLATE`]'s fragment for `label` and `keys` without rendering it, when it is
/// certain to be `label` then `keys` (see `fragment::builtin`); `None`: render it.
pub fn builtin_fragment(label: &str, keys: &[(String, String)]) -> Option<Vec<(String, String)>> {
    fragment::builtin(label, keys)
}

/// Source of the built-in account template (`templates/account.ini.hbs`).
pub const BUILTIN_TEMPLATE_SOURCE: &str = include_str!("../../templates/account.ini.hbs");

/// Most distinct inline templates kept compiled; past it, new strings are compiled per call.
const INLINE_CACHE_LIMIT: usize = 4096;

/// The account part of a [`template_context`].
#[derive(Debug, Clone, Copy)]
pub struct AccountContext<'a> {
    /// The account's stable id (defaults to its label in the manifest).
    pub id: &'a str,
    /// The account's label, already rendered.
    pub label: &'a str,
    /// The account's keys with their already rendered values, in manifest order.
    pub keys: &'a [(String, String)],
}

/// Build the template context (see the module documentation): `user` is the user's row (every
/// users-CSV column), `profile_user` the profile's user name, and `account` the account being
/// rendered, when its label and keys are already rendered.
pub fn template_context(
    user: &Map<String, Value>,
    profile_user: &str,
    account: Option<&AccountContext<'_>>,
) -> Value {
    let mut context = Map::new();
    context.insert("user".into(), Value::Object(user.clone()));
    if let Some(account) = account {
        let keys: Map<String, Value> = account
            .keys
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let keys_list: Vec<Value> = account
            .keys
            .iter()
            .map(|(k, v)| serde_json::json!({ "name": k, "value": v }))
            .collect();
        context.insert(
            "account".into(),
            serde_json::json!({
                "id": account.id,
                "label": account.label,
                "keys": keys,
                "keys_list": keys_list,
            }),
        );
    }
    context.insert(
        "profile".into(),
        serde_json::json!({ "user": profile_user }),
    );
    Value::Object(context)
}

/// The handlebars registry with the tool's settings (strict mode, no HTML escaping, the
/// `lower`/`upper`/`default` helpers) and the manifest's template files, beside the built-in
/// account template. Cheap to share between threads (`Send + Sync`; rendering takes `&self`).
#[derive(Debug)]
pub struct Renderer {
    registry: Handlebars<'static>,
    /// Registered template name -> what errors call it (the path for file templates) and its
    /// source, for positioning fragment errors.
    templates: HashMap<String, Registered>,
    /// Compiled inline templates by source text.
    inline: Mutex<HashMap<String, Arc<Template>>>,
    /// The built-in account template, compiled when first rendered: most runs never render it
    /// (its output is usually known without running it, see [`builtin_fragment`]), and compiling
    /// it took a tenth of a logon run. It is kept apart from the registered files so that a
    /// manifest's own `account.ini.hbs` is its file, never the built-in template.
    builtin: OnceLock<Template>,
}

#[derive(Debug)]
struct Registered {
    display: String,
    source: String,
}

impl Default for Renderer {
    fn default() -> Self {
        Renderer::new()
    }
}

impl Renderer {
    /// A renderer with no template files registered; the built-in account template is always
    /// there, through [`Renderer::render_builtin_fragment`].
    pub fn new() -> Renderer {
        let mut registry = Handlebars::new();
        registry.set_strict_mode(true);
        registry.register_escape_fn(helpers::mark_line_breaks);
        helpers::register(&mut registry);
        Renderer {
            registry,
            templates: HashMap::new(),
            inline: Mutex::new(HashMap::new()),
            builtin: OnceLock::new(),
        }
    }

    /// Register (or replace) template `name` from `source`. Errors name `name`, with the line
    /// and column of a syntax error.
    pub fn add_template_str(&mut self, name: &str, source: &str) -> Result<(), RenderError> {
        self.add(name, name.to_owned(), source)
    }

    /// Register (or replace) template `name` from the file at `path`: UTF-8 (a leading BOM is
    /// dropped) or UTF-16LE with BOM (Notepad's "Unicode"). Errors name the file's path, with
    /// the line and column of a syntax error.
    pub fn add_template_file(&mut self, name: &str, path: &Path) -> Result<(), RenderError> {
        let display = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| {
            RenderError::new(&display, format!("cannot read the template file: {e}"))
        })?;
        let source = decode_template_file(&bytes).ok_or_else(|| {
            RenderError::new(
                &display,
                "the template file is neither UTF-8 nor UTF-16LE with a BOM; save it as UTF-8",
            )
        })?;
        self.add(name, display, &source)
    }

    fn add(&mut self, name: &str, display: String, source: &str) -> Result<(), RenderError> {
        let template = Template::compile_with_name(source, name.to_owned())
            .map_err(|e| RenderError::from_syntax(&display, &e))?;
        check_no_unescaped(&template).map_err(|(line, column)| RenderError {
            template: display.clone(),
            line,
            column,
            message: UNESCAPED_MESSAGE.into(),
        })?;
        self.registry.register_template(name, template);
        self.templates.insert(
            name.to_owned(),
            Registered {
                display,
                source: source.to_owned(),
            },
        );
        Ok(())
    }

    /// The source text of the registered template `name`, as it was read.
    pub fn template_source(&self, name: &str) -> Option<&str> {
        self.templates.get(name).map(|t| t.source.as_str())
    }

    /// Whether a template named `name` is registered.
    pub fn has_template(&self, name: &str) -> bool {
        self.templates.contains_key(name)
    }

    /// Render the inline template `source` (a manifest field value such as
    /// `"{{user.extension}}"`) against `context`. `what` names it in errors, e.g.
    /// `accounts[0].keys.username`. The output may contain line breaks; use
    /// [`Renderer::render_value`] for INI values.
    pub fn render_str(
        &self,
        what: &str,
        source: &str,
        context: &Value,
    ) -> Result<String, RenderError> {
        if !source.contains("{{") {
            return Ok(source.to_owned());
        }
        let template = self.compiled_inline(what, source)?;
        let ctx = Context::from(context.clone());
        let mut render_context = handlebars::RenderContext::new(None);
        let mut out = StringOutput::new();
        template
            .render(&self.registry, &ctx, &mut render_context, &mut out)
            .map_err(|e| self.error(&e, what, context))?;
        let text = out
            .into_string()
            .map_err(|e| RenderError::new(what, format!("rendered text is not UTF-8: {e}")))?;
        Ok(helpers::restore_line_breaks(text))
    }

    /// [`Renderer::render_str`] for a value that goes into an INI line: a line break (it would
    /// inject INI lines) or NUL (Windows would cut the value there) in the output is an error.
    /// The error never repeats the value.
    pub fn render_value(
        &self,
        what: &str,
        source: &str,
        context: &Value,
    ) -> Result<String, RenderError> {
        let value = self.render_str(what, source, context)?;
        if value.contains(['\r', '\n']) {
            return Err(RenderError::new(
                what,
                "the rendered value contains a line break, which would add lines to the INI file",
            ));
        }
        if value.contains('\0') {
            return Err(RenderError::new(
                what,
                "the rendered value contains a NUL character, which an INI value cannot hold",
            ));
        }
        Ok(value)
    }

    /// Render the registered template `template` against `context` into an INI fragment and
    /// return its `(key, value)` pairs in template order, each value exactly as Windows reads
    /// it (blanks trimmed, one pair of outer quotes removed). Blank lines and `;` comments are
    /// allowed; a `[section]` header, a line without `=`, an empty key, a key written twice or a
    /// line break inside an interpolated value is an error.
    pub fn render_fragment(
        &self,
        template: &str,
        context: &Value,
    ) -> Result<Vec<(String, String)>, RenderError> {
        let Some(registered) = self.templates.get(template) else {
            let mut known: Vec<&str> = self.templates.keys().map(String::as_str).collect();
            known.sort_unstable();
            return Err(RenderError::new(
                template,
                format!(
                    "no template named `{template}` is registered (known: {})",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            ));
        };
        let rendered = self
            .registry
            .render(template, context)
            .map_err(|e| self.error(&e, &registered.display, context))?;
        fragment::parse(&registered.display, Some(&registered.source), &rendered)
    }

    /// [`Renderer::render_fragment`] for the built-in account template ([`BUILTIN_TEMPLATE`]).
    pub fn render_builtin_fragment(
        &self,
        context: &Value,
    ) -> Result<Vec<(String, String)>, RenderError> {
        let template = self.builtin.get_or_init(|| {
            let template =
                Template::compile_with_name(BUILTIN_TEMPLATE_SOURCE, BUILTIN_TEMPLATE.to_owned())
                    .expect("the built-in template compiles");
            debug_assert!(check_no_unescaped(&template).is_ok());
            template
        });
        // What `Handlebars::render` does for a registered template, outside dev mode and with
        // recursive lookup off (this registry never turns either on). Errors are named
        // `account.ini.hbs` as they are, never after a manifest's file of that name.
        let error = |e: &handlebars::RenderError| {
            RenderError::from_render(e, BUILTIN_TEMPLATE, &|name| name.to_owned(), context)
        };
        let ctx = Context::wraps(context).map_err(|e| error(&e))?;
        let mut render_context = handlebars::RenderContext::new(template.name.as_ref());
        let mut out = StringOutput::new();
        template
            .render(&self.registry, &ctx, &mut render_context, &mut out)
            .map_err(|e| error(&e))?;
        let rendered = out.into_string().map_err(|e| {
            RenderError::new(BUILTIN_TEMPLATE, format!("rendered text is not UTF-8: {e}"))
        })?;
        fragment::parse(BUILTIN_TEMPLATE, Some(BUILTIN_TEMPLATE_SOURCE), &rendered)
    }

    fn compiled_inline(&self, what: &str, source: &str) -> Result<Arc<Template>, RenderError> {
        if let Some(template) = self.inline_cache().get(source) {
            return Ok(Arc::clone(template));
        }
        let template = Template::compile(source).map_err(|e| RenderError::from_syntax(what, &e))?;
        check_no_unescaped(&template).map_err(|(line, column)| RenderError {
            template: what.to_owned(),
            line,
            column,
            message: UNESCAPED_MESSAGE.into(),
        })?;
        let template = Arc::new(template);
        let mut cache = self.inline_cache();
        if cache.len() < INLINE_CACHE_LIMIT {
            cache.insert(source.to_owned(), Arc::clone(&template));
        }
        Ok(template)
    }

    fn inline_cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Template>>> {
        // The cache holds only finished compilations: a panic elsewhere cannot leave it torn.
        self.inline
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn error(
        &self,
        error: &handlebars::RenderError,
        fallback: &str,
        context: &Value,
    ) -> RenderError {
        let name_of = |name: &str| {
            self.templates
                .get(name)
                .map_or_else(|| name.to_owned(), |r| r.display.clone())
        };
        RenderError::from_render(error, fallback, &name_of, context)
    }
}

const UNESCAPED_MESSAGE: &str = "`{{{…}}}` and `{{&…}}` are not allowed: nothing is escaped \
     anyway (write `{{…}}`), and they would skip the check that keeps line breaks in values from \
     adding INI lines";

/// Find a `{{{…}}}` or `{{&…}}` expression anywhere in `template` (blocks, `else` branches and
/// partial blocks included); its 1-based line and column when found.
fn check_no_unescaped(template: &Template) -> Result<(), (Option<usize>, Option<usize>)> {
    for (index, element) in template.elements.iter().enumerate() {
        let position = || {
            template
                .mapping
                .get(index)
                .map_or((None, None), |m| (Some(m.0), Some(m.1)))
        };
        let nested: Vec<&Template> = match element {
            TemplateElement::HtmlExpression(_) => return Err(position()),
            TemplateElement::HelperBlock(helper) | TemplateElement::Expression(helper) => helper
                .template
                .iter()
                .chain(helper.inverse.iter())
                .collect(),
            TemplateElement::DecoratorBlock(decorator)
            | TemplateElement::PartialBlock(decorator)
            | TemplateElement::DecoratorExpression(decorator)
            | TemplateElement::PartialExpression(decorator) => decorator.template.iter().collect(),
            _ => Vec::new(),
        };
        for inner in nested {
            check_no_unescaped(inner)?;
        }
    }
    Ok(())
}

/// A template file's text: UTF-16LE when it starts with `FF FE`, else UTF-8 without its BOM.
fn decode_template_file(bytes: &[u8]) -> Option<String> {
    if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        if rest.len() % 2 != 0 {
            return None;
        }
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|pair| u16::from_le_bytes([pair[0], pair[1]]))
            .collect();
        return String::from_utf16(&units).ok();
    }
    let text = std::str::from_utf8(bytes).ok()?;
    Some(text.strip_prefix('\u{FEFF}').unwrap_or(text).to_owned())
}

#[cfg(test)]
mod tests;
