import { describe, expect, it } from "vitest";
import {
  bucketPoints, finestCovering, headSignature, openPart, partsLeftHead, planRange, rawZoomChunks, staleTailIds, tailChunk, wantedKinds,
  LIVE_MAX_LAG, LIVE_MAX_POINTS, LIVE_MIN_MS, LIVE_SLACK, liveFrom, liveServes,
} from "../src/feed-ranges";
import { chunkRange, idPattern, idPrefix, isSummaryPartId, isTablePartId, kindOfChunk, kindOfHead } from "../src/ids";
import type { HeadDoc } from "../src/summaries";

describe("the live chunks", () => {
  it("start at the newest chunk received without a gap from the base", () => {
    expect(liveFrom(new Set(), 0)).toBe(0);
    expect(liveFrom(new Set([0, 1, 2, 3]), 0)).toBe(3);
    expect(liveFrom(new Set([0, 1, 2, 3]), 2)).toBe(3);
    // the base itself not received yet: from the base
    expect(liveFrom(new Set([5, 6]), 4)).toBe(4);
    // a gap (a chunk uploaded late) keeps the listener there
    expect(liveFrom(new Set([0, 1, 3, 4]), 0)).toBe(1);
  });
  it("a listener moves on past its slack, not before it is old enough unless far behind", () => {
    const old = LIVE_MIN_MS;
    expect(liveServes(false, 4, 4, old)).toBe(false);
    expect(liveServes(true, 4, 4, old)).toBe(true);
    expect(liveServes(true, 4, 4 + LIVE_SLACK, old)).toBe(true);
    expect(liveServes(true, 4, 5 + LIVE_SLACK, old)).toBe(false);
    expect(liveServes(true, 4, 5 + LIVE_SLACK, old - 1)).toBe(true);
    expect(liveServes(true, 4, 4 + LIVE_MAX_LAG, 0)).toBe(true);
    expect(liveServes(true, 4, 5 + LIVE_MAX_LAG, 0)).toBe(false);
    // a start past what is wanted (a chunk removed below it) starts again
    expect(liveServes(true, 4, 3, 0)).toBe(false);
    // closed chunks of many points (grown while nobody watched) are left at once
    expect(liveServes(true, 4, 5, 0, LIVE_MAX_POINTS)).toBe(true);
    expect(liveServes(true, 4, 5, 0, LIVE_MAX_POINTS + 1)).toBe(false);
  });
  it("chunks before the new tail are dropped", () => {
    const docs = new Map([["train-000003", { index: 3 }], ["train-000005", { index: 5 }], ["x", {}]]);
    expect(staleTailIds(docs, 5)).toEqual(["train-000003", "x"]);
  });
  it("the head's tail chunk, 0 when it has none", () => {
    expect(tailChunk({ tail_chunk: 9 })).toBe(9);
    expect(tailChunk({})).toBe(0);
    expect(tailChunk(null)).toBe(0);
  });
  it("metadata-only head events have the same signature", () => {
    expect(headSignature({ through: 1, points: 2, tail_chunk: 3, levels: [1] })).toBe(headSignature({ through: 1, points: 2, tail_chunk: 3 }));
    expect(headSignature(null)).toBe("none");
  });
});

describe("parts", () => {
  it("the open part holds the newest bucket", () => {
    expect(openPart(0, 128, 256)).toBe(0);
    expect(openPart(128 * 256 - 1, 128, 256)).toBe(0);
    expect(openPart(128 * 256, 128, 256)).toBe(1);
  });
  it("buckets that left the head name the parts to re-read", () => {
    const head = (buckets: number[]): HeadDoc => ({ levels: [{ level: 1, bucket: buckets }] });
    expect(partsLeftHead(head([254, 255, 256]), head([256, 257]), 1, 256)).toEqual([0, 0]);
    expect(partsLeftHead(head([255, 511, 512]), head([512]), 1, 256)).toEqual([0, 1]);
    expect(partsLeftHead(head([1]), head([1, 2]), 1, 256)).toBeNull();
    expect(partsLeftHead(head([1]), head([]), 2, 256)).toBeNull();
  });
  it("points in the buckets (a shortfall against the head's count means a part changed unseen)", () => {
    expect(bucketPoints([{ n: 3 }, { n: 4 }])).toBe(7);
  });
});

describe("cached range reads", () => {
  it("reads one range from the first to the last document the cache may not give", () => {
    const cache = new Map([[2, "c2"], [3, "c3"], [5, "c5"]]);
    const plan = planRange(1, 6, () => true, (i) => cache.get(i));
    expect([...plan.have]).toEqual([[2, "c2"], [3, "c3"], [5, "c5"]]);
    expect([plan.first, plan.last]).toEqual([1, 6]);
    expect(planRange(2, 3, () => true, (i) => cache.get(i))).toMatchObject({ first: -1, last: -1 });
  });
  it("documents that may still change are read again", () => {
    const plan = planRange(2, 5, (i) => i < 4, () => "cached");
    expect([...plan.have.keys()]).toEqual([2, 3]);
    expect([plan.first, plan.last]).toEqual([4, 5]);
  });
});

describe("zoom", () => {
  const stores: [number, { level: number; width: number }][] = [[2, { level: 2, width: 1024 }], [1, { level: 1, width: 128 }]];
  it("the finest level whose read parts cover the range", () => {
    const read = new Map([[2, new Set([0])], [1, new Set([0])]]);
    expect(finestCovering(stores, read, 0, 5000, 1e9, 256)?.level).toBe(1);
    // level 1's part 1 (steps 32768…) is not read: level 2 covers it
    expect(finestCovering(stores, read, 30000, 40000, 1e9, 256)?.level).toBe(2);
    expect(finestCovering(stores, new Map(), 0, 10, 1e9, 256)).toBeNull();
  });
  it("raw chunks: the guess inside what surely holds the range, bounded by the tail", () => {
    expect(rawZoomChunks({ lo: 2, hi: 9, guessLo: 4, guessHi: 6 }, 20)).toEqual({ lo: 4, hi: 6, hiBound: 9 });
    expect(rawZoomChunks({ lo: 2, hi: null, guessLo: 4, guessHi: null }, 20)).toEqual({ lo: 4, hi: 19, hiBound: 19 });
    expect(rawZoomChunks({ lo: 8, hi: null, guessLo: 9, guessHi: null }, 5)).toEqual({ lo: 8, hi: 8, hiBound: 8 });
  });
  it("kinds read: train, the shown kind and the run's", () => {
    expect([...wantedKinds("train", "fit")]).toEqual(["train"]);
    expect([...wantedKinds("system", "evaluate")]).toEqual(["train", "system", "test"]);
    expect([...wantedKinds("train", "predict")]).toEqual(["train", "predict"]);
    expect([...wantedKinds("train", undefined)]).toEqual(["train"]);
  });
});

describe("document IDs from the contract", () => {
  it("kinds of chunk and head IDs", () => {
    expect(kindOfChunk("test-000012", "train")).toBe("test");
    expect(kindOfChunk("test-L1-000012", "train")).toBe("train");
    expect(kindOfHead("predict-head")).toBe("predict");
  });
  it("which collection an ID lives in", () => {
    expect(isSummaryPartId("train-L3-000002")).toBe(true);
    expect(isSummaryPartId("train-000002")).toBe(false);
    expect(isTablePartId("epochs-0001")).toBe(true);
    expect(isTablePartId("train-000001")).toBe(false);
  });
  it("a kind's chunk range and template pieces", () => {
    expect(chunkRange("train", 7)).toEqual(["train-000007", "train-\uf8ff"]);
    expect(idPrefix("{kind}-L{level}-{part:06}", "test")).toBe("test-L");
    expect(idPattern("{kind}-{index:06}").source).toBe("^(?<kind>[a-z]+)-(?<index>\\d+)$");
  });
});
