/**
 * "Download CSV": reads every raw point of the session on demand (every `batches` chunk and
 * every `epochs` document, one query each), builds the CSV (src/csv.ts) and saves it through
 * a Blob link. Loaded with a dynamic import on the first press, so the page's first load
 * does not carry it.
 */
import { collection, getDocs, type Firestore } from "firebase/firestore";
import { collectionPath } from "../contract";
import { csvFileName, sessionCsv } from "../csv";
import { unpackChunk } from "../packed";
import type { ChunkDoc, EpochDoc } from "../series";

/** `raw`: text cells as stored, formula characters and all (`?csv=raw` on the page; docs/dashboard.md). */
export async function downloadSessionCsv(db: Firestore, sid: string, raw = false): Promise<{ rows: number; bytes: number }> {
  const [epochs, chunks] = await Promise.all([
    getDocs(collection(db, collectionPath(sid, "epochs"))),
    getDocs(collection(db, collectionPath(sid, "batches"))),
  ]);
  const text = sessionCsv({
    epochs: epochs.docs.map((d) => [d.id, d.data() as EpochDoc] as const),
    chunks: chunks.docs.map((d) => [d.id, unpackChunk(d.data() as ChunkDoc)] as const),
  }, { raw });
  // A UTF-8 byte-order mark: without it Excel reads the file as the system's code page and
  // garbles non-ASCII metric names (pandas strips it; docs/dashboard.md).
  const blob = new Blob(["\ufeff", text], { type: "text/csv;charset=utf-8" });
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = csvFileName(sid);
  a.hidden = true;
  document.body.appendChild(a);
  a.click();
  a.remove();
  // Some browsers read the Blob after click() returns: revoke a little later.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
  let rows = 0;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) rows++;
  return { rows: rows - 1, bytes: blob.size };
}
