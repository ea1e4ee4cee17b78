"""Walking trees into assets: media files, frame sequences, sidecar pairing, stages.

Rules (``docs/config.md``): an asset is a file with a media extension that is not hidden,
not a sidecar and not a temporary name. Files ``PREFIX.FRAME.EXT`` (FRAME all digits between
dots) with the same folder, PREFIX and EXT form one sequence, audited once and reported as
``PREFIX.####.EXT`` with its frame range. A single file pairs with ``NAME.EXT.genai.yaml`` (or
``.json``); a sequence with ``PREFIX.genai.yaml`` (or ``.json``). Folders reached through
a link are walked, once each (see :func:`_walk`).
"""

from __future__ import annotations

import fnmatch
import operator
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import compress
from pathlib import Path, PurePosixPath

from ._paths import given_path, located
from .model import Asset, FrameFiles, printable, relative_posix
from .policy import Policy

__all__ = [
    "discover",
    "assets_from_files",
    "folder_assets",
    "frame_ranges",
    "split_frame",
    "is_sidecar",
    "is_candidate",
    "in_hidden_folder",
    "sidecar_candidates",
    "sidecar_names",
    "not_a_file",
    "not_a_file_entry",
    "not_an_asset",
    "special_file",
    "Discovery",
]

#: why an empty path given is not audited (it would stand for the current folder)
EMPTY_PATH = "an empty path (an unset variable?) names nothing; give . for the current folder"

SIDECAR_SUFFIXES = (".genai.yaml", ".genai.yml", ".genai.json")
#: a frame number is ASCII digits (``\d`` would read Arabic-Indic ``a.\u0661\u0660\u0660\u0662.png``
#: as frame 1002 beside ``a.1002.png``); a name with other digits is a single file
_FRAME = re.compile(r"^(?P<prefix>.+)\.(?P<frame>[0-9]+)\.(?P<ext>[A-Za-z0-9]+)$")


_SPECIAL_FILES = {
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
}


def special_file(mode: int) -> str:
    """What a file of ``mode`` that is neither a regular file nor a folder is, in the user's
    words (``a named pipe (FIFO)``)."""
    return _SPECIAL_FILES.get(stat.S_IFMT(mode), "a special file")


def not_a_file(path: str | os.PathLike[str]) -> str:
    """Why ``path`` (links followed) is not a regular file, in the user's words: ``no such
    file``, ``is a symbolic link to T, which does not exist …`` (a share not mounted), ``is a
    folder``, ``is a named pipe (FIFO), not a regular file``, or the error that stops it
    being looked at (``Permission denied``: a folder without search permission); ``""``
    when it is one."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        if os.path.islink(path):  # a share not mounted: not a name mistyped
            return (
                f"is a symbolic link to {printable(os.readlink(path))}, which does not exist "
                "(or is not reachable)"
            )
        return "no such file"
    except OSError as exc:
        return f"cannot be looked at: {exc.strerror or exc}"
    if stat.S_ISREG(mode):
        return ""
    if stat.S_ISDIR(mode):
        return "is a folder"
    return f"is {special_file(mode)}, not a regular file"


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
    return _tests(policy)[0](name)


def in_hidden_folder(rel: str) -> bool:
    """Is ``rel`` (a path relative to the folder walked or watched, with ``/``) hidden, or in
    a hidden folder below it? A walk never enters a hidden folder (a staging ``.v003.tmp/``,
    a ``.wip/``) and the watcher never audits what is in one; other folder names, temporary
    or ignored-looking ones included, are entered (``temporary`` and ``ignore`` apply to
    file names)."""
    return rel[:1] == "." or "/." in rel


def _tests(policy: Policy) -> tuple[Callable[[str], bool], re.Pattern[str] | None]:
    """:func:`candidate_test` and :func:`_classifier` for ``policy``, kept on the policy for
    as long as the fields they were made from stay."""
    memo = policy.__dict__.get("_candidate_test")
    if memo is not None:  # (the watcher asks for every event: no tuple, no generator here)
        made_from = memo[0]
        if (
            made_from[0] is policy.extensions
            and made_from[1] is policy.temporary
            and made_from[2] is policy.ignore
        ):
            return memo[1], memo[2]
    key = (policy.extensions, policy.temporary, policy.ignore)
    memo = policy.__dict__["_candidate_test"] = (key, candidate_test(policy), _classifier(policy))
    return memo[1], memo[2]


#: the last part of every sidecar suffix: only names with one of these may be sidecars
_SIDECAR_EXTENSIONS = frozenset(s.rsplit(".", 1)[-1] for s in (*SIDECAR_SUFFIXES, ".c2pa"))


def candidate_test(policy: Policy) -> Callable[[str], bool]:
    """:func:`is_candidate` for one policy, with what it looks up taken once."""
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


def _classifier(policy: Policy) -> re.Pattern[str] | None:
    """One pattern that is :func:`is_candidate` and :func:`split_frame` at once: it matches
    exactly the candidate names, with groups ``(prefix, frame, ext)`` set for a frame.

    A folder walk asks this of every file name (a million frames, a million times): one
    regular-expression match instead of a Python test and a second match. Extensions are
    compared ASCII case-insensitively (``str.lower`` would also fold a few non-ASCII
    letters, such as the Kelvin sign, into ASCII ones). ``None`` when the policy's
    extensions cannot be written as one (an empty extension): the walk then uses the two
    functions.
    """
    extensions = sorted(policy.extensions, key=lambda e: (-len(e), e))
    if not extensions or any(not e or "." in e for e in extensions):
        return None  # "" matches a name without a dot; a dotted one never matches at all
    if any(e != e.lower() or not e.isascii() for e in extensions):
        return None  # the test lower()s the name's extension; keep to what (?i) agrees with
    every = "|".join(re.escape(e) for e in extensions)
    # split_frame's pattern: a prefix without a newline, the frame, an alphanumeric extension
    framed = "|".join(re.escape(e) for e in extensions if re.fullmatch(r"[a-z0-9]+", e))
    excluded = _excluded(policy)
    sidecar = "|".join(re.escape(s) for s in (*SIDECAR_SUFFIXES, ".c2pa"))
    pattern = (
        r"(?!\.)"  # hidden
        + (f"(?!{excluded.pattern})" if excluded is not None else "")  # temporary, ignore
        + f"(?!(?ais:.*(?:{sidecar}))\\Z)"  # a sidecar
        + (
            f"(?:(?P<prefix>[^\\n]+)\\.(?P<frame>[0-9]+)\\.(?P<ext>(?ai:{framed}))\\Z|"
            if framed
            else "(?:"
        )
        + f"(?s:.*)\\.(?ai:{every})\\Z)"
    )
    return re.compile(pattern)


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
    return [folder / n for n in sidecar_names(name, sequence_prefix=sequence_prefix)]


def sidecar_names(name: str, *, sequence_prefix: str | None) -> list[str]:
    """The names of :func:`sidecar_candidates`, in the same order."""
    stems = [sequence_prefix] if sequence_prefix is not None else []
    stems.append(name)
    return [f"{stem}{suffix}" for stem in stems for suffix in SIDECAR_SUFFIXES]


@dataclass
class Discovery:
    """What a walk found: the assets, and paths it could not read (reported, never fatal)."""

    assets: list[Asset]
    errors: list[tuple[str, str]]  # (path, reason)
    #: what the run must say but is no error (path, reason): a linked folder not walked
    warnings: list[tuple[str, str]] = field(default_factory=list)
    #: the stages whose every configured folder was walked, with no error in it: the run saw
    #: all of the stage's assets, none for a stage now empty (see :func:`whole_stages`)
    whole_stages: frozenset[str] = frozenset()


class _Errors(list[tuple[str, str]]):
    """A discovery's errors in the order found; :meth:`add` keeps each once (a set beside the
    list: a list's own ``in`` made thousands of same-name errors quadratic)."""

    def __init__(self) -> None:
        super().__init__()
        self._said: set[tuple[str, str]] = set()

    def add(self, error: tuple[str, str]) -> None:
        if error not in self._said:
            self._said.add(error)
            self.append(error)


def _walk(
    top: Path,
    errors: list[tuple[str, str]],
    warnings: _Errors,
    unread: Callable[[str], str] | None = None,
    root: Path | None = None,
) -> Iterator[tuple[Path, list[str], dict[str, str]]]:
    """Yield (folder, the names of its visible files, its other visible entries by name
    with what each is: see :func:`_entries`) for every visible folder.

    A link to a folder (a link to a share) is walked under its own name, unless its target
    is inside ``top`` (``latest -> v003``: walked anyway, its assets are audited under their
    real path) or a folder walked already (a loop, a second link to one share): that is a
    warning, once. Only entries that are links are looked at for this (after ``is_file``
    and ``is_dir``, which ``d_type`` answers), and only folders reached through a link are
    resolved and stat'ed (their ``(st_dev, st_ino)``, against loops). An entry named as an
    asset or a sidecar that is not a file (``unread``, :func:`_entries`) is one of ``errors``.
    A linked folder whose target is elsewhere under ``root`` (``comp/out -> ../delivery``,
    ``top`` being ``comp``) is walked under its real path, as a walk of the root names it.
    """
    inside = os.path.join(os.path.realpath(top), "")
    show = os.path.join(str(root), "") if root is not None else None
    seen: dict[tuple[int, int], str] = {}  # folders reached through a link: where first
    stack: list[tuple[Path, bool]] = [(top, False)]
    while stack:
        folder, linked = stack.pop()
        if linked:  # reached through a link to a folder
            real = os.path.realpath(folder)
            if os.path.join(real, "").startswith(inside):
                warnings.add(
                    (str(folder), _linked(f"{real}, which this scan walks", "their path there"))
                )
                continue
            try:
                st = os.stat(folder)
            except OSError as exc:
                errors.append((str(folder), exc.strerror or str(exc)))
                continue
            first = seen.setdefault((st.st_dev, st.st_ino), str(folder))
            if first != str(folder):
                warnings.add(
                    (str(folder), _linked(f"{real}, walked already as {first}", "that path"))
                )
                continue
            if show is not None and os.path.join(real, "").startswith(show):
                folder = Path(real)  # the show's own folder: its name there, and its stage
        odd: dict[str, str] = {}
        try:
            files, subdirs = _entries(folder, errors, linked, unread, odd)
        except OSError as exc:
            errors.append((str(folder), exc.strerror or str(exc)))
            continue
        yield folder, files, odd
        stack.extend(sorted(subdirs, reverse=True))


def _entries(
    folder: Path,
    errors: list[tuple[str, str]],
    linked: bool = False,
    unread: Callable[[str], str] | None = None,
    odd: dict[str, str] | None = None,
) -> tuple[list[str], list[tuple[Path, bool]]]:
    """The names of ``folder``'s visible files and its visible sub-folders, each with whether
    it is reached through a link to a folder (a folder below one is: ``linked``), in one
    ``os.scandir``; an entry that cannot be looked at is one of ``errors``, and so is one
    that is neither a file nor a folder and that ``unread`` says is named as an asset or a
    sidecar (what that means: ``"not audited"``, ``"not read"``; ``""`` for another name): a named pipe, a
    socket, a device, a link to one or to nothing (a share not mounted). It is never read
    (a named pipe would block the run) and never passed over in silence (its stage would
    be complete without it). ``odd``, if given, gets the visible entries that are not files,
    by name, with what each is (``is a folder, not a regular file``): an asset's frame, sidecar or manifest
    named so (:func:`_note_not_files`). Raises OSError when the folder cannot be listed."""
    files: list[str] = []
    subdirs: list[tuple[Path, bool]] = []
    with os.scandir(folder) as it:
        for entry in it:
            name = entry.name
            if name[0] == ".":
                continue
            try:
                if entry.is_file():  # (a link to a file is one)
                    files.append(name)
                elif entry.is_dir(follow_symlinks=False):
                    subdirs.append((Path(entry.path), linked))
                    if odd is not None:
                        odd[name] = "is a folder, not a regular file"
                elif entry.is_symlink() and entry.is_dir():  # a link to a folder
                    subdirs.append((Path(entry.path), True))
                    if odd is not None:
                        odd[name] = "is a link to a folder, not a regular file"
                elif unread is not None and (meaning := unread(name)):
                    what = _not_a_file_entry(entry.path)
                    errors.append((entry.path, f"{what}; {meaning}"))
                    if odd is not None:
                        odd[name] = what
            except OSError as exc:
                errors.append((entry.path, exc.strerror or str(exc)))
    return files, subdirs


def _not_a_file_entry(path: str) -> str:
    """:func:`not_a_file` for a walked entry that is neither a file nor a folder, a link to
    nothing named with its target."""
    if os.path.islink(path) and not os.path.exists(path):
        target = os.readlink(path)
        return f"is a symbolic link to {target}, which does not exist (or is not reachable)"
    return not_a_file(path)


def not_a_file_entry(path: str) -> str:
    """What a walk says of the entry ``path`` when it is named as an asset's file but is no
    regular file (:attr:`~clearance.model.Asset.not_files`): ``is a folder, not a regular
    file``, a link to one, to nothing, a named pipe…; ``""`` for a file (links followed) or
    nothing at all. One ``lstat`` when nothing is there."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return ""
    if stat.S_ISREG(mode):
        return ""
    if stat.S_ISDIR(mode):
        return "is a folder, not a regular file"
    if stat.S_ISLNK(mode):
        if os.path.isdir(path):
            return "is a link to a folder, not a regular file"
        if os.path.isfile(path):
            return ""
    return _not_a_file_entry(path)


def _linked(target: str, where: str) -> str:
    return f"a link to the folder {target}: not walked again (its assets are audited under {where})"


#: A folder's candidates: single files by name, and frames by (prefix, extension) as their
#: numbers and names, sorted by number (then by name where two numbers are equal).
_Split = tuple[list[str], dict[tuple[str, str], tuple[list[int], list[str]]]]


def _split_names(names: Iterable[str]) -> _Split:
    """Group names into single files and frames (every name is taken as a candidate)."""
    singles: list[str] = []
    sequences: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for name in names:
        parts = split_frame(name)
        if parts is None:
            singles.append(name)
        else:
            prefix, frame, ext = parts
            sequences.setdefault((prefix, ext), []).append((int(frame), name))
    return singles, {key: _ordered(frames) for key, frames in sequences.items()}


def _ordered(frames: list[tuple[int, str]]) -> tuple[list[int], list[str]]:
    """A sequence's (number, name) pairs as numbers and names sorted by number; two equal
    numbers (``1`` and ``01``) by name."""
    by_number = dict(frames)
    if len(by_number) < len(frames):
        frames.sort()
        return list(map(_NUMBER, frames)), list(map(_FRAME_NAME, frames))
    numbers = _sorted_numbers(by_number)
    return numbers, list(map(by_number.__getitem__, numbers))


def _sorted_numbers(distinct: Iterable[int]) -> list[int]:
    numbers = list(distinct)
    first, last = min(numbers), max(numbers)
    if last - first == len(numbers) - 1:  # no gaps, the common case: nothing to sort
        return list(range(first, last + 1))
    numbers.sort()
    return numbers


#: a folder with at least this many names that is mostly one sequence is split by
#: :func:`_one_sequence` (making its pattern costs about as much as matching 60 names)
_RUN_MIN = 64


def _classify(names: Sequence[str], policy: Policy) -> _Split:
    """The candidates among a folder's file names, grouped as :func:`_split_names` does."""
    test, classifier = _tests(policy)
    if classifier is None:
        return _split_names(filter(test, names))
    if len(names) >= _RUN_MIN:
        split = _one_sequence(names, classifier, policy)
        if split is not None:
            return split
    found = list(filter(None, map(classifier.match, names)))
    if not found:
        return [], {}
    keys = list(map(_KEY, found))
    if keys.count(keys[0]) == len(keys):  # one sequence, or only single files: no loop
        key = keys[0]
        if key[0] is None:
            return list(map(_NAME, found)), {}
        numbers = map(int, map(_FRAME_NUMBER, found))
        return [], {key: _ordered(list(zip(numbers, map(_NAME, found), strict=True)))}
    singles: list[str] = []
    sequences: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for key, m in zip(keys, found, strict=True):
        if key[0] is None:
            singles.append(m.string)
            continue
        frames = sequences.get(key)
        if frames is None:
            frames = sequences[key] = []
        frames.append((int(m[2]), m.string))
    return singles, {key: _ordered(frames) for key, frames in sequences.items()}


def _one_sequence(
    names: Sequence[str], classifier: re.Pattern[str], policy: Policy
) -> _Split | None:
    """A folder that is mostly one sequence (a render's frames, its sidecar, a few others),
    split without the classifier's match per name: the first frame's ``PREFIX.FRAME.EXT``
    with ASCII digits is a plain pattern, about half the classifier's cost per name, and
    frames of one width sort by name. The other names go through :func:`_classify`.
    ``None`` when that does not apply.

    Every name of that form is a frame of the sequence exactly when the first one is: the
    classifier's tests (hidden, sidecar, extension) read only the prefix and the extension,
    which they share, and :func:`_uniform_exclusions` checks the policy's globs cannot tell
    two frame numbers apart.
    """
    first = None
    for name in names[:8]:  # a sequence's folder starts with a frame, or nearly
        m = classifier.match(name)
        if m is not None and m[2] is not None:
            first = m
            break
    if first is None or not _uniform_exclusions(policy):
        return None
    prefix, ext = key = first[1], first[3]
    before, after = len(prefix) + 1, -1 - len(ext)
    frame = re.compile(f"{re.escape(prefix)}\\.([0-9]+)\\.{re.escape(ext)}")
    matches = list(map(frame.fullmatch, names))
    frames = list(compress(names, matches))
    if len(frames) * 2 < len(names):
        return None  # mostly something else
    width = min(map(len, frames))
    if sum(map(len, frames)) == width * len(frames):  # one width: by name is by number
        frames.sort()
        low, high = int(frames[0][before:after]), int(frames[-1][before:after])
        if high - low == len(frames) - 1:  # no gaps (names are unique, so no equal numbers)
            numbers = list(range(low, high + 1))
        else:
            numbers = [int(f[before:after]) for f in frames]
    else:
        digits = map(_FRAME_DIGITS, filter(None, matches))
        numbers, frames = _ordered(list(zip(map(int, digits), frames, strict=True)))
    if len(frames) == len(names):
        return [], {key: (numbers, frames)}
    others = [name for name, m in zip(names, matches, strict=True) if m is None]
    singles, sequences = _classify(others, policy)
    more = sequences.pop(key, None)  # (none: the classifier's frames are ASCII digits too)
    if more is not None:
        numbers, frames = _ordered([*zip(numbers, frames, strict=True), *zip(*more, strict=True)])
    sequences[key] = (numbers, frames)
    return singles, sequences


def _uniform_exclusions(policy: Policy) -> bool:
    """Do the policy's temporary and ignore globs say the same of every frame of a sequence?

    True when each is made of ``*`` and characters that are not digits: such a glob cannot
    tell ``P.1001.E`` from ``P.1002.E`` (no literal can match a digit, and the digits always
    fall under a ``*``). ``?`` and ``[...]`` count characters or match digits, so a glob with
    them is matched name by name.
    """
    return all(
        not any(c in "?[" or c.isnumeric() for c in glob)
        for glob in (*policy.temporary, *policy.ignore)
    )


# the parts of a classifier match: (prefix, ext) — (None, None) for a single file —, the
# frame, the name
_KEY = operator.itemgetter(1, 3)
_FRAME_NUMBER = operator.itemgetter(2)
_FRAME_DIGITS = operator.itemgetter(1)  # of _one_sequence's pattern
_NAME = operator.attrgetter("string")
# the parts of a sequence's (frame number, name) pairs
_NUMBER = operator.itemgetter(0)
_FRAME_NAME = operator.itemgetter(1)


def _group(
    folder: Path,
    split: _Split,
    siblings: frozenset[str],
    root: Path,
    firsts: dict[tuple[str, str], str] | None = None,
) -> list[Asset]:
    """Assets from a folder's grouped candidates, with their sidecars paired.

    A sequence's name has one ``#`` per digit of its first frame, or of ``firsts[(prefix,
    ext)]``: the first frame in the whole folder, for frames given (``render.10.png`` of
    ``render.8.png`` … ``render.12.png`` is ``render.#.png``, as a walk names it)."""
    singles, sequences = split
    assets: list[Asset] = []
    # every name the assets below account for (their files and the sidecars they read or
    # report): when that is all the folder holds, it has no frame sidecars to look for
    accounted = len(singles)
    base = relative_posix(folder, root)
    base = "" if base == "." else base + "/"
    # pathlib's constructor for a listed name (nothing to parse) where it has one: `/`
    # parses the name again, ≈ 3 µs of a 20,000-asset tree's two paths per asset
    child = getattr(folder, "_make_child_relpath", folder.__truediv__)
    for name in singles:
        path = child(name)
        # sidecar_candidates(), by name: once per file
        found = [child(name + s) for s in SIDECAR_SUFFIXES if name + s in siblings]
        accounted += len(found)
        assets.append(
            Asset(
                path=path,
                rel=base + name,
                root=root,
                files=[path],
                sidecar=found[0] if found else None,
                other_sidecars=tuple(found[1:]),
                siblings=siblings,
            )
        )
    for (prefix, ext), (numbers, frame_names) in sequences.items():
        first_name = frame_names[0]
        named_by = first_name if firsts is None else firsts.get((prefix, ext), first_name)
        pad = len(split_frame(named_by)[1])  # type: ignore[index]
        files = FrameFiles(folder, frame_names)
        extra = sidecar_candidates(folder, first_name, sequence_prefix=prefix)
        if len(numbers) > 1:
            extra = extra[: len(SIDECAR_SUFFIXES)]
        first, last = numbers[0], numbers[-1]
        if last - first == len(numbers) - 1:  # sorted: no gaps and no equal numbers
            ranges = f"{first}-{last}" if last != first else str(first)
        else:
            ranges = frame_ranges(numbers)
        found = [candidate for candidate in extra if candidate.name in siblings]
        accounted += len(frame_names) + len(found)
        assets.append(
            Asset(
                path=files[0],
                rel=f"{base}{prefix}.{'#' * pad}.{ext}",
                root=root,
                files=files,
                frames=ranges,
                frame_numbers=numbers,
                sidecar=found[0] if found else None,
                other_sidecars=tuple(found[1:]),
                siblings=siblings,
            )
        )
    if sequences and accounted < len(siblings):
        loose = [n for n in siblings if n.endswith(SIDECAR_SUFFIXES)]
        if loose:
            _frame_sidecars(assets, loose, child)
    return assets


def _frame_sidecars(assets: list[Asset], loose: list[str], child: Callable[[str], Path]) -> None:
    """Add to each sequence of ``assets`` of more than one frame the sidecars of its frames
    (``plate.1002.png.genai.yaml``) among the folder's sidecar names ``loose``, as sidecars
    it does not read (:attr:`~clearance.model.Asset.other_sidecars`): a sequence's
    provenance is ``PREFIX.genai.yaml``, and what a frame's sidecar says (GenAI on that
    frame) must not be passed over in silence. A sequence of one frame reads its frame's."""
    by_stem: dict[str, list[str]] = {}
    for suffix in SIDECAR_SUFFIXES:
        for name in loose:
            if name.endswith(suffix):
                by_stem.setdefault(name[: -len(suffix)], []).append(name)
    for asset in assets:
        if len(asset.files) < 2 or not asset.is_sequence:
            continue
        extra = [
            name for frame in asset.file_names() if frame in by_stem for name in by_stem[frame]
        ]  # in frame order, each frame's in SIDECAR_SUFFIXES order
        if extra:
            asset.other_sidecars = (*asset.other_sidecars, *map(child, extra))


class _Names:
    """A folder's names, listed once and indexed by what a sidecar's stem can describe (see
    :func:`described_by`): each sidecar given to ``clearance check`` is then a few look-ups,
    not a listing and a pass over the whole folder (4,000 sidecars of an 8,000-file folder)."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = list(names)
        self._index: tuple[set[str], dict[str, list[str]], dict[str, list[str]]] | None = None

    def described(self, stem: str, *, manifest: bool) -> set[str]:
        """The names that are ``stem``, frames ``stem.FRAME.EXT``, and for a manifest also
        ``stem.EXT``."""
        if self._index is None:
            frames: dict[str, list[str]] = {}
            roots: dict[str, list[str]] = {}
            for name in self.names:
                frame = split_frame(name)
                if frame is not None:
                    frames.setdefault(frame[0], []).append(name)
                roots.setdefault(os.path.splitext(name)[0], []).append(name)
            self._index = (set(self.names), frames, roots)
        exact, frames, roots = self._index
        found = set(frames.get(stem, ()))
        if stem in exact:
            found.add(stem)
        if manifest:
            found.update(roots.get(stem, ()))
        return found


def described_by(sidecar: Path, policy: Policy, names: _Names | None = None) -> list[str]:
    """The names of the asset files next to ``sidecar`` that it describes: ``X.png`` for
    ``X.png.genai.yaml`` (or ``X.png.c2pa``, or ``X.c2pa``, which the C2PA reader reads for
    ``X.png`` too), every frame ``PREFIX.####.EXT`` for ``PREFIX.genai.yaml`` (or
    ``PREFIX.c2pa``). ``names``: the folder's names, when the caller listed it already."""
    lower = sidecar.name.lower()
    suffix = next(s for s in (*SIDECAR_SUFFIXES, ".c2pa") if lower.endswith(s))
    stem = sidecar.name[: -len(suffix)]
    if names is None:
        try:
            names = _Names(os.listdir(sidecar.parent))
        except OSError:
            return []
    test = _tests(policy)[0]
    return sorted(filter(test, names.described(stem, manifest=suffix == ".c2pa")))


def _identity(asset: Asset) -> tuple[str, ...]:
    """What an asset is on disk: a file, or a folder's frames of one prefix and extension
    (a frame given alone and the sequence it belongs to are the same asset)."""
    if not asset.is_sequence:
        return ("file", os.fspath(asset.path))
    prefix, _, ext = split_frame(asset.path.name)  # type: ignore[misc]
    return ("sequence", os.fspath(asset.path.parent), prefix, ext)


def _described(asset: Asset) -> str:
    """An asset for a message, told apart from any other of the same name."""
    if asset.is_sequence:
        names = asset.file_names()
        what = f"the frame sequence {_shown(names[0])} … {_shown(names[-1])}"
        return f"{what} (frames {asset.frames})"
    return f"the file {_shown(asset.path.name)}"


def _shown(name: str) -> str:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # its bytes: its escaped name is what it collides with
        return f"{ascii(os.fsencode(name))} (a name that is not UTF-8)"
    return name


def _same_name(found: dict[str, Asset], asset: Asset, errors: _Errors) -> None:
    """``asset`` has the name of an asset found before (``found[asset.rel]``).

    The same asset found twice (overlapping paths, a frame given beside its folder) is kept
    once. Two different ones (a file literally named ``seq.####.png`` beside the sequence
    ``seq.1001.png`` …; a name that is not UTF-8, ``caf\\xe9.png``, beside a file literally
    named so) cannot both be reported, cached or recorded in lineage under one name: one is
    audited, the other is a discovery error naming both (exit 2), never silently dropped.
    The sequence is audited rather than a file, and a file whose name is shown as it is
    rather than one whose name had to be escaped.
    """
    kept = found[asset.rel]
    if _identity(kept) == _identity(asset):
        return
    first, second = sorted((kept, asset), key=_audited_first)
    found[asset.rel] = first
    path = os.fspath(second.path)
    if second.is_sequence:
        path = os.path.join(os.path.dirname(path), second.name)
    error = (
        path,
        f"not audited: {_described(second)} has the same name, {asset.rel}, as "
        f"{_described(first)}, which is audited under it; rename one of them",
    )
    errors.add(error)  # once (the file given again, beside its folder)


def _named(
    folder: Path, whole: _Split, siblings: frozenset[str], rels: set[str], policy: Policy
) -> list[Asset]:
    """The assets a walk of ``folder`` (its candidates grouped: ``whole``) finds under one of
    ``rels``."""
    singles, sequences = whole
    wanted = {rel.rpartition("/")[2] for rel in rels}
    patterns = {(m[1], m[3]) for m in map(_PATTERN.fullmatch, wanted) if m is not None}
    split: _Split = (
        [name for name in singles if printable(name) in wanted],
        {
            key: frames
            for key, frames in sequences.items()
            if (printable(key[0]), printable(key[1])) in patterns
        },
    )
    assets = _group(folder, split, siblings, policy.root)
    return [asset for asset in assets if asset.rel in rels]


#: a sequence's name, ``PREFIX.####.EXT``: (prefix, ``#``s, extension)
_PATTERN = re.compile(r"(.+)\.(#+)\.([^.]+)", re.DOTALL)


def _audited_first(asset: Asset) -> tuple[bool, bool, bytes]:
    path = os.fspath(asset.path)
    try:
        path.encode("utf-8")
        escaped = False
    except UnicodeEncodeError:  # its name in reports is an escape (model.printable)
        escaped = True
    return (not asset.is_sequence, escaped, os.fsencode(path))


def discover(
    paths: Sequence[str | os.PathLike[str]], policy: Policy, *, stage: str | None = None
) -> Discovery:
    """Every asset under ``paths`` (folders walked, files taken as given), sorted by path.

    Each asset's ``stage`` is ``stage`` if given, else the policy's folder→stage mapping
    (``default`` for files under no stage's paths).
    """
    root = policy.root
    errors = _Errors()
    warnings = _Errors()
    found: dict[str, Asset] = {}
    loose: list[Path] = []
    walked: set[Path] = set()
    tops: list[Path] = []

    def unread(name: str) -> str:
        if is_candidate(name, policy):
            return "not audited"
        return "not read" if is_sidecar(name) else ""

    memo: dict[str, str] = {}
    for raw in paths or [root]:
        if not os.fspath(raw):  # `scan "$RENDERS"` unset: not the current folder's tree
            errors.append(("''", EMPTY_PATH))
            continue
        top = located(given_path(raw), root, memo)  # through a stage folder's link: in the show
        problem = not_a_file(top)
        if not problem:
            loose.append(top)
            continue
        if problem != "is a folder":  # not there, not reachable, a named pipe…
            errors.append(
                (str(raw), "no such file or folder" if problem == "no such file" else problem)
            )
            continue
        tops.append(top)
        for folder, names, odd in _walk(top, errors, warnings, unread, root):
            walked.add(folder)
            _keep(found, _walked(folder, names, policy, odd), errors)
    given = _from_files(loose, policy, walked)
    for error in given.errors:
        errors.add(error)  # (a stray file and its sequence given, and their folder walked)
    _keep(found, given.assets, errors)
    assets = sorted(found.values(), key=lambda a: a.rel)
    for asset in assets:
        asset.stage = stage if stage else policy.stage_for(asset.rel).name
    named = {asset.stage for asset in assets}
    # a configured stage whose folders a walk covered is whole even with no asset left in
    # them: its (empty) run decides its stage checks again (a stage with no folders is given
    # assets by ``--stage`` only; with ``--stage``, the assets are that stage's alone)
    if stage:
        named.add(stage)
    else:
        named.update(s.name for s in policy.stages if s.paths)
    return Discovery(
        assets, list(errors), list(warnings), whole_stages(named, tops, errors, policy)
    )


def whole_stages(
    stages: Iterable[str], walked: Sequence[Path], errors: Sequence[tuple[str, str]], policy: Policy
) -> frozenset[str]:
    """Those of ``stages`` whose every configured folder (the root for ``default``, or for a
    stage without folders) is at or under one of the folders ``walked``, with no discovery
    error in, above or below one of them: a run of their assets saw the whole stage, so its
    stage checks (``clearance_check_stage``) speak for the stage — ``stage.finished`` says
    ``complete``. A run of single files, of a subfolder or of a shard never does. A stage
    whose folders hold no asset now is whole too: the run checks it empty."""
    root = policy.root

    def covered(target: Path) -> bool:
        return any(target == top or top in target.parents for top in walked)

    memo: dict[str, str] = {}
    failed = [located(given_path(path), root, memo) for path, _reason in errors]
    whole = set()
    for name in stages:
        targets = [_fixed_part(root, folder) for folder in policy.stage(name).paths] or [root]
        if all(covered(t) for t in targets) and not any(
            e == t or t in e.parents or e in t.parents for e in failed for t in targets
        ):
            whole.add(name)
    return frozenset(whole)


def _fixed_part(root: Path, folder: str) -> Path:
    """The folder a stage's ``paths`` entry names, up to its first glob (``shots/*/comp``:
    ``shots``; everything it matches is under it), named as the folders walked are
    (:func:`~clearance._paths.located`: a link to a folder outside the root under its own
    name, as a walk of the root goes through it)."""
    fixed = []
    for part in PurePosixPath(folder.strip("/")).parts:
        if any(ch in part for ch in "*?["):
            break
        fixed.append(part)
    return located(root.joinpath(*fixed), root)


def _walked(
    folder: Path, names: list[str], policy: Policy, odd: dict[str, str] | None = None
) -> list[Asset]:
    """The assets among a folder's visible file ``names``, as a walk groups them; ``odd``:
    the folder's other entries (:func:`_entries`)."""
    siblings = frozenset(names)  # one shared set per folder
    assets = _group(folder, _classify(names, policy), siblings, policy.root)
    if odd:
        _note_not_files(folder, assets, odd, policy)
    return assets


def _note_not_files(folder: Path, assets: list[Asset], odd: dict[str, str], policy: Policy) -> None:
    """Give each of ``assets`` the entries of ``odd`` (a folder's entries that are no file,
    by name: what each is) named as one of its files (:attr:`Asset.not_files`): a frame of
    a sequence that is a folder or a link to nothing (the sequence is audited without it,
    its range with a gap that says nothing of why), a sidecar or a detached C2PA manifest
    that is a folder or a named pipe (never read: the asset would pass on its embedded
    metadata, or be said to have no sidecar at all). A folder's ordinary sub-folders are
    named as none of these: nothing is looked up per asset then."""
    from .provenance.c2pa import manifest_names

    test = _tests(policy)[0]
    frames: dict[tuple[str, str], list[str]] = {}
    described: dict[str, str] = {}
    for name in sorted(odd):
        if is_sidecar(name):
            described[name] = f"{odd[name]}; not read"
        elif test(name) and (parts := split_frame(name)) is not None:
            frames.setdefault((parts[0], parts[2]), []).append(name)
    if not frames and not described:
        return
    for asset in assets:
        found: list[tuple[Path, str]] = []
        first = asset.path.name
        prefix = None
        if asset.is_sequence:
            prefix, _, ext = split_frame(first)  # type: ignore[misc]
            for name in frames.get((prefix, ext), ()):
                why = f"{odd[name]}; the sequence is audited without this frame"
                found.append((folder / name, why))
        if described:
            wanted = sidecar_names(first, sequence_prefix=prefix)
            if prefix is not None and len(asset.files) > 1:
                wanted = wanted[: len(SIDECAR_SUFFIXES)]  # a frame's own is not read
            wanted += manifest_names(first, prefix)
            found += [(folder / name, described[name]) for name in wanted if name in described]
        if found:
            asset.not_files = tuple(found)


def _keep(found: dict[str, Asset], assets: Iterable[Asset], errors: _Errors) -> None:
    """Add ``assets`` to ``found`` by name; two of one name are resolved by :func:`_same_name`."""
    for asset in assets:
        if found.setdefault(asset.rel, asset) is not asset:
            _same_name(found, asset, errors)


def folder_assets(folder: Path, policy: Policy) -> tuple[dict[str, Asset], list[str]]:
    """The assets a walk finds in ``folder`` itself (not below it), by name, and the names of
    its visible files: what ``clearance scan`` of the folder audits there, listed in one
    ``os.scandir`` and grouped once, two assets of one name resolved as :func:`discover`
    resolves them (the one not audited is left out). ``folder`` is absolute and named as a
    walk names it (:func:`~clearance._paths.located`: through a link to a folder outside the
    root, under the link's name). Raises OSError when the folder cannot be listed.

    For a caller that asks about many assets of one folder (``clearance timeline``'s
    changed-on-disk check): one listing per folder, not one per asset.
    """
    odd: dict[str, str] = {}
    names, _ = _entries(folder, [], odd=odd)
    found: dict[str, Asset] = {}
    _keep(found, _walked(folder, names, policy, odd), _Errors())
    return found, names


def not_an_asset(name: str, policy: Policy) -> str:
    """Why a file given by name (``clearance check``, a file given to ``scan``) is not an
    asset, as a walk of its folder would never take it: a hidden name, a temporary or
    ignored name, no media extension; ``""`` when it is one. A sidecar is not asked about
    here (it stands for the asset it describes)."""
    if is_candidate(name, policy):
        return ""
    if name[:1] == ".":
        return "is a hidden file (its name starts with '.'): scan and watch never audit it"
    for setting, globs in (("temporary", policy.temporary), ("ignore", policy.ignore)):
        glob = next((g for g in globs if fnmatch.fnmatchcase(name, g)), None)
        if glob is not None:
            what = "a temporary name" if setting == "temporary" else "an ignored name"
            return f"is {what} (discovery.{setting}: {glob!r}): scan and watch never audit it" + (
                "; check the file under its final name, once it is renamed into place"
                if setting == "temporary"
                else ""
            )
    ext = name.rpartition(".")[2] if "." in name else ""
    return (
        ("has no extension" if not ext else f"has the extension {ext!r}, not a media one")
        + f" (discovery.extensions: {', '.join(sorted(policy.extensions))}): scan and "
        "watch never audit it"
    )


def assets_from_files(files: Sequence[str | os.PathLike[str]], policy: Policy) -> Discovery:
    """Assets made of exactly the files given (frames given together form one sequence).

    A sidecar given stands for the asset it describes (``X.png.genai.yaml`` → ``X.png``,
    ``PREFIX.genai.yaml`` → the frames ``PREFIX.####.EXT``); one that describes no asset
    next to it, and a folder, are errors. Each file's folder is looked at as a walk does: an
    asset given that has the name of another asset there (a stray ``seq.####.png`` given, the
    sequence ``seq.1001.png`` … beside it) is one of two assets with one name (see
    :func:`_same_name`).
    """
    return _from_files(files, policy, set())


def _from_files(
    files: Sequence[str | os.PathLike[str]], policy: Policy, walked: set[Path]
) -> Discovery:
    """:func:`assets_from_files`; the folders in ``walked`` were walked already (the same-name
    rule was applied to their assets)."""
    by_folder: dict[Path, list[str]] = {}
    errors = _Errors()
    listed: dict[Path, _Names | OSError] = {}  # each folder listed once, however many files

    def listing(folder: Path) -> _Names | OSError:
        names = listed.get(folder)
        if names is None:
            try:
                names = listed[folder] = _Names(os.listdir(folder))
            except OSError as exc:
                names = listed[folder] = exc
        return names

    memo: dict[str, str] = {}
    candidate = _tests(policy)[0]
    for raw in files:
        if not os.fspath(raw):  # `check "$OUTPUT"` unset
            errors.append(("''", EMPTY_PATH))
            continue
        path = located(given_path(raw), policy.root, memo)
        problem = not_a_file(path)
        if problem:
            if problem == "is a folder":
                problem = "is a folder; `clearance scan` audits a folder"
            errors.append((str(raw), problem))
            continue
        if not candidate(path.name) and not is_sidecar(path.name):
            # as a walk never takes it: a farm post-task given the render's .tmp name
            errors.append((str(raw), not_an_asset(path.name, policy)))
            continue
        if is_sidecar(path.name):
            names = listing(path.parent)
            described = [] if isinstance(names, OSError) else described_by(path, policy, names)
            if not described:
                errors.append(
                    (
                        str(raw),
                        "is a provenance sidecar, and no asset it describes is next to it "
                        "(`clearance validate` checks a sidecar on its own)",
                    )
                )
            by_folder.setdefault(path.parent, []).extend(described)
            continue
        by_folder.setdefault(path.parent, []).append(path.name)
    found: dict[str, Asset] = {}
    for folder, given in by_folder.items():
        names = listing(folder)
        if isinstance(names, OSError):
            errors.append((str(folder), names.strerror or str(names)))
            continue
        siblings = frozenset(names.names)
        split = _split_names(sorted(set(given)))
        whole = _classify(names.names, policy) if split[1] or folder not in walked else None
        firsts = None
        if whole is not None and split[1]:  # frames: named as a walk of the folder names them
            firsts = {key: whole[1][key][1][0] for key in split[1] if key in whole[1]}
        assets = _group(folder, split, siblings, policy.root, firsts)
        for asset in assets:
            if found.setdefault(asset.rel, asset) is not asset:
                _same_name(found, asset, errors)
        # the folder's other assets with a name given (a stray seq.####.png given alone, the
        # sequence beside it): one is audited, as when the folder is walked
        if whole is not None and folder not in walked:
            for other in _named(folder, whole, siblings, {a.rel for a in assets}, policy):
                _same_name(found, other, errors)
    assets = sorted(found.values(), key=lambda a: a.rel)
    for asset in assets:
        asset.stage = policy.stage_for(asset.rel).name
    return Discovery(assets, list(errors))
