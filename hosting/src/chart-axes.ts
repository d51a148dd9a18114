/**
 * The axes of a chart for each x mode, as a person reads them: steps as "149.6k" (no
 * collisions at 360 px), whole epochs, durations with units ("1m 20s"), dates and times
 * under a wall-time title; y tick labels never cut (the axis is as wide as its longest label).
 */
import type uPlot from "uplot";
import { INTEGER_INCRS, axisWidth, compact, duration, stepTick, wallTime } from "./chart-format";
import type { XMode } from "./charts";

/** How an x value is written in the legend for a mode (`partialX`: the x of a partial epoch). */
export function xText(mode: XMode, partialX: number | null = null): (v: number) => string {
  switch (mode) {
    case "relative":
      return duration;
    case "wall":
      return wallTime;
    case "epoch":
      return (v) => {
        const s = String(Number(v.toFixed(2)));
        return partialX != null && v === partialX ? `${s} (partial)` : s;
      };
    default:
      return (v) => String(v);
  }
}

/** Wall-time tick spacings in seconds: 1 s … 1 week. */
const WALL_INCRS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800];

type AxisBase = Pick<uPlot.Axis, "stroke" | "grid" | "ticks">;

/** The x axis for a mode, under `label`. */
export function xAxis(mode: XMode, label: string, base: AxisBase): uPlot.Axis {
  const a: uPlot.Axis = { ...base, label, labelSize: 18, size: 36 };
  if (mode === "step") {
    a.incrs = INTEGER_INCRS;
    a.space = 56;
    a.values = (_u, vals) => vals.map(stepTick);
  } else if (mode === "epoch") {
    // Whole epochs: 1.2, 1.4 are not epochs anyone logged.
    a.incrs = INTEGER_INCRS;
    a.values = (_u, vals) => vals.map((v) => (Number.isInteger(v) ? String(v) : ""));
  } else if (mode === "relative") {
    a.space = 60;
    a.values = (_u, vals) => vals.map(duration);
  } else {
    // Times of day as the legend writes them (24-hour); room for "12:40:05" without overlap.
    a.space = 72;
    a.incrs = WALL_INCRS; // whole seconds at least: "00:09:14" twice is no tick
    a.values = (_u, vals, _i, _space, incr) => vals.map((v) => wallTick(v, incr));
  }
  return a;
}

/** A wall-time tick for a tick spacing of `incr` seconds: "23:48:12", "23:48", "Dec 4". */
export function wallTick(s: number, incr: number): string {
  if (!Number.isFinite(s)) return "";
  const d = new Date(s * 1000);
  if (incr >= 86400) return d.toLocaleDateString(undefined, { month: "short", day: "numeric" });
  const o: Intl.DateTimeFormatOptions = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  if (incr < 60) o.second = "2-digit";
  return d.toLocaleTimeString(undefined, o);
}

/** The y axis: ticks as compact numbers, as wide as the longest of them. */
export function yAxis(base: AxisBase): uPlot.Axis {
  return {
    ...base,
    values: (_u, vals) => vals.map(compact),
    size: (_u, values) => axisWidth(values as unknown as string[]),
  };
}

/**
 * A y range that leaves the first point out when it dwarfs the rest (the first batch of a fit
 * includes compiling the model: 40 s beside 0.05 s flattens everything else), or null.
 */
export function rangeWithoutFirst(values: readonly (number | null | undefined)[]): [number, number] | null {
  const first = values[0];
  if (first == null || values.length < 3) return null;
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 1; i < values.length; i++) {
    const v = values[i];
    if (v == null || !Number.isFinite(v)) continue;
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  if (!Number.isFinite(hi) || first <= 3 * hi) return null;
  const pad = (hi - lo) * 0.1 || Math.abs(hi) * 0.1 || 1;
  return [Math.max(0, lo - pad), hi + pad];
}
