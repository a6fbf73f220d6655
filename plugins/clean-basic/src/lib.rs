//! clean-basic: the cleaning most User.com exports need before they reach Pipedrive.
//!
//! - every text field: trimmed, runs of whitespace (tabs, no-break spaces) made one space;
//!   fields listed in `multiline_fields` keep their line breaks;
//! - emails lower-cased; an invalid one rejects the record (it goes to quarantine);
//! - phones normalized to E.164 using `default_country` for national numbers;
//! - records whose email domain is listed in `drop_email_domains` are dropped (test and
//!   internal accounts), subdomains included;
//! - an empty `name` is filled from `first_name` and `last_name`.

mod email;
mod phone;
mod whitespace;

use crm_migrate_plugin_sdk::{
    Clean, Config, ConfigError, ConfigOption, HookError, Info, Issue, Outcome, Plugin, Record,
};

pub use phone::Country;

/// What to do with a phone number that cannot be read as E.164.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum InvalidPhone {
    /// Leave the value as it was.
    Keep,
    /// Clear the field.
    Clear,
    /// Send the record to quarantine.
    Reject,
}

pub struct CleanBasic {
    email_fields: Vec<String>,
    phone_fields: Vec<String>,
    multiline_fields: Vec<String>,
    drop_email_domains: Vec<String>,
    default_country: Country,
    invalid_phone: InvalidPhone,
}

const OPTIONS: &[ConfigOption] = &[
    ConfigOption::new("default_country", "ISO 3166 alpha-2 country for phone numbers written without a country code")
        .default_value("PL"),
    ConfigOption::new("email_fields", "comma-separated fields holding email addresses").default_value("email"),
    ConfigOption::new("phone_fields", "comma-separated fields holding phone numbers")
        .default_value("phone_number,phone"),
    ConfigOption::new("multiline_fields", "comma-separated text fields whose line breaks are kept")
        .default_value("description,notes,note,message,content,body"),
    ConfigOption::new(
        "drop_email_domains",
        "comma-separated email domains whose records are dropped (test and internal accounts)",
    )
    .default_value(""),
    ConfigOption::new("invalid_phone", "keep, clear or reject a phone that cannot be normalized").default_value("keep"),
];

impl Plugin for CleanBasic {
    fn describe() -> Info {
        Info::new(
            "clean-basic",
            env!("CARGO_PKG_VERSION"),
            "Trims whitespace, lower-cases and validates emails, normalizes phones to E.164, drops test accounts, fills names",
        )
        .options(OPTIONS)
    }

    fn configure(config: &Config) -> Result<Self, ConfigError> {
        let country_code = config.get("default_country").unwrap_or_default();
        let default_country = Country::from_code(country_code).ok_or_else(|| {
            ConfigError::new(
                "default_country",
                format!("unknown country '{country_code}'; use an ISO 3166 alpha-2 code such as PL, DE, GB, US"),
            )
        })?;
        let invalid_phone = config.choice(
            "invalid_phone",
            &[("keep", InvalidPhone::Keep), ("clear", InvalidPhone::Clear), ("reject", InvalidPhone::Reject)],
        )?;
        let drop_email_domains: Vec<String> = config
            .list("drop_email_domains")
            .iter()
            .map(|domain| domain.trim_start_matches('@').to_lowercase())
            .collect();
        if let Some(bad) = drop_email_domains.iter().find(|domain| !email::is_valid_domain(domain)) {
            return Err(ConfigError::new("drop_email_domains", format!("'{bad}' is not a domain")));
        }
        Ok(CleanBasic {
            email_fields: config.list("email_fields"),
            phone_fields: config.list("phone_fields"),
            multiline_fields: config.list("multiline_fields"),
            drop_email_domains,
            default_country,
            invalid_phone,
        })
    }
}

impl Clean for CleanBasic {
    fn clean(&self, record: &mut Record<'_>) -> Result<Outcome, HookError> {
        record.edit_texts(|field, text| {
            whitespace::normalize(text, || self.multiline_fields.iter().any(|name| name == field))
        });

        let mut issues = Vec::new();
        for field in &self.email_fields {
            let Some(email) = record.text(field) else { continue };
            if email.is_empty() {
                continue;
            }
            // Most emails are lower-case ASCII already: only a changed one is copied.
            let lowered = if email.is_ascii() {
                email.bytes().any(|byte| byte.is_ascii_uppercase()).then(|| email.to_ascii_lowercase())
            } else {
                email.chars().any(char::is_uppercase).then(|| email.to_lowercase())
            };
            let email = lowered.as_deref().unwrap_or(email);
            if !email::is_valid(email) {
                issues.push(Issue { field: field.clone(), message: format!("'{email}' is not a valid email address") });
                continue;
            }
            let domain = email.bytes().rposition(|byte| byte == b'@').map_or(email, |at| &email[at + 1..]);
            if let Some(listed) = self.drop_email_domains.iter().find(|listed| email::domain_matches(domain, listed)) {
                return Ok(Outcome::drop_because(format!(
                    "{field} domain {domain} is on drop_email_domains ({listed})"
                )));
            }
            if let Some(lowered) = lowered {
                record.set(field, lowered);
            }
        }

        for field in &self.phone_fields {
            let Some(phone) = record.text(field) else { continue };
            if phone.is_empty() {
                continue;
            }
            match phone::to_e164(phone, self.default_country) {
                Some(e164) => record.set(field, e164),
                None => match self.invalid_phone {
                    InvalidPhone::Keep => {}
                    InvalidPhone::Clear => record.set(field, crm_migrate_plugin_sdk::Value::Null),
                    InvalidPhone::Reject => issues.push(Issue {
                        field: field.clone(),
                        message: format!("'{phone}' is not a phone number that can be written as E.164"),
                    }),
                },
            }
        }

        if !issues.is_empty() {
            return Ok(Outcome::Reject(issues));
        }

        let name_is_empty = record.get("name").is_none_or(|name| name.is_empty());
        if name_is_empty {
            let first = record.text("first_name").unwrap_or_default();
            let last = record.text("last_name").unwrap_or_default();
            let mut full = String::with_capacity(first.len() + 1 + last.len());
            full.push_str(first);
            full.push(' ');
            full.push_str(last);
            let trimmed = full.trim();
            if trimmed.len() != full.len() {
                full = trimmed.to_owned();
            }
            if !full.is_empty() {
                record.set("name", full);
            }
        }
        Ok(Outcome::Keep)
    }
}

crm_migrate_plugin_sdk::export_plugin!(CleanBasic);

#[cfg(test)]
mod tests;
