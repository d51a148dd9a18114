"""Find, start and stop Google's Firestore emulator.

Used by `tfwatcher local`, the test suite and the benchmarks. The emulator is looked
for, in order: `$TFWATCHER_EMULATOR` (path to the `cloud_firestore_emulator` script or
jar), the Google Cloud SDK's component (`gcloud info`), and the copy that
`firebase emulators:start` downloads into `~/.cache/firebase/emulators/`.

Run a command with an emulator around it:

    python -m tfwatcher.local.emulator --rules firestore.rules -- npm test

The command sees `FIRESTORE_EMULATOR_HOST` and `GCLOUD_PROJECT`.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tfwatcher.base.project import DEFAULT_PROJECT
from tfwatcher.local.logfile import BACKUPS, MAX_BYTES, RotatingLog


class EmulatorNotFound(RuntimeError):
    """No Firestore emulator could be found on this machine."""


HOW_TO_INSTALL = (
    "No Firestore emulator found. Install one of:\n"
    "  * the Google Cloud SDK component: gcloud components install cloud-firestore-emulator\n"
    "  * the Firebase CLI's copy: npm i -g firebase-tools && firebase setup:emulators:firestore\n"
    "or point TFWATCHER_EMULATOR at cloud_firestore_emulator (or its .jar)."
)


def _candidates() -> list[Path]:
    found: list[Path] = []
    override = os.environ.get("TFWATCHER_EMULATOR")
    if override:
        found.append(Path(override))
    gcloud = shutil.which("gcloud")
    if gcloud:
        try:
            root = subprocess.run(
                [gcloud, "info", "--format=value(installation.sdk_root)"],
                capture_output=True, text=True, timeout=30, check=False,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            root = ""
        if root:
            found.append(Path(root) / "platform/cloud-firestore-emulator/cloud_firestore_emulator")
    for sdk in ("/usr/lib/google-cloud-sdk", "/usr/share/google-cloud-sdk", "/opt/google-cloud-sdk"):
        found.append(Path(sdk) / "platform/cloud-firestore-emulator/cloud_firestore_emulator")
    found.extend(Path(p) for p in sorted(
        glob.glob(os.path.expanduser("~/.cache/firebase/emulators/cloud-firestore-emulator-*.jar")),
        reverse=True))
    return found


def find_emulator() -> list[str]:
    """Return the command prefix that starts the emulator, or raise EmulatorNotFound."""
    override = os.environ.get("TFWATCHER_EMULATOR")
    if override and not Path(override).is_file():
        raise EmulatorNotFound(f"TFWATCHER_EMULATOR={override} does not exist.\n{HOW_TO_INSTALL}")
    for path in _candidates():
        if path.is_file():
            if path.suffix == ".jar":
                java = shutil.which("java")
                if java:
                    return [java, "-jar", str(path)]
                continue
            return [str(path)]
    raise EmulatorNotFound(HOW_TO_INSTALL)


FALLBACK_SERVER = Path(__file__).resolve().parents[2] / "tests" / "fallback" / "server.mjs"


def find_fallback() -> list[str]:
    """The gRPC-only fallback (npm @firestore-emulator/server): no rules, no browsers."""
    script = Path(os.environ.get("TFWATCHER_FALLBACK_EMULATOR", FALLBACK_SERVER))
    node = shutil.which("node")
    if node and script.is_file() and (script.parent / "node_modules" / "@firestore-emulator").is_dir():
        return [node, str(script)]
    raise EmulatorNotFound(HOW_TO_INSTALL)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Emulator:
    """A running Firestore emulator process.

    Args:
        host: address to bind. Defaults to 127.0.0.1. Anything else exposes the emulator's
            admin surface (`Authorization: Bearer owner` reads and writes everything,
            `/emulator/*` wipes data and replaces rules) to whoever reaches that address:
            `tfwatcher local` keeps it on loopback and serves browsers through its proxy.
        port: port for gRPC, REST and WebChannel. Defaults to a free port.
        rules: path of a rules file to enforce on browser clients. Defaults to none.
        import_dir: an export folder to load at start. Defaults to none.
        export_dir: folder to export into when stopped (through the emulator's export API;
            the newest export there is what `import_dir` loads). Defaults to none.
        fallback: where Google's emulator is missing, start the gRPC-only fallback
            (tests/fallback: no rules, no browsers). `TFWATCHER_EMULATOR_KIND=official` or
            `=fallback` forces one. Defaults to True.
        log_path: file for the emulator's output, created 0600 and rotated (it writes a
            stack trace for every request its rules refuse). Defaults to none (discarded).
        log_max_bytes: size at which `log_path` is rotated. Defaults to 8 MiB.
        log_backups: rotated files kept (`log_path.1`, ...). Defaults to 2.
        private: start the emulator with umask 077, so that what it writes (the exports of
            `export_dir`, which hold owner keys) is readable by this user only. Defaults to False.
    """

    def __init__(self, host: str = "127.0.0.1", port: int | None = None,
                 rules: str | os.PathLike | None = None,
                 import_dir: str | os.PathLike | None = None,
                 export_dir: str | os.PathLike | None = None,
                 project: str = DEFAULT_PROJECT, log_path: str | None = None,
                 fallback: bool = True, log_max_bytes: int = MAX_BYTES,
                 log_backups: int = BACKUPS, private: bool = False):
        self.host = host
        self.port = port or free_port("127.0.0.1" if host in ("0.0.0.0", "::") else host)
        self.rules = rules
        self.import_dir = import_dir
        self.export_dir = export_dir
        self.project = project
        self.log_path = log_path
        self.fallback = fallback
        self.log_max_bytes, self.log_backups = log_max_bytes, log_backups
        self.private = private
        self.proc: subprocess.Popen | None = None
        self._log: RotatingLog | None = None
        # "official" (Google's: rules, REST, WebChannel) or "fallback" (gRPC only).
        self.kind = "official"
        self.control_port: int | None = None

    @property
    def address(self) -> str:
        """host:port a client on this machine uses."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"{host}:{self.port}"

    def start(self, timeout: float = 60.0) -> "Emulator":
        forced = os.environ.get("TFWATCHER_EMULATOR_KIND")
        try:
            if forced == "fallback":
                raise EmulatorNotFound("fallback forced by TFWATCHER_EMULATOR_KIND")
            cmd = find_emulator() + ["start", "--host", self.host, "--port", str(self.port)]
        except EmulatorNotFound:
            if forced == "official" or not self.fallback:
                raise
            cmd = self._fallback_command()
            if self.rules:
                print("tfwatcher: Google's Firestore emulator was not found; using the gRPC-only "
                      "fallback, which does NOT enforce security rules and serves no browsers",
                      file=sys.stderr)
        self._launch(cmd, timeout)
        return self

    def _fallback_command(self) -> list[str]:
        cmd = find_fallback()
        self.kind = "fallback"
        self.control_port = free_port()
        return cmd + [str(self.port), str(self.control_port)]

    def _launch(self, cmd: list[str], timeout: float) -> None:
        if self.rules and self.kind == "official":
            cmd += ["--rules", str(Path(self.rules).resolve())]
        if self.import_dir and Path(self.import_dir).exists() and self.kind == "official":
            meta = sorted(Path(self.import_dir).glob("*/*.overall_export_metadata"))
            if meta:  # the newest export (folders are named by time)
                cmd += ["--seed_from_export", str(meta[-1].resolve())]
        out = subprocess.DEVNULL
        if self.log_path:
            read_fd, out = os.pipe()
            self._log = RotatingLog(self.log_path, self.log_max_bytes, self.log_backups).start(read_fd)
        # Own process group, so stop() also ends the JVM the wrapper script starts.
        try:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True,
                                         umask=0o077 if self.private else -1)
        finally:
            if out is not subprocess.DEVNULL:
                os.close(out)  # the child holds its end; the log ends when the child does
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Firestore emulator exited with code {self.proc.returncode}"
                                   + (f"; see {self.log_path}" if self.log_path else ""))
            if self.ready():
                self._warm_up(deadline - time.monotonic())
                return
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"Firestore emulator did not answer on {self.address} in {timeout:.0f} s")

    def _warm_up(self, timeout: float) -> None:
        """One read through gRPC: the emulator's first request is slow (JIT, lazy start), and
        a session created right after start would otherwise miss its 5 s deadline."""
        try:
            from google.cloud import firestore
        except ImportError:
            return
        old = os.environ.get("FIRESTORE_EMULATOR_HOST")
        os.environ["FIRESTORE_EMULATOR_HOST"] = self.address
        try:
            client = firestore.Client(project=self.project)
            client.document("warm-up/doc").get(timeout=max(5.0, timeout))
            client.close()
        except Exception:
            pass  # a slow first request is not an error
        finally:
            if old is None:
                os.environ.pop("FIRESTORE_EMULATOR_HOST", None)
            else:
                os.environ["FIRESTORE_EMULATOR_HOST"] = old

    @property
    def _http(self) -> str:
        if self.kind == "fallback":
            return f"127.0.0.1:{self.control_port}"
        return self.address

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self._http}/", timeout=1) as r:
                return r.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def _request(self, method: str, path: str, body: dict | None = None) -> None:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://{self._http}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            r.read()

    def clear(self, project: str | None = None) -> None:
        """Delete every document of a project (tests call this between cases)."""
        if self.kind == "fallback":
            self._request("DELETE", "/documents")
            return
        self._request("DELETE", f"/emulator/v1/projects/{project or self.project}"
                                "/databases/(default)/documents")

    def _official_only(self, what: str) -> None:
        if self.kind != "official":
            raise NotImplementedError(f"the fallback emulator cannot {what}; install Google's")

    def load_rules(self, rules_path: str | os.PathLike, project: str | None = None) -> None:
        self._official_only("enforce security rules")
        text = Path(rules_path).read_text()
        self._request("PUT", f"/emulator/v1/projects/{project or self.project}:securityRules",
                      {"rules": {"files": [{"name": "firestore.rules", "content": text}]}})

    def export(self, directory: str | os.PathLike, project: str | None = None) -> None:
        """Export every document into a new `firestore_export_*` folder of `directory`,
        then remove older exports there (start() imports the newest)."""
        self._official_only("export data")
        directory = Path(directory).resolve()
        directory.mkdir(parents=True, exist_ok=True)
        before = set(directory.glob("firestore_export_*"))
        self._request("POST", f"/emulator/v1/projects/{project or self.project}:export",
                      {"database": f"projects/{project or self.project}/databases/(default)",
                       "export_directory": str(directory)})
        for old in before - set(sorted(directory.glob("firestore_export_*"))[-1:]):
            shutil.rmtree(old, ignore_errors=True)

    def freeze(self) -> None:
        """SIGSTOP the emulator: it stops answering but keeps its data (outage tests)."""
        os.killpg(self.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.killpg(self.proc.pid, signal.SIGCONT)

    def stop(self, timeout: float = 30.0) -> None:
        if self.proc and self.proc.poll() is None:
            if self.export_dir and self.kind == "official":
                try:
                    self.export(self.export_dir)
                except OSError as err:
                    print(f"tfwatcher: could not save the emulator's data: {err}", file=sys.stderr)
            pgid = self.proc.pid
            try:
                os.killpg(pgid, signal.SIGCONT)
                os.killpg(pgid, signal.SIGTERM)
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
            except ProcessLookupError:
                pass
            # The wrapper script may exit before the JVM it started: wait for the whole group.
            deadline = time.monotonic() + timeout
            killed = False
            while _group_alive(pgid):
                if time.monotonic() > deadline:
                    if killed:
                        break  # only zombies left: nothing listens any more
                    os.killpg(pgid, signal.SIGKILL)
                    killed, deadline = True, time.monotonic() + 5
                time.sleep(0.05)
            if self.proc.poll() is None:
                self.proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        self.proc = None

    def env(self) -> dict[str, str]:
        return {"FIRESTORE_EMULATOR_HOST": self.address, "GCLOUD_PROJECT": self.project,
                "TFWATCHER_PROJECT": self.project}

    def __enter__(self) -> "Emulator":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tfwatcher.local.emulator",
        description="Run a command with a Firestore emulator started around it.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--rules", default=None)
    parser.add_argument("--log", default=None, help="file for the emulator's output")
    parser.add_argument("--which", action="store_true",
                        help="print which emulator would start (official PATH / fallback) and exit")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    if args.which:
        try:
            print("official", " ".join(find_emulator()))
            return 0
        except EmulatorNotFound:
            try:
                find_fallback()
                print("fallback")
                return 0
            except EmulatorNotFound as err:
                print(err, file=sys.stderr)
                return 3
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give a command after --")
    try:
        emu = Emulator(host=args.host, port=args.port, rules=args.rules, log_path=args.log).start()
    except EmulatorNotFound as err:
        print(err, file=sys.stderr)
        return 3
    try:
        return subprocess.call(command, env={**os.environ, **emu.env()})
    finally:
        emu.stop()


if __name__ == "__main__":
    sys.exit(main())
