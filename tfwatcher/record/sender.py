"""The writer's thread: a loop of rounds, each taking what is due from the buffer and
committing it (tfwatcher.record.writer is the API that starts it).

`Sender.run` is the thread's body. What it opens (a Firestore client, the listener started
with it) is a `Connection`, a local of that loop, closed when the loop ends: no other thread
ever sees it. `Sender.step` runs one round on the caller's thread (tests drive an
`autostart=False` writer that way, with a connection of their own).

Errors: every write taken for a round is committed or put back, whatever fails (creating the
client, encoding, a commit; a BaseException too, before it goes on up). `classify` in
tfwatcher.base.access says what an error means: a commit too large is split in halves
(tfwatcher.record.commit), a transient error retried with capped exponential backoff and
jitter, a used-up quota probed gently (backoff up to `Writer.quota_probe_cap`, five minutes)
and said once, a permanent one hands over to the spool (`_go_offline`). Whatever the cause, a
round first moves closed chunks to the spool file when more than the memory bound wait
(tfwatcher.record.spill), and, once writes are accepted, uploads that file's rows in order
before its own send.

Locks: the writer's lock (`Buffer.lock`) only around reading and changing state; the client,
the listener, the sampler and the session's `session_fields` are all called without it.
"""

from __future__ import annotations

import logging
import random
import time

from tfwatcher.base.access import classify, quota_message
from tfwatcher.record.attention import BACKLOG_CHECK_SECONDS, Attention, presence_listener
from tfwatcher.record import commit, spool
from tfwatcher.record.buffer import Write
from tfwatcher.record.spill import MAX_BUFFERED_POINTS, Spill  # noqa: F401 (re-exported)
from tfwatcher.record.spool import short

log = logging.getLogger("tfwatcher")


class Connection:
    """What one loop opened: its client and the listener it started with it."""

    __slots__ = ("client", "unsubscribe", "listener_gen", "presence")

    def __init__(self):
        self.client = None
        self.unsubscribe = None
        self.listener_gen = 0
        self.presence = None   # ends the presence listener (tfwatcher.record.attention)

    def release(self) -> None:
        """End the listeners, then the client's channels (best effort: nothing is lost here)."""
        for close in (self.unsubscribe, self.presence, getattr(self.client, "close", None)):
            if close is not None:
                try:
                    close()
                except Exception:
                    pass
        self.client = self.unsubscribe = self.presence = None


class Sender:
    """The rounds of one writer (`writer`, a tfwatcher.record.writer.Writer)."""

    def __init__(self, writer):
        self.writer = writer
        self.failures = 0
        self.retry_at = 0.0
        self.quota = False             # the last refusal was a used-up quota
        self.spill = Spill(writer)
        self.last_heartbeat = 0.0
        self.sampler = None            # system metrics (Session), see Writer.set_sampler
        self.sample_every = 10.0
        self.sampled_at = float("-inf")
        self.listener = None           # listener(client) -> unsubscribe callable
        self.listener_gen = 0
        self.manual = Connection()     # step()'s connection: the caller is its loop
        self.attention = Attention(writer.unwatched_every)  # the cadence (under Buffer.lock)

    # ----- the loop -------------------------------------------------------------------------

    def run(self) -> None:
        """The thread's body: rounds every `interval` (every `unwatched_every` while nobody
        watches: tfwatcher.record.attention) until the writer is done with it."""
        w = self.writer
        conn = Connection()
        try:
            started = time.monotonic()
            early_at = float("-inf")
            while True:
                # Rounds start every period (not a period after the last one ended), so a
                # point waits at most one period plus one commit.
                if self._wait(started):
                    # Early rounds (an epoch, a flush) come at most once a `min_round_gap`
                    # (the Writer's): a fit doing 20 epochs a second sends ~5 rounds a second,
                    # not 20, each a commit whose encoding competes with training for the GIL.
                    # An epoch a second or slower is never held back.
                    gap = early_at + w.min_round_gap - time.monotonic()
                    if gap > 0 and not w._stopping:
                        time.sleep(gap)
                    early_at = time.monotonic()
                started = time.monotonic()
                self.round(started, conn)
                if w._round_done():
                    return
        finally:
            w._thread_ended()
            conn.release()

    def _wait(self, started: float) -> bool:
        """Wait for the next round; True if woken early for something that does not wait."""
        w = self.writer
        while True:
            with w._buffer.lock:
                period = self.attention.period(w.interval)
                watched = self.attention.watched
            remaining = started + period - time.monotonic()
            if remaining <= 0:
                return False
            # Unwatched, the wait is sliced to look at the backlog now and then.
            woken = w._wake.wait(remaining if watched else min(remaining, BACKLOG_CHECK_SECONDS))
            w._wake.clear()
            with w._buffer.lock:
                early = self.early_locked()
            if early:
                return woken

    def early_locked(self) -> bool:
        """A wake that starts a round now: any while watched; unwatched, only for what may not
        wait for the slow cadence (a status change or other urgent session update, a flush,
        the end, a viewer's arrival, a backlog past half the memory bound)."""
        w = self.writer
        buf = w._buffer
        a = self.attention
        return (a.watched or a.arrived or a.redeclare or w._closing or w._stopping
                or buf.session_urgent or buf.force_derived
                or buf.buffered_points_locked() >= MAX_BUFFERED_POINTS // 2)

    def step(self) -> None:
        """One round now on the caller's thread, ignoring any backoff."""
        with self.writer._buffer.lock:
            self.retry_at = 0.0
        self.round(time.monotonic(), self.manual)

    def round(self, now: float, conn: Connection) -> None:
        w = self.writer
        self._settle(now)
        self._sample(now)
        try:
            if w.disabled:
                w.spool(final=w._closing)
                return
            self.spill.spill(self.cause())
            if now >= self.retry_at:
                self._send(now, conn)
        except Exception as err:  # a bug of ours: keep the data, warn, try again later
            w._warn_once("bug", f"tfwatcher: writer error {err!r}; will retry")
            self._failed()

    def _settle(self, now: float) -> None:
        """The cadence for this round; a change is declared in the session document at once
        (`heartbeat_every`), so readers judge "stalled" against the period in force."""
        from tfwatcher.record.documents import heartbeat_fields

        w = self.writer
        with w._buffer.lock:
            watched, changed = self.attention.settle_locked(now)
            w._buffer.grow = not watched
            declare = changed and w._heartbeat_on
            heartbeat = self.attention.heartbeat(w.heartbeat)
        if declare:
            w.update_session(heartbeat_fields(heartbeat), urgent=True)

    def cause(self) -> str:
        """Why data waits: `quota` (refused for quota), `outage` (the last send failed) or
        `backlog` (sends succeed, but slower than points arrive)."""
        return "quota" if self.quota else "outage" if self.failures else "backlog"

    def _failed(self) -> None:
        with self.writer._buffer.lock:
            self.failures += 1
            self.retry_at = time.monotonic() + self._backoff()

    def _backoff(self) -> float:
        w = self.writer
        if self.quota:  # a probe a few minutes apart: refused writes are not billed, but quiet
            base = min(w.quota_probe_cap, 2.0 ** min(self.failures, 10))
        else:
            base = min(w.backoff_cap, 0.5 * 2 ** min(self.failures, 10))
        return base * random.uniform(0.5, 1.0)

    def _sample(self, now: float) -> None:
        w = self.writer
        with w._buffer.lock:
            sampler = self.sampler if w._heartbeat_on else None
            if sampler is None or now - self.sampled_at < self.sample_every:
                return
            self.sampled_at = now
        try:
            sampler()  # outside our lock: it calls add_point like a hook
        except Exception as err:  # a sampler of ours never raises; if it does, stop asking it
            w._warn_once("sampler", f"tfwatcher: system metrics off ({type(err).__name__})")
            with w._buffer.lock:
                if self.sampler is sampler:
                    self.sampler = None

    # ----- one send -------------------------------------------------------------------------

    def _take(self, now: float, hold_closed: bool = False) -> list[Write]:
        w = self.writer
        buf = w._buffer
        with buf.lock:
            due = w._heartbeat_on and now - self.last_heartbeat >= self.attention.heartbeat(w.heartbeat)
            live_wanted = buf.session_urgent or due
            asks = buf.urgent_asks
            period, grow = self.attention.period(w.interval), not self.attention.watched
            heartbeat = self.attention.heartbeat(w.heartbeat)
        # The session's fields are read without holding our lock (see the module docstring).
        live = w._session_fields() if live_wanted else {}
        with buf.lock:
            return buf.take_locked(now, period, w._closing, w._heartbeat_on, due,
                                   live_wanted, live, hold_closed, live_asks=asks, grow=grow,
                                   heartbeat=heartbeat)

    def _send(self, now: float, conn: Connection) -> None:
        w = self.writer
        buf = w._buffer
        try:
            # What was spilled goes first, in order; closed chunks wait behind it.
            caught_up = self.spill.upload(self, conn)
        except Exception as err:
            self._refused(err)
            return
        writes = self._take(now, hold_closed=not caught_up)
        if not writes:
            if conn.client is not None:
                self._sync_listener(conn)
            return
        committed = 0
        try:
            if conn.client is None:
                conn.client = w._client_factory()
            self._sync_listener(conn)
            self._sync_presence(conn)
            client = conn.client
            groups = commit.group(writes, self._fit)
            if self.failures and len(groups[0]) > 1:  # after a refusal, probe with one write
                groups[:1] = [groups[0][:1], groups[0][1:]]
            for writes_group in groups:
                for part in commit.fitting(lambda g: self._commit(client, g), writes_group,
                                           self._split, self._smaller):
                    committed += part
                    with buf.lock:
                        buf.committed_locked(writes, committed)
            self.accepted()
            with buf.lock:
                if any(wr[0] == "session" for wr in writes):
                    self.last_heartbeat = now
        except BaseException as err:
            # Whatever failed (client, encoding, commit), nothing taken is dropped.
            with buf.lock:
                buf.failed_locked(writes, committed)
            if not isinstance(err, Exception):
                raise
            self._refused(err)

    def accepted(self) -> None:
        """A commit went through: the outage, or the quota, is over."""
        if self.failures:
            log.info("tfwatcher: Firestore takes writes again; sending what waited")
        with self.writer._buffer.lock:
            self.failures = 0
            self.quota = False

    def _refused(self, err: Exception) -> None:
        """A send failed (nothing of it lost): name the cause once, and wait before the next."""
        w = self.writer
        w.stats["errors"] += 1
        kind = classify(err)
        if kind == "permanent":
            self._go_offline(err)
            return
        with w._buffer.lock:
            self.quota = kind == "quota"
        self._failed()
        if self.quota:
            w._warn_once("quota", f"tfwatcher: {quota_message(self.spill.where())}")
        else:
            w._warn_once("transient", f"tfwatcher: cannot reach Firestore ({type(err).__name__}: "
                                      f"{short(err)}); keeping the data and retrying in the "
                                      f"background")

    def _go_offline(self, err: BaseException) -> None:
        """A permanent error: say once what to fix; from now on the writer spools."""
        w = self.writer
        explain = w._explain
        if explain is None:
            from tfwatcher.base.access import explain
        reason = explain(err)
        with w._buffer.lock:
            w.reason = reason
            w.disabled = True
        spooled = w.spool(final=w._closing)
        if spooled:
            where = (f"Everything this run logs is saved in {spooled}; once that is fixed, "
                     f"`tfwatcher sync` uploads it.")
        elif w.spool_error:
            where = (f"Saving it to {spool.SPOOL_DIR} failed too ({w.spool_error}); it is kept in "
                     f"memory and saving is tried again.")
        else:
            where = (f"Everything this run logs will be saved under {spool.SPOOL_DIR}; once that is "
                     f"fixed, `tfwatcher sync` uploads it.")
        w._warn_once("permanent", f"tfwatcher: nothing is being sent to Firestore: {reason}\n"
                                     f"Training goes on. {where}")
        with w._idle:
            w._idle.notify_all()

    def _fit(self, write: Write, _estimate: int, limit: int = commit.DOC_BYTES) -> Write | None:
        """A write whose document may be over Firestore's 1 MiB: the same with the metrics that
        fit under `limit` (named in a warning, once), None if it cannot be made to fit."""
        what, path, doc, merge = write
        fitted, omitted = commit.fit_document(doc, limit)
        if fitted is doc:
            return write
        w = self.writer
        size = commit.stored_size(doc)
        if fitted is None:
            w._warn_once("too_large", f"tfwatcher: {path} would be {size:,} bytes, over Firestore's "
                                      f"limit of 1 MiB a document, and has no metrics to leave out: "
                                      f"it is not sent. The rest of the run is.")
            return None
        w._warn_once("too_large", f"tfwatcher: {path} would be {size:,} bytes, over Firestore's limit "
                                  f"of 1 MiB a document (too many metrics, or too long names): it is "
                                  f"sent with the metrics that fit, {omitted:,} left out (its "
                                  f"`omitted_metrics` says how many). The rest of the run is sent "
                                  f"as usual; log fewer metrics to keep them all.")
        return (what, path, fitted, merge)

    def _smaller(self, write: Write) -> Write | None:
        """A write Firestore refused as too large on its own: cut to half its size, or None."""
        return self._fit(write, 0, min(commit.DOC_BYTES, commit.stored_size(write[2]) // 2))

    def _split(self) -> None:
        self.writer.stats["splits"] += 1

    def _sync_listener(self, conn: Connection) -> None:
        """Start the newest listener with this loop's client (ending the previous one)."""
        w = self.writer
        with w._buffer.lock:
            listener, gen = self.listener, self.listener_gen
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
            w._warn_once("listener", f"tfwatcher: remote stop unavailable ({type(err).__name__})")

    def _sync_presence(self, conn: Connection) -> None:
        """Start the presence listener with this loop's client, once (none if the writer
        keeps the watched cadence always)."""
        w = self.writer
        if conn.presence is not None or not self.attention.enabled:
            return
        try:
            conn.presence = presence_listener(w._buffer.sid, w._presence_seen)(conn.client)
        except Exception as err:
            conn.presence = lambda: None  # not again with this client; the slow cadence holds
            w._warn_once("presence", f"tfwatcher: cannot tell when someone watches "
                                     f"({type(err).__name__}); sending at the slow cadence")

    def _commit(self, client, writes: list[Write]) -> None:
        """One commit of `writes` (the on_send hook sees them first)."""
        w = self.writer
        batch = commit.batch_of(client, writes)
        if w.on_send:
            w.on_send(writes)
        batch.commit(retry=None, timeout=w.commit_timeout)
        w.stats["commits"] += 1
        w.stats["writes"] += len(writes)
