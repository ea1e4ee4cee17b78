"""The things Clearance talks about: outcomes, assets, provenance records, rules and findings.

Everything here is plain data with no I/O, so a DCC's Python can import it cheaply. The
field names follow the contracts in the project docs (``docs/findings.md``, ``docs/sidecar.md``).
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableSequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Outcome",
    "Status",
    "Asset",
    "FrameFiles",
    "PartialRecord",
    "ProvenanceIssue",
    "ProvenanceRecord",
    "Rule",
    "Finding",
    "AssetResult",
    "StageResult",
    "MISSING",
]


class _Missing:
    """Sentinel for "the field is absent" (distinct from an explicit ``null``)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


class Outcome(str, enum.Enum):
    """What a finding asks of the production, from least to most serious.

    Compare outcomes with ``<``/``>`` (by seriousness), never by their string value.
    """

    PASS = "pass"
    NOTICE = "notice"
    ESCALATE = "escalate"
    APPROVAL = "approval"
    BLOCK = "block"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Outcome):
            return NotImplemented
        return _RANK[self] < _RANK[other]

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Outcome):
            return NotImplemented
        return _RANK[self] <= _RANK[other]

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Outcome):
            return NotImplemented
        return _RANK[self] > _RANK[other]

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Outcome):
            return NotImplemented
        return _RANK[self] >= _RANK[other]

    def __str__(self) -> str:
        return self.value

    @classmethod
    def parse(cls, value: str | Outcome) -> Outcome:
        """``Outcome.parse("approval")``; raises ``ValueError`` naming the valid values."""
        if isinstance(value, Outcome):
            return value
        try:
            return cls(str(value).lower())
        except ValueError:
            valid = ", ".join(o.value for o in cls)
            raise ValueError(f"unknown outcome {value!r} (expected one of: {valid})") from None

    @classmethod
    def worst(cls, outcomes: Iterable[Outcome], default: Outcome | None = None) -> Outcome:
        """The most serious of ``outcomes`` (``default``, else ``PASS``, when empty)."""
        result = default if default is not None else cls.PASS
        for o in outcomes:
            if o > result:
                result = o
        return result


_RANK = {o: i for i, o in enumerate(Outcome)}


def _top_key(path: str) -> str:
    """``steps[1].inputs[0].class`` → ``steps``."""
    for sep in (".", "["):
        path = path.split(sep, 1)[0]
    return path


_PATHS: dict[str, tuple[str, ...]] = {}  # dotted field path → its parts (bounded)


class Status(str, enum.Enum):
    """A finding's life: ``open``, ``approved`` (an approval applied) or ``expired``.

    A ``pass`` finding has none (``Finding.status`` is ``None``, ``null`` in JSON): it is
    recorded, never open, and no approval applies to it.
    """

    OPEN = "open"
    APPROVED = "approved"
    EXPIRED = "expired"

    def __str__(self) -> str:
        return self.value


def printable(text: str) -> str:
    """``text`` as it can be written to the audit log, the state store and a terminal.

    A file name that is not UTF-8 reaches Python with its bad bytes as lone surrogates
    (``os.fsdecode``), which UTF-8 cannot encode: they are shown as ``\\xe9`` escapes
    instead (``caf\\xe9.png``), as any other lone surrogate is (``\\ud800``).
    """
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        pass
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def relative_posix(path: str | os.PathLike[str], root: Path) -> str:
    """``path`` relative to ``root`` with ``/`` separators, or ``str(path)`` when outside it.

    A string prefix first (this runs for every asset); pathlib decides anything unusual.
    """
    text, base = os.fspath(path), os.fspath(root)
    prefix = base if base.endswith(os.sep) else base + os.sep
    if text.startswith(prefix) and len(text) > len(prefix):
        text = text[len(prefix) :]
        return printable(text if os.sep == "/" else text.replace(os.sep, "/"))
    try:
        return printable(Path(path).relative_to(root).as_posix())
    except ValueError:
        return printable(text)


class FrameFiles(MutableSequence[Path]):
    """The frames of a sequence: a list of :class:`~pathlib.Path` made from a folder and the
    frame names discovery listed, each ``Path`` built when it is first read.

    A 1,000 × 1,000-frame tree would otherwise make a million ``Path`` objects that nobody
    reads (the cache and lineage key a sequence on its first and last frames and its names).
    It behaves as a list of paths: indexing, slicing (a ``list``), iteration, ``len``, ``==``
    with a list, and mutation (after which it holds real ``Path`` objects).
    """

    __slots__ = ("folder", "_names", "_paths")

    def __init__(self, folder: Path, names: list[str]) -> None:
        self.folder = folder
        self._names = names
        self._paths: list[Path] | None = None

    @property
    def names(self) -> list[str] | None:
        """The frame names as listed, or ``None`` once the list was changed."""
        return self._names if self._paths is None else None

    def copy(self) -> FrameFiles | list[Path]:
        """A copy that changes apart from this one, its frame names too (:attr:`names` and
        ``Asset.file_names()`` give the list itself: sorted or emptied in place, it changed
        the asset it was copied from)."""
        if self._paths is None:
            return FrameFiles(self.folder, list(self._names))
        return list(self._paths)

    def _child(self, name: str) -> Path:
        # pathlib's constructor for a listed name (no separators to parse) where it has one
        make = getattr(self.folder, "_make_child_relpath", None)
        return make(name) if make is not None else self.folder / name  # type: ignore[no-any-return]

    def _list(self) -> list[Path]:
        if self._paths is None:
            self._paths = [self._child(n) for n in self._names]
        return self._paths

    def __len__(self) -> int:
        return len(self._names) if self._paths is None else len(self._paths)

    def __getitem__(self, index: Any) -> Any:
        if self._paths is not None:
            return self._paths[index]
        if isinstance(index, slice):
            return [self._child(n) for n in self._names[index]]
        return self._child(self._names[index])  # first / last frame: no list needed

    def __iter__(self) -> Iterator[Path]:
        if self._paths is None:
            return map(self._child, self._names)
        return iter(self._paths)

    def __setitem__(self, index: Any, value: Any) -> None:
        self._list()[index] = value

    def __delitem__(self, index: Any) -> None:
        del self._list()[index]

    def insert(self, index: int, value: Path) -> None:
        self._list().insert(index, value)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (FrameFiles, list, tuple)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable, like a list

    def __repr__(self) -> str:
        return repr(list(self))

    def __reduce__(self) -> tuple[Any, ...]:
        # a worker process is sent the folder and the names, not a Path per frame
        if self._paths is None:
            return (FrameFiles, (self.folder, self._names))
        return (list, (self._paths,))


@dataclass
class Asset:
    """One unit of audit: a single file, or a frame sequence audited once as a whole.

    :ivar path: the file on disk (for a sequence, its first frame).
    :ivar rel: the path relative to the root with ``/`` separators; for a sequence the
        pattern ``dir/PREFIX.####.EXT`` with the padding as found.
    :ivar root: the folder of ``clearance.yaml`` (or of the scanned path).
    :ivar files: every file of the asset (one for a single file; every frame of a sequence,
        as a :class:`FrameFiles` from discovery: a list of paths made when read).
    :ivar frames: the frame range of a sequence, ``"1001-1100"``, gaps as ``"1001-1040,1042-1100"``.
    :ivar sidecar: the paired sidecar file, if any.
    :ivar other_sidecars: sidecars that would describe the asset too but are not read (a
        ``NAME.genai.json`` beside the ``NAME.genai.yaml`` that is): the sidecar reader
        reports them (``PRV-02``), so two descriptions never pass silently.
    """

    path: Path
    rel: str
    root: Path
    files: list[Path] | FrameFiles = field(default_factory=list)
    frames: str | None = None
    frame_numbers: list[int] = field(default_factory=list)
    sidecar: Path | None = None
    other_sidecars: tuple[Path, ...] = ()
    stage: str = "default"
    #: The names of the files in the asset's folder when it was discovered (``None`` when
    #: unknown): lets the provenance cache skip probing for files that were not there.
    siblings: frozenset[str] | None = field(default=None, repr=False, compare=False)
    #: ``os.stat`` results taken during the current audit, by path (see :meth:`stat`);
    #: ``None`` outside an audit.
    stats: dict[str, os.stat_result] | None = field(default=None, repr=False, compare=False)
    #: Entries of the asset's folder named as one of its files that are no regular file
    #: (a folder, a named pipe, a link to nothing), found by the walk that listed them: a
    #: frame the sequence is audited without, its sidecar or detached C2PA manifest. Each
    #: ``(path, why)`` is a ``PRV-02`` of the asset (unsure, never a pass).
    not_files: tuple[tuple[Path, str], ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.rel.isascii():
            self.rel = printable(self.rel)  # a name that is not UTF-8 (see printable())

    def file_names(self) -> list[str]:
        """The names of :attr:`files`, worked out once (again when ``files`` is replaced or
        changes length): the provenance cache and lineage both key a sequence on every
        frame's name, and discovery, which listed them, fills it in."""
        files = self.files
        if isinstance(files, FrameFiles) and files.names is not None:
            return files.names
        memo = self.__dict__.get("_names")
        if memo is None or memo[0] is not files or len(memo[1]) != len(files):
            memo = self.__dict__["_names"] = (files, [p.name for p in files])
        return memo[1]  # type: ignore[no-any-return]

    def stat(self, path: str | os.PathLike[str]) -> os.stat_result:
        """``os.stat(path)``, once per audit: the provenance cache and lineage both key on
        the versions of the asset's files, and ask for the same few paths. Raises OSError."""
        memo = self.stats
        if memo is None:
            return os.stat(path)
        key = os.fspath(path)
        found = memo.get(key)
        if found is None:
            found = memo[key] = os.stat(key)
        return found

    @property
    def name(self) -> str:
        """The file name (for a sequence, the pattern's last component)."""
        return self.rel.rsplit("/", 1)[-1]

    @property
    def is_sequence(self) -> bool:
        return self.frames is not None

    @property
    def extension(self) -> str:
        return self.path.suffix.lower().lstrip(".")


@dataclass(frozen=True)
class ProvenanceIssue:
    """A problem reading provenance: the file, the field path (``steps[0].tool``) and why.

    :ivar unreadable: the file could not be read at all, for a reason of the system's
        (permission denied, an I/O error, a stale NFS handle), not of its content: besides
        its ``PRV-02``, ``scan`` and ``check`` report it as an I/O error (``run.error``,
        exit 2). ``message`` says why (``cannot read file: Permission denied``).
    """

    file: str
    field: str
    message: str
    unreadable: bool = False

    def __str__(self) -> str:
        where = f"{self.file}: {self.field}" if self.field else self.file
        return f"{where}: {self.message}"


@dataclass
class PartialRecord:
    """What one provenance reader found for one asset.

    :ivar source: the reader's short name (``sidecar``, ``xmp``, ``exr``, ``c2pa``).
    :ivar file: the file the data came from.
    :ivar data: fields in the sidecar format-1 shape; only what this source knows.
    :ivar issues: problems found while reading (they become ``PRV-02`` findings).
    :ivar evidence: source-specific facts kept for findings (e.g. a C2PA validation state).
    :ivar volatile: reading again may answer differently although the files have not
        changed (a read error, a signature checked against the clock and the trust list):
        the provenance cache never keeps it, and the reader runs again on the next scan.
    :ivar unknown: field paths (``union_impact``, ``talent[0].consent``, ``steps[1]``) the
        source gave but that were invalid: each is *unknown*, never "not given". Where the
        field takes ``unknown``, ``data`` holds ``unknown``; otherwise the field is left out
        of ``data`` (a mapping or list entry of the wrong type says nothing: ``{}``), and
        rules read it through :meth:`ProvenanceRecord.is_unknown`.
    """

    source: str
    file: str
    data: dict[str, Any] = field(default_factory=dict)
    issues: list[ProvenanceIssue] = field(default_factory=list)
    evidence: dict[str, Any] = field(default_factory=dict)
    volatile: bool = False
    unknown: list[str] = field(default_factory=list)


@dataclass
class ProvenanceRecord:
    """All readers' results for one asset, merged into one format-1 record.

    The first source (in reader order, the sidecar first) wins a field; ``sources`` keeps
    where each top-level field came from, and ``partials`` keeps every reader's own view so
    rules can see disagreement (``PRV-04``). ``file_issues`` are problems with the asset's
    files found by whoever audits it, not by a reader (the watcher: a file that never became
    complete); :attr:`issues` lists them after the readers' (``PRV-02``).
    """

    data: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)
    partials: list[PartialRecord] = field(default_factory=list)
    cached: bool = False  # the cacheable readers' output came from the provenance cache
    file_issues: list[ProvenanceIssue] = field(default_factory=list)

    @classmethod
    def merge(cls, partials: Iterable[PartialRecord]) -> ProvenanceRecord:
        record = cls()
        for partial in partials:
            record.partials.append(partial)
            for key, value in partial.data.items():
                if key not in record.data:
                    record.data[key] = value
                    record.sources[key] = partial.source
        return record

    @property
    def present(self) -> bool:
        """True when any source said anything (a sidecar, even a broken one, counts)."""
        return bool(self.partials)

    @property
    def issues(self) -> list[ProvenanceIssue]:
        return [issue for p in self.partials for issue in p.issues] + self.file_issues

    def unreadable(self) -> list[tuple[str, str]]:
        """``(file, why)`` of each file a reader could not read for a reason of the
        system's (:attr:`ProvenanceIssue.unreadable`), once per file, in reader order."""
        found: dict[str, str] = {}
        for partial in self.partials:  # (not self.issues: no list made for most assets)
            for issue in partial.issues:
                if issue.unreadable and issue.file not in found:
                    found[issue.file] = issue.message
        for issue in self.file_issues:
            if issue.unreadable and issue.file not in found:
                found[issue.file] = issue.message
        return list(found.items()) if found else []

    @property
    def unknown(self) -> frozenset[str]:
        """Field paths a source gave invalid (see :attr:`PartialRecord.unknown`): unknown,
        never "not given". Only sources whose top-level field the record took count."""
        found: set[str] = set()
        for partial in self.partials:
            for path in partial.unknown:
                top = _top_key(path)
                if top not in self.sources or self.sources[top] == partial.source:
                    found.add(path)
        return frozenset(found)

    def is_unknown(self, path: str) -> bool:
        """Is the field at ``path`` (``talent[0].consent``, as ``PRV-02`` names it) unknown
        because a source gave it, or a mapping or list entry it is in, invalid? A field
        given and valid is never unknown here (it is known), nor one no source gave."""
        return self.unknown_at(path) is not None

    def unknown_at(self, path: str) -> str | None:
        """Where :meth:`is_unknown` finds ``path`` unknown: ``path`` itself, or the mapping or
        list entry it is in that a source gave invalid (``steps[1]`` for ``steps[1].tool``);
        ``None`` when it is not."""
        if not any(p.unknown for p in self.partials):  # nearly every record
            return None
        unknown = self.unknown
        if path in unknown:
            return path
        for i in range(1, len(path)):
            if path[i] in ".[" and path[:i] in unknown:
                return path[:i]
        return None

    @property
    def generated(self) -> bool | None:
        """Was GenAI used? ``None`` when no source says (unknown is never "no")."""
        value = self.data.get("generated")
        return value if isinstance(value, bool) else None

    def get(self, path: str, default: Any = MISSING) -> Any:
        """Read a dotted field path, ``record.get("output.use")``; ``default`` when absent."""
        node: Any = self.data
        parts = _PATHS.get(path)
        if parts is None:
            parts = tuple(path.split("."))
            if len(_PATHS) < 4096:
                _PATHS[path] = parts
        for part in parts:
            # dict first: records are plain dicts; other mappings take the slow check
            if (type(node) is not dict and not isinstance(node, Mapping)) or part not in node:
                return default
            node = node[part]
        return node

    def source_of(self, key: str) -> str | None:
        return self.sources.get(key)


@dataclass(frozen=True)
class Rule:
    """A rule definition: what it enforces, how serious it is, and how to fix what it finds.

    :ivar id: stable id used in findings, approvals and configs (``NFX-C1``).
    :ivar title: one line for listings.
    :ivar principle: the guidance area (``data-use``, ``creative-output``, ``talent``,
        ``ethics``, ``deliverables``, ``provenance``, ...).
    :ivar outcome: the default outcome of a finding of this rule.
    :ivar guidance: the guidance sentence it enforces (quoted).
    :ivar remediation: what the artist or TD should do.
    :ivar pack: the rule pack (``default``, or a site pack name).
    :ivar check: for rules in a :class:`~clearance.rules.RulePack`, the check function.
    :ivar params: the parameters the rule reads from ``rules: {ID: {...}}`` besides
        ``enabled`` and ``outcome``; a configuration giving it any other key is an error
        (a misspelled parameter would otherwise be ignored). ``None``: not declared, every
        key is accepted (site rules written before declarations existed).
    """

    id: str
    title: str
    principle: str
    outcome: Outcome
    guidance: str = ""
    remediation: str = ""
    pack: str = "default"
    check: Callable[..., Any] | None = field(default=None, compare=False, repr=False)
    params: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        """Check what a site plugin wrote (a wrong type here was an internal error half-way
        through the run, at the rule's first finding); an outcome given by its name
        (``outcome="block"``) is converted, as a finding's is."""
        if not isinstance(self.id, str) or not self.id.strip():
            raise ValueError(f"a rule's id must be a non-empty string, not {self.id!r}")
        if not isinstance(self.outcome, Outcome):
            if not isinstance(self.outcome, str):
                raise TypeError(
                    f"rule {self.id}: outcome must be an Outcome or its name, not "
                    f"{type(self.outcome).__name__}"
                )
            try:
                object.__setattr__(self, "outcome", Outcome.parse(self.outcome))
            except ValueError as exc:
                raise ValueError(f"rule {self.id}: {exc}") from None
        for name in ("title", "principle", "guidance", "remediation", "pack"):
            if not isinstance(getattr(self, name), str):
                raise TypeError(
                    f"rule {self.id}: {name} must be a string, not "
                    f"{type(getattr(self, name)).__name__}"
                )
        if self.params is not None and not isinstance(self.params, tuple):
            if isinstance(self.params, str):  # tuple("works") would be its letters
                raise TypeError(
                    f"rule {self.id}: params must be a list of parameter names, not the "
                    f"string {self.params!r} (write params=[{self.params!r}])"
                )
            object.__setattr__(self, "params", tuple(self.params))  # a list given: same meaning
        if self.params is not None and not all(isinstance(p, str) for p in self.params):
            raise TypeError(f"rule {self.id}: params must be parameter names (strings)")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "principle": self.principle,
            "outcome": self.outcome.value,
            "guidance": self.guidance,
            "remediation": self.remediation,
            "pack": self.pack,
            "params": list(self.params) if self.params is not None else None,
        }


@dataclass
class Finding:
    """One rule's verdict on one asset (or stage).

    A checker usually fills only ``rule``, ``message`` and ``evidence``; the engine fills
    ``outcome`` (from the rule, unless given), ``principle``, ``remediation``, ``stage``,
    ``asset`` and ``frames``, and applies approvals (``status``, ``approval``).

    A site plugin may give ``outcome`` by its name (``"block"``); the plugin host converts
    it, and makes ``evidence`` JSON (paths and dates as strings) before the engine sees it.

    :ivar status: ``open``, ``approved`` or ``expired``; ``None`` for a ``pass`` finding
        once the engine has settled it (recorded, never open).
    :ivar unsure: the finding exists because data the rule needs was missing or unknown;
        such a finding is never below ``escalate``, whatever the configuration says.
    """

    rule: str
    message: str = ""
    outcome: Outcome | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    status: Status | None = Status.OPEN
    approval: str | None = None
    stage: str = ""
    asset: str = ""
    frames: str | None = None
    principle: str = ""
    remediation: str = ""
    unsure: bool = False
    plugin: str | None = None

    @property
    def is_open(self) -> bool:
        """Open unless approved (an expired approval leaves it open); a pass never is."""
        return (
            self.status is not Status.APPROVED
            and self.status is not None
            and self.effective_outcome is not Outcome.PASS
        )

    @property
    def effective_outcome(self) -> Outcome:
        return self.outcome if self.outcome is not None else Outcome.ESCALATE

    def to_dict(self) -> dict[str, Any]:
        """The finding JSON of the contract (``docs/findings.md``)."""
        data: dict[str, Any] = {
            "rule": self.rule,
            "outcome": self.effective_outcome.value,
            "status": None  # a pass has none, settled or not
            if self.status is None or self.effective_outcome is Outcome.PASS
            else self.status.value,
            "approval": self.approval,
            "stage": self.stage,
            "asset": self.asset,
            "frames": self.frames,
            "principle": self.principle,
            "message": self.message,
            "remediation": self.remediation,
            "evidence": self.evidence,
        }
        if self.unsure:
            data["unsure"] = True
        if self.plugin:
            data["plugin"] = self.plugin
        return data


@dataclass
class AssetResult:
    """The verdict on one asset in one stage: its findings and their worst open outcome."""

    asset: Asset
    stage: str
    findings: list[Finding] = field(default_factory=list)
    record: ProvenanceRecord | None = None
    duration: float = 0.0
    #: ``(file, why)`` of the asset's files (its sidecar included) that could not be read
    #: for a reason of the system's (:meth:`ProvenanceRecord.unreadable`): unsure findings
    #: (``PRV-02``) here, and I/O errors of the run (``run.error``, exit 2)
    errors: list[tuple[str, str]] = field(default_factory=list)

    @property
    def outcome(self) -> Outcome:
        """The worst open finding (approved findings do not count; ``pass`` when none)."""
        findings = self.findings
        if not findings:  # most assets: asked for several times each (counts, events, output)
            return Outcome.PASS
        return Outcome.worst(f.effective_outcome for f in findings if f.is_open)

    def open_findings(self) -> Iterator[Finding]:
        return (f for f in self.findings if f.is_open)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "asset": self.asset.rel,
            "stage": self.stage,
            "outcome": self.outcome.value,
            "findings": [f.to_dict() for f in self.findings],
        }
        if self.asset.frames is not None:
            data["frames"] = self.asset.frames
        return data


@dataclass
class StageResult:
    """Everything one run found in one stage (what ``clearance_check_stage`` receives)."""

    stage: str
    assets: list[AssetResult] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)  # stage-level findings
    #: the run audited the whole stage (every configured folder walked: ``scan`` of the root
    #: or of the stage's folders), not a part of it (``check FILE``, a subfolder): its stage
    #: checks speak for the stage
    complete: bool = False

    def counts(self) -> dict[str, int]:
        """Assets per outcome, every outcome present (zeros included)."""
        counts = {o.value: 0 for o in Outcome}
        for result in self.assets:
            counts[result.outcome.value] += 1
        return counts

    @property
    def outcome(self) -> Outcome:
        return Outcome.worst(
            [r.outcome for r in self.assets]
            + [f.effective_outcome for f in self.findings if f.is_open]
        )
