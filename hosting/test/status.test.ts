import { describe, expect, it } from "vitest";
import {
  STALL_MS,
  effectiveStatus,
  estimateEta,
  formatAge,
  formatDuration,
  formatValue,
  fractionDone,
  lastActivityMs,
  parseSession,
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
    const eta = estimateEta({ status: "running", plan, progress: { epoch: 3, batch: 100, step: 300 }, epochSeconds: [10], batchSeconds: [0.1] });
    expect(eta).toBeCloseTo(100 * 0.1 + 6 * 10);
  });
  it("works from batch times alone before the first epoch ends", () => {
    const eta = estimateEta({ status: "running", plan, progress: { epoch: 1, batch: 10, step: 10 }, epochSeconds: [], batchSeconds: [0.2, 0.2, 0.2] });
    expect(eta).toBeCloseTo(90 * 0.2 + 9 * 100 * 0.2);
  });
  it("uses only the most recent timings, skipping gaps and NaN", () => {
    const eta = estimateEta({ status: "running", plan: { epochs: 2, steps: 10 }, progress: { epoch: 1, batch: 10, step: 10 }, epochSeconds: [100, null, 5], batchSeconds: [NaN, 1] });
    // next epoch: 10 batches × 1 s; no later epochs
    expect(eta).toBeCloseTo(10);
  });
  it("is zero when every planned epoch is done, null when unknown or not running", () => {
    expect(estimateEta({ status: "running", plan, progress: { epoch: 10, batch: 100, step: 1000 }, epochSeconds: [1], batchSeconds: [1] })).toBe(0);
    expect(estimateEta({ status: "finished", plan, progress: { epoch: 3, batch: 1, step: 201 }, epochSeconds: [1], batchSeconds: [1] })).toBeNull();
    expect(estimateEta({ status: "running", plan: { epochs: null, steps: null }, progress: null, epochSeconds: [1], batchSeconds: [1] })).toBeNull();
    expect(estimateEta({ status: "running", plan, progress: { epoch: 1, batch: 0, step: 0 }, epochSeconds: [], batchSeconds: [] })).toBeNull();
  });
  it("without a step plan, counts whole epochs", () => {
    const eta = estimateEta({ status: "running", plan: { epochs: 4, steps: null }, progress: { epoch: 2, batch: 7, step: 50 }, epochSeconds: [20], batchSeconds: [] });
    expect(eta).toBeCloseTo(10 + 2 * 20);
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
