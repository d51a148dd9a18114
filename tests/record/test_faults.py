"""Faults of issue #7: memory while the network is down, no way back, SIGKILL."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from google.api_core import exceptions as gexc
from google.cloud.firestore_v1.batch import WriteBatch

import tfwatcher
from tfwatcher import cli
from tfwatcher.local.emulator import free_port
from tests.helpers import read_session, rss_mb, wait_until

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
RSS_CAP_MB = 300  # documented in docs/reliability.md


@pytest.mark.slow
def test_a_million_points_while_down_stay_under_the_memory_cap(db, mocker):
    """Beyond 100,000 waiting points the writer spills to the spool file (#18: before, it
    thinned them); once Firestore answers, every point is uploaded, none lost."""
    s = tfwatcher.Session(quiet=True, interval=0.5)
    s.start(mode="custom")
    mocker.patch.object(WriteBatch, "commit", side_effect=gexc.ServiceUnavailable("down"))
    s.writer.backoff_cap = 2.0
    base = rss_mb()
    peak = base
    slowest = 0.0
    t0 = time.perf_counter()
    with pytest.warns(RuntimeWarning):
        for i in range(1, 1_000_001):
            t1 = time.perf_counter()
            s.log_batch({"loss": 1.0 / i, "accuracy": i / 1e6}, epoch=i // 10_000 + 1,
                        batch=i % 10_000 + 1)
            slowest = max(slowest, time.perf_counter() - t1)
            if i % 10_000 == 0:
                s.log_epoch({"loss": 1.0 / i}, epoch=i // 10_000)
            if i % 50_000 == 0:
                peak = max(peak, rss_mb())
        log_seconds = time.perf_counter() - t0
        wait_until(lambda: s.writer.buffered_points() <= 100_000, 60)
        peak = max(peak, rss_mb())
    growth = peak - base
    print(f"1M points logged in {log_seconds:.1f} s ({log_seconds:.1f} us/point, slowest call "
          f"{slowest * 1000:.1f} ms); RSS growth peak {growth:.0f} MB; "
          f"{s.writer.stats['spilled_points']} points spilled to the spool file")
    assert growth < RSS_CAP_MB
    assert s.writer.stats["spilled_points"] > 0 and s.writer.stats["thinned"] == 0
    mocker.stopall()
    s.finish()
    assert s.flush(300) and s.writer.pending() == 0
    got = read_session(db, s.id)
    steps = [p["step"] for p in got["points"]["train"]]
    assert steps == list(range(1, 1_000_001)), "every point, once"
    assert not any(c.get("thinned") for c in got["chunks"])
    assert sorted(got["epochs"]) == [f"{e:06d}" for e in range(1, 101)]  # no epoch dropped
    assert got["session"]["status"] == "finished"


def test_no_way_back_training_finishes_spools_and_sync_uploads(db, tmp_path):
    """Firestore is unreachable for the whole run (nothing listens on the port)."""
    env = {**os.environ, "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{free_port()}",
           "TFWATCHER_HOME": str(tmp_path), "TFWATCHER_EXIT_TIMEOUT": "3", "TFWATCHER_QR": "0"}
    result = subprocess.run([sys.executable, str(SCRIPTS / "offline_fit.py")], env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "fit done" in result.stdout
    warnings = [l for l in result.stderr.splitlines() if "NOT fully sent" in l]
    assert len(warnings) == 1 and "20 batch points" in warnings[0], result.stderr[-3000:]
    assert "sent" not in result.stdout.replace("some data not sent", ""), "no claim of data sent"
    assert str(tmp_path / "spool") in warnings[0]
    sid = result.stdout.split("Use this ID to monitor training for this session: ")[1].split()[0]
    assert cli.main(["sync", "--dir", str(tmp_path / "spool")]) == 0
    got = read_session(db, sid)
    assert [p["step"] for p in got["points"]["train"]] == list(range(1, 21))
    assert sorted(got["epochs"]) == [f"{e:06d}" for e in range(1, 6)]
    assert got["session"]["status"] == "finished"
    assert db.document(f"sessions/{sid}/private/owner").get().exists


def test_sigkill_stops_the_heartbeat_and_the_sweep_marks_the_session_stalled(db):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "functions"))
    from tfw_functions import sweep

    env = {**os.environ, "TFWATCHER_QR": "0"}
    proc = subprocess.Popen([sys.executable, str(SCRIPTS / "endless_fit.py")], env=env,
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        sid = line.split("session: ")[1].split()[0]
        wait_until(lambda: db.document(f"sessions/{sid}").get().get("status") == "running", 60)
        first = db.document(f"sessions/{sid}").get().get("heartbeat")
        wait_until(lambda: db.document(f"sessions/{sid}").get().get("heartbeat") != first, 30,
                   message="a second heartbeat while alive")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
        killed_at = time.time()
        beat = db.document(f"sessions/{sid}").get().get("heartbeat")
        time.sleep(3)  # heartbeats every 1 s while alive: none may come after the kill
        assert db.document(f"sessions/{sid}").get().get("heartbeat") == beat
        assert db.document(f"sessions/{sid}").get().get("status") == "running"
        # The sweep with a 2-second threshold: the dead session is stalled within it.
        assert sid in sweep.sweep_stalled(db, stall_minutes=2 / 60)
        assert db.document(f"sessions/{sid}").get().get("status") == "stalled"
        assert time.time() - killed_at < 10
    finally:
        if proc.poll() is None:
            proc.kill()
