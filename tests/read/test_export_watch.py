"""Runs back into Python and the terminal (issue 14, item 4): `tfwatcher.load`, `tfwatcher
export` and `tfwatcher watch`, against the real Firestore emulator, on sessions written by the
real package."""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

import tfwatcher
from tfwatcher.read import load as data
from tfwatcher.base import ids
from tfwatcher.read import watch
from tfwatcher.cli import main
from tests.helpers import read_session, wait_until

ROOT = Path(__file__).resolve().parents[2]
NAN, INF = math.nan, math.inf


def same(a, b) -> bool:
    """Equal as stored: NaN equals NaN, None (absent) reads back as NaN."""
    a = NAN if a is None else a
    b = NAN if b is None else b
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def make(**kwargs):
    return tfwatcher.Session(quiet=True, interval=0.1, **kwargs)


def log_run(s, epochs=3, steps=400, group=250):
    """A fit of `epochs` x `steps` batches (flushing every `group` points, so chunks of ~500
    close and the train kind spans several documents), NaN/inf values, a metric that
    appears in epoch 2, an evaluate and a predict call. Returns what was logged."""
    points = {"train": [], "test": [], "predict": []}
    epoch_records = []
    s.start(mode="fit", epochs=epochs, steps=steps)
    step = 0
    for epoch in range(1, epochs + 1):
        for batch in range(1, steps + 1):
            step += 1
            metrics = {"loss": 1.0 / step + epoch * 1e-3}
            if step == 7:
                metrics["loss"] = NAN
            if step == 11:
                metrics["loss"] = INF
            if step == 13:
                metrics["loss"] = -INF
            if epoch >= 2:
                metrics["acc"] = step / (epochs * steps)  # appears mid-run
            seconds = 0.01 + (step % 5) * 1e-3 if step % 3 else None
            s.log_batch(metrics, epoch=epoch, batch=batch, seconds=seconds)
            points["train"].append((step, epoch, batch, seconds, metrics))
            if step % group == 0:
                assert s.flush(15)
        values = {"loss": 0.5 / epoch, "val_loss": NAN if epoch == 2 else 0.6 / epoch}
        if epoch >= 2:
            values["acc"] = 0.5 + epoch / 10
            values["val_acc"] = INF if epoch == 3 else 0.4 + epoch / 10
        s.log_epoch(values, epoch=epoch, seconds=1.5 * epoch)
        epoch_records.append(("train", epoch, step, 1.5 * epoch, values))
    s.start(mode="evaluate", steps=20)
    for batch in range(1, 21):
        metrics = {"loss": 0.3 + batch / 100, "acc": 0.9}
        st = s.log_batch(metrics, batch=batch, kind="test", seconds=0.002)
        points["test"].append((st, 1, batch, 0.002, metrics))
    s.log_epoch({"loss": 0.4, "acc": 0.9}, kind="evaluate", seconds=0.05)
    epoch_records.append(("evaluate", 1, step, 0.05, {"loss": 0.4, "acc": 0.9}))
    s.start(mode="predict", steps=5)
    for batch in range(1, 6):
        st = s.log_batch({}, batch=batch, kind="predict", seconds=0.001)
        points["predict"].append((st, 1, batch, 0.001, {}))
    s.log_epoch({}, kind="predict", seconds=0.01)
    epoch_records.append(("predict", 1, step, 0.01, {}))
    s.finish()
    assert s.flush(30)
    return points, epoch_records


@pytest.fixture
def logged(db):
    s = make(run_name="export me")
    points, epoch_records = log_run(s)
    return s.id, points, epoch_records


def check_frames(epochs: pd.DataFrame, batches: pd.DataFrame, points, epoch_records):
    """The frames hold exactly what was logged, point for point."""
    # epochs: one row per record, train first, then evaluate, predict
    assert list(epochs.columns[:6]) == ["kind", "epoch", "step", "seconds", "avg_seconds", "time"]
    assert list(epochs.columns[6:]) == ["loss", "val_loss", "acc", "val_acc"]  # first seen
    assert len(epochs) == len(epoch_records)
    for (_, row), (kind, epoch, step, seconds, values) in zip(epochs.iterrows(), epoch_records):
        assert (row["kind"], row["epoch"], row["step"], row["seconds"]) == (kind, epoch, step, seconds)
        assert row["avg_seconds"] == seconds and row["time"] > 1.7e9
        for name in ("loss", "acc", "val_loss", "val_acc"):
            assert same(row[name], values.get(name)), (kind, epoch, name, row[name], values.get(name))
    # batches: sorted by kind (train, test, predict) then step; absent values NaN
    assert list(batches.columns) == ["kind", "step", "epoch", "batch", "seconds", "time", "loss", "acc"]
    expected = [(kind, *p) for kind in ("train", "test", "predict") for p in points[kind]]
    assert len(batches) == len(expected) == 3 * 400 + 20 + 5
    assert str(batches["step"].dtype) == "int64" and str(batches["loss"].dtype) == "float64"
    for row, (kind, step, epoch, batch, seconds, metrics) in zip(
            batches.itertuples(index=False), expected):
        assert (row.kind, row.step, row.epoch, row.batch) == (kind, step, epoch, batch)
        assert same(row.seconds, seconds) and row.time > 1.7e9
        assert same(row.loss, metrics.get("loss")), (kind, step, row.loss, metrics.get("loss"))
        assert same(row.acc, metrics.get("acc")), (kind, step, row.acc, metrics.get("acc"))
    train = batches[batches.kind == "train"].set_index("step")
    assert math.isnan(train.loc[7, "loss"]) and train.loc[11, "loss"] == INF
    assert train.loc[13, "loss"] == -INF
    assert train.loc[:400, "acc"].isna().all() and train.loc[401:, "acc"].notna().all()
    assert (batches[batches.kind == "train"]["time"].diff().dropna() >= 0).all()


# ----- tfwatcher.load -------------------------------------------------------------------------------


def test_load_returns_every_epoch_and_batch_point_as_logged(logged, db):
    sid, points, epoch_records = logged
    stored = read_session(db, sid, system=True)
    train_chunks = [c for c in stored["chunks"] if c["kind"] == "train"]
    assert len(train_chunks) >= 2, "the run must span several chunks"
    run = tfwatcher.load(ids.display_id(sid).upper())  # any form of the ID
    assert run.id == sid and run.status == "finished" and run.name == "export me"
    assert run.session["plan"] == {"epochs": None, "steps": 5}  # the last run: predict
    check_frames(run.epochs, run.batches, points, epoch_records)
    # reads: the session document, every epoch record, every chunk, nothing else
    assert run.reads == 1 + len(stored["epochs"]) + len(stored["chunks"])
    assert run.reads == data.load_reads(len(stored["epochs"]), len(stored["chunks"]))
    assert run.chunks == len(stored["chunks"]) and run.thinned == []
    assert "export me" in repr(run)


def test_load_pages_through_long_runs_without_losing_or_repeating_a_chunk(logged, db, monkeypatch):
    sid, points, epoch_records = logged
    monkeypatch.setattr(data, "PAGE_CHUNKS", 2)
    monkeypatch.setattr(data, "PAGE_EPOCHS", 2)
    run = tfwatcher.load(f"https://example.web.app/s/{sid}")  # a pasted share link
    check_frames(run.epochs, run.batches, points, epoch_records)
    stored = read_session(db, sid, system=True)
    assert run.reads == data.load_reads(len(stored["epochs"]), len(stored["chunks"]), 2, 2)
    monkeypatch.setattr(data, "PAGE_CHUNKS", len(stored["chunks"]))  # an exact last page
    assert tfwatcher.load(sid).reads == 1 + len(stored["epochs"]) + len(stored["chunks"]) + 1


def test_load_of_an_unknown_or_malformed_id_is_a_clear_error(db):
    sid = ids.new_session_id()
    with pytest.raises(LookupError, match=f"no session {ids.display_id(sid)}"):
        tfwatcher.load(sid)
    with pytest.raises(ValueError, match="never use 0, 1, i, l or o"):
        tfwatcher.load("abcdef-ghijkl-mnopq0")


def test_load_of_a_session_with_nothing_logged_gives_empty_frames(db):
    s = make()
    s.start(mode="fit", epochs=2)
    s.finish()
    assert s.flush(15)
    run = tfwatcher.load(s.id)
    assert run.reads == 3  # the document, and one read for each empty query
    assert list(run.epochs.columns) == list(data.EPOCH_COLUMNS) and run.epochs.empty
    assert list(run.batches.columns) == list(data.BATCH_COLUMNS) and run.batches.empty


def test_a_metric_named_like_a_column_does_not_overwrite_it(db):
    s = make()
    s.start(mode="custom")
    s.log_batch({"time": 3.5, "loss": 1.0}, epoch=1, batch=1)
    s.log_epoch({"step": 42.0, "epoch": 9.0}, epoch=1)
    s.finish()
    assert s.flush(15)
    run = tfwatcher.load(s.id)
    assert run.batches.loc[0, "metric:time"] == 3.5 and run.batches.loc[0, "time"] > 1.7e9
    assert run.epochs.loc[0, "metric:step"] == 42.0 and run.epochs.loc[0, "step"] == 1
    assert run.epochs.loc[0, "metric:epoch"] == 9.0 and run.epochs.loc[0, "epoch"] == 1


def test_a_newer_schema_is_refused_rather_than_guessed(db, capsys):
    sid = ids.new_session_id()
    db.document(f"sessions/{sid}").set({"schema": 4, "status": "finished"})
    with pytest.raises(ValueError, match="newer TF Watcher"):
        tfwatcher.load(sid)
    assert main(["watch", sid, "--once"]) == 1
    assert "was written by a newer TF Watcher" in capsys.readouterr().err


def test_without_pandas_load_and_export_name_the_extra(logged, tmp_path):
    sid = logged[0]
    code = ("import sys; sys.modules['pandas'] = None\n"
            "import tfwatcher\n"
            "try:\n    tfwatcher.load(%r)\nexcept ImportError as e:\n    print('LOAD:', e)\n"
            "from tfwatcher.cli import main\n"
            "sys.exit(main(['export', %r, '--csv', %r]))\n") % (sid, sid, str(tmp_path / "x"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=ROOT)
    assert 'LOAD: tfwatcher.load needs pandas, an optional extra: pip install "tf-watcher[data]"' in out.stdout
    assert out.returncode == 2 and 'pip install "tf-watcher[data]"' in out.stderr
    assert "Traceback" not in out.stderr
    code = ("import sys; sys.modules['pyarrow'] = None\n"
            "from tfwatcher.cli import main\n"
            "sys.exit(main(['export', %r, '--parquet', %r]))\n") % (sid, str(tmp_path / "y"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=ROOT)
    assert out.returncode == 2 and 'pip install "tf-watcher[parquet]"' in out.stderr, out.stderr
    assert not (tmp_path / "y").exists(), "nothing is written or read without pyarrow"


# ----- tfwatcher export -------------------------------------------------------------------------------


def test_export_csv_and_parquet_hold_what_was_logged(logged, db, tmp_path, capsys):
    sid, points, epoch_records = logged
    stored = read_session(db, sid, system=True)
    reads = 1 + len(stored["epochs"]) + len(stored["chunks"])
    assert main(["export", ids.display_id(sid), "--csv", str(tmp_path / "csv")]) == 0
    out = capsys.readouterr().out
    assert f"{len(epoch_records)} epoch records, 1225 batch points, {reads} document reads" in out
    epochs = pd.read_csv(tmp_path / "csv" / "epochs.csv")
    batches = pd.read_csv(tmp_path / "csv" / "batches.csv")
    check_frames(epochs, batches, points, epoch_records)
    session = json.loads((tmp_path / "csv" / "session.json").read_text())
    assert session["id"] == sid and session["status"] == "finished" and session["name"] == "export me"
    assert main(["export", sid, "--parquet", str(tmp_path / "pq")]) == 0
    check_frames(pd.read_parquet(tmp_path / "pq" / "epochs.parquet"),
                 pd.read_parquet(tmp_path / "pq" / "batches.parquet"), points, epoch_records)


def test_export_defaults_to_csv_in_a_folder_named_after_the_session(logged, tmp_path, monkeypatch):
    sid = logged[0]
    monkeypatch.chdir(tmp_path)
    assert main(["export", sid]) == 0
    assert (tmp_path / f"tfwatcher-{sid}" / "batches.csv").is_file()


def run_cli(args, env=None, timeout=60, home=None):
    full = dict(os.environ)
    full.update(env or {})
    for key, value in list(full.items()):
        if value is None:
            del full[key]
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "-m", "tfwatcher.cli", *args], capture_output=True,
                         text=True, timeout=timeout, cwd=home or ROOT, env=full)
    return out, time.monotonic() - t0


def test_bad_input_is_one_message_and_a_nonzero_exit(db, emulator, tmp_path):
    unknown = ids.new_session_id()
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    cases = [
        (["export", unknown, "--csv", str(tmp_path / "out")], 1, f"no session {ids.display_id(unknown)}"),
        (["watch", unknown, "--once"], 1, f"no session {ids.display_id(unknown)}"),
        (["export", "not-an-id!", "--csv", str(tmp_path / "out")], 2, "a session ID has only"),
        (["watch", "https://x.web.app/settings"], 2, "does not point to a session"),
        (["export", unknown, "--csv", str(blocker / "sub")], 2, "cannot write to"),
    ]
    for args, code, message in cases:
        out, _ = run_cli(args)
        assert out.returncode == code, (args, out.returncode, out.stderr)
        assert message in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr + out.stdout, (args, out.stderr)
        assert len(out.stderr.strip().splitlines()) <= 3, (args, out.stderr)
    assert not (tmp_path / "out").exists(), "a failed read leaves no empty folder behind"


def test_no_network_fails_in_seconds_with_one_message(tmp_path):
    from tfwatcher.local.emulator import free_port

    dead = {"FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{free_port()}"}  # nothing listens there
    sid = ids.new_session_id()
    jobs = {}
    for name, args in (("export", ["export", sid, "--csv", str(tmp_path / "o")]),
                       ("watch", ["watch", sid])):
        jobs[name] = threading.Thread(target=lambda n=name, a=args: jobs.__setitem__(
            n + ":result", run_cli(a, env=dead, timeout=120)))
        jobs[name].start()
    for name in ("export", "watch"):
        jobs[name].join()
        out, seconds = jobs[name + ":result"]
        assert out.returncode == 1, (name, out.stderr)
        assert "could not reach Firestore" in out.stderr and "within 10 s" in out.stderr, out.stderr
        assert "Traceback" not in out.stderr, out.stderr
        assert seconds < 30, f"{name} took {seconds:.0f} s with no network"


def test_no_credentials_is_one_message(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "TFWATCHER_HOME": str(home / ".tfwatcher"),
           "TFWATCHER_PROJECT": "some-project", "FIRESTORE_EMULATOR_HOST": None,
           "GOOGLE_APPLICATION_CREDENTIALS": None, "CLOUDSDK_CONFIG": str(home / "gcloud"),
           "GCE_METADATA_HOST": "127.0.0.1:9", "GCE_METADATA_IP": "127.0.0.1:9",
           "NO_GCE_CHECK": "True"}
    sid = ids.new_session_id()
    for args in (["export", sid, "--csv", str(tmp_path / "o")], ["watch", sid, "--once"]):
        out, seconds = run_cli(args, env=env, timeout=120, home=home)
        assert out.returncode == 1, (args, out.stdout, out.stderr)
        assert "no Google credentials were found" in out.stderr, out.stderr
        assert "Traceback" not in out.stderr and "sync" not in out.stderr, out.stderr
        assert seconds < 30


def test_a_project_without_firestore_and_other_refusals_read_as_one_sentence():
    """The real service answers NotFound for a project without a database; no emulator can
    say that, so the sentence is checked on the exception type the client raises."""
    from google.api_core import exceptions as gexc

    text = data.describe_error(gexc.NotFound("The database (default) does not exist for project p"),
                               "p")
    assert "project 'p' has no Firestore database" in text and "--project" in text
    text = data.describe_error(gexc.PermissionDenied("Missing or insufficient permissions."), "p")
    assert "may not read Firestore in project 'p'" in text
    text = data.describe_error(gexc.ServiceUnavailable("connection refused"), "p", 10)
    assert "could not reach Firestore (project 'p') within 10 s" in text


# ----- tfwatcher watch --------------------------------------------------------------------------------


def test_sparklines_and_metric_order():
    assert watch.sparkline([1, 2, 3, 4, 5, 6, 7, 8]) == "▁▂▃▄▅▆▇█"
    assert watch.sparkline([1, NAN, INF, 2]) == "▁××█"
    assert watch.sparkline([3, 3]) == "▄▄"
    assert len(watch.sparkline(list(range(1000)), 40)) == 40
    assert watch.main_metrics(["acc", "val_acc", "lr", "val_loss", "loss"]) == \
        ["loss", "val_loss", "acc", "val_acc", "lr"]


def test_watch_once_renders_a_finished_session(logged, db, capsys):
    sid = logged[0]
    assert main(["watch", sid, "--once"]) == 0
    out = capsys.readouterr().out
    assert ids.display_id(sid) in out and "export me" in out
    assert "Status: finished (predict)" in out
    assert "Progress: predict call 1 · batch 5/5 · 100% (trained: epoch 3, step 1200)" in out
    for name in ("loss", "val_loss", "acc", "val_acc"):
        assert f"\n{name} " in out, (name, out)
    assert any(c in out for c in "▁▂▃▄▅▆▇") and "×" in out  # sparklines, with the inf val_acc
    assert "predict #1" in out and "evaluate #1: loss 0.4, acc 0.9" in out
    assert "Traceback" not in out


def test_watch_costs_a_handful_of_reads_whatever_the_length_of_the_run(logged, db):
    """Start-up cost: the session document (twice: one plain read, then the listener), the
    newest EPOCH_WINDOW epoch records, one count, and at most two chunks."""
    sid = logged[0]
    stored = read_session(db, sid)
    w = watch.SessionListener(db, sid, counter=data.ReadCounter())
    w.start()
    try:
        assert w.wait_session(10)
        w.follow_batches()
        assert w.wait_first(10)
        snap = w.snapshot()
        epochs = min(len(stored["epochs"]), watch.EPOCH_WINDOW)
        assert snap["kind"] == "predict" and len(snap["chunks"]) == 1
        assert snap["reads"] == 1 + epochs + 1 + 1
    finally:
        w.stop()
    w = watch.SessionListener(db, sid, batches=False, counter=data.ReadCounter())  # --no-batches
    w.start()
    try:
        assert w.wait_session(10)
        w.follow_batches()
        assert w.wait_first(10)
        assert w.snapshot()["reads"] == 1 + epochs and w.snapshot()["chunks"] == []
    finally:
        w.stop()


def test_watch_follows_a_live_session_and_exits_when_it_finishes(db, emulator):
    s = make(run_name="live one")
    s.start(mode="fit", epochs=3, steps=400)
    assert s.flush(15)
    proc = subprocess.Popen([sys.executable, "-m", "tfwatcher.cli", "watch", s.id],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "COLUMNS": "120"})
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        wait_until(lambda: any("Status: running (fit)" in line for line in lines), timeout=60,
                   message="the first frame")
        step = 0
        for epoch in range(1, 4):  # 1,200 points: the watcher's chunk window moves forward
            for batch in range(1, 401):
                step += 1
                s.log_batch({"loss": 1 / step}, epoch=epoch, batch=batch, seconds=0.001)
                if batch % 100 == 0:
                    assert s.flush(15)
                    time.sleep(0.3)
            s.log_epoch({"loss": 1 / step, "val_loss": 2 / step}, epoch=epoch, seconds=1.0)
        wait_until(lambda: any("step 800" in line or "step 9" in line for line in lines),
                   timeout=30, message="a mid-run update")
        s.finish()
        assert s.flush(15)
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(5)
    text = "".join(lines)
    updates = [line for line in lines if "  running  " in line]
    assert len(updates) >= 3, text  # one line per change: it saw the run progress
    assert "Status: finished (fit)" in text and "epoch 3/3 · batch 400/400 · step 1200 · 100%" in text
    assert "loss=8.333e-04" in text and "\nloss      8.333e-04" in text, text
    assert "\nval_loss " in text and any(c in text for c in "▁▂▃▄▅▆▇")
    final = text[text.rindex("Status: finished"):]
    reads = int(final.split(" document reads")[0].split()[-1])
    assert reads < 200, f"watching cost {reads} reads"  # 1,200 points, 3 epochs: a few dozen


def test_ctrl_c_leaves_the_watch_quietly_and_the_run_goes_on(db, emulator):
    import signal

    s = make()
    s.start(mode="fit", epochs=2, steps=10)
    s.log_batch({"loss": 0.5}, epoch=1, batch=1)
    assert s.flush(15)
    proc = subprocess.Popen([sys.executable, "-m", "tfwatcher.cli", "watch", s.id],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        wait_until(lambda: any("document reads so far" in line for line in lines), timeout=60,
                   message="the first frame")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(5)
    assert "Stopped watching (the run itself goes on)." in "".join(lines)
    assert "Traceback" not in proc.stderr.read()
    assert db.document(f"sessions/{s.id}").get().to_dict()["status"] == "running"
    s.finish()


def test_watch_unsubscribes_its_listeners_and_closes_its_client(logged, db, monkeypatch):
    """In process: once the command returns, its listeners have been unsubscribed (no
    listener stream is left) and the client it made was closed."""
    from google.cloud import firestore
    from rich.console import Console

    sid = logged[0]
    closed, unsubscribed = [], []
    real_close = firestore.Client.close
    monkeypatch.setattr(firestore.Client, "close", lambda self: closed.append(self) or real_close(self))
    real_stop = watch.SessionListener._unwatch
    monkeypatch.setattr(watch.SessionListener, "_unwatch",
                        lambda self, name: unsubscribed.append(name) or real_stop(self, name))

    def streams():
        return [t for t in threading.enumerate()
                if t.is_alive() and "ConsumeBidirectionalStream" in t.name]

    before = len(streams())
    assert watch.watch_command(sid, once=True, console=Console(file=io.StringIO())) == 0
    assert set(unsubscribed) == {"batches", "epochs", "session"}
    assert len(closed) == 1 and closed[0] is not db
    wait_until(lambda: len(streams()) <= before, timeout=10, message="the listener threads to end")


def test_watch_once_shows_a_crash_and_falls_back_to_training_batches(db, capsys):
    """A fit, then an evaluate that logged no batches (as the default callbacks do), then a
    crash: the frame shows the error, the evaluate result and the training batches."""
    s = make(run_name="crashy")
    s.start(mode="fit", epochs=2, steps=50)
    for step in range(1, 101):
        s.log_batch({"loss": 2.0 / step}, epoch=(step - 1) // 50 + 1, batch=(step - 1) % 50 + 1)
    s.log_epoch({"loss": 0.1, "val_loss": 0.2}, epoch=1)
    s.log_epoch({"loss": 0.05, "val_loss": 0.1}, epoch=2)
    s.start(mode="evaluate", steps=10)
    s.log_epoch({"loss": 0.07}, kind="evaluate")
    s.finish("crashed", error=RuntimeError("boom at batch 3"))
    assert s.flush(15)
    assert main(["watch", s.id, "--once"]) == 0
    out = capsys.readouterr().out
    assert "Status: crashed (evaluate)" in out and "Error: RuntimeError: boom at batch 3" in out
    assert "train batches (latest 100)" in out and "evaluate #1: loss 0.07" in out
