"""The workspaces this user made (`tfwatcher workspace new`), kept on this machine.

`~/.tfwatcher/workspaces.json` (under `TFWATCHER_HOME` when set), mode 0600 in a folder made
0700, because it holds each workspace's owner key:

    {"default": "w...", "workspaces": {"w...": {"key": OWNER_KEY, "created": ISO_TIME,
                                                 "project": PROJECT, "dashboard_url": URL,
                                                 "name": NAME_OR_NULL}}}

Every change is read, modified and written under a file lock and lands whole (a temporary file,
then `os.replace`), so a crash or two commands at once never leave half a file. A file that
cannot be read as this shape is a `StoreError` naming it, and is never overwritten: it may hold
the only copy of an owner key.
"""

from __future__ import annotations

import json
import os
import secrets
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from tfwatcher.base import ids

FILE_NAME = "workspaces.json"
ENV = "TFWATCHER_WORKSPACE"  # a run joins the workspace this names (an ID or its link)


class StoreError(ValueError):
    """The workspace list cannot be read or written; the message names the file."""


def home() -> Path:
    """TF Watcher's folder on this machine: `TFWATCHER_HOME`, else `~/.tfwatcher` (read at each
    call, so a test or a second home can point elsewhere)."""
    return Path(os.environ.get("TFWATCHER_HOME") or Path.home() / ".tfwatcher")


def path() -> Path:
    return home() / FILE_NAME


def _broken(file: Path, why: str) -> StoreError:
    return StoreError(f"{file} cannot be read as TF Watcher's list of workspaces ({why}). It holds "
                      f"the owner keys of the workspaces made on this machine: repair it by hand, "
                      f"or move it aside (keep a copy) and `tfwatcher workspace new` starts a new one.")


def _read(file: Path) -> dict:
    """The file's contents, checked; an empty list when there is no file."""
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {"default": None, "workspaces": {}}
    except IsADirectoryError:
        raise _broken(file, "it is a folder") from None
    except (OSError, UnicodeDecodeError) as err:
        raise _broken(file, f"{type(err).__name__}: {err}") from None
    try:
        data = json.loads(text)
    except ValueError as err:
        raise _broken(file, f"not JSON: {err}") from None
    if not isinstance(data, dict) or not isinstance(data.get("workspaces", {}), dict):
        raise _broken(file, 'expected {"default": ..., "workspaces": {...}}')
    spaces = data.get("workspaces", {})
    for wid, entry in spaces.items():
        if not ids.is_workspace_id(wid):
            raise _broken(file, f"{wid!r:.60} is not a workspace ID")
        if not isinstance(entry, dict) or not isinstance(entry.get("key"), str):
            raise _broken(file, f"the entry of {wid} has no owner key")
    default = data.get("default")
    if default is not None and not isinstance(default, str):
        raise _broken(file, "'default' is not a workspace ID")
    return {"default": default, "workspaces": spaces}


@contextmanager
def _locked(file: Path):
    """An exclusive lock beside the file for a read-modify-write (POSIX; elsewhere none)."""
    try:
        fd = os.open(file.with_name(file.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as err:
        raise StoreError(f"cannot write {file} ({type(err).__name__}: {err})") from None
    try:
        try:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX)
        except ImportError:  # pragma: no cover - Windows
            pass
        yield
    finally:
        os.close(fd)  # releases the lock


def _write(file: Path, data: dict) -> None:
    """Replace the file with `data` whole: a 0600 temporary file beside it, then os.replace."""
    tmp = file.with_name(f".{file.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            if hasattr(os, "fchmod"):
                os.fchmod(out.fileno(), 0o600)  # exactly 0600, whatever the umask
            json.dump(data, out, indent=2)  # insertion order: oldest first
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, file)
    except OSError as err:
        raise StoreError(f"cannot write {file} ({type(err).__name__}: {err})") from None
    finally:
        try:
            tmp.unlink()  # only left when something failed before os.replace
        except OSError:
            pass


def save(wid: str, key: str, project: str, dashboard_url: str, name: str | None = None,
         make_default: bool = True) -> dict:
    """Add (or replace) workspace `wid` with its owner key; it becomes the default unless
    `make_default` is False (the first one always does). Returns its entry."""
    if not ids.is_workspace_id(wid):
        raise ValueError(f"not a canonical workspace ID: {wid!r:.60}")
    if not isinstance(key, str) or not key:
        raise ValueError("the owner key must be a non-empty string")
    file = path()
    try:
        file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as err:
        raise StoreError(f"cannot write {file} ({type(err).__name__}: {err})") from None
    entry = {"key": key, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
             "project": project, "dashboard_url": dashboard_url, "name": name}
    with _locked(file):
        data = _read(file)
        data["workspaces"][wid] = entry
        if make_default or data["default"] not in data["workspaces"]:
            data["default"] = wid
        _write(file, data)
    return dict(entry)


def get(wid: str) -> dict | None:
    """The entry of `wid` (key, created, project, dashboard_url, name), or None."""
    entry = _read(path())["workspaces"].get(wid)
    return dict(entry) if entry is not None else None


def default() -> str | None:
    """The default workspace's ID (the last one made), or None."""
    data = _read(path())
    wid = data["default"]
    return wid if wid in data["workspaces"] else None


def all() -> dict[str, dict]:  # noqa: A001 - the store's API: workspaces.all()
    """Every workspace made on this machine: ID -> entry, oldest first."""
    spaces = _read(path())["workspaces"]
    return {wid: dict(entry) for wid, entry in sorted(spaces.items(),
                                                      key=lambda kv: str(kv[1].get("created")))}
