"""Whitespace as Rust's `char::is_whitespace` sees it, so that this plugin trims, splits and
collapses exactly where clean-basic does (Python's `str.isspace` and `str.split` also take
U+001C..U+001F as whitespace, and `str.splitlines` splits on more than a line feed)."""

import re

# Unicode's White_Space property: what `char::is_whitespace` answers true for.
WHITESPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680" + "".join(map(chr, range(0x2000, 0x200B))) + "\u2028\u2029\u202f\u205f\u3000"

_RUN = re.compile("[" + re.escape(WHITESPACE) + "]+")
# Anything but a single inner space: another whitespace character or a run of spaces.
_SINGLE_LINE_ABNORMAL = re.compile("[" + re.escape(WHITESPACE.replace(" ", "")) + "]|  ")
# As above, but a line feed is allowed when no space comes before it.
_MULTILINE_ABNORMAL = re.compile("[" + re.escape(WHITESPACE.replace(" ", "").replace("\n", "")) + "]|  | \n")


def trim(text):
    """Rust's `str::trim`."""
    return text.strip(WHITESPACE)


def collapse(text):
    """Every run of whitespace made one space, none at either end."""
    return _RUN.sub(" ", text).strip(" ")


def _is_normal(text, multiline):
    if not text:
        return True
    first, last = text[0], text[-1]
    if first == " " or last == " " or (multiline and (first == "\n" or last == "\n")):
        return False
    abnormal = _MULTILINE_ABNORMAL if multiline else _SINGLE_LINE_ABNORMAL
    return abnormal.search(text) is None


def normalize(text, multiline):
    """The normalized text, or None when `text` is already normal. Single-line fields collapse
    every run of whitespace (line breaks too) into one space; multi-line fields keep their line
    breaks and lose the whitespace runs on each line (as clean-basic's `whitespace::normalize`:
    a line may keep a leading space, which clean-basic does not see as abnormal)."""
    if _is_normal(text, multiline):
        return None
    if not multiline:
        return collapse(text)
    # Rust's `str::lines`: split at "\n", no last empty line when the text ends with one (a
    # "\r" before the "\n" is whitespace, which `collapse` removes anyway).
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return "\n".join(collapse(line) for line in lines).strip("\n")
