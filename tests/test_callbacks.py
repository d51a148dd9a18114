"""The Keras callbacks with real (tiny) TensorFlow training, read back from the emulator."""

import math
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest

import tfwatcher
from tfwatcher import demo
from tests.helpers import epoch_metrics, read_session

SCRIPTS = Path(__file__).parent / "scripts"


@pytest.fixture(scope="module")
def data():
    (x, y), _ = demo.load_data("digits")
    return x, y


def test_tutorial_end_to_end_stores_every_epoch_exactly(db, data, capsys):
    """The walkthrough of shared/tutorial.md, unchanged apart from the data source."""
    x_train, y_train = data
    MonitorCallback = tfwatcher.callbacks.EpochEnd(schedule=1)
    sid = MonitorCallback.ref_id
    assert f"Use this ID to monitor training for this session: {sid}" in capsys.readouterr().out
    model = demo.get_model()
    history = model.fit(x_train, y_train, batch_size=128, epochs=100, validation_split=0.5,
                        callbacks=[MonitorCallback], verbose=0)
    assert MonitorCallback.session.flush(30)
    got = read_session(db, sid)
    assert sorted(got["epochs"]) == [f"{e:06d}" for e in range(1, 101)]
    for e in range(100):
        stored = epoch_metrics(got["epochs"][f"{e + 1:06d}"])
        expected = {k: float(v[e]) for k, v in history.history.items()}
        # Added by the callback (Keras' logs hold none): the demo's RMSprop(learning_rate=0.1).
        assert stored.pop("learning_rate") == pytest.approx(0.1)
        assert set(stored) == set(expected)
        for name, value in expected.items():
            assert stored[name] == value or (math.isnan(stored[name]) and math.isnan(value))
        assert got["epochs"][f"{e + 1:06d}"]["step"] == 4 * (e + 1)
        assert got["epochs"][f"{e + 1:06d}"]["seconds"] > 0
    session = got["session"]
    assert session["status"] == "finished" and session["mode"] == "fit"
    assert session["plan"] == {"epochs": 100, "steps": 4}
    assert set(session["metrics"]) == {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"}
    assert "points" not in got or not got["points"]  # EpochEnd records no batches


def test_schedule_every_third_and_list(db, data):
    x, y = data
    every = tfwatcher.callbacks.EpochEnd(schedule=3, quiet=True)
    listed = tfwatcher.callbacks.EpochEnd(schedule=[2, 5], quiet=True)
    demo.get_model().fit(x, y, batch_size=250, epochs=7, callbacks=[every, listed], verbose=0)
    assert every.session is not listed.session  # own sessions when options are given
    assert every.session.flush(20) and listed.session.flush(20)
    assert sorted(read_session(db, every.ref_id)["epochs"]) == ["000001", "000003", "000006"]
    assert sorted(read_session(db, listed.ref_id)["epochs"]) == ["000002", "000005"]


def test_watcher_records_batches_with_global_steps_and_validation(db, data):
    x, y = data
    watcher = tfwatcher.callbacks.Watcher(test_batches=1)
    model = demo.get_model()
    model.fit(x, y, batch_size=100, epochs=3, validation_split=0.2, callbacks=[watcher], verbose=0)
    assert watcher.session.flush(20)
    got = read_session(db, watcher.ref_id)
    train = got["points"]["train"]
    assert [p["step"] for p in train] == list(range(1, 25))          # 8 batches x 3 epochs
    assert [p["batch"] for p in train] == list(range(1, 9)) * 3
    assert [p["epoch"] for p in train] == [1] * 8 + [2] * 8 + [3] * 8
    assert all(set(p["metrics"]) == {"loss", "accuracy"} and p["seconds"] > 0 for p in train)
    test = got["points"]["test"]
    assert [p["epoch"] for p in test] == [1, 1, 2, 2, 3, 3]           # 2 validation batches an epoch
    assert sorted(got["epochs"]) == ["000001", "000002", "000003"]


def test_one_callback_reused_across_two_fits_continues_steps_and_epochs(db, data):
    x, y = data
    watcher = tfwatcher.callbacks.Watcher(test_batches=None)
    model = demo.get_model()
    model.fit(x, y, batch_size=250, epochs=2, callbacks=[watcher], verbose=0)
    model.fit(x, y, batch_size=250, epochs=2, callbacks=[watcher], verbose=0)
    assert watcher.session.flush(20)
    got = read_session(db, watcher.ref_id)
    assert [p["step"] for p in got["points"]["train"]] == list(range(1, 17))
    assert [p["epoch"] for p in got["points"]["train"]] == [1] * 4 + [2] * 4 + [3] * 4 + [4] * 4
    assert sorted(got["epochs"]) == ["000001", "000002", "000003", "000004"]
    assert [c["index"] for c in got["chunks"]] == [0, 1]               # one chunk per fit
    assert got["session"]["status"] == "finished"
    # The plan of the second fit names its epochs as the session numbers them: 3..4 of 4.
    assert got["session"]["plan"] == {"epochs": 4, "steps": 4, "first_epoch": 3}


def test_evaluate_and_predict(db, data):
    x, y = data
    model = demo.get_model()
    tester = tfwatcher.callbacks.TestBatchEnd(schedule=1)
    model.evaluate(x, y, batch_size=250, callbacks=[tester], verbose=0)
    assert tester.session.flush(20)
    got = read_session(db, tester.ref_id)
    assert got["session"]["mode"] == "evaluate" and got["session"]["status"] == "finished"
    assert [p["batch"] for p in got["points"]["test"]] == [1, 2, 3, 4]
    assert all("loss" in p["metrics"] for p in got["points"]["test"])

    timer = tfwatcher.callbacks.PredictEnd(quiet=True)
    batches = tfwatcher.callbacks.PredictBatchEnd(schedule=2, session=timer.session)
    model.predict(x, batch_size=100, callbacks=[timer, batches], verbose=0)
    assert timer.session.flush(20)
    got = read_session(db, timer.ref_id)
    assert got["session"]["mode"] == "predict" and got["session"]["status"] == "finished"
    assert [p["batch"] for p in got["points"]["predict"]] == [1, 2, 4, 6, 8, 10]
    summary = got["epochs"]["predict-000001"]
    assert summary["kind"] == "predict" and epoch_metrics(summary) == {"batches": 10.0}
    assert summary["seconds"] > 0


def test_logs_are_never_changed(db, data):
    x, y = data
    seen = []

    class Spy(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(dict(logs))

        def on_epoch_end(self, epoch, logs=None):
            seen.append(dict(logs))

    model = demo.get_model()
    history = model.fit(x, y, batch_size=500, epochs=2, validation_split=0.5, verbose=0,
                        callbacks=[tfwatcher.callbacks.Watcher(print_logs=True), Spy()])
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert all(set(logs) <= {"loss", "accuracy", "val_loss", "val_accuracy"} for logs in seen)


def test_hooks_with_made_up_logs(db):
    """Hooks called directly: None, non-scalar arrays, tensors; nothing raises."""
    import tensorflow as tf

    cb = tfwatcher.callbacks.Watcher(quiet=True)
    cb.set_model(demo.get_model())
    cb.set_params({"epochs": 1, "steps": 3})
    cb.on_train_begin()
    cb.on_epoch_begin(0)
    cb.on_train_batch_begin(0)
    cb.on_train_batch_end(0, None)
    cb.on_train_batch_begin(1)
    with pytest.warns(RuntimeWarning, match="not a scalar"):
        cb.on_train_batch_end(1, {"loss": tf.constant(0.5), "weights_made_up": np.ones((3, 3))})
    cb.on_train_batch_begin(2)
    cb.on_train_batch_end(2, {"loss": np.float64("nan"), "acc": np.float32(0.25)})
    cb.on_epoch_end(0, {"loss": np.array(0.125)})
    cb.on_train_end()
    assert cb.session.flush(20)
    got = read_session(db, cb.ref_id)
    metrics = [p["metrics"] for p in got["points"]["train"]]
    assert metrics[0] == {} and metrics[1] == {"loss": 0.5}
    assert math.isnan(metrics[2]["loss"]) and metrics[2]["acc"] == 0.25
    assert epoch_metrics(got["epochs"]["000001"]) == {"loss": 0.125,
                                                      "learning_rate": pytest.approx(0.1)}
    assert got["session"]["nan"] is True


@pytest.mark.parametrize("kwargs", [{"schedule": 0}, {"schedule": -2}, {"schedule": True},
                                    {"schedule": 1.5}, {"schedule": "3"}, {"schedule": []},
                                    {"schedule": [1, 0]}, {"schedule": [1, 2.5]},
                                    {"round_time": -1}, {"round_time": 1.5}, {"print_logs": 1},
                                    {"session": "abc1234"}])
def test_bad_arguments_fail_when_the_callback_is_built(kwargs):
    with pytest.raises(ValueError) as info:
        tfwatcher.callbacks.EpochEnd(**kwargs)
    value = next(iter(kwargs.values()))
    assert repr(value)[:6] in str(info.value) or type(value).__name__ in str(info.value) or "empty" in str(info.value)


def run_script(name, *args, timeout=240):
    import os

    result = subprocess.run([sys.executable, str(SCRIPTS / name), *args], capture_output=True,
                            text=True, timeout=timeout, env={**os.environ, "TFWATCHER_QR": "0"})
    return result


def sid_from(output: str) -> str:
    for line in output.splitlines():
        if line.startswith("Use this ID to monitor training for this session:"):
            return line.rsplit(" ", 1)[-1]
    raise AssertionError(f"no session ID printed in:\n{output}")


def test_crash_in_fit_marks_session_crashed_after_flushing(db):
    result = run_script("crash_fit.py")
    assert result.returncode != 0 and "ValueError: boom at epoch 3" in result.stderr
    got = read_session(db, sid_from(result.stdout))
    assert got["session"]["status"] == "crashed"
    assert got["session"]["error"] == {"type": "ValueError", "message": "boom at epoch 3"}
    assert sorted(got["epochs"]) == ["000001", "000002"]
    assert len(got["points"]["train"]) == 2 * 4 + 1


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_other_keras_backends(db, backend):
    """Keras 3 on PyTorch or JAX (where installed): batch hooks may run on a thread pool."""
    import importlib.util
    import os

    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed here (pip install {backend}); TensorFlow is tested")
    result = subprocess.run([sys.executable, str(SCRIPTS / "backend_fit.py")], capture_output=True,
                            text=True, timeout=300,
                            env={**os.environ, "TFWATCHER_QR": "0", "KERAS_BACKEND": backend})
    assert result.returncode == 0, result.stderr[-3000:]
    got = read_session(db, sid_from(result.stdout))
    assert got["session"]["status"] == "finished"
    assert [p["step"] for p in got["points"]["train"]] == list(range(1, 25))
    assert [p["batch"] for p in got["points"]["train"]] == list(range(1, 9)) * 3
    assert sorted(got["epochs"]) == ["000001", "000002", "000003"]
