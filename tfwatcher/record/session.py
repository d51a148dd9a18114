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

Here: the API and the process's registry of sessions. Beside it: progress.py (counters),
documents.py (what is written), owner.py (owner key, remote stop), hyperparameters.py.

Lock discipline: `Session._lock` guards the session's counters and config flags; it is never
held while calling the writer (whose thread calls back into `_live_fields`). `_shared_lock`
guards `_shared` only.
"""

from __future__ import annotations

import atexit
import functools
import os
import sys
import threading
import time
import warnings
import weakref
from collections.abc import Mapping

from tfwatcher.base import access
from tfwatcher.base import project as project_target  # `config` is Session's argument (hyperparameters)
from tfwatcher.base.contract import (BATCH_KIND_OF_MODE, BATCH_KINDS, ENDED_STATUSES,
                                     EPOCH_KINDS, HEARTBEAT_SECONDS, session_path)
from tfwatcher.base.ids import is_session_id, new_session_id  # noqa: F401 (re-exported)
from tfwatcher.record import at_exit, documents, lifecycle, owner, system
from tfwatcher.record.hyperparameters import (MAX_CONFIG, MAX_CONFIG_NAME,  # noqa: F401 (re-exported)
                                              MAX_CONFIG_STRING, config_entries, merge_config,
                                              normalize_config)
from tfwatcher.record.progress import RunProgress
from tfwatcher.record.attention import UNWATCHED_EVERY
from tfwatcher.record.values import scalar_metrics
from tfwatcher.record.writer import SERVER_TIME, Writer

STATUSES: tuple = ("running", *ENDED_STATUSES)  # what a session writes once it has started
KINDS: tuple = BATCH_KINDS
MODES: tuple = (*BATCH_KIND_OF_MODE, "custom")
MAX_RUN_NAME = 200
SYSTEM_EVERY = 10.0       # seconds between system samples (taken by the writer thread)
_SESSIONS: "weakref.WeakSet[Session]" = weakref.WeakSet()
_shared: "Session | None" = None
_shared_lock = threading.Lock()  # guards _shared only; Session() takes no other lock


def _workspace_of(workspace) -> str | None:
    """The workspace ID from the argument, else TFWATCHER_WORKSPACE; a clear ValueError now,
    when the session (or callback) is built, for anything malformed."""
    from tfwatcher.base.ids import parse_workspace

    source = "workspace"
    if workspace is None:
        workspace = os.environ.get("TFWATCHER_WORKSPACE", "").strip() or None
        source = "TFWATCHER_WORKSPACE"
    if workspace is None:
        return None
    try:
        return parse_workspace(workspace)
    except ValueError as err:
        raise ValueError(f"{source}: {err}") from None


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
        heartbeat: seconds between heartbeats of the session document while someone watches (30 by default; unwatched, one each `unwatched_every`).
        unwatched_every: seconds between sends while no dashboard shows the session (docs/
            deploy.md, "Costs"): everything logged goes out then, status changes and the
            owner's Stop at once whatever the cadence, and a dashboard that opens gets it all
            within seconds. None sends every `interval` always (a run nobody watches then
            costs ~25x the writes). Defaults to 300.
        workspace: the workspace this run joins (`tfwatcher workspace new` makes one): its
            ID (`w-...`) or read-only link. The run then appears by itself on the workspace's
            page, and the workspace's owner link can stop it. Defaults to the environment's
            `TFWATCHER_WORKSPACE` (a Colab or Kaggle secret can hold it), else none.
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
                 heartbeat: float = float(HEARTBEAT_SECONDS), config: Mapping | None = None,
                 system_metrics: bool | None = None,
                 unwatched_every: float | None = UNWATCHED_EVERY, workspace: str | None = None):
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
        if unwatched_every is not None and (
                isinstance(unwatched_every, bool) or not isinstance(unwatched_every, (int, float))
                or not unwatched_every >= interval or unwatched_every == float("inf")):
            raise ValueError(f"unwatched_every must be None or a number of seconds of at least "
                             f"interval ({interval!r}); got {unwatched_every!r}")
        if system_metrics is None:
            system_metrics = os.environ.get("TFWATCHER_SYSTEM_METRICS", "1").strip() != "0"
        for name, value in (("quiet", quiet), ("system_metrics", system_metrics)):
            if not isinstance(value, bool):
                raise ValueError(f"{name} must be True or False; got {value!r}")
        self.system_metrics = system_metrics
        self.workspace: str | None = _workspace_of(workspace)
        self.run_name = run_name
        self.quiet = quiet
        self.status = "new"
        self.mode = None
        self.stop_requested = False
        # Made locally: 89 random bits need no collision check, so building a session (and a
        # callback) touches no network. The session document is written on first use.
        self.id = new_session_id()
        self.owner_key = owner.new_owner_key()
        self._lock = threading.Lock()  # guards _book and the config flags; never held while calling out
        self._book = RunProgress()
        self.run = 0
        self._config_pending = False  # set_config changed it: the next session update sends it
        self._config_asked = False    # ... and the writer was asked for that update
        self._system_failed = False   # a system sample raised: warned once, sampling ended
        self.writer: Writer | None = None
        try:
            self.target = project_target.resolve(project, credentials, dashboard_url)
        except project_target.NotConfigured as err:
            self.target = None
            if not quiet:
                print(err, file=sys.stderr)
            return
        self.dashboard_url = self.target.dashboard_url
        self.writer = Writer(self.target.client, session_path(self.id),
                             session_fields=self._live_fields, interval=interval, heartbeat=heartbeat,
                             unwatched_every=unwatched_every,
                             explain=functools.partial(access.explain, project=self.target.project))
        # Buffered only: they go out with the first thing logged (or the first start()).
        self.writer.add_first(documents.owner_path(self.id), self._owner_doc())
        if self.workspace:
            self.writer.join_workspace(self.workspace, self.run_name)
        initial = documents.initial_fields(self.run_name, self.plan, self.progress,
                                           config_entries(self.config) if self.config else None)
        self.writer.add_first(session_path(self.id), {**initial, "created": SERVER_TIME}, merge=True)
        if system_metrics:
            system.prime()  # CPU use is measured between samples: the first counts from here
        _SESSIONS.add(self)
        if not quiet:
            from tfwatcher.base.display import announce

            announce(self)

    # ----- identity, links and counters ------------------------------------------------------

    @property
    def enabled(self) -> bool:
        return self.writer is not None and not self.writer.disabled

    @property
    def share_url(self) -> str:
        return f"{self.dashboard_url}/s/{self.id}" if self.target else ""

    @property
    def owner_url(self) -> str:
        return f"{self.share_url}#k={self.owner_key}" if self.target else ""

    progress = property(lambda self: self._book.progress, doc="Training's epoch, batch, step.")
    plan = property(lambda self: self._book.plan, doc="The epochs and steps given to `start`.")
    latest = property(lambda self: self._book.latest, doc="Metric name -> latest value.")

    def train_step(self) -> int:
        """The last global training step recorded."""
        return self._book.steps["train"]

    def last_epoch(self) -> int:
        """The last training epoch this session has seen."""
        return self._book.progress["epoch"]

    # ----- hyperparameters ------------------------------------------------------------------------

    def set_config(self, config: Mapping) -> None:
        """Add (or replace) hyperparameters: merged into `session.config` (the rules of
        `config=` apply; at most 200 entries in all) and sent in the next second. Before the
        session's first use nothing is written: they go with its first `start()` or point."""
        extra = normalize_config(config)
        if not extra:
            return
        with self._lock:
            merged, dropped = merge_config(self.config, extra)
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

    def _ask_for_config(self) -> bool:
        """True once after `set_config` before first use: the caller asks the writer for the
        update that carries it (lock held)."""
        ask = self._config_pending and not self._config_asked
        if ask:
            self._config_asked = True
        return ask

    # ----- lifecycle ------------------------------------------------------------------------------

    def start(self, mode: str = "custom", epochs: int | None = None, steps: int | None = None) -> None:
        """Mark the session running. `epochs` and `steps` (per epoch) are the plan, if known."""
        if mode not in MODES:
            raise ValueError(f"mode must be fit, evaluate, predict or custom; got {mode!r}")
        for name, value in (("epochs", epochs), ("steps", steps)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise ValueError(f"{name} must be a non-negative int or None; got {value!r}")
        with self._lock:
            self.mode, self.status = mode, "running"
            self.stop_requested = False
            self._book.start(mode, epochs, steps)
            self.run += 1
            run = self.run
            self._config_asked = True  # the urgent update below carries a pending config
        if run > 1 and self.writer:
            # A new owner key for every run (owner.py). Sent before the run's `running`
            # update, in the same round.
            self.owner_key = owner.new_owner_key()
            self.writer.add_first(documents.owner_path(self.id), self._owner_doc())
            owner.show_run_link(self, run)
        if self.writer:
            lifecycle.watch_cells(self)  # in a notebook, a cell that raises ends this run
            self.writer.reopen()
            self.writer.start_new_chunks()
            self.writer.set_listener(owner.stop_listener(self, run))
            set_sampler = getattr(self.writer, "set_sampler", None)
            if set_sampler is not None:
                set_sampler(system.sampler_for(self) if self.system_metrics else None,
                            every=SYSTEM_EVERY)
            # The start fields first: the heartbeat's start declares the cadence after them.
            self.writer.update_session(documents.start_fields(mode, self.plan, run, self.writer.heartbeat),
                                       urgent=True)
            self.writer.heartbeat_on(True)

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
            step, epoch, batch, first_nan = self._book.point(kind, values, epoch, batch, step)
            ask = self._ask_for_config()
        # The writer is called only after our lock is released (lock discipline: writer.py).
        if self.writer:
            self.writer.add_point(kind, step, epoch, batch, documents.float_or_none(seconds),
                                  time.time(), values)
            if first_nan or ask:
                self.writer.update_session({"nan": True} if first_nan else {}, urgent=True)
        return step

    def _sample_system(self) -> None:
        """Take one system sample and log it as a `system` point (step and batch: the sample
        number; epoch: the training epoch). Called by the writer thread every ~10 s while a
        run is in progress. Never raises: the first failure warns and sampling ends."""
        try:
            if self.status != "running" or not self.system_metrics or self._system_failed:
                return
            values = system.sample()
            if values:
                self._add_point(values, None, None, None, "system", None)
        except Exception as err:  # on the writer's thread: a sample never disturbs it or the run
            if not self._system_failed:
                self._system_failed = True
                warnings.warn(f"tfwatcher: a system metrics sample failed ({type(err).__name__}: "
                              f"{err}); session {self.id} takes no more system samples (training "
                              f"and its metrics go on)", RuntimeWarning, stacklevel=2)

    def number_epochs(self, first: int, last: int | None) -> None:
        """This fit's epochs are numbered `first`..`last` in the session (a second fit on the
        same callback goes on from the first's): the plan says so, for the dashboard's totals."""
        with self._lock:
            plan = self._book.number_epochs(first, last)
        if self.writer:
            self.writer.update_session({"plan": plan}, urgent=True)

    def mark_step(self, kind: str, step: int, epoch: int | None = None) -> None:
        """Advance the counters to at least `step` and `epoch` (a run saw more than it logged)."""
        with self._lock:
            self._book.mark_step(kind, step, epoch)

    def log_epoch(self, metrics, epoch: int | None = None, seconds: float | None = None,
                  avg_seconds: float | None = None, kind: str = "train", step: int | None = None) -> None:
        """Record one epoch (or one evaluate/predict call, with kind="evaluate"/"predict")."""
        if kind not in EPOCH_KINDS:
            raise ValueError(f"kind must be train, evaluate or predict; got {kind!r}")
        values = scalar_metrics(metrics)
        with self._lock:
            epoch, step, first_nan = self._book.epoch(kind, values, epoch, step)
            ask = self._ask_for_config()
        doc_id, doc = documents.epoch_record(kind, epoch, step, values, seconds, avg_seconds)
        if self.writer:
            self.writer.add_epoch(doc_id, doc)
            if first_nan or ask:
                self.writer.update_session({"nan": True} if first_nan else {}, urgent=True)

    def _owner_doc(self) -> dict:
        """`private/owner`: this run's key, and the workspace (read by the rules and the
        functions only: a share link never reveals it)."""
        doc = {"key": self.owner_key}
        if self.workspace:
            doc["workspace"] = self.workspace
        return doc

    def _live_fields(self) -> dict:
        """The fields the writer adds to every session update (called on its thread)."""
        with self._lock:
            fields = self._book.live_fields()
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
        if status not in ENDED_STATUSES:
            raise ValueError(f"status must be finished, crashed or stopped; got {status!r}")
        self.status = status
        if not self.writer:
            return False
        self.writer.update_session(documents.end_fields(status, error, SERVER_TIME), urgent=True)
        self.writer.heartbeat_on(False)
        self.writer.close_when_idle()
        from tfwatcher.base.display import conceal

        conceal(self)  # the owner link leaves the notebook's saved output (never raises)
        if wait:
            return self.writer.flush(wait)
        return (not self.writer.disabled and self.writer.pending() == 0
                and not self.writer.left_in_spool[0])

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


def shared_session(**kwargs) -> Session:
    """The process's open session (created on first use), so callbacks share one dashboard."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared.status in ENDED_STATUSES:
            _shared = Session(**kwargs)
        return _shared


def _flush_at_exit() -> None:
    """At interpreter exit, wait a bounded time for every writer, spool what is left and
    say so (at_exit.py)."""
    at_exit.flush_sessions(list(_SESSIONS))


atexit.register(_flush_at_exit)
