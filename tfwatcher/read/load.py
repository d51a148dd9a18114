"""A session back into Python: `tfwatcher.load(sid)` and `tfwatcher export`.

    import tfwatcher
    run = tfwatcher.load("x7kq2m-9hfw4c-pd3ntr")     # any form of the ID, or a share link
    run.epochs      # pandas DataFrame: one row per epoch record
    run.batches     # pandas DataFrame: every batch point, full resolution
    run.session     # the session document, as a dict
    run.to_csv("out/")                                 # epochs.csv, batches.csv, session.json

pandas is an optional extra (`pip install "tf-watcher[data]"`); Parquet also needs pyarrow
(`pip install "tf-watcher[parquet]"`). Reads cost 1 + E + C document reads (E epoch records,
C batch chunks of ~500 points each): see docs/data.md.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

from tfwatcher.base import ids

#: Columns that come before the metrics; a metric with one of these names is renamed
#: `metric:NAME` so nothing is overwritten.
EPOCH_COLUMNS = ("kind", "epoch", "step", "seconds", "avg_seconds", "time")
BATCH_COLUMNS = ("kind", "step", "epoch", "batch", "seconds", "time")
EPOCH_KINDS = ("train", "evaluate", "predict")
BATCH_KINDS = ("train", "test", "predict")
SCHEMA = 2  # schema 2 adds summaries and tables beside what schema 1 had: read alike here
PAGE_CHUNKS = 50      # batch chunks per request (up to ~700 KB each, usually ~100 KB)
PAGE_EPOCHS = 1000    # epoch records per request (~1 KB each)
PAGE_TIMEOUT = 120.0  # seconds one page may take, retries included
DATA_HINT = 'pip install "tf-watcher[data]"'
PARQUET_HINT = 'pip install "tf-watcher[parquet]"'


class SessionNotFound(LookupError):
    """No session with that ID in the project."""


class NewerSchema(ValueError):
    """The session was written by a newer TF Watcher."""


def require_pandas():
    try:
        import pandas
    except ImportError:
        raise ImportError(f"tfwatcher.load needs pandas, an optional extra: {DATA_HINT}") from None
    return pandas


class ReadCounter:
    """Document reads as Firestore bills them: one per document returned, at least one per
    query (an empty result costs one), one per 1,000 index entries of a count, one per
    document a listener delivers (added or changed)."""

    def __init__(self):
        self.reads = 0

    def query(self, n: int) -> None:
        self.reads += max(1, n)

    def count(self, n: int) -> None:
        self.reads += max(1, math.ceil(n / 1000))


class Run:
    """A session read back: `session` (dict), `epochs`, `batches` and `system` (DataFrames;
    `system` holds the writer's system samples, kind `system`, apart from the batch points)."""

    def __init__(self, sid: str, project: str, session: dict, epoch_docs: list[dict],
                 chunk_docs: list[dict], reads: int):
        self.id = sid
        self.project = project
        self.session = session
        self.reads = reads
        self.chunks = len(chunk_docs)
        #: (kind, index) of chunks whose points were thinned while the network was down
        self.thinned = [(c.get("kind"), c.get("index")) for c in chunk_docs if c.get("thinned")]
        self.metrics = list(session.get("metrics") or [])
        self.epochs = epochs_frame(epoch_docs, self.metrics)
        self.batches = batches_frame([c for c in chunk_docs if c.get("kind") != "system"], self.metrics)
        self.system = batches_frame([c for c in chunk_docs if c.get("kind") == "system"])

    @property
    def status(self) -> str | None:
        return self.session.get("status")

    @property
    def name(self) -> str:
        return self.session.get("name") or ""

    def to_csv(self, folder) -> list[Path]:
        """Write epochs.csv, batches.csv, system.csv (if sampled) and session.json into
        `folder` (made if needed).
        Missing values and stored NaN are empty cells; ±inf is `inf`/`-inf`."""
        return self._write(folder, "csv")

    def to_parquet(self, folder) -> list[Path]:
        """Write epochs.parquet, batches.parquet and session.json (needs pyarrow)."""
        require_parquet()
        return self._write(folder, "parquet")

    def _write(self, folder, fmt: str) -> list[Path]:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        frames = [("epochs", self.epochs), ("batches", self.batches)]
        if len(self.system):
            frames.append(("system", self.system))
        for name, frame in frames:
            path = folder / f"{name}.{fmt}"
            if fmt == "csv":
                frame.to_csv(path, index=False)
            else:
                frame.to_parquet(path, index=False)
            paths.append(path)
        path = folder / "session.json"
        path.write_text(json.dumps({"id": self.id, "project": self.project, **self.session},
                                   default=_json_default, indent=2, allow_nan=True) + "\n",
                        encoding="utf-8")
        paths.append(path)
        return paths

    def __repr__(self) -> str:
        return (f"<tfwatcher.Run {ids.display_id(self.id)} {self.status} {self.name!r}: "
                f"{len(self.epochs)} epoch records, {len(self.batches)} batch points>")


def load_reads(epochs: int, chunks: int, page_epochs: int | None = None,
               page_chunks: int | None = None) -> int:
    """Document reads `load` makes for a session with `epochs` epoch records and `chunks` batch
    chunks: 1 + epochs + chunks, plus one for an empty collection (a query returning nothing
    costs one read) or one that fills its last page exactly (the empty page that ends it)."""
    def pages(n, size):
        return max(1, n) + (1 if n and n % size == 0 else 0)

    return 1 + pages(epochs, page_epochs or PAGE_EPOCHS) + pages(chunks, page_chunks or PAGE_CHUNKS)


def require_parquet():
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise ImportError(f"Parquet files need pyarrow, an optional extra: {PARQUET_HINT}") from None


def _json_default(value):
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def load(sid: str, project: str | None = None, credentials=None, timeout: float = 10.0) -> Run:
    """Read a whole session back: its document, every epoch record and every batch point.

    Args:
        sid: the session ID in any form (`x7kq2m-9hfw4c-pd3ntr`, upper case, spaces) or a
            share or owner link.
        project, credentials: as for `tfwatcher.Session` (default: the environment, a running
            `tfwatcher local`, then Application Default Credentials).
        timeout: seconds the first read may take, retries included; a host that cannot be
            reached fails within it. Later pages of a long run get more time each.

    Raises ImportError without pandas, ValueError for a malformed ID, SessionNotFound
    (a LookupError) for an ID the project does not hold, NewerSchema for a session written
    by a newer TF Watcher, and google.api_core / google.auth errors for access problems
    (`describe_error` turns them into one sentence).
    """
    require_pandas()
    sid = ids.parse(sid)
    from tfwatcher.base import project

    target = project.resolve(project, credentials)
    client = target.client()
    try:
        session, epochs, chunks, reads = read_session(client, sid, timeout=timeout,
                                                      project=target.project)
    finally:
        _close(client)
    return Run(sid, target.project, session, epochs, chunks, reads)


def _retry(timeout: float):
    from google.api_core import retry as retries

    from tfwatcher.base.access import is_transient

    return retries.Retry(predicate=is_transient, initial=0.2, maximum=2.0, multiplier=2.0,
                         timeout=timeout)


def read_session(client, sid: str, timeout: float = 10.0, project: str | None = None,
                 counter: ReadCounter | None = None):
    """(session dict, epoch docs, chunk docs, reads) for `sid`, chunks sorted by kind and index."""
    counter = counter or ReadCounter()
    root = client.document(f"sessions/{sid}")
    snap = root.get(retry=_retry(timeout), timeout=timeout)
    counter.query(1)
    if not snap.exists:
        where = f" in project {project!r}" if project else ""
        raise SessionNotFound(f"no session {ids.display_id(sid)}{where}: check the ID (or the "
                              f"project: --project, TFWATCHER_PROJECT)")
    session = snap.to_dict() or {}
    schema = session.get("schema", 1)
    if isinstance(schema, int) and schema > SCHEMA:
        raise NewerSchema(f"session {ids.display_id(sid)} was written by a newer TF Watcher "
                          f"(schema {schema}; this one reads {SCHEMA}): upgrade tf-watcher")
    page_timeout = max(timeout, PAGE_TIMEOUT)
    epochs = _read_all(root.collection("epochs"), PAGE_EPOCHS, page_timeout, counter)
    chunks = _read_all(root.collection("batches"), PAGE_CHUNKS, page_timeout, counter)
    chunks.sort(key=lambda c: (_kind_order(c.get("kind"), BATCH_KINDS), c.get("index", 0)))
    return session, epochs, chunks, counter.reads


def _read_all(collection, page: int, timeout: float, counter: ReadCounter) -> list[dict]:
    """Every document of a collection, in ID order, `page` documents per request."""
    from google.cloud.firestore_v1.field_path import FieldPath

    out: list[dict] = []
    last = None
    while True:
        query = collection.order_by(FieldPath.document_id()).limit(page)
        if last is not None:
            query = query.start_after(last)
        docs = query.get(retry=_retry(timeout), timeout=timeout)
        counter.query(len(docs))
        out.extend(d.to_dict() or {} for d in docs)
        if len(docs) < page:
            return out
        last = docs[-1]


def _kind_order(kind, kinds) -> int:
    return kinds.index(kind) if kind in kinds else len(kinds)


def _column_names(fixed, names):
    """Map each metric name to its column (renamed `metric:NAME` if it would clash)."""
    taken = set(fixed)
    out = {}
    for name in names:
        column = name if name not in taken else f"metric:{name}"
        while column in taken:
            column = f"metric:{column}"
        taken.add(column)
        out[name] = column
    return out


def _ordered_names(seen: dict, preferred: list[str]) -> list[str]:
    """Metric names: the session's first-seen order, then any others as found."""
    return [n for n in preferred if n in seen] + [n for n in seen if n not in set(preferred)]


def _fit(values, n: int) -> list:
    """`values` cut or padded (with None) to `n` items: a damaged chunk cannot shift columns."""
    values = list(values or [])[:n]
    return values + [None] * (n - len(values))


def _num(value):
    return math.nan if value is None else value


def epochs_frame(docs: list[dict], metrics: list[str] | None = None):
    """One row per epoch record (train epochs, then evaluate and predict calls)."""
    pd = require_pandas()
    docs = sorted(docs, key=lambda d: (_kind_order(d.get("kind"), EPOCH_KINDS),
                                       d.get("epoch") or 0))
    seen: dict[str, None] = {}
    for d in docs:
        for name in d.get("names") or []:
            seen.setdefault(name, None)
    names = _ordered_names(seen, metrics or [])
    columns = _column_names(EPOCH_COLUMNS, names)
    data: dict[str, list] = {c: [] for c in EPOCH_COLUMNS}
    data.update({columns[n]: [] for n in names})
    for d in docs:
        data["kind"].append(d.get("kind", "train"))
        data["epoch"].append(d.get("epoch"))
        data["step"].append(d.get("step"))
        for key in ("seconds", "avg_seconds", "time"):
            data[key].append(_num(d.get(key)))
        values = dict(zip(d.get("names") or [], d.get("values") or []))
        for n in names:
            data[columns[n]].append(_num(values.get(n)))
    frame = pd.DataFrame(data)
    for key in ("seconds", "avg_seconds", "time", *columns.values()):
        frame[key] = frame[key].astype("float64")
    for key in ("epoch", "step"):
        frame[key] = _ints(pd, frame[key])
    frame["kind"] = frame["kind"].astype(object)
    return frame


def batches_frame(chunks: list[dict], metrics: list[str] | None = None):
    """Every batch point of every chunk, sorted by kind (train, test, predict) then step."""
    pd = require_pandas()
    import numpy as np

    seen: dict[str, None] = {}
    for c in chunks:
        for s in c.get("series") or []:
            seen.setdefault(s["name"], None)
    names = _ordered_names(seen, metrics or [])
    columns = _column_names(BATCH_COLUMNS, names)
    data: dict[str, list] = {c: [] for c in BATCH_COLUMNS}
    data.update({columns[n]: [] for n in names})
    order: list[int] = []
    for c in chunks:
        n = c.get("n", len(c.get("step") or []))
        data["kind"].extend([c.get("kind", "train")] * n)
        order.extend([_kind_order(c.get("kind"), BATCH_KINDS)] * n)
        for key in ("step", "epoch", "batch"):
            data[key].extend(_fit(c.get(key), n))
        for key in ("seconds", "time"):
            data[key].extend(_num(v) for v in _fit(c.get(key), n))
        series = {s["name"]: s.get("values") for s in c.get("series") or []}
        for name in names:
            data[columns[name]].extend(_num(v) for v in _fit(series.get(name), n))
    frame = pd.DataFrame(data)
    for key in ("seconds", "time", *columns.values()):
        frame[key] = frame[key].astype("float64")
    for key in ("step", "epoch", "batch"):
        frame[key] = _ints(pd, frame[key])
    frame["kind"] = frame["kind"].astype(object)
    if len(frame):
        keys = np.lexsort((frame["step"].to_numpy(dtype="float64", na_value=np.nan),
                           np.asarray(order)))  # stable: chunk order breaks ties
        frame = frame.iloc[keys].reset_index(drop=True)
    return frame


def _ints(pd, column):
    """int64 when every value is there (always, for data this package wrote), else Int64."""
    if column.isna().any():
        return column.astype("Int64")
    return column.astype("int64")


# ----- the `tfwatcher export` command ---------------------------------------------------------------


def describe_error(err: BaseException, project: str | None = None, timeout: float | None = None) -> str:
    """One sentence for what stopped a read, and how to fix it."""
    from tfwatcher.base import access
    from tfwatcher.base.access import is_transient

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
            return (f"the credentials were not accepted ({_first_line(err)}): sign in again "
                    f"({_sign_in()}).")
        if isinstance(err, gexc.PermissionDenied):
            return (f"these credentials may not read Firestore in {where} ({_first_line(err)}). "
                    f"Give the account the 'Cloud Datastore User' (or Viewer) role in the Google "
                    f"Cloud console (IAM), or use credentials of that project.")
        if isinstance(err, gexc.NotFound):
            return (f"{where} has no Firestore database, or the project ID is wrong "
                    f"({_first_line(err)}). Check --project (or TFWATCHER_PROJECT).")
        if isinstance(err, gexc.FailedPrecondition):
            return f"Firestore in {where} refused the read ({_first_line(err)})."
    if is_transient(err):
        within = f" within {timeout:g} s" if timeout else ""
        cause = getattr(err, "cause", None) or err  # a RetryError: say what was retried
        return (f"could not reach Firestore ({where}){within} ({type(cause).__name__}: "
                f"{_first_line(cause)}). Check the network (or FIRESTORE_EMULATOR_HOST) and try again.")
    return f"reading the session failed ({type(err).__name__}: {_first_line(err)})."


def _sign_in() -> str:
    """How to sign in, for a reader (the writer's advice names `credentials=`)."""
    from tfwatcher.base import access

    if access.environment() != "other" or access.missing_key_file():
        return access.how_to_sign_in()
    return ("set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, or run "
            "`gcloud auth application-default login`")


def _is_google(err: BaseException) -> bool:
    return type(err).__module__.startswith(("google.", "grpc"))


def _first_line(err: BaseException) -> str:
    from tfwatcher.base.access import first_line

    return first_line(err)


def _close(client) -> None:
    from tfwatcher.base.access import close_quietly

    close_quietly(client)


def resolve_target(project: str | None):
    """(Target, None), or (None, one sentence saying what to configure)."""
    from tfwatcher.base import access
    from tfwatcher.base import project

    try:
        return project.resolve(project), None
    except (project.NotConfigured, ValueError) as e:
        missing = access.missing_key_file()
        why = (f"GOOGLE_APPLICATION_CREDENTIALS names {missing}, which does not exist: point it "
               f"at your service-account key file" if missing else
               str(e) if isinstance(e, ValueError) else
               "no Firebase project configured: pass --project YOUR_PROJECT_ID (or set "
               "TFWATCHER_PROJECT), signed in with GOOGLE_APPLICATION_CREDENTIALS or "
               "`gcloud auth application-default login`")
        return None, why + "."


def _check_writable(folder: Path) -> bool:
    """Make `folder` and prove a file can be written in it: before any read is spent.
    True if the folder was made here (so a failed read can remove it again)."""
    made = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder} is not a folder")
    probe = folder / f".tfwatcher-write-test-{os.getpid()}"
    probe.write_bytes(b"")
    probe.unlink()
    return made


def export_command(sid_text: str, fmt: str, folder: str | None, project: str | None,
                   timeout: float, out=None, err=None) -> int:
    """`tfwatcher export`: 0 written, 1 the read failed, 2 bad input (ID, folder, missing extra)."""
    import sys

    out = out or sys.stdout
    err = err or sys.stderr
    prefix = "tfwatcher export:"
    try:
        sid = ids.parse(sid_text)
    except ValueError as e:
        print(f"{prefix} {e}", file=err)
        return 2
    try:
        require_pandas()
        if fmt == "parquet":
            require_parquet()
    except ImportError as e:
        print(f"{prefix} {e}", file=err)
        return 2
    if not timeout > 0:
        print(f"{prefix} --timeout must be a positive number of seconds; got {timeout:g}", file=err)
        return 2
    target, why = resolve_target(project)
    if target is None:
        print(f"{prefix} {why}", file=err)
        return 2
    path = Path(folder) if folder else Path(f"tfwatcher-{sid}")
    try:
        made = _check_writable(path)
    except OSError as e:
        why = e.strerror or str(e)
        print(f"{prefix} cannot write to {str(path)!r} ({why}); choose another folder "
              f"(--{fmt} FOLDER). Nothing was read.", file=err)
        return 2
    client = None
    started = time.monotonic()
    try:
        client = target.client()
        session, epochs, chunks, reads = read_session(client, sid, timeout=timeout,
                                                      project=target.project)
        run = Run(sid, target.project, session, epochs, chunks, reads)
    except Exception as e:  # one message, never a traceback
        print(f"{prefix} {describe_error(e, target.project, timeout)}", file=err)
        if made:
            try:
                path.rmdir()
            except OSError:
                pass
        return 1
    finally:
        if client is not None:
            _close(client)
    try:
        paths = run._write(path, fmt)
    except OSError as e:
        print(f"{prefix} cannot write to {str(path)!r} ({e.strerror or e})", file=err)
        return 2
    seconds = time.monotonic() - started
    print(f"Session {ids.display_id(sid)} ({run.status}{', ' + repr(run.name) if run.name else ''}): "
          f"{len(run.epochs)} epoch records, {len(run.batches)} batch points, "
          f"{run.reads} document reads, {seconds:.1f} s.", file=out)
    for p in paths:
        print(f"  wrote {p}", file=out)
    if run.thinned:
        print(f"  note: {len(run.thinned)} chunk(s) hold thinned points (min, max and last per "
              f"window), saved while the network was down", file=out)
    return 0
