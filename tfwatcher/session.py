"""A monitoring session: one ID, one dashboard, one background writer.

The Keras callbacks use it; custom training loops and other frameworks use it directly:

    import tfwatcher
    session = tfwatcher.Session(run_name="my run")        # prints the ID, link and QR code
    session.start(mode="fit", epochs=10, steps=100)
    for epoch in range(1, 11):
        for batch in range(1, 101):
            session.log_batch({"loss": loss}, epoch=epoch, batch=batch, seconds=dt)
        session.log_epoch({"loss": loss, "val_loss": val_loss}, epoch=epoch, seconds=et)
    session.finish()
"""

from __future__ import annotations

import atexit
import math
import platform
import secrets
import sys
import threading
import time
import warnings
import weakref

from . import config
from .values import scalar_metrics
from .version import __version__
from .writer import SERVER_TIME, Writer

ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
ID_LENGTH = 7
STATUSES = ("running", "finished", "crashed", "stopped")
KINDS = ("train", "test", "predict")
_SESSIONS: "weakref.WeakSet[Session]" = weakref.WeakSet()
_shared: "Session | None" = None
_shared_lock = threading.Lock()


def new_session_id() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(ID_LENGTH))


def is_session_id(text: str) -> bool:
    return isinstance(text, str) and len(text) == ID_LENGTH and all(c in ALPHABET for c in text)


class Session:
    """One monitored run, written to `sessions/{id}` in Firestore.

    Args:
        project: Firebase/Google Cloud project ID. Defaults to the environment, a running
            `tfwatcher local`, then Application Default Credentials (see `tfwatcher.config`).
        credentials: a service-account JSON path or a google-auth Credentials object.
            Defaults to Application Default Credentials.
        run_name: a label shown on the dashboard. Defaults to "".
        dashboard_url: base URL of the dashboard. Defaults to `https://{project}.web.app`.
        quiet: if True, print nothing when created. Defaults to False.
        interval: seconds between sends of batch points. Defaults to 1.0.
        heartbeat: seconds between heartbeats of the session document. Defaults to 10.0.

    With no project configured anywhere, the session prints how to configure one and records
    nothing (`enabled` is False); training is never affected.
    """

    def __init__(self, project: str | None = None, credentials=None, run_name: str = "",
                 dashboard_url: str | None = None, quiet: bool = False, interval: float = 1.0,
                 heartbeat: float = 10.0, _create_timeout: float = 5.0):
        if not isinstance(run_name, str) or len(run_name) > 200:
            raise ValueError(f"run_name must be a string of at most 200 characters; got {run_name!r:.80}")
        for name, value in (("interval", interval), ("heartbeat", heartbeat)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"{name} must be a positive number of seconds; got {value!r}")
        if not isinstance(quiet, bool):
            raise ValueError(f"quiet must be True or False; got {quiet!r}")
        self.run_name = run_name
        self.status = "new"
        self.mode = None
        self.stop_requested = False
        self.id = new_session_id()
        self.owner_key = secrets.token_urlsafe(24)
        self._lock = threading.Lock()
        self._steps = {kind: 0 for kind in KINDS}
        self._calls = {"evaluate": 0, "predict": 0}
        self._metrics: dict[str, None] = {}
        self.latest: dict[str, float] = {}
        self.progress = {"epoch": 0, "batch": 0, "step": 0}
        self.plan = {"epochs": None, "steps": None}
        self._nan = False
        self.writer: Writer | None = None
        try:
            self.target = config.resolve(project, credentials, dashboard_url)
        except config.NotConfigured as err:
            self.target = None
            if not quiet:
                print(err, file=sys.stderr)
            return
        self.dashboard_url = self.target.dashboard_url
        self._create(timeout=_create_timeout)
        self.writer = Writer(self._client_for_writer, f"sessions/{self.id}",
                             session_fields=self._live_fields, interval=interval, heartbeat=heartbeat)
        if not self._created:
            # Created late, by the writer (and spooled with the rest if it never can be).
            # merge=True keeps whatever a retry or a later update already wrote.
            self.writer.add_first(f"sessions/{self.id}/private/owner", {"key": self.owner_key})
            self.writer.add_first(f"sessions/{self.id}", {**self._initial_doc(), "created": SERVER_TIME},
                                  merge=True)
        self.writer.listeners.append(self._listen_for_stop)
        _SESSIONS.add(self)
        if not quiet:
            from .display import announce

            announce(self)

    # ----- identity and links ------------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        return self.writer is not None and not self.writer.disabled

    @property
    def share_url(self) -> str:
        return f"{self.dashboard_url}/s/{self.id}" if self.target else ""

    @property
    def owner_url(self) -> str:
        return f"{self.share_url}#k={self.owner_key}" if self.target else ""

    # ----- creation: one round trip before training, with a collision check ---------------------

    def _create(self, timeout: float) -> None:
        """Create the session document with `create()` (fails if the ID exists: draw another)."""
        from google.api_core import exceptions as gexc
        from google.cloud import firestore

        self._client = None
        doc = self._initial_doc()
        try:
            self._client = self.target.client()
            for _ in range(5):
                ref = self._client.document(f"sessions/{self.id}")
                try:
                    batch = self._client.batch()
                    batch.create(ref, {**doc, "created": firestore.SERVER_TIMESTAMP,
                                       "heartbeat": firestore.SERVER_TIMESTAMP})
                    batch.set(ref.collection("private").document("owner"), {"key": self.owner_key})
                    batch.commit(timeout=timeout, retry=None)
                    self._created = True
                    return
                except gexc.AlreadyExists:
                    self.id = new_session_id()
            raise RuntimeError("could not find a free session ID")
        except Exception as err:  # no network now: the writer creates it later
            self._created = False
            warnings.warn(f"tfwatcher: could not create the session in Firestore now "
                          f"({type(err).__name__}); it will be retried in the background",
                          RuntimeWarning, stacklevel=3)

    def _client_for_writer(self):
        return self._client or self.target.client()

    def _initial_doc(self) -> dict:
        versions = {"tfwatcher": __version__, "python": platform.python_version()}
        for module in ("tensorflow", "keras", "jax", "torch"):
            mod = sys.modules.get(module)
            if mod is not None and isinstance(getattr(mod, "__version__", None), str):
                versions[module] = mod.__version__
        return {"schema": 1, "status": "new", "mode": None, "name": self.run_name,
                "plan": dict(self.plan), "progress": dict(self.progress), "metrics": [],
                "latest": [], "error": None, "ended": None, "versions": versions, "nan": False}

    # ----- remote stop ----------------------------------------------------------------------------

    def _listen_for_stop(self, client) -> None:
        """Watch `control/stop` (on the client's listener thread, never the training thread)."""
        def on_change(snapshots, _changes, _read_time):
            for snap in snapshots:
                data = snap.to_dict() or {}
                if data.get("key") == self.owner_key and self.status == "running":
                    self.stop_requested = True

        try:
            self._stop_watch = client.document(f"sessions/{self.id}/control/stop").on_snapshot(on_change)
        except Exception as err:
            warnings.warn(f"tfwatcher: remote stop unavailable ({type(err).__name__})", RuntimeWarning)

    # ----- lifecycle ------------------------------------------------------------------------------

    def start(self, mode: str = "custom", epochs: int | None = None, steps: int | None = None) -> None:
        """Mark the session running. `epochs` and `steps` (per epoch) are the plan, if known."""
        if mode not in ("fit", "evaluate", "predict", "custom"):
            raise ValueError(f"mode must be fit, evaluate, predict or custom; got {mode!r}")
        for name, value in (("epochs", epochs), ("steps", steps)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ValueError(f"{name} must be a non-negative int or None; got {value!r}")
        self.mode, self.status = mode, "running"
        self.stop_requested = False
        if mode in self._calls:
            self._calls[mode] += 1
        self.plan = {"epochs": epochs, "steps": steps}
        if self.writer:
            self.writer.start_new_chunks()
            self.writer.heartbeat_on(True)
            self.writer.update_session({"status": "running", "mode": mode, "plan": dict(self.plan),
                                        "ended": None, "error": None}, urgent=True)

    def log_batch(self, metrics, epoch: int | None = None, batch: int | None = None,
                  seconds: float | None = None, kind: str = "train", step: int | None = None) -> int:
        """Record one batch. Returns its step (global for `train`, per kind otherwise).

        `metrics` is a dict of scalars (numpy and tensor scalars are converted); it is not kept
        or changed. `epoch` and `batch` are 1-based; they default to the current ones.
        """
        values = scalar_metrics(metrics)
        return self._add_point(values, epoch, batch, seconds, kind, step)

    def _add_point(self, values: dict, epoch, batch, seconds, kind: str, step) -> int:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}; got {kind!r}")
        with self._lock:
            if step is None:
                step = self._steps[kind] + 1
            self._steps[kind] = max(self._steps[kind], step)
            if kind == "train":
                epoch = epoch if epoch is not None else max(self.progress["epoch"], 1)
                batch = batch if batch is not None else self.progress["batch"] + 1
                self.progress = {"epoch": epoch, "batch": batch, "step": step}
                self._note(values)
            else:
                epoch = epoch if epoch is not None else max(self._calls.get(
                    "evaluate" if kind == "test" else "predict", 1), 1)
                batch = batch if batch is not None else step
        if self.writer:
            self.writer.add_point(kind, step, epoch, batch, _float_or_none(seconds), time.time(), values)
        return step

    def train_step(self) -> int:
        """The last global training step recorded."""
        return self._steps["train"]

    def last_epoch(self) -> int:
        """The last training epoch this session has seen."""
        return self.progress["epoch"]

    def mark_step(self, kind: str, step: int, epoch: int | None = None) -> None:
        """Advance the counters to at least `step` and `epoch` (a run saw more than it logged)."""
        with self._lock:
            self._steps[kind] = max(self._steps[kind], step)
            if kind == "train":
                self.progress = {**self.progress, "step": max(self.progress["step"], step)}
                if epoch is not None and epoch > self.progress["epoch"]:
                    self.progress = {**self.progress, "epoch": epoch}

    def log_epoch(self, metrics, epoch: int | None = None, seconds: float | None = None,
                  avg_seconds: float | None = None, kind: str = "train", step: int | None = None) -> None:
        """Record one epoch (or one evaluate/predict call, with kind="evaluate"/"predict")."""
        if kind not in ("train", "evaluate", "predict"):
            raise ValueError(f"kind must be train, evaluate or predict; got {kind!r}")
        values = scalar_metrics(metrics)
        with self._lock:
            if kind == "train":
                epoch = epoch if epoch is not None else self.progress["epoch"] + 1
                self.progress = {**self.progress, "epoch": epoch}
                doc_id = f"{epoch:06d}"
            else:
                epoch = epoch if epoch is not None else max(self._calls[kind], 1)
                doc_id = f"{kind}-{epoch:06d}"
            self._note(values, epoch_level=True)
            if step is None:
                step = self._steps["train"]
            else:
                self._steps["train"] = max(self._steps["train"], step)
        doc = {"schema": 1, "kind": kind, "epoch": epoch, "step": step,
               "names": list(values), "values": list(values.values()),
               "seconds": _float_or_none(seconds),
               "avg_seconds": _float_or_none(avg_seconds if avg_seconds is not None else seconds),
               "time": time.time()}
        if self.writer:
            self.writer.add_epoch(doc_id, doc)

    def _note(self, values: dict, epoch_level: bool = False) -> None:
        metrics = self._metrics
        latest = self.latest
        for name, value in values.items():
            if name not in metrics:
                metrics[name] = None
            if epoch_level or name not in latest or not name.startswith("val_"):
                latest[name] = value
        loss = values.get("loss")
        if loss is not None and not self._nan and not math.isfinite(loss):
            self._nan = True
            if self.writer:
                self.writer.update_session({"nan": True}, urgent=True)

    def _live_fields(self) -> dict:
        with self._lock:
            return {"progress": dict(self.progress), "metrics": list(self._metrics),
                    "latest": [{"name": k, "value": v} for k, v in self.latest.items()]}

    def finish(self, status: str = "finished", error: BaseException | None = None,
               wait: float | None = 0) -> bool:
        """End the run: `finished`, `crashed` (with `error`) or `stopped`.

        Returns at once by default (the writer goes on sending); `wait` seconds to block until
        everything is committed. Returns True if all was committed within `wait`.
        """
        if status not in ("finished", "crashed", "stopped"):
            raise ValueError(f"status must be finished, crashed or stopped; got {status!r}")
        self.status = status
        if not self.writer:
            return False
        fields = {"status": status, "ended": SERVER_TIME}
        if error is not None:
            fields["error"] = {"type": type(error).__name__, "message": str(error)[:2000]}
        self.writer.update_session(fields, urgent=True)
        self.writer.heartbeat_on(False)
        if wait:
            return self.writer.flush(wait)
        return self.writer.pending() == 0

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Block until everything logged so far is in Firestore, or `timeout` passes."""
        return self.writer.flush(timeout) if self.writer else False

    def __repr__(self) -> str:
        return f"<tfwatcher.Session {self.id} {self.status}>"


def _float_or_none(value) -> float | None:
    return None if value is None else float(value)


def shared_session(**kwargs) -> Session:
    """The process's open session (created on first use), so callbacks share one dashboard."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared.status in ("finished", "crashed", "stopped"):
            _shared = Session(**kwargs)
        return _shared


def _flush_at_exit() -> None:
    """At interpreter exit, wait a bounded time for every writer, then say what is left."""
    import os

    timeout = float(os.environ.get("TFWATCHER_EXIT_TIMEOUT", "10"))
    deadline = time.monotonic() + timeout
    for session in list(_SESSIONS):
        writer = session.writer
        if writer is None:
            continue
        if session.status == "running":
            session.finish("crashed" if getattr(sys, "last_value", None) else "stopped")
        if writer.disabled or not writer.flush(max(0.1, deadline - time.monotonic())):
            points = writer.buffered_points()
            docs = writer.pending()
            path = writer.spool()
            if path:
                print(f"tfwatcher: {points} batch points ({docs} documents) of session {session.id} "
                      f"could not be sent; saved in {path}. Upload them with `tfwatcher sync`.",
                      file=sys.stderr)


atexit.register(_flush_at_exit)
