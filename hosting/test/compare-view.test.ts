// What the compare page shows (issue 21 item 8): charts per metric group in the session page's
// order, every run's value at the crosshair, smoothing/log per run, the config diff.
import { describe, expect, it } from "vitest";
import { configDiff } from "../src/compare-config";
import type { RunSeries } from "../src/compare-model";
import { compareGroups, drawnSeries, groupChartData, groupNames, readoutTexts, valueNear } from "../src/compare-series";
import type { ConfigEntry } from "../src/status";

const run = (x: number[], m: Record<string, (number | null)[]>): RunSeries => ({
  x, metrics: new Map(Object.entries(m)), names: Object.keys(m),
});

describe("charts: train and validation twins together, the session page's order", () => {
  it("one chart per metric group, loss first, then the other losses, then A→Z", () => {
    const a = run([1, 2], { accuracy: [0.5, 0.6], val_accuracy: [0.4, 0.5], loss: [1, 0.5], val_loss: [1.1, 0.6] });
    const b = run([1], { loss: [2], aux_loss: [0.3], auc: [0.7], val_aux_loss: [0.4] });
    const groups = compareGroups([a, b]);
    expect(groups.map((g) => g.title)).toEqual(["loss", "aux_loss", "accuracy", "auc"]);
    expect(groups.map(groupNames)).toEqual([["loss", "val_loss"], ["aux_loss", "val_aux_loss"], ["accuracy", "val_accuracy"], ["auc"]]);
  });
  it("a chart's series: per run its train line then its dashed val line (raw copies first when smoothing)", () => {
    const a = run([1, 2], { loss: [1, 0.5], val_loss: [1.1, 0.6] });
    const b = run([1, 2, 3], { loss: [2, 1, 0.8] });
    const plain = groupChartData([a, b], ["loss", "val_loss"], { smooth: 0, log: false });
    expect(plain.slots).toEqual([
      { run: 0, name: 0, kind: "line" }, { run: 0, name: 1, kind: "line" },
      { run: 1, name: 0, kind: "line" }, { run: 1, name: 1, kind: "line" },
    ]);
    expect(plain.data).toEqual([[1, 2, 3], [1, 0.5, undefined], [1.1, 0.6, undefined], [2, 1, 0.8], [undefined, undefined, undefined]]);
    const smooth = groupChartData([a, b], ["loss", "val_loss"], { smooth: 0.5, log: false });
    expect(smooth.slots.map((s) => s.kind)).toEqual(["raw", "line", "raw", "line", "raw", "line", "raw", "line"]);
    expect(smooth.lines.length).toBe(5);
  });
  it("smoothing runs over each run's own points: another run's x does not cut its line", () => {
    const a = run([1, 3], { loss: [1, 0] });
    const b = run([2, 4], { loss: [5, 5] });
    const d = groupChartData([a, b], ["loss"], { smooth: 0.5, log: false });
    expect(d.lines[0]).toEqual([1, 2, 3, 4]);
    // Run A: points at x=1 and 3 only; undefined (passed over), not null (a gap), between.
    expect(d.lines[1][1]).toBeUndefined();
    expect(d.lines[1][0]).toBeCloseTo(1);
    expect(d.lines[1][2]).toBeCloseTo(1 / 3); // debiased EMA of 1, 0 at w=0.5
  });
  it("log y: non-positive values are gaps", () => {
    expect(drawnSeries(run([1, 2, 3], { loss: [1, 0, -1] }), ["loss"], { smooth: 0, log: true }).metrics.get("loss")).toEqual([1, null, null]);
  });
});

describe("the readout: every run's value at the crosshair", () => {
  const a = run([1, 2, 3], { loss: [0.9, 0.5, 0.25], val_loss: [1, 0.6, 0.3] });
  const b = run([1, 2], { loss: [1.4, 1.2] });
  const c = run([0.5, 2.5], { loss: [7, 8] });
  const d = groupChartData([a, b, c], ["loss", "val_loss"], { smooth: 0, log: false });

  it("at epoch 2: each run's train and val values; a run without val says —", () => {
    const t = readoutTexts(d.lines, 3, 2, d.lines[0].indexOf(2), "epoch", "epoch");
    expect(t.x).toBe("epoch 2");
    expect(t.values).toEqual([["0.5", "0.6"], ["1.2", "—"], ["8", "—"]]); // c: 2.5 is nearer than 0.5
  });
  it("between a run's points, its nearest point; past its last point, —", () => {
    const t = readoutTexts(d.lines, 3, 2, d.lines[0].indexOf(3), "step", "step");
    expect(t.x).toBe("step 3");
    // c has 0.5 and 2.5: 3 is past its last point; b ends at 2.
    expect(t.values).toEqual([["0.25", "0.3"], ["—", "—"], ["—", "—"]]);
    expect(valueNear([1, 2, 2.4, 3], [1, undefined, undefined, 3], 2)).toBe(3);
    expect(valueNear([1, 2, 2.4, 3], [1, undefined, undefined, 3], 1)).toBe(1);
  });
  it("no crosshair: the latest value of each run", () => {
    const t = readoutTexts(d.lines, 3, 2, null, "epoch", "epoch");
    expect(t.x).toBe("Latest");
    expect(t.values).toEqual([["0.25", "0.3"], ["1.2", "—"], ["8", "—"]]);
  });
  it("relative time reads as a duration", () => {
    const r = groupChartData([run([0, 90], { loss: [1, 2] })], ["loss"], { smooth: 0, log: false });
    expect(readoutTexts(r.lines, 1, 1, 1, "relative", "time").x).toBe("time 1m 30s");
  });
});

describe("config diff", () => {
  const cfg = (o: Record<string, ConfigEntry["value"]>): ConfigEntry[] => Object.entries(o).map(([name, value]) => ({ name, value }));
  it("keys whose values differ first, the same ones apart; a missing key differs; 1 and \"1\" differ", () => {
    const { differ, same } = configDiff([
      cfg({ learning_rate: 0.001, batch_size: 32, optimizer: "adam", seed: 1, dropout: 0.2 }),
      cfg({ learning_rate: 0.01, batch_size: 32, optimizer: "adam", seed: "1" }),
    ]);
    expect(differ).toEqual([
      { name: "learning_rate", values: ["0.001", "0.01"] },
      { name: "seed", values: ["1", "1"] },
      { name: "dropout", values: ["0.2", null] },
    ]);
    expect(same.map((r) => r.name)).toEqual(["batch_size", "optimizer"]);
  });
  it("no configs: nothing to show", () => {
    expect(configDiff([[], []])).toEqual({ differ: [], same: [] });
  });
});
