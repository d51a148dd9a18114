"""Document reads of `tfwatcher.load` / `tfwatcher export` and `tfwatcher watch`, by run length.

    .venv/bin/python bench/read_costs.py [--lengths 1000,10000,100000] [--live 30] [--json out.json]

Starts its own Firestore emulator, writes finished sessions of the given lengths (batch
points; 1,000 batches per epoch; chunks of ~500 points, as a run at a few hundred batches a
second makes them) with the real package, then counts the reads each command makes, as
Firestore bills them (one per document returned, at least one per query, one per 1,000
entries of a count, one per document a listener delivers: `tfwatcher.read.firestore.ReadCounter`):

* load/export: everything (`1 + E + C`: the session, E epoch records, C chunks);
* watch, start-up: the session (a plain read, then its listener), the newest 120 epoch
  records, one count, at most two chunks;
* watch, live: a session logging 200 batches a second with the default writer settings
  (`interval=1`, `heartbeat=10`), watched for `--live` seconds: reads per minute.

docs/data.md quotes its output.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TFWATCHER_QR", "0")


def write_session(length: int, steps: int = 1000):
    import tfwatcher

    s = tfwatcher.Session(quiet=True, interval=0.1)
    epochs = max(1, length // steps)
    s.start(mode="fit", epochs=epochs, steps=steps)
    step = 0
    for epoch in range(1, epochs + 1):
        for batch in range(1, steps + 1):
            step += 1
            s.log_batch({"loss": 1 / step, "accuracy": step / length}, epoch=epoch, batch=batch,
                        seconds=0.005)
            if step % 500 == 0:
                assert s.flush(60)
        s.log_epoch({"loss": 1 / step, "accuracy": step / length, "val_loss": 1.1 / step,
                     "val_accuracy": step / length}, epoch=epoch, seconds=5.0)
    s.finish()
    assert s.flush(60)
    return s.id, epochs


def watch_start_reads(client, sid: str) -> int:
    from tfwatcher.read import load as data
    from tfwatcher.read import watch

    counter = data.ReadCounter()
    counter.query(1)  # the plain read `tfwatcher watch` makes first
    w = watch.SessionListener(client, sid, counter=counter)
    w.start()
    try:
        assert w.wait_session(30)
        w.follow_batches()
        assert w.wait_first(30)
        time.sleep(0.5)
        return w.snapshot()["reads"]
    finally:
        w.stop()


def live_reads(client, seconds: float, rate: int = 200) -> dict:
    import tfwatcher
    from tfwatcher.read import load as data
    from tfwatcher.read import watch

    s = tfwatcher.Session(quiet=True)  # the defaults: interval 1 s, heartbeat 10 s
    s.start(mode="fit", epochs=1000, steps=1000)
    assert s.flush(30)
    counter = data.ReadCounter()
    counter.query(1)
    w = watch.SessionListener(client, s.id, counter=counter)
    w.start()
    assert w.wait_session(30)
    w.follow_batches()
    assert w.wait_first(30)
    start_reads = counter.reads
    stop = threading.Event()

    def train():
        step = 0
        t0 = time.monotonic()
        while not stop.is_set():
            step += 1
            epoch, batch = (step - 1) // 1000 + 1, (step - 1) % 1000 + 1
            s.log_batch({"loss": 1 / step}, epoch=epoch, batch=batch, seconds=1 / rate)
            if batch == 1000:
                s.log_epoch({"loss": 1 / step, "val_loss": 1.1 / step}, epoch=epoch, seconds=5.0)
            time.sleep(max(0.0, t0 + step / rate - time.monotonic()))

    thread = threading.Thread(target=train, daemon=True)
    t0 = time.monotonic()
    thread.start()
    while time.monotonic() - t0 < seconds:
        time.sleep(0.25)
        w.follow_batches()
    stop.set()
    thread.join()
    elapsed = time.monotonic() - t0
    reads = counter.reads - start_reads
    w.stop()
    s.finish()
    s.flush(30)
    return {"seconds": round(elapsed, 1), "batches_per_second": rate, "reads": reads,
            "reads_per_minute": round(reads / elapsed * 60, 1)}


def run(lengths, live_seconds: float, emulator=None) -> dict:
    from google.cloud import firestore

    from tfwatcher.read import load as data
    from tfwatcher.local.emulator import Emulator

    own = emulator is None
    if own:
        emulator = Emulator().start()
    os.environ.update(emulator.env())
    client = firestore.Client(project=emulator.project)
    report = {"lengths": []}
    try:
        for length in lengths:
            sid, epochs = write_session(length)
            session, epoch_docs, chunks, reads = data.read_session(client, sid)
            report["lengths"].append({
                "batch_points": length, "epochs": epochs, "chunks": len(chunks),
                "load_reads": reads, "load_formula": data.load_reads(len(epoch_docs), len(chunks)),
                "watch_start_reads": watch_start_reads(client, sid)})
        if live_seconds:
            report["live"] = live_reads(client, live_seconds)
    finally:
        client.close()
        if own:
            emulator.stop()
    return report


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lengths", default="1000,10000,100000")
    parser.add_argument("--live", type=float, default=30.0, help="seconds of live watching (0: none)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    os.environ.setdefault("TFWATCHER_HOME", "/tmp/tfwatcher-read-costs")
    report = run([int(x) for x in args.lengths.split(",")], args.live)
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
