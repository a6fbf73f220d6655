//! Side effects in the target: plan reads the account's webhooks and predicts, by event, the
//! deliveries the load makes to each; the sandbox counts the deliveries it would have made while
//! apply runs (it calls no one), and they are what plan predicted. Plan and the handoff tell the
//! admin to pause workflow automations, which the API cannot list.

use std::collections::BTreeMap;

use crm_migrate::pipedrive::{NewWebhook, Plan};
use crm_migrate_sandbox::SandboxConfig;
use serde_json::Value;

use crate::apply::{apply, fast};
use crate::plan::{in_project, migrate_duplicates_as_they_are, text};

#[test]
fn webhooks_fire_during_the_load_as_many_times_as_plan_predicted() {
    let _machine = crate::support::heavy();
    let sandbox = fast(SandboxConfig::default());
    let client = crate::pipedrive_support::client(&sandbox, Plan::Growth);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let webhook = |name: &str, action: &str, object: &str, version: Option<&str>| {
        let new = NewWebhook {
            subscription_url: format!("https://hooks.example.com/{name}"),
            event_action: action.to_owned(),
            event_object: object.to_owned(),
            name: name.to_owned(),
            version: version.map(str::to_owned),
        };
        runtime.block_on(client.create_webhook(&new)).unwrap().id
    };
    let hooks = [
        webhook("new-people", "create", "person", None),
        webhook("deals", "*", "deal", None),
        webhook("orgs-v1", "create", "organization", Some("1.0")),
        webhook("products", "create", "product", None),
        webhook("stages", "create", "stage", None),
        webhook("everything", "*", "*", None),
        webhook("deletions", "delete", "person", None),
    ];

    let dir = tempfile::tempdir().unwrap();
    let (export, _) = crate::deal_products::variant(dir.path(), 12);
    let project = dir.path().join("zubr");
    crate::plan::init_on_sandbox(&project, &export, &sandbox);
    migrate_duplicates_as_they_are(&project);
    let planned = in_project(&project, &["plan"]);
    assert!(planned.status.success(), "{}\n{}", text(&planned.stdout), text(&planned.stderr));
    let plan: Value =
        serde_json::from_str(&std::fs::read_to_string(project.join("reports/plan.json")).unwrap()).unwrap();
    let predicted: BTreeMap<u64, BTreeMap<String, u64>> = plan["side_effects"]["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|firing| (firing["id"].as_u64().unwrap(), serde_json::from_value(firing["deliveries"].clone()).unwrap()))
        .collect();
    assert_eq!(predicted.len(), hooks.len(), "every webhook of the account is listed: {plan:#}");
    assert!(
        predicted[&hooks[0]]["create.person"] > 0 && predicted[&hooks[2]]["added.organization"] > 0,
        "{predicted:?}"
    );
    assert!(predicted[&hooks[3]]["create.product"] == 3, "the three products the lines use: {predicted:?}");
    assert!(predicted[&hooks[6]].is_empty(), "a load deletes nothing: {predicted:?}");
    let markdown = std::fs::read_to_string(project.join("reports/plan.md")).unwrap();
    assert!(markdown.contains("## Side effects in the target"), "{markdown}");
    assert!(markdown.contains("workflow automations") && markdown.contains("does not list automations"), "{markdown}");
    assert!(markdown.contains("new-people") && markdown.contains("create.person ×"), "{markdown}");

    let approved = in_project(&project, &["approve", "--yes", "--by", "test"]);
    assert!(approved.status.success(), "{}", text(&approved.stderr));
    let before = sandbox.stats().webhook_deliveries;
    assert!(before.is_empty(), "creating webhooks delivers nothing: {before:?}");
    apply(&project, &[]);
    let delivered = sandbox.stats().webhook_deliveries;
    for id in hooks {
        assert_eq!(
            delivered.get(&id).cloned().unwrap_or_default(),
            predicted[&id],
            "webhook {id}: the sandbox's deliveries are plan's prediction"
        );
    }

    let report = in_project(&project, &["report"]);
    assert!(report.status.success(), "{}", text(&report.stderr));
    let summary = std::fs::read_to_string(project.join("reports/handoff/summary.md")).unwrap();
    assert!(summary.contains("Side effects during the load") && summary.contains("new-people"), "{summary}");
    assert!(summary.contains("workflow automations"), "{summary}");
}
