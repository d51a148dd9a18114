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
  go out at most every 30 s while points arrive, and at every flush and at the end;
* the session document is updated on status changes and every `heartbeat` seconds.

Nothing taken for a send is ever dropped: whatever fails (creating the client, encoding a
document, a commit, a retry) puts every write that was not committed back in the queue.
Transient errors are retried with capped exponential backoff and jitter; a used-up quota
(the free plan's daily writes) is said once, with when it resets, and probed every few
minutes. Whatever the cause of a wait (an outage, a quota, a burst faster than Firestore takes),
memory holds at most MAX_BUFFERED_POINTS points: closed chunks beyond it go to the spool file
and are uploaded from it, in order, by the same thread once writes are accepted again
(tfwatcher.record.spill); nothing is thinned for lack of memory. A permanent error
(no credentials, no permission, no database: see `tfwatcher.base.access`) is one message that
names the fix; from then on everything held, and everything logged later, is appended to a
spool file (0600, `tfwatcher sync` uploads it once access is fixed). The writer never raises
into the caller.

Lifetime: the thread starts with the first document, and ends (closing its Firestore client
and the listener it started) once the session's run has ended (`close_when_idle`) and nothing
is left to send, or on `stop()`. A later document starts a new thread, also after a thread
that died of an exception.

The parts, modelled on TensorBoard's event writer: this module is the API; the buffer and
its lock (tfwatcher.record.buffer, chunk documents in tfwatcher.record.chunk) hold the
documents; the thread's loop (tfwatcher.record.sender) owns its connection; commits are
grouped and split in tfwatcher.record.commit; the spool's format, file lock and upload are
in tfwatcher.record.spool, and the spill of chunks to it and back in tfwatcher.record.spill.

Locks, in the order they may be taken: `Writer._spool_lock` (one spool at a time), then
`Buffer.lock` (the writer's lock: the buffers and this module's and the sender's flags, and
nothing else; the summaries and the epoch table are part of that state: plain objects that
call nothing). While holding `Buffer.lock` the writer calls no other object (not the
session's `session_fields`, not a listener, not the client; the one exception is starting
its own thread, which takes no lock of ours before it runs); the session likewise never
calls the writer while holding `Session._lock`. So the session's lock and the writer's are
never held together and there is no lock order between them to get wrong.
"""

from __future__ import annotations

import threading
import time
import warnings
from pathlib import Path
from typing import Callable

from tfwatcher.base.contract import session_path as _session_path
from tfwatcher.record import spool as _spool
from tfwatcher.record.attention import UNWATCHED_EVERY
from tfwatcher.record.buffer import Buffer
from tfwatcher.record.chunk import (CHUNK_BYTES, CHUNK_MAX_BYTES, CHUNK_MAX_POINTS, CHUNK_POINTS,
                                    THIN_WINDOW, thin_chunk)
from tfwatcher.record.commit import COMMIT_BYTES, COMMIT_WRITES, SERVER_TIME
from tfwatcher.record.sender import MAX_BUFFERED_POINTS, Sender
# SPOOL_DIR is read from tfwatcher.record.spool when used: patch it there.
from tfwatcher.record.spool import (SPOOL_DIR, SpoolError, read_spool, remove_spool, short,
                                    upload_rows, upload_spool)

__all__ = ["Writer", "SERVER_TIME", "SPOOL_DIR", "SpoolError", "read_spool", "remove_spool", "upload_rows",
           "upload_spool", "thin_chunk", "CHUNK_POINTS", "CHUNK_BYTES", "CHUNK_MAX_POINTS",
           "CHUNK_MAX_BYTES", "COMMIT_WRITES", "COMMIT_BYTES", "MAX_BUFFERED_POINTS", "THIN_WINDOW"]


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
        unwatched_every: seconds between rounds while nobody watches the session
            (tfwatcher.record.attention); None keeps the watched cadence always. Defaults to
            300 (the contract's `attention.unwatched_round_seconds`).
    """

    derived = True  # summaries and the epoch table; bench/writes.py turns them off for its baseline
    min_round_gap = 0.2  # seconds between early rounds, however often epochs wake the thread
    quota_probe_cap = 300.0  # longest wait between probes while the write quota is used up

    def __init__(self, client_factory: Callable, session_path: str,
                 session_fields: Callable[[], dict] | None = None, interval: float = 1.0,
                 heartbeat: float = 10.0, commit_timeout: float = 10.0, backoff_cap: float = 30.0,
                 explain: Callable[[BaseException], str] | None = None, autostart: bool = True,
                 unwatched_every: float | None = UNWATCHED_EVERY):
        sid = session_path.rsplit("/", 1)[-1]
        if _session_path(sid) != session_path:
            raise ValueError(f"session_path must be a session document's path; got {session_path!r}")
        self._client_factory = client_factory
        self.session_path = session_path
        self._session_fields = session_fields or (lambda: {})
        self._explain = explain
        self.interval = interval
        self.heartbeat = heartbeat
        self.commit_timeout = commit_timeout
        self.backoff_cap = backoff_cap
        self.unwatched_every = unwatched_every
        self._autostart = autostart
        self.stats = {"commits": 0, "writes": 0, "errors": 0, "points": 0, "max_backlog": 0, "splits": 0,
                      "thinned": 0, "spooled_docs": 0, "spooled_points": 0, "threads": 0,
                      "spilled_docs": 0, "spilled_points": 0, "uploaded_from_spool": 0}
        # CHUNK_MAX_POINTS is read here, so a test may lower it on this module.
        self._buffer = Buffer(sid, self.stats, self.derived, CHUNK_MAX_POINTS)
        self._spool_lock = threading.Lock()  # one spool at a time, so one that returns has
        # seen every earlier one land on disk (taken before the buffer's lock, never after)
        self._idle = threading.Condition(self._buffer.lock)
        self._wake = threading.Event()
        self._sender = Sender(self)
        self._thread: threading.Thread | None = None  # the thread that sends; None once it ends
        self._threads: list[threading.Thread] = []     # ... and any still closing what it opened
        self._closing = False                    # the run ended: the thread ends once idle
        self._stopping = False                   # stop(): the thread ends after this round
        self._heartbeat_on = False
        self.used = False                        # anything was ever handed to this writer
        self.disabled = False                    # set after a permanent error
        self.reason: str | None = None           # the message given when it was set
        self.spool_path: Path | None = None
        self.spool_error: str | None = None      # why the last spool failed, if it did
        self.left_in_spool = [0, 0]              # documents, points left to `tfwatcher sync`
        self.warned: set[str] = set()
        self.on_send: Callable[[list], None] | None = None  # test and benchmark hook

    @property
    def _lock(self):
        """The writer's lock (the buffer's)."""
        return self._buffer.lock

    @property
    def _open(self) -> dict:
        """The open chunks, by kind (read under `_lock`; bench/load.py counts them)."""
        return self._buffer.open

    # ----- called from hooks: no I/O, no waiting beyond a short lock --------------------------

    def _use_locked(self) -> None:
        """Mark the writer used and make sure a thread will send it (lock held)."""
        self.used = True
        if self._thread is None and self._autostart:
            self._thread = threading.Thread(target=self._sender.run, daemon=True,
                                            name=f"tfwatcher-writer-{self.session_path}")
            self.stats["threads"] += 1
            self._threads = [t for t in self._threads if t.is_alive()] + [self._thread]
            self._thread.start()

    def add_point(self, kind: str, step: int, epoch: int, batch: int, seconds: float,
                  t: float, metrics: dict) -> None:
        buf = self._buffer
        with buf.lock:
            if self._thread is None:  # the first point, or the first since the thread ended
                self._use_locked()
            buf.add_point_locked(kind, step, epoch, batch, seconds, t, metrics)

    def add_epoch(self, doc_id: str, doc: dict) -> None:
        """An epoch record: sent at once (the thread wakes), and a row of the epoch table."""
        with self._buffer.lock:
            self._buffer.add_epoch_locked(doc_id, doc)
            self._use_locked()
        self._wake.set()

    def add_first(self, path: str, doc: dict, merge: bool = False) -> None:
        """A document to write before anything else (the session's own, created on first use).
        Buffered only: it goes out with the first document logged."""
        with self._buffer.lock:
            self._buffer.first[path] = (doc, merge)

    def update_session(self, fields: dict, urgent: bool = False) -> None:
        """Merge `fields` into the session document; `urgent` sends on the next tick."""
        buf = self._buffer
        with buf.lock:
            buf.session.update(fields)
            if urgent:
                buf.ask_urgent_locked()
            self._use_locked()
        if urgent:
            self._wake.set()

    def set_heartbeat(self, seconds: float) -> None:
        """A new heartbeat period: used from the next round, and declared in the session
        document at once (tfwatcher.record.documents.heartbeat_fields), so readers judge "stalled"
        against the period in force."""
        from tfwatcher.record.documents import heartbeat_fields

        with self._buffer.lock:
            changed = seconds != self.heartbeat
            self.heartbeat = seconds
            used = self.used
        if changed and used:
            self.update_session(heartbeat_fields(seconds), urgent=True)

    def join_workspace(self, wid: str, name: str) -> None:
        """Keep the run's row in workspace `wid` (tfwatcher.record.run_index)."""
        from tfwatcher.record.run_index import RunIndex

        index = RunIndex(wid, self._buffer.sid, name)
        with self._buffer.lock:
            self._buffer.index = index

    def heartbeat_on(self, on: bool) -> None:
        """The heartbeat runs while a run is in progress; a run's start counts as watched for
        a presence lease's length (its link was just shown)."""
        with self._buffer.lock:
            self._heartbeat_on = on
            if on:
                self._sender.attention.run_started_locked(time.monotonic())
        if on:
            self._wake.set()  # the next round declares the cadence in force

    def _presence_seen(self, remaining: float) -> None:
        """The presence listener read a lease with `remaining` seconds to go (called on the
        client's listener thread): a viewer's arrival sends everything pending at once."""
        with self._buffer.lock:
            arrival = self._sender.attention.seen_locked(time.monotonic(), remaining)
            if arrival:
                self._buffer.force_derived = True
        if arrival:
            self._wake.set()

    @property
    def watched(self) -> bool:
        """The cadence in force: True while someone watches (or a run just started)."""
        with self._buffer.lock:
            return self._sender.attention.watched

    def set_sampler(self, sampler: Callable[[], None] | None, every: float = 10.0) -> None:
        """`sampler()` is called on the writer thread, with no lock of ours held, at most every
        `every` seconds while the heartbeat is on (the first in the next round); it logs what
        it samples through the session, like a hook. None removes it."""
        with self._buffer.lock:
            self._sender.sampler, self._sender.sample_every = sampler, every
            self._sender.sampled_at = float("-inf")

    def start_new_chunks(self) -> None:
        """Close the open chunks (a new fit or evaluate starts its own)."""
        with self._buffer.lock:
            self._buffer.close_chunks_locked()

    def set_listener(self, listener: Callable | None) -> None:
        """`listener(client)` is started on the writer thread with its client and returns a
        callable that ends it; a new one replaces (and ends) the previous one."""
        with self._buffer.lock:
            self._sender.listener = listener
            self._sender.listener_gen += 1
        self._wake.set()

    def reopen(self) -> None:
        """A new run starts: the thread stays until that run ends too."""
        with self._buffer.lock:
            self._closing = False
            self._stopping = False

    def close_when_idle(self) -> None:
        """The run ended: the thread ends (client and listener closed) once all is sent."""
        with self._buffer.lock:
            self._closing = True
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """End the thread after its current round, sent or not (see `close` in Session), and
        wait up to `timeout` seconds for it to close its client and listener."""
        with self._buffer.lock:
            self._stopping = True
            self._closing = True
        self._wake.set()
        deadline = time.monotonic() + timeout
        for thread in list(self._threads):
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        self._sender.manual.release()  # what step() opened, if a caller drove it

    @property
    def alive(self) -> bool:
        """True while a thread of this writer runs, or still closes its client and listener."""
        return any(t.is_alive() for t in list(self._threads))

    # ----- the thread's life (called by tfwatcher.record.sender) ------------------------------

    def _round_done(self) -> bool:
        """After a round: wake those waiting; True if the thread should end now."""
        with self._idle:
            self._idle.notify_all()
            done = self._stopping or (self._closing and not self._buffer.pending_locked())
            if done:
                self._thread = None  # a later document starts a new thread
        return done

    def _thread_ended(self) -> None:
        """The thread's loop ended, normally or by an exception: a later document starts a
        new thread either way."""
        with self._idle:
            if self._thread is threading.current_thread():
                self._thread = None
            self._idle.notify_all()

    def step(self) -> None:
        """One round now, ignoring any backoff (tests drive an `autostart=False` writer)."""
        self._sender.step()

    # ----- waiting ----------------------------------------------------------------------------

    def pending(self) -> int:
        """Documents neither committed nor spooled yet (including those in flight)."""
        with self._buffer.lock:
            return self._buffer.pending_locked()

    def buffered_points(self) -> int:
        """Points held in chunks that are not (or not wholly) committed yet."""
        with self._buffer.lock:
            return self._buffer.buffered_points_locked()

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything now; wait up to `timeout` seconds. True only if all of it was
        committed to Firestore as logged, what was spilled to the spool file included (False
        after a permanent error, once a final spool left data to `tfwatcher sync`, and once
        points had to be thinned for a full disk)."""
        if self.disabled:
            self.spool(final=True)
            return False
        deadline = None if timeout is None else time.monotonic() + timeout
        buf = self._buffer
        with buf.lock:
            # While running, the live fields (progress, latest values) go now too.
            if buf.session or self._heartbeat_on:
                buf.ask_urgent_locked()
            buf.force_derived = True
            if buf.pending_locked():
                self._use_locked()
            if not self._sender.quota:  # a used-up quota is probed gently, however often asked
                self._sender.retry_at = 0.0  # a caller waiting is worth a retry now
        self._wake.set()
        with self._idle:
            while buf.pending_locked() and not self.disabled:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._idle.wait(0.25 if remaining is None else min(remaining, 0.25))
                self._wake.set()
        if self.disabled:
            self.spool(final=True)
            return False
        # all sent, but not all as logged (thinned), or some left to `tfwatcher sync`
        return not self.stats["thinned"] and not self.left_in_spool[0]

    # ----- the spool ----------------------------------------------------------------------------

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
        # A spool is this writer giving up on sending (at exit, close, a permanent error): the
        # spill file's rows not uploaded yet are left to `tfwatcher sync` with the rest.
        if self._sender.spill.path is not None and self.spool_path is None:
            self.spool_path = self._sender.spill.path
        docs, points = self._sender.spill.seal()
        self.left_in_spool[0] += docs
        self.left_in_spool[1] += points
        with self._buffer.lock:
            rows = self._buffer.take_all_locked(final, time.monotonic(), self.interval, live)
        if not rows:
            return self.spool_path if docs else None
        try:
            path = self._write_spool(rows)
        except Exception as err:
            with self._buffer.lock:
                self._buffer.requeue_locked(rows)
            self.spool_error = f"{type(err).__name__}: {short(err)}"
            self._warn_once("spool", f"tfwatcher: could not save unsent data to {_spool.SPOOL_DIR} "
                                     f"({self.spool_error}); keeping it in memory and trying again")
            return None
        self.spool_error = None
        self.stats["spooled_docs"] += len(rows)
        points = sum(d.get("n", 0) for w, _p, d, _m in rows if w == "closed")
        self.stats["spooled_points"] += points
        self.left_in_spool[0] += len(rows)
        self.left_in_spool[1] += points
        return path

    def _write_spool(self, rows) -> Path:
        if self.spool_path is None:
            self.spool_path = _spool.new_path(_spool.SPOOL_DIR, self.session_path)
        return _spool.append(self.spool_path, rows)

    def cause(self) -> str:
        """Why data is not in Firestore yet, in a sentence (the at-exit message names it)."""
        if self.reason:
            return self.reason
        cause = self._sender.cause()
        if cause == "quota":
            return ("Firestore's daily write quota is used up (it resets at midnight Pacific "
                    "time).")
        if cause == "outage":
            return "Firestore could not be reached in time."
        return (f"Firestore had not taken the backlog yet ({self.pending():,} documents were still "
                f"waiting: points were logged faster than it takes them).")

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self.warned:
            self.warned.add(key)
            # Raised on the writer thread: no line of the user's code to point at, and a line
            # of ours would only clutter the message (notebooks show it).
            warnings.warn_explicit(message, RuntimeWarning, "tfwatcher", 0, module="tfwatcher")
