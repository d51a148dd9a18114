/**
 * Live data of one session.
 *
 * Schema 1 (or `?path=chunks`): three onSnapshot listeners (session document, every epoch
 * document, every batch chunk), as before; docChanges() only.
 *
 * Schema 2: a few documents whatever the run length: the session document, the epoch table
 * (`tables/`), and per shown batch kind its summary head, one document-ID range read of the
 * part documents of one level, and a listener on the raw chunks after the summarised range
 * (docs/dashboard.md, "Long runs, zoom and chart tools"): one KindFeed each (src/kind-feed.ts).
 * Kinds with under 10,000 steps, or without a head, are read from their own raw chunks.
 * `stop()` calls every unsubscribe. `detach()` too, keeping what was read (a hidden page,
 * src/visibility.ts); `attach()` listens again from what is held.
 */
import {
  collection,
  doc,
  documentId,
  getCountFromServer,
  getDocs,
  onSnapshot,
  query,
  where,
  type Firestore,
  type Unsubscribe,
} from "firebase/firestore";
import { BATCH_KINDS as CONTRACT_BATCH_KINDS, COLLECTIONS, sessionPath, summaryHeadId, tablePartId } from "./contract";
import { wantedKinds } from "./feed-ranges";
import { chunkChanges, countReads, countSnap, fromId, kindChunks } from "./feed-reads";
import { isTablePartId, kindOfHead } from "./ids";
import { KindFeed, type FeedContext } from "./kind-feed";
import { BatchStore, type EpochDoc, type Table } from "./series";
import { LEGACY_SCHEMA, SYSTEM_KIND } from "./kinds";
import { Lru, appendTableRows, bandTable, epochsFromTables, type EpochTableDoc, type HeadDoc } from "./summaries";

/** The system-chunk count's tries and the first try's deadline (doubled each try). */
const COUNT_TRIES = 4;
const COUNT_DEADLINE_MS = 15_000;

export type LoadState = "loading" | "ok" | "missing" | "denied" | "error";
export const BATCH_KINDS = CONTRACT_BATCH_KINDS;
export { SYSTEM_KIND };

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
  /** Every listener dropped (the page is hidden); what was read stays shown. */
  detach(): void;
  /** Listens again after detach(), from what is held, and catches up. */
  attach(): void;
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
  const root = doc(db, sessionPath(sid));
  const batchesRef = collection(root, COLLECTIONS.batches);
  const summariesRef = collection(root, COLLECTIONS.summaries);
  const unsubs: Unsubscribe[] = [];
  let stopped = false;
  let detached = false;
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
        collection(root, COLLECTIONS.epochs),
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
  /** The epoch table's listener: from the newest part held (all parts at first). */
  function startTables(): Unsubscribe {
    let newest = -1;
    for (const p of tableParts.values()) newest = Math.max(newest, p.part ?? 0);
    const tables = collection(root, COLLECTIONS.tables);
    return onSnapshot(
      newest < 0 ? tables : fromId(tables, tablePartId(newest)),
      (snap) => {
        countSnap("tables", snap);
        const changes = snap.docChanges().filter((c) => isTablePartId(c.doc.id));
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
  const feeds = new Map<string, KindFeed>();
  const ctx: FeedContext = {
    summaries: summariesRef,
    batches: batchesRef,
    cache: new Lru<unknown>(64),
    summaryPath: () => data.path === "summaries",
    changed(kind, series) {
      data.batches.kinds.set(kind, series);
      data.changedKinds.add(kind);
      emit();
    },
    fail,
  };

  let tablesUnsub: Unsubscribe | null = null;
  let kindsMode: unknown = undefined;
  let shownKind = "train";
  function startSummaryPath(): void {
    tablesUnsub ??= startTables();
    if (!feeds.has("train")) feeds.set("train", new KindFeed("train", ctx));
  }
  /** Feeds for train (ETA), the kind of the run in progress (its progress) and the shown kind. */
  function syncFeeds(): void {
    if (data.path !== "summaries") return;
    const want = wantedKinds(shownKind, data.session?.mode);
    for (const [k, f] of feeds) {
      if (!want.has(k)) {
        f.stop();
        feeds.delete(k);
      }
    }
    for (const k of want) {
      if (feeds.has(k)) continue;
      const f = new KindFeed(k, ctx);
      if (detached) f.detach(); // attach() starts it with the others
      feeds.set(k, f);
    }
  }
  function stopSummaryPath(): void {
    tablesUnsub?.();
    tablesUnsub = null;
    for (const f of feeds.values()) f.stop();
    feeds.clear();
    data.batches.kinds.clear();
    data.epochs.clear();
  }

  /** How many system chunks the run has. A count is one RPC outside the listeners: asked while
   * the page is still settling (a reload hands the cache over between tabs) it can fail or never
   * answer, and nothing would ask again, so it is retried, with a deadline on each try. */
  async function countSystemChunks(): Promise<number> {
    for (let attempt = 0; ; attempt++) {
      const deadline = COUNT_DEADLINE_MS * 2 ** attempt;
      try {
        const snap = await Promise.race([
          getCountFromServer(kindChunks(batchesRef, SYSTEM_KIND)),
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer in ${deadline / 1000} s`)), deadline)),
        ]);
        countReads("count", [SYSTEM_KIND]); // billed as one read per 1,000 chunks counted
        return snap.data().count;
      } catch (err) {
        if ((err as { code?: string }).code === "permission-denied" || attempt + 1 >= COUNT_TRIES || stopped) throw err;
        await new Promise((r) => setTimeout(r, 1000 * 2 ** attempt));
      }
    }
  }

  /** Other kinds than train: their heads, read once (and again when the session's mode changes).
   * System metrics have no summaries (their chunks suffice): a count of their chunks says
   * whether there are any, without reading them. */
  async function discoverKinds(): Promise<void> {
    const others = BATCH_KINDS.filter((k) => !feeds.has(k) && k !== SYSTEM_KIND).map(summaryHeadId);
    const placeholder = (kind: string, points: number): void => {
      if (stopped || feeds.has(kind) || !(points > 0)) return;
      // A placeholder until the view shows this kind (then its feed reads it).
      data.batches.kinds.set(kind, { table: bandTable(), pointCount: points, thinned: false });
      emit();
    };
    const heads = others.length
      ? getDocs(query(summariesRef, where(documentId(), "in", others))).then((snap) => {
          countReads("summaries", snap.docs.map((d) => d.id));
          for (const d of snap.docs) placeholder(kindOfHead(d.id), Number((d.data() as HeadDoc).points));
        })
      : Promise.resolve();
    const system = feeds.has(SYSTEM_KIND) ? Promise.resolve() : countSystemChunks().then((n) => placeholder(SYSTEM_KIND, n));
    try {
      await Promise.all([heads, system]);
    } catch (err) {
      fail("summaries")(err as { message?: string });
    }
  }

  function detach(): void {
    if (detached || stopped) return;
    detached = true;
    for (const u of unsubs.splice(0)) u();
    tablesUnsub?.();
    tablesUnsub = null;
    for (const f of feeds.values()) f.detach();
  }
  function attach(): void {
    if (!detached || stopped) return;
    detached = false;
    unsubs.push(listenSession());
    if (data.path === "chunks") startChunkPath();
    else if (data.path === "summaries" || !opts.forceChunks) tablesUnsub ??= startTables();
    for (const f of feeds.values()) f.attach();
  }

  // Speculative start: summaries and the epoch table before the session document says which
  // path (one round trip less for schema 2; for schema 1 these read nothing).
  if (!opts.forceChunks) startSummaryPath();

  const listenSession = (): Unsubscribe =>
    onSnapshot(
      root,
      { includeMetadataChanges: true },
      (snap) => {
        data.fromCache = snap.metadata.fromCache;
        if (snap.exists()) {
          if (!snap.metadata.fromCache && !snap.metadata.hasPendingWrites) countReads("sessions", [snap.id]);
          data.session = snap.data();
          data.state = "ok";
          const schema = typeof data.session.schema === "number" ? data.session.schema : LEGACY_SCHEMA;
          if (!data.path) {
            if (schema > LEGACY_SCHEMA && !opts.forceChunks) {
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
    );
  unsubs.push(listenSession());

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
    detach,
    attach,
  };
}
