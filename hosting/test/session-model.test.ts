import { describe, expect, it } from "vitest";
import { buildEpochTable } from "../src/epoch-table";
import { emptyTable, type KindSeries, type Table } from "../src/series";
import { STALL_MS, parseSession } from "../src/status";
import {
  chooseBatchKind,
  chooseView,
  currentStatus,
  emptyChartsText,
  epochFacts,
  kindsWithPoints,
  newestPoint,
  noticeLines,
  statusCard,
  xLabel,
  xValues,
  zoomChanges,
  zoomSteps,
  type ViewInput,
} from "../src/views/session-model";

function series(x: number[], time: (number | null)[] = x.map(() => null), extra: Partial<KindSeries> = {}): KindSeries {
  const t: Table = { ...emptyTable(), x, time, seconds: x.map(() => null) };
  return { table: t, pointCount: x.length, thinned: false, ...extra };
}

const view = (o: Partial<ViewInput>): ViewInput => ({ kinds: [], progressBatch: 0, chosenView: null, chosenHere: null, trainEpochs: 0, ...o });

describe("chooseView", () => {
  it("epoch-only sessions have no Batches tab, whatever was remembered", () => {
    expect(chooseView(view({ chosenView: "batches" }))).toEqual({ view: "epochs", batchTab: false, batchLabel: "System" });
  });
  it("batches logged before their chunks arrive (progress) count as batches", () => {
    expect(chooseView(view({ progressBatch: 3 }))).toMatchObject({ view: "batches", batchTab: true, batchLabel: "Batches" });
  });
  it("system metrics alone: a System tab, epochs unless System was picked on this page", () => {
    expect(chooseView(view({ kinds: ["system"], chosenView: "batches" }))).toEqual({ view: "epochs", batchTab: true, batchLabel: "System" });
    expect(chooseView(view({ kinds: ["system"], chosenHere: "batches" })).view).toBe("batches");
  });
  it("the choice wins; else batches until two epochs have ended", () => {
    expect(chooseView(view({ kinds: ["train"], chosenView: "epochs" })).view).toBe("epochs");
    expect(chooseView(view({ kinds: ["train"], trainEpochs: 1 })).view).toBe("batches");
    expect(chooseView(view({ kinds: ["train"], trainEpochs: 2 })).view).toBe("epochs");
  });
});

describe("chooseBatchKind", () => {
  it("train first, another kind only while train has none, system last", () => {
    expect(chooseBatchKind(["system", "test", "train"], null, false)).toBe("train");
    expect(chooseBatchKind(["system", "test"], null, false)).toBe("test");
    expect(chooseBatchKind(["system"], null, false)).toBe("system");
    expect(chooseBatchKind([], null, false)).toBe("train");
  });
  it("a kind picked on this page stays while it has points", () => {
    expect(chooseBatchKind(["train", "system"], "system", true)).toBe("system");
    expect(chooseBatchKind(["train", "system"], "system", false)).toBe("train");
    expect(chooseBatchKind(["train"], "test", true)).toBe("train");
  });
  it("kindsWithPoints skips placeholders without points", () => {
    expect(kindsWithPoints(new Map([["train", series([1])], ["test", series([])]]))).toEqual(["train"]);
  });
});

describe("status", () => {
  const now = 1_000_000_000;
  const info = parseSession({ status: "running", mode: "fit", created: now - 60_000, heartbeat: now - STALL_MS - 10_000, plan: { epochs: 2, steps: 10 } });
  it("a recent batch point keeps an old heartbeat from looking stalled", () => {
    expect(currentStatus(info, null, [], now).status).toBe("stalled");
    const recent = series([5], [(now - 1000) / 1000]);
    expect(currentStatus(info, null, [recent], now)).toEqual({ status: "running", last: now - 1000 });
  });
  it("the card: stalled line, progress from the newest point, elapsed", () => {
    const card = statusCard(info, null, new Map(), epochFacts([], 0), now);
    expect(card.status).toBe("stalled");
    expect(card.label).toBe("Stalled");
    expect(card.error).toMatch(/^No update for 2 min: /);
    expect(card.elapsed).toBe("1 min 00 s");
    const live = statusCard(info, null, new Map([["train", series([13], [(now - 1000) / 1000])]]), epochFacts([], 0), now);
    expect(live.status).toBe("running");
    expect(live.error).toBeNull();
    expect(live.age).toBe("just now");
  });
  it("a crash shows its error; finished is 100 % and done", () => {
    const crashed = parseSession({ status: "crashed", error: { type: "ValueError", message: "bad" } });
    expect(statusCard(crashed, null, new Map(), epochFacts([], 0), now).error).toBe("ValueError: bad");
    const done = statusCard(parseSession({ status: "finished" }), null, new Map(), epochFacts([], 0), now);
    expect([done.pct, done.eta]).toEqual([100, "done"]);
  });
  it("epochFacts: the newest train epoch, the last five timings, any kind's last time", () => {
    const docs = [1, 2, 3, 4, 5, 6].map((e) => ({ kind: "train", epoch: e, step: e * 10, seconds: e, time: 100 + e }));
    const f = epochFacts([...docs, { kind: "evaluate", epoch: 1, time: 500 }], 7);
    expect(f).toEqual({ version: 7, newest: { epoch: 6, step: 60, time: 106 }, seconds: [2, 3, 4, 5, 6], lastTime: 500 });
  });
  it("newestPoint: the reader's own, else the table's last row", () => {
    expect(newestPoint(series([3, 7], [1, 2]))).toEqual({ step: 7, time: 2 });
    expect(newestPoint(series([3], [1], { newest: () => ({ step: 3, time: 1, epoch: 2, batch: 1 }) }))).toEqual({ step: 3, time: 1, epoch: 2, batch: 1 });
    expect(newestPoint(undefined)).toBeNull();
  });
});

describe("x values and zoom", () => {
  const epochs = buildEpochTable([
    { kind: "train", epoch: 1, step: 10, names: ["loss"], values: [1], time: 110 },
    { kind: "train", epoch: 2, step: 20, names: ["loss"], values: [0.5], time: 120 },
  ]);
  const batches: Table = { ...emptyTable(), x: [5, 10, 15, 25], time: [105, null, 115, 125], seconds: [null, null, null, null] };
  it("step, epoch (from the epoch ends), relative and wall time; gaps carry the previous x", () => {
    expect(xValues(batches, "batches", "step", epochs, null).x).toEqual([5, 10, 15, 25]);
    expect(xValues(batches, "batches", "epoch", epochs, null).x).toEqual([0.5, 1, 1.5, 2.5]);
    expect(xValues(epochs, "epochs", "step", epochs, null)).toEqual({ x: [10, 20], steps: [10, 20] });
    expect(xValues(epochs, "epochs", "epoch", epochs, null).x).toEqual([1, 2]);
    expect(xValues(batches, "batches", "relative", null, { plan: { epochs: null, steps: null }, createdMs: 100_000 }).x).toEqual([5, 5, 15, 25]);
    expect(xValues(batches, "batches", "wall", null, null).x).toEqual([105, 105, 115, 125]);
  });
  it("labels", () => {
    expect(xLabel("batches", "train", "step")).toBe("step");
    expect(xLabel("batches", "test", "step")).toBe("test batch");
    expect(xLabel("epochs", null, "step")).toBe("epoch");
    expect(xLabel("batches", "train", "relative")).toBe("time since start");
    expect(xLabel("batches", "train", "wall")).toBe("time of day");
  });
  it("a zoom is taken once, and only a real range", () => {
    expect(zoomChanges(null, [1, 2])).toBe(true);
    expect(zoomChanges([1, 2], [1, 2])).toBe(false);
    expect(zoomChanges(null, [2, 2])).toBe(false);
    expect(zoomChanges([1, 2], null)).toBe(true);
  });
  it("zoom ranges map to whole steps through what is drawn", () => {
    expect(zoomSteps([1.2, 7.5], "step", [], [])).toEqual([1, 8]);
    // wall time 114..121 covers rows 2..3: steps from the row before to the row after
    expect(zoomSteps([114, 121], "wall", [105, 105, 115, 125], [5, 10, 15, 25])).toEqual([10, 25]);
  });
});

describe("notices and empty text", () => {
  it("says where a value was not drawn, a NaN loss, merged points", () => {
    const t = emptyTable();
    t.nonFinite.set("loss", { firstX: 12, firstValue: NaN, count: 3 });
    expect(noticeLines(t, null, "batches", true)).toEqual(["loss was NaN at step 12 (3 values not drawn)."]);
    expect(noticeLines(emptyTable(), { ...series([]), thinned: true }, "epochs", true)).toEqual([
      "A loss value was NaN or infinite.",
      "Some batch points were merged (min, max and last kept): they could neither be sent nor saved when they were logged.",
    ]);
    expect(emptyChartsText("epochs", 5, "Batches")).toBe("No epoch has finished yet — see Batches.");
    expect(emptyChartsText("batches", 5, "Batches")).toBe("Waiting for the first values…");
  });
});
