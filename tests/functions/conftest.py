"""Fixtures for the Cloud Functions tests: the real Firestore emulator, FCM mocked.

`functions/` is not a package of the project, so it goes on sys.path here; `main.py` is
loaded once under a unique module name (its params register globally and may be declared
only once per process).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"
if str(FUNCTIONS) not in sys.path:
    sys.path.insert(0, str(FUNCTIONS))

PROJECT = "demo-tfwatcher"


@pytest.fixture(scope="session")
def firebase_app(emulator):
    """The default firebase_admin app, pointed at the emulator's project."""
    import firebase_admin
    from firebase_admin import credentials
    from google.auth.credentials import AnonymousCredentials

    class Offline(credentials.Base):
        """A credential that never touches the network (the emulator ignores auth)."""

        def get_credential(self):
            return AnonymousCredentials()

    if firebase_admin._apps:  # pylint: disable=protected-access
        app = firebase_admin.get_app()
    else:
        app = firebase_admin.initialize_app(Offline(), options={"projectId": emulator.project})
    assert app.project_id == emulator.project
    yield app


@pytest.fixture(scope="session")
def functions_main(firebase_app):
    """functions/main.py, imported once."""
    name = "tfwatcher_functions_main"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, FUNCTIONS / "main.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def fdb(db, functions_main):
    """The emptied emulator database, also installed as the triggers' client."""
    old = functions_main._db
    functions_main._db = db
    yield db
    functions_main._db = old

