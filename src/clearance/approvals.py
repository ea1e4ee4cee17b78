"""Approval records: which written approval covers a finding, and consents for talent rules.

An approval (``approvals.yaml``) covers a finding when the finding's rule matches one of its
``rules`` (globs allowed) and the asset is inside its ``scope``: the production, the shots,
the asset globs (matched against the root-relative path or the file name) and, when given,
``asset_sha256`` (the exact content; for a sequence, the hash of its frames' hashes). An
approval past its ``expires`` date still matches, but as *expired*: the finding stays open
with ``status: expired``. An approval whose ``approved_at`` is after the audit's date does
not exist yet: it covers nothing until that day, and the finding it would cover stays open
saying when it takes effect (``evidence.approval_pending``). Only ``approval`` findings are
ever offered; ``block`` is never cleared by an approval.
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .hookspecs import hookimpl
from .model import Asset, Finding, ProvenanceRecord
from .policy import Policy, utc_instant

__all__ = ["ApprovalMatch", "find_approval", "asset_sha256", "as_date"]


@dataclass(frozen=True)
class ApprovalMatch:
    """An approval record that covers a finding (``expired`` when past its expiry date; the
    engine treats a match without ``expires`` as expired, as ``approvals.yaml`` requires one).

    ``approved_at`` after the audit's date: the approval does not exist yet and covers
    nothing until then (the engine leaves the finding open and says when it takes effect)."""

    id: str
    expired: bool = False
    expires: str | None = None
    approved_by: str | None = None
    document: str | None = None
    approved_at: str | None = None


def as_date(value: Any) -> _dt.date | None:
    """A date from a YAML/JSON value (``date``, ``datetime`` or ISO 8601 text: a whole date,
    or date and time); None otherwise (``"2099-12-31 (end of season?)"`` included). A time
    with an offset is the UTC day of that instant, as the audit's date is (``policy.now``)."""
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
    """Content hash of an asset: the file's SHA-256; for a sequence (one of a single frame
    too), of its frames' hashes."""
    if len(asset.files) == 1 and not asset.is_sequence:
        return _file_sha256(asset.files[0])
    digest = hashlib.sha256()
    for path in asset.files:
        digest.update(f"{path.name} {_file_sha256(path)}\n".encode("utf-8", "surrogateescape"))
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


def productions_of(record: ProvenanceRecord | None, policy: Policy) -> tuple[str, ...] | None:
    """Every production an asset is audited for: the one its sidecar names, and
    clearance.yaml's (the show being audited), once each. An asset made for one show that
    sits in another's tree (a talent model's output reused, a mislabelled file) must be
    cleared for both: each show's talent models, consents and approvals are its own. None
    (unknown) when neither gives one, or when the sidecar gives one that is invalid (it may
    name any show)."""
    configured = policy.production_id
    value = record.data.get("production") if record is not None else None
    if not isinstance(value, str):
        if record is not None and record.is_unknown("production"):
            return None
        return None if configured is None else (configured,)
    if configured is None or configured == value:
        return (value,)
    return (value, configured)


def _in_scope(
    approval: dict[str, Any], asset: Asset | None, record: ProvenanceRecord | None, policy: Policy
) -> bool:
    scope = approval.get("scope") or {}
    production = scope.get("production")
    if production is not None and productions_of(record, policy) != (production,):
        return False
    shots = scope.get("shots")
    if shots is not None and (record is None or record.get("shot", None) not in shots):
        return False
    uses = scope.get("uses")
    if uses is not None and _use_of(asset, record, policy) not in uses:
        return False
    globs = scope.get("assets")
    if asset is None:  # a stage finding about no one asset: no shot or asset scope covers it
        return globs is None and not approval.get("asset_sha256")
    return globs is None or any(
        fnmatch.fnmatchcase(asset.rel, g) or fnmatch.fnmatchcase(asset.name, g) for g in globs
    )


def _use_of(asset: Asset | None, record: ProvenanceRecord | None, policy: Policy) -> str | None:
    """What the asset is used for, as an approval's ``scope.uses`` names it: ``final`` in a
    final stage or when the sidecar says it is in the final cut, else its ``output.use``;
    None when unknown (no asset: a stage finding; no use given), which no ``uses`` covers."""
    if asset is None:
        return None
    if policy.stage(asset.stage).final or (
        record is not None and record.get("output.in_final_cut", None) is True
    ):
        return "final"
    use = record.get("output.use", None) if record is not None else None
    return use if isinstance(use, str) else None


def find_approval(
    finding: Finding, asset: Asset | None, record: ProvenanceRecord | None, policy: Policy
) -> ApprovalMatch | None:
    """The approval covering ``finding``: a valid one if any, else an expired one, else one
    not yet in effect (``approved_at`` after the audit's date), else None.

    ``asset`` and ``record`` are None for a stage finding that names no audited asset: only
    an approval whose scope gives no ``shots``, ``assets`` or ``asset_sha256`` covers it."""
    expired: ApprovalMatch | None = None
    pending: ApprovalMatch | None = None
    content_hash: str | None = None
    for approval_id, approval in _candidates(finding.rule, record, policy):
        if not _in_scope(approval, asset, record, policy):
            continue
        wanted = approval.get("asset_sha256")
        if wanted and asset is not None:
            if content_hash is None:
                content_hash = _audited_sha256(asset)
            if content_hash.lower() != str(wanted).lower():
                continue
        expires = as_date(approval.get("expires"))
        approved_at = as_date(approval.get("approved_at"))
        match = ApprovalMatch(
            id=approval_id,
            expired=expires is None or expires < policy.today,
            expires=expires.isoformat() if expires else None,
            approved_by=approval.get("approved_by"),
            document=approval.get("document"),
            approved_at=approved_at.isoformat() if approved_at else None,
        )
        if match.expired:  # (past its expiry, whenever it was approved)
            expired = expired or match
        elif approved_at is not None and approved_at > policy.today:
            pending = pending or match
        else:
            return match
    return expired or pending


class _Index:
    """A policy's approvals indexed by rule, and per rule by the shot they are scoped to.

    :func:`find_approval` runs for every approval finding: walking (and sorting) the whole
    registry each time cost assets × approvals (2,000 per-shot approvals: 12 million scope
    tests for 4,000 assets). Exact rule ids are a dict, rule globs a short list compiled
    once; what a rule's look-up finds is kept per rule, split by ``scope.shots``.
    """

    def __init__(self, approvals: dict[str, dict[str, Any]]) -> None:
        #: the approvals in id order: every look-up yields them in this order
        self.ordered = sorted(approvals.items())
        self.exact: dict[str, list[int]] = {}
        self.globs: list[tuple[Callable[[str], Any], int]] = []
        for position, (_, approval) in enumerate(self.ordered):
            for pattern in approval.get("rules", []):
                if isinstance(pattern, str) and not any(c in pattern for c in "*?["):
                    self.exact.setdefault(pattern, []).append(position)
                else:  # what fnmatchcase would do with it, a TypeError for a non-string too
                    match = (
                        re.compile(fnmatch.translate(pattern)).match
                        if isinstance(pattern, str)
                        else lambda rule, p=pattern: fnmatch.fnmatchcase(rule, p)
                    )
                    self.globs.append((match, position))
        self._by_rule: dict[str, tuple[list[int], dict[Any, list[int]]]] = {}

    def candidates(self, rule: str, shot: Any) -> list[tuple[str, dict[str, Any]]]:
        """The approvals whose ``rules`` match ``rule`` and whose ``scope.shots`` (if any)
        may hold ``shot``, in id order (the scope is still tested in full by the caller)."""
        by_rule = self._by_rule.get(rule)
        if by_rule is None:
            by_rule = self._by_rule[rule] = self._for_rule(rule)
        any_shot, by_shot = by_rule
        try:
            scoped = by_shot.get(shot, ())
        except TypeError:  # an unhashable shot from a plugin's reader: every candidate
            scoped = sorted({p for positions in by_shot.values() for p in positions})
        positions = sorted({*any_shot, *scoped}) if scoped else any_shot
        return [self.ordered[p] for p in positions]

    def _for_rule(self, rule: str) -> tuple[list[int], dict[Any, list[int]]]:
        matching = set(self.exact.get(rule, ()))
        matching.update(p for match, p in self.globs if p not in matching and match(rule))
        any_shot: list[int] = []
        by_shot: dict[Any, list[int]] = {}
        for position in sorted(matching):
            shots = (self.ordered[position][1].get("scope") or {}).get("shots")
            try:
                keys = set(shots) if isinstance(shots, (list, tuple)) else None
            except TypeError:  # an unhashable entry: tested in full on every look-up
                keys = None
            if keys is None:
                any_shot.append(position)
            else:
                for key in keys:
                    by_shot.setdefault(key, []).append(position)
        return any_shot, by_shot


def _candidates(
    rule: str, record: ProvenanceRecord | None, policy: Policy
) -> list[tuple[str, dict[str, Any]]]:
    """:meth:`_Index.candidates` of the policy's approvals, indexed once per policy (for as
    long as ``policy.approvals`` is the same mapping of the same length)."""
    approvals = policy.approvals
    memo = policy.__dict__.get("_approvals_index")
    if memo is None or memo[0] is not approvals or memo[1] != len(approvals):
        memo = policy.__dict__["_approvals_index"] = (approvals, len(approvals), _Index(approvals))
    return memo[2].candidates(rule, record.get("shot", None) if record is not None else None)


@hookimpl(trylast=True)
def clearance_find_approval(
    finding: Finding, asset: Asset | None, record: ProvenanceRecord | None, policy: Policy
) -> ApprovalMatch | None:
    """The built-in approvals registry (``approvals.yaml``)."""
    return find_approval(finding, asset, record, policy)
