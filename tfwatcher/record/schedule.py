"""The `schedule` argument: which epochs (or batches) get logged."""

from __future__ import annotations

import numbers


class Schedule:
    """Decides whether a 1-based epoch or batch number is logged.

    Args:
        schedule: an int `n` logs number 1 and every n-th one after it (n, 2n, ...);
            a list (or tuple) logs exactly those 1-based numbers.

    Raises:
        ValueError: for anything else, naming the value received. Checked when a callback
            is built, never during training.
    """

    __slots__ = ("every", "numbers", "text")

    def __init__(self, schedule):
        self.every: int | None = None
        self.numbers: frozenset[int] | None = None
        if _is_int(schedule):
            if schedule < 1:
                raise ValueError(
                    f"schedule must be a positive integer (log every n-th) or a list of 1-based "
                    f"numbers; got {_describe(schedule)}. Use schedule=1 to log every one.")
            self.every = int(schedule)
        elif isinstance(schedule, (list, tuple)):
            if not schedule:
                raise ValueError("schedule is an empty list, so nothing would be logged; "
                                 "give 1-based numbers such as [1, 5, 10], or an int")
            bad = [item for item in schedule if not _is_int(item) or item < 1]
            if bad:
                raise ValueError(
                    f"schedule list items must be positive integers (1-based); got {_describe(bad[0])} "
                    f"in {_describe(list(schedule))}")
            self.numbers = frozenset(int(item) for item in schedule)
        else:
            raise ValueError(
                f"schedule must be a positive int or a list of positive ints; got {_describe(schedule)} "
                f"({type(schedule).__name__})")
        self.text = _describe(schedule)

    def __call__(self, number: int) -> bool:
        """True if the 1-based `number` is to be logged."""
        if self.every is not None:
            return number == 1 or number % self.every == 0
        return number in self.numbers

    def __repr__(self) -> str:
        return f"Schedule({self.text})"


def _describe(value) -> str:
    try:
        text = repr(value)
    except ValueError:  # ints past Python's digit limit for str()
        return f"an int of about {value.bit_length() * 0.30103:.0f} digits"
    return text if len(text) <= 200 else text[:200] + "..."


def _is_int(value) -> bool:
    # bool is an int subclass, but schedule=True is surely a mistake.
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
