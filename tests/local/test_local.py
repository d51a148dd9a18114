"""Local mode's pieces that need no browser: the dashboard server and the CLI's errors."""

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from tfwatcher.local.server import DashboardServer
from tests.helpers import wait_until


@pytest.fixture
def served(tmp_path):
    (tmp_path / "index.html").write_text("<!doctype html><title>app</title>")
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "app-1234.js").write_text("console.log(1)")
    server = DashboardServer(tmp_path, port=0, emulator_port=8123).start()
    yield f"http://127.0.0.1:{server.port}"
    server.stop()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def test_init_json_points_the_browser_at_this_server_as_the_browser_named_it(served):
    """The SDK's "emulator" is the dashboard server (its proxy), never the emulator's port;
    named as the browser named it when that is this server's own address (or localhost on
    loopback), and by the address the connection came in on otherwise: a Host header is
    never echoed (issue #20, item 9)."""
    port = int(served.rsplit(":", 1)[1])

    def emulator_host(host=None):
        req = urllib.request.Request(f"{served}/__/firebase/init.json", headers={"Host": host} if host else {})
        with urllib.request.urlopen(req) as r:
            config = json.load(r)
        assert config["projectId"] == "demo-tfwatcher"
        return config["firestoreEmulator"]

    assert emulator_host() == {"host": "127.0.0.1", "port": port}
    assert emulator_host("localhost:5000") == {"host": "localhost", "port": 5000}  # a port forward
    assert emulator_host("127.0.0.1:5001") == {"host": "127.0.0.1", "port": 5001}
    # this machine's own name, as a phone on the Wi-Fi may have opened it (mDNS `name.local`)
    import socket

    own = socket.gethostname().lower().split(".")[0]
    assert emulator_host(f"{own}.local:5000") == {"host": f"{own}.local", "port": 5000}
    for forged in ("192.0.2.7:5000", "[fd00::2]:5001", "evil.example", "evil.example:1",
                   "127.0.0.1.evil.example:5000", "x\"y", ""):
        assert emulator_host(forged) == {"host": "127.0.0.1", "port": port}, forged
    raw = _raw({"ip": "127.0.0.1", "port": port},
               b"GET /__/firebase/init.json HTTP/1.0\r\nHost: attacker.example:80\r\n\r\n")
    assert raw.startswith(b"HTTP/1.0 200") and b"attacker" not in raw


def test_security_headers_on_every_response(served):
    """The same Content-Security-Policy as firebase.json, except that connect-src is 'self':
    the browser reaches Firestore through this server. The e2e tests run the dashboard under
    this policy and fail on any violation, so they vouch for firebase.json's too."""
    from pathlib import Path

    from tfwatcher.local.server import CONTENT_SECURITY_POLICY

    for path in ("/", "/s/abc2345", "/assets/app-1234.js", "/__/firebase/init.json", "/nothing.png"):
        with urllib.request.urlopen(f"{served}{path}") as r:
            assert r.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, path
            assert r.headers["X-Content-Type-Options"] == "nosniff"
            assert r.headers["Referrer-Policy"] == "no-referrer"
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{served}/emulator/v1/projects/demo-tfwatcher:securityRules")
    assert info.value.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY

    def directives(policy):
        return {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}

    hosting = json.loads((Path(__file__).resolve().parents[2] / "firebase.json").read_text())["hosting"]
    (everything,) = [h for h in hosting["headers"] if h["source"] == "**"]
    sent = {h["key"]: h["value"] for h in everything["headers"]}
    assert sent["X-Content-Type-Options"] == "nosniff" and sent["Referrer-Policy"] == "no-referrer"
    prod, local = directives(sent["Content-Security-Policy"]), directives(CONTENT_SECURITY_POLICY)
    assert prod.pop("connect-src") == ["'self'", "https://firestore.googleapis.com",
                                       "https://firebaseinstallations.googleapis.com",
                                       "https://fcmregistrations.googleapis.com",
                                       "https://content-firebaseappcheck.googleapis.com"]
    assert local.pop("connect-src") == ["'self'"]
    assert prod == local
    assert local["script-src"] == ["'self'"] and local["frame-ancestors"] == ["'none'"]


def test_routes_follow_firebase_json(served):
    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as info:
        opener.open(f"{served}/logs/abc2345")
    assert info.value.code == 301 and info.value.headers["Location"] == "/s/abc2345"
    with urllib.request.urlopen(f"{served}/s/abc2345") as r:
        assert b"<title>app</title>" in r.read() and r.headers["Cache-Control"] == "no-cache"
    with urllib.request.urlopen(f"{served}/assets/app-1234.js") as r:
        assert "immutable" in r.headers["Cache-Control"]


def test_missing_build_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="npm run build"):
        DashboardServer(tmp_path / "nothing", port=0)


def test_local_without_emulator_says_how_to_install_and_exits_3(tmp_path):
    env = {**os.environ, "TFWATCHER_EMULATOR": str(tmp_path / "missing"), "TFWATCHER_HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-m", "tfwatcher.cli", "local", "--host", "127.0.0.1",
                             "--port", "0", "--emulator-port", "0"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 3
    assert "does not exist" in result.stdout and "gcloud components install" in result.stdout


def test_wheel_carries_the_dashboard_and_the_rules(tmp_path):
    """`pip install tf-watcher` from scripts/build-wheel.sh: `tfwatcher local` needs no checkout."""
    import zipfile
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    if not (root / "hosting" / "dist" / "index.html").is_file():
        pytest.skip("hosting/dist is not built (scripts/setup.sh builds it)")
    env = {**os.environ, "TFWATCHER_REUSE_BUILD": "1", "WHEEL_DIR": str(tmp_path),
           "PYTHON": sys.executable}
    subprocess.run(["bash", "scripts/build-wheel.sh"], cwd=root, env=env, check=True,
                   capture_output=True, timeout=300)
    (wheel,) = tmp_path.glob("tf_watcher-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "tfwatcher/dashboard/index.html" in names
    assert "tfwatcher/dashboard/firestore.rules" in names
    assert any(n.startswith("tfwatcher/dashboard/assets/") for n in names)
    assert not (root / "tfwatcher" / "dashboard").exists()  # the copy is cleaned up


# ---- Issue #12: local mode on a shared network -------------------------------------------
# `tfwatcher local` (LocalMode, host 0.0.0.0) seen from a "phone" on the test's own LAN (a
# network namespace joined by a veth pair, tests/local/netns.py), as a stranger on the same
# Wi-Fi would see it: the emulator's port is closed there, and the dashboard server forwards
# the Firestore SDK's requests without any admin power.

import http.client  # noqa: E402
import re  # noqa: E402
import socket  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from urllib.parse import quote, urlencode  # noqa: E402

SID = "lanview23456789abc"
OWNER_KEY = "owner-secret-" + "k" * 20
DB = "projects/demo-tfwatcher/databases/(default)"
DOCS = DB + "/documents"


@pytest.fixture(scope="module")
def netns():
    """The test's own "LAN": a network namespace joined to this machine by a veth pair
    (tests/local/netns.py). The phone's sockets are made inside it; nothing is sent to this
    machine's real interfaces."""
    from tests.local.netns import LanNamespace, unavailable

    why = unavailable()
    if why:
        pytest.skip(f"the LAN tests need a network namespace of their own: {why}")
    with LanNamespace() as ns:
        yield ns


@pytest.fixture(scope="module")
def lan(tmp_path_factory, netns):
    """`tfwatcher local` on 0.0.0.0 with one running session, reached from the namespace at
    the host end of its veth pair (which LocalMode takes for its LAN address here)."""
    from tfwatcher.local import mode
    from tfwatcher.local.emulator import EmulatorNotFound
    from tfwatcher.local.mode import LocalMode

    ip = netns.host_ip
    dist = tmp_path_factory.mktemp("dist")
    (dist / "index.html").write_text("<!doctype html><title>app</title>")
    with pytest.MonkeyPatch.context() as mp:
        for key in ("FIRESTORE_EMULATOR_HOST", "GCLOUD_PROJECT", "TFWATCHER_PROJECT", "TFWATCHER_DASHBOARD_URL"):
            if key in os.environ:
                mp.setenv(key, os.environ[key])
            else:
                mp.delenv(key, raising=False)
        mp.setattr(mode, "lan_ip", lambda: ip)  # the "LAN" is the namespace's veth pair
        try:
            local = LocalMode(port=0, emulator_port=0, host="0.0.0.0", dist=str(dist))
        except EmulatorNotFound as err:
            pytest.fail(str(err))
        try:
            from google.cloud import firestore

            db = firestore.Client(project="demo-tfwatcher")  # admin, via FIRESTORE_EMULATOR_HOST
            db.document(f"sessions/{SID}").set({"status": "running", "name": "lan view", "run": 1})
            db.document(f"sessions/{SID}/private/owner").set({"key": OWNER_KEY})
            db.document(f"sessions/{SID}/epochs/1").set({"epoch": 1, "loss": 0.5})
            yield {"ip": ip, "port": local.server.port, "emulator_port": local.emulator.port,
                   "local": local, "db": db, "ns": netns}
            db.close()
        finally:
            local.stop()


class _PhoneConnection(http.client.HTTPConnection):
    """An HTTP connection made from inside the test's namespace (the phone on the LAN)."""

    def __init__(self, ns, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._ns = ns

    def connect(self):
        self.sock = self._ns.create_connection((self.host, self.port), self.timeout)


def _connection(lan, timeout, host=None):
    if "ns" in lan:
        return _PhoneConnection(lan["ns"], host or lan["ip"], lan["port"], timeout=timeout)
    return http.client.HTTPConnection(host or lan["ip"], lan["port"], timeout=timeout)


def _request(lan, method, path, body=b"", headers=None, host=None):
    conn = _connection(lan, 20, host)
    try:
        conn.request(method, path, body=body or None, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read(1 << 20)
    finally:
        conn.close()


def _raw(lan, data: bytes, wait: float = 2.0) -> bytes:
    """Bytes sent as they are on one connection; everything that comes back until it closes."""
    connect = lan["ns"].create_connection if "ns" in lan else socket.create_connection
    with connect((lan["ip"], lan["port"]), timeout=10) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before reading it all: read what it said
        out = b""
        deadline = time.monotonic() + wait + 10
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not chunk:
                break
            out += chunk
        return out


def _listen(lan, documents, *, body_headers="", url_extra=None, wait=8.0, opened=None,
            until=(b'"CURRENT"', b'"REMOVE"')):
    """A Firestore WebChannel Listen, as the browser SDK makes it, through the dashboard
    server's LAN address: the handshake POST, then the streaming back channel GET. Returns
    the status of the POST and everything the back channel said within `wait` seconds."""
    params = {"database": DB, "VER": "8", "RID": "1000", "CVER": "22", "X-HTTP-Session-Id": "gsessionid",
              "zx": "abc", "t": "1"}
    query = urlencode(params) + (f"&{url_extra}" if url_extra else "")
    data = json.dumps({"database": DB, "addTarget": {"documents": {"documents": [f"{DOCS}/{d}" for d in documents]},
                                                     "targetId": 2}})
    body = urlencode({"count": "1", "ofs": "0", "req0___data__": data})
    if body_headers:
        body = "headers=" + quote(body_headers) + "&" + body
    status, text = _request(lan, "POST", "/google.firestore.v1.Firestore/Listen/channel?" + query, body.encode(),
                            {"Content-Type": "application/x-www-form-urlencoded"})
    m = re.search(rb'\["c","([^"]+)"', text)
    if status != 200 or not m:
        return status, text
    back = urlencode({"database": DB, "gsessionid": "", "VER": "8", "RID": "rpc", "SID": m.group(1).decode(),
                      "AID": "0", "CI": "0", "TYPE": "xmlhttp", "zx": "def", "t": "1"})
    conn = _connection(lan, wait)
    out = b""
    try:
        conn.request("GET", "/google.firestore.v1.Firestore/Listen/channel?" + back)
        r = conn.getresponse()
        assert r.status == 200
        if opened is not None:
            opened.set()
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and not any(word in out for word in until):
            chunk = r.read1(65536)  # arrives piece by piece: the proxy streams
            if not chunk:
                break
            out += chunk
    except socket.timeout:
        pass
    finally:
        conn.close()
    return status, out


def _owner_key_intact(lan) -> bool:
    return lan["db"].document(f"sessions/{SID}/private/owner").get().to_dict() == {"key": OWNER_KEY}


def test_lan_emulator_port_is_closed_and_the_banner_says_so(lan):
    assert lan["ns"].try_connect(lan["ip"], lan["emulator_port"]) == "ECONNREFUSED"
    assert lan["ns"].try_connect(lan["ip"], lan["port"]) == "connected"
    socket.create_connection(("127.0.0.1", lan["emulator_port"]), timeout=5).close()  # Python's way in
    from tfwatcher.base import project as config

    state = json.loads(config.LOCAL_STATE.read_text())
    assert state["emulator"] == f"127.0.0.1:{lan['emulator_port']}"
    assert state["dashboard"] == f"http://{lan['ip']}:{lan['port']}"
    banner = "\n".join(lan["local"].reachability())
    assert f"On the network: the dashboard at http://{lan['ip']}:{lan['port']}/ (read-only share views, and Stop " \
           f"for those holding an owner link)" in banner
    assert f"This machine only: the Firestore emulator at 127.0.0.1:{lan['emulator_port']}" in banner


def test_lan_share_view_works_through_the_proxy(lan):
    status, out = _listen(lan, [f"sessions/{SID}"])
    assert status == 200
    assert b'"documentChange"' in out and b'"lan view"' in out
    # The one-shot RPCs the SDK may use (REST, JSON in text/plain).
    status, out = _request(lan, "POST", f"/v1/{DOCS}/sessions/{SID}:runQuery?key=demo-api-key",
                           json.dumps({"structuredQuery": {"from": [{"collectionId": "epochs"}]}}).encode(),
                           {"Content-Type": "text/plain"})
    assert status == 200 and b'"loss"' in out


def test_lan_admin_surface_is_refused(lan):
    rules = "/emulator/v1/projects/demo-tfwatcher:securityRules"
    wipe = f"/emulator/v1/{DOCS}"
    assert _request(lan, "GET", rules)[0] == 403
    assert _request(lan, "GET", "/emulator/v1/projects/demo-tfwatcher:ruleCoverage")[0] == 403
    assert _request(lan, "PUT", rules, b'{"rules":{"files":[]}}', {"Content-Type": "application/json"})[0] == 403
    assert _request(lan, "DELETE", wipe)[0] == 403
    assert _request(lan, "POST", "/emulator/v1/projects/demo-tfwatcher:export", b"{}")[0] == 403
    # Path traversal and encodings that a sloppy proxy would normalise into /emulator/.
    for path in ("/google.firestore.v1.Firestore/../emulator/v1/" + DOCS,
                 "/google.firestore.v1.Firestore/Listen/channel/../../../emulator/v1/" + DOCS,
                 "/google.firestore.v1.Firestore/%2e%2e/emulator/v1/" + DOCS,
                 "/google.firestore.v1.Firestore%2F..%2Femulator/v1/" + DOCS,
                 "/google.firestore.v1.Firestore/Listen/channel%2F..%2F..%2F..%2Femulator/v1/" + DOCS,
                 "/%65mulator/v1/" + DOCS, "//emulator/v1/" + DOCS, "/./emulator/v1/" + DOCS,
                 "/v1/../emulator/v1/" + DOCS, "/%2e%2e/emulator/v1/" + DOCS, "/%252e%252e/emulator/v1/" + DOCS):
        for method in ("GET", "DELETE", "POST"):
            status, body = _request(lan, method, path)
            assert status in (403, 404), (method, path, status)
    # The raw request line, with nothing normalised by a client library.
    reply = _raw(lan, b"DELETE /google.firestore.v1.Firestore/Listen/../../emulator/v1/" + DOCS.encode()
                 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert reply.startswith(b"HTTP/1.0 403")
    assert _owner_key_intact(lan)  # nothing was wiped


def test_lan_owner_bearer_token_never_reaches_the_emulator(lan):
    owner = f"sessions/{SID}/private/owner"
    bearer = {"Authorization": "Bearer owner", "Content-Type": "text/plain"}
    # A plain REST read is not something the SDK does: not forwarded at all.
    for method in ("GET", "DELETE", "PATCH"):
        status, body = _request(lan, method, f"/v1/{DOCS}/{owner}", headers=bearer)
        assert status in (403, 404) and OWNER_KEY.encode() not in body
    # batchGet is forwarded, but not with the admin token: refused by the server ...
    read_owner = json.dumps({"documents": [f"{DOCS}/{owner}"]}).encode()
    status, body = _request(lan, "POST", f"/v1/{DOCS}:batchGet", read_owner, bearer)
    assert status == 403 and b"admin credential" in body and OWNER_KEY.encode() not in body
    for header in ("authorization", "X-Goog-Iam-Authorization-Token", "Proxy-Authorization"):
        for token in ("Bearer owner", "bearer OWNER", "owner"):
            status, body = _request(lan, "POST", f"/v1/{DOCS}:batchGet", read_owner,
                                    {header: token, "Content-Type": "text/plain"})
            assert status == 403 and OWNER_KEY.encode() not in body, (header, token)
    # ... and any other credential is dropped, so the emulator sees an anonymous browser and
    # the rules deny it.
    forged = {"Authorization": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "Content-Type": "text/plain"}
    status, body = _request(lan, "POST", f"/v1/{DOCS}:batchGet", read_owner, forged)
    assert status == 403 and b"PERMISSION_DENIED" in body and OWNER_KEY.encode() not in body
    # Where the emulator also reads headers from: WebChannel's `headers` body field (the SDK
    # puts its own headers there): the admin token there is refused, other headers dropped ...
    status, out = _listen(lan, [owner], body_headers="Authorization:Bearer owner\r\nX-Goog-Api-Client:x\r\n")
    assert status == 403 and OWNER_KEY.encode() not in out
    status, out = _listen(lan, [owner], body_headers="Authorization:Bearer x.y.\r\nX-Goog-Api-Client:x\r\n")
    assert status == 200 and b"No matching allow statements" in out and OWNER_KEY.encode() not in out
    # ... and the `$httpHeaders` URL parameter is refused outright.
    for extra in ("%24httpHeaders=Authorization%3ABearer%20owner%0D%0A", "headers=Authorization%3ABearer%20owner",
                  "%24req=x", "access_token=owner"):
        status, out = _listen(lan, [owner], url_extra=extra)
        assert status == 403 and OWNER_KEY.encode() not in out, extra
    # Another project's data (or the emulator's other projects) is not reachable either.
    status, _ = _request(lan, "POST", "/v1/projects/other/databases/(default)/documents:batchGet", b"{}", bearer)
    assert status == 403


def test_lan_proxy_bounds_bodies_and_refuses_smuggling(lan):
    channel = "/google.firestore.v1.Firestore/Write/channel?" + urlencode({"database": DB, "VER": "8", "RID": "1",
                                                                           "CVER": "22", "zx": "a", "t": "1"})
    # A body over the limit is refused from its Content-Length, before it is read.
    from tfwatcher.local.server import MAX_BODY

    reply = _raw(lan, f"POST {channel} HTTP/1.1\r\nHost: x\r\nContent-Length: {MAX_BODY + 1}\r\n\r\n".encode())
    assert reply.startswith(b"HTTP/1.0 413")
    huge = b"count=1&ofs=0&req0___data__=" + b"x" * (MAX_BODY + 10)
    reply = _raw(lan, f"POST {channel} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(huge)}\r\n\r\n".encode() + huge)
    # 413, or (when the unread rest of the body arrives after the server closed) a reset.
    assert reply.startswith(b"HTTP/1.0 413") or reply == b""
    # CL.TE: a smuggled second request hidden in a chunked body is never executed.
    smuggled = (b"DELETE /emulator/v1/" + DOCS.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    reply = _raw(lan, f"POST {channel} HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                 .encode() + b"0\r\n\r\n" + smuggled)
    assert reply.startswith(b"HTTP/1.0 501") and reply.count(b"HTTP/1.") == 1
    # Two Content-Lengths, a non-numeric one, and a pipelined request after a complete one.
    reply = _raw(lan, f"POST {channel} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 90\r\n\r\n"
                 .encode() + smuggled)
    assert reply.startswith(b"HTTP/1.0 400") and reply.count(b"HTTP/1.") == 1
    reply = _raw(lan, f"POST {channel} HTTP/1.1\r\nHost: x\r\nContent-Length: +5\r\n\r\n".encode())
    assert reply.startswith(b"HTTP/1.0 400")
    reply = _raw(lan, b"GET /__/firebase/init.json HTTP/1.1\r\nHost: x\r\n\r\n" + smuggled)
    assert reply.startswith(b"HTTP/1.0 200") and reply.count(b"HTTP/1.") == 1  # one request a connection
    # A header injected through a WebChannel body field does not become a header upstream:
    # the field is parsed and rebuilt, so CR/LF inside values cannot add lines.
    status, out = _listen(lan, [f"sessions/{SID}/private/owner"],
                          body_headers="X-Goog-Api-Client:x\nAuthorization:Bearer y\rX-Evil:1")
    assert status == 200 and OWNER_KEY.encode() not in out and b"No matching allow statements" in out
    # An unknown WebChannel field is refused rather than passed on.
    status, _ = _request(lan, "POST", channel, b"count=1&%24httpHeaders=Authorization%3ABearer%20owner",
                         {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 403
    assert _owner_key_intact(lan)
    assert lan["db"].document(f"sessions/{SID}").get().exists


def test_server_threads_end_with_the_server(tmp_path, emulator):
    """A streaming back channel in progress does not keep the server (or a thread) alive."""
    (tmp_path / "index.html").write_text("<!doctype html>")
    before = set(threading.enumerate())
    server = DashboardServer(tmp_path, host="127.0.0.1", port=0, emulator_port=emulator.port).start()
    lan = {"ip": "127.0.0.1", "port": server.port}
    opened = threading.Event()

    def listen():
        try:
            _listen(lan, ["sessions/none"], wait=60, opened=opened, until=())  # reads on and on
        except (OSError, http.client.HTTPException):
            pass  # the server went away mid-stream: expected

    t = threading.Thread(target=listen, daemon=True)
    t.start()
    assert opened.wait(30), "the back channel did not open"
    assert server.httpd.live_threads() >= 1
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 6
    assert server.httpd.live_threads() == 0
    assert not [th for th in set(threading.enumerate()) - before if th.name.startswith("tfwatcher-serve")]
    t.join(10)
    assert not t.is_alive()


def test_slow_senders_from_one_address_cannot_lock_the_phone_out(tmp_path, monkeypatch, netns):
    """Slowloris from one machine on the Wi-Fi (the namespace): connections that trickle
    their headers are closed at the header deadline, and one address holds at most
    MAX_PER_CLIENT of them, so a phone (here: loopback) is still served, and the slow
    address itself once its slow connections are gone."""
    from tfwatcher.local.limits import Limits

    limits = Limits(header_deadline=4.0)
    ip = netns.host_ip  # the server's address on the namespace's LAN
    (tmp_path / "index.html").write_text("<!doctype html><title>app</title>")
    server = DashboardServer(tmp_path, host="0.0.0.0", port=0, emulator_port=1, limits=limits).start()
    lan = {"ip": ip, "port": server.port, "ns": netns}
    slow = []
    try:
        for _ in range(limits.max_per_client + 6):  # from the namespace's one address
            s = netns.create_connection((ip, server.port), timeout=5)
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # ...and never the blank line
            slow.append(s)
        for s in slow[limits.max_per_client:]:  # past the cap: closed (at accept)
            s.settimeout(limits.header_deadline + 3)
            try:
                assert s.recv(1024) == b"", "a connection past the per-address cap was kept"
            except ConnectionResetError:
                pass
        assert server.httpd.live_threads() <= limits.max_per_client, "one address, capped"
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/", timeout=5) as r:
            assert r.status == 200  # the phone is served meanwhile
        started = time.monotonic()
        for s in slow[: limits.max_per_client]:
            s.settimeout(limits.header_deadline + 3)
            try:
                data = s.recv(1024)
            except ConnectionResetError:
                data = b""
            assert data == b"" or data.startswith(b"HTTP/1."), data  # closed by the server
        assert time.monotonic() - started < limits.header_deadline + 3
        wait_until(lambda: server.httpd.live_threads() == 0, 5)
        assert _request(lan, "GET", "/")[0] == 200  # the address is served again
    finally:
        for s in slow:
            s.close()
        server.stop()
