"""Notifications: the Firestore side runs on the emulator; only FCM (firebase_admin.messaging) is mocked."""

from __future__ import annotations

import datetime as dt

import pytest
from firebase_admin import exceptions as fb_exceptions
from firebase_admin import messaging

from tfw_functions import config, notify

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
    assert notified(fdb, sid)["finished"]["removed"] == 1


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
    monkeypatch.setattr(notify, "MAX_SUBSCRIBERS", 1000)  # batching needs more than the cap
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


def test_send_failure_is_recorded_and_not_retried(fdb, mocker):
    sid = new_sid()
    after = session_data(status="finished")
    seed(fdb, sid, after, tokens=["tok-a"])
    send = mocker.patch("firebase_admin.messaging.send_each_for_multicast",
                        side_effect=fb_exceptions.UnauthenticatedError("no credentials"))
    with pytest.raises(fb_exceptions.UnauthenticatedError):
        notify.handle_update(fdb, sid, session_data(), after, APP_URL)
    assert "UnauthenticatedError" in notified(fdb, sid)["finished"]["error"]
    assert notify.handle_update(fdb, sid, session_data(), after, APP_URL)[0].outcome == "duplicate"
    assert send.call_count == 1


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
