"""Argument checks and value conversion: no emulator needed."""

import math

import numpy as np
import pytest

from tfwatcher.record.schedule import Schedule
from tfwatcher.record.values import scalar_metrics, to_float


@pytest.mark.parametrize("bad", [0, -1, -5, True, False, 1.0, 2.5, "1", "every", [], (),
                                 [0], [1, -2], [1, 2.0], [1, "3"], [True], None, {1: 2}, {1, 2}])
def test_bad_schedule_raises_value_error_naming_the_value(bad):
    with pytest.raises(ValueError) as info:
        Schedule(bad)
    assert repr(bad)[:10] in str(info.value) or "empty" in str(info.value)


def test_int_schedule_logs_first_and_every_nth():
    s = Schedule(3)
    assert [n for n in range(1, 13) if s(n)] == [1, 3, 6, 9, 12]
    assert [n for n in range(1, 5) if Schedule(1)(n)] == [1, 2, 3, 4]


def test_list_schedule_logs_exactly_those():
    s = Schedule([2, 5, np.int64(7)])
    assert [n for n in range(1, 10) if s(n)] == [2, 5, 7]


def test_to_float_accepts_python_numpy_and_tensor_scalars():
    import tensorflow as tf

    assert to_float(3) == 3.0
    assert to_float(np.float32(1.5)) == 1.5
    assert to_float(np.array(2.0)) == 2.0
    assert to_float(np.array([4.0])) == 4.0
    assert to_float(tf.constant(0.25)) == 0.25
    assert math.isnan(to_float(float("nan")))
    assert to_float(np.float64("inf")) == math.inf
    assert to_float(np.zeros(3)) is None
    assert to_float("0.5") is None


def test_scalar_metrics_copies_and_skips_non_scalars_with_one_warning():
    logs = {"loss": np.float32(0.5), "matrix": np.ones((2, 2)), "val/acc. top 5": 1}
    before = dict(logs)
    with pytest.warns(RuntimeWarning, match="matrix"):
        out = scalar_metrics(logs)
    assert out == {"loss": 0.5, "val/acc. top 5": 1.0}
    assert logs.keys() == before.keys()
    assert scalar_metrics(None) == {}
