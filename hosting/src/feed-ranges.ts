/**
 * The per-kind feed's decisions, pure (src/kind-feed.ts does the reading): where a live chunk
 * listener starts and when it moves on (src/chunk-window.ts), which part documents to re-read
 * when buckets leave the head, what a cached range read still has to fetch, which level
 * already covers a zoom, and which chunks a raw zoom reads first. Unit-tested in
 * test/feed-ranges.test.ts.
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

/**
 * Where a live chunk listener starts: the newest chunk at or after `base` such that every
 * chunk from `base` up to it came from the server (a newer one exists, so those before it are
 * closed and need no listener); `base` itself when it has not come yet. A gap (chunks uploaded
 * late, from the spool) keeps the start at the gap.
 */
export function liveFrom(synced: ReadonlySet<number>, base: number): number {
  if (!synced.has(base)) return base;
  let i = base;
  while (synced.has(i + 1)) i++;
  return i;
}

/**
 * How far a live listener may lag: it covers up to LIVE_SLACK closed chunks before it moves
 * on; more only while it is younger than LIVE_MIN_MS, and never more than LIVE_MAX_LAG
 * chunks or LIVE_MAX_POINTS points (a chunk grown while nobody watched holds thousands). Each
 * move re-reads the newest chunk once (billed), so at high rates (a chunk every 2-3 s at 200
 * batches/s) moves stay ~2 a minute (~120 reads an hour); a lagging listener costs nothing on
 * Firestore, which sends only what changed, but the emulator re-sends every chunk it covers
 * at each change (packed chunks are small: a few KB each).
 */
export const LIVE_SLACK = 2;
export const LIVE_MIN_MS = 30_000;
export const LIVE_MAX_LAG = 16;
export const LIVE_MAX_POINTS = 8_000;

/**
 * A live chunk listener started at chunk `start` `ageMs` ago still serves a window that should
 * start at `from`; `closedPoints`: the points of the closed chunks it covers before `from`.
 */
export function liveServes(listening: boolean, start: number, from: number, ageMs: number, closedPoints = 0): boolean {
  if (!listening || from < start) return false;
  if (closedPoints > LIVE_MAX_POINTS) return false;
  return from <= start + LIVE_SLACK || (ageMs < LIVE_MIN_MS && from <= start + LIVE_MAX_LAG);
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
