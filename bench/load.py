"""Load: many sessions at once, each logging every batch, into one Firestore emulator.

    .venv/bin/python bench/load.py --sessions 50 --seconds 60 --rate 100 [--json out.json]

Starts its own emulator (`tfwatcher.local.emulator.Emulator`), creates N `tfwatcher.Session`s (one
background writer thread each, as N training processes would have) and runs N threads that
each log `rate` points a second into their own session for `seconds`. Then every session is
finished and flushed, everything is read back, and every point is checked to be stored
exactly once (steps 1..n per session, with the values and epoch/batch it was logged with).

Prints one JSON object: points sent and stored, missing/duplicates, commits and writes per
second (from each `session.writer.stats`), points per write, the writers' largest backlog
(`stats["max_backlog"]`: documents waiting at a send; and, sampled every 0.25 s, the batch
points in chunks with uncommitted changes, per writer and over all writers), flush times (p50/p95/max), the cost of a
`log_batch` call (p50/p99), and CPU: the writer threads (from /proc), the logging threads,
the whole process and the emulator's JVM.

`run()` is what tests/read/test_load.py calls (with the test suite's emulator).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tfwatcher.base.packed import unpack_chunk  # noqa: E402
os.environ.setdefault("TFWATCHER_QR", "0")

BATCHES_PER_EPOCH = 1000
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_of_thread(native_id: int | None) -> float:
    """CPU seconds (user + system) of one thread of this process, from /proc (Linux)."""
    if native_id is None:
        return 0.0
    try:
        fields = Path(f"/proc/self/task/{native_id}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK
    except (OSError, IndexError, ValueError):
        return 0.0


def _cpu_of_group(pgid: int | None) -> float:
    """CPU seconds of every process in a process group (the emulator's script and JVM)."""
    if pgid is None:
        return 0.0
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:
                total += (int(fields[11]) + int(fields[12])) / _TICK
        except (OSError, IndexError, ValueError):
            continue
    return total


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def expected_metrics(step: int) -> dict[str, float]:
    return {"loss": 1.0 / step, "accuracy": (step % 97) / 97.0}


def read_points(client, sid: str) -> list[tuple[int, int, int, float, float]]:
    """(step, epoch, batch, loss, accuracy) of every stored train point of a session."""
    out = []
    for snap in client.collection(f"sessions/{sid}/batches").stream():
        chunk = unpack_chunk(snap.to_dict())
        series = {s["name"]: s["values"] for s in chunk["series"]}
        for i in range(chunk["n"]):
            out.append((chunk["step"][i], chunk["epoch"][i], chunk["batch"][i],
                        series["loss"][i], series["accuracy"][i]))
    return out


def verify(points, n: int) -> dict:
    """Every step 1..n exactly once, with the values and epoch/batch it was logged with."""
    steps = [p[0] for p in points]
    seen = set(steps)
    wrong = 0
    for step, epoch, batch, loss, acc in points:
        want = expected_metrics(step)
        if (loss, acc) != (want["loss"], want["accuracy"]) or (epoch, batch) != (
                1 + (step - 1) // BATCHES_PER_EPOCH, 1 + (step - 1) % BATCHES_PER_EPOCH):
            wrong += 1
    return {"stored": len(steps), "missing": n - len(seen & set(range(1, n + 1))),
            "duplicates": len(steps) - len(seen), "unexpected": len(seen - set(range(1, n + 1))),
            "wrong": wrong}


def run(sessions: int = 50, seconds: float = 60.0, rate: float = 100.0, emulator=None,
        interval: float = 1.0, flush_timeout: float = 300.0, progress=None) -> dict:
    """Run the load; returns the report (see the module docstring). `emulator`: a running
    `tfwatcher.local.emulator.Emulator` to use; by default one is started and stopped here."""
    from google.cloud import firestore

    import tfwatcher
    from tfwatcher.local.emulator import Emulator

    say = progress or (lambda _msg: None)
    own = emulator is None
    if own:
        emulator = Emulator().start()
    old_env = {k: os.environ.get(k) for k in emulator.env()}
    os.environ.update(emulator.env())
    try:
        n = int(round(rate * seconds))
        t0 = time.perf_counter()
        opened = [tfwatcher.Session(quiet=True, interval=interval, run_name=f"load {i}", system_metrics=False)
                  for i in range(sessions)]
        create_s = time.perf_counter() - t0
        say(f"{sessions} sessions created in {create_s:.1f} s; logging {n} points each")

        hook_times: list[list[float]] = [[] for _ in opened]
        flush_times: list[float | None] = [None] * sessions
        flush_ok: list[bool] = [False] * sessions
        lag: list[float] = [0.0] * sessions
        logger_cpu: list[float] = [0.0] * sessions
        backlog = {"points": 0, "docs": 0, "total_points": 0}
        stop_sampling = threading.Event()
        barrier = threading.Barrier(sessions + 1)

        def sample():
            while not stop_sampling.wait(0.25):
                total = 0
                for s in opened:
                    pts = s.writer.buffered_points() - _sent_open_points(s.writer)
                    backlog["points"] = max(backlog["points"], pts)
                    backlog["docs"] = max(backlog["docs"], s.writer.pending())
                    total += pts
                backlog["total_points"] = max(backlog["total_points"], total)

        def log(i: int):
            s = opened[i]
            times = hook_times[i]
            perf = time.perf_counter
            s.start(mode="custom", epochs=-(-n // BATCHES_PER_EPOCH), steps=BATCHES_PER_EPOCH)
            barrier.wait()
            c0 = time.thread_time()
            start = perf()
            worst = 0.0
            for step in range(1, n + 1):
                due = start + (step - 1) / rate
                now = perf()
                if due > now:
                    time.sleep(due - now)
                else:
                    worst = max(worst, now - due)
                h0 = perf()
                s.log_batch(expected_metrics(step), epoch=1 + (step - 1) // BATCHES_PER_EPOCH,
                            batch=1 + (step - 1) % BATCHES_PER_EPOCH, seconds=0.01)
                times.append(perf() - h0)
            logger_cpu[i] = time.thread_time() - c0
            lag[i] = worst
            s.finish()
            f0 = perf()
            flush_ok[i] = s.flush(flush_timeout)
            flush_times[i] = perf() - f0

        threads = [threading.Thread(target=log, args=(i,), name=f"load-{i}") for i in range(sessions)]
        for t in threads:
            t.start()
        sampler = threading.Thread(target=sample, name="load-sampler", daemon=True)
        barrier.wait()
        # Each writer's thread starts with its session (start() in `log`), so only now.
        writer_tids = [s.writer._thread.native_id for s in opened if s.writer._thread]
        sampler.start()
        cpu0 = time.process_time()
        writer_cpu0 = sum(_cpu_of_thread(t) for t in writer_tids)
        emu_pgid = emulator.proc.pid if emulator.proc else None
        emu_cpu0 = _cpu_of_group(emu_pgid)
        stats0 = [dict(s.writer.stats) for s in opened]
        w0 = time.perf_counter()
        for t in threads:
            t.join()
        wall = time.perf_counter() - w0
        stop_sampling.set()
        sampler.join()
        process_cpu = time.process_time() - cpu0
        writer_cpu = sum(_cpu_of_thread(t) for t in writer_tids) - writer_cpu0
        emu_cpu = _cpu_of_group(emu_pgid) - emu_cpu0
        say(f"logged and flushed in {wall:.1f} s; reading back")

        client = firestore.Client(project=emulator.project)
        with ThreadPoolExecutor(8) as pool:
            checks = list(pool.map(lambda s: verify(read_points(client, s.id), n), opened))
        client.close()

        stats = [{k: s.writer.stats[k] - st0.get(k, 0) if k != "max_backlog" else s.writer.stats[k]
                  for k in s.writer.stats} for s, st0 in zip(opened, stats0)]
        commits = sum(st["commits"] for st in stats)
        writes = sum(st["writes"] for st in stats)
        hooks = [t for times in hook_times for t in times]
        flushes = [f for f in flush_times if f is not None]
        total = n * sessions
        report = {
            "sessions": sessions, "seconds": seconds, "rate_per_session": rate,
            "interval": interval, "points_sent": total,
            "points_stored": sum(c["stored"] for c in checks),
            "missing": sum(c["missing"] for c in checks),
            "duplicates": sum(c["duplicates"] for c in checks),
            "unexpected": sum(c["unexpected"] for c in checks),
            "wrong_values": sum(c["wrong"] for c in checks),
            "all_flushed": all(flush_ok),
            "every_point_once": all(c["missing"] == c["duplicates"] == c["unexpected"] == c["wrong"] == 0
                                    and c["stored"] == n for c in checks),
            "wall_s": round(wall, 2),
            "session_create_s": round(create_s, 2),
            "points_per_s": round(total / wall, 1),
            "commits": commits, "writes": writes,
            "errors": sum(st["errors"] for st in stats),
            "commits_per_s": round(commits / wall, 2),
            "writes_per_s": round(writes / wall, 2),
            "points_per_write": round(total / writes, 1) if writes else None,
            "max_backlog_docs": max(st["max_backlog"] for st in stats),
            "max_backlog_docs_sampled": backlog["docs"],
            "max_unsent_points_one_writer": backlog["points"],
            "max_unsent_points_all_writers": backlog["total_points"],
            "flush_s": {"p50": _round(_pct(flushes, 50)), "p95": _round(_pct(flushes, 95)),
                        "max": _round(max(flushes) if flushes else None)},
            "log_batch_us": {"p50": _round(_pct(hooks, 50), 1e6), "p99": _round(_pct(hooks, 99), 1e6),
                             "max": _round(max(hooks) if hooks else None, 1e6)},
            "logger_max_lag_s": round(max(lag), 3),
            "cpu": {
                "cores": os.cpu_count(),
                "process_s": round(process_cpu, 2),
                "writer_threads_s": round(writer_cpu, 2),
                "writer_threads_pct_of_one_core": round(100 * writer_cpu / wall, 1),
                "writer_ms_per_commit": round(1000 * writer_cpu / commits, 2) if commits else None,
                "logger_threads_s": round(sum(logger_cpu), 2),
                "emulator_s": round(emu_cpu, 2),
            },
        }
        for s in opened:  # all committed and checked: nothing is left for the exit handler
            assert s.writer.pending() == 0
        return report
    finally:
        for k, v in old_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        if own:
            emulator.stop()


def _sent_open_points(writer) -> int:
    """Points of open chunks that are already committed (not dirty): not a backlog."""
    with writer._lock:
        return sum(c.n for c in writer._open.values() if not c.dirty)


def _round(value, scale: float = 1.0):
    return None if value is None else round(value * scale, 4 if scale == 1.0 else 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=100.0, help="points per second per session")
    parser.add_argument("--interval", type=float, default=1.0, help="writer send interval (s)")
    parser.add_argument("--json", default=None, help="also write the report to this file")
    args = parser.parse_args(argv)
    report = run(args.sessions, args.seconds, args.rate, interval=args.interval,
                 progress=lambda msg: print(msg, file=sys.stderr, flush=True))
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0 if report["every_point_once"] and report["all_flushed"] else 1


if __name__ == "__main__":
    sys.exit(main())
