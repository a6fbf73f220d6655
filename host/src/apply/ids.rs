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

/// Entries of a full block. A block is allocated at this size once and never grows: no map
/// holds the slack of a doubled vector or of a hash table's empty buckets, nor copies itself
/// whole as it grows (a million links are 16 MB, not 36 MB with a moment at 54 MB).
const BLOCK: usize = 1024;

/// Number ids in order, in blocks of at most [`BLOCK`]: an id is found by two binary searches
/// (its block by the blocks' first ids, then within it), inserted by moving at most a block.
/// Ids come mostly in order (the export's, a chunk's answers sorted): a full last block is
/// followed by a new one, and full blocks stay full; one met in the middle splits its block in two.
#[derive(Debug, Clone)]
struct Numbers<V> {
    blocks: Vec<Vec<(u64, V)>>,
    /// Each block's first id.
    firsts: Vec<u64>,
    len: usize,
}

impl<V> Default for Numbers<V> {
    fn default() -> Numbers<V> {
        Numbers { blocks: Vec::new(), firsts: Vec::new(), len: 0 }
    }
}

impl<V> Numbers<V> {
    /// The block an id is in, or goes in.
    fn block_of(&self, id: u64) -> usize {
        self.firsts.partition_point(|first| *first <= id).saturating_sub(1)
    }

    fn get(&self, id: u64) -> Option<&V> {
        let block = self.blocks.get(self.block_of(id))?;
        block.binary_search_by_key(&id, |(id, _)| *id).ok().map(|at| &block[at].1)
    }

    fn insert(&mut self, id: u64, value: V) -> Option<V> {
        if self.blocks.is_empty() {
            // A small map stays small: its one block grows as a vector does, up to a block.
            self.blocks.push(vec![(id, value)]);
            self.firsts.push(id);
            self.len = 1;
            return None;
        }
        let index = self.block_of(id);
        let last = index + 1 == self.blocks.len();
        let block = &mut self.blocks[index];
        let at = match block.binary_search_by_key(&id, |(id, _)| *id) {
            Ok(at) => return Some(std::mem::replace(&mut block[at].1, value)),
            Err(at) => at,
        };
        self.len += 1;
        if block.len() < BLOCK {
            if block.len() == block.capacity() {
                block.reserve_exact((block.len() * 2).min(BLOCK) - block.len());
            }
            block.insert(at, (id, value));
            self.firsts[index] = block[0].0;
            return None;
        }
        let mut next = Vec::with_capacity(BLOCK);
        if at == BLOCK && last {
            // Past the end of the last block, full: a block of its own.
            next.push((id, value));
        } else {
            next.extend(block.drain(BLOCK / 2..));
            if at <= block.len() {
                block.insert(at, (id, value))
            } else {
                next.insert(at - block.len(), (id, value))
            }
            self.firsts[index] = block[0].0;
        }
        self.firsts.insert(index + 1, next[0].0);
        self.blocks.insert(index + 1, next);
        None
    }

    fn iter(&self) -> impl Iterator<Item = &(u64, V)> {
        self.blocks.iter().flatten()
    }

    /// The bytes the blocks are allocated.
    fn bytes(&self) -> usize {
        let entries: usize = self.blocks.iter().map(Vec::capacity).sum();
        entries * std::mem::size_of::<(u64, V)>() + self.firsts.capacity() * (8 + std::mem::size_of::<Vec<(u64, V)>>())
    }
}

/// A map keyed by source id.
#[derive(Debug, Clone)]
pub struct IdMap<V> {
    numbers: Numbers<V>,
    texts: HashMap<Box<str>, V>,
}

impl<V> Default for IdMap<V> {
    fn default() -> IdMap<V> {
        IdMap { numbers: Numbers::default(), texts: HashMap::new() }
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
            Some(number) => self.numbers.get(number),
            None => self.texts.get(id),
        }
    }

    pub fn contains(&self, id: &str) -> bool {
        self.get(id).is_some()
    }

    pub fn len(&self) -> usize {
        self.numbers.len + self.texts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes the map holds for its number ids (what grows with a run's records).
    pub fn number_bytes(&self) -> usize {
        self.numbers.bytes()
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
        for (number, value) in other.numbers.iter() {
            self.numbers.insert(*number, value.clone());
        }
        self.texts.extend(other.texts.iter().map(|(text, value)| (text.clone(), value.clone())));
    }
}

/// Entries added at once go in in the order of their ids (a chunk's answers come in the order
/// they were answered), up to this many at a time: in order, they fill blocks rather than split them.
const SORTED_TOGETHER: usize = 1 << 16;

impl<S: AsRef<str>, V> Extend<(S, V)> for IdMap<V> {
    fn extend<I: IntoIterator<Item = (S, V)>>(&mut self, entries: I) {
        let mut numbers = Vec::new();
        let mut entries = entries.into_iter().peekable();
        while entries.peek().is_some() {
            for (id, value) in entries.by_ref().take(SORTED_TOGETHER) {
                match number(id.as_ref()) {
                    Some(number) => numbers.push((number, value)),
                    None => {
                        self.texts.insert(id.as_ref().into(), value);
                    }
                }
            }
            numbers.sort_by_key(|(number, _)| *number);
            for (number, value) in numbers.drain(..) {
                self.numbers.insert(number, value);
            }
        }
    }
}

impl<S: AsRef<str>, V> FromIterator<(S, V)> for IdMap<V> {
    fn from_iter<I: IntoIterator<Item = (S, V)>>(entries: I) -> IdMap<V> {
        let mut map = IdMap::default();
        map.extend(entries);
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
    fn a_link_holds_little_more_than_its_two_numbers() {
        // A run's answers come back a chunk at a time, out of order within the chunk (16 sends
        // in flight); a resumed run reads them in the journal's text order ("10" before "9").
        let mut links: IdMap<u64> = IdMap::default();
        let scrambled = |chunk: u64| (0..2000u64).map(move |i| chunk * 2000 + (i * 7919) % 2000);
        for chunk in 0..500 {
            links.extend(scrambled(chunk).map(|id| (id.to_string(), id + 1)));
        }
        let mut resumed: IdMap<u64> = IdMap::default();
        let mut texts: Vec<String> = (0..200_000u64).map(|id| id.to_string()).collect();
        texts.sort();
        for id in &texts {
            resumed.insert(id, 1);
        }
        assert_eq!((links.len(), links.get("999999"), links.get("1000000")), (1_000_000, Some(&1_000_000), None));
        assert_eq!(resumed.get("123456"), Some(&1));
        let per_link = |map: &IdMap<u64>| map.number_bytes() as f64 / map.len() as f64;
        assert!(per_link(&links) <= 18.0, "{} bytes a link in answers' order", per_link(&links));
        assert!(per_link(&resumed) <= 25.0, "{} bytes a link in the journal's order", per_link(&resumed));
        let scope: IdSet = (0..300_000u64).map(|id| (id.to_string(), ())).collect();
        assert!(
            scope.number_bytes() as f64 / scope.len() as f64 <= 9.0,
            "an id in scope: {} bytes",
            scope.number_bytes()
        );
    }

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
