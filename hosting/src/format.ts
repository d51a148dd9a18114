/** How numbers, durations, ages and config values are written on the page. */
import type { ConfigEntry } from "./status";

/** A config value as shown: numbers exactly as stored, text as text, `null` for None. */
export function formatConfigValue(v: ConfigEntry["value"]): string {
  if (v === null) return "null";
  if (typeof v === "number") {
    if (Number.isNaN(v)) return "NaN";
    if (v === Infinity) return "+Inf";
    if (v === -Infinity) return "−Inf";
    return String(v);
  }
  return String(v);
}

/** 3725 → "1 h 02 min", 184 → "3 min 04 s", 12.4 → "12 s". */
export function formatDuration(sec: number | null): string {
  if (sec == null || !Number.isFinite(sec)) return "—";
  const s = Math.max(0, Math.round(sec));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, "0")} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${String(m % 60).padStart(2, "0")} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

/** Age of the last update: "just now", "42 s ago", "3 min ago". */
export function formatAge(ms: number | null): string {
  if (ms == null) return "—";
  if (ms < 5000) return "just now";
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min ago`;
  return `${Math.floor(h / 24)} d ago`;
}

/** Metric values: short and exact enough for a phone. NaN and ±Inf spelled out. */
export function formatValue(v: number | null): string {
  if (v == null) return "—";
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "−Inf";
  const a = Math.abs(v);
  if (a !== 0 && (a < 1e-3 || a >= 1e6)) return v.toExponential(3);
  return String(Number(v.toPrecision(5)));
}
