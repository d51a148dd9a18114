/**
 * Schema-2 summaries (docs/schema.md) → chart tables, pure: no Firebase, no DOM.
 *
 * A level ℓ has buckets of `w` steps; each bucket carries min/max/last per metric. The
 * dashboard opens a long run with the coarsest level that still has ≥ 150 buckets, zooms with
 * the finest level that has ≤ 1,200 buckets in view, and below ~2,000 steps reads raw chunks.
 * Everything here works on plain documents, so it is unit-tested without an emulator.
 */
import { emptyTable, metricColumn, plotValue, type ChunkDoc, type EpochDoc, type MetricGroup, type NonFinite, type Num, type Table } from "./series";

/** Defaults; a head's own `widths` and `part_buckets` win (docs/schema.md). */
export const WIDTHS = [128, 1024, 8192, 65536, 524288, 4194304];
export const PART_BUCKETS = 256;
/** Below this many steps a kind is read from its raw chunks (few documents anyway). */
export const RAW_THROUGH = 10_000;
export const OPEN_MIN_BUCKETS = 150;
export const ZOOM_MAX_BUCKETS = 1200;
/** A zoom window this narrow (in steps) is read from the raw chunks. */
export const ZOOM_RAW_STEPS = 2000;

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

export const pad6 = (n: number): string => String(n).padStart(6, "0");
export const partId = (kind: string, level: number, p: number): string => `${kind}-L${level}-${pad6(p)}`;
export const chunkId = (kind: string, index: number): string => `${kind}-${pad6(index)}`;
export const headId = (kind: string): string => `${kind}-head`;

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
// Which level, which parts, which chunks.

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
  if (b - a <= rawSteps) return null;
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
function upper<T>(xs: readonly T[], pred: (x: T) => boolean): number {
  let lo = 0;
  let hi = xs.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (pred(xs[mid])) lo = mid + 1;
    else hi = mid;
  }
  return lo;
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

// ---------------------------------------------------------------------------------------------
// The epoch table (tables/epochs-*): rows → epoch documents, the later row for an ID winning.

export interface EpochTableDoc {
  schema?: number;
  part?: number;
  n?: number;
  id?: unknown;
  kind?: unknown;
  epoch?: unknown;
  step?: unknown;
  seconds?: unknown;
  avg_seconds?: unknown;
  time?: unknown;
  series?: unknown;
}

/** Epoch documents from table parts (in part order, rows in order; a later row replaces an earlier one). */
export function epochsFromTables(parts: Iterable<EpochTableDoc>, into = new Map<string, EpochDoc>()): Map<string, EpochDoc> {
  const sorted = [...parts].sort((x, y) => (x.part ?? 0) - (y.part ?? 0));
  for (const p of sorted) appendTableRows(p, into);
  return into;
}

export function appendTableRows(p: EpochTableDoc, into: Map<string, EpochDoc>): void {
  const ids = arr(p.id);
  const n = typeof p.n === "number" ? Math.min(p.n, ids.length) : ids.length;
  const kind = arr(p.kind);
  const epoch = arr(p.epoch);
  const step = arr(p.step);
  const seconds = arr(p.seconds);
  const avg = arr(p.avg_seconds);
  const time = arr(p.time);
  const series = arr(p.series).filter(
    (s): s is { name: string; values: unknown } => !!s && typeof s === "object" && typeof (s as { name?: unknown }).name === "string",
  );
  const vals = series.map((s) => arr(s.values));
  for (let i = 0; i < n; i++) {
    const id = ids[i];
    if (typeof id !== "string") continue;
    const names: string[] = [];
    const values: unknown[] = [];
    series.forEach((s, k) => {
      const v = vals[k][i];
      if (v != null) {
        names.push(s.name);
        values.push(v);
      }
    });
    into.delete(id); // re-insert: Map order = logging order of the winning row
    into.set(id, {
      schema: 2,
      kind: typeof kind[i] === "string" ? (kind[i] as string) : "train",
      epoch: epoch[i] as number,
      step: step[i] as number,
      names,
      values,
      seconds: seconds[i],
      avg_seconds: avg[i],
      time: time[i],
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Chart order and axes.

/** Loss charts first (title contains "loss"; plain "loss" leading), then the rest A→Z. */
export function orderGroups<G extends Pick<MetricGroup, "title">>(groups: readonly G[]): G[] {
  const rank = (t: string) => (t.toLowerCase() === "loss" ? 0 : t.toLowerCase().includes("loss") ? 1 : 2);
  return [...groups].sort((x, y) => rank(x.title) - rank(y.title) || (x.title < y.title ? -1 : x.title > y.title ? 1 : 0));
}

/**
 * Global steps → fractional epochs from the epoch ends (`step` of each train epoch, by epoch):
 * a step in epoch e maps into (e-1, e]. After the last finished epoch, `stepsPerEpoch` (the
 * plan, else the last epoch's length) continues the scale.
 */
export function stepsToEpochs(steps: readonly Num[], ends: readonly { epoch: number; step: number }[], stepsPerEpoch: number | null): Num[] {
  const e = ends.filter((x) => Number.isFinite(x.step)).sort((x, y) => x.epoch - y.epoch);
  const lastLen = e.length >= 2 ? e[e.length - 1].step - e[e.length - 2].step : e.length === 1 ? e[0].step : null;
  const per = stepsPerEpoch && stepsPerEpoch > 0 ? stepsPerEpoch : lastLen && lastLen > 0 ? lastLen : null;
  return steps.map((s) => {
    if (s == null) return null;
    const k = upper(e, (x) => x.step < s); // first epoch whose end ≥ s
    if (k < e.length) {
      const prevStep = k > 0 ? e[k - 1].step : 0;
      const prevEpoch = k > 0 ? e[k - 1].epoch : e[k].epoch - 1;
      const span = e[k].step - prevStep;
      return span > 0 ? prevEpoch + ((s - prevStep) / span) * (e[k].epoch - prevEpoch) : e[k].epoch;
    }
    if (!per) return null;
    const base = e.length ? e[e.length - 1] : { epoch: 0, step: 0 };
    return base.epoch + (s - base.step) / per;
  });
}

/** Index range [i, j) of a sorted x array inside [a, b] (for mapping a zoom between axes). */
export function indexRange(x: readonly Num[], a: number, b: number): [number, number] {
  const i = upper(x, (v) => v == null || v < a);
  const j = upper(x, (v) => v == null || v <= b);
  return [i, j];
}

// ---------------------------------------------------------------------------------------------

/** A small LRU map (documents fetched for zooming). */
export class Lru<V> {
  private m = new Map<string, V>();
  constructor(readonly max = 64) {}
  get(k: string): V | undefined {
    const v = this.m.get(k);
    if (v !== undefined) {
      this.m.delete(k);
      this.m.set(k, v);
    }
    return v;
  }
  set(k: string, v: V): void {
    this.m.delete(k);
    this.m.set(k, v);
    while (this.m.size > this.max) this.m.delete(this.m.keys().next().value as string);
  }
  delete(k: string): void {
    this.m.delete(k);
  }
  get size(): number {
    return this.m.size;
  }
}
