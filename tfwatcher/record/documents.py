"""What a session writes into its documents: the session document's fields when it is
created, when a run starts and when it ends, the owner key's document, and one epoch record.
docs/schema.md describes each field; the paths and IDs come from the contract.
"""

from __future__ import annotations

import platform
import sys
import time

from tfwatcher.base.contract import (COLLECTIONS, DOCUMENTS, EPOCH_SCHEMA, HEARTBEAT_FIELD, SCHEMA,
                                     epoch_id, session_path)
from tfwatcher.version import __version__

# The epoch documents' own "schema" field: they never changed when sessions went to schema 2
# (docs/schema.md: epochs say 1), so the stored value stays the contract's "epoch_schema".
EPOCH_RECORD_VERSION = EPOCH_SCHEMA
VERSIONS_OF = ("tensorflow", "keras", "jax", "torch", "numpy")  # reported when imported


def owner_path(sid: str) -> str:
    """`sessions/{sid}/private/owner`: the owner key, readable by nobody, checked by the rules."""
    return f"{session_path(sid)}/{COLLECTIONS['private']}/{DOCUMENTS['owner']}"


def versions() -> dict:
    """The versions of tf-watcher, Python and the frameworks this process has imported."""
    found = {"tfwatcher": __version__, "python": platform.python_version()}
    for module in VERSIONS_OF:
        mod = sys.modules.get(module)
        if mod is not None and isinstance(getattr(mod, "__version__", None), str):
            found[module] = mod.__version__
    return found


def initial_fields(run_name: str, plan: dict, progress: dict, config: list | None) -> dict:
    """The session document as first written (before any run; `created` is added by the caller)."""
    doc = {"schema": SCHEMA, "status": "new", "mode": None, "name": run_name, "run": 0,
           "plan": dict(plan), "progress": dict(progress), "metrics": [],
           "latest": [], "error": None, "ended": None, "versions": versions(), "nan": False}
    if config:
        doc["config"] = config
    return doc


def start_fields(mode: str, plan: dict, run: int, heartbeat: float) -> dict:
    """The update that marks run number `run` running, declaring its heartbeat period (seconds:
    readers judge "stalled" against it, tfwatcher.base.contract.stall_after)."""
    return {"status": "running", "mode": mode, "plan": dict(plan), "run": run,
            "ended": None, "error": None, **heartbeat_fields(heartbeat)}


def heartbeat_fields(heartbeat: float) -> dict:
    """The session document's declared heartbeat period, in seconds."""
    return {HEARTBEAT_FIELD: float(heartbeat)}


def end_fields(status: str, error: BaseException | None, ended) -> dict:
    """The update that ends a run: its status, when (`ended`: the server's time) and why."""
    fields = {"status": status, "ended": ended}
    if error is not None:
        fields["error"] = {"type": type(error).__name__, "message": str(error)[:2000]}
    return fields


def epoch_record(kind: str, epoch: int, step: int, values: dict, seconds, avg_seconds) -> tuple[str, dict]:
    """One epoch (or evaluate/predict call) record: its document ID and the document."""
    doc = {"schema": EPOCH_RECORD_VERSION, "kind": kind, "epoch": epoch, "step": step,
           "names": list(values), "values": list(values.values()),
           "seconds": float_or_none(seconds),
           "avg_seconds": float_or_none(avg_seconds if avg_seconds is not None else seconds),
           "time": time.time()}
    return epoch_id(kind, epoch), doc


def float_or_none(value) -> float | None:
    return None if value is None else float(value)
