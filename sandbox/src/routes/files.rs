//! API v1 files: multipart upload (`file` plus one of person_id, org_id, deal_id, activity_id);
//! the sandbox keeps the metadata (name, type, size), not the bytes. A file larger than
//! [`pipedrive_api::limits::FILE_MAX_BYTES`] is refused 413 (the bound and the answer are a
//! [gap]: the spec names neither; the body is the envelope's usual error form).

use super::notes::v1_integer;
use super::{Body, Ctx};
use crate::clock;
use crate::envelope::{ApiError, ApiResult, OffsetPage, ok, ok_with};
use crate::table::Packed;
use serde_json::{Value, json};

pub fn upload(ctx: &mut Ctx) -> ApiResult {
    let Body::Multipart(form) = ctx.body else {
        return Err(ApiError::bad_request("Validation failed: body: expected multipart/form-data with a 'file' part"));
    };
    let Some((file_name, content_type, size)) = form.file.clone() else {
        return Err(ApiError::invalid("file", "is required"));
    };
    if size > pipedrive_api::limits::FILE_MAX_BYTES {
        return Err(ApiError {
            status: 413,
            body: json!({"success": false, "error": format!("File is too large: {size} bytes, at most {} are accepted", pipedrive_api::limits::FILE_MAX_BYTES), "code": "ERR_PAYLOAD_TOO_LARGE"}),
        });
    }
    let id = ctx.account.last_ids.get("files").copied().unwrap_or(0) + 1;
    let stamp = clock::v1_time(ctx.now);
    let mut record = json!({
        "id": id, "user_id": ctx.user_id, "deal_id": null, "person_id": null, "org_id": null, "product_id": null,
        "activity_id": null, "lead_id": null, "project_id": null, "add_time": stamp, "update_time": stamp,
        "file_name": file_name, "file_type": content_type, "file_size": size, "active_flag": true, "inline_flag": false,
        "remote_location": "s3", "remote_id": null, "cid": null, "s3_bucket": null, "mail_message_id": null, "mail_template_id": null,
        "deal_name": null, "person_name": null, "org_name": null, "product_name": null, "lead_name": null, "project_name": null,
        "url": format!("https://sandbox.pipedrive.com/v1/files/{id}/download"), "name": file_name, "description": null,
    });
    let mut attached = false;
    for (key, value) in &form.fields {
        let key = key.as_str();
        let (table, name_key, property) = match key {
            "person_id" => (&ctx.account.persons, "person_name", "name"),
            "org_id" => (&ctx.account.organizations, "org_name", "name"),
            "deal_id" => (&ctx.account.deals, "deal_name", "title"),
            "activity_id" => (&ctx.account.activities, "", "subject"),
            "product_id" | "lead_id" | "project_id" => {
                return Err(ApiError::invalid(
                    key,
                    format!("'{value}' does not exist (the sandbox keeps no products, leads or projects)"),
                ));
            }
            other => return Err(ApiError::invalid(other, "is not an allowed field of this request")),
        };
        let Some(target) = v1_integer(key, &json!(value))? else { continue };
        let Some(entity) = table.packed_of(target).filter(Packed::is_live) else {
            return Err(ApiError::invalid(key, format!("{} {target} does not exist", key.trim_end_matches("_id"))));
        };
        record[key] = json!(target);
        if !name_key.is_empty() {
            record[name_key] = entity.get(property);
        }
        attached = true;
    }
    if !attached {
        return Err(ApiError::bad_request(
            "Validation failed: one of deal_id, person_id, org_id, activity_id, product_id, lead_id, project_id is required",
        ));
    }
    ctx.account.next_id("files");
    ctx.account.files.insert(id, &record);
    ok(record)
}

pub fn list(ctx: &mut Ctx) -> ApiResult {
    let page = OffsetPage::from_query(ctx.query, 100)?;
    let files = &ctx.account.files;
    let live = |file: &Packed| file.get("active_flag") == json!(true);
    // Unsorted, the list is in id order: walked, only the page's files are unpacked.
    let (ids, additional) = match ctx.query.get("sort") {
        None => {
            let (walk, passed) = files.walk_at("", page.start, false);
            let (ids, additional) = page.cut(walk.filter(|(_, file)| live(file)).map(|(id, _)| id), passed);
            if let Some(last) = ids.last() {
                ctx.account.files.remember_end("", page.start + ids.len(), *last);
            }
            (ids, additional)
        }
        Some(sort) => {
            let mut parts = sort.split_whitespace();
            let key = parts.next().unwrap_or("id").to_owned();
            if key != "id" && key != "update_time" {
                return Err(ApiError::invalid("sort", "supported fields are id and update_time"));
            }
            let descending = parts.next().is_some_and(|direction| direction.eq_ignore_ascii_case("desc"));
            let mut keys: Vec<(Value, u64)> =
                files.iter().filter(|(_, file)| live(file)).map(|(id, file)| (file.get(&key), id)).collect();
            keys.sort_by(|(a, _), (b, _)| {
                let ordering = match (a, b) {
                    (Value::String(x), Value::String(y)) => x.cmp(y),
                    (x, y) => x.as_u64().cmp(&y.as_u64()),
                };
                if descending { ordering.reverse() } else { ordering }
            });
            page.cut(keys.into_iter().map(|(_, id)| id), 0)
        }
    };
    let files = &ctx.account.files;
    ok_with(Value::Array(ids.into_iter().filter_map(|id| files.get(id)).collect()), additional)
}

pub fn get(ctx: &mut Ctx) -> ApiResult {
    let id = ctx.id().map_err(|_| ApiError::not_found("File"))?;
    ok(ctx.account.files.live(id).ok_or_else(|| ApiError::not_found("File"))?)
}

pub fn delete(ctx: &mut Ctx) -> ApiResult {
    let id = ctx.id().map_err(|_| ApiError::not_found("File"))?;
    let stamp = clock::v1_time(ctx.now);
    let files = &mut ctx.account.files;
    if files.packed_of(id).is_none_or(|file| file.get("active_flag") != json!(true)) {
        return Err(ApiError::not_found("File"));
    }
    files.modify(id, |file| {
        file["active_flag"] = json!(false);
        file["update_time"] = json!(stamp);
    });
    ok(json!({"id": id}))
}
