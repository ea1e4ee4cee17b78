"""The provenance cache: warm re-scans reuse what readers said, and nothing stale survives.

Rules, approvals and the configuration are evaluated on every run: a changed sidecar, a
changed configuration and an approval that expired all change the result of a warm scan.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import sqlite3
import time
from pathlib import Path

import pytest
import yaml

from clearance.cache import RACY_NS_FINE
from clearance.provenance.c2pa import sdk_available as c2pa_sdk_available
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


def warm_and_cold(show: ClearanceRun, *extra: str, env: dict[str, str] | None = None) -> tuple:
    """A warm scan, then a cold one (the state store deleted): (warm, cold) outputs."""
    warm = scan(show, *extra, env=env)
    shutil.rmtree(show.root / ".clearance")
    return warm, scan(show, *extra, env=env)


def test_a_sidecar_edited_in_place_with_its_size_and_mtime_kept_is_read_again(
    tmp_path: Path,
) -> None:
    """The fingerprint has the ctime: a rewrite that restores the mtime still changes it."""
    show = make(tmp_path)
    assert scan(show)["comp/a.png"]["outcome"] == "pass"
    sidecar = show.root / "comp/a.png.genai.yaml"
    st = sidecar.stat()
    text = sidecar.read_text()
    assert "use: temp" in text
    sidecar.write_text(text.replace("use: temp", "use: TEMP"))  # same size, schema-invalid
    os.utime(sidecar, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert sidecar.stat().st_size == st.st_size
    warm, cold = warm_and_cold(show)
    assert warm == cold
    assert "PRV-02" in {f["rule"] for f in warm["comp/a.png"]["findings"]}


def test_what_was_read_of_a_sidecar_that_had_just_changed_is_read_again(
    tmp_path: Path,
) -> None:
    """A file system stamps times with a clock that ticks (milliseconds on kernels before
    multigrain timestamps; a second or two on ext3, HFS+, FAT and some shares): a sidecar
    rewritten with the same size in the tick it was read in keeps its identity and version,
    and the next scan took the first answer from the cache. What was read of a file that had
    just changed is not kept (git's "racily clean" files); the next scan reads it again, and
    keeps that."""
    from clearance.discover import discover
    from clearance.engine import Session
    from clearance.policy import load_policy

    show = make(tmp_path)
    policy = load_policy(show.write_config())
    sidecar = show.root / "comp/a.png.genai.yaml"
    text = sidecar.read_text().replace("use: temp", "use: final")

    def read() -> object:
        session = Session(
            policy, command="scan", paths=[str(show.root)], autoload=False, cache=True
        )
        try:
            [asset] = discover([str(show.root / "comp/a.png")], policy).assets
            return session.read(asset)[0]
        finally:
            session.close(exit_code=0)

    session = Session(policy, command="scan", paths=[str(show.root)], autoload=False, cache=True)
    for _attempt in range(20):
        sidecar.write_text(text)
        [asset] = discover([str(show.root / "comp/a.png")], policy).assets
        record, _ = session.read(asset)
        if time.time_ns() - sidecar.stat().st_ctime_ns < RACY_NS_FINE:
            break  # read within the tick the file changed in (a loaded machine may be slower)
    else:
        pytest.skip("the machine never read the file within a clock tick of writing it")
    session.close(exit_code=0)
    assert record.get("output.use") == "final" and not record.cached
    time.sleep(2 * RACY_NS_FINE / 1e9)
    again = read()  # not kept: read again (and kept now that the change is old)
    assert not again.cached and again.get("output.use") == "final"
    third = read()
    assert third.cached and third.get("output.use") == "final"


def test_a_file_is_racy_only_within_a_tick_of_its_file_systems_clock() -> None:
    from clearance.cache import RACY_NS_COARSE, RACY_NS_FINE, racy

    now = 1_800_000_000_123_456_789
    assert racy([now - 1_000_000, now - 2_000_000], now)  # changed 1 ms ago: fine stamps
    assert not racy([now - RACY_NS_FINE, now - RACY_NS_FINE], now)
    whole = (now // 1_000_000_000 - 1) * 1_000_000_000  # whole seconds: a coarse file system
    assert racy([whole, whole], now)
    assert not racy([whole - RACY_NS_COARSE, whole - RACY_NS_COARSE], now)
    assert not racy([], now)


def test_a_sidecar_renamed_from_yaml_to_json_is_parsed_again(tmp_path: Path) -> None:
    """A rename keeps the inode, size and mtime; the suffix decides the parser."""
    show = make(tmp_path)
    assert scan(show)["comp/a.png"]["outcome"] == "pass"
    yaml_path = show.root / "comp/a.png.genai.yaml"
    yaml_path.rename(yaml_path.with_name("a.png.genai.json"))
    warm, cold = warm_and_cold(show)
    assert warm == cold
    assert "PRV-02" in {f["rule"] for f in warm["comp/a.png"]["findings"]}


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root and setpriv to make a file unreadable without changing it",
)
def test_a_sidecar_that_could_not_be_read_is_read_again_next_time(tmp_path: Path) -> None:
    """A read error is never cached: the same unchanged file, readable on the next scan
    (here: the first scan runs without the capability that lets root read anything)."""
    show = make(tmp_path)
    sidecar = show.root / "comp/a.png.genai.yaml"
    sidecar.chmod(0o000)
    blind = run_cli(
        "scan",
        str(show.root),
        "--format",
        "json",
        prefix=["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"],
    )
    assert blind.code == 2, blind.stderr  # an I/O error of the run (and a PRV-02)
    assert "comp/a.png.genai.yaml: cannot read file: Permission denied" in blind.stderr
    finding = [f for f in blind.json()["assets"] if f["asset"] == "comp/a.png"][0]["findings"]
    assert any("Permission denied" in f["message"] for f in finding if f["rule"] == "PRV-02")

    def version(st: os.stat_result) -> tuple[int, ...]:
        return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    before = version(sidecar.stat())
    warm = scan(show)  # root, with its capabilities: the file can be read; nothing changed
    assert version(sidecar.stat()) == before
    assert warm["comp/a.png"]["outcome"] == "pass"


def test_a_damaged_state_store_switches_the_cache_off_and_the_scan_goes_on(
    tmp_path: Path,
) -> None:
    """Pages damaged behind an intact header and schema: the first look-up fails, not the
    open. (The schema's own pages are kept: it outgrew the first page as tables were added.)"""
    show = make(tmp_path)
    cold = scan(show)
    db = show.root / ".clearance/state.db"
    with contextlib.closing(sqlite3.connect(db)) as con:
        size = con.execute("PRAGMA page_size").fetchone()[0]
        schema = {
            page for (page,) in con.execute("SELECT pageno FROM dbstat WHERE name='sqlite_schema'")
        }
    data = bytearray(db.read_bytes())
    for first in range(size, len(data), size):
        if first // size + 1 not in schema:
            data[first : first + size] = b"\x5a" * size
    db.write_bytes(bytes(data))
    for jobs in ([], ["--jobs", "2"]):
        done = run_cli("scan", str(show.root), "--format", "json", *jobs)
        assert done.code == 1, done.stderr
        assert "internal error" not in done.stderr
        assert f"provenance cache disabled: {db}" in done.stderr
        result = {a["asset"]: a for a in done.json()["assets"]}
        # lineage cannot read the store either: each asset's declared input has an unknown
        # ancestry, which is unsure (PRV-02, at least escalate), never the cold run's pass
        ranks = ["pass", "notice", "escalate", "approval", "block"]
        unsure = {
            k: ranks[max(ranks.index(v["outcome"]), ranks.index("escalate"))]
            for k, v in cold.items()
        }
        assert {k: v["outcome"] for k, v in result.items()} == unsure
        for asset in result.values():
            assert any(
                f["rule"] == "PRV-02" and "lineage store could not be read" in f["message"]
                for f in asset["findings"]
            )
        events = (show.root / ".clearance/audit.jsonl").read_text().splitlines()
        assert json.loads(events[-1])["event"] == "run.finished"


def test_parallel_scan_with_a_store_that_cannot_be_opened_matches_a_serial_one(
    tmp_path: Path,
) -> None:
    show = make(tmp_path)
    (show.root / ".clearance").mkdir()
    (show.root / ".clearance/state.db").write_bytes(b"SQLite format 3\x00" + b"\x00" * 50)
    serial = run_cli("scan", str(show.root), "--format", "json")
    parallel = run_cli("scan", str(show.root), "--format", "json", "--jobs", "2")
    assert "internal error" not in parallel.stderr
    assert (parallel.code, parallel.json()["assets"]) == (serial.code, serial.json()["assets"])


def test_a_store_another_process_keeps_write_locked_is_read_and_the_scan_goes_on(
    tmp_path: Path,
) -> None:
    """A second connection in BEGIN IMMEDIATE (a long watcher batch, a sqlite3 shell left in
    a transaction): WAL lets the scan read the cache, and opening it takes no write lock."""
    show = make(tmp_path)
    cold = scan(show)
    holder = sqlite3.connect(show.root / ".clearance/state.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        done = run_cli("scan", str(show.root), "--format", "json")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert done.code == 1 and "internal error" not in done.stderr, done.stderr
    assert {a["asset"]: a for a in done.json()["assets"]} == cold
    assert all(e["details"]["cached"] for e in audited(show).values())
    events = (show.root / ".clearance/audit.jsonl").read_text().splitlines()
    assert json.loads(events[-1])["event"] == "run.finished"


def test_cache_rows_a_locked_store_refuses_are_given_up_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Changed assets under a write lock held past the busy timeout: the stage's cache rows
    cannot be written; the cache is switched off with a warning and the run finishes, with
    the result of a run without the cache."""
    from clearance import state
    from clearance.discover import discover
    from clearance.engine import Session
    from clearance.policy import load_policy

    show = make(tmp_path)
    scan(show)
    for path in (show.root / "comp").glob("*.png"):
        os.utime(path)  # every comp asset changed: the cache has rows to write
    time.sleep(2 * RACY_NS_FINE / 1e9)  # (once the change is old enough to keep: cache.racy)
    monkeypatch.setattr(state, "BUSY_TIMEOUT", 0.3)
    policy = load_policy(show.root / "clearance.yaml")

    def run(cache: bool) -> dict[str, list[tuple[str, str]]]:
        session = Session(policy, write_log=False, cache=cache, blocked=["clearance.lineage"])
        result = session.run(discover([show.root], policy).assets)
        session.close(result)
        assert session.events[-1]["event"] == "run.finished"
        return {
            r.asset.rel: sorted((f.rule, f.outcome.value) for f in r.findings)
            for r in result.assets
        }

    holder = sqlite3.connect(show.root / ".clearance/state.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with caplog.at_level("WARNING", logger="clearance"):
            locked = run(cache=True)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert locked == run(cache=False)
    assert "provenance cache disabled" in caplog.text and "locked" in caplog.text


def test_a_store_to_migrate_while_another_process_holds_its_write_lock_is_a_state_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Migrating needs the write lock: past the busy timeout it is a StateError naming the
    file (what callers turn into "going on without the store"), not a raw sqlite3 error."""
    from clearance import state

    monkeypatch.setattr(state, "BUSY_TIMEOUT", 0.3)
    path = tmp_path / "state.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")  # a store at schema version 0
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(state.StateError, match=f"{path}.*locked"):
            state.StateStore(path)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert state.StateStore(path).schema_version == len(state.MIGRATIONS)


SITE_READER = '''
from clearance import hookimpl
from clearance.model import PartialRecord

@hookimpl
def clearance_read_provenance(asset, policy, partials):
    """The studio's tracker: it says every element is a scanned plate."""
    return PartialRecord(
        source="tracker", file=asset.rel,
        data={"generated": False, "source_type": "digitalCapture"},
        evidence={"saw": [p.source for p in partials]},
    )
'''


def test_a_site_reader_sees_the_same_partials_on_a_warm_scan(tmp_path: Path) -> None:
    """Cached answers take their readers' places in registration order: the merge, and what
    a later reader is shown, are those of a cold scan."""
    from _embedded import TRAINED, xmp_packet
    from _embedded import write_png as write_xmp_png

    show = ClearanceRun(tmp_path / "show")
    (show.root / "comp").mkdir(parents=True)
    write_xmp_png(show.root / "comp/a.png", xmp_packet(TRAINED))
    (tmp_path / "site_reader.py").write_text(SITE_READER)
    show.config["plugins"] = [str(tmp_path / "site_reader.py")]
    show.write_config()
    cold = scan(show)
    warm = scan(show)
    assert audited(show)["comp/a.png"]["details"]["cached"]
    assert warm == cold
    assert "PRV-04" in {f["rule"] for f in warm["comp/a.png"]["findings"]}


@pytest.mark.skipif(not c2pa_sdk_available(), reason="needs c2pa-python to sign and verify")
def test_a_c2pa_verdict_is_checked_again_when_the_trust_list_changes(tmp_path: Path) -> None:
    """A manifest's verdict is never cached: it depends on the trust anchors' contents (and
    on the clock and rules.PRV-06), which are not among the asset's files."""
    from _embedded import c2pa_manifest, make_pki, sign
    from _embedded import write_png as write_plain_png

    signer, stranger = make_pki("Vendor signer"), make_pki("Another CA")
    show = ClearanceRun(tmp_path / "show")
    (show.root / "comp").mkdir(parents=True)
    source = write_plain_png(tmp_path / "source.png")
    sign(source, show.root / "comp/a.png", signer, c2pa_manifest())
    sidecar = genai_sidecar()
    (show.root / "comp/a.png.genai.yaml").write_text(yaml.safe_dump(sidecar))
    (show.root / "anchors.pem").write_bytes(signer.root_pem)
    show.config["readers"] = {"c2pa": {"trust_anchors": "anchors.pem"}}
    show.config["rules"] = {"PRV-06": {"require_trusted": True}}
    show.write_config()
    trusted = scan(show)
    assert "PRV-06" not in {f["rule"] for f in trusted["comp/a.png"]["findings"]}
    (show.root / "anchors.pem").write_bytes(stranger.root_pem)  # trust withdrawn
    warm, cold = warm_and_cold(show)
    assert warm == cold
    assert "PRV-06" in {f["rule"] for f in warm["comp/a.png"]["findings"]}


def test_an_embedded_reader_that_could_not_read_its_file_is_never_kept(tmp_path: Path) -> None:
    """The XMP and EXR readers mark an answer about a file they could not read as volatile
    (the sidecar and C2PA readers too): reading again may succeed, so the cache skips it."""
    from clearance.cache import keepable
    from clearance.provenance.exr import read_exr_header, record_from_exr_header
    from clearance.provenance.xmp import read_xmp, record_from_xmp
    from clearance.testing import write_png

    gone = tmp_path / "gone.exr"
    xmp = record_from_xmp(read_xmp(gone), "gone.exr")
    exr = record_from_exr_header(read_exr_header(gone), "gone.exr")
    for record in (xmp, exr):
        assert record is not None and record.volatile and not keepable(record)
        assert "cannot read file" in record.issues[0].message
    png = write_png(tmp_path / "plate.png")
    (png.parent / "bad.png").write_bytes(png.read_bytes()[:20])  # truncated: kept, not volatile
    truncated = record_from_xmp(read_xmp(png.parent / "bad.png"), "bad.png")
    assert truncated is not None and not truncated.volatile and keepable(truncated)


def test_a_second_sidecar_for_one_asset_is_prv02_naming_both_and_cached_with_it(
    tmp_path: Path,
) -> None:
    """``NAME.genai.yaml`` and ``NAME.genai.json`` for one asset (a file, a sequence): only
    the YAML one is read, so the JSON one, which says the similarity review failed, must not
    be silently ignored: PRV-02 names both files. A warm re-scan sees it appear and go."""
    show = make(tmp_path)
    comp = show.root / "comp"
    cold = scan(show)
    assert scan(show) == cold and cold["comp/a.png"]["outcome"] == "pass"
    assert cold["comp/seq.####.png"]["outcome"] == "pass"
    for stem in ("a.png", "seq"):
        doc = yaml.safe_load((comp / f"{stem}.genai.yaml").read_text())
        doc["output"]["similarity_review"] = "failed"
        (comp / f"{stem}.genai.json").write_text(json.dumps(doc))
    for extra in ((), ("--jobs", "2")):
        result = scan(show, *extra)
        for rel, stem in (("comp/a.png", "a.png"), ("comp/seq.####.png", "seq")):
            assert result[rel]["outcome"] == "escalate", result[rel]
            [prv02] = [f for f in result[rel]["findings"] if f["rule"] == "PRV-02"]
            [error] = prv02["evidence"]["errors"]
            assert f"comp/{stem}.genai.yaml" in error["message"]
            assert f"comp/{stem}.genai.json" in error["message"]
        assert not audited(show)["comp/a.png"]["details"]["cached"] or extra
        assert audited(show)["delivery/final.png"]["details"]["cached"]
    assert scan(show) == result  # warm, from the cache: the same
    for stem in ("a.png", "seq"):
        (comp / f"{stem}.genai.json").unlink()
    assert scan(show) == cold
    assert not audited(show)["comp/a.png"]["details"]["cached"]


def test_a_change_in_the_readers_code_is_a_miss_for_every_cached_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A build whose readers answer differently (a reader fixed, the same version number)
    must not reuse what an earlier build read: the signature has a digest of their code."""
    from clearance import cache

    store = tmp_path / "state.db"
    first = cache.ProvenanceCache(store, readers=["sidecar"], settings={}, version="0.1.0")
    again = cache.ProvenanceCache(store, readers=["sidecar"], settings={}, version="0.1.0")
    assert first.signature == again.signature
    # the digest covers every reader module and the sidecar schema
    assert len(cache.code_digest()) == 16
    monkeypatch.setattr(cache, "code_digest", lambda: "0" * 16)  # an earlier build's readers
    older = cache.ProvenanceCache(store, readers=["sidecar"], settings={}, version="0.1.0")
    assert older.signature != first.signature


@pytest.mark.parametrize(
    "data",
    [
        {"big": 2**70, "neg": -(2**65), "f": 1e16, "tiny": 5e-324, "zero": -0.0},
        {"nothing": None, "list": [None, {"deep": None}], "text": "null"},
        {1: "an integer key", 2.5: "a float key"},  # json.dumps makes them strings
        {"é": "ünïcode ✓ 🎬", "ctl": "\x00\x1f\u2028", "quote": '"\\'},
        {"when": dt.date(2027, 1, 31)},  # json.dumps refuses it: not kept
        {"nan": float("nan")},  # refused too (allow_nan=False), where orjson writes null
        {"inf": [float("inf")]},
        {"lone": "\ud800"},  # not UTF-8: not kept
        {"deep": json.loads("[" * 300 + "]" * 300)},  # past orjson's 254 levels
    ],
)
def test_a_cached_row_reads_back_what_json_would(data: dict) -> None:
    """The rows are written with orjson where it gives what ``json.dumps`` would, and with
    ``json.dumps`` otherwise: a row reads back exactly what json's round trip gives, and a
    value json refuses is not kept at all."""
    from clearance.cache import _decode, _encode
    from clearance.model import PartialRecord

    partials = {
        "clearance.provenance.sidecar": PartialRecord(source="sidecar", file="a.yaml", data=data),
        "clearance.provenance.c2pa": None,
    }
    try:
        expected = json.loads(json.dumps(data, ensure_ascii=False, allow_nan=False))
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError):
        expected = None
    text = _encode(partials)
    if expected is None:
        assert text is None
        return
    assert text is not None
    back = _decode(text)
    assert back["clearance.provenance.c2pa"] is None
    got = back["clearance.provenance.sidecar"]
    assert got is not None and got.data == expected
    assert json.dumps(got.data) == json.dumps(expected)  # types too: 2**70 is not a float


def test_without_orjson_the_cache_reads_rows_orjson_wrote() -> None:
    """orjson is a speed-up, not a requirement: a Python without it (a DCC's) writes rows
    with ``json`` and reads the rows a run with orjson wrote, and the other way round."""
    import subprocess
    import sys

    from clearance.cache import _decode, _encode
    from clearance.model import PartialRecord

    data = {"big": 2**70, "nothing": None, "f": 1e16, "text": "ünïcode"}
    fast = _encode({"r": PartialRecord(source="sidecar", file="a.yaml", data={"k": "v"})})
    assert fast is not None and not fast.startswith(" ")  # orjson wrote it
    code = (
        "import sys, json; sys.modules['orjson'] = None\n"
        "from clearance.cache import _decode, _encode, _orjson\n"
        "from clearance.model import PartialRecord\n"
        "assert _orjson is None\n"
        f"print(json.dumps(_decode({fast!r})['r'].data))\n"
        f"print(_encode({{'r': PartialRecord(source='s', file='f', data={data!r})}}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    read_back, written = done.stdout.split("\n")[:2]
    assert json.loads(read_back) == {"k": "v"}
    back = _decode(written)["r"]
    assert back is not None and back.data == data


def _blind_prefix() -> list[str]:
    """A prefix that runs the CLI without read permission on a mode-000 file: none for a
    user that is not root; root without the capabilities that let it read anything."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]


@pytest.mark.skipif(
    os.geteuid() == 0 and shutil.which("setpriv") is None,
    reason="root reads a mode-000 file unless setpriv takes away its capabilities",
)
def test_a_file_made_unreadable_after_it_was_cached_is_not_served_from_the_cache(
    tmp_path: Path,
) -> None:
    """A sidecar, a sequence's first frame and a single asset file cached by a scan, then
    made unreadable (``chmod 000``: their size and mtime unchanged): the cache keys on the
    ctime too, which a chmod moves on, so the next scan reads them again and says it cannot
    (``Permission denied``, PRV-02, exit 2), never the cached pass."""
    show = make(tmp_path)
    time.sleep(2 * RACY_NS_FINE / 1e9)  # not racily clean: the cold scan keeps its answers
    cold = scan(show)
    assert scan(show) == cold and all(e["details"]["cached"] for e in audited(show).values())
    shut = {
        "comp/a.png": show.root / "comp/a.png.genai.yaml",
        "comp/seq.####.png": show.root / "comp/seq.0001.png",
        "delivery/final.png": show.root / "delivery/final.png",
    }
    for path in shut.values():
        path.chmod(0o000)
    try:
        done = run_cli("scan", str(show.root), "--format", "json", prefix=_blind_prefix())
    finally:
        for path in shut.values():
            path.chmod(0o644)
    assert done.code == 2, done.stderr
    found = {a["asset"]: a for a in done.json()["assets"]}
    for asset, path in shut.items():
        rel = path.relative_to(show.root).as_posix()
        assert f"{rel}: cannot read file: Permission denied" in done.stderr, asset
        prv02 = [f for f in found[asset]["findings"] if f["rule"] == "PRV-02"]
        assert prv02 and prv02[0]["unsure"], (asset, found[asset]["findings"])
        assert "Permission denied" in prv02[0]["message"], asset
