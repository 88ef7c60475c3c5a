"""The outbox: a writer killed mid-write leaves nothing behind once the next run starts."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from runner.delivery import Ledger, OutboxTransport, deliver
from tests.fixtures.mail import make_envelope

ROOT = Path(__file__).resolve().parents[4]

# Writes a 1.7 MB message into the outbox and is killed (SIGKILL) once the bytes are on
# disk, before the rename: what `kill -9` during a large message's write does.
KILLED_WRITER = """
import os, signal, sys
from pathlib import Path
from runner.delivery.transports import outbox
os.fsync = lambda fd: os.kill(os.getpid(), signal.SIGKILL)
outbox.write_durably(Path(sys.argv[1]) / "retailer_weekly_2026-11-22_x.eml", b"x" * 1_700_000)
"""


def killed_writer(folder: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(folder)], cwd=ROOT)
    assert proc.returncode == -signal.SIGKILL


def test_a_message_killed_mid_write_leaves_nothing_after_the_next_run(mail_target, tmp_path):
    # Finding 8: kill -9 mid-write left a 1.7 MB .tmp file beside the outbox files.
    folder = tmp_path / "outputs" / "outbox"
    killed_writer(folder)
    (left,) = folder.iterdir()
    assert left.name.endswith(".tmp") and left.stat().st_size == 1_700_000

    ledger = Ledger.open(f"sqlite:///{tmp_path / 'state.db'}")
    results = deliver([make_envelope(mail_target())], OutboxTransport(folder), ledger=ledger)
    assert [r["status"] for r in results] == ["sent"]
    assert [p.suffix for p in folder.iterdir()] == [".eml"]


def test_the_temporary_of_a_writer_still_running_is_left_alone(tmp_path):
    from runner.outputs import sweep_temporaries, temporary_prefix

    folder = tmp_path / "outbox"
    folder.mkdir()
    mine = folder / f"{temporary_prefix(folder / 'a.eml')}abcd1234.tmp"
    mine.write_bytes(b"being written by this process")
    stale = folder / ".b.eml.x1y2z3.tmp"  # a name from before writers signed theirs
    stale.write_bytes(b"old")
    fresh = folder / ".c.eml.q9w8e7.tmp"
    fresh.write_bytes(b"maybe another host's")
    day_old = time.time() - 2 * 86400
    import os

    os.utime(stale, (day_old, day_old))
    assert sweep_temporaries(folder) == [stale]
    assert sorted(p.name for p in folder.iterdir()) == sorted([mine.name, fresh.name])
