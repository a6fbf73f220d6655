use crm_migrate_plugin_sdk::{Date, DateTime, Dedup, Merge, Plugin, Record, Value};

use super::*;

fn plugin(pairs: &[(&str, &str)]) -> DedupEmail {
    DedupEmail::with_config(pairs).expect("valid config")
}

/// The hooks' answers, unwrapped: dedup-email reports no errors.
trait Answers {
    fn keys(&self, record: &Record<'_>) -> Vec<String>;
    fn merged<'a>(&self, group: &[Record<'a>]) -> Merge<'a>;
}

impl Answers for DedupEmail {
    fn keys(&self, record: &Record<'_>) -> Vec<String> {
        self.match_keys(record).expect("match_keys")
    }
    fn merged<'a>(&self, group: &[Record<'a>]) -> Merge<'a> {
        self.merge(group).expect("merge")
    }
}

fn at(unix_millis: i64) -> Value<'static> {
    Value::DateTime(DateTime { unix_millis, offset_minutes: 0 })
}

fn choices(tags: &[&str]) -> Value<'static> {
    Value::from(tags.iter().map(|tag| tag.to_string()).collect::<Vec<_>>())
}

fn changed<'m>(merge: &'m Merge<'_>, field: &str) -> Option<&'m Value<'m>> {
    merge.changes.iter().find(|(name, _)| name == field).map(|(_, value)| value)
}

#[test]
fn emails_differing_only_in_case_and_spaces_give_the_same_key() {
    let plugin = plugin(&[]);
    let a = plugin.keys(&Record::contact("a").with("email", "Ada.Lovelace@Analytical.co.uk"));
    let b = plugin.keys(&Record::contact("b").with("email", " ada.lovelace@analytical.CO.UK "));
    assert_eq!(a, vec!["email:ada.lovelace@analytical.co.uk".to_string()]);
    assert_eq!(a, b);
}

#[test]
fn gmail_addresses_lose_dots_and_plus_suffixes() {
    let plugin = plugin(&[]);
    for raw in ["Ada.Lovelace@gmail.com", "adalovelace+crm@gmail.com", "a.d.a.lovelace+x+y@GoogleMail.com"] {
        let keys = plugin.keys(&Record::contact("1").with("email", raw));
        assert_eq!(keys, vec!["email:adalovelace@gmail.com".to_string()], "{raw}");
    }
}

#[test]
fn other_domains_keep_dots_and_plus_suffixes() {
    let keys = plugin(&[]).keys(&Record::contact("1").with("email", "ada.lovelace+crm@example.com"));
    assert_eq!(keys, vec!["email:ada.lovelace+crm@example.com".to_string()]);
}

#[test]
fn gmail_normalization_can_be_turned_off() {
    let keys = plugin(&[("gmail_normalization", "false")])
        .keys(&Record::contact("1").with("email", "Ada.Lovelace+crm@gmail.com"));
    assert_eq!(keys, vec!["email:ada.lovelace+crm@gmail.com".to_string()]);
}

#[test]
fn phone_gives_a_second_key_of_its_digits_with_the_leading_plus() {
    let record = Record::contact("1").with("email", "jan@firma.pl").with("phone_number", "+48 (501) 234-567");
    assert_eq!(plugin(&[]).keys(&record), vec!["email:jan@firma.pl".to_string(), "phone:+48501234567".into()]);
    let national = Record::contact("2").with("phone", "501-234-567");
    assert_eq!(plugin(&[]).keys(&national), vec!["phone:501234567".to_string()]);
}

#[test]
fn short_phones_and_phones_with_match_on_phone_off_give_no_key() {
    assert!(plugin(&[]).keys(&Record::contact("1").with("phone", "+48 123")).is_empty());
    let record = Record::contact("2").with("phone", "+48 501 234 567");
    assert!(plugin(&[("match_on_phone", "no")]).keys(&record).is_empty());
}

#[test]
fn the_same_key_from_two_fields_is_given_once() {
    let record = Record::contact("1").with("phone_number", "+48501234567").with("phone", "+48 501 234 567");
    assert_eq!(plugin(&[]).keys(&record), vec!["phone:+48501234567".to_string()]);
}

#[test]
fn configured_fields_are_the_ones_read() {
    let record = Record::contact("1").with("email", "ada@example.com").with("work_email", "ada@acme.com");
    let keys = plugin(&[("email_fields", "work_email"), ("phone_fields", "")]).keys(&record);
    assert_eq!(keys, vec!["email:ada@acme.com".to_string()]);
}

#[test]
fn record_without_email_or_phone_has_no_keys() {
    let plugin = plugin(&[]);
    assert!(plugin.keys(&Record::contact("1")).is_empty());
    let blank = Record::contact("2").with("email", "  ").with("phone", Value::Null).with("first_name", "Ann");
    assert!(plugin.keys(&blank).is_empty());
}

#[test]
fn most_recently_updated_record_survives_and_absorbs_the_others() {
    let group = [
        Record::contact("old").with("updated_at", at(1_000)),
        Record::contact("new").with("updated_at", at(3_000)),
        Record::contact("mid").with("updated_at", at(2_000)),
    ];
    let merge = plugin(&[]).merged(&group);
    assert_eq!(merge.survivor, 1);
    assert_eq!(merge.absorbed, vec![0, 2]);
}

#[test]
fn updated_at_may_be_a_date_or_iso_text() {
    let group = [
        Record::contact("datetime").with("updated_at", at(1_709_289_000_000)), // 2024-03-01T10:30Z
        Record::contact("text").with("updated_at", "2024-03-01T12:00:00+02:00"), // 10:00Z: older
        Record::contact("date").with("updated_at", Date { year: 2024, month: 3, day: 2 }),
        Record::contact("unreadable").with("updated_at", "last Tuesday"),
    ];
    let plugin = plugin(&[]);
    assert_eq!(plugin.merged(&group).survivor, 2);
    assert_eq!(plugin.merged(&group[..2]).survivor, 0);
    assert_eq!(plugin.merged(&[group[1].clone(), group[3].clone()]).survivor, 0, "a readable date beats none");
}

#[test]
fn tied_or_missing_dates_fall_back_to_the_most_complete_record_then_the_first() {
    let sparse = Record::contact("sparse").with("updated_at", at(5)).with("name", "");
    let full = Record::contact("full").with("updated_at", at(5)).with("name", "Ada");
    let plugin = plugin(&[]);
    assert_eq!(plugin.merged(&[sparse.clone(), full.clone()]).survivor, 1);
    assert_eq!(plugin.merged(&[full.clone(), full.clone()]).survivor, 0);

    let undated =
        [Record::contact("a"), Record::contact("b").with("name", "Ada"), Record::contact("c").with("name", "Ada")];
    assert_eq!(plugin.merged(&undated).survivor, 1);
}

#[test]
fn oldest_policy_keeps_the_earliest_created_record() {
    let group = [
        Record::contact("undated").with("name", "Ada").with("email", "ada@example.com"),
        Record::contact("newer").with("created_at", "2021-06-01").with("updated_at", at(9_000)),
        Record::contact("older").with("created_at", "2019-01-01T00:00:00Z"),
    ];
    assert_eq!(plugin(&[("survivor", "oldest")]).merged(&group).survivor, 2);
}

#[test]
fn most_complete_policy_keeps_the_record_with_most_non_empty_fields() {
    let group = [
        Record::contact("recent").with("updated_at", at(9_000)).with("name", "Ada"),
        Record::contact("complete").with("name", "Ada").with("email", "ada@example.com").with("city", "London"),
        Record::contact("blank").with("name", " ").with("email", Value::Null).with("city", "").with("notes", ""),
    ];
    assert_eq!(plugin(&[("survivor", "most_complete")]).merged(&group).survivor, 1);
}

#[test]
fn empty_fields_of_the_survivor_are_filled_from_the_next_best_member_first() {
    let group = [
        Record::contact("oldest")
            .with("updated_at", at(1))
            .with("name", "")
            .with("city", "Leeds")
            .with("phone", "+441"),
        Record::contact("newest")
            .with("updated_at", at(3))
            .with("name", "")
            .with("city", Value::Null)
            .with("phone", "+442"),
        Record::contact("middle")
            .with("updated_at", at(2))
            .with("name", "Ada")
            .with("city", "London")
            .with("phone", ""),
    ];
    let merge = plugin(&[]).merged(&group);
    assert_eq!(merge.survivor, 1);
    assert_eq!(changed(&merge, "name"), Some(&Value::from("Ada")));
    assert_eq!(changed(&merge, "city"), Some(&Value::from("London")), "the next-best member fills first");
    assert_eq!(changed(&merge, "phone"), None, "a field the survivor has is kept");
    assert_eq!(merge.changes.len(), 2);
}

#[test]
fn tags_are_unioned_in_first_seen_order_ignoring_case() {
    let group = [
        Record::contact("old").with("updated_at", at(1)).with("tags", choices(&["beta", "VIP"])),
        Record::contact("new").with("updated_at", at(2)).with("tags", choices(&["vip", "newsletter"])),
    ];
    let merge = plugin(&[]).merged(&group);
    assert_eq!(changed(&merge, "tags"), Some(&choices(&["vip", "newsletter", "beta"])));
}

#[test]
fn comma_separated_tags_are_unioned_as_text() {
    let group = [
        Record::contact("new").with("updated_at", at(2)).with("labels", "vip, newsletter"),
        Record::contact("old").with("updated_at", at(1)).with("labels", "Newsletter,beta,"),
    ];
    let merge = plugin(&[("tags_field", "labels")]).merged(&group);
    assert_eq!(changed(&merge, "labels"), Some(&Value::from("vip, newsletter, beta")));
}

#[test]
fn tags_the_survivor_already_has_are_not_changed() {
    let group = [
        Record::contact("new").with("updated_at", at(2)).with("tags", choices(&["vip", "beta"])),
        Record::contact("old").with("updated_at", at(1)).with("tags", choices(&["BETA"])),
        Record::contact("untagged").with("tags", Value::Null),
    ];
    assert!(plugin(&[]).merged(&group).changes.is_empty());
}

#[test]
fn an_untagged_survivor_gets_the_others_tags() {
    let group = [
        Record::contact("new").with("updated_at", at(2)).with("tags", Value::Null),
        Record::contact("old").with("updated_at", at(1)).with("tags", choices(&["beta"])),
    ];
    assert_eq!(changed(&plugin(&[]).merged(&group), "tags"), Some(&choices(&["beta"])));
}

#[test]
fn bad_configuration_names_the_key() {
    let error = DedupEmail::with_config(&[("survivor", "newest")]).err().expect("refused");
    assert_eq!(error.key, "survivor");
    assert!(error.message.contains("most_recent"), "names the accepted values: {}", error.message);
    let error = DedupEmail::with_config(&[("match_on_phone", "maybe")]).err().expect("refused");
    assert_eq!(error.key, "match_on_phone");
    let error = DedupEmail::with_config(&[("gmail_normalization", "sometimes")]).err().expect("refused");
    assert_eq!(error.key, "gmail_normalization");
    let error = DedupEmail::with_config(&[("match_on", "email")]).err().expect("refused");
    assert_eq!(error.key, "match_on");
    assert!(error.message.contains("survivor"), "lists the accepted keys: {}", error.message);
}
