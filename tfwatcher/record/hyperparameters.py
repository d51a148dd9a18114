"""A run's hyperparameters (`Session(config=...)`, `set_config`): checked, flattened and made
storable, then written as the session document's `config` list.

Nested dicts are flattened with "." (`{"optimizer": {"lr": 0.1}}` → `optimizer.lr`); numbers,
strings, bools and None are stored as they are, anything else as its repr (200 characters).
Names are stored as values, never as Firestore field names (a name may hold any character).
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Mapping

MAX_CONFIG = 200          # entries of `config`
MAX_CONFIG_NAME = 200     # characters of a config name
MAX_CONFIG_STRING = 1000  # characters of a string value (other values: their repr, 200)


def normalize_config(config, what: str = "config") -> dict:
    """The flat dict stored for `config=`: validated, nested dicts flattened with ".", values
    made storable. TypeError for anything but a dict with string keys; warnings (one per call)
    for what is shortened or left out. The caller's dict is never kept or changed."""
    if config is None:
        return {}
    if not isinstance(config, Mapping):
        raise TypeError(f"{what} must be a dict of hyperparameters (name -> value) or None; "
                        f"got {type(config).__name__} {short_repr(config, 80)}")
    out: dict = {}
    notes = {"dropped": 0, "long_names": 0, "long_strings": 0}

    def walk(mapping, prefix: str, seen: tuple) -> None:
        for key, value in mapping.items():
            if not isinstance(key, str):
                where = f" (in {prefix[:-1]!r})" if prefix else ""
                raise TypeError(f"{what} keys must be strings; got {type(key).__name__} "
                                f"{short_repr(key, 80)}{where}")
            name = prefix + key
            if isinstance(value, Mapping) and id(value) not in seen and len(seen) < 32:
                walk(value, name + ".", seen + (id(value),))
                continue
            name = clean_text(name)
            if len(name) > MAX_CONFIG_NAME:
                notes["long_names"] += 1
                name = name[:MAX_CONFIG_NAME]
            if name not in out and len(out) >= MAX_CONFIG:
                notes["dropped"] += 1
                continue
            out[name] = _config_value(value, notes)

    walk(config, "", (id(config),))
    # stacklevel 3: the warning names the caller of Session() / set_config, not this module.
    if notes["dropped"]:
        warnings.warn(f"tfwatcher: {what} has {len(out) + notes['dropped']} entries (nested ones "
                      f"counted); keeping the first {MAX_CONFIG}", UserWarning, stacklevel=3)
    if notes["long_names"]:
        warnings.warn(f"tfwatcher: {notes['long_names']} {what} name(s) longer than "
                      f"{MAX_CONFIG_NAME} characters were shortened to {MAX_CONFIG_NAME}",
                      UserWarning, stacklevel=3)
    if notes["long_strings"]:
        warnings.warn(f"tfwatcher: {notes['long_strings']} {what} string value(s) longer than "
                      f"{MAX_CONFIG_STRING} characters were shortened to {MAX_CONFIG_STRING}",
                      UserWarning, stacklevel=3)
    return out


def merge_config(current: dict, extra: dict) -> tuple[dict, int]:
    """`current` updated with `extra` (a new dict), and how many new names did not fit in
    `MAX_CONFIG` (names already present are always replaced)."""
    merged = dict(current)
    dropped = 0
    for name, value in extra.items():
        if name in merged or len(merged) < MAX_CONFIG:
            merged[name] = value
        else:
            dropped += 1
    return merged, dropped


def config_entries(flat: dict) -> list[dict]:
    """The session document's `config` field: names as values, never as field names."""
    return [{"name": name, "value": value} for name, value in flat.items()]


def _config_value(value, notes: dict):
    if value is None or isinstance(value, bool):
        return value
    if type(value).__name__ in ("bool_", "bool") and type(value).__module__ == "numpy":
        return bool(value)
    if isinstance(value, numbers.Integral):
        number = int(value)
        # Firestore integers are 64-bit; a larger one keeps its digits as a string.
        return number if -2 ** 63 <= number < 2 ** 63 else short_repr(number, 200)
    if isinstance(value, numbers.Real):
        try:
            return float(value)  # NaN and ±Inf are stored as they are
        except (OverflowError, ValueError, TypeError):
            return short_repr(value, 200)
    if isinstance(value, str):
        value = clean_text(value)
        if len(value) > MAX_CONFIG_STRING:
            notes["long_strings"] += 1
            value = value[:MAX_CONFIG_STRING]
        return value
    return short_repr(value, 200)


def short_repr(value, limit: int) -> str:
    """`repr(value)`, at most `limit` characters, storable; never raises."""
    try:
        text = repr(value)
    except Exception:  # a broken __repr__ must not break the run: name the type instead
        text = f"<{type(value).__name__}>"
    return clean_text(text[:limit])


def clean_text(text: str) -> str:
    """`text` as valid UTF-8 (a lone surrogate cannot be stored in Firestore)."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
