"""A file system that stamps whole seconds (ext3, HFS+, FAT, some NFS servers) and a quiet
period shorter than a second: a rewrite of the same size in the second of the last change
leaves size, mtime and ctime as they were.

The files are real; their stamps are read through a :class:`FileSystem` that gives them as
such a file system does, to the second (an ext3 image mounted by loop shows the same; the
test suite cannot mount one). The audits run in the watcher's own thread
(``audit_processes=0``), so that every ``stat`` of the watcher goes through it.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

from _watch_harness import InProcessWatcher, audited, audited_counts, make_show, wait_for
from clearance.watch_readiness import FileSystem

SECOND = 1_000_000_000


class WholeSecondsFS(FileSystem):
    """The OS's files, their mtime and ctime to the whole second (as ext3 stamps them)."""

    def stat(self, path: str) -> os.stat_result:
        st = os.stat(path)
        mtime = st.st_mtime_ns - st.st_mtime_ns % SECOND
        ctime = st.st_ctime_ns - st.st_ctime_ns % SECOND
        fields = tuple(st)[:7] + (int(st.st_atime), mtime // SECOND, ctime // SECOND)
        return os.stat_result(
            fields,
            {
                "st_atime": st.st_atime,
                "st_mtime": mtime / SECOND,
                "st_ctime": ctime / SECOND,
                "st_atime_ns": st.st_atime_ns,
                "st_mtime_ns": mtime,
                "st_ctime_ns": ctime,
            },
        )


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_same_size_rewrite_in_the_second_of_an_audit_is_audited(tmp_path: Path) -> None:
    """The clip settles (0.3 s), is audited, and is rewritten with other bytes of the same
    size within the same second: its stamps to the second are those audited. The watcher
    now audits a file only once its last change is a tick of the clock old (here 3 s), so
    the rewrite has stamps of its own and is audited too (the new bytes were never
    audited, and every later look found the version audited)."""
    root = make_show(tmp_path)
    (root / "comp").mkdir()
    clip = root / "comp" / "clip.mov"
    first, second = b"\0" * 1000, b"\1" * 1000
    fs = WholeSecondsFS()
    with InProcessWatcher(root, fs=fs, audit_processes=0, sidecar_grace=0.0):
        time.sleep(1 - time.time() % 1 + 0.01)  # at the start of a second: room to race in it
        clip.write_bytes(first)
        wait_for(lambda: audited(root), what="the first audit")
        with open(clip, "r+b") as f:  # the same size, in place
            f.write(second)
        wait_for(
            lambda: any(
                e["details"]["watch"]["files"][0]["sha256"] == _sha(second) for e in audited(root)
            ),
            what="an audit of the rewritten bytes",
        )
    shas = [e["details"]["watch"]["files"][0]["sha256"] for e in audited(root)]
    assert shas == [_sha(first), _sha(second)]
    assert audited_counts(root) == {"comp/clip.mov": 2}
