/**
 * The compare page's charts without the DOM: which charts (metric groups in the session
 * page's order), each chart's series for every run (smoothing and log applied per run, then
 * aligned on one x), and the readout's texts at the crosshair. Only the compare chunk imports
 * this (compare-model is also on the home screen, so it stays small).
 */
import { orderGroups } from "./axes";
import type { XMode } from "./charts";
import { xText } from "./chart-axes";
import { alignNames, metricNames, type Aligned, type RunSeries } from "./compare-model";
import { ema } from "./ema";
import { formatValue } from "./format";
import { groupMetrics, type MetricGroup } from "./metric-groups";
import type { Num } from "./series";

/** The charts of a comparison: `x` and `val_x` on one chart, loss first, as on the session page. */
export function compareGroups(runs: readonly RunSeries[]): MetricGroup[] {
  return orderGroups(groupMetrics(metricNames(runs)));
}

/** The names a group draws, train first. */
export function groupNames(g: MetricGroup): string[] {
  return [g.train, g.val].filter((n): n is string => !!n);
}

/**
 * A run as drawn with the chart tools: log scale turns non-positive values into gaps, then
 * smoothing (EMA) runs over the run's own points, before runs are aligned (another run's x
 * must not cut a line into pieces).
 */
export function drawnSeries(r: RunSeries, names: readonly string[], o: { log: boolean; smooth: number }): RunSeries {
  const metrics = new Map<string, readonly Num[]>();
  for (const n of names) {
    let v = r.metrics.get(n);
    if (!v) continue;
    if (o.log) v = v.map((y) => (y != null && y > 0 ? y : null));
    if (o.smooth > 0) v = ema(v, o.smooth);
    metrics.set(n, v);
  }
  return { x: r.x, metrics, names: r.names };
}

/** What each uPlot series (after x) of a compare chart is: run `run`'s name `name`, a line or its faint raw copy. */
export interface CompareSlot {
  run: number;
  name: number;
  kind: "line" | "raw";
}

/**
 * One group's chart data for every run: per run and name, the raw line (only when smoothing)
 * then the drawn line. `lines` is the aligned drawn lines alone ([x, run 1 name 1, …]), for the readout.
 */
export function groupChartData(
  runs: readonly RunSeries[], names: readonly string[], o: { log: boolean; smooth: number },
): { data: Aligned; slots: CompareSlot[]; lines: Aligned } {
  const lines = alignNames(runs.map((r) => drawnSeries(r, names, o)), names);
  const raw = o.smooth > 0 ? alignNames(runs.map((r) => drawnSeries(r, names, { log: o.log, smooth: 0 })), names) : null;
  const data: Aligned = [lines[0]];
  const slots: CompareSlot[] = [];
  runs.forEach((_r, run) => {
    names.forEach((_n, name) => {
      const col = 1 + run * names.length + name;
      if (raw) {
        data.push(raw[col]);
        slots.push({ run, name, kind: "raw" });
      }
      data.push(lines[col]);
      slots.push({ run, name, kind: "line" });
    });
  });
  return { data, slots, lines };
}

/**
 * A run's value under the cursor (row `idx` of aligned data): its own point there, else its
 * nearest point by x; nothing outside the run's first..last point. `idx` null: its latest value.
 */
export function valueNear(x: readonly Num[], ys: readonly (number | null | undefined)[], idx: number | null): number | null {
  if (idx == null) {
    for (let i = ys.length - 1; i >= 0; i--) if (ys[i] != null) return ys[i]!;
    return null;
  }
  if (idx < 0 || idx >= ys.length) return null;
  if (ys[idx] !== undefined) return ys[idx] ?? null;
  let a = idx - 1;
  while (a >= 0 && ys[a] === undefined) a--;
  let b = idx + 1;
  while (b < ys.length && ys[b] === undefined) b++;
  if (a < 0 || b >= ys.length) return null;
  const here = x[idx] ?? 0;
  const left = Math.abs(here - (x[a] ?? 0));
  const right = Math.abs((x[b] ?? 0) - here);
  return (left <= right ? ys[a] : ys[b]) ?? null;
}

/** The readout under a chart: per run, each name's value at the cursor (or the latest). */
export function readoutValues(lines: Aligned, runs: number, names: number, idx: number | null): (number | null)[][] {
  const out: (number | null)[][] = [];
  for (let r = 0; r < runs; r++) {
    const row: (number | null)[] = [];
    for (let n = 0; n < names; n++) row.push(valueNear(lines[0] as Num[], lines[1 + r * names + n] ?? [], idx));
    out.push(row);
  }
  return out;
}

/**
 * The readout's texts at data row `idx` (null, or a row past the data: the latest values):
 * its heading ("epoch 3", or "Latest") and per run each name's value.
 */
export function readoutTexts(
  lines: Aligned, runs: number, names: number, idx: number | null, xMode: XMode, xLabel: string,
): { x: string; idx: number | null; values: string[][] } {
  const xv = idx == null ? null : lines[0][idx];
  const at = xv == null ? null : idx;
  return {
    x: at == null ? "Latest" : `${xLabel} ${xText(xMode)(xv!)}`.trim(),
    idx: at,
    values: readoutValues(lines, runs, names, at).map((row) => row.map(formatValue)),
  };
}
