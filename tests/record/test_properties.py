"""Property-based tests (hypothesis) for the parts a user feeds arbitrary input into.

* schedules: any Python value either builds a schedule that selects what the documented
  model says (int n: 1 and every n-th; list/tuple: exactly its members) or raises ValueError
  naming the value; never another exception;
* metric names and values: whatever is logged through `Session.log_batch`/`log_epoch` reads
  back from the emulator as sent (NaN as NaN, ints as floats);
* session IDs (tfwatcher/base/contract.json): `is_session_id` is exactly "18 (or, legacy, 7)
  characters of the alphabet"; `parse` recovers the ID from any way people type or paste it
  and otherwise raises a clear ValueError;
* `fit()` with a Watcher on generated schedules and generated logs never raises, and stores
  exactly the epochs and batches its schedules select.

Tests that talk to the emulator keep one session per test function (rotated every few
examples so that the session document stays far under 1 MiB with 1,500-character names),
give every example its own epoch numbers and flush once per example.

Cases generated: 600 + 200 + 30 + 100 + 100 + 150 + 150 + 60 + 300 + 100 + 300 + 20 = 2,110.
"""

from __future__ import annotations

import json
import math
import os
import re
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import tfwatcher
from tfwatcher.base import ids
from tfwatcher.record.schedule import Schedule
from tests.helpers import epoch_metrics, read_session

FIXTURE_OK = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
              HealthCheck.data_too_large]


def cases(n: int, **kwargs):
    return settings(max_examples=n, deadline=None, suppress_health_check=FIXTURE_OK, **kwargs)


# ----- schedules ---------------------------------------------------------------------------------

int_like = st.one_of(
    st.integers(),
    st.integers(-3, 60),
    st.integers(2**62, 2**200),
    st.booleans(),
    st.integers(-2**63, 2**63 - 1).map(np.int64),
    st.integers(-2**31, 2**31 - 1).map(np.int32),
    st.integers(-128, 127).map(np.int8),
    st.integers(0, 255).map(np.uint8),
    st.integers(0, 2**64 - 1).map(np.uint64),
    st.booleans().map(np.bool_),
)
other_scalars = st.one_of(
    st.floats(),
    st.floats(1, 50).map(lambda f: float(int(f))),  # 3.0: integral but a float
    st.floats().map(np.float64),
    st.floats(width=32).map(np.float32),
    st.text(max_size=8),
    st.text(alphabet="0123456789", min_size=1, max_size=3),  # "3"
    st.binary(max_size=4),
    st.none(),
    st.complex_numbers(allow_nan=False, max_magnitude=1e6),
    st.fractions(max_denominator=5),
    st.decimals(allow_nan=True),
    st.just(Ellipsis),
    st.builds(object),
    st.integers(-3, 10).map(np.array),  # 0-d array: not an int
)
scalar = st.one_of(int_like, other_scalars)
schedules = st.one_of(
    int_like,
    other_scalars,
    st.lists(st.integers(1, 60), min_size=1, max_size=8),                   # valid lists
    st.lists(st.integers(1, 60), min_size=1, max_size=5).map(tuple),         # valid tuples
    st.lists(st.one_of(st.integers(1, 60), st.integers(1, 60).map(np.int64)), min_size=1),
    st.lists(scalar, max_size=6),                                            # mixed lists
    st.lists(scalar, max_size=4).map(tuple),
    st.lists(st.lists(st.integers(1, 5), max_size=2), min_size=1, max_size=3),  # nested
    st.sets(st.integers(1, 9), max_size=4),
    st.frozensets(st.integers(1, 9), max_size=4),
    st.dictionaries(st.integers(1, 9), st.integers(1, 9), max_size=3),
    st.lists(st.integers(1, 9), max_size=4).map(np.array),
    st.integers(1, 9).map(lambda n: range(1, n)),
)


def _is_int_like(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def reference(value):
    """The documented rule: ("every", n), ("set", members), or None for a ValueError."""
    if _is_int_like(value):
        return ("every", int(value)) if value >= 1 else None
    if isinstance(value, (list, tuple)) and value and all(
            _is_int_like(item) and item >= 1 for item in value):
        return ("set", frozenset(int(item) for item in value))
    return None


def check_selection(schedule, expected) -> None:
    kind, arg = expected
    if kind == "every":
        probes = set(range(1, 130)) | {arg - 1, arg, arg + 1, 2 * arg, 3 * arg + 1, 10**30}
        for k in sorted(p for p in probes if p >= 1):
            assert schedule(k) == (k == 1 or k % arg == 0), (arg, k)
    else:
        probes = set(range(1, 130)) | arg | {m + 1 for m in arg}
        for k in sorted(probes):
            assert schedule(k) == (k in arg), (sorted(arg), k)


def check_error_names_value(value, err: ValueError) -> None:
    message = str(err)
    if isinstance(value, (list, tuple)):
        if not value:
            assert "empty" in message
        else:
            bad = next(i for i in value if not (_is_int_like(i) and i >= 1))
            assert repr(bad) in message, (bad, message)
    else:
        assert repr(value) in message, (value, message)


def build_or_error(build, value):
    """Build with `value`; check it against the reference model. Returns what was built."""
    expected = reference(value)
    try:
        built = build(value)
    except ValueError as err:
        assert expected is None, f"valid schedule {value!r} was refused: {err}"
        check_error_names_value(value, err)
        return None
    assert expected is not None, f"invalid schedule {value!r} was accepted"
    return built, expected


@cases(600)
@given(schedules)
@example(0)
@example(-1)
@example(True)
@example(np.int64(3))
@example([np.uint8(2), 5])
@example(2**64)
@example([])
@example(())
@example([1, 2.0])
@example(float("nan"))
def test_schedule_is_valid_or_value_error_and_matches_the_model(value):
    got = build_or_error(Schedule, value)
    if got is not None:
        check_selection(*got)


def test_huge_positive_int_schedule_is_accepted():
    s = Schedule(10**5000)
    assert s(1) and not s(2)


CALLBACKS = {
    "EpochEnd": ("_epochs", lambda v, s: tfwatcher.callbacks.EpochEnd(schedule=v, session=s)),
    "TrainBatchEnd": ("_train", lambda v, s: tfwatcher.callbacks.TrainBatchEnd(schedule=v, session=s)),
    "TestBatchEnd": ("_test", lambda v, s: tfwatcher.callbacks.TestBatchEnd(schedule=v, session=s)),
    "PredictBatchEnd": ("_predict", lambda v, s: tfwatcher.callbacks.PredictBatchEnd(schedule=v, session=s)),
    "Watcher.epochs": ("_epochs", lambda v, s: tfwatcher.callbacks.Watcher(epochs=v, session=s)),
    "Watcher.batches": ("_train", lambda v, s: tfwatcher.callbacks.Watcher(batches=v, session=s)),
    "Watcher.test_batches": ("_test", lambda v, s: tfwatcher.callbacks.Watcher(test_batches=v, session=s)),
    "Watcher.predict_batches": ("_predict",
                                lambda v, s: tfwatcher.callbacks.Watcher(predict_batches=v, session=s)),
}


def test_callbacks_validate_schedules_like_the_model(db):
    """Every callback class (and each Watcher schedule) on one shared session."""
    shared = tfwatcher.Session(quiet=True, interval=0.2)

    @cases(200)
    @given(st.sampled_from(sorted(CALLBACKS)), schedules)
    def run(which, value):
        attr, make = CALLBACKS[which]
        if which.startswith("Watcher") and value is None:
            assert getattr(make(None, shared), attr) is None  # None: that kind is off
            return
        got = build_or_error(lambda v: make(v, shared), value)
        if got is not None:
            callback, expected = got
            assert callback.session is shared
            check_selection(getattr(callback, attr), expected)

    run()


def test_epoch_end_with_its_own_session_validates_schedules(db):
    """`EpochEnd(schedule=v, quiet=True)` as users write it: each valid one creates a session."""
    @cases(30)
    @given(schedules)
    def run(value):
        got = build_or_error(lambda v: tfwatcher.callbacks.EpochEnd(schedule=v, quiet=True,
                                                                    interval=0.2), value)
        if got is not None:
            callback, expected = got
            assert ids.is_session_id(callback.ref_id)
            check_selection(callback._epochs, expected)

    run()


# ----- metric names and values -----------------------------------------------------------------

SPECIAL_NAMES = ["", ".", "/", "`", "..", "a.b", "val/acc.top 5", "`quoted`", "loss", "val_loss",
                 "__name__", "ü", "日本語", "🙂", " ", "\x00", "a\nb", "$", "[0]", "*", "~"]
names = st.one_of(st.sampled_from(SPECIAL_NAMES), st.text(max_size=40),
                  st.text(min_size=200, max_size=1500))
values = st.one_of(
    st.floats(),                                                 # NaN, ±Inf, subnormals, huge
    st.floats(allow_subnormal=True, min_value=-1e-307, max_value=1e-307),
    st.floats(width=32).map(np.float32),
    st.floats(width=16).map(np.float16),
    st.floats().map(np.float64),
    st.integers(-10**300, 10**300),
    st.integers(-2**63, 2**63 - 1).map(np.int64),
    st.integers(0, 2**64 - 1).map(np.uint64),
    st.integers(-128, 127).map(np.int8),
    st.booleans(),
    st.booleans().map(np.bool_),
    st.just(float("-0.0")),
    st.integers(0, 2**64 - 1).map(lambda bits: struct.unpack("<d", struct.pack("<Q", bits))[0]),
)
metric_dicts = st.dictionaries(names, values, max_size=4)


def same(got, sent) -> bool:
    want = float(sent)
    if not isinstance(got, float):
        return False
    if math.isnan(want):
        return math.isnan(got)
    return got == want and math.copysign(1.0, got) == math.copysign(1.0, want)


def assert_same_metrics(got: dict, sent: dict) -> None:
    assert list(got) == list(sent) or set(got) == set(sent), (list(got), list(sent))
    for name, value in sent.items():
        assert same(got[name], value), (name, got[name], value)


class Rotating:
    """One session per test, replaced every `every` examples (keeps the session doc small)."""

    def __init__(self, every: int = 15):
        self.every, self.count, self.session, self.names = every, 0, None, {}
        self.counter = 0

    def get(self):
        if self.session is None or self.count >= self.every:
            if self.session is not None:
                self.session.finish()
            self.session = tfwatcher.Session(quiet=True, interval=0.2)
            self.session.start(mode="custom")
            self.count, self.names, self.nan = 0, {}, False
        self.count += 1
        self.counter += 1
        return self.session, self.counter

    def note(self, metrics: dict):
        for name, value in metrics.items():
            self.names.setdefault(name, None)
            if name == "loss" and not math.isfinite(float(value)):
                self.nan = True

    def check_session_doc(self, doc: dict):
        assert doc["metrics"] == list(self.names)
        assert doc["nan"] is self.nan


def test_batch_metrics_read_back_exactly(db):
    rot = Rotating()

    @cases(100)
    @given(st.lists(metric_dicts, min_size=1, max_size=4),
           st.floats(0, 1e6, allow_subnormal=True))
    def run(points, seconds):
        s, epoch = rot.get()
        steps = []
        for batch, metrics in enumerate(points, start=1):
            before = dict(metrics)
            steps.append(s.log_batch(metrics, epoch=epoch, batch=batch, seconds=seconds))
            assert metrics == before  # never changed (same value objects, so NaN compares)
            rot.note(metrics)
        assert s.flush(30)
        got = read_session(db, s.id)
        stored = [p for p in got["points"].get("train", []) if p["step"] in steps]
        assert [p["step"] for p in stored] == steps
        for point, metrics, batch in zip(stored, points, range(1, len(points) + 1)):
            assert (point["epoch"], point["batch"]) == (epoch, batch)
            assert point["seconds"] == seconds
            assert_same_metrics(point["metrics"], metrics)
        rot.check_session_doc(got["session"])

    run()


def test_epoch_metrics_read_back_exactly(db):
    rot = Rotating()

    @cases(100)
    @given(metric_dicts, st.one_of(st.none(), st.floats(0, 1e7)))
    def run(metrics, seconds):
        s, epoch = rot.get()
        s.log_epoch(metrics, epoch=epoch, seconds=seconds)
        rot.note(metrics)
        assert s.flush(30)
        doc = db.document(f"sessions/{s.id}/epochs/{epoch:06d}").get().to_dict()
        assert doc["epoch"] == epoch and doc["kind"] == "train"
        assert doc["names"] == [str(n) for n in metrics]
        assert_same_metrics(epoch_metrics(doc), metrics)
        assert doc["seconds"] == seconds
        session_doc = db.document(f"sessions/{s.id}").get().to_dict()
        rot.check_session_doc(session_doc)
        latest = {item["name"]: item["value"] for item in session_doc["latest"]}
        for name, value in metrics.items():  # epoch values always win
            assert same(latest[name], value), (name, latest[name], value)

    run()


def test_int_too_large_for_a_float_does_not_raise(db):
    s = tfwatcher.Session(quiet=True, interval=0.2)
    s.log_batch({"loss": 10**400, "acc": 0.5}, epoch=1, batch=1)
    s.log_epoch({"count": -10**400, "acc": 0.5}, epoch=1)
    assert s.flush(20)


# ----- session IDs ----------------------------------------------------------------------------
# The reference reads the contract file (tfwatcher/base/contract.json) itself, so these properties check the package
# against the file, not against its own constants.

SID_FORMAT = json.loads((Path(tfwatcher.__file__).parent / "base" / "contract.json").read_text())["session_id"]
ALPHABET = SID_FORMAT["alphabet"]
LENGTH = SID_FORMAT["length"]
LEGACY = SID_FORMAT["legacy_length"]
UPPER = ALPHABET.upper()


def reference_is_id(text) -> bool:
    return isinstance(text, str) and len(text) in (LENGTH, LEGACY) and all(c in ALPHABET for c in text)


def test_the_format_file_gives_at_least_80_bits_without_look_alikes():
    assert len(set(ALPHABET)) == len(ALPHABET) == 31
    assert not set("01ilo") & set(ALPHABET)
    assert LENGTH * math.log2(len(ALPHABET)) >= 80          # 18 x log2(31) = 89.2 bits
    assert LEGACY == 7 and LENGTH % SID_FORMAT["group"] == 0
    assert (ids.ALPHABET, ids.LENGTH, ids.LEGACY_LENGTH) == (ALPHABET, LENGTH, LEGACY)


def test_the_format_is_written_down_once():
    """The package, the dashboard, the functions and the tests all read tfwatcher/base/contract.json: no
    source file carries its own copy of the alphabet (docs may quote it)."""
    root = Path(tfwatcher.__file__).resolve().parents[1]
    skip = {"node_modules", ".venv", "venv", "dist", "dashboard", "__pycache__", ".git"}
    copies = []
    for top in ("tfwatcher", "hosting", "functions", "tests", "bench", "examples", "scripts"):
        for dirpath, dirnames, filenames in os.walk(root / top):
            dirnames[:] = [d for d in dirnames if d not in skip]
            for name in filenames:
                if name.endswith((".py", ".ts", ".js", ".mjs", ".json", ".rules", ".sh", ".html")):
                    path = Path(dirpath) / name
                    if path.name != "contract.json" and ALPHABET in path.read_text(errors="replace"):
                        copies.append(str(path.relative_to(root)))
    rules = (root / "firestore.rules")
    if rules.exists() and ALPHABET in rules.read_text():
        copies.append("firestore.rules")
    assert copies == []


@cases(150)
@given(st.one_of(st.text(alphabet=ALPHABET, min_size=LENGTH, max_size=LENGTH),
                 st.text(alphabet=ALPHABET, min_size=LEGACY, max_size=LEGACY)))
def test_every_id_length_string_of_the_alphabet_is_an_id(text):
    assert ids.is_session_id(text)
    assert not ids.is_session_id(text.upper()) or text.upper() == text
    assert not ids.is_session_id(text[:-1])
    assert not ids.is_session_id(text + text[0])
    assert not ids.is_session_id(text.encode())
    assert not ids.is_session_id(ids.display_id(text)) or len(text) == LEGACY


@cases(150)
@given(st.one_of(
    st.text(max_size=20),
    st.text(alphabet=ALPHABET + "01ilo", min_size=LENGTH, max_size=LENGTH),  # the excluded characters
    st.text(alphabet=ALPHABET + "01ilo", min_size=LEGACY, max_size=LEGACY),
    st.text(alphabet=ALPHABET + UPPER, min_size=LENGTH, max_size=LENGTH),
    st.text(alphabet=ALPHABET, min_size=0, max_size=2 * LENGTH),
    st.text(alphabet=ALPHABET + " -_/\x00é", min_size=LENGTH, max_size=LENGTH),
    st.binary(min_size=LEGACY, max_size=LENGTH), st.integers(), st.none(), st.floats(),
    st.lists(st.sampled_from(ALPHABET), min_size=LENGTH, max_size=LENGTH),
    st.lists(st.sampled_from(ALPHABET), min_size=LEGACY, max_size=LEGACY).map(tuple),
))
def test_is_session_id_is_exactly_the_reference(value):
    assert ids.is_session_id(value) is reference_is_id(value)


@cases(60)
@given(st.integers(0, 2**32))
def test_new_session_ids_are_current_ids(_seed):
    new = {ids.new_session_id() for _ in range(50)}
    assert len(new) == 50
    assert all(ids.is_session_id(i) and reference_is_id(i) and len(i) == LENGTH for i in new)


canonical_ids = st.one_of(st.text(alphabet=ALPHABET, min_size=LENGTH, max_size=LENGTH),
                          st.text(alphabet=ALPHABET, min_size=LEGACY, max_size=LEGACY))


@st.composite
def typed_forms(draw):
    """An ID as people type or paste it: any case, separators anywhere, spaces around, or
    inside a share, owner or predecessor link. Returns (canonical, typed)."""
    sid = draw(canonical_ids)
    text = ids.display_id(sid) if draw(st.booleans()) else sid
    out = []
    for c in text:
        out.append(c.upper() if draw(st.booleans()) else c)
        if draw(st.integers(0, 4)) == 0:
            out.append(draw(st.sampled_from([" ", "-", "  ", "\u2013", "\u2014", ".", "_", "\t"])))
    typed = "".join(out)
    wrap = draw(st.sampled_from(["none", "share", "owner", "logs", "path", "noscheme"]))
    key = draw(st.text(alphabet="abcXYZ019_-", min_size=1, max_size=32))
    host = draw(st.sampled_from(["https://demo-x.web.app", "http://192.168.1.5:8080",
                                 "https://demo.firebaseapp.com"]))
    typed = {"none": typed, "share": f"{host}/s/{typed}", "owner": f"{host}/s/{sid}#k={key}",
             "logs": f"{host}/logs/{sid}", "path": f"/s/{sid}/", "noscheme": f"demo.web.app/s/{sid}"}[wrap]
    pad = draw(st.sampled_from(["", " ", "\n", "  \t"]))
    return sid, pad + typed + pad


@cases(300)
@given(typed_forms())
def test_parse_recovers_the_id_from_anything_people_type_or_paste(case):
    sid, typed = case
    assert ids.parse(typed) == sid


@cases(100)
@given(canonical_ids)
def test_display_form_is_grouped_and_parses_back(sid):
    shown = ids.display_id(sid)
    assert ids.parse(shown) == sid and ids.parse(shown.upper()) == sid
    if len(sid) == LEGACY:
        assert shown == sid
    else:
        groups = shown.split(SID_FORMAT["separator"])
        assert [len(g) for g in groups] == [SID_FORMAT["group"]] * (LENGTH // SID_FORMAT["group"])
        assert "".join(groups) == sid


@cases(300)
@given(st.one_of(
    st.text(max_size=40),
    st.text(alphabet=ALPHABET + UPPER + "01ilo -/:#", max_size=2 * LENGTH),
    st.text(alphabet=ALPHABET, max_size=2 * LENGTH).map(lambda t: "https://demo.web.app/s/" + t),
))
def test_parse_returns_a_canonical_id_or_raises_a_clear_value_error(text):
    try:
        got = ids.parse(text)
    except ValueError as err:
        message = str(err)
        assert ("characters (older ones" in message or "contains" in message
                or "enter the" in message or "does not point to a session" in message), message
    else:
        assert reference_is_id(got)


@pytest.mark.parametrize("text, says", [
    ("", "enter the 18-character session ID"),
    ("abc234", "18 characters (older ones 7)"),
    ("x7kq2m-9hfw4c-pd3nt", "has 17"),
    ("x7kq2m-9hfw4c-pd3ntrr", "has 19"),
    ("x7kq2m-9hfw4c-pd3nt0", "never use 0, 1, i, l or o"),
    ("https://demo.web.app/", "does not point to a session"),
    (None, "is a string"),
])
def test_parse_says_what_is_wrong(text, says):
    with pytest.raises(ValueError, match=re.escape(says)):
        ids.parse(text)


# ----- fit() never raises because of us -----------------------------------------------------

valid_schedules = st.one_of(
    st.integers(1, 4), st.integers(1, 4).map(np.int64), st.integers(5, 10**6),
    st.lists(st.integers(1, 5), min_size=1, max_size=4),
    st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple),
)
optional_schedules = st.one_of(st.none(), valid_schedules)
logged_values = st.one_of(
    st.floats(), st.floats(width=32).map(np.float32), st.integers(-10**6, 10**6),
    st.booleans(), st.integers(-100, 100).map(np.int64),
)
not_scalars = st.one_of(st.text(max_size=5), st.none(), st.just([1.0, 2.0]),
                        st.just(np.zeros(3)), st.just(np.zeros((0,))), st.just({"a": 1}))


def test_fit_with_generated_schedules_and_logs_never_raises(db):
    import keras

    rng = np.random.default_rng(0)
    x, y = rng.random((8, 4), dtype=np.float32), rng.random((8, 1), dtype=np.float32)
    xv, yv = rng.random((4, 4), dtype=np.float32), rng.random((4, 1), dtype=np.float32)
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")

    class Inject(keras.callbacks.Callback):
        """Adds generated metrics to the logs every other callback sees (Keras shares the dict)."""

        def __init__(self, extra):
            super().__init__()
            self.extra = extra

        def on_train_batch_end(self, batch, logs=None):
            logs.update(self.extra)

        def on_epoch_end(self, epoch, logs=None):
            logs.update(self.extra)

    @cases(20)
    @given(epochs_s=optional_schedules, batches_s=optional_schedules, test_s=optional_schedules,
           epochs=st.integers(1, 3), batch_size=st.sampled_from([2, 3, 4, 8]),
           extra=st.dictionaries(names, logged_values, max_size=3),
           junk=st.dictionaries(st.text(min_size=1, max_size=10).map(lambda t: "junk " + t),
                                not_scalars, max_size=2),
           print_logs=st.booleans(), round_time=st.integers(0, 6))
    def run(epochs_s, batches_s, test_s, epochs, batch_size, extra, junk, print_logs, round_time):
        extra = {k: v for k, v in extra.items() if k not in ("loss", "val_loss") and k not in junk}
        watcher = tfwatcher.callbacks.Watcher(epochs=epochs_s, batches=batches_s,
                                              test_batches=test_s, print_logs=print_logs,
                                              round_time=round_time, quiet=True, interval=0.2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "not a scalar": the junk, warned once per name
            model.fit(x, y, batch_size=batch_size, epochs=epochs, validation_data=(xv, yv),
                      verbose=0, callbacks=[Inject({**extra, **junk}), watcher])
        assert watcher.session.flush(30)
        got = read_session(db, watcher.ref_id)
        assert got["session"]["status"] == "finished"
        train_batches = -(-8 // batch_size)
        val_batches = -(-4 // batch_size)
        want_epochs = ([e for e in range(1, epochs + 1) if Schedule(epochs_s)(e)]
                       if epochs_s is not None else [])
        assert sorted(got["epochs"]) == [f"{e:06d}" for e in want_epochs]
        for doc in got["epochs"].values():
            stored = epoch_metrics(doc)
            assert {"loss", "val_loss"} <= set(stored)
            assert not any(name in stored for name in junk)
            assert_same_metrics({k: stored[k] for k in extra}, extra)
        want_points = ([((e - 1) * train_batches + b, e, b) for e in range(1, epochs + 1)
                        for b in range(1, train_batches + 1) if Schedule(batches_s)(b)]
                       if batches_s is not None else [])
        points = got["points"].get("train", [])
        assert [(p["step"], p["epoch"], p["batch"]) for p in points] == want_points
        for p in points:
            assert "loss" in p["metrics"] and not any(name in p["metrics"] for name in junk)
            assert_same_metrics({k: p["metrics"][k] for k in extra}, extra)
        want_test = ([(e, b) for e in range(1, epochs + 1) for b in range(1, val_batches + 1)
                      if Schedule(test_s)(b)] if test_s is not None else [])
        assert [(p["epoch"], p["batch"]) for p in got["points"].get("test", [])] == want_test

    run()
