"""Hugging Face `transformers.Trainer` → TF Watcher.

    from tfwatcher.integrations.huggingface import TFWatcherCallback
    trainer = Trainer(model, args, train_dataset=..., eval_dataset=...,
                      callbacks=[TFWatcherCallback(run_name="bert-tiny")])

or, like the built-in integrations, `TrainingArguments(report_to="tfwatcher")` once this
module has been imported (the callback then records into the process's shared session).

What is recorded (docs/integrations.md has the whole story):
- every training log (each `logging_steps`): one `train` batch point at the trainer's global
  step with every scalar in it (`loss`, `grad_norm`, `learning_rate`, your own);
- every evaluation: `eval_loss` → `val_loss` (any `eval_X` → `val_X`) in the record of the
  epoch in progress (`ceil(state.epoch)`: an evaluation at epoch 1.5 belongs to epoch 2; the
  latest evaluation of an epoch wins), and one `test` point at the training step it ran at
  with the plain names (`loss`, ...), so several evaluations per epoch are all kept;
- at each epoch end: the epoch record (training values logged during that epoch, validation
  values, seconds);
- `trainer.evaluate()` outside training: one `evaluate` record, like Keras' `evaluate()`.

Hooks only hand values to the session's background writer; nothing blocks training.
"""

from __future__ import annotations

import math
import time

from transformers import TrainerCallback

from tfwatcher.record import lifecycle
from tfwatcher.record.values import scalar_metrics
from . import make_session, rank_from_env, stop_allowed

__all__ = ["TFWatcherCallback", "register"]

_perf = time.perf_counter
# Values that are bookkeeping, not metrics: kept off the charts.
_SKIP = frozenset({"epoch", "total_flos", "step"})
_SPEED_SUFFIXES = ("_runtime", "_samples_per_second", "_steps_per_second", "_tokens_per_second")
_FOREVER = 10 ** 7  # an IterableDataset without max_steps: HF plans sys.maxsize epochs


class TFWatcherCallback(TrainerCallback):
    """Streams a `transformers.Trainer` run to the TF Watcher dashboard.

    Args:
        session: a `tfwatcher.Session` to record into. Defaults to a new session built from
            `session_options`, or (with none) the process's shared session.
        config: the run's hyperparameters (a dict; see `tfwatcher.Session`), stored with the
            session. Defaults to None.
        **session_options: `project`, `credentials`, `run_name`, `dashboard_url`, `quiet`,
            `interval`, `heartbeat`, `unwatched_every`, `workspace`, `system_metrics` (see `tfwatcher.Session`).

    Only the main process writes: a process whose launcher names it rank > 0 builds no session,
    and every hook checks `state.is_world_process_zero`. The owner's Stop button ends training
    at the next optimizer step (`control.should_training_stop`); the session is then `stopped`.
    In multi-process training Stop is not acted on (one warning): the Trainer does not share a
    callback's decision, and stopping the main process alone would leave the others blocked.
    """

    def __init__(self, session=None, config=None, **session_options):
        super().__init__()
        self.session = make_session(session, session_options, writes=rank_from_env() == 0,
                                    config=config)
        lifecycle.install()  # a crash inside trainer.train() marks the session crashed
        self._in_fit = False
        self._reset()

    # The Keras callbacks' name for the session ID.
    @property
    def ref_id(self):
        return self.session.id

    def _reset(self):
        self._step_offset = 0
        self._epoch_offset = 0
        self._epoch_start_step = 0
        self._epoch_t0 = _perf()
        self._log_t0 = _perf()
        self._logged_step = 0
        self._train: dict[int, dict] = {}   # epoch -> training values last logged in it
        self._val: dict[int, dict] = {}     # epoch -> validation values of its latest evaluation
        self._seconds: dict[int, float] = {}
        self._ended: set[int] = set()

    # ----- helpers --------------------------------------------------------------------------

    @staticmethod
    def _main(state) -> bool:
        return bool(getattr(state, "is_world_process_zero", True))

    def _epoch(self, state) -> int:
        """1-based epoch in progress: HF's `state.epoch` is fractional (1.5 = half-way through
        the second epoch) and exactly k at the end of epoch k."""
        value = float(state.epoch or 0.0)
        return max(1, math.ceil(round(value, 6))) + self._epoch_offset

    def _step(self, state) -> int:
        return int(state.global_step) + self._step_offset

    def _check_stop(self, args, control) -> None:
        if self.session.stop_requested and stop_allowed(getattr(args, "world_size", 1)):
            control.should_training_stop = True

    def _write_epoch(self, epoch: int, state) -> None:
        values = {**self._train.get(epoch, {}), **self._val.get(epoch, {})}
        if not values:
            return
        # The writer replaces a pending record with the same ID, so rewriting an epoch's record
        # (its evaluation arrives after on_epoch_end) costs at most one more write.
        self.session.log_epoch(values, epoch=epoch, seconds=self._seconds.get(epoch),
                               step=self._step(state))
        for old in [e for e in self._train if e < epoch - 1]:
            self._train.pop(old, None)
            self._val.pop(old, None)
            self._seconds.pop(old, None)

    # ----- training ---------------------------------------------------------------------------

    def on_train_begin(self, args, state, control, train_dataloader=None, **kwargs):
        if not self._main(state) or self.session.id is None:
            return
        self._reset()
        self._in_fit = True
        epochs = int(state.num_train_epochs) if 0 < (state.num_train_epochs or 0) < _FOREVER else None
        steps = None
        try:
            n = len(train_dataloader)
            accumulate = max(1, int(args.gradient_accumulation_steps))
            steps = max(1, n // accumulate + int(n % accumulate > 0))
        except TypeError:  # no dataloader, or one without a length (an IterableDataset)
            pass
        base = lifecycle.begin(self.session, self, "fit", epochs=epochs, steps=steps)
        # A second train() into the same session continues its steps and epochs (nothing is
        # overwritten); a fresh session keeps the trainer's own numbers, also when resuming.
        self._step_offset = max(0, base - int(state.global_step))
        self._epoch_offset = max(0, self.session.last_epoch() - int(state.epoch or 0))
        self._logged_step = int(state.global_step)
        self._epoch_start_step = int(state.global_step)
        self._epoch_t0 = self._log_t0 = _perf()

    def on_epoch_begin(self, args, state, control, **kwargs):
        self._epoch_start_step = int(state.global_step)
        self._epoch_t0 = _perf()

    def on_step_end(self, args, state, control, **kwargs):
        if self._in_fit:
            self._check_stop(args, control)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not self._in_fit or not self._main(state) or not logs:
            return
        if any(str(k).endswith("_runtime") for k in logs):
            # An evaluation's results (recorded by on_evaluate) or the end-of-training summary
            # (train_runtime, train_loss averaged over the run): nothing to chart per step.
            return
        values = scalar_metrics({k: v for k, v in logs.items() if k not in _SKIP})
        if not values:
            return
        now, global_step = _perf(), int(state.global_step)
        steps = global_step - self._logged_step
        # mean per optimizer step, to the µs (4 bytes packed: tfwatcher/base/packed.py)
        seconds = round((now - self._log_t0) / steps, 6) if steps > 0 else None
        self._log_t0, self._logged_step = now, global_step
        epoch = self._epoch(state)
        self.session.log_batch(values, epoch=epoch, batch=max(1, global_step - self._epoch_start_step),
                               seconds=seconds, step=self._step(state))
        self._train[epoch] = values
        if epoch in self._ended:  # logging_strategy="epoch" logs after on_epoch_end
            self._write_epoch(epoch, state)
        self._check_stop(args, control)

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        if not self._main(state) or self.session.id is None or not metrics:
            return
        prefix = next((k[: -len("_runtime")] for k in metrics if str(k).endswith("_runtime")), "eval")
        plain = {}
        for key, value in metrics.items():
            key = str(key)
            if key in _SKIP or key.endswith(_SPEED_SUFFIXES):
                continue
            plain[key[len(prefix) + 1:] if key.startswith(prefix + "_") else key] = value
        plain = scalar_metrics(plain)
        if not plain:
            return
        if not self._in_fit:
            # trainer.evaluate() on its own: one summary, like Keras' evaluate().
            lifecycle.begin(self.session, self, "evaluate")
            self.session.log_epoch(plain, kind="evaluate")
            lifecycle.end(self.session, self, None, None)
            return
        # Several evaluation sets (eval_dataset={"a": ..., "b": ...}) use prefixes eval_a, eval_b.
        tag = prefix[len("eval_"):] + "_" if prefix.startswith("eval_") else ""
        epoch = self._epoch(state)
        self._val.setdefault(epoch, {}).update({f"val_{tag}{k}": v for k, v in plain.items()})
        self.session.log_batch({f"{tag}{k}": v for k, v in plain.items()}, epoch=epoch,
                               batch=max(1, int(state.global_step) - self._epoch_start_step),
                               kind="test", step=max(1, self._step(state)))
        self._write_epoch(epoch, state)
        self._check_stop(args, control)

    def on_epoch_end(self, args, state, control, **kwargs):
        if not self._in_fit:
            return
        epoch = self._epoch(state)
        self._seconds[epoch] = _perf() - self._epoch_t0
        self._ended.add(epoch)
        self._write_epoch(epoch, state)
        self._check_stop(args, control)

    def on_train_end(self, args, state, control, **kwargs):
        if not self._in_fit:
            return
        self._in_fit = False
        lifecycle.end(self.session, self, "train", self._step(state), self._epoch(state))


def register(name: str = "tfwatcher") -> None:
    """Make `TrainingArguments(report_to=name)` add a `TFWatcherCallback` (sharing the process's
    session). Done when this module is imported."""
    try:
        from transformers.integrations import integration_utils
    except ImportError:  # pragma: no cover - a transformers without the registry
        return
    integration_utils.INTEGRATION_TO_CALLBACK.setdefault(name, TFWatcherCallback)


register()
