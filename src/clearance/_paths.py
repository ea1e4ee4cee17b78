"""Paths given on the command line, named as the show's tree names them.

A show's folders are often links (``comp -> /mnt/fast/show01/comp``, a stage on another
share). A walk from the root goes through such a link under its own name (``comp/x.exr``,
see ``discover._walk``), so a path the user gives through it must be named the same way:
resolving it to ``/mnt/fast/show01/comp/x.exr`` would put the file outside the show, where
no ``clearance.yaml`` is found and no stage folder matches (the built-in default policy,
and an audit log written into the share).

- :func:`given_path` is the path as given, made absolute without following links (as a
  shell's ``pwd -L`` does), except that ``..`` is resolved as the system resolves it: the
  parent of a link's target, not the folder the link is in.
- :func:`located` names it under the root as a walk does: a link below the root whose
  target is inside the root stands for its target (the walk audits that folder under its
  real path), one whose target is outside keeps its own name.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["given_path", "located", "walked_folder"]


def _working_folder() -> str:
    """The working folder as the user's shell names it (``$PWD``, which keeps the links it
    was reached through) when that is the same folder as the system's, else the system's."""
    physical = os.getcwd()
    logical = os.environ.get("PWD", "")
    if logical and logical != physical and os.path.isabs(logical):
        try:
            if os.path.samestat(os.stat(logical), os.stat(physical)):
                return os.path.normpath(logical)
        except OSError:
            pass
    return physical


def given_path(raw: str | os.PathLike[str]) -> Path:
    """``raw`` made absolute without resolving its links; a ``..`` in it is resolved with
    what comes before it (``comp/../x`` is next to ``comp``'s target, as ``open`` reads it)."""
    text = os.fspath(raw)
    absolute = text if os.path.isabs(text) else os.path.join(_working_folder(), text)
    parts = absolute.split(os.sep)
    if ".." in parts:
        last = len(parts) - 1 - parts[::-1].index("..")
        head = os.path.realpath(os.sep.join(parts[: last + 1]) or os.sep)
        absolute = os.path.join(head, *parts[last + 1 :])
    return Path(os.path.normpath(absolute))  # only ``.`` and repeated separators left


def located(path: Path, root: Path, memo: dict[str, str] | None = None) -> Path:
    """``path`` (from :func:`given_path`) named as a walk from ``root`` (resolved) names it,
    or resolved when it is not under the root by any name.

    The folders on the way are looked at with one ``lstat`` each (and ``realpath`` for a
    link); ``memo`` keeps what a folder was named for the next file in it.
    """
    memo = {} if memo is None else memo
    text, base = os.fspath(path), os.fspath(root)
    inside = os.path.join(base, "")
    if text == base:
        return root
    folder, name = os.path.split(text)
    named = memo.get(folder)
    if named is None:
        named = memo[folder] = _folder_under(folder, base, inside)
    if not named:
        return path.resolve()
    full = os.path.join(named, name)
    if os.path.islink(full) and os.path.isdir(full):  # a top folder given through a link
        real = os.path.realpath(full)
        if real == base or real.startswith(inside):
            full = real
    return Path(full)


def walked_folder(folder: str, base: str) -> str:
    """``folder``, an absolute path under the root ``base`` as written, named as a walk from
    the root names it: a link on the way whose target is inside the root stands for its
    target (``gen/latest`` → ``gen/v003``); one lstat per folder on the way."""
    return _folder_under(folder, base, os.path.join(base, ""))


def _folder_under(folder: str, base: str, inside: str) -> str:
    """:func:`located` for a folder: ``""`` when it is under the root by no name."""
    if folder == base:
        return base
    if folder.startswith(inside):
        rest = folder[len(inside) :]
    else:  # reached through a link above or at the root (/shows -> /mnt/nas/shows)
        ancestor, below = folder, []
        while os.path.realpath(ancestor) != base:
            parent = os.path.dirname(ancestor)
            if parent == ancestor:
                return ""
            below.append(os.path.basename(ancestor))
            ancestor = parent
        if not below:
            return base
        rest = os.sep.join(reversed(below))
    current = base
    for part in rest.split(os.sep):
        current = os.path.join(current, part)
        if os.path.islink(current):
            real = os.path.realpath(current)
            if real == base or real.startswith(inside):
                current = real  # walked under its real path
    return current
