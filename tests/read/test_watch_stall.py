"""`tfwatcher watch` judges "stalled" against the heartbeat period the session declares
(issue 18): MISSED_HEARTBEATS periods of silence, never sooner than STALL_SHOWN_AFTER. Pure:
the view model and the rendered frame of a listener's snapshot."""

from __future__ import annotations

import io

import pytest

from tfwatcher.base import contract
from tfwatcher.read import watch_view

NOW = 1_800_000_000.0


def snapshot(silence: float, status: str = "running", **session) -> dict:
    """A listener's snapshot of a session last heard from `silence` seconds before NOW."""
    return {"sid": "", "session": {"status": status, "mode": "fit", "heartbeat": NOW - silence,
                                   **session},
            "epochs": [], "chunks": [], "kind": "train", "reads": 0}


def model(silence: float, status: str = "running", **session) -> dict:
    return watch_view.view_model(snapshot(silence, status, **session), now=NOW)


def frame(silence: float, **session) -> str:
    from rich.console import Console

    console = Console(file=io.StringIO(), width=100)
    console.print(watch_view.render(model(silence, **session), 100))
    return console.file.getvalue()


def declaring(period) -> dict:
    return {contract.HEARTBEAT_FIELD: period}


def test_a_run_with_heartbeat_180_is_not_stalled_between_heartbeats():
    assert contract.MISSED_HEARTBEATS * 180 == 540
    quiet = model(200, **declaring(180))
    assert quiet["stall_after"] == 540
    assert quiet["stalled"] is False
    assert "stalled?" not in frame(200, **declaring(180))
    assert model(530, **declaring(180))["stalled"] is False


def test_a_run_with_heartbeat_180_is_stalled_after_three_missed():
    assert model(600, **declaring(180))["stalled"] is True
    assert "stalled?" in frame(600, **declaring(180))


def test_the_unwatched_cadence_shows_no_false_stall():
    unwatched = contract.ATTENTION["unwatched_round_seconds"]
    limit = contract.MISSED_HEARTBEATS * unwatched
    assert model(unwatched + 60, **declaring(unwatched))["stalled"] is False
    assert model(limit - 1, **declaring(unwatched))["stalled"] is False
    assert model(limit + 1, **declaring(unwatched))["stalled"] is True


@pytest.mark.parametrize("declared", [None, 10, 0, -5, "180", [180]])
def test_a_short_or_missing_period_keeps_the_contracts_shown_after(declared):
    session = {} if declared is None else declaring(declared)
    shown = contract.STALL_SHOWN_AFTER
    assert model(shown - 1, **session)["stalled"] is False
    assert model(shown + 1, **session)["stalled"] is True


@pytest.mark.parametrize("status", ["new", "finished", "crashed", "stopped", "stalled"])
def test_only_a_running_session_is_suggested_stalled(status):
    assert model(3600, status, **declaring(180))["stalled"] is False
