import { describe, expect, it } from "vitest";
import {
  MAX_COMPARE,
  RUN_COLORS,
  alignMetric,
  comparePath,
  metricNames,
  parseCompareInput,
  parseCompareSearch,
  pointsPerRun,
  runSeries,
  type RunSeries,
} from "../src/compare-model";
import { buildEpochTable } from "../src/epoch-table";
import { parseRoute } from "../src/router";

const A = "x7kq2m9hfw4cpd3ntr";
const B = "abcdefghjkmnpqrstu";
const C = "23456789abcdefghjk";

describe("which sessions", () => {
  it("reads IDs, grouped IDs and pasted links separated by commas, spaces or new lines", () => {
    const e = parseCompareInput(` ${A},x7kq2m-9hfw4c-pd3ntr\n https://x.web.app/s/${B}#k=secret ; zzzzzzz `);
    expect(e.map((x) => [x.sid, x.problem])).toEqual([
      [A, null],
      [A, "listed twice"],
      [B, null],
      ["zzzzzzz", null],
    ]);
  });
  it("marks what is not a session ID, and compares the others", () => {
    const e = parseCompareInput(`${A},abc0,${B}`);
    expect(e).toEqual([
      { input: A, sid: A, problem: null },
      { input: "abc0", sid: null, problem: "not a session ID" },
      { input: B, sid: B, problem: null },
    ]);
  });
  it(`compares at most ${MAX_COMPARE}`, () => {
    const ids = [A, B, C, "zzzzzzz", "yyyyyyy", "xxxxxxx", "wwwwwww"];
    const e = parseCompareInput(ids.join(","));
    expect(e.filter((x) => x.problem == null).length).toBe(MAX_COMPARE);
    expect(e[5].problem).toMatch(/more than 5/);
    expect(RUN_COLORS.length).toBe(MAX_COMPARE);
  });
  it("the URL holds the state: ids and alignment", () => {
    expect(comparePath([A, B])).toBe(`/compare?ids=${A},${B}`);
    expect(comparePath([A, B], "step")).toBe(`/compare?ids=${A},${B}&x=step`);
    expect(parseCompareSearch(`?ids=${A},${B}&x=step`)).toEqual({ ids: `${A},${B}`, align: "step" });
    expect(parseCompareSearch(`?ids=${A}%2C${B}`)).toEqual({ ids: `${A},${B}`, align: "epoch" });
    expect(parseCompareSearch("")).toEqual({ ids: "", align: "epoch" });
    expect(parseRoute("/compare")).toEqual({ name: "compare" });
    expect(parseRoute("/compare/")).toEqual({ name: "compare" });
  });
});

describe("series on shared axes", () => {
  const r1: RunSeries = { x: [1, 2, 3], metrics: new Map([["loss", [0.9, 0.5, 0.3]], ["acc", [0.1, 0.5, 0.7]]]), names: ["loss", "acc"] };
  const r2: RunSeries = { x: [1, 2], metrics: new Map([["loss", [1.0, null]], ["val_loss", [1.1, 1.2]]]), names: ["loss", "val_loss"] };
  const r3: RunSeries = { x: [2.5, 4], metrics: new Map([["loss", [0.4, NaN]]]), names: ["loss"] };

  it("every metric once, first-seen order", () => {
    expect(metricNames([r1, r2, r3])).toEqual(["loss", "acc", "val_loss"]);
  });
  it("aligns runs on the union of their x: undefined where a run has no point, null for a gap", () => {
    const d = alignMetric([r1, r2, r3], "loss");
    expect(d[0]).toEqual([1, 2, 2.5, 3, 4]);
    expect(d[1]).toEqual([0.9, 0.5, undefined, 0.3, undefined]);
    expect(d[2]).toEqual([1.0, null, undefined, undefined, undefined]);
    expect(d[3]).toEqual([undefined, undefined, 0.4, undefined, null]);
    expect(pointsPerRun(d)).toEqual([3, 1, 1]);
  });
  it("a run without the metric has an empty series, and its x does not widen the axis", () => {
    const d = alignMetric([r1, r2], "acc");
    expect(d[0]).toEqual([1, 2, 3]);
    expect(d[2]).toEqual([undefined, undefined, undefined]);
  });
  it("from epoch documents: one point per train epoch", () => {
    const t = buildEpochTable([
      { kind: "train", epoch: 2, names: ["loss"], values: [0.5] },
      { kind: "train", epoch: 1, names: ["loss"], values: [0.9] },
      { kind: "evaluate", epoch: 1, names: ["loss"], values: [0.1] },
    ]);
    const s = runSeries(t);
    expect(s.x).toEqual([1, 2]);
    expect(alignMetric([s], "loss")).toEqual([[1, 2], [0.9, 0.5]]);
    expect(runSeries(null)).toEqual({ x: [], metrics: new Map(), names: [] });
  });
});
