"""Lifetimes: every thread, listener and channel a session starts ends once its run has ended
and everything is sent (or on close / exit); nothing outlives the run that made it."""

from __future__ import annotations

import gc
import threading
import weakref

import keras
import numpy as np
import pytest

import tfwatcher
from tests.helpers import read_session, wait_until


def tiny_fit(callback, epochs=1):
    x = np.random.default_rng(0).random((64, 8), dtype=np.float32)
    y = (x.sum(axis=1) > 4).astype("float32")
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(x, y, batch_size=16, epochs=epochs, verbose=0, callbacks=[callback])


def ended(session) -> bool:
    return not session.writer.alive


def test_thirty_fits_with_new_callbacks_leave_no_more_threads_than_one(db):
    """A notebook re-running its fit cell: each run makes a new Watcher (and session)."""
    before = set(threading.enumerate())  # threads of earlier tests may end meanwhile: not counted
    counts = []
    sessions = []
    for i in range(30):
        watcher = tfwatcher.callbacks.Watcher(quiet=True)
        tiny_fit(watcher)
        assert watcher.session.flush(20)
        wait_until(lambda: ended(watcher.session), 20, message="the writer thread to end")
        sessions.append(watcher.session.id)
        counts.append(len(set(threading.enumerate()) - before))
    assert len(set(sessions)) == 30
    assert counts[-1] <= counts[0] + 2, f"threads started by the fits and still alive: {counts}"
    got = read_session(db, sessions[-1])
    assert got["session"]["status"] == "finished" and len(got["points"]["train"]) == 4


def test_one_callback_reused_across_fits_keeps_its_session_and_restarts_its_thread(db):
    watcher = tfwatcher.callbacks.Watcher(quiet=True)
    sid = watcher.session.id
    tiny_fit(watcher)
    assert watcher.session.flush(20)
    wait_until(lambda: ended(watcher.session), 20)
    threads_started = watcher.session.writer.stats["threads"]
    tiny_fit(watcher, epochs=2)
    assert watcher.session.id == sid and watcher.session.run == 2
    assert watcher.session.flush(20)
    wait_until(lambda: ended(watcher.session), 20)
    assert watcher.session.writer.stats["threads"] == threads_started + 1
    got = read_session(db, sid)
    assert got["session"]["run"] == 2 and got["session"]["status"] == "finished"
    assert [p["step"] for p in got["points"]["train"]] == list(range(1, 13))


def test_session_as_context_manager_finishes_sends_and_ends_its_thread(db):
    with tfwatcher.Session(quiet=True, interval=0.1) as s:
        s.start(epochs=1)
        s.log_batch({"loss": 0.5})
        s.log_epoch({"loss": 0.5}, epoch=1)
        assert s.writer.alive
    assert not s.writer.alive
    got = read_session(db, s.id)
    assert got["session"]["status"] == "finished" and len(got["points"]["train"]) == 1

    with pytest.raises(ZeroDivisionError):
        with tfwatcher.Session(quiet=True, interval=0.1) as crashed:
            crashed.start()
            crashed.log_batch({"loss": 1.0})
            1 / 0
    got = read_session(db, crashed.id)
    assert got["session"]["status"] == "crashed"
    assert got["session"]["error"]["type"] == "ZeroDivisionError"
    assert not crashed.writer.alive


def test_a_finished_session_is_garbage_collected_with_everything_it_opened(db):
    s = tfwatcher.Session(quiet=True, interval=0.1)
    s.start()
    s.log_batch({"loss": 1.0})
    s.finish()
    assert s.flush(10)
    wait_until(lambda: ended(s), 20)
    ref = weakref.ref(s)
    del s
    wait_until(lambda: gc.collect() is not None and ref() is None, 10,
               message="the finished session to be collected (something still holds it)")
