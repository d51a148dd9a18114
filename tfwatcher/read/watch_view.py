"""What `tfwatcher watch` shows, as pure functions: the frame model computed from what the
listeners delivered (`view_model`), its rich rendering (`render`), and the one-line form for a
terminal that cannot redraw (`status_line`).

No I/O and no threads: `watch` feeds it snapshots. Every string in a snapshot is untrusted
(the session's writer chose it): `view_model` passes them all through
`untrusted.terminal_text` first, so no escape sequence reaches the terminal.
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timezone

from tfwatcher.base import contract, ids
from tfwatcher.read.firestore import fit
from tfwatcher.read.untrusted import terminal_tree

SPARK = "▁▂▃▄▅▆▇█"
EPOCH_WINDOW = 120        # newest epoch records listened to
SPARK_WIDTH = 40
BAR_WIDTH = 50
MAX_METRICS = 8
NAME_WIDTH = 24          # metric names longer than this are cut in the middle
STATUS_STYLE = {"running": "bold green", "finished": "bold blue", "crashed": "bold red",
                "stopped": "bold yellow", "stalled": "bold magenta", "new": "dim"}
# Modes that are calls (evaluate, predict), not training: they show their own batches.
CALL_MODES = tuple(mode for mode, kind in contract.BATCH_KIND_OF_MODE.items() if kind != "train")


def batch_kind_of_mode(mode) -> str:
    """The batch kind a session in `mode` logs (`custom` and unknown modes: train)."""
    return contract.BATCH_KIND_OF_MODE.get(mode or "", "train")


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


def shorten_middle(name: str, width: int) -> str:
    """`name` in at most `width` characters, cut in the middle so that both ends stay:
    `customer_churn_probability_val` -> `customer_chu…ability_val` (names that differ only at
    the end stay apart, which a cut at the end loses)."""
    if len(name) <= width or width < 5:
        return name
    tail = (width - 1) // 2 + (width - 1) % 2
    head = width - 1 - tail
    return f"{name[:head]}…{name[-tail:]}"


def fmt_value(v) -> str:
    if v is None:
        return "–"
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    if isinstance(v, (int, float)):
        return f"{v:.4g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.3e}"
    return str(v)


def fmt_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    if h:
        return f"{h}h {m:02d}m"
    if m:
        return f"{m}m {s:02d}s"
    return f"{s}s"


def timestamp(value) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.timestamp()
    if isinstance(value, (int, float)):
        return float(value)
    return None


def view_model(snap: dict, now: float | None = None) -> dict:
    """Everything a frame shows, computed from what the listeners delivered (`snap`, as
    `SessionListener.snapshot` returns it, plus `sid`). Every string in it, the writer's
    choice, is made safe for a terminal first (`untrusted.terminal_tree`)."""
    now = time.time() if now is None else now
    snap = terminal_tree(snap)
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
        steps.extend(fit(chunk.get("step"), n))
        times.extend(fit(chunk.get("time"), n))
        batch_numbers.extend(fit(chunk.get("batch"), n))
        calls.extend(fit(chunk.get("epoch"), n))
        have = set()
        for s in chunk.get("series") or []:
            values = fit(s.get("values"), n)
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
    step = progress.get("step") or 0
    done_epochs = max([e.get("epoch") or 0 for e in train_epochs] + [0])
    # The session document's progress comes with its heartbeat (every 10 s or slower); the
    # batch points and epoch records come sooner: progress is the newest of them all.
    if snap.get("kind") == "train" and steps and isinstance(steps[-1], int) and steps[-1] > step:
        epoch, batch, step = calls[-1] or epoch, batch_numbers[-1] or batch, steps[-1]
    if done_epochs > epoch:
        epoch, batch = done_epochs, steps_plan or batch
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
    if mode in CALL_MODES:
        # progress counts train batches; an evaluate/predict call shows its own batches
        fraction = total = done = None
        if snap.get("kind") == batch_kind_of_mode(mode) and steps:
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
    updates = [timestamp(session.get("heartbeat"))]
    updates += [times[-1] if times else None]
    updates += [e.get("time") for e in snap["epochs"]]
    updates = [u for u in updates if isinstance(u, (int, float))]
    last_update = max(updates) if updates else None
    age = None if last_update is None else max(0.0, now - last_update)
    # "Stalled" is judged against the heartbeat period the session declares (slow while nobody
    # watches, or the run's own heartbeat=), never sooner than the contract's shown-after time.
    stall_after = contract.stall_after(session.get(contract.HEARTBEAT_FIELD))
    evaluations = [(e.get("kind"), e.get("epoch"), dict(zip(e.get("names") or [], e.get("values") or [])))
                   for e in other_epochs[-3:]]
    return {"sid": snap.get("sid", ""), "name": session.get("name") or "", "status": status,
            "mode": session.get("mode"), "plan": plan, "epoch": epoch, "batch": batch,
            "step": step, "fraction": fraction, "eta": eta,
            "last_update": last_update, "age": age, "stall_after": stall_after,
            "stalled": status == "running" and age is not None and age > stall_after,
            "rows": rows, "error": session.get("error"), "evaluations": evaluations,
            "call": running_call,
            "reads": snap.get("reads", 0), "points": len(steps), "batch_kind": snap.get("kind"),
            "epochs_seen": len(train_epochs)}


def render(model: dict, width: int = 80, live: bool = True):
    """A rich renderable of one frame, `width` columns wide (`live`: a frame that updates,
    which can be left with Ctrl+C; `--once` prints a single frame)."""
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
        line.append(f"   Last update: {fmt_duration(model['age'])} ago")
        if model["stalled"]:
            line.append("  (no news: stalled?)", style="yellow")
    parts = [head, line]
    plan = model["plan"] or {}
    prog = Text("Progress: ")
    if model["mode"] in CALL_MODES:
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
        prog.append(f" · ETA {fmt_duration(model['eta'])}")
    if model["mode"] in CALL_MODES:
        prog.append(f" (trained: epoch {model['epoch']}, step {model['step']})", style="dim")
    parts.append(prog)
    if model["fraction"] is not None:
        bar_w = min(BAR_WIDTH, width)
        filled = int(round(model["fraction"] * bar_w))
        bar = Text("━" * filled, style="green")
        bar.append("━" * (bar_w - filled), style="grey37")
        parts.append(bar)
    if model["error"]:
        err = model["error"] if isinstance(model["error"], dict) else {"message": model["error"]}
        parts.append(Text(f"Error: {err.get('type', '')}: {str(err.get('message', ''))[:300]}",
                          style="red"))
    if model["rows"]:
        name_w = min(NAME_WIDTH, max(6, *(len(row["name"]) for row in model["rows"])))
        names = [shorten_middle(row["name"], name_w) for row in model["rows"]]
        lasts = [fmt_value(row["last"]) for row in model["rows"]]
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
        for row, name, last in zip(model["rows"], names, lasts):
            # Text, never a str: rich reads a str as markup, and names are the writer's text.
            table.add_row(Text(name), Text(last), Text(sparkline(row["batch_values"], batch_w)),
                          Text(sparkline(row["epoch_values"], epoch_w)))
        parts.append(table)
    else:
        parts.append(Text("No metrics yet.", style="dim"))
    for kind, n, values in model["evaluations"]:
        shown = ", ".join(f"{k} {fmt_value(v)}" for k, v in list(values.items())[:6])
        parts.append(Text(f"{kind} #{n}: {shown}"))
    parts.append(Text(f"{model['reads']} document reads so far" + (" · Ctrl+C to leave" if live else ""),
                      style="dim"))
    return Group(*parts)


def status_line(model: dict) -> str:
    """One line per change, for a terminal that cannot redraw (a pipe, a log file)."""
    plan = model["plan"] or {}
    bits = [datetime.now().strftime("%H:%M:%S"), model["status"]]
    bits.append(f"epoch {model['epoch']}" + (f"/{plan['epochs']}" if plan.get("epochs") else ""))
    bits.append(f"step {model['step']}")
    if model["eta"] is not None:
        bits.append(f"ETA {fmt_duration(model['eta'])}")
    for row in model["rows"][:4]:
        bits.append(f"{shorten_middle(row['name'], NAME_WIDTH)}={fmt_value(row['last'])}")
    return "  ".join(bits)
