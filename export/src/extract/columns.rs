//! From a file's header to typed fields: User.com's standard attributes matched by name and
//! alias, every other column a custom attribute typed by the attribute definitions file, else
//! inferred from the values (and the inference reported).

use crm_migrate_core::record::ObjectKind;

use super::values;

/// What a column holds, which decides how its cells are parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// The record's own User.com id (becomes `Record::source_id`, not a field).
    Id,
    /// The id of another record.
    Reference(Target),
    Text,
    /// Text that must never appear in a report or a log (push tokens, cookie keys).
    Secret,
    Email,
    Phone,
    Number,
    Integer,
    Boolean,
    Date,
    DateTime,
    /// One of a fixed set (`Column::options`; any value when the set is unknown).
    Choice,
    /// Several of a fixed set.
    Choices,
    /// 0 abandoned, 1 in progress, 2 won, 3 lost, 4 archived.
    DealStatus,
    /// 1 unknown, 2 male, 3 female.
    Gender,
    /// 1 visitor, 2 user.
    ContactStatus,
}

/// What a reference points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Contact,
    Company,
    Deal,
    Pipeline,
    Stage,
}

impl Target {
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Contact => "contact",
            Target::Company => "company",
            Target::Deal => "deal",
            Target::Pipeline => "pipeline",
            Target::Stage => "stage",
        }
    }
}

impl FieldType {
    /// The name the audit and the definitions file use.
    pub fn name(self) -> &'static str {
        match self {
            FieldType::Id => "id",
            FieldType::Reference(_) => "reference",
            FieldType::Text => "text",
            FieldType::Secret => "secret",
            FieldType::Email => "email",
            FieldType::Phone => "phone",
            FieldType::Number => "number",
            FieldType::Integer => "integer",
            FieldType::Boolean => "boolean",
            FieldType::Date => "date",
            FieldType::DateTime => "datetime",
            FieldType::Choice => "choice",
            FieldType::Choices => "choices",
            FieldType::DealStatus => "deal status",
            FieldType::Gender => "gender",
            FieldType::ContactStatus => "contact status",
        }
    }

    /// What a cell of this type must look like, for an issue to say.
    pub fn expected(self, options: &[String]) -> String {
        let from = if options.is_empty() { String::new() } else { format!(" from: {}", options.join(", ")) };
        match self {
            FieldType::Id | FieldType::Reference(_) | FieldType::Text | FieldType::Secret => "text".to_owned(),
            FieldType::Email => "an email address (name@domain.tld)".to_owned(),
            FieldType::Phone => "a phone number (6 to 15 digits)".to_owned(),
            FieldType::Number => "a number (like 1250.00, or 1 250,50 written the Polish way)".to_owned(),
            FieldType::Integer => "a whole number".to_owned(),
            FieldType::Boolean => "a boolean (t/f, true/false, 1/0, yes/no)".to_owned(),
            FieldType::Date => "a date (YYYY-MM-DD)".to_owned(),
            FieldType::DateTime => {
                "a datetime (ISO 8601, YYYY-MM-DD HH:MM:SS[+TZ], unix seconds or YYYY-MM-DD)".to_owned()
            }
            FieldType::Choice => format!("one choice{from}"),
            FieldType::Choices => format!("a list of choices ({{a,b}}, [a, b] or a,b){from}"),
            FieldType::DealStatus => "a deal status (0 abandoned, 1 in progress, 2 won, 3 lost, 4 archived)".to_owned(),
            FieldType::Gender => "a gender (1 unknown, 2 male, 3 female)".to_owned(),
            FieldType::ContactStatus => "a contact status (1 visitor, 2 user)".to_owned(),
        }
    }
}

/// Where a column's type came from.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "from")]
pub enum Origin {
    /// One of User.com's standard attributes.
    Standard,
    /// The attribute definitions file (`attributes.csv`): its row id and the attribute's name
    /// as User.com shows it (which names the Pipedrive field, whatever the header's spelling).
    Definition { attribute_id: String, name: String },
    /// Not defined anywhere: inferred from the first `sampled` non-empty values.
    Inferred { sampled: usize },
    /// A role the header does not name, recognised from the first `sampled` non-empty values
    /// (`reason` says how); `candidates` columns fitted it, and only the first took it.
    Values { sampled: usize, reason: String, candidates: usize },
}

/// One column of a file: where it is, what field it becomes, its type.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Column {
    pub index: usize,
    /// The header as written in the file.
    pub header: String,
    /// The field name in records: the standard attribute's name, or the custom attribute's
    /// `name_std` (else the normalized header).
    pub field: String,
    pub ty: FieldType,
    /// Allowed values of a choice column (empty: any).
    pub options: Vec<String>,
    pub origin: Origin,
}

impl Column {
    pub fn is_custom(&self) -> bool {
        !matches!(self.origin, Origin::Standard | Origin::Values { .. })
    }

    /// What a cell must look like, including how the type was decided when it was a guess.
    pub fn expected(&self) -> String {
        let expected = self.ty.expected(&self.options);
        match self.origin {
            Origin::Inferred { sampled } => format!("{expected} (type inferred from the first {sampled} values)"),
            _ => expected,
        }
    }
}

/// A custom attribute as the definitions file describes it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AttributeDefinition {
    pub id: String,
    pub name: String,
    pub name_std: String,
    /// As written: boolean, integer, float, date, datetime, string, fixed.
    pub value_type: String,
    pub ty: FieldType,
    /// `None` when the content type is one this tool does not read (product, ticket, ...).
    pub object: Option<ObjectKind>,
    pub content_type: String,
    pub multiple: bool,
    pub options: Vec<String>,
    pub line: u64,
}

/// The type a definition's `value_type` (and `multiple` flag for `fixed`) stands for.
pub fn definition_type(value_type: &str, multiple: bool) -> Option<FieldType> {
    Some(match value_type.trim().to_ascii_lowercase().as_str() {
        "boolean" | "bool" => FieldType::Boolean,
        "integer" | "int" => FieldType::Integer,
        "float" | "decimal" | "number" => FieldType::Number,
        "date" => FieldType::Date,
        "datetime" | "date&time" | "date_time" => FieldType::DateTime,
        "string" | "text" => FieldType::Text,
        "fixed" | "choice" if multiple => FieldType::Choices,
        "fixed" | "choice" => FieldType::Choice,
        "multiple_choice" | "multiple choice" => FieldType::Choices,
        _ => return None,
    })
}

/// The object a definition's `content_type` is for.
pub fn definition_object(content_type: &str) -> Option<ObjectKind> {
    Some(match content_type.trim().to_ascii_lowercase().as_str() {
        "user" | "users" | "contact" | "person" => ObjectKind::Contact,
        "company" | "companies" => ObjectKind::Company,
        "deal" | "deals" => ObjectKind::Deal,
        "activity" | "activities" => ObjectKind::Activity,
        "event" | "events" => ObjectKind::Event,
        _ => return None,
    })
}

/// A header made comparable: lower case, spaces, dashes and dots as `_`, no byte order mark.
/// `E-mail` -> `e_mail`, `Phone number` -> `phone_number`, ` Created at ` -> `created_at`.
pub fn normalize_header(header: &str) -> String {
    let mut normalized = String::with_capacity(header.len());
    for c in header.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}').chars() {
        // Punctuation separates words: `Duration (minutes)` -> `duration_minutes`.
        let c = if c.is_whitespace() || matches!(c, '-' | '.' | '/' | '(' | ')' | '[' | ']' | ':' | ',' | '#' | '?') {
            '_'
        } else {
            c
        };
        if c == '_' && (normalized.is_empty() || normalized.ends_with('_')) {
            continue;
        }
        normalized.extend(c.to_lowercase());
    }
    while normalized.ends_with('_') {
        normalized.pop();
    }
    normalized
}

/// A normalized header without diacritics and camel case, for matching aliases: `Imię i
/// nazwisko` -> `imie_i_nazwisko`, `Kanał` -> `kanal`, `Miejsce/Lokalizacja` ->
/// `miejsce_lokalizacja`, `createdAt` -> `created_at`, `userID` -> `user_id`.
pub fn alias_key(header: &str) -> String {
    let mut split = String::with_capacity(header.len() + 4);
    let mut previous: Option<char> = None;
    for c in header.chars() {
        if c.is_uppercase() && previous.is_some_and(|p| p.is_lowercase() || p.is_ascii_digit()) {
            split.push('_');
        }
        split.push(c);
        previous = Some(c);
    }
    normalize_header(&split)
        .chars()
        .map(|c| match c {
            'ą' | 'ä' | 'á' | 'à' | 'â' => 'a',
            'ć' | 'č' | 'ç' => 'c',
            'ę' | 'é' | 'è' | 'ë' | 'ê' | 'ě' => 'e',
            'ł' => 'l',
            'ń' | 'ñ' => 'n',
            'ó' | 'ö' | 'ô' => 'o',
            'ś' | 'š' | 'ß' => 's',
            'ź' | 'ż' | 'ž' => 'z',
            'ü' | 'ú' | 'ů' => 'u',
            'í' => 'i',
            'ř' => 'r',
            other => other,
        })
        .collect()
}

/// A standard attribute: its field name, type, and the (normalized) headers that mean it.
struct Standard {
    field: &'static str,
    ty: FieldType,
    aliases: &'static [&'static str],
}

impl Standard {
    /// Whether a header names this role: by [`alias_key`], with word breaks set aside too
    /// (`E-mail address`, `email_address` and `Emailaddress` mean the same).
    fn named_by(&self, header: &str) -> bool {
        let joined = alias_key(header).replace('_', "");
        self.aliases.iter().any(|alias| alias.replace('_', "") == joined)
    }
}

const fn standard(field: &'static str, ty: FieldType, aliases: &'static [&'static str]) -> Standard {
    Standard { field, ty, aliases }
}

use FieldType as T;

// Aliases are compared with `alias_key` (normalized, no diacritics): English in snake and
// display case, and the Polish headers User.com writes for Polish accounts.
const CONTACT: &[Standard] = &[
    standard("id", T::Id, &["id", "user_id_internal"]),
    // User.com renamed `user_id` to `custom_id`; both are the customer's own id for the contact.
    standard(
        "user_id",
        T::Text,
        &[
            "user_id",
            "custom_id",
            "client_id",
            "external_id",
            "id_klienta",
            "wlasny_identyfikator",
            "identyfikator_wlasny",
        ],
    ),
    standard("key", T::Secret, &["key", "user_key", "userkey", "klucz", "klucz_uzytkownika"]),
    standard(
        "email",
        T::Email,
        &["email", "e_mail", "email_address", "e_mail_address", "mail", "adres_e_mail", "adres_email"],
    ),
    // One role, the person's name: the full name, or its parts (see `mapping::Names`).
    standard("first_name", T::Text, &["first_name", "firstname", "given_name", "forename", "first", "imie"]),
    standard("last_name", T::Text, &["last_name", "lastname", "surname", "family_name", "last", "nazwisko"]),
    standard(
        "name",
        T::Text,
        &[
            "name",
            "full_name",
            "fullname",
            "contact_name",
            "person_name",
            "display_name",
            "imie_i_nazwisko",
            "imie_nazwisko",
        ],
    ),
    standard(
        "phone_number",
        T::Phone,
        &[
            "phone_number",
            "phone",
            "telephone",
            "mobile",
            "mobile_phone",
            "phone_no",
            "tel",
            "telefon",
            "numer_telefonu",
            "telefon_komorkowy",
            "komorka",
        ],
    ),
    standard("gender", T::Gender, &["gender", "sex", "plec"]),
    standard("status", T::ContactStatus, &["status"]),
    standard("company_id", T::Reference(Target::Company), &["company_id", "company", "firma", "firma_id", "id_firmy"]),
    standard("city", T::Text, &["city", "miasto"]),
    standard("region", T::Text, &["region", "state", "wojewodztwo"]),
    standard("country", T::Text, &["country", "kraj"]),
    standard("timezone", T::Text, &["timezone", "time_zone", "strefa_czasowa"]),
    standard("unsubscribed", T::Boolean, &["unsubscribed", "wypisany"]),
    standard("notifications", T::Boolean, &["notifications", "enable_notifications"]),
    standard(
        "created_at",
        T::DateTime,
        &[
            "created_at",
            "created",
            "date_created",
            "created_on",
            "date_added",
            "data_utworzenia",
            "utworzono",
            "data_dodania",
        ],
    ),
    standard(
        "updated_at",
        T::DateTime,
        &["updated_at", "updated", "modified_at", "last_updated", "data_modyfikacji", "zaktualizowano"],
    ),
    standard("first_seen", T::DateTime, &["first_seen"]),
    standard("last_seen", T::DateTime, &["last_seen", "ostatnio_widziany", "ostatnia_wizyta"]),
    standard("last_contacted", T::DateTime, &["last_contacted"]),
    standard(
        "last_heard",
        T::DateTime,
        &["last_heard", "last_message_received", "ostatni_kontakt", "ostatnia_wiadomosc"],
    ),
    standard(
        "web_push_subscription",
        T::Boolean,
        &["web_push_subscription", "web_push", "webpush", "web_push_subscribed", "powiadomienia_web_push"],
    ),
    standard("fcm_key", T::Secret, &["fcm_key", "fcm_token", "mobile_fcm_key", "klucz_fcm", "token_fcm"]),
    standard("tags", T::Choices, &["tags", "tagi"]),
    standard("lists", T::Choices, &["lists", "listy"]),
    standard("score", T::Integer, &["score", "punkty", "wynik"]),
    standard("page_views", T::Integer, &["page_views", "page_visits"]),
    standard("assigned_to", T::Text, &["assigned_to", "owner", "opiekun", "wlasciciel"]),
    standard("last_ip", T::Text, &["last_ip", "ip"]),
    standard("browser", T::Text, &["browser"]),
    standard("browser_language", T::Text, &["browser_language"]),
    standard("os_type", T::Text, &["os_type", "os"]),
    standard("resolution", T::Text, &["resolution"]),
    standard("facebook_url", T::Text, &["facebook_url", "facebook"]),
    standard("linkedin_url", T::Text, &["linkedin_url", "linkedin"]),
    standard("twitter_url", T::Text, &["twitter_url", "twitter"]),
    standard("google_url", T::Text, &["google_url"]),
    standard("gravatar_url", T::Text, &["gravatar_url"]),
];

const COMPANY: &[Standard] = &[
    standard("id", T::Id, &["id"]),
    standard("custom_id", T::Text, &["custom_id", "company_custom_id", "external_id"]),
    standard("name", T::Text, &["name", "company_name", "nazwa", "nazwa_firmy", "firma"]),
    standard("email", T::Email, &["email", "e_mail", "email_address", "adres_e_mail", "adres_email"]),
    standard("phone_number", T::Phone, &["phone_number", "phone", "telephone", "tel", "telefon", "numer_telefonu"]),
    standard("website", T::Text, &["website", "url", "www", "strona", "strona_www", "strona_internetowa"]),
    standard("address", T::Text, &["address", "street", "adres", "ulica"]),
    standard("city", T::Text, &["city", "miasto"]),
    standard("region", T::Text, &["region", "state", "wojewodztwo"]),
    standard("country", T::Text, &["country", "kraj"]),
    standard("assigned_to", T::Text, &["assigned_to", "owner", "opiekun", "wlasciciel"]),
    standard("created_at", T::DateTime, &["created_at", "created", "created_on", "data_utworzenia", "utworzono"]),
    standard("updated_at", T::DateTime, &["updated_at", "updated", "data_modyfikacji"]),
    standard("tags", T::Choices, &["tags", "tagi"]),
    // The company this one belongs to (a group's daughter): a parent relationship in Pipedrive.
    standard(
        "parent_company_id",
        T::Reference(Target::Company),
        &[
            "parent_company_id",
            "parent_id",
            "parent_company",
            "firma_nadrzedna",
            "id_firmy_nadrzednej",
            "spolka_matka",
            "spolka_dominujaca",
        ],
    ),
];

const DEAL: &[Standard] = &[
    standard("id", T::Id, &["id"]),
    standard("custom_id", T::Text, &["custom_id"]),
    standard("name", T::Text, &["name", "title", "deal_name", "nazwa", "tytul"]),
    standard("value", T::Number, &["value", "amount", "wartosc", "kwota"]),
    standard("currency", T::Text, &["currency", "waluta"]),
    standard("status", T::DealStatus, &["status"]),
    standard("pipeline_id", T::Reference(Target::Pipeline), &["pipeline_id", "pipeline", "lejek"]),
    standard("stage_id", T::Reference(Target::Stage), &["stage_id", "stage", "etap"]),
    standard(
        "contact_id",
        T::Reference(Target::Contact),
        &["contact_id", "user_id", "user", "person", "person_id", "contact", "kontakt", "kontakt_id", "id_kontaktu"],
    ),
    standard("company_id", T::Reference(Target::Company), &["company_id", "company", "firma", "firma_id", "id_firmy"]),
    standard("assigned_to", T::Text, &["assigned_to", "agent", "owner", "opiekun", "wlasciciel"]),
    standard("created_at", T::DateTime, &["created_at", "created", "data_utworzenia", "utworzono"]),
    standard("updated_at", T::DateTime, &["updated_at", "updated", "data_modyfikacji"]),
    standard(
        "expected_close_date",
        T::Date,
        &[
            "expected_close_date",
            "close_date",
            "przewidywana_data_zamkniecia",
            "przewidywane_zamkniecie",
            "data_zamkniecia",
        ],
    ),
    standard("won_at", T::DateTime, &["won_at", "won", "wygrano", "data_wygrania"]),
    standard("lost_at", T::DateTime, &["lost_at", "lost", "przegrano", "data_przegrania"]),
    standard("loss_reason", T::Text, &["loss_reason", "loss_reason_description", "powod_utraty"]),
    standard("activities_status", T::Text, &["activities_status"]),
    standard("tags", T::Choices, &["tags", "tagi"]),
    // The API's deal model: the contacts taking part (user ids, `{10001,10002}`) and the order
    // lines (a JSON array of {product_id, quantity, value, currency}), read by apply's products.
    standard("participants", T::Choices, &["participants", "uczestnicy"]),
    standard("order_products", T::Text, &["order_products", "products_ordered", "pozycje_zamowienia"]),
    // The deal model's bare lists of product ids and custom ids: the order lines carry the same
    // products with their quantity and price, so these are not migrated (plan says so).
    standard("products", T::Choices, &["products", "product_ids", "produkty"]),
    standard("products_custom_ids", T::Choices, &["products_custom_ids", "products_custom_id"]),
];

const ACTIVITY: &[Standard] = &[
    standard("id", T::Id, &["id"]),
    standard("custom_id", T::Text, &["custom_id"]),
    standard("name", T::Text, &["name", "title", "subject", "temat", "tytul", "nazwa"]),
    // An app-specific type id (e.g. 25946), resolved through the activity types catalogue.
    standard(
        "activity_type",
        T::Text,
        &["activity_type", "type", "type_id", "activity_type_id", "kind", "typ", "rodzaj", "typ_aktywnosci"],
    ),
    standard("deal_id", T::Reference(Target::Deal), &["deal_id", "deal", "szansa", "szansa_id"]),
    standard(
        "contact_id",
        T::Reference(Target::Contact),
        &["contact_id", "user_id", "user", "person", "person_id", "contact", "kontakt", "kontakt_id", "id_kontaktu"],
    ),
    standard("company_id", T::Reference(Target::Company), &["company_id", "company", "firma", "firma_id", "id_firmy"]),
    standard("description", T::Text, &["description", "note", "notes", "opis", "notatka"]),
    standard("done", T::Boolean, &["done", "completed", "is_done", "wykonane", "zakonczone"]),
    standard("done_date", T::DateTime, &["done_date", "completed_at"]),
    standard(
        "due_date",
        T::DateTime,
        &["due_date", "datetime", "due", "due_at", "scheduled_at", "termin", "start", "poczatek"],
    ),
    // In minutes, as User.com keeps it; a header naming another unit is not this role.
    standard(
        "duration",
        T::Integer,
        &["duration", "duration_minutes", "duration_min", "czas_trwania", "czas_trwania_minuty", "czas_trwania_min"],
    ),
    standard("assigned_to", T::Text, &["assigned_to", "owner", "opiekun", "wlasciciel"]),
    standard("created_by", T::Text, &["created_by", "autor"]),
    standard("created_at", T::DateTime, &["created_at", "created", "data_utworzenia", "utworzono"]),
    standard("updated_at", T::DateTime, &["updated_at", "updated", "data_modyfikacji"]),
];

const EVENT: &[Standard] = &[
    standard("id", T::Id, &["id"]),
    standard(
        "name",
        T::Text,
        &["name", "event", "event_name", "title", "subject", "nazwa", "temat", "tytul", "zdarzenie", "nazwa_zdarzenia"],
    ),
    standard(
        "contact_id",
        T::Reference(Target::Contact),
        &["contact_id", "user_id", "user", "person", "contact", "kontakt", "kontakt_id", "id_kontaktu"],
    ),
    // When the event happens; `timestamp` (when it was recorded) is its time only without one.
    standard(
        "start",
        T::DateTime,
        &[
            "start",
            "starts_at",
            "start_at",
            "start_time",
            "start_date",
            "begin",
            "begins_at",
            "poczatek",
            "rozpoczecie",
            "data_rozpoczecia",
        ],
    ),
    standard(
        "end",
        T::DateTime,
        &["end", "ends_at", "end_at", "end_time", "end_date", "finish", "koniec", "zakonczenie", "data_zakonczenia"],
    ),
    standard("attendees", T::Text, &["attendees", "participants", "guests", "invitees", "uczestnicy", "goscie"]),
    standard(
        "location",
        T::Text,
        &["location", "place", "venue", "address", "miejsce", "lokalizacja", "miejsce_lokalizacja", "adres"],
    ),
    standard("timestamp", T::DateTime, &["timestamp", "created_at", "date", "time", "data_utworzenia", "czas"]),
    standard("data", T::Text, &["data", "payload", "properties", "dane", "wlasciwosci"]),
];

const CONVERSATION: &[Standard] = &[
    standard("id", T::Id, &["id", "message_id"]),
    standard(
        "conversation_id",
        T::Text,
        &["conversation_id", "conversation", "chat", "chat_id", "thread", "thread_id", "rozmowa", "id_rozmowy"],
    ),
    standard(
        "contact_id",
        T::Reference(Target::Contact),
        &["contact_id", "user_id", "user", "contact", "kontakt", "kontakt_id", "id_kontaktu"],
    ),
    // The author's role (user, agent, bot); `author` and `autor` may be a name instead: the
    // values decide (see `decide_from_values`).
    standard(
        "sender",
        T::Text,
        &[
            "sender",
            "sender_type",
            "author_type",
            "author_role",
            "from_type",
            "role",
            "direction",
            "typ_autora",
            "kierunek",
            "author",
            "autor",
            "from",
            "nadawca",
        ],
    ),
    standard(
        "author_name",
        T::Text,
        &[
            "author_name",
            "agent_name",
            "sender_name",
            "from_name",
            "agent",
            "operator",
            "konsultant",
            "imie_autora",
            "autor_nazwa",
            "nazwa_nadawcy",
        ],
    ),
    standard("content", T::Text, &["content", "message", "text", "body", "tresc", "wiadomosc"]),
    standard(
        "timestamp",
        T::DateTime,
        &["timestamp", "created_at", "sent_at", "date", "time", "created", "data", "czas", "data_wyslania", "wyslano"],
    ),
    standard("source", T::Text, &["source", "channel", "medium", "platform", "via", "kanal", "zrodlo"]),
];

fn standards(kind: ObjectKind) -> &'static [Standard] {
    match kind {
        ObjectKind::Contact => CONTACT,
        ObjectKind::Company => COMPANY,
        ObjectKind::Deal => DEAL,
        ObjectKind::Activity => ACTIVITY,
        ObjectKind::Event => EVENT,
        ObjectKind::Conversation => CONVERSATION,
    }
}

/// Headers that can mean two roles, which the values decide: a conversation's author (its role:
/// user, agent, bot; or its name) and an event's `Data` (English: its payload; Polish: its date).
const EITHER: &[(ObjectKind, &str)] = &[
    (ObjectKind::Conversation, "author"),
    (ObjectKind::Conversation, "autor"),
    (ObjectKind::Conversation, "from"),
    (ObjectKind::Conversation, "nadawca"),
    (ObjectKind::Event, "data"),
];

/// Words a column of authors' roles holds (compared lower case).
const AUTHOR_ROLES: &[&str] = &[
    "user",
    "agent",
    "bot",
    "admin",
    "system",
    "visitor",
    "contact",
    "customer",
    "client",
    "operator",
    "automation",
    "in",
    "out",
    "inbound",
    "outbound",
    "incoming",
    "outgoing",
    "uzytkownik",
    "użytkownik",
    "klient",
    "konsultant",
    "automat",
];

/// Whether a standard's type is only a kind of value (which a definition may state otherwise),
/// not what the role is read as (an id, a link, an email, a status code).
fn is_value_kind(ty: FieldType) -> bool {
    matches!(
        ty,
        FieldType::Text
            | FieldType::Number
            | FieldType::Integer
            | FieldType::Boolean
            | FieldType::Date
            | FieldType::DateTime
            | FieldType::Choice
            | FieldType::Choices
    )
}

/// The columns of a header: each standard (a role, found by its header in any spelling),
/// defined or (type still unknown) to infer. A type the definitions file gives wins over the
/// standard's, except where the standard's type is its role (an id, a link, an email...).
/// Returns the columns and the indexes of those the values decide ([`decide_from_values`]):
/// the types to infer, and roles the header leaves open.
pub fn plan_columns(
    kind: ObjectKind,
    headers: &[String],
    definitions: &[AttributeDefinition],
) -> (Vec<Column>, Vec<usize>) {
    let mut columns: Vec<Column> = Vec::with_capacity(headers.len());
    let mut to_decide = Vec::new();
    for (index, header) in headers.iter().enumerate() {
        let normalized = normalize_header(header);
        let key = alias_key(header);
        let taken = |field: &str| columns.iter().any(|column| column.field == field);
        let standard = standards(kind).iter().find(|s| s.named_by(header) && !taken(s.field));
        let definition = definitions
            .iter()
            .find(|d| d.object == Some(kind) && (alias_key(&d.name_std) == key || alias_key(&d.name) == key));
        let column = match (standard, definition) {
            (Some(standard), definition) => {
                if EITHER.contains(&(kind, key.as_str())) {
                    to_decide.push(index);
                }
                let defined = definition.filter(|_| is_value_kind(standard.ty));
                Column {
                    index,
                    header: header.clone(),
                    field: standard.field.to_owned(),
                    ty: defined.map_or(standard.ty, |definition| definition.ty),
                    options: defined.map(|definition| definition.options.clone()).unwrap_or_default(),
                    origin: Origin::Standard,
                }
            }
            (None, Some(definition)) => Column {
                index,
                header: header.clone(),
                field: if definition.name_std.trim().is_empty() {
                    normalized
                } else {
                    definition.name_std.trim().to_owned()
                },
                ty: definition.ty,
                options: definition.options.clone(),
                origin: Origin::Definition {
                    attribute_id: definition.id.clone(),
                    name: definition.name.trim().to_owned(),
                },
            },
            (None, None) => {
                to_decide.push(index);
                // An empty or repeated header still keeps its cells, under a name of its own.
                let field = if normalized.is_empty() || taken(&normalized) {
                    format!("column_{}", index + 1)
                } else {
                    normalized
                };
                Column {
                    index,
                    header: header.clone(),
                    field,
                    ty: FieldType::Text,
                    options: Vec::new(),
                    origin: Origin::Inferred { sampled: 0 },
                }
            }
        };
        columns.push(column);
    }
    (columns, to_decide)
}

/// Unix seconds between 2000 and 2100: a time written as a number.
fn unix_seconds(value: &str) -> bool {
    value.len() == 10 && value.parse::<u64>().is_ok_and(|seconds| (946_684_800..4_102_444_800).contains(&seconds))
}

/// The items of a list cell, as exports write lists: `a@x.pl, b@y.com`, `{a@x.pl,b@y.com}`,
/// `["a@x.pl"]`, `a@x.pl; b@y.com`, `Anna <a@x.pl>` (items never hold spaces: emails and ids).
pub fn list_items(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(|c: char| {
            c == ',' || c == ';' || c.is_whitespace() || matches!(c, '{' | '}' | '[' | ']' | '"' | '\'' | '<' | '>')
        })
        .filter(|item| !item.is_empty())
}

/// The email addresses of a list cell ([`list_items`]).
pub fn email_list(value: &str) -> Vec<&str> {
    list_items(value).filter(|item| values::is_email(item)).collect()
}

/// After [`plan_columns`], from the first rows' values (`sample(index)`, non-empty and empty
/// alike): the type of each undefined column, and the roles the headers leave open. A column of
/// datetimes (or unix seconds) is an event's start or an activity's due time when no header
/// names one; a column of email lists is an event's attendees; a conversation's `author` column
/// is the author's role when its values are roles (user, agent, bot), else the author's name; an
/// event's `Data` column is its time when its values are datetimes, else its payload.
pub fn decide_from_values<'a>(
    kind: ObjectKind,
    columns: &mut [Column],
    to_decide: &[usize],
    sample: impl Fn(usize) -> Vec<&'a str>,
) {
    let filled = |index: usize| -> Vec<&'a str> {
        sample(index).into_iter().map(str::trim).filter(|value| !value.is_empty()).collect()
    };
    for &index in to_decide {
        if let Origin::Inferred { .. } = columns[index].origin {
            let (mut ty, sampled) = infer_type(filled(index));
            if matches!(ty, FieldType::Integer | FieldType::Number)
                && phone_column(&columns[index].header, &filled(index))
            {
                ty = FieldType::Text;
            }
            columns[index].ty = ty;
            columns[index].origin = Origin::Inferred { sampled };
        }
    }
    let has = |columns: &[Column], field: &str| columns.iter().any(|column| column.field == field);
    let inferred = |columns: &[Column]| -> Vec<usize> {
        to_decide.iter().copied().filter(|&i| matches!(columns[i].origin, Origin::Inferred { .. })).collect()
    };
    let assign = |columns: &mut [Column], candidates: &[usize], field: &str, ty: FieldType, reason: &str| {
        if let Some(&first) = candidates.first() {
            let sampled = filled(first).len();
            let column = &mut columns[first];
            column.field = field.to_owned();
            column.ty = ty;
            column.origin = Origin::Values { sampled, reason: reason.to_owned(), candidates: candidates.len() };
        }
    };
    match kind {
        ObjectKind::Conversation => {
            let either: Vec<usize> = to_decide
                .iter()
                .copied()
                .filter(|&i| matches!(columns[i].origin, Origin::Standard) && columns[i].field == "sender")
                .collect();
            for index in either {
                let values = filled(index);
                let roles = values.iter().all(|value| AUTHOR_ROLES.contains(&value.to_lowercase().as_str()));
                if !roles && !has(columns, "author_name") {
                    let sampled = values.len();
                    columns[index].field = "author_name".to_owned();
                    columns[index].origin = Origin::Values {
                        sampled,
                        reason: "its values are names, not roles (user, agent, bot)".into(),
                        candidates: 1,
                    };
                }
            }
            if !has(columns, "sender") {
                let candidates: Vec<usize> = inferred(columns)
                    .into_iter()
                    .filter(|&i| {
                        let values = filled(i);
                        !values.is_empty()
                            && values.iter().all(|value| AUTHOR_ROLES.contains(&value.to_lowercase().as_str()))
                    })
                    .collect();
                assign(
                    columns,
                    &candidates,
                    "sender",
                    FieldType::Text,
                    "its values are authors' roles (user, agent, bot)",
                );
            }
        }
        ObjectKind::Event | ObjectKind::Activity => {
            let either: Vec<usize> = to_decide
                .iter()
                .copied()
                .filter(|&i| matches!(columns[i].origin, Origin::Standard) && columns[i].field == "data")
                .collect();
            for index in either {
                let values = filled(index);
                let times = !values.is_empty()
                    && values.iter().all(|value| unix_seconds(value) || values::parse_moment(value).is_some());
                if times && !has(columns, "timestamp") {
                    let sampled = values.len();
                    let column = &mut columns[index];
                    column.field = "timestamp".to_owned();
                    column.ty = FieldType::DateTime;
                    column.origin = Origin::Values {
                        sampled,
                        reason: "its values are datetimes (Polish `data` is a date, not a payload)".into(),
                        candidates: 1,
                    };
                    // The payload role is free again for the column that names it (`Dane`).
                    let payload = standards(kind)
                        .iter()
                        .find(|standard| standard.field == "data")
                        .expect("events have a payload role");
                    if let Some(column) = columns.iter_mut().find(|column| {
                        matches!(column.origin, Origin::Inferred { .. }) && payload.named_by(&column.header)
                    }) {
                        column.field = payload.field.to_owned();
                        column.ty = payload.ty;
                        column.origin = Origin::Standard;
                    }
                }
            }
            let time = if kind == ObjectKind::Event { "start" } else { "due_date" };
            if !has(columns, time) && (kind != ObjectKind::Event || !has(columns, "timestamp")) {
                let candidates: Vec<usize> = inferred(columns)
                    .into_iter()
                    .filter(|&i| {
                        let values = filled(i);
                        !values.is_empty()
                            && (matches!(columns[i].ty, FieldType::DateTime | FieldType::Date)
                                || values.iter().all(|value| unix_seconds(value)))
                    })
                    .collect();
                // The other candidates are times too (a note shows them as dates, not unix seconds).
                for &other in candidates.iter().skip(1) {
                    columns[other].ty = FieldType::DateTime;
                }
                assign(columns, &candidates, time, FieldType::DateTime, "its values are datetimes");
            }
            if kind == ObjectKind::Event && !has(columns, "attendees") {
                let candidates: Vec<usize> = inferred(columns)
                    .into_iter()
                    .filter(|&i| {
                        let values = filled(i);
                        !values.is_empty()
                            && values.iter().all(|value| {
                                !email_list(value).is_empty() && email_list(value).len() == value.matches('@').count()
                            })
                    })
                    .collect();
                assign(columns, &candidates, "attendees", FieldType::Text, "its values are lists of email addresses");
            }
        }
        _ => {}
    }
}

/// Words of a header that name a phone number (after [`alias_key`]).
const PHONE_WORDS: &[&str] =
    &["phone", "telefon", "tel", "mobile", "mobil", "komorka", "komorkowy", "gsm", "cell", "fax"];

/// A column of numbers that are phone numbers: its header names a phone and its values have a
/// phone's length (a `mobile_sessions` count stays a number), or one of its values is written as a
/// phone number is ([`values::is_phone_like`]). The column decides once, from
/// all the values looked at: `600123456` next to `600 123 456` stays text too.
fn phone_column(header: &str, values: &[&str]) -> bool {
    let key = alias_key(header);
    let named = key.split('_').any(|word| PHONE_WORDS.contains(&word) || word.ends_with("phone"));
    (named && values.iter().all(|value| values::is_phone(value)))
        || values.iter().any(|value| values::is_phone_like(value))
}

/// The type the values of an undefined column show. Takes the narrowest type all non-empty
/// values fit: boolean words (`t/f`, `true/false`, `yes/no`, not `1/0`), number, date, datetime,
/// array-like choices (`{...}` or `[...]`), else text. Returns the type and how many values
/// were looked at; no values means text.
pub fn infer_type<'a>(values: impl IntoIterator<Item = &'a str>) -> (FieldType, usize) {
    let mut candidates = [
        FieldType::Boolean,
        FieldType::Integer,
        FieldType::Number,
        FieldType::Date,
        FieldType::DateTime,
        FieldType::Choices,
    ]
    .to_vec();
    let mut sampled = 0;
    for value in values {
        let value = value.trim();
        if value.is_empty() {
            continue;
        }
        sampled += 1;
        candidates.retain(|ty| match ty {
            FieldType::Boolean => values::is_boolean_word(value),
            FieldType::Integer => values::parse_integer(value).is_some(),
            FieldType::Number => values::parse_number(value).is_some(),
            FieldType::Date => values::parse_date(value).is_some(),
            FieldType::DateTime => {
                values::parse_date(value).is_none()
                    && matches!(values::parse_moment(value), Some(values::Moment::DateTime { .. }))
                    && !value.bytes().all(|b| b.is_ascii_digit())
            }
            FieldType::Choices => value.starts_with(['{', '[']) && values::parse_choices(value).is_some(),
            _ => false,
        });
    }
    match candidates.first() {
        Some(ty) if sampled > 0 => (*ty, sampled),
        _ => (FieldType::Text, sampled),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn headers_are_normalized_for_matching() {
        assert_eq!(normalize_header("E-mail"), "e_mail");
        assert_eq!(normalize_header(" Phone  number "), "phone_number");
        assert_eq!(normalize_header("\u{feff}ID"), "id");
        assert_eq!(normalize_header("Created at"), "created_at");
        assert_eq!(normalize_header("Duration (minutes)"), "duration_minutes");
    }

    #[test]
    fn standard_attributes_are_found_by_alias_per_object() {
        let (columns, to_infer) = plan_columns(
            ObjectKind::Contact,
            &headers(&["ID", "E-mail", "Phone number", "custom_id", "Last message received", "vip_level"]),
            &[],
        );
        let fields: Vec<_> = columns.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["id", "email", "phone_number", "user_id", "last_heard", "vip_level"]);
        assert_eq!(columns[1].ty, FieldType::Email);
        assert_eq!(to_infer, [5]);
        // On a deal, user_id is the contact the deal belongs to.
        let (columns, _) = plan_columns(ObjectKind::Deal, &headers(&["id", "user_id", "stage"]), &[]);
        assert_eq!(columns[1].ty, FieldType::Reference(Target::Contact));
        assert_eq!(columns[1].field, "contact_id");
        assert_eq!(columns[2].field, "stage_id");
    }

    #[test]
    fn custom_attributes_take_their_type_from_the_definitions() {
        let definition = AttributeDefinition {
            id: "7".into(),
            name: "Orders count".into(),
            name_std: "orders_count".into(),
            value_type: "integer".into(),
            ty: FieldType::Integer,
            object: Some(ObjectKind::Contact),
            content_type: "user".into(),
            multiple: false,
            options: vec![],
            line: 2,
        };
        let (columns, to_infer) =
            plan_columns(ObjectKind::Contact, &headers(&["id", "Orders count"]), std::slice::from_ref(&definition));
        assert_eq!((columns[1].field.as_str(), columns[1].ty), ("orders_count", FieldType::Integer));
        assert!(to_infer.is_empty());
        // A definition for companies does not type a contact column.
        let (_, to_infer) = plan_columns(
            ObjectKind::Contact,
            &headers(&["id", "orders_count"]),
            &[AttributeDefinition { object: Some(ObjectKind::Company), ..definition }],
        );
        assert_eq!(to_infer, [1]);
        assert_eq!(definition_type("fixed", true), Some(FieldType::Choices));
        assert_eq!(definition_type("fixed", false), Some(FieldType::Choice));
        assert_eq!(definition_type("float", false), Some(FieldType::Number));
        assert_eq!(definition_type("geo", false), None);
    }

    #[test]
    fn roles_are_found_by_header_in_display_case_and_polish() {
        let fields = |kind, names: &[&str]| -> Vec<String> {
            plan_columns(kind, &headers(names), &[]).0.into_iter().map(|c| c.field).collect()
        };
        assert_eq!(
            fields(
                ObjectKind::Contact,
                &["ID", "Imię", "Nazwisko", "Imię i nazwisko", "Adres e-mail", "Telefon", "Firma", "Data utworzenia"]
            ),
            ["id", "first_name", "last_name", "name", "email", "phone_number", "company_id", "created_at"]
        );
        assert_eq!(
            fields(ObjectKind::Contact, &["First name", "Last Name", "Full name"]),
            ["first_name", "last_name", "name"]
        );
        assert_eq!(
            fields(
                ObjectKind::Event,
                &["ID", "Nazwa", "Początek", "Koniec", "Uczestnicy", "Miejsce/Lokalizacja", "Timestamp"]
            ),
            ["id", "name", "start", "end", "attendees", "location", "timestamp"]
        );
        assert_eq!(
            fields(ObjectKind::Event, &["Start", "End", "Attendees", "Location"]),
            ["start", "end", "attendees", "location"]
        );
        assert_eq!(
            fields(ObjectKind::Conversation, &["id", "Author type", "Agent name", "Kanał", "Treść", "Data"]),
            ["id", "sender", "author_name", "source", "content", "timestamp"]
        );
        assert_eq!(fields(ObjectKind::Activity, &["id", "Typ", "Temat"]), ["id", "activity_type", "name"]);
        assert_eq!(alias_key("Miejsce/Lokalizacja"), "miejsce_lokalizacja");
        assert_eq!(
            fields(ObjectKind::Deal, &["ID", "userId", "createdAt", "expectedCloseDate", "NIP"]),
            ["id", "contact_id", "created_at", "expected_close_date", "nip"]
        );
    }

    /// Columns as `decide_from_values` leaves them, from rows of cells.
    fn decided(kind: ObjectKind, names: &[&str], rows: &[&[&str]]) -> Vec<Column> {
        let (mut columns, to_decide) = plan_columns(kind, &headers(names), &[]);
        decide_from_values(kind, &mut columns, &to_decide, |index| rows.iter().map(|row| row[index]).collect());
        columns
    }

    #[test]
    fn roles_the_headers_leave_open_are_found_from_the_values() {
        let columns = decided(
            ObjectKind::Event,
            &["id", "when", "who", "note"],
            &[&["1", "2024-03-01 09:30:00+01", "a@b.pl, c@d.com", "x"], &["2", "2024-03-02T10:00:00Z", "{e@f.pl}", ""]],
        );
        assert_eq!((columns[1].field.as_str(), columns[1].ty), ("start", FieldType::DateTime));
        assert!(
            matches!(columns[1].origin, Origin::Values { sampled: 2, candidates: 1, .. }),
            "{:?}",
            columns[1].origin
        );
        assert_eq!((columns[2].field.as_str(), columns[2].ty), ("attendees", FieldType::Text));
        assert_eq!(columns[3].field, "note");

        // Two columns of unix seconds: the first is the start, both are times, and it says two fit.
        let columns = decided(ObjectKind::Event, &["id", "von", "bis"], &[&["1", "1709285400", "1709288100"]]);
        assert_eq!(
            (columns[1].field.as_str(), columns[1].ty, columns[2].ty),
            ("start", FieldType::DateTime, FieldType::DateTime)
        );
        assert!(matches!(columns[1].origin, Origin::Values { candidates: 2, .. }));
        // Polish `Data` holding dates is the event's time; English `data` holding JSON its payload.
        let columns = decided(ObjectKind::Event, &["id", "Data"], &[&["1", "2024-03-01 09:30:00"]]);
        assert_eq!((columns[1].field.as_str(), columns[1].ty), ("timestamp", FieldType::DateTime));
        let columns = decided(ObjectKind::Event, &["id", "data"], &[&["1", "{\"value\": 3}"]]);
        assert_eq!((columns[1].field.as_str(), columns[1].ty), ("data", FieldType::Text));
        // A named time is not second-guessed.
        let columns =
            decided(ObjectKind::Event, &["id", "timestamp", "later"], &[&["1", "1709285400", "2024-03-01 09:30:00"]]);
        assert_eq!(columns[2].field, "later");

        // `Autor` holding names is the author's name; holding roles, the author's role.
        let columns = decided(ObjectKind::Conversation, &["id", "Autor"], &[&["1", "Anna Nowak"], &["2", "user"]]);
        assert_eq!(columns[1].field, "author_name");
        let columns = decided(
            ObjectKind::Conversation,
            &["id", "Autor", "kto"],
            &[&["1", "agent", "Anna"], &["2", "User", "Ola"]],
        );
        assert_eq!((columns[1].field.as_str(), columns[2].field.as_str()), ("sender", "kto"));
        let columns = decided(ObjectKind::Conversation, &["id", "kto"], &[&["1", "agent"], &["2", "bot"]]);
        assert_eq!(columns[1].field, "sender");
    }

    #[test]
    fn a_definition_types_a_column_whatever_its_header_and_a_plain_role() {
        let definition = |name: &str, name_std: &str, ty| AttributeDefinition {
            id: "9".into(),
            name: name.into(),
            name_std: name_std.into(),
            value_type: String::new(),
            ty,
            object: Some(ObjectKind::Company),
            content_type: "company".into(),
            multiple: false,
            options: vec![],
            line: 2,
        };
        let employees = definition("Number of employees", "number_of_employees", FieldType::Integer);
        for header in ["Number of employees", "number_of_employees", "NUMBER-OF-EMPLOYEES"] {
            let (columns, to_decide) =
                plan_columns(ObjectKind::Company, &headers(&["id", header]), std::slice::from_ref(&employees));
            assert_eq!(
                (columns[1].field.as_str(), columns[1].ty),
                ("number_of_employees", FieldType::Integer),
                "{header}"
            );
            assert!(to_decide.is_empty());
        }
        // A role keeps its field; a definition states its type when the role's type is only a kind of value.
        let (columns, _) = plan_columns(
            ObjectKind::Company,
            &headers(&["id", "city"]),
            &[definition("City", "city", FieldType::Choice)],
        );
        assert_eq!(
            (columns[1].field.as_str(), columns[1].ty, &columns[1].origin),
            ("city", FieldType::Choice, &Origin::Standard)
        );
        let (columns, _) = plan_columns(
            ObjectKind::Company,
            &headers(&["id", "email"]),
            &[definition("Email", "email", FieldType::Text)],
        );
        assert_eq!(columns[1].ty, FieldType::Email);
    }

    #[test]
    fn repeated_and_empty_headers_keep_their_cells() {
        let (columns, _) =
            plan_columns(ObjectKind::Contact, &headers(&["id", "email", "Email", "", "note", "note"]), &[]);
        let fields: Vec<_> = columns.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["id", "email", "column_3", "column_4", "note", "column_6"]);
    }

    #[test]
    fn inference_takes_the_narrowest_type_all_values_fit() {
        assert_eq!(infer_type(["t", "f", "", "true"]), (FieldType::Boolean, 3));
        assert_eq!(infer_type(["1", "0", "12"]), (FieldType::Integer, 3));
        assert_eq!(infer_type(["1", "0.5"]), (FieldType::Number, 2));
        assert_eq!(infer_type(["2024-01-01", "2023-12-31"]), (FieldType::Date, 2));
        assert_eq!(infer_type(["2024-01-01 10:00:00+01", "2023-12-31T00:00:00Z"]), (FieldType::DateTime, 2));
        assert_eq!(infer_type(["{a,b}", "{}", "[c]"]), (FieldType::Choices, 3));
        assert_eq!(infer_type(["REF-01", "t"]), (FieldType::Text, 2));
        assert_eq!(infer_type(["", ""]), (FieldType::Text, 0));
        // Unix seconds stay numbers: calling a count a date would be a guess.
        assert_eq!(infer_type(["1709285400"]), (FieldType::Integer, 1));
    }

    #[test]
    fn a_column_of_phone_numbers_stays_text_and_decides_once_from_all_its_values() {
        let decided = |header: &str, values: &[&str]| {
            let (mut columns, to_decide) = plan_columns(ObjectKind::Contact, &headers(&["id", header]), &[]);
            decide_from_values(ObjectKind::Contact, &mut columns, &to_decide, |_| values.to_vec());
            columns[1].ty
        };
        assert_eq!(decided("extra", &["600 123 456", "601 222 333"]), FieldType::Text);
        assert_eq!(decided("extra", &["600123456", "0601222333"]), FieldType::Text);
        assert_eq!(decided("Telefon prywatny", &["600123456", "601222333"]), FieldType::Text);
        assert_eq!(decided("mobile_sessions", &["3", "12"]), FieldType::Integer);
        assert_eq!(decided("employees", &["1 250", "12 500"]), FieldType::Integer);
    }
}
