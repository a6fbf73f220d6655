//! The token bill of a migration before it runs: the calls each phase of apply makes, at
//! Pipedrive's published cost per operation (`token-costs.tsv`), against the account's daily
//! budget (30,000 × plan multiplier × seats, plus top-ups) and its burst limit.

use serde::Serialize;

use crate::pipedrive::Plan;
use crate::plan::changes::WorkspaceChanges;
use crate::profile::SourceProfile;
use crate::record::ObjectKind;

/// Calls of one operation in one phase.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BillLine {
    pub what: String,
    /// `POST /api/v2/persons`.
    pub operation: String,
    pub calls: u64,
    pub cost: u32,
    pub tokens: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhaseBill {
    pub phase: &'static str,
    /// Source records the phase moves (before plugins merge or drop any).
    pub records: u64,
    pub lines: Vec<BillLine>,
}

impl PhaseBill {
    pub fn tokens(&self) -> u64 {
        self.lines.iter().map(|line| line.tokens).sum()
    }

    pub fn calls(&self) -> u64 {
        self.lines.iter().map(|line| line.calls).sum()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bill {
    pub phases: Vec<PhaseBill>,
    pub tokens: u64,
    pub calls: u64,
    pub plan: &'static str,
    pub seats: u32,
    pub daily_budget: u64,
    /// Days of the daily budget the tokens take (1.0 is one full day's budget).
    pub budget_days: f64,
    pub burst_limit: u32,
    /// Seconds the calls take at the burst limit, budget pauses aside.
    pub wall_seconds: f64,
}

/// The call that creates one record of a User.com object in Pipedrive.
pub fn create_operation(object: ObjectKind) -> (&'static str, &'static str) {
    match object {
        ObjectKind::Company => ("POST", "/api/v2/organizations"),
        ObjectKind::Contact => ("POST", "/api/v2/persons"),
        ObjectKind::Deal => ("POST", "/api/v2/deals"),
        ObjectKind::Activity | ObjectKind::Event => ("POST", "/api/v2/activities"),
        ObjectKind::Conversation => ("POST", "/v1/notes"),
    }
}

/// Tokens to create one record of an object.
pub fn create_cost(object: ObjectKind) -> u32 {
    let (method, path) = create_operation(object);
    pipedrive_api::operation(method, path).map_or(0, |operation| operation.token_cost)
}

pub fn line(what: impl Into<String>, method: &str, path: &str, calls: u64) -> BillLine {
    let cost = pipedrive_api::operation(method, path)
        .unwrap_or_else(|| panic!("{method} {path} is in Pipedrive's specs"))
        .token_cost;
    BillLine { what: what.into(), operation: format!("{method} {path}"), calls, cost, tokens: calls * u64::from(cost) }
}

/// What apply will spend, phase by phase.
pub fn bill(profile: &SourceProfile, changes: &WorkspaceChanges, plan: Plan, seats: u32, top_up_tokens: u64) -> Bill {
    let mut workspace = vec![
        line("read users", "GET", "/v1/users", 1),
        line("read person fields", "GET", "/api/v2/personFields", 1),
        line("read organization fields", "GET", "/api/v2/organizationFields", 1),
        line("read deal fields", "GET", "/api/v2/dealFields", 1),
        line("read pipelines", "GET", "/api/v2/pipelines", 1),
        line("read stages", "GET", "/api/v2/stages", 1),
        line("read activity types", "GET", "/v1/activityTypes", 1),
    ];
    for (entity, path) in [
        ("person", "/api/v2/personFields"),
        ("organization", "/api/v2/organizationFields"),
        ("deal", "/api/v2/dealFields"),
    ] {
        let creates = changes.field_creates(entity);
        if creates > 0 {
            workspace.push(line(format!("create {entity} fields"), "POST", path, creates));
        }
        let option_adds = changes.options_to_add.iter().filter(|(kind, _, _)| *kind == entity).count() as u64
            + u64::from(changes.labels_to_create.iter().any(|(kind, _)| *kind == entity));
        if option_adds > 0 {
            workspace.push(line(
                format!("add {entity} field options and labels"),
                "POST",
                &format!("{path}/{{field_code}}/options"),
                option_adds,
            ));
        }
    }
    let counted = |what: &str, method: &str, path: &str, calls: usize| {
        (calls > 0).then(|| line(what, method, path, calls as u64))
    };
    workspace.extend(counted("create pipelines", "POST", "/api/v2/pipelines", changes.pipelines_to_create.len()));
    workspace.extend(counted("create stages", "POST", "/api/v2/stages", changes.stages_to_create.len()));
    workspace.extend(counted(
        "create activity types",
        "POST",
        "/v1/activityTypes",
        changes.activity_types_to_create.len(),
    ));

    let records = |kind| profile.records(kind);
    let creates = |what: &str, object: ObjectKind, calls: u64| {
        let (method, path) = create_operation(object);
        vec![line(what, method, path, calls)]
    };
    let activities = records(ObjectKind::Activity) + records(ObjectKind::Event);
    let phases = vec![
        PhaseBill { phase: "workspace", records: 0, lines: workspace },
        PhaseBill {
            phase: "organizations",
            records: records(ObjectKind::Company),
            lines: creates("create organizations", ObjectKind::Company, records(ObjectKind::Company)),
        },
        PhaseBill {
            phase: "persons",
            records: records(ObjectKind::Contact),
            lines: creates("create persons", ObjectKind::Contact, records(ObjectKind::Contact)),
        },
        PhaseBill {
            phase: "deals",
            records: records(ObjectKind::Deal),
            lines: creates("create deals", ObjectKind::Deal, records(ObjectKind::Deal)),
        },
        PhaseBill {
            phase: "activities",
            records: activities,
            lines: creates("create activities and events", ObjectKind::Activity, activities),
        },
        PhaseBill {
            phase: "notes",
            records: profile.conversations,
            lines: creates("create notes (one per conversation)", ObjectKind::Conversation, profile.conversations),
        },
    ];
    let mut bill = Bill {
        phases,
        tokens: 0,
        calls: 0,
        plan: plan.as_str(),
        seats,
        daily_budget: plan.daily_token_budget(seats, top_up_tokens),
        budget_days: 0.0,
        burst_limit: plan.burst_limit(),
        wall_seconds: 0.0,
    };
    bill.total();
    bill
}

impl Bill {
    /// Adds a phase right after `after` (at the end when there is none), and counts it in.
    pub fn add_phase_after(&mut self, after: &str, phase: PhaseBill) {
        let at = self.phases.iter().position(|known| known.phase == after).map_or(self.phases.len(), |at| at + 1);
        self.phases.insert(at, phase);
        self.total();
    }

    /// The totals of the phases: tokens, calls, days of budget, wall time at the burst limit.
    fn total(&mut self) {
        self.tokens = self.phases.iter().map(PhaseBill::tokens).sum();
        self.calls = self.phases.iter().map(PhaseBill::calls).sum();
        self.budget_days = self.tokens as f64 / self.daily_budget as f64;
        self.wall_seconds =
            self.calls as f64 / (f64::from(self.burst_limit) / pipedrive_api::BURST_WINDOW.as_secs_f64());
    }
}
