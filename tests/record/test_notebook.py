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
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from tfwatcher import display, ids  # noqa: E402

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
