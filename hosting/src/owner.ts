/**
 * The owner key arrives in the owner link's fragment (`/s/{sid}#k={key}`), which browsers
 * never send to a server. It is removed from the address bar at once (so it is not shared by
 * accident; share links are built from the session ID alone, share.ts) and remembered on
 * this device, per session, in localStorage (`tfw:owner:{sid}`): the Stop button and owner
 * notifications then work when the session is reopened from the recent sessions or the
 * installed app, not only in the tab that opened the link. "Forget owner key on this device"
 * (views/controls.ts) removes it. localStorage is readable by any script of this origin; the
 * Content-Security-Policy allows only our own scripts (docs/security.md).
 *
 * A link whose key differs from the one remembered does not replace it (a crafted
 * `#k=anything` link would otherwise lock the owner out on this device): the link's key is
 * kept apart (`tfw:owner-link:{sid}`) until the rules accept it, when Stop succeeds with it
 * (views/controls.ts), and only then replaces the remembered one.
 *
 * Keys kept by earlier versions in sessionStorage (this tab only) are moved to localStorage
 * when read.
 */
import { ownerKeyFromHash } from "./router";

const PREFIX = "tfw:owner:";
const LINK_PREFIX = "tfw:owner-link:";
const memory = new Map<string, string>();
const linkKeys = new Map<string, string>();
/** Sessions whose key was forgotten in this page: never read back from storage. */
const forgotten = new Set<string>();

function store(kind: "localStorage" | "sessionStorage"): Storage | null {
  try {
    return globalThis[kind] ?? null;
  } catch {
    return null; // storage disabled (some private modes): memory only
  }
}

export function captureOwnerKey(sid: string): void {
  const key = ownerKeyFromHash(location.hash);
  if (!key) return;
  const kept = ownerKey(sid);
  if (kept == null || kept === key) acceptOwnerKey(sid, key);
  else setLinkKey(sid, key); // replaces the remembered key only once the rules accept it
  history.replaceState(history.state, "", location.pathname + location.search);
}

function setLinkKey(sid: string, key: string | null): void {
  if (key == null) linkKeys.delete(sid);
  else linkKeys.set(sid, key);
  try {
    if (key == null) store("localStorage")?.removeItem(LINK_PREFIX + sid);
    else store("localStorage")?.setItem(LINK_PREFIX + sid, key);
  } catch {
    /* full or disabled: memory only */
  }
}

/** A key that arrived in a link and differs from the remembered one, not yet accepted by the rules. */
export function linkOwnerKey(sid: string): string | null {
  const m = linkKeys.get(sid);
  if (m) return m;
  try {
    return store("localStorage")?.getItem(LINK_PREFIX + sid) ?? null;
  } catch {
    return null;
  }
}

/** The rules accepted `key` (a Stop succeeded with it): it becomes the remembered key. */
export function acceptOwnerKey(sid: string, key: string): void {
  rememberOwnerKey(sid, key);
  setLinkKey(sid, null);
}

export function rememberOwnerKey(sid: string, key: string): void {
  memory.set(sid, key);
  forgotten.delete(sid);
  try {
    store("localStorage")?.setItem(PREFIX + sid, key);
  } catch {
    /* full or disabled: memory only */
  }
}

export function ownerKey(sid: string): string | null {
  const m = memory.get(sid);
  if (m) return m;
  if (forgotten.has(sid)) return null;
  try {
    const kept = store("localStorage")?.getItem(PREFIX + sid);
    if (kept) return kept;
    const legacy = store("sessionStorage")?.getItem(PREFIX + sid);
    if (legacy) {
      rememberOwnerKey(sid, legacy);
      store("sessionStorage")?.removeItem(PREFIX + sid);
      return legacy;
    }
  } catch {
    /* disabled */
  }
  return null;
}

/** Whether this device holds the owner key of `sid` (for the recent sessions list). */
export function hasOwnerKey(sid: string): boolean {
  return ownerKey(sid) != null;
}

/** Removes the key of `sid` from this device (memory and both storages). */
export function forgetOwnerKey(sid: string): void {
  memory.delete(sid);
  setLinkKey(sid, null);
  forgotten.add(sid);
  for (const kind of ["localStorage", "sessionStorage"] as const) {
    try {
      store(kind)?.removeItem(PREFIX + sid);
    } catch {
      /* disabled */
    }
  }
}
