"""Adapters for other training frameworks: thin layers over `tfwatcher.Session`.

    from tfwatcher.integrations.huggingface import TFWatcherCallback   # transformers.Trainer
    from tfwatcher.integrations.lightning import TFWatcherLogger       # PyTorch Lightning

Importing this package imports no framework; each submodule imports its own. See
docs/integrations.md for what each records and when.
"""

from __future__ import annotations

import os
import warnings

from tfwatcher.record.session import Session, normalize_config, shared_session

__all__ = ["make_session", "Off", "rank_from_env", "stop_allowed", "SESSION_OPTIONS"]

SESSION_OPTIONS = frozenset({"project", "credentials", "run_name", "dashboard_url", "quiet",
                             "interval", "heartbeat", "system_metrics",
                             "unwatched_every", "workspace"})


class Off:
    """Stands in for a session on processes that must not write (ranks other than 0)."""

    stop_requested = False
    id = None
    run = 0
    status = "off"

    def train_step(self) -> int:
        return 0

    def last_epoch(self) -> int:
        return 0

    def __getattr__(self, _name):
        return lambda *a, **k: None


def rank_from_env() -> int:
    """The global rank named by the launcher's environment (torchrun, accelerate, SLURM,
    Lightning), 0 when none is set."""
    for name in ("RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK", "LOCAL_RANK"):
        value = os.environ.get(name)
        if value not in (None, ""):
            try:
                return int(value)
            except ValueError:
                continue
    return 0


def make_session(session, session_options: dict, writes: bool, config=None):
    """The session an adapter records into: `session` if given, else a new one built from
    `session_options`, else the process's shared one; `Off()` where this process must not write.
    `config` (hyperparameters) goes into the new session, or is merged into the given or shared
    one. Arguments are checked even where nothing is written, so a typo fails on every rank."""
    flat = normalize_config(config)
    if session is not None and not isinstance(session, Session):
        raise ValueError(f"session must be a tfwatcher.Session; got {type(session).__name__}")
    unknown = set(session_options) - SESSION_OPTIONS
    if unknown:
        raise TypeError(f"unexpected argument(s): {', '.join(sorted(unknown))}")
    if session is not None and session_options:
        raise TypeError("pass either session= or the options of a new session, not both")
    if not writes:
        return Off()
    if session_options:
        return Session(config=flat or None, **session_options)
    session = session if session is not None else shared_session()
    if flat:
        session.set_config(flat)
    return session


_warned_stop = False


def stop_allowed(world_size) -> bool:
    """Whether the dashboard's Stop may act: not in multi-process training, where stopping the
    main process alone would leave the others blocked in their next collective (the frameworks
    do not share a callback's stop decision). Warns once there instead."""
    global _warned_stop
    try:
        if int(world_size or 1) <= 1:
            return True
    except (TypeError, ValueError):
        return True
    if not _warned_stop:
        _warned_stop = True
        warnings.warn("tfwatcher: Stop was pressed on the dashboard, but this run has "
                      f"{world_size} processes; stopping one would leave the others blocked, so "
                      "training goes on. Stop it from where it was launched.", RuntimeWarning,
                      stacklevel=3)
    return False
