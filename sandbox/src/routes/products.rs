//! API v2 products (`/products`: GET list, POST, GET/DELETE `{id}`; v2.yaml's Products tag) and
//! deal products (`/deals/{id}/products`: GET list, POST, DELETE `{product_attachment_id}`;
//! the DealProducts tag), in the specs' shapes: a product is a `BaseProduct` with its `prices`
//! (one per currency); a deal product carries the product's name, the deal's currency and
//! `sum` = quantity × item price. Creates answer 201, as the specs document. A deleted product
//! is soft-deleted (`is_deleted`, gone from the list, still readable by id); a deal product is
//! removed. The same product may be attached to a deal more than once, as in Pipedrive.
//! Attaching products does not change the deal's value here (Pipedrive may recalculate it).

use super::Ctx;
use crate::clock;
use crate::envelope::{ApiError, ApiResult, CursorPage, Reply};
use crate::store::Account;
use serde_json::{Map, Value, json};

const PRODUCT_KEYS: [&str; 13] = [
    "name",
    "code",
    "description",
    "unit",
    "tax",
    "category",
    "owner_id",
    "is_linkable",
    "visible_to",
    "prices",
    "custom_fields",
    "billing_frequency",
    "billing_frequency_cycles",
];
const DEAL_PRODUCT_KEYS: [&str; 14] = [
    "product_id",
    "item_price",
    "quantity",
    "tax",
    "comments",
    "discount",
    "is_enabled",
    "tax_method",
    "discount_type",
    "product_variation_id",
    "billing_frequency",
    "billing_frequency_cycles",
    "billing_start_date",
    "order_nr",
];

fn body_object(ctx: &Ctx, allowed: &[&str]) -> Result<Map<String, Value>, ApiError> {
    let body = ctx
        .body
        .json()?
        .as_object()
        .cloned()
        .ok_or_else(|| ApiError::bad_request("Validation failed: body: must be a JSON object"))?;
    if let Some(key) = body.keys().find(|key| !allowed.contains(&key.as_str())) {
        return Err(ApiError::invalid(key, "is not an allowed property of this request"));
    }
    Ok(body)
}

/// A number the spec types as `number`: a string is refused, as v2 refuses it.
fn number(body: &Map<String, Value>, key: &str, required: bool) -> Result<Option<f64>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) if required => Err(ApiError::invalid(key, "is required")),
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(number)) => Ok(number.as_f64()),
        Some(other) => Err(ApiError::invalid(key, format!("Expected 'number' but got '{other}'"))),
    }
}

fn integer(body: &Map<String, Value>, key: &str) -> Result<u64, ApiError> {
    match body.get(key) {
        Some(Value::Number(number)) => {
            number.as_u64().ok_or_else(|| ApiError::invalid(key, "must be a positive integer"))
        }
        None | Some(Value::Null) => Err(ApiError::invalid(key, "is required")),
        Some(other) => Err(ApiError::invalid(key, format!("Expected 'integer' but got '{other}'"))),
    }
}

fn product_not_found() -> ApiError {
    ApiError::entity_not_found()
}

/// The product as the API answers it (`BaseProduct` and `prices`).
fn render_product(stored: &Value) -> Value {
    let mut rendered = stored.clone();
    let id = stored["id"].clone();
    if let Some(prices) = rendered["prices"].as_array_mut() {
        for price in prices {
            price["product_id"] = id.clone();
        }
    }
    rendered
}

pub fn create_product(ctx: &mut Ctx) -> ApiResult {
    let body = body_object(ctx, &PRODUCT_KEYS)?;
    let name = match body.get("name") {
        Some(Value::String(name)) if !name.trim().is_empty() => name.clone(),
        Some(Value::String(_)) => return Err(ApiError::invalid("name", "cannot be an empty string")),
        None | Some(Value::Null) => return Err(ApiError::invalid("name", "is required")),
        Some(other) => return Err(ApiError::invalid("name", format!("Expected 'string' but got '{other}'"))),
    };
    let text = |key: &str| -> Result<Value, ApiError> {
        match body.get(key) {
            None | Some(Value::Null) => Ok(json!("")),
            Some(Value::String(text)) => Ok(json!(text)),
            Some(other) => Err(ApiError::invalid(key, format!("Expected 'string' but got '{other}'"))),
        }
    };
    let (code, description, unit) = (text("code")?, text("description")?, text("unit")?);
    let mut prices = Vec::new();
    match body.get("prices") {
        None | Some(Value::Null) => {}
        Some(Value::Array(given)) => {
            for price in given {
                let price =
                    price.as_object().ok_or_else(|| ApiError::invalid("prices", "each price must be an object"))?;
                let currency = match price.get("currency") {
                    Some(Value::String(currency)) if currency.len() == 3 => currency.to_uppercase(),
                    other => {
                        return Err(ApiError::invalid(
                            "prices.currency",
                            format!("must be a 3-letter currency code, got {other:?}"),
                        ));
                    }
                };
                let amount = number(price, "price", true)?.unwrap_or(0.0);
                if prices.iter().any(|existing: &Value| existing["currency"] == json!(currency)) {
                    return Err(ApiError::invalid(
                        "prices",
                        format!("there can only be one price per currency ({currency} twice)"),
                    ));
                }
                prices.push(json!({"price": amount, "currency": currency, "cost": number(price, "cost", false)?.unwrap_or(0.0), "direct_cost": null, "notes": ""}));
            }
        }
        Some(other) => return Err(ApiError::invalid("prices", format!("Expected 'array' but got '{other}'"))),
    }
    let id = ctx.account.next_id("products");
    let stamp = clock::rfc3339(ctx.now);
    let stored = json!({
        "id": id, "name": name, "code": code, "description": description, "unit": unit,
        "tax": number(&body, "tax", false)?.unwrap_or(0.0), "category": null, "is_deleted": false, "is_linkable": true,
        "visible_to": 3, "owner_id": ctx.user_id, "add_time": stamp, "update_time": stamp,
        "billing_frequency": "one-time", "billing_frequency_cycles": null, "prices": prices, "custom_fields": {},
    });
    ctx.account.products.insert(id, stored.clone());
    Ok(Reply { status: 201, body: json!({"success": true, "data": render_product(&stored)}) })
}

pub fn list_products(ctx: &mut Ctx) -> ApiResult {
    let page = CursorPage::from_query(ctx.query, &["id", "name", "add_time", "update_time"])?;
    let ids: Option<Vec<u64>> =
        ctx.query.get("ids").map(|ids| ids.split(',').filter_map(|id| id.trim().parse().ok()).collect());
    let products: Vec<Value> = ctx
        .account
        .products
        .values()
        .filter(|product| product["is_deleted"] != json!(true))
        .filter(|product| ids.as_ref().is_none_or(|ids| product["id"].as_u64().is_some_and(|id| ids.contains(&id))))
        .map(render_product)
        .collect();
    let (data, additional) = page.page(products);
    Ok(Reply { status: 200, body: json!({"success": true, "data": data, "additional_data": additional}) })
}

pub fn get_product(ctx: &mut Ctx) -> ApiResult {
    let id = ctx.id()?;
    let product = ctx.account.products.get(&id).ok_or_else(product_not_found)?;
    crate::envelope::ok(render_product(product))
}

pub fn delete_product(ctx: &mut Ctx) -> ApiResult {
    let id = ctx.id()?;
    let stamp = clock::rfc3339(ctx.now);
    let product = ctx.account.products.get_mut(&id).ok_or_else(product_not_found)?;
    product["is_deleted"] = json!(true);
    product["update_time"] = json!(stamp);
    crate::envelope::ok(json!({ "id": id }))
}

/// The deal of the path, live.
fn deal_of_path(ctx: &Ctx) -> Result<u64, ApiError> {
    let id = ctx.id()?;
    let deal = ctx.account.deals.packed_of(id).filter(|deal| deal.get("is_deleted") != json!(true));
    deal.map(|_| id).ok_or_else(ApiError::entity_not_found)
}

/// A deal product as the API answers it: the product's name, the deal's currency, the sum.
fn render_deal_product(account: &Account, stored: &Value) -> Value {
    let mut rendered = stored.clone();
    let product = stored["product_id"].as_u64().and_then(|id| account.products.get(&id));
    rendered["name"] = product.map_or(json!(""), |product| product["name"].clone());
    let deal = stored["deal_id"].as_u64().and_then(|id| account.deals.packed_of(id));
    rendered["currency"] = deal.map_or(json!("USD"), |deal| deal.get("currency"));
    let sum = stored["quantity"].as_f64().unwrap_or(0.0) * stored["item_price"].as_f64().unwrap_or(0.0);
    rendered["sum"] = json!(sum);
    rendered
}

pub fn add_deal_product(ctx: &mut Ctx) -> ApiResult {
    let deal_id = deal_of_path(ctx)?;
    let body = body_object(ctx, &DEAL_PRODUCT_KEYS)?;
    let product_id = integer(&body, "product_id")?;
    if Account::live(&ctx.account.products, product_id).is_none() {
        return Err(ApiError::invalid("product_id", format!("product {product_id} does not exist")));
    }
    let item_price = number(&body, "item_price", true)?.unwrap_or(0.0);
    let quantity = number(&body, "quantity", true)?.unwrap_or(0.0);
    let order_nr = ctx.account.deal_products.ids_by(deal_id).count() + 1;
    let id = ctx.account.next_id("deal_products");
    let stamp = clock::rfc3339(ctx.now);
    let stored = json!({
        "id": id, "deal_id": deal_id, "product_id": product_id, "product_variation_id": null, "order_nr": order_nr,
        "quantity": quantity, "item_price": item_price, "tax": number(&body, "tax", false)?.unwrap_or(0.0),
        "discount": number(&body, "discount", false)?.unwrap_or(0.0), "discount_type": "percentage", "tax_method": "inclusive",
        "comments": body.get("comments").and_then(Value::as_str).unwrap_or(""), "is_enabled": true,
        "add_time": stamp, "update_time": stamp,
        "billing_frequency": "one-time", "billing_frequency_cycles": null, "billing_start_date": null,
    });
    ctx.account.deal_products.insert(id, &stored);
    let data = render_deal_product(ctx.account, &stored);
    Ok(Reply { status: 201, body: json!({"success": true, "data": data}) })
}

pub fn list_deal_products(ctx: &mut Ctx) -> ApiResult {
    let deal_id = deal_of_path(ctx)?;
    let page = CursorPage::from_query(ctx.query, &["id", "add_time", "update_time", "order_nr"])?;
    let lines = &ctx.account.deal_products;
    let lines: Vec<Value> = lines
        .ids_by(deal_id)
        .filter_map(|id| lines.get(id))
        .map(|line| render_deal_product(ctx.account, &line))
        .collect();
    let (data, additional) = page.page(lines);
    Ok(Reply { status: 200, body: json!({"success": true, "data": data, "additional_data": additional}) })
}

pub fn delete_deal_product(ctx: &mut Ctx) -> ApiResult {
    let deal_id = deal_of_path(ctx)?;
    let attachment: u64 = ctx.params.get(1).and_then(|id| id.parse().ok()).ok_or_else(ApiError::entity_not_found)?;
    match ctx.account.deal_products.packed_of(attachment) {
        Some(line) if line.get("deal_id") == json!(deal_id) => {}
        _ => return Err(ApiError::entity_not_found()),
    }
    ctx.account.deal_products.remove(attachment);
    crate::envelope::ok(json!({ "id": attachment }))
}
