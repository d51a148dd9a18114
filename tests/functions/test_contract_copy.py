"""The functions read the package's data contract (issue 17): a committed copy beside
tfw_functions/contract.py (what `firebase deploy` from a checkout uploads), byte-identical to
tfwatcher/base/contract.json; else, in a checkout, that file itself."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

from tfwatcher.base import contract as package_contract

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "tfwatcher" / "base" / "contract.json"
COPY = ROOT / "functions" / "tfw_functions" / "contract.json"
MODULE = ROOT / "functions" / "tfw_functions" / "contract.py"


def load_module(path: Path, name: str = "_contract_under_test"):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_copy_is_the_contract_byte_for_byte():
    assert COPY.read_bytes() == SOURCE.read_bytes(), (
        "functions/tfw_functions/contract.json differs from tfwatcher/base/contract.json: "
        "cp tfwatcher/base/contract.json functions/tfw_functions/contract.json")


def test_without_a_copy_a_checkout_reads_the_package_file(tmp_path):
    here = tmp_path / "functions" / "tfw_functions"
    here.mkdir(parents=True)
    shutil.copy(MODULE, here / "contract.py")
    (tmp_path / "tfwatcher" / "base").mkdir(parents=True)
    shutil.copy(SOURCE, tmp_path / "tfwatcher" / "base" / "contract.json")
    assert load_module(here / "contract.py").CONTRACT == package_contract.CONTRACT


def test_without_any_contract_the_functions_say_how_to_deploy(tmp_path):
    here = tmp_path / "functions" / "tfw_functions"
    here.mkdir(parents=True)
    shutil.copy(MODULE, here / "contract.py")
    with pytest.raises(FileNotFoundError, match="tfwatcher deploy --functions"):
        load_module(here / "contract.py")


def test_statuses_stall_time_and_collections_come_from_the_contract():
    from tfw_functions import config, contract, notify

    assert contract.CONTRACT == package_contract.CONTRACT
    assert notify.STATUS_EVENTS == package_contract.NOTIFIED_STATUSES
    assert config.DEFAULT_STALL_MINUTES * 60 == package_contract.STALL_MARKED_AFTER == 600
    assert config.stall_minutes() == 10
    assert contract.COLLECTIONS == package_contract.COLLECTIONS
