"""When a run starts and ends, and what happens when it crashes.

Several callbacks can record into one session during one `fit()`: the first to begin marks
the session running, the last to end marks it finished. Keras calls no hook when `fit()`
raises, so a crash is caught where Python reports it: `sys.excepthook` for scripts and
IPython's `post_run_cell` event for notebooks (Colab, Kaggle, Jupyter). Either marks every
session with a run still open `crashed` (or `stopped` on KeyboardInterrupt), with the
exception's type and message, after its buffered points are flushed.

Custom loops (`Session.start()` ... `finish()`) in a notebook get the same from the same
cell event: an exception that escapes a cell while a run is open ends that run `crashed`
(`stopped` for KeyboardInterrupt, as in Keras and `with Session()`), which also conceals its
owner link. A script's uncaught exception is handled at exit (at_exit.py).

`_lock` guards `_active`, `_cell_runs` and the flags; it is never held while calling a session.
"""

from __future__ import annotations

import sys
import threading
import weakref

_active: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # session -> set of callback ids
_cell_runs: "weakref.WeakSet" = weakref.WeakSet()  # sessions started while IPython runs cells
_lock = threading.Lock()
_installed = False      # sys.excepthook chained (callbacks)
_cells_watched = False  # IPython's post_run_cell hooked
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
    if error is None:
        error = RuntimeError("training ended without finishing (exception caught by the caller?)")
    _end(sessions, error)


def cell_failed(error: BaseException) -> None:
    """An exception escaped a notebook cell: end every run still open in a session that
    `watch_cells` was given (crashed, or stopped for KeyboardInterrupt)."""
    with _lock:
        sessions = [s for s in _cell_runs if s.status == "running"]
    _end(sessions, error)


def _end(sessions, error: BaseException) -> None:
    status = "stopped" if isinstance(error, KeyboardInterrupt) else "crashed"
    for session in sessions:
        try:
            session.finish(status, error=error if status == "crashed" else None,
                           wait=CRASH_FLUSH_SECONDS)
        except Exception as err:  # never make a crash worse: say so, and go on with the others
            _warn_not_ended(session, status, err)


def _warn_not_ended(session, status: str, err: Exception) -> None:
    """One line on stderr: this session could not be marked `status`; what happens next."""
    print(f"tfwatcher: could not mark session {getattr(session, 'id', '?')} {status} "
          f"({type(err).__name__}: {err}); the dashboard shows the run as stalled once its "
          f"heartbeats stop, and its points logged so far are kept.", file=sys.stderr)


def install() -> None:
    """Hook crash detection into the interpreter and IPython, once per process."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    previous = sys.excepthook

    def excepthook(exc_type, exc, tb):
        crash(exc)
        previous(exc_type, exc, tb)

    sys.excepthook = excepthook
    _watch_ipython()


def watch_cells(session) -> None:
    """Called by `Session.start()`: in IPython, a cell that raises while this run is open ends
    it. Outside IPython nothing happens (a script's crash is handled at exit)."""
    if _watch_ipython():
        with _lock:
            _cell_runs.add(session)


def _watch_ipython() -> bool:
    """Register the cell hook with the running IPython, once. False outside IPython."""
    global _cells_watched
    module = sys.modules.get("IPython")
    get_ipython = getattr(module, "get_ipython", None)
    ip = get_ipython() if get_ipython is not None else None
    if ip is None:
        return False
    with _lock:
        first = not _cells_watched
        _cells_watched = True
    if first:
        ip.events.register("post_run_cell", _after_cell)
    return True


def _after_cell(result) -> None:
    error = getattr(result, "error_in_exec", None)
    # A fit that ended normally has left _active empty; anything left is a crash, even if
    # the cell caught the exception itself.
    if any(_active.values()):
        crash(error)
    if error is not None:
        cell_failed(error)
