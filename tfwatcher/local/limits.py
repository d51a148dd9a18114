"""The dashboard server's connection limits: a threaded HTTP server whose request threads are
daemons, counted, bounded in number, shared fairly between client addresses, cut off when a
client is too slow to send its request, and ended (their sockets and upstream connections
shut) by `server_close()`.

The numbers (`Limits`; a phone's dashboard tab holds about 4 connections):

* at most `max_connections` (128) at once, and at most `max_per_client` (24) from one address
  other than this machine's own loopback (127.0.0.1, ::1);
* when all 128 are taken, a connection from an address holding fewer than the busiest
  address minus one takes the place of one of the busiest address's connections (the oldest
  one still sending its request, else its oldest). So no set of addresses can lock a newcomer
  out: six addresses × 24 slow connections leave a phone its slots, and a phone is refused
  only when every address (128 of them, or 64 holding 2 each against the phone's third) holds
  as few as it does;
* a request line and headers must arrive within `header_deadline` (10 s) of the connection,
  and a request body (the proxy's POSTs) within `request_deadline` (20 s) of it: a client that
  trickles one byte every few seconds is cut off. Responses (WebChannel's back channel streams
  for minutes) have no deadline, only `CLIENT_TIMEOUT` per read or write.

Lock order: `LimitedServer._lock` is the only lock here, and nothing is called while it is
held (sockets are shut and threads started or joined after it is released).
"""

from __future__ import annotations

import dataclasses
import http.client
import http.server
import socket
import sys
import threading
import time

MAX_CONNECTIONS = 128  # concurrent; a dashboard tab holds about 4 (two channels, two RPCs)
CLIENT_TIMEOUT = 60.0  # seconds a client may take per read or write on its socket
HEADER_DEADLINE = 10.0  # seconds in all for a request line and headers (slowloris)
REQUEST_DEADLINE = 20.0  # seconds in all for a request line, headers and body (slow bodies)
MAX_PER_CLIENT = 24  # concurrent connections from one address other than this machine's
TRUSTED = frozenset({"127.0.0.1", "::1", "::ffff:127.0.0.1"})  # this machine's own browser


@dataclasses.dataclass(frozen=True)
class Limits:
    """How many connections, from whom, and how long a request may take to arrive.

    Args:
        max_connections: connections served at once. Defaults to 128.
        max_per_client: connections from one address, except `trusted` ones. Defaults to 24.
        header_deadline: seconds from the connection to the end of the headers. Defaults to 10.
        request_deadline: seconds from the connection to the end of the body. Defaults to 20.
        trusted: addresses without a per-address cap (this machine's loopback).
    """

    max_connections: int = MAX_CONNECTIONS
    max_per_client: int = MAX_PER_CLIENT
    header_deadline: float = HEADER_DEADLINE
    request_deadline: float = REQUEST_DEADLINE
    trusted: frozenset = TRUSTED

    def __post_init__(self):
        if not (self.max_connections >= 1 and self.max_per_client >= 1):
            raise ValueError(f"connection limits must be positive; got {self}")
        if not 0 < self.header_deadline <= self.request_deadline:
            raise ValueError(f"deadlines must be positive, headers first; got {self}")


@dataclasses.dataclass(eq=False)
class _Connection:
    ip: str
    since: float
    due: float | None  # the deadline of the request still arriving, or None once it is in
    upstreams: set = dataclasses.field(default_factory=set)


class LimitedServer(http.server.ThreadingHTTPServer):
    """ThreadingHTTPServer whose request threads are daemons, counted, bounded, and ended
    (their sockets and upstream connections shut) by `server_close()`."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 64  # a page opens several connections at once (the default is 5)
    limits = Limits()

    def __init__(self, *args, **kwargs):
        self._lock = threading.Lock()
        self._request_threads: set[threading.Thread] = set()
        self._connections: dict[socket.socket, _Connection] = {}  # counted ones (not evicted)
        self._per_client: dict[str, int] = {}
        self._upstreams: set[http.client.HTTPConnection] = set()
        self._closing = False
        super().__init__(*args, **kwargs)
        # Ends slow senders (one byte every few seconds would otherwise keep a connection,
        # and enough of them the whole server, for ever). Owned by the server:
        # server_close() ends it.
        self._reaper_stop = threading.Event()
        self._reaper = threading.Thread(target=self._reap, name="tfwatcher-serve-reaper", daemon=True)
        self._reaper.start()

    # -- admission ---------------------------------------------------------------------------

    def process_request(self, request, client_address):
        ip = client_address[0] if client_address else ""
        limits = self.limits
        evicted: list = []
        with self._lock:
            held = self._per_client.get(ip, 0)
            if self._closing or (ip not in limits.trusted and held >= limits.max_per_client):
                admitted = False
            elif len(self._connections) >= limits.max_connections:
                evicted = self._evict_for(held)
                admitted = bool(evicted)
            else:
                admitted = True
            if admitted:
                now = time.monotonic()
                t = threading.Thread(target=self._run, args=(request, client_address),
                                     name="tfwatcher-serve-request", daemon=True)
                self._request_threads.add(t)
                self._connections[request] = _Connection(ip, now, now + limits.header_deadline)
                self._per_client[ip] = held + 1
        _shut(evicted)
        if not admitted:
            self.shutdown_request(request)
            return
        t.start()

    def _evict_for(self, held: int) -> list:
        """With the lock held: uncount one connection of the busiest address if it holds at
        least two more than the newcomer's `held`; the sockets to shut, or []."""
        busiest = max(self._per_client, key=self._per_client.__getitem__, default=None)
        if busiest is None or self._per_client[busiest] < held + 2:
            return []
        theirs = [(c.due is None, c.since, s) for s, c in self._connections.items() if c.ip == busiest]
        _, _, victim = min(theirs, key=lambda x: (x[0], x[1]))
        conn = self._uncount(victim)
        return [victim] + [u.sock for u in conn.upstreams if u.sock]

    def _uncount(self, request) -> _Connection | None:
        """With the lock held: forget a connection's place (once)."""
        conn = self._connections.pop(request, None)
        if conn is not None:
            left = self._per_client.get(conn.ip, 1) - 1
            if left:
                self._per_client[conn.ip] = left
            else:
                self._per_client.pop(conn.ip, None)
        return conn

    def _run(self, request, client_address):
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._lock:
                self._request_threads.discard(threading.current_thread())
                self._uncount(request)

    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], OSError):
            return  # a client that went away, or one we cut off: nothing to report
        super().handle_error(request, client_address)

    # -- deadlines ---------------------------------------------------------------------------

    def headers_read(self, request, body_follows: bool = False) -> None:
        """The request line and headers are in: a body still has until the request deadline;
        without one, no deadline applies any more."""
        with self._lock:
            conn = self._connections.get(request)
            if conn is not None:
                conn.due = conn.since + self.limits.request_deadline if body_follows else None

    def body_read(self, request) -> None:
        """The whole request is in: no deadline applies any more."""
        with self._lock:
            conn = self._connections.get(request)
            if conn is not None:
                conn.due = None

    def _reap(self) -> None:
        every = min(1.0, self.limits.header_deadline / 4)
        while not self._reaper_stop.wait(every):
            now = time.monotonic()
            with self._lock:
                late = [s for s, c in self._connections.items() if c.due is not None and c.due < now]
                for s in late:
                    self._connections[s].due = None
            _shut(late)  # outside the lock: shutting a socket down wakes its thread

    # -- upstream connections (the proxy's) ----------------------------------------------------

    def track(self, conn: http.client.HTTPConnection, request=None) -> None:
        with self._lock:
            self._upstreams.add(conn)
            if request in self._connections:
                self._connections[request].upstreams.add(conn)

    def untrack(self, conn: http.client.HTTPConnection, request=None) -> None:
        with self._lock:
            self._upstreams.discard(conn)
            if request in self._connections:
                self._connections[request].upstreams.discard(conn)

    # -- counts and the end ------------------------------------------------------------------

    def live_threads(self) -> int:
        with self._lock:
            return len(self._request_threads)

    def counted(self) -> dict[str, int]:
        """Connections that hold a place, by client address."""
        with self._lock:
            return dict(self._per_client)

    def server_close(self):
        super().server_close()
        self._reaper_stop.set()
        self._reaper.join(timeout=5)
        with self._lock:
            self._closing = True
            sockets = list(self._connections) + [c.sock for c in self._upstreams if c.sock]
            threads = list(self._request_threads)
        _shut(sockets)
        deadline = time.monotonic() + 5
        for t in threads:
            t.join(timeout=max(0.0, deadline - time.monotonic()))


def _shut(sockets) -> None:
    for s in sockets:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
