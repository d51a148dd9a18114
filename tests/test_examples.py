"""Every script in examples/ (and the tutorial notebook) run as a user would run it, in a
subprocess against the test emulator, then read back: exactly what got stored."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import epoch_metrics, read_session

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
ID_LINE = "Use this ID to monitor training for this session:"


def run_example(path: Path, *args: str, timeout: float = 150) -> tuple[str, str]:
    """Run a script like a user (`python examples/X.py ...` from the repository root); the
    emulator fixture has put FIRESTORE_EMULATOR_HOST in os.environ. Returns (stdout, sid)."""
    env = {**os.environ, "TFWATCHER_QR": "0", "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("TF_CONFIG", None)
    result = subprocess.run([sys.executable, str(path), *args], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{path.name} failed:\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    ids = [line.rsplit(" ", 1)[-1] for line in result.stdout.splitlines() if line.startswith(ID_LINE)]
    assert len(ids) == 1, f"expected one session ID in:\n{result.stdout}"
    assert "all data sent" in result.stdout, result.stdout
    return result.stdout, ids[0]


def assert_train_points(points, epochs: int, steps: int):
    assert [p["step"] for p in points] == list(range(1, epochs * steps + 1))
    assert [p["epoch"] for p in points] == [e for e in range(1, epochs + 1) for _ in range(steps)]
    assert [p["batch"] for p in points] == list(range(1, steps + 1)) * epochs
    assert all("loss" in p["metrics"] and p["seconds"] > 0 for p in points)


def epoch_ids(n: int) -> list[str]:
    return [f"{e:06d}" for e in range(1, n + 1)]


# ----- every example documents how to run it --------------------------------------------------

def test_every_example_says_how_to_run_it():
    import ast

    scripts = sorted(EXAMPLES.glob("*.py"))
    assert {p.stem for p in scripts} >= {"tutorial", "fit", "evaluate", "predict", "custom_loop",
                                         "distribute", "parameter_server"}
    for path in scripts:
        doc = ast.get_docstring(ast.parse(path.read_text()))
        assert doc and f"python examples/{path.name}" in doc, f"{path.name}: no 'how to run' docstring"


# ----- the tutorial: notebook and script --------------------------------------------------------

def load_notebook() -> dict:
    return json.loads((EXAMPLES / "tutorial.ipynb").read_text())


def code_cells(nb: dict) -> list[str]:
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


def test_notebook_is_valid_nbformat_4_without_outputs_and_follows_the_tutorial():
    nb = load_notebook()
    assert nb["nbformat"] == 4 and isinstance(nb["nbformat_minor"], int)
    assert nb["metadata"]["kernelspec"]["language"] == "python"
    ids = [c["id"] for c in nb["cells"]]
    assert len(set(ids)) == len(ids)
    for cell in nb["cells"]:
        assert cell["cell_type"] in ("markdown", "code")
        assert isinstance(cell["metadata"], dict) and isinstance(cell["source"], list)
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
        else:
            assert "outputs" not in cell and "execution_count" not in cell
    code = "\n".join(code_cells(nb))
    for cell in code_cells(nb):
        compile("\n".join(line for line in cell.splitlines() if not line.lstrip().startswith(("!", "%"))),
                "<cell>", "exec")
    for expected in ("# !pip install tf-watcher", "tf.keras.datasets.mnist.load_data()",
                     'load_data("digits")', "keras.layers.Dense(1, input_dim=784)",
                     "tfwatcher.callbacks.EpochEnd(schedule=1)", "epochs=100", "validation_split=0.5",
                     "batch_size=128", "auth.authenticate_user()", "TFWATCHER_PROJECT"):
        assert expected in code, expected
    assert 'project="my-project"' in "".join("".join(c["source"]) for c in nb["cells"])


OFFLINE_MNIST = '''
def _offline_mnist():
    """MNIST's raw shapes and dtype (uint8 28x28), built from the offline digits."""
    from tfwatcher.demo import load_data
    (a, b), (c, d) = load_data("digits")
    raw = lambda x: (x.reshape(-1, 28, 28) * 255).round().astype("uint8")
    return (raw(a), b), (raw(c), d)
'''


def test_notebook_code_runs_against_the_emulator(db, tmp_path):
    """The notebook's code cells in order (shell lines skipped; the Colab cell runs its
    not-in-Colab branch), with MNIST's download swapped for offline digits and 3 epochs."""
    lines = []
    for cell in code_cells(load_notebook()):
        lines += [line for line in cell.splitlines() if not line.lstrip().startswith(("!", "%"))]
    code = "\n".join(lines)
    assert code.count("tf.keras.datasets.mnist.load_data()") == 1 and code.count("epochs=100") == 1
    code = code.replace("tf.keras.datasets.mnist.load_data()", "_offline_mnist()")
    code = code.replace("epochs=100", "epochs=3")
    script = tmp_path / "tutorial_notebook.py"
    script.write_text('"""Run by tests: python examples/tutorial.ipynb, as code."""\n' + OFFLINE_MNIST
                      + code + "\nassert MonitorCallback.session.flush(30)\nprint('all data sent')\n")
    _, sid = run_example(script)
    got = read_session(db, sid)
    session = got["session"]
    assert session["status"] == "finished" and session["mode"] == "fit"
    assert session["plan"] == {"epochs": 3, "steps": 4}          # 500 samples / 128
    assert sorted(got["epochs"]) == epoch_ids(3)
    assert [got["epochs"][i]["step"] for i in epoch_ids(3)] == [4, 8, 12]
    assert set(epoch_metrics(got["epochs"]["000003"])) == {"loss", "accuracy", "val_loss", "val_accuracy",
                                                             "learning_rate"}
    assert got["points"] == {}                                  # EpochEnd records no batches


def test_tutorial_script_offline(db):
    _, sid = run_example(EXAMPLES / "tutorial.py", "--data", "digits", "--epochs", "3")
    got = read_session(db, sid)
    assert got["session"]["status"] == "finished" and got["session"]["mode"] == "fit"
    assert got["session"]["plan"] == {"epochs": 3, "steps": 4}
    assert sorted(got["epochs"]) == epoch_ids(3)
    assert [got["epochs"][i]["step"] for i in epoch_ids(3)] == [4, 8, 12]
    assert all(set(epoch_metrics(d)) == {"loss", "accuracy", "val_loss", "val_accuracy", "learning_rate"}
               for d in got["epochs"].values())
    assert got["points"] == {}


# ----- the scripts ---------------------------------------------------------------------------

def test_fit_with_watcher_batches_and_validation(db):
    _, sid = run_example(EXAMPLES / "fit.py", "--epochs", "2")
    got = read_session(db, sid)
    session = got["session"]
    assert session["status"] == "finished" and session["mode"] == "fit"
    assert session["plan"] == {"epochs": 2, "steps": 8}          # 800 training samples / 100
    assert session["progress"] == {"epoch": 2, "batch": 8, "step": 16}
    assert_train_points(got["points"]["train"], epochs=2, steps=8)
    test = got["points"]["test"]                                 # 200 validation samples / 100
    assert [(p["epoch"], p["batch"], p["step"]) for p in test] == [(1, 1, 1), (1, 2, 2), (2, 1, 3), (2, 2, 4)]
    assert sorted(got["epochs"]) == epoch_ids(2)
    assert [got["epochs"][i]["step"] for i in epoch_ids(2)] == [8, 16]
    assert set(epoch_metrics(got["epochs"]["000002"])) == {"loss", "accuracy", "val_loss", "val_accuracy",
                                                             "learning_rate"}


def test_evaluate_with_test_batches(db):
    stdout, sid = run_example(EXAMPLES / "evaluate.py", "--epochs", "1")
    assert "evaluate: {" in stdout
    got = read_session(db, sid)
    session = got["session"]
    assert session["status"] == "finished" and session["mode"] == "evaluate"
    assert session["plan"]["steps"] == 10
    test = got["points"]["test"]
    assert [(p["epoch"], p["batch"], p["step"]) for p in test] == [(1, b, b) for b in range(1, 11)]
    assert all(set(p["metrics"]) == {"loss", "accuracy"} for p in test)
    assert set(got["points"]) == {"test"} and got["epochs"] == {}   # the warm-up fit was not monitored


def test_predict_with_summary_and_batches(db):
    _, sid = run_example(EXAMPLES / "predict.py")
    got = read_session(db, sid)
    session = got["session"]
    assert session["status"] == "finished" and session["mode"] == "predict"
    points = got["points"]["predict"]
    assert [(p["epoch"], p["batch"], p["step"]) for p in points] == [(1, b, b) for b in range(1, 11)]
    assert all(p["metrics"] == {} and p["seconds"] > 0 for p in points)
    assert set(got["points"]) == {"predict"}
    assert sorted(got["epochs"]) == ["predict-000001"]
    summary = got["epochs"]["predict-000001"]
    assert summary["kind"] == "predict" and epoch_metrics(summary) == {"batches": 10.0}
    assert summary["seconds"] > 0


def test_custom_loop_with_tf_function(db):
    _, sid = run_example(EXAMPLES / "custom_loop.py", "--epochs", "2")
    got = read_session(db, sid)
    session = got["session"]
    assert session["status"] == "finished" and session["mode"] == "custom"
    assert session["plan"] == {"epochs": 2, "steps": 10}
    assert_train_points(got["points"]["train"], epochs=2, steps=10)
    assert sorted(got["epochs"]) == epoch_ids(2)
    assert all(set(epoch_metrics(d)) == {"loss", "val_loss"} for d in got["epochs"].values())
    assert [got["epochs"][i]["step"] for i in epoch_ids(2)] == [10, 20]


def test_mirrored_strategy_two_logical_cpus(db):
    stdout, sid = run_example(EXAMPLES / "distribute.py", "--epochs", "2")
    assert "replicas in sync: 2" in stdout
    got = read_session(db, sid)
    session = got["session"]
    assert session["status"] == "finished" and session["mode"] == "fit"
    assert session["plan"] == {"epochs": 2, "steps": 4}          # global batch 250
    assert_train_points(got["points"]["train"], epochs=2, steps=4)
    assert sorted(got["epochs"]) == epoch_ids(2)


def test_parameter_server_strategy_in_process_cluster_custom_loop(db):
    """Issue #2: ParameterServerStrategy on an in-process cluster on loopback (2 workers, 1 PS)
    in a custom training loop; the coordinator logs through tfwatcher.Session."""
    stdout, sid = run_example(EXAMPLES / "parameter_server.py", "--epochs", "2", "--steps", "5")
    assert "cluster: 2 workers, 1 ps; variables on /job:ps/" in stdout
    got = read_session(db, sid)
    session = got["session"]
    assert session["status"] == "finished" and session["mode"] == "custom"
    assert session["plan"] == {"epochs": 2, "steps": 5}
    assert session["progress"] == {"epoch": 2, "batch": 5, "step": 10}
    assert_train_points(got["points"]["train"], epochs=2, steps=5)
    assert sorted(got["epochs"]) == epoch_ids(2)
    assert [got["epochs"][i]["step"] for i in epoch_ids(2)] == [5, 10]
    losses = [epoch_metrics(got["epochs"][i])["loss"] for i in epoch_ids(2)]
    assert losses[1] < losses[0]                                 # the workers really trained
