"""Owner link hygiene in notebooks, in a real Jupyter kernel (nbclient + ipykernel).

A notebook creates a `tfwatcher.Session` against the emulator and runs one run. The notebook
is saved (as Jupyter, Colab and Kaggle save it) after each cell and its JSON is searched for
the owner key:

* after the first cell (the run is in progress), the key is in the notebook, and only in the
  updatable display (HTML link, plain-text link, QR code image), never in a stdout stream,
  which nothing can take back;
* after the cell that ends the run, the key and the QR code image are gone; the ID (canonical
  and grouped), the read-only link and a line saying the run ended remain.

The second part relies on `Session.finish()` calling `tfwatcher.base.display.conceal(session)`.

Custom loops whose cell raises (an exception, or the front end's Interrupt) end the run there:
`crashed` with the exception's type (`stopped` for KeyboardInterrupt, as the Keras path and
`with Session()` say), and the owner link leaves the saved notebook. A run started without
finishing the last shows its link in the same display (never in a stream), concealed at its end.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from tfwatcher.base import display, ids  # noqa: E402

ID_LINE = re.compile(r"Use this ID to monitor training for this session: (\S+)")

CREATE = """\
import tfwatcher
session = tfwatcher.Session(run_name="notebook hygiene", interval=0.2)
"""
RUN = """\
session.start(mode="custom", epochs=1, steps=3)
for step in range(1, 4):
    session.log_batch({"loss": 1.0 / step}, epoch=1, batch=step)
assert session.finish(wait=10)
"""


def _saved(nb, path: Path) -> str:
    """The notebook as a front end saves it: the JSON file's text."""
    nbformat.write(nb, str(path))
    return path.read_text()


def _outputs(nb, index: int) -> list[dict]:
    return [dict(o) for o in nb.cells[index].outputs]


def _owner_key(emulator, sid: str) -> str:
    from google.cloud import firestore

    client = firestore.Client(project=emulator.project)
    try:
        return client.document(f"sessions/{sid}/private/owner").get().to_dict()["key"]
    finally:
        client.close()


@pytest.fixture
def kernel_env(emulator, tmp_path):
    env = dict(os.environ)
    env.update(emulator.env())
    env.update({"TFWATCHER_QR": "1",  # the conftest turns the QR code off; here it is the point
                "TFWATCHER_HOME": str(tmp_path / "home"),
                "TFWATCHER_EXIT_TIMEOUT": "2",
                "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2]),
                                               env.get("PYTHONPATH", "")]).rstrip(os.pathsep)})
    env.pop("TFWATCHER_DASHBOARD_URL", None)
    return env


def test_the_owner_key_leaves_the_saved_notebook_when_the_run_ends(emulator, db, tmp_path, kernel_env):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(CREATE), nbformat.v4.new_code_cell(RUN)]
    # The kernel is this interpreter's (.venv) with the emulator's environment.
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    path = tmp_path / "run.ipynb"
    with client.setup_kernel(env=kernel_env):
        client.execute_cell(nb.cells[0], 0)
        during = _saved(nb, path)

        text = "".join(o.get("text", "") for o in _outputs(nb, 0) if o["output_type"] == "stream")
        match = ID_LINE.search(text)
        assert match, f"no ID line in the first cell's output: {text!r}"
        sid = match.group(1)
        assert ids.is_session_id(sid) and len(sid) == ids.LENGTH, sid  # canonical on that line
        assert ids.display_id(sid) in text                             # and grouped below it

        # While the run is in progress: the owner link is there, in the display only (its key
        # is checked against Firestore's `private/owner` once the run has written it).
        shown = [o for o in _outputs(nb, 0) if o["output_type"] == "display_data"]
        assert len(shown) == 1
        html, plain = shown[0]["data"]["text/html"], shown[0]["data"]["text/plain"]
        key = re.search(r"keep it private\): \S+/s/" + sid + r"#k=(\S+)", plain).group(1)
        assert len(key) >= 16
        assert key in during and key in html
        streams = [o for o in _outputs(nb, 0) if o["output_type"] == "stream"]
        assert not any(key in o["text"] for o in streams), "owner key printed to a stream"
        assert "Read-only link, safe to share:" in plain and "keep it private" in plain
        qr = re.search(r'src="(data:image/png;base64,[^"]+)"', html)
        assert qr, "no QR code image in the display"
        assert qr.group(1) == display.qr_data_uri(f"{_share(plain)}#k={key}")
        assert "\u2580" not in during and "\u2584" not in during  # no block-character QR

        client.execute_cell(nb.cells[1], 1)
        after = _saved(nb, path)

    # Once the run has ended: no key, no QR code, anywhere in the saved file.
    assert _owner_key(emulator, sid) == key
    assert key not in after
    assert qr.group(1) not in after and "data:image/png" not in after
    assert sid in after and ids.display_id(sid) in after
    ended = [o for o in _outputs(nb, 0) if o["output_type"] == "display_data"]
    assert len(ended) == 1
    plain = ended[0]["data"]["text/plain"]
    assert f"Read-only link, safe to share: {_share(plain)}" in plain
    assert _share(plain).endswith(f"/s/{sid}")
    assert "The run ended (finished)." in plain
    assert "The run ended (finished)." in ended[0]["data"]["text/html"]
    # The notebook's second cell printed nothing that holds the key either.
    assert not any(key in json.dumps(o) for o in _outputs(nb, 1))
    # And the session really ran and finished in Firestore.
    assert db.document(f"sessions/{sid}").get().to_dict()["status"] == "finished"


def _share(text: str) -> str:
    return re.search(r"Read-only link, safe to share: (\S+)", text).group(1)


# ----- cells that raise, runs left open ------------------------------------------------------


@contextlib.contextmanager
def _notebook(cells: list[str], tmp_path: Path, kernel_env: dict):
    """A notebook of `cells` in a real kernel; yields it and `run(i)`, which executes cell i
    (an error in it is kept in its outputs, as a front end shows it) and returns the saved file."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                                     resources={"metadata": {"path": str(tmp_path)}})
    path = tmp_path / "run.ipynb"

    def run(index: int) -> str:
        client.execute_cell(nb.cells[index], index)
        return _saved(nb, path)

    with client.setup_kernel(env=kernel_env):
        yield nb, run


def _sid(nb) -> str:
    text = "".join(o.get("text", "") for o in _outputs(nb, 0) if o["output_type"] == "stream")
    return ID_LINE.search(text).group(1)


def _streams(nb) -> str:
    """Everything printed to stdout/stderr in any cell: nothing there can be taken back."""
    return "".join(o.get("text", "") for cell in nb.cells for o in cell.get("outputs", [])
                   if o["output_type"] == "stream")


def _shown_key(nb, sid: str) -> str | None:
    plain = [o for o in _outputs(nb, 0) if o["output_type"] == "display_data"][0]["data"]["text/plain"]
    found = re.search(r"keep it private\): \S+/s/" + sid + r"#k=(\S+)", plain)
    return found.group(1) if found else None


RAISES = """\
session.start(mode="custom", epochs=1, steps=5)
for step in range(1, 6):
    session.log_batch({"loss": 1.0 / step}, epoch=1, batch=step)
    if step == 3:
        raise ValueError("diverged at step 3")
"""
INTERRUPTED = """\
import os, signal, time
session.start(mode="custom", epochs=1, steps=5)
for step in range(1, 6):
    session.log_batch({"loss": 1.0 / step}, epoch=1, batch=step)
    if step == 3:
        os.kill(os.getpid(), signal.SIGINT)  # what the front end's Interrupt sends the kernel
        time.sleep(60)  # a long step: the KeyboardInterrupt lands here at the latest
"""


@pytest.mark.parametrize("cell, status, error, ename", [
    (RAISES, "crashed", {"type": "ValueError", "message": "diverged at step 3"}, "ValueError"),
    (INTERRUPTED, "stopped", None, "KeyboardInterrupt"),
], ids=["exception", "interrupt"])
def test_a_cell_that_raises_mid_loop_ends_the_run_and_conceals_the_owner_link(
        emulator, db, tmp_path, kernel_env, cell, status, error, ename):
    from tests.helpers import read_session

    with _notebook([CREATE, cell, "print(session.status)"], tmp_path, kernel_env) as (nb, run):
        during = run(0)
        sid = _sid(nb)
        key = _shown_key(nb, sid)
        assert key and key in during
        after = run(1)
        errors = [o for o in _outputs(nb, 1) if o["output_type"] == "error"]
        assert [o["ename"] for o in errors] == [ename], "the cell did not raise as it should"
        # The kernel still holds the session, and it knows the run ended.
        run(2)
        assert _outputs(nb, 2)[0]["text"].strip() == status

    # Ended in Firestore by the time the cell's output was complete, with its points.
    got = read_session(db, sid)
    assert got["session"]["status"] == status
    assert got["session"]["error"] == error
    assert [p["step"] for p in got["points"]["train"]] == [1, 2, 3]
    assert _owner_key(emulator, sid) == key
    # The owner link and its QR code are gone from the saved notebook.
    assert key not in after and "#k=" not in after and "data:image/png" not in after
    assert f"The run ended ({status})." in after


TWICE = [CREATE,
         'session.start(mode="custom")\nsession.log_batch({"loss": 1.0})',
         'session.start(mode="custom")\nsession.log_batch({"loss": 0.5})',
         "assert session.finish(wait=10)"]


def test_a_second_start_without_finish_shows_its_link_in_the_display_and_conceals_it(
        emulator, db, tmp_path, kernel_env):
    with _notebook(TWICE, tmp_path, kernel_env) as (nb, run):
        run(0)
        sid = _sid(nb)
        first = _shown_key(nb, sid)
        run(1)
        during = run(2)
        second = _shown_key(nb, sid)
        assert "#k=" not in _streams(nb), "an owner link was printed to a stream"
        assert second and second != first and second in during
        assert first not in during, "the display still shows a key that no longer works"
        after = run(3)

    assert _owner_key(emulator, sid) == second
    assert db.document(f"sessions/{sid}").get().to_dict()["run"] == 2
    assert first not in after and second not in after and "#k=" not in after
    assert "The run ended (finished)." in after


# ----- outside a notebook ------------------------------------------------------------------


class _FakeSession:
    id = "x7kq2m9hfw4cpd3ntr"
    owner_key = "SECRET-key_123"
    share_url = f"https://demo.web.app/s/{id}"
    owner_url = f"{share_url}#k={owner_key}"
    status = "finished"


@pytest.mark.parametrize("thing", [_FakeSession(), None, object(), "x7kq2m9hfw4cpd3ntr"])
def test_conceal_outside_a_notebook_does_nothing_and_never_raises(thing):
    assert display.conceal(thing) is False
    assert display.reveal(thing) is False


def test_terminal_output_says_which_link_is_safe_to_share(capsys):
    s = _FakeSession()
    display.announce(s, qr=True)
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == f"Use this ID to monitor training for this session: {s.id}"
    assert lines[1].endswith("x7kq2m-9hfw4c-pd3ntr")
    assert f"Read-only link, safe to share: {s.share_url}" in out
    assert f"Your link (can stop training; keep it private): {s.owner_url}" in out
    assert "\u2580" in out or "\u2584" in out  # the text QR code, as before
    assert display.conceal(s) is False       # nothing was displayed
    assert ids.parse(lines[1].split(": ")[1]) == s.id


def test_legacy_ids_print_one_id_line(capsys):
    s = _FakeSession()
    s.id = "abc2345"
    display.announce(s, qr=False)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Use this ID to monitor training for this session: abc2345"
    assert "grouped" not in lines[1]
