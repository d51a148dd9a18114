/**
 * The owner key arrives in the owner link's fragment (`/s/{sid}#k={key}`), which browsers
 * never send to a server. It is kept in sessionStorage only (this tab, until it closes) for
 * owner features (the Stop button, notifications), and removed from the address bar so it is
 * not shared by accident. Share links are built from the session ID alone (share.ts).
 */
import { ownerKeyFromHash } from "./router";

const PREFIX = "tfw:owner:";
const memory = new Map<string, string>();

export function captureOwnerKey(sid: string): void {
  const key = ownerKeyFromHash(location.hash);
  if (!key) return;
  memory.set(sid, key);
  try {
    sessionStorage.setItem(PREFIX + sid, key);
  } catch {
    /* storage disabled: memory only */
  }
  history.replaceState(history.state, "", location.pathname + location.search);
}

export function ownerKey(sid: string): string | null {
  const m = memory.get(sid);
  if (m) return m;
  try {
    return sessionStorage.getItem(PREFIX + sid);
  } catch {
    return null;
  }
}
