/**
 * The per-kind feed's decisions, pure (src/kind-feed.ts does the reading): when the raw tail
 * listener moves on, which part documents to re-read when buckets leave the head, what a
 * cached range read still has to fetch, which level already covers a zoom, and which chunks
 * a raw zoom reads first. Unit-tested in test/feed-ranges.test.ts.
 */
import type { ChunkDoc } from "./series";
import { runKind } from "./kinds";
import { headBuckets, partsForRange, type ChunkRange, type HeadDoc } from "./summaries";

/** What of a head the feed acts on: equal signatures are metadata-only events. */
export function headSignature(h: HeadDoc | null): string {
  return h ? `${h.through}|${h.points}|${h.tail_chunk}` : "none";
}

/** The chunk a head says its raw tail starts at (0 when it does not say). */
export function tailChunk(h: HeadDoc | null | undefined): number {
  return typeof h?.tail_chunk === "number" ? h.tail_chunk : 0;
}

/** A tail listener started at chunk `start` still serves `tail` until the head has moved a few chunks on. */
export function tailServes(listening: boolean, start: number, tail: number): boolean {
  return listening && tail >= start && tail <= start + 2;
}

/** IDs of tail chunks before `tail`: dropped when the tail listener moves on. */
export function staleTailIds(docs: ReadonlyMap<string, ChunkDoc>, tail: number): string[] {
  return [...docs].filter(([, d]) => (d.index ?? 0) < tail).map(([id]) => id);
}

/** The part document that holds a level's newest bucket (the open part). */
export function openPart(through: number, width: number, perPart: number): number {
  return Math.floor(Math.floor(through / width) / perPart);
}

/** Parts [lo, hi] whose buckets left the head between `prev` and `now` (they went into part documents), or null. */
export function partsLeftHead(prev: HeadDoc, now: HeadDoc, level: number, perPart: number): [number, number] | null {
  const kept = headBuckets(now, level);
  const gone = [...headBuckets(prev, level)].filter((b) => !kept.has(b)).map((b) => Math.floor(b / perPart));
  return gone.length ? [Math.min(...gone), Math.max(...gone)] : null;
}

/** Points in a level's buckets (fewer than the head's `points`: a part changed without passing through the head). */
export function bucketPoints(buckets: Iterable<{ n: number }>): number {
  let total = 0;
  for (const b of buckets) total += b.n;
  return total;
}

/**
 * A read of numbered documents lo..hi through a cache: what the cache already has (where
 * `cached(i)` allows its copy), and the one ID range [first, last] still to read (-1 when none).
 */
export function planRange<V>(
  lo: number, hi: number, cached: (i: number) => boolean, lookup: (i: number) => V | undefined,
): { have: Map<number, V>; first: number; last: number } {
  const have = new Map<number, V>();
  let first = -1;
  let last = -1;
  for (let i = lo; i <= hi; i++) {
    const c = cached(i) ? lookup(i) : undefined;
    if (c !== undefined) have.set(i, c);
    else {
      if (first < 0) first = i;
      last = i;
    }
  }
  return { have, first, last };
}

/** The finest level read so far whose parts cover steps [a, b] (raw zooms find their chunks through it). */
export function finestCovering<S extends { level: number; width: number }>(
  stores: Iterable<[number, S]>, partsRead: ReadonlyMap<number, ReadonlySet<number>>, a: number, b: number, through: number, perPart: number,
): S | null {
  let best: S | null = null;
  for (const [l, s] of stores) {
    const read = partsRead.get(l);
    const [pa, pb] = partsForRange(a, Math.min(b, Math.max(through, 0)), s.width, perPart);
    let covered = !!read;
    for (let p = pa; covered && p <= pb; p++) covered = read!.has(p);
    if (covered && (!best || s.level < best.level)) best = s;
  }
  return best;
}

/** The chunks a raw zoom reads first (the guess, within what surely holds the range) and the bound to widen to. */
export function rawZoomChunks(cr: ChunkRange, tail: number): { lo: number; hi: number; hiBound: number } {
  const hiBound = cr.hi ?? Math.max(cr.lo, tail - 1);
  return { lo: Math.min(cr.guessLo, hiBound), hi: Math.min(cr.guessHi ?? hiBound, hiBound), hiBound };
}

/** Kinds a schema-2 session reads: train (status and ETA), the kind of the run in progress, the shown kind. */
export function wantedKinds(shownKind: string, mode: unknown): Set<string> {
  return new Set([runKind("fit"), shownKind, runKind(typeof mode === "string" ? mode : "")]);
}
