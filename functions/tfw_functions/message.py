"""What a notification says and where it leads: the title, body and link of one event, and
the FCM web push that carries them. Pure: no Firestore, no network."""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Any, Mapping, Sequence

from firebase_admin import messaging

NAN_EVENT = "nan"
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


def session_link(app_url: str, sid: str) -> str:
    """The read-only dashboard link of a session (never the owner key)."""
    return f"{app_url.rstrip('/')}/s/{sid}"


def clip(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def whole(value) -> int | None:
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
        return clip(f"Training crashed: {kind}" if kind else "Training crashed", TITLE_MAX)
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
    epoch = whole(progress.get("epoch")) if isinstance(progress, Mapping) else None
    epochs = whole(plan.get("epochs")) if isinstance(plan, Mapping) else None
    if epoch:
        label += f" · epoch {epoch}/{epochs}" if epochs else f" · epoch {epoch}"
    return clip(label, BODY_MAX)


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
