"""Packed columns: how a chunk document stores its points (docs/schema.md "Packed columns").

Firestore sends every element of an array as its own tagged value (`{"doubleValue": 0.25}`),
~180 bytes a point of one metric on a phone's wire. A packed column is one `bytes` value: a
tag byte, then little-endian numbers, sent base64 (~16 bytes a point of one metric). Readers
(tfwatcher.read, the dashboard's hosting/src/packed.ts, tests) accept a column either way: an
array (chunks written before packing) or bytes.

Tags (the low 7 bits; 0x80 set = a bitmap of n bits, one per value, 1 = missing, follows the tag):
  1 float32 · 2 float64 · 3 int32 · 4 int64 ·
  5 an integer range: int64 start, int64 by (value i = start + i·by; no bitmap) ·
  6 times: float64 base, then int32 milliseconds after it (kept to the millisecond) ·
  7 durations: int32 microseconds (only when each value is exactly that many µs) ·
  8 times: float64 base, then uint16 milliseconds after the previous value (a missing value:
    0), when no step back in time and no gap over 65.535 s · 9 durations: uint16 microseconds
    (each under 65.536 ms). 8 and 9 read back exactly as 6 and 7 do: 2 bytes a point instead
    of 4 (a point of 3 float32 metrics packs in 16 bytes, not 20) ·
  10 a constant: one float64, the value of all n (no bitmap; a learning rate logged every batch).

What each column uses (`pack_*`): step/epoch/batch a range when they are one, else int32/int64;
metric values float32 when every value survives float32 exactly (Keras metrics are float32),
else float64 (nothing is rounded); `seconds` whole microseconds when they are (the callbacks
measure to the µs; tag 9 when each is under 65.536 ms), else float64; `time` tag 8, else 6
(to the millisecond).
"""

from __future__ import annotations

import math
import struct
import sys
from array import array
from itertools import accumulate

from tfwatcher.base.contract import CONTRACT

F32, F64, I32, I64, RANGE, TIMES, MICROS, TIME_STEPS, MICROS16, CONSTANT = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10
_UINT16 = 65_535
MISSING = 0x80
_INT32 = (-(2 ** 31), 2 ** 31 - 1)
_INT64 = (-(2 ** 63), 2 ** 63 - 1)
_LITTLE = sys.byteorder == "little"
# A document holds 1 MiB: at most ~262,000 points of one float32 column. A larger `n` (a
# damaged chunk) is cut, never allocated (the contract's chunks.max_points).
MAX_POINTS: int = CONTRACT["chunks"]["max_points"]


def _bytes(a: array) -> bytes:
    if not _LITTLE:
        a = array(a.typecode, a)
        a.byteswap()
    return a.tobytes()


def _array(typecode: str, data: bytes) -> array:
    a = array(typecode)
    a.frombytes(data)
    if not _LITTLE:
        a.byteswap()
    return a


def _bitmap(missing: list[int], n: int) -> bytes:
    bits = bytearray((n + 7) // 8)
    for i in missing:
        bits[i >> 3] |= 1 << (i & 7)
    return bytes(bits)


def _head(tag: int, values: list) -> tuple[bytes, list[int]]:
    missing = [i for i, v in enumerate(values) if v is None]
    if not missing:
        return bytes((tag,)), missing
    return bytes((tag | MISSING,)) + _bitmap(missing, len(values)), missing


def pack_ints(values: list) -> bytes:
    """Step, epoch or batch numbers (None where unknown); floats fall back to float64.
    C-speed checks only (`in`, `count`, list equality): it runs under the buffer's lock."""
    n = len(values)
    has_missing = None in values
    filled = [0 if v is None else v for v in values] if has_missing else values
    try:
        wide = array("q", filled)
    except (TypeError, OverflowError):  # a float, or beyond int64
        return pack_floats([None if v is None else float(v) for v in values], exact=True)
    if n and not has_missing:
        start, by = wide[0], (wide[1] - wide[0] if n > 1 else 0)
        if _INT64[0] <= by <= _INT64[1] and (
                values.count(start) == n if by == 0
                else wide == array("q", range(start, start + n * by, by))):
            return struct.pack("<Bqq", RANGE, start, by)
    head, _ = _head(I32, values)
    if not n or (_INT32[0] <= min(wide) and max(wide) <= _INT32[1]):
        return head + _bytes(array("i", wide))
    return bytes((head[0] & MISSING | I64,)) + head[1:] + _bytes(wide)


def pack_floats(values: list, exact: bool = True) -> bytes:
    """Float values (None = missing; NaN and ±inf kept). `exact`: float32 only when every value
    survives it unchanged, else float64; not `exact`: float32 (durations: 7 significant digits).
    The same value n > 1 times (none missing): a constant."""
    if len(values) > 1 and exact:
        first = values[0]
        if isinstance(first, float) and first == first and values.count(first) == len(values):
            return struct.pack("<Bd", CONSTANT, first)
    head, _ = _head(F64, values)
    wide = array("d", [math.nan if v is None else v for v in values])
    try:
        narrow = array("f", wide)
    except OverflowError:  # a value beyond float32's range
        return head + _bytes(wide)
    if not exact or array("d", narrow).tobytes() == wide.tobytes():
        return bytes((head[0] & MISSING | F32,)) + head[1:] + _bytes(narrow)
    return head + _bytes(wide)


def pack_durations(values: list) -> bytes:
    """Seconds: int32 microseconds when every value is a whole number of them (exactly: read
    back as µs / 1e6, the same float), else float64."""
    head, _ = _head(MICROS, values)
    try:
        micros = [0 if v is None else round(v * 1_000_000) for v in values]
        if all(v is None or u / 1_000_000 == v for u, v in zip(micros, values)) and (
                not micros or _INT32[0] <= min(micros) and max(micros) <= _INT32[1]):
            if not micros or (0 <= min(micros) and max(micros) <= _UINT16):
                return bytes((head[0] & MISSING | MICROS16,)) + head[1:] + _bytes(array("H", micros))
            return head + _bytes(array("i", micros))
    except (OverflowError, ValueError):  # inf, nan
        pass
    return pack_floats(values)


def pack_times(values: list) -> bytes:
    """Unix times in seconds, kept to the millisecond as offsets from the first."""
    head, missing = _head(TIMES, values)
    known = [v for v in values if v is not None]
    base = known[0] if known else 0.0
    offsets = [0 if v is None else round((v - base) * 1000) for v in values]
    if offsets and not (_INT32[0] <= min(offsets) and max(offsets) <= _INT32[1]):
        return pack_floats(values)
    deltas, prev = [], 0
    for v, off in zip(values, offsets):
        if v is None:
            deltas.append(0)
        else:
            deltas.append(off - prev)
            prev = off
    if not deltas or (0 <= min(deltas) and max(deltas) <= _UINT16):
        return bytes((head[0] & MISSING | TIME_STEPS,)) + head[1:] + struct.pack("<d", base) + _bytes(array("H", deltas))
    return head + struct.pack("<d", base) + _bytes(array("i", offsets))


def unpack(column, n: int | None = None) -> list:
    """A column as a list (None where missing); an array column is returned as it is."""
    if not isinstance(column, (bytes, bytearray, memoryview)):
        return list(column) if isinstance(column, (list, tuple)) else []
    data = bytes(column)
    if not data:
        return []
    tag, pos = data[0], 1
    kind = tag & ~MISSING
    if kind == RANGE:
        start, by = struct.unpack_from("<qq", data, 1)
        return [start + i * by for i in range(min(n or 0, MAX_POINTS))]
    if kind == CONSTANT:
        (value,) = struct.unpack_from("<d", data, 1)
        return [value] * min(n or 0, MAX_POINTS)
    width = {F32: 4, F64: 8, I32: 4, I64: 8, TIMES: 4, MICROS: 4, TIME_STEPS: 2, MICROS16: 2}.get(kind)
    if width is None:
        raise ValueError(f"unknown packed column tag {tag}")
    timed = kind in (TIMES, TIME_STEPS)
    body_len = len(data) - 1 - (8 if timed else 0)
    count = n
    if tag & MISSING:
        # n values take ceil(n/8) bitmap bytes + n*width: solve for n when not given.
        if count is None:
            count = (8 * body_len) // (8 * width + 1)
            while (count + 7) // 8 + count * width < body_len:
                count += 1
        bits = data[pos:pos + (count + 7) // 8]
        pos += (count + 7) // 8
    else:
        bits = None
    base = 0.0
    if timed:
        (base,) = struct.unpack_from("<d", data, pos)
        pos += 8
    code = {F32: "f", F64: "d", I32: "i", I64: "q", TIMES: "i", MICROS: "i", TIME_STEPS: "H", MICROS16: "H"}[kind]
    body = data[pos:]
    values = _array(code, body[:len(body) - len(body) % width])  # a cut last value is dropped
    if kind == TIMES:
        out: list = [base + v / 1000 for v in values]
    elif kind == TIME_STEPS:
        out = [base + v / 1000 for v in accumulate(values)]
    elif kind in (MICROS, MICROS16):
        out = [v / 1_000_000 for v in values]
    else:
        out = values.tolist()
    if bits is not None:
        for i in range(len(out)):
            if bits[i >> 3] >> (i & 7) & 1:
                out[i] = None
    return out


def _safe_unpack(column, n):
    """`unpack`, but a damaged column reads as empty (the readers pad short columns with
    None, tfwatcher.read.firestore) instead of failing the whole read."""
    try:
        return unpack(column, n)
    except (ValueError, struct.error, OverflowError, MemoryError):
        return []


def unpack_chunk(doc: dict) -> dict:
    """A chunk document with every column as a list (schema 2's array form)."""
    if not any(isinstance(doc.get(f), (bytes, bytearray)) for f in ("step", "time", "seconds")):
        series = doc.get("series")
        if not (isinstance(series, list) and any(isinstance(s, dict) and isinstance(s.get("values"), (bytes, bytearray))
                                                  for s in series)):
            return doc
    n = doc.get("n")
    n = max(0, min(n, MAX_POINTS)) if isinstance(n, int) and not isinstance(n, bool) else None
    out = dict(doc)
    for field in ("step", "epoch", "batch", "seconds", "time"):
        if field in doc:
            out[field] = _safe_unpack(doc[field], n)
    if n is None:
        n = len(out.get("step") or [])
    out["series"] = [{**s, "values": _safe_unpack(s.get("values"), n)} for s in doc.get("series") or []
                     if isinstance(s, dict)]
    return out
