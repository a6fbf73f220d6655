"""Letters, digits and upper case as Rust's `char` methods answer them (clean-basic validates
emails with them): ASCII directly, the rest from `unicode_tables.py`, generated from Rust."""

from bisect import bisect_right

from unicode_tables import ALPHABETIC, ALPHANUMERIC, UPPERCASE


def _within(table, ch):
    # The tables list where the property turns on, then off: inside after an odd count.
    return bisect_right(table, ord(ch)) % 2 == 1


def is_alphanumeric(ch):
    return ch.isalnum() if ch.isascii() else _within(ALPHANUMERIC, ch)


def is_alphabetic(ch):
    return ch.isalpha() if ch.isascii() else _within(ALPHABETIC, ch)


def is_uppercase(ch):
    return ch.isupper() if ch.isascii() else _within(UPPERCASE, ch)
