"""Commits that would be too large: a burst of epochs (tens of thousands logged with no pause,
then finish) builds epoch-table parts worth several MB in one round. Firestore refuses a
request over 10 MiB, the emulator a gRPC message over 4 MiB. Every write must still arrive,
and a size refusal must be neither retried whole forever nor taken for an access error.
"""

from __future__ import annotations

import time

import pytest

from tests.helpers import drain_by_hand, hooked_client_factory
from tfwatcher.base.access import is_too_large
from tfwatcher.record import commit
from tfwatcher.record import spool as spool_module
from tfwatcher.record import writer as W
from tfwatcher.record.chunk import Chunk


def count(db, path: str) -> int:
    return db.collection(path).count().get()[0][0].value


def table_rows(db, sid: str) -> list[int]:
    docs = sorted(db.collection(f"sessions/{sid}/tables").stream(), key=lambda d: d.id)
    return [e for d in docs for e in d.to_dict()["epoch"]]


def test_a_burst_of_40000_epochs_is_all_sent_at_finish(db):
    """The reported case: before the fix, 20 table parts (~5 MB, estimated at 4 MB) went in
    one commit, the emulator refused it as RESOURCE_EXHAUSTED, and the writer retried it whole
    every 30 s: finish(wait=300) returned False with most epochs unsent."""
    import tfwatcher

    n = 40_000
    s = tfwatcher.Session(quiet=True, interval=0.1)
    s.start(mode="fit", epochs=n, steps=1)
    for e in range(1, n + 1):
        s.log_epoch({"loss": 1.0 / e, "val_loss": 1.2 / e, "accuracy": 1 - 0.5 / e}, epoch=e, seconds=0.01)
    t0 = time.monotonic()
    assert s.finish(wait=120), s.writer.stats
    took = time.monotonic() - t0
    assert s.writer.stats["errors"] == 0
    assert count(db, f"sessions/{s.id}/epochs") == n
    assert table_rows(db, s.id) == list(range(1, n + 1))
    print(f"40,000 epochs sent in {took:.1f} s")


def test_a_commit_the_emulator_refuses_as_too_large_is_split(db, emulator, monkeypatch):
    """With the byte budget switched off, one round of ~9 epoch-table parts of 600 KB goes as
    one commit; the emulator refuses it (gRPC message over 4 MiB) and the writer splits it.
    The writer is driven by hand (autostart=False) so that the round holds all of them."""
    from google.cloud import firestore

    monkeypatch.setattr(commit, "COMMIT_BYTES", 10**12)
    sid = "split" + "x" * 13
    w = W.Writer(lambda: firestore.Client(project=emulator.project), f"sessions/{sid}", autostart=False)
    n = 8_000
    names = [f"output_{i:02d}_loss" for i in range(60)]
    for e in range(1, n + 1):
        w.add_epoch(f"{e:06d}", {"schema": 1, "kind": "train", "epoch": e, "step": e, "names": names,
                                 "values": [e + i / 100 for i in range(60)], "seconds": 0.01,
                                 "avg_seconds": 0.01, "time": time.time()})
    drain_by_hand(w, 20)
    assert not w.disabled
    assert w.stats["splits"] >= 1 and w.stats["errors"] == 0
    assert count(db, f"sessions/{sid}/epochs") == n
    assert table_rows(db, sid) == list(range(1, n + 1))
    part = db.document(f"sessions/{sid}/tables/epochs-0000").get().to_dict()
    assert {x["name"] for x in part["series"]} == set(names)


def test_production_size_refusal_splits_and_never_goes_offline(db, emulator, tmp_path, monkeypatch):
    """Production answers an oversized commit with INVALID_ARGUMENT, which otherwise means a
    permanent error (spool, stop sending). Production cannot be reached from here: the
    emulator's commit is wrapped to refuse, with production's message, any commit of more than
    50 writes."""
    from google.api_core import exceptions as gexc

    monkeypatch.setattr(spool_module, "SPOOL_DIR", tmp_path)
    sid = "toolarge" + "x" * 10

    def limit(batch):
        if len(batch) > 50:
            raise gexc.InvalidArgument("Request payload size exceeds the limit: 11534336 bytes.")

    factory = hooked_client_factory(emulator.project, limit)
    w = W.Writer(factory, f"sessions/{sid}", autostart=False)
    for e in range(1, 1001):
        w.add_epoch(f"{e:06d}", {"schema": 1, "kind": "train", "epoch": e, "step": e,
                                 "names": ["loss"], "values": [1.0 / e], "seconds": 0.1,
                                 "avg_seconds": 0.1, "time": time.time()})
    drain_by_hand(w, 20)
    assert not w.disabled
    assert w.stats["splits"] >= 3 and w.stats["errors"] == 0
    assert count(db, f"sessions/{sid}/epochs") == 1000
    assert table_rows(db, sid) == list(range(1, 1001))
    assert not list(tmp_path.iterdir()), "nothing spooled"


@pytest.mark.parametrize("err, too_large", [
    ("InvalidArgument:Request payload size exceeds the limit: 11534336 bytes.", True),
    ("InvalidArgument:Transaction too big. Decrease transaction size.", True),
    ("ResourceExhausted:gRPC message exceeds maximum size 4194304: 4653287", True),
    ("ResourceExhausted:Quota exceeded.", False),
    ("PermissionDenied:Missing or insufficient permissions.", False),
    ("InvalidArgument:Document name is not valid.", False),
])
def test_size_refusals_are_told_apart(err, too_large):
    from google.api_core import exceptions as gexc

    cls, text = err.split(":", 1)
    assert is_too_large(getattr(gexc, cls)(text)) is too_large


def test_estimate_is_not_below_the_encoded_size():
    """The byte budget holds only if the estimate does not undercount: compare with the
    protobuf a commit actually carries, for each kind of document the writer sends."""
    from google.cloud.firestore_v1 import _helpers

    from tfwatcher.record.summaries import EpochTable

    table = EpochTable("sessions/x/tables")
    for e in range(1, 2001):
        table.add(f"{e:06d}", {"kind": "train", "epoch": e, "step": e * 10, "seconds": 0.123456,
                               "avg_seconds": 0.1, "time": 1.79e9 + e,
                               "names": ["loss", "val_loss", "accuracy"], "values": [1 / e, 2 / e, 0.5]})
    chunk = Chunk("train", 0)
    for i in range(1000):
        chunk.add(i + 1, 1, i + 1, 0.01, 1.79e9 + i, {"loss": 1 / (i + 1), "a_long_metric_name": i * 0.5})
    for doc in (table.doc()[1], chunk.to_doc()):
        encoded = _helpers.encode_dict(doc)
        size = sum(len(k) + v._pb.ByteSize() for k, v in encoded.items())
        assert commit.estimate(doc) >= size, (commit.estimate(doc), size)
