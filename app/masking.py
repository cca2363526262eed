"""Masking: every configured secret, and any password inside a URL, becomes `***` in text bound for people.

Outputs, observations, log lines, error messages and `vigil config show` all go through a Scrubber.
"""

from __future__ import annotations

import re
from typing import Any

MASK = "***"  # what every secret reads as, whoever masks it (configured secrets here, run-time tokens in checks)


class Scrubber:
    """Replaces every configured secret (and URL passwords) with `***` in text bound for users."""

    _URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<password>[^@/\s]+)@", re.I)

    def __init__(self, secrets: list[str]) -> None:
        self.secrets = [s for s in secrets if s]

    def text(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return self._URL_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)

    def data(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {k: self.data(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.data(v) for v in value]
        return value
