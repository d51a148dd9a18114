"""Spilling: closed chunks go to the spool file while Firestore does not take them, and
come back from it, in order, once it does. Nothing is thinned for lack of memory.

Memory holds at most MAX_BUFFERED_POINTS batch points waiting to be sent. During an outage
longer than that (a used-up quota, no network) or a backlog (a burst faster than Firestore
takes), the writer thread appends the closed chunks waiting, oldest first, to the writer's
spool file. Once that file has rows not uploaded, every later closed chunk goes there too, so
chunks reach Firestore in the order they were logged. Each round, once writes are accepted,
the same thread uploads the file's rows in order (a few seconds' worth a round); then the
round sends the rest (the open chunks, epochs, summaries, the session document). Those are
never in this file, so an older copy of a document never overwrites a newer one; and a
closed chunk is written once under a deterministic ID, so a row uploaded twice (also by a
`tfwatcher sync` run meanwhile) is harmless. When every row is uploaded the file is deleted,
under the spool's file lock, if nothing was appended since (`remove_spool`).

A final spool (at exit, `close`, a permanent error; tfwatcher.record.writer) seals the file
(`seal`): what it holds is left to `tfwatcher sync`, and a later spill starts a new file.

If the file cannot be written (a full disk), the chunks stay in memory; past twice the bound
the oldest are thinned, the one way left to lose detail, and that is said naming the disk.

Locks: `Writer._spool_lock` guards this object's file state (path, inode, offset) and every
append; `Buffer.lock` the counters of rows and points in the file (`Buffer.spilled`,
`Buffer.spilled_points`, counted as pending). The spool lock is taken first, never after;
commits run with neither held.
"""

from __future__ import annotations

import os
import time

from tfwatcher.base.contract import doc_path
from tfwatcher.record import commit, spool
from tfwatcher.record.chunk import thin_chunk

# Batch points held in memory while Firestore does not take them; past it, closed chunks go
# to the spool file (an environment variable lowers it for tests and small machines).
MAX_BUFFERED_POINTS = int(os.environ.get("TFWATCHER_MAX_BUFFERED_POINTS", "100000"))
UPLOAD_SECONDS = 2.0       # of uploading from the file per round, so the round's own send follows
READ_BYTES = 4_000_000     # read from the file at a time (whole rows)


class Spill:
    """The spill of one writer (`writer`, a tfwatcher.record.writer.Writer)."""

    def __init__(self, writer):
        self.writer = writer
        self.path = None    # the file spilled to and uploaded from; None: none yet (or sealed)
        self.inode = None   # ... which file under that name the offset is in
        self.offset = 0     # bytes of it uploaded
        self.gen = 0        # bumped by `seal`: an upload in flight then advances nothing

    def where(self):
        """The file spilled to (named now if there is none yet)."""
        w = self.writer
        with w._spool_lock:
            if self.path is None:
                self.path = spool.new_path(spool.SPOOL_DIR, w.session_path)
            return self.path

    # ----- memory to the file (the writer thread, every round) --------------------------------

    def spill(self, cause: str) -> None:
        """Move the closed chunks waiting to the file if the file has rows not uploaded yet
        (order) or more than MAX_BUFFERED_POINTS points wait in memory; `cause` (quota,
        outage or backlog) names why in the one message a cause gets."""
        w = self.writer
        buf = w._buffer
        with w._spool_lock:
            with buf.lock:
                waiting = buf.buffered_points_locked()
                if not (buf.spilled or waiting > MAX_BUFFERED_POINTS):
                    return
                buf.close_full_locked()  # chunks of the usual size, as a send would close them
                if not buf.closed:
                    return
                closed, buf.closed = buf.closed, {}
            rows = [("closed", doc_path(buf.sid, "batches", i), d, False) for i, d in closed.items()]
            try:
                if self.path is None:
                    self.path = spool.new_path(spool.SPOOL_DIR, w.session_path)
                spool.append(self.path, rows)
            except Exception as err:
                with buf.lock:  # back in front of any closed since, in their order
                    buf.closed = {**closed, **buf.closed}
                w.spool_error = f"{type(err).__name__}: {spool.short(err)}"
                failed = True
            else:
                failed = False
                points = sum(d.get("n", 0) for d in closed.values())
                with buf.lock:
                    buf.spilled += len(rows)
                    buf.spilled_points += points
                w.spool_path = self.path
                w.stats["spilled_docs"] += len(rows)
                w.stats["spilled_points"] += points
        if failed:
            self._thin_last_resort()
            return
        if cause == "backlog":
            w._warn_once("spill-backlog", f"tfwatcher: batch points arrive faster than Firestore "
                         f"takes them ({waiting:,} waiting, more than the {MAX_BUFFERED_POINTS:,} "
                         f"kept in memory): the oldest are saved in {self.path} and sent from there, "
                         f"in order, as Firestore catches up. Nothing is lost; flush() waits for them.")
        elif cause == "outage":
            w._warn_once("spill-outage", f"tfwatcher: Firestore has not answered for a while and "
                         f"{waiting:,} batch points wait, more than the {MAX_BUFFERED_POINTS:,} kept "
                         f"in memory: the oldest are saved in {self.path} and sent from there, in "
                         f"order, once it answers. Nothing is lost.")
        # (a used-up quota: its own message already said where the data is kept)

    def _thin_last_resort(self) -> None:
        """The file cannot be written: keep the chunks in memory, and past twice the bound
        thin the oldest (min, max and last per window kept), saying so."""
        w = self.writer
        buf = w._buffer
        with buf.lock:
            total = buf.buffered_points_locked()
            oldest = sorted(buf.closed.items(), key=lambda item: item[1]["index"])
        if total <= 2 * MAX_BUFFERED_POINTS:
            w._warn_once("spool", f"tfwatcher: could not save waiting data to {spool.SPOOL_DIR} "
                                  f"({w.spool_error}); keeping it in memory and trying again")
            return
        for doc_id, doc in oldest:
            if total <= MAX_BUFFERED_POINTS:
                break
            thinned = thin_chunk(doc)  # outside the lock: hooks never wait for this
            with buf.lock:
                if buf.closed.get(doc_id) is doc:
                    buf.closed[doc_id] = thinned
                    total -= doc["n"] - thinned["n"]
                    w.stats["thinned"] += doc["n"] - thinned["n"]
        w._warn_once("thinned", f"tfwatcher: the disk is full or cannot be written ({w.spool_error}: "
                                f"saving to {spool.SPOOL_DIR} failed) and more than "
                                f"{2 * MAX_BUFFERED_POINTS:,} batch points wait to be sent: older ones "
                                f"are being thinned (min, max and last kept per window) to bound "
                                f"memory. Epoch records are all kept. Free some disk space to keep "
                                f"every point.")

    # ----- the file to Firestore (the writer thread, when writes are accepted) ----------------

    def upload(self, sender, conn, seconds: float = UPLOAD_SECONDS) -> bool:
        """Upload the file's rows in order for about `seconds`; True once none is left (the
        file is then deleted). A refused commit raises (the rows stay in the file)."""
        w = self.writer
        buf = w._buffer
        deadline = time.monotonic() + seconds
        while True:
            with w._spool_lock:
                with buf.lock:
                    left = buf.spilled
                path, inode, offset, gen = self.path, self.inode, self.offset, self.gen
            if not left or path is None:
                return True
            # After a refusal the first commit is one row: a probe that costs little to encode.
            probing = sender.failures > 0
            got = spool.read_from(path, offset, inode, 1 if probing else READ_BYTES)
            if got is None or not got[0]:
                # Gone, or nothing more in it: a `tfwatcher sync` uploaded the rest.
                self._advance(gen, got and got[1], offset, left, None)
                return True
            rows, inode = got
            if conn.client is None:
                conn.client = w._client_factory()
            client = conn.client
            writes = [("spilled", r["path"], r["doc"], r["merge"]) for r, _end in rows]
            done = 0
            for group in commit.group(writes, sender._fit):
                for part in commit.fitting(lambda g: sender._commit(client, g), group,
                                           sender._split, sender._smaller):
                    points = sum(r["doc"].get("n", 0) for r, _e in rows[done:done + part])
                    done += part
                    self._advance(gen, inode, rows[done - 1][1], part, points)
            w.stats["uploaded_from_spool"] += len(rows)
            if probing:
                sender.accepted()
            if time.monotonic() >= deadline:
                with buf.lock:
                    return not buf.spilled

    def _advance(self, gen: int, inode, end: int, rows: int, points: int | None) -> None:
        """`rows` rows up to byte `end` are in Firestore (`points` None: all that is left)."""
        w = self.writer
        buf = w._buffer
        with w._spool_lock:
            if gen != self.gen:
                return  # sealed meanwhile: the file is left to `tfwatcher sync` whole
            self.offset, self.inode = end, inode
            with buf.lock:
                if points is None:
                    buf.spilled = buf.spilled_points = 0
                else:
                    buf.spilled = max(0, buf.spilled - rows)
                    buf.spilled_points = max(0, buf.spilled_points - points)
                left = buf.spilled
            # Appends take the spool lock too, so none comes between this and the removal;
            # remove_spool still keeps a file that grew (a cut row left by a killed process).
            if not left and self.path is not None and spool.remove_spool(self.path, end):
                if w.spool_path == self.path:
                    w.spool_path = None
                self.path, self.inode, self.offset = None, None, 0

    def seal(self) -> tuple[int, int]:
        """A final spool wrote to the file (`Writer._spool_lock` held): its rows not uploaded
        are left to `tfwatcher sync`. Returns how many rows and points those are."""
        buf = self.writer._buffer
        with buf.lock:
            left = (buf.spilled, buf.spilled_points)
            buf.spilled = buf.spilled_points = 0
        self.gen += 1
        self.path, self.inode, self.offset = None, None, 0
        return left
