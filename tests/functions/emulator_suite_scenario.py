"""The notify trigger end to end under firebase-tools' emulator suite (emulator_suite.sh).

Run by `firebase emulators:exec` (FIRESTORE_EMULATOR_HOST set): real status changes of session
documents fire the deployed-style `notifysession` (the functions emulator runs functions/main.py
in a Python 3.12 venv), which must leave the expected `notified/*` records. FCM cannot be
reached here and the emulator has no credentials for it, so the send really fails: the marker
must say `retry` (nobody reached, both subscribers pending), not burn the notification. A
session without subscribers gets `sent` with 0 tokens; a heartbeat gets no marker at all.
Nothing is mocked.
"""
import datetime as dt
import hashlib
import json
import os
import sys
import time

from google.cloud import firestore

db = firestore.Client(project=os.environ.get("GCLOUD_PROJECT", "demo-tfwatcher"))
now = dt.datetime.now(dt.timezone.utc)


def session(sid, tokens=(), owner=None):
    ref = db.collection("sessions").document(sid)
    ref.set({"schema": 1, "status": "running", "run": 1, "name": "suite", "created": now,
             "heartbeat": now, "plan": {"epochs": 3}, "progress": {"epoch": 2}, "nan": False})
    for token in tokens:
        ref.collection("subscribers").document(hashlib.sha256(token.encode()).hexdigest()).set(
            {"token": token, "kind": "fcm", "created": now})
    if owner:
        doc_id = "o-" + hashlib.sha256(f"owner-key:{owner}".encode()).hexdigest()
        ref.collection("subscribers").document(doc_id).set({"token": owner, "kind": "fcm", "created": now})
    return ref


def wait_marker(ref, event, states, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        snap = ref.collection("notified").document(event).get()
        if snap.exists and (snap.to_dict() or {}).get("state") in states:
            return snap.to_dict()
        time.sleep(0.5)
    sys.exit(f"FAIL: no notified/{event} in state {sorted(states)} after {timeout} s")


a = session("suite-with-subs", tokens=["viewer-token:APA91b" + "x" * 40],
            owner="owner-token:APA91b" + "y" * 40)
b = session("suite-no-subs")
c = session("suite-heartbeat")
t0 = time.time()
a.update({"status": "finished", "ended": firestore.SERVER_TIMESTAMP})
b.update({"status": "crashed", "error": {"type": "ValueError", "message": "x"}})
c.update({"heartbeat": firestore.SERVER_TIMESTAMP})
with_subs = wait_marker(a, "finished", {"retry", "sent"})
no_subs = wait_marker(b, "crashed", {"sent"})
time.sleep(3)
heartbeat_markers = [s.id for s in c.collection("notified").stream()]
subscribers_left = len(list(a.collection("subscribers").stream()))
print(json.dumps({"seconds": round(time.time() - t0, 1), "with_subscribers": with_subs,
                  "no_subscribers": no_subs, "heartbeat_markers": heartbeat_markers},
                 default=lambda o: o.isoformat() if isinstance(o, dt.datetime) else str(o), indent=1))
checks = {
    "with subscribers: state retry (the failed send is not burnt)": with_subs.get("state") == "retry",
    "with subscribers: nobody delivered, both pending": with_subs.get("delivered") == [] and with_subs.get("pending") == 2,
    "with subscribers: the error is recorded": bool(with_subs.get("error")),
    "with subscribers: attempt 1": with_subs.get("attempts") == 1,
    "with subscribers: both subscriptions kept": subscribers_left == 2,
    "no subscribers: sent, 0 tokens": no_subs.get("state") == "sent" and no_subs.get("tokens") == 0,
    "heartbeat: no marker": heartbeat_markers == [],
}
for name, ok in checks.items():
    print(("ok   " if ok else "FAIL ") + name)
passed = sum(checks.values())
print(f"{passed} passed, {len(checks) - passed} failed")
sys.exit(0 if passed == len(checks) else 1)
