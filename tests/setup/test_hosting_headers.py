"""The deployed Hosting headers (firebase.json) keep the page from being framed, re-based or
posting forms elsewhere (issue 20, item 9): the same three directives the local server sends.
"""
import json
from pathlib import Path

FIREBASE_JSON = Path(__file__).resolve().parents[2] / "firebase.json"


def _policy():
    hosting = json.loads(FIREBASE_JSON.read_text())["hosting"]
    (everything,) = [h for h in hosting["headers"] if h["source"] == "**"]
    sent = {h["key"]: h["value"] for h in everything["headers"]}
    return {d.split()[0]: d.split()[1:] for d in sent["Content-Security-Policy"].split(";") if d.strip()}


def test_csp_forbids_framing_base_and_foreign_forms():
    policy = _policy()
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]


def test_csp_runs_only_own_scripts():
    policy = _policy()
    assert policy["script-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
