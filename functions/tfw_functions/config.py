"""Configuration values for the functions: parsing, validation and defaults."""

from __future__ import annotations

from . import contract

# The contract's stall rule (stall.marked_after_seconds): 10 minutes without a heartbeat.
DEFAULT_STALL_MINUTES = round(contract.STALL_MARKED_AFTER / 60)
DEFAULT_RETENTION_DAYS = 30

STALL_MINUTES_ENV = "TFWATCHER_STALL_MINUTES"
RETENTION_DAYS_ENV = "TFWATCHER_RETENTION_DAYS"
APP_URL_ENV = "TFWATCHER_APP_URL"


def positive_number(value, default: float, name: str) -> float:
    """`value` as a positive number; `default` when unset (None or ""). Bad values raise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a positive number, not {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, not {value!r}") from None
    if not number > 0 or number == float("inf"):
        raise ValueError(f"{name} must be a positive number, not {value!r}")
    return number


def stall_minutes(value=None) -> float:
    """Minutes without a heartbeat after which a running session counts as stalled."""
    return positive_number(value, DEFAULT_STALL_MINUTES, STALL_MINUTES_ENV)


def retention_days(value=None) -> float:
    """Days after its last activity that a session is deleted."""
    return positive_number(value, DEFAULT_RETENTION_DAYS, RETENTION_DAYS_ENV)


def app_url(configured: str | None, project: str | None) -> str:
    """Base URL of the dashboard, without a trailing slash.

    `configured` (TFWATCHER_APP_URL) wins; otherwise the project's default Hosting site,
    `https://{project}.web.app`.
    """
    url = (configured or "").strip()
    if not url:
        if not project:
            raise ValueError(f"set {APP_URL_ENV}: no project ID to derive the Hosting URL from")
        url = f"https://{project}.web.app"
    if "://" not in url:
        url = "https://" + url
    return url.rstrip("/")
