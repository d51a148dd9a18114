"""The session document declares its heartbeat period (#18 item 2, the writer's side), and
what matters is never slowed by a long period: status changes, the first NaN and the owner's
Stop reach Firestore at once."""

import math
import time

import tfwatcher
from tfwatcher.base.contract import HEARTBEAT_FIELD, HEARTBEAT_SECONDS, doc_path, session_path, stop_id
from tests.helpers import wait_until


def session_doc(db, sid):
    return db.document(session_path(sid)).get().to_dict() or {}


def test_the_declared_heartbeat_is_the_sessions_own(db):
    s = tfwatcher.Session(quiet=True, interval=0.1)
    s.start()
    wait_until(lambda: session_doc(db, s.id).get("status") == "running", 10)
    assert session_doc(db, s.id)[HEARTBEAT_FIELD] == float(HEARTBEAT_SECONDS) == 30.0
    slow = tfwatcher.Session(quiet=True, interval=0.1, heartbeat=180)
    slow.start()
    wait_until(lambda: session_doc(db, slow.id).get(HEARTBEAT_FIELD) == 180.0, 10)
    slow.writer.set_heartbeat(300)  # the period changes: declared at once
    wait_until(lambda: session_doc(db, slow.id).get(HEARTBEAT_FIELD) == 300.0, 5)
    s.finish(wait=10)
    slow.finish(wait=10)


def test_status_nan_and_stop_are_immediate_whatever_the_heartbeat(db):
    s = tfwatcher.Session(quiet=True, interval=1.0, heartbeat=180)
    s.start(mode="custom")
    wait_until(lambda: session_doc(db, s.id).get("status") == "running", 10)
    for i in range(1, 11):
        s.log_batch({"loss": 1.0 / i})
    t0 = time.monotonic()
    s.log_batch({"loss": math.nan})  # the first NaN: urgent
    wait_until(lambda: session_doc(db, s.id).get("nan") is True, 5, message="the NaN flag")
    nan_after = time.monotonic() - t0
    # The owner's Stop (as the dashboard writes it) is seen by the run at once.
    db.document(doc_path(s.id, "control", stop_id(s.run))).set(
        {"key": s.owner_key, "run": s.run, "at": time.time()})
    wait_until(lambda: s.stop_requested, 5, message="the owner's Stop")
    t0 = time.monotonic()
    s.finish("stopped")
    wait_until(lambda: session_doc(db, s.id).get("status") == "stopped", 5, message="the status")
    status_after = time.monotonic() - t0
    print(f"NaN flag after {nan_after:.2f} s, status after {status_after:.2f} s (heartbeat 180 s)")
    assert nan_after < 2.5 and status_after < 2.5
