//! Dialects: the same account as other User.com exports write it. A dialect renames, reorders
//! and adds columns, rewrites values in other forms (times, numbers, dates, booleans), changes a
//! file's name, delimiter and encoding, and adds files; it never changes a value's meaning, so a
//! migration of any dialect must give the same Pipedrive content as the sample's.
//!
//! The sample (`Dialect::Sample`) is what `examples/usercom-export/` holds, byte for byte. The
//! others were not written to fit the reader: `Display` is the export a person gets from the web
//! panel's "export to CSV" (display-case headers, a full-name column, an activity-type catalogue,
//! calendar-style events, JSON rules); `PanelPl` is a later export from a Polish-language panel
//! (Polish headers in another order, date-stamped file names, `;` everywhere because the comma is
//! the decimal separator, Polish dates, `tak`/`nie`, ISO times with milliseconds, columns the
//! sample has not seen).

use std::borrow::Cow;

use crate::{Encoding, clock, date, days_since_epoch};

/// How the export is written: the sample's files, or another export of the same account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    #[default]
    Sample,
    Display,
    PanelPl,
}

impl Dialect {
    pub const ALL: [Dialect; 3] = [Dialect::Sample, Dialect::Display, Dialect::PanelPl];

    pub fn name(self) -> &'static str {
        match self {
            Dialect::Sample => "sample",
            Dialect::Display => "display",
            Dialect::PanelPl => "panel-pl",
        }
    }

    pub fn from_name(name: &str) -> Option<Dialect> {
        Dialect::ALL.into_iter().find(|dialect| dialect.name() == name)
    }

    /// What this dialect changes against the sample, for the planted manifest.
    pub fn changes(self) -> &'static [&'static str] {
        match self {
            Dialect::Sample => &[],
            Dialect::Display => &[
                "display-case headers everywhere (\"First name\", \"E-mail address\", \"Contact ID\", \"Duration (minutes)\"), attribute columns under their definitions' display names",
                "users.csv: a \"Full name\" column beside first and last name; `;`, Windows-1250, CRLF, no BOM",
                "companies.csv: UTF-8 with `,` and LF (the sample's is Windows-1250 with `;`)",
                "activities.csv: comma-separated; the type as \"Type ID\" into a new activity_types.csv catalogue (ID, Name); the activity's name under \"Subject\"",
                "events.csv: `start` and `end` (ISO UTC, the sample has unix seconds), `attendees` (the contact's email), an empty `location`",
                "conversations.csv: \"Author type\", an empty \"Agent name\", \"Channel\", times as unix seconds",
                "numbers of number attributes (lifetime value, deal value) the Polish way: decimal comma, space between thousands",
                "attributes.csv with display headers (ID, Name, Key, Type, Object, Multiple, Choices)",
                "segments: 4 (VIP, Stali klienci, Nieaktywni 90 dni, Porzucone koszyki 30 dni) written as {\"operator\", \"filters\": [{attribute, op, value}]}",
                "automations: triggers, conditions and actions (delays among them) as JSON",
                "products.csv: a catalogue of products (ID, Name, Price, no currency), which no deal names",
            ],
            Dialect::PanelPl => &[
                "every file named <object>_2024-03-01.csv, `;`-separated, UTF-8 with a BOM, CRLF",
                "Polish headers in another order (\"E-mail\" first, \"ID\" later; deals' value and currency last), custom attributes under their definitions' names",
                "users.csv: two columns the sample has not got (\"Liczba sesji\", \"Przeglądarka\")",
                "booleans as tak/nie, dates as DD.MM.YYYY, datetimes with an offset as ISO UTC with milliseconds",
                "numbers of number attributes the Polish way with a no-break space between thousands",
                "segments as a bare array of conditions and as nested or/and",
                "an extra file the reader does not know: formularze_2024-03-01.csv",
            ],
        }
    }

    /// The name this dialect gives a file the sample calls `file`.
    pub fn file_name(self, file: &str) -> String {
        match self {
            Dialect::PanelPl => format!("{}_2024-03-01.csv", file.trim_end_matches(".csv")),
            _ => file.to_owned(),
        }
    }

    /// How this dialect writes `table`; `None`: as the sample does.
    pub(crate) fn shape(self, table: &Table) -> Option<Shape> {
        let (delimiter, crlf, encoding, columns): (u8, bool, Encoding, Vec<Col>) = match self {
            Dialect::Sample => return None,
            Dialect::Display => {
                let columns = display_columns(table.file);
                match table.file {
                    "users.csv" => (b';', true, Encoding::Windows1250, columns),
                    "email_templates.csv" => (b',', true, Encoding::Utf8, columns),
                    _ => (b',', false, Encoding::Utf8, columns),
                }
            }
            Dialect::PanelPl => (b';', true, Encoding::Utf8Bom, panel_pl_columns(table.file)),
        };
        Some(Shape { name: self.file_name(table.file), delimiter, crlf, encoding, columns })
    }
}

/// One file of the export as the sample writes it: its columns (`header`), then values only
/// other dialects show (`extras`: a full name, an attendee's email, ...). Every row the writer
/// gives has `header.len() + extras.len()` values.
pub(crate) struct Table {
    pub file: &'static str,
    pub delimiter: u8,
    pub crlf: bool,
    pub encoding: Encoding,
    pub header: &'static [&'static str],
    pub extras: &'static [&'static str],
}

/// A file as a dialect writes it.
pub(crate) struct Shape {
    pub name: String,
    pub delimiter: u8,
    pub crlf: bool,
    pub encoding: Encoding,
    pub columns: Vec<Col>,
}

/// One written column: the sample's column (or extra) it shows, its header, the form of its values.
/// `from: None` is a column this export has but leaves empty.
#[derive(Clone, Copy)]
pub(crate) struct Col {
    pub from: Option<&'static str>,
    pub header: &'static str,
    pub form: Form,
}

const fn col(from: &'static str, header: &'static str) -> Col {
    Col { from: Some(from), header, form: Form::Same }
}

const fn as_form(from: &'static str, header: &'static str, form: Form) -> Col {
    Col { from: Some(from), header, form }
}

const fn empty(header: &'static str) -> Col {
    Col { from: None, header, form: Form::Same }
}

/// A value's form. Values that do not read as the sample's form (the planted bad values among
/// them) are written unchanged.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Form {
    Same,
    /// `1234.5` as `1<sep>234,5`.
    PolishNumber(char),
    /// A datetime with an offset (or unix seconds) as `YYYY-MM-DDTHH:MM:SSZ`.
    IsoUtc,
    /// The same with milliseconds (or the sample's finer fraction).
    IsoUtcMillis,
    /// A datetime with an offset as unix seconds (one with a fraction stays as it is).
    UnixSeconds,
    /// `YYYY-MM-DD` as `DD.MM.YYYY`.
    PolishDate,
    /// `t`/`true` as `tak`, `f`/`false` as `nie`.
    PolishBoolean,
}

impl Form {
    pub(crate) fn apply(self, value: &str) -> Cow<'_, str> {
        let changed = match self {
            Form::Same => None,
            Form::PolishNumber(separator) => polish_number(value, separator),
            Form::IsoUtc | Form::IsoUtcMillis => parse_datetime(value).map(|(unix, fraction)| {
                let fraction = match (fraction, self) {
                    (Some(fraction), _) => format!(".{fraction}"),
                    (None, Form::IsoUtcMillis) => ".000".to_owned(),
                    (None, _) => String::new(),
                };
                format!("{}T{}{fraction}Z", date(unix), clock(unix))
            }),
            Form::UnixSeconds => {
                parse_datetime(value).filter(|(_, fraction)| fraction.is_none()).map(|(unix, _)| unix.to_string())
            }
            Form::PolishDate => {
                parse_date(value).map(|date| format!("{:02}.{:02}.{:04}", date.day(), date.month(), date.year()))
            }
            Form::PolishBoolean => match value {
                "t" | "true" => Some("tak".to_owned()),
                "f" | "false" => Some("nie".to_owned()),
                _ => None,
            },
        };
        changed.map_or(Cow::Borrowed(value), Cow::Owned)
    }
}

fn polish_number(value: &str, separator: char) -> Option<String> {
    let (whole, fraction) = value.split_once('.').map_or((value, None), |(whole, fraction)| (whole, Some(fraction)));
    let digits = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || fraction.is_some_and(|fraction| !digits(fraction)) {
        return None;
    }
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(separator);
        }
        grouped.push(c);
    }
    Some(match fraction {
        Some(fraction) => format!("{grouped},{fraction}"),
        None => grouped,
    })
}

fn parse_date(text: &str) -> Option<jiff::civil::Date> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| {
        text.get(range)
            .filter(|part| part.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|part| part.parse::<i64>().ok())
    };
    let (y, m, d) = (number(0..4)?, number(5..7)?, number(8..10)?);
    // Only real dates: not 2024-02-30.
    jiff::civil::Date::new(i16::try_from(y).ok()?, i8::try_from(m).ok()?, i8::try_from(d).ok()?).ok()
}

/// A datetime in a form the sample writes, with its offset or `Z` (or unix seconds), as unix
/// seconds and the fraction's digits. One without an offset is local time, and one beyond
/// jiff's years -9999 to 9999 is not written back as a date: `None`.
fn parse_datetime(text: &str) -> Option<(i64, Option<&str>)> {
    let (unix, fraction) = parse_instant(text)?;
    jiff::Timestamp::from_second(unix).ok().map(|_| (unix, fraction))
}

fn parse_instant(text: &str) -> Option<(i64, Option<&str>)> {
    if !text.is_empty() && text.len() <= 12 && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok().map(|unix| (unix, None));
    }
    let date = parse_date(text.get(..10)?)?;
    let rest = text.get(10..)?;
    let rest = rest.strip_prefix('T').or_else(|| rest.strip_prefix(' '))?;
    let clock = rest.get(..8)?;
    let parts: Vec<i64> = clock.split(':').map(|part| part.parse().ok()).collect::<Option<_>>()?;
    let [h, min, s] = parts[..] else { return None };
    let mut rest = &rest[8..];
    let mut fraction = None;
    if let Some(after) = rest.strip_prefix('.') {
        let end = after.find(|c: char| !c.is_ascii_digit()).unwrap_or(after.len());
        fraction = Some(&after[..end]);
        rest = &after[end..];
    }
    let offset = match rest {
        "Z" => 0,
        _ => {
            let sign = match rest.chars().next()? {
                '+' => 1,
                '-' => -1,
                _ => return None,
            };
            let digits = rest[1..].replace(':', "");
            let (hours, minutes) = match digits.len() {
                2 => (digits.parse::<i64>().ok()?, 0),
                4 => (digits[..2].parse::<i64>().ok()?, digits[2..].parse::<i64>().ok()?),
                _ => return None,
            };
            sign * (hours * 3600 + minutes * 60)
        }
    };
    Some((days_since_epoch(date) * 86_400 + h * 3600 + min * 60 + s - offset, fraction))
}

const POLISH_NUMBER: Form = Form::PolishNumber(' ');
const POLISH_NUMBER_NBSP: Form = Form::PolishNumber('\u{a0}');

fn display_columns(file: &str) -> Vec<Col> {
    match file {
        "users.csv" => vec![
            col("id", "ID"),
            col("custom_id", "Custom ID"),
            col("key", "Key"),
            col("email", "E-mail address"),
            col("first_name", "First name"),
            col("last_name", "Last name"),
            col("full_name", "Full name"),
            col("Phone number", "Phone number"),
            col("gender", "Gender"),
            col("status", "Status"),
            col("company_id", "Company ID"),
            col("city", "City"),
            col("country", "Country"),
            col("unsubscribed", "Unsubscribed"),
            col("created_at", "Created at"),
            col("last_seen", "Last seen"),
            col("last_heard", "Last heard"),
            col("web_push_subscription", "Web push subscription"),
            col("fcm_key", "FCM key"),
            col("tags", "Tags"),
            col("score", "Score"),
            col("industry_segment", "Industry segment"),
            col("interests", "Interests"),
            as_form("lifetime_value", "Lifetime value", POLISH_NUMBER),
            col("orders_count", "Orders count"),
            col("newsletter_opt_in", "Newsletter opt-in"),
            col("birthday", "Birthday"),
            col("trial_ends_at", "Trial ends at"),
            col("referral_code", "Referral code"),
            col("loyalty_member", "Loyalty member"),
        ],
        "companies.csv" => vec![
            col("ID", "ID"),
            col("Name", "Company name"),
            col("Phone number", "Phone"),
            col("Email", "E-mail address"),
            col("City", "City"),
            col("Country", "Country"),
            col("Created at", "Created at"),
            col("Tags", "Tags"),
            col("NIP", "NIP"),
            col("Employees", "Employees"),
        ],
        "deals.csv" => vec![
            col("id", "ID"),
            col("name", "Deal name"),
            as_form("value", "Value", POLISH_NUMBER),
            col("currency", "Currency"),
            col("status", "Status"),
            col("pipeline", "Pipeline ID"),
            col("stage", "Stage ID"),
            col("user_id", "Contact ID"),
            col("company_id", "Company ID"),
            col("created_at", "Created at"),
            col("expected_close_date", "Expected close date"),
            col("won_at", "Won at"),
            col("lost_at", "Lost at"),
            col("tags", "Tags"),
            col("contract_type", "Contract type"),
            col("assigned_to", "Assigned to"),
        ],
        "activities.csv" => vec![
            col("id", "ID"),
            col("name", "Subject"),
            col("activity_type", "Type ID"),
            col("deal_id", "Deal ID"),
            col("user_id", "Contact ID"),
            col("company_id", "Company ID"),
            col("description", "Description"),
            col("done", "Done"),
            col("due_date", "Due date"),
            col("created_at", "Created at"),
            col("duration", "Duration (minutes)"),
            col("assigned_to", "Assigned to"),
        ],
        "events.csv" => vec![
            col("id", "ID"),
            col("name", "Event name"),
            col("user_id", "Contact ID"),
            as_form("timestamp", "start", Form::IsoUtc),
            as_form("timestamp", "end", Form::IsoUtc),
            col("attendee_email", "attendees"),
            empty("location"),
            col("data", "Data"),
        ],
        "conversations.csv" => vec![
            col("id", "Message ID"),
            col("conversation_id", "Conversation ID"),
            col("user_id", "Contact ID"),
            col("sender", "Author type"),
            empty("Agent name"),
            col("content", "Message"),
            as_form("timestamp", "Sent at", Form::UnixSeconds),
            col("source", "Channel"),
        ],
        "attributes.csv" => vec![
            col("id", "ID"),
            col("name", "Name"),
            col("name_std", "Key"),
            col("value_type", "Type"),
            col("content_type", "Object"),
            col("multiple", "Multiple"),
            col("choices", "Choices"),
        ],
        "pipelines.csv" | "tags.csv" | "activity_types.csv" => vec![col("id", "ID"), col("name", "Name")],
        "stages.csv" => {
            vec![col("id", "ID"), col("name", "Name"), col("pipeline", "Pipeline ID"), col("order", "Order")]
        }
        "segments.csv" => vec![
            col("id", "ID"),
            col("name", "Name"),
            col("description", "Description"),
            col("rules", "Rules"),
            col("object_count", "Users"),
        ],
        "automations.csv" => vec![
            col("id", "ID"),
            col("name", "Name"),
            col("trigger", "Trigger"),
            col("conditions", "Conditions"),
            col("actions", "Actions"),
            col("active", "Active"),
        ],
        "email_templates.csv" => vec![
            col("id", "ID"),
            col("name", "Name"),
            col("subject", "Subject"),
            col("body", "Body"),
            col("updated_at", "Updated at"),
        ],
        "products.csv" => vec![col("id", "ID"), col("name", "Name"), col("price", "Price")],
        other => panic!("the display dialect has no columns for {other}"),
    }
}

fn panel_pl_columns(file: &str) -> Vec<Col> {
    const TIME: Form = Form::IsoUtcMillis;
    match file {
        "users.csv" => vec![
            col("email", "E-mail"),
            col("first_name", "Imię"),
            col("last_name", "Nazwisko"),
            col("Phone number", "Telefon"),
            col("id", "ID"),
            col("custom_id", "Własny identyfikator"),
            col("key", "Klucz"),
            col("gender", "Płeć"),
            col("status", "Status"),
            col("company_id", "Firma ID"),
            col("city", "Miasto"),
            col("country", "Kraj"),
            as_form("unsubscribed", "Wypisany", Form::PolishBoolean),
            as_form("created_at", "Utworzono", TIME),
            as_form("last_seen", "Ostatnia wizyta", TIME),
            as_form("last_heard", "Ostatni kontakt", TIME),
            as_form("web_push_subscription", "Web push", Form::PolishBoolean),
            col("fcm_key", "Klucz FCM"),
            col("tags", "Tagi"),
            col("score", "Punkty"),
            col("sessions", "Liczba sesji"),
            col("industry_segment", "Industry segment"),
            col("interests", "Interests"),
            as_form("lifetime_value", "Lifetime value", POLISH_NUMBER_NBSP),
            col("orders_count", "Orders count"),
            as_form("newsletter_opt_in", "Newsletter opt-in", Form::PolishBoolean),
            as_form("birthday", "Birthday", Form::PolishDate),
            as_form("trial_ends_at", "Trial ends at", TIME),
            col("referral_code", "referral_code"),
            as_form("loyalty_member", "loyalty_member", Form::PolishBoolean),
            col("browser", "Przeglądarka"),
        ],
        "companies.csv" => vec![
            col("Name", "Nazwa"),
            col("NIP", "NIP"),
            col("ID", "ID"),
            col("Phone number", "Telefon"),
            col("Email", "E-mail"),
            col("City", "Miasto"),
            col("Country", "Kraj"),
            as_form("Created at", "Utworzono", TIME),
            col("Tags", "Tagi"),
            col("Employees", "Employees"),
        ],
        "deals.csv" => vec![
            col("id", "ID"),
            col("name", "Nazwa"),
            col("stage", "Etap"),
            col("pipeline", "Lejek"),
            col("status", "Status"),
            col("user_id", "Kontakt ID"),
            col("company_id", "Firma ID"),
            as_form("created_at", "Utworzono", TIME),
            as_form("expected_close_date", "Przewidywane zamknięcie", Form::PolishDate),
            as_form("won_at", "Wygrano", TIME),
            as_form("lost_at", "Przegrano", TIME),
            col("tags", "Tagi"),
            col("contract_type", "Contract type"),
            col("assigned_to", "Opiekun"),
            as_form("value", "Wartość", POLISH_NUMBER_NBSP),
            col("currency", "Waluta"),
        ],
        "activities.csv" => vec![
            col("id", "ID"),
            col("activity_type", "Typ"),
            col("name", "Nazwa"),
            col("description", "Opis"),
            as_form("done", "Wykonane", Form::PolishBoolean),
            as_form("due_date", "Termin", TIME),
            col("duration", "Czas trwania"),
            col("deal_id", "Deal ID"),
            col("user_id", "Kontakt ID"),
            col("company_id", "Firma ID"),
            as_form("created_at", "Utworzono", TIME),
            col("assigned_to", "Opiekun"),
        ],
        "events.csv" => vec![
            col("id", "ID"),
            col("name", "Zdarzenie"),
            col("user_id", "Kontakt ID"),
            as_form("timestamp", "Data", TIME),
            col("data", "Dane"),
        ],
        "conversations.csv" => vec![
            col("id", "ID"),
            col("conversation_id", "Rozmowa"),
            col("user_id", "Kontakt ID"),
            col("sender", "Nadawca"),
            col("content", "Treść"),
            as_form("timestamp", "Wysłano", TIME),
            col("source", "Kanał"),
        ],
        "attributes.csv" => vec![
            col("id", "id"),
            col("name", "name"),
            col("name_std", "name_std"),
            col("value_type", "value_type"),
            col("content_type", "content_type"),
            as_form("multiple", "multiple", Form::PolishBoolean),
            col("choices", "choices"),
        ],
        "pipelines.csv" | "tags.csv" => vec![col("id", "ID"), col("name", "Nazwa")],
        "stages.csv" => {
            vec![col("id", "ID"), col("name", "Nazwa"), col("pipeline", "Lejek"), col("order", "Kolejność")]
        }
        "segments.csv" => vec![
            col("id", "ID"),
            col("name", "Nazwa"),
            col("description", "Opis"),
            col("rules", "Reguły"),
            col("object_count", "Liczba kontaktów"),
        ],
        "automations.csv" => vec![
            col("id", "ID"),
            col("name", "Nazwa"),
            col("trigger", "Wyzwalacz"),
            col("conditions", "Warunki"),
            col("actions", "Akcje"),
            as_form("active", "Aktywna", Form::PolishBoolean),
        ],
        "email_templates.csv" => vec![
            col("id", "ID"),
            col("name", "Nazwa"),
            col("subject", "Temat"),
            col("body", "Treść"),
            as_form("updated_at", "Zaktualizowano", TIME),
        ],
        "formularze.csv" => vec![col("id", "ID"), col("name", "Nazwa"), col("submissions", "Zgłoszenia")],
        other => panic!("the panel-pl dialect has no columns for {other}"),
    }
}

/// The segments of the account as this dialect's export has them: (name, description, rules).
pub(crate) fn segments(dialect: Dialect) -> &'static [(&'static str, &'static str, &'static str)] {
    match dialect {
        Dialect::Sample => &[
            (
                "VIP",
                "Klienci oznaczeni jako VIP",
                r#"{"and":[{"attribute":"tags","operator":"contains","value":"VIP"}]}"#,
            ),
            (
                "Newsletter – aktywni",
                "Zapisani na newsletter, otwarcie w 90 dni",
                r#"{"and":[{"attribute":"newsletter_opt_in","operator":"is","value":true},{"attribute":"last_seen","operator":"less_than_days_ago","value":90}]}"#,
            ),
            (
                "Porzucone koszyki 30 dni",
                "",
                r#"{"and":[{"event":"cart_abandoned","operator":"occurred_within_days","value":30}]}"#,
            ),
            (
                "Leady B2B",
                "Firmy z branży usługowej i IT",
                r#"{"or":[{"attribute":"industry_segment","operator":"is","value":"services"},{"attribute":"industry_segment","operator":"is","value":"it"}]}"#,
            ),
            (
                "Nieaktywni 90 dni",
                "Do kampanii reaktywacyjnej",
                r#"{"and":[{"attribute":"last_seen","operator":"more_than_days_ago","value":90},{"attribute":"unsubscribed","operator":"is","value":false}]}"#,
            ),
        ],
        // Exported later: the account had four segments then, three of them plain filters.
        Dialect::Display => &[
            (
                "VIP",
                "Klienci oznaczeni jako VIP",
                r#"{"operator": "and", "filters": [{"attribute": "tags", "op": "contains", "value": "VIP"}]}"#,
            ),
            (
                "Stali klienci",
                "Więcej niż 5 zamówień",
                r#"{"operator": "and", "filters": [{"attribute": "orders_count", "op": "greater_than", "value": 5}]}"#,
            ),
            (
                "Nieaktywni 90 dni",
                "Do kampanii reaktywacyjnej",
                r#"{"operator": "and", "filters": [{"attribute": "last_seen", "op": "more_than_days_ago", "value": 90}, {"attribute": "unsubscribed", "op": "is", "value": false}]}"#,
            ),
            (
                "Porzucone koszyki 30 dni",
                "",
                r#"{"operator": "and", "filters": [{"event": "cart_abandoned", "op": "occurred_within_days", "value": 30}]}"#,
            ),
        ],
        Dialect::PanelPl => &[
            ("VIP", "Klienci oznaczeni jako VIP", r#"[{"attribute":"tags","operator":"contains","value":"VIP"}]"#),
            (
                "Newsletter – aktywni",
                "Zapisani na newsletter, otwarcie w 90 dni",
                r#"{"and":[{"attribute":"newsletter_opt_in","operator":"is","value":true},{"attribute":"last_seen","operator":"less_than_days_ago","value":90}]}"#,
            ),
            (
                "Porzucone koszyki 30 dni",
                "",
                r#"[{"event":"cart_abandoned","operator":"occurred_within_days","value":30}]"#,
            ),
            (
                "Leady B2B",
                "Firmy z branży usługowej i IT",
                r#"{"or":[{"and":[{"attribute":"industry_segment","operator":"is","value":"services"}]},{"and":[{"attribute":"industry_segment","operator":"is","value":"it"}]}]}"#,
            ),
            (
                "Nieaktywni 90 dni",
                "Do kampanii reaktywacyjnej",
                r#"{"and":[{"attribute":"last_seen","operator":"more_than_days_ago","value":90},{"attribute":"unsubscribed","operator":"is","value":false}]}"#,
            ),
        ],
    }
}

/// The automations: (name, trigger, conditions, actions, active).
pub(crate) fn automations(
    dialect: Dialect,
) -> &'static [(&'static str, &'static str, &'static str, &'static str, &'static str)] {
    match dialect {
        Dialect::Sample | Dialect::PanelPl => &[
            (
                "Powitanie nowego użytkownika",
                "user_created",
                "status = user",
                "wait 1h; send_email(template: Witamy)",
                "t",
            ),
            (
                "Porzucony koszyk",
                "event: cart_abandoned",
                "newsletter_opt_in = true",
                "wait 2h; send_email(template: Twój koszyk czeka); wait 1d; send_sms",
                "t",
            ),
            (
                "Lead z formularza",
                "form_submitted: kontakt",
                "",
                "add_tag(Lead z targów); assign_to(round_robin); create_deal(pipeline: Sprzedaż)",
                "t",
            ),
            (
                "Urodziny",
                "date_attribute: birthday",
                "unsubscribed = false",
                "send_email(template: Wszystkiego najlepszego)",
                "t",
            ),
            (
                "Reaktywacja 90 dni",
                "segment_entered: Nieaktywni 90 dni",
                "",
                "send_email(template: Tęsknimy)\nwait 7d\nremove_from_segment",
                "f",
            ),
            ("Wygrany deal", "deal_status_changed: won", "pipeline = Partnerzy", "add_tag(Partner); notify_agent", "t"),
        ],
        Dialect::Display => &[
            (
                "Powitanie nowego użytkownika",
                r#"{"type": "user_created"}"#,
                r#"{"operator": "and", "filters": [{"attribute": "status", "op": "is", "value": "user"}]}"#,
                r#"[{"type": "wait", "delay": {"value": 1, "unit": "hours"}}, {"type": "send_email", "params": {"template": "Witamy"}}]"#,
                "true",
            ),
            (
                "Porzucony koszyk",
                r#"{"type": "event", "event": "cart_abandoned"}"#,
                r#"{"operator": "and", "filters": [{"attribute": "newsletter_opt_in", "op": "is", "value": true}]}"#,
                r#"[{"type": "wait", "delay": {"value": 2, "unit": "hours"}}, {"type": "send_email", "params": {"template": "Twój koszyk czeka"}}, {"type": "wait", "delay": {"value": 1, "unit": "days"}}, {"type": "send_sms"}]"#,
                "true",
            ),
            (
                "Lead z formularza",
                r#"{"type": "form_submitted", "form": "kontakt"}"#,
                "",
                r#"[{"type": "add_tag", "params": {"tag": "Lead z targów"}}, {"type": "assign_to", "params": {"strategy": "round_robin"}}, {"type": "create_deal", "params": {"pipeline": "Sprzedaż"}}]"#,
                "true",
            ),
            (
                "Urodziny",
                r#"{"type": "date_attribute", "attribute": "birthday"}"#,
                r#"{"operator": "and", "filters": [{"attribute": "unsubscribed", "op": "is", "value": false}]}"#,
                r#"[{"type": "send_email", "params": {"template": "Wszystkiego najlepszego"}}]"#,
                "true",
            ),
            (
                "Reaktywacja 90 dni",
                r#"{"type": "segment_entered", "segment": "Nieaktywni 90 dni"}"#,
                "",
                r#"[{"type": "send_email", "params": {"template": "Tęsknimy"}}, {"type": "wait", "delay": {"value": 7, "unit": "days"}}, {"type": "remove_from_segment"}]"#,
                "false",
            ),
            (
                "Wygrany deal",
                r#"{"type": "deal_status_changed", "status": "won"}"#,
                r#"{"operator": "and", "filters": [{"attribute": "pipeline", "op": "is", "value": "Partnerzy"}]}"#,
                r#"[{"type": "add_tag", "params": {"tag": "Partner"}}, {"type": "notify_agent"}]"#,
                "true",
            ),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_rewrite_what_reads_and_keep_what_does_not() {
        assert_eq!(Form::PolishNumber(' ').apply("13063.67"), "13 063,67");
        assert_eq!(Form::PolishNumber(' ').apply("500.07"), "500,07");
        assert_eq!(Form::PolishNumber(' ').apply("1234567"), "1 234 567");
        assert_eq!(Form::PolishNumber(' ').apply("0"), "0");
        assert_eq!(Form::PolishNumber(' ').apply("12,5 tys."), "12,5 tys.");
        assert_eq!(Form::IsoUtc.apply("1638344475"), "2021-12-01T07:41:15Z");
        assert_eq!(Form::UnixSeconds.apply("2021-12-01T08:41:15+01:00"), "1638344475");
        assert_eq!(Form::IsoUtcMillis.apply("2020-04-18 16:57:53+02"), "2020-04-18T14:57:53.000Z");
        assert_eq!(Form::IsoUtcMillis.apply("2022-03-24 06:25:16.939807+00"), "2022-03-24T06:25:16.939807Z");
        // Local times have no instant to convert; bad values stay as planted.
        assert_eq!(Form::IsoUtcMillis.apply("2023-01-27T15:39:41"), "2023-01-27T15:39:41");
        assert_eq!(Form::IsoUtcMillis.apply("yesterday"), "yesterday");
        assert_eq!(Form::PolishDate.apply("1958-02-24"), "24.02.1958");
        assert_eq!(Form::PolishDate.apply("31.02.1990"), "31.02.1990");
        assert_eq!(Form::PolishBoolean.apply("t"), "tak");
        assert_eq!(Form::PolishBoolean.apply("maybe"), "maybe");
    }
}
