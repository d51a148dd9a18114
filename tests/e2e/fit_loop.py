"""A loop of Keras fits with one re-used callback, each fit running until the owner stops it
(e2e tests of issue 19, item 6: the owner's phone stays the owner). Modelled on
fit_until_stopped.py, with a tiny model so five fits stay cheap on two cores.

    python fit_loop.py DASHBOARD_URL [SAFETY_SECONDS] [--fits N] [--workspace]

Prints JSON lines: {"event": "created", "id", "owner_key", "share_url", "owner_url",
"workspace", "workspace_key"} once the session exists (workspace fields null without
--workspace); then per fit k = 1..N: {"event": "fit_started", "fit", "run", "owner_key",
"owner_url"} when it begins (every run of the session has its own owner key: a link from an
earlier run stops nothing) and {"event": "returned", "fit", "run", "time", "epochs", "safety",
"status"} when it returns; then {"event": "flushed", "status"}. `epochs=100000` with ~10 ms per
batch: only a stop command ends a fit in a test's lifetime; a safety net stops each fit
SAFETY_SECONDS (default 120) after it began (`"safety": true`), so a failed test never leaves
it running.

With --workspace, a new workspace (its document and private/owner, written with server
credentials as `tfwatcher workspace new` writes them, but not kept in ~/.tfwatcher) is made
first and the session joins it. Uses FIRESTORE_EMULATOR_HOST / TFWATCHER_PROJECT from the
environment (python -m tfwatcher.local.emulator).
"""

import json
import os
import secrets
import sys
import time

import keras
import numpy as np

import tfwatcher
from tfwatcher.base import contract, ids


def say(**event):
    print(json.dumps(event), flush=True)


def new_workspace() -> tuple[str, str]:
    from google.cloud import firestore

    client = firestore.Client(project=os.environ.get("TFWATCHER_PROJECT") or os.environ["GCLOUD_PROJECT"])
    wid, key = ids.new_workspace_id(), secrets.token_urlsafe(24)
    ref = client.collection(contract.COLLECTIONS["workspaces"]).document(wid)
    batch = client.batch()
    batch.create(ref, {"schema": contract.SCHEMA, "created": firestore.SERVER_TIMESTAMP, "name": "e2e loop"})
    batch.create(ref.collection(contract.COLLECTIONS["private"]).document(contract.DOCUMENTS["owner"]), {"key": key})
    batch.commit()
    return wid, key


def main():
    args = sys.argv[1:]
    fits = 5
    if "--fits" in args:
        i = args.index("--fits")
        fits = int(args[i + 1])
        del args[i:i + 2]
    workspace = "--workspace" in args
    if workspace:
        args.remove("--workspace")
    url = args[0]
    safety = float(args[1]) if len(args) > 1 else 120.0
    wid, wkey = new_workspace() if workspace else (None, None)

    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x @ np.array([0.5, -1.0, 2.0, 0.1], dtype="float32"))[:, None]
    watcher = tfwatcher.callbacks.Watcher(quiet=True, test_batches=None, dashboard_url=url,
                                          run_name="e2e loop", workspace=wid)
    s = watcher.session
    say(event="created", id=s.id, owner_key=s.owner_key, share_url=s.share_url, owner_url=s.owner_url,
        workspace=wid, workspace_key=wkey)
    fit = {"k": 0, "started": time.monotonic()}
    safety_hit = []

    class Pace(keras.callbacks.Callback):
        """~10 ms per batch, so the run is slow enough to watch; the safety net."""

        def on_train_begin(self, logs=None):
            fit["started"] = time.monotonic()
            say(event="fit_started", fit=fit["k"], run=s.run, owner_key=s.owner_key, owner_url=s.owner_url)

        def on_train_batch_end(self, batch, logs=None):
            time.sleep(0.01)
            if time.monotonic() - fit["started"] > safety:
                safety_hit.append(fit["k"])
                self.model.stop_training = True

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    pace = Pace()
    for k in range(1, fits + 1):
        fit["k"] = k
        history = model.fit(x, y, batch_size=8, epochs=100000, verbose=0, callbacks=[watcher, pace])
        say(event="returned", fit=k, run=s.run, time=time.time(), epochs=len(history.epoch),
            safety=k in safety_hit, status=s.status)
    s.flush(20)
    say(event="flushed", status=s.status)


if __name__ == "__main__":
    main()
