"""TF Watcher's Cloud Functions (deploy with `firebase deploy --only functions`).

Thin triggers only: each parses its event and calls a helper in `tfw_functions`, which
takes a Firestore client and plain values. See docs/notifications.md.

- `notifysession`: on every update of `sessions/{sid}`, a web push to the session's
  subscribers, and to its workspace's when it belongs to one, when it finishes, crashes,
  stalls or its loss turns NaN (once per event and device). When a send fails for a reason that may pass, the notification is left in
  `state: retry` and the function raises `RetryLater` (an error in the logs).
- `retrynotify`: every 5 minutes, sends the notifications a failed send left to retry, to the
  subscribers not reached yet (docs/notifications.md).
- `sweepstalled`: every 5 minutes, `running` sessions without a heartbeat for
  TFWATCHER_STALL_MINUTES become `stalled`.
- `purgeexpired`: daily, sessions inactive for TFWATCHER_RETENTION_DAYS are deleted with
  all their subcollections.
"""

from __future__ import annotations

import firebase_admin
from firebase_functions import firestore_fn, logger, options, params, scheduler_fn
from google.cloud import firestore

from tfw_functions import config, contract, notify, purge, sweep

STALL_MINUTES = params.IntParam(
    config.STALL_MINUTES_ENV, default=config.DEFAULT_STALL_MINUTES,
    description="Minutes without a heartbeat before a running session is marked stalled.")
RETENTION_DAYS = params.IntParam(
    config.RETENTION_DAYS_ENV, default=config.DEFAULT_RETENTION_DAYS,
    description="Days after their last activity that sessions are deleted.")
APP_URL = params.StringParam(
    config.APP_URL_ENV, default="",
    description="Dashboard base URL for notification links; empty = https://PROJECT.web.app.")

# A cap on parallel instances keeps a burst of session updates from running up a bill.
options.set_global_options(max_instances=10)

_db: firestore.Client | None = None


def app() -> firebase_admin.App:
    if not firebase_admin._apps:  # pylint: disable=protected-access
        firebase_admin.initialize_app()
    return firebase_admin.get_app()


def db() -> firestore.Client:
    """One Firestore client per instance (the emulator's when FIRESTORE_EMULATOR_HOST is set)."""
    global _db
    if _db is None:
        _db = firestore.Client(project=app().project_id)
    return _db


@firestore_fn.on_document_updated(document=contract.COLLECTIONS["sessions"] + "/{sid}")
def notifysession(event: firestore_fn.Event[firestore_fn.Change[firestore_fn.DocumentSnapshot]]):
    change = event.data
    if change is None or change.after is None or not change.after.exists:
        return None
    sid = event.params.get("sid") or change.after.id
    before = change.before.to_dict() if change.before is not None else None
    after = change.after.to_dict()
    events = notify.transitions(before, after)
    if not events:  # heartbeats and progress: no reads, no writes
        return None
    url = config.app_url(APP_URL.value, app().project_id)
    results = notify.notify_events(db(), sid, events, after or {}, url)
    for res in results:
        send = res.send or notify.SendResult()
        logger.info("tfwatcher notify", sid=sid, notify_event=res.event, outcome=res.outcome,
                    sent=send.sent, failed=send.failed, removed=len(send.removed),
                    pending=len(send.pending), errors=send.errors)
    retry = [res.event for res in results if res.outcome == "retry"]
    if retry:  # not burnt: `retrynotify` sends to the rest (and a redelivery would too)
        raise notify.RetryLater(f"session {sid}: notification {', '.join(retry)} not delivered "
                                f"to every subscriber yet; retried by retrynotify")
    return results


@scheduler_fn.on_schedule(schedule="every 5 minutes")
def retrynotify(event: scheduler_fn.ScheduledEvent):
    url = config.app_url(APP_URL.value, app().project_id)
    done = notify.retry_pending(db(), url, now=event.schedule_time)
    for sid, res in done:
        send = res.send or notify.SendResult()
        logger.info("tfwatcher notify retry", sid=sid, notify_event=res.event,
                    outcome=res.outcome, sent=send.sent, pending=len(send.pending))
    return done


@scheduler_fn.on_schedule(schedule="every 5 minutes")
def sweepstalled(event: scheduler_fn.ScheduledEvent):
    minutes = config.stall_minutes(STALL_MINUTES.value)
    marked = sweep.sweep_stalled(db(), now=event.schedule_time, stall_minutes=minutes)
    if marked:
        logger.info("tfwatcher sweep", stalled=marked)
    return marked


@scheduler_fn.on_schedule(schedule="every 24 hours", timeout_sec=540)
def purgeexpired(event: scheduler_fn.ScheduledEvent):
    days = config.retention_days(RETENTION_DAYS.value)
    deleted = purge.purge_expired(db(), now=event.schedule_time, retention_days=days)
    if deleted:
        logger.info("tfwatcher purge", sessions=len(deleted), documents=sum(deleted.values()))
    return deleted
