"""Mark `running` sessions whose writer went quiet as `stalled`.

The writer refreshes `heartbeat` (server time) every few seconds while training runs. A
session still `running` whose heartbeat is older than the threshold lost its writer (the
notebook kernel died, the machine slept, the network went away): the sweep sets
`status: stalled` and `ended` (the last heartbeat, the last moment it was known alive).

Each update carries a precondition on the document's update time as read by the query, so a
session that heartbeated or finished in between is left alone (the next sweep looks again).
"""

from __future__ import annotations

import datetime as dt
from typing import Iterable

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from . import config, contract

DEFAULT_LIMIT = 500  # sessions per sweep; the rest wait for the next run


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def stall_cutoff(now: dt.datetime, stall_minutes: float) -> dt.datetime:
    return now - dt.timedelta(minutes=stall_minutes)


def stalled_query(db: firestore.Client, cutoff: dt.datetime, limit: int = DEFAULT_LIMIT):
    """`status == running and heartbeat < cutoff` (needs the composite index status+heartbeat)."""
    return (contract.sessions(db)
            .where(filter=FieldFilter("status", "==", "running"))
            .where(filter=FieldFilter("heartbeat", "<", cutoff))
            .limit(limit))


def find_stalled(db: firestore.Client, cutoff: dt.datetime,
                 limit: int = DEFAULT_LIMIT) -> list[firestore.DocumentSnapshot]:
    return list(stalled_query(db, cutoff, limit).stream())


def is_stalled(data: dict | None, cutoff: dt.datetime) -> bool:
    if not data or data.get("status") != "running":
        return False
    heartbeat = data.get("heartbeat")
    return isinstance(heartbeat, dt.datetime) and heartbeat < cutoff


def mark_stalled(db: firestore.Client, snap: firestore.DocumentSnapshot,
                 cutoff: dt.datetime) -> bool:
    """Set `stalled` if the document is still exactly as `snap` saw it; True if it was set."""
    data = snap.to_dict()
    if not is_stalled(data, cutoff):
        return False
    try:
        snap.reference.update(
            {"status": "stalled", "ended": data["heartbeat"]},
            option=db.write_option(last_update_time=snap.update_time),
        )
    except (gexc.FailedPrecondition, gexc.NotFound):
        return False  # it changed (heartbeat, finish) or vanished since we read it
    return True


def mark_all(db: firestore.Client, snaps: Iterable[firestore.DocumentSnapshot],
             cutoff: dt.datetime) -> list[str]:
    return [snap.id for snap in snaps if mark_stalled(db, snap, cutoff)]


def sweep_stalled(db: firestore.Client, now: dt.datetime | None = None,
                  stall_minutes: float = config.DEFAULT_STALL_MINUTES,
                  limit: int = DEFAULT_LIMIT) -> list[str]:
    """Mark stalled sessions; returns their IDs."""
    cutoff = stall_cutoff(now or now_utc(), stall_minutes)
    return mark_all(db, find_stalled(db, cutoff, limit), cutoff)
