"""Packed chunk columns (tfwatcher.base.packed): the fixtures the dashboard's decoder also
reads (tests/fixtures/packed.json, hosting/test/packed.test.ts), round trips, a chunk packed
by the writer and read back, thinning, the spool's JSON and the commit size estimate."""

import base64
import json
import math
import random
import struct
from pathlib import Path

import pytest

from tfwatcher.base.packed import CONSTANT, F32, F64, MICROS, MICROS16, RANGE, TIME_STEPS, pack_durations, pack_floats, pack_ints, pack_times, unpack, unpack_chunk
from tfwatcher.record import spool
from tfwatcher.record.chunk import Chunk, doc_bytes, thin_chunk
from tfwatcher.record.commit import estimate
from tfwatcher.record.run_index import RunIndex

FIXTURES = json.loads((Path(__file__).parents[1] / "fixtures" / "packed.json").read_text())
PACK = {"ints": pack_ints, "floats": pack_floats, "floats32": lambda v: pack_floats(v, exact=False),
        "durations": pack_durations,
        "times": pack_times}



def pack_times_wide(values):
    """Tag 6 (int32 offsets), as the writer packs times that tag 8 cannot hold."""
    import struct
    from array import array
    base = values[0]
    return bytes((6,)) + struct.pack("<d", base) + array("i", [round((v - base) * 1000) for v in values]).tobytes()

def decoded(v):
    return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}.get(v, v) if isinstance(v, str) else v


def same(a, b, tol=0.0):
    if a is None or b is None:
        return a is b
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return abs(a - b) <= tol if tol else a == b and type(a) is type(b)


@pytest.mark.parametrize("case", FIXTURES, ids=[c["name"] for c in FIXTURES])
def test_fixture_bytes_are_what_the_writer_packs_and_read_back(case):
    values = [decoded(v) for v in case["values"]]
    packed = PACK[case["codec"]](values)
    assert base64.b64encode(packed).decode() == case["bytes"], "regenerate: tests/fixtures/make_packed.py"
    got = unpack(packed, case["n"])
    tol = 0.0005 if case["codec"] == "times" else 0.0
    assert len(got) == len(values) and all(same(g, v, tol) for g, v in zip(got, values)), (got, values)


def test_columns_choose_the_smallest_exact_form():
    assert pack_ints(list(range(100, 50_100)))[0] == RANGE and len(pack_ints(list(range(50_000)))) == 17
    assert pack_floats([0.5, 0.25] * 5)[0] == F32       # float32 values (Keras metrics) stay 4 bytes
    assert pack_floats([0.001] * 1000) == struct.pack("<Bd", CONSTANT, 0.001)  # a constant: 9 bytes
    assert pack_floats([0.5])[0] == F32 and pack_floats([0.5, None])[0] == F32 | 0x80
    assert pack_floats([0.1, 0.2] * 5)[0] == F64        # a float64 value is never rounded
    assert pack_floats([1e300, 0.5])[0] == F64          # beyond float32's range
    assert pack_floats([0.1], exact=False)[0] == F32    # float32 asked for: 7 digits
    assert pack_durations([0.001, 0.05, 1.234567])[0] == MICROS   # what the callbacks measure
    assert pack_durations([0.0005, 0.065535])[0] == MICROS16 and len(pack_durations([0.0005] * 10)) == 21
    t0 = 1_764_900_000.0
    assert pack_times([t0 + i * 0.0005 for i in range(100)])[0] == TIME_STEPS   # 2 bytes a point
    assert len(pack_times([t0 + i * 0.0005 for i in range(100)])) == 1 + 8 + 200
    assert unpack(pack_times([t0 + i * 0.0005 for i in range(100)])) == unpack(pack_times_wide([t0 + i * 0.0005 for i in range(100)]))
    assert pack_durations([0.1234567])[0] == F64 and unpack(pack_durations([math.inf]), 1) == [math.inf]


def test_random_columns_round_trip():
    rng = random.Random(7)
    for _ in range(200):
        n = rng.randint(0, 40)
        floats = [rng.choice([None, math.nan, math.inf, rng.random(), struct.unpack("<f", struct.pack("<f", rng.random()))[0]])
                  for _ in range(n)]
        got = unpack(pack_floats(floats), n)
        assert all(same(g, v) for g, v in zip(got, floats)) and len(got) == n
        ints = [rng.choice([None, rng.randint(-2 ** 40, 2 ** 40), rng.randint(0, 9)]) for _ in range(n)]
        assert unpack(pack_ints(ints), n) == ints


def test_a_chunk_packs_to_a_fraction_and_reads_back_whole():
    chunk = Chunk("train", 3)
    t0 = 1_764_900_000.0
    for i in range(500):
        metrics = {"loss": struct.unpack("<f", struct.pack("<f", 1 / (i + 1)))[0]}
        if i % 7 == 0:
            metrics["lr"] = 0.001 * i   # float64, missing at 6 of 7 points
        chunk.add(i + 1, 2, i + 1, 0.05, t0 + i * 0.05, metrics)
    doc = chunk.to_doc()
    # time 4 + seconds 4 (µs) + loss 4 (float32) + lr 8 (float64, its bitmap 1/8): ~20 a point, not ~180
    assert doc_bytes(doc) < 500 * 21, doc_bytes(doc)
    back = unpack_chunk(doc)
    assert back["step"] == list(range(1, 501)) and back["epoch"] == [2] * 500 and back["n"] == 500
    assert all(abs(a - b) < 0.0005 for a, b in zip(back["time"], chunk.time))
    series = {s["name"]: s["values"] for s in back["series"]}
    assert series["loss"] == chunk.series["loss"] and series["lr"] == chunk.series["lr"]
    thinned = unpack_chunk(thin_chunk(doc))
    assert thinned["thinned"] is True and thinned["n"] < 500 and thinned["step"][-1] == 500
    assert unpack_chunk({"n": 1, "step": [1], "series": []}) == {"n": 1, "step": [1], "series": []}


def test_spool_rows_and_commit_estimates_carry_bytes_and_times(tmp_path):
    doc = Chunk("train", 0).to_doc()
    doc["series"] = [{"name": "loss", "values": pack_floats([0.1 + i for i in range(1000)])}]
    # A workspace run's row holds datetimes (tfwatcher.record.run_index): once these made the
    # final spool fail ("datetime is not JSON serializable") and the run's backlog was lost.
    row = RunIndex("w" + "a" * 18, "b" * 18, "run").row
    path = spool.append(tmp_path / "s.jsonl", [("closed", "sessions/x/batches/train-000000", doc, False),
                                               ("index", "workspaces/w/runs/x", row, False)])
    rows, _size, cut = spool.read_spool(path)
    assert not cut and rows[0]["doc"] == doc and rows[1]["doc"] == row
    assert estimate(doc) > 8000   # a packed column counts its length, not one number's 12
    # A session's own config that happens to look like a tagged value stays a dict unless exact.
    assert spool.loads(spool.dumps({"a": {"__tfw_bytes__": "AA==", "b": 1}})) == {"a": {"__tfw_bytes__": "AA==", "b": 1}}


def test_a_damaged_chunk_reads_as_what_survives_never_an_exception():
    good = pack_floats([0.5, 0.25])
    doc = {"n": 10 ** 12, "kind": "train", "step": pack_ints([1, 2]), "time": b"\x06\x00",
           "seconds": b"\x63abc", "series": [{"name": "loss", "values": good[:-1]},
                                              {"name": "acc", "values": good}]}
    out = unpack_chunk(doc)
    assert len(out["step"]) == 300_000            # a huge n is cut, not allocated
    assert out["time"] == [] and out["seconds"] == []   # cut / unknown tag: empty, not raised
    assert out["series"][0]["values"] == [0.5] and out["series"][1]["values"] == [0.5, 0.25]


@pytest.mark.parametrize("value", [lambda i: struct.unpack("<f", struct.pack("<f", 1 / i))[0], lambda i: 1 / i],
                         ids=["float32 values", "float64 values"])
def test_a_grown_chunk_closes_near_its_byte_limit_measured_not_estimated(value):
    """Past the worst-case estimate the chunk is packed and measured (`Chunk.settle`): it closes
    between SETTLED and 100 % of the limit, far fuller than the estimate alone would allow,
    and never over Firestore's 1 MiB."""
    from tfwatcher.record.chunk import GROWN_MAX_BYTES, SETTLED

    chunk, settles, doc = Chunk("train", 0), 0, None
    t0 = 1_764_900_000.0
    for i in range(1, 200_001):
        chunk.add(i, 1, i, 0.0005, t0 + i * 0.0005, {"loss": value(i), "acc": value(i + 1), "lr": value(i + 2)})
        if chunk.bytes >= GROWN_MAX_BYTES:
            settles += 1
            doc = chunk.settle(GROWN_MAX_BYTES)
            if doc is not None:
                break
    # (the measured size plus what its columns could still grow by: bitmaps, 4-byte µs)
    assert doc is not None and 0.8 * GROWN_MAX_BYTES <= doc_bytes(doc) <= GROWN_MAX_BYTES < 1_048_576
    assert settles <= 12, settles                      # a few measurements a chunk, not one a point
    estimate_only = GROWN_MAX_BYTES // (24 + 9 * 3)    # what the worst-case estimate allows
    assert doc["n"] > 1.4 * estimate_only, (doc["n"], estimate_only)
    assert unpack_chunk(doc)["step"][-1] == doc["n"]



def test_a_measured_chunk_never_outgrows_its_limit_whatever_comes_next():
    """After a measurement a chunk's columns are packed compactly; points that would widen
    them (a new epoch ends the batch range, a pause ends 2-byte times, a slow batch, a float64
    value in a float32 column, a learning rate that changes, a missing value) close it first
    or were counted: every document the buffer closes stays within its byte limit, and every
    point is kept, in order."""
    import random

    from tfwatcher.record.buffer import Buffer
    from tfwatcher.record.chunk import GROWN_MAX_BYTES

    f32 = lambda x: struct.unpack("<f", struct.pack("<f", x))[0]  # noqa: E731
    rng = random.Random(7)
    stats = {"points": 0, "max_backlog": 0}
    buf = Buffer("s" * 18, stats, derived=False)
    buf.grow = True
    t, epoch, batch, lr = 1_764_900_000.0, 1, 0, 0.001
    logged = []
    for step in range(1, 400_001):
        batch += 1
        if rng.random() < 1 / 40_000:
            epoch, batch = epoch + 1, 1                     # a new epoch
        t += 0.0005 if rng.random() > 1 / 50_000 else 90.0  # now and then a long pause
        seconds = 0.0005 if rng.random() > 1 / 30_000 else 0.25
        if rng.random() < 1 / 60_000:
            lr = lr / 2                                     # a schedule step
        loss = f32(1 / step) if rng.random() > 1 / 70_000 else 1 / 3   # one float64 value
        metrics = {"loss": loss, "lr": lr} if rng.random() > 1 / 20_000 else {"lr": lr}
        buf.add_point_locked("train", step, epoch, batch, seconds, t, metrics)
        logged.append(step)
    buf.close_chunks_locked()
    docs = [buf.closed[k] for k in sorted(buf.closed)]
    assert max(doc_bytes(d) for d in docs) <= GROWN_MAX_BYTES
    assert [s for d in docs for s in unpack_chunk(d)["step"]] == logged
    assert len(docs) < 40, len(docs)  # still grown chunks: ~20,000 points and more each


def test_what_a_measured_chunk_closes_for():
    """`Chunk.breaks`: a point that would widen a compact column closes a measured chunk first;
    a slow batch (2-byte µs becoming 4-byte ones) is counted in its size instead."""
    from tfwatcher.record.chunk import Chunk

    f32 = lambda x: struct.unpack("<f", struct.pack("<f", x))[0]  # noqa: E731
    chunk, t0 = Chunk("train", 0), 1_764_900_000.0
    for i in range(1, 20_001):
        chunk.add(i, 1, i, 0.0005, t0 + i * 0.0005, {"loss": f32(1 / i), "lr": 0.001})
    assert chunk.settle(10_000_000) is None and chunk.measured
    nxt = (20_001, 1, 20_001, 0.0005, t0 + 20_001 * 0.0005)
    assert not chunk.breaks(*nxt, {"loss": 0.5, "lr": 0.001})
    assert not chunk.breaks(20_002, 1, 20_002, 0.07, t0 + 10.1, {"loss": 0.5})          # a stall: counted
    assert chunk.breaks(20_003, 2, 1, 0.0005, t0 + 10.2, {"loss": 0.5})                  # a new epoch
    assert chunk.breaks(20_003, 1, 20_003, 0.0005, t0 + 100.0, {"loss": 0.5})            # a 90 s pause
    assert chunk.breaks(20_003, 1, 20_003, 0.0005, t0 + 10.2, {"loss": 0.1})             # float64 in float32
    assert chunk.breaks(20_003, 1, 20_003, 0.0005, t0 + 10.2, {"lr": 0.0005})            # lr changed
    assert chunk.breaks(20_004, 1, 20_003, 0.0005, t0 + 10.2, {"loss": 0.5})             # a skipped step
    assert not chunk.breaks(20_003, 1, 20_003, None, None, {"loss": None, "acc": 1 / 3})  # missing, a new metric
