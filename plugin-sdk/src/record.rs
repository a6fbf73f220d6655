//! A record under a plugin's hands, and what `clean` says about it.

use std::borrow::Cow;

use crate::value::{Date, DateTime, ObjectKind, Value};

/// One User.com record: its kind, its source id and its fields. Changes made with [`set`]
/// are tracked, so the host receives only what changed.
///
/// [`set`]: Record::set
#[derive(Debug, Clone, PartialEq)]
pub struct Record<'a> {
    kind: ObjectKind,
    source_id: Cow<'a, str>,
    fields: Vec<Field<'a>>,
}

#[derive(Debug, Clone, PartialEq)]
struct Field<'a> {
    /// The field's position among the batch's columns; [`NEW_FIELD`] for a field added by
    /// [`Record::set`] or [`Record::with`]. Changes travel back to the host by position.
    column: u32,
    name: Cow<'a, str>,
    value: Value<'a>,
    changed: bool,
}

impl<'a> Record<'a> {
    pub fn new(kind: ObjectKind, source_id: impl Into<Cow<'a, str>>) -> Self {
        Record { kind, source_id: source_id.into(), fields: Vec::new() }
    }

    /// A contact (User.com user) with no fields yet; handy in tests.
    pub fn contact(source_id: impl Into<Cow<'a, str>>) -> Self {
        Record::new(ObjectKind::Contact, source_id)
    }

    pub(crate) fn with_capacity(kind: ObjectKind, source_id: &'a str, fields: usize) -> Self {
        Record { kind, source_id: Cow::Borrowed(source_id), fields: Vec::with_capacity(fields) }
    }

    /// Adds a field as it came from the source (not counted as a change).
    pub fn with(mut self, name: impl Into<Cow<'a, str>>, value: impl Into<Value<'a>>) -> Self {
        self.fields.push(Field { column: NEW_FIELD, name: name.into(), value: value.into(), changed: false });
        self
    }

    /// Adds the batch's column `column` as it came from the source (not counted as a change).
    pub(crate) fn push_column(&mut self, column: u32, name: &'a str, value: Value<'a>) {
        self.fields.push(Field { column, name: Cow::Borrowed(name), value, changed: false });
    }

    pub fn kind(&self) -> ObjectKind {
        self.kind
    }

    pub fn source_id(&self) -> &str {
        &self.source_id
    }

    /// The field's value; `None` when the record has no such field.
    pub fn get(&self, name: &str) -> Option<&Value<'a>> {
        self.fields.iter().find(|f| same_name(&f.name, name)).map(|f| &f.value)
    }

    /// The field's text, when it holds text.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Value::as_text)
    }

    /// The field as an instant, whether it holds a datetime, a date or ISO 8601 text
    /// ([`Value::as_datetime`]).
    pub fn datetime(&self, name: &str) -> Option<DateTime> {
        self.get(name).and_then(Value::as_datetime)
    }

    /// The field as a calendar date, whether it holds a date, a datetime or ISO 8601 text
    /// ([`Value::as_date`]).
    pub fn date(&self, name: &str) -> Option<Date> {
        self.get(name).and_then(Value::as_date)
    }

    /// Sets a field, adding it when the record lacks it. Setting the value it already has is
    /// not a change.
    pub fn set(&mut self, name: &str, value: impl Into<Value<'a>>) {
        let value = value.into();
        match self.fields.iter_mut().find(|f| same_name(&f.name, name)) {
            Some(field) => {
                if field.value != value {
                    field.value = value;
                    field.changed = true;
                }
            }
            None => {
                self.fields.push(Field { column: NEW_FIELD, name: Cow::Owned(name.to_owned()), value, changed: true })
            }
        }
    }

    /// Every field, in order: name and value.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &Value<'a>)> {
        self.fields.iter().map(|f| (&*f.name, &f.value))
    }

    /// Calls `edit` with each text field (name, text); a `Some` it returns replaces the text.
    pub fn edit_texts(&mut self, mut edit: impl FnMut(&str, &str) -> Option<String>) {
        for field in &mut self.fields {
            if let Value::Text(text) = &field.value
                && let Some(new_text) = edit(&field.name, text)
                && new_text != **text
            {
                field.value = Value::Text(Cow::Owned(new_text));
                field.changed = true;
            }
        }
    }

    /// The fields set since the record arrived: name and new value.
    pub fn changes(&self) -> impl Iterator<Item = (&str, &Value<'a>)> {
        self.fields.iter().filter(|f| f.changed).map(|f| (&*f.name, &f.value))
    }

    /// The fields set since the record arrived, by value (the SDK hands them to the host): the
    /// column (or [`NEW_FIELD`]), the name and the new value.
    pub(crate) fn into_changes(self) -> impl Iterator<Item = (u32, Cow<'a, str>, Value<'a>)> {
        self.fields.into_iter().filter(|f| f.changed).map(|f| (f.column, f.name, f.value))
    }

    pub fn is_changed(&self, name: &str) -> bool {
        self.fields.iter().any(|f| f.changed && same_name(&f.name, name))
    }
}

/// Whether two field names are equal, compared eight bytes at a time. Plugins look fields up
/// by name several times per record, and `==` on strings calls `memcmp`, which in a
/// WebAssembly component is a loop over single bytes (about 17 operations, each costing fuel,
/// per byte of `phone_number`).
#[inline]
fn same_name(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut at = 0;
    while at + 8 <= a.len() {
        if word(&a[at..at + 8]) != word(&b[at..at + 8]) {
            return false;
        }
        at += 8;
    }
    word(&a[at..]) == word(&b[at..])
}

/// Up to eight bytes as one little-endian word, zero-padded.
#[inline]
fn word(bytes: &[u8]) -> u64 {
    let mut padded = [0; 8];
    padded[..bytes.len()].copy_from_slice(bytes);
    u64::from_le_bytes(padded)
}

/// The column of a field that is not among the batch's columns.
pub(crate) const NEW_FIELD: u32 = u32::MAX;

/// A problem with one field that keeps a record from being migrated.
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    pub field: String,
    pub message: String,
}

/// What `clean` decides for a record.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The record goes on, with whatever fields `clean` set on it.
    Keep,
    /// The record is excluded by a rule, for this reason (counted and reported).
    Drop(String),
    /// The record goes to quarantine with these issues.
    Reject(Vec<Issue>),
}

impl Outcome {
    /// Drops the record, for this reason.
    pub fn drop_because(reason: impl Into<String>) -> Self {
        Outcome::Drop(reason.into())
    }

    /// Rejects the record for one field's issue.
    pub fn reject(field: impl Into<String>, message: impl Into<String>) -> Self {
        Outcome::Reject(vec![Issue { field: field.into(), message: message.into() }])
    }
}

#[cfg(test)]
mod tests {
    use super::same_name;

    #[test]
    fn names_compared_by_words_are_equal_exactly_when_their_bytes_are() {
        let name = "phone_number_of_the_office";
        for len in 0..=name.len() {
            let a = &name[..len];
            assert!(same_name(a, a));
            for other_len in 0..=name.len() {
                assert_eq!(same_name(a, &name[..other_len]), len == other_len, "{len} {other_len}");
            }
            for at in 0..len {
                let mut changed = a.as_bytes().to_vec();
                changed[at] ^= 1;
                assert!(!same_name(a, std::str::from_utf8(&changed).unwrap()), "{a} at {at}");
            }
        }
    }
}
