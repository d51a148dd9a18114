"""Serve the built dashboard locally, as Firebase Hosting would, with the Firestore proxy
(tfwatcher/local/proxy.py) as the browser's only way to the Firestore emulator, under the
connection limits of tfwatcher/local/limits.py.

Hosting gives every app `/__/firebase/init.json` with the project's web config. This server
answers that path with a config for the local emulator whose `firestoreEmulator` is this
server itself (the host name and port the browser used), and forwards to the emulator, which
listens on loopback only, exactly the requests the Firestore JS SDK makes. Everything the
emulator offers beyond that stays on loopback: `/emulator/*` (wipe the data, replace the
rules), plain REST reads and writes, and the admin credential.

Routes follow `firebase.json`: `/logs/{id}` redirects to `/s/{id}`, unknown paths fall back to
`index.html`, hashed assets are cached as immutable, and every response carries the same
security headers as Hosting (Content-Security-Policy, nosniff, no referrer).

    python -m tfwatcher.local.server --dist hosting/dist --port 5000 --emulator-port 8080
"""

from __future__ import annotations

import argparse
import functools
import http.server
import ipaddress
import json
import re
import socket
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from tfwatcher.base.project import DEFAULT_PROJECT
from tfwatcher.local.limits import (  # noqa: F401  (re-exported: the server's numbers)
    CLIENT_TIMEOUT, HEADER_DEADLINE, MAX_CONNECTIONS, MAX_PER_CLIENT, REQUEST_DEADLINE,
    LimitedServer, Limits)
from tfwatcher.local.proxy import (  # noqa: F401  (MAX_BODY re-exported)
    CHANNEL, MAX_BODY, RPC, UPSTREAM_TIMEOUT, ProxyMixin, is_api_path)

# A checkout serves hosting/dist; a wheel built with scripts/build-wheel.sh carries the same
# build as package data in tfwatcher/dashboard/.
_CHECKOUT_DIST = Path(__file__).resolve().parents[2] / "hosting" / "dist"
_PACKAGED_DIST = Path(__file__).resolve().parents[1] / "dashboard"
DEFAULT_DIST = _CHECKOUT_DIST if (_CHECKOUT_DIST / "index.html").is_file() else _PACKAGED_DIST

# The local server's policy: as firebase.json's, but the browser talks to nothing except this
# server (Firestore included, through the proxy below). The one image from elsewhere is
# WebChannel's network test, which loads it when a channel fails (offline, server gone).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https://www.google.com/images/cleardot.gif; "
    "font-src 'self'; connect-src 'self'; worker-src 'self'; manifest-src 'self'; "
    "frame-src 'none'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
)


def _is_loopback(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip.split("%")[0]).is_loopback
    except ValueError:
        return False


@functools.lru_cache(maxsize=1)
def _machine_names() -> frozenset:
    """This machine's own host names (`mybox`, `mybox.local`, its FQDN), lower case."""
    names = set()
    for name in (socket.gethostname(), socket.getfqdn()):
        name = (name or "").strip().lower().rstrip(".")
        if name and re.fullmatch(r"[a-z0-9.-]+", name):
            names.add(name)
            names.add(name.split(".")[0] + ".local")
    return frozenset(names)


class _ConsoleNotes:
    """One line on stderr per note, at most one a second: a flood of refused requests from
    the LAN must not bury the training output (the lines it held back are counted)."""

    def __init__(self, every: float = 1.0):
        self._lock = threading.Lock()
        self._every, self._last, self._held = every, float("-inf"), 0

    def note(self, line: str) -> None:
        line = line.encode("ascii", "backslashreplace").decode()
        line = "".join(c if c.isprintable() else repr(c)[1:-1] for c in line)
        with self._lock:
            now = time.monotonic()
            if now - self._last < self._every:
                self._held += 1
                return
            held, self._held, self._last = self._held, 0, now
        more = f" ({held} more since)" if held else ""
        print(line + more, file=sys.stderr, flush=True)


_NOTES = _ConsoleNotes()


class _Handler(ProxyMixin, http.server.SimpleHTTPRequestHandler):
    """Static files, `/__/firebase/init.json` and the routes of firebase.json; the SDK's
    requests go to the proxy (ProxyMixin)."""

    project = DEFAULT_PROJECT
    timeout = CLIENT_TIMEOUT
    server_version = "tfwatcher"

    def version_string(self) -> str:
        return self.server_version

    def parse_request(self) -> bool:
        ok = super().parse_request()  # the request line was read; this reads the headers
        headers_read = getattr(self.server, "headers_read", None)
        if headers_read is not None:
            headers_read(self.request, body_follows=ok and self.command == "POST")
        return ok

    def log_message(self, format, *args):  # keep the terminal for the user's training output
        pass

    def log_error(self, format, *args):
        """A refused request (a malformed request line, one too long, a timeout): one line
        on stderr, escaped and short, at most one a second (the rest are counted)."""
        _NOTES.note(f"tfwatcher local: refused a request from {self.client_address[0]}: "
                    + (format % args)[:200])

    # -- helpers -----------------------------------------------------------------------------

    def _host_and_port(self) -> tuple[str, int]:
        """The host name and port the browser used to reach this server, when that name is
        this server's own: the address the connection came in on (or `localhost` on
        loopback, or this machine's own host name, `name` or `name.local`, so a phone that
        opened `http://mybox.local:5000` keeps working). Any other Host header is not echoed:
        that address and port instead."""
        local = self.request.getsockname()[0]
        if local.startswith("::ffff:") and "." in local:
            local = local[7:]  # IPv4 on a dual-stack socket
        own = f"[{local}]" if ":" in local else local
        names = {own.lower(), *_machine_names()}
        if _is_loopback(local):
            names.add("localhost")
        # "[::1]:5000" -> "[::1]", "192.168.1.4:5000" -> "192.168.1.4"
        m = re.match(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$", self.headers.get("Host") or "")
        if m and m.group(1).lower() in names:
            return m.group(1), int(m.group(2)) if m.group(2) else 80
        return own, self.server.server_address[1]

    def _plain(self, status: int, text: str) -> None:
        body = (text + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    # -- methods -----------------------------------------------------------------------------

    def do_GET(self):
        path = urlsplit(self.path).path
        if path == "/__/firebase/init.json":
            return self._init_json()
        if CHANNEL.match(path):
            return self._proxy()
        if is_api_path(path):
            return self._refuse(path)
        m = re.match(r"^/logs/([^/]+)/?$", path)
        if m:
            self.send_response(301)
            self.send_header("Location", f"/s/{m.group(1)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        target = Path(self.translate_path(path))
        if not target.is_file():
            self.path = "/index.html"  # single-page app: the client routes /s/{sid}
        super().do_GET()

    def do_HEAD(self):
        path = urlsplit(self.path).path
        if is_api_path(path):
            return self._refuse(path)
        super().do_HEAD()

    def do_POST(self):
        path = urlsplit(self.path).path
        if CHANNEL.match(path) or RPC.match(path):
            return self._proxy()
        self._refuse(path)

    def _other(self):
        self._refuse(urlsplit(self.path).path)

    do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_TRACE = do_CONNECT = _other

    def _refuse(self, path: str) -> None:
        self.close_connection = True
        if is_api_path(path):
            self._plain(403 if "emulator" in path.lower() or self.command not in ("GET", "HEAD")
                        else 404, "Not available through the dashboard server.")
        else:
            self._plain(405, "Method not allowed.")

    def _init_json(self) -> None:
        host, port = self._host_and_port()
        body = json.dumps({
            "projectId": self.project,
            "apiKey": "demo-api-key",
            "appId": "1:000000000000:web:local",
            "authDomain": f"{self.project}.firebaseapp.com",
            "storageBucket": "",
            "messagingSenderId": "000000000000",
            # This server, which forwards the SDK's requests to the emulator on loopback.
            "firestoreEmulator": {"host": host, "port": port},
        }).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def send_header(self, keyword, value):
        if keyword.lower() == "cache-control":
            self._cache_control_sent = True
        super().send_header(keyword, value)

    def end_headers(self):
        if not getattr(self, "_cache_control_sent", False):
            # No path when the request line itself was refused (send_error before parsing).
            path = urlsplit(getattr(self, "path", "")).path
            if path.startswith("/assets/"):
                self.send_header("Cache-Control", "public, max-age=31536000, immutable")
            elif not path.startswith("/__/"):
                self.send_header("Cache-Control", "no-cache")
        self._cache_control_sent = False
        for name, value in SECURITY_HEADERS:
            self.send_header(name, value)
        super().end_headers()


class DashboardServer:
    """A threaded HTTP server for the dashboard and the Firestore proxy; `start()` returns at
    once, `stop()` ends every thread it started.

    Args:
        dist: the built dashboard. Defaults to `DEFAULT_DIST`.
        host: address to bind. Defaults to 127.0.0.1.
        port: port to bind (0: a free one, then `self.port`). Defaults to 5000.
        emulator_port: the Firestore emulator's port on `emulator_host`. Defaults to 8080.
        project: the only project forwarded. Defaults to `DEFAULT_PROJECT`.
        emulator_host: where the emulator listens. Defaults to 127.0.0.1.
        limits: connection limits and request deadlines (tfwatcher/local/limits.py).
            Defaults to `Limits()`.
    """

    def __init__(self, dist: str | Path = DEFAULT_DIST, host: str = "127.0.0.1", port: int = 5000,
                 emulator_port: int = 8080, project: str = DEFAULT_PROJECT,
                 emulator_host: str = "127.0.0.1", limits: Limits | None = None):
        self.dist = Path(dist)
        if not (self.dist / "index.html").is_file():
            raise FileNotFoundError(
                f"No built dashboard in {self.dist}: run `npm ci && npm run build` in hosting/, "
                f"or pass --dist")
        handler = type("Handler", (_Handler,), {"project": project, "emulator_port": emulator_port,
                                                "emulator_host": emulator_host})
        attrs = {"limits": limits or Limits()}
        if ":" in host:
            attrs["address_family"] = socket.AF_INET6
        server_class = type("_Server", (LimitedServer,), attrs)
        self.httpd = server_class((host, port), functools.partial(handler, directory=str(self.dist)))
        self.port = self.httpd.server_address[1]
        self._thread: threading.Thread | None = None

    def start(self) -> "DashboardServer":
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="tfwatcher-serve",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(timeout=5)
        self.httpd.server_close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tfwatcher.local.server", description=__doc__.split("\n")[0])
    parser.add_argument("--dist", default=str(DEFAULT_DIST))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--emulator-port", type=int, default=8080,
                        help="port of the Firestore emulator on 127.0.0.1, where requests are forwarded")
    parser.add_argument("--project", default=DEFAULT_PROJECT)
    args = parser.parse_args(argv)
    server = DashboardServer(args.dist, args.host, args.port, args.emulator_port, args.project)
    print(f"Serving {args.dist} on http://{args.host}:{server.port}/", flush=True)
    try:
        server.httpd.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.httpd.server_close()


if __name__ == "__main__":
    main()
