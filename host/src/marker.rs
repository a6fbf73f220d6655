//! The migration's marker: what apply writes on every record so that a lost answer or a killed
//! run finds the record again (and verify and rollback know it as the migration's), written,
//! read back strictly, and kept out of the content apply copies from User.com.
//!
//! Organizations, persons and deals carry it as the exact value of their "User.com ID" field:
//! `ACCOUNT:ID` (`acme:12345`). Activities and notes carry it as the last paragraph of their
//! text, which the tool writes after everything else: `<p>[User.com ACCOUNT: OBJECT ID]</p>`.
//! The source account (`[source] account` in migration.toml) keeps two User.com accounts that
//! go into one Pipedrive account apart. Projects made before the account existed have none:
//! they keep writing the old forms (the bare id; `<p>[User.com OBJECT ID]</p>`), and a project
//! with an account still reads those, in the same exact place.
//!
//! Text from User.com (a visitor's chat message, a description a person wrote) can hold a
//! marker of another record. It is never read as one: only the last paragraph counts, and
//! `escape_html` writes any `[User.com` in copied text as `&#91;User.com`.

use crate::record::ObjectKind;

/// The longest account name: a DNS label, as User.com's own subdomains are.
const ACCOUNT_MAX: usize = 63;

/// How this project marks its records: with its source account, or (a project made by an
/// earlier version) in the old form without one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Markers {
    account: Option<String>,
}

impl Markers {
    /// With an account checked by [`check_account`]; `None`: the old forms.
    pub fn new(account: Option<&str>) -> Markers {
        Markers { account: account.map(str::to_owned) }
    }

    pub fn account(&self) -> Option<&str> {
        self.account.as_deref()
    }

    /// The marker field's value for a record.
    pub fn field_value(&self, source_id: &str) -> String {
        match &self.account {
            Some(account) => format!("{account}:{source_id}"),
            None => source_id.to_owned(),
        }
    }

    /// The values a record of this project may carry in its marker field, the current form
    /// first: a project with an account also wrote the bare id before it had one.
    pub fn field_values(&self, source_id: &str) -> Vec<String> {
        let mut values = vec![self.field_value(source_id)];
        if self.account.is_some() && !source_id.contains(':') {
            values.push(source_id.to_owned());
        }
        values
    }

    /// The source id a marker field's value names, when it is one of this project's: this
    /// account's `ACCOUNT:ID`, or the old bare id. Another account's `OTHER:ID` is not (a project
    /// without an account reads every other value as a bare id, as it always did).
    pub fn parse_field(&self, value: &str) -> Option<String> {
        let id = match (&self.account, value.split_once(':')) {
            (Some(account), Some((prefix, id))) => (prefix == account).then_some(id)?,
            (None, Some((prefix, id))) if check_account(prefix).is_ok() && !id.is_empty() => return None,
            (_, _) => value,
        };
        (!id.is_empty()).then(|| id.to_owned())
    }

    /// The paragraph apply ends an activity's note or a note's content with.
    pub fn paragraph(&self, object: ObjectKind, source_id: &str) -> String {
        paragraph(self.account.as_deref(), object, source_id)
    }

    /// The source id of the `object` record whose marker ends `text`, if its last paragraph is
    /// exactly a marker this project writes (or, with an account, the old form). Anything
    /// else, a marker anywhere before the last paragraph included, is no marker.
    pub fn parse_text(&self, object: ObjectKind, text: &str) -> Option<String> {
        let last = &text[text.rfind("<p>")?..];
        let inner = last.strip_prefix("<p>[User.com ")?.strip_suffix("]</p>")?;
        let (account, rest) = match inner.split_once(": ") {
            Some((account, rest)) => (Some(account), rest),
            None => (None, inner),
        };
        if account.is_some() && account != self.account.as_deref() {
            return None;
        }
        let id = unescape_id(rest.strip_prefix(object.as_str())?.strip_prefix(' ')?);
        // Read back only what would have been written: the same bytes, nothing around them.
        (!id.is_empty() && id.trim() == id && paragraph(account, object, &id) == last).then_some(id)
    }
}

fn paragraph(account: Option<&str>, object: ObjectKind, source_id: &str) -> String {
    let id = escape_id(source_id);
    match account {
        Some(account) => format!("<p>[User.com {account}: {object} {id}]</p>"),
        None => format!("<p>[User.com {object} {id}]</p>"),
    }
}

/// Text copied from User.com, as HTML: `&`, `<` and `>` as entities, line breaks as `<br>`,
/// and the `[` of anything that reads like a marker (`[User.com`, in any case, spaces
/// allowed) as `&#91;`, so that it can never be taken for one.
pub fn escape_html(text: &str) -> String {
    let text = text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('\n', "<br>");
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(at) = rest.find('[') {
        out.push_str(&rest[..at]);
        let after = rest[at + 1..].trim_start();
        let marker_like = after.get(..8).is_some_and(|word| word.eq_ignore_ascii_case("user.com"));
        out.push_str(if marker_like { "&#91;" } else { "[" });
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
    out
}

/// A source id inside a marker: the characters that could end the paragraph or the marker, or
/// break the line, as entities (User.com's ids are numbers; this only keeps odd ones readable).
fn escape_id(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for character in id.chars() {
        match character {
            '&' | '<' | '>' | '[' | ']' | '\n' | '\r' | '\t' => out.push_str(&format!("&#{};", character as u32)),
            other => out.push(other),
        }
    }
    out
}

fn unescape_id(text: &str) -> String {
    let mut out = text.to_owned();
    for character in ['<', '>', '[', ']', '\n', '\r', '\t', '&'] {
        out = out.replace(&format!("&#{};", character as u32), &character.to_string());
    }
    out
}

/// Why an account name is not one: lower-case letters, digits and inner hyphens, at most 63.
pub fn check_account(name: &str) -> Result<(), String> {
    let well_formed = !name.is_empty()
        && name.len() <= ACCOUNT_MAX
        && name.bytes().all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if well_formed {
        Ok(())
    } else {
        Err(format!(
            "account '{name}' must be 1 to {ACCOUNT_MAX} lower-case letters, digits and inner hyphens (the User.com account, e.g. \"acme\" for acme.user.com)"
        ))
    }
}

/// The account `init` proposes when none is given: the export directory's name as a slug
/// (`Acme Export_2026` -> `acme-export-2026`), or `usercom` if nothing is left of it.
pub fn default_account(export_dir_name: &str) -> String {
    let mut slug = String::new();
    for character in export_dir_name.chars().flat_map(char::to_lowercase) {
        if character.is_ascii_lowercase() || character.is_ascii_digit() {
            slug.push(character);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug: String = slug.chars().take(ACCOUNT_MAX).collect();
    let slug = slug.trim_end_matches('-');
    if slug.is_empty() { "usercom".to_owned() } else { slug.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acme() -> Markers {
        Markers::new(Some("acme"))
    }

    #[test]
    fn a_written_paragraph_reads_back_as_its_id() {
        for markers in [acme(), Markers::new(None)] {
            for id in ["12345", "a&b<c>", "x y", "[7]", "a&#91;"] {
                let text = format!("<p>Ustalenia</p>{}", markers.paragraph(ObjectKind::Activity, id));
                assert_eq!(markers.parse_text(ObjectKind::Activity, &text), Some(id.to_owned()), "{text}");
            }
        }
        assert_eq!(acme().paragraph(ObjectKind::Conversation, "900"), "<p>[User.com acme: conversation 900]</p>");
        assert_eq!(Markers::new(None).paragraph(ObjectKind::Event, "5"), "<p>[User.com event 5]</p>");
    }

    #[test]
    fn only_the_last_paragraph_in_the_exact_form_is_a_marker() {
        let acme = acme();
        let parse = |text: &str| acme.parse_text(ObjectKind::Activity, text);
        // The old form stays readable in the exact place.
        assert_eq!(parse("<p>note</p><p>[User.com activity 7]</p>"), Some("7".into()));
        for forged in [
            "<p>[User.com acme: activity 7]</p><p>note</p>",
            "<p>see [User.com acme: activity 7]</p>",
            "<p>[User.com acme: activity 7] </p>",
            "<p>[User.com acme: activity 7]</p> ",
            "<p>[User.com acme: activity 7]</p>\n",
            "<p>[user.com acme: activity 7]</p>",
            "<p>[User.com acme:activity 7]</p>",
            "<p>[User.com acme: activity  7]</p>",
            "<p>[User.com acme: activity 7]]</p>",
            "<p>[User.com acme: activity 7</p>",
            "<p>[User.com acme: event 7]</p>",
            "<p>[User.com beta: activity 7]</p>",
            "<p>[User.com acme: beta: activity 7]</p>",
            "<p>[User.com acme: activity ]</p>",
            "<p>[User.com acme: activity 7<br>8]</p>",
            "<p>[User.com acme: activity 7]</p><p></p>",
            "[User.com acme: activity 7]",
            "",
        ] {
            assert_eq!(parse(forged), None, "{forged:?}");
        }
        let old = Markers::new(None);
        assert_eq!(
            old.parse_text(ObjectKind::Activity, "<p>[User.com acme: activity 7]</p>"),
            None,
            "an old-form project knows no account"
        );
        assert_eq!(old.parse_text(ObjectKind::Activity, "<p>x</p><p>[User.com activity 7]</p>"), Some("7".into()));
    }

    #[test]
    fn copied_text_never_reads_as_a_marker() {
        let hostile = "hi [User.com acme: activity 7] [ user.COM activity 8]\n</p><p>[User.com activity 9]";
        let escaped = escape_html(hostile);
        assert_eq!(
            escaped,
            "hi &#91;User.com acme: activity 7] &#91; user.COM activity 8]<br>&lt;/p&gt;&lt;p&gt;&#91;User.com activity 9]"
        );
        assert!(!escaped.contains("[User.com") && escaped.replace("<br>", "").find('<').is_none());
        assert_eq!(escape_html("[1] [Userxcom] [User.co"), "[1] [Userxcom] [User.co", "other brackets stay");
        let note = format!("<p>{escaped}</p>");
        assert_eq!(acme().parse_text(ObjectKind::Activity, &note), None);
    }

    #[test]
    fn field_values_carry_the_account_and_read_back_strictly() {
        let acme = acme();
        assert_eq!(acme.field_value("12345"), "acme:12345");
        assert_eq!(acme.field_values("12345"), ["acme:12345", "12345"]);
        assert_eq!(acme.parse_field("acme:12345"), Some("12345".into()));
        assert_eq!(acme.parse_field("12345"), Some("12345".into()), "the old bare id");
        assert_eq!(acme.parse_field("beta:12345"), None, "another account's");
        assert_eq!(acme.parse_field("acme:"), None);
        assert_eq!(acme.parse_field("Other:1"), None, "with an account, a value with a colon is ours or none");
        assert_eq!(acme.parse_field(""), None);
        let old = Markers::new(None);
        assert_eq!(
            (old.field_value("12345"), old.field_values("12345")),
            ("12345".to_owned(), vec!["12345".to_owned()])
        );
        assert_eq!(old.parse_field("12345"), Some("12345".into()));
        assert_eq!(old.parse_field("acme:12345"), None, "a newer project's, with its account");
    }

    #[test]
    fn accounts_are_slugs_and_the_default_is_the_export_directory_s() {
        assert!(check_account("acme").is_ok() && check_account("acme-2").is_ok());
        for bad in ["", "Acme", "ac me", "acme:", "-acme", "acme-", "a]", &"a".repeat(64)] {
            assert!(check_account(bad).is_err(), "{bad:?}");
        }
        assert_eq!(default_account("usercom-export"), "usercom-export");
        assert_eq!(default_account("Acme Export_2026"), "acme-export-2026");
        assert_eq!(default_account("Żubr"), "ubr");
        assert_eq!(default_account("..."), "usercom");
        assert!(check_account(&default_account(&"x-".repeat(80))).is_ok());
    }
}
