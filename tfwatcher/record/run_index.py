"""A run's row in its workspace (`workspaces/{wid}/runs/{sid}`, docs/schema.md): what the
workspace page lists, so that it opens every run of a workspace in a few reads.

Plain state kept by the writer's buffer, under its lock (tfwatcher.record.buffer): the row
follows the session document's fields as they are sent, and a whole new row is due at the
run's start, at every status change, and otherwise at most once per heartbeat in force (every
10 s while someone watches the run, every 5 min while nobody does) — never per batch. The
sparkline is the training loss over the whole run, kept in at most 2 × SPARK_POINTS averaged
buckets that merge pairwise as the run grows (constant memory and size).
"""

from __future__ import annotations

import datetime
import math

from tfwatcher.base.contract import ACTIVE_STATUSES, CONTRACT, COLLECTIONS, HEARTBEAT_FIELD, SCHEMA

SPARK_POINTS: int = CONTRACT["workspaces"]["spark_points"]


def run_index_path(wid: str, sid: str) -> str:
    return f"{COLLECTIONS['workspaces']}/{wid}/{COLLECTIONS['runs']}/{sid}"


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


class Spark:
    """The run's training loss, downsampled to at most SPARK_POINTS averaged buckets."""

    __slots__ = ("buckets", "stride", "acc", "n")

    def __init__(self):
        self.buckets: list[float] = []
        self.stride = 1       # points averaged per bucket
        self.acc, self.n = 0.0, 0

    def add(self, value) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return
        self.acc += value
        self.n += 1
        if self.n < self.stride:
            return
        self.buckets.append(self.acc / self.n)
        self.acc, self.n = 0.0, 0
        if len(self.buckets) >= 2 * SPARK_POINTS:
            b = self.buckets
            self.buckets = [(b[i] + b[i + 1]) / 2 for i in range(0, len(b), 2)]
            self.stride *= 2

    def values(self) -> list[float]:
        b = self.buckets + ([self.acc / self.n] if self.n else [])
        if len(b) > SPARK_POINTS:  # pairs, newest last
            odd = len(b) % 2
            b = b[:odd] + [(b[i] + b[i + 1]) / 2 for i in range(odd, len(b), 2)]
        return b[-SPARK_POINTS:]


class RunIndex:
    """The row of session `sid` in workspace `wid` (see the module docstring)."""

    def __init__(self, wid: str, sid: str, name: str):
        self.path = run_index_path(wid, sid)
        now = _now()
        self.row: dict = {
            "schema": SCHEMA, "sid": sid, "name": name, "status": "new", "active": True, "run": 0,
            "created": now, "started": now, HEARTBEAT_FIELD: None, "epoch": None, "epochs": None,
            "step": None, "steps": None, "loss": None, "val_loss": None,
        }
        self.spark = Spark()
        self.sent_status: str | None = None
        self.sent_at = float("-inf")
        self.pending: dict | None = None   # a row waiting to be sent (the newest)

    def note_point(self, metrics: dict) -> None:
        value = metrics.get("loss")
        if value is None and metrics:
            value = next(iter(metrics.values()))
        self.spark.add(value)

    def follow(self, fields: dict, now: float, period: float) -> None:
        """The session document's `fields` are being sent: the row follows them, and a new
        row is due at a status change or once `period` seconds passed since the last one."""
        row = self.row
        if "run" in fields and fields["run"] != row["run"]:
            row["run"] = fields["run"]
            row["started"] = _now()
        for name in ("name", "status", HEARTBEAT_FIELD):
            if name in fields:
                row[name] = fields[name]
        row["active"] = row["status"] in ACTIVE_STATUSES
        progress, plan = fields.get("progress"), fields.get("plan")
        if isinstance(progress, dict):
            row["epoch"], row["step"] = progress.get("epoch"), progress.get("step")
        if isinstance(plan, dict):
            row["epochs"], row["steps"] = plan.get("epochs"), plan.get("steps")
        for entry in fields.get("latest") or ():
            if isinstance(entry, dict) and entry.get("name") in ("loss", "val_loss"):
                value = entry.get("value")
                ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
                row[entry["name"]] = float(value) if ok else None
        if row["status"] != self.sent_status or now - self.sent_at >= 0.9 * period:
            self.pending = {**row, "spark": self.spark.values()}
            self.sent_status, self.sent_at = row["status"], now

    def take(self, server_time) -> tuple | None:
        """The write of the pending row, if any: (what, path, doc, merge)."""
        if self.pending is None:
            return None
        doc, self.pending = {**self.pending, "updated": server_time}, None
        return ("index", self.path, doc, False)

    def put_back(self, doc: dict) -> None:
        """A row not committed: sent again unless a newer one is pending."""
        if self.pending is None:
            self.pending = {k: v for k, v in doc.items() if k != "updated"}
