"""What TF Watcher costs a training run, measured against baselines in the same run.

    .venv/bin/python bench/overhead.py [--repeats 7] [--epochs 100] [--json out.json]

Trains the tutorial model (shared/tutorial.md: Dense(1) on 1,000 784-float samples,
batch 128, validation_split 0.5) with every batch logged, three ways, interleaved so that
machine noise hits all alike, and reports medians and ratios:

* no callback (the baseline);
* `tfwatcher.callbacks.Watcher()` writing to a local Firestore emulator (epochs, every train
  batch, every validation batch);
* `keras.callbacks.TensorBoard(update_freq="batch")`, the usual local alternative.

It also counts Firestore document writes (batch chunks, epochs, session updates), projects
them to 10,000 batches at this model's speed, and measures the latency from a batch hook to
the point being readable by a realtime listener (p50/p95), as the dashboard would see it.
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
from tfwatcher.base.packed import unpack_chunk  # noqa: E402
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["TFWATCHER_QR"] = "0"


def fit_once(kind: str, epochs: int, data, logdir: str):
    import keras

    from tfwatcher import callbacks, demo

    x, y = data
    cbs = []
    watcher = None
    if kind == "tfwatcher":
        watcher = callbacks.Watcher(quiet=True)
        cbs = [watcher]
    elif kind == "tensorboard":
        cbs = [keras.callbacks.TensorBoard(log_dir=logdir, update_freq="batch")]
    keras.utils.set_random_seed(0)
    model = demo.get_model()
    t0, c0 = time.perf_counter(), time.process_time()
    model.fit(x, y, batch_size=128, epochs=epochs, validation_split=0.5, callbacks=cbs, verbose=0)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    if watcher is not None:  # the writer's work after fit returns counts too
        c1 = time.process_time()
        watcher.session.flush(60)
        cpu += time.process_time() - c1
    return seconds, cpu, watcher


def measure_latency(db, n_points: int = 300, rate_hz: float = 100.0) -> list[float]:
    """Log points at `rate_hz` (on an absolute schedule) through a Session; a listener on the
    chunks notes when each becomes readable. Seconds, hook → listener. bench/writes.py uses it too."""
    import tfwatcher

    session = tfwatcher.Session(quiet=True)
    logged: dict[int, float] = {}
    seen: dict[int, float] = {}
    done = threading.Event()

    def on_snapshot(_snaps, changes, _read_time):
        now = time.perf_counter()
        for change in changes:
            for step in unpack_chunk(change.document.to_dict() or {}).get("step", []):
                seen.setdefault(step, now)
        if len(seen) >= n_points:
            done.set()

    watch = db.collection(f"sessions/{session.id}/batches").on_snapshot(on_snapshot)
    session.start(mode="custom")
    t0 = time.perf_counter()
    for step in range(1, n_points + 1):
        wait = t0 + step / rate_hz - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        logged[step] = time.perf_counter()
        session.log_batch({"loss": 1.0 / step})
    done.wait(30)
    watch.unsubscribe()
    session.finish(wait=10)
    return [seen[s] - logged[s] for s in logged if s in seen]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    from tfwatcher import demo
    from tfwatcher.local.emulator import Emulator

    emulator = Emulator(log_path=os.path.join(tempfile.gettempdir(), "bench-emulator.log")).start()
    os.environ.update(emulator.env())
    try:
        from google.cloud import firestore

        data = demo.load_data("digits")[0]
        kinds = ["none", "tfwatcher", "tensorboard"]
        times: dict[str, list[float]] = {k: [] for k in kinds}
        cpus: dict[str, list[float]] = {k: [] for k in kinds}
        paired: dict[str, list[float]] = {"tfwatcher": [], "tensorboard": []}
        writes = {"chunks": 0, "epochs": 0, "session": 0, "derived": 0, "points": 0, "seconds": 0.0}
        with tempfile.TemporaryDirectory() as logdir:
            for kind in kinds:  # warm-up: graph tracing, imports
                fit_once(kind, 2, data, logdir)
            for r in range(args.repeats):
                order = kinds[r % 3:] + kinds[:r % 3]  # rotate who goes first
                for kind in order:
                    seconds, cpu, watcher = fit_once(kind, args.epochs, data, logdir)
                    times[kind].append(seconds)
                    cpus[kind].append(cpu)
                    if watcher is not None:
                        counted = _count_writes(watcher.session)
                        for key in ("chunks", "epochs", "session", "derived", "points"):
                            writes[key] += counted[key]
                        writes["seconds"] += seconds
                for kind in paired:  # this round's ratio to this round's baseline
                    paired[kind].append(times[kind][-1] / times["none"][-1])
        median = {k: statistics.median(v) for k, v in times.items()}
        median_cpu = {k: statistics.median(v) for k, v in cpus.items()}
        db = firestore.Client(project=emulator.project)
        latencies = sorted(measure_latency(db))
        p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))]  # noqa: E731
        total_writes = writes["chunks"] + writes["epochs"] + writes["session"] + writes["derived"]
        per10k = 10_000 / writes["points"] if writes["points"] else float("nan")
        batches_per_second = writes["points"] / writes["seconds"]
        result = {
            "repeats": args.repeats, "epochs": args.epochs,
            "median_seconds": median,
            "ratio_tfwatcher": median["tfwatcher"] / median["none"],
            "ratio_tensorboard": median["tensorboard"] / median["none"],
            "paired_ratio_median": {k: statistics.median(v) for k, v in paired.items()},
            "median_cpu_seconds": median_cpu,
            "cpu_ratio_tfwatcher": median_cpu["tfwatcher"] / median_cpu["none"],
            "cpu_ratio_tensorboard": median_cpu["tensorboard"] / median_cpu["none"],
            "batch_points_logged": writes["points"],
            "batch_points_per_second": batches_per_second,
            "writes_per_10k_batches": {"chunks": writes["chunks"] * per10k,
                                       "epochs": writes["epochs"] * per10k,
                                       "session": writes["session"] * per10k,
                                       "summaries_and_table": writes["derived"] * per10k,
                                       "total": total_writes * per10k},
            "predecessor_writes_per_10k_batches": 10_000,
            "chunk_writes_per_second": writes["chunks"] / writes["seconds"],
            "latency_seconds": {"p50": p(0.5), "p95": p(0.95), "max": latencies[-1],
                                "n": len(latencies)},
        }
    finally:
        emulator.stop()
    print(json.dumps(result, indent=2))
    print(f"\nfit time, median of {args.repeats}: none {median['none']:.3f} s, "
          f"tfwatcher {median['tfwatcher']:.3f} s ({result['ratio_tfwatcher']:.3f}x), "
          f"TensorBoard {median['tensorboard']:.3f} s ({result['ratio_tensorboard']:.3f}x); "
          f"median of per-round ratios: tfwatcher {result['paired_ratio_median']['tfwatcher']:.3f}x, "
          f"TensorBoard {result['paired_ratio_median']['tensorboard']:.3f}x; CPU time ratios: "
          f"tfwatcher {result['cpu_ratio_tfwatcher']:.3f}x, TensorBoard {result['cpu_ratio_tensorboard']:.3f}x")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


def _count_writes(session) -> dict:
    """Writes this session's writer committed, by document kind (from its send log)."""
    log = getattr(session.writer, "bench_log", None)
    counts = {"chunks": 0, "epochs": 0, "session": 0, "derived": 0,
              "points": session.writer.stats["points"]}
    for what in log or []:
        key = {"open": "chunks", "closed": "chunks", "epoch": "epochs", "session": "session",
               "first": "session", "derived": "derived"}[what]  # first: the session document and owner key, on first use
        counts[key] += 1
    return counts


if __name__ == "__main__":
    # Every writer records what it sent, by kind, for _count_writes.
    from tfwatcher.record.sender import Sender

    _orig_commit = Sender._commit

    def _logged_commit(self, client, group):  # the writer's thread commits through its Sender
        _orig_commit(self, client, group)
        self.writer.__dict__.setdefault("bench_log", []).extend(w[0] for w in group)

    Sender._commit = _logged_commit
    sys.exit(main())
