"""Writes long runs with the real logging API (tfwatcher.Session), for longrun.test.js and
bench/dashboard/open_costs.mjs.

    python longrun.py POINTS [--epochs-every N] [--spike STEP] [--phases K] [--epochs-only E] [--flush-every N]

Logs POINTS batch points (`loss` ≈ 1 with a little noise, `margin` crossing zero, and a single
`loss` of 50 at --spike), an epoch every N points (default 10,000), in K phases: after each
phase it flushes, prints {"event": "ready", "phase": i, "through": step} and, except after the
last, waits for a line on stdin. --epochs-only E logs E epochs and no batch points. First line:
{"event": "created", "id": ...}. Uses FIRESTORE_EMULATOR_HOST / TFWATCHER_PROJECT.
"""

import argparse
import json
import math
import sys
import time

import tfwatcher


def say(**event):
    print(json.dumps(event), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("points", type=int)
    ap.add_argument("--epochs-every", type=int, default=10_000)
    ap.add_argument("--spike", type=int, default=-1)
    ap.add_argument("--phases", type=int, default=1)
    ap.add_argument("--epochs-only", type=int, default=0)
    ap.add_argument("--name", default="e2e long run")
    # A loop that only logs outruns any network: past 100,000 waiting points the writer thins
    # them (docs/reliability.md). Flushing now and then keeps every raw point, as a real
    # training loop (milliseconds per step) would.
    ap.add_argument("--flush-every", type=int, default=20_000)
    a = ap.parse_args()

    # System metrics on whatever the environment says: the dashboard must find them (they have
    # no summaries of their own) and still open on the train kind (longrun.test.js).
    s = tfwatcher.Session(run_name=a.name, quiet=True, interval=0.1, system_metrics=True)
    say(event="created", id=s.id)
    t0 = time.time()
    if a.epochs_only:
        s.start(mode="fit", epochs=a.epochs_only, steps=1)
        for e in range(1, a.epochs_only + 1):
            s.log_epoch({"loss": 1.0 / e, "val_loss": 1.2 / e, "accuracy": 1 - 0.5 / e}, epoch=e, seconds=0.01)
            if e % 5000 == 0:
                assert s.flush(timeout=120), "flush failed"
        s.finish(wait=300)
        say(event="ready", phase=1, through=0, seconds=round(time.time() - t0, 1))
        return

    per = a.epochs_every
    s.start(mode="fit", epochs=math.ceil(a.points / per), steps=per)
    bounds = [round(a.points * (k + 1) / a.phases) for k in range(a.phases)]
    step = 0
    for k, end in enumerate(bounds):
        while step < end:
            step += 1
            e, b = (step - 1) // per + 1, (step - 1) % per + 1
            loss = 50.0 if step == a.spike else 1.0 + 0.01 * math.sin(step / 37.0)
            s.log_batch({"loss": loss, "margin": math.sin(step / 1000.0)}, epoch=e, batch=b, seconds=0.01)
            if b == per:
                s.log_epoch({"loss": 1.0, "val_loss": 1.1}, epoch=e, seconds=per * 0.01)
            if step % a.flush_every == 0 and step < end:
                assert s.flush(timeout=120), "flush failed (points thinned?)"
        if k == len(bounds) - 1:
            s.finish(wait=300)
        else:
            assert s.flush(timeout=120), "flush timed out"
        say(event="ready", phase=k + 1, through=step, seconds=round(time.time() - t0, 1))
        if k < len(bounds) - 1 and not sys.stdin.readline():
            return
    sys.stdin.readline()  # keep quiet until the test is done


if __name__ == "__main__":
    main()
