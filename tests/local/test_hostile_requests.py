"""The local server against a hostile Wi-Fi (issue #20, items 3, 4, 5 and 9): slow bodies,
many addresses, malformed request lines, a flood of refused requests in the emulator's log,
and the modes of the files that hold owner keys.

Loopback addresses 127.0.0.2-127.0.0.9 stand in for machines on the LAN: the server treats
only 127.0.0.1 and ::1 as this machine's own browser.
"""

import json
import os
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tfwatcher.local.limits import Limits
from tfwatcher.local.server import DashboardServer
from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parents[2]
WRITE_CHANNEL = "/google.firestore.v1.Firestore/Write/channel"


@pytest.fixture
def dist(tmp_path):
    (tmp_path / "index.html").write_text("<!doctype html><title>app</title>")
    return tmp_path


def _from(ip, port, timeout=10):
    """A connection to the server from loopback address `ip` (a machine on the "LAN")."""
    return socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(ip, 0))


def _closed(s) -> bool:
    try:
        return s.recv(65536) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def test_a_body_fed_a_byte_at_a_time_is_cut_off_at_the_request_deadline(dist):
    """Item 3: the deadline covers the body, not only the request line and headers."""
    limits = Limits(header_deadline=1.0, request_deadline=2.0)
    server = DashboardServer(dist, port=0, emulator_port=1, limits=limits).start()
    try:
        with _from("127.0.0.2", server.port) as s:
            s.sendall(f"POST {WRITE_CHANNEL} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n".encode())
            started, cut = time.monotonic(), False
            for _ in range(40):  # 100 bytes at 4 a second would take 25 s
                try:
                    s.sendall(b"c")
                except (BrokenPipeError, ConnectionResetError):
                    cut = True
                    break
                s.settimeout(0.25)
                if _closed(s):
                    cut = True
                    break
            took = time.monotonic() - started
        assert cut, "a request body fed slowly was never cut off"
        assert took < limits.request_deadline + 1.5, took
        wait_until(lambda: server.httpd.live_threads() == 0, 5)
    finally:
        server.stop()


def test_many_addresses_cannot_take_every_slot_from_a_phone(dist):
    """Item 3: six addresses × 24 connections (144 > 128, bodies never finished) leave a phone
    its slots: a newcomer takes the place of the busiest address's connections."""
    limits = Limits(header_deadline=60.0, request_deadline=60.0)  # the slots, not the deadline
    server = DashboardServer(dist, port=0, emulator_port=1, limits=limits).start()
    slow, phone = [], []
    try:
        for n in range(2, 8):
            for _ in range(limits.max_per_client):
                s = _from(f"127.0.0.{n}", server.port)
                s.sendall(f"POST {WRITE_CHANNEL} HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\n\r\nc".encode())
                slow.append(s)
        held = server.httpd.counted()
        assert sum(held.values()) <= limits.max_connections
        assert max(held.values()) <= limits.max_per_client
        # The phone: a tab's three long connections, then a page load.
        for _ in range(3):
            s = _from("127.0.0.9", server.port)
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # in progress
            phone.append(s)
        wait_until(lambda: server.httpd.counted().get("127.0.0.9") == 3, 5)
        with _from("127.0.0.9", server.port) as s:
            s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
            s.settimeout(10)
            assert s.recv(1024).startswith(b"HTTP/1.0 200"), "the phone was locked out"
        held = server.httpd.counted()
        assert sum(held.values()) <= limits.max_connections, held
    finally:
        for s in slow + phone:
            s.close()
        server.stop()


MALFORMED = {
    "vertical tab": b"GET /a\x0bb HTTP/1.1\r\nHost: x\r\n\r\n",
    "carriage return": b"GET /a\rb HTTP/1.1\r\nHost: x\r\n\r\n",
    "NEL (0x85)": b"GET /a\x85b HTTP/1.1\r\nHost: x\r\n\r\n",
    "escape and too many words": b"GET /\x1b]52;c;aGk=\x07 x HTTP/1.1\r\nHost: x\r\n\r\n",
}


def test_malformed_request_lines_get_a_clear_answer_and_one_line_without_traceback(dist):
    """Item 5: 400 for a malformed request line (414 for one over 64 KiB, as HTTP says), one
    escaped line on stderr (never a traceback, never the raw bytes), at most one a second."""
    proc = subprocess.Popen([sys.executable, "-m", "tfwatcher.local.server", "--dist", str(dist), "--port", "0",
                             "--emulator-port", "1"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        port = int(proc.stdout.readline().decode().strip().rstrip("/").rsplit(":", 1)[1])
        replies = {}
        for name, line in {**MALFORMED, "over 64 KiB": b"GET /" + b"a" * 65533}.items():
            with _from("127.0.0.3", port) as s:
                s.sendall(line)
                s.settimeout(10)
                replies[name] = s.recv(65536)
            time.sleep(1.1) if name == "vertical tab" else None  # the next note is printed too
        for name, reply in replies.items():
            want = b"HTTP/1.0 414" if name == "over 64 KiB" else b"HTTP/1.0 400"
            assert reply.startswith(want), (name, reply[:200])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as r:
            assert r.status == 200  # and the server serves on
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    text = err.decode("utf-8", "replace")
    assert "Traceback" not in text and "AttributeError" not in text, text
    lines = [line for line in text.splitlines() if line]
    assert 2 <= len(lines) <= len(MALFORMED) + 1, lines
    assert all(line.startswith("tfwatcher local: refused a request from 127.0.0.3: ") for line in lines), lines
    assert all(len(line) < 300 and line.isprintable() and line.isascii() for line in lines), lines


def test_a_flood_of_refused_requests_keeps_the_emulator_log_bounded(tmp_path):
    """Item 4: every request the rules refuse writes ~3.9 KB of stack trace; the log rotates
    at log_max_bytes keeping log_backups files, created 0600."""
    from tfwatcher.local.emulator import Emulator, EmulatorNotFound

    log = tmp_path / "emulator.log"
    try:
        emu = Emulator(rules=ROOT / "firestore.rules", log_path=str(log), log_max_bytes=32 << 10,
                       log_backups=1, fallback=False).start()
    except EmulatorNotFound as err:
        pytest.skip(str(err))
    try:
        url = f"http://{emu.address}/v1/projects/demo-tfwatcher/databases/(default)/documents/sessions/x/private/owner"
        for _ in range(60):  # ~230 KB of traces
            with pytest.raises(urllib.error.HTTPError) as info:
                urllib.request.urlopen(url, timeout=10)
            assert info.value.code == 403
    finally:
        emu.stop()
    files = sorted(tmp_path.glob("emulator.log*"))
    assert [f.name for f in files] == ["emulator.log", "emulator.log.1"], files
    assert sum(f.stat().st_size for f in files) <= 2 * (32 << 10)
    assert b"PERMISSION_DENIED" in b"".join(f.read_bytes() for f in files)
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)


def test_local_mode_keeps_owner_keys_to_this_user(tmp_path, monkeypatch):
    """Item 9: `tfwatcher local --data` files 0600 in folders 0700, as local.json, the log and
    the folder that holds them; data written 0644/0755 by older versions is tightened."""
    from google.cloud import firestore

    from tfwatcher.base import project
    from tfwatcher.local.emulator import EmulatorNotFound
    from tfwatcher.local.mode import LocalMode

    home, data = tmp_path / "home", tmp_path / "data"
    monkeypatch.setattr(project, "LOCAL_STATE", home / "local.json")
    for key in ("FIRESTORE_EMULATOR_HOST", "GCLOUD_PROJECT", "TFWATCHER_PROJECT", "TFWATCHER_DASHBOARD_URL"):
        monkeypatch.setenv(key, os.environ[key]) if key in os.environ else monkeypatch.delenv(key, raising=False)
    (data / "old").mkdir(parents=True, mode=0o755)
    (data / "old" / "keys").write_text("owner")
    (data / "old" / "keys").chmod(0o644)
    (tmp_path / "index.html").write_text("<!doctype html>")
    old_umask = os.umask(0o022)
    try:
        try:
            local = LocalMode(port=0, emulator_port=0, host="127.0.0.1", data_dir=str(data), dist=str(tmp_path))
        except EmulatorNotFound as err:
            pytest.skip(str(err))
        try:
            db = firestore.Client(project="demo-tfwatcher")
            db.document("sessions/modes23456789abc/private/owner").set({"key": "k" * 32})
            db.close()
            assert stat.S_IMODE((home / "local.json").stat().st_mode) == 0o600
            assert json.loads((home / "local.json").read_text())["dashboard"].startswith("http://127.0.0.1:")
            assert stat.S_IMODE((home / "emulator.log").stat().st_mode) == 0o600
        finally:
            local.stop()  # exports into data/
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    exported = list(data.rglob("*"))
    assert any(p.name.endswith(".overall_export_metadata") for p in exported), exported
    for path in [data] + exported:
        want = 0o700 if path.is_dir() else 0o600
        assert stat.S_IMODE(path.stat().st_mode) == want, (path, oct(path.stat().st_mode))
