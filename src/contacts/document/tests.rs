//! Unit tests of the document: reading as MicroSIP reads, printing back, patching, refusing.

use super::*;

const SAMPLE: &[u8] = include_bytes!("../../../tests/corpus/contacts/Contacts.xml");
const EMPTY: &[u8] = include_bytes!("../../../tests/corpus/contacts/Contacts.empty.xml");

fn parse(text: &str) -> ContactsDocument {
    ContactsDocument::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e}: {text:?}"))
}

fn text(document: &ContactsDocument) -> String {
    String::from_utf8(document.to_bytes()).unwrap()
}

fn error(text: &str) -> ContactsError {
    match ContactsDocument::parse(text.as_bytes()) {
        Ok(_) => panic!("accepted: {text:?}"),
        Err(e) => e,
    }
}

/// The full MicroSIP line of a contact with only a number and a name.
fn line(number: &str, name: &str) -> String {
    Contact::new(number, name).to_microsip_element() + "\r\n"
}

#[test]
fn samples_round_trip_and_read_like_microsip() {
    let document = ContactsDocument::parse(SAMPLE).unwrap();
    assert_eq!(document.to_bytes(), SAMPLE);
    assert!(document.warnings().is_empty(), "{:?}", document.warnings());
    let contacts = document.contacts();
    let names: Vec<&str> = contacts.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "Anna Müller",
            "\"Big Mike\" O'Neil",
            "Reception",
            "Tom & Jerry's Café",
            "李雷"
        ]
    );
    assert!(contacts[0].starred && !contacts[0].presence);
    assert_eq!(contacts[1].comment, "Escalations <24/7> only");
    assert!(contacts[2].directory && contacts[2].presence);
    assert_eq!(contacts[3].number, "sip:orders@tj.example.com");
    // The sample is in MicroSIP's default order.
    assert!(contacts
        .windows(2)
        .all(|w| w[0].microsip_order(&w[1]).is_le()));
    let empty = ContactsDocument::parse(EMPTY).unwrap();
    assert_eq!(empty.to_bytes(), EMPTY);
    assert!(empty.is_empty());
    assert_eq!(ContactsDocument::new_empty().to_bytes(), EMPTY);
}

#[test]
fn attributes_by_name_in_any_order_and_flags_only_for_1() {
    let document = parse(
        "<contacts><contact starred=\"true\" presence=' 1' directory=\"1\" x=\"y\" number=\"1\" \
         name=\"n\"/></contacts>",
    );
    let contact = &document.contacts()[0];
    assert_eq!((contact.number.as_str(), contact.name.as_str()), ("1", "n"));
    assert!(!contact.starred && !contact.presence && contact.directory);
    assert_eq!(contact.extra, vec![("x".to_string(), "y".to_string())]);
}

#[test]
fn set_attribute_rewrites_only_the_value_bytes() {
    let mut document = ContactsDocument::parse(SAMPLE).unwrap();
    assert!(document
        .set_attribute("100", "name", "Front desk & <Lobby>")
        .unwrap());
    let expected = String::from_utf8(SAMPLE.to_vec()).unwrap().replacen(
        "name=\"Reception\"",
        "name=\"Front desk &amp; &lt;Lobby&gt;\"",
        1,
    );
    assert_eq!(text(&document), expected);
    assert_eq!(document.get("100").unwrap().name, "Front desk & <Lobby>");
    // The same value again changes nothing.
    assert!(!document
        .set_attribute("100", "name", "Front desk & <Lobby>")
        .unwrap());
    // Flags compare as MicroSIP reads them.
    assert!(!document.set_attribute("100", "starred", "0").unwrap());
    assert_eq!(
        document.set_attribute("999", "name", "x"),
        Err(EditError::NoSuchContact("999".into()))
    );
    assert_eq!(
        document.set_attribute("100", "number", ""),
        Err(EditError::EmptyNumber)
    );
    assert!(matches!(
        document.set_attribute("100", "bad name", "x"),
        Err(EditError::BadAttributeName(..))
    ));
    assert_eq!(text(&document), expected, "refused edits change nothing");
}

#[test]
fn single_quoted_values_are_patched_in_their_quotes() {
    let mut document = parse("<contacts>\n<contact number='1' name='a'/>\n</contacts>\n");
    document.set_attribute("1", "name", "O'Neil \"x\"").unwrap();
    assert_eq!(
        text(&document),
        "<contacts>\n<contact number='1' name='O&apos;Neil &quot;x&quot;'/>\n</contacts>\n"
    );
}

#[test]
fn missing_attributes_are_appended_after_the_last_one() {
    let mut document =
        parse("<contacts>\n  <contact name=\"a\" number=\"1\"\n   />\n</contacts>\n");
    document.set_attribute("1", "starred", "1").unwrap();
    document.set_attribute("1", "x-crm", "42").unwrap();
    document.set_attribute("1", "starred", "0").unwrap();
    assert_eq!(
        text(&document),
        "<contacts>\n  <contact name=\"a\" number=\"1\" starred=\"0\" x-crm=\"42\"\n   />\n</contacts>\n"
    );
    let mut bare = parse("<contacts><contact/></contacts>");
    assert!(bare.is_empty(), "no number: not listed");
    assert_eq!(bare.warnings().len(), 1);
    assert!(bare.set_attribute("", "name", "x").is_err());
}

#[test]
fn new_contacts_go_where_microsips_sort_puts_them() {
    let mut document = ContactsDocument::parse(SAMPLE).unwrap();
    let mut starred = Contact::new("1", "Zed");
    starred.starred = true;
    document.upsert(&starred).unwrap();
    document.upsert(&Contact::new("2", "Rebecca")).unwrap();
    document.upsert(&Contact::new("3", "ZZ")).unwrap();
    document.upsert(&Contact::new("4", "😀")).unwrap();
    document.upsert(&Contact::new("5", "Reception")).unwrap();
    let names: Vec<String> = document.contacts().into_iter().map(|c| c.name).collect();
    assert_eq!(
        names,
        [
            "Anna Müller",
            "Zed",
            "\"Big Mike\" O'Neil",
            "Rebecca",
            "Reception",
            "Reception",
            "Tom & Jerry's Café",
            "ZZ",
            "李雷",
            "😀"
        ]
    );
    // Equal keys keep insertion order: the new "Reception" follows the old one.
    assert_eq!(document.contacts()[5].number, "5");
    // Each new line is MicroSIP's, and everything else is untouched.
    let printed = text(&document);
    let original = String::from_utf8(SAMPLE.to_vec()).unwrap();
    let mut rebuilt = printed.clone();
    for (number, name) in [
        ("1", "Zed"),
        ("2", "Rebecca"),
        ("3", "ZZ"),
        ("4", "😀"),
        ("5", "Reception"),
    ] {
        let mut contact = Contact::new(number, name);
        contact.starred = number == "1";
        let line = contact.to_microsip_element() + "\r\n";
        assert!(printed.contains(&line), "{line}");
        rebuilt = rebuilt.replacen(&line, "", 1);
    }
    assert_eq!(rebuilt, original);
    // The result is in MicroSIP's order, so MicroSIP's next save would move nothing.
    let contacts = document.contacts();
    assert!(contacts
        .windows(2)
        .all(|w| w[0].microsip_order(&w[1]).is_le()));
}

#[test]
fn adding_to_an_empty_list_expands_it_as_microsip_does() {
    let mut document = ContactsDocument::new_empty();
    assert_eq!(
        document.upsert(&Contact::new("200", "B")).unwrap(),
        UpsertOutcome::Added
    );
    document.add(Contact::new("100", "A")).unwrap();
    assert_eq!(
        text(&document),
        format!(
            "<?xml version=\"1.0\"?>\r\n<contacts>\r\n{}{}</contacts>\r\n",
            line("100", "A"),
            line("200", "B")
        )
    );
    // Removing both gives MicroSIP's empty file back.
    assert!(document.remove("100"));
    assert!(document.remove("200"));
    assert_eq!(document.to_bytes(), EMPTY);
}

#[test]
fn removing_takes_the_line_and_the_last_one_collapses_the_root() {
    let mut document = ContactsDocument::parse(SAMPLE).unwrap();
    assert!(document.remove("2002"));
    assert!(!document.remove("2002"));
    let original = String::from_utf8(SAMPLE.to_vec()).unwrap();
    let doomed = original
        .split_inclusive("\r\n")
        .find(|l| l.contains("number=\"2002\""))
        .unwrap();
    assert_eq!(text(&document), original.replacen(doomed, "", 1));
    for number in ["+4930123456", "100", "sip:orders@tj.example.com", "8001"] {
        assert!(document.remove(number), "{number}");
    }
    assert_eq!(document.to_bytes(), EMPTY);
    // A root with a comment keeps its content and its form.
    let mut commented =
        parse("<contacts>\r\n<!-- keep -->\r\n<contact number=\"1\"/>\r\n</contacts>\r\n");
    commented.remove("1");
    assert_eq!(
        text(&commented),
        "<contacts>\r\n<!-- keep -->\r\n</contacts>\r\n"
    );
}

#[test]
fn lf_and_indented_files_keep_their_style() {
    let mut document = parse(
        "\u{FEFF}<?xml version=\"1.0\"?>\n<contacts>\n  <contact name=\"B\" number=\"2\"/>\n</contacts>\n",
    );
    document.add(Contact::new("1", "A")).unwrap();
    document.add(Contact::new("3", "C")).unwrap();
    let a = Contact::new("1", "A").to_microsip_element();
    let c = Contact::new("3", "C").to_microsip_element();
    assert_eq!(
        text(&document),
        format!(
            "\u{FEFF}<?xml version=\"1.0\"?>\n<contacts>\n  {a}\n  <contact name=\"B\" number=\"2\"/>\n  {c}\n</contacts>\n"
        )
    );
}

#[test]
fn contacts_sharing_a_line_get_new_lines_around_them() {
    let mut document = parse("<contacts><contact name=\"B\" number=\"2\"/></contacts>");
    document.add(Contact::new("1", "A")).unwrap();
    document.add(Contact::new("3", "C")).unwrap();
    let a = Contact::new("1", "A").to_microsip_element();
    let c = Contact::new("3", "C").to_microsip_element();
    assert_eq!(
        text(&document),
        format!("<contacts>\r\n{a}\r\n<contact name=\"B\" number=\"2\"/>\r\n{c}\r\n</contacts>")
    );
    let reparsed = parse(&text(&document));
    assert_eq!(reparsed.len(), 3);
    let mut one_line = parse("<contacts><contact number=\"1\"/><contact number=\"2\"/></contacts>");
    one_line.remove("1");
    assert_eq!(
        text(&one_line),
        "<contacts><contact number=\"2\"/></contacts>"
    );
}

#[test]
fn files_without_a_root_get_one_with_their_first_contact() {
    for (input, expected_prefix) in [
        ("", "<?xml version=\"1.0\"?>\r\n"),
        ("\r\n", "<?xml version=\"1.0\"?>\r\n"),
        ("<?xml version=\"1.0\"?>\n", "<?xml version=\"1.0\"?>\n"),
    ] {
        let mut document = parse(input);
        assert_eq!(text(&document), input);
        assert!(document.is_empty());
        document.add(Contact::new("1", "A")).unwrap();
        let printed = text(&document);
        assert!(printed.starts_with(expected_prefix), "{printed:?}");
        assert!(printed.contains(&Contact::new("1", "A").to_microsip_element()));
        assert_eq!(parse(&printed).len(), 1);
    }
}

#[test]
fn start_end_contacts_and_nested_ones() {
    let input = "<contacts>\r\n<contact name=\"G\" number=\"1\"><x><contact number=\"n\"/></x></contact>\r\n</contacts>\r\n";
    let mut document = parse(input);
    assert_eq!(document.len(), 1);
    assert_eq!(
        document.warnings().len(),
        1,
        "the nested contact is ignored by MicroSIP"
    );
    document.set_attribute("1", "name", "H").unwrap();
    assert_eq!(text(&document), input.replace("name=\"G\"", "name=\"H\""));
    document.remove("1");
    assert_eq!(text(&document), "<contacts/>\r\n");
}

#[test]
fn upsert_updates_only_what_differs() {
    let mut document = ContactsDocument::parse(SAMPLE).unwrap();
    let mut anna = document.get("+4930123456").unwrap();
    assert_eq!(document.upsert(&anna).unwrap(), UpsertOutcome::Unchanged);
    anna.city = "Hamburg".into();
    anna.starred = false;
    let outcome = document.upsert(&anna).unwrap();
    assert_eq!(
        outcome,
        UpsertOutcome::Updated(vec![
            FieldChange {
                attribute: "city".into(),
                old: "Berlin".into(),
                new: "Hamburg".into()
            },
            FieldChange {
                attribute: "starred".into(),
                old: "1".into(),
                new: "0".into()
            },
        ])
    );
    let expected = String::from_utf8(SAMPLE.to_vec())
        .unwrap()
        .replacen("city=\"Berlin\"", "city=\"Hamburg\"", 1)
        .replacen("starred=\"1\"", "starred=\"0\"", 1);
    assert_eq!(text(&document), expected, "updated in place, not moved");
    // Partial updates touch only the given fields.
    let partial = Contact::new("+4930123456", "");
    let given: FieldSet = [Field::Number].into_iter().collect();
    assert_eq!(
        document.upsert_fields(&partial, given).unwrap(),
        UpsertOutcome::Unchanged
    );
    assert!(matches!(
        document.upsert(&Contact::new("", "x")),
        Err(EditError::EmptyNumber)
    ));
    let mut nul = Contact::new("5", "a\0b");
    assert!(matches!(document.upsert(&nul), Err(EditError::Nul(_))));
    nul.name = "ok".into();
    nul.extra.push(("name".into(), "x".into()));
    assert!(matches!(
        document.upsert(&nul),
        Err(EditError::BadAttributeName(..))
    ));
}

#[test]
fn number_changes_keep_the_index_right() {
    let mut document = ContactsDocument::parse(SAMPLE).unwrap();
    document.set_attribute("100", "number", "101").unwrap();
    assert!(document.get("100").is_none());
    assert_eq!(document.get("101").unwrap().name, "Reception");
    document.set_attribute("101", "number", "2002").unwrap();
    assert_eq!(document.count("2002"), 2);
    assert_eq!(document.get("2002").unwrap().name, "\"Big Mike\" O'Neil");
    assert!(document.remove("2002"));
    assert_eq!(document.count("2002"), 0);
    assert_eq!(document.len(), 3);
    document.add(Contact::new("7", "x")).unwrap();
    document.set_attribute("7", "number", "8").unwrap();
    assert_eq!(document.get("8").unwrap().name, "x");
}

#[test]
fn warnings_have_positions() {
    let document = parse(concat!(
        "<contacts>\n",
        "<contact name=\"a\"/>\n",
        "<contact number=\"1\" name=\"Caf&#233;\"/>\n",
        "<contact number=\"1\"/>\n",
        "</contacts>\n"
    ));
    let found: Vec<(usize, usize)> = document
        .warnings()
        .iter()
        .map(|w| (w.line, w.column))
        .collect();
    assert_eq!(
        found,
        [(2, 1), (3, 30), (4, 1)],
        "{:?}",
        document.warnings()
    );
    assert_eq!(
        document.contacts()[0].name,
        "Caf&#233;",
        "shown literally, as MicroSIP does"
    );
    assert_eq!(document.len(), 2);
}

#[test]
fn hostile_and_malformed_input_is_refused_with_positions() {
    type Case = (&'static str, (usize, usize), fn(&ContactsErrorKind) -> bool);
    let cases: &[Case] = &[
        ("<!DOCTYPE contacts>\n<contacts/>", (1, 1), |k| matches!(k, ContactsErrorKind::Doctype)),
        (
            "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 \"&lol;&lol;\">]>\n<contacts>&lol2;</contacts>",
            (2, 1),
            |k| matches!(k, ContactsErrorKind::EntityDeclaration),
        ),
        (
            "<!DOCTYPE x [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><contacts/>",
            (1, 1),
            |k| matches!(k, ContactsErrorKind::EntityDeclaration),
        ),
        ("<!ENTITY x \"y\"><contacts/>", (1, 1), |k| matches!(k, ContactsErrorKind::Malformed(_))),
        ("<contacts>\n&lol;</contacts>", (2, 1), |k| matches!(k, ContactsErrorKind::UndefinedEntity(n) if n == "lol")),
        (
            "<contacts>\n<contact number=\"&lol;\"/></contacts>",
            (2, 18),
            |k| matches!(k, ContactsErrorKind::UndefinedEntity(_)),
        ),
        ("<contacts>\n<contact name=\"a & b\"/></contacts>", (2, 18), |k| matches!(k, ContactsErrorKind::BareAmpersand)),
        ("<contacts>\n<contact name=\"a<b\"/></contacts>", (2, 17), |k| matches!(k, ContactsErrorKind::LtInAttribute)),
        ("<contacts>\n<contact name=\"&#0;\"/></contacts>", (2, 16), |k| matches!(k, ContactsErrorKind::BadCharRef(_))),
        (
            "<contacts>\n<contact number=\"1\"\n name=\"x\"",
            (2, 1),
            |k| matches!(k, ContactsErrorKind::Malformed(_)),
        ),
        (
            "<?xml version=\"1.0\"?>\r\n<contacts>\r\n<contact number=\"1\"/>\r\n",
            (4, 1),
            |k| matches!(k, ContactsErrorKind::Unclosed { element, line: 2, column: 1 } if element == "contacts"),
        ),
        ("<contacts>\n</contact>", (2, 1), |k| matches!(k, ContactsErrorKind::Malformed(_))),
        ("<contacts><contact a=\"1\" a=\"2\"/></contacts>", (1, 26), |k| matches!(k, ContactsErrorKind::Malformed(_))),
        ("<contacts><contact a=\"1\"b=\"2\"/></contacts>", (1, 25), |k| matches!(k, ContactsErrorKind::Malformed(_))),
        ("<contacts><contact a=1/></contacts>", (1, 22), |k| matches!(k, ContactsErrorKind::Malformed(_))),
        ("<phonebook/>", (1, 1), |k| matches!(k, ContactsErrorKind::WrongRoot(n) if n == "phonebook")),
        ("<contacts/>\n<contacts/>", (2, 1), |k| matches!(k, ContactsErrorKind::AfterRoot(_))),
        ("<contacts/>junk", (1, 12), |k| matches!(k, ContactsErrorKind::AfterRoot(_))),
        ("junk<contacts/>", (1, 1), |k| matches!(k, ContactsErrorKind::TextOutsideRoot)),
        ("<contacts/><?xml version=\"1.0\"?>", (1, 12), |k| matches!(k, ContactsErrorKind::Malformed(_))),
        ("<contacts><!-- a -- b --></contacts>", (1, 18), |k| matches!(k, ContactsErrorKind::Malformed(_))),
    ];
    for (input, position, check) in cases {
        let e = error(input);
        assert!(check(&e.kind), "{input:?}: {e:?}");
        assert_eq!((e.line, e.column), *position, "{input:?}: {e}");
    }
}

#[test]
fn depth_size_and_encoding_are_bounded() {
    let deep = format!(
        "<contacts>{}{}</contacts>",
        "<a>".repeat(70),
        "</a>".repeat(70)
    );
    let e = error(&deep);
    assert_eq!(e.kind, ContactsErrorKind::TooDeep(MAX_DEPTH));
    assert_eq!((e.line, e.column), (1, 11 + 3 * 63));
    let ok = format!(
        "<contacts>{}{}</contacts>",
        "<a>".repeat(63),
        "</a>".repeat(63)
    );
    parse(&ok);
    let big = vec![b' '; MAX_FILE_SIZE + 1];
    assert!(matches!(
        ContactsDocument::parse(&big).unwrap_err().kind,
        ContactsErrorKind::TooLarge { .. }
    ));
    assert_eq!(
        ContactsDocument::parse(b"\xFF\xFE<\x00").unwrap_err().kind,
        ContactsErrorKind::Utf16
    );
    let e = ContactsDocument::parse(b"<contacts>\n<contact name=\"\xE9\"/>").unwrap_err();
    assert_eq!(e.kind, ContactsErrorKind::InvalidUtf8);
    assert_eq!((e.line, e.column, e.offset), (2, 16, 26));
    let e = ContactsDocument::parse(b"\xEF\xBB\xBF<contacts>\xFF").unwrap_err();
    assert_eq!((e.line, e.column, e.offset), (1, 11, 13));
}
