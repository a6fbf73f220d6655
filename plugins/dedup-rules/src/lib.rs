//! dedup-rules: how the dedup-email plugins find contacts that are the same person and merge each
//! group into one record. Each build of it (`dedup-email`, `dedup-email-oldest`) is a plugin of its
//! own, with its own digest, differing only in the survivor rule it defaults to.
//!
//! - match keys: `email:<address>` for every field in `email_fields`, trimmed and lower-cased;
//!   Gmail addresses (gmail.com, googlemail.com) also lose the dots and the `+suffix` of their
//!   local part, so `Ada.L+crm@googlemail.com` is `email:adal@gmail.com`; and, unless
//!   `match_on_phone` is off, `phone:<digits>` (a leading `+` kept) for every field in
//!   `phone_fields` holding at least 7 digits;
//! - the survivor of a group is picked by `survivor`: `most_recent` (greatest `updated_at`),
//!   `oldest` (least `created_at`) or `most_complete` (most non-empty fields); a tie or a
//!   missing date falls back to the most complete record, then to the first;
//! - the survivor's empty fields are filled from the other members, best-ranked first;
//! - the tags in `tags_field` are unioned over the group, first seen first, case ignored;
//! - every other member is absorbed into the survivor.

mod keys;
mod survivor;
mod tags;

use crm_migrate_plugin_sdk::{Config, ConfigError, ConfigOption, Dedup, HookError, Info, Merge, Plugin, Record};

pub use survivor::Policy;

pub struct DedupEmail {
    email_fields: Vec<String>,
    /// Empty when `match_on_phone` is off.
    phone_fields: Vec<String>,
    gmail_normalization: bool,
    survivor: Policy,
    tags_field: String,
}

/// The options of a build whose `survivor` rule defaults to `survivor`.
pub const fn options(survivor: &'static str) -> [ConfigOption; 6] {
    [
        ConfigOption::new("email_fields", "comma-separated fields holding email addresses").default_value("email"),
        ConfigOption::new("phone_fields", "comma-separated fields holding phone numbers")
            .default_value("phone_number,phone"),
        ConfigOption::new("match_on_phone", "also match records sharing a phone number (at least 7 digits)")
            .default_value("true"),
        ConfigOption::new(
            "gmail_normalization",
            "ignore dots and +suffixes in Gmail addresses, and treat googlemail.com as gmail.com",
        )
        .default_value("true"),
        ConfigOption::new(
            "survivor",
            "which record of a group survives: most_recent (updated_at), oldest (created_at) or most_complete",
        )
        .default_value(survivor),
        ConfigOption::new(
            "tags_field",
            "the field holding tags (choices or comma-separated text), unioned over a group",
        )
        .default_value("tags"),
    ]
}

const OPTIONS: &[ConfigOption] = &options("most_recent");

impl Plugin for DedupEmail {
    fn describe() -> Info {
        Info::new(
            "dedup-email",
            env!("CARGO_PKG_VERSION"),
            "Matches records by normalized email and phone, keeps the best one, fills its gaps and unions tags",
        )
        .options(OPTIONS)
    }

    fn configure(config: &Config) -> Result<Self, ConfigError> {
        let survivor = config.choice(
            "survivor",
            &[("most_recent", Policy::MostRecent), ("oldest", Policy::Oldest), ("most_complete", Policy::MostComplete)],
        )?;
        let match_on_phone = config.flag("match_on_phone")?.unwrap_or(true);
        Ok(DedupEmail {
            email_fields: config.list("email_fields"),
            phone_fields: if match_on_phone { config.list("phone_fields") } else { Vec::new() },
            gmail_normalization: config.flag("gmail_normalization")?.unwrap_or(true),
            survivor,
            tags_field: config.get("tags_field").unwrap_or_default().trim().to_owned(),
        })
    }
}

impl Dedup for DedupEmail {
    fn match_keys(&self, record: &Record<'_>) -> Result<Vec<String>, HookError> {
        let emails = self
            .email_fields
            .iter()
            .filter_map(|field| record.text(field))
            .filter_map(|email| keys::email(email, self.gmail_normalization));
        let phones = self.phone_fields.iter().filter_map(|field| record.text(field)).filter_map(keys::phone);
        let mut keys = Vec::new();
        for key in emails.chain(phones) {
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        Ok(keys)
    }

    fn merge<'a>(&self, group: &[Record<'a>]) -> Result<Merge<'a>, HookError> {
        let order = self.survivor.rank(group);
        let Some(&best) = order.first() else { return Ok(Merge::survivor(0, 0)) };
        let ranked: Vec<&Record<'a>> = order.iter().map(|&member| &group[member]).collect();
        let (survivor, donors) = (ranked[0], &ranked[1..]);
        let mut merge = Merge::survivor(best, group.len());

        for donor in donors {
            for (field, value) in donor.fields() {
                let survivor_has_it = survivor.get(field).is_some_and(|own| !own.is_empty());
                let already_filled = merge.changes.iter().any(|(changed, _)| changed == field);
                if field != self.tags_field && !value.is_empty() && !survivor_has_it && !already_filled {
                    merge.set(field, value.clone());
                }
            }
        }
        if let Some(union) = tags::union(&self.tags_field, &ranked) {
            merge.set(&self.tags_field, union);
        }
        Ok(merge)
    }
}

#[cfg(test)]
mod tests;
