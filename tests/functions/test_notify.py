"""Notifications: the Firestore side runs on the emulator; only FCM (firebase_admin.messaging) is mocked."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from firebase_admin import exceptions as fb_exceptions
from firebase_admin import messaging

from tfw_functions import audience, config, notify

from .support import document_updated, new_sid, now_utc

PROJECT = "demo-tfwatcher"
APP_URL = f"https://{PROJECT}.web.app"


class FakeFcm:
    """Stands in for send_each_for_multicast: records messages, answers per token."""

    def __init__(self):
        self.messages: list[messaging.MulticastMessage] = []
        self.errors: dict[str, Exception] = {}

    def __call__(self, message, dry_run=False, app=None):
        self.messages.append(message)
        responses = []
        for i, token in enumerate(message.tokens):
            err = self.errors.get(token)
            resp = None if err else {"name": f"projects/{PROJECT}/messages/{len(self.messages)}-{i}"}
            responses.append(messaging.SendResponse(resp, err))
        return messaging.BatchResponse(responses)

    @property
    def tokens(self) -> list[list[str]]:
        return [list(m.tokens) for m in self.messages]


@pytest.fixture
def fcm(mocker):
    fake = FakeFcm()
    mocker.patch("firebase_admin.messaging.send_each_for_multicast", side_effect=fake)
    mocker.patch("firebase_admin.messaging.send_each",
                 side_effect=AssertionError("use send_each_for_multicast"))
    return fake


def session_data(**over) -> dict:
    data = {
        "schema": 1, "status": "running", "mode": "fit", "name": "mnist-cnn",
        "created": now_utc() - dt.timedelta(hours=1), "heartbeat": now_utc(),
        "plan": {"epochs": 10, "steps": 100}, "progress": {"epoch": 5, "batch": 100, "step": 500},
        "metrics": ["loss"], "latest": [{"name": "loss", "value": 0.25}], "error": None,
        "nan": False,
    }
    data.update(over)
    return data


def seed(db, sid, data, tokens=()):
    ref = db.collection("sessions").document(sid)
    ref.set(data)
    for i, token in enumerate(tokens):
        ref.collection("subscribers").document(f"sub{i}").set(
            {"token": token, "created": now_utc(), "kind": "fcm"})
    return ref


def subscriber_ids(db, sid):
    return sorted(s.id for s in db.collection("sessions").document(sid)
                  .collection("subscribers").stream())


def notified(db, sid):
    return {s.id: s.to_dict() for s in db.collection("sessions").document(sid)
            .collection("notified").stream()}


# ------------------------------------------------------------------ pure: which events

@pytest.mark.parametrize("before, after, expected", [
    ({"status": "running"}, {"status": "finished"}, ["finished"]),
    ({"status": "running"}, {"status": "crashed"}, ["crashed"]),
    ({"status": "running"}, {"status": "stalled"}, ["stalled"]),
    ({"status": "stalled"}, {"status": "finished"}, ["finished"]),
    ({"status": "running"}, {"status": "running"}, []),
    ({"status": "finished"}, {"status": "finished"}, []),
    ({"status": "running"}, {"status": "stopped"}, []),
    ({"status": "running", "nan": False}, {"status": "running", "nan": True}, ["nan"]),
    ({"status": "running"}, {"status": "running", "nan": True}, ["nan"]),
    ({"status": "running", "nan": True}, {"status": "running", "nan": True}, []),
    ({"status": "running", "nan": False}, {"status": "crashed", "nan": True}, ["nan", "crashed"]),
    ({"status": "running"}, None, []),
    (None, {"status": "finished"}, ["finished"]),
])
def test_transitions(before, after, expected):
    assert notify.transitions(before, after) == expected


def test_text_of_each_event():
    sid = "abc2345"
    s = session_data(status="crashed", error={"type": "ValueError", "message": "boom"})
    assert notify.title_for("finished", s) == "Training finished"
    assert notify.title_for("crashed", s) == "Training crashed: ValueError"
    assert notify.title_for("crashed", session_data(error=None)) == "Training crashed"
    assert notify.title_for("stalled", s) == "Training stalled"
    assert notify.title_for("nan", s) == "Loss is NaN"
    assert notify.body_for(sid, s) == "mnist-cnn (abc2345) · epoch 5/10"
    assert notify.body_for(sid, session_data(name="", plan={"epochs": None})) == \
        "Session abc2345 · epoch 5"
    assert notify.body_for(sid, {}) == "Session abc2345"
    long = notify.title_for("crashed", session_data(error={"type": "E" * 500}))
    assert len(long) <= notify.TITLE_MAX


def test_app_url_config():
    assert config.app_url("", PROJECT) == APP_URL
    assert config.app_url(None, PROJECT) == APP_URL
    assert config.app_url("https://watch.example.org/", PROJECT) == "https://watch.example.org"
    assert config.app_url("watch.example.org", PROJECT) == "https://watch.example.org"
    with pytest.raises(ValueError):
        config.app_url("", None)
    assert notify.session_link(APP_URL, "abc2345") == f"{APP_URL}/s/abc2345"


# ------------------------------------------------------------------ helpers on the emulator

@pytest.mark.filterwarnings("ignore:Message.token is deprecated:DeprecationWarning")
def test_finished_sends_one_push_with_title_link_and_tokens(fdb, fcm):
    sid = new_sid()
    after = session_data(status="finished")
    seed(fdb, sid, after, tokens=["tok-a", "tok-b"])
    results = notify.handle_update(fdb, sid, session_data(), after, APP_URL)

    assert [(r.event, r.outcome) for r in results] == [("finished", "sent")]
    assert fcm.tokens == [["tok-a", "tok-b"]]
    msg = fcm.messages[0]
    link = f"{APP_URL}/s/{sid}"
    assert msg.notification.title == "Training finished"
    assert msg.notification.body == f"mnist-cnn ({sid}) · epoch 5/10"
    assert msg.webpush.notification.title == "Training finished"
    assert msg.webpush.fcm_options.link == link
    assert msg.data == {"sid": sid, "event": "finished", "link": link}
    assert msg.webpush.data == msg.data
    assert results[0].send.sent == 2 and results[0].send.failed == 0
    marker = notified(fdb, sid)["finished"]
    assert marker["event"] == "finished" and marker["sent"] == 2 and marker["tokens"] == 2
    assert marker["state"] == "sent" and marker["attempts"] == 1 and marker["pending"] == 0
    assert marker["delivered"] == ["sub0", "sub1"]
    assert isinstance(marker["at"], dt.datetime)
    # The message really encodes for FCM's v1 API (validation happens at encode time).
    encoded = messaging._MessagingService.encode_message(
        messaging.Message(token="tok-a", notification=msg.notification,
                          webpush=msg.webpush, data=msg.data))
    assert encoded["webpush"]["fcm_options"]["link"] == link
    assert encoded["webpush"]["notification"]["title"] == "Training finished"


@pytest.mark.parametrize("after, event, title", [
    (dict(status="crashed", error={"type": "ValueError", "message": "bad shape"}),
     "crashed", "Training crashed: ValueError"),
    (dict(status="stalled"), "stalled", "Training stalled"),
    (dict(nan=True, latest=[{"name": "loss", "value": float("nan")}]), "nan", "Loss is NaN"),
])
def test_each_event_title(fdb, fcm, after, event, title):
    sid = new_sid()
    data = session_data(**after)
    seed(fdb, sid, data, tokens=["tok-a"])
    results = notify.handle_update(fdb, sid, session_data(), data, APP_URL)
    assert [(r.event, r.outcome) for r in results] == [(event, "sent")]
    assert len(fcm.messages) == 1
    msg = fcm.messages[0]
    assert msg.notification.title == title
    assert msg.data["event"] == event and msg.data["sid"] == sid
    assert set(notified(fdb, sid)) == {event}


def test_nan_and_crash_in_one_update_send_two(fdb, fcm):
    sid = new_sid()
    after = session_data(status="crashed", nan=True, error={"type": "FloatingPointError"})
    seed(fdb, sid, after, tokens=["tok-a"])
    results = notify.handle_update(fdb, sid, session_data(), after, APP_URL)
    assert [(r.event, r.outcome) for r in results] == [("nan", "sent"), ("crashed", "sent")]
    assert [m.notification.title for m in fcm.messages] == [
        "Loss is NaN", "Training crashed: FloatingPointError"]
    assert set(notified(fdb, sid)) == {"nan", "crashed"}


def test_same_transition_twice_sends_once(fdb, fcm):
    sid = new_sid()
    after = session_data(status="finished")
    seed(fdb, sid, after, tokens=["tok-a"])
    first = notify.handle_update(fdb, sid, session_data(), after, APP_URL)
    second = notify.handle_update(fdb, sid, session_data(), after, APP_URL)
    assert [r.outcome for r in first] == ["sent"]
    assert [r.outcome for r in second] == ["duplicate"]
    assert len(fcm.messages) == 1
    # A later NaN is a different event and still goes out, once.
    nan_after = dict(after, nan=True)
    notify.handle_update(fdb, sid, after, nan_after, APP_URL)
    notify.handle_update(fdb, sid, after, nan_after, APP_URL)
    assert [m.data["event"] for m in fcm.messages] == ["finished", "nan"]


def test_no_send_on_non_transitions(fdb, fcm):
    sid = new_sid()
    seed(fdb, sid, session_data(), tokens=["tok-a"])
    assert notify.handle_update(fdb, sid, session_data(), session_data(heartbeat=now_utc()),
                                APP_URL) == []
    fin = session_data(status="finished")
    assert notify.handle_update(fdb, sid, fin, dict(fin, heartbeat=now_utc()), APP_URL) == []
    nan = session_data(nan=True)
    assert notify.handle_update(fdb, sid, nan, dict(nan, progress={"epoch": 6}), APP_URL) == []
    assert notify.handle_update(fdb, sid, session_data(), session_data(status="stopped"),
                                APP_URL) == []
    assert fcm.messages == []
    assert notified(fdb, sid) == {}


def test_unregistered_token_is_deleted_others_kept(fdb, fcm):
    sid = new_sid()
    after = session_data(status="finished")
    seed(fdb, sid, after, tokens=["tok-ok", "tok-gone", "tok-busy"])  # sub0, sub1, sub2
    fcm.errors["tok-gone"] = messaging.UnregisteredError("Requested entity was not found.")
    fcm.errors["tok-busy"] = fb_exceptions.UnavailableError("FCM is overloaded")  # transient
    [res] = notify.handle_update(fdb, sid, session_data(), after, APP_URL)
    assert res.send.sent == 1 and res.send.failed == 2
    assert res.send.removed == ["sub1"]
    assert subscriber_ids(fdb, sid) == ["sub0", "sub2"]
    marker = notified(fdb, sid)["finished"]
    assert marker["removed"] == 1
    # The transient failure is pending: the event is to be tried again, for sub2 only.
    assert res.outcome == "retry" and res.send.pending == ["sub2"]
    assert marker["state"] == "retry" and marker["delivered"] == ["sub0"]
    assert "UnavailableError: FCM is overloaded" in marker["error"]
    del fcm.errors["tok-busy"]
    [again] = notify.handle_update(fdb, sid, session_data(), after, APP_URL)
    assert again.outcome == "sent"
    assert fcm.tokens == [["tok-ok", "tok-gone", "tok-busy"], ["tok-busy"]]
    marker = notified(fdb, sid)["finished"]
    assert marker["state"] == "sent" and marker["delivered"] == ["sub0", "sub2"]
    assert marker["attempts"] == 2


def test_invalid_token_is_deleted_but_not_payload_errors(fdb, fcm):
    sid = new_sid()
    after = session_data(status="stalled")
    seed(fdb, sid, after, tokens=["tok-bad", "tok-dup", "tok-mismatch", "tok-dup", "tok-ok"])
    fcm.errors["tok-bad"] = fb_exceptions.InvalidArgumentError(
        "The registration token is not a valid FCM registration token")
    fcm.errors["tok-mismatch"] = messaging.SenderIdMismatchError("SenderId mismatch")
    fcm.errors["tok-dup"] = messaging.UnregisteredError("Requested entity was not found.")
    fcm.errors["tok-ok"] = fb_exceptions.InvalidArgumentError("Invalid JSON payload received.")
    [res] = notify.handle_update(fdb, sid, session_data(), after, APP_URL)
    # The duplicated token is sent to once, and both of its subscriptions go.
    assert fcm.tokens == [["tok-bad", "tok-dup", "tok-mismatch", "tok-ok"]]
    assert sorted(res.send.removed) == ["sub0", "sub1", "sub2", "sub3"]
    assert subscriber_ids(fdb, sid) == ["sub4"]
    # A payload error is not the token's fault: kept, and tried again later.
    assert res.outcome == "retry" and res.send.pending == ["sub4"]


def test_no_subscribers_marks_without_sending(fdb, fcm):
    sid = new_sid()
    after = session_data(status="finished")
    seed(fdb, sid, after)
    [res] = notify.handle_update(fdb, sid, session_data(), after, APP_URL)
    assert res.outcome == "no_subscribers"
    assert fcm.messages == []
    assert notified(fdb, sid)["finished"]["sent"] == 0


def add_subscribers(db, ref, n, created=None):
    """`n` subscribers s000.. with tokens t000.., created one second apart (oldest first)."""
    start = created or now_utc() - dt.timedelta(hours=1)
    batch = db.batch()
    for i in range(n):
        if i and i % 400 == 0:
            batch.commit()
            batch = db.batch()
        batch.set(ref.collection("subscribers").document(f"s{i:03d}"),
                  {"token": f"t{i:03d}", "kind": "fcm", "created": start + dt.timedelta(seconds=i)})
    batch.commit()


def test_more_than_500_tokens_go_in_batches(fdb, fcm, monkeypatch):
    monkeypatch.setattr(audience, "MAX_SUBSCRIBERS", 1000)  # batching needs more than the cap
    sid = new_sid()
    after = session_data(status="finished")
    ref = seed(fdb, sid, after)
    add_subscribers(fdb, ref, 501)
    [res] = notify.handle_update(fdb, sid, session_data(), after, APP_URL)
    assert [len(t) for t in fcm.tokens] == [500, 1]
    assert res.send.sent == 501


def test_at_most_50_subscribers_the_oldest(fdb, fcm):
    """Anyone with a share link can subscribe: one notification reaches 50 subscribers at most,
    the 50 oldest by `created` (the owner, who subscribes first, is among them)."""
    assert notify.MAX_SUBSCRIBERS == 50
    sid = new_sid()
    after = session_data(status="finished")
    ref = seed(fdb, sid, after)
    add_subscribers(fdb, ref, 80)
    # A late subscriber whose ID sorts first, and one written without `created` (not from a
    # browser: the rules require it): neither is among the 50 oldest.
    ref.collection("subscribers").document("a-late").set(
        {"token": "t-late", "kind": "fcm", "created": now_utc()})
    ref.collection("subscribers").document("a-undated").set({"token": "t-undated", "kind": "fcm"})
    [res] = notify.handle_update(fdb, sid, session_data(), after, APP_URL)
    assert fcm.tokens == [[f"t{i:03d}" for i in range(50)]]
    assert res.send.tokens == res.send.sent == 50
    assert notified(fdb, sid)["finished"]["tokens"] == 50


def test_cap_counts_subscriptions_before_token_duplicates(fdb, fcm):
    """The cap is on subscriber documents read; duplicates among them are sent to once."""
    sid = new_sid()
    after = session_data(status="finished")
    ref = seed(fdb, sid, after)
    add_subscribers(fdb, ref, 60)
    old = now_utc() - dt.timedelta(days=1)
    for i in range(3):  # three older subscriptions of one device
        ref.collection("subscribers").document(f"dup{i}").set(
            {"token": "t-dup", "kind": "fcm", "created": old + dt.timedelta(seconds=i)})
    [res] = notify.handle_update(fdb, sid, session_data(), after, APP_URL)
    assert fcm.tokens == [["t-dup"] + [f"t{i:03d}" for i in range(47)]]
    assert res.send.tokens == 48


def test_http_app_url_keeps_link_in_data_only():
    note = notify.build_note("finished", "abc2345", session_data(), "http://192.168.1.5:8080")
    msg = notify.build_message(note, ["tok"])
    assert msg.webpush.fcm_options is None
    assert msg.data["link"] == "http://192.168.1.5:8080/s/abc2345"


# ------------------------------------------------------------------ owner first, never crowded out

def add_owner(db, ref, token, key="owner-key", created=None):
    """An owner subscription as the dashboard creates it: `o-` + sha256(key:token)."""
    doc_id = "o-" + hashlib.sha256(f"{key}:{token}".encode()).hexdigest()
    ref.collection("subscribers").document(doc_id).set(
        {"token": token, "kind": "fcm", "created": created or now_utc()})
    return doc_id


def test_owner_subscribed_last_is_notified_despite_a_flood(fdb, fcm):
    """Issue 12: viewers' subscriptions (here 80, more than the rules now allow, as an old
    session may hold) must not make the owner, who subscribed last, miss the notification."""
    sid = new_sid()
    after = session_data(status="finished")
    ref = seed(fdb, sid, after)
    add_subscribers(fdb, ref, 80)
    owner = add_owner(fdb, ref, "t-owner-phone")
    laptop = add_owner(fdb, ref, "t-owner-laptop", created=now_utc() + dt.timedelta(seconds=5))
    [res] = notify.handle_update(fdb, sid, session_data(), after, APP_URL)
    [tokens] = fcm.tokens
    assert sorted(tokens[:2]) == ["t-owner-laptop", "t-owner-phone"], "owners go first"
    assert tokens[2:] == [f"t{i:03d}" for i in range(notify.MAX_SUBSCRIBERS)]
    assert {owner, laptop} <= set(notified(fdb, sid)["finished"]["delivered"])
    assert res.outcome == "sent"


def test_viewer_ids_that_sort_after_o_are_viewers(fdb):
    """Only IDs starting with "o-" are owner subscriptions (viewers' are hex SHA-256)."""
    sid = new_sid()
    ref = seed(fdb, sid, session_data())
    for doc_id, token in [("o-abc", "t-owner"), ("o", "t-o"), ("oa", "t-oa"), ("p1", "t-p"),
                          ("ff" * 32, "t-hex")]:
        ref.collection("subscribers").document(doc_id).set(
            {"token": token, "kind": "fcm", "created": now_utc()})
    subs = notify.subscribers(fdb, sid)
    assert subs[0] == ("o-abc", "t-owner")
    assert sorted(subs[1:]) == sorted([("o", "t-o"), ("oa", "t-oa"), ("p1", "t-p"),
                                       ("ff" * 32, "t-hex")])


def test_owner_failure_is_retried_even_when_viewers_got_it(fdb, fcm):
    """One viewer reached is not enough: the owner's push failed, so the event is retried
    for the owner only, and the viewer is not notified twice."""
    sid = new_sid()
    after = session_data(status="crashed", error={"type": "ValueError"})
    ref = seed(fdb, sid, after, tokens=["t-viewer"])
    owner = add_owner(fdb, ref, "t-owner")
    fcm.errors["t-owner"] = fb_exceptions.InternalError("FCM internal error")
    [res] = notify.handle_update(fdb, sid, session_data(), after, APP_URL)
    assert res.outcome == "retry" and res.send.delivered == ["sub0"] and res.send.pending == [owner]
    fcm.errors.clear()
    [res] = notify.handle_update(fdb, sid, session_data(), after, APP_URL)
    assert res.outcome == "sent"
    assert fcm.tokens == [["t-owner", "t-viewer"], ["t-owner"]]
    assert notified(fdb, sid)["crashed"]["delivered"] == sorted([owner, "sub0"])
    assert notify.handle_update(fdb, sid, session_data(), after, APP_URL)[0].outcome == "duplicate"
    assert len(fcm.messages) == 2


# ------------------------------------------------------------------ a failed send is not burnt

@pytest.mark.parametrize("error", [
    fb_exceptions.UnavailableError("FCM is down"),
    fb_exceptions.UnauthenticatedError("no credentials"),
    ConnectionError("no network"),
])
def test_failed_send_is_retried_not_burnt(fdb, mocker, error):
    """Before issue 12 the marker was written before sending, so this notification was lost."""
    sid = new_sid()
    after = session_data(status="finished")
    seed(fdb, sid, after, tokens=["tok-a", "tok-b"])
    fake = FakeFcm()
    send = mocker.patch("firebase_admin.messaging.send_each_for_multicast", side_effect=error)
    [res] = notify.handle_update(fdb, sid, session_data(), after, APP_URL)
    assert res.outcome == "retry" and res.send.sent == 0
    assert sorted(res.send.pending) == ["sub0", "sub1"]
    marker = notified(fdb, sid)["finished"]
    assert marker["state"] == "retry" and marker["delivered"] == [] and marker["pending"] == 2
    assert type(error).__name__ in marker["error"]
    # The next delivery of the same event (FCM reachable again) sends it, once.
    send.side_effect = fake
    [res] = notify.handle_update(fdb, sid, session_data(), after, APP_URL)
    assert res.outcome == "sent"
    assert fake.tokens == [["tok-a", "tok-b"]]
    assert notified(fdb, sid)["finished"]["state"] == "sent"
    assert notify.handle_update(fdb, sid, session_data(), after, APP_URL)[0].outcome == "duplicate"
    assert send.call_count == 2


def test_an_attempt_in_progress_is_left_alone_until_its_lease_ends(fdb, fcm):
    sid = new_sid()
    after = session_data(status="finished")
    seed(fdb, sid, after, tokens=["tok-a"])
    now = now_utc()
    marker = fdb.collection("sessions").document(sid).collection("notified").document("finished")
    marker.set({"schema": 1, "event": "finished", "state": "sending", "attempts": 1,
                "first_at": now, "lease_until": now + dt.timedelta(seconds=60), "delivered": []})
    assert notify.handle_update(fdb, sid, session_data(), after, APP_URL)[0].outcome == "in_progress"
    assert fcm.messages == []
    # The other attempt died (its instance was killed): after the lease, this one takes over.
    later = now + notify.LEASE + dt.timedelta(seconds=61)
    assert notify.handle_update(fdb, sid, session_data(), after, APP_URL, now=later)[0].outcome == "sent"
    assert fcm.tokens == [["tok-a"]]
    assert notified(fdb, sid)["finished"]["attempts"] == 2


def test_retries_stop_after_max_attempts_or_too_long(fdb, mocker):
    sid = new_sid()
    after = session_data(status="stalled")
    seed(fdb, sid, after, tokens=["tok-a"])
    send = mocker.patch("firebase_admin.messaging.send_each_for_multicast",
                        side_effect=fb_exceptions.UnavailableError("down"))
    for _ in range(notify.MAX_ATTEMPTS):
        assert notify.handle_update(fdb, sid, session_data(), after, APP_URL)[0].outcome == "retry"
    assert notify.handle_update(fdb, sid, session_data(), after, APP_URL)[0].outcome == "gave_up"
    assert notify.handle_update(fdb, sid, session_data(), after, APP_URL)[0].outcome == "duplicate"
    assert send.call_count == notify.MAX_ATTEMPTS
    assert notified(fdb, sid)["stalled"]["state"] == "gave_up"

    sid = new_sid()
    seed(fdb, sid, after, tokens=["tok-a"])
    assert notify.handle_update(fdb, sid, session_data(), after, APP_URL)[0].outcome == "retry"
    much_later = now_utc() + notify.GIVE_UP_AFTER + dt.timedelta(minutes=1)
    assert notify.handle_update(fdb, sid, session_data(), after, APP_URL,
                                now=much_later)[0].outcome == "gave_up"


def test_a_marker_of_the_older_version_counts_as_sent(fdb, fcm):
    sid = new_sid()
    after = session_data(status="finished")
    ref = seed(fdb, sid, after, tokens=["tok-a"])
    ref.collection("notified").document("finished").set(
        {"schema": 1, "event": "finished", "at": now_utc(), "tokens": 1, "sent": 1})
    assert notify.handle_update(fdb, sid, session_data(), after, APP_URL)[0].outcome == "duplicate"
    assert fcm.messages == []


def test_retry_pending_sends_what_failed_across_sessions(fdb, fcm):
    """The scheduled retry: markers in `retry` (any session) are sent to the subscribers not
    reached yet; `sent`, `gave_up` and held markers are left alone."""
    a, b, c = new_sid(), new_sid(), new_sid()
    fin = session_data(status="finished")
    seed(fdb, a, fin, tokens=["tok-a1", "tok-a2"])
    seed(fdb, b, session_data(status="crashed", error={"type": "OSError"}), tokens=["tok-b"])
    seed(fdb, c, fin, tokens=["tok-c"])
    fcm.errors["tok-a2"] = fb_exceptions.UnavailableError("down")
    fcm.errors["tok-b"] = fb_exceptions.UnavailableError("down")
    assert notify.handle_update(fdb, a, session_data(), fin, APP_URL)[0].outcome == "retry"
    crashed = session_data(status="crashed", error={"type": "OSError"})
    assert notify.handle_update(fdb, b, session_data(), crashed, APP_URL)[0].outcome == "retry"
    assert notify.handle_update(fdb, c, session_data(), fin, APP_URL)[0].outcome == "sent"
    fcm.messages.clear()
    fcm.errors.clear()
    done = notify.retry_pending(fdb, APP_URL)
    assert sorted((sid, r.event, r.outcome) for sid, r in done) == sorted(
        [(a, "finished", "sent"), (b, "crashed", "sent")])
    assert sorted(map(tuple, fcm.tokens)) == [("tok-a2",), ("tok-b",)]
    crash_msg = next(m for m in fcm.messages if m.data["sid"] == b)
    assert crash_msg.notification.title == "Training crashed: OSError"
    assert notify.retry_pending(fdb, APP_URL) == []
    assert len(fcm.messages) == 2


def test_scheduled_retry_trigger(fdb, fcm, functions_main, monkeypatch):
    from firebase_functions import scheduler_fn

    monkeypatch.delenv("TFWATCHER_APP_URL", raising=False)
    sid = new_sid()
    after = session_data(status="stalled")
    seed(fdb, sid, after, tokens=["tok-a"])
    fcm.errors["tok-a"] = fb_exceptions.UnavailableError("down")
    with pytest.raises(notify.RetryLater):
        functions_main.notifysession(document_updated(PROJECT, sid, session_data(), after))
    fcm.errors.clear()
    handler = functions_main.retrynotify.__wrapped__
    [(got_sid, res)] = handler(scheduler_fn.ScheduledEvent(job_name=None, schedule_time=now_utc()))
    assert (got_sid, res.event, res.outcome) == (sid, "stalled", "sent")
    assert fcm.tokens == [["tok-a"], ["tok-a"]]
    assert fcm.messages[1].webpush.fcm_options.link == f"{APP_URL}/s/{sid}"
    assert notified(fdb, sid)["stalled"]["state"] == "sent"


# ------------------------------------------------------------------ the trigger itself

def test_trigger_parses_a_raw_firestore_event(fdb, fcm, functions_main, monkeypatch):
    monkeypatch.delenv("TFWATCHER_APP_URL", raising=False)
    sid = new_sid()
    before = session_data()
    after = session_data(status="finished")
    seed(fdb, sid, after, tokens=["tok-a"])
    raw = document_updated(PROJECT, sid, before, after)
    functions_main.notifysession(raw)
    assert fcm.tokens == [["tok-a"]]
    assert fcm.messages[0].webpush.fcm_options.link == f"{APP_URL}/s/{sid}"
    # The same event delivered again (at-least-once delivery) sends nothing more.
    functions_main.notifysession(raw)
    functions_main.notifysession(document_updated(PROJECT, sid, before, after))
    assert len(fcm.messages) == 1


def test_trigger_raises_for_a_retry_and_the_redelivery_sends(fdb, fcm, functions_main):
    """A failed send makes the trigger fail (Cloud Functions, with retry=True, delivers the
    event again); the redelivered event sends to whoever was not reached, and then nothing."""
    sid = new_sid()
    before = session_data()
    after = session_data(status="finished")
    ref = seed(fdb, sid, after, tokens=["tok-a"])
    add_owner(fdb, ref, "tok-owner")
    fcm.errors["tok-owner"] = fb_exceptions.UnavailableError("FCM is down")
    raw = document_updated(PROJECT, sid, before, after)
    with pytest.raises(notify.RetryLater, match="finished"):
        functions_main.notifysession(raw)
    fcm.errors.clear()
    functions_main.notifysession(raw)
    functions_main.notifysession(raw)
    assert fcm.tokens == [["tok-owner", "tok-a"], ["tok-owner"]]
    assert notified(fdb, sid)["finished"]["state"] == "sent"


def test_trigger_uses_configured_app_url(fdb, fcm, functions_main, monkeypatch):
    monkeypatch.setenv("TFWATCHER_APP_URL", "https://watch.example.org/")
    sid = new_sid()
    after = session_data(status="crashed", error={"type": "ValueError", "message": "x"})
    seed(fdb, sid, after, tokens=["tok-a"])
    functions_main.notifysession(document_updated(PROJECT, sid, session_data(), after))
    [msg] = fcm.messages
    assert msg.notification.title == "Training crashed: ValueError"
    assert msg.webpush.fcm_options.link == f"https://watch.example.org/s/{sid}"


def test_trigger_ignores_heartbeats_and_repeats(fdb, fcm, functions_main, mocker):
    spy = mocker.spy(functions_main.notify, "notify_events")
    sid = new_sid()
    seed(fdb, sid, session_data(), tokens=["tok-a"])
    functions_main.notifysession(document_updated(
        PROJECT, sid, session_data(), session_data(progress={"epoch": 6, "batch": 1, "step": 501})))
    fin = session_data(status="finished")
    functions_main.notifysession(document_updated(PROJECT, sid, fin, fin))
    assert spy.call_count == 0  # returned before touching Firestore
    assert fcm.messages == []
    assert notified(fdb, sid) == {}


def test_trigger_nan_event(fdb, fcm, functions_main):
    sid = new_sid()
    after = session_data(nan=True)
    seed(fdb, sid, after, tokens=["tok-a", "tok-b"])
    functions_main.notifysession(document_updated(PROJECT, sid, session_data(), after))
    [msg] = fcm.messages
    assert msg.notification.title == "Loss is NaN"
    assert sorted(msg.tokens) == ["tok-a", "tok-b"]
    assert msg.data == {"sid": sid, "event": "nan", "link": f"{APP_URL}/s/{sid}"}


def test_trigger_returns_early_without_data(functions_main, fcm):
    from firebase_functions import firestore_fn

    handler = functions_main.notifysession.__wrapped__

    empty = firestore_fn.Event(
        specversion="1.0", id="x", source="s", type="t", time=now_utc(), subject="documents/x",
        location="nam5", project=PROJECT, database="(default)", namespace="(default)",
        document="sessions/abc2345", params={"sid": "abc2345"}, data=None)
    assert handler(empty) is None
    assert fcm.messages == []


# ------------------------------------------------------------------ owner flood (issue 20, item 7)

def owner_token_sorting(prefix_ok, key="owner-key", start=0):
    """A token whose owner subscription ID (o-{sha256(key:token)}) passes `prefix_ok`."""
    i = start
    while True:
        token = f"t-flood-{i}"
        digest = hashlib.sha256(f"{key}:{token}".encode()).hexdigest()
        if prefix_ok(digest):
            return token, i + 1
        i += 1


def test_owner_tokens_chosen_to_sort_first_cannot_push_the_owner_out(fdb, fcm):
    """Whoever holds a leaked key while the run is live adds owner subscriptions whose IDs
    sort first (before: the notifier took the first 20 by ID, and the owner's phone, whose ID
    sorts last, was left out). The oldest owner subscriptions are the ones sent to."""
    sid = new_sid()
    after = session_data(status="finished")
    ref = seed(fdb, sid, after)
    phone, _ = owner_token_sorting(lambda d: d.startswith("f"))
    mine = add_owner(fdb, ref, phone, created=now_utc() - dt.timedelta(minutes=30))
    flood, i = [], 0
    for n in range(notify.MAX_OWNER_SUBSCRIBERS + 5):  # more than the cap, as an old session may hold
        token, i = owner_token_sorting(lambda d: d < "e", start=i)
        flood.append(token)
        add_owner(fdb, ref, token, created=now_utc() + dt.timedelta(seconds=n))
    [res] = notify.handle_update(fdb, sid, session_data(), after, APP_URL)
    [tokens] = fcm.tokens
    assert tokens[0] == phone, "the owner's own, oldest, subscription is sent to first"
    assert tokens == [phone] + flood[:notify.MAX_OWNER_SUBSCRIBERS - 1]
    assert mine in notified(fdb, sid)["finished"]["delivered"] and res.outcome == "sent"


def test_every_owner_subscription_within_the_cap_is_sent_to(fdb, fcm):
    sid = new_sid()
    after = session_data(status="finished")
    ref = seed(fdb, sid, after, tokens=["t-viewer"])
    owners = [f"t-owner-device-{n}" for n in range(notify.MAX_OWNER_SUBSCRIBERS)]
    for n, token in enumerate(owners):
        add_owner(fdb, ref, token, created=now_utc() + dt.timedelta(seconds=n))
    [res] = notify.handle_update(fdb, sid, session_data(), after, APP_URL)
    [tokens] = fcm.tokens
    assert tokens == owners + ["t-viewer"]
    assert res.send.sent == notify.MAX_OWNER_SUBSCRIBERS + 1
