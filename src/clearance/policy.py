"""Loading and validating configuration: ``clearance.yaml``, the tool registry, approvals.

A configuration error is a :class:`ConfigError` naming the file and the field path
(``clearance.yaml: stages[2].paths: expected a list``); the CLI turns it into exit code 2.
"""

from __future__ import annotations

import copy
import datetime as _dt
import difflib
import fnmatch
import hashlib
import os
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Any

from ._paths import given_path, walked_folder
from ._resources import data_file, schema
from ._yaml import (
    FIELD_NAME,
    NOT_SHOWN,
    DocumentError,
    format_path,
    load_document,
    never_shown,
    yaml_text,
)
from .model import Outcome

__all__ = [
    "ConfigError",
    "Policy",
    "StageConfig",
    "find_config",
    "load_policy",
    "default_policy",
    "utc_instant",
    "schema_errors",
    "compile_schema",
    "config_document",
    "format_path",
    "referenced_files",
    "rule_setting_errors",
    "CONFIG_NAME",
]

CONFIG_NAME = "clearance.yaml"
#: the name a configuration is often given by mistake: never read, never passed over
_MISNAMED = "clearance.yml"
DEFAULT_EXTENSIONS = (
    "exr",
    "png",
    "jpg",
    "jpeg",
    "tif",
    "tiff",
    "dpx",
    "webp",
    "mov",
    "mp4",
    "mxf",
    "wav",
    "aif",
    "aiff",
)
DEFAULT_TEMPORARY = ("*.tmp", "*.part", "*~")
ALWAYS_ON = frozenset({"PRV-01", "PRV-02", "PRV-05"})


class ConfigError(Exception):
    """A configuration that cannot be used; ``str()`` names the file and the field."""

    def __init__(self, file: str | os.PathLike[str], field: str, message: str) -> None:
        self.file = str(file)
        self.field = field
        self.message = message
        where = f"{self.file}: {field}" if field else self.file
        super().__init__(f"{where}: {message}")


# --------------------------------------------------------------------------------------
# JSON Schema validation with readable, path-named errors
# --------------------------------------------------------------------------------------

_TYPE_WORDS = {
    "array": "a list",
    "object": "a mapping",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def _type_words(expected: str | Sequence[str]) -> str:
    """A ``type`` keyword's value in words: ``["string", "null"]`` → ``a string (or null)``."""
    names = [expected] if isinstance(expected, str) else list(expected)
    words = " or ".join(_TYPE_WORDS.get(n, n) for n in names if n != "null")
    return words + " (or null)" if "null" in names else words


def _explain(error: Any) -> list[tuple[str, str]]:
    """(field path, reason) for one jsonschema ValidationError and, for a ``oneOf`` or
    ``anyOf`` no form of which matched, for the form the value nearly matches."""
    if error.validator not in ("oneOf", "anyOf") or not error.context:
        return [_describe(error)]
    from jsonschema.exceptions import relevance

    # as jsonschema.exceptions.best_match: the form with the deepest error is the one meant
    # (a tools: mapping with a typo inside), unless the forms fail alike (tools: 5)
    first, *rest = sorted(error.context, key=relevance)
    if rest and relevance(first) == relevance(rest[0]):
        if all(e.validator == "type" and not e.path for e in error.context):
            forms = " or ".join(_type_words(e.validator_value) for e in error.context)
            return [_describe(error, f"expected {forms}")]
        return [_describe(error)]
    branch = first.relative_schema_path[0]
    return [
        described
        for e in error.context
        if e.relative_schema_path[0] == branch
        for described in _explain(e)
    ]


#: The schemas' patterns, in words (a message quoting ``^[A-Za-z0-9_.-]+$`` says little)
_PATTERN_WORDS = {
    "\\S": "text that is not blank",
    "^[0-9a-fA-F]{64}$": "a SHA-256 digest (64 hexadecimal digits)",
    "^[A-Za-z0-9*?_-]+$": "a rule id or glob (letters, digits, '_', '-', '*', '?')",
    "^[A-Za-z0-9_.-]+$": "a name of letters, digits, '_', '.' and '-' only",
}


def _describe(error: Any, expected: str = "") -> tuple[str, str]:
    """(field path, reason) for one jsonschema ValidationError, in the user's words."""
    path = list(error.absolute_path)
    v = error.validator
    hidden = never_shown(path)  # prompt text: described by its type, never quoted
    got = _kind(error.instance) if hidden else _short(error.instance)
    if v == "type" or expected:
        expected = expected or f"expected {_type_words(error.validator_value)}"
        return format_path(path), f"{expected}, got {got}"
    if v == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        return format_path([*path, missing]), "required field is missing"
    if v == "additionalProperties":
        extras = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        extras = [e for e in extras if not str(e).startswith("x-")]
        if hidden and not all(FIELD_NAME.fullmatch(str(e)) for e in extras):
            # ``prompt: {a cat at dusk}`` is a mapping whose key is the prompt
            return format_path(path), f"unknown field(s) ({NOT_SHOWN})"
        name = extras[0] if len(extras) == 1 else ", ".join(map(str, extras))
        field_path = format_path([*path, name]) if len(extras) == 1 else format_path(path)
        hint = "site extensions go under 'x-' keys"
        if set(extras) & {"true", "false", "null"}:
            hint = (
                "YAML reads an unquoted yes, no, on, off, true, false or ~ key as true, false "
                "or null: quote the key ('yes':) to keep the word"
            )
        if len(extras) == 1:
            return field_path, f"unknown field {name!r} ({hint})"
        return field_path, f"unknown fields {name} ({hint})"
    if v == "enum":
        options = ", ".join(map(yaml_text, error.validator_value))
        return format_path(path), f"expected one of {options}; got {got}"
    if v == "const":
        return format_path(path), f"expected {error.validator_value!r}, got {got}"
    if v == "format":
        return format_path(path), f"expected a {error.validator_value} (YYYY-MM-DD), got {got}"
    if v == "pattern":
        words = _PATTERN_WORDS.get(error.validator_value)
        if words is not None:
            return format_path(path), f"expected {words}, got {got}"
        return format_path(path), f"{got} does not match {error.validator_value}"
    if v == "minItems":
        return format_path(path), f"expected at least {error.validator_value} item(s)"
    if v in ("oneOf", "anyOf"):
        which = "none" if error.context else "more than one"
        return format_path(path), f"matches {which} of the forms allowed here, got {got}"
    if hidden:  # jsonschema's message quotes the value
        return format_path(path), f"does not satisfy {v!r}: {got}"
    return format_path(path), error.message


def _short(value: Any) -> str:
    text = yaml_text(value) if value is None or isinstance(value, bool) else _repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _repr(value: Any, depth: int = 0) -> str:
    """``repr(value)``, but a set (YAML's ``!!set``) in one order on every run: string
    hashing differs between processes, and the message is in the audit log."""
    if depth > 20:
        return "..."
    if isinstance(value, (set, frozenset)):
        return (
            "{" + ", ".join(sorted(_repr(v, depth + 1) for v in value)) + "}" if value else "set()"
        )
    if type(value) is list:
        return "[" + ", ".join(_repr(v, depth + 1) for v in value) + "]"
    if type(value) is dict:
        inner = (f"{_repr(k, depth + 1)}: {_repr(v, depth + 1)}" for k, v in value.items())
        return "{" + ", ".join(inner) + "}"
    return repr(value)


_KIND_WORDS = {str: "a string", list: "a list", dict: "a mapping", bool: "true or false"}


def _kind(value: Any) -> str:
    """``value`` described by its type only (``a string (not shown: ...)``)."""
    if value is None:
        return "null"
    word = _KIND_WORDS.get(type(value)) or (
        "a number" if isinstance(value, (int, float)) else f"a {type(value).__name__}"
    )
    return f"{word} ({NOT_SHOWN})"


_VALIDATORS: dict[str, Any] = {}


def _validator(name: str) -> Any:
    validator = _VALIDATORS.get(name)
    if validator is None:
        import jsonschema
        from referencing import Registry, Resource

        registry: Registry = Registry()
        for other in _REFERENCED:
            doc = schema(other)
            registry = registry.with_resource(doc["$id"], Resource.from_contents(doc))
        cls = jsonschema.Draft202012Validator
        validator = cls(schema(name), registry=registry, format_checker=cls.FORMAT_CHECKER)
        _VALIDATORS[name] = validator
    return validator


_FAST: dict[str, Any] = {}
#: Shipped schemas that others refer to by ``$id`` (jsonschema's registry and jsonschema-rs's
#: retriever both serve them from the installation).
_REFERENCED = ("tools.schema.json",)


def _fast_check(schema_name: str) -> Any:
    """A compiled validator that answers "valid?" fast (raising when not), or ``None`` where
    none can stand in for jsonschema.

    jsonschema stays the authority that explains an invalid document; the fast check only
    spares it the valid ones. ``jsonschema-rs`` (about 30× faster than fastjsonschema; it
    resolves references to the other shipped schemas, so ``clearance.yaml`` and sidecars are
    checked without importing jsonschema at all) is used when installed, else
    ``fastjsonschema``. Both are given a checker for every ``format`` the shipped schemas
    use that answers as jsonschema's format checker does (:func:`_format_checkers`), so both
    give jsonschema's verdict on the shipped schemas (``tests/test_policy.py`` compares them).
    """
    if schema_name in _FAST:
        return _FAST[schema_name]
    check = _rust_check(schema_name) or _python_check(schema_name)
    _FAST[schema_name] = check
    return check


def compile_schema(schema_name: str) -> None:
    """Compile the fast checker of the shipped schema ``schema_name`` now rather than at its
    first document (the watcher's audit processes do it when they start)."""
    _fast_check(schema_name)


def _self_contained(doc: dict[str, Any]) -> bool:
    """No ``$ref`` outside the document's own ``#/...`` (fast checkers never fetch one)."""
    return "$ref" not in str(doc).replace("'$ref': '#/", "")


#: jsonschema's ``date`` check (``jsonschema._format.is_date``, the same two calls), here so
#: that a sidecar is checked without importing jsonschema (about 90 ms a process);
#: ``tests/test_policy.py`` compares the two on many strings
_RE_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)


def _is_date(value: str) -> bool:
    try:
        return bool(_RE_DATE.fullmatch(value) and _dt.date.fromisoformat(value))
    except ValueError:  # 0000-01-01, 2026-02-30
        return False


#: An ISO 8601 date, or date and time (``T`` or a space, then ``HH:MM[:SS[.ffffff]]``, then
#: ``Z`` or ``±HH:MM`` or nothing): the same text on every Python (3.11 reads more forms)
_RE_INSTANT = re.compile(
    r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:[Zz]|[+-]\d{2}:\d{2})?)?$",
    re.ASCII,
)


def utc_instant(text: str) -> _dt.datetime | None:
    """``text`` (an ISO 8601 date or date and time) as a UTC datetime, or None when it does
    not read as one. A time with an offset is converted to UTC; one without (and a date,
    at midnight) is taken as UTC."""
    if not _RE_INSTANT.fullmatch(text):
        return None
    if text[-1] in "Zz":
        text = text[:-1] + "+00:00"
    try:
        when = _dt.datetime.fromisoformat(text)
    except ValueError:  # 2026-02-30, 25:00
        return None
    if when.tzinfo is None:
        return when.replace(tzinfo=_dt.timezone.utc)
    return when.astimezone(_dt.timezone.utc)


#: formats checked here exactly as jsonschema checks them; any other format a shipped schema
#: uses is asked of jsonschema's own checker
_OWN_FORMATS: dict[str, Callable[[str], bool]] = {"date": _is_date}


def _formats_in(doc: Any) -> set[str]:
    """The names of the ``format`` keywords in a schema document."""
    found: set[str] = set()
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if isinstance(node.get("format"), str):
                found.add(node["format"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def _jsonschemas_format(name: str) -> Callable[[str], bool]:
    def conforms(value: str) -> bool:
        import jsonschema

        return bool(jsonschema.Draft202012Validator.FORMAT_CHECKER.conforms(value, name))

    return conforms


def _format_checkers(schema_name: str) -> dict[str, Callable[[str], bool]]:
    """A checker for every ``format`` the schema (and the shipped schemas it refers to) uses,
    each giving jsonschema's verdict: the fast validators' own (jsonschema-rs takes year 0000
    for a date) would let through what jsonschema refuses, a silent pass."""
    names = _formats_in(schema(schema_name))
    for other in _REFERENCED:
        names |= _formats_in(schema(other))
    return {
        name: _remembered(_OWN_FORMATS.get(name) or _jsonschemas_format(name)) for name in names
    }


#: bound on a format checker's memo: the strings come from users' files
_FORMAT_MEMO_LIMIT = 10_000


def _remembered(check: Callable[[str], bool]) -> Callable[[str], bool]:
    """``check`` with a bounded memo: a call from jsonschema-rs into Python costs more than
    its check of a whole sidecar, and a show's dates repeat across its sidecars."""
    memo: dict[str, bool] = {}
    get = memo.get

    def remembered(value: str) -> bool:
        verdict = get(value)
        if verdict is None:
            verdict = check(value)
            if len(memo) >= _FORMAT_MEMO_LIMIT:
                memo.clear()
            memo[value] = verdict
        return verdict

    return remembered


def _rust_check(schema_name: str) -> Any:
    try:
        import jsonschema_rs
    except ImportError:
        return None
    # the shipped schemas another one refers to (clearance.yaml's ``tools`` is the tool
    # registry's), served by their $id; any other reference fails to compile: nothing is
    # ever fetched
    shipped = {schema(name)["$id"]: schema(name) for name in _REFERENCED}

    def retrieve(uri: str) -> Any:
        found = shipped.get(uri)
        if found is None:
            raise LookupError(f"{uri} is not a schema shipped with Clearance")
        return found

    try:
        validator = jsonschema_rs.validator_for(
            schema(schema_name),
            validate_formats=True,
            formats=_format_checkers(schema_name),
            retriever=retrieve,
        )
    except Exception:  # a schema it cannot compile: the next candidate
        return None
    is_valid = validator.is_valid

    def check(document: Any) -> None:
        if not is_valid(document):
            raise ValueError("invalid")

    return check


def _python_check(schema_name: str) -> Any:
    try:
        import fastjsonschema

        doc = schema(schema_name)
        if not _self_contained(doc):
            return None
        # a copy: fastjsonschema rewrites each ``$ref`` in place, and the parsed document is
        # shared (the sidecar reader follows its references: provenance/_invalid.py)
        return fastjsonschema.compile(copy.deepcopy(doc), formats=_format_checkers(schema_name))
    except Exception:  # not installed, or a schema it cannot compile: jsonschema alone
        return None


def schema_errors(
    document: Any, schema_name: str, *, yaml_errors: Sequence[tuple[str, str]] = ()
) -> list[tuple[str, str]]:
    """Every error of ``document`` against a shipped schema, as (field path, reason), sorted.

    :param yaml_errors: the ``field_errors`` parsing the document gave (an unquoted impossible
        date): each is the error of its field, in place of what the schema says at or under it.
    """
    fast = _fast_check(schema_name)
    if fast is not None and not yaml_errors:
        try:
            fast(document)
            return []
        except Exception:  # invalid (or unsure): let jsonschema decide and explain
            pass
    validator = _validator(schema_name)
    errors = [described for e in validator.iter_errors(document) for described in _explain(e)]
    if yaml_errors:
        refused = {where for where, _ in yaml_errors}
        errors = [e for e in errors if not any(_at_or_under(e[0], f) for f in refused)]
        errors += yaml_errors
    return sorted(set(errors), key=lambda item: (item[0], item[1]))


def _at_or_under(path: str, field: str) -> bool:
    return path == field or path.startswith((field + ".", field + "["))


def _validate(document: Any, schema_name: str, file: Path) -> None:
    errors = schema_errors(document, schema_name)
    if errors:
        field_path, reason = errors[0]
        more = (
            f" (and {len(errors) - 1} more: run 'clearance validate {file}')"
            if len(errors) > 1
            else ""
        )
        raise ConfigError(file, field_path or "(top level)", reason + more)


# --------------------------------------------------------------------------------------
# The policy object
# --------------------------------------------------------------------------------------


@dataclass
class StageConfig:
    """One pipeline stage: its name, the folders whose files belong to it, its plugins."""

    name: str
    paths: list[str] = field(default_factory=list)
    plugins: list[str] = field(default_factory=list)
    final: bool = False

    def contains(self, rel: str) -> bool:
        """Is the root-relative path ``rel`` under one of this stage's folders?"""
        return any(_under(rel, p) for p in self.paths)


def _under(rel: str, folder: str) -> bool:
    folder = folder.strip("/")
    if folder in ("", "."):
        return True
    if any(ch in folder for ch in "*?["):
        parent = str(PurePosixPath(rel).parent)
        return fnmatch.fnmatchcase(parent, folder) or fnmatch.fnmatchcase(parent, folder + "/*")
    return rel == folder or rel.startswith(folder + "/")


@dataclass
class Policy:
    """Everything a run is configured with. Paths are absolute; ``root`` is the config's folder."""

    root: Path
    config_file: Path | None = None
    production_id: str | None = None
    #: ``production.genre``; None when clearance.yaml does not say (unknown, not fiction)
    genre: str | None = None
    regions: list[str] = field(default_factory=list)
    tools: dict[str, dict[str, Any]] = field(default_factory=dict)
    approvals: dict[str, dict[str, Any]] = field(default_factory=dict)
    consents: dict[str, dict[str, Any]] = field(default_factory=dict)
    stages: list[StageConfig] = field(default_factory=lambda: [StageConfig("default", ["."])])
    plugins: list[str] = field(default_factory=list)
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    extensions: frozenset[str] = frozenset(DEFAULT_EXTENSIONS)
    temporary: tuple[str, ...] = DEFAULT_TEMPORARY
    ignore: tuple[str, ...] = ()
    audit_log: Path | None = None
    audit_max_bytes: int | None = None
    #: ``plugin_timeout``: seconds one call of a site plugin's hook may take (None: no limit)
    plugin_timeout: float | None = None
    state_path: Path | None = None
    files: dict[str, str] = field(default_factory=dict)  # config file → sha256
    #: the approvals file the approvals were read from (None: none, or given inline)
    approvals_file: Path | None = None
    settings: dict[str, Any] = field(default_factory=dict)  # reader settings
    now: _dt.datetime = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc))
    #: ``now`` follows the clock: each audit sets it to the time it starts (a watcher that
    #: runs for days sees an approval or consent expire). :func:`load_policy` sets it when
    #: no date was given (``now=``, ``CLEARANCE_NOW``); a date given stays the run's.
    live_clock: bool = False
    is_default: bool = False

    def __getstate__(self) -> dict[str, Any]:
        """The fields, without the memos (``_``-named; some hold read-only mappings, which
        cannot be pickled): a ``scan --jobs`` worker that is spawned rebuilds them."""
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    # -- rules --------------------------------------------------------------------------
    def _per_rule(self, kind: str, rule_id: str, build: Callable[[str], Any]) -> Any:
        """``build(rule_id)``, memoised per rule id until ``rules`` is replaced (the hot path
        asks once per rule per asset)."""
        memo: tuple[dict[str, Any], dict[tuple[str, str], Any]] | None = self.__dict__.get(
            "_rule_memo"
        )
        if memo is None or memo[0] is not self.rules:
            memo = (self.rules, {})
            self.__dict__["_rule_memo"] = memo
        key = (kind, rule_id)
        found = memo[1].get(key)
        if found is None:
            found = memo[1][key] = build(rule_id)
        return found

    def _rule_config(self, rule_id: str) -> dict[str, Any]:
        return self._per_rule("config", rule_id, self._merge_rule_config)  # type: ignore[no-any-return]

    def _merge_rule_config(self, rule_id: str) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        # glob entries first, exact entries win
        for key, value in self.rules.items():
            if key != rule_id and fnmatch.fnmatchcase(rule_id, key):
                merged.update(value)
        merged.update(self.rules.get(rule_id, {}))
        return merged

    def rule_enabled(self, rule_id: str) -> bool:
        return rule_id in ALWAYS_ON or bool(self._rule_config(rule_id).get("enabled", True))

    def enabled_rules(self, pack: str, rules: Sequence[Any]) -> list[Any]:
        """The rules of a pack that have a check and are enabled (memoised per pack)."""
        cache = self.__dict__.setdefault("_enabled_cache", {})
        key = (pack, id(self.rules), len(rules))
        found = cache.get(key)
        if found is None:
            found = cache[key] = [
                r for r in rules if r.check is not None and self.rule_enabled(r.id)
            ]
        return found  # type: ignore[no-any-return]

    def rule_outcome(self, rule_id: str) -> Outcome | None:
        """The configured outcome override of a rule, if any."""
        value = self._rule_config(rule_id).get("outcome")
        return Outcome.parse(value) if value is not None else None

    def rule_settings(self, rule_id: str) -> Mapping[str, Any]:
        """A rule's parameters from ``rules:`` (``enabled``/``outcome`` left out); read-only,
        memoised per rule id (asked by rules on every asset)."""

        def build(rid: str) -> Mapping[str, Any]:
            config = self._rule_config(rid)
            return MappingProxyType(
                {k: v for k, v in config.items() if k not in ("enabled", "outcome")}
            )

        return self._per_rule("settings", rule_id, build)  # type: ignore[no-any-return]

    # -- stages -------------------------------------------------------------------------
    def stage(self, name: str) -> StageConfig:
        for stage in self.stages:
            if stage.name == name:
                return stage
        return StageConfig(name)

    def stage_for(self, rel: str) -> StageConfig:
        """The stage of a root-relative path: the stage with the longest matching folder."""
        best: StageConfig | None = None
        best_len = -1
        for stage in self.stages:
            for folder in stage.paths:
                if _under(rel, folder) and len(folder.strip("/")) > best_len:
                    best, best_len = stage, len(folder.strip("/"))
        return best if best is not None else self.stage("default")

    @property
    def today(self) -> _dt.date:
        return self.now.date()


# --------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------


def find_config(paths: Sequence[str | os.PathLike[str]]) -> Path | None:
    """The nearest ``clearance.yaml`` in the first path or its parents (as pytest's rootdir),
    the folders it was given through first (:func:`~clearance._paths.given_path`), then
    those of its real path.

    :raises ConfigError: the nearest one is there but is not a file (a folder, or a symbolic
        link to a share that is not mounted), or a folder on the way cannot be searched (so
        whether it is there is unknown): the built-in default policy must not silently stand
        in for the show's.
    """
    for raw in paths[:1] or ["."]:
        # the folders the path was given through first (a stage folder that is a link to
        # another share is in the show), then those its target is in
        given = given_path(raw)
        real = Path(raw).resolve()
        for start in (given, real) if real != given else (given,):
            candidate = start.parent / CONFIG_NAME  # where a start that cannot be looked at is
            try:
                if start.is_file() or not start.exists():
                    start = start.parent
                for folder in (start, *start.parents):
                    candidate = folder / CONFIG_NAME
                    if candidate.is_file():  # its folder is the root (not a link's target's)
                        return folder.resolve() / CONFIG_NAME
                    if os.path.lexists(candidate):
                        raise ConfigError(
                            candidate, "", f"the configuration {_not_a_file(candidate)}"
                        )
                    misnamed = folder / _MISNAMED
                    if os.path.lexists(misnamed):  # the show's, which would not be read
                        above = next(
                            (
                                f / CONFIG_NAME
                                for f in folder.parents
                                if (f / CONFIG_NAME).is_file()
                            ),
                            None,
                        )
                        instead = (
                            "the built-in default policy would stand in for it"
                            if above is None
                            else f"{above} would be read in its place"
                        )
                        raise ConfigError(
                            misnamed,
                            "",
                            f"a configuration named {_MISNAMED} is not read: name it "
                            f"{CONFIG_NAME} (or give it with --config); {instead}",
                        )
            except OSError as exc:  # a folder that cannot be searched (no x permission)
                raise ConfigError(
                    candidate,
                    "",
                    f"cannot tell whether the configuration is there: {exc.strerror or exc} "
                    "(give it with --config)",
                ) from None
    return None


def _one_file(log: Path, state: Path) -> bool:
    """Whether the state store ``state`` (or its SQLite journal files) and the audit log
    ``log`` (or its lock or rotated files) are one file, by name or through links."""
    real_log, real_state = Path(os.path.realpath(log)), Path(os.path.realpath(state))
    store = {real_state, *(real_state.with_name(real_state.name + s) for s in _SQLITE_SIDECARS)}
    if real_log in store or real_log.with_name(real_log.name + ".lock") in store:
        return True
    if real_state.parent == real_log.parent and re.fullmatch(
        re.escape(real_log.name) + r"\.[0-9]{6}", real_state.name
    ):
        return True
    try:
        return os.path.samefile(log, state)  # a hard link
    except OSError:  # one of them is not there yet
        return False


_SQLITE_SIDECARS = ("-wal", "-shm", "-journal")


def _not_a_file(path: Path) -> str:
    """Why ``path``, which is not a file, cannot be read as one (``is a folder, ...``)."""
    if path.is_symlink():
        target = os.readlink(path)
        if not path.exists():
            return f"is a symbolic link to {target}, which does not exist (or is not reachable)"
        return f"is a symbolic link to {target}, which is not a file"
    if path.is_dir():
        return "is a folder, not a file"
    if os.path.lexists(path):
        return "is not a regular file"
    return "not found"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def config_document(document: Any) -> Any:
    """A configuration file's parsed document as it is checked and read: an empty file (or
    one of comments only) is an empty mapping, so an empty ``approvals.yaml`` is no approvals,
    and an empty ``tools.yaml`` lacks the required ``tools``."""
    return {} if document is None else document


def referenced_files(config: Path) -> dict[Path, str]:
    """The files a ``clearance.yaml`` names as its tool registry and approvals (resolved), and
    the schema each is read with; nothing when the configuration cannot be read."""
    try:
        doc = load_document(config)
    except DocumentError:
        return {}
    if not isinstance(doc, Mapping):
        return {}
    found: dict[Path, str] = {}
    for key, schema_name in (
        ("tools", "tools.schema.json"),
        ("approvals", "approvals.schema.json"),
    ):
        value = doc.get(key)
        if isinstance(value, str):
            found[_relative(config.parent, value).resolve()] = schema_name
    return found


def _load(path: Path, schema_name: str) -> dict[str, Any]:
    try:
        document = config_document(load_document(path))
    except DocumentError as exc:
        raise ConfigError(path, exc.field, exc.reason) from None
    if not isinstance(document, Mapping):
        raise ConfigError(path, "(top level)", f"expected a mapping, got {_short(document)}")
    _validate(document, schema_name, path)
    return dict(document)


def _relative(root: Path, value: str) -> Path:
    p = Path(os.path.expanduser(value))
    return p if p.is_absolute() else (root / p)


def load_policy(
    config: str | os.PathLike[str] | None = None,
    *,
    paths: Sequence[str | os.PathLike[str]] = (),
    now: _dt.datetime | None = None,
) -> Policy:
    """Load the policy for a run: ``config`` if given, else discovered from ``paths``, else
    the built-in default (one stage, ``default``, rooted at the first path).

    :raises ConfigError: naming the file and field of the first problem.
    """
    if config is not None:  # (a link to a file in a configs repository: rooted where it is)
        given = given_path(config)
        config_file: Path | None = given.parent.resolve() / given.name
    else:
        config_file = find_config(list(paths))
    if config_file is None:
        start = Path(paths[0]).resolve() if paths else Path.cwd()
        root = start if start.is_dir() else start.parent
        while not root.is_dir() and root != root.parent:  # a path not there (yet: `watch`)
            root = root.parent  # the state folder goes in one that is: none is created
        policy = _load_config_file(data_file("configs", "default.yaml"), root=root)
        policy.is_default = True
        policy.config_file = None
    else:
        if not config_file.is_file():
            raise ConfigError(config_file, "", f"configuration file {_not_a_file(config_file)}")
        policy = _load_config_file(config_file, root=config_file.parent)
    if now is not None:
        policy.now = now
    env_now = os.environ.get("CLEARANCE_NOW")
    if now is None and env_now:
        when = utc_instant(env_now)
        if when is None:
            raise ConfigError(
                "CLEARANCE_NOW",
                "",
                f"expected an ISO 8601 date or date and time (2027-03-01, "
                f"2027-03-01T23:30:00-08:00), got {env_now!r}",
            )
        policy.now = when
    policy.live_clock = now is None and not env_now
    return policy


def _plugin_timeout(path: Path, value: float | None) -> float | None:
    """``plugin_timeout`` as the schema let it through: a number above 0, which YAML's
    ``.inf`` and ``.nan`` are too. Neither is a time to wait (``.nan`` gave up on every call
    at once, and its ``timeout_s`` could not be written to the audit log; ``.inf``, and more
    seconds than a thread can wait, made every call a crash of its plugin)."""
    import math
    import threading

    if value is None or (math.isfinite(value) and value <= threading.TIMEOUT_MAX):
        return value
    raise ConfigError(
        path,
        "plugin_timeout",
        f"expected a number of seconds above 0 and at most {threading.TIMEOUT_MAX:.0f}, got "
        f"{value!r} (leave plugin_timeout out for no limit)",
    )


def _load_config_file(path: Path, *, root: Path) -> Policy:
    doc = _load(path, "clearance.schema.json")
    policy = Policy(root=root.resolve(), config_file=path)
    policy.files[str(path)] = _sha256(path)

    production = doc.get("production") or {}
    policy.production_id = production.get("id")
    policy.genre = production.get("genre")
    policy.regions = list(production.get("regions", []))

    tools = doc.get("tools")
    if isinstance(tools, str):
        tools_file = _relative(policy.root, tools)
        if not tools_file.is_file():
            raise ConfigError(
                path, "tools", f"tool registry {tools_file} {_not_a_file(tools_file)}"
            )
        policy.tools = dict(_load(tools_file, "tools.schema.json").get("tools", {}))
        policy.files[str(tools_file)] = _sha256(tools_file)
    elif isinstance(tools, Mapping):
        policy.tools = dict(tools)

    approvals = doc.get("approvals")
    if isinstance(approvals, str):
        approvals_file = _relative(policy.root, approvals)
        if not approvals_file.is_file():
            raise ConfigError(
                path, "approvals", f"approvals file {approvals_file} {_not_a_file(approvals_file)}"
            )
        adoc = _load(approvals_file, "approvals.schema.json")
        policy.approvals = dict(adoc.get("approvals") or {})
        policy.consents = dict(adoc.get("consents") or {})
        policy.files[str(approvals_file)] = _sha256(approvals_file)
        policy.approvals_file = approvals_file

    audit = doc.get("audit") or {}
    policy.audit_log = _relative(policy.root, audit.get("log", ".clearance/audit.jsonl"))
    policy.state_path = _relative(policy.root, audit.get("state", ".clearance/state.db"))
    for setting, target in (("audit.log", policy.audit_log), ("audit.state", policy.state_path)):
        if not os.path.basename(os.path.realpath(target)):  # "/": no file has that name
            raise ConfigError(path, setting, f"{target} is a folder, not a file")
    if _one_file(policy.audit_log, policy.state_path):
        raise ConfigError(
            path,
            "audit.state",
            f"the state store {policy.state_path} is a file of the audit log "
            f"{policy.audit_log} (the log, its lock or a rotated file): each needs a file of "
            "its own (SQLite would write over the events)",
        )
    policy.audit_max_bytes = audit.get("max_bytes")

    policy.plugins = list(doc.get("plugins") or [])
    policy.plugin_timeout = _plugin_timeout(path, doc.get("plugin_timeout"))
    stages = doc.get("stages")
    if stages:
        seen: set[str] = set()
        folders: dict[str, tuple[str, str]] = {}  # folder → (its field, its stage)
        policy.stages = []
        for i, raw in enumerate(stages):
            if raw["name"] in seen:
                raise ConfigError(
                    path, f"stages[{i}].name", f"stage {raw['name']!r} is defined twice"
                )
            seen.add(raw["name"])
            paths = []
            for j, written in enumerate(raw["paths"]):
                where = f"stages[{i}].paths[{j}]"
                folder = _stage_folder(path, policy.root, written, where)
                first = folders.setdefault(folder, (where, raw["name"]))
                if first[1] != raw["name"]:
                    # the first stage listed took its files: the other one never had any (a
                    # final stage's deliverables audited as not final)
                    raise ConfigError(
                        path,
                        where,
                        f"{written!r} is a folder of stage {first[1]!r} already ({first[0]}): "
                        "a folder belongs to one stage (the first listed took its files, "
                        "this one would have none of them)",
                    )
                paths.append(folder)
            policy.stages.append(
                StageConfig(
                    name=raw["name"],
                    paths=paths,
                    plugins=list(raw.get("plugins") or []),
                    final=bool(raw.get("final", False)),
                )
            )

    rules = doc.get("rules") or {}
    for rule_id, settings in rules.items():
        if rule_id in ALWAYS_ON and settings.get("enabled") is False:
            raise ConfigError(
                path, f"rules.{rule_id}.enabled", "provenance hygiene rules cannot be disabled"
            )
    policy.rules = {k: dict(v) for k, v in rules.items()}

    discovery = doc.get("discovery") or {}
    if "extensions" in discovery:
        for i, written in enumerate(discovery["extensions"]):
            if any(ch in written.lstrip(".") for ch in "./\\*?["):
                raise ConfigError(
                    path,
                    f"discovery.extensions[{i}]",
                    f"{written!r} is not a file extension: an extension is compared, as "
                    "written, with a file name's last suffix (write `exr`, not `*.exr`, "
                    "`tar.gz` or `ex?`), so it would find no media file; `temporary` and "
                    "`ignore` take globs",
                )
        policy.extensions = frozenset(e.lower().lstrip(".") for e in discovery["extensions"])
    if "temporary" in discovery:
        policy.temporary = tuple(discovery["temporary"])
    policy.ignore = tuple(discovery.get("ignore", ()))
    policy.settings = dict(doc.get("readers") or {})
    return policy


def _stage_folder(config: Path, root: Path, written: str, field: str) -> str:
    """A stage's folder as written (``comp/``, ``./delivery``, ``shots/*/comp``, an absolute
    path inside the root) in the one form files are matched against: relative to the root,
    ``/``-separated, with no ``.``, ``..`` or trailing ``/`` (``.`` for the root itself).
    Written any other way, it matched no file: the stage's assets were in stage ``default``,
    and a final stage's deliverables audited as not final. A leading ``/`` on a path that is
    not inside the root is the root's (``/delivery/``: ``delivery``), as it always was."""
    text = written.replace("\\", "/") if os.sep == "\\" else written
    if text.startswith("/"):
        rest = _below(os.path.normpath(text), root)
        text = rest if rest is not None else text.lstrip("/")
    folder = posixpath.normpath(text or ".")
    if folder == ".." or folder.startswith("../"):
        raise ConfigError(
            config, field, f"{written!r} is outside the configuration's folder {root}"
        )
    if folder != "." and not any(ch in folder for ch in "*?["):
        # a link inside the show to another of its folders (delivery -> comp/out) stands for
        # its target: the walk audits the assets there under the target's path only, so
        # the link's name matched no file (a final stage's deliverables audited as comp)
        base = str(root)
        walked = walked_folder(os.path.join(base, *folder.split("/")), base)
        if walked.startswith(os.path.join(base, "")):
            folder = walked[len(base) + 1 :].replace(os.sep, "/")
        elif walked == base:
            folder = "."
    return folder


def _below(path: str, root: Path) -> str | None:
    """``path`` (absolute) relative to ``root`` (resolved), named through any link above
    the root (``/shows/abc -> /mnt/nas/abc``), never through one below it (a stage folder
    that is a link to another share); None when it is not inside the root."""
    base = str(root)
    ancestor, below = path, list[str]()
    while True:
        if ancestor == base or os.path.realpath(ancestor) == base:
            return "/".join(reversed(below)) or "."
        parent = os.path.dirname(ancestor)
        if parent == ancestor:
            return None
        below.append(os.path.basename(ancestor))
        ancestor = parent


#: Keys of a ``rules:`` entry that every rule takes (the rest are the rule's parameters).
_RULE_KEYS = ("enabled", "outcome")


def rule_setting_errors(
    policy: Policy, rules: Iterable[Any]
) -> tuple[list[ConfigError], list[ConfigError]]:
    """What ``rules:`` says that the loaded rules do not know, checked once plugins are loaded
    (site rules are only known then): ``(unmatched, parameters)``.

    ``unmatched``: entries whose id or glob matches no rule (``NFX-C02`` for ``NFX-C2``).
    ``parameters``: keys that none of the matched rules declares (``denylistt``); rules that
    declare nothing (:attr:`~clearance.model.Rule.params` ``None``) accept every key. ``x-``
    keys are site extensions and never checked.
    """
    known = {rule.id: rule for rule in rules}
    ids = sorted(known)
    file = policy.config_file or "built-in default policy"
    unmatched: list[ConfigError] = []
    parameters: list[ConfigError] = []
    for key, settings in policy.rules.items():
        if key.startswith("x-"):
            continue
        matched = [known[i] for i in ids if fnmatch.fnmatchcase(i, key)]
        if not matched:
            if any(ch in key for ch in "*?["):
                reason = "the glob matches no rule"
            else:
                reason = "no rule has this id" + _did_you_mean(key, ids)
            unmatched.append(
                ConfigError(file, f"rules.{key}", reason + " (`clearance rules` lists them)")
            )
            continue
        if any(rule.params is None for rule in matched):
            continue
        declared = sorted({p for rule in matched for p in rule.params})
        for name in settings:
            if name in _RULE_KEYS or name in declared or str(name).startswith("x-"):
                continue
            takes = ", ".join(declared) if declared else "none besides enabled and outcome"
            what = f"rule {key}" if len(matched) == 1 else f"the rules {key} matches"
            parameters.append(
                ConfigError(
                    file,
                    f"rules.{key}.{name}",
                    f"unknown parameter of {what} (parameters: {takes})"
                    + _did_you_mean(str(name), [*declared, *_RULE_KEYS]),
                )
            )
    return unmatched, parameters


def approval_rule_warnings(policy: Policy, rules: Iterable[Any]) -> list[tuple[str, str]]:
    """``(file, warning)`` for each entry of an approval's ``rules`` that no loaded rule
    matches (``NFX-GP02`` for ``NFX-GP2``): that approval covers no finding of it, and the
    finding it was written for stays open without a word saying why."""
    ids = sorted(rule.id for rule in rules)
    file = str(policy.approvals_file or policy.config_file or "approvals")
    found: list[tuple[str, str]] = []
    for approval_id, approval in policy.approvals.items():
        patterns = approval.get("rules") if isinstance(approval, Mapping) else None
        if not isinstance(patterns, list):
            continue
        for i, pattern in enumerate(patterns):
            if not isinstance(pattern, str) or any(fnmatch.fnmatchcase(r, pattern) for r in ids):
                continue
            glob = any(ch in pattern for ch in "*?[")
            found.append(
                (
                    file,
                    f"approvals.{approval_id}.rules[{i}]: "
                    + ("the glob" if glob else "the id")
                    + f" {pattern!r} matches no rule, so the approval covers nothing of it"
                    + ("" if glob else _did_you_mean(pattern, ids))
                    + " (`clearance rules` lists them)",
                )
            )
    return found


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f"; did you mean {close[0]}?" if close else ""


def default_policy(root: str | os.PathLike[str]) -> Policy:
    """The built-in default policy rooted at ``root`` (for library callers and tests)."""
    policy = _load_config_file(data_file("configs", "default.yaml"), root=Path(root))
    policy.is_default = True
    policy.config_file = None
    return policy


def load_tools(path: str | os.PathLike[str]) -> dict[str, Any]:
    return _load(Path(path), "tools.schema.json")


def load_approvals(path: str | os.PathLike[str]) -> dict[str, Any]:
    return _load(Path(path), "approvals.schema.json")
