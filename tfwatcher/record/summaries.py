"""What a reader needs to open a long run in a few reads (docs/schema.md, schema 2).

* `Summaries`: per batch kind, min/max/last/count of every metric per bucket of steps, at six
  levels of bucket width (128, 1,024, … 4,194,304 steps; a fast run sends the five from 1,024 up,
  FAST_STEPS_PER_SECOND), in part documents of 256 buckets and a small head document with the
  buckets not in a part yet.
* `EpochTable`: every epoch record also as rows of a few table documents.

Both are plain state machines driven by the writer under its lock: `add` on the training
thread (microseconds: only the level-1 bucket is touched per point; a bucket is folded into
the coarser levels once, when the run moves past it), `take` on the writer thread to make the
documents to send. Neither does I/O or calls out.
"""

from __future__ import annotations

from tfwatcher.base.contract import (PART_BUCKETS, RAW_THROUGH, SCHEMA, SUMMARY_WIDTHS, TABLE_ROWS,
                                     summary_head_id, summary_part_id, table_part_id)

# The level widths and part size are the contract's; buckets are found by shifts, which
# hold only for these powers of two (checked here, at import).
WIDTHS = SUMMARY_WIDTHS
LEVELS = len(WIDTHS)
BASE_SHIFT = 7           # level 1: 2**7 = 128 steps per bucket
LEVEL_SHIFT = 3          # each level 8 times wider
PART_SHIFT = 8           # 2**8 = 256 buckets per part document
if WIDTHS != tuple(1 << (BASE_SHIFT + LEVEL_SHIFT * i) for i in range(LEVELS)) or PART_BUCKETS != 1 << PART_SHIFT:
    raise ImportError("tfwatcher.record.summaries: the contract's summary widths or part size "
                      "no longer match the shifts here")
MAX_METRICS = 64         # per kind; keeps a part under Firestore's 1 MiB (256 × 64 × 5 numbers)
OMITTED_LISTED = 1000    # names of metrics past MAX_METRICS listed in the head, at most
# Sizes chosen for the write budget: one head per kind every HEAD_INTERVAL plus a part per
# 32,768 steps costs under 10 % more writes than the chunks and heartbeats (bench/writes.py).
HEAD_BYTES = 150_000     # above this estimate, open parts go to their own documents
HEAD_INTERVAL = 30.0     # seconds between head writes while points arrive (the raw tail is fresher)

TABLE_BYTES = 600_000

# A fast run's finest level costs a part document per 32,768 steps: 220 writes an hour at
# 2,000 batches/s, whatever the cadence. A kind logged faster than FAST_STEPS_PER_SECOND (as
# measured once DECIDE_STEPS steps are in, the first bucket left out: Keras's first batch holds
# its compile time) keeps no 128-step level: its summaries start at 1,024 steps a bucket (half a
# second at 2,000/s) and the head says so in `widths`, which readers follow. Decided before a
# head a reader uses (readers read raw chunks below 10,000 steps) and before any level-1 part.
FAST_STEPS_PER_SECOND = 500.0
DECIDE_STEPS = RAW_THROUGH

# Per-metric statistics of a bucket, as a list (fast to update in place):
MIN, MAX, LAST, LAST_STEP, COUNT, BAD, BAD_STEP, BAD_VALUE = range(8)


def _new_stats() -> list:
    return [None, None, None, -1, 0, 0, None, None]


class _Bucket:
    __slots__ = ("n", "step", "time", "chunk", "sec", "m", "pending")

    def __init__(self):
        self.n = 0
        self.step = -1       # the highest step in the bucket ...
        self.time = None     # ... and the time it was logged
        self.chunk = None    # the lowest raw chunk index of its points
        self.sec = None      # stats of seconds per batch
        self.m: dict[str, list] = {}
        self.pending = True  # changed since its part document was last made

    def add(self, step, t, seconds, chunk, metrics, names) -> None:
        self.n += 1
        if step >= self.step:
            self.step, self.time = step, t
        if self.chunk is None or chunk < self.chunk:
            self.chunk = chunk
        if seconds is not None:
            sec = self.sec
            if sec is None:
                sec = self.sec = _new_stats()
            _update(sec, step, seconds)
        m = self.m
        for name, value in metrics.items():
            st = m.get(name)
            if st is None:
                if name not in names:
                    continue
                st = m[name] = _new_stats()
            _update(st, step, value)
        self.pending = True

    def merge(self, other: "_Bucket") -> None:
        """Fold `other` (logged after everything in self) into this bucket."""
        self.n += other.n
        if other.step >= self.step:
            self.step, self.time = other.step, other.time
        if other.chunk is not None and (self.chunk is None or other.chunk < self.chunk):
            self.chunk = other.chunk
        if other.sec is not None:
            if self.sec is None:
                self.sec = _new_stats()
            _merge(self.sec, other.sec)
        for name, ost in other.m.items():
            st = self.m.get(name)
            if st is None:
                self.m[name] = list(ost)
            else:
                _merge(st, ost)
        self.pending = True

    def copy(self) -> "_Bucket":
        c = _Bucket()
        c.n, c.step, c.time, c.chunk = self.n, self.step, self.time, self.chunk
        c.sec = None if self.sec is None else list(self.sec)
        c.m = {k: list(v) for k, v in self.m.items()}
        return c


def _update(st: list, step, value) -> None:
    if value is None:
        return
    if value - value == 0:  # finite (NaN and ±Inf give NaN)
        if st[COUNT]:
            if value < st[MIN]:
                st[MIN] = value
            elif value > st[MAX]:
                st[MAX] = value
        else:
            st[MIN] = st[MAX] = value
        st[COUNT] += 1
        if step >= st[LAST_STEP]:
            st[LAST], st[LAST_STEP] = value, step
    else:
        st[BAD] += 1
        if st[BAD_STEP] is None or step < st[BAD_STEP]:
            st[BAD_STEP], st[BAD_VALUE] = step, value


def _merge(st: list, o: list) -> None:
    if o[COUNT]:
        if st[COUNT]:
            if o[MIN] < st[MIN]:
                st[MIN] = o[MIN]
            if o[MAX] > st[MAX]:
                st[MAX] = o[MAX]
        else:
            st[MIN], st[MAX] = o[MIN], o[MAX]
        st[COUNT] += o[COUNT]
        if o[LAST_STEP] >= st[LAST_STEP]:
            st[LAST], st[LAST_STEP] = o[LAST], o[LAST_STEP]
    if o[BAD]:
        st[BAD] += o[BAD]
        if st[BAD_STEP] is None or o[BAD_STEP] < st[BAD_STEP]:
            st[BAD_STEP], st[BAD_VALUE] = o[BAD_STEP], o[BAD_VALUE]


class _Level:
    __slots__ = ("index", "shift", "parts", "dirty", "cur_part")

    def __init__(self, index: int):
        self.index = index                      # 1-based level number
        self.shift = LEVEL_SHIFT * (index - 1)  # level-1 bucket >> shift = this level's bucket
        self.parts: dict[int, dict[int, _Bucket]] = {}
        self.dirty: set[int] = set()            # parts changed since their document was made
        self.cur_part = -1

    def bucket(self, b: int) -> _Bucket:
        p = b >> PART_SHIFT
        part = self.parts.get(p)
        if part is None:
            part = self.parts[p] = {}
        bucket = part.get(b)
        if bucket is None:
            bucket = part[b] = _Bucket()
        self.dirty.add(p)
        if p > self.cur_part:
            self.cur_part = p
        return bucket


class Summaries:
    """The summaries of one batch kind (docs/schema.md, "summaries")."""

    def __init__(self, kind: str, prefix: str):
        self.kind = kind
        self.prefix = prefix                    # "sessions/{sid}/summaries"
        self.levels = [_Level(i + 1) for i in range(LEVELS)]
        self.names: dict[str, None] = {}        # summarised metric names, first seen first
        self.omitted: dict[str, None] = {}
        self.cur = -1                           # the level-1 bucket points go to now
        self.cur_bucket: _Bucket | None = None  # ... not yet folded into the coarser levels
        self.through = -1
        self.points = 0
        self.skipped = 0
        self.changed = False                    # points since the last head
        self.skip_finest: bool | None = None    # decided once (FAST_STEPS_PER_SECOND)

    # ----- training thread (writer lock held) ------------------------------------------------

    def add(self, step: int, t: float, seconds, chunk: int, metrics: dict) -> None:
        if not self.names.keys() >= metrics.keys():
            self._learn(metrics)
        b = step >> BASE_SHIFT if step >= 0 else -1
        if b == self.cur:
            self.cur_bucket.add(step, t, seconds, chunk, metrics, self.names)
        elif b > self.cur:
            self._fold()
            self.cur = b
            self.cur_bucket = self.levels[0].bucket(b)
            for level in self.levels[1:]:  # its coarser buckets' parts are the open ones now
                p = b >> (level.shift + PART_SHIFT)
                if p > level.cur_part:
                    level.cur_part = p
            self.cur_bucket.add(step, t, seconds, chunk, metrics, self.names)
        elif b >= 0 and (b >> PART_SHIFT) >= (self.cur >> PART_SHIFT) - 1:
            # A step lower than the newest bucket: into its own bucket at every level (those
            # parts are still held: the open part and the one before, at every level).
            for level in self.levels:
                level.bucket(b >> level.shift).add(step, t, seconds, chunk, metrics, self.names)
        else:
            self.skipped += 1
            return
        self.points += 1
        if step > self.through:
            self.through = step
        self.changed = True

    def _learn(self, metrics: dict) -> None:
        for name in metrics:
            if name not in self.names and name not in self.omitted and metrics[name] is not None:
                if len(self.names) < MAX_METRICS:
                    self.names[name] = None
                else:
                    self.omitted[name] = None

    def _fold(self) -> None:
        """The run moved past the current level-1 bucket: merge it into the coarser levels."""
        bucket = self.cur_bucket
        if bucket is None:
            return
        b = self.cur
        for level in self.levels[1:]:
            level.bucket(b >> level.shift).merge(bucket)
        self.cur_bucket = None

    # ----- writer thread (writer lock held) --------------------------------------------------

    def due(self, now: float, last_head: float, period: float = 0.0) -> bool:
        """A head is due every HEAD_INTERVAL while points arrive, or every round `period` if
        longer (nobody watches: a fast run's early rounds for full chunks add no heads)."""
        return self.changed and now - last_head >= max(HEAD_INTERVAL, 0.9 * period)

    def rate(self) -> float | None:
        """Steps per second over the level-1 buckets held, the first one left out (None: too
        few to tell)."""
        level = self.levels[0]
        held = sorted((b, bk) for part in level.parts.values() for b, bk in part.items() if bk.time is not None)
        if self.cur_bucket is not None and self.cur_bucket.time is not None:
            held = [x for x in held if x[0] != self.cur] + [(self.cur, self.cur_bucket)]
        if len(held) < 3:
            return None
        (_b0, first), (_b1, last) = held[1], held[-1]
        steps, seconds = last.step - first.step, last.time - first.time
        if steps <= 0:
            return None
        return float("inf") if seconds <= 0 else steps / seconds

    def _decide(self, force: bool) -> None:
        """Keep or drop the finest level (see FAST_STEPS_PER_SECOND), once."""
        if self.skip_finest is not None or not (force or self.through >= DECIDE_STEPS):
            return
        rate = self.rate()
        self.skip_finest = rate is not None and rate > FAST_STEPS_PER_SECOND

    def take(self, tail_chunk: int) -> list[tuple[str, dict]]:
        """The documents to write now: every changed part that is complete, any open part the
        head has no room for, and the head. Releases parts no late point can reach."""
        finest = self.levels[0]
        self._decide(force=finest.cur_part > 0 or any(p < finest.cur_part for p in finest.dirty))
        writes: list[tuple[str, dict]] = []
        open_buckets: list[tuple[_Level, list[tuple[int, _Bucket]]]] = []
        for level in self.levels:
            if level is finest and self.skip_finest:
                level.dirty.clear()  # kept in memory (the coarser levels fold from it), never sent
                continue
            for p in sorted(level.dirty):
                if p < level.cur_part:
                    writes.append(self._part_doc(level, p))
            level.dirty = {p for p in level.dirty if p >= level.cur_part}
            pending = [(b, bk) for b, bk in self._buckets(level, level.cur_part) if bk.pending]
            open_buckets.append((level, pending))
        # The head holds the open parts' pending buckets; the largest go to their own part
        # documents while it would be too big (only with very many metrics).
        width = 40 + 50 * (len(self.names) + 1)
        if self.skip_finest is None and sum(len(pend) for _l, pend in open_buckets) * width > HEAD_BYTES:
            self._decide(force=True)  # an open part is about to be sent: decide first
            if self.skip_finest:
                finest.dirty.clear()
                open_buckets = [(lv, pend) for lv, pend in open_buckets if lv is not finest]
        while sum(len(pend) for _l, pend in open_buckets) * width > HEAD_BYTES:
            i = max(range(len(open_buckets)), key=lambda j: len(open_buckets[j][1]))
            level, _pend = open_buckets[i]
            writes.append(self._part_doc(level, level.cur_part))
            level.dirty.discard(level.cur_part)
            open_buckets[i] = (level, [])
        head = {
            "schema": SCHEMA, "kind": self.kind, "widths": [WIDTHS[lv.index - 1] for lv, _p in open_buckets],
            "part_buckets": PART_BUCKETS,
            "through": self.through, "points": self.points, "skipped": self.skipped,
            "tail_chunk": tail_chunk,
            "levels": [{"level": self._number(level), "width": WIDTHS[level.index - 1],
                        "part": max(level.cur_part, 0), **self._columns(pend)}
                       for level, pend in open_buckets],
        }
        if self.omitted:  # the first OMITTED_LISTED names: the head stays far below 1 MiB
            head["omitted"] = list(self.omitted)[:OMITTED_LISTED]
        writes.append((f"{self.prefix}/{summary_head_id(self.kind)}", head))
        self.changed = False
        self._release()
        return writes

    def _buckets(self, level: _Level, p: int) -> list[tuple[int, _Bucket]]:
        """Part p's buckets in order; a coarser level's newest bucket includes the level-1
        bucket not folded into it yet."""
        part = level.parts.get(p, {})
        out = sorted(part.items())
        if level.index > 1 and self.cur_bucket is not None:
            b = self.cur >> level.shift
            if b >> PART_SHIFT == p:
                merged = part[b].copy() if b in part else _Bucket()
                merged.merge(self.cur_bucket)
                out = [(i, merged if i == b else bk) for i, bk in out]
                if b not in part:
                    out = sorted(out + [(b, merged)])
        return out

    def _part_doc(self, level: _Level, p: int) -> tuple[str, dict]:
        buckets = self._buckets(level, p)
        for _b, bk in level.parts.get(p, {}).items():
            bk.pending = False
        number = self._number(level)
        doc = {"schema": SCHEMA, "kind": self.kind, "level": number,
               "width": WIDTHS[level.index - 1], "part": p, **self._columns(buckets)}
        return f"{self.prefix}/{summary_part_id(self.kind, number, p)}", doc

    def _number(self, level: _Level) -> int:
        """The level's number in the documents: its place in the head's `widths` (1-based)."""
        return level.index - 1 if self.skip_finest else level.index

    def _columns(self, buckets: list[tuple[int, _Bucket]]) -> dict:
        series = []
        for name in self.names:
            stats = [bk.m.get(name) for _b, bk in buckets]
            if not any(stats):
                continue
            col = {"name": name,
                   "min": [s[MIN] if s else None for s in stats],
                   "max": [s[MAX] if s else None for s in stats],
                   "last": [s[LAST] if s else None for s in stats],
                   "count": [s[COUNT] if s else 0 for s in stats]}
            bad = [s for s in stats if s and s[BAD]]
            if bad:
                first = min(bad, key=lambda s: s[BAD_STEP])
                col["bad"] = [s[BAD] if s else 0 for s in stats]
                col["bad_step"], col["bad_value"] = first[BAD_STEP], first[BAD_VALUE]
            series.append(col)
        secs = [bk.sec for _b, bk in buckets]
        return {
            "bucket": [b for b, _bk in buckets], "n": [bk.n for _b, bk in buckets],
            "step": [bk.step for _b, bk in buckets], "time": [bk.time for _b, bk in buckets],
            "chunk": [bk.chunk for _b, bk in buckets],
            "seconds": {"min": [s[MIN] if s else None for s in secs],
                        "max": [s[MAX] if s else None for s in secs],
                        "last": [s[LAST] if s else None for s in secs]},
            "series": series,
        }

    def _release(self) -> None:
        for level in self.levels:
            keep = level.cur_part - 1
            for p in [p for p in level.parts if p < keep and p not in level.dirty]:
                del level.parts[p]


class EpochTable:
    """Every epoch record also as rows of `tables/epochs-{p:04d}` (docs/schema.md), TABLE_ROWS
    rows (the contract's) or TABLE_BYTES a part."""

    FIELDS = ("kind", "epoch", "step", "seconds", "avg_seconds", "time")

    def __init__(self, prefix: str):
        self.prefix = prefix                    # "sessions/{sid}/tables"
        self.part = 0
        self._new_part()

    def _new_part(self) -> None:
        self.rows: dict[str, list] = {f: [] for f in ("id",) + self.FIELDS}
        self.series: dict[str, list] = {}
        self.n = 0
        self.bytes = 300
        self.dirty = False

    def add(self, doc_id: str, doc: dict) -> list[tuple[str, dict]]:
        """Append a row; returns the finished part's document if this row starts a new one."""
        done = []
        if self.n >= TABLE_ROWS or self.bytes >= TABLE_BYTES:
            done.append(self.doc())
            self.part += 1
            self._new_part()
        n = self.n
        self.rows["id"].append(doc_id)
        for f in self.FIELDS:
            self.rows[f].append(doc.get(f))
        names, values = doc.get("names") or [], doc.get("values") or []
        for name, value in zip(names, values):
            col = self.series.get(name)
            if col is None:
                col = self.series[name] = [None] * n
                self.bytes += len(name) + 30
            if len(col) == n:
                col.append(value)
        for col in self.series.values():
            if len(col) == n:
                col.append(None)
        self.n = n + 1
        self.bytes += 80 + 10 * len(self.series)
        self.dirty = True
        return done

    def doc(self) -> tuple[str, dict]:
        self.dirty = False
        doc = {"schema": SCHEMA, "part": self.part, "n": self.n,
               **{f: list(v) for f, v in self.rows.items()},
               "series": [{"name": k, "values": list(v)} for k, v in self.series.items()]}
        return f"{self.prefix}/{table_part_id(self.part)}", doc

