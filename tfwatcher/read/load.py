"""A session back into Python: `tfwatcher.load(sid)`, the `Run` it returns, and the
DataFrames built from stored documents.

    import tfwatcher
    run = tfwatcher.load("x7kq2m-9hfw4c-pd3ntr")     # any form of the ID, or a share link
    run.epochs      # pandas DataFrame: one row per epoch record
    run.batches     # pandas DataFrame: every batch point, full resolution
    run.session     # the session document, as a dict
    run.to_csv("out/")                                 # epochs.csv, batches.csv, session.json
    runs = tfwatcher.load(workspace="w-x7kq2m-9hfw4c-pd3ntr")  # DataFrame: one row per run

pandas is an optional extra (`pip install "tf-watcher[data]"`); Parquet also needs pyarrow
(`pip install "tf-watcher[parquet]"`). Reads cost 1 + E + C document reads (E epoch records,
C batch chunks of ~500 points each): see docs/data.md. Writing files is `files`; the
`tfwatcher export` command is `export`.
"""

from __future__ import annotations

import math
from pathlib import Path

from tfwatcher.base import contract, ids
from tfwatcher.base.packed import unpack_chunk
from tfwatcher.read import files
from tfwatcher.read.firestore import (  # noqa: F401  (re-exported: tfwatcher.read.load.X in docs)
    NewerSchema,
    ReadCounter,
    SessionNotFound,
    close,
    describe_error,
    fit,
    read_pages,
    read_session_document,
    resolve_target,
    retry_policy,
    session_ref,
)
from tfwatcher.read.files import PARQUET_HINT, require_parquet  # noqa: F401  (re-exported)

#: Columns that come before the metrics; a metric with one of these names is renamed
#: `metric:NAME` so nothing is overwritten.
EPOCH_COLUMNS = ("kind", "epoch", "step", "seconds", "avg_seconds", "time")
BATCH_COLUMNS = ("kind", "step", "epoch", "batch", "seconds", "time")
EPOCH_KINDS = contract.EPOCH_KINDS  # the order of rows: train epochs, then evaluate, predict
BATCH_KINDS = contract.BATCH_KINDS  # the order of rows: train, test, predict (system apart)
SCHEMA = contract.SCHEMA  # schema 2 adds summaries and tables beside what schema 1 had: read alike here
PAGE_CHUNKS = 50      # batch chunks per request (up to ~700 KB each, usually ~100 KB)
PAGE_EPOCHS = 1000    # epoch records per request (~1 KB each)
PAGE_TIMEOUT = 120.0  # seconds one page may take, retries included
DATA_HINT = 'pip install "tf-watcher[data]"'


def require_pandas():
    try:
        import pandas
    except ImportError:
        raise ImportError(f"tfwatcher.load needs pandas, an optional extra: {DATA_HINT}") from None
    return pandas


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
        #: (kind, index) of chunks whose points were thinned: older versions during an outage; now
        #: only when the spool's disk could not be written
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

    def to_csv(self, folder, raw_cells: bool = False) -> list[Path]:
        """Write epochs.csv, batches.csv, system.csv (if sampled) and session.json into
        `folder` (made if needed).

        Missing values and stored NaN are empty cells; ±inf is `inf`/`-inf`. Text cells that
        a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, tab or CR) get
        a `'` in front, unless `raw_cells` (docs/data.md).
        """
        return self.write(folder, "csv", raw_cells=raw_cells)

    def to_parquet(self, folder) -> list[Path]:
        """Write epochs.parquet, batches.parquet and session.json (needs pyarrow)."""
        require_parquet()
        return self.write(folder, "parquet")

    def write(self, folder, fmt: str, raw_cells: bool = False) -> list[Path]:
        """Write the frames as `fmt` (`csv` or `parquet`) and session.json into `folder`."""
        frames = [("epochs", self.epochs), ("batches", self.batches)]
        if len(self.system):
            frames.append(("system", self.system))
        about = {"id": self.id, "project": self.project, **self.session}
        return files.write_frames(Path(folder), fmt, frames, about, raw_cells=raw_cells)

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


def load(sid: str | None = None, project: str | None = None, credentials=None,
         timeout: float = 10.0, *, workspace: str | None = None):
    """Read a whole session back: its document, every epoch record and every batch point
    (a `Run`); or, with `workspace=`, the summary table of a workspace's runs (a DataFrame,
    `runs_frame`).

    Args:
        sid: the session ID in any form (`x7kq2m-9hfw4c-pd3ntr`, upper case, spaces) or a
            share or owner link.
        workspace: instead of `sid`, a workspace ID (`w-...`) or its link: one row per run
            of the workspace, every run (`tfwatcher.read.runs.runs_frame`).
        project, credentials: as for `tfwatcher.Session` (default: the environment, a running
            `tfwatcher local`, then Application Default Credentials).
        timeout: seconds the first read may take, retries included; a host that cannot be
            reached fails within it. Later pages of a long run get more time each.

    Raises ImportError without pandas, ValueError for a malformed ID (or both or neither of
    `sid` and `workspace`), SessionNotFound
    (a LookupError) for an ID the project does not hold, NewerSchema for a session written
    by a newer TF Watcher, and google.api_core / google.auth errors for access problems
    (`describe_error` turns them into one sentence).
    """
    require_pandas()
    if (sid is None) == (workspace is None):
        raise ValueError("pass a session ID, or workspace= a workspace ID, not both"
                         if sid is not None else "pass a session ID or workspace=ID")
    if workspace is not None:
        from tfwatcher.read.runs import load_workspace

        return load_workspace(workspace, project, credentials, timeout)
    sid = ids.parse(sid)
    from tfwatcher.base import project as projects

    target = projects.resolve(project, credentials)
    client = target.client()
    try:
        session, epochs, chunks, reads = read_session(client, sid, timeout=timeout,
                                                      project=target.project)
    finally:
        close(client)
    return Run(sid, target.project, session, epochs, chunks, reads)


def read_session(client, sid: str, timeout: float = 10.0, project: str | None = None,
                 counter: ReadCounter | None = None):
    """(session dict, epoch docs, chunk docs, reads) for `sid`, chunks sorted by kind and index."""
    counter = counter or ReadCounter()
    session = read_session_document(client, sid, timeout, project)
    counter.query(1)
    root = session_ref(client, sid)
    page_timeout = max(timeout, PAGE_TIMEOUT)
    epochs = _read_all(root.collection(contract.COLLECTIONS["epochs"]), PAGE_EPOCHS, page_timeout, counter)
    chunks = [unpack_chunk(c) for c in
              _read_all(root.collection(contract.COLLECTIONS["batches"]), PAGE_CHUNKS, page_timeout, counter)]
    chunks.sort(key=lambda c: (_kind_order(c.get("kind"), BATCH_KINDS), c.get("index", 0)))
    return session, epochs, chunks, counter.reads


def _read_all(collection, page: int, timeout: float, counter: ReadCounter) -> list[dict]:
    """Every document of a collection, in ID order, `page` documents per request."""
    return [d.to_dict() or {} for d in read_pages(collection, page, timeout, counter)]


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
            data[key].extend(fit(c.get(key), n))
        for key in ("seconds", "time"):
            data[key].extend(_num(v) for v in fit(c.get(key), n))
        series = {s["name"]: s.get("values") for s in c.get("series") or []}
        for name in names:
            data[columns[name]].extend(_num(v) for v in fit(series.get(name), n))
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


def __getattr__(name: str):
    # `export_command` lived here before tfwatcher.read.export; importing it here at the top
    # would be a cycle (export reads with this module).
    if name == "export_command":
        from tfwatcher.read.export import export_command

        return export_command
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
