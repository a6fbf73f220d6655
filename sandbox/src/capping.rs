//! The account's usage limits ([`crate::SandboxConfig::account_limits`]), enforced as Pipedrive
//! answers them: custom fields per company and deals per company with 403 and a `code`
//! (`feature_capping_deals_limit` is documented on the developer docs' responses page; the
//! custom fields one follows its form), options per field and the size of a note with a 400.
//! None of it applies when the limits are not set.

use pipedrive_api::limits::{CUSTOM_FIELDS_LIMIT_CODE, DEALS_LIMIT_CODE};
use serde_json::{Value, json};

use crate::envelope::ApiError;
use crate::routes::Ctx;
use crate::store::Entity;

/// A 403 for a usage limit: the documented error envelope plus the limit's `code`.
fn capped(message: String, code: &str) -> ApiError {
    ApiError {
        status: 403,
        body: json!({"success": false, "error": message, "error_info": "Please check developers.pipedrive.com", "data": null, "additional_data": null, "code": code}),
    }
}

/// Before a custom field is created: the company's live custom fields leave room for one more.
pub fn custom_field_room(ctx: &Ctx) -> Result<(), ApiError> {
    let Some(limit) = ctx.limits.and_then(|limits| limits.custom_fields) else { return Ok(()) };
    let used = Entity::ALL
        .iter()
        .map(|entity| ctx.account.fields_of(*entity).filter(|field| field.is_custom).count() as u64)
        .sum::<u64>();
    if used >= limit {
        return Err(capped(
            format!(
                "You have reached the custom fields limit of your plan ({used} of {limit}). Upgrade your plan or delete unused custom fields."
            ),
            CUSTOM_FIELDS_LIMIT_CODE,
        ));
    }
    Ok(())
}

/// A field may hold `total` options.
pub fn options_room(ctx: &Ctx, total: usize) -> Result<(), ApiError> {
    let Some(limit) = ctx.limits.map(|limits| limits.options_per_field) else { return Ok(()) };
    if total as u64 > limit {
        return Err(ApiError::invalid(
            "options",
            format!("a field holds at most {limit} options, this one would hold {total}"),
        ));
    }
    Ok(())
}

/// Before a deal is created: the company's deals leave room for one more.
pub fn deal_room(ctx: &Ctx) -> Result<(), ApiError> {
    let Some(limit) = ctx.limits.and_then(|limits| limits.deals) else { return Ok(()) };
    let used = ctx.account.table(Entity::Deal).values().filter(|deal| deal["is_deleted"] != json!(true)).count() as u64;
    if used >= limit {
        return Err(capped(format!("You have reached the deals limit of your plan ({limit})."), DEALS_LIMIT_CODE));
    }
    Ok(())
}

/// A note's `content` (or an activity's `note`) is within the size limit.
pub fn note_size(ctx: &Ctx, field: &str, text: Option<&Value>) -> Result<(), ApiError> {
    let Some(limit) = ctx.limits.map(|limits| limits.note_bytes) else { return Ok(()) };
    let bytes = text.and_then(Value::as_str).map_or(0, str::len) as u64;
    if bytes > limit {
        return Err(ApiError::invalid(field, format!("is {bytes} bytes; a note holds at most {limit}")));
    }
    Ok(())
}
