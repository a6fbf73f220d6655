//! A deal's order lines and participants as the export gives them (the API's deal model:
//! `order_products`, a JSON array of `{product_id, quantity, value, currency}`, `value` the price of
//! one unit; `participants`, contact ids): what can be migrated, and each line or participant that
//! cannot, with its reason. Plan counts them, apply creates them (`apply::products`), verify
//! compares them with what Pipedrive holds.

use serde_json::Value as Json;

use crate::extract::catalogue::Product;
use crate::mapping::{Landing, Mapping};
use crate::record::{ObjectKind, Record, Value};

/// The deal landings these come from (`to = "products"`, `to = "participants"`).
pub const PRODUCTS_CODE: &str = "products";
pub const PARTICIPANTS_CODE: &str = "participants";

/// One order line that can be migrated.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// Its place in the deal's order lines, from 1.
    pub index: usize,
    /// The User.com product id.
    pub product: String,
    pub quantity: f64,
    /// The price of one unit.
    pub price: f64,
}

/// What a deal's order lines and participants come to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DealExtras {
    pub lines: Vec<Line>,
    /// User.com contact ids, each once, the deal's own contact aside.
    pub participants: Vec<String>,
    /// (attribute, value as the export has it, why): each left out of the deal. The attribute
    /// names the line or participant (`order_products[2]`, `participants[99999]`), as a record's
    /// left-out values are kept one per field.
    pub left_out: Vec<(String, String, String)>,
}

/// The attribute the mapping sends to a deal landing, if any.
pub fn attribute<'a>(mapping: &'a Mapping, code: &str) -> Option<&'a str> {
    mapping
        .fields
        .iter()
        .find(|entry| {
            entry.object == ObjectKind::Deal && matches!(&entry.landing, Landing::Standard { code: c } if c == code)
        })
        .map(|entry| entry.attribute.as_str())
}

fn text(value: &Value) -> String {
    crate::profile::plain(value)
}

/// A number an order line gives as a number or as text (`"123.00"`, `"1 250,50"`).
fn number(value: &Json) -> Option<f64> {
    match value {
        Json::Number(number) => number.as_f64(),
        Json::String(text) => crate::extract::values::parse_number(text.trim()),
        _ => None,
    }
    .filter(|number| number.is_finite())
}

/// What one deal's order lines and participants come to, read from the SOURCE: `is_contact`,
/// whether an id is a contact of the export; `person`, who a contact is in Pipedrive (None: not
/// migrated).
pub fn read(
    deal: &Record,
    mapping: &Mapping,
    catalogue: &[Product],
    is_contact: &dyn Fn(&str) -> bool,
    person: &dyn Fn(&str) -> Option<u64>,
) -> DealExtras {
    let mut extras = DealExtras::default();
    let deal_currency = deal
        .get("currency")
        .map(text)
        .map(|currency| currency.trim().to_uppercase())
        .filter(|currency| !currency.is_empty());
    if let Some(attribute) = attribute(mapping, PRODUCTS_CODE)
        && let Some(value) = deal.get(attribute).filter(|value| !matches!(value, Value::Null))
    {
        let raw = text(value);
        match serde_json::from_str::<Json>(raw.trim()) {
            Ok(Json::Array(lines)) => {
                for (index, line) in lines.iter().enumerate().map(|(index, line)| (index + 1, line)) {
                    let shown = line.to_string();
                    let mut leave = |value: String, why: String| {
                        extras.left_out.push((format!("{attribute}[{index}]"), value, why))
                    };
                    let product = match &line["product_id"] {
                        Json::Number(id) => id.to_string(),
                        Json::String(id) if !id.trim().is_empty() => id.trim().to_owned(),
                        _ if !line["product_custom_id"].is_null() => {
                            leave(
                                shown,
                                format!(
                                    "line {index} names its product by custom id, which products.csv does not carry: not migrated"
                                ),
                            );
                            continue;
                        }
                        _ => {
                            leave(shown, format!("line {index} has no product_id"));
                            continue;
                        }
                    };
                    if !catalogue.iter().any(|known| known.id == product) {
                        leave(shown, format!("line {index}: product {product} is not in products.csv"));
                        continue;
                    }
                    let Some(quantity) = number(&line["quantity"]).filter(|quantity| *quantity > 0.0) else {
                        leave(shown, format!("line {index}: quantity {} is not a positive number", line["quantity"]));
                        continue;
                    };
                    let Some(price) = number(&line["value"]) else {
                        leave(shown, format!("line {index}: value {} is not a number", line["value"]));
                        continue;
                    };
                    let currency = line["currency"].as_str().map(|currency| currency.trim().to_uppercase());
                    if let (Some(currency), Some(deal_currency)) = (&currency, &deal_currency)
                        && currency != deal_currency
                    {
                        leave(
                            shown,
                            format!(
                                "line {index}: its currency {currency} is not the deal's ({deal_currency}); Pipedrive prices a deal's products in the deal's currency"
                            ),
                        );
                        continue;
                    }
                    extras.lines.push(Line { index, product, quantity, price });
                }
            }
            Ok(other) => extras.left_out.push((
                attribute.to_owned(),
                raw.clone(),
                format!("not a JSON array of order lines (a JSON {})", json_kind(&other)),
            )),
            Err(error) => extras.left_out.push((
                attribute.to_owned(),
                raw.clone(),
                format!("not a JSON array of order lines: {error}"),
            )),
        }
    }
    let own = attribute(mapping, "person_id").and_then(|own| deal.get(own)).map(text).map(|id| id.trim().to_owned());
    if let Some(attribute) = attribute(mapping, PARTICIPANTS_CODE)
        && let Some(value) = deal.get(attribute).filter(|value| !matches!(value, Value::Null))
    {
        let ids: Vec<String> = match value {
            Value::Choices(ids) => ids.clone(),
            other => text(other).split(',').map(str::to_owned).collect(),
        };
        for id in ids.iter().map(|id| id.trim()).filter(|id| !id.is_empty()) {
            let why = if !is_contact(id) {
                Some(format!("participant {id} is not a contact of the export"))
            } else if person(id).is_none() {
                Some(format!("participant {id}: that contact was not migrated"))
            } else {
                None
            };
            match why {
                Some(why) => extras.left_out.push((format!("{attribute}[{id}]"), id.to_owned(), why)),
                // The deal's own contact is its person already; each participant once.
                None if own.as_deref() == Some(id) || extras.participants.iter().any(|known| known == id) => {}
                None => extras.participants.push(id.to_owned()),
            }
        }
    }
    extras
}

fn json_kind(value: &Json) -> &'static str {
    match value {
        Json::Null => "null",
        Json::Bool(_) => "boolean",
        Json::Number(_) => "number",
        Json::String(_) => "string",
        Json::Array(_) => "array",
        Json::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::mapping::FieldEntry;

    fn mapping() -> Mapping {
        let entry = |attribute: &str, code: &str| FieldEntry {
            object: ObjectKind::Deal,
            attribute: attribute.to_owned(),
            landing: Landing::Standard { code: code.to_owned() },
            confidence: 1.0,
            why: Vec::new(),
            note: None,
            on_bad_value: Default::default(),
            line: 0,
        };
        Mapping {
            fields: vec![
                entry("order_products", PRODUCTS_CODE),
                entry("participants", PARTICIPANTS_CODE),
                entry("contact_id", "person_id"),
            ],
            ..Mapping::default()
        }
    }

    fn product(id: &str) -> Product {
        Product { id: id.to_owned(), name: format!("P{id}"), price: "10".into(), currency: "PLN".into(), line: 2 }
    }

    #[test]
    fn hostile_lines_and_participants_are_left_out_each_with_its_reason_and_the_rest_kept() {
        let deal = Record::new(ObjectKind::Deal, "20001")
            .with("currency", Value::Text("PLN".into()))
            .with("contact_id", Value::Text("10001".into()))
            .with(
                "order_products",
                Value::Text(
                    r#"[{"product_id":1,"quantity":2,"value":"123.00","currency":"PLN"},
                        {"product_id":999,"quantity":1,"value":"5"},
                        {"product_id":"1","quantity":"lots","value":"5"},
                        {"product_id":1,"quantity":1,"value":"5","currency":"EUR"},
                        {"product_custom_id":"X-1","quantity":1,"value":"5"}]"#
                        .into(),
                ),
            )
            .with(
                "participants",
                Value::Choices(vec!["10001".into(), "10002".into(), "77777".into(), "10003".into(), "10002".into()]),
            );
        let contacts: HashSet<&str> = ["10001", "10002", "10003"].into_iter().collect();
        let extras =
            read(&deal, &mapping(), &[product("1")], &|id| contacts.contains(id), &|id| (id != "10003").then_some(7));
        assert_eq!(extras.lines, vec![Line { index: 1, product: "1".into(), quantity: 2.0, price: 123.0 }]);
        assert_eq!(
            extras.participants,
            vec!["10002".to_owned()],
            "the deal's own contact and a repeat are not added again"
        );
        let why: Vec<&str> = extras.left_out.iter().map(|(_, _, why)| why.as_str()).collect();
        assert_eq!(why.len(), 6, "{why:?}");
        assert!(why[0].contains("product 999 is not in products.csv"), "{why:?}");
        assert!(why[1].contains("quantity \"lots\" is not a positive number"), "{why:?}");
        assert!(why[2].contains("currency EUR is not the deal's (PLN)"), "{why:?}");
        assert!(why[3].contains("by custom id"), "{why:?}");
        assert!(why[4].contains("participant 77777 is not a contact"), "{why:?}");
        assert!(why[5].contains("participant 10003: that contact was not migrated"), "{why:?}");

        let broken =
            Record::new(ObjectKind::Deal, "20002").with("order_products", Value::Text("[{\"product_id\":1,".into()));
        let extras = read(&broken, &mapping(), &[product("1")], &|id| contacts.contains(id), &|_| Some(1));
        assert!(extras.lines.is_empty());
        assert_eq!(extras.left_out.len(), 1);
        assert!(extras.left_out[0].2.starts_with("not a JSON array of order lines"), "{:?}", extras.left_out);
    }
}
