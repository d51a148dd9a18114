"""Hyperparameters (`config=`), the learning rate logged by the Keras callback, and system
metrics (`tfwatcher.record.system`, kind `system`), against the real Firestore emulator."""

from __future__ import annotations

import math
import re
import sys
import types
import warnings

import keras
import numpy as np
import pytest

import tfwatcher
from tfwatcher.record import system
from tfwatcher.integrations import make_session
from tests.helpers import epoch_metrics, read_session, wait_until


def make(**kwargs):
    kwargs.setdefault("system_metrics", True)  # conftest turns the default off for other tests
    return tfwatcher.Session(quiet=True, interval=0.1, **kwargs)


def test_the_writer_thread_samples_system_metrics_while_the_run_is_in_progress(db, monkeypatch):
    monkeypatch.delenv("TFWATCHER_SYSTEM_METRICS")
    s = tfwatcher.Session(quiet=True, interval=0.1)
    assert s.system_metrics is True  # on by default
    s.start(mode="fit", epochs=1, steps=1)
    s.log_batch({"loss": 1.0})
    wait_until(lambda: s.flush(5) and read_session(db, s.id, system=True)["points"].get("system"),
               timeout=30, message="a system sample from the writer thread")
    s.finish(wait=10)
    point = read_session(db, s.id, system=True)["points"]["system"][0]
    assert point["step"] == 1 and point["seconds"] is None and point["metrics"]
    monkeypatch.setenv("TFWATCHER_SYSTEM_METRICS", "0")
    assert tfwatcher.Session(quiet=True).system_metrics is False


def stored_config(db, sid):
    return db.document(f"sessions/{sid}").get().to_dict().get("config")


# ----- config= --------------------------------------------------------------------------------

class Thing:
    def __repr__(self):
        return "Thing(" + "x" * 500 + ")"


def test_config_is_flattened_and_stored_in_order_on_the_session_document(db):
    config = {"lr": 0.001, "optimizer": {"name": "adam", "betas": [0.9, 0.999], "inner": {"eps": 1e-7}},
              "layers": 3, "augment": True, "note": None, "clip": math.inf, "thing": Thing(),
              "np": {"f": np.float32(0.5), "i": np.int64(7), "b": np.bool_(False)},
              "seed": 2 ** 70, "val/acc.top 5 ü": "ok"}
    before = repr(config)
    s = make(config=config)
    assert repr(config) == before, "the caller's dict is not changed"
    expected = {"lr": 0.001, "optimizer.name": "adam", "optimizer.betas": "[0.9, 0.999]",
                "optimizer.inner.eps": 1e-7, "layers": 3, "augment": True, "note": None,
                "clip": math.inf, "thing": repr(Thing())[:200], "np.f": 0.5, "np.i": 7,
                "np.b": False, "seed": str(2 ** 70), "val/acc.top 5 ü": "ok"}
    assert s.config == expected
    assert type(s.config["np.i"]) is int and type(s.config["np.b"]) is bool
    s.start(mode="custom")
    assert s.flush(15)
    got = stored_config(db, s.id)
    assert [e["name"] for e in got] == list(expected), "stored in the given order"
    assert {e["name"]: e["value"] for e in got} == expected
    s.finish(wait=10)


def test_no_config_means_no_field(db):
    s = make()
    assert s.config == {}
    s.start()
    assert s.flush(15)
    assert "config" not in db.document(f"sessions/{s.id}").get().to_dict()
    s.finish(wait=10)


@pytest.mark.parametrize("bad", [[("lr", 0.1)], "lr=0.1", 0.1, {"lr", "bs"}])
def test_config_that_is_not_a_dict_raises_type_error_when_built(bad):
    with pytest.raises(TypeError, match="config must be a dict"):
        make(config=bad)
    with pytest.raises(TypeError, match="config must be a dict"):
        tfwatcher.callbacks.EpochEnd(config=bad)
    with pytest.raises(TypeError, match="config must be a dict"):
        make_session(None, {}, writes=False, config=bad)  # the HF and Lightning adapters'
    s = make()
    with pytest.raises(TypeError, match="config must be a dict"):
        s.set_config(bad)


@pytest.mark.parametrize("bad", [{1: "a"}, {"ok": 1, None: 2}, {"outer": {("a", 1): 2}}])
def test_config_keys_must_be_strings(bad):
    with pytest.raises(TypeError, match="keys must be strings"):
        make(config=bad)
    with pytest.raises(TypeError, match="keys must be strings"):
        tfwatcher.callbacks.Watcher(quiet=True, config=bad)


def test_too_many_entries_and_long_names_are_cut_with_one_warning_each(db):
    big = {f"p{i:03d}": i for i in range(150)}
    big["nested"] = {f"q{i:03d}": i for i in range(100)}  # 250 entries once flattened
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        s = make(config=big)
    assert len(caught) == 1 and issubclass(caught[0].category, UserWarning)
    assert "250 entries" in str(caught[0].message) and "200" in str(caught[0].message)
    assert len(s.config) == 200
    assert list(s.config)[:150] == [f"p{i:03d}" for i in range(150)]
    assert list(s.config)[150:] == [f"nested.q{i:03d}" for i in range(50)]

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        long = make(config={"k" * 300: 1, "short": 2})
    assert len(caught) == 1 and "shortened to 200" in str(caught[0].message)
    assert list(long.config) == ["k" * 200, "short"]

    s.start()
    assert s.flush(15)
    assert len(stored_config(db, s.id)) == 200
    s.finish(wait=10)


def test_set_config_merges_and_is_sent_later_not_before_first_use(db):
    s = make(config={"lr": 0.1, "batch_size": 32})
    s.set_config({"lr": 0.05, "warmup": {"steps": 100}})
    assert s.config == {"lr": 0.05, "batch_size": 32, "warmup.steps": 100}
    assert s.flush(5)
    assert not db.document(f"sessions/{s.id}").get().exists, "set_config before use writes nothing"
    s.start()
    assert s.flush(15)
    assert stored_config(db, s.id) == [{"name": "lr", "value": 0.05},
                                       {"name": "batch_size", "value": 32},
                                       {"name": "warmup.steps", "value": 100}]
    s.set_config({"epochs_done": 1, "batch_size": 64})  # while running
    assert s.flush(15)
    assert {e["name"]: e["value"] for e in stored_config(db, s.id)} == {
        "lr": 0.05, "batch_size": 64, "warmup.steps": 100, "epochs_done": 1}
    s.finish(wait=10)


def test_set_config_of_a_session_that_only_logs_points_goes_with_them(db):
    s = make()
    s.set_config({"model": "mlp"})
    s.log_batch({"loss": 1.0})  # no start(): the first point creates the document
    assert s.flush(15)
    assert stored_config(db, s.id) == [{"name": "model", "value": "mlp"}]
    s.finish(wait=10)


def test_callbacks_take_config_own_and_shared_session(db):
    own = tfwatcher.callbacks.EpochEnd(quiet=True, config={"a": 1})
    assert own.session.config == {"a": 1}
    shared = tfwatcher.callbacks.Watcher(config={"b": {"c": 2}})
    also = tfwatcher.callbacks.TrainBatchEnd(config={"d": "x"})
    assert shared.session is also.session
    assert shared.session.config == {"b.c": 2, "d": "x"}
    explicit = make()
    tfwatcher.callbacks.PredictEnd(session=explicit, config={"e": None})
    assert explicit.config == {"e": None}
    adapter = make_session(None, {"quiet": True}, writes=True, config={"f": 1.5})
    assert adapter.config == {"f": 1.5}


# ----- the learning rate ------------------------------------------------------------------------

def tiny_data():
    x = np.random.default_rng(0).random((32, 4), dtype=np.float32)
    return x, x.sum(axis=1, keepdims=True)


def tiny_model(optimizer):
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=optimizer, loss="mse")
    return model


def test_learning_rate_of_a_schedule_is_logged_each_epoch_and_decreases(db):
    x, y = tiny_data()
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    model = tiny_model(keras.optimizers.SGD(schedule))
    monitor = tfwatcher.callbacks.EpochEnd(quiet=True, config={"schedule": "exponential"})
    history = model.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[monitor])
    assert "learning_rate" not in history.history, "Keras' logs are not changed"
    assert monitor.session.flush(15)
    got = read_session(db, monitor.ref_id)
    rates = [epoch_metrics(got["epochs"][f"{e:06d}"])["learning_rate"] for e in (1, 2, 3)]
    # Two steps an epoch: after epoch e the optimizer has made 2e steps.
    assert rates == pytest.approx([0.1 * 0.5 ** (2 * e) for e in (1, 2, 3)], rel=1e-5)
    assert rates[0] > rates[1] > rates[2]
    assert "learning_rate" in got["session"]["metrics"]
    assert got["session"]["config"] == [{"name": "schedule", "value": "exponential"}]


def test_constant_learning_rate_and_one_already_in_the_logs(db):
    x, y = tiny_data()
    watcher = tfwatcher.callbacks.Watcher(quiet=True, batches=None)
    tiny_model(keras.optimizers.Adam(0.003)).fit(x, y, batch_size=16, epochs=2, verbose=0,
                                                 callbacks=[watcher])

    class Reports(keras.callbacks.Callback):  # a callback before ours that logs its own
        def on_epoch_end(self, epoch, logs=None):
            logs["lr"] = 42.0

    other = tfwatcher.callbacks.EpochEnd(quiet=True)
    tiny_model("sgd").fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[Reports(), other])
    assert watcher.session.flush(15) and other.session.flush(15)
    got = read_session(db, watcher.ref_id)
    for e in ("000001", "000002"):
        assert epoch_metrics(got["epochs"][e])["learning_rate"] == pytest.approx(0.003)
    values = epoch_metrics(read_session(db, other.ref_id)["epochs"]["000001"])
    assert values["lr"] == 42.0 and "learning_rate" not in values


def test_learning_rate_failures_are_skipped_silently(db):
    from tfwatcher.callbacks import current_learning_rate

    class Broken:
        @property
        def learning_rate(self):
            raise RuntimeError("no")

    class Model:
        optimizer = Broken()

    assert current_learning_rate(None) is None
    assert current_learning_rate(Model()) is None
    assert current_learning_rate(types.SimpleNamespace(optimizer=None)) is None
    assert current_learning_rate(types.SimpleNamespace(
        optimizer=types.SimpleNamespace(learning_rate="fast"))) is None
    cb = tfwatcher.callbacks.EpochEnd(quiet=True)
    cb.set_model(types.SimpleNamespace(optimizer=Broken(), stop_training=False))
    cb.on_train_begin()
    cb.on_epoch_begin(0)
    cb.on_epoch_end(0, {"loss": 1.0})
    cb.on_train_end()
    assert cb.session.flush(15)
    assert epoch_metrics(read_session(db, cb.ref_id)["epochs"]["000001"]) == {"loss": 1.0}


# ----- system metrics -----------------------------------------------------------------------------

def test_sample_keys_and_ranges():
    system.prime()  # what building a Session does (else a first sample has no cpu_percent)
    values = system.sample()
    assert {"cpu_percent", "memory_percent", "memory_gb"} <= set(values)  # psutil (dev extra)
    assert 0.0 <= values["cpu_percent"] <= 100.0
    assert 0.0 < values["memory_percent"] <= 100.0 and values["memory_gb"] > 0.0
    for name, value in values.items():
        assert isinstance(value, float) and math.isfinite(value)
        assert re.fullmatch(r"cpu_percent|memory_percent|memory_gb|gpu\d+_(util_percent|memory_gb)", name)


def test_sample_without_psutil_reads_proc_or_returns_nothing_and_never_warns(monkeypatch):
    monkeypatch.setitem(sys.modules, "psutil", None)  # `import psutil` now raises ImportError
    monkeypatch.setitem(sys.modules, "pynvml", None)
    monkeypatch.setattr(system, "_nvml", None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        values = system.sample()
        values = system.sample()  # the second measures CPU since the first
        if sys.platform.startswith("linux"):
            assert {"cpu_percent", "memory_percent", "memory_gb"} == set(values)
            assert 0.0 <= values["cpu_percent"] <= 100.0 and 0.0 < values["memory_percent"] <= 100.0
            assert values["memory_gb"] > 0.0
        monkeypatch.setattr(system, "_read_proc_cpu", lambda: None)
        monkeypatch.setattr(system, "_proc_cpu", None)
        monkeypatch.setattr(system, "_proc_memory", lambda: None)
        assert system.sample() == {}  # neither psutil, /proc nor NVML: nothing, no error


def test_gpu_metrics_through_nvml_and_failures_leave_keys_out(monkeypatch):
    class Error(Exception):
        pass

    def util(handle):
        if handle == 1:
            raise Error("not supported on a MIG slice")
        return types.SimpleNamespace(gpu=87)

    fake = types.SimpleNamespace(
        nvmlInit=lambda: None, nvmlDeviceGetCount=lambda: 2,
        nvmlDeviceGetHandleByIndex=lambda i: i, nvmlDeviceGetUtilizationRates=util,
        nvmlDeviceGetMemoryInfo=lambda h: types.SimpleNamespace(used=3_000_000_000 * (h + 1)))
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    monkeypatch.setattr(system, "_nvml", None)
    values = system.sample()
    assert values["gpu0_util_percent"] == 87.0 and values["gpu0_memory_gb"] == 3.0
    assert "gpu1_util_percent" not in values and values["gpu1_memory_gb"] == 6.0

    def no_driver():
        raise Error("NVML Shared Library Not Found")

    monkeypatch.setattr(fake, "nvmlInit", no_driver, raising=False)
    monkeypatch.setattr(system, "_nvml", None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not any(k.startswith("gpu") for k in system.sample())


def test_system_points_are_stored_with_sample_numbers(db):
    s = make()
    s._sample_system()  # not running: nothing is sampled
    s.start(mode="fit", epochs=2)
    s.log_epoch({"loss": 1.0}, epoch=1)
    s._sample_system()
    s._sample_system()
    assert s.flush(15)
    s.finish()
    s._sample_system()  # ended: nothing
    assert s.flush(15)
    got = read_session(db, s.id, system=True)
    points = got["points"]["system"]
    # The writer may also sample (at start, then every 10 s): steps count samples, whoever took them.
    assert len(points) >= 2 and [p["step"] for p in points] == list(range(1, len(points) + 1))
    assert [p["batch"] for p in points] == [p["step"] for p in points]
    assert all(p["seconds"] is None and p["epoch"] >= 1 for p in points)
    assert points[-1]["epoch"] == 1
    assert all({"cpu_percent", "memory_percent", "memory_gb"} <= set(p["metrics"]) for p in points)
    assert not {"cpu_percent", "memory_gb"} & set(got["session"]["metrics"]), \
        "system values are not training metrics"
    assert got["session"]["versions"]["numpy"] == np.__version__


def test_start_gives_the_writer_a_sampler_that_holds_the_session_weakly(db, monkeypatch):
    import gc
    import weakref

    s = make()
    calls = []
    monkeypatch.setattr(s.writer, "set_sampler", lambda fn, every=10.0: calls.append((fn, every)),
                        raising=False)
    s.start()
    (fn, every), = calls
    assert every == 10.0 and callable(fn)
    fn()
    assert s.flush(15)
    assert len(read_session(db, s.id, system=True)["points"]["system"]) == 1
    s.finish(wait=10)

    off = make(system_metrics=False)
    calls.clear()
    monkeypatch.setattr(off.writer, "set_sampler", lambda fn, every=10.0: calls.append(fn),
                        raising=False)
    off.start()
    assert calls == [None]
    off.finish(wait=10)

    unused = make()
    sampler, ref = system.sampler_for(unused), weakref.ref(unused)
    del unused
    gc.collect()
    assert ref() is None, "the sampler does not keep its session alive"
    sampler()  # the session is gone: nothing happens, nothing raises


def test_a_failing_system_sample_warns_once_and_sampling_ends(db, monkeypatch):
    """A sample that raises (a broken psutil, a driver fault) never reaches the writer thread:
    the first failure is one warning saying what happens next, later samples are not taken,
    and training's own points go on."""
    s = make()
    # Samples are taken here only: the writer thread's own would race the warning's capture.
    monkeypatch.setattr(s.writer, "set_sampler", lambda fn, every=10.0: None, raising=False)
    s.start()
    taken = []

    def broken():
        taken.append(1)
        raise OSError("sensor gone")

    monkeypatch.setattr(system, "sample", broken)
    with pytest.warns(RuntimeWarning, match=r"system metrics sample failed \(OSError: sensor gone\)"
                                             r".*no more system samples"):
        s._sample_system()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s._sample_system()  # no second warning, no second try
    assert taken == [1]
    s.log_batch({"loss": 0.5})
    s.finish()
    assert s.flush(15)
    assert read_session(db, s.id)["session"]["latest"] == [{"name": "loss", "value": 0.5}]


def test_system_metrics_must_be_a_bool():
    with pytest.raises(ValueError, match="system_metrics"):
        make(system_metrics="yes")
    with pytest.raises(TypeError, match="unexpected"):
        tfwatcher.callbacks.EpochEnd(system_metric=False)
    assert tfwatcher.callbacks.EpochEnd(quiet=True, system_metrics=False).session.system_metrics is False

