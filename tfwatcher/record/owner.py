"""The owner's side of a session: the owner key, the listener for the owner's Stop, and where
a later run's owner link is shown.

Every run gets a new key (a link seen during an earlier run, in a notebook saved mid-run or a
screen share, cannot stop this one). The dashboard's Stop writes `control/stop-{run}` with the
key; the security rules accept it only with the key of `private/owner`, and the session
checks both again before it stops.
"""

from __future__ import annotations

import hashlib
import secrets
import sys

from tfwatcher.base import display
from tfwatcher.base.contract import COLLECTIONS, DOCUMENTS, doc_path, stop_id

KEY_BYTES = 24  # 192 random bits, URL-safe


def new_owner_key() -> str:
    return secrets.token_urlsafe(KEY_BYTES)


def stop_listener(session, run: int):
    """A listener (started by the writer thread with its client) for run `run`'s stop
    request: a request for an earlier run, or without this run's key, is worth nothing."""
    def listen(client):
        def on_change(snapshots, _changes, _read_time):
            for snap in snapshots:
                data = (snap.to_dict() or {}) if snap.exists else {}
                if (data.get("run") == run and session.run == run and session.status == "running"
                        and proves_owner(client, session, data.get("key"))):
                    session.stop_requested = True

        ref = client.document(doc_path(session.id, "control", stop_id(run)))
        return ref.on_snapshot(on_change).unsubscribe
    return listen


def proves_owner(client, session, key) -> bool:
    """Whether `key` may stop this session's current run: its owner key, the owner key of its
    workspace, or the secret of a device enrolled as an owner (of the session, or of its
    workspace: docs/security.md). The rules checked it already; this is the second check."""
    if not isinstance(key, str) or not key or len(key) > 256:
        return False
    if key == session.owner_key:
        return True
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
    try:
        if client.document(doc_path(session.id, "devices", digest)).get().exists:
            return True
        wid = getattr(session, "workspace", None)
        if wid:
            ws = f"{COLLECTIONS['workspaces']}/{wid}"
            owner = client.document(f"{ws}/{COLLECTIONS['private']}/{DOCUMENTS['owner']}").get()
            if owner.exists and (owner.to_dict() or {}).get("key") == key:
                return True
            if client.document(f"{ws}/{COLLECTIONS['devices']}/{digest}").get().exists:
                return True
    except Exception:  # unreadable now: the run goes on; the owner may press Stop again
        return False
    return False


def show_run_link(session, run: int) -> None:
    """Show run `run`'s owner link where the first one went: in a notebook, the display that
    `announce` made (updated in place, concealed again when the run ends); elsewhere, one line
    on stderr. Nothing when the session is quiet."""
    if display.reveal(session):  # never raises; False when there is no display to update
        return
    if not session.quiet:
        print(f"tfwatcher: run {run} of session {session.id}; your link for this run (can stop "
              f"it; keep it private): {session.owner_url}", file=sys.stderr)
