"""Multi-resolution summaries and the epoch table (docs/schema.md, schema 2).

Every summary bucket a reader assembles (part documents + head, the copy with the larger `n`
winning) must equal what the raw points it covers give: min/max/last over finite values,
counts, NaN/±Inf counted apart, for random series, take schedules, repeated and late steps,
outages (the writer's round-trip through the emulator) and spool + sync.
"""

from __future__ import annotations

import math
import random
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import drain_by_hand, hooked_client_factory
from tfwatcher.base.packed import unpack_chunk
from tfwatcher.record import summaries as S
from tfwatcher.record.summaries import EpochTable, Summaries

INF = float("inf")


# ----- a reader and a reference --------------------------------------------------------------

def assemble(docs: dict[str, dict], kind: str) -> dict[int, dict[int, dict]]:
    """level -> bucket -> bucket dict, as a reader builds it from parts and the head."""
    levels: dict[int, dict[int, dict]] = {}

    def put(level, cols):
        out = levels.setdefault(level, {})
        for i, b in enumerate(cols["bucket"]):
            bucket = {"n": cols["n"][i], "step": cols["step"][i], "chunk": cols["chunk"][i],
                      "sec": (cols["seconds"]["min"][i], cols["seconds"]["max"][i],
                              cols["seconds"]["last"][i]),
                      "m": {}}
            for s in cols["series"]:
                bad = s.get("bad", [0] * len(cols["bucket"]))[i]
                if s["count"][i] or bad:
                    bucket["m"][s["name"]] = (s["min"][i], s["max"][i], s["last"][i], s["count"][i], bad)
            if b not in out or bucket["n"] > out[b]["n"]:
                out[b] = bucket

    # Levels are numbered by their place in the head's `widths` (a fast run has no 128-step
    # level): keyed here by the width's place in the contract's widths, as `reference` is.
    head = docs.get(f"p/{kind}-head")
    widths = head["widths"] if head else list(S.WIDTHS)

    def level_of(doc):
        assert widths[doc["level"] - 1] == doc["width"], "a level's number is its place in widths"
        return S.WIDTHS.index(doc["width"]) + 1

    for path, doc in docs.items():
        name = path.rsplit("/", 1)[-1]
        if name.startswith(f"{kind}-L"):
            assert name.startswith(f"{kind}-L{doc['level']}-")
            put(level_of(doc), doc)
    if head:
        for lv in head["levels"]:
            put(level_of(lv), lv)
    return levels


def reference(points, level: int) -> dict[int, dict]:
    """Buckets of `level` straight from the raw points (those the rule keeps)."""
    shift = S.BASE_SHIFT + S.LEVEL_SHIFT * (level - 1)
    out: dict[int, dict] = {}
    for step, seconds, chunk, metrics in points:
        b = step >> shift
        bk = out.setdefault(b, {"n": 0, "step": -1, "chunk": chunk, "sec": [], "m": {}})
        bk["n"] += 1
        bk["step"] = max(bk["step"], step)
        bk["chunk"] = min(bk["chunk"], chunk)
        if seconds is not None:
            bk["sec"].append((step, seconds))
        for name, v in metrics.items():
            bk["m"].setdefault(name, []).append((step, v))
    result = {}
    for b, bk in out.items():
        m = {}
        for name, vals in bk["m"].items():
            fin = [(s, v) for s, v in vals if v is not None and math.isfinite(v)]
            bad = sum(1 for _s, v in vals if v is not None and not math.isfinite(v))
            if not fin and not bad:
                continue
            last = None
            if fin:
                top = max(s for s, _v in fin)
                last = [v for s, v in fin if s == top][-1]  # repeated step: the one logged last
            m[name] = (min((v for _s, v in fin), default=None), max((v for _s, v in fin), default=None),
                       last, len(fin), bad)
        sec = [(s, v) for s, v in bk["sec"] if math.isfinite(v)]
        sec_t = (None, None, None)
        if sec:
            top = max(s for s, _v in sec)
            sec_t = (min(v for _s, v in sec), max(v for _s, v in sec), [v for s, v in sec if s == top][-1])
        result[b] = {"n": bk["n"], "step": bk["step"], "chunk": bk["chunk"], "sec": sec_t, "m": m}
    return result


def kept(points):
    """The points the documented rule summarises: none with a negative step, none more than
    one level-1 part (256 buckets of 128 steps) behind the newest bucket's part."""
    cur = -1
    out = []
    for p in points:
        b = p[0] >> S.BASE_SHIFT if p[0] >= 0 else -1
        if b < 0 or (b < cur and (b >> S.PART_SHIFT) < (cur >> S.PART_SHIFT) - 1):
            continue
        cur = max(cur, b)
        out.append(p)
    return out


def run(points, take_every: int, seed: int = 0):
    """Feed the points, taking documents every `take_every` points (and at the end)."""
    summ = Summaries("train", "p")
    docs: dict[str, dict] = {}
    for i, (step, seconds, chunk, metrics) in enumerate(points):
        summ.add(step, 1000.0 + i, seconds, chunk, metrics)
        if take_every and (i + 1) % take_every == 0:
            docs.update(summ.take(chunk))
    docs.update(summ.take(points[-1][2] if points else 0))
    return summ, docs


def check(points, docs, kind="train", only=None):
    got = assemble(docs, kind)
    good = kept(points)
    if only is not None:  # metrics past the first MAX_METRICS are in the raw chunks only
        good = [(s, sec, c, {k: v for k, v in m.items() if k in only}) for s, sec, c, m in good]
    head = docs.get(f"p/{kind}-head")
    first = S.WIDTHS.index(head["widths"][0]) + 1 if head else 1
    for level in range(first, S.LEVELS + 1):
        want = reference(good, level)
        have = got.get(level, {})
        assert set(have) == set(want), f"level {level}: buckets differ"
        for b, w in want.items():
            h = have[b]
            assert h["n"] == w["n"] and h["step"] == w["step"] and h["chunk"] == w["chunk"], (level, b)
            assert h["sec"] == w["sec"], (level, b)
            assert h["m"] == w["m"], (level, b, h["m"], w["m"])
    return got


# ----- properties ------------------------------------------------------------------------------

values = st.one_of(st.floats(-1e6, 1e6), st.sampled_from([math.nan, INF, -INF]), st.none())
names = st.sampled_from(["loss", "acc", "val/top 5", "λ"])


@st.composite
def series(draw):
    n = draw(st.integers(1, 1500))
    step = draw(st.integers(0, 3))
    chunk = 0
    out = []
    for i in range(n):
        move = draw(st.sampled_from(["next", "next", "next", "jump", "repeat", "back", "far_back"]))
        if move == "next":
            step += 1
        elif move == "jump":
            step += draw(st.integers(2, 40_000))
        elif move == "back":
            step = max(0, step - draw(st.integers(1, 9000)))
        elif move == "far_back":
            step = max(0, step - draw(st.integers(9000, 60_000)))
        if i % 97 == 96:
            chunk += 1
        metrics = {k: draw(values) for k in draw(st.sets(names, max_size=4))}
        metrics = {k: v for k, v in metrics.items() if v is not None}
        seconds = draw(st.one_of(st.none(), st.floats(0, 10), st.just(math.nan)))
        out.append((step, seconds, chunk, metrics))
        if move in ("back", "far_back"):
            step = max(s for s, *_ in out)  # the run goes on from its newest step
    return out


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(points=series(), take_every=st.integers(0, 300))
def test_every_bucket_equals_its_raw_points(points, take_every):
    _summ, docs = run(points, take_every)
    check(points, docs)


def test_long_run_levels_and_spike():
    """A 300,000-step run: every level right, the spike in every level's max, parts final."""
    rng = random.Random(1)
    points = [(s, 0.01, s // 500, {"loss": 1.0 + rng.random() * 0.1}) for s in range(1, 300_001)]
    points[123_456] = (123_457, 0.01, 123_457 // 500, {"loss": 50.0})
    summ, docs = run(points, 5000)
    got = check(points, docs)
    for level in range(1, S.LEVELS + 1):
        assert max(b["m"]["loss"][1] for b in got[level].values()) == 50.0
    head = docs["p/train-head"]
    assert head["through"] == 300_000 and head["points"] == 300_000 and head["skipped"] == 0
    # Memory stays bounded: only the open part and the one before it are held per level.
    assert all(len(level.parts) <= 2 for level in summ.levels)
    # Level 3 (8,192 steps a bucket) spans the run in 37 buckets, all in the head's open part.
    assert len(got[3]) == 37 and not [p for p in docs if "-L3-" in p]
    assert sorted(p for p in docs if "-L1-" in p) == [f"p/train-L1-{i:06d}" for i in range(9)]


def run_timed(points, times, take_every):
    summ = Summaries("train", "p")
    docs: dict[str, dict] = {}
    for i, ((step, seconds, chunk, metrics), t) in enumerate(zip(points, times)):
        summ.add(step, t, seconds, chunk, metrics)
        if (i + 1) % take_every == 0:
            docs.update(summ.take(chunk))
    docs.update(summ.take(points[-1][2]))
    return summ, docs


def test_a_fast_run_has_no_128_step_level():
    """2,000 steps a second (a Keras-like first batch of 5 s included): no 128-step level at
    all, the others numbered from 1 in the head's widths, every bucket right, ~8x fewer parts."""
    rng = random.Random(2)
    points = [(s, 0.0005, s // 30_000, {"loss": rng.random(), "acc": rng.random()}) for s in range(1, 600_001)]
    times = [0.0] + [5.0 + s / 2000 for s in range(2, 600_001)]
    summ, docs = run_timed(points, times, 20_000)
    assert summ.skip_finest is True and summ.rate() > 1900
    head = docs["p/train-head"]
    assert head["widths"] == list(S.WIDTHS[1:])
    assert [lv["level"] for lv in head["levels"]] == [1, 2, 3, 4, 5]
    assert all(d["width"] != 128 for d in docs.values() if "width" in d)
    check(points, docs)
    parts = sorted(p for p in docs if "-L" in p)
    assert parts == ["p/train-L1-000000", "p/train-L1-000001"]  # 262,144 steps a part now (was 18)


def test_a_run_decides_once_and_slow_runs_keep_every_level():
    slow = [(s, 0.01, 0, {"loss": 1.0}) for s in range(1, 40_001)]
    summ, docs = run_timed(slow, [s / 400 for s in range(1, 40_001)], 5_000)  # 400 steps/s
    assert summ.skip_finest is False and docs["p/train-head"]["widths"] == list(S.WIDTHS)
    check(slow, docs)
    assert "p/train-L1-000000" in docs and docs["p/train-L1-000000"]["width"] == 128
    # Undecided below DECIDE_STEPS (readers read raw chunks there): the head lists every level.
    early = Summaries("train", "p")
    for s in range(1, 5_001):
        early.add(s, s / 5000, None, 0, {"loss": 1.0})
    assert early.take(0)[-1][1]["widths"] == list(S.WIDTHS) and early.skip_finest is None
    # Fast at first, slow after the decision: the decision stands (readers saw it in the head).
    for s in range(5_001, 12_001):
        early.add(s, s / 5000, None, 0, {"loss": 1.0})
    early.take(0)
    for s in range(12_001, 80_001):
        early.add(s, 10 + s / 50, None, 0, {"loss": 1.0})
    assert early.skip_finest is True and early.take(0)[-1][1]["widths"] == list(S.WIDTHS[1:])


def test_nan_never_poisons_min_max():
    points = [(s, None, 0, {"loss": v}) for s, v in enumerate([1.0, math.nan, 3.0, INF, -INF, 2.0])]
    _summ, docs = run(points, 0)
    lv = docs["p/train-head"]["levels"][0]
    loss = lv["series"][0]
    assert (loss["min"], loss["max"], loss["last"], loss["count"], loss["bad"]) == ([1.0], [3.0], [2.0], [3], [3])
    assert loss["bad_step"] == 1 and math.isnan(loss["bad_value"])


def test_late_and_vanishing_metrics_and_skips():
    points = [(s, None, 0, {"a": float(s)} if s < 100 else {"b": float(s)}) for s in range(200)]
    points += [(100_000, None, 1, {"a": 1.0}), (5, None, 1, {"a": -1.0})]  # 5 is > 1 part behind
    summ, docs = run(points, 50)
    assert summ.skipped == 1
    check(points, docs)


def test_many_metrics_keep_the_head_small():
    names = [f"metric_{i:03d}_" + "x" * 40 for i in range(150)]
    points = [(s, None, 0, {n: float(s) for n in names}) for s in range(20_000)]
    _summ, docs = run(points, 2000)
    head = docs["p/train-head"]
    assert len(head["omitted"]) == 150 - S.MAX_METRICS
    import json

    assert all(len(json.dumps(d)) < 1_000_000 for d in docs.values())
    assert len(json.dumps(head)) < 400_000
    check(points, docs, only=set(names[:S.MAX_METRICS]))


def test_epoch_table_rows_and_parts():
    table = EpochTable("t")
    docs = {}
    for e in range(1, 4502):
        for path, doc in table.add(f"{e:06d}", {"kind": "train", "epoch": e, "step": e * 10,
                                               "names": ["loss"] + (["late"] if e > 4000 else []),
                                               "values": [1.0 / e] + ([2.0] if e > 4000 else []),
                                               "seconds": 0.5, "avg_seconds": 0.5, "time": e}):
            docs[path] = doc
    path, doc = table.doc()
    docs[path] = doc
    assert sorted(docs) == ["t/epochs-0000", "t/epochs-0001", "t/epochs-0002"]
    rows = [r for p in sorted(docs) for r in zip(docs[p]["id"], docs[p]["epoch"])]
    assert [e for _i, e in rows] == list(range(1, 4502))
    last = docs["t/epochs-0002"]
    late = next(s for s in last["series"] if s["name"] == "late")
    assert late["values"][:1] == [2.0] and len(late["values"]) == last["n"]


# ----- through the writer and the emulator ----------------------------------------------------

def read_kind(db, sid, kind="train"):
    docs = {f"p/{d.id}": d.to_dict() for d in db.collection(f"sessions/{sid}/summaries").stream()}
    raw = []
    for d in sorted(db.collection(f"sessions/{sid}/batches").stream(), key=lambda d: d.id):
        doc = unpack_chunk(d.to_dict())
        if doc["kind"] != kind:
            continue
        for i in range(doc["n"]):
            metrics = {s["name"]: s["values"][i] for s in doc["series"] if s["values"][i] is not None}
            raw.append((doc["step"][i], doc["seconds"][i], doc["index"], metrics))
    return docs, raw


def test_session_writes_summaries_that_match_its_chunks(db):
    import tfwatcher

    s = tfwatcher.Session(quiet=True, interval=0.2)
    s.start(mode="fit", epochs=3, steps=4000)
    rng = random.Random(7)
    for e in range(1, 4):
        for b in range(1, 4001):
            loss = math.nan if (e, b) == (2, 17) else 1.0 / (e * b) + rng.random()
            s.log_batch({"loss": loss, "acc": rng.random()}, epoch=e, batch=b, seconds=0.001)
        s.log_epoch({"loss": 0.5 / e}, epoch=e, seconds=1.0)
    s.log_batch({"loss": 0.1}, kind="test", epoch=1, batch=1)
    assert s.finish(wait=60)
    docs, raw = read_kind(db, s.id)
    assert len(raw) == 12_000
    check(raw, docs)
    head = docs["p/train-head"]
    assert head["through"] == 12_000 and head["schema"] == 3
    test_docs, test_raw = read_kind(db, s.id, "test")
    check(test_raw, test_docs, "test")
    tables = [d.to_dict() for d in db.collection(f"sessions/{s.id}/tables").stream()]
    assert [t["epoch"] for t in tables] == [[1, 2, 3]]
    chunk = unpack_chunk(db.document(f"sessions/{s.id}/batches/train-000000").get().to_dict())
    assert chunk["first"] == chunk["step"][0] and chunk["last"] == chunk["step"][-1]


def test_summaries_survive_an_outage(db, emulator):
    """Commits fail for a while (the send path's transient errors): nothing in the summaries
    is lost or doubled once they go through."""
    from google.api_core import exceptions as gexc

    from tfwatcher.record.writer import Writer

    sid = "outage" + "x" * 12
    fail = {"on": True}

    def outage(_batch):
        if fail["on"]:
            raise gexc.ServiceUnavailable("injected outage")

    factory = hooked_client_factory(emulator.project, outage)
    w = Writer(factory, f"sessions/{sid}", autostart=False)
    points = []
    for i in range(30_000):
        step = i + 1 if i % 5000 != 4999 else i - 300  # a late step now and then
        metrics = {"loss": float(i % 97)}
        w.add_point("train", step, 1, i + 1, 0.01, time.time(), metrics)
        points.append((step, 0.01, None, metrics))
        if i % 3000 == 0:
            w.step()  # fails: everything stays queued
    fail["on"] = False
    drain_by_hand(w)
    docs, raw = read_kind(db, sid)
    assert len(raw) == 30_000
    check(raw, docs)


def test_spool_and_sync_carry_the_summaries(db, emulator, tmp_path, monkeypatch):
    from google.api_core import exceptions as gexc
    from google.cloud import firestore

    from tfwatcher.record import spool as spool_module
    from tfwatcher.record.writer import Writer, upload_spool

    monkeypatch.setattr(spool_module, "SPOOL_DIR", tmp_path)

    def denied():
        raise gexc.PermissionDenied("no access (injected)")

    sid = "spooled" + "x" * 11
    w = Writer(denied, f"sessions/{sid}", autostart=False, explain=lambda e: "no access")
    for i in range(1, 9001):
        w.add_point("train", i, 1, i, 0.01, time.time(), {"loss": 1.0 / i})
    w.add_epoch("000001", {"schema": 1, "kind": "train", "epoch": 1, "step": 9000,
                           "names": ["loss"], "values": [0.1], "seconds": 1.0,
                           "avg_seconds": 1.0, "time": time.time()})
    with pytest.warns(RuntimeWarning):
        w.step()
    assert w.disabled
    assert w.flush(1) is False
    client = firestore.Client(project=emulator.project)
    upload_spool(client, w.spool_path)
    docs, raw = read_kind(db, sid)
    assert len(raw) == 9000
    check(raw, docs)
    assert db.document(f"sessions/{sid}/tables/epochs-0000").get().to_dict()["id"] == ["000001"]


def test_reused_callback_fits_and_evaluate_keep_summaries_whole(db):
    """One Watcher, two fits and an evaluate: train steps go on across fits, the test kind has
    its own; every bucket still equals its raw points and the table has all four epochs."""
    import tfwatcher
    from tfwatcher import demo

    (x, y), _ = demo.load_data("digits")
    watcher = tfwatcher.callbacks.Watcher(quiet=True, test_batches=1)
    model = demo.get_model()
    model.fit(x, y, batch_size=50, epochs=2, callbacks=[watcher], verbose=0)
    model.fit(x, y, batch_size=50, epochs=2, callbacks=[watcher], verbose=0)
    model.evaluate(x, y, batch_size=50, callbacks=[watcher], verbose=0)
    assert watcher.session.flush(30)
    sid = watcher.ref_id
    for kind in ("train", "test"):
        docs, raw = read_kind(db, sid, kind)
        assert raw, kind
        check(raw, docs, kind)
    docs, raw = read_kind(db, sid)
    assert docs["p/train-head"]["through"] == max(s for s, *_ in raw) == len(raw)
    table = db.document(f"sessions/{sid}/tables/epochs-0000").get().to_dict()
    assert table["id"] == ["000001", "000002", "000003", "000004", "evaluate-000001"]


def test_every_array_field_of_summaries_and_tables_is_unindexed():
    """Firestore indexes every array element unless told not to, and refuses a document with
    more than 40,000 index entries: a part of 256 buckets × 64 metrics has ~80,000 values. The
    emulator does not enforce it, so the overrides are checked here."""
    import json
    from pathlib import Path

    overrides = json.loads((Path(__file__).parents[2] / "firestore.indexes.json").read_text())["fieldOverrides"]
    off = {(o["collectionGroup"], o["fieldPath"]) for o in overrides if o["indexes"] == []}
    summ = Summaries("train", "p")
    for step in range(40_000):
        summ.add(step, 1.0, 0.1, 0, {"loss": 1.0, "bad": math.nan})
    table = EpochTable("t")
    table.add("000001", {"kind": "train", "epoch": 1, "step": 1, "names": ["loss"], "values": [1.0],
                         "seconds": 1.0, "avg_seconds": 1.0, "time": 1.0})
    docs = [("summaries", d) for _p, d in summ.take(0)] + [("tables", table.doc()[1])]
    for group, doc in docs:
        for field, value in doc.items():
            if isinstance(value, (list, dict)):
                assert (group, field) in off, f"{group}.{field} would be indexed"


def test_heads_keep_the_round_period_when_it_is_longer():
    """Unwatched (a 300 s round), a fast run's early rounds for full chunks add no head: a head
    is due every HEAD_INTERVAL or every round period, whichever is longer."""
    summ = Summaries("train", "p")
    summ.add(1, 1000.0, None, 0, {"loss": 1.0})
    assert summ.due(S.HEAD_INTERVAL, 0.0) and summ.due(S.HEAD_INTERVAL, 0.0, period=1.0)
    assert not summ.due(60.0, 0.0, period=300.0) and summ.due(270.0, 0.0, period=300.0)
    summ.take(0)
    assert not summ.due(1e9, 0.0)  # nothing new since the last head
