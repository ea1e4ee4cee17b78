"""Approval records: which written approval covers a finding, and consents for talent rules.

An approval (``approvals.yaml``) covers a finding when the finding's rule matches one of its
``rules`` (globs allowed) and the asset is inside its ``scope``: the production, the shots,
the asset globs (matched against the root-relative path or the file name) and, when given,
``asset_sha256`` (the exact content; for a sequence, the hash of its frames' hashes). An
approval past its ``expires`` date still matches, but as *expired*: the finding stays open
with ``status: expired``. Only ``approval`` findings are ever offered; ``block`` is never
cleared by an approval.
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
import hashlib
from dataclasses import dataclass
from typing import Any

from .hookspecs import hookimpl
from .model import Asset, Finding, ProvenanceRecord
from .policy import Policy, utc_instant

__all__ = ["ApprovalMatch", "find_approval", "asset_sha256", "as_date"]


@dataclass(frozen=True)
class ApprovalMatch:
    """An approval record that covers a finding (``expired`` when past its expiry date; the
    engine treats a match without ``expires`` as expired, as ``approvals.yaml`` requires one)."""

    id: str
    expired: bool = False
    expires: str | None = None
    approved_by: str | None = None
    document: str | None = None


def as_date(value: Any) -> _dt.date | None:
    """A date from a YAML/JSON value (``date``, ``datetime`` or ISO 8601 text: a whole date,
    or date and time); None otherwise (``"2099-12-31 (end of season?)"`` included). A time
    with an offset is the UTC day of that instant, as the run's date is (``policy.now``)."""
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(_dt.timezone.utc)
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, str):
        when = utc_instant(value)
        return when.date() if when is not None else None
    return None


def asset_sha256(asset: Asset) -> str:
    """Content hash of an asset: the file's SHA-256; for a sequence, of its frames' hashes."""
    if len(asset.files) == 1:
        return _file_sha256(asset.files[0])
    digest = hashlib.sha256()
    for path in asset.files:
        digest.update(f"{path.name} {_file_sha256(path)}\n".encode())
    return digest.hexdigest()


def _file_sha256(path: Any) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _audited_sha256(asset: Asset) -> str:
    """:func:`asset_sha256`, worked out once per audit of ``asset`` (every ``approval``
    finding of a sequence asks for it: each would hash every frame again); ``""`` when a
    file cannot be read, which no approval's hash matches. The memo lives as long as the
    audit's ``asset.stats``: a later audit (the files changed) hashes them again."""
    audit = asset.stats  # one dict per audit (Session.audit); None outside one
    memo = asset.__dict__.get("_sha256")
    if audit is not None and memo is not None and memo[0] is audit:
        return memo[1]  # type: ignore[no-any-return]
    try:
        digest = asset_sha256(asset)
    except OSError:
        digest = ""
    if audit is not None:
        asset.__dict__["_sha256"] = (audit, digest)
    return digest


def _in_scope(
    approval: dict[str, Any], asset: Asset | None, record: ProvenanceRecord | None, policy: Policy
) -> bool:
    scope = approval.get("scope") or {}
    production = scope.get("production")
    if production is not None:
        asset_production = (record.get("production", None) if record else None) or (
            policy.production_id
        )
        if asset_production != production:
            return False
    shots = scope.get("shots")
    if shots is not None and (record is None or record.get("shot", None) not in shots):
        return False
    globs = scope.get("assets")
    if asset is None:  # a stage finding about no one asset: no shot or asset scope covers it
        return globs is None and not approval.get("asset_sha256")
    return globs is None or any(
        fnmatch.fnmatchcase(asset.rel, g) or fnmatch.fnmatchcase(asset.name, g) for g in globs
    )


def find_approval(
    finding: Finding, asset: Asset | None, record: ProvenanceRecord | None, policy: Policy
) -> ApprovalMatch | None:
    """The approval covering ``finding``: a valid one if any, else an expired one, else None.

    ``asset`` and ``record`` are None for a stage finding that names no audited asset: only
    an approval whose scope gives no ``shots``, ``assets`` or ``asset_sha256`` covers it."""
    expired: ApprovalMatch | None = None
    content_hash: str | None = None
    for approval_id, approval in sorted(policy.approvals.items()):
        if not any(fnmatch.fnmatchcase(finding.rule, pat) for pat in approval.get("rules", [])):
            continue
        if not _in_scope(approval, asset, record, policy):
            continue
        wanted = approval.get("asset_sha256")
        if wanted and asset is not None:
            if content_hash is None:
                content_hash = _audited_sha256(asset)
            if content_hash.lower() != str(wanted).lower():
                continue
        expires = as_date(approval.get("expires"))
        match = ApprovalMatch(
            id=approval_id,
            expired=expires is None or expires < policy.today,
            expires=expires.isoformat() if expires else None,
            approved_by=approval.get("approved_by"),
            document=approval.get("document"),
        )
        if not match.expired:
            return match
        expired = expired or match
    return expired


@hookimpl(trylast=True)
def clearance_find_approval(
    finding: Finding, asset: Asset | None, record: ProvenanceRecord | None, policy: Policy
) -> ApprovalMatch | None:
    """The built-in approvals registry (``approvals.yaml``)."""
    return find_approval(finding, asset, record, policy)
