"""Delete sessions whose last activity is older than the retention period.

A session's last activity is the latest of `created`, `heartbeat` and `ended`, so a long run
that started before the cutoff but is still heartbeating is kept. The query reads sessions
by `created < cutoff` (a single-field range, served by Firestore's automatic index), then
each expired session is removed with everything under it (epochs, batches, private,
control, subscribers, notified) by `Client.recursive_delete`. A session that joined a
workspace also has a row in that workspace's run index, `workspaces/{wid}/runs/{sid}`; the
session document never names the workspace (a share link must not reveal it), its
server-only `private/owner` does (`workspace`), so that is read first and the row deleted
before the session (a purge interrupted between the two leaves no row without its session).
"""

from __future__ import annotations

import datetime as dt

from google.api_core.exceptions import NotFound
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from . import audience, config, contract

DEFAULT_LIMIT = 200  # sessions deleted per run; the rest go on the next run


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def purge_cutoff(now: dt.datetime, retention_days: float) -> dt.datetime:
    return now - dt.timedelta(days=retention_days)


def last_activity(data: dict | None) -> dt.datetime | None:
    stamps = [v for k in ("created", "heartbeat", "ended")
              if isinstance(v := (data or {}).get(k), dt.datetime)]
    return max(stamps) if stamps else None


def is_expired(data: dict | None, cutoff: dt.datetime) -> bool:
    last = last_activity(data)
    return last is not None and last < cutoff


def find_expired(db: firestore.Client, cutoff: dt.datetime,
                 limit: int = DEFAULT_LIMIT) -> list[firestore.DocumentSnapshot]:
    """Up to `limit` sessions created before `cutoff` and inactive since."""
    query = (contract.sessions(db)
             .where(filter=FieldFilter("created", "<", cutoff))
             .order_by("created"))
    found = []
    for snap in query.stream():
        if is_expired(snap.to_dict(), cutoff):
            found.append(snap)
            if len(found) >= limit:
                break
    return found


def purge_workspace_row(db: firestore.Client, sid: str) -> int:
    """Delete the session's row in its workspace's run index, if it has one; returns the
    documents deleted (0 or 1). One read (private/owner), and one delete where there is a
    workspace: the delete requires the row to exist, so a missing row costs no extra read."""
    wid = audience.workspace_of(db, sid)
    if wid is None:
        return 0
    try:
        contract.workspace_subcollection(db, wid, "runs").document(sid).delete(
            option=db.write_option(exists=True))
    except NotFound:
        return 0  # never written, or deleted already
    return 1


def purge_session(db: firestore.Client, sid: str) -> int:
    """Delete `sessions/{sid}` with all its subcollections, and its workspace row; returns the
    documents deleted."""
    row = purge_workspace_row(db, sid)
    return row + db.recursive_delete(contract.sessions(db).document(sid))


def purge_expired(db: firestore.Client, now: dt.datetime | None = None,
                  retention_days: float = config.DEFAULT_RETENTION_DAYS,
                  limit: int = DEFAULT_LIMIT) -> dict[str, int]:
    """Delete expired sessions; returns `{sid: documents deleted}`."""
    cutoff = purge_cutoff(now or now_utc(), retention_days)
    return {snap.id: purge_session(db, snap.id) for snap in find_expired(db, cutoff, limit)}
