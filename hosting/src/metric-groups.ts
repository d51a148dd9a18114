/** Which metrics share a chart: `x` and `val_x` on the same axes. */
import type { Num, Table } from "./series";

export interface MetricGroup {
  /** Chart title: the metric name without `val_`. */
  title: string;
  train?: string;
  val?: string;
}

/** Pairs `x` with `val_x` on one chart, in first-seen order of either. */
export function groupMetrics(names: readonly string[]): MetricGroup[] {
  const all = new Set(names);
  const groups = new Map<string, MetricGroup>();
  for (const name of names) {
    const isVal = name.startsWith("val_") && name.length > 4;
    const base = isVal ? name.slice(4) : name;
    let g = groups.get(base);
    if (!g) {
      g = { title: base };
      groups.set(base, g);
    }
    if (isVal) g.val = name;
    else g.train = name;
  }
  // `val_x` without `x` keeps its own title so nothing is renamed silently.
  for (const g of groups.values()) {
    if (!g.train && g.val && !all.has(g.title)) g.title = g.val;
  }
  return [...groups.values()];
}

/** uPlot data for one group: [x, train?, val?] sharing the table's arrays (no copies). */
export function groupData(t: Table, g: MetricGroup): Num[][] {
  const out: Num[][] = [t.x];
  if (g.train) out.push(t.metrics.get(g.train) ?? []);
  if (g.val) out.push(t.metrics.get(g.val) ?? []);
  return out;
}

/** Counts of drawable points per series, for `data-points` attributes and tests. */
export function drawablePoints(values: readonly Num[]): number {
  let n = 0;
  for (let i = 0; i < values.length; i++) if (values[i] !== null) n++;
  return n;
}
