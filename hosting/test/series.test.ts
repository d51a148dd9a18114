import { describe, expect, it } from "vitest";
import { buildEpochTable } from "../src/epoch-table";
import { drawablePoints, groupData, groupMetrics } from "../src/metric-groups";
import {
  BatchSeries,
  BatchStore,
  newestOfChunks,
  plotValue,
  type ChunkDoc,
  type EpochDoc,
} from "../src/series";

/** A chunk as docs/schema.md describes it; `from` is the first global step. */
function chunk(index: number, from: number, n: number, series: Record<string, (number | null)[]>, kind = "train", perEpoch = 10): ChunkDoc {
  const step = Array.from({ length: n }, (_, i) => from + i);
  return {
    schema: 1,
    kind,
    index,
    n,
    step,
    epoch: step.map((s) => Math.floor((s - 1) / perEpoch) + 1),
    batch: step.map((s) => ((s - 1) % perEpoch) + 1),
    seconds: step.map(() => 0.01),
    time: step.map((s) => 1_700_000_000 + s),
    series: Object.entries(series).map(([name, values]) => ({ name, values })),
  };
}
const id = (kind: string, i: number) => `${kind}-${String(i).padStart(6, "0")}`;
const added = (i: number, doc: ChunkDoc) => ({ type: "added" as const, id: id(doc.kind ?? "train", i), data: doc });
const modified = (i: number, doc: ChunkDoc) => ({ type: "modified" as const, id: id(doc.kind ?? "train", i), data: doc });
const range = (n: number, f: (i: number) => number | null) => Array.from({ length: n }, (_, i) => f(i));

describe("plotValue", () => {
  it("keeps finite numbers and turns everything else into a gap", () => {
    expect(plotValue(0.5)).toBe(0.5);
    expect(plotValue(0)).toBe(0);
    expect(plotValue(NaN)).toBeNull();
    expect(plotValue(Infinity)).toBeNull();
    expect(plotValue(-Infinity)).toBeNull();
    expect(plotValue(null)).toBeNull();
    expect(plotValue(undefined)).toBeNull();
    expect(plotValue("1")).toBeNull();
  });
});

describe("buildEpochTable", () => {
  const e = (epoch: number, names: string[], values: (number | null)[], extra: Partial<EpochDoc> = {}): EpochDoc => ({
    schema: 1, kind: "train", epoch, step: epoch * 10, names, values, seconds: epoch, avg_seconds: epoch, time: 1e9 + epoch, ...extra,
  });

  it("sorts by epoch and pairs names with values", () => {
    const t = buildEpochTable([e(2, ["loss", "val_loss"], [0.3, 0.4]), e(1, ["loss", "val_loss"], [0.5, 0.6])]);
    expect(t.x).toEqual([1, 2]);
    expect(t.metrics.get("loss")).toEqual([0.5, 0.3]);
    expect(t.metrics.get("val_loss")).toEqual([0.6, 0.4]);
    expect(t.seconds).toEqual([1, 2]);
    expect(t.names).toEqual(["loss", "val_loss"]);
  });

  it("fills gaps with null when a metric is missing in some epochs", () => {
    const t = buildEpochTable([e(1, ["loss"], [0.5]), e(2, ["loss", "val_loss"], [0.4, 0.45]), e(3, ["loss"], [0.3])]);
    expect(t.metrics.get("val_loss")).toEqual([null, 0.45, null]);
    expect(t.metrics.get("loss")).toEqual([0.5, 0.4, 0.3]);
  });

  it("draws NaN and ±Inf as gaps but reports them", () => {
    const t = buildEpochTable([e(1, ["loss"], [0.5]), e(2, ["loss"], [NaN]), e(3, ["loss"], [Infinity]), e(4, ["loss"], [-Infinity])]);
    expect(t.metrics.get("loss")).toEqual([0.5, null, null, null]);
    expect(t.nonFinite.get("loss")).toEqual({ count: 3, firstX: 2, firstValue: NaN });
  });

  it("keeps only the requested kind (missing kind counts as train)", () => {
    const docs = [e(1, ["loss"], [1]), e(1, ["loss"], [9], { kind: "evaluate" }), { ...e(2, ["loss"], [2]), kind: undefined }];
    expect(buildEpochTable(docs).x).toEqual([1, 2]);
    expect(buildEpochTable(docs, "evaluate").metrics.get("loss")).toEqual([9]);
  });

  it("ignores malformed documents instead of throwing", () => {
    const t = buildEpochTable([{ epoch: undefined }, { epoch: 1, names: "loss", values: 3 } as EpochDoc, e(2, ["loss", 7 as unknown as string], [0.1, 0.2])]);
    expect(t.x).toEqual([1, 2]);
    expect(t.metrics.get("loss")).toEqual([null, 0.1]);
  });
});

describe("groupMetrics", () => {
  it("pairs training and validation metrics on one chart in first-seen order", () => {
    expect(groupMetrics(["loss", "accuracy", "val_loss", "val_accuracy", "lr"])).toEqual([
      { title: "loss", train: "loss", val: "val_loss" },
      { title: "accuracy", train: "accuracy", val: "val_accuracy" },
      { title: "lr", train: "lr" },
    ]);
  });
  it("keeps a lone val_ metric under its own name, and odd names as they are", () => {
    expect(groupMetrics(["val_auc", "val_", "val/acc.top 5"])).toEqual([
      { title: "val_auc", val: "val_auc" },
      { title: "val_", train: "val_" },
      { title: "val/acc.top 5", train: "val/acc.top 5" },
    ]);
  });
  it("groupData shares the table's arrays (no copies)", () => {
    const t = buildEpochTable([{ kind: "train", epoch: 1, names: ["loss", "val_loss"], values: [1, 2] }]);
    const [g] = groupMetrics(t.names);
    const d = groupData(t, g);
    expect(d[0]).toBe(t.x);
    expect(d[1]).toBe(t.metrics.get("loss"));
    expect(d[2]).toBe(t.metrics.get("val_loss"));
  });
});

describe("BatchSeries", () => {
  it("concatenates chunks in step order, whatever order they arrive in", () => {
    const s = new BatchSeries();
    s.apply([added(1, chunk(1, 4, 3, { loss: [4, 5, 6] })), added(0, chunk(0, 1, 3, { loss: [1, 2, 3] }))]);
    expect(s.table.x).toEqual([1, 2, 3, 4, 5, 6]);
    expect(s.table.metrics.get("loss")).toEqual([1, 2, 3, 4, 5, 6]);
    s.apply([added(2, chunk(2, 7, 2, { loss: [7, 8] }))]);
    expect(s.table.x).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("replaces a rewritten open chunk instead of appending it again, touching only its rows", () => {
    const s = new BatchSeries();
    s.apply([added(0, chunk(0, 1, 2000, { loss: range(2000, (i) => i) })), added(1, chunk(1, 2001, 3, { loss: [1, 2, 3] }))]);
    expect(s.pointCount).toBe(2003);
    s.apply([modified(1, chunk(1, 2001, 5, { loss: [1, 2, 3, 4, 5] }))]);
    expect(s.pointCount).toBe(2005);
    expect(s.lastRewritten).toBe(5);
    expect(s.table.metrics.get("loss")!.slice(-5)).toEqual([1, 2, 3, 4, 5]);
    // The same chunk delivered twice (e.g. cache, then server) changes nothing.
    s.apply([modified(1, chunk(1, 2001, 5, { loss: [1, 2, 3, 4, 5] }))]);
    expect(s.pointCount).toBe(2005);
    expect(s.table.x.slice(-6)).toEqual([2000, 2001, 2002, 2003, 2004, 2005]);
  });

  it("keeps the arrays (same objects) across incremental updates", () => {
    const s = new BatchSeries();
    s.apply([added(0, chunk(0, 1, 3, { loss: [1, 2, 3] }))]);
    const x = s.table.x;
    const loss = s.table.metrics.get("loss");
    s.apply([modified(0, chunk(0, 1, 4, { loss: [1, 2, 3, 4] }))]);
    expect(s.table.x).toBe(x);
    expect(s.table.metrics.get("loss")).toBe(loss);
    expect(s.table.version).toBe(2);
  });

  it("fills null where a metric is absent, including one that appears later", () => {
    const s = new BatchSeries();
    s.apply([added(0, chunk(0, 1, 2, { loss: [1, 2] }))]);
    s.apply([added(1, chunk(1, 3, 2, { loss: [3, 4], lr: [0.1, null] }))]);
    expect(s.table.metrics.get("lr")).toEqual([null, null, 0.1, null]);
    s.apply([added(2, chunk(2, 5, 1, { lr: [0.2] }))]);
    expect(s.table.metrics.get("loss")).toEqual([1, 2, 3, 4, null]);
    expect(s.table.names).toEqual(["loss", "lr"]);
  });

  it("draws NaN/Inf as gaps and counts them per metric", () => {
    const s = new BatchSeries();
    s.apply([added(0, chunk(0, 1, 4, { loss: [1, NaN, Infinity, 2] }))]);
    expect(s.table.metrics.get("loss")).toEqual([1, null, null, 2]);
    expect(s.table.nonFinite.get("loss")).toMatchObject({ count: 2, firstX: 2 });
    expect(drawablePoints(s.table.metrics.get("loss")!)).toBe(2);
    // Rewriting the chunk recounts rather than double counting.
    s.apply([modified(0, chunk(0, 1, 5, { loss: [1, NaN, Infinity, 2, -Infinity] }))]);
    expect(s.table.nonFinite.get("loss")).toMatchObject({ count: 3, firstX: 2 });
  });

  it("merges overlapping chunks by step; a duplicated step keeps the later chunk's value", () => {
    const s = new BatchSeries();
    s.apply([added(0, chunk(0, 1, 4, { loss: [1, 2, 3, 4] }))]);
    s.apply([added(1, chunk(1, 3, 4, { loss: [30, 40, 50, 60] }))]);
    expect(s.table.x).toEqual([1, 2, 3, 4, 5, 6]);
    expect(s.table.metrics.get("loss")).toEqual([1, 2, 30, 40, 50, 60]);
    // Later updates on the slow path stay correct.
    s.apply([modified(1, chunk(1, 3, 5, { loss: [30, 40, 50, 60, 70] }))]);
    expect(s.table.x).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(s.table.metrics.get("loss")!.at(-1)).toBe(70);
  });

  it("sorts points out of order within a chunk", () => {
    const s = new BatchSeries();
    const c = chunk(0, 1, 3, { loss: [1, 2, 3] });
    c.step = [3, 1, 2];
    s.apply([added(0, c)]);
    expect(s.table.x).toEqual([1, 2, 3]);
    expect(s.table.metrics.get("loss")).toEqual([2, 3, 1]);
  });

  it("removes a deleted chunk", () => {
    const s = new BatchSeries();
    s.apply([added(0, chunk(0, 1, 2, { loss: [1, 2] })), added(1, chunk(1, 3, 2, { loss: [3, 4] }))]);
    s.apply([{ type: "removed", id: id("train", 0) }]);
    expect(s.table.x).toEqual([3, 4]);
    expect(s.table.metrics.get("loss")).toEqual([3, 4]);
  });

  it("respects n when arrays are longer, and tolerates short value arrays", () => {
    const s = new BatchSeries();
    const c = chunk(0, 1, 3, { loss: [1] });
    c.n = 2;
    s.apply([added(0, c)]);
    expect(s.table.x).toEqual([1, 2]);
    expect(s.table.metrics.get("loss")).toEqual([1, null]);
  });

  it("reports thinned chunks", () => {
    const s = new BatchSeries();
    s.apply([added(0, { ...chunk(0, 1, 2, { loss: [1, 2] }), thinned: true })]);
    expect(s.thinned).toBe(true);
  });

  it("handles 100,000 points with small incremental updates", () => {
    const s = new BatchSeries();
    const changes = range(50, (i) => i).map((i) => added(i!, chunk(i!, i! * 2000 + 1, 2000, { loss: range(2000, (j) => j / 2000), accuracy: range(2000, () => 0.5) })));
    s.apply(changes);
    expect(s.pointCount).toBe(100_000);
    const t0 = performance.now();
    s.apply([added(50, chunk(50, 100_001, 10, { loss: range(10, () => 0.1), accuracy: range(10, () => 0.9) }))]);
    expect(s.pointCount).toBe(100_010);
    expect(s.lastRewritten).toBe(10);
    expect(performance.now() - t0).toBeLessThan(50);
  });
});

describe("BatchStore", () => {
  it("keeps train, test and predict batches apart", () => {
    const st = new BatchStore();
    const changed = st.apply([added(0, chunk(0, 1, 3, { loss: [1, 2, 3] })), added(0, chunk(0, 1, 2, { loss: [9, 8] }, "test"))]);
    expect([...changed].sort()).toEqual(["test", "train"]);
    expect(st.kinds.get("train")!.table.x).toEqual([1, 2, 3]);
    expect(st.kinds.get("test")!.table.metrics.get("loss")).toEqual([9, 8]);
    expect(st.apply([{ type: "removed", id: "test-000000" }])).toEqual(new Set(["test"]));
    expect(st.kinds.get("test")!.pointCount).toBe(0);
  });
});

describe("the newest raw point (status card)", () => {
  it("is the last point of the highest-index chunk, with its epoch and batch", () => {
    const b = new BatchSeries();
    expect(b.newest()).toBeNull();
    b.apply([
      { type: "added", id: id("test", 1), data: chunk(1, 11, 7, { loss: Array(7).fill(1) }, "test") },
      { type: "added", id: id("test", 0), data: chunk(0, 1, 10, { loss: Array(10).fill(1) }, "test") },
    ]);
    expect(b.newest()).toEqual({ step: 17, time: 1_700_000_017, epoch: 2, batch: 7 });
  });
  it("ignores a chunk with no steps, and missing epoch/batch arrays read as null", () => {
    const bare: ChunkDoc = { index: 3, step: [5, 6], time: [1, 2] };
    expect(newestOfChunks([bare])).toEqual({ step: 6, time: 2, epoch: null, batch: null });
    expect(newestOfChunks([{ index: 4, step: [] }])).toBeNull();
    expect(newestOfChunks([])).toBeNull();
  });
});
