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
        self.push_source_field(name.into(), value.into());
        self
    }

    pub(crate) fn push_source_field(&mut self, name: Cow<'a, str>, value: Value<'a>) {
        self.fields.push(Field { name, value, changed: false });
    }

    pub fn kind(&self) -> ObjectKind {
        self.kind
    }

    pub fn source_id(&self) -> &str {
        &self.source_id
    }

    /// The field's value; `None` when the record has no such field.
    pub fn get(&self, name: &str) -> Option<&Value<'a>> {
        self.fields.iter().find(|f| f.name == name).map(|f| &f.value)
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
        match self.fields.iter_mut().find(|f| f.name == name) {
            Some(field) => {
                if field.value != value {
                    field.value = value;
                    field.changed = true;
                }
            }
            None => self.fields.push(Field { name: Cow::Owned(name.to_owned()), value, changed: true }),
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

    /// The fields set since the record arrived, by value (the SDK hands them to the host).
    pub(crate) fn into_changes(self) -> impl Iterator<Item = (Cow<'a, str>, Value<'a>)> {
        self.fields.into_iter().filter(|f| f.changed).map(|f| (f.name, f.value))
    }

    pub fn is_changed(&self, name: &str) -> bool {
        self.fields.iter().any(|f| f.changed && f.name == name)
    }
}

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
