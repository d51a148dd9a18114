"""Workspace notifications (issue 19): a session of a workspace notifies the workspace's
subscribers too, by the per-session policy, and a device subscribed to both gets one push.
Firestore is the emulator; only FCM (firebase_admin.messaging) is mocked (test_notify.FakeFcm)."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from firebase_admin import exceptions as fb_exceptions
from firebase_admin import messaging

from tfw_functions import audience, contract, notify

from .support import document_updated, new_sid, now_utc
from .test_notify import APP_URL, PROJECT, FakeFcm, fcm, notified, seed, session_data  # noqa: F401

OWNER_KEY = "workspace-owner-key"


def new_wid() -> str:
    return contract.WORKSPACE_ID["prefix"] + new_sid()


def join(db, sid, wid, key="session-owner-key"):
    """What the package writes: the session's workspace, in its server-only private/owner."""
    contract.subcollection(db, sid, "private").document(contract.DOCUMENTS["owner"]).set(
        {"key": key, "workspace": wid})


def ws_subs(db, wid):
    return contract.workspace_subcollection(db, wid, "subscribers")


def viewer(col, token, created=None):
    """A viewer subscription as the dashboard makes it: ID = sha256(token) hex."""
    doc_id = hashlib.sha256(token.encode()).hexdigest()
    col.document(doc_id).set({"token": token, "kind": "fcm", "created": created or now_utc()})
    return doc_id


def owner(col, token, key=OWNER_KEY, created=None):
    """An owner subscription: "o-" + sha256(key:token) hex."""
    doc_id = "o-" + hashlib.sha256(f"{key}:{token}".encode()).hexdigest()
    col.document(doc_id).set({"token": token, "kind": "fcm", "created": created or now_utc()})
    return doc_id


def session_in_workspace(db, data, wid=None):
    sid, wid = new_sid(), wid or new_wid()
    ref = seed(db, sid, data)
    join(db, sid, wid)
    return sid, wid, ref


def ids(db, col):
    return sorted(s.id for s in col.stream())


def test_workspace_subscribers_get_a_sessions_notification_owners_first(fdb, fcm):
    after = session_data(status="finished")
    sid, wid, ref = session_in_workspace(fdb, after)
    s_view = viewer(ref.collection("subscribers"), "t-session-viewer")
    s_own = owner(ref.collection("subscribers"), "t-session-owner", key="session-owner-key")
    w_view = viewer(ws_subs(fdb, wid), "t-ws-viewer")
    w_own = owner(ws_subs(fdb, wid), "t-ws-owner")
    [res] = notify.handle_update(fdb, sid, session_data(), after, APP_URL)
    assert res.outcome == "sent"
    assert fcm.tokens == [["t-session-owner", "t-ws-owner", "t-session-viewer", "t-ws-viewer"]]
    marker = notified(fdb, sid)["finished"]
    assert marker["delivered"] == sorted([s_view, s_own, "w/" + w_view, "w/" + w_own])
    assert marker["tokens"] == marker["sent"] == 4 and marker["state"] == "sent"
    assert wid not in repr(marker), "the marker never names the workspace"
    # What a workspace subscriber receives: the session's read-only link, no workspace ID.
    msg = fcm.messages[0]
    assert msg.data == {"sid": sid, "event": "finished", "link": f"{APP_URL}/s/{sid}"}
    assert wid not in repr(msg.data) + msg.notification.body + msg.notification.title
    # The same transition again: nobody is notified twice.
    assert notify.handle_update(fdb, sid, session_data(), after, APP_URL)[0].outcome == "duplicate"
    assert len(fcm.messages) == 1


@pytest.mark.parametrize("event_data, event", [
    (dict(status="crashed", error={"type": "ValueError"}), "crashed"),
    (dict(status="stalled"), "stalled"),
    (dict(nan=True), "nan"),
])
def test_every_event_reaches_the_workspace(fdb, fcm, event_data, event):
    after = session_data(**event_data)
    sid, wid, _ = session_in_workspace(fdb, after)
    viewer(ws_subs(fdb, wid), "t-ws")
    [res] = notify.handle_update(fdb, sid, session_data(), after, APP_URL)
    assert (res.event, res.outcome) == (event, "sent")
    assert fcm.tokens == [["t-ws"]]


def test_only_the_sessions_own_workspace(fdb, fcm):
    """Subscribers of another workspace, or of a workspace the session does not name, get nothing;
    a malformed stored value is never used as a path."""
    after = session_data(status="finished")
    other = new_wid()
    viewer(ws_subs(fdb, other), "t-other-workspace")
    sid, wid, _ = session_in_workspace(fdb, after)
    viewer(ws_subs(fdb, wid), "t-mine")
    lone = new_sid()  # no workspace at all: private/owner without the field
    seed(fdb, lone, after, tokens=["t-lone"])
    contract.subcollection(fdb, lone, "private").document(contract.DOCUMENTS["owner"]).set({"key": "k"})
    bad = new_sid()  # a stored value that is not a workspace ID
    seed(fdb, bad, after)
    join(fdb, bad, other + "/x")
    for s in (sid, lone, bad):
        notify.handle_update(fdb, s, session_data(), after, APP_URL)
    assert fcm.tokens == [["t-mine"], ["t-lone"]]
    assert notified(fdb, bad)["finished"]["tokens"] == 0
    assert audience.workspace_of(fdb, lone) is None and audience.workspace_of(fdb, bad) is None
    assert audience.workspace_of(fdb, new_sid()) is None  # no private/owner document
    assert audience.workspace_of(fdb, sid) == wid


@pytest.mark.parametrize("value, ok", [
    ("w" + "2" * 18, True), ("w" + "2" * 17, False), ("w" + "2" * 19, False),
    ("x" + "2" * 18, False), ("w" + "1" * 18, False), ("W" + "2" * 18, False), (None, False),
    (123, False), ("w" + "2" * 17 + "/", False),
])
def test_workspace_id_format_comes_from_the_contract(value, ok):
    assert contract.is_workspace_id(value) is ok


def test_a_device_subscribed_to_session_and_workspace_gets_one_push(fdb, fcm):
    after = session_data(status="finished")
    sid, wid, ref = session_in_workspace(fdb, after)
    s_id = viewer(ref.collection("subscribers"), "t-both")
    w_id = viewer(ws_subs(fdb, wid), "t-both")
    w_own = owner(ws_subs(fdb, wid), "t-both")  # the same phone, also as the workspace's owner
    viewer(ws_subs(fdb, wid), "t-ws-only")
    [res] = notify.handle_update(fdb, sid, session_data(), after, APP_URL)
    assert fcm.tokens == [["t-both", "t-ws-only"]]
    assert res.send.tokens == res.send.sent == 2
    marker = notified(fdb, sid)["finished"]
    assert {s_id, "w/" + w_id, "w/" + w_own} <= set(marker["delivered"])
    assert marker["reached"] == sorted(notify.token_hash(t) for t in ("t-both", "t-ws-only"))
    assert "t-both" not in repr(marker), "tokens are recorded by their hash only"


def test_a_device_reached_is_not_sent_again_when_it_subscribes_between_attempts(fdb, fcm):
    """The owner's push failed (retried); meanwhile a device that already got it subscribes to
    the workspace too. The retry goes to the owner only."""
    after = session_data(status="crashed", error={"type": "OSError"})
    sid, wid, ref = session_in_workspace(fdb, after)
    viewer(ref.collection("subscribers"), "t-phone")
    owner(ref.collection("subscribers"), "t-owner", key="session-owner-key")
    fcm.errors["t-owner"] = fb_exceptions.UnavailableError("down")
    assert notify.handle_update(fdb, sid, session_data(), after, APP_URL)[0].outcome == "retry"
    viewer(ws_subs(fdb, wid), "t-phone")
    fcm.errors.clear()
    done = notify.retry_pending(fdb, APP_URL)
    assert [(s, r.outcome) for s, r in done] == [(sid, "sent")]
    assert fcm.tokens == [["t-owner", "t-phone"], ["t-owner"]]


def test_workspace_caps_owners_first_oldest_viewers(fdb, fcm):
    """The workspace's caps are the contract's (max_owners, max_viewers): a flood of viewers and
    of owner subscriptions made later (IDs chosen to sort first) cannot push out the oldest, and
    the session's own subscribers keep their own caps."""
    assert (audience.WORKSPACE_MAX_VIEWERS, audience.WORKSPACE_MAX_OWNERS) == (
        contract.WORKSPACES["max_viewers"], contract.WORKSPACES["max_owners"])
    after = session_data(status="finished")
    sid, wid, ref = session_in_workspace(fdb, after)
    col = ws_subs(fdb, wid)
    old = now_utc() - dt.timedelta(hours=1)
    n_owners = audience.WORKSPACE_MAX_OWNERS + 5
    n_viewers = audience.WORKSPACE_MAX_VIEWERS + 5
    batch = fdb.batch()
    for i in range(n_owners):
        batch.set(col.document(f"o-{i:03d}"), {"token": f"wo{i:03d}", "created": old + dt.timedelta(seconds=i)})
    for i in range(n_viewers):
        batch.set(col.document(f"v{i:03d}"), {"token": f"wv{i:03d}", "created": old + dt.timedelta(seconds=i)})
    batch.set(col.document("0-late"), {"token": "wv-late", "created": now_utc()})  # sorts first by ID
    batch.set(col.document("0-undated"), {"token": "wv-undated"})  # never from a browser
    batch.commit()
    viewer(ref.collection("subscribers"), "t-session-viewer", created=old)
    [res] = notify.handle_update(fdb, sid, session_data(), after, APP_URL)
    [tokens] = fcm.tokens
    assert tokens == ([f"wo{i:03d}" for i in range(audience.WORKSPACE_MAX_OWNERS)] + ["t-session-viewer"]
                      + [f"wv{i:03d}" for i in range(audience.WORKSPACE_MAX_VIEWERS)])
    assert res.outcome == "sent"


def test_rejected_tokens_are_removed_where_they_live(fdb, fcm):
    after = session_data(status="finished")
    sid, wid, ref = session_in_workspace(fdb, after)
    both_s = viewer(ref.collection("subscribers"), "t-gone-both")
    both_w = viewer(ws_subs(fdb, wid), "t-gone-both")
    ws_bad = owner(ws_subs(fdb, wid), "t-bad")
    keep = viewer(ws_subs(fdb, wid), "t-busy")
    fcm.errors["t-gone-both"] = messaging.UnregisteredError("Requested entity was not found.")
    fcm.errors["t-bad"] = fb_exceptions.InvalidArgumentError("The registration token is not valid")
    fcm.errors["t-busy"] = fb_exceptions.UnavailableError("FCM is overloaded")
    [res] = notify.handle_update(fdb, sid, session_data(), after, APP_URL)
    assert sorted(res.send.removed) == sorted([both_s, "w/" + both_w, "w/" + ws_bad])
    assert ids(fdb, ref.collection("subscribers")) == []
    assert ids(fdb, ws_subs(fdb, wid)) == [keep]
    assert res.outcome == "retry" and res.send.pending == ["w/" + keep]
    marker = notified(fdb, sid)["finished"]
    assert marker["state"] == "retry" and marker["removed"] == 3 and marker["pending"] == 1


def test_a_failed_workspace_send_is_retried_for_the_workspace_subscriber_only(fdb, fcm, functions_main):
    """Through the trigger as Firestore delivers it, then the scheduled retry."""
    from firebase_functions import scheduler_fn

    before, after = session_data(), session_data(status="stalled")
    sid, wid, ref = session_in_workspace(fdb, after)
    viewer(ref.collection("subscribers"), "t-session")
    w_id = viewer(ws_subs(fdb, wid), "t-ws")
    fcm.errors["t-ws"] = fb_exceptions.InternalError("FCM internal error")
    with pytest.raises(notify.RetryLater):
        functions_main.notifysession(document_updated(PROJECT, sid, before, after))
    fcm.errors.clear()
    handler = functions_main.retrynotify.__wrapped__
    [(got, res)] = handler(scheduler_fn.ScheduledEvent(job_name=None, schedule_time=now_utc()))
    assert (got, res.event, res.outcome) == (sid, "stalled", "sent")
    assert fcm.tokens == [["t-session", "t-ws"], ["t-ws"]]
    assert "w/" + w_id in notified(fdb, sid)["stalled"]["delivered"]


def test_a_whole_failed_send_leaves_every_subscription_pending(fdb, mocker):
    after = session_data(status="finished")
    sid, wid, ref = session_in_workspace(fdb, after)
    viewer(ref.collection("subscribers"), "t-both")
    viewer(ws_subs(fdb, wid), "t-both")
    viewer(ws_subs(fdb, wid), "t-ws")
    fake = FakeFcm()
    send = mocker.patch("firebase_admin.messaging.send_each_for_multicast",
                        side_effect=ConnectionError("no network"))
    [res] = notify.handle_update(fdb, sid, session_data(), after, APP_URL)
    marker = notified(fdb, sid)["finished"]
    # Two devices, three subscriptions: what emulator_suite_scenario.py checks on real triggers.
    assert res.outcome == "retry" and marker["tokens"] == 2 and marker["pending"] == 3
    assert marker["delivered"] == [] and marker["reached"] == []
    send.side_effect = fake
    assert notify.handle_update(fdb, sid, session_data(), after, APP_URL)[0].outcome == "sent"
    assert fake.tokens == [["t-both", "t-ws"]]
