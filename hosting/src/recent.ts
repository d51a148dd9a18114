/** Sessions opened before on this device (localStorage), newest first. */

export interface Recent {
  sid: string;
  name: string;
  status: string;
  seen: number;
  /** The run's values went NaN/Inf. */
  nan?: boolean;
  /** When the run ended (ms), for "finished · 5 min ago"; absent while it runs. */
  ended?: number | null;
}

const KEY = "tfw:recent";
const MAX = 20;

export function loadRecent(): Recent[] {
  try {
    const v = JSON.parse(localStorage.getItem(KEY) ?? "[]");
    return Array.isArray(v)
      ? v.filter((r): r is Recent => r && typeof r.sid === "string" && typeof r.seen === "number")
      : [];
  } catch {
    return [];
  }
}

export function rememberSession(
  sid: string, name: string, status: string, now = Date.now(), extra: { nan?: boolean; endedMs?: number | null } = {},
): void {
  const list = loadRecent().filter((r) => r.sid !== sid);
  const r: Recent = { sid, name, status, seen: now };
  if (extra.nan) r.nan = true;
  if (extra.endedMs != null && Number.isFinite(extra.endedMs)) r.ended = extra.endedMs;
  list.unshift(r);
  try {
    localStorage.setItem(KEY, JSON.stringify(list.slice(0, MAX)));
  } catch {
    /* full or disabled: not essential */
  }
}

/** The line under a recent session: its status (with a NaN hint) and how long ago it ended, or was seen. */
export function recentMeta(r: Recent, now: number, age: (ms: number) => string): string {
  const when = typeof r.ended === "number" ? r.ended : r.seen;
  return `${r.status}${r.nan ? " · NaN" : ""} · ${age(Math.max(0, now - when))}`;
}

export function forgetAll(): void {
  try {
    localStorage.removeItem(KEY);
  } catch {
    /* ignore */
  }
}
