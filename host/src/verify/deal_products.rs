//! Deal products and participants read back and compared with the SOURCE: each migrated deal's
//! order lines (the product, by the code its marker gives, and its name from products.csv; the
//! quantity; the price of one unit) and participants (the persons of its participant contacts,
//! its own person aside), as the export gives them after the same reading apply does (lines and
//! participants left out with a reason are expected absent), never as apply sent them. One
//! listing of the products, and per deal with lines or participants (or that a delta removed
//! some from) one listing of each (10 tokens a call).

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use super::VerifyError;
use crate::apply::products;
use crate::journal::{Fate, Journal};
use crate::mapping::Mapping;
use crate::pipedrive::{ClientError, PipedriveClient};
use crate::record::ObjectKind;
use crate::report::{Document, thousands, value, words};
use crate::source::Source;
use crate::source::deal_extras::{self, Line};

/// What the read back found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DealProductsCheck {
    pub lines_verified: u64,
    pub participants_verified: u64,
    /// Lines and participants the export gives that Pipedrive does not hold (or holds otherwise),
    /// and ones Pipedrive holds that the export does not give, each a line.
    pub missing: Vec<String>,
}

fn same(a: f64, b: f64) -> bool {
    (a - b).abs() < 0.005
}

/// Reads back the deal products and participants of every migrated deal and compares them with
/// the source.
pub async fn check(
    client: &PipedriveClient,
    journal: &Journal,
    mapping: &Mapping,
    source: &Source,
    markers: &crate::marker::Markers,
) -> Result<DealProductsCheck, VerifyError> {
    let mut checked = DealProductsCheck::default();
    // The created deals' and persons' ids only: what was sent for them (a big migration's
    // contacts' payloads are gigabytes) is not read.
    let deals = super::ids_with_fate(journal, ObjectKind::Deal, Fate::Created)?;
    let persons = super::ids_with_fate(journal, ObjectKind::Contact, Fate::Created)?;
    let person = |contact: &str| persons.get(crate::source::survivor(&source.survivors, contact)).copied();
    // Deals a delta removed lines or participants from: read back even when the export now
    // gives them none, so that one still in Pipedrive shows.
    let removed_from = |object: &str| -> Result<HashSet<String>, VerifyError> {
        Ok(journal
            .deleted_row_keys(object)?
            .into_iter()
            .map(|key| key.split(['#', ':']).next().unwrap_or_default().to_owned())
            .collect())
    };
    let (lines_removed, participants_removed) =
        (removed_from(products::DEAL_PRODUCT)?, removed_from(products::PARTICIPANT)?);
    let mut listed_products = None;
    for record in source.records(ObjectKind::Deal) {
        let record = &record.map_err(crate::apply::ApplyError::from)?;
        let Some(&deal_id) = deals.get(&record.source_id) else { continue };
        let deal = &record.source_id;
        let expected =
            deal_extras::read(record, mapping, &source.products, &|id| products::is_contact(source, id), &person);
        if !expected.lines.is_empty() || lines_removed.contains(deal) {
            if listed_products.is_none() {
                listed_products = Some(
                    client
                        .products()
                        .await?
                        .into_iter()
                        .map(|product| (product.id, product))
                        .collect::<HashMap<_, _>>(),
                );
            }
            let catalogue = listed_products.as_ref().expect("listed above");
            let mut actual = match client.deal_products(deal_id).await {
                Ok(lines) => lines,
                Err(ClientError::NotFound { .. }) => Vec::new(),
                Err(error) => return Err(error.into()),
            };
            for Line { index, product, quantity, price } in &expected.lines {
                let code = products::product_code(markers, product);
                let name =
                    source.products.iter().find(|known| &known.id == product).map(|known| known.name.trim().to_owned());
                let found = actual.iter().position(|line| {
                    catalogue.get(&line.product_id).is_some_and(|listed| listed.code.as_deref() == Some(code.as_str()))
                        && same(line.quantity, *quantity)
                        && same(line.item_price, *price)
                });
                match found {
                    Some(at) => {
                        let line = actual.remove(at);
                        let listed_name = catalogue.get(&line.product_id).map(|listed| listed.name.clone()).unwrap_or_default();
                        match name.filter(|name| !name.is_empty() && *name != listed_name) {
                            Some(name) => checked.missing.push(format!(
                                "deal {deal}, line {index}: product {product} is named '{listed_name}' in Pipedrive, '{name}' in products.csv"
                            )),
                            None => checked.lines_verified += 1,
                        }
                    }
                    None => checked.missing.push(format!(
                        "deal {deal}, line {index}: product {product}, quantity {quantity}, price {price}: missing in Pipedrive"
                    )),
                }
            }
            for line in actual {
                checked.missing.push(format!(
                    "deal {deal}: Pipedrive holds a product line the export does not give (deal product {}, product {}, quantity {}, price {})",
                    line.id, line.product_id, line.quantity, line.item_price
                ));
            }
        }
        if !expected.participants.is_empty() || participants_removed.contains(deal) {
            let own = deal_extras::attribute(mapping, "person_id")
                .and_then(|attribute| record.get(attribute))
                .map(|value| crate::profile::plain(value).trim().to_owned())
                .and_then(|contact| person(&contact));
            let mut actual: HashSet<u64> = match client.deal_participants(deal_id).await {
                Ok(entries) => {
                    entries.into_iter().filter(|entry| entry.active_flag).map(|entry| entry.person_id).collect()
                }
                Err(ClientError::NotFound { .. }) => HashSet::new(),
                Err(error) => return Err(error.into()),
            };
            if let Some(own) = own {
                actual.remove(&own);
            }
            for contact in &expected.participants {
                match person(contact).filter(|id| actual.remove(id)) {
                    Some(_) => checked.participants_verified += 1,
                    None => checked.missing.push(format!("deal {deal}: participant {contact} is missing in Pipedrive")),
                }
            }
            for extra in actual {
                checked.missing.push(format!("deal {deal}: person {extra} is a participant the export does not give"));
            }
        }
    }
    Ok(checked)
}

/// The section of verification.md (none when the export gives no lines or participants). The
/// lines quote ids and names from the export: escaped.
pub fn section(doc: &mut Document, check: &DealProductsCheck) {
    if check.lines_verified == 0 && check.participants_verified == 0 && check.missing.is_empty() {
        return;
    }
    doc.section("Deal products and participants");
    doc.paragraph(words(format!(
        "{} product lines and {} participants verified against the export, {} differences.",
        thousands(check.lines_verified),
        thousands(check.participants_verified),
        thousands(check.missing.len() as u64)
    )));
    doc.list(check.missing.iter().map(value));
}
