"""The stall sweep against the Firestore emulator."""

from __future__ import annotations

import datetime as dt

import flask
import pytest

from tfw_functions import config, sweep

from .support import new_sid, now_utc

MIN = dt.timedelta(minutes=1)


def put(db, status, heartbeat_age, **extra):
    sid = new_sid()
    data = {"schema": 1, "status": status, "created": now_utc() - 60 * MIN, "ended": None}
    if heartbeat_age is not None:
        data["heartbeat"] = now_utc() - heartbeat_age
    data.update(extra)
    db.collection("sessions").document(sid).set(data)
    return sid


def status_of(db, sid):
    return db.collection("sessions").document(sid).get().to_dict()["status"]


@pytest.fixture
def seeded(fdb):
    return {
        "old_running": put(fdb, "running", 20 * MIN),
        "just_over": put(fdb, "running", 10 * MIN + dt.timedelta(seconds=20)),
        "fresh_running": put(fdb, "running", 1 * MIN),
        "almost": put(fdb, "running", 9 * MIN),
        "old_finished": put(fdb, "finished", 20 * MIN),
        "old_crashed": put(fdb, "crashed", 20 * MIN),
        "old_stopped": put(fdb, "stopped", 20 * MIN),
        "no_heartbeat": put(fdb, "running", None),
    }


def test_sweep_marks_only_quiet_running_sessions(fdb, seeded):
    marked = sweep.sweep_stalled(fdb, now=now_utc(), stall_minutes=10)
    assert sorted(marked) == sorted([seeded["old_running"], seeded["just_over"]])
    expected = {name: "stalled" if name in ("old_running", "just_over") else
                name.split("_")[1] if name.startswith("old_") else "running"
                for name in seeded}
    assert {name: status_of(fdb, sid) for name, sid in seeded.items()} == expected
    doc = fdb.collection("sessions").document(seeded["old_running"]).get().to_dict()
    assert doc["ended"] == doc["heartbeat"]  # ended: the last moment it was known alive
    # A second sweep finds nothing left to do.
    assert sweep.sweep_stalled(fdb, now=now_utc(), stall_minutes=10) == []


def test_threshold_is_configurable(fdb, seeded):
    assert sorted(sweep.sweep_stalled(fdb, now=now_utc(), stall_minutes=15)) == [
        seeded["old_running"]]
    assert sorted(sweep.sweep_stalled(fdb, now=now_utc(), stall_minutes=5)) == sorted(
        [seeded["just_over"], seeded["almost"]])
    assert status_of(fdb, seeded["fresh_running"]) == "running"


def test_session_that_heartbeats_after_the_query_is_not_marked(fdb):
    beats = put(fdb, "running", 30 * MIN)
    finishes = put(fdb, "running", 30 * MIN)
    stays = put(fdb, "running", 30 * MIN)
    cutoff = sweep.stall_cutoff(now_utc(), 10)
    found = sweep.find_stalled(fdb, cutoff)
    assert sorted(s.id for s in found) == sorted([beats, finishes, stays])
    # Between the query and the update, one writer heartbeats and another finishes.
    fdb.collection("sessions").document(beats).update({"heartbeat": now_utc()})
    fdb.collection("sessions").document(finishes).update({"status": "finished", "ended": now_utc()})
    assert sweep.mark_all(fdb, found, cutoff) == [stays]
    assert status_of(fdb, beats) == "running"
    assert status_of(fdb, finishes) == "finished"
    assert status_of(fdb, stays) == "stalled"


def test_deleted_in_between_is_skipped(fdb):
    sid = put(fdb, "running", 30 * MIN)
    cutoff = sweep.stall_cutoff(now_utc(), 10)
    found = sweep.find_stalled(fdb, cutoff)
    fdb.collection("sessions").document(sid).delete()
    assert sweep.mark_all(fdb, found, cutoff) == []
    assert not fdb.collection("sessions").document(sid).get().exists


def test_limit_per_run(fdb):
    sids = {put(fdb, "running", 30 * MIN) for _ in range(5)}
    first = sweep.sweep_stalled(fdb, now=now_utc(), limit=3)
    second = sweep.sweep_stalled(fdb, now=now_utc(), limit=3)
    assert len(first) == 3 and len(second) == 2
    assert set(first) | set(second) == sids


@pytest.mark.parametrize("value, expected", [(None, 10), ("", 10), ("15", 15), (2.5, 2.5)])
def test_stall_minutes_config(value, expected):
    assert config.stall_minutes(value) == expected


@pytest.mark.parametrize("value", [0, -1, "abc", True, float("nan"), float("inf")])
def test_stall_minutes_rejects_bad_values(value):
    with pytest.raises(ValueError, match="TFWATCHER_STALL_MINUTES"):
        config.stall_minutes(value)


def test_scheduled_trigger_reads_the_threshold(fdb, seeded, functions_main, monkeypatch):
    monkeypatch.setenv("TFWATCHER_STALL_MINUTES", "15")
    app = flask.Flask(__name__)
    when = now_utc().strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    with app.test_request_context(headers={"X-CloudScheduler-ScheduleTime": when,
                                           "X-CloudScheduler-JobName": "sweep"}):
        response = functions_main.sweepstalled(flask.request)
    assert response.status_code == 200
    assert status_of(fdb, seeded["old_running"]) == "stalled"
    assert status_of(fdb, seeded["just_over"]) == "running"  # 10.3 min < 15


def test_scheduled_trigger_default_threshold(fdb, seeded, functions_main, monkeypatch):
    monkeypatch.delenv("TFWATCHER_STALL_MINUTES", raising=False)
    from firebase_functions import scheduler_fn

    handler = functions_main.sweepstalled.__wrapped__
    marked = handler(scheduler_fn.ScheduledEvent(job_name=None, schedule_time=now_utc()))
    assert sorted(marked) == sorted([seeded["old_running"], seeded["just_over"]])
