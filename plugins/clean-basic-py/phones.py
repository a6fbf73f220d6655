"""Phone numbers to E.164 (`+48501234567`), with a default country for national numbers: the
rules of clean-basic's `phone.rs`."""

from text import trim


class Country:
    """A country a national number may be written in: calling code, trunk prefix, and the
    length of its national significant numbers."""

    def __init__(self, code, calling_code, trunk_prefix, national_digits):
        self.code = code
        self.calling_code = calling_code
        self.trunk_prefix = trunk_prefix
        self.national_digits = national_digits


COUNTRIES = [
    Country("PL", "48", "", (9, 9)),
    Country("DE", "49", "0", (6, 13)),
    Country("GB", "44", "0", (9, 10)),
    Country("IE", "353", "0", (7, 9)),
    Country("US", "1", "1", (10, 10)),
    Country("CA", "1", "1", (10, 10)),
    Country("FR", "33", "0", (9, 9)),
    Country("ES", "34", "", (9, 9)),
    Country("IT", "39", "", (6, 11)),
    Country("NL", "31", "0", (9, 9)),
    Country("BE", "32", "0", (8, 9)),
    Country("AT", "43", "0", (4, 13)),
    Country("CH", "41", "0", (9, 9)),
    Country("CZ", "420", "", (9, 9)),
    Country("SK", "421", "0", (9, 9)),
    Country("UA", "380", "0", (9, 9)),
    Country("LT", "370", "8", (8, 8)),
    Country("SE", "46", "0", (7, 9)),
    Country("DK", "45", "", (8, 8)),
    Country("NO", "47", "", (8, 8)),
    Country("PT", "351", "", (9, 9)),
]

_DIGITS = frozenset("0123456789")
_SEPARATORS = frozenset(" -.()/")


def country(code):
    """The country for an ISO 3166 alpha-2 code, any ASCII case; None when unknown."""
    code = trim(code)
    if not code.isascii():
        return None
    return next((country for country in COUNTRIES if country.code == code.upper()), None)


def to_e164(raw, default_country):
    """The number in E.164, or None when it cannot be one: letters, an extension, too few or
    too many digits."""
    raw = trim(raw)
    if raw.startswith("+"):
        international, rest = True, raw[1:]
    elif raw.startswith("00"):
        international, rest = True, raw[2:]
    else:
        international, rest = False, raw
    digits = []
    for ch in rest:
        if ch in _DIGITS:
            digits.append(ch)
        elif ch not in _SEPARATORS:
            return None
    digits = "".join(digits)
    if international:
        valid = 8 <= len(digits) <= 15 and not digits.startswith("0")
        return "+" + digits if valid else None
    minimum, maximum = default_country.national_digits
    national = digits
    prefix = default_country.trunk_prefix
    if prefix and digits.startswith(prefix) and len(digits) - len(prefix) >= minimum:
        national = digits[len(prefix):]
    if minimum <= len(national) <= maximum and not national.startswith("0"):
        return "+" + default_country.calling_code + national
    return None
