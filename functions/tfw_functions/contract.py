"""The data contract for the functions: `contract.json`, the same file as the package's
tfwatcher/base/contract.json (the functions never import the tfwatcher package).

Where the file comes from (docs/notifications.md): beside this module in a deploy payload
(`tfwatcher deploy --functions` and scripts/release.sh copy it there) and in the checkout (a
committed copy, kept byte-identical by tests/functions/test_contract_copy.py, so that
`firebase deploy --only functions` from a checkout uploads it too); failing that, in a
checkout, ../../tfwatcher/base/contract.json.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

HERE = Path(__file__).resolve().parent
PLACES = (HERE / "contract.json", HERE.parents[1] / "tfwatcher" / "base" / "contract.json")


def _read() -> dict:
    for place in PLACES:
        if place.is_file():
            return json.loads(place.read_text(encoding="utf-8"))
    raise FileNotFoundError(f"the data contract is missing: none of {[str(p) for p in PLACES]} "
                            f"exists; deploy with `tfwatcher deploy --functions`, or copy "
                            f"tfwatcher/base/contract.json into {HERE}")


CONTRACT: dict = _read()

SCHEMA: int = CONTRACT["schema"]
COLLECTIONS: dict = CONTRACT["collections"]
DOCUMENTS: dict = CONTRACT["documents"]
SESSION_ID: dict = CONTRACT["session_id"]
WORKSPACE_ID: dict = CONTRACT["workspace_id"]
WORKSPACES: dict = CONTRACT["workspaces"]
STATUSES: tuple = tuple(CONTRACT["statuses"]["stored"])
ENDED_STATUSES: tuple = tuple(CONTRACT["statuses"]["ended"])
NOTIFIED_STATUSES: tuple = tuple(CONTRACT["statuses"]["notified"])
HEARTBEAT_SECONDS: float = CONTRACT["stall"]["heartbeat_seconds"]
STALL_MARKED_AFTER: float = CONTRACT["stall"]["marked_after_seconds"]
# The session document declares its current heartbeat period (seconds) in this field; a running
# session is stalled once its heartbeat is older than MISSED_HEARTBEATS declared periods.
HEARTBEAT_FIELD: str = CONTRACT["stall"]["declared_field"]
MISSED_HEARTBEATS: int = CONTRACT["stall"]["missed_heartbeats"]


def declared_period(data: dict | None) -> float:
    """The heartbeat period a session document declares, in seconds.

    HEARTBEAT_SECONDS when the field is missing or not a positive finite number (documents
    written before the field existed, or a malformed value).
    """
    value = (data or {}).get(HEARTBEAT_FIELD)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return HEARTBEAT_SECONDS
    return float(value) if value > 0 and math.isfinite(value) else HEARTBEAT_SECONDS


def stall_after(data: dict | None, floor: float) -> float:
    """Seconds without a heartbeat after which a running session counts as stalled: the
    larger of `floor` and MISSED_HEARTBEATS periods declared by the document `data`."""
    return max(floor, MISSED_HEARTBEATS * declared_period(data))


def is_workspace_id(value) -> bool:
    """True for a stored workspace ID: the prefix, then a session-ID-shaped body (the
    contract's alphabet and length)."""
    if not isinstance(value, str) or not value.startswith(WORKSPACE_ID["prefix"]):
        return False
    body = value[len(WORKSPACE_ID["prefix"]):]
    return len(body) == SESSION_ID["length"] and all(c in SESSION_ID["alphabet"] for c in body)


def sessions(db):
    """The `sessions` collection."""
    return db.collection(COLLECTIONS["sessions"])


def session(db, sid: str):
    """`sessions/{sid}`."""
    return sessions(db).document(sid)


def subcollection(db, sid: str, name: str):
    """`sessions/{sid}/{name}`, `name` a key of the contract's collections."""
    return session(db, sid).collection(COLLECTIONS[name])


def workspace(db, wid: str):
    """`workspaces/{wid}`."""
    return db.collection(COLLECTIONS["workspaces"]).document(wid)


def workspace_subcollection(db, wid: str, name: str):
    """`workspaces/{wid}/{name}`, `name` a key of the contract's collections."""
    return workspace(db, wid).collection(COLLECTIONS[name])
