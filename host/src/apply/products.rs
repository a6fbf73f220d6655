//! Deal products and participants, from the API's deal model: a deal's order lines
//! (`order_products`, a JSON array of `{product_id, quantity, value, currency}`, `value` the price
//! of one unit) become Pipedrive deal products of products created once each from the export's
//! `products.csv`, and its `participants` (contact ids) the deal's participants. Made after the
//! deals phase, when deals and persons exist. Each create is journalled as a record's is (an
//! intent before the request, the Pipedrive id after), so a run stopped anywhere resumes without
//! a duplicate: an open intent is looked for (the product by its code, the marker; the line among
//! the deal's products; the participant among the deal's participants) before it is sent again,
//! and rollback removes what the journal lists. A line or participant that cannot be migrated (a
//! product products.csv lacks, a line that is not JSON, a quantity that is not a number, a
//! participant who is not a contact) is left out of its deal, listed like any value left out
//! (`reports/quarantine.csv`); the deal itself migrates. A later run (a delta) removes what the
//! export no longer gives: a line changed in place (it is added again as it is now) or gone, a
//! participant gone; each removal is journalled with what was sent, so `rollback --run` adds it
//! back ([`restore_removed`]).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde_json::Value as Json;
use tokio::task::JoinSet;

use crate::mapping::Mapping;
use crate::pipedrive::{ClientError, NewDealProduct, NewProduct, PipedriveClient, ProductPrice};
use crate::record::ObjectKind;
use crate::report::{Document, thousands, value, words};

use super::ApplyError;
use super::payload::Links;
use crate::journal::{Entry, Fate, Fated, Journal, LeftOutField};
use crate::source::deal_extras::Line;
use crate::source::deal_extras::{DealExtras, read};
use crate::source::{Source, Spooled};

/// The journal's `object` of products created from products.csv: keyed by User.com product id.
pub const PRODUCT: &str = "product";
/// The journal's `object` of deal products: keyed `deal#line` (the line's place, from 1, in the
/// deal's order lines), the attachment's id as its Pipedrive id.
pub const DEAL_PRODUCT: &str = "deal_product";
/// The journal's `object` of deal participants: keyed `deal:contact`, the entry's id as its
/// Pipedrive id.
pub const PARTICIPANT: &str = "deal_participant";

/// Whether the export has this contact (to load or settled by a plugin): looked up in the spool.
pub fn is_contact(source: &Source, id: &str) -> bool {
    // A spool that does not read is an error the phase's own reads report; here: not a contact.
    source.has(ObjectKind::Contact, id).unwrap_or(false)
}

/// The values a deal is migrated without (its order lines and participants that cannot be),
/// with their place in the export; none for other records.
pub fn left_out(spooled: &Spooled, mapping: &Mapping, source: &Source, links: &Links) -> Vec<LeftOutField> {
    let record = &spooled.record;
    if record.kind != ObjectKind::Deal {
        return Vec::new();
    }
    let extras = read(record, mapping, &source.products, &|id| is_contact(source, id), &|id| links.person(id));
    extras
        .left_out
        .into_iter()
        .map(|(field, value, why)| LeftOutField {
            column: {
                let attribute = field.split('[').next().unwrap_or_default().to_owned();
                source.headers.get(&(ObjectKind::Deal, attribute.clone())).cloned().unwrap_or(attribute)
            },
            field,
            file: source.files.get(&ObjectKind::Deal).cloned().unwrap_or_default(),
            line: spooled.line,
            value,
            why,
            in_note: false,
        })
        .collect()
}

/// What the step did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ProductsOutcome {
    pub products_created: u64,
    pub lines_created: u64,
    pub participants_created: u64,
    /// Made before (an earlier run, or found applied after a lost answer or a kill).
    pub existing: u64,
    /// Lines changed in place or gone from the export, removed (a changed one is added again).
    pub lines_removed: u64,
    /// Participants gone from the export, removed.
    pub participants_removed: u64,
    /// What was not sent, and why.
    pub unsent: Vec<String>,
    pub tokens: u64,
}

/// The code a product created from products.csv carries: its marker.
pub fn product_code(markers: &crate::marker::Markers, product: &str) -> String {
    markers.field_value(&format!("product:{product}"))
}

/// One deal's work: its Pipedrive id and what to add to it.
struct DealWork {
    deal: String,
    deal_id: u64,
    /// (journal key, line, whether an intent is open).
    lines: Vec<(String, NewDealProduct, bool)>,
    /// (journal key, person id, whether an intent is open).
    participants: Vec<(String, u64, bool)>,
    /// The attachments of this deal journalled before.
    known: Vec<u64>,
}

enum Done {
    Line(String, Result<u64, ClientError>),
    Participant(String, Result<u64, ClientError>),
}

/// Creates the products, deal products and participants the export's deals give, after the
/// deals phase; what was made before is left as it is.
pub async fn run(
    client: &Arc<PipedriveClient>,
    journal: &Journal,
    mapping: &Mapping,
    source: &Source,
    links: &Links,
    markers: &crate::marker::Markers,
    concurrency: usize,
) -> Result<ProductsOutcome, ApplyError> {
    let tokens_before = client.bill().tokens();
    let mut outcome = ProductsOutcome::default();
    // The created deals' ids, compact (a deal's extras are read from the spool below).
    let mut deals: super::ids::IdMap<u64> = super::ids::IdMap::default();
    journal.each_fate(ObjectKind::Deal, |id, fated| {
        if let (Fate::Created, Some(pipedrive_id)) = (fated.fate, fated.pipedrive_id) {
            deals.insert(id, pipedrive_id);
        }
    })?;
    // The created deals with their extras, read from the spool again for each pass over them:
    // not held (at a million contacts, 300,000 deals' lines and participants).
    let wanted = || {
        source.records(ObjectKind::Deal).filter_map(|record| {
            let record = match record {
                Ok(record) => record,
                Err(error) => return Some(Err(error)),
            };
            let deal_id = deals.get(&record.source_id).copied()?;
            let extras = read(&record, mapping, &source.products, &|id| is_contact(source, id), &|id| links.person(id));
            Some(Ok((record.source_id, deal_id, extras)))
        })
    };
    // The products the lines use, each created once.
    let mut products: BTreeMap<String, u64> = BTreeMap::new();
    let journalled = journal.entries_of(PRODUCT)?;
    let mut used = std::collections::BTreeSet::new();
    for deal in wanted() {
        let (_, _, extras) = deal?;
        used.extend(extras.lines.into_iter().map(|line| line.product));
    }
    for id in used.iter().map(String::as_str) {
        let Some(product) = source.products.iter().find(|product| product.id == id) else { continue };
        let code = product_code(markers, id);
        let found = match journalled.get(id) {
            Some(Entry { fate: Fate::Created, pipedrive_id: Some(pipedrive_id), .. }) => Some(*pipedrive_id),
            Some(entry) if entry.fate == Fate::Intent => client.product_by_code(&code).await?.map(|found| found.id),
            _ => None,
        };
        if let Some(pipedrive_id) = found {
            // Journalled again only when an open intent was found applied: a product made by an
            // earlier run stays that run's (`rollback --run` of this one must not remove it).
            if journalled.get(id).is_some_and(|entry| entry.fate == Fate::Intent) {
                journal.set_row(PRODUCT, id, Fate::Created, Some(pipedrive_id), None)?;
            }
            products.insert(id.to_owned(), pipedrive_id);
            outcome.existing += 1;
            continue;
        }
        journal.set_row(PRODUCT, id, Fate::Intent, None, None)?;
        let prices = match (crate::extract::values::parse_number(&product.price), product.currency.trim()) {
            (Some(price), currency) if currency.len() == 3 => {
                vec![ProductPrice { price, currency: currency.to_uppercase() }]
            }
            _ => Vec::new(),
        };
        let name =
            if product.name.trim().is_empty() { format!("Product {id}") } else { product.name.trim().to_owned() };
        match client.create_product(&NewProduct { name, code, prices }).await {
            Ok(created) => {
                journal.set_row(PRODUCT, id, Fate::Created, Some(created.id), None)?;
                products.insert(id.to_owned(), created.id);
                outcome.products_created += 1;
            }
            Err(ClientError::Rejected { status, message, .. }) => {
                journal.forget_row(PRODUCT, id)?;
                outcome.unsent.push(format!("product {id}: Pipedrive refused it ({status}): {message}"));
            }
            Err(ClientError::WriteOutcomeUnknown { .. } | ClientError::GaveUp { .. }) => {
                outcome.unsent.push(format!("product {id} was sent, its outcome is unknown: run apply again"));
            }
            Err(error) => return Err(error.into()),
        }
    }
    remove_stale(client, journal, wanted(), &products, &mut outcome).await?;
    // Each deal's lines and participants, one deal at a time per task (a lost line is looked
    // for among its deal's products, which a line of the same deal sent beside it would blur).
    // Their fates and ids only: what was sent for each stays in the journal.
    let lines_journalled = journal.fates_of(DEAL_PRODUCT)?;
    let participants_journalled = journal.fates_of(PARTICIPANT)?;
    // What each line in flight is sent as: the baseline a later run tells a change by.
    let mut sent: HashMap<String, String> = HashMap::new();
    // The next deal with something to add, made as the sends go (not every deal's work at once).
    let mut deals_left = wanted();
    let mut next_work = |outcome: &mut ProductsOutcome,
                         sent: &mut HashMap<String, String>|
     -> Result<Option<DealWork>, crate::source::SpoolError> {
        for deal in deals_left.by_ref() {
            let (deal, deal_id, extras) = deal?;
            let known: Vec<u64> = extras
                .lines
                .iter()
                .filter_map(|line| lines_journalled.get(&format!("{deal}#{}", line.index)))
                .filter(|entry| entry.fate == Fate::Created)
                .filter_map(|entry| entry.pipedrive_id)
                .collect();
            let mut item = DealWork { deal: deal.clone(), deal_id, lines: Vec::new(), participants: Vec::new(), known };
            for line in &extras.lines {
                let key = format!("{deal}#{}", line.index);
                let Some(product_id) = products.get(&line.product).copied() else {
                    outcome.unsent.push(format!(
                        "deal {deal}, line {}: its product {} was not created",
                        line.index, line.product
                    ));
                    continue;
                };
                match lines_journalled.get(&key).map(|entry| entry.fate) {
                    Some(Fate::Created) => outcome.existing += 1,
                    open => {
                        sent.insert(key.clone(), line_sent(line, product_id).to_string());
                        item.lines.push((
                            key,
                            NewDealProduct { product_id, item_price: line.price, quantity: line.quantity },
                            open == Some(Fate::Intent),
                        ))
                    }
                }
            }
            for contact in &extras.participants {
                let key = format!("{deal}:{contact}");
                let Some(person) = links.person(contact) else { continue };
                match participants_journalled.get(&key).map(|entry| entry.fate) {
                    Some(Fate::Created) => outcome.existing += 1,
                    open => item.participants.push((key, person, open == Some(Fate::Intent))),
                }
            }
            if !item.lines.is_empty() || !item.participants.is_empty() {
                return Ok(Some(item));
            }
        }
        Ok(None)
    };
    let mut stop: Option<ApplyError> = None;
    let mut in_flight: JoinSet<Result<Vec<Done>, ClientError>> = JoinSet::new();
    loop {
        while stop.is_none() && in_flight.len() < concurrency.max(1) {
            let Some(item) = next_work(&mut outcome, &mut sent)? else { break };
            for (key, _, _) in &item.lines {
                journal.set_row(DEAL_PRODUCT, key, Fate::Intent, None, Some(&item.deal))?;
            }
            for (key, _, _) in &item.participants {
                journal.set_row(PARTICIPANT, key, Fate::Intent, None, Some(&item.deal))?;
            }
            let client = client.clone();
            in_flight.spawn(async move { add_to_deal(&client, item).await });
        }
        let Some(joined) = in_flight.join_next().await else { break };
        let done = match joined.map_err(|source| ApplyError::Task { what: "deal products", source })? {
            Ok(done) => done,
            Err(error) => {
                stop.get_or_insert(error.into());
                continue;
            }
        };
        for done in done {
            let (object, key, result) = match done {
                Done::Line(key, result) => (DEAL_PRODUCT, key, result),
                Done::Participant(key, result) => (PARTICIPANT, key, result),
            };
            let what = if object == DEAL_PRODUCT { "deal product" } else { "participant" };
            let deal = key.split(['#', ':']).next().unwrap_or_default().to_owned();
            match result {
                Ok(id) => {
                    journal.set_row(object, &key, Fate::Created, Some(id), Some(&deal))?;
                    if let Some(sent) = sent.remove(&key) {
                        journal.set_row_sent(object, &key, &sent)?;
                    }
                    if object == DEAL_PRODUCT { outcome.lines_created += 1 } else { outcome.participants_created += 1 }
                }
                Err(ClientError::Rejected { status, message, .. }) => {
                    journal.forget_row(object, &key)?;
                    outcome.unsent.push(format!("{what} {key}: Pipedrive refused it ({status}): {message}"));
                }
                // Left as an open intent: the next run looks for it before sending it again.
                Err(ClientError::WriteOutcomeUnknown { .. } | ClientError::GaveUp { .. }) => {
                    outcome.unsent.push(format!("{what} {key} was sent, its outcome is unknown: run apply again"));
                }
                Err(error) => {
                    stop.get_or_insert(error.into());
                }
            }
        }
    }
    outcome.tokens = client.bill().tokens() - tokens_before;
    match stop {
        Some(error) => Err(error),
        None => Ok(outcome),
    }
}

/// What a line is journalled as sent: the User.com product, the Pipedrive product, quantity
/// and price of one unit.
fn line_sent(line: &Line, product_id: u64) -> Json {
    serde_json::json!({ "product": line.product, "product_id": product_id, "quantity": line.quantity, "item_price": line.price })
}

/// Whether a journalled line (as sent) is the export's line now.
fn same_line(sent: &Json, line: &Line) -> bool {
    sent["product"].as_str() == Some(line.product.as_str())
        && sent["quantity"].as_f64() == Some(line.quantity)
        && sent["item_price"].as_f64() == Some(line.price)
}

/// The deal a journalled line or participant belongs to (its detail; else its key's first part).
fn deal_of(key: &str, entry: &Entry) -> String {
    entry.detail.clone().unwrap_or_else(|| key.split(['#', ':']).next().unwrap_or_default().to_owned())
}

/// Removes, from the deals of the export, the lines and participants made before that the export
/// no longer gives: a line whose product, quantity or price changed (the caller adds it again as
/// it is now) or that is gone, a participant gone. Each is removed first and journalled after,
/// with what was sent for it (one removed but not journalled is met again and found gone). A line
/// journalled without what was sent (an earlier crm-migrate) is read back once for it.
async fn remove_stale(
    client: &PipedriveClient,
    journal: &Journal,
    deals: impl Iterator<Item = Result<(String, u64, DealExtras), crate::source::SpoolError>>,
    products: &BTreeMap<String, u64>,
    outcome: &mut ProductsOutcome,
) -> Result<(), ApplyError> {
    let mut by_deal: HashMap<String, DealRows> = HashMap::new();
    for object in [DEAL_PRODUCT, PARTICIPANT] {
        for (key, entry) in journal.entries_of(object)? {
            if entry.fate == Fate::Created && entry.pipedrive_id.is_some() {
                by_deal.entry(deal_of(&key, &entry)).or_default().push((object, key, entry));
            }
        }
    }
    if by_deal.is_empty() {
        return Ok(());
    }
    for deal in deals {
        let (deal, deal_id, extras) = deal?;
        let Some(rows) = by_deal.remove(&deal) else { continue };
        let mut listed: Option<Vec<crate::pipedrive::DealProduct>> = None;
        for (object, key, entry) in rows {
            let Some(attachment) = entry.pipedrive_id else { continue };
            let mut was = entry.sent.as_deref().and_then(|sent| serde_json::from_str::<Json>(sent).ok());
            let stale = if object == DEAL_PRODUCT {
                let index = key.rsplit_once('#').and_then(|(_, index)| index.parse::<usize>().ok());
                let now = extras.lines.iter().find(|line| Some(line.index) == index);
                match (&was, now) {
                    (Some(was), Some(now)) => !same_line(was, now),
                    (None, Some(now)) => {
                        // No baseline to tell a change by: what is sent now becomes it.
                        if let Some(product_id) = products.get(&now.product) {
                            journal.set_row_sent(object, &key, &line_sent(now, *product_id).to_string())?;
                        }
                        false
                    }
                    (_, None) => true,
                }
            } else {
                let contact = key.split_once(':').map(|(_, contact)| contact).unwrap_or_default();
                !extras.participants.iter().any(|known| known == contact)
            };
            if !stale {
                continue;
            }
            if object == DEAL_PRODUCT {
                if was.is_none() {
                    if listed.is_none() {
                        listed = Some(ok_or_gone(client.deal_products(deal_id).await)?.unwrap_or_default());
                    }
                    was = listed.iter().flatten().find(|line| line.id == attachment).map(|line| {
                        serde_json::json!({ "product_id": line.product_id, "quantity": line.quantity, "item_price": line.item_price })
                    });
                }
                ok_or_gone(client.delete_deal_product(deal_id, attachment).await)?;
                outcome.lines_removed += 1;
            } else {
                ok_or_gone(client.delete_deal_participant(deal_id, attachment).await)?;
                outcome.participants_removed += 1;
            }
            journal.record_row_deletion(object, &key, attachment, was.map(|was| was.to_string()).as_deref())?;
        }
    }
    Ok(())
}

/// Adds back what run `run_id` (a delta) removed from deals (`rollback --run`), after the undo
/// deleted what it added: each line as it was sent, each participant as the person its contact
/// is now, on the deal as the journal has it now (created again by the undo, if the delta had
/// deleted it). Returns how many were added back; what cannot be is named in `not_restored`.
pub async fn restore_removed(
    client: &PipedriveClient,
    journal: &Journal,
    run_id: i64,
    not_restored: &mut Vec<String>,
) -> Result<u64, ApplyError> {
    let created = |entries: HashMap<String, Fated>| -> HashMap<String, u64> {
        entries
            .into_iter()
            .filter(|(_, entry)| entry.fate == Fate::Created)
            .filter_map(|(id, entry)| Some((id, entry.pipedrive_id?)))
            .collect()
    };
    let (deals, persons) = (created(journal.fates(ObjectKind::Deal)?), created(journal.fates(ObjectKind::Contact)?));
    let mut restored = 0;
    for object in [DEAL_PRODUCT, PARTICIPANT] {
        let what = if object == DEAL_PRODUCT { "deal product" } else { "participant" };
        for super::journal::RowDeletion { source_id: key, sent, .. } in journal.row_deletions(run_id, object)? {
            let (deal, rest) = key.split_once(['#', ':']).unwrap_or((key.as_str(), ""));
            let Some(deal_id) = deals.get(deal).copied() else {
                not_restored.push(format!("{what} {key}: its deal is not in Pipedrive now; not added back"));
                continue;
            };
            let was = sent.as_deref().and_then(|sent| serde_json::from_str::<Json>(sent).ok()).unwrap_or_default();
            let id = if object == DEAL_PRODUCT {
                let line = match (was["product_id"].as_u64(), was["quantity"].as_f64(), was["item_price"].as_f64()) {
                    (Some(product_id), Some(quantity), Some(item_price)) => {
                        NewDealProduct { product_id, item_price, quantity }
                    }
                    _ => {
                        not_restored
                            .push(format!("{what} {key}: what was sent for it is not journalled; not added back"));
                        continue;
                    }
                };
                let known: Vec<u64> = journal
                    .entries_of(DEAL_PRODUCT)?
                    .into_iter()
                    .filter(|(other, entry)| deal_of(other, entry) == deal)
                    .filter_map(|(_, entry)| entry.pipedrive_id)
                    .collect();
                client.add_deal_product(deal_id, &line, &known).await?.id
            } else {
                let Some(person) = persons.get(rest).copied() else {
                    not_restored.push(format!("{what} {key}: contact {rest} is not in Pipedrive now; not added back"));
                    continue;
                };
                client.add_deal_participant(deal_id, person).await?.id
            };
            journal.set_row(object, &key, Fate::Created, Some(id), Some(deal))?;
            if let Some(sent) = &sent {
                journal.set_row_sent(object, &key, sent)?;
            }
            journal.record_row_restored(run_id, object, &key, id)?;
            restored += 1;
        }
    }
    Ok(restored)
}

/// Whether a create's failure stops the run (a refusal or an unknown outcome is listed and the
/// step goes on; anything else, a budget stop or a block, ends it).
fn stops_the_run(result: &Result<u64, ClientError>) -> bool {
    matches!(result, Err(error) if !matches!(error, ClientError::Rejected { .. } | ClientError::WriteOutcomeUnknown { .. } | ClientError::GaveUp { .. }))
}

/// Adds one deal's lines, then its participants, in order; an open intent is looked for first.
async fn add_to_deal(client: &PipedriveClient, item: DealWork) -> Result<Vec<Done>, ClientError> {
    let DealWork { deal_id, lines, participants, mut known, .. } = item;
    let mut done = Vec::new();
    for (key, line, open) in lines {
        if open && let Some(found) = client.unknown_deal_product(deal_id, line.product_id, &known).await? {
            known.push(found.id);
            done.push(Done::Line(key, Ok(found.id)));
            continue;
        }
        let result = client.add_deal_product(deal_id, &line, &known).await.map(|added| added.id);
        if let Ok(id) = &result {
            known.push(*id);
        }
        let fatal = stops_the_run(&result);
        done.push(Done::Line(key, result));
        if fatal {
            return Ok(done);
        }
    }
    for (key, person, open) in participants {
        if open && let Some(found) = client.deal_participant(deal_id, person).await? {
            done.push(Done::Participant(key, Ok(found.id)));
            continue;
        }
        let result = client.add_deal_participant(deal_id, person).await.map(|added| added.id);
        let fatal = stops_the_run(&result);
        done.push(Done::Participant(key, result));
        if fatal {
            return Ok(done);
        }
    }
    Ok(done)
}

/// A deal's journalled lines and participants: (the journal's object, key, entry).
type DealRows = Vec<(&'static str, String, Entry)>;

/// The journalled deal products and participants, by deal source id, for rollback.
fn journalled(journal: &Journal) -> Result<HashMap<String, DealRows>, ApplyError> {
    let mut by_deal: HashMap<String, DealRows> = HashMap::new();
    for object in [DEAL_PRODUCT, PARTICIPANT] {
        for (key, entry) in journal.entries_of(object)? {
            by_deal.entry(deal_of(&key, &entry)).or_default().push((object, key, entry));
        }
    }
    Ok(by_deal)
}

/// Removes the deal products, participants and products apply made that `which` takes (the
/// journal's object, the deal's or product's User.com id, its journal line), before the deals
/// go: attachments and participants first, then the products. An open intent is looked for, as
/// its create may have been applied (on a deal with one, every attachment of a product this
/// project made is this project's). Each is forgotten as it is answered (one already gone counts
/// as removed); what is still there after is residue. Returns how many were removed.
pub async fn remove(
    client: &PipedriveClient,
    journal: &Journal,
    which: impl Fn(&str, &str, &Entry) -> bool,
    residue: &mut Vec<String>,
) -> Result<u64, ApplyError> {
    let deals = journal.fates(ObjectKind::Deal)?;
    let contacts = journal.fates(ObjectKind::Contact)?;
    let products = journal.entries_of(PRODUCT)?;
    let ours: HashSet<u64> = products.values().filter_map(|entry| entry.pipedrive_id).collect();
    let mut removed = 0;
    let mut by_deal: Vec<(String, DealRows)> = journalled(journal)?.into_iter().collect();
    by_deal.sort_by(|a, b| a.0.cmp(&b.0));
    for (deal, rows) in by_deal {
        let rows: Vec<_> = rows.into_iter().filter(|(object, _, entry)| which(object, &deal, entry)).collect();
        let Some(deal_id) = deals.get(&deal).and_then(|entry| entry.pipedrive_id) else {
            // The deal is gone from the journal: nothing in Pipedrive to find these by.
            for (object, key, _) in rows {
                journal.forget_row(object, &key)?;
            }
            continue;
        };
        let open_lines = rows.iter().any(|(object, _, entry)| *object == DEAL_PRODUCT && entry.fate == Fate::Intent);
        let mut attachments: Vec<u64> = rows
            .iter()
            .filter(|(object, _, entry)| *object == DEAL_PRODUCT && entry.fate == Fate::Created)
            .filter_map(|(_, _, entry)| entry.pipedrive_id)
            .collect();
        if open_lines {
            let listed = ok_or_gone(client.deal_products(deal_id).await)?.unwrap_or_default();
            attachments.extend(listed.iter().filter(|line| ours.contains(&line.product_id)).map(|line| line.id));
            attachments.sort_unstable();
            attachments.dedup();
        }
        for attachment in &attachments {
            ok_or_gone(client.delete_deal_product(deal_id, *attachment).await)?;
            removed += 1;
        }
        let mut entries = Vec::new();
        for (object, key, entry) in &rows {
            if *object != PARTICIPANT {
                continue;
            }
            let id = match (entry.fate, entry.pipedrive_id) {
                (Fate::Created, Some(id)) => Some(id),
                _ => {
                    let contact = key.split_once(':').map(|(_, contact)| contact).unwrap_or_default();
                    match contacts.get(contact).and_then(|entry| entry.pipedrive_id) {
                        Some(person) => {
                            ok_or_gone(client.deal_participant(deal_id, person).await)?.flatten().map(|found| found.id)
                        }
                        None => None,
                    }
                }
            };
            if let Some(id) = id {
                ok_or_gone(client.delete_deal_participant(deal_id, id).await)?;
                entries.push(id);
                removed += 1;
            }
        }
        if !attachments.is_empty()
            && let Some(still) = ok_or_gone(client.deal_products(deal_id).await)?
        {
            for line in still.iter().filter(|line| attachments.contains(&line.id)) {
                residue.push(format!("deal product (Pipedrive id {}, on deal {deal}) is still there", line.id));
            }
        }
        if !entries.is_empty()
            && let Some(still) = ok_or_gone(client.deal_participants(deal_id).await)?
        {
            for participant in
                still.iter().filter(|participant| participant.active_flag && entries.contains(&participant.id))
            {
                residue
                    .push(format!("deal participant (Pipedrive id {}, on deal {deal}) is still there", participant.id));
            }
        }
        for (object, key, _) in rows {
            journal.forget_row(object, &key)?;
        }
    }
    let mut products: Vec<(String, Entry)> =
        products.into_iter().filter(|(id, entry)| which(PRODUCT, id, entry)).collect();
    products.sort_by(|a, b| a.0.cmp(&b.0));
    for (id, entry) in products {
        if let Some(pipedrive_id) = entry.pipedrive_id {
            ok_or_gone(client.delete_product(pipedrive_id).await)?;
            match ok_or_gone(client.product(pipedrive_id).await)? {
                Some(still) if !still.is_deleted => {
                    residue.push(format!("product {id} (Pipedrive id {pipedrive_id}) is still there"))
                }
                _ => removed += 1,
            }
        }
        journal.forget_row(PRODUCT, &id)?;
    }
    Ok(removed)
}

/// An answer, or `None` when what was asked about is gone already (404).
fn ok_or_gone<T>(result: Result<T, ClientError>) -> Result<Option<T>, ApplyError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(ClientError::NotFound { .. }) => Ok(None),
        Err(error) => Err(error.into()),
    }
}

/// reconciliation.md's section (none when the run made or found nothing). Keys and reasons name
/// export ids: escaped.
pub fn section(doc: &mut Document, outcome: &ProductsOutcome) {
    let made = outcome.products_created + outcome.lines_created + outcome.participants_created;
    let removed = outcome.lines_removed + outcome.participants_removed;
    if made + removed + outcome.existing == 0 && outcome.unsent.is_empty() {
        return;
    }
    doc.section("Deal products and participants");
    doc.paragraph(words(format!(
        "Made by this run: {} products, {} deal products, {} participants; {} made before ({} tokens). Lines and participants left out of their deal are in quarantine.csv (kind: field left out).",
        thousands(outcome.products_created),
        thousands(outcome.lines_created),
        thousands(outcome.participants_created),
        thousands(outcome.existing),
        thousands(outcome.tokens)
    )));
    if removed > 0 {
        doc.paragraph(words(format!(
            "Removed because the export no longer gives them as they were: {} deal products (a changed one is added again as it is now), {} participants; `rollback --run` adds them back.",
            thousands(outcome.lines_removed),
            thousands(outcome.participants_removed)
        )));
    }
    if !outcome.unsent.is_empty() {
        doc.paragraph("Not sent, with the reason:");
    }
    doc.list(outcome.unsent.iter().map(value));
}
