"""Salesforce record ids: a three-character key prefix naming the object, a body, and the
three-character checksum that makes the case-sensitive 15-character id safe case-insensitively
(18 characters, what the API returns)."""

from __future__ import annotations

import re

# Digits before letters, so ids made in sequence sort in the order they were made.
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_ID = re.compile(r"[0-9A-Za-z]{15}(?:[0-9A-Z]{3})?")


def _checksum(id15: str) -> str:
    """One character per five: bit i is set where character i is an upper-case letter."""
    suffix = ""
    for chunk in range(3):
        bits = sum(1 << i for i, c in enumerate(id15[chunk * 5 : chunk * 5 + 5]) if "A" <= c <= "Z")
        suffix += _SUFFIX[bits]
    return suffix


def make_id(prefix: str, n: int) -> str:
    """The 18-character id of the `n`th record with key prefix `prefix` (e.g. '00Q', Lead)."""
    body = ""
    while n:
        n, digit = divmod(n, 62)
        body = _BASE62[digit] + body
    id15 = f"{prefix}RO{body.rjust(10, '0')}"
    return id15 + _checksum(id15)


def normalize(value: str) -> str | None:
    """The 18-character form of a 15-character id, or of an 18-character one in any case (its
    suffix says which letters are upper-case); None if `value` is not an id."""
    if not _ID.fullmatch(value.upper() if len(value) == 18 else value):
        return None
    if len(value) == 15:
        return value + _checksum(value)
    suffix = value[15:].upper()
    chars = list(value[:15].lower())
    for chunk, mark in enumerate(suffix):
        bits = _SUFFIX.index(mark)
        for i in range(5):
            if bits >> i & 1:
                chars[chunk * 5 + i] = chars[chunk * 5 + i].upper()
    id15 = "".join(chars)
    return id15 + suffix if _checksum(id15) == suffix else None
