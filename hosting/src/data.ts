/**
 * Live data of one session.
 *
 * Schema 1 (or `?path=chunks`): three onSnapshot listeners (session document, every epoch
 * document, every batch chunk), as before; docChanges() only.
 *
 * Schema 2: a few documents whatever the run length: the session document, the epoch table
 * (`tables/`), and per shown batch kind its summary head, one document-ID range read of the
 * part documents of one level, and a listener on the raw chunks after the summarised range
 * (docs/dashboard.md, "Long runs, zoom and chart tools"). Kinds with under 10,000 steps, or
 * without a head, are read from their own raw chunks. `stop()` calls every unsubscribe.
 */
import {
  collection,
  doc,
  documentId,
  endAt,
  getCountFromServer,
  getDocs,
  getDocsFromCache,
  onSnapshot,
  orderBy,
  query,
  startAt,
  where,
  type CollectionReference,
  type Firestore,
  type QuerySnapshot,
  type Unsubscribe,
} from "firebase/firestore";
import { BatchSeries, BatchStore, newestOfChunks, type ChunkDoc, type DocChange, type EpochDoc, type KindSeries, type NewestRaw, type Table } from "./series";
import {
  LevelStore,
  Lru,
  RAW_THROUGH,
  appendTableRows,
  bandTable,
  bucketsInRange,
  chunkId,
  chunksForRange,
  clipPoints,
  epochsFromTables,
  fillTable,
  headBuckets,
  headId,
  headLevel,
  openLevel,
  partBuckets,
  partId,
  partsForRange,
  rawPoints,
  widthsOf,
  zoomLevel,
  type EpochTableDoc,
  type HeadDoc,
  type SummaryDoc,
} from "./summaries";

export type LoadState = "loading" | "ok" | "missing" | "denied" | "error";
export const BATCH_KINDS = ["train", "test", "predict", "system"];
/** System metrics (CPU, memory, GPU) sampled by the writer: stored like a batch kind. */
export const SYSTEM_KIND = "system";

export interface SessionData {
  state: LoadState;
  errorMessage: string;
  /** Raw session document (null until it exists). */
  session: Record<string, unknown> | null;
  /** The last session snapshot came from the local cache (offline or not yet synced). */
  fromCache: boolean;
  epochs: Map<string, EpochDoc>;
  epochsVersion: number;
  batches: BatchStore;
  /** Kinds whose batch tables changed since the view last looked (the view clears it). */
  changedKinds: Set<string>;
  /** How this session is read: every chunk ("chunks") or summaries ("summaries"); null until known. */
  path: "chunks" | "summaries" | null;
}

export interface SessionFeed {
  stop(): void;
  /** The batch kind the view shows (train is always read: status and ETA use it). */
  showKind(kind: string): void;
  /**
   * Finer data for steps [a, b] of a kind: raw points for a narrow window, else a finer
   * summary level. Null when what is shown already has full resolution there.
   */
  zoom(kind: string, a: number, b: number): Promise<Table | null>;
  /** Zoom reset: the zoomed table is no longer kept current. */
  unzoom(): void;
}

// `?debug`: documents received, by collection, for the e2e test and the benchmark.
interface ReadLog {
  docs: number;
  byCollection: Record<string, number>;
  ids: string[];
}
const readLog: ReadLog | null =
  typeof location !== "undefined" && new URLSearchParams(location.search).has("debug") ? { docs: 0, byCollection: {}, ids: [] } : null;
if (readLog) (window as unknown as { __tfwReads: ReadLog }).__tfwReads = readLog;
function countReads(coll: string, ids: string[]): void {
  if (!readLog || !ids.length) return;
  readLog.docs += ids.length;
  readLog.byCollection[coll] = (readLog.byCollection[coll] ?? 0) + ids.length;
  if (readLog.ids.length < 500) readLog.ids.push(...ids.map((id) => `${coll}/${id}`));
}
/** A chunk snapshot's changes in the shape BatchSeries.apply takes. */
function chunkChanges(snap: QuerySnapshot): DocChange<ChunkDoc>[] {
  return snap.docChanges().map((c) => ({
    type: c.type,
    id: c.doc.id,
    data: c.type === "removed" ? undefined : (c.doc.data() as ChunkDoc),
  }));
}

function countSnap(coll: string, snap: QuerySnapshot): void {
  if (readLog && !snap.metadata.fromCache) {
    countReads(coll, snap.docChanges().filter((c) => c.type !== "removed").map((c) => c.doc.id));
  }
}

/** Documents of a collection by ID range [from, to] (one query). */
async function idRange<T>(coll: CollectionReference, from: string, to: string): Promise<Map<string, T>> {
  const q = query(coll, orderBy(documentId()), startAt(from), endAt(to));
  // Offline, getDocs would wait for the server before falling back: ask the cache at once.
  const snap = typeof navigator !== "undefined" && !navigator.onLine ? await getDocsFromCache(q) : await getDocs(q);
  if (!snap.metadata.fromCache) countReads(coll.id, snap.docs.map((d) => d.id));
  const out = new Map<string, T>();
  for (const d of snap.docs) out.set(d.id, d.data() as T);
  return out;
}

export function subscribeSession(
  db: Firestore,
  sid: string,
  onChange: (d: SessionData) => void,
  opts: { forceChunks?: boolean } = {},
): SessionFeed {
  const data: SessionData = {
    state: "loading",
    errorMessage: "",
    session: null,
    fromCache: false,
    epochs: new Map(),
    epochsVersion: 0,
    batches: new BatchStore(),
    changedKinds: new Set(),
    path: null,
  };
  const root = doc(db, "sessions", sid);
  const batchesRef = collection(root, "batches");
  /** Every chunk of one kind, by document-ID range (`{kind}-000000` … `{kind}-\uf8ff`). */
  const kindChunks = (kind: string) => query(batchesRef, orderBy(documentId()), startAt(chunkId(kind, 0)), endAt(`${kind}-\uf8ff`));
  const summariesRef = collection(root, "summaries");
  const unsubs: Unsubscribe[] = [];
  let stopped = false;
  const emit = () => {
    if (!stopped) onChange(data);
  };
  const fail = (where: string) => (err: { code?: string; message?: string }) => {
    if (stopped) return;
    if (err.code === "permission-denied") {
      // A subcollection denied while the session document is readable is still worth saying.
      data.state = "denied";
    } else if (data.state !== "ok") {
      data.state = "error";
    }
    data.errorMessage = `${where}: ${err.message ?? String(err)}`;
    emit();
  };

  // ---- schema 1: every epoch document and every chunk -------------------------------------
  function startChunkPath(): void {
    unsubs.push(
      onSnapshot(
        collection(root, "epochs"),
        (snap) => {
          countSnap("epochs", snap);
          const changes = snap.docChanges();
          if (changes.length === 0) return;
          for (const c of changes) {
            if (c.type === "removed") data.epochs.delete(c.doc.id);
            else data.epochs.set(c.doc.id, c.doc.data() as EpochDoc);
          }
          data.epochsVersion++;
          emit();
        },
        fail("epochs"),
      ),
    );
    unsubs.push(
      onSnapshot(
        batchesRef,
        (snap) => {
          countSnap("batches", snap);
          const changes = chunkChanges(snap);
          if (changes.length === 0) return;
          for (const k of data.batches.apply(changes)) data.changedKinds.add(k);
          emit();
        },
        fail("batches"),
      ),
    );
  }

  // ---- schema 2: the epoch table ------------------------------------------------------------
  const tableParts = new Map<string, EpochTableDoc>();
  function startTables(): Unsubscribe {
    return onSnapshot(
      collection(root, "tables"),
      (snap) => {
        countSnap("tables", snap);
        const changes = snap.docChanges().filter((c) => c.doc.id.startsWith("epochs-"));
        if (!changes.length) return;
        let lastPart = -1;
        for (const p of tableParts.values()) lastPart = Math.max(lastPart, p.part ?? 0);
        // Only the newest part changed (the usual case while training): re-apply its rows.
        let incremental = true;
        for (const c of changes) {
          const d = c.doc.data() as EpochTableDoc;
          if (c.type === "removed") {
            tableParts.delete(c.doc.id);
            incremental = false;
          } else {
            if ((d.part ?? 0) < lastPart) incremental = false;
            lastPart = Math.max(lastPart, d.part ?? 0);
            tableParts.set(c.doc.id, d);
          }
        }
        if (incremental && changes.length === 1 && changes[0].type !== "removed") {
          appendTableRows(changes[0].doc.data() as EpochTableDoc, data.epochs);
        } else {
          data.epochs.clear();
          epochsFromTables(tableParts.values(), data.epochs);
        }
        data.epochsVersion++;
        emit();
      },
      fail("tables"),
    );
  }

  // ---- schema 2: batch kinds ----------------------------------------------------------------
  const cache = new Lru<unknown>(64);
  const feeds = new Map<string, KindFeed>();

  class KindFeed implements KindSeries {
    mode: "pending" | "raw" | "summary" = "pending";
    head: HeadDoc | null = null;
    private raw: BatchSeries | null = null;
    private rawUnsub: Unsubscribe | null = null;
    private readonly band = bandTable();
    private level = 0;
    private readonly stores = new Map<number, LevelStore>();
    /** Parts read per level (zoom levels are partly read; the open level wholly). */
    private readonly partsRead = new Map<number, Set<number>>();
    private tailDocs = new Map<string, ChunkDoc>();
    private tailStart = -1;
    private tailUnsub: Unsubscribe | null = null;
    private headUnsub: Unsubscribe;
    private pendingHead: HeadDoc | null | undefined;
    private busy = false;
    private dead = false;
    private waiting = false;
    private shortfallAt = -1;

    /** What the last head handled said (through, points, tail), so metadata-only events pass. */
    private headSig: string | undefined;

    constructor(readonly kind: string) {
      this.headUnsub = onSnapshot(
        doc(summariesRef, headId(kind)),
        // With metadata changes: where the cache already knows the head is missing (a reload;
        // system metrics have no head), the server's confirmation changes only metadata.
        { includeMetadataChanges: true },
        (snap) => {
          if (!snap.metadata.fromCache && snap.exists()) countReads("summaries", [snap.id]);
          if (!snap.exists() && snap.metadata.fromCache) return; // wait for the server
          const h = snap.exists() ? (snap.data() as HeadDoc) : null;
          const sig = h ? `${h.through}|${h.points}|${h.tail_chunk}` : "none";
          if (sig === this.headSig) return;
          this.headSig = sig;
          this.pendingHead = h;
          void this.drain();
        },
        fail("summaries"),
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
      return this.raw?.thinned ?? [...this.tailDocs.values()].some((d) => d.thinned === true);
    }
    newest(): NewestRaw | null {
      return this.mode === "raw" ? (this.raw?.newest() ?? null) : newestOfChunks(this.tailDocs.values());
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
        fail("summaries")(err as { message?: string });
      } finally {
        this.busy = false;
      }
    }

    private async onHead(h: HeadDoc | null): Promise<void> {
      const prev = this.head;
      this.head = h;
      const through = typeof h?.through === "number" ? h.through : -1;
      if (!h && data.path !== "summaries") {
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
      // The raw tail loads while the parts are read.
      if (this.mode === "summary" || (this.level === 0 && !this.rawUnsub)) this.listenTail(typeof h.tail_chunk === "number" ? h.tail_chunk : 0);
      let store = this.stores.get(level);
      if (level !== this.level || !store) {
        // Open (or a coarser level is due): one document-ID range read of the level's parts.
        store = new LevelStore(level, width);
        this.stores.set(level, store);
        const lastPart = Math.floor(Math.floor(through / width) / per);
        const parts = await idRange<SummaryDoc>(summariesRef, partId(this.kind, level, 0), partId(this.kind, level, lastPart));
        if (this.dead) return;
        for (const p of parts.values()) store.merge(p);
        this.partsRead.set(level, new Set(Array.from({ length: lastPart + 1 }, (_, i) => i)));
        this.level = level;
      } else if (prev) {
        // Buckets that left the head went into their part documents: re-read those parts.
        const now = headBuckets(h, level);
        const gone = [...headBuckets(prev, level)].filter((b) => !now.has(b)).map((b) => Math.floor(b / per));
        if (gone.length) {
          const lo = Math.min(...gone);
          const hi = Math.max(...gone);
          const parts = await idRange<SummaryDoc>(summariesRef, partId(this.kind, level, lo), partId(this.kind, level, hi));
          if (this.dead) return;
          for (const p of parts.values()) store.merge(p);
        }
      }
      const read = this.partsRead.get(level)!;
      for (let p = Math.floor(Math.floor(through / width) / per); p >= 0 && !read.has(p); p--) read.add(p);
      // The head holds every level's pending buckets: keep each store read so far current.
      for (const [l, s] of this.stores) {
        const hl = headLevel(h, l);
        if (hl) s.merge(hl);
      }
      // Every summarised point is in some bucket of the level. Fewer means a part changed
      // without passing through the head (a late point in the part before the open one):
      // re-read those two parts, once per shortfall.
      const points = typeof h.points === "number" ? h.points : 0;
      let total = 0;
      for (const b of store.buckets.values()) total += b.n;
      if (total < points && points !== this.shortfallAt) {
        this.shortfallAt = points;
        const open = Math.floor(Math.floor(through / width) / per);
        const parts = await idRange<SummaryDoc>(summariesRef, partId(this.kind, level, Math.max(0, open - 1)), partId(this.kind, level, open));
        if (this.dead) return;
        for (const p of parts.values()) store.merge(p);
      }
      if (this.mode !== "summary") {
        this.mode = "summary";
        this.stopRaw();
      }
      this.listenTail(typeof h.tail_chunk === "number" ? h.tail_chunk : 0);
      this.rebuild();
    }

    /** The session turned out to be schema 2: a kind that has no head is read raw. */
    resume(): void {
      if (this.waiting && !this.head) this.startRaw();
      this.waiting = false;
    }

    private startRaw(): void {
      if (this.rawUnsub) return;
      this.mode = "raw";
      this.raw = new BatchSeries();
      const q = kindChunks(this.kind);
      this.rawUnsub = onSnapshot(
        q,
        (snap) => {
          countSnap("batches", snap);
          const changes = chunkChanges(snap);
          if (this.mode === "raw" && this.raw?.apply(changes)) this.changed();
        },
        fail("batches"),
      );
      this.changed();
    }

    private stopRaw(): void {
      this.rawUnsub?.();
      this.rawUnsub = null;
      this.raw = null;
    }

    /** Listens to chunks from `tail` on; moves on (a new listener) once the head has moved a few chunks. */
    private listenTail(tail: number): void {
      if (this.tailUnsub && tail >= this.tailStart && tail <= this.tailStart + 2) return;
      this.tailUnsub?.();
      this.tailStart = tail;
      for (const id of [...this.tailDocs.keys()]) {
        const d = this.tailDocs.get(id)!;
        if ((d.index ?? 0) < tail) this.tailDocs.delete(id);
      }
      const q = query(batchesRef, orderBy(documentId()), startAt(chunkId(this.kind, tail)), endAt(`${this.kind}-\uf8ff`));
      this.tailUnsub = onSnapshot(
        q,
        (snap) => {
          countSnap("batches", snap);
          let n = 0;
          for (const c of snap.docChanges()) {
            n++;
            if (c.type === "removed") this.tailDocs.delete(c.doc.id);
            else this.tailDocs.set(c.doc.id, c.doc.data() as ChunkDoc);
          }
          if (n && this.mode === "summary") this.rebuild();
        },
        fail("batches"),
      );
    }

    private rebuild(): void {
      const store = this.stores.get(this.level);
      if (!store || !this.head) return;
      const through = this.head.through ?? -1;
      fillTable(this.band, store.sorted(), store.firstBad, rawPoints(this.tailDocs.values(), through, Infinity), store.names);
      this.band.version += 1_000_000; // never equal to a raw table's version (the view compares both)
      this.zoomed?.();
      this.changed();
    }

    private changed(): void {
      data.batches.kinds.set(this.kind, this);
      data.changedKinds.add(this.kind);
      emit();
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
      const tailPoints = () => clipPoints(rawPoints(this.tailDocs.values(), this.head?.through ?? through, Infinity), a, b);
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
        const openPart = Math.floor(Math.floor(through / width) / per);
        const docs = await this.fetchRange(
          pa, pb, (p) => partId(this.kind, lvl, p), (p) => read.has(p) && p < openPart - 1, (p) => p < openPart - 1,
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
      let best: LevelStore | null = null;
      for (const [l, s] of this.stores) {
        const read = this.partsRead.get(l);
        const [pa, pb] = partsForRange(a, Math.min(b, Math.max(through, 0)), s.width, per);
        let covered = !!read;
        for (let p = pa; covered && p <= pb; p++) covered = read!.has(p);
        if (covered && (!best || s.level < best.level)) best = s;
      }
      const tail = typeof h.tail_chunk === "number" ? h.tail_chunk : 0;
      const fetched = new Map<number, ChunkDoc>();
      if (best && a <= through) {
        const cr = chunksForRange(best.sorted(), best.width, a, b);
        const hiBound = cr.hi ?? Math.max(cr.lo, tail - 1);
        const lo = Math.min(cr.guessLo, hiBound);
        const hi = Math.min(cr.guessHi ?? hiBound, hiBound);
        const isFinal = (i: number) => i < tail;
        const get = async (x: number, y: number) => {
          if (x > y) return;
          const docs = await this.fetchRange(x, y, (i) => chunkId(this.kind, i), isFinal, isFinal);
          for (const [i, d] of docs) fetched.set(i, d as ChunkDoc);
        };
        await get(lo, hi);
        // The guess came from interpolating inside buckets; widen it where it fell short.
        const pts = rawPoints(fetched.values(), -Infinity, Infinity);
        if (lo > cr.lo && (!pts.length || pts[0].step > a)) await get(cr.lo, lo - 1);
        if (hi < hiBound && (!pts.length || pts[pts.length - 1].step < b)) await get(hi + 1, hiBound);
      }
      const docs = [...fetched.values()];
      this.zoomed = () => fillTable(table, [], new Map(), clipPoints(rawPoints([...docs, ...this.tailDocs.values()], -Infinity, Infinity), a, b));
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
      const out = new Map<number, unknown>();
      let first = -1;
      let last = -1;
      for (let i = lo; i <= hi; i++) {
        const c = cached(i) ? cache.get(id(i)) : undefined;
        if (c !== undefined) out.set(i, c);
        else {
          if (first < 0) first = i;
          last = i;
        }
      }
      if (first >= 0) {
        const docs = await idRange<Record<string, unknown>>(idColl(id(first)), id(first), id(last));
        const back = new Map<string, number>();
        for (let i = first; i <= last; i++) back.set(id(i), i);
        for (const [docId, d] of docs) {
          const i = back.get(docId);
          if (i == null) continue;
          out.set(i, d);
          if (keep(i)) cache.set(docId, d);
        }
      }
      return out;
    }

    stop(): void {
      this.dead = true;
      this.headUnsub();
      this.rawUnsub?.();
      this.tailUnsub?.();
    }
  }

  /** Part IDs contain "-L": they live in summaries/, chunk IDs in batches/. */
  function idColl(id: string): CollectionReference {
    return /-L\d+-\d+$/.test(id) ? summariesRef : batchesRef;
  }

  let tablesUnsub: Unsubscribe | null = null;
  let kindsMode: unknown = undefined;
  let shownKind = "train";
  function startSummaryPath(): void {
    tablesUnsub ??= startTables();
    if (!feeds.has("train")) feeds.set("train", new KindFeed("train"));
  }
  /** Feeds for train (ETA), the kind of the run in progress (its progress) and the shown kind. */
  function syncFeeds(): void {
    if (data.path !== "summaries") return;
    const mode = data.session?.mode;
    const want = new Set(["train", shownKind, mode === "evaluate" ? "test" : mode === "predict" ? "predict" : "train"]);
    for (const [k, f] of feeds) {
      if (!want.has(k)) {
        f.stop();
        feeds.delete(k);
      }
    }
    for (const k of want) if (!feeds.has(k)) feeds.set(k, new KindFeed(k));
  }
  function stopSummaryPath(): void {
    tablesUnsub?.();
    tablesUnsub = null;
    for (const f of feeds.values()) f.stop();
    feeds.clear();
    data.batches.kinds.clear();
    data.epochs.clear();
  }

  /** Other kinds than train: their heads, read once (and again when the session's mode changes).
   * System metrics have no summaries (their chunks suffice): a count of their chunks says
   * whether there are any, without reading them. */
  async function discoverKinds(): Promise<void> {
    const others = BATCH_KINDS.filter((k) => !feeds.has(k) && k !== SYSTEM_KIND).map(headId);
    const placeholder = (kind: string, points: number): void => {
      if (stopped || feeds.has(kind) || !(points > 0)) return;
      // A placeholder until the view shows this kind (then its feed reads it).
      data.batches.kinds.set(kind, { table: bandTable(), pointCount: points, thinned: false });
      emit();
    };
    const heads = others.length
      ? getDocs(query(summariesRef, where(documentId(), "in", others))).then((snap) => {
          countReads("summaries", snap.docs.map((d) => d.id));
          for (const d of snap.docs) placeholder(d.id.replace(/-head$/, ""), Number((d.data() as HeadDoc).points));
        })
      : Promise.resolve();
    const system = feeds.has(SYSTEM_KIND)
      ? Promise.resolve()
      : getCountFromServer(kindChunks(SYSTEM_KIND))
          .then((snap) => {
            countReads("count", [SYSTEM_KIND]); // billed as one read per 1,000 chunks counted
            placeholder(SYSTEM_KIND, snap.data().count);
          });
    try {
      await Promise.all([heads, system]);
    } catch (err) {
      fail("summaries")(err as { message?: string });
    }
  }

  // Speculative start: summaries and the epoch table before the session document says which
  // path (one round trip less for schema 2; for schema 1 these read nothing).
  if (!opts.forceChunks) startSummaryPath();

  unsubs.push(
    onSnapshot(
      root,
      { includeMetadataChanges: true },
      (snap) => {
        data.fromCache = snap.metadata.fromCache;
        if (snap.exists()) {
          if (!snap.metadata.fromCache && !snap.metadata.hasPendingWrites) countReads("sessions", [snap.id]);
          data.session = snap.data();
          data.state = "ok";
          const schema = typeof data.session.schema === "number" ? data.session.schema : 1;
          if (!data.path) {
            if (schema >= 2 && !opts.forceChunks) {
              data.path = "summaries";
              for (const f of feeds.values()) f.resume();
            } else {
              data.path = "chunks";
              stopSummaryPath();
              startChunkPath();
            }
          }
          if (data.path === "summaries" && data.session.mode !== kindsMode) {
            kindsMode = data.session.mode;
            syncFeeds();
            void discoverKinds();
          }
        } else {
          data.session = null;
          // Absent from the cache proves nothing: wait for the server (the view shows
          // "offline" if that never comes).
          data.state = snap.metadata.fromCache ? "loading" : "missing";
        }
        emit();
      },
      fail("session"),
    ),
  );

  return {
    stop() {
      stopped = true;
      for (const u of unsubs.splice(0)) u();
      tablesUnsub?.();
      for (const f of feeds.values()) f.stop();
    },
    showKind(kind: string) {
      if (kind === shownKind) return;
      shownKind = kind;
      syncFeeds();
    },
    async zoom(kind: string, a: number, b: number) {
      const f = feeds.get(kind);
      return f ? f.zoom(a, b) : null;
    },
    unzoom() {
      for (const f of feeds.values()) f.unzoom();
    },
  };
}
