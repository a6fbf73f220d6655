//! Into an account that already has data: the persons and organizations the target already holds
//! that match records of the export (persons by email, then by name where it is unique;
//! organizations by the domain of their website or email, then by their name without its legal
//! form), what a person decides for each in `existing.toml` (link, update or create; approved
//! with the mapping), and the deals the account already has, which count against its deals limit.
//! Records this project created itself (its marker in their "User.com ID" field) are not
//! "existing": a plan after a partial apply does not match the migration with itself.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::mapping::check::MARKER_FIELD;
use crate::marker::Markers;
use crate::pipedrive::workspace::Workspace;
use crate::pipedrive::{ClientError, CustomFieldsRead, EntityKind, PipedriveClient};
use crate::plan::{Decision, PlanError};
use crate::project::{EXISTING_FILE, Project, line_of, quoted};
use crate::record::{ObjectKind, Record, Value};
use crate::report::{Document, Table, words};
use crate::source::domain;

/// Where plan keeps the deals the account had when it was read (approve checks the limit too).
const EXISTING_DEALS_KEY: &str = "existing_deals";
/// Matches plan.md lists by name; plan.json and existing.toml list them all.
const LISTED: usize = 20;

/// What becomes of a source record that matches a record the account already has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Choice {
    /// Use the existing record; fill only its empty fields.
    Link,
    /// Use the existing record; overwrite its mapped fields with the export's values.
    Update,
    /// Create a new record anyway.
    Create,
}

impl Choice {
    pub fn as_str(self) -> &'static str {
        match self {
            Choice::Link => "link",
            Choice::Update => "update",
            Choice::Create => "create",
        }
    }

    pub fn parse(text: &str) -> Option<Choice> {
        [Choice::Link, Choice::Update, Choice::Create].into_iter().find(|choice| choice.as_str() == text)
    }
}

/// A record the account already has, by the keys it is matched on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub id: u64,
    pub name: String,
    /// Lower-case emails (persons) or domains (organizations).
    pub keys: Vec<String>,
}

/// What the account already holds, besides what this project created.
#[derive(Debug, Clone, Default)]
pub struct Account {
    pub persons: Vec<Held>,
    pub organizations: Vec<Held>,
    pub deals: u64,
}

/// Whether a record carries this project's marker in its "User.com ID" field.
fn ours(workspace: &Workspace, entity: EntityKind, markers: &Markers, fields: &CustomFieldsRead) -> bool {
    workspace
        .custom_field(entity, MARKER_FIELD)
        .and_then(|field| fields.get(&field.field_code))
        .and_then(|value| value.as_str())
        .is_some_and(|value| markers.parse_field(value).is_some())
}

/// Reads the persons, organizations and deals of the account (500 a call), leaving out deleted
/// records and those this project created.
pub async fn read_account(
    client: &PipedriveClient,
    workspace: &Workspace,
    markers: &Markers,
) -> Result<Account, ClientError> {
    let persons = client
        .persons()
        .await?
        .into_iter()
        .filter(|person| !person.is_deleted && !ours(workspace, EntityKind::Person, markers, &person.custom_fields))
        .map(|person| Held {
            id: person.id,
            name: person.name,
            keys: person
                .emails
                .iter()
                .map(|email| email.value.trim().to_lowercase())
                .filter(|e| !e.is_empty())
                .collect(),
        })
        .collect();
    let organizations = client
        .organizations()
        .await?
        .into_iter()
        .filter(|org| !org.is_deleted && !ours(workspace, EntityKind::Organization, markers, &org.custom_fields))
        .map(|org| Held {
            id: org.id,
            name: org.name,
            keys: org.website.as_deref().and_then(domain).into_iter().collect(),
        })
        .collect();
    let deals = client
        .deals()
        .await?
        .iter()
        .filter(|deal| !deal.is_deleted && !ours(workspace, EntityKind::Deal, markers, &deal.custom_fields))
        .count() as u64;
    Ok(Account { persons, organizations, deals })
}

/// One source record matching records the account has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Match {
    /// `contact` or `company`.
    pub object: ObjectKind,
    pub source_id: String,
    /// The existing records it matches, by Pipedrive id; several: a person picks one.
    pub candidates: Vec<u64>,
    /// What matched: `email`, `domain` or `name` (never the value: plan's reports hold none).
    pub matched_on: String,
    /// `None`: undecided (several candidates, until a person picks).
    pub decision: Option<Choice>,
    /// The existing record decided on (link and update).
    pub pipedrive_id: Option<u64>,
}

/// What plan found in the account and what is decided for it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExistingCheck {
    pub persons_in_account: u64,
    pub organizations_in_account: u64,
    pub deals_in_account: u64,
    pub matches: Vec<Match>,
    /// Source records whose name several records of the account (or of the export) share: not
    /// matched by name, so created.
    pub names_not_unique: u64,
}

/// Per object: (link, update, create, undecided).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ChoiceCounts {
    pub link: u64,
    pub update: u64,
    pub create: u64,
    pub undecided: u64,
}

impl ExistingCheck {
    pub fn counts(&self, object: ObjectKind) -> ChoiceCounts {
        let mut counts = ChoiceCounts::default();
        for found in self.matches.iter().filter(|found| found.object == object) {
            match found.decision {
                Some(Choice::Link) => counts.link += 1,
                Some(Choice::Update) => counts.update += 1,
                Some(Choice::Create) => counts.create += 1,
                None => counts.undecided += 1,
            }
        }
        counts
    }

    /// The REVIEW line while a match is undecided.
    pub fn decision(&self) -> Option<Decision> {
        let open: Vec<&Match> = self.matches.iter().filter(|found| found.decision.is_none()).collect();
        let first = open.first()?;
        Some(Decision {
            what: "existing".into(),
            found: format!(
                "{} export record(s) match several records the account already has (first: {} {} matches {} by {})",
                open.len(),
                first.object,
                first.source_id,
                first.candidates.iter().map(u64::to_string).collect::<Vec<_>>().join(", "),
                first.matched_on
            ),
            how: format!(
                "in {EXISTING_FILE}, set each decision = \"review\" to \"link\" or \"update\" with pipedrive_id = one of its candidates, or to \"create\""
            ),
        })
    }
}

/// Lower case, letters and digits, one space between words.
fn normalized(name: &str) -> String {
    name.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Words of a legal form at the end of a company name (`sp. z o.o.`, `S.A.`, `GmbH`, `Inc.`).
const LEGAL_FORMS: [&str; 20] = [
    "sp", "z", "o", "oo", "sa", "sj", "spj", "sk", "ska", "spk", "inc", "ltd", "llc", "gmbh", "ag", "co", "corp",
    "plc", "bv", "srl",
];

/// A company's name without its legal form: `Piekarnia Wójcik sp. z o.o.` is `piekarnia wójcik`.
fn company_name(name: &str) -> String {
    let normalized = normalized(name);
    let mut words: Vec<&str> = normalized.split(' ').filter(|word| !word.is_empty()).collect();
    while words.len() > 1 && words.last().is_some_and(|word| LEGAL_FORMS.contains(word)) {
        words.pop();
    }
    words.join(" ")
}

fn text(record: &Record, field: &str) -> String {
    match record.get(field) {
        Some(Value::Null) | None => String::new(),
        Some(value) => crate::profile::plain(value).trim().to_owned(),
    }
}

/// A source record as matching sees it: its strong keys (emails, domains) and its normalized name.
struct Wanted {
    source_id: String,
    keys: Vec<String>,
    name: String,
}

fn contact(record: &Record) -> Wanted {
    let name = Some(text(record, "name"))
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| [text(record, "first_name"), text(record, "last_name")].join(" "));
    let email = text(record, "email").to_lowercase();
    Wanted {
        source_id: record.source_id.clone(),
        keys: (!email.is_empty()).then_some(email).into_iter().collect(),
        name: normalized(&name),
    }
}

fn company(record: &Record) -> Wanted {
    let mut keys: Vec<String> = ["website", "email"].iter().filter_map(|field| domain(&text(record, field))).collect();
    keys.dedup();
    Wanted { source_id: record.source_id.clone(), keys, name: company_name(&text(record, "name")) }
}

/// One object's matching, a source record at a time as the export is read: by a strong key first
/// (several records holding it: undecided), then by name where exactly one record of the account
/// has it and no other source record does. A strong match is known at once; a match by name
/// waits for the end of the file, for whether another source record has the same name.
struct Matching<'a> {
    object: ObjectKind,
    strong: &'static str,
    by_key: HashMap<&'a str, BTreeSet<u64>>,
    by_name: HashMap<String, BTreeSet<u64>>,
    /// Source records per name, for the names the account has (no other name can match).
    source_names: HashMap<String, u64>,
    found: Vec<Found>,
}

/// A source record that matched, in the export's order.
enum Found {
    Strong {
        source_id: String,
        candidates: BTreeSet<u64>,
    },
    /// Matched by a name the account has, if no other source record has it too.
    ByName {
        source_id: String,
        name: String,
    },
}

impl<'a> Matching<'a> {
    fn new(object: ObjectKind, held: &'a [Held], strong: &'static str, name_of: fn(&str) -> String) -> Self {
        let mut by_key: HashMap<&str, BTreeSet<u64>> = HashMap::new();
        let mut by_name: HashMap<String, BTreeSet<u64>> = HashMap::new();
        for record in held {
            for key in &record.keys {
                by_key.entry(key).or_default().insert(record.id);
            }
            let name = name_of(&record.name);
            if !name.is_empty() {
                by_name.entry(name).or_default().insert(record.id);
            }
        }
        let source_names = by_name.keys().map(|name| (name.clone(), 0)).collect();
        Matching { object, strong, by_key, by_name, source_names, found: Vec::new() }
    }

    /// Nothing of the account to match (its first migration): the records need not be looked at.
    fn matches_nothing(&self) -> bool {
        self.by_key.is_empty() && self.by_name.is_empty()
    }

    fn add(&mut self, record: &Wanted) {
        if let Some(count) = self.source_names.get_mut(&record.name) {
            *count += 1;
        }
        let strong_hits: BTreeSet<u64> =
            record.keys.iter().filter_map(|key| self.by_key.get(key.as_str())).flatten().copied().collect();
        if !strong_hits.is_empty() {
            self.found.push(Found::Strong { source_id: record.source_id.clone(), candidates: strong_hits });
        } else if !record.name.is_empty() && self.by_name.contains_key(&record.name) {
            self.found.push(Found::ByName { source_id: record.source_id.clone(), name: record.name.clone() });
        }
    }

    /// The matches, and the records not matched because their name is not unique.
    fn finish(self) -> (Vec<Match>, u64) {
        let (mut matches, mut not_unique) = (Vec::new(), 0);
        for found in self.found {
            let (source_id, candidates, matched_on) = match found {
                Found::Strong { source_id, candidates } => (source_id, candidates, self.strong),
                Found::ByName { source_id, name } => {
                    let ids = &self.by_name[&name];
                    if ids.len() == 1 && self.source_names.get(&name) == Some(&1) {
                        (source_id, ids.clone(), "name")
                    } else {
                        not_unique += 1;
                        continue;
                    }
                }
            };
            let candidates: Vec<u64> = candidates.into_iter().collect();
            let single = (candidates.len() == 1).then(|| candidates[0]);
            matches.push(Match {
                object: self.object,
                source_id,
                decision: single.map(|_| Choice::Link),
                pipedrive_id: single,
                candidates,
                matched_on: matched_on.to_owned(),
            });
        }
        (matches, not_unique)
    }
}

/// Matches the export's companies and contacts with what the account holds (link proposed), as
/// the export is read: see it each record ([`Matcher::record`]), then [`Matcher::finish`].
pub struct Matcher<'a> {
    account: &'a Account,
    organizations: Matching<'a>,
    persons: Matching<'a>,
}

impl<'a> Matcher<'a> {
    pub fn new(account: &'a Account) -> Self {
        Matcher {
            account,
            organizations: Matching::new(ObjectKind::Company, &account.organizations, "domain", company_name),
            persons: Matching::new(ObjectKind::Contact, &account.persons, "email", normalized),
        }
    }

    pub fn record(&mut self, record: &Record) {
        match record.kind {
            ObjectKind::Company if !self.organizations.matches_nothing() => self.organizations.add(&company(record)),
            ObjectKind::Contact if !self.persons.matches_nothing() => self.persons.add(&contact(record)),
            _ => {}
        }
    }

    pub fn finish(self) -> ExistingCheck {
        let (organizations, names_companies) = self.organizations.finish();
        let (persons, names_contacts) = self.persons.finish();
        ExistingCheck {
            persons_in_account: self.account.persons.len() as u64,
            organizations_in_account: self.account.organizations.len() as u64,
            deals_in_account: self.account.deals,
            matches: organizations.into_iter().chain(persons).collect(),
            names_not_unique: names_companies + names_contacts,
        }
    }
}

/// The table of existing.toml an object's matches are under.
fn table(object: ObjectKind) -> &'static str {
    if object == ObjectKind::Company { "organization" } else { "person" }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEntry {
    decision: toml::Spanned<String>,
    #[serde(default)]
    pipedrive_id: Option<u64>,
    #[serde(default)]
    candidates: Vec<u64>,
    #[serde(default)]
    matched_on: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileText {
    #[serde(default)]
    organization: BTreeMap<String, FileEntry>,
    #[serde(default)]
    person: BTreeMap<String, FileEntry>,
}

/// Reads existing.toml; each problem names its line.
pub fn parse(text: &str) -> Result<Vec<Match>, Vec<String>> {
    let file: FileText = toml::from_str(text).map_err(|error| {
        let line = error.span().map_or(0, |span| line_of(text, span.start));
        vec![format!("line {line}: {}", error.message())]
    })?;
    let mut matches = Vec::new();
    let mut errors = Vec::new();
    for (object, entries) in [(ObjectKind::Company, file.organization), (ObjectKind::Contact, file.person)] {
        for (source_id, entry) in entries {
            let line = line_of(text, entry.decision.span().start);
            let mut candidates = entry.candidates.clone();
            candidates.sort_unstable();
            let pipedrive_id = entry.pipedrive_id.or_else(|| (candidates.len() == 1).then(|| candidates[0]));
            let decision = match entry.decision.get_ref().as_str() {
                "review" => None,
                other => match Choice::parse(other) {
                    Some(choice) => Some(choice),
                    None => {
                        errors.push(format!(
                            "line {line}: {} {source_id}: decision {} is not one of \"link\", \"update\", \"create\" (or \"review\", undecided)",
                            table(object),
                            quoted(other)
                        ));
                        continue;
                    }
                },
            };
            if matches!(decision, Some(Choice::Link | Choice::Update)) {
                match pipedrive_id {
                    None => errors.push(format!(
                        "line {line}: {} {source_id}: {} needs pipedrive_id = one of its candidates",
                        table(object),
                        entry.decision.get_ref()
                    )),
                    Some(id) if !candidates.is_empty() && !candidates.contains(&id) => errors.push(format!(
                        "line {line}: {} {source_id}: pipedrive_id {id} is not one of its candidates ({})",
                        table(object),
                        candidates.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
                    )),
                    Some(_) => {}
                }
            }
            matches.push(Match {
                object,
                source_id,
                candidates,
                matched_on: entry.matched_on,
                decision,
                pipedrive_id: pipedrive_id.filter(|_| decision != Some(Choice::Create)),
            });
        }
    }
    if errors.is_empty() { Ok(matches) } else { Err(errors) }
}

/// existing.toml for the matches: explained, one line per match, in a stable order.
pub fn render(matches: &[Match]) -> String {
    let mut out = String::from(
        "# Records the Pipedrive account already has that match records of the export. `crm-migrate plan`\n\
         # writes this file and keeps your decisions; `approve` covers it as it covers mapping.toml.\n\
         # decision, for each match:\n\
         #   \"link\"    use the existing record and fill only its empty fields (proposed)\n\
         #   \"update\"  overwrite the mapped fields of the existing record with the export's values\n\
         #   \"create\"  create a new record anyway\n\
         # A match with several candidates says \"review\": pick one (\"link\" or \"update\" with\n\
         # pipedrive_id = one of the candidates) or \"create\"; plan exits 11 until each is decided.\n\
         # Apply journals the prior value of every field it changes; rollback gives them back and\n\
         # never deletes a record the account had before.\n",
    );
    for object in [ObjectKind::Company, ObjectKind::Contact] {
        let _ = writeln!(out, "\n[{}]", table(object));
        for found in matches.iter().filter(|found| found.object == object) {
            let decision = found.decision.map_or("review", Choice::as_str);
            let id = found.pipedrive_id.map(|id| format!(", pipedrive_id = {id}")).unwrap_or_default();
            let candidates = found.candidates.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
            let _ = writeln!(
                out,
                "{} = {{ decision = {}{id}, candidates = [{candidates}], matched_on = {} }}",
                quoted(&found.source_id),
                quoted(decision),
                quoted(&found.matched_on)
            );
        }
    }
    out
}

/// A re-plan keeps a person's decision where the match is the same (same candidates).
fn merge(fresh: Vec<Match>, previous: &[Match]) -> Vec<Match> {
    let earlier: HashMap<(ObjectKind, &str), &Match> =
        previous.iter().map(|found| ((found.object, found.source_id.as_str()), found)).collect();
    fresh
        .into_iter()
        .map(|found| match earlier.get(&(found.object, found.source_id.as_str())) {
            Some(kept) if kept.candidates == found.candidates => {
                Match { decision: kept.decision, pipedrive_id: kept.pipedrive_id, ..found }
            }
            _ => found,
        })
        .collect()
}

fn path(project: &Project) -> PathBuf {
    project.dir.join(EXISTING_FILE)
}

/// The decisions as the file holds them (none without the file); a file that does not read is
/// refused with its lines.
pub fn read(project: &Project) -> Result<Vec<Match>, PlanError> {
    let path = path(project);
    match std::fs::read_to_string(&path) {
        Ok(text) => parse(&text).map_err(|errors| PlanError::ExistingUnreadable { path, errors }),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(PlanError::Io { path, source }),
    }
}

/// Keeps a person's earlier decisions on what the export matched in the account, and writes
/// existing.toml (when anything matches, or it was there). The deals the account has are kept
/// in state.db for the limits check.
pub fn record(project: &Project, mut check: ExistingCheck) -> Result<ExistingCheck, PlanError> {
    let previous = read(project)?;
    check.matches = merge(check.matches, &previous);
    let path = path(project);
    if !check.matches.is_empty() || path.exists() {
        crate::plan::write_atomically(&path, &render(&check.matches))?;
    }
    let state = crate::state::State::open(&project.dir)?;
    state
        .connection()
        .execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
            rusqlite::params![EXISTING_DEALS_KEY, check.deals_in_account.to_string()],
        )
        .map_err(|error| state.error(error))?;
    Ok(check)
}

/// The deals the account had when plan last read it (0 before any plan).
pub fn deals_in_account(project: &Project) -> Result<u64, PlanError> {
    let state = crate::state::State::open(&project.dir)?;
    Ok(state.meta(EXISTING_DEALS_KEY)?.and_then(|deals| deals.parse().ok()).unwrap_or(0))
}

/// (object, source id) -> (link or update, the existing record's Pipedrive id).
pub type Decided = HashMap<(ObjectKind, String), (Choice, u64)>;

/// The approved decisions apply follows: (object, source id) -> (link or update, the existing
/// record's id). An undecided match refuses (approve refuses it first).
pub fn decided(project: &Project) -> Result<Decided, PlanError> {
    let matches = read(project)?;
    if let Some(open) = matches.iter().find(|found| found.decision.is_none()) {
        return Err(PlanError::ExistingUndecided {
            path: path(project),
            object: table(open.object),
            source_id: open.source_id.clone(),
            candidates: open.candidates.clone(),
        });
    }
    Ok(matches
        .into_iter()
        .filter_map(|found| match (found.decision, found.pipedrive_id) {
            (Some(choice @ (Choice::Link | Choice::Update)), Some(id)) => {
                Some(((found.object, found.source_id), (choice, id)))
            }
            _ => None,
        })
        .collect())
}

/// The section of plan.md: counts per object and the first matches (ids and what matched only).
pub fn section(doc: &mut Document, check: &ExistingCheck) {
    if check.persons_in_account + check.organizations_in_account + check.deals_in_account == 0 {
        return;
    }
    doc.section("Records the account already has");
    doc.paragraph(words(format!(
        "The account holds {} persons, {} organizations and {} deals this migration did not create. \
         Matched with the export (persons by email, then by a name only one person has; organizations by the domain of their website or email, then by name): \
         decided in `{EXISTING_FILE}`, approved with the mapping.",
        check.persons_in_account, check.organizations_in_account, check.deals_in_account
    )));
    let mut counts =
        Table::new(["Object", "Matches", "Link", "Update", "Create", "Undecided (REVIEW)"]).figures([1, 2, 3, 4, 5]);
    for object in [ObjectKind::Company, ObjectKind::Contact] {
        let c = check.counts(object);
        counts.row(
            [object.to_string(), (c.link + c.update + c.create + c.undecided).to_string()]
                .into_iter()
                .chain([c.link, c.update, c.create, c.undecided].map(|n| n.to_string()))
                .map(words),
        );
    }
    doc.table(counts);
    if check.names_not_unique > 0 {
        doc.paragraph(words(format!(
            "{} export record(s) share their name with several records (of the account or of the export): not matched by name, so created.",
            check.names_not_unique
        )));
    }
    if !check.matches.is_empty() {
        let mut table = Table::new(["Source record", "Pipedrive id", "Matched on", "Decision"]);
        for found in check.matches.iter().take(LISTED) {
            let ids = found.pipedrive_id.map_or_else(
                || found.candidates.iter().map(u64::to_string).collect::<Vec<_>>().join(", "),
                |id| id.to_string(),
            );
            table.row([
                words(format!("{} ", found.object)).value(&found.source_id),
                words(ids),
                words(found.matched_on.to_string()),
                words(found.decision.map_or("REVIEW", Choice::as_str)),
            ]);
        }
        doc.table(table);
        if check.matches.len() > LISTED {
            doc.paragraph(words(format!(
                "... and {} more (`{EXISTING_FILE}` lists them all).",
                check.matches.len() - LISTED
            )));
        }
    }
}

/// The line of plan's summary.
pub fn summary(check: &ExistingCheck) -> Option<String> {
    (!check.matches.is_empty() || check.deals_in_account > 0).then(|| {
        let (companies, contacts) = (check.counts(ObjectKind::Company), check.counts(ObjectKind::Contact));
        format!(
            "existing records: {} organizations and {} persons match the export ({} link, {} update, {} create, {} undecided); {} deals already in the account ({EXISTING_FILE})",
            companies.link + companies.update + companies.create + companies.undecided,
            contacts.link + contacts.update + contacts.create + contacts.undecided,
            companies.link + contacts.link,
            companies.update + contacts.update,
            companies.create + contacts.create,
            companies.undecided + contacts.undecided,
            check.deals_in_account
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(id: u64, name: &str, keys: &[&str]) -> Held {
        Held { id, name: name.into(), keys: keys.iter().map(|key| key.to_string()).collect() }
    }

    fn wanted(id: &str, keys: &[&str], name: &str) -> Wanted {
        Wanted { source_id: id.into(), keys: keys.iter().map(|key| key.to_string()).collect(), name: normalized(name) }
    }

    #[test]
    fn persons_match_by_email_then_by_a_unique_name_and_several_candidates_are_undecided() {
        let account = [
            held(1, "Jan Kowalski", &["jan@firma.pl"]),
            held(2, "Anna Nowak", &["anna@firma.pl"]),
            held(3, "Anna Nowak", &[]),
            held(4, "Ewa Lis", &["wspolny@firma.pl"]),
            held(5, "Olga Lis", &["wspolny@firma.pl"]),
            held(6, "Marek  Zając", &[]),
        ];
        let export = [
            wanted("10", &["jan@firma.pl"], "Someone Else"),
            wanted("11", &[], "Anna Nowak"),
            wanted("12", &["wspolny@firma.pl"], "Ewa Lis"),
            wanted("13", &[], "marek zając"),
            wanted("14", &["nobody@firma.pl"], "Nobody"),
        ];
        let mut matching = Matching::new(ObjectKind::Contact, &account, "email", normalized);
        for record in &export {
            matching.add(record);
        }
        let (matches, not_unique) = matching.finish();
        let found: Vec<(&str, Vec<u64>, &str, Option<Choice>)> = matches
            .iter()
            .map(|m| (m.source_id.as_str(), m.candidates.clone(), m.matched_on.as_str(), m.decision))
            .collect();
        assert_eq!(
            found,
            [
                ("10", vec![1], "email", Some(Choice::Link)),
                ("12", vec![4, 5], "email", None),
                ("13", vec![6], "name", Some(Choice::Link)),
            ]
        );
        assert_eq!(not_unique, 1, "Anna Nowak: two persons of the account have the name");
    }

    #[test]
    fn company_names_match_without_their_legal_form() {
        assert_eq!(company_name("Piekarnia Wójcik sp. z o.o."), "piekarnia wójcik");
        assert_eq!(company_name("ACME, Inc."), "acme");
        assert_eq!(company_name("Co"), "co", "a name is never emptied");
    }

    #[test]
    fn the_file_reads_back_and_keeps_a_person_s_decisions() {
        let matches = vec![
            Match {
                object: ObjectKind::Company,
                source_id: "500".into(),
                candidates: vec![7],
                matched_on: "domain".into(),
                decision: Some(Choice::Link),
                pipedrive_id: Some(7),
            },
            Match {
                object: ObjectKind::Contact,
                source_id: "a\"b".into(),
                candidates: vec![3, 4],
                matched_on: "email".into(),
                decision: None,
                pipedrive_id: None,
            },
        ];
        let text = render(&matches);
        assert_eq!(parse(&text).unwrap(), matches);
        let edited = text.replace("decision = \"review\"", "decision = \"update\", pipedrive_id = 4");
        let kept = merge(matches.clone(), &parse(&edited).unwrap());
        assert_eq!((kept[1].decision, kept[1].pipedrive_id), (Some(Choice::Update), Some(4)));
        let wrong = text.replace("decision = \"review\"", "decision = \"link\", pipedrive_id = 9");
        let errors = parse(&wrong).unwrap_err();
        assert!(
            errors[0].starts_with("line 16: person a\"b: pipedrive_id 9 is not one of its candidates (3, 4)"),
            "{errors:?}"
        );
        assert!(
            parse(&text.replace("\"link\"", "\"merge\"")).unwrap_err()[0].contains("decision \"merge\" is not one of")
        );
    }
}
