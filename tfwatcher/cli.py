"""The `tfwatcher` command: `local`, `demo` and `sync`.

    tfwatcher local            # emulator + dashboard on the LAN, until Ctrl+C
    tfwatcher demo [--once]    # local mode, then the tutorial model trained on offline data
    tfwatcher sync             # upload what a run could not send (saved in ~/.tfwatcher/spool)
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import threading
from pathlib import Path

from . import config
from .emulator import DEFAULT_PROJECT, Emulator, EmulatorNotFound


def lan_ip() -> str:
    """This machine's address on the LAN (a UDP connect sends no packet)."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: only picks the outgoing interface
            return s.getsockname()[0]
    except OSError:
        return "127.0.0.1"


class LocalMode:
    """The emulator and the dashboard server, with the state file callbacks look for."""

    def __init__(self, port: int = 5000, emulator_port: int = 8080, host: str = "0.0.0.0",
                 data_dir: str | None = None, dist: str | None = None):
        from .serve import DEFAULT_DIST, DashboardServer

        self.data_dir = Path(data_dir) if data_dir else None
        rules = Path(__file__).resolve().parents[1] / "firestore.rules"
        if not rules.exists():  # installed from a wheel: the copy next to the dashboard
            rules = Path(__file__).resolve().parent / "dashboard" / "firestore.rules"
        self.emulator = Emulator(host=host, port=emulator_port,
                                 rules=rules if rules.exists() else None,
                                 import_dir=self.data_dir, export_dir=self.data_dir,
                                 log_path=str(Path(config.LOCAL_STATE).parent / "emulator.log"),
                                 fallback=False)  # browsers need Google's emulator
        Path(config.LOCAL_STATE).parent.mkdir(parents=True, exist_ok=True)
        self.emulator.start()
        try:
            self.server = DashboardServer(dist or DEFAULT_DIST, host=host, port=port,
                                          emulator_port=self.emulator.port).start()
        except Exception:
            self.emulator.stop()
            raise
        ip = lan_ip() if host in ("0.0.0.0", "::") else host
        self.url = f"http://{ip}:{self.server.port}"
        os.environ.update(self.emulator.env())
        os.environ["TFWATCHER_DASHBOARD_URL"] = self.url
        config.LOCAL_STATE.write_text(json.dumps({
            "pid": os.getpid(), "emulator": self.emulator.address,
            "project": DEFAULT_PROJECT, "dashboard": self.url}))

    def stop(self) -> None:
        try:
            config.LOCAL_STATE.unlink()
        except FileNotFoundError:
            pass
        self.server.stop()
        self.emulator.stop()


def _wait_for_ctrl_c() -> None:
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        while not done.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass


def cmd_local(args) -> int:
    from rich.console import Console

    from .display import qr_text

    console = Console(highlight=False)
    try:
        local = LocalMode(args.port, args.emulator_port, args.host, args.data, args.dist)
    except EmulatorNotFound as err:
        console.print(f"[red]{err}[/red]")
        return 3
    except FileNotFoundError as err:
        console.print(f"[red]{err}[/red]")
        return 4
    try:
        console.print(f"Dashboard: [bold]{local.url}/[/bold]  (Firestore emulator on "
                      f"{local.emulator.address}; callbacks in this machine find it by themselves)")
        if not args.demo:  # the demo prints its session's QR code instead
            sys.stdout.write(qr_text(local.url + "/"))
        if args.demo:
            os.environ.setdefault("TFWATCHER_QR", "1")
            from . import callbacks, demo

            watcher = callbacks.Watcher(run_name="tutorial demo", predict_batches=None)
            demo.train([watcher], epochs=args.epochs, source=args.data_source)
            ok = watcher.session.flush(30)
            console.print(f"Training finished ({'all data sent' if ok else 'some data not sent'}). "
                          f"Watch it at {watcher.session.share_url}")
            if args.once:
                return 0 if ok else 1
        console.print("Press Ctrl+C to stop.")
        _wait_for_ctrl_c()
        return 0
    finally:
        local.stop()


def cmd_sync(args) -> int:
    from .writer import SPOOL_DIR, upload_spool

    files = sorted(Path(args.dir or SPOOL_DIR).glob("*.jsonl"))
    if not files:
        print("tfwatcher: nothing to sync")
        return 0
    try:
        target = config.resolve(args.project)
    except config.NotConfigured as err:
        print(err, file=sys.stderr)
        return 2
    client = target.client()
    for path in files:
        count = upload_spool(client, path)
        path.unlink()
        print(f"tfwatcher: uploaded {count} documents from {path.name}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tfwatcher", description="Watch Keras training from your phone.")
    sub = parser.add_subparsers(dest="command", required=True)

    def local_args(p):
        p.add_argument("--port", type=int, default=5000, help="dashboard port (default 5000)")
        p.add_argument("--emulator-port", type=int, default=8080, help="Firestore emulator port (default 8080)")
        p.add_argument("--host", default="0.0.0.0", help="address to bind; 0.0.0.0 serves the LAN (default)")
        p.add_argument("--data", default=str(Path.home() / ".tfwatcher" / "data"),
                       help="folder that keeps sessions across restarts (default ~/.tfwatcher/data)")
        p.add_argument("--dist", default=None, help="built dashboard folder (default hosting/dist)")

    local = sub.add_parser("local", help="run the emulator and the dashboard locally")
    local_args(local)
    local.set_defaults(func=cmd_local, demo=False)
    demo = sub.add_parser("demo", help="local mode plus the tutorial model, trained on offline data")
    local_args(demo)
    demo.add_argument("--once", action="store_true", help="exit after training instead of serving")
    demo.add_argument("--epochs", type=int, default=100)
    demo.add_argument("--data-source", default="digits", choices=["digits", "mnist", "auto"])
    demo.set_defaults(func=cmd_local, demo=True)
    sync = sub.add_parser("sync", help="upload documents a run could not send")
    sync.add_argument("--project", default=None)
    sync.add_argument("--dir", default=None)
    sync.set_defaults(func=cmd_sync)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
