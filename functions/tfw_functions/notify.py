"""Push notifications when a session finishes, crashes, stalls or its loss turns NaN.

Flow for one session update (`before` and `after` are the session document's data):

1. `transitions(before, after)` lists the events this update *causes*: a status that
   became `finished`, `crashed` or `stalled`, and `nan` turning true. Anything else
   (a heartbeat, running -> running, finished -> finished) is no event at all.
2. For each event, `claim()` creates `sessions/{sid}/notified/{event}` with `create()`,
   which fails if the document exists. Only the caller that created it sends, so a
   retried or duplicated trigger delivery never notifies twice. (The price: if sending
   fails after the claim, that notification is lost rather than repeated.)
3. `send()` sends one FCM web push per subscriber token (at most `MAX_SUBSCRIBERS`
   subscribers, the oldest, are read)
   (`firebase_admin.messaging.send_each_for_multicast`), and deletes the subscriber
   documents whose token FCM reports as unregistered or invalid.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Any, Iterable, Mapping, Sequence

import firebase_admin.exceptions
from firebase_admin import messaging
from google.api_core import exceptions as gexc
from google.cloud import firestore

STATUS_EVENTS = ("finished", "crashed", "stalled")
NAN_EVENT = "nan"
EVENTS = STATUS_EVENTS + (NAN_EVENT,)

FCM_BATCH = 500  # the most tokens one multicast may carry
# Anyone with a share link may add subscriptions (docs/security.md), so one notification goes
# to at most this many of a session's subscribers: the oldest by `created`.
MAX_SUBSCRIBERS = 50
TITLE_MAX = 120
BODY_MAX = 240
TTL_SECONDS = 24 * 3600  # FCM keeps an undelivered push this long


@dataclasses.dataclass(frozen=True)
class Note:
    """What a notification says and where it leads."""

    sid: str
    event: str
    title: str
    body: str
    link: str

    @property
    def data(self) -> dict[str, str]:
        return {"sid": self.sid, "event": self.event, "link": self.link}


@dataclasses.dataclass
class SendResult:
    """Outcome of sending one notification to a session's subscribers."""

    tokens: int = 0
    sent: int = 0
    failed: int = 0
    removed: list[str] = dataclasses.field(default_factory=list)  # subscriber doc IDs deleted


@dataclasses.dataclass
class NotifyResult:
    """What happened to one event: `sent`, `duplicate` (already notified) or `no_subscribers`."""

    event: str
    outcome: str
    note: Note | None = None
    send: SendResult | None = None


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


# ---------------------------------------------------------------- what it says

def session_link(app_url: str, sid: str) -> str:
    """The read-only dashboard link of a session (never the owner key)."""
    return f"{app_url.rstrip('/')}/s/{sid}"


def _clip(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _int(value) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return int(value)


def title_for(event: str, session: Mapping[str, Any]) -> str:
    if event == "finished":
        return "Training finished"
    if event == "crashed":
        error = session.get("error") or {}
        kind = error.get("type") if isinstance(error, Mapping) else None
        return _clip(f"Training crashed: {kind}" if kind else "Training crashed", TITLE_MAX)
    if event == "stalled":
        return "Training stalled"
    if event == NAN_EVENT:
        return "Loss is NaN"
    raise ValueError(f"unknown event {event!r}")


def body_for(sid: str, session: Mapping[str, Any]) -> str:
    """`"{name} ({sid}) · epoch 3/10"`; the ID alone when the run has no name."""
    name = session.get("name")
    label = f"{name} ({sid})" if isinstance(name, str) and name.strip() else f"Session {sid}"
    progress = session.get("progress") or {}
    plan = session.get("plan") or {}
    epoch = _int(progress.get("epoch")) if isinstance(progress, Mapping) else None
    epochs = _int(plan.get("epochs")) if isinstance(plan, Mapping) else None
    if epoch:
        label += f" · epoch {epoch}/{epochs}" if epochs else f" · epoch {epoch}"
    return _clip(label, BODY_MAX)


def build_note(event: str, sid: str, session: Mapping[str, Any], app_url: str) -> Note:
    return Note(sid=sid, event=event, title=title_for(event, session),
                body=body_for(sid, session), link=session_link(app_url, sid))


def build_message(note: Note, tokens: Sequence[str]) -> messaging.MulticastMessage:
    """One web push to `tokens`: a notification that opens the session when tapped."""
    fcm_options = None
    if note.link.startswith("https://"):
        # FCM accepts only HTTPS click links; a local http:// URL still travels in data.
        fcm_options = messaging.WebpushFCMOptions(link=note.link)
    webpush = messaging.WebpushConfig(
        headers={"TTL": str(TTL_SECONDS), "Urgency": "high"},
        notification=messaging.WebpushNotification(
            title=note.title, body=note.body, tag=f"tfwatcher-{note.sid}-{note.event}",
        ),
        data=note.data,
        fcm_options=fcm_options,
    )
    with warnings.catch_warnings():
        # firebase-admin 7 deprecates `tokens` in favour of installation IDs (`fids`); the web
        # SDK's getToken() returns registration tokens, which is what subscribers store.
        warnings.simplefilter("ignore", DeprecationWarning)
        return messaging.MulticastMessage(
            tokens=list(tokens),
            notification=messaging.Notification(title=note.title, body=note.body),
            data=note.data,
            webpush=webpush,
        )


# ---------------------------------------------------------------- Firestore side

def claim(db: firestore.Client, sid: str, event: str) -> bool:
    """Create `sessions/{sid}/notified/{event}`; False if it already existed."""
    ref = db.collection("sessions").document(sid).collection("notified").document(event)
    try:
        ref.create({"schema": 1, "event": event, "at": firestore.SERVER_TIMESTAMP})
    except gexc.AlreadyExists:
        return False
    return True


def subscribers(db: firestore.Client, sid: str,
                limit: int | None = None) -> list[tuple[str, str]]:
    """`(subscriber doc ID, token)` of the session's oldest `limit` subscribers (by `created`,
    then ID; default `MAX_SUBSCRIBERS`) that have a token.

    The cap bounds what a flood of subscriptions through a share link can cost: the first
    subscribers (usually the owner) keep getting notified, later ones are not. Documents
    without a `created` timestamp (browsers cannot write one: the rules require it) are not
    in the ordered query and are never sent to.
    """
    limit = MAX_SUBSCRIBERS if limit is None else limit
    out = []
    query = (db.collection("sessions").document(sid).collection("subscribers")
             .order_by("created").limit(limit))  # ties: by document ID
    for snap in query.stream():
        token = (snap.to_dict() or {}).get("token")
        if isinstance(token, str) and token:
            out.append((snap.id, token))
    return out


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
         subs: Iterable[tuple[str, str]]) -> SendResult:
    """Push `note` to the subscribers `subs`; delete the ones FCM rejects for good."""
    by_token: dict[str, list[str]] = {}
    for doc_id, token in subs:
        by_token.setdefault(token, []).append(doc_id)
    tokens = list(by_token)
    result = SendResult(tokens=len(tokens))
    stale: list[str] = []
    for start in range(0, len(tokens), FCM_BATCH):
        chunk = tokens[start:start + FCM_BATCH]
        response = messaging.send_each_for_multicast(build_message(note, chunk))
        for token, resp in zip(chunk, response.responses):
            if resp.success:
                result.sent += 1
                continue
            result.failed += 1
            if is_stale_token_error(resp.exception):
                stale.extend(by_token[token])
    if stale:
        col = db.collection("sessions").document(sid).collection("subscribers")
        for start in range(0, len(stale), 500):
            batch = db.batch()
            for doc_id in stale[start:start + 500]:
                batch.delete(col.document(doc_id))
            batch.commit()
        result.removed = stale
    return result


def notify_events(db: firestore.Client, sid: str, events: Sequence[str],
                  session: Mapping[str, Any], app_url: str) -> list[NotifyResult]:
    """Claim and send each event once; returns what happened to each."""
    results = []
    for event in events:
        if not claim(db, sid, event):
            results.append(NotifyResult(event, "duplicate"))
            continue
        note = build_note(event, sid, session, app_url)
        subs = subscribers(db, sid)
        marker = (db.collection("sessions").document(sid)
                  .collection("notified").document(event))
        if not subs:
            marker.update({"tokens": 0, "sent": 0})
            results.append(NotifyResult(event, "no_subscribers", note, SendResult()))
            continue
        try:
            sent = send(db, sid, note, subs)
        except Exception as err:  # recorded, then re-raised so it shows in the logs
            marker.update({"error": _clip(f"{type(err).__name__}: {err}", 500)})
            raise
        marker.update({"tokens": sent.tokens, "sent": sent.sent, "failed": sent.failed,
                       "removed": len(sent.removed)})
        results.append(NotifyResult(event, "sent", note, sent))
    return results


def handle_update(db: firestore.Client, sid: str, before: Mapping[str, Any] | None,
                  after: Mapping[str, Any] | None, app_url: str) -> list[NotifyResult]:
    """Everything the trigger does for one update of `sessions/{sid}`."""
    events = transitions(before, after)
    if not events:
        return []
    return notify_events(db, sid, events, after or {}, app_url)
