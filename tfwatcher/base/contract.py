"""The data contract, read from `contract.json` beside this module: document paths and IDs,
kinds, statuses, the schema version, summary levels and the stall rule.

The same file is imported by the dashboard (hosting/src/contract.ts) and copied into the Cloud
Functions' deploy payload, so a literal spelled in a second place cannot drift:
tests/base/test_contract.py fails when one is.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

CONTRACT: dict = json.loads(Path(__file__).with_name("contract.json").read_text(encoding="utf-8"))

SCHEMA: int = CONTRACT["schema"]
EPOCH_SCHEMA: int = CONTRACT["epoch_schema"]  # epoch records kept their schema-1 shape
SESSION_ID: dict = CONTRACT["session_id"]
COLLECTIONS: dict = CONTRACT["collections"]
DOCUMENTS: dict = CONTRACT["documents"]

BATCH_KINDS: tuple = tuple(CONTRACT["kinds"]["batch"])
EPOCH_KINDS: tuple = tuple(CONTRACT["kinds"]["epoch"])
BATCH_KIND_OF_MODE: dict = dict(CONTRACT["kinds"]["batch_kind_of_mode"])
SYSTEM_KIND: str = CONTRACT["kinds"]["system"]  # the writer's CPU/memory/GPU samples

STATUSES: tuple = tuple(CONTRACT["statuses"]["stored"])
ENDED_STATUSES: tuple = tuple(CONTRACT["statuses"]["ended"])
ACTIVE_STATUSES: tuple = tuple(CONTRACT["statuses"]["active"])  # a run in progress (new or running)
NOTIFIED_STATUSES: tuple = tuple(CONTRACT["statuses"]["notified"])

SUMMARY_WIDTHS: tuple = tuple(CONTRACT["summaries"]["widths"])
PART_BUCKETS: int = CONTRACT["summaries"]["part_buckets"]
# Below this many steps readers draw a kind from its raw chunks, not its summaries.
RAW_THROUGH: int = CONTRACT["summaries"]["raw_through"]
TABLE_ROWS: int = CONTRACT["tables"]["rows"]

HEARTBEAT_SECONDS: float = CONTRACT["stall"]["heartbeat_seconds"]
STALL_SHOWN_AFTER: float = CONTRACT["stall"]["shown_after_seconds"]
STALL_MARKED_AFTER: float = CONTRACT["stall"]["marked_after_seconds"]
# The session document declares its current heartbeat period in this field; a running session
# is stalled once its newest sign of life is older than MISSED_HEARTBEATS periods (and never
# sooner than STALL_SHOWN_AFTER).
HEARTBEAT_FIELD: str = CONTRACT["stall"]["declared_field"]
MISSED_HEARTBEATS: int = CONTRACT["stall"]["missed_heartbeats"]
ATTENTION: dict = dict(CONTRACT["attention"])  # presence lease and cadences (docs/schema.md)


def stall_after(declared_period: float | None, floor: float = STALL_SHOWN_AFTER) -> float:
    """Seconds of silence after which a running session counts as stalled."""
    ok = (isinstance(declared_period, (int, float)) and not isinstance(declared_period, bool)
          and 0 < declared_period < float("inf"))
    period = declared_period if ok else HEARTBEAT_SECONDS
    return max(floor, MISSED_HEARTBEATS * period)

_FIELD = re.compile(r"\{(\w+)(?::0(\d+))?\}")


def fill(template: str, **values) -> str:
    """`{name}` and zero-padded `{name:0N}` fields of a contract template, filled in."""

    def one(m: re.Match) -> str:
        value = values[m.group(1)]
        return f"{value:0{m.group(2)}d}" if m.group(2) else str(value)

    return _FIELD.sub(one, template)


def session_path(sid: str) -> str:
    return f"{COLLECTIONS['sessions']}/{sid}"


def chunk_id(kind: str, index: int) -> str:
    return fill(DOCUMENTS["chunk"], kind=kind, index=index)


def epoch_id(kind: str, epoch: int) -> str:
    template = DOCUMENTS["train_epoch"] if kind == "train" else DOCUMENTS["other_epoch"]
    return fill(template, kind=kind, epoch=epoch)


def table_part_id(part: int) -> str:
    return fill(DOCUMENTS["table_part"], part=part)


def summary_part_id(kind: str, level: int, part: int) -> str:
    return fill(DOCUMENTS["summary_part"], kind=kind, level=level, part=part)


def summary_head_id(kind: str) -> str:
    return fill(DOCUMENTS["summary_head"], kind=kind)


def presence_path(sid: str) -> str:
    """The one presence document a watching dashboard refreshes: `sessions/{sid}/presence/now`."""
    return doc_path(sid, "presence", DOCUMENTS["presence"])


def stop_id(run: int) -> str:
    return fill(DOCUMENTS["stop"], run=run)


def collection_path(sid: str, collection: str) -> str:
    """`sessions/{sid}/{collection}`, `collection` a key of "collections" (epochs, batches, ...)."""
    return f"{session_path(sid)}/{COLLECTIONS[collection]}"


def doc_path(sid: str, collection: str, doc_id: str) -> str:
    """`sessions/{sid}/{collection}/{doc_id}`."""
    return f"{collection_path(sid, collection)}/{doc_id}"
