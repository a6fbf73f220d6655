//! `crm-migrate verify`: reads back what arrived in Pipedrive and proves, field by field, that
//! every migrated record is what the approved mapping says it should be. The expected record is
//! what apply sends for it (the same conversion, from the export after the plugins); the actual
//! one comes from the cheapest listings (500 records a call). Each journalled record ends
//! verified, mismatched (field, expected, actual), or missing; records that carry a User.com
//! marker the journal does not know are unexpected. Each parent relationship the export gives
//! (company hierarchies) is read back by its journalled id and must link the parent's
//! organization to the daughter's; one missing is named. Besides, the source coverage
//! ([`coverage`]) checks from the export's side that every source value arrived, or is listed
//! as intentionally not migrated with its reason: a wrong mapping or a wrong payload, which the
//! comparison with apply cannot see, shows there as values missing.

pub mod attachments;
pub mod coverage;
pub mod deal_products;
pub mod existing;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use serde::Serialize;
use serde_json::{Value, json};

use crate::apply::load::{self, Payload};
use crate::apply::payload::Links;
use crate::apply::workspace::{self, Targets};
use crate::apply::{self, ApplyError, Prepared};
use crate::extract::ExtractError;
use crate::journal::{Fate, Journal};
use crate::mapping::{Destination, Landing, Mapping, NewFieldType};
use crate::pipedrive::{ClientError, PipedriveClient};
use crate::project::Project;
use crate::readback::{ReadbackError, Spool, differences};
use crate::record::ObjectKind;
use crate::report::{Document, Files, Item, Table, Text, code, number, thousands, value, words};
use crate::source::OpenExportError;
use crate::state::{State, StateError};
use coverage::Coverage;

/// Why verify could not finish (a record that differs is a finding, not an error).
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("reading back from Pipedrive")]
    Client(#[from] ClientError),
    #[error(transparent)]
    Readback(#[from] ReadbackError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Export(#[from] OpenExportError),
    #[error(transparent)]
    Extract(#[from] ExtractError),
    /// What apply would send is worked out by apply's own steps (the workspace's targets, the
    /// links, the payloads): one of them failed.
    #[error(transparent)]
    Apply(Box<ApplyError>),
    #[error("writing {}: {source}", .path.display())]
    Write { path: PathBuf, source: std::io::Error },
    /// A report (reconciliation.md, verification.md...) could not be written.
    #[error(transparent)]
    Report(#[from] crate::report::WriteError),
}

// Boxed: apply's error is large, and most of this verb's errors are small.
impl From<ApplyError> for VerifyError {
    fn from(error: ApplyError) -> VerifyError {
        VerifyError::Apply(Box::new(error))
    }
}

/// One field that differs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mismatch {
    pub object: ObjectKind,
    pub source_id: String,
    pub pipedrive_id: u64,
    pub field: String,
    pub expected: Value,
    pub actual: Value,
}

/// A record that should be there and is not.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Missing {
    pub object: ObjectKind,
    pub source_id: String,
    pub pipedrive_id: u64,
}

/// A record carrying a User.com marker the journal does not know (made by hand, or left by an
/// interrupted run of another project).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unexpected {
    pub object: ObjectKind,
    pub marker: String,
    pub pipedrive_id: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ObjectCounts {
    pub verified: u64,
    pub mismatched: u64,
    pub missing: u64,
    pub unexpected: u64,
}

/// The company hierarchy read back: parent relationships as the export gives them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Hierarchy {
    pub verified: u64,
    /// Pairs whose relationship is not in Pipedrive (or links other organizations), each a line.
    pub missing: Vec<String>,
    /// Pairs apply does not send, with the reason (a parent not in the export, a cycle, ...).
    pub not_sent: Vec<String>,
}

/// How one User.com object or attribute landed, as migration buyers read it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Compatibility {
    pub source: String,
    pub landed: String,
    pub how: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Verification {
    pub objects: BTreeMap<ObjectKind, ObjectCounts>,
    pub mismatches: Vec<Mismatch>,
    pub missing: Vec<Missing>,
    pub unexpected: Vec<Unexpected>,
    pub hierarchy: Hierarchy,
    /// Deal products and participants read back against the export.
    pub deal_products: deal_products::DealProductsCheck,
    /// Files apply uploaded, read back (name, size, person).
    pub attachments: attachments::AttachmentsCheck,
    pub tokens: u64,
    pub objects_compatibility: Vec<Compatibility>,
    pub fields_compatibility: Vec<Compatibility>,
    /// Every source value: landed in a field, in a note, left out with a reason, or missing.
    pub coverage: Coverage,
    pub reports: Vec<PathBuf>,
}

impl Verification {
    pub fn all_verified(&self) -> bool {
        self.mismatches.is_empty()
            && self.missing.is_empty()
            && self.unexpected.is_empty()
            && self.hierarchy.missing.is_empty()
            && self.deal_products.missing.is_empty()
            && self.attachments.missing.is_empty()
            && self.coverage.missing() == 0
    }
}

/// The objects other records link to (by their Pipedrive ids), in the order apply links them.
const LINKED_TO: [ObjectKind; 3] = [ObjectKind::Company, ObjectKind::Contact, ObjectKind::Deal];

/// Reads the account back and compares. Writes nothing to Pipedrive.
pub async fn verify(
    project: &Project,
    prepared: Prepared,
    client: &PipedriveClient,
    progress: crate::profile::ReadProgress<'_>,
) -> Result<Verification, VerifyError> {
    let tokens_before = client.bill().tokens();
    let journal = Journal::read(State::open(&project.dir)?);
    let export = match prepared.export_dir() {
        Some(dir) => crate::source::open_export_at(project, dir)?,
        None => crate::source::open_export(project)?,
    };
    let (mapping, source, needs) = prepared.into_parts();
    let (mapping, source) = (&mapping, &source);
    // The records others link to, read once (their fates and ids, not what was sent): created, linked.
    let mut journalled: HashMap<ObjectKind, (Ids, Ids)> = HashMap::new();
    for object in LINKED_TO {
        journalled.insert(object, (ids_with_fate(&journal, object, Fate::Created)?, linked_ids(&journal, object)?));
    }
    // The workspace as the records apply migrated need it: after a sample, the rest of the
    // export's options and labels are not made yet, and are no sign of anything deleted.
    let needs = apply::needs_of(mapping, source, needs.tag_labels, &|object, id| {
        journalled.get(&object).is_some_and(|(created, linked)| created.contains_key(id) || linked.contains_key(id))
    })
    .map_err(ApplyError::from)?;
    let targets = Targets {
        marking: project.markers(),
        ..workspace::ensure(client, project.config.target.url.get_ref(), mapping, needs, &journal, false).await?
    };
    let mut links = Links {
        survivors: source.survivors.clone(),
        contacts: apply::payload::Contacts::of(source),
        ..Links::default()
    };
    for object in LINKED_TO {
        let (created, linked) = &journalled[&object];
        apply::add_links(&mut links, object, created, source).map_err(ApplyError::from)?;
        apply::add_links(&mut links, object, linked, source).map_err(ApplyError::from)?;
    }

    let mut spool = Spool::new()?;
    let names = targets.field_names();
    let mut verification = Verification {
        objects: BTreeMap::new(),
        mismatches: Vec::new(),
        missing: Vec::new(),
        unexpected: Vec::new(),
        hierarchy: Hierarchy::default(),
        deal_products: Default::default(),
        attachments: Default::default(),
        tokens: 0,
        objects_compatibility: objects_compatibility(mapping),
        fields_compatibility: fields_compatibility(mapping),
        coverage: Coverage::default(),
        reports: Vec::new(),
    };
    // Per object with a marker field: Pipedrive id -> the User.com id its marker holds (links are
    // read back by them).
    let mut markers: HashMap<ObjectKind, HashMap<u64, String>> = HashMap::new();
    for destination in
        [Destination::Organization, Destination::Person, Destination::Deal, Destination::Activity, Destination::Note]
    {
        let objects: Vec<ObjectKind> =
            ObjectKind::ALL.into_iter().filter(|object| Destination::of(*object) == destination).collect();
        let mut created: HashMap<ObjectKind, HashMap<String, u64>> = HashMap::new();
        for object in &objects {
            let ids = match journalled.remove(object) {
                Some((created, _)) => created,
                None => ids_with_fate(&journal, *object, Fate::Created)?,
            };
            created.insert(*object, ids);
        }
        // Records that carry a User.com marker the journal does not give them, as listed.
        let listing = format!("Pipedrive's {}s", destination.name());
        let mut listed = 0;
        progress(&listing, 0, false);
        spool
            .list(client, destination, |pipedrive_id, record| {
                listed += 1;
                if listed % crate::source::PROGRESS_EVERY == 0 {
                    progress(&listing, listed, false);
                }
                for object in &objects {
                    let Some(marker) = marker_of(*object, record, &targets) else { continue };
                    if created[object].get(&marker) != Some(&pipedrive_id) {
                        verification.unexpected.push(Unexpected {
                            object: *object,
                            marker: marker.clone(),
                            pipedrive_id,
                        });
                    }
                    if load::marker_entity(*object).is_some() {
                        markers.entry(*object).or_default().insert(pipedrive_id, marker);
                    }
                }
            })
            .await?;
        progress(&listing, listed, true);
        for object in objects {
            let created = created.remove(&object).unwrap_or_default();
            let unexpected = verification.unexpected.iter().filter(|unexpected| unexpected.object == object).count();
            let counts = compare(
                &mut verification,
                &Compared { journal: &journal, object, spool: &spool, targets: &targets, names: &names },
                created,
                &mut |each| apply::expected_payloads(object, mapping, &targets, source, &links, each),
            )?;
            verification.objects.insert(object, ObjectCounts { unexpected: unexpected as u64, ..counts });
        }
    }
    verification
        .unexpected
        .sort_by(|a, b| (a.object, &a.marker, a.pipedrive_id).cmp(&(b.object, &b.marker, b.pipedrive_id)));
    let (read_back, parents) = hierarchy(client, &journal, mapping, source).await?;
    verification.hierarchy = read_back;
    verification.deal_products = deal_products::check(client, &journal, mapping, source, &project.markers()).await?;
    verification.attachments = attachments::check(client, &journal, source).await?;
    let context = coverage::Context {
        mapping,
        targets: &targets,
        source,
        journal: &journal,
        listed: &spool,
        markers: &markers,
        parents: &parents,
    };
    verification.coverage = coverage::coverage(&export, &context, progress)?;
    spool.failure()?;
    verification.tokens = client.bill().tokens() - tokens_before;
    verification.reports = write_reports(project, &verification)?;
    Ok(verification)
}

/// What comparing one object's records needs besides the records.
struct Compared<'a> {
    journal: &'a Journal,
    object: ObjectKind,
    spool: &'a Spool,
    targets: &'a Targets,
    names: &'a HashMap<String, String>,
}

/// Compares the records of one object the journal says were created, or linked to one the
/// account had, with what apply sends for them (`expected`, any number at a time, in any order),
/// record by record against the record listed with its Pipedrive id. Adds what differs and what
/// is missing to `verification`, each in the order of the source ids; returns the counts.
/// What apply sends for each record of one object, handed chunk by chunk (a chunk of the spool at a time).
type Expected<'a> = &'a mut dyn FnMut(&mut dyn FnMut(apply::Expected)) -> Result<(), crate::source::SpoolError>;

fn compare(
    verification: &mut Verification,
    compared: &Compared,
    mut created: HashMap<String, u64>,
    expected: Expected,
) -> Result<ObjectCounts, VerifyError> {
    let Compared { journal, object, spool, targets, .. } = *compared;
    let mut linked = linked_ids(journal, object)?;
    let linked_check = existing::Linked::of(journal, object, &linked, targets)?;
    let mut counts = ObjectCounts::default();
    let (mut mismatches, mut missing, mut linked_mismatches) = (Vec::new(), Vec::new(), Vec::new());
    let mut check = |created: &mut HashMap<String, u64>,
                     linked: &mut HashMap<String, u64>,
                     source_id: String,
                     expected: Option<&Result<Payload, String>>| {
        if let (Some(pipedrive_id), Some(linked_check)) = (linked.remove(&source_id), &linked_check) {
            let actual = spool.get(Destination::of(object), pipedrive_id);
            let found = linked_check.check(&source_id, pipedrive_id, expected, actual.as_deref());
            if found.is_empty() {
                counts.verified += 1;
            } else {
                counts.mismatched += 1;
            }
            linked_mismatches.extend(found);
        }
        let Some(pipedrive_id) = created.remove(&source_id) else { return };
        match check_created(compared, &source_id, pipedrive_id, expected) {
            Some(found) if found.is_empty() => counts.verified += 1,
            Some(found) => {
                counts.mismatched += 1;
                mismatches.extend(found);
            }
            None => {
                counts.missing += 1;
                missing.push(Missing { object, source_id, pipedrive_id });
            }
        }
    };
    expected(&mut |chunk| {
        for (source_id, payload) in chunk {
            check(&mut created, &mut linked, source_id, Some(&payload));
        }
    })
    .map_err(ApplyError::from)?;
    // Those apply sends nothing for now.
    let rest: Vec<String> = created.keys().chain(linked.keys()).cloned().collect();
    for source_id in rest {
        check(&mut created, &mut linked, source_id, None);
    }
    mismatches.sort_by(|a: &Mismatch, b: &Mismatch| a.source_id.cmp(&b.source_id));
    linked_mismatches.sort_by(|a: &Mismatch, b: &Mismatch| a.source_id.cmp(&b.source_id));
    missing.sort_by(|a: &Missing, b: &Missing| a.source_id.cmp(&b.source_id));
    verification.mismatches.extend(mismatches.into_iter().chain(linked_mismatches));
    verification.missing.extend(missing);
    Ok(counts)
}

/// The fields that differ (none: verified) between one created record as listed and what apply
/// sends for it (`expected`; none: the export has it no more); None when it is not listed.
fn check_created(
    compared: &Compared,
    source_id: &str,
    pipedrive_id: u64,
    expected: Option<&Result<Payload, String>>,
) -> Option<Vec<Mismatch>> {
    let Compared { object, spool, targets, names, .. } = *compared;
    let record = spool.get(Destination::of(object), pipedrive_id)?;
    let differences = match expected {
        Some(Ok(payload)) => differences(
            object,
            &load::payload_json(payload),
            &in_current_form(object, source_id, &record, targets),
            names,
        ),
        Some(Err(reason)) => {
            vec![("(record)".to_owned(), json!(format!("not migrated now: {reason}")), json!("present"))]
        }
        None => vec![("(record)".to_owned(), json!("not in the export any more"), json!("present"))],
    };
    Some(
        differences
            .into_iter()
            .map(|(field, expected, actual)| Mismatch {
                object,
                source_id: source_id.to_owned(),
                pipedrive_id,
                field,
                expected,
                actual,
            })
            .collect(),
    )
}

/// Reads back the parent relationship of each pair the export gives, by its journalled id (2
/// tokens each): it must be live, of type parent, and link the parent's organization to the
/// daughter's. Returns the check and what the relationships read hold (daughter organization ->
/// parent organization), for the coverage.
async fn hierarchy(
    client: &PipedriveClient,
    journal: &Journal,
    mapping: &Mapping,
    source: &crate::source::Source,
) -> Result<(Hierarchy, HashMap<u64, u64>), VerifyError> {
    let expected = apply::relationships::resolve(mapping, source, &journal.entries_unsent(ObjectKind::Company)?, false)
        .map_err(ApplyError::from)?;
    let journalled = journal.relationships()?;
    let mut checked =
        Hierarchy { not_sent: expected.unsent.into_iter().map(|(_, why)| why).collect(), ..Hierarchy::default() };
    let mut parents = HashMap::new();
    for apply::relationships::Resolvable { pair, parent_org, child_org } in expected.resolvable {
        let id = journalled
            .get(&pair.child)
            .filter(|entry| entry.fate == Fate::Created && entry.detail.as_deref() == Some(pair.parent.as_str()))
            .and_then(|entry| entry.pipedrive_id);
        let read = match id {
            Some(id) => match client.organization_relationship(id).await {
                Ok(relationship) => {
                    Some(relationship).filter(|relationship| relationship.active_flag && relationship.kind == "parent")
                }
                Err(crate::pipedrive::ClientError::NotFound { .. }) => None,
                Err(error) => return Err(error.into()),
            },
            None => None,
        };
        let what = format!(
            "company {}'s parent relationship to company {} (organization {parent_org} parent of {child_org})",
            pair.child, pair.parent
        );
        match (read, id) {
            (Some(relationship), _)
                if relationship.rel_owner_org_id == parent_org && relationship.rel_linked_org_id == child_org =>
            {
                parents.insert(child_org, parent_org);
                checked.verified += 1;
            }
            (Some(relationship), Some(id)) => {
                parents.insert(relationship.rel_linked_org_id, relationship.rel_owner_org_id);
                checked.missing.push(format!(
                    "{what}: missing; relationship {id} links organization {} to {} instead",
                    relationship.rel_owner_org_id, relationship.rel_linked_org_id
                ));
            }
            (_, Some(id)) => checked.missing.push(format!("{what}: missing in Pipedrive (was relationship {id})")),
            (_, None) => checked.missing.push(format!("{what}: missing, never made (run apply)")),
        }
    }
    Ok((checked, parents))
}

/// Source id -> Pipedrive id.
type Ids = HashMap<String, u64>;

/// Source id -> Pipedrive id of every record of `object` the journal gives this fate, read as
/// the journal's rows come (their fates and ids only: what was sent, large, is not read).
fn ids_with_fate(journal: &Journal, object: ObjectKind, fate: Fate) -> Result<Ids, VerifyError> {
    let mut ids = HashMap::new();
    journal.each_fate(object, |id, fated| {
        if let (true, Some(pipedrive_id)) = (fated.fate == fate, fated.pipedrive_id) {
            ids.insert(id.to_owned(), pipedrive_id);
        }
    })?;
    Ok(ids)
}

/// Source id -> Pipedrive id of the records linked to one the account had.
fn linked_ids(journal: &Journal, object: ObjectKind) -> Result<Ids, VerifyError> {
    ids_with_fate(journal, object, Fate::Linked)
}

/// The User.com id a record carries as this project writes it: its marker field's exact value
/// (this account's, or the old bare id), or the last paragraph of its text (see `crate::marker`).
/// Another account's records and marker-like text anywhere else are not markers.
fn marker_of(object: ObjectKind, record: &Value, targets: &Targets) -> Option<String> {
    if let Some(entity) = load::marker_entity(object) {
        let code = targets.markers.get(&entity)?;
        return targets.marking.parse_field(record["custom_fields"][code].as_str()?);
    }
    let text = record["note"].as_str().or(record["content"].as_str())?;
    targets.marking.parse_text(object, text)
}

/// The record with its marker as apply writes it now, when it carries this record's marker in
/// another form this project reads (the old form, written before the project had an account):
/// the marker names the record, it is not data to compare.
fn in_current_form<'a>(object: ObjectKind, source_id: &str, record: &'a Value, targets: &Targets) -> Cow<'a, Value> {
    if marker_of(object, record, targets).as_deref() != Some(source_id) {
        return Cow::Borrowed(record);
    }
    // Copied only when the marker is in another form (most records carry it as apply writes it).
    if let Some(entity) = load::marker_entity(object) {
        let current = json!(targets.marking.field_value(source_id));
        return match targets.markers.get(&entity) {
            Some(code) if record["custom_fields"][code] != current => {
                let mut record = record.clone();
                record["custom_fields"][code] = current;
                Cow::Owned(record)
            }
            _ => Cow::Borrowed(record),
        };
    }
    let key = if record["note"].is_string() { "note" } else { "content" };
    let text = record[key].as_str().unwrap_or_default();
    if let Some(start) = text.rfind("<p>") {
        let current = format!("{}{}", &text[..start], targets.marking.paragraph(object, source_id));
        if current != text {
            let mut record = record.clone();
            record[key] = json!(current);
            return Cow::Owned(record);
        }
    }
    Cow::Borrowed(record)
}

fn objects_compatibility(mapping: &Mapping) -> Vec<Compatibility> {
    let row = |source: &str, landed: &str, how: &str| Compatibility {
        source: source.into(),
        landed: landed.into(),
        how: how.into(),
    };
    vec![
        row(
            "contacts",
            "persons",
            "1:1; tags as labels, the opt-out as marketing status where the account has Campaigns",
        ),
        row(
            "companies",
            "organizations",
            "1:1; street, city, region and country joined into one address; a parent company as a parent relationship between the two organizations",
        ),
        row(
            "deals",
            "deals",
            "lossy: the creation time in a custom field (Pipedrive's API takes no add_time on deals); abandoned and archived become lost, with the reason",
        ),
        row(
            "deals' order lines and participants",
            "deal products and deal participants",
            "each line a deal product (quantity, unit price) of a product created once from products.csv; each participant the contact's person; lines naming a product by custom id, and the deals' bare product lists, are not migrated",
        ),
        row("activities", "activities", "lossy: the creation time and creator in the note (the API cannot set them)"),
        row(
            "events",
            "activities",
            &format!(
                "mapping required: each event a done activity of type '{}', its data in the note",
                mapping.event_activity_type.target
            ),
        ),
        row(
            "conversations",
            "notes",
            "lossy: each conversation flattened into one note on its person, messages in time order with sender and time",
        ),
        row(
            "files linked in chat messages",
            "files on the conversation's person",
            "each file a message's HTML links to, from a host [attachments] allows, up to max_bytes, downloaded and uploaded; files of contacts, companies and deals: User.com's API has none (no file attribute type, no files endpoint), so none move",
        ),
        row(
            "segments",
            "not migrated",
            "Pipedrive filters are rebuilt by hand: see the handoff's segment-to-filter mapping",
        ),
        row(
            "automations",
            "not migrated",
            "no API creates Pipedrive automations: see the handoff's automations inventory",
        ),
        row("email templates", "not migrated", "rebuilt in Pipedrive by hand: see the handoff's email templates"),
    ]
}

fn fields_compatibility(mapping: &Mapping) -> Vec<Compatibility> {
    mapping
        .fields
        .iter()
        .map(|entry| {
            let destination = Destination::of(entry.object);
            let (landed, how) = match &entry.landing {
                Landing::Standard { code } => {
                    let how = destination.standard(code).map_or("", |standard| standard.how);
                    let kind = if matches!(how, "as is" | "the primary email" | "the primary phone") {
                        "migrated"
                    } else {
                        "transformed"
                    };
                    (format!("{}.{code}", destination.name()), format!("{kind}: {how}"))
                }
                Landing::Existing { field, .. } => (
                    format!("{} field '{field}'", destination.name()),
                    "migrated into an existing custom field".to_owned(),
                ),
                Landing::New { field, ty, .. } => {
                    let how = match ty {
                        NewFieldType::DateTime => "transformed: a date field and a time field (UTC)".to_owned(),
                        NewFieldType::Enum | NewFieldType::Set => "migrated: options by label".to_owned(),
                        NewFieldType::Monetary => "transformed: an amount with its currency".to_owned(),
                        other => format!("migrated ({})", other.as_str()),
                    };
                    (format!("{} field '{field}'", destination.name()), how)
                }
                Landing::Skip { reason } => ("not migrated".to_owned(), format!("skipped: {reason}")),
            };
            Compatibility { source: entry.key(), landed, how }
        })
        .collect()
}

/// The company hierarchy section of verification.md (none when the export gives no parents).
/// The lines name source ids and quote reasons from the export: escaped.
fn hierarchy_section(doc: &mut Document, hierarchy: &Hierarchy) {
    if hierarchy.verified == 0 && hierarchy.missing.is_empty() && hierarchy.not_sent.is_empty() {
        return;
    }
    doc.section("Company hierarchy");
    doc.paragraph(words(format!(
        "Parent relationships: {} verified, {} missing in Pipedrive, {} not sent by apply (listed with the reason).",
        thousands(hierarchy.verified),
        thousands(hierarchy.missing.len() as u64),
        thousands(hierarchy.not_sent.len() as u64)
    )));
    doc.list(hierarchy.missing.iter().chain(&hierarchy.not_sent).map(value));
}

/// The source coverage section of verification.md: the table, then why values were left out
/// and the first values missing. Source ids and reasons come from the export: escaped.
fn coverage_section(doc: &mut Document, coverage: &Coverage) {
    doc.section("Source coverage");
    doc.paragraph(match coverage.missing() {
        0 => words("Every source value arrived, or is listed below as left out with its reason."),
        missing => Text::new()
            .strong(format!("{} source values are missing in Pipedrive", thousands(missing)))
            .words(": see the examples below."),
    });
    doc.paragraph(
        "Each non-empty value of the export is looked for where the approved mapping sends it, \
         independently of what apply sends: text trimmed and whitespace-collapsed, emails case-insensitive, phones by their digits, \
         numbers by value, dates and datetimes by the UTC instant at the field's precision, choices as sets of labels, tags by label \
         names, links by the linked record's User.com marker, text in a note after its HTML is taken off. A value is left out when \
         the mapping skips it, it did not read as its column's type, its record was merged, quarantined or excluded, or it is a secret.",
    );
    let mut table =
        Table::new(["Object", "Attribute", "Lands in", "In a field", "In a note", "Left out", "Missing"]).figures(3..7);
    for row in &coverage.attributes {
        table.row(
            [words(row.object.to_string()), code(&row.attribute), value(&row.lands_in)]
                .into_iter()
                .chain([row.in_field, row.in_note, row.left_out, row.missing].map(number)),
        );
    }
    doc.table(table);
    let example =
        |object: &str, source_id: &str, why: &str| words(format!("{object} ")).value(source_id).words(": ").value(why);
    let left_out: Vec<_> = coverage.attributes.iter().filter(|row| row.left_out > 0).collect();
    if !left_out.is_empty() {
        doc.subsection("Left out, with the reason");
        doc.nested_list(left_out.into_iter().map(|row| {
            let reasons = row.left_out_reasons.iter().map(|(reason, count)| number(*count).words(" ").value(reason));
            Item {
                text: words(format!("{} ", row.object))
                    .code(&row.attribute)
                    .words(": ")
                    .then(Text::join(reasons, "; ")),
                items: row
                    .left_out_examples
                    .iter()
                    .map(|e| example(&row.object.to_string(), &e.source_id, &e.why))
                    .collect(),
            }
        }));
    }
    let missing: Vec<_> = coverage.attributes.iter().filter(|row| row.missing > 0).collect();
    if !missing.is_empty() {
        doc.subsection("Missing in Pipedrive (the first few of each attribute)");
        doc.nested_list(missing.into_iter().map(|row| {
            Item {
                text: words(format!("{} ", row.object))
                    .code(&row.attribute)
                    .words(format!(": {} missing", thousands(row.missing))),
                items: row
                    .missing_examples
                    .iter()
                    .map(|e| example(&row.object.to_string(), &e.source_id, &e.why))
                    .collect(),
            }
        }));
    }
}

/// Writes verification.md and verification.json, both or neither.
fn write_reports(project: &Project, verification: &Verification) -> Result<Vec<PathBuf>, VerifyError> {
    let mut files = Files::in_dir(&project.reports_dir())?;
    files.write("verification.md", document(verification).markdown())?;
    files.write(
        "verification.json",
        serde_json::to_string_pretty(verification).expect("plain data serializes") + "\n",
    )?;
    Ok(files.commit()?)
}

/// verification.md as a [`Document`].
fn document(verification: &Verification) -> Document {
    let mut doc = Document::new("Verification");
    let verdict = if verification.all_verified() {
        words("Every migrated record is verified, and every source value is accounted for.")
    } else {
        Text::new().strong("Not everything is verified").words(": see below.")
    };
    doc.paragraph(verdict.words(format!(" Reading Pipedrive back cost {} tokens.", thousands(verification.tokens))));
    doc.paragraph(
        "Each record the journal says was created is compared, field by field, with what apply sends for it from the export \
         (after the plugins) by the approved mapping. Times are compared in UTC: User.com times are converted from the offset \
         they were written in, and times written without one were read as UTC (the audit lists those columns); a date+time \
         attribute is a date and a UTC time of day. Numbers compare by value, options and labels by id, emails and phones as \
         values with the primary first. Not compared: the marketing status (the listings do not return it).",
    );
    let mut objects =
        Table::new(["Object", "Verified", "Mismatched", "Missing in Pipedrive", "Unexpected"]).figures(1..5);
    for (object, counts) in &verification.objects {
        objects.row(
            [words(object.to_string())]
                .into_iter()
                .chain([counts.verified, counts.mismatched, counts.missing, counts.unexpected].map(number)),
        );
    }
    doc.table(objects);
    if !verification.mismatches.is_empty() {
        doc.section("Mismatches");
        let mut table = Table::new(["Record", "Pipedrive id", "Field", "Expected", "Actual"]).figures([1]);
        for mismatch in &verification.mismatches {
            table.row([
                words(format!("{} ", mismatch.object)).value(&mismatch.source_id),
                words(mismatch.pipedrive_id.to_string()),
                value(&mismatch.field),
                value(mismatch.expected.to_string()),
                value(mismatch.actual.to_string()),
            ]);
        }
        doc.table(table);
    }
    if !verification.missing.is_empty() {
        doc.section("Missing in Pipedrive");
        doc.list(verification.missing.iter().map(|missing| {
            words(format!("{} ", missing.object))
                .value(&missing.source_id)
                .words(format!(" (was Pipedrive id {})", missing.pipedrive_id))
        }));
    }
    if !verification.unexpected.is_empty() {
        doc.section("Unexpected: a User.com marker the journal does not know");
        doc.list(verification.unexpected.iter().map(|unexpected| {
            words(format!("{} marked ", unexpected.object))
                .value(&unexpected.marker)
                .words(format!(" (Pipedrive id {})", unexpected.pipedrive_id))
        }));
    }
    hierarchy_section(&mut doc, &verification.hierarchy);
    deal_products::section(&mut doc, &verification.deal_products);
    attachments::section(&mut doc, &verification.attachments);
    coverage_section(&mut doc, &verification.coverage);
    doc.section("Compatibility: objects");
    let mut objects = Table::new(["User.com", "Pipedrive", "How"]);
    for row in &verification.objects_compatibility {
        objects.row([words(&row.source), words(&row.landed), words(&row.how)]);
    }
    doc.table(objects);
    doc.section("Compatibility: fields");
    let mut fields = Table::new(["User.com", "Pipedrive", "How"]);
    for row in &verification.fields_compatibility {
        fields.row([code(&row.source), value(&row.landed), value(&row.how)]);
    }
    doc.table(fields);
    doc
}
