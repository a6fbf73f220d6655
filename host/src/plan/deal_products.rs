//! What plan says of deal products and participants: the products apply will create (once each,
//! from products.csv), the order lines and participants it will add, the values it will leave
//! out, and their calls in the token bill. Read with the same rules as apply
//! ([`crate::source::deal_extras::read`]); a participant is counted when it is named (whether it is a
//! contact that migrates is known at apply), so the figures are at most what apply adds.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::mapping::Mapping;
use crate::plan::bill::{Bill, PhaseBill, line};
use crate::profile::SourceProfile;
use crate::report::{Document, Text, value, words};
use crate::source::deal_extras::{PARTICIPANTS_CODE, PRODUCTS_CODE, attribute, read};

/// The deal products and participants apply will add.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DealProductsPlan {
    /// Deals with a line or a participant to add.
    pub deals: u64,
    pub lines: u64,
    /// At most this many (each participant that is a migrated contact).
    pub participants: u64,
    /// The products created, once each: `id name` from products.csv.
    pub products_to_create: Vec<String>,
    /// Lines and participants left out of their deal (each listed by apply with its reason).
    pub left_out: u64,
}

/// Counts what the mapping, as written, migrates of the profile's deals.
pub fn measure(profile: &SourceProfile, mapping: &Mapping) -> DealProductsPlan {
    let mut plan = DealProductsPlan::default();
    if attribute(mapping, PRODUCTS_CODE).is_none() && attribute(mapping, PARTICIPANTS_CODE).is_none() {
        return plan;
    }
    let catalogue = &profile.catalogue.products;
    let mut used = BTreeSet::new();
    for deal in &profile.deal_extras {
        let extras = read(deal, mapping, catalogue, &|_| true, &|_| Some(0));
        plan.deals += u64::from(!extras.lines.is_empty() || !extras.participants.is_empty());
        plan.lines += extras.lines.len() as u64;
        plan.participants += extras.participants.len() as u64;
        plan.left_out += extras.left_out.len() as u64;
        used.extend(extras.lines.into_iter().map(|line| line.product));
    }
    plan.products_to_create = catalogue
        .iter()
        .filter(|product| used.contains(&product.id))
        .map(|product| format!("{} {}", product.id, product.name.trim()))
        .collect();
    plan
}

/// The calls apply makes for them, as a phase of the bill after the deals.
pub fn bill(bill: &mut Bill, plan: &DealProductsPlan) {
    let mut lines = Vec::new();
    let calls = [
        ("create products", "POST", "/api/v2/products", plan.products_to_create.len() as u64),
        ("add products to deals", "POST", "/api/v2/deals/{id}/products", plan.lines),
        ("add participants to deals", "POST", "/v1/deals/{id}/participants", plan.participants),
    ];
    for (what, method, path, count) in calls {
        if count > 0 {
            lines.push(line(what, method, path, count));
        }
    }
    if !lines.is_empty() {
        bill.add_phase_after("deals", PhaseBill { phase: "deal products", records: plan.deals, lines });
    }
}

/// plan.md's section (none when the export has no order lines or participants). Counts and
/// product names from products.csv (escaped), no record values.
pub fn section(doc: &mut Document, plan: &DealProductsPlan) {
    if plan.deals == 0 && plan.left_out == 0 {
        return;
    }
    doc.section("Deal products and participants");
    doc.paragraph(words(format!(
        "After the deals: {} products created (once each, from products.csv), {} order lines added to {} deals as deal products, up to {} participants added (each a migrated contact's person). {} lines or participants are left out of their deal (a product products.csv lacks, a line that does not read, a participant who is not a contact), each listed with its reason in reports/quarantine.csv by apply.",
        plan.products_to_create.len(),
        plan.lines,
        plan.deals,
        plan.participants,
        plan.left_out
    )));
    if !plan.products_to_create.is_empty() {
        let names = plan.products_to_create.iter().map(value);
        doc.paragraph(words("Products: ").then(Text::join(names, ", ")).words("."));
    }
}
