"""The gRPC-only fallback emulator (npm @firestore-emulator/server) for machines without
Google's: the data path works on it (the logging API's tests pass), and it says loudly that
rules are not enforced."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tfwatcher.local.emulator import Emulator, EmulatorNotFound, find_fallback

ROOT = Path(__file__).resolve().parents[2]


def test_fallback_serves_the_data_path(tmp_path):
    try:
        find_fallback()
    except EmulatorNotFound:
        pytest.skip("tests/fallback is not installed (npm ci in tests/fallback)")
    env = {**os.environ, "TFWATCHER_EMULATOR_KIND": "fallback", "TFWATCHER_HOME": str(tmp_path)}
    env.pop("FIRESTORE_EMULATOR_HOST", None)
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
                             "tests/record/test_session.py"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=300)
    assert "gRPC-only fallback" in result.stdout and "NOT enforced" in result.stdout
    assert result.returncode == 0, result.stdout[-3000:]
    assert " passed" in result.stdout


def test_fallback_refuses_what_it_cannot_do(monkeypatch):
    try:
        find_fallback()
    except EmulatorNotFound:
        pytest.skip("tests/fallback is not installed (npm ci in tests/fallback)")
    monkeypatch.setenv("TFWATCHER_EMULATOR_KIND", "fallback")
    with Emulator() as emu:
        assert emu.kind == "fallback"
        with pytest.raises(NotImplementedError, match="security rules"):
            emu.load_rules(ROOT / "firestore.rules")
        emu.clear()
    monkeypatch.setenv("TFWATCHER_EMULATOR_KIND", "official")
    monkeypatch.setenv("TFWATCHER_FALLBACK_EMULATOR", "/nonexistent")
    assert Emulator(fallback=False).fallback is False
