/**
 * The live chunks of one batch kind: one listener on the chunk-ID range from the newest chunk
 * already received from the server to the end (the open chunk and any newer one), moved on as
 * chunks close (src/feed-ranges.ts liveFrom / liveServes). Closed chunks are received once
 * (the first listener of a page reads the run's chunks from `base`, later ones only what is
 * newer), so a resumed or moved listener does not read what the page holds, and Firestore's
 * emulator, which re-sends every document of a listened range at each change, re-sends little.
 *
 * The listener itself is injected (`Subscribe`; src/feed-reads.ts listenChunks makes the
 * Firestore one), so tests drive the window with plain snapshots.
 */
import type { Unsubscribe } from "firebase/firestore";
import { liveFrom, liveServes, staleTailIds } from "./feed-ranges";
import type { ChunkDoc, DocChange } from "./series";

/** A snapshot of a chunk range, reduced to what the window needs. */
export interface ChunkSnap {
  /** From the local cache: not known to be current. */
  fromCache: boolean;
  changes: DocChange<ChunkDoc>[];
  /** Every document in the listened range (read only when the snapshot is the server's). */
  docs(): ChunkDoc[];
}

/** Listens to a kind's chunks from index `from` on. */
export type Subscribe = (from: number, next: (snap: ChunkSnap) => void) => Unsubscribe;

export class ChunkWindow {
  /** The chunks received at or after `base`, by document ID (the newest copy of each). */
  readonly docs = new Map<string, ChunkDoc>();
  /** Chunks at or after `base` received from the server. */
  private readonly synced = new Set<number>();
  private readonly indexOf = new Map<string, number>();
  /** Points per chunk index the current listener covers (dropped chunks included: it still receives them). */
  private readonly points = new Map<number, number>();
  private unsub: Unsubscribe | null = null;
  private token: object | null = null;
  private start = -1;
  private startedAt = 0;
  /** The first chunk wanted. */
  base = 0;

  constructor(
    private readonly subscribe: Subscribe,
    private readonly onChanges: (changes: DocChange<ChunkDoc>[]) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Only chunks from `base` on are wanted: those before it are dropped. */
  setBase(base: number): void {
    this.base = base;
    for (const id of staleTailIds(this.docs, base)) this.docs.delete(id);
    for (const i of [...this.synced]) if (i < base) this.synced.delete(i);
  }

  /** Listens from `base` on: keeps the current listener where it serves, else starts one from the newest chunk held. */
  listen(base = this.base): void {
    this.setBase(base);
    const from = liveFrom(this.synced, this.base);
    if (liveServes(this.unsub != null, this.start, from, this.now() - this.startedAt, this.pointsBefore(from))) return;
    this.stop();
    const token = {};
    this.token = token;
    this.start = from;
    for (const i of [...this.points.keys()]) if (i < from) this.points.delete(i);
    this.startedAt = this.now();
    const unsub = this.subscribe(from, (snap) => {
      if (this.token === token) this.apply(snap);
    });
    // A listener that answered synchronously may have moved on already.
    if (this.token === token) this.unsub = unsub;
    else unsub();
  }

  /** Points in the chunks the listener covers before `from` (closed ones it need not cover). */
  private pointsBefore(from: number): number {
    let n = 0;
    for (const [i, p] of this.points) if (i >= this.start && i < from) n += p;
    return n;
  }

  /** Drops the listener (what was received stays). */
  stop(): void {
    this.token = null;
    this.unsub?.();
    this.unsub = null;
  }

  private apply(snap: ChunkSnap): void {
    const token = this.token;
    for (const c of snap.changes) {
      if (c.type === "removed" || !c.data) {
        this.docs.delete(c.id);
        const i = this.indexOf.get(c.id);
        if (i != null) {
          this.synced.delete(i);
          this.points.delete(i);
        }
        this.indexOf.delete(c.id);
        continue;
      }
      this.docs.set(c.id, c.data);
      const i = c.data.index;
      if (typeof i === "number") {
        this.indexOf.set(c.id, i);
        if (typeof c.data.n === "number") this.points.set(i, c.data.n);
      }
    }
    if (!snap.fromCache) {
      for (const d of snap.docs()) if (typeof d.index === "number" && d.index >= this.base) this.synced.add(d.index);
    }
    if (snap.changes.length) this.onChanges(snap.changes);
    // Current with the server: move on if the newest chunk has gone past this listener's slack.
    if (!snap.fromCache && this.token === token && this.unsub) this.listen();
  }
}
