"""Turning everything wrong with a settings file into `ConfigProblem`s.

Three sources, all collected before anything is raised, so one run reports them all:

1. the loader's own findings (`YamlDocument.problems`: duplicate keys, unset `${VAR}`s);
2. checks on the raw values that do not depend on the schema passing
   (`collect_raw_problems`): secrets written inline, and token symbols referenced by
   `strategy` and `execution` that no chain configures;
3. pydantic's validation errors (`translate_validation_error`), each mapped back from its
   pydantic location to the dotted key and YAML line, with a "did you mean" for unknown
   keys and a plain-words "expected" for each error type. Model-level checks that name
   several fields at once arrive as one `FIELD_PROBLEMS` error and are expanded here.

Values are shown as written in the file, with secrets redacted; a value that came from
`${VAR}` is shown as the `${VAR}` reference, never as the variable's content.
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Iterable, Sequence
from typing import Annotated, Any, Final, Literal, Union, get_args, get_origin
from urllib.parse import urlsplit

from pydantic import BaseModel, Tag, ValidationError

from harvestd.errors import ConfigProblem
from harvestd.settings_secrets import (
    PRIVATE_KEY_RE,
    REDACTED,
    redact_text,
    url_credentials,
)
from harvestd.settings_yaml import ENV_REF_RE, KeyPath, YamlDocument, dotted

FIELD_PROBLEMS: Final = "harvestd_fields"
"""Error type of a model check that names its own fields (`harvestd.settings._FieldChecks`)."""

SECRET_KEY_NAMES: Final = frozenset(
    {
        "private_key",
        "privatekey",
        "password",
        "passphrase",
        "secret",
        "mnemonic",
        "seed",
        "seed_phrase",
        "api_key",
        "apikey",
    }
)
_DATABASE_URL: Final[KeyPath] = ("database", "url")
_SIMPLE_EXPECTED: Final = {
    "int_parsing": "a whole number",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "int_fractional": "a whole number",
    "bool_parsing": "true or false",
    "bool_type": "true or false",
    "string_type": "a string",
    "decimal_parsing": 'a decimal number (e.g. "0.25")',
    "decimal_type": 'a decimal number (e.g. "0.25")',
    "model_type": "a mapping of keys",
    "model_attributes_type": "a mapping of keys",
    "dict_type": "a mapping of keys",
    "tuple_type": "a list",
    "list_type": "a list",
    "path_type": "a file path",
}


# --------------------------------------------------------------------- raw-value checks


def collect_raw_problems(doc: YamlDocument) -> list[ConfigProblem]:
    """The loader's problems plus inline secrets and unknown token references in `doc`."""
    problems = list(doc.problems)
    problems.extend(_inline_secret_problems(doc))
    problems.extend(_reference_problems(doc))
    return problems


def _inline_secret_problems(doc: YamlDocument) -> list[ConfigProblem]:
    found: list[ConfigProblem] = []
    for path, text in doc.texts.items():
        literal = ENV_REF_RE.sub("", text)
        name = str(path[-1]).lower() if path else ""
        expected: str | None = None
        if PRIVATE_KEY_RE.search(literal):
            expected = (
                "no private key in the file: give the signing key as execution.key "
                "{env: VAR} or {keystore: FILE, password_env: VAR}"
            )
        elif name in SECRET_KEY_NAMES and literal.strip():
            expected = "no secret in the file: secrets come from ${ENV_VAR} or a keystore"
        elif "://" in literal:
            if path == _DATABASE_URL:
                has_secret = bool(_safe_password(literal))
            else:
                has_secret = bool(url_credentials(literal))
            if has_secret:
                expected = (
                    "no credentials written in the URL: write the URL, or its secret part, "
                    "as ${ENV_VAR}"
                )
        if expected is not None:
            doc.reported.add(path)
            found.append(_problem(doc, path, _display(doc, path, None), expected))
    return found


def _safe_password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def _reference_problems(doc: YamlDocument) -> list[ConfigProblem]:
    root = doc.root
    if not isinstance(root, dict) or not isinstance(root.get("chains"), list):
        return []
    symbols: set[str] = set()
    for chain in root["chains"]:
        if not isinstance(chain, dict):
            continue
        native = chain.get("native_symbol", "ETH")
        if isinstance(native, str):
            symbols.add(native)
        tokens = chain.get("tokens")
        if isinstance(tokens, list):
            symbols.update(
                t["symbol"]
                for t in tokens
                if isinstance(t, dict) and isinstance(t.get("symbol"), str)
            )
    refs: list[tuple[KeyPath, object]] = []
    harvest = _dig(root, ("strategy", "harvest", "substitutes"))
    if isinstance(harvest, dict):
        for asset, substitute in harvest.items():
            refs.append((("strategy", "harvest", "substitutes", asset), asset))
            refs.append((("strategy", "harvest", "substitutes", asset), substitute))
    targets = _dig(root, ("strategy", "rebalance", "targets"))
    if isinstance(targets, dict):
        refs.extend((("strategy", "rebalance", "targets", a), a) for a in targets)
    allowed = _dig(root, ("execution", "allowed_tokens"))
    if isinstance(allowed, list):
        refs.extend(((("execution", "allowed_tokens", i), s) for i, s in enumerate(allowed)))
    expected = "a token symbol configured on a chain (" + ", ".join(sorted(symbols)) + ")"
    return [
        _problem(doc, path, str(symbol), expected)
        for path, symbol in refs
        if isinstance(symbol, str) and symbol not in symbols
    ]


def _dig(root: object, path: KeyPath) -> object:
    for part in path:
        if not isinstance(root, dict) or part not in root:
            return None
        root = root[part]
    return root


# ---------------------------------------------------------------- pydantic translation


def translate_validation_error(
    exc: ValidationError, doc: YamlDocument, root_model: type[BaseModel]
) -> list[ConfigProblem]:
    """One `ConfigProblem` per pydantic error in `exc` (expanding multi-field checks)."""
    problems: list[ConfigProblem] = []
    errors = exc.errors(include_url=False)
    locs = [tuple(error["loc"]) for error in errors]
    for error in errors:
        loc = tuple(error["loc"])
        kind = error["type"]
        ctx: dict[str, Any] = dict(error.get("ctx") or {})
        if kind == "too_short" and any(len(o) > len(loc) and o[: len(loc)] == loc for o in locs):
            continue  # "0 items after validation": the items' own errors say why
        if kind == FIELD_PROBLEMS:
            base = _real_path(loc, doc.root)
            for sub, value, expected in ctx["fields"]:
                path = _real_path(sub, _dig(doc.root, base), base)
                if _already_reported(doc, path):
                    continue
                shown = None if value is None else _display(doc, path, value)
                problems.append(_problem(doc, path, shown, expected))
            continue
        path = _real_path(loc, doc.root)
        if _already_reported(doc, path):
            continue
        if kind == "missing":
            field = _field_at(root_model, loc)
            description = field.description if field is not None else None
            problems.append(
                _problem(doc, path, None, f"missing, expected {description or 'a value'}")
            )
        elif kind == "extra_forbidden":
            model = _model_at(root_model, loc[:-1])
            candidates = sorted(model.model_fields) if model is not None else []
            problems.append(_problem(doc, path, None, _unknown_key(str(loc[-1]), candidates)))
        elif kind in ("union_tag_invalid", "union_tag_not_found"):
            discriminator = str(ctx.get("discriminator", "source")).strip("'")
            tag_path = (*path, discriminator)
            tags = str(ctx.get("expected_tags", "")) or _union_tags(root_model, loc)
            if kind == "union_tag_not_found":
                problems.append(_problem(doc, tag_path, None, f"missing, expected one of {tags}"))
            else:
                shown = _display(doc, tag_path, ctx.get("tag"))
                problems.append(_problem(doc, tag_path, shown, f"one of {tags}"))
        else:
            expected = _expected(kind, ctx, error["msg"])
            problems.append(_problem(doc, path, _display(doc, path, error.get("input")), expected))
    return problems


def finalise_problems(
    problems: Iterable[ConfigProblem], doc: YamlDocument
) -> tuple[ConfigProblem, ...]:
    """Problems without duplicates, in file order (line, then key)."""
    del doc
    unique = dict.fromkeys(problems)
    return tuple(sorted(unique, key=lambda p: (p.line if p.line is not None else 0, p.key)))


def _already_reported(doc: YamlDocument, path: KeyPath) -> bool:
    return any(path[:end] in doc.reported for end in range(len(path) + 1))


def _unknown_key(key: str, candidates: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, candidates, n=1, cutoff=0.6)
    if not close:
        close = [c for c in candidates if c.startswith(key) or key.startswith(c)][:1]
    if close:
        return f"unknown key, did you mean {close[0]!r}?"
    if candidates:
        return f"unknown key, expected one of: {', '.join(candidates)}"
    return "unknown key"


def _expected(kind: str, ctx: dict[str, Any], msg: str) -> str:
    for bound, sign in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
        if bound in ctx and kind.endswith(("_equal", "greater_than", "less_than")):
            return f"a value {sign} {ctx[bound]}"
    if kind == "too_short":
        return f"at least {ctx.get('min_length')} item(s)"
    if kind == "too_long":
        return f"at most {ctx.get('max_length')} item(s)"
    if kind in ("enum", "literal_error"):
        return f"one of {ctx.get('expected')}"
    if kind in _SIMPLE_EXPECTED:
        return _SIMPLE_EXPECTED[kind]
    if kind == "value_error":
        return msg.removeprefix("Value error, ")
    return msg[:1].lower() + msg[1:] if msg else kind


def _problem(doc: YamlDocument, path: KeyPath, value: str | None, expected: str) -> ConfigProblem:
    return ConfigProblem(key=dotted(path), line=doc.line_of(path), value=value, expected=expected)


def _display(doc: YamlDocument, path: KeyPath, value: object) -> str:
    if path and str(path[-1]).lower() in SECRET_KEY_NAMES:
        return REDACTED
    if path in doc.texts:
        # A ${VAR} reference is shown as written, never as the variable's content.
        return redact_text(doc.texts[path])
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if value is None:
        return "null"
    return redact_text(str(value))


def _real_path(loc: Sequence[str | int], root: object, prefix: KeyPath = ()) -> KeyPath:
    """Map a pydantic location onto keys that exist in the file.

    Pydantic inserts names that are not keys (a union member's tag, `[key]` for a dict
    key); they are skipped. The last element is kept when absent, since that is how a
    missing key is reported.
    """
    path: list[str | int] = list(prefix)
    current = root
    for index, element in enumerate(loc):
        if _has_child(current, element):
            path.append(element)
            current = current[element]  # type: ignore[index]
        elif (
            index == len(loc) - 1
            and isinstance(element, str)
            and not element.startswith(("[", "function-"))
            and isinstance(current, dict)
        ):
            path.append(element)
    return tuple(path)


def _has_child(current: object, element: str | int) -> bool:
    if isinstance(current, dict):
        return isinstance(element, str) and element in current
    if isinstance(current, list):
        return isinstance(element, int) and 0 <= element < len(current)
    return False


# ------------------------------------------------------------------ walking model types


def _strip(annotation: object) -> object:
    """Remove `Annotated` and `None` arms until a model, container or real union is left."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
            continue
        if origin in (Union, types.UnionType):
            arms = [a for a in get_args(annotation) if a is not type(None)]
            if len(arms) == 1:
                annotation = arms[0]
                continue
        return annotation


def _arm_for_tag(annotation: object, tag: object) -> object | None:
    for arm in get_args(annotation):
        if get_origin(arm) is Annotated and any(
            isinstance(m, Tag) and m.tag == tag for m in get_args(arm)[1:]
        ):
            arm_type: object = arm
            return arm_type
        model = _strip(arm)
        if isinstance(model, type) and issubclass(model, BaseModel):
            source = model.model_fields.get("source")
            if (
                source is not None
                and get_origin(source.annotation) is Literal
                and tag in get_args(source.annotation)
            ):
                return model
    return None


def _walk(root_model: type[BaseModel], loc: Sequence[str | int]) -> tuple[object, Any]:
    """The annotation reached by following `loc` from `root_model`, and the last field."""
    annotation: object = root_model
    field: Any = None
    for element in loc:
        annotation = _strip(annotation)
        origin = get_origin(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(str(element))
            if field is None:
                return None, None
            annotation = field.annotation
        elif origin in (tuple, list):
            annotation = get_args(annotation)[0]
        elif origin is dict:
            if element == "[key]":
                continue
            annotation = get_args(annotation)[1]
        elif origin in (Union, types.UnionType):
            arm = _arm_for_tag(annotation, element)
            if arm is None:
                return None, None
            annotation = arm
        else:
            return None, None
    return _strip(annotation), field


def _union_tags(root_model: type[BaseModel], loc: Sequence[str | int]) -> str:
    annotation, _ = _walk(root_model, loc)
    tags: list[str] = []
    for arm in get_args(annotation):
        model = _strip(arm)
        if isinstance(model, type) and issubclass(model, BaseModel):
            source = model.model_fields.get("source")
            if source is not None and get_origin(source.annotation) is Literal:
                tags.extend(repr(tag) for tag in get_args(source.annotation))
    return ", ".join(tags) or "a known kind"


def _model_at(root_model: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    annotation, _ = _walk(root_model, loc)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def _field_at(root_model: type[BaseModel], loc: Sequence[str | int]) -> Any:
    _, field = _walk(root_model, loc)
    return field
