"""The reading side in parts (issue 17): shared helpers in `read.firestore`, no private name
crossing modules, a thread-safe read counter, the listener's new name, the stall rule of the
contract, and failures that say what happens next instead of passing silently."""

from __future__ import annotations

import ast
import io
import sys
import threading
import warnings
from pathlib import Path

import pytest

import tfwatcher
from tfwatcher.base import contract
from tfwatcher.read import firestore as shared
from tfwatcher.read import watch, watch_view

ROOT = Path(__file__).resolve().parents[2]
READ = ROOT / "tfwatcher" / "read"


def test_each_reading_module_is_small_and_imports_no_private_name():
    for path in sorted(READ.glob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert len(text.splitlines()) <= 400, f"{path.name} is over 400 lines"
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tfwatcher"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{path.name} imports {private} from {node.module}"


def test_old_import_places_still_work():
    from tfwatcher.read import load

    assert load.ReadCounter is shared.ReadCounter
    assert load.SessionNotFound is shared.SessionNotFound and load.NewerSchema is shared.NewerSchema
    assert load.describe_error is shared.describe_error
    from tfwatcher.read.export import export_command

    assert load.export_command is export_command
    assert watch.sparkline is watch_view.sparkline and watch.EPOCH_WINDOW == watch_view.EPOCH_WINDOW


def hammer(counter, threads: int = 8, each: int = 20000) -> int:
    """`threads` threads counting at once, switching as often as the interpreter allows."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    barrier = threading.Barrier(threads)

    def work():
        barrier.wait()
        for _ in range(each):
            counter.query(1)

    jobs = [threading.Thread(target=work) for _ in range(threads)]
    try:
        for job in jobs:
            job.start()
        for job in jobs:
            job.join()
    finally:
        sys.setswitchinterval(old)
    return counter.reads


def test_the_read_counter_loses_no_read_counted_from_listener_threads():
    assert hammer(shared.ReadCounter()) == 8 * 20000


def test_the_read_counter_bills_as_firestore_does():
    counter = shared.ReadCounter()
    counter.query(0)        # an empty query costs one
    counter.query(3)
    counter.count(2500)     # one per 1,000 index entries, rounded up
    counter.count(0)

    class Change:
        def __init__(self, name):
            self.type = type("T", (), {"name": name})()

    counter.delivered([Change("ADDED"), Change("MODIFIED"), Change("REMOVED")], ["a", "b"])
    counter.delivered([], [])  # an empty first answer
    assert counter.reads == 1 + 3 + 3 + 1 + 2 + 1


def test_the_terminal_listener_has_its_own_name_and_the_old_one_warns():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = watch.Watcher
    assert old is watch.SessionListener
    assert [w.category for w in caught] == [DeprecationWarning]
    assert "SessionListener" in str(caught[0].message)
    assert tfwatcher.callbacks.Watcher is not watch.SessionListener  # the callback keeps its name
    with pytest.raises(AttributeError):
        watch.NoSuchThing  # noqa: B018


def frame_text(age: float) -> str:
    from rich.console import Console

    now = 1_800_000_000.0
    snap = {"sid": "", "session": {"status": "running", "mode": "fit", "heartbeat": now - age},
            "epochs": [], "chunks": [], "kind": "train", "reads": 0}
    console = Console(file=io.StringIO(), width=100)
    console.print(watch_view.render(watch_view.view_model(snap, now=now), 100))
    return console.file.getvalue()


def test_stalled_is_suggested_after_the_contracts_time_as_on_the_dashboard():
    shown = contract.STALL_SHOWN_AFTER
    assert "stalled?" not in frame_text(shown - 30)  # 90 s: quiet, not stalled (was: > 60 s)
    assert "stalled?" in frame_text(shown + 10)


class Refusing:
    def unsubscribe(self):
        raise RuntimeError("stream already gone")


def test_a_listener_that_cannot_unsubscribe_warns_once_and_says_what_happens(db):
    listener = watch.SessionListener(db, "abc")
    listener._watches.update(session=Refusing(), epochs=Refusing())
    with pytest.warns(RuntimeWarning, match="it ends when the client is closed") as caught:
        listener.stop()
    assert len([w for w in caught if w.category is RuntimeWarning]) == 1
    assert listener._watches == {}


def test_a_failing_batch_window_is_reported_once_while_the_watch_goes_on(db, capsys, monkeypatch):
    from rich.console import Console

    s = tfwatcher.Session(quiet=True, interval=0.1)
    s.start(mode="fit", epochs=1, steps=5)
    s.log_batch({"loss": 0.5}, epoch=1, batch=1)
    assert s.flush(15)
    real = watch.SessionListener.follow_batches
    calls = []

    def flaky(self, timeout=10.0):
        calls.append(1)
        if len(calls) == 1:
            return real(self, timeout)
        raise RuntimeError("quota exceeded")

    monkeypatch.setattr(watch.SessionListener, "follow_batches", flaky)
    out = io.StringIO()
    assert watch.watch_command(s.id, console=Console(file=out, width=100), max_seconds=2.5) == 0
    err = capsys.readouterr().err
    assert len(calls) >= 3, "the loop kept trying"
    assert err.count("could not follow the newest batches") == 1, err
    assert "trying again" in err and "quota exceeded" in err
    assert "document reads so far" in out.getvalue()
    s.finish()
