import { describe, expect, it } from "vitest";
import { ChunkWindow, type ChunkSnap } from "../src/chunk-window";
import { LIVE_MAX_LAG, LIVE_MAX_POINTS, LIVE_MIN_MS } from "../src/feed-ranges";
import type { ChunkDoc, DocChange } from "../src/series";

/** A stand-in for Firestore: every listener started, with its range start and whether it was dropped. */
function harness() {
  const listeners: { from: number; next: (s: ChunkSnap) => void; dropped: boolean }[] = [];
  const received: DocChange<ChunkDoc>[][] = [];
  let clock = 0;
  const w = new ChunkWindow(
    (from, next) => {
      const l = { from, next, dropped: false };
      listeners.push(l);
      return () => {
        l.dropped = true;
      };
    },
    (changes) => received.push(changes),
    () => clock,
  );
  const chunk = (i: number, n = 1): DocChange<ChunkDoc> => ({ type: "added", id: `train-${i}`, data: { index: i, n, step: [i] } });
  /** The newest listener delivers `changes`; `range` is every document it covers (server snapshots). */
  const deliver = (changes: DocChange<ChunkDoc>[], range: number[], fromCache = false) => {
    const l = listeners[listeners.length - 1];
    l.next({ fromCache, changes, docs: () => range.map((i) => chunk(i).data!) });
  };
  const live = () => listeners.filter((l) => !l.dropped).map((l) => l.from);
  return { w, listeners, received, chunk, deliver, live, tick: (ms: number) => (clock += ms) };
}

const upTo = (n: number, from = 0) => Array.from({ length: n - from + 1 }, (_, k) => from + k);

describe("the live chunk window", () => {
  it("reads the run once, then listens from the newest chunk only", () => {
    const h = harness();
    h.w.listen(0);
    expect(h.live()).toEqual([0]);
    const n = LIVE_MAX_LAG + 3;
    h.deliver(upTo(n).map((i) => h.chunk(i)), upTo(n));
    expect(h.received[0]).toHaveLength(n + 1);
    // far behind at once: moved to the newest chunk (the open one), one listener at a time
    expect(h.live()).toEqual([n]);
    expect(h.w.docs.size).toBe(n + 1);
  });

  it("a young listener lags a few chunks; an old one moves on past its slack", () => {
    const h = harness();
    h.w.listen(0);
    h.deliver([0, 1, 2, 3].map((i) => h.chunk(i)), [0, 1, 2, 3]);
    expect(h.live()).toEqual([0]);
    h.tick(LIVE_MIN_MS);
    h.deliver([h.chunk(3, 2)], [0, 1, 2, 3]);
    expect(h.live()).toEqual([3]);
    // the new listener's range: chunk 3 (open) and what comes after it
    h.deliver([h.chunk(3, 3), h.chunk(4)], [3, 4]);
    h.deliver([h.chunk(5)], [3, 4, 5]);
    expect(h.live()).toEqual([3]);
  });

  it("a large closed chunk is left at once", () => {
    const h = harness();
    h.w.listen(0);
    h.deliver([h.chunk(0, 1)], [0]);
    h.deliver([h.chunk(0, LIVE_MAX_POINTS + 1), h.chunk(1)], [0, 1]);
    expect(h.live()).toEqual([1]);
  });

  it("a large chunk the base has dropped is left at once too", () => {
    const h = harness();
    h.w.listen(1);
    h.deliver([h.chunk(1, 1)], [1]);
    h.w.listen(2); // the summaries moved past chunk 1 before chunk 2 came
    h.deliver([h.chunk(1, LIVE_MAX_POINTS + 1)], [1]);
    expect(h.live()).toEqual([2]);
  });

  it("what the cache gives is not taken as current", () => {
    const h = harness();
    h.w.listen(0);
    h.deliver(upTo(20).map((i) => h.chunk(i)), upTo(20), true);
    expect(h.live()).toEqual([0]);
    expect(h.w.docs.size).toBe(21);
  });

  it("listens again from the newest chunk held after a stop (a hidden page)", () => {
    const h = harness();
    h.w.listen(0);
    h.deliver([0, 1, 2].map((i) => h.chunk(i)), [0, 1, 2]);
    h.w.stop();
    expect(h.live()).toEqual([]);
    h.w.listen();
    expect(h.live()).toEqual([2]);
  });

  it("a gap keeps the start at the missing chunk; a removed chunk is listened for again", () => {
    const h = harness();
    h.w.listen(0);
    h.deliver([0, 1, 3, 4].map((i) => h.chunk(i)), [0, 1, 3, 4]);
    h.w.stop();
    h.w.listen();
    expect(h.live()).toEqual([1]);
    h.deliver([{ type: "removed", id: "train-1" }], [3, 4]);
    expect(h.w.docs.has("train-1")).toBe(false);
    expect(h.live()).toEqual([0]);
  });

  it("a base drops the chunks before it and starts there when nothing after it is held", () => {
    const h = harness();
    h.w.listen(0);
    h.deliver([0, 1, 2].map((i) => h.chunk(i)), [0, 1, 2]);
    h.w.listen(2);
    expect([...h.w.docs.keys()]).toEqual(["train-2"]);
    expect(h.live()).toEqual([0]); // still serves (chunk 2 is within its slack)
    h.w.stop();
    h.w.listen(40);
    expect(h.w.docs.size).toBe(0);
    expect(h.live()).toEqual([40]);
  });

  it("ignores a dropped listener's late snapshots", () => {
    const h = harness();
    h.w.listen(0);
    const first = h.listeners[0];
    h.w.stop();
    first.next({ fromCache: false, changes: [h.chunk(7)], docs: () => [] });
    expect(h.received).toEqual([]);
    expect(h.w.docs.size).toBe(0);
  });
});
