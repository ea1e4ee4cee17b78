"""The shape of lineage's cost on the scan path: SQL statements per folder and per stage, not
per asset (a folder is read one name at a time, then whole once ``BULK_AFTER`` names were asked). Counted with SQLite's trace callback on the plugin's own connection (a real file,
the real engine); timings live in ``benchmarks/bench_lineage_timeline.py``.
"""

from __future__ import annotations

from pathlib import Path

from clearance.discover import discover
from clearance.engine import RunResult, Session
from clearance.lineage import LineagePlugin, LineageStore
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
