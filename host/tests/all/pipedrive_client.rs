//! Every typed call of the Pipedrive client against the sandbox: what is written reads back the same.

use crm_migrate::pipedrive::{
    ClientError, ContactPoint, CustomValue, DealStatus, EntityKind, FieldType, Marker, NewActivity, NewDeal, NewField,
    NewFile, NewNote, NewOrganization, NewPerson, NewStage, Participant, PipedriveClient, Plan,
};
use crm_migrate_sandbox::SandboxConfig;

use crate::pipedrive_support::{client, sandbox};

/// Calls every endpoint the loader uses, checking each answer. The conformance test runs it too.
pub async fn exercise_every_call(client: &PipedriveClient) {
    let me = client.me().await.expect("users/me");
    assert!(client.users().await.unwrap().iter().any(|user| user.id == me.id));

    let types = client.activity_types().await.unwrap();
    assert!(types.iter().any(|kind| kind.key_string == "call"), "Pipedrive's default types are there");
    let demo_type = client.create_activity_type("Demo", "presentation").await.unwrap();
    assert!(demo_type.is_custom_flag);

    // Workspace: fields with options, labels, a pipeline with ordered stages.
    let person_fields = client.fields(EntityKind::Person).await.unwrap();
    let label_field = person_fields.iter().find(|field| field.field_code == "label").expect("the built-in label field");
    let labels = client
        .add_field_options(EntityKind::Person, &label_field.field_code, &["VIP".into(), "Newsletter".into()])
        .await
        .unwrap();
    let vip = labels.iter().find(|option| option.label == "VIP").and_then(|option| option.numeric_id()).unwrap();
    let marker = client
        .create_field(
            EntityKind::Person,
            &NewField { field_name: "User.com ID".into(), field_type: FieldType::Varchar, options: vec![] },
        )
        .await
        .unwrap();
    let plan_field = client
        .create_field(
            EntityKind::Person,
            &NewField {
                field_name: "Plan".into(),
                field_type: FieldType::Enum,
                options: vec!["Free".into(), "Pro".into()],
            },
        )
        .await
        .unwrap();
    let pro =
        plan_field.options.iter().find(|option| option.label == "Pro").and_then(|option| option.numeric_id()).unwrap();
    let interests = client
        .create_field(
            EntityKind::Person,
            &NewField {
                field_name: "Interests".into(),
                field_type: FieldType::Set,
                options: vec!["A".into(), "B".into(), "C".into()],
            },
        )
        .await
        .unwrap();
    let interest_ids: Vec<u64> = interests.options.iter().filter_map(|option| option.numeric_id()).take(2).collect();
    let budget = client
        .create_field(
            EntityKind::Deal,
            &NewField { field_name: "Budget".into(), field_type: FieldType::Monetary, options: vec![] },
        )
        .await
        .unwrap();
    let pipeline = client.create_pipeline("Sales").await.unwrap();
    for name in ["Lead", "Qualified", "Won"] {
        client
            .create_stage(&NewStage { name: name.into(), pipeline_id: pipeline.id, deal_probability: None })
            .await
            .unwrap();
    }
    let stages = client.stages(Some(pipeline.id)).await.unwrap();
    assert_eq!(
        stages.iter().map(|stage| stage.name.as_str()).collect::<Vec<_>>(),
        ["Lead", "Qualified", "Won"],
        "stages keep their order"
    );

    // Records, linked.
    let organization = client
        .create_organization(
            &NewOrganization { name: "Acme".into(), address: Some("1 Main St".into()), ..NewOrganization::default() },
            None,
        )
        .await
        .unwrap();
    let person = NewPerson {
        name: "Jane Doe".into(),
        org_id: Some(organization.id),
        owner_id: Some(me.id),
        emails: vec![ContactPoint::primary("jane@acme.test")],
        phones: vec![ContactPoint::primary("+48 600 100 200")],
        label_ids: vec![vip],
        add_time: Some("2021-03-04T05:06:07Z".into()),
        custom_fields: [
            (marker.field_code.clone(), CustomValue::Text("uc-1".into())),
            (plan_field.field_code.clone(), CustomValue::Option(pro)),
            (interests.field_code.clone(), CustomValue::Options(interest_ids.clone())),
        ]
        .into(),
        ..NewPerson::default()
    };
    let marker_value = Marker { field_code: marker.field_code.clone(), value: "uc-1".into() };
    let jane = client.create_person(&person, Some(&marker_value)).await.unwrap();
    let read = client.person(jane.id).await.unwrap();
    assert_eq!(read.org_id, Some(organization.id));
    assert_eq!(read.emails[0].value, "jane@acme.test");
    assert_eq!(read.label_ids, vec![vip]);
    assert_eq!(read.add_time.as_deref(), Some("2021-03-04T05:06:07Z"));
    assert_eq!(read.custom_fields[&plan_field.field_code], serde_json::json!(pro));
    assert_eq!(read.custom_fields[&interests.field_code], serde_json::json!(interest_ids));
    assert_eq!(client.find_by_field(EntityKind::Person, &marker.field_code, "uc-1").await.unwrap(), vec![jane.id]);
    assert!(
        client.find_by_field(EntityKind::Person, &marker.field_code, "UC-1").await.unwrap().is_empty(),
        "exact match is case-sensitive"
    );
    let hits = client.search_persons_by_email("JANE@acme.test").await.unwrap();
    assert_eq!(hits.iter().map(|hit| hit.id).collect::<Vec<_>>(), vec![jane.id], "email search ignores case");

    let renamed =
        client.update_person(jane.id, &NewPerson { name: "Jane Smith".into(), ..NewPerson::default() }).await.unwrap();
    assert_eq!(renamed.name, "Jane Smith");
    assert_eq!(renamed.emails.len(), 1, "a PATCH leaves the other fields alone");

    let deal = NewDeal {
        title: "Acme renewal".into(),
        person_id: Some(jane.id),
        org_id: Some(organization.id),
        pipeline_id: Some(pipeline.id),
        stage_id: Some(stages[1].id),
        value: Some(1200.5),
        currency: Some("EUR".into()),
        status: Some(DealStatus::Lost),
        lost_reason: Some("Budget".into()),
        lost_time: Some("2022-01-02T03:04:05Z".into()),
        custom_fields: [(budget.field_code.clone(), CustomValue::Money { amount: 5000.0, currency: "PLN".into() })]
            .into(),
        ..NewDeal::default()
    };
    let deal = client.create_deal(&deal, None).await.unwrap();
    let read = client.deal(deal.id).await.unwrap();
    assert_eq!(
        (read.status, read.lost_reason.as_deref(), read.stage_id),
        (Some(DealStatus::Lost), Some("Budget"), Some(stages[1].id))
    );
    assert_eq!(read.custom_fields[&budget.field_code], serde_json::json!({"value": 5000.0, "currency": "PLN"}));

    let activity = NewActivity {
        subject: "Kick-off".into(),
        type_key: demo_type.key_string.clone(),
        deal_id: Some(deal.id),
        participants: vec![Participant { person_id: jane.id, primary: true }],
        due_date: Some("2022-02-03".into()),
        due_time: Some("10:30".into()),
        duration: Some("01:00".into()),
        done: true,
        ..NewActivity::default()
    };
    let activity = client.create_activity(&activity).await.unwrap();
    let activity = client
        .update_activity(
            activity.id,
            &NewActivity { subject: "Kick-off call".into(), type_key: "call".into(), ..NewActivity::default() },
        )
        .await
        .unwrap();
    assert_eq!((activity.subject.as_deref(), activity.type_key.as_deref()), (Some("Kick-off call"), Some("call")));
    assert_eq!(
        client.activity(activity.id).await.unwrap().person_id,
        Some(jane.id),
        "the primary participant is the activity's person"
    );
    assert!(!client.activity_fields().await.unwrap().is_empty());

    let note = NewNote {
        content: "<p>Chat of 2021-03-04</p>".into(),
        person_id: Some(jane.id),
        add_time: Some("2021-03-04 05:06:07".into()),
        ..NewNote::default()
    };
    let note = client.create_note(&note).await.unwrap();
    let note = client
        .update_note(
            note.id,
            &NewNote { content: "<p>Chat of 2021-03-04, 14 messages</p>".into(), ..NewNote::default() },
        )
        .await
        .unwrap();
    assert_eq!(note.person_id, Some(jane.id), "a PUT leaves the links alone");
    assert_eq!(
        client.notes(Some(jane.id)).await.unwrap().iter().map(|note| note.id).collect::<Vec<_>>(),
        vec![note.id]
    );

    let file = NewFile {
        file_name: "contract.txt".into(),
        bytes: b"signed".to_vec(),
        deal_id: Some(deal.id),
        ..NewFile::default()
    };
    let file = client.upload_file(&file).await.unwrap();
    assert_eq!(client.files().await.unwrap().iter().map(|file| file.id).collect::<Vec<_>>(), vec![file.id]);

    // Everything can be removed again, in reverse order (what rollback does).
    client.delete_file(file.id).await.unwrap();
    client.delete_note(note.id).await.unwrap();
    client.delete_activity(activity.id).await.unwrap();
    client.delete_deal(deal.id).await.unwrap();
    client.delete_person(jane.id).await.unwrap();
    client.delete_organization(organization.id).await.unwrap();
    for stage in &stages {
        client.delete_stage(stage.id).await.unwrap();
    }
    client.delete_pipeline(pipeline.id).await.unwrap();
    client.delete_field(EntityKind::Person, &interests.field_code).await.unwrap();
    client.delete_field_options(EntityKind::Person, "label", &[vip]).await.unwrap();
    client.delete_activity_type(demo_type.id).await.unwrap();
    assert!(client.persons().await.unwrap().is_empty());
    assert!(client.deals().await.unwrap().is_empty());
    assert!(client.organizations().await.unwrap().is_empty());
    assert!(client.activities().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_round_trips_through_the_sandbox() {
    let sandbox = sandbox(SandboxConfig { burst_limit: Some(1_000), ..SandboxConfig::default() });
    let client = client(&sandbox, Plan::Growth);
    exercise_every_call(&client).await;
    assert_eq!(
        client.bill().tokens(),
        sandbox.stats().tokens_debited,
        "the client's bill matches the account's ledger"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_page_through_more_than_one_page() {
    let sandbox = sandbox(SandboxConfig { burst_limit: Some(2_000), ..SandboxConfig::default() });
    let client = client(&sandbox, Plan::Growth);
    crate::pipedrive_support::create_persons(&client, 1_100, 8, None).await;
    let before = client.bill().operations.get("getPersons").map_or(0, |bill| bill.calls);
    assert_eq!(client.persons().await.unwrap().len(), 1_100);
    assert_eq!(client.bill().operations["getPersons"].calls - before, 3, "500 per page: three pages");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v1_lists_page_by_offset_through_more_than_one_page() {
    let sandbox = sandbox(SandboxConfig { burst_limit: Some(2_000), ..SandboxConfig::default() });
    let client = client(&sandbox, Plan::Growth);
    let person = client.create_person(&NewPerson { name: "Jane".into(), ..NewPerson::default() }, None).await.unwrap();
    let mut created = Vec::new();
    for index in 0..1_001 {
        let note = NewNote { content: format!("note {index}"), person_id: Some(person.id), ..NewNote::default() };
        created.push(client.create_note(&note).await.unwrap().id);
    }
    let before = client.bill().operations.get("getNotes").map_or(0, |bill| bill.calls);
    let mut listed: Vec<u64> = client.notes(Some(person.id)).await.unwrap().iter().map(|note| note.id).collect();
    listed.sort_unstable();
    assert_eq!(listed, created, "every note once: none skipped or read twice at a page's edge");
    assert_eq!(client.bill().operations["getNotes"].calls - before, 3, "500 per page: three pages");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_write_says_what_pipedrive_said_and_a_wrong_token_is_refused() {
    let sandbox = sandbox(SandboxConfig::default());
    let client = client(&sandbox, Plan::Growth);
    let deal = NewDeal { title: "Open deal".into(), lost_reason: Some("Too early".into()), ..NewDeal::default() };
    match client.create_deal(&deal, None).await {
        Err(ClientError::Rejected { status: 400, message, .. }) => {
            assert!(message.contains("lost_reason"), "{message}")
        }
        other => panic!("expected a 400 naming lost_reason, got {other:?}"),
    }

    let mut config = crate::pipedrive_support::client_config(&sandbox, Plan::Growth);
    config.token = crm_migrate::pipedrive::ApiToken::new("wrong-token").unwrap();
    let stranger = PipedriveClient::new(config, None).unwrap();
    let error = stranger.me().await.unwrap_err();
    assert!(matches!(error, ClientError::Unauthorized), "{error}");
    assert!(!error.to_string().contains("wrong-token"), "the token never appears in an error");
}
