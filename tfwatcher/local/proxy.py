"""The filtering Firestore proxy: the browser's only way to the emulator.

Forwards to the emulator, which listens on loopback only, exactly the requests the Firestore
JS SDK makes:

* `POST|GET /google.firestore.v1.Firestore/{Listen,Write}/channel` (WebChannel: live
  listeners and writes; responses are streamed through as they come),
* `POST /v1/projects/{project}/databases/(default)/documents[/...]:{batchGet,commit,runQuery,
  runAggregationQuery}` (one-shot RPCs: transactions, aggregate queries).

No `Authorization` reaches the emulator, neither as a header nor smuggled where the emulator
also looks for one (WebChannel's `$httpHeaders` URL parameter and the `headers` field of its
POST body, both checked by tests/local/test_local.py); a request that presents the emulator's
admin token (`owner`) is refused. Browsers are then always anonymous, so firestore.rules
decide, as on the real Firestore. Query strings and WebChannel bodies are parsed, checked
against what the SDK sends and re-encoded, so the emulator sees exactly what was checked.
Bodies are bounded (`MAX_BODY`).

`ProxyMixin` is mixed into the dashboard server's request handler (tfwatcher/local/server.py);
it uses the handler's `headers`, `rfile`, `wfile`, `_plain()` and the server's
`track()`/`untrack()`/`body_read()` (tfwatcher/local/limits.py).
"""

from __future__ import annotations

import http.client
import posixpath
import re
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

MAX_BODY = 1 << 20  # bytes; the dashboard's writes (a stop, a subscription) are < 10 KiB
UPSTREAM_TIMEOUT = 330.0  # a WebChannel back channel stays open ~4 min; noops every 30 s

CHANNEL = re.compile(r"^/google\.firestore\.v1\.Firestore/(Listen|Write)/channel$")
RPC = re.compile(
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


class Refused(Exception):
    """A request the proxy does not forward: answered with `status` and `reason`."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


def is_api_path(path: str) -> bool:
    """Whether `path` (or what a sloppy proxy would normalise it into) is the emulator's API."""
    canonical = posixpath.normpath(unquote(unquote(path)).replace("\\", "/"))
    return any(p.startswith(prefix) for p in (path, canonical) for prefix in _API_PREFIXES)


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


class ProxyMixin:
    """Request-handler methods that check one SDK request and forward it to the emulator."""

    project: str
    emulator_host = "127.0.0.1"
    emulator_port = 8080

    def _read_body(self) -> bytes:
        if self.headers.get_all("Transfer-Encoding"):
            raise Refused(501, "Chunked request bodies are not accepted.")
        lengths = self.headers.get_all("Content-Length") or []
        if len(lengths) > 1 or (lengths and not re.fullmatch(r"\d{1,10}", lengths[0].strip())):
            raise Refused(400, "Bad Content-Length.")
        length = int(lengths[0]) if lengths else 0
        if length > MAX_BODY:
            raise Refused(413, f"Request body over {MAX_BODY} bytes.")
        try:
            body = self.rfile.read(length) if length else b""
        finally:
            self.server.body_read(self.request)  # in, or given up on: the deadline is done
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

    def _checked_request(self, parts) -> tuple[str, bytes]:
        """The query string and body to forward, or Refused."""
        for name in _CREDENTIAL_HEADERS:
            if any(_ADMIN_TOKEN.match(v) for v in self.headers.get_all(name) or []):
                raise Refused(403, "The emulator's admin credential is not accepted here.")
        channel = CHANNEL.match(parts.path)
        if channel:
            query = self._checked_query(parts.query, _CHANNEL_PARAMS)
        else:
            m = RPC.match(parts.path)
            if not m or m.group("project") != self.project:
                raise Refused(403, "Another project.")
            query = self._checked_query(parts.query, _RPC_PARAMS)
        body = self._read_body() if self.command == "POST" else b""
        if self.command == "GET" and (self.headers.get("Content-Length") not in (None, "0")
                                      or self.headers.get_all("Transfer-Encoding")):
            raise Refused(400, "A GET has no body.")
        if channel and self.command == "POST":
            body = self._checked_channel_body(body)
        return query, body

    def _proxy(self) -> None:
        self.close_connection = True
        parts = urlsplit(self.path)
        try:
            query, body = self._checked_request(parts)
        except Refused as err:
            return self._plain(err.status, err.reason)
        headers = {h: self.headers[h] for h in _FORWARD_HEADERS
                   if self.headers.get(h) is not None and _SAFE_VALUE.match(self.headers[h])}
        if self.command == "POST":
            headers["Content-Length"] = str(len(body))
        target = parts.path + ("?" + query if query else "")
        upstream = http.client.HTTPConnection(self.emulator_host, self.emulator_port,
                                              timeout=UPSTREAM_TIMEOUT)
        self.server.track(upstream, self.request)
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
            self.server.untrack(upstream, self.request)
            upstream.close()
