"""Serve the built dashboard locally, as Firebase Hosting would, and be the browser's only way
to the Firestore emulator.

Hosting gives every app `/__/firebase/init.json` with the project's web config. This server
answers that path with a config for the local emulator whose `firestoreEmulator` is this
server itself (the host name and port the browser used), and forwards to the emulator, which
listens on loopback only, exactly the requests the Firestore JS SDK makes:

* `POST|GET /google.firestore.v1.Firestore/{Listen,Write}/channel` (WebChannel: live
  listeners and writes; responses are streamed through as they come),
* `POST /v1/projects/{project}/databases/(default)/documents[/...]:{batchGet,commit,runQuery,
  runAggregationQuery}` (one-shot RPCs: transactions, aggregate queries).

Everything the emulator offers beyond that stays on loopback: `/emulator/*` (wipe the data,
replace the rules), plain REST reads and writes, and above all the admin credential: no
`Authorization` reaches the emulator, neither as a header nor smuggled where the emulator also
looks for one (WebChannel's `$httpHeaders` URL parameter and the `headers` field of its POST
body, both checked by tests/local/test_local.py); a request that presents the emulator's admin
token (`owner`) is refused. Browsers are then always anonymous, so
firestore.rules decide, as on the real Firestore. Query strings and WebChannel bodies are
parsed, checked against what the SDK sends and re-encoded, so the emulator sees exactly what
was checked. Bodies are bounded (`MAX_BODY`).

Routes follow `firebase.json`: `/logs/{id}` redirects to `/s/{id}`, unknown paths fall back to
`index.html`, hashed assets are cached as immutable, and every response carries the same
security headers as Hosting (Content-Security-Policy, nosniff, no referrer).

    python -m tfwatcher.local.server --dist hosting/dist --port 5000 --emulator-port 8080
"""

from __future__ import annotations

import argparse
import functools
import http.client
import http.server
import ipaddress
import json
import posixpath
import re
import socket
import threading
import time
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

from tfwatcher.base.project import DEFAULT_PROJECT

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

MAX_BODY = 1 << 20  # bytes; the dashboard's writes (a stop, a subscription) are < 10 KiB
MAX_CONNECTIONS = 128  # concurrent; a dashboard tab holds about 4 (two channels, two RPCs)
CLIENT_TIMEOUT = 60.0  # seconds a client may take per read or write on its socket
HEADER_DEADLINE = 10.0  # seconds in all for a request line and headers (slowloris)
MAX_PER_CLIENT = 24  # concurrent connections from one address other than this machine's
UPSTREAM_TIMEOUT = 330.0  # a WebChannel back channel stays open ~4 min; noops every 30 s

_CHANNEL = re.compile(r"^/google\.firestore\.v1\.Firestore/(Listen|Write)/channel$")
_RPC = re.compile(
    r"^/v1/projects/(?P<project>[a-z0-9-]{1,64})/databases/\(default\)/documents"
    r"(?:/[A-Za-z0-9_-]{1,128}){0,40}:(batchGet|commit|runQuery|runAggregationQuery)$")
# Query parameters the SDK's WebChannel sets (closure WebChannelBase, Firestore's
# messageUrlParams and httpSessionIdParam); `$req`, `$httpHeaders` and `headers` are not
# among them: the emulator reads request headers from the last two.
_CHANNEL_PARAMS = frozenset({"database", "VER", "RID", "CVER", "X-HTTP-Session-Id", "zx", "t",
                             "SID", "AID", "TYPE", "CI", "TO", "gsessionid"})
_RPC_PARAMS = frozenset({"key"})
_BODY_FIELD = re.compile(r"^(count|ofs|headers|req\d{1,4}___data__)$")
# Request headers passed on (the SDK's own; everything else, Authorization first, is dropped).
_FORWARD_HEADERS = ("Content-Type", "X-Goog-Api-Client", "X-Firebase-GMPID",
                    "google-cloud-resource-prefix", "x-goog-request-params")
_FORWARD_LOWER = frozenset(h.lower() for h in _FORWARD_HEADERS)
_RETURN_HEADERS = ("Content-Type", "Cache-Control", "X-HTTP-Session-Id",
                   "X-Client-Wire-Protocol", "X-HTTP-Initial-Response")
# Paths that belong to the emulator's API, never to the app: refused when not forwarded.
_API_PREFIXES = ("/emulator", "/v1", "/v1beta1", "/google.", "/$rpc", "/__/", "/_ah")
_SAFE_VALUE = re.compile(r"^[\x20-\x7e]{0,512}$")
# The emulator's admin credential: a request that presents it is refused outright (any other
# credential is dropped, so the browser is anonymous either way).
_ADMIN_TOKEN = re.compile(r"^\s*(bearer\s+)?owner\s*$", re.IGNORECASE)
_CREDENTIAL_HEADERS = ("Authorization", "Proxy-Authorization", "X-Goog-Iam-Authorization-Token")


def _is_loopback_address(ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip.split("%")[0]).is_loopback
    except ValueError:
        return False


class Refused(Exception):
    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def _clean_header_block(block: str) -> str:
    """WebChannel's `headers` body field (`Name:value` lines): keep the SDK's own headers."""
    kept = []
    for line in re.split(r"\r\n|\n|\r", block):
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if _ADMIN_TOKEN.match(value):
            raise Refused(403, "The emulator's admin credential is not accepted here.")
        if sep and name.strip().lower() in _FORWARD_LOWER and _SAFE_VALUE.match(value):
            kept.append(f"{name.strip()}:{value.strip()}")
    return "".join(f"{h}\r\n" for h in kept)


class _Handler(http.server.SimpleHTTPRequestHandler):
    project = DEFAULT_PROJECT
    emulator_host = "127.0.0.1"
    emulator_port = 8080
    timeout = CLIENT_TIMEOUT
    server_version = "tfwatcher"

    def version_string(self) -> str:
        return self.server_version

    def parse_request(self) -> bool:
        ok = super().parse_request()  # the request line was read; this reads the headers
        headers_read = getattr(self.server, "headers_read", None)
        if headers_read is not None:
            headers_read(self.request)
        return ok

    def log_message(self, format, *args):  # keep the terminal for the user's training output
        pass

    # -- helpers -----------------------------------------------------------------------------

    def _host_and_port(self) -> tuple[str, int]:
        """The host name and port the browser used to reach this server."""
        host = self.headers.get("Host")
        if not host:
            return "127.0.0.1", self.server.server_address[1]
        # "[::1]:5000" -> "[::1]", "192.168.1.4:5000" -> "192.168.1.4"
        m = re.match(r"^(\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?$", host) or \
            re.match(r"^([A-Za-z0-9.-]+)(?::(\d{1,5}))?$", host)
        if not m:
            return "127.0.0.1", self.server.server_address[1]
        return m.group(1), int(m.group(2)) if m.group(2) else 80

    def _plain(self, status: int, text: str) -> None:
        body = (text + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _is_api_path(self, path: str) -> bool:
        canonical = posixpath.normpath(unquote(unquote(path)).replace("\\", "/"))
        return any(p.startswith(prefix) for p in (path, canonical) for prefix in _API_PREFIXES)

    # -- methods -----------------------------------------------------------------------------

    def do_GET(self):
        path = urlsplit(self.path).path
        if path == "/__/firebase/init.json":
            return self._init_json()
        if _CHANNEL.match(path):
            return self._proxy()
        if self._is_api_path(path):
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
        if self._is_api_path(path):
            return self._refuse(path)
        super().do_HEAD()

    def do_POST(self):
        path = urlsplit(self.path).path
        if _CHANNEL.match(path) or _RPC.match(path):
            return self._proxy()
        self._refuse(path)

    def _other(self):
        self._refuse(urlsplit(self.path).path)

    do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_TRACE = do_CONNECT = _other

    def _refuse(self, path: str) -> None:
        self.close_connection = True
        if self._is_api_path(path):
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
            path = urlsplit(self.path).path
            if path.startswith("/assets/"):
                self.send_header("Cache-Control", "public, max-age=31536000, immutable")
            elif not path.startswith("/__/"):
                self.send_header("Cache-Control", "no-cache")
        self._cache_control_sent = False
        for name, value in SECURITY_HEADERS:
            self.send_header(name, value)
        super().end_headers()

    # -- the proxy -----------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if self.headers.get_all("Transfer-Encoding"):
            raise Refused(501, "Chunked request bodies are not accepted.")
        lengths = self.headers.get_all("Content-Length") or []
        if len(lengths) > 1 or (lengths and not re.fullmatch(r"\d{1,10}", lengths[0].strip())):
            raise Refused(400, "Bad Content-Length.")
        length = int(lengths[0]) if lengths else 0
        if length > MAX_BODY:
            raise Refused(413, f"Request body over {MAX_BODY} bytes.")
        body = self.rfile.read(length) if length else b""
        if len(body) != length:
            raise Refused(400, "Request body shorter than its Content-Length.")
        return body

    def _checked_query(self, query: str, allowed: frozenset) -> str:
        try:
            pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query),
                              max_num_fields=64)
        except ValueError:
            raise Refused(400, "Malformed query string.") from None
        database = f"projects/{self.project}/databases/(default)"
        for name, value in pairs:
            if name not in allowed:
                raise Refused(403, f"Query parameter {name!r} is not forwarded.")
            if not _SAFE_VALUE.match(value):
                raise Refused(400, f"Bad value for {name!r}.")
            if name == "database" and value != database:
                raise Refused(403, "Another database.")
        return urlencode(pairs)

    def _checked_channel_body(self, body: bytes) -> bytes:
        if not body:
            return body
        try:
            pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True,
                              max_num_fields=1000)
        except (UnicodeDecodeError, ValueError):
            raise Refused(400, "Malformed WebChannel body.") from None
        out = []
        for name, value in pairs:
            if not _BODY_FIELD.match(name):
                raise Refused(403, f"WebChannel field {name!r} is not forwarded.")
            if name == "headers":
                value = _clean_header_block(value)
                if not value:
                    continue
            out.append((name, value))
        return urlencode(out).encode()

    def _proxy(self) -> None:
        self.close_connection = True
        parts = urlsplit(self.path)
        try:
            for name in _CREDENTIAL_HEADERS:
                if any(_ADMIN_TOKEN.match(v) for v in self.headers.get_all(name) or []):
                    raise Refused(403, "The emulator's admin credential is not accepted here.")
            channel = _CHANNEL.match(parts.path)
            if channel:
                query = self._checked_query(parts.query, _CHANNEL_PARAMS)
            else:
                m = _RPC.match(parts.path)
                if not m or m.group("project") != self.project:
                    raise Refused(403, "Another project.")
                query = self._checked_query(parts.query, _RPC_PARAMS)
            body = self._read_body() if self.command == "POST" else b""
            if self.command == "GET" and (self.headers.get("Content-Length") not in (None, "0")
                                          or self.headers.get_all("Transfer-Encoding")):
                raise Refused(400, "A GET has no body.")
            if channel and self.command == "POST":
                body = self._checked_channel_body(body)
        except Refused as err:
            return self._plain(err.status, err.reason)
        headers = {h: self.headers[h] for h in _FORWARD_HEADERS
                   if self.headers.get(h) is not None and _SAFE_VALUE.match(self.headers[h])}
        if self.command == "POST":
            headers["Content-Length"] = str(len(body))
        target = parts.path + ("?" + query if query else "")
        upstream = http.client.HTTPConnection(self.emulator_host, self.emulator_port,
                                              timeout=UPSTREAM_TIMEOUT)
        self.server.track(upstream)
        try:
            try:
                upstream.request(self.command, target, body=body if self.command == "POST" else None,
                                 headers=headers)
                response = upstream.getresponse()
            except (OSError, http.client.HTTPException):
                return self._plain(502, "The Firestore emulator did not answer.")
            self.send_response(response.status, response.reason)
            for name in _RETURN_HEADERS:
                value = response.getheader(name)
                if value is not None:
                    self.send_header(name, value)
            length = response.getheader("Content-Length")
            if length is not None and length.isdigit():
                self.send_header("Content-Length", length)
            self.send_header("Connection", "close")
            self.end_headers()
            # Stream: WebChannel's back channel is one long response; pass each piece on now.
            while True:
                chunk = response.read1(65536)
                if not chunk:
                    break
                self.wfile.write(chunk)
        except (OSError, http.client.HTTPException):
            pass  # the browser or the emulator went away (or the server is stopping)
        finally:
            self.server.untrack(upstream)
            upstream.close()


class _Server(http.server.ThreadingHTTPServer):
    """ThreadingHTTPServer whose request threads are daemons, counted, bounded, and ended
    (their sockets and upstream connections shut) by `server_close()`."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 64  # a page opens several connections at once (the default is 5)

    def __init__(self, *args, **kwargs):
        self._lock = threading.Lock()
        self._request_threads: set[threading.Thread] = set()
        self._sockets: set[socket.socket] = set()
        self._upstreams: set[http.client.HTTPConnection] = set()
        self._per_client: dict[str, int] = {}
        self._header_due: dict[socket.socket, float] = {}  # requests still sending headers
        self._closing = False
        super().__init__(*args, **kwargs)
        # Ends slow senders (one byte of header every few seconds would otherwise keep a
        # connection, and enough of them the whole server, for ever). Owned by the server:
        # server_close() ends it.
        self._reaper_stop = threading.Event()
        self._reaper = threading.Thread(target=self._reap, name="tfwatcher-serve-reaper", daemon=True)
        self._reaper.start()

    def process_request(self, request, client_address):
        ip = client_address[0] if client_address else ""
        with self._lock:
            crowded = (not _is_loopback_address(ip)
                       and self._per_client.get(ip, 0) >= MAX_PER_CLIENT)
            if self._closing or crowded or len(self._request_threads) >= MAX_CONNECTIONS:
                refused = True
            else:
                refused = False
                t = threading.Thread(target=self._run, args=(request, client_address),
                                     name="tfwatcher-serve-request", daemon=True)
                self._request_threads.add(t)
                self._sockets.add(request)
                self._per_client[ip] = self._per_client.get(ip, 0) + 1
                self._header_due[request] = time.monotonic() + HEADER_DEADLINE
        if refused:
            self.shutdown_request(request)
            return
        t.start()

    def _run(self, request, client_address):
        ip = client_address[0] if client_address else ""
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._lock:
                self._request_threads.discard(threading.current_thread())
                self._sockets.discard(request)
                self._header_due.pop(request, None)
                left = self._per_client.get(ip, 1) - 1
                if left:
                    self._per_client[ip] = left
                else:
                    self._per_client.pop(ip, None)

    def handle_error(self, request, client_address):
        import sys

        if isinstance(sys.exc_info()[1], OSError):
            return  # a client that went away, or one we cut off: nothing to report
        super().handle_error(request, client_address)

    def headers_read(self, request) -> None:
        """The request line and headers are in: the header deadline no longer applies."""
        with self._lock:
            self._header_due.pop(request, None)

    def _reap(self) -> None:
        while not self._reaper_stop.wait(1.0):
            now = time.monotonic()
            with self._lock:
                late = [s for s, due in self._header_due.items() if due < now]
                for s in late:
                    del self._header_due[s]
            for s in late:  # outside the lock: shutting a socket down wakes its thread
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def track(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            self._upstreams.add(conn)

    def untrack(self, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            self._upstreams.discard(conn)

    def live_threads(self) -> int:
        with self._lock:
            return len(self._request_threads)

    def server_close(self):
        super().server_close()
        self._reaper_stop.set()
        self._reaper.join(timeout=5)
        with self._lock:
            self._closing = True
            sockets = list(self._sockets) + [c.sock for c in self._upstreams if c.sock]
            threads = list(self._request_threads)
        for s in sockets:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        deadline = time.monotonic() + 5
        for t in threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))


class DashboardServer:
    """A threaded HTTP server for the dashboard and the Firestore proxy; `start()` returns at
    once, `stop()` ends every thread it started."""

    def __init__(self, dist: str | Path = DEFAULT_DIST, host: str = "127.0.0.1", port: int = 5000,
                 emulator_port: int = 8080, project: str = DEFAULT_PROJECT,
                 emulator_host: str = "127.0.0.1"):
        self.dist = Path(dist)
        if not (self.dist / "index.html").is_file():
            raise FileNotFoundError(
                f"No built dashboard in {self.dist}: run `npm ci && npm run build` in hosting/, "
                f"or pass --dist")
        handler = type("Handler", (_Handler,), {"project": project, "emulator_port": emulator_port,
                                                "emulator_host": emulator_host})
        server_class = _Server
        if ":" in host:
            server_class = type("_Server6", (_Server,), {"address_family": socket.AF_INET6})
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
