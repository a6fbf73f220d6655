//! How hard a migration is, graded simple / standard / complex from what plan measured (records,
//! attributes into custom fields, duplicate groups, orphaned references, automations and
//! segments to rebuild by hand, conversations) and the token bill, with each factor and its
//! threshold stated; and the calendar time the load takes across the account's daily budget.
//!
//! The grade is the highest any factor reaches: one factor that needs a person's work is enough
//! to make the whole migration need it. The thresholds are [`THRESHOLDS`], one table (the README
//! repeats it).

use serde::Serialize;

use crate::plan::bill::Bill;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Grade {
    Simple,
    Standard,
    Complex,
}

impl Grade {
    pub fn as_str(self) -> &'static str {
        match self {
            Grade::Simple => "simple",
            Grade::Standard => "standard",
            Grade::Complex => "complex",
        }
    }
}

impl std::fmt::Display for Grade {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One factor of the grade and where it turns standard and complex.
#[derive(Debug, Clone, Copy)]
pub struct Threshold {
    pub factor: &'static str,
    /// Standard from this many (inclusive); complex from `complex_from`.
    pub standard_from: f64,
    pub complex_from: f64,
    /// Why it makes the migration harder.
    pub why: &'static str,
}

/// The thresholds, factor by factor. Records are the export's rows (contacts, companies, deals,
/// activities, events, messages); days of budget are the token bill over the daily budget.
pub const THRESHOLDS: [Threshold; 7] = [
    Threshold {
        factor: "records",
        standard_from: 1_000.0,
        complex_from: 50_000.0,
        why: "records to load, reconcile and verify",
    },
    Threshold {
        factor: "attributes into custom fields",
        standard_from: 10.0,
        complex_from: 50.0,
        why: "each a field to create, check and explain",
    },
    Threshold {
        factor: "duplicate groups",
        standard_from: 1.0,
        complex_from: 100.0,
        why: "each a merge to decide or review",
    },
    Threshold {
        factor: "orphaned references",
        standard_from: 1.0,
        complex_from: 500.0,
        why: "links that point nowhere, to fix in User.com or leave",
    },
    Threshold {
        factor: "automations and segments to rebuild",
        standard_from: 5.0,
        complex_from: 30.0,
        why: "rebuilt by hand in Pipedrive (workflows, filters)",
    },
    Threshold {
        factor: "conversations",
        standard_from: 50.0,
        complex_from: 5_000.0,
        why: "notes to load, the slowest records per token",
    },
    Threshold {
        factor: "days of token budget",
        standard_from: 0.5,
        complex_from: 3.0,
        why: "a load over several days needs a cutover plan and a delta",
    },
];

/// What the grade is computed from, as plan measured it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Measured {
    pub records: u64,
    pub custom_attributes: u64,
    pub duplicate_groups: u64,
    pub orphans: u64,
    pub automations: u64,
    pub segments: u64,
    pub conversations: u64,
}

/// One factor as measured, its thresholds and what it grades.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reason {
    pub factor: &'static str,
    pub value: f64,
    pub standard_from: f64,
    pub complex_from: f64,
    pub grade: Grade,
    pub why: &'static str,
}

impl Reason {
    /// `records 1,369: standard (standard from 1,000, complex from 50,000)`.
    pub fn sentence(&self) -> String {
        format!(
            "{} {}: {} (standard from {}, complex from {})",
            self.factor,
            number(self.value),
            self.grade,
            number(self.standard_from),
            number(self.complex_from)
        )
    }
}

/// A factor's value or threshold as plan.md and the handoff print it: `1,369`, `0.12`.
pub fn number(value: f64) -> String {
    if value.fract() == 0.0 { crate::report::thousands(value as u64) } else { format!("{value:.2}") }
}

/// The grade, its reasons and the calendar estimate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assessment {
    pub grade: Grade,
    pub measured: Measured,
    pub reasons: Vec<Reason>,
    /// Calendar days the load takes: the token bill across the daily budget (it resets at
    /// midnight UTC), and never less than the wall time at the burst limit.
    pub load_days: u64,
    pub estimate: String,
}

pub fn grade(measured: &Measured, bill: &Bill) -> Assessment {
    let values = [
        measured.records as f64,
        measured.custom_attributes as f64,
        measured.duplicate_groups as f64,
        measured.orphans as f64,
        (measured.automations + measured.segments) as f64,
        measured.conversations as f64,
        bill.budget_days,
    ];
    let reasons: Vec<Reason> = THRESHOLDS
        .iter()
        .zip(values)
        .map(|(threshold, value)| Reason {
            factor: threshold.factor,
            value,
            standard_from: threshold.standard_from,
            complex_from: threshold.complex_from,
            grade: if value >= threshold.complex_from {
                Grade::Complex
            } else if value >= threshold.standard_from {
                Grade::Standard
            } else {
                Grade::Simple
            },
            why: threshold.why,
        })
        .collect();
    let grade = reasons.iter().map(|reason| reason.grade).max().unwrap_or(Grade::Simple);
    let budget_days = bill.budget_days.ceil() as u64;
    let wall_days = (bill.wall_seconds / 86_400.0).ceil() as u64;
    let load_days = budget_days.max(wall_days).max(1);
    let estimate = format!(
        "the load takes {load_days} calendar day(s): {} tokens over a daily budget of {} ({:.2} days, the budget resetting at midnight UTC){}; \
         add the time to rebuild {} automation(s) and {} segment(s) by hand and to decide the REVIEW items",
        crate::report::thousands(bill.tokens),
        crate::report::thousands(bill.daily_budget),
        bill.budget_days,
        if load_days > 1 { ", so start it at least that many days before the cutover" } else { ", within one day" },
        measured.automations,
        measured.segments
    );
    Assessment { grade, measured: measured.clone(), reasons, load_days, estimate }
}

impl Assessment {
    /// The factors that decide the grade (those at it), in the table's order.
    pub fn deciding(&self) -> Vec<&Reason> {
        self.reasons.iter().filter(|reason| reason.grade == self.grade).collect()
    }
}
