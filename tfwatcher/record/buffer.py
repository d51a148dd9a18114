"""The writer's buffer: every document logged and not committed yet, behind one lock.

Plain state, like tfwatcher.record.summaries: no I/O, no thread, no call out to another
object while its lock is held (the summaries and the epoch table it drives are plain state
too). Hooks on the training thread append (`add_point`, `add_epoch`, `update_session`); the
writer thread takes what is due (`take_locked`), and puts back what was not committed
(`requeue_locked`). Methods ending in `_locked` expect `lock` held by the caller: the writer
(tfwatcher.record.writer) holds the same lock for its own flags, so that adding a document
and starting the thread that sends it are one step.

Lock order: `Buffer.lock` is the only lock here and it is a leaf: nothing is called while
holding it but this module and tfwatcher.record.summaries. The writer's `_spool_lock` is
taken before it, never after (tfwatcher.record.writer).
"""

from __future__ import annotations

import threading

from tfwatcher.base.contract import collection_path, doc_path, session_path
from tfwatcher.record.chunk import (CHUNK_MAX_BYTES, CHUNK_MAX_POINTS, CHUNK_POINTS, GROWN_MAX_BYTES,
                                    GROWN_MAX_POINTS, Chunk)
from tfwatcher.record.commit import SERVER_TIME
from tfwatcher.record.summaries import EpochTable, Summaries

# A write taken for a send: (what, path, doc, merge); `what` is first, closed, open, epoch,
# derived or session (the order in which a round sends them).
Write = tuple

class Buffer:
    """The documents of one session waiting to be sent (see the module docstring).

    Args:
        sid: the session's ID; documents go under `sessions/{sid}`.
        stats: the writer's counters; `points` and `max_backlog` are kept here.
        derived: keep the summaries and the epoch table too.
        chunk_max_points: points after which a chunk closes at once.
    """

    def __init__(self, sid: str, stats: dict, derived: bool = True,
                 chunk_max_points: int = CHUNK_MAX_POINTS):
        self.sid = sid
        self.session_path = session_path(sid)
        self.stats = stats
        self.derived = derived
        self.chunk_max_points = chunk_max_points
        self.grow = False  # nobody watches: chunks close at the GROWN_ limits (set by the sender)
        self.lock = threading.Lock()
        self.open: dict[str, Chunk] = {}
        self.next_index: dict[str, int] = {}
        self.closed: dict[str, dict] = {}      # doc id -> chunk doc waiting to be sent
        self.epochs: dict[str, dict] = {}      # doc id -> epoch doc waiting to be sent
        self.first: dict[str, tuple[dict, bool]] = {}  # path -> (doc, merge): sent before all else
        self.summaries: dict[str, Summaries] = {}  # kind -> its summaries
        self.last_head: dict[str, float] = {}
        self.open_sent: dict[str, float] = {}   # kind -> when a round last sent its open chunk
        self.closed_sent: dict[str, float] = {}  # kind -> ... a chunk that filled (unwatched)
        self.table = EpochTable(collection_path(sid, "tables"))
        self.last_table = float("-inf")
        self.derived_docs: dict[str, dict] = {}  # path -> summary or table doc waiting to be sent
        self.force_derived = False               # flush(): summaries and table go in the next round
        self.session: dict = {}                  # session fields waiting to be sent
        self.session_urgent = False
        # Counts the asks for an urgent session write: a round whose live fields were read
        # before the newest ask sends them, but leaves the ask for the next round (with fresh
        # fields), so a flush never settles for fields read before it was called.
        self.urgent_asks = 0
        self.taken: list = []                    # the writes in flight, not committed yet
        self.taken_spooled = False               # ... and a final spool saved them meanwhile
        self.spilled = 0                         # closed chunks in the spool file, not uploaded yet
        self.spilled_points = 0                  # ... and their points (tfwatcher.record.spill)
        self.index = None                        # the run's row in its workspace, if any (RunIndex)

    # ----- hooks (training thread), lock held ---------------------------------------------

    def add_point_locked(self, kind: str, step: int, epoch: int, batch: int, seconds: float,
                         t: float, metrics: dict) -> None:
        chunk = self.open.get(kind)
        if chunk is not None and chunk.measured and chunk.breaks(step, epoch, batch, seconds, t, metrics):
            # This point would widen a column packed compactly when the chunk was measured,
            # past what its measured size allows for: the chunk closes before it (chunk.py).
            self.closed[chunk.doc_id] = chunk.to_doc()
            del self.open[kind]
            chunk = None
        if chunk is None:
            index = self.next_index.get(kind, 0)
            chunk = self.open[kind] = Chunk(kind, index)
            self.next_index[kind] = index + 1
        chunk.add(step, epoch, batch, seconds, t, metrics)
        if self.derived and kind != "system":  # ~360 samples an hour: its chunks suffice
            summaries = self.summaries.get(kind)
            if summaries is None:
                summaries = self.summaries[kind] = Summaries(kind, collection_path(self.sid, "summaries"))
            summaries.add(step, t, seconds, chunk.index, metrics)
        self.stats["points"] += 1
        if self.index is not None and kind == "train":
            self.index.note_point(metrics)
        if self.grow:
            max_points, max_bytes = max(self.chunk_max_points, GROWN_MAX_POINTS), GROWN_MAX_BYTES
        else:
            max_points, max_bytes = self.chunk_max_points, CHUNK_MAX_BYTES
        doc = (chunk.to_doc() if chunk.n >= max_points
               else chunk.settle(max_bytes) if chunk.bytes >= max_bytes else None)
        if doc is not None:
            self.closed[chunk.doc_id] = doc
            del self.open[kind]

    def add_epoch_locked(self, doc_id: str, doc: dict) -> None:
        self.epochs[doc_id] = doc
        if self.derived:
            for path, table_doc in self.table.add(doc_id, doc):
                self.derived_docs[path] = table_doc

    def close_chunks_locked(self, dirty_only: bool = False) -> None:
        """Close the open chunks: those with points (a new fit starts its own), or for a
        final spool those not in Firestore already (`dirty_only`)."""
        for kind, chunk in list(self.open.items()):
            if chunk.dirty if dirty_only else chunk.n:
                self.closed[chunk.doc_id] = chunk.to_doc()
            del self.open[kind]

    def close_full_locked(self) -> None:
        """Close the open chunks that a send would close (CHUNK_POINTS or CHUNK_BYTES)."""
        for kind, chunk in list(self.open.items()):
            if chunk.full():
                self.closed[chunk.doc_id] = chunk.to_doc()
                del self.open[kind]

    # ----- counts -------------------------------------------------------------------------

    def pending_locked(self) -> int:
        """Documents neither committed nor spooled yet (including those in flight)."""
        return (len(self.first) * bool(self.closed or self.epochs or self.open
                                       or self.session or self.taken or self.spilled)
                + len(self.closed) + self.spilled + len(self.epochs) + len(self.derived_docs) + self.table.dirty
                + sum(s.changed for s in self.summaries.values())
                + sum(c.dirty for c in self.open.values())
                + (1 if self.session or self.session_urgent else 0) + len(self.taken)
                + (1 if self.index is not None and self.index.pending is not None else 0))

    def buffered_points_locked(self) -> int:
        """Points held in chunks that are not (or not wholly) committed yet."""
        return (sum(c.n for c in self.open.values() if c.dirty)
                + sum(d["n"] for d in self.closed.values()))

    # ----- the writer thread, lock held ---------------------------------------------------

    def ask_urgent_locked(self) -> None:
        """The session document goes in the next round, with live fields read after this."""
        self.session_urgent = True
        self.urgent_asks += 1

    def take_locked(self, now: float, interval: float, closing: bool, heartbeat_on: bool,
                    due: bool, live_wanted: bool, live: dict, hold_closed: bool = False,
                    live_asks: int | None = None, grow: bool = False,
                    heartbeat: float = 10.0) -> list[Write]:
        """Pending writes, oldest kinds first, the session document last; they become the
        writes in flight (`taken`). `live` are the session's live fields, read (without the
        lock) if `live_wanted`; `due` says a heartbeat is due. `hold_closed`: the spool file
        still has older chunks to upload, so closed chunks stay (to follow them there).
        `live_asks`: `urgent_asks` when the live fields were read (None: read now).
        `grow`: nobody watches (tfwatcher.record.attention), so open chunks close only at the
        hard limits (CHUNK_MAX_POINTS, CHUNK_MAX_BYTES): fewer, fuller documents.
        `heartbeat`: the period in force; the workspace's row of the run (tfwatcher.record.
        run_index) follows the session document at most that often, or at a status change."""
        writes: list[Write] = []
        for path, (doc, merge) in self.first.items():
            writes.append(("first", path, doc, merge))
        self.first = {}
        if not hold_closed:
            for doc_id, doc in self.closed.items():
                writes.append(("closed", doc_path(self.sid, "batches", doc_id), doc, False))
                if grow:  # the kind's points reach Firestore now: its open chunk may wait
                    self.closed_sent[doc.get("kind")] = now
            self.closed = {}
        force = self.force_derived or closing or self.session_urgent
        for kind, chunk in list(self.open.items()):
            if hold_closed and chunk.full():  # closed now, sent after the older ones
                self.close_full_locked()
                continue
            # An open chunk goes at most once an interval (an epoch wakes the thread early).
            # Unwatched, once an interval per kind (a kind first seen unwatched counts from
            # this round), and not within half an interval of a full chunk of its kind: a
            # fast run's full chunks go as they fill, in early rounds, and the chunk just
            # opened grows on instead of closing half-empty at the next round. A point waits
            # 1.5 intervals at most.
            full = chunk.full() and not grow
            chunk_due = now - chunk.sent_at >= 0.9 * interval
            if grow:
                chunk_due = (now - max(chunk.sent_at, self.open_sent.setdefault(kind, now)) >= 0.9 * interval
                             and now - self.closed_sent.get(kind, float("-inf")) >= 0.5 * interval)
            if chunk.dirty and (force or full or chunk_due):
                chunk.dirty = False
                chunk.sent_at = now
                self.open_sent[kind] = now
                # Its last write: later points start the next chunk. Unwatched, a chunk sent
                # at a round is closed too (unless still small), so a viewer who arrives
                # later receives each grown chunk once, not again when it closes.
                if full or (grow and chunk.n >= CHUNK_POINTS):
                    del self.open[kind]
                    writes.append(("closed", doc_path(self.sid, "batches", chunk.doc_id),
                                   chunk.to_doc(), False))
                else:
                    writes.append(("open", doc_path(self.sid, "batches", chunk.doc_id),
                                   chunk.to_doc(), False))
        for doc_id, doc in self.epochs.items():
            writes.append(("epoch", doc_path(self.sid, "epochs", doc_id), doc, False))
        self.epochs = {}
        try:
            self.take_derived_locked(now, force, interval)
        except BaseException:
            # A bug in the summaries: what this round took so far is put back, not lost.
            self.requeue_locked(writes)
            raise
        for path, doc in self.derived_docs.items():
            writes.append(("derived", path, doc, False))
        self.derived_docs = {}
        self.force_derived = False
        if (self.session_urgent or due) and not live_wanted:
            pass  # asked for (by flush) after the live fields were read: next round, with them
        elif self.session_urgent or due or (self.session and not heartbeat_on):
            fields = dict(live)
            fields.update(self.session)
            fields["heartbeat"] = SERVER_TIME
            self.session = {}
            if live_asks is None or live_asks == self.urgent_asks:
                self.session_urgent = False  # else asked again since `live` was read: once more
            writes.append(("session", self.session_path, fields, True))
            if self.index is not None:
                self.index.follow(fields, now, heartbeat)
        row = self.index.take(SERVER_TIME) if self.index is not None else None
        if row is not None:
            writes.append(row)
        if writes and len(writes) == sum(w[0] == "first" for w in writes):
            # Only the session's own documents: they wait for something to go with.
            self.first = {path: (doc, merge) for _w, path, doc, merge in writes}
            writes = []
        self.taken, self.taken_spooled = list(writes), False
        backlog = self.pending_locked()
        if backlog > self.stats["max_backlog"]:
            self.stats["max_backlog"] = backlog
        return writes

    def take_derived_locked(self, now: float, force: bool, interval: float) -> None:
        """Make the summary heads and parts that are due (every HEAD_INTERVAL while points
        arrive, or `force`) and the epoch table's open part (at most once an interval)."""
        for kind, summaries in self.summaries.items():
            if summaries.changed and (force or summaries.due(now, self.last_head.get(kind, float("-inf")), interval)):
                chunk = self.open.get(kind)
                tail = chunk.index if chunk is not None else self.next_index.get(kind, 0)
                for path, doc in summaries.take(tail):
                    self.derived_docs[path] = doc
                self.last_head[kind] = now
        if self.table.dirty and (force or now - self.last_table >= 0.9 * interval):
            path, doc = self.table.doc()
            self.derived_docs[path] = doc
            self.last_table = now

    def take_all_locked(self, final: bool, now: float, interval: float,
                        live: dict | None) -> list[Write]:
        """Everything held, for the spool; `final` also takes the writes in flight and the
        open chunks (later points start new ones)."""
        if final and self.taken:
            # A send still in flight (its client may be stuck looking for credentials, say;
            # at exit its thread dies with the process): its writes are saved too. Put
            # back as a failed send would (older never replacing newer); one that lands
            # after all is also in the spool, which is harmless (same IDs).
            self.requeue_locked(self.taken)
            self.taken, self.taken_spooled = [], True
        if final:
            self.take_derived_locked(now, True, interval)
            self.close_chunks_locked(dirty_only=True)
        rows = [("first", path, d, merge) for path, (d, merge) in self.first.items()]
        rows += [("closed", doc_path(self.sid, "batches", i), d, False) for i, d in self.closed.items()]
        rows += [("epoch", doc_path(self.sid, "epochs", i), d, False) for i, d in self.epochs.items()]
        rows += [("derived", p, d, False) for p, d in self.derived_docs.items()]
        if self.session or live:
            rows.append(("session", self.session_path, {**(live or {}), **self.session}, True))
            if self.index is not None:
                self.index.follow(rows[-1][2], now, 0.0)
        row = self.index.take(SERVER_TIME) if self.index is not None else None
        if row is not None:
            rows.append(row)
        self.first, self.closed, self.epochs, self.session = {}, {}, {}, {}
        self.derived_docs = {}
        self.session_urgent = False
        return rows

    def committed_locked(self, writes: list[Write], count: int) -> None:
        """The first `count` of the writes in flight are committed (all of them: done)."""
        if count >= len(writes):
            self.taken, self.taken_spooled = [], False
        elif not self.taken_spooled:
            self.taken = writes[count:]

    def failed_locked(self, writes: list[Write], count: int) -> None:
        """A send failed after its first `count` writes: the rest go back in the queue
        (unless a final spool saved them meanwhile)."""
        if not self.taken_spooled:
            self.requeue_locked(writes[count:])
        self.taken, self.taken_spooled = [], False

    def requeue_locked(self, writes) -> None:
        """Put writes back (none committed): older copies never replace newer ones."""
        for what, path, doc, merge in writes:
            doc_id = path.rsplit("/", 1)[-1]
            if what == "first":
                self.first.setdefault(path, (doc, merge))
            elif what == "closed":
                self.closed.setdefault(doc_id, doc)
            elif what == "open":
                chunk = self.open.get(doc["kind"])
                if chunk is not None and chunk.doc_id == doc_id:
                    chunk.dirty = True
                elif doc_id not in self.closed:
                    # Closed since; its closed copy was sent already, so resend this one.
                    self.closed[doc_id] = doc
            elif what == "epoch":
                self.epochs.setdefault(doc_id, doc)
            elif what == "derived":
                self.derived_docs.setdefault(path, doc)
            elif what == "index":
                if self.index is not None:
                    self.index.put_back(doc)
            else:
                doc = {k: v for k, v in doc.items() if k != "heartbeat"}
                self.session = {**doc, **self.session}
                self.ask_urgent_locked()
