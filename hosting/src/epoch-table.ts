/**
 * Epochs as a chart table: from epoch documents (schema 1) or from the epoch table's parts
 * (`tables/`, schema 2), whose rows become epoch documents, the later row for an ID winning.
 */
import { SCHEMA } from "./contract";
import { emptyTable, metricColumn, noteNonFinite, numArray, plotValue, type EpochDoc, type Table } from "./series";

const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Epoch documents of one kind (`train` by default; a document without kind counts as train). */
export function buildEpochTable(docs: Iterable<EpochDoc>, kind = "train"): Table {
  const byEpoch = new Map<number, EpochDoc>();
  for (const d of docs) {
    if ((d.kind ?? "train") !== kind) continue;
    if (typeof d.epoch !== "number" || !Number.isFinite(d.epoch)) continue;
    byEpoch.set(d.epoch, d); // same epoch twice: the later document wins
  }
  const t = emptyTable();
  t.steps = [];
  const epochs = [...byEpoch.keys()].sort((a, b) => a - b);
  for (const e of epochs) {
    const d = byEpoch.get(e)!;
    const i = t.x.length;
    t.x.push(e);
    t.steps.push(plotValue(d.step));
    t.seconds.push(plotValue(d.seconds));
    t.time.push(plotValue(d.time));
    for (const col of t.metrics.values()) col.push(null);
    const names = numArray(d.names);
    const values = numArray(d.values);
    names.forEach((name, j) => {
      if (typeof name !== "string") return;
      const col = metricColumn(t, name);
      col[i] = plotValue(values[j]);
      noteNonFinite(t.nonFinite, name, e, values[j]);
    });
  }
  t.version = 1;
  return t;
}

export interface EpochTableDoc {
  schema?: number;
  part?: number;
  n?: number;
  id?: unknown;
  kind?: unknown;
  epoch?: unknown;
  step?: unknown;
  seconds?: unknown;
  avg_seconds?: unknown;
  time?: unknown;
  series?: unknown;
}

/** Epoch documents from table parts (in part order, rows in order; a later row replaces an earlier one). */
export function epochsFromTables(parts: Iterable<EpochTableDoc>, into = new Map<string, EpochDoc>()): Map<string, EpochDoc> {
  const sorted = [...parts].sort((x, y) => (x.part ?? 0) - (y.part ?? 0));
  for (const p of sorted) appendTableRows(p, into);
  return into;
}

export function appendTableRows(p: EpochTableDoc, into: Map<string, EpochDoc>): void {
  const ids = arr(p.id);
  const n = typeof p.n === "number" ? Math.min(p.n, ids.length) : ids.length;
  const kind = arr(p.kind);
  const epoch = arr(p.epoch);
  const step = arr(p.step);
  const seconds = arr(p.seconds);
  const avg = arr(p.avg_seconds);
  const time = arr(p.time);
  const series = arr(p.series).filter(
    (s): s is { name: string; values: unknown } => !!s && typeof s === "object" && typeof (s as { name?: unknown }).name === "string",
  );
  const vals = series.map((s) => arr(s.values));
  for (let i = 0; i < n; i++) {
    const id = ids[i];
    if (typeof id !== "string") continue;
    const names: string[] = [];
    const values: unknown[] = [];
    series.forEach((s, k) => {
      const v = vals[k][i];
      if (v != null) {
        names.push(s.name);
        values.push(v);
      }
    });
    into.delete(id); // re-insert: Map order = logging order of the winning row
    into.set(id, {
      schema: SCHEMA,
      kind: typeof kind[i] === "string" ? (kind[i] as string) : "train",
      epoch: epoch[i] as number,
      step: step[i] as number,
      names,
      values,
      seconds: seconds[i],
      avg_seconds: avg[i],
      time: time[i],
    });
  }
}
