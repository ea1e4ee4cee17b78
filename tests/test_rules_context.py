"""The rule context one asset's checks share: what it derives once per asset (is the asset
final, its talent entries) is never carried over to the next asset's record."""

from __future__ import annotations

from pathlib import Path

from _records import ROOT, policy, sidecar
from clearance.model import Asset, PartialRecord, ProvenanceRecord
from clearance.rules import deliverables, talent

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
