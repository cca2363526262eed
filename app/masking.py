"""Masking: every configured secret, and any password inside a URL, becomes `***` in text bound for people.

Outputs, observations, log lines, error messages and `vigil config show` all go through a Scrubber.
"""

from __future__ import annotations

import re
import string
from typing import Any

MASK = "***"  # what every secret reads as, whoever masks it (configured secrets here, run-time tokens in checks)


SCHEME_CHARS = frozenset(string.ascii_letters + string.digits + "+.-")
CREDENTIALS = re.compile(r"(?P<user>[^:/@\s]*):(?P<password>[^@/\s]+)@")  # after `scheme://`


def mask_url_passwords(text: str) -> str:
    """`scheme://user:password@` becomes `scheme://user:***@` (a scheme is a letter, then letters, digits, + . -).

    Found from each `://` outward rather than by one regex from every position: that regex tried each letter of a
    long run of letters as a scheme's start and read the run to its end each time, quadratic in text a target
    controls (4,000 letters took 18 ms). Here each character is read a bounded number of times."""
    if "://" not in text:
        return text
    parts: list[str] = []
    done = 0  # text[:done] is in parts
    at = text.find("://")
    while at != -1:
        start = at
        while start > done and text[start - 1] in SCHEME_CHARS:
            start -= 1
        while start < at and text[start] not in string.ascii_letters:
            start += 1  # the scheme begins with its first letter
        found = CREDENTIALS.match(text, at + 3) if start < at else None
        if found is None:
            at = text.find("://", at + 3)
            continue
        parts.append(text[done : found.start("password")])
        parts.append(MASK)
        done = found.end("password")
        at = text.find("://", found.end())
    parts.append(text[done:])
    return "".join(parts)


class Scrubber:
    """Replaces every configured secret (and URL passwords) with `***` in text bound for users."""

    def __init__(self, secrets: list[str]) -> None:
        self.secrets = [s for s in secrets if s]

    def text(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return mask_url_passwords(text)

    def data(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.data(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.data(v) for v in value]
        return value
