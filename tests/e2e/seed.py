"""Writes sessions directly in the docs/schema.md layout (google-cloud-firestore), for states
the logging API does not produce on demand: a stalled run (old heartbeat), a newer schema,
and many batch points for the benchmark.

    python seed.py stalled | newer | points N

Prints the session ID. Uses FIRESTORE_EMULATOR_HOST and GCLOUD_PROJECT from the environment.
"""

import json
import math
import os
import secrets
import sys
import time
from pathlib import Path

from google.cloud import firestore

# The one session ID format (tfwatcher/base/contract.json), read directly so this script needs
# nothing but google-cloud-firestore.
FORMAT = json.loads((Path(__file__).resolve().parents[2] / "tfwatcher" / "base" / "contract.json").read_text())["session_id"]
ALPHABET = FORMAT["alphabet"]


def main():
    kind = sys.argv[1]
    db = firestore.Client(project=os.environ.get("GCLOUD_PROJECT", "demo-tfwatcher"))
    sid = "".join(secrets.choice(ALPHABET) for _ in range(FORMAT["length"]))
    ref = db.collection("sessions").document(sid)
    now = time.time()
    old = now - 600 if kind == "stalled" else now
    from datetime import datetime, timezone

    def ts(t):
        return datetime.fromtimestamp(t, tz=timezone.utc)

    n = int(sys.argv[2]) if kind == "points" else 20
    steps = 1000
    ref.set({
        "schema": 4 if kind == "newer" else 1, "status": "running", "mode": "fit",
        "created": ts(old - 300), "heartbeat": ts(old), "ended": None,
        "plan": {"epochs": max(1, math.ceil(n / steps)), "steps": steps},
        "progress": {"epoch": (n - 1) // steps + 1, "batch": (n - 1) % steps + 1, "step": n},
        "metrics": ["loss", "accuracy"], "latest": [{"name": "loss", "value": 0.1}, {"name": "accuracy", "value": 0.9}],
        "error": None, "versions": {"tfwatcher": "seed"}, "name": f"seed {kind}", "nan": False,
    })
    db.collection("sessions").document(sid).collection("private").document("owner").set({"key": "seed-" + secrets.token_urlsafe(16)})
    batch = db.batch()
    pending = 0
    for index, start in enumerate(range(0, n, 2000)):
        m = min(2000, n - start)
        step = list(range(start + 1, start + m + 1))
        doc = {
            "schema": 1, "kind": "train", "index": index, "n": m, "step": step,
            "epoch": [(s - 1) // steps + 1 for s in step], "batch": [(s - 1) % steps + 1 for s in step],
            "seconds": [0.01] * m, "time": [old - (n - s) * 0.01 for s in step],
            "series": [
                {"name": "loss", "values": [1.0 / math.sqrt(s) + 0.05 * math.sin(s / 7.0) for s in step]},
                {"name": "accuracy", "values": [1 - 0.5 / math.sqrt(s) for s in step]},
            ],
        }
        batch.set(ref.collection("batches").document(f"train-{index:06d}"), doc)
        pending += 1
        if pending == 10:
            batch.commit()
            batch, pending = db.batch(), 0
    if pending:
        batch.commit()
    print(sid, flush=True)


if __name__ == "__main__":
    main()
