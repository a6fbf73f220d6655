//! Company hierarchies: a company's parent company becomes a Pipedrive organization relationship
//! of type parent (the parent owns it, the daughter is linked), made after the organizations
//! phase, once both organizations exist. Each create is journalled as a record's is (an intent
//! before the request, the relationship's id after its answer; keyed by the daughter company, the
//! parent's id beside it), so a run stopped anywhere resumes without a duplicate: an open intent
//! is looked for among the daughter's relationships before it is sent again, and rollback deletes
//! what the journal lists. A parent the export does not have, a parent not migrated, a company
//! that is its own parent and a cycle of parents (A parent of B parent of A) are listed with the
//! reason, and nothing is sent for them.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use tokio::task::JoinSet;

use crate::mapping::{Landing, Mapping};
use crate::pipedrive::{ClientError, PipedriveClient};
use crate::record::{ObjectKind, Value};

use super::ApplyError;
use crate::journal::{Entry, Fate, Journal};
use crate::source::{Source, SpoolError};

/// The organization landing a parent company goes to (`to = "parent_org_id"`).
pub const PARENT_CODE: &str = "parent_org_id";

/// A daughter company and its parent, by User.com id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Pair {
    pub child: String,
    pub parent: String,
}

/// A pair that can be sent: both organizations exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolvable {
    pub pair: Pair,
    pub parent_org: u64,
    pub child_org: u64,
}

/// What the export's parent companies come to against the journal's organizations.
#[derive(Debug, Clone, Default)]
pub struct Hierarchy {
    pub resolvable: Vec<Resolvable>,
    /// Pairs not sent, each with why (a line for people: `company 12: ...`).
    pub unsent: Vec<(Pair, String)>,
}

/// What the step did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RelationshipsOutcome {
    /// Made by this run.
    pub created: u64,
    /// Made before (an earlier run, or found applied after a lost answer or a kill).
    pub existing: u64,
    /// Pairs not sent, and why.
    pub unsent: Vec<String>,
    pub tokens: u64,
}

/// Each company's parent (daughter id -> parent id), from the attributes the mapping sends to
/// [`PARENT_CODE`]; none when the mapping sends none there.
pub fn parents(mapping: &Mapping, source: &Source) -> Result<BTreeMap<String, String>, SpoolError> {
    let attributes: Vec<&str> = mapping
        .fields
        .iter()
        .filter(|entry| {
            entry.object == ObjectKind::Company
                && matches!(&entry.landing, Landing::Standard { code } if code == PARENT_CODE)
        })
        .map(|entry| entry.attribute.as_str())
        .collect();
    let mut parents = BTreeMap::new();
    if attributes.is_empty() {
        return Ok(parents);
    }
    for company in source.records(ObjectKind::Company) {
        let company = company?;
        let parent = attributes.iter().find_map(|attribute| match company.get(attribute) {
            Some(Value::Text(id)) if !id.trim().is_empty() => Some(id.trim().to_owned()),
            _ => None,
        });
        if let Some(parent) = parent {
            parents.insert(company.source_id.clone(), parent);
        }
    }
    Ok(parents)
}

/// The cycle a company's chain of parents returns to it by (`A -> B -> A`), if it does.
fn cycle_through(child: &str, parents: &BTreeMap<String, String>) -> Option<Vec<String>> {
    let mut chain = vec![child.to_owned()];
    let mut at = parents.get(child)?;
    for _ in 0..parents.len() {
        chain.push(at.clone());
        if at == child {
            return Some(chain);
        }
        at = parents.get(at)?;
    }
    None
}

/// Which pairs can be made, and why the others cannot. `companies`: the journal's companies;
/// `sample`: a sample run, whose parents may be outside the sample rather than the export.
pub fn resolve(
    mapping: &Mapping,
    source: &Source,
    companies: &HashMap<String, Entry>,
    sample: bool,
) -> Result<Hierarchy, SpoolError> {
    resolve_pairs(&parents(mapping, source)?, source, companies, sample)
}

/// [`resolve`] of the pairs `parents` (daughter -> parent company); `companies` needs to hold
/// only the companies of those pairs.
fn resolve_pairs(
    parents: &BTreeMap<String, String>,
    source: &Source,
    companies: &HashMap<String, Entry>,
    sample: bool,
) -> Result<Hierarchy, SpoolError> {
    let created =
        |id: &str| companies.get(id).filter(|entry| entry.fate == Fate::Created).and_then(|entry| entry.pipedrive_id);
    let not_migrated = |id: &str| match companies.get(id) {
        Some(entry) => format!(
            "{}{}",
            entry.fate.as_str(),
            entry.detail.as_deref().map(|detail| format!(": {detail}")).unwrap_or_default()
        ),
        None => "not created yet".to_owned(),
    };
    let mut hierarchy = Hierarchy::default();
    for (child, parent) in parents {
        let pair = Pair { child: child.clone(), parent: parent.clone() };
        let why = if child == parent {
            Some(format!("company {child} is its own parent: no relationship"))
        } else if let Some(cycle) = cycle_through(child, parents) {
            Some(format!("company {child}: its parent companies form a cycle ({}): not sent", cycle.join(" -> ")))
        } else if !source.has(ObjectKind::Company, parent)? {
            let place = if sample { "in this sample" } else { "in the export" };
            Some(format!("company {child}: its parent company {parent} is not {place}: not sent"))
        } else if created(child).is_none() {
            Some(format!(
                "company {child} was not migrated ({}): its parent {parent} is not linked",
                not_migrated(child)
            ))
        } else if created(parent).is_none() {
            Some(format!(
                "company {child}: its parent company {parent} was not migrated ({}): not sent",
                not_migrated(parent)
            ))
        } else {
            None
        };
        match (why, created(parent), created(child)) {
            (None, Some(parent_org), Some(child_org)) => {
                hierarchy.resolvable.push(Resolvable { pair, parent_org, child_org })
            }
            (why, ..) => hierarchy.unsent.push((pair, why.unwrap_or_default())),
        }
    }
    Ok(hierarchy)
}

/// Makes the parent relationships the export gives, after the organizations phase: those made
/// before are left as they are, open intents are looked for before they are sent again.
pub async fn run(
    client: &Arc<PipedriveClient>,
    journal: &Journal,
    mapping: &Mapping,
    source: &Source,
    concurrency: usize,
    sample: bool,
) -> Result<RelationshipsOutcome, ApplyError> {
    let tokens_before = client.bill().tokens();
    // Only the companies of a pair are read from the journal, not every company's entry.
    let parents = parents(mapping, source)?;
    let paired: Vec<&str> = parents.iter().flat_map(|(child, parent)| [child.as_str(), parent.as_str()]).collect();
    let companies = journal.entries_among(ObjectKind::Company, &paired)?;
    let hierarchy = resolve_pairs(&parents, source, &companies, sample)?;
    let journalled = journal.relationships()?;
    let mut outcome = RelationshipsOutcome {
        unsent: hierarchy.unsent.iter().map(|(_, why)| why.clone()).collect(),
        ..RelationshipsOutcome::default()
    };
    let mut jobs = Vec::new();
    for resolvable in hierarchy.resolvable {
        let Resolvable { pair, parent_org, child_org } = &resolvable;
        match journalled.get(&pair.child) {
            Some(entry) if entry.fate == Fate::Created && entry.detail.as_deref() == Some(pair.parent.as_str()) => {
                outcome.existing += 1;
                continue;
            }
            Some(entry) if entry.fate == Fate::Created => {
                outcome.unsent.push(format!(
                    "company {}: its parent is now company {} (it was {}): the relationship made before is kept, not changed",
                    pair.child,
                    pair.parent,
                    entry.detail.as_deref().unwrap_or("another")
                ));
                continue;
            }
            Some(entry) if entry.fate == Fate::Intent => {
                if let Some(found) = client.parent_relationship(*parent_org, *child_org).await? {
                    journal.set_relationship(&pair.child, Fate::Created, Some(found.id), &pair.parent)?;
                    outcome.existing += 1;
                    continue;
                }
            }
            _ => {}
        }
        jobs.push(resolvable);
    }
    let mut stop: Option<ApplyError> = None;
    let mut in_flight: JoinSet<(Pair, Result<u64, ClientError>)> = JoinSet::new();
    let mut queue = jobs.into_iter();
    loop {
        while stop.is_none() && in_flight.len() < concurrency.max(1) {
            let Some(Resolvable { pair, parent_org, child_org }) = queue.next() else { break };
            journal.set_relationship(&pair.child, Fate::Intent, None, &pair.parent)?;
            let client = client.clone();
            in_flight.spawn(async move {
                let result =
                    client.create_parent_relationship(parent_org, child_org).await.map(|relationship| relationship.id);
                (pair, result)
            });
        }
        let Some(joined) = in_flight.join_next().await else { break };
        let (pair, result) = joined.map_err(|source| ApplyError::Task { what: "relationship", source })?;
        match result {
            Ok(id) => {
                journal.set_relationship(&pair.child, Fate::Created, Some(id), &pair.parent)?;
                outcome.created += 1;
            }
            Err(ClientError::Rejected { status, message, .. }) => {
                journal.forget_relationship(&pair.child)?;
                outcome.unsent.push(format!(
                    "company {}: Pipedrive refused its parent {} ({status}): {message}",
                    pair.child, pair.parent
                ));
            }
            // Left as an open intent: the next run looks for it before sending it again.
            Err(ClientError::WriteOutcomeUnknown { .. } | ClientError::GaveUp { .. }) => {
                outcome.unsent.push(format!(
                    "company {}: the relationship to its parent {} was sent, its outcome is unknown: run apply again",
                    pair.child, pair.parent
                ));
            }
            Err(error) => {
                if stop.is_none() {
                    stop = Some(error.into());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(child, parent)| (child.to_string(), parent.to_string())).collect()
    }

    #[test]
    fn a_chain_of_parents_that_returns_to_its_start_is_a_cycle_and_one_leading_into_it_is_not() {
        let parents = chain(&[("a", "b"), ("b", "a"), ("c", "a"), ("d", "e"), ("e", "f")]);
        assert_eq!(cycle_through("a", &parents), Some(vec!["a".to_owned(), "b".to_owned(), "a".to_owned()]));
        assert_eq!(cycle_through("b", &parents).map(|cycle| cycle.len()), Some(3));
        assert_eq!(cycle_through("c", &parents), None, "c's parent is in a cycle, c is not");
        assert_eq!(cycle_through("d", &parents), None);
        assert_eq!(cycle_through("x", &parents), None);
    }
}
