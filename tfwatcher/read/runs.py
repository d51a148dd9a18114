"""A workspace's runs from the terminal and from Python: `tfwatcher runs` (also `tfwatcher
watch --workspace`) and the reads behind `tfwatcher.load(workspace=...)`.

The run index (`workspaces/{wid}/runs/{sid}`, one small document per run, docs/schema.md) is
what both read. `tfwatcher runs` listens (a Firestore realtime listener) to one query, the
`page_size` (50) newest started runs, as the workspace page's all-runs query does: its cost is
those documents once, then one read per run that changes, whatever the size of the workspace.
`read_all_runs` pages through every run, `max_query_limit` (100) per request. What a frame
shows is `runs_view`.

Which workspace: `--workspace` (an ID or its link), else `TFWATCHER_WORKSPACE`, else the
default workspace of this machine (`tfwatcher workspace new` made it).
"""

from __future__ import annotations

import math
import os
import threading
import time
from datetime import datetime, timezone

from tfwatcher.base import contract, ids
from tfwatcher.base import workspaces as store
from tfwatcher.read.firestore import (ReadCounter, close, command_inputs, describe_error, read_pages,
                                      retry_policy)
from tfwatcher.read.runs_view import STALLED, line, line_key, render, row, view_model
from tfwatcher.read.untrusted import terminal_text

PAGE_SIZE: int = contract.CONTRACT["workspaces"]["page_size"]          # the live list
PAGE_ALL: int = contract.CONTRACT["workspaces"]["max_query_limit"]     # load: per request


def resolve_workspace(text: str | None = None) -> str:
    """The workspace meant: `text`, else TFWATCHER_WORKSPACE, else this machine's default.
    ValueError saying what is wrong or missing (`store.StoreError` is one)."""
    if text is not None and str(text).strip():
        source, value = "--workspace", text
    elif os.environ.get(store.ENV, "").strip():
        source, value = store.ENV, os.environ[store.ENV]
    else:
        wid = store.default()
        if wid is None:
            raise ValueError(f"no workspace given: pass --workspace ID (or its link), set "
                             f"{store.ENV}, or make one with `tfwatcher workspace new`")
        return wid
    try:
        return ids.parse_workspace(value)
    except ValueError as err:
        raise ValueError(f"{source}: {err}") from None


def runs_collection(client, wid: str):
    """`workspaces/{wid}/runs`."""
    return (client.collection(contract.COLLECTIONS["workspaces"]).document(wid)
            .collection(contract.COLLECTIONS["runs"]))


def newest_query(client, wid: str, limit: int = PAGE_SIZE):
    """The `limit` newest started runs (the page's all-runs query)."""
    from google.cloud import firestore

    return (runs_collection(client, wid).order_by("started", direction=firestore.Query.DESCENDING)
            .limit(limit))


def read_all_runs(client, wid: str, timeout: float = 10.0, page: int = PAGE_ALL,
                  counter: ReadCounter | None = None) -> list[tuple[str, dict]]:
    """Every run index document of the workspace as (session ID, data), `page` per request, in
    document-ID order (every document, whatever fields it lacks)."""
    docs = read_pages(runs_collection(client, wid), page, timeout, counter or ReadCounter())
    return [(d.id, d.to_dict() or {}) for d in docs]


#: The columns of `runs_frame`: the run index fields (docs/schema.md), then `stalled`.
RUN_COLUMNS = ("sid", "name", "status", "stalled", "active", "run", "created", "started",
               "updated", contract.HEARTBEAT_FIELD, "epoch", "epochs", "step", "steps", "loss",
               "val_loss", "spark")


def load_workspace(workspace: str, project: str | None = None, credentials=None,
                   timeout: float = 10.0):
    """`load(workspace=...)`: every run of the workspace, as `runs_frame`."""
    from tfwatcher.base import project as projects

    wid = ids.parse_workspace(workspace)
    target = projects.resolve(project, credentials)
    client = target.client()
    counter = ReadCounter()
    try:
        docs = read_all_runs(client, wid, timeout=timeout, counter=counter)
    finally:
        close(client)
    frame = runs_frame(docs)
    frame.attrs.update({"workspace": wid, "project": target.project, "reads": counter.reads})
    return frame


def runs_frame(docs, now: float | None = None):
    """One row per run: the index fields as stored (times as UTC datetimes, counts as Int64,
    losses as float64 with NaN where unknown), plus `stalled`: stored so, or (the page's
    judgement) an active run silent longer than `contract.stall_after(heartbeat_every)`.
    Newest started first.
    `docs`: (session ID, index document) pairs."""
    from tfwatcher.read.load import require_pandas

    pd = require_pandas()
    now = time.time() if now is None else now
    data: dict[str, list] = {c: [] for c in RUN_COLUMNS}
    for sid, d in docs:
        shown = row(sid, d, now)
        data["sid"].append(sid)
        data["stalled"].append(bool(shown and shown["shown"] == STALLED))
        for key in RUN_COLUMNS:
            if key in ("sid", "stalled"):
                continue
            value = d.get(key)
            if key == "spark":
                value = list(value) if isinstance(value, list) else []
            data[key].append(value)
    frame = pd.DataFrame(data, columns=list(RUN_COLUMNS))
    for key in ("created", "started", "updated"):
        frame[key] = pd.to_datetime(frame[key].map(_datetime), utc=True)
    for key in ("run", "epoch", "epochs", "step", "steps"):
        frame[key] = pd.array([_int(v) for v in frame[key]], dtype="Int64")
    for key in ("loss", "val_loss", contract.HEARTBEAT_FIELD):
        frame[key] = pd.array([_float(v) for v in frame[key]], dtype="float64")
    frame["active"] = frame["active"].map(lambda v: v is True).astype(bool)
    frame["stalled"] = frame["stalled"].astype(bool)
    for key in ("sid", "name", "status"):
        frame[key] = frame[key].astype(object)
    frame = frame.sort_values(["started", "sid"], ascending=False, na_position="last", kind="stable")
    return frame.reset_index(drop=True)


def _datetime(value):
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return None


def _int(value):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    return int(value) if ok else None


def _float(value):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    return float(value) if ok else math.nan


class RunsListener:
    """The listener of the newest runs and what it delivered. Its callback runs on the
    client's thread and only stores under `lock`; the main thread renders."""

    def __init__(self, client, wid: str, limit: int = PAGE_SIZE, counter: ReadCounter | None = None):
        self.query = newest_query(client, wid, limit)
        self.counter = counter or ReadCounter()
        self.lock = threading.Lock()
        self.docs: dict[str, dict] = {}
        self.changed = threading.Event()
        self.first = threading.Event()
        self._watch = None

    def start(self) -> None:
        self._watch = self.query.on_snapshot(self._on_snapshot)

    def _on_snapshot(self, docs, changes, _read_time) -> None:
        self.counter.delivered(changes, docs)
        with self.lock:
            self.docs = {d.id: d.to_dict() or {} for d in docs}
        self.changed.set()
        self.first.set()

    def snapshot(self) -> dict:
        with self.lock:
            return dict(self.docs)

    def stop(self) -> None:
        watch, self._watch = self._watch, None
        if watch is not None:
            try:
                watch.unsubscribe()
            except Exception:  # the client's close ends its stream anyway
                pass


def runs_command(workspace: str | None = None, project: str | None = None, once: bool = False,
                 timeout: float = 10.0, console=None, max_seconds: float | None = None,
                 stop: threading.Event | None = None) -> int:
    """`tfwatcher runs`: 0 after --once or Ctrl+C (or `max_seconds`, or once `stop` is set),
    1 when the runs could not be read, 2 bad input (no workspace, a malformed one, no project)."""
    from rich.console import Console

    console = console or Console(highlight=False)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    prefix = "tfwatcher runs:"
    wid, target = command_inputs(prefix, resolve_workspace, workspace, timeout, project, err)
    if target is None:
        return 2
    hint = _project_hint(wid, target.project)
    client = listener = None
    counter = ReadCounter()
    try:
        client = target.client()
        if once:
            docs = newest_query(client, wid).get(retry=retry_policy(timeout), timeout=timeout)
            counter.query(len(docs))
            model = view_model(wid, {d.id: d.to_dict() or {} for d in docs}, reads=counter.reads,
                               limit=PAGE_SIZE, hint=hint)
            console.print(render(model, console.width, live=False))
            return 0
        # One plain read first: no access or no network is one message within `timeout`
        # seconds (a listener would retry silently for ever).
        probe = newest_query(client, wid, 1).get(retry=retry_policy(timeout), timeout=timeout)
        counter.query(len(probe))
        listener = RunsListener(client, wid, counter=counter)
        listener.start()
        if not listener.first.wait(timeout):
            raise TimeoutError(f"no answer from Firestore within {timeout:g} s")
        return _loop(listener, console, wid, hint, max_seconds, stop or threading.Event())
    except KeyboardInterrupt:
        return 0
    except Exception as e:
        text = describe_error(e, target.project, timeout).replace("reading the session", "reading the runs")
        err.print(f"{prefix} {terminal_text(text)}", markup=False)
        return 1
    finally:
        if listener is not None:
            listener.stop()
        if client is not None:
            close(client)


def _project_hint(wid: str, project: str) -> str | None:
    """When this machine made the workspace in another project: say so (shown if it is empty)."""
    try:
        entry = store.get(wid)
    except ValueError:
        return None
    made_in = entry and entry.get("project")
    if made_in and made_in != project:
        return (f"This workspace was made in project {made_in!r}, and this reads {project!r}: "
                f"pass --project {made_in} (or set TFWATCHER_PROJECT).")
    return None


def _loop(listener: RunsListener, console, wid: str, hint: str | None,
          max_seconds: float | None, stop: threading.Event) -> int:
    """Redraw on every change (and every half second: stall judgements age); without a
    terminal, one line per run whose status or epoch changed. Ends on Ctrl+C."""
    from rich.live import Live

    def frame():
        return view_model(wid, listener.snapshot(), reads=listener.counter.reads,
                          limit=PAGE_SIZE, hint=hint)

    started = time.monotonic()
    live = None
    printed: dict[str, tuple] = {}
    try:
        if console.is_terminal:
            live = Live(render(frame(), console.width), console=console, refresh_per_second=4)
            live.start()
        else:
            console.print(render(frame(), console.width, live=False))
            printed = {r["sid"]: line_key(r) for r in frame()["rows"]}
        while not stop.is_set() and (max_seconds is None
                                     or time.monotonic() - started < max_seconds):
            listener.changed.wait(0.5)
            listener.changed.clear()
            model = frame()
            if live is not None:
                live.update(render(model, console.width))
                continue
            clock = datetime.now().strftime("%H:%M:%S")
            for r in model["rows"]:
                key = line_key(r)
                if printed.get(r["sid"]) != key:
                    printed[r["sid"]] = key
                    console.print(line(r, clock), markup=False, highlight=False, soft_wrap=True)
    except KeyboardInterrupt:
        pass
    finally:
        if live is not None:
            live.stop()
    console.print("Stopped watching the workspace (its runs go on).", style="dim")
    return 0
