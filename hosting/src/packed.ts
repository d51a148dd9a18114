/**
 * Packed chunk columns → arrays (docs/schema.md "Packed columns"; the writer's side is
 * tfwatcher/base/packed.py). A chunk's `step`, `epoch`, `batch`, `seconds`, `time` and each
 * series' `values` is either an array (chunks written before packing) or Firestore bytes: a
 * tag byte, then little-endian numbers. Decoding happens once, where a chunk document is read,
 * so everything after it (series.ts, csv.ts, the charts) sees arrays as before.
 *
 * Tags (low 7 bits; 0x80 = a bitmap of n bits, 1 = missing, follows the tag):
 * 1 float32 · 2 float64 · 3 int32 · 4 int64 · 5 range (int64 start, int64 by) ·
 * 6 times (float64 base seconds, int32 milliseconds after it) · 7 durations (int32 microseconds) ·
 * 8 times (float64 base seconds, uint16 milliseconds after the previous value) ·
 * 9 durations (uint16 microseconds) · 10 a constant (one float64 for all n; no bitmap).
 */
import { CONTRACT } from "./contract";
import type { ChunkDoc } from "./series";

const MISSING = 0x80;
const WIDTH: Record<number, number> = { 1: 4, 2: 8, 3: 4, 4: 8, 6: 4, 7: 4, 8: 2, 9: 2 };
const COLUMNS = ["step", "epoch", "batch", "seconds", "time"] as const;
// A document holds 1 MiB: at most ~262,000 points of one float32 column. A larger `n` (a
// damaged or hostile chunk: the session's writer controls it) is cut, never allocated.
const MAX_POINTS: number = CONTRACT.chunks.max_points;

/** Firestore's Bytes (duck-typed: this module stays free of the SDK), or raw bytes. */
function bytesOf(v: unknown): Uint8Array | null {
  if (v instanceof Uint8Array) return v;
  const b = v as { toUint8Array?: () => Uint8Array } | null;
  return b && typeof b === "object" && typeof b.toUint8Array === "function" ? b.toUint8Array() : null;
}

/** One column as an array (null where missing); an array column is returned as it is. */
export function unpackColumn(v: unknown, n: number): unknown {
  n = Math.max(0, Math.min(n, MAX_POINTS));
  const data = bytesOf(v);
  if (!data) return v;
  if (data.length === 0) return [];
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const tag = data[0];
  const kind = tag & ~MISSING;
  if (kind === 5) {
    if (data.length < 17) return [];
    const start = Number(view.getBigInt64(1, true));
    const by = Number(view.getBigInt64(9, true));
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++) out[i] = start + i * by;
    return out;
  }
  if (kind === 10) {
    if (data.length < 9) return [];
    return new Array<number>(n).fill(view.getFloat64(1, true));
  }
  const width = WIDTH[kind];
  if (!width) return [];
  let pos = 1;
  let bits: Uint8Array | null = null;
  if (tag & MISSING) {
    bits = data.subarray(pos, pos + Math.ceil(n / 8));
    pos += Math.ceil(n / 8);
  }
  let base = 0;
  if (kind === 6 || kind === 8) {
    if (data.length < pos + 8) return [];
    base = view.getFloat64(pos, true);
    pos += 8;
  }
  const count = Math.min(n, Math.floor((data.length - pos) / width));
  const out = new Array<number | null>(count);
  let ms = 0; // tag 8: milliseconds after the base so far
  for (let i = 0, p = pos; i < count; i++, p += width) {
    if (kind === 8) ms += view.getUint16(p, true);
    if (bits && (bits[i >> 3] >> (i & 7)) & 1) {
      out[i] = null;
      continue;
    }
    switch (kind) {
      case 1: out[i] = view.getFloat32(p, true); break;
      case 2: out[i] = view.getFloat64(p, true); break;
      case 3: out[i] = view.getInt32(p, true); break;
      case 4: out[i] = Number(view.getBigInt64(p, true)); break;
      case 7: out[i] = view.getInt32(p, true) / 1_000_000; break;
      case 8: out[i] = base + ms / 1000; break;
      case 9: out[i] = view.getUint16(p, true) / 1_000_000; break;
      default: out[i] = base + view.getInt32(p, true) / 1000;
    }
  }
  return out;
}

/** A chunk document with its columns as arrays (the same object when nothing is packed). */
export function unpackChunk(doc: ChunkDoc): ChunkDoc {
  if (!doc || typeof doc !== "object") return doc;
  const series = Array.isArray(doc.series) ? (doc.series as unknown[]) : null;
  const packed = COLUMNS.some((f) => bytesOf(doc[f])) ||
    !!series?.some((s) => bytesOf((s as { values?: unknown } | null)?.values));
  if (!packed) return doc;
  const n = typeof doc.n === "number" && Number.isInteger(doc.n) && doc.n >= 0 ? Math.min(doc.n, MAX_POINTS) : 0;
  const out: ChunkDoc = { ...doc };
  for (const f of COLUMNS) if (f in doc) out[f] = unpackColumn(doc[f], n);
  if (series) {
    out.series = series.map((s) =>
      s && typeof s === "object" ? { ...(s as object), values: unpackColumn((s as { values?: unknown }).values, n) } : s,
    );
  }
  return out;
}
