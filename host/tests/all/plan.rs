//! `plan`, `approve` and the apply gate on the sample export, against a sandbox that already has
//! some of what the export needs: users for two of the three agents, custom fields, a pipeline
//! with two of its stages, a label. The CLI runs as a user runs it; the sandbox is in-process.

use std::path::{Path, PathBuf};
use std::process::Output;

use crm_migrate::mapping::file::parse;
use crm_migrate::mapping::{Landing, Mapping};
use crm_migrate::pipedrive::{EntityKind, FieldType, NewField, NewStage, Plan};
use crm_migrate_sandbox::{SandboxConfig, SandboxHandle, UserSeed};
use serde_json::Value;

use crate::extract::{planted, sample_export};
use crate::pipedrive_support::{TOKEN, client, sandbox};

fn user(name: &str, email: &str, is_admin: bool) -> UserSeed {
    UserSeed { name: name.into(), email: email.into(), is_admin }
}

/// A sandbox account a person set up before the migration.
fn prepared_sandbox() -> SandboxHandle {
    prepared_sandbox_with(SandboxConfig::default())
}

/// The prepared account, on a sandbox configured as given (its users are replaced).
pub fn prepared_sandbox_with(config: SandboxConfig) -> SandboxHandle {
    let sandbox = sandbox(SandboxConfig {
        users: vec![
            user("Admin", "admin@zubrshop.pl", true),
            user("Anna Nowak", "anna.nowak@zubrshop.pl", false),
            user("Piotr Zieliński", "piotr.zielinski@zubrshop.pl", false),
        ],
        ..config
    });
    let client = client(&sandbox, Plan::Growth);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let field = |name: &str, field_type, options: &[&str]| NewField {
            field_name: name.into(),
            field_type,
            options: options.iter().map(|o| o.to_string()).collect(),
        };
        client
            .create_field(
                EntityKind::Person,
                &field("Industry segment", FieldType::Enum, &["retail", "services", "manufacturing"]),
            )
            .await
            .unwrap();
        client.create_field(EntityKind::Person, &field("Score", FieldType::Double, &[])).await.unwrap();
        client.create_field(EntityKind::Organization, &field("NIP", FieldType::Varchar, &[])).await.unwrap();
        let pipeline = client.create_pipeline("Sprzedaż").await.unwrap();
        for stage in ["Nowy lead", "Kwalifikacja"] {
            client
                .create_stage(&NewStage { name: stage.into(), pipeline_id: pipeline.id, deal_probability: None })
                .await
                .unwrap();
        }
        client.add_field_options(EntityKind::Person, "label", &["VIP".to_string()]).await.unwrap();
    });
    sandbox
}

/// `crm-migrate init` of a project on the sample export, pointed at the sandbox.
pub fn project(sandbox: &SandboxHandle, plan: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("zubr");
    let output = run(&[
        "init",
        project.to_str().unwrap(),
        "--export",
        sample_export().to_str().unwrap(),
        "--pipedrive",
        &sandbox.url(),
        "--plan",
        plan,
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    migrate_duplicates_as_they_are(&project);
    (dir, project)
}

/// Says `dedup = "none"` in the project's migration.toml: its duplicate contacts go to Pipedrive
/// one person each, decided, so plan does not stop at them (the tests that use it look at
/// other things; `plan_leaves_duplicates_to_a_person` looks at this one).
/// `init PROJECT --export EXPORT --pipedrive <the sandbox> --plan premium`, which must succeed.
pub fn init_on_sandbox(project: &Path, export: &Path, sandbox: &SandboxHandle) {
    let output = run(&[
        "init",
        project.to_str().unwrap(),
        "--export",
        export.to_str().unwrap(),
        "--pipedrive",
        &sandbox.url(),
        "--plan",
        "premium",
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
}

pub fn migrate_duplicates_as_they_are(project: &Path) {
    let path = project.join("migration.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.trim_end().ends_with("# dedup = \"none\""), "[options] ends the file:\n{text}");
    std::fs::write(&path, format!("{text}dedup = \"none\"\n")).unwrap();
}

pub fn run(args: &[&str]) -> Output {
    let cache = tempfile::tempdir().unwrap();
    crate::support::crm_migrate()
        .args(args)
        .env("CRM_MIGRATE_CACHE_DIR", cache.path())
        .env("PIPEDRIVE_API_TOKEN", TOKEN)
        .output()
        .expect("the binary runs")
}

pub fn in_project(project: &Path, args: &[&str]) -> Output {
    run(&[&["-C", project.to_str().unwrap()], args].concat())
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn mapping_text(project: &Path) -> String {
    std::fs::read_to_string(project.join("mapping.toml")).unwrap()
}

fn mapping(project: &Path) -> Mapping {
    parse(&mapping_text(project)).unwrap_or_else(|errors| panic!("{errors:?}"))
}

fn plan_json(project: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(project.join("reports/plan.json")).unwrap()).unwrap()
}

/// Each entry as `object.attribute = to[:field][:type]`.
fn landings(mapping: &Mapping) -> Vec<String> {
    mapping
        .fields
        .iter()
        .map(|entry| {
            let to = match &entry.landing {
                Landing::Standard { code } => code.clone(),
                Landing::Existing { field, .. } => format!("existing:{field}"),
                Landing::New { field, ty, .. } => format!("new:{field}:{}", ty.as_str()),
                Landing::Skip { .. } => "skip".into(),
            };
            format!("{} = {to}", entry.key())
        })
        .collect()
}

/// Where every attribute of the sample should land, read from its files and attributes.csv.
const EXPECTED_LANDINGS: &[&str] = &[
    "contact.user_id = new:User.com custom ID:varchar",
    "contact.key = skip",
    "contact.email = emails",
    "contact.first_name = first_name",
    "contact.last_name = last_name",
    "contact.phone_number = phones",
    "contact.gender = new:Gender:enum",
    "contact.status = new:User.com status:enum",
    "contact.company_id = org_id",
    "contact.city = new:City:varchar",
    "contact.country = new:Country:varchar",
    // The account has no Campaigns (no marketing status), so the opt-out is kept in a field.
    "contact.unsubscribed = new:Unsubscribed (User.com):enum",
    "contact.created_at = add_time",
    // Datetimes with times of day: a date field plus a time field.
    "contact.last_seen = new:Last seen:date+time",
    "contact.last_heard = new:Last heard:date+time",
    "contact.web_push_subscription = skip",
    "contact.fcm_key = skip",
    "contact.tags = label",
    "contact.score = existing:Score",
    "contact.industry_segment = existing:Industry segment",
    "contact.interests = new:Interests:set",
    "contact.lifetime_value = new:Lifetime value:monetary",
    "contact.orders_count = new:Orders count:double",
    "contact.newsletter_opt_in = new:Newsletter opt-in:enum",
    "contact.birthday = new:Birthday:date",
    "contact.trial_ends_at = new:Trial ends at:date+time",
    "contact.referral_code = new:Referral code:varchar",
    "contact.loyalty_member = new:Loyalty member:enum",
    "company.name = name",
    "company.phone_number = new:Phone number:phone",
    "company.email = new:Email:varchar",
    "company.city = address",
    "company.country = address",
    "company.created_at = add_time",
    "company.tags = label",
    "company.nip = existing:NIP",
    "company.employees = new:Employees:double",
    "deal.name = title",
    "deal.value = value",
    "deal.currency = currency",
    "deal.status = status",
    "deal.pipeline_id = pipeline_id",
    "deal.stage_id = stage_id",
    "deal.contact_id = person_id",
    "deal.company_id = org_id",
    // Pipedrive's v2 API takes no add_time on deals.
    "deal.created_at = new:Created in User.com:date+time",
    "deal.expected_close_date = expected_close_date",
    "deal.won_at = won_time",
    "deal.lost_at = lost_time",
    "deal.tags = label",
    "deal.contract_type = new:Contract type:enum",
    "deal.assigned_to = owner_id",
    "activity.name = subject",
    "activity.activity_type = type",
    "activity.deal_id = deal_id",
    "activity.contact_id = participants",
    "activity.company_id = org_id",
    "activity.description = note",
    "activity.done = done",
    "activity.due_date = due_date",
    "activity.created_at = note",
    "activity.duration = duration",
    "activity.assigned_to = owner_id",
    "event.name = subject",
    "event.contact_id = participants",
    "event.timestamp = due_date",
    "event.data = note",
    "conversation.conversation_id = conversation",
    "conversation.contact_id = person_id",
    "conversation.sender = author_role",
    "conversation.content = content",
    "conversation.timestamp = add_time",
    "conversation.source = channel",
];

#[test]
fn plan_reuses_what_the_workspace_has_proposes_the_rest_and_bills_it() {
    let _machine = crate::support::heavy();
    let sandbox = prepared_sandbox();
    let writes_before = sandbox.stats().writes_applied;
    let (_dir, project) = project(&sandbox, "growth");
    let output = in_project(&project, &["plan"]);
    assert!(output.status.success(), "{}\n{}", text(&output.stdout), text(&output.stderr));
    assert_eq!(sandbox.stats().writes_applied, writes_before, "plan writes nothing to Pipedrive");

    let mapping = mapping(&project);
    assert_eq!(landings(&mapping), EXPECTED_LANDINGS);
    let industry = mapping.field(crm_migrate::record::ObjectKind::Contact, "industry_segment").unwrap();
    assert!(industry.why.iter().any(|why| why.contains("name match")), "{:?}", industry.why);
    // A number or a text field the account has takes any value: no options to add to it.
    for (kind, attribute) in
        [(crm_migrate::record::ObjectKind::Contact, "score"), (crm_migrate::record::ObjectKind::Company, "nip")]
    {
        let entry = mapping.field(kind, attribute).unwrap();
        assert!(entry.why.iter().any(|why| why.contains("name match")), "{attribute}: {:?}", entry.why);
        assert!(!entry.why.iter().any(|why| why.contains("options to add")), "{attribute}: {:?}", entry.why);
    }
    let monetary = mapping.field(crm_migrate::record::ObjectKind::Contact, "lifetime_value").unwrap();
    assert!(
        matches!(&monetary.landing, Landing::New { currency: Some(c), .. } if c == "PLN"),
        "money in the deals' main currency"
    );
    assert!(monetary.needs_review(), "a guessed currency is for a person to confirm");

    let agents: Vec<(&str, &str)> = mapping.agents.iter().map(|a| (a.source.as_str(), a.target.as_str())).collect();
    assert_eq!(
        agents,
        [
            ("anna.nowak@zubrshop.pl", "anna.nowak@zubrshop.pl"),
            ("katarzyna.lis@zubrshop.pl", "default"),
            ("piotr.zielinski@zubrshop.pl", "piotr.zielinski@zubrshop.pl")
        ]
    );
    assert_eq!(
        mapping.default_owner.target, "admin@zubrshop.pl",
        "the admin, when migration.toml names no default owner"
    );
    let statuses: Vec<(&str, &str)> =
        mapping.deal_status.iter().map(|c| (c.source.as_str(), c.target.as_str())).collect();
    assert_eq!(
        statuses,
        [("abandoned", "lost"), ("in_progress", "open"), ("won", "won"), ("lost", "lost"), ("archived", "lost")]
    );
    let types: Vec<(&str, &str)> =
        mapping.activity_types.iter().map(|c| (c.source.as_str(), c.target.as_str())).collect();
    assert_eq!(
        types,
        [("25946", "call"), ("25947", "meeting"), ("25948", "email"), ("25949", "task")],
        "Telefon, Spotkanie, E-mail, Zadanie"
    );
    assert_eq!(mapping.event_activity_type.target, "meeting");

    let plan = plan_json(&project);
    let changes = &plan["workspace_changes"];
    assert_eq!(changes["pipelines_to_create"], serde_json::json!(["Partnerzy"]), "Sprzedaż exists and is reused");
    let stages: Vec<String> = changes["stages_to_create"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| format!("{} › {}", s[0].as_str().unwrap(), s[1].as_str().unwrap()))
        .collect();
    assert_eq!(
        stages,
        [
            "Sprzedaż › Oferta wysłana",
            "Sprzedaż › Negocjacje",
            "Sprzedaż › Zamknięcie",
            "Partnerzy › Pierwszy kontakt",
            "Partnerzy › Rozmowy",
            "Partnerzy › Umowa",
            "Partnerzy › Wdrożenie"
        ],
        "missing stages in User.com's order, after the existing ones"
    );
    assert_eq!(changes["options_to_add"], serde_json::json!([["person", "Industry segment", ["it", "public"]]]));
    assert_eq!(changes["activity_types_to_create"], serde_json::json!([]));
    let person_labels: Vec<&str> = changes["labels_to_create"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l[0] == "person")
        .map(|l| l[1].as_str().unwrap())
        .collect();
    assert!(!person_labels.contains(&"VIP") && person_labels.contains(&"Newsletter"), "VIP exists: {person_labels:?}");
    assert_eq!(changes["agents_to_default_owner"], serde_json::json!([["katarzyna.lis@zubrshop.pl", 143]]));

    // The bill by hand: Pipedrive's costs (v2 create 5, v1 note 10, the reads plan and apply make).
    let planted = planted();
    let count = |name: &str| planted.counts[name];
    let reads = 20 + 10 * 3 + 5 + 5 + 20;
    let new_fields = changes["new_fields"].as_array().unwrap().len() as u64;
    let date_time_fields = EXPECTED_LANDINGS.iter().filter(|l| l.ends_with(":date+time")).count() as u64;
    assert_eq!(
        new_fields,
        3 + EXPECTED_LANDINGS.iter().filter(|l| l.contains("= new:")).count() as u64 + date_time_fields,
        "3 markers, the new fields, a time field per date+time"
    );
    let option_calls = 3 /* labels on persons, organizations, deals */ + 1 /* Industry segment */;
    let workspace = reads + 5 * new_fields + 5 * option_calls + 5 /* Partnerzy */ + 5 * 7 /* stages */;
    let records = 5 * (count("companies") + count("contacts") + count("deals") + count("activities") + count("events"))
        + 10 * planted.conversations;
    let bill = &plan["bill"];
    assert_eq!(bill["tokens"].as_u64().unwrap(), workspace + records);
    assert_eq!(bill["daily_budget"].as_u64().unwrap(), 60_000, "growth: 30,000 x 2 x 1 seat");
    assert!((bill["budget_days"].as_f64().unwrap() - (workspace + records) as f64 / 60_000.0).abs() < 1e-9);
    let markdown = std::fs::read_to_string(project.join("reports/plan.md")).unwrap();
    assert!(markdown.contains("it fits in one day"), "{markdown}");
    assert!(
        markdown.contains(&format!("**{}**", crm_migrate::audit::report::thousands(workspace + records))),
        "the total is in the table"
    );
    let mapping_file = mapping_text(&project);
    assert!(mapping_file.contains("# User.com 'Sprzedaż': exists in Pipedrive (id"), "comments say what is reused");
    assert!(mapping_file.contains("REVIEW: confidence 0.60"), "low confidence is marked");
}

#[test]
fn a_lite_account_with_one_seat_is_told_that_100_000_contacts_take_days_and_how_the_run_pauses() {
    let _machine = crate::support::heavy();
    use crm_migrate::plan::{bill, changes::WorkspaceChanges, report};
    use crm_migrate::profile;
    let object = |kind, records| profile::ObjectProfile { kind, file: String::new(), records, attributes: Vec::new() };
    let profile = profile::SourceProfile {
        objects: vec![
            object(crm_migrate::record::ObjectKind::Contact, 100_000),
            object(crm_migrate::record::ObjectKind::Company, 10_000),
        ],
        ..Default::default()
    };
    let bill = bill::bill(&profile, &WorkspaceChanges::default(), Plan::Lite, 1, 0);
    assert_eq!(bill.daily_budget, 30_000);
    assert_eq!(bill.tokens, 80 + 5 * 110_000);
    let wait = report::budget_sentence(&bill, crm_migrate::pipedrive::BudgetPolicy::WaitForReset);
    assert!(wait.contains("18.3 days") && wait.contains("Plan for 19 days"), "{wait}");
    assert!(wait.contains("pauses") && wait.contains("midnight UTC"), "{wait}");
    let stop = report::budget_sentence(&bill, crm_migrate::pipedrive::BudgetPolicy::Stop);
    assert!(stop.contains("stops cleanly") && stop.contains("resumes where it stopped"), "{stop}");
    // The wall time at Lite's burst limit (20 per 2 s) is far shorter than the days of budget.
    assert!((bill.wall_seconds - bill.calls as f64 / 10.0).abs() < 1e-9);
}

/// Replaces `from` (which must be in the file) and returns the line it is on.
fn edit(project: &Path, from: &str, to: &str) -> usize {
    let text = mapping_text(project);
    let at = text.find(from).unwrap_or_else(|| panic!("'{from}' is in mapping.toml"));
    std::fs::write(project.join("mapping.toml"), text.replacen(from, to, 1)).unwrap();
    text[..at].matches('\n').count() + 1
}

#[test]
fn a_replan_keeps_edits_and_bad_edits_are_refused_with_their_line() {
    let _machine = crate::support::heavy();
    let sandbox = prepared_sandbox();
    let (_dir, project) = project(&sandbox, "growth");
    assert!(in_project(&project, &["plan"]).status.success());
    edit(
        &project,
        "[contact.city]\nto = \"new\"\nfield = \"City\"\ntype = \"varchar\"",
        "[contact.city]\nto = \"skip\"\nreason = \"the shop does not use cities\"",
    );
    edit(
        &project,
        "\"katarzyna.lis@zubrshop.pl\" = \"default\"",
        "\"katarzyna.lis@zubrshop.pl\" = \"anna.nowak@zubrshop.pl\"",
    );
    edit(&project, "archived = \"lost\"", "archived = \"open\"");
    edit(
        &project,
        "[contact.score]\nto = \"existing\"\nfield = \"Score\"\n",
        "[contact.score]\nto = \"existing\"\nfield = \"Score\"\nnote = \"checked with the shop\"\non_bad_value = \"quarantine-record\"\n",
    );

    let output = in_project(&project, &["plan"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let mapping = mapping(&project);
    let city = mapping.field(crm_migrate::record::ObjectKind::Contact, "city").unwrap();
    assert_eq!(city.landing, Landing::Skip { reason: "the shop does not use cities".into() });
    assert_eq!(
        mapping.agents.iter().find(|a| a.source == "katarzyna.lis@zubrshop.pl").unwrap().target,
        "anna.nowak@zubrshop.pl"
    );
    assert_eq!(mapping.deal_status.iter().find(|c| c.source == "archived").unwrap().target, "open");
    assert_eq!(
        mapping.field(crm_migrate::record::ObjectKind::Contact, "score").unwrap().note.as_deref(),
        Some("checked with the shop")
    );
    assert_eq!(
        mapping.field(crm_migrate::record::ObjectKind::Contact, "score").unwrap().on_bad_value,
        crm_migrate::mapping::OnBadValue::QuarantineRecord,
        "a bad-value policy is kept"
    );
    let kept: Vec<String> = serde_json::from_value(plan_json(&project)["kept_edits"].clone()).unwrap();
    assert_eq!(kept, ["owners.agents.katarzyna.lis@zubrshop.pl", "deal_status.archived", "contact.city"]);
    assert!(mapping_text(&project).contains("# kept your edit (plan proposes a new person varchar field 'City')"));
    assert_eq!(landings(&mapping).len(), EXPECTED_LANDINGS.len(), "nothing lost or added");

    let good = mapping_text(&project);
    let refused = |project: &Path, expected_line: usize, expected: &str| {
        let output = in_project(project, &["approve", "--yes"]);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(5), "{stderr}");
        assert!(
            stderr.contains(&format!("line {expected_line}: ")) && stderr.contains(expected),
            "line {expected_line}, '{expected}':\n{stderr}"
        );
        std::fs::write(project.join("mapping.toml"), &good).unwrap();
    };
    let line = edit(&project, "[contact.email]\nto = \"emails\"", "[contact.email]\nto = \"emials\"") + 1;
    refused(&project, line, "'emials' is not a person field this tool writes");
    let line =
        edit(&project, "[contact.email]\nto = \"emails\"", "[contact.email]\nto = \"emails\"\non_bad_value = \"drop\"")
            + 2;
    refused(
        &project,
        line,
        "on_bad_value 'drop' is not a policy; expected one of leave-empty, quarantine-record, keep-raw-in-note",
    );
    let line = edit(
        &project,
        "[contact.country]\nto = \"new\"\nfield = \"Country\"\ntype = \"varchar\"",
        "[contact.country]\nto = \"existing\"\nfield = \"Score\"",
    ) + 1;
    refused(&project, line, "country holds text values like 'PL'; the Pipedrive field 'Score' (double) holds a number");
    let line = edit(
        &project,
        "[contact.industry_segment]\nto = \"existing\"\nfield = \"Industry segment\"\n",
        "[contact.industry_segment]\nto = \"existing\"\nfield = \"Industry segment\"\nvalues = { it = \"IT\" }\n",
    ) + 1;
    refused(&project, line, "values maps 'it' to 'IT', which is not an option of 'Industry segment'");
    let line = edit(
        &project,
        "options = [\"roczna\", \"miesięczna\", \"jednorazowa\"]",
        "options = [\"roczna\", \"miesięczna\"]",
    );
    refused(&project, line - 3, "options lack values the export holds: 'jednorazowa'");
    let line = edit(&project, "field = \"Lifetime value\"", "field = \"Score\"");
    refused(&project, line - 1, "Pipedrive already has a custom person field named 'Score'");
    let line = edit(&project, "[contact.gender]", "[contact.gendr]");
    refused(&project, line + 1, "users.csv has no attribute 'gendr'");
    // A plan does not overwrite a mapping it cannot read.
    let line = edit(&project, "[deal_status]", "[deal_status");
    let output = in_project(&project, &["plan"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains(&format!("line {line}"))
            && text(&output.stderr).contains("will not overwrite it"),
        "{}",
        text(&output.stderr)
    );
    assert!(mapping_text(&project).contains("[deal_status\n"), "the person's file is left as it was");
}

#[test]
fn apply_is_refused_without_an_approval_and_after_the_mapping_changed() {
    let _machine = crate::support::heavy();
    let sandbox = prepared_sandbox();
    let (_dir, project) = project(&sandbox, "premium");
    let refused = in_project(&project, &["apply"]);
    assert_eq!(refused.status.code(), Some(4), "no mapping yet");
    assert!(text(&refused.stderr).contains("crm-migrate plan"), "{}", text(&refused.stderr));

    assert!(in_project(&project, &["plan"]).status.success());
    let refused = in_project(&project, &["apply", "--json"]);
    assert_eq!(refused.status.code(), Some(4));
    let answer: Value = serde_json::from_slice(&refused.stdout).unwrap();
    assert_eq!(answer["refused"], "not_approved");
    let writes = sandbox.stats().writes_applied;

    let approved = in_project(&project, &["approve", "--yes", "--by", "Ola Nowak"]);
    assert!(approved.status.success(), "{}", text(&approved.stderr));
    let approval = gate(&project).expect("the gate opens for the approved mapping");
    assert_eq!(approval.approved_by, "Ola Nowak");
    assert_eq!(approval.digest, crm_migrate::basis::digest(&mapping_text(&project)));
    let again = in_project(&project, &["approve", "--yes"]);
    assert!(text(&again.stdout).contains("already approved"), "{}", text(&again.stdout));

    edit(&project, "archived = \"lost\"", "archived = \"open\"");
    let refused = in_project(&project, &["apply"]);
    assert_eq!(refused.status.code(), Some(4));
    let stderr = text(&refused.stderr);
    assert!(stderr.contains("changed since Ola Nowak approved it"), "{stderr}");
    assert!(
        stderr.contains("\n-archived = \"lost\"") && stderr.contains("\n+archived = \"open\""),
        "the diff is shown:\n{stderr}"
    );
    assert_eq!(sandbox.stats().writes_applied, writes, "a refused apply writes nothing");

    let approved = in_project(&project, &["approve", "--yes", "--by", "Jan"]);
    assert!(
        text(&approved.stdout).contains("changed since Ola Nowak approved it"),
        "approve shows the diff: {}",
        text(&approved.stdout)
    );
    assert!(text(&approved.stdout).contains("+archived = \"open\""));
    assert_eq!(gate(&project).unwrap().approved_by, "Jan");

    // Without a terminal and without --yes, approve asks for --yes instead of approving.
    edit(&project, "archived = \"open\"", "archived = \"lost\"");
    let output = in_project(&project, &["approve"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("pass --yes"), "{}", text(&output.stderr));
    assert!(gate(&project).is_err());
}

#[test]
fn the_opt_out_is_the_marketing_status_only_where_the_account_has_campaigns() {
    let _machine = crate::support::heavy();
    let with_campaigns = sandbox(SandboxConfig { campaigns: true, ..SandboxConfig::default() });
    let (_dir, project) = project(&with_campaigns, "growth");
    assert!(in_project(&project, &["plan"]).status.success());
    let unsubscribed = |project: &Path| {
        mapping(project).field(crm_migrate::record::ObjectKind::Contact, "unsubscribed").unwrap().landing.clone()
    };
    assert_eq!(unsubscribed(&project), Landing::Standard { code: "marketing_status".into() });

    let without = prepared_sandbox();
    let (_other_dir, other) = self::project(&without, "growth");
    assert!(in_project(&other, &["plan"]).status.success());
    assert!(matches!(unsubscribed(&other), Landing::New { .. }));
    let from = "[contact.unsubscribed]\nto = \"new\"\nfield = \"Unsubscribed (User.com)\"\ntype = \"enum\"\noptions = [\"Yes\", \"No\"]";
    let line = edit(&other, from, "[contact.unsubscribed]\nto = \"marketing_status\"") + 1;
    let output = in_project(&other, &["approve", "--yes"]);
    assert_eq!(output.status.code(), Some(5));
    assert!(
        text(&output.stderr)
            .contains(&format!("line {line}: [contact.unsubscribed] this Pipedrive account has no Campaigns")),
        "{}",
        text(&output.stderr)
    );
}

#[test]
fn the_label_plugin_decides_which_tags_become_labels() {
    let _machine = crate::support::heavy();
    let sandbox = prepared_sandbox();
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("zubr");
    let label_plugin = format!("label={}", crate::support::plugin("segment_labels").display());
    let output = run(&[
        "init",
        project.to_str().unwrap(),
        "--export",
        sample_export().to_str().unwrap(),
        "--pipedrive",
        &sandbox.url(),
        "--plugin",
        &label_plugin,
    ]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    migrate_duplicates_as_they_are(&project);
    let config = std::fs::read_to_string(project.join("migration.toml")).unwrap();
    std::fs::write(
        project.join("migration.toml"),
        config.replace("# skip_prefixes = \"\"", "skip_prefixes = \"Test,Zimny\""),
    )
    .unwrap();

    let output = in_project(&project, &["plan"]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let plan = plan_json(&project);
    assert!(plan["labels_by"].as_str().unwrap().contains("segment-labels"), "{}", plan["labels_by"]);
    let labels: Vec<&str> = plan["workspace_changes"]["labels_to_create"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l[1].as_str().unwrap())
        .collect();
    assert!(labels.contains(&"Newsletter") && labels.contains(&"Black Friday"), "{labels:?}");
    assert!(
        !labels.iter().any(|label| label.starts_with("Test") || label.starts_with("Zimny")),
        "skipped by the plugin's rule: {labels:?}"
    );
}

/// The approval gate apply passes, on a project directory.
fn gate(project: &Path) -> Result<crm_migrate::state::Approval, crm_migrate::approve::GateError> {
    let project = crm_migrate::project::Project::open(project).expect("the project opens");
    crm_migrate::approve::require_approval(&project, crm_migrate::approve::ExportCheck::Approved)
}
