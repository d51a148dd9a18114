"""A read-back session into files: CSV (safe for spreadsheets) or Parquet, and session.json.

CSV follows RFC 4180 as spreadsheets and pandas read it: lines end in CRLF, so a field
holding a CR or LF is quoted (with a bare LF line end, Python's csv module leaves a CR
unquoted and a metric name holding one splits the header). Text cells starting with a
formula character get a `'` in front unless `raw_cells` (tfwatcher.read.untrusted).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tfwatcher.read.untrusted import spreadsheet_cell

PARQUET_HINT = 'pip install "tf-watcher[parquet]"'


def require_parquet():
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise ImportError(f"Parquet files need pyarrow, an optional extra: {PARQUET_HINT}") from None


def safe_frame(frame):
    """`frame` with its column names and text cells neutralised for spreadsheets (a copy)."""
    out = frame.rename(columns=spreadsheet_cell)
    for column in out.columns:
        if out[column].dtype == object:
            out[column] = out[column].map(spreadsheet_cell)
    return out


def write_frames(folder: Path, fmt: str, frames, about: dict, raw_cells: bool = False) -> list[Path]:
    """Write each `(name, DataFrame)` of `frames` as `folder/name.fmt` (`csv` or `parquet`),
    then `about` as session.json; returns the paths written. `folder` is made if needed."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in frames:
        path = folder / f"{name}.{fmt}"
        if fmt == "csv":
            (frame if raw_cells else safe_frame(frame)).to_csv(
                path, index=False, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
        else:
            frame.to_parquet(path, index=False)
        paths.append(path)
    path = folder / "session.json"
    path.write_text(json.dumps(about, default=_json_default, indent=2, allow_nan=True) + "\n",
                    encoding="utf-8")
    paths.append(path)
    return paths


def _json_default(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
