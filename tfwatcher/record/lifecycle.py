"""When a run starts and ends, and what happens when it crashes.

Several callbacks can record into one session during one `fit()`: the first to begin marks
the session running, the last to end marks it finished. Keras calls no hook when `fit()`
raises, so a crash is caught where Python reports it: `sys.excepthook` for scripts and
IPython's `post_run_cell` event for notebooks (Colab, Kaggle, Jupyter). Either marks every
session with a run still open `crashed` (or `stopped` on KeyboardInterrupt), with the
exception's type and message, after its buffered points are flushed.
"""

from __future__ import annotations

import sys
import threading
import weakref

_active: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # session -> set of callback ids
_lock = threading.Lock()
_installed = False
CRASH_FLUSH_SECONDS = 10.0


def begin(session, callback, mode: str, epochs=None, steps=None) -> int:
    """Register `callback` as running in `session`; start the session if it is the first.
    Returns the session's train step before this run (global steps continue from it)."""
    with _lock:
        running = _active.setdefault(session, set()) if session.id else set()
        first = not running
        running.add(id(callback))
    if first:
        session.start(mode, epochs=epochs, steps=steps)
    return session.train_step() if session.id else 0


def end(session, callback, kind, step, epoch=None) -> None:
    if kind and step is not None and session.id:
        session.mark_step(kind, step, epoch)
    with _lock:
        running = _active.get(session) if session.id else None
        if not running or id(callback) not in running:
            return
        running.discard(id(callback))
        last = not running
    if last:
        session.finish("stopped" if session.stop_requested else "finished")


def crash(error: BaseException | None) -> None:
    """Mark every session with an open run crashed (stopped for KeyboardInterrupt)."""
    with _lock:
        sessions = [s for s, running in _active.items() if running]
        for s in sessions:
            _active[s] = set()
    status = "stopped" if isinstance(error, KeyboardInterrupt) else "crashed"
    if error is None:
        error = RuntimeError("training ended without finishing (exception caught by the caller?)")
    for session in sessions:
        try:
            session.finish(status, error=error if status == "crashed" else None,
                           wait=CRASH_FLUSH_SECONDS)
        except Exception:  # never make a crash worse
            pass


def install() -> None:
    """Hook crash detection into the interpreter and IPython, once per process."""
    global _installed
    if _installed:
        return
    _installed = True
    previous = sys.excepthook

    def excepthook(exc_type, exc, tb):
        crash(exc)
        previous(exc_type, exc, tb)

    sys.excepthook = excepthook
    ipython = sys.modules.get("IPython")
    ip = ipython.get_ipython() if ipython is not None and hasattr(ipython, "get_ipython") else None
    if ip is not None:
        def post_run_cell(result):
            # A fit that ended normally has left _active empty; anything left is a crash,
            # even if the cell caught the exception itself.
            if any(_active.values()):
                crash(getattr(result, "error_in_exec", None))

        ip.events.register("post_run_cell", post_run_cell)
