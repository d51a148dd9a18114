import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ATTENTION } from "../src/contract";
import {
  LEASE_MS, MIN_GAP_MS, REFRESH_MS, UNWATCHED_S, WATCHABLE, freshnessNote, nextWriteAt, periodText, presenceUntil, startPresence,
  type FreshnessInput,
} from "../src/presence";
import { FakeDoc } from "./fakes";

const S = 1000;
const MAX_LEASE_MS = ATTENTION.presence_max_lease_seconds * S;

describe("the contract's numbers", () => {
  it("a 120 s lease refreshed every 60 s, 30 s apart at least, well under the 600 s the rules allow", () => {
    expect([LEASE_MS, REFRESH_MS, MIN_GAP_MS, MAX_LEASE_MS]).toEqual([120 * S, 60 * S, 30 * S, 600 * S]);
    // One missed refresh does not lapse the lease; a refresh is never refused for being early.
    expect(LEASE_MS).toBeGreaterThan(REFRESH_MS);
    expect(REFRESH_MS).toBeGreaterThanOrEqual(MIN_GAP_MS);
  });
});

describe("WATCHABLE", () => {
  it("is what the rules' isWatchable takes: new and running", () => {
    expect(WATCHABLE).toEqual(["new", "running"]);
  });
});

describe("presenceUntil: what the rules accept, with a skewed clock", () => {
  // The rules: request.time < until <= request.time + 600 s (request.time: the server's clock).
  const accepted = (until: number, server: number) => until > server && until <= server + MAX_LEASE_MS;
  const server = Date.UTC(2026, 11, 5, 12);

  it("a lease from this clock", () => {
    expect(presenceUntil(server, null)).toBe(server + LEASE_MS);
  });

  it("a clock up to 8 min fast passes; 2 min slow passes even with no server time seen", () => {
    for (const skew of [-119, -60, 0, 60, 300, 479]) expect(accepted(presenceUntil(server + skew * S, null), server), `skew ${skew} s`).toBe(true);
    expect(accepted(presenceUntil(server + 481 * S, null), server)).toBe(false);
    expect(accepted(presenceUntil(server - 121 * S, null), server)).toBe(false);
  });

  it("a slow clock is corrected by the newest server time seen (a heartbeat 10 s old)", () => {
    for (const slow of [121, 600, 3600, 86_400]) {
      const heartbeat = server - 10 * S;
      expect(accepted(presenceUntil(server - slow * S, heartbeat), server), `slow ${slow} s`).toBe(true);
    }
  });

  it("a server time older than this clock changes nothing (a fast clock, an old heartbeat)", () => {
    expect(presenceUntil(server, server - 300 * S)).toBe(server + LEASE_MS);
    expect(presenceUntil(server, NaN)).toBe(server + LEASE_MS);
  });
});

describe("nextWriteAt", () => {
  it("at once when nothing was written", () => {
    expect(nextWriteAt(5000, null)).toBe(5000);
  });
  it("a refresh period after the last write was sent", () => {
    expect(nextWriteAt(1000, { sentMs: 1000, settledMs: 1200 })).toBe(1000 + REFRESH_MS);
  });
  it("never inside the rules' 30 s after the last write settled (a slow acknowledgement)", () => {
    expect(nextWriteAt(1000, { sentMs: 1000, settledMs: 1000 + 50 * S })).toBe(1000 + 80 * S);
  });
  it("at once when the refresh is overdue (shown again after a long hide)", () => {
    expect(nextWriteAt(1000 + 400 * S, { sentMs: 1000, settledMs: 1100 })).toBe(1000 + 400 * S);
  });
});

describe("periodText", () => {
  it("writes periods as people say them", () => {
    expect([periodText(300), periodText(600), periodText(45), periodText(90), periodText(3600), periodText(7200)])
      .toEqual(["5 min", "10 min", "45 s", "1 min 30 s", "1 h", "2 h"]);
  });
});

describe("freshnessNote", () => {
  const base: FreshnessInput = { stored: "running", shown: "running", declaredS: UNWATCHED_S, announcedMs: null, heartbeatSeenMs: 1000 };
  const note = (o: Partial<FreshnessInput>) => freshnessNote({ ...base, ...o });

  it("the slow cadence, before this page has announced itself", () => {
    expect(note({})).toBe("Updated every 5 min while nobody watches");
  });
  it("catching up from the acknowledged presence until the writer answers", () => {
    expect(note({ announcedMs: 2000 })).toBe("Updated every 5 min while nobody watches — catching up…");
    // A heartbeat newer than the announcement: the writer has heard.
    expect(note({ announcedMs: 2000, heartbeatSeenMs: 2500 })).toBeNull();
    // Or it declares the watched period again.
    expect(note({ announcedMs: 2000, declaredS: ATTENTION.unwatched_round_seconds / 30 })).toBeNull();
  });
  it("nothing at the watched cadence, or for a heartbeat=180 run (slower by choice, not unwatched)", () => {
    expect(note({ declaredS: 10, announcedMs: 2000 })).toBeNull();
    expect(note({ declaredS: 180, announcedMs: 2000 })).toBeNull();
    expect(note({ declaredS: null })).toBeNull();
    expect(note({ declaredS: undefined })).toBeNull();
    expect(note({ declaredS: NaN })).toBeNull();
  });
  it("says the declared period", () => {
    expect(note({ declaredS: 600 })).toBe("Updated every 10 min while nobody watches");
  });
  it("nothing for an ended run, and the stall message instead when it never answers", () => {
    for (const stored of ["finished", "crashed", "stopped", "stalled"]) expect(note({ stored, shown: stored })).toBeNull();
    expect(note({ shown: "stalled", announcedMs: 2000 })).toBeNull();
  });
  it("a new session counts as watchable", () => {
    expect(note({ stored: "new", shown: "unknown" })).toBe("Updated every 5 min while nobody watches");
  });
});

describe("startPresence", () => {
  let d: FakeDoc;
  let writes: { at: number; until: number }[];
  let answer: "ok" | "refuse" | "hang";
  let pending: (() => void)[];
  const start = () =>
    startPresence({
      doc: d,
      write: (until) => {
        writes.push({ at: Date.now(), until });
        if (answer === "ok") return Promise.resolve();
        if (answer === "refuse") return Promise.reject(Object.assign(new Error("Missing or insufficient permissions."), { code: "permission-denied" }));
        return new Promise<void>((res) => pending.push(res));
      },
    });
  const t0 = Date.UTC(2026, 11, 5, 12);
  const since = () => writes.map((w) => (w.at - t0) / S);
  const advance = (s: number) => vi.advanceTimersByTimeAsync(s * S);

  beforeEach(() => {
    vi.useFakeTimers({ now: t0 });
    d = new FakeDoc();
    writes = [];
    answer = "ok";
    pending = [];
  });
  afterEach(() => vi.useRealTimers());

  it("writes nothing before the session is known, and nothing for an ended one", async () => {
    const p = start();
    await advance(600);
    p.session("finished", null);
    await advance(600);
    for (const s of ["crashed", "stopped", "stalled", ""]) p.session(s, null);
    await advance(600);
    expect(writes).toEqual([]);
  });

  it("on open, then every 60 s, each with a 120 s lease", async () => {
    const p = start();
    p.session("running", null);
    await advance(0);
    expect(since()).toEqual([0]);
    await advance(59);
    expect(since()).toEqual([0]);
    await advance(1);
    expect(since()).toEqual([0, 60]);
    await advance(240);
    expect(since()).toEqual([0, 60, 120, 180, 240, 300]);
    for (const w of writes) expect(w.until - w.at).toBe(LEASE_MS);
    // Each snapshot repeats the status: it neither writes nor restarts the schedule.
    p.session("running", null);
    p.session("running", null);
    await advance(30);
    expect(writes.length).toBe(6);
    p.stop();
  });

  it("a new session is announced too", async () => {
    start().session("new", null);
    await advance(0);
    expect(writes.length).toBe(1);
  });

  it("a refused write is retried at the next refresh only, never sooner", async () => {
    answer = "refuse";
    start().session("running", null);
    await advance(59);
    expect(since()).toEqual([0]);
    await advance(121);
    expect(since()).toEqual([0, 60, 120, 180]);
  });

  it("one write in flight at most (offline the SDK would queue them)", async () => {
    answer = "hang";
    const p = start();
    p.session("running", null);
    await advance(3600);
    expect(writes.length).toBe(1);
    // Nor when the page is hidden and shown, or the status comes and goes, meanwhile.
    d.set("hidden");
    d.set("visible");
    p.session("finished", null);
    p.session("running", null);
    await advance(120);
    expect(writes.length).toBe(1);
    // Acknowledged 62 min late: the next is due at once, and the rules' 30 s after it is kept.
    answer = "ok";
    pending[0]();
    await advance(0);
    expect(writes.length).toBe(1);
    await advance(29);
    expect(writes.length).toBe(1);
    await advance(1);
    expect(since()).toEqual([0, 3750]);
  });

  it("stops when the run ends, and when the page leaves", async () => {
    const p = start();
    p.session("running", null);
    await advance(61);
    p.session("finished", null);
    await advance(600);
    expect(since()).toEqual([0, 60]);
    expect(vi.getTimerCount()).toBe(0);
    p.stop();
    expect(d.listeners).toBe(0);
    p.session("running", null);
    await advance(600);
    expect(since()).toEqual([0, 60]);
  });

  it("hidden: nothing; shown again within the lease: the schedule goes on, no extra write", async () => {
    const p = start();
    p.session("running", null);
    await advance(10);
    d.set("hidden");
    await advance(40); // the refresh at 60 s falls while hidden
    d.set("visible");
    await advance(0);
    expect(since()).toEqual([0]);
    await advance(10);
    expect(since()).toEqual([0, 60]);
    // Hidden for 10 minutes: nothing; shown: a write at once (the lease has lapsed).
    d.set("hidden");
    await advance(600);
    expect(since()).toEqual([0, 60]);
    d.set("visible");
    await advance(0);
    expect(since()).toEqual([0, 60, 660]);
    p.stop();
  });

  it("shown again soon after a write: not inside the rules' 30 s", async () => {
    const p = start();
    p.session("running", null);
    await advance(60); // writes at 0 and 60
    d.set("hidden");
    await advance(5);
    d.set("visible");
    await advance(54);
    expect(since()).toEqual([0, 60]);
    await advance(1);
    expect(since()).toEqual([0, 60, 120]);
    p.stop();
  });

  it("a page opened hidden announces nothing until shown", async () => {
    d.visibilityState = "hidden";
    const p = start();
    p.session("running", null);
    await advance(300);
    expect(writes).toEqual([]);
    d.set("visible");
    await advance(0);
    expect(since()).toEqual([300]);
    p.stop();
  });

  it("never more than one timer, whatever happens", async () => {
    const p = start();
    let max = 0;
    const events: (() => void)[] = [
      () => p.session("running", null),
      () => p.session("new", Date.now()),
      () => p.session("finished", null),
      () => d.set("hidden"),
      () => d.set("visible"),
      () => { answer = answer === "ok" ? "refuse" : "ok"; },
    ];
    let seed = 7;
    for (let i = 0; i < 400; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      events[seed % events.length]();
      max = Math.max(max, vi.getTimerCount());
      await advance((seed >> 8) % 45);
      max = Math.max(max, vi.getTimerCount());
    }
    expect(max).toBe(1);
    // And the rules' 30 s between settled writes always held.
    for (let i = 1; i < writes.length; i++) expect(writes[i].at - writes[i - 1].at).toBeGreaterThanOrEqual(MIN_GAP_MS);
    p.stop();
  });

  it("announcedMs: while the write that begins a lease is in flight, and null again if it is refused", async () => {
    answer = "hang";
    let changes = 0;
    const p = startPresence({ doc: d, changed: () => changes++, write: () => new Promise<void>((res, rej) => pending.push(answer === "hang" ? rej : res)) });
    p.session("running", null);
    await advance(0);
    expect(p.announcedMs).toBe(t0);
    expect(changes).toBe(1);
    pending[0]();
    await advance(0);
    expect(p.announcedMs).toBeNull();
    expect(changes).toBe(2);
    await advance(60);
    expect(p.announcedMs).toBe(t0 + 60 * S);
    p.stop();
  });

  it("announcedMs: the write that began the lease in force", async () => {
    answer = "refuse";
    const p = start();
    p.session("running", null);
    await advance(0);
    expect(p.announcedMs).toBeNull();
    answer = "ok";
    await advance(60);
    expect(p.announcedMs).toBe(t0 + 60 * S);
    await advance(60);
    expect(p.announcedMs).toBe(t0 + 60 * S); // a refresh does not move it
    d.set("hidden");
    await advance(20);
    d.set("visible"); // a short hide: the lease still runs
    await advance(60);
    expect(since()).toEqual([0, 60, 120, 180]);
    expect(p.announcedMs).toBe(t0 + 60 * S);
    d.set("hidden");
    await advance(600); // the lease lapsed: the next write announces anew
    d.set("visible");
    await advance(0);
    expect(p.announcedMs).toBe(t0 + 800 * S);
    p.stop();
  });

  it("a write that throws synchronously is a refusal, not a crash", async () => {
    const p = startPresence({ doc: d, write: () => { writes.push({ at: Date.now(), until: 0 }); throw new Error("no db"); } });
    p.session("running", null);
    await advance(61);
    expect(since()).toEqual([0, 60]);
    p.stop();
  });
});
