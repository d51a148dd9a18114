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
 *
 * Each run of a session has its own key, so a remembered key may belong to an earlier run.
 * The run in which the rules last accepted it (an enrolment or a Stop) is kept with it
 * (`tfw:owner-run:{sid}`), so Stop knows when the key is good for the run in progress
 * (ownership.ts). A device that proved the key while it was valid stays an owner of the
 * session's later runs through its own enrolled secret (device.ts). The enrolment documents
 * are never readable, so what this device enrolled in is remembered here, per session or
 * workspace (`tfw:device-enrolled:{id}` = the enrolment's proof, "" if unknown); forgetting
 * the key forgets that too.
 */
import { ownerKeyFromHash } from "./router";

const PREFIX = "tfw:owner:";
const LINK_PREFIX = "tfw:owner-link:";
const RUN_PREFIX = "tfw:owner-run:";
const ENROLLED_PREFIX = "tfw:device-enrolled:";
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
  if (storedKey(sid) !== key) setKeyRun(sid, null); // a new key: not proven in any run yet
  memory.set(sid, key);
  forgotten.delete(sid);
  try {
    store("localStorage")?.setItem(PREFIX + sid, key);
  } catch {
    /* full or disabled: memory only */
  }
}

/** The key in memory or localStorage (no legacy move: rememberOwnerKey uses it). */
function storedKey(sid: string): string | null {
  if (memory.has(sid)) return memory.get(sid)!;
  if (forgotten.has(sid)) return null;
  try {
    return store("localStorage")?.getItem(PREFIX + sid) ?? null;
  } catch {
    return null;
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

/** Whether this device is an owner of `sid` (for the recent sessions list): it holds the
 * owner key, or it enrolled as an owner. */
export function hasOwnerKey(sid: string): boolean {
  return ownerKey(sid) != null || isEnrolled(sid);
}

const runs = new Map<string, number | null>();

/** The run in which the rules last accepted the remembered key of `sid`, or null. */
export function keyRun(sid: string): number | null {
  if (runs.has(sid)) return runs.get(sid) ?? null;
  if (forgotten.has(sid)) return null;
  try {
    const n = Number(store("localStorage")?.getItem(RUN_PREFIX + sid) ?? NaN);
    return Number.isInteger(n) && n >= 1 ? n : null;
  } catch {
    return null;
  }
}

/** The rules accepted the remembered key of `sid` in run `run` (null: in none known). */
export function setKeyRun(sid: string, run: number | null): void {
  runs.set(sid, run);
  try {
    if (run == null) store("localStorage")?.removeItem(RUN_PREFIX + sid);
    else store("localStorage")?.setItem(RUN_PREFIX + sid, String(run));
  } catch {
    /* full or disabled: memory only */
  }
}

/** Removes the key of `sid` from this device (memory and both storages), and what the device
 * remembers of its enrolment there: Stop goes away until the owner link is opened again. */
export function forgetOwnerKey(sid: string): void {
  memory.delete(sid);
  setLinkKey(sid, null);
  setKeyRun(sid, null);
  forgetEnrolment(sid);
  forgotten.add(sid);
  for (const kind of ["localStorage", "sessionStorage"] as const) {
    try {
      store(kind)?.removeItem(PREFIX + sid);
    } catch {
      /* disabled */
    }
  }
}

// ---- This device's enrolments (device.ts, enrol.ts) -------------------------------------------

const enrolled = new Map<string, string>();
const unenrolled = new Set<string>();

/** Whether this device enrolled as an owner of session or workspace `id` (as far as it knows). */
export function isEnrolled(id: string): boolean {
  return enrolledProof(id) != null;
}

/** The proof this device's enrolment in `id` was made with ("" if unknown), or null. */
export function enrolledProof(id: string): string | null {
  const m = enrolled.get(id);
  if (m != null) return m;
  if (unenrolled.has(id)) return null;
  try {
    return store("localStorage")?.getItem(ENROLLED_PREFIX + id) ?? null;
  } catch {
    return null;
  }
}

export function markEnrolled(id: string, proof: string): void {
  enrolled.set(id, proof);
  unenrolled.delete(id);
  try {
    store("localStorage")?.setItem(ENROLLED_PREFIX + id, proof);
  } catch {
    /* full or disabled: memory only */
  }
}

/**
 * Forgets that this device is an owner of `id` (Stop goes away here). The enrolment document
 * stays (no browser may delete it); it is worth nothing without D, which never leaves the device
 * except in its own stop requests.
 */
export function forgetEnrolment(id: string): void {
  enrolled.delete(id);
  unenrolled.add(id);
  try {
    store("localStorage")?.removeItem(ENROLLED_PREFIX + id);
  } catch {
    /* disabled */
  }
}
