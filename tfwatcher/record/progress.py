"""A session's bookkeeping: the plan, the progress, step counters per kind, call counts, the
metric names seen and their latest values, and whether a loss went non-finite.

No lock and no I/O, like summaries.py: the `Session` holds its own lock around every call in
here and talks to the writer only after releasing it (lock discipline: writer.py).
"""

from __future__ import annotations

import math

from tfwatcher.base.contract import BATCH_KIND_OF_MODE, BATCH_KINDS, EPOCH_KINDS

# The epoch kinds other than training count their calls (evaluate, predict); their batch
# points and records are numbered by call.
CALL_KINDS: tuple = tuple(kind for kind in EPOCH_KINDS if kind != "train")
CALL_OF_BATCH_KIND = {kind: mode for mode, kind in BATCH_KIND_OF_MODE.items() if mode in CALL_KINDS}


class RunProgress:
    """The counters of one session, across its runs.

    Attributes:
        plan: `{"epochs", "steps"}` as given to `start` (plus `first_epoch` once numbered).
        progress: `{"epoch", "batch", "step"}` of training.
        latest: metric name -> latest value (training values and epoch values).
        steps: batch kind -> last step recorded.
        calls: evaluate/predict -> how many such runs started.
    """

    def __init__(self):
        self.steps = {kind: 0 for kind in BATCH_KINDS}
        self.calls = {kind: 0 for kind in CALL_KINDS}
        self.metrics: dict[str, None] = {}  # names in the order first seen
        self.latest: dict[str, float] = {}
        self.progress = {"epoch": 0, "batch": 0, "step": 0}
        self.plan = {"epochs": None, "steps": None}
        self.nan = False

    def start(self, mode: str, epochs: int | None, steps: int | None) -> None:
        if mode in self.calls:
            self.calls[mode] += 1
        self.plan = {"epochs": epochs, "steps": steps}

    def point(self, kind: str, values: dict, epoch, batch, step) -> tuple[int, int, int, bool]:
        """Number one batch point: its `(step, epoch, batch)` (defaults filled in) and True on
        the first non-finite training loss."""
        first_nan = False
        if step is None:
            step = self.steps[kind] + 1
        self.steps[kind] = max(self.steps[kind], step)
        if kind == "train":
            epoch = epoch if epoch is not None else max(self.progress["epoch"], 1)
            batch = batch if batch is not None else self.progress["batch"] + 1
            self.progress = {"epoch": epoch, "batch": batch, "step": step}
            first_nan = self._note(values)
        elif kind == "system":
            epoch = epoch if epoch is not None else max(self.progress["epoch"], 1)
            batch = batch if batch is not None else step
        else:
            epoch = epoch if epoch is not None else max(self.calls.get(CALL_OF_BATCH_KIND[kind], 1), 1)
            batch = batch if batch is not None else step
        return step, epoch, batch, first_nan

    def epoch(self, kind: str, values: dict, epoch, step) -> tuple[int, int, bool]:
        """Number one epoch record (or one evaluate/predict call): its `(epoch, step)` and
        True on the first non-finite loss."""
        if kind == "train":
            epoch = epoch if epoch is not None else self.progress["epoch"] + 1
            self.progress = {**self.progress, "epoch": epoch}
        else:
            epoch = epoch if epoch is not None else max(self.calls[kind], 1)
        first_nan = self._note(values, epoch_level=True)
        if step is None:
            step = self.steps["train"]
        else:
            self.steps["train"] = max(self.steps["train"], step)
        return epoch, step, first_nan

    def mark_step(self, kind: str, step: int, epoch: int | None) -> None:
        self.steps[kind] = max(self.steps[kind], step)
        if kind == "train":
            self.progress = {**self.progress, "step": max(self.progress["step"], step)}
            if epoch is not None and epoch > self.progress["epoch"]:
                self.progress = {**self.progress, "epoch": epoch}

    def number_epochs(self, first: int, last: int | None) -> dict:
        """The plan with this fit's epoch numbers; returns a copy to send."""
        self.plan = {**self.plan, "epochs": last, "first_epoch": first}
        return dict(self.plan)

    def live_fields(self) -> dict:
        """The session document's fields that change as points arrive."""
        return {"progress": dict(self.progress), "metrics": list(self.metrics),
                "latest": [{"name": k, "value": v} for k, v in self.latest.items()]}

    def _note(self, values: dict, epoch_level: bool = False) -> bool:
        """Update the metric names and latest values. True on the first non-finite loss,
        which the session reports once its lock is released."""
        metrics = self.metrics
        latest = self.latest
        for name, value in values.items():
            if name not in metrics:
                metrics[name] = None
            if epoch_level or name not in latest or not name.startswith("val_"):
                latest[name] = value
        loss = values.get("loss")
        if loss is not None and not self.nan and not math.isfinite(loss):
            self.nan = True
            return True
        return False
