"""Review fixes of the writer (issue 17), each with the failure it had:

* a raising `Summaries.take` lost the documents already taken for that round (the session
  document, closed chunks, epochs) while the warning said "will retry";
* a BaseException in a round left `_thread` set: no later document ever started a writer
  again (and what that round had taken was never put back);
* some flags were set outside the writer's lock;
* a single document over Firestore's 1 MiB (thousands of metric names) was refused with
  INVALID_ARGUMENT, taken for an access error, and the whole run went to the spool.

Firestore is the real emulator; faults are injected at the client boundary or in the one
function under test.
"""

from __future__ import annotations

import threading
import warnings

import pytest
from google.api_core import exceptions as gexc
from google.cloud import firestore

from tests.helpers import drain_by_hand, hooked_client_factory, read_session, wait_until
from tfwatcher.record import commit as commit_module
from tfwatcher.record import spool as spool_module
from tfwatcher.record.summaries import Summaries
from tfwatcher.record.writer import Writer


def _log(w: Writer, first: int, last: int, epoch: int | None = None) -> None:
    for step in range(first, last + 1):
        w.add_point("train", step, 1, step, 0.01, float(step), {"loss": 1.0 / step})
    if epoch is not None:
        w.add_epoch(f"{epoch:06d}", {"epoch": epoch, "names": ["loss"], "values": [0.5]})


def test_a_raising_summaries_take_loses_nothing(db, emulator, monkeypatch):
    sid = "sumraise" + "x" * 10
    w = Writer(lambda: firestore.Client(project=emulator.project), f"sessions/{sid}", autostart=False)
    w.add_first(f"sessions/{sid}", {"status": "running"})
    _log(w, 1, 600, epoch=1)  # a closed chunk, an open one, an epoch, the session document
    real_take = Summaries.take
    raised = []

    def take(self, tail_chunk):
        if not raised:
            raised.append(True)
            raise RuntimeError("injected: a bug in the summaries")
        return real_take(self, tail_chunk)

    monkeypatch.setattr(Summaries, "take", take)
    with pytest.warns(RuntimeWarning, match="will retry"):
        w.flush(timeout=0)  # asks for the summaries in the next round
        w.step()
    assert raised
    drain_by_hand(w)
    got = read_session(db, sid)
    assert got["session"] is not None and got["session"]["status"] == "running"
    assert [p["step"] for p in got["points"]["train"]] == list(range(1, 601))
    assert sorted(got["epochs"]) == ["000001"]


class Boom(BaseException):
    """Not an Exception: what `except Exception` in a round does not catch."""


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_base_exception_in_a_round_still_lets_a_later_document_start_a_writer(db, emulator):
    sid = "baseexc" + "x" * 11
    armed = {"on": True}

    def boom(_batch):
        if armed.pop("on", False):
            raise Boom("injected into a commit")

    w = Writer(hooked_client_factory(emulator.project, boom), f"sessions/{sid}", interval=0.05)
    hook = threading.excepthook
    threading.excepthook = lambda args: None if args.exc_type is Boom else hook(args)
    try:
        _log(w, 1, 10, epoch=1)
        wait_until(lambda: not armed and not w.alive, message="the writer thread to die of Boom")
    finally:
        threading.excepthook = hook
    _log(w, 11, 20, epoch=2)  # a later document: a writer starts again and sends all of it
    assert w.stats["threads"] == 2
    assert w.flush(20)
    got = read_session(db, sid)
    assert [p["step"] for p in got["points"]["train"]] == list(range(1, 21))
    assert sorted(got["epochs"]) == ["000001", "000002"]


class OwnedLock:
    """A lock that knows which thread holds it."""

    def __init__(self):
        self._lock = threading.Lock()
        self.owner = None

    def acquire(self, blocking=True, timeout=-1):
        ok = self._lock.acquire(blocking, timeout)
        if ok:
            self.owner = threading.get_ident()
        return ok

    def release(self):
        self.owner = None
        self._lock.release()

    def _is_owned(self):
        return self.owner == threading.get_ident()

    __enter__ = acquire

    def __exit__(self, *exc):
        self.release()


FLAGS = {"_heartbeat_on", "_closing", "_stopping", "_thread", "disabled", "reason",
         "retry_at", "failures", "last_heartbeat", "sampler", "listener", "listener_gen"}


def test_flags_are_set_under_the_writers_lock(emulator, monkeypatch, tmp_path):
    """Every flag the writer thread reads is set with the writer's lock held: by the hooks
    (heartbeat_on), by flush (the retry time), by a round's failure and by the permanent
    error that turns the writer off (its reason)."""
    monkeypatch.setattr(spool_module, "SPOOL_DIR", tmp_path)
    unlocked: list[str] = []

    def denied():
        raise gexc.PermissionDenied("injected")

    w = Writer(denied, "sessions/" + "flags" + "x" * 13, autostart=False, explain=lambda e: "no access")
    lock = w._buffer.lock = OwnedLock()
    w._idle = threading.Condition(lock)

    def watch(cls):
        real = cls.__setattr__

        def setattr_(self, name, value):
            if name in FLAGS and not lock._is_owned():
                unlocked.append(f"{cls.__name__}.{name}")
            real(self, name, value)
        monkeypatch.setattr(cls, "__setattr__", setattr_)

    watch(type(w))
    watch(type(w._sender))
    w.heartbeat_on(True)
    _log(w, 1, 5, epoch=1)
    w.flush(timeout=0)
    with pytest.warns(RuntimeWarning, match="nothing is being sent"):
        w.step()
    assert w.disabled and w.reason == "no access"
    w.heartbeat_on(False)
    assert unlocked == [], unlocked


def _many_metrics(n: int) -> dict:
    return {f"layer_{i:05d}/a_rather_long_metric_name_of_a_big_model": float(i) for i in range(n)}


def _too_large_refusal(limit: int):
    """Production's answer to a document over `limit` bytes (Firestore's is 1 MiB; the
    emulator may take more, so the refusal is injected at the client boundary)."""
    def refuse(batch):
        for write in batch._write_pbs:
            size = write._pb.ByteSize()
            if size > limit:
                raise gexc.InvalidArgument(
                    f"Document '{write.update.name}' cannot be written because its size "
                    f"({size:,} bytes) exceeds the maximum allowed size of 1,048,576 bytes.")
    return refuse


@pytest.mark.parametrize("limit", [1_048_576, 300_000], ids=["production", "smaller-than-estimated"])
def test_a_document_too_large_on_its_own_is_cut_named_and_never_spools_the_run(db, emulator, monkeypatch,
                                                                             tmp_path, limit):
    """One point with 20,000 metric names (~1.3 MB) among ordinary ones: that chunk goes
    with the metrics that fit, `omitted_metrics` says how many were left out, one warning
    names it, and the run goes on being sent (before: INVALID_ARGUMENT, taken for an access
    error, the whole run spooled with a message about access). With `limit` below what the
    writer expects, the refusal itself makes it cut the document further."""
    monkeypatch.setattr(spool_module, "SPOOL_DIR", tmp_path)
    sid = "toobig" + "x" * 12
    w = Writer(hooked_client_factory(emulator.project, _too_large_refusal(limit)), f"sessions/{sid}",
               autostart=False)
    _log(w, 1, 10, epoch=1)
    w.add_point("train", 11, 1, 11, 0.01, 11.0, _many_metrics(20_000))
    _log(w, 12, 20, epoch=2)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        drain_by_hand(w)
    messages = [str(c.message) for c in caught]
    assert not w.disabled and not list(tmp_path.iterdir()), "nothing spooled"
    assert not any("nothing is being sent" in m for m in messages), messages
    named = [m for m in messages if "1 MiB" in m]
    assert len(named) == 1 and "batches/train-" in named[0] and "metrics" in named[0], messages
    got = read_session(db, sid)
    assert [p["step"] for p in got["points"]["train"]] == list(range(1, 21))
    assert sorted(got["epochs"]) == ["000001", "000002"]
    cut = [c for c in got["chunks"] if c.get("omitted_metrics")]
    assert cut and all(len(c["series"]) + c["omitted_metrics"] >= 20_000 for c in cut)
    assert commit_module.stored_size(cut[0]) <= min(limit, commit_module.DOC_BYTES)


def test_a_flush_never_settles_for_live_fields_read_before_it(db, emulator):
    """The race CI found (hypothesis, test_properties): the writer thread read the session's
    live fields (metrics so far), a new metric was logged and flush() asked for the session
    document, then that round sent the stale fields and marked the ask done: flush returned
    True with a session document that lacked the new metric. Forced here: flush is called
    from inside the live-fields read."""
    sid = "liveraces" + "x" * 9
    state = {"metrics": ["a"], "reads": 0}
    holder = {}

    def live_fields():
        state["reads"] += 1
        fields = {"metrics": list(state["metrics"])}
        if state["reads"] == 1:  # the round read its fields; now training logs a new metric
            state["metrics"].append("b")
            holder["w"].flush(timeout=0)  # ... and flush asks for the session document
        return fields

    w = holder["w"] = Writer(lambda: firestore.Client(project=emulator.project), f"sessions/{sid}",
                             session_fields=live_fields, autostart=False)
    w.add_first(f"sessions/{sid}", {"status": "running"})
    _log(w, 1, 3)
    w.update_session({"status": "running"}, urgent=True)
    w.step()  # reads the fields (first call), sends them: the ask made meanwhile must remain
    assert w.pending(), "the ask made after the fields were read was taken as answered"
    drain_by_hand(w)
    assert read_session(db, sid)["session"]["metrics"] == ["a", "b"]
