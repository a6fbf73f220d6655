//! What the load sets off in the target: every record apply creates fires the account's
//! workflow automations, webhooks and notifications as if a person had made it. Plan reads the
//! account's webhooks (`GET /v1/webhooks`, 10 tokens) and says which fire how many times during
//! the load, by event (`create.person`, or `added.person` for a version 1.0 webhook), from the
//! plan's own counts; workflow automations cannot be read through the API, so plan says to pause
//! them. The handoff repeats it from `plan.json`.

use std::collections::BTreeMap;

use pipedrive_api::webhooks::{Action, event_name, fires};
use serde::Serialize;

use crate::pipedrive::{ClientError, PipedriveClient, Webhook};
use crate::plan::changes::WorkspaceChanges;
use crate::plan::deal_products::DealProductsPlan;
use crate::plan::limits::LimitsCheck;
use crate::profile::SourceProfile;
use crate::record::ObjectKind;
use crate::report::{Document, Table, Text, value, words};

/// What to tell the admin about workflow automations, which the API does not list.
pub const AUTOMATIONS: &str = "Pause the account's workflow automations (Settings > Automations) for the load, and turn off email notifications of new records for the users records are assigned to: each record created fires them as if a person had made it. Pipedrive's API does not list automations, so plan cannot say which would fire.";

/// One webhook and the deliveries the load would make to it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Firing {
    pub id: u64,
    pub name: String,
    pub subscription_url: String,
    /// `event_action.event_object` as the webhook subscribes (`*.deal`).
    pub subscribed: String,
    pub active: bool,
    /// Deliveries by event, as the webhook names it.
    pub deliveries: BTreeMap<String, u64>,
    pub total: u64,
}

/// Plan's word on side effects.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct SideEffects {
    /// Records the load creates, by webhook object (`person`, `deal`, ...).
    pub creates: BTreeMap<String, u64>,
    pub webhooks: Vec<Firing>,
    /// Why the webhooks could not be read (None: they were).
    pub webhooks_unreadable: Option<String>,
    pub automations: String,
}

/// Records apply creates, by the object webhooks name, from the plan's counts: every record of
/// the export (those apply quarantines fire nothing, so these are at most), the notes long
/// conversations are split into, the pipelines, stages and products it creates.
pub fn creates(
    profile: &SourceProfile,
    changes: &WorkspaceChanges,
    limits: &LimitsCheck,
    deal_products: &DealProductsPlan,
) -> BTreeMap<&'static str, u64> {
    let extra_parts: u64 = limits.splits.iter().map(|split| split.parts.saturating_sub(1)).sum();
    [
        ("organization", profile.records(ObjectKind::Company)),
        ("person", profile.records(ObjectKind::Contact)),
        ("deal", profile.records(ObjectKind::Deal)),
        ("activity", profile.records(ObjectKind::Activity) + profile.records(ObjectKind::Event)),
        ("note", profile.conversations + extra_parts),
        ("pipeline", changes.pipelines_to_create.len() as u64),
        ("stage", changes.stages_to_create.len() as u64),
        ("product", deal_products.products_to_create.len() as u64),
    ]
    .into_iter()
    .filter(|(_, count)| *count > 0)
    .collect()
}

/// Reads the webhooks; a refusal (a token without admin rights) is said, not an error.
pub async fn read_webhooks(client: &PipedriveClient) -> Result<Result<Vec<Webhook>, String>, ClientError> {
    match client.webhooks().await {
        Ok(webhooks) => Ok(Ok(webhooks)),
        Err(ClientError::Rejected { status, message, .. }) => {
            Ok(Err(format!("Pipedrive answered {status}: {message}")))
        }
        Err(ClientError::NotFound { .. }) => Ok(Err("Pipedrive answered 404".to_owned())),
        Err(error) => Err(error),
    }
}

/// Which webhooks fire how often for `creates`.
pub fn predict(webhooks: Result<Vec<Webhook>, String>, creates: BTreeMap<&'static str, u64>) -> SideEffects {
    let mut effects = SideEffects { automations: AUTOMATIONS.to_owned(), ..SideEffects::default() };
    match webhooks {
        Ok(webhooks) => {
            for webhook in webhooks {
                let mut deliveries = BTreeMap::new();
                if webhook.is_active {
                    for (object, count) in &creates {
                        if fires(&webhook.event_action, &webhook.event_object, Action::Create, object) {
                            let event = event_name(webhook.version.as_deref(), Action::Create, object);
                            *deliveries.entry(event).or_default() += count;
                        }
                    }
                }
                effects.webhooks.push(Firing {
                    id: webhook.id,
                    name: webhook.name.clone().unwrap_or_default(),
                    subscription_url: webhook.subscription_url.clone(),
                    subscribed: format!("{}.{}", webhook.event_action, webhook.event_object),
                    active: webhook.is_active,
                    total: deliveries.values().sum(),
                    deliveries,
                });
            }
        }
        Err(why) => effects.webhooks_unreadable = Some(why),
    }
    effects.creates = creates.into_iter().map(|(object, count)| (object.to_owned(), count)).collect();
    effects
}

pub fn deliveries_text(firing: &Firing) -> String {
    if !firing.active {
        return "none (inactive)".to_owned();
    }
    if firing.deliveries.is_empty() {
        return "none".to_owned();
    }
    firing.deliveries.iter().map(|(event, count)| format!("{event} × {count}")).collect::<Vec<_>>().join(", ")
}

pub fn webhooks_intro(effects: &SideEffects) -> Text {
    match (&effects.webhooks_unreadable, effects.webhooks.iter().filter(|firing| firing.total > 0).count()) {
        // Why they could not be read comes from the account's answer: a value, escaped.
        (Some(why), _) => words("The account's webhooks could not be read (").value(why).words(
            "): check Settings > Webhooks (an admin's token lists them) and pause those the new records would fire.",
        ),
        (None, 0) => words("No webhook of the account fires for the records the load creates."),
        (None, firing) => words(format!(
            "{firing} of the account's {} webhooks fire during the load, each once per record: delete them or point them elsewhere for the load, or warn whoever receives them. Adding products to deals changes the deals (their value), which may fire change.deal as well.",
            effects.webhooks.len()
        )),
    }
}

/// plan.md's section. Webhook names and URLs are the account's: escaped.
pub fn section(doc: &mut Document, effects: &SideEffects) {
    doc.section("Side effects in the target");
    doc.paragraph(words(effects.automations.clone()));
    doc.paragraph(webhooks_intro(effects));
    if !effects.webhooks.is_empty() {
        let mut table = Table::new(["Webhook", "Subscribed to", "URL", "Deliveries during the load"]);
        for firing in &effects.webhooks {
            table.row([
                words(format!("{} ", firing.id)).value(&firing.name),
                value(&firing.subscribed),
                value(&firing.subscription_url),
                words(deliveries_text(firing)),
            ]);
        }
        doc.table(table);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_webhooks_answer_reaches_plan_md_escaped() {
        let effects = SideEffects {
            creates: BTreeMap::new(),
            webhooks: Vec::new(),
            webhooks_unreadable: Some("403 <script>alert(1)</script> | \u{1b}[2J".into()),
            automations: String::new(),
        };
        let mut doc = Document::new("plan");
        section(&mut doc, &effects);
        let markdown = doc.markdown();
        assert!(markdown.contains("could not be read"), "{markdown}");
        assert!(!markdown.contains("<script>") && !markdown.contains('\u{1b}'), "{markdown}");
    }
}
