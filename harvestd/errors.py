"""The product layer's exceptions and the value that describes one configuration problem.

    HarvestdError (ledger.errors)
    └── ConfigError                   the settings cannot be used; carries every problem found
        ├── ConfigFileUnreadable      the file is missing, unreadable or not valid YAML
        ├── ConfigInvalid             the YAML parsed but breaks the schema (all problems at once)
        └── SigningKeyUnavailable     the configured key source gave no usable private key

Every `ConfigError` carries `problems`, a tuple of `ConfigProblem`; each names the dotted
key, the YAML line, the value found and what is expected, and renders as
`strategy.harvest.min_loss_usd (line 14): got '-5', expected a value >= 0`.
The CLI prints them and exits 2; nothing below the CLI prints or exits.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ledger.errors import HarvestdError


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One thing wrong with a configuration file.

    `key` is the dotted path (`chains.0.wallets.1.address`, empty for the whole file),
    `line` the 1-based YAML line (None when unknown), `value` the offending value as it
    is safe to show (secrets already redacted; None when the key is missing) and
    `expected` what would have been accepted.
    """

    key: str
    line: int | None
    value: str | None
    expected: str

    def render(self) -> str:
        """The one-line human form, e.g. `a.b (line 3): got '-5', expected a value >= 0`."""
        where = self.key or "(file)"
        if self.line is not None:
            where = f"{where} (line {self.line})"
        if self.value is None:
            return f"{where}: {self.expected}"
        return f"{where}: got {self.value!r}, expected {self.expected}"

    def __str__(self) -> str:
        return self.render()


class ConfigError(HarvestdError):
    """The configuration cannot be used; `problems` lists every reason found."""

    def __init__(self, path: Path | None, problems: tuple[ConfigProblem, ...]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(self._build_message())

    def _build_message(self) -> str:
        source = str(self.path) if self.path is not None else "configuration"
        count = len(self.problems)
        noun = "problem" if count == 1 else "problems"
        lines = [f"{source}: {count} {noun}"]
        lines.extend(f"  {problem.render()}" for problem in self.problems)
        return "\n".join(lines)


class ConfigFileUnreadable(ConfigError):
    """The file is missing, unreadable, or not a YAML mapping."""

    def __init__(self, path: Path, reason: str, line: int | None = None) -> None:
        self.reason = reason
        super().__init__(path, (ConfigProblem(key="", line=line, value=None, expected=reason),))


class ConfigInvalid(ConfigError):
    """The YAML was read but breaks the schema; every problem is listed at once."""


class SigningKeyUnavailable(ConfigError):
    """The configured key source (environment variable or keystore) gave no usable key."""

    def __init__(self, key: str, reason: str) -> None:
        self.key = key
        self.reason = reason
        super().__init__(None, (ConfigProblem(key=key, line=None, value=None, expected=reason),))
