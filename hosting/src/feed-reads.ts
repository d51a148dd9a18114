/**
 * Firestore reads shared by the session feed (src/data.ts) and its per-kind feeds
 * (src/kind-feed.ts): ID-range queries, chunk changes in the shape BatchSeries takes, the live
 * chunk listener, and the `?debug` read log (documents received, by collection, for the e2e
 * tests and the benchmark).
 */
import {
  documentId,
  endAt,
  getDocs,
  getDocsFromCache,
  onSnapshot,
  orderBy,
  query,
  startAt,
  type CollectionReference,
  type FirestoreError,
  type Query,
  type QuerySnapshot,
} from "firebase/firestore";
import type { Subscribe } from "./chunk-window";
import { chunkRange } from "./ids";
import { unpackChunk } from "./packed";
import type { ChunkDoc, DocChange } from "./series";

interface ReadLog {
  docs: number;
  byCollection: Record<string, number>;
  ids: string[];
}
const readLog: ReadLog | null =
  typeof location !== "undefined" && new URLSearchParams(location.search).has("debug") ? { docs: 0, byCollection: {}, ids: [] } : null;
if (readLog) (window as unknown as { __tfwReads: ReadLog }).__tfwReads = readLog;

export function countReads(coll: string, ids: string[]): void {
  if (!readLog || !ids.length) return;
  readLog.docs += ids.length;
  readLog.byCollection[coll] = (readLog.byCollection[coll] ?? 0) + ids.length;
  if (readLog.ids.length < 500) readLog.ids.push(...ids.map((id) => `${coll}/${id}`));
}

export function countSnap(coll: string, snap: QuerySnapshot): void {
  if (readLog && !snap.metadata.fromCache) {
    countReads(coll, snap.docChanges().filter((c) => c.type !== "removed").map((c) => c.doc.id));
  }
}

/** A chunk snapshot's changes in the shape BatchSeries.apply takes. */
export function chunkChanges(snap: QuerySnapshot): DocChange<ChunkDoc>[] {
  return snap.docChanges().map((c) => ({
    type: c.type,
    id: c.doc.id,
    data: c.type === "removed" ? undefined : unpackChunk(c.doc.data() as ChunkDoc),
  }));
}

/** The chunks of one kind from chunk `from` on, by document-ID range (one query). */
export function kindChunks(batches: CollectionReference, kind: string, from = 0): Query {
  const [first, last] = chunkRange(kind, from);
  return query(batches, orderBy(documentId()), startAt(first), endAt(last));
}

/**
 * The Firestore listener of a ChunkWindow (src/chunk-window.ts): a kind's chunks from index
 * `from` on, with metadata changes (the server's confirmation of what the cache gave tells
 * the window which chunks are current).
 */
export function listenChunks(batches: CollectionReference, kind: string, onError: (err: FirestoreError) => void): Subscribe {
  return (from, next) =>
    onSnapshot(
      kindChunks(batches, kind, from),
      { includeMetadataChanges: true },
      (snap) => {
        countSnap("batches", snap);
        next({
          fromCache: snap.metadata.fromCache,
          changes: chunkChanges(snap),
          docs: () => snap.docs.map((d) => unpackChunk(d.data() as ChunkDoc)),
        });
      },
      onError,
    );
}

/** A collection's documents from ID `from` on (a listener that starts from what is held). */
export function fromId(coll: CollectionReference, from: string): Query {
  return query(coll, orderBy(documentId()), startAt(from));
}

/** Documents of a collection by ID range [from, to] (one query). */
export async function idRange<T>(coll: CollectionReference, from: string, to: string): Promise<Map<string, T>> {
  const q = query(coll, orderBy(documentId()), startAt(from), endAt(to));
  // Offline, getDocs would wait for the server before falling back: ask the cache at once.
  const snap = typeof navigator !== "undefined" && !navigator.onLine ? await getDocsFromCache(q) : await getDocs(q);
  if (!snap.metadata.fromCache) countReads(coll.id, snap.docs.map((d) => d.id));
  const out = new Map<string, T>();
  for (const d of snap.docs) out.set(d.id, d.data() as T);
  return out;
}
