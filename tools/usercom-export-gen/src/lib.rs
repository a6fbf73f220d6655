//! Writes a realistic User.com CSV export of a fictional Polish company, deterministic by seed,
//! with the troubles real exports have planted in known places, and returns what it planted.
//!
//! Why a crate of its own: the sample in `examples/usercom-export/` is its output (committed, and
//! a test checks that it is still exactly what the generator writes), the host's tests compare
//! the audit with the planted counts, and the benchmark makes a 1,000,000-contact export with
//! the same code. A migration engineer can also run it to try the tool on data of any size
//! (`cargo run -p usercom-export-gen -- --out /tmp/export --contacts 100000`). Keeping it out of
//! the `crm-migrate` binary keeps test fixtures out of the product.
//!
//! The export looks like what User.com gives (see `shared/reference/usercom-api.md`): one CSV per
//! object, PostgreSQL-style `t`/`f` booleans and `{a,"b c"}` arrays, datetimes in several forms,
//! and differences between files: `users.csv` is UTF-8 with a BOM and CRLF line ends and uses
//! the `custom_id` / `Phone number` headers, `companies.csv` is Windows-1250 with `;` and
//! title-case headers, `activities.csv` is tab-separated with multi-line descriptions.
//!
//! The same account can be written in other dialects (`Options::dialect`, see `dialect.rs`):
//! other headers, column orders, value forms, file names and files, the same records and values.
//! `Planted::values` lists every planted bad value and orphan where the dialect wrote it, so a
//! test can check that what a migration leaves out is exactly what was planted.
//!
//! The records are typed (see `account.rs`) and made one at a time: the files are written as they
//! are made, so that an export of any size is written in the same memory (but for the plan of
//! who plays which part: a few bytes per contact), and the local User.com sandbox collects the
//! very same records into an [`Account`] to serve them.
//!
//! Every figure scales with `contacts` (the sample has 500): about 80 companies, 150 deals in two
//! pipelines, 400 activities, 100 events and 60 conversations per 500 contacts, and the same
//! share of planted troubles. Each record draws from its own random stream (seed, object, index),
//! so a record does not change when another one does.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

pub mod account;
mod dialect;

pub use account::Account;
use account::{Changes, Made, Plant, Records};
pub use dialect::Dialect;
use dialect::{Shape, Table};

/// What to generate.
#[derive(Debug, Clone)]
pub struct Options {
    pub seed: u64,
    pub contacts: usize,
    /// The same account a month later, for delta migrations: every record as before, except
    /// that 4% more contacts and 5% more deals exist, 5% of the people and 10% of the deals
    /// changed (city, score, last seen; a deal won or worth more), and half of the anonymous
    /// visitors were deleted (at the default `change_percent`). Planted troubles are unchanged.
    pub changes: bool,
    /// With `changes`: how much changed a month later, as the percent of the people changed,
    /// 1 to 10; every other change scales with it (at 1: 0.8% more contacts, 1% more deals, 2%
    /// of the deals changed, a tenth of the anonymous visitors deleted). 5, the default, is the
    /// month the delta tests know; the scale bench takes 1.
    pub change_percent: u32,
    /// How the export is written (`Dialect::Sample`: as `examples/usercom-export/`). Every
    /// dialect holds the same records with the same values and the same planted troubles.
    pub dialect: Dialect,
    /// Companies with parent companies (a `Parent company ID` column, sample dialect only):
    /// chains two and three deep, one parent the export does not have (an orphan) and two
    /// companies that are each other's parent (a cycle). Off in the sample, which stays as it is.
    pub hierarchy: bool,
    /// Deals with participants (other contacts) and ordered products, from a catalogue of
    /// products (`products.csv`; `participants` and `order_products` columns in deals.csv, sample
    /// dialect only). Off in the sample, which stays as it is.
    pub deal_products: bool,
    /// The URL an account's files are served from (`https://acme.user.com`): one chat message
    /// in four of the contacts' carries a file link in its HTML content
    /// (`<a href="URL/media/attachments/MESSAGE/NAME">NAME</a>`, listed in `Account::files`), as
    /// User.com's messages can only carry a file (see crm-migrate's `attachments` module). Off in
    /// the sample, which stays as it is.
    pub attachments: Option<String>,
}

/// The month a newer export changes by default (`Options::change_percent`).
pub const DEFAULT_CHANGE_PERCENT: u32 = 5;
/// What `Options::change_percent` may be: above 10 the strides of the changes (every 100/p-th
/// person from the 4th, every 50/p-th deal from the 5th) would skip their first record.
pub const CHANGE_PERCENTS: std::ops::RangeInclusive<u32> = 1..=10;

/// The sample export's settings: `examples/usercom-export/` is `generate(dir, &Options::default())`.
impl Default for Options {
    fn default() -> Self {
        Options {
            seed: 2024,
            contacts: 500,
            changes: false,
            change_percent: DEFAULT_CHANGE_PERCENT,
            dialect: Dialect::Sample,
            hierarchy: false,
            deal_products: false,
            attachments: None,
        }
    }
}

/// What the generator wrote and planted, for tests to compare with what the reader finds.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Planted {
    pub seed: u64,
    /// Rows per file, by object: contacts, companies, deals, activities, events,
    /// conversation_messages, pipelines, stages, tags, segments, custom_attributes, automations,
    /// email_templates.
    pub counts: BTreeMap<String, u64>,
    /// Distinct conversations among the messages.
    pub conversations: u64,
    /// Groups of contacts sharing an email that differs only in case (each group: 2 contacts).
    pub duplicate_email_groups: u64,
    /// Groups of contacts sharing a phone number written differently (each group: 2 contacts).
    pub duplicate_phone_groups: u64,
    /// Orphaned references, keyed `object.field` (e.g. `deal.stage_id`).
    pub orphans: BTreeMap<String, u64>,
    /// Values that do not match their attribute's type, keyed `object.field`.
    pub mismatches: BTreeMap<String, u64>,
    /// Billable contacts in total and for each reason (a contact can have several).
    pub billing: BTreeMap<String, u64>,
    /// Columns without a definition in attributes.csv and the type their values show.
    pub undefined_columns: BTreeMap<String, String>,
    /// Each file's encoding, as a WHATWG label.
    pub encodings: BTreeMap<String, String>,
    /// With `Options::changes`: records added, changed and deleted against the first export,
    /// keyed `contacts_added`, `contacts_changed`, `contacts_deleted`, `deals_added`, `deals_changed`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub changes: BTreeMap<String, u64>,
    /// Every planted bad value (a value that does not read as its attribute's type) and every
    /// orphaned reference, one by one, where this dialect wrote it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<PlantedValue>,
    /// A dialect other than the sample's: what it changed. The records and values are the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dialect: Option<DialectManifest>,
}

/// One planted value.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct PlantedValue {
    /// `bad value` (does not read as its attribute's type) or `orphan` (names a record that does not exist).
    pub kind: String,
    /// contact, company, deal or activity.
    pub object: String,
    pub source_id: String,
    /// The attribute as the sample names it (`orders_count`, `employees`, `stage_id`).
    pub attribute: String,
    /// The file and the column's header as this dialect wrote them.
    pub file: String,
    pub column: String,
    /// The value as written.
    pub value: String,
}

/// What a dialect changed against the sample.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DialectManifest {
    pub name: String,
    pub changes: Vec<String>,
    /// The sample's file name -> this dialect's.
    pub files: BTreeMap<String, String>,
    /// Files only this dialect has (the reader is not expected to migrate them).
    pub extra_files: Vec<String>,
    /// Columns only this dialect has that carry information the sample has not (`file: header`):
    /// what a migration makes of them differs from the sample's by design.
    pub extra_columns: Vec<String>,
}

pub const PLANTED_FILE_NAME: &str = "usercom-export.planted.json";

/// Writes the export into `dir` (created if missing) and returns what was planted.
pub fn generate(dir: &Path, options: &Options) -> io::Result<Planted> {
    if options.contacts < 200 {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "--contacts must be at least 200"));
    }
    if options.hierarchy && options.dialect != Dialect::Sample {
        // The other dialects name their columns one by one, and none has a parent company.
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "--hierarchy is written in the sample dialect only"));
    }
    if options.deal_products && options.dialect != Dialect::Sample {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "--deal-products is written in the sample dialect only",
        ));
    }
    if !CHANGE_PERCENTS.contains(&options.change_percent) {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "--change-percent takes 1 to 10"));
    }
    std::fs::create_dir_all(dir)?;
    let plan = Plan::new(options);
    let mut planted = Planted {
        seed: options.seed,
        counts: BTreeMap::new(),
        conversations: plan.conversations.len() as u64,
        duplicate_email_groups: plan.count(Role::DuplicateEmail) as u64,
        duplicate_phone_groups: plan.count(Role::DuplicatePhone) as u64,
        orphans: BTreeMap::new(),
        mismatches: BTreeMap::new(),
        billing: BTreeMap::new(),
        undefined_columns: BTreeMap::from([
            ("contact.loyalty_member".to_owned(), "boolean".to_owned()),
            ("contact.referral_code".to_owned(), "text".to_owned()),
        ]),
        encodings: BTreeMap::new(),
        changes: BTreeMap::new(),
        values: Vec::new(),
        dialect: (options.dialect != Dialect::Sample).then(|| DialectManifest {
            name: options.dialect.name().to_owned(),
            changes: options.dialect.changes().iter().map(|change| (*change).to_owned()).collect(),
            files: BTreeMap::new(),
            extra_files: Vec::new(),
            extra_columns: Vec::new(),
        }),
    };
    write_export(dir, &plan, options, &mut planted)?;
    planted.values.sort();
    Ok(planted)
}

// ---------------------------------------------------------------------------------------------
// Randomness: SplitMix64, written out so that the sample never changes with a crate's version.

struct Rng(u64);

impl Rng {
    /// The stream of one record: `object` names the file, `index` the row.
    fn of(seed: u64, object: u64, index: u64) -> Rng {
        let mut rng =
            Rng(seed ^ object.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03));
        rng.next();
        rng
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn percent(&mut self, p: usize) -> bool {
        self.below(100) < p
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const CONTACTS: u64 = 1;
const COMPANIES: u64 = 2;
const DEALS: u64 = 3;
const ACTIVITIES: u64 = 4;
const EVENTS: u64 = 5;
const CONVERSATIONS: u64 = 6;
const PLAN: u64 = 7;
const FILES: u64 = 8;

// ---------------------------------------------------------------------------------------------
// The plan: which contact plays which part, decided before anything is written.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// A known person: email, often a phone and a custom id.
    Person,
    /// Same email as `targets[i]`, in other letter case.
    DuplicateEmail,
    /// Same phone as `targets[i]`, written differently.
    DuplicatePhone,
    BadEmail,
    MissingCompany,
    /// Visitors: no email, phone or custom id. Billable only for the reason in the name.
    VisitorChat,
    VisitorWebPush,
    VisitorFcm,
    VisitorAnonymous,
}

/// A value that does not match its attribute's type, planted in one contact.
#[derive(Debug, Clone, Copy)]
struct BadValue {
    field: &'static str,
    value: &'static str,
}

const CONTACT_BAD_VALUES: &[(BadValue, usize)] = &[
    (BadValue { field: "orders_count", value: "dwa" }, 3),
    (BadValue { field: "newsletter_opt_in", value: "maybe" }, 2),
    (BadValue { field: "birthday", value: "31.02.1990" }, 2),
    (BadValue { field: "gender", value: "7" }, 1),
    (BadValue { field: "created_at", value: "yesterday" }, 1),
    (BadValue { field: "industry_segment", value: "handel" }, 1),
];

struct Plan {
    seed: u64,
    changes: bool,
    /// `Options::change_percent`.
    change_percent: usize,
    hierarchy: bool,
    contacts: usize,
    companies: usize,
    deals: usize,
    activities: usize,
    events: usize,
    roles: Vec<Role>,
    /// Duplicates: the contact each duplicates.
    targets: BTreeMap<usize, usize>,
    /// The contacts with a planted bad value, and the value.
    bad_values: BTreeMap<usize, BadValue>,
    /// Per contact: wrote in a chat conversation.
    wrote_in_chat: Vec<bool>,
    /// Conversations: (contact index, the contact wrote in it).
    conversations: Vec<(usize, bool)>,
    /// Scale factor: planted troubles per 500 contacts.
    scale: f64,
}

impl Plan {
    fn new(options: &Options) -> Plan {
        // `generate` refuses others with a message; `Account::new` has no error to give.
        assert!(CHANGE_PERCENTS.contains(&options.change_percent), "change_percent takes 1 to 10");
        let n = options.contacts;
        let scale = n as f64 / 500.0;
        let scaled = |base: usize| ((base as f64 * scale).round() as usize).max(1);
        let mut rng = Rng::of(options.seed, PLAN, 0);
        // Fisher-Yates over all contacts; consecutive slices of the shuffle get the roles.
        let mut order: Vec<u32> = (0..n as u32).collect();
        for i in (1..n).rev() {
            order.swap(i, rng.below(i + 1));
        }
        let mut roles = vec![Role::Person; n];
        let mut targets = BTreeMap::new();
        let mut next = 0;
        let mut take = |count: usize| {
            let slice = &order[next..next + count];
            next += count;
            slice.to_vec()
        };
        for (role, base) in [
            (Role::BadEmail, 9),
            (Role::MissingCompany, 7),
            (Role::VisitorChat, 20),
            (Role::VisitorWebPush, 10),
            (Role::VisitorFcm, 8),
            (Role::VisitorAnonymous, 25),
        ] {
            for index in take(scaled(base)) {
                roles[index as usize] = role;
            }
        }
        for (role, base) in [(Role::DuplicateEmail, 12), (Role::DuplicatePhone, 8)] {
            for index in take(scaled(base)) {
                roles[index as usize] = role;
                // The original: a person with a phone, not used by another duplicate.
                loop {
                    let [candidate] = take(1)[..] else { unreachable!() };
                    if has_phone(options.seed, candidate as usize) {
                        targets.insert(index as usize, candidate as usize);
                        break;
                    }
                }
            }
        }
        let mut bad_values = BTreeMap::new();
        for (bad, base) in CONTACT_BAD_VALUES {
            for index in take(scaled(*base)) {
                bad_values.insert(index as usize, *bad);
            }
        }
        // Conversations: every chat visitor wrote in one; the rest go to people, a quarter of
        // them outbound only (the contact never answered, so it is not a billing reason).
        let mut wrote_in_chat = vec![false; n];
        let mut conversations = Vec::new();
        for (index, role) in roles.iter().enumerate() {
            if *role == Role::VisitorChat {
                conversations.push((index, true));
            }
        }
        let total = scaled(60);
        while conversations.len() < total {
            let index = rng.below(n);
            if roles[index] == Role::Person {
                conversations.push((index, !rng.percent(25)));
            }
        }
        for (index, wrote) in &conversations {
            wrote_in_chat[*index] |= *wrote;
        }
        Plan {
            seed: options.seed,
            changes: options.changes,
            change_percent: options.change_percent as usize,
            hierarchy: options.hierarchy,
            contacts: n,
            companies: n * 80 / 500,
            deals: n * 150 / 500,
            activities: n * 400 / 500,
            events: n * 100 / 500,
            roles,
            targets,
            bad_values,
            wrote_in_chat,
            conversations,
            scale,
        }
    }

    /// Contacts and deals the newer export adds after the first one's: 4% and 5% at 5 percent
    /// changed (`contacts * 20 / 500` is `contacts / 25`, as it always was).
    fn added_contacts(&self) -> usize {
        if self.changes { self.contacts * 4 * self.change_percent / 500 } else { 0 }
    }

    fn added_deals(&self) -> usize {
        if self.changes { self.deals * 5 * self.change_percent / 500 } else { 0 }
    }

    /// One person in this many changed in the newer export (20 at 5 percent).
    fn changed_person_stride(&self) -> usize {
        100 / self.change_percent
    }

    /// One deal in this many changed in the newer export (10 at 5 percent).
    fn changed_deal_stride(&self) -> usize {
        50 / self.change_percent
    }

    /// One anonymous visitor in this many deleted in the newer export (2 at 5 percent).
    fn deleted_visitor_stride(&self) -> usize {
        10 / self.change_percent
    }

    fn count(&self, role: Role) -> usize {
        self.roles.iter().filter(|r| **r == role).count()
    }

    fn scaled(&self, base: usize) -> usize {
        ((base as f64 * self.scale).round() as usize).max(1)
    }

    /// A contact that really exists and is a person (deals and activities point at these).
    fn some_person(&self, rng: &mut Rng) -> usize {
        loop {
            let index = rng.below(self.contacts);
            if self.roles[index] == Role::Person {
                return index;
            }
        }
    }
}

fn contact_id(index: usize) -> u64 {
    10_000 + index as u64
}
fn company_id(index: usize) -> u64 {
    500 + index as u64
}
fn deal_id(index: usize) -> u64 {
    7_000 + index as u64
}
/// Ids no record has, for planted orphans.
const MISSING_COMPANY: u64 = 9_000_000;
const MISSING_CONTACT: u64 = 9_900_000;
const MISSING_DEAL: u64 = 8_000_000;
const MISSING_STAGE: u64 = 99;

fn has_phone(seed: u64, index: usize) -> bool {
    Rng::of(seed, CONTACTS + 100, index as u64).percent(60)
}

/// The national number of contact `index`: 9 digits, unique per contact.
fn phone_digits(index: usize) -> String {
    format!("5{:08}", index)
}

fn format_phone(digits: &str, style: usize) -> String {
    let (a, b, c) = (&digits[0..3], &digits[3..6], &digits[6..9]);
    match style % 4 {
        0 => format!("+48 {a} {b} {c}"),
        1 => digits.to_owned(),
        2 => format!("+48{digits}"),
        _ => format!("0048 {a}-{b}-{c}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Names and words.

const MALE: &[&str] = &[
    "Jan",
    "Piotr",
    "Krzysztof",
    "Andrzej",
    "Tomasz",
    "Paweł",
    "Michał",
    "Marcin",
    "Łukasz",
    "Grzegorz",
    "Jakub",
    "Mateusz",
    "Wojciech",
    "Bartłomiej",
    "Zbigniew",
];
const FEMALE: &[&str] = &[
    "Anna",
    "Maria",
    "Katarzyna",
    "Małgorzata",
    "Agnieszka",
    "Barbara",
    "Ewa",
    "Magdalena",
    "Joanna",
    "Żaneta",
    "Zofia",
    "Urszula",
    "Jadwiga",
    "Beata",
    "Dorota",
];
const SURNAMES: &[(&str, &str)] = &[
    ("Nowak", "Nowak"),
    ("Kowalski", "Kowalska"),
    ("Wiśniewski", "Wiśniewska"),
    ("Wójcik", "Wójcik"),
    ("Kowalczyk", "Kowalczyk"),
    ("Kamiński", "Kamińska"),
    ("Lewandowski", "Lewandowska"),
    ("Zieliński", "Zielińska"),
    ("Szymański", "Szymańska"),
    ("Woźniak", "Woźniak"),
    ("Dąbrowski", "Dąbrowska"),
    ("Kozłowski", "Kozłowska"),
    ("Jankowski", "Jankowska"),
    ("Mazur", "Mazur"),
    ("Krawczyk", "Krawczyk"),
    ("Piotrowski", "Piotrowska"),
    ("Grabowski", "Grabowska"),
    ("Pawłowski", "Pawłowska"),
    ("Michalski", "Michalska"),
    ("Król", "Król"),
    ("Żółkiewski", "Żółkiewska"),
    ("Głąb", "Głąb"),
];
const CITIES: &[&str] = &[
    "Warszawa",
    "Kraków",
    "Łódź",
    "Wrocław",
    "Poznań",
    "Gdańsk",
    "Szczecin",
    "Bydgoszcz",
    "Lublin",
    "Białystok",
    "Katowice",
    "Gdynia",
    "Częstochowa",
    "Radom",
    "Toruń",
    "Kielce",
    "Rzeszów",
    "Gliwice",
    "Zabrze",
    "Olsztyn",
    "Bielsko-Biała",
    "Zielona Góra",
];
const DOMAINS: &[&str] =
    &["gmail.com", "wp.pl", "onet.pl", "o2.pl", "interia.pl", "firma.pl", "poczta.fm", "outlook.com"];
const TAGS: &[&str] = &[
    "VIP",
    "Newsletter",
    "Klient B2B",
    "Lead z targów",
    "Webinar 2024",
    "Porzucony koszyk",
    "Stały klient",
    "Partner",
    "Black Friday",
    "Ankieta NPS",
    "Test",
    "Zimny lead",
];
const INDUSTRIES: &[&str] = &["retail", "services", "manufacturing", "it", "public"];
const INTERESTS: &[&str] = &["sport", "muzyka", "kultura i sztuka", "podróże", "technologia"];
const CONTRACTS: &[&str] = &["roczna", "miesięczna", "jednorazowa"];
/// The shop's User.com agents, who own deals and activities. A migration maps them to
/// Pipedrive users by email; the sample's sandbox has only some of them.
pub const AGENTS: &[&str] = &["anna.nowak@zubrshop.pl", "piotr.zielinski@zubrshop.pl", "katarzyna.lis@zubrshop.pl"];
const STAGES: &[(u64, &str, u64, u32)] = &[
    (11, "Nowy lead", 1, 1),
    (12, "Kwalifikacja", 1, 2),
    (13, "Oferta wysłana", 1, 3),
    (14, "Negocjacje", 1, 4),
    (15, "Zamknięcie", 1, 5),
    (21, "Pierwszy kontakt", 2, 1),
    (22, "Rozmowy", 2, 2),
    (23, "Umowa", 2, 3),
    (24, "Wdrożenie", 2, 4),
];

/// Email-safe spelling of a Polish word.
fn ascii_fold(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            'ą' | 'Ą' => 'a',
            'ć' | 'Ć' => 'c',
            'ę' | 'Ę' => 'e',
            'ł' | 'Ł' => 'l',
            'ń' | 'Ń' => 'n',
            'ó' | 'Ó' => 'o',
            'ś' | 'Ś' => 's',
            'ź' | 'Ź' | 'ż' | 'Ż' => 'z',
            other => other.to_ascii_lowercase(),
        })
        .collect()
}

/// The person behind contact `index`: (first name, last name, female).
fn person(seed: u64, index: usize) -> (&'static str, &'static str, bool) {
    let mut rng = Rng::of(seed, CONTACTS + 200, index as u64);
    let female = rng.percent(50);
    let first = if female { rng.pick(FEMALE) } else { rng.pick(MALE) };
    let (male_last, female_last) = rng.pick(SURNAMES);
    (first, if female { female_last } else { male_last }, female)
}

fn email_of(seed: u64, index: usize) -> String {
    let (first, last, _) = person(seed, index);
    let domain = DOMAINS[index % DOMAINS.len()];
    format!("{}.{}{}@{domain}", ascii_fold(first), ascii_fold(last), index)
}

// ---------------------------------------------------------------------------------------------
// Dates.

const START: i64 = 1_546_300_800; // 2019-01-01T00:00:00Z
const SPAN: i64 = 5 * 365 * 86_400;

/// 1970-01-01: day 0 of the unix clock.
const EPOCH_DAY: jiff::civil::Date = jiff::civil::Date::constant(1970, 1, 1);

/// The UTC date and time `unix` seconds after the epoch. The sample's times are within a few
/// years of [`START`], and the times read back (`dialect::parse_datetime`) within jiff's years.
fn utc(unix: i64) -> jiff::civil::DateTime {
    let instant = jiff::Timestamp::from_second(unix).expect("a time within years -9999 to 9999");
    jiff::tz::Offset::UTC.to_datetime(instant)
}

/// Days since 1970-01-01 of `date`.
fn days_since_epoch(date: jiff::civil::Date) -> i64 {
    date.duration_since(EPOCH_DAY).as_hours() / 24
}

fn date(unix: i64) -> String {
    let utc = utc(unix);
    format!("{:04}-{:02}-{:02}", utc.year(), utc.month(), utc.day())
}

fn clock(unix: i64) -> String {
    let utc = utc(unix);
    format!("{:02}:{:02}:{:02}", utc.hour(), utc.minute(), utc.second())
}

/// A datetime in one of the forms User.com exports have been seen to use.
fn datetime(unix: i64, rng: &mut Rng) -> String {
    match rng.below(6) {
        0 => format!("{}T{}Z", date(unix), clock(unix)),
        1 => format!("{} {}+02", date(unix + 7200), clock(unix + 7200)),
        2 => format!("{} {}.{:06}+00", date(unix), clock(unix), rng.below(1_000_000)),
        3 => unix.to_string(),
        4 => format!("{}T{}", date(unix), clock(unix)),
        _ => format!("{}T{}+01:00", date(unix + 3600), clock(unix + 3600)),
    }
}

fn some_time(rng: &mut Rng) -> i64 {
    START + (rng.next() % SPAN as u64) as i64
}

fn boolean(value: bool, rng: &mut Rng) -> &'static str {
    // Mostly the late-2023 `t`/`f`; older rows say true/false.
    match (value, rng.below(10)) {
        (true, 0) => "true",
        (false, 0) => "false",
        (true, _) => "t",
        (false, _) => "f",
    }
}

/// A PostgreSQL array literal: `{}`, `{a,b}`, elements with spaces or commas quoted.
fn pg_array(items: &[&str]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|item| {
            if item.is_empty() || item.contains([' ', ',', '"', '{', '}', '\\']) {
                format!("\"{}\"", item.replace('\\', "\\\\").replace('"', "\\\""))
            } else {
                (*item).to_owned()
            }
        })
        .collect();
    format!("{{{}}}", quoted.join(","))
}

fn some_of<'a>(items: &[&'a str], max: usize, rng: &mut Rng) -> Vec<&'a str> {
    let count = rng.below(max + 1);
    let mut chosen: Vec<&str> = Vec::new();
    for _ in 0..count {
        let item = *rng.pick(items);
        if !chosen.contains(&item) {
            chosen.push(item);
        }
    }
    chosen
}

// ---------------------------------------------------------------------------------------------
// Files.

#[derive(Clone, Copy)]
pub(crate) enum Encoding {
    Utf8,
    Utf8Bom,
    Windows1250,
}

/// One file being written: rows come in the sample's columns (and the table's extras) and leave
/// in the dialect's shape.
struct Out {
    writer: csv::Writer<Vec<u8>>,
    builder: csv::WriterBuilder,
    file: BufWriter<File>,
    encoding: Encoding,
    /// The file's name as written.
    name: String,
    /// The sample's columns (then the extras), to find a column by its sample header.
    table: &'static [&'static str],
    extras: &'static [&'static str],
    /// The dialect's columns: each the index of the value it shows and its form; `None`: the
    /// sample's columns as given.
    shape: Option<Vec<(Option<usize>, dialect::Form)>>,
    headers: Vec<&'static str>,
}

impl Out {
    fn create(dir: &Path, table: &Table, dialect: Dialect, planted: &mut Planted) -> io::Result<Out> {
        let shape = dialect.shape(table);
        let (name, delimiter, crlf, encoding) = match &shape {
            Some(Shape { name, delimiter, crlf, encoding, .. }) => (name.clone(), *delimiter, *crlf, *encoding),
            None => (table.file.to_owned(), table.delimiter, table.crlf, table.encoding),
        };
        let label = match encoding {
            Encoding::Utf8 | Encoding::Utf8Bom => "utf-8",
            Encoding::Windows1250 => "windows-1250",
        };
        planted.encodings.insert(name.clone(), label.to_owned());
        if let Some(manifest) = &mut planted.dialect {
            manifest.files.insert(table.file.to_owned(), name.clone());
        }
        let mut file = BufWriter::with_capacity(1 << 16, File::create(dir.join(&name))?);
        if let Encoding::Utf8Bom = encoding {
            file.write_all(b"\xEF\xBB\xBF")?;
        }
        let mut builder = csv::WriterBuilder::new();
        builder.delimiter(delimiter).terminator(if crlf { csv::Terminator::CRLF } else { csv::Terminator::Any(b'\n') });
        let writer = builder.from_writer(Vec::with_capacity(1 << 16));
        let index = |header: &str| {
            table
                .header
                .iter()
                .chain(table.extras)
                .position(|name| *name == header)
                .unwrap_or_else(|| panic!("{} has no column {header}", table.file))
        };
        let (shape, headers) = match shape {
            Some(shape) => {
                if let Some(manifest) = &mut planted.dialect {
                    for column in &shape.columns {
                        if column.from.is_some_and(|from| table.extras.contains(&from) && DIALECT_ONLY.contains(&from))
                        {
                            manifest.extra_columns.push(format!("{name}: {}", column.header));
                        }
                    }
                }
                let headers = shape.columns.iter().map(|column| column.header).collect();
                (Some(shape.columns.iter().map(|column| (column.from.map(index), column.form)).collect()), headers)
            }
            None => (None, table.header.to_vec()),
        };
        let mut out =
            Out { writer, builder, file, encoding, name, table: table.header, extras: table.extras, shape, headers };
        out.writer.write_record(&out.headers)?;
        Ok(out)
    }

    /// Writes one row given in the sample's columns, then the table's extras.
    fn row<I: AsRef<str>>(&mut self, fields: impl IntoIterator<Item = I>) -> io::Result<()> {
        match &self.shape {
            None => {
                for field in fields.into_iter().take(self.table.len()) {
                    self.writer.write_field(field.as_ref())?;
                }
            }
            Some(shape) => {
                let values: Vec<I> = fields.into_iter().collect();
                for (from, form) in shape {
                    let value = from.map_or("", |index| values[index].as_ref());
                    self.writer.write_field(form.apply(value).as_ref())?;
                }
            }
        }
        self.writer.write_record(None::<&[u8]>)?;
        if self.writer.get_ref().len() > 1 << 16 {
            self.drain()?;
        }
        Ok(())
    }

    /// The header and the form of the column this file shows the sample's `header` in.
    fn column(&self, header: &str) -> (&'static str, dialect::Form) {
        let index =
            self.table.iter().chain(self.extras).position(|name| *name == header).expect("a column of the table");
        match &self.shape {
            None => (self.table[index], dialect::Form::Same),
            Some(shape) => {
                let at = shape
                    .iter()
                    .position(|(from, _)| *from == Some(index))
                    .expect("every dialect shows every column of the sample");
                (self.headers[at], shape[at].1)
            }
        }
    }

    /// Counts and lists a planted value, keyed `object.attribute`, of the sample's column
    /// `header`, as this file writes it.
    fn plant(
        &self,
        planted: &mut Planted,
        planting: Planting,
        key: &str,
        source_id: impl ToString,
        header: &str,
        value: &str,
    ) {
        let (counts, kind) = match planting {
            Planting::BadValue => (&mut planted.mismatches, "bad value"),
            Planting::Orphan => (&mut planted.orphans, "orphan"),
        };
        *counts.entry(key.to_owned()).or_default() += 1;
        let (object, attribute) = key.split_once('.').expect("keys are object.attribute");
        let (column, form) = self.column(header);
        planted.values.push(PlantedValue {
            kind: kind.to_owned(),
            object: object.to_owned(),
            source_id: source_id.to_string(),
            attribute: attribute.to_owned(),
            file: self.name.clone(),
            column: column.to_owned(),
            value: form.apply(value).into_owned(),
        });
    }

    fn drain(&mut self) -> io::Result<()> {
        let fresh = self.builder.from_writer(Vec::with_capacity(1 << 16));
        let buffer = std::mem::replace(&mut self.writer, fresh).into_inner().map_err(|error| error.into_error())?;
        match self.encoding {
            Encoding::Utf8 | Encoding::Utf8Bom => self.file.write_all(&buffer)?,
            Encoding::Windows1250 => {
                let text = String::from_utf8(buffer).expect("the generator writes UTF-8");
                let (bytes, _, unmappable) = encoding_rs::WINDOWS_1250.encode(&text);
                assert!(!unmappable, "the generator writes only what Windows-1250 can encode");
                self.file.write_all(&bytes)?;
            }
        }
        Ok(())
    }

    fn finish(mut self) -> io::Result<()> {
        self.drain()?;
        self.file.flush()
    }
}

/// Extras that carry information the sample's files have not got (the others, a full name or
/// an attendee's email, say what the sample says in another way).
const DIALECT_ONLY: &[&str] = &["sessions", "browser"];

fn count(planted: &mut Planted, object: &str, rows: usize) {
    planted.counts.insert(object.to_owned(), rows as u64);
}

/// What a planted value is.
#[derive(Debug, Clone, Copy)]
enum Planting {
    /// A value that does not read as its attribute's type: counted in `mismatches`.
    BadValue,
    /// A reference to a record that does not exist: counted in `orphans`.
    Orphan,
}

/// A small UTF-8, comma-separated file with LF line ends and no extras.
const fn table(file: &'static str, header: &'static [&'static str]) -> Table {
    Table { file, delimiter: b',', crlf: false, encoding: Encoding::Utf8, header, extras: &[] }
}

/// Writes the export of the account `plan` makes into `dir` (which exists) in `options`' dialect,
/// each record as it is made.
fn write_export(dir: &Path, plan: &Plan, options: &Options, planted: &mut Planted) -> io::Result<()> {
    let records = Records::new(plan, options);
    let mut changes = Changes::new(plan);
    write_catalogues(dir, &Account::catalogues(plan, options), options.dialect, planted)?;
    write_contacts(dir, &records, options.dialect, &mut changes, planted)?;
    write_companies(dir, &records, options, planted)?;
    write_deals(dir, &records, options, &mut changes, planted)?;
    write_activities(dir, &records, options.dialect, planted)?;
    write_events(dir, &records, options.dialect, planted)?;
    write_conversations(dir, &records, options.dialect, planted)?;
    write_extra_files(dir, options.dialect, planted)?;
    planted.changes = changes.0;
    Ok(())
}

/// The record `made` holds (None: deleted), its planted values listed as `out` writes them.
fn listed<T>(out: &Out, made: Made<T>, planted: &mut Planted) -> Option<T> {
    for plant in &made.plants {
        let Plant { planting, key, source_id, header, value } = plant;
        out.plant(planted, *planting, key, source_id, header, value);
    }
    made.record
}

/// A text that may be missing, as the export writes it (missing: an empty cell).
fn text<T: ToString>(value: &Option<T>) -> String {
    value.as_ref().map_or_else(String::new, T::to_string)
}

fn written<T>(value: &Option<account::Written<T>>) -> &str {
    value.as_ref().map_or("", |written| written.text.as_str())
}

fn flag(value: bool) -> &'static str {
    if value { "t" } else { "f" }
}

fn write_catalogues(dir: &Path, account: &Account, dialect: Dialect, planted: &mut Planted) -> io::Result<()> {
    let mut out = Out::create(
        dir,
        &table("attributes.csv", &["id", "name", "name_std", "value_type", "content_type", "multiple", "choices"]),
        dialect,
        planted,
    )?;
    for attribute in &account.attributes {
        out.row([
            attribute.id.to_string(),
            attribute.name.to_owned(),
            attribute.name_std.to_owned(),
            attribute.value_type.to_owned(),
            attribute.content_type.to_owned(),
            attribute.multiple.map_or("", flag).to_owned(),
            attribute.choices.as_deref().map_or_else(String::new, pg_array),
        ])?;
    }
    out.finish()?;
    count(planted, "custom_attributes", account.attributes.len());

    let mut out = Out::create(dir, &table("pipelines.csv", &["id", "name"]), dialect, planted)?;
    for pipeline in &account.pipelines {
        out.row([pipeline.id.to_string(), pipeline.name.to_owned()])?;
    }
    out.finish()?;
    count(planted, "pipelines", account.pipelines.len());

    let mut out = Out::create(dir, &table("stages.csv", &["id", "name", "pipeline", "order"]), dialect, planted)?;
    for stage in &account.stages {
        out.row([stage.id.to_string(), stage.name.to_owned(), stage.pipeline.to_string(), stage.order.to_string()])?;
    }
    out.finish()?;
    count(planted, "stages", account.stages.len());

    let mut out = Out::create(dir, &table("tags.csv", &["id", "name"]), dialect, planted)?;
    for tag in &account.tags {
        out.row([tag.id.to_string(), tag.name.to_owned()])?;
    }
    out.finish()?;
    count(planted, "tags", account.tags.len());

    let mut out = Out::create(
        dir,
        &table("segments.csv", &["id", "name", "description", "rules", "object_count"]),
        dialect,
        planted,
    )?;
    for segment in &account.segments {
        out.row([
            segment.id.to_string(),
            segment.name.to_owned(),
            segment.description.to_owned(),
            segment.rules.to_owned(),
            segment.object_count.to_string(),
        ])?;
    }
    out.finish()?;
    count(planted, "segments", account.segments.len());

    let mut out = Out::create(
        dir,
        &table("automations.csv", &["id", "name", "trigger", "conditions", "actions", "active"]),
        dialect,
        planted,
    )?;
    for automation in &account.automations {
        out.row([
            automation.id.to_string(),
            automation.name.to_owned(),
            automation.trigger.to_owned(),
            automation.conditions.to_owned(),
            automation.actions.to_owned(),
            automation.active.text.clone(),
        ])?;
    }
    out.finish()?;
    count(planted, "automations", account.automations.len());

    let templates_table =
        Table { crlf: true, ..table("email_templates.csv", &["id", "name", "subject", "body", "updated_at"]) };
    let mut out = Out::create(dir, &templates_table, dialect, planted)?;
    for template in &account.email_templates {
        out.row([
            template.id.to_string(),
            template.name.to_owned(),
            template.subject.to_owned(),
            template.body.to_owned(),
            template.updated_at.text.clone(),
        ])?;
    }
    out.finish()?;
    count(planted, "email_templates", account.email_templates.len());

    if !account.products.is_empty() {
        let mut out = Out::create(dir, &table("products.csv", &["id", "name", "price", "currency"]), dialect, planted)?;
        for product in &account.products {
            out.row([
                product.id.to_string(),
                product.name.to_owned(),
                product.price.clone(),
                product.currency.to_owned(),
            ])?;
        }
        out.finish()?;
        count(planted, "products", account.products.len());
    }
    Ok(())
}

fn write_contacts(
    dir: &Path,
    records: &Records,
    dialect: Dialect,
    changes: &mut Changes,
    planted: &mut Planted,
) -> io::Result<()> {
    const USERS: Table = Table {
        file: "users.csv",
        delimiter: b',',
        crlf: true,
        encoding: Encoding::Utf8Bom,
        header: &[
            "id",
            "custom_id",
            "key",
            "email",
            "first_name",
            "last_name",
            "Phone number",
            "gender",
            "status",
            "company_id",
            "city",
            "country",
            "unsubscribed",
            "created_at",
            "last_seen",
            "last_heard",
            "web_push_subscription",
            "fcm_key",
            "tags",
            "score",
            "industry_segment",
            "interests",
            "lifetime_value",
            "orders_count",
            "newsletter_opt_in",
            "birthday",
            "trial_ends_at",
            "referral_code",
            "loyalty_member",
        ],
        extras: &["full_name", "sessions", "browser"],
    };
    let mut out = Out::create(dir, &USERS, dialect, planted)?;
    let mut reasons: BTreeMap<&str, u64> =
        ["billable", "email", "phone", "user_id", "chat", "web_push", "fcm"].into_iter().map(|r| (r, 0)).collect();
    let mut row: Vec<String> = Vec::with_capacity(32);
    let mut users = 0;
    for made in records.users() {
        changes.count("contacts", made.change);
        let Some(user) = listed(&out, made, planted) else { continue };
        users += 1;
        row.clear();
        row.push(user.id.to_string());
        row.push(text(&user.custom_id));
        row.push(user.key.clone());
        row.push(text(&user.email));
        row.push(text(&user.first_name));
        row.push(text(&user.last_name));
        row.push(text(&user.phone_number));
        row.push(user.gender.to_string());
        row.push(user.status.to_string());
        row.push(text(&user.company_id));
        row.push(user.city.to_owned());
        row.push(user.country.to_owned());
        row.push(user.unsubscribed.text.clone());
        row.push(user.created_at.text.clone());
        row.push(user.last_seen.text.clone());
        row.push(written(&user.last_heard).to_owned());
        row.push(user.web_push_subscription.map_or("", flag).to_owned());
        row.push(text(&user.fcm_key));
        row.push(user.tags.as_deref().map_or_else(String::new, pg_array));
        row.push(user.score.to_string());
        row.push(text(&user.industry_segment));
        row.push(written(&user.interests).to_owned());
        row.push(user.lifetime_value.clone());
        row.push(user.orders_count.text.clone());
        row.push(user.newsletter_opt_in.text.clone());
        row.push(text(&user.birthday));
        row.push(written(&user.trial_ends_at).to_owned());
        row.push(text(&user.referral_code));
        row.push(user.loyalty_member.text.clone());
        row.push(match (user.first_name, user.last_name) {
            (Some(first), Some(last)) => format!("{first} {last}"),
            _ => String::new(),
        });
        row.push(user.sessions.to_string());
        row.push(user.browser.to_owned());
        out.row(&row)?;

        let flags = [
            ("email", user.email.is_some()),
            ("phone", user.phone_number.is_some()),
            ("user_id", user.custom_id.is_some()),
            ("chat", records.wrote_in_chat(user.id)),
            ("web_push", user.web_push_subscription == Some(true)),
            ("fcm", user.fcm_key.is_some()),
        ];
        for (reason, yes) in flags {
            if yes {
                *reasons.get_mut(reason).unwrap() += 1;
            }
        }
        if flags.iter().any(|(_, yes)| *yes) {
            *reasons.get_mut("billable").unwrap() += 1;
        }
    }
    out.finish()?;
    count(planted, "contacts", users);
    planted.billing = reasons.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    Ok(())
}

fn write_companies(dir: &Path, records: &Records, options: &Options, planted: &mut Planted) -> io::Result<()> {
    const COMPANIES_TABLE: Table = Table {
        file: "companies.csv",
        delimiter: b';',
        crlf: true,
        encoding: Encoding::Windows1250,
        header: &["ID", "Name", "Phone number", "Email", "City", "Country", "Created at", "Tags", "NIP", "Employees"],
        extras: &[],
    };
    const COMPANIES_WITH_PARENTS: Table = Table {
        header: &[
            "ID",
            "Name",
            "Phone number",
            "Email",
            "City",
            "Country",
            "Created at",
            "Tags",
            "NIP",
            "Employees",
            "Parent company ID",
        ],
        ..COMPANIES_TABLE
    };
    let table = if options.hierarchy { &COMPANIES_WITH_PARENTS } else { &COMPANIES_TABLE };
    let mut out = Out::create(dir, table, options.dialect, planted)?;
    let mut companies = 0;
    for made in records.companies() {
        let Some(company) = listed(&out, made, planted) else { continue };
        companies += 1;
        out.row([
            company.id.to_string(),
            company.name.clone(),
            company.phone_number.clone(),
            company.email.clone(),
            company.city.to_owned(),
            company.country.to_owned(),
            company.created_at.text.clone(),
            company.tags.as_deref().map_or_else(String::new, pg_array),
            company.nip.clone(),
            company.employees.text.clone(),
            text(&company.parent_id),
        ])?;
    }
    out.finish()?;
    count(planted, "companies", companies);
    Ok(())
}

fn write_deals(
    dir: &Path,
    records: &Records,
    options: &Options,
    changes: &mut Changes,
    planted: &mut Planted,
) -> io::Result<()> {
    const DEALS_TABLE: Table = table(
        "deals.csv",
        &[
            "id",
            "name",
            "value",
            "currency",
            "status",
            "pipeline",
            "stage",
            "user_id",
            "company_id",
            "created_at",
            "expected_close_date",
            "won_at",
            "lost_at",
            "tags",
            "contract_type",
            "assigned_to",
        ],
    );
    // `Options::deal_products`: the API's deal model's participants and order products, read by
    // the host's deal products support: participants as a Postgres array of user ids, the order
    // as a JSON array of `{"product_id","quantity","value","currency"}`.
    const DEALS_WITH_PRODUCTS: Table = Table {
        header: &[
            "id",
            "name",
            "value",
            "currency",
            "status",
            "pipeline",
            "stage",
            "user_id",
            "company_id",
            "created_at",
            "expected_close_date",
            "won_at",
            "lost_at",
            "tags",
            "contract_type",
            "assigned_to",
            "participants",
            "order_products",
        ],
        ..DEALS_TABLE
    };
    let table = if options.deal_products { &DEALS_WITH_PRODUCTS } else { &DEALS_TABLE };
    let mut out = Out::create(dir, table, options.dialect, planted)?;
    let mut deals = 0;
    for made in records.deals() {
        changes.count("deals", made.change);
        let Some(deal) = listed(&out, made, planted) else { continue };
        deals += 1;
        let participants: Vec<String> = deal.participants.iter().map(u64::to_string).collect();
        let participants: Vec<&str> = participants.iter().map(String::as_str).collect();
        // Written out in the documented key order (serde_json's map would sort them).
        let order: Vec<String> = deal
            .order_products
            .iter()
            .map(|line| {
                format!(
                    r#"{{"product_id":{},"quantity":{},"value":"{}","currency":"{}"}}"#,
                    line.product_id, line.quantity, line.value, line.currency
                )
            })
            .collect();
        out.row([
            deal.id.to_string(),
            deal.name.clone(),
            deal.value.clone(),
            deal.currency.to_owned(),
            deal.status.to_string(),
            deal.pipeline.to_string(),
            deal.stage.to_string(),
            deal.user_id.to_string(),
            text(&deal.company_id),
            deal.created_at.text.clone(),
            deal.expected_close_date.clone(),
            written(&deal.won_at).to_owned(),
            written(&deal.lost_at).to_owned(),
            pg_array(&deal.tags),
            text(&deal.contract_type),
            text(&deal.assigned_to),
            pg_array(&participants),
            format!("[{}]", order.join(",")),
        ])?;
    }
    out.finish()?;
    count(planted, "deals", deals);
    Ok(())
}

fn write_activities(dir: &Path, records: &Records, dialect: Dialect, planted: &mut Planted) -> io::Result<()> {
    let activities = Table {
        delimiter: b'\t',
        ..table(
            "activities.csv",
            &[
                "id",
                "name",
                "activity_type",
                "deal_id",
                "user_id",
                "company_id",
                "description",
                "done",
                "due_date",
                "created_at",
                "duration",
                "assigned_to",
            ],
        )
    };
    let mut out = Out::create(dir, &activities, dialect, planted)?;
    let mut activities = 0;
    for made in records.activities() {
        let Some(activity) = listed(&out, made, planted) else { continue };
        activities += 1;
        out.row([
            activity.id.to_string(),
            activity.name.to_owned(),
            activity.activity_type.to_string(),
            text(&activity.deal_id),
            activity.user_id.to_string(),
            text(&activity.company_id),
            activity.description.clone(),
            activity.done.text.clone(),
            format!("{}T{}Z", date(activity.due_date), clock(activity.due_date)),
            activity.created_at.text.clone(),
            activity.duration.to_string(),
            text(&activity.assigned_to),
        ])?;
    }
    out.finish()?;
    count(planted, "activities", activities);
    Ok(())
}

/// The activity types (name, User.com id).
const ACTIVITY_TYPES: &[(&str, u64)] =
    &[("Telefon", 25_946), ("Spotkanie", 25_947), ("E-mail", 25_948), ("Zadanie", 25_949)];

/// Files some dialects add: the display export's activity-type catalogue, and in each one file
/// the reader does not know (listed in the manifest's `extra_files`).
fn write_extra_files(dir: &Path, dialect: Dialect, planted: &mut Planted) -> io::Result<()> {
    let type_rows: Vec<Vec<String>> =
        ACTIVITY_TYPES.iter().map(|(name, id)| vec![id.to_string(), name.to_string()]).collect();
    let rows = |rows: &[&[&str]]| -> Vec<Vec<String>> {
        rows.iter().map(|row| row.iter().map(|cell| cell.to_string()).collect()).collect()
    };
    // Each: the file, its rows, whether the reader is expected not to know it.
    let files: Vec<(Table, Vec<Vec<String>>, bool)> = match dialect {
        Dialect::Sample => Vec::new(),
        Dialect::Display => vec![
            (table("activity_types.csv", &["id", "name"]), type_rows, false),
            (
                table("products.csv", &["id", "name", "price"]),
                rows(&[
                    &["1", "Abonament Pro", "199.00"],
                    &["2", "Wdrożenie CRM", "4500.00"],
                    &["3", "Pakiet szkoleń", "1200.00"],
                ]),
                true,
            ),
        ],
        Dialect::PanelPl => vec![(
            table("formularze.csv", &["id", "name", "submissions"]),
            rows(&[&["1", "kontakt", "412"], &["2", "newsletter", "1893"]]),
            true,
        )],
    };
    for (table, rows, unknown) in files {
        let mut out = Out::create(dir, &table, dialect, planted)?;
        for row in &rows {
            out.row(row)?;
        }
        if let (true, Some(manifest)) = (unknown, &mut planted.dialect) {
            manifest.extra_files.push(out.name.clone());
        }
        out.finish()?;
    }
    Ok(())
}

fn write_events(dir: &Path, records: &Records, dialect: Dialect, planted: &mut Planted) -> io::Result<()> {
    let events =
        Table { extras: &["attendee_email"], ..table("events.csv", &["id", "name", "user_id", "timestamp", "data"]) };
    let mut out = Out::create(dir, &events, dialect, planted)?;
    let mut events = 0;
    for event in records.events() {
        events += 1;
        // Events belong to persons, who always have an email.
        let attendee = records.user_by_id(event.user_id).and_then(|user| user.email).unwrap_or_default();
        out.row([
            event.id.to_string(),
            event.name.to_owned(),
            event.user_id.to_string(),
            event.timestamp.to_string(),
            event.data,
            attendee,
        ])?;
    }
    out.finish()?;
    count(planted, "events", events);
    Ok(())
}

fn write_conversations(dir: &Path, records: &Records, dialect: Dialect, planted: &mut Planted) -> io::Result<()> {
    let conversations =
        table("conversations.csv", &["id", "conversation_id", "user_id", "sender", "content", "timestamp", "source"]);
    let mut out = Out::create(dir, &conversations, dialect, planted)?;
    let mut messages = 0;
    for conversation in records.conversations() {
        for message in &conversation.messages {
            // The sample's chat times are Polish winter time.
            let local = message.timestamp + 3600;
            out.row([
                message.id.to_string(),
                conversation.id.to_string(),
                conversation.user_id.to_string(),
                if message.from_user { "user" } else { "agent" }.to_owned(),
                message.content.clone(),
                format!("{}T{}+01:00", date(local), clock(local)),
                message.source.to_owned(),
            ])?;
            messages += 1;
        }
    }
    out.finish()?;
    count(planted, "conversation_messages", messages);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_writes_the_same_bytes_and_another_seed_does_not() {
        let (a, b, c) = (tempdir("a"), tempdir("b"), tempdir("c"));
        let planted_a = generate(&a, &Options::default()).unwrap();
        let planted_b = generate(&b, &Options::default()).unwrap();
        generate(&c, &Options { seed: 7, ..Options::default() }).unwrap();
        assert_eq!(planted_a, planted_b);
        let read = |dir: &Path| std::fs::read(dir.join("users.csv")).unwrap();
        assert_eq!(read(&a), read(&b));
        assert_ne!(read(&a), read(&c));
        for dir in [a, b, c] {
            std::fs::remove_dir_all(dir).unwrap();
        }
    }

    #[test]
    fn planted_troubles_scale_with_the_contacts() {
        let small = Plan::new(&Options::default());
        let large = Plan::new(&Options { contacts: 5000, ..Options::default() });
        assert_eq!(small.count(Role::DuplicateEmail), 12);
        assert_eq!(large.count(Role::DuplicateEmail), 120);
        assert_eq!(large.conversations.len(), 600);
        // A duplicate's original is a plain person with a phone, never another planted trouble.
        for plan in [small, large] {
            for (index, role) in plan.roles.iter().enumerate() {
                if matches!(role, Role::DuplicateEmail | Role::DuplicatePhone) {
                    let target = plan.targets[&index];
                    assert_eq!(plan.roles[target], Role::Person);
                    assert!(has_phone(plan.seed, target));
                }
            }
        }
    }

    #[test]
    fn the_newer_export_keeps_unchanged_records_byte_for_byte() {
        let (first, newer) = (tempdir("first"), tempdir("newer"));
        generate(&first, &Options::default()).unwrap();
        let planted = generate(&newer, &Options { changes: true, ..Options::default() }).unwrap();
        assert_eq!(planted.changes["contacts_added"], 20);
        assert_eq!(planted.changes["deals_added"], 7);
        let lines = |dir: &Path, file: &str| -> Vec<String> {
            std::fs::read_to_string(dir.join(file))
                .unwrap()
                .trim_start_matches('\u{feff}')
                .split("\r\n")
                .map(str::to_owned)
                .collect()
        };
        let (old, new) = (lines(&first, "users.csv"), lines(&newer, "users.csv"));
        let kept = old.iter().filter(|line| new.contains(line)).count() as u64;
        // Every old row is still there unless it was changed or deleted.
        assert_eq!(kept, old.len() as u64 - planted.changes["contacts_changed"] - planted.changes["contacts_deleted"]);
        assert_eq!(planted.counts["contacts"], 500 + 20 - planted.changes["contacts_deleted"]);
        assert_eq!(
            std::fs::read(first.join("companies.csv")).unwrap(),
            std::fs::read(newer.join("companies.csv")).unwrap()
        );
        for dir in [first, newer] {
            std::fs::remove_dir_all(dir).unwrap();
        }
    }

    #[test]
    fn every_dialect_holds_the_same_records_and_planted_values() {
        let sample_dir = tempdir("sample");
        let sample = generate(&sample_dir, &Options::default()).unwrap();
        assert_eq!(sample.dialect, None);
        let key = |planted: &Planted| -> Vec<(String, String, String, String)> {
            planted
                .values
                .iter()
                .map(|v| (v.kind.clone(), v.object.clone(), v.source_id.clone(), v.attribute.clone()))
                .collect()
        };
        for dialect in [Dialect::Display, Dialect::PanelPl] {
            let dir = tempdir(dialect.name());
            let planted = generate(&dir, &Options { dialect, ..Options::default() }).unwrap();
            assert_eq!(key(&planted), key(&sample), "{}", dialect.name());
            assert_eq!(
                (&planted.mismatches, &planted.orphans, &planted.billing),
                (&sample.mismatches, &sample.orphans, &sample.billing)
            );
            for object in ["contacts", "companies", "deals", "activities", "events", "conversation_messages"] {
                assert_eq!(planted.counts[object], sample.counts[object], "{object}");
            }
            let manifest = planted.dialect.as_ref().unwrap();
            assert!(!manifest.changes.is_empty() && !manifest.extra_files.is_empty());
            for name in manifest.files.values() {
                assert!(dir.join(name).is_file(), "{name}");
            }
            std::fs::remove_dir_all(dir).unwrap();
        }
        std::fs::remove_dir_all(sample_dir).unwrap();
    }

    #[test]
    fn every_planted_value_is_where_the_manifest_says() {
        for dialect in Dialect::ALL {
            let dir = tempdir(&format!("where-{}", dialect.name()));
            let planted = generate(&dir, &Options { dialect, ..Options::default() }).unwrap();
            for value in &planted.values {
                let bytes = std::fs::read(dir.join(&value.file)).unwrap();
                let text = match planted.encodings[&value.file].as_str() {
                    "windows-1250" => encoding_rs::WINDOWS_1250.decode(&bytes).0.into_owned(),
                    _ => String::from_utf8(bytes).unwrap().trim_start_matches('\u{feff}').to_owned(),
                };
                let first_line = text.lines().next().unwrap();
                let delimiter = [b';', b'\t', b','].into_iter().find(|d| first_line.contains(*d as char)).unwrap();
                let mut reader = csv::ReaderBuilder::new().delimiter(delimiter).from_reader(text.as_bytes());
                let headers = reader.headers().unwrap().clone();
                let at = |name: &str| {
                    headers
                        .iter()
                        .position(|h| h.eq_ignore_ascii_case(name))
                        .unwrap_or_else(|| panic!("{}: no column {name}", value.file))
                };
                let (id, column) = (at("id"), at(&value.column));
                let row = reader
                    .records()
                    .map(Result::unwrap)
                    .find(|row| row[id] == value.source_id)
                    .unwrap_or_else(|| panic!("{}: no row {}", value.file, value.source_id));
                assert_eq!(row[column], value.value, "{} {:?}", dialect.name(), value);
            }
            std::fs::remove_dir_all(dir).unwrap();
        }
    }

    #[test]
    fn the_display_dialect_writes_full_names_attendees_and_polish_numbers() {
        let dir = tempdir("display-rows");
        generate(&dir, &Options { dialect: Dialect::Display, ..Options::default() }).unwrap();
        let bytes = std::fs::read(dir.join("users.csv")).unwrap();
        let (users, _, unmappable) = encoding_rs::WINDOWS_1250.decode(&bytes);
        assert!(!unmappable);
        let mut lines = users.split("\r\n");
        let header: Vec<&str> = lines.next().unwrap().split(';').collect();
        assert_eq!(&header[3..7], ["E-mail address", "First name", "Last name", "Full name"]);
        let first: Vec<&str> = lines.next().unwrap().split(';').collect();
        assert_eq!(first[6], format!("{} {}", first[4], first[5]));
        let events = std::fs::read_to_string(dir.join("events.csv")).unwrap();
        assert!(events.starts_with("ID,Event name,Contact ID,start,end,attendees,location,Data\n50000,cart_abandoned,10415,2021-12-01T07:41:15Z,2021-12-01T07:41:15Z,"), "{events}");
        let deals = std::fs::read_to_string(dir.join("deals.csv")).unwrap();
        assert!(deals.contains(",\"13 063,67\",PLN,"), "{deals}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_month_later_at_one_percent_changes_a_fifth_as_much_and_keeps_the_rest_byte_for_byte() {
        let (first, five, one) = (tempdir("first-1pc"), tempdir("five-1pc"), tempdir("one-1pc"));
        generate(&first, &Options::default()).unwrap();
        let five_percent = generate(&five, &Options { changes: true, ..Options::default() }).unwrap().changes;
        let planted = generate(&one, &Options { changes: true, change_percent: 1, ..Options::default() }).unwrap();
        let one_percent = &planted.changes;
        // 500 contacts and 150 deals: 0.8% and 1% more.
        assert_eq!((one_percent["contacts_added"], one_percent["deals_added"]), (4, 1));
        for key in ["contacts_changed", "contacts_deleted", "deals_changed"] {
            assert!(one_percent[key] > 0 && one_percent[key] * 3 <= five_percent[key], "{key}: {planted:?}");
        }
        let rows = |dir: &Path| -> Vec<String> {
            let text = std::fs::read_to_string(dir.join("users.csv")).unwrap();
            text.split("\r\n").map(str::to_owned).collect()
        };
        let (old, new) = (rows(&first), rows(&one));
        let kept = old.iter().filter(|line| new.contains(line)).count() as u64;
        assert_eq!(kept, old.len() as u64 - one_percent["contacts_changed"] - one_percent["contacts_deleted"]);
        let refused = generate(&one, &Options { changes: true, change_percent: 11, ..Options::default() });
        assert!(refused.unwrap_err().to_string().contains("1 to 10"));
        for dir in [first, five, one] {
            std::fs::remove_dir_all(dir).unwrap();
        }
    }

    #[test]
    fn the_account_in_memory_holds_what_the_export_counts() {
        let options = Options { changes: true, hierarchy: true, ..Options::default() };
        let dir = tempdir("account");
        let planted = generate(&dir, &options).unwrap();
        let account = Account::new(&options);
        let messages: usize = account.conversations.iter().map(|c| c.messages.len()).sum();
        for (object, held) in [
            ("contacts", account.users.len()),
            ("companies", account.companies.len()),
            ("deals", account.deals.len()),
            ("activities", account.activities.len()),
            ("events", account.events.len()),
            ("conversation_messages", messages),
            ("segments", account.segments.len()),
            ("automations", account.automations.len()),
            ("email_templates", account.email_templates.len()),
        ] {
            assert_eq!(planted.counts[object], held as u64, "{object}");
        }
        assert_eq!(planted.changes, account.changes);
        // The export counts chats from the plan (it writes users before their conversations).
        let plan = Plan::new(&options);
        let records = Records::new(&plan, &options);
        let chatted = account.users_who_wrote_in_chat();
        assert!(!chatted.is_empty());
        assert!(account.users.iter().all(|user| records.wrote_in_chat(user.id) == chatted.contains(&user.id)));
        // What changed a month later is what was updated after the first export.
        let updated_later = account.users.iter().filter(|user| user.updated_at > account::FIRST_EXPORT_AT).count();
        assert_eq!(updated_later as u64, planted.changes["contacts_added"] + planted.changes["contacts_changed"]);
        assert!(account.users.windows(2).all(|pair| pair[0].id < pair[1].id));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn attachments_link_files_in_some_messages_and_change_no_other_file_or_value() {
        let (plain, with) = (tempdir("files-plain"), tempdir("files-linked"));
        generate(&plain, &Options::default()).unwrap();
        let options = Options { attachments: Some("https://acme.user.com".into()), ..Options::default() };
        generate(&with, &options).unwrap();
        for entry in std::fs::read_dir(&plain).unwrap() {
            let name = entry.unwrap().file_name();
            if name != "conversations.csv" {
                assert_eq!(
                    std::fs::read(plain.join(&name)).unwrap(),
                    std::fs::read(with.join(&name)).unwrap(),
                    "{name:?}"
                );
            }
        }
        let account = Account::new(&options);
        assert!(account.files.len() >= 5, "{} files", account.files.len());
        let rows = |dir: &Path| -> Vec<csv::StringRecord> {
            csv::Reader::from_path(dir.join("conversations.csv")).unwrap().records().map(Result::unwrap).collect()
        };
        let (before, after) = (rows(&plain), rows(&with));
        assert_eq!(before.len(), after.len());
        let mut linked = 0;
        for (old, new) in before.iter().zip(&after) {
            assert_eq!((&old[0], &old[1], &old[2], &old[5]), (&new[0], &new[1], &new[2], &new[5]));
            if old[4] != new[4] {
                let file = account.files.iter().find(|file| file.message_id.to_string() == new[0]).unwrap();
                let link = format!("<br><a href=\"https://acme.user.com{}\">{}</a>", file.path, file.name);
                assert_eq!(new[4], format!("{}{link}", &old[4]));
                assert_eq!(file.bytes().len() as u64, file.size);
                linked += 1;
            }
        }
        assert_eq!(linked, account.files.len(), "each file linked once");
        std::fs::remove_dir_all(plain).unwrap();
        std::fs::remove_dir_all(with).unwrap();
    }

    #[test]
    fn deal_products_add_a_catalogue_and_two_deal_columns_and_change_nothing_else() {
        let (plain, with) = (tempdir("deals-plain"), tempdir("deals-products"));
        generate(&plain, &Options::default()).unwrap();
        let planted = generate(&with, &Options { deal_products: true, ..Options::default() }).unwrap();
        assert_eq!(planted.counts["products"], 5);
        let products = std::fs::read_to_string(with.join("products.csv")).unwrap();
        assert!(products.starts_with("id,name,price,currency\n1,Abonament Pro,199.00,PLN\n"), "{products}");
        let rows = |dir: &Path| -> Vec<csv::StringRecord> {
            csv::Reader::from_path(dir.join("deals.csv")).unwrap().records().map(Result::unwrap).collect()
        };
        let header = csv::Reader::from_path(with.join("deals.csv")).unwrap().headers().unwrap().clone();
        assert_eq!(header.iter().skip(16).collect::<Vec<_>>(), ["participants", "order_products"]);
        let (before, after) = (rows(&plain), rows(&with));
        assert_eq!(before.len(), after.len());
        let account = Account::new(&Options { deal_products: true, ..Options::default() });
        let (mut participants, mut lines) = (0, 0);
        for (old, new) in before.iter().zip(&after) {
            assert_eq!(old.iter().collect::<Vec<_>>(), new.iter().take(16).collect::<Vec<_>>());
            let ids = new[16].trim_matches(['{', '}']);
            for id in ids.split(',').filter(|id| !id.is_empty()) {
                assert!(account.user(id.parse().unwrap()).is_some(), "participant {id}");
                participants += 1;
            }
            assert!(new[17] == *"[]" || new[17].starts_with(r#"[{"product_id":"#), "{}", &new[17]);
            let order: Vec<serde_json::Value> = serde_json::from_str(&new[17]).unwrap();
            for line in &order {
                let keys: Vec<&String> = line.as_object().unwrap().keys().collect();
                assert_eq!(keys.len(), 4);
                assert!((1..=5).contains(&line["product_id"].as_u64().unwrap()));
                assert!(line["value"].as_str().unwrap().ends_with(".00"));
                lines += 1;
            }
        }
        assert!(participants > 50 && lines > 100, "{participants} participants, {lines} order lines");
        for dir in [plain, with] {
            std::fs::remove_dir_all(dir).unwrap();
        }
    }

    #[test]
    fn pg_arrays_quote_elements_with_spaces_and_commas() {
        assert_eq!(pg_array(&[]), "{}");
        assert_eq!(pg_array(&["vip", "Klient B2B", "a,b", "say \"hi\""]), r#"{vip,"Klient B2B","a,b","say \"hi\""}"#);
    }

    fn tempdir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("usercom-export-gen-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }
}
