//! A collection of JSON records kept compactly: each record packed into one byte string (keys
//! as numbers into the table's own key list, numbers as varints, containers with their byte
//! length so that a property is found without decoding the rest), unpacked into the same
//! `serde_json::Value` on read, so every answer stays byte-identical to a kept `Value`.
//!
//! Why: a `Value` costs about 5 KB per stored record (a map node, a `String` per key, 40-digit
//! custom field codes repeated in every record); at 1,000,000 contacts (2.8 million records)
//! that is 14 GB. Packed, a record costs its values and a byte per key.

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Number, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;

const NULL: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;
/// A non-negative integer, varint.
const UINT: u8 = 3;
/// A negative integer `n`, as the varint of `-(n + 1)`.
const NEGINT: u8 = 4;
const FLOAT: u8 = 5;
/// Varint byte length, then UTF-8.
const STRING: u8 = 6;
/// Varint byte length of the items, then the items.
const ARRAY: u8 = 7;
/// Varint byte length of the entries, then each entry as a varint key number and a value.
const OBJECT: u8 = 8;

/// The property names a table's records use, each kept once (the sandbox checks every property
/// a client sends against the resource's schema, so this stays a few hundred names).
#[derive(Debug, Clone, Default)]
struct Keys {
    names: Vec<Box<str>>,
    numbers: HashMap<Box<str>, u32>,
}

impl Keys {
    fn number(&mut self, name: &str) -> u32 {
        if let Some(number) = self.numbers.get(name) {
            return *number;
        }
        let number = self.names.len() as u32;
        self.names.push(name.into());
        self.numbers.insert(name.into(), number);
        number
    }

    fn find(&self, name: &str) -> Option<u32> {
        self.numbers.get(name).copied()
    }

    fn name(&self, number: u64) -> &str {
        self.names.get(number as usize).map_or("", |name| name)
    }
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads a varint at `*at`, moving past it (a truncated one reads as what was there: packed
/// bytes are only ever this module's own).
fn varint(bytes: &[u8], at: &mut usize) -> u64 {
    let mut value = 0u64;
    let mut shift = 0;
    while let Some(byte) = bytes.get(*at) {
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    value
}

fn pack(value: &Value, keys: &mut Keys, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.push(NULL),
        Value::Bool(false) => out.push(FALSE),
        Value::Bool(true) => out.push(TRUE),
        Value::Number(number) => {
            if let Some(unsigned) = number.as_u64() {
                out.push(UINT);
                put_varint(out, unsigned);
            } else if let Some(signed) = number.as_i64() {
                out.push(NEGINT);
                put_varint(out, !(signed as u64));
            } else {
                out.push(FLOAT);
                out.extend_from_slice(&number.as_f64().unwrap_or(0.0).to_le_bytes());
            }
        }
        Value::String(text) => {
            out.push(STRING);
            put_varint(out, text.len() as u64);
            out.extend_from_slice(text.as_bytes());
        }
        Value::Array(items) => {
            let mut body = Vec::new();
            for item in items {
                pack(item, keys, &mut body);
            }
            out.push(ARRAY);
            put_varint(out, body.len() as u64);
            out.extend_from_slice(&body);
        }
        Value::Object(object) => {
            let mut body = Vec::new();
            for (key, item) in object {
                put_varint(&mut body, u64::from(keys.number(key)));
                pack(item, keys, &mut body);
            }
            out.push(OBJECT);
            put_varint(out, body.len() as u64);
            out.extend_from_slice(&body);
        }
    }
}

/// The position just past the value at `at`.
fn skip(bytes: &[u8], at: usize) -> usize {
    let mut next = at + 1;
    match bytes.get(at).copied() {
        Some(UINT | NEGINT) => {
            varint(bytes, &mut next);
            next
        }
        Some(FLOAT) => next + 8,
        Some(STRING | ARRAY | OBJECT) => {
            let length = varint(bytes, &mut next) as usize;
            next + length
        }
        _ => next,
    }
}

fn unpack(bytes: &[u8], at: usize, keys: &Keys) -> Value {
    let mut next = at + 1;
    match bytes.get(at).copied() {
        Some(FALSE) => Value::Bool(false),
        Some(TRUE) => Value::Bool(true),
        Some(UINT) => Value::Number(varint(bytes, &mut next).into()),
        Some(NEGINT) => Value::Number((!varint(bytes, &mut next) as i64).into()),
        Some(FLOAT) => {
            let mut raw = [0u8; 8];
            raw.copy_from_slice(bytes.get(next..next + 8).unwrap_or(&[0; 8]));
            Number::from_f64(f64::from_le_bytes(raw)).map_or(Value::Null, Value::Number)
        }
        Some(STRING) => {
            let length = varint(bytes, &mut next) as usize;
            let text = bytes.get(next..next + length).unwrap_or_default();
            Value::String(String::from_utf8_lossy(text).into_owned())
        }
        Some(ARRAY) => {
            let end = varint(bytes, &mut next) as usize + next;
            let mut items = Vec::new();
            while next < end {
                items.push(unpack(bytes, next, keys));
                next = skip(bytes, next);
            }
            Value::Array(items)
        }
        Some(OBJECT) => {
            let end = varint(bytes, &mut next) as usize + next;
            let mut object = Map::new();
            while next < end {
                let key = varint(bytes, &mut next);
                object.insert(keys.name(key).to_owned(), unpack(bytes, next, keys));
                next = skip(bytes, next);
            }
            Value::Object(object)
        }
        _ => Value::Null,
    }
}

/// Where the property `key` of the object at `at` starts, if it has one.
fn find(bytes: &[u8], at: usize, key: u32) -> Option<usize> {
    if bytes.get(at) != Some(&OBJECT) {
        return None;
    }
    let mut next = at + 1;
    let end = varint(bytes, &mut next) as usize + next;
    while next < end {
        let number = varint(bytes, &mut next);
        if number == u64::from(key) {
            return Some(next);
        }
        next = skip(bytes, next);
    }
    None
}

/// One stored record, borrowed from its table: read a property or two without unpacking it all.
#[derive(Clone, Copy)]
pub struct Packed<'t> {
    bytes: &'t [u8],
    keys: &'t Keys,
}

impl Packed<'_> {
    /// The whole record.
    pub fn value(&self) -> Value {
        unpack(self.bytes, 0, self.keys)
    }

    /// A property (`Value::Null` when absent, as indexing a `Value` gives).
    pub fn get(&self, key: &str) -> Value {
        self.path(&[key])
    }

    /// A property of a property (of a property...), e.g. `["custom_fields", code]`.
    pub fn path(&self, keys: &[&str]) -> Value {
        let mut at = 0;
        for key in keys {
            let found = self.keys.find(key).and_then(|number| find(self.bytes, at, number));
            let Some(found) = found else { return Value::Null };
            at = found;
        }
        unpack(self.bytes, at, self.keys)
    }

    /// Whether the record is live: neither `is_deleted: true` (v2) nor `active_flag: false` (v1).
    pub fn is_live(&self) -> bool {
        self.get("is_deleted") != Value::Bool(true) && self.get("active_flag") != Value::Bool(false)
    }
}

/// Records by id, packed (see the module doc). Serializes as the map of id to record it stands for.
#[derive(Debug, Clone, Default)]
pub struct Table {
    keys: Keys,
    rows: BTreeMap<u64, Box<[u8]>>,
    /// Counts the writes, so that a place remembered in a list is known to be still right.
    writes: u64,
    /// Where the last page of each v1 list walked in id order ended (see [`Table::walk_at`]).
    ends: HashMap<String, PageEnd>,
    /// With [`Table::index_by`]: the ids of the records by their value of one property.
    index: Option<Index>,
}

/// The ids of the records by the id one of their properties holds (a person's organization, a
/// line's deal).
#[derive(Debug, Clone)]
struct Index {
    property: String,
    ids: HashMap<u64, BTreeSet<u64>>,
}

/// A v1 list's page that ended at `last_id`, offset `next_start`, after `writes` writes.
#[derive(Debug, Clone, Copy)]
struct PageEnd {
    writes: u64,
    next_start: usize,
    last_id: u64,
}

/// The v1 lists whose page ends a table remembers; more lists at once forget the older ones.
const REMEMBERED_LISTS: usize = 16;

impl Table {
    pub fn new() -> Table {
        Table::default()
    }

    fn packed<'t>(&'t self, bytes: &'t [u8]) -> Packed<'t> {
        Packed { bytes, keys: &self.keys }
    }

    /// The record, unpacked.
    pub fn get(&self, id: u64) -> Option<Value> {
        self.packed_of(id).map(|record| record.value())
    }

    /// The record without unpacking it.
    pub fn packed_of(&self, id: u64) -> Option<Packed<'_>> {
        self.rows.get(&id).map(|bytes| self.packed(bytes))
    }

    /// The record if it is live (see [`Packed::is_live`]), unpacked.
    pub fn live(&self, id: u64) -> Option<Value> {
        self.packed_of(id).filter(Packed::is_live).map(|record| record.value())
    }

    /// Whether the record exists and is live, without unpacking it.
    pub fn has_live(&self, id: u64) -> bool {
        self.packed_of(id).is_some_and(|record| record.is_live())
    }

    pub fn insert(&mut self, id: u64, record: &Value) {
        self.writes += 1;
        if let Some(mut index) = self.index.take() {
            let old = self.packed_of(id).and_then(|stored| stored.get(&index.property).as_u64());
            let new = record[&index.property].as_u64();
            if old != new {
                index.forget(old, id);
                if let Some(new) = new {
                    index.ids.entry(new).or_default().insert(id);
                }
            }
            self.index = Some(index);
        }
        let mut bytes = Vec::new();
        pack(record, &mut self.keys, &mut bytes);
        self.rows.insert(id, bytes.into_boxed_slice());
    }

    pub fn remove(&mut self, id: u64) {
        self.writes += 1;
        if let Some(mut index) = self.index.take() {
            index.forget(self.packed_of(id).and_then(|stored| stored.get(&index.property).as_u64()), id);
            self.index = Some(index);
        }
        self.rows.remove(&id);
    }

    /// Changes a stored record in place: unpacks it, lets `change` edit it, packs it again.
    pub fn modify<R>(&mut self, id: u64, change: impl FnOnce(&mut Value) -> R) -> Option<R> {
        let mut record = self.get(id)?;
        let result = change(&mut record);
        self.insert(id, &record);
        Some(result)
    }

    /// Every record in id order, packed.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (u64, Packed<'_>)> {
        self.rows.iter().map(|(id, bytes)| (*id, self.packed(bytes)))
    }

    /// Every record in id order, unpacked.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = Value> + '_ {
        self.rows.values().map(|bytes| self.packed(bytes).value())
    }

    /// The records after `after` in id order (all of them when None), ascending or descending:
    /// a list's page starts here rather than at the first record.
    pub fn walk(&self, after: Option<u64>, descending: bool) -> Box<dyn Iterator<Item = (u64, Packed<'_>)> + '_> {
        let range = match after {
            None => self.rows.range(..),
            Some(after) if descending => self.rows.range(..after),
            Some(after) => self.rows.range((Bound::Excluded(after), Bound::Unbounded)),
        };
        if descending {
            Box::new(range.rev().map(move |(id, bytes)| (*id, self.packed(bytes))))
        } else {
            Box::new(range.map(move |(id, bytes)| (*id, self.packed(bytes))))
        }
    }
}

impl Index {
    fn forget(&mut self, value: Option<u64>, id: u64) {
        if let Some(ids) = value.and_then(|value| self.ids.get_mut(&value)) {
            ids.remove(&id);
            if ids.is_empty() {
                self.ids.remove(&value.unwrap_or(0));
            }
        }
    }
}

impl Table {
    /// From now on keeps the ids of the records by the id their `property` holds, so that
    /// [`Table::ids_by`] finds them without reading every record (a relationship counts an
    /// organization's persons, a deal lists its product lines: each a scan of the whole table
    /// before, at a million records a quadratic migration).
    pub fn index_by(&mut self, property: &str) {
        let mut ids: HashMap<u64, BTreeSet<u64>> = HashMap::new();
        for (id, record) in self.iter() {
            if let Some(value) = record.get(property).as_u64() {
                ids.entry(value).or_default().insert(id);
            }
        }
        self.index = Some(Index { property: property.to_owned(), ids });
    }

    /// The ids, in order, of the records whose indexed property (see [`Table::index_by`]) holds
    /// `value`; none when the table keeps no index.
    pub fn ids_by(&self, value: u64) -> impl Iterator<Item = u64> + '_ {
        self.index.as_ref().and_then(|index| index.ids.get(&value)).into_iter().flatten().copied()
    }

    /// Where a v1 list (`list` names its filters and direction) walked in id order starts its
    /// page at offset `start`: after the last record of its previous page when that page ended
    /// at `start` and nothing was written since, having passed over `start` records already;
    /// else at the first record, having passed over none. Without it each page would pass over
    /// every record before it again: n²/limit for a whole list.
    pub fn walk_at(
        &self,
        list: &str,
        start: usize,
        descending: bool,
    ) -> (Box<dyn Iterator<Item = (u64, Packed<'_>)> + '_>, usize) {
        match self.ends.get(list) {
            Some(end) if end.writes == self.writes && end.next_start == start && start > 0 => {
                (self.walk(Some(end.last_id), descending), start)
            }
            _ => (self.walk(None, descending), 0),
        }
    }

    /// Remembers where a page of `list` ended (see [`Table::walk_at`]).
    pub fn remember_end(&mut self, list: &str, next_start: usize, last_id: u64) {
        if self.ends.len() >= REMEMBERED_LISTS && !self.ends.contains_key(list) {
            self.ends.clear();
        }
        self.ends.insert(list.to_owned(), PageEnd { writes: self.writes, next_start, last_id });
    }
}

impl Serialize for Table {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.rows.len()))?;
        for (id, record) in self.iter() {
            map.serialize_entry(&id, &record.value())?;
        }
        map.end()
    }
}

/// Packs each record as it is read: a state file's tables are never held unpacked.
impl<'de> Deserialize<'de> for Table {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Table, D::Error> {
        struct Records;
        impl<'de> Visitor<'de> for Records {
            type Value = Table;
            fn expecting(&self, formatter: &mut std::fmt::Formatter) -> std::fmt::Result {
                formatter.write_str("a map of record id to record")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Table, A::Error> {
                let mut table = Table::new();
                while let Some((id, record)) = map.next_entry::<u64, Value>()? {
                    table.insert(id, &record);
                }
                Ok(table)
            }
        }
        deserializer.deserialize_map(Records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_record_reads_back_byte_for_byte_and_its_properties_alone() {
        let record = json!({
            "id": 7, "name": "Zoë \"quoted\" \u{1F600}", "negative": -12, "min": i64::MIN, "max": u64::MAX,
            "float": 0.1, "whole_float": 3.0, "big_float": 1e300, "null": null, "yes": true, "no": false,
            "empty_array": [], "empty_object": {},
            "emails": [{"value": "a@b.c", "primary": true, "label": "work"}],
            "custom_fields": {"0123456789abcdef0123456789abcdef01234567": {"value": 1.5, "currency": "EUR"}, "z": [1, [2, {"a": null}]]},
        });
        let mut table = Table::new();
        table.insert(7, &record);
        let back = table.get(7).unwrap();
        assert_eq!(serde_json::to_string(&back).unwrap(), serde_json::to_string(&record).unwrap());
        let packed = table.packed_of(7).unwrap();
        assert_eq!(packed.get("negative"), json!(-12));
        assert_eq!(packed.get("whole_float"), json!(3.0));
        assert_eq!(packed.get("absent"), Value::Null);
        assert_eq!(packed.path(&["custom_fields", "z"]), json!([1, [2, {"a": null}]]));
        assert_eq!(
            packed.path(&["custom_fields", "0123456789abcdef0123456789abcdef01234567", "currency"]),
            json!("EUR")
        );
        assert_eq!(packed.path(&["name", "x"]), Value::Null);
        assert!(packed.is_live());
        table.modify(7, |record| record["active_flag"] = json!(false));
        assert!(!table.packed_of(7).unwrap().is_live());
        assert_eq!(serde_json::to_value(&table).unwrap()["7"]["float"], json!(0.1));
    }

    #[test]
    fn the_index_follows_inserts_changes_and_removals() {
        let mut table = Table::new();
        table.index_by("org_id");
        for id in 1..=5 {
            table.insert(id, &json!({"id": id, "org_id": if id <= 3 { 10 } else { 20 }}));
        }
        let of = |table: &Table, org| table.ids_by(org).collect::<Vec<_>>();
        assert_eq!((of(&table, 10), of(&table, 20)), (vec![1, 2, 3], vec![4, 5]));
        table.modify(1, |record| record["org_id"] = json!(20));
        table.modify(4, |record| record["org_id"] = Value::Null);
        table.remove(2);
        assert_eq!((of(&table, 10), of(&table, 20)), (vec![3], vec![1, 5]));
    }
}
