"""Sidecar pairing and re-renders (WATCH.md S10, S11; issue 4 items 4-5).

Times are scaled down: the grace window is ~1 s here instead of the default 30 s.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from _watch_harness import (
    SIDECAR,
    InProcessWatcher,
    audited,
    events,
    exr_bytes,
    ledger,
    make_show,
    quiet,
    run_writer,
    wait_audited,
    writer_script,
)


def _rules(root: Path, asset: str) -> list[str]:
    return [e["rule"] for e in events(root, "finding") if e["asset"] == asset]


def test_s10_sidecar_within_the_window_is_paired_once(tmp_path: Path) -> None:
    """S10a: the sidecar lands 1 s after its asset, inside a 3 s window → one audit, paired, no PRV-01."""
    root = make_show(tmp_path)
    comp = root / "comp"
    with InProcessWatcher(root, sidecar_grace=3.0):
        run_writer(
            writer_script,
            [
                ("exr", str(comp / "a.exr"), 1),
                ("sleep", 1.0),
                ("write", str(comp / "a.exr.genai.yaml"), SIDECAR),
            ],
        )
        wait_audited(root, 1)
        quiet(root, 1.5)
    [event] = audited(root)
    assert event["details"]["watch"]["pairing"] == "paired"
    assert event["details"]["sidecar"] == "comp/a.exr.genai.yaml"
    assert "PRV-01" not in _rules(root, "comp/a.exr")


def test_s10_sidecar_after_the_window_resolves_missing_provenance(tmp_path: Path) -> None:
    """S10b: no sidecar within the window → audited with PRV-01 ("missing"); the sidecar then
    arrives → a second audit records the resolution ("late"), superseding the first."""
    root = make_show(tmp_path)
    comp = root / "comp"
    with InProcessWatcher(root, sidecar_grace=0.8):
        run_writer(writer_script, [("exr", str(comp / "b.exr"), 1)])
        wait_audited(root, 1)
        run_writer(writer_script, [("write", str(comp / "b.exr.genai.yaml"), SIDECAR)])
        wait_audited(root, 2)
        quiet(root, 1.5)
    first, second = audited(root)
    assert first["details"]["watch"]["pairing"] == "missing"
    assert "PRV-01" in [e["rule"] for e in events(root, "finding") if e["seq"] < first["seq"]]
    assert second["details"]["watch"]["reason"] == "sidecar-late"
    assert second["details"]["watch"]["pairing"] == "late"
    assert second["details"]["watch"]["supersedes"] == first["details"]["watch"]["audit_id"]
    assert "resolution" in second["details"]["watch"]
    rows = ledger(root).audits("comp/b.exr")
    assert [r.state for r in rows] == ["superseded", "audited"]


def test_s10_sidecar_first_then_asset_is_paired(tmp_path: Path) -> None:
    """S10c: sidecar written before the asset → paired at the asset's first audit."""
    root = make_show(tmp_path)
    comp = root / "comp"
    with InProcessWatcher(root):
        run_writer(
            writer_script,
            [
                ("write", str(comp / "c.exr.genai.yaml"), SIDECAR),
                ("sleep", 0.5),
                ("exr", str(comp / "c.exr"), 1),
            ],
        )
        wait_audited(root, 1)
        quiet(root, 1.5)
    [event] = audited(root)
    assert event["details"]["watch"]["pairing"] == "paired"


def test_s10_malformed_sidecar_gives_a_finding_and_the_watcher_keeps_running(
    tmp_path: Path,
) -> None:
    """S10d: a sidecar that does not parse → PRV-02 on that asset; the next asset is still audited."""
    root = make_show(tmp_path)
    comp = root / "comp"
    with InProcessWatcher(root):
        run_writer(
            writer_script,
            [
                ("write", str(comp / "d.exr.genai.yaml"), "provenance: [1,\n  bad: {"),
                ("exr", str(comp / "d.exr"), 1),
            ],
        )
        wait_audited(root, 1)
        run_writer(
            writer_script,
            [("write", str(comp / "e.exr.genai.yaml"), SIDECAR), ("exr", str(comp / "e.exr"), 2)],
        )
        wait_audited(root, 2)
    assert "PRV-02" in _rules(root, "comp/d.exr")
    assert {e["asset"] for e in audited(root)} == {"comp/d.exr", "comp/e.exr"}


def test_s10_non_atomic_sidecar_is_read_after_it_settles(tmp_path: Path) -> None:
    """S10e: the sidecar is written in pieces while its asset is already complete: the asset
    waits for the sidecar to settle, so the half-written YAML is never read (no PRV-02)."""
    root = make_show(tmp_path)
    comp = root / "comp"
    sidecar = comp / "f.exr.genai.yaml"
    text = SIDECAR + "shot: sh010\n"
    steps = [("write", str(sidecar), text[:10]), ("exr", str(comp / "f.exr"), 1)]
    for end in range(20, len(text) + 10, 10):
        steps += [("sleep", 0.15), ("write", str(sidecar), text[:end])]
    with InProcessWatcher(root, sidecar_grace=3.0):
        run_writer(writer_script, steps)
        wait_audited(root, 1)
        quiet(root, 1.5)
    [event] = audited(root)
    assert event["details"]["watch"]["pairing"] == "paired"
    assert "PRV-02" not in _rules(root, "comp/f.exr")


def test_s10_sidecar_rewritten_later_reaudits(tmp_path: Path) -> None:
    """S10f (issue item 5): a sidecar rewritten after the audit → re-audit, reason sidecar-changed."""
    root = make_show(tmp_path)
    comp = root / "comp"
    with InProcessWatcher(root):
        run_writer(
            writer_script,
            [("write", str(comp / "g.exr.genai.yaml"), SIDECAR), ("exr", str(comp / "g.exr"), 1)],
        )
        wait_audited(root, 1)
        run_writer(
            writer_script, [("write", str(comp / "g.exr.genai.yaml"), SIDECAR + "shot: sh020\n")]
        )
        wait_audited(root, 2)
        quiet(root, 1.5)
    first, second = audited(root)
    assert second["details"]["watch"]["reason"] == "sidecar-changed"
    assert second["details"]["watch"]["supersedes"] == first["details"]["watch"]["audit_id"]


def test_s10_sequence_sidecar_pairs_with_the_whole_sequence(tmp_path: Path) -> None:
    """A sequence ``PREFIX.####.exr`` pairs with ``PREFIX.genai.yaml`` and is audited once as a unit."""
    root = make_show(tmp_path)
    seq = root / "renders" / "sh010"
    steps = [("write", str(seq / "bg_v001.genai.yaml"), SIDECAR)]
    steps += [("exr", str(seq / f"bg_v001.{i}.exr"), i) for i in range(1001, 1021)]
    with InProcessWatcher(root):
        run_writer(writer_script, steps)
        wait_audited(root, 1)
        quiet(root, 1.5)
    [event] = audited(root)
    assert event["asset"] == "renders/sh010/bg_v001.####.exr"
    assert event["details"]["frames"] == "1001-1020"
    assert event["details"]["watch"]["pairing"] == "paired"


def test_sequence_extended_later_is_audited_again_as_a_new_version(tmp_path: Path) -> None:
    """Issue item 4: frames added after the sequence was audited → one new audit of the whole
    sequence (reason sequence-grown), superseding the first."""
    root = make_show(tmp_path)
    seq = root / "renders" / "sh020"
    first = [("write", str(seq / "fx.genai.yaml"), SIDECAR)] + [
        ("exr", str(seq / f"fx.{i}.exr"), i) for i in range(1, 6)
    ]
    with InProcessWatcher(root):
        run_writer(writer_script, first)
        wait_audited(root, 1)
        quiet(root, 1.0)
        run_writer(writer_script, [("exr", str(seq / f"fx.{i}.exr"), i) for i in range(6, 11)])
        wait_audited(root, 2)
        quiet(root, 1.5)
    a, b = audited(root)
    assert a["details"]["frames"] == "1-5" and b["details"]["frames"] == "1-10"
    assert b["details"]["watch"]["reason"] == "sequence-grown"
    assert b["details"]["watch"]["supersedes"] == a["details"]["watch"]["audit_id"]


def test_s11_rerender_same_path_is_a_new_version_and_identical_rewrite_is_not(
    tmp_path: Path,
) -> None:
    """S11: truncate+rewrite with new pixels, and rename-over (new inode) → a second and third
    audit, each superseding the previous; an identical rewrite (same bytes) → no new audit."""
    root = make_show(tmp_path)
    comp = root / "comp"
    path = comp / "h.exr"
    with InProcessWatcher(root):
        run_writer(
            writer_script,
            [("write", str(comp / "h.exr.genai.yaml"), SIDECAR), ("exr", str(path), 1)],
        )
        wait_audited(root, 1)
        run_writer(writer_script, [("truncate_rewrite", str(path), exr_bytes(seed=2))])
        wait_audited(root, 2)
        run_writer(
            writer_script,
            [
                ("write", str(comp / "h.tmp"), exr_bytes(seed=3)),
                ("rename", str(comp / "h.tmp"), str(path)),
            ],
        )
        wait_audited(root, 3)
        run_writer(
            writer_script, [("truncate_rewrite", str(path), exr_bytes(seed=3))]
        )  # same bytes again
        quiet(root, 2.0)
    events_ = audited(root)
    assert len(events_) == 3
    ids = [e["details"]["watch"]["audit_id"] for e in events_]
    assert [e["details"]["watch"]["reason"] for e in events_] == ["new", "changed", "changed"]
    assert events_[1]["details"]["watch"]["supersedes"] == ids[0]
    assert events_[2]["details"]["watch"]["supersedes"] == ids[1]
    store = ledger(root)
    versions = store.query(
        "SELECT state, audit_id FROM files WHERE path=? ORDER BY id", (str(path),)
    )
    assert [s for s, _ in versions] == ["superseded", "superseded", "superseded", "audited"]
    assert versions[-1][1] == ids[2]  # the identical rewrite is covered by the third audit


def test_s11_a_restored_older_version_is_audited_again(tmp_path: Path) -> None:
    """S11: v1 audited, set aside; v2 published and audited; v1 moved back onto the path →
    audited again (reason changed, superseding v2's audit, with v1's bytes), so the latest
    audit describes what is on disk. The same when the swap happens while the watcher is
    down (the start-up reconcile), and a restart with nothing changed audits nothing."""
    root = make_show(tmp_path)
    comp = root / "comp"
    path = comp / "x.exr"
    aside = {n: str(comp / f"x.exr.{n}") for n in ("v1", "v2")}
    v1, v2 = exr_bytes(seed=1), exr_bytes(seed=2)
    with InProcessWatcher(root):
        run_writer(
            writer_script,
            [("write", str(comp / "x.exr.genai.yaml"), SIDECAR), ("write", str(path), v1)],
        )
        wait_audited(root, 1)
        run_writer(
            writer_script,
            [
                ("rename", str(path), aside["v1"]),
                ("write", str(comp / "x.tmp"), v2),
                ("rename", str(comp / "x.tmp"), str(path)),
            ],
        )
        wait_audited(root, 2)
        run_writer(writer_script, [("rename", str(path), aside["v2"])])
        run_writer(writer_script, [("rename", aside["v1"], str(path))])
        wait_audited(root, 3)
        quiet(root, 1.5)
    run_writer(writer_script, [("rename", str(path), aside["v1"])])
    run_writer(writer_script, [("rename", aside["v2"], str(path))])
    with InProcessWatcher(root):
        wait_audited(root, 4)
        quiet(root, 1.5)
    with InProcessWatcher(root):
        quiet(root, 1.5)
    events_ = audited(root)
    assert len(events_) == 4
    watch = [e["details"]["watch"] for e in events_]
    assert [w["reason"] for w in watch] == ["new", "changed", "changed", "changed"]
    assert [w["supersedes"] for w in watch[1:]] == [w["audit_id"] for w in watch[:-1]]
    assert len({w["audit_id"] for w in watch}) == 4  # a restored version gets a new audit id
    digests = [w["files"][0]["sha256"] for w in watch]
    assert digests == [hashlib.sha256(v).hexdigest() for v in (v1, v2, v1, v2)]
    store = ledger(root)
    assert [r.state for r in store.audits("comp/x.exr")] == ["superseded"] * 3 + ["audited"]
    (current,) = store.query(
        "SELECT audit_id FROM files WHERE path=? AND state='audited'", (str(path),)
    )
    assert current[0] == watch[-1]["audit_id"]
