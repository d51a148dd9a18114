// Issue #21: what the phone shows must be true. Each block checks a text a person reads
// (axis ticks and titles, legend values, the pill, the card, the recents line) through the
// pure functions that write it; tests/e2e/truth.test.js checks the same on the built page.
import { describe, expect, it } from "vitest";
import type uPlot from "uplot";
import { rangeWithoutFirst, wallTick, xAxis, xText, yAxis } from "../src/chart-axes";
import { axisWidth, compact, duration, middleCut, stepTick } from "../src/chart-format";
import { buildEpochTable } from "../src/epoch-table";
import { estimateEta, wallPerStep } from "../src/eta";
import { recentMeta } from "../src/recent";
import { emptyTable, type KindSeries, type Table } from "../src/series";
import { liveProgress, parseSession } from "../src/status";
import {
  badFrom, epochFacts, kindsWithPoints, latestValues, noticeLines, partialEpoch, statusCard, xLabel,
} from "../src/views/session-model";

const base = { stroke: "#000", grid: {}, ticks: {} };
const ticks = (a: uPlot.Axis, vals: number[], incr = 1) =>
  (a.values as (u: unknown, v: number[], i: number, s: number, incr: number) => string[])(null, vals, 0, 0, incr);

describe("time axes (item 2)", () => {
  it("relative time: durations with units under a matching title; the legend likewise", () => {
    expect(ticks(xAxis("relative", "time since start", base), [0, 80, 7200])).toEqual(["0s", "1m 20s", "2h"]);
    expect(xAxis("relative", "time since start", base).label).toBe("time since start");
    expect(xText("relative")(63.449422121047974)).toBe("1m 3s");
    expect(xLabel("batches", "train", "relative")).toBe("time since start");
  });
  it("wall time: a time axis (uPlot's date ticks) titled as such, a date and time in the legend", () => {
    const a = xAxis("wall", xLabel("batches", "train", "wall"), base);
    expect(a.label).toBe("time of day");
    // Times of day, never raw Unix seconds: seconds shown only when ticks are seconds apart.
    const t = 1_796_420_400;
    expect(ticks(a, [t, t + 10]).every((x) => /^\d{2}:\d{2}:\d{2}$/.test(x))).toBe(true);
    expect(wallTick(t, 600)).toMatch(/^\d{2}:\d{2}$/);
    expect(wallTick(t, 86400)).not.toMatch(/\d{2}:\d{2}/);
    const legend = xText("wall")(1_796_420_400);
    expect(legend).not.toMatch(/1,?796/);
    expect(legend).toMatch(/\d{2}:\d{2}:\d{2}/);
  });
});

describe("ticks (item 7)", () => {
  it("epoch ticks are whole epochs; step ticks short; y ticks never cut", () => {
    expect(ticks(xAxis("epoch", "epoch", base), [1, 1.2, 1.4, 2])).toEqual(["1", "", "", "2"]);
    expect(ticks(xAxis("step", "step", base), [149_600, 149_800])).toEqual(["149.6k", "149.8k"]);
    expect(stepTick(999)).toBe("999");
    expect(compact(-1.5e20)).toBe("-1.5e20");
    expect(compact(0.0024)).toBe("0.0024");
    const size = yAxis(base).size as (u: unknown, v: string[]) => number;
    // 7 px a character at 12 px, plus the tick: "-1.5e20" and "0.0024" fit whole.
    expect(size(null, ["-1.5e20"])).toBeGreaterThanOrEqual(7 * 7 + 10);
    expect(size(null, ["0.0024"])).toBeGreaterThan(axisWidth(["0.1"]));
  });
  it("the first batch's compile time stays off the seconds-per-batch scale", () => {
    expect(rangeWithoutFirst([40, 0.05, 0.06, 0.05])![1]).toBeLessThan(0.1);
    expect(rangeWithoutFirst([0.06, 0.05, 0.06])).toBeNull();
  });
  it("durations read as units", () => {
    expect([duration(5.25), duration(42.4), duration(80), duration(7200), duration(119.7)]).toEqual(["5.3s", "42s", "1m 20s", "2h", "2m"]);
  });
});

describe("NaN (item 3)", () => {
  const epochs = buildEpochTable([1, 2, 3, 4].map((e) => ({
    kind: "train", epoch: e, step: e * 10, names: ["loss"], values: [e < 3 ? 2 / e : Number.NaN], time: 100 + e,
  })));
  it("gaps from the first NaN on read NaN in the legend", () => {
    expect(badFrom(epochs, "loss")).toEqual({ badFrom: 2, badText: "NaN" });
    expect(badFrom(epochs, "accuracy")).toBeNull();
  });
  it("the pill of a finished run that went NaN says so", () => {
    const info = parseSession({ status: "finished", mode: "fit", nan: true, plan: { epochs: 4, steps: 10 } });
    expect(statusCard(info, epochs, new Map(), epochFacts([], 0), 0).label).toBe("Finished · NaN");
    const fine = parseSession({ status: "finished", mode: "fit", plan: { epochs: 4, steps: 10 } });
    expect(statusCard(fine, null, new Map(), epochFacts([], 0), 0).label).toBe("Finished");
  });
  it("recents: a NaN hint, and the age from the run's own end", () => {
    const now = 10_000_000;
    const r = { sid: "x", name: "n", status: "finished", seen: now - 1000, ended: now - 5 * 60_000, nan: true };
    expect(recentMeta(r, now, (ms) => `${Math.round(ms / 60_000)} min ago`)).toBe("finished · NaN · 5 min ago");
  });
});

describe("a stopped run's last epoch (item 4)", () => {
  const docs = [1, 2, 3].map((e) => ({ kind: "train", epoch: e, step: e < 3 ? e * 125 : 251, names: ["loss"], values: [1 / e], time: 100 + e }));
  const epochs = buildEpochTable(docs);
  const info = parseSession({ status: "stopped", mode: "fit", plan: { epochs: 10, steps: 125 }, progress: { epoch: 3, batch: 1, step: 251 } });
  it("is marked partial, with a notice", () => {
    const p = partialEpoch(epochs, info);
    expect(p).toEqual({ epoch: 3, batches: 1, of: 125 });
    expect(noticeLines(epochs, null, "epochs", false, p).join(" ")).toMatch(/Epoch 3 is partial: the run ended after 1 of its 125 batches/);
    expect(xText("epoch", 3)(3)).toBe("3 (partial)");
    expect(partialEpoch(epochs, { ...info, status: "running" })).toBeNull();
  });
  it("the card says batch 1 of the epoch, labelled as such (not 'Step 125 of 125')", () => {
    const card = statusCard(info, epochs, new Map(), epochFacts(docs, 1), 0);
    expect([card.stepLabel, card.step]).toEqual(["Batch of epoch", "1 of 125"]);
    expect(liveProgress(info, { epoch: 3, step: 251, time: 103 }, null).batch).toBe(1);
  });
});

describe("long names (item 5)", () => {
  it("cut in the middle, the distinguishing end kept", () => {
    const names = ["customer_churn_probability_val", "customer_churn_probability_train", "customer_churn_probability_auc"];
    const cut = names.map((n) => middleCut(n, 24));
    expect(new Set(cut).size).toBe(3);
    expect(cut[0]).toBe("customer_ch…bability_val");
    expect(cut.every((c) => [...c].length <= 24)).toBe(true);
    expect(middleCut("loss")).toBe("loss");
  });
});

describe("ETA (item 6)", () => {
  const plan = { epochs: 1, steps: 100 };
  // 0.1 s inside each batch, 0.5 s between batches (a slow input pipeline).
  const steps = Array.from({ length: 11 }, (_, i) => i + 1);
  const times = steps.map((s) => 1000 + s * 0.5);
  const base = { plan, progress: { epoch: 1, batch: 11, step: 11 }, epochSeconds: [], batchSeconds: steps.map(() => 0.1), batchSteps: steps, batchTimes: times };
  it("from the wall time between batches", () => {
    expect(wallPerStep(steps, times)).toBeCloseTo(0.5);
    expect(estimateEta({ ...base, status: "running", sincePoint: 0 })).toBeCloseTo(89 * 0.5);
  });
  it("counts down as time passes after the newest batch", () => {
    expect(estimateEta({ ...base, status: "running", sincePoint: 4 })).toBeCloseTo(89 * 0.5 - 4);
  });
  it("no ETA on a stalled (perhaps dead) run", () => {
    expect(estimateEta({ ...base, status: "stalled", sincePoint: 0 })).toBeNull();
  });
});

describe("system tab and latest values (items 1, 7)", () => {
  const s = (n: number): KindSeries => ({ table: { ...emptyTable(), x: Array.from({ length: n }, (_, i) => i) }, pointCount: n, thinned: false });
  it("a picked kind whose feed is still reading keeps its tab", () => {
    const kinds = new Map([["train", s(3)], ["system", s(0)]]);
    expect(kindsWithPoints(kinds)).toEqual(["train"]);
    expect(kindsWithPoints(kinds, "system")).toEqual(["train", "system"]);
  });
  it("Latest values: newer epoch rows win over the session document", () => {
    const info = parseSession({ status: "running", heartbeat: 100_000, latest: [{ name: "val_loss", value: 0.9 }, { name: "loss", value: 1 }] });
    const t: Table = buildEpochTable([{ kind: "train", epoch: 2, step: 20, names: ["val_loss"], values: [0.7], time: 101 }]);
    expect(latestValues(info, t, null)).toEqual([{ name: "val_loss", value: 0.7 }, { name: "loss", value: 1 }]);
    expect(latestValues(info, buildEpochTable([{ kind: "train", epoch: 2, step: 20, names: ["val_loss"], values: [0.7], time: 99 }]), null)[0].value).toBe(0.9);
  });
});
