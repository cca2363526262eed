"""ConfigProblem and ConfigError: what is wrong with a configuration, each problem naming its field."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One thing wrong with the configuration: where (a dotted field path, a file, a variable) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigError(Exception):
    """The configuration cannot be used; `entries` names each problem's field, `problems` words them."""

    def __init__(self, entries: list[ConfigProblem]) -> None:
        super().__init__("\n".join(map(str, entries)))
        self.entries = entries

    @property
    def problems(self) -> list[str]:
        return [str(entry) for entry in self.entries]
