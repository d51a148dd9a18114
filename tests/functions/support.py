"""Test support: session IDs, times, and the raw CloudEvents Firestore delivers to a function."""

from __future__ import annotations

import datetime as dt
import json
import secrets
import uuid
from pathlib import Path

import google.events.cloud.firestore as events_fs
from cloudevents.http import CloudEvent
from google.cloud.firestore_v1 import _helpers
from google.cloud.firestore_v1.types import Document
from google.protobuf import timestamp_pb2

FUNCTIONS_DIR = Path(__file__).resolve().parents[2] / "functions"


def _document(path: str, data: dict, when: dt.datetime) -> events_fs.Document:
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(when)
    doc = Document(name=path, fields=_helpers.encode_dict(data), create_time=ts, update_time=ts)
    # google.events' Document is the same message as Firestore's: go through the wire format.
    return events_fs.Document.deserialize(Document.serialize(doc))


def document_updated(project: str, sid: str, before: dict, after: dict,
                     event_id: str | None = None) -> CloudEvent:
    """A `google.cloud.firestore.document.v1.updated` event for `sessions/{sid}`."""
    now = dt.datetime.now(dt.timezone.utc)
    path = f"sessions/{sid}"
    full = f"projects/{project}/databases/(default)/documents/{path}"
    data = events_fs.DocumentEventData(
        value=_document(full, after, now),
        old_value=_document(full, before, now - dt.timedelta(seconds=1)),
    )
    attributes = {
        "specversion": "1.0",
        "id": event_id or str(uuid.uuid4()),
        "source": f"//firestore.googleapis.com/projects/{project}/databases/(default)",
        "type": "google.cloud.firestore.document.v1.updated",
        "subject": f"documents/{path}",
        "time": now.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "datacontenttype": "application/protobuf",
        "location": "nam5",
        "project": project,
        "namespace": "(default)",
        "database": "(default)",
        "document": path,
    }
    return CloudEvent(attributes, events_fs.DocumentEventData.serialize(data))


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


# The one session ID format, in tfwatcher/base/contract.json (read as a file: these tests may run
# where the tfwatcher package is not installed).
SID_FORMAT = json.loads((Path(__file__).resolve().parents[2] / "tfwatcher" / "base" / "contract.json").read_text())["session_id"]


def new_sid() -> str:
    """A random session ID of the current format."""
    return "".join(secrets.choice(SID_FORMAT["alphabet"]) for _ in range(SID_FORMAT["length"]))
