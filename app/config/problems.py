"""ConfigProblem and ConfigError: what is wrong with a configuration, each problem naming its field."""

from __future__ import annotations

from dataclasses import dataclass

# C0 and C1 control characters and DEL, written as escapes (`\n`, `\x1b`) wherever a problem is shown.
_CONTROLS = {code: ascii(chr(code))[1:-1] for code in (*range(0x20), *range(0x7F, 0xA0))}


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One thing wrong with the configuration: where (a dotted field path, a file, a variable) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        text = f"{self.path}: {self.message}" if self.path else self.message
        return text.translate(_CONTROLS)  # a name or value with a newline must not start a line of its own


class ConfigError(Exception):
    """The configuration cannot be used; `entries` names each problem's field, `problems` words them."""

    def __init__(self, entries: list[ConfigProblem]) -> None:
        super().__init__("\n".join(map(str, entries)))
        self.entries = entries

    @property
    def problems(self) -> list[str]:
        return [str(entry) for entry in self.entries]
