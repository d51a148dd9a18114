"""Access problems (credentials, permissions, a missing database): which errors are
permanent, and one message that names the fix for the environment the user is in.

A permanent error stops sending (retrying cannot help) and switches the writer to the spool;
anything else (no network, a slow or overloaded server) is retried. A request over a size
limit is neither (`is_too_large`): the writer splits it. A used-up quota (`is_quota`: the free
plan's daily writes) is retried too, but gently, until it resets at midnight Pacific
(`quota_message` says so). `classify` says which. Credentials that cannot be found, read or
refreshed are permanent; a token refresh that failed for lack of network is not.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

SYNC_HINT = "then run `tfwatcher sync` to upload what this run saved"


def environment() -> str:
    """`colab`, `kaggle` or `other`: where the fix for missing credentials differs."""
    if "google.colab" in sys.modules or os.environ.get("COLAB_RELEASE_TAG"):
        return "colab"
    if os.environ.get("KAGGLE_KERNEL_RUN_TYPE") or os.environ.get("KAGGLE_URL_BASE"):
        return "kaggle"
    return "other"


def missing_key_file() -> str | None:
    """The path GOOGLE_APPLICATION_CREDENTIALS names, if that file does not exist."""
    path = os.environ.get("GOOGLE_APPLICATION_CREDENTIALS")
    if path and not Path(path).is_file():
        return path
    return None


def how_to_sign_in() -> str:
    """The fix for missing credentials, for the environment detected."""
    path = missing_key_file()
    if path:
        return (f"GOOGLE_APPLICATION_CREDENTIALS names {path}, which does not exist: point it at "
                f"your service-account key file (or unset it and use another way to sign in)")
    env = environment()
    if env == "colab":
        return ("in Colab, run `from google.colab import auth; auth.authenticate_user()` in a "
                "cell before creating the callback")
    if env == "kaggle":
        return ("on Kaggle, add your service-account key as a secret (Add-ons > Secrets) and "
                "pass it: `credentials=json.loads(UserSecretsClient().get_secret(NAME))`")
    return ("set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, pass "
            "credentials='key.json', or run `gcloud auth application-default login`")


def _is_credentials_error(err: BaseException) -> bool:
    try:
        from google.auth import exceptions as auth
    except ImportError:  # pragma: no cover - google-auth comes with the client
        return False
    if isinstance(err, auth.DefaultCredentialsError):
        return True
    if isinstance(err, auth.RefreshError):
        return not getattr(err, "retryable", False)
    return False


def is_permanent(err: BaseException) -> bool:
    """True if retrying cannot help: the user must fix access first."""
    from google.api_core import exceptions as gexc

    if _is_credentials_error(err):
        return True
    if isinstance(err, gexc.ServiceUnavailable) and _refresh_refused(err):
        return True
    return isinstance(err, (gexc.PermissionDenied, gexc.NotFound, gexc.Unauthenticated,
                            gexc.InvalidArgument, gexc.FailedPrecondition))


def is_too_large(err: BaseException) -> bool:
    """A request over a size limit: the emulator's "gRPC message exceeds maximum size"
    (RESOURCE_EXHAUSTED), production's "Request payload size exceeds the limit" or
    "Transaction too big" (INVALID_ARGUMENT), or one document over 1 MiB ("... exceeds the
    maximum allowed size"). Retrying it whole can never succeed, and it says nothing about
    access, so it must be neither retried as is nor taken as permanent."""
    text = str(err).lower()
    return ("exceeds" in text and ("size" in text or "limit" in text)) or "too big" in text


def is_quota(err: BaseException) -> bool:
    """RESOURCE_EXHAUSTED for a quota ("Quota exceeded."): on the free Spark plan, the day's
    writes are used up and every write fails until midnight Pacific. (The emulator's
    RESOURCE_EXHAUSTED for an oversized message is `is_too_large`, tested first.)"""
    from google.api_core import exceptions as gexc

    return isinstance(err, gexc.ResourceExhausted) and "quota" in str(err).lower()


def classify(err: BaseException) -> str:
    """What an error means for the writer: `too_large` (split the commit; one document alone:
    make it smaller), `permanent` (stop sending, spool), `quota` (keep everything, probe
    gently until it resets), `transient` (retry with backoff), or `other` (a bug: retry later)."""
    if is_too_large(err):
        return "too_large"
    if is_permanent(err):
        return "permanent"
    if is_quota(err):
        return "quota"
    if is_transient(err):
        return "transient"
    return "other"


def _refresh_refused(err: BaseException) -> bool:
    """gRPC reports a token refresh the server refused (revoked or invalid credentials) as
    UNAVAILABLE "Getting metadata from plugin failed": permanent, unlike a network error."""
    text = str(err)
    return "Getting metadata from plugin failed" in text and any(
        word in text for word in ("invalid_grant", "invalid_client", "unauthorized_client",
                                  "Reauthentication", "account not found"))


def explain(err: BaseException, project: str | None = None) -> str:
    """One message: what went wrong, how to fix it, and how to check the setup."""
    return f"{_explain(err, project)} Run `tfwatcher doctor` to check the setup."


def _explain(err: BaseException, project: str | None = None) -> str:
    from google.api_core import exceptions as gexc

    where = f"project {project!r}" if project else "the configured project"
    if _is_credentials_error(err):
        if isinstance(err, getattr(sys.modules.get("google.auth.exceptions"), "RefreshError", ())):
            return (f"the credentials were refused when refreshed ({_first_line(err)}): sign in "
                    f"again ({how_to_sign_in()}), {SYNC_HINT}.")
        if missing_key_file():  # the fix names the file: no "no credentials were found"
            return f"{how_to_sign_in()}; {SYNC_HINT}."
        return f"no Google credentials were found. To fix it, {how_to_sign_in()}; {SYNC_HINT}."
    if isinstance(err, gexc.ServiceUnavailable) and _refresh_refused(err):
        return (f"the credentials were refused ({_first_line(err)}): sign in again "
                f"({how_to_sign_in()}), {SYNC_HINT}.")
    if isinstance(err, gexc.Unauthenticated):
        return (f"the credentials were not accepted ({_first_line(err)}). Sign in again "
                f"({how_to_sign_in()}), {SYNC_HINT}.")
    if isinstance(err, gexc.PermissionDenied):
        return (f"these credentials may not write to Firestore in {where} ({_first_line(err)}). "
                f"Give the account the 'Cloud Datastore User' role in the Google Cloud console "
                f"(IAM), or use credentials of that project; {SYNC_HINT}.")
    if isinstance(err, gexc.NotFound):
        return (f"{where} has no Firestore database, or the project ID is wrong "
                f"({_first_line(err)}). Create the database (Firebase console > Firestore "
                f"Database) or correct the project; {SYNC_HINT}.")
    return f"Firestore refused the writes ({type(err).__name__}: {_first_line(err)}); {SYNC_HINT}."


def first_line(err: BaseException) -> str:
    """An error's first line, at most 200 characters (its type's name if it has no text)."""
    text = str(err).strip().splitlines()
    return (text[0] if text else type(err).__name__)[:200]


_first_line = first_line


def close_quietly(client) -> None:
    """Close a Firestore client (its channels and threads); closing is best effort."""
    close = getattr(client, "close", None)
    if close is not None:
        try:
            close()
        except Exception:
            pass


def is_transient(err: BaseException) -> bool:
    """An error worth retrying: the network, a timeout, an overloaded or restarting server."""
    from google.api_core import exceptions as gexc

    try:
        from google.auth.exceptions import TransportError
    except ImportError:  # pragma: no cover - google-auth comes with the client
        TransportError = ()
    return isinstance(err, (gexc.ServiceUnavailable, gexc.DeadlineExceeded, gexc.InternalServerError,
                            gexc.Aborted, gexc.ResourceExhausted, gexc.Unknown, gexc.RetryError,
                            TransportError, TimeoutError, ConnectionError))


# The free (Spark) plan's daily quotas reset at midnight Pacific time (Firebase's pricing page).
QUOTA_TIMEZONE = "America/Los_Angeles"


def until_quota_reset(now: float | None = None) -> float:
    """Seconds from `now` (time.time(); default now) to the next midnight Pacific time."""
    import datetime as dt
    import time

    now = time.time() if now is None else now
    try:
        from zoneinfo import ZoneInfo

        tz = ZoneInfo(QUOTA_TIMEZONE)
    except Exception:  # no time zone database here: Pacific standard time (a DST day is 1 h off)
        tz = dt.timezone(dt.timedelta(hours=-8))
    local = dt.datetime.fromtimestamp(now, tz)
    midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(0), tzinfo=tz)
    return max(0.0, midnight.timestamp() - now)


def quota_message(spool_path, now: float | None = None) -> str:
    """The one message for a used-up write quota: which quota, when it resets, that nothing is
    lost and where it is kept, and how to avoid it."""
    left = until_quota_reset(now)
    hours, minutes = int(left // 3600), int(left % 3600 // 60)
    return (f"Firestore refused the writes: the project's daily quota of document writes is used "
            f"up (on the free Spark plan, 20,000 writes a day). It resets at midnight Pacific "
            f"time, in {hours} h {minutes:02d} min. Nothing is lost: training goes on, what this "
            f"run logs is kept (in memory, and beyond that in {spool_path}), writes are tried "
            f"again every few minutes, and everything is sent, in order, by itself once they are "
            f"accepted. To make the free quota last: log less often (a larger `interval=`, e.g. "
            f"`interval=10`), keep fewer dashboards open on it, or move the project to the "
            f"Blaze (pay-as-you-go) plan.")
