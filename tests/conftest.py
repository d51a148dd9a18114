"""Shared fixtures: one real Firestore emulator for the whole run, a clean database per test."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Spool files and local-mode state of the tests stay out of the user's ~/.tfwatcher, and a
# session left open by a test does not hold the interpreter's exit for long.
os.environ["TFWATCHER_HOME"] = tempfile.mkdtemp(prefix="tfwatcher-tests-")
os.environ.setdefault("TFWATCHER_EXIT_TIMEOUT", "2")
# The writer's system samples (kind `system`) are tested in test_config_system.py; elsewhere
# (and in the subprocesses tests start) they would add points the tests do not count.
os.environ["TFWATCHER_SYSTEM_METRICS"] = "0"

import pytest  # noqa: E402

from tfwatcher.local.emulator import Emulator, EmulatorNotFound  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="session")
def emulator():
    """The official Firestore emulator, started once, with the project's rules loaded."""
    rules = Path(os.environ.get("TFWATCHER_TEST_RULES", ROOT / "firestore.rules"))
    ARTIFACTS.mkdir(exist_ok=True)
    emu = Emulator(rules=rules if rules.exists() else None,
                   log_path=str(ARTIFACTS / "firestore-emulator.log"))
    try:
        emu.start()
    except EmulatorNotFound as err:  # pragma: no cover - depends on the machine
        pytest.fail(str(err))
    if emu.kind != "official":
        print("\n*** Google's Firestore emulator not found: using the gRPC-only fallback "
              "(tests/fallback). Security rules are NOT enforced in this run. ***\n")
    old = {k: os.environ.get(k) for k in emu.env()}
    os.environ.update(emu.env())
    yield emu
    # Sessions a test left open end here, while the emulator still answers.
    from tfwatcher.record import session as session_module

    for s in list(session_module._SESSIONS):
        if s.status == "running":
            s.finish("stopped")
        if s.writer is not None and not s.writer.disabled:
            s.flush(5)
    emu.stop()
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture
def db(emulator):
    """A Firestore client on an empty emulator database."""
    from google.cloud import firestore

    emulator.clear()
    client = firestore.Client(project=emulator.project)
    yield client
    client.close()


@pytest.fixture(autouse=True)
def fresh_shared_session(monkeypatch):
    """Callbacks share the process's open session; each test starts without one."""
    import tfwatcher.record.session as session_module

    monkeypatch.setattr(session_module, "_shared", None)
    monkeypatch.setenv("TFWATCHER_QR", "0")
    yield
