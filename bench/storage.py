"""Bytes stored per million batch points, and what fits in the free plan's 1 GiB.

    .venv/bin/python bench/storage.py [--points 1000000] [--metrics 3,20] [--json out.json]

Method: the writer's own buffer (no Firestore needed) takes `--points` batch points of
`--metrics` metrics, closing chunks as a watched run does (500 points) and as an unwatched
one does (up to 12,000), with its summaries; every document it would store (chunks, summary
parts and heads) is measured with Firestore's documented storage sizes
(tfwatcher.record.commit.stored_size, which is what the 1 MiB document limit counts too),
plus Firestore's 32 bytes a document and the document's name. Indexes are not counted:
firestore.indexes.json exempts the chunk and summary arrays from indexing (docs/deploy.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GIB = 1024 ** 3


def measure(points: int, metrics: int, grow: bool) -> dict:
    from tfwatcher.record.buffer import Buffer
    from tfwatcher.record.commit import stored_size

    stats = {"points": 0, "max_backlog": 0}
    buf = Buffer("x" * 18, stats)
    buf.grow = grow
    names = [f"metric_{i}" for i in range(metrics)]
    names[0] = "loss"
    total = docs = 0
    stored = {}

    def keep(path, doc):
        stored[path] = 32 + len(path) + 1 + stored_size(doc)

    t = 1.7e9
    for step in range(1, points + 1):
        buf.add_point_locked("train", step, 1 + step // 10_000, step % 10_000, 0.01, t + step * 0.01,
                             {n: 1.0 / (step + i) for i, n in enumerate(names)})
        if step % 2000 == 0 or step == points:  # a round: what the writer would commit
            for w in buf.take_locked(float(step), 1.0, step == points, True, False, False, {},
                                     grow=grow):
                keep(w[1], w[2])
            buf.taken = []
    for path, size in stored.items():
        total += size
        docs += 1
    per_million = total * 1_000_000 / points
    return {"points": points, "metrics": metrics, "grow": grow, "documents": docs,
            "bytes": total, "bytes_per_million_points": per_million}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--metrics", default="3,20")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    out = []
    for m in [int(x) for x in args.metrics.split(",")]:
        for grow in (False, True):
            r = measure(args.points, m, grow)
            mb = r["bytes_per_million_points"] / 1e6
            days20 = GIB / (r["bytes_per_million_points"] / 1e6 * 20 * 86_400)
            days200 = days20 / 10
            r.update(days_in_free_gib_at_20_per_s=days20, days_in_free_gib_at_200_per_s=days200)
            out.append(r)
            print(f"{m:>2} metrics, chunks {'grown (unwatched)' if grow else 'of 500 (watched)':<18}: "
                  f"{mb:6.1f} MB per million points ({r['documents']:,} documents); 1 GiB holds "
                  f"{days20:5.1f} days at 20 batches/s, {days200:4.1f} at 200", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
