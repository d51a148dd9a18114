"""Writes a day of training costs when nobody watches, and with a viewer for one hour of it
(issue 18's targets), in simulated time against a real Firestore emulator.

    .venv/bin/python bench/attention.py [--hours 24] [--rates 20,200,2000] [--json out.json]

Method: a real `Session` (system metrics on, 3 metrics per batch, an epoch every 10 min)
whose writer is driven round by round on a simulated clock: the loop's own decisions
(`Attention.period`, `Sender.early_locked`) say when a round starts, and each round is the
writer's real round (`Sender.round`), committing to the emulator. Writes are counted at the
commits. Only the clock is simulated: batches are logged one by one (rate × seconds calls to
`log_batch`), so nothing is projected except where `--project` says so (the fast rates run
a shorter window, projected to an hour). A viewer is simulated as the presence listener sees
one: a lease of 120 s renewed every 60 s (`Writer._presence_seen`'s state change), and the
reads that listener costs are counted (one per renewal).

Every run is in a workspace, so the writes of its row there are included (and listed apart:
`by_kind["index"]`). Baseline in the same run: the same day with `unwatched_every=None` (the writer before
issue 18, sending every second whoever watches).
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ["TFWATCHER_QR"] = "0"

EPOCH_EVERY = 600  # seconds
METRICS = 3


def as_float32(x: float) -> float:
    """The value as Keras logs it (a float32 metric, as a Python float)."""
    return struct.unpack("f", struct.pack("f", x))[0]


def simulate(rate: float, seconds: int, watched: tuple[int, int] | None, unwatched_every,
             count_from: int = 0, float32: bool = False) -> dict:
    """Writes (by kind) and presence reads for `seconds` of simulated training at `rate`
    batches/s; `watched` = (from, to) seconds during which a viewer is present."""
    import tfwatcher
    from tfwatcher.record.attention import BACKLOG_CHECK_SECONDS, LEASE
    from tfwatcher.record.sender import Connection

    counts: dict[str, int] = {}
    from tfwatcher.base.ids import new_workspace_id

    # In a workspace: its row of the run ("index" writes) is counted apart too.
    s = tfwatcher.Session(quiet=True, system_metrics=True, unwatched_every=unwatched_every,
                          workspace=new_workspace_id())
    w = s.writer
    w._autostart = False
    sender = w._sender
    att = sender.attention
    clock = [0]

    def count(writes):
        if clock[0] >= count_from:
            for k in writes:
                counts[k[0]] = counts.get(k[0], 0) + 1

    w.on_send = count
    # Points carry simulated times too (the summaries judge a run's rate from them).
    from tfwatcher.record import session as session_module
    sim = [time.time()]
    real_time = session_module.time

    class SimTime:
        def __getattr__(self, name):
            return getattr(real_time, name)

        def time(self):
            return sim[0]

    session_module.time = SimTime()
    t0 = sim[0]
    conn = Connection()
    steps_per_epoch = int(rate * EPOCH_EVERY)
    s.start(mode="fit", epochs=seconds // EPOCH_EVERY + 1, steps=steps_per_epoch)
    with w._lock:
        att.watched_until = LEASE  # the run's start counts as watched (simulated clock)
    reads = 0
    started = 0.0
    step = 0
    carry = 0.0
    t_wall = time.perf_counter()
    for t in range(seconds):
        clock[0] = t
        carry += rate
        k = 0
        while carry >= 1.0:
            carry -= 1.0
            step += 1
            sim[0] = t0 + t + k / rate
            k += 1
            epoch, batch = divmod(step - 1, steps_per_epoch)
            values = {"loss": 1.0 / step, "accuracy": step % 7 / 7, "lr": 0.001}
            if float32:
                values = {k: as_float32(v) for k, v in values.items()}
            s.log_batch(values, epoch=epoch + 1, batch=batch + 1, seconds=1.0 / rate)
            if batch + 1 == steps_per_epoch:
                s.log_epoch({"loss": 1.0 / step, "val_loss": 1.1 / step}, epoch=epoch + 1,
                            seconds=EPOCH_EVERY)
        if watched and watched[0] <= t < watched[1] and (t - watched[0]) % 60 == 0:
            reads += 1  # the presence listener reads each renewal
            with w._lock:
                if att.seen_locked(float(t), 120.0):
                    w._buffer.force_derived = True
                    w._wake.set()
        with w._lock:
            period = att.period(w.interval)
            # As the loop does: woken, or (nobody watching) a look at the backlog every
            # BACKLOG_CHECK_SECONDS.
            look = w._wake.is_set() or (not att.watched and t % BACKLOG_CHECK_SECONDS == 0)
            early = look and sender.early_locked()
        if t >= started + period or early:
            w._wake.clear()
            started = float(t)
            sender.round(float(t), conn)
    # What is still waiting (in memory or the spool file) is written later: counted too.
    backlog = w.pending()
    per_writes = sum(counts.values()) + backlog
    s.finish()
    w.stop(0)
    conn.release()
    session_module.time = real_time
    return {"rate": rate, "values": "float32" if float32 else "float64", "seconds": seconds - count_from, "points": step, "writes": per_writes,
            "by_kind": counts, "still_waiting": backlog, "presence_reads": reads,
            "wall_seconds": round(time.perf_counter() - t_wall, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hours", type=float, default=24.0, help="simulated day at 20 batches/s")
    parser.add_argument("--rates", default="200,2000", help="faster rates, one simulated window each")
    parser.add_argument("--window", type=int, default=1800, help="seconds simulated at the faster rates")
    parser.add_argument("--baseline-hours", type=float, default=1.0)
    parser.add_argument("--json", default=None)
    parser.add_argument("--fast-only", action="store_true", help="only the faster rates")
    args = parser.parse_args()

    from tfwatcher.local.emulator import Emulator
    from tfwatcher.record.attention import LEASE

    emulator = Emulator(log_path=os.path.join(tempfile.gettempdir(), "bench-attention-emulator.log")).start()
    os.environ.update(emulator.env())
    out: dict = {"method": "simulated clock, real rounds and commits (bench/attention.py)"}
    try:
        day = int(args.hours * 3600)
        out["fast"] = {}
        if not args.fast_only:
            base = simulate(20, int(args.baseline_hours * 3600), None, None)
            base_h = base["writes"] * 3600 / base["seconds"]
            print(f"baseline (always every second), 20 batches/s: {base_h:,.0f} writes/h", flush=True)
            unwatched = simulate(20, day, None, 300.0)
            u_h = unwatched["writes"] * 3600 / unwatched["seconds"]
            print(f"unwatched, 20 batches/s, {args.hours:g} h: {unwatched['writes']:,} writes "
                  f"({u_h:,.0f}/h; {u_h / base_h:.3f}x the baseline)", flush=True)
            viewer = simulate(20, day, (day // 2, day // 2 + 3600), 300.0)
            print(f"with a viewer 1 h of {args.hours:g}: {viewer['writes']:,} writes, "
                  f"{viewer['presence_reads']} presence reads", flush=True)
            out.update(baseline=base, baseline_per_hour=base_h, unwatched=unwatched,
                       unwatched_per_hour=u_h, viewer_one_hour=viewer)
        for rate in [float(r) for r in args.rates.split(",") if r]:
            for float32 in (True, False):
                # Counted after the run's start (watched for a lease) and the first slow round.
                skip = int(LEASE) + 300
                r = simulate(rate, skip + args.window, None, 300.0, count_from=skip, float32=float32)
                per_h = r["writes"] * 3600 / r["seconds"]
                out["fast"][f"{int(rate)}-{r['values']}"] = {**r, "per_hour": per_h}
                print(f"unwatched, {rate:,.0f} batches/s, {r['values']} values ({args.window} s projected): "
                      f"{per_h:,.0f} writes/h {r['by_kind']} ({r['wall_seconds']} s)", flush=True)
    finally:
        emulator.stop()
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
