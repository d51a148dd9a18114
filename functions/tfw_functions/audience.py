"""Who one notification goes to: the session's subscribers and, for a session that belongs to a
workspace, the workspace's (docs/notifications.md, "Subscribers").

Each subscription is named by a *key* in the `notified` marker's `delivered` list: its
document ID for `sessions/{sid}/subscribers/{id}`, and `WORKSPACE_KEY + id` for
`workspaces/{wid}/subscribers/{id}` (a document ID cannot contain "/", so the two never
collide, and the key does not reveal the workspace ID).

Order and caps (the same policy for both collections): every owner subscription within the
owners' cap first (session, then workspace; `o-…` IDs, which only an owner key can make), the
oldest by `created` when above it; then the viewers, the oldest by `created`, at most
`MAX_SUBSCRIBERS` of the session's and `WORKSPACE_MAX_VIEWERS` of the workspace's. Duplicate
tokens (a device subscribed to the session and to its workspace) are sent to once: `notify.send`
groups the keys by token.
"""

from __future__ import annotations

import datetime as dt
from typing import Iterable

from google.cloud import firestore
from google.cloud.firestore_v1 import FieldFilter
from google.cloud.firestore_v1.field_path import FieldPath

from . import contract

# Viewer subscriptions a session can take: the rules' cap (maxViewers() in firestore.rules,
# MAX_VIEWERS in hosting/src/subscriber.ts).
MAX_VIEWERS = 20
# Viewer subscriptions one notification goes to at most: the oldest by `created`. Above the
# rules' cap, for sessions subscribed to before the cap existed.
MAX_SUBSCRIBERS = 50
# Owner subscriptions (`subscribers/o-{sha256(key:token)}`, one per device of the owner) a
# session takes: the rules' cap (maxOwners() in firestore.rules, counted in counters/owners).
# Every one is sent to, before and regardless of the viewers; above the cap (a session
# subscribed to before the cap existed) the oldest by `created`, so tokens chosen to sort
# first cannot push the owner's own devices out.
MAX_OWNER_SUBSCRIBERS = 20
# Workspace subscriptions are new with the cap, so the contract's caps are also the read limits.
WORKSPACE_MAX_VIEWERS: int = contract.WORKSPACES["max_viewers"]
WORKSPACE_MAX_OWNERS: int = contract.WORKSPACES["max_owners"]
# Owner documents read per notification, to choose the oldest; the rules keep a session at
# MAX_OWNER_SUBSCRIBERS.
OWNER_READ_LIMIT = 200
OWNER_PREFIX = "o-"  # TODO(contract): the owner subscription ID format, o-{sha256(key:token)}
WORKSPACE_KEY = "w/"  # a workspace subscription's key in the marker: "w/" + its document ID
# The field of sessions/{sid}/private/owner naming the session's workspace (server only).
WORKSPACE_FIELD = "workspace"
_NEVER = dt.datetime.max.replace(tzinfo=dt.timezone.utc)  # sorts a document without `created` last

Sub = tuple[str, str]  # (key, token)


def _aware(value) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    return None


def _created(snap) -> dt.datetime:
    return _aware((snap.to_dict() or {}).get("created")) or _NEVER


def _token(snap) -> str | None:
    token = (snap.to_dict() or {}).get("token")
    return token if isinstance(token, str) and token else None


def read(col, owners_max: int, viewers_max: int) -> tuple[list[Sub], list[Sub]]:
    """`(owners, viewers)` of one subscribers collection, as `(document ID, token)`.

    Owners: the oldest `owners_max` `o-…` documents by `created` (then ID), of at most
    OWNER_READ_LIMIT read. Viewers: the oldest `viewers_max` others by `created`, then ID.
    Documents without a `created` timestamp (browsers cannot write one: the rules require it)
    are not in the ordered query and are never sent to; neither are documents without a token.
    """
    past_owners = OWNER_PREFIX[:-1] + chr(ord(OWNER_PREFIX[-1]) + 1)  # "o.": after every "o-…"
    query = (col.where(filter=FieldFilter(FieldPath.document_id(), ">=", col.document(OWNER_PREFIX)))
             .where(filter=FieldFilter(FieldPath.document_id(), "<", col.document(past_owners)))
             .limit(OWNER_READ_LIMIT))
    by_age = sorted(query.stream(), key=lambda snap: (_created(snap), snap.id))
    owners = [(snap.id, t) for snap in by_age[:owners_max] if (t := _token(snap))]
    viewers: list[Sub] = []
    if viewers_max <= 0:
        return owners, viewers
    # Read past any owner documents among the oldest, so `viewers_max` viewers still come back.
    for snap in col.order_by("created").limit(viewers_max + owners_max).stream():  # ties: by ID
        if snap.id.startswith(OWNER_PREFIX) or len(viewers) >= viewers_max:
            continue
        if token := _token(snap):
            viewers.append((snap.id, token))
    return owners, viewers


def subscribers(db: firestore.Client, sid: str, limit: int | None = None) -> list[Sub]:
    """The session's own subscriptions: owners first, then at most `limit` (default
    MAX_SUBSCRIBERS) viewers; `(document ID, token)` each."""
    limit = MAX_SUBSCRIBERS if limit is None else limit
    owners, viewers = read(contract.subcollection(db, sid, "subscribers"), MAX_OWNER_SUBSCRIBERS, limit)
    return owners + viewers


def workspace_of(db: firestore.Client, sid: str) -> str | None:
    """The workspace a session belongs to (`sessions/{sid}/private/owner`, field `workspace`;
    the session document never names it), or None. A value that is not a workspace ID of the
    contract's format is ignored rather than used in a document path."""
    snap = contract.subcollection(db, sid, "private").document(contract.DOCUMENTS["owner"]).get()
    wid = (snap.to_dict() or {}).get(WORKSPACE_FIELD) if snap.exists else None
    return wid if contract.is_workspace_id(wid) else None


def workspace_subscribers(db: firestore.Client, wid: str) -> tuple[list[Sub], list[Sub]]:
    """`(owners, viewers)` of `workspaces/{wid}/subscribers`, keyed `WORKSPACE_KEY + ID`."""
    owners, viewers = read(contract.workspace_subcollection(db, wid, "subscribers"),
                           WORKSPACE_MAX_OWNERS, WORKSPACE_MAX_VIEWERS)
    return ([(WORKSPACE_KEY + i, t) for i, t in owners], [(WORKSPACE_KEY + i, t) for i, t in viewers])


def everyone(db: firestore.Client, sid: str) -> tuple[list[Sub], str | None]:
    """Every subscription one notification of `sid` goes to, and the session's workspace:
    the session's owners, the workspace's owners, the session's viewers, the workspace's viewers
    (`(key, token)` each; a token may appear under several keys)."""
    owners, viewers = read(contract.subcollection(db, sid, "subscribers"),
                           MAX_OWNER_SUBSCRIBERS, MAX_SUBSCRIBERS)
    wid = workspace_of(db, sid)
    if wid is None:
        return owners + viewers, None
    ws_owners, ws_viewers = workspace_subscribers(db, wid)
    return owners + ws_owners + viewers + ws_viewers, wid


def reference(db: firestore.Client, sid: str, wid: str | None, key: str):
    """The subscription document a key names (to delete it when FCM rejects its token)."""
    if key.startswith(WORKSPACE_KEY):
        if wid is None:
            raise ValueError(f"workspace subscription {key!r} of a session without a workspace")
        return contract.workspace_subcollection(db, wid, "subscribers").document(key[len(WORKSPACE_KEY):])
    return contract.subcollection(db, sid, "subscribers").document(key)


def delete(db: firestore.Client, sid: str, wid: str | None, keys: Iterable[str]) -> None:
    """Delete the subscriptions `keys` name, 500 per batch."""
    keys = list(keys)
    for start in range(0, len(keys), 500):
        batch = db.batch()
        for key in keys[start:start + 500]:
            batch.delete(reference(db, sid, wid, key))
        batch.commit()
