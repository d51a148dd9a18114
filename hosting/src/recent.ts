/** Sessions opened before on this device (localStorage), newest first. */

export interface Recent {
  sid: string;
  name: string;
  status: string;
  seen: number;
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

export function rememberSession(sid: string, name: string, status: string, now = Date.now()): void {
  const list = loadRecent().filter((r) => r.sid !== sid);
  list.unshift({ sid, name, status, seen: now });
  try {
    localStorage.setItem(KEY, JSON.stringify(list.slice(0, MAX)));
  } catch {
    /* full or disabled: not essential */
  }
}

export function forgetAll(): void {
  try {
    localStorage.removeItem(KEY);
  } catch {
    /* ignore */
  }
}
