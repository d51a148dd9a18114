"""The stall sweep against the Firestore emulator."""

from __future__ import annotations

import datetime as dt

import flask
import pytest

from tfw_functions import config, contract, sweep

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
    slows = put(fdb, "running", 12 * MIN)
    stays = put(fdb, "running", 30 * MIN)
    now = now_utc()
    found = sweep.find_stalled(fdb, sweep.stall_cutoff(now, 10))
    assert sorted(s.id for s in found) == sorted([beats, finishes, slows, stays])
    # Between the query and the update, one writer heartbeats, another finishes, a third
    # declares the slow cadence (12 min < 3 x 5 min): the document each was judged by is gone.
    fdb.collection("sessions").document(beats).update({"heartbeat": now_utc()})
    fdb.collection("sessions").document(finishes).update({"status": "finished", "ended": now_utc()})
    fdb.collection("sessions").document(slows).update({contract.HEARTBEAT_FIELD: 300})
    assert sweep.mark_all(fdb, found, now, 10) == [stays]
    assert status_of(fdb, beats) == "running"
    assert status_of(fdb, finishes) == "finished"
    assert status_of(fdb, slows) == "running"
    assert status_of(fdb, stays) == "stalled"
    # The next sweep judges the slow one by its declared period: not stalled yet.
    assert sweep.sweep_stalled(fdb, now=now_utc(), stall_minutes=10) == []


def test_deleted_in_between_is_skipped(fdb):
    sid = put(fdb, "running", 30 * MIN)
    now = now_utc()
    found = sweep.find_stalled(fdb, sweep.stall_cutoff(now, 10))
    fdb.collection("sessions").document(sid).delete()
    assert sweep.mark_all(fdb, found, now, 10) == []
    assert not fdb.collection("sessions").document(sid).get().exists


def declaring(period):
    """The extra fields of a session that declares a heartbeat period of `period` seconds."""
    return {contract.HEARTBEAT_FIELD: period}


def test_a_declared_slow_cadence_is_not_taken_for_a_dead_writer(fdb):
    # Issue 18: unwatched, the writer heartbeats every 5 minutes and says so; stalled means
    # MISSED_HEARTBEATS (3) of those missed, i.e. 15 minutes, not the configured 10.
    assert contract.MISSED_HEARTBEATS * 300 == 15 * 60
    sids = {
        "slow_11": put(fdb, "running", 11 * MIN, **declaring(300)),
        "slow_14": put(fdb, "running", 14 * MIN + dt.timedelta(seconds=30), **declaring(300)),
        "slow_16": put(fdb, "running", 16 * MIN, **declaring(300)),
        "slow_float_16": put(fdb, "running", 16 * MIN, **declaring(300.0)),
        # 3 x 3 min = 9 min: the configured 10 minutes still win.
        "heartbeat_180_9.5": put(fdb, "running", 9.5 * MIN, **declaring(180)),
        "heartbeat_180_11": put(fdb, "running", 11 * MIN, **declaring(180)),
        # Watched (10 s): today's 10 minutes.
        "fast_11": put(fdb, "running", 11 * MIN, **declaring(10)),
        "fast_9": put(fdb, "running", 9 * MIN, **declaring(10)),
        # Without the field (documents of older writers): today's behaviour.
        "none_11": put(fdb, "running", 11 * MIN),
        "none_9": put(fdb, "running", 9 * MIN),
        # Ended sessions stay as they are, whatever they declared.
        "finished_slow_60": put(fdb, "finished", 60 * MIN, **declaring(300)),
    }
    marked = sweep.sweep_stalled(fdb, now=now_utc(), stall_minutes=10)
    expected = {"slow_16", "slow_float_16", "heartbeat_180_11", "fast_11", "none_11"}
    assert sorted(marked) == sorted(sids[name] for name in expected)
    assert {name: status_of(fdb, sid) for name, sid in sids.items()} == {
        name: "stalled" if name in expected else "finished" if name.startswith("finished")
        else "running" for name in sids}


def test_the_configured_minutes_stay_a_floor(fdb):
    slow = put(fdb, "running", 16 * MIN, **declaring(300))
    # 20 configured minutes > 15 declared: the configured threshold wins.
    assert sweep.sweep_stalled(fdb, now=now_utc(), stall_minutes=20) == []
    assert sweep.sweep_stalled(fdb, now=now_utc(), stall_minutes=10) == [slow]


@pytest.mark.parametrize("value", ["300", True, False, 0, -300, None, [300], {"s": 300},
                                   float("nan"), float("inf"), float("-inf")])
def test_a_malformed_declared_period_counts_as_undeclared(fdb, value):
    # Not a positive finite number of seconds: the default heartbeat, so the configured 10 min.
    sid = put(fdb, "running", 11 * MIN, **declaring(value))
    assert sweep.sweep_stalled(fdb, now=now_utc(), stall_minutes=10) == [sid]


def test_a_huge_declared_period_does_not_break_the_sweep(fdb):
    huge = put(fdb, "running", 11 * MIN, **declaring(1e300))
    dead = put(fdb, "running", 11 * MIN)
    assert sweep.sweep_stalled(fdb, now=now_utc(), stall_minutes=10) == [dead]
    assert status_of(fdb, huge) == "running"


@pytest.mark.parametrize("declared, silence_min, stalled", [
    (None, 10.1, True), (None, 9.9, False), (300, 14.9, False), (300, 15.1, True),
    (600, 29.9, False), (600, 30.1, True), (10, 10.1, True)])
def test_is_stalled_judges_each_document_by_its_declared_period(declared, silence_min, stalled):
    now = now_utc()
    data = {"status": "running", "heartbeat": now - silence_min * MIN}
    if declared is not None:
        data[contract.HEARTBEAT_FIELD] = declared
    assert sweep.is_stalled(data, now, 10) is stalled
    assert sweep.is_stalled({**data, "status": "finished"}, now, 10) is False


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
