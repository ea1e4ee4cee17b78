"""Lineage on the scan path: the run's in-memory view of the store and its write buffer.

Real files in ``tmp_path``, the real engine and SQLite file; committed rows are counted through
a second SQLite connection, as another process would see them.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from clearance.discover import discover
from clearance.engine import Session
from clearance.lineage import AssetRow, LineagePlugin, LineageStore, RunIndex
from clearance.model import StageResult
from clearance.policy import load_policy
from test_lineage import genai_plate, run_cli, scan, sequence, sidecar, silent, single, write_config


def committed(root: Path, asset: str | None = None) -> int:
    """Rows another connection sees in the state store (0 when there is no store yet)."""
    path = root / ".clearance" / "state.db"
    if not path.exists():
        return 0
    db = sqlite3.connect(path)
    try:
        if asset is None:
            return int(db.execute("SELECT COUNT(*) FROM lineage_assets").fetchone()[0])
        query = "SELECT COUNT(*) FROM lineage_assets WHERE asset=?"
        return int(db.execute(query, (asset,)).fetchone()[0])
    except sqlite3.OperationalError:  # no tables yet
        return 0
    finally:
        db.close()


def open_session(root: Path) -> tuple[Session, LineagePlugin, dict[str, Any]]:
    policy = load_policy(root / "clearance.yaml")
    session = Session(policy, command="scan", write_log=False, announce=False)
    plugin = next(p for p in session.plugins.pm.get_plugins() if isinstance(p, LineagePlugin))
    assets = {a.rel: a for a in discover([root], policy).assets}
    return session, plugin, assets


def genai_names(result: Any) -> list[str]:
    return [g["asset"] for g in result.record.get("ancestry")["genai"]]


def test_buffered_rows_are_seen_by_later_audits_before_they_are_committed(tmp_path: Path) -> None:
    write_config(tmp_path, [{"name": "comp", "paths": ["comp"]}])
    plate = single(tmp_path, "comp/a_plate_v001.exr")  # audited first: same stage, earlier
    sidecar(tmp_path, plate, genai_plate())
    comp = single(tmp_path, "comp/b_comp_v001.exr")
    sidecar(tmp_path, comp, silent((plate, "production_image")))
    session, plugin, assets = open_session(tmp_path)

    session.audit(assets[plate])
    assert committed(tmp_path) == 0  # buffered, not committed
    result = session.audit(assets[comp])
    assert genai_names(result) == [plate]  # ...but already seen by the next audit
    assert committed(tmp_path) == 0

    plugin.flush()
    assert committed(tmp_path) == 2
    row = LineageStore(tmp_path / ".clearance" / "state.db", create=False).latest(comp)
    assert row is not None and row.ancestry is not None and row.ancestry["assets"] == [plate]


def test_a_stage_is_committed_when_it_finishes_and_seen_by_the_next(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        [{"name": "plate_gen", "paths": ["gen"]}, {"name": "comp", "paths": ["comp"]}],
    )
    plate = sequence(tmp_path, "gen/sh010_plate_v001.####.exr")
    sidecar(tmp_path, plate, genai_plate())
    comp = single(tmp_path, "comp/sh010_comp_v001.exr")
    sidecar(tmp_path, comp, silent(("gen/sh010_plate_v001.%04d.exr", "production_image")))
    session, plugin, assets = open_session(tmp_path)

    stage = StageResult("plate_gen", assets=[session.audit(assets[plate])])
    assert committed(tmp_path) == 0
    session.finish_stage(stage)  # clearance_stage_finished: one transaction for the stage
    assert committed(tmp_path, plate) == 1
    result = session.audit(assets[comp])
    assert genai_names(result) == [plate]
    session.flush()  # what the engine does after each stage and at the end of a run
    assert committed(tmp_path) == 2


def test_the_buffer_is_committed_every_flush_rows(tmp_path: Path) -> None:
    write_config(tmp_path, [{"name": "comp", "paths": ["comp"]}])
    for i in range(5):
        sidecar(tmp_path, single(tmp_path, f"comp/e{i}_v001.exr"), silent())
    session, plugin, assets = open_session(tmp_path)
    index = plugin.index(create=True)
    assert index is not None
    index.flush_rows = 2
    for asset in assets.values():
        session.audit(asset)
    assert committed(tmp_path) == 4 and index.buffered == 1
    plugin.flush()
    assert committed(tmp_path) == 5 and index.buffered == 0


def test_rows_nobody_flushed_are_committed_at_exit(tmp_path: Path) -> None:
    write_config(tmp_path, [{"name": "comp", "paths": ["comp"]}])
    for i in range(3):
        sidecar(tmp_path, single(tmp_path, f"comp/e{i}_v001.exr"), silent())
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from clearance.discover import discover
        from clearance.engine import Session
        from clearance.policy import load_policy

        root = Path({str(tmp_path)!r})
        policy = load_policy(root / "clearance.yaml")
        session = Session(policy, command="check", write_log=False, announce=False)
        for asset in discover([root], policy).assets:
            session.audit(asset)  # no run(), no flush(): a tool driving the engine by hand
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert committed(tmp_path) == 3


def test_rows_another_process_commits_are_seen_after_the_next_flush(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    index = RunIndex(LineageStore(path))
    assert index.find("plates/p_v001.exr", tmp_path) is None  # read (and remembered)
    other = LineageStore(path)  # another connection: a farm task, a watcher
    other.record(
        asset="plates/p_v001.exr", version="v1", stage="plate_gen", frames=None,
        generated=True, source_type=None, outcome="notice", findings=[], inputs=[],
    )  # fmt: skip
    index.flush()  # the end of a stage: the lineage generation says rows were recorded
    row = index.find("plates/p_v001.exr", tmp_path)
    assert row is not None and row.generated is True


def test_commits_to_other_state_tables_keep_the_view(tmp_path: Path) -> None:
    """The watcher's ledger commits to the same file after every batch: that must not make
    the index re-read whole folders (it did while it watched SQLite's data_version)."""
    import sqlite3

    path = tmp_path / "state.db"
    store = LineageStore(path)
    store.record(
        asset="plates/p_v001.exr", version="v1", stage="plate_gen", frames=None,
        generated=True, source_type=None, outcome="notice", findings=[], inputs=[],
    )  # fmt: skip
    index = RunIndex(store)
    assert index.find("plates/p_v001.exr", tmp_path) is not None
    index.record(AssetRow(0, "comp/c_v001.exr", "comp", "v1", None, True, None, "pass", [], []))
    ledger = sqlite3.connect(path)  # another connection, another table (a ledger)
    ledger.execute("CREATE TABLE IF NOT EXISTS ledger_like (x)")
    ledger.execute("INSERT INTO ledger_like VALUES (1)")
    ledger.commit()
    ledger.close()
    index.flush()  # commits our own row too: neither commit is another process's lineage
    assert index._folders, "the view was dropped"
    assert index.find("comp/c_v001.exr", tmp_path) is not None


def test_a_small_memory_bound_keeps_every_row_findable(tmp_path: Path) -> None:
    store = LineageStore(tmp_path / "state.db")
    record = dict(
        version="v1", stage="s", frames=None, generated=False, source_type=None,
        outcome="pass", findings=[], inputs=[],
    )  # fmt: skip
    for i in range(4):
        store.record(asset=f"old{i}/x.exr", **record)
    index = RunIndex(store, max_cached=2)  # the view is dropped every few folders
    for i in range(4):
        index.record(AssetRow(0, f"new{i}/y.exr", "s", "v1", None, True, None, "pass", [], []))
    assert index.buffered < 4  # dropping the view committed the buffer first
    for i in range(4):
        found = index.find(f"new{i}/y.exr", tmp_path)
        assert found is not None and found.generated is True, i
        assert index.find(f"old{i}/x.exr", tmp_path) is not None, i
    index.flush()
    assert store.count() == 8


def chain(root: Path) -> Path:
    """GenAI plate → comp (silent sidecar) → delivery (silent sidecar, final stage)."""
    write_config(
        root,
        [
            {"name": "plate_gen", "paths": ["gen/plates"]},
            {"name": "comp", "paths": ["comp"]},
            {"name": "delivery", "paths": ["delivery"], "final": True},
        ],
    )
    plate = sequence(root, "gen/plates/sh010_plate_v001.####.exr")
    sidecar(root, plate, genai_plate())
    comp = sequence(root, "comp/sh010_comp_v004.####.exr")
    sidecar(root, comp, silent(("gen/plates/sh010_plate_v001.%04d.exr", "production_image")))
    final = single(root, "delivery/sh010_final_v001.exr")
    sidecar(root, final, silent((comp, "production_image")))
    return root


def test_a_warm_rescan_writes_nothing_and_changes_nothing(tmp_path: Path) -> None:
    show = chain(tmp_path)
    first = scan(show)
    db = sqlite3.connect(show / ".clearance" / "state.db")
    before = db.execute("SELECT asset, audited_at, ancestry FROM lineage_assets").fetchall()
    second = scan(show)
    after = db.execute("SELECT asset, audited_at, ancestry FROM lineage_assets").fetchall()
    assert before == after  # unchanged verdicts: no write at all
    for rel, result in first.items():
        assert second[rel].record.get("ancestry", None) == result.record.get("ancestry", None)
        assert [f.to_dict() for f in second[rel].findings] == [f.to_dict() for f in result.findings]


def test_parallel_scan_records_each_rows_ancestry_summary(tmp_path: Path) -> None:
    show = chain(tmp_path)
    scanned = run_cli("scan", str(show), "--format", "json", "--no-progress", "--jobs", "2")
    assert scanned.code == 1, scanned.stderr
    db = sqlite3.connect(show / ".clearance" / "state.db")
    rows = dict(db.execute("SELECT asset, ancestry FROM lineage_assets").fetchall())
    assert len(rows) == 3
    assert '"gen/plates/sh010_plate_v001.####.exr"' in rows["delivery/sh010_final_v001.exr"]


def test_a_big_folder_is_not_read_whole_again_for_each_small_batch(tmp_path: Path) -> None:
    """The watcher's audit processes drop their view after every batch (the other process
    recorded rows). A folder read whole before must then be asked by name for a batch of a
    few assets, not read whole again: that made a 5,000-asset burst read 5,000 rows per batch.
    Once a quarter of its rows were asked (``REREAD``), it is read whole again."""
    from clearance.lineage.index import BULK_AFTER, REREAD

    path = tmp_path / "state.db"
    names = [f"renders/burst/a_{i:04d}.exr" for i in range(400)]
    LineageStore(path).record_many(
        [AssetRow(0, n, "renders", "v1", None, False, None, "pass", [], []) for n in names]
    )
    store = LineageStore(path)
    index = RunIndex(store)
    statements: list[str] = []
    store._db.set_trace_callback(statements.append)

    def whole_reads() -> int:
        return sum("instr(substr(asset" in s for s in statements)

    for name in names[: BULK_AFTER + 1]:  # a scan: by name, then the folder whole
        assert index.exact(name, "renders", "v1") is not None
    assert whole_reads() == 1
    other = LineageStore(path)  # another process records a row of the same folder
    other.record(
        asset="renders/burst/b_0001.exr", version="v1", stage="renders", frames=None,
        generated=True, source_type=None, outcome="notice", findings=[], inputs=[],
    )  # fmt: skip
    index.flush()  # the view is dropped
    batch = names[100 : 100 + 3 * BULK_AFTER]  # a few batches' worth, far below 400 / REREAD
    for name in batch:
        assert index.exact(name, "renders", "v1") is not None
    assert whole_reads() == 1, "read whole again for a small batch"
    assert index.find("renders/burst/b_0001.exr", tmp_path) is not None  # fresh: seen
    for name in names[200 : 200 + len(names) // REREAD]:
        assert index.exact(name, "renders", "v1") is not None
    assert whole_reads() == 2  # asked about much of it: one read again is cheaper
