/** Chart helpers without uPlot: colours, heights, axis labels, value picking. */
import type { Num } from "./series";

export const INTEGER_INCRS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1e3, 2e3, 2.5e3, 5e3, 1e4, 2e4, 2.5e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7];

export function cssVar(name: string, fallback: string): string {
  const v = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  return v || fallback;
}

/** `#rgb`, `#rrggbb` or `rgb(…)` with an alpha; anything else is returned as is. */
export function withAlpha(color: string, a: number): string {
  let m = /^#([0-9a-f]{3}|[0-9a-f]{6})$/i.exec(color);
  if (m) {
    const hex = m[1].length === 3 ? [...m[1]].map((c) => c + c).join("") : m[1];
    const n = parseInt(hex, 16);
    return `rgba(${(n >> 16) & 255},${(n >> 8) & 255},${n & 255},${a})`;
  }
  m = /^rgba?\(([^)]+)\)$/.exec(color);
  if (m) {
    const [r, g, b] = m[1].split(/[\s,/]+/);
    return `rgba(${r},${g},${b},${a})`;
  }
  return color;
}

export function chartHeight(): number {
  return window.innerWidth < 600 ? 170 : 220;
}

export function compact(v: number): string {
  if (v == null || !Number.isFinite(v)) return "";
  const a = Math.abs(v);
  // "1.5e20", not "1.5e+20": one character less in a narrow axis.
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return v.toExponential(1).replace("e+", "e");
  return String(Number(v.toPrecision(4)));
}

/** Step ticks short enough not to run into each other at 360 px: 149,600 → "149.6k". */
export function stepTick(v: number): string {
  if (!Number.isFinite(v)) return "";
  const a = Math.abs(v);
  if (a >= 1e6) return `${Number((v / 1e6).toPrecision(4))}M`;
  if (a >= 1e4) return `${Number((v / 1e3).toPrecision(4))}k`;
  return String(v);
}

/** Width in px of a y axis that holds its longest tick label whole (about 7 px a character at 12 px). */
export function axisWidth(labels: readonly (string | null | undefined)[] | null | undefined): number {
  let n = 0;
  for (const l of labels ?? []) n = Math.max(n, l ? l.length : 0);
  return Math.max(36, Math.ceil(n * 7.2) + 16);
}

/**
 * A long name cut in the middle, its start and its end kept: the end is usually what tells
 * `customer_churn_probability_val` from `customer_churn_probability_train`.
 */
export function middleCut(name: string, max = 24): string {
  const chars = [...name];
  if (chars.length <= max) return name;
  const tail = Math.ceil((max - 1) / 2);
  const head = max - 1 - tail;
  return chars.slice(0, head).join("") + "…" + chars.slice(chars.length - tail).join("");
}

/** Unix seconds as a short local date and time for the legend: "Dec 4, 23:48:12". */
export function wallTime(s: number): string {
  if (!Number.isFinite(s)) return "";
  const d = new Date(s * 1000);
  const date = d.toLocaleDateString(undefined, { month: "short", day: "numeric" });
  const time = d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" });
  return `${date}, ${time}`;
}

/** Seconds as a short duration for the relative-time axis. */
export function duration(s: number): string {
  if (!Number.isFinite(s)) return "";
  const sign = s < 0 ? "-" : "";
  if (Math.abs(s) < 10) return `${sign}${Number(Math.abs(s).toPrecision(2))}s`;
  const a = Math.round(Math.abs(s)); // whole seconds from here: never "1m 60s"
  if (a < 60) return `${sign}${a}s`;
  if (a < 3600) return `${sign}${Math.floor(a / 60)}m${a % 60 ? ` ${a % 60}s` : ""}`;
  if (a < 86400) return `${sign}${Math.floor(a / 3600)}h${a % 3600 >= 60 ? ` ${Math.floor((a % 3600) / 60)}m` : ""}`;
  return `${sign}${Math.floor(a / 86400)}d ${Math.floor((a % 86400) / 3600)}h`;
}

export function lastValue(vals: ArrayLike<number | null | undefined> | undefined): number | null {
  if (!vals) return null;
  for (let i = vals.length - 1; i >= 0; i--) {
    const v = vals[i];
    if (v != null) return v;
  }
  return null;
}

export const positive = (vals: Num[]): Num[] => vals.map((v) => (v != null && v > 0 ? v : null));
