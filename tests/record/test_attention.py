"""Freshness follows attention (#18 item 1, the writer's side): nobody watching, one round
every `unwatched_every` with chunks that grow; a presence lease (what the dashboard writes)
brings everything at once and the watched cadence back; what matters never waits."""

import datetime
import time

import pytest

import tfwatcher
from tfwatcher.base.contract import HEARTBEAT_FIELD, collection_path, session_path
from tfwatcher.record import attention
from tfwatcher.record.attention import Attention, lease_remaining, presence_path
from tfwatcher.record.chunk import CHUNK_POINTS
from google.cloud.firestore import SERVER_TIMESTAMP
from tests.helpers import wait_until


def session_doc(db, sid):
    return db.document(session_path(sid)).get().to_dict() or {}


def stored_points(db, sid):
    return sum(d.to_dict()["n"] for d in db.collection(collection_path(sid, "batches")).stream())


def announce(db, sid, seconds=120.0):
    """What the dashboard writes (hosting/src/presence.ts), with server credentials."""
    until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
    db.document(presence_path(sid)).set({"until": until, "at": SERVER_TIMESTAMP})


@pytest.fixture
def no_grace(monkeypatch):
    monkeypatch.setattr(Attention, "start_grace", 0.0)


def test_attention_state_alone():
    a = Attention(300.0)
    assert a.is_watched(0.0) and a.settle_locked(0.0) == (True, False)  # no run yet: as watched
    a.run_started_locked(-1e9)
    assert a.is_watched(0.0) is False and a.settle_locked(0.0) == (False, True)
    a.run_started_locked(-1e9)
    assert a.settle_locked(0.0) == (False, True)  # a run started: declared again
    assert a.period(1.0) == 300.0 and a.heartbeat(10.0) == 300.0 and a.heartbeat(600.0) == 600.0
    assert a.seen_locked(1.0, 120.0) is True and a.arrived    # an arrival
    assert a.seen_locked(2.0, 120.0) is False                  # a renewal
    assert a.settle_locked(3.0) == (True, True) and not a.arrived
    assert a.period(1.0) == 1.0 and a.heartbeat(10.0) == 10.0
    assert a.seen_locked(4.0, -5.0) is False                   # a lapsed lease is nobody
    assert a.seen_locked(4.0, 10_000.0) is False and a.watched_until == 4.0 + attention.MAX_LEASE
    always = Attention(None)
    assert always.is_watched(1e12) and always.period(1.0) == 1.0 and not always.enabled


def test_lease_remaining_reads_server_times_only():
    t = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
    assert lease_remaining({"until": t + datetime.timedelta(seconds=90)}, t) == 90.0
    for bad in (None, {}, {"until": "tomorrow"}, {"until": 5}, "x"):
        assert lease_remaining(bad, t) == 0.0


def test_unwatched_sends_rarely_and_says_so_then_an_arrival_sends_everything(db, no_grace):
    s = tfwatcher.Session(quiet=True, system_metrics=False, heartbeat=2.0, unwatched_every=6.0)
    rounds = []
    s.writer.on_send = lambda writes: rounds.append((time.monotonic(), [w[0] for w in writes]))
    s.start(mode="custom")
    wait_until(lambda: session_doc(db, s.id).get(HEARTBEAT_FIELD) == 6.0, 10,
               message="the slow cadence declared")
    t0 = time.monotonic()
    n = 0
    while time.monotonic() - t0 < 8.0:  # 8 s at ~200 batches/s, nobody watching
        for _ in range(10):
            n += 1
            s.log_batch({"loss": 1.0 / n}, epoch=1, batch=n)
        time.sleep(0.05)
    during = [t for t, _ in rounds if t > t0]
    # One scheduled round, maybe two, in 8 s (not eight): the cadence is 6 s.
    assert 1 <= len(during) <= 2, during
    assert n > CHUNK_POINTS
    # Chunks grew past CHUNK_POINTS instead of closing every 500 points.
    wait_until(lambda: stored_points(db, s.id) > 0, 10)
    assert max(d.to_dict()["n"] for d in db.collection(collection_path(s.id, "batches")).stream()) > CHUNK_POINTS
    # A viewer arrives: everything logged so far is in Firestore within ~2 s, and the watched
    # cadence is declared again.
    logged = n
    t_arrive = time.monotonic()
    announce(db, s.id)
    wait_until(lambda: stored_points(db, s.id) >= logged, 5, message="everything, at arrival")
    arrival = time.monotonic() - t_arrive
    wait_until(lambda: session_doc(db, s.id).get(HEARTBEAT_FIELD) == 2.0, 5)
    assert s.writer.watched
    print(f"arrival to all {logged} points stored: {arrival:.2f} s")
    assert arrival < 3.0
    # Watched: rounds every second again.
    before = len(rounds)
    for i in range(30):
        s.log_batch({"loss": 0.5}, epoch=1, batch=n + i + 1)
        time.sleep(0.1)
    assert len(rounds) - before >= 2
    assert s.finish(wait=20)


def test_what_matters_never_waits_for_the_slow_cadence(db, no_grace):
    s = tfwatcher.Session(quiet=True, system_metrics=False, unwatched_every=600.0)
    s.start(mode="custom")
    wait_until(lambda: session_doc(db, s.id).get(HEARTBEAT_FIELD) == 600.0, 10)
    for i in range(1, 50):
        s.log_batch({"loss": 1.0 / i})
    t0 = time.monotonic()
    s.log_batch({"loss": float("nan")})  # the first NaN: a notification depends on it
    wait_until(lambda: session_doc(db, s.id).get("nan") is True, 5, message="the NaN flag")
    s.log_epoch({"loss": 0.1}, epoch=1)   # an epoch waits for the round (nobody watches) ...
    t1 = time.monotonic()
    ok = s.finish(wait=10)                 # ... but the end is at once, with everything
    assert ok and time.monotonic() - t1 < 5 and time.monotonic() - t0 < 8
    doc = session_doc(db, s.id)
    assert doc["status"] == "finished" and stored_points(db, s.id) == 50


def test_a_lapsed_lease_returns_to_the_slow_cadence(db, no_grace):
    s = tfwatcher.Session(quiet=True, system_metrics=False, heartbeat=2.0, unwatched_every=5.0)
    s.start(mode="custom")
    s.log_batch({"loss": 1.0})
    wait_until(lambda: session_doc(db, s.id).get(HEARTBEAT_FIELD) == 5.0, 10)
    announce(db, s.id, seconds=3.0)
    wait_until(lambda: session_doc(db, s.id).get(HEARTBEAT_FIELD) == 2.0, 5, message="watched")
    wait_until(lambda: session_doc(db, s.id).get(HEARTBEAT_FIELD) == 5.0, 10, message="lapsed")
    assert not s.writer.watched
    assert s.finish(wait=10)


def test_unwatched_every_is_checked_at_construction():
    for bad in (0, -1, 0.5, True, "300", float("inf"), float("nan")):
        with pytest.raises(ValueError, match="unwatched_every"):
            tfwatcher.Session(quiet=True, project="demo-x", unwatched_every=bad)
    s = tfwatcher.Session(quiet=True, project="demo-x", unwatched_every=None)
    assert s.writer.unwatched_every is None


def test_unwatched_a_chunk_sent_at_a_round_is_written_once(db, no_grace):
    """A grown chunk sent at an unwatched round is closed there: a viewer who arrives later
    gets it once, and the arrival's round sends only what came after it."""
    s = tfwatcher.Session(quiet=True, system_metrics=False, heartbeat=2.0, unwatched_every=4.0)
    sent = []
    s.writer.on_send = lambda writes: sent.extend((w[0], w[2].get("index")) for w in writes
                                                  if w[0] in ("open", "closed"))
    s.start(mode="custom")
    wait_until(lambda: session_doc(db, s.id).get(HEARTBEAT_FIELD) == 4.0, 10)
    n = 0
    t0 = time.monotonic()
    while time.monotonic() - t0 < 5.0:  # past one slow round, > CHUNK_POINTS a round
        for _ in range(20):
            n += 1
            s.log_batch({"loss": 1.0 / n}, epoch=1, batch=n)
        time.sleep(0.05)
    wait_until(lambda: any(w == "closed" for w, _ in sent), 10, message="a chunk closed at a round")
    announce(db, s.id)
    assert s.finish(wait=20)
    closed = [i for w, i in sent if w == "closed"]
    assert len(closed) == len(set(closed))                       # each closed chunk written once
    assert not {i for w, i in sent if w == "open"} & set(closed[:1])  # never rewritten open first
    assert stored_points(db, s.id) == n


def test_unwatched_a_fast_run_sends_each_full_chunk_early_and_once(db, no_grace, monkeypatch):
    """Unwatched at thousands of batches a second, chunks fill long before the slow round:
    each goes when it fills (a look at the backlog, not the memory bound's spill), near 1 MB
    and accepted by Firestore, while the chunk just opened grows on and heads keep the slow cadence."""
    from tfwatcher.base.packed import unpack_chunk
    from tfwatcher.record import sender as sender_module
    from tfwatcher.record.chunk import GROWN_MAX_BYTES, GROWN_MAX_POINTS, doc_bytes

    monkeypatch.setattr(sender_module, "BACKLOG_CHECK_SECONDS", 0.5)
    s = tfwatcher.Session(quiet=True, system_metrics=False, unwatched_every=600.0)
    sent = []
    s.writer.on_send = lambda writes: sent.append([(w[0], w[1], w[2].get("n"), doc_bytes(w[2]) if w[0] in ("open", "closed") else 0)
                                                   for w in writes])
    s.start(mode="custom")
    wait_until(lambda: session_doc(db, s.id).get(HEARTBEAT_FIELD) == 600.0, 10)
    rounds_before = len(sent)
    n = 0
    for _ in range(130):  # 130,000 points of 3 float32 values, ~20,000 a second
        for _ in range(1000):
            n += 1
            s.log_batch({"loss": n / 1024, "acc": (n % 7) / 8, "lr": (n % 5) / 4}, epoch=1, batch=n)
        time.sleep(0.05)
    wait_until(lambda: sum(1 for r in sent for w in r if w[0] == "closed") >= 2, 30, message="two full chunks sent")
    early = [w for r in sent[rounds_before:] for w in r]
    chunks = [w for w in early if w[0] in ("open", "closed")]
    assert [w[0] for w in chunks] == ["closed", "closed"], chunks  # the open one grows on
    # full: near the byte limit, or at the point limit (a point of 3 float32 values packs in 16 bytes)
    assert all(w[3] <= GROWN_MAX_BYTES and (w[3] >= 0.8 * GROWN_MAX_BYTES or w[2] == GROWN_MAX_POINTS)
               for w in chunks), chunks
    heads = [w for w in early if "summaries" in w[1] and w[1].endswith("-head")]
    assert len(heads) <= 1, heads  # the kind's first head at most: then at the slow cadence
    assert s.writer.stats["spilled_docs"] == 0
    for _kind, path, count, _b in chunks:  # in Firestore, whole
        doc = unpack_chunk(db.document(path).get().to_dict())
        assert doc["n"] == count and doc["step"] == list(range(doc["first"], doc["last"] + 1))
    assert s.finish(wait=30)
    assert stored_points(db, s.id) == n
