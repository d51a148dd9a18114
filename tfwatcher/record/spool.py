"""The spool: documents that could not be sent, saved as JSON lines for `tfwatcher sync`.

One file per writer (`{SPOOL_DIR}/{session path with dashes}-{ms}.jsonl`, created 0600: the
session's owner key may be in it); each line `{"path", "merge", "doc"}`. The writer appends
whole lines under an exclusive file lock (`append`), and `tfwatcher sync` reads (`read_spool`),
uploads (`upload_rows`) and deletes (`remove_spool`) under the same lock, so neither ever sees
half of the other's work. No thread and no lock of ours: the writer serialises its appends
(tfwatcher.record.writer).
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import time
from pathlib import Path

from tfwatcher.record.commit import batch_of, group

SPOOL_DIR = Path(os.environ.get("TFWATCHER_HOME", Path.home() / ".tfwatcher")) / "spool"


class SpoolError(ValueError):
    """A spool file that cannot be read or is not what the writer writes."""


# Values JSON has no form for, tagged: packed chunk columns (tfwatcher.base.packed) are bytes,
# {BYTES: base64}; a workspace row's `created`/`started` (tfwatcher.record.run_index) are
# datetimes, {TIME: ISO 8601}. A one-key dict with either tag is read back as the value.
BYTES = "__tfw_bytes__"
TIME = "__tfw_time__"


def _default(value):
    if isinstance(value, (bytes, bytearray)):
        return {BYTES: base64.b64encode(value).decode("ascii")}
    if isinstance(value, datetime.datetime):
        return {TIME: value.isoformat()}
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _hook(obj: dict):
    if len(obj) == 1:
        if isinstance(obj.get(BYTES), str):
            return base64.b64decode(obj[BYTES])
        if isinstance(obj.get(TIME), str):
            try:
                return datetime.datetime.fromisoformat(obj[TIME])
            except ValueError:
                return obj
    return obj


def dumps(row: dict) -> str:
    return json.dumps(row, allow_nan=True, default=_default)


def loads(line):
    return json.loads(line, object_hook=_hook)


def new_path(directory: Path, session_path: str) -> Path:
    """A new spool file's path for a session, in `directory` (made 0700 if missing)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    return directory / f"{session_path.replace('/', '-')}-{int(time.time() * 1000)}.jsonl"


def append(path: Path, rows) -> Path:
    """Append rows `(what, path, doc, merge)` to the spool file at `path`, all or nothing;
    returns `path`. OSError if the file cannot be written."""
    data = "".join(dumps({"path": p, "merge": m, "doc": d}) + "\n" for _w, p, d, m in rows).encode()
    for _ in range(10):
        # Created 0600: the session document's owner key may be in it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            lock_file(fd)
            # `tfwatcher sync` may have uploaded and deleted the file since we opened it:
            # then these rows go to a new file under the same name, never to the deleted one.
            try:
                current = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                current = False
            if current:
                start = os.fstat(fd).st_size
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view):]
                except BaseException:
                    os.ftruncate(fd, start)  # all or nothing: no half row before the retry
                    raise
                return path
        finally:
            os.close(fd)  # also releases the lock
    raise OSError(f"{path} keeps being replaced while it is written")


def lock_file(fd: int) -> None:
    """An exclusive lock shared by the writer's appends and `tfwatcher sync`'s reads and
    deletes (POSIX only)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no sync can run during a write there
        return
    fcntl.flock(fd, fcntl.LOCK_EX)


def short(err: BaseException) -> str:
    """An error's first line, at most 200 characters ("" if it has no text)."""
    text = str(err).splitlines()[0] if str(err) else ""
    return text[:200]


def read_spool(path: Path) -> tuple[list[dict], int, bool]:
    """The rows of a spool file, each checked, the file's size when read, and whether a cut
    last line was left out; SpoolError (naming the line) if any other line is bad.

    Read under the lock the writer appends under, so no append is seen half done. Only a
    process killed in the middle of an append leaves a cut last line (no newline at its end):
    those rows died with the process, and the rest of the file is still good."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as err:
        raise SpoolError(f"cannot read it ({type(err).__name__}: {short(err)})") from None
    try:
        lock_file(fd)
        size = os.fstat(fd).st_size
        with os.fdopen(os.dup(fd), "rb") as f:
            raw = f.read(size)
    finally:
        os.close(fd)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise SpoolError(f"cannot read it ({type(err).__name__}: {short(err)})") from None
    lines = text.split("\n")
    last = lines.pop()  # "" when the file ends with a newline, as every whole append does
    cut = False
    if last.strip():
        try:
            loads(last)
            lines.append(last)
        except ValueError:
            cut = True
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = loads(line)
        except ValueError as err:
            raise SpoolError(f"line {number} is not valid JSON ({err})") from None
        if not _is_row(row):
            raise SpoolError(f"line {number} is not a spooled document")
        rows.append(row)
    return rows, size, cut


def read_from(path: Path, offset: int, inode: int | None,
              max_bytes: int) -> tuple[list[tuple[dict, int]], int] | None:
    """The whole rows of a spool file from byte `offset` (from 0 if the file is no longer the
    one numbered `inode`: a `tfwatcher sync` deleted it and a later append made a new one), about
    `max_bytes` of them, each with the byte offset of its end; and the file's inode. None if
    there is no such file. Read under the file lock, so no append is seen half done (the
    writer's spill uploads its own file this way: tfwatcher.record.spill)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        lock_file(fd)
        st = os.fstat(fd)
        if inode is not None and st.st_ino != inode:
            offset = 0
        os.lseek(fd, offset, os.SEEK_SET)
        data = os.read(fd, max_bytes)
        while data and b"\n" not in data:  # at least one whole row (the rest: the next read)
            more = os.read(fd, 1 << 20)
            if not more:
                break
            data += more
    finally:
        os.close(fd)
    rows, end = [], offset
    for line in data.split(b"\n")[:-1]:  # a cut last line (no newline) is never ours to read
        end += len(line) + 1
        if not line.strip():
            continue
        try:
            row = loads(line)
        except ValueError as err:
            raise SpoolError(f"{path}: a row at byte {end} is not valid JSON ({err})") from None
        if not _is_row(row):
            raise SpoolError(f"{path}: a row at byte {end} is not a spooled document")
        rows.append((row, end))
        if end - offset >= max_bytes:
            break
    return rows, st.st_ino


def _is_row(row) -> bool:
    """A line the writer writes: a document path under the sessions collection (or a run's
    row in its workspace, `workspaces/{wid}/runs/{sid}`), a document and a merge flag."""
    from tfwatcher.base.contract import COLLECTIONS

    parts = row.get("path").split("/") if isinstance(row, dict) and isinstance(
        row.get("path"), str) else []
    row_path = (len(parts) == 4 and parts[0] == COLLECTIONS["workspaces"]
                and parts[2] == COLLECTIONS["runs"])
    return not (len(parts) < 2 or len(parts) % 2
                or not (parts[0] == COLLECTIONS["sessions"] or row_path)
                or not all(parts) or not isinstance(row.get("doc"), dict)
                or not isinstance(row.get("merge"), bool))


def remove_spool(path: Path, size: int) -> bool:
    """Delete a spool file that was uploaded as read at `size` bytes; keep it (False) if a
    run still writing to it has appended since (the next sync sends it again: harmless)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return True
    try:
        lock_file(fd)  # an append under way finishes first; a later one finds no file
        if os.fstat(fd).st_size != size:
            return False
        os.unlink(path)
        return True
    finally:
        os.close(fd)


def upload_spool(client, path: Path, timeout: float | None = None) -> int:
    """Send a spool file's documents (idempotent: the IDs are deterministic). Returns the count.
    Reads and checks the whole file first (SpoolError, nothing sent, if a line is bad)."""
    rows, _size, _cut = read_spool(path)
    return upload_rows(client, rows, timeout)


def upload_rows(client, rows: list[dict], timeout: float | None = None) -> int:
    """Commit spooled rows in order, COMMIT_WRITES (and COMMIT_BYTES) at a time. With `timeout`, each commit may
    take that many seconds in all, transient errors retried within it; then the last error
    is raised. Returns the count."""
    from tfwatcher.base.access import is_permanent, is_transient

    for writes in group([(None, r["path"], r["doc"], r["merge"]) for r in rows]):
        batch = batch_of(client, writes)
        if timeout is None:
            batch.commit()
            continue
        deadline, delay = time.monotonic() + timeout, 0.5
        while True:
            try:
                batch.commit(retry=None, timeout=max(0.5, deadline - time.monotonic()))
                break
            except Exception as err:
                if (is_permanent(err) or not is_transient(err)
                        or time.monotonic() + delay >= deadline):
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
    return len(rows)
