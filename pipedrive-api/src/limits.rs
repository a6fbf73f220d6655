//! What a Pipedrive account can hold, by plan: custom fields, deals, options of a field, the size
//! of a note. Plan refuses a migration over them and the sandbox enforces them, so both read
//! the numbers here.
//!
//! Sources (read 2026-11-30, see `shared/reference/pipedrive-api.md`, "Account limits"):
//! - Custom fields and deals: the help centre's "Usage limits in Pipedrive"
//!   (https://support.pipedrive.com/en/article/usage-limits-in-pipedrive; its 2025-08-25 table
//!   of the current plans): custom fields per company 30 / 100 / 300 / 500 for Lite / Growth /
//!   Premium / Ultimate; leads and deals per company 2,500 / 5,000 / 15,000 / 20,000 x seats,
//!   at most 300,000. (The reference's note gives 1k / 3k / 10k / 15k x seats for accounts
//!   created from 2025-05-29; the help centre's table is the published one.)
//! - Options: the developer docs allow 10,000 per field, the help centre 500: the lower.
//! - Notes: "The maximum note size is approximately 100,000 characters (or 100KB per note)"
//!   (v1.yaml, the Notes tag); activity notes are limited to 100 KB since 2025-09-21 (developer
//!   changelog). Counted here in bytes of the HTML sent, the stricter reading.

use crate::Plan;

/// Options (labels) one enum, set or label field may hold: the help centre's 500, the lower of
/// the two published numbers.
pub const OPTIONS_PER_FIELD: u64 = 500;

/// The largest note (and activity note) content, in bytes of its HTML: 100 KB.
pub const NOTE_MAX_BYTES: u64 = 100_000;

/// The largest file an upload (`POST /v1/files`) may carry. [gap]: neither v1.yaml's Files tag
/// nor the API reference names a bound; 50 MiB is the bound assumed here (plan, apply and the
/// sandbox read this one number), to be checked against a live account.
pub const FILE_MAX_BYTES: u64 = 50 * 1024 * 1024;

/// Deals (and leads) no account holds more of, whatever its seats.
pub const DEALS_CEILING: u64 = 300_000;

/// The 403 body's `code` when a deal would go over the account's deals limit (documented on
/// the developer docs' responses page, `feature_capping_deals_limit`).
pub const DEALS_LIMIT_CODE: &str = "feature_capping_deals_limit";

/// The 403 body's `code` for the custom fields limit. Pipedrive documents that the 403 carries a
/// `code` but not its value for fields; this one follows the documented deals code's form.
pub const CUSTOM_FIELDS_LIMIT_CODE: &str = "feature_capping_custom_fields_limit";

/// What one account may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountLimits {
    /// Custom fields per company (persons, organizations, deals and products together);
    /// None: unlimited.
    pub custom_fields: Option<u64>,
    /// Deals per company; None: unlimited.
    pub deals: Option<u64>,
    pub options_per_field: u64,
    pub note_bytes: u64,
}

impl AccountLimits {
    /// The limits of a plan with so many seats.
    pub fn of(plan: Plan, seats: u32) -> AccountLimits {
        let (custom_fields, deals_per_seat) = match plan {
            Plan::Lite => (30, 2_500),
            Plan::Growth => (100, 5_000),
            Plan::Premium => (300, 15_000),
            Plan::Ultimate => (500, 20_000),
        };
        AccountLimits {
            custom_fields: Some(custom_fields),
            deals: Some((deals_per_seat * u64::from(seats.max(1))).min(DEALS_CEILING)),
            options_per_field: OPTIONS_PER_FIELD,
            note_bytes: NOTE_MAX_BYTES,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_follow_the_plan_and_the_seats_up_to_the_ceiling() {
        assert_eq!(AccountLimits::of(Plan::Lite, 1).custom_fields, Some(30));
        assert_eq!(AccountLimits::of(Plan::Growth, 3).deals, Some(15_000));
        assert_eq!(AccountLimits::of(Plan::Ultimate, 100).deals, Some(DEALS_CEILING));
    }
}
