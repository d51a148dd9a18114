"""The Hugging Face and PyTorch Lightning adapters, training tiny CPU models against the real
Firestore emulator. Each run is watched by a second, plain callback or logger of the framework
itself, so what is stored is compared with what the framework really logged, value for value."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from tests.helpers import epoch_metrics, read_session, wait_until

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

try:
    import torch
except ImportError:  # pragma: no cover - the dev extra installs it
    torch = None


def _need(module: str):
    try:
        __import__(module)
    except ImportError as err:  # pragma: no cover - the dev extra installs both
        pytest.skip(f"*** {module} is not installed ({err}): its TF Watcher adapter is NOT tested. "
                    f"Install the dev extra: pip install -e '.[dev]' ***", allow_module_level=False)


def press_stop_when_running(db, session, marks):
    """Write the owner's stop command for the session's current run, as the dashboard does,
    once Firestore shows that run running."""
    def press():
        wait_until(lambda: session.run >= 1 and session.train_step() >= 4
                   and (db.document(f"sessions/{session.id}").get().to_dict() or {}).get("status")
                   == "running", 60, 0.05)
        run = session.run
        db.document(f"sessions/{session.id}/control/stop-{run}").set(
            {"key": session.owner_key, "run": run, "at": time.time()})
        marks["written"] = time.monotonic()

    thread = threading.Thread(target=press, daemon=True)
    thread.start()
    return thread


# ----- Hugging Face transformers ---------------------------------------------------------------

VOCAB, SEQ = 50, 8


def hf_data(n: int, seed: int):
    """Random token sequences; the label is whether token 1 appears (learnable, tiny)."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(2, VOCAB, (n, SEQ), generator=g)
    ids[: n // 2, 3] = 1
    labels = (ids == 1).any(dim=1).long()
    return [{"input_ids": ids[i], "attention_mask": torch.ones(SEQ, dtype=torch.long), "labels": labels[i]}
            for i in range(n)]


def hf_trainer(tmp_path, callbacks, epochs=2, eval_strategy="epoch", report_to="none", **extra):
    from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

    torch.manual_seed(0)
    model = BertForSequenceClassification(BertConfig(
        vocab_size=VOCAB, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=32, max_position_embeddings=SEQ, num_labels=2))
    args = TrainingArguments(
        output_dir=str(tmp_path / "hf"), num_train_epochs=epochs, per_device_train_batch_size=8,
        per_device_eval_batch_size=16, learning_rate=5e-3, logging_strategy="steps", logging_steps=2,
        eval_strategy=eval_strategy, save_strategy="no", report_to=report_to, use_cpu=True,
        disable_tqdm=True, dataloader_num_workers=0, seed=0, **extra)
    return Trainer(model=model, args=args, train_dataset=hf_data(64, 1), eval_dataset=hf_data(16, 2),
                   callbacks=callbacks)


def hf_capture():
    """A plain TrainerCallback recording what the Trainer logged."""
    from transformers import TrainerCallback

    class Capture(TrainerCallback):
        def __init__(self):
            self.logs, self.evals = [], []

        def on_log(self, args, state, control, logs=None, **kwargs):
            self.logs.append((state.global_step, state.epoch, dict(logs)))

        def on_evaluate(self, args, state, control, metrics=None, **kwargs):
            self.evals.append((state.global_step, state.epoch, dict(metrics)))

    return Capture()


def test_huggingface_trainer_records_what_it_logged(db, tmp_path):
    """A tiny BERT, 2 epochs of 8 steps, a log every 2 steps and an evaluation per epoch, then
    a trainer.evaluate(): the stored points, epoch records and evaluate record equal what the
    Trainer handed its callbacks, and the session is finished."""
    _need("transformers")
    from tfwatcher.integrations.huggingface import TFWatcherCallback

    watcher, capture = TFWatcherCallback(quiet=True, run_name="hf tiny"), hf_capture()
    trainer = hf_trainer(tmp_path, [watcher, capture])
    trainer.train()
    after_fit = trainer.evaluate()
    assert watcher.session.flush(20)
    stored = read_session(db, watcher.ref_id)

    doc = stored["session"]
    assert doc["status"] == "finished" and doc["run"] == 2 and doc["mode"] == "evaluate"
    assert doc["name"] == "hf tiny"
    assert doc["progress"]["step"] == 16 and doc["progress"]["epoch"] == 2

    train_logs = [(step, logs) for step, _, logs in capture.logs if "loss" in logs and "eval_loss" not in logs]
    assert [step for step, _ in train_logs] == [2, 4, 6, 8, 10, 12, 14, 16]
    points = stored["points"]["train"]
    assert [p["step"] for p in points] == [2, 4, 6, 8, 10, 12, 14, 16]
    assert [p["epoch"] for p in points] == [1] * 4 + [2] * 4
    assert [p["batch"] for p in points] == [2, 4, 6, 8] * 2
    for point, (_, logs) in zip(points, train_logs):
        expected = {k: float(v) for k, v in logs.items() if k != "epoch"}
        assert point["metrics"] == expected  # loss, grad_norm, learning_rate: equal, not close
        assert point["seconds"] > 0

    evals_in_fit = capture.evals[:2]
    assert [round(e, 6) for _, e, _ in evals_in_fit] == [1.0, 2.0]
    for n, (step, _, metrics) in enumerate(evals_in_fit, start=1):
        record = stored["epochs"][f"{n:06d}"]
        values = epoch_metrics(record)
        assert values["val_loss"] == metrics["eval_loss"]
        assert not any(k.endswith(("_runtime", "_per_second")) for k in values)
        last_train = [logs for s, logs in train_logs if (s - 1) // 8 + 1 == n][-1]
        assert values["loss"] == last_train["loss"]
        assert record["step"] == step == 8 * n and record["seconds"] > 0
    test_points = stored["points"]["test"]
    assert [p["step"] for p in test_points] == [8, 16]
    assert [p["metrics"]["loss"] for p in test_points] == [m["eval_loss"] for _, _, m in evals_in_fit]

    evaluate = stored["epochs"]["evaluate-000001"]
    assert evaluate["kind"] == "evaluate"
    assert epoch_metrics(evaluate)["loss"] == after_fit["eval_loss"]
    assert set(stored["epochs"]) == {"000001", "000002", "evaluate-000001"}


def test_huggingface_step_evaluations_and_epoch_logging(db, tmp_path):
    """Evaluations every 3 steps (mid-epoch) and one training log per epoch (which the Trainer
    sends after on_epoch_end): every evaluation is a `test` point at its step; each epoch's
    record holds the last evaluation in it (epoch = ceil(state.epoch)) and the epoch's log."""
    _need("transformers")
    from tfwatcher.integrations.huggingface import TFWatcherCallback

    watcher, capture = TFWatcherCallback(quiet=True), hf_capture()
    trainer = hf_trainer(tmp_path, [watcher, capture], eval_strategy="steps", eval_steps=3)
    trainer.args.logging_strategy = "epoch"
    trainer.train()
    assert watcher.session.flush(20)
    stored = read_session(db, watcher.ref_id)
    assert stored["session"]["status"] == "finished"
    evals = [(step, m["eval_loss"]) for step, _, m in capture.evals]
    assert [s for s, _ in evals] == [3, 6, 9, 12, 15, 16]  # and one at the last step
    assert [(p["step"], p["metrics"]["loss"]) for p in stored["points"]["test"]] == evals
    train_logs = [(step, logs) for step, _, logs in capture.logs if "grad_norm" in logs]
    assert [s for s, _ in train_logs] == [8, 16]
    assert [(p["step"], p["metrics"]["loss"]) for p in stored["points"]["train"]] == \
        [(s, logs["loss"]) for s, logs in train_logs]
    assert epoch_metrics(stored["epochs"]["000001"])["val_loss"] == evals[1][1]
    assert epoch_metrics(stored["epochs"]["000002"])["val_loss"] == evals[5][1]
    assert epoch_metrics(stored["epochs"]["000001"])["loss"] == train_logs[0][1]["loss"]
    assert epoch_metrics(stored["epochs"]["000002"])["loss"] == train_logs[1][1]["loss"]


def test_huggingface_report_to_and_stop_button(db, tmp_path):
    """`report_to="tfwatcher"` adds the callback (on the shared session); the owner's stop
    command for the current run ends a 1,000-epoch train() within 2 s: status stopped."""
    _need("transformers")
    from transformers import TrainerCallback

    import tfwatcher.integrations.huggingface as hf

    marks = {}

    class Pace(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            time.sleep(0.01)
            if "written" in marks and time.monotonic() - marks["written"] > 20:
                control.should_training_stop = True  # safety net: the asserts below fail

    trainer = hf_trainer(tmp_path, [Pace()], epochs=1000, eval_strategy="no", report_to="tfwatcher")
    watchers = [cb for cb in trainer.callback_handler.callbacks if isinstance(cb, hf.TFWatcherCallback)]
    assert len(watchers) == 1
    session = watchers[0].session
    session.writer.interval = 0.2
    thread = press_stop_when_running(db, session, marks)
    trainer.train()
    stopped_after = time.monotonic() - marks["written"]
    thread.join(5)
    assert stopped_after < 2.0, f"training went on {stopped_after:.1f} s after the stop command"
    assert trainer.state.global_step < 8 * 1000
    assert session.flush(20)
    stored = read_session(db, session.id)
    assert stored["session"]["status"] == "stopped"
    assert stored["session"]["plan"] == {"epochs": 1000, "steps": 8}
    assert stored["points"]["train"][-1]["step"] <= trainer.state.global_step


HF_CRASH = """
import sys, torch
sys.path.insert(0, {root!r})
from tests.test_integrations import hf_trainer
from transformers import TrainerCallback
from tfwatcher.integrations.huggingface import TFWatcherCallback
import pathlib, tempfile

class Boom(TrainerCallback):
    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == 5:
            raise RuntimeError("exploded at step 5")

watcher = TFWatcherCallback(quiet=True)
print("SID", watcher.ref_id, flush=True)
hf_trainer(pathlib.Path(tempfile.mkdtemp()), [watcher, Boom()]).train()
"""


def test_huggingface_crash_marks_the_session_crashed(db, tmp_path):
    """An exception out of trainer.train() in a script: TF Watcher's excepthook marks the
    session crashed with the error, after the points logged before it are sent."""
    _need("transformers")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    script = tmp_path / "crash.py"
    script.write_text(textwrap.dedent(HF_CRASH.format(root=root)))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "exploded at step 5" in proc.stderr
    sid = next(line.split()[1] for line in proc.stdout.splitlines() if line.startswith("SID "))
    stored = read_session(db, sid)
    assert stored["session"]["status"] == "crashed"
    assert stored["session"]["error"] == {"type": "RuntimeError", "message": "exploded at step 5"}
    assert [p["step"] for p in stored["points"]["train"]] == [2, 4]


def test_huggingface_only_rank_zero_writes(db, tmp_path, monkeypatch):
    """A process that its launcher names rank 1 builds no session and writes nothing."""
    _need("transformers")
    from tfwatcher.integrations.huggingface import TFWatcherCallback

    monkeypatch.setenv("RANK", "1")
    watcher = TFWatcherCallback(quiet=True)
    assert watcher.ref_id is None
    hf_trainer(tmp_path, [watcher], epochs=1).train()
    assert list(db.collection("sessions").stream()) == []


def test_huggingface_callback_checks_its_arguments():
    _need("transformers")
    from tfwatcher.integrations.huggingface import TFWatcherCallback

    with pytest.raises(TypeError, match="projekt"):
        TFWatcherCallback(projekt="x")
    with pytest.raises(ValueError, match="session must be"):
        TFWatcherCallback(session="abc")


# ----- PyTorch Lightning -----------------------------------------------------------------------

def lightning_parts(fail_at: int | None = None, pace: float = 0.0):
    import lightning.pytorch as pl
    from lightning.pytorch.loggers import Logger
    from torch.utils.data import DataLoader, TensorDataset

    class Tiny(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(4, 1)
            self.calls = 0

        def training_step(self, batch, batch_idx):
            self.calls += 1
            if fail_at is not None and self.calls == fail_at:
                raise ValueError(f"bad batch {fail_at}")
            if pace:
                time.sleep(pace)
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.layer(x), y)
            self.log("train_loss", loss, on_step=True, on_epoch=True)
            self.log("lr", 0.05, on_step=True, on_epoch=False)
            return loss

        def validation_step(self, batch, batch_idx):
            x, y = batch
            self.log("val_loss", torch.nn.functional.mse_loss(self.layer(x), y))

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.05)

    class Capture(Logger):
        """A plain Lightning logger recording every call."""

        def __init__(self):
            super().__init__()
            self.calls = []

        name = "capture"
        version = "0"

        def log_metrics(self, metrics, step=None):
            self.calls.append((dict(metrics), step))

        def log_hyperparams(self, params, *args, **kwargs):
            pass

    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5], [0.0]]) + 0.1 * torch.randn(64, 1, generator=g)
    train = DataLoader(TensorDataset(x, y), batch_size=8)  # 8 batches an epoch
    val = DataLoader(TensorDataset(x[:16], y[:16]), batch_size=8)
    return pl, Tiny, Capture, train, val


def lightning_trainer(pl, tmp_path, loggers, **kw):
    torch.manual_seed(0)
    options = dict(accelerator="cpu", devices=1, max_epochs=2, log_every_n_steps=2,
                   enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                   default_root_dir=str(tmp_path))
    options.update(kw)
    return pl.Trainer(logger=loggers, **options)


def test_lightning_logger_records_what_it_logged(db, tmp_path):
    """2 epochs of 8 batches, a log every 2 steps, validation each epoch, then validate():
    batch points, epoch records (loss and val_loss) and the evaluate record equal what Lightning
    handed a plain logger; the sanity check is not recorded; the session is finished."""
    _need("lightning")
    from tfwatcher.integrations.lightning import TFWatcherLogger

    pl, Tiny, Capture, train, val = lightning_parts()
    watcher, capture = TFWatcherLogger(quiet=True, run_name="lightning tiny"), Capture()
    assert watcher.experiment is watcher.session and watcher.version == watcher.session.id
    trainer = lightning_trainer(pl, tmp_path, [watcher, capture])
    model = Tiny()
    trainer.fit(model, train, val)
    assert watcher.session.flush(20)
    fit_calls = list(capture.calls)
    validated = trainer.validate(model, val, verbose=False)[0]
    assert watcher.session.flush(20)
    stored = read_session(db, watcher.version)

    doc = stored["session"]
    assert doc["status"] == "finished" and doc["run"] == 2 and doc["name"] == "lightning tiny"
    step_calls = [(m, s) for m, s in fit_calls if "train_loss_step" in m]
    assert [s for _, s in step_calls] == [1, 3, 5, 7, 9, 11, 13, 15]  # Lightning's 0-based steps
    points = stored["points"]["train"]
    assert [p["step"] for p in points] == [s + 1 for _, s in step_calls]
    assert [p["epoch"] for p in points] == [1] * 4 + [2] * 4
    assert [p["batch"] for p in points] == [2, 4, 6, 8] * 2
    for point, (metrics, _) in zip(points, step_calls):
        assert point["metrics"] == {"loss": metrics["train_loss_step"], "lr": metrics["lr"]}
        assert point["seconds"] > 0

    val_calls = [m for m, _ in fit_calls if "val_loss" in m]
    epoch_calls = [m for m, _ in fit_calls if "train_loss_epoch" in m]
    assert len(val_calls) == len(epoch_calls) == 2  # none from the sanity check
    for n in (1, 2):
        record = stored["epochs"][f"{n:06d}"]
        assert epoch_metrics(record) == {"val_loss": val_calls[n - 1]["val_loss"],
                                         "loss": epoch_calls[n - 1]["train_loss_epoch"]}
        assert record["step"] == 8 * n and record["seconds"] > 0
    assert [p["step"] for p in stored["points"]["test"]] == [8, 16]
    assert [p["metrics"] for p in stored["points"]["test"]] == [{"loss": m["val_loss"]} for m in val_calls]

    evaluate = stored["epochs"]["evaluate-000001"]
    assert epoch_metrics(evaluate) == {"loss": validated["val_loss"]}
    assert doc["mode"] == "evaluate"


def test_lightning_stop_button_stops_fit(db, tmp_path):
    """The owner's stop command for the current run ends a 1,000-epoch fit within 2 s."""
    _need("lightning")
    from tfwatcher.integrations.lightning import TFWatcherLogger

    pl, Tiny, _, train, val = lightning_parts(pace=0.01)
    watcher = TFWatcherLogger(quiet=True)
    watcher.session.writer.interval = 0.2
    marks = {}

    class SafetyNet(pl.Callback):
        def on_train_batch_end(self, trainer, *args):
            if "written" in marks and time.monotonic() - marks["written"] > 20:
                trainer.should_stop = True

    trainer = lightning_trainer(pl, tmp_path, [watcher], max_epochs=1000, callbacks=[SafetyNet()],
                                limit_val_batches=0)
    thread = press_stop_when_running(db, watcher.session, marks)
    trainer.fit(Tiny(), train, val)
    stopped_after = time.monotonic() - marks["written"]
    thread.join(5)
    assert stopped_after < 2.0, f"training went on {stopped_after:.1f} s after the stop command"
    assert trainer.global_step < 8 * 1000
    assert watcher.session.flush(20)
    stored = read_session(db, watcher.version)
    assert stored["session"]["status"] == "stopped"
    assert stored["session"]["plan"] == {"epochs": 1000, "steps": 8}


def test_lightning_crash_marks_the_session_crashed(db, tmp_path):
    """An exception in training_step: Lightning's finalize("failed") marks the session crashed
    with the exception's type and message; the points before it are stored."""
    _need("lightning")
    from tfwatcher.integrations.lightning import TFWatcherLogger

    pl, Tiny, _, train, val = lightning_parts(fail_at=6)
    watcher = TFWatcherLogger(quiet=True)
    with pytest.raises(ValueError, match="bad batch 6"):
        lightning_trainer(pl, tmp_path, [watcher]).fit(Tiny(), train, val)
    assert watcher.session.flush(20)
    stored = read_session(db, watcher.version)
    assert stored["session"]["status"] == "crashed"
    assert stored["session"]["error"] == {"type": "ValueError", "message": "bad batch 6"}
    assert [p["step"] for p in stored["points"]["train"]] == [2, 4]


def test_lightning_without_a_trainer_sorts_keys_by_name(db):
    """Lightning Fabric style (log_metrics called by hand, no trainer): `_epoch` and `val_`
    keys go to epoch records, the rest to batch points; finalize ends the session."""
    _need("lightning")
    from tfwatcher.integrations.lightning import TFWatcherLogger

    watcher = TFWatcherLogger(quiet=True)
    watcher.log_metrics({"train/loss": 0.5, "epoch": 0}, step=0)
    watcher.log_metrics({"train/loss": 0.25, "epoch": 0}, step=1)
    watcher.log_metrics({"val/loss": 0.75, "train_loss_epoch": 0.375, "epoch": 0}, step=1)
    watcher.finalize("success")
    assert watcher.session.flush(20)
    stored = read_session(db, watcher.version)
    assert stored["session"]["status"] == "finished" and stored["session"]["mode"] == "custom"
    assert [(p["step"], p["metrics"]) for p in stored["points"]["train"]] == [(1, {"loss": 0.5}),
                                                                               (2, {"loss": 0.25})]
    assert epoch_metrics(stored["epochs"]["000001"]) == {"val_loss": 0.75, "loss": 0.375}


def test_lightning_only_rank_zero_writes(db, monkeypatch):
    _need("lightning")
    from lightning.pytorch.utilities import rank_zero_only

    from tfwatcher.integrations.lightning import TFWatcherLogger

    monkeypatch.setattr(rank_zero_only, "rank", 1)
    watcher = TFWatcherLogger(quiet=True)
    assert watcher.session.id is None
    watcher.log_metrics({"loss": 1.0}, step=0)
    watcher.finalize("success")
    assert list(db.collection("sessions").stream()) == []


def test_lightning_logger_pickles_into_a_silent_copy(db):
    """ddp_spawn pickles the trainer with its loggers: the copy records nothing, says so once,
    and the original goes on recording."""
    _need("lightning")
    import pickle

    from tfwatcher.integrations.lightning import TFWatcherLogger

    watcher = TFWatcherLogger(quiet=True)
    with pytest.warns(RuntimeWarning, match="records nothing"):
        copy = pickle.loads(pickle.dumps(watcher))
    assert copy.session.id is None and copy.version == ""
    copy.log_metrics({"loss": 1.0}, step=0)
    copy.finalize("success")
    assert list(db.collection("sessions").stream()) == []
    watcher.log_metrics({"loss": 1.0}, step=0)
    watcher.finalize("success")
    assert watcher.session.flush(20)
    assert read_session(db, watcher.version)["points"]["train"][0]["metrics"] == {"loss": 1.0}


def test_stop_is_not_acted_on_in_multi_process_runs(monkeypatch):
    """Stopping rank 0 alone would leave the other ranks blocked: with more than one process the
    adapters warn once and let training go on."""
    import tfwatcher.integrations as integrations

    monkeypatch.setattr(integrations, "_warned_stop", False)
    assert integrations.stop_allowed(1) and integrations.stop_allowed(None)
    with pytest.warns(RuntimeWarning, match="4 processes"):
        assert not integrations.stop_allowed(4)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not integrations.stop_allowed(4)  # once only
