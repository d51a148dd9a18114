"""Push notifications when a session finishes, crashes, stalls or its loss turns NaN.

Flow for one session update (`before` and `after` are the session document's data):

1. `transitions(before, after)` lists the events this update *causes*: a status that
   became `finished`, `crashed` or `stalled`, and `nan` turning true. Anything else
   (a heartbeat, running -> running, finished -> finished) is no event at all.
2. For each event, `claim()` takes `sessions/{sid}/notified/{event}` in a transaction: it
   creates it (`state: "sending"`, with a short lease), or takes it over when an earlier
   attempt left it in `state: "retry"` (or its lease ran out). A marker in `state: "sent"`
   or `"gave_up"` (or one written by an older version, without `state`) means done: a
   duplicated trigger delivery sends nothing. A marker another attempt holds (`"sending"`,
   lease not expired) is left alone.
3. `audience.everyone()` reads the owner's subscriptions (`subscribers/o-*`, proven with the
   owner key by the rules, which cap them at `MAX_OWNER_SUBSCRIBERS`) first, every one of
   them (beyond the cap, in older sessions, the oldest by `created`, never the first by ID),
   then the viewers' (at most `MAX_SUBSCRIBERS`, the oldest by `created`; the rules cap them
   at `MAX_VIEWERS` per session). For a session in a workspace (`private/owner.workspace`) it
   adds the workspace's subscriptions by the same policy (its owners after the session's,
   its viewers last). Left out: those the marker lists as `delivered` by an earlier attempt,
   and tokens it lists as `reached` (a device subscribed to the session and its workspace).
4. `send()` sends one FCM web push per token (`send_each_for_multicast`; a token held by
   several subscriptions is sent to once), deletes the subscriptions whose token FCM reports
   as unregistered or invalid, and reports which subscriptions got it and which failed for a
   reason that may pass (FCM unavailable, quota, no network: `pending`).
5. The marker records `delivered` and `reached`. With nothing pending it becomes `"sent"`; otherwise
   `"retry"`, and `retry_pending()` (the scheduled function `retrynotify`, every 5 minutes)
   tries again, sending only to the subscriptions not reached yet. So a failed send does not
   burn the notification, and a delivered one is not repeated. After `MAX_ATTEMPTS` attempts
   or `GIVE_UP_AFTER` since the first, the marker becomes `"gave_up"` and retries stop.
   (firebase-functions 0.6.0 deploys Firestore triggers with retry off and has no option to
   turn it on; the trigger still raises `RetryLater`, so the failure shows in the logs, and a
   platform redelivery, where retry is on, would work the same way.)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from typing import Any, Iterable, Mapping, Sequence

import firebase_admin.exceptions
from firebase_admin import messaging
from google.cloud import firestore
from google.cloud.firestore_v1 import FieldFilter

from . import audience, contract
from .audience import (  # noqa: F401  (re-exported: who a notification goes to)
    MAX_OWNER_SUBSCRIBERS,
    MAX_SUBSCRIBERS,
    MAX_VIEWERS,
    OWNER_PREFIX,
    WORKSPACE_KEY,
    subscribers,
)
from .message import (  # noqa: F401  (re-exported: what a notification says)
    BODY_MAX,
    NAN_EVENT,
    TITLE_MAX,
    TTL_SECONDS,
    Note,
    body_for,
    build_message,
    build_note,
    session_link,
    title_for,
)
from .message import clip

STATUS_EVENTS = contract.NOTIFIED_STATUSES
EVENTS = STATUS_EVENTS + (NAN_EVENT,)
# The marker's own layout version (docs/schema.md, `notified/{event}`), not the session's.
MARKER_SCHEMA = 1

FCM_BATCH = 500  # the most tokens one multicast may carry
# Retries of a failed send (the trigger is redelivered): how many, and for how long.
MAX_ATTEMPTS = 10
GIVE_UP_AFTER = dt.timedelta(hours=2)
LEASE = dt.timedelta(seconds=120)  # one attempt's hold on the marker


@dataclasses.dataclass
class SendResult:
    """Outcome of sending one notification to a session's (and its workspace's) subscribers."""

    tokens: int = 0
    sent: int = 0
    failed: int = 0
    removed: list[str] = dataclasses.field(default_factory=list)  # subscription keys deleted
    delivered: list[str] = dataclasses.field(default_factory=list)  # subscription keys reached
    reached: list[str] = dataclasses.field(default_factory=list)  # token_hash() of tokens reached
    pending: list[str] = dataclasses.field(default_factory=list)  # failed, may work on a retry
    errors: list[str] = dataclasses.field(default_factory=list)  # a few error texts


@dataclasses.dataclass
class NotifyResult:
    """What happened to one event.

    `sent` (nothing left to send), `retry` (some subscriptions failed for a reason that may pass:
    the trigger should be delivered again), `no_subscribers`, `duplicate` (done already),
    `in_progress` (another attempt holds the marker) or `gave_up` (retries exhausted).
    """

    event: str
    outcome: str
    note: Note | None = None
    send: SendResult | None = None


class RetryLater(Exception):
    """Raised by the trigger when a send failed in a way a later delivery may fix."""


# ---------------------------------------------------------------- what happened

def transitions(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> list[str]:
    """Events caused by the update `before` -> `after`, in the order they are notified."""
    if not after:
        return []
    before = before or {}
    events = []
    if after.get("nan") is True and before.get("nan") is not True:
        events.append(NAN_EVENT)
    status = after.get("status")
    if status in STATUS_EVENTS and before.get("status") != status:
        events.append(status)
    return events


# ---------------------------------------------------------------- Firestore side

@dataclasses.dataclass
class Claim:
    """The outcome of `claim()`: `state` is `"mine"` (go ahead), `"done"`, `"busy"` or `"gave_up"`."""

    state: str
    attempt: int = 0
    delivered: list[str] = dataclasses.field(default_factory=list)
    reached: list[str] = dataclasses.field(default_factory=list)


def token_hash(token: str) -> str:
    """How the marker names a token FCM accepted (never the token itself)."""
    return hashlib.sha256(token.encode()).hexdigest()


def _marker(db: firestore.Client, sid: str, event: str):
    return contract.subcollection(db, sid, "notified").document(event)


def _aware(value) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    return None


def claim(db: firestore.Client, sid: str, event: str, now: dt.datetime | None = None) -> Claim:
    """Take `sessions/{sid}/notified/{event}` for one send attempt (see the module docstring)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    ref = _marker(db, sid, event)

    @firestore.transactional
    def run(tx) -> Claim:
        snap = ref.get(transaction=tx)
        if not snap.exists:
            tx.create(ref, {"schema": MARKER_SCHEMA, "event": event, "state": "sending", "attempts": 1,
                            "first_at": now, "lease_until": now + LEASE, "delivered": [],
                            "reached": [], "at": firestore.SERVER_TIMESTAMP})
            return Claim("mine", 1, [])
        data = snap.to_dict() or {}
        state = data.get("state")
        if state not in ("sending", "retry"):  # sent, gave_up, or a marker of an older version
            return Claim("done")
        lease = _aware(data.get("lease_until"))
        if state == "sending" and lease is not None and lease > now:
            return Claim("busy")
        attempts = int(data.get("attempts") or 1)
        first = _aware(data.get("first_at")) or now
        if attempts >= MAX_ATTEMPTS or now - first > GIVE_UP_AFTER:
            tx.update(ref, {"state": "gave_up", "at": firestore.SERVER_TIMESTAMP})
            return Claim("gave_up", attempts)
        delivered = [d for d in data.get("delivered") or [] if isinstance(d, str)]
        reached = [d for d in data.get("reached") or [] if isinstance(d, str)]
        tx.update(ref, {"state": "sending", "attempts": attempts + 1, "lease_until": now + LEASE,
                        "at": firestore.SERVER_TIMESTAMP})
        return Claim("mine", attempts + 1, delivered, reached)

    return run(db.transaction())


def is_stale_token_error(exc: BaseException | None) -> bool:
    """True when FCM says the token will never work again (so its subscription goes)."""
    if exc is None:
        return False
    if isinstance(exc, (messaging.UnregisteredError, messaging.SenderIdMismatchError)):
        return True
    if isinstance(exc, firebase_admin.exceptions.InvalidArgumentError):
        # INVALID_ARGUMENT also covers a bad payload; only a bad token mentions the token.
        return "token" in str(exc).lower()
    return False


def send(db: firestore.Client, sid: str, note: Note,
         subs: Iterable[tuple[str, str]], workspace: str | None = None) -> SendResult:
    """Push `note` to the subscriptions `subs` (`(key, token)`, keys as in `audience`: a
    workspace's are resolved in `workspace`); delete the ones FCM rejects for good. A token
    under several keys is sent to once, and its outcome counts for each of them.

    Never raises for FCM: a multicast that fails as a whole (no network, no credentials, FCM
    down) counts all its tokens as `pending`, as does a token FCM refuses for a passing reason.
    """
    by_token: dict[str, list[str]] = {}
    for doc_id, token in subs:
        by_token.setdefault(token, []).append(doc_id)
    tokens = list(by_token)
    result = SendResult(tokens=len(tokens))
    stale: list[str] = []

    def error(exc: BaseException) -> None:
        if len(result.errors) < 5:
            result.errors.append(clip(f"{type(exc).__name__}: {exc}", 300))

    for start in range(0, len(tokens), FCM_BATCH):
        chunk = tokens[start:start + FCM_BATCH]
        try:
            response = messaging.send_each_for_multicast(build_message(note, chunk))
        except Exception as exc:  # the whole multicast: nobody in it got the push
            error(exc)
            result.failed += len(chunk)
            for token in chunk:
                result.pending.extend(by_token[token])
            continue
        for token, resp in zip(chunk, response.responses):
            if resp.success:
                result.sent += 1
                result.delivered.extend(by_token[token])
                result.reached.append(token_hash(token))
                continue
            result.failed += 1
            if is_stale_token_error(resp.exception):
                stale.extend(by_token[token])
            else:
                if resp.exception is not None:
                    error(resp.exception)
                result.pending.extend(by_token[token])
    if stale:
        audience.delete(db, sid, workspace, stale)
        result.removed = stale
    return result


def notify_events(db: firestore.Client, sid: str, events: Sequence[str],
                  session: Mapping[str, Any], app_url: str,
                  now: dt.datetime | None = None) -> list[NotifyResult]:
    """Claim and send each event; returns what happened to each (never raises for FCM).

    An event whose outcome is `retry` should be tried again: `main.notifysession` raises
    `RetryLater` then, and Cloud Functions delivers the event again.
    """
    results = []
    for event in events:
        got = claim(db, sid, event, now)
        if got.state != "mine":
            outcome = {"done": "duplicate", "busy": "in_progress"}.get(got.state, got.state)
            results.append(NotifyResult(event, outcome))
            continue
        note = build_note(event, sid, session, app_url)
        marker = _marker(db, sid, event)
        already, reached = set(got.delivered), set(got.reached)
        everyone, workspace = audience.everyone(db, sid)
        subs = [(key, token) for key, token in everyone
                if key not in already and token_hash(token) not in reached]
        if not subs:
            if already or reached:  # everyone left was reached by an earlier attempt
                marker.update({"state": "sent", "pending": 0, "at": firestore.SERVER_TIMESTAMP})
                results.append(NotifyResult(event, "sent", note, SendResult()))
            else:
                marker.update({"state": "sent", "tokens": 0, "sent": 0,
                               "at": firestore.SERVER_TIMESTAMP})
                results.append(NotifyResult(event, "no_subscribers", note, SendResult()))
            continue
        try:
            sent = send(db, sid, note, subs, workspace)
        except Exception as err:  # Firestore trouble deleting stale tokens, or a bug: retry
            sent = SendResult(tokens=len(subs), failed=len(subs),
                              pending=[doc_id for doc_id, _ in subs],
                              errors=[clip(f"{type(err).__name__}: {err}", 300)])
        delivered = sorted(already | set(sent.delivered))
        fields = {"delivered": delivered, "reached": sorted(reached | set(sent.reached)),
                  "tokens": sent.tokens, "sent": sent.sent,
                  "failed": sent.failed, "removed": len(sent.removed),
                  "pending": len(sent.pending), "at": firestore.SERVER_TIMESTAMP}
        if sent.errors:
            fields["error"] = clip("; ".join(sent.errors), 500)
        if sent.pending:
            fields["state"] = "retry"
            outcome = "retry"
        else:
            fields["state"] = "sent"
            outcome = "sent"
        marker.update(fields)
        results.append(NotifyResult(event, outcome, note, sent))
    return results


def handle_update(db: firestore.Client, sid: str, before: Mapping[str, Any] | None,
                  after: Mapping[str, Any] | None, app_url: str,
                  now: dt.datetime | None = None) -> list[NotifyResult]:
    """Everything the trigger does for one update of `sessions/{sid}`."""
    events = transitions(before, after)
    if not events:
        return []
    return notify_events(db, sid, events, after or {}, app_url, now)


def retry_query(db: firestore.Client, limit: int = 100):
    """Markers left to retry, across sessions: `notified` where `state` is `retry` or
    `sending` (an attempt that died; `claim()` waits for its lease). Needs the collection-group
    index on `notified.state` (firestore.indexes.json)."""
    return (db.collection_group(contract.COLLECTIONS["notified"])
            .where(filter=FieldFilter("state", "in", ["retry", "sending"]))
            .limit(limit))


def retry_pending(db: firestore.Client, app_url: str, now: dt.datetime | None = None,
                  limit: int = 100) -> list[tuple[str, NotifyResult]]:
    """Try again every notification a failed send left in `retry`; `(sid, result)` each."""
    out = []
    for snap in retry_query(db, limit).stream():
        session_ref = snap.reference.parent.parent
        if session_ref is None or session_ref.parent.id != contract.COLLECTIONS["sessions"]:
            continue
        session = session_ref.get()
        data = session.to_dict() if session.exists else {}
        for res in notify_events(db, session_ref.id, [snap.id], data or {}, app_url, now):
            out.append((session_ref.id, res))
    return out
