"""A pragmatic email check: what a CRM can send mail to, not every RFC 5322 corner. The rules
of clean-basic's `email.rs`; lengths are counted in UTF-8 bytes, and letters and digits are
Rust's (`letters.py`), as there."""

import re

from letters import is_alphabetic, is_alphanumeric

# The ASCII punctuation a local part may hold besides letters and digits.
_LOCAL_PUNCTUATION = frozenset("!#$%&'*+/=?^_`{|}~.-")
# The usual, all-ASCII case in one match instead of a call per character.
_ASCII_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.\-]*")
_ASCII_LABEL = re.compile(r"[A-Za-z0-9\-]*")


def _all_chars(text, ascii_pattern, allowed):
    if text.isascii():
        return ascii_pattern.fullmatch(text) is not None
    return all(allowed(ch) for ch in text)


def _utf8_len(text):
    return len(text) if text.isascii() else len(text.encode())


def is_valid(email):
    """`email` must already be lower-case."""
    local, at, domain = email.partition("@")
    if not at:
        return False
    return (
        0 < _utf8_len(local) <= 64
        and not local.startswith(".")
        and not local.endswith(".")
        and ".." not in local
        and _all_chars(local, _ASCII_LOCAL, lambda ch: is_alphanumeric(ch) or ch in _LOCAL_PUNCTUATION)
        and is_valid_domain(domain)
    )


def is_valid_domain(domain):
    labels = domain.split(".")
    for label in labels:
        if not label or _utf8_len(label) > 63 or label.startswith("-") or label.endswith("-"):
            return False
        if not _all_chars(label, _ASCII_LABEL, lambda ch: is_alphanumeric(ch) or ch == "-"):
            return False
    last = labels[-1]
    return (
        len(labels) >= 2
        and _utf8_len(domain) <= 253
        and _utf8_len(last) >= 2
        and (last.isalpha() if last.isascii() else all(is_alphabetic(ch) for ch in last))
    )


def domain_matches(domain, listed):
    """True when `domain` is `listed` or one of its subdomains."""
    return domain == listed or (domain.endswith(listed) and domain[: len(domain) - len(listed)].endswith("."))
