//! The generated account: every record typed, as User.com holds it. [`Records`] makes the records
//! one at a time; the local User.com sandbox (`usercom-sandbox`) holds them all in memory as an
//! [`Account`] and serves them over the API, and the CSV export (`lib.rs`) writes each one as it is
//! made, so that writing an export of any size takes the same memory. Both take the same records
//! from the same code, so that a migration from the export and one from the API can be compared
//! record for record.
//!
//! Where the export writes a value in one of several forms (a datetime as `2021-12-01T07:41:15Z`
//! or as unix seconds, a boolean as `t` or `true`), or writes a planted bad value, the field is a
//! [`Written`]: the value and the exact text the export holds, so that the CSV stays byte for byte
//! what it was and the API can serve the value.
//!
//! Each record draws from its own random stream (seed, object, index) in the order the CSV
//! columns were once drawn in: reordering a draw here changes the sample.

use std::collections::{BTreeMap, BTreeSet};

use crate::{
    ACTIVITIES, ACTIVITY_TYPES, AGENTS, CITIES, COMPANIES, CONTACTS, CONTRACTS, CONVERSATIONS, DEALS, EVENTS, FILES,
    INDUSTRIES, INTERESTS, MISSING_COMPANY, MISSING_CONTACT, MISSING_DEAL, MISSING_STAGE, Options, Plan, Planting, Rng,
    Role, SPAN, STAGES, START, SURNAMES, TAGS, ascii_fold, boolean, company_id, contact_id, date, datetime, deal_id,
    dialect, email_of, format_phone, has_phone, person, phone_digits, some_of, some_time,
};

/// When the first export was taken: every record's `updated_at` is at most this.
pub const FIRST_EXPORT_AT: i64 = START + SPAN + 86_400;
/// When what `Options::changes` changed was changed: "a month later".
pub const CHANGED_AT: i64 = START + SPAN + 30 * 86_400;

/// A value and the text the export wrote for it. `value` is `None` where the text does not read
/// as the field's type (a planted bad value such as `yesterday` for a datetime).
#[derive(Debug, Clone, PartialEq)]
pub struct Written<T> {
    pub value: Option<T>,
    pub text: String,
}

impl<T> Written<T> {
    fn new(value: T, text: impl Into<String>) -> Self {
        Written { value: Some(value), text: text.into() }
    }

    /// `text` when it is not a planted bad value, else the bad value (which reads as nothing).
    fn or_bad(value: T, text: String, bad: Option<&'static str>) -> Self {
        match bad {
            Some(bad) => Written { value: None, text: bad.to_owned() },
            None => Written::new(value, text),
        }
    }
}

/// The whole account.
#[derive(Debug, Clone)]
pub struct Account {
    pub seed: u64,
    pub attributes: Vec<Attribute>,
    pub pipelines: Vec<Pipeline>,
    pub stages: Vec<Stage>,
    pub tags: Vec<Tag>,
    pub segments: Vec<Segment>,
    pub automations: Vec<Automation>,
    pub email_templates: Vec<EmailTemplate>,
    /// Activity types (id, name); only the display dialect writes them to a file.
    pub activity_types: Vec<(u64, &'static str)>,
    /// Products deals are ordered with (`Options::deal_products`; empty otherwise).
    pub products: Vec<Product>,
    /// By id, ascending.
    pub users: Vec<User>,
    pub companies: Vec<Company>,
    pub deals: Vec<Deal>,
    pub activities: Vec<Activity>,
    pub events: Vec<Event>,
    pub conversations: Vec<Conversation>,
    /// Files chat messages link to (`Options::attachments`; empty otherwise).
    pub files: Vec<File>,
    /// With `Options::changes`: `contacts_added`, `contacts_changed`, `contacts_deleted`,
    /// `deals_added`, `deals_changed`.
    pub changes: BTreeMap<String, u64>,
}

/// One planted value: which record, which of the sample's columns, what was written.
#[derive(Debug, Clone)]
pub(crate) struct Plant {
    pub planting: Planting,
    /// `object.attribute`, as `Planted` counts them.
    pub key: String,
    pub source_id: u64,
    /// The sample's column header.
    pub header: &'static str,
    pub value: String,
}

impl Plant {
    fn new(planting: Planting, key: impl Into<String>, source_id: u64, header: &'static str, value: &str) -> Plant {
        Plant { planting, key: key.into(), source_id, header, value: value.to_owned() }
    }
}

/// One record as [`Records`] makes it, with what the newer export did to it and the values
/// planted in it (the CSV writer lists them where it writes them).
pub(crate) struct Made<T> {
    /// None: deleted in the newer export.
    pub record: Option<T>,
    pub change: Option<Change>,
    pub plants: Vec<Plant>,
}

/// What the newer export (`Options::changes`) did to a record.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Change {
    Added,
    Changed,
    Deleted,
}

/// Counts of what the newer export changed, keyed `contacts_added`, `deals_changed`...: every key
/// at zero for the newer export, none for the first.
pub(crate) struct Changes(pub BTreeMap<String, u64>);

impl Changes {
    pub(crate) fn new(plan: &Plan) -> Changes {
        let keys = ["contacts_added", "contacts_changed", "contacts_deleted", "deals_added", "deals_changed"];
        Changes(if plan.changes { keys.into_iter().map(|key| (key.to_owned(), 0)).collect() } else { BTreeMap::new() })
    }

    /// Counts `change` of a record of `object` (contacts, deals).
    pub(crate) fn count(&mut self, object: &str, change: Option<Change>) {
        let Some(change) = change else { return };
        let what = match change {
            Change::Added => "added",
            Change::Changed => "changed",
            Change::Deleted => "deleted",
        };
        *self.0.entry(format!("{object}_{what}")).or_default() += 1;
    }

    /// Counts the change of `made`, a record of `object`, and gives its record (None: deleted).
    fn kept<T>(&mut self, object: &str, made: Made<T>) -> Option<T> {
        self.count(object, made.change);
        made.record
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    pub id: u64,
    pub name: &'static str,
    pub name_std: &'static str,
    /// boolean, integer, date, string, datetime, fixed, float.
    pub value_type: &'static str,
    /// user, company or deal.
    pub content_type: &'static str,
    /// For `fixed`: whether several choices can be picked.
    pub multiple: Option<bool>,
    pub choices: Option<Vec<&'static str>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Pipeline {
    pub id: u64,
    pub name: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub id: u64,
    pub name: &'static str,
    pub pipeline: u64,
    pub order: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Tag {
    pub id: u64,
    pub name: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub id: u64,
    pub name: &'static str,
    pub description: &'static str,
    /// The rules as this dialect's export writes them.
    pub rules: &'static str,
    pub object_count: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Automation {
    pub id: u64,
    pub name: &'static str,
    pub trigger: &'static str,
    pub conditions: &'static str,
    pub actions: &'static str,
    pub active: Written<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EmailTemplate {
    pub id: u64,
    pub name: &'static str,
    pub subject: &'static str,
    pub body: &'static str,
    pub updated_at: Written<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Product {
    pub id: u64,
    pub name: &'static str,
    /// A decimal with two places, as User.com's v2 API writes money (`"199.00"`).
    pub price: String,
    pub currency: &'static str,
}

/// A contact: a person or a visitor.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: u64,
    /// The customer's own id ("Previously: user_id").
    pub custom_id: Option<String>,
    /// The userkey cookie.
    pub key: String,
    /// As written, planted bad emails among them.
    pub email: Option<String>,
    pub first_name: Option<&'static str>,
    pub last_name: Option<&'static str>,
    /// As written: several notations of Polish numbers.
    pub phone_number: Option<String>,
    /// 1 unknown, 2 male, 3 female (a planted 7 among them).
    pub gender: u8,
    /// 1 visitor, 2 user.
    pub status: u8,
    /// A company, or (planted) one the account has not got.
    pub company_id: Option<u64>,
    pub city: &'static str,
    pub country: &'static str,
    pub unsubscribed: Written<bool>,
    pub created_at: Written<i64>,
    pub last_seen: Written<i64>,
    pub last_heard: Option<Written<i64>>,
    pub web_push_subscription: Option<bool>,
    pub fcm_key: Option<String>,
    /// `None`: the export's cell is empty; `Some([])`: `{}`.
    pub tags: Option<Vec<&'static str>>,
    pub score: u64,
    /// Custom attributes (attributes.csv, content type user).
    pub industry_segment: Option<&'static str>,
    pub interests: Option<Written<Vec<&'static str>>>,
    /// A decimal as written (`0`, `1234.56`).
    pub lifetime_value: String,
    pub orders_count: Written<i64>,
    pub newsletter_opt_in: Written<bool>,
    /// `YYYY-MM-DD`, or a planted impossible date.
    pub birthday: Option<String>,
    pub trial_ends_at: Option<Written<i64>>,
    /// Attributes the account never defined (undefined columns of the export).
    pub referral_code: Option<String>,
    pub loyalty_member: Written<bool>,
    /// Only some exports show these.
    pub sessions: u64,
    pub browser: &'static str,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Company {
    pub id: u64,
    pub name: String,
    pub phone_number: String,
    pub email: String,
    pub city: &'static str,
    pub country: &'static str,
    pub created_at: Written<i64>,
    pub tags: Option<Vec<&'static str>>,
    /// Custom attributes (content type company).
    pub nip: String,
    pub employees: Written<i64>,
    /// With `Options::hierarchy`: the parent company (one of them not in the account).
    pub parent_id: Option<u64>,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Deal {
    pub id: u64,
    pub name: String,
    /// A decimal with two places as written (a planted `12,5 tys.` among them).
    pub value: String,
    pub currency: &'static str,
    /// 0 abandoned, 1 in progress, 2 won, 3 lost, 4 archived (a planted 9 among them).
    pub status: u8,
    pub pipeline: u64,
    /// A stage, or (planted) one the account has not got.
    pub stage: u64,
    pub user_id: u64,
    pub company_id: Option<u64>,
    pub created_at: Written<i64>,
    /// `YYYY-MM-DD`.
    pub expected_close_date: String,
    pub won_at: Option<Written<i64>>,
    pub lost_at: Option<Written<i64>>,
    pub tags: Vec<&'static str>,
    /// Custom attribute (content type deal).
    pub contract_type: Option<&'static str>,
    /// The agent's email.
    pub assigned_to: Option<&'static str>,
    /// With `Options::deal_products`: other contacts taking part (user ids).
    pub participants: Vec<u64>,
    /// With `Options::deal_products`: what was ordered.
    pub order_products: Vec<OrderProduct>,
    pub updated_at: i64,
}

/// One line of a deal's order.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderProduct {
    pub product_id: u64,
    pub quantity: u64,
    /// The unit price, two decimal places.
    pub value: String,
    pub currency: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    pub id: u64,
    pub name: &'static str,
    /// The account's activity type id (see `Account::activity_types`).
    pub activity_type: u64,
    pub deal_id: Option<u64>,
    pub user_id: u64,
    pub company_id: Option<u64>,
    pub description: String,
    pub done: Written<bool>,
    pub due_date: i64,
    pub created_at: Written<i64>,
    /// Minutes.
    pub duration: u64,
    pub assigned_to: Option<&'static str>,
    pub updated_at: i64,
}

/// A tracked event of a contact.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: u64,
    pub name: &'static str,
    pub user_id: u64,
    pub timestamp: i64,
    /// A JSON object as the event carried it.
    pub data: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    pub id: u64,
    pub user_id: u64,
    pub messages: Vec<Message>,
}

/// A file a chat message links to: served at `path` under the account's URL, `size` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub message_id: u64,
    /// `/media/attachments/MESSAGE/NAME`
    pub path: String,
    pub name: &'static str,
    pub size: u64,
}

impl File {
    /// The file's bytes: the same for every request, `size` of them.
    pub fn bytes(&self) -> Vec<u8> {
        let mut rng = Rng::of(self.message_id, FILES, self.size);
        (0..self.size).map(|_| rng.below(256) as u8).collect()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub id: u64,
    /// The contact wrote it (else an agent did).
    pub from_user: bool,
    /// Plain text, or HTML with a file link (`Options::attachments`).
    pub content: String,
    pub timestamp: i64,
    /// Always `chat` here.
    pub source: &'static str,
}

impl Account {
    /// Builds the account `options` describe. `options.dialect` only decides how segment rules
    /// and automations are worded (each export has them as it has them).
    pub fn new(options: &Options) -> Account {
        Account::build(&Plan::new(options), options)
    }

    fn build(plan: &Plan, options: &Options) -> Account {
        let records = Records::new(plan, options);
        let mut changes = Changes::new(plan);
        let users = records.users().filter_map(|made| changes.kept("contacts", made)).collect();
        let companies = records.companies().filter_map(|made| made.record).collect();
        let deals = records.deals().filter_map(|made| changes.kept("deals", made)).collect();
        let activities = records.activities().filter_map(|made| made.record).collect();
        let conversations: Vec<Conversation> = records.conversations().collect();
        let files = conversations
            .iter()
            .flat_map(|conversation| &conversation.messages)
            .filter_map(|message| records.attachment(message.id, message.from_user))
            .collect();
        Account {
            users,
            companies,
            deals,
            activities,
            events: records.events().collect(),
            conversations,
            files,
            changes: changes.0,
            ..Account::catalogues(plan, options)
        }
    }

    /// The account's catalogues (attributes, pipelines, stages, tags, segments, automations,
    /// email templates, activity types, products), without records: the CSV writer takes the
    /// records from [`Records`] one at a time instead.
    pub(crate) fn catalogues(plan: &Plan, options: &Options) -> Account {
        Account {
            seed: plan.seed,
            attributes: attributes(),
            pipelines: vec![Pipeline { id: 1, name: "Sprzedaż" }, Pipeline { id: 2, name: "Partnerzy" }],
            stages: STAGES.iter().map(|&(id, name, pipeline, order)| Stage { id, name, pipeline, order }).collect(),
            tags: TAGS.iter().enumerate().map(|(i, name)| Tag { id: 41 + i as u64, name }).collect(),
            segments: dialect::segments(options.dialect)
                .iter()
                .enumerate()
                .map(|(i, &(name, description, rules))| Segment {
                    id: 61 + i as u64,
                    name,
                    description,
                    rules,
                    object_count: 37 + 41 * i as u64,
                })
                .collect(),
            automations: dialect::automations(options.dialect)
                .iter()
                .enumerate()
                .map(|(i, &(name, trigger, conditions, actions, active))| Automation {
                    id: 81 + i as u64,
                    name,
                    trigger,
                    conditions,
                    actions,
                    active: Written::new(matches!(active, "t" | "true"), active),
                })
                .collect(),
            email_templates: email_templates(),
            activity_types: ACTIVITY_TYPES.iter().map(|&(name, id)| (id, name)).collect(),
            products: if options.deal_products { products() } else { Vec::new() },
            users: Vec::new(),
            companies: Vec::new(),
            deals: Vec::new(),
            activities: Vec::new(),
            events: Vec::new(),
            conversations: Vec::new(),
            files: Vec::new(),
            changes: BTreeMap::new(),
        }
    }

    /// The user with this id.
    pub fn user(&self, id: u64) -> Option<&User> {
        self.users.binary_search_by_key(&id, |user| user.id).ok().map(|at| &self.users[at])
    }

    /// Users who wrote in a chat conversation (a billing reason).
    pub fn users_who_wrote_in_chat(&self) -> BTreeSet<u64> {
        self.conversations
            .iter()
            .filter(|conversation| conversation.messages.iter().any(|message| message.from_user))
            .map(|conversation| conversation.user_id)
            .collect()
    }
}

/// The account's records, made one at a time from the plan, each from its own random stream.
pub(crate) struct Records<'a> {
    plan: &'a Plan,
    /// The catalogue deals order from (`Options::deal_products`; empty otherwise).
    products: Vec<Product>,
    /// Where the files chat messages link to are served (`Options::attachments`; none: no links).
    attachments: Option<String>,
}

impl<'a> Records<'a> {
    pub(crate) fn new(plan: &'a Plan, options: &Options) -> Records<'a> {
        Records {
            plan,
            products: if options.deal_products { products() } else { Vec::new() },
            attachments: options.attachments.as_ref().map(|base| base.trim_end_matches('/').to_owned()),
        }
    }

    /// Contacts, by id.
    pub(crate) fn users(&self) -> impl Iterator<Item = Made<User>> + '_ {
        (0..self.plan.contacts + self.plan.added_contacts()).map(|index| self.user(index))
    }

    /// The user with this id as the account holds it (made again: records are not kept).
    pub(crate) fn user_by_id(&self, id: u64) -> Option<User> {
        let index = usize::try_from(id.checked_sub(contact_id(0))?).ok()?;
        (index < self.plan.contacts + self.plan.added_contacts()).then(|| self.user(index).record).flatten()
    }

    /// Whether the user wrote in a chat conversation (a billing reason): the plan decides it
    /// before the conversations are made (their first message is the contact's).
    pub(crate) fn wrote_in_chat(&self, id: u64) -> bool {
        id.checked_sub(contact_id(0))
            .and_then(|index| self.plan.wrote_in_chat.get(usize::try_from(index).ok()?).copied())
            .unwrap_or(false)
    }

    fn user(&self, index: usize) -> Made<User> {
        let plan = self.plan;
        let seed = plan.seed;
        let mut plants = Vec::new();
        let mut change = None;
        let mut rng = Rng::of(seed, CONTACTS, index as u64);
        let role = plan.roles.get(index).copied().unwrap_or(Role::Person);
        if plan.changes && role == Role::VisitorAnonymous && index.is_multiple_of(plan.deleted_visitor_stride()) {
            return Made { record: None, change: Some(Change::Deleted), plants };
        }
        let (first, last, female) = person(seed, index);
        let visitor =
            matches!(role, Role::VisitorChat | Role::VisitorWebPush | Role::VisitorFcm | Role::VisitorAnonymous);
        let email = match role {
            Role::DuplicateEmail => {
                let original = email_of(seed, plan.targets[&index]);
                let (local, domain) = original.split_once('@').unwrap();
                let mut local: Vec<char> = local.chars().collect();
                local[0] = local[0].to_ascii_uppercase();
                format!("{}@{}", local.into_iter().collect::<String>(), domain.to_uppercase())
            }
            Role::BadEmail => {
                let good = email_of(seed, index);
                let (local, domain) = good.split_once('@').unwrap();
                match index % 5 {
                    0 => format!("{local}@"),
                    1 => format!("{local} at {domain}"),
                    2 => format!("{local}@@{domain}"),
                    3 => format!("{local}@{}", domain.split('.').next().unwrap()),
                    _ => format!("{local}@{domain},"),
                }
            }
            _ if visitor => String::new(),
            _ => email_of(seed, index),
        };
        let phone = match role {
            Role::DuplicatePhone => format_phone(&phone_digits(plan.targets[&index]), index + 1),
            Role::Person | Role::MissingCompany if has_phone(seed, index) => format_phone(&phone_digits(index), index),
            _ => String::new(),
        };
        let custom_id = if !visitor && rng.percent(70) { Some(format!("CRM-{index:07}")) } else { None };
        let wrote = plan.wrote_in_chat.get(index).copied().unwrap_or(false);
        let web_push = role == Role::VisitorWebPush || (!visitor && rng.percent(5));
        let fcm = role == Role::VisitorFcm || (!visitor && rng.percent(3));
        let company = match role {
            Role::MissingCompany => Some(MISSING_COMPANY + index as u64),
            _ if !visitor && rng.percent(70) => Some(company_id(rng.below(plan.companies))),
            _ => None,
        };
        let created = some_time(&mut rng);
        let bad = plan.bad_values.get(&index).copied();
        let bad_in = |field: &str| bad.filter(|bad| bad.field == field).map(|bad| bad.value);
        let gender = if rng.percent(10) {
            1
        } else if female {
            3
        } else {
            2
        };
        let gender = bad_in("gender").map_or(gender, |bad| bad.parse().expect("a planted gender is a number"));
        let tags = some_of(TAGS, 3, &mut rng);
        let tags = if rng.percent(30) { None } else { Some(tags) };
        let interests = some_of(INTERESTS, 3, &mut rng);
        let interests = match rng.below(6) {
            0 => None,
            1 => Some(Written::new(Vec::new(), "{}")),
            2 => Some(Written::new(interests.clone(), format!("[{}]", interests.join(", ")))),
            3 => Some(Written::new(interests.clone(), interests.join(","))),
            _ => Some(Written::new(interests.clone(), crate::pg_array(&interests))),
        };
        let key = format!("{:016x}", rng.next());
        let city = *rng.pick(CITIES);
        let unsubscribed = rng.percent(8);
        let unsubscribed = Written::new(unsubscribed, boolean(unsubscribed, &mut rng));
        let created_at = Written::or_bad(created, datetime(created, &mut rng), bad_in("created_at"));
        let seen = created + (rng.next() % 30_000_000) as i64;
        let last_seen = Written::new(seen, datetime(seen, &mut rng));
        let last_heard = if wrote && (role != Role::VisitorChat || index.is_multiple_of(2)) {
            Some(Written::new(created + 86_400, datetime(created + 86_400, &mut rng)))
        } else {
            None
        };
        let web_push_subscription = if web_push {
            Some(true)
        } else if rng.percent(50) {
            Some(false)
        } else {
            None
        };
        let fcm_key = if fcm { Some(format!("fcm:{:016x}{:016x}", rng.next(), rng.next())) } else { None };
        let score = rng.below(120) as u64;
        let industry_segment = if rng.percent(20) { None } else { Some(*rng.pick(INDUSTRIES)) };
        let industry_segment = bad_in("industry_segment").or(industry_segment);
        let lifetime_value =
            if rng.percent(30) { "0".to_owned() } else { format!("{}.{:02}", rng.below(20_000), rng.below(100)) };
        let orders = rng.below(40) as i64;
        let orders_count = Written::or_bad(orders, orders.to_string(), bad_in("orders_count"));
        let opt_in = rng.percent(60);
        let newsletter_opt_in =
            Written::or_bad(opt_in, boolean(opt_in, &mut rng).to_owned(), bad_in("newsletter_opt_in"));
        let birthday = date(START - 18 * 365 * 86_400 - (rng.next() % (50 * 365 * 86_400)) as i64);
        let birthday = bad_in("birthday").map(str::to_owned).or(if rng.percent(40) { None } else { Some(birthday) });
        let trial_ends_at = if rng.percent(70) {
            None
        } else {
            Some(Written::new(created + 14 * 86_400, datetime(created + 14 * 86_400, &mut rng)))
        };
        let referral_code = if rng.percent(75) { None } else { Some(format!("REF-{:04X}", rng.below(65_536))) };
        let loyal = rng.percent(20);
        let loyalty_member = Written::new(loyal, boolean(loyal, &mut rng));
        // What other exports show beside the sample's columns, from a stream of its own so
        // that the sample's values do not change.
        let mut more = Rng::of(seed, CONTACTS + 300, index as u64);
        let sessions = 1 + more.below(200) as u64;
        let browser = *more.pick(&["Chrome", "Firefox", "Safari", "Edge", "Opera"]);
        let id = contact_id(index);
        let mut user = User {
            id,
            custom_id,
            key,
            email: (!email.is_empty()).then_some(email),
            first_name: (!visitor).then_some(first),
            last_name: (!visitor).then_some(last),
            phone_number: (!phone.is_empty()).then_some(phone),
            gender,
            status: if visitor { 1 } else { 2 },
            company_id: company,
            city,
            country: "PL",
            unsubscribed,
            created_at,
            last_seen,
            last_heard,
            web_push_subscription,
            fcm_key,
            tags,
            score,
            industry_segment,
            interests,
            lifetime_value,
            orders_count,
            newsletter_opt_in,
            birthday,
            trial_ends_at,
            referral_code,
            loyalty_member,
            sessions,
            browser,
            updated_at: 0,
        };
        user.updated_at = [Some(created), user.last_seen.value, user.last_heard.as_ref().and_then(|t| t.value)]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(created)
            .min(FIRST_EXPORT_AT);
        if let Some(bad) = bad {
            let text = bad.value;
            plants.push(Plant::new(Planting::BadValue, format!("contact.{}", bad.field), id, bad.field, text));
        }
        if role == Role::MissingCompany {
            let orphan = (MISSING_COMPANY + index as u64).to_string();
            plants.push(Plant::new(Planting::Orphan, "contact.company_id", id, "company_id", &orphan));
        }
        if index >= plan.contacts {
            change = Some(Change::Added);
            user.updated_at = CHANGED_AT;
        } else if plan.changes && role == Role::Person && index % plan.changed_person_stride() == 3 {
            // Moved, scored, seen again.
            user.city = CITIES[(CITIES.iter().position(|c| *c == user.city).unwrap_or(0) + 1) % CITIES.len()];
            user.score += 7;
            user.last_seen = Written::new(CHANGED_AT, format!("{}T09:00:00Z", date(CHANGED_AT)));
            user.updated_at = CHANGED_AT;
            change = Some(Change::Changed);
        }
        if role == Role::BadEmail {
            let email = user.email.clone().unwrap_or_default();
            plants.push(Plant::new(Planting::BadValue, "contact.email", id, "email", &email));
        }
        Made { record: Some(user), change, plants }
    }

    pub(crate) fn companies(&self) -> impl Iterator<Item = Made<Company>> + '_ {
        (0..self.plan.companies).map(|index| self.company(index))
    }

    fn company(&self, index: usize) -> Made<Company> {
        let plan = self.plan;
        let mut plants = Vec::new();
        let bad_employees = plan.scaled(2);
        let kinds = ["sp. z o.o.", "S.A.", "sp.k.", "s.c.", "sp. j."];
        let trades = [
            "Usługi Remontowe",
            "Hurtownia Spożywcza",
            "Biuro Rachunkowe",
            "Zakład Ślusarski",
            "Piekarnia",
            "Przychodnia Zdrowie",
            "Drukarnia Cyfrowa",
            "Transport i Spedycja",
            "Szkoła Języków Obcych",
            "Studio Graficzne",
        ];
        let mut rng = Rng::of(plan.seed, COMPANIES, index as u64);
        let city = *rng.pick(CITIES);
        let name = if index == 0 {
            "Łódzka Spółdzielnia Mleczarska „Żubr”".to_owned()
        } else {
            let (owner, _) = rng.pick(SURNAMES);
            match rng.below(3) {
                0 => format!("{} {owner} {}", rng.pick(&trades), rng.pick(&kinds)),
                1 => format!("{owner} i Wspólnicy {}", rng.pick(&kinds)),
                _ => format!("{city} {} {}", rng.pick(&trades), rng.pick(&kinds)),
            }
        };
        let id = company_id(index);
        let employees = if index % (plan.companies / bad_employees) == 1
            && index / (plan.companies / bad_employees) < bad_employees
        {
            let bad = if index.is_multiple_of(2) { "ok. 50" } else { "50-100" };
            plants.push(Plant::new(Planting::BadValue, "company.employees", id, "Employees", bad));
            Written { value: None, text: bad.to_owned() }
        } else {
            let employees = 1 + rng.below(400) as i64;
            Written::new(employees, employees.to_string())
        };
        let tags = if rng.percent(50) { None } else { Some(some_of(&TAGS[..4], 2, &mut rng)) };
        let created = some_time(&mut rng);
        let parent_id = if plan.hierarchy { parent_company(plan, index, &mut plants) } else { None };
        let phone_number = format!("+48 22 {:03} {:02} {:02}", rng.below(1000), rng.below(100), rng.below(100));
        let created_at = Written::new(created, datetime(created, &mut rng));
        let company = Company {
            id,
            name,
            phone_number,
            email: format!("biuro{index}@{}", ascii_fold(city).replace(' ', "-") + ".com.pl"),
            city,
            country: "Polska",
            created_at,
            tags,
            nip: format!("{:010}", rng.next() % 10_000_000_000),
            employees,
            parent_id,
            updated_at: created.min(FIRST_EXPORT_AT),
        };
        Made { record: Some(company), change: None, plants }
    }

    pub(crate) fn deals(&self) -> impl Iterator<Item = Made<Deal>> + '_ {
        (0..self.plan.deals + self.plan.added_deals()).map(|index| self.deal(index))
    }

    fn deal(&self, index: usize) -> Made<Deal> {
        let plan = self.plan;
        let mut plants = Vec::new();
        let mut change = None;
        let (missing_stage, missing_contact) = (plan.scaled(5), plan.scaled(3));
        let products = ["Abonament Pro", "Wdrożenie CRM", "Pakiet szkoleń", "Licencja roczna", "Integracja API"];
        let step = plan.deals / (missing_stage + missing_contact + 2);
        let mut rng = Rng::of(plan.seed, DEALS, index as u64);
        let id = deal_id(index);
        let pipeline = if rng.percent(70) { 1 } else { 2 };
        let stages: Vec<_> = STAGES.iter().filter(|s| s.2 == pipeline).collect();
        let mut stage = rng.pick(&stages).0;
        let mut contact = contact_id(plan.some_person(&mut rng));
        let mut status = match rng.below(10) {
            0 => 0,
            1..=5 => 1,
            6 | 7 => 2,
            8 => 3,
            _ => 4,
        };
        let mut value = format!("{}.{:02}", 500 + rng.below(50_000), rng.below(100));
        // Troubles at regular positions: slot k of the first ones.
        let slot = if index % step == step / 2 && index < plan.deals { Some(index / step) } else { None };
        match slot {
            Some(k) if k < missing_stage => {
                stage = MISSING_STAGE;
                plants.push(Plant::new(Planting::Orphan, "deal.stage_id", id, "stage", &stage.to_string()));
            }
            Some(k) if k < missing_stage + missing_contact => {
                contact = MISSING_CONTACT + index as u64;
                plants.push(Plant::new(Planting::Orphan, "deal.contact_id", id, "user_id", &contact.to_string()));
            }
            Some(k) if k == missing_stage + missing_contact => {
                status = 9;
                plants.push(Plant::new(Planting::BadValue, "deal.status", id, "status", "9"));
            }
            Some(k) if k == missing_stage + missing_contact + 1 => {
                value = "12,5 tys.".into();
                plants.push(Plant::new(Planting::BadValue, "deal.value", id, "value", &value));
            }
            _ => {}
        }
        let created = some_time(&mut rng);
        let closed = created + (rng.next() % 10_000_000) as i64;
        let company = if rng.percent(60) { Some(company_id(rng.below(plan.companies))) } else { None };
        let (first, last, _) = person(plan.seed, index);
        let name = format!("{} – {first} {last}", rng.pick(&products));
        let currency = if rng.percent(85) { "PLN" } else { "EUR" };
        let created_at = Written::new(created, datetime(created, &mut rng));
        let won_at = (status == 2).then(|| Written::new(closed, datetime(closed, &mut rng)));
        let lost_at = (status == 3).then(|| Written::new(closed, datetime(closed, &mut rng)));
        let tags = if rng.percent(60) { Vec::new() } else { some_of(&TAGS[..4], 2, &mut rng) };
        let contract_type = if rng.percent(30) { None } else { Some(*rng.pick(CONTRACTS)) };
        // Drawn last, so that the fields before it are what they were before it existed.
        let assigned_to = agent(&mut rng);
        let updated_at = [Some(created), won_at.as_ref().map(|_| closed), lost_at.as_ref().map(|_| closed)]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(created)
            .min(FIRST_EXPORT_AT);
        let mut deal = Deal {
            id,
            name,
            value,
            currency,
            status,
            pipeline,
            stage,
            user_id: contact,
            company_id: company,
            created_at,
            expected_close_date: date(closed),
            won_at,
            lost_at,
            tags,
            contract_type,
            assigned_to,
            participants: Vec::new(),
            order_products: Vec::new(),
            updated_at,
        };
        if !self.products.is_empty() {
            self.order(index, &mut deal);
        }
        if index >= plan.deals {
            change = Some(Change::Added);
            deal.updated_at = CHANGED_AT;
        } else if plan.changes && index % plan.changed_deal_stride() == 4 && slot.is_none() {
            // Won since, or (already won) worth 10% more.
            if deal.status == 2 {
                deal.value = format!("{:.2}", deal.value.parse::<f64>().unwrap_or(0.0) * 1.1);
            } else {
                let won = START + SPAN + 20 * 86_400;
                deal.status = 2;
                deal.won_at = Some(Written::new(won, format!("{}T12:00:00Z", date(won))));
                deal.lost_at = None;
            }
            deal.updated_at = CHANGED_AT;
            change = Some(Change::Changed);
        }
        Made { record: Some(deal), change, plants }
    }

    /// Participants and ordered products of deal `index`, from a stream of their own so that the
    /// deal's other fields stay as they are without them.
    fn order(&self, index: usize, deal: &mut Deal) {
        let plan = self.plan;
        let mut rng = Rng::of(plan.seed, DEALS + 100, index as u64);
        for _ in 0..rng.below(3) {
            let participant = contact_id(plan.some_person(&mut rng));
            if participant != deal.user_id && !deal.participants.contains(&participant) {
                deal.participants.push(participant);
            }
        }
        for _ in 0..rng.below(4) {
            let product = rng.pick(&self.products);
            if deal.order_products.iter().all(|line| line.product_id != product.id) {
                deal.order_products.push(OrderProduct {
                    product_id: product.id,
                    quantity: 1 + rng.below(5) as u64,
                    value: product.price.clone(),
                    currency: product.currency,
                });
            }
        }
    }

    pub(crate) fn activities(&self) -> impl Iterator<Item = Made<Activity>> + '_ {
        (0..self.plan.activities).map(|index| self.activity(index))
    }

    fn activity(&self, index: usize) -> Made<Activity> {
        let plan = self.plan;
        let mut plants = Vec::new();
        let (missing_deal, missing_contact) = (plan.scaled(4), plan.scaled(2));
        let step = plan.activities / (missing_deal + missing_contact + 1);
        let mut rng = Rng::of(plan.seed, ACTIVITIES, index as u64);
        let id = 30_000 + index as u64;
        let (name, kind) = *rng.pick(ACTIVITY_TYPES);
        let mut deal = if rng.percent(70) { Some(deal_id(rng.below(plan.deals))) } else { None };
        let mut contact = contact_id(plan.some_person(&mut rng));
        let slot = if index % step == step / 2 { Some(index / step) } else { None };
        match slot {
            Some(k) if k < missing_deal => {
                let orphan = MISSING_DEAL + index as u64;
                deal = Some(orphan);
                plants.push(Plant::new(Planting::Orphan, "activity.deal_id", id, "deal_id", &orphan.to_string()));
            }
            Some(k) if k < missing_deal + missing_contact => {
                contact = MISSING_CONTACT + index as u64;
                plants.push(Plant::new(Planting::Orphan, "activity.contact_id", id, "user_id", &contact.to_string()));
            }
            _ => {}
        }
        let description = match rng.below(4) {
            0 => String::new(),
            1 => "Klient prosi o kontakt po 15:00.".to_owned(),
            2 => "Ustalenia:\n- rabat 10%\n- termin wdrożenia: \"do końca kwartału\"".to_owned(),
            _ => format!(
                "Rozmowa z {}; tel. {}\tpotwierdzony",
                person(plan.seed, index).0,
                format_phone(&phone_digits(index), 0)
            ),
        };
        let created = some_time(&mut rng);
        let company_id = if rng.percent(40) { Some(company_id(rng.below(plan.companies))) } else { None };
        let done = rng.percent(60);
        let done = Written::new(done, boolean(done, &mut rng));
        let created_at = Written::new(created, datetime(created, &mut rng));
        let duration = 15 * rng.below(9) as u64;
        let activity = Activity {
            id,
            name,
            activity_type: kind,
            deal_id: deal,
            user_id: contact,
            company_id,
            description,
            done,
            due_date: created + 3 * 86_400,
            created_at,
            duration,
            assigned_to: agent(&mut rng),
            updated_at: created.min(FIRST_EXPORT_AT),
        };
        Made { record: Some(activity), change: None, plants }
    }

    pub(crate) fn events(&self) -> impl Iterator<Item = Event> + '_ {
        (0..self.plan.events).map(|index| self.event(index))
    }

    fn event(&self, index: usize) -> Event {
        let plan = self.plan;
        let names = ["order_completed", "newsletter_signup", "cart_abandoned", "webinar_joined", "form_submitted"];
        let mut rng = Rng::of(plan.seed, EVENTS, index as u64);
        let name = *rng.pick(&names);
        let data = match name {
            "order_completed" | "cart_abandoned" => format!(
                r#"{{"value": {}.{:02}, "currency": "PLN", "items": {}}}"#,
                rng.below(2000),
                rng.below(100),
                1 + rng.below(5)
            ),
            "form_submitted" => r#"{"form": "kontakt", "source": "landing, wiosna"}"#.to_owned(),
            _ => "{}".to_owned(),
        };
        let contact = plan.some_person(&mut rng);
        Event { id: 50_000 + index as u64, name, user_id: contact_id(contact), timestamp: some_time(&mut rng), data }
    }

    /// Conversations with their messages, numbered across conversations.
    pub(crate) fn conversations(&self) -> impl Iterator<Item = Conversation> + '_ {
        let mut messages = 0;
        self.plan.conversations.iter().enumerate().map(move |(number, &(contact, wrote))| {
            let conversation = self.conversation(number, contact, wrote, messages);
            messages += conversation.messages.len() as u64;
            conversation
        })
    }

    /// Conversation `number` of contact `contact`, its first message numbered `first_message`.
    fn conversation(&self, number: usize, contact: usize, wrote: bool, first_message: u64) -> Conversation {
        let plan = self.plan;
        let user_lines = [
            "Dzień dobry, mam pytanie o zamówienie.",
            "Czy wysyłka do Czech jest możliwa?",
            "Nie działa mi kod rabatowy :(",
            "Dziękuję, wszystko jasne!\nPozdrawiam",
        ];
        let agent_lines = [
            "Dzień dobry! W czym mogę pomóc?",
            "Sprawdzę to i wrócę z odpowiedzią.",
            "Oferta ważna do końca miesiąca, zapraszamy.",
        ];
        let mut rng = Rng::of(plan.seed, CONVERSATIONS, number as u64);
        let mut time = some_time(&mut rng);
        let length = 1 + rng.below(4);
        let mut conversation =
            Conversation { id: 900 + number as u64, user_id: contact_id(contact), messages: Vec::new() };
        for turn in 0..length {
            // The first message of an inbound conversation is the contact's.
            let from_user = wrote && (turn == 0 || rng.percent(40));
            let content = if from_user { *rng.pick(&user_lines) } else { *rng.pick(&agent_lines) };
            time += 30 + rng.below(600) as i64;
            let id = 70_000 + first_message + turn as u64;
            let content = match (&self.attachments, self.attachment(id, from_user)) {
                (Some(base), Some(file)) => format!("{content}<br><a href=\"{base}{}\">{}</a>", file.path, file.name),
                _ => content.to_owned(),
            };
            conversation.messages.push(Message { id, from_user, content, timestamp: time, source: "chat" });
        }
        conversation
    }

    /// The file message `id` links to, if any: one contact's chat message in four, when the
    /// account has attachments (its own draw, so the rest of the account is the same with or
    /// without files).
    pub(crate) fn attachment(&self, id: u64, from_user: bool) -> Option<File> {
        const NAMES: [&str; 5] =
            ["faktura-2023-11.pdf", "zrzut-ekranu.png", "umowa.docx", "cennik.xlsx", "reklamacja.jpg"];
        if self.attachments.is_none() || !from_user {
            return None;
        }
        let mut rng = Rng::of(self.plan.seed, FILES, id);
        if !rng.percent(25) {
            return None;
        }
        let name = *rng.pick(&NAMES);
        Some(File {
            message_id: id,
            path: format!("/media/attachments/{id}/{name}"),
            name,
            size: 1_000 + rng.below(60_000) as u64,
        })
    }
}

/// The parent of company `index` when the account has hierarchies: every sixth company heads
/// a chain of three (the second's parent is the first, the third's the second); the last
/// company's parent is not in the account (planted as an orphan); the two before it are each
/// other's parent.
fn parent_company(plan: &Plan, index: usize, plants: &mut Vec<Plant>) -> Option<u64> {
    let last = plan.companies - 1;
    match index {
        _ if index == last => {
            let missing = company_id(plan.companies + 50);
            let text = missing.to_string();
            plants.push(Plant::new(
                Planting::Orphan,
                "company.parent_company_id",
                company_id(index),
                "Parent company ID",
                &text,
            ));
            Some(missing)
        }
        _ if index == last - 1 => Some(company_id(last - 2)),
        _ if index == last - 2 => Some(company_id(last - 1)),
        _ if index % 6 == 1 || index % 6 == 2 => Some(company_id(index - 1)),
        _ => None,
    }
}

/// An agent's email, or (one time in ten) nobody.
fn agent(rng: &mut Rng) -> Option<&'static str> {
    if rng.percent(10) { None } else { Some(*rng.pick(AGENTS)) }
}

fn attributes() -> Vec<Attribute> {
    let attribute = |name, name_std, value_type, content_type| Attribute {
        id: 0,
        name,
        name_std,
        value_type,
        content_type,
        multiple: None,
        choices: None,
    };
    let fixed = |name, name_std, content_type, multiple, choices: &[&'static str]| Attribute {
        multiple: Some(multiple),
        choices: Some(choices.to_vec()),
        ..attribute(name, name_std, "fixed", content_type)
    };
    let mut attributes = vec![
        fixed("Industry segment", "industry_segment", "user", false, INDUSTRIES),
        fixed("Interests", "interests", "user", true, INTERESTS),
        attribute("Lifetime value", "lifetime_value", "float", "user"),
        attribute("Orders count", "orders_count", "integer", "user"),
        attribute("Newsletter opt-in", "newsletter_opt_in", "boolean", "user"),
        attribute("Birthday", "birthday", "date", "user"),
        attribute("Trial ends at", "trial_ends_at", "datetime", "user"),
        attribute("NIP", "nip", "string", "company"),
        attribute("Employees", "employees", "integer", "company"),
        fixed("Contract type", "contract_type", "deal", false, CONTRACTS),
    ];
    for (i, attribute) in attributes.iter_mut().enumerate() {
        attribute.id = 301 + i as u64;
    }
    attributes
}

fn email_templates() -> Vec<EmailTemplate> {
    let templates: [(&str, &str, &str, i64, &str); 4] = [
        (
            "Witamy",
            "Witamy w Żubr Shop, {{ user.first_name }}!",
            "<h1>Cześć {{ user.first_name }}!</h1>\r\n<p>Dziękujemy za rejestrację.</p>",
            1_698_912_900,
            "2023-11-02 09:15:00+01",
        ),
        (
            "Twój koszyk czeka",
            "Zapomniałeś o czymś?",
            "<p>W koszyku zostały produkty:</p>\r\n{% for item in event.items %}<li>{{ item.name }}</li>{% endfor %}",
            1_705_320_000,
            "2024-01-15T12:00:00Z",
        ),
        (
            "Wszystkiego najlepszego",
            "Sto lat, {{ user.first_name }}! 🎂",
            "<p>Z okazji urodzin mamy dla Ciebie rabat 15%.</p>",
            1_656_547_200,
            "2022-06-30",
        ),
        (
            "Tęsknimy",
            "Dawno Cię nie było",
            "<p>Wróć do nas, a dostaniesz darmową dostawę.</p>",
            1_700_000_000,
            "1700000000",
        ),
    ];
    templates
        .into_iter()
        .enumerate()
        .map(|(i, (name, subject, body, unix, text))| EmailTemplate {
            id: 91 + i as u64,
            name,
            subject,
            body,
            updated_at: Written::new(unix, text),
        })
        .collect()
}

/// The catalogue deals order from (`Options::deal_products`).
fn products() -> Vec<Product> {
    [
        ("Abonament Pro", "199.00"),
        ("Wdrożenie CRM", "4500.00"),
        ("Pakiet szkoleń", "1200.00"),
        ("Licencja roczna", "2400.00"),
        ("Integracja API", "3500.00"),
    ]
    .into_iter()
    .enumerate()
    .map(|(i, (name, price))| Product { id: 1 + i as u64, name, price: price.to_owned(), currency: "PLN" })
    .collect()
}
