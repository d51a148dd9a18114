"""`tfwatcher watch SID`: a live view of a session in the terminal, for people on SSH.

It listens (Firestore realtime listeners) to three things only, so its cost does not grow with
the length of the run:
  * the session document (status, plan, progress, latest values; one read per update);
  * the newest `EPOCH_WINDOW` epoch records, by time;
  * the newest one or two batch chunks of the kind being run (found with one count query,
    then a key-range listener moved forward as chunks fill up): never the whole collection.
It ends by itself when the session finishes, crashes or is stopped (printing the final
state), or on Ctrl+C; it unsubscribes its listeners and closes its client on the way out.
`--once` prints one frame and exits. Without a terminal (piped, or in a log) it prints one
line per change instead of redrawing.
"""

from __future__ import annotations

import math
import threading
import time
from datetime import datetime, timezone

from tfwatcher.base import ids
from tfwatcher.read.load import ReadCounter, _close, _fit, _retry, describe_error, resolve_target

SPARK = "▁▂▃▄▅▆▇█"
EPOCH_WINDOW = 120        # newest epoch records listened to
SPARK_WIDTH = 40
BAR_WIDTH = 50
MAX_METRICS = 8
LINE_EVERY = 5.0          # seconds between status lines without a terminal
ENDED = ("finished", "crashed", "stopped")
KIND_FOR_MODE = {"fit": "train", "custom": "train", "evaluate": "test", "predict": "predict"}
STATUS_STYLE = {"running": "bold green", "finished": "bold blue", "crashed": "bold red",
                "stopped": "bold yellow", "stalled": "bold magenta", "new": "dim"}


def sparkline(values, width: int = SPARK_WIDTH) -> str:
    """Unicode block characters for `values` (the last value of each of `width` buckets);
    NaN and ±inf are `×`."""
    values = list(values)
    if not values:
        return ""
    if len(values) > width:
        n = len(values)
        values = [values[min(n - 1, ((i + 1) * n) // width - 1)] for i in range(width)]
    finite = [v for v in values if v is not None and math.isfinite(v)]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 0.0)
    out = []
    for v in values:
        if v is None:
            out.append(" ")
        elif not math.isfinite(v):
            out.append("×")
        elif hi == lo:
            out.append(SPARK[3])
        else:
            out.append(SPARK[min(len(SPARK) - 1, int((v - lo) / (hi - lo) * (len(SPARK) - 1) + 0.5))])
    return "".join(out)


def main_metrics(names, limit: int = MAX_METRICS) -> list[str]:
    """loss first, then val_loss, then each other metric followed by its val_ twin."""
    names = list(dict.fromkeys(names))
    present = set(names)
    order: list[str] = []

    def add(name):
        if name in present and name not in order:
            order.append(name)

    add("loss")
    add("val_loss")
    for name in names:
        if name.startswith("val_"):
            continue
        add(name)
        add("val_" + name)
    for name in names:
        add(name)
    return order[:limit]


def _fmt_value(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if isinstance(v, (int, float)):
        return f"{v:.4g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.3e}"
    return str(v)


def _fmt_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    if h:
        return f"{h}h {m:02d}m"
    if m:
        return f"{m}m {s:02d}s"
    return f"{s}s"


def _timestamp(value) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.timestamp()
    if isinstance(value, (int, float)):
        return float(value)
    return None


class Watcher:
    """The listeners and what they delivered. Listener callbacks run on the client's threads:
    they only store under `lock`; the main thread renders and moves the chunk window."""

    def __init__(self, client, sid: str, batches: bool = True, counter: ReadCounter | None = None):
        self.client = client
        self.sid = sid
        self.root = client.document(f"sessions/{sid}")
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

    # ----- listeners ----------------------------------------------------------------------------

    def start(self) -> None:
        from google.cloud import firestore

        self._watches["session"] = self.root.on_snapshot(self._on_session)
        query = (self.root.collection("epochs")
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

    def _count_changes(self, changes, docs) -> None:
        billed = sum(1 for c in changes if getattr(c.type, "name", "") in ("ADDED", "MODIFIED"))
        self.counter.reads += billed if (billed or docs) else 1

    def _on_epochs(self, docs, changes, _read_time) -> None:
        with self.lock:
            self._count_changes(changes, docs)
            self.epochs = {d.id: d.to_dict() or {} for d in docs}
            self._touch()
        self._first["epochs"].set()

    def _chunk_callback(self, gen: int):
        def on_chunks(docs, changes, _read_time):
            with self.lock:
                if gen != self._chunk_gen:  # an earlier window, being replaced
                    return
                self._count_changes(changes, docs)
                for d in docs:
                    self.chunks[d.id] = d.to_dict() or {}
                self._touch()
            self._first["batches"].set()
        return on_chunks

    def _chunk_query(self, kind: str, start: int):
        from google.cloud import firestore
        from google.cloud.firestore_v1.field_path import FieldPath

        col = self.root.collection("batches")
        key = FieldPath.document_id()
        return (col.where(filter=firestore.FieldFilter(key, ">=", col.document(f"{kind}-{start:06d}")))
                   .where(filter=firestore.FieldFilter(key, "<", col.document(f"{kind}."))))

    def _count(self, kind: str, timeout: float) -> int:
        """How many chunks of `kind` there are; chunk indices are contiguous from 0, so the
        newest is this minus one. One count query, billed one read per 1,000 chunks."""
        query = self._chunk_query(kind, 0)
        result = query.count().get(retry=_retry(timeout), timeout=timeout)
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
            kind = KIND_FOR_MODE.get(mode or "", "train")
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

    def wait_first(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        for event in self._first.values():
            if not event.wait(max(0.0, deadline - time.monotonic())):
                return False
        return True

    def _unwatch(self, name: str) -> None:
        watch = self._watches.pop(name, None)
        if watch is not None:
            try:
                watch.unsubscribe()
            except Exception:
                pass

    def stop(self) -> None:
        for name in list(self._watches):
            self._unwatch(name)

    # ----- what to show -------------------------------------------------------------------------

    def snapshot(self) -> dict:
        with self.lock:
            return {"session": dict(self.session), "epochs": list(self.epochs.values()),
                    "chunks": sorted(self.chunks.values(), key=lambda c: c.get("index", 0)),
                    "kind": self.batch_kind, "reads": self.counter.reads}


def view_model(snap: dict, now: float | None = None) -> dict:
    """Everything a frame shows, computed from what the listeners delivered."""
    now = time.time() if now is None else now
    session = snap["session"]
    plan = session.get("plan") or {}
    progress = session.get("progress") or {}
    status = session.get("status") or "new"
    train_epochs = sorted((e for e in snap["epochs"] if e.get("kind", "train") == "train"),
                          key=lambda e: e.get("epoch") or 0)
    other_epochs = sorted((e for e in snap["epochs"] if e.get("kind", "train") != "train"),
                          key=lambda e: (e.get("time") or 0))
    # batch points of the chunks in the window, in step order
    points: dict[str, list] = {}
    steps: list = []
    times: list = []
    batch_numbers: list = []
    calls: list = []
    for chunk in snap["chunks"]:
        n = chunk.get("n", len(chunk.get("step") or []))
        steps.extend(_fit(chunk.get("step"), n))
        times.extend(_fit(chunk.get("time"), n))
        batch_numbers.extend(_fit(chunk.get("batch"), n))
        calls.extend(_fit(chunk.get("epoch"), n))
        have = set()
        for s in chunk.get("series") or []:
            values = _fit(s.get("values"), n)
            points.setdefault(s["name"], [None] * (len(steps) - n)).extend(values)
            have.add(s["name"])
        for name, values in points.items():
            if name not in have:
                values.extend([None] * n)
    epoch_dicts = [dict(zip(e.get("names") or [], e.get("values") or [])) for e in train_epochs]
    epoch_names = list(dict.fromkeys(n for d in epoch_dicts for n in d))
    epoch_values = {n: [d.get(n) for d in epoch_dicts] for n in epoch_names}
    latest = {d.get("name"): d.get("value") for d in session.get("latest") or [] if isinstance(d, dict)}
    names = list(session.get("metrics") or []) + list(epoch_values) + list(points)
    rows = []
    for name in main_metrics(names):
        batch = [v for v in points.get(name, []) if v is not None]
        epochs = [v for v in epoch_values.get(name, []) if v is not None]
        last = latest.get(name, epochs[-1] if epochs else batch[-1] if batch else None)
        rows.append({"name": name, "last": last, "batch_values": batch, "epoch_values": epochs})
    # progress and ETA
    epochs_plan, steps_plan = plan.get("epochs"), plan.get("steps")
    epoch, batch = progress.get("epoch") or 0, progress.get("batch") or 0
    done_epochs = max([e.get("epoch") or 0 for e in train_epochs] + [0])
    fraction = None
    total = done = None
    if epochs_plan and steps_plan:
        total = epochs_plan * steps_plan
        done = max((max(epoch, 1) - 1) * steps_plan + min(batch, steps_plan),
                   min(done_epochs, epochs_plan) * steps_plan)
        fraction = min(1.0, done / total)
    elif epochs_plan:
        fraction = min(1.0, done_epochs / epochs_plan)
    running_call = None
    mode = session.get("mode")
    if mode in ("evaluate", "predict"):
        # progress counts train batches; an evaluate/predict call shows its own batches
        fraction = total = done = None
        if snap.get("kind") == KIND_FOR_MODE[mode] and steps:
            running_call = {"call": calls[-1], "batch": batch_numbers[-1] or 0}
            if steps_plan:
                total, done = steps_plan, min(running_call["batch"], steps_plan)
                fraction = done / total
    eta = None
    if status == "running" and fraction is not None and fraction < 1:
        per_step = None
        if len(steps) >= 2 and steps[-1] != steps[0] and times[-1] and times[0]:
            k = max(0, len(steps) - 200)
            if steps[-1] != steps[k]:
                per_step = (times[-1] - times[k]) / (steps[-1] - steps[k])
        if per_step is not None and total is not None:
            eta = max(0.0, per_step * (total - done))
        elif train_epochs and epochs_plan:
            avg = train_epochs[-1].get("avg_seconds") or train_epochs[-1].get("seconds")
            if avg:
                eta = avg * (epochs_plan - done_epochs)
    updates = [_timestamp(session.get("heartbeat"))]
    updates += [times[-1] if times else None]
    updates += [e.get("time") for e in snap["epochs"]]
    updates = [u for u in updates if isinstance(u, (int, float))]
    last_update = max(updates) if updates else None
    evaluations = [(e.get("kind"), e.get("epoch"), dict(zip(e.get("names") or [], e.get("values") or [])))
                   for e in other_epochs[-3:]]
    return {"sid": snap.get("sid", ""), "name": session.get("name") or "", "status": status,
            "mode": session.get("mode"), "plan": plan, "epoch": epoch, "batch": batch,
            "step": progress.get("step") or 0, "fraction": fraction, "eta": eta,
            "last_update": last_update, "age": None if last_update is None else max(0.0, now - last_update),
            "rows": rows, "error": session.get("error"), "evaluations": evaluations,
            "call": running_call,
            "reads": snap.get("reads", 0), "points": len(steps), "batch_kind": snap.get("kind"),
            "epochs_seen": len(train_epochs)}


def render(model: dict, width: int = 80):
    """A rich renderable of one frame, `width` columns wide."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    status = model["status"]
    head = Text()
    head.append("TF Watcher ", style="bold")
    head.append(ids.display_id(model["sid"]) if model["sid"] else "")
    if model["name"]:
        head.append(f"  “{model['name']}”", style="italic")
    line = Text()
    line.append("Status: ")
    line.append(status, style=STATUS_STYLE.get(status, "bold"))
    if model["mode"]:
        line.append(f" ({model['mode']})")
    if model["age"] is not None:
        line.append(f"   Last update: {_fmt_duration(model['age'])} ago")
        if status == "running" and model["age"] > 60:
            line.append("  (no news: stalled?)", style="yellow")
    parts = [head, line]
    plan = model["plan"] or {}
    prog = Text("Progress: ")
    if model["mode"] in ("evaluate", "predict"):
        # session progress counts train batches; a call shows its own batches
        call = model.get("call")
        prog.append(f"{model['mode']} call {call['call']} · batch {call['batch']}" if call
                    else model["mode"])
        if call and plan.get("steps"):
            prog.append(f"/{plan['steps']}")
    else:
        prog.append(f"epoch {model['epoch']}" + (f"/{plan['epochs']}" if plan.get("epochs") else ""))
        if plan.get("steps"):
            prog.append(f" · batch {model['batch']}/{plan['steps']}")
        elif model["batch"]:
            prog.append(f" · batch {model['batch']}")
        prog.append(f" · step {model['step']}")
    if model["fraction"] is not None:
        prog.append(f" · {model['fraction'] * 100:.0f}%")
    if model["eta"] is not None:
        prog.append(f" · ETA {_fmt_duration(model['eta'])}")
    if model["mode"] in ("evaluate", "predict"):
        prog.append(f" (trained: epoch {model['epoch']}, step {model['step']})", style="dim")
    parts.append(prog)
    if model["fraction"] is not None:
        bar_w = min(BAR_WIDTH, width)
        filled = int(round(model["fraction"] * bar_w))
        bar = Text("━" * filled, style="green")
        bar.append("━" * (bar_w - filled), style="grey37")
        parts.append(bar)
    if model["error"]:
        err = model["error"]
        parts.append(Text(f"Error: {err.get('type', '')}: {str(err.get('message', ''))[:300]}",
                          style="red"))
    if model["rows"]:
        names = [row["name"] for row in model["rows"]]
        lasts = [_fmt_value(row["last"]) for row in model["rows"]]
        name_w = min(24, max(6, *map(len, names)))
        last_w = max(4, *map(len, lasts))
        kind = model["batch_kind"] or "train"
        seen = model["epochs_seen"]
        batch_head = f"{kind} batches (latest {model['points']})" if model["points"] else "batches"
        epoch_head = f"epochs (last {seen})" if seen >= EPOCH_WINDOW else f"epochs ({seen})"
        room = max(20, width - name_w - last_w - 6)
        most = max([len(row["epoch_values"]) for row in model["rows"]] + [1])
        epoch_w = max(len(epoch_head), min(most, SPARK_WIDTH, room // 3))
        batch_w = max(10, min(SPARK_WIDTH * 2, room - epoch_w))
        table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
        table.add_column("metric", no_wrap=True, max_width=name_w, overflow="ellipsis")
        table.add_column("last", justify="right", no_wrap=True, min_width=last_w)
        table.add_column(batch_head, no_wrap=True, min_width=min(batch_w, len(batch_head)))
        table.add_column(epoch_head, no_wrap=True, min_width=epoch_w)
        for row, last in zip(model["rows"], lasts):
            table.add_row(row["name"], last, sparkline(row["batch_values"], batch_w),
                          sparkline(row["epoch_values"], epoch_w))
        parts.append(table)
    else:
        parts.append(Text("No metrics yet.", style="dim"))
    for kind, n, values in model["evaluations"]:
        shown = ", ".join(f"{k} {_fmt_value(v)}" for k, v in list(values.items())[:6])
        parts.append(Text(f"{kind} #{n}: {shown}"))
    parts.append(Text(f"{model['reads']} document reads so far · Ctrl+C to leave", style="dim"))
    return Group(*parts)


def status_line(model: dict) -> str:
    """One line per change, for a terminal that cannot redraw (a pipe, a log file)."""
    plan = model["plan"] or {}
    bits = [datetime.now().strftime("%H:%M:%S"), model["status"]]
    bits.append(f"epoch {model['epoch']}" + (f"/{plan['epochs']}" if plan.get("epochs") else ""))
    bits.append(f"step {model['step']}")
    if model["eta"] is not None:
        bits.append(f"ETA {_fmt_duration(model['eta'])}")
    for row in model["rows"][:4]:
        bits.append(f"{row['name']}={_fmt_value(row['last'])}")
    return "  ".join(bits)


def watch_command(sid_text: str, project: str | None = None, once: bool = False,
                  batches: bool = True, timeout: float = 10.0, console=None,
                  max_seconds: float | None = None) -> int:
    """`tfwatcher watch`: 0 when the session ended (or on Ctrl+C, or after --once), 1 when it
    could not be read, 2 bad input."""
    from rich.console import Console

    console = console or Console(highlight=False)
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    prefix = "tfwatcher watch:"
    try:
        sid = ids.parse(sid_text)
    except ValueError as e:
        err.print(f"{prefix} {e}", markup=False)
        return 2
    if not timeout > 0:
        err.print(f"{prefix} --timeout must be a positive number of seconds; got {timeout:g}")
        return 2
    target, why = resolve_target(project)
    if target is None:
        err.print(f"{prefix} {why}", markup=False)
        return 2
    client = watcher = None
    try:
        client = target.client()
        from tfwatcher.read.load import SCHEMA, NewerSchema, SessionNotFound

        # One plain read first: an unknown ID, no access or no network is one message in
        # `timeout` seconds (a listener would retry silently for ever).
        snap = client.document(f"sessions/{sid}").get(retry=_retry(timeout), timeout=timeout)
        if not snap.exists:
            raise SessionNotFound(f"no session {ids.display_id(sid)} in project {target.project!r}: "
                                  f"check the ID (or the project: --project, TFWATCHER_PROJECT)")
        schema = (snap.to_dict() or {}).get("schema", 1)
        if isinstance(schema, int) and schema > SCHEMA:
            raise NewerSchema(f"session {ids.display_id(sid)} was written by a newer TF Watcher "
                              f"(schema {schema}; this one reads {SCHEMA}): upgrade tf-watcher")
        counter = ReadCounter()
        counter.query(1)
        watcher = Watcher(client, sid, batches=batches, counter=counter)
        watcher.start()
        if not watcher._first["session"].wait(timeout):
            raise TimeoutError(f"no answer from Firestore within {timeout:g} s")
        watcher.follow_batches(timeout)
        if not watcher.wait_first(timeout):
            raise TimeoutError(f"no answer from Firestore within {timeout:g} s")
        return _loop(watcher, console, sid, once, max_seconds)
    except KeyboardInterrupt:
        return 0
    except Exception as e:
        err.print(f"{prefix} {describe_error(e, target.project, timeout)}", markup=False)
        return 1
    finally:
        if watcher is not None:
            watcher.stop()
        if client is not None:
            _close(client)


def _frame(watcher: Watcher, sid: str):
    snap = watcher.snapshot()
    snap["sid"] = sid
    return view_model(snap)


def _loop(watcher: Watcher, console, sid: str, once: bool, max_seconds: float | None) -> int:
    from rich.live import Live

    if once:
        console.print(render(_frame(watcher, sid), console.width))
        return 0
    started = time.monotonic()
    ended_at = None
    live = None
    last_line = last_key = None
    last_print = 0.0
    try:
        if console.is_terminal:
            live = Live(render(_frame(watcher, sid), console.width), console=console, refresh_per_second=4,
                        transient=False)
            live.start()
        else:
            console.print(render(_frame(watcher, sid), console.width))
        while True:
            watcher.changed.wait(0.5)
            watcher.changed.clear()
            try:
                watcher.follow_batches()
            except Exception:
                pass  # the next tick tries again; the frame shows the age of the data
            model = _frame(watcher, sid)
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
                quiet = time.monotonic() - watcher.last_change
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
    final = render(_frame(watcher, sid), console.width)
    if live is not None:
        live.update(final)
        live.stop()
    else:
        console.print(final)
    return 0
