//! API v2 pipelines and stages: appended in order (`order_nr` is read-only), soft delete.

use super::Ctx;
use crate::clock;
use crate::envelope::{ApiError, ApiResult, CursorPage, ok, ok_with};
use crate::store::Account;
use crate::validate::{Kind, check_object, nullable, prop, query_integer, require};
use serde_json::{Value, json};

fn next_order(records: &std::collections::BTreeMap<u64, Value>, pipeline: Option<u64>) -> u64 {
    records
        .values()
        .filter(|record| pipeline.is_none_or(|pipeline| record["pipeline_id"].as_u64() == Some(pipeline)))
        .filter_map(|record| record["order_nr"].as_u64())
        .max()
        .unwrap_or(0)
        + 1
}

pub fn list_pipelines(ctx: &mut Ctx) -> ApiResult {
    let page = CursorPage::from_query(ctx.query, &["id", "update_time", "add_time"])?;
    let items = ctx.account.pipelines.values().filter(|record| record["is_deleted"] != json!(true)).cloned().collect();
    let (items, additional) = page.page(items);
    ok_with(Value::Array(items), additional)
}

pub fn get_pipeline(ctx: &mut Ctx) -> ApiResult {
    let id = ctx.id()?;
    ok(ctx.account.pipelines.get(&id).cloned().ok_or_else(ApiError::entity_not_found)?)
}

const PIPELINE_PROPS: &[crate::validate::Prop] =
    &[prop("name", Kind::String), prop("is_deal_probability_enabled", Kind::Boolean)];

pub fn create_pipeline(ctx: &mut Ctx) -> ApiResult {
    let body = ctx.body.json()?;
    let object = check_object(body, PIPELINE_PROPS, "")?;
    let name = require(object, "name")?.clone();
    let now = clock::rfc3339(ctx.now);
    let order_nr = next_order(&ctx.account.pipelines, None);
    let id = ctx.account.next_id("pipelines");
    let record = json!({
        "id": id, "name": name, "order_nr": order_nr, "is_deleted": false,
        "is_deal_probability_enabled": object.get("is_deal_probability_enabled").cloned().unwrap_or(json!(false)),
        "add_time": now, "update_time": now,
    });
    ctx.account.pipelines.insert(id, record.clone());
    ok(record)
}

pub fn update_pipeline(ctx: &mut Ctx) -> ApiResult {
    let id = ctx.id()?;
    let body = ctx.body.json()?;
    let object = check_object(body, PIPELINE_PROPS, "")?.clone();
    let now = clock::rfc3339(ctx.now);
    let record = ctx
        .account
        .pipelines
        .get_mut(&id)
        .filter(|record| record["is_deleted"] != json!(true))
        .ok_or_else(ApiError::entity_not_found)?;
    for (key, value) in object {
        record[key] = value;
    }
    record["update_time"] = json!(now);
    ok(record.clone())
}

pub fn delete_pipeline(ctx: &mut Ctx) -> ApiResult {
    let id = ctx.id()?;
    let now = clock::rfc3339(ctx.now);
    let record = ctx.account.pipelines.get_mut(&id).ok_or_else(ApiError::entity_not_found)?;
    record["is_deleted"] = json!(true);
    record["update_time"] = json!(now);
    ok(json!({"id": id}))
}

pub fn list_stages(ctx: &mut Ctx) -> ApiResult {
    let page = CursorPage::from_query(ctx.query, &["id", "update_time", "add_time", "order_nr"])?;
    let pipeline = query_integer(ctx.query, "pipeline_id")?;
    let items = ctx
        .account
        .stages
        .values()
        .filter(|record| record["is_deleted"] != json!(true))
        .filter(|record| pipeline.is_none_or(|pipeline| record["pipeline_id"].as_i64() == Some(pipeline)))
        .cloned()
        .collect();
    let (items, additional) = page.page(items);
    ok_with(Value::Array(items), additional)
}

pub fn get_stage(ctx: &mut Ctx) -> ApiResult {
    let id = ctx.id()?;
    ok(ctx.account.stages.get(&id).cloned().ok_or_else(ApiError::entity_not_found)?)
}

const STAGE_PROPS: &[crate::validate::Prop] = &[
    prop("name", Kind::String),
    prop("pipeline_id", Kind::Integer),
    prop("deal_probability", Kind::Integer),
    prop("is_deal_rot_enabled", Kind::Boolean),
    nullable("days_to_rotten", Kind::Integer),
];

fn check_pipeline(account: &Account, object: &serde_json::Map<String, Value>) -> Result<(), ApiError> {
    if let Some(pipeline) = object.get("pipeline_id").and_then(Value::as_u64)
        && Account::live(&account.pipelines, pipeline).is_none()
    {
        return Err(ApiError::invalid("pipeline_id", format!("pipeline {pipeline} does not exist")));
    }
    if let Some(probability) = object.get("deal_probability").and_then(Value::as_i64)
        && !(0..=100).contains(&probability)
    {
        return Err(ApiError::invalid("deal_probability", "must be from 0 to 100"));
    }
    Ok(())
}

pub fn create_stage(ctx: &mut Ctx) -> ApiResult {
    let body = ctx.body.json()?;
    let object = check_object(body, STAGE_PROPS, "")?;
    let name = require(object, "name")?.clone();
    let pipeline = require(object, "pipeline_id")?.as_u64().unwrap_or(0);
    check_pipeline(ctx.account, object)?;
    let now = clock::rfc3339(ctx.now);
    let order_nr = next_order(&ctx.account.stages, Some(pipeline));
    let id = ctx.account.next_id("stages");
    let record = json!({
        "id": id, "order_nr": order_nr, "name": name, "is_deleted": false,
        "deal_probability": object.get("deal_probability").cloned().unwrap_or(json!(100)),
        "pipeline_id": pipeline,
        "is_deal_rot_enabled": object.get("is_deal_rot_enabled").cloned().unwrap_or(json!(false)),
        "days_to_rotten": object.get("days_to_rotten").cloned().unwrap_or(Value::Null),
        "add_time": now, "update_time": now,
    });
    ctx.account.stages.insert(id, record.clone());
    ok(record)
}

pub fn update_stage(ctx: &mut Ctx) -> ApiResult {
    let id = ctx.id()?;
    let body = ctx.body.json()?;
    let object = check_object(body, STAGE_PROPS, "")?.clone();
    check_pipeline(ctx.account, &object)?;
    let now = clock::rfc3339(ctx.now);
    let moved_to = object.get("pipeline_id").and_then(Value::as_u64);
    let order_nr = moved_to.map(|pipeline| next_order(&ctx.account.stages, Some(pipeline)));
    let record = ctx
        .account
        .stages
        .get_mut(&id)
        .filter(|record| record["is_deleted"] != json!(true))
        .ok_or_else(ApiError::entity_not_found)?;
    if moved_to.is_some() && record["pipeline_id"].as_u64() != moved_to {
        record["order_nr"] = json!(order_nr);
    }
    for (key, value) in object {
        record[key] = value;
    }
    record["update_time"] = json!(now);
    ok(record.clone())
}

pub fn delete_stage(ctx: &mut Ctx) -> ApiResult {
    let id = ctx.id()?;
    let now = clock::rfc3339(ctx.now);
    let record = ctx.account.stages.get_mut(&id).ok_or_else(ApiError::entity_not_found)?;
    record["is_deleted"] = json!(true);
    record["update_time"] = json!(now);
    ok(json!({"id": id}))
}
