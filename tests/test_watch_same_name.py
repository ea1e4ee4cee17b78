"""Two different assets with one name under the watcher (docs/watch.md, *Two assets with one
name*): a stray file literally named ``seq.####.exr`` beside the sequence ``seq.1001.exr`` …,
a name that is not UTF-8 beside a file literally named as its escape. One keeps the name and
is audited; the other is a ``watch.error`` naming both, once, whatever the order of arrival,
and a restart neither repeats the error nor audits the other."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from _watch_harness import (
    InProcessWatcher,
    audited,
    events,
    ledger,
    make_show,
    quiet,
    run_writer,
    scan_verdicts,
    wait_audited,
    wait_for,
    watch_verdicts,
    writer_script,
)
from clearance.model import printable


def _same_name(root: Path) -> list[dict[str, Any]]:
    return [e for e in events(root, "watch.error") if e["details"].get("reason") == "same-name"]


CASES = {
    # (name of both, the files of the one that keeps it, the files of the other)
    "stray-file": (
        "comp/seq.####.exr",
        ["seq.1001.exr", "seq.1002.exr", "seq.1003.exr"],
        ["seq.####.exr"],
    ),
    "not-utf8": ("comp/caf\\xe9.exr", ["caf\\xe9.exr"], ["caf\udce9.exr"]),
}


def _two_of_one_name(
    tmp_path: Path, keeper: list[str], other: list[str], keeper_first: bool
) -> tuple[Path, dict[str, list[tuple[str, str, int]]], list[str]]:
    """A show, what the writer writes for the asset that keeps the name and for the other
    (under ``comp/``), and which is written first."""
    root = make_show(tmp_path)
    comp = root / "comp"
    write = {
        "keeper": [("exr", str(comp / n), i) for i, n in enumerate(keeper)],
        "other": [("exr", str(comp / n), 9) for n in other],
    }
    return root, write, (["keeper", "other"] if keeper_first else ["other", "keeper"])


@pytest.mark.parametrize("keeper_first", [True, False], ids=["keeper-first", "other-first"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_two_assets_with_one_name_are_never_one(
    tmp_path: Path, case: str, keeper_first: bool
) -> None:
    name, keeper, other = CASES[case]
    root, write, order = _two_of_one_name(tmp_path, keeper, other, keeper_first)
    comp = root / "comp"
    with InProcessWatcher(root):
        run_writer(writer_script, write[order[0]])
        wait_audited(root, 1)
        run_writer(writer_script, write[order[1]])
        [error] = wait_for(lambda: _same_name(root), what="a same-name watch.error")
        quiet(root, 2.0)
    # the other is named, with the one audited under the name, and what to do
    assert error["asset"] == name
    assert error["details"]["path"] == printable(str(comp / other[0]))
    assert error["details"]["other"] == str(comp / keeper[0])
    # their bytes tell them apart, however they are shown (not-utf8: both caf\xe9.exr)
    assert bytes.fromhex(error["details"]["path_bytes"]) == os.fsencode(comp / other[0])
    assert bytes.fromhex(error["details"]["other_bytes"]) == os.fsencode(comp / keeper[0])
    assert "rename one of them" in error["message"]
    # the latest audit of the name is the keeper's; the other was audited only if it came first
    audits = [e for e in audited(root) if e["asset"] == name]
    assert len(audits) == (1 if keeper_first else 2)
    latest = audits[-1]
    assert [f["path"] for f in latest["details"]["watch"]["files"]] == [f"comp/{n}" for n in keeper]
    store = ledger(root)
    try:
        row = store.latest_audit(name)
        kept = {v.path for v in store.files_of(row.audit_id)} if row is not None else set()
    finally:
        store.close()
    assert kept == {str(comp / n) for n in keeper}
    assert row is not None and row.audit_id == latest["details"]["watch"]["audit_id"]
    # a restart finds the other on disk again (its version is not audited): nothing new
    # (first a watcher stopped while the other still waits for its sidecar: the ledger keeps
    # it refused, not pending)
    count = len(events(root))
    with InProcessWatcher(root, sidecar_grace=60.0):
        time.sleep(1.5)
    with InProcessWatcher(root):
        time.sleep(3.0)  # settle + sidecar grace of the other, several times over
        quiet(root, 1.0)
    assert len(_same_name(root)) == 1
    assert [e for e in audited(root) if e["asset"] == name] == audits
    assert not [
        e for e in events(root)[count:] if e["event"] in ("asset.audited", "finding", "watch.error")
    ]


# each kind of collision once, in one order each (the four combinations cost 40 s of the
# suite; the order is covered by test_two_assets_with_one_name_are_never_one)
@pytest.mark.parametrize(
    ("case", "keeper_first"),
    [("stray-file", True), ("not-utf8", False)],
    ids=["stray-file-keeper-first", "not-utf8-other-first"],
)
def test_the_other_is_audited_under_the_name_once_the_one_that_kept_it_goes(
    tmp_path: Path, case: str, keeper_first: bool
) -> None:
    """The asset that kept the name is deleted (every frame of the sequence, the file shown
    as it is): ``scan`` now audits the other under the name, and so does the watcher, live,
    with the same verdict; the latest audit of the name covers the other's files."""
    name, keeper, other = CASES[case]
    root, write, order = _two_of_one_name(tmp_path, keeper, other, keeper_first)
    comp = root / "comp"
    with InProcessWatcher(root):
        run_writer(writer_script, write[order[0]])
        wait_audited(root, 1)
        run_writer(writer_script, write[order[1]])
        wait_for(lambda: _same_name(root), what="a same-name watch.error")
        quiet(root, 1.0)
        before = len(audited(root))
        run_writer(writer_script, [("unlink", str(comp / n)) for n in keeper])
        wait_audited(root, before + 1)
        quiet(root, 1.0)
    latest = audited(root)[-1]
    assert latest["asset"] == name
    assert latest["details"]["watch"]["reason"] == "changed"
    assert [f["path"] for f in latest["details"]["watch"]["files"]] == [
        printable(f"comp/{n}") for n in other
    ]
    assert len(_same_name(root)) == 1
    assert watch_verdicts(root)[name] == scan_verdicts(root, tmp_path)[name]
