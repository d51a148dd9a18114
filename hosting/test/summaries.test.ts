import { describe, expect, it } from "vitest";
import type { ChunkDoc } from "../src/series";
import { groupMetrics } from "../src/metric-groups";
import {
  LevelStore,
  Lru,
  PART_BUCKETS,
  SECONDS,
  WIDTHS,
  bandTable,
  bucketsInRange,
  chunksForRange,
  clipPoints,
  epochsFromTables,
  fillTable,
  headBuckets,
  indexRange,
  openLevel,
  orderGroups,
  parseBuckets,
  partId,
  partsForRange,
  rawPoints,
  stepsToEpochs,
  zoomLevel,
  type EpochTableDoc,
  type HeadDoc,
  type SummaryDoc,
} from "../src/summaries";

/**
 * A reference summariser written from docs/schema.md: points (step, loss) in chunks of
 * `chunkSize`; buckets of width w with min/max/last/count/bad per metric; parts of 256 buckets;
 * the last part left in the head.
 */
function summarise(points: { step: number; loss: number }[], level: number, chunkSize = 500) {
  const w = WIDTHS[level - 1];
  type B = { b: number; n: number; step: number; time: number; chunk: number; min: number | null; max: number | null; last: number | null; count: number; bad: number; sec: number };
  const buckets = new Map<number, B>();
  const firstBad = new Map<number, { step: number; value: number }>(); // per part
  points.forEach((p, i) => {
    const b = Math.floor(p.step / w);
    let bk = buckets.get(b);
    if (!bk) {
      bk = { b, n: 0, step: p.step, time: 0, chunk: Math.floor(i / chunkSize), min: null, max: null, last: null, count: 0, bad: 0, sec: 0.01 };
      buckets.set(b, bk);
    }
    bk.n++;
    bk.step = p.step;
    bk.time = 1_700_000_000 + p.step / 100;
    if (Number.isFinite(p.loss)) {
      bk.min = bk.min == null ? p.loss : Math.min(bk.min, p.loss);
      bk.max = bk.max == null ? p.loss : Math.max(bk.max, p.loss);
      bk.last = p.loss;
      bk.count++;
    } else {
      bk.bad++;
      const part = Math.floor(b / PART_BUCKETS);
      if (!firstBad.has(part)) firstBad.set(part, { step: p.step, value: p.loss });
    }
  });
  const byPart = new Map<number, B[]>();
  for (const bk of [...buckets.values()].sort((x, y) => x.b - y.b)) {
    const p = Math.floor(bk.b / PART_BUCKETS);
    if (!byPart.has(p)) byPart.set(p, []);
    byPart.get(p)!.push(bk);
  }
  const doc = (p: number, bs: B[]): SummaryDoc => {
    const bad = bs.some((x) => x.bad > 0);
    const fb = firstBad.get(p);
    return {
      schema: 2, kind: "train", level, width: w, part: p,
      bucket: bs.map((x) => x.b), n: bs.map((x) => x.n), step: bs.map((x) => x.step), time: bs.map((x) => x.time),
      chunk: bs.map((x) => x.chunk),
      seconds: { min: bs.map((x) => x.sec), max: bs.map((x) => x.sec), last: bs.map((x) => x.sec) },
      series: [{
        name: "loss", min: bs.map((x) => x.min), max: bs.map((x) => x.max), last: bs.map((x) => x.last), count: bs.map((x) => x.count),
        ...(bad ? { bad: bs.map((x) => x.bad), bad_step: fb?.step, bad_value: fb?.value } : {}),
      }],
    };
  };
  const partNos = [...byPart.keys()].sort((a, b) => a - b);
  const last = partNos[partNos.length - 1];
  const parts = new Map(partNos.filter((p) => p !== last).map((p) => [partId("train", level, p), doc(p, byPart.get(p)!)]));
  const head: HeadDoc = {
    schema: 2, kind: "train", widths: WIDTHS, part_buckets: PART_BUCKETS, through: points[points.length - 1].step, points: points.length, skipped: 0,
    tail_chunk: Math.floor(points.length / chunkSize),
    levels: [{ level, width: w, part: last, ...doc(last, byPart.get(last)!) }],
  };
  const chunks: ChunkDoc[] = [];
  for (let i = 0; i * chunkSize < points.length; i++) {
    const ps = points.slice(i * chunkSize, (i + 1) * chunkSize);
    chunks.push({
      schema: 2, kind: "train", index: i, n: ps.length, step: ps.map((p) => p.step), time: ps.map((p) => 1_700_000_000 + p.step / 100),
      seconds: ps.map(() => 0.01), series: [{ name: "loss", values: ps.map((p) => p.loss) }],
    });
  }
  return { parts, head, chunks, width: w };
}

const run = (n: number, f: (s: number) => number) => Array.from({ length: n }, (_, i) => ({ step: i + 1, loss: f(i + 1) }));

describe("level choice", () => {
  it("opens with the coarsest level that has at least 150 buckets", () => {
    expect(openLevel(0)).toBe(1);
    expect(openLevel(10_000)).toBe(1); // 79 buckets of 128: none has 150, the finest then
    expect(openLevel(100_000)).toBe(1); // 782 of 128; 98 of 1,024
    expect(openLevel(1_000_000)).toBe(2); // 977 of 1,024; 123 of 8,192
    expect(openLevel(10_000_000)).toBe(4); // 153 of 65,536
    expect(openLevel(1e9)).toBe(6);
    expect(openLevel(1_000_000, [64, 512, 4096], 150)).toBe(3); // a head's own widths
    for (const through of [20_000, 77_000, 1e6, 3e6, 5e7]) {
      const w = WIDTHS[openLevel(through) - 1];
      const buckets = Math.floor(through / w) + 1;
      expect(buckets).toBeGreaterThanOrEqual(150);
      expect(buckets).toBeLessThanOrEqual(1200);
    }
  });

  it("zooms with raw points under ~2,000 steps, else the finest level with ≤ 1,200 buckets", () => {
    expect(zoomLevel(612_000, 613_000)).toBeNull();
    expect(zoomLevel(0, 2_000)).toBeNull();
    expect(zoomLevel(0, 2_001)).toBe(1);
    expect(zoomLevel(500_000, 520_000)).toBe(1); // 157 buckets of 128
    expect(zoomLevel(0, 100_000)).toBe(1); // 782 of 128
    expect(zoomLevel(0, 200_000)).toBe(2); // 1,563 of 128 is too many; 196 of 1,024
    expect(zoomLevel(0, 1_000_000)).toBe(2);
  });

  it("a fast run's summaries (no 128-step level): raw points under 15 buckets of its finest level", () => {
    const fast = WIDTHS.slice(1); // the head's widths when the writer skipped the finest level
    expect(zoomLevel(0, 15_360, fast)).toBeNull();
    expect(zoomLevel(0, 15_361, fast)).toBe(1); // 16 buckets of 1,024
    expect(zoomLevel(0, 1_000_000, fast)).toBe(1); // 977 of 1,024
    expect(zoomLevel(0, 2_000_000, fast)).toBe(2);
  });

  it("maps a step range to part numbers", () => {
    expect(partsForRange(0, 1_000_000, 1024)).toEqual([0, 3]);
    expect(partsForRange(612_000, 613_000, 128)).toEqual([18, 18]);
    expect(partsForRange(32_767, 32_768, 128)).toEqual([0, 1]);
    expect(partsForRange(8191, 8192, 64, 128)).toEqual([0, 1]);
    expect(partsForRange(-5, 10, 128)).toEqual([0, 0]);
  });
});

describe("buckets", () => {
  it("parses a part, keeping NaN/Inf out of min/max and reporting the first bad point", () => {
    const pts = run(1000, (s) => (s === 300 ? NaN : s === 301 ? Infinity : 1 / s));
    const { head } = summarise(pts, 1);
    const { buckets, firstBad } = parseBuckets((head.levels as SummaryDoc[])[0]);
    expect(buckets.length).toBe(8); // steps 1..1000 in buckets 0..7
    expect(buckets[2].m.get("loss")![3]).toBe(2); // bucket 2 (256..383) has two bad values
    expect(firstBad.get("loss")!.step).toBe(300);
    expect(Number.isNaN(firstBad.get("loss")!.value)).toBe(true);
    const [mn, mx] = buckets[2].m.get("loss")!;
    expect(Number.isFinite(mn!) && Number.isFinite(mx!)).toBe(true);
  });

  it("merges parts and heads in any order: the copy with more points wins", () => {
    const part = (n: number, last: number): SummaryDoc => ({
      level: 1, bucket: [5], n: [n], step: [5 * 64 + n - 1], time: [1], chunk: [0],
      seconds: { min: [0.1], max: [0.1], last: [0.1] }, series: [{ name: "loss", min: [last], max: [last], last: [last], count: [n] }],
    });
    for (const order of [[part(10, 1), part(64, 2)], [part(64, 2), part(10, 1)]]) {
      const s = new LevelStore(1, 64);
      for (const d of order) s.merge(d);
      expect(s.sorted().map((b) => b.n)).toEqual([64]);
      expect(s.sorted()[0].m.get("loss")![2]).toBe(2);
    }
  });

  it("lists the buckets of a head level (to see which moved into part documents)", () => {
    const { head } = summarise(run(40_000, () => 1), 1);
    const bs = headBuckets(head, 1);
    expect(Math.min(...bs)).toBe(256); // part 1 starts at bucket 256
    expect(headBuckets(head, 3).size).toBe(0);
  });
});

describe("tables", () => {
  it("draws buckets as last (line) over min..max (band), then the raw tail; a spike shows unzoomed", () => {
    const pts = run(1_000_000, (s) => (s === 612_345 ? 50 : 1 + 0.001 * Math.sin(s)));
    const lvl = openLevel(1_000_000);
    const { parts, head } = summarise(pts, lvl);
    const store = new LevelStore(lvl, WIDTHS[lvl - 1]);
    for (const p of parts.values()) store.merge(p);
    store.merge((head.levels as SummaryDoc[])[0]);
    const tail: ChunkDoc[] = [{ kind: "train", index: 2000, n: 2, step: [1_000_001, 1_000_002], time: [1, 2], seconds: [0.5, 0.6], series: [{ name: "loss", values: [0.5, NaN] }] }];
    const t = fillTable(bandTable(), store.sorted(), store.firstBad, rawPoints(tail, head.through!, Infinity), store.names);
    expect(lvl).toBe(2);
    expect(t.buckets).toBe(977);
    expect(t.x.length).toBe(979);
    const hi = t.hi!.get("loss")!;
    const i = hi.findIndex((v) => v === 50);
    expect(i).toBe(Math.floor(612_345 / 1024));
    expect(t.metrics.get("loss")![i]).not.toBe(50); // the line is the last value, the band holds the spike
    expect(t.x[i]).toBe((i + 1) * 1024 - 1);
    expect(t.metrics.get("loss")!.slice(-2)).toEqual([0.5, null]);
    expect(t.lo!.get(SECONDS)!.at(-2)).toBe(0.5);
    expect(t.nonFinite.get("loss")).toEqual({ count: 1, firstX: 1_000_002, firstValue: NaN });
  });

  it("counts NaN/Inf from the buckets' bad counts, at the part's first bad step", () => {
    const pts = run(20_000, (s) => (s === 15_000 || s === 15_001 ? NaN : 1));
    const { parts, head } = summarise(pts, 1);
    const store = new LevelStore(1, 128);
    for (const p of parts.values()) store.merge(p);
    store.merge((head.levels as SummaryDoc[])[0]);
    const t = fillTable(bandTable(), store.sorted(), store.firstBad, [], store.names);
    expect(t.nonFinite.get("loss")!.count).toBe(2);
    expect(t.nonFinite.get("loss")!.firstX).toBe(15_000);
    expect(t.hi!.get("loss")!.every((v) => v === 1)).toBe(true);
  });

  it("reuses the table's arrays and bumps its version", () => {
    const t = bandTable();
    const x = t.x;
    fillTable(t, [], new Map(), rawPoints([{ index: 0, step: [1, 2], series: [{ name: "a", values: [1, 2] }] }], 0, Infinity));
    const v = t.version;
    fillTable(t, [], new Map(), rawPoints([{ index: 0, step: [1, 2, 3], series: [{ name: "a", values: [1, 2, 3] }] }], 0, Infinity));
    expect(t.x).toBe(x);
    expect(t.x).toEqual([1, 2, 3]);
    expect(t.version).toBe(v + 1);
  });

  it("raw points: sorted by step, the later chunk wins a repeated step, bounds exclusive below", () => {
    const docs: ChunkDoc[] = [
      { index: 1, step: [3, 4], series: [{ name: "a", values: [30, 40] }] },
      { index: 0, step: [1, 2, 3], series: [{ name: "a", values: [10, 20, 99] }] },
    ];
    const ps = rawPoints(docs, 1, 4);
    expect(ps.map((p) => p.step)).toEqual([2, 3, 4]);
    expect(ps.map((p) => p.vals.get("a"))).toEqual([20, 30, 40]);
    const clipped = clipPoints(rawPoints(docs, -Infinity, Infinity), 2, 3);
    expect(clipped.map((p) => p.step)).toEqual([1, 2, 3, 4]); // one neighbour each side
  });

  it("bucketsInRange keeps one neighbour on each side", () => {
    const { head } = summarise(run(5_000, () => 1), 1);
    const s = new LevelStore(1, 128);
    s.merge((head.levels as SummaryDoc[])[0]);
    // bucket 10 (steps 1,280..1,407) is drawn at x = 1,407, past the range already
    expect(bucketsInRange(s.sorted(), 128, 1280, 1400).map((b) => b.b)).toEqual([9, 10, 11]);
    expect(bucketsInRange(s.sorted(), 128, 1400, 1600).map((b) => b.b)).toEqual([9, 10, 11, 12, 13]);
  });
});

describe("chunksForRange", () => {
  it("always covers the range, and its guess is a few chunks wide for a 1,000-step window", () => {
    const pts = run(1_000_000, () => 1);
    for (const lvl of [1, 3]) {
      const { parts, head, chunks } = summarise(pts, lvl);
      const s = new LevelStore(lvl, WIDTHS[lvl - 1]);
      for (const p of parts.values()) s.merge(p);
      s.merge((head.levels as SummaryDoc[])[0]);
      for (const a of [1, 612_000, 999_000, 4095, 4096]) {
        const b = a + 1000;
        const r = chunksForRange(s.sorted(), s.width, a, b);
        const need = chunks.filter((c) => (c.step as number[]).some((st) => st >= a && st <= b)).map((c) => c.index!);
        const hi = r.hi ?? Infinity;
        expect(r.lo).toBeLessThanOrEqual(Math.min(...need));
        expect(hi).toBeGreaterThanOrEqual(Math.max(...need));
        // chunks are even here, so the guess alone covers the window
        expect(r.guessLo).toBeLessThanOrEqual(Math.min(...need));
        expect(r.guessHi ?? Infinity).toBeGreaterThanOrEqual(Math.max(...need));
        if (r.guessHi != null) expect(r.guessHi - r.guessLo).toBeLessThanOrEqual(6);
      }
    }
  });

  it("handles uneven chunks (the guess may fall short; the bounds never do)", () => {
    // chunk sizes 100, 5,000, 100, 5,000…
    const pts = run(60_000, () => 1);
    const sizes: number[] = [];
    for (let n = 0, i = 0; n < pts.length; i++) {
      const sz = i % 2 ? 5000 : 100;
      sizes.push(sz);
      n += sz;
    }
    const chunkOf: number[] = [];
    sizes.forEach((sz, i) => { for (let k = 0; k < sz; k++) chunkOf.push(i); });
    const s = new LevelStore(1, 64);
    const bs = new Map<number, { b: number; n: number; step: number; chunk: number }>();
    pts.forEach((p, i) => {
      const b = Math.floor(p.step / 64);
      const have = bs.get(b);
      if (have) { have.n++; have.step = p.step; } else bs.set(b, { b, n: 1, step: p.step, chunk: chunkOf[i] });
    });
    const list = [...bs.values()];
    s.merge({ bucket: list.map((x) => x.b), n: list.map((x) => x.n), step: list.map((x) => x.step), chunk: list.map((x) => x.chunk), series: [] });
    for (const a of [50, 5_000, 30_123, 59_000]) {
      const r = chunksForRange(s.sorted(), 64, a, a + 1000);
      const lo = chunkOf[a - 1];
      const hi = chunkOf[Math.min(a + 1000, 60_000) - 1];
      expect(r.lo).toBeLessThanOrEqual(lo);
      expect(r.hi ?? Infinity).toBeGreaterThanOrEqual(hi);
    }
  });
});

describe("epoch table", () => {
  const part = (p: number, rows: [string, string, number, number][]): EpochTableDoc => ({
    schema: 2, part: p, n: rows.length, id: rows.map((r) => r[0]), kind: rows.map((r) => r[1]), epoch: rows.map((r) => r[2]),
    step: rows.map((r) => r[2] * 10), seconds: rows.map(() => 1), avg_seconds: rows.map(() => 1), time: rows.map((r) => 1e9 + r[2]),
    series: [{ name: "loss", values: rows.map((r) => r[3]) }, { name: "val_loss", values: rows.map((r) => (r[1] === "train" ? r[3] + 1 : null)) }],
  });

  it("turns rows into epoch documents in order; a later row for the same ID wins, across parts", () => {
    const m = epochsFromTables([
      part(1, [["000003", "train", 3, 0.3], ["000002", "train", 2, 0.25], ["evaluate-000001", "evaluate", 1, 0.9]]),
      part(0, [["000001", "train", 1, 0.5], ["000002", "train", 2, 0.4]]),
    ]);
    expect([...m.keys()]).toEqual(["000001", "000003", "000002", "evaluate-000001"]);
    expect(m.get("000002")).toMatchObject({ kind: "train", epoch: 2, step: 20, names: ["loss", "val_loss"], values: [0.25, 1.25] });
    expect(m.get("evaluate-000001")).toMatchObject({ kind: "evaluate", names: ["loss"], values: [0.9] });
  });
});

describe("chart order and axes", () => {
  it("puts loss charts first, then the rest alphabetically, whatever the logging order", () => {
    const g = orderGroups(groupMetrics(["accuracy", "lr", "val_accuracy", "aux_loss", "loss", "val_loss", "Zeta", "beta"]));
    expect(g.map((x) => x.title)).toEqual(["loss", "aux_loss", "Zeta", "accuracy", "beta", "lr"]);
    expect(orderGroups(g)).toEqual(g); // stable
  });

  it("maps global steps to fractional epochs from the epoch ends", () => {
    const ends = [{ epoch: 1, step: 100 }, { epoch: 2, step: 300 }];
    expect(stepsToEpochs([0, 50, 100, 200, 300, 350, null], ends, null)).toEqual([0, 0.5, 1, 1.5, 2, 2.25, null]);
    expect(stepsToEpochs([50, 150], [], 100)).toEqual([0.5, 1.5]);
    expect(stepsToEpochs([50], [], null)).toEqual([null]);
  });

  it("finds the rows of an x range", () => {
    expect(indexRange([1, 2, 3, 4, 5], 2, 4)).toEqual([1, 4]);
    expect(indexRange([1, 2, 3], 10, 20)).toEqual([3, 3]);
  });
});

describe("Lru", () => {
  it("evicts the least recently used entry beyond its size", () => {
    const l = new Lru<number>(2);
    l.set("a", 1);
    l.set("b", 2);
    expect(l.get("a")).toBe(1);
    l.set("c", 3);
    expect(l.get("b")).toBeUndefined();
    expect(l.get("a")).toBe(1);
    expect(l.size).toBe(2);
  });
});
