/**
 * What this device remembers of workspaces (localStorage), in the main bundle (no Firebase):
 * the last workspace opened (`tfw:workspace`: the home page shows it first and the installed
 * app opens on it), and which workspace a run was opened from (`tfw:run-workspace`: the
 * session page's "← Workspace" link). The link from a run to its workspace is never in a
 * URL: a session's address (and so anything copied from the address bar) never reveals its
 * workspace (docs/security.md); a device knows it only because it came from that workspace.
 */
import { isSid } from "./sid";
import { isWid } from "./wid";

const LAST = "tfw:workspace";
const RUNS = "tfw:run-workspace";
/** Runs remembered (newest first); older ones lose their back link. */
export const MAX_RUN_LINKS = 500;

function storage(): Storage | null {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null; // disabled (some private modes): nothing is remembered
  }
}

export function rememberWorkspace(wid: string): void {
  if (!isWid(wid)) return;
  try {
    storage()?.setItem(LAST, wid);
  } catch {
    /* full or disabled */
  }
}

export function lastWorkspace(): string | null {
  try {
    const w = storage()?.getItem(LAST) ?? null;
    return isWid(w) ? w : null;
  } catch {
    return null;
  }
}

/** Forgets the last workspace and every run's link to a workspace. */
export function forgetWorkspaces(): void {
  try {
    storage()?.removeItem(LAST);
    storage()?.removeItem(RUNS);
  } catch {
    /* disabled */
  }
}

function runLinks(): [string, string][] {
  try {
    const v = JSON.parse(storage()?.getItem(RUNS) ?? "[]");
    return Array.isArray(v) ? v.filter((e): e is [string, string] => Array.isArray(e) && isSid(e[0]) && isWid(e[1])) : [];
  } catch {
    return [];
  }
}

/** `sid` was opened from workspace `wid` on this device. */
export function rememberRunWorkspace(sid: string, wid: string): void {
  if (!isSid(sid) || !isWid(wid)) return;
  const list = runLinks().filter(([s]) => s !== sid);
  list.unshift([sid, wid]);
  try {
    storage()?.setItem(RUNS, JSON.stringify(list.slice(0, MAX_RUN_LINKS)));
  } catch {
    /* full or disabled */
  }
}

/** The workspace `sid` was opened from on this device, or null. */
export function workspaceOfRun(sid: string): string | null {
  return runLinks().find(([s]) => s === sid)?.[1] ?? null;
}
