/**
 * Live data of one session: three onSnapshot listeners (session document, epochs, batch
 * chunks). Chunk changes go through docChanges(), so while training runs only the open chunk
 * is processed again. `stop()` calls every unsubscribe.
 */
import { collection, doc, onSnapshot, type Firestore, type Unsubscribe } from "firebase/firestore";
import { BatchStore, type ChunkDoc, type DocChange, type EpochDoc } from "./series";

export type LoadState = "loading" | "ok" | "missing" | "denied" | "error";

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
}

export function subscribeSession(db: Firestore, sid: string, onChange: (d: SessionData) => void): () => void {
  const data: SessionData = {
    state: "loading",
    errorMessage: "",
    session: null,
    fromCache: false,
    epochs: new Map(),
    epochsVersion: 0,
    batches: new BatchStore(),
    changedKinds: new Set(),
  };
  const unsubs: Unsubscribe[] = [];
  const emit = () => onChange(data);
  const fail = (where: string) => (err: { code?: string; message?: string }) => {
    if (err.code === "permission-denied") {
      // A subcollection denied while the session document is readable is still worth saying.
      data.state = "denied";
    } else if (data.state !== "ok") {
      data.state = "error";
    }
    data.errorMessage = `${where}: ${err.message ?? String(err)}`;
    emit();
  };

  unsubs.push(
    onSnapshot(
      doc(db, "sessions", sid),
      { includeMetadataChanges: true },
      (snap) => {
        data.fromCache = snap.metadata.fromCache;
        if (snap.exists()) {
          data.session = snap.data();
          data.state = "ok";
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

  unsubs.push(
    onSnapshot(
      collection(db, "sessions", sid, "epochs"),
      (snap) => {
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
      collection(db, "sessions", sid, "batches"),
      (snap) => {
        const changes: DocChange<ChunkDoc>[] = snap.docChanges().map((c) => ({
          type: c.type,
          id: c.doc.id,
          data: c.type === "removed" ? undefined : (c.doc.data() as ChunkDoc),
        }));
        if (changes.length === 0) return;
        for (const k of data.batches.apply(changes)) data.changedKinds.add(k);
        emit();
      },
      fail("batches"),
    ),
  );

  return () => {
    for (const u of unsubs.splice(0)) u();
  };
}
