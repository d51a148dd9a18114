"""Writes per hour of batch logging, and how fast epochs and batches reach a listener.

    .venv/bin/python bench/writes.py [--seconds 60] [--rates 20,200,2000] [--json out.json]

Starts its own Firestore emulator. For each batch rate, a `Session` logs batches (3 metrics)
for `--seconds` (writes committed in that window are counted), twice, interleaved: with
schema 2's summaries and epoch table (what users
get) and without them (`Writer.derived = False`: what schema 1 wrote), counting committed
document writes by kind and projecting them to one hour. The ratio is the cost of the
summaries (issue target: ≤ 1.1x).

Then latency, as a dashboard sees it: 40 epochs logged 1 s apart, each timed from
`log_epoch` to the moment a listener on the epoch table receives its row (p50/p95; target
p95 ≤ 250 ms), and 1,000 batches at 100/s timed to a listener on the chunks (target
p95 ≤ 1.1 s).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ["TFWATCHER_QR"] = "0"

from overhead import measure_latency  # noqa: E402  (bench/ is the script's own folder)


def count_writes(rate: float, seconds: float, derived: bool) -> dict:
    import tfwatcher
    from tfwatcher.record import writer as writer_module

    writer_module.Writer.derived = derived
    try:
        s = tfwatcher.Session(quiet=True, system_metrics=False)  # their cost: docs/benchmarks.md
        s.start(mode="fit", epochs=None, steps=None)
        t0 = time.perf_counter()
        n = 0
        while True:
            elapsed = time.perf_counter() - t0
            if elapsed >= seconds:
                break
            due = int(elapsed * rate)
            while n < due:
                n += 1
                s.log_batch({"loss": 1.0 / n, "accuracy": n % 7 / 7, "lr": 0.001}, epoch=1,
                            batch=n, seconds=1.0 / rate)
            time.sleep(0.005)
        # Writes committed while logging, as in an hour of it (the end's flush is not counted).
        log = list(s.writer.__dict__.get("bench_log", []))
        counts: dict[str, int] = {}
        for what in log:
            counts[what] = counts.get(what, 0) + 1
        s.finish(wait=30)
        return {"points": n, "counts": counts, "total": sum(counts.values()),
                "per_hour": sum(counts.values()) * 3600 / seconds}
    finally:
        writer_module.Writer.derived = True


def epoch_latency(db, epochs: int = 40, gap: float = 1.0) -> list[float]:
    import tfwatcher

    s = tfwatcher.Session(quiet=True)
    logged: dict[int, float] = {}
    seen: dict[int, float] = {}
    done = threading.Event()

    def on_snapshot(snaps, _changes, _read_time):
        now = time.perf_counter()
        for snap in snaps:
            for e in (snap.to_dict() or {}).get("epoch", []):
                seen.setdefault(e, now)
        if len(seen) >= epochs:
            done.set()

    watch = db.collection(f"sessions/{s.id}/tables").on_snapshot(on_snapshot)
    s.start(mode="fit", epochs=epochs, steps=10)
    for e in range(1, epochs + 1):
        for b in range(1, 11):
            s.log_batch({"loss": 1.0 / (e * b)}, epoch=e, batch=b, seconds=0.01)
        logged[e] = time.perf_counter()
        s.log_epoch({"loss": 1.0 / e}, epoch=e, seconds=gap)
        time.sleep(gap)
    done.wait(30)
    watch.unsubscribe()
    s.finish(wait=10)
    return [seen[e] - logged[e] for e in logged if e in seen]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rates", default="20,200,2000")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    from google.cloud import firestore

    from tfwatcher.local.emulator import Emulator

    emulator = Emulator(log_path=os.path.join(tempfile.gettempdir(), "bench-writes-emulator.log")).start()
    os.environ.update(emulator.env())
    result: dict = {"seconds": args.seconds, "rates": {}}
    try:
        for rate in [float(r) for r in args.rates.split(",")]:
            base = count_writes(rate, args.seconds, derived=False)
            new = count_writes(rate, args.seconds, derived=True)
            result["rates"][str(int(rate))] = {
                "schema1": base, "schema2": new,
                "ratio": new["per_hour"] / base["per_hour"] if base["per_hour"] else None,
            }
            print(f"{rate:>6.0f} batches/s: {base['per_hour']:8.0f} writes/h without summaries, "
                  f"{new['per_hour']:8.0f} with ({new['counts'].get('derived', 0)} summary/table "
                  f"writes in {args.seconds:.0f} s): {result['rates'][str(int(rate))]['ratio']:.3f}x",
                  flush=True)
        db = firestore.Client(project=emulator.project)
        ep = epoch_latency(db)
        bt = measure_latency(db, n_points=1000)
        result["epoch_latency_ms"] = {"p50": pct(ep, 0.5) * 1e3, "p95": pct(ep, 0.95) * 1e3, "n": len(ep)}
        result["batch_latency_ms"] = {"p50": pct(bt, 0.5) * 1e3, "p95": pct(bt, 0.95) * 1e3, "n": len(bt)}
        print(f"epoch → table listener: p50 {result['epoch_latency_ms']['p50']:.0f} ms, "
              f"p95 {result['epoch_latency_ms']['p95']:.0f} ms (n={len(ep)})")
        print(f"batch → chunk listener: p50 {result['batch_latency_ms']['p50']:.0f} ms, "
              f"p95 {result['batch_latency_ms']['p95']:.0f} ms (n={len(bt)})")
        db.close()
    finally:
        emulator.stop()
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    from tfwatcher.record.sender import Sender

    _orig_commit = Sender._commit

    def _logged_commit(self, client, group):  # the writer's thread commits through its Sender
        _orig_commit(self, client, group)
        self.writer.__dict__.setdefault("bench_log", []).extend(w[0] for w in group)

    Sender._commit = _logged_commit
    sys.exit(main())
