"""Names the lineage store uses: input refs, sequence patterns, version keys, declared inputs.

A ref or media path becomes the root-relative name the store records (``normalise_ref``);
every frame token (``####``, ``%04d``, ``@@@@``, ``$F4``, a frame number) names the same
sequence (``sequence_key``); a version key hashes file identities (``version_key``).
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import re
import urllib.parse
from pathlib import Path
from typing import Any

from .._paths import walked_folder
from ..model import Asset, printable
from ..rules import GENAI_TERMS, iptc_term

__all__ = [
    "declared_inputs",
    "forget_links",
    "frame_number",
    "inputs_of",
    "is_genai",
    "name_key",
    "normalise_ref",
    "sequence_key",
    "url_to_path",
    "version_key",
]

#: A frame token between the last two dots: ``####``, ``@@@@``, ``%04d``, ``$F4`` or digits.
_FRAME_TOKEN = re.compile(
    r"^(?P<head>.+)\.(?P<token>#+|@+|%0?[0-9]*d|\$F[0-9]*|[0-9]+)\.(?P<ext>[A-Za-z0-9]+)$"
)


def sequence_key(rel: str) -> str | None:
    """``dir/PREFIX.#.EXT`` for any frame token (or frame number) in ``rel``, else ``None``."""
    if rel.count(".") < 2:  # the pattern needs two dots: a single file, without the regex
        return None
    m = _FRAME_TOKEN.match(rel)
    if m is None:
        return None
    return f"{m.group('head')}.#.{m.group('ext')}"


def frame_number(rel: str) -> int | None:
    """The frame number of ``dir/PREFIX.1001.EXT`` (``None`` for a pattern or a plain file)."""
    m = _FRAME_TOKEN.match(rel)
    return int(m.group("token")) if m is not None and m.group("token").isdigit() else None


def name_key(rel: str) -> str:
    """The bare name an editor sees: ``sh010_comp_v004`` for ``comp/sh010_comp_v004.####.exr``."""
    base = rel.rsplit("/", 1)[-1]
    m = _FRAME_TOKEN.match(base) if base.count(".") > 1 else None  # two dots, as above
    if m is not None:
        return m.group("head")
    return base.rsplit(".", 1)[0] if "." in base else base


def normalise_ref(ref: str, root: Path) -> str:
    """A ref or media path as the store names assets: relative to ``root``, with ``/``.

    Accepts root-relative paths (``./`` and ``..`` collapsed, ``\\`` read as ``/``), absolute
    paths and ``file://`` URLs. ``root`` is a real path (no symlinks); an absolute path that is
    not inside it as written (a show mount reached through a symlink, ``/jobs/SHOW01`` →
    ``/mnt/nas/SHOW01``) is read through its real folder, resolved once per folder and
    process. A path outside the root even then stays absolute (it matches nothing the store
    recorded under the root, and is never opened).

    A file name that is not UTF-8 is named as the store records it (``caf\\xe9.png``, see
    :func:`clearance.model.printable`): given in its bytes (a command-line argument, a
    ``file://`` URL's ``%E9``), or in that escaped form in a ref that separates its folders
    with ``/`` (where a backslash before ``x`` and a byte's two hex digits is that escape,
    not a Windows separator).
    """
    text = url_to_path(ref.strip())
    if "\\" in text:
        text = _windows_separators(text)
    if os.path.isabs(text) or text.startswith("/"):
        absolute = posixpath.normpath(text)
        base = posixpath.normpath(root.as_posix())
        inside = _under(absolute, base)
        if inside is None and not (absolute.isascii() and base.isascii()):
            inside = _under(printable(absolute), printable(base))  # either written escaped
        if inside is None:
            folder, _, name = absolute.rpartition("/")
            inside = _under(f"{_real_folder(folder or '/').rstrip('/')}/{name}", base)
        return printable(absolute if inside is None else _walked(inside, base))
    rel = posixpath.normpath(text)
    if rel.startswith("..") and (rel == ".." or rel.startswith("../")):
        # out of the root, and perhaps back in (``../SHOW01/gen/x.exr`` from SHOW01): the
        # path it names, read as an absolute one is (still absolute if outside the root)
        return normalise_ref(posixpath.join(root.as_posix(), rel), root)
    rel = rel[2:] if rel.startswith("./") else rel
    return printable(_walked(rel, posixpath.normpath(root.as_posix())))


#: (root, root-relative folder) → the folder as a walk names it (:func:`_walked`)
_WALKED_FOLDERS: dict[tuple[str, str], str] = {}


def _walked(rel: str, base: str) -> str:
    """``rel`` (inside the root ``base``) named as a scan names the asset there: through a
    link below the root whose target is inside it (``gen/latest -> v003``), the walk audits
    the target's folder, so ``gen/latest/plate.exr`` is recorded as ``gen/v003/plate.exr``.
    One ``lstat`` per folder on the way, once per distinct folder and process."""
    folder, slash, name = rel.rpartition("/")
    if not folder:
        return rel
    key = (base, folder)
    named = _WALKED_FOLDERS.get(key)
    if named is None:
        named = folder
        try:
            walked = walked_folder(os.path.join(base, folder), base)
        except (OSError, ValueError):  # a name the system refuses: taken as written
            walked = ""
        if walked.startswith(base.rstrip("/") + "/"):
            named = walked[len(base.rstrip("/")) + 1 :]
        if len(_WALKED_FOLDERS) >= _REAL_FOLDERS_MAX:
            _WALKED_FOLDERS.clear()
        _WALKED_FOLDERS[key] = named
    return f"{named}/{name}" if named != folder else rel


def forget_links() -> None:
    """Forget what the links on the way of refs were found to name (:func:`_walked`,
    :func:`_real_folder`): a link repointed since (``gen/latest`` from ``v001`` to ``v002``)
    is read again. Called when a stage of a scan ends and after each watcher batch
    (:meth:`clearance.lineage.LineagePlugin.flush`): a watcher runs for days, and a ref
    through ``latest`` must name what ``latest`` names when the asset made from it is
    audited, as a scan then says."""
    _WALKED_FOLDERS.clear()
    _REAL_FOLDERS.clear()


#: what :func:`~clearance.model.printable` writes for a byte that is not UTF-8 (0x80-0xff)
_BYTE_ESCAPE = re.compile(r"\\(?!x[89a-f][0-9a-f])")


def _windows_separators(text: str) -> str:
    """``\\`` read as ``/``; in a ref that uses ``/`` too, not the backslash of the escape
    the store names a byte that is not UTF-8 with (``comp/caf\\xe9.png``)."""
    if "/" in text:
        return _BYTE_ESCAPE.sub("/", text)
    return text.replace("\\", "/")


def _under(absolute: str, base: str) -> str | None:
    """``absolute`` relative to ``base`` (``.`` for ``base`` itself), or None if not inside."""
    if absolute == base:
        return "."
    prefix = base.rstrip("/") + "/"
    return absolute[len(prefix) :] if absolute.startswith(prefix) else None


#: real path of each absolute folder a ref named outside the root as written (a symlinked
#: mount): one ``realpath`` per distinct folder, however many refs name it
_REAL_FOLDERS: dict[str, str] = {}
_REAL_FOLDERS_MAX = 4096


def _real_folder(folder: str) -> str:
    real = _REAL_FOLDERS.get(folder)
    if real is None:
        try:
            real = posixpath.normpath(os.path.realpath(folder).replace("\\", "/"))
        except (OSError, ValueError):  # a loop of symlinks, a NUL byte: taken as written
            real = folder
        if len(_REAL_FOLDERS) >= _REAL_FOLDERS_MAX:
            _REAL_FOLDERS.clear()
        _REAL_FOLDERS[folder] = real
    return real


def url_to_path(text: str) -> str:
    """``file:///show/a%20b.exr`` → ``/show/a b.exr`` (anything else unchanged); a
    percent-escaped byte that is not UTF-8 (``caf%E9.exr``) is a lone surrogate, as
    ``os.fsdecode`` gives it for that file.

    Parsed by hand: a frame pattern's ``#`` is not a URL fragment here.
    """
    if not text.lower().startswith("file:"):
        return text
    rest = text[5:]
    host = ""
    if rest.startswith("//"):
        host, slash, path = rest[2:].partition("/")
        rest = slash + path
    path = urllib.parse.unquote(rest, errors="surrogateescape")  # bytes that are not UTF-8
    return f"//{host}{path}" if host and host != "localhost" else path


def version_key(asset: Asset) -> str | None:
    """A hash of the identity and version of the asset's files and of its sidecar.

    ``(name, dev, ino, size, mtime_ns, ctime_ns)`` of a single file; of the first and last
    frames of a sequence plus every frame's name (the provenance cache's fingerprint, so a
    1,000-frame sequence costs two ``stat`` calls). A re-render or an edited sidecar is a new
    version, also one rewritten in place with its mtime put back (the ctime moves on).
    Keys recorded before the ctime was part of them match no file now: such an asset is read
    again and recorded anew. ``None`` when a file is not on disk (an in-memory audit has
    nothing to record).
    """
    files = asset.files or [asset.path]
    parts = []
    if len(files) > 2:
        parts.append("\0".join(asset.file_names()))
        files = [files[0], files[-1]]
    if asset.sidecar is not None:
        files = [*files, asset.sidecar]
    for path in files:
        try:
            st = asset.stat(path)  # the audit's own stat of it (the cache asked too)
        except OSError:
            return None
        parts.append(
            f"{path.name}\0{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}\n"
        )
    # one digest of everything: the same key as hashing each part in turn
    return hashlib.sha256("".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


def declared_inputs(asset: Asset) -> list[dict[str, Any]]:
    """The ``steps[].inputs[]`` (``{ref, class}``) the asset's sidecar declares.

    Read here because a reader does not see other readers' results; a sidecar that does not
    mention ``inputs`` is not parsed. A sidecar that cannot be read gives no inputs (the
    sidecar reader reports why, as ``PRV-02``).
    """
    if asset.sidecar is None:
        return []
    from .._yaml import DocumentError, parse_document, read_limited

    try:  # never blocks (a named pipe swapped in since the walk) nor reads on without end
        data = read_limited(asset.sidecar)
    except DocumentError:
        return []
    if b"inputs" not in data:
        return []
    try:
        doc = parse_document(  # an impossible date elsewhere does not hide the inputs
            data, json_only=asset.sidecar.suffix.lower() == ".json", field_errors=[]
        )
    except DocumentError:
        return []
    return inputs_of(doc.get("steps") if isinstance(doc, dict) else None)


def inputs_of(steps: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if not isinstance(steps, list):
        return found
    for step in steps:
        items = step.get("inputs") if isinstance(step, dict) else None
        for item in items if isinstance(items, list) else []:
            if isinstance(item, dict) and isinstance(item.get("ref"), str) and item["ref"].strip():
                found.append({"ref": item["ref"], "class": item.get("class")})
    return found


def is_genai(generated: bool | None, source_type: Any) -> bool:
    """Did GenAI make or edit it: ``generated: true`` or a GenAI IPTC source type."""
    return generated is True or iptc_term(source_type) in GENAI_TERMS
