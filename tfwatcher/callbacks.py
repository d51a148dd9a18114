"""Keras callbacks that stream a run to the dashboard.

The predecessor's classes keep their names and arguments:

    tfwatcher.callbacks.EpochEnd(schedule=1)        # every logged epoch (fit)
    tfwatcher.callbacks.TrainBatchEnd(schedule=1)   # training batches
    tfwatcher.callbacks.TestBatchEnd(schedule=1)    # validation and evaluate batches
    tfwatcher.callbacks.PredictBatchEnd(schedule=1) # predict batches
    tfwatcher.callbacks.PredictEnd()                # one record per predict call

and `Watcher` records all of them into one session. Callbacks built in one process share one
session (one ID, one dashboard) until it finishes; pass `session=` to choose explicitly.

Hooks never do I/O: they convert the values they need into a new record, hand it to the
session's background writer and return. Keras' `logs` is never changed.
"""

from __future__ import annotations

import os
import json
import time
from statistics import mean

import keras

from tfwatcher.record import lifecycle
from tfwatcher.record.schedule import Schedule
from tfwatcher.record.session import Session, normalize_config, shared_session
from tfwatcher.record.values import scalar_metrics, to_float

_perf = time.perf_counter


def is_chief() -> bool:
    """True unless TF_CONFIG names this process a non-chief worker, a PS or an evaluator."""
    try:
        task = json.loads(os.environ.get("TF_CONFIG", "{}")).get("task", {})
    except ValueError:
        return True
    kind, index = task.get("type"), task.get("index", 0)
    if kind in (None, "chief"):
        return True
    if kind == "worker":
        cluster = json.loads(os.environ["TF_CONFIG"]).get("cluster", {})
        return "chief" not in cluster and index == 0
    return False


class _Off:
    """Stands in for a session on processes that must not write (non-chief workers)."""

    stop_requested = False
    id = None

    def __getattr__(self, _name):
        return lambda *a, **k: None


def _check_round_time(value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"round_time must be an int >= 0 (digits printed); got {value!r}")


def _check_bool(name, value):
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False; got {value!r}")


def current_learning_rate(model) -> float | None:
    """The optimizer's learning rate now, as a float (a schedule evaluated at the optimizer's
    iterations), or None if there is none to read. Never raises."""
    try:
        optimizer = getattr(model, "optimizer", None)
        if optimizer is None:
            return None
        lr = getattr(optimizer, "learning_rate", None)
        if lr is None:
            lr = getattr(optimizer, "lr", None)
        if lr is None:
            return None
        # Keras 3 evaluates a schedule in the property already; tf.keras may hand it over.
        if isinstance(lr, keras.optimizers.schedules.LearningRateSchedule) or (
                callable(lr) and hasattr(lr, "get_config") and not hasattr(lr, "numpy")):
            lr = lr(optimizer.iterations)
        value = to_float(lr)
        if value is None:
            value = to_float(keras.ops.convert_to_numpy(lr))
        return value
    except Exception:  # the learning rate is a courtesy: never disturb training
        return None


class _WatchCallback(keras.callbacks.Callback):
    """Shared machinery; the public classes choose what they record."""

    def __init__(self, *, epochs=None, train_batches=None, test_batches=None,
                 predict_batches=None, call_summaries=False, round_time: int = 2,
                 print_logs: bool = False, session: Session | None = None, config=None,
                 **session_options):
        super().__init__()
        # Keras (JAX/PyTorch backends) may run batch hooks on a thread pool: ours are thread-safe.
        self.async_safe = True
        _check_round_time(round_time)
        _check_bool("print_logs", print_logs)
        if session is not None and not isinstance(session, Session):
            raise ValueError(f"session must be a tfwatcher.Session; got {type(session).__name__}")
        unknown = set(session_options) - {"project", "credentials", "run_name", "dashboard_url",
                                          "quiet", "interval", "heartbeat", "system_metrics",
                                          "unwatched_every", "workspace"}
        if unknown:
            raise TypeError(f"unexpected argument(s): {', '.join(sorted(unknown))}")
        flat = normalize_config(config)  # TypeError now, on every process, for a bad config
        self._epochs = epochs
        self._train = train_batches
        self._test = test_batches
        self._predict = predict_batches
        self._summaries = call_summaries
        self.round_time = round_time
        self.print_logs = print_logs
        if not is_chief():
            self.session = _Off()
        elif session is not None:
            self.session = session
        elif session_options:
            self.session = Session(config=flat or None, **session_options)
            flat = None
        else:
            self.session = shared_session()
        if flat:  # an explicit or shared session: merged into its config
            self.session.set_config(flat)
        lifecycle.install()
        self._reset()

    # The predecessor exposed the ID as `ref_id`.
    @property
    def ref_id(self):
        return self.session.id

    def _reset(self):
        self._in_fit = False
        self._epoch = 0
        self._epoch_offset = None
        self._epoch_t0 = None
        self._epoch_times: list[float] = []
        self._batch_t0 = _perf()
        self._step_base = 0
        self._fit_batches = 0
        self._test_batches = 0
        self._predict_batches = 0
        self._call_t0 = None

    def _print(self, payload: dict):
        if self.print_logs:
            shown = {k: (round(v, self.round_time) if isinstance(v, float) and k.endswith("seconds") else v)
                     for k, v in payload.items()}
            print(shown, flush=True)

    def _check_stop(self):
        if self.session.stop_requested and self.model is not None:
            self.model.stop_training = True

    # ----- fit ------------------------------------------------------------------------------

    def on_train_begin(self, logs=None):
        self._reset()
        self._in_fit = True
        params = self.params or {}
        self._step_base = lifecycle.begin(self.session, self, "fit",
                                          epochs=params.get("epochs"), steps=params.get("steps"))

    def on_train_end(self, logs=None):
        self._in_fit = False
        lifecycle.end(self.session, self, "train", self._step_base + self._fit_batches, self._epoch)

    def on_epoch_begin(self, epoch, logs=None):
        if self._epoch_offset is None:
            # A second fit() on the same session continues its epoch numbers, so nothing is
            # overwritten; fit(initial_epoch=n) that resumes past them keeps its own numbers.
            self._epoch_offset = max(0, self.session.last_epoch() - epoch) if self.session.id else 0
            if self._epoch_offset and self.session.id:
                total = (self.params or {}).get("epochs")
                self.session.number_epochs(epoch + 1 + self._epoch_offset,
                                           total + self._epoch_offset if isinstance(total, int) else None)
        self._epoch = epoch + 1 + self._epoch_offset
        self._epoch_t0 = _perf()

    def on_epoch_end(self, epoch, logs=None):
        seconds = _perf() - self._epoch_t0 if self._epoch_t0 is not None else None
        self._check_stop()
        if seconds is not None:
            self._epoch_times.append(seconds)
        if self._epochs is not None and self._epochs(epoch + 1):
            avg = mean(self._epoch_times) if self._epoch_times else seconds
            values = logs
            if not logs or ("learning_rate" not in logs and "lr" not in logs):
                lr = current_learning_rate(self.model)
                if lr is not None:
                    values = {**(logs or {}), "learning_rate": lr}  # Keras' logs stay unchanged
            self.session.log_epoch(values, epoch=self._epoch, seconds=seconds, avg_seconds=avg,
                                   step=self._step_base + self._fit_batches)
            self._epoch_times = []
            self._print({"epoch": self._epoch, **scalar_metrics(values), "seconds": seconds,
                         "avg_seconds": avg})

    def on_train_batch_begin(self, batch, logs=None):
        self._batch_t0 = _perf()

    def on_train_batch_end(self, batch, logs=None):
        seconds = round(_perf() - self._batch_t0, 6)  # to the µs: packs in 4 bytes (base/packed)
        self._fit_batches += 1
        if self.session.stop_requested:
            self._check_stop()
        if self._train is not None and self._train(batch + 1):
            step = self.session.log_batch(logs, epoch=max(self._epoch, 1), batch=batch + 1,
                                          seconds=seconds, step=self._step_base + self._fit_batches)
            if self.print_logs:
                self._print({"step": step, "batch": batch + 1, **scalar_metrics(logs), "seconds": seconds})

    # ----- evaluate (and validation inside fit) -----------------------------------------------

    def on_test_begin(self, logs=None):
        self._test_batches = 0
        self._call_t0 = _perf()
        if not self._in_fit:
            params = self.params or {}
            lifecycle.begin(self.session, self, "evaluate", steps=params.get("steps"))

    def on_test_end(self, logs=None):
        if self._in_fit:
            return
        if self._summaries:
            self.session.log_epoch(logs, kind="evaluate", seconds=_perf() - self._call_t0)
        lifecycle.end(self.session, self, None, None)

    def on_test_batch_begin(self, batch, logs=None):
        self._batch_t0 = _perf()

    def on_test_batch_end(self, batch, logs=None):
        seconds = round(_perf() - self._batch_t0, 6)  # to the µs: packs in 4 bytes (base/packed)
        self._test_batches += 1
        if self._test is not None and self._test(batch + 1):
            epoch = self._epoch if self._in_fit else None
            self.session.log_batch(logs, epoch=epoch, batch=batch + 1, seconds=seconds, kind="test")
            self._print({"test_batch": batch + 1, **scalar_metrics(logs), "seconds": seconds})

    # ----- predict ----------------------------------------------------------------------------

    def on_predict_begin(self, logs=None):
        self._predict_batches = 0
        self._call_t0 = _perf()
        params = self.params or {}
        lifecycle.begin(self.session, self, "predict", steps=params.get("steps"))

    def on_predict_end(self, logs=None):
        seconds = _perf() - self._call_t0
        if self._summaries:
            self.session.log_epoch({"batches": self._predict_batches}, kind="predict", seconds=seconds)
            self._print({"predict_seconds": seconds, "batches": self._predict_batches})
        lifecycle.end(self.session, self, None, None)

    def on_predict_batch_begin(self, batch, logs=None):
        self._batch_t0 = _perf()

    def on_predict_batch_end(self, batch, logs=None):
        seconds = round(_perf() - self._batch_t0, 6)  # to the µs: packs in 4 bytes (base/packed)
        self._predict_batches += 1
        if self._predict is not None and self._predict(batch + 1):
            # Predict logs hold the outputs, not metrics: only the time is recorded.
            self.session.log_batch(None, batch=batch + 1, seconds=seconds, kind="predict")
            self._print({"predict_batch": batch + 1, "seconds": seconds})


class EpochEnd(_WatchCallback):
    """Records metrics and time at the end of training epochs.

    Args:
        schedule: int `n` logs epoch 1 and every n-th epoch; a list logs exactly those
            1-based epochs. Defaults to 1 (every epoch).
        round_time: digits of seconds shown by `print_logs`; stored times keep full
            precision. Defaults to 2.
        print_logs: print each record as it is logged. Defaults to False.
        session: a `tfwatcher.Session` to record into. Defaults to the process's open session.
        config: the run's hyperparameters (a dict; see `tfwatcher.Session`), stored with the
            session (merged into an explicit or shared session's). Defaults to None.
        **session_options: `project`, `credentials`, `run_name`, `dashboard_url`, `quiet`,
            `interval`, `heartbeat`, `unwatched_every`, `workspace`, `system_metrics` for a new session of its own (see
            `tfwatcher.Session`).

    Each logged epoch also records the optimizer's `learning_rate` (a schedule evaluated at the
    optimizer's step) when Keras' logs hold none.

    Example:
        >>> monitor = tfwatcher.callbacks.EpochEnd(schedule=1)
        >>> model.fit(x, y, epochs=10, callbacks=[monitor])
    """

    def __init__(self, schedule=1, round_time: int = 2, print_logs: bool = False, **kwargs):
        super().__init__(epochs=Schedule(schedule), round_time=round_time,
                         print_logs=print_logs, **kwargs)


class TrainBatchEnd(_WatchCallback):
    """Records metrics and time of training batches (`schedule` counts batches in an epoch).

    Arguments as `EpochEnd`. Each point carries the global step, the epoch and the batch.
    """

    def __init__(self, schedule=1, round_time: int = 2, print_logs: bool = False, **kwargs):
        super().__init__(train_batches=Schedule(schedule), round_time=round_time,
                         print_logs=print_logs, **kwargs)


class TestBatchEnd(_WatchCallback):
    """Records metrics and time of test batches: `evaluate()` and validation inside `fit()`."""

    __test__ = False  # not a pytest test class

    def __init__(self, schedule=1, round_time: int = 2, print_logs: bool = False, **kwargs):
        super().__init__(test_batches=Schedule(schedule), round_time=round_time,
                         print_logs=print_logs, **kwargs)


class PredictBatchEnd(_WatchCallback):
    """Records the time of each `predict()` batch (predict logs hold outputs, not metrics)."""

    def __init__(self, schedule=1, round_time: int = 2, print_logs: bool = False, **kwargs):
        super().__init__(predict_batches=Schedule(schedule), round_time=round_time,
                         print_logs=print_logs, **kwargs)


class PredictEnd(_WatchCallback):
    """Records how long each `predict()` call took, and how many batches it ran."""

    def __init__(self, round_time: int = 2, print_logs: bool = False, **kwargs):
        super().__init__(call_summaries=True, round_time=round_time, print_logs=print_logs, **kwargs)


class Watcher(_WatchCallback):
    """Everything in one session: epochs, training batches, test batches, predict batches and
    a summary of each evaluate/predict call.

    Args:
        epochs: schedule for epochs (see `EpochEnd`), or None to skip. Defaults to 1.
        batches: schedule for training batches, or None. Defaults to 1 (every batch: batch
            logging costs at most one Firestore write per second whatever the rate).
        test_batches: schedule for validation/evaluate batches, or None. Defaults to None:
            validation results are in every epoch record already, and logging them per batch
            adds up to one more Firestore write a second while validation runs.
        predict_batches: schedule for predict batches, or None. Defaults to None.
        round_time, print_logs, session, **session_options: as `EpochEnd`.
    """

    def __init__(self, epochs=1, batches=1, test_batches=None, predict_batches=None,
                 round_time: int = 2, print_logs: bool = False, **kwargs):
        def opt(value):
            return None if value is None else Schedule(value)

        super().__init__(epochs=opt(epochs), train_batches=opt(batches), test_batches=opt(test_batches),
                         predict_batches=opt(predict_batches), call_summaries=True,
                         round_time=round_time, print_logs=print_logs, **kwargs)


__all__ = ["EpochEnd", "TrainBatchEnd", "TestBatchEnd", "PredictBatchEnd", "PredictEnd", "Watcher"]
