"""Serve the built dashboard locally, as Firebase Hosting would, pointed at the emulator.

Hosting gives every app `/__/firebase/init.json` with the project's web config. This server
answers that path with a config for the local emulator; `firestoreEmulator.host` is the host
name the browser used to reach this server, so a phone on the LAN talks to the emulator on
the same machine. Routes follow `firebase.json`: `/logs/{id}` redirects to `/s/{id}`, unknown
paths fall back to `index.html`, hashed assets are cached as immutable.

    python -m tfwatcher.serve --dist hosting/dist --port 5000 --emulator-port 8080
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import re
import threading
from pathlib import Path
from urllib.parse import urlsplit

from .emulator import DEFAULT_PROJECT

# A checkout serves hosting/dist; a wheel built with scripts/build-wheel.sh carries the same
# build as package data in tfwatcher/dashboard/.
_CHECKOUT_DIST = Path(__file__).resolve().parents[1] / "hosting" / "dist"
_PACKAGED_DIST = Path(__file__).resolve().parent / "dashboard"
DEFAULT_DIST = _CHECKOUT_DIST if (_CHECKOUT_DIST / "index.html").is_file() else _PACKAGED_DIST


class _Handler(http.server.SimpleHTTPRequestHandler):
    project = DEFAULT_PROJECT
    emulator_port = 8080

    def log_message(self, format, *args):  # keep the terminal for the user's training output
        pass

    def _host_name(self) -> str:
        host = self.headers.get("Host", "127.0.0.1")
        # "[::1]:5000" -> "::1", "192.168.1.4:5000" -> "192.168.1.4"
        m = re.match(r"^\[([^\]]+)\](?::\d+)?$", host) or re.match(r"^([^:]+)(?::\d+)?$", host)
        return m.group(1) if m else "127.0.0.1"

    def do_GET(self):
        path = urlsplit(self.path).path
        if path == "/__/firebase/init.json":
            body = json.dumps({
                "projectId": self.project,
                "apiKey": "demo-api-key",
                "appId": "1:000000000000:web:local",
                "authDomain": f"{self.project}.firebaseapp.com",
                "storageBucket": "",
                "messagingSenderId": "000000000000",
                "firestoreEmulator": {"host": self._host_name(), "port": self.emulator_port},
            }).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        m = re.match(r"^/logs/([^/]+)/?$", path)
        if m:
            self.send_response(301)
            self.send_header("Location", f"/s/{m.group(1)}")
            self.end_headers()
            return
        target = Path(self.translate_path(path))
        if not target.is_file():
            self.path = "/index.html"  # single-page app: the client routes /s/{sid}
        super().do_GET()

    def end_headers(self):
        path = urlsplit(self.path).path
        if path.startswith("/assets/"):
            self.send_header("Cache-Control", "public, max-age=31536000, immutable")
        elif not path.startswith("/__/"):
            self.send_header("Cache-Control", "no-cache")
        super().end_headers()


class DashboardServer:
    """A threaded HTTP server for the dashboard; `start()` returns at once."""

    def __init__(self, dist: str | Path = DEFAULT_DIST, host: str = "127.0.0.1", port: int = 5000,
                 emulator_port: int = 8080, project: str = DEFAULT_PROJECT):
        self.dist = Path(dist)
        if not (self.dist / "index.html").is_file():
            raise FileNotFoundError(
                f"No built dashboard in {self.dist}: run `npm ci && npm run build` in hosting/, "
                f"or pass --dist")
        handler = type("Handler", (_Handler,), {"project": project, "emulator_port": emulator_port})
        self.httpd = http.server.ThreadingHTTPServer(
            (host, port), functools.partial(handler, directory=str(self.dist)))
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread: threading.Thread | None = None

    def start(self) -> "DashboardServer":
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="tfwatcher-serve",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tfwatcher.serve", description=__doc__.split("\n")[0])
    parser.add_argument("--dist", default=str(DEFAULT_DIST))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--emulator-port", type=int, default=8080)
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
