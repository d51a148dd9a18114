"""`tfwatcher export SID`: a session's epochs and batch points into CSV or Parquet files.

It checks what it can before spending a read (the ID, the extras, the folder is writable),
reads the whole session once (`load.read_session`), writes the files (`files`), and prints
one summary, or one sentence saying what went wrong: never a traceback. docs/data.md.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from tfwatcher.base import ids
from tfwatcher.read.firestore import close, describe_error, resolve_target
from tfwatcher.read.load import Run, read_session, require_pandas, require_parquet


def check_writable(folder: Path) -> bool:
    """Make `folder` and prove a file can be written in it: before any read is spent.
    True if the folder was made here (so a failed read can remove it again)."""
    made = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder} is not a folder")
    probe = folder / f".tfwatcher-write-test-{os.getpid()}"
    probe.write_bytes(b"")
    probe.unlink()
    return made


def export_command(sid_text: str, fmt: str, folder: str | None, project: str | None,
                   timeout: float, out=None, err=None, raw_cells: bool = False) -> int:
    """`tfwatcher export`: 0 written, 1 the read failed, 2 bad input (ID, folder, missing extra).

    `raw_cells` writes CSV text cells as stored, without the `'` that keeps a spreadsheet
    from running a cell starting with `=`, `+`, `-`, `@`, tab or CR as a formula.
    """
    out = out or sys.stdout
    err = err or sys.stderr
    prefix = "tfwatcher export:"
    try:
        sid = ids.parse(sid_text)
    except ValueError as e:
        print(f"{prefix} {e}", file=err)
        return 2
    try:
        require_pandas()
        if fmt == "parquet":
            require_parquet()
    except ImportError as e:
        print(f"{prefix} {e}", file=err)
        return 2
    if not timeout > 0:
        print(f"{prefix} --timeout must be a positive number of seconds; got {timeout:g}", file=err)
        return 2
    target, why = resolve_target(project)
    if target is None:
        print(f"{prefix} {why}", file=err)
        return 2
    path = Path(folder) if folder else Path(f"tfwatcher-{sid}")
    try:
        made = check_writable(path)
    except OSError as e:
        why = e.strerror or str(e)
        print(f"{prefix} cannot write to {str(path)!r} ({why}); choose another folder "
              f"(--{fmt} FOLDER). Nothing was read.", file=err)
        return 2
    client = None
    started = time.monotonic()
    try:
        client = target.client()
        session, epochs, chunks, reads = read_session(client, sid, timeout=timeout,
                                                      project=target.project)
        run = Run(sid, target.project, session, epochs, chunks, reads)
    except Exception as e:  # one message, never a traceback
        print(f"{prefix} {describe_error(e, target.project, timeout)}", file=err)
        if made:
            try:
                path.rmdir()
            except OSError:
                pass  # something else was put there meanwhile: leave it
        return 1
    finally:
        if client is not None:
            close(client)
    try:
        paths = run.write(path, fmt, raw_cells=raw_cells)
    except OSError as e:
        print(f"{prefix} cannot write to {str(path)!r} ({e.strerror or e})", file=err)
        return 2
    seconds = time.monotonic() - started
    print(f"Session {ids.display_id(sid)} ({run.status}{', ' + repr(run.name) if run.name else ''}): "
          f"{len(run.epochs)} epoch records, {len(run.batches)} batch points, "
          f"{run.reads} document reads, {seconds:.1f} s.", file=out)
    for p in paths:
        print(f"  wrote {p}", file=out)
    if run.thinned:
        print(f"  note: {len(run.thinned)} chunk(s) hold thinned points (min, max and last per "
              f"window): the writer could neither send nor save them (an older version during an outage, "
              f"or a full disk)", file=out)
    return 0
