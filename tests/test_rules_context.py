"""The rule context one asset's checks share: what it derives once per asset (is the asset
final, its talent entries) is never carried over to the next asset's record."""

from __future__ import annotations

import functools
import importlib
import pickle
from pathlib import Path

from _records import ROOT, policy, sidecar
from clearance.model import Asset, Finding, Outcome, PartialRecord, ProvenanceRecord
from clearance.rules import RulePack, deliverables, talent
from clearance.rules._builtin import BUILTIN_RULE_MODULES
from clearance.rules._common import genai_only

REPLICA = {"performer": "P-0001", "replica": "independent", "alteration": "none"}


def record(data: dict) -> ProvenanceRecord:
    return ProvenanceRecord.merge([PartialRecord(source="sidecar", file="x.genai.yaml", data=data)])


def test_the_next_record_of_the_same_asset_is_judged_on_its_own_final_flag_and_talent():
    # same asset, stage and policy: only the record differs, as when a watcher re-audits an
    # asset whose sidecar changed (the shared context must not answer from the last record)
    the_policy = policy()
    stage = the_policy.stage("comp")
    asset = Asset(path=ROOT / "comp/sh010.exr", rel="comp/sh010.exr", root=Path(ROOT), stage="comp")
    final_with_talent = record(
        sidecar({"output.in_final_cut": True, "output.human_contribution": "", "talent": [REPLICA]})
    )
    plain = record(sidecar())

    first = [
        f.rule
        for pack in (deliverables.pack, talent.pack)
        for f in pack.clearance_check_asset(asset, final_with_talent, stage, the_policy)
    ]
    second = [
        f.rule
        for pack in (deliverables.pack, talent.pack)
        for f in pack.clearance_check_asset(asset, plain, stage, the_policy)
    ]

    assert {"NFX-F3", "NFX-T1"} <= set(first)
    assert "NFX-F3" not in second and "NFX-T1" not in second


def _each_check(pack, asset, rec, stage, the_policy) -> list[tuple[str, str, dict]]:
    """What the pack's rules say when each ``rule.check`` is called as written (its guard
    included), one fresh context per rule."""
    from clearance.rules import RuleContext

    found = []
    for rule in the_policy.enabled_rules(pack.name, pack.rules):
        answer = rule.check(RuleContext(rule, asset, rec, stage, the_policy))
        items = [answer] if isinstance(answer, Finding) else list(answer or ())
        found += [(f.rule, f.message, f.evidence) for f in items if f is not None]
    return found


def test_a_pack_answers_as_its_rules_checks_do_with_their_guards_asked_by_the_pack():
    # the pack asks genai_only's and provenance_only's guard itself and calls the check
    # inside; assets on either side of each guard get what calling rule.check gives
    the_policy = policy(rules={"NFX-F3": {"enabled": False}})
    stage = the_policy.stage("delivery")
    asset = Asset(
        path=ROOT / "delivery/a.exr", rel="delivery/a.exr", root=Path(ROOT), stage="delivery"
    )
    records = [
        record(sidecar({"output.use": "final", "talent": [REPLICA]})),  # GenAI
        record(sidecar({"generated": False, "source_type": "digitalCapture"})),  # not GenAI
        record(sidecar({"generated": False})),  # not GenAI, a GenAI source type: IPTC-* fire
        record(sidecar({"generated": "unknown"})),  # unknown: GenAI's rules run
        ProvenanceRecord(),  # nothing known: only the unguarded rules
    ]
    guarded = {"genai": 0, "provenance": 0}
    for module in BUILTIN_RULE_MODULES:
        pack = importlib.import_module(module).pack
        for rule in pack.rules:
            guard = getattr(rule.check, "_clearance_guard", (0,))[0]
            guarded["genai" if guard == 1 else "provenance" if guard == 2 else "none"] = 1
        for rec in records:
            by_pack = [
                (f.rule, f.message, f.evidence)
                for f in pack.clearance_check_asset(asset, rec, stage, the_policy)
            ]
            assert by_pack == _each_check(pack, asset, rec, stage, the_policy), (module, rec)
    assert guarded == {"genai": 1, "provenance": 1, "none": 1}


#: a site pack with a guarded rule, at module level so that pickle finds its checks by name
SITE_PACK = RulePack("site-guarded")


@SITE_PACK.rule("SITE-1", title="t", principle="p", outcome=Outcome.NOTICE, remediation="r")
@genai_only
def site_genai_rule(ctx):
    yield ctx.finding("GenAI asset")


def test_a_decorator_around_a_guarded_check_still_runs():
    # functools.wraps copies the guard's note onto the decorator put around it: the pack
    # must call that decorator, not the check inside the guard
    calls = []

    def counted(check):
        @functools.wraps(check)
        def wrapper(ctx):
            calls.append(ctx.asset.rel)
            return check(ctx)

        return wrapper

    pack = RulePack("site-decorated")

    @pack.rule("SITE-2", title="t", principle="p", outcome=Outcome.NOTICE, remediation="r")
    @counted
    @genai_only
    def decorated(ctx):
        yield ctx.finding("GenAI asset")

    the_policy = policy()
    asset = Asset(path=ROOT / "comp/b.exr", rel="comp/b.exr", root=Path(ROOT), stage="comp")
    found = pack.clearance_check_asset(
        asset, record(sidecar()), the_policy.stage("comp"), the_policy
    )
    assert [f.rule for f in found] == ["SITE-2"]
    assert calls == ["comp/b.exr"]


def test_a_pack_that_has_checked_assets_pickles_and_answers_as_before():
    # spawned --jobs workers are sent site packs pickled; the check inside a guard cannot be
    # pickled by name, so the plan a pack worked out stays in the process that made it
    the_policy = policy()
    stage = the_policy.stage("comp")
    asset = Asset(path=ROOT / "comp/a.exr", rel="comp/a.exr", root=Path(ROOT), stage="comp")
    genai = record(sidecar())
    before = SITE_PACK.clearance_check_asset(asset, genai, stage, the_policy)

    copied = pickle.loads(pickle.dumps(SITE_PACK))

    after = copied.clearance_check_asset(asset, genai, stage, the_policy)
    assert [f.rule for f in before] == [f.rule for f in after] == ["SITE-1"]
    not_genai = record(sidecar({"generated": False, "source_type": "digitalCapture"}))
    assert copied.clearance_check_asset(asset, not_genai, stage, the_policy) == []
