//! Planning changes to a contacts document: an import matched by `number`, and the managed
//! company-directory merge.
//!
//! Both are pure: they edit a [`ContactsDocument`] in memory and say what changed, as a list of
//! [`ContactChange`]s; writing is [`super::store`]'s job (or `apply`'s). [`import_records`] is
//! what `contacts import` does. [`merge_managed`] is the rule set of the manifest's company
//! directory: managed contacts are remembered by number between runs (the caller keeps the set,
//! e.g. in the profile's state file), a contact the user created is never touched, the user's
//! `starred` flag survives, and `directory="1"` rows belong to MicroSIP's remote phone book
//! (`microsip-formats.md` §2.2) and are left alone.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde::Serialize;

use super::contact::{Contact, Field, FieldSet};
use super::document::{ContactsDocument, FieldChange, UpsertOutcome};
use super::error::EditError;
use super::exchange::ContactRecord;

/// One change to the contacts file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "change", rename_all = "kebab-case")]
pub enum ContactChange {
    /// A contact line was added.
    Added {
        /// Its number.
        number: String,
        /// The name MicroSIP shows.
        name: String,
    },
    /// Attributes of an existing contact changed.
    Updated {
        /// Its number.
        number: String,
        /// The name MicroSIP shows (after the change).
        name: String,
        /// What changed.
        fields: Vec<FieldChange>,
    },
    /// A contact line was removed.
    Removed {
        /// Its number.
        number: String,
        /// The name MicroSIP showed.
        name: String,
    },
}

impl ContactChange {
    /// The contact's number.
    pub fn number(&self) -> &str {
        match self {
            ContactChange::Added { number, .. }
            | ContactChange::Updated { number, .. }
            | ContactChange::Removed { number, .. } => number,
        }
    }

    /// One line for people: `+ 2002 "Big Mike"`, `~ 100 "Reception": name "A" -> "B"`,
    /// `- 300 "Old"`.
    pub fn describe(&self) -> String {
        match self {
            ContactChange::Added { number, name } => format!("+ {number} {name:?} added"),
            ContactChange::Removed { number, name } => format!("- {number} {name:?} removed"),
            ContactChange::Updated {
                number,
                name,
                fields,
            } => {
                let what: Vec<String> = fields
                    .iter()
                    .map(|f| format!("{} {:?} -> {:?}", f.attribute, f.old, f.new))
                    .collect();
                format!("~ {number} {name:?}: {}", what.join(", "))
            }
        }
    }
}

/// What an import did to a document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    /// Every change, in the import file's order.
    pub changes: Vec<ContactChange>,
    /// Contacts added.
    pub added: usize,
    /// Contacts updated.
    pub updated: usize,
    /// Records that matched a contact that already read the same.
    pub unchanged: usize,
}

impl ImportSummary {
    /// Whether the document changed.
    pub fn changed(&self) -> bool {
        !self.changes.is_empty()
    }

    /// `2 added, 1 updated, 5 unchanged`.
    pub fn counts(&self) -> String {
        format!(
            "{} added, {} updated, {} unchanged",
            self.added, self.updated, self.unchanged
        )
    }
}

/// A record that cannot be imported; the document may be half-edited and must be discarded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {source}")]
pub struct ImportError {
    /// The record's 1-based line in the import file, where known.
    pub line: Option<usize>,
    /// "line 4" or "contact #3".
    pub location: String,
    /// Why.
    pub source: EditError,
}

/// Import records into `document`, matched by `number`: the first record with a number updates
/// the first contact with it, the second the second, and so on (MicroSIP keeps duplicates,
/// §2.2); a record with no match is added where MicroSIP's sort puts it. Only the fields a
/// record gives are compared and written ([`ContactRecord::given`]). Importing what `contacts
/// export` wrote changes nothing.
pub fn import_records(
    document: &mut ContactsDocument,
    records: &[ContactRecord],
) -> Result<ImportSummary, ImportError> {
    let mut summary = ImportSummary::default();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for record in records {
        let nth = seen.entry(record.contact.number.as_str()).or_insert(0);
        let outcome = document
            .upsert_nth(&record.contact, record.given, *nth)
            .map_err(|source| ImportError {
                line: record.line,
                location: record.location(),
                source,
            })?;
        *nth += 1;
        let number = record.contact.number.clone();
        match outcome {
            UpsertOutcome::Unchanged => summary.unchanged += 1,
            UpsertOutcome::Added => {
                summary.added += 1;
                summary.changes.push(ContactChange::Added {
                    number,
                    name: record.contact.display_name().into_owned(),
                });
            }
            UpsertOutcome::Updated(fields) => {
                summary.updated += 1;
                let name = document
                    .get(&number)
                    .map(|c| c.display_name().into_owned())
                    .unwrap_or_default();
                summary.changes.push(ContactChange::Updated {
                    number,
                    name,
                    fields,
                });
            }
        }
    }
    Ok(summary)
}

/// What [`merge_managed`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ManagedMerge {
    /// Every change.
    pub changes: Vec<ContactChange>,
    /// The numbers managed after the merge: store them, pass them to the next run.
    pub managed: BTreeSet<String>,
    /// Notes for the admin (entries not applied, and why).
    pub warnings: Vec<String>,
}

/// Merge the company directory `directory` into a user's contacts.
///
/// `previously_managed` is the set of numbers this merge managed last time (empty on the first
/// run). The rules:
///
/// * A directory entry whose number no contact has is **added** (as MicroSIP writes one, at its
///   sorted place) and becomes managed. Its `directory` flag is written as `0`: `directory="1"`
///   would hand it to MicroSIP's remote phone book, which deletes rows its server does not list.
/// * A managed contact (number in `previously_managed`) is **updated** to the entry, every field
///   except `starred`, which is the user's (the entry's `starred` only seeds a new contact).
/// * A contact the user created (number not previously managed) is **never touched**; if it
///   already reads exactly like the entry (apart from `starred`) it is adopted as managed, which
///   also recovers from a lost state file.
/// * `directory="1"` rows are MicroSIP's: never updated, adopted or removed.
/// * A managed number no longer in the directory is **removed** from the user's contacts.
/// * A managed contact the user deleted comes back (the directory is the desired state).
/// * Entries without a number, and later entries repeating a number, are skipped with a warning.
pub fn merge_managed(
    document: &mut ContactsDocument,
    directory: &[Contact],
    previously_managed: &BTreeSet<String>,
) -> Result<ManagedMerge, EditError> {
    let mut merge = ManagedMerge::default();
    let mut wanted: HashSet<&str> = HashSet::new();
    let given: FieldSet = Field::ALL
        .into_iter()
        .filter(|f| !matches!(f, Field::Starred | Field::Directory))
        .collect();
    for (i, entry) in directory.iter().enumerate() {
        let number = entry.number.as_str();
        if number.is_empty() {
            merge.warnings.push(format!(
                "directory entry #{} ({:?}) has no number: skipped",
                i + 1,
                entry.display_name()
            ));
            continue;
        }
        if !wanted.insert(number) {
            merge.warnings.push(format!(
                "directory entry #{} repeats the number {number:?}: skipped (the first one is used)",
                i + 1
            ));
            continue;
        }
        let mut desired = entry.clone();
        desired.directory = false;
        let existing = document.contacts_with_number(number);
        let target = existing.iter().position(|c| !c.directory);
        match target {
            None if !existing.is_empty() => {
                merge.warnings.push(format!(
                    "{number} is in MicroSIP's remote phone book (directory=\"1\"): left to MicroSIP"
                ));
            }
            None => {
                document.add(desired.clone())?;
                merge.managed.insert(number.to_string());
                merge.changes.push(ContactChange::Added {
                    number: number.to_string(),
                    name: desired.display_name().into_owned(),
                });
            }
            Some(nth) => {
                let current = &existing[nth];
                let same = given.iter().all(|f| current.same(&desired, f))
                    && desired
                        .extra
                        .iter()
                        .all(|(n, v)| current.extra(n) == Some(v.as_str()));
                if previously_managed.contains(number) || same {
                    merge.managed.insert(number.to_string());
                    if let UpsertOutcome::Updated(fields) =
                        document.upsert_nth(&desired, given, nth)?
                    {
                        merge.changes.push(ContactChange::Updated {
                            number: number.to_string(),
                            name: desired.display_name().into_owned(),
                            fields,
                        });
                    }
                } else {
                    merge.warnings.push(format!(
                        "{number} is the user's own contact {:?}: kept as it is, the directory's \
                         entry is not applied",
                        current.display_name()
                    ));
                }
            }
        }
    }
    for number in previously_managed {
        if wanted.contains(number.as_str()) {
            continue;
        }
        for removed in document.remove_unless(number, |c| c.directory) {
            merge.changes.push(ContactChange::Removed {
                number: number.clone(),
                name: removed.display_name().into_owned(),
            });
        }
    }
    Ok(merge)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(lines: &[&str]) -> ContactsDocument {
        let mut text = String::from("<?xml version=\"1.0\"?>\r\n<contacts>\r\n");
        for line in lines {
            text.push_str(line);
            text.push_str("\r\n");
        }
        text.push_str("</contacts>\r\n");
        ContactsDocument::parse(text.as_bytes()).unwrap()
    }

    fn entry(number: &str, name: &str) -> Contact {
        Contact::new(number, name)
    }

    fn set(numbers: &[&str]) -> BTreeSet<String> {
        numbers.iter().map(|n| n.to_string()).collect()
    }

    #[test]
    fn first_run_adds_and_manages() {
        let mut d = ContactsDocument::new_empty();
        let merge = merge_managed(
            &mut d,
            &[entry("100", "Reception"), entry("200", "Sales")],
            &BTreeSet::new(),
        )
        .unwrap();
        assert_eq!(merge.managed, set(&["100", "200"]));
        assert_eq!(merge.changes.len(), 2);
        assert_eq!(d.len(), 2);
        // A second run changes nothing.
        let again = merge_managed(
            &mut d,
            &[entry("100", "Reception"), entry("200", "Sales")],
            &merge.managed,
        )
        .unwrap();
        assert!(again.changes.is_empty());
        assert_eq!(again.managed, merge.managed);
    }

    #[test]
    fn user_contacts_are_never_touched_and_directory_rows_are_left_to_microsip() {
        let mut d = doc(&[
            r#"<contact name="Mine" number="100" presence="0" starred="0" directory="0"/>"#,
            r#"<contact name="Remote" number="300" presence="1" starred="0" directory="1"/>"#,
        ]);
        let before = d.to_bytes();
        let merge = merge_managed(
            &mut d,
            &[entry("100", "Reception"), entry("300", "Remote book")],
            &BTreeSet::new(),
        )
        .unwrap();
        assert!(merge.changes.is_empty(), "{:?}", merge.changes);
        assert!(merge.managed.is_empty());
        assert_eq!(merge.warnings.len(), 2, "{:?}", merge.warnings);
        assert_eq!(d.to_bytes(), before);
        // Even when 300 was managed before, the directory row is not removed.
        let merge = merge_managed(&mut d, &[], &set(&["300"])).unwrap();
        assert!(merge.changes.is_empty());
        assert_eq!(d.to_bytes(), before);
    }

    #[test]
    fn managed_updates_keep_the_users_star() {
        let mut d = ContactsDocument::new_empty();
        let merge = merge_managed(&mut d, &[entry("100", "Reception")], &BTreeSet::new()).unwrap();
        assert!(d.set_attribute("100", "starred", "1").unwrap());
        let mut renamed = entry("100", "Front desk");
        renamed.starred = false;
        renamed.email = "desk@example.com".into();
        let merge = merge_managed(&mut d, &[renamed], &merge.managed).unwrap();
        let contact = d.get("100").unwrap();
        assert!(contact.starred, "the user's star survives");
        assert_eq!(contact.name, "Front desk");
        assert_eq!(contact.email, "desk@example.com");
        match &merge.changes[..] {
            [ContactChange::Updated { fields, .. }] => {
                let names: Vec<&str> = fields.iter().map(|f| f.attribute.as_str()).collect();
                assert_eq!(names, ["name", "email"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn dropped_entries_are_removed_and_identical_ones_adopted() {
        let mut d = doc(&[
            r#"<contact name="Old" number="900" firstname="" lastname="" phone="" mobile="" email="" address="" city="" state="" zip="" comment="" id="" info="" presence="0" starred="1" directory="0"/>"#,
            r#"<contact name="Same" number="901" firstname="" lastname="" phone="" mobile="" email="" address="" city="" state="" zip="" comment="" id="" info="" presence="0" starred="1" directory="0"/>"#,
        ]);
        let merge = merge_managed(&mut d, &[entry("901", "Same")], &set(&["900"])).unwrap();
        assert_eq!(
            merge.changes,
            vec![ContactChange::Removed {
                number: "900".into(),
                name: "Old".into()
            }]
        );
        assert_eq!(
            merge.managed,
            set(&["901"]),
            "adopted: it already reads the same"
        );
        assert!(d.get("901").unwrap().starred);
    }

    #[test]
    fn deleted_managed_contacts_come_back_and_bad_entries_are_skipped() {
        let mut d = ContactsDocument::new_empty();
        let mut flagged = entry("100", "Reception");
        flagged.directory = true;
        let merge = merge_managed(
            &mut d,
            &[flagged, entry("", "Nobody"), entry("100", "Again")],
            &set(&["100"]),
        )
        .unwrap();
        assert_eq!(merge.changes.len(), 1);
        assert_eq!(merge.warnings.len(), 2);
        assert!(
            !d.get("100").unwrap().directory,
            "never handed to MicroSIP's phone book"
        );
    }

    #[test]
    fn import_matches_duplicates_in_order() {
        let mut d = ContactsDocument::new_empty();
        let records: Vec<ContactRecord> = [entry("1", "A"), entry("1", "B"), entry("2", "C")]
            .into_iter()
            .enumerate()
            .map(|(index, contact)| ContactRecord {
                contact,
                given: FieldSet::ALL,
                line: None,
                index,
            })
            .collect();
        let first = import_records(&mut d, &records).unwrap();
        assert_eq!((first.added, first.updated, first.unchanged), (3, 0, 0));
        let again = import_records(&mut d, &records).unwrap();
        assert_eq!((again.added, again.updated, again.unchanged), (0, 0, 3));
        assert!(!again.changed());
        assert_eq!(d.len(), 3);
    }
}
