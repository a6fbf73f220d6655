//! dedup-email-oldest: dedup-email's matching and merging, with another survivor rule: the oldest
//! record of a group (least `created_at`) survives, the account the customer opened first. A
//! build of its own, with its own digest: swapping it for dedup-email changes what apply writes
//! without rebuilding the host, and needs a new approval.

use crm_migrate_plugin_sdk::{Config, ConfigError, ConfigOption, Dedup, HookError, Info, Merge, Plugin, Record};
use dedup_rules::DedupEmail;

pub struct DedupEmailOldest(DedupEmail);

const OPTIONS: &[ConfigOption] = &dedup_rules::options("oldest");

impl Plugin for DedupEmailOldest {
    fn describe() -> Info {
        Info::new(
            "dedup-email-oldest",
            env!("CARGO_PKG_VERSION"),
            "Matches records by normalized email and phone, keeps the oldest one, fills its gaps and unions tags",
        )
        .options(OPTIONS)
    }

    fn configure(config: &Config) -> Result<Self, ConfigError> {
        DedupEmail::configure(config).map(DedupEmailOldest)
    }
}

impl Dedup for DedupEmailOldest {
    fn match_keys(&self, record: &Record<'_>) -> Result<Vec<String>, HookError> {
        self.0.match_keys(record)
    }

    fn merge<'a>(&self, group: &[Record<'a>]) -> Result<Merge<'a>, HookError> {
        self.0.merge(group)
    }
}

crm_migrate_plugin_sdk::export_plugin!(DedupEmailOldest);

#[cfg(test)]
mod tests {
    use crm_migrate_plugin_sdk::{DateTime, Value};

    use super::*;

    fn at(unix_millis: i64) -> Value<'static> {
        Value::DateTime(DateTime { unix_millis, offset_minutes: 0 })
    }

    #[test]
    fn the_oldest_record_survives_where_dedup_email_keeps_the_newest() {
        let group = [
            Record::contact("new")
                .with("email", "ada@example.com")
                .with("created_at", at(2_000))
                .with("updated_at", at(9_000)),
            Record::contact("old")
                .with("email", "ada@example.com")
                .with("created_at", at(1_000))
                .with("updated_at", at(3_000)),
        ];
        assert_eq!(DedupEmailOldest::with_config(&[]).unwrap().merge(&group).unwrap().survivor, 1);
        assert_eq!(DedupEmail::with_config(&[]).unwrap().merge(&group).unwrap().survivor, 0);
    }
}
