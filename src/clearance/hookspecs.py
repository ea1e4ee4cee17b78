"""Every hook a Clearance plugin can implement: the API document for pipeline TDs.

A plugin is a module (or any object) with functions named after these hooks and marked
with ``@clearance.hookimpl``. Implementations take only the arguments they need, by name.
Built-in readers and rule packs are plugins of exactly this kind; read
``clearance/rules/provenance.py`` for a worked example and ``docs/first-checker.md`` for a
walk-through.

Hooks are grouped by when they run in an audit::

    registration      clearance_add_rules
    provenance        clearance_read_provenance
    checks            clearance_check_asset, clearance_check_stage
    approvals         clearance_find_approval
    notifications     clearance_stage_started, clearance_finding, clearance_asset_audited,
                      clearance_stage_finished

Register a plugin with the ``clearance`` entry-point group, or list its file or module under
``plugins:`` in ``clearance.yaml`` (globally, or under one stage to attach it to that stage
only). A plugin that fails to import, implements an unknown hook, has a ``clearance_*``
function not marked ``@hookimpl``, or has a hook wrapper (``wrapper=True``,
``hookwrapper=True``: each implementation is called on its own) fails the run (exit 2).

A site plugin's hooks read copies of what the engine decided, and a read-only ``policy``:
changing the tool registry, the approvals, a rule's settings, a stage or ``policy.now``
there raises in the plugin (its ``PRV-05``), see ``docs/hooks.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .approvals import ApprovalMatch
    from .model import Asset, AssetResult, Finding, PartialRecord, ProvenanceRecord, StageResult
    from .policy import Policy, StageConfig
    from .rules import RuleRegistry

PROJECT = "clearance"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# -------------------------------------------------------------------------------------------
# registration
# -------------------------------------------------------------------------------------------


@hookspec
def clearance_add_rules(registry: RuleRegistry) -> None:
    """Contribute rule definitions: id, title, principle, default outcome, remediation.

    Called once per run, before any asset is audited. Add each rule with
    ``registry.add(Rule(...))``; a finding may only name a rule that some plugin added.
    Rule ids are stable: they appear in findings, approvals and configs. Site rules use
    their own prefix (``SHOW-``, ``STUDIO-``); ids already taken are refused. A rule that
    declares its parameters (``Rule(..., params=("names",))``) makes any other key under
    ``rules: {ID: ...}`` a configuration error; without ``params`` every key is accepted.

    :param registry: the run's :class:`~clearance.rules.RuleRegistry`.

    Return value is ignored.

    .. versionadded:: 0.1
    """


# -------------------------------------------------------------------------------------------
# provenance
# -------------------------------------------------------------------------------------------


@hookspec
def clearance_read_provenance(
    asset: Asset, policy: Policy, partials: list[PartialRecord]
) -> PartialRecord | None:
    """Read what one source says about how ``asset`` was made.

    Every reader is called, in registration order (``tryfirst`` ones first, ``trylast`` ones
    last): the sidecar reader, the built-in XMP, EXR and C2PA readers, then entry points' and
    configured files' readers, the built-in lineage reader last. Their results are merged
    into one :class:`~clearance.model.ProvenanceRecord` (the sidecar reader's fields win,
    then the others in registration order) and each reader's own view is kept, so disagreement
    between sources becomes a ``PRV-04`` finding. Read headers only: never decode pixels,
    never open files outside ``asset.files`` and ``asset.sidecar``.

    :param asset: the asset (single file or frame sequence) being audited.
    :param policy: the run's configuration (root, media extensions, rule parameters).
    :param partials: what the readers called before this one returned (read-only; the
        sidecar reader runs first, and a site reader sees the built-in readers' records).
        The built-in lineage reader (``trylast``) takes the declared inputs from here and
        reads the state store.
    :return: a :class:`~clearance.model.PartialRecord` with the fields this source knows,
        in the sidecar format-1 shape, and any problems found as ``issues``; ``None`` when
        this source has nothing for this asset (no sidecar, no embedded metadata). A reader
        that raises, or returns anything else, is reported as ``PRV-05`` and the other
        readers still run. Paths and dates in ``data`` and ``evidence`` are converted to
        strings (``docs/hooks.md``, "Findings"). A file this source could not read for a
        reason of the system's (an ``OSError``: permission denied, an I/O error) is an
        issue with ``unreadable=True`` (and the record ``volatile``): not raised, it stays
        the asset's ``PRV-02`` and ``scan``/``check`` also report it as an I/O error.

    .. versionadded:: 0.1
    .. versionchanged:: 0.1 ``partials`` added (implementations may ignore it).
    .. versionchanged:: 0.1 ``ProvenanceIssue.unreadable``.
    """


# -------------------------------------------------------------------------------------------
# checks
# -------------------------------------------------------------------------------------------


@hookspec
def clearance_check_asset(
    asset: Asset, record: ProvenanceRecord, stage: StageConfig, policy: Policy
) -> list[Finding] | None:
    """Check one asset in one stage and return what was found.

    Called once per asset per stage, for every plugin attached to that stage (global
    plugins, and plugins listed under the stage). Each implementation runs isolated: one
    that raises produces a ``PRV-05`` finding naming the plugin, and every other checker
    still runs, so a crashed checker never counts as a pass.

    :param asset: the asset; ``asset.rel`` is what findings report.
    :param record: the merged provenance record (``record.present`` is False when nothing at
        all is known: the built-in ``PRV-01`` reports that).
    :param stage: the stage configuration (``stage.name``, ``stage.final``).
    :param policy: the run's configuration: production, tool registry, consents, per-rule
        settings (``policy.rule_settings("NFX-C2")``).
    :return: a list of :class:`~clearance.model.Finding` (empty or ``None``: nothing found).
        A finding names a registered rule; leave ``outcome`` unset to use the rule's default
        outcome (or give an :class:`~clearance.model.Outcome`, or its name: ``"block"``), and
        set ``unsure=True`` when the finding is due to missing or unknown data. Missing data
        is never a pass. ``evidence`` holds JSON values; paths, dates, sets and tuples are
        converted, anything else is ``PRV-05`` (``docs/hooks.md``, "Findings"), as is a
        return value that is not a list of findings. A generator may be returned: what it
        yielded before raising is kept.

    .. versionadded:: 0.1
    """


@hookspec
def clearance_check_stage(stage_result: StageResult, policy: Policy) -> list[Finding] | None:
    """Check a stage as a whole, after all of the run's assets in it were audited.

    Use this for rules about sets of assets (a sequence missing from delivery, a quota of
    GenAI shots). Isolated like :func:`clearance_check_asset`. A ``scan`` that walked every
    folder of a configured stage calls it even when they hold no asset (``assets`` empty,
    ``complete`` true): what it returns then decides the stage's findings, as for any whole
    run — return nothing unless an empty stage is itself a finding.

    :param stage_result: every :class:`~clearance.model.AssetResult` of the stage in this run;
        ``stage_result.complete`` is true when the run audited the whole stage (``scan`` of
        every folder of it), false for a part (``check FILE``, a subfolder): a report lets
        only a complete run's stage findings replace the stage's earlier ones. A site
        plugin gets a copy of the results and findings.
    :param policy: the run's configuration.
    :return: stage-level findings (their ``asset`` may name an asset, or stay empty).

    .. versionadded:: 0.1
    .. versionchanged:: 0.1 also called for a configured stage a ``scan`` walked whole
       and found empty.
    """


# -------------------------------------------------------------------------------------------
# approvals
# -------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def clearance_find_approval(
    finding: Finding, asset: Asset | None, record: ProvenanceRecord | None, policy: Policy
) -> ApprovalMatch | None:
    """Find the approval record that covers an ``approval`` finding.

    Stops at the first non-``None`` result. The built-in implementation reads
    ``approvals.yaml`` (rules, production, shots, asset globs, ``asset_sha256``, expiry); a
    site plugin can ask a production tracker instead, and runs first (``tryfirst=True``) or
    after the built-in one declined. Only open findings whose outcome is ``approval`` are
    offered, a stage checker's too; ``block`` is never cleared by an approval.

    :param finding: the open finding (a copy, for a site plugin: changing it clears nothing;
        return a match).
    :param asset: the asset it is about; for a stage-level finding
        (:func:`clearance_check_stage`), the audited asset its ``asset`` names, else ``None``.
    :param record: the asset's provenance record (production, shot); ``None`` with
        ``asset``.
    :param policy: the run's configuration (``policy.approvals``, ``policy.now``).
    :return: an :class:`~clearance.approvals.ApprovalMatch` (``expired=True`` when the
        approval matched but has expired: the finding stays open with ``status: expired``),
        or ``None`` when nothing covers the finding. Anything else is ``PRV-05`` and the
        finding stays open. The engine also compares ``expires`` (``YYYY-MM-DD``, an ISO
        8601 date and time, or a ``date``) with the audit's date (``policy.now``) as it does
        ``approvals.yaml``'s: a match whose ``expires`` is past, or that has none, is
        expired whatever ``expired`` says, and one whose ``expires`` does not read as a
        date is ``PRV-05`` (unsure, never approved). An ``approved_at`` (optional) after
        the audit's date is an approval not in effect yet: the finding stays open, its
        ``evidence.approval_pending`` and ``approval_effective`` say which and when.

    .. versionadded:: 0.1
    """


# -------------------------------------------------------------------------------------------
# notifications (return values ignored; a failing one is reported, never fatal)
# -------------------------------------------------------------------------------------------


@hookspec
def clearance_stage_started(stage: StageConfig, policy: Policy) -> None:
    """A stage's audit is starting in this run (e.g. open a ticket batch in a tracker).

    Also for a configured stage a ``scan`` walked whole and found empty: its
    :func:`clearance_stage_finished` then has no asset.

    :param stage: the stage configuration.
    :param policy: the run's configuration.

    .. versionadded:: 0.1
    """


@hookspec
def clearance_finding(finding: Finding, result: AssetResult, policy: Policy) -> None:
    """A finding was decided (approvals applied), e.g. to post it to a tracker.

    Called for every finding, open or approved, after it was written to the audit log.

    :param finding: the finding, with ``status`` and ``approval`` final (a copy, for a site
        plugin: what it changes there is not recorded).
    :param result: the asset's result so far (a copy, as ``finding``).
    :param policy: the run's configuration.

    .. versionadded:: 0.1
    """


@hookspec
def clearance_asset_audited(result: AssetResult, policy: Policy) -> None:
    """An asset's audit is complete: its findings are final and its events are written.

    The built-in lineage store uses it to record the asset and its GenAI ancestry; a site
    plugin can use it to update a production tracker once per asset.

    :param result: the asset's result (``result.asset``, ``result.record``,
        ``result.findings``, ``result.outcome``); a site plugin gets a copy of it and its
        findings (what it changes there is not recorded).
    :param policy: the run's configuration.

    .. versionadded:: 0.1
    """


@hookspec
def clearance_stage_finished(stage_result: StageResult, policy: Policy) -> None:
    """A stage's audit is finished in this run; ``stage_result.counts()`` has the tallies.

    :param stage_result: the stage's results (a copy, for a site plugin).
    :param policy: the run's configuration.

    .. versionadded:: 0.1
    """
