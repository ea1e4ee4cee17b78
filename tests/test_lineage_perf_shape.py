"""The shape of lineage's cost on the scan path: SQL statements per folder and per stage, not
per asset (a folder is read one name at a time, then whole once ``BULK_AFTER`` names were asked). Counted with SQLite's trace callback on the plugin's own connection (a real file,
the real engine); timings live in ``benchmarks/bench_lineage_timeline.py``.
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

from clearance.discover import discover
from clearance.engine import RunResult, Session
from clearance.lineage import AssetRow, LineagePlugin, LineageStore, RunIndex
from clearance.lineage.index import BULK_AFTER
from clearance.policy import load_policy
from test_lineage import genai_plate, sidecar, silent, single, write_config

FOLDERS = ("comp/sh010", "comp/sh020", "comp/sh030")
#: at most this many SELECTs, however many elements each shot folder holds
READS = (len(FOLDERS) + 1) * (BULK_AFTER + 1)


def show(root: Path, per_folder: int) -> Path:
    """One GenAI plate per shot; ``per_folder`` comp elements per shot, each built on its plate."""
    root.mkdir(parents=True, exist_ok=True)
    write_config(root, [{"name": "plate_gen", "paths": ["plates"]}, {"name": "comp", "paths": ["comp"]}])  # fmt: skip
    for folder in FOLDERS:
        shot = folder.rsplit("/", 1)[-1]
        plate = single(root, f"plates/{shot}_plate_v001.exr")
        sidecar(root, plate, genai_plate())
        for i in range(per_folder):
            rel = single(root, f"{folder}/{shot}_el{i:02d}_v001.exr")
            sidecar(root, rel, silent((plate, "production_image")))
    return root


def traced_run(root: Path, per_folder: int) -> tuple[list[str], RunResult]:
    """Scan ``root`` and return every SQL statement the lineage plugin's connection ran."""
    policy = load_policy(root / "clearance.yaml")
    assert policy.state_path is not None
    LineageStore(policy.state_path).close()  # the file exists: the plugin opens it to read
    session = Session(policy, command="scan", write_log=False, announce=False)
    plugin = next(p for p in session.plugins.pm.get_plugins() if isinstance(p, LineagePlugin))
    index = plugin.index(create=False)
    assert index is not None
    statements: list[str] = []
    index.store._db.set_trace_callback(statements.append)
    result = session.run(discover([root], policy).assets)
    assert len(result.assets) == len(FOLDERS) * (per_folder + 1)
    return statements, result


def kind(statement: str) -> str:
    return statement.lstrip().split(None, 1)[0].upper()


def test_a_cold_scan_commits_each_stage_in_one_transaction(tmp_path: Path) -> None:
    reads = []
    for per_folder in (20, 60):
        statements, _ = traced_run(show(tmp_path / str(per_folder), per_folder), per_folder)
        kinds = [kind(s) for s in statements]
        assert kinds.count("BEGIN") == 2 and kinds.count("COMMIT") == 2  # one per stage
        rows = [
            s for s in statements if s.lstrip().upper().startswith("INSERT INTO LINEAGE_ASSETS")
        ]
        assert len(rows) == len(FOLDERS) * (per_folder + 1)  # every asset recorded
        assert kinds.count("INSERT") == len(rows) + 2  # + the generation, once per commit
        reads.append(kinds.count("SELECT"))
    assert reads[0] == reads[1] <= READS  # three times the elements, not one more read


def test_a_warm_rescan_reads_each_folder_once_and_writes_nothing(tmp_path: Path) -> None:
    reads = []
    for per_folder in (20, 60):
        root = show(tmp_path / str(per_folder), per_folder)
        traced_run(root, per_folder)
        statements, result = traced_run(root, per_folder)
        kinds = [kind(s) for s in statements]
        assert "INSERT" not in kinds and "BEGIN" not in kinds
        reads.append(kinds.count("SELECT"))
        # ...and every element still inherits its plate's GenAI status
        for asset in result.assets:
            if asset.stage == "comp":
                shot = asset.asset.rel.split("/")[1]
                assert asset.record is not None
                genai = [g["asset"] for g in asset.record.get("ancestry")["genai"]]
                assert genai == [f"plates/{shot}_plate_v001.exr"], asset.asset.rel
    assert reads[0] == reads[1] <= READS


def test_refs_that_look_like_version_keys_are_looked_up_once_each_through_an_index(
    tmp_path: Path,
) -> None:
    """A ref of 12+ hex digits (a ``uuid4().hex`` asset id of a plate never audited) may be a
    version key. Each such ref used to cost a full scan of ``lineage_assets`` (``version
    LIKE ?``) and a commit, for every asset that declared it: now one indexed look-up per
    distinct ref and run (a miss is remembered), and the stage still commits once."""
    refs = [uuid.UUID(int=n + 1).hex for n in range(5)]
    root = tmp_path / "show"
    root.mkdir()
    write_config(root, [{"name": "comp", "paths": ["comp"]}])
    per_folder = 12
    for folder in FOLDERS:
        shot = folder.rsplit("/", 1)[-1]
        for i in range(per_folder):
            rel = single(root, f"{folder}/{shot}_el{i:02d}_v001.exr")
            ref = refs[i % len(refs)]
            sidecar(root, rel, silent((ref.upper() if i % 2 else ref, "production_image")))
    policy = load_policy(root / "clearance.yaml")
    assert policy.state_path is not None
    store = LineageStore(policy.state_path)
    for n in range(200):  # other assets' rows: a scan of the table is not free
        store.record(
            asset=f"old/x_{n}.exr", version=f"{n:064x}", stage="comp", frames=None,
            generated=False, source_type=None, outcome="pass", findings=[], inputs=[],
        )  # fmt: skip
    store.close()
    session = Session(policy, command="scan", write_log=False, announce=False)
    plugin = next(p for p in session.plugins.pm.get_plugins() if isinstance(p, LineagePlugin))
    index = plugin.index(create=False)
    assert index is not None
    statements: list[str] = []
    index.store._db.set_trace_callback(statements.append)
    result = session.run(discover([root], policy).assets)
    assert len(result.assets) == len(FOLDERS) * per_folder
    by_version = [s for s in statements if "version" in s.partition(" WHERE ")[2]]
    assert len(by_version) == len(refs)  # once per ref, whatever its case, however many ask
    kinds = [kind(s) for s in statements]
    assert kinds.count("COMMIT") == 1  # the stage's, not one per look-up
    db = sqlite3.connect(policy.state_path)
    for statement in by_version:
        plan = " ".join(row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {statement}"))
        assert "SCAN lineage_assets" not in plan and "INDEX" in plan, plan
    for asset in result.assets:
        assert asset.record is not None
        assert asset.record.get("ancestry")["unresolved"], asset.asset.rel


def test_a_version_key_looked_up_and_missed_is_found_once_a_row_it_names_is_recorded(
    tmp_path: Path,
) -> None:
    """The remembered miss is forgotten when the run records a row the key names (the
    store's own rows, compared case-insensitively as before)."""
    store = LineageStore(tmp_path / "state.db")
    index = RunIndex(store)
    version = "ABCDEF0123456789" + "0" * 48
    assert index.find(version[:14], tmp_path) is None
    index.record(
        AssetRow(
            0,
            "comp/a.exr",
            "comp",
            version.lower(),
            None,
            True,
            None,
            "pass",
            [],
            [],
            None,
            None,
            None,
            None,
            1.0,
            None,
        )  # fmt: skip
    )
    found = index.find(version[:14], tmp_path)
    assert found is not None and found.asset == "comp/a.exr"
    assert store.find(version[:20], tmp_path) is not None  # upper case, committed
    index.close()
