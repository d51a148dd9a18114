"""The notify trigger end to end under firebase-tools' emulator suite (emulator_suite.sh).

Run by `firebase emulators:exec` (FIRESTORE_EMULATOR_HOST set) in the suite's temporary copy of
the project: real status changes of session documents, written with server credentials (so the
security rules play no part), fire the deployed-style `notifysession` (the functions emulator
runs functions/main.py in a Python 3.12 venv), which must leave the expected `notified/*`
records. FCM cannot be reached here and the emulator has no credentials for it, so the send
really fails: the marker must say `retry` (nobody reached, every subscription pending), not
burn the notification; its `tokens` counts the distinct devices the push went to, `pending` the
subscriptions. So the records show who was notified:

- a session with an owner and a viewer subscription that finishes: 2 tokens, 2 pending;
- a session without subscribers that crashes: `sent` with 0 tokens; a heartbeat: no marker;
- a session of a workspace, without subscribers of its own, that finishes: the workspace's
  viewer and owner are notified (2 tokens, 2 pending), and their subscriptions are kept;
- a device subscribed to a session and to its workspace (the same token twice) and a second
  device of that workspace: 2 tokens (one push per device), 3 subscriptions pending.
Nothing is mocked.
"""
import datetime as dt
import hashlib
import json
import os
import secrets
import sys
import time
from pathlib import Path

from google.cloud import firestore

# The copy's functions/ (beside this file in the suite's temporary directory): its own contract.
sys.path.insert(0, str(Path(__file__).resolve().parent / "functions"))
from tfw_functions import contract  # noqa: E402

db = firestore.Client(project=os.environ.get("GCLOUD_PROJECT", "demo-tfwatcher"))
now = dt.datetime.now(dt.timezone.utc)


def viewer_id(token):
    return hashlib.sha256(token.encode()).hexdigest()


def owner_id(key, token):
    return "o-" + hashlib.sha256(f"{key}:{token}".encode()).hexdigest()


def subscribe(col, doc_id, token):
    col.document(doc_id).set({"token": token, "kind": "fcm", "created": now})


def new_workspace():
    body = "".join(secrets.choice(contract.SESSION_ID["alphabet"]) for _ in range(contract.SESSION_ID["length"]))
    return contract.WORKSPACE_ID["prefix"] + body


def session(sid, tokens=(), owner=None, workspace=None):
    ref = contract.session(db, sid)
    ref.set({"schema": 1, "status": "running", "run": 1, "name": "suite", "created": now,
             "heartbeat": now, "plan": {"epochs": 3}, "progress": {"epoch": 2}, "nan": False})
    subs = contract.subcollection(db, sid, "subscribers")
    for token in tokens:
        subscribe(subs, viewer_id(token), token)
    if owner:
        subscribe(subs, owner_id("owner-key", owner), owner)
    if workspace:  # what the package writes: the link lives in the server-only private/owner
        contract.subcollection(db, sid, "private").document(contract.DOCUMENTS["owner"]).set(
            {"key": "owner-key", "workspace": workspace})
    return ref


def workspace_subscribers(wid):
    return contract.workspace_subcollection(db, wid, "subscribers")


def wait_marker(ref, event, states, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        snap = ref.collection(contract.COLLECTIONS["notified"]).document(event).get()
        if snap.exists and (snap.to_dict() or {}).get("state") in states:
            return snap.to_dict()
        time.sleep(0.5)
    sys.exit(f"FAIL: no notified/{event} in state {sorted(states)} after {timeout} s")


def count(col):
    return len(list(col.stream()))


token = "APA91b" + "x" * 40  # shaped like a registration token
a = session("suite-with-subs", tokens=["viewer-token:" + token], owner="owner-token:" + token)
b = session("suite-no-subs")
c = session("suite-heartbeat")
w1 = new_workspace()
subscribe(workspace_subscribers(w1), viewer_id("ws-viewer:" + token), "ws-viewer:" + token)
subscribe(workspace_subscribers(w1), owner_id("ws-owner-key", "ws-owner:" + token), "ws-owner:" + token)
d = session("suite-workspace-run", workspace=w1)
w2 = new_workspace()
both = "both:" + token
subscribe(workspace_subscribers(w2), viewer_id(both), both)
subscribe(workspace_subscribers(w2), viewer_id("ws-only:" + token), "ws-only:" + token)
e = session("suite-workspace-dedupe", tokens=[both], workspace=w2)

t0 = time.time()
a.update({"status": "finished", "ended": firestore.SERVER_TIMESTAMP})
b.update({"status": "crashed", "error": {"type": "ValueError", "message": "x"}})
c.update({"heartbeat": firestore.SERVER_TIMESTAMP})
d.update({"status": "finished", "ended": firestore.SERVER_TIMESTAMP})
e.update({"status": "crashed", "error": {"type": "OSError", "message": "x"}})
with_subs = wait_marker(a, "finished", {"retry", "sent"})
no_subs = wait_marker(b, "crashed", {"sent"})
ws_run = wait_marker(d, "finished", {"retry", "sent"})
ws_dedupe = wait_marker(e, "crashed", {"retry", "sent"})
time.sleep(3)
heartbeat_markers = [s.id for s in c.collection(contract.COLLECTIONS["notified"]).stream()]
subscribers_left = count(a.collection(contract.COLLECTIONS["subscribers"]))
print(json.dumps({"seconds": round(time.time() - t0, 1), "with_subscribers": with_subs,
                  "no_subscribers": no_subs, "workspace_run": ws_run, "workspace_dedupe": ws_dedupe,
                  "heartbeat_markers": heartbeat_markers},
                 default=lambda o: o.isoformat() if isinstance(o, dt.datetime) else str(o), indent=1))
checks = {
    "with subscribers: state retry (the failed send is not burnt)": with_subs.get("state") == "retry",
    "with subscribers: nobody delivered, both pending": with_subs.get("delivered") == [] and with_subs.get("pending") == 2,
    "with subscribers: the error is recorded": bool(with_subs.get("error")),
    "with subscribers: attempt 1": with_subs.get("attempts") == 1,
    "with subscribers: both subscriptions kept": subscribers_left == 2,
    "no subscribers: sent, 0 tokens": no_subs.get("state") == "sent" and no_subs.get("tokens") == 0,
    "heartbeat: no marker": heartbeat_markers == [],
    "workspace run: its workspace's viewer and owner notified (2 tokens, 2 pending, retry)":
        ws_run.get("state") == "retry" and ws_run.get("tokens") == 2 and ws_run.get("pending") == 2
        and ws_run.get("delivered") == [] and ws_run.get("attempts") == 1,
    "workspace run: the workspace's subscriptions kept": count(workspace_subscribers(w1)) == 2,
    "workspace run: the marker does not name the workspace": w1 not in json.dumps(ws_run, default=str),
    "dedupe: one push per device (2 tokens for 3 subscriptions)":
        ws_dedupe.get("state") == "retry" and ws_dedupe.get("tokens") == 2 and ws_dedupe.get("pending") == 3,
}
for name, ok in checks.items():
    print(("ok   " if ok else "FAIL ") + name)
passed = sum(checks.values())
print(f"{passed} passed, {len(checks) - passed} failed")
sys.exit(0 if passed == len(checks) else 1)
