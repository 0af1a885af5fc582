//! Where every field of a manifest is written: a map from a field path
//! (`accounts[1].keys.Server`) to the byte ranges of its key and value.
//!
//! serde gives typed values without positions, and the two formats' span types
//! (`toml::Spanned`, `serde_saphyr::Spanned`) cannot share one struct. So the typed structs stay
//! plain, and the same text is parsed a second time into this map: TOML through
//! `toml::de::DeTable` (spanned keys and values), YAML through the event stream of
//! `serde_saphyr::granit_parser` (the parser serde-saphyr itself runs on). Semantic checks then
//! ask for the position of a path; a path that is not written (a defaulted field) falls back to
//! its nearest written ancestor.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;

use serde_saphyr::granit_parser::{Event, Parser, Span};
use toml::de::{DeTable, DeValue};

use super::diagnostic::SourceText;

/// One step of a [`FieldPath`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Seg {
    /// A table key.
    Key(String),
    /// An array index.
    Index(usize),
}

/// The path of a field from the document root.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub(crate) struct FieldPath(Vec<Seg>);

impl FieldPath {
    pub(crate) fn root() -> Self {
        FieldPath(Vec::new())
    }

    /// This path extended by table key `key`.
    pub(crate) fn k(&self, key: impl Into<String>) -> Self {
        let mut path = self.clone();
        path.0.push(Seg::Key(key.into()));
        path
    }

    /// This path extended by array index `index`.
    pub(crate) fn i(&self, index: usize) -> Self {
        let mut path = self.clone();
        path.0.push(Seg::Index(index));
        path
    }

    fn parent(&self) -> Option<Self> {
        let mut path = self.clone();
        path.0.pop().map(|_| path)
    }

    pub(crate) fn segs(&self) -> &[Seg] {
        &self.0
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(key) if n == 0 => write!(f, "{key}")?,
                Seg::Key(key) => write!(f, ".{key}")?,
                Seg::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// Where one field is written.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    /// The key's bytes (`None` for array elements and the root).
    pub(crate) key: Option<Range<usize>>,
    /// The value's bytes. For a TOML `[table]` or `[[array]]` element this is its header.
    pub(crate) value: Range<usize>,
    /// The text of a string (or integer) scalar.
    pub(crate) scalar: Option<String>,
    /// Whether the value is a scalar or an empty container.
    pub(crate) leaf: bool,
}

/// Field path → position, for one manifest text.
#[derive(Debug, Clone, Default)]
pub(crate) struct SourceMap {
    nodes: HashMap<FieldPath, Node>,
    /// Whether the whole text was mapped (`false` after a syntax error).
    complete: bool,
}

impl SourceMap {
    pub(crate) fn is_complete(&self) -> bool {
        self.complete
    }

    pub(crate) fn get(&self, path: &FieldPath) -> Option<&Node> {
        self.nodes.get(path)
    }

    /// The nearest written node at or above `path`.
    fn nearest(&self, path: &FieldPath) -> Option<&Node> {
        let mut at = Some(path.clone());
        while let Some(path) = at {
            if let Some(node) = self.nodes.get(&path) {
                return Some(node);
            }
            at = path.parent();
        }
        None
    }

    /// Start of the value at `path` (or of the nearest written ancestor's value).
    pub(crate) fn value_offset(&self, path: &FieldPath) -> usize {
        self.nearest(path).map_or(0, |node| node.value.start)
    }

    /// Start of the key of `path` (its value for array elements), or of the nearest written
    /// ancestor.
    pub(crate) fn key_offset(&self, path: &FieldPath) -> usize {
        self.nearest(path)
            .map_or(0, |node| node.key.as_ref().unwrap_or(&node.value).start)
    }

    /// Where the key `key` of the table at `path` is written, to restore the source order of
    /// a table's keys; unknown keys sort last.
    pub(crate) fn key_rank(&self, path: &FieldPath, key: &str) -> usize {
        self.nodes.get(&path.k(key)).map_or(usize::MAX, |node| {
            node.key.as_ref().unwrap_or(&node.value).start
        })
    }

    /// The deepest written path whose key or value starts at byte `offset`.
    pub(crate) fn path_at(&self, offset: usize) -> Option<(&FieldPath, &Node)> {
        self.nodes
            .iter()
            .filter(|(_, node)| {
                node.value.start == offset || node.key.as_ref().is_some_and(|k| k.start == offset)
            })
            .max_by_key(|(path, _)| path.segs().len())
    }

    /// Start of the innermost table or array whose value contains byte `offset` (for errors
    /// about the container itself, such as a missing field).
    pub(crate) fn container_start(&self, offset: usize) -> Option<usize> {
        self.nodes
            .values()
            .filter(|node| {
                node.scalar.is_none() && node.value.start <= offset && offset <= node.value.end
            })
            .map(|node| node.value.start)
            .max()
    }

    /// Every written path with its node.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&FieldPath, &Node)> {
        self.nodes.iter()
    }

    fn insert(&mut self, path: FieldPath, node: Node) {
        self.nodes.entry(path).or_insert(node);
    }

    /// Map a TOML document; an empty, incomplete map when it does not parse (the typed parse
    /// reports why).
    pub(crate) fn from_toml(text: &str) -> Self {
        let mut map = SourceMap::default();
        let Ok(root) = DeTable::parse(text) else {
            return map;
        };
        map.insert(
            FieldPath::root(),
            Node {
                key: None,
                value: 0..text.len(),
                scalar: None,
                leaf: root.get_ref().is_empty(),
            },
        );
        map.add_toml_table(&FieldPath::root(), root.get_ref());
        map.complete = true;
        map
    }

    fn add_toml_table(&mut self, path: &FieldPath, table: &DeTable<'_>) {
        for (key, value) in table.iter() {
            let child = path.k(key.get_ref().to_string());
            self.add_toml_value(child, Some(key.span()), value.get_ref(), value.span());
        }
    }

    fn add_toml_value(
        &mut self,
        path: FieldPath,
        key: Option<Range<usize>>,
        value: &DeValue<'_>,
        span: Range<usize>,
    ) {
        let (scalar, leaf) = match value {
            DeValue::String(s) => (Some(s.to_string()), true),
            DeValue::Integer(i) => (Some(i.as_str().to_string()), true),
            DeValue::Table(t) => (None, t.is_empty()),
            DeValue::Array(a) => (None, a.is_empty()),
            _ => (None, true),
        };
        self.insert(
            path.clone(),
            Node {
                key,
                value: span,
                scalar,
                leaf,
            },
        );
        match value {
            DeValue::Table(table) => self.add_toml_table(&path, table),
            DeValue::Array(array) => {
                for (index, item) in array.iter().enumerate() {
                    self.add_toml_value(path.i(index), None, item.get_ref(), item.span());
                }
            }
            _ => {}
        }
    }

    /// Map the first document of a YAML text; whatever parsed before a syntax error is kept.
    pub(crate) fn from_yaml(source: &SourceText) -> Self {
        let mut builder = YamlBuilder {
            source,
            map: SourceMap::default(),
            stack: Vec::new(),
            started: false,
        };
        let mut complete = false;
        for event in Parser::new_from_str(source.text()) {
            let Ok((event, span)) = event else {
                break;
            };
            match builder.event(event, span) {
                Flow::Continue => {}
                Flow::Done => {
                    complete = true;
                    break;
                }
            }
        }
        let mut map = builder.map;
        map.complete = complete;
        map
    }
}

enum Flow {
    Continue,
    Done,
}

enum Frame {
    Map {
        path: FieldPath,
        /// The key read, waiting for its value.
        key: Option<(String, Range<usize>)>,
        /// Entries seen.
        count: usize,
    },
    Seq {
        path: FieldPath,
        next: usize,
    },
    /// Inside a complex (non-scalar) mapping key: skipped, with its nesting depth.
    Skip {
        depth: usize,
    },
}

struct YamlBuilder<'a> {
    source: &'a SourceText,
    map: SourceMap,
    stack: Vec<Frame>,
    started: bool,
}

impl YamlBuilder<'_> {
    fn range(&self, span: &Span) -> Range<usize> {
        let offset = |marker: &serde_saphyr::granit_parser::Marker| {
            marker
                .byte_offset()
                .unwrap_or_else(|| self.source.offset_of(marker.line(), marker.col() + 1))
        };
        let start = offset(&span.start);
        start..offset(&span.end).max(start)
    }

    /// The path and key span of the next node, advancing the parent; `None` when the node is
    /// a mapping key (or inside a skipped complex key).
    fn place(&mut self, scalar_key: Option<(&str, Range<usize>)>) -> Option<Placement> {
        match self.stack.last_mut() {
            None => {
                if self.started {
                    return None;
                }
                self.started = true;
                Some(Placement {
                    path: FieldPath::root(),
                    key: None,
                })
            }
            Some(Frame::Map { path, key, count }) => match key.take() {
                Some((name, key_span)) => {
                    *count += 1;
                    Some(Placement {
                        path: path.k(name),
                        key: Some(key_span),
                    })
                }
                None => {
                    *key = Some(match scalar_key {
                        Some((name, span)) => (name.to_string(), span),
                        None => ("?".to_string(), 0..0),
                    });
                    None
                }
            },
            Some(Frame::Seq { path, next }) => {
                let placement = Placement {
                    path: path.i(*next),
                    key: None,
                };
                *next += 1;
                Some(placement)
            }
            Some(Frame::Skip { .. }) => None,
        }
    }

    fn event(&mut self, event: Event<'_>, span: Span) -> Flow {
        let range = self.range(&span);
        if let Some(Frame::Skip { depth }) = self.stack.last_mut() {
            match event {
                Event::MappingStart(..) | Event::SequenceStart(..) => *depth += 1,
                Event::MappingEnd | Event::SequenceEnd => {
                    *depth -= 1;
                    if *depth == 0 {
                        self.stack.pop();
                    }
                }
                _ => {}
            }
            return Flow::Continue;
        }
        match event {
            Event::Scalar(value, ..) => {
                if let Some(placement) = self.place(Some((&value, range.clone()))) {
                    self.map.insert(
                        placement.path,
                        Node {
                            key: placement.key,
                            value: range,
                            scalar: Some(value.to_string()),
                            leaf: true,
                        },
                    );
                }
            }
            Event::Alias(..) => {
                if let Some(placement) = self.place(Some(("*", range.clone()))) {
                    self.map.insert(
                        placement.path,
                        Node {
                            key: placement.key,
                            value: range,
                            scalar: None,
                            leaf: true,
                        },
                    );
                }
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                let is_map = matches!(event, Event::MappingStart(..));
                match self.place(None) {
                    Some(placement) => {
                        self.map.insert(
                            placement.path.clone(),
                            Node {
                                key: placement.key,
                                value: range,
                                scalar: None,
                                leaf: true,
                            },
                        );
                        self.stack.push(if is_map {
                            Frame::Map {
                                path: placement.path,
                                key: None,
                                count: 0,
                            }
                        } else {
                            Frame::Seq {
                                path: placement.path,
                                next: 0,
                            }
                        });
                    }
                    None => self.stack.push(Frame::Skip { depth: 1 }),
                }
            }
            Event::MappingEnd | Event::SequenceEnd => {
                let (path, children) = match self.stack.pop() {
                    Some(Frame::Map { path, count, .. }) => (path, count),
                    Some(Frame::Seq { path, next }) => (path, next),
                    _ => return Flow::Continue,
                };
                if let Some(node) = self.map.nodes.get_mut(&path) {
                    node.value.end = node.value.end.max(range.end);
                    node.leaf = children == 0;
                }
            }
            Event::DocumentEnd => return Flow::Done,
            _ => {}
        }
        Flow::Continue
    }
}

struct Placement {
    path: FieldPath,
    key: Option<Range<usize>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(source: &SourceText, offset: usize) -> (usize, usize) {
        source.line_column(offset)
    }

    #[test]
    fn toml_keys_and_values_are_mapped() {
        let text = "version = 1\n[[accounts]]\nlabel = \"A\"\n[accounts.keys]\nServer = \"x\"\n\
                    [[accounts]]\nlabel = \"B\"\npassword = { env = \"E\" }\n";
        let source = SourceText::new("m.toml", text.to_string());
        let map = SourceMap::from_toml(text);
        assert!(map.is_complete());
        let accounts = FieldPath::root().k("accounts");
        let server = accounts.i(0).k("keys").k("Server");
        assert_eq!(server.to_string(), "accounts[0].keys.Server");
        assert_eq!(at(&source, map.key_offset(&server)), (5, 1));
        assert_eq!(at(&source, map.value_offset(&server)), (5, 10));
        assert_eq!(map.get(&server).unwrap().scalar.as_deref(), Some("x"));
        let env = accounts.i(1).k("password").k("env");
        assert_eq!(at(&source, map.value_offset(&env)), (8, 20));
        // An array-of-tables element is positioned at its header.
        assert_eq!(at(&source, map.value_offset(&accounts.i(1))), (6, 1));
        // A field that is not written falls back to its nearest written ancestor.
        assert_eq!(
            at(&source, map.value_offset(&accounts.i(1).k("active"))),
            (6, 1)
        );
        assert!(map.key_rank(&accounts.i(0), "label") < map.key_rank(&accounts.i(0), "keys"));
    }

    #[test]
    fn yaml_keys_and_values_are_mapped() {
        let text =
            "version: 1\naccounts:\n  - label: A\n    keys:\n      Server: x\n  - label: B\n    \
                    password: {env: E}\n    tags: [a, b]\n";
        let source = SourceText::new("m.yaml", text.to_string());
        let map = SourceMap::from_yaml(&source);
        assert!(map.is_complete());
        let accounts = FieldPath::root().k("accounts");
        let server = accounts.i(0).k("keys").k("Server");
        assert_eq!(at(&source, map.key_offset(&server)), (5, 7));
        assert_eq!(at(&source, map.value_offset(&server)), (5, 15));
        let env = accounts.i(1).k("password").k("env");
        assert_eq!(at(&source, map.value_offset(&env)), (7, 21));
        assert_eq!(at(&source, map.value_offset(&accounts.i(1))), (6, 5));
        let tags = accounts.i(1).k("tags");
        assert_eq!(at(&source, map.value_offset(&tags.i(1))), (8, 15));
        assert!(!map.get(&tags).unwrap().leaf);
        assert!(map.get(&tags.i(0)).unwrap().leaf);
        assert_eq!(
            map.path_at(map.value_offset(&env))
                .map(|(p, _)| p.to_string()),
            Some("accounts[1].password.env".to_string())
        );
    }

    #[test]
    fn complex_yaml_keys_are_skipped() {
        let text = "a:\n  ? [x, y]\n  : 1\n  b: 2\n";
        let source = SourceText::new("m.yaml", text.to_string());
        let map = SourceMap::from_yaml(&source);
        let b = FieldPath::root().k("a").k("b");
        assert_eq!(at(&source, map.value_offset(&b)), (4, 6));
    }

    #[test]
    fn syntax_errors_leave_an_incomplete_map() {
        assert!(!SourceMap::from_toml("a = [").is_complete());
        let source = SourceText::new("m.yaml", "a: [b\n".to_string());
        assert!(!SourceMap::from_yaml(&source).is_complete());
    }
}
