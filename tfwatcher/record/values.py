"""Turning Keras `logs` into plain Python floats, without touching the caller's dict."""

from __future__ import annotations

import math
import numbers
import warnings

_warned: set[str] = set()


def to_float(value):
    """Return `value` as a float, or None if it is not a scalar number.

    Python and numpy numbers, 0-d and one-element arrays and tensors are accepted.
    NaN and ±Inf are kept: they are what a user most needs to see.
    """
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, numbers.Real):
        try:
            return float(value)
        except OverflowError:  # an int or Fraction beyond float range: keep its sign
            return math.inf if value > 0 else -math.inf
    size = getattr(value, "size", None)
    if size is None:
        shape = getattr(value, "shape", None)
        if shape is not None:
            try:
                size = math.prod(int(d) for d in shape)
            except (TypeError, ValueError):
                return None
    if size == 1:
        try:
            if hasattr(value, "numpy"):
                value = value.numpy()
            if hasattr(value, "reshape"):
                value = value.reshape(())
            return float(value)
        except (TypeError, ValueError):
            return None
    return None


def scalar_metrics(logs) -> dict[str, float]:
    """A new dict of the scalar metrics in `logs`; non-scalars are skipped with one warning."""
    if not logs:
        return {}
    out: dict[str, float] = {}
    try:
        items = list(logs.items())
    except AttributeError:
        _warn_once("logs", f"tfwatcher: ignoring logs of type {type(logs).__name__}; expected a dict")
        return {}
    for name, value in items:
        number = to_float(value)
        if number is None:
            _warn_once(str(name), f"tfwatcher: metric {str(name)[:80]!r} is not a scalar "
                                  f"({type(value).__name__}); it is not recorded")
            continue
        out[str(name)] = number
    return out


def _warn_once(key: str, message: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, RuntimeWarning, stacklevel=3)
