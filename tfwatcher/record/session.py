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
import functools
import math
import os
import numbers
import platform
import secrets
import sys
import threading
import time
import warnings
import weakref
from collections.abc import Mapping

from tfwatcher.base import access
from tfwatcher.base import project as _targets  # `config` is Session's argument (hyperparameters)
from tfwatcher.record import system
from tfwatcher.base.ids import is_session_id, new_session_id  # noqa: F401 (re-exported)
from tfwatcher.record.values import scalar_metrics
from tfwatcher.version import __version__
from tfwatcher.record.writer import SERVER_TIME, Writer

STATUSES = ("running", "finished", "crashed", "stopped")
KINDS = ("train", "test", "predict", "system")
MAX_RUN_NAME = 200
MAX_CONFIG = 200          # entries of `config`
MAX_CONFIG_NAME = 200     # characters of a config name
MAX_CONFIG_STRING = 1000  # characters of a string value (other values: their repr, 200)
SYSTEM_EVERY = 10.0       # seconds between system samples (taken by the writer thread)
_SESSIONS: "weakref.WeakSet[Session]" = weakref.WeakSet()
_shared: "Session | None" = None
_shared_lock = threading.Lock()  # guards _shared only; Session() takes no other lock


class Session:
    """One monitored run, written to `sessions/{id}` in Firestore.

    Args:
        project: Firebase/Google Cloud project ID. Defaults to the environment, a running
            `tfwatcher local`, then Application Default Credentials (see `tfwatcher.base.project`).
        credentials: a service-account JSON path or a google-auth Credentials object.
            Defaults to Application Default Credentials.
        run_name: a label shown on the dashboard. Defaults to "".
        dashboard_url: base URL of the dashboard. Defaults to `https://{project}.web.app`.
        quiet: if True, print nothing when created. Defaults to False.
        interval: seconds between sends of batch points. Defaults to 1.0.
        heartbeat: seconds between heartbeats of the session document. Defaults to 10.0.
        config: the run's hyperparameters, a dict of names to values, shown on the dashboard.
            Nested dicts are flattened (`{"optimizer": {"lr": 0.1}}` → `optimizer.lr`); numbers,
            strings, bools and None are stored as they are, anything else as its repr (200
            characters); at most 200 entries. More can be added with `set_config`. Defaults to None.
        system_metrics: while a run is in progress, sample CPU, memory and GPU use every ~10 s
            (on the writer's thread) as batch points of kind `system`. Defaults to True, unless
            the environment sets `TFWATCHER_SYSTEM_METRICS=0`.

    With no project configured anywhere, the session prints how to configure one and records
    nothing (`enabled` is False); training is never affected.
    """

    def __init__(self, project: str | None = None, credentials=None, run_name: str = "",
                 dashboard_url: str | None = None, quiet: bool = False, interval: float = 1.0,
                 heartbeat: float = 10.0, config: Mapping | None = None,
                 system_metrics: bool | None = None):
        self.config: dict = normalize_config(config)
        if not isinstance(run_name, str):
            raise ValueError(f"run_name must be a string; got {type(run_name).__name__} {run_name!r:.80}")
        if len(run_name) > MAX_RUN_NAME:
            warnings.warn(f"tfwatcher: run_name has {len(run_name)} characters; keeping the first "
                          f"{MAX_RUN_NAME}", UserWarning, stacklevel=2)
            run_name = run_name[:MAX_RUN_NAME]
        for name, value in (("interval", interval), ("heartbeat", heartbeat)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(f"{name} must be a positive number of seconds; got {value!r}")
        if system_metrics is None:
            system_metrics = os.environ.get("TFWATCHER_SYSTEM_METRICS", "1").strip() != "0"
        for name, value in (("quiet", quiet), ("system_metrics", system_metrics)):
            if not isinstance(value, bool):
                raise ValueError(f"{name} must be True or False; got {value!r}")
        self.system_metrics = system_metrics
        self.run_name = run_name
        self.quiet = quiet
        self.status = "new"
        self.mode = None
        self.stop_requested = False
        # Made locally: 89 random bits need no collision check, so building a session (and a
        # callback) touches no network. The session document is written on first use.
        self.id = new_session_id()
        self.owner_key = secrets.token_urlsafe(24)
        self._lock = threading.Lock()  # guards the counters below; never held while calling out
        self._steps = {kind: 0 for kind in KINDS}
        self._calls = {"evaluate": 0, "predict": 0}
        self._metrics: dict[str, None] = {}
        self.latest: dict[str, float] = {}
        self.progress = {"epoch": 0, "batch": 0, "step": 0}
        self.plan = {"epochs": None, "steps": None}
        self.run = 0
        self._nan = False
        self._config_pending = False  # set_config changed it: the next session update sends it
        self._config_asked = False    # ... and the writer was asked for that update
        self.writer: Writer | None = None
        try:
            self.target = _targets.resolve(project, credentials, dashboard_url)
        except _targets.NotConfigured as err:
            self.target = None
            if not quiet:
                print(err, file=sys.stderr)
            return
        self.dashboard_url = self.target.dashboard_url
        self.writer = Writer(self.target.client, f"sessions/{self.id}",
                             session_fields=self._live_fields, interval=interval, heartbeat=heartbeat,
                             explain=functools.partial(access.explain, project=self.target.project))
        # Buffered only: they go out with the first thing logged (or the first start()).
        self.writer.add_first(f"sessions/{self.id}/private/owner", {"key": self.owner_key})
        self.writer.add_first(f"sessions/{self.id}", {**self._initial_doc(), "created": SERVER_TIME},
                              merge=True)
        if system_metrics:
            system.prime()  # CPU use is measured between samples: the first counts from here
        _SESSIONS.add(self)
        if not quiet:
            from tfwatcher.base.display import announce

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

    def _initial_doc(self) -> dict:
        versions = {"tfwatcher": __version__, "python": platform.python_version()}
        for module in ("tensorflow", "keras", "jax", "torch", "numpy"):
            mod = sys.modules.get(module)
            if mod is not None and isinstance(getattr(mod, "__version__", None), str):
                versions[module] = mod.__version__
        doc = {"schema": 2, "status": "new", "mode": None, "name": self.run_name, "run": 0,
               "plan": dict(self.plan), "progress": dict(self.progress), "metrics": [],
               "latest": [], "error": None, "ended": None, "versions": versions, "nan": False}
        if self.config:
            doc["config"] = config_entries(self.config)
        return doc

    # ----- hyperparameters ------------------------------------------------------------------------

    def set_config(self, config: Mapping) -> None:
        """Add (or replace) hyperparameters: merged into `session.config` (the rules of
        `config=` apply; at most 200 entries in all) and sent in the next second. Before the
        session's first use nothing is written: they go with its first `start()` or point."""
        extra = normalize_config(config)
        if not extra:
            return
        with self._lock:
            merged = dict(self.config)
            dropped = 0
            for name, value in extra.items():
                if name in merged or len(merged) < MAX_CONFIG:
                    merged[name] = value
                else:
                    dropped += 1
            self.config = merged
            self._config_pending = True
            # Before first use nothing is sent (there is no document yet): the first start(),
            # point or epoch asks for the update instead.
            used = self.writer is not None and self.writer.used
            self._config_asked = used
        if dropped:
            warnings.warn(f"tfwatcher: config would have {len(merged) + dropped} entries; keeping "
                          f"the first {MAX_CONFIG}", UserWarning, stacklevel=2)
        # The writer is called only after our lock is released (lock discipline: writer.py).
        # The entries themselves are read by the writer with the live fields, at send time, so
        # the latest config is what goes even when two updates race.
        if used:
            self.writer.update_session({}, urgent=True)

    # ----- remote stop ----------------------------------------------------------------------------

    def _stop_listener(self, run: int):
        """A listener (started by the writer thread with its client) for this run's stop
        request, `control/stop-{run}`: a request for an earlier run is worth nothing."""
        def listen(client):
            def on_change(snapshots, _changes, _read_time):
                for snap in snapshots:
                    data = (snap.to_dict() or {}) if snap.exists else {}
                    if (data.get("key") == self.owner_key and data.get("run") == run
                            and self.run == run and self.status == "running"):
                        self.stop_requested = True

            watch = client.document(f"sessions/{self.id}/control/stop-{run}").on_snapshot(on_change)
            return watch.unsubscribe
        return listen

    # ----- lifecycle ------------------------------------------------------------------------------

    def start(self, mode: str = "custom", epochs: int | None = None, steps: int | None = None) -> None:
        """Mark the session running. `epochs` and `steps` (per epoch) are the plan, if known."""
        if mode not in ("fit", "evaluate", "predict", "custom"):
            raise ValueError(f"mode must be fit, evaluate, predict or custom; got {mode!r}")
        for name, value in (("epochs", epochs), ("steps", steps)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ValueError(f"{name} must be a non-negative int or None; got {value!r}")
        with self._lock:
            self.mode, self.status = mode, "running"
            self.stop_requested = False
            if mode in self._calls:
                self._calls[mode] += 1
            self.plan = {"epochs": epochs, "steps": steps}
            self.run += 1
            run = self.run
            self._config_asked = True  # the urgent update below carries a pending config
        if run > 1 and self.writer:
            # A new owner key for every run: a link seen during an earlier run (a notebook
            # saved mid-run, a screen share) cannot stop this one. Sent before the run's
            # `running` update, in the same round.
            self.owner_key = secrets.token_urlsafe(24)
            self.writer.add_first(f"sessions/{self.id}/private/owner", {"key": self.owner_key})
            self._show_new_owner_link(run)
        if self.writer:
            self.writer.reopen()
            self.writer.start_new_chunks()
            self.writer.set_listener(self._stop_listener(run))
            set_sampler = getattr(self.writer, "set_sampler", None)
            if set_sampler is not None:
                set_sampler(self._system_sampler() if self.system_metrics else None,
                            every=SYSTEM_EVERY)
            self.writer.heartbeat_on(True)
            self.writer.update_session({"status": "running", "mode": mode, "plan": dict(self.plan),
                                        "run": run, "ended": None, "error": None}, urgent=True)

    def _show_new_owner_link(self, run: int) -> None:
        try:
            from tfwatcher.base.display import reveal

            if reveal(self):  # the notebook's display (concealed when the last run ended)
                return
        except Exception:
            pass
        if not self.quiet:
            print(f"tfwatcher: run {run} of session {self.id}; your link for this run (can stop "
                  f"it; keep it private): {self.owner_url}", file=sys.stderr)

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
        first_nan = False
        with self._lock:
            if step is None:
                step = self._steps[kind] + 1
            self._steps[kind] = max(self._steps[kind], step)
            if kind == "train":
                epoch = epoch if epoch is not None else max(self.progress["epoch"], 1)
                batch = batch if batch is not None else self.progress["batch"] + 1
                self.progress = {"epoch": epoch, "batch": batch, "step": step}
                first_nan = self._note(values)
            elif kind == "system":
                epoch = epoch if epoch is not None else max(self.progress["epoch"], 1)
                batch = batch if batch is not None else step
            else:
                epoch = epoch if epoch is not None else max(self._calls.get(
                    "evaluate" if kind == "test" else "predict", 1), 1)
                batch = batch if batch is not None else step
            ask = self._config_pending and not self._config_asked
            if ask:
                self._config_asked = True
        # The writer is called only after our lock is released (lock discipline: writer.py).
        if self.writer:
            self.writer.add_point(kind, step, epoch, batch, _float_or_none(seconds), time.time(), values)
            if first_nan or ask:
                self.writer.update_session({"nan": True} if first_nan else {}, urgent=True)
        return step

    def _system_sampler(self):
        """The function the writer thread calls every ~10 s while a run is in progress. It
        holds the session weakly (the writer must not keep it alive) and never raises."""
        ref = weakref.ref(self)

        def sample_system() -> None:
            session = ref()
            if session is not None:
                session._sample_system()
        return sample_system

    def _sample_system(self) -> None:
        """Take one system sample and log it as a `system` point: step and batch are the
        sample number, epoch the current training epoch. Never raises."""
        try:
            if self.status != "running" or not self.system_metrics:
                return
            values = system.sample()
            if values:
                self._add_point(values, None, None, None, "system", None)
        except Exception:  # a sample is a courtesy; it never disturbs the writer or the run
            pass

    def train_step(self) -> int:
        """The last global training step recorded."""
        return self._steps["train"]

    def last_epoch(self) -> int:
        """The last training epoch this session has seen."""
        return self.progress["epoch"]

    def number_epochs(self, first: int, last: int | None) -> None:
        """This fit's epochs are numbered `first`..`last` in the session (a second fit on the
        same callback goes on from the first's): the plan says so, for the dashboard's totals."""
        with self._lock:
            self.plan = {**self.plan, "epochs": last, "first_epoch": first}
            plan = dict(self.plan)
        if self.writer:
            self.writer.update_session({"plan": plan}, urgent=True)

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
            first_nan = self._note(values, epoch_level=True)
            if step is None:
                step = self._steps["train"]
            else:
                self._steps["train"] = max(self._steps["train"], step)
            ask = self._config_pending and not self._config_asked
            if ask:
                self._config_asked = True
        doc = {"schema": 1, "kind": kind, "epoch": epoch, "step": step,
               "names": list(values), "values": list(values.values()),
               "seconds": _float_or_none(seconds),
               "avg_seconds": _float_or_none(avg_seconds if avg_seconds is not None else seconds),
               "time": time.time()}
        if self.writer:
            self.writer.add_epoch(doc_id, doc)
            if first_nan or ask:
                self.writer.update_session({"nan": True} if first_nan else {}, urgent=True)

    def _note(self, values: dict, epoch_level: bool = False) -> bool:
        """Update the metric names and latest values (lock held). True on the first
        non-finite loss, which the caller reports once the lock is released."""
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
            return True
        return False

    def _live_fields(self) -> dict:
        with self._lock:
            fields = {"progress": dict(self.progress), "metrics": list(self._metrics),
                      "latest": [{"name": k, "value": v} for k, v in self.latest.items()]}
            if self._config_pending:
                # Sent with this update (and, if it fails, requeued by the writer with it).
                fields["config"] = config_entries(self.config)
                self._config_pending = False
            if self.status == "running":
                # Re-asserted with every heartbeat: a run the stall sweep marked `stalled`
                # during an outage is running again once it is heard from (and the owner's
                # Stop, which the rules allow only while running, works again).
                fields["status"] = "running"
            return fields

    def finish(self, status: str = "finished", error: BaseException | None = None,
               wait: float | None = 0) -> bool:
        """End the run: `finished`, `crashed` (with `error`) or `stopped`.

        Returns at once by default (the writer goes on sending, then its thread ends); `wait`
        seconds to block until everything is committed. Returns True only if everything was
        committed to Firestore: False while some is still on its way, and after an access
        error (what was logged is then in the spool, for `tfwatcher sync`).
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
        self.writer.close_when_idle()
        try:
            from tfwatcher.base.display import conceal

            conceal(self)  # the owner link leaves the notebook's saved output
        except Exception:  # display is a courtesy; it never breaks a run
            pass
        if wait:
            return self.writer.flush(wait)
        return not self.writer.disabled and self.writer.pending() == 0

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Block until everything logged so far is in Firestore, or `timeout` passes.
        True only if it all was committed (see `finish`)."""
        return self.writer.flush(timeout) if self.writer else False

    def close(self, timeout: float = 30.0) -> bool:
        """Finish the run if it is still open, send what is left (up to `timeout` seconds,
        then spool the rest) and end the writer's thread, client and listener.
        Returns True if everything was committed."""
        if not self.writer:
            return False
        if self.status == "running":
            self.finish("stopped" if self.stop_requested else "finished")
        ok = self.writer.flush(timeout) if self.writer.used else True
        if not ok:
            self.writer.spool(final=True)
        self.writer.stop()
        return ok

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, exc_type, exc, _tb) -> None:
        if self.status == "running":
            if exc is None:
                self.finish("stopped" if self.stop_requested else "finished")
            elif isinstance(exc, KeyboardInterrupt):
                self.finish("stopped")
            else:
                self.finish("crashed", error=exc)
        self.close()

    def __repr__(self) -> str:
        return f"<tfwatcher.Session {self.id} {self.status}>"


def _float_or_none(value) -> float | None:
    return None if value is None else float(value)


# ----- hyperparameters (`config=`) ----------------------------------------------------------------

def normalize_config(config, what: str = "config") -> dict:
    """The flat dict stored for `config=`: validated, nested dicts flattened with ".", values
    made storable. TypeError for anything but a dict with string keys; warnings (one per call)
    for what is shortened or left out. The caller's dict is never kept or changed."""
    if config is None:
        return {}
    if not isinstance(config, Mapping):
        raise TypeError(f"{what} must be a dict of hyperparameters (name -> value) or None; "
                        f"got {type(config).__name__} {_short_repr(config, 80)}")
    out: dict = {}
    notes = {"dropped": 0, "long_names": 0, "long_strings": 0}

    def walk(mapping, prefix: str, seen: tuple) -> None:
        for key, value in mapping.items():
            if not isinstance(key, str):
                where = f" (in {prefix[:-1]!r})" if prefix else ""
                raise TypeError(f"{what} keys must be strings; got {type(key).__name__} "
                                f"{_short_repr(key, 80)}{where}")
            name = prefix + key
            if isinstance(value, Mapping) and id(value) not in seen and len(seen) < 32:
                walk(value, name + ".", seen + (id(value),))
                continue
            name = _clean_text(name)
            if len(name) > MAX_CONFIG_NAME:
                notes["long_names"] += 1
                name = name[:MAX_CONFIG_NAME]
            if name not in out and len(out) >= MAX_CONFIG:
                notes["dropped"] += 1
                continue
            out[name] = _config_value(value, notes)

    walk(config, "", (id(config),))
    if notes["dropped"]:
        warnings.warn(f"tfwatcher: {what} has {len(out) + notes['dropped']} entries (nested ones "
                      f"counted); keeping the first {MAX_CONFIG}", UserWarning, stacklevel=3)
    if notes["long_names"]:
        warnings.warn(f"tfwatcher: {notes['long_names']} {what} name(s) longer than "
                      f"{MAX_CONFIG_NAME} characters were shortened to {MAX_CONFIG_NAME}",
                      UserWarning, stacklevel=3)
    if notes["long_strings"]:
        warnings.warn(f"tfwatcher: {notes['long_strings']} {what} string value(s) longer than "
                      f"{MAX_CONFIG_STRING} characters were shortened to {MAX_CONFIG_STRING}",
                      UserWarning, stacklevel=3)
    return out


def config_entries(flat: dict) -> list[dict]:
    """The session document's `config` field: names as values, never as field names."""
    return [{"name": name, "value": value} for name, value in flat.items()]


def _config_value(value, notes: dict):
    if value is None or isinstance(value, bool):
        return value
    if type(value).__name__ in ("bool_", "bool") and type(value).__module__ == "numpy":
        return bool(value)
    if isinstance(value, numbers.Integral):
        number = int(value)
        # Firestore integers are 64-bit; a larger one keeps its digits as a string.
        return number if -2 ** 63 <= number < 2 ** 63 else _short_repr(number, 200)
    if isinstance(value, numbers.Real):
        try:
            return float(value)  # NaN and ±Inf are stored as they are
        except (OverflowError, ValueError, TypeError):
            return _short_repr(value, 200)
    if isinstance(value, str):
        value = _clean_text(value)
        if len(value) > MAX_CONFIG_STRING:
            notes["long_strings"] += 1
            value = value[:MAX_CONFIG_STRING]
        return value
    return _short_repr(value, 200)


def _short_repr(value, limit: int) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return _clean_text(text[:limit])


def _clean_text(text: str) -> str:
    """`text` as valid UTF-8 (a lone surrogate cannot be stored in Firestore)."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")


def shared_session(**kwargs) -> Session:
    """The process's open session (created on first use), so callbacks share one dashboard."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared.status in ("finished", "crashed", "stopped"):
            _shared = Session(**kwargs)
        return _shared


def _flush_at_exit() -> None:
    """At interpreter exit, wait a bounded time for every writer, spool what is left and
    say so: never "sent" for what was not."""
    import os

    timeout = float(os.environ.get("TFWATCHER_EXIT_TIMEOUT", "10"))
    deadline = time.monotonic() + timeout
    for session in list(_SESSIONS):
        writer = session.writer
        if writer is None or not writer.used:  # never used: nothing was ever meant to be sent
            continue
        if session.status == "running":
            session.finish("crashed" if getattr(sys, "last_value", None) else "stopped")
        if not writer.disabled and writer.flush(max(0.1, deadline - time.monotonic())):
            continue
        writer.spool(final=True)
        if not writer.disabled and not writer.pending() and not writer.spool_path:
            continue  # all sent after all (flush said False for thinning: warned already)
        why = (writer.reason or "Firestore could not be reached in time.").rstrip()
        why += "" if why.endswith(".") else "."
        if writer.spool_path and writer.spool_path.exists():
            points, docs = writer.stats["spooled_points"], writer.stats["spooled_docs"]
            print(f"tfwatcher: session {session.id} was NOT fully sent: {why} {points} batch "
                  f"points ({docs} documents) are saved in {writer.spool_path}; upload them "
                  f"with `tfwatcher sync`.", file=sys.stderr)
        if writer.pending():  # the spool could not be written either: say what is lost
            print(f"tfwatcher: session {session.id}: {writer.buffered_points()} batch points "
                  f"({writer.pending()} documents) were neither sent nor saved and are lost: "
                  f"{why} Saving to {writer.spool_path or 'the spool folder'} failed "
                  f"({writer.spool_error}).", file=sys.stderr)


atexit.register(_flush_at_exit)
