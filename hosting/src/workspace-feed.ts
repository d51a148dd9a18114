/**
 * The workspace page's reads (`workspaces/{wid}/runs`, the run index). Bounded by the page
 * size whatever the number of runs (docs/dashboard.md, "Workspace page"):
 *  (a) active runs: where(active == true) orderBy(started desc) limit(page_size), realtime;
 *  (b) all runs: orderBy(started desc) limit(page_size), realtime: a new run appears without
 *      a reload;
 *  "Show more": the next page_size after the oldest run held, one get (old runs rarely
 *  change; an active one is kept fresh by (a)).
 * A run that leaves (a) (it ended) and is not in (b) is read once with a get. A run pushed out
 * of (b) by newer ones stays in the list. A hidden page drops both listeners (views/workspace.ts).
 */
import {
  collection,
  doc,
  getDoc,
  getDocs,
  getDocsFromCache,
  limit,
  onSnapshot,
  orderBy,
  query,
  startAfter,
  where,
  type DocumentSnapshot,
  type Firestore,
  type Query,
  type QuerySnapshot,
} from "firebase/firestore";
import { COLLECTIONS } from "./contract";
import { countReads } from "./feed-reads";
import { PAGE_SIZE, compareByStart, parseRun, type RunRow } from "./workspace-model";

// Index document fields the queries use (docs/schema.md, "Workspaces").
const ACTIVE = "active";
const STARTED = "started";

export interface WorkspaceData {
  state: "loading" | "ok" | "denied" | "error";
  errorMessage: string;
  /** The newest list snapshot came from this device's cache (offline, or not yet confirmed). */
  fromCache: boolean;
  rows: Map<string, RunRow>;
  /** Whether "Show more" may find older runs. */
  hasMore: boolean;
  loadingMore: boolean;
  /** Bumped on every change (views re-render on it). */
  version: number;
}

export interface WorkspaceFeed {
  readonly data: WorkspaceData;
  /** Loads the next page of older runs. */
  more(): Promise<void>;
  detach(): void;
  attach(): void;
  stop(): void;
}

export function runsCollection(db: Firestore, wid: string) {
  return collection(db, COLLECTIONS.workspaces, wid, COLLECTIONS.runs);
}

const offline = () => typeof navigator !== "undefined" && !navigator.onLine;

export function subscribeWorkspace(db: Firestore, wid: string, onChange: (d: WorkspaceData) => void): WorkspaceFeed {
  const runs = runsCollection(db, wid);
  const qActive = query(runs, where(ACTIVE, "==", true), orderBy(STARTED, "desc"), limit(PAGE_SIZE));
  const qFirst = query(runs, orderBy(STARTED, "desc"), limit(PAGE_SIZE));
  const data: WorkspaceData = {
    state: "loading", errorMessage: "", fromCache: false, rows: new Map(), hasMore: false, loadingMore: false, version: 0,
  };
  /** IDs in (b)'s current result, and its oldest document (the cursor while no page was added). */
  let firstIds = new Set<string>();
  let firstLast: DocumentSnapshot | null = null;
  /** The oldest document of the pages added with "Show more" (their cursor). */
  let pageLast: DocumentSnapshot | null = null;
  let firstSeen = false;
  let activeSeen = false;
  let unsubs: (() => void)[] = [];
  let stopped = false;

  const changed = () => {
    data.version++;
    if (!stopped) onChange(data);
  };
  /** Keeps the newer version (by `updated`) when two reads hold the same run. */
  const put = (id: string, d: Record<string, unknown>) => {
    const row = parseRun(id, d);
    if (!row) return;
    const held = data.rows.get(id);
    if (held && held.updatedMs != null && row.updatedMs != null && row.updatedMs < held.updatedMs) return;
    data.rows.set(id, row);
  };
  const fail = (err: { code?: string; message?: string }) => {
    if (data.state === "ok" && data.rows.size) return; // keep what is shown; the listener is gone
    data.state = err.code === "permission-denied" ? "denied" : "error";
    data.errorMessage = err.message ?? String(err);
    changed();
  };
  // The `?debug` read log, as billed: a listener's whole first result from the server (even
  // documents another listener already brought), then each document added or changed.
  const confirmed = new Set<Query>();
  const served = (q: Query, snap: QuerySnapshot) => {
    if (snap.metadata.fromCache) return;
    const first = !confirmed.has(q);
    confirmed.add(q);
    const ids = first ? snap.docs.map((d) => d.id) : snap.docChanges().filter((c) => c.type !== "removed").map((c) => c.doc.id);
    countReads(COLLECTIONS.runs, ids);
  };
  const ready = () => {
    if (data.state === "loading" && firstSeen && activeSeen) data.state = "ok";
  };

  function onFirst(snap: QuerySnapshot): void {
    served(qFirst, snap);
    firstIds = new Set(snap.docs.map((d) => d.id));
    firstLast = snap.docs.length ? snap.docs[snap.docs.length - 1] : null;
    for (const c of snap.docChanges()) {
      if (c.type !== "removed") {
        put(c.doc.id, c.doc.data());
        continue;
      }
      // Pushed out by newer runs (it sorts after the page's oldest): it is still a run of the
      // workspace and stays. Gone from inside the page: deleted.
      const row = data.rows.get(c.doc.id);
      const last = firstLast ? parseRun(firstLast.id, firstLast.data() ?? {}) : null;
      const pushedOut = row && last && snap.size >= PAGE_SIZE && compareByStart(row, last) > 0;
      if (!pushedOut) data.rows.delete(c.doc.id);
    }
    if (!pageLast) data.hasMore = snap.size >= PAGE_SIZE;
    data.fromCache = snap.metadata.fromCache;
    firstSeen = true;
    ready();
    changed();
  }

  function onActive(snap: QuerySnapshot): void {
    served(qActive, snap);
    for (const c of snap.docChanges()) {
      if (c.type !== "removed") {
        put(c.doc.id, c.doc.data());
      } else if (!firstIds.has(c.doc.id) && !snap.metadata.fromCache) {
        // It ended (or was deleted): (b) does not hold it, so read its final state once.
        void refresh(c.doc.id);
      }
    }
    activeSeen = true;
    ready();
    changed();
  }

  async function refresh(id: string): Promise<void> {
    try {
      const s = await getDoc(doc(runs, id));
      if (stopped) return;
      if (!s.metadata.fromCache) countReads(COLLECTIONS.runs, [id]);
      if (s.exists()) put(id, s.data());
      else data.rows.delete(id);
      changed();
    } catch {
      /* offline or refused: keep the last known state */
    }
  }

  function attach(): void {
    if (stopped || unsubs.length) return;
    const listen = (q: Query, fn: (s: QuerySnapshot) => void, onError: (e: { code?: string; message?: string }) => void) =>
      onSnapshot(q, { includeMetadataChanges: true }, fn, onError);
    unsubs = [
      listen(qFirst, onFirst, fail),
      listen(qActive, onActive, (err) => {
        if (err.code === "permission-denied") return fail(err);
        // Most likely the composite index (active, started desc) is not deployed: the list
        // still shows the newest runs, without the older active ones first.
        console.warn("TF Watcher: the active runs of this workspace could not be read", err);
        activeSeen = true;
        ready();
        changed();
      }),
    ];
  }

  function detach(): void {
    for (const u of unsubs.splice(0)) u();
    confirmed.clear(); // listening again is billed as a new query (at worst: after 30 min away)
  }

  async function more(): Promise<void> {
    const cursor = pageLast ?? firstLast;
    if (stopped || data.loadingMore || !cursor) return;
    data.loadingMore = true;
    changed();
    try {
      const q = query(runs, orderBy(STARTED, "desc"), startAfter(cursor), limit(PAGE_SIZE));
      // Offline, getDocs would wait for the server before falling back: ask the cache at once.
      const snap = offline() ? await getDocsFromCache(q) : await getDocs(q);
      if (stopped) return;
      if (!snap.metadata.fromCache) countReads(COLLECTIONS.runs, snap.docs.map((d) => d.id));
      for (const d of snap.docs) put(d.id, d.data());
      if (snap.docs.length) pageLast = snap.docs[snap.docs.length - 1];
      data.hasMore = snap.size >= PAGE_SIZE;
    } catch (err) {
      data.errorMessage = (err as Error).message ?? String(err);
    } finally {
      data.loadingMore = false;
      changed();
    }
  }

  attach();
  return {
    data,
    more,
    attach,
    detach,
    stop() {
      stopped = true;
      detach();
    },
  };
}
