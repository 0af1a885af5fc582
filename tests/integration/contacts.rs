//! Contacts.xml: the golden corpus round-trips byte for byte, random documents round-trip and
//! edit exactly their bytes (proptest), hostile files are refused and left untouched, and the
//! `contacts list|export|import|remove|check` verbs work on real profile folders.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime};

use microsip_provision::contacts::{
    escape, exchange, Contact, ContactsDocument, ContactsErrorKind, Field, Format,
};

use crate::common::{bin, corpus_dir};

fn contacts_corpus() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(corpus_dir().join("contacts"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    files.sort();
    assert!(
        files.len() >= 13,
        "the contacts corpus went missing: {files:?}"
    );
    files
}

fn sample() -> Vec<u8> {
    fs::read(corpus_dir().join("contacts").join("Contacts.xml")).unwrap()
}

/// A profile folder holding `Contacts.xml` with these bytes (none when `None`).
fn profile(bytes: Option<&[u8]>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    if let Some(bytes) = bytes {
        fs::write(dir.path().join("Contacts.xml"), bytes).unwrap();
    }
    dir
}

fn run(args: &[&str], dir: &Path) -> Output {
    let mut command: Command = bin();
    command
        .args(args)
        .arg("--profile")
        .arg(dir)
        .env("USER", "tester");
    command.output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn mtime(path: &Path) -> SystemTime {
    fs::metadata(path).unwrap().modified().unwrap()
}

/// Make a later write visible in the mtime, whatever the file system's resolution.
fn age(path: &Path) {
    let old = SystemTime::now() - Duration::from_secs(3600);
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(old)
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// The golden corpus.

#[test]
fn every_corpus_file_round_trips_byte_for_byte() {
    for path in contacts_corpus() {
        let bytes = fs::read(&path).unwrap();
        let document =
            ContactsDocument::parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(document.to_bytes(), bytes, "{}", path.display());
        // And reading the contacts does not disturb it.
        let _ = document.contacts();
        assert_eq!(document.to_bytes(), bytes, "{}", path.display());
    }
}

#[test]
fn corpus_files_read_like_microsip() {
    let read = |name: &str| {
        ContactsDocument::parse(&fs::read(corpus_dir().join("contacts").join(name)).unwrap())
            .unwrap()
    };
    let quotes = read("single-quotes.xml").contacts();
    assert_eq!(quotes[0].name, "O'Brien & Sons");
    assert_eq!(quotes[0].comment, "say \"hi\"");
    assert!(quotes[0].starred);
    assert_eq!(
        quotes[1].name, "Caf&#233; Ol&#xE9;",
        "MicroSIP shows numeric references literally"
    );
    assert!(quotes[1].presence);
    assert_eq!(quotes[2].name, "It's <ok>");
    let unknown = read("comments-unknown.xml").contacts();
    assert_eq!(unknown.len(), 2);
    assert_eq!(unknown[0].extra("x-crm"), Some("A-17"));
    assert_eq!(unknown[1].extra("x-first"), Some("1"));
    let bom = read("bom-lf-carddav.xml");
    assert!(bom.has_bom());
    assert_eq!(bom.contacts()[1].name, "李雷");
    let twins = read("numberless-duplicates.xml");
    assert_eq!(twins.len(), 2, "the contact without a number is not listed");
    assert_eq!(twins.count("7000"), 2);
    assert_eq!(twins.contacts()[1].comment, "tab\there\r\nsecond line");
    assert_eq!(twins.warnings().len(), 2);
    assert_eq!(read("start-end.xml").len(), 2);
    assert!(read("empty-file.xml").is_empty());
    assert!(read("declaration-only.xml").is_empty());
    let emoji = read("cjk-emoji.xml").contacts();
    assert!(emoji.windows(2).all(|w| w[0].microsip_order(&w[1]).is_le()));
}

#[test]
fn corpus_edits_touch_only_their_bytes() {
    for path in contacts_corpus() {
        let bytes = fs::read(&path).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        let mut document = ContactsDocument::parse(&bytes).unwrap();
        let Some(first) = document.contacts().into_iter().next() else {
            continue;
        };
        // Change the name to something every escape applies to, then back.
        let changed = format!("{} & <\"'> 😀", first.name);
        assert!(document
            .set_attribute(&first.number, "name", &changed)
            .unwrap());
        let printed = String::from_utf8(document.to_bytes()).unwrap();
        let prefix = text
            .bytes()
            .zip(printed.bytes())
            .take_while(|(a, b)| a == b)
            .count();
        let suffix = text
            .bytes()
            .rev()
            .zip(printed.bytes().rev())
            .take_while(|(a, b)| a == b)
            .count()
            .min(text.len() - prefix);
        let inserted = &printed[prefix..printed.len() - suffix];
        assert!(
            escape(&changed).contains(inserted),
            "{}: only the value changes: {inserted:?}",
            path.display()
        );
        let reparsed = ContactsDocument::parse(printed.as_bytes()).unwrap();
        assert_eq!(reparsed.get(&first.number).unwrap().name, changed);
        assert!(document
            .set_attribute(&first.number, "name", &first.name)
            .unwrap());
        if !text.contains("&#") && !text.contains('\'') && !text.contains("&gt;") {
            assert_eq!(document.to_bytes(), bytes, "{}", path.display());
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Property tests.

mod props {
    use std::ops::Range;

    use microsip_provision::contacts::{escape, Contact, ContactsDocument, Field};
    use proptest::prelude::*;

    /// One piece of a value: its MicroSIP reading and the ways it can be spelled in a file.
    /// `None` in a spelling means "raw, but only inside the other quote".
    const UNITS: &[(&str, &[&str])] = &[
        ("a", &["a"]),
        ("Z", &["Z"]),
        ("0", &["0"]),
        (" ", &[" "]),
        ("é", &["é"]),
        ("李", &["李"]),
        ("雷", &["雷"]),
        ("😀", &["😀"]),
        ("\t", &["\t"]),
        ("&", &["&amp;"]),
        ("<", &["&lt;"]),
        (">", &[">", "&gt;"]),
        ("\"", &["&quot;", "RAW"]),
        ("'", &["&apos;", "&#39;", "RAW"]),
        // Numeric references: MicroSIP shows them literally (microsip-formats.md §2.1).
        ("&#233;", &["&#233;"]),
        ("&#x1F600;", &["&#x1F600;"]),
        ("&#38;", &["&#38;"]),
    ];

    /// A raw attribute value for `quote`, and what MicroSIP reads.
    fn value(quote: char) -> impl Strategy<Value = (String, String)> {
        proptest::collection::vec((0..UNITS.len(), 0..3usize), 0..7).prop_map(move |units| {
            let mut raw = String::new();
            let mut read = String::new();
            for (unit, variant) in units {
                let (meaning, spellings) = UNITS[unit];
                let mut spelling = spellings[variant % spellings.len()];
                if spelling == "RAW" {
                    let c = meaning.chars().next().unwrap();
                    spelling = if c == quote { spellings[0] } else { meaning };
                }
                raw.push_str(spelling);
                read.push_str(meaning);
            }
            (raw, read)
        })
    }

    const EXTRA_NAMES: &[&str] = &["x-crm", "x_team", "note", "Zz", "ns:attr"];

    #[derive(Debug, Clone)]
    struct GenAttribute {
        name: String,
        read: String,
        /// The raw value's range in the document text.
        range: Range<usize>,
    }

    #[derive(Debug, Clone)]
    struct GenContact {
        number: Option<String>,
        attributes: Vec<GenAttribute>,
        /// The contact's whole line, indentation and line break included.
        line: Range<usize>,
    }

    #[derive(Debug, Clone)]
    struct GenDoc {
        text: String,
        bom: bool,
        contacts: Vec<GenContact>,
        /// Whether `</contacts>` exists (not `<contacts/>`).
        expanded: bool,
    }

    impl GenDoc {
        fn bytes(&self) -> Vec<u8> {
            let mut bytes = if self.bom {
                b"\xEF\xBB\xBF".to_vec()
            } else {
                Vec::new()
            };
            bytes.extend_from_slice(self.text.as_bytes());
            bytes
        }

        fn numbered(&self) -> Vec<&GenContact> {
            self.contacts
                .iter()
                .filter(|c| c.number.is_some())
                .collect()
        }
    }

    /// One attribute before layout: name, quote, raw and read value.
    type AttrSpec = (String, char, String, String);

    #[derive(Debug, Clone)]
    enum Item {
        Contact {
            with_number: bool,
            attributes: Vec<AttrSpec>,
            separators: Vec<u8>,
            close: u8,
        },
        Comment(String),
        Unknown(u8),
        Blank,
    }

    fn attribute() -> impl Strategy<Value = AttrSpec> {
        let names: Vec<String> = Field::ALL
            .iter()
            .filter(|f| **f != Field::Number)
            .map(|f| f.attribute().to_string())
            .chain(EXTRA_NAMES.iter().map(|s| s.to_string()))
            .collect();
        (proptest::sample::select(names), any::<bool>()).prop_flat_map(|(name, single)| {
            let quote = if single { '\'' } else { '"' };
            let flag = Field::from_attribute(&name).is_some_and(|f| f.is_flag());
            let value = if flag {
                prop_oneof![
                    3 => prop_oneof![Just("1"), Just("0"), Just(""), Just("yes")]
                        .prop_map(|v| (v.to_string(), v.to_string())).boxed(),
                    1 => value(quote).boxed(),
                ]
                .boxed()
            } else {
                value(quote).boxed()
            };
            (Just(name), Just(quote), value)
                .prop_map(|(name, quote, (raw, read))| (name, quote, raw, read))
        })
    }

    fn item() -> impl Strategy<Value = Item> {
        prop_oneof![
            6 => (
                proptest::bool::weighted(0.85),
                proptest::collection::vec(attribute(), 0..8),
                proptest::collection::vec(0..4u8, 9),
                0..3u8,
            )
                .prop_map(|(with_number, mut attributes, separators, close)| {
                    let mut seen = Vec::new();
                    attributes.retain(|a| {
                        let fresh = !seen.contains(&a.0);
                        seen.push(a.0.clone());
                        fresh
                    });
                    Item::Contact {
                        with_number,
                        attributes,
                        separators,
                        close,
                    }
                }),
            1 => "[a-z &<>李😀-]{0,12}"
                .prop_filter("no -- in comments", |t| !t.contains("--") && !t.ends_with('-'))
                .prop_map(Item::Comment),
            1 => (0..3u8).prop_map(Item::Unknown),
            1 => Just(Item::Blank),
        ]
    }

    fn document() -> impl Strategy<Value = GenDoc> {
        (
            any::<bool>(),
            0..3u8,
            0..3u8,
            any::<bool>(),
            proptest::collection::vec((item(), 0..3u8, any::<bool>(), 0..1000u32), 0..10),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(
                |(bom, declaration, eol_style, prolog_comment, items, self_closing, final_eol)| {
                    build(
                        bom,
                        declaration,
                        eol_style,
                        prolog_comment,
                        items,
                        self_closing,
                        final_eol,
                    )
                },
            )
    }

    #[allow(clippy::type_complexity)]
    fn build(
        bom: bool,
        declaration: u8,
        eol_style: u8,
        prolog_comment: bool,
        items: Vec<(Item, u8, bool, u32)>,
        self_closing: bool,
        final_eol: bool,
    ) -> GenDoc {
        let eol = |pick: bool| match eol_style {
            0 => "\r\n",
            1 => "\n",
            _ if pick => "\r\n",
            _ => "\n",
        };
        let mut text = String::new();
        match declaration {
            0 => {}
            1 => text.push_str("<?xml version=\"1.0\"?>"),
            _ => text.push_str("<?xml version='1.0' encoding=\"UTF-8\"?>"),
        }
        if declaration > 0 {
            text.push_str(eol(true));
        }
        if prolog_comment {
            text.push_str("<!-- written by a test -->");
            text.push_str(eol(false));
        }
        let mut contacts = Vec::new();
        let expanded = !(items.is_empty() && self_closing);
        if !expanded {
            text.push_str("<contacts/>");
        } else {
            text.push_str("<contacts>");
            text.push_str(eol(true));
            for (index, (item, indent, pick, salt)) in items.into_iter().enumerate() {
                let line_start = text.len();
                if !matches!(item, Item::Blank) {
                    text.push_str(["", "  ", "\t"][indent as usize % 3]);
                }
                match item {
                    Item::Blank => {}
                    Item::Comment(body) => text.push_str(&format!("<!--{body}-->")),
                    Item::Unknown(kind) => text.push_str(
                        [
                            "<group name=\"x\"/>",
                            "<group><member ref='1'/>text &amp; more</group>",
                            "<?pi data?>",
                        ][kind as usize % 3],
                    ),
                    Item::Contact {
                        with_number,
                        attributes,
                        separators,
                        close,
                    } => {
                        let mut attributes = attributes;
                        let number = with_number.then(|| format!("n{index}-{salt}李"));
                        if let Some(number) = &number {
                            let at = salt as usize % (attributes.len() + 1);
                            attributes
                                .insert(at, ("number".into(), '"', number.clone(), number.clone()));
                        }
                        text.push_str("<contact");
                        let mut generated = Vec::new();
                        for (i, (name, quote, raw, read)) in attributes.into_iter().enumerate() {
                            text.push_str(match separators[i % separators.len()] {
                                0 | 1 => " ",
                                2 => "  ",
                                _ if eol(pick) == "\r\n" => "\r\n   ",
                                _ => "\n   ",
                            });
                            text.push_str(&name);
                            text.push_str(if separators[(i + 3) % separators.len()] == 3 {
                                " = "
                            } else {
                                "="
                            });
                            text.push(quote);
                            let start = text.len();
                            text.push_str(&raw);
                            let range = start..text.len();
                            text.push(quote);
                            generated.push(GenAttribute { name, read, range });
                        }
                        text.push_str(["/>", " />", "></contact>"][close as usize % 3]);
                        contacts.push(GenContact {
                            number,
                            attributes: generated,
                            line: line_start..0,
                        });
                    }
                }
                text.push_str(eol(pick));
                if let Some(last) = contacts.last_mut() {
                    if last.line.end == 0 {
                        last.line.end = text.len();
                    }
                }
            }
            text.push_str("</contacts>");
        }
        if final_eol {
            text.push_str(eol(true));
        }
        GenDoc {
            text,
            bom,
            contacts,
            expanded,
        }
    }

    /// What MicroSIP reads for an attribute: flags are "1" only for exactly "1".
    fn reads_as(name: &str, read: &str) -> String {
        match Field::from_attribute(name) {
            Some(f) if f.is_flag() => if read == "1" { "1" } else { "0" }.to_string(),
            _ => read.to_string(),
        }
    }

    fn check_model(document: &ContactsDocument, generated: &GenDoc) {
        let contacts = document.contacts();
        let numbered = generated.numbered();
        assert_eq!(contacts.len(), numbered.len(), "{:?}", generated.text);
        for (contact, expected) in contacts.iter().zip(numbered) {
            assert_eq!(Some(&contact.number), expected.number.as_ref());
            for attribute in &expected.attributes {
                assert_eq!(
                    contact.attribute(&attribute.name).unwrap_or_default(),
                    reads_as(&attribute.name, &attribute.read),
                    "{} in {:?}",
                    attribute.name,
                    generated.text
                );
            }
        }
    }

    /// A decoded value for edits: anything MicroSIP can hold.
    fn new_value() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9 &<>\"'é李😀\t\r\n]{0,10}"
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn random_documents_round_trip_and_read_like_microsip(generated in document()) {
            let bytes = generated.bytes();
            let document = ContactsDocument::parse(&bytes)
                .unwrap_or_else(|e| panic!("{e}: {:?}", generated.text));
            prop_assert_eq!(document.to_bytes(), bytes);
            check_model(&document, &generated);
        }

        #[test]
        fn set_attribute_changes_only_that_value(
            generated in document(),
            pick in any::<proptest::sample::Index>(),
            attribute in any::<proptest::sample::Index>(),
            value in new_value(),
        ) {
            let numbered = generated.numbered();
            prop_assume!(!numbered.is_empty());
            let target = numbered[pick.index(numbered.len())];
            let candidates: Vec<&GenAttribute> =
                target.attributes.iter().filter(|a| a.name != "number").collect();
            prop_assume!(!candidates.is_empty());
            let chosen = candidates[attribute.index(candidates.len())];
            let number = target.number.clone().unwrap();
            let mut document = ContactsDocument::parse(&generated.bytes()).unwrap();
            let changed = document.set_attribute(&number, &chosen.name, &value).unwrap();
            let was = reads_as(&chosen.name, &chosen.read);
            let now = reads_as(&chosen.name, &value);
            prop_assert_eq!(changed, was != value);
            let mut expected = generated.text.clone();
            if changed {
                expected.replace_range(chosen.range.clone(), &escape(&value));
            }
            let mut expected_bytes = if generated.bom { b"\xEF\xBB\xBF".to_vec() } else { Vec::new() };
            expected_bytes.extend_from_slice(expected.as_bytes());
            prop_assert_eq!(document.to_bytes(), expected_bytes.clone());
            let reparsed = ContactsDocument::parse(&expected_bytes).unwrap();
            let contact = reparsed.get(&number).unwrap();
            prop_assert_eq!(contact.attribute(&chosen.name).unwrap_or_default(), now);
        }

        #[test]
        fn removing_a_contact_removes_exactly_its_line(
            generated in document(),
            pick in any::<proptest::sample::Index>(),
        ) {
            prop_assume!(generated.contacts.len() >= 2);
            let numbered = generated.numbered();
            prop_assume!(!numbered.is_empty());
            let target = numbered[pick.index(numbered.len())];
            let mut document = ContactsDocument::parse(&generated.bytes()).unwrap();
            prop_assert!(document.remove(target.number.as_deref().unwrap()));
            let mut expected = generated.text.clone();
            expected.replace_range(target.line.clone(), "");
            let printed = document.to_bytes();
            let offset = if generated.bom { 3 } else { 0 };
            prop_assert_eq!(&printed[offset..], expected.as_bytes());
            let reparsed = ContactsDocument::parse(&printed).unwrap();
            prop_assert_eq!(reparsed.len(), numbered.len() - 1);
        }

        #[test]
        fn a_new_contact_is_one_microsip_line_in_sorted_place(
            generated in document(),
            name in "[A-Za-z李😀\"&' ]{0,8}",
            starred in any::<bool>(),
        ) {
            let mut document = ContactsDocument::parse(&generated.bytes()).unwrap();
            let mut contact = Contact::new("new-1", name.clone());
            contact.starred = starred;
            document.add(contact.clone()).unwrap();
            let printed = String::from_utf8(document.to_bytes()).unwrap();
            let element = contact.to_microsip_element();
            let at = printed.find(&element).expect("the new element is printed");
            let after = at + element.len();
            let eol_len = if printed[after..].starts_with("\r\n") { 2 } else { 1 };
            prop_assert!(printed[after..].starts_with(['\r', '\n']));
            let line_start = printed[..at].rfind(['\n', '\r']).map_or(0, |i| i + 1);
            prop_assert!(printed[line_start..at].chars().all(|c| c == ' ' || c == '\t'));
            let reparsed = ContactsDocument::parse(printed.as_bytes()).unwrap();
            prop_assert_eq!(reparsed.get("new-1").unwrap(), contact.clone());
            prop_assert_eq!(reparsed.len(), generated.numbered().len() + 1);
            if generated.expanded {
                let mut without = printed.clone();
                without.replace_range(line_start..after + eol_len, "");
                let original = String::from_utf8(generated.bytes()).unwrap();
                prop_assert_eq!(without, original);
            }
            // It sits before the first listed contact MicroSIP sorts after it, and after the others.
            let listed = reparsed.contacts();
            let position = listed.iter().position(|c| c.number == "new-1").unwrap();
            let before = &listed[..position];
            let after_it = &listed[position + 1..];
            if let Some(next) = after_it.first() {
                // In a sorted file this is exact; in any file the next contact is not <= new one
                // unless everything before it was (binary search over the file's order).
                if before.iter().chain(after_it).collect::<Vec<_>>().windows(2).all(|w| w[0].microsip_order(w[1]).is_le()) {
                    prop_assert!(contact.microsip_order(next).is_lt());
                    if let Some(previous) = before.last() {
                        prop_assert!(previous.microsip_order(&contact).is_le());
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile input, through the library and the binary.

const HOSTILE: &[(&str, &str, (usize, usize))] = &[
    (
        "doctype",
        "<?xml version=\"1.0\"?>\r\n<!DOCTYPE contacts SYSTEM \"contacts.dtd\">\r\n<contacts/>\r\n",
        (2, 1),
    ),
    (
        "entity",
        "<?xml version=\"1.0\"?>\r\n<!DOCTYPE c [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\r\n<contacts><contact name=\"&x;\" number=\"1\"/></contacts>\r\n",
        (2, 1),
    ),
    (
        "billion-laughs",
        concat!(
            "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n",
            " <!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n",
            " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n",
            "]>\n<contacts><contact name=\"&lol3;\" number=\"1\"/></contacts>\n"
        ),
        (2, 1),
    ),
    (
        "undefined-entity",
        "<contacts>\r\n<contact name=\"&lol3;\" number=\"1\"/>\r\n</contacts>\r\n",
        (2, 16),
    ),
    (
        "truncated",
        "<?xml version=\"1.0\"?>\r\n<contacts>\r\n<contact name=\"Anna\" number=\"1\"/>\r\n<contact name=\"Bo",
        (4, 1),
    ),
    ("mismatched", "<contacts>\n<contact number=\"1\">\n</contacts>\n", (3, 1)),
];

#[test]
fn hostile_files_are_refused_with_positions() {
    for (name, text, position) in HOSTILE {
        let error = ContactsDocument::parse(text.as_bytes()).unwrap_err();
        assert_eq!((error.line, error.column), *position, "{name}: {error}");
        match *name {
            "doctype" => assert_eq!(error.kind, ContactsErrorKind::Doctype),
            "entity" | "billion-laughs" => {
                assert_eq!(error.kind, ContactsErrorKind::EntityDeclaration)
            }
            _ => {}
        }
    }
    let deep = format!(
        "<contacts>{}{}</contacts>",
        "<x>".repeat(10_000),
        "</x>".repeat(10_000)
    );
    let error = ContactsDocument::parse(deep.as_bytes()).unwrap_err();
    assert_eq!(error.kind, ContactsErrorKind::TooDeep(64));
}

#[test]
fn the_binary_refuses_hostile_profiles_and_leaves_them_untouched() {
    let deep = format!("<contacts>{}", "<x>".repeat(100));
    let cases: Vec<(&str, String, (usize, usize))> = HOSTILE
        .iter()
        .map(|(n, t, p)| (*n, t.to_string(), *p))
        .chain([("deep", deep, (1, 11 + 3 * 63))])
        .collect();
    let import = tempfile::tempdir().unwrap();
    let csv = import.path().join("new.csv");
    fs::write(&csv, "number,name\r\n42,New\r\n").unwrap();
    for (name, text, (line, column)) in cases {
        let dir = profile(Some(text.as_bytes()));
        let path = dir.path().join("Contacts.xml");
        age(&path);
        let before = mtime(&path);
        for args in [
            vec!["contacts", "import", csv.to_str().unwrap()],
            vec!["contacts", "list"],
            vec!["contacts", "export", "--format", "csv"],
        ] {
            let output = run(&args, dir.path());
            assert_eq!(
                output.status.code(),
                Some(1),
                "{name} {args:?}: {}",
                stderr(&output)
            );
            let expected = format!("error: {}:{line}:{column}: ", path.display());
            assert!(
                stderr(&output).starts_with(&expected),
                "{name}: {}",
                stderr(&output)
            );
            assert!(stdout(&output).is_empty(), "{name}: {}", stdout(&output));
        }
        assert_eq!(fs::read(&path).unwrap(), text.as_bytes(), "{name}");
        assert_eq!(mtime(&path), before, "{name}");
        assert!(
            !dir.path().join("microsip-provision").exists(),
            "{name}: no backup either"
        );
    }
}

#[test]
fn a_hostile_import_file_is_invalid_input() {
    let dir = profile(Some(&sample()));
    let path = dir.path().join("Contacts.xml");
    for (name, text, (line, column)) in HOSTILE {
        let file = dir.path().join(format!("{name}.xml"));
        fs::write(&file, text).unwrap();
        let output = run(&["contacts", "import", file.to_str().unwrap()], dir.path());
        assert_eq!(output.status.code(), Some(2), "{name}: {}", stderr(&output));
        let expected = format!("error: {}:{line}:{column}: ", file.display());
        assert!(
            stderr(&output).starts_with(&expected),
            "{name}: {}",
            stderr(&output)
        );
    }
    assert_eq!(fs::read(&path).unwrap(), sample());
}

// ---------------------------------------------------------------------------------------------
// The verbs.

#[test]
fn list_shows_what_microsip_shows() {
    let dir = profile(Some(&sample()));
    let output = run(&["contacts", "list"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let table = stdout(&output);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 6, "{table}");
    assert!(lines[0].starts_with("STAR NUMBER"));
    assert!(lines[1].starts_with("*    +4930123456"), "{table}");
    assert!(lines[3].contains("Reception") && lines[3].ends_with("presence,directory"));
    assert!(lines[5].contains("李雷"));
    let json = run(&["contacts", "list", "--format", "json"], dir.path());
    let value: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(value.as_array().unwrap().len(), 5);
    assert_eq!(value[0]["starred"], true);
    assert_eq!(value[1]["name"], "\"Big Mike\" O'Neil");
    let csv = run(&["contacts", "list", "--format", "csv"], dir.path());
    assert!(stdout(&csv).starts_with("name,number,firstname,"));
    // A profile without Contacts.xml lists nothing and says why.
    let empty = profile(None);
    let output = run(&["contacts", "list"], empty.path());
    assert!(output.status.success());
    assert_eq!(stdout(&output).lines().count(), 1);
    assert!(stderr(&output).contains("no "), "{}", stderr(&output));
    // Warnings carry positions.
    let odd = profile(Some(b"<contacts>\n<contact name=\"x\"/>\n</contacts>\n"));
    let output = run(&["contacts", "list"], odd.path());
    assert!(output.status.success());
    assert!(
        stderr(&output).contains("Contacts.xml:2:1: contact without a number"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn export_then_import_into_the_same_profile_changes_nothing() {
    for format in ["csv", "json", "xml"] {
        for file in [
            "Contacts.xml",
            "comments-unknown.xml",
            "single-quotes.xml",
            "numberless-duplicates.xml",
            "bom-lf-carddav.xml",
        ] {
            let bytes = fs::read(corpus_dir().join("contacts").join(file)).unwrap();
            let dir = profile(Some(&bytes));
            let path = dir.path().join("Contacts.xml");
            let export = dir.path().join(format!("export.{format}"));
            let output = run(
                &[
                    "contacts",
                    "export",
                    "--format",
                    format,
                    "-o",
                    export.to_str().unwrap(),
                ],
                dir.path(),
            );
            assert!(output.status.success(), "{}", stderr(&output));
            age(&path);
            let before = mtime(&path);
            let output = run(
                &["contacts", "import", export.to_str().unwrap()],
                dir.path(),
            );
            assert!(
                output.status.success(),
                "{file} {format}: {}",
                stderr(&output)
            );
            assert!(
                stdout(&output).contains("0 added, 0 updated"),
                "{file} {format}: {}",
                stdout(&output)
            );
            assert_eq!(fs::read(&path).unwrap(), bytes, "{file} {format}");
            assert_eq!(mtime(&path), before, "{file} {format}: not even rewritten");
            assert!(
                !dir.path().join("microsip-provision").exists(),
                "no backup for no change"
            );
        }
    }
}

#[test]
fn export_then_import_into_an_empty_profile_reproduces_every_field() {
    for format in ["csv", "json", "xml"] {
        for file in [
            "Contacts.xml",
            "cjk-emoji.xml",
            "comments-unknown.xml",
            "numberless-duplicates.xml",
            "single-quotes.xml",
        ] {
            let bytes = fs::read(corpus_dir().join("contacts").join(file)).unwrap();
            let source = profile(Some(&bytes));
            let export = source.path().join(format!("export.{format}"));
            let output = run(
                &[
                    "contacts",
                    "export",
                    "--format",
                    format,
                    "-o",
                    export.to_str().unwrap(),
                ],
                source.path(),
            );
            assert!(output.status.success(), "{}", stderr(&output));
            let target = profile(None);
            let output = run(
                &["contacts", "import", export.to_str().unwrap()],
                target.path(),
            );
            assert!(
                output.status.success(),
                "{file} {format}: {}",
                stderr(&output)
            );
            let imported = fs::read(target.path().join("Contacts.xml")).unwrap();
            let original = ContactsDocument::parse(&bytes).unwrap().contacts();
            let mut copy = ContactsDocument::parse(&imported).unwrap().contacts();
            let mut expected = original.clone();
            // The copy is in MicroSIP's order; compare as sets of contacts.
            let key = |c: &Contact| (c.number.clone(), c.name.clone(), c.comment.clone());
            expected.sort_by_key(key);
            copy.sort_by_key(key);
            assert_eq!(copy, expected, "{file} {format}");
            if file == "Contacts.xml" || file == "cjk-emoji.xml" {
                // MicroSIP's own files come back byte for byte: same lines, same order.
                assert_eq!(imported, bytes, "{file} {format}");
            }
            // And importing again changes nothing.
            let output = run(
                &["contacts", "import", export.to_str().unwrap()],
                target.path(),
            );
            assert!(
                stdout(&output).contains(" 0 added, 0 updated"),
                "{}",
                stdout(&output)
            );
        }
    }
}

#[test]
fn import_updates_only_given_columns_and_backs_up() {
    let dir = profile(Some(&sample()));
    let path = dir.path().join("Contacts.xml");
    let csv = dir.path().join("changes.csv");
    fs::write(
        &csv,
        "number,name,starred\r\n100,Front desk,1\r\n9000,Zoe New,0\r\n8001,李雷,0\r\n",
    )
    .unwrap();
    let output = run(&["contacts", "import", csv.to_str().unwrap()], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(
        out.contains(
            "~ 100 \"Front desk\": name \"Reception\" -> \"Front desk\", starred \"0\" -> \"1\""
        ),
        "{out}"
    );
    assert!(out.contains("+ 9000 \"Zoe New\" added"), "{out}");
    assert!(
        out.contains("1 added, 1 updated, 1 unchanged (written)"),
        "{out}"
    );
    let text = String::from_utf8(fs::read(&path).unwrap()).unwrap();
    let original = String::from_utf8(sample()).unwrap();
    let new_line = Contact::new("9000", "Zoe New").to_microsip_element() + "\r\n";
    let expected = original
        .replacen("name=\"Reception\"", "name=\"Front desk\"", 1)
        .replacen(
            "info=\"Not online\" presence=\"1\" starred=\"0\"",
            "info=\"Not online\" presence=\"1\" starred=\"1\"",
            1,
        )
        .replacen(
            "<contact name=\"李雷\"",
            &format!("{new_line}<contact name=\"李雷\""),
            1,
        );
    assert_eq!(text, expected);
    // Beside the file, as `Contacts.xml.<UTC timestamp>.bak`.
    let backups: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("Contacts.xml.") && name.ends_with(".bak")
        })
        .collect();
    assert_eq!(backups.len(), 1);
    assert_eq!(fs::read(&backups[0]).unwrap(), sample());
    // Idempotent: a second run changes nothing and writes nothing.
    age(&path);
    let before = mtime(&path);
    let output = run(&["contacts", "import", csv.to_str().unwrap()], dir.path());
    assert!(
        stdout(&output).contains("0 added, 0 updated, 3 unchanged (nothing to change)"),
        "{}",
        stdout(&output)
    );
    assert_eq!(mtime(&path), before);
}

#[test]
fn dry_run_shows_the_plan_and_writes_nothing() {
    let dir = profile(Some(&sample()));
    let path = dir.path().join("Contacts.xml");
    let json = dir.path().join("new.json");
    fs::write(
        &json,
        r#"[{"number": "555", "name": "Dry", "starred": true, "x-crm": "7"}]"#,
    )
    .unwrap();
    age(&path);
    let before = mtime(&path);
    let output = run(
        &["contacts", "import", json.to_str().unwrap(), "--dry-run"],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(
        out.contains("--- a/Contacts.xml") && out.contains("+++ b/Contacts.xml"),
        "{out}"
    );
    assert!(
        out.contains("+<contact name=\"Dry\" number=\"555\""),
        "{out}"
    );
    assert!(out.contains("x-crm=\"7\"/>"), "{out}");
    assert!(
        out.contains("1 added, 0 updated, 0 unchanged (dry run, nothing written)"),
        "{out}"
    );
    assert_eq!(fs::read(&path).unwrap(), sample());
    assert_eq!(mtime(&path), before);
    let output = run(
        &[
            "contacts",
            "import",
            json.to_str().unwrap(),
            "--dry-run",
            "--exit-code",
            "--format",
            "json",
        ],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(3));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["outcome"], "pending");
    assert_eq!(report["added"], 1);
    assert_eq!(report["changes"][0]["change"], "added");
    // A dry run into an empty profile creates nothing.
    let empty = profile(None);
    let output = run(
        &["contacts", "import", json.to_str().unwrap(), "--dry-run"],
        empty.path(),
    );
    assert!(output.status.success());
    assert!(
        stdout(&output).contains("--- /dev/null"),
        "{}",
        stdout(&output)
    );
    assert!(!empty.path().join("Contacts.xml").exists());
}

#[test]
fn remove_takes_the_line() {
    let dir = profile(Some(&sample()));
    let path = dir.path().join("Contacts.xml");
    let output = run(&["contacts", "remove", "2002"], dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("- 2002"), "{}", stdout(&output));
    let text = String::from_utf8(fs::read(&path).unwrap()).unwrap();
    assert!(!text.contains("2002"));
    assert_eq!(text.lines().count(), 7);
    let output = run(&["contacts", "remove", "2002"], dir.path());
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("no contact has the number"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn bad_import_files_are_usage_errors_with_positions() {
    let dir = profile(Some(&sample()));
    let cases: &[(&str, &str, &str)] = &[
        (
            "bad.csv",
            "number,starred\r\n1,0\r\n2,maybe\r\n",
            ":3:2: `starred` is \"maybe\"",
        ),
        ("nonumber.csv", "name\r\nx\r\n", ":1:1: no `number` column"),
        ("bad.json", "[{\"number\": \"1\",\n  \"name\": ]", ":2:11: "),
        (
            "types.json",
            "[{\"number\": \"1\", \"name\": true}]",
            ": contact #1: `name` is a boolean",
        ),
    ];
    for (name, text, expected) in cases {
        let file = dir.path().join(name);
        fs::write(&file, text).unwrap();
        let output = run(&["contacts", "import", file.to_str().unwrap()], dir.path());
        assert_eq!(output.status.code(), Some(2), "{name}: {}", stderr(&output));
        let message = stderr(&output);
        assert!(
            message.starts_with(&format!("error: {}", file.display())),
            "{message}"
        );
        assert!(message.contains(expected), "{name}: {message}");
    }
    assert_eq!(fs::read(dir.path().join("Contacts.xml")).unwrap(), sample());
    // Content sniffing when the extension says nothing; stdin as `-`.
    let mut command = bin();
    command
        .args(["contacts", "import", "-", "--profile"])
        .arg(dir.path())
        .env("USER", "tester")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = command.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"[{\"number\": \"100\", \"city\": \"Lyon\"}]")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    assert!(
        stdout(&output).contains("city \"\" -> \"Lyon\""),
        "{}",
        stdout(&output)
    );
}

#[test]
fn check_verifies_the_corpus() {
    let files = contacts_corpus();
    let mut command = bin();
    command.args(["contacts", "check"]).args(&files);
    let output = command.output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output).lines().count(), files.len());
    assert!(
        stdout(&output).contains("Contacts.xml (5 contacts, 1393 bytes round-trip, 0 warnings)")
    );
    assert!(
        stderr(&output).contains("numberless-duplicates.xml:3:1: contact without a number"),
        "{}",
        stderr(&output)
    );
}

/// A process that looks like MicroSIP to the running check: a copy of `sleep` under a name no
/// other test uses (the check matches the executable name, `--microsip-exe`). Unix only: the
/// tests that start one are.
#[cfg_attr(not(unix), allow(dead_code))]
struct FakeMicrosip {
    child: std::process::Child,
    name: String,
    _dir: tempfile::TempDir,
}

#[cfg_attr(not(unix), allow(dead_code))]
impl FakeMicrosip {
    fn start() -> Option<FakeMicrosip> {
        let sleep = ["/bin/sleep", "/usr/bin/sleep"]
            .into_iter()
            .map(Path::new)
            .find(|p| p.exists())?;
        let dir = tempfile::tempdir().ok()?;
        let name = format!("ms{}.exe", std::process::id() % 1_000_000);
        let exe = dir.path().join(&name);
        fs::copy(sleep, &exe).ok()?;
        let child = Command::new(&exe).arg("30").spawn().ok()?;
        let fake = FakeMicrosip {
            child,
            name,
            _dir: dir,
        };
        // Wait until /proc shows it under its name (a multi-call `sleep` may not run at all).
        for _ in 0..200 {
            let comm =
                fs::read_to_string(format!("/proc/{}/comm", fake.child.id())).unwrap_or_default();
            if comm.trim_end() == fake.name {
                return Some(fake);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for FakeMicrosip {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(target_os = "linux")]
#[test]
fn a_running_microsip_blocks_the_import_unless_ignored() {
    let Some(fake) = FakeMicrosip::start() else {
        return;
    };
    let dir = profile(Some(&sample()));
    let path = dir.path().join("Contacts.xml");
    let csv = dir.path().join("new.csv");
    fs::write(&csv, "number,name\r\n42,Answer\r\n").unwrap();
    let import = |extra: &[&str]| {
        let mut args = vec![
            "contacts",
            "import",
            csv.to_str().unwrap(),
            "--microsip-exe",
            &fake.name,
        ];
        args.extend_from_slice(extra);
        run(&args, dir.path())
    };
    let output = import(&[]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("MicroSIP is running"),
        "{}",
        stderr(&output)
    );
    assert!(
        stderr(&output).contains("--if-running ignore"),
        "{}",
        stderr(&output)
    );
    assert_eq!(fs::read(&path).unwrap(), sample());
    let output = import(&["--if-running", "skip"]);
    assert_eq!(output.status.code(), Some(0));
    assert!(stderr(&output).contains("skipped"), "{}", stderr(&output));
    assert_eq!(fs::read(&path).unwrap(), sample());
    let output = import(&["--if-running", "ignore"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(fs::read_to_string(&path).unwrap().contains("number=\"42\""));
}

#[test]
fn library_export_formats_agree() {
    let document = ContactsDocument::parse(&sample()).unwrap();
    let contacts = document.contacts();
    for format in [Format::Csv, Format::Json, Format::Xml] {
        let bytes = exchange::write(&contacts, format);
        let (records, warnings) = exchange::read(&bytes, format).unwrap();
        assert!(warnings.is_empty());
        let back: Vec<Contact> = records.into_iter().map(|r| r.contact).collect();
        assert_eq!(back, contacts, "{format:?}");
    }
    // MicroSIP's own file rendered from its contacts is the file itself.
    assert_eq!(exchange::to_microsip_xml(&contacts), sample());
    assert_eq!(Field::ALL.len(), 17);
}
