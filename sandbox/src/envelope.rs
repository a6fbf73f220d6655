//! Pipedrive's JSON envelopes: success, list pagination (v2 cursors, v1 start/limit) and errors.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use std::cmp::Ordering;
use std::collections::HashMap;

/// What a handler answers: a status and a JSON body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

/// A request the handler refused; rendered with Pipedrive's error envelope.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub body: Value,
}

pub type ApiResult = Result<Reply, ApiError>;

/// `{"success":true,"data":...}`.
pub fn ok(data: Value) -> ApiResult {
    Ok(Reply { status: 200, body: json!({"success": true, "data": data}) })
}

pub fn ok_with(data: Value, additional_data: Value) -> ApiResult {
    Ok(Reply { status: 200, body: json!({"success": true, "data": data, "additional_data": additional_data}) })
}

impl ApiError {
    /// 400 as API v2 reports it: `{"success":false,"error":"...","code":"ERR_BAD_REQUEST"}`.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError { status: 400, body: json!({"success": false, "error": message.into(), "code": "ERR_BAD_REQUEST"}) }
    }

    /// `Validation failed: <field>: <problem>`, the form real v2 traffic shows.
    pub fn invalid(field: &str, problem: impl std::fmt::Display) -> ApiError {
        ApiError::bad_request(format!("Validation failed: {field}: {problem}"))
    }

    /// 404 with the spec's example body.
    pub fn not_found(what: &str) -> ApiError {
        ApiError {
            status: 404,
            body: json!({"success": false, "error": format!("{what} not found"), "error_info": "Object was not found.", "data": null, "additional_data": null}),
        }
    }

    pub fn entity_not_found() -> ApiError {
        let mut error = ApiError::not_found("Entity");
        error.body["error"] = json!("Entity was not found");
        error
    }
}

/// The list query parameters shared by every v2 list: `limit` (default 100, at most 500) and `cursor`.
pub struct CursorPage {
    pub limit: usize,
    pub sort_by: String,
    pub descending: bool,
    after: Option<(Value, u64)>,
}

pub fn query_limit(query: &HashMap<String, String>, default: usize, max: usize) -> Result<usize, ApiError> {
    match query.get("limit") {
        None => Ok(default),
        Some(text) => match text.parse::<usize>() {
            Ok(limit) if (1..=max).contains(&limit) => Ok(limit),
            _ => Err(ApiError::invalid("limit", format!("must be an integer from 1 to {max}, got '{text}'"))),
        },
    }
}

impl CursorPage {
    pub fn from_query(query: &HashMap<String, String>, sortable: &[&str]) -> Result<CursorPage, ApiError> {
        let limit = query_limit(query, 100, 500)?;
        let sort_by = query.get("sort_by").cloned().unwrap_or_else(|| "id".to_owned());
        if !sortable.contains(&sort_by.as_str()) {
            return Err(ApiError::invalid("sort_by", format!("must be one of {}", sortable.join(", "))));
        }
        let descending = match query.get("sort_direction").map(String::as_str) {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(other) => {
                return Err(ApiError::invalid("sort_direction", format!("must be asc or desc, got '{other}'")));
            }
        };
        let after = match query.get("cursor") {
            None => None,
            Some(cursor) => {
                let decoded = URL_SAFE_NO_PAD
                    .decode(cursor.trim_end_matches('='))
                    .ok()
                    .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
                    .filter(|value| value["field"] == json!(sort_by) && value["id"].is_u64());
                let Some(value) = decoded else {
                    return Err(ApiError::invalid("cursor", "is not a cursor this list handed out"));
                };
                Some((value["fieldValue"].clone(), value["id"].as_u64().unwrap_or(0)))
            }
        };
        Ok(CursorPage { limit, sort_by, descending, after })
    }

    /// Skips `items` (JSON objects with an `id`, owned or borrowed, or their sort keys alone) to
    /// the cursor, sorts, and cuts one page. Returns the page and `additional_data` with
    /// `next_cursor` (null on the last page). Only the page's records are sorted (the rest is
    /// partitioned around them): each page costs linear time in the records listed.
    pub fn page<T: Keyed>(&self, mut items: Vec<T>) -> (Vec<T>, Value) {
        let sort_by = self.sort_by.as_str();
        let order = |a: &T, b: &T| {
            let ordering = compare_keys(a.key(sort_by), b.key(sort_by));
            if self.descending { ordering.reverse() } else { ordering }
        };
        if let Some((after_value, after_id)) = &self.after {
            items.retain(|item| {
                let ordering = compare_keys(item.key(sort_by), (after_value, *after_id));
                if self.descending { ordering == Ordering::Less } else { ordering == Ordering::Greater }
            });
        }
        // The page and one more (which says whether there is a next page), then in order.
        if items.len() > self.limit + 1 {
            items.select_nth_unstable_by(self.limit, order);
            items.truncate(self.limit + 1);
        }
        items.sort_unstable_by(order);
        self.walked(items)
    }

    /// Where a list sorted by id starts: `Some(None)` at the first record, `Some(Some(id))` after
    /// the record `id` (the cursor this list handed out); None when the list is sorted by another
    /// field (or the cursor names a place that is not a record's id), which [`CursorPage::page`]
    /// then cuts from every item.
    pub fn id_walk(&self) -> Option<Option<u64>> {
        if self.sort_by != "id" {
            return None;
        }
        match &self.after {
            None => Some(None),
            Some((value, id)) if value.as_u64() == Some(*id) => Some(Some(*id)),
            Some(_) => None,
        }
    }

    /// The page from the items that follow the cursor, in order: at most the page and one more
    /// (which says whether there is a next page).
    pub fn walked<T: Keyed>(&self, mut items: Vec<T>) -> (Vec<T>, Value) {
        let more = items.len() > self.limit;
        items.truncate(self.limit);
        let next_cursor = match (more, items.last()) {
            (true, Some(last)) => {
                let (field_value, id) = last.key(&self.sort_by);
                let cursor = json!({"field": self.sort_by, "fieldValue": field_value, "sortDirection": if self.descending {"desc"} else {"asc"}, "id": id});
                Value::String(URL_SAFE_NO_PAD.encode(cursor.to_string()))
            }
            _ => Value::Null,
        };
        (items, json!({"next_cursor": next_cursor}))
    }
}

/// What a list is sorted by: an item's value of the field sorted by, then its id.
pub trait Keyed {
    fn key(&self, sort_by: &str) -> (&Value, u64);
}

impl Keyed for Value {
    fn key(&self, sort_by: &str) -> (&Value, u64) {
        (&self[sort_by], self["id"].as_u64().unwrap_or(0))
    }
}

impl Keyed for &Value {
    fn key(&self, sort_by: &str) -> (&Value, u64) {
        (*self).key(sort_by)
    }
}

/// A record's place in a list without the record: its value of the field sorted by, and its id.
pub struct SortKey {
    pub value: Value,
    pub id: u64,
}

impl Keyed for SortKey {
    fn key(&self, _sort_by: &str) -> (&Value, u64) {
        (&self.value, self.id)
    }
}

fn compare_keys(a: (&Value, u64), b: (&Value, u64)) -> Ordering {
    compare_values(a.0, b.0).then(a.1.cmp(&b.1))
}

fn compare_values(a: &Value, b: &Value) -> Ordering {
    fn rank(value: &Value) -> u8 {
        match value {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Number(_) => 2,
            Value::String(_) => 3,
            _ => 4,
        }
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64().unwrap_or(0.0).total_cmp(&y.as_f64().unwrap_or(0.0)),
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

/// v1 offset pagination: `start` (default 0) and `limit` (default 100, at most `max`).
pub struct OffsetPage {
    pub start: usize,
    pub limit: usize,
}

impl OffsetPage {
    pub fn from_query(query: &HashMap<String, String>, max: usize) -> Result<OffsetPage, ApiError> {
        let start = match query.get("start") {
            None => 0,
            Some(text) => text
                .parse::<usize>()
                .map_err(|_| ApiError::invalid("start", format!("must be a non-negative integer, got '{text}'")))?,
        };
        Ok(OffsetPage { start, limit: query_limit(query, 100, max)? })
    }

    /// The page from the items in order, of which the first `passed` (at most `start`) were
    /// passed over already: the rest before `start` are passed over here, and the ones after the
    /// page and one more are never looked at.
    pub fn cut<T>(&self, items: impl IntoIterator<Item = T>, passed: usize) -> (Vec<T>, Value) {
        let (start, limit) = (self.start, self.limit);
        let mut page: Vec<T> = items.into_iter().skip(start.saturating_sub(passed)).take(limit + 1).collect();
        let more = page.len() > limit;
        page.truncate(limit);
        let mut pagination = json!({"start": start, "limit": limit, "more_items_in_collection": more});
        if more {
            pagination["next_start"] = json!(start + limit);
        }
        (page, json!({"pagination": pagination}))
    }
}

/// A v1 list's page of all `items` (see [`OffsetPage`]).
pub fn v1_page<T>(
    items: impl IntoIterator<Item = T>,
    query: &HashMap<String, String>,
    max: usize,
) -> Result<(Vec<T>, Value), ApiError> {
    Ok(OffsetPage::from_query(query, max)?.cut(items, 0))
}

/// Offset pagination behind an opaque cursor, for lists without a natural sort key
/// (field definitions, search results).
pub fn offset_page(items: Vec<Value>, query: &HashMap<String, String>) -> Result<(Vec<Value>, Value), ApiError> {
    let limit = query_limit(query, 100, 500)?;
    let start = match query.get("cursor") {
        None => 0,
        Some(cursor) => URL_SAFE_NO_PAD
            .decode(cursor.trim_end_matches('='))
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
            .and_then(|value| value["offset"].as_u64())
            .ok_or_else(|| ApiError::invalid("cursor", "is not a cursor this list handed out"))?
            as usize,
    };
    let total = items.len();
    let page: Vec<Value> = items.into_iter().skip(start).take(limit).collect();
    let next = start + page.len();
    let next_cursor = if next < total {
        Value::String(URL_SAFE_NO_PAD.encode(json!({"offset": next}).to_string()))
    } else {
        Value::Null
    };
    Ok((page, json!({"next_cursor": next_cursor})))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Walks a list page by page as a client does (each `next_cursor` into the next query).
    fn walk(items: &[Value], sort_by: &str, direction: &str) -> Vec<u64> {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut query = HashMap::from([
                ("limit".to_owned(), "7".to_owned()),
                ("sort_by".to_owned(), sort_by.to_owned()),
                ("sort_direction".to_owned(), direction.to_owned()),
            ]);
            if let Some(cursor) = cursor.take() {
                query.insert("cursor".to_owned(), cursor);
            }
            let page = CursorPage::from_query(&query, &["id", "update_time"]).unwrap();
            let (items, additional) = page.page(items.iter().collect::<Vec<_>>());
            seen.extend(items.iter().map(|item| item["id"].as_u64().unwrap()));
            match additional["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return seen,
            }
        }
    }

    #[test]
    fn every_record_is_listed_once_in_order_across_pages_with_equal_sort_values_and_both_directions() {
        // Ids out of order, sort values repeated (and one missing), as a table after updates.
        let items: Vec<Value> = (1..=100u64)
            .rev()
            .map(|id| match id {
                50 => json!({"id": id}),
                _ => json!({"id": id, "update_time": format!("2026-01-{:02}", id % 9 + 1)}),
            })
            .collect();
        let key = |id: u64| (if id == 50 { String::new() } else { format!("2026-01-{:02}", id % 9 + 1) }, id);
        let mut ascending: Vec<u64> = (1..=100).collect();
        ascending.sort_by_key(|id| key(*id));
        assert_eq!(walk(&items, "update_time", "asc"), ascending);
        ascending.reverse();
        assert_eq!(walk(&items, "update_time", "desc"), ascending);
        assert_eq!(walk(&items, "id", "asc"), (1..=100).collect::<Vec<_>>());
        assert_eq!(walk(&items, "id", "desc"), (1..=100).rev().collect::<Vec<_>>());
    }
}
