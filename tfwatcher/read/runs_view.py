"""What `tfwatcher runs` shows, as pure functions: one row per run index document
(`workspaces/{wid}/runs/{sid}`, docs/schema.md), their order, the rich table and the one-line
form for a log.

The same judgement as the workspace page (hosting/src/workspace-model.ts): a run that is
starting or running and has been silent (its index document's `updated`) for longer than
`contract.stall_after(heartbeat_every)` is shown stalled; active runs first, then the newest
started. Every string in an index document is untrusted (whoever ran the session wrote it):
names pass through `untrusted.terminal_text`, numbers that are not numbers are ignored, and a
document whose ID is not a session ID is not shown.
"""

from __future__ import annotations

import math
import time

from tfwatcher.base import contract, ids
from tfwatcher.read.untrusted import terminal_text
from tfwatcher.read.watch_view import (
    STATUS_STYLE,
    fmt_duration,
    fmt_value,
    shorten_middle,
    sparkline,
    timestamp,
)

# The stored statuses by name, from the contract (as hosting/src/workspace-model.ts does).
NEW, RUNNING, _FINISHED, _CRASHED, _STOPPED, STALLED = contract.STATUSES
SPARK_POINTS: int = contract.CONTRACT["workspaces"]["spark_points"]
NAME_WIDTH = 28
SPARK_WIDTH = 16
UNKNOWN = "unknown"


def _number(value):
    """A number from an untrusted field (NaN and ±inf kept: a loss that went NaN says so)."""
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _count(value):
    v = _number(value)
    return int(v) if v is not None and math.isfinite(v) else None


def row(sid: str, doc: dict, now: float | None = None) -> dict | None:
    """One run as the list shows it; None when `sid` is not a session ID."""
    if not ids.is_session_id(sid):
        return None
    now = time.time() if now is None else now
    status = doc.get("status")
    status = status if status in contract.STATUSES else UNKNOWN
    started = timestamp(doc.get("started")) or timestamp(doc.get("created"))
    updated = timestamp(doc.get("updated"))
    every = _number(doc.get(contract.HEARTBEAT_FIELD))
    shown = status
    silent = None if updated is None else max(0.0, now - updated)
    if status in (NEW, RUNNING) and silent is not None and silent > contract.stall_after(every):
        shown = STALLED
    name = doc.get("name")
    spark = doc.get("spark") if isinstance(doc.get("spark"), list) else []
    return {"sid": sid, "name": terminal_text(name) if isinstance(name, str) else "",
            "status": status, "shown": shown, "active": doc.get("active") is True,
            "started": started, "updated": updated, "silent": silent,
            "age": None if started is None else max(0.0, now - started),
            "epoch": _count(doc.get("epoch")), "epochs": _count(doc.get("epochs")),
            "step": _count(doc.get("step")), "steps": _count(doc.get("steps")),
            "loss": _number(doc.get("loss")), "val_loss": _number(doc.get("val_loss")),
            "spark": [_number(v) for v in spark[-SPARK_POINTS:]]}


def order(rows) -> list[dict]:
    """Active runs first, then newest started first; ties by session ID, descending (as
    Firestore orders `started` descending)."""
    rows = list(rows)
    rows.sort(key=lambda r: r["sid"], reverse=True)
    rows.sort(key=lambda r: -(r["started"] if r["started"] is not None else -math.inf))
    rows.sort(key=lambda r: not r["active"])
    return rows


def view_model(wid: str, docs: dict, now: float | None = None, reads: int = 0,
               limit: int | None = None, hint: str | None = None) -> dict:
    """Everything a frame shows: `docs` maps session ID -> index document as delivered."""
    now = time.time() if now is None else now
    rows = order(r for r in (row(sid, d, now) for sid, d in docs.items()) if r is not None)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["shown"]] = counts.get(r["shown"], 0) + 1
    return {"wid": wid, "rows": rows, "counts": counts, "reads": reads,
            "more": limit is not None and len(docs) >= limit, "limit": limit, "hint": hint}


def progress(r: dict) -> str:
    """`epoch 3/10 · step 120/500`, `epoch 3`, "" when nothing is known (as the page)."""
    def part(label, value, total):
        if value is None:
            return None
        return f"{label} {value}/{total}" if total else f"{label} {value}"
    return " · ".join(p for p in (part("epoch", r["epoch"], r["epochs"]),
                                  part("step", r["step"], r["steps"])) if p)


def age(r: dict) -> str:
    """`started 12m 03s ago`; for a stalled run, how long it has been silent."""
    if r["shown"] == STALLED and r["silent"] is not None:
        return f"silent {fmt_duration(r['silent'])}"
    return "" if r["age"] is None else f"started {fmt_duration(r['age'])} ago"


def _value(v) -> str:
    return "" if v is None else fmt_value(v)


def render(model: dict, width: int = 100, live: bool = True):
    """A rich renderable of the list, `width` columns wide."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    head = Text()
    head.append("TF Watcher workspace ", style="bold")
    head.append(ids.display_workspace_id(model["wid"]))
    rows = model["rows"]
    if rows:
        summary = ", ".join(f"{n} {s}" for s, n in sorted(model["counts"].items(),
                                                         key=lambda kv: -kv[1]))
        head.append(f"  {len(rows)} run{'s' if len(rows) != 1 else ''} ({summary})", style="dim")
    parts = [head]
    if not rows:
        parts.append(Text(f"No runs yet. A run joins with TFWATCHER_WORKSPACE="
                          f"{ids.display_workspace_id(model['wid'])} (or workspace=\"...\" on a "
                          f"callback); it appears here when it starts.", style="dim"))
        if model.get("hint"):
            parts.append(Text(model["hint"], style="yellow"))
    else:
        table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
        table.add_column("run", no_wrap=True, overflow="ellipsis", max_width=NAME_WIDTH)
        table.add_column("status", no_wrap=True)
        table.add_column("progress", no_wrap=True, overflow="ellipsis")
        table.add_column("loss", justify="right", no_wrap=True)
        table.add_column("val_loss", justify="right", no_wrap=True)
        if width >= 100:
            table.add_column("loss trend", no_wrap=True)
        table.add_column("age", no_wrap=True)
        for r in rows:
            name = shorten_middle(r["name"], NAME_WIDTH) if r["name"] else ids.display_id(r["sid"])
            status = Text(r["shown"], style=STATUS_STYLE.get(r["shown"], "bold"))
            # Text, never a str: rich would read "[...]" in a name as markup
            cells = [Text(name), status, Text(progress(r)), Text(_value(r["loss"])),
                     Text(_value(r["val_loss"]))]
            if width >= 100:
                cells.append(Text(sparkline(r["spark"], SPARK_WIDTH)))
            cells.append(Text(age(r)))
            table.add_row(*cells)
        parts.append(table)
    foot = f"{model['reads']} document reads so far"
    if model["more"]:
        foot += (f" · the {model['limit']} newest started runs; tfwatcher.load(workspace=...) "
                 f"reads them all")
    parts.append(Text(foot + (" · Ctrl+C to leave" if live else ""), style="dim"))
    return Group(*parts)


def line(r: dict, clock: str) -> str:
    """One line for a log: `12:00:03  name (sid)  running  epoch 3/10  loss=0.1 val_loss=0.2`."""
    bits = [clock, f"{r['name'] or '(no name)'} ({ids.display_id(r['sid'])})", r["shown"]]
    if progress(r):
        bits.append(progress(r))
    if r["loss"] is not None:
        bits.append(f"loss={fmt_value(r['loss'])}")
    if r["val_loss"] is not None:
        bits.append(f"val_loss={fmt_value(r['val_loss'])}")
    if age(r):
        bits.append(age(r))
    return "  ".join(bits)


def line_key(r: dict) -> tuple:
    """What makes a new log line worth printing: the shown status, the epoch (the step for a
    run without epochs), the name."""
    return (r["shown"], r["epoch"], r["step"] if r["epoch"] is None else None, r["name"])
