"""Batch points as chunk documents (`batches/{kind}-{index:06d}`, docs/schema.md): the
encoding of the writer's main stream, apart from the buffer that holds it (as TensorBoard
keeps its record encoding apart from its writer).

`Chunk` is an open chunk, appended to under the buffer's lock (tfwatcher.record.buffer);
`thin_chunk` makes a thinned copy of a closed one, outside any lock. Plain objects: no I/O,
no locks of their own.
"""

from __future__ import annotations

from tfwatcher.base.contract import SCHEMA, chunk_id

# A chunk closes at the next send once it holds CHUNK_POINTS points or CHUNK_BYTES, so each
# send writes one document per kind whatever the batch rate; only past the hard limits
# (thousands of batches a second) does it close at once. Small chunks keep the per-send cost
# of rewriting the open chunk low (the client encodes every value in Python, under the GIL),
# and what a watching phone receives: every rewrite of the open chunk is delivered whole, so
# ~12 KB (est.) keeps it to about half that a second, and at 200 batches/s and more a chunk
# closes at every send, so a phone receives each point about once (docs/deploy.md "Costs").
CHUNK_POINTS = 500
CHUNK_BYTES = 12_000
CHUNK_MAX_POINTS = 5000
CHUNK_MAX_BYTES = 700_000    # Firestore allows 1 MiB a document
THIN_WINDOW = 10
# While nobody watches (tfwatcher.record.attention) an open chunk is written once a round at
# most, so it may grow this far before it closes: fewer, fuller documents (a point of 3
# metrics is ~64 bytes stored; estimates here count 80).
GROWN_MAX_POINTS = 12_000
GROWN_MAX_BYTES = 850_000


class Chunk:
    """An open chunk of batch points, as parallel lists."""

    __slots__ = ("kind", "index", "doc_id", "step", "epoch", "batch", "seconds", "time", "series",
                 "n", "bytes", "dirty", "thinned", "sent_at")

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

    def to_doc(self) -> dict:
        doc = {
            "schema": SCHEMA, "kind": self.kind, "index": self.index, "n": self.n,
            "first": min(self.step, default=0), "last": max(self.step, default=0),
            "step": list(self.step), "epoch": list(self.epoch), "batch": list(self.batch),
            "seconds": list(self.seconds), "time": list(self.time),
            "series": [{"name": name, "values": list(values)} for name, values in self.series.items()],
        }
        if self.thinned:
            doc["thinned"] = True
        return doc


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
