import { describe, expect, it } from "vitest";
import {
  STALL_MS,
  stallThresholdMs,
  effectiveStatus,
  estimateEta,
  formatAge,
  formatDuration,
  formatValue,
  fractionDone,
  formatConfigValue,
  lastActivityMs,
  liveProgress,
  ofTotal,
  parseConfig,
  parseSession,
  runKind,
  toMs,
} from "../src/status";

const ts = (ms: number) => ({ toMillis: () => ms });

describe("lastActivityMs", () => {
  it("takes the newest of heartbeat (ms) and epoch/batch times (s)", () => {
    expect(lastActivityMs(1_000_000, 900, 950)).toBe(1_000_000);
    expect(lastActivityMs(1_000_000, 1100, 950)).toBe(1_100_000);
    expect(lastActivityMs(1_000_000, null, 1200.5)).toBe(1_200_500);
    expect(lastActivityMs(null, null, null)).toBeNull();
    expect(lastActivityMs(null, 5, null)).toBe(5000);
  });
});

describe("effectiveStatus", () => {
  const now = 10_000_000;
  it("is stalled when running and the newest activity is older than the threshold", () => {
    expect(effectiveStatus("running", now - STALL_MS - 1, now)).toBe("stalled");
    expect(effectiveStatus("running", now - STALL_MS, now)).toBe("running");
    expect(effectiveStatus("running", now - 5000, now)).toBe("running");
    expect(effectiveStatus("running", now - 5000, now, 1000)).toBe("stalled");
  });
  it("a recent chunk or epoch keeps an old heartbeat from looking stalled", () => {
    const last = lastActivityMs(now - 10 * 60_000, null, (now - 3000) / 1000);
    expect(effectiveStatus("running", last, now)).toBe("running");
  });
  it("never turns ended sessions into stalled", () => {
    for (const s of ["finished", "crashed", "stopped"]) expect(effectiveStatus(s, 0, now)).toBe(s);
  });
  it("keeps a stalled status set by the sweep function, and unknown strings as unknown", () => {
    expect(effectiveStatus("stalled", now, now)).toBe("stalled");
    expect(effectiveStatus("paused", now, now)).toBe("unknown");
    expect(effectiveStatus("running", null, now)).toBe("running");
  });
});

describe("estimateEta", () => {
  const plan = { epochs: 10, steps: 100 };
  it("uses epoch times for later epochs and batch times for the rest of this one", () => {
    const eta = estimateEta({ status: "running", plan, progress: { epoch: 3, batch: 40, step: 240 }, epochSeconds: [12, 12], batchSeconds: [0.1, 0.1] });
    // 60 batches × 0.1 s + 7 epochs × 12 s
    expect(eta).toBeCloseTo(6 + 84);
  });
  it("moves to the next epoch when the last batch of one is done", () => {
    const eta = estimateEta({ status: "running", plan, progress: { epoch: 3, batch: 100, step: 300 }, epochSeconds: [10, 10], batchSeconds: [0.1, 0.1] });
    expect(eta).toBeCloseTo(100 * 0.1 + 6 * 10);
  });
  it("works from batch times alone before two epochs have ended", () => {
    const eta = estimateEta({ status: "running", plan, progress: { epoch: 1, batch: 10, step: 10 }, epochSeconds: [], batchSeconds: [0.2, 0.2, 0.2] });
    expect(eta).toBeCloseTo(90 * 0.2 + 9 * 100 * 0.2);
    // One epoch timing is not enough to use: still batch times.
    const one = estimateEta({ status: "running", plan, progress: { epoch: 2, batch: 10, step: 110 }, epochSeconds: [60], batchSeconds: [0.2, 0.2] });
    expect(one).toBeCloseTo(90 * 0.2 + 8 * 100 * 0.2);
  });
  it("uses only the most recent timings, skipping gaps and NaN", () => {
    const eta = estimateEta({ status: "running", plan: { epochs: 2, steps: 10 }, progress: { epoch: 1, batch: 10, step: 10 }, epochSeconds: [100, null, 5], batchSeconds: [NaN, 1, 1] });
    // next epoch: 10 batches × 1 s; no later epochs
    expect(eta).toBeCloseTo(10);
  });
  it("is none until two timings exist: never an ETA from one batch", () => {
    // The first batch (0.02 s) alone would say 2 s; the run really takes minutes.
    expect(estimateEta({ status: "running", plan: { epochs: 1, steps: 100 }, progress: { epoch: 1, batch: 1, step: 1 }, epochSeconds: [], batchSeconds: [0.02] })).toBeNull();
    expect(estimateEta({ status: "running", plan: { epochs: 1, steps: 100 }, progress: { epoch: 1, batch: 2, step: 2 }, epochSeconds: [], batchSeconds: [0.02, 0.34] })).toBeCloseTo(98 * 0.18);
    expect(estimateEta({ status: "running", plan: { epochs: 5, steps: null }, progress: { epoch: 1, batch: 0, step: 0 }, epochSeconds: [30], batchSeconds: [] })).toBeNull();
    expect(estimateEta({ status: "running", plan: { epochs: 5, steps: null }, progress: { epoch: 2, batch: 0, step: 0 }, epochSeconds: [30, 30], batchSeconds: [] })).not.toBeNull();
  });
  it("is zero when every planned epoch is done, null when unknown or not running", () => {
    expect(estimateEta({ status: "running", plan, progress: { epoch: 10, batch: 100, step: 1000 }, epochSeconds: [1, 1], batchSeconds: [1, 1] })).toBe(0);
    expect(estimateEta({ status: "finished", plan, progress: { epoch: 3, batch: 1, step: 201 }, epochSeconds: [1, 1], batchSeconds: [1, 1] })).toBeNull();
    expect(estimateEta({ status: "running", plan: { epochs: null, steps: null }, progress: null, epochSeconds: [1, 1], batchSeconds: [1, 1] })).toBeNull();
    expect(estimateEta({ status: "running", plan, progress: { epoch: 1, batch: 0, step: 0 }, epochSeconds: [], batchSeconds: [] })).toBeNull();
    expect(estimateEta({ status: "running", plan, progress: null, epochSeconds: [1, 1], batchSeconds: [1, 1] })).toBeNull();
  });
  it("without a step plan, counts whole epochs", () => {
    const eta = estimateEta({ status: "running", plan: { epochs: 4, steps: null }, progress: { epoch: 2, batch: 7, step: 50 }, epochSeconds: [20, 20], batchSeconds: [] });
    expect(eta).toBeCloseTo(10 + 2 * 20);
  });
  it("epoch-only runs count the current epoch down from the end of the last one", () => {
    const eta = estimateEta({ status: "running", plan: { epochs: 5, steps: 100 }, progress: { epoch: 2, batch: 100, step: 200 }, epochSeconds: [30, 30], batchSeconds: [], sinceEpochEnd: 10 });
    expect(eta).toBeCloseTo(20 + 2 * 30);
  });
  it("evaluate and predict: the call's remaining batches, never the fit's epochs", () => {
    const evalPlan = { epochs: null, steps: 63 };
    expect(estimateEta({ status: "running", plan: evalPlan, kind: "test", progress: { epoch: 1, batch: 25, step: 25 }, epochSeconds: [100, 100], batchSeconds: [0.5, 0.5] })).toBeCloseTo(38 * 0.5);
    expect(estimateEta({ status: "running", plan: evalPlan, kind: "predict", progress: { epoch: 2, batch: 63, step: 126 }, epochSeconds: [], batchSeconds: [0.5, 0.5] })).toBe(0);
    expect(estimateEta({ status: "running", plan: evalPlan, kind: "test", progress: null, epochSeconds: [], batchSeconds: [0.5, 0.5] })).toBeNull();
  });
  it("a fit that continues an earlier fit's epoch numbers past its plan has no ETA (not 0)", () => {
    expect(estimateEta({ status: "running", plan: { epochs: 3, steps: 10 }, progress: { epoch: 7, batch: 5, step: 65 }, epochSeconds: [1, 1], batchSeconds: [0.1, 0.1] })).toBeNull();
  });
});

describe("liveProgress", () => {
  const fit = { mode: "fit", plan: { epochs: 10, steps: 100 }, progress: { epoch: 2, batch: 40, step: 140 } };
  it("takes the newest batch point when it is ahead of the session document", () => {
    const l = liveProgress(fit, null, { step: 260, time: 5, epoch: 3, batch: 60 });
    expect(l).toMatchObject({ kind: "train", epochLabel: "Epoch", stepLabel: "Batch of epoch", epoch: 3, epochTotal: 10, batch: 60, batchTotal: 100, step: 260 });
    expect(l.fraction).toBeCloseTo(260 / 1000);
    expect(ofTotal(l.epoch, l.epochTotal)).toBe("3 of 10");
  });
  it("counts on from the document's progress when the point has no epoch/batch", () => {
    expect(liveProgress(fit, null, { step: 175, time: 5 })).toMatchObject({ epoch: 2, batch: 75, step: 175 });
    expect(liveProgress(fit, null, { step: 420, time: 5 })).toMatchObject({ epoch: 5, batch: 20, step: 420 });
    expect(liveProgress({ ...fit, progress: { epoch: 0, batch: 0, step: 0 } }, null, { step: 3, time: 5 })).toMatchObject({ epoch: 1, batch: 3 });
  });
  it("an epoch row means that epoch is complete, even with the heartbeat minutes behind", () => {
    const l = liveProgress(fit, { epoch: 4, step: 400, time: 9 }, { step: 399, time: 8, epoch: 4, batch: 99 });
    expect(l).toMatchObject({ epoch: 4, batch: 100, step: 400 });
    expect(l.fraction).toBeCloseTo(0.4);
    // …but a batch point of the next epoch is further still.
    expect(liveProgress(fit, { epoch: 4, step: 400, time: 9 }, { step: 405, time: 10, epoch: 5, batch: 5 })).toMatchObject({ epoch: 5, batch: 5 });
  });
  it("an older point or epoch row does not move progress back", () => {
    expect(liveProgress(fit, { epoch: 1, step: 100, time: 1 }, { step: 120, time: 1, epoch: 2, batch: 20 })).toMatchObject({ epoch: 2, batch: 40, step: 140 });
  });
  it("epoch-only sessions: progress from epoch rows alone", () => {
    const l = liveProgress({ mode: "fit", plan: { epochs: 5, steps: 20 }, progress: { epoch: 1, batch: 0, step: 0 } }, { epoch: 3, step: 60, time: 1 }, null);
    expect(l).toMatchObject({ epoch: 3, epochTotal: 5, batch: 20, batchTotal: 20 });
    expect(l.fraction).toBeCloseTo(0.6);
    const noSteps = liveProgress({ mode: "fit", plan: { epochs: 5, steps: null }, progress: null }, { epoch: 2, step: null, time: 1 }, null);
    expect(noSteps).toMatchObject({ epoch: 2, epochTotal: 5 });
    expect(noSteps.fraction).toBeCloseTo(0.4);
  });
  it("nothing known yet: dashes", () => {
    const l = liveProgress({ mode: "", plan: { epochs: null, steps: null }, progress: null }, null, null);
    expect(l).toMatchObject({ epoch: null, batch: null, fraction: null, progress: null });
    expect(ofTotal(l.epoch, l.epochTotal)).toBe("—");
  });
  it("a second fit that continues the epoch numbers past its plan: no total, fraction or ETA", () => {
    const l = liveProgress({ mode: "fit", plan: { epochs: 3, steps: 10 }, progress: { epoch: 5, batch: 10, step: 50 } }, null, { step: 65, time: 1, epoch: 7, batch: 5 });
    expect(l).toMatchObject({ epoch: 7, epochTotal: null, batch: 5, batchTotal: 10, fraction: null, progress: null });
    expect(ofTotal(l.epoch, l.epochTotal)).toBe("7");
  });
  it("a re-fit uses this run's plan for the totals", () => {
    const l = liveProgress({ mode: "fit", plan: { epochs: 8, steps: 5 }, progress: { epoch: 5, batch: 10, step: 50 } }, null, { step: 57, time: 1, epoch: 6, batch: 2 });
    expect(l).toMatchObject({ epoch: 6, epochTotal: 8, batch: 2, batchTotal: 5 });
  });
  it("evaluate: the test points of this call, out of the evaluate plan; never the fit's step", () => {
    const info = { mode: "evaluate", plan: { epochs: null, steps: 63 }, progress: { epoch: 5, batch: 100, step: 500 } };
    const l = liveProgress(info, { epoch: 5, step: 500, time: 100 }, { step: 25, time: 120, epoch: 1, batch: 25 }, 100);
    expect(l).toMatchObject({ kind: "test", epochLabel: "Evaluate", stepLabel: "Batch", epoch: 1, batch: 25, batchTotal: 63, epochTotal: null });
    expect(l.fraction).toBeCloseTo(25 / 63);
    expect(ofTotal(l.batch, l.batchTotal)).toBe("25 of 63");
    // Before its first point arrives, the newest test point is the fit's validation: not shown.
    const early = liveProgress(info, null, { step: 20, time: 90, epoch: 5, batch: 20 }, 100);
    expect(early).toMatchObject({ epoch: null, batch: null, fraction: null, progress: null, batchTotal: 63 });
  });
  it("predict: the predict points, labelled as such", () => {
    const l = liveProgress({ mode: "predict", plan: { epochs: null, steps: 10 }, progress: { epoch: 3, batch: 9, step: 90 } }, null, { step: 14, time: 5, epoch: 2, batch: 4 });
    expect(l).toMatchObject({ kind: "predict", epochLabel: "Predict", epoch: 2, batch: 4, batchTotal: 10 });
    expect(runKind("predict")).toBe("predict");
    expect(runKind("evaluate")).toBe("test");
    expect(runKind("custom")).toBe("train");
  });
});

describe("fractionDone", () => {
  it("counts batches across epochs", () => {
    expect(fractionDone({ epochs: 4, steps: 10 }, { epoch: 2, batch: 5, step: 15 })).toBeCloseTo(15 / 40);
    expect(fractionDone({ epochs: 4, steps: null }, { epoch: 2, batch: 5, step: 15 })).toBeCloseTo(0.5);
    expect(fractionDone({ epochs: null, steps: 10 }, { epoch: 2, batch: 5, step: 15 })).toBeNull();
  });
});

describe("parseSession", () => {
  it("normalises a stored session document", () => {
    const s = parseSession({
      schema: 1, status: "crashed", mode: "fit", name: "<b>run</b>", created: ts(1000), heartbeat: ts(5000), ended: null,
      plan: { epochs: 3, steps: 10 }, progress: { epoch: 2, batch: 4, step: 14 }, metrics: ["loss", 3],
      latest: [{ name: "loss", value: NaN }, { name: "acc", value: "x" }, null], error: { type: "ValueError", message: "bad <input>" },
      versions: { python: "3.12", keras: 3 }, nan: true,
    });
    expect(s).toMatchObject({ status: "crashed", name: "<b>run</b>", createdMs: 1000, heartbeatMs: 5000, endedMs: null, metrics: ["loss"], nan: true });
    expect(s.latest).toEqual([{ name: "loss", value: NaN }, { name: "acc", value: null }]);
    expect(s.error).toEqual({ type: "ValueError", message: "bad <input>" });
    expect(s.versions).toEqual({ python: "3.12" });
  });
  it("reads config (names as values; non-numbers kept as text) and run", () => {
    const s = parseSession({ run: 2, config: [{ name: "lr", value: 0.001 }, { name: "optimizer.name", value: "adam" }, { name: "flag", value: true }, { name: "none", value: null }, { value: 3 }, "x"] });
    expect(s.run).toBe(2);
    expect(s.config).toEqual([
      { name: "lr", value: 0.001 }, { name: "optimizer.name", value: "adam" }, { name: "flag", value: true }, { name: "none", value: null },
    ]);
    expect(parseConfig(undefined)).toEqual([]);
    expect(parseConfig([{ name: "obj", value: { a: 1 } }])).toEqual([{ name: "obj", value: '{"a":1}' }]);
    expect(formatConfigValue(0.001)).toBe("0.001");
    expect(formatConfigValue(1e-7)).toBe("1e-7");
    expect(formatConfigValue("Adam(lr=0.1)")).toBe("Adam(lr=0.1)");
    expect(formatConfigValue(false)).toBe("false");
    expect(formatConfigValue(null)).toBe("null");
    expect(formatConfigValue(NaN)).toBe("NaN");
  });
  it("fills defaults for a bare document", () => {
    expect(parseSession({})).toMatchObject({ schema: 1, status: "unknown", plan: { epochs: null, steps: null }, progress: null, error: null });
  });
  it("toMs reads Timestamps, Dates and numbers", () => {
    expect(toMs(ts(5))).toBe(5);
    expect(toMs(new Date(7))).toBe(7);
    expect(toMs("x")).toBeNull();
  });
});

describe("formatting", () => {
  it("durations", () => {
    expect(formatDuration(12.4)).toBe("12 s");
    expect(formatDuration(184)).toBe("3 min 04 s");
    expect(formatDuration(3725)).toBe("1 h 02 min");
    expect(formatDuration(null)).toBe("—");
  });
  it("ages", () => {
    expect(formatAge(1000)).toBe("just now");
    expect(formatAge(42_000)).toBe("42 s ago");
    expect(formatAge(180_000)).toBe("3 min ago");
  });
  it("values", () => {
    expect(formatValue(NaN)).toBe("NaN");
    expect(formatValue(Infinity)).toBe("+Inf");
    expect(formatValue(0.123456789)).toBe("0.12346");
    expect(formatValue(1e-5)).toBe("1.000e-5");
  });
});

describe("a second fit on the same callback (plan.first_epoch)", () => {
  it("shows the session's epoch of the run's total and the run's own fraction", () => {
    const info = parseSession({ status: "running", mode: "fit", plan: { epochs: 8, steps: 10, first_epoch: 6 }, progress: { epoch: 7, batch: 10, step: 70 } });
    const l = liveProgress(info, null, null);
    expect(l.epoch).toBe(7);
    expect(l.epochTotal).toBe(8);
    expect(l.fraction).toBeCloseTo(2 / 3);
    expect(ofTotal(l.epoch, l.epochTotal)).toBe("7 of 8");
  });
  it("an older document without first_epoch counts from epoch 1", () => {
    const info = parseSession({ status: "running", mode: "fit", plan: { epochs: 4, steps: 10 }, progress: { epoch: 2, batch: 10, step: 20 } });
    expect(liveProgress(info, null, null).fraction).toBeCloseTo(0.5);
  });
});

describe("stalled is judged against the declared heartbeat (issue 18)", () => {
  const now = 1_800_000_000_000;
  it("heartbeat_every 180: quiet between heartbeats is not stalled, 3 missed periods are", () => {
    const info = parseSession({ status: "running", heartbeat_every: 180 });
    expect(info.heartbeatEvery).toBe(180);
    expect(effectiveStatus("running", now - 200_000, now, stallThresholdMs(info))).toBe("running");
    expect(effectiveStatus("running", now - 530_000, now, stallThresholdMs(info))).toBe("running");
    expect(effectiveStatus("running", now - 541_000, now, stallThresholdMs(info))).toBe("stalled");
  });
  it("no or a malformed declaration keeps the old threshold", () => {
    for (const d of [{}, { heartbeat_every: "x" }, { heartbeat_every: -1 }, { heartbeat_every: true }]) {
      const info = parseSession({ status: "running", ...d });
      expect(stallThresholdMs(info)).toBe(STALL_MS);
    }
  });
});
