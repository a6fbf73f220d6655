"""A pragmatic email check: what a CRM can send mail to, not every RFC 5322 corner. The rules
of clean-basic's `email.rs`; lengths are counted in UTF-8 bytes, as there."""

# The ASCII punctuation a local part may hold besides letters and digits.
_LOCAL_PUNCTUATION = frozenset("!#$%&'*+/=?^_`{|}~.-")


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
        and all(ch.isalnum() or ch in _LOCAL_PUNCTUATION for ch in local)
        and is_valid_domain(domain)
    )


def is_valid_domain(domain):
    labels = domain.split(".")
    for label in labels:
        if not label or _utf8_len(label) > 63 or label.startswith("-") or label.endswith("-"):
            return False
        if not all(ch.isalnum() or ch == "-" for ch in label):
            return False
    last = labels[-1]
    return len(labels) >= 2 and _utf8_len(domain) <= 253 and _utf8_len(last) >= 2 and last.isalpha()


def domain_matches(domain, listed):
    """True when `domain` is `listed` or one of its subdomains."""
    return domain == listed or (domain.endswith(listed) and domain[: len(domain) - len(listed)].endswith("."))
