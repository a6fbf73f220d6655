//! The generated account as User.com's v2 API shows it: one function per resource, each citing
//! where its shape comes from in `shared/reference/usercom-api.md` ([doc] User.com's own pages,
//! [code] a public client, [gap] chosen here because no public source shows it).

use serde_json::{Map, Value, json};
use usercom_export_gen::AGENTS;
use usercom_export_gen::account::{
    Account, Activity, Attribute, Company, Conversation, Deal, Event, Message, Pipeline, Product, Segment, Stage, Tag,
    User, Written,
};

/// `YYYY-MM-DDTHH:MM:SSZ`: User.com's v2 answers carry ISO 8601 UTC times ([doc] the message
/// `timestamp` of https://apidocs.user.com/conversations/get-single-conversation.html; the
/// activity model's `due_date` "ISO 8601").
pub fn iso(unix: i64) -> String {
    // jiff writes a whole second in UTC as exactly that.
    jiff::Timestamp::from_second(unix).expect("the account's times are within years -9999 to 9999").to_string()
}

/// A time the export wrote; one that does not read as a time (a planted bad value) is served as
/// the text the account holds, as a string: the API path then sees the same bad value as the
/// export path ([gap]: a real account could not hold it in a datetime attribute).
fn time(written: &Written<i64>) -> Value {
    written.value.map_or_else(|| json!(written.text), |unix| json!(iso(unix)))
}

fn maybe_time(written: &Option<Written<i64>>) -> Value {
    written.as_ref().map_or(Value::Null, time)
}

/// A typed value, or the planted text that does not read as the type (see [`time`]).
fn typed<T: serde::Serialize>(written: &Written<T>) -> Value {
    written.value.as_ref().map_or_else(|| json!(written.text), |value| json!(value))
}

/// Tags as `[{id, name}]` ([code] keghub `User.cs`; [doc] the v1 deals example `tags:[{id,name}]`).
fn tags(account: &Account, names: &[&str]) -> Value {
    Value::Array(
        names
            .iter()
            .map(|name| {
                let id = account.tags.iter().find(|tag| tag.name == *name).map(|tag| tag.id);
                json!({"id": id, "name": name})
            })
            .collect(),
    )
}

/// The agents (the account's User.com staff): ids 1, 2, 3 in `AGENTS`' order. [gap] the agent
/// ids of a real account come from its staff list, which the reference does not cover.
pub fn agent_id(email: &str) -> Option<u64> {
    AGENTS.iter().position(|agent| *agent == email).map(|at| at as u64 + 1)
}

/// `assigned_to` is the agent's id ([doc] user, deal and activity models); beside it `agent`
/// names the agent by email, so that a migration can map agents to Pipedrive users ([gap]: the v2
/// deals example has an `agent` key whose shape the reference does not show).
fn assignment(object: &mut Map<String, Value>, email: Option<&str>) {
    object.insert("assigned_to".into(), json!(email.and_then(agent_id)));
    object.insert(
        "agent".into(),
        email.map_or(Value::Null, |email| json!({"id": agent_id(email), "email": email, "name": email})),
    );
}

/// A contact ([doc] https://apidocs.user.com/users-custom-id/user-model.html and [code] keghub
/// `User.cs`). Custom attributes are flattened onto the object as top-level keys by their
/// `name_std`, as v2 does for deals ([doc] get-deals-by-user.html; the reference expects the same
/// for users). The billing signals the export has (`last_heard`, `web_push_subscription`,
/// `fcm_key`) are served under the export's names: [gap], the user model page is truncated
/// before them.
pub fn user(account: &Account, user: &User) -> Value {
    let name = match (user.first_name, user.last_name) {
        (Some(first), Some(last)) => Some(format!("{first} {last}")),
        _ => None,
    };
    json!({
        "id": user.id,
        "custom_id": user.custom_id,
        "key": user.key,
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "name": name,
        "phone_number": user.phone_number,
        "gender": user.gender,
        "status": user.status,
        "company_id": user.company_id,
        "city": user.city,
        "country": user.country,
        "unsubscribed": typed(&user.unsubscribed),
        "created_at": time(&user.created_at),
        "updated_at": iso(user.updated_at),
        "last_seen": time(&user.last_seen),
        "last_heard": maybe_time(&user.last_heard),
        "web_push_subscription": user.web_push_subscription,
        "fcm_key": user.fcm_key,
        "score": user.score,
        "browser": user.browser,
        "tags": user.tags.as_deref().map_or(Value::Null, |names| tags(account, names)),
        // Custom attributes, flattened.
        "industry_segment": user.industry_segment,
        "interests": user.interests.as_ref().map_or(Value::Null, typed),
        "lifetime_value": user.lifetime_value.parse::<f64>().map_or_else(|_| json!(user.lifetime_value), |v| json!(v)),
        "orders_count": typed(&user.orders_count),
        "newsletter_opt_in": typed(&user.newsletter_opt_in),
        "birthday": user.birthday,
        "trial_ends_at": maybe_time(&user.trial_ends_at),
        // Values of attributes the account never defined (the export's undefined columns).
        "referral_code": user.referral_code,
        "loyalty_member": typed(&user.loyalty_member),
    })
}

/// A company ([code] keghub `UserComClient.Crm.cs` for the endpoints; the fields are the
/// export's; [gap] the parent company as `parent_company_id`, which no public source names).
pub fn company(account: &Account, company: &Company) -> Value {
    json!({
        "id": company.id,
        "name": company.name,
        "phone_number": company.phone_number,
        "email": company.email,
        "city": company.city,
        "country": company.country,
        "created_at": time(&company.created_at),
        "updated_at": iso(company.updated_at),
        "tags": company.tags.as_deref().map_or(Value::Null, |names| tags(account, names)),
        "parent_company_id": company.parent_id,
        // Custom attributes, flattened.
        "nip": company.nip,
        "employees": typed(&company.employees),
    })
}

/// A deal, v2 ([doc] https://apidocs.user.com/deals/deal-model.html and the v2 example of
/// https://apidocs.user.com/deals/get-deals-by-user.html): `value` a string, `status` an int,
/// custom attributes flattened as top-level keys, `participants` user ids, `products` product
/// ids, `order_products` `[{product_id, quantity, value, currency}]` ([gap] whether `value` is the
/// unit or the line price: here the unit price, as a string like the deal's own value).
pub fn deal(account: &Account, deal: &Deal) -> Value {
    let mut object = json!({
        "id": deal.id,
        "custom_id": null,
        "name": deal.name,
        "value": deal.value,
        "currency": deal.currency,
        "status": deal.status,
        "pipeline": deal.pipeline,
        "stage": deal.stage,
        "user_id": deal.user_id,
        "company_id": deal.company_id,
        "created_at": time(&deal.created_at),
        "updated_at": iso(deal.updated_at),
        "expected_close_date": deal.expected_close_date,
        "won_at": maybe_time(&deal.won_at),
        "lost_at": maybe_time(&deal.lost_at),
        "loss_reason": null,
        "tags": tags(account, &deal.tags),
        "participants": deal.participants,
        "products": deal.order_products.iter().map(|line| line.product_id).collect::<Vec<_>>(),
        "order_products": deal.order_products.iter().map(|line| json!({
            "product_id": line.product_id,
            "quantity": line.quantity,
            "value": line.value,
            "currency": line.currency,
        })).collect::<Vec<_>>(),
        // Custom attributes, flattened.
        "contract_type": deal.contract_type,
    });
    assignment(object.as_object_mut().expect("an object"), deal.assigned_to);
    object
}

/// An activity ([doc] https://apidocs.user.com/activities/activity-model.html).
pub fn activity(activity: &Activity) -> Value {
    let mut object = json!({
        "id": activity.id,
        "custom_id": null,
        "name": activity.name,
        "activity_type": activity.activity_type,
        "deal_id": activity.deal_id,
        "user_id": activity.user_id,
        "company_id": activity.company_id,
        "description": activity.description,
        "done": typed(&activity.done),
        "due_date": iso(activity.due_date),
        "created_at": time(&activity.created_at),
        "updated_at": iso(activity.updated_at),
        "duration": activity.duration,
    });
    assignment(object.as_object_mut().expect("an object"), activity.assigned_to);
    object
}

/// A tracked event of a user: the documented write shape `{user_id, name, timestamp (unix s),
/// data}` ([code] Magento2 plugin, conversion-ai snippet) with its id; [gap] the read shape of
/// `users/{id}/events/` is not documented, this is the write shape read back.
pub fn event(event: &Event) -> Value {
    let data: Value = serde_json::from_str(&event.data).unwrap_or_else(|_| json!(event.data));
    json!({"id": event.id, "user_id": event.user_id, "name": event.name, "timestamp": event.timestamp, "data": data})
}

/// The `user` object of conversations and messages: `{key, id, email, name}` ([doc]
/// get-single-conversation.html).
fn conversation_user(account: &Account, id: u64) -> Value {
    let user = account.user(id);
    json!({
        "key": user.map(|user| user.key.clone()),
        "id": id,
        "email": user.and_then(|user| user.email.clone()),
        "name": user.and_then(|user| user.email.clone()),
    })
}

/// The agent who answers in chats. [gap] the export does not say which agent wrote a message; the
/// sandbox names the account's first agent, with `key: null` as the documented agent message has.
fn chat_agent() -> Value {
    json!({"key": null, "id": 1, "email": AGENTS[0], "name": AGENTS[0]})
}

/// One of a user's conversations in `users/{id}/conversations/`: `{id, user, active, agent,
/// messages: <count>}` ([doc] https://user.com/en/api/conversations/get-user-conversations).
pub fn conversation_summary(account: &Account, conversation: &Conversation) -> Value {
    json!({
        "id": conversation.id,
        "user": conversation_user(account, conversation.user_id),
        "active": false,
        "agent": null,
        "messages": conversation.messages.len(),
    })
}

/// `conversations/{id}/`: the conversation with its messages, `{active, messages: [{user,
/// content, chat, source, source_context, id, timestamp}], user, id, agent}` ([doc]
/// https://apidocs.user.com/conversations/get-single-conversation.html; the page wraps it in the
/// list envelope with `results` an object and `count` 1, and so does the sandbox).
pub fn conversation(account: &Account, conversation: &Conversation) -> Value {
    let messages: Vec<Value> =
        conversation.messages.iter().map(|message| self::message(account, conversation, message)).collect();
    json!({
        "active": false,
        "messages": messages,
        "user": conversation_user(account, conversation.user_id),
        "id": conversation.id,
        "agent": null,
    })
}

fn message(account: &Account, conversation: &Conversation, message: &Message) -> Value {
    json!({
        "user": if message.from_user { conversation_user(account, conversation.user_id) } else { chat_agent() },
        "content": message.content,
        "chat": conversation.id,
        "source": message.source,
        "source_context": {},
        "id": message.id,
        "timestamp": iso(message.timestamp),
    })
}

/// `{id, name}` ([code] keghub `UserComClient.Tags.cs`).
pub fn tag(tag: &Tag) -> Value {
    json!({"id": tag.id, "name": tag.name})
}

/// `{id, name, description, users: <url>, object_count, too_heavy, update_interval, last_counted,
/// updated_at}` ([doc] https://apidocs.user.com/segments/list-all-user-segments.html). The rules
/// are not part of the documented shape, so the API does not give them.
pub fn segment(segment: &Segment, base: &str) -> Value {
    json!({
        "id": segment.id,
        "name": segment.name,
        "description": segment.description,
        "users": format!("{base}/api/public/segments/{}/users/", segment.id),
        "object_count": segment.object_count,
        "too_heavy": false,
        "update_interval": null,
        "last_counted": null,
        "updated_at": null,
    })
}

/// `{id, name, name_std, value_type, content_type}` ([code] keghub `Attribute.cs`).
pub fn attribute(attribute: &Attribute) -> Value {
    json!({
        "id": attribute.id,
        "name": attribute.name,
        "name_std": attribute.name_std,
        "value_type": attribute.value_type,
        "content_type": attribute.content_type,
    })
}

/// [gap] `pipelines/` is listed in the reference without its page: `{id, name}`, the fields
/// pipelines.csv has.
pub fn pipeline(pipeline: &Pipeline) -> Value {
    json!({"id": pipeline.id, "name": pipeline.name})
}

/// `{id, name, description, pipeline, order}` ([doc] https://apidocs.user.com/stages/create-stage.html,
/// the create answer); [gap] the list `GET stages/` is not documented.
pub fn stage(stage: &Stage) -> Value {
    json!({"id": stage.id, "name": stage.name, "description": "", "pipeline": stage.pipeline, "order": stage.order})
}

/// [gap] `products/` is known from the Magento plugin's calls only: `{id, name, price, currency}`,
/// the fields of products.csv.
pub fn product(product: &Product) -> Value {
    json!({"id": product.id, "name": product.name, "price": product.price, "currency": product.currency})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_times_are_utc_with_a_z() {
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso(1_638_344_475), "2021-12-01T07:41:15Z");
        assert_eq!(iso(1_709_251_199), "2024-02-29T23:59:59Z");
    }
}
