//! `crm-migrate plan`: reads the export and the target account (writing nothing to Pipedrive),
//! proposes `mapping.toml` (keeping a person's earlier edits), and works out what apply will
//! create in the workspace and what it will cost in tokens and days.
//!
//! ```text
//! workspace  the target's users, fields, pipelines, stages, activity types (7 reads), first:
//!            the export is matched with the account's records as it is read
//! profile    the export, attribute by attribute, in the audit's read (one streaming pass for
//!            the audit, the profile, the matches and the notes' sizes)
//! propose    where each attribute lands, with confidence and reasons; the rest of the map
//! merge      a re-plan keeps what a person changed, takes fresh proposals for the rest
//! changes    what apply creates in the workspace
//! bill       tokens per phase, days of budget, wall time
//! limits     what the account's plan can hold: refusals, conversations split into parts
//! existing   records the account already has that match the export: link, update or create
//! attachments  file links in chat messages: how many apply fetches, which not and why
//! deal_products  products, deal products and participants apply adds, and their calls
//! side_effects   the webhooks the load fires (read from the account), automations to pause
//! grade      simple / standard / complex, with its reasons, and the calendar estimate
//! comments   the notes beside each choice in mapping.toml
//! report     reports/plan.md and plan.json
//! ```

pub mod attachments;
pub mod bill;
pub mod changes;
pub mod comments;
pub mod deal_products;
pub mod existing;
pub mod grade;
pub mod limits;
pub mod merge;
pub mod propose;
pub mod report;
pub mod side_effects;

use std::path::PathBuf;

use crate::extract::ExtractError;
use crate::mapping::file::{self, MappingError};
use crate::mapping::{MAPPING_FILE, Mapping, check};
use crate::pipedrive::{ClientError, PipedriveClient};
use crate::plugins::{Hook, TagFate};
use crate::project::{CONFIG_FILE, Project, ProjectError};
use crate::source::labels::{LabelPluginError, catalogue_tags, label_plugin_decisions};
use crate::source::{OpenExportError, open_export};
use crate::state::{State, StateError, now_utc};

use crate::audit::Observer;
use crate::extract::{ReadRecord, RecordReader};
use crate::pipedrive::workspace::Workspace;
use crate::profile::{self, SourceProfile};
use crate::record::ObjectKind;
use bill::Bill;
use changes::{LabelDecisions, WorkspaceChanges};

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Extract(#[from] ExtractError),
    #[error("reading the Pipedrive workspace")]
    Client(#[from] ClientError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("{} cannot be read, so plan will not overwrite it; fix it (or delete it to start over):\n{}", .path.display(), .errors.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n"))]
    UnreadableMapping { path: PathBuf, errors: Vec<MappingError> },
    #[error(transparent)]
    LabelPlugin(#[from] LabelPluginError),
    #[error(transparent)]
    Export(#[from] OpenExportError),
    #[error("{}: {source}", .path.display())]
    Io { path: PathBuf, source: std::io::Error },
    /// Boxed: a project's error is the largest, and this one travels inside apply's.
    #[error(transparent)]
    Project(Box<ProjectError>),
    /// The audit plan runs for the duplicates and orphans the grade counts.
    #[error(transparent)]
    Audit(#[from] crate::audit::AuditError),
    #[error("{}:\n{}", .path.display(), .errors.iter().map(|e| format!("  {e}")).collect::<Vec<_>>().join("\n"))]
    ExistingUnreadable { path: PathBuf, errors: Vec<String> },
    /// A record of the export matches several of the account's and nobody decided which.
    #[error(
        "{}: {object} {source_id} matches several records of the account ({}) and is not decided: set its decision (link or update with pipedrive_id, or create)",
        .path.display(), .candidates.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
    )]
    ExistingUndecided { path: PathBuf, object: &'static str, source_id: String, candidates: Vec<u64> },
    /// The machine's trust store refused a plugin (the CLI exits 12).
    #[error(transparent)]
    Trust(#[from] crate::plugins::TrustError),
}

/// Everything a plan found and decided.
#[derive(Debug)]
pub struct PlanResult {
    pub mapping: Mapping,
    pub mapping_path: PathBuf,
    /// Entries where a person's edit was kept over the fresh proposal (`contact.city`, `owners.agents.x`).
    pub kept_edits: Vec<String>,
    /// Entries new since the last mapping.toml (all of them on a first plan).
    pub added: Vec<String>,
    /// Entries of the last mapping.toml whose source is gone from the export.
    pub dropped: Vec<String>,
    /// What the mapping, as written, still gets wrong (kept edits can be wrong); apply needs none.
    pub errors: Vec<MappingError>,
    pub changes: WorkspaceChanges,
    pub bill: Bill,
    /// Who decided the labels: the label plugin's name, or the default rule.
    pub labels_by: String,
    pub labels: LabelDecisions,
    pub profile: SourceProfile,
    pub workspace: Workspace,
    /// Tokens plan itself spent reading the workspace.
    pub plan_tokens: u64,
    pub planned_at: String,
    /// Choices the plan cannot make for a person (REVIEW): plan exits non-zero while any is open.
    pub decisions: Vec<Decision>,
    /// The account's limits against the migration; its refusals are among `errors` too.
    pub limits: limits::LimitsCheck,
    /// How hard the migration is, why, and how long the load takes.
    pub assessment: grade::Assessment,
    /// Plugins swapped since the last approval, with what each swap does to the export.
    pub plugin_swaps: Vec<crate::plugin_diff::Swap>,
    /// Records the account already has that match the export, and what is decided for each.
    pub existing: existing::ExistingCheck,
    pub deal_products: deal_products::DealProductsPlan,
    pub attachments: attachments::AttachmentsPlan,
    /// The webhooks the load fires, and the automations to pause.
    pub side_effects: side_effects::SideEffects,
}

/// A choice the plan leaves to a person: shown as REVIEW in the summary and the reports, and
/// `plan` exits non-zero until it is decided where `how` says.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Decision {
    /// What is undecided (`contact.name`, `duplicates`).
    pub what: String,
    /// What the plan found, in numbers.
    pub found: String,
    /// How to decide it (which file, which key, which values).
    pub how: String,
}

/// What plan reads of the Pipedrive account, first (it writes nothing there): the workspace, the
/// records the account already has (the export is matched with them as it is read), the webhooks.
pub struct Target {
    pub workspace: Workspace,
    pub account: existing::Account,
    pub webhooks: Result<Vec<crate::pipedrive::Webhook>, String>,
    /// Tokens plan spent reading them.
    pub plan_tokens: u64,
    pub planned_at: String,
}

pub async fn read_target(project: &Project, client: &PipedriveClient) -> Result<Target, PlanError> {
    let planned_at = now_utc();
    let tokens_before = client.bill().tokens();
    let workspace = Workspace::read(client, project.config.target.url.get_ref(), planned_at.clone()).await?;
    let account = existing::read_account(client, &workspace, &project.markers()).await?;
    let webhooks = side_effects::read_webhooks(client).await?;
    let plan_tokens = client.bill().tokens() - tokens_before;
    Ok(Target { workspace, account, webhooks, plan_tokens, planned_at })
}

/// What plan learns from its one read of the export (the audit's, which the profile, the matches
/// with the account and the notes' sizes are gathered in) and from the label plugin. Plugins run
/// here, outside any async runtime (their WASI calls block on their own).
pub struct Prepared {
    pub profile: SourceProfile,
    /// Duplicates nothing merges, when the project has not said they go as they are.
    pub duplicates: Option<Decision>,
    pub labels_by: String,
    pub labels: LabelDecisions,
    /// What the grade needs of the audit: duplicate groups (by email and by phone) and orphaned references.
    pub duplicate_groups: u64,
    pub orphans: u64,
    /// Plugins swapped since the last approval, with what each swap does to the export.
    pub plugin_swaps: Vec<crate::plugin_diff::Swap>,
    /// The export's matches with the account's records (a person's earlier decisions not yet applied).
    pub existing: existing::ExistingCheck,
    pub notes: limits::NoteMeasure,
}

/// The observers of plan's read of the export.
struct PlanRead<'a> {
    profiler: profile::Profiler<'a>,
    existing: existing::Matcher<'a>,
    notes: limits::NoteMeasure,
}

impl Observer for PlanRead<'_> {
    fn opened(&mut self, kind: ObjectKind, reader: &RecordReader) {
        self.profiler.opened(kind, reader);
        self.notes.opened(kind, reader);
    }

    fn record(&mut self, kind: ObjectKind, read: &ReadRecord) {
        self.profiler.record(kind, read);
        self.existing.record(&read.record);
        self.notes.record(&read.record);
    }

    fn closed(&mut self, kind: ObjectKind, reader: &RecordReader) {
        self.profiler.closed(kind, reader);
        self.notes.closed(kind);
    }
}

pub fn prepare(project: &Project, target: &Target, progress: profile::ReadProgress<'_>) -> Result<Prepared, PlanError> {
    let export = open_export(project)?;
    let mut read = PlanRead {
        profiler: profile::Profiler::new(export.catalogue()?, progress),
        existing: existing::Matcher::new(&target.account),
        notes: limits::NoteMeasure::new(limits::note_limit(project)),
    };
    let audit = crate::audit::run_observed(&export, std::io::sink(), &mut read)?;
    let PlanRead { profiler, existing, notes } = read;
    let profile = profiler.finish();
    let plugins = project.load_plugins().map_err(|error| match error {
        ProjectError::Trust(error) => PlanError::Trust(error),
        error => PlanError::Project(Box::new(error)),
    })?;
    let (labels_by, labels) = label_decisions(&plugins, &profile.catalogue, &profile.tag_use)?;
    let duplicates = duplicates_decision(project, &plugins, &audit);
    let duplicate_groups = (audit.duplicates.by_email.len() + audit.duplicates.by_phone.len()) as u64;
    let orphans = audit.orphans.iter().map(|orphans| orphans.count).sum();
    let plugin_swaps = crate::plugin_diff::since_last_approval(project)?;
    Ok(Prepared {
        profile,
        duplicates,
        labels_by,
        labels,
        duplicate_groups,
        orphans,
        plugin_swaps,
        existing: existing.finish(),
        notes,
    })
}

/// Contacts the audit finds sharing an email or phone become a person each unless a dedup
/// plugin merges them: without one, and unless `migration.toml` says `dedup = "none"`, that is
/// a person's decision. Found as the audit finds them.
fn duplicates_decision(
    project: &Project,
    plugins: &[(Hook, crate::plugins::LoadedPlugin)],
    audit: &crate::audit::Audit,
) -> Option<Decision> {
    if project.config.options.dedup_none() || plugins.iter().any(|(hook, _)| *hook == Hook::Dedup) {
        return None;
    }
    let duplicates = &audit.duplicates;
    let groups: Vec<Vec<&str>> = duplicates
        .by_email
        .iter()
        .chain(&duplicates.by_phone)
        .map(|group| group.contacts.iter().map(|contact| contact.id.as_str()).collect())
        .collect();
    let twice = persons_created_twice(&groups);
    if twice == 0 {
        return None;
    }
    Some(Decision {
        what: "duplicates".into(),
        found: format!(
            "{twice} persons would be created twice: {} groups of contacts share an email, {} a phone (reports/audit.md lists them), and no dedup plugin merges them",
            duplicates.by_email.len(),
            duplicates.by_phone.len()
        ),
        how: format!(
            "add a dedup plugin to {CONFIG_FILE} (take the one init proposed there, or build the vetted dedup-email with `cargo build-plugins`), or set dedup = \"none\" under [options] to migrate them as they are"
        ),
    })
}

/// Persons created beyond one per real person: contacts linked by any shared key are one
/// person (a contact in an email group and a phone group counts once).
fn persons_created_twice(groups: &[Vec<&str>]) -> usize {
    let mut parent: std::collections::HashMap<&str, &str> = std::collections::HashMap::new();
    fn root<'a>(parent: &mut std::collections::HashMap<&'a str, &'a str>, id: &'a str) -> &'a str {
        let mut at = id;
        while let Some(&up) = parent.get(at).filter(|&&up| up != at) {
            at = up;
        }
        parent.insert(id, at);
        at
    }
    for group in groups {
        for id in group {
            let (first, other) = (root(&mut parent, group[0]), root(&mut parent, id));
            parent.insert(other, first);
        }
    }
    let contacts: Vec<&str> = parent.keys().copied().collect();
    let persons: std::collections::HashSet<&str> = contacts.iter().map(|id| root(&mut parent, id)).collect();
    contacts.len() - persons.len()
}

/// Runs the plan on what was read: propose, merge, check; writes `mapping.toml` (and
/// `existing.toml`) and remembers the workspace and the proposal in `state.db`. The reports are
/// [`report`]'s.
pub fn plan(project: &Project, target: Target, prepared: Prepared) -> Result<PlanResult, PlanError> {
    let Target { workspace, account: _, webhooks, plan_tokens, planned_at } = target;
    let Prepared { profile, duplicates, labels_by, labels, duplicate_groups, orphans, plugin_swaps, existing, notes } =
        prepared;
    let existing = existing::record(project, existing)?;
    let made: Vec<(String, String)> = crate::journal::Journal::read(State::open(&project.dir)?)
        .created_workspace_objects()?
        .into_iter()
        .filter(|(kind, ..)| kind == "field")
        .map(|(_, entity, name, _)| (entity, name))
        .collect();
    let workspace = workspace.without_fields_made_by_apply(&made);

    let mapping_path = project.dir.join(MAPPING_FILE);
    let previous = match std::fs::read_to_string(&mapping_path) {
        Ok(text) => Some(
            file::parse(&text).map_err(|errors| PlanError::UnreadableMapping { path: mapping_path.clone(), errors })?,
        ),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(source) => return Err(PlanError::Io { path: mapping_path, source }),
    };
    let state = State::open(&project.dir)?;
    let last_proposal: Option<Mapping> = state.last_proposal()?.and_then(|json| serde_json::from_str(&json).ok());
    let fresh = propose::propose(&profile, &workspace, &project.config.target.default_owner_email);
    let merged = merge::merge(previous, last_proposal.as_ref(), &fresh);

    let comments =
        comments::comments(&merged.mapping, &fresh, &merged.kept, &profile, &workspace, project, &planned_at);
    let text = file::render(&merged.mapping, &comments);
    // Read back what was written, so that errors point at the lines of the new file.
    let written = file::parse(&text).expect("a rendered mapping parses");
    let mut errors = check::check(&written, &profile, &workspace);
    let decisions = role_decisions(&written, &merged.kept, &profile);
    let changes = changes::workspace_changes(&written, &profile, &workspace, &labels);
    let mut bill =
        bill::bill(&profile, &changes, project.plan, project.config.target.seats, project.config.target.top_up_tokens);
    let deal_products = deal_products::measure(&profile, &written);
    deal_products::bill(&mut bill, &deal_products);
    let attachments = attachments::measure(&profile, &project.attachment_policy());
    attachments::bill(&mut bill, &attachments);
    let notes = match notes.sizes(&written) {
        Some(notes) => notes,
        None => limits::measure_notes(&open_export(project)?, &written, limits::note_limit(project))?,
    };
    let limits = limits::check_project_notes(project, &written, &profile, &workspace, &labels, &notes)?;
    errors.extend(limits.errors());
    let side_effects =
        side_effects::predict(webhooks, side_effects::creates(&profile, &changes, &limits, &deal_products));
    let measured = grade::Measured {
        records: profile.objects.iter().map(|object| object.records).sum(),
        custom_attributes: written
            .fields
            .iter()
            .filter(|entry| {
                matches!(entry.landing, crate::mapping::Landing::New { .. } | crate::mapping::Landing::Existing { .. })
            })
            .count() as u64,
        duplicate_groups,
        orphans,
        automations: profile.catalogue.automations.len() as u64,
        segments: profile.catalogue.segments.len() as u64,
        conversations: profile.conversations,
    };
    let assessment = grade::grade(&measured, &bill);

    write_atomically(&mapping_path, &text)?;
    let snapshot = serde_json::to_string(&workspace).expect("plain data serializes");
    state.save_workspace(&planned_at, &workspace.url, &snapshot)?;
    state.save_proposal(&planned_at, &serde_json::to_string(&fresh).expect("plain data serializes"))?;
    Ok(PlanResult {
        mapping: written,
        mapping_path,
        kept_edits: merged.kept,
        added: merged.added,
        dropped: merged.dropped,
        errors,
        changes,
        bill,
        labels_by,
        labels,
        profile,
        workspace,
        plan_tokens,
        planned_at,
        decisions: decisions.into_iter().chain(duplicates).chain(existing.decision()).collect(),
        limits,
        assessment,
        plugin_swaps,
        existing,
        deal_products,
        attachments,
        side_effects,
    })
}

/// Roles (built-in fields) the plan could not read from a column with confidence (found only
/// from values, several columns fitting): a person decides each in `mapping.toml`, unless they
/// already did (their edit is kept).
fn role_decisions(mapping: &Mapping, kept: &[String], profile: &SourceProfile) -> Vec<Decision> {
    mapping
        .fields
        .iter()
        .filter(|entry| entry.needs_review() && !kept.contains(&entry.key()))
        .filter_map(|entry| match &entry.landing {
            crate::mapping::Landing::Standard { code } => Some(Decision {
                what: entry.key(),
                // Headers and counts only: the summary shows no value of the export.
                found: {
                    let column = profile.object(entry.object).and_then(|object| object.attribute(&entry.attribute)).map(|attribute| &attribute.column);
                    let how = match column.map(|column| &column.origin) {
                        Some(crate::extract::Origin::Values { reason, candidates, .. }) if *candidates > 1 => format!("{reason}, like {} other column(s)", candidates - 1),
                        Some(crate::extract::Origin::Values { reason, .. }) => reason.clone(),
                        _ => "a weak match".to_owned(),
                    };
                    let header = column.map_or(entry.attribute.as_str(), |column| column.header.as_str());
                    format!("column '{header}' taken as the {} {code} (confidence {:.2}): {how}", crate::mapping::Destination::of(entry.object).name(), entry.confidence)
                },
                how: format!(
                    "in {MAPPING_FILE} [{}]: confirm with confidence = 1.0, or give the role to another column (its to = \"{code}\", this one's to another field), or to = \"skip\" with a reason for none",
                    entry.key()
                ),
            }),
            _ => None,
        })
        .collect()
}

/// Writes a file whole or not at all (a crash leaves the old one).
pub fn write_atomically(path: &std::path::Path, text: &str) -> Result<(), PlanError> {
    let temporary = path.with_extension("toml.tmp");
    let io = |source| PlanError::Io { path: path.to_owned(), source };
    std::fs::write(&temporary, text).map_err(io)?;
    std::fs::rename(&temporary, path).map_err(io)
}

/// Which tags become which labels: the project's label plugin (among `plugins`, as
/// [`Project::load_plugins`] loaded them) decides when it has one; else every tag becomes a label
/// of its own name. `tag_use` counts, per object, the records carrying each tag.
pub fn label_decisions(
    plugins: &[(Hook, crate::plugins::LoadedPlugin)],
    catalogue: &crate::extract::Catalogue,
    tag_use: &std::collections::BTreeMap<crate::record::ObjectKind, std::collections::BTreeMap<String, u64>>,
) -> Result<(String, LabelDecisions), PlanError> {
    let Some((name, decisions)) = label_plugin_decisions(plugins, catalogue, tag_use)? else {
        let tags = catalogue_tags(catalogue, tag_use);
        return Ok((
            "every tag becomes a label of its name (no label plugin in migration.toml)".into(),
            tags.into_iter().map(|tag| (tag.name.clone(), Some(tag.name))).collect(),
        ));
    };
    let decisions = decisions
        .into_iter()
        .map(|(tag, decision)| {
            let label = match decision.fate {
                TagFate::Label { name, .. } => Some(name),
                TagFate::Skip { .. } => None,
            };
            (tag.name, label)
        })
        .collect();
    Ok((format!("the label plugin {name}"), decisions))
}

#[cfg(test)]
mod tests {
    use super::persons_created_twice;

    #[test]
    fn a_contact_in_an_email_group_and_a_phone_group_is_one_person_created_twice_once() {
        assert_eq!(persons_created_twice(&[]), 0);
        assert_eq!(persons_created_twice(&[vec!["a", "b"], vec!["c", "d", "e"]]), 3);
        // a=b by email, b=c by phone: one person, created three times.
        assert_eq!(persons_created_twice(&[vec!["a", "b"], vec!["b", "c"]]), 2);
    }
}
