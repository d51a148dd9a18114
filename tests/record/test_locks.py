"""Lock discipline: the session's and the writer's locks are never held together, so a NaN
loss that meets a heartbeat cannot freeze training (it did: `Session._add_point` held the
session lock while calling the writer, and the writer thread held its lock while asking the
session for its live fields)."""

from __future__ import annotations

import math
import threading
import time

import tfwatcher


def test_nan_loss_meeting_a_heartbeat_cannot_deadlock(db):
    """Forces the old deadlock's interleaving with a barrier: the training thread is inside
    its call to the writer (first NaN loss) exactly while the writer thread is inside its call
    to the session (heartbeat). With either lock held across those calls, both would wait
    for ever; the barrier makes the moment certain instead of likely."""
    s = tfwatcher.Session(quiet=True, interval=0.02, heartbeat=0.02)
    s.start()
    s.log_batch({"loss": 1.0})
    assert s.flush(10)
    meet = threading.Barrier(2, timeout=10)
    met = {"writer": False, "training": False}
    real_fields, real_update = s.writer._session_fields, s.writer.update_session

    def session_fields():  # on the writer thread, at the next heartbeat
        if not met["writer"]:
            met["writer"] = True
            meet.wait()
        return real_fields()

    def update_session(fields, urgent=False):  # on the training thread, first NaN loss
        if "nan" in fields and not met["training"]:
            met["training"] = True
            meet.wait()
        return real_update(fields, urgent)

    s.writer._session_fields = session_fields
    s.writer.update_session = update_session
    training = threading.Thread(target=lambda: [s.log_batch({"loss": math.nan}),
                                                s.log_batch({"loss": 2.0})])
    training.start()
    training.join(15)
    assert not training.is_alive(), "training froze: the NaN loss and the heartbeat deadlocked"
    assert met == {"writer": True, "training": True}, "the interleaving was not forced"
    s.finish()
    assert s.flush(10)
    assert db.document(f"sessions/{s.id}").get().to_dict()["nan"] is True


class CheckedLock:
    """A lock that records when its thread already holds the other checked lock."""

    held = threading.local()
    nested: list[str] = []

    def __init__(self, name: str):
        self.name = name
        self._lock = threading.Lock()

    def acquire(self, blocking=True, timeout=-1):
        mine = getattr(self.held, "names", set())
        if mine - {self.name}:
            self.nested.append(f"{self.name} taken while holding {sorted(mine)}")
        ok = self._lock.acquire(blocking, timeout)
        if ok:
            self.held.names = mine | {self.name}
        return ok

    def release(self):
        self.held.names = getattr(self.held, "names", set()) - {self.name}
        self._lock.release()

    __enter__ = acquire

    def __exit__(self, *exc):
        self.release()


def test_stress_many_threads_nan_losses_heartbeats_flushes_no_lock_nesting(db):
    """Four training threads log points (NaN and inf among them) and epochs while the writer
    beats every 10 ms and a fifth thread flushes: nothing freezes, and no thread ever holds
    the session's lock and the writer's lock at once."""
    s = tfwatcher.Session(quiet=True, interval=0.01, heartbeat=0.01)
    s._lock = CheckedLock("session")
    w = s.writer
    w._buffer.lock = CheckedLock("writer")  # the writer's lock is its buffer's
    w._idle = threading.Condition(w._buffer.lock)
    CheckedLock.nested.clear()
    s.start()
    stop = time.monotonic() + 2

    def train(n):
        i = 0
        while time.monotonic() < stop:
            i += 1
            loss = math.nan if i % 97 == 0 else (math.inf if i % 89 == 0 else 1.0 / i)
            s.log_batch({"loss": loss, f"m{n}": float(i)})
            if i % 200 == 0:
                s.log_epoch({"loss": loss}, epoch=n * 100_000 + i)

    def flusher():
        while time.monotonic() < stop:
            s.flush(0.05)

    threads = [threading.Thread(target=train, args=(n,)) for n in range(4)]
    threads.append(threading.Thread(target=flusher))
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not any(t.is_alive() for t in threads), "a thread froze"
    s.finish()
    assert s.flush(30)
    assert CheckedLock.nested == [], CheckedLock.nested[:5]
    assert db.document(f"sessions/{s.id}").get().to_dict()["nan"] is True
