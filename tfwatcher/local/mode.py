"""Local mode: the Firestore emulator on loopback and the dashboard server, with the state
file (`~/.tfwatcher/local.json`) that callbacks in other processes look for.

Imports `tfwatcher.base` and this folder only.
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

from tfwatcher.base import project
from tfwatcher.base.project import DEFAULT_PROJECT
from tfwatcher.local.emulator import Emulator
from tfwatcher.local.logfile import open_private


def lan_ip() -> str:
    """This machine's address on the LAN (a UDP connect sends no packet)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: only picks the outgoing interface
            return s.getsockname()[0]
    except OSError:
        return "127.0.0.1"


class LocalMode:
    """The emulator and the dashboard server, with the state file callbacks look for.

    The emulator listens on 127.0.0.1 only, whatever `host` is: it answers anyone who says
    `Authorization: Bearer owner` as an admin, and `/emulator/*` wipes data or replaces the
    rules. Python on this machine reaches it directly (gRPC on loopback; `local.json` says
    where); browsers, on the LAN or not, reach it only through the dashboard server, which
    forwards what the Firestore JS SDK needs and nothing else (tfwatcher/local/proxy.py).
    """

    def __init__(self, port: int = 5000, emulator_port: int = 8080, host: str = "0.0.0.0",
                 data_dir: str | None = None, dist: str | None = None):
        from tfwatcher.local.server import DEFAULT_DIST, DashboardServer

        self.data_dir = Path(data_dir) if data_dir else None
        rules = Path(__file__).resolve().parents[2] / "firestore.rules"
        if not rules.exists():  # installed from a wheel: the copy next to the dashboard
            rules = Path(__file__).resolve().parents[1] / "dashboard" / "firestore.rules"
        self.host = host
        # The data, the state file and the log hold every owner key: this user's alone.
        home = Path(project.LOCAL_STATE).parent
        _make_private(home, recursive=False)
        if self.data_dir is not None:
            _make_private(self.data_dir, recursive=True)  # also what older versions wrote
        self.emulator = Emulator(host="127.0.0.1", port=emulator_port,
                                 rules=rules if rules.exists() else None,
                                 import_dir=self.data_dir, export_dir=self.data_dir,
                                 log_path=str(home / "emulator.log"),
                                 fallback=False,  # browsers need Google's emulator
                                 private=True)  # its exports: 0600 files in 0700 folders
        self.emulator.start()
        try:
            self.server = DashboardServer(dist or DEFAULT_DIST, host=host, port=port,
                                          emulator_port=self.emulator.port).start()
        except Exception:
            self.emulator.stop()
            raise
        ip = lan_ip() if host in ("0.0.0.0", "::") else host
        self.url = f"http://{f'[{ip}]' if ':' in ip else ip}:{self.server.port}"
        self.on_lan = not _is_loopback(host)
        os.environ.update(self.emulator.env())
        os.environ["TFWATCHER_DASHBOARD_URL"] = self.url
        fd = open_private(project.LOCAL_STATE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps({"pid": os.getpid(), "emulator": self.emulator.address,
                                "project": DEFAULT_PROJECT, "dashboard": self.url}))

    def reachability(self) -> list[str]:
        """What this machine now serves, and to whom: the start banner."""
        lines = []
        if self.on_lan:
            lines.append(f"On the network: the dashboard at {self.url}/ (read-only share views, "
                         f"and Stop for those holding an owner link).")
        else:
            lines.append(f"This machine only: the dashboard at {self.url}/ "
                         f"(--host {self.host}: nothing is reachable from the network).")
        lines.append(f"This machine only: the Firestore emulator at {self.emulator.address} "
                     "(loopback only, as it grants admin access; Python on this machine finds it "
                     "by itself).")
        return lines

    def stop(self) -> None:
        try:
            project.LOCAL_STATE.unlink()
        except FileNotFoundError:
            pass
        self.server.stop()
        self.emulator.stop()


def _make_private(folder: Path, recursive: bool) -> None:
    """Creates `folder` 0700, or takes group and other access away from it (and, recursive,
    from everything in it: files 0600, folders 0700)."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    paths = [folder] + (list(folder.rglob("*")) if recursive else [])
    for path in paths:
        try:
            if not path.is_symlink() and path.stat().st_mode & 0o077:
                path.chmod(0o700 if path.is_dir() else 0o600)
        except OSError:
            pass  # not ours (a shared folder named by --data): leave it as it is


def _is_loopback(host: str) -> bool:
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
