/**
 * Firestore documents → chart series. Pure functions and plain classes: no Firebase, no DOM.
 *
 * A table is columnar: one x array (epoch number or global step) and, parallel to it,
 * seconds, time and one array per metric name. Values that a chart cannot draw (missing,
 * NaN, ±Inf) become `null` (a gap); non-finite values are also counted per metric so the
 * view can say "loss became NaN at step 812".
 */

import { kindOfChunk } from "./ids";

export type Num = number | null;

/** `sessions/{sid}/epochs/{n}` as stored (docs/schema.md); every field may be missing. */
export interface EpochDoc {
  schema?: number;
  kind?: string;
  epoch?: number;
  step?: number;
  names?: unknown;
  values?: unknown;
  seconds?: unknown;
  avg_seconds?: unknown;
  time?: unknown;
}

/** `sessions/{sid}/batches/{chunk}` as stored (docs/schema.md). */
export interface ChunkDoc {
  schema?: number;
  kind?: string;
  index?: number;
  n?: number;
  step?: unknown;
  epoch?: unknown;
  batch?: unknown;
  seconds?: unknown;
  time?: unknown;
  series?: unknown;
  thinned?: boolean;
}

export interface NonFinite {
  count: number;
  /** x (epoch or step) of the first NaN/±Inf value. */
  firstX: number;
  firstValue: number;
}

export interface Table {
  x: number[];
  seconds: Num[];
  time: Num[];
  /** metric name → values parallel to x. */
  metrics: Map<string, Num[]>;
  /** metric names in first-seen order. */
  names: string[];
  nonFinite: Map<string, NonFinite>;
  /** Bumped on every change, so a chart knows whether to call setData. */
  version: number;
  /** Summarised rows (schema 2): band edges per metric (min/max of a bucket; the value itself for a raw point). */
  lo?: Map<string, Num[]>;
  hi?: Map<string, Num[]>;
  /** How many leading rows are buckets rather than raw points. */
  buckets?: number;
  /** Epoch tables: the global step at the end of each epoch, parallel to x. */
  steps?: Num[];
}

/** What the view needs of a kind's batch points, whichever way they were read. */
export interface KindSeries {
  readonly table: Table;
  readonly pointCount: number;
  readonly thinned: boolean;
  /** The newest raw point with its epoch and batch (the status card), where the reader has it. */
  newest?(): NewestRaw | null;
}

export interface NewestRaw {
  step: number;
  time: number | null;
  epoch: number | null;
  batch: number | null;
}

/** The last point of the chunk with the highest index among `docs`. */
export function newestOfChunks(docs: Iterable<ChunkDoc>): NewestRaw | null {
  let best: ChunkDoc | null = null;
  for (const d of docs) if (!best || (d.index ?? -1) > (best.index ?? -1)) best = d;
  if (!best) return null;
  const steps = numArray(best.step);
  const i = steps.length - 1;
  const at = (v: unknown): number | null => {
    const x = numArray(v)[i];
    return typeof x === "number" && Number.isFinite(x) ? x : null;
  };
  const step = at(best.step);
  return step == null ? null : { step, time: at(best.time), epoch: at(best.epoch), batch: at(best.batch) };
}

export function emptyTable(): Table {
  return { x: [], seconds: [], time: [], metrics: new Map(), names: [], nonFinite: new Map(), version: 0 };
}

/** A value a chart can draw, or null. */
export function plotValue(v: unknown): Num {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}

export function numArray(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function noteNonFinite(into: Map<string, NonFinite>, name: string, x: number, v: unknown): void {
  if (typeof v !== "number" || Number.isFinite(v)) return;
  const seen = into.get(name);
  if (seen) seen.count++;
  else into.set(name, { count: 1, firstX: x, firstValue: v });
}

/** The column of a metric, made (all null, name appended) the first time it is asked for. */
export function metricColumn(t: Table, name: string): Num[] {
  let col = t.metrics.get(name);
  if (!col) {
    col = new Array<Num>(t.x.length).fill(null);
    t.metrics.set(name, col);
    t.names.push(name);
  }
  return col;
}

// ---------------------------------------------------------------------------------------------
// Batches: many points in chunk documents; the open (last) chunk is rewritten up to once a
// second. Only the changed chunks and what follows them are re-appended.

interface Chunk {
  id: string;
  doc: ChunkDoc;
  firstStep: number;
  index: number;
}

function chunkOrder(a: Chunk, b: Chunk): number {
  return a.firstStep - b.firstStep || a.index - b.index || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

export type ChangeType = "added" | "modified" | "removed";
export interface DocChange<T> {
  type: ChangeType;
  id: string;
  data?: T;
}

/** Batch points of one kind (`train`, `test` or `predict`), merged from chunks by step. */
export class BatchSeries implements KindSeries {
  readonly table: Table = emptyTable();
  private chunks = new Map<string, Chunk>();
  private order: Chunk[] = [];
  /** offsets[i] = where order[i]'s points start in the table (only while `inOrder`). */
  private offsets: number[] = [];
  /** NaN/Inf found in order[i] (only while `inOrder`). */
  private chunkNonFinite: Map<string, NonFinite>[] = [];
  /** True while chunks, concatenated in order, give strictly increasing steps. */
  private inOrder = true;
  /** How many table rows the last apply() rewrote (for tests and the benchmark). */
  lastRewritten = 0;
  thinned = false;

  get pointCount(): number {
    return this.table.x.length;
  }

  newest(): NewestRaw | null {
    return newestOfChunks(this.order.map((c) => c.doc));
  }

  /** Applies Firestore docChanges() for this kind. Returns true if the table changed. */
  apply(changes: DocChange<ChunkDoc>[]): boolean {
    if (changes.length === 0) return false;
    const oldOrder = this.order;
    const changed = new Set<string>();
    for (const c of changes) {
      if (c.type === "removed" || !c.data) {
        if (this.chunks.delete(c.id)) changed.add(c.id);
        continue;
      }
      const steps = numArray(c.data.step);
      const first = typeof steps[0] === "number" ? (steps[0] as number) : Number.POSITIVE_INFINITY;
      const index = typeof c.data.index === "number" ? c.data.index : Number.MAX_SAFE_INTEGER;
      this.chunks.set(c.id, { id: c.id, doc: c.data, firstStep: first, index });
      changed.add(c.id);
    }
    if (changed.size === 0) return false;
    this.order = [...this.chunks.values()].sort(chunkOrder);

    // First position where the order differs or a chunk changed: keep everything before it.
    let keep = 0;
    while (
      keep < this.order.length &&
      keep < oldOrder.length &&
      this.order[keep].id === oldOrder[keep].id &&
      !changed.has(this.order[keep].id)
    ) {
      keep++;
    }
    if (this.inOrder) {
      this.truncate(keep < this.offsets.length ? this.offsets[keep] : this.table.x.length);
      this.offsets.length = keep;
      this.chunkNonFinite.length = keep;
      const start = this.table.x.length;
      for (let i = keep; i < this.order.length && this.inOrder; i++) {
        this.offsets.push(this.table.x.length);
        const nf = new Map<string, NonFinite>();
        this.chunkNonFinite.push(nf);
        this.inOrder = this.appendChunk(this.order[i].doc, nf);
      }
      if (this.inOrder) {
        this.lastRewritten = this.table.x.length - start;
        this.mergeNonFinite();
      } else {
        this.rebuildSorted();
      }
    } else {
      this.rebuildSorted();
    }
    this.thinned = this.order.some((c) => c.doc.thinned === true);
    this.table.version++;
    return true;
  }

  private truncate(n: number): void {
    const t = this.table;
    if (t.x.length === n) return;
    t.x.length = n;
    t.seconds.length = n;
    t.time.length = n;
    for (const col of t.metrics.values()) col.length = n;
  }

  /** The table's NaN/Inf summary, merged from the per-chunk summaries (chunks × metrics). */
  private mergeNonFinite(): void {
    const t = this.table;
    t.nonFinite.clear();
    for (const per of this.chunkNonFinite) {
      for (const [name, nf] of per) {
        const seen = t.nonFinite.get(name);
        if (seen) seen.count += nf.count;
        else t.nonFinite.set(name, { ...nf });
      }
    }
  }

  /** Appends one chunk's points; returns false if its steps do not follow the table's. */
  private appendChunk(doc: ChunkDoc, nonFinite: Map<string, NonFinite>): boolean {
    const t = this.table;
    const steps = numArray(doc.step);
    const n = pointCount(doc);
    let last = t.x.length > 0 ? t.x[t.x.length - 1] : Number.NEGATIVE_INFINITY;
    for (let j = 0; j < n; j++) {
      const s = steps[j];
      if (typeof s !== "number" || !(s > last)) return false;
      last = s;
    }
    const base = t.x.length;
    const secs = numArray(doc.seconds);
    const times = numArray(doc.time);
    for (let j = 0; j < n; j++) {
      t.x.push(steps[j] as number);
      t.seconds.push(plotValue(secs[j]));
      t.time.push(plotValue(times[j]));
    }
    const present = new Set<string>();
    for (const s of numArray(doc.series)) {
      if (!s || typeof s !== "object") continue;
      const { name, values } = s as { name?: unknown; values?: unknown };
      if (typeof name !== "string" || present.has(name)) continue;
      present.add(name);
      const col = metricColumn(this.table, name); // a new metric is null-filled up to `base + n`
      const vals = numArray(values);
      col.length = base;
      for (let j = 0; j < n; j++) {
        col.push(plotValue(vals[j]));
        noteNonFinite(nonFinite, name, steps[j] as number, vals[j]);
      }
    }
    for (const [name, col] of t.metrics) {
      if (present.has(name)) continue;
      for (let j = 0; j < n; j++) col.push(null);
    }
    return true;
  }

  /**
   * Slow path for chunks whose steps overlap or arrive out of order: gather every point,
   * sort by step, and keep the last writer for a duplicated step (the later chunk wins).
   */
  private rebuildSorted(): void {
    const t = this.table;
    const names = t.names.slice();
    const nameSet = new Set(names);
    type P = { step: number; seconds: unknown; time: unknown; vals: Map<string, unknown> };
    const byStep = new Map<number, P>();
    const byIndex = [...this.chunks.values()].sort((a, b) => a.index - b.index || chunkOrder(a, b));
    for (const c of byIndex) {
      const steps = numArray(c.doc.step);
      const n = pointCount(c.doc);
      const secs = numArray(c.doc.seconds);
      const times = numArray(c.doc.time);
      const cols: [string, unknown[]][] = [];
      for (const s of numArray(c.doc.series)) {
        if (!s || typeof s !== "object") continue;
        const { name, values } = s as { name?: unknown; values?: unknown };
        if (typeof name !== "string") continue;
        if (!nameSet.has(name)) {
          nameSet.add(name);
          names.push(name);
        }
        cols.push([name, numArray(values)]);
      }
      for (let j = 0; j < n; j++) {
        const step = steps[j];
        if (typeof step !== "number" || !Number.isFinite(step)) continue;
        const vals = new Map<string, unknown>();
        for (const [name, v] of cols) vals.set(name, v[j]);
        byStep.set(step, { step, seconds: secs[j], time: times[j], vals });
      }
    }
    const points = [...byStep.values()].sort((a, b) => a.step - b.step);
    t.x.length = 0;
    t.seconds.length = 0;
    t.time.length = 0;
    t.metrics.clear();
    t.names.length = 0;
    t.nonFinite.clear();
    for (const name of names) {
      t.metrics.set(name, new Array<Num>(points.length).fill(null));
      t.names.push(name);
    }
    points.forEach((p, i) => {
      t.x.push(p.step);
      t.seconds.push(plotValue(p.seconds));
      t.time.push(plotValue(p.time));
      for (const [name, v] of p.vals) {
        t.metrics.get(name)![i] = plotValue(v);
        noteNonFinite(t.nonFinite, name, p.step, v);
      }
    });
    this.lastRewritten = points.length;
    // Once chunks overlapped, every later change takes this path (rare: a writer bug or
    // chunks thinned after an outage); correctness over speed.
    this.offsets.length = 0;
    this.chunkNonFinite.length = 0;
    this.inOrder = false;
  }
}

function pointCount(doc: ChunkDoc): number {
  const steps = numArray(doc.step);
  return typeof doc.n === "number" && doc.n >= 0 ? Math.min(doc.n, steps.length) : steps.length;
}

/** Routes batch-chunk changes to one BatchSeries per kind. */
export class BatchStore {
  /** BatchSeries for kinds read from raw chunks; schema-2 kinds put their own series here. */
  readonly kinds = new Map<string, KindSeries>();

  /** Returns the kinds whose tables changed. */
  apply(changes: DocChange<ChunkDoc>[]): Set<string> {
    const byKind = new Map<string, DocChange<ChunkDoc>[]>();
    for (const c of changes) {
      const kind = c.data?.kind ?? kindFromId(c.id);
      if (!byKind.has(kind)) byKind.set(kind, []);
      byKind.get(kind)!.push(c);
    }
    const changed = new Set<string>();
    for (const [kind, list] of byKind) {
      const have = this.kinds.get(kind);
      const s = have instanceof BatchSeries ? have : new BatchSeries();
      if (s !== have) this.kinds.set(kind, s);
      // A removed document has no data: remove it from whichever kind holds it.
      if (s.apply(list)) changed.add(kind);
    }
    return changed;
  }
}

function kindFromId(id: string): string {
  return kindOfChunk(id, "train");
}
