"""Ancestry walks: an asset's declared inputs followed back through recorded audits.

A walk asks a *finder* (:class:`~clearance.lineage.store.LineageStore`, or the run's
:class:`~clearance.lineage.index.RunIndex`) for the latest audit of each input ref, and follows
that audit's own inputs, cycle-safe and depth-bounded. The result is the ``ancestry`` record key
described in ``docs/lineage.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .freshness import summary_is_fresh

if TYPE_CHECKING:
    from .store import AssetRow

__all__ = ["MAX_DEPTH", "MAX_LISTED", "Finder", "iter_tree", "unknown_ancestry", "walk"]

#: How many generations of inputs an ancestry walk follows.
MAX_DEPTH = 32
#: How many ancestor names an ancestry summary keeps (``truncated`` beyond); also how many
#: ``genai`` entries and ``unknown`` and ``unresolved`` names it keeps (``genai_omitted``,
#: ``unknown_omitted``/``unresolved_omitted`` count the rest).
MAX_LISTED = 1000


#: The input classes of the sidecar format (``steps[].inputs[].class``, DESIGN.md) that say
#: what an input is; ``unknown``, a class left out or one not on the list says nothing.
KNOWN_CLASSES = frozenset(
    {
        "generated", "owned_released", "unreleased", "script", "production_image",
        "personal_data", "contract", "talent_likeness", "third_party_licensed",
        "third_party_unowned", "public_domain",
    }
)  # fmt: skip


class Finder(Protocol):
    """What a walk needs: the latest recorded audit of what a ref names."""

    def find(self, ref: str, root: Path) -> AssetRow | None: ...


def walk(
    finder: Finder,
    inputs: Iterable[dict[str, Any]],
    root: Path,
    *,
    start: str | None = None,
    max_depth: int = MAX_DEPTH,
    shallow: bool = False,
) -> dict[str, Any]:
    """The GenAI ancestry of ``inputs`` as ``finder`` knows it (see ``LineageStore.ancestry``)."""
    state = _Walk(finder, root, max_depth, shallow=shallow)
    tree = state.inputs(inputs, 1, [start] if start else [])
    # the walk's own lists are handed over as they are when short (the state is dropped):
    # a copy of each per asset is most of what a walk of one unresolved input allocates
    unknown, unresolved, order = state.unknown, state.unresolved, state.order
    genai = state.genai
    found: dict[str, Any] = {
        "genai": genai if len(genai) <= MAX_LISTED else genai[:MAX_LISTED],
        "unknown": unknown if len(unknown) <= MAX_LISTED else unknown[:MAX_LISTED],
        "unresolved": unresolved if len(unresolved) <= MAX_LISTED else unresolved[:MAX_LISTED],
        "assets": order if len(order) <= MAX_LISTED else order[:MAX_LISTED],
        "cycle": state.cycle,
        "truncated": state.truncated or len(order) > MAX_LISTED,
        "depth": state.depth,
        "tree": tree,
    }
    # capped like ``assets``, so a summary copied into every asset made from it stays small;
    # what was left out is counted (only when something was: a summary's keys stay as they were)
    omitted = state.genai_omitted + max(0, len(genai) - MAX_LISTED)
    if omitted:
        found["genai_omitted"] = omitted
    omitted = state.unknown_omitted + max(0, len(unknown) - MAX_LISTED)
    if omitted:
        found["unknown_omitted"] = omitted
    omitted = state.unresolved_omitted + max(0, len(unresolved) - MAX_LISTED)
    if omitted:
        found["unresolved_omitted"] = omitted
    return found


def unknown_ancestry(inputs: list[dict[str, Any]]) -> dict[str, Any]:
    """Ancestry when nothing was recorded yet: only what the input classes declare."""
    genai = [
        {"ref": i["ref"], "asset": None, "depth": 1, "via": i["ref"], "declared": True}
        for i in inputs
        if i.get("class") == "generated"
    ]
    refs = list(dict.fromkeys(str(i["ref"]) for i in inputs))
    unknown = list(
        dict.fromkeys(str(i["ref"]) for i in inputs if i.get("class") not in KNOWN_CLASSES)
    )
    tree = [
        {
            "ref": i["ref"],
            "class": i.get("class"),
            "audited": False,
            "genai": i.get("class") == "generated",
        }
        for i in inputs
    ]
    found: dict[str, Any] = {
        "genai": genai if len(genai) <= MAX_LISTED else genai[:MAX_LISTED],
        "unknown": unknown[:MAX_LISTED],
        "unresolved": refs,
        "assets": [],
        "cycle": False,
        "truncated": False,
        "depth": 1,
        "tree": tree,
    }
    if len(genai) > MAX_LISTED:
        found["genai_omitted"] = len(genai) - MAX_LISTED
    return found


def iter_tree(tree: list[dict[str, Any]], depth: int = 0) -> Iterator[tuple[int, dict[str, Any]]]:
    """Every node of an ancestry tree with its depth (0 for direct inputs), depth first."""
    for node in tree:
        yield depth, node
        yield from iter_tree(node.get("inputs") or [], depth + 1)


class _Walk:
    """One ancestry walk: every asset expanded once, the current path kept to name cycles."""

    __slots__ = ("finder", "root", "max_depth", "shallow", "genai", "unknown", "unresolved",
                 "cycle", "truncated", "depth", "expanded", "order", "via", "genai_names",
                 "unknown_names", "unresolved_names", "genai_omitted", "unknown_omitted",
                 "unresolved_omitted")  # fmt: skip

    def __init__(self, finder: Finder, root: Path, max_depth: int, *, shallow: bool) -> None:
        self.finder = finder
        self.root = root
        self.max_depth = max_depth
        self.shallow = shallow
        self.genai: list[dict[str, Any]] = []
        self.unknown: list[str] = []
        self.unresolved: list[str] = []
        self.cycle = False
        self.truncated = False
        self.depth = 0
        self.expanded: set[str] = set()
        self.order: list[str] = []  # every ancestor, in the order found
        self.via = ""  # the direct input being walked
        #: ancestors listed in ``genai``: each is listed once, however many inputs lead to it
        self.genai_names: set[str] = set()
        # membership of ``unknown``/``unresolved`` (lists keep the order found): a set, as a
        # sidecar may declare tens of thousands of inputs
        self.unknown_names: set[str] = set()
        self.unresolved_names: set[str] = set()
        self.genai_omitted = 0  # left out of the inputs' capped summaries
        self.unknown_omitted = 0
        self.unresolved_omitted = 0

    def inputs(
        self, items: Iterable[dict[str, Any]], depth: int, path: list[str]
    ) -> list[dict[str, Any]]:
        node = self.node
        return [node(item, depth, path) for item in items if isinstance(item, dict)]

    def node(self, item: dict[str, Any], depth: int, path: list[str]) -> dict[str, Any]:
        ref = str(item.get("ref"))
        if depth == 1:
            self.via = ref
        declared = item.get("class")
        node: dict[str, Any] = {"ref": ref, "class": declared}
        if depth > self.depth:
            self.depth = depth
        row = self.finder.find(ref, self.root)
        if row is None:
            node["audited"] = False
            node["genai"] = declared == "generated"
            if ref not in self.unresolved_names:  # _add, without its two getattr
                self.unresolved_names.add(ref)
                self.unresolved.append(ref)
            if node["genai"]:
                self._genai(ref, None, depth, declared=True)
            elif declared not in KNOWN_CLASSES:  # never audited, and what it is is unknown:
                self._add("unknown", ref)  # whether it is GenAI is unknown too
            return node
        genai = row.genai or declared == "generated"
        node.update(
            audited=True,
            asset=row.asset,
            stage=row.stage,
            generated=row.generated,
            source_type=row.source_type,
            genai=genai,
            outcome=row.outcome,
        )
        waits = row.ancestry.get("pending") if isinstance(row.ancestry, dict) else None
        if waits:  # recorded by a watcher before what it waits for was audited
            node["pending"] = list(waits)
        if row.asset in path:
            node["cycle"] = True
            self.cycle = True
            return node
        # what this row says counts even when the asset was met before (another input's
        # summary, recorded before this row, may have listed it as not GenAI): GenAI or
        # unknown wins over not GenAI, whichever input comes first
        if genai:
            self._genai(ref, row, depth, declared=not row.genai)
        elif row.generated is None:
            self._add("unknown", row.asset)
        if row.asset in self.expanded:
            node["seen"] = True  # a shared ancestor, already expanded elsewhere in the tree
            return node
        self.expanded.add(row.asset)
        self.order.append(row.asset)
        if (
            self.shallow
            and row.ancestry is not None
            and summary_is_fresh(self.finder, row, row.ancestry, self.root)
        ):
            self._summarised(row.ancestry, depth, path)
            node["summarised"] = True  # its ancestors come from its recorded summary
            return node
        if row.inputs:
            if depth >= self.max_depth:
                node["truncated"] = True
                self.truncated = True
            else:
                node["inputs"] = self.inputs(row.inputs, depth + 1, [*path, row.asset])
        return node

    def _summarised(self, summary: dict[str, Any], depth: int, path: list[str]) -> None:
        """Take an input's recorded ancestry as the rest of this branch."""
        ancestors = [a for a in summary.get("assets", []) if isinstance(a, str)]
        if any(a in path for a in ancestors) or summary.get("cycle"):
            self.cycle = True
        for entry in summary.get("genai", []):
            name = entry.get("asset") if isinstance(entry, dict) else None
            # dedupe the listing, not the fact: an ancestor another input's (older) summary
            # listed as not GenAI is GenAI if this summary says so
            if not isinstance(entry, dict) or name in path or name in self.genai_names:
                continue
            if name is not None:
                self.genai_names.add(name)
            self.genai.append(
                {**entry, "depth": depth + int(entry.get("depth", 1)), "via": self.via}
            )
        omitted = summary.get("genai_omitted")
        if isinstance(omitted, int) and omitted > 0:
            self.genai_omitted += omitted
        for name in ancestors:
            if name not in self.expanded and name not in path:
                self.expanded.add(name)
                self.order.append(name)
        for key in ("unknown", "unresolved"):
            names = summary.get(key)
            for name in names if isinstance(names, list) else []:
                if isinstance(name, str):
                    self._add(key, name)
            omitted = summary.get(f"{key}_omitted")
            if isinstance(omitted, int) and omitted > 0:
                setattr(self, f"{key}_omitted", getattr(self, f"{key}_omitted") + omitted)
        self.truncated = self.truncated or bool(summary.get("truncated"))
        self.depth = max(self.depth, depth + int(summary.get("depth", 0)))

    def _add(self, key: str, name: str) -> None:
        """Add ``name`` to the ``unknown`` or ``unresolved`` list once (set membership)."""
        names: set[str] = getattr(self, f"{key}_names")
        if name not in names:
            names.add(name)
            getattr(self, key).append(name)

    def _genai(self, ref: str, row: AssetRow | None, depth: int, *, declared: bool) -> None:
        if row is not None:
            if row.asset in self.genai_names:
                return  # listed already, through another input
            self.genai_names.add(row.asset)
        entry: dict[str, Any] = {"ref": ref, "asset": row.asset if row else None, "depth": depth}
        entry["via"] = self.via
        if row is not None:
            entry.update(stage=row.stage, generated=row.generated, source_type=row.source_type)
        if declared:
            entry["declared"] = True  # the input's class says "generated"
        self.genai.append(entry)
