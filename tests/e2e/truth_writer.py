"""Sessions for truth.test.js and screenshots.test.js (issue #21), written with the real
logging API (tfwatcher.Session) into the emulator.

    python truth_writer.py SCENARIO DASHBOARD_URL

Prints {"event": "created", "id", ...} first, then {"event": "ready", "phase": ...} once
everything is in Firestore, then waits until stdin closes (a running session stays running).

Scenarios:
  system   a running fit: 30 train batches (the first one slow: compiling) and 4 system samples
  nan      a finished fit whose loss went NaN at epoch 3 (of 4), with batch points
  stopped  a fit stopped at batch 1 of epoch 3 (Keras ends it with a one-batch epoch)
  names    a finished fit with three long metric names that differ only at their end
"""

import json
import math
import sys
import time

import tfwatcher


def say(**event):
    print(json.dumps(event), flush=True)


def session(name, system=False):
    s = tfwatcher.Session(run_name=name, quiet=True, dashboard_url=sys.argv[2], interval=0.2, system_metrics=system)
    say(event="created", id=s.id, owner_key=s.owner_key, share_url=s.share_url, owner_url=s.owner_url)
    return s


def fit(s, epochs, steps, until_epoch, loss, extra=lambda step: {}, last_batches=None):
    """Batches and epoch records of epochs 1..until_epoch; the last one may end after `last_batches`."""
    step = 0
    for epoch in range(1, until_epoch + 1):
        n = last_batches if (epoch == until_epoch and last_batches) else steps
        for batch in range(1, n + 1):
            step += 1
            s.log_batch({"loss": loss(step), **extra(step)}, epoch=epoch, batch=batch, seconds=0.05)
        vals = {"loss": loss(step), "val_loss": loss(step) * 1.1, **extra(step)}
        s.log_epoch(vals, epoch=epoch, seconds=0.5)


def main():
    scenario = sys.argv[1]
    if scenario == "system":
        s = session("truth system", system=True)
        s.start(mode="fit", epochs=3, steps=20)
        for step in range(1, 31):
            epoch, batch = (step - 1) // 20 + 1, (step - 1) % 20 + 1
            s.log_batch({"loss": 2.0 / step, "accuracy": 1 - 1.0 / (step + 1)}, epoch=epoch, batch=batch,
                        seconds=4.0 if step == 1 else 0.05)
            if step == 20:
                s.log_epoch({"loss": 0.1, "val_loss": 0.12}, epoch=1, seconds=2.0)
            if step % 8 == 0:
                s._sample_system()   # the writer's thread does this every ~10 s; here at once
            time.sleep(0.05)
        s._sample_system()
        assert s.flush(timeout=60), "flush timed out"
        say(event="ready", phase="running")
    elif scenario == "nan":
        s = session("truth nan")
        s.start(mode="fit", epochs=4, steps=5)
        fit(s, 4, 5, 4, lambda step: 2.0 / step if step <= 10 else math.nan)
        assert s.finish(wait=30), "finish timed out"
        say(event="ready", phase="finished")
    elif scenario == "stopped":
        s = session("truth stopped")
        s.start(mode="fit", epochs=5, steps=10)
        fit(s, 5, 10, 3, lambda step: 2.0 / math.sqrt(step), last_batches=1)
        assert s.finish("stopped", wait=30), "finish timed out"
        say(event="ready", phase="stopped")
    elif scenario == "names":
        s = session("truth names")
        s.start(mode="fit", epochs=2, steps=3)
        P = "customer_churn_probability_within_90_days_"
        names = [P + "precision", P + "recall", P + "auc"]
        fit(s, 2, 3, 2, lambda step: 1.0 / step, extra=lambda step: {n: 0.5 + i / 10 + step / 100 for i, n in enumerate(names)})
        assert s.finish(wait=30), "finish timed out"
        say(event="ready", phase="finished")
    else:
        raise SystemExit(f"unknown scenario {scenario!r}")
    sys.stdin.readline()


if __name__ == "__main__":
    main()
