"""Sessions for phone.test.js, written with the real logging API (tfwatcher.Session).

    python phone_writer.py SCENARIO DASHBOARD_URL [RUN_NAME]

Prints one JSON line per event: first {"event": "created", "id", "owner_key", "owner_url",
...}, then {"event": "ready", "phase": ...} once a phase is in Firestore (flushed), or
{"event": "logged", ...} right after logging without a flush (the `status` scenario, where
the session document must stay behind: heartbeat=60). Waits for a line on stdin between
phases and keeps the session running until stdin closes, unless the scenario finishes it.

Scenarios:
  layout     long names (40–63 characters, one of 10,000), 500 metrics, a config; running
  status     heartbeat=60; one epoch of 4 batches per "go"; running
  evaluate   heartbeat=60; a 2-epoch fit, then evaluate(steps=10) logging 6 test batches; running
  epochonly  epoch records only (no batch points of any kind: system metrics off); finished
  epochsys   epoch records and system metrics (sampled once before the epochs); finished
  csv        train and test batch points and epoch records with NaN/±Inf, odd names; finished
  compare    a short fit that keeps running (RUN_NAME names it); one more epoch on "go"
  owner      one batch point, then running until stdin closes
"""

import json
import math
import sys

import tfwatcher

LONG = "m" * 10_000
ODD = 'val/acc, "top 5"\nsecond line'
MEDIUM = [
    "very_long_metric_name_for_a_phone_screen_without_any_breaks_xx",  # 62
    "categorical_crossentropy/with_label_smoothing_and_class_weights",  # 63
    "mean_absolute_percentage_error_over_the_validation_window",  # 57
    "top_k_categorical_accuracy_k5_on_held_out_set",  # 45
    "precision_at_recall_0.9_class_3_weighted_by",  # 43
]
CONFIG = {
    "learning_rate": 0.001,
    "optimizer": {"name": "adam", "beta_1": 0.9},
    "batch_size": 32,
    "augment": True,
    "note": 'a, "quoted" text',
    "schedule": None,
}


def say(**event):
    print(json.dumps(event), flush=True)


def wait_for_go():
    if not sys.stdin.readline():  # the test ended: stop quietly
        sys.exit(0)


def created(s):
    say(event="created", id=s.id, owner_key=s.owner_key, share_url=s.share_url, owner_url=s.owner_url)


def main():
    scenario, url = sys.argv[1], sys.argv[2]
    name = sys.argv[3] if len(sys.argv) > 3 else f"phone {scenario}"
    if scenario == "layout":
        run_name = ("A run name long enough to need two lines on a phone, and then some more words "
                    "so that it would take a third and fourth line if it were not cut ") * 2
        s = tfwatcher.Session(run_name=run_name[:200], quiet=True, dashboard_url=url, interval=0.2,
                              config=CONFIG, system_metrics=False)
        created(s)
        names = ["loss", "accuracy", *MEDIUM, LONG] + [f"metric_{i:03d}" for i in range(500 - 3 - len(MEDIUM))]
        epochs, steps = 3, 2
        s.start(mode="fit", epochs=epochs, steps=steps)
        for epoch in range(1, epochs + 1):
            for batch in range(1, steps + 1):
                step = (epoch - 1) * steps + batch
                s.log_batch({n: 1.0 / (step + i) for i, n in enumerate(names)}, epoch=epoch, batch=batch, seconds=0.01)
            metrics = {n: 1.0 / (epoch + i) for i, n in enumerate(names)}
            metrics.update({"val_loss": 1.2 / epoch, "val_" + MEDIUM[0]: 0.5 / epoch})
            s.log_epoch(metrics, epoch=epoch, seconds=0.2)
        assert s.flush(timeout=60), "flush timed out"
        say(event="ready", phase="logged")
        wait_for_go()
    elif scenario == "status":
        s = tfwatcher.Session(run_name=name, quiet=True, dashboard_url=url, interval=0.2, heartbeat=60,
                              system_metrics=False)
        created(s)
        epochs, steps = 5, 4
        s.start(mode="fit", epochs=epochs, steps=steps)
        assert s.flush(timeout=20), "flush timed out"
        say(event="ready", phase="started")
        for epoch in range(1, epochs + 1):
            wait_for_go()
            for batch in range(1, steps + 1):
                step = (epoch - 1) * steps + batch
                s.log_batch({"loss": 1.0 / step}, epoch=epoch, batch=batch, seconds=0.05)
            s.log_epoch({"loss": 1.0 / epoch, "val_loss": 1.1 / epoch}, epoch=epoch, seconds=0.25)
            say(event="logged", epoch=epoch)  # no flush: the writer sends within ~0.2 s
        wait_for_go()
    elif scenario == "evaluate":
        s = tfwatcher.Session(run_name=name, quiet=True, dashboard_url=url, interval=0.2, heartbeat=60,
                              system_metrics=False)
        created(s)
        s.start(mode="fit", epochs=2, steps=3)
        for step in range(1, 7):
            s.log_batch({"loss": 1.0 / step}, epoch=(step - 1) // 3 + 1, batch=(step - 1) % 3 + 1, seconds=0.05)
            if step % 3 == 0:
                s.log_epoch({"loss": 1.0 / step}, epoch=step // 3, seconds=0.15)
        s.start(mode="evaluate", steps=10)
        for batch in range(1, 7):
            s.log_batch({"loss": 0.5 + batch / 100}, kind="test", epoch=1, batch=batch, seconds=0.05)
        assert s.flush(timeout=20), "flush timed out"
        say(event="ready", phase="evaluating")
        wait_for_go()
    elif scenario in ("epochonly", "epochsys"):
        system = scenario == "epochsys"
        s = tfwatcher.Session(run_name=name, quiet=True, dashboard_url=url, interval=0.2, system_metrics=system)
        created(s)
        s.start(mode="fit", epochs=3, steps=10)
        if system:
            s.flush(timeout=20)  # the writer's first round after start takes a system sample
        for epoch in range(1, 4):
            s.log_epoch({"loss": 1.0 / epoch, "val_loss": 1.2 / epoch}, epoch=epoch, seconds=0.5)
        s.finish(wait=20)
        say(event="ready", phase="finished")
        wait_for_go()
    elif scenario == "csv":
        s = tfwatcher.Session(run_name=name, quiet=True, dashboard_url=url, interval=0.2, system_metrics=False)
        created(s)
        s.start(mode="fit", epochs=2, steps=6)
        values = [0.5, math.nan, math.inf, -math.inf, 1e-300, 0.1 + 0.2]
        for epoch in (1, 2):
            for batch in range(1, 7):
                step = (epoch - 1) * 6 + batch
                s.log_batch({"loss": values[batch - 1] if epoch == 1 else 1.0 / step, ODD: step * 1.5,
                             "ünïcode ✓": -step}, epoch=epoch, batch=batch, seconds=0.01 * batch)
            s.log_epoch({"loss": math.nan if epoch == 1 else 0.25, ODD: 3.0 * epoch}, epoch=epoch, seconds=0.123456789)
        for batch in range(1, 4):
            s.log_batch({"loss": 0.4 + batch / 100}, epoch=1, batch=batch, seconds=0.02, kind="test")
        s.log_epoch({"loss": 0.41}, kind="evaluate", seconds=0.3)
        s.finish(wait=20)
        say(event="ready", phase="finished")
        wait_for_go()
    elif scenario == "compare":
        s = tfwatcher.Session(run_name=name, quiet=True, dashboard_url=url, interval=0.2, system_metrics=False)
        created(s)
        epochs, steps = 4, 5
        s.start(mode="fit", epochs=epochs, steps=steps)
        scale = 1.0 + (sum(map(ord, name)) % 7) / 10
        for epoch in (1, 2):
            for batch in range(1, steps + 1):
                step = (epoch - 1) * steps + batch
                s.log_batch({"loss": scale / step, "accuracy": 1 - 0.5 / step}, epoch=epoch, batch=batch, seconds=0.01)
            s.log_epoch({"loss": scale / epoch, "accuracy": 1 - 0.5 / epoch, "val_loss": scale * 1.1 / epoch},
                        epoch=epoch, seconds=0.2)
        assert s.flush(timeout=20), "flush timed out"
        say(event="ready", phase="running")
        wait_for_go()
        epoch = 3  # one more epoch while the page watches
        for batch in range(1, steps + 1):
            step = (epoch - 1) * steps + batch
            s.log_batch({"loss": scale / step, "accuracy": 1 - 0.5 / step}, epoch=epoch, batch=batch, seconds=0.01)
        s.log_epoch({"loss": scale / epoch, "accuracy": 1 - 0.5 / epoch, "val_loss": scale * 1.1 / epoch},
                    epoch=epoch, seconds=0.2)
        assert s.flush(timeout=20), "flush timed out"
        say(event="ready", phase="epoch3")
        wait_for_go()
    elif scenario == "owner":
        s = tfwatcher.Session(run_name=name, quiet=True, dashboard_url=url, interval=0.2, system_metrics=False)
        created(s)
        s.start(mode="fit", epochs=10, steps=100)
        s.log_batch({"loss": 1.0}, epoch=1, batch=1, seconds=0.01)
        assert s.flush(timeout=20), "flush timed out"
        say(event="ready", phase="running")
        wait_for_go()
    else:
        raise SystemExit(f"unknown scenario {scenario!r}")


if __name__ == "__main__":
    main()
