"""Writes a session with the real logging API (tfwatcher.Session), for the e2e tests.

    python writer.py SCENARIO DASHBOARD_URL

Prints one JSON line per event on stdout: first {"event": "created", "id", "owner_key",
"share_url", "owner_url"}, then {"event": "ready", "phase": ...} after each phase is flushed
into Firestore. Between phases of the `live` scenario it waits for a line on stdin, so the
test can check the dashboard while this process is still writing.
Uses FIRESTORE_EMULATOR_HOST / TFWATCHER_PROJECT from the environment (python -m tfwatcher.local.emulator).
"""

import json
import sys

import tfwatcher


def say(**event):
    print(json.dumps(event), flush=True)


def wait_for_go():
    if not sys.stdin.readline():  # the test ended: stop quietly
        sys.exit(0)


def main():
    scenario, url = sys.argv[1], sys.argv[2]
    name = {"live": "e2e live", "crash": "<b>e2e</b> crash <img src=x onerror=alert(1)>"}[scenario]
    s = tfwatcher.Session(run_name=name, quiet=True, dashboard_url=url, interval=0.2)
    say(event="created", id=s.id, owner_key=s.owner_key, share_url=s.share_url, owner_url=s.owner_url)

    if scenario == "live":
        epochs, steps = 3, 10
        s.start(mode="fit", epochs=epochs, steps=steps)
        for epoch in range(1, epochs + 1):
            for batch in range(1, steps + 1):
                step = (epoch - 1) * steps + batch
                s.log_batch({"loss": 1.0 / step, "accuracy": 1 - 0.5 / step}, epoch=epoch, batch=batch, seconds=0.01)
            s.log_epoch({"loss": 1.0 / epoch, "accuracy": 1 - 0.5 / epoch,
                         "val_loss": 1.2 / epoch, "val_accuracy": 1 - 0.6 / epoch}, epoch=epoch, seconds=0.2)
            assert s.flush(timeout=20), "flush timed out"
            say(event="ready", phase=f"epoch{epoch}")
            if epoch < epochs:
                wait_for_go()
        s.finish(wait=20)
        say(event="ready", phase="finished")
    elif scenario == "crash":
        s.start(mode="fit", epochs=5, steps=4)
        for batch in range(1, 4):
            s.log_batch({"loss": 0.5 / batch}, epoch=1, batch=batch, seconds=0.01)
        try:
            raise ValueError("shapes (3,) and <script>alert(1)</script> (4,) not aligned")
        except ValueError as exc:
            s.finish(status="crashed", error=exc, wait=20)
        say(event="ready", phase="crashed")
    wait_for_go()  # keep the process (and nothing else) until the test is done


if __name__ == "__main__":
    main()
