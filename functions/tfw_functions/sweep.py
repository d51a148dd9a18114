"""Mark `running` sessions whose writer went quiet as `stalled`.

The writer refreshes `heartbeat` (server time) at the period it declares in the session
document (contract.HEARTBEAT_FIELD, `heartbeat_every`: seconds while someone watches, minutes
while nobody does). A session still `running` whose heartbeat is older than its threshold lost
its writer (the notebook kernel died, the machine slept, the network went away): the sweep sets
`status: stalled` and `ended` (the last heartbeat, the last moment it was known alive).

The threshold of a session is the larger of the configured stall minutes and
contract.MISSED_HEARTBEATS declared periods, so a slow declared cadence is never taken for a
dead writer. The query finds the candidates (heartbeat older than the configured minutes, the
smallest threshold); each one is then judged against its own threshold. Each update carries a
precondition on the document's update time as read by the query, so a session that heartbeated,
declared another period or finished in between is left alone (the next sweep looks again).
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
    """The candidates' cutoff: a heartbeat older than this may be stalled."""
    return now - dt.timedelta(minutes=stall_minutes)


def stalled_query(db: firestore.Client, cutoff: dt.datetime, limit: int = DEFAULT_LIMIT):
    """`status == running and heartbeat < cutoff` (needs the composite index status+heartbeat)."""
    return (contract.sessions(db)
            .where(filter=FieldFilter("status", "==", "running"))
            .where(filter=FieldFilter("heartbeat", "<", cutoff))
            .limit(limit))


def find_stalled(db: firestore.Client, cutoff: dt.datetime,
                 limit: int = DEFAULT_LIMIT) -> list[firestore.DocumentSnapshot]:
    """The candidates: running sessions whose heartbeat is older than `cutoff`."""
    return list(stalled_query(db, cutoff, limit).stream())


def is_stalled(data: dict | None, now: dt.datetime, stall_minutes: float) -> bool:
    """Whether the session document `data` is running with a heartbeat older than its
    threshold: max(`stall_minutes`, MISSED_HEARTBEATS × its declared period)."""
    if not data or data.get("status") != "running":
        return False
    heartbeat = data.get("heartbeat")
    if not isinstance(heartbeat, dt.datetime):
        return False
    # Compared in seconds: a huge declared period must not overflow a datetime.
    silence = (now - heartbeat).total_seconds()
    return silence > contract.stall_after(data, stall_minutes * 60)


def mark_stalled(db: firestore.Client, snap: firestore.DocumentSnapshot, now: dt.datetime,
                 stall_minutes: float = config.DEFAULT_STALL_MINUTES) -> bool:
    """Set `stalled` if the document is stalled and still exactly as `snap` saw it; True if
    it was set."""
    data = snap.to_dict()
    if not is_stalled(data, now, stall_minutes):
        return False
    try:
        snap.reference.update(
            {"status": "stalled", "ended": data["heartbeat"]},
            option=db.write_option(last_update_time=snap.update_time),
        )
    except (gexc.FailedPrecondition, gexc.NotFound):
        return False  # it changed (heartbeat, declared period, finish) or vanished since we read it
    return True


def mark_all(db: firestore.Client, snaps: Iterable[firestore.DocumentSnapshot], now: dt.datetime,
             stall_minutes: float = config.DEFAULT_STALL_MINUTES) -> list[str]:
    """Marks each candidate that is stalled by its own threshold; returns their IDs."""
    return [snap.id for snap in snaps if mark_stalled(db, snap, now, stall_minutes)]


def sweep_stalled(db: firestore.Client, now: dt.datetime | None = None,
                  stall_minutes: float = config.DEFAULT_STALL_MINUTES,
                  limit: int = DEFAULT_LIMIT) -> list[str]:
    """Mark stalled sessions; returns their IDs."""
    now = now or now_utc()
    return mark_all(db, find_stalled(db, stall_cutoff(now, stall_minutes), limit), now,
                    stall_minutes)
