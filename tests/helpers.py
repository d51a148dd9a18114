"""Test helpers shared by the Python suites."""

import time

from tfwatcher.base.packed import unpack_chunk


def wait_until(condition, timeout: float = 10.0, interval: float = 0.05, message: str = ""):
    """Poll `condition` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message or condition}")
        time.sleep(interval)


def hooked_client_factory(project: str, before_commit):
    """A Firestore client factory (for `Writer`) on the emulator whose batches call
    `before_commit(batch)` before each commit; raising from it refuses that commit. Faults
    are injected at this boundary only: the commit itself is the emulator's."""
    def factory():
        from google.cloud import firestore

        client = firestore.Client(project=project)
        real_batch = client.batch

        def batch():
            b = real_batch()
            commit = b.commit

            def hooked(*args, **kwargs):
                before_commit(b)
                return commit(*args, **kwargs)
            b.commit = hooked
            return b
        client.batch = batch
        return client
    return factory


def drain_by_hand(writer, rounds: int = 100) -> None:
    """Run an `autostart=False` writer's rounds by hand, as its thread would on flush, until
    nothing is pending (each flush(timeout=0) asks for everything, summaries included)."""
    for _ in range(rounds):
        writer.flush(timeout=0)
        writer.step()
        if not writer.pending():
            return
    raise AssertionError(f"{writer.pending()} documents still pending after {rounds} rounds")


def read_session(db, sid: str, system: bool = False) -> dict:
    """Everything stored for a session: the document, epochs by ID, and batch points per kind
    (chunks merged in step order) as lists of dicts. The writer's system samples (kind
    `system`, tests/record/test_config_system.py) are left out unless `system`."""
    root = db.document(f"sessions/{sid}")
    snap = root.get()
    epochs = {d.id: d.to_dict() for d in root.collection("epochs").stream()}
    points: dict[str, list[dict]] = {}
    chunks = sorted((unpack_chunk(d.to_dict()) for d in root.collection("batches").stream()
                     if system or d.to_dict()["kind"] != "system"),
                    key=lambda c: (c["kind"], c["index"]))
    for chunk in chunks:
        for i in range(chunk["n"]):
            point = {key: chunk[key][i] for key in ("step", "epoch", "batch", "seconds", "time")}
            point["metrics"] = {s["name"]: s["values"][i] for s in chunk["series"]
                                if s["values"][i] is not None}
            points.setdefault(chunk["kind"], []).append(point)
    return {"session": snap.to_dict() if snap.exists else None, "epochs": epochs,
            "points": points, "chunks": chunks}


def epoch_metrics(doc: dict) -> dict:
    return dict(zip(doc["names"], doc["values"]))


def rss_mb() -> float:
    """This process's resident memory in MB (Linux: /proc/self/status)."""
    from pathlib import Path

    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")
