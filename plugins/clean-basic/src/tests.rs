use crm_migrate_plugin_sdk::{Clean, Outcome, Plugin, Record, Value};

use super::*;

/// Calls `check` with every string of up to `max_len` characters over `alphabet` (the empty one
/// included), shortest first; returns how many there were. The exhaustive tests of the fast
/// paths against the obvious code walk their alphabets with it.
pub(crate) fn every_string(alphabet: &[char], max_len: u32, mut check: impl FnMut(&str)) -> usize {
    let mut text = String::new();
    let mut count = 0;
    for len in 0..=max_len {
        for mut n in 0..alphabet.len().pow(len) {
            text.clear();
            for _ in 0..len {
                text.push(alphabet[n % alphabet.len()]);
                n /= alphabet.len();
            }
            check(&text);
            count += 1;
        }
    }
    count
}

#[test]
fn every_string_visits_each_string_once() {
    let mut seen = std::collections::BTreeSet::new();
    let count = every_string(&['a', '\u{144}'], 3, |text| assert!(seen.insert(text.to_owned()), "{text:?} twice"));
    assert_eq!(count, 1 + 2 + 4 + 8);
    assert_eq!(seen.len(), count);
    assert!(seen.contains("") && seen.contains("a\u{144}a") && seen.contains("\u{144}\u{144}\u{144}"));
}

fn plugin(pairs: &[(&str, &str)]) -> CleanBasic {
    CleanBasic::with_config(pairs).expect("valid config")
}

#[test]
fn trims_and_collapses_whitespace_in_every_text_field() {
    let mut record = Record::contact("1").with("company_name", "  Acme \t Sp.\u{a0}z o.o. ").with("city", "Kraków");
    assert_eq!(plugin(&[]).clean(&mut record).unwrap(), Outcome::Keep);
    assert_eq!(record.text("company_name"), Some("Acme Sp. z o.o."));
    assert!(!record.is_changed("city"), "an already clean field is not reported as changed");
}

#[test]
fn multiline_fields_keep_their_line_breaks() {
    let mut record = Record::contact("1").with("notes", "first line  \r\nsecond   line\n");
    plugin(&[]).clean(&mut record).unwrap();
    assert_eq!(record.text("notes"), Some("first line\nsecond line"));
}

#[test]
fn emails_are_lower_cased() {
    let mut record = Record::contact("1").with("email", " Ada.Lovelace@Example.COM ");
    assert_eq!(plugin(&[]).clean(&mut record).unwrap(), Outcome::Keep);
    assert_eq!(record.text("email"), Some("ada.lovelace@example.com"));
}

#[test]
fn invalid_email_rejects_the_record_naming_the_field() {
    for bad in ["ada@", "ada", "ada@@example.com", "ada@example", "a b@example.com", "ada@example.c0m"] {
        let mut record = Record::contact("1").with("email", bad);
        match plugin(&[]).clean(&mut record).unwrap() {
            Outcome::Reject(issues) => {
                assert_eq!(issues.len(), 1, "{bad}");
                assert_eq!(issues[0].field, "email");
                assert!(issues[0].message.contains("not a valid email"), "{bad}: {}", issues[0].message);
            }
            other => panic!("{bad} gave {other:?}"),
        }
    }
}

#[test]
fn records_on_a_dropped_domain_are_dropped_with_the_reason() {
    let plugin = plugin(&[("drop_email_domains", "example.com, @internal.acme.pl")]);
    let mut test_account = Record::contact("1").with("email", "qa@Example.com");
    let mut internal = Record::contact("2").with("email", "ops@eu.internal.acme.pl");
    let mut customer = Record::contact("3").with("email", "buyer@notexample.com");
    assert!(
        matches!(plugin.clean(&mut test_account).unwrap(), Outcome::Drop(reason) if reason.contains("example.com"))
    );
    assert!(matches!(plugin.clean(&mut internal).unwrap(), Outcome::Drop(_)));
    assert_eq!(plugin.clean(&mut customer).unwrap(), Outcome::Keep);
}

#[test]
fn phones_become_e164_using_the_default_country() {
    let cases = [
        ("PL", "501 234 567", "+48501234567"),
        ("PL", "+48 (501) 234-567", "+48501234567"),
        ("PL", "0048 501234567", "+48501234567"),
        ("DE", "030 1234567", "+49301234567"),
        ("GB", "020 7946 0958", "+442079460958"),
        ("US", "(415) 555-0132", "+14155550132"),
        ("US", "1-415-555-0132", "+14155550132"),
    ];
    for (country, raw, expected) in cases {
        let mut record = Record::contact("1").with("phone_number", raw);
        plugin(&[("default_country", country)]).clean(&mut record).unwrap();
        assert_eq!(record.text("phone_number"), Some(expected), "{country} {raw}");
    }
}

#[test]
fn unreadable_phone_is_kept_cleared_or_rejected_as_configured() {
    let raw = "call me maybe";
    let mut kept = Record::contact("1").with("phone", raw);
    assert_eq!(plugin(&[]).clean(&mut kept).unwrap(), Outcome::Keep);
    assert_eq!(kept.text("phone"), Some(raw));

    let mut cleared = Record::contact("1").with("phone", raw);
    plugin(&[("invalid_phone", "clear")]).clean(&mut cleared).unwrap();
    assert_eq!(cleared.get("phone"), Some(&Value::Null));

    let mut rejected = Record::contact("1").with("phone", "12");
    assert!(
        matches!(plugin(&[("invalid_phone", "reject")]).clean(&mut rejected).unwrap(), Outcome::Reject(issues) if issues[0].field == "phone")
    );
}

#[test]
fn empty_name_is_filled_from_first_and_last_name() {
    let mut record = Record::contact("1").with("first_name", " Ada ").with("last_name", "Lovelace").with("name", "");
    plugin(&[]).clean(&mut record).unwrap();
    assert_eq!(record.text("name"), Some("Ada Lovelace"));

    let mut named = Record::contact("2").with("first_name", "Ada").with("name", "Countess of Lovelace");
    plugin(&[]).clean(&mut named).unwrap();
    assert!(!named.is_changed("name"));
}

#[test]
fn bad_configuration_names_the_key() {
    let error = CleanBasic::with_config(&[("default_country", "Narnia")]).err().expect("refused");
    assert_eq!(error.key, "default_country");
    let error = CleanBasic::with_config(&[("invalid_phone", "shrug")]).err().expect("refused");
    assert_eq!(error.key, "invalid_phone");
    let error = CleanBasic::with_config(&[("drop_email_domains", "not a domain")]).err().expect("refused");
    assert_eq!(error.key, "drop_email_domains");
    let error = CleanBasic::with_config(&[("colour", "blue")]).err().expect("refused");
    assert_eq!(error.key, "colour");
    assert!(error.message.contains("default_country"), "lists the accepted keys: {}", error.message);
}
