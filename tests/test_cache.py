"""The provenance cache: warm re-scans reuse what readers said, and nothing stale survives.

Rules, approvals and the configuration are evaluated on every run: a changed sidecar, a
changed configuration and an approval that expired all change the result of a warm scan.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from pathlib import Path

import yaml

from clearance.testing import ClearanceRun
from conftest import genai_sidecar, run_cli


def audited(show: ClearanceRun) -> dict[str, dict]:
    events = [
        json.loads(line) for line in (show.root / ".clearance/audit.jsonl").read_text().splitlines()
    ]
    run_id = events[-1]["run_id"]
    return {
        e["asset"]: e for e in events if e["event"] == "asset.audited" and e["run_id"] == run_id
    }


def scan(show: ClearanceRun, *extra: str, env: dict[str, str] | None = None) -> dict:
    done = run_cli("scan", str(show.root), "--format", "json", *extra, env=env)
    assert done.code in (0, 1), done.stderr
    return {a["asset"]: a for a in done.json()["assets"]}


def make(tmp_path: Path) -> ClearanceRun:
    show = ClearanceRun(tmp_path / "show")
    show.root.mkdir()
    show.asset("comp/a.png", sidecar=genai_sidecar())
    show.asset("comp/seq.####.png", frames=range(1, 6), sidecar=genai_sidecar())
    show.asset(
        "delivery/final.png",
        sidecar=genai_sidecar(output={**genai_sidecar()["output"], "use": "final"}),
    )
    show.write_config()
    return show


def test_second_scan_reads_from_the_cache_and_gives_the_same_result(tmp_path: Path) -> None:
    show = make(tmp_path)
    cold = scan(show)
    assert not any(e["details"]["cached"] for e in audited(show).values())
    warm = scan(show)
    assert all(e["details"]["cached"] for e in audited(show).values())
    assert warm == cold
    assert scan(show, "--no-cache") == cold
    assert not any(e["details"]["cached"] for e in audited(show).values())


def test_changed_sidecar_is_read_again(tmp_path: Path) -> None:
    show = make(tmp_path)
    assert scan(show)["comp/a.png"]["outcome"] == "pass"
    sidecar = show.root / "comp/a.png.genai.yaml"
    doc = yaml.safe_load(sidecar.read_text())
    doc["source_type"] = "digitalCapture"  # contradiction: IPTC-02 block
    sidecar.write_text(yaml.safe_dump(doc))
    os.utime(sidecar, ns=(time.time_ns(), time.time_ns() + 5_000_000))
    result = scan(show)
    assert result["comp/a.png"]["outcome"] == "block"
    assert not audited(show)["comp/a.png"]["details"]["cached"]
    assert audited(show)["delivery/final.png"]["details"]["cached"]


def test_a_detached_c2pa_manifest_added_later_is_read(tmp_path: Path) -> None:
    """The fingerprint covers the C2PA sidecar names the reader probes: one that appears
    next to a cached asset (listed by the next scan's walk) makes that asset be read again."""
    show = make(tmp_path)
    scan(show)
    scan(show)
    assert audited(show)["comp/a.png"]["details"]["cached"]
    (show.root / "comp/a.png.c2pa").write_bytes(b"not a manifest store")
    result = scan(show)
    event = audited(show)["comp/a.png"]
    assert not event["details"]["cached"]
    assert "c2pa" in event["details"]["sources"]
    assert "PRV-06" in {f["rule"] for f in result["comp/a.png"]["findings"]}
    assert audited(show)["delivery/final.png"]["details"]["cached"]


def test_a_sequence_manifest_added_later_is_read(tmp_path: Path) -> None:
    """A sequence's own PREFIX.c2pa (a PREFIX with a dot in it) is a name the reader reads, so
    the fingerprint covers it too."""
    show = make(tmp_path)
    show.asset("comp/sh010.v002.####.png", frames=range(1, 3), sidecar=genai_sidecar())
    scan(show)
    scan(show)
    assert audited(show)["comp/sh010.v002.####.png"]["details"]["cached"]
    (show.root / "comp/sh010.v002.c2pa").write_bytes(b"not a manifest store")
    scan(show)
    event = audited(show)["comp/sh010.v002.####.png"]
    assert not event["details"]["cached"]
    assert "c2pa" in event["details"]["sources"]


def test_new_frame_in_a_sequence_invalidates_it(tmp_path: Path) -> None:
    show = make(tmp_path)
    scan(show)
    from clearance.testing import write_png

    write_png(show.root / "comp" / "seq.0009.png")
    result = scan(show)
    assert result["comp/seq.####.png"]["frames"] == "1-5,9"
    assert not audited(show)["comp/seq.####.png"]["details"]["cached"]


def test_changed_config_changes_a_warm_result(tmp_path: Path) -> None:
    show = make(tmp_path)
    assert scan(show)["comp/a.png"]["outcome"] == "pass"
    show.config["rules"] = {"NFX-GP3": {"outcome": "block"}}
    show.tools["studio-diffusion"]["deployment"] = "consumer"
    show.write_config()
    result = scan(show)
    assert audited(show)["comp/a.png"]["details"]["cached"], "provenance still cached"
    assert result["comp/a.png"]["outcome"] == "block", "rules and config re-evaluated"


def test_expired_approval_changes_a_warm_result(tmp_path: Path) -> None:
    show = make(tmp_path)
    expires = (dt.date.today() + dt.timedelta(days=10)).isoformat()
    show.approvals["approvals"]["APR-1"] = {"rules": ["NFX-*"], "expires": expires}
    show.write_config()
    assert scan(show)["delivery/final.png"]["outcome"] != "approval"
    later = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    result = scan(show, env={"CLEARANCE_NOW": later})
    assert audited(show)["delivery/final.png"]["details"]["cached"]
    assert result["delivery/final.png"]["outcome"] == "approval"
    statuses = {f["status"] for f in result["delivery/final.png"]["findings"] if f["approval"]}
    assert statuses == {"expired"}


def test_unwritable_state_store_does_not_stop_the_scan(tmp_path: Path) -> None:
    show = make(tmp_path)
    show.config["audit"] = {"log": ".clearance/audit.jsonl", "state": "blocker/state.db"}
    show.write_config()
    (show.root / "blocker").write_text("not a folder")
    done = run_cli("scan", str(show.root), "--format", "json")
    assert done.code == 1 and "cache disabled" in done.stderr
    assert len(done.json()["assets"]) == 3
