"""PyTorch Lightning → TF Watcher.

    from tfwatcher.integrations.lightning import TFWatcherLogger
    trainer = lightning.pytorch.Trainer(max_epochs=10, logger=TFWatcherLogger(run_name="mnist"))

(`logger=[TFWatcherLogger(), CSVLogger(...)]` keeps your other loggers.)

What is recorded (docs/integrations.md has the whole story):
- each time Lightning logs step-level metrics (every `log_every_n_steps`): one `train` batch
  point at the global step (Lightning's 0-based step + 1, the 1-based count TF Watcher uses);
- after each validation: its metrics as `val_` names in the record of the epoch in progress,
  and one `test` point at the training step it ran at (plain names);
- at each training epoch end: the epoch-level metrics in that epoch's record, with its seconds;
- `trainer.validate()` / `trainer.test()`: one `evaluate` record per call.

Names follow Keras, so that the dashboard draws training and validation on one chart:
Lightning's automatic `_step`/`_epoch` suffixes are dropped, a `train_`/`train/` prefix is
dropped, and `val/`, `valid_`, `validation_` become `val_` (`train_loss` and `val_loss` are
drawn together as `loss` and `val_loss`).

The logger learns the trainer from `log_graph(model)`, which Lightning calls on every run
start unless `Trainer(enable_autolog_hparams=False)`, and then adds a small callback to the
trainer that tells step-level from epoch-level logs, times batches and epochs, and sets
`trainer.should_stop` after every batch once the owner pressed Stop. Without a trainer (Lightning
Fabric, or autolog off) keys ending in `_epoch` or starting with a validation prefix go into
epoch records (epoch from the `epoch` key, 0-based), everything else becomes batch points.
"""

from __future__ import annotations

import sys
import time
import warnings
import weakref

from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers.logger import Logger, rank_zero_experiment
from lightning.pytorch.utilities import rank_zero_only

from tfwatcher.record.values import scalar_metrics
from . import Off, make_session, stop_allowed

__all__ = ["TFWatcherLogger"]

_perf = time.perf_counter
_TRAIN = ("train_", "train/", "train-")
_VAL = ("val_", "val/", "val-", "valid_", "valid/", "validation_", "validation/")
_TEST = ("test_", "test/", "test-")
_SKIP = frozenset({"epoch", "step"})
_FOREVER = 10 ** 7


def _strip(name: str, prefixes) -> str | None:
    for prefix in prefixes:
        if name.startswith(prefix) and len(name) > len(prefix):
            return name[len(prefix):]
    return None


def _rename(metrics: dict, suffix: str, role: str) -> dict:
    """Keras-style names. `role`: "train" (training values: `loss`, `val_loss` kept),
    "val" (a validation inside fit: `val_X`), "plain" (an evaluate record or test point: `X`)."""
    out = {}
    for name, value in metrics.items():
        name = str(name)
        if name in _SKIP:
            continue
        if suffix and name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
        train, val, test = _strip(name, _TRAIN), _strip(name, _VAL), _strip(name, _TEST)
        if role == "train":
            name = train if train is not None else (f"val_{val}" if val is not None else name)
        elif role == "val":
            base = val if val is not None else test
            name = name if train is not None else f"val_{base if base is not None else name}"
        else:
            base = val if val is not None else test
            name = base if base is not None else name
        out[name] = value
    return out


class _Probe(Callback):
    """Added to the trainer by the logger: knows where in the loop a log comes from."""

    def __init__(self, owner: "TFWatcherLogger"):
        self._owner = weakref.ref(owner)
        self.phase = "train"
        self.batch = 0
        self.batch_seconds = None
        self.epoch_seconds = None
        self._batch_t0 = self._epoch_t0 = _perf()

    @property
    def state_key(self) -> str:
        return "tfwatcher-probe"

    def _session(self):
        owner = self._owner()
        return owner._session if owner is not None else None

    def on_train_start(self, trainer, pl_module):
        owner = self._owner()
        if owner is not None:
            owner._begin(trainer, "fit")

    def on_validation_start(self, trainer, pl_module):
        owner = self._owner()
        if owner is not None and not trainer.sanity_checking and trainer.state.fn != "fit":
            owner._begin(trainer, "evaluate")

    on_test_start = on_validation_start

    def on_train_epoch_start(self, trainer, pl_module):
        self.phase = "train"
        self._epoch_t0 = _perf()

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.phase = "train"
        self._batch_t0 = _perf()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.batch_seconds = round(_perf() - self._batch_t0, 6)  # to the µs: 4 bytes packed
        self.batch = batch_idx + 1
        session = self._session()
        if session is not None and session.stop_requested and stop_allowed(trainer.world_size):
            trainer.should_stop = True

    def on_train_epoch_end(self, trainer, pl_module):
        self.phase = "train_epoch_end"
        self.epoch_seconds = _perf() - self._epoch_t0

    def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0):
        self.phase = "val"

    on_test_batch_start = on_validation_batch_start

    def on_validation_epoch_end(self, trainer, pl_module):
        self.phase = "val_end"

    on_test_epoch_end = on_validation_epoch_end


class TFWatcherLogger(Logger):
    """A Lightning logger that streams a run to the TF Watcher dashboard.

    Args:
        session: a `tfwatcher.Session` to record into. Defaults to a new session built from
            `session_options`, or (with none) the process's shared session.
        config: the run's hyperparameters (a dict; see `tfwatcher.Session`), stored with the
            session. Defaults to None.
        **session_options: `project`, `credentials`, `run_name`, `dashboard_url`, `quiet`,
            `interval`, `heartbeat`, `unwatched_every`, `workspace`, `system_metrics` (see `tfwatcher.Session`).

    Only rank 0 writes (`rank_zero_only`); other ranks build no session. `experiment` is the
    `tfwatcher.Session`. Hyperparameters given to `log_hyperparams` (`save_hyperparameters()`)
    are kept in `hparams` and merged into the session's `config`.
    """

    def __init__(self, session=None, config=None, **session_options):
        super().__init__()
        self._session = make_session(session, session_options, writes=rank_zero_only.rank == 0,
                                     config=config)
        self.hparams: dict = {}
        self._trainer = None
        self._probe: _Probe | None = None
        self._open = False
        self._kind = "fit"
        self._step_offset = 0
        self._epoch_offset = 0
        self._epoch = 1
        self._records: dict[int, dict] = {}

    def __getstate__(self):
        # Strategies that spawn processes (ddp_spawn) pickle the trainer and its loggers. A
        # session (a writer thread, a Firestore client) cannot travel: the copy records nothing.
        if self._session.id is not None:
            warnings.warn("tfwatcher: TFWatcherLogger was copied into another process (a spawning "
                          "strategy such as ddp_spawn); the copy records nothing. Use ddp (torchrun) "
                          "or a single process to watch the run.", RuntimeWarning, stacklevel=2)
        state = dict(self.__dict__)
        state.update(_session=Off(), _trainer=None, _probe=None, _open=False)
        return state

    # ----- Logger's identity ----------------------------------------------------------------

    @property
    def name(self) -> str:
        return "tfwatcher"

    @property
    def version(self) -> str:
        return self._session.id or ""

    @property
    @rank_zero_experiment
    def experiment(self):
        """The `tfwatcher.Session` (a stand-in on ranks other than 0)."""
        return self._session

    @property
    def session(self):
        return self._session

    @property
    def save_dir(self):
        return None

    # ----- run boundaries ---------------------------------------------------------------------

    @rank_zero_only
    def log_graph(self, model, input_array=None) -> None:
        # Called by Lightning at the start of every run with the LightningModule: the way to
        # the trainer, for the plan, the loop's phase and the Stop button.
        try:
            trainer = model.trainer
        except Exception:  # a module not attached to a trainer (Fabric, or called by hand)
            return
        if trainer is None or self._session.id is None:
            return
        self._trainer = weakref.ref(trainer)
        if self._probe is None:
            self._probe = _Probe(self)
        if not any(cb is self._probe for cb in trainer.callbacks):
            trainer.callbacks.append(self._probe)

    def _begin(self, trainer, kind: str) -> None:
        """Start a run (the probe calls this once the loop's sizes are known)."""
        if self._open:
            return
        epochs = steps = None
        if kind == "fit":
            max_epochs = trainer.max_epochs
            epochs = int(max_epochs) if max_epochs is not None and 0 < max_epochs < _FOREVER else None
            batches = trainer.num_training_batches
            if isinstance(batches, int) and batches > 0:
                accumulate = max(1, int(trainer.accumulate_grad_batches))
                steps = batches // accumulate + int(batches % accumulate > 0)
        self._start(kind, epochs, steps, trainer.global_step, trainer.current_epoch)

    def _start(self, kind, epochs=None, steps=None, step=0, epoch=0) -> None:
        session = self._session
        self._kind = kind
        self._records = {}
        self._open = True
        session.start("fit" if kind == "fit" else "evaluate" if kind == "evaluate" else "custom",
                      epochs=epochs, steps=steps)
        # A second fit into the same session continues its steps and epochs.
        self._step_offset = max(0, session.train_step() - int(step)) if kind != "evaluate" else 0
        self._epoch_offset = max(0, session.last_epoch() - int(epoch)) if kind != "evaluate" else 0

    @rank_zero_only
    def finalize(self, status: str) -> None:
        """Lightning calls this at the end of every run: "success", or "failed" from inside
        its exception handler (the exception is then recorded; KeyboardInterrupt → stopped)."""
        if not self._open or self._session.id is None:
            return
        self._open = False
        session = self._session
        if status == "failed":
            error = sys.exc_info()[1]
            if isinstance(error, KeyboardInterrupt):
                session.finish("stopped")
            else:
                session.finish("crashed", error=error or RuntimeError("Lightning reported a failed run"))
        else:
            session.finish("stopped" if session.stop_requested else "finished")
        self._trainer = None

    # ----- values -------------------------------------------------------------------------------

    @rank_zero_only
    def log_hyperparams(self, params, *args, **kwargs) -> None:
        try:
            given = dict(vars(params) if hasattr(params, "__dict__") and not isinstance(params, dict)
                         else params)
        except (TypeError, ValueError):
            return
        self.hparams.update(given)
        try:  # whatever Lightning hands over is stored as well as it can be; never raises
            self._session.set_config({str(k): v for k, v in given.items()})
        except Exception:
            pass

    @rank_zero_only
    def log_metrics(self, metrics, step=None) -> None:
        session = self._session
        if session.id is None or not metrics:
            return
        trainer = self._trainer() if self._trainer is not None else None
        probe = self._probe if trainer is not None else None
        if trainer is not None and trainer.sanity_checking:
            return
        if not self._open:  # no trainer told us a run started (Fabric, or autolog off)
            self._start("fit" if trainer is not None else "custom")
        lightning_epoch = metrics.get("epoch")
        if lightning_epoch is None and trainer is not None:
            lightning_epoch = trainer.current_epoch
        if lightning_epoch is not None:
            epoch = int(lightning_epoch) + 1 + self._epoch_offset
        else:
            epoch = max(session.last_epoch(), 1)
        train_step = None if step is None else int(step) + 1 + self._step_offset

        if self._kind == "evaluate":
            if probe is not None and probe.phase == "val":  # on_step values of validation_step
                session.log_batch(_rename(metrics, "_step", "plain"), kind="test")
            else:
                session.log_epoch(_rename(metrics, "_epoch", "plain"), kind="evaluate")
            return

        if probe is not None:
            phase = probe.phase
            if phase == "val":
                session.log_batch(_rename(metrics, "_step", "plain"), epoch=epoch, kind="test")
            elif phase == "val_end":
                values = scalar_metrics(_rename(metrics, "_epoch", "val"))
                self._merge(epoch, values, train_step)
                plain = {(k[4:] if k.startswith("val_") else k): v for k, v in values.items()}
                session.log_batch(plain, epoch=epoch, batch=max(probe.batch, 1), kind="test",
                                  step=max(train_step or session.train_step(), 1))
            elif phase == "train_epoch_end":
                self._merge(epoch, scalar_metrics(_rename(metrics, "_epoch", "train")), train_step,
                            seconds=probe.epoch_seconds)
            else:
                session.log_batch(_rename(metrics, "_step", "train"), epoch=epoch,
                                  batch=max(probe.batch, 1), seconds=probe.batch_seconds, step=train_step)
            return

        # No trainer: sort the keys by their names.
        epoch_level = {k: v for k, v in metrics.items()
                       if str(k).endswith("_epoch") or _strip(str(k), _VAL) is not None}
        batch_level = {k: v for k, v in metrics.items() if k not in epoch_level}
        if _rename(batch_level, "_step", "train"):
            session.log_batch(_rename(batch_level, "_step", "train"), epoch=epoch, step=train_step)
        if epoch_level:
            self._merge(epoch, scalar_metrics(_rename(epoch_level, "_epoch", "train")), train_step)

    def _merge(self, epoch: int, values: dict, step, seconds=None) -> None:
        """An epoch's record gathers its validation and its training epoch-end values, which
        Lightning logs in separate calls; the writer replaces a pending record with the same ID,
        so each call costs at most one write."""
        if not values:
            return
        record = self._records.setdefault(epoch, {"values": {}, "seconds": None})
        record["values"].update(values)
        if seconds is not None:
            record["seconds"] = seconds
        for old in [e for e in self._records if e < epoch - 1]:
            del self._records[old]
        self._session.log_epoch(record["values"], epoch=epoch, seconds=record["seconds"], step=step)
