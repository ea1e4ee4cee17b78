"""``clearance lineage ASSET``: what an audited asset was made from, and which of it is GenAI.

Reads the lineage store (``audit.state`` in ``clearance.yaml``) that every ``scan``, ``check``
and ``watch`` fills. ``ASSET`` is a file, a frame of a sequence, a sequence pattern
(``comp/sh010_comp_v004.####.exr`` or ``%04d``), a path relative to the root, an asset id
(``x-asset-id``), a version key, or a sidecar (the asset it describes). Exit 0 when the
asset is in the store; 2 when it is not, or the store or configuration cannot be read.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import IO, Any

from .._display import shown, shown_text
from .._paths import given_path, located
from ..discover import described_by, is_sidecar
from ..lineage import (
    MAX_DEPTH,
    AssetRow,
    LineageError,
    LineageStore,
    iter_tree,
    normalise_ref,
)
from ..policy import Policy
from ._common import EXIT_ERROR, EXIT_OK, add_config_options, error, policy_for, report_output


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "lineage",
        help="print an audited asset's ancestry tree (what it was made from, what is GenAI)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "asset", metavar="ASSET", help="file, sequence pattern, root-relative path or asset id"
    )
    add_config_options(parser)
    parser.add_argument("--format", "-f", choices=("tree", "json"), default="tree")
    parser.set_defaults(func=run_lineage)


def _start(asset: str) -> str:
    """Where to look for ``clearance.yaml``: the asset, or the nearest of its folders that
    exists (an asset deleted or moved since its audit, with its shot folder: the show is
    still where it was), else the cwd."""
    path = Path(asset)
    for candidate in (path, *path.parents):
        if os.path.exists(candidate):  # False, not PermissionError, in a folder not searchable
            return str(candidate)
    return "."


def resolve(
    store: LineageStore, asset: str, root: Path, policy: Policy | None = None
) -> AssetRow | None:
    """The latest audit of ``asset``, as given on the command line (cwd-relative or not); a
    sidecar stands for the asset it describes, as for ``clearance check``."""
    try:  # named as the scan named it (through a stage folder that is a link, too)
        row = store.find(str(located(given_path(asset), root)), root)
    except OSError:  # (the working folder is gone: the name as given is all there is)
        row = None
    if row is None:
        row = store.find(asset, root)
    if row is None and policy is not None and is_sidecar(Path(asset).name):
        described = described_by(Path(asset), policy)
        if described:  # a frame names its sequence
            return resolve(store, str(Path(asset).parent / described[0]), root)
    return row


def run_lineage(args: argparse.Namespace) -> int:
    policy = policy_for(args, [_start(args.asset)])
    if policy.state_path is None:
        error("the configuration has no state store (audit.state)")
        return EXIT_ERROR
    try:
        store = LineageStore(policy.state_path, create=False)
    except LineageError as exc:
        error(str(exc))
        return EXIT_ERROR
    try:
        row = resolve(store, args.asset, policy.root, policy)
        if row is None and (not args.asset or os.path.isdir(args.asset)):
            # not "audit it with 'clearance scan' first": no scan puts a folder in the store
            what = (
                "ASSET is empty (an unset variable?)"
                if not args.asset
                else f"{args.asset}: is a folder"
            )
            error(
                f"{what}; lineage takes one asset: a file, a frame, a sequence pattern or an "
                "asset id"
            )
            return EXIT_ERROR
        if row is None:
            error(
                f"{args.asset}: not in the lineage store {policy.state_path} "
                f"(as {normalise_ref(args.asset, policy.root)!r}); audit it with 'clearance scan' first"
            )
            return EXIT_ERROR
        ancestry = store.ancestry(row.inputs, policy.root, start=row.asset)
    finally:
        store.close()
    with report_output():
        if args.format == "json":
            doc = {"version": 1, "asset": row.summary(), "inputs": row.inputs, "ancestry": ancestry}
            json.dump(doc, sys.stdout, indent=2, ensure_ascii=False)
            sys.stdout.write("\n")
        else:
            render_tree(row, ancestry, sys.stdout)
    return EXIT_OK


def _describe(node: dict[str, Any]) -> str:
    if not node.get("audited"):
        what = "not audited"
        if node.get("class"):
            what += f" (declared {node['class']})"
        return what + ("  GenAI (declared)" if node.get("genai") else "")
    parts = [f"[{node.get('stage')}]"]
    if node.get("genai"):
        source = node.get("source_type")
        parts.append(f"GenAI ({source})" if source else "GenAI")
    elif node.get("generated") is None:
        parts.append("generated unknown")
    else:
        parts.append("not generated")
    parts.append(f"outcome {node.get('outcome')}")
    if node.get("cycle"):
        parts.append("CYCLE: already on this path, not followed")
    elif node.get("seen"):
        parts.append("(shown above)")
    if node.get("truncated"):
        parts.append("(deeper inputs not followed: depth limit)")
    return "  ".join(parts)


def render_tree(row: AssetRow, ancestry: dict[str, Any], out: IO[str]) -> None:
    """The asset, then its inputs as a tree, then the GenAI ancestry in one sentence."""
    own = (
        "GenAI"
        if row.genai
        else ("generated unknown" if row.generated is None else "not generated")
    )
    frames = f"  frames {row.frames}" if row.frames else ""
    out.write(
        shown(row.asset)
        + shown_text(f"  [{row.stage}]  {own}  outcome {row.outcome}{frames}")
        + "\n"
    )
    nodes = list(iter_tree(ancestry["tree"]))
    for index, (depth, node) in enumerate(nodes):
        last = not any(d == depth for d, _ in _siblings_after(nodes, index))
        indent = "".join("   " if _closed(nodes, index, level) else "│  " for level in range(depth))
        branch = "└─ " if last else "├─ "
        name = node.get("asset") or node.get("ref")
        out.write(f"{indent}{branch}{shown(name)}  {shown_text(_describe(node))}\n")
    if not nodes:
        out.write("(no declared inputs)\n")
    genai = ancestry["genai"]
    out.write("\n")
    # a walk stopped at the depth limit has not seen everything: never "none known"
    cut = any(node.get("truncated") for _, node in nodes)
    if genai:
        more = ancestry.get("genai_omitted") or 0  # a capped list: counted, not listed
        tail = f" (and {more} more)" if more else ""
        out.write(f"GenAI ancestry: {len(genai) + more} GenAI ancestor(s): {_names(genai)}{tail}\n")
    elif not cut:
        out.write("GenAI ancestry: none known\n")
    else:
        recorded = row.ancestry.get("genai") if isinstance(row.ancestry, dict) else None
        if recorded:  # the audit's own walk (each input's summary) reached further
            out.write(
                f"GenAI ancestry: {len(recorded)} GenAI ancestor(s) as recorded when audited: "
                f"{_names(recorded)}\n"
            )
        else:
            out.write("GenAI ancestry: unknown (unsure): the walk stopped at the depth limit\n")
    if cut:
        out.write(
            f"incomplete: inputs deeper than {MAX_DEPTH} generations were not followed here "
            "(marked 'depth limit' above)\n"
        )
    for key, label in (("unresolved", "not audited"), ("unknown", "generated unknown")):
        if ancestry[key]:
            more = ancestry.get(f"{key}_omitted")
            tail = f" (and {more} more)" if more else ""
            out.write(f"{label}: {', '.join(shown(r) for r in ancestry[key])}{tail}\n")
    if ancestry["cycle"]:
        out.write("the declared inputs contain a cycle (an asset listed as its own ancestor)\n")


def _names(genai: list[dict[str, Any]]) -> str:
    return ", ".join(
        f"{shown(g.get('asset') or g.get('ref'))} (depth {g.get('depth')})"
        for g in genai
        if isinstance(g, dict)
    )


def _siblings_after(
    nodes: list[tuple[int, dict[str, Any]]], index: int
) -> list[tuple[int, dict[str, Any]]]:
    """Nodes after ``index`` up to the end of its parent's subtree."""
    depth = nodes[index][0]
    found = []
    for d, node in nodes[index + 1 :]:
        if d < depth:
            break
        found.append((d, node))
    return found


def _closed(nodes: list[tuple[int, dict[str, Any]]], index: int, level: int) -> bool:
    """Is the ancestor of ``nodes[index]`` at ``level`` the last child of its parent?"""
    for back in range(index, -1, -1):
        if nodes[back][0] == level:
            return not any(d == level for d, _ in _siblings_after(nodes, back))
    return True
