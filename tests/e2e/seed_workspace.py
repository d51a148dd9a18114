"""Writes workspaces directly in the docs/schema.md layout (google-cloud-firestore, server
credentials: rules do not apply), for the workspace page's e2e test and benchmark: the run
index documents `workspaces/{wid}/runs/{sid}`, and (unless told not to) each run's session
document, as the package writes them.

    python seed_workspace.py serve          # JSON commands on stdin, one JSON answer per line
    python seed_workspace.py workspace N [--active K] [--index-only]

Commands (serve):
    {"op": "workspace", "count": N, "active": K, "runs": [SPEC, ...], "sessions": true}
        a new workspace with the SPEC runs (newest first) and then N generated ones;
        answers {"wid": ..., "sids": [...], "key": owner key} (sids in the order written: SPECs,
        then generated, newest first)
    {"op": "run", "wid": W, **SPEC}   one more run (a run that starts now); answers {"sid": ...}
    {"op": "update", "wid": W, "sid": S, **FIELDS}   a run changes (e.g. {"status": "finished"})
SPEC: {"name", "status", "started_ago", "updated_ago", "heartbeat_every", "loss", "val_loss",
       "epoch", "epochs", "step", "steps", "spark"} — all optional; times in seconds before now.

Uses FIRESTORE_EMULATOR_HOST and GCLOUD_PROJECT from the environment.
"""

import json
import math
import os
import secrets
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from google.api_core.exceptions import NotFound
from google.cloud import firestore

# The contract (tfwatcher/base/contract.json), read directly so this script needs nothing but
# google-cloud-firestore.
CONTRACT = json.loads((Path(__file__).resolve().parents[2] / "tfwatcher" / "base" / "contract.json").read_text())
FORMAT = CONTRACT["session_id"]
COLL = CONTRACT["collections"]
ACTIVE = set(CONTRACT["statuses"]["stored"][:2])  # new, running
SPARK = CONTRACT["workspaces"]["spark_points"]


def new_id() -> str:
    return "".join(secrets.choice(FORMAT["alphabet"]) for _ in range(FORMAT["length"]))


def new_wid() -> str:
    return CONTRACT["workspace_id"]["prefix"] + new_id()


def index_doc(sid: str, spec: dict, now: datetime) -> dict:
    status = spec.get("status", "finished")
    started = now - timedelta(seconds=spec.get("started_ago", 60))
    epochs = spec.get("epochs", 10)
    epoch = spec.get("epoch", epochs if status == "finished" else 3)
    loss = spec.get("loss", round(1.0 / (1 + (epoch or 0)), 4))
    spark = spec.get("spark")
    if spark is None:
        spark = [round(2.0 / math.sqrt(i + 1) + 0.05 * math.sin(i), 4) for i in range(SPARK)]
    return {
        "schema": CONTRACT["schema"], "sid": sid, "name": spec.get("name"), "status": status,
        "active": status in ACTIVE, "run": spec.get("run", 0),
        "created": started, "started": started,
        "updated": now - timedelta(seconds=spec.get("updated_ago", 5 if status in ACTIVE else 30)),
        CONTRACT["stall"]["declared_field"]: spec.get("heartbeat_every", CONTRACT["stall"]["heartbeat_seconds"]),
        "epoch": epoch, "epochs": epochs, "step": spec.get("step", 120), "steps": spec.get("steps", 500),
        "loss": loss, "val_loss": spec.get("val_loss", None if loss is None else round(loss * 1.1, 4)),
        "spark": spark[-SPARK:],
    }


def session_doc(run: dict) -> dict:
    """The session document of a run (schema 1, no data points): enough for its page and compare."""
    status = run["status"]
    return {
        "schema": 1, "status": status, "mode": "fit", "name": run["name"] or "",
        "created": run["created"], "heartbeat": run["updated"], "ended": None if run["active"] else run["updated"],
        "plan": {"epochs": run["epochs"], "steps": run["steps"]},
        "progress": {"epoch": run["epoch"], "batch": run["step"], "step": run["step"]},
        "metrics": ["loss", "val_loss"],
        "latest": [{"name": "loss", "value": run["loss"]}, {"name": "val_loss", "value": run["val_loss"]}],
        "error": None, "versions": {"tfwatcher": "seed"}, "nan": False, "run": run["run"],
        CONTRACT["stall"]["declared_field"]: run[CONTRACT["stall"]["declared_field"]],
    }


class Seeder:
    def __init__(self):
        self.db = firestore.Client(project=os.environ.get("GCLOUD_PROJECT", "demo-tfwatcher"))
        self.batch = self.db.batch()
        self.pending = 0

    def _set(self, ref, data):
        self.batch.set(ref, data)
        self.pending += 1
        if self.pending >= 400:
            self.flush()

    def flush(self):
        if self.pending:
            self.batch.commit()
        self.batch, self.pending = self.db.batch(), 0

    def run(self, wid: str, spec: dict, sessions: bool = True, now: datetime | None = None) -> str:
        sid = new_id()
        doc = index_doc(sid, spec, now or datetime.now(timezone.utc))
        ws = self.db.collection(COLL["workspaces"]).document(wid)
        self._set(ws.collection(COLL["runs"]).document(sid), doc)
        if sessions:
            # The session document never names its workspace; only its private owner document does.
            ref = self.db.collection(COLL["sessions"]).document(sid)
            self._set(ref, session_doc(doc))
            self._set(ref.collection(COLL["private"]).document(CONTRACT["documents"]["owner"]),
                      {"key": secrets.token_urlsafe(24), "workspace": wid})
        return sid

    def update(self, wid: str, sid: str, fields: dict) -> str:
        """Changes a run as its writer would: the index document (with a fresh `updated`, and
        `active` following `status`) and the session document's status."""
        fields = dict(fields)
        fields["updated"] = datetime.now(timezone.utc)
        if "status" in fields:
            fields["active"] = fields["status"] in ACTIVE
            try:
                self.db.collection(COLL["sessions"]).document(sid).update({"status": fields["status"]})
            except NotFound:
                pass  # an index-only workspace
        ws = self.db.collection(COLL["workspaces"]).document(wid)
        ws.collection(COLL["runs"]).document(sid).update(fields)
        return sid

    def workspace(self, count: int = 0, active: int = 0, runs: list | None = None, sessions: bool = True) -> dict:
        wid = new_wid()
        now = datetime.now(timezone.utc)
        self._set(self.db.collection(COLL["workspaces"]).document(wid), {"created": now})
        key = secrets.token_urlsafe(24)
        self._set(self.db.collection(COLL["workspaces"]).document(wid).collection(COLL["private"])
                  .document(CONTRACT["documents"]["owner"]), {"key": key})
        sids = [self.run(wid, spec, sessions, now) for spec in (runs or [])]
        for i in range(count):
            status = "running" if i < active else ("crashed", "finished", "finished", "stopped")[i % 4]
            sids.append(self.run(wid, {
                "name": f"run {i:05d} lr={10 ** -(2 + i % 3):g}", "status": status,
                "started_ago": 120 + 60 * i, "updated_ago": 3 if status == "running" else 60 * i + 30,
            }, sessions, now))
        self.flush()
        return {"wid": wid, "sids": sids, "key": key}


def main():
    seeder = Seeder()
    if sys.argv[1] == "workspace":
        args = sys.argv[2:]
        active = int(args[args.index("--active") + 1]) if "--active" in args else 3
        print(json.dumps(seeder.workspace(int(args[0]), active, sessions="--index-only" not in args)), flush=True)
        return
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        op = cmd.pop("op")
        if op == "workspace":
            out = seeder.workspace(cmd.get("count", 0), cmd.get("active", 0), cmd.get("runs"), cmd.get("sessions", True))
        elif op == "update":
            out = {"sid": seeder.update(cmd.pop("wid"), cmd.pop("sid"), cmd)}
        elif op == "run":
            wid = cmd.pop("wid")
            sessions = cmd.pop("sessions", True)
            out = {"sid": seeder.run(wid, cmd, sessions)}
            seeder.flush()
        else:
            out = {"error": f"unknown op {op}"}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
