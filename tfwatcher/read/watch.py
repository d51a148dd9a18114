"""`tfwatcher watch SID`: a live view of a session in the terminal, for people on SSH.

`SessionListener` listens (Firestore realtime listeners) to three things only, so its cost
does not grow with the length of the run:
  * the session document (status, plan, progress, latest values; one read per update);
  * the newest `EPOCH_WINDOW` epoch records, by time;
  * the newest one or two batch chunks of the kind being run (found with one count query,
    then a key-range listener moved forward as chunks fill up): never the whole collection.
`watch_command` ends by itself when the session finishes, crashes or is stopped (printing the
final state), or on Ctrl+C; it unsubscribes the listeners and closes its client on the way
out. `--once` prints one frame and exits. Without a terminal (piped, or in a log) it prints one
line per change instead of redrawing. What a frame shows is `watch_view`.

Locks: `SessionListener.lock` guards what the listeners delivered; `ReadCounter` has its own.
Neither is taken while the other is held (the counter is called outside `lock`).
"""

from __future__ import annotations

import threading
import time
import warnings

from tfwatcher.base import contract, ids
from tfwatcher.base.packed import unpack_chunk
from tfwatcher.read.firestore import (
    ReadCounter,
    close,
    command_inputs,
    describe_error,
    read_session_document,
    retry_policy,
    session_ref,
)
from tfwatcher.read.untrusted import terminal_text
from tfwatcher.read.watch_view import (  # noqa: F401  (re-exported: tfwatcher.read.watch.X)
    EPOCH_WINDOW,
    batch_kind_of_mode,
    main_metrics,
    render,
    sparkline,
    status_line,
    view_model,
)

LINE_EVERY = 5.0          # seconds between status lines without a terminal
ENDED = contract.ENDED_STATUSES


class SessionListener:
    """The listeners of one session and what they delivered. Listener callbacks run on the
    client's threads: they only store under `lock`; the main thread renders and moves the
    chunk window (`follow_batches`)."""

    def __init__(self, client, sid: str, batches: bool = True, counter: ReadCounter | None = None):
        self.client = client
        self.sid = sid
        self.root = session_ref(client, sid)
        self.batches_on = batches
        self.counter = counter or ReadCounter()
        self.lock = threading.Lock()
        self.session: dict = {}
        self.epochs: dict[str, dict] = {}
        self.chunks: dict[str, dict] = {}
        self.changed = threading.Event()
        self.last_change = time.monotonic()
        self._watches: dict[str, object] = {}
        self._first = {"session": threading.Event(), "epochs": threading.Event(),
                       "batches": threading.Event()}
        self.batch_kind: str | None = None
        self.batch_start = 0
        self._batch_mode = None
        self._chunk_gen = 0
        self._unsubscribe_warned = False

    # ----- listeners ----------------------------------------------------------------------------

    def start(self) -> None:
        from google.cloud import firestore

        self._watches["session"] = self.root.on_snapshot(self._on_session)
        query = (self.root.collection(contract.COLLECTIONS["epochs"])
                 .order_by("time", direction=firestore.Query.DESCENDING).limit(EPOCH_WINDOW))
        self._watches["epochs"] = query.on_snapshot(self._on_epochs)
        if not self.batches_on:
            self._first["batches"].set()

    def _touch(self) -> None:
        self.last_change = time.monotonic()
        self.changed.set()

    def _on_session(self, docs, _changes, _read_time) -> None:
        self.counter.query(1)
        with self.lock:
            for snap in docs:
                self.session = (snap.to_dict() or {}) if snap.exists else {}
            self._touch()
        self._first["session"].set()

    def _on_epochs(self, docs, changes, _read_time) -> None:
        self.counter.delivered(changes, docs)
        with self.lock:
            self.epochs = {d.id: d.to_dict() or {} for d in docs}
            self._touch()
        self._first["epochs"].set()

    def _chunk_callback(self, gen: int):
        def on_chunks(docs, changes, _read_time):
            with self.lock:
                current = gen == self._chunk_gen
                if current:
                    for d in docs:
                        self.chunks[d.id] = unpack_chunk(d.to_dict() or {})
                    self._touch()
            if not current:  # an earlier window, being replaced
                return
            self.counter.delivered(changes, docs)
            self._first["batches"].set()
        return on_chunks

    def _chunk_query(self, kind: str, start: int):
        """The chunks of `kind` from index `start` on: a range of document IDs, from
        `chunk_id(kind, start)` up to the first ID past the kind's prefix."""
        from google.cloud import firestore
        from google.cloud.firestore_v1.field_path import FieldPath

        col = self.root.collection(contract.COLLECTIONS["batches"])
        key = FieldPath.document_id()
        template = contract.DOCUMENTS["chunk"]
        prefix = contract.fill(template[:template.index("{index")], kind=kind)  # "train-"
        past = prefix[:-1] + chr(ord(prefix[-1]) + 1)  # "train.": after every chunk of the kind
        return (col.where(filter=firestore.FieldFilter(key, ">=", col.document(contract.chunk_id(kind, start))))
                   .where(filter=firestore.FieldFilter(key, "<", col.document(past))))

    def _count(self, kind: str, timeout: float) -> int:
        """How many chunks of `kind` there are; chunk indices are contiguous from 0, so the
        newest is this minus one. One count query, billed one read per 1,000 chunks."""
        query = self._chunk_query(kind, 0)
        result = query.count().get(retry=retry_policy(timeout), timeout=timeout)
        n = int(result[0][0].value)
        self.counter.count(n)
        return n

    def follow_batches(self, timeout: float = 10.0) -> None:
        """(Main thread.) Listen to the newest chunks of the kind the session runs; move the
        window forward once a newer chunk has appeared, keeping the previous one for history."""
        if not self.batches_on:
            return
        with self.lock:
            mode = self.session.get("mode")
            ended = self.session.get("status") in ENDED
            current, start, decided = self.batch_kind, self.batch_start, self._batch_mode
            newest = max((c.get("index", 0) for c in self.chunks.values()
                          if c.get("kind") == current), default=None)
        if current is None or mode != decided:
            kind = batch_kind_of_mode(mode)
            count = self._count(kind, timeout)
            if count == 0 and kind != "train" and ended:
                # a finished evaluate/predict that logged no batches (the default callbacks
                # do not): the training batches are worth showing instead
                train = self._count("train", timeout)
                if train:
                    kind, count = "train", train
            self._batch_mode = mode
            if kind == current:
                return
            start = max(0, count - 2)
        elif newest is not None and newest - start >= 2:
            kind, start = current, newest - 1
        else:
            return
        self._unwatch("batches")
        with self.lock:
            self._chunk_gen += 1
            gen = self._chunk_gen
            self.batch_kind, self.batch_start = kind, start
            self.chunks = {k: v for k, v in self.chunks.items()
                           if v.get("kind") == kind and v.get("index", 0) >= start}
        self._watches["batches"] = self._chunk_query(kind, start).on_snapshot(self._chunk_callback(gen))

    def wait_session(self, timeout: float) -> bool:
        """Wait until the session listener has answered once; False after `timeout` seconds."""
        return self._first["session"].wait(timeout)

    def wait_first(self, timeout: float) -> bool:
        """Wait until every listener has answered once; False after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        for event in self._first.values():
            if not event.wait(max(0.0, deadline - time.monotonic())):
                return False
        return True

    def _unwatch(self, name: str) -> None:
        watch = self._watches.pop(name, None)
        if watch is None:
            return
        try:
            watch.unsubscribe()
        except Exception as err:  # the client's close ends its stream anyway
            if not self._unsubscribe_warned:
                self._unsubscribe_warned = True
                warnings.warn(f"tfwatcher watch: could not unsubscribe the {name} listener "
                              f"({type(err).__name__}: {err}); it ends when the client is "
                              f"closed", RuntimeWarning, stacklevel=2)

    def stop(self) -> None:
        for name in list(self._watches):
            self._unwatch(name)

    # ----- what to show -------------------------------------------------------------------------

    def snapshot(self) -> dict:
        reads = self.counter.reads  # the counter's lock, never inside ours
        with self.lock:
            return {"session": dict(self.session), "epochs": list(self.epochs.values()),
                    "chunks": sorted(self.chunks.values(), key=lambda c: c.get("index", 0)),
                    "kind": self.batch_kind, "reads": reads}


def __getattr__(name: str):
    if name == "Watcher":
        warnings.warn("tfwatcher.read.watch.Watcher is now SessionListener (Watcher is the "
                      "Keras callback, tfwatcher.callbacks.Watcher); the old name will be "
                      "removed in a later version", DeprecationWarning, stacklevel=2)
        return SessionListener
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def watch_command(sid_text: str, project: str | None = None, once: bool = False,
                  batches: bool = True, timeout: float = 10.0, console=None,
                  max_seconds: float | None = None) -> int:
    """`tfwatcher watch`: 0 when the session ended (or on Ctrl+C, or after --once), 1 when it
    could not be read, 2 bad input."""
    from rich.console import Console

    console = console or Console(highlight=False)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    prefix = "tfwatcher watch:"
    sid, target = command_inputs(prefix, ids.parse, sid_text, timeout, project, err)
    if target is None:
        return 2
    client = listener = None
    try:
        client = target.client()
        # One plain read first: an unknown ID, no access or no network is one message in
        # `timeout` seconds (a listener would retry silently for ever).
        read_session_document(client, sid, timeout, target.project)
        counter = ReadCounter()
        counter.query(1)
        listener = SessionListener(client, sid, batches=batches, counter=counter)
        listener.start()
        if not listener.wait_session(timeout):
            raise TimeoutError(f"no answer from Firestore within {timeout:g} s")
        listener.follow_batches(timeout)
        if not listener.wait_first(timeout):
            raise TimeoutError(f"no answer from Firestore within {timeout:g} s")
        return _loop(listener, console, err, sid, once, max_seconds)
    except KeyboardInterrupt:
        return 0
    except Exception as e:
        err.print(f"{prefix} {terminal_text(describe_error(e, target.project, timeout))}",
                  markup=False)
        return 1
    finally:
        if listener is not None:
            listener.stop()
        if client is not None:
            close(client)


def _frame(listener: SessionListener, sid: str):
    snap = listener.snapshot()
    snap["sid"] = sid
    return view_model(snap)


def _loop(listener: SessionListener, console, err, sid: str, once: bool,
          max_seconds: float | None) -> int:
    from rich.live import Live

    if once:
        console.print(render(_frame(listener, sid), console.width, live=False))
        return 0
    started = time.monotonic()
    ended_at = None
    live = None
    last_line = last_key = None
    last_print = 0.0
    warned = False
    try:
        if console.is_terminal:
            live = Live(render(_frame(listener, sid), console.width), console=console,
                        refresh_per_second=4, transient=False)
            live.start()
        else:
            console.print(render(_frame(listener, sid), console.width))
        while True:
            listener.changed.wait(0.5)
            listener.changed.clear()
            try:
                listener.follow_batches()
            except Exception as e:  # the next tick tries again; the frame shows the data's age
                if not warned:
                    warned = True
                    err.print(f"tfwatcher watch: could not follow the newest batches "
                              f"({terminal_text(describe_error(e))}); trying again every half "
                              f"second, and the frame shows how old its data is.", markup=False)
            model = _frame(listener, sid)
            if live is not None:
                live.update(render(model, console.width))
            else:
                # a log, not a screen: a line when the status or epoch changes, else at most
                # one every LINE_EVERY seconds (and only if something changed)
                line = status_line(model)
                key = (model["status"], model["epoch"])
                body = line.split("  ", 1)[1]
                if body != last_line and (key != last_key
                                          or time.monotonic() - last_print >= LINE_EVERY):
                    console.print(line, markup=False, highlight=False, soft_wrap=True)
                    last_line, last_key, last_print = body, key, time.monotonic()
            if model["status"] in ENDED:
                # The last points and epochs follow the status: wait until it is quiet.
                ended_at = ended_at or time.monotonic()
                quiet = time.monotonic() - listener.last_change
                if quiet >= 1.5 or time.monotonic() - ended_at > 8:
                    break
            if max_seconds is not None and time.monotonic() - started > max_seconds:
                break
    except KeyboardInterrupt:
        if live is not None:
            live.stop()
            live = None
        console.print("Stopped watching (the run itself goes on).", style="dim")
        return 0
    final = render(_frame(listener, sid), console.width, live=False)  # the run ended: no Ctrl+C
    if live is not None:
        live.update(final)
        live.stop()
    else:
        console.print(final)
    return 0
