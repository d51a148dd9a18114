"""What `firebase deploy` will see: the functions, their triggers and parameters."""

from __future__ import annotations

import yaml
from firebase_functions.private import serving

from .support import FUNCTIONS_DIR


def test_deploy_manifest(functions_main):
    names = ("notifysession", "sweepstalled", "purgeexpired", "retrynotify")
    manifest = yaml.safe_load(serving.functions_as_yaml(
        {name: getattr(functions_main, name) for name in names}))
    endpoints = manifest["endpoints"]
    assert sorted(endpoints) == sorted(names)
    notify = endpoints["notifysession"]["eventTrigger"]
    assert notify["eventType"] == "google.cloud.firestore.document.v1.updated"
    assert notify["eventFilterPathPatterns"] == {"document": "sessions/{sid}"}
    # The SDK deploys Firestore triggers without platform retry: retrynotify does it.
    assert endpoints["retrynotify"]["scheduleTrigger"]["schedule"] == "every 5 minutes"
    assert endpoints["sweepstalled"]["scheduleTrigger"]["schedule"] == "every 5 minutes"
    assert endpoints["purgeexpired"]["scheduleTrigger"]["schedule"] == "every 24 hours"
    params = {p["name"]: p for p in manifest["params"]}
    assert params["TFWATCHER_STALL_MINUTES"]["default"] == 10
    assert params["TFWATCHER_RETENTION_DAYS"]["default"] == 30
    assert params["TFWATCHER_APP_URL"]["default"] == ""


def test_requirements_are_pinned():
    lines = [line.strip() for line in (FUNCTIONS_DIR / "requirements.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert "firebase-functions==0.6.0" in lines
    assert all("==" in line for line in lines)


def test_dotenv_sets_every_param(functions_main):
    env = {}
    for line in (FUNCTIONS_DIR / ".env").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            env[key.strip()] = value.strip()
    assert env == {"TFWATCHER_STALL_MINUTES": "10", "TFWATCHER_RETENTION_DAYS": "30",
                   "TFWATCHER_APP_URL": ""}
