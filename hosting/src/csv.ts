/**
 * A session's raw points as one CSV (pure: documents in, text out; views/csv-download.ts
 * reads the documents and saves the file).
 *
 * One row per record, epoch rows first (every `epochs/{id}` document: train, evaluate,
 * predict), then every batch point of every chunk (`batches/{kind}-{index}`: train, test,
 * predict, system), kinds in that order, chunks by index, points in stored order. Columns:
 *
 *   record,kind,epoch,batch,step,seconds,avg_seconds,time,<metric 1>,<metric 2>,…
 *
 * `record` is `epoch` or `batch`; `kind` is the epoch document's kind or the chunk's kind.
 * Metric columns are every metric name seen, in first-seen order (epochs, then batches). A
 * value the record lacks is empty. Numbers are written as the shortest text that reads back
 * as the same double (`String(x)`); NaN and ±Infinity as `nan`, `inf`, `-inf` (what pandas
 * and numpy read). Fields with a comma, a double quote, CR or LF are quoted (RFC 4180), quotes
 * doubled; lines end with CRLF.
 *
 * Text cells (metric names, kinds; never numbers, so `-0.5` stays a number) that start with
 * `=`, `+`, `-`, `@`, a tab or CR get a leading `'`, so Excel, Sheets and LibreOffice show them
 * as text instead of running them as formulas (OWASP's CSV injection advice). `raw: true`
 * (the page's `?csv=raw`) writes them unchanged (docs/dashboard.md).
 */
import { BATCH_KINDS } from "./contract";
import { kindOfChunk } from "./ids";
import type { ChunkDoc, EpochDoc } from "./series";

export const CSV_FIXED = ["record", "kind", "epoch", "batch", "step", "seconds", "avg_seconds", "time"] as const;
/** Batch kinds in the contract's order; others after them. */
const KIND_ORDER = BATCH_KINDS;

/** Leading characters a spreadsheet reads as the start of a formula. */
const FORMULA_START = /^[=+\-@\t\r]/;

export interface CsvOptions {
  /** Write text cells as stored, formula characters and all. Defaults to false. */
  raw?: boolean;
}

/** One CSV field. */
export function csvField(v: unknown, opts: CsvOptions = {}): string {
  if (v == null) return "";
  if (typeof v === "number") {
    if (Number.isNaN(v)) return "nan";
    if (v === Infinity) return "inf";
    if (v === -Infinity) return "-inf";
    return String(v);
  }
  if (typeof v === "boolean") return v ? "true" : "false";
  let s = String(v);
  if (!opts.raw && FORMULA_START.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function chunkKind(id: string, d: ChunkDoc): string {
  return typeof d.kind === "string" ? d.kind : kindOfChunk(id, "train");
}

function kindRank(kind: string): number {
  const i = KIND_ORDER.indexOf(kind);
  return i < 0 ? KIND_ORDER.length : i;
}

export interface CsvSources {
  /** `epochs/{id}` documents as [id, data]. */
  epochs: Iterable<readonly [string, EpochDoc]>;
  /** `batches/{id}` documents as [id, data]. */
  chunks: Iterable<readonly [string, ChunkDoc]>;
}

/** The number of points a chunk holds (`n`, at most the length of `step`). */
function chunkPoints(d: ChunkDoc): number {
  const steps = arr(d.step);
  return typeof d.n === "number" && d.n >= 0 ? Math.min(d.n, steps.length) : steps.length;
}

/** Builds the CSV text. */
export function sessionCsv(src: CsvSources, opts: CsvOptions = {}): string {
  const text = (v: unknown) => csvField(v, opts);
  const epochs = [...src.epochs].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const chunks = [...src.chunks]
    .map(([id, d]) => ({ id, d, kind: chunkKind(id, d), index: typeof d.index === "number" ? d.index : Number.MAX_SAFE_INTEGER }))
    .sort((a, b) => kindRank(a.kind) - kindRank(b.kind) || a.kind.localeCompare(b.kind) || a.index - b.index || a.id.localeCompare(b.id));

  const column = new Map<string, number>();
  const names: string[] = [];
  const see = (name: unknown) => {
    if (typeof name !== "string" || column.has(name)) return;
    column.set(name, names.length);
    names.push(name);
  };
  for (const [, d] of epochs) arr(d.names).forEach(see);
  for (const c of chunks) for (const s of arr(c.d.series)) see((s as { name?: unknown } | null)?.name);

  const lines: string[] = [[...CSV_FIXED, ...names].map(text).join(",")];
  const width = CSV_FIXED.length + names.length;

  for (const [id, d] of epochs) {
    const row = new Array<string>(width).fill("");
    const kind = typeof d.kind === "string" ? d.kind : id.includes("-") ? id.split("-")[0] : "train";
    row[0] = "epoch";
    row[1] = text(kind);
    row[2] = text(d.epoch);
    row[4] = text(d.step);
    row[5] = text(d.seconds);
    row[6] = text(d.avg_seconds);
    row[7] = text(d.time);
    const values = arr(d.values);
    arr(d.names).forEach((name, j) => {
      if (typeof name === "string") row[CSV_FIXED.length + column.get(name)!] = text(values[j]);
    });
    lines.push(row.join(","));
  }

  for (const c of chunks) {
    const d = c.d;
    const n = chunkPoints(d);
    const step = arr(d.step);
    const epoch = arr(d.epoch);
    const batch = arr(d.batch);
    const seconds = arr(d.seconds);
    const time = arr(d.time);
    const series: [number, unknown[]][] = [];
    for (const s of arr(d.series)) {
      const name = (s as { name?: unknown } | null)?.name;
      if (typeof name !== "string") continue;
      series.push([CSV_FIXED.length + column.get(name)!, arr((s as { values?: unknown }).values)]);
    }
    const kind = text(c.kind);
    for (let j = 0; j < n; j++) {
      const row = new Array<string>(width).fill("");
      row[0] = "batch";
      row[1] = kind;
      row[2] = text(epoch[j]);
      row[3] = text(batch[j]);
      row[4] = text(step[j]);
      row[5] = text(seconds[j]);
      row[7] = text(time[j]);
      for (const [col, values] of series) row[col] = text(values[j]);
      lines.push(row.join(","));
    }
  }
  return lines.join("\r\n") + "\r\n";
}

/** Parses CSV text as written by sessionCsv (RFC 4180 quoting). For tests and checks. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        continue;
      }
      field += ch;
      i++;
      continue;
    }
    if (ch === '"' && field === "") {
      quoted = true;
      i++;
    } else if (ch === ",") {
      row.push(field);
      field = "";
      i++;
    } else if (ch === "\r" || ch === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      i += ch === "\r" && text[i + 1] === "\n" ? 2 : 1;
    } else {
      field += ch;
      i++;
    }
  }
  if (field !== "" || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

/** A CSV number field back to a number (`nan`, `inf`, `-inf` included); "" → null. */
export function csvNumber(s: string): number | null {
  if (s === "") return null;
  if (s === "nan") return NaN;
  if (s === "inf") return Infinity;
  if (s === "-inf") return -Infinity;
  return Number(s);
}

/** A file name for the session's CSV. */
export function csvFileName(sid: string): string {
  return `tfwatcher-${sid}.csv`;
}
