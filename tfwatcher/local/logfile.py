"""A bounded, rotated log file for a child process's output (the Firestore emulator's).

The emulator writes ~3.9 KB of Java stack trace for every request its rules refuse, so one
anonymous client on the LAN could fill the disk. `RotatingLog` reads the child's output from a
pipe on its own thread and writes it to `path`; when `path` reaches `max_bytes` it becomes
`path.1` (`path.1` becomes `path.2`, ..., the oldest is dropped), so the files never hold
more than `(backups + 1) * max_bytes` bytes. Files are created 0600: the log names documents.
The thread belongs to the log: it ends when the pipe closes (the child and its children
exited), and `close()` joins it.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

MAX_BYTES = 8 << 20  # per file
BACKUPS = 2  # older files kept: `emulator.log.1`, `emulator.log.2`


def open_private(path: str | os.PathLike, flags: int = os.O_WRONLY | os.O_CREAT | os.O_APPEND) -> int:
    """A file descriptor for `path`, created 0600 (and made 0600 if it already existed)."""
    fd = os.open(path, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)
    except OSError:
        pass  # not ours to change (a file someone else made): keep what it is
    return fd


class RotatingLog:
    """Copies what a pipe says into `path`, rotating at `max_bytes` and keeping `backups`.

    Args:
        path: the log file.
        max_bytes: the size at which the file is rotated. Defaults to 8 MiB.
        backups: how many rotated files to keep. Defaults to 2.
    """

    def __init__(self, path: str | os.PathLike, max_bytes: int = MAX_BYTES, backups: int = BACKUPS):
        if max_bytes < 1 or backups < 0:
            raise ValueError(f"max_bytes must be positive and backups at least 0; got {max_bytes}, {backups}")
        self.path = Path(path)
        self.max_bytes, self.backups = max_bytes, backups
        self._thread: threading.Thread | None = None

    def start(self, read_fd: int) -> "RotatingLog":
        """Reads `read_fd` until it ends (the log owns and closes it)."""
        self._thread = threading.Thread(target=self._pump, args=(read_fd,), daemon=True,
                                        name="tfwatcher-emulator-log")
        self._thread.start()
        return self

    def _pump(self, read_fd: int) -> None:
        fd, size = None, 0
        try:
            while True:
                data = os.read(read_fd, 65536)
                if not data:
                    return
                try:
                    fd, size = self._write(fd, size, data)
                except OSError:  # disk full, file gone: drop it, but keep the child's pipe drained
                    if fd is not None:
                        os.close(fd)
                    fd = None
        finally:
            if fd is not None:
                os.close(fd)
            os.close(read_fd)

    def _write(self, fd: int | None, size: int, data: bytes) -> tuple[int, int]:
        if fd is None:
            fd = open_private(self.path)
            size = os.fstat(fd).st_size
        while data:
            if size >= self.max_bytes:
                os.close(fd)
                fd = None
                self._rotate()
                fd, size = open_private(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 0
            piece = data[: self.max_bytes - size]
            os.write(fd, piece)
            size += len(piece)
            data = data[len(piece):]
        return fd, size

    def _rotate(self) -> None:
        if self.backups == 0:
            return  # the file is truncated when it is opened again
        for i in range(self.backups - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{i}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{i + 1}"))
        os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))

    def close(self, timeout: float = 10.0) -> None:
        """Waits for the pipe to end (the child has exited) and the last bytes to be written."""
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
