//! Typed field values, as a plugin sees them.

use std::borrow::Cow;

pub use crate::bindings::crm_migrate::plugin::types::{Date, Datetime as DateTime, ObjectKind};

/// A field's value. Text borrows from the batch the host sent until a plugin changes it, so
/// reading a record costs no copies.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    /// Empty or absent in the source; setting a field to `Null` clears it.
    Null,
    Text(Cow<'a, str>),
    Number(f64),
    Boolean(bool),
    Date(Date),
    DateTime(DateTime),
    /// A multiple-choice value, one entry per chosen option.
    Choices(Vec<Cow<'a, str>>),
}

impl<'a> Value<'a> {
    /// The text, when this is a text value.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(text) => Some(text),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// True for `Null`, empty or blank text, and an empty choice list: a field a merge may fill.
    pub fn is_empty(&self) -> bool {
        match self {
            Value::Null => true,
            Value::Text(text) => text.trim().is_empty(),
            Value::Choices(choices) => choices.is_empty(),
            _ => false,
        }
    }

    /// Copies borrowed text so the value outlives the batch it came from.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Text(text) => Value::Text(Cow::Owned(text.into_owned())),
            Value::Number(number) => Value::Number(number),
            Value::Boolean(boolean) => Value::Boolean(boolean),
            Value::Date(date) => Value::Date(date),
            Value::DateTime(datetime) => Value::DateTime(datetime),
            Value::Choices(choices) => {
                Value::Choices(choices.into_iter().map(|c| Cow::Owned(c.into_owned())).collect())
            }
        }
    }
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(text: &'a str) -> Self {
        Value::Text(Cow::Borrowed(text))
    }
}

impl From<String> for Value<'_> {
    fn from(text: String) -> Self {
        Value::Text(Cow::Owned(text))
    }
}

impl From<f64> for Value<'_> {
    fn from(number: f64) -> Self {
        Value::Number(number)
    }
}

impl From<bool> for Value<'_> {
    fn from(boolean: bool) -> Self {
        Value::Boolean(boolean)
    }
}

impl From<Date> for Value<'_> {
    fn from(date: Date) -> Self {
        Value::Date(date)
    }
}

impl From<DateTime> for Value<'_> {
    fn from(datetime: DateTime) -> Self {
        Value::DateTime(datetime)
    }
}

impl From<Vec<String>> for Value<'_> {
    fn from(choices: Vec<String>) -> Self {
        Value::Choices(choices.into_iter().map(Cow::Owned).collect())
    }
}
