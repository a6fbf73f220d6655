"""clean-basic in Python: the same options, rules, outcomes and messages as the Rust plugin
(`plugins/clean-basic`), over records decoded by `app.py`.

- every text field: trimmed, runs of whitespace (tabs, no-break spaces) made one space;
  fields listed in `multiline_fields` keep their line breaks;
- emails lower-cased; an invalid one rejects the record (it goes to quarantine);
- phones normalized to E.164 using `default_country` for national numbers;
- records whose email domain is listed in `drop_email_domains` are dropped (test and
  internal accounts), subdomains included;
- an empty `name` is filled from `first_name` and `last_name`.
"""

import emails
import phones
from letters import is_uppercase
from text import normalize, trim

NAME = "clean-basic-py"
VERSION = "0.1.0"
DESCRIPTION = (
    "clean-basic written in Python: trims whitespace, lower-cases and validates emails, normalizes phones to "
    "E.164, drops test accounts, fills names"
)
# (key, description, default), as clean-basic declares them.
OPTIONS = [
    ("default_country", "ISO 3166 alpha-2 country for phone numbers written without a country code", "PL"),
    ("email_fields", "comma-separated fields holding email addresses", "email"),
    ("phone_fields", "comma-separated fields holding phone numbers", "phone_number,phone"),
    ("multiline_fields", "comma-separated text fields whose line breaks are kept",
     "description,notes,note,message,content,body"),
    ("drop_email_domains", "comma-separated email domains whose records are dropped (test and internal accounts)", ""),
    ("invalid_phone", "keep, clear or reject a phone that cannot be normalized", "keep"),
]
INVALID_PHONE = ("keep", "clear", "reject")


class ConfigError(Exception):
    def __init__(self, key, message):
        super().__init__(key, message)
        self.key = key
        self.message = message


class Text:
    """A text value, told apart from the other kinds (which this plugin passes through)."""

    __slots__ = ("text",)

    def __init__(self, text):
        self.text = text

    def __eq__(self, other):
        return isinstance(other, Text) and other.text == self.text


class Other:
    """A value that is not text: null, a number, a date... `empty` as the SDK's `Value::is_empty`."""

    __slots__ = ("empty",)

    def __init__(self, empty):
        self.empty = empty


NULL = Other(True)


def _list(value):
    """A comma-separated list: items trimmed, empty items left out."""
    return [item for item in (trim(part) for part in value.split(",")) if item]


def configure(pairs):
    """The cleaner for the customer's (key, value) pairs; a ConfigError names a bad key."""
    values = {key: default for key, _, default in OPTIONS}
    for key, value in pairs:
        if key not in values:
            known = ", ".join(option[0] for option in OPTIONS)
            raise ConfigError(key, f"unknown option for plugin {NAME}; it accepts: {known}")
        values[key] = value
    return Cleaner(values)


class Cleaner:
    def __init__(self, values):
        country_code = values["default_country"]
        self.default_country = phones.country(country_code)
        if self.default_country is None:
            raise ConfigError(
                "default_country",
                f"unknown country '{country_code}'; use an ISO 3166 alpha-2 code such as PL, DE, GB, US",
            )
        self.invalid_phone = trim(values["invalid_phone"])
        if self.invalid_phone not in INVALID_PHONE:
            raise ConfigError(
                "invalid_phone", f"expected one of {', '.join(INVALID_PHONE)}, got '{self.invalid_phone}'"
            )
        self.drop_email_domains = [domain.lstrip("@").lower() for domain in _list(values["drop_email_domains"])]
        for domain in self.drop_email_domains:
            if not emails.is_valid_domain(domain):
                raise ConfigError("drop_email_domains", f"'{domain}' is not a domain")
        self.email_fields = _list(values["email_fields"])
        self.phone_fields = _list(values["phone_fields"])
        self.multiline_fields = frozenset(_list(values["multiline_fields"]))

    def clean(self, columns, index, values):
        """One record's outcome: ("keep", [(field, new value)]), ("drop", reason) or
        ("reject", [(field, message)]). `values` (one per column) is changed in place; `index`
        maps a field to its first column. Changes are listed in column order, a field the record
        lacked (a filled `name`) last, as the SDK's `Record::changes` lists them."""
        changed = set()
        for position, (field, value) in enumerate(zip(columns, values)):
            if type(value) is Text:
                text = value.text
                new_text = normalize(text, "\n" in text and field in self.multiline_fields)
                if new_text is not None and new_text != text:
                    values[position] = Text(new_text)
                    changed.add(position)

        def text_of(field):
            position = index.get(field)
            value = None if position is None else values[position]
            return value.text if type(value) is Text else None

        def set_field(field, value):
            position = index[field]
            if values[position] != value:
                values[position] = value
                changed.add(position)

        issues = []
        for field in self.email_fields:
            email = text_of(field)
            if not email:
                continue
            # Only an email with an upper-case letter is lowered (a title-case letter is not
            # upper-case, and Rust's clean-basic leaves it as it is).
            lowered = email.lower()
            if lowered == email or not any(is_uppercase(ch) for ch in email):
                lowered = None
            email = lowered or email
            if not emails.is_valid(email):
                issues.append((field, f"'{email}' is not a valid email address"))
                continue
            domain = email.rpartition("@")[2]
            for listed in self.drop_email_domains:
                if emails.domain_matches(domain, listed):
                    return ("drop", f"{field} domain {domain} is on drop_email_domains ({listed})")
            if lowered is not None:
                set_field(field, Text(lowered))

        for field in self.phone_fields:
            phone = text_of(field)
            if not phone:
                continue
            e164 = phones.to_e164(phone, self.default_country)
            if e164 is not None:
                set_field(field, Text(e164))
            elif self.invalid_phone == "clear":
                set_field(field, NULL)
            elif self.invalid_phone == "reject":
                issues.append((field, f"'{phone}' is not a phone number that can be written as E.164"))

        if issues:
            return ("reject", issues)

        changes = [(columns[position], values[position]) for position in sorted(changed)]
        position = index.get("name")
        name = None if position is None else values[position]
        name_is_empty = name is None or (trim(name.text) == "" if type(name) is Text else name.empty)
        if name_is_empty:
            full = trim(f"{text_of('first_name') or ''} {text_of('last_name') or ''}")
            if full:
                if position is None:
                    changes.append(("name", Text(full)))
                else:
                    set_field("name", Text(full))
                    changes = [(columns[position], values[position]) for position in sorted(changed)]
        return ("keep", changes)
