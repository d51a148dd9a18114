"""Batch points as chunk documents (`batches/{kind}-{index:06d}`, docs/schema.md): the
encoding of the writer's main stream, apart from the buffer that holds it (as TensorBoard
keeps its record encoding apart from its writer).

`Chunk` is an open chunk, appended to under the buffer's lock (tfwatcher.record.buffer);
`thin_chunk` makes a thinned copy of a closed one, outside any lock. Plain objects: no I/O,
no locks of their own.
"""

from __future__ import annotations

import struct
from array import array

from tfwatcher.base.contract import SCHEMA, chunk_id
from tfwatcher.base.packed import (CONSTANT, F32, I32, MICROS, MICROS16, MISSING, RANGE, TIME_STEPS,
                                   pack_durations, pack_floats, pack_ints, pack_times, unpack_chunk)

# A chunk closes at the next send once it holds CHUNK_POINTS points or CHUNK_BYTES, so each
# send writes one document per kind whatever the batch rate; only past the hard limits
# (thousands of batches a second) does it close at once. Small chunks keep the per-send cost
# of rewriting the open chunk low, and what a watching phone receives: every rewrite of the
# open chunk is delivered whole (~8 KB at most of packed columns, tfwatcher.base.packed), and
# at 200 batches/s and more a chunk closes at every send, so a phone receives each point about
# once (docs/deploy.md "Costs").
# Sizes are estimated per point at the most a point can take packed (POINT_BYTES +
# METRIC_BYTES a metric: int32 step/epoch/batch, float64 values); past a hard byte limit the
# chunk is packed and measured (`settle`) before it closes.
CHUNK_POINTS = 500
CHUNK_BYTES = 24_000
CHUNK_MAX_POINTS = 5000
CHUNK_MAX_BYTES = 700_000    # Firestore allows 1 MiB a document
THIN_WINDOW = 10
POINT_BYTES = 24
METRIC_BYTES = 9
# While nobody watches (tfwatcher.record.attention) an open chunk is written once a round at
# most, so it may grow this far before it closes: fewer, fuller documents (a point of 3
# float32 metrics packs into ~16 bytes: the 60,000-point cap comes first).
GROWN_MAX_POINTS = 60_000
GROWN_MAX_BYTES = 1_000_000   # of 1,048,576: doc_bytes counts all but ~100 bytes (name, field names)
SETTLED = 0.95  # a measured chunk closes once it is this near its byte limit


# A measured chunk's columns are packed compactly (a range, 2-byte times); one more point can
# make a whole column wider (a new epoch ends the batch range, a pause ends the 2-byte times),
# so the document could outgrow its measured size by bytes for every point already in it.
# `settle` therefore counts, per point held, what could still widen cheaply (a missing-value
# bitmap in any column; `seconds`, by SECONDS_GROWTH: a slow batch is common enough not to
# close the chunk for it), and from then on `breaks` closes the chunk before a point that would
# widen any other column: step/epoch/batch, time, a constant or float32 metric (a few
# comparisons a point, only for a measured chunk).
SECONDS_GROWTH = {CONSTANT: 8, F32: 4, MICROS16: 2}  # bytes a point, to float64 / 4-byte µs
TIME_STEP_MAX = 65.0  # seconds between two times packed in 2-byte ms steps (65.535, less rounding)
_F32 = array("f", [0.0])  # a float32 slot: `_F32[0] = v; _F32[0] == v` says v is float32-exact


class Chunk:
    """An open chunk of batch points, as parallel lists."""

    __slots__ = ("kind", "index", "doc_id", "step", "epoch", "batch", "seconds", "time", "series",
                 "n", "bytes", "dirty", "thinned", "sent_at", "measured", "ranges", "narrow", "time_last",
                 "sec_max", "tight")

    def __init__(self, kind: str, index: int):
        self.kind, self.index = kind, index
        self.doc_id = chunk_id(kind, index)
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
        self.measured = False         # `bytes` comes from a measurement (settle): see `breaks`
        self.ranges: list = []        # [column, last value, by] of the columns packed as ranges
        self.narrow: list = []        # ... and those packed as int32
        self.tight: dict = {}         # metric -> its constant, or None: packed float32
        self.time_last = None         # the last time, if times are packed in 2-byte steps
        self.sec_max = None           # the largest seconds the durations' packing holds

    def add(self, step, epoch, batch, seconds, t, metrics: dict) -> None:
        n = self.n
        series = self.series
        for name, value in metrics.items():
            column = series.get(name)
            if column is None:
                column = series[name] = [None] * n
                self.bytes += len(name) + 40 + METRIC_BYTES * n
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
        self.bytes += POINT_BYTES + METRIC_BYTES * len(series)
        self.dirty = True

    def full(self) -> bool:
        return self.n >= CHUNK_POINTS or self.bytes >= CHUNK_BYTES

    def settle(self, limit: int) -> dict | None:
        """Past an estimated byte limit: the document packed, if it is near `limit` (it closes
        with it), else None, the estimate replaced by its measured size plus what its value
        columns could still grow by (it grows on, `breaks` guarding the other columns)."""
        doc = self.to_doc()
        seconds_tag = doc["seconds"][0] & ~MISSING
        growth = (len(self.series) + 5) / 8 + SECONDS_GROWTH.get(seconds_tag, 0)
        size = doc_bytes(doc) + int(growth * self.n) + 1
        if size >= SETTLED * limit:
            return doc
        self.bytes = size
        self.measured = True
        self.ranges, self.narrow = [], []
        for i, (name, column) in enumerate((("step", self.step), ("epoch", self.epoch), ("batch", self.batch))):
            packed = doc[name]
            if packed[0] == RANGE:
                _tag, _start, by = struct.unpack_from("<Bqq", packed)
                self.ranges.append([i, column[-1], by])
            elif packed[0] & ~MISSING == I32:
                self.narrow.append(i)
        self.tight = {}
        for col in doc["series"]:
            tag = col["values"][0] & ~MISSING if col["values"] else 0
            if tag == CONSTANT:
                self.tight[col["name"]] = self.series[col["name"]][0]
            elif tag == F32:
                self.tight[col["name"]] = None
        known = [t for t in self.time if t is not None]
        self.time_last = known[-1] if doc["time"][0] & ~MISSING == TIME_STEPS and known else None
        self.sec_max = 2000.0 if seconds_tag in (MICROS16, MICROS) else None  # int32 µs
        return None

    def breaks(self, step, epoch, batch, seconds, t, metrics: dict) -> bool:
        """Would this point widen a compactly packed column of this measured chunk (then it
        closes first)? Updates what the next point is compared with when it would not."""
        values = (step, epoch, batch)
        for i, last, by in self.ranges:
            if values[i] is None or values[i] != last + by:
                return True
        for i in self.narrow:
            if values[i] is not None and not -2 ** 31 <= values[i] < 2 ** 31:
                return True
        if self.time_last is not None and t is not None and not 0.0 <= t - self.time_last <= TIME_STEP_MAX:
            return True
        if self.sec_max is not None and seconds is not None and not (
                0.0 <= seconds <= self.sec_max and round(seconds * 1_000_000) / 1_000_000 == seconds):
            return True
        for name, constant in self.tight.items():
            v = metrics.get(name)
            if v is None:
                continue
            if constant is not None:
                if v != constant:  # (NaN too)
                    return True
                continue
            try:
                _F32[0] = v
            except (OverflowError, TypeError):
                return True
            if _F32[0] != v:
                return True
        for r in self.ranges:
            r[1] = values[r[0]]
        if t is not None and self.time_last is not None:
            self.time_last = t
        return False

    def to_doc(self) -> dict:
        return packed_doc(self.kind, self.index, self.step, self.epoch, self.batch, self.seconds,
                          self.time, self.series, self.thinned)


def packed_doc(kind, index, step, epoch, batch, seconds, times, series: dict, thinned=False) -> dict:
    """A chunk document, its columns packed (tfwatcher.base.packed): ~12 bytes a point of one
    metric stored, ~16 on a phone's wire, instead of ~180 as arrays."""
    doc = {
        "schema": SCHEMA, "kind": kind, "index": index, "n": len(step),
        "first": min((s for s in step if s is not None), default=0),
        "last": max((s for s in step if s is not None), default=0),
        "step": pack_ints(step), "epoch": pack_ints(epoch), "batch": pack_ints(batch),
        "seconds": pack_durations(seconds), "time": pack_times(times),
        "series": [{"name": name, "values": pack_floats(values)} for name, values in series.items()],
    }
    if thinned:
        doc["thinned"] = True
    return doc


def doc_bytes(doc: dict) -> int:
    """About what a chunk document takes in Firestore (its packed columns, names, the rest)."""
    cols = [doc.get(f) for f in ("step", "epoch", "batch", "seconds", "time")]
    cols += [s.get("values") for s in doc.get("series") or []]
    return 200 + sum(len(c) for c in cols if isinstance(c, (bytes, bytearray))) + sum(
        len(s.get("name", "")) + 20 for s in doc.get("series") or [])


def thin_chunk(doc: dict, window: int = THIN_WINDOW) -> dict:
    """A copy of a chunk document keeping, per window, the min, max (of the first metric)
    and last point."""
    doc = unpack_chunk(doc)
    n = doc["n"]
    series = doc["series"]
    if n <= 3:
        keep = list(range(n))
    else:
        key = series[0]["values"] if series else None
        keep = []
        for start in range(0, n, window):
            idx = list(range(start, min(start + window, n)))
            chosen = {idx[-1]}
            if key is not None:
                valued = [i for i in idx if isinstance(key[i], float) and key[i] == key[i]]
                if valued:
                    chosen.add(min(valued, key=lambda i: key[i]))
                    chosen.add(max(valued, key=lambda i: key[i]))
            keep.extend(sorted(chosen))
    pick = {f: [doc[f][i] for i in keep] for f in ("step", "epoch", "batch", "seconds", "time")}
    return packed_doc(doc["kind"], doc["index"], pick["step"], pick["epoch"], pick["batch"],
                      pick["seconds"], pick["time"],
                      {s["name"]: [s["values"][i] for i in keep] for s in series},
                      thinned=n > 3 or bool(doc.get("thinned")))
