"""Signed checkpoints: an Ed25519 statement of an audit log's head, kept out of writers' reach.

A hash chain shows that lines were edited, deleted, inserted or reordered, but someone who
can write the log can also cut off its tail or rewrite the whole file and recompute every
hash. A checkpoint pins the head: "at ``time``, the line with ``seq`` N hashed to ``head``",
signed with a key the writers never see. ``verify --key`` then detects truncation (a
checkpoint beyond the end of the log) and rewriting (the line the chain goes through at a
checkpoint's ``seq`` hashes differently; a copy of the signed line kept off the chain does not
count).

Checkpoint file: JSONL, one record per checkpoint, appended (default ``<log>.checkpoints``,
but see ``docs/auditlog.md`` — in production it belongs somewhere writers cannot write)::

    {"schema":"clearance.checkpoint/1","origin":"render07:/show/.clearance/audit.jsonl",
     "seq":8000,"head":"<sha256 hex of line seq 8000>","time":"2026-11-26T22:00:00.000Z",
     "key_id":"<first 16 hex of sha256(raw public key)>","signature":"<base64 Ed25519>"}

The signed bytes are a C2SP-style note body, so a Merkle root or witness cosignatures can be
added later without a format break::

    clearance.checkpoint/1\\n<origin>\\n<seq>\\n<head>\\n<time>\\n

Keys are PEM (PKCS#8 private, SubjectPublicKeyInfo public), as written by
:func:`generate_key` or ``openssl genpkey -algorithm ed25519``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import errno
import fcntl
import hashlib
import json
import os
import socket
import stat
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from clearance._display import shown_text
from clearance.auditlog import NOT_JSON, log_target, utc_now
from clearance.auditlog_verify import Break, VerifyError, VerifyResult, verify_log
from clearance.model import printable

__all__ = [
    "CHECKPOINT_SCHEMA",
    "CheckpointError",
    "default_checkpoints_path",
    "generate_key",
    "key_id",
    "load_private_key",
    "load_public_key",
    "make_checkpoint",
    "read_checkpoints",
    "verify_with_key",
    "write_checkpoint",
]

CHECKPOINT_SCHEMA = "clearance.checkpoint/1"


class CheckpointError(Exception):
    """A key or checkpoint file cannot be read or written: exit 2, naming the file."""


def default_checkpoints_path(log: str | os.PathLike[str]) -> Path:
    """``<log>.checkpoints`` — convenient for trying things; see the docs for production.

    Beside the log's target when ``log`` is a link to it, as its lock and rotated files are
    (``auditlog.log_target``): ``checkpoint`` by the link and ``verify`` by the real name
    find one file. (One ``checkpoint`` wrote beside the link before: while the target has
    none, that one is still the link's.)"""
    p = Path(log)
    target = log_target(p)
    if not target.name:  # ".", "/", "": no file can be named beside it
        raise CheckpointError(
            f"{os.fspath(log) or repr('')}: is a folder, not an audit log (give the log file, "
            "e.g. .clearance/audit.jsonl)"
        )
    beside = target.with_name(target.name + ".checkpoints")
    if target != p and not os.path.lexists(beside):
        legacy = p.with_name(p.name + ".checkpoints")
        if os.path.lexists(legacy):
            return legacy
    return beside


def generate_key(path: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write a new Ed25519 private key to ``path`` (mode 0600) and its public key to ``path.pub``."""
    private = Ed25519PrivateKey.generate()
    priv_path = Path(path)
    pub_path = priv_path.with_name(priv_path.name + ".pub")
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    pub = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    written: list[Path] = []
    try:
        for target, data, mode in ((priv_path, pem, 0o600), (pub_path, pub, 0o644)):
            _write_new(target, data, mode)
            written.append(target)
    except CheckpointError:
        # both or neither: a new private key left beside another key's K.pub (an old pair's)
        # would sign checkpoints that K.pub never verifies
        for done in written:
            with contextlib.suppress(OSError):
                os.unlink(done)
        raise
    return priv_path, pub_path


def _write_new(target: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to the new file ``target`` (never over one); taken back on failure."""
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        raise CheckpointError(f"{target}: already exists; not overwriting a key") from None
    except OSError as exc:
        raise CheckpointError(f"{target}: cannot write the key: {exc.strerror or exc}") from None
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(target)
        raise CheckpointError(f"{target}: cannot write the key: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def _read_regular(path: str | os.PathLike[str]) -> bytes:
    """The bytes of the file ``path``, opened without blocking: a named pipe given (or put)
    where a key or the checkpoints are would make ``open()`` wait for a writer for ever.
    Anything but a regular file is an ``OSError`` saying what it is."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            from clearance.discover import special_file

            what = "a folder" if stat.S_ISDIR(mode) else special_file(mode)
            raise OSError(errno.EINVAL, f"it is {what}, not a regular file")
        with os.fdopen(fd, "rb", closefd=False) as fh:
            return fh.read()
    finally:
        os.close(fd)


def _read_pem(path: str | os.PathLike[str]) -> bytes:
    try:
        return _read_regular(path)
    except OSError as exc:
        raise CheckpointError(f"{path}: cannot read the key: {exc.strerror or exc}") from None


def load_private_key(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    """The Ed25519 private key in the PEM file ``path`` (unencrypted PKCS#8)."""
    try:
        key = serialization.load_pem_private_key(_read_pem(path), password=None)
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"{path}: not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise CheckpointError(f"{path}: not an Ed25519 key ({type(key).__name__})")
    return key


def load_public_key(path: str | os.PathLike[str]) -> Ed25519PublicKey:
    """The Ed25519 public key in ``path`` (a public PEM, or a private PEM to derive it from)."""
    data = _read_pem(path)
    if b"PRIVATE KEY" in data:
        return load_private_key(path).public_key()
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"{path}: not a PEM public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise CheckpointError(f"{path}: not an Ed25519 key ({type(key).__name__})")
    return key


def key_id(public: Ed25519PublicKey) -> str:
    """A short, stable name for a public key: the first 16 hex digits of SHA-256 of its raw bytes."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def _note(origin: str, seq: int, head: str, time: str) -> bytes:
    return f"{CHECKPOINT_SCHEMA}\n{origin}\n{seq}\n{head}\n{time}\n".encode()


def make_checkpoint(
    log: str | os.PathLike[str],
    private: Ed25519PrivateKey,
    *,
    origin: str | None = None,
    checkpoints: str | os.PathLike[str] | None = None,
) -> tuple[dict[str, Any], VerifyResult]:
    """Verify ``log`` and sign its head. Returns ``(checkpoint, verify result)``.

    ``checkpoints``: the checkpoint file the new one will be added to. The log is held
    against the checkpoints this key signed there before (a missing file has none), as
    ``verify --key`` holds it: a log cut after the last checkpoint, or rewritten, is not
    intact. The caller must not store the checkpoint when the result is not intact: a
    checkpoint vouches for the whole chain up to its head, and a log must never sign a
    checkpoint inconsistent with one it signed before. A log holding an event of a newer
    format (``clearance.event/2``) raises :class:`VerifyError`: this version cannot verify
    it, and refuses to sign for it as writers refuse to append to it.
    """
    good: list[dict[str, Any]] = []
    bad: list[Break] = []
    if checkpoints is not None and Path(checkpoints).is_file():  # (not /dev/full)
        good, bad = read_checkpoints(checkpoints, private.public_key())
    result = verify_log(log, checkpoints=good)
    result.breaks.extend(bad)
    if result.last_seq is None or result.head is None:
        raise VerifyError(f"{log}: the audit log has no events to checkpoint")
    newer = next((b for b in result.breaks if b.kind == "newer"), None)
    if newer is not None and result.intact:
        # a line this version cannot verify: signing the head would vouch for it (and writers
        # refuse to append after it); the Clearance that writes the log signs it
        raise VerifyError(
            f"{newer.file}:{newer.line}: {newer.message}, nor sign a checkpoint for it "
            "(no checkpoint written)"
        )
    # a path (or --origin) that is not UTF-8 is signed and stored as it is shown: caf\xe9
    # ... and one line of the signed note: a line break or a control character in it is
    # escaped as a terminal shows it (--origin $'show\nforged' made the note two lines)
    origin = shown_text(printable(origin or f"{socket.gethostname()}:{Path(log).resolve()}"))
    time = utc_now()
    signature = private.sign(_note(origin, result.last_seq, result.head, time))
    record = {
        "schema": CHECKPOINT_SCHEMA,
        "origin": origin,
        "seq": result.last_seq,
        "head": result.head,
        "time": time,
        "key_id": key_id(private.public_key()),
        "signature": base64.b64encode(signature).decode(),
    }
    return record, result


#: the longest a checkpoint line gets (they are about 400 bytes): a last line without newline
#: up to this long is what a `clearance checkpoint` that did not finish its write left
_TORN_MAX = 4096


def write_checkpoint(record: dict[str, Any], path: str | os.PathLike[str]) -> int:
    """Append ``record`` to the checkpoint file ``path`` (created if needed) and fsync it.

    Under an exclusive ``flock`` on the file (two signers write one at a time). A last line
    without newline that is not a checkpoint and no longer than one is what a checkpoint
    whose write did not finish left (a crash, a full disk): it is dropped before the new one
    is written (it was never a checkpoint), and its length returned (0: nothing dropped); a
    complete one only lost its newline, which is added. A write that fails is taken back,
    so it leaves no such line when the file system lets us.
    """
    data = (json.dumps(record, separators=(",", ":"), ensure_ascii=False) + "\n").encode()
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise CheckpointError(
            f"{path}: cannot open the checkpoint file: {exc.strerror or exc}"
        ) from None
    dropped = 0
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        start = os.fstat(fd).st_size
        if start and os.pread(fd, 1, start - 1) != b"\n":
            back = os.pread(fd, min(start, _TORN_MAX + 1), start - min(start, _TORN_MAX + 1))
            cut = back.rfind(b"\n") + 1
            line = back[cut:]
            if len(line) <= _TORN_MAX and (cut or start <= _TORN_MAX):
                if _complete(line):
                    data = b"\n" + data
                else:
                    dropped = len(line)
                    os.ftruncate(fd, start - dropped)
                    start -= dropped
            else:
                data = b"\n" + data  # not what a checkpoint leaves: kept, verify names it
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, start)
            raise
    except OSError as exc:
        raise CheckpointError(
            f"{path}: cannot write the checkpoint: {exc.strerror or exc}"
        ) from None
    finally:
        os.close(fd)
    return dropped


def _complete(line: bytes) -> bool:
    """Whether ``line`` is a whole checkpoint record (JSON object), whatever it says."""
    try:
        return isinstance(json.loads(line), dict)
    except NOT_JSON:
        return False


def read_checkpoints(
    path: str | os.PathLike[str], public: Ed25519PublicKey
) -> tuple[list[dict[str, Any]], list[Break]]:
    """Checkpoints in ``path`` signed by ``public``, and a break for each one that fails.

    Records signed by other keys are skipped (key rotation, witnesses), as C2SP notes do.
    """
    try:
        data = _read_regular(path)
    except FileNotFoundError:
        raise CheckpointError(
            f"{path}: no checkpoint file (write one with `clearance checkpoint`)"
        ) from None
    except OSError as exc:
        raise CheckpointError(
            f"{path}: cannot read the checkpoints: {exc.strerror or exc}"
        ) from None
    kid = key_id(public)
    good: list[dict[str, Any]] = []
    bad: list[Break] = []
    lines = data.split(b"\n")
    torn = lines.pop()  # after the last newline: b"", or a line whose write did not finish
    if torn.strip():
        lines.append(torn)
    last = len(lines) if torn.strip() else 0
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if lineno == last and len(line) <= _TORN_MAX and not _complete(line):
            bad.append(
                Break(
                    "torn",
                    str(path),
                    lineno,
                    None,
                    f"the last checkpoint is incomplete ({len(line)} bytes, no newline): a "
                    "`clearance checkpoint` did not finish writing it (a crash, a full disk); "
                    "the next one drops it (not tampering)",
                )
            )
            continue
        try:
            rec = json.loads(line)  # bytes that are not UTF-8: a ValueError, as any garbage
            if rec.get("key_id") != kid:
                continue
            seq, head, time, origin = (
                int(rec["seq"]),
                str(rec["head"]),
                str(rec["time"]),
                str(rec["origin"]),
            )
            signature = base64.b64decode(rec["signature"], validate=True)
            public.verify(signature, _note(origin, seq, head, time))
        except (*NOT_JSON, KeyError, TypeError, AttributeError, binascii.Error, InvalidSignature):
            bad.append(
                Break(
                    "checkpoint",
                    str(path),
                    lineno,
                    None,
                    "checkpoint signature does not verify (the checkpoint was altered or forged)",
                )
            )
            continue
        good.append(rec)
    return good, bad


def verify_with_key(
    log: str | os.PathLike[str],
    public: Ed25519PublicKey,
    checkpoints_path: str | os.PathLike[str] | None = None,
) -> VerifyResult:
    """:func:`verify_log` plus the log's signed checkpoints; raises CheckpointError if none."""
    cp_path = checkpoints_path or default_checkpoints_path(log)
    good, bad = read_checkpoints(cp_path, public)
    if not good and not any(b.tampered for b in bad):  # none, or only an incomplete one
        raise CheckpointError(
            f"{cp_path}: no checkpoint signed by key {key_id(public)}; nothing to verify against"
        )
    result = verify_log(log, checkpoints=good)
    result.breaks.extend(bad)
    return result
