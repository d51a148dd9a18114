"""Load: 50 sessions at once logging every batch into one emulator for 60 s (bench/load.py).

Every point must arrive exactly once; the report (throughput, largest backlog, flush times,
CPU of the writer threads) is printed, and saved to test-artifacts/load.json.
"""

from __future__ import annotations

import importlib.util
import json
import time
import weakref
from pathlib import Path

import pytest

import tfwatcher
from tfwatcher.record import session as session_module

ROOT = Path(__file__).resolve().parents[2]


def _load_bench():
    spec = importlib.util.spec_from_file_location("bench_load", ROOT / "bench" / "load.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_fifty_sessions_logging_every_batch_for_a_minute_lose_nothing(db, emulator):
    bench = _load_bench()
    report = bench.run(sessions=50, seconds=60, rate=100, emulator=emulator)
    text = json.dumps(report, indent=2)
    print(text)
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    (ROOT / "test-artifacts" / "load.json").write_text(text + "\n")
    assert report["points_sent"] == 50 * 60 * 100
    assert report["all_flushed"]
    assert (report["missing"], report["duplicates"], report["unexpected"], report["wrong_values"]) \
        == (0, 0, 0, 0)
    assert report["points_stored"] == report["points_sent"]
    assert report["every_point_once"]


def test_load_bench_small_run_verifies_every_point(db, emulator):
    """The same code path in a few seconds, so the bench itself is checked on every run."""
    report = _load_bench().run(sessions=3, seconds=2, rate=50, emulator=emulator, interval=0.2)
    assert report["every_point_once"] and report["all_flushed"]
    assert report["points_stored"] == 300 and report["writes"] > 0
    assert report["points_per_write"] > 1


def test_nothing_left_pending_after_a_clean_flush(db, monkeypatch, capsys):
    from google.api_core import exceptions as gexc

    s = tfwatcher.Session(quiet=True, interval=0.2)
    s.start(mode="custom")
    for step in range(1, 4):
        s.log_batch({"loss": 1.0 / step})
    s.finish()
    assert s.flush(10) and s.writer.pending() == 0

    def network_gone(_group):
        raise gexc.ServiceUnavailable("network gone after the run")

    s.writer.on_send = network_gone
    try:
        assert s.flush(1)      # nothing logged since: True at once...
        time.sleep(1.0)        # ...but the writer then sends the session document it queued
        monkeypatch.setattr(session_module, "_SESSIONS", weakref.WeakSet([s]))
        monkeypatch.setenv("TFWATCHER_EXIT_TIMEOUT", "1")
        session_module._flush_at_exit()
        err = capsys.readouterr().err
        assert "NOT fully sent" not in err, err
        assert s.writer.pending() == 0
    finally:
        s.writer.on_send = None
        s.flush(5)
