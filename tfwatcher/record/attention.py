"""Freshness follows attention: the writer's cadence while someone watches, and while nobody does.

A dashboard showing a session announces itself in `sessions/{sid}/presence/now` ({until, at},
docs/schema.md "Presence"; the security rules bound the lease and how often it is renewed).
The writer's thread listens to that one document (one extra listener: a read per renewal,
two a minute per watching page). While a lease is in force, or for the first
`presence_lease_seconds` of a run (someone scanning the QR code), rounds come every `interval`
(1 s) with the session heartbeat every `heartbeat` (30 s): 1-second points. Otherwise one
round every `unwatched_every` seconds (contract `attention.unwatched_round_seconds`, 300)
carries everything, the open chunks grow toward Firestore's document limit instead of closing
at CHUNK_POINTS, and the heartbeat comes at the same slow cadence. The session document
declares the heartbeat in force (`heartbeat_every`), so readers judge "stalled" against it.

What never waits for the slow cadence: status changes (finished, crashed, stopped, the first
NaN: urgent session updates), the owner's Stop (its own listener), a flush, the end of a run,
and a backlog past half the memory bound. A viewer's arrival wakes the thread, and that round
sends everything pending at once.

`Attention` is plain state guarded by the writer's lock (`Buffer.lock`); it calls nothing.
The listener's callback runs on the Firestore client's thread and only calls
`Writer._presence_seen`, which takes that lock briefly and wakes the writer's thread.
"""

from __future__ import annotations

from tfwatcher.base.contract import ATTENTION, DOCUMENTS, doc_path

LEASE = float(ATTENTION["presence_lease_seconds"])
MAX_LEASE = float(ATTENTION["presence_max_lease_seconds"])
UNWATCHED_EVERY = float(ATTENTION["unwatched_round_seconds"])
# Unwatched, a wait is cut into slices this long to look at the backlog (memory bound).
BACKLOG_CHECK_SECONDS = 10.0


class Attention:
    """Whether someone watches, by the newest presence lease (see the module docstring)."""

    __slots__ = ("unwatched_every", "watched_until", "watched", "arrived", "redeclare")
    start_grace = LEASE  # a run's start counts as watched this long (tests lower it)

    def __init__(self, unwatched_every: float | None = UNWATCHED_EVERY):
        self.unwatched_every = unwatched_every  # None: always the watched cadence
        # Monotonic time the newest lease lapses; None until a run starts: a writer with no
        # run yet keeps the watched cadence and chunk sizes (what it sends is the session's own).
        self.watched_until: float | None = None
        self.watched = True                     # the cadence in force, as declared
        self.arrived = False                    # a viewer arrived since the last round
        self.redeclare = False                  # a run started: declare the cadence again

    @property
    def enabled(self) -> bool:
        return self.unwatched_every is not None

    def run_started_locked(self, now: float) -> None:
        """A run starts (after its start fields were buffered): watched for a lease's length
        (its link was just shown), and the cadence in force declared again after them."""
        self.watched_until = max(self._until(), now + self.start_grace)
        self.redeclare = True

    def seen_locked(self, now: float, remaining: float) -> bool:
        """A presence lease with `remaining` seconds to go was read; True if it is an arrival
        (nobody was watching)."""
        remaining = min(MAX_LEASE, remaining)
        if remaining <= 0:
            return False
        arrival = not self.is_watched(now)
        self.watched_until = max(self._until(), now + remaining)
        if arrival:
            self.arrived = True
        return arrival

    def _until(self) -> float:
        return float("-inf") if self.watched_until is None else self.watched_until

    def is_watched(self, now: float) -> bool:
        return self.unwatched_every is None or self.watched_until is None or now < self.watched_until

    def settle_locked(self, now: float) -> tuple[bool, bool]:
        """At a round: (watched, changed since the last round); clears `arrived`."""
        watched = self.is_watched(now)
        changed = watched != self.watched or self.redeclare
        self.watched, self.arrived, self.redeclare = watched, False, False
        return watched, changed

    def period(self, interval: float) -> float:
        """Seconds between scheduled rounds in the cadence in force."""
        if self.watched or self.unwatched_every is None:
            return interval
        return max(interval, self.unwatched_every)

    def heartbeat(self, heartbeat: float) -> float:
        """The heartbeat period in the cadence in force (what the session declares)."""
        if self.watched or self.unwatched_every is None:
            return heartbeat
        return max(heartbeat, self.unwatched_every)


def presence_path(sid: str) -> str:
    return doc_path(sid, "presence", DOCUMENTS["presence"])


def lease_remaining(data: dict | None, read_time) -> float:
    """Seconds a presence document's lease has to go at `read_time` (server times both, so
    the local clock does not matter); 0 for a missing or malformed document."""
    if not isinstance(data, dict):
        return 0.0
    until = data.get("until")
    try:
        return float((until - read_time).total_seconds())
    except Exception:
        return 0.0


def presence_listener(sid: str, seen):
    """A listener (started by the writer thread with its client) on the session's presence
    document; `seen(remaining_seconds)` is called for every snapshot of it."""
    def listen(client):
        def on_snapshot(snapshots, _changes, read_time):
            for snap in snapshots:
                seen(lease_remaining(snap.to_dict() if snap.exists else None, read_time))

        return client.document(presence_path(sid)).on_snapshot(on_snapshot).unsubscribe
    return listen
