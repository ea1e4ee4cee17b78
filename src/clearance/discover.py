"""Walking trees into assets: media files, frame sequences, sidecar pairing, stages.

Rules (``docs/config.md``): an asset is a file with a media extension that is not hidden,
not a sidecar and not a temporary name. Files ``PREFIX.FRAME.EXT`` (FRAME all digits between
dots) with the same folder, PREFIX and EXT form one sequence, audited once and reported as
``PREFIX.####.EXT`` with its frame range. A single file pairs with ``NAME.EXT.genai.yaml`` (or
``.json``); a sequence with ``PREFIX.genai.yaml`` (or ``.json``).
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from .model import Asset
from .policy import Policy

__all__ = [
    "discover",
    "assets_from_files",
    "frame_ranges",
    "split_frame",
    "is_sidecar",
    "is_candidate",
    "sidecar_candidates",
    "Discovery",
]

SIDECAR_SUFFIXES = (".genai.yaml", ".genai.yml", ".genai.json")
_FRAME = re.compile(r"^(?P<prefix>.+)\.(?P<frame>\d+)\.(?P<ext>[A-Za-z0-9]+)$")


def is_sidecar(name: str) -> bool:
    lower = name.lower()
    return lower.endswith(SIDECAR_SUFFIXES) or lower.endswith(".c2pa")


def split_frame(name: str) -> tuple[str, str, str] | None:
    """``("sh010_bg_v003", "1001", "exr")`` for ``sh010_bg_v003.1001.exr``, else ``None``."""
    m = _FRAME.match(name)
    if m is None:
        return None
    return m.groups()  # type: ignore[return-value]  # (prefix, frame, ext)


def is_candidate(name: str, policy: Policy) -> bool:
    """Is a file name an asset under the policy (media extension, not hidden/tmp/sidecar)?"""
    # the test is kept on the policy, for as long as the fields it was made from stay
    key = (policy.extensions, policy.temporary, policy.ignore)
    memo = policy.__dict__.get("_candidate_test")
    if memo is None or any(a is not b for a, b in zip(memo[0], key, strict=True)):
        memo = policy.__dict__["_candidate_test"] = (key, candidate_test(policy))
    return memo[1](name)  # type: ignore[no-any-return]


#: the last part of every sidecar suffix: only names with one of these may be sidecars
_SIDECAR_EXTENSIONS = frozenset(s.rsplit(".", 1)[-1] for s in (*SIDECAR_SUFFIXES, ".c2pa"))


def candidate_test(policy: Policy) -> Callable[[str], bool]:
    """:func:`is_candidate` for one policy, with what it looks up taken once (a folder walk
    asks for every file name: a million frames, a million times)."""
    extensions = policy.extensions
    excluded = _excluded(policy)
    match = excluded.match if excluded is not None else None

    def test(name: str) -> bool:
        if name[:1] == ".":
            return False
        ext = name.rpartition(".")[2].lower() if "." in name else ""
        if ext not in extensions:
            return False
        if ext in _SIDECAR_EXTENSIONS and is_sidecar(name):
            return False
        return match is None or match(name) is None

    return test


def _excluded(policy: Policy) -> re.Pattern[str] | None:
    """One compiled pattern for the policy's temporary and ignore globs (memoised)."""
    patterns = (*policy.temporary, *policy.ignore)
    memo = _EXCLUDED.get(patterns, False)
    if memo is False:
        memo = (
            re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in patterns))
            if patterns
            else None
        )
        if len(_EXCLUDED) > 64:
            _EXCLUDED.clear()
        _EXCLUDED[patterns] = memo
    return memo  # type: ignore[return-value]


_EXCLUDED: dict[tuple[str, ...], re.Pattern[str] | None | bool] = {}


def frame_ranges(frames: Iterable[int]) -> str:
    """``[1001, 1002, 1003, 1005]`` → ``"1001-1003,1005"``."""
    ordered = sorted(set(frames))
    if not ordered:
        return ""
    parts: list[str] = []
    start = prev = ordered[0]
    for n in ordered[1:]:
        if n == prev + 1:
            prev = n
            continue
        parts.append(f"{start}-{prev}" if prev != start else str(start))
        start = prev = n
    parts.append(f"{start}-{prev}" if prev != start else str(start))
    return ",".join(parts)


def sidecar_candidates(folder: Path, name: str, *, sequence_prefix: str | None) -> list[Path]:
    """Where an asset's sidecar may be, in order of preference."""
    stems = [sequence_prefix] if sequence_prefix is not None else []
    stems.append(name)
    return [folder / f"{stem}{suffix}" for stem in stems for suffix in SIDECAR_SUFFIXES]


@dataclass
class Discovery:
    """What a walk found: the assets, and paths it could not read (reported, never fatal)."""

    assets: list[Asset]
    errors: list[tuple[str, str]]  # (path, reason)


def _rel(root: Path, path: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def _walk(
    top: Path, policy: Policy, errors: list[tuple[str, str]]
) -> Iterator[tuple[Path, list[str], set[str]]]:
    """Yield (folder, candidate asset names, all file names) for every visible folder."""
    candidate = candidate_test(policy)
    stack = [top]
    while stack:
        folder = stack.pop()
        names: list[str] = []
        all_names: set[str] = set()
        subdirs: list[Path] = []
        try:
            with os.scandir(folder) as it:
                for entry in it:
                    if entry.name.startswith("."):
                        continue
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            subdirs.append(Path(entry.path))
                        elif entry.is_file():
                            all_names.add(entry.name)
                            if candidate(entry.name):
                                names.append(entry.name)
                    except OSError as exc:
                        errors.append((entry.path, exc.strerror or str(exc)))
        except OSError as exc:
            errors.append((str(folder), exc.strerror or str(exc)))
            continue
        yield folder, names, all_names
        stack.extend(sorted(subdirs, reverse=True))


def _group(folder: Path, names: Sequence[str], all_names: set[str], root: Path) -> list[Asset]:
    """Group a folder's candidate names into single files and sequences, pair sidecars."""
    sequences: dict[tuple[str, str], list[tuple[int, str]]] = {}
    singles: list[str] = []
    for name in names:
        parts = split_frame(name)
        if parts is None:
            singles.append(name)
        else:
            prefix, frame, ext = parts
            sequences.setdefault((prefix, ext), []).append((int(frame), name))
    assets: list[Asset] = []
    siblings = frozenset(all_names)  # one shared set per folder
    # A sequence makes a Path per frame: pathlib's own constructor for a listed name (no
    # separators to parse) is 5x faster than ``folder / name`` and gives the equal Path;
    # where a Python lacks it, the public way.
    child = getattr(folder, "_make_child_relpath", None)
    base = _rel(root, folder)
    base = "" if base == "." else base + "/"
    for name in singles:
        path = folder / name
        sidecar = None
        for suffix in SIDECAR_SUFFIXES:  # sidecar_candidates(), by name: once per file
            if name + suffix in all_names:
                sidecar = folder / (name + suffix)
                break
        assets.append(
            Asset(
                path=path,
                rel=base + name,
                root=root,
                files=[path],
                sidecar=sidecar,
                siblings=siblings,
            )
        )
    for (prefix, ext), frames in sequences.items():
        frames.sort()
        first_name = frames[0][1]
        pad = len(split_frame(first_name)[1])  # type: ignore[index]
        pattern = f"{prefix}.{'#' * pad}.{ext}"
        names = [n for _, n in frames]
        files = [child(n) for n in names] if child else [folder / n for n in names]
        numbers = [f for f, _ in frames]
        extra = sidecar_candidates(folder, first_name, sequence_prefix=prefix)
        if len(frames) > 1:
            extra = extra[: len(SIDECAR_SUFFIXES)]
        sidecar = _pick(folder, all_names, extra)
        assets.append(
            Asset(
                path=files[0],
                rel=_rel(root, folder / pattern),
                root=root,
                files=files,
                frames=frame_ranges(numbers),
                frame_numbers=numbers,
                sidecar=sidecar,
                siblings=siblings,
            )
        )
        assets[-1].__dict__["_names"] = (files, names)  # Asset.file_names(), known already
    return assets


def _pick(folder: Path, all_names: set[str], candidates: list[Path]) -> Path | None:
    for candidate in candidates:
        if candidate.name in all_names:
            return candidate
    return None


def discover(
    paths: Sequence[str | os.PathLike[str]], policy: Policy, *, stage: str | None = None
) -> Discovery:
    """Every asset under ``paths`` (folders walked, files taken as given), sorted by path.

    Each asset's ``stage`` is ``stage`` if given, else the policy's folder→stage mapping
    (``default`` for files under no stage's paths).
    """
    root = policy.root
    errors: list[tuple[str, str]] = []
    found: dict[str, Asset] = {}
    loose: list[Path] = []
    for raw in paths or [root]:
        top = Path(raw).resolve()
        if top.is_file():
            loose.append(top)
            continue
        if not top.exists():
            errors.append((str(raw), "no such file or folder"))
            continue
        for folder, names, all_names in _walk(top, policy, errors):
            for asset in _group(folder, names, all_names, root):
                found.setdefault(asset.rel, asset)
    for asset in assets_from_files(loose, policy).assets:
        found.setdefault(asset.rel, asset)
    assets = sorted(found.values(), key=lambda a: a.rel)
    for asset in assets:
        asset.stage = stage if stage else policy.stage_for(asset.rel).name
    return Discovery(assets, errors)


def assets_from_files(files: Sequence[str | os.PathLike[str]], policy: Policy) -> Discovery:
    """Assets made of exactly the files given (frames given together form one sequence)."""
    by_folder: dict[Path, list[str]] = {}
    errors: list[tuple[str, str]] = []
    for raw in files:
        path = Path(raw).resolve()
        if not path.is_file():
            errors.append((str(raw), "no such file"))
            continue
        if is_sidecar(path.name):
            continue
        by_folder.setdefault(path.parent, []).append(path.name)
    assets: list[Asset] = []
    for folder, names in by_folder.items():
        try:
            all_names = set(os.listdir(folder))
        except OSError as exc:
            errors.append((str(folder), exc.strerror or str(exc)))
            continue
        assets.extend(_group(folder, sorted(set(names)), all_names, policy.root))
    for asset in assets:
        asset.stage = policy.stage_for(asset.rel).name
    return Discovery(sorted(assets, key=lambda a: a.rel), errors)
