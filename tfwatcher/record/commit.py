"""Commits: writes grouped into batched commits under Firestore's limits, a size estimate,
the server-time placeholder, and a commit refused as too large split in halves.

Used by the writer thread (tfwatcher.record.sender) and by `tfwatcher sync`'s upload
(tfwatcher.record.spool). No state and no locks: every function works on what it is given.
A write is `(what, path, doc, merge)` (tfwatcher.record.buffer).
"""

from __future__ import annotations

from typing import Callable, Iterator

from tfwatcher.base.access import is_too_large

COMMIT_WRITES = 400          # writes per commit (Firestore allows 500)
# Estimated bytes per commit: Firestore takes 10 MiB a request, the emulator 4 MiB a gRPC
# message. A commit that is still refused as too large is split in halves (`fitting`).
COMMIT_BYTES = 2_500_000
# Firestore refuses a document over 1 MiB (1,048,576 bytes, its name included) with
# INVALID_ARGUMENT. Only thousands of metric names make one that large: such a document is
# sent with the metrics that fit (`fit_document`), never refused whole.
DOC_BYTES = 1_048_576 - 2_000   # less a margin for the document's name
SERVER_TIME = {"__server_time__": True}  # placeholder, replaced by SERVER_TIMESTAMP on send
# A document's lists of metrics, as (field, parallel fields): chunks, table parts and
# summaries have `series`; epoch documents `names` with `values`; the session `latest`
# and `metrics`.
METRIC_LISTS = (("series", ()), ("names", ("values",)), ("latest", ()), ("metrics", ()))


def group(writes, oversized: Callable | None = None) -> list[list]:
    """The writes in order, cut into commits of at most COMMIT_WRITES and COMMIT_BYTES. A
    write whose document may be over DOC_BYTES is replaced by `oversized(write, size)`."""
    groups, current, size = [], [], 0
    for w in writes:
        est = estimate(w[2])
        if est > DOC_BYTES and oversized is not None:
            fitted = oversized(w, est)
            if fitted is not None:  # else it is sent as it is: Firestore decides
                w = fitted
                est = estimate(w[2])
        if current and (len(current) >= COMMIT_WRITES or size + est > COMMIT_BYTES):
            groups.append(current)
            current, size = [], 0
        current.append(w)
        size += est
    if current:
        groups.append(current)
    return groups


def estimate(value) -> int:
    """Bytes a value takes in a commit, a little over (protobuf: a double is 9 bytes and its
    Value wrapper 2-3 more; tests/record/test_commit_size.py checks it against the encoding)."""
    if isinstance(value, dict):
        return 6 + sum(len(k) + 6 + estimate(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return 6 + sum(map(estimate, value))
    if isinstance(value, str):
        return len(value) + 4
    if isinstance(value, (bytes, bytearray)):  # packed columns (tfwatcher.base.packed)
        return len(value) + 6
    return 12


def stored_size(value) -> int:
    """Bytes a value counts for in Firestore's 1 MiB limit (its documented storage sizes:
    a string its UTF-8 length + 1, a number 8, a map its keys + 1 and values)."""
    if isinstance(value, dict):
        return sum(len(k.encode()) + 1 + stored_size(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return sum(map(stored_size, value))
    if isinstance(value, str):
        return len(value.encode()) + 1
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    return 1 if value is None or isinstance(value, bool) else 8


def fit_document(doc: dict, limit: int = DOC_BYTES) -> tuple[dict | None, int]:
    """`doc` cut to at most `limit` stored bytes by leaving out its last metrics (those first
    logged last), with `omitted_metrics` set to how many were left out of its longest metric list;
    and that count. (None, 0) if it cannot be made to fit: nothing of it is metric lists."""
    size = stored_size(doc)
    if size <= limit:
        return doc, 0
    out = dict(doc)
    omitted = 0
    for field, parallel in METRIC_LISTS:
        items = out.get(field)
        if not isinstance(items, list) or not items:
            continue
        # Keep the longest prefix that fits (an item's cost: its own size and its parallels').
        columns = [out[p] if isinstance(out.get(p), list) else [] for p in parallel]
        costs = [stored_size(item) + sum(stored_size(c[i]) for c in columns if i < len(c))
                 for i, item in enumerate(items)]
        room = limit - 32 - (size - sum(costs))
        keep_lo = 0
        for cost in costs:
            if cost > room:
                break
            room -= cost
            keep_lo += 1
        omitted = max(omitted, len(items) - keep_lo)
        out[field] = items[:keep_lo]
        for p in parallel:
            if isinstance(out.get(p), list):
                out[p] = out[p][:keep_lo]
        size = stored_size(out)
        if size + 32 <= limit:
            break
    if size + 32 > limit:
        return None, 0
    out["omitted_metrics"] = (doc.get("omitted_metrics") or 0) + omitted  # cut before, as well
    return out, omitted


def with_server_time(doc: dict, sentinel) -> dict:
    """`doc` with each SERVER_TIME placeholder replaced by `sentinel` (SERVER_TIMESTAMP)."""
    return {k: (sentinel if v == SERVER_TIME else v) for k, v in doc.items()}


def batch_of(client, writes):
    """A Firestore write batch setting each of `writes`, placeholders encoded."""
    from google.cloud import firestore

    batch = client.batch()
    for _what, path, doc, merge in writes:
        batch.set(client.document(path), with_server_time(doc, firestore.SERVER_TIMESTAMP),
                  merge=merge)
    return batch


def fitting(commit: Callable[[list], None], writes: list, on_split: Callable[[], None],
            smaller: Callable | None = None) -> Iterator[int]:
    """Commit `writes` with `commit(writes)`, split in halves while Firestore refuses it as too
    large; yields each committed part's size, in order (so a failure later puts back only
    the rest). A single write refused as too large is replaced by `smaller(write)`, and left
    out (counted as done) when that is None; without `smaller` the error is raised."""
    try:
        commit(writes)
    except Exception as err:
        if not is_too_large(err) or (len(writes) < 2 and smaller is None):
            raise
        if len(writes) < 2:
            less = smaller(writes[0])
            if less is None:
                yield 1
            else:
                yield from fitting(commit, [less], on_split, smaller)
            return
        on_split()
        half = len(writes) // 2
        yield from fitting(commit, writes[:half], on_split, smaller)
        yield from fitting(commit, writes[half:], on_split, smaller)
        return
    yield len(writes)
