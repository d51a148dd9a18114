"""The background writer: the only place that talks to Firestore while training runs.

Hooks on the training thread call `add_point`, `add_epoch` and `update_session`; each takes
the writer's lock, appends to an in-memory buffer and returns (a few microseconds). A thread
of the writer's own, started on first use, wakes every `interval` seconds, takes what is
pending and commits it in batched writes:

* batch points go into chunk documents (`batches/{kind}-{index}`); the open chunk is rewritten
  whole, so a retry or a repeat is harmless and batch logging costs at most one write per
  `interval`, whatever the batch rate;
* each epoch is one document with a deterministic ID, sent as soon as it is logged, and a row
  of the epoch table (`tables/epochs-{p}`, rewritten at most once a second);
* per kind, multi-resolution summaries of the batch points (`summaries/`, tfwatcher.record.summaries)
  go out at most every 10 s while points arrive, and at every flush and at the end;
* the session document is updated on status changes and every `heartbeat` seconds.

Nothing taken for a send is ever dropped: whatever fails (creating the client, encoding a
document, a commit, a retry) puts every write that was not committed back in the queue.
Transient errors are retried with capped exponential backoff and jitter. A permanent error
(no credentials, no permission, no database: see `tfwatcher.base.access`) is one message that
names the fix; from then on everything held, and everything logged later, is appended to a
spool file (0600, `tfwatcher sync` uploads it once access is fixed). The writer never raises
into the caller.

Lifetime: the thread starts with the first document, and ends (closing its Firestore client
and the listener it started) once the session's run has ended (`close_when_idle`) and nothing
is left to send, or on `stop()`. A later document starts a new thread.

Locks: `Writer._lock` guards the buffers and flags and nothing else (the summaries and the
epoch table of tfwatcher.record.summaries are part of that state: plain objects that call nothing). (`Writer._spool_lock`
serialises spooling; it is taken before `_lock`, never after.) While holding it
the writer calls no other object (not the session's `session_fields`, not a listener, not the
client; the one exception is starting its own thread, which takes no lock of ours before
it runs); the session likewise never calls the writer while holding `Session._lock`. So the two
locks are never held together and there is no lock order to get wrong.
"""

from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
import warnings
from pathlib import Path
from typing import Callable

from tfwatcher.record.summaries import EpochTable, Summaries

log = logging.getLogger("tfwatcher")

# A chunk closes at the next send once it holds CHUNK_POINTS points or CHUNK_BYTES, so each
# send writes one document per kind whatever the batch rate; only past the hard limits
# (thousands of batches a second) does it close at once. Small chunks keep the per-send cost
# of rewriting the open chunk low (the client encodes every value in Python, under the GIL).
CHUNK_POINTS = 500
CHUNK_BYTES = 100_000
CHUNK_MAX_POINTS = 5000
CHUNK_MAX_BYTES = 700_000    # Firestore allows 1 MiB a document
COMMIT_WRITES = 400          # writes per commit (Firestore allows 500)
# Estimated bytes per commit: Firestore takes 10 MiB a request, the emulator 4 MiB a gRPC
# message. A commit that is still refused as too large is split in halves (_too_large).
COMMIT_BYTES = 2_500_000
MAX_BUFFERED_POINTS = 100_000  # batch points held while Firestore is unreachable; then thinning
THIN_WINDOW = 10
SPOOL_DIR = Path(os.environ.get("TFWATCHER_HOME", Path.home() / ".tfwatcher")) / "spool"
SERVER_TIME = {"__server_time__": True}  # placeholder, replaced by SERVER_TIMESTAMP on send


class _Chunk:
    """An open chunk of batch points, as parallel lists."""

    __slots__ = ("kind", "index", "step", "epoch", "batch", "seconds", "time", "series",
                 "n", "bytes", "dirty", "thinned", "sent_at")

    def __init__(self, kind: str, index: int):
        self.kind, self.index = kind, index
        self.step: list = []
        self.epoch: list = []
        self.batch: list = []
        self.seconds: list = []
        self.time: list = []
        self.series: dict[str, list] = {}
        self.n = 0
        self.bytes = 200
        self.dirty = False
        self.thinned = False
        self.sent_at = float("-inf")  # when it was last taken for a send (monotonic)

    @property
    def doc_id(self) -> str:
        return f"{self.kind}-{self.index:06d}"

    def add(self, step, epoch, batch, seconds, t, metrics: dict) -> None:
        n = self.n
        series = self.series
        for name, value in metrics.items():
            column = series.get(name)
            if column is None:
                column = series[name] = [None] * n
                self.bytes += len(name) + 40
            column.append(value)
        self.n = n + 1
        if len(metrics) != len(series):  # pad metrics this point lacks
            for column in series.values():
                if len(column) == n:
                    column.append(None)
        self.step.append(step)
        self.epoch.append(epoch)
        self.batch.append(batch)
        self.seconds.append(seconds)
        self.time.append(t)
        self.bytes += 50 + 10 * len(series)
        self.dirty = True

    def full(self) -> bool:
        return self.n >= CHUNK_POINTS or self.bytes >= CHUNK_BYTES

    def overfull(self) -> bool:
        return self.n >= CHUNK_MAX_POINTS or self.bytes >= CHUNK_MAX_BYTES

    def to_doc(self) -> dict:
        doc = {
            "schema": 2, "kind": self.kind, "index": self.index, "n": self.n,
            "first": min(self.step, default=0), "last": max(self.step, default=0),
            "step": list(self.step), "epoch": list(self.epoch), "batch": list(self.batch),
            "seconds": list(self.seconds), "time": list(self.time),
            "series": [{"name": name, "values": list(values)} for name, values in self.series.items()],
        }
        if self.thinned:
            doc["thinned"] = True
        return doc


class _Connection:
    """What one writer thread opened: its client and the listener it started. Owned and
    released by that thread alone."""

    __slots__ = ("client", "unsubscribe", "listener_gen")

    def __init__(self):
        self.client = None
        self.unsubscribe = None
        self.listener_gen = 0


class Writer:
    """Buffers documents for one session and commits them from a thread of its own.

    Args:
        client_factory: returns a Firestore client; called lazily, on the writer thread.
        session_path: `sessions/{sid}`.
        session_fields: called on the writer thread (never under the writer's lock) when the
            session document is sent; returns its live fields (progress, latest values).
        interval: seconds between sends. Defaults to 1.0.
        heartbeat: seconds between session-document heartbeats. Defaults to 10.0.
        commit_timeout: seconds one commit may take before it is retried. Defaults to 10.0.
        backoff_cap: longest wait between retries, in seconds. Defaults to 30.0.
        explain: turns a permanent error into the message shown to the user. Defaults to
            `tfwatcher.base.access.explain`.
        autostart: start the thread on first use. Defaults to True; tests that drive the
            writer step by step (`step()`) pass False.
    """

    derived = True  # summaries and the epoch table; bench/writes.py turns them off for its baseline
    min_round_gap = 0.2  # seconds between early rounds, however often epochs wake the thread

    def __init__(self, client_factory: Callable, session_path: str,
                 session_fields: Callable[[], dict] | None = None, interval: float = 1.0,
                 heartbeat: float = 10.0, commit_timeout: float = 10.0, backoff_cap: float = 30.0,
                 explain: Callable[[BaseException], str] | None = None, autostart: bool = True):
        self._client_factory = client_factory
        self.session_path = session_path
        self._session_fields = session_fields or (lambda: {})
        self._explain = explain
        self.interval = interval
        self.heartbeat = heartbeat
        self.commit_timeout = commit_timeout
        self.backoff_cap = backoff_cap
        self._autostart = autostart

        self._lock = threading.Lock()
        self._spool_lock = threading.Lock()  # one spool at a time, so one that returns has
        # seen every earlier one land on disk (taken before `_lock`, never the other way)
        self._idle = threading.Condition(self._lock)
        self._wake = threading.Event()
        self._open: dict[str, _Chunk] = {}
        self._next_index: dict[str, int] = {}
        self._closed: dict[str, dict] = {}      # doc id -> chunk doc waiting to be sent
        self._epochs: dict[str, dict] = {}      # doc id -> epoch doc waiting to be sent
        self._first: dict[str, tuple[dict, bool]] = {}  # path -> (doc, merge): sent before all else
        self._summaries: dict[str, Summaries] = {}  # kind -> its summaries (tfwatcher.record.summaries)
        self._last_head: dict[str, float] = {}
        self._table = EpochTable(f"{session_path}/tables")
        self._last_table = float("-inf")
        self._derived: dict[str, dict] = {}      # path -> summary or table doc waiting to be sent
        self._force_derived = False              # flush(): summaries and table go in the next round
        self._session: dict = {}                 # session fields waiting to be sent
        self._session_urgent = False
        self._last_heartbeat = 0.0
        self._heartbeat_on = False
        self._taken: list = []                   # the writes in flight, not committed yet
        self._taken_spooled = False              # ... and a final spool saved them meanwhile
        self._failures = 0
        self._retry_at = 0.0
        self._thread: threading.Thread | None = None  # the thread that sends; None once it ends
        self._threads: list[threading.Thread] = []     # ... and any still closing what it opened
        self._closing = False                    # the run ended: the thread ends once idle
        self._stopping = False                   # stop(): the thread ends after this round
        self._sampler: Callable[[], None] | None = None  # system metrics (Session), see set_sampler
        self._sample_every = 10.0
        self._sampled_at = float("-inf")
        self._listener: Callable | None = None   # listener(client) -> unsubscribe callable
        self._listener_gen = 0
        self._conn = _Connection()               # used by whichever thread runs the rounds
        self.used = False                        # anything was ever handed to this writer
        self.disabled = False                    # set after a permanent error
        self.reason: str | None = None           # the message given when it was set
        self.spool_path: Path | None = None
        self.spool_error: str | None = None      # why the last spool failed, if it did
        self.warned: set[str] = set()
        self.stats = {"commits": 0, "writes": 0, "errors": 0, "points": 0, "max_backlog": 0, "splits": 0,
                      "thinned": 0, "spooled_docs": 0, "spooled_points": 0, "threads": 0}
        self.on_send: Callable[[list], None] | None = None  # test and benchmark hook

    # ----- called from hooks: no I/O, no waiting beyond a short lock --------------------------

    def _use_locked(self) -> None:
        """Mark the writer used and make sure a thread will send it (lock held)."""
        self.used = True
        if self._thread is None and self._autostart:
            self._thread = threading.Thread(target=self._run, daemon=True,
                                            name=f"tfwatcher-writer-{self.session_path}")
            self.stats["threads"] += 1
            self._threads = [t for t in self._threads if t.is_alive()] + [self._thread]
            self._thread.start()

    def add_point(self, kind: str, step: int, epoch: int, batch: int, seconds: float,
                  t: float, metrics: dict) -> None:
        with self._lock:
            chunk = self._open.get(kind)
            if chunk is None:
                index = self._next_index.get(kind, 0)
                chunk = self._open[kind] = _Chunk(kind, index)
                self._next_index[kind] = index + 1
            if self._thread is None:  # the first point, or the first since the thread ended
                self._use_locked()
            chunk.add(step, epoch, batch, seconds, t, metrics)
            if self.derived and kind != "system":  # ~360 samples an hour: its chunks suffice
                summaries = self._summaries.get(kind)
                if summaries is None:
                    summaries = self._summaries[kind] = Summaries(kind, f"{self.session_path}/summaries")
                summaries.add(step, t, seconds, chunk.index, metrics)
            self.stats["points"] += 1
            if chunk.overfull():
                self._closed[chunk.doc_id] = chunk.to_doc()
                del self._open[kind]

    def add_epoch(self, doc_id: str, doc: dict) -> None:
        """An epoch record: sent at once (the thread wakes), and a row of the epoch table."""
        with self._lock:
            self._epochs[doc_id] = doc
            if self.derived:
                for path, table_doc in self._table.add(doc_id, doc):
                    self._derived[path] = table_doc
            self._use_locked()
        self._wake.set()

    def add_first(self, path: str, doc: dict, merge: bool = False) -> None:
        """A document to write before anything else (the session's own, created on first use).
        Buffered only: it goes out with the first document logged."""
        with self._lock:
            self._first[path] = (doc, merge)

    def update_session(self, fields: dict, urgent: bool = False) -> None:
        """Merge `fields` into the session document; `urgent` sends on the next tick."""
        with self._lock:
            self._session.update(fields)
            self._session_urgent = self._session_urgent or urgent
            self._use_locked()
        if urgent:
            self._wake.set()

    def heartbeat_on(self, on: bool) -> None:
        self._heartbeat_on = on

    def set_sampler(self, sampler: Callable[[], None] | None, every: float = 10.0) -> None:
        """`sampler()` is called on the writer thread, with no lock of ours held, at most every
        `every` seconds while the heartbeat is on (the first in the next round); it logs what
        it samples through the session, like a hook. None removes it."""
        with self._lock:
            self._sampler, self._sample_every = sampler, every
            self._sampled_at = float("-inf")

    def start_new_chunks(self) -> None:
        """Close the open chunks (a new fit or evaluate starts its own)."""
        with self._lock:
            for kind, chunk in list(self._open.items()):
                if chunk.n:
                    self._closed[chunk.doc_id] = chunk.to_doc()
                del self._open[kind]

    def set_listener(self, listener: Callable | None) -> None:
        """`listener(client)` is started on the writer thread with its client and returns a
        callable that ends it; a new one replaces (and ends) the previous one."""
        with self._lock:
            self._listener = listener
            self._listener_gen += 1
        self._wake.set()

    def reopen(self) -> None:
        """A new run starts: the thread stays until that run ends too."""
        with self._lock:
            self._closing = False
            self._stopping = False

    def close_when_idle(self) -> None:
        """The run ended: the thread ends (client and listener closed) once all is sent."""
        with self._lock:
            self._closing = True
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """End the thread after its current round, sent or not (see `close` in Session), and
        wait up to `timeout` seconds for it to close its client and listener."""
        with self._lock:
            self._stopping = True
            self._closing = True
        self._wake.set()
        deadline = time.monotonic() + timeout
        for thread in list(self._threads):
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))

    @property
    def alive(self) -> bool:
        """True while a thread of this writer runs, or still closes its client and listener."""
        return any(t.is_alive() for t in list(self._threads))

    # ----- waiting ----------------------------------------------------------------------------

    def pending(self) -> int:
        """Documents neither committed nor spooled yet (including those in flight)."""
        with self._lock:
            return self._pending_locked()

    def _pending_locked(self) -> int:
        return (len(self._first) * bool(self._closed or self._epochs or self._open
                                        or self._session or self._taken)
                + len(self._closed) + len(self._epochs) + len(self._derived) + self._table.dirty
                + sum(s.changed for s in self._summaries.values())
                + sum(c.dirty for c in self._open.values())
                + (1 if self._session or self._session_urgent else 0) + len(self._taken))

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything now; wait up to `timeout` seconds. True only if all of it was
        committed to Firestore as logged (False after a permanent error, when it went to the
        spool, and once points had to be thinned)."""
        if self.disabled:
            self.spool(final=True)
            return False
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            # While running, the live fields (progress, latest values) go now too.
            if self._session or self._heartbeat_on:
                self._session_urgent = True
            self._force_derived = True
            if self._pending_locked():
                self._use_locked()
        self._retry_at = 0.0  # a caller waiting is worth a retry now, not after the backoff
        self._wake.set()
        with self._idle:
            while self._pending_locked() and not self.disabled:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._idle.wait(0.25 if remaining is None else min(remaining, 0.25))
                self._wake.set()
        if self.disabled:
            self.spool(final=True)
            return False
        return not self.stats["thinned"]  # all sent, but not all as logged

    # ----- the writer thread ------------------------------------------------------------------

    def _run(self) -> None:
        try:
            started = time.monotonic()
            early_at = float("-inf")
            while True:
                # Rounds start every `interval` (not `interval` after the last one ended), so
                # a point waits at most one interval plus one commit.
                woken = self._wake.wait(max(0.0, started + self.interval - time.monotonic()))
                self._wake.clear()
                if woken:
                    # Early rounds (an epoch, a flush) come at most once a `min_round_gap`: a
                    # fit doing 20 epochs a second sends ~5 rounds a second, not 20, each a
                    # commit whose encoding competes with training for the GIL. An epoch a
                    # second or slower is never held back.
                    gap = early_at + self.min_round_gap - time.monotonic()
                    if gap > 0 and not self._stopping:
                        time.sleep(gap)
                    early_at = time.monotonic()
                started = time.monotonic()
                self._round(started)
                with self._idle:
                    self._idle.notify_all()
                    done = (self._stopping
                            or (self._closing and not self._pending_locked()))
                    if done:
                        self._thread = None  # a later document starts a new thread
                if done:
                    return
        finally:
            self._release()

    def step(self) -> None:
        """One round now, ignoring any backoff (tests drive an `autostart=False` writer)."""
        self._retry_at = 0.0
        self._round(time.monotonic())

    def _round(self, now: float) -> None:
        self._sample(now)
        try:
            if self.disabled:
                self.spool(final=self._closing)
                return
            self._bound_memory()
            if now >= self._retry_at:
                self._send_round(now)
        except Exception as err:  # a bug of ours: keep the data, warn, try again later
            self._warn_once("bug", f"tfwatcher: writer error {err!r}; will retry")
            self._failures += 1
            self._retry_at = time.monotonic() + self._backoff()

    def _sample(self, now: float) -> None:
        with self._lock:
            sampler = self._sampler if self._heartbeat_on else None
            if sampler is None or now - self._sampled_at < self._sample_every:
                return
            self._sampled_at = now
        try:
            sampler()  # outside our lock: it calls add_point like a hook
        except Exception as err:  # a sampler of ours never raises; if it does, stop asking it
            self._warn_once("sampler", f"tfwatcher: system metrics off ({type(err).__name__})")
            with self._lock:
                if self._sampler is sampler:
                    self._sampler = None

    def _release(self) -> None:
        """End what this thread opened: the listener, then the client's channels."""
        conn, self._conn = self._conn, _Connection()
        for close in (conn.unsubscribe, getattr(conn.client, "close", None)):
            if close is not None:
                try:
                    close()
                except Exception:  # closing is best effort; nothing is lost here
                    pass

    def buffered_points(self) -> int:
        """Points held in chunks that are not (or not wholly) committed yet."""
        with self._lock:
            return (sum(c.n for c in self._open.values() if c.dirty)
                    + sum(d["n"] for d in self._closed.values()))

    def _bound_memory(self) -> None:
        """Thin the oldest waiting chunks while more than MAX_BUFFERED_POINTS wait.

        Only while Firestore is unreachable for long (after a permanent error everything goes
        to the spool instead). A thinned chunk keeps, per window of THIN_WINDOW points, the
        points where its first metric is lowest and highest and the window's last point:
        real points with their own steps, so spikes and the trend survive. Epochs are never
        thinned or dropped.
        """
        total = self.buffered_points()
        if total <= MAX_BUFFERED_POINTS:
            return
        with self._lock:
            oldest = sorted(self._closed.items(), key=lambda item: item[1]["index"])
        for doc_id, doc in oldest:
            if total <= MAX_BUFFERED_POINTS * 0.7:
                break
            thinned = thin_chunk(doc)  # outside the lock: hooks never wait for this
            with self._lock:
                if self._closed.get(doc_id) is doc:
                    self._closed[doc_id] = thinned
                    total -= doc["n"] - thinned["n"]
                    self.stats["thinned"] += doc["n"] - thinned["n"]
        self._warn_once("thinned", f"tfwatcher: more than {MAX_BUFFERED_POINTS:,} batch points are "
                                   "waiting to be sent (Firestore is unreachable, or cannot keep up "
                                   "with this rate); older ones are being thinned (min, max and last "
                                   "kept per window) to bound memory. Epoch records are all kept.")

    def _take(self, now: float) -> list[tuple[str, str, dict, bool]]:
        """Pending writes, oldest kinds first, the session document last."""
        with self._lock:
            due = self._heartbeat_on and now - self._last_heartbeat >= self.heartbeat
            live_wanted = self._session_urgent or due
        # The session's fields are read without holding our lock (see the module docstring).
        live = self._session_fields() if live_wanted else {}
        writes: list[tuple[str, str, dict, bool]] = []  # (what, path, doc, merge)
        with self._lock:
            for path, (doc, merge) in self._first.items():
                writes.append(("first", path, doc, merge))
            self._first = {}
            for doc_id, doc in self._closed.items():
                writes.append(("closed", f"{self.session_path}/batches/{doc_id}", doc, False))
            self._closed = {}
            force = self._force_derived or self._closing or self._session_urgent
            for kind, chunk in list(self._open.items()):
                # An open chunk goes at most once an interval (an epoch wakes the thread early).
                if chunk.dirty and (force or chunk.full() or now - chunk.sent_at >= 0.9 * self.interval):
                    chunk.dirty = False
                    chunk.sent_at = now
                    if chunk.full():  # its last write: later points start the next chunk
                        del self._open[kind]
                        writes.append(("closed", f"{self.session_path}/batches/{chunk.doc_id}",
                                       chunk.to_doc(), False))
                    else:
                        writes.append(("open", f"{self.session_path}/batches/{chunk.doc_id}",
                                       chunk.to_doc(), False))
            for doc_id, doc in self._epochs.items():
                writes.append(("epoch", f"{self.session_path}/epochs/{doc_id}", doc, False))
            self._epochs = {}
            self._take_derived_locked(now, force)
            for path, doc in self._derived.items():
                writes.append(("derived", path, doc, False))
            self._derived = {}
            self._force_derived = False
            if (self._session_urgent or due) and not live_wanted:
                pass  # asked for (by flush) after the live fields were read: next round, with them
            elif self._session_urgent or due or (self._session and not self._heartbeat_on):
                fields = dict(live)
                fields.update(self._session)
                fields["heartbeat"] = SERVER_TIME
                self._session = {}
                self._session_urgent = False
                writes.append(("session", self.session_path, fields, True))
            if writes and len(writes) == sum(w[0] == "first" for w in writes):
                # Only the session's own documents: they wait for something to go with.
                self._first = {path: (doc, merge) for _w, path, doc, merge in writes}
                writes = []
            self._taken, self._taken_spooled = list(writes), False
            backlog = self._pending_locked()
            if backlog > self.stats["max_backlog"]:
                self.stats["max_backlog"] = backlog
        return writes

    def _take_derived_locked(self, now: float, force: bool) -> None:
        """Make the summary heads and parts that are due (every HEAD_INTERVAL while points
        arrive, or `force`) and the epoch table's open part (at most once a second)."""
        for kind, summaries in self._summaries.items():
            if summaries.changed and (force or summaries.due(now, self._last_head.get(kind, float("-inf")))):
                chunk = self._open.get(kind)
                tail = chunk.index if chunk is not None else self._next_index.get(kind, 0)
                for path, doc in summaries.take(tail):
                    self._derived[path] = doc
                self._last_head[kind] = now
        if self._table.dirty and (force or now - self._last_table >= 0.9 * self.interval):
            path, doc = self._table.doc()
            self._derived[path] = doc
            self._last_table = now

    def _requeue(self, writes) -> None:
        """Put writes back (none committed): older copies never replace newer ones."""
        with self._lock:
            self._requeue_locked(writes)

    def _requeue_locked(self, writes) -> None:
        for what, path, doc, merge in writes:
            doc_id = path.rsplit("/", 1)[-1]
            if what == "first":
                self._first.setdefault(path, (doc, merge))
            elif what == "closed":
                self._closed.setdefault(doc_id, doc)
            elif what == "open":
                chunk = self._open.get(doc["kind"])
                if chunk is not None and chunk.doc_id == doc_id:
                    chunk.dirty = True
                elif doc_id not in self._closed:
                    # Closed since; its closed copy was sent already, so resend this one.
                    self._closed[doc_id] = doc
            elif what == "epoch":
                self._epochs.setdefault(doc_id, doc)
            elif what == "derived":
                self._derived.setdefault(path, doc)
            else:
                doc = {k: v for k, v in doc.items() if k != "heartbeat"}
                self._session = {**doc, **self._session}
                self._session_urgent = True

    def _send_round(self, now: float) -> None:
        writes = self._take(now)
        conn = self._conn
        if not writes:
            if conn.client is not None:
                self._sync_listener(conn)
            return
        committed = 0
        try:
            if conn.client is None:
                conn.client = self._client_factory()
            self._sync_listener(conn)
            for group in _group(writes):
                for part in self._fitting(conn.client, group):
                    committed += part
                    with self._lock:
                        if not self._taken_spooled:
                            self._taken = writes[committed:]
            with self._lock:
                self._taken, self._taken_spooled = [], False
            if self._failures:
                log.info("tfwatcher: connection back; sent the backlog")
            self._failures = 0
            if any(w[0] == "session" for w in writes):
                self._last_heartbeat = now
        except Exception as err:
            # Whatever failed (client, encoding, commit), nothing taken is dropped.
            with self._lock:
                if not self._taken_spooled:  # else a final spool has them already
                    self._requeue_locked(writes[committed:])
                self._taken, self._taken_spooled = [], False
            self.stats["errors"] += 1
            from tfwatcher.base.access import is_permanent

            if is_permanent(err):
                self._go_offline(err)
                return
            self._failures += 1
            self._retry_at = time.monotonic() + self._backoff()
            self._warn_once("transient", f"tfwatcher: cannot reach Firestore ({type(err).__name__}: "
                                         f"{_short(err)}); keeping the data and retrying in the "
                                         f"background")

    def _sync_listener(self, conn: _Connection) -> None:
        """Start the newest listener with this thread's client (ending the previous one)."""
        with self._lock:
            listener, gen = self._listener, self._listener_gen
        if gen == conn.listener_gen:
            return
        conn.listener_gen = gen
        old, conn.unsubscribe = conn.unsubscribe, None
        try:
            if old is not None:
                old()
            if listener is not None:
                conn.unsubscribe = listener(conn.client)
        except Exception as err:
            self._warn_once("listener", f"tfwatcher: remote stop unavailable ({type(err).__name__})")

    def _fitting(self, client, group):
        """Commit a group, split in halves while Firestore refuses it as too large; yields
        each committed part's size, in order (so a failure later requeues only the rest)."""
        try:
            self._commit(client, group)
        except Exception as err:
            if len(group) < 2 or not _too_large(err):
                raise
            self.stats["splits"] += 1
            half = len(group) // 2
            yield from self._fitting(client, group[:half])
            yield from self._fitting(client, group[half:])
            return
        yield len(group)

    def _commit(self, client, group) -> None:
        from google.cloud import firestore

        batch = client.batch()
        for _what, path, doc, merge in group:
            batch.set(client.document(path), _with_server_time(doc, firestore.SERVER_TIMESTAMP),
                      merge=merge)
        if self.on_send:
            self.on_send(group)
        batch.commit(retry=None, timeout=self.commit_timeout)
        self.stats["commits"] += 1
        self.stats["writes"] += len(group)

    def _backoff(self) -> float:
        base = min(self.backoff_cap, 0.5 * 2 ** min(self._failures, 10))
        return base * random.uniform(0.5, 1.0)

    def _go_offline(self, err) -> None:
        explain = self._explain
        if explain is None:
            from tfwatcher.base.access import explain
        reason = explain(err)
        self.reason = reason
        self.disabled = True
        spooled = self.spool(final=self._closing)
        if spooled:
            where = (f"Everything this run logs is saved in {spooled}; once that is fixed, "
                     f"`tfwatcher sync` uploads it.")
        elif self.spool_error:
            where = (f"Saving it to {SPOOL_DIR} failed too ({self.spool_error}); it is kept in "
                     f"memory and saving is tried again.")
        else:
            where = (f"Everything this run logs will be saved under {SPOOL_DIR}; once that is "
                     f"fixed, `tfwatcher sync` uploads it.")
        self._warn_once("permanent", f"tfwatcher: nothing is being sent to Firestore: {reason}\n"
                                     f"Training goes on. {where}")
        with self._idle:
            self._idle.notify_all()

    def spool(self, final: bool = True) -> Path | None:
        """Append every document not yet committed to this writer's spool file (JSON lines,
        readable by its owner only) and return the file's path, or None if there was nothing.

        `final` also takes the open chunks (later points start new ones). If the file cannot
        be written, the documents stay queued and the next call tries again.
        """
        # The session's live fields (progress, latest values), read before any lock of ours.
        live = self._session_fields() if final and self.used else None
        with self._spool_lock:
            return self._spool(final, live)

    def _spool(self, final: bool, live: dict | None = None) -> Path | None:
        with self._lock:
            if final and self._taken:
                # A send still in flight (its client may be stuck looking for credentials, say;
                # at exit its thread dies with the process): its writes are saved too. Put
                # back as a failed send would (older never replacing newer); one that lands
                # after all is also in the spool, which is harmless (same IDs).
                self._requeue_locked(self._taken)
                self._taken, self._taken_spooled = [], True
            if final:
                self._take_derived_locked(time.monotonic(), True)
                for kind, chunk in list(self._open.items()):
                    if chunk.dirty:  # a clean open chunk is in Firestore already
                        self._closed[chunk.doc_id] = chunk.to_doc()
                    del self._open[kind]
            rows = [("first", path, d, merge) for path, (d, merge) in self._first.items()]
            rows += [("closed", f"{self.session_path}/batches/{i}", d, False)
                     for i, d in self._closed.items()]
            rows += [("epoch", f"{self.session_path}/epochs/{i}", d, False)
                     for i, d in self._epochs.items()]
            rows += [("derived", p, d, False) for p, d in self._derived.items()]
            if self._session or live:
                rows.append(("session", self.session_path, {**(live or {}), **self._session}, True))
            self._first, self._closed, self._epochs, self._session = {}, {}, {}, {}
            self._derived = {}
            self._session_urgent = False
        if not rows:
            return None
        try:
            path = self._write_spool(rows)
        except Exception as err:
            self._requeue(rows)
            self.spool_error = f"{type(err).__name__}: {_short(err)}"
            self._warn_once("spool", f"tfwatcher: could not save unsent data to {SPOOL_DIR} "
                                     f"({self.spool_error}); keeping it in memory and trying again")
            return None
        self.spool_error = None
        self.stats["spooled_docs"] += len(rows)
        self.stats["spooled_points"] += sum(d.get("n", 0) for w, _p, d, _m in rows if w == "closed")
        return path

    def _write_spool(self, rows) -> Path:
        if self.spool_path is None:
            SPOOL_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
            name = f"{self.session_path.replace('/', '-')}-{int(time.time() * 1000)}.jsonl"
            self.spool_path = SPOOL_DIR / name
        data = "".join(json.dumps({"path": p, "merge": m, "doc": d}, allow_nan=True) + "\n"
                       for _w, p, d, m in rows).encode()
        path = self.spool_path
        for _ in range(10):
            # Created 0600: the session document's owner key may be in it.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                _lock_file(fd)
                # `tfwatcher sync` may have uploaded and deleted the file since we opened it:
                # then these rows go to a new file under the same name, never to the deleted one.
                try:
                    current = os.stat(path).st_ino == os.fstat(fd).st_ino
                except FileNotFoundError:
                    current = False
                if current:
                    start = os.fstat(fd).st_size
                    try:
                        view = memoryview(data)
                        while view:
                            view = view[os.write(fd, view):]
                    except BaseException:
                        os.ftruncate(fd, start)  # all or nothing: no half row before the retry
                        raise
                    return path
            finally:
                os.close(fd)  # also releases the lock
        raise OSError(f"{path} keeps being replaced while it is written")

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self.warned:
            self.warned.add(key)
            # Raised on the writer thread: no line of the user's code to point at, and a line
            # of ours would only clutter the message (notebooks show it).
            warnings.warn_explicit(message, RuntimeWarning, "tfwatcher", 0, module="tfwatcher")


def thin_chunk(doc: dict, window: int = THIN_WINDOW) -> dict:
    """A copy of a chunk document keeping, per window, the min, max (of the first metric)
    and last point."""
    n = doc["n"]
    if n <= 3:
        return doc
    series = doc["series"]
    key = series[0]["values"] if series else None
    keep: list[int] = []
    for start in range(0, n, window):
        idx = list(range(start, min(start + window, n)))
        chosen = {idx[-1]}
        if key is not None:
            valued = [i for i in idx if isinstance(key[i], float) and key[i] == key[i]]
            if valued:
                chosen.add(min(valued, key=lambda i: key[i]))
                chosen.add(max(valued, key=lambda i: key[i]))
        keep.extend(sorted(chosen))
    out = dict(doc)
    for field in ("step", "epoch", "batch", "seconds", "time"):
        out[field] = [doc[field][i] for i in keep]
    out["series"] = [{"name": s["name"], "values": [s["values"][i] for i in keep]} for s in series]
    out["n"] = len(keep)
    out["thinned"] = True
    return out


def _group(writes):
    groups, current, size = [], [], 0
    for w in writes:
        est = _estimate(w[2])
        if current and (len(current) >= COMMIT_WRITES or size + est > COMMIT_BYTES):
            groups.append(current)
            current, size = [], 0
        current.append(w)
        size += est
    if current:
        groups.append(current)
    return groups


def _estimate(value) -> int:
    """Bytes a value takes in a commit, a little over (protobuf: a double is 9 bytes and its
    Value wrapper 2-3 more; tests/record/test_commit_size.py checks it against the encoding)."""
    if isinstance(value, dict):
        return 6 + sum(len(k) + 6 + _estimate(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return 6 + sum(map(_estimate, value))
    if isinstance(value, str):
        return len(value) + 4
    return 12


def _with_server_time(doc: dict, sentinel) -> dict:
    return {k: (sentinel if v == SERVER_TIME else v) for k, v in doc.items()}


def _too_large(err: BaseException) -> bool:
    """A request over a size limit: the emulator's "gRPC message exceeds maximum size"
    (RESOURCE_EXHAUSTED), production's "Request payload size exceeds the limit" or
    "Transaction too big" (INVALID_ARGUMENT). Retrying it whole can never succeed, and it
    says nothing about access, so it must be neither retried as is nor taken as permanent."""
    text = str(err).lower()
    return ("exceeds" in text and ("size" in text or "limit" in text)) or "too big" in text


def _short(err: Exception) -> str:
    text = str(err).splitlines()[0] if str(err) else ""
    return text[:200]


def _lock_file(fd: int) -> None:
    """An exclusive lock shared by the writer's appends and `tfwatcher sync`'s reads and
    deletes (POSIX only)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no sync can run during a write there
        return
    fcntl.flock(fd, fcntl.LOCK_EX)


class SpoolError(ValueError):
    """A spool file that cannot be read or is not what the writer writes."""


def read_spool(path: Path) -> tuple[list[dict], int, bool]:
    """The rows of a spool file, each checked, the file's size when read, and whether a cut
    last line was left out; SpoolError (naming the line) if any other line is bad.

    Read under the lock the writer appends under, so no append is seen half done. Only a
    process killed in the middle of an append leaves a cut last line (no newline at its end):
    those rows died with the process, and the rest of the file is still good."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as err:
        raise SpoolError(f"cannot read it ({type(err).__name__}: {_short(err)})") from None
    try:
        _lock_file(fd)
        size = os.fstat(fd).st_size
        with os.fdopen(os.dup(fd), "rb") as f:
            raw = f.read(size)
    finally:
        os.close(fd)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise SpoolError(f"cannot read it ({type(err).__name__}: {_short(err)})") from None
    lines = text.split("\n")
    last = lines.pop()  # "" when the file ends with a newline, as every whole append does
    cut = False
    if last.strip():
        try:
            json.loads(last)
            lines.append(last)
        except ValueError:
            cut = True
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as err:
            raise SpoolError(f"line {number} is not valid JSON ({err})") from None
        parts = row.get("path").split("/") if isinstance(row, dict) and isinstance(
            row.get("path"), str) else []
        if (len(parts) < 2 or len(parts) % 2 or parts[0] != "sessions" or not all(parts)
                or not isinstance(row.get("doc"), dict) or not isinstance(row.get("merge"), bool)):
            raise SpoolError(f"line {number} is not a spooled document")
        rows.append(row)
    return rows, size, cut


def remove_spool(path: Path, size: int) -> bool:
    """Delete a spool file that was uploaded as read at `size` bytes; keep it (False) if a
    run still writing to it has appended since (the next sync sends it again: harmless)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return True
    try:
        _lock_file(fd)  # an append under way finishes first; a later one finds no file
        if os.fstat(fd).st_size != size:
            return False
        os.unlink(path)
        return True
    finally:
        os.close(fd)


def upload_spool(client, path: Path, timeout: float | None = None) -> int:
    """Send a spool file's documents (idempotent: the IDs are deterministic). Returns the count.
    Reads and checks the whole file first (SpoolError, nothing sent, if a line is bad)."""
    rows, _size, _cut = read_spool(path)
    return upload_rows(client, rows, timeout)


def upload_rows(client, rows: list[dict], timeout: float | None = None) -> int:
    """Commit spooled rows in order, COMMIT_WRITES (and COMMIT_BYTES) at a time. With `timeout`, each commit may
    take that many seconds in all, transient errors retried within it; then the last error
    is raised. Returns the count."""
    from google.cloud import firestore

    from tfwatcher.base.access import is_permanent, is_transient

    groups = _group([(None, r["path"], r["doc"], r["merge"]) for r in rows])
    for group in groups:
        batch = client.batch()
        for row in ({"path": p, "doc": d, "merge": m} for _w, p, d, m in group):
            batch.set(client.document(row["path"]),
                      _with_server_time(row["doc"], firestore.SERVER_TIMESTAMP), merge=row["merge"])
        if timeout is None:
            batch.commit()
            continue
        deadline, delay = time.monotonic() + timeout, 0.5
        while True:
            try:
                batch.commit(retry=None, timeout=max(0.5, deadline - time.monotonic()))
                break
            except Exception as err:
                if (is_permanent(err) or not is_transient(err)
                        or time.monotonic() + delay >= deadline):
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
    return len(rows)
