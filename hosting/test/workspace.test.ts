import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { checkWid, displayWid, isWid, looksLikeWid, WID_LENGTH } from "../src/wid";
import { checkSid } from "../src/sid";
import { parseRoute, workspacePath } from "../src/router";
import {
  PAGE_SIZE, SPARK_POINTS, ageText, compareRuns, listView, lossText, matchesSearch, orderRuns, parseRun, progressText,
  shownStatus, sparkPath, type RunRow,
} from "../src/workspace-model";

const contract = JSON.parse(readFileSync(new URL("../../tfwatcher/base/contract.json", import.meta.url), "utf8"));
const WID = "wx7kq2m9hfw4cpd3ntr";
const GROUPED = "w-x7kq2m-9hfw4c-pd3ntr";
const NOW = Date.UTC(2025, 0, 1, 12);
const SEC = 1000;
const MIN = 60 * SEC;

describe("workspace IDs follow the contract", () => {
  it("are the prefix and a session-ID-shaped body", () => {
    expect(WID_LENGTH).toBe(contract.workspace_id.prefix.length + contract.session_id.length);
    expect(isWid(WID)).toBe(true);
    expect(isWid(WID.slice(1))).toBe(false); // a session ID is not a workspace ID
    expect(isWid(WID + "a")).toBe(false);
    expect(isWid("w" + "0".repeat(18))).toBe(false);
    expect(checkSid(WID).ok).toBe(false); // nor the other way round
  });

  it("are shown grouped", () => {
    expect(displayWid(WID)).toBe(GROUPED);
    expect(displayWid("nonsense")).toBe("nonsense");
  });

  it("are read from what is typed or pasted", () => {
    for (const typed of [WID, GROUPED, GROUPED.toUpperCase(), " w x7kq2m 9hfw4c pd3ntr ", "w–x7kq2m—9hfw4c_pd3ntr"]) {
      expect(checkWid(typed), typed).toEqual({ ok: true, wid: WID });
    }
    expect(checkWid(`https://p.web.app/w/${GROUPED}`)).toEqual({ ok: true, wid: WID });
    expect(checkWid(`https://p.web.app/w/${WID}#k=AbC_12-xyz`)).toEqual({ ok: true, wid: WID, key: "AbC_12-xyz" });
    expect(looksLikeWid(GROUPED)).toBe(true);
    expect(looksLikeWid(`/w/${WID}`)).toBe(true);
    expect(looksLikeWid("x7kq2m-9hfw4c-pd3ntr")).toBe(false); // a session ID
  });

  it("say what is wrong", () => {
    expect(checkWid("")).toMatchObject({ ok: false, message: /Enter/ });
    expect(checkWid("x7kq2m9hfw4cpd3ntr")).toMatchObject({ ok: false, message: /starts with “w-”/ });
    expect(checkWid("wx7kq2m9hfw4cpd3nt1")).toMatchObject({ ok: false, message: /“1”.*look-alike/ });
    expect(checkWid("wx7kq2m")).toMatchObject({ ok: false, message: /18 characters; this one has 6/ });
    expect(checkWid("https://p.web.app/s/x7kq2m9hfw4cpd3ntr")).toMatchObject({ ok: false, message: /doesn't lead to a workspace/ });
  });

  it("have a route, /w/{ID}", () => {
    expect(parseRoute(`/w/${WID}`)).toEqual({ name: "workspace", wid: WID });
    expect(parseRoute(`/w/${WID}/`)).toEqual({ name: "workspace", wid: WID });
    expect(parseRoute(`/w/${encodeURIComponent("a b")}`)).toEqual({ name: "workspace", wid: "a b" });
    expect(parseRoute(`/w/${WID}/x`).name).toBe("notFound");
    expect(workspacePath(WID)).toBe(`/w/${WID}`);
  });
});

/** An index document in the shape of docs/schema.md ("Workspaces"). */
function indexDoc(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schema: contract.schema, sid: "x7kq2m9hfw4cpd3ntr", name: "resnet", status: "running", active: true, run: 0,
    created: new Date(NOW - 10 * MIN), started: new Date(NOW - 10 * MIN), updated: new Date(NOW - 5 * SEC),
    heartbeat_every: 10, epoch: 3, epochs: 10, step: 120, steps: 500, loss: 0.5, val_loss: 0.6, spark: [1, 0.8, 0.6, 0.5],
    ...over,
  };
}

const SIDS = ["222222222222222222", "333333333333333333", "444444444444444444", "555555555555555555", "666666666666666666"];
function row(i: number, over: Record<string, unknown> = {}): RunRow {
  return parseRun(SIDS[i], indexDoc({ sid: SIDS[i], ...over }))!;
}

describe("parseRun", () => {
  it("normalises an index document", () => {
    const r = parseRun("x7kq2m9hfw4cpd3ntr", indexDoc())!;
    expect(r).toMatchObject({
      sid: "x7kq2m9hfw4cpd3ntr", name: "resnet", status: "running", active: true, heartbeatEvery: 10,
      epoch: 3, epochs: 10, step: 120, steps: 500, loss: 0.5, valLoss: 0.6, spark: [1, 0.8, 0.6, 0.5],
    });
    expect(r.startedMs).toBe(NOW - 10 * MIN);
    expect(r.updatedMs).toBe(NOW - 5 * SEC);
  });

  it("never shows a document whose ID is not a session ID", () => {
    expect(parseRun("../../etc", indexDoc())).toBeNull();
  });

  it("keeps names as text with control characters visible, NaN as a value, and bounds the sparkline", () => {
    const r = parseRun(SIDS[0], indexDoc({ name: "<img src=x onerror=alert(1)>\u202Egnp.exe", loss: NaN, val_loss: null, spark: Array.from({ length: 100 }, (_, i) => i) }))!;
    expect(r.name).toBe("<img src=x onerror=alert(1)>⟨U+202E⟩gnp.exe");
    expect(Number.isNaN(r.loss)).toBe(true);
    expect(r.valLoss).toBeNull();
    expect(r.spark).toHaveLength(SPARK_POINTS);
    expect(r.spark.at(-1)).toBe(99);
  });

  it("tolerates missing and mistyped fields", () => {
    const r = parseRun(SIDS[0], { status: "bogus", name: 5, spark: "no", epoch: "3", active: "yes" })!;
    expect(r).toMatchObject({ status: "unknown", name: "", spark: [], epoch: null, active: false, startedMs: null });
  });
});

describe("the status shown: the session page's stall judgement", () => {
  it("is stalled when an active run is silent for longer than max(floor, 3 heartbeats)", () => {
    const floor = contract.stall.shown_after_seconds * SEC;
    const r = row(0, { heartbeat_every: 10, updated: new Date(NOW - floor + SEC) });
    expect(shownStatus(r, NOW)).toBe("running");
    expect(shownStatus(row(0, { heartbeat_every: 10, updated: new Date(NOW - floor - SEC) }), NOW)).toBe("stalled");
    // A declared period of 300 s: 3 × 300 s = 15 min before it is stalled.
    expect(shownStatus(row(0, { heartbeat_every: 300, updated: new Date(NOW - 10 * MIN) }), NOW)).toBe("running");
    expect(shownStatus(row(0, { heartbeat_every: 300, updated: new Date(NOW - 16 * MIN) }), NOW)).toBe("stalled");
    // A run still starting is judged alike.
    expect(shownStatus(row(0, { status: "new", updated: new Date(NOW - 30 * MIN) }), NOW)).toBe("stalled");
    expect(shownStatus(row(0, { status: "new" }), NOW)).toBe("new");
  });

  it("is the stored status for ended runs, however old", () => {
    for (const s of ["finished", "crashed", "stopped", "stalled"]) {
      expect(shownStatus(row(0, { status: s, active: false, updated: new Date(NOW - 48 * 60 * MIN) }), NOW)).toBe(s);
    }
  });
});

describe("order", () => {
  it("puts active runs first, then the newest", () => {
    const rows = [
      row(0, { active: false, status: "finished", started: new Date(NOW - 1 * MIN) }),
      row(1, { active: true, started: new Date(NOW - 60 * MIN) }),
      row(2, { active: false, status: "crashed", started: new Date(NOW - 5 * MIN) }),
      row(3, { active: true, started: new Date(NOW - 2 * MIN) }),
    ];
    expect(orderRuns(rows).map((r) => r.sid)).toEqual([SIDS[3], SIDS[1], SIDS[0], SIDS[2]]);
  });

  it("breaks ties by session ID descending, as Firestore does for orderBy(started, desc)", () => {
    const t = new Date(NOW - MIN);
    expect(compareRuns(row(0, { started: t }), row(1, { started: t }))).toBeGreaterThan(0);
    expect(orderRuns([row(0, { started: t }), row(4, { started: t })]).map((r) => r.sid)).toEqual([SIDS[4], SIDS[0]]);
  });
});

describe("filter and search", () => {
  const rows = [
    row(0, { name: "ResNet-50 baseline", active: true }),
    row(1, { name: "resnet lr=3e-4", status: "finished", active: false }),
    row(2, { name: "vit tiny", status: "crashed", active: false }),
    row(3, { name: "vit small", status: "new", active: true }),
    row(4, { name: "bert", active: true, updated: new Date(NOW - 30 * MIN) }),
  ];

  it("filters by the status shown, counting every choice", () => {
    const v = listView(rows, "running", "", NOW);
    expect(v.rows.map((r) => r.name)).toEqual(expect.arrayContaining(["ResNet-50 baseline", "vit small"]));
    expect(v.rows).toHaveLength(2); // "bert" is stalled, not running
    expect(v.counts).toEqual({ all: 5, running: 2, stalled: 1, finished: 1, crashed: 1, stopped: 0 });
    expect(listView(rows, "stalled", "", NOW).rows.map((r) => r.name)).toEqual(["bert"]);
    expect(v.loaded).toBe(5);
  });

  it("searches names (any case, every word) and IDs", () => {
    expect(listView(rows, "all", "RESNET", NOW).rows.map((r) => r.name).sort()).toEqual(["ResNet-50 baseline", "resnet lr=3e-4"]);
    expect(listView(rows, "all", "vit  small", NOW).rows.map((r) => r.name)).toEqual(["vit small"]);
    expect(listView(rows, "finished", "resnet", NOW).rows.map((r) => r.name)).toEqual(["resnet lr=3e-4"]);
    expect(matchesSearch(rows[2], "444444-444444")).toBe(true); // the grouped ID
    expect(listView(rows, "all", "nothing like it", NOW).rows).toEqual([]);
  });
});

describe("what each run shows", () => {
  it("progress, losses and age", () => {
    expect(progressText(row(0))).toBe("epoch 3/10 · step 120/500");
    expect(progressText(row(0, { epochs: null, step: null }))).toBe("epoch 3");
    expect(progressText(row(0, { epoch: null, step: null }))).toBe("");
    expect(lossText(row(0))).toBe("loss 0.5 · val_loss 0.6");
    expect(lossText(row(0, { loss: Infinity, val_loss: null }))).toBe("loss +Inf");
    expect(lossText(row(0, { loss: null, val_loss: null }))).toBe("");
    expect(ageText(row(0), "running", NOW)).toBe("started 10 min ago");
    expect(ageText(row(0, { updated: new Date(NOW - 30 * MIN) }), "stalled", NOW)).toBe("silent 30 min");
  });

  it("a sparkline path with gaps at non-finite values", () => {
    expect(sparkPath([], 72, 22)).toBe("");
    expect(sparkPath([1], 72, 22)).toBe("");
    expect(sparkPath([1, 0], 10, 10, 0)).toBe("M0 0L10 10");
    expect(sparkPath([2, 2, 2], 10, 10, 0)).toBe("M0 5L5 5L10 5"); // flat: mid-height
    expect(sparkPath([1, NaN, 0, 0.5], 30, 10, 0)).toBe("M0 0M20 10L30 5");
    expect(sparkPath([1, null, 0], 20, 10, 0)).toBe("M0 0M20 10");
  });

  it("pages are bounded by the contract", () => {
    expect(PAGE_SIZE).toBe(contract.workspaces.page_size);
    expect(PAGE_SIZE).toBeLessThanOrEqual(contract.workspaces.max_query_limit);
  });
});

/** A distinct session ID for each i (its digits in the ID alphabet). */
const idOf = (i: number) => {
  const a = contract.session_id.alphabet as string;
  let out = "";
  for (let n = i; out.length < 18; n = Math.floor(n / a.length)) out = a[n % a.length] + out;
  return out;
};

describe("what the device remembers (workspace-memory.ts)", () => {
  it("the last workspace, and which workspace each run was opened from", async () => {
    const store = new Map<string, string>();
    (globalThis as { localStorage?: unknown }).localStorage = {
      getItem: (k: string) => store.get(k) ?? null,
      setItem: (k: string, v: string) => void store.set(k, String(v)),
      removeItem: (k: string) => void store.delete(k),
    };
    try {
      const m = await import("../src/workspace-memory");
      expect(m.lastWorkspace()).toBeNull();
      m.rememberWorkspace("not a workspace");
      expect(m.lastWorkspace()).toBeNull();
      m.rememberWorkspace(WID);
      expect(m.lastWorkspace()).toBe(WID);
      m.rememberRunWorkspace(SIDS[0], WID);
      m.rememberRunWorkspace("bogus", WID);
      expect(m.workspaceOfRun(SIDS[0])).toBe(WID);
      expect(m.workspaceOfRun(SIDS[1])).toBeNull();
      for (let i = 0; i < m.MAX_RUN_LINKS + 5; i++) m.rememberRunWorkspace(idOf(i), WID);
      expect(JSON.parse(store.get("tfw:run-workspace")!)).toHaveLength(m.MAX_RUN_LINKS);
      expect(m.workspaceOfRun(SIDS[0])).toBeNull(); // the oldest lost its link
      store.set("tfw:workspace", "<script>");
      expect(m.lastWorkspace()).toBeNull(); // only a workspace ID is ever used
      m.forgetWorkspaces();
      expect(store.size).toBe(0);
    } finally {
      delete (globalThis as { localStorage?: unknown }).localStorage;
    }
  });
});
