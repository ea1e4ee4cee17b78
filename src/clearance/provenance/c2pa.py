"""C2PA reader: Content Credentials embedded in the asset or in a ``NAME.c2pa`` sidecar manifest.

Registered as a built-in reader plugin (``clearance.provenance.c2pa``). Two levels:

- **Detection, always** (stdlib only): a PNG ``caBX`` chunk, a JPEG APP11 JUMBF segment, a WebP
  ``C2PA`` chunk, a TIFF tag 0xCD41, or a sidecar manifest next to the file (``shot.exr.c2pa``
  or ``shot.c2pa``, and for a sequence its own ``PREFIX.c2pa``: :func:`manifest_names`, which
  the cache and the watcher ask too; EXR can only carry one this way). Without the SDK the record says "manifest present, not verified" and claims nothing.
- **Verification, with the optional extra** ``genai-clearance[c2pa]`` (c2pa-python): offline
  (remote manifest fetch and OCSP off), against the trust anchors the policy names. The record
  then carries ``generated`` / ``source_type`` from the actions' ``digitalSourceType`` (in the
  active manifest and every ingredient manifest of the store), the training-and-mining
  preferences under ``x-training-mining``, and in evidence the validation state: ``Invalid``,
  ``Valid`` (signature good, signer not trusted) or ``Trusted``.

A manifest that fails validation cannot vouch for "no GenAI": its claims are kept only where
they point to GenAI or restrict training (see ``docs/embedded-provenance.md``); ``PRV-06``
reports the failure itself.

Settings (``readers: {c2pa: {...}}`` in ``clearance.yaml``; ``rules: {PRV-06: {...}}`` is read
too, for the same keys): ``verify`` (default true), ``trust_anchors`` (PEM file(s), relative to
the root, or inline PEM: root CAs the studio trusts), ``allowed_list`` (PEM: individual signing
certificates), ``trust_config`` (extra EKU OIDs, e.g. ``1.3.6.1.4.1.62558.2.1``),
``max_verify_bytes`` (files larger than this are detected but not verified; default: no cap).
"""

from __future__ import annotations

import errno
import importlib.util
import json
import mimetypes
import os
import stat
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from ..hookspecs import hookimpl
from ..model import PartialRecord, ProvenanceIssue
from ._common import asset_stat, display_path, is_file, unreadable
from ._containers import scan
from ._iptc import generated_from_source_type

if TYPE_CHECKING:
    from ..model import Asset

__all__ = [
    "C2paSettings",
    "sdk_available",
    "find_manifest",
    "manifest_names",
    "sequence_prefix_of",
    "sidecar_manifest",
    "verify_manifest",
    "summarize_store",
    "record_from_c2pa",
    "clearance_read_provenance",
]

SOURCE = "c2pa"
RULE_ID = "PRV-06"
TRAINING_LABELS = ("cawg.training-mining", "c2pa.training-mining")
# "In the absence of additional information, constrained shall be treated as notAllowed" (CAWG)
RESTRICTED_USES = frozenset({"notAllowed", "constrained"})
MAX_SIDECAR_BYTES = 64 * 1024 * 1024

_MIME = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
    "tif": "image/tiff",
    "tiff": "image/tiff",
    "exr": "image/x-exr",
    "mov": "video/quicktime",
    "mp4": "video/mp4",
    "wav": "audio/wav",
}
_OFFLINE: dict[str, Any] = {
    "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
}


def sdk_available() -> bool:
    """Is c2pa-python importable (the ``genai-clearance[c2pa]`` extra)? Does not import it."""
    return importlib.util.find_spec("c2pa") is not None


# ------------------------------------------------------------------------------ detection ----


def manifest_names(path: str, sequence_prefix: str | None = None) -> list[str]:
    """The detached manifests the reader looks for next to the file ``path``, in the order it
    tries them: ``NAME.EXT.c2pa``, then ``NAME.c2pa`` (when the name has an extension), then,
    ``path`` being a sequence's first frame, the sequence's ``PREFIX.c2pa``.

    The one list of these names: the provenance cache (``clearance.cache``) and the watcher
    (``clearance.watch_readiness``, ``clearance.watch_pairing``) ask it too, so a manifest the
    reader reads changes the cached answer, is recorded as the one an audit read, and is
    waited for and re-audited on when it lands.

    :param path: the file (a path, or a bare name: the names are then bare too).
    :param sequence_prefix: the sequence's ``PREFIX`` (:func:`sequence_prefix_of`), if ``path``
        is its first frame.
    """
    folder, sep, name = path.rpartition(os.sep)
    stem, ext = os.path.splitext(name)
    # the same two names as Path.with_name(name + ".c2pa") and Path.with_suffix(".c2pa");
    # plain strings, no Path objects: this is asked once per asset
    names = [f"{folder}{sep}{name}.c2pa"]
    if ext and ext != ".":
        names.append(f"{folder}{sep}{stem}.c2pa")
    if sequence_prefix:
        names.append(f"{folder}{sep}{sequence_prefix}.c2pa")
    return names


def sequence_prefix_of(asset: Asset) -> str | None:
    """A sequence's ``PREFIX`` (``sh010_fg`` for ``sh010_fg.####.exr``, ``sh010.v002`` for
    ``sh010.v002.####.exr``); None for a single file."""
    return asset.name.rsplit(".", 2)[0] if asset.is_sequence else None


def sidecar_manifest(
    path: str | os.PathLike[str],
    known: Collection[str] | None = None,
    *,
    sequence_prefix: str | None = None,
    not_files: list[tuple[str, str]] | None = None,
) -> Path | None:
    """The first of :func:`manifest_names` that is a file next to ``path``.

    :param known: the names in ``path``'s folder when it was listed (``Asset.siblings``), if
        known: a name not among them is absent without asking the filesystem.
    :param sequence_prefix: the sequence's ``PREFIX`` (as in ``PREFIX.genai.yaml``), if
        ``path`` is its first frame.
    :param not_files: gets ``(path, what it is)`` of each name looked at before the one
        returned that is there but no regular file (a folder, a named pipe): never opened.
    """
    for candidate in manifest_names(os.fspath(path), sequence_prefix):
        if known is not None and os.path.basename(candidate) not in known:
            continue
        try:
            mode = os.stat(candidate).st_mode  # (the one stat os.path.isfile takes)
        except (OSError, ValueError):
            continue
        if stat.S_ISREG(mode):
            return Path(candidate)
        if not_files is not None:
            what = "a folder" if stat.S_ISDIR(mode) else _special(mode)
            not_files.append((candidate, f"is {what}, not a regular file; not read"))
    return None


def _special(mode: int) -> str:
    from ..discover import special_file

    return special_file(mode)


def find_manifest(
    path: str | os.PathLike[str],
    known: Collection[str] | None = None,
    st: os.stat_result | None = None,
    *,
    sequence_prefix: str | None = None,
    not_files: list[tuple[str, str]] | None = None,
) -> dict[str, Any] | None:
    """Where ``path``'s C2PA manifest store is, without the SDK; None when it has none.

    :param known: as for :func:`sidecar_manifest`.
    :param st: ``os.stat(path)``, if the caller has it.
    :param sequence_prefix: as for :func:`sidecar_manifest`.
    :param not_files: as for :func:`sidecar_manifest` (when no embedded store is found).
    :return: ``{"location": "caBX" | "APP11" | "C2PA chunk" | "TIFF tag 0xCD41" | "sidecar",
        "sidecar": Path | None, "problems": [...]}``; ``problems`` are what the container walk
        found (truncation), reported even when no manifest was found.
    """
    blocks = scan(path, st)
    if blocks.c2pa:
        return {"location": blocks.c2pa, "sidecar": None, "problems": blocks.problems}
    detached = sidecar_manifest(path, known, sequence_prefix=sequence_prefix, not_files=not_files)
    if detached is not None:
        return {"location": "sidecar", "sidecar": detached, "problems": blocks.problems}
    return None


# ---------------------------------------------------------------------------- verification ----


class C2paSettings:
    """Verification settings, from ``readers.c2pa`` and ``rules.PRV-06`` of the policy.

    :ivar problems: settings that could not be used (an unreadable anchors file), as
        ``(field, message)``; the reader reports them as issues rather than failing.
    """

    def __init__(self, values: Mapping[str, Any] | None = None, root: Path | None = None) -> None:
        values = dict(values or {})
        self.verify = values.get("verify", True) is not False
        # Verification hashes the whole file (about 1 s per GB): a farm may cap it for
        # multi-gigabyte movies. A file over the cap is detected but reported unverified.
        limit = values.get("max_verify_bytes")
        self.max_verify_bytes = limit if isinstance(limit, int) and limit > 0 else None
        self.problems: list[tuple[str, str]] = []
        self.trust_anchors = self._pem(values.get("trust_anchors"), root, "trust_anchors")
        self.allowed_list = self._pem(values.get("allowed_list"), root, "allowed_list")
        config = values.get("trust_config")
        if isinstance(config, (list, tuple)):
            config = "\n".join(str(oid) for oid in config)
        self.trust_config = (
            f"{config.strip()}\n" if isinstance(config, str) and config.strip() else None
        )

    @classmethod
    def from_policy(cls, policy: Any) -> C2paSettings:
        """Read settings defensively: a minimal policy object (tests, a DCC) may lack them."""
        merged: dict[str, Any] = {}
        rule_settings = getattr(policy, "rule_settings", None)
        if callable(rule_settings):
            values = rule_settings(RULE_ID)
            if isinstance(values, Mapping):
                merged.update(values)
        readers = getattr(policy, "settings", None)
        if isinstance(readers, Mapping) and isinstance(readers.get("c2pa"), Mapping):
            merged.update(readers["c2pa"])  # the reader's own section wins over the rule's
        root = getattr(policy, "root", None)
        return cls(merged, Path(root) if root is not None else None)

    def sdk_settings(self) -> dict[str, Any]:
        trust: dict[str, Any] = {}
        if self.trust_anchors:
            trust["user_anchors"] = self.trust_anchors
        if self.allowed_list:
            trust["allowed_list"] = self.allowed_list
        if self.trust_config:
            trust["trust_config"] = self.trust_config
        return {**_OFFLINE, "trust": trust} if trust else dict(_OFFLINE)

    def _pem(self, value: Any, root: Path | None, field: str) -> str | None:
        if value is None or value == [] or value == "":
            return None
        items = value if isinstance(value, (list, tuple)) else [value]
        texts = []
        for item in items:
            if not isinstance(item, str):
                self.problems.append((field, f"expected a PEM file path or PEM text, got {item!r}"))
                continue
            if "-----BEGIN" in item:
                text, where = item, "inline PEM"
            else:
                path = Path(item).expanduser()
                if not path.is_absolute() and root is not None:
                    path = root / path
                where = str(path)
                try:
                    text = path.read_text(encoding="ascii")
                except (OSError, UnicodeDecodeError) as exc:
                    self.problems.append((field, f"cannot read {where}: {exc}"))
                    continue
            problem = _pem_problem(text)
            if problem:
                self.problems.append((field, f"{where}: {problem}"))
            else:
                texts.append(text)
        return "\n".join(texts) if texts else None


def _pem_problem(text: str) -> str | None:
    """Why ``text`` is not a usable PEM certificate bundle (None when it is).

    Checked here so a bad anchors file is one issue naming the setting, not an SDK error on
    every asset that would read as "manifest invalid".
    """
    from cryptography import x509

    try:
        certificates = x509.load_pem_x509_certificates(text.encode("ascii"))
    except ValueError as exc:
        return f"not a PEM certificate bundle ({exc})"
    return None if certificates else "no certificate found"


def verify_manifest(
    path: str | os.PathLike[str],
    settings: C2paSettings | None = None,
    *,
    sidecar: str | os.PathLike[str] | None = None,
) -> dict[str, Any]:
    """Verify ``path``'s manifest store offline with c2pa-python and summarize it.

    :param sidecar: a detached manifest (``shot.exr.c2pa``) to verify ``path`` against.
    :return: :func:`summarize_store`'s dict plus ``"validation_state"``; a store that the SDK
        cannot parse at all is ``Invalid`` with a ``manifest.unreadable`` failure; settings
        the SDK refuses give ``{"validation_state": None, "settings_error": …}``; the asset
        or the detached manifest found not to be a regular file when opened (a named pipe
        put where it was: never read, never handed to the SDK) gives
        ``{"validation_state": None, "not_a_file": {"path": Path, "what": "a named pipe
        (FIFO)"}}``; one that cannot be opened or read (permission denied, an I/O error)
        gives ``{"validation_state": None, "unreadable": {"path": Path, "why": "cannot
        read file: …"}}``: not a verdict on the manifest.
    :raises ImportError: c2pa-python is not installed.
    """
    import c2pa  # the optional extra: imported only when verification is asked for

    settings = settings or C2paSettings()
    path = Path(path)
    try:
        context_manager = c2pa.Context.from_dict(settings.sdk_settings())
    except Exception as exc:  # the settings, not the asset, are at fault
        return {"validation_state": None, "settings_error": f"{type(exc).__name__}: {exc}"}
    try:
        with context_manager as context:
            if sidecar is not None:
                with _open_regular(Path(sidecar)) as detached:
                    manifest = _read_own(Path(sidecar), detached, MAX_SIDECAR_BYTES + 1)
                if len(manifest) > MAX_SIDECAR_BYTES:
                    return _unreadable(f"sidecar manifest is larger than {MAX_SIDECAR_BYTES} bytes")
                mime = _MIME.get(path.suffix.lower().lstrip("."), "application/octet-stream")
                with _open_regular(path) as stream:
                    reader = c2pa.Reader(mime, stream, manifest, context=context)
                    return _summarize_reader(reader)
            # the stream, not the path: the SDK's own open() of a named pipe waits for ever
            with _open_regular(path) as stream:
                reader = c2pa.Reader.try_create(_sdk_format(path), stream, context=context)
                if reader is None:
                    return _unreadable("the SDK found no manifest store where one was detected")
                return _summarize_reader(reader)
    except _NotAFile as exc:
        return {"validation_state": None, "not_a_file": {"path": exc.path, "what": exc.what}}
    except _NotRead as exc:
        return {"validation_state": None, "unreadable": {"path": exc.path, "why": exc.why}}
    except Exception as exc:  # the native SDK raises many C2paError kinds; all mean "unusable"
        return _unreadable(f"{type(exc).__name__}: {exc}")


class _NotAFile(Exception):
    """A file to verify is not a regular file (a named pipe, a socket or a device)."""

    def __init__(self, path: Path, mode: int) -> None:
        from ..discover import special_file

        super().__init__(path)
        self.path, self.what = path, special_file(mode)


class _NotRead(Exception):
    """A file to verify could not be opened or read, for a reason of the system's
    (permission denied, an I/O error): said as such, not as a manifest the SDK refused."""

    def __init__(self, path: Path, exc: OSError) -> None:
        super().__init__(path)
        self.path, self.why = path, unreadable(exc)


def _read_own(path: Path, stream: BinaryIO, size: int) -> bytes:
    """``stream.read(size)`` of the detached manifest ``path``; an OSError is :class:`_NotRead`."""
    try:
        return stream.read(size)
    except OSError as exc:
        raise _NotRead(path, exc) from None


def _open_regular(path: Path) -> BinaryIO:
    """``path`` open for reading, if it is a regular file (else :class:`_NotAFile`).

    Opened without blocking (``O_NONBLOCK``, which a regular file ignores), as the other
    readers open files (:func:`clearance._yaml.read_limited`): a named pipe put where the
    file was after the walk would make ``open()`` wait for a writer that never comes, and
    hang the run. What the open finds is checked on the open file, so it cannot change
    between the check and the read. A folder fails as ``open()`` would (``Is a directory``).
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:  # permission denied, a share gone: not the SDK's verdict
        raise _NotRead(path, exc) from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        if not stat.S_ISREG(mode):
            raise _NotAFile(path, mode)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _sdk_format(path: Path) -> str:
    """The format the SDK gives a file it opens by its path (its extension's MIME type, and
    ``""``, for it to tell from the bytes, when none is known), for the same file given to
    it open."""
    if path.suffix.lower() == ".dng":
        return "image/dng"  # (mimetypes' guess is wrong, the SDK says)
    return mimetypes.guess_type(str(path))[0] or ""


def _summarize_reader(reader: Any) -> dict[str, Any]:
    with reader:
        store = json.loads(reader.json())
        state = reader.get_validation_state()
    summary = summarize_store(store)
    summary["validation_state"] = state
    return summary


def _unreadable(message: str) -> dict[str, Any]:
    return {
        "validation_state": "Invalid",
        "failures": [{"code": "manifest.unreadable", "explanation": message}],
    }


# ------------------------------------------------------------------------------- summaries ----


def summarize_store(store: Mapping[str, Any]) -> dict[str, Any]:
    """What a manifest store (the SDK's JSON) says about GenAI, training and the signer.

    Pure function over the store's JSON, so it is testable without the SDK.

    :return: ``{"actions": [...], "source_type", "generated", "genai_in": ["active" |
        "ingredient"], "software_agents", "training_mining", "not_allowed", "signer",
        "claim_generator", "failures"}`` (keys present only when known).
    """
    manifests = store.get("manifests")
    if not isinstance(manifests, Mapping):
        manifests = {}
    active_label = store.get("active_manifest")
    summary: dict[str, Any] = {"actions": []}
    # one verdict per recorded term; None (undecided, misspelled, unreadable) is never "no"
    verdicts: list[bool | None] = []
    genai_in: list[str] = []
    active_types: list[str] = []
    agents: list[str] = []
    for label, manifest in manifests.items():
        if not isinstance(manifest, Mapping):
            continue
        role = "active" if label == active_label else "ingredient"
        for action in _actions(manifest):
            dst = action.get("digitalSourceType")
            agent = _agent_name(action.get("softwareAgent"))
            summary["actions"].append(
                {
                    "manifest": role,
                    "action": action.get("action"),
                    "digitalSourceType": dst,
                    "softwareAgent": agent,
                }
            )
            verdict = generated_from_source_type(dst)
            if dst is not None:  # an action without a term (c2pa.color_adjustments) says nothing
                verdicts.append(verdict)
            if verdict and role not in genai_in:
                genai_in.append(role)
            if role == "active" and isinstance(dst, str):
                active_types.append(dst)
                if verdict and agent and agent not in agents:
                    agents.append(agent)
        if role == "active":
            _active_details(manifest, summary)
    if active_types:
        genai_types = [t for t in active_types if generated_from_source_type(t)]
        summary["source_type"] = (genai_types or active_types)[0]
    if genai_in:
        summary["generated"] = True
        summary["genai_in"] = genai_in
    elif verdicts and all(verdict is False for verdict in verdicts):
        summary["generated"] = False
    if agents:
        summary["software_agents"] = agents
    failures = [
        {"code": s.get("code"), "explanation": s.get("explanation")}
        for s in store.get("validation_status") or []
        if isinstance(s, Mapping)
    ]
    if failures:
        summary["failures"] = failures
    return summary


def _actions(manifest: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    out: list[Mapping[str, Any]] = []
    for assertion in manifest.get("assertions") or []:
        # the SDK rewrites c2pa.actions to c2pa.actions.v2: match on the prefix
        if isinstance(assertion, Mapping) and str(assertion.get("label", "")).startswith(
            "c2pa.actions"
        ):
            data = assertion.get("data")
            actions = data.get("actions") if isinstance(data, Mapping) else None
            out.extend(a for a in actions or [] if isinstance(a, Mapping))
    return out


def _agent_name(agent: Any) -> str | None:
    if isinstance(agent, Mapping):
        name, version = agent.get("name"), agent.get("version")
        return f"{name} {version}" if name and version else name
    return agent if isinstance(agent, str) else None


def _active_details(manifest: Mapping[str, Any], summary: dict[str, Any]) -> None:
    for assertion in manifest.get("assertions") or []:
        if not isinstance(assertion, Mapping) or assertion.get("label") not in TRAINING_LABELS:
            continue
        data = assertion.get("data")
        entries = data.get("entries") if isinstance(data, Mapping) else None
        if isinstance(entries, Mapping):
            uses = {k: v.get("use") for k, v in entries.items() if isinstance(v, Mapping)}
            summary.setdefault("training_mining", {}).update(uses)
    if "training_mining" in summary:
        summary["not_allowed"] = sorted(
            k for k, v in summary["training_mining"].items() if v in RESTRICTED_USES
        )
    signature = manifest.get("signature_info")
    if isinstance(signature, Mapping):
        summary["signer"] = {
            k: signature[k] for k in ("issuer", "common_name", "alg", "time") if k in signature
        }
    generators = manifest.get("claim_generator_info")
    if isinstance(generators, list) and generators and isinstance(generators[0], Mapping):
        summary["claim_generator"] = _agent_name(generators[0])
    elif isinstance(manifest.get("claim_generator"), str):
        summary["claim_generator"] = manifest["claim_generator"]


# ---------------------------------------------------------------------------------- record ----


def record_from_c2pa(
    found: Mapping[str, Any], verified: Mapping[str, Any] | None, file: str
) -> PartialRecord:
    """The partial record for a detected manifest (``verified`` None: the SDK did not run).

    An ``Invalid`` store keeps only claims that make the audit stricter (GenAI was used,
    training is restricted); a "no GenAI" claim from it is dropped, because a broken manifest
    cannot vouch for it.
    """
    evidence: dict[str, Any] = {"location": found["location"], "verified": verified is not None}
    if found.get("sidecar") is not None:
        evidence["manifest_file"] = Path(found["sidecar"]).name
    data: dict[str, Any] = {}
    if verified is None:
        evidence["validation_state"] = None
        return PartialRecord(source=SOURCE, file=file, data=data, evidence=evidence)
    state = verified.get("validation_state")
    evidence["validation_state"] = state
    evidence["trusted"] = state == "Trusted"
    for key in (
        "failures",
        "signer",
        "claim_generator",
        "actions",
        "software_agents",
        "genai_in",
        "training_mining",
        "not_allowed",
    ):
        if verified.get(key):
            evidence[key] = verified[key]
    valid = state in ("Valid", "Trusted")
    if verified.get("generated") is True or (valid and verified.get("generated") is False):
        data["generated"] = verified["generated"]
    if verified.get("source_type") and (valid or verified.get("generated") is True):
        data["source_type"] = verified["source_type"]
    if verified.get("training_mining") and (valid or verified.get("not_allowed")):
        data["x-training-mining"] = dict(verified["training_mining"])
    return PartialRecord(source=SOURCE, file=file, data=data, evidence=evidence)


@hookimpl
def clearance_read_provenance(asset: Asset, policy: Any) -> PartialRecord | None:
    """The asset's C2PA manifest (a sequence: its first frame's, else the sequence's own
    ``PREFIX.c2pa``, checked against the first frame); None when it has none."""
    prefix = sequence_prefix_of(asset)
    not_files: list[tuple[str, str]] = []
    found = find_manifest(
        asset.path, asset.siblings, asset_stat(asset), sequence_prefix=prefix, not_files=not_files
    )
    # a manifest name that is a folder or a named pipe (``clearance check`` lists every
    # entry, the watcher lists none; a scan's walk lists only files and says so itself:
    # Asset.not_files): never opened, and never passed over as if there were no manifest
    odd = [
        ProvenanceIssue(display_path(asset, Path(where)), "c2pa", what) for where, what in not_files
    ]
    if found is None:
        if not odd:
            # one a scan's walk found to be no file (Asset.not_files: the engine's PRV-02)
            # is a manifest that could not be read, as check has it, never no manifest
            walked = next((p for p, _ in asset.not_files if p.name.endswith(".c2pa")), None)
            if walked is None:
                return None
            return PartialRecord(SOURCE, display_path(asset, walked), {}, volatile=True)
        record = PartialRecord(source=SOURCE, file=odd[0].file, data={}, issues=odd)
        record.volatile = True
        return record
    file = display_path(asset, found["sidecar"]) if found["sidecar"] else display_path(asset)
    settings = C2paSettings.from_policy(policy)
    verified = None
    note = None
    unread: ProvenanceIssue | None = None
    if settings.verify:
        if not sdk_available():
            note = "c2pa-python is not installed: install genai-clearance[c2pa] to verify"
        elif (
            settings.max_verify_bytes is not None and _size(asset.path) > settings.max_verify_bytes
        ):
            note = f"larger than readers.c2pa.max_verify_bytes ({settings.max_verify_bytes}): not verified"
        else:
            verified = verify_manifest(asset.path, settings, sidecar=found["sidecar"])
            if verified.get("settings_error"):
                settings.problems.append(
                    ("trust", f"the SDK refused the settings: {verified['settings_error']}")
                )
                note, verified = "not verified: the c2pa settings were refused", None
            elif verified.get("not_a_file"):
                unread, verified = _not_a_file(asset, verified["not_a_file"]), None
                note = f"not verified: {unread.file} is not a regular file"
            elif verified.get("unreadable"):
                where = verified["unreadable"]
                unread = ProvenanceIssue(
                    display_path(asset, Path(where["path"])), "c2pa", where["why"], unreadable=True
                )
                verified, note = None, f"not verified: {unread.file} could not be read"
    record = record_from_c2pa(found, verified, file)
    # never cached: the verdict depends on the clock (certificates expire), the trust list,
    # rules.PRV-06 and the SDK, none of which is in the asset's files
    record.volatile = True
    if note:
        record.evidence["note"] = note
    if unread is not None:
        record.issues.append(unread)
    # Container truncation is reported once, by the XMP reader, which walks the same file.
    record.issues.extend(
        ProvenanceIssue(file, f"readers.c2pa.{field}", message)
        for field, message in settings.problems
    )
    if prefix is not None:
        _unread_sequence_manifest(asset, prefix, found, record)
    record.issues.extend(odd)
    return record


def _not_a_file(asset: Asset, found: Mapping[str, Any]) -> ProvenanceIssue:
    """The issue (``PRV-02``) of a file to verify that is not a regular file when opened:
    the asset or its detached manifest, replaced by a named pipe after the walk (a walk
    that finds one reports it as a run error, and so does a run this finds it in). Never
    read, so unsure, never a pass."""
    return ProvenanceIssue(
        display_path(asset, Path(found["path"])),
        "c2pa",
        f"cannot read file: it is {found['what']}, not a regular file",
        unreadable=True,  # as a walk that finds it says: an error of the run too
    )


def _unread_sequence_manifest(
    asset: Asset, prefix: str, found: Mapping[str, Any], record: PartialRecord
) -> None:
    """The sequence's own manifest, when the first frame's was read instead, is an issue:
    one manifest is checked per sequence, and the other must not vanish unnoticed."""
    name = prefix + ".c2pa"
    if asset.siblings is not None and name not in asset.siblings:
        return
    manifest = asset.path.with_name(name)
    if found["sidecar"] == manifest or not is_file(manifest):
        return
    used = Path(found["sidecar"]).name if found["sidecar"] else f"the {found['location']} store"
    record.issues.append(
        ProvenanceIssue(
            display_path(asset, manifest),
            "c2pa",
            f"sequence manifest not read: {used} was (one manifest is checked per sequence,"
            " against its first frame)",
        )
    )


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
