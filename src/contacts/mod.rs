//! Contacts.xml (being written).
