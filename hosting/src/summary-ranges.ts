/**
 * Which summary level, which part documents and which raw chunks hold a range of steps. Pure:
 * numbers in, numbers out (the per-kind feed, src/kind-feed.ts, reads what these name).
 */
import { PART_BUCKETS as CONTRACT_PART_BUCKETS, RAW_THROUGH as CONTRACT_RAW_THROUGH, SUMMARY_WIDTHS } from "./contract";
import type { Bucket } from "./summaries";

/** Defaults from the contract; a head's own `widths` and `part_buckets` win (docs/schema.md). */
export const WIDTHS: number[] = SUMMARY_WIDTHS;
export const PART_BUCKETS = CONTRACT_PART_BUCKETS;
/** Below this many steps a kind is read from its raw chunks (few documents anyway). */
/** Below this many steps a kind is drawn from its raw chunks (the writer decides its finest
 * summary level by then: tfwatcher/record/summaries.py). */
export const RAW_THROUGH: number = CONTRACT_RAW_THROUGH;
export const OPEN_MIN_BUCKETS = 150;
export const ZOOM_MAX_BUCKETS = 1200;
/** A zoom window this narrow (in steps) is read from the raw chunks ... */
export const ZOOM_RAW_STEPS = 2000;
/** ... and so is one with fewer than this many buckets of the finest level (a fast run's
 * summaries start at 1,024 steps a bucket: tfwatcher/record/summaries.py). */
export const ZOOM_MIN_BUCKETS = 15;

/** Opening: the coarsest level with at least `min` buckets over [0, through] (level 1 at least). */
export function openLevel(through: number, widths: readonly number[] = WIDTHS, min = OPEN_MIN_BUCKETS): number {
  let best = 1;
  widths.forEach((w, i) => {
    if (Math.floor(Math.max(0, through) / w) + 1 >= min) best = i + 1;
  });
  return best;
}

/** Zooming: null → read raw chunks; else the finest level with ≤ `max` buckets in [a, b]. */
export function zoomLevel(a: number, b: number, widths: readonly number[] = WIDTHS, max = ZOOM_MAX_BUCKETS, rawSteps = ZOOM_RAW_STEPS): number | null {
  if (b - a <= Math.max(rawSteps, ZOOM_MIN_BUCKETS * (widths[0] ?? 0))) return null;
  for (let i = 0; i < widths.length; i++) {
    const w = widths[i];
    if (Math.floor(b / w) - Math.floor(Math.max(0, a) / w) + 1 <= max) return i + 1;
  }
  return widths.length;
}

/** Part numbers [first, last] of a level that hold the buckets of steps [a, b]. */
export function partsForRange(a: number, b: number, width: number, perPart = PART_BUCKETS): [number, number] {
  return [Math.floor(Math.floor(Math.max(0, a) / width) / perPart), Math.floor(Math.floor(Math.max(0, b) / width) / perPart)];
}

export interface ChunkRange {
  /** Surely holds every point of [a, b]: chunks lo..hi (hi null = to the last chunk). */
  lo: number;
  hi: number | null;
  /** A narrower guess (chunks are filled evenly most of the time); widen if it falls short. */
  guessLo: number;
  guessHi: number | null;
}

/**
 * Raw chunks holding steps [a, b], from the `chunk` (first point's chunk) of buckets of width
 * `w` sorted by bucket. Points at or after a bucket's first point are in chunks ≥ its chunk,
 * and points before the first point of a later bucket are in chunks ≤ that one's chunk.
 */
export function chunksForRange(buckets: readonly Bucket[], width: number, a: number, b: number): ChunkRange {
  const withChunk = buckets.filter((x) => x.chunk != null);
  if (!withChunk.length) return { lo: 0, hi: null, guessLo: 0, guessHi: null };
  // last bucket starting at or before a
  let i = upper(withChunk, (x) => x.b * width <= a) - 1;
  if (i < 0) i = 0;
  // first bucket starting after b
  const j = upper(withChunk, (x) => x.b * width <= b);
  const lo = withChunk[i].chunk!;
  const hi = j < withChunk.length ? withChunk[j].chunk! : null;
  const guess = (step: number): number | null => {
    const k = Math.max(0, upper(withChunk, (x) => x.b * width <= step) - 1);
    const cur = withChunk[k];
    const next = withChunk[k + 1];
    if (!next) return null;
    const start = cur.b * width;
    const span = next.b * width - start;
    return cur.chunk! + Math.floor(((step - start) / span) * (next.chunk! - cur.chunk!));
  };
  const gl = guess(a);
  const gh = guess(b);
  const guessLo = gl == null ? lo : Math.max(lo, gl - 1);
  let guessHi = gh == null ? hi : gh + 1;
  if (guessHi != null && hi != null) guessHi = Math.min(hi, guessHi);
  return { lo, hi, guessLo: guessHi != null ? Math.min(guessLo, guessHi) : guessLo, guessHi };
}

/** Number of leading items for which `pred` holds (pred must be monotone true→false). */
/** The first index where `pred` turns false (xs sorted so that pred holds on a prefix). */
export function upper<T>(xs: readonly T[], pred: (x: T) => boolean): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (pred(xs[mid])) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
