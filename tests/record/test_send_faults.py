"""No write is ever dropped: a failure injected at each point of the send path (creating the
client, encoding a document, before and after a commit, a permanent refusal, writing the
spool), one at a time and in random sequences (hypothesis), and every logged point and epoch
ends up committed or spooled, exactly once.

The writer is driven round by round (`autostart=False`, `step()`), so each failure lands
exactly where the test puts it; Firestore is the real emulator. After the sequence, the spool
(if any) is uploaded with `tfwatcher sync`'s own function and the session is read back.
"""

from __future__ import annotations

import os
import warnings

import pytest
from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.batch import WriteBatch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tfwatcher.base import ids
from tfwatcher.record import commit as commit_module
from tfwatcher.record import spool as spool_module
from tfwatcher.record.writer import Writer, upload_spool
from tests.helpers import read_session

FAULTS = ("client", "encode", "commit-before", "commit-after", "permanent", "spool", "spool-partial")


class Faults:
    """Failures armed for the next round; each fires once, at its own point."""

    def __init__(self, monkeypatch):
        self.armed: set[str] = set()
        self.fired: list[str] = []
        real_commit = WriteBatch.commit
        real_encode = commit_module.with_server_time
        real_spool = Writer._write_spool
        faults = self

        def commit(batch, *args, **kwargs):
            if faults._fire("commit-before"):
                raise gexc.DeadlineExceeded("injected before the commit")
            if faults._fire("permanent"):
                raise gexc.PermissionDenied("injected")
            result = real_commit(batch, *args, **kwargs)
            if faults._fire("commit-after"):  # applied, but the client never hears back
                raise gexc.DeadlineExceeded("injected after the commit")
            return result

        def encode(doc, sentinel):
            if faults._fire("encode"):
                raise TypeError("injected while encoding")
            return real_encode(doc, sentinel)

        def spool(self, rows):
            if faults._fire("spool"):
                raise OSError(28, "injected: no space left on device")
            return real_spool(self, rows)

        real_write = os.write

        def write(fd, data):  # the disk fills up in the middle of an append to the spool
            if ("spool-partial" in faults.armed and len(data) > 1
                    and os.readlink(f"/proc/self/fd/{fd}").endswith(".jsonl")):
                faults._fire("spool-partial")
                real_write(fd, bytes(data[: len(data) // 2]))
                raise OSError(28, "injected: no space left on device, mid-append")
            return real_write(fd, data)

        monkeypatch.setattr(os, "write", write)
        monkeypatch.setattr(WriteBatch, "commit", commit)
        monkeypatch.setattr(commit_module, "with_server_time", encode)
        monkeypatch.setattr(Writer, "_write_spool", spool)

    def _fire(self, name: str) -> bool:
        if name in self.armed:
            self.armed.discard(name)
            self.fired.append(name)
            return True
        return False

    def client_factory(self, project):
        def make():
            if self._fire("client"):
                raise gexc.ServiceUnavailable("injected while creating the client")
            return firestore.Client(project=project)
        return make


def run_sequence(emulator, monkeypatch, tmp_path, ops):
    """Log points and epochs, with faults armed before rounds; return (writer, logged, faults)."""
    monkeypatch.setattr(spool_module, "SPOOL_DIR", tmp_path)
    faults = Faults(monkeypatch)
    sid = ids.new_session_id()
    w = Writer(faults.client_factory(emulator.project), f"sessions/{sid}", autostart=False)
    steps, epochs = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for op in ops:
            if op[0] == "points":
                for _ in range(op[1]):
                    step = len(steps) + 1
                    w.add_point("train", step, 1, step, 0.01, float(step), {"loss": 1.0 / step})
                    steps.append(step)
            elif op[0] == "epoch":
                epoch = len(epochs) + 1
                w.add_epoch(f"{epoch:06d}", {"epoch": epoch, "names": ["loss"], "values": [0.5]})
                epochs.append(epoch)
            else:  # a round, with this fault armed
                if op[1]:
                    faults.armed.add(op[1])
                w.step()
                faults.armed.clear()
        # The end: no more faults; the writer sends (or spools) what is left.
        w.close_when_idle()
        for _ in range(20):
            if w.disabled or not w.pending():
                break
            w.step()
        if w.disabled:
            w.spool(final=True)
    return w, sid, steps, epochs, faults


def assert_exactly_once(db, w, sid, steps, epochs, tmp_path):
    assert w.disabled or w.pending() == 0, "the writer kept something it neither sent nor spooled"
    for path in sorted(tmp_path.glob("*.jsonl")):
        assert path.stat().st_mode & 0o777 == 0o600
        upload_spool(db, path)
    got = read_session(db, sid)
    stored = [p["step"] for p in got["points"].get("train", [])]
    assert stored == steps, "a point was lost or duplicated"
    assert sorted(got["epochs"]) == [f"{e:06d}" for e in epochs]


@pytest.mark.parametrize("fault", FAULTS)
def test_a_failure_at_each_point_of_the_send_path_loses_nothing(db, emulator, monkeypatch, tmp_path, fault):
    ops = [("points", 30), ("epoch",), ("round", fault), ("points", 30), ("epoch",),
           ("round", fault), ("points", 10), ("round", None)]
    w, sid, steps, epochs, faults = run_sequence(emulator, monkeypatch, tmp_path, ops)
    # The client is made once; a permanent error ends sending; the spool is written only
    # after a permanent error (the next test).
    assert fault in faults.fired or fault.startswith("spool"), faults.fired
    if fault == "permanent":
        assert w.disabled and list(tmp_path.glob("*.jsonl")), "a permanent error spools"
    else:
        assert not w.disabled
    assert_exactly_once(db, w, sid, steps, epochs, tmp_path)


@pytest.mark.parametrize("fault", ["spool", "spool-partial"])
def test_a_spool_that_cannot_be_written_keeps_the_data_and_tries_again(db, emulator, monkeypatch,
                                                                       tmp_path, fault):
    ops = [("points", 20), ("round", "permanent"), ("points", 20), ("epoch",), ("round", fault),
           ("points", 5), ("round", None)]
    w, sid, steps, epochs, faults = run_sequence(emulator, monkeypatch, tmp_path, ops)
    assert faults.fired == ["permanent", fault] and w.disabled
    # An append that failed half way left nothing behind: every line is whole.
    for path in tmp_path.glob("*.jsonl"):
        assert path.read_bytes().endswith(b"\n")
        rows, _size, cut = spool_module.read_spool(path)
        assert not cut
    assert_exactly_once(db, w, sid, steps, epochs, tmp_path)


operations = st.lists(st.one_of(
    st.tuples(st.just("points"), st.integers(1, 700)),   # past 500 points a chunk closes
    st.tuples(st.just("epoch")),
    st.tuples(st.just("round"), st.sampled_from((None,) + FAULTS)),
), min_size=1, max_size=12)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=operations)
def test_random_failure_sequences_lose_and_duplicate_nothing(emulator, monkeypatch, tmp_path_factory, ops):
    tmp_path = tmp_path_factory.mktemp("spool")
    with monkeypatch.context() as m:
        w, sid, steps, epochs, _faults = run_sequence(emulator, m, tmp_path, ops)
    db = firestore.Client(project=emulator.project)
    try:
        assert_exactly_once(db, w, sid, steps, epochs, tmp_path)
    finally:
        db.close()


def test_sync_while_a_run_still_appends_to_the_spool_loses_nothing(db, emulator, monkeypatch, tmp_path):
    """`tfwatcher sync` started while the run that spools is still going: rows appended after
    sync read the file are not deleted with it; the next sync sends them."""
    from tfwatcher import cli

    ops = [("points", 50), ("round", "permanent"), ("points", 10)]
    w, sid, steps, epochs, _faults = run_sequence(emulator, monkeypatch, tmp_path, ops)
    real_upload = spool_module.upload_rows
    appended = []

    def upload_while_the_run_appends(client, rows, timeout=None):
        count = real_upload(client, rows, timeout)
        if not appended:  # the run logs more and spools it between sync's read and delete
            for _ in range(25):
                step = len(steps) + 1
                w.add_point("train", step, 1, step, 0.01, float(step), {"loss": 1.0 / step})
                steps.append(step)
            appended.append(w.spool(final=True))
        return count

    monkeypatch.setattr(spool_module, "upload_rows", upload_while_the_run_appends)
    assert cli.main(["sync", "--dir", str(tmp_path)]) == 0
    assert appended and appended[0] is not None and appended[0].exists(), "a growing file was deleted"
    monkeypatch.setattr(spool_module, "upload_rows", real_upload)
    assert cli.main(["sync", "--dir", str(tmp_path)]) == 0
    assert not list(tmp_path.glob("*.jsonl"))
    got = read_session(db, sid)
    assert [p["step"] for p in got["points"]["train"]] == steps
