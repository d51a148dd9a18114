/**
 * Schema-2 summaries (docs/schema.md) → chart tables, pure: no Firebase, no DOM.
 *
 * A level ℓ has buckets of `w` steps; each bucket carries min/max/last per metric. The
 * dashboard opens a long run with the coarsest level that still has ≥ 150 buckets, zooms with
 * the finest level that has ≤ 1,200 buckets in view, and below ~2,000 steps reads raw chunks.
 * Everything here works on plain documents, so it is unit-tested without an emulator.
 */
import { emptyTable, metricColumn, plotValue, type ChunkDoc, type NonFinite, type Num, type Table } from "./series";
import { PART_BUCKETS, WIDTHS, upper } from "./summary-ranges";

export {
  OPEN_MIN_BUCKETS, PART_BUCKETS, RAW_THROUGH, WIDTHS, ZOOM_MAX_BUCKETS, ZOOM_RAW_STEPS,
  chunksForRange, openLevel, partsForRange, zoomLevel, type ChunkRange,
} from "./summary-ranges";
export { appendTableRows, epochsFromTables, type EpochTableDoc } from "./epoch-table";
export { indexRange, orderGroups, stepsToEpochs } from "./axes";
export { Lru } from "./lru";

/** A part document, or one entry of a head's `levels` (same fields). */
export interface SummaryDoc {
  schema?: number;
  kind?: string;
  level?: number;
  width?: number;
  part?: number;
  bucket?: unknown;
  n?: unknown;
  step?: unknown;
  time?: unknown;
  chunk?: unknown;
  seconds?: unknown;
  series?: unknown;
}

export interface HeadDoc {
  schema?: number;
  kind?: string;
  widths?: unknown;
  part_buckets?: number;
  through?: number;
  points?: number;
  skipped?: number;
  tail_chunk?: number;
  levels?: unknown;
  omitted?: unknown;
}

/** One bucket: min/max/last per metric (finite values only) and per-bucket facts. */
export interface Bucket {
  b: number;
  n: number;
  step: number;
  time: Num;
  chunk: number | null;
  /** seconds per batch: [min, max, last] */
  sec: [Num, Num, Num];
  /** metric → [min, max, last, bad] */
  m: Map<string, [Num, Num, Num, number]>;
}

const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const int = (v: unknown): number | null => (typeof v === "number" && Number.isInteger(v) ? v : null);

/** Document IDs, from the contract (the names this module always used). */
export { chunkId, summaryHeadId as headId, summaryPartId as partId } from "./contract";

export function widthsOf(head: HeadDoc | null | undefined): number[] {
  const w = arr(head?.widths).filter((x): x is number => typeof x === "number" && x > 0);
  return w.length ? w : WIDTHS;
}

export function partBuckets(head: HeadDoc | null | undefined): number {
  const p = head?.part_buckets;
  return typeof p === "number" && p > 0 ? p : PART_BUCKETS;
}

/** Buckets of a part (or head level) document, with the first NaN/Inf of each metric. */
export function parseBuckets(doc: SummaryDoc): { buckets: Bucket[]; firstBad: Map<string, { step: number; value: number }> } {
  const bucket = arr(doc.bucket);
  const n = arr(doc.n);
  const step = arr(doc.step);
  const time = arr(doc.time);
  const chunk = arr(doc.chunk);
  const sec = (doc.seconds && typeof doc.seconds === "object" ? doc.seconds : {}) as Record<string, unknown>;
  const smin = arr(sec.min);
  const smax = arr(sec.max);
  const slast = arr(sec.last);
  const buckets: Bucket[] = [];
  for (let i = 0; i < bucket.length; i++) {
    const b = int(bucket[i]);
    const s = step[i];
    if (b == null || typeof s !== "number") continue;
    buckets.push({
      b,
      n: typeof n[i] === "number" ? (n[i] as number) : 0,
      step: s,
      time: plotValue(time[i]),
      chunk: int(chunk[i]),
      sec: [plotValue(smin[i]), plotValue(smax[i]), plotValue(slast[i])],
      m: new Map(),
    });
  }
  const firstBad = new Map<string, { step: number; value: number }>();
  for (const s of arr(doc.series)) {
    if (!s || typeof s !== "object") continue;
    const ser = s as Record<string, unknown>;
    if (typeof ser.name !== "string") continue;
    const mn = arr(ser.min);
    const mx = arr(ser.max);
    const last = arr(ser.last);
    const bad = arr(ser.bad);
    let j = 0;
    for (let i = 0; i < bucket.length; i++) {
      if (int(bucket[i]) == null || typeof step[i] !== "number") continue;
      const nb = typeof bad[i] === "number" ? (bad[i] as number) : 0;
      const v: [Num, Num, Num, number] = [plotValue(mn[i]), plotValue(mx[i]), plotValue(last[i]), nb];
      if (v[0] != null || v[1] != null || v[2] != null || nb > 0) buckets[j].m.set(ser.name, v);
      j++;
    }
    if (typeof ser.bad_step === "number" && typeof ser.bad_value === "number") {
      firstBad.set(ser.name, { step: ser.bad_step, value: ser.bad_value });
    }
  }
  return { buckets, firstBad };
}

/**
 * The buckets of one level gathered from part documents and heads. For the same bucket the
 * copy with more points is the newer one (docs/schema.md), so merging is order-free.
 */
export class LevelStore {
  readonly buckets = new Map<number, Bucket>();
  readonly firstBad = new Map<string, { step: number; value: number }>();
  readonly names: string[] = [];
  private nameSet = new Set<string>();
  private sortedCache: Bucket[] | null = null;
  version = 0;

  constructor(readonly level: number, readonly width: number) {}

  /** Merges a part or head-level document; returns how many buckets it changed. */
  merge(doc: SummaryDoc): number {
    const { buckets, firstBad } = parseBuckets(doc);
    let changed = 0;
    for (const b of buckets) {
      const have = this.buckets.get(b.b);
      if (have && have.n > b.n) continue;
      this.buckets.set(b.b, b);
      changed++;
      for (const name of b.m.keys()) {
        if (!this.nameSet.has(name)) {
          this.nameSet.add(name);
          this.names.push(name);
        }
      }
    }
    for (const [name, fb] of firstBad) {
      const have = this.firstBad.get(name);
      if (!have || fb.step < have.step) this.firstBad.set(name, fb);
    }
    if (changed || firstBad.size) {
      this.sortedCache = null;
      this.version++;
    }
    return changed;
  }

  sorted(): Bucket[] {
    if (!this.sortedCache) this.sortedCache = [...this.buckets.values()].sort((x, y) => x.b - y.b);
    return this.sortedCache;
  }
}

/** The `levels` entry of a head for one level, if any. */
export function headLevel(head: HeadDoc | null | undefined, level: number): SummaryDoc | null {
  for (const l of arr(head?.levels)) {
    if (l && typeof l === "object" && (l as SummaryDoc).level === level) return l as SummaryDoc;
  }
  return null;
}

/** Bucket indices present in one head level (to notice buckets moving into part documents). */
export function headBuckets(head: HeadDoc | null | undefined, level: number): Set<number> {
  const out = new Set<number>();
  for (const b of arr(headLevel(head, level)?.bucket)) if (typeof b === "number") out.add(b);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Tables: buckets (line = last, band = min..max) followed by raw points.

/** Key of the seconds band in `Table.lo/hi` (a metric may itself be called "seconds"). */
export const SECONDS = "\u0000seconds";

interface RawPoint {
  step: number;
  order: number;
  seconds: unknown;
  time: unknown;
  vals: Map<string, unknown>;
}

/** Points of raw chunk documents with lo < step ≤ hi, sorted by step; a repeated step keeps the later chunk's. */
export function rawPoints(docs: Iterable<ChunkDoc>, lo: number, hi: number): RawPoint[] {
  const byStep = new Map<number, RawPoint>();
  const sorted = [...docs].sort((x, y) => (x.index ?? 0) - (y.index ?? 0));
  let order = 0;
  for (const d of sorted) {
    const steps = arr(d.step);
    const n = typeof d.n === "number" && d.n >= 0 ? Math.min(d.n, steps.length) : steps.length;
    const secs = arr(d.seconds);
    const times = arr(d.time);
    const cols: [string, unknown[]][] = [];
    for (const s of arr(d.series)) {
      if (s && typeof s === "object" && typeof (s as { name?: unknown }).name === "string") {
        cols.push([(s as { name: string }).name, arr((s as { values?: unknown }).values)]);
      }
    }
    for (let j = 0; j < n; j++) {
      const st = steps[j];
      if (typeof st !== "number" || !(st > lo) || st > hi) continue;
      const vals = new Map<string, unknown>();
      for (const [name, v] of cols) if (v[j] != null) vals.set(name, v[j]);
      byStep.set(st, { step: st, order: order++, seconds: secs[j], time: times[j], vals });
    }
  }
  return [...byStep.values()].sort((x, y) => x.step - y.step);
}

/** metricColumn, plus the band's columns of a new metric. */
function col(t: Table, name: string): Num[] {
  if (!t.metrics.has(name)) {
    t.lo!.set(name, new Array<Num>(t.x.length).fill(null));
    t.hi!.set(name, new Array<Num>(t.x.length).fill(null));
  }
  return metricColumn(t, name);
}

/**
 * Fills `t` (arrays reused, version bumped) with `buckets` then `raw` points. Buckets give
 * x = their last step, the line = `last`, the band = [min, max]; raw points have a band of
 * zero height. NaN/Inf counts come from the buckets' `bad` and the raw values.
 */
export function fillTable(
  t: Table,
  buckets: readonly Bucket[],
  firstBad: ReadonlyMap<string, { step: number; value: number }>,
  raw: readonly RawPoint[],
  names: readonly string[] = [],
): Table {
  t.x.length = 0;
  t.seconds.length = 0;
  t.time.length = 0;
  t.metrics.clear();
  t.names.length = 0;
  t.nonFinite.clear();
  t.lo = new Map();
  t.hi = new Map();
  const secLo: Num[] = (t.lo.set(SECONDS, []), t.lo.get(SECONDS)!);
  const secHi: Num[] = (t.hi.set(SECONDS, []), t.hi.get(SECONDS)!);
  for (const n of names) col(t, n);
  const bad = new Map<string, NonFinite>();
  const noteBad = (name: string, count: number, x: number, v: number) => {
    const have = bad.get(name);
    if (have) {
      have.count += count;
      if (x < have.firstX) {
        have.firstX = x;
        have.firstValue = v;
      }
    } else bad.set(name, { count, firstX: x, firstValue: v });
  };
  for (const bk of buckets) {
    const i = t.x.length;
    t.x.push(bk.step);
    t.time.push(bk.time);
    t.seconds.push(bk.sec[2]);
    secLo.push(bk.sec[0]);
    secHi.push(bk.sec[1]);
    for (const c of t.metrics.values()) c.push(null);
    for (const c of t.lo.values()) if (c !== secLo) c.push(null);
    for (const c of t.hi.values()) if (c !== secHi) c.push(null);
    for (const [name, [mn, mx, last, nb]] of bk.m) {
      col(t, name)[i] = last;
      t.lo.get(name)![i] = mn;
      t.hi.get(name)![i] = mx;
      if (nb > 0) {
        const fb = firstBad.get(name);
        noteBad(name, nb, fb ? fb.step : bk.step, fb ? fb.value : NaN);
      }
    }
  }
  t.buckets = t.x.length;
  for (const p of raw) {
    const i = t.x.length;
    t.x.push(p.step);
    t.time.push(plotValue(p.time));
    const s = plotValue(p.seconds);
    t.seconds.push(s);
    secLo.push(s);
    secHi.push(s);
    for (const c of t.metrics.values()) c.push(null);
    for (const c of t.lo.values()) if (c !== secLo) c.push(null);
    for (const c of t.hi.values()) if (c !== secHi) c.push(null);
    for (const [name, v] of p.vals) {
      const pv = plotValue(v);
      col(t, name)[i] = pv;
      t.lo.get(name)![i] = pv;
      t.hi.get(name)![i] = pv;
      if (typeof v === "number" && pv == null) noteBad(name, 1, p.step, v);
    }
  }
  for (const [k, v] of bad) t.nonFinite.set(k, v);
  t.version++;
  return t;
}

export function bandTable(): Table {
  const t = emptyTable();
  t.lo = new Map();
  t.hi = new Map();
  t.buckets = 0;
  return t;
}

/** Buckets whose steps touch [a, b], with one neighbour on each side so lines reach the edges. */
export function bucketsInRange(sorted: readonly Bucket[], width: number, a: number, b: number): Bucket[] {
  const i = Math.max(0, upper(sorted, (x) => (x.b + 1) * width <= a) - 1);
  const j = Math.min(sorted.length, upper(sorted, (x) => x.b * width <= b) + 1);
  return sorted.slice(i, j);
}

/** Raw points within [a, b] plus the nearest one outside on each side. */
export function clipPoints(points: readonly RawPoint[], a: number, b: number): RawPoint[] {
  const i = Math.max(0, upper(points, (p) => p.step < a) - 1);
  const j = Math.min(points.length, upper(points, (p) => p.step <= b) + 1);
  return points.slice(i, j);
}
