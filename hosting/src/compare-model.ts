/**
 * Compare runs (`/compare?ids=a,b,c&x=step`): which sessions, and their series overlaid on
 * shared axes. Pure: views/compare.ts reads the sessions and draws.
 */
import { checkSid } from "./sid";
import type { Num, Table } from "./series";

export const MAX_COMPARE = 5;
export type Align = "epoch" | "step";

/** Colours of runs 1..5: distinct for the common colour-vision deficiencies, light and dark. */
export const RUN_COLORS = ["#1a73e8", "#e8710a", "#188038", "#a142f4", "#d01884"];

export interface CompareEntry {
  /** What was given (an ID, grouped ID or a link). */
  input: string;
  /** The canonical session ID, or null when `input` is not one. */
  sid: string | null;
  /** Why it is not compared: "not a session ID", "listed twice", "more than 5". */
  problem: string | null;
}

/** Splits what was typed or pasted (commas, spaces, new lines) into entries; up to 5 are compared. */
export function parseCompareInput(text: string): CompareEntry[] {
  const tokens = text.split(/[\s,;]+/).map((t) => t.trim()).filter(Boolean);
  const out: CompareEntry[] = [];
  const seen = new Set<string>();
  let ok = 0;
  for (const input of tokens) {
    const r = checkSid(input);
    if (!r.ok) {
      out.push({ input, sid: null, problem: "not a session ID" });
    } else if (seen.has(r.sid)) {
      out.push({ input, sid: r.sid, problem: "listed twice" });
    } else if (ok >= MAX_COMPARE) {
      out.push({ input, sid: r.sid, problem: `more than ${MAX_COMPARE}: not shown` });
    } else {
      seen.add(r.sid);
      ok++;
      out.push({ input, sid: r.sid, problem: null });
    }
  }
  return out;
}

/** The `ids` and `x` of a compare URL's query string. */
export function parseCompareSearch(search: string): { ids: string; align: Align } {
  const q = new URLSearchParams(search);
  return { ids: q.get("ids") ?? "", align: q.get("x") === "step" ? "step" : "epoch" };
}

/** `/compare?ids=a,b` (commas kept readable), plus `&x=step` when aligned by step. */
export function comparePath(inputs: readonly string[], align: Align = "epoch"): string {
  const ids = inputs.map((s) => encodeURIComponent(s).replace(/%2C/gi, ",")).join(",");
  return `/compare?ids=${ids}${align === "step" ? "&x=step" : ""}`;
}

/** One run's series for one alignment: x ascending, and one array per metric parallel to it. */
export interface RunSeries {
  x: readonly number[];
  metrics: ReadonlyMap<string, readonly Num[]>;
  names: readonly string[];
}

/** A table (epoch table or a kind's batch table) as a RunSeries. */
export function runSeries(t: Table | null | undefined): RunSeries {
  if (!t) return { x: [], metrics: new Map(), names: [] };
  return { x: t.x, metrics: t.metrics, names: t.names };
}

/** Every metric name of the runs, in first-seen order (run 1 first). */
export function metricNames(runs: readonly RunSeries[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const r of runs) {
    for (const n of r.names) {
      if (!seen.has(n)) {
        seen.add(n);
        out.push(n);
      }
    }
  }
  return out;
}

/**
 * uPlot data for one metric: the union of every run's x, and per run its values at those x.
 * `undefined` where a run has no point at that x (the line passes over it), `null` where the
 * run has the point but no drawable value (a gap), as uPlot.join does.
 */
export function alignMetric(runs: readonly RunSeries[], name: string): Aligned {
  return alignNames(runs, [name]);
}

export type Aligned = (number | null | undefined)[][];

/**
 * Several metrics of each run on one x: [x, run 1 name 1, run 1 name 2, …, run 2 name 1, …].
 * The x of a run counts only when it has one of the names.
 */
export function alignNames(runs: readonly RunSeries[], names: readonly string[]): Aligned {
  const xs = new Set<number>();
  for (const r of runs) {
    if (!names.some((n) => r.metrics.has(n))) continue;
    for (const x of r.x) if (Number.isFinite(x)) xs.add(x);
  }
  const x = [...xs].sort((a, b) => a - b);
  const at = new Map<number, number>();
  x.forEach((v, i) => at.set(v, i));
  const out: Aligned = [x];
  for (const r of runs) {
    for (const name of names) {
      const ys = new Array<number | null | undefined>(x.length).fill(undefined);
      const col = r.metrics.get(name);
      if (col) {
        for (let i = 0; i < r.x.length; i++) {
          const j = at.get(r.x[i]);
          if (j === undefined) continue;
          const v = col[i];
          ys[j] = v == null || !Number.isFinite(v) ? null : v;
        }
      }
      out.push(ys);
    }
  }
  return out;
}

/** Drawable points of each run in aligned data (for `data-points`, and tests). */
export function pointsPerRun(data: readonly (readonly (number | null | undefined)[])[]): number[] {
  return data.slice(1).map((ys) => ys.reduce<number>((n, v) => (v != null ? n + 1 : n), 0));
}
