"""Live sessions for presence.test.js and bench/dashboard/watch_bytes.mjs, written with the real
logging API (tfwatcher.Session, its attention-based cadence on: docs/dashboard.md "Presence").

    python presence_writer.py live [--rate R] [--metrics M] [--name NAME]
    python presence_writer.py finished
    python presence_writer.py arrivals N [--rate R]
    python presence_writer.py return [--rate R] [--metrics M] [--before P]

live      one running session logging R batches/s (default 20) of M metrics (default 1) until
          stdin closes; prints {"event": "created", "id"}, then {"event": "logged", "step"}
          twice a second.
finished  a session with a few batch points, finished and flushed; prints {"event": "created",
          "id"} and {"event": "finished"}, then exits.
arrivals  N running sessions at R batches/s each (system metrics off). A run counts as watched
          for a presence lease's length after it starts (its link was just shown), then the
          writer goes to its slow cadence and declares it (`heartbeat_every` ≥ the contract's
          attention.unwatched_round_seconds): once every session's document says so (read with
          server credentials) it prints {"event": "unwatched", "ids": [...]}. Then each line
          "step_at I T" on stdin (T: Unix seconds) is answered with {"event": "step_at", "i": I,
          "step": S}: the newest step of session I logged at or before T. Stdin closing ends
          every session.
return    for bench/dashboard/return_reads.mjs: one running session, unwatched from its start
          (Attention.start_grace = 0) until a page announces itself; logs P points at once
          (default 0) and flushes, prints {"event": "created", "id"}, then logs R batches/s with
          {"event": "logged", "step"} twice a second. Commands on stdin, answered in order:
          "unwatched": {"event": "unwatched", "step"} once the session document declares the
          slow cadence (read with server credentials every 2 s); "burst N": logs N points at
          once (what R batches/s would log in N/R seconds, time compressed), flushes and prints
          {"event": "burst", "step", "flushed"}. Stdin closing ends the session.

Uses FIRESTORE_EMULATOR_HOST and TFWATCHER_PROJECT / GCLOUD_PROJECT, as the other writers here.
"""

import argparse
import bisect
import json
import os
import sys
import threading
import time

import tfwatcher
from tfwatcher.base.contract import ATTENTION, HEARTBEAT_FIELD, session_path

TICK = 0.05  # seconds between two logging moments (R/20 batches each)


def say(**event):
    print(json.dumps(event), flush=True)


class Run:
    """A session logging at a fixed rate, with the (time, step) of every logging moment."""

    def __init__(self, name, metrics, system_metrics=False):
        self.s = tfwatcher.Session(run_name=name, quiet=True, system_metrics=system_metrics)
        self.metrics = [f"m{k}" if k else "loss" for k in range(metrics)]
        self.step = 0
        self.times = []
        self.steps = []
        self.lock = threading.Lock()

    def start(self):
        self.s.start(mode="fit", epochs=1, steps=10_000_000)

    def log(self, n):
        for _ in range(n):
            self.step += 1
            self.s.log_batch({m: 1.0 / self.step + k for k, m in enumerate(self.metrics)},
                             epoch=1, batch=self.step, seconds=TICK / n)
        with self.lock:
            self.times.append(time.time())
            self.steps.append(self.step)

    def step_at(self, t):
        with self.lock:
            i = bisect.bisect_right(self.times, t)
            return self.steps[i - 1] if i else 0


def stdin_lines(on_line):
    """Reads stdin on a thread; returns an Event set when it closes."""
    done = threading.Event()

    def read():
        for line in sys.stdin:
            on_line(line.strip())
        done.set()

    threading.Thread(target=read, daemon=True).start()
    return done


def log_until(runs, rate, done, on_tick=None):
    per = max(1, round(rate * TICK))
    period = per / rate
    t0 = time.monotonic()
    k = 0
    while not done.is_set():
        for r in runs:
            r.log(per)
        if on_tick:
            on_tick()
        k += 1
        time.sleep(max(0.0, t0 + k * period - time.monotonic()))


def live(a):
    run = Run(a.name, a.metrics)
    run.start()
    say(event="created", id=run.s.id)
    done = stdin_lines(lambda _l: None)
    said = [0.0]

    def tick():
        if time.monotonic() - said[0] >= 0.5:
            said[0] = time.monotonic()
            say(event="logged", step=run.step)

    log_until([run], a.rate, done, tick)
    run.s.finish(wait=20)


def finished(a):
    run = Run(a.name, a.metrics)
    run.start()
    say(event="created", id=run.s.id)
    run.log(20)
    run.s.finish(wait=30)
    assert run.s.flush(timeout=30), "flush failed"
    say(event="finished")


def arrivals(a):
    from google.cloud import firestore

    db = firestore.Client(project=os.environ.get("TFWATCHER_PROJECT") or os.environ["GCLOUD_PROJECT"])
    runs = [Run(f"{a.name} {i}", a.metrics) for i in range(a.n)]
    for r in runs:
        r.start()
    by_index = dict(enumerate(runs))

    def on_line(line):
        parts = line.split()
        if len(parts) == 3 and parts[0] == "step_at":
            i, t = int(parts[1]), float(parts[2])
            say(event="step_at", i=i, step=by_index[i].step_at(t))

    done = stdin_lines(on_line)
    slow = ATTENTION["unwatched_round_seconds"]
    checked = [time.monotonic(), False]

    def tick():
        # Every 2 s until each session declares the slow cadence.
        if checked[1] or time.monotonic() - checked[0] < 2:
            return
        checked[0] = time.monotonic()
        declared = [(db.document(session_path(r.s.id)).get().to_dict() or {}).get(HEARTBEAT_FIELD) for r in runs]
        if all(isinstance(d, (int, float)) and d >= slow for d in declared):
            checked[1] = True
            say(event="unwatched", ids=[r.s.id for r in runs])

    log_until(runs, a.rate, done, tick)
    for r in runs:
        r.s.finish(wait=20)


def return_run(a):
    from queue import Empty, Queue

    from google.cloud import firestore

    from tfwatcher.record.attention import Attention

    Attention.start_grace = 0.0  # unwatched until a page's presence says otherwise
    db = firestore.Client(project=os.environ.get("TFWATCHER_PROJECT") or os.environ["GCLOUD_PROJECT"])
    run = Run(a.name, a.metrics)
    run.start()

    def burst(n):
        """n points as R batches/s logs them (seconds per batch 1/R), logged at once."""
        for _ in range(n):
            run.step += 1
            run.s.log_batch({m: 1.0 / run.step + k for k, m in enumerate(run.metrics)},
                            epoch=1, batch=run.step, seconds=1.0 / a.rate)
        return run.s.flush(timeout=300)

    if a.before:
        assert burst(a.before), "flush failed"
    say(event="created", id=run.s.id)
    commands = Queue()
    done = stdin_lines(lambda line: commands.put(line) if line else None)
    slow = ATTENTION["unwatched_round_seconds"]
    waiting = []  # "unwatched" asked: (next check time)
    said = [0.0]

    def tick():
        now = time.monotonic()
        try:
            while True:
                parts = commands.get_nowait().split()
                if parts == ["unwatched"]:
                    waiting.append(0.0)
                elif len(parts) == 2 and parts[0] == "burst":
                    # A burst while unwatched: held until the flush, as the slow rounds would carry it.
                    flushed = burst(int(parts[1]))
                    say(event="burst", step=run.step, flushed=flushed)
        except Empty:
            pass
        if waiting and now >= waiting[0]:
            declared = (db.document(session_path(run.s.id)).get().to_dict() or {}).get(HEARTBEAT_FIELD)
            if isinstance(declared, (int, float)) and declared >= slow:
                waiting.pop(0)
                say(event="unwatched", step=run.step)
            else:
                waiting[0] = now + 2
        if now - said[0] >= 0.5:
            said[0] = now
            say(event="logged", step=run.step)

    log_until([run], a.rate, done, tick)
    run.s.finish(wait=20)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("scenario", choices=["live", "finished", "arrivals", "return"])
    ap.add_argument("n", type=int, nargs="?", default=1)
    ap.add_argument("--rate", type=float, default=20.0)
    ap.add_argument("--metrics", type=int, default=1)
    ap.add_argument("--name", default="e2e presence")
    ap.add_argument("--before", type=int, default=0)
    a = ap.parse_args()
    {"live": live, "finished": finished, "arrivals": arrivals, "return": return_run}[a.scenario](a)


if __name__ == "__main__":
    main()
