"""The retention purge against the Firestore emulator."""

from __future__ import annotations

import datetime as dt

import flask
import pytest

from tfw_functions import config, purge

from .support import new_sid, now_utc

DAY = dt.timedelta(days=1)
SUBDOCS = {
    "epochs": "000001", "batches": "train-000000", "private": "owner", "control": "stop",
    "subscribers": "sub0", "notified": "finished",
}


def put(db, created_age, heartbeat_age=None, ended_age=None, status="finished"):
    """A session with one document in every subcollection (7 documents in all)."""
    sid = new_sid()
    now = now_utc()
    ref = db.collection("sessions").document(sid)
    data = {"schema": 1, "status": status, "created": now - created_age,
            "heartbeat": now - (heartbeat_age if heartbeat_age is not None else created_age)}
    if ended_age is not None:
        data["ended"] = now - ended_age
    ref.set(data)
    for col, doc in SUBDOCS.items():
        ref.collection(col).document(doc).set({"schema": 1, "x": 1})
    # A nested subcollection too: recursive delete must reach it.
    ref.collection("epochs").document("000001").collection("extra").document("e").set({"x": 1})
    return sid


def all_paths(db, sid):
    """Every document path under sessions/{sid}, the session itself included."""
    out = set()

    def walk(doc_ref):
        snap = doc_ref.get()
        if snap.exists:
            out.add(doc_ref.path)
        for col in doc_ref.collections():
            for child in col.list_documents():
                walk(child)

    walk(db.collection("sessions").document(sid))
    return out


def test_purge_deletes_old_sessions_with_subcollections(fdb):
    old = put(fdb, 40 * DAY)
    older = put(fdb, 400 * DAY, status="crashed")
    recent = put(fdb, 2 * DAY)
    long_run = put(fdb, 40 * DAY, heartbeat_age=dt.timedelta(hours=1), status="running")
    late_end = put(fdb, 40 * DAY, heartbeat_age=35 * DAY, ended_age=3 * DAY)
    before = {sid: all_paths(fdb, sid) for sid in (recent, long_run, late_end)}
    assert len(all_paths(fdb, old)) == 8

    deleted = purge.purge_expired(fdb, now=now_utc(), retention_days=30)

    assert deleted == {older: 8, old: 8}
    assert list(deleted) == [older, old]  # oldest first
    assert all_paths(fdb, old) == set() and all_paths(fdb, older) == set()
    for sid in (old, older):
        assert list(fdb.collection("sessions").document(sid).collections()) == []
        for col in SUBDOCS:
            assert list(fdb.collection("sessions").document(sid).collection(col).stream()) == []
    for sid in (recent, long_run, late_end):
        assert all_paths(fdb, sid) == before[sid]
    assert purge.purge_expired(fdb, now=now_utc(), retention_days=30) == {}


def test_retention_is_configurable(fdb):
    two_days = put(fdb, 2 * DAY)
    today = put(fdb, dt.timedelta(hours=2))
    assert purge.purge_expired(fdb, now=now_utc(), retention_days=30) == {}
    assert purge.purge_expired(fdb, now=now_utc(), retention_days=1) == {two_days: 8}
    assert len(all_paths(fdb, today)) == 8


def test_limit_per_run(fdb):
    sids = {put(fdb, (40 + i) * DAY) for i in range(3)}
    first = purge.purge_expired(fdb, now=now_utc(), limit=2)
    second = purge.purge_expired(fdb, now=now_utc(), limit=2)
    assert len(first) == 2 and len(second) == 1
    assert set(first) | set(second) == sids


def test_last_activity():
    t = now_utc()
    assert purge.last_activity({"created": t - DAY, "heartbeat": t, "ended": None}) == t
    assert purge.last_activity({}) is None
    assert not purge.is_expired({}, t)


@pytest.mark.parametrize("value, expected", [(None, 30), ("", 30), ("7", 7), (90, 90)])
def test_retention_days_config(value, expected):
    assert config.retention_days(value) == expected


@pytest.mark.parametrize("value", [0, -3, "never"])
def test_retention_days_rejects_bad_values(value):
    with pytest.raises(ValueError, match="TFWATCHER_RETENTION_DAYS"):
        config.retention_days(value)


def test_scheduled_trigger_reads_retention(fdb, functions_main, monkeypatch):
    old = put(fdb, 10 * DAY)
    recent = put(fdb, 2 * DAY)
    app = flask.Flask(__name__)

    monkeypatch.delenv("TFWATCHER_RETENTION_DAYS", raising=False)
    with app.test_request_context():
        assert functions_main.purgeexpired(flask.request).status_code == 200
    assert len(all_paths(fdb, old)) == 8  # 10 days < default 30

    monkeypatch.setenv("TFWATCHER_RETENTION_DAYS", "7")
    with app.test_request_context():
        assert functions_main.purgeexpired(flask.request).status_code == 200
    assert all_paths(fdb, old) == set()
    assert len(all_paths(fdb, recent)) == 8


def put_in_workspace(db, wid, created_age, row=True):
    """A session (as `put`) that joined workspace `wid`: its private/owner names the workspace
    (the session document does not), and its row is in the workspace's run index."""
    sid = put(db, created_age)
    db.collection("sessions").document(sid).collection("private").document("owner").set(
        {"key": "k" * 32, "workspace": wid})
    if row:
        runs(db, wid).document(sid).set({"schema": 2, "sid": sid, "status": "finished"})
    return sid


def runs(db, wid):
    return db.collection("workspaces").document(wid).collection("runs")


def test_purge_deletes_the_purged_sessions_workspace_row(fdb):
    wid = "w" + new_sid()
    other_wid = "w" + new_sid()
    old = put_in_workspace(fdb, wid, 40 * DAY)
    recent = put_in_workspace(fdb, wid, 2 * DAY)
    rowless = put_in_workspace(fdb, other_wid, 50 * DAY, row=False)  # its row never written
    elsewhere = put_in_workspace(fdb, other_wid, 45 * DAY)
    plain = put(fdb, 60 * DAY)  # no workspace
    forged = put(fdb, 55 * DAY)  # a malformed workspace field is never used in a path
    fdb.collection("sessions").document(forged).collection("private").document("owner").set(
        {"key": "k" * 32, "workspace": "../sessions/x"})
    # An unrelated row with the plain session's ID in another workspace stays (only the
    # session's own workspace is touched).
    runs(fdb, wid).document(plain).set({"schema": 2, "sid": plain})

    deleted = purge.purge_expired(fdb, now=now_utc(), retention_days=30)

    assert deleted == {plain: 8, forged: 8, rowless: 8, elsewhere: 9, old: 9}
    assert {s.id for s in runs(fdb, wid).stream()} == {recent, plain}
    assert [s.id for s in runs(fdb, other_wid).stream()] == []
    assert len(all_paths(fdb, recent)) == 8
    # The workspace's other documents (its subscriptions, its owner key) are not the purge's.
    assert purge.purge_expired(fdb, now=now_utc(), retention_days=30) == {}
