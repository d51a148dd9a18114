"""The `tfwatcher` command.

    tfwatcher local            # emulator (loopback) + dashboard on the LAN, until Ctrl+C
    tfwatcher demo [--once]    # local mode, then the tutorial model trained on offline data
    tfwatcher sync             # upload what a run could not send (saved in ~/.tfwatcher/spool)
    tfwatcher deploy --project ID   # the dashboard, rules (and functions) into your Firebase
    tfwatcher doctor           # check credentials, project, Firestore and the deployed rules
    tfwatcher export SID       # a session's epochs and batch points as CSV or Parquet
    tfwatcher watch SID        # a live view of a session in this terminal
    tfwatcher workspace new    # all runs on one link: a workspace, its links and QR code (also show, list)
    tfwatcher runs             # a workspace's runs, live (also: tfwatcher watch --workspace ID)
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from tfwatcher.base import project
from tfwatcher.local.emulator import EmulatorNotFound
from tfwatcher.local.mode import LocalMode


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

    from tfwatcher.base.display import qr_text

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
        console.print(f"Dashboard: [bold]{local.url}/[/bold]")
        for line in local.reachability():
            console.print(f"  {line}", markup=False, soft_wrap=True)
        if not args.demo:  # the demo prints its session's QR code instead
            sys.stdout.write(qr_text(local.url + "/"))
        if args.demo:
            os.environ.setdefault("TFWATCHER_QR", "1")
            from tfwatcher import callbacks
            from tfwatcher import demo

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
    """Upload the spool files (`~/.tfwatcher/spool/*.jsonl`), deleting each only once all of it
    is committed. Whatever stops it is one message, never a traceback. Exit status: 0 all
    uploaded (or nothing to do), 1 something is left, 2 no project configured."""
    from tfwatcher.base import access
    from tfwatcher.record.spool import SPOOL_DIR, SpoolError, read_spool, remove_spool, upload_rows

    folder = Path(args.dir) if args.dir else SPOOL_DIR
    files = sorted(folder.glob("*.jsonl"))
    if not files:
        print(f"tfwatcher: nothing to sync in {folder}")
        return 0
    if not args.timeout > 0:
        print(f"tfwatcher sync: --timeout must be a positive number of seconds; got {args.timeout:g}",
              file=sys.stderr)
        return 2
    try:
        target = project.resolve(args.project)
    except (project.NotConfigured, ValueError) as err:
        path = access.missing_key_file()
        why = (f"GOOGLE_APPLICATION_CREDENTIALS names {path}, which does not exist: point it at "
               f"your service-account key file (its project is used unless --project names "
               f"one)" if path else
               f"{err}" if isinstance(err, ValueError) else
               "no Firebase project configured: pass --project YOUR_PROJECT_ID (or set "
               "TFWATCHER_PROJECT), signed in with GOOGLE_APPLICATION_CREDENTIALS or "
               "`gcloud auth application-default login`")
        print(f"tfwatcher sync: nothing was uploaded ({len(files)} file(s) stay in {folder}): "
              f"{why}.", file=sys.stderr)
        return 2
    client, status, left = None, 0, list(files)
    try:
        client = target.client()
        for path in files:
            try:
                rows, size, cut = read_spool(path)
                count = upload_rows(client, rows, timeout=args.timeout)
            except SpoolError as err:
                print(f"tfwatcher sync: {path} was not uploaded: {err}. It is kept and nothing "
                      f"from it was sent; repair the file (a run killed while saving can leave "
                      f"a cut last line: remove it) and run `tfwatcher sync` again.",
                      file=sys.stderr)
                status = 1
                continue
            except Exception as err:
                if access.is_permanent(err) or _unreachable(err):
                    raise
                print(f"tfwatcher sync: {path} was not uploaded ({type(err).__name__}: "
                      f"{_first_line(err)}); it is kept.", file=sys.stderr)
                status = 1
                continue
            left.remove(path)
            if cut:
                print(f"tfwatcher sync: {path.name} ended in a cut line (the run was killed while "
                      f"saving it); what that line held is lost, the rest was uploaded.",
                      file=sys.stderr)
            try:
                if not remove_spool(path, size):
                    print(f"tfwatcher sync: {path.name} is still being written by a run; what it "
                          f"gained meanwhile goes at the next `tfwatcher sync`.", file=sys.stderr)
            except OSError as err:
                print(f"tfwatcher sync: uploaded {path} but could not delete it ({err}); "
                      f"uploading it again is harmless.", file=sys.stderr)
            print(f"tfwatcher: uploaded {count} documents from {path.name}")
    except Exception as err:  # access or network: every file would fail the same way
        if access.is_permanent(err):
            why = access.explain(err, project=target.project)
        elif _unreachable(err):
            why = (f"could not reach Firestore (project {target.project!r}) within "
                   f"{args.timeout:g} s ({type(err).__name__}: {_first_line(err)}); run "
                   f"`tfwatcher sync` again once it can be reached.")
        else:
            why = f"{type(err).__name__}: {_first_line(err)}"
        print(f"tfwatcher sync: {len(left)} file(s) were not uploaded and stay in {folder}: "
              f"{why}", file=sys.stderr)
        return 1
    finally:
        access.close_quietly(client)
    return status


def _unreachable(err: BaseException) -> bool:
    from tfwatcher.base.access import is_transient

    return is_transient(err)


def _first_line(err: BaseException) -> str:
    from tfwatcher.base.access import first_line

    return first_line(err)


def cmd_export(args) -> int:
    """`tfwatcher export SID`: see tfwatcher/read/export.py and docs/data.md."""
    from tfwatcher.read.export import export_command

    fmt, folder = ("parquet", args.parquet) if args.parquet else ("csv", args.csv)
    return export_command(args.sid, fmt, folder, args.project, args.timeout,
                          raw_cells=args.raw_cells)


def cmd_watch(args) -> int:
    """`tfwatcher watch SID`: see tfwatcher/read/watch.py and docs/data.md;
    `tfwatcher watch --workspace ID` is `tfwatcher runs --workspace ID`."""
    if args.workspace is not None:
        if args.sid is not None:
            print("tfwatcher watch: give a session ID or --workspace, not both", file=sys.stderr)
            return 2
        return cmd_runs(args)
    if args.sid is None:
        print("tfwatcher watch: give a session ID (or a share link), or --workspace ID",
              file=sys.stderr)
        return 2
    from tfwatcher.read.watch import watch_command

    return watch_command(args.sid, args.project, once=args.once, batches=args.batches,
                         timeout=args.timeout)


def cmd_runs(args) -> int:
    """`tfwatcher runs`: see tfwatcher/read/runs.py and docs/python.md."""
    from tfwatcher.read.runs import runs_command

    return runs_command(args.workspace, args.project, once=args.once, timeout=args.timeout)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tfwatcher", description="Watch Keras training from your phone.")
    sub = parser.add_subparsers(dest="command", required=True)

    def local_args(p):
        p.add_argument("--port", type=int, default=5000, help="dashboard port (default 5000)")
        p.add_argument("--emulator-port", type=int, default=8080,
                       help="Firestore emulator port, on 127.0.0.1 (default 8080)")
        p.add_argument("--host", default="0.0.0.0",
                       help="address the dashboard binds; 0.0.0.0 serves the LAN (default), 127.0.0.1 "
                            "keeps everything on this machine. The emulator always binds 127.0.0.1")
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
    sync.add_argument("--timeout", type=float, default=30.0,
                      help="seconds each commit may take, retries included (default 30)")
    sync.set_defaults(func=cmd_sync)
    from tfwatcher.setup import deploy, doctor, workspace

    deploy.add_parser(sub)
    doctor.add_parser(sub)
    workspace.add_parser(sub)
    export = sub.add_parser("export", help="write a session's epochs and batch points to CSV or Parquet")
    export.add_argument("sid", metavar="SID", help="session ID (any form) or a share link")
    export_fmt = export.add_mutually_exclusive_group()
    export_fmt.add_argument("--csv", metavar="FOLDER", help="write epochs.csv and batches.csv here "
                            "(the default, into ./tfwatcher-SID)")
    export_fmt.add_argument("--parquet", metavar="FOLDER", help="write .parquet files here (needs pyarrow)")
    export.add_argument("--raw-cells", action="store_true",
                        help="CSV text cells exactly as stored: no ' before a cell starting with "
                             "=, +, -, @, tab or CR (which spreadsheets run as a formula)")
    export.add_argument("--project", default=None)
    export.add_argument("--timeout", type=float, default=10.0,
                        help="seconds the first read may take, retries included (default 10)")
    export.set_defaults(func=cmd_export)
    watch = sub.add_parser("watch", help="a live view of a session (or, with --workspace, of "
                                         "a workspace's runs) in this terminal")
    watch.add_argument("sid", metavar="SID", nargs="?", default=None,
                       help="session ID (any form) or a share link")
    watch.add_argument("--workspace", metavar="ID", default=None,
                       help="instead of a session: a workspace ID or link (as `tfwatcher runs`)")
    watch.add_argument("--project", default=None)
    watch.add_argument("--once", action="store_true", help="print one frame and exit")
    watch.add_argument("--no-batches", dest="batches", action="store_false",
                       help="session and epochs only: no batch sparklines, fewer reads")
    watch.add_argument("--timeout", type=float, default=10.0,
                       help="seconds the first read may take, retries included (default 10)")
    watch.set_defaults(func=cmd_watch)
    runs = sub.add_parser("runs", help="a workspace's runs, live, in this terminal")
    runs.add_argument("--workspace", metavar="ID", default=None,
                      help="workspace ID or link (default: TFWATCHER_WORKSPACE, else the default "
                           "workspace of `tfwatcher workspace new`)")
    runs.add_argument("--project", default=None)
    runs.add_argument("--once", action="store_true", help="print the list once and exit")
    runs.add_argument("--timeout", type=float, default=10.0,
                      help="seconds the first read may take, retries included (default 10)")
    runs.set_defaults(func=cmd_runs)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
