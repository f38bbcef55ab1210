"""Reading the settings YAML into plain values that remember where they came from.

`read_yaml` composes the YAML node tree (PyYAML's safe resolver) and builds plain Python
values from it by hand, so that:

- every key and list item keeps its 1-based source line (`YamlDocument.lines`), for
  error messages that point at the file;
- a number written unquoted with a fraction or an exponent (`0.1`, `1.5e3`) never becomes
  a binary float: it becomes a `YamlNumber`, a `Decimal` built from the exact source text.
  Fields that hold money refuse a `YamlNumber` and ask for a quoted string instead (see
  `harvestd.settings`); ratios accept it, exactly;
- an unquoted `0x...` stays a string (YAML 1.1 would read an address as a hex integer);
- dates and times stay the strings they were written as; mapping keys are always strings
  (the key's source text: `yes:` is the key "yes", not True);
- `${VAR}` (and `${VAR:-default}`) in a string is replaced from the environment; `$${`
  writes a literal `${`. Which keys were interpolated, and from which variables, is kept
  (`env_vars`), so the secret check knows a credential came from the environment;
- duplicate keys, unset variables and unsupported tags are collected as problems instead
  of being silently resolved.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Final

import yaml

from harvestd.errors import ConfigFileUnreadable, ConfigProblem

KeyPath = tuple[str | int, ...]

ENV_REF_RE: Final = re.compile(r"\$(\$)?\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

_STR_TAG: Final = "tag:yaml.org,2002:str"
_INT_TAG: Final = "tag:yaml.org,2002:int"
_FLOAT_TAG: Final = "tag:yaml.org,2002:float"
_BOOL_TAG: Final = "tag:yaml.org,2002:bool"
_NULL_TAG: Final = "tag:yaml.org,2002:null"
_TIMESTAMP_TAG: Final = "tag:yaml.org,2002:timestamp"
_MAX_DEPTH: Final = 64


class YamlNumber(Decimal):
    """A number written unquoted in YAML with a fraction or exponent, kept exact as Decimal."""

    __slots__ = ()


def dotted(path: KeyPath) -> str:
    """The dotted form of a key path: `("chains", 0, "rpc_url")` -> `chains.0.rpc_url`."""
    return ".".join(str(part) for part in path)


@dataclass(slots=True)
class YamlDocument:
    """A YAML file as plain values, with source lines and interpolation records per key."""

    root: object
    lines: dict[KeyPath, int] = field(default_factory=dict)
    texts: dict[KeyPath, str] = field(default_factory=dict)
    env_vars: dict[KeyPath, tuple[str, ...]] = field(default_factory=dict)
    unresolved: set[KeyPath] = field(default_factory=set)
    reported: set[KeyPath] = field(default_factory=set)
    """Keys already reported (unset variable, inline secret): later checks skip them."""
    problems: list[ConfigProblem] = field(default_factory=list)

    def line_of(self, path: KeyPath) -> int | None:
        """The line of `path`, or of its nearest ancestor that exists in the file."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None


def read_yaml(text: str, path: Path, environ: Mapping[str, str]) -> YamlDocument:
    """Build plain values from YAML text, recording lines and `${VAR}` interpolations.

    Raises:
        ConfigFileUnreadable: the text is not valid YAML, holds several documents, or is
            not a mapping at the top.
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        reason = f"valid YAML ({exc.problem or exc.context or 'unreadable'})"
        raise ConfigFileUnreadable(path, f"expected {reason}", line) from exc
    except yaml.YAMLError as exc:
        raise ConfigFileUnreadable(path, f"expected valid YAML ({exc})") from exc
    if node is None:
        raise ConfigFileUnreadable(path, "expected a YAML mapping of settings, got an empty file")
    if not isinstance(node, yaml.MappingNode):
        raise ConfigFileUnreadable(
            path, "expected a YAML mapping of settings at the top", node.start_mark.line + 1
        )
    doc = YamlDocument(root=None)
    builder = _Builder(doc, environ)
    doc.root = builder.build(node, ())
    return doc


class _Builder:
    """Turns a composed node tree into plain values, filling a `YamlDocument` on the way."""

    def __init__(self, doc: YamlDocument, environ: Mapping[str, str]) -> None:
        self._doc = doc
        self._environ = environ
        self._constructor = yaml.SafeLoader("")

    def build(self, node: yaml.Node, path: KeyPath) -> object:
        if len(path) > _MAX_DEPTH:
            self._problem(path, None, "a structure less than 64 levels deep")
            return None
        self._doc.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            return self._build_mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, index)) for index, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        return self._build_scalar(node, path)

    def _build_mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, object]:
        out: dict[str, object] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self._doc.problems.append(
                    ConfigProblem(
                        key=dotted(path),
                        line=key_node.start_mark.line + 1,
                        value=None,
                        expected="keys to be plain names, got a mapping or list as a key",
                    )
                )
                continue
            key = str(key_node.value)
            child: KeyPath = (*path, key)
            if key in out:
                self._doc.problems.append(
                    ConfigProblem(
                        key=dotted(child),
                        line=key_node.start_mark.line + 1,
                        value=None,
                        expected=(
                            "each key once; this key is repeated (first on line "
                            f"{self._doc.lines.get(child)})"
                        ),
                    )
                )
                continue
            self._doc.lines[child] = key_node.start_mark.line + 1
            out[key] = self.build(value_node, child)
        return out

    def _build_scalar(self, node: yaml.ScalarNode, path: KeyPath) -> object:
        text = str(node.value)
        self._doc.texts[path] = text
        tag = node.tag
        if tag == _STR_TAG:
            return self._interpolate(text, path)
        if tag == _NULL_TAG:
            return None
        if tag == _BOOL_TAG:
            return bool(self._constructor.construct_yaml_bool(node))
        if tag == _INT_TAG:
            if text.lower().startswith(("0x", "-0x", "+0x")):
                return text
            value: object = self._constructor.construct_yaml_int(node)
            return value
        if tag == _FLOAT_TAG:
            try:
                number = YamlNumber(text.replace("_", ""))
            except InvalidOperation:
                return text  # .inf, .nan, 1:30.5 - left as text; number fields refuse it
            return number if number.is_finite() else text
        if tag == _TIMESTAMP_TAG:
            return text
        self._problem(path, text, f"a plain value; the YAML tag {tag!r} is not supported")
        return text

    def _interpolate(self, text: str, path: KeyPath) -> str:
        if "${" not in text:
            return text
        names: list[str] = []
        missing: list[str] = []

        def replace(match: re.Match[str]) -> str:
            escaped, name, default = match.group(1), match.group(2), match.group(3)
            if escaped:
                return match.group(0)[1:]
            names.append(name)
            found = self._environ.get(name)
            if found is not None and found != "":
                return found
            if default is not None:
                return default
            missing.append(name)
            return ""

        result = ENV_REF_RE.sub(replace, text)
        if names:
            self._doc.env_vars[path] = tuple(names)
        if missing:
            self._doc.unresolved.add(path)
            self._doc.reported.add(path)
            unset = ", ".join(missing)
            self._problem(path, text, f"the environment variable(s) {unset} to be set")
        return result

    def _problem(self, path: KeyPath, value: str | None, expected: str) -> None:
        self._doc.problems.append(
            ConfigProblem(
                key=dotted(path), line=self._doc.line_of(path), value=value, expected=expected
            )
        )
