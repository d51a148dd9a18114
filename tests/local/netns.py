"""A private "LAN" for the local-mode tests: a network namespace that the test creates.

`LanNamespace` makes a namespace `tfw-<random>` and a veth pair between it and this machine,
with a random /30 of 10.213.0.0/16: `host_ip` (x.x.x.1) on this machine's end, `phone_ip`
(x.x.x.2) inside the namespace. The dashboard server binds `host_ip` (or 0.0.0.0, reached
only at `host_ip`) and the "phone" runs inside the namespace: sockets made by
`create_connection()` (in-process: a helper thread enters the namespace, makes the socket and
ends; a socket keeps the namespace it was made in), or `ip netns exec NAME ...` commands. No
traffic goes to this machine's real interfaces. Deleting the namespace removes the veth pair;
`close()` (or the `with` block) does both.

Where namespaces cannot be made (not root, no `ip` from iproute2), `unavailable()` says why.

The e2e tests (tests/e2e/netns.js) run this file as a process that owns one namespace:

    python -m tests.local.netns serve

prints one JSON line ({"name", "host_ip", "phone_ip", "chromium"}: a wrapper script that
runs Chromium inside the namespace), then answers `connect HOST PORT` lines (a TCP connect
made from inside the namespace: "connected", "ECONNREFUSED", ...) until its stdin closes or
it gets SIGTERM; then it removes the namespace and the wrapper.
"""

from __future__ import annotations

import ctypes
import errno
import ipaddress
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading

CLONE_NEWNET = 0x40000000
_BASE = ipaddress.ip_network("10.213.0.0/16")


def unavailable() -> str | None:
    """Why a namespace cannot be made here, or None."""
    if not sys.platform.startswith("linux"):
        return "network namespaces need Linux"
    if os.geteuid() != 0:
        return "making a network namespace needs root"
    if not shutil.which("ip"):
        return "no `ip` command (install iproute2)"
    return None


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")


def _in_use(network: ipaddress.IPv4Network) -> bool:
    out = subprocess.run(["ip", "-4", "-o", "addr", "show"], capture_output=True, text=True,
                         timeout=30).stdout
    return any(ipaddress.ip_interface(word).network.overlaps(network)
               for line in out.splitlines() for word in line.split()[3:4])


class LanNamespace:
    """A network namespace joined to this machine by a veth pair (see the module docstring)."""

    def __init__(self):
        why = unavailable()
        if why:
            raise RuntimeError(why)
        tag = secrets.token_hex(4)
        self.name = f"tfw-{tag}"
        self._host_link = f"tfwh{tag}"  # interface names: 15 characters at most
        for _ in range(20):
            network = ipaddress.ip_network(f"{_BASE.network_address + 4 * secrets.randbelow(16384)}/30")
            if not _in_use(network):
                break
        else:
            raise RuntimeError("no free /30 in 10.213.0.0/16")
        self.host_ip, self.phone_ip = (str(a) for a in network.hosts())
        self._made = False
        try:
            _ip("netns", "add", self.name)
            self._made = True
            _ip("link", "add", self._host_link, "type", "veth", "peer", "name", f"tfwp{tag}")
            _ip("link", "set", f"tfwp{tag}", "netns", self.name)
            _ip("addr", "add", f"{self.host_ip}/30", "dev", self._host_link)
            _ip("link", "set", self._host_link, "up")
            _ip("-n", self.name, "addr", "add", f"{self.phone_ip}/30", "dev", f"tfwp{tag}")
            _ip("-n", self.name, "link", "set", f"tfwp{tag}", "up")
            _ip("-n", self.name, "link", "set", "lo", "up")
        except Exception:
            self.close()
            raise

    def socket(self, family: int = socket.AF_INET, type: int = socket.SOCK_STREAM) -> socket.socket:
        """A socket made inside the namespace (it stays there whichever thread uses it)."""
        made: list = []

        def enter_and_make():  # this thread alone enters the namespace, then ends
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                fd = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
                try:
                    if libc.setns(fd, CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), "setns failed")
                finally:
                    os.close(fd)
                made.append(socket.socket(family, type))
            except BaseException as err:  # handed to the caller below
                made.append(err)

        t = threading.Thread(target=enter_and_make, name="tfw-netns-socket")
        t.start()
        t.join()
        if isinstance(made[0], BaseException):
            raise made[0]
        return made[0]

    def create_connection(self, address: tuple[str, int], timeout: float | None = None) -> socket.socket:
        """`socket.create_connection`, from inside the namespace (IPv4 addresses only)."""
        s = self.socket()
        try:
            s.settimeout(timeout)
            s.connect(address)
        except BaseException:
            s.close()
            raise
        return s

    def try_connect(self, host: str, port: int, timeout: float = 5.0) -> str:
        """"connected", or the errno name of a TCP connect made from inside the namespace."""
        try:
            self.create_connection((host, port), timeout).close()
            return "connected"
        except socket.timeout:
            return "ETIMEDOUT"
        except OSError as err:
            return errno.errorcode.get(err.errno or 0, str(err))

    def exec_prefix(self) -> list[str]:
        """The command prefix that runs a program inside the namespace."""
        return ["ip", "netns", "exec", self.name]

    def close(self) -> None:
        """Removes the namespace, and with it the veth pair (both ends)."""
        if self._made:
            self._made = False
            subprocess.run(["ip", "netns", "del", self.name], capture_output=True, timeout=30)
        subprocess.run(["ip", "link", "del", self._host_link], capture_output=True, timeout=30)

    def __enter__(self) -> "LanNamespace":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _serve() -> int:
    """Own one namespace for another process (tests/e2e/netns.js): see the module docstring."""
    try:
        lan = LanNamespace()
    except RuntimeError as err:
        print(json.dumps({"unavailable": str(err)}), flush=True)
        return 0
    folder = tempfile.mkdtemp(prefix="tfw-netns-")
    try:
        chromium = os.path.join(folder, "chromium")
        real = os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium"
        with open(chromium, "w") as f:
            f.write(f'#!/bin/sh\nexec ip netns exec {lan.name} {real} "$@"\n')
        os.chmod(chromium, 0o700)
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # runs the finally below
        print(json.dumps({"name": lan.name, "host_ip": lan.host_ip, "phone_ip": lan.phone_ip,
                          "chromium": chromium}), flush=True)
        for line in sys.stdin:
            words = line.split()
            if len(words) == 3 and words[0] == "connect":
                print(lan.try_connect(words[1], int(words[2])), flush=True)
            else:
                print("?", flush=True)
        return 0
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        lan.close()


if __name__ == "__main__":
    if sys.argv[1:] == ["serve"]:
        sys.exit(_serve())
    print("usage: python -m tests.local.netns serve", file=sys.stderr)
    sys.exit(2)
