/**
 * One batch kind of a schema-2 session (docs/dashboard.md, "Long runs, zoom and chart
 * tools"): its summary head, one document-ID range read of the part documents of one level,
 * and the raw chunks after the summarised range; kinds with under 10,000 steps, or without a
 * head, are read from their own raw chunks. Either way one ChunkWindow (src/chunk-window.ts)
 * holds the chunks and listens only to the newest ones, so closed chunks are received once
 * (and at the switch to summaries the tail is not read again). What it needs of the session
 * comes in a FeedContext; its decisions are pure functions in src/feed-ranges.ts.
 */
import { doc, onSnapshot, type CollectionReference, type Unsubscribe } from "firebase/firestore";
import { ChunkWindow } from "./chunk-window";
import {
  bucketPoints, finestCovering, headSignature, openPart, partsLeftHead, planRange, rawZoomChunks, tailChunk,
} from "./feed-ranges";
import { countReads, idRange, listenChunks } from "./feed-reads";
import { isSummaryPartId } from "./ids";
import { unpackChunk } from "./packed";
import { BatchSeries, newestOfChunks, type ChunkDoc, type DocChange, type KindSeries, type NewestRaw, type Table } from "./series";
import {
  LevelStore, RAW_THROUGH, bandTable, bucketsInRange, chunkId, chunksForRange, clipPoints, fillTable, headId, headLevel,
  openLevel, partBuckets, partId, partsForRange, rawPoints, widthsOf, zoomLevel,
  type HeadDoc, type Lru, type SummaryDoc,
} from "./summaries";

/** What a kind's feed needs of its session. */
export interface FeedContext {
  /** `sessions/{sid}/summaries` and `sessions/{sid}/batches`. */
  summaries: CollectionReference;
  batches: CollectionReference;
  /** Documents read for zooming that can no longer change, shared by the session's kinds. */
  cache: Lru<unknown>;
  /** The session document said schema 2 (kinds without a head are then read raw). */
  summaryPath(): boolean;
  /** The kind's table changed: show it. */
  changed(kind: string, series: KindSeries): void;
  /** A listener or read failed. */
  fail(where: string): (err: { code?: string; message?: string }) => void;
}

export class KindFeed implements KindSeries {
  mode: "pending" | "raw" | "summary" = "pending";
  head: HeadDoc | null = null;
  private raw: BatchSeries | null = null;
  /** The kind's chunks: every one from 0 in raw mode, the raw tail after the summarised range in summary mode. */
  private chunks: ChunkWindow;
  private readonly band = bandTable();
  private level = 0;
  private readonly stores = new Map<number, LevelStore>();
  /** Parts read per level (zoom levels are partly read; the open level wholly). */
  private readonly partsRead = new Map<number, Set<number>>();
  private headUnsub: Unsubscribe | null;
  /** Hidden page (detach()): no listener, what was read stays. */
  private detached = false;
  /** Re-attached: the tail listens again once the server's head is known. */
  private tailPending = false;
  private pendingHead: HeadDoc | null | undefined;
  private busy = false;
  private dead = false;
  private waiting = false;
  private shortfallAt = -1;

  /** What the last head handled said (through, points, tail), so metadata-only events pass. */
  private headSig: string | undefined;

  constructor(readonly kind: string, private readonly ctx: FeedContext) {
    this.chunks = this.newWindow();
    this.headUnsub = this.listenHead();
  }

  private newWindow(): ChunkWindow {
    return new ChunkWindow(listenChunks(this.ctx.batches, this.kind, this.ctx.fail("batches")), (changes) => this.onChunks(changes));
  }

  private onChunks(changes: DocChange<ChunkDoc>[]): void {
    if (this.mode === "raw") {
      if (this.raw?.apply(changes)) this.changed();
    } else if (this.mode === "summary") this.rebuild();
  }

  private listenHead(): Unsubscribe {
    const ctx = this.ctx;
    const kind = this.kind;
    return onSnapshot(
      doc(ctx.summaries, headId(kind)),
      // With metadata changes: where the cache already knows the head is missing (a reload;
      // system metrics have no head), the server's confirmation changes only metadata.
      { includeMetadataChanges: true },
      (snap) => {
        if (!snap.metadata.fromCache && snap.exists()) countReads("summaries", [snap.id]);
        if (!snap.exists() && snap.metadata.fromCache) return; // wait for the server
        const h = snap.exists() ? (snap.data() as HeadDoc) : null;
        const sig = headSignature(h);
        if (this.tailPending && !snap.metadata.fromCache) {
          // Re-attached: the server's head says where the tail is (an unchanged head: where it was).
          this.tailPending = false;
          if (sig === this.headSig) this.listenChunks(this.chunks.base);
        }
        if (sig === this.headSig) return;
        this.headSig = sig;
        this.pendingHead = h;
        void this.drain();
      },
      ctx.fail("summaries"),
    );
  }

  get table(): Table {
    return this.mode === "raw" && this.raw ? this.raw.table : this.band;
  }
  get pointCount(): number {
    if (this.mode === "summary") return (this.head?.points ?? 0) + this.band.x.length - (this.band.buckets ?? 0);
    return this.table.x.length;
  }
  get thinned(): boolean {
    return this.raw?.thinned ?? [...this.chunks.docs.values()].some((d) => d.thinned === true);
  }
  newest(): NewestRaw | null {
    return this.mode === "raw" ? (this.raw?.newest() ?? null) : newestOfChunks(this.chunks.docs.values());
  }

  /** Heads are handled one at a time; a newer head that arrives meanwhile replaces a waiting one. */
  private async drain(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.pendingHead !== undefined && !this.dead) {
        const h = this.pendingHead;
        this.pendingHead = undefined;
        await this.onHead(h);
      }
    } catch (err) {
      this.ctx.fail("summaries")(err as { message?: string });
    } finally {
      this.busy = false;
    }
  }

  private async onHead(h: HeadDoc | null): Promise<void> {
    const prev = this.head;
    this.head = h;
    const through = typeof h?.through === "number" ? h.through : -1;
    if (!h && !this.ctx.summaryPath()) {
      // No head: either schema 1 (the chunk path will read everything) or a kind without
      // summaries; decided by the session document (resume()).
      this.waiting = true;
      return;
    }
    if (!h || through < RAW_THROUGH) {
      if (this.mode !== "summary") this.startRaw();
      // a head below the threshold changes nothing the raw listener does not show
      return;
    }
    const widths = widthsOf(h);
    const per = partBuckets(h);
    const level = openLevel(through, widths);
    const width = widths[level - 1];
    // The raw tail loads while the parts are read (in raw mode the raw listener goes on until the switch).
    if (this.mode !== "raw") this.listenChunks(tailChunk(h));
    let store = this.stores.get(level);
    if (level !== this.level || !store) {
      // Open (or a coarser level is due): one document-ID range read of the level's parts.
      store = new LevelStore(level, width);
      this.stores.set(level, store);
      const lastPart = openPart(through, width, per);
      const parts = await idRange<SummaryDoc>(this.ctx.summaries, partId(this.kind, level, 0), partId(this.kind, level, lastPart));
      if (this.dead) return;
      for (const p of parts.values()) store.merge(p);
      this.partsRead.set(level, new Set(Array.from({ length: lastPart + 1 }, (_, i) => i)));
      this.level = level;
    } else if (prev) {
      // Buckets that left the head went into their part documents: re-read those parts.
      const gone = partsLeftHead(prev, h, level, per);
      if (gone) {
        const [lo, hi] = gone;
        const parts = await idRange<SummaryDoc>(this.ctx.summaries, partId(this.kind, level, lo), partId(this.kind, level, hi));
        if (this.dead) return;
        for (const p of parts.values()) store.merge(p);
      }
    }
    const read = this.partsRead.get(level)!;
    for (let p = openPart(through, width, per); p >= 0 && !read.has(p); p--) read.add(p);
    // The head holds every level's pending buckets: keep each store read so far current.
    for (const [l, s] of this.stores) {
      const hl = headLevel(h, l);
      if (hl) s.merge(hl);
    }
    // Every summarised point is in some bucket of the level. Fewer means a part changed
    // without passing through the head (a late point in the part before the open one):
    // re-read those two parts, once per shortfall.
    const points = typeof h.points === "number" ? h.points : 0;
    if (bucketPoints(store.buckets.values()) < points && points !== this.shortfallAt) {
      this.shortfallAt = points;
      const open = openPart(through, width, per);
      const parts = await idRange<SummaryDoc>(this.ctx.summaries, partId(this.kind, level, Math.max(0, open - 1)), partId(this.kind, level, open));
      if (this.dead) return;
      for (const p of parts.values()) store.merge(p);
    }
    if (this.mode !== "summary") {
      // The raw chunks held become the tail: those the summaries cover are dropped, the rest not read again.
      this.mode = "summary";
      this.raw = null;
    }
    this.listenChunks(tailChunk(h));
    this.rebuild();
  }

  /** The session turned out to be schema 2: a kind that has no head is read raw. */
  resume(): void {
    if (this.waiting && !this.head) this.startRaw();
    this.waiting = false;
  }

  private startRaw(): void {
    if (this.raw) return; // listening already (or detached: attach() listens again)
    this.mode = "raw";
    this.raw = new BatchSeries();
    if (this.chunks.base > 0) {
      // A tail was held: the raw table wants every chunk.
      this.chunks.stop();
      this.chunks = this.newWindow();
    } else if (this.chunks.docs.size) {
      this.raw.apply([...this.chunks.docs].map(([id, data]) => ({ type: "added" as const, id, data })));
    }
    this.listenChunks(0);
    this.changed();
  }

  /** The chunks from `base` on (0: all of them), listened to from the newest one held (src/chunk-window.ts). */
  private listenChunks(base: number): void {
    if (this.detached) this.chunks.setBase(base); // attach() listens from there
    else this.chunks.listen(base);
  }

  private rebuild(): void {
    const store = this.stores.get(this.level);
    if (!store || !this.head) return;
    const through = this.head.through ?? -1;
    fillTable(this.band, store.sorted(), store.firstBad, rawPoints(this.chunks.docs.values(), through, Infinity), store.names);
    this.band.version += 1_000_000; // never equal to a raw table's version (the view compares both)
    this.zoomed?.();
    this.changed();
  }

  private changed(): void {
    this.ctx.changed(this.kind, this);
  }

  /** The zoomed table, refilled when the tail or the head moves (a zoom on the live end stays live). */
  private zoomed: (() => void) | null = null;

  unzoom(): void {
    this.zoomed = null;
  }

  async zoom(a: number, b: number): Promise<Table | null> {
    this.zoomed = null;
    const h = this.head;
    if (this.mode !== "summary" || !h) return null;
    const through = h.through ?? -1;
    const widths = widthsOf(h);
    const per = partBuckets(h);
    const lvl = zoomLevel(a, b, widths);
    const table = bandTable();
    // Raw points after the summarised range come from the live tail, as in the unzoomed view.
    const tailPoints = () => clipPoints(rawPoints(this.chunks.docs.values(), this.head?.through ?? through, Infinity), a, b);
    if (lvl != null) {
      if (lvl >= this.level) return null; // the open level is fine enough
      const width = widths[lvl - 1];
      let store = this.stores.get(lvl);
      if (!store) {
        store = new LevelStore(lvl, width);
        this.stores.set(lvl, store);
        const hl = headLevel(h, lvl);
        if (hl) store.merge(hl);
      }
      const [pa, pb] = partsForRange(a, Math.min(b, Math.max(through, 0)), width, per);
      const read = this.partsRead.get(lvl) ?? new Set<number>();
      this.partsRead.set(lvl, read);
      const open = openPart(through, width, per);
      const docs = await this.fetchRange(
        pa, pb, (p) => partId(this.kind, lvl, p), (p) => read.has(p) && p < open - 1, (p) => p < open - 1,
      );
      for (const [p, d] of docs) {
        store.merge(d as SummaryDoc);
        read.add(p);
      }
      const hl = headLevel(this.head, lvl);
      if (hl) store.merge(hl);
      const s = store;
      this.zoomed = () => fillTable(table, bucketsInRange(s.sorted(), width, a, b), s.firstBad, tailPoints(), s.names);
      this.zoomed();
      return table;
    }
    // Raw points: which chunks, from the finest level read so far that covers [a, b].
    const best = finestCovering(this.stores, this.partsRead, a, b, through, per);
    const tail = tailChunk(h);
    const fetched = new Map<number, ChunkDoc>();
    if (best && a <= through) {
      const cr = chunksForRange(best.sorted(), best.width, a, b);
      const { lo, hi, hiBound } = rawZoomChunks(cr, tail);
      const isFinal = (i: number) => i < tail;
      const get = async (x: number, y: number) => {
        if (x > y) return;
        const docs = await this.fetchRange(x, y, (i) => chunkId(this.kind, i), isFinal, isFinal);
        for (const [i, d] of docs) fetched.set(i, unpackChunk(d as ChunkDoc));
      };
      await get(lo, hi);
      // The guess came from interpolating inside buckets; widen it where it fell short.
      const pts = rawPoints(fetched.values(), -Infinity, Infinity);
      if (lo > cr.lo && (!pts.length || pts[0].step > a)) await get(cr.lo, lo - 1);
      if (hi < hiBound && (!pts.length || pts[pts.length - 1].step < b)) await get(hi + 1, hiBound);
    }
    const docs = [...fetched.values()];
    this.zoomed = () => fillTable(table, [], new Map(), clipPoints(rawPoints([...docs, ...this.chunks.docs.values()], -Infinity, Infinity), a, b));
    this.zoomed();
    return table;
  }

  /**
   * Documents lo..hi (numbered IDs) through the LRU: only the missing ones are read, with
   * one ID-range query. `cached(i)` says whether a cached copy may be used, `keep(i)`
   * whether a read copy may be cached (documents that can still change are not).
   */
  private async fetchRange(
    lo: number, hi: number, id: (i: number) => string, cached: (i: number) => boolean, keep: (i: number) => boolean,
  ): Promise<Map<number, unknown>> {
    const { have: out, first, last } = planRange(lo, hi, cached, (i) => this.ctx.cache.get(id(i)));
    if (first >= 0) {
      const coll = isSummaryPartId(id(first)) ? this.ctx.summaries : this.ctx.batches;
      const docs = await idRange<Record<string, unknown>>(coll, id(first), id(last));
      const back = new Map<string, number>();
      for (let i = first; i <= last; i++) back.set(id(i), i);
      for (const [docId, d] of docs) {
        const i = back.get(docId);
        if (i == null) continue;
        out.set(i, d);
        if (keep(i)) this.ctx.cache.set(docId, d);
      }
    }
    return out;
  }

  stop(): void {
    this.dead = true;
    this.detach();
  }

  /** Drops every listener (the page is hidden); the tables read so far stay shown. */
  detach(): void {
    this.detached = true;
    this.headUnsub?.();
    this.headUnsub = null;
    this.chunks.stop();
  }

  /**
   * Listens again, from what is held: the raw chunks from the newest one held; the head (its
   * handler reads only the parts that moved), then the tail from the newest chunk held at or
   * after the head's tail (chunks written meanwhile that the head summarises are not read).
   */
  attach(): void {
    if (this.dead || !this.detached) return;
    this.detached = false;
    if (this.mode === "raw" && this.raw) this.listenChunks(0);
    this.tailPending = this.mode === "summary";
    this.headUnsub = this.listenHead();
  }
}
