//! Source ids as compact keys, for what apply holds per record of a run (the links from source
//! ids to Pipedrive ids, the ids in a phase's scope). User.com's ids are mostly decimal numbers:
//! such an id is held as its number (8 bytes, no allocation), any other as its text. Ids are
//! text all the same: `007` is not `7`, so only a number written the one way `u64` prints it
//! (no sign, no leading zero, not past `u64::MAX`) is held as a number.

use std::borrow::Cow;
use std::collections::HashMap;

/// The number an id is, when printing that number gives the id back.
fn number(id: &str) -> Option<u64> {
    let canonical =
        !id.is_empty() && id.bytes().all(|byte| byte.is_ascii_digit()) && (id == "0" || !id.starts_with('0'));
    if canonical { id.parse().ok() } else { None }
}

/// A map keyed by source id.
#[derive(Debug, Clone)]
pub struct IdMap<V> {
    numbers: HashMap<u64, V>,
    texts: HashMap<Box<str>, V>,
}

impl<V> Default for IdMap<V> {
    fn default() -> IdMap<V> {
        IdMap { numbers: HashMap::new(), texts: HashMap::new() }
    }
}

impl<V> IdMap<V> {
    pub fn insert(&mut self, id: &str, value: V) -> Option<V> {
        match number(id) {
            Some(number) => self.numbers.insert(number, value),
            None => self.texts.insert(id.into(), value),
        }
    }

    pub fn get(&self, id: &str) -> Option<&V> {
        match number(id) {
            Some(number) => self.numbers.get(&number),
            None => self.texts.get(id),
        }
    }

    pub fn contains(&self, id: &str) -> bool {
        self.get(id).is_some()
    }

    pub fn len(&self) -> usize {
        self.numbers.len() + self.texts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every id with its value, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (Cow<'_, str>, &V)> {
        let numbers = self.numbers.iter().map(|(number, value)| (Cow::Owned(number.to_string()), value));
        numbers.chain(self.texts.iter().map(|(text, value)| (Cow::Borrowed(&**text), value)))
    }
}

impl<V: Clone> IdMap<V> {
    /// Adds (or replaces) every entry of `other`.
    pub fn extend_from(&mut self, other: &IdMap<V>) {
        self.numbers.extend(other.numbers.iter().map(|(number, value)| (*number, value.clone())));
        self.texts.extend(other.texts.iter().map(|(text, value)| (text.clone(), value.clone())));
    }
}

impl<S: AsRef<str>, V> FromIterator<(S, V)> for IdMap<V> {
    fn from_iter<I: IntoIterator<Item = (S, V)>>(entries: I) -> IdMap<V> {
        let mut map = IdMap::default();
        for (id, value) in entries {
            map.insert(id.as_ref(), value);
        }
        map
    }
}

/// A set of source ids.
pub type IdSet = IdMap<()>;

impl IdSet {
    pub fn add(&mut self, id: &str) {
        self.insert(id, ());
    }

    pub fn ids(&self) -> impl Iterator<Item = Cow<'_, str>> {
        self.iter().map(|(id, ())| id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_print_differently_are_different_keys() {
        let hostile = [
            "7",
            "007",
            "0",
            "00",
            "",
            "+7",
            "-7",
            " 7",
            "7 ",
            "abc",
            "18446744073709551615",
            "18446744073709551616",
            "99999999999999999999999",
            "٣",
        ];
        let map: IdMap<usize> = hostile.iter().enumerate().map(|(index, id)| (*id, index)).collect();
        assert_eq!(map.len(), hostile.len(), "every id is its own key");
        for (index, id) in hostile.iter().enumerate() {
            assert_eq!(map.get(id), Some(&index), "{id:?}");
        }
        let mut listed: Vec<String> = map.iter().map(|(id, _)| id.into_owned()).collect();
        listed.sort();
        let mut expected: Vec<String> = hostile.iter().map(|id| (*id).to_owned()).collect();
        expected.sort();
        assert_eq!(listed, expected, "ids come back as written");
        assert!(!map.contains("07") && !map.contains("18446744073709551614"));
        assert_eq!(
            (number("7"), number("0"), number("007"), number("18446744073709551616")),
            (Some(7), Some(0), None, None)
        );
    }
}
