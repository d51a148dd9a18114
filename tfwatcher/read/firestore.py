"""What every reader of a session shares: reading the session document, the retry policy,
counting the reads Firestore bills, closing the client, finding the project, and saying in one
sentence what stopped a read.

Used by `load` (tfwatcher.load), `export` (tfwatcher export) and `watch` (tfwatcher watch).
Imports `tfwatcher.base` only.
"""

from __future__ import annotations

import math
import threading

from tfwatcher.base import contract, ids

# Documents written before the `schema` field existed are schema 1 (docs/schema.md).
UNMARKED_SCHEMA = 1


class SessionNotFound(LookupError):
    """No session with that ID in the project."""


class NewerSchema(ValueError):
    """The session was written by a newer TF Watcher."""


class ReadCounter:
    """Document reads as Firestore bills them: one per document returned, at least one per
    query (an empty result costs one), one per 1,000 index entries of a count, one per
    document a listener delivers (added or changed).

    Listener callbacks count from the client's threads, so the total sits behind a lock of
    its own; no other lock is ever taken while it is held.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._reads = 0

    @property
    def reads(self) -> int:
        with self._lock:
            return self._reads

    def add(self, n: int) -> None:
        with self._lock:
            self._reads += n

    def query(self, n: int) -> None:
        """A query (or a plain get) that returned `n` documents."""
        self.add(max(1, n))

    def count(self, n: int) -> None:
        """A count query over `n` index entries."""
        self.add(max(1, math.ceil(n / 1000)))

    def delivered(self, changes, docs) -> None:
        """A listener answer: its added or modified documents; an empty first answer costs one."""
        billed = sum(1 for c in changes if getattr(c.type, "name", "") in ("ADDED", "MODIFIED"))
        self.add(billed if (billed or docs) else 1)


def retry_policy(timeout: float):
    """The Google client's retry for one read: transient errors only, backing off to 2 s,
    giving up after `timeout` seconds."""
    from google.api_core import retry as retries

    from tfwatcher.base.access import is_transient

    return retries.Retry(predicate=is_transient, initial=0.2, maximum=2.0, multiplier=2.0,
                         timeout=timeout)


def close(client) -> None:
    """Close a Firestore client, quietly (it may be half-made)."""
    from tfwatcher.base.access import close_quietly

    close_quietly(client)


def fit(values, n: int) -> list:
    """`values` cut or padded (with None) to `n` items: a damaged chunk cannot shift columns."""
    values = list(values or [])[:n]
    return values + [None] * (n - len(values))


def session_ref(client, sid: str):
    """The session document's reference."""
    return client.document(contract.session_path(sid))


def read_session_document(client, sid: str, timeout: float, project: str | None = None) -> dict:
    """The session document's data, read once (retried within `timeout`).

    Raises SessionNotFound when the project has no such session, NewerSchema when a newer
    TF Watcher wrote it.
    """
    snap = session_ref(client, sid).get(retry=retry_policy(timeout), timeout=timeout)
    if not snap.exists:
        where = f" in project {project!r}" if project else ""
        raise SessionNotFound(f"no session {ids.display_id(sid)}{where}: check the ID (or the "
                              f"project: --project, TFWATCHER_PROJECT)")
    session = snap.to_dict() or {}
    schema = session.get("schema", UNMARKED_SCHEMA)
    if isinstance(schema, int) and schema > contract.SCHEMA:
        raise NewerSchema(f"session {ids.display_id(sid)} was written by a newer TF Watcher "
                          f"(schema {schema}; this one reads {contract.SCHEMA}): upgrade tf-watcher")
    return session


def read_pages(collection, page: int, timeout: float, counter: ReadCounter) -> list:
    """Every document (snapshot) of a collection, in ID order, `page` documents per request."""
    from google.cloud.firestore_v1.field_path import FieldPath

    out: list = []
    last = None
    while True:
        query = collection.order_by(FieldPath.document_id()).limit(page)
        if last is not None:
            query = query.start_after(last)
        docs = query.get(retry=retry_policy(timeout), timeout=timeout)
        counter.query(len(docs))
        out.extend(docs)
        if len(docs) < page:
            return out
        last = docs[-1]


def command_inputs(prefix: str, parse, text, timeout: float, project: str | None, err):
    """The checks a reading command starts with: the ID (`parse(text)`), a positive `timeout`, a
    configured project. (ID, Target), or (None, None) once the reason is printed on `err`
    (the command then exits 2)."""
    from tfwatcher.read.untrusted import terminal_text

    try:
        parsed = parse(text)
    except ValueError as e:
        err.print(f"{prefix} {terminal_text(e)}", markup=False)
        return None, None
    if not timeout > 0:
        err.print(f"{prefix} --timeout must be a positive number of seconds; got {timeout:g}")
        return None, None
    target, why = resolve_target(project)
    if target is None:
        err.print(f"{prefix} {terminal_text(why)}", markup=False)
        return None, None
    return parsed, target


def resolve_target(project: str | None):
    """(Target, None), or (None, one sentence saying what to configure)."""
    from tfwatcher.base import access
    from tfwatcher.base import project as projects

    try:
        return projects.resolve(project), None
    except (projects.NotConfigured, ValueError) as e:
        missing = access.missing_key_file()
        why = (f"GOOGLE_APPLICATION_CREDENTIALS names {missing}, which does not exist: point it "
               f"at your service-account key file" if missing else
               str(e) if isinstance(e, ValueError) else
               "no Firebase project configured: pass --project YOUR_PROJECT_ID (or set "
               "TFWATCHER_PROJECT), signed in with GOOGLE_APPLICATION_CREDENTIALS or "
               "`gcloud auth application-default login`")
        return None, why + "."


def describe_error(err: BaseException, project: str | None = None, timeout: float | None = None) -> str:
    """One sentence for what stopped a read, and how to fix it."""
    from tfwatcher.base import access
    from tfwatcher.base.access import first_line, is_transient

    where = f"project {project!r}" if project else "the configured project"
    if isinstance(err, (SessionNotFound, NewerSchema, ValueError, ImportError)) and not _is_google(err):
        return str(err)
    if access._is_credentials_error(err):
        if access.missing_key_file():
            return f"cannot sign in: {access.how_to_sign_in()}."
        return f"no Google credentials were found. To fix it, {_sign_in()}."
    try:
        from google.api_core import exceptions as gexc
    except ImportError:  # pragma: no cover
        gexc = None
    if gexc is not None:
        if isinstance(err, gexc.ServiceUnavailable) and access._refresh_refused(err):
            return f"the credentials were refused: sign in again ({_sign_in()})."
        if isinstance(err, gexc.Unauthenticated):
            return (f"the credentials were not accepted ({first_line(err)}): sign in again "
                    f"({_sign_in()}).")
        if isinstance(err, gexc.PermissionDenied):
            return (f"these credentials may not read Firestore in {where} ({first_line(err)}). "
                    f"Give the account the 'Cloud Datastore User' (or Viewer) role in the Google "
                    f"Cloud console (IAM), or use credentials of that project.")
        if isinstance(err, gexc.NotFound):
            return (f"{where} has no Firestore database, or the project ID is wrong "
                    f"({first_line(err)}). Check --project (or TFWATCHER_PROJECT).")
        if isinstance(err, gexc.FailedPrecondition):
            return f"Firestore in {where} refused the read ({first_line(err)})."
    if is_transient(err):
        within = f" within {timeout:g} s" if timeout else ""
        cause = getattr(err, "cause", None) or err  # a RetryError: say what was retried
        return (f"could not reach Firestore ({where}){within} ({type(cause).__name__}: "
                f"{first_line(cause)}). Check the network (or FIRESTORE_EMULATOR_HOST) and try again.")
    return f"reading the session failed ({type(err).__name__}: {first_line(err)})."


def _sign_in() -> str:
    """How to sign in, for a reader (the writer's advice names `credentials=`)."""
    from tfwatcher.base import access

    if access.environment() != "other" or access.missing_key_file():
        return access.how_to_sign_in()
    return ("set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, or run "
            "`gcloud auth application-default login`")


def _is_google(err: BaseException) -> bool:
    return type(err).__module__.startswith(("google.", "grpc"))
